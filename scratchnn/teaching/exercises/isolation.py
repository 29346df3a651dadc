r"""Student code runs in a child process, so that nothing it does can hang, kill or corrupt the checker.

``run(job, timeout)`` forks. The child calls ``job(send)``, which runs the student's
code and sends its results back, one picklable message at a time; the parent collects
them. Whatever the student's code does stays in the child:

- an endless loop: after ``timeout`` seconds the parent asks the child where it is
  (``faulthandler`` prints the child's stack on SIGUSR1), then kills it;
- ``os._exit``, a segfault, a ``sys.exit`` that escapes: the child ends, the parent
  reads how (:class:`Ended`);
- printing: the child's file descriptors 1 and 2 go to a pipe that the parent reads as
  it comes, keeping the first lines and counting the rest (:class:`Printed`);
- Ctrl-C: the child ignores SIGINT, so a Ctrl-C in the terminal reaches the parent
  only, which stops the child;
- replacing a builtin, numpy's print options, the global random state, threads left
  running: they live in the child, which ends with ``os._exit``.

Forking needs ``os.fork`` (Linux, macOS). Elsewhere :func:`available` is False and the
checker runs the functions in its own process.
"""

import ctypes
import faulthandler
import io
import linecache
import os
import re
import signal
import sys
import tempfile
import time
import traceback
import warnings
from multiprocessing.connection import Pipe, wait

PRINTED_LINES = 6  # lines of a function's output shown after its verdict
LINE_CHARS = 160  # a longer printed line is cut
ASK_WHERE_S = 1.0  # how long a stopped child has to print its stack before it is killed
_DONE = "done"  # the child's last message: job returned

_PACKAGE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scratchnn/
_LIBRARIES = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})


def available():
    """Whether student code can run in a child process here (``os.fork`` exists)."""
    return hasattr(os, "fork")


class Printed:
    """What a child printed: ``lines`` (the first :data:`PRINTED_LINES`, each cut to LINE_CHARS) and ``total``."""

    def __init__(self):
        self.lines = []
        self.total = 0
        self._partial = b""

    def feed(self, chunk):
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        self.total += len(complete)
        for raw in complete[: max(0, PRINTED_LINES - len(self.lines))]:
            self.lines.append(_cut(raw))
        if len(self._partial) > 4 * LINE_CHARS:  # a line without end: keep its start only
            self._partial = self._partial[: 4 * LINE_CHARS]

    def close(self):
        if self._partial:
            self.total += 1
            if len(self.lines) < PRINTED_LINES:
                self.lines.append(_cut(self._partial))
            self._partial = b""

    def describe(self):
        """The lines shown after a verdict: ``it printed 3 lines:`` and the lines, or [] when it printed nothing."""
        if not self.total:
            return []
        head = f"it printed {self.total:,} line{'s' if self.total > 1 else ''}"
        head += ":" if self.total <= len(self.lines) else f"; the first {len(self.lines)}:"
        return [head] + ["  | " + line for line in self.lines]


def _cut(raw):
    text = raw.decode("utf-8", errors="replace").rstrip("\r")
    return text if len(text) <= LINE_CHARS else text[: LINE_CHARS - 1] + "…"


class Ended:
    """Why a child stopped before its job returned: ``kind`` (``timeout``, ``crashed``) and ``text``;
    ``where``: the line of the student's code it was running, when known (a timeout)."""

    def __init__(self, kind, text, where=None):
        self.kind = kind
        self.text = text
        self.where = where

    def __repr__(self):
        return f"Ended({self.kind!r}, {self.text!r}, where={self.where!r})"


class ChildRun:
    """What :func:`run` brought back: ``messages`` (in the order sent), ``printed``, ``ended`` (None: finished)
    and ``failed`` (a traceback, when the job itself raised: a bug of the checker, not of the student)."""

    def __init__(self, messages, printed, ended, failed):
        self.messages = messages
        self.printed = printed
        self.ended = ended
        self.failed = failed


def run(job, timeout, student=None):
    """Fork; the child runs ``job(send)``; the parent waits at most ``timeout`` seconds. Returns an :class:`ChildRun`.

    ``student(filename) -> bool`` tells the student's files from the others, to name the line a
    stopped child was running (default: any file outside scratchnn and the Python installation).
    """
    messages_r, messages_w = Pipe(duplex=False)
    out_r, out_w = os.pipe()
    stack = tempfile.TemporaryFile()
    sys.stdout.flush()
    sys.stderr.flush()
    with warnings.catch_warnings():
        # JAX, when a bench imported it, warns at every fork; the child runs NumPy and the student's code only
        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
        parent, pid = os.getpid(), os.fork()
    if pid == 0:  # the child: never returns
        try:
            die_with(parent)
            messages_r.close()
            os.close(out_r)
            _child(job, messages_w, out_w, stack)
        finally:
            os._exit(70)
    messages_w.close()
    os.close(out_w)
    try:
        return _parent(pid, messages_r, out_r, stack, timeout, student or _is_student)
    finally:
        messages_r.close()
        os.close(out_r)
        stack.close()


def die_with(parent):
    """Linux: the kernel kills this child when the checker dies, even by SIGKILL (a student's endless loop must
    not outlive it, on a class's server least of all). Elsewhere the checker's own Ctrl-C handling stops it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the checker died before prctl took effect
        os._exit(0)


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _child(job, messages, out_w, stack):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    os.close(out_w)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # input() meets the end of input instead of waiting
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False))
    # fresh streams on the descriptors: a notebook's sys.stdout talks to a kernel thread the child has not
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True, errors="backslashreplace")
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True, errors="backslashreplace")
    torch_on_one_thread()
    faulthandler.disable()  # a crash of the student's code is reported by the parent, not dumped on a terminal
    faulthandler.register(signal.SIGUSR1, file=stack, all_threads=False)
    try:
        job(messages.send)
        messages.send(_DONE)
    except BaseException:  # a failure of the job itself, student code having been caught inside it
        messages.send(("failed", traceback.format_exc()))
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # a student may have closed or replaced it
                pass
        os._exit(0)


def torch_on_one_thread():
    """In a forked child: torch, if this process has it, on one thread.

    A parent that ran a parallel torch op leaves an OpenMP pool the child does not have: the child's first
    parallel op (a student's function that uses torch, a reference's batch_norm) would wait for it forever.
    """
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(1)


def _parent(pid, messages_r, out_r, stack, timeout, student):
    messages, printed, failed, done = [], Printed(), None, False
    deadline = time.monotonic() + timeout
    open_fds = [messages_r, out_r]
    ended = None
    try:
        while open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                ended = _stop(pid, stack, timeout, student)
                pid = None
                break
            for ready in wait(open_fds, timeout=left):
                if ready is out_r:
                    chunk = os.read(out_r, 65536)
                    if chunk:
                        printed.feed(chunk)
                    else:
                        open_fds.remove(out_r)
                    continue
                try:
                    message = messages_r.recv()
                except (EOFError, OSError):
                    open_fds.remove(messages_r)
                    continue
                if message == _DONE:
                    done = True
                elif isinstance(message, tuple) and message[0] == "failed":
                    failed = message[1]
                else:
                    messages.append(message)
    except BaseException:  # Ctrl-C in the parent: the child goes too
        if pid is not None:
            _kill(pid)
        raise
    printed.close()
    if pid is not None:
        _, status = os.waitpid(pid, 0)
        if not done and failed is None:
            ended = Ended("crashed", _how_it_ended(status))
    return ChildRun(messages, printed, ended, failed)


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)


def _stop(pid, stack, timeout, student):
    """Ask the child where it is (SIGUSR1: its stack into ``stack``), kill it, and say where it was."""
    try:
        os.kill(pid, signal.SIGUSR1)
    except ProcessLookupError:
        pass
    limit = time.monotonic() + ASK_WHERE_S
    size = -1
    while time.monotonic() < limit:  # until the stack is written and stops growing
        now = os.fstat(stack.fileno()).st_size
        if now and now == size:
            break
        size = now
        time.sleep(0.02)
    _kill(pid)
    stack.seek(0)
    text = stack.read().decode("utf-8", errors="replace")
    return Ended("timeout", f"did not return within {timeout:g} s (an endless loop?)", _where(text, student))


_FRAME = re.compile(r'File "(.+)", line (\d+) in (\S+)')


def _where(stack_text, student):
    """``line 3 of mine.py: while True:``: the newest frame of the student's code in faulthandler's dump."""
    for filename, line, _ in _FRAME.findall(stack_text):  # faulthandler lists the newest frame first
        if student(filename):
            return where(filename, int(line))
    return None


def where(filename, line):
    """``line 3 of mine.py: x = 1`` (a notebook cell's temporary file is called "your notebook cell")."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    if "ipykernel" in filename:
        name = "your notebook cell"
    source = linecache.getline(filename, line).strip()
    return f"line {line} of {name}" + (f": {source}" if source else "")


def _is_student(filename):
    if filename.startswith("<"):
        return False
    path = os.path.realpath(filename)
    return not path.startswith(_PACKAGE + os.sep) and not path.startswith(_LIBRARIES)


def _how_it_ended(status):
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        what = {"SIGSEGV": ", a segmentation fault", "SIGABRT": ", an abort", "SIGBUS": ", a bus error",
                "SIGFPE": ", an arithmetic fault", "SIGKILL": ", killed: out of memory?"}.get(name, "")
        return f"the Python process running it crashed ({name}{what})"
    return f"it ended the Python process running it (exit status {os.WEXITSTATUS(status)}: os._exit or exit?)"
