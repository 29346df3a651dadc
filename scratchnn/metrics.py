"""How often a classifier is right: the accuracy of ``net.predict``."""

import numpy as np

from .checks import check_data


def accuracy(net, X, y):
    """The fraction of points whose predicted class is the true one: (1/n) Σ_i [ŷ_i = y_i].

    ``net`` classifies (criterion ``"bce"`` or ``"cross_entropy"``); ŷ = ``net.predict(X)``.
    ``y``: class indices ``(n,)`` (ints; 0/1 for one bce output); or the targets the net
    was trained on, ``(n, u^L)`` of its dtype: one-hot or probabilities (cross_entropy, whose
    class is then the row's argmax), 0/1 labels (bce, scored entry by entry).
    """
    if net.criterion not in ("bce", "cross_entropy"):
        raise ValueError(
            f"net: accuracy needs a classifier (criterion 'bce' or 'cross_entropy'), got {net.criterion!r}"
        )
    predicted = net.predict(X)  # (n,) or, for several bce outputs, (n, u^L)
    u_L = net.units[-1]
    if not isinstance(y, np.ndarray):
        raise TypeError(f"y: expected a numpy array of class labels, got {type(y).__name__}")
    if y.ndim == 2:
        check_data("y", y, net.dtype, u_L)
        if net.criterion == "cross_entropy":
            y = np.argmax(y, axis=1)  # (n,)
        else:
            if not np.all((y == 0) | (y == 1)):
                raise ValueError("y: expected 0/1 labels for a bce net")
            y = y.astype(np.int64)
            y = y[:, 0] if u_L == 1 else y
    elif y.ndim == 1:
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"y: expected integer class indices, got {y.dtype} (convert with y.astype(np.int64))")
        classes = 2 if net.criterion == "bce" else u_L
        if net.criterion == "bce" and u_L != 1:
            raise ValueError(f"y: this bce net has {u_L} outputs (one yes/no each): expected labels (n, {u_L})")
        if np.any((y < 0) | (y >= classes)):
            raise ValueError(f"y: class indices must lie in 0..{classes - 1}, got {y[(y < 0) | (y >= classes)][0]}")
    else:
        raise ValueError(f"y: expected class indices (n,) or targets (n, {u_L}), got shape {y.shape}")
    if y.shape[0] != predicted.shape[0]:
        raise ValueError(f"X, y: expected the same number of rows, got {predicted.shape[0]} and {y.shape[0]}")
    return float(np.mean(predicted == y))
