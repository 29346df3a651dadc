r"""The multilayer perceptron, forward and backward, in the workshop's notation.

Layers and indices
------------------
Layers are numbered ``j = 0, 1, ..., L`` from the input (layer 0, ``u^0``
features) to the output (layer L, ``u^L`` units), and the Python index *is*
that number: ``units[j] = u^j``, ``theta[j] = θ^j`` maps layer j to layer
j+1, ``a[j] = a^j``, ``z[j] = z^j``, ``delta[j] = δ^j``, ``D[j] = D^j``.
(The workshop notebook counts layers from 1 in its conventions but calls the
first weight matrix θ^0; our layer j is its layer j + 1, and our θ^j is its θ^j.)

The one exception: the input layer has no activation, so the list
``activations`` holds g_1 ... g_L and ``activations[j - 1]`` is g_j, the
activation of layer j (``net.g(j)`` returns it by layer number).

Data points are rows: ``n`` points give ``a^j`` of shape ``(n, u^j + 1)``.
⊙ is the element-wise (Hadamard) product, ``*`` in NumPy; 𝓛 is the loss.

Forward pass
------------
    a^0     = [1, X]                               (n, u^0 + 1)
    z^{j+1} = a^j (θ^j)ᵀ                           (n, u^{j+1})
    a^{j+1} = [1, g_{j+1}(z^{j+1})]                (n, u^{j+1} + 1), bias unit first
    a^L     = g_L(z^L)                             (n, u^L), no bias unit on the output

Backward pass (𝓛 the net's criterion, see ``losses``)
-----------------------------------------------------
The error of layer j is δ^j = ∂𝓛/∂z^j, one number per data point and unit
(no bias column: the bias unit has no z). D^j = ∂𝓛/∂θ^j.

    δ^L = ∂𝓛/∂a^L ⊙ g_L'(z^L)                        (n, u^L)
    D^j = (δ^{j+1})ᵀ a^j                              (u^{j+1}, u^j + 1)
    δ^j = (δ^{j+1} θ^j[:, 1:]) ⊙ g_j'(z^j)           (n, u^j)

``D^j`` has the shape of ``θ^j``; its column 0 is the bias gradient (the
bias unit's column of a^j is all ones). ``tutorials/02_backpropagation`` derives
these three lines from the chain rule, index by index.

δ^L depends on the criterion (``MLP(..., criterion=...)``), in its derived form:

    mse             δ^L = (2/N)(a^L - y) ⊙ g_L'(z^L)       N = n u^L, any output g_L
    bce             δ^L = (a^L - y) / N                    sigmoid output: σ' = a(1 - a) cancels
    cross_entropy   δ^L = (softmax(z^L) - y) / n           identity output (the logits)

(derived in ``losses``; ``tutorials/08_classification`` derives the softmax one).
With ``l2=λ`` the loss gains λ/(2n) Σ_j ‖θ^j[:, 1:]‖² and D^j[:, 1:] gains (λ/n) θ^j[:, 1:].
"""

import os

import numpy as np

from . import activations as _act
from . import losses as _losses
from .checks import check_data, check_dtype, check_pair, check_real
from .generator import TorchGenerator
from .init import linear_theta
from .table import format_table


class Trace:
    """Every quantity of one forward pass.

    ``a[j]`` is ``a^j`` (bias unit in column 0) for ``j < L`` and the output
    ``a^L`` (no bias unit) for ``j = L``; ``z[j]`` is ``z^j`` for ``j >= 1``
    and ``z[0]`` is None (the input layer has no pre-activation).
    """

    def __init__(self, a, z):
        self.a = a
        self.z = z

    @property
    def output(self):
        """a^L, the network's prediction ``(n, u^L)``."""
        return self.a[-1]


def with_bias_unit(h):
    """[1, h]: the bias unit prepended to each row of ``h``, ``(n, u) -> (n, u + 1)``; as a^j is laid out."""
    a = np.empty((h.shape[0], h.shape[1] + 1), dtype=h.dtype)
    a[:, 0] = 1
    a[:, 1:] = h
    return a


class MLP:
    r"""A fully connected network with weights theta^j of shape ``(u^{j+1}, u^j + 1)``.

    Parameters
    ----------
    units : sequence of int
        ``[u^0, u^1, ..., u^L]``: features in, hidden widths, outputs. At least two.
    activations : str or sequence of str
        One name for every layer, or one per layer ``j = 1..L`` (``L`` names):
        the input layer has no activation, so ``activations[j - 1]`` is g_j
        (``net.g(j)`` looks it up by layer number).
        Known names: see :mod:`scratchnn.activations`. Default ``"tanh"``
        everywhere, the output included, as in the workshop.
    dtype : float32 or float64
        Of theta and of every quantity computed. Default float32 (torch's default).
    generator : TorchGenerator or int
        Where the initial weights come from: torch's ``nn.Linear`` rule on
        torch's CPU stream, so ``MLP(units, generator=TorchGenerator(s))``
        equals torch's ``nn.Sequential`` built after ``torch.manual_seed(s)``.
        An int is a seed. Default 0. Not drawn from when ``theta`` is given.
    criterion : "mse", "bce" or "cross_entropy"
        The loss 𝓛 (:mod:`scratchnn.losses`). ``"mse"`` (default): the workshop's
        mean squared error, any output activation. ``"bce"``: binary cross-entropy
        on a sigmoid output, targets in [0, 1], as ``nn.BCELoss``. ``"cross_entropy"``:
        softmax cross-entropy on an identity output (the logits), targets as class
        indices ``(n,)`` or probabilities ``(n, u^L)``, as ``nn.CrossEntropyLoss``.
    theta : list of L arrays, optional
        Start from these weights instead of drawing them: θ^j ``(u^{j+1}, u^j + 1)`` of ``dtype``
        for ``j = 0..L-1`` (copied). :meth:`load`, :meth:`copy` and ``torchref.from_torch`` build
        their nets this way.

    ``MLP([1, 5, 1])`` is the workshop's model 0 (with ``generator=10``, its weights too);
    ``MLP([64, 25, 10], ["sigmoid", "identity"], criterion="cross_entropy")`` classifies the digits.
    """

    def __init__(self, units, activations="tanh", dtype=np.float32, generator=0, criterion="mse", theta=None):
        self.units = _check_units(units)
        self.activations = _check_activations(activations, len(self.units) - 1)
        self.dtype = check_dtype("dtype", dtype)
        self.criterion = _check_criterion(criterion, self.activations, self.units)
        if theta is not None:
            self.theta = _check_theta(theta, self.units, self.dtype)
            return
        if isinstance(generator, TorchGenerator):
            gen = generator
        elif isinstance(generator, (int, np.integer)) and not isinstance(generator, (bool, np.bool_)):
            gen = TorchGenerator(int(generator))
        else:
            raise TypeError(f"generator: expected a TorchGenerator or an int seed, got {type(generator).__name__}")
        self.theta = [
            linear_theta(gen, self.units[j], self.units[j + 1], self.dtype) for j in range(self.L)
        ]

    def g(self, j):
        """The activation g_j of layer ``j = 1..L`` (``activations[j - 1]``: the input layer has none)."""
        if isinstance(j, (bool, np.bool_)) or not isinstance(j, (int, np.integer)):
            raise TypeError(f"j: expected a layer number (int) 1..{self.L}, got {type(j).__name__}")
        if not 1 <= j <= self.L:
            raise ValueError(f"j: expected a layer number 1..{self.L} (the input layer 0 has no activation), got {j!r}")
        return _act.get(self.activations[j - 1])

    @property
    def L(self):
        """The index of the output layer (the number of weight matrices)."""
        return len(self.units) - 1

    @property
    def n_parameters(self):
        """Total number of entries of all theta^j."""
        return sum(t.size for t in self.theta)

    def __repr__(self):
        return (f"MLP(units={self.units}, activations={self.activations}, dtype={self.dtype.name}, "
                f"criterion={self.criterion!r})")

    # ----------------------------------------------------------------- forward
    def forward_trace(self, X):
        """Run the forward pass and keep every a^j and z^j (see :class:`Trace`)."""
        check_data("X", X, self.dtype, self.units[0])
        return self._forward_trace(X)

    def _forward_trace(self, X):
        a = [with_bias_unit(X)]  # a^0: (n, u^0 + 1)
        z = [None]
        for j in range(self.L):
            z.append(a[j] @ self.theta[j].T)  # z^{j+1}: (n, u^{j+1})
            h = _act.get(self.activations[j]).g(z[j + 1])  # g_{j+1}(z^{j+1}): (n, u^{j+1})
            a.append(h if j + 1 == self.L else with_bias_unit(h))  # a^{j+1}
        return Trace(a, z)

    def forward(self, X):
        """The prediction a^L ``(n, u^L)`` for inputs X ``(n, u^0)``."""
        return self.forward_trace(X).output

    __call__ = forward

    def predict(self, X):
        """What the net predicts for X ``(n, u^0)``.

        ``cross_entropy``: the class indices ``argmax_s z^L_is`` ``(n,)`` (softmax keeps the order).
        ``bce``: the classes 1 where a^L >= 1/2, i.e. z^L >= 0, else 0: ``(n,)`` for one output
        unit, ``(n, u^L)`` (one yes/no per unit) for several. ``mse``: the prediction a^L ``(n, u^L)``.
        """
        trace = self.forward_trace(X)
        zL = trace.z[self.L]  # (n, u^L)
        if self.criterion == "cross_entropy":
            return np.argmax(zL, axis=1)  # (n,)
        if self.criterion == "bce":
            c = (zL >= 0).astype(np.int64)  # (n, u^L)
            return c[:, 0] if self.units[-1] == 1 else c
        return trace.output

    def check_targets(self, Y, name="Y"):
        """Y as the net's criterion takes it: ``(n, u^L)`` of the net's dtype, class indices ``(n,)``
        turned into one-hot rows (``cross_entropy``); raises, naming ``name``, when the criterion
        cannot take Y (see :mod:`scratchnn.losses`)."""
        return _losses.get(self.criterion).targets(name, Y, self.dtype, self.units[-1])

    def loss(self, X, Y, l2=0.0):
        """𝓛, the net's criterion (:mod:`scratchnn.losses`); with ``l2=λ`` plus λ/(2n) Σ_j ‖θ^j[:, 1:]‖²."""
        Y = check_pair(X, Y, self)
        return self.loss_unchecked(X, Y, check_real("l2", l2, low=0.0))

    def loss_unchecked(self, X, Y, l2=0.0, n=None):
        """𝓛 + λ/(2n) Σ_j ‖θ^j[:, 1:]‖², as :meth:`loss`, but skipping its argument checks.

        X ``(n_X, u^0)`` and Y ``(n_X, u^L)`` must already be what :meth:`loss` checks for (Y as
        :meth:`check_targets` returns it: class indices one-hot), and ``l2`` a float >= 0.
        ``n`` divides λ (default: X's rows; ``fit`` passes all its points for a minibatch).
        For inner loops (``fit``, ``gradcheck``) that check once, before the loop.
        """
        return self._objective(self._forward_trace(X), Y, l2, X.shape[0] if n is None else n)

    def _objective(self, trace, Y, l2, n):
        """𝓛(a^L, z^L; y) of one forward pass, plus λ/(2n) Σ_j ‖θ^j[:, 1:]‖² when λ > 0."""
        L = self.L
        loss = _losses.get(self.criterion).loss(trace.a[L], trace.z[L], Y)
        return loss + _losses.l2_penalty(self.theta, l2, n) if l2 else loss

    # ---------------------------------------------------------------- backward
    def backward(self, trace, Y):
        """The deltas and gradients of one forward pass.

        Returns ``(delta, D)``: ``delta[j]`` is delta^j ``(n, u^j)`` for
        ``j = 1..L`` (``delta[0]`` is None) and ``D[j]`` is D^j = dL/dtheta^j,
        shaped like ``theta[j]``. Y: the targets the criterion takes.
        """
        if not isinstance(trace, Trace):
            raise TypeError(f"trace: expected the Trace of forward_trace, got {type(trace).__name__}")
        Y = self.check_targets(Y)
        if Y.shape[0] != trace.output.shape[0]:
            raise ValueError(f"Y: expected {trace.output.shape[0]} rows like the trace, got {Y.shape[0]}")
        return self._backward(trace, Y)

    def _backward(self, trace, Y):
        a, z = trace.a, trace.z
        L = self.L
        delta = [None] * (L + 1)
        D = [None] * L
        # backward through the loss and the output activation g_L, in the criterion's derived form
        delta[L] = _losses.get(self.criterion).delta(a[L], z[L], Y, _act.get(self.activations[L - 1]))  # (n, u^L)
        for j in range(L - 1, -1, -1):
            # backward through theta^j: the gradient of the weights of layer j -> j+1
            D[j] = delta[j + 1].T @ a[j]  # (u^{j+1}, u^j + 1)
            if j > 0:
                # backward through g_j: carry delta to layer j, skipping the bias column
                g = _act.get(self.activations[j - 1])  # g_j
                delta[j] = (delta[j + 1] @ self.theta[j][:, 1:]) * g.g_prime(z[j], a[j][:, 1:])  # (n, u^j)
        return delta, D

    def loss_and_grad(self, X, Y, l2=0.0):
        """``(L, D)``: the loss 𝓛 (the net's criterion) and the gradients D^j = ∂𝓛/∂θ^j (one per θ^j).

        With ``l2=λ`` (Ng's ex4): 𝓛 + λ/(2n) Σ_j ‖θ^j[:, 1:]‖² and D^j[:, 1:] + (λ/n) θ^j[:, 1:],
        n the number of points; the bias column θ^j[:, 0] is not penalised.
        """
        Y = check_pair(X, Y, self)
        return self.loss_and_grad_unchecked(X, Y, check_real("l2", l2, low=0.0))

    def loss_and_grad_unchecked(self, X, Y, l2=0.0, n=None):
        """``(L, D)`` as :meth:`loss_and_grad`, but skipping its argument checks.

        𝓛 + λ/(2n) Σ_j ‖θ^j[:, 1:]‖² and D^j = (δ^{j+1})ᵀ a^j, with D^j[:, 1:] += (λ/n) θ^j[:, 1:].
        X, Y and ``l2`` must already be what :meth:`loss_and_grad` checks for (Y as
        :meth:`check_targets` returns it); ``n`` divides λ (default: X's rows; ``fit`` passes all
        its points for a minibatch). For inner loops that check once, before the loop.
        """
        trace = self._forward_trace(X)
        _, D = self._backward(trace, Y)
        n = X.shape[0] if n is None else n
        if l2:
            _losses.add_l2_gradient(D, self.theta, l2, n)  # D^j[:, 1:] += (λ/n) θ^j[:, 1:]
        return self._objective(trace, Y, l2, n), D

    # ------------------------------------------------------------------ report
    def describe(self):
        """A table of the layers (units, theta shape, parameters, activation, torch names) and the criterion."""
        rows = [("layer j", "units u^j", "theta^j shape", "parameters", "activation g_j", "torch parameters")]
        rows.append(("0 (input)", str(self.units[0]), "", "", "", ""))
        for j in range(1, self.L + 1):
            t = self.theta[j - 1]
            k = 2 * (j - 1)  # index of the Linear module inside torch's nn.Sequential
            rows.append(
                (
                    f"{j}{' (output)' if j == self.L else ''}",
                    str(self.units[j]),
                    f"theta^{j - 1}: {t.shape[0]} x {t.shape[1]}",
                    str(t.size),
                    self.activations[j - 1],
                    f"{k}.bias = theta^{j - 1}[:, 0], {k}.weight = theta^{j - 1}[:, 1:]",
                )
            )
        rows.append(("total", "", "", str(self.n_parameters), "", f"dtype {self.dtype.name}"))
        rows.append(("criterion", "", "", "", self.criterion, _losses.get(self.criterion).torch))
        return format_table(rows, left=range(len(rows[0])))

    # -------------------------------------------------------------------- file
    def save(self, path):
        """Write units, activations, dtype, criterion and every theta^j to an ``.npz`` file (no pickle)."""
        np.savez(
            path,
            units=np.asarray(self.units, dtype=np.int64),
            activations=np.asarray(self.activations, dtype=np.str_),
            dtype=np.asarray(self.dtype.name),
            criterion=np.asarray(self.criterion),
            **{f"theta_{j}": t for j, t in enumerate(self.theta)},
        )

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`; malformed files raise ValueError."""
        if not os.path.exists(path):
            raise FileNotFoundError(f"path: no model file at {path!r}")
        try:
            with np.load(path, allow_pickle=False) as f:
                content = {k: f[k] for k in f.files}
        except Exception as exc:  # zip, header or pickle errors all mean "not our file"
            raise ValueError(f"path: {path!r} is not a scratchnn model file (.npz): {exc}") from None
        for key in ("units", "activations", "dtype"):
            if key not in content:
                raise ValueError(f"path: {path!r} is not a scratchnn model file: no {key!r} entry")
        units = [int(u) for u in np.atleast_1d(content["units"])]
        activations = [str(s) for s in np.atleast_1d(content["activations"])]
        missing = [f"theta_{j}" for j in range(len(units) - 1) if f"theta_{j}" not in content]
        if missing:
            raise ValueError(f"path: {path!r} holds a malformed model: no {missing[0]!r} entry")
        theta = [content[f"theta_{j}"] for j in range(len(units) - 1)]
        try:
            # files written before the criterion was saved hold MSE models
            net = cls(units, activations, str(content["dtype"]), criterion=str(content.get("criterion", "mse")),
                      theta=theta)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"path: {path!r} holds a malformed model: {exc}") from None
        for j, t in enumerate(net.theta):
            if not np.all(np.isfinite(t)):
                raise ValueError(f"path: {path!r} holds a malformed model: theta_{j} contains NaN or inf")
        return net

    def copy(self):
        """A deep copy (same units, activations, dtype, criterion; theta copied)."""
        return type(self)(self.units, self.activations, self.dtype, criterion=self.criterion, theta=self.theta)


def _check_units(units):
    if isinstance(units, (str, bytes)) or not hasattr(units, "__len__"):
        raise TypeError(f"units: expected a list of ints like [1, 5, 1], got {units!r}")
    units = list(units)
    if len(units) < 2:
        raise ValueError(f"units: expected at least two layers (inputs and outputs), got {units}")
    for u in units:
        if isinstance(u, (bool, np.bool_)) or not isinstance(u, (int, np.integer)):
            raise TypeError(f"units: expected ints, got {units!r}")
        if u < 1:
            raise ValueError(f"units: every layer needs at least one unit, got {units}")
    return [int(u) for u in units]


def _check_activations(activations, L):
    if isinstance(activations, str):
        activations = [activations] * L
    if not hasattr(activations, "__len__"):
        raise TypeError(f"activations: expected a name or a list of {L} names, got {activations!r}")
    activations = list(activations)
    if len(activations) != L:
        raise ValueError(
            f"activations: expected one name for every layer or a list of {L} (one per layer 1..{L}), "
            f"got {len(activations)}: {activations}"
        )
    for name in activations:
        _act.get(name)
    return activations


def _check_theta(theta, units, dtype):
    """Copies of θ^0..θ^{L-1}, if there is one per layer, each ``(u^{j+1}, u^j + 1)`` of ``dtype``."""
    L = len(units) - 1
    if isinstance(theta, np.ndarray) or not hasattr(theta, "__len__"):
        raise TypeError(f"theta: expected a list of {L} arrays θ^0..θ^{L - 1}, got {type(theta).__name__}")
    if len(theta) != L:
        raise ValueError(f"theta: expected {L} arrays (θ^j for j = 0..{L - 1}, units {units}), got {len(theta)}")
    copies = []
    for j, t in enumerate(theta):
        expected = (units[j + 1], units[j] + 1)  # (u^{j+1}, u^j + 1)
        if not isinstance(t, np.ndarray):
            raise TypeError(f"theta[{j}]: expected a numpy array {expected} of {dtype}, got {type(t).__name__}")
        if t.dtype != dtype:
            raise TypeError(f"theta[{j}]: expected dtype {dtype}, got {t.dtype}")
        if t.shape != expected:
            raise ValueError(f"theta[{j}]: expected shape {expected} = (u^{j + 1}, u^{j} + 1), got {t.shape}")
        copies.append(np.array(t, order="C"))
    return copies


def _check_criterion(criterion, activations, units):
    """The criterion's name, if it knows it and the output layer suits it (see :mod:`scratchnn.losses`)."""
    c = _losses.get(criterion)
    if c.output is not None and activations[-1] != c.output:
        example = ["tanh"] * (len(units) - 2) + [c.output]
        raise ValueError(
            f"criterion {criterion!r}: expected the output activation g_L = {c.output!r} ({c.why}), "
            f"got {activations[-1]!r}; e.g. MLP({units}, activations={example}, criterion={criterion!r})"
        )
    if units[-1] < c.min_outputs:
        raise ValueError(
            f"criterion {criterion!r}: expected at least {c.min_outputs} output units (one per class), got "
            f"u^L = {units[-1]}; for two classes take 2 outputs, or 1 sigmoid output with criterion='bce'"
        )
    return criterion
