r"""What each exercise should return, computed by scratchnn's own engine (no torch).

The same quantities as :mod:`.torch_reference`, keyed alike: ``(quantity, j, k)``
with ``j`` the layer and ``k`` the optimizer step (None outside the optimizer
exercises). ``sn.MLP(units, "tanh", float64)`` carries the case's theta;
``sn.SGD`` and ``sn.Adam`` follow ``torch.optim``'s formulas term for term.
"""

import numpy as np

from ..gradcheck import numerical_gradient as _central_differences
from ...mlp import MLP
from ...optimizers import SGD, Adam
from .cases import ADAM_SETTINGS, EPS, SGD_SETTINGS

NAME = "scratchnn's engine (sn.MLP, sn.SGD, sn.Adam)"
SHORT = "scratchnn"  # as the comparison tables name it


def net_of(case):
    """The case's net as an ``sn.MLP``: tanh on every layer, float64, theta copied from the case."""
    net = MLP(case.units, activations="tanh", dtype=np.float64)
    net.theta = [t.copy() for t in case.theta]
    return net


def forward_backward(case):
    """``(a, z, delta, D)`` of the case: every a^j, z^j, delta^j (j >= 1) and D^j of one forward and backward pass."""
    net = net_of(case)
    trace = net.forward_trace(case.X)
    delta, D = net.backward(trace, case.Y)
    return trace.a, trace.z, delta, D


def numerical_gradient(case):
    """Dnum^j by central differences of the engine's loss, with the checker's eps."""
    return _central_differences(net_of(case), case.X, case.Y, EPS)


def sgd_momentum(case):
    """theta^j and the buffer b^j after each step k of ``sn.SGD`` fed the case's gradients G[k]."""
    opt = SGD([t.copy() for t in case.theta], lr=SGD_SETTINGS["lr"], momentum=SGD_SETTINGS["momentum"])
    out = {}
    for k, G in enumerate(case.G, start=1):
        opt.step([g.copy() for g in G])
        for j in range(case.L):
            out["theta", j, k] = opt.theta[j].copy()
            out["buf", j, k] = opt.b[j].copy()
    return out


def adam(case):
    """theta^j, m^j and v^j after each step k of ``sn.Adam`` fed the case's gradients G[k]."""
    s = ADAM_SETTINGS
    opt = Adam([t.copy() for t in case.theta], lr=s["lr"], betas=(s["beta1"], s["beta2"]), eps=s["eps"])
    out = {}
    for k, G in enumerate(case.G, start=1):
        opt.step([g.copy() for g in G])
        for j in range(case.L):
            out["theta", j, k] = opt.theta[j].copy()
            out["m", j, k] = opt.m[j].copy()
            out["v", j, k] = opt.v[j].copy()
    return out
