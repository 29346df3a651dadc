"""scratchnn grade: a class of generated submissions graded row by row, resumed after a Ctrl-C, its page in Chromium.

Every submission is the solutions file with one thing changed (a planted mistake from
``exercise_mistakes.py``, a hostile function, a file that does not import ...) or an exercise
notebook, solved or not. The class is graded once per module (``graded``) and read by several tests.
"""

import contextlib
import csv
import inspect
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import exercise_mistakes as planted
from scratchnn.apps import cli
from scratchnn.teaching.exercises import NAMES
from scratchnn.apps import grade as G

ROOT = Path(__file__).parent.parent
EXERCISES = ROOT / "tutorials" / "exercises"
SOLUTIONS = (EXERCISES / "solutions.py").read_text()
TIMEOUT = "1"  # seconds per function: the endless loop costs about that
N = len(NAMES)  # every exercise function, the solutions file has them all
NOTEBOOK_1 = ["forward", "output_delta", "layer_gradient", "hidden_delta", "backward", "numerical_gradient"]


def _solutions_module():
    namespace = {}
    exec(compile(SOLUTIONS, str(EXERCISES / "solutions.py"), "exec"), namespace)
    return namespace


def as_exercise(fn, name):
    """The source of ``fn`` (a planted mistake) as the exercise ``name``: ``def name(...)``."""
    source = inspect.getsource(fn)
    return source.replace(f"def {fn.__name__}(", f"def {name}(", 1)


def student(folder, file, **functions):
    """A .py submission: the solutions, then ``name=source`` definitions that replace theirs (the later def wins)."""
    path = Path(folder) / file
    path.write_text(SOLUTIONS + "".join(f"\n\n{source}" for source in functions.values()))
    return path


def fill(notebook, dest, functions):
    """Write ``notebook`` with each exercise cell (``raise NotImplementedError``) replaced by ``functions[name]``."""
    nb = json.loads(Path(notebook).read_text())
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        for name, source in functions.items():
            if cell["cell_type"] == "code" and text.startswith(f"def {name}(") and "NotImplementedError" in text:
                cell["source"] = source.splitlines(keepends=True)
    Path(dest).write_text(json.dumps(nb, indent=1))
    return dest


def solution_sources():
    return {name: inspect.getsource(_solutions_module()[name]) for name in NAMES}


def grade_cli(*args, expect=0):
    """``scratchnn grade ARGS`` in this process; returns its stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main(["grade", *map(str, args)])
    assert status == expect, out.getvalue()
    return out.getvalue()


def read_rows(out):
    with open(Path(out) / "grades.csv", newline="") as f:
        return {Path(r["file"]).name: r for r in csv.DictReader(f)}


# ------------------------------------------------------------------ the class
MISTAKES = {  # file: (exercise, planted function, the mistake's name)
    "transposed.py": ("layer_gradient", planted.layer_gradient_transposed, "transposed D"),
    "bias_delta.py": ("hidden_delta", planted.hidden_delta_bias_column, "bias column included in delta"),
    "eps_inside.py": ("adam_step", planted.adam_eps_inside, "eps inside the square root"),
    "no_two.py": ("output_delta", planted.output_delta_no_2, "factor 2 forgotten"),
}
DEPENDS = {"output_delta": ["backward"], "layer_gradient": ["backward"], "hidden_delta": ["backward"],
           "forward": ["numerical_gradient"]}  # the solutions' backward and numerical_gradient call these


def make_class(folder):
    """The class: a right file, the planted mistakes, two unusable files, a broken and a solved notebook, an
    unsolved one, and a file that is no submission."""
    student(folder, "right.py")
    for file, (name, fn, _) in MISTAKES.items():
        student(folder, file, **{name: as_exercise(fn, name)})
    (folder / "no_import.py").write_text("import numpy as np\n\ndef forward(theta, X)\n    return X\n")
    (folder / "nothing.py").write_text("def helper(x):\n    return x\n")
    (folder / "broken.ipynb").write_text('{"cells": [')
    solved = solution_sources()
    solved["output_delta"] = "%time 1 + 1\n" + solved["output_delta"]  # a magic in the cell: left out
    fill(EXERCISES / "01_backpropagation.ipynb", folder / "solved.ipynb", solved)
    shutil.copy(EXERCISES / "02_optimizers.ipynb", folder / "unsolved.ipynb")
    (folder / "notes.txt").write_text("not a submission: a folder's other files are left alone")


def check_rows(rows):
    assert sorted(rows) == sorted(["right.py", *MISTAKES, "no_import.py", "nothing.py", "broken.ipynb",
                                   "solved.ipynb", "unsolved.ipynb"])
    assert all(r["out_of"] == str(N) for r in rows.values())

    right = rows["right.py"]
    assert [right[n] for n in NAMES] == ["right"] * N and right["score"] == str(N) and right["mistakes"] == ""

    for file, (name, _, mistake) in MISTAKES.items():
        row = rows[file]
        wrong = [name] + DEPENDS.get(name, [])
        assert {n for n in NAMES if row[n] == "wrong"} == set(wrong), (file, row)
        assert all(row[n] == "right" for n in NAMES if n not in wrong), (file, row)
        assert f"{name}: {mistake}" in row["mistakes"].split("; "), (file, row["mistakes"])
        assert row["score"] == str(N - len(wrong))
        for dependent in DEPENDS.get(name, []):  # blame follows the dependency
            assert f"{dependent} is wrong because {name} is" in row["note"], row["note"]

    for file, why in [("no_import.py", "cannot import no_import.py (line 3)"),
                      ("nothing.py", "defines none of the functions"),
                      ("broken.ipynb", "broken.ipynb is not a notebook: not valid JSON")]:
        row = rows[file]
        assert [row[n] for n in NAMES] == ["missing"] * N and row["score"] == "0"
        assert row["note"].startswith("unusable: ") and why in row["note"], row["note"]

    solved = rows["solved.ipynb"]  # notebook 1 has six of the functions; the others are the later notebooks'
    assert {n: solved[n] for n in NAMES} == {n: "right" if n in NOTEBOOK_1 else "missing" for n in NAMES}, solved
    assert solved["score"] == "6" and solved["note"] == f"not defined: {N - 6} functions"
    unsolved = rows["unsolved.ipynb"]
    assert [unsolved[n] for n in NAMES] == ["missing"] * N and unsolved["score"] == "0"
    assert unsolved["note"] == f"not written: sgd_momentum_step, adam_step; not defined: {N - 2} functions"


def test_a_class_row_by_row_its_summary_and_a_rerun(tmp_path):
    folder, out = tmp_path / "class", tmp_path / "grades"
    folder.mkdir()
    make_class(folder)
    stdout = grade_cli(folder, "--out", out, "--jobs", "2", "--timeout", TIMEOUT)
    with open(out / "grades.csv", newline="") as f:
        assert next(csv.reader(f)) == ["file", *NAMES, "mistakes", "score", "out_of", "note"]
    rows = read_rows(out)
    check_rows(rows)

    n = len(rows)
    assert f"grade: {n} submissions, checked against torch" in stdout or "checked against scratchnn's engine" in stdout
    # transposed.py has it wrong, four have no layer_gradient
    assert re.search(rf"\n  layer_gradient: +{n - 5} of {n} right \(1 wrong, 4 missing\)\n", stdout), stdout
    assert f"1 of {n}: layer_gradient: transposed D" in stdout
    assert f"1 of {n}: adam_step: eps inside the square root" in stdout
    assert "not checked (3): broken.ipynb, no_import.py, nothing.py: see the note column" in stdout
    assert f"[{n}/{n}]" in stdout and f"{n} checked now, 0 reused" in stdout

    results = sorted((out / "results").iterdir())  # a rerun: nothing checked, nothing written again
    before = {p.name: p.stat().st_mtime_ns for p in results}
    first = (out / "grades.csv").read_text()
    stdout = grade_cli(folder, "--out", out, "--jobs", "2", "--timeout", TIMEOUT)
    assert f"0 checked now, {len(results)} reused" in stdout
    assert {p.name: p.stat().st_mtime_ns for p in results} == before
    assert (out / "grades.csv").read_text() == first


def test_a_changed_file_is_checked_again(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    student(folder, "a.py", layer_gradient=as_exercise(planted.layer_gradient_transposed, "layer_gradient"))
    student(folder, "b.py")
    (folder / "c.py").write_text("def forward(theta, X):\n    return X\n")  # not the function asked for
    args = [folder, "--out", tmp_path / "out", "--only", "layer_gradient"]
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch else None
    assert "3 checked now, 0 reused" in grade_cli(*args)
    if torch:  # the grader leaves this process's threads alone: each child puts its own torch on one thread
        assert torch.get_num_threads() == threads
    rows = read_rows(tmp_path / "out")
    assert rows["a.py"]["layer_gradient"] == "wrong" and rows["b.py"]["out_of"] == "1"
    assert rows["c.py"]["layer_gradient"] == "missing" and rows["c.py"]["note"] == "not defined: layer_gradient"
    student(folder, "a.py")  # the student fixed it
    assert "1 checked now, 2 reused" in grade_cli(*args)
    assert read_rows(tmp_path / "out")["a.py"]["layer_gradient"] == "right"
    assert "3 checked now, 0 reused" in grade_cli(*args, "--timeout", "5")  # other settings: checked again


def test_the_report_page_in_chromium(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("no chromium on PATH")
    for file in ("right.py", "transposed.py", "eps_inside.py"):
        name, fn, _ = MISTAKES.get(file, (None, None, None))
        student(tmp_path, file, **({name: as_exercise(fn, name)} if fn else {}))
    (tmp_path / "<i>&.py").write_text("def adam_step():\n    pass\n\n\nraise ValueError('<script>alert(1)</script>')\n")
    only = ["layer_gradient", "backward", "adam_step"]
    grade_cli(tmp_path, "--out", tmp_path / "out", "--jobs", "2", "--only", *only)
    page_html = (tmp_path / "out" / "report.html").read_text()
    assert "<script" not in page_html and "<i>" not in page_html and "http" not in page_html  # escaped, self-contained
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto((tmp_path / "out" / "report.html").as_uri())
        assert page.locator("table.grades thead th").all_inner_texts() == ["file", *only, "score", "note"]
        rows = page.locator("table.grades tbody tr")
        assert rows.count() == 4
        assert rows.nth(0).locator("td").all_inner_texts()[:5] == ["<i>&.py", "– missing", "– missing",
                                                                    "– missing", "0 / 3"]
        assert rows.nth(2).locator("td").all_inner_texts()[:5] == ["right.py", "✓ right", "✓ right", "✓ right",
                                                                    "3 / 3"]
        assert page.locator("td.wrong").count() == 3 and page.locator("td.wrong").first.inner_text() == "✗ wrong"
        text = page.locator("body").inner_text()
        assert "unusable: cannot import <i>&.py (line 5): ValueError: <script>alert(1)</script>" in text
        assert "layer_gradient: 2 of 4 right (1 wrong, 1 missing)" in text
        assert "1 of 4: transposed D. D^j" in text and "1 of 4: eps inside the square root." in text
        assert "First hint: D^j = ∂𝓛/∂θ^j has θ^j's shape" in text
        page.screenshot(path="/tmp/grade_report.png", full_page=True)
        browser.close()


# --------------------------------------------------------- hostile submissions
ENDLESS = "def adam_step(theta, D, m, v, t, lr, beta1, beta2, eps):\n    while True:\n        pass\n"
EXITS = "import os\n\n\ndef sgd_momentum_step(theta, D, buf, lr, momentum):\n    os._exit(3)\n"


def test_an_endless_loop_and_os_exit_cost_only_their_function(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    student(folder, "endless.py", adam_step=ENDLESS)
    student(folder, "exits.py", sgd_momentum_step=EXITS)
    only = ["forward", "sgd_momentum_step", "adam_step"]
    start = time.perf_counter()
    grade_cli(folder, "--out", tmp_path / "out", "--jobs", "2", "--timeout", TIMEOUT, "--only", *only)
    assert time.perf_counter() - start < 15
    rows = read_rows(tmp_path / "out")
    endless, exits = rows["endless.py"], rows["exits.py"]
    assert [endless[n] for n in only] == ["right", "right", "timeout"] and endless["score"] == "2"
    assert "adam_step: did not return within 1 s" in endless["note"], endless["note"]
    assert [exits[n] for n in only] == ["right", "wrong", "right"] and exits["score"] == "2"
    assert "sgd_momentum_step: CRASHED" in exits["note"] and "3" in exits["note"], exits["note"]


def test_a_check_that_hangs_or_dies_costs_only_its_submission(tmp_path, monkeypatch):
    # the checker itself made to hang or die inside the child: the grader's own guard (wall limit, exit status)
    real = G.check_file

    def check_file(path, **kw):
        stem = Path(path).stem
        if stem == "hangs":
            time.sleep(60)
        if stem == "dies":
            os._exit(3)
        if stem == "segfaults":
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(path, **kw)

    monkeypatch.setattr(G, "check_file", check_file)  # the forked children inherit it
    for name in ("hangs", "dies", "segfaults", "fine"):
        student(tmp_path, f"{name}.py")
    subs = G.submissions([tmp_path])
    grading = G.grade(subs, tmp_path / "out", jobs=4, timeout=1, only=["output_delta"], wall=2, log=lambda line: None)
    rows = {Path(r["file"]).stem: r for r in grading.rows}
    assert rows["fine"]["output_delta"] == "right"
    assert rows["hangs"]["output_delta"] == "timeout"
    assert rows["hangs"]["note"] == "timed out: the check did not finish within 2 s: stopped"
    assert rows["dies"]["output_delta"] == "wrong"
    assert rows["dies"]["note"] == "crashed: the check's process exited with status 3"
    assert rows["segfaults"]["note"] == "crashed: the check's process was killed by SIGSEGV (a segfault)"
    assert grading.checked == 4 and grading.seconds < 10


# ----------------------------------------------------------- Ctrl-C, then resume
SLOW = ("import time\n\n\ndef output_delta(a_L, Y):\n    time.sleep(0.05)  # the interrupt comes while it is checked\n"
        "    return 2 / Y.size * (a_L - Y) * (1 - a_L**2)\n")


def test_ctrl_c_keeps_what_is_done_and_a_rerun_checks_the_rest(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for k in range(3):
        student(folder, f"s{k}.py", output_delta=SLOW)
    out = tmp_path / "out"
    args = ["grade", str(folder), "--out", str(out), "--jobs", "1", "--only", "output_delta"]
    code = f"import sys\nfrom scratchnn.apps.cli import main\nsys.exit(main({args!r}))"
    run = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           cwd=ROOT)
    for line in run.stdout:
        if line.startswith("[1/3]"):
            run.send_signal(signal.SIGINT)  # the second submission is being checked
            break
    stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr
    assert "rerun the same command to grade the rest" in stderr and "Traceback" not in stderr
    done = {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json")}
    assert 1 <= len(done) < 3
    assert len(read_rows(out)) == len(done)  # grades.csv has what is done
    assert not [p for p in (out / "results").iterdir() if not p.name.endswith(".json")]  # no temporary file left

    stdout = grade_cli(*args[1:])
    assert f"{3 - len(done)} checked now, {len(done)} reused" in stdout
    assert {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.json") if p.name in done} == done
    fresh = tmp_path / "fresh"
    grade_cli(folder, "--out", fresh, "--jobs", "2", "--only", "output_delta")
    assert (out / "grades.csv").read_text() == (fresh / "grades.csv").read_text()


# --------------------------------------------------------------- without torch
def test_without_torch_it_grades_against_scratchnns_engine(tmp_path):
    student(tmp_path, "a.py", output_delta=as_exercise(planted.output_delta_no_2, "output_delta"))
    code = ("import sys; sys.modules['torch'] = None\n"
            "from scratchnn.apps.cli import main\n"
            f"sys.exit(main(['grade', {str(tmp_path / 'a.py')!r}, '--out', {str(tmp_path / 'out')!r}, "
            f"'--only', 'output_delta']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "checked against scratchnn's engine (torch is not installed)" in done.stdout
    assert "1 of 1: output_delta: factor 2 forgotten" in done.stdout
    record = json.loads(next((tmp_path / "out" / "results").iterdir()).read_text())
    assert record["settings"] == {"only": ["output_delta"], "timeout": 10.0, "reference": "scratchnn"}


# ------------------------------------------------------------ flags and paths
@pytest.mark.parametrize(
    "argv, message",
    [
        (["--jobs", "0"], "--jobs: expected an int > 0"),
        (["--jobs", "two"], "--jobs: expected an int > 0"),
        (["--timeout", "0"], "--timeout: expected a number > 0"),
        (["--timeout", "nan"], "--timeout: expected a number > 0"),
        (["--only", "backprop"], "--only: invalid choice: 'backprop'"),
        ([], "the following arguments are required: --out"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(argv, message, tmp_path, capsys):
    extra = [] if argv == [] else ["--out", str(tmp_path)]
    with pytest.raises(SystemExit) as exc:
        cli.main(["grade", str(tmp_path), *extra, *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_paths_that_are_no_submission_exit_2(tmp_path, capsys):
    (tmp_path / "essay.txt").write_text("")
    (tmp_path / "empty").mkdir()
    for path, message in [(tmp_path / "missing.py", "missing.py: no such file or folder"),
                          (tmp_path / "essay.txt", "essay.txt: not a .py file, an .ipynb notebook or a folder"),
                          (tmp_path / "empty", "no .py file or .ipynb notebook in")]:
        assert cli.main(["grade", str(path), "--out", str(tmp_path / "out")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_submissions_expand_folders_sorted_and_once(tmp_path):
    for name in ("b.py", "a.ipynb", ".hidden.py", "c.txt"):
        (tmp_path / name).write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.py").write_text("")
    subs = G.submissions([tmp_path, tmp_path / "b.py", tmp_path / "sub"])
    assert [Path(s.name).name for s in subs] == ["a.ipynb", "b.py", "d.py"]
    assert len({s.key for s in subs}) == 3


# ---------------------------------------------------------- notebook extraction
def test_a_notebook_is_read_not_run(tmp_path):
    cells = [
        "import numpy as np\nimport not_installed_here\n%matplotlib inline\n!pip list\n",
        "raise SystemExit('a cell that runs would stop the grader')\nEPS = 1e-8\nX = np.zeros(3)\n",
        "def forward(theta, X):\n    return 'first try'\n",
        "%%time\ndef output_delta(a_L, Y):\n    return 0\n",
        "def broken(:\n",
        "@staticmethod\ndef forward(theta, X):\n    return EPS\n\nforward\n",
    ]
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
          "cells": [{"cell_type": "markdown", "source": "# title", "metadata": {}}]
          + [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [], "execution_count": None} for c in cells]}
    (tmp_path / "nb.ipynb").write_text(json.dumps(nb))
    notes = G.extract_notebook(tmp_path / "nb.ipynb", tmp_path / "nb.py")
    assert notes == ["cell 5 is a %%time cell: left out", "cell 6 does not parse (line 1: invalid syntax): left out"]
    text = (tmp_path / "nb.py").read_text()
    assert "SystemExit" not in text and "np.zeros" not in text and "first try" not in text and "%" not in text
    namespace = {}
    exec(compile(text, "nb.py", "exec"), namespace)  # not_installed_here is skipped, not fatal
    assert namespace["EPS"] == 1e-8 and "output_delta" not in namespace
    assert namespace["forward"].__func__(None, None) == 1e-8  # the later definition, with its decorator
    with pytest.raises(G.NotebookError, match="no list of cells"):
        (tmp_path / "list.ipynb").write_text("[1, 2]")
        G.extract_notebook(tmp_path / "list.ipynb", tmp_path / "list.py")


def test_results_of_other_settings_are_not_reused(tmp_path):
    sub = G.submissions([student(tmp_path, "a.py")])[0]
    settings = G.settings_of(["backward"], 1.0, "scratchnn")
    record = {"format": G.FORMAT, "path": sub.path, "sha256": sub.sha256(), "settings": settings}
    os.makedirs(tmp_path / "results")
    (tmp_path / "results" / f"{sub.key}.json").write_text(json.dumps(record))
    assert G.load_result(tmp_path, sub, sub.sha256(), settings) == record
    assert G.load_result(tmp_path, sub, sub.sha256(), G.settings_of(None, 1.0, "scratchnn")) is None
    assert G.load_result(tmp_path, sub, sub.sha256(), G.settings_of(["backward"], 2.0, "scratchnn")) is None
    assert G.load_result(tmp_path, sub, sub.sha256(), G.settings_of(["backward"], 1.0, "torch")) is None
    assert G.load_result(tmp_path, sub, "0" * 64, settings) is None


def test_the_default_reference_is_torch_when_torch_imports():
    pytest.importorskip("torch")
    assert G.resolve_reference() == "torch" and G.resolve_reference("scratchnn") == "scratchnn"


def test_a_class_of_one_notebook_is_graded_on_its_functions(tmp_path):
    """Without --only, the columns are the functions some submission defines: notebook 1's six."""
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(EXERCISES / "01_backpropagation.ipynb", folder / "unsolved.ipynb")
    G.grade(G.submissions([folder]), tmp_path / "out", jobs=1, timeout=5, log=lambda *a: None)
    with open(tmp_path / "out" / "grades.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert list(row)[1:7] == list(NOTEBOOK_1) and row["out_of"] == "6" and row["score"] == "0"
