r"""The criteria 𝓛, each with its δ^L = ∂𝓛/∂z^L beside it, and the L2 penalty.

``n`` points, ``u^L`` outputs, ``N = n u^L``; ``a^L = g_L(z^L)`` and the targets
``y`` are ``(n, u^L)`` (``i`` a point, ``s`` an output unit). δ^L starts the
backward pass of :mod:`scratchnn.mlp`.

==================  ========================  ==========================================  ===========================
criterion           output g_L                𝓛                                           δ^L
==================  ========================  ==========================================  ===========================
``mse``             any                       (1/N) Σ_is (a_is - y_is)²                    (2/N)(a^L - y) ⊙ g_L'(z^L)
``bce``             sigmoid σ                 -(1/N) Σ_is [y log a + (1 - y) log(1 - a)]   (a^L - y) / N
``cross_entropy``   identity (logits z^L)     -(1/n) Σ_i Σ_s y_is log softmax(z_i)_s       (softmax(z^L) - y) / n
==================  ========================  ==========================================  ===========================

As torch's ``nn.MSELoss()``, ``nn.BCELoss()`` (on the sigmoid's output) and
``nn.CrossEntropyLoss()`` (on the logits; targets as class indices or as
probabilities), each with its default mean reduction.

δ^L for a sigmoid output and binary cross-entropy
    With a = σ(z): ∂ℓ/∂a = -y/a + (1 - y)/(1 - a) = (a - y) / (a (1 - a)), and σ'(z) = a (1 - a),
    so δ^L_is = (1/N) ∂ℓ/∂a · σ'(z) = (a_is - y_is) / N. The two factors a (1 - a)
    cancel: the derived form never divides by a (1 - a), which is 0 where σ saturates.

δ^L for softmax and cross-entropy
    p = softmax(z): p_s = e^{z_s} / Σ_k e^{z_k}, so log p_s = z_s - lse(z) with
    lse(z) = log Σ_k e^{z_k}, and ∂ lse/∂z_k = p_k. Per point ℓ = -Σ_s y_s log p_s
    = Σ_s y_s (lse(z) - z_s), and ∂ℓ/∂z_k = (Σ_s y_s) p_k - y_k = p_k - y_k because the
    targets of a point sum to 1. With the mean over the n points: δ^L = (p - y) / n.

Computed stably
    lse(z) = m + log Σ_k e^{z_k - m}, m = max_k z_k: no exponent is positive, no overflow.
    BCE from the logits z^L (the trace keeps them): log a = -softplus(-z),
    log(1 - a) = -softplus(z), so ℓ = softplus(z) - y z with
    softplus(z) = max(z, 0) + log(1 + e^{-|z|}): no log(0) for a saturated sigmoid.
    torch's ``nn.BCELoss`` takes log a and log(1 - a) of the rounded a instead and
    clamps them at -100, so where σ saturates (a rounds to 0 or 1) torch's loss stops
    at 100 per entry and its gradient vanishes; here both keep their true values.
    Elsewhere the two agree to rounding.

L2 regularisation (Ng's ex4; the bias column is not penalised)
    𝓛 + λ/(2n) Σ_j ‖θ^j[:, 1:]‖²,   D^j[:, 1:] += (λ/n) θ^j[:, 1:]
    torch's ``weight_decay`` is another thing: see :mod:`scratchnn.optimizers`.
"""

import numpy as np

from .checks import check_data, check_name


def mse(a, y):
    """L = mean((a - y)^2) over every element."""
    r = a - y  # (n, u^L)
    return np.mean(r * r)


def mse_grad(a, y):
    """dL/da = (2/N)(a - y); the factor 2/N is rounded to the data's dtype, as torch does."""
    return (a - y) * a.dtype.type(2.0 / a.size)  # (n, u^L)


# ----------------------------------------------------- binary cross-entropy (sigmoid output)
def bce(z, y):
    """𝓛 = mean(softplus(z) - y z) over every element: the BCE of a = σ(z), from the logits z^L."""
    ell = np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z)))  # (n, u^L); no exponent is positive
    return np.mean(ell)


def bce_delta(a, y):
    """δ^L = (a^L - y)/N for a sigmoid output; 1/N is rounded to the data's dtype."""
    return (a - y) * a.dtype.type(1.0 / a.size)  # (n, u^L)


# ------------------------------------------------- softmax cross-entropy (identity output)
def log_softmax(z):
    """log softmax(z_i)_s = (z_is - m_i) - log Σ_k e^{z_ik - m_i}, m_i = max_k z_ik (torch's order)."""
    zm = z - np.max(z, axis=1, keepdims=True)  # (n, u^L), every entry <= 0: e^{zm} cannot overflow
    return zm - np.log(np.sum(np.exp(zm), axis=1, keepdims=True))  # (n, u^L)


def softmax(z):
    """softmax(z_i)_s = e^{z_is - m_i} / Σ_k e^{z_ik - m_i}, per point (row)."""
    e = np.exp(z - np.max(z, axis=1, keepdims=True))  # (n, u^L)
    return e / np.sum(e, axis=1, keepdims=True)  # (n, u^L)


def cross_entropy(z, y):
    """𝓛 = -(1/n) Σ_i Σ_s y_is log softmax(z_i)_s."""
    return -np.mean(np.sum(y * log_softmax(z), axis=1))


def cross_entropy_delta(z, y):
    """δ^L = (softmax(z^L) - y)/n; 1/n is rounded to the data's dtype."""
    return (softmax(z) - y) * z.dtype.type(1.0 / z.shape[0])  # (n, u^L)


# ----------------------------------------------------------------------------- targets
def one_hot(labels, u_L, dtype):
    """Class indices (n,) as rows of the identity matrix: y_is = 1 if s = labels_i else 0, ``(n, u^L)``."""
    y = np.zeros((labels.size, u_L), dtype)
    y[np.arange(labels.size), labels] = 1
    return y


def regression_targets(name, Y, dtype, u_L):
    """mse: any finite ``(n, u^L)`` array of the net's dtype."""
    return check_data(name, Y, dtype, u_L)


def bce_targets(name, Y, dtype, u_L):
    """bce: ``(n, u^L)`` of the net's dtype, every entry a probability in [0, 1] (0/1 for class labels)."""
    check_data(name, Y, dtype, u_L)
    outside = (Y < 0) | (Y > 1)
    if np.any(outside):
        raise ValueError(
            f"{name}: binary cross-entropy targets are probabilities in [0, 1] (0/1 for class labels), "
            f"got {Y[outside][0]} at row {int(np.argwhere(outside)[0][0])}"
        )
    return Y


def class_targets(name, Y, dtype, u_L):
    """cross_entropy: class indices ``(n,)`` (ints in 0..u^L-1, returned as one-hot rows)
    or probabilities ``(n, u^L)`` of the net's dtype, each row summing to 1 within sqrt(eps)."""
    expected = f"class indices (n,) of ints 0..{u_L - 1} or probabilities (n, {u_L}) of {np.dtype(dtype)}"
    if isinstance(Y, np.ndarray) and Y.ndim == 1:
        if not np.issubdtype(Y.dtype, np.integer):
            raise TypeError(f"{name}: expected {expected}; got {Y.dtype} labels (convert with {name}.astype(np.int64))")
        if Y.size == 0:
            raise ValueError(f"{name}: expected at least one data point, got shape {Y.shape}")
        outside = (Y < 0) | (Y >= u_L)
        if np.any(outside):
            raise ValueError(
                f"{name}: class indices must lie in 0..{u_L - 1} (u^L = {u_L} output units, one per class), "
                f"got {Y[outside][0]} at row {int(np.argmax(outside))}"
            )
        return one_hot(Y, u_L, dtype)
    if isinstance(Y, np.ndarray) and Y.ndim == 2 and not np.issubdtype(Y.dtype, np.floating):
        raise TypeError(f"{name}: expected {expected}; got {Y.dtype} of shape {Y.shape}")
    check_data(name, Y, dtype, u_L)
    if np.any(Y < 0):
        raise ValueError(f"{name}: probabilities must be >= 0, got {Y[Y < 0][0]}")
    off = np.abs(np.sum(Y, axis=1, dtype=np.float64) - 1)
    if off.max() > np.sqrt(np.finfo(dtype).eps):
        i = int(np.argmax(off))
        raise ValueError(
            f"{name}: each row of probabilities must sum to 1 (δ^L = softmax(z^L) - y assumes it), "
            f"row {i} sums to {float(np.sum(Y[i], dtype=np.float64))} "
            f"(renormalise: {name} / {name}.sum(axis=1, keepdims=True))"
        )
    return Y


# ----------------------------------------------------------------------------- the criteria
class Criterion:
    """One criterion: its ``name``; the output activation it needs (``output``, None: any) and why;
    the fewest output units it takes; torch's module (``torch``);
    ``loss(a, z, y)``, ``delta(a, z, y, g)`` (δ^L, with g the output activation) and
    ``targets(name, Y, dtype, u_L)`` (checks Y; returns it as ``(n, u^L)`` rows of dtype)."""

    def __init__(self, name, output, why, min_outputs, torch, loss, delta, targets):
        self.name = name
        self.output = output
        self.why = why
        self.min_outputs = min_outputs
        self.torch = torch
        self.loss = loss
        self.delta = delta
        self.targets = targets

    def __repr__(self):
        return f"Criterion({self.name!r})"


CRITERIA = {
    "mse": Criterion("mse", None, "", 1, "nn.MSELoss()", lambda a, z, y: mse(a, y),
                     lambda a, z, y, g: mse_grad(a, y) * g.g_prime(z, a), regression_targets),
    "bce": Criterion("bce", "sigmoid", "binary cross-entropy takes probabilities a^L in (0, 1)", 1, "nn.BCELoss()",
                     lambda a, z, y: bce(z, y), lambda a, z, y, g: bce_delta(a, y), bce_targets),
    "cross_entropy": Criterion("cross_entropy", "identity",
                               "the criterion takes the logits z^L and applies the softmax itself, "
                               "as nn.CrossEntropyLoss", 2, "nn.CrossEntropyLoss()",
                               lambda a, z, y: cross_entropy(z, y), lambda a, z, y, g: cross_entropy_delta(z, y),
                               class_targets),
}


def get(name):
    """The criterion called ``name``; a ValueError lists the known ones."""
    return check_name("criterion", "criterion", name, CRITERIA)


# ----------------------------------------------------------------------------- L2
def l2_penalty(theta, l2, n):
    """λ/(2n) Σ_j ‖θ^j[:, 1:]‖²: the squared weights, the bias column left out (Ng's ex4)."""
    T = theta[0].dtype.type
    return T(l2 / (2 * n)) * sum(np.sum(t[:, 1:] * t[:, 1:]) for t in theta)


def add_l2_gradient(D, theta, l2, n):
    """D^j[:, 1:] += (λ/n) θ^j[:, 1:] for every j, in place (the bias column D^j[:, 0] unchanged)."""
    c = theta[0].dtype.type(l2 / n)
    for d, t in zip(D, theta):
        d[:, 1:] += c * t[:, 1:]  # (u^{j+1}, u^j)
