r"""Solutions to the exercises: the workshop's MLP written by hand, in the notation.

Layers j = 0 (input) … L (output); theta[j] = θ^j has shape (u^{j+1}, u^j + 1)
with the bias in column 0; a[j] = a^j has a bias unit (a column of ones) in
column 0 for j < L, the output a^L has none. tanh on every layer, the output
included; 𝓛 = mean((a^L − Y)²) over all n·u^L entries (torch's MSELoss).
⊙ is the element-wise product, ``*`` in NumPy.

Check them with ``scratchnn check tutorials/exercises/solutions.py``. Exercises 3 (batch norm, layer
norm, dropout, the fused cross-entropy δ^L, AdamW, RMSprop) are at the end.
"""

import numpy as np


def forward(theta, X):
    r"""The forward pass: [a^0, ..., a^L].

    a^0 = [1, X],  z^{j+1} = a^j (θ^j)ᵀ,  a^{j+1} = [1, tanh(z^{j+1})],  a^L = tanh(z^L).
    """
    L = len(theta)
    n = X.shape[0]
    a = [np.hstack([np.ones((n, 1)), X])]  # a^0: (n, u^0 + 1)
    for j in range(L):
        z = a[j] @ theta[j].T  # z^{j+1}: (n, u^{j+1})
        if j + 1 < L:
            a.append(np.hstack([np.ones((n, 1)), np.tanh(z)]))  # a^{j+1}: (n, u^{j+1} + 1)
        else:
            a.append(np.tanh(z))  # a^L: (n, u^L), no bias unit
    return a


def output_delta(a_L, Y):
    r"""δ^L = ∂𝓛/∂z^L = (2/(n·u^L)) (a^L − Y) ⊙ (1 − (a^L)²), shape (n, u^L)."""
    return 2 / Y.size * (a_L - Y) * (1 - a_L**2)


def layer_gradient(delta_next, a_j):
    r"""D^j = ∂𝓛/∂θ^j = (δ^{j+1})ᵀ a^j, shape (u^{j+1}, u^j + 1) like θ^j."""
    return delta_next.T @ a_j


def hidden_delta(delta_next, theta_j, a_j):
    r"""δ^j = ∂𝓛/∂z^j = (δ^{j+1} θ^j[:, 1:]) ⊙ (1 − (a^j[:, 1:])²), shape (n, u^j): no bias column."""
    return (delta_next @ theta_j[:, 1:]) * (1 - a_j[:, 1:] ** 2)


def backward(theta, a, Y):
    r"""The backward pass: [D^0, ..., D^{L-1}] from the forward pass's a.

    δ^L = (2/(n·u^L)) (a^L − Y) ⊙ (1 − (a^L)²), then for j = L−1 … 0:
    D^j = (δ^{j+1})ᵀ a^j  and (for j ≥ 1)  δ^j = (δ^{j+1} θ^j[:, 1:]) ⊙ (1 − (a^j[:, 1:])²).
    """
    L = len(theta)
    D = [None] * L
    delta = output_delta(a[L], Y)  # δ^L: (n, u^L)
    for j in range(L - 1, -1, -1):
        # backward through θ^j: the gradient of the weights from layer j to j+1
        D[j] = layer_gradient(delta, a[j])  # (u^{j+1}, u^j + 1)
        if j > 0:
            # backward through tanh of layer j, leaving out the bias unit
            delta = hidden_delta(delta, theta[j], a[j])  # δ^j: (n, u^j)
    return D


def numerical_gradient(theta, X, Y, eps):
    r"""Central differences: D^j_{sk} ≈ (𝓛(θ + ε e_{sk}) − 𝓛(θ − ε e_{sk})) / (2ε) for every entry.

    Each entry of theta is changed in place and put back, so theta comes back unchanged.
    """
    Dnum = []
    for j in range(len(theta)):
        G = np.zeros(theta[j].shape)
        for idx in np.ndindex(theta[j].shape):
            saved = theta[j][idx]
            theta[j][idx] = saved + eps
            plus = np.mean((forward(theta, X)[-1] - Y) ** 2)  # 𝓛(θ + ε e_{sk})
            theta[j][idx] = saved - eps
            minus = np.mean((forward(theta, X)[-1] - Y) ** 2)  # 𝓛(θ − ε e_{sk})
            theta[j][idx] = saved
            G[idx] = (plus - minus) / (2 * eps)
        Dnum.append(G)
    return Dnum


def sgd_momentum_step(theta, D, buf, lr, momentum):
    r"""One step of torch.optim.SGD with momentum (dampening 0) on one matrix: returns (θ, buf).

    buf = D on the first step (buf is None), buf = momentum·buf + D afterwards;  θ = θ − lr·buf.
    """
    if buf is None:
        buf = D.copy()
    else:
        buf = momentum * buf + D
    return theta - lr * buf, buf


def adam_step(theta, D, m, v, t, lr, beta1, beta2, eps):
    r"""Step t = 1, 2, … of torch.optim.Adam on one matrix: returns (θ, m, v).

    m = β1·m + (1 − β1)·D,  v = β2·v + (1 − β2)·D²,
    θ = θ − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε).
    """
    m = beta1 * m + (1 - beta1) * D
    v = beta2 * v + (1 - beta2) * D**2
    theta = theta - lr / (1 - beta1**t) * m / (np.sqrt(v) / np.sqrt(1 - beta2**t) + eps)
    return theta, m, v


# ------------------------------------------------------------------ exercises 3: the backprop ninja's
# One layer's arrays: z (n, u) pre-activations of n data points and u units; γ, β (u,); ε torch's 1e-5.


def batchnorm_forward(z, gamma, beta, eps):
    r"""Batch norm in training mode: y = γ ⊙ (z − μ)/√(σ² + ε) + β, shape (n, u).

    μ = (1/n) Σ_i z_i and σ² = (1/n) Σ_i (z_i − μ)² per unit (axis 0): the biased variance.
    """
    mu = z.mean(axis=0)  # μ: (u,)
    var = ((z - mu) ** 2).mean(axis=0)  # σ²: (u,), divided by n
    return gamma * (z - mu) / np.sqrt(var + eps) + beta


def batchnorm_backward(dy, z, gamma, eps):
    r"""The backward of batch norm (training mode): (dz, dγ, dβ) from dy = ∂𝓛/∂y.

    ẑ = (z − μ)/√(σ² + ε),  dẑ = dy ⊙ γ,
    dz = (n dẑ − Σ_i dẑ_i − ẑ ⊙ Σ_i dẑ_i ⊙ ẑ_i) / (n √(σ² + ε)),  dγ = Σ_i dy_i ⊙ ẑ_i,  dβ = Σ_i dy_i.
    """
    n = z.shape[0]
    mu = z.mean(axis=0)
    std = np.sqrt(((z - mu) ** 2).mean(axis=0) + eps)  # √(σ² + ε): (u,)
    z_hat = (z - mu) / std  # ẑ: (n, u)
    d_hat = dy * gamma  # dẑ = ∂𝓛/∂ẑ: (n, u)
    # through ẑ directly, through μ (the sum of dẑ) and through σ² (the sum of dẑ ⊙ ẑ)
    dz = (n * d_hat - d_hat.sum(axis=0) - z_hat * (d_hat * z_hat).sum(axis=0)) / (n * std)
    return dz, (dy * z_hat).sum(axis=0), dy.sum(axis=0)


def layernorm_backward(dy, z, gamma, eps):
    r"""The backward of layer norm over the last axis: (dz, dγ, dβ) from dy = ∂𝓛/∂y.

    The batch-norm derivation on the other axis: μ_i and σ²_i are each data point's, over its u units;
    γ and β are still per unit, so dγ and dβ still sum over the data points.
    """
    u = z.shape[1]
    mu = z.mean(axis=1, keepdims=True)  # μ_i: (n, 1)
    std = np.sqrt(((z - mu) ** 2).mean(axis=1, keepdims=True) + eps)  # (n, 1)
    z_hat = (z - mu) / std
    d_hat = dy * gamma
    dz = (u * d_hat - d_hat.sum(axis=1, keepdims=True) - z_hat * (d_hat * z_hat).sum(axis=1, keepdims=True)) / (
        u * std
    )
    return dz, (dy * z_hat).sum(axis=0), dy.sum(axis=0)


def dropout_backward(da, mask, p):
    r"""The backward of inverted dropout: the forward passed a ⊙ mask/(1 − p), so the gradient is
    da ⊙ mask / (1 − p) (mask True where a unit was kept, with probability 1 − p)."""
    return da * mask / (1 - p)


def cross_entropy_delta(z, labels):
    r"""δ^L = ∂𝓛/∂z of 𝓛 = (1/n) Σ_i −log softmax(z_i)[labels_i]: (softmax(z) − onehot(labels)) / n."""
    n = z.shape[0]
    e = np.exp(z - z.max(axis=1, keepdims=True))  # shifted: the same softmax, no overflow
    delta = e / e.sum(axis=1, keepdims=True)
    delta[np.arange(n), labels] -= 1  # − onehot(labels)
    return delta / n


def adamw_step(theta, D, m, v, t, lr, beta1, beta2, eps, weight_decay):
    r"""Step t = 1, 2, … of torch.optim.AdamW on one matrix: returns (θ, m, v).

    θ = θ (1 − lr·λ) first (the decoupled decay, D untouched), then Adam's step with D.
    """
    theta = theta * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * D
    v = beta2 * v + (1 - beta2) * D**2
    theta = theta - lr / (1 - beta1**t) * m / (np.sqrt(v) / np.sqrt(1 - beta2**t) + eps)
    return theta, m, v


def rmsprop_step(theta, D, sq, lr, alpha, eps):
    r"""One step of torch.optim.RMSprop (no momentum, not centered) on one matrix: returns (θ, sq).

    sq = α·sq + (1 − α)·D²,  θ = θ − lr·D / (√sq + ε).
    """
    sq = alpha * sq + (1 - alpha) * D**2
    return theta - lr * D / (np.sqrt(sq) + eps), sq
