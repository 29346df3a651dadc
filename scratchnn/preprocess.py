r"""Preparing data and scoring predictions: standardisation, and the mean absolute error.

Standardisation is fitted on the training set only, then applied unchanged to
validation and test data (fitting it on all data leaks their statistics into
training). For every column k of the training inputs ``A`` (n, p):

    mu_k    = (1/n) sum_i A_ik
    sigma_k = sqrt((1/n) sum_i (A_ik - mu_k)^2)         (population std, ddof = 0)
    A'_ik   = (A_ik - mu_k) / sigma_k

A constant column (sigma_k = 0) is only centred (sigma_k is taken as 1).

The mean absolute error :func:`mae` scores predictions in the data's own
(physical) units, per column with ``axis=0``. The mean squared error is the
engine's criterion: ``net.loss(X, Y)``, or :func:`scratchnn.losses.mse` on arrays.
"""

import numpy as np

from .checks import check_dtype


def _check_array(name, A, columns=None):
    """A finite 2-D float32/float64 array (n >= 1 rows), with ``columns`` columns when given."""
    if not isinstance(A, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(A).__name__}")
    check_dtype(f"{name}.dtype", A.dtype)
    if A.ndim != 2 or A.shape[0] == 0:
        raise ValueError(f"{name}: expected a 2-D array of shape (n, p) with n >= 1, got shape {A.shape}")
    if columns is not None and A.shape[1] != columns:
        raise ValueError(f"{name}: expected {columns} columns (as the data the Standardizer was fitted on), got {A.shape[1]}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name}: contains NaN or inf")
    return A


class Standardizer:
    r"""Per-column standardisation ``A' = (A - mu) / sigma``, fitted on training data only.

    ``mu`` and ``sigma`` (each ``(p,)``) are computed in float64 and stored in
    the dtype of the data passed to :meth:`fit`, so float32 data stay float32.

    Examples
    --------
    >>> s = Standardizer().fit(X_train)
    >>> X_train_s, X_val_s = s.transform(X_train), s.transform(X_val)
    >>> Y_pred = s_y.inverse_transform(net.forward(X_val_s))
    """

    def __init__(self):
        self.mu = None
        self.sigma = None

    def fit(self, A):
        """Compute ``mu`` and ``sigma`` of each column of ``A`` (n, p); returns self."""
        _check_array("A", A)
        A64 = A.astype(np.float64)
        mu = A64.mean(axis=0)
        sigma = A64.std(axis=0)
        sigma[sigma == 0] = 1.0  # a constant column carries no scale: centre it only
        self.mu, self.sigma = mu.astype(A.dtype), sigma.astype(A.dtype)
        return self

    def _fitted(self, name, A):
        if self.mu is None:
            raise RuntimeError("Standardizer: call fit(A_train) before transform or inverse_transform")
        _check_array(name, A, columns=self.mu.size)
        if A.dtype != self.mu.dtype:
            raise TypeError(f"{name}: expected dtype {self.mu.dtype} (the dtype fitted on), got {A.dtype}")
        return A

    def transform(self, A):
        """``(A - mu) / sigma``, shape and dtype of ``A``."""
        return (self._fitted("A", A) - self.mu) / self.sigma

    def fit_transform(self, A):
        """``fit(A)`` then ``transform(A)``."""
        return self.fit(A).transform(A)

    def inverse_transform(self, A):
        """``A sigma + mu``: back to the original units."""
        return self._fitted("A", A) * self.sigma + self.mu

    def __repr__(self):
        return "Standardizer(not fitted)" if self.mu is None else f"Standardizer({self.mu.size} columns, {self.mu.dtype})"


def _check_pred_target(prediction, target):
    _check_array("prediction", prediction)
    _check_array("target", target)
    if prediction.shape != target.shape:
        raise ValueError(f"prediction, target: expected the same shape, got {prediction.shape} and {target.shape}")


def mae(prediction, target, axis=None):
    r"""Mean absolute error ``(1/N) Σ |prediction - target|`` of two ``(n, p)`` arrays, accumulated in float64.

    ``axis=None`` averages every element (N = n p); ``axis=0`` gives one value per column (N = n).
    """
    _check_pred_target(prediction, target)
    return np.mean(np.abs(prediction.astype(np.float64) - target), axis=axis)
