r"""What each exercise should return, computed by torch: autograd and ``torch.optim``.

The exercises' only module that imports torch, and only when it is imported
itself (the checker imports it when torch is installed); elsewhere in scratchnn
torch is reached through :mod:`torchref`, by the applications' torch twin
(:mod:`scratchnn.apps.run`). Quantities are keyed as in :mod:`.reference`.

    a^0 = [1, X],  z^{j+1} = a^j (theta^j)^T,  a^{j+1} = [1, tanh z^{j+1}],  a^L = tanh z^L
    L   = mse_loss(a^L, Y)                       (the mean over all n u^L entries)
    delta^j = dL/dz^j = z^j.grad,  D^j = dL/dtheta^j = theta^j.grad

theta^j is one tensor here (bias in column 0), not an ``nn.Linear``: the
exercises work with the matrices, and autograd does not care.

The backprop-ninja quantities come from torch's own functions: ``F.batch_norm`` in
training mode and ``F.layer_norm`` (autograd for dz, dγ, dβ), the backward of
``torch.native_dropout`` given the mask, and ``F.cross_entropy`` (autograd for δ^L).
"""

import numpy as np
import torch

from .cases import ADAM_SETTINGS, ADAMW_SETTINGS, EPS, RMSPROP_SETTINGS, SGD_SETTINGS

NAME = "torch (autograd for a, delta, D; torch.optim for the steps; torch's own norms and dropout)"
SHORT = "torch"  # as the comparison tables name it


def _forward(theta, X):
    """The forward pass in torch: the lists a and z (z[0] is None), with z^j kept for its gradient."""
    n = X.shape[0]
    ones = torch.ones((n, 1), dtype=torch.float64)  # the bias unit
    L = len(theta)
    a = [torch.cat([ones, X], dim=1)]  # a^0: (n, u^0 + 1)
    z = [None]
    for j in range(L):
        z.append(a[j] @ theta[j].T)  # z^{j+1}: (n, u^{j+1})
        if z[j + 1].requires_grad:
            z[j + 1].retain_grad()  # keep dL/dz^{j+1} = delta^{j+1}
        h = torch.tanh(z[j + 1])
        a.append(h if j + 1 == L else torch.cat([ones, h], dim=1))  # a^{j+1}
    return a, z


def forward_backward(case):
    """``(a, z, delta, D)`` of the case by autograd, as NumPy arrays (``z[0]``, ``delta[0]`` are None)."""
    theta = [torch.tensor(t, requires_grad=True) for t in case.theta]
    a, z = _forward(theta, torch.from_numpy(case.X))
    loss = torch.nn.functional.mse_loss(a[-1], torch.from_numpy(case.Y))
    loss.backward()
    a_np = [aj.detach().numpy() for aj in a]
    z_np = [None] + [zj.detach().numpy() for zj in z[1:]]
    delta = [None] + [zj.grad.numpy() for zj in z[1:]]
    D = [t.grad.numpy() for t in theta]
    return a_np, z_np, delta, D


def numerical_gradient(case):
    """Dnum^j by central differences of torch's loss, with the checker's eps."""
    theta = [torch.tensor(t) for t in case.theta]
    X, Y = torch.from_numpy(case.X), torch.from_numpy(case.Y)

    def loss():
        with torch.no_grad():
            return torch.nn.functional.mse_loss(_forward(theta, X)[0][-1], Y).item()

    Dnum = []
    for t in theta:
        G = np.zeros(tuple(t.shape))
        for idx in np.ndindex(G.shape):
            saved = t[idx].item()
            t[idx] = saved + EPS
            plus = loss()
            t[idx] = saved - EPS
            minus = loss()
            t[idx] = saved
            G[idx] = (plus - minus) / (2 * EPS)
        Dnum.append(G)
    return Dnum


def _run(case, optimizer, state_names):
    """Drive ``optimizer`` over the case's gradients G[k]; theta^j and its state after every step."""
    params = [torch.tensor(t, requires_grad=True) for t in case.theta]
    opt = optimizer(params)
    out = {}
    for k, G in enumerate(case.G, start=1):
        for p, g in zip(params, G):
            p.grad = torch.tensor(g)
        opt.step()
        for j, p in enumerate(params):
            out["theta", j, k] = p.detach().numpy().copy()
            for name, key in state_names.items():
                out[name, j, k] = opt.state[p][key].numpy().copy()
    return out


def sgd_momentum(case):
    """theta^j and the momentum buffer after each step of ``torch.optim.SGD`` (dampening 0)."""
    s = SGD_SETTINGS

    def make(params):
        return torch.optim.SGD(params, lr=s["lr"], momentum=s["momentum"], foreach=False)

    return _run(case, make, {"buf": "momentum_buffer"})


def adam(case):
    """theta^j, m^j (exp_avg) and v^j (exp_avg_sq) after each step of ``torch.optim.Adam``."""
    s = ADAM_SETTINGS

    def make(params):
        return torch.optim.Adam(params, lr=s["lr"], betas=(s["beta1"], s["beta2"]), eps=s["eps"], foreach=False)

    return _run(case, make, {"m": "exp_avg", "v": "exp_avg_sq"})


def adamw(case):
    """theta^j, m^j and v^j after each step of ``torch.optim.AdamW`` (decoupled weight decay)."""
    s = ADAMW_SETTINGS

    def make(params):
        return torch.optim.AdamW(params, lr=s["lr"], betas=(s["beta1"], s["beta2"]), eps=s["eps"],
                                 weight_decay=s["weight_decay"], foreach=False)

    return _run(case, make, {"m": "exp_avg", "v": "exp_avg_sq"})


def rmsprop(case):
    """theta^j and the running mean of D² (square_avg) after each step of ``torch.optim.RMSprop``."""
    s = RMSPROP_SETTINGS

    def make(params):
        return torch.optim.RMSprop(params, lr=s["lr"], alpha=s["alpha"], eps=s["eps"], foreach=False)

    return _run(case, make, {"sq": "square_avg"})


def _norm(case, layer):
    b = case.ninja
    z = torch.tensor(b.z, requires_grad=True)
    gamma = torch.tensor(b.gamma, requires_grad=True)
    beta = torch.tensor(b.beta, requires_grad=True)
    if layer:
        y = torch.nn.functional.layer_norm(z, (z.shape[1],), gamma, beta, eps=b.eps)
    else:
        y = torch.nn.functional.batch_norm(z, None, None, gamma, beta, training=True, eps=b.eps)
    y.backward(torch.from_numpy(b.dy))
    return {"y": y.detach().numpy(), "dz": z.grad.numpy(), "dgamma": gamma.grad.numpy(), "dbeta": beta.grad.numpy()}


def batchnorm(case):
    """``F.batch_norm`` in training mode (the batch's biased variance): y, and dz, dγ, dβ by autograd from dy."""
    return _norm(case, layer=False)


def layernorm(case):
    """``F.layer_norm`` over the last axis: y, and dz, dγ, dβ by autograd from dy."""
    return _norm(case, layer=True)


def dropout(case):
    """The backward of torch's dropout (``native_dropout_backward``, scale 1/(1 − p)) given the case's keep-mask."""
    b = case.ninja
    grad = torch.ops.aten.native_dropout_backward(torch.from_numpy(b.da), torch.from_numpy(b.mask), 1 / (1 - b.p))
    return grad.numpy()


def cross_entropy(case):
    """δ^L = z.grad of ``F.cross_entropy(z, labels)`` (the mean over the n points) by autograd."""
    b = case.ninja
    z = torch.tensor(b.logits, requires_grad=True)
    torch.nn.functional.cross_entropy(z, torch.from_numpy(b.labels)).backward()
    return z.grad.numpy()
