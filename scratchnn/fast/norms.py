r"""Nets with batch norm, layer norm or dropout in the numba engine: the batch in one piece.

The mathematics of :mod:`scratchnn.norms` and of the MLP's hidden layers with a norm or dropout
(:mod:`scratchnn.mlp`), compiled, in the transposed layout of :mod:`scratchnn.fast.kernels`
(points along the fast axis i, units s along the rows):

    Z^j   = θ^{j-1} A^{j-1}                                    (u^j, m)
    ẑ^j   = (Z^j − μ) · 1/√(σ² + ε)    batch norm: μ_s, σ²_s over the points i of the batch (a row)
                                        layer norm: μ_i, σ²_i over the units s of a point (a column)
    z̃^j   = γ_s ẑ^j + β_s                                     (u^j, m)
    A^j   = [1; g_j(z̃^j) ⊙ K^j]        K^j = mask/(1 − p), training-mode dropout (else K^j = 1)

and backward, from ∂𝓛/∂a^j:

    δ̃^j  = (θ^j[:, 1:]^T δ^{j+1}) ⊙ K^j ⊙ g_j'(z̃^j)
    dγ_s  = Σ_i δ̃^j ẑ^j,   dβ_s = Σ_i δ̃^j,   dẑ = δ̃^j γ_s
    δ^j   = (dẑ − mean(dẑ) − ẑ ⊙ mean(dẑ ⊙ ẑ)) · 1/√(σ² + ε)    (means over the norm's axis)
    δ^j   = dẑ · 1/√(running_var + ε)                               (batch norm, evaluation mode)

1/√(σ² + ε) is computed once per unit (batch norm) or point (layer norm) and multiplies, as torch
keeps it (``invstd``); the NumPy engine divides by √(σ² + ε), which rounds differently in the last bit.

Why one piece: batch norm's μ and σ² are sums over the whole batch, so the chunks and groups of
:mod:`~scratchnn.fast.kernels` (which sum a batch's gradients from independent pieces) would need a
pass per layer over every chunk; here each layer is one (u^j, m) array of the batch, a product is one
pass of register tiles (:mod:`~scratchnn.fast.products`) or of fused loops, and every reduction runs along
a contiguous row. One thread; the results
depend on nothing but the inputs.

Masks: each training-mode forward pass draws layer j's keep-mask from the net's MT19937 state
(:mod:`scratchnn.fast.mt19937`), as torch's ``nn.Dropout`` does after ``torch.manual_seed``: one
float64 uniform per element of the (m, u^j) array, in its row-major order, kept where it is below
1 − p; ``mt19937.draw_keep_columns`` writes mask/(1 − p) straight into the transposed K^j.
"""

from collections import namedtuple

import numpy as np
from numba import njit

from ..norms import EPS, MOMENTUM
from .elementwise import JIT, TANH, g_rows, times_g_prime, vtanh
from .kernels import (BCE, CROSS_ENTROPY, MSE, REDUCE, PackedNet, PackedOptimizer, affine_row, binary_cross_entropy, dot,
                      gather, grad_small, l2_term, optimizer_step, softmax_cross_entropy, squared_error,
                      theta_t_delta_row, view)
from .mt19937 import draw_keep_columns
from .products import times, times_transposed

NONE, BATCH, LAYER = 0, 1, 2  # the norm's code: MLP(..., norm=None | "batch" | "layer")

PackedNorm = namedtuple("PackedNorm", ["norm", "p", "unit_off", "gamma_off", "beta_off", "running_mean",
                                       "running_var", "mt_key", "mt_pos"])
PackedNorm.__doc__ = """A net's norm and dropout as the kernels take them (``engine.pack_norm``).

``norm`` NONE, BATCH or LAYER; ``p`` dropout's p (0: none); hidden layer j's u^j units are entries
``unit_off[j] .. unit_off[j + 1]`` of the per-unit vectors (``unit_off`` (L + 1,), j = 1 .. L − 1);
γ^j starts at ``PackedNet.theta[gamma_off + unit_off[j]]`` and β^j at ``beta_off + unit_off[j]`` (the
flat parameters are ``net.params``: θ^0 … θ^{L−1}, the γ's, the β's); ``running_mean``,
``running_var`` the batch norm's running statistics, flat like γ (updated in place); ``mt_key``
(624,) uint32 and ``mt_pos`` (1,) int64 the MT19937 state the masks are drawn from (updated in place)."""

Plan = namedtuple("Plan", ["a_off", "z_off", "zhat_off", "zt_off", "h_off", "keep_off", "d_off", "mu_off", "var_off",
                           "invstd_off", "y_off", "c_off", "tmp_off"])
Plan.__doc__ = """Where a batch's quantities start in the flat work buffer (``engine.norm_workspace``), each (L + 1,)
int64 indexed by the layer j unless scalar: A^j (u^j + 1 rows, row 0 the bias unit; A^L: u^L rows), Z^j,
ẑ^j, z̃^j, g_j(z̃^j) before dropout (H^j), K^j, δ^j (u^j + 1 rows, row 0 not used), μ^j, σ²^j
and 1/√(σ²^j + ε) (u^j entries for batch norm, m for layer norm), Y, two per-point sums (layer norm's
backward) and a scratch matrix (θ^j[:, 1:]^T, copied for the backward product). Rows are ``m`` long."""


@njit(**REDUCE)
def row_sum(R, s):
    """Σ_i R_si."""
    acc = R.dtype.type(0)
    for i in range(R.shape[1]):
        acc += R[s, i]
    return acc


@njit(**REDUCE)
def row_centered_squares(R, s, mean):
    """Σ_i (R_si − mean)²."""
    acc = R.dtype.type(0)
    for i in range(R.shape[1]):
        d = R[s, i] - mean
        acc += d * d
    return acc


@njit(**JIT)
def affine(theta, A, Z, big):
    """Z = θ A: register tiles (:func:`~scratchnn.fast.products.times`), or (small layers) z_si = θ_s0 + Σ_{k≥1} θ_sk a_ki
    in fused loops."""
    if big:
        times(theta, A, Z)
        return
    for s in range(Z.shape[0]):
        affine_row(theta, A, Z, s)


# ------------------------------------------------------------------------- normalisation, forward
@njit(**JIT)
def batchnorm_stats(Z, mu, var, invstd, eps):
    """μ_s = Σ_i z_si / m, σ²_s = Σ_i (z_si − μ_s)² / m (biased) and 1/√(σ²_s + ε), per unit s (a row)."""
    T = Z.dtype.type
    m = T(Z.shape[1])
    for s in range(Z.shape[0]):
        mu[s] = row_sum(Z, s) / m
        var[s] = row_centered_squares(Z, s, mu[s]) / m
        invstd[s] = T(1) / np.sqrt(var[s] + T(eps))


@njit(**JIT)
def update_running(mu, var, m, running_mean, running_var):
    """running_mean ← (1 − M) running_mean + M μ, running_var ← (1 − M) running_var + M σ² m/(m − 1) (Bessel)."""
    T = mu.dtype.type
    keep, new, bessel = T(1 - MOMENTUM), T(MOMENTUM), T(m / (m - 1))
    for s in range(mu.size):
        running_mean[s] = new * mu[s] + keep * running_mean[s]
        running_var[s] = new * (var[s] * bessel) + keep * running_var[s]


@njit(**JIT)
def layernorm_stats(Z, mu, invstd, eps):
    """μ_i = Σ_s z_si / u and 1/√(σ²_i + ε), σ²_i = Σ_s (z_si − μ_i)² / u, per point i (a column; rows summed in
    order)."""
    T = Z.dtype.type
    u = T(Z.shape[0])
    mu[: Z.shape[1]] = 0
    invstd[: Z.shape[1]] = 0  # Σ_s (z_si − μ_i)² first
    for s in range(Z.shape[0]):
        for i in range(Z.shape[1]):
            mu[i] += Z[s, i]
    for i in range(Z.shape[1]):
        mu[i] /= u
    for s in range(Z.shape[0]):
        for i in range(Z.shape[1]):
            d = Z[s, i] - mu[i]
            invstd[i] += d * d
    for i in range(Z.shape[1]):
        invstd[i] = T(1) / np.sqrt(invstd[i] / u + T(eps))


@njit(**JIT)
def normalize_rows(Z, mu, invstd, gamma, beta, Zhat, Zt):
    """ẑ_si = (z_si − μ_s) · 1/√(σ²_s + ε) and z̃_si = γ_s ẑ_si + β_s: batch norm (statistics per unit s)."""
    for s in range(Z.shape[0]):
        m_s, r_s, g_s, b_s = mu[s], invstd[s], gamma[s], beta[s]
        for i in range(Z.shape[1]):
            Zhat[s, i] = (Z[s, i] - m_s) * r_s
            Zt[s, i] = g_s * Zhat[s, i] + b_s


@njit(**JIT)
def normalize_columns(Z, mu, invstd, gamma, beta, Zhat, Zt):
    """ẑ_si = (z_si − μ_i) · 1/√(σ²_i + ε) and z̃_si = γ_s ẑ_si + β_s: layer norm (statistics per point i)."""
    for s in range(Z.shape[0]):
        g_s, b_s = gamma[s], beta[s]
        for i in range(Z.shape[1]):
            Zhat[s, i] = (Z[s, i] - mu[i]) * invstd[i]
            Zt[s, i] = g_s * Zhat[s, i] + b_s


# ------------------------------------------------------------------------ normalisation, backward
@njit(**JIT)
def affine_grads(delta, Zhat, gamma, dgamma, dbeta):
    """dγ_s += Σ_i δ̃_si ẑ_si, dβ_s += Σ_i δ̃_si, then δ̃ ← dẑ = δ̃ γ_s in place (the norm's affine map, backward)."""
    for s in range(delta.shape[0]):
        dgamma[s] += dot(delta, s, Zhat, s)
        dbeta[s] += row_sum(delta, s)
        g_s = gamma[s]
        for i in range(delta.shape[1]):
            delta[s, i] *= g_s


@njit(**JIT)
def batchnorm_backward_rows(d_hat, Zhat, invstd):
    """δ_si = (dẑ_si − mean_i dẑ_si − ẑ_si mean_i(dẑ ẑ)_si) · 1/√(σ²_s + ε), in place (batch norm, training)."""
    T = d_hat.dtype.type
    m = T(d_hat.shape[1])
    for s in range(d_hat.shape[0]):
        c1 = row_sum(d_hat, s) / m
        c2 = dot(d_hat, s, Zhat, s) / m
        r_s = invstd[s]
        for i in range(d_hat.shape[1]):
            d_hat[s, i] = (d_hat[s, i] - c1 - Zhat[s, i] * c2) * r_s


@njit(**JIT)
def layernorm_backward_columns(d_hat, Zhat, invstd, c1, c2):
    """δ_si = (dẑ_si − mean_s dẑ_si − ẑ_si mean_s(dẑ ẑ)_si) · 1/√(σ²_i + ε), in place (layer norm)."""
    T = d_hat.dtype.type
    u = T(d_hat.shape[0])
    c1[:] = 0
    c2[:] = 0
    for s in range(d_hat.shape[0]):
        for i in range(d_hat.shape[1]):
            c1[i] += d_hat[s, i]
            c2[i] += d_hat[s, i] * Zhat[s, i]
    for i in range(d_hat.shape[1]):
        c1[i] /= u
        c2[i] /= u
    for s in range(d_hat.shape[0]):
        for i in range(d_hat.shape[1]):
            d_hat[s, i] = (d_hat[s, i] - c1[i] - Zhat[s, i] * c2[i]) * invstd[i]


@njit(**JIT)
def scale_rows(d_hat, invstd):
    """δ_si = dẑ_si · 1/√(running_var_s + ε), in place (batch norm, evaluation: the statistics are constants)."""
    for s in range(d_hat.shape[0]):
        r_s = invstd[s]
        for i in range(d_hat.shape[1]):
            d_hat[s, i] *= r_s


# ------------------------------------------------------------------------------------ dropout
@njit(**JIT)
def draw_keep(norm, K):
    """K = mask/(1 − p) for one layer, (u^j, m): the transpose of the (m, u^j) mask torch draws, drawn in place."""
    T = K.dtype.type
    draw_keep_columns(norm.mt_key, norm.mt_pos, 1.0 - norm.p, T(1) / T(1 - norm.p), K)  # 1/(1 − p) in the dtype


@njit(**JIT)
def hidden_forward(norm, training, dropping, code, Z, gamma, beta, mu, var, invstd, running_mean, running_var, Zhat,
                   Zt, H, K, A):
    """Hidden layer j's forward pass from Z^j (u^j, m): z̃^j = norm(Z^j), H = g_j(z̃^j), A^j[1:] = H ⊙ K^j.

    The mask first, then the statistics, then the element-wise passes (one, fused, for batch norm, tanh and dropout).
    Without dropout H is A^j[1:] itself; without a norm z̃^j is Z^j.
    """
    u, m = Z.shape
    if dropping:
        draw_keep(norm, K)
    if norm.norm == LAYER:
        layernorm_stats(Z, mu, invstd, EPS)
        normalize_columns(Z, mu, invstd, gamma, beta, Zhat, Zt)
    elif norm.norm == BATCH and training:
        batchnorm_stats(Z, mu, var, invstd, EPS)
        update_running(mu[:u], var[:u], m, running_mean, running_var)
    elif norm.norm == BATCH:
        T = Z.dtype.type
        for s in range(u):
            mu[s] = running_mean[s]
            invstd[s] = T(1) / np.sqrt(running_var[s] + T(EPS))
    if norm.norm == BATCH and code == TANH and dropping:  # the bench's layer: one pass after the statistics
        batchnorm_tanh_dropout(Z, mu, invstd, gamma, beta, K, H, A)
        return
    if norm.norm == BATCH:
        normalize_rows(Z, mu, invstd, gamma, beta, Zhat, Zt)
    g_rows(code, Zt, H)
    if dropping:
        for s in range(u):
            for i in range(m):
                A[s + 1, i] = H[s, i] * K[s, i]


@njit(**JIT)
def batchnorm_tanh_dropout(Z, mu, invstd, gamma, beta, K, H, A):
    """ẑ = (z − μ_s) · 1/√(σ²_s + ε), z̃ = γ_s ẑ + β_s, H = tanh z̃ and A^j[1:] = H ⊙ K, element by element in one
    pass (batch norm, tanh and dropout: what :func:`hidden_forward` does in four passes for any g and norm).
    Neither ẑ nor z̃ is kept: tanh's derivative is 1 − H², and the backward pass computes ẑ again from Z, μ and
    1/√(σ² + ε), the same two roundings."""
    for s in range(Z.shape[0]):
        m_s, r_s, g_s, b_s = mu[s], invstd[s], gamma[s], beta[s]
        for i in range(Z.shape[1]):
            h = vtanh(g_s * ((Z[s, i] - m_s) * r_s) + b_s)
            H[s, i] = h
            A[s + 1, i] = h * K[s, i]


@njit(**JIT)
def hidden_backward(norm, training, dropping, code, delta, Z, mu, Zt, H, K, Zhat, gamma, invstd, dgamma, dbeta, c):
    """δ^j in place from ``delta`` = ∂𝓛/∂a^j[1:] (u^j, m): through dropout (⊙ K^j), g_j (⊙ g_j'(z̃^j)) and the norm
    (adding dγ^j, dβ^j); two fused passes for batch norm (training), tanh and dropout."""
    if norm.norm == BATCH and training and code == TANH and dropping:  # the bench's layer: two passes
        batchnorm_tanh_dropout_backward(delta, K, H, Z, mu, gamma, invstd, dgamma, dbeta)
        return
    if dropping:
        for s in range(delta.shape[0]):
            for i in range(delta.shape[1]):
                delta[s, i] *= K[s, i]
    times_g_prime(code, Zt, H, delta)  # δ̃^j = ∂𝓛/∂z̃^j
    if norm.norm == NONE:
        return
    affine_grads(delta, Zhat, gamma, dgamma, dbeta)  # delta: dẑ
    if norm.norm == BATCH and training:
        batchnorm_backward_rows(delta, Zhat, invstd)
    elif norm.norm == BATCH:
        scale_rows(delta, invstd)
    if norm.norm == LAYER:
        m = delta.shape[1]
        layernorm_backward_columns(delta, Zhat, invstd, c[:m], c[m : 2 * m])


@njit(**REDUCE)
def tanh_dropout_sums(delta, s, K, H, Z, m_s, r_s):
    """δ̃_si = δ_si K_si (1 − H_si²) in place, returning Σ_i δ̃_si and Σ_i δ̃_si ẑ_si (dβ_s and dγ_s),
    ẑ_si = (z_si − μ_s) · r_s as the forward pass computed it."""
    T = delta.dtype.type
    one = T(1)
    sum_d = sum_dz = T(0)
    for i in range(delta.shape[1]):
        d = delta[s, i] * K[s, i] * (one - H[s, i] * H[s, i])
        delta[s, i] = d
        sum_d += d
        sum_dz += d * ((Z[s, i] - m_s) * r_s)
    return sum_d, sum_dz


@njit(**JIT)
def batchnorm_tanh_dropout_backward(delta, K, H, Z, mu, gamma, invstd, dgamma, dbeta):
    """:func:`hidden_backward` for batch norm (training), tanh and dropout in two passes: δ̃ = δ ⊙ K ⊙ (1 − H²) with
    its sums dβ_s = Σ_i δ̃, dγ_s = Σ_i δ̃ ẑ, then δ = (γ_s δ̃ − mean(dẑ) − ẑ mean(dẑ ẑ)) · 1/√(σ²_s + ε), where
    dẑ = γ_s δ̃, so mean(dẑ) = γ_s dβ_s / m and mean(dẑ ẑ) = γ_s dγ_s / m."""
    T = delta.dtype.type
    m = T(delta.shape[1])
    for s in range(delta.shape[0]):
        m_s, g_s, r_s = mu[s], gamma[s], invstd[s]
        sum_d, sum_dz = tanh_dropout_sums(delta, s, K, H, Z, m_s, r_s)
        dbeta[s] += sum_d
        dgamma[s] += sum_dz
        c1, c2 = g_s * sum_d / m, g_s * sum_dz / m
        for i in range(delta.shape[1]):
            delta[s, i] = (g_s * delta[s, i] - c1 - ((Z[s, i] - m_s) * r_s) * c2) * r_s


# ------------------------------------------------------------------------------- the batch
@njit(**JIT)
def batch_loss_grad(net, norm, XT, YT, order, nb, work, plan, D, backward, training, l2_n):
    """𝓛 over the batch (points ``order``, or the first ``nb`` when empty) and, when ``backward``, D = ∂𝓛/∂params
    into ``D`` (flat: θ^j, then the γ^j, then the β^j).

    ``net``, ``norm``, ``plan``: the :data:`~scratchnn.fast.kernels.PackedNet`, :data:`PackedNorm`
    and :data:`Plan` (or their plain tuples). ``training``: batch norm on the batch's statistics
    (updating the running ones) and dropout drawing masks; else the running statistics and no dropout.
    𝓛 is the criterion's mean, plus the L2 term over the θ^j when ``l2_n`` = λ/n is not 0.
    """
    net, norm, plan = PackedNet(*net), PackedNorm(*norm), Plan(*plan)
    units, acts, blas, theta_off, theta = net.units, net.acts, net.blas, net.theta_off, net.theta
    L = units.size - 1
    m = nb
    T = theta.dtype.type
    one = T(1)
    dropping = norm.p > 0 and training

    A0 = view(work, plan.a_off[0], units[0] + 1, m)
    Yc = view(work, plan.y_off, units[L], m)
    A0[0, :] = one
    for k in range(units[0]):
        gather(XT[k], order, 0, A0[k + 1])
    for s in range(units[L]):
        gather(YT[s], order, 0, Yc[s])

    # forward: Z^j = θ^{j-1} A^{j-1}; hidden layers z̃^j = norm(Z^j), A^j = [1, g_j(z̃^j) ⊙ K^j]
    for j in range(1, L + 1):
        th = view(theta, theta_off[j - 1], units[j], units[j - 1] + 1)  # (u^j, u^{j-1} + 1)
        Z = view(work, plan.z_off[j], units[j], m)  # (u^j, m)
        affine(th, view(work, plan.a_off[j - 1], units[j - 1] + 1, m), Z, blas[j - 1])
        if j == L:
            g_rows(acts[L - 1], Z, view(work, plan.a_off[L], units[L], m))  # a^L
            break
        u0, u1 = norm.unit_off[j], norm.unit_off[j + 1]
        A = view(work, plan.a_off[j], units[j] + 1, m)
        A[0, :] = one  # the bias unit of a^j
        normed = norm.norm != NONE
        hidden_forward(
            norm, training, dropping, acts[j - 1], Z,
            theta[norm.gamma_off + u0 : norm.gamma_off + u1], theta[norm.beta_off + u0 : norm.beta_off + u1],
            work[plan.mu_off[j] :], work[plan.var_off[j] :], work[plan.invstd_off[j] :],
            norm.running_mean[u0:u1], norm.running_var[u0:u1],
            view(work, plan.zhat_off[j], units[j], m) if normed else Z, view(work, plan.zt_off[j], units[j], m) if normed else Z,
            view(work, plan.h_off[j] if dropping else plan.a_off[j] + m, units[j], m),
            view(work, plan.keep_off[j], units[j], m) if dropping else Z, A,
        )

    # the loss and δ^L in the criterion's derived form
    AL = view(work, plan.a_off[L], units[L], m)
    ZL = view(work, plan.z_off[L], units[L], m)
    delta = view(work, plan.d_off[L] + m, units[L], m)
    N = nb if net.criterion == CROSS_ENTROPY else nb * units[L]
    scale = T(2.0 / N) if net.criterion == MSE else T(1.0 / N)
    if net.criterion == MSE:
        loss_sum = squared_error(AL, Yc, delta, scale, backward)
        if backward:
            times_g_prime(acts[L - 1], ZL, AL, delta)
    elif net.criterion == BCE:
        loss_sum = binary_cross_entropy(ZL, AL, Yc, delta, scale, backward)
    else:
        loss_sum = softmax_cross_entropy(ZL, Yc, delta, scale, backward)
    loss = loss_sum / T(N)
    if not backward:
        return loss + l2_term(net, l2_n, D, False) if l2_n != 0 else loss

    D[:] = 0
    for j in range(L - 1, -1, -1):
        th = view(theta, theta_off[j], units[j + 1], units[j] + 1)  # (u^{j+1}, u^j + 1)
        A = view(work, plan.a_off[j], units[j] + 1, m)
        delta_next = view(work, plan.d_off[j + 1] + m, units[j + 1], m)
        Dj = view(D, theta_off[j], units[j + 1], units[j] + 1)
        if blas[j]:  # D^j = δ^{j+1} (a^j)^T
            times_transposed(delta_next, A, Dj)
        else:
            grad_small(delta_next, A, Dj)
        if j == 0:
            break
        # ∂𝓛/∂a^j = θ^j[:, 1:]^T δ^{j+1}, skipping the bias row
        delta = view(work, plan.d_off[j] + m, units[j], m)
        if blas[j]:  # θ^j[:, 1:]^T copied (contiguous) first: no bias row to compute and discard
            weights_t = view(work, plan.tmp_off, units[j], units[j + 1])
            for s in range(units[j + 1]):
                for k in range(units[j]):
                    weights_t[k, s] = th[s, k + 1]
            times(weights_t, delta_next, delta)
        else:
            for k in range(units[j]):
                theta_t_delta_row(th, delta_next, delta, k)
        u0, u1 = norm.unit_off[j], norm.unit_off[j + 1]
        normed = norm.norm != NONE
        hidden_backward(
            norm, training, dropping, acts[j - 1], delta, view(work, plan.z_off[j], units[j], m),
            work[plan.mu_off[j] :],
            view(work, plan.zt_off[j] if normed else plan.z_off[j], units[j], m),
            view(work, plan.h_off[j] if dropping else plan.a_off[j] + m, units[j], m),
            view(work, plan.keep_off[j], units[j], m) if dropping else delta,
            view(work, plan.zhat_off[j], units[j], m) if normed else delta,
            theta[norm.gamma_off + u0 : norm.gamma_off + u1], work[plan.invstd_off[j] :],
            D[norm.gamma_off + u0 : norm.gamma_off + u1], D[norm.beta_off + u0 : norm.beta_off + u1],
            work[plan.c_off :],
        )
    if l2_n != 0:
        loss += l2_term(net, l2_n, D, True)
    return loss


# ------------------------------------------------------------------------------------ epochs
@njit(**JIT)
def fit_epochs(net, norm, XT, YT, XvT, YvT, orders, batch_size, work, plan, opt, lrs, losses, val_losses, l2_n):
    """:func:`scratchnn.fast.kernels.fit_epochs` for nets with a norm or dropout: the same loop, each batch in one
    piece, in training mode, and the validation loss in evaluation mode (running statistics, no dropout).

    Returns how many epochs completed: fewer than asked when a loss was not finite.
    """
    opt = PackedOptimizer(*opt)
    t, D, theta = opt.t, opt.D, net[4]
    n = XT.shape[1]
    no_order = np.empty(0, np.int64)
    for e in range(losses.size):
        if XvT.shape[1] > 0:
            val_losses[e] = batch_loss_grad(net, norm, XvT, YvT, no_order, XvT.shape[1], work, plan, D, False, False,
                                            0.0)
        epoch_loss = 0.0
        for k0 in range(0, n, batch_size):
            nb = min(batch_size, n - k0)
            order = no_order if orders.shape[1] == 0 else orders[e, k0 : k0 + nb]
            loss = batch_loss_grad(net, norm, XT, YT, order, nb, work, plan, D, True, True, l2_n)
            epoch_loss += float(loss) * (nb / n)
            if not np.isfinite(epoch_loss):
                return e
            t[0] += 1
            optimizer_step(opt, lrs[e], theta)
        losses[e] = epoch_loss
    return losses.size
