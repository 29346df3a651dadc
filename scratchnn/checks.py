"""Checks at the public boundary: fail early, name the argument, say what was expected."""

import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(name, dtype):
    """Return ``np.dtype(dtype)`` if it is float32 or float64, else raise TypeError."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name}: expected float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected float32 or float64, got {dt}")
    return dt


def check_data(name, A, dtype, columns):
    """``A`` must be a finite, non-empty ``(n, columns)`` array of ``dtype``."""
    if not isinstance(A, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(A).__name__}")
    if A.dtype != dtype:
        raise TypeError(
            f"{name}: expected dtype {dtype}, got {A.dtype} (convert explicitly, e.g. {name}.astype(np.{dtype}))"
        )
    if A.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array of shape (n, {columns}), got shape {A.shape}")
    if A.shape[0] == 0:
        raise ValueError(f"{name}: expected at least one data point, got shape {A.shape}")
    if A.shape[1] != columns:
        raise ValueError(f"{name}: expected shape (n, {columns}), got {A.shape}")
    if not np.all(np.isfinite(A)):
        raise ValueError(f"{name}: contains NaN or inf")
    return A


def check_pair(X, Y, net, names=("X", "Y")):
    """Inputs and targets for ``net``: matching rows, the net's widths and dtype, targets its criterion takes.

    Returns the targets as the criterion's ``(n, u^L)`` array (class indices become one-hot rows),
    as ``net.check_targets`` makes them.
    """
    check_data(names[0], X, net.dtype, net.units[0])
    targets = net.check_targets(Y, names[1])
    if X.shape[0] != targets.shape[0]:
        raise ValueError(
            f"{names[0]}, {names[1]}: expected the same number of rows, got {X.shape[0]} and {targets.shape[0]}"
        )
    return targets


def check_int(name, value, minimum):
    """An integer (not a bool) of at least ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def check_real(name, value, low=None, high=None, low_open=False, high_open=False):
    """A finite real number in the given interval; returns it as a float."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    value = float(value)
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or below or above:
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise ValueError(f"{name}: expected a finite number in {interval}, got {value}")
    return value


def check_name(arg, kind, name, registry):
    """``registry[name]``: a TypeError when ``name`` is not a str, a ValueError naming ``arg`` and listing the known ``kind``s."""
    if not isinstance(name, str):
        raise TypeError(f"{arg}: expected a name (str), got {type(name).__name__}")
    if name not in registry:
        raise ValueError(f"{arg}: unknown {kind} {name!r}; expected one of {sorted(registry)}")
    return registry[name]
