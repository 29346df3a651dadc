"""The criteria and their δ^L (mse, bce, cross_entropy) and the L2 term: by hand, central differences, torch."""

import numpy as np
import pytest

import scratchnn as sn
from scratchnn import losses
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


# ------------------------------------------------------------ bce and cross_entropy


def test_bce_and_cross_entropy_by_hand():
    z = np.array([[0.0], [np.log(3.0)]])  # σ(z) = 1/2 and 3/4
    y = np.array([[1.0], [0.0]])
    # -(log 1/2 + log 1/4) / 2 and (a - y) / 2, worked out by hand
    assert losses.bce(z, y) == pytest.approx(np.log(8) / 2, rel=1e-15)
    np.testing.assert_allclose(losses.bce_delta(np.array([[0.5], [0.75]]), y), [[-0.25], [0.375]], rtol=1e-15)
    z = np.array([[0.0, np.log(3.0)], [1.0, 1.0]])  # softmax rows (1/4, 3/4) and (1/2, 1/2)
    y = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert losses.cross_entropy(z, y) == pytest.approx((np.log(4 / 3) + np.log(2)) / 2, rel=1e-15)
    np.testing.assert_allclose(losses.cross_entropy_delta(z, y), [[0.125, -0.125], [-0.25, 0.25]], rtol=1e-15)


@pytest.mark.parametrize("criterion", ["bce", "cross_entropy"])
def test_delta_L_matches_central_differences(criterion):
    """δ^L = ∂𝓛/∂z^L in its derived form, against central differences of 𝓛(z) (float64, h = 1e-6)."""
    rng = np.random.default_rng(3)
    z = rng.standard_normal((7, 4)) * 3
    y = rng.uniform(0, 1, (7, 4)) if criterion == "bce" else rng.dirichlet(np.ones(4), 7)
    c = losses.get(criterion)
    a = 1 / (1 + np.exp(-z)) if criterion == "bce" else z

    def loss(zz):
        return c.loss(1 / (1 + np.exp(-zz)) if criterion == "bce" else zz, zz, y)

    numeric = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[idx] = 1e-6
        numeric[idx] = (loss(z + e) - loss(z - e)) / 2e-6
    # truncation O(h^2) ~ 1e-12 and rounding O(u/h) ~ 1e-10 of an O(1) loss
    np.testing.assert_allclose(c.delta(a, z, y, None), numeric, rtol=0, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturated_outputs_give_finite_losses_and_gradients(dtype):
    """σ(±200) rounds to 1 and 0: the naive log(1 - a) would be log 0; from z the loss is the true |z|."""
    z = np.array([[200.0], [-200.0], [1000.0]], dtype)
    y = np.array([[0.0], [1.0], [1.0]], dtype)
    a = sn.ACTIVATIONS["sigmoid"].g(z)
    assert losses.bce(z, y) == pytest.approx(400 / 3, rel=1e-6)
    np.testing.assert_array_equal(losses.bce_delta(a, y), np.array([[1 / 3], [-1 / 3], [0.0]], dtype))
    logits = np.array([[1000.0, 0.0, -1000.0]], dtype)  # e^1000 would overflow
    assert np.isfinite(losses.cross_entropy(logits, np.array([[0.0, 0.0, 1.0]], dtype)))
    np.testing.assert_array_equal(losses.softmax(logits), np.array([[1.0, 0.0, 0.0]], dtype))
    for f in (losses.bce(z, y), losses.cross_entropy(logits, np.array([[0.0, 1.0, 0.0]], dtype))):
        assert f.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_criteria_match_torch(dtype):
    """Against nn.BCELoss (on σ(z)) and nn.CrossEntropyLoss (indices and probabilities), with autograd's ∂𝓛/∂z.

    Bounds as for the MSE: torch and NumPy round in different orders (float32 u = 6e-8).
    """
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    tol = 1e-6 if dtype == np.float32 else 1e-14
    z = (rng.standard_normal((50, 3)) * 2).astype(dtype)
    y_soft = rng.uniform(0, 1, (50, 3)).astype(dtype)
    zt = torch.from_numpy(z.copy()).requires_grad_(True)
    loss = torch.nn.BCELoss()(torch.sigmoid(zt), torch.from_numpy(y_soft))
    loss.backward()
    a = sn.ACTIVATIONS["sigmoid"].g(z)
    np.testing.assert_allclose(losses.bce(z, y_soft), loss.item(), rtol=tol)
    g = zt.grad.numpy()
    np.testing.assert_allclose(losses.bce_delta(a, y_soft), g, rtol=0, atol=tol * np.abs(g).max())
    labels = rng.integers(0, 3, 50)
    probabilities = rng.dirichlet(np.ones(3), 50).astype(dtype)
    cases = ((losses.one_hot(labels, 3, dtype), torch.from_numpy(labels)), (probabilities, torch.from_numpy(probabilities)))
    for y, target in cases:
        zt = torch.from_numpy(z.copy()).requires_grad_(True)
        loss = torch.nn.CrossEntropyLoss()(zt, target)
        loss.backward()
        np.testing.assert_allclose(losses.cross_entropy(z, y), loss.item(), rtol=tol)
        g = zt.grad.numpy()
        np.testing.assert_allclose(losses.cross_entropy_delta(z, y), g, rtol=0, atol=tol * np.abs(g).max())


def test_l2_penalty_and_gradient_leave_the_bias_column_alone():
    theta = [np.array([[5.0, 1.0, 2.0]]), np.array([[7.0, 3.0], [-9.0, -1.0]])]
    # λ/(2n) (1 + 4 + 9 + 1) with λ = 2, n = 5
    assert losses.l2_penalty(theta, 2.0, 5) == pytest.approx(15 / 5, rel=1e-15)
    D = [np.zeros_like(t) for t in theta]
    losses.add_l2_gradient(D, theta, 2.0, 5)
    np.testing.assert_allclose(D[0], [[0.0, 0.4, 0.8]])
    np.testing.assert_allclose(D[1], [[0.0, 1.2], [0.0, -0.4]])


def test_class_targets_become_one_hot_rows():
    y = losses.class_targets("Y", np.array([2, 0, 1]), np.float32, 3)
    np.testing.assert_array_equal(y, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert y.dtype == np.float32
