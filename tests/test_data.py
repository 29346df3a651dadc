"""The workshop's data and lp_normalize, against the notebook's own torch recipe."""

import numpy as np
import pytest

import scratchnn as sn


def test_workshop_data_shape_dtype_and_norm(workshop):
    X, Y = workshop
    assert X.shape == Y.shape == (3000, 1)
    assert X.dtype == Y.dtype == np.float32
    # L5-normalised: each column has unit 5-norm (to float32 rounding, u = 6e-8, over 3000 terms)
    for A in (X, Y):
        assert np.sum(np.abs(A.astype(np.float64)) ** 5) ** 0.2 == pytest.approx(1.0, rel=1e-6)
    assert X[0, 0] == 0 and np.all(np.diff(X[:, 0]) > 0)


def test_workshop_data_matches_the_notebook_in_torch():
    torch = pytest.importorskip("torch")
    # the notebook, cell by cell
    x = np.linspace(0, 100, int(3e3))
    y = np.sin(x * 100 * 1e-4) * np.cos(x * 100 * 1e-3) * 3
    x_torch = torch.from_numpy(x.reshape(3000, 1)).to(dtype=torch.float32)
    y_torch = torch.from_numpy(y.reshape(3000, 1)).to(dtype=torch.float32)
    x_norm = torch.nn.functional.normalize(x_torch, p=5, dim=0).numpy()
    y_norm = torch.nn.functional.normalize(y_torch, p=5, dim=0).numpy()
    X, Y = sn.workshop_data()
    # torch accumulates the float32 norm in its own order: the divisor may differ by
    # an ulp, so the data agree to 2 float32 ulps (rel 2.4e-7), not bit for bit
    np.testing.assert_allclose(X, x_norm, rtol=2.4e-7, atol=0)
    np.testing.assert_allclose(Y, y_norm, rtol=2.4e-7, atol=0)


@pytest.mark.parametrize("p", [1.0, 2.0, 5.0, 0.5])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lp_normalize_matches_torch(p, axis, dtype):
    torch = pytest.importorskip("torch")
    A = np.random.default_rng(0).standard_normal((7, 4)).astype(dtype)
    A[2] = 0  # an all-zero row: eps keeps the division finite
    A[:, 3] = 0
    ours = sn.lp_normalize(A, p=p, axis=axis)
    theirs = torch.nn.functional.normalize(torch.from_numpy(A), p=p, dim=axis).numpy()
    assert ours.dtype == dtype
    # float32: norm rounding may differ by an ulp (see above); float64: both within ~2 ulp
    np.testing.assert_allclose(ours, theirs, rtol=3e-7 if dtype == np.float32 else 1e-15, atol=0)


def test_lp_normalize_defaults_are_torchs():
    A = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_array_equal(sn.lp_normalize(A), [[0.6, 0.8], [0.0, 0.0]])


def test_lp_normalize_rejects_bad_input():
    with pytest.raises(TypeError, match="A"):
        sn.lp_normalize([[1.0, 2.0]])
    with pytest.raises(TypeError, match="A"):
        sn.lp_normalize(np.array([[1, 2]]))
    with pytest.raises(ValueError, match="p"):
        sn.lp_normalize(np.ones((2, 2)), p=0)
    with pytest.raises(ValueError, match="axis"):
        sn.lp_normalize(np.ones((2, 2)), axis=2)
    with pytest.raises(ValueError, match="NaN"):
        sn.lp_normalize(np.array([[np.nan, 1.0]]))


def test_test_points_replay_the_notebooks_global_numpy_stream():
    X, _ = sn.workshop_data()
    np.random.seed(10)  # the notebook's seeding cell; nothing draws from np.random before the test points
    expected = np.random.uniform(0, np.max(X), 50).reshape(-1, 1).astype(np.float32)
    got = sn.data.workshop_test_points(X)
    assert got.dtype == np.float32 and got.shape == (50, 1)
    assert np.array_equal(got, expected)
    assert 0 <= got.min() and got.max() <= X.max()


def test_float64_data_are_normalised_in_float64():
    X, Y = sn.workshop_data(np.float64)
    X32, _ = sn.workshop_data(np.float32)
    assert X.dtype == np.float64 and X.shape == (3000, 1)
    x, _ = sn.data.workshop_raw()
    np.testing.assert_allclose(X[:, 0], x / np.sum(x**5) ** 0.2, rtol=1e-15)  # one rounding each
    np.testing.assert_allclose(X, X32, rtol=1e-6)  # float32 rounding of the same numbers
