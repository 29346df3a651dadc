"""Nothing a student writes can hang, kill or corrupt the checker: each hostile function gets its verdict,
and the check goes on with the next function.

The functions are defined here and checked with ``check`` (they reach the forked child by the fork,
as a notebook's do); the command's own behaviour (a file, streaming, Ctrl-C, exit codes) is at the end.
"""

import builtins
import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from scratchnn.apps import cli
from scratchnn.teaching.exercises import check, check_file, isolation

ROOT = Path(__file__).parent.parent
SOLUTIONS = ROOT / "tutorials" / "exercises" / "solutions.py"
pytestmark = pytest.mark.skipif(not isolation.available(), reason="no os.fork on this system")


def _solutions():
    spec = importlib.util.spec_from_file_location("exercise_solutions", SOLUTIONS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RIGHT = _solutions()


def _check_two(hostile, timeout=10):
    """Check ``hostile`` as forward, then the solutions' output_delta: the second must be unharmed."""
    report = check({"forward": hostile, "output_delta": RIGHT.output_delta}, quiet=True, timeout=timeout,
                   reference="scratchnn")
    assert report.results["output_delta"].passed, str(report.results["output_delta"])
    return report.results["forward"], report


# ------------------------------------------------------------ hostile code
def test_an_endless_loop_is_stopped_with_its_line():
    def forward(theta, X):
        while True:
            X = X + 1

    start = time.monotonic()
    result, report = _check_two(forward, timeout=0.5)
    assert time.monotonic() - start < 10
    assert result.status == "timeout" and not report.passed
    assert result.verdict == "forward: did not return within 0.5 s (an endless loop?)"
    line = forward.__code__.co_firstlineno + 2
    assert f"on net 1 it was stopped at line {line} of test_isolation.py: X = X + 1" in str(result)
    assert "timed out: forward" in report.summary()


def test_an_endless_loop_on_a_later_net_names_that_net_and_what_came_before():
    def forward(theta, X):
        if len(theta) == 3:  # net 2 has L = 3
            time.sleep(60)
        return RIGHT.forward(theta, X)

    result, _ = _check_two(forward, timeout=0.5)
    assert result.status == "timeout"
    assert "on net 2 it was stopped at line" in str(result) and "time.sleep(60)" in str(result)
    assert "right on net 1 before that." in str(result)


@pytest.mark.parametrize("how, verdict", [
    ("exit", "forward: CRASHED: it ended the Python process running it (exit status 3: os._exit or exit?)"),
    ("segfault", "forward: CRASHED: the Python process running it crashed (SIGSEGV, a segmentation fault)"),
])
def test_a_function_that_ends_the_process_is_reported(how, verdict):
    def forward(theta, X):
        if how == "exit":
            os._exit(3)
        import ctypes
        ctypes.string_at(0)

    result, _ = _check_two(forward)
    assert result.status == "crashed" and result.verdict == verdict
    assert "it happened on net 1." in str(result)


@pytest.mark.parametrize("raise_, said", [
    (lambda: sys.exit("debug"), "it called sys.exit (SystemExit: debug): a function returns its result"),
    (lambda: (_ for _ in ()).throw(KeyboardInterrupt), "it raised KeyboardInterrupt (as Ctrl-C does)"),
    (lambda: input("theta? "), "it raised EOFError"),
    (lambda: _recurse(0), "it raised RecursionError"),
])
def test_exits_interrupts_input_and_recursion_are_raises_of_the_function(raise_, said):
    def forward(theta, X):
        raise_()

    result, report = _check_two(forward)
    assert result.status == "wrong" and result.verdict == "forward: WRONG"
    assert "raised on all 4 nets." in str(result) and f"on net 1 {said}" in str(result)


def _recurse(k):
    return _recurse(k + 1)


def test_a_million_printed_lines_are_cut_to_a_few():
    def forward(theta, X):
        for k in range(250_000):  # four nets: a million lines
            print("a line", k)
        return RIGHT.forward(theta, X)

    # a million writes, one a line (the child's stdout is line-buffered, so that what a stopped function printed
    # last is not lost): 2 s alone, and past the default 10 s beside a busy core (seen: 997,954 lines in 10 s)
    result, _ = _check_two(forward, timeout=60)
    assert result.passed
    text = str(result)
    assert "it printed 1,000,000 lines; the first 6:" in text
    assert "  | a line 0\n" in text and "a line 6" not in text


def test_replacing_builtins_numpy_and_the_random_state_stays_in_the_child():
    state = np.random.get_state()[1].copy()
    options = np.get_printoptions()

    def forward(theta, X):
        a = RIGHT.forward(theta, X)
        threading.Thread(target=time.sleep, args=(60,)).start()  # a thread left running, not a daemon
        np.random.seed(1)
        np.set_printoptions(precision=1)
        np.tanh = lambda z: z  # what the next function, and the checker, would compute with
        builtins.len = lambda x: 0
        builtins.print = None
        return a

    start = time.monotonic()
    result, _ = _check_two(forward)
    assert result.passed and time.monotonic() - start < 10
    assert np.tanh(1.0) != 1.0 and len([1]) == 1 and print is builtins.print
    assert np.array_equal(np.random.get_state()[1], state) and np.get_printoptions() == options


# ---------------------------------------------------------- the command
LOOPING = '''
def forward(theta, X):
    import numpy as np
    n = X.shape[0]
    a = [np.hstack([np.ones((n, 1)), X])]
    for j in range(len(theta)):
        z = a[j] @ theta[j].T
        a.append(np.tanh(z) if j + 1 == len(theta) else np.hstack([np.ones((n, 1)), np.tanh(z)]))
    return a


def output_delta(a_L, Y):
    while True:
        pass


def layer_gradient(delta_next, a_j):
    return delta_next.T @ a_j
'''


def test_the_command_streams_each_verdict_and_a_ctrl_c_keeps_them(tmp_path):
    """forward's verdict is printed while output_delta still loops; Ctrl-C then ends the check with exit 130."""
    path = tmp_path / "mine.py"
    path.write_text(LOOPING)
    # without torch (the check against scratchnn's engine): the process starts in a second, not three; SIGINT
    # handled as from a terminal (a shell's background job, `pytest &`, passes it on ignored)
    code = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); sys.modules['torch'] = None; "
            "from scratchnn.apps.cli import main; sys.exit(main(sys.argv[1:]))")
    process = subprocess.Popen([sys.executable, "-c", code, "check", str(path), "--timeout", "60"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith("forward: "):
                break
        assert seen[-1] == "forward: right on all 4 nets.\n", "".join(seen)
        time.sleep(0.5)
        assert process.poll() is None  # output_delta is looping, its verdict not out yet
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert out.rstrip().endswith("check: 1 of 3 functions right; stopped (Ctrl-C) before output_delta, "
                                 "layer_gradient")
    assert "Traceback" not in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the child dies with the checker through Linux's prctl")
def test_a_checker_killed_outright_takes_the_students_loop_with_it(tmp_path):
    """SIGKILL to `scratchnn check` (no Ctrl-C handling can run) while output_delta loops in its child."""
    path = tmp_path / "mine.py"
    path.write_text(LOOPING)
    code = "import sys; sys.modules['torch'] = None; from scratchnn.apps.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen([sys.executable, "-c", code, "check", str(path), "--timeout", "60"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:
            if line.startswith("forward: "):
                break
        time.sleep(0.3)  # output_delta's child is running
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        assert len(children) == 1, children
    finally:
        process.kill()
        process.communicate()
    status = Path(f"/proc/{children[0]}/status")
    deadline = time.monotonic() + 5
    while status.exists() and "\tZ" not in status.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)  # gone, or a zombie nobody reaps in a container: dead either way
    assert not status.exists() or "\tZ" in status.read_text(), "the student's loop outlived the checker"


def test_the_command_times_out_and_goes_on(tmp_path, capsys):
    path = tmp_path / "mine.py"
    path.write_text(LOOPING)
    assert cli.main(["check", str(path), "--timeout", "0.5"]) == 1
    out = capsys.readouterr().out
    assert "output_delta: did not return within 0.5 s (an endless loop?)" in out
    assert "on net 1 it was stopped at line 14 of mine.py: pass" in out or \
           "on net 1 it was stopped at line 13 of mine.py: while True:" in out
    assert out.rstrip().endswith("check: 2 of 3 functions right; timed out: output_delta")


@pytest.mark.parametrize("top, said", [
    ("while True:\n    pass\n", "did not finish importing within 0.5 s (an endless loop?)"),
    ("import sys\nsys.exit('bye')\n", "cannot import mine.py (line 2):\nSystemExit: bye"),
    ("import os\nos._exit(4)\n", "cannot import mine.py: it ended the Python process running it (exit status 4"),
])
def test_a_file_that_hangs_or_exits_on_import_is_unusable(tmp_path, capsys, top, said):
    path = tmp_path / "mine.py"
    path.write_text(top + LOOPING)
    assert cli.main(["check", str(path), "--timeout", "0.5"]) == 2
    assert said in capsys.readouterr().err
    assert check_file(path, timeout=0.5).error.startswith("cannot import mine.py")


def test_the_timeout_is_validated(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["check", str(SOLUTIONS), "--timeout", "0"])
    assert exc.value.code == 2 and "--timeout" in capsys.readouterr().err
    for bad in (0, -1, "10", True):
        with pytest.raises(ValueError, match="timeout: expected a number of seconds > 0"):
            check(RIGHT.forward, timeout=bad, quiet=True)


def test_without_fork_the_functions_run_in_the_checkers_process(monkeypatch):
    monkeypatch.setattr(isolation, "available", lambda: False)
    report = check(RIGHT.forward, quiet=True, reference="scratchnn")
    assert report.passed and "This system cannot fork" in report.header


def test_a_function_using_torch_after_the_checker_ran_torch_in_parallel():
    """The checker's torch reference starts torch's thread pool; a forked child has none of its threads,
    and a parallel op there would wait for them forever (the child runs torch on one thread)."""
    torch = pytest.importorskip("torch")
    saved = torch.get_num_threads()
    torch.set_num_threads(2)  # as a user's torch runs (the suite's conftest sets one OpenMP thread)
    try:
        torch.tanh(torch.ones(1_000_000)).sum()  # a parallel op in this process

        def forward(theta, X):
            torch.tanh(torch.ones(1_000_000)).sum()  # a student who uses torch
            return RIGHT.forward(theta, X)

        result, _ = _check_two(forward, timeout=5)
    finally:
        torch.set_num_threads(saved)
    assert result.passed, str(result)
