r"""A worked example you can print: every quantity of one forward and backward pass.

``explain(net, X, Y)`` runs the forward pass and backpropagation of ``net`` on
``(X, Y)`` and keeps, indexed by layer exactly as ``forward_trace`` and
``backward`` index them,

    a[j]      a^j = [1, g_j(z^j)]       (n, u^j + 1) for j < L; a^L = g_L(z^L), (n, u^L)
    z[j]      z^j = a^{j-1} (θ^{j-1})ᵀ  (n, u^j), z[0] is None
    delta[j]  δ^j = ∂𝓛/∂z^j             (n, u^j), delta[0] is None
    D[j]      D^j = ∂𝓛/∂θ^j             (u^{j+1}, u^j + 1)
    loss      𝓛 = mean((a^L - Y)^2)

``str()`` walks the two passes layer by layer, each quantity beside the
equation that produced it, with its shape and its values (short arrays in
full, long ones abbreviated). ``torchref.explain`` computes the same
quantities with torch's autograd and returns the same type, and
``e.compare(other)`` is the table of their differences.
"""

import numpy as np

from .checks import check_pair
from .compare import Comparison, compare_arrays
from .losses import mse

FULL = 12  # arrays with at most this many entries are printed in full


def _values(A):
    """The values of ``A`` as indented text: in full when short, abbreviated (corners only) when long."""
    if A.size <= FULL:
        text = np.array2string(A, precision=6, floatmode="maxprec", max_line_width=100)
    else:
        text = np.array2string(A, precision=4, floatmode="maxprec", threshold=0, edgeitems=2, max_line_width=100)
    return "\n".join("    " + line for line in text.splitlines())


def _shape(A):
    return "(" + ", ".join(str(k) for k in np.shape(A)) + ")"


class Explanation:
    """The quantities of one forward and backward pass (see the module docstring), and where they came from.

    ``units``, ``activations`` (g_1 ... g_L, so ``activations[j - 1]`` is g_j) and
    ``dtype`` describe the net; ``source`` names the engine that computed them
    (``"scratchnn"`` or ``"torch"``).
    """

    def __init__(self, a, z, delta, D, loss, units, activations, dtype, source):
        self.a = a
        self.z = z
        self.delta = delta
        self.D = D
        self.loss = loss
        self.units = list(units)
        self.activations = list(activations)
        self.dtype = np.dtype(dtype)
        self.source = source

    @property
    def L(self):
        """The index of the output layer."""
        return len(self.units) - 1

    def steps(self):
        """The walk, in order: ``(name, layer, equation, value)`` for every quantity."""
        from .activations import get

        L = self.L
        out = [("a", 0, "a^0 = [1, X]", self.a[0])]
        for j in range(1, L + 1):
            g = get(self.activations[j - 1])
            out.append(("z", j, f"z^{j} = a^{j - 1} (θ^{j - 1})ᵀ", self.z[j]))
            if j < L:
                out.append(("a", j, f"a^{j} = [1, g_{j}(z^{j})],  g_{j}(z) = {g.formula}", self.a[j]))
            else:
                out.append(("a", j, f"a^{j} = g_{j}(z^{j}),  g_{j}(z) = {g.formula}   (output: no bias unit)", self.a[j]))
        out.append(("loss", None, "𝓛 = (1/(n u^L)) Σ_i Σ_s (a^L_is - y_is)²", np.asarray(self.loss)))
        g = get(self.activations[L - 1])
        out.append(("delta", L, f"δ^{L} = (2/(n u^L)) (a^{L} - Y) ⊙ g_{L}'(z^{L}),  g_{L}'(z) = {g.derivative}",
                    self.delta[L]))
        for j in range(L - 1, -1, -1):
            out.append(("D", j, f"D^{j} = (δ^{j + 1})ᵀ a^{j}", self.D[j]))
            if j > 0:
                g = get(self.activations[j - 1])
                out.append(("delta", j, f"δ^{j} = (δ^{j + 1} θ^{j}[:, 1:]) ⊙ g_{j}'(z^{j}),  g_{j}'(z) = {g.derivative}",
                            self.delta[j]))
        return out

    def __str__(self):
        net = "-".join(str(u) for u in self.units)
        n = self.a[0].shape[0]
        lines = [
            f"Explanation ({self.source}): {net} net, activations g_1..g_{self.L} = {', '.join(self.activations)}, "
            f"{self.dtype.name}, n = {n} point{'s' if n != 1 else ''}"
        ]
        part = {"a": "Forward pass", "z": "Forward pass", "loss": "Loss", "delta": "Backward pass", "D": "Backward pass"}
        heading = None
        for name, layer, equation, value in self.steps():
            if part[name] != heading:
                heading = part[name]
                lines += ["", heading]
            if name == "loss":
                lines.append(f"{equation} = {float(value):.10g}")
            else:
                lines.append(f"{equation}    shape {_shape(value)}")
                lines.append(_values(value))
        return "\n".join(lines)

    __repr__ = __str__

    def compare(self, other, rtol=None):
        """The per-quantity table against ``other`` (the reference): a :class:`~scratchnn.compare.Comparison`.

        One row per a^j, z^j, 𝓛, δ^j and D^j, in the order of the walk; ``rtol`` defaults by dtype
        (see :mod:`scratchnn.compare`).
        """
        if not isinstance(other, Explanation):
            raise TypeError(f"other: expected an Explanation (sn.explain or torchref.explain), got {type(other).__name__}")
        if other.units != self.units:
            raise ValueError(f"other: expected an explanation of a {self.units} net, got {other.units}")
        mine = {(name, layer): value for name, layer, _, value in self.steps()}
        rows = [compare_arrays(name, layer, mine[(name, layer)], value, rtol=rtol)
                for name, layer, _, value in other.steps()]
        return Comparison(rows, mine=self.source, ref=other.source)


def explain(net, X, Y):
    """Every a^j, z^j, δ^j, D^j and the loss of ``net`` on ``(X, Y)``, as an :class:`Explanation`."""
    from .mlp import MLP

    if not isinstance(net, MLP):
        raise TypeError(f"net: expected a scratchnn.MLP, got {type(net).__name__}")
    check_pair(X, Y, net)
    trace = net.forward_trace(X)
    delta, D = net.backward(trace, Y)
    return Explanation(trace.a, trace.z, delta, D, mse(trace.output, Y), net.units, net.activations, net.dtype,
                       "scratchnn")
