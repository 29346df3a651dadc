r"""How each exercise's function is called on a case, and what came back.

One :class:`Exercise` per function a student writes: its signature, what it
returns, how to call it on a case (:meth:`Exercise.call`) and which reference
quantities it must match (:meth:`Exercise.expected`). The same ``call`` runs
the student's function and each known mistake of :mod:`.mistakes`, so the two
can be compared entry by entry.

Every argument is a fresh copy; after the call the copies are compared with the
originals, so a function that changes its inputs in place is caught. The step
exercises (``output_delta``, ``layer_gradient``, ``hidden_delta``, ``backward``)
get a^j and delta^{j+1} from scratchnn's engine, whatever the reference.
"""

import traceback
import warnings

import numpy as np

from .cases import ADAM_SETTINGS, ADAMW_SETTINGS, EPS, RMSPROP_SETTINGS, SGD_SETTINGS, STEPS

class Missing:
    """Stands for a quantity that did not come back; ``note`` says why."""

    def __init__(self, note):
        self.note = note


NOT_RETURNED = Missing("not returned")  # a quantity missing from a list that came back too short
NOT_COMPUTED = Missing("not computed: it raised before")  # a quantity after an exception
RESTORED_ATOL = 1e-12  # theta + eps - eps may differ from theta in the last bit; that is restored


class Raised:
    """An exception the function raised: ``type``, ``text`` (``Type: message``) and ``where`` (the line in its file)."""

    def __init__(self, exc, fn):
        self.type = type(exc).__name__
        self.text = traceback.format_exception_only(type(exc), exc)[-1].strip()
        frames = traceback.extract_tb(exc.__traceback__)[1:]  # [0] is the call in Outcome.call
        code = getattr(fn, "__code__", None)
        own = [f for f in frames if code is not None and f.filename == code.co_filename]
        frame = (own or frames or [None])[-1]
        self.where = None
        if frame is not None:
            name = frame.filename.replace("\\", "/").rsplit("/", 1)[-1]
            if "ipykernel" in frame.filename:  # a notebook cell's code has a temporary file name
                name = "your notebook cell"
            self.where = f"line {frame.lineno} of {name}" + (f": {frame.line.strip()}" if frame.line else "")

    def describe(self):
        """What it did, as the report says it: ``raised ZeroDivisionError: ...``, or ``called sys.exit(...)``."""
        if self.type == "SystemExit":
            return (f"called sys.exit ({self.text}): a function returns its result, it must not end the "
                    f"program")
        if self.type == "KeyboardInterrupt":
            return "raised KeyboardInterrupt (as Ctrl-C does): the check goes on without it"
        return f"raised {self.text}"


class Foreign:
    """Stands for a returned object that is not an array or a number (it is not sent back): ``type``."""

    def __init__(self, value):
        self.type = type(value).__name__


# In a child process, the namespaces restored after every call of the student's code (see guard)
_GUARDED = []


def guard(*modules):
    """From now on, after every call, put back what the called code changed in these modules' namespaces
    (``builtins.len = ...``, ``np.tanh = ...``): the checker's own code runs on in the same process."""
    _GUARDED[:] = [(module, dict(vars(module))) for module in modules]


def _restore():
    for module, saved in _GUARDED:
        space = vars(module)
        space.update(saved)  # first: the code below may need a builtin the student replaced
        for name in [name for name in space if name not in saved]:
            del space[name]


# What a call catches: every exception in the child process that runs student code (sys.exit and
# KeyboardInterrupt included); in the checker's own process (no fork), a Ctrl-C still stops the check.
CAUGHT = (Exception, SystemExit)


class Outcome:
    """What one function did on one case.

    ``values``: key ``(quantity, j, k)`` -> what it returned for that quantity;
    ``problems``: returns of the wrong kind (not a list, a list too short);
    ``raised``: the first exception (:class:`Raised`), after which the case stops;
    ``modified``: the names of arguments it changed in place, and ``changes``: name -> how.
    """

    def __init__(self):
        self.values = {}
        self.problems = []
        self.raised = None
        self.modified = []
        self.changes = {}

    def call(self, fn, watch=True, **arguments):
        """``fn(*arguments)`` on copies; raises :class:`Stop` after recording an exception.

        With ``watch``, an argument the call changed is added to ``modified``.
        """
        copies = {name: _copy(value) for name, value in arguments.items()}
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                result = fn(*copies.values())
        except CAUGHT as exc:  # the student's code may raise anything; report it and go on
            _restore()
            self.raised = Raised(exc, fn)
            raise Stop from None
        _restore()
        for name, value in arguments.items():
            if watch and not _unchanged(copies[name], value) and name not in self.modified:
                self.modified.append(name)
                self.changes[name] = describe_change(name, value, copies[name])
        return result

    def portable(self):
        """This outcome with every value an array, a number, a :class:`Missing` or a :class:`Foreign`:
        what a child process can send back whatever the student's function returned."""
        for key, value in self.values.items():
            self.values[key] = _portable(value)
        return self

    def as_list(self, result, length, what, function):
        """``result`` as a list of ``length`` items (missing ones NOT_RETURNED), noting a return of the wrong kind."""
        if not isinstance(result, (list, tuple)):
            shape = f" of shape {result.shape}" if isinstance(result, np.ndarray) else ""
            self.problems.append(f"{function} returned {type(result).__name__}{shape}, expected a list {what}")
            return [NOT_RETURNED] * length
        if len(result) != length:
            self.problems.append(f"{function} returned a list of {len(result)}, expected {length}: {what}")
        return (list(result) + [NOT_RETURNED] * length)[:length]


def _portable(value):
    if isinstance(value, Missing):
        return value
    if isinstance(value, np.ndarray):
        value = np.array(value)  # a subclass (np.matrix, the student's own) becomes a plain array
        return Foreign(value) if value.dtype.hasobject else value
    if isinstance(value, (bool, int, float, complex, np.number, np.bool_)):
        return value
    return Foreign(value)


def describe_change(name, before, after):
    """How the call changed the argument ``name``: ``X (an array): 6 of 6 entries changed, X[0, 0] was 1, now 2``."""
    if isinstance(before, np.ndarray):
        return f"{name} (an array): {_array_change(name, before, after)}"
    if isinstance(before, list):
        if not isinstance(after, list):
            return f"{name} (a list): it became a {type(after).__name__}"
        if len(after) != len(before):
            return f"{name} (a list): it had {len(before)} items, now {len(after)}"
        for k, (b, a) in enumerate(zip(before, after)):
            if not _unchanged(a, b):
                if isinstance(b, np.ndarray) and isinstance(a, np.ndarray) and a.shape == b.shape:
                    return f"{name} (a list): its item {name}[{k}], an array, changed in place: " \
                           f"{_array_change(f'{name}[{k}]', b, a)}"
                return f"{name} (a list): its item {name}[{k}] was replaced"
    return f"{name} changed"


def _array_change(name, before, after):
    if not isinstance(after, np.ndarray) or after.shape != before.shape:
        return "its shape changed"
    changed = ~np.isclose(after, before, rtol=0, atol=RESTORED_ATOL, equal_nan=True)
    first = tuple(int(i) for i in np.argwhere(changed)[0])
    index = ", ".join(map(str, first))
    return (f"{int(changed.sum())} of {changed.size} entries changed, {name}[{index}] was {before[first]:.6g}, "
            f"now {after[first]:.6g}")


class Stop(Exception):
    """The function raised; the outcome holds the exception, the case stops."""


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _unchanged(after, before):
    if isinstance(before, np.ndarray):
        return (isinstance(after, np.ndarray) and after.shape == before.shape
                and np.allclose(after, before, rtol=0, atol=RESTORED_ATOL))
    if isinstance(before, list):
        return isinstance(after, list) and len(after) == len(before) and all(map(_unchanged, after, before))
    return True


class Exercise:
    """One function to write: ``name``, ``signature``, ``returns`` (in the notation) and ``rtol``."""

    word = "net"  # what the report calls a case

    def __init__(self, name, signature, returns, rtol=None):
        self.name = name
        self.signature = signature
        self.returns = returns
        self.rtol = rtol

    def call(self, fn, case, inputs):
        """Run ``fn`` on the case; ``inputs = (a, z, delta, D)`` of the engine. Returns an :class:`Outcome`."""
        out = Outcome()
        try:
            self._call(fn, case, inputs, out)
        except Stop:
            pass
        return out

    def header(self):
        return f"{self.name}{self.signature} -> {self.returns}"

    def describe(self, case):
        """The line above the table: the net of the case."""
        return case.describe()


class Forward(Exercise):
    def _call(self, fn, case, inputs, out):
        a = out.as_list(out.call(fn, theta=case.theta, X=case.X), case.L + 1, "[a^0, ..., a^L]", self.name)
        for j in range(case.L + 1):
            out.values["a", j, None] = a[j]

    def expected(self, ref, case):
        a = ref.forward_backward(case)[0]
        return {("a", j, None): a[j] for j in range(case.L + 1)}


class OutputDelta(Exercise):
    def _call(self, fn, case, inputs, out):
        a = inputs[0]
        out.values["delta", case.L, None] = out.call(fn, a_L=a[case.L], Y=case.Y)

    def expected(self, ref, case):
        return {("delta", case.L, None): ref.forward_backward(case)[2][case.L]}


class LayerGradient(Exercise):
    def _call(self, fn, case, inputs, out):
        a, _, delta, _ = inputs
        for j in range(case.L - 1, -1, -1):
            out.values["D", j, None] = out.call(fn, delta_next=delta[j + 1], a_j=a[j])

    def expected(self, ref, case):
        D = ref.forward_backward(case)[3]
        return {("D", j, None): D[j] for j in range(case.L)}


class HiddenDelta(Exercise):
    def _call(self, fn, case, inputs, out):
        a, _, delta, _ = inputs
        for j in range(case.L - 1, 0, -1):
            out.values["delta", j, None] = out.call(fn, delta_next=delta[j + 1], theta_j=case.theta[j], a_j=a[j])

    def expected(self, ref, case):
        delta = ref.forward_backward(case)[2]
        return {("delta", j, None): delta[j] for j in range(1, case.L)}


class Backward(Exercise):
    def _call(self, fn, case, inputs, out):
        a = inputs[0]
        D = out.as_list(out.call(fn, theta=case.theta, a=a, Y=case.Y), case.L, "[D^0, ..., D^{L-1}]", self.name)
        for j in range(case.L):
            out.values["D", j, None] = D[j]

    def expected(self, ref, case):
        D = ref.forward_backward(case)[3]
        return {("D", j, None): D[j] for j in range(case.L)}


class NumericalGradient(Exercise):
    def _call(self, fn, case, inputs, out):
        result = out.call(fn, theta=case.theta, X=case.X, Y=case.Y, eps=EPS)
        D = out.as_list(result, case.L, "shaped like theta, [Dnum^0, ..., Dnum^{L-1}]", self.name)
        for j in range(case.L):
            out.values["Dnum", j, None] = D[j]

    def expected(self, ref, case):
        Dnum = ref.numerical_gradient(case)
        return {("Dnum", j, None): Dnum[j] for j in range(case.L)}


class SGDMomentumStep(Exercise):
    """Steps k = 1..STEPS on every theta^j, the buffer carried: buf is None before the first."""

    def _call(self, fn, case, inputs, out):
        s = SGD_SETTINGS
        for j in range(case.L):
            theta, buf = case.theta[j], None
            for k in range(1, STEPS + 1):
                # an optimizer updates theta in place, as torch does: not watched
                result = out.call(fn, watch=False, theta=theta, D=case.G[k - 1][j], buf=buf, lr=s["lr"],
                                  momentum=s["momentum"])
                theta, buf = out.as_list(result, 2, "(theta, buf)", self.name)
                out.values["theta", j, k] = theta
                out.values["buf", j, k] = buf
                if out.problems:
                    return

    def expected(self, ref, case):
        return _in_step_order(ref.sgd_momentum(case), case, ("theta", "buf"))


class AdamStep(Exercise):
    """Steps t = 1..STEPS on every theta^j, m and v carried from zero.

    ``settings`` are the hyperparameters after ``t``, in the signature's order; ``reference`` names the
    reference's function of a case.
    """

    settings = ADAM_SETTINGS
    reference = "adam"

    def _call(self, fn, case, inputs, out):
        for j in range(case.L):
            theta = case.theta[j]
            m, v = np.zeros_like(theta), np.zeros_like(theta)
            for t in range(1, STEPS + 1):
                result = out.call(fn, watch=False, theta=theta, D=case.G[t - 1][j], m=m, v=v, t=t, **self.settings)
                theta, m, v = out.as_list(result, 3, "(theta, m, v)", self.name)
                out.values["theta", j, t] = theta
                out.values["m", j, t] = m
                out.values["v", j, t] = v
                if out.problems:
                    return

    def expected(self, ref, case):
        return _in_step_order(getattr(ref, self.reference)(case), case, ("theta", "m", "v"))


class AdamWStep(AdamStep):
    """Adam's steps, with AdamW's decoupled weight decay (one more argument, ``weight_decay``)."""

    settings = ADAMW_SETTINGS
    reference = "adamw"


class RMSpropStep(Exercise):
    """Steps t = 1..STEPS on every theta^j, the running mean of D² (``sq``) carried from zero."""

    def _call(self, fn, case, inputs, out):
        s = RMSPROP_SETTINGS
        for j in range(case.L):
            theta = case.theta[j]
            sq = np.zeros_like(theta)
            for t in range(1, STEPS + 1):
                result = out.call(fn, watch=False, theta=theta, D=case.G[t - 1][j], sq=sq, lr=s["lr"],
                                  alpha=s["alpha"], eps=s["eps"])
                theta, sq = out.as_list(result, 2, "(theta, sq)", self.name)
                out.values["theta", j, t] = theta
                out.values["sq", j, t] = sq
                if out.problems:
                    return

    def expected(self, ref, case):
        return _in_step_order(ref.rmsprop(case), case, ("theta", "sq"))


class NinjaExercise(Exercise):
    """An exercise on one layer's arrays (``case.ninja``) rather than on a whole net."""

    word = "case"

    def describe(self, case):
        b = case.ninja
        return f"case {case.number}: n = {b.z.shape[0]} points, {self.what(b)}"


class BatchNormForward(NinjaExercise):
    def what(self, b):
        return f"u = {b.z.shape[1]} units, eps = {b.eps:g}"

    def _call(self, fn, case, inputs, out):
        b = case.ninja
        out.values["y", None, None] = out.call(fn, z=b.z, gamma=b.gamma, beta=b.beta, eps=b.eps)

    def expected(self, ref, case):
        return {("y", None, None): ref.batchnorm(case)["y"]}


class NormBackward(NinjaExercise):
    """batchnorm_backward or layernorm_backward: (dz, dgamma, dbeta) from dy."""

    def __init__(self, name, signature, returns, norm):
        super().__init__(name, signature, returns)
        self.norm = norm  # "batchnorm" or "layernorm": the reference's method

    def what(self, b):
        return f"u = {b.z.shape[1]} units, eps = {b.eps:g}"

    def _call(self, fn, case, inputs, out):
        b = case.ninja
        result = out.call(fn, dy=b.dy, z=b.z, gamma=b.gamma, eps=b.eps)
        for name, value in zip(("dz", "dgamma", "dbeta"), out.as_list(result, 3, "(dz, dgamma, dbeta)", self.name)):
            out.values[name, None, None] = value

    def expected(self, ref, case):
        grads = getattr(ref, self.norm)(case)
        return {(name, None, None): grads[name] for name in ("dz", "dgamma", "dbeta")}


class DropoutBackward(NinjaExercise):
    def what(self, b):
        return f"u = {b.z.shape[1]} units, p = {b.p:g}, {int(b.mask.sum())} of {b.mask.size} kept"

    def _call(self, fn, case, inputs, out):
        b = case.ninja
        out.values["d_input", None, None] = out.call(fn, da=b.da, mask=b.mask, p=b.p)

    def expected(self, ref, case):
        return {("d_input", None, None): ref.dropout(case)}


class CrossEntropyDelta(NinjaExercise):
    def what(self, b):
        return f"C = {b.logits.shape[1]} classes"

    def _call(self, fn, case, inputs, out):
        b = case.ninja
        out.values["delta", None, None] = out.call(fn, z=b.logits, labels=b.labels)

    def expected(self, ref, case):
        return {("delta", None, None): ref.cross_entropy(case)}


def _in_step_order(values, case, names):
    return {(name, j, k): values[name, j, k] for j in range(case.L) for k in range(1, STEPS + 1) for name in names}


EXERCISES = {
    e.name: e
    for e in [
        Forward("forward", "(theta, X)", "[a^0, ..., a^L]"),
        OutputDelta("output_delta", "(a_L, Y)", "delta^L"),
        LayerGradient("layer_gradient", "(delta_next, a_j)", "D^j"),
        HiddenDelta("hidden_delta", "(delta_next, theta_j, a_j)", "delta^j"),
        Backward("backward", "(theta, a, Y)", "[D^0, ..., D^{L-1}]"),
        # two central differences of the same loss differ by the loss's rounding over 2 eps, ~1e-12 of D here
        NumericalGradient("numerical_gradient", "(theta, X, Y, eps)", "[Dnum^0, ..., Dnum^{L-1}]", rtol=1e-8),
        SGDMomentumStep("sgd_momentum_step", "(theta, D, buf, lr, momentum)", "(theta, buf)"),
        AdamStep("adam_step", "(theta, D, m, v, t, lr, beta1, beta2, eps)", "(theta, m, v)"),
        # exercises 3, the backprop ninja's
        BatchNormForward("batchnorm_forward", "(z, gamma, beta, eps)", "y"),
        NormBackward("batchnorm_backward", "(dy, z, gamma, eps)", "(dz, dgamma, dbeta)", "batchnorm"),
        NormBackward("layernorm_backward", "(dy, z, gamma, eps)", "(dz, dgamma, dbeta)", "layernorm"),
        DropoutBackward("dropout_backward", "(da, mask, p)", "the gradient with respect to dropout's input"),
        CrossEntropyDelta("cross_entropy_delta", "(z, labels)", "delta^L"),
        AdamWStep("adamw_step", "(theta, D, m, v, t, lr, beta1, beta2, eps, weight_decay)", "(theta, m, v)"),
        RMSpropStep("rmsprop_step", "(theta, D, sq, lr, alpha, eps)", "(theta, sq)"),
    ]
}
NAMES = tuple(EXERCISES)
