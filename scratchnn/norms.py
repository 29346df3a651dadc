r"""Batch norm, layer norm and dropout, forward and backward, in the workshop's notation.

An MLP built with ``norm=`` normalises the pre-activation z^j of every hidden layer
j = 1 … L−1 before g_j, and one built with ``dropout=p`` drops units of g_j's output
(:mod:`scratchnn.mlp`). Rows are the n data points i, columns the u^j units s.

Normalisation (torch's ``BatchNorm1d(u^j)`` and ``LayerNorm(u^j)``, ε = 1e-5, affine)
---------------------------------------------------------------------------------------
    μ    = mean(z)                       batch norm: over the points i (axis 0), (1, u^j)
    σ²   = mean((z − μ)²)                layer norm: over the units s (axis 1), (n, 1)
    ẑ    = (z − μ) / √(σ² + ε)                                                    (n, u^j)
    z̃    = γ ⊙ ẑ + β                     γ, β: (u^j,), one per unit, in both norms (n, u^j)

σ² is the biased variance (divided by the count, not the count − 1), as torch normalises.
Batch norm in training mode also updates its running statistics (momentum m = 0.1),
with the *unbiased* variance (Bessel's correction: n/(n − 1)), as torch does:

    running_mean ← (1 − m) running_mean + m μ
    running_var  ← (1 − m) running_var  + m σ² n/(n − 1)

and in evaluation mode uses them in place of μ and σ². Layer norm has no running statistics:
it normalises each point by itself, in training and evaluation alike.

Backward, from dz̃ = ∂𝓛/∂z̃ (means over the same axis as the forward pass):

    dγ = Σ_i dz̃ ⊙ ẑ,   dβ = Σ_i dz̃                                (u^j,), summed over the points
    dẑ = dz̃ ⊙ γ
    dz = (dẑ − mean(dẑ) − ẑ ⊙ mean(dẑ ⊙ ẑ)) / √(σ² + ε)            training (statistics of this batch)
    dz = dẑ / √(running_var + ε)                                   batch norm, evaluation (constants)

Dropout (torch's ``nn.Dropout(p)``, inverted: scaled in training, the identity in evaluation)
------------------------------------------------------------------------------------------------
    mask = r < 1 − p,   r = torch.rand(shape, dtype=float64)       (n, u^j), True: kept
    out  = h ⊙ mask / (1 − p)                                      the kept units scaled up
    dh   = dout ⊙ mask / (1 − p)

The mask is drawn from a :class:`~scratchnn.TorchGenerator`, as torch's global generator
draws it, so the masks equal torch's bit for bit. Dividing by 1 − p keeps the expected value of
each unit what it is in evaluation mode, where dropout does nothing.
"""

import numpy as np

NORMS = ("batch", "layer")  # the names MLP(..., norm=) takes
EPS = 1e-5  # ε of torch's BatchNorm1d and LayerNorm
MOMENTUM = 0.1  # m of torch's BatchNorm1d
AXIS = {"batch": 0, "layer": 1}  # the axis μ and σ² run over


def normalize(z, gamma, beta, axis, eps=EPS):
    """``(z̃, ẑ, μ, σ²)``: z̃ = γ ⊙ (z − μ)/√(σ² + ε) + β with μ, σ² (biased) over ``axis``.

    ``axis=0``: batch norm in training mode (μ, σ² of shape ``(1, u)``); ``axis=1``: layer norm
    (``(n, 1)``). z ``(n, u)``, γ and β ``(u,)``.
    """
    mu = z.mean(axis=axis, keepdims=True)  # μ
    var = ((z - mu) ** 2).mean(axis=axis, keepdims=True)  # σ², biased
    z_hat = (z - mu) / np.sqrt(var + z.dtype.type(eps))  # ẑ: (n, u)
    return gamma * z_hat + beta, z_hat, mu, var


def normalize_backward(dz_tilde, z_hat, gamma, var, axis, eps=EPS):
    """``(dz, dγ, dβ)`` of :func:`normalize` from dz̃ = ∂𝓛/∂z̃ ``(n, u)`` (statistics over ``axis``).

    dẑ = dz̃ ⊙ γ and dz = (dẑ − mean(dẑ) − ẑ ⊙ mean(dẑ ⊙ ẑ)) / √(σ² + ε): the second term is the
    path through μ, the third the path through σ². dγ = Σ_i dz̃ ⊙ ẑ and dβ = Σ_i dz̃, over the points.
    """
    d_hat = dz_tilde * gamma  # dẑ: (n, u)
    dz = (d_hat - d_hat.mean(axis=axis, keepdims=True)
          - z_hat * (d_hat * z_hat).mean(axis=axis, keepdims=True)) / np.sqrt(var + z_hat.dtype.type(eps))
    return dz, (dz_tilde * z_hat).sum(axis=0), dz_tilde.sum(axis=0)


def batchnorm_eval(z, gamma, beta, running_mean, running_var, eps=EPS):
    """``(z̃, ẑ)`` of batch norm in evaluation mode: ẑ = (z − running_mean)/√(running_var + ε)."""
    z_hat = (z - running_mean) / np.sqrt(running_var + z.dtype.type(eps))  # (n, u)
    return gamma * z_hat + beta, z_hat


def batchnorm_eval_backward(dz_tilde, z_hat, gamma, running_var, eps=EPS):
    """``(dz, dγ, dβ)`` of batch norm in evaluation mode: dz = dz̃ ⊙ γ / √(running_var + ε)."""
    dz = dz_tilde * gamma / np.sqrt(running_var + z_hat.dtype.type(eps))  # (n, u)
    return dz, (dz_tilde * z_hat).sum(axis=0), dz_tilde.sum(axis=0)


def update_running(running_mean, running_var, mu, var, n, momentum=MOMENTUM):
    """Batch norm's running statistics, in place: the unbiased variance σ² n/(n − 1) (Bessel), as torch."""
    T = running_mean.dtype.type
    running_mean[...] = T(momentum) * mu.ravel() + T(1 - momentum) * running_mean
    running_var[...] = T(momentum) * (var.ravel() * T(n / (n - 1))) + T(1 - momentum) * running_var


def dropout_mask(generator, shape, p):
    """The keep-mask of ``nn.Dropout(p)``: ``torch.rand(shape, dtype=float64) < 1 − p``, drawn from ``generator``."""
    return generator.rand(shape) < 1 - p  # (n, u), True: kept


def dropout(h, keep):
    """Dropout's output h ⊙ mask/(1 − p), with ``keep`` = :func:`dropout_scale` ``(n, u)``."""
    return h * keep


def dropout_backward(dout, keep):
    """dh = dout ⊙ mask/(1 − p): the gradient flows through the kept units only, scaled as they were."""
    return dout * keep


def dropout_scale(mask, p, dtype):
    """mask / (1 − p) in ``dtype``, as torch scales its noise: 0 for a dropped unit, 1/(1 − p) for a kept one."""
    T = np.dtype(dtype).type
    return mask.astype(dtype) / T(1 - p)  # (n, u)
