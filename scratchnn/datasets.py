"""Classification data sets: the TensorFlow Playground's four, and the 8x8 handwritten digits.

``playground(name, n, noise, seed)`` follows the playground's generators
(``dataset.ts`` of tensorflow/playground), with its labels -1/+1 written 0/1 and
its radius 5 (points in about [-6, 6]^2):

============  ==================================================================================
``circle``    class 1: radius r ~ U(0, 2.5), angle ~ U(0, 2π); class 0: r ~ U(3.5, 5). The label
              is 1 when the noisy point lies within radius 2.5 of the centre.
``xor``       x, y ~ U(-5, 5), each pushed 0.3 away from 0; label 1 when x y >= 0 (noisy point).
``gauss``     two Gaussians at (2, 2) (class 1) and (-2, -2) (class 0), variance 0.5 + 7 noise.
``spiral``    two spirals, r = 5 t, angle 1.75 · 2π t (+ π for class 0), t = k / (n/2).
============  ==================================================================================

``noise`` is the playground's slider divided by 100 (0 to 0.5 there): a uniform
jitter of ``noise`` times the radius (circle, xor) or times 1 (spiral), and the
Gaussians' spread. The points come shuffled.

``digits()`` is scikit-learn's copy of the UCI optical-recognition digits
(1797 images of 8x8 pixels, values 0-16, ten classes), the data of Ng's ex4 in
miniature: ``MLP([64, 25, 10], ["sigmoid", "identity"], criterion="cross_entropy")``.
"""

import numpy as np

from .checks import check_dtype, check_int, check_real

PLAYGROUND = ("circle", "xor", "gauss", "spiral")
RADIUS = 5.0  # the playground's scale: its points lie in about [-6, 6]^2
DIGITS_TEST = 360  # of the 1797 digits, these many (20 %) form the fixed test set
DIGITS_SPLIT_SEED = 0  # the permutation that fixes the split
PLAYGROUND_POINTS = 500  # training points of a playground split, and as many test points


def playground(name, n=500, noise=0.0, seed=0):
    """``(X, y)``: n points of the playground set ``name``, X ``(n, 2)`` and y ``(n, 1)``, float32, y 0 or 1.

    y is ready for ``criterion="bce"`` with one sigmoid output; for ``"cross_entropy"``
    (two outputs) take the class indices ``y[:, 0].astype(np.int64)``.
    The same (name, n, noise, seed) gives the same points.
    """
    if name not in PLAYGROUND:
        raise ValueError(f"name: expected one of {list(PLAYGROUND)}, got {name!r}")
    n = check_int("n", n, 2)
    noise = check_real("noise", noise, low=0.0, high=1.0)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    X, y = _GENERATORS[name](rng, n, noise)
    order = rng.permutation(n)
    return X[order].astype(np.float32), y[order].reshape(-1, 1).astype(np.float32)


def _circle(rng, n, noise):
    r = np.concatenate([rng.uniform(0, RADIUS * 0.5, n // 2), rng.uniform(RADIUS * 0.7, RADIUS, n - n // 2)])
    angle = rng.uniform(0, 2 * np.pi, n)
    X = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)  # (n, 2)
    noisy = X + rng.uniform(-RADIUS, RADIUS, (n, 2)) * noise
    return X, (np.hypot(noisy[:, 0], noisy[:, 1]) < RADIUS * 0.5).astype(np.int64)


def _xor(rng, n, noise):
    X = rng.uniform(-5, 5, (n, 2))
    X += np.where(X > 0, 0.3, -0.3)  # padding: no point sits on an axis
    noisy = X + rng.uniform(-5, 5, (n, 2)) * noise
    return X, (noisy[:, 0] * noisy[:, 1] >= 0).astype(np.int64)


def _gauss(rng, n, noise):
    variance = 0.5 + 7.0 * noise  # the playground maps noise 0..0.5 linearly onto variance 0.5..4
    k = n // 2
    centres = np.concatenate([np.full((k, 2), 2.0), np.full((n - k, 2), -2.0)])
    X = centres + np.sqrt(variance) * rng.standard_normal((n, 2))
    return X, np.concatenate([np.ones(k, np.int64), np.zeros(n - k, np.int64)])


def _spiral(rng, n, noise):
    parts, labels = [], []
    for delta_t, label, count in ((0.0, 1, n // 2), (np.pi, 0, n - n // 2)):
        t = np.arange(count) / count
        r = t * RADIUS
        angle = 1.75 * t * 2 * np.pi + delta_t
        part = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)  # (count, 2)
        parts.append(part + rng.uniform(-1, 1, (count, 2)) * noise)
        labels.append(np.full(count, label, np.int64))
    return np.concatenate(parts), np.concatenate(labels)


_GENERATORS = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral}


def playground_split(name, noise=0.0, seed=0, points=PLAYGROUND_POINTS, dtype=np.float32, train_share=0.5):
    """``(X, y), (X_test, y_test)``: ``2 points`` of :func:`playground`, the first ``train_share`` of them
    (half by default) to train on, the rest to test on.

    X ``(n, 2)`` in ``dtype``; y ``(n,)`` int64 class indices 0 or 1 (for bce take
    ``y[:, None]`` as a float column). Every application splits a playground set this way.
    ``train_share`` in (0, 1): the playground's train/test ratio; each side keeps at least one point.
    """
    dtype = check_dtype("dtype", dtype)
    points = check_int("points", points, 1)
    share = check_real("train_share", train_share, low=0.0, high=1.0, low_open=True, high_open=True)
    X, y = playground(name, n=2 * points, noise=noise, seed=seed)
    X, y = X.astype(dtype), y[:, 0].astype(np.int64)
    k = min(max(round(share * 2 * points), 1), 2 * points - 1)
    return (X[:k], y[:k]), (X[k:], y[k:])


def digits(dtype=np.float32):
    """``(X_train, y_train), (X_test, y_test)``: the 8x8 digits, pixels scaled to [0, 1], a fixed split.

    X ``(n, 64)`` in ``dtype`` (pixel value / 16), y ``(n,)`` int64 class indices 0-9;
    1437 training and 360 test images, split by a fixed permutation (the same on every call).
    Needs scikit-learn, which ships the images: ``pip install -e '.[datasets]'``.
    """
    dtype = check_dtype("dtype", dtype)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(
            "digits: the digits ship with scikit-learn, which is not installed; "
            "pip install -e '.[datasets]' (or pip install scikit-learn)"
        ) from None
    data = load_digits()
    X = (data.data / 16.0).astype(dtype)  # (1797, 64), pixels 0..16 -> [0, 1]
    y = data.target.astype(np.int64)  # (1797,)
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(y))
    test, train = order[:DIGITS_TEST], order[DIGITS_TEST:]
    return (X[train], y[train]), (X[test], y[test])
