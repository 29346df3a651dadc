r"""Gradient checking by central differences (the recipe of Ng's ex4).

For every entry theta^j_{sk}:

    Dnum^j_{sk} = (L(theta + eps e_{sk}) - L(theta - eps e_{sk})) / (2 eps)

and per layer the relative error

    r^j = ||Dnum^j - D^j|| / ||Dnum^j + D^j||      (Frobenius norms)

which is ~1e-10 for a correct backward pass in float64 and ~1e-3 or more
when a gradient entry is wrong. The check passes when every r^j < ``tol``.
A net with a norm is checked in γ^j and β^j the same way (every entry of ``net.params``,
one r per array), in evaluation mode or with dropout 0, where the loss is a deterministic
function of the parameters.
Central differences err by O(eps^2) (truncation) plus rounding: the loss is
known only to about u 𝓛 (u the unit round-off), so the difference quotient
errs by about u 𝓛 / eps, a relative error of u 𝓛 / (eps |D|) — small
gradients of a large loss need a larger eps. float32 (u = 6e-8) therefore
needs a far larger eps and tol than float64 (u = 1.1e-16); tutorial 3 measures it.
"""

import numpy as np

from ..checks import check_pair, check_real

DEFAULTS = {  # dtype -> (eps, tol)
    np.dtype(np.float64): (1e-6, 1e-7),
    np.dtype(np.float32): (1e-2, 1e-2),  # u ~ 6e-8: the rounding term u 𝓛/(eps |D|) dominates below eps ~ 1e-3
}


class GradcheckResult:
    """``passed``, ``max_rel_error`` and ``per_layer`` (one dict per theta^j, then per γ^j and β^j of a norm:
    ``name`` says which, ``j`` is its layer index in the notation)."""

    def __init__(self, per_layer, tol):
        self.per_layer = per_layer
        self.tol = tol
        self.max_rel_error = max(r["rel_error"] for r in per_layer)
        self.passed = bool(self.max_rel_error < tol)

    def __repr__(self):
        lines = [f"gradcheck {'passed' if self.passed else 'FAILED'}: max relative error {self.max_rel_error:.3g} (tol {self.tol:g})"]
        for r in self.per_layer:
            lines.append(
                f"  {r.get('name', 'theta')}^{r['j']}: relative error {r['rel_error']:.3g}, worst entry {r['worst_entry']} "
                f"(analytic {r['analytic']:.6g}, numeric {r['numeric']:.6g})"
            )
        return "\n".join(lines)


def numerical_gradient(net, X, Y, eps, l2=0.0):
    """Dnum^j for every j by central differences of ``net.loss_unchecked`` (theta is restored).

    One array per entry of ``net.params`` (θ^j, then γ^j and β^j of a norm). Batch norm's running
    statistics, which a training-mode forward pass moves, are restored too.
    X, Y already checked: Y the criterion's ``(n, u^L)`` targets (as ``check_pair`` returns them);
    ``l2``: λ >= 0, as in ``loss_and_grad``.
    """
    running = [(r, r.copy()) for r in net.running_mean + net.running_var]
    Dnum = []
    for theta in net.params:
        G = np.zeros(theta.shape, dtype=np.float64)
        for idx in np.ndindex(theta.shape):
            saved = theta[idx]
            theta[idx] = saved + eps
            plus = float(net.loss_unchecked(X, Y, l2))
            theta[idx] = saved - eps
            minus = float(net.loss_unchecked(X, Y, l2))
            theta[idx] = saved
            G[idx] = (plus - minus) / (2 * eps)
        Dnum.append(G)
    for r, saved in running:
        r[...] = saved
    return Dnum


def gradcheck(net, X, Y, eps=None, tol=None, l2=0.0):
    """Compare ``net.loss_and_grad`` with central differences, layer by layer.

    The loss is the net's criterion (plus the L2 term with ``l2=λ``); Y the targets it takes.
    ``eps`` and ``tol`` default by dtype: float64 (1e-6, 1e-7), float32 (1e-2, 1e-2).
    A net with dropout must be in evaluation mode (``net.eval()``): in training mode every loss
    draws new masks, and the differences would measure the masks, not the gradient.
    """
    if net.dropout and net.training:
        raise ValueError(f"net: with dropout {net.dropout} in training mode every forward pass draws new masks; "
                         f"gradcheck needs a deterministic loss: call net.eval() first (or use dropout=0)")
    targets = check_pair(X, Y, net)  # the criterion's (n, u^L) targets: class indices become one-hot rows
    default_eps, default_tol = DEFAULTS[net.dtype]
    eps = default_eps if eps is None else check_real("eps", eps, low=0.0, low_open=True)
    tol = default_tol if tol is None else check_real("tol", tol, low=0.0, low_open=True)
    l2 = check_real("l2", l2, low=0.0)
    running = [r.copy() for r in net.running_mean + net.running_var]
    _, D = net.loss_and_grad(X, Y, l2=l2)  # the public method: the one a planted mistake replaces
    for r, saved in zip(net.running_mean + net.running_var, running):
        r[...] = saved  # the differences below start from the same running statistics
    Dnum = numerical_gradient(net, X, targets, eps, l2)
    L, hidden = net.L, len(net.gamma)
    names = [("theta", j) for j in range(L)] + [("gamma", j) for j in range(1, hidden + 1)] + [
        ("beta", j) for j in range(1, hidden + 1)]
    per_layer = []
    for (name, j), d, dn in zip(names, D, Dnum):
        d = d.astype(np.float64)
        denom = np.linalg.norm(dn + d)
        rel = np.linalg.norm(dn - d) / denom if denom > 0 else 0.0
        worst = np.unravel_index(np.argmax(np.abs(dn - d)), d.shape)
        per_layer.append(
            {
                "name": name,
                "j": j,
                "rel_error": float(rel),
                "max_abs_error": float(np.max(np.abs(dn - d))),
                "worst_entry": tuple(int(k) for k in worst),
                "analytic": float(d[worst]),
                "numeric": float(dn[worst]),
            }
        )
    return GradcheckResult(per_layer, tol)
