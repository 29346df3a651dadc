r"""The worked example of ``scratchnn.teaching.explain``, computed by torch's autograd alone.

The net is rebuilt as torch's ``nn.Sequential`` (``to_torch``) and run module by
module, each pre-activation z^j kept with ``retain_grad()``. After the
backward pass of torch's loss module for the net's criterion (``nn.MSELoss``,
``nn.BCELoss`` or ``nn.CrossEntropyLoss``; see ``bridge.LOSSES``):

    δ^j = z^j.grad                                  (n, u^j)
    D^j = [bias.grad, weight.grad] of Linear j       (u^{j+1}, u^j + 1), bias in column 0

A net with a norm or dropout is walked module by module too: μ^j, σ²^j are torch's statistics
(``var_mean`` of z^j over the norm's axis, or batch norm's running buffers in eval mode), z̃^j the
norm module's output, ẑ^j = (z̃^j − β^j)/γ^j read back from it, the mask the draw torch's dropout
makes (``torch.rand(shape, float64) < 1 − p``, with torch's generator put at the net's position,
``bridge.torch_rng_state``), and dγ^j, dβ^j the norm's ``weight.grad`` and ``bias.grad``.

No formula of scratchnn's backward pass is used: the a^j are shown with their
bias unit prepended, which is only how scratchnn lays them out, θ^j is read back
from the Linear modules (``theta_of``), and Y is shown as the (n, u^L) targets
(class indices as one-hot rows, while torch's loss takes the indices). The walk
prints the equations beside these values: they are autograd's values, and the
labels are the equations they should satisfy (:data:`CAPTION`).
"""

import torch

import scratchnn as sn
from scratchnn.checks import check_pair
from scratchnn.teaching.explain import Explanation

from .bridge import NORM_NAMES, linears, loss_function, norms, theta_of, to_torch, torch_rng_state, torch_targets

CAPTION = "autograd's values; the labels are the equations they should satisfy"


def _with_bias_unit(h):
    """[1, h] as a NumPy array, laid out as scratchnn's a^j (display only: torch adds the bias in Linear)."""
    return sn.mlp.with_bias_unit(h.detach().numpy())


def explain(net, X, Y):
    """a^j, z^j, δ^j = ∂𝓛/∂z^j, D^j = ∂𝓛/∂θ^j and 𝓛 of ``net`` on ``(X, Y)`` from torch autograd."""
    if not isinstance(net, sn.MLP):
        raise TypeError(f"net: expected a scratchnn.MLP, got {type(net).__name__}")
    targets = check_pair(X, Y, net)  # (n, u^L), shown in the walk; torch's loss below takes Y as given
    saved = torch.get_rng_state()
    model = to_torch(net)
    if not (net.norm or net.dropout):
        return _explain_plain(net, model, X, Y, targets)
    torch.set_rng_state(torch_rng_state(net.generator))  # torch's dropout draws what the net would draw next
    try:
        return _explain_parts(net, model, X, Y, targets)
    finally:
        torch.set_rng_state(saved)


def _explain_plain(net, model, X, Y, targets):
    modules = list(model)
    h = torch.from_numpy(X)
    a, z = [_with_bias_unit(h)], [None]
    z_t = [None]
    for j in range(net.L):
        zj = modules[2 * j](h)  # nn.Linear j: z^{j+1}
        zj.retain_grad()
        h = modules[2 * j + 1](zj)  # the activation g_{j+1}
        z_t.append(zj)
        z.append(zj.detach().numpy().copy())
        a.append(h.detach().numpy().copy() if j + 1 == net.L else _with_bias_unit(h))
    loss = loss_function(net.criterion)(h, torch_targets(Y))  # class indices stay indices, as torch takes them
    loss.backward()
    delta = [None] + [zj.grad.numpy().copy() for zj in z_t[1:]]
    D = [torch.cat([m.bias.grad[:, None], m.weight.grad], dim=1).numpy().copy() for m in linears(model)]
    return Explanation(a, z, delta, D, loss.detach().numpy()[()], net.units, net.activations, net.dtype, "torch",
                       net.criterion, theta=theta_of(model), Y=targets.copy(), caption=CAPTION)


def _explain_parts(net, model, X, Y, targets):
    """The walk of ``nn.Sequential(Linear, [Norm], act, [Dropout], …)``, module by module."""
    L = net.L
    numpy = lambda t: t.detach().numpy().copy()  # noqa: E731
    parts = {name: [None] * (L + 1) for name in ("mu", "var", "z_hat", "gamma", "beta", "z_tilde", "mask",
                                                  "dgamma", "dbeta")}
    h = torch.from_numpy(X)
    a, z, z_t = [_with_bias_unit(h)], [None], [None]
    j = 0
    for m in model:
        if isinstance(m, torch.nn.Linear):
            if j > 0:
                a.append(_with_bias_unit(h))  # a^j: what the next Linear takes
            j += 1
            h = m(h)  # z^j
            h.retain_grad()
            z_t.append(h)
            z.append(numpy(h))
        elif type(m) in NORM_NAMES:
            zj = h
            if isinstance(m, torch.nn.BatchNorm1d) and not m.training:
                mu, var = m.running_mean, m.running_var
            else:
                var, mu = torch.var_mean(zj.detach(), dim=0 if isinstance(m, torch.nn.BatchNorm1d) else 1,
                                         keepdim=True, unbiased=False)
            parts["mu"][j], parts["var"][j] = numpy(mu), numpy(var)
            h = m(zj)  # z̃^j
            parts["z_tilde"][j] = numpy(h)
            parts["z_hat"][j] = numpy((h - m.bias) / m.weight)  # read back from torch's output (display)
            parts["gamma"][j], parts["beta"][j] = numpy(m.weight), numpy(m.bias)
        elif isinstance(m, torch.nn.Dropout):
            if m.training and m.p > 0:
                state = torch.get_rng_state()
                parts["mask"][j] = (torch.rand(h.shape, dtype=torch.float64) < 1 - m.p).numpy().astype(net.dtype)
                torch.set_rng_state(state)  # the module draws the same numbers again
            h = m(h)
        else:
            h = m(h)  # the activation g_j
    a.append(numpy(h))  # a^L
    loss = loss_function(net.criterion)(h, torch_targets(Y))
    loss.backward()
    delta = [None] + [zj.grad.numpy().copy() for zj in z_t[1:]]
    D = [torch.cat([m.bias.grad[:, None], m.weight.grad], dim=1).numpy().copy() for m in linears(model)]
    for k, m in enumerate(norms(model), start=1):
        parts["dgamma"][k], parts["dbeta"][k] = numpy(m.weight.grad), numpy(m.bias.grad)
    if not net.norm:
        parts = {"mask": parts["mask"]}
    return Explanation(a, z, delta, D, loss.detach().numpy()[()], net.units, net.activations, net.dtype, "torch",
                       net.criterion, theta=theta_of(model), Y=targets.copy(), caption=CAPTION, norm=net.norm,
                       dropout=net.dropout, training=net.training, parts=parts)
