r"""What each exercise should return, computed by scratchnn's own engine (no torch).

The same quantities as :mod:`.torch_reference`, keyed alike: ``(quantity, j, k)``
with ``j`` the layer and ``k`` the optimizer step (None outside the optimizer
exercises). ``sn.MLP(units, "tanh", float64)`` carries the case's theta;
``sn.SGD``, ``sn.Adam``, ``sn.AdamW`` and ``sn.RMSprop`` follow ``torch.optim``'s formulas term
for term. The backprop-ninja quantities (batch norm, layer norm, dropout, the fused
softmax-cross-entropy delta) come from the engine's :mod:`scratchnn.norms` (batch norm, layer
norm, dropout) and are written out here otherwise, in the notation of tutorial 9:

    μ = mean_i z_i,  σ² = mean_i (z_i − μ)²  (biased),  ẑ = (z − μ)/√(σ² + ε),  y = γ ⊙ ẑ + β
    dẑ = dy ⊙ γ,  dz = (dẑ − mean_i dẑ − ẑ ⊙ mean_i(dẑ ⊙ ẑ)) / √(σ² + ε)
    dγ = Σ_i dy ⊙ ẑ,  dβ = Σ_i dy
    (batch norm: means over the points i, axis 0; layer norm: over the units, axis 1)
    dropout: d_input = da ⊙ mask / (1 − p);   cross-entropy: δ^L = (softmax(z) − onehot(labels)) / n
"""

import numpy as np

from ..gradcheck import numerical_gradient as _central_differences
from ... import norms
from ...mlp import MLP
from ...optimizers import SGD, Adam, AdamW, RMSprop
from .cases import ADAM_SETTINGS, ADAMW_SETTINGS, EPS, RMSPROP_SETTINGS, SGD_SETTINGS

NAME = "scratchnn's engine (sn.MLP and its optimizers)"
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


def _steps(case, opt, state):
    """theta^j and ``state`` (name -> the optimizer's list of arrays) after each step k fed the case's G[k]."""
    out = {}
    for k, G in enumerate(case.G, start=1):
        opt.step([g.copy() for g in G])
        for j in range(case.L):
            out["theta", j, k] = opt.theta[j].copy()
            for name, arrays in state.items():
                out[name, j, k] = getattr(opt, arrays)[j].copy()
    return out


def adamw(case):
    """theta^j, m^j and v^j after each step k of ``sn.AdamW`` fed the case's gradients G[k]."""
    s = ADAMW_SETTINGS
    opt = AdamW([t.copy() for t in case.theta], lr=s["lr"], betas=(s["beta1"], s["beta2"]), eps=s["eps"],
                weight_decay=s["weight_decay"])
    return _steps(case, opt, {"m": "m", "v": "v"})


def rmsprop(case):
    """theta^j and the running mean of D² after each step k of ``sn.RMSprop`` fed the case's gradients G[k]."""
    s = RMSPROP_SETTINGS
    opt = RMSprop([t.copy() for t in case.theta], lr=s["lr"], alpha=s["alpha"], eps=s["eps"])
    return _steps(case, opt, {"sq": "square_avg"})


def _normalize(b, axis):
    """y, dz, dgamma, dbeta of a norm whose statistics run over ``axis`` (0: batch norm, 1: layer norm),
    by the engine's own forward and backward (:func:`scratchnn.norms.normalize`, ``normalize_backward``)."""
    y, z_hat, _, var = norms.normalize(b.z, b.gamma, b.beta, axis, b.eps)  # σ² biased, as torch normalises
    dz, dgamma, dbeta = norms.normalize_backward(b.dy, z_hat, b.gamma, var, axis, b.eps)
    return {"y": y, "dz": dz, "dgamma": dgamma, "dbeta": dbeta}


def batchnorm(case):
    """Batch norm in training mode on ``case.ninja``: y, and dz, dγ, dβ from dy."""
    return _normalize(case.ninja, axis=0)


def layernorm(case):
    """Layer norm over the last axis on ``case.ninja``: y, and dz, dγ, dβ from dy."""
    return _normalize(case.ninja, axis=1)


def dropout(case):
    """The gradient with respect to inverted dropout's input: da ⊙ mask / (1 − p) (:func:`scratchnn.norms.dropout_backward`)."""
    b = case.ninja
    return norms.dropout_backward(b.da, norms.dropout_scale(b.mask, b.p, b.da.dtype))


def cross_entropy(case):
    """δ^L = ∂𝓛/∂z^L of the mean cross-entropy of softmax(z): (softmax(z) − onehot(labels)) / n."""
    b = case.ninja
    e = np.exp(b.logits - b.logits.max(axis=1, keepdims=True))
    softmax = e / e.sum(axis=1, keepdims=True)
    onehot = np.eye(b.logits.shape[1])[b.labels]
    return (softmax - onehot) / b.logits.shape[0]
