"""The MSE loss and its gradient: against nn.MSELoss and central differences."""

import numpy as np
import pytest

from scratchnn.losses import mse, mse_grad


def test_mse_and_gradient_by_hand():
    a = np.array([[1.0, 2.0], [3.0, 5.0]])
    y = np.array([[0.0, 2.0], [1.0, 1.0]])
    # (1 + 0 + 4 + 16) / 4 and 2/4 * (a - y), worked out by hand
    assert mse(a, y) == 21 / 4
    np.testing.assert_array_equal(mse_grad(a, y), [[0.5, 0.0], [1.0, 2.0]])


def test_gradient_matches_central_differences():
    rng = np.random.default_rng(0)
    a, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    h = 1e-6
    numeric = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[idx] = h
        numeric[idx] = (mse(a + e, y) - mse(a - e, y)) / (2 * h)
    # the loss is quadratic: central differences are exact up to rounding ~u/h
    np.testing.assert_allclose(mse_grad(a, y), numeric, rtol=0, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a, y = rng.standard_normal((50, 2)).astype(dtype), rng.standard_normal((50, 2)).astype(dtype)
    at = torch.from_numpy(a.copy()).requires_grad_(True)
    loss = torch.nn.MSELoss()(at, torch.from_numpy(y))
    loss.backward()
    # float32: torch and NumPy sum in different orders (u = 6e-8 per addition)
    tol = 1e-6 if dtype == np.float32 else 1e-15
    assert mse(a, y).dtype == dtype
    np.testing.assert_allclose(mse(a, y), loss.item(), rtol=tol)
    np.testing.assert_allclose(mse_grad(a, y), at.grad.numpy(), rtol=tol, atol=0)
