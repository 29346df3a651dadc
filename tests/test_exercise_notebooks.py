"""The exercise notebooks: committed unsolved, every check passes once the solutions are filled in,
and the unsolved notebook's checks fail cleanly.

An exercise cell is tagged ``exercise`` and names its function in its metadata (``# %% exercise: NAME``
in the source); the code cell after it, tagged ``check``, is the one expression ``check(NAME)``.
The solved run replaces each exercise cell with the source of that function in
``tutorials/exercises/solutions.py``, and each check with ``assert check(NAME).passed``.
"""

import ast
import importlib.util
import inspect
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TUTORIALS = os.path.join(os.path.dirname(HERE), "tutorials")
EXERCISES = os.path.join(TUTORIALS, "exercises")
sys.path.insert(0, TUTORIALS)
make_notebooks = pytest.importorskip("make_notebooks")  # needs nbformat
nbformat = pytest.importorskip("nbformat")
exercises = pytest.importorskip("scratchnn.teaching.exercises")

SOURCES = make_notebooks.exercise_sources()
NOTEBOOKS = [make_notebooks.target(s) for s in SOURCES]
UNSOLVED = 'raise NotImplementedError("your code here")'


def read(path):
    return nbformat.read(path, as_version=4)


def tagged(nb, tag):
    return [c for c in nb.cells if tag in c.metadata.get("tags", [])]


def solutions():
    spec = importlib.util.spec_from_file_location("exercise_solutions", os.path.join(EXERCISES, "solutions.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_exercise_appears_once_in_the_order_of_the_course():
    assert NOTEBOOKS, "no exercise sources in tutorials/src/exercises/"
    names = [c.metadata["exercise"] for path in NOTEBOOKS for c in tagged(read(path), "exercise")]
    assert names == list(exercises.NAMES)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_exercise_notebook_is_committed_unsolved(path):
    """No outputs; each exercise cell is the bare function, and the next code cell checks it; hint() is mentioned."""
    nb = read(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit exercise notebooks without outputs"
    for cell in tagged(nb, "exercise"):
        name = cell.metadata["exercise"]
        (fn,) = [f for f in ast.parse(cell.source).body if isinstance(f, ast.FunctionDef)]
        signature = "(" + ", ".join(a.arg for a in fn.args.args) + ")"
        assert (fn.name, signature) == (name, exercises.calls.EXERCISES[name].signature)
        assert cell.source.rstrip().endswith(UNSOLVED)
        after = code[code.index(cell) + 1]
        assert "check" in after.metadata.get("tags", []) and after.source.strip() == f"check({name})"
    assert any("hint(" in c.source for c in nb.cells if c.cell_type == "markdown")


def execute(nb, allow_errors=False):
    """Run ``nb`` (quick mode) in tutorials/exercises/, as a student would open it."""
    pytest.importorskip("torch")  # the checks compare against torch; the notebooks show torch's nn.Linear
    nbclient = pytest.importorskip("nbclient")
    if importlib.util.find_spec("ipykernel") is None:
        pytest.skip("ipykernel is not installed")
    env = dict(os.environ, SCRATCHNN_QUICK="1", MPLBACKEND="Agg")
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=allow_errors,
                                     resources={"metadata": {"path": EXERCISES}})
    client.execute(env=env)
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_every_check_passes_with_the_solutions_filled_in(path):
    nb, answers = read(path), solutions()
    for cell in tagged(nb, "exercise"):
        cell.source = inspect.getsource(getattr(answers, cell.metadata["exercise"]))
    for cell in tagged(nb, "check"):
        cell.source = f"_report = {cell.source.strip()}\nassert _report.passed, repr(_report)"
    execute(nb)  # a failed check (or any cell that raises) raises CellExecutionError


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_unsolved_checks_fail_cleanly(path):
    """Each check reports the NotImplementedError and returns a failed report; only cells that call the
    student's functions outside a check raise, and only NotImplementedError."""
    nb = read(path)
    for cell in tagged(nb, "check"):
        cell.source = f"_report = {cell.source.strip()}\nassert not _report.passed"
    execute(nb, allow_errors=True)
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "check" in cell.metadata.get("tags", []):
            assert not errors, f"cell {k} ({cell.source.splitlines()[0]}) raised {errors[0].ename}: {errors[0].evalue}"
            printed = "".join(o.text for o in cell.outputs if o.output_type == "stream")
            assert "NotImplementedError" in printed, printed
        else:
            assert all(e.ename == "NotImplementedError" for e in errors), f"cell {k} raised {errors[0].ename}"
