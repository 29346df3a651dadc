"""scratchnn.preprocess: Standardizer fitted on training data only, and the MAE."""

import numpy as np
import pytest

from scratchnn.preprocess import Standardizer, mae


def data(n=200, p=3, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, p)) * [1.0, 10.0, 1e-3][:p] + [5.0, -2.0, 1e-2][:p]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardizer_gives_zero_mean_unit_std_on_the_training_set(dtype):
    A = data(dtype=dtype)
    s = Standardizer().fit(A)
    B = s.transform(A)
    assert B.dtype == dtype and s.mu.dtype == dtype and s.sigma.dtype == dtype
    # float32: mu and sigma are rounded to float32, so mean and std are off by a few units of 1e-7
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(B.mean(axis=0), 0.0, atol=tol)
    np.testing.assert_allclose(B.std(axis=0), 1.0, atol=tol)


def test_standardizer_uses_training_statistics_for_other_data():
    train, val = data(seed=0), data(seed=1)
    s = Standardizer().fit(train)
    expected = (val.astype(np.float64) - train.astype(np.float64).mean(0)) / train.astype(np.float64).std(0)
    # float32 data: one rounding of mu, sigma and of the result each, relative ~1e-7 of values O(1)
    np.testing.assert_allclose(s.transform(val), expected, atol=1e-5)


def test_inverse_transform_undoes_transform():
    A = data(dtype=np.float64)
    s = Standardizer().fit(A)
    # float64: two roundings per element
    np.testing.assert_allclose(s.inverse_transform(s.transform(A)), A, rtol=1e-13, atol=1e-15)


def test_constant_column_is_only_centred():
    A = np.ones((5, 2))
    A[:, 1] = np.arange(5)
    s = Standardizer().fit(A)
    assert s.sigma[0] == 1.0
    assert np.all(s.transform(A)[:, 0] == 0)


def test_fit_transform_equals_fit_then_transform():
    A = data()
    assert np.array_equal(Standardizer().fit_transform(A), Standardizer().fit(A).transform(A))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda s: s.transform(np.ones((2, 3), np.float32)), "call fit"),
        (lambda s: s.fit([[1.0]]), "A: expected a numpy array"),
        (lambda s: s.fit(np.ones(3)), "A: expected a 2-D array"),
        (lambda s: s.fit(np.array([[np.nan]])), "A: contains NaN"),
        (lambda s: s.fit(np.ones((2, 2), np.int64)), "A.dtype"),
    ],
)
def test_standardizer_input_checks_name_the_argument(call, match):
    with pytest.raises((TypeError, ValueError, RuntimeError), match=match):
        call(Standardizer())


def test_transform_checks_columns_and_dtype():
    s = Standardizer().fit(data(p=3))
    with pytest.raises(ValueError, match="A: expected 3 columns"):
        s.transform(np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match="A: expected dtype float32"):
        s.transform(np.ones((2, 3), np.float64))


def test_mae_by_hand():
    p = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = np.array([[0.0, 2.0], [5.0, 1.0]])
    assert mae(p, t) == (1 + 0 + 2 + 3) / 4
    np.testing.assert_array_equal(mae(p, t, axis=0), [(1 + 2) / 2, (0 + 3) / 2])


def test_mae_accumulates_float32_data_in_float64():
    p = np.full((3, 1), 1 + 2**-20, np.float32)  # exact in float32, as is the difference 2^-20
    t = np.ones((3, 1), np.float32)
    assert mae(p, t) == 2**-20 and mae(p, t).dtype == np.float64


def test_metrics_check_shapes():
    with pytest.raises(ValueError, match="prediction, target: expected the same shape"):
        mae(np.ones((2, 1)), np.ones((3, 1)))
    with pytest.raises(TypeError, match="target: expected a numpy array"):
        mae(np.ones((2, 1)), [[1.0], [2.0]])
