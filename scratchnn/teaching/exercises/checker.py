r"""The exercise checker: run a student's functions on the cases, compare, name the mistake.

For every function found, each case gives one :class:`~scratchnn.teaching.compare.Comparison`
(the student's answer against the reference, quantity by quantity and layer by
layer). A function is right when every quantity of every case is close, it
raised nothing and it left its inputs alone. A wrong one is diagnosed: the worst
entry (index, yours, expected) and every known mistake of :mod:`.mistakes` whose
code gives the student's answer on every case.
"""

import importlib.util
import os
import sys
import traceback
import types

import numpy as np

from ..compare import Comparison, compare_arrays
from . import mistakes as _mistakes
from . import reference as _engine
from .calls import EXERCISES, NAMES, NOT_COMPUTED, NOT_RETURNED, Missing
from .cases import SEED, STEPS, make_cases

MATCH_RTOL = 1e-6  # a mistake's code and the student's compute one formula in two orders: ~1e-15 apart


class _Reference:
    """A reference module (engine or torch) with its forward and backward passes kept per case."""

    def __init__(self, module):
        self.module = module
        self.name = module.NAME
        self.short = module.SHORT
        self._passes = {}

    def forward_backward(self, case):
        if case.number not in self._passes:
            self._passes[case.number] = self.module.forward_backward(case)
        return self._passes[case.number]

    def numerical_gradient(self, case):
        return self.module.numerical_gradient(case)

    def sgd_momentum(self, case):
        return self.module.sgd_momentum(case)

    def adam(self, case):
        return self.module.adam(case)


def _choose_reference(reference):
    """``(reference, header)``: torch when ``reference`` is None and torch imports, else scratchnn's engine."""
    if reference not in (None, "torch", "scratchnn"):
        raise ValueError(f"reference: expected None, 'torch' or 'scratchnn', got {reference!r}")
    nets = f"{len(make_cases())} random tanh nets, float64 (numpy seed {SEED})"
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
    """The check of one function: ``name``, ``passed``, per case ``outcomes`` and ``comparisons``,
    ``wrong`` (the numbers of the cases it got wrong), ``mistakes`` (``(Mistake, how)`` pairs)."""

    def __init__(self, exercise, cases, outcomes, comparisons, mistakes, reference_short):
        self.exercise = exercise
        self.name = exercise.name
        self.cases = cases
        self.outcomes = outcomes
        self.comparisons = comparisons
        self.mistakes = mistakes
        self.reference_short = reference_short
        self.wrong = [c.number for c, o, cmp in zip(cases, outcomes, comparisons) if not _case_ok(o, cmp)]
        self.passed = not self.wrong
        # the exercise notebooks start each function as `raise NotImplementedError("your code here")`
        self.not_written = all(o.raised is not None and o.raised.type == "NotImplementedError" for o in outcomes)

    @property
    def status(self):
        """``right``, ``wrong``, ``timeout``, ``crashed`` or ``not written``: the word a grade table shows."""
        if self.passed:
            return "right"
        if self.not_written:
            return "not written"
        return "wrong"

    @property
    def verdict(self):
        """One line: right, or WRONG with the names of the mistakes found."""
        if self.passed:
            return f"{self.name}: right on all {len(self.cases)} nets"
        if self.not_written:
            return f"{self.name}: not written yet"
        named = f": {', '.join(m.name for m, _ in self.mistakes)}" if self.mistakes else ""
        return f"{self.name}: WRONG{named}"

    def _shown(self):
        """The case whose table is printed: the first one it got wrong, else the first."""
        k = self.wrong[0] - 1 if self.wrong else 0
        return self.cases[k], self.outcomes[k], self.comparisons[k]

    def table(self):
        """The shown case's comparison table (optimizer steps: the first, the last and the first wrong one)."""
        case, outcome, comparison = self._shown()
        rows = comparison.rows
        if any(r.key[2] is not None for r in rows):  # optimizer steps
            wrong_steps = [r.key[2] for r in rows if not r.close]
            steps = {1, STEPS} | set(wrong_steps[:1])
            rows = [r for r in rows if r.key[2] in steps]
        if all(r.note in (NOT_COMPUTED.note, NOT_RETURNED.note) for r in rows):
            return ""
        return str(Comparison(rows, mine="yours", ref=self.reference_short))

    def details(self):
        """The lines under the verdict: where it went wrong, and the known mistakes it matches."""
        if self.passed:
            return []
        if self.not_written:
            return ["it raises NotImplementedError: replace that line with your code."]
        case, outcome, comparison = self._shown()
        total = len(self.cases)
        if len(self.wrong) == total:
            lines = [f"wrong on all {total} nets."]
        else:
            lines = [f"wrong on net{'s' if len(self.wrong) > 1 else ''} {', '.join(map(str, self.wrong))} of {total}."]
        if outcome.raised is not None:
            lines.append(f"on net {case.number} it raised {outcome.raised.text}")
            if outcome.raised.where:
                lines.append(f"  at {outcome.raised.where}")
        lines += [f"on net {case.number}: {p}" for p in outcome.problems]
        if outcome.modified:
            lines.append(f"on net {case.number} it changed its argument{'s' if len(outcome.modified) > 1 else ''} "
                         f"{', '.join(outcome.modified)} in place")
        worst = _worst(comparison)
        if worst is not None:
            where = _where(worst)
            if worst.worst is not None:
                lines.append(f"worst on net {case.number}: {where}, entry {worst.worst}: yours {worst.mine_at:.6g}, "
                             f"expected {worst.ref_at:.6g} (max rel diff {worst.max_rel:.2e})")
            else:
                lines.append(f"worst on net {case.number}: {where}: {worst.note}")
        for m, how in self.mistakes:
            lines.append(f"known mistake: {m.name}{how}. {m.why}")
        if not self.mistakes:
            lines.append("no known mistake matches.")
        lines.append(f'hint("{self.name}") gives a hint; hint("{self.name}", level=2) more.')
        return lines

    def __str__(self):
        case, _, _ = self._shown()
        parts = [self.exercise.header(), case.describe()]
        table = self.table()
        if table:
            parts.append(table)
        parts.append(self.verdict + ("." if self.passed else ""))
        parts += ["  " + line for line in self.details()]
        return "\n".join(parts)

    __repr__ = __str__


def _where(row):
    """``D^1``, or ``theta^0 (step 3)`` for an optimizer's row."""
    name, j, k = row.key
    return f"{name}^{j}" + ("" if k is None else f" (step {k})")


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
        row.key = key  # (quantity, j, k): the table picks optimizer steps by k
        rows.append(row)
    return Comparison(rows, mine="yours")


def check_function(name, fn, cases, reference, engine):
    """Check ``fn`` as the exercise ``name`` on ``cases``; inputs from ``engine``, answers from ``reference``."""
    exercise = EXERCISES[name]
    inputs = [engine.forward_backward(c) for c in cases]
    expected = [exercise.expected(reference, c) for c in cases]
    outcomes = [exercise.call(fn, c, x) for c, x in zip(cases, inputs)]
    comparisons = [_compare(exercise, o, e) for o, e in zip(outcomes, expected)]
    result = FunctionResult(exercise, cases, outcomes, comparisons, [], reference.short)
    if not result.passed and not result.not_written:
        result.mistakes = diagnose(exercise, cases, inputs, expected, outcomes)
    return result


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


def diagnose(exercise, cases, inputs, expected, outcomes):
    """The known mistakes the student's outcomes show: a list of ``(Mistake, how)``."""
    found = []
    modified = {name for o in outcomes for name in o.modified}
    if exercise.name == "numerical_gradient" and "theta" in modified:
        found.append((_mistakes.THETA_NOT_RESTORED, ""))
        modified.discard("theta")
    if modified:
        found.append((_mistakes.INPUT_MODIFIED, f" ({', '.join(sorted(modified))})"))
    for mistake in _mistakes.MISTAKES[exercise.name]:
        if any(_variant_matches(exercise, v, mistake, cases, inputs, expected, outcomes) for v in mistake.variants):
            found.append((mistake, ""))
        elif mistake.shape is not None and _shape_matches(mistake, cases, expected, outcomes):
            found.append((mistake, " (the shapes show it; the values differ as well)"))
    return found


# ------------------------------------------------------------------- report
class Report:
    """The result of :func:`check`: ``passed``, ``results`` (name -> :class:`FunctionResult`), ``header``.

    ``str()`` is the full text (tables, verdicts, diagnoses, a summary line);
    the repr, which a notebook shows, is the summary: one verdict per function.
    """

    def __init__(self, header, results, error=None):
        self.header = header
        self.results = results
        self.error = error
        self.passed = error is None and all(r.passed for r in results.values())

    def summary(self):
        """``check: 7 of 8 functions right; wrong: backward`` (the last line of the CLI)."""
        right = sum(r.passed for r in self.results.values())
        wrong = [name for name, r in self.results.items() if not r.passed]
        text = f"check: {right} of {len(self.results)} function{'s' if len(self.results) > 1 else ''} right"
        return text + (f"; wrong: {', '.join(wrong)}" if wrong else "")

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


def check(*functions, only=None, reference=None, quiet=False):
    """Check exercise functions against torch (or scratchnn's engine without torch) and print why they are wrong.

    ``functions``: the functions themselves (recognized by name: forward, output_delta, layer_gradient,
    hidden_delta, backward, numerical_gradient, sgd_momentum_step, adam_step), a module, or a dict such
    as ``globals()``. ``only``: a name or a list of names to check (default: every one found).
    ``reference``: None (torch if installed, else scratchnn's engine), ``"torch"`` or ``"scratchnn"``.
    Prints, per function, the comparison table of one net, the verdict and the diagnosis (unless
    ``quiet``), and returns a :class:`Report`.
    """
    found = find_functions(functions)
    if only is not None:
        only = [only] if isinstance(only, str) else list(only)
        unknown = [name for name in only if name not in NAMES]
        if unknown:
            raise ValueError(f"only: unknown exercise {unknown[0]!r}; expected one of {', '.join(NAMES)}")
        missing = [name for name in only if name not in found]
        if missing:
            raise ValueError(f"only: no function named {missing[0]!r} among the functions given")
        found = {name: fn for name, fn in found.items() if name in only}
    if not found:
        raise ValueError(f"functions: none of the exercise functions found; expected functions named "
                         f"{', '.join(NAMES)}")
    reference, header = _choose_reference(reference)
    engine = reference if reference.module is _engine else _Reference(_engine)
    cases = make_cases()
    if not quiet:
        print(header + "\n")
    results = {}
    for name, fn in found.items():
        results[name] = check_function(name, fn, cases, reference, engine)
        if not quiet:
            print(str(results[name]) + "\n")
    return Report(header, results)


# --------------------------------------------------------------------- file
EXIT_RIGHT, EXIT_WRONG, EXIT_UNUSABLE = 0, 1, 2


def import_file(path):
    """Import the Python file at ``path`` as a module, its folder on sys.path while it runs.

    Returns ``(module, None)``, or ``(None, message)`` with the traceback's last line.
    """
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        return None, f"no such file: {path}"
    folder = os.path.dirname(path)
    name = "scratchnn_check_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # whatever the file raises while it runs
        sys.modules.pop(name, None)
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
        if isinstance(exc, SyntaxError) and exc.lineno is not None:
            lines.append(exc.lineno)
        where = f" (line {lines[-1]})" if lines else ""
        return None, f"cannot import {os.path.basename(path)}{where}:\n{last}"
    finally:
        sys.path.remove(folder)
    return module, None


TIMEOUT = 10.0  # seconds a student's function may take on all the nets together


def check_file(path, only=None, reference=None, timeout=TIMEOUT, quiet=True):
    """Check the exercise functions the Python file at ``path`` defines; returns a :class:`Report`.

    ``report.error`` is None, or says why the file cannot be checked (it does not import, or defines
    none of the functions, or none of those in ``only``); then ``report.results`` is empty.
    """
    module, error = import_file(path)
    if error:
        return Report("", {}, error=error)
    found = find_functions([module])
    if only:
        absent = [name for name in only if name not in found]
        if absent:
            return Report("", {}, error=f"{os.path.basename(path)} defines no function {absent[0]}")
    if not found:
        return Report("", {}, error=f"{os.path.basename(path)} defines none of the functions it looks for: "
                                    f"{', '.join(NAMES)}")
    return check(module, only=only, reference=reference, quiet=quiet)


def run_file(path, only=None, reference=None):
    """``scratchnn check FILE``: check the functions FILE defines, print the report; returns the exit status."""
    module, error = import_file(path)
    if error:
        print(f"scratchnn check: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    found = find_functions([module])
    if only:
        absent = [name for name in only if name not in found]
        if absent:
            print(f"scratchnn check: {os.path.basename(path)} defines no function {absent[0]}", file=sys.stderr)
            return EXIT_UNUSABLE
    if not found:
        print(f"scratchnn check: {os.path.basename(path)} defines none of the functions it looks for: "
              f"{', '.join(NAMES)}", file=sys.stderr)
        return EXIT_UNUSABLE
    report = check(module, only=only, reference=reference, quiet=True)
    print(report)
    return EXIT_RIGHT if report.passed else EXIT_WRONG
