r"""The exercise checker: run a student's functions on the cases, compare, name the mistake.

For every function found, each case gives one :class:`~scratchnn.teaching.compare.Comparison`
(the student's answer against the reference, quantity by quantity and layer by
layer). A function is right when every quantity of every case is close, it
raised nothing and it left its inputs alone. A wrong one is diagnosed: the worst
entry (index, yours, expected), every known mistake of :mod:`.mistakes` whose
code gives the student's answer on every case, and, when it calls other functions
the student wrote that are wrong, whether those explain it (blame follows
dependencies: ``backward is wrong because output_delta is``).

The student's code runs in a child process (:mod:`.isolation`), one per function,
with a time limit: an endless loop, ``sys.exit``, a crash or a flood of prints
costs only that function's verdict. The references, the comparisons and the
diagnosis run in the checker's own process.
"""

import builtins
import importlib.machinery
import importlib.util
import os
import sys
import traceback
import types

import numpy as np

from ..compare import Comparison, compare_arrays
from . import calls as _calls
from . import isolation
from . import mistakes as _mistakes
from . import reference as _engine
from .calls import EXERCISES, NAMES, NOT_COMPUTED, NOT_RETURNED, Foreign, Missing
from .cases import SEED, STEPS, make_cases

MATCH_RTOL = 1e-6  # a mistake's code and the student's compute one formula in two orders: ~1e-15 apart


# A reference's answers, kept for the life of the process: the cases are the same on every check (make_cases()
# draws from a fixed seed), so a class graded, or a notebook checked cell by cell, computes each answer once.
# Key: (the reference's NAME, the quantity, the case's seed and number). Nobody writes into these arrays: the
# student's functions get copies of their inputs, and the comparisons only read.
_ANSWERS = {}


class _Reference:
    """A reference module (engine or torch): each of its answers for a case (``forward_backward``,
    ``numerical_gradient``, ``adam``, ``batchnorm``, ...) computed once per process and kept."""

    def __init__(self, module):
        self.module = module
        self.name = module.NAME
        self.short = module.SHORT

    def __getattr__(self, quantity):
        compute = getattr(self.module, quantity)

        def answer(case):
            key = (self.name, quantity, case.seed, case.number)
            if key not in _ANSWERS:
                _ANSWERS[key] = compute(case)
            return _ANSWERS[key]

        return answer


def _choose_reference(reference):
    """``(reference, header)``: torch when ``reference`` is None and torch imports, else scratchnn's engine."""
    if reference not in (None, "torch", "scratchnn"):
        raise ValueError(f"reference: expected None, 'torch' or 'scratchnn', got {reference!r}")
    nets = f"{len(make_cases())} random tanh nets (and their layers' arrays), float64 (numpy seed {SEED})"
    if reference in (None, "torch"):
        try:
            from . import torch_reference
        except ImportError:
            if reference == "torch":
                raise ImportError("reference='torch': torch is not installed") from None
        else:
            return _Reference(torch_reference), f"Checking against {torch_reference.NAME} on {nets}."
    why = "torch is not installed: " if reference is None else ""
    return _Reference(_engine), f"{why}Checking against {_engine.NAME} on {nets}."


# ------------------------------------------------------------ one function
class FunctionResult:
    """The check of one function: ``name``, ``passed``, ``status``, per case ``outcomes``, ``comparisons``
    and ``expected`` (the cases run: all of them, unless the function timed out or crashed, see ``ended``),
    ``wrong`` (the numbers of the cases it got wrong), ``mistakes`` (``(Mistake, how)`` pairs), ``blame``
    (the student's other functions that explain its error), ``printed`` (what it printed)."""

    def __init__(self, exercise, cases, outcomes, comparisons, expected, reference_short, printed=None, ended=None):
        self.exercise = exercise
        self.name = exercise.name
        self.word = exercise.word  # "net", or "case" for the exercises on one layer's arrays
        self.cases = cases
        self.outcomes = outcomes
        self.comparisons = comparisons
        self.expected = expected
        self.mistakes = []
        self.blame = []
        self.reference_short = reference_short
        self.printed = printed
        self.ended = ended
        run = cases[: len(outcomes)]
        self.wrong = [c.number for c, o, cmp in zip(run, outcomes, comparisons) if not _case_ok(o, cmp)]
        self.passed = not self.wrong and ended is None
        # the exercise notebooks start each function as `raise NotImplementedError("your code here")`
        self.not_written = (ended is None and bool(outcomes)
                            and all(o.raised is not None and o.raised.type == "NotImplementedError" for o in outcomes))

    @property
    def status(self):
        """``right``, ``wrong``, ``timeout``, ``crashed`` or ``not written``: the word a grade table shows."""
        if self.passed:
            return "right"
        if self.ended is not None:
            return self.ended.kind
        if self.not_written:
            return "not written"
        return "wrong"

    @property
    def verdict(self):
        """One line: right, not written, did not return, crashed, or WRONG with the mistakes found."""
        if self.passed:
            return f"{self.name}: right on all {len(self.cases)} {self.word}s"
        if self.not_written:
            return f"{self.name}: not written yet"
        if self.ended is not None and self.ended.kind == "timeout":
            return f"{self.name}: {self.ended.text}"
        if self.ended is not None:
            return f"{self.name}: CRASHED: {self.ended.text}"
        named = [m.why.split(";")[0] + "; compute in float64" if m is _mistakes.RETURNS_FLOAT32 else m.name
                 for m, _ in self.mistakes]
        text = f"{self.name}: WRONG" + (f": {', '.join(named)}" if named else "")
        if self.blame:
            text += f" (because {_and(self.blame)} {'is' if len(self.blame) == 1 else 'are'} wrong)"
        return text

    def _shown_index(self):
        """The case whose table is printed: the first with wrong values, else the first wrong one, else the first."""
        run = range(len(self.outcomes))
        wrong = [k for k in run if not _case_ok(self.outcomes[k], self.comparisons[k])]
        values = [k for k in wrong if self.outcomes[k].raised is None and not self.outcomes[k].problems]
        return (values or wrong or [0])[0]

    def _shown(self):
        k = self._shown_index()
        return self.cases[k], self.outcomes[k], self.comparisons[k]

    def table(self):
        """The shown case's comparison table (optimizer steps: the first, the last, the first wrong one and
        the one with the worst entry)."""
        if not self.outcomes:
            return ""
        case, outcome, comparison = self._shown()
        rows = comparison.rows
        if any(r.key[2] is not None for r in rows):  # optimizer steps
            wrong_steps = [r.key[2] for r in rows if not r.close]
            worst = _worst(comparison)
            steps = {1, STEPS} | set(wrong_steps[:1]) | ({worst.key[2]} if worst is not None else set())
            rows = [r for r in rows if r.key[2] in steps]
        if all(r.note in (NOT_COMPUTED.note, NOT_RETURNED.note) for r in rows):
            return ""
        return str(Comparison(rows, mine="yours", ref=self.reference_short))

    def details(self):
        """The lines under the verdict: where it went wrong, and why, as far as the checker can tell."""
        printed = self.printed.describe() if self.printed is not None else []
        if self.passed:
            return printed
        if self.not_written:
            return ["it raises NotImplementedError: replace that line with your code."] + printed
        lines = []
        if self.ended is not None:
            k = len(self.outcomes) + 1
            if self.ended.kind == "timeout":
                lines.append(f"on {self.word} {k} it was stopped at {self.ended.where}" if self.ended.where
                             else f"on {self.word} {k} it was stopped (not in your code: where, it cannot tell)")
            else:
                lines.append(f"it happened on {self.word} {k}.")
        if self.blame:
            lines.append(f"{self.name} is wrong because {_and(self.blame)} {'is' if len(self.blame) == 1 else 'are'}"
                         f": fix that first.")
        if self.outcomes:
            lines += self._nets()
            lines += self._shown_lines()
        for m, how in self.mistakes:
            lines.append(f"known mistake: {m.name}{how}. {m.why}")
        if not self.mistakes and not self.blame and self.ended is None:
            lines.append("no known mistake matches.")
        lines.append(f'hint("{self.name}") gives a hint; hint("{self.name}", level=2) more.')
        return lines + printed

    def _nets(self):
        """How it did net by net: ``raised on nets 1–3; on net 4 it returned wrong values (max rel diff 0.88).``"""
        run = len(self.outcomes)
        total = len(self.cases)
        kinds = {}
        for case, o, cmp in zip(self.cases, self.outcomes, self.comparisons):
            if _case_ok(o, cmp):
                kind = "right"
            elif o.raised is not None:
                kind = "raised"
            else:
                kind = "wrong"
            kinds.setdefault(kind, []).append(case.number)
        if not self.wrong:
            return [f"right on {self.word}{_s(kinds['right'])} {_numbers(kinds['right'])} before that."]
        if set(kinds) == {"wrong"} and run == total:
            return [f"wrong on all {total} {self.word}s."]
        if set(kinds) == {"raised"} and run == total:
            return [f"raised on all {total} {self.word}s."]
        parts = []
        if "raised" in kinds:
            parts.append(f"raised on {self.word}{_s(kinds['raised'])} {_numbers(kinds['raised'])}")
        if "wrong" in kinds:
            worst = [r.max_rel for k, cmp in enumerate(self.comparisons) if self.cases[k].number in kinds["wrong"]
                     for r in cmp.failures() if r.worst is not None]
            rel = f" (max rel diff {max(worst):.2g})" if worst else ""
            verb = "it returned wrong values" if "raised" in kinds else "wrong"
            parts.append(f"on {self.word}{_s(kinds['wrong'])} {_numbers(kinds['wrong'])} {verb}{rel}")
        if "right" in kinds:
            parts.append(f"right on {self.word}{_s(kinds['right'])} {_numbers(kinds['right'])}")
        return ["; ".join(parts) + "."]

    def _shown_lines(self):
        lines = []
        raised = next(((c, o) for c, o in zip(self.cases, self.outcomes) if o.raised is not None), None)
        if raised is not None:
            case, outcome = raised
            lines.append(f"on {self.word} {case.number} it {outcome.raised.describe()}")
            if outcome.raised.where:
                lines.append(f"  at {outcome.raised.where}")
        case, outcome, comparison = self._shown()
        if outcome.raised is None:
            lines += [f"on {self.word} {case.number}: {p}" for p in outcome.problems]
        for name in outcome.modified:
            lines.append(f"on {self.word} {case.number} it changed an argument in place: {outcome.changes.get(name, name)}")
        worst = _worst(comparison)
        if worst is not None and outcome.raised is None:
            where = _where(worst)
            if worst.worst is not None:
                lines.append(f"worst on {self.word} {case.number}: {where}, entry {worst.worst}: yours {worst.mine_at:.6g}, "
                             f"expected {worst.ref_at:.6g} (max rel diff {worst.max_rel:.2e})")
            else:
                lines.append(f"worst on {self.word} {case.number}: {where}: {worst.note}")
        return lines

    def __str__(self):
        parts = [self.exercise.header()]
        if self.outcomes:
            case, _, _ = self._shown()
            parts.append(self.exercise.describe(case))
        elif self.ended is not None:
            parts.append(self.exercise.describe(self.cases[len(self.outcomes)]))
        table = self.table()
        if table:
            parts.append(table)
        parts.append(self.verdict + ("." if self.passed else ""))
        parts += ["  " + line for line in self.details()]
        return "\n".join(parts)

    __repr__ = __str__


def _s(numbers):
    return "s" if len(numbers) > 1 else ""


def _numbers(numbers):
    """``1–3, 5``: case numbers, runs of three or more as a range."""
    runs, start = [], None
    for k, n in enumerate(numbers):
        if start is None:
            start = n
        if k + 1 == len(numbers) or numbers[k + 1] != n + 1:
            runs.append(str(start) if n == start else f"{start}–{n}" if n > start + 1 else f"{start}, {n}")
            start = None
    return ", ".join(runs)


def _and(names):
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _where(row):
    """``D^1``, or ``theta^0 (step 3)`` for an optimizer's row, or ``dgamma`` for a quantity of no layer."""
    name, j, k = row.key
    return name + ("" if j is None else f"^{j}") + ("" if k is None else f" (step {k})")


def _case_ok(outcome, comparison):
    return outcome.raised is None and not outcome.problems and not outcome.modified and comparison.ok


def _worst(comparison):
    """The failing row to point at: one whose shape or type is wrong first, else the largest max rel diff."""
    failures = comparison.failures()
    noted = [r for r in failures if r.worst is None and r.note != NOT_COMPUTED.note]
    if noted:
        return noted[0]
    measured = [r for r in failures if r.worst is not None]
    return max(measured, key=lambda r: r.max_rel) if measured else None


def _label(key):
    name, _, k = key
    return name if k is None else f"{name} (step {k})"


def _compare(exercise, outcome, expected):
    rows = []
    for key, ref in expected.items():
        value = outcome.values.get(key, NOT_COMPUTED)
        row = compare_arrays(_label(key), key[1], value, ref, rtol=exercise.rtol)
        if isinstance(value, Missing):
            row.note = value.note
        elif isinstance(value, Foreign):
            row.note = f"got {value.type}, expected an array of shape {row.shape}"
        row.key = key  # (quantity, j, k): the table picks optimizer steps by k
        rows.append(row)
    return Comparison(rows, mine="yours")


def _run(exercise, make_fn, cases, inputs, timeout):
    """Run the function ``make_fn()`` returns as ``exercise`` on every case: ``(outcomes, printed, ended)``.

    ``make_fn`` is called where the function runs: in a child process (:mod:`.isolation`) that ends
    with it, or here when this system cannot fork (then ``printed`` and ``ended`` are None).
    """
    if not isolation.available():
        fn = make_fn()
        return [exercise.call(fn, c, x) for c, x in zip(cases, inputs)], None, None

    def job(send):
        _calls.CAUGHT = BaseException  # in the child, sys.exit and KeyboardInterrupt are the student's too
        _calls.guard(builtins, np)
        try:
            fn = make_fn()
        except BaseException as exc:  # a file that imported once may not the second time
            send(("load failed", traceback.format_exception_only(type(exc), exc)[-1].strip()))
            return
        for case, x in zip(cases, inputs):
            send(exercise.call(fn, case, x).portable())

    done = isolation.run(job, timeout)
    if done.failed is not None:
        raise RuntimeError(f"the checker failed while it ran {exercise.name}:\n{done.failed}")
    outcomes = [m for m in done.messages if isinstance(m, _calls.Outcome)]
    ended = done.ended
    load_failed = [m[1] for m in done.messages if isinstance(m, tuple)]
    if load_failed:
        ended = isolation.Ended("crashed", f"its file did not import again: {load_failed[0]}")
    return outcomes, done.printed, ended


def check_function(name, source, cases, reference, engine, timeout=None):
    """Check the function ``name`` of ``source`` on ``cases``; inputs from ``engine``, answers from ``reference``."""
    exercise = EXERCISES[name]
    inputs = [engine.forward_backward(c) for c in cases]
    expected = [exercise.expected(reference, c) for c in cases]
    outcomes, printed, ended = _run(exercise, lambda: source.load()[name], cases, inputs, _timeout(timeout))
    comparisons = [_compare(exercise, o, e) for o, e in zip(outcomes, expected)]
    result = FunctionResult(exercise, cases, outcomes, comparisons, expected, reference.short, printed, ended)
    if not result.passed and not result.not_written and ended is None:
        result.mistakes = diagnose(exercise, cases, inputs, expected, outcomes)
    return result


def _blame(result, source, checked, check_quietly, engine, timeout):
    """The student's functions that ``result``'s function calls, are wrong, and explain its answer: a list."""
    deps = [d for d in _mistakes.DEPENDS.get(result.name, ()) if d in source.names]
    wrong = [d for d in deps if not (checked.get(d) or check_quietly(d)).passed]
    if not wrong or result.ended is not None:
        return []
    exercise, cases = result.exercise, result.cases
    inputs = [engine.forward_backward(c) for c in cases]
    for suspects in [wrong] + ([[d] for d in wrong] if len(wrong) > 1 else []):
        def make_fn(suspects=suspects):
            functions = source.load()
            return _mistakes.composed(result.name, {d: functions[d] for d in suspects})

        theirs, _, ended = _run(exercise, make_fn, cases, inputs, timeout)
        if ended is None and _outcomes_agree(result.outcomes, theirs):
            return suspects
    return []


def _outcomes_agree(mine, theirs):
    """Whether two runs of the cases raised alike and returned the same values up to rounding."""
    if len(mine) != len(theirs):
        return False
    for a, b in zip(mine, theirs):
        if (a.raised is None) != (b.raised is None) or (a.raised is not None and a.raised.type != b.raised.type):
            return False
        if a.problems != b.problems or set(a.values) != set(b.values):
            return False
        for key, value in a.values.items():
            other = b.values[key]
            if isinstance(value, Missing) or isinstance(other, Missing):
                if value is not other:
                    return False
            elif not _same(value, other):
                return False
    return True


# ---------------------------------------------------------------- diagnosis
def _same(x, y):
    """Whether ``x`` is ``y`` up to rounding: same shape, NaN and inf in the same places, the rest within MATCH_RTOL."""
    if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)) or x.shape != y.shape:
        return False
    if not (np.issubdtype(x.dtype, np.floating) and np.issubdtype(y.dtype, np.floating)):
        return False
    finite = np.isfinite(y)
    if not np.array_equal(np.isfinite(x), finite) or not np.array_equal(x[~finite], y[~finite], equal_nan=True):
        return False
    if not finite.any():
        return True
    return float(np.max(np.abs(x[finite] - y[finite]))) <= MATCH_RTOL * float(np.max(np.abs(y[finite])))


def _variant_matches(exercise, variant, mistake, cases, inputs, expected, outcomes):
    """Whether ``variant`` gives what the student's function gave on every case, and is wrong on one."""
    wrong_somewhere = False
    for case, x, exp, mine in zip(cases, inputs, expected, outcomes):
        if mine.problems:
            return False
        theirs = exercise.call(variant, case, x)
        if (mine.raised is None) != (theirs.raised is None):
            return False
        if mine.raised is not None:
            if mine.raised.type != theirs.raised.type:
                return False
            if mistake.same_message and mine.raised.text != theirs.raised.text:
                return False
            wrong_somewhere = True
        for key in exp:
            if mistake.only is not None and key[0] not in mistake.only:
                continue
            if (key in mine.values) != (key in theirs.values):
                return False
            if key in theirs.values:
                if not _same(mine.values[key], theirs.values[key]):
                    return False
                wrong_somewhere |= not _same(theirs.values[key], exp[key])
    return wrong_somewhere


def _shape_matches(mistake, cases, expected, outcomes):
    """Whether every returned array whose shape the mistake changes has the shape the mistake gives it."""
    seen = 0
    for case, exp, mine in zip(cases, expected, outcomes):
        for key, ref in exp.items():
            shape = mistake.shape(case, key)
            value = mine.values.get(key)
            if shape is None or tuple(shape) == ref.shape or not isinstance(value, np.ndarray):
                continue
            if value.shape != tuple(shape):
                return False
            seen += 1
    return seen > 0


def _answers(expected, outcomes):
    """``[(yours, reference), ...]`` over every quantity of every case, or None when a case raised, came back
    of the wrong kind, or a quantity is not an array of the reference's shape."""
    pairs = []
    for exp, mine in zip(expected, outcomes):
        if mine.raised is not None or mine.problems:
            return None
        for key, ref in exp.items():
            value = mine.values.get(key)
            if not isinstance(value, np.ndarray) or value.shape != ref.shape:
                return None
            pairs.append((value, ref))
    return pairs


def _only_the_bias_column(exercise, expected, outcomes):
    """Whether every wrong answer shaped like theta is wrong in column 0 only (the weights right), on every case."""
    pairs = _answers(expected, outcomes)
    if pairs is None or any(ref.ndim != 2 or ref.shape[1] < 2 for _, ref in pairs):
        return False
    rtol = exercise.rtol or 1e-10
    seen = False
    for value, ref in pairs:
        scale = float(np.max(np.abs(ref))) or 1.0
        if np.max(np.abs(value[:, 1:] - ref[:, 1:])) > rtol * scale:
            return False
        seen |= bool(np.max(np.abs(value[:, 0] - ref[:, 0])) > rtol * scale)
    return seen


def diagnose(exercise, cases, inputs, expected, outcomes):
    """The known mistakes the student's outcomes show: a list of ``(Mistake, how)``."""
    found = []
    modified = {name for o in outcomes for name in o.modified}
    if exercise.name == "numerical_gradient" and "theta" in modified:
        found.append((_mistakes.THETA_NOT_RESTORED, ""))
        modified.discard("theta")
    if modified:
        found.append((_mistakes.INPUT_MODIFIED, f" ({', '.join(sorted(modified))})"))
    if any(isinstance(v, np.ndarray) and v.dtype == np.float32 for o in outcomes for v in o.values.values()):
        found.append((_mistakes.RETURNS_FLOAT32, ""))
    for mistake in _mistakes.MISTAKES[exercise.name]:
        if any(_variant_matches(exercise, v, mistake, cases, inputs, expected, outcomes) for v in mistake.variants):
            how = "" if mistake.explain is None else f" (on {exercise.word} 1: {mistake.explain(cases[0])})"
            found.append((mistake, how))
        elif mistake.shape is not None and _shape_matches(mistake, cases, expected, outcomes):
            found.append((mistake, " (the shapes show it; the values differ as well)"))
    named = [m for m, _ in found if m is not _mistakes.INPUT_MODIFIED]
    if not named and _only_the_bias_column(exercise, expected, outcomes):
        found.append((_mistakes.BIAS_COLUMN_WRONG, ""))
    elif not named and _float32_precision(expected, outcomes):
        found.append((_mistakes.FLOAT32_PRECISION, ""))
    return found


FLOAT32_DIGITS = (1e-9, 1e-5)  # max rel diffs of float64 results that went through float32: ~6e-8, amplified


def _float32_precision(expected, outcomes):
    """Whether every answer is float64 and off by a relative 1e-9 to 1e-5 (float32's rounding), none further."""
    pairs = _answers(expected, outcomes)
    if pairs is None or any(value.dtype != np.float64 for value, _ in pairs):
        return False
    low, high = FLOAT32_DIGITS
    seen = False
    for value, ref in pairs:
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
        rel = float(np.max(np.abs(value - ref))) / scale if scale else 0.0
        if rel >= high:
            return False
        seen |= rel > low
    return seen


# ------------------------------------------------------------------- report
class Report:
    """The result of :func:`check`: ``passed``, ``results`` (name -> :class:`FunctionResult`), ``header``;
    ``error`` (why a file could not be checked), ``stopped`` (a Ctrl-C ended the check early), ``planned``
    (the names it set out to check).

    ``str()`` is the full text (tables, verdicts, diagnoses, a summary line);
    the repr, which a notebook shows, is the summary: one verdict per function.
    """

    def __init__(self, header, results, error=None, stopped=False, planned=None):
        self.header = header
        self.results = results
        self.error = error
        self.stopped = stopped
        self.planned = list(results) if planned is None else list(planned)
        self.passed = error is None and not stopped and all(r.passed for r in results.values())

    def summary(self):
        """``check: 7 of 8 functions right; wrong: backward`` (the last line of the CLI)."""
        right = sum(r.passed for r in self.results.values())
        n = len(self.planned)
        text = f"check: {right} of {n} function{'s' if n > 1 else ''} right"
        for word, status in (("wrong", ("wrong", "not written")), ("timed out", ("timeout",)),
                             ("crashed", ("crashed",))):
            names = [name for name, r in self.results.items() if r.status in status]
            if names:
                text += f"; {word}: {', '.join(names)}"
        if self.stopped:
            left = [name for name in self.planned if name not in self.results]
            text += f"; stopped (Ctrl-C) before {', '.join(left)}" if left else "; stopped (Ctrl-C)"
        return text

    def __str__(self):
        return "\n\n".join([self.header] + [str(r) for r in self.results.values()] + [self.summary()])

    def __repr__(self):
        return "\n".join([self.summary()] + ["  " + r.verdict for r in self.results.values()])


# ------------------------------------------------------------------- entry
def find_functions(functions):
    """name -> function for every exercise among ``functions`` (functions, modules, dicts such as globals())."""
    found = {}
    for item in functions:
        if isinstance(item, types.ModuleType):
            item = vars(item)
        if isinstance(item, dict):
            found.update({name: item[name] for name in NAMES if callable(item.get(name))})
        elif callable(item) and getattr(item, "__name__", None) in NAMES:
            found[item.__name__] = item
        elif callable(item):
            raise TypeError(f"functions: {getattr(item, '__name__', item)!r} is not an exercise; expected functions "
                            f"named {', '.join(NAMES)}")
        else:
            raise TypeError(f"functions: expected exercise functions, a module or a dict such as globals(), "
                            f"got {type(item).__name__}")
    return {name: found[name] for name in NAMES if name in found}


class _Functions:
    """Functions of this process (a notebook's): the ones given, and the exercises they can call (their globals)."""

    def __init__(self, found):
        self.functions = dict(found)
        for fn in found.values():
            for name, other in vars_of(fn).items():
                if name in NAMES and name not in self.functions and isinstance(other, types.FunctionType):
                    self.functions[name] = other
        self.names = list(self.functions)

    def load(self):
        return self.functions


def vars_of(fn):
    g = getattr(fn, "__globals__", None)
    return g if isinstance(g, dict) else {}


class _File:
    """The functions a Python file defines; ``load()`` imports it (in the child process that runs them)."""

    def __init__(self, path, names):
        self.path = path
        self.names = list(names)

    def load(self):
        module, error = import_file(self.path)
        if error:
            raise ImportError(error)
        return find_functions([module])


TIMEOUT = 10.0  # seconds a student's function may take, on all the nets together


def _timeout(timeout):
    if timeout is None:
        return TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout: expected a number of seconds > 0, got {timeout!r}")
    return float(timeout)


def _only(only, found):
    if only is None:
        return list(found)
    only = [only] if isinstance(only, str) else list(only)
    unknown = [name for name in only if name not in NAMES]
    if unknown:
        raise ValueError(f"only: unknown exercise {unknown[0]!r}; expected one of {', '.join(NAMES)}")
    return [name for name in NAMES if name in only]


def _check_source(source, names, reference, quiet, timeout):
    """Check ``names`` of ``source`` one by one, printing each verdict as it comes unless ``quiet``.

    ``reference``: what :func:`_choose_reference` returned.
    """
    reference, header = reference
    if not isolation.available():
        header += " (This system cannot fork: your functions run in the checker's process, without a time limit.)"
    engine = reference if reference.module is _engine else _Reference(_engine)
    cases = make_cases()
    results, quietly = {}, {}

    def check_quietly(name):
        if name not in quietly:
            quietly[name] = check_function(name, source, cases, reference, engine, timeout)
        return quietly[name]

    if not quiet:
        print(header + "\n", flush=True)
    try:
        for name in names:
            result = check_function(name, source, cases, reference, engine, timeout)
            if not result.passed and not result.not_written:
                result.blame = _blame(result, source, results, check_quietly, engine, timeout)
            results[name] = result
            if not quiet:
                print(str(result) + "\n", flush=True)
    except KeyboardInterrupt:  # the child, if one ran, is gone; keep the verdicts so far
        return Report(header, results, stopped=True, planned=names)
    return Report(header, results, planned=names)


def check(*functions, only=None, reference=None, quiet=False, timeout=TIMEOUT):
    """Check exercise functions against torch (or scratchnn's engine without torch) and print why they are wrong.

    ``functions``: the functions themselves (recognized by name: forward, output_delta, layer_gradient,
    hidden_delta, backward, numerical_gradient, sgd_momentum_step, adam_step), a module, or a dict such
    as ``globals()``. ``only``: a name or a list of names to check (default: every one found).
    ``reference``: None (torch if installed, else scratchnn's engine), ``"torch"`` or ``"scratchnn"``.
    ``timeout``: the seconds each function may take on all the nets (default 10); one that takes longer
    is stopped and reported with the line it was running. Each function runs in a child process, so an
    endless loop, ``sys.exit`` or a crash in it costs only its own verdict; what it prints is shown
    after the verdict. Prints, per function as it is checked, the comparison table of one net, the
    verdict and the diagnosis (unless ``quiet``), and returns a :class:`Report`.
    """
    found = find_functions(functions)
    names = _only(only, found)
    missing = [name for name in names if name not in found]
    if missing:
        raise ValueError(f"only: no function named {missing[0]!r} among the functions given")
    if not found:
        raise ValueError(f"functions: none of the exercise functions found; expected functions named "
                         f"{', '.join(NAMES)}")
    timeout = _timeout(timeout)
    return _check_source(_Functions(found), names, _choose_reference(reference), quiet, timeout)


# --------------------------------------------------------------------- file
EXIT_RIGHT, EXIT_WRONG, EXIT_UNUSABLE, EXIT_STOPPED = 0, 1, 2, 130


def import_file(path):
    """Import the Python file at ``path`` as a module, its folder on sys.path while it runs.

    Returns ``(module, None)``, or ``(None, message)`` with the traceback's last line.
    """
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        return None, f"no such file: {path}"
    folder = os.path.dirname(path)
    name = "scratchnn_check_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    loader = importlib.machinery.SourceFileLoader(name, path)
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:  # whatever the file raises while it runs
        sys.modules.pop(name, None)
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
        if isinstance(exc, SyntaxError) and exc.lineno is not None:
            lines.append(exc.lineno)
        where = f" (line {lines[-1]})" if lines else ""
        return None, f"cannot import {os.path.basename(path)}{where}:\n{last}"
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module, None


def _names_in_file(path, timeout):
    """``(names, None)``: the exercise functions the file defines, imported in a child; or ``(None, why not)``."""
    if not isolation.available():
        module, error = import_file(path)
        return (None, error) if error else (list(find_functions([module])), None)

    def job(send):
        module, error = import_file(path)
        send(("error", error) if error else ("names", list(find_functions([module]))))

    done = isolation.run(job, timeout)
    if done.failed is not None:
        raise RuntimeError(f"the checker failed while it imported {path}:\n{done.failed}")
    base = os.path.basename(path)
    if done.ended is not None:
        where = f" ({done.ended.where})" if done.ended.where else ""
        text = done.ended.text.replace("did not return", "did not finish importing")
        return None, f"cannot import {base}{where}: {text}"
    kind, value = done.messages[0]
    if kind == "error":
        return None, value + "".join("\n" + line for line in done.printed.describe())
    return value, None


def check_file(path, only=None, reference=None, timeout=TIMEOUT, quiet=True):
    """Check the exercise functions the Python file at ``path`` defines; returns a :class:`Report`.

    The file is imported in a child process (and again in each function's), never in this one.
    ``report.error`` is None, or says why the file cannot be checked (it does not import, or defines
    none of the functions, or none of those in ``only``); then ``report.results`` is empty. Unless
    ``quiet``, prints the header and each function's report as it is checked.
    """
    timeout = _timeout(timeout)
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        return Report("", {}, error=f"no such file: {path}")
    # torch first, here: a file that imports torch (or torchref) then finds it imported, and its import is
    # not timed by the seconds meant for the student's own code
    reference = _choose_reference(reference)
    found, error = _names_in_file(path, timeout)
    if error:
        return Report("", {}, error=error)
    names = _only(only, found)
    absent = [name for name in names if name not in found]
    if absent:
        return Report("", {}, error=f"{os.path.basename(path)} defines no function {absent[0]}")
    if not found:
        return Report("", {}, error=f"{os.path.basename(path)} defines none of the functions it looks for: "
                                    f"{', '.join(NAMES)}")
    return _check_source(_File(path, found), names, reference, quiet, timeout)


def run_file(path, only=None, reference=None, timeout=TIMEOUT):
    """``scratchnn check FILE``: check the functions FILE defines, printing each verdict as it comes;
    returns the exit status (0 all right, 1 one wrong or timed out, 2 FILE unusable, 130 Ctrl-C)."""
    report = check_file(path, only=only, reference=reference, timeout=timeout, quiet=False)
    if report.error:
        print(f"scratchnn check: {report.error}", file=sys.stderr)
        return EXIT_UNUSABLE
    print(report.summary(), flush=True)
    if report.stopped:
        return EXIT_STOPPED
    return EXIT_RIGHT if report.passed else EXIT_WRONG
