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

Backward pass (𝓛 = mean((a^L - Y)^2) over all n u^L entries, see ``losses``)
-----------------------------------------------------------------------------
The error of layer j is δ^j = ∂𝓛/∂z^j, one number per data point and unit
(no bias column: the bias unit has no z). D^j = ∂𝓛/∂θ^j.

    δ^L = ∂𝓛/∂a^L ⊙ g_L'(z^L)                        (n, u^L)
    D^j = (δ^{j+1})ᵀ a^j                              (u^{j+1}, u^j + 1)
    δ^j = (δ^{j+1} θ^j[:, 1:]) ⊙ g_j'(z^j)           (n, u^j)

``D^j`` has the shape of ``θ^j``; its column 0 is the bias gradient (the
bias unit's column of a^j is all ones). ``tutorials/02_backpropagation`` derives
these three lines from the chain rule, index by index.
"""

import os

import numpy as np

from . import activations as _act
from .checks import check_data, check_dtype, check_int, check_pair
from .generator import TorchGenerator
from .init import linear_theta
from .losses import mse, mse_grad
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


def _with_bias_unit(h):
    """[1, h]: prepend the bias unit to each row of ``h`` (n, u) -> (n, u + 1)."""
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
        An int is a seed. Default 0.

    ``MLP([1, 5, 1])`` is the workshop's model 0 (with ``generator=10``, its weights too).
    """

    def __init__(self, units, activations="tanh", dtype=np.float32, generator=0):
        self.units = _check_units(units)
        self.activations = _check_activations(activations, len(self.units) - 1)
        self.dtype = check_dtype("dtype", dtype)
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
        if isinstance(j, (bool, np.bool_)) or not isinstance(j, (int, np.integer)) or not 1 <= j <= self.L:
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
        return f"MLP(units={self.units}, activations={self.activations}, dtype={self.dtype.name})"

    # ----------------------------------------------------------------- forward
    def forward_trace(self, X):
        """Run the forward pass and keep every a^j and z^j (see :class:`Trace`)."""
        check_data("X", X, self.dtype, self.units[0])
        return self._forward_trace(X)

    def _forward_trace(self, X):
        a = [_with_bias_unit(X)]  # a^0: (n, u^0 + 1)
        z = [None]
        for j in range(self.L):
            z.append(a[j] @ self.theta[j].T)  # z^{j+1}: (n, u^{j+1})
            h = self.g(j + 1).g(z[j + 1])  # g_{j+1}(z^{j+1}): (n, u^{j+1})
            a.append(h if j + 1 == self.L else _with_bias_unit(h))  # a^{j+1}
        return Trace(a, z)

    def forward(self, X):
        """The prediction a^L ``(n, u^L)`` for inputs X ``(n, u^0)``."""
        return self.forward_trace(X).output

    __call__ = forward

    def loss(self, X, Y):
        """L = mean((a^L - Y)^2)."""
        check_pair(X, Y, self)
        return self._loss(X, Y)

    def _loss(self, X, Y):
        return mse(self._forward_trace(X).output, Y)

    # ---------------------------------------------------------------- backward
    def backward(self, trace, Y):
        """The deltas and gradients of one forward pass.

        Returns ``(delta, D)``: ``delta[j]`` is delta^j ``(n, u^j)`` for
        ``j = 1..L`` (``delta[0]`` is None) and ``D[j]`` is D^j = dL/dtheta^j,
        shaped like ``theta[j]``.
        """
        if not isinstance(trace, Trace):
            raise TypeError(f"trace: expected the Trace of forward_trace, got {type(trace).__name__}")
        check_data("Y", Y, self.dtype, self.units[-1])
        if Y.shape[0] != trace.output.shape[0]:
            raise ValueError(f"Y: expected {trace.output.shape[0]} rows like the trace, got {Y.shape[0]}")
        return self._backward(trace, Y)

    def _backward(self, trace, Y):
        a, z = trace.a, trace.z
        L = self.L
        delta = [None] * (L + 1)
        D = [None] * L
        # backward through the loss and the output activation g_L
        g = self.g(L)
        delta[L] = mse_grad(a[L], Y) * g.g_prime(z[L], a[L])  # (n, u^L)
        for j in range(L - 1, -1, -1):
            # backward through theta^j: the gradient of the weights of layer j -> j+1
            D[j] = delta[j + 1].T @ a[j]  # (u^{j+1}, u^j + 1)
            if j > 0:
                # backward through g_j: carry delta to layer j, skipping the bias column
                g = self.g(j)
                delta[j] = (delta[j + 1] @ self.theta[j][:, 1:]) * g.g_prime(z[j], a[j][:, 1:])  # (n, u^j)
        return delta, D

    def loss_and_grad(self, X, Y):
        """``(L, D)``: the MSE loss and the gradients D^j = dL/dtheta^j (one per theta^j)."""
        check_pair(X, Y, self)
        return self._loss_and_grad(X, Y)

    def _loss_and_grad(self, X, Y):
        trace = self._forward_trace(X)
        _, D = self._backward(trace, Y)
        return mse(trace.output, Y), D

    # ------------------------------------------------------------------ report
    def describe(self):
        """A table of the layers: units, theta shape, parameters, activation, torch names."""
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
        return format_table(rows, left=range(len(rows[0])))

    # -------------------------------------------------------------------- file
    def save(self, path):
        """Write units, activations, dtype and every theta^j to an ``.npz`` file (no pickle)."""
        np.savez(
            path,
            units=np.asarray(self.units, dtype=np.int64),
            activations=np.asarray(self.activations, dtype=np.str_),
            dtype=np.asarray(self.dtype.name),
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
        net = cls.__new__(cls)
        try:
            net.units = _check_units(units)
            net.activations = _check_activations(activations, len(net.units) - 1)
            net.dtype = check_dtype("dtype", str(content["dtype"]))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"path: {path!r} holds a malformed model: {exc}") from None
        net.theta = []
        for j in range(net.L):
            key = f"theta_{j}"
            expected = (net.units[j + 1], net.units[j] + 1)
            if key not in content:
                raise ValueError(f"path: {path!r} holds a malformed model: no {key!r} entry")
            t = content[key]
            if t.shape != expected or t.dtype != net.dtype:
                raise ValueError(
                    f"path: {path!r} holds a malformed model: {key} is {t.dtype} {t.shape}, "
                    f"expected {net.dtype} {expected}"
                )
            if not np.all(np.isfinite(t)):
                raise ValueError(f"path: {path!r} holds a malformed model: {key} contains NaN or inf")
            net.theta.append(np.ascontiguousarray(t))
        return net

    def copy(self):
        """A deep copy (same units, activations, dtype; theta copied)."""
        net = MLP.__new__(MLP)
        net.units = list(self.units)
        net.activations = list(self.activations)
        net.dtype = self.dtype
        net.theta = [t.copy() for t in self.theta]
        return net


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
