"""The tutorials: every notebook is up to date with its source, carries the outputs of a full run,
and runs top to bottom.

The committed notebooks hold the outputs of ``python tutorials/make_notebooks.py --execute``; the
run test executes them again with SCRATCHNN_QUICK=1 (fewer epochs) so the whole set stays within a
few minutes; a cell that raises fails the test.
"""

import ast
import glob
import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TUTORIALS = os.path.join(ROOT, "tutorials")
sys.path.insert(0, TUTORIALS)
make_notebooks = pytest.importorskip("make_notebooks")  # needs nbformat
nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = [os.path.basename(make_notebooks.target(s)) for s in make_notebooks.sources()]
SHOWS = {"print", "display"}  # calls whose output a full run must have kept


def read(name):
    return nbformat.read(os.path.join(TUTORIALS, name), as_version=4)


def test_every_tutorial_source_has_its_notebook():
    assert len(NOTEBOOKS) >= 7  # the seven of the README, and any added since
    on_disk = sorted(os.path.basename(p) for p in glob.glob(os.path.join(TUTORIALS, "[0-9][0-9]_*.ipynb")))
    assert on_disk == NOTEBOOKS, "a notebook without a source, or a source without its notebook"


@pytest.mark.parametrize("source", make_notebooks.sources() + make_notebooks.exercise_sources(),
                         ids=lambda p: os.path.relpath(p, os.path.join(TUTORIALS, "src")))
def test_notebook_matches_its_source(source):
    """Cell types, sources and tags as the source builds them (outputs are not compared)."""
    committed = nbformat.read(make_notebooks.target(source), as_version=4)
    built = make_notebooks.notebook(source)
    assert make_notebooks.cells_of(committed) == make_notebooks.cells_of(built), "run python tutorials/make_notebooks.py"


def _must_show(source):
    """Whether a code cell always prints or plots: a print/display/plt.show() call outside any def, class or if."""

    def calls(statements):
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If)):
                continue
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                f = node.value.func
                if (isinstance(f, ast.Name) and f.id in SHOWS) or (isinstance(f, ast.Attribute) and f.attr == "show"):
                    yield node
            for field in ("body", "orelse", "finalbody"):
                if isinstance(node, (ast.For, ast.While, ast.With, ast.Try)):
                    yield from calls(getattr(node, field, []))

    return any(True for _ in calls(ast.parse(source).body))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_carries_the_outputs_of_a_full_run(name):
    """Executed top to bottom once (counts 1, 2, ...), no errors, every printing cell printed, every figure
    a PNG, and nothing of the machine it ran on."""
    nb = read(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    hint = f"run python tutorials/make_notebooks.py --execute {name[:2]}"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), hint
    assert any(c.outputs for c in code), hint
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"cell {k} raised {errors[0].ename}: {errors[0].evalue}"
        if _must_show(cell.source):
            assert cell.outputs, f"cell {k} prints or plots, but has no output; {hint}"
        for out in cell.outputs:
            data = out.get("data", {})
            text = out.get("text", "") + data.get("text/plain", "")
            assert not ("<Figure size" in data.get("text/plain", "") and "image/png" not in data), (
                f"cell {k} shows a figure as text only ({data['text/plain']!r}): its Figure was never drawn as PNG"
            )
            assert ROOT not in text and sys.prefix not in text, f"cell {k}: an output names a path of this machine"
            assert out.output_type != "stream" or "Traceback" not in out.text, f"cell {k} printed a traceback"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, monkeypatch):
    pytest.importorskip("torch")  # every tutorial sets scratchnn beside torch
    nbclient = pytest.importorskip("nbclient")
    if importlib.util.find_spec("ipykernel") is None:
        pytest.skip("ipykernel is not installed")
    monkeypatch.setenv("SCRATCHNN_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = make_notebooks.notebook(make_notebooks.sources()[NOTEBOOKS.index(name)])
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": TUTORIALS}})
    client.execute()
