"""scratchnn.datasets: the playground's four sets and the digits, their shapes, labels, determinism and errors."""

import re
import sys

import numpy as np
import pytest

import scratchnn as sn
from conftest import needs_sklearn
from scratchnn import datasets


@pytest.mark.parametrize("name", datasets.PLAYGROUND)
def test_playground_shapes_labels_and_determinism(name):
    X, y = datasets.playground(name, n=301, noise=0.2, seed=4)
    assert X.shape == (301, 2) and y.shape == (301, 1)
    assert X.dtype == np.float32 and y.dtype == np.float32
    assert set(np.unique(y)) == {0.0, 1.0}
    assert np.all(np.abs(X) < 12)  # the playground's scale: radius 5, spirals and noise a little beyond
    X2, y2 = datasets.playground(name, n=301, noise=0.2, seed=4)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    X3, _ = datasets.playground(name, n=301, noise=0.2, seed=5)
    assert not np.array_equal(X, X3)


def test_playground_sets_without_noise_follow_their_rule():
    X, y = datasets.playground("circle", n=400)
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.all(r[y[:, 0] == 1] < 2.5) and np.all(r[y[:, 0] == 0] > 3.5)
    X, y = datasets.playground("xor", n=400)
    np.testing.assert_array_equal(y[:, 0], X[:, 0] * X[:, 1] >= 0)
    assert np.min(np.abs(X)) >= 0.3  # pushed away from the axes
    X, y = datasets.playground("gauss", n=400)
    assert np.mean(X[y[:, 0] == 1], axis=0) == pytest.approx([2, 2], abs=0.3)
    assert np.mean(X[y[:, 0] == 0], axis=0) == pytest.approx([-2, -2], abs=0.3)
    X, y = datasets.playground("spiral", n=400)
    assert np.max(np.hypot(X[:, 0], X[:, 1])) < 5  # r = 5 t, t < 1
    assert y.sum() == 200  # half the points on each arm


def test_playground_rejects_bad_arguments():
    with pytest.raises(ValueError, match="name.*circle"):
        datasets.playground("moons")
    with pytest.raises(ValueError, match="n: expected an int >= 2"):
        datasets.playground("xor", n=1)
    with pytest.raises(TypeError, match="n: expected an int"):
        datasets.playground("xor", n=10.0)
    with pytest.raises(ValueError, match="noise"):
        datasets.playground("xor", noise=-0.1)
    with pytest.raises(ValueError, match="seed"):
        datasets.playground("xor", seed=-1)


def test_digits_split_and_scale():
    needs_sklearn()
    (X, y), (X_test, y_test) = sn.datasets.digits()
    assert X.shape == (1437, 64) and X_test.shape == (360, 64)
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 1
    assert set(np.unique(y)) == set(range(10)) and set(np.unique(y_test)) == set(range(10))
    (X2, y2), _ = sn.datasets.digits(np.float64)
    assert X2.dtype == np.float64 and np.array_equal(y2, y)  # the same fixed split every call


def test_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # None in sys.modules makes the import fail
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=re.escape("pip install -e '.[datasets]'")):
        sn.datasets.digits()


def test_playground_split_takes_the_train_share_of_the_same_points():
    (X, y), (Xt, yt) = datasets.playground_split("xor", seed=3, points=50)
    (X2, y2), (Xt2, yt2) = datasets.playground_split("xor", seed=3, points=50, train_share=0.8)
    assert (len(X), len(Xt), len(X2), len(Xt2)) == (50, 50, 80, 20)
    np.testing.assert_array_equal(np.concatenate([X, Xt]), np.concatenate([X2, Xt2]))  # one draw, cut elsewhere
    np.testing.assert_array_equal(np.concatenate([y, yt]), np.concatenate([y2, yt2]))
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="train_share"):
            datasets.playground_split("xor", train_share=bad)
