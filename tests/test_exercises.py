"""The exercise checker: solutions pass, every named mistake is named, bad files exit 2, torch is optional.

The planted mistakes are in ``exercise_mistakes.py``: each is the solution with one small thing wrong,
written as a student would, apart from the checker's own reproductions of them.
"""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from exercise_mistakes import PLANTED
from scratchnn.apps import cli
from scratchnn.teaching.exercises import NAMES, check, check_file, hint, mistake_names
from scratchnn.teaching.exercises.hints import HINTS

ROOT = Path(__file__).parent.parent
SOLUTIONS = ROOT / "tutorials" / "exercises" / "solutions.py"

# a student's file: forward raises, layer_gradient returns a wrong shape, backward has D transposed,
# output_delta and adam_step are right
MIXED = '''import numpy as np


def forward(theta, X):
    n = X.shape[0]
    return 1 / (n - n)


def output_delta(a_L, Y):
    return 2 / Y.size * (a_L - Y) * (1 - a_L**2)


def layer_gradient(delta_next, a_j):
    return delta_next.T @ a_j[:, :1]


def backward(theta, a, Y):
    L = len(theta)
    D = [None] * L
    delta = output_delta(a[L], Y)
    for j in range(L - 1, -1, -1):
        D[j] = a[j].T @ delta
        if j > 0:
            delta = (delta @ theta[j][:, 1:]) * (1 - a[j][:, 1:] ** 2)
    return D


def adam_step(theta, D, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * D
    v = beta2 * v + (1 - beta2) * D**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
'''


def _solutions():
    spec = importlib.util.spec_from_file_location("exercise_solutions", SOLUTIONS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scratchnn_check(*args, without_torch=False):
    prelude = "import sys; sys.modules['torch'] = None\n" if without_torch else ""
    code = prelude + f"from scratchnn.apps.cli import main; sys.exit(main(['check', *{list(map(str, args))!r}]))"
    if not without_torch:
        code = "import sys\n" + code
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)


# ------------------------------------------------------------------ solutions
@pytest.mark.parametrize("reference", ["torch", "scratchnn"])
def test_solutions_pass(reference):
    if reference == "torch":
        pytest.importorskip("torch")
    report = check(_solutions(), reference=reference, quiet=True)
    assert list(report.results) == list(NAMES)
    assert report.passed, str(report)
    assert str(report).endswith("check: 15 of 15 functions right")


def test_solutions_pass_through_the_command(capsys):
    assert cli.main(["check", str(SOLUTIONS)]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("check: 15 of 15 functions right")
    assert "WRONG" not in out


def test_check_prints_tables_and_a_notebook_shows_the_summary(capsys):
    report = check(_solutions().forward)
    out = capsys.readouterr().out
    assert "forward(theta, X) -> [a^0, ..., a^L]" in out and "max rel diff" in out
    assert "forward: right on all 4 nets." in out
    assert repr(report) == "check: 1 of 1 function right\n  forward: right on all 4 nets"
    assert report.results["forward"].passed


# ------------------------------------------------------------------- mistakes
def test_every_named_mistake_is_planted():
    named = {(exercise, name) for exercise, names in mistake_names().items() for name in names}
    assert named == {(exercise, name) for exercise, name, _ in PLANTED}


@pytest.mark.parametrize("exercise, mistake, fn", PLANTED, ids=[f"{e}: {m}" for e, m, _ in PLANTED])
def test_planted_mistake_is_named(exercise, mistake, fn):
    report = check({exercise: fn}, quiet=True)
    result = report.results[exercise]
    assert not result.passed and not report.passed
    assert [m.name for m, _ in result.mistakes] == [mistake], str(result)
    assert f"known mistake: {mistake}" in str(report)
    said = "your function returns float32; compute in float64" if mistake == "returns float32" else mistake
    assert result.verdict == f"{exercise}: WRONG: {said}"


def test_a_wrong_value_shows_the_worst_entry():
    fn = dict((m, f) for e, m, f in PLANTED if e == "output_delta")["factor 2 forgotten"]
    text = str(check({"output_delta": fn}, quiet=True))
    # net 1 has u^L = 2, so its delta^L is (n, 2); the worst entry is named by index, yours and expected
    assert "worst on net 1: delta^2, entry (" in text and "yours " in text and "expected " in text
    assert 'hint("output_delta")' in text


# ---------------------------------------------------------------- the command
def test_a_student_file_raising_and_returning_wrong_shapes(tmp_path, capsys):
    path = tmp_path / "mine.py"
    path.write_text(MIXED)
    runs = []
    for _ in range(2):  # the file runs in a new child process each time: the same output, run to run
        assert cli.main(["check", str(path)]) == 1
        runs.append(capsys.readouterr().out)
    assert runs[1] == runs[0]
    out = runs[0]
    assert "forward: WRONG" in out and "raised ZeroDivisionError: division by zero" in out
    assert "at line 6 of mine.py: return 1 / (n - n)" in out
    assert "layer_gradient: WRONG" in out and "got shape (2, 1), expected (2, 5)" in out
    assert "backward: WRONG: transposed D" in out
    assert "output_delta: right on all 4 nets." in out and "adam_step: right on all 4 nets." in out
    assert out.rstrip().endswith("check: 2 of 5 functions right; wrong: forward, layer_gradient, backward")


def test_only_checks_the_functions_named(tmp_path, capsys):
    path = tmp_path / "mine.py"
    path.write_text(MIXED)
    assert cli.main(["check", str(path), "--only", "output_delta", "adam_step"]) == 0
    out = capsys.readouterr().out
    assert "check: 2 of 2 functions right" in out and "forward" not in out


def test_only_an_unknown_name_is_a_flag_error(tmp_path, capsys):
    path = tmp_path / "mine.py"
    path.write_text(MIXED)
    with pytest.raises(SystemExit) as exc:
        cli.main(["check", str(path), "--only", "backprop"])
    assert exc.value.code == 2
    assert "--only: invalid choice: 'backprop'" in capsys.readouterr().err


def test_a_file_that_cannot_be_imported_exits_2(tmp_path, capsys):
    path = tmp_path / "broken.py"
    path.write_text("x = np.zeros(3)\n")
    assert cli.main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "cannot import broken.py (line 1)" in err
    assert err.rstrip().endswith("NameError: name 'np' is not defined")


def test_a_file_without_the_functions_exits_2(tmp_path, capsys):
    path = tmp_path / "other.py"
    path.write_text("def fit(theta):\n    return theta\n")
    assert cli.main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "other.py defines none of the functions it looks for: forward, output_delta" in err
    assert cli.main(["check", str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_function_not_written_yet():
    def forward(theta, X):
        raise NotImplementedError("your code here")

    result = check(forward, quiet=True).results["forward"]
    assert result.verdict == "forward: not written yet" and not result.passed


def test_check_refuses_what_it_cannot_check():
    with pytest.raises(ValueError, match="none of the exercise functions"):
        check({}, quiet=True)
    with pytest.raises(TypeError, match="'fit' is not an exercise"):
        check(_named("fit"), quiet=True)
    with pytest.raises(ValueError, match="only: unknown exercise 'backprop'"):
        check(_solutions(), only="backprop", quiet=True)
    with pytest.raises(ValueError, match="no function named 'adam_step'"):
        check(_solutions().forward, only=["adam_step"], quiet=True)


def _named(name):
    def fn():
        pass

    fn.__name__ = name
    return fn


# ---------------------------------------------------------------------- hints
def test_hints_escalate_and_list_the_names(capsys):
    for name in ("bias",) + NAMES:
        assert len(HINTS[name]) >= 2
    hint("backward")
    first = capsys.readouterr().out
    hint("backward", level=2)
    second = capsys.readouterr().out
    assert first.startswith("hint 1 of 3 for backward:") and 'level=2' in first
    assert second.startswith("hint 2 of 3 for backward:") and first != second
    hint("backward", level=9)
    assert "that is the last hint" in capsys.readouterr().out
    hint("backprop")
    assert "there are hints for bias, forward, output_delta" in capsys.readouterr().out


# -------------------------------------------------------------------- torch
def test_importing_the_checker_does_not_import_torch():
    code = "import sys, scratchnn, scratchnn.teaching.exercises, scratchnn.apps.cli; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "False"


def test_without_torch_it_checks_against_scratchnns_engine(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(SOLUTIONS.read_text() + "\n\ndef layer_gradient(delta_next, a_j):\n    return a_j.T @ delta_next\n")
    done = _scratchnn_check(path, without_torch=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("torch is not installed: Checking against scratchnn's engine")
    assert "yours against scratchnn" in done.stdout
    # the solutions' backward calls layer_gradient, so it inherits the mistake
    assert "layer_gradient: WRONG: transposed D" in done.stdout and "backward: WRONG: transposed D" in done.stdout
    assert done.stdout.rstrip().endswith("check: 13 of 15 functions right; wrong: layer_gradient, backward")


# ------------------------------------------------------- diagnoses that teach
def _planted(exercise, mistake):
    (fn,) = [f for e, m, f in PLANTED if (e, m) == (exercise, mistake)]
    return fn


def test_a_function_that_raises_on_some_nets_and_is_wrong_on_others_says_both():
    # nets 1-3 have u^{j+1} != u^j where hidden_delta is called, net 4 (2-2-2) is square
    result = check({"hidden_delta": _planted("hidden_delta", "theta transposed in the hidden delta")},
                   quiet=True).results["hidden_delta"]
    lines = result.details()
    assert lines[0].startswith("raised on nets 1–3; on net 4 it returned wrong values (max rel diff 0.")
    assert lines[1].startswith("on net 1 it raised ValueError: matmul")
    assert any(line.startswith("worst on net 4: delta^1, entry") for line in lines)
    assert str(result).splitlines()[1].startswith("net 4: units 2-2-2")  # the table shown is net 4's


@pytest.mark.parametrize("exercise, mistake", [(e, m) for e, m, _ in PLANTED
                                               if e in ("sgd_momentum_step", "adam_step")])
def test_the_worst_entry_names_a_step_the_table_shows(exercise, mistake):
    result = check({exercise: _planted(exercise, mistake)}, quiet=True).results[exercise]
    (worst,) = [line for line in result.details() if line.startswith("worst on net")]
    if "(step " in worst:
        step = worst.split("(step ")[1].split(")")[0]
        assert f"(step {step})" in result.table(), str(result)


def test_the_in_place_note_says_which_argument_and_how():
    text = str(check({"forward": _planted("forward", "input modified in place")}, quiet=True))
    assert "on net 1 it changed an argument in place: X (an array): 12 of 12 entries changed, X[0, 0] was" in text

    text = str(check({"backward": _planted("backward", "input modified in place")}, quiet=True))
    assert "it changed an argument in place: a (a list): its item a[2], an array, changed in place: 8 of 8" in text

    def backward(theta, a, Y):
        a.append(None)  # a list grown by the callee
        return _solutions().backward(theta, a[:-1], Y)

    text = str(check(backward, quiet=True))
    assert "it changed an argument in place: a (a list): it had 3 items, now 4" in text


BLAMED = SOLUTIONS.read_text() + '''

def output_delta(a_L, Y):
    return 2 / Y.size * (a_L - Y) * (1 - a_L)


def forward(theta, X):
    n = X.shape[0]
    a = [np.hstack([np.ones((n, 1)), X])]
    for j in range(len(theta)):
        z = a[j] @ theta[j].T
        a.append(z if j + 1 == len(theta) else np.hstack([np.ones((n, 1)), np.tanh(z)]))
    return a
'''


def test_blame_follows_dependencies(tmp_path):
    """The solutions' backward calls output_delta, and numerical_gradient calls forward: both are right
    code made wrong by the functions they call, and the report says so."""
    path = tmp_path / "mine.py"
    path.write_text(BLAMED)
    report = check_file(path, only=["forward", "output_delta", "backward", "numerical_gradient", "adam_step"],
                        reference="scratchnn")
    results = report.results
    assert results["output_delta"].verdict == "output_delta: WRONG: 1 - a instead of 1 - a^2"
    assert results["backward"].blame == ["output_delta"]
    assert "backward is wrong because output_delta is: fix that first." in results["backward"].details()
    assert results["numerical_gradient"].blame == ["forward"]
    assert results["numerical_gradient"].verdict.endswith("(because forward is wrong)")
    assert results["adam_step"].passed and results["forward"].blame == []


def test_blame_checks_a_dependency_that_was_not_asked_for(tmp_path):
    """check(backward) in a notebook: output_delta is in backward's globals, so it is checked too, quietly."""
    path = tmp_path / "mine.py"
    path.write_text(BLAMED)
    report = check_file(path, only=["backward"], reference="scratchnn")
    assert list(report.results) == ["backward"] and report.results["backward"].blame == ["output_delta"]


def test_a_wrong_dependency_that_does_not_explain_the_error_is_not_blamed(tmp_path):
    """output_delta is wrong, but this backward computes its own delta^L (right) and doubles D: its own fault."""
    path = tmp_path / "mine.py"
    path.write_text(BLAMED + '''

def backward(theta, a, Y):
    L = len(theta)
    D = [None] * L
    delta = 2 / Y.size * (a[L] - Y) * (1 - a[L] ** 2)
    for j in range(L - 1, -1, -1):
        D[j] = 2 * delta.T @ a[j]
        if j > 0:
            delta = hidden_delta(delta, theta[j], a[j])
    return D
''')
    result = check_file(path, only=["backward"], reference="scratchnn").results["backward"]
    assert not result.passed and result.blame == []
    assert not any("because" in line for line in result.details())
