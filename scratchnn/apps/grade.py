r"""Grading a class: every submission checked by :func:`scratchnn.teaching.exercises.check_file`, in its own process; a table, a page.

    subs = submissions(["class/"])                 # one per .py file or .ipynb notebook
    grading = grade(subs, "grades", jobs=2)       # grades/grades.csv, grades/report.html, grades/results/
    print(grading.summary())

A notebook is not run: the top-level imports, function definitions and literal
constants of its code cells (parsed with ``ast``; IPython magics left out, a later
definition replacing an earlier one) are written to ``OUT/extracted/`` as a Python
file, and that file is checked.

Each submission is checked in a child forked from this process (the imports, torch's
included, are paid here once), at most ``jobs`` at a time, in a process group of its
own: a Ctrl-C in the terminal reaches only this process, which stops the children.
Within a submission the checker runs each function in a child of its own with
``timeout`` seconds; the whole submission has :func:`wall_limit` seconds, after
which it is stopped and its row says so. A submission that crashes, hangs or does
not import costs only its own row.

Each finished submission is saved as ``OUT/results/<name>-<hash>.json`` (written to a
temporary file, then renamed), with the sha256 of its file and the settings (only,
timeout, reference). A rerun checks only the submissions without such a result, or
whose file or settings changed; ``grades.csv`` and ``report.html`` are built from the
results on disk.

Grades: ``right``, ``wrong`` (a function that crashed counts as wrong; the note says it
crashed), ``timeout`` and ``missing`` (not written, or not defined).
"""

import ast
import csv
import faulthandler
import hashlib
import html
import io
import json
import multiprocessing
import os
import re
import signal
import time
import traceback
import warnings
from multiprocessing.connection import wait

from ..teaching.exercises.calls import NAMES
from ..teaching.exercises.checker import TIMEOUT, check, check_file
from ..teaching.exercises.hints import HINTS
from ..teaching.exercises.isolation import die_with, torch_on_one_thread

FORMAT = 1  # of the result files: a result written by another format is checked again
GRADES = ("right", "wrong", "timeout", "missing")
GRADE_OF_STATUS = {"right": "right", "wrong": "wrong", "crashed": "wrong", "timeout": "timeout",
                   "not written": "missing", "not defined": "missing"}
WALL_SLACK_S = 30.0  # a submission's wall limit beyond its functions' timeouts: imports, references, diagnosis
SUBMISSION_TYPES = (".py", ".ipynb")


class SubmissionError(ValueError):
    """A path given as a submission that is not a .py file, an .ipynb notebook or a folder of them."""


class NotebookError(ValueError):
    """A notebook that cannot be read: not JSON, or not a Jupyter notebook."""


# ------------------------------------------------------------- submissions
class Submission:
    """One file to grade: ``path`` (absolute), ``name`` (as the table shows it), ``kind`` (.py or .ipynb), ``key``
    (the name of its result file: the file's stem and a hash of its absolute path)."""

    def __init__(self, path, name):
        self.path = os.path.abspath(path)
        self.name = name
        self.kind = os.path.splitext(path)[1].lower()
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.splitext(os.path.basename(path))[0])[:60]
        self.key = f"{stem}-{hashlib.sha1(os.path.realpath(path).encode()).hexdigest()[:12]}"

    def sha256(self):
        with open(self.path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def __repr__(self):
        return f"Submission({self.name!r})"


def submissions(paths):
    """One :class:`Submission` per file: each path a .py file, an .ipynb notebook, or a folder (its .py and
    .ipynb files, sorted, not those of its subfolders; hidden files left out). A file given twice counts once.

    Raises :class:`SubmissionError` naming the first path that is none of these.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found, seen = [], set()
    for given in map(os.fspath, paths):
        if os.path.isdir(given):
            names = sorted(n for n in os.listdir(given) if os.path.splitext(n)[1].lower() in SUBMISSION_TYPES
                           and not n.startswith(".") and os.path.isfile(os.path.join(given, n)))
            files = [os.path.join(given, n) for n in names]
        elif os.path.isfile(given):
            if os.path.splitext(given)[1].lower() not in SUBMISSION_TYPES:
                raise SubmissionError(f"{given}: not a .py file, an .ipynb notebook or a folder of them")
            files = [given]
        else:
            raise SubmissionError(f"{given}: no such file or folder")
        for path in files:
            real = os.path.realpath(path)
            if real not in seen:
                seen.add(real)
                found.append(Submission(path, os.path.normpath(path)))
    return found


# ----------------------------------------------------------------- notebooks
_MAGIC = re.compile(r"^(\s*)([%!].*|\S.*\?\??\s*)$")  # %line magic, !shell, name? (help): not Python


def _parse_cell(source):
    """``(tree, source)`` of a code cell, its IPython magic lines made ``pass``; ``(None, why)`` if it does not parse."""
    try:
        return ast.parse(source), source
    except (SyntaxError, ValueError):
        pass
    lines = [_MAGIC.sub(r"\1pass", line) for line in source.splitlines()]
    cleaned = "\n".join(lines)
    try:
        return ast.parse(cleaned), cleaned
    except SyntaxError as exc:
        return None, f"line {exc.lineno}: {exc.msg}"
    except ValueError as exc:
        return None, str(exc)


def _literal(node):
    """Whether the assignment ``node`` binds plain names to a literal (``EPS = 1e-8``): a constant a function may use."""
    if not isinstance(node, ast.Assign) or not all(isinstance(t, ast.Name) for t in node.targets):
        return False
    try:
        ast.literal_eval(node.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _defined(node):
    """The name a kept top-level node defines (a def, a class, a literal constant), or None."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if _literal(node):
        return node.targets[0].id
    return None


def extract_notebook(path, dest):
    """Write the Python file ``dest`` from the notebook at ``path`` without running it; returns notes (a list).

    Kept from each code cell, in order: top-level imports (each in ``try``/``except ImportError``, so an
    import the grading machine lacks, such as torchref without torch, costs only the functions that use
    it), function and class definitions and literal constants (``EPS = 1e-8``), a later definition of a
    name replacing an earlier one. A cell magic (``%%``) cell or a cell that does not parse is left out,
    with a note. Raises :class:`NotebookError` when the file is not a notebook.
    """
    base = os.path.basename(path)
    try:
        with open(path, encoding="utf-8") as f:
            notebook = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotebookError(f"{base} is not a notebook: not valid JSON ({exc})") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise NotebookError(f"{base} is not a Jupyter notebook (nbformat 4): it has no list of cells")
    future, imports, defined, notes = [], [], {}, []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(map(str, source)) if isinstance(source, list) else str(source)
        if source.lstrip().startswith("%%"):
            notes.append(f"cell {number} is a {source.split()[0]} cell: left out")
            continue
        tree, source = _parse_cell(source)
        if tree is None:
            notes.append(f"cell {number} does not parse ({source}): left out")
            continue
        lines = source.splitlines()
        for node in tree.body:
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            text = "\n".join(lines[first - 1:node.end_lineno])
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                future.append(text)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                if text not in imports:
                    imports.append(text)
            elif _defined(node) is not None:
                defined.pop(_defined(node), None)  # the later definition, placed where it comes
                defined[_defined(node)] = f"# cell {number}\n{text}"
    head = (f"# The imports, definitions and constants of {base}'s code cells, extracted by scratchnn grade;\n"
            f"# the notebook itself was not run.")
    wrapped = [f"try:\n    {text.strip()}\nexcept ImportError:\n    pass" for text in imports]
    parts = ["\n".join([head] + future), "\n".join(wrapped)] + list(defined.values())
    _write_atomic(dest, "\n\n\n".join(p for p in parts if p) + "\n")
    return notes


def _top_level_names(path):
    """The names a Python file binds at its top level (outside functions and classes), or None when it cannot
    tell (it does not parse, or it has ``from ... import *``)."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read())
    except (SyntaxError, ValueError, OSError):
        return None
    names = set()

    def visit(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name == "*":
                        raise LookupError  # a star import may bring anything
                    names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor, ast.With,
                                   ast.AsyncWith)):
                for target in ast.walk(node):
                    if isinstance(target, ast.Name) and isinstance(target.ctx, ast.Store):
                        names.add(target.id)
            for field in ("body", "orelse", "finalbody"):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    visit(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                visit(handler.body)

    try:
        visit(tree.body)
    except LookupError:
        return None
    return names


# ------------------------------------------------------------- one submission
def settings_of(only, timeout, reference):
    """The settings a result was made with; a result with other settings is checked again."""
    return {"only": None if only is None else [n for n in NAMES if n in only], "timeout": float(timeout),
            "reference": reference}


def _function_record(result):
    return {"status": result.status, "verdict": result.verdict, "details": list(result.details()),
            "mistakes": [{"name": m.name, "why": m.why, "how": how} for m, how in result.mistakes],
            "blame": list(getattr(result, "blame", None) or [])}


def new_record(sub, settings, sha256, ended=None):
    """A submission's record before its check: what it is, from which file (``sha256``), with which settings.

    Filled in by the check: ``notes`` (a notebook's cells left out), ``error`` (why it is unusable), ``header``,
    ``functions`` (name -> status, verdict, details, mistakes, blame), ``seconds``; or ``ended`` (``{"kind":
    "timeout" or "crashed", "text"}``) when the check of the whole submission did not end.
    """
    return {"format": FORMAT, "file": sub.name, "path": sub.path, "sha256": sha256, "settings": settings,
            "notes": [], "error": None, "ended": ended, "header": "", "functions": {}}


def check_submission(sub, out, settings, sha256):
    """Check one submission (in the calling process); returns its record (a dict, as saved under results/)."""
    record = new_record(sub, settings, sha256)
    path = sub.path
    if sub.kind == ".ipynb":
        path = os.path.join(out, "extracted", sub.key + ".py")
        try:
            record["notes"] = extract_notebook(sub.path, path)
        except NotebookError as exc:
            record["error"] = str(exc)
            return record
    only = settings["only"]
    if only is not None:
        names = _top_level_names(path)
        only = only if names is None else [n for n in only if n in names]
        if not only:
            return record  # none of the functions asked for: each is missing
    report = check_file(path, only=only, reference=settings["reference"], timeout=settings["timeout"], quiet=True)
    record["error"] = report.error
    record["header"] = report.header
    record["functions"] = {name: _function_record(r) for name, r in report.results.items()}
    if getattr(report, "stopped", False):
        record["ended"] = {"kind": "crashed", "text": "the check was stopped before it ended"}
    return record


def _child(sub, out, settings, sha256, path, parent):
    """The forked child's life: its own process group, its output to /dev/null, check, save, exit."""
    die_with(parent)  # a grader killed outright (no Ctrl-C handling) takes its children with it
    os.setpgid(0, 0)  # a Ctrl-C in the terminal reaches the parent only, which stops the group
    torch_on_one_thread()  # the parent's OpenMP pool did not come with the fork
    faulthandler.disable()  # a crash is told by the exit status, not by a traceback on the parent's terminal
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    start = time.perf_counter()
    try:
        record = check_submission(sub, out, settings, sha256)
    except BaseException as exc:  # noqa: B036 -- a bug of the checker, or what escaped the student's code
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        record = new_record(sub, settings, sha256, {"kind": "crashed", "text": f"the check stopped with {last}"})
    record["seconds"] = round(time.perf_counter() - start, 3)
    try:
        _save(path, record)
    except BaseException:  # noqa: B036
        os._exit(1)
    os._exit(0)  # not sys.exit: threads the student's code left running must not hold the child


# ------------------------------------------------------------------- on disk
def _write_atomic(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def _save(path, record):
    _write_atomic(path, json.dumps(record, indent=1, ensure_ascii=False))


def result_path(out, sub):
    """Where the result of ``sub`` is saved."""
    return os.path.join(out, "results", sub.key + ".json")


def load_result(out, sub, sha256, settings):
    """The saved record of ``sub`` if it was made from this file (``sha256``) with these settings, else None."""
    try:
        with open(result_path(out, sub), encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    ok = (isinstance(record, dict) and record.get("format") == FORMAT and record.get("path") == sub.path
          and record.get("sha256") == sha256 and record.get("settings") == settings)
    return record if ok else None


# ------------------------------------------------------------------ rows
def row_of(record, names):
    """The grade table's row of a record: ``{"file", <name>: grade, "mistakes", "score", "out_of", "note"}``."""
    row = {"file": record["file"]}
    notes = list(record.get("notes") or [])
    mistakes, blamed = [], []
    ended = record.get("ended")
    if record.get("error"):
        notes.insert(0, "unusable: " + " ".join(record["error"].split()))
    if ended:
        notes.insert(0, f"{'timed out' if ended['kind'] == 'timeout' else 'crashed'}: {ended['text']}")
    unwritten, undefined = [], []
    for name in names:
        fn = record["functions"].get(name)
        if fn is None:
            grade = {"timeout": "timeout", "crashed": "wrong"}.get(ended["kind"], "wrong") if ended else "missing"
            if not ended and not record.get("error"):
                undefined.append(name)
        else:
            grade = GRADE_OF_STATUS.get(fn["status"], "wrong")
            mistakes += [f"{name}: {m['name']}" for m in fn["mistakes"]]
            if fn["status"] in ("crashed", "timeout"):
                notes.append(fn["verdict"])
            elif fn["status"] == "not written":
                unwritten.append(name)
            elif fn["status"] not in GRADE_OF_STATUS:
                notes.append(f"{name}: {fn['status']}")
            if fn["blame"] and grade == "wrong":
                blamed.append(f"{name} is wrong because {' and '.join(fn['blame'])} "
                              f"{'is' if len(fn['blame']) == 1 else 'are'}")
        row[name] = grade
    notes += blamed
    for what, missing in (("not written", unwritten), ("not defined", undefined)):
        if missing:  # a long list is in the columns already
            notes.append(f"{what}: " + (", ".join(missing) if len(missing) <= 3 else f"{len(missing)} functions"))
    row["mistakes"] = "; ".join(mistakes)
    row["score"] = sum(row[name] == "right" for name in names)
    row["out_of"] = len(names)
    row["note"] = "; ".join(notes)
    return row


def defined(records, names):
    """The functions of ``names`` that some submission defines (written or not): a class that hands in exercise
    notebook 1 is graded on its six functions, not on all fifteen. All of ``names`` when none defines any."""
    found = [name for name in names if any(name in (r.get("functions") or {}) for r in records)]
    return found or list(names)


def write_csv(path, rows, names):
    """``grades.csv``: file, a column per function, mistakes, score, out_of, note."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, ["file", *names, "mistakes", "score", "out_of", "note"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _write_atomic(path, buffer.getvalue())


def mistake_counts(records, names):
    """Per function, ``[(count, mistake, why, named), ...]`` over the records, most common first.

    ``named`` is True for the checker's named mistakes; the others are ``wrong because F is wrong`` (the
    student's other function explains it) and ``wrong, no known mistake matches``.
    """
    counts = {name: {} for name in names}
    for record in records:
        for name in names:
            fn = record["functions"].get(name)
            if fn is None or fn["status"] != "wrong":
                continue
            found = [(m["name"], m["why"], True) for m in fn["mistakes"]]
            if fn["blame"]:
                found.append((f"wrong because {' and '.join(fn['blame'])} {'is' if len(fn['blame']) == 1 else 'are'}"
                              f" wrong", "Fix that function first: this one may then be right.", False))
            if not found:
                found.append(("wrong, no known mistake matches", "See these submissions' details below.", False))
            for key in dict.fromkeys(found):
                counts[name][key] = counts[name].get(key, 0) + 1
    return {name: sorted(((n,) + key for key, n in c.items()), key=lambda t: (-t[0], not t[3], t[1]))
            for name, c in counts.items()}


# ------------------------------------------------------------------ grading
def wall_limit(n_functions, timeout):
    """Seconds one submission may take in all: twice each function's ``timeout`` (the checker may run a
    function again to tell which of the others explain its error) plus :data:`WALL_SLACK_S`."""
    return 2 * n_functions * timeout + WALL_SLACK_S


def resolve_reference(reference=None):
    """``"torch"`` or ``"scratchnn"``: what None means here (torch if it imports, as the checker decides)."""
    if reference not in (None, "torch", "scratchnn"):
        raise ValueError(f"reference: expected None, 'torch' or 'scratchnn', got {reference!r}")
    if reference is not None:
        return reference
    try:
        from ..teaching.exercises import torch_reference  # noqa: F401  (imports torch, the checker's test of it)
    except ImportError:
        return "scratchnn"
    return "torch"


def _not_written(*args):
    raise NotImplementedError("your code here")


def _warm_up(names, reference):
    """One check of ``names`` not written: what the references need (torch's optimizers import most of torch the
    first time) is imported here once, and every child forked afterwards starts with it."""
    report = check({name: _not_written for name in names}, reference=reference, quiet=True)
    if getattr(report, "stopped", False):  # the checker keeps a Ctrl-C to itself; here it stops the grading
        raise KeyboardInterrupt


class Grading:
    """What :func:`grade` did: ``rows`` (one per submission with a result, in order), ``records``, ``names``
    (the functions graded), ``total`` (submissions given), ``checked`` and ``reused`` (now, from disk),
    ``interrupted``, ``seconds``, ``reference`` ("torch" or "scratchnn") and ``torch_missing``, ``out``, ``settings``."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def against(self):
        """``checked against torch ...`` or ``checked against scratchnn's engine (torch is not installed)``."""
        if self.reference == "torch":
            return "checked against torch (autograd, torch.optim)"
        return "checked against scratchnn's engine" + (" (torch is not installed)" if self.torch_missing else "")

    def summary(self, top=10):
        """The lines printed at the end: submissions, per function how many right, the common mistakes, the time."""
        n = len(self.rows)
        lines = [f"grade: {n} submission{'s' if n != 1 else ''}"
                 + ("" if n == self.total else f" of {self.total}") + f", {self.against()}"]
        present, absent = _present(self.names, self.rows)
        width = max(map(len, present)) + 1
        lines += ["  " + _tally(name, self.rows, width) for name in present]
        if absent:
            lines.append(f"  in no submission: {', '.join(absent)}")
        common = sorted(((count, name, mistake) for name, found in mistake_counts(self.records, self.names).items()
                         for count, mistake, _, named in found if named),
                        key=lambda t: (-t[0], self.names.index(t[1]), t[2]))
        if common:
            lines.append("most common mistakes:")
            lines += [f"  {count} of {n}: {name}: {mistake}" for count, name, mistake in common[:top]]
            if len(common) > top:
                lines.append(f"  and {len(common) - top} more: see report.html")
        folder = _folder(self.rows)
        unusable = [_short(r["file"], folder) for r in self.rows
                    if r["note"].startswith(("unusable", "timed out", "crashed"))]
        if unusable:
            lines.append(f"not checked ({len(unusable)}): {', '.join(unusable)}: see the note column")
        lines.append(f"{self.checked} checked now, {self.reused} reused from {os.path.join(self.out, 'results')}, "
                     f"in {self.seconds:.1f} s; grades.csv and report.html written to {self.out}")
        return "\n".join(lines)


def grade(subs, out, jobs=2, timeout=TIMEOUT, only=None, reference=None, wall=None, log=print):
    """Grade the submissions ``subs`` (see :func:`submissions`) into the folder ``out``; returns a :class:`Grading`.

    ``jobs``: submissions checked at once, each in its own process; ``timeout``: seconds per function;
    ``only``: the functions to grade (default: every exercise, :data:`NAMES`); ``reference``: None (torch if installed),
    "torch" or "scratchnn"; ``wall``: seconds per submission (default :func:`wall_limit`); ``log``: called
    with a line per submission as it is done. A Ctrl-C stops the children and returns with
    ``interrupted`` True, after writing what is done.
    """
    if not hasattr(os, "fork"):
        raise RuntimeError("grade: each submission runs in a forked process; this system cannot fork")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs: expected an int >= 1, got {jobs!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout: expected a number of seconds > 0, got {timeout!r}")
    if only is not None:
        only = [only] if isinstance(only, str) else list(only)
        unknown = [name for name in only if name not in NAMES]
        if unknown:
            raise ValueError(f"only: unknown exercise {unknown[0]!r}; expected one of {', '.join(NAMES)}")
    start = time.perf_counter()
    resolved = resolve_reference(reference)
    settings = settings_of(only, timeout, resolved)
    names = settings["only"] or list(NAMES)
    wall = wall_limit(len(names), timeout) if wall is None else wall
    hashes = {sub.path: sub.sha256() for sub in subs}
    todo = [sub for sub in subs if load_result(out, sub, hashes[sub.path], settings) is None]
    interrupted = False
    if todo:
        try:
            _warm_up(names, resolved)
            _run_children(todo, out, settings, hashes, jobs, wall, names, log, len(subs) - len(todo), len(subs))
        except KeyboardInterrupt:
            interrupted = True
    records = [r for r in (load_result(out, sub, hashes[sub.path], settings) for sub in subs) if r is not None]
    done = {r["path"] for r in records}
    if not settings["only"]:
        names = defined(records, names)
    grading = Grading(rows=[row_of(r, names) for r in records], records=records, names=names, total=len(subs),
                      checked=sum(sub.path in done for sub in todo), reused=len(subs) - len(todo),
                      interrupted=interrupted, seconds=time.perf_counter() - start, reference=resolved,
                      torch_missing=reference is None and resolved == "scratchnn", out=out, settings=settings)
    write_csv(os.path.join(out, "grades.csv"), grading.rows, names)
    _write_atomic(os.path.join(out, "report.html"), report_html(grading))
    return grading


def _kill(process, out, sub):
    """Stop a child and its own children (its process group), reap it, remove the files it was writing."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:  # gone already, or its group not yet made: the child itself
        process.kill()
    process.join()
    for path in (result_path(out, sub), os.path.join(out, "extracted", sub.key + ".py")):
        if os.path.exists(f"{path}.tmp{process.pid}"):
            os.remove(f"{path}.tmp{process.pid}")


def _run_children(todo, out, settings, hashes, jobs, wall, names, log, already, total):
    """Check ``todo``, ``jobs`` children at a time, each with ``wall`` seconds; save every record."""
    context = multiprocessing.get_context("fork")
    queue = list(todo)
    running = {}  # sentinel -> (process, submission, deadline)
    finished = already
    try:
        while queue or running:
            while queue and len(running) < jobs:
                sub = queue.pop(0)
                path = result_path(out, sub)
                if os.path.exists(path):
                    os.remove(path)  # a stale result: the child's must be the one read back
                # SIGINT held while forking: the child exists in `running` before a Ctrl-C can stop this loop
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
                try:
                    process = context.Process(target=_child, args=(sub, out, settings, hashes[sub.path], path, os.getpid()))
                    with warnings.catch_warnings():  # JAX, when a bench imported it, warns at every fork
                        warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
                        process.start()
                    try:
                        os.setpgid(process.pid, process.pid)  # as the child does: whichever comes first
                    except OSError:
                        pass
                    running[process.sentinel] = (process, sub, time.monotonic() + wall)
                finally:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
            now = time.monotonic()
            ready = wait(list(running), timeout=max(0.0, min(d for _, _, d in running.values()) - now))
            now = time.monotonic()
            for sentinel in list(running):
                process, sub, deadline = running[sentinel]
                if sentinel not in ready and now < deadline:
                    continue
                del running[sentinel]
                if sentinel in ready:
                    process.join()
                    ended = _ended(process.exitcode)
                else:
                    _kill(process, out, sub)
                    ended = {"kind": "timeout", "text": f"the check did not finish within {wall:g} s: stopped"}
                record = _finish(out, sub, settings, hashes[sub.path], ended)
                finished += 1
                row = row_of(record, names if settings["only"] else defined([record], names))
                log(f"[{finished}/{total}] {sub.name}: {row['score']} of {row['out_of']} right"
                    + (f"; {row['note']}" if row["note"] else ""))
    except KeyboardInterrupt:
        for process, sub, _ in running.values():
            _kill(process, out, sub)
        raise


def _ended(exitcode):
    """None when the child saved its record; else how it ended."""
    if exitcode == 0:
        return None
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        return {"kind": "crashed", "text": f"the check's process was killed by {name}"
                                           + (" (a segfault)" if name == "SIGSEGV" else "")}
    return {"kind": "crashed", "text": f"the check's process exited with status {exitcode}"}


def _finish(out, sub, settings, sha256, ended):
    """The record the child saved, or (``ended``: it did not) one saying how it ended, saved in its place."""
    path = result_path(out, sub)
    if ended is None:
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            ended = {"kind": "crashed", "text": "the check's process ended without a result"}
    record = new_record(sub, settings, sha256, ended)
    _save(path, record)
    return record


# -------------------------------------------------------------------- page
_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; } h3 { font-size: 1.05em; margin-bottom: .3em; }
table.grades { border-collapse: collapse; font-size: 13px; }
table.grades th, table.grades td { border: 1px solid #bbb; padding: .25em .5em; text-align: left; vertical-align: top; }
table.grades th { background: #f2f2f2; position: sticky; top: 0; }
td.file { white-space: nowrap; } td.score { text-align: right; font-weight: 600; white-space: nowrap; }
td.note { color: #444; min-width: 24em; max-width: 40em; }
.right { background: #cfe2f3; } .wrong { background: #f9cb9c; font-weight: 600; }
.timeout { background: #fff2a8; font-weight: 600; } .missing { background: #e6e6e6; color: #555; }
td.right, td.wrong, td.timeout, td.missing { white-space: nowrap; }
.legend span { display: inline-block; padding: .1em .6em; margin-right: .5em; border: 1px solid #bbb; }
section.function { max-width: 60em; } ul.mistakes { margin-top: .2em; } ul.mistakes li { margin-bottom: .3em; }
.count { font-weight: 600; } .why { color: #444; } .hint { font-style: italic; color: #444; }
details { margin: .2em 0; } details pre { background: #f7f7f7; padding: .5em; white-space: pre-wrap; font-size: 12px; }
"""
# colour-blind safe (blue / orange / yellow / grey, no red against green), and the word in every cell
_MARK = {"right": "✓ right", "wrong": "✗ wrong", "timeout": "◔ timeout", "missing": "– missing"}


def _folder(rows):
    """The folder every row's file is in (shown once above the table), or ""."""
    try:
        folder = os.path.commonpath([os.path.dirname(r["file"]) or "." for r in rows]) if rows else ""
    except ValueError:  # absolute and relative paths mixed
        return ""
    return "" if folder in (".", os.sep) else folder


def _short(file, folder):
    return os.path.relpath(file, folder) if folder else file


def report_html(grading):
    """The class's page: self-contained (inline CSS, no script), every text from a student's file escaped."""
    e = html.escape
    names, rows, n = grading.names, grading.rows, len(grading.rows)
    state = (f"{n} of {grading.total} submissions graded (interrupted: rerun the same command to grade the rest)"
             if n < grading.total else f"{n} submission{'s' if n != 1 else ''}")
    folder = _folder(rows)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>scratchnn grade: {e(state)}</title><style>{_CSS}</style></head><body>",
             f"<h1>scratchnn grade: {e(state)}</h1>",
             f"<p>{e(grading.against().capitalize())}; {e(_settings_text(grading.settings))}"
             + (f"; the files are in {e(folder)}" if folder else "")
             + f". Written {e(time.strftime('%Y-%m-%d %H:%M'))}.</p>",
             '<p class="legend">' + "".join(f'<span class="{g}">{e(_MARK[g])}</span>' for g in GRADES) + "</p>",
             "<h2>The class</h2>", '<table class="grades"><thead><tr><th>file</th>'
             + "".join(f"<th>{e(name)}</th>" for name in names) + "<th>score</th><th>note</th></tr></thead><tbody>"]
    for row in rows:
        cells = "".join(f'<td class="{row[name]}">{e(_MARK[row[name]])}</td>' for name in names)
        parts.append(f'<tr><td class="file" title="{e(row["file"])}">{e(_short(row["file"], folder))}</td>{cells}'
                     f'<td class="score">{row["score"]} / {row["out_of"]}</td><td class="note">{e(row["note"])}</td></tr>')
    parts.append("</tbody></table>")
    parts.append("<h2>What the class got wrong</h2>")
    counts = mistake_counts(grading.records, names)
    present, absent = _present(names, rows)
    if absent:
        parts.append(f"<p>In no submission: {e(', '.join(absent))}.</p>")
    for name in present:
        parts.append(f'<section class="function"><h3>{e(_tally(name, rows))}</h3>')
        if counts[name]:
            parts.append('<ul class="mistakes">' + "".join(
                f'<li><span class="count">{count} of {n}</span>: {e(mistake)}. <span class="why">{e(why)}</span></li>'
                for count, mistake, why, _ in counts[name]) + "</ul>")
        parts.append(f'<p class="hint">First hint: {e(HINTS[name][0])}</p></section>')
    parts.append("<h2>Each submission</h2>")
    for record, row in zip(grading.records, rows):
        text = [row["note"]] if row["note"] else []
        for fn in record["functions"].values():
            text += [fn["verdict"]] + ["    " + line for line in fn["details"]]
        parts.append(f"<details><summary>{e(_short(row['file'], folder))}: {row['score']} of {row['out_of']} right"
                     f"</summary><pre>{e(chr(10).join(text) or 'nothing checked')}</pre></details>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _present(names, rows):
    """``(present, absent)``: the functions some submission has (right, wrong or timed out), and the others."""
    present = [name for name in names if any(r[name] != "missing" for r in rows)]
    return present or list(names), [name for name in names if name not in present]


def _tally(name, rows, width=0):
    """``backward: 25 of 30 right (3 wrong, 2 missing)``."""
    n = len(rows)
    others = [f"{sum(r[name] == g for r in rows)} {g}" for g in GRADES[1:] if any(r[name] == g for r in rows)]
    return f"{name + ':':<{width}} {sum(r[name] == 'right' for r in rows)} of {n} right" + (
        f" ({', '.join(others)})" if others else "")


def _settings_text(settings):
    only = "every function" if settings["only"] is None else ", ".join(settings["only"])
    return f"{only}; {settings['timeout']:g} s per function"
