"""The tutorials: every notebook is up to date with its source and runs top to bottom.

The notebooks run with SCRATCHNN_QUICK=1 (fewer epochs) so the whole set stays
within a few minutes; a cell that raises fails the test.
"""

import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TUTORIALS = os.path.join(os.path.dirname(HERE), "tutorials")
sys.path.insert(0, TUTORIALS)
make_notebooks = pytest.importorskip("make_notebooks")  # needs nbformat
nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = [os.path.basename(make_notebooks.target(s)) for s in make_notebooks.sources()]
NEEDS_CHEETAH_OR_DATA = {"07_quadrupole_surrogate.ipynb"}


def test_there_are_seven_tutorials():
    assert len(NOTEBOOKS) == 7


@pytest.mark.parametrize("source", make_notebooks.sources(), ids=os.path.basename)
def test_notebook_matches_its_source(source):
    committed = nbformat.read(make_notebooks.target(source), as_version=4)
    built = make_notebooks.notebook(source)
    assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in built.cells], (
        "run python tutorials/make_notebooks.py"
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, monkeypatch):
    pytest.importorskip("torch")  # every tutorial sets scratchnn beside torch
    nbclient = pytest.importorskip("nbclient")
    if importlib.util.find_spec("ipykernel") is None:
        pytest.skip("ipykernel is not installed")
    monkeypatch.setenv("SCRATCHNN_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(os.path.join(TUTORIALS, name), as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": TUTORIALS}})
    client.execute()
