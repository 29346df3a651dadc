"""The workshop's data and the normalisation it uses.

The notebook samples ``y = 3 sin(x/100) cos(x/10)`` at 3000 evenly spaced
points of [0, 100] (in float64), converts both to float32 and L5-normalises
each along the data axis: ``x_norm = x / ||x||_5``.
"""

import numpy as np

from .checks import check_dtype, check_real

SAMPLE_POINTS = 3000
X_LIM = 100
TEST_POINTS = 50  # the notebook's test inputs
TEST_SEED = 10  # its np.random.seed before drawing them


def lp_normalize(A, p=2.0, axis=1, eps=1e-12):
    r"""``A / max(||A||_p, eps)`` along ``axis``, as ``torch.nn.functional.normalize``.

    ``||A||_p = (sum |A_i|^p)^{1/p}``. The norm is accumulated in float64 and
    rounded to A's dtype (torch accumulates in its own order, so float32
    results can differ from torch's in the last bit); the division is in A's dtype.
    """
    if not isinstance(A, np.ndarray) or A.dtype not in (np.float32, np.float64):
        raise TypeError(f"A: expected a float32 or float64 numpy array, got {getattr(A, 'dtype', type(A).__name__)}")
    if A.ndim == 0:
        raise ValueError("A: expected at least one dimension")
    if not isinstance(axis, (int, np.integer)) or not -A.ndim <= axis < A.ndim:
        raise ValueError(f"axis: expected an int in [{-A.ndim}, {A.ndim}), got {axis!r}")
    p = check_real("p", p, low=0.0, low_open=True)
    eps = check_real("eps", eps, low=0.0)
    if not np.all(np.isfinite(A)):
        raise ValueError("A: contains NaN or inf")
    norm = np.sum(np.abs(A.astype(np.float64)) ** p, axis=axis, keepdims=True) ** (1.0 / p)
    denom = np.maximum(norm.astype(A.dtype), A.dtype.type(eps))
    return A / denom


def workshop_function(x):
    """The function the workshop fits: ``3 sin(x x_lim 1e-4) cos(x x_lim 1e-3)``."""
    return np.sin(x * X_LIM * 1e-4) * np.cos(x * X_LIM * 1e-3) * 3


def workshop_raw():
    """The notebook's (x, y) before normalisation: float64, shape (3000,)."""
    x = np.linspace(0, X_LIM, SAMPLE_POINTS)
    return x, workshop_function(x)


def workshop_data(dtype=np.float32):
    """``(X, Y)``: the notebook's 3000 points, shape (3000, 1) each, L5-normalised along axis 0.

    float32 (the default) is the notebook's: the float64 samples converted to float32, then
    normalised; float64 normalises the float64 samples directly, without a float32 detour.
    """
    dtype = check_dtype("dtype", dtype)
    x, y = workshop_raw()
    X = x.reshape(-1, 1).astype(dtype)
    Y = y.reshape(-1, 1).astype(dtype)
    return lp_normalize(X, p=5, axis=0), lp_normalize(Y, p=5, axis=0)


def workshop_test_points(X, count=TEST_POINTS, seed=TEST_SEED):
    """The notebook's test inputs ``(count, 1)``: ``np.random.uniform(0, max(X), count)`` after ``np.random.seed(seed)``.

    Nothing else draws from NumPy's global stream in between, so ``RandomState(seed)``
    replays them without touching it. As in the notebook the maximum is taken in X's
    dtype and the draws in float64, then converted to X's dtype.
    """
    high = np.max(X)  # float32 for float32 X, as np.max(x_norm.detach().numpy())
    return np.random.RandomState(seed).uniform(0, high, count).reshape(-1, 1).astype(X.dtype)
