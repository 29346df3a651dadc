r"""Solutions to the exercises: the workshop's MLP written by hand, in the notation.

Layers j = 0 (input) … L (output); theta[j] = θ^j has shape (u^{j+1}, u^j + 1)
with the bias in column 0; a[j] = a^j has a bias unit (a column of ones) in
column 0 for j < L, the output a^L has none. tanh on every layer, the output
included; 𝓛 = mean((a^L − Y)²) over all n·u^L entries (torch's MSELoss).
⊙ is the element-wise product, ``*`` in NumPy.

Check them with ``scratchnn check tutorials/exercises/solutions.py``.
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
