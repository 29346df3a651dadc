r"""A worked example you can print: every quantity of one forward and backward pass.

``explain(net, X, Y)`` runs the forward pass and backpropagation of ``net`` on
``(X, Y)`` and keeps, indexed by layer exactly as ``forward_trace`` and
``backward`` index them,

    theta[j]  θ^j, the weights used      (u^{j+1}, u^j + 1), bias in column 0
    Y         the targets                (n, u^L) (class indices as one-hot rows)
    a[j]      a^j = [1, g_j(z^j)]       (n, u^j + 1) for j < L; a^L = g_L(z^L), (n, u^L)
    z[j]      z^j = a^{j-1} (θ^{j-1})ᵀ  (n, u^j), z[0] is None
    delta[j]  δ^j = ∂𝓛/∂z^j             (n, u^j), delta[0] is None
    D[j]      D^j = ∂𝓛/∂θ^j             (u^{j+1}, u^j + 1)
    loss      𝓛, the net's criterion (mse, bce or cross_entropy; see ``losses``)

and for a net with a norm or dropout (``parts``, each a list indexed by the hidden layer j,
None elsewhere; see :mod:`scratchnn.norms`)

    mu, var   μ^j, σ²^j of the normalisation (batch norm in eval mode: the running statistics)
    z_hat     ẑ^j = (z^j − μ^j)/√(σ²^j + ε)          (n, u^j)
    gamma, beta, z_tilde   γ^j, β^j (given) and z̃^j = γ^j ⊙ ẑ^j + β^j
    mask      the dropout keep-mask^j, as 0/1         (n, u^j), training mode only
    dgamma, dbeta          dγ^j = ∂𝓛/∂γ^j, dβ^j = ∂𝓛/∂β^j   (u^j,)

``str()`` walks the two passes layer by layer, each quantity beside the
equation that produced it (θ^j and Y beside their names), with its shape and
its values (short arrays in full, long ones abbreviated); the index convention
of the notation (:data:`INDICES`) heads it. ``torchref.explain`` computes the
same quantities with torch's autograd and returns the same type, and
``e.compare(other)`` is the table of their differences, headed by a warning
when the two were computed from different θ^j, X or Y.
"""

import numpy as np

from .. import losses as _losses
from ..checks import check_pair
from .compare import Comparison, compare_arrays

FULL = 12  # arrays with at most this many entries are printed in full

# the notation's indices (docs/notation.md, tutorial 2), as the walk prints them
INDICES = ("Indices count from 1: row i is data point i, column s unit s, after the bias unit 0 in a^j, θ^j, D^j.\n"
           "Row s of θ^j and D^j is unit s of layer j+1: θ^j_{sk} carries unit k of layer j to unit s of layer j+1.")
INPUTS = ("theta", "Y", "gamma", "beta")  # given, not computed: printed in the walk, not compared as results
PARTS = ("mu", "var", "z_hat", "gamma", "beta", "z_tilde", "mask", "dgamma", "dbeta")  # a norm's and dropout's

# criterion -> (𝓛, δ^L) as printed; δ^L in the derived form the engine computes (see ``losses``)
EQUATIONS = {
    "mse": ("𝓛 = (1/(n u^L)) Σ_i Σ_s (a^L_is - y_is)²",
            "δ^{L} = (2/(n u^L)) (a^{L} - Y) ⊙ g_{L}'(z^{L}),  g_{L}'(z) = {derivative}"),
    "bce": ("𝓛 = -(1/(n u^L)) Σ_i Σ_s [y_is log a^L_is + (1 - y_is) log(1 - a^L_is)]",
            "δ^{L} = (a^{L} - Y) / (n u^L)   (σ'(z^{L}) = a(1 - a) cancels against ∂𝓛/∂a^{L})"),
    "cross_entropy": ("𝓛 = -(1/n) Σ_i Σ_s y_is log softmax(z^L_i)_s",
                      "δ^{L} = (softmax(z^{L}) - Y) / n   (Y as one-hot rows)"),
}


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

    ``units``, ``activations`` (g_1 ... g_L, so ``activations[j - 1]`` is g_j),
    ``dtype`` and ``criterion`` describe the net; ``source`` names the engine that
    computed them (``"scratchnn"`` or ``"torch"``), and ``caption``, when given, says
    under the heading how to read its values. ``theta`` (θ^0 … θ^{L-1}) and ``Y`` (the
    targets, ``(n, u^L)``) are what the pass was computed from.
    """

    def __init__(self, a, z, delta, D, loss, units, activations, dtype, source, criterion="mse", *, theta, Y,
                 caption="", norm=None, dropout=0.0, training=True, parts=None):
        self.norm, self.dropout, self.training = norm, dropout, training
        self.parts = parts or {}  # name in PARTS -> list by layer (only for a net with a norm or dropout)
        self.theta = theta
        self.Y = Y
        self.caption = caption
        self.a = a
        self.z = z
        self.delta = delta
        self.D = D
        self.loss = loss
        self.units = list(units)
        self.activations = list(activations)
        self.dtype = np.dtype(dtype)
        self.source = source
        self.criterion = _losses.get(criterion).name

    @property
    def L(self):
        """The index of the output layer."""
        return len(self.units) - 1

    def steps(self):
        """The walk, in order: ``(name, layer, equation, value)`` for every quantity, θ^j and Y included."""
        from ..activations import get

        L = self.L
        out = [("a", 0, "a^0 = [1, X]", self.a[0])]
        for j in range(1, L + 1):
            g = get(self.activations[j - 1])
            out.append(("theta", j - 1, f"θ^{j - 1}: weights from layer {j - 1} to layer {j}, bias in column 0",
                        self.theta[j - 1]))
            out.append(("z", j, f"z^{j} = a^{j - 1} (θ^{j - 1})ᵀ", self.z[j]))
            if j < L and self.parts:
                out += self._hidden_steps(j, g)
            elif j < L:
                out.append(("a", j, f"a^{j} = [1, g_{j}(z^{j})],  g_{j}(z) = {g.formula}", self.a[j]))
            else:
                out.append(("a", j, f"a^{j} = g_{j}(z^{j}),  g_{j}(z) = {g.formula}   (output: no bias unit)", self.a[j]))
        loss_text, delta_text = EQUATIONS[self.criterion]
        out.append(("Y", None, "Y: the targets", self.Y))
        out.append(("loss", None, loss_text, np.asarray(self.loss)))
        out.append(("delta", L, delta_text.format(L=L, derivative=get(self.activations[L - 1]).derivative),
                    self.delta[L]))
        for j in range(L - 1, -1, -1):
            out.append(("D", j, f"D^{j} = (δ^{j + 1})ᵀ a^{j}", self.D[j]))
            if j > 0 and self.parts:
                out += self._hidden_backward_steps(j, get(self.activations[j - 1]))
            elif j > 0:
                g = get(self.activations[j - 1])
                out.append(("delta", j, f"δ^{j} = (δ^{j + 1} θ^{j}[:, 1:]) ⊙ g_{j}'(z^{j}),  g_{j}'(z) = {g.derivative}",
                            self.delta[j]))
        return out

    def _hidden_steps(self, j, g):
        """The forward steps of hidden layer j after z^j: the norm's μ, σ², ẑ, γ, β, z̃, the mask, a^j."""
        P, out = self.parts, []
        z = f"z^{j}"
        if self.norm:
            over = "the points i" if self.norm == "batch" else "the units s"
            if self.norm == "batch" and not self.training:
                out.append(("mu", j, f"μ^{j} = running_mean^{j}   (eval mode)", P["mu"][j]))
                out.append(("var", j, f"σ²^{j} = running_var^{j}   (eval mode: unbiased, Bessel)", P["var"][j]))
            else:
                out.append(("mu", j, f"μ^{j} = mean of z^{j} over {over}", P["mu"][j]))
                out.append(("var", j, f"σ²^{j} = mean of (z^{j} − μ^{j})² over {over}   (biased)", P["var"][j]))
            out.append(("z_hat", j, f"ẑ^{j} = (z^{j} − μ^{j}) / √(σ²^{j} + ε),  ε = 1e-5", P["z_hat"][j]))
            out.append(("gamma", j, f"γ^{j}: the norm's scale", P["gamma"][j]))
            out.append(("beta", j, f"β^{j}: the norm's shift", P["beta"][j]))
            out.append(("z_tilde", j, f"z̃^{j} = γ^{j} ⊙ ẑ^{j} + β^{j}", P["z_tilde"][j]))
            z = f"z̃^{j}"
        if P.get("mask") and P["mask"][j] is not None:
            out.append(("mask", j, f"mask^{j} = (torch.rand(n, u^{j}) < 1 − p),  p = {self.dropout}", P["mask"][j]))
            out.append(("a", j, f"a^{j} = [1, g_{j}({z}) ⊙ mask^{j} / (1 − p)],  g_{j}(z) = {g.formula}", self.a[j]))
        else:
            out.append(("a", j, f"a^{j} = [1, g_{j}({z})],  g_{j}(z) = {g.formula}", self.a[j]))
        return out

    def _hidden_backward_steps(self, j, g):
        """dγ^j, dβ^j and δ^j of hidden layer j, from δ̃^j = ∂𝓛/∂z̃^j."""
        P = self.parts
        dropped = " ⊙ mask^{j} / (1 − p)".format(j=j) if P.get("mask") and P["mask"][j] is not None else ""
        z = f"z̃^{j}" if self.norm else f"z^{j}"
        tilde = f"δ̃^{j} = (δ^{j + 1} θ^{j}[:, 1:]){dropped} ⊙ g_{j}'({z}),  g_{j}'(z) = {g.derivative}"
        if not self.norm:
            return [("delta", j, tilde.replace(f"δ̃^{j}", f"δ^{j}", 1), self.delta[j])]
        if self.norm == "batch" and not self.training:
            delta = f"δ^{j} = δ̃^{j} ⊙ γ^{j} / √(running_var^{j} + ε)   (eval mode),  {tilde}"
        else:
            delta = (f"δ^{j} = (dẑ − mean(dẑ) − ẑ^{j} ⊙ mean(dẑ ⊙ ẑ^{j})) / √(σ²^{j} + ε),  dẑ = δ̃^{j} ⊙ γ^{j},  "
                     f"{tilde}")
        return [("dgamma", j, f"dγ^{j} = Σ_i δ̃^{j} ⊙ ẑ^{j}", P["dgamma"][j]),
                ("dbeta", j, f"dβ^{j} = Σ_i δ̃^{j}", P["dbeta"][j]),
                ("delta", j, delta, self.delta[j])]

    def __str__(self):
        net = "-".join(str(u) for u in self.units)
        n = self.a[0].shape[0]
        lines = [
            f"Explanation ({self.source}): {net} net, activations g_1..g_{self.L} = {', '.join(self.activations)}, "
            f"{self.dtype.name}, criterion {self.criterion}, n = {n} point{'s' if n != 1 else ''}"
        ]
        lines += [self.caption] if self.caption else []
        lines += ["", INDICES]
        part = {"a": "Forward pass", "theta": "Forward pass", "z": "Forward pass", "Y": "Loss", "loss": "Loss",
                "delta": "Backward pass", "D": "Backward pass", "dgamma": "Backward pass", "dbeta": "Backward pass"}
        part.update({name: "Forward pass" for name in PARTS if name not in part})
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
        """The per-quantity table against ``other`` (the reference): a :class:`~scratchnn.teaching.compare.Comparison`.

        One row per a^j, z^j, 𝓛, δ^j and D^j, in the order of the walk; ``rtol`` defaults by dtype
        (see :mod:`scratchnn.teaching.compare`). When the two were computed from different X, Y or
        θ^j (not equal entry for entry), a warning above the table names them: rows that are not
        close are then expected, not a bug.
        """
        if not isinstance(other, Explanation):
            raise TypeError(f"other: expected an Explanation (sn.explain or torchref.explain), got {type(other).__name__}")
        if (other.units, other.criterion) != (self.units, self.criterion):
            raise ValueError(f"other: expected an explanation of a {self.units} net with criterion {self.criterion}, "
                             f"got {other.units} with {other.criterion}")
        if (other.norm, other.dropout, other.training) != (self.norm, self.dropout, self.training):
            raise ValueError(f"other: expected an explanation of a net with norm {self.norm}, dropout {self.dropout} in "
                             f"{'training' if self.training else 'eval'} mode, got norm {other.norm}, dropout "
                             f"{other.dropout} in {'training' if other.training else 'eval'} mode")
        mine = {(name, layer): value for name, layer, _, value in self.steps()}
        rows = [compare_arrays(name, layer, mine[(name, layer)], value, rtol=rtol)
                for name, layer, _, value in other.steps() if name not in INPUTS]
        differ = []
        for (name, given), (_, ref) in zip(self._inputs(), other._inputs()):
            if given.shape != ref.shape:
                differ.append(f"{name} (shape {_shape(given)} against {_shape(ref)})")
            elif not np.array_equal(given, ref):
                differ.append(f"{name} (max abs diff {np.max(np.abs(given.astype(np.float64) - ref)):.2e})")
        warning = ""
        if differ:
            warning = (f"Warning: these two explanations were computed from different {', '.join(differ)}.\n"
                       f"Rows that are not close are expected: they compare two different passes, not two engines.")
        return Comparison(rows, mine=self.source, ref=other.source, warning=warning)

    def _inputs(self):
        """``(name, array)`` of what the pass was computed from: X, Y, θ^0 … θ^{L-1}."""
        return [("X", self.a[0][:, 1:]), ("Y", self.Y)] + [(f"θ^{j}", t) for j, t in enumerate(self.theta)]


def explain(net, X, Y):
    """Every a^j, z^j, δ^j, D^j and the loss of ``net`` on ``(X, Y)``, as an :class:`Explanation`.

    ``Y``: the targets ``net.criterion`` takes (class indices ``(n,)`` for ``cross_entropy`` too).
    A net with a norm or dropout is explained in its mode and left as it was: the pass runs on a
    copy, so in training mode it shows the masks the net's next forward pass will draw (those
    ``torchref.explain`` draws too) and moves no running statistics.
    """
    from ..mlp import MLP

    if not isinstance(net, MLP):
        raise TypeError(f"net: expected a scratchnn.MLP, got {type(net).__name__}")
    targets = check_pair(X, Y, net)  # (n, u^L); class indices become one-hot rows
    if net.norm or net.dropout:
        net = net.copy()  # its generator and running statistics move, not the caller's
    trace = net.forward_trace(X)
    delta, D = net.backward(trace, targets)
    L = net.L
    loss = _losses.get(net.criterion).loss(trace.a[L], trace.z[L], targets)
    parts = None
    if net.norm or net.dropout:
        hidden = range(1, L)
        layered = lambda values: [None] + [values[j - 1].copy() for j in hidden] + [None]  # noqa: E731
        parts = {"mask": [None if m is None else m.astype(net.dtype) for m in trace.mask]}
        if net.norm:
            parts.update(mu=list(trace.mu), var=list(trace.var), z_hat=list(trace.z_hat), z_tilde=list(trace.z_tilde),
                         gamma=layered(net.gamma), beta=layered(net.beta), dgamma=[None] + D[L:2 * L - 1] + [None],
                         dbeta=[None] + D[2 * L - 1:] + [None])
            parts["z_tilde"][L] = None
    return Explanation(trace.a, trace.z, delta, D[:L], loss, net.units, net.activations, net.dtype, "scratchnn",
                       net.criterion, theta=[t.copy() for t in net.theta], Y=targets.copy(), norm=net.norm,
                       dropout=net.dropout, training=net.training, parts=parts)
