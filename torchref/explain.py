r"""The worked example of ``scratchnn.teaching.explain``, computed by torch's autograd alone.

The net is rebuilt as torch's ``nn.Sequential`` (``to_torch``) and run module by
module, each pre-activation z^j kept with ``retain_grad()``. After the
backward pass of torch's loss module for the net's criterion (``nn.MSELoss``,
``nn.BCELoss`` or ``nn.CrossEntropyLoss``; see ``bridge.LOSSES``):

    δ^j = z^j.grad                                  (n, u^j)
    D^j = [bias.grad, weight.grad] of Linear j       (u^{j+1}, u^j + 1), bias in column 0

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

from .bridge import linears, loss_function, theta_of, to_torch, torch_targets

CAPTION = "autograd's values; the labels are the equations they should satisfy"


def _with_bias_unit(h):
    """[1, h] as a NumPy array, laid out as scratchnn's a^j (display only: torch adds the bias in Linear)."""
    return sn.mlp.with_bias_unit(h.detach().numpy())


def explain(net, X, Y):
    """a^j, z^j, δ^j = ∂𝓛/∂z^j, D^j = ∂𝓛/∂θ^j and 𝓛 of ``net`` on ``(X, Y)`` from torch autograd."""
    if not isinstance(net, sn.MLP):
        raise TypeError(f"net: expected a scratchnn.MLP, got {type(net).__name__}")
    targets = check_pair(X, Y, net)  # (n, u^L), shown in the walk; torch's loss below takes Y as given
    model = to_torch(net)
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
