"""Adam and SGD against torch.optim, after 1 and 25 steps, and their rules by hand."""

import numpy as np
import pytest

import scratchnn as sn
from conftest import random_data

CASES = [
    ("adam", {"lr": 0.01}),
    ("adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("adam", {"lr": 0.01, "amsgrad": True, "betas": (0.8, 0.99)}),
    ("adam", {"lr": 0.003, "amsgrad": True, "weight_decay": 0.05, "eps": 1e-6}),
    ("sgd", {"lr": 0.05}),
    ("sgd", {"lr": 0.05, "weight_decay": 0.01}),
    ("sgd", {"lr": 0.05, "momentum": 0.9}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
]

# Scale-relative errors of theta and of every state array.
# Same gradients fed to both: only the update formulas differ.
#   float64: measured <= 1e-15 (torch fuses some multiply-adds, NumPy does not);
#   float32: a few roundings per step (u = 6e-8), accumulated over 25 steps; measured <= 5e-7.
# Each engine with its own backward pass: the gradients' own float32 error (~1e-6) feeds in.
TOL = {
    (np.dtype(np.float64), True): 1e-13,
    (np.dtype(np.float32), True): 2e-6,
    (np.dtype(np.float64), False): 1e-12,
    (np.dtype(np.float32), False): 2e-5,
}


@pytest.mark.parametrize("kind,settings", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("steps", [1, 25])
@pytest.mark.parametrize("same_gradients", [True, False])
def test_matches_torch_optim(kind, settings, dtype, steps, same_gradients):
    pytest.importorskip("torch")
    from torchref.agreement import optimizer_errors

    units = [3, 6, 4, 2]
    net = sn.MLP(units, activations=["tanh", "sigmoid", "identity"], dtype=dtype, generator=11)
    X, Y = random_data(units, 40, dtype, 2)
    errors = optimizer_errors(net, X, Y, kind, steps, same_gradients=same_gradients, **settings)
    if settings.get("momentum") or kind == "adam":
        assert len(errors) > 1  # the state was compared too
    tol = TOL[(np.dtype(dtype), same_gradients)]
    assert max(errors.values()) < tol, errors


def _one_matrix():
    theta = [np.array([[1.0, -2.0]])]
    return theta


def test_sgd_momentum_rule_by_hand():
    # b_1 = g_1 (no dampening on the first step); b_2 = mu b_1 + (1 - tau) g_2
    theta = _one_matrix()
    opt = sn.SGD(theta, lr=0.5, momentum=0.9, dampening=0.5)
    opt.step([np.array([[1.0, 1.0]])])
    np.testing.assert_array_equal(theta[0], [[0.5, -2.5]])
    opt.step([np.array([[2.0, 0.0]])])
    # b_2 = 0.9 * [1, 1] + 0.5 * [2, 0] = [1.9, 0.9]
    np.testing.assert_allclose(theta[0], [[0.5 - 0.95, -2.5 - 0.45]], rtol=1e-15)


def test_adam_first_step_is_lr_times_sign():
    # after one step m/sqrt(v) with bias correction is g/|g|: theta moves by lr (eps aside)
    theta = _one_matrix()
    sn.Adam(theta, lr=0.1, eps=0.0).step([np.array([[3.0, -0.5]])])
    np.testing.assert_allclose(theta[0], [[0.9, -1.9]], rtol=1e-15)


def test_optimizer_state_is_theta_shaped_and_float32():
    net = sn.MLP([2, 3, 1])
    opt = sn.Adam(net.theta)
    for arrays in opt.state_arrays().values():
        assert [a.shape for a in arrays] == [t.shape for t in net.theta]
        assert all(a.dtype == np.float32 for a in arrays)
    X, Y = random_data([2, 3, 1], 4, np.float32, 0)
    opt.step(net.loss_and_grad(X, Y)[1])
    assert all(t.dtype == np.float32 for t in net.theta)
    assert all(a.dtype == np.float32 for arrays in opt.state_arrays().values() for a in arrays)


def test_step_updates_theta_in_place():
    net = sn.MLP([1, 2, 1])
    ids = [id(t) for t in net.theta]
    before = [t.copy() for t in net.theta]
    X, Y = random_data([1, 2, 1], 5, np.float32, 0)
    sn.SGD(net.theta, lr=0.1).step(net.loss_and_grad(X, Y)[1])
    assert [id(t) for t in net.theta] == ids
    assert any(not np.array_equal(a, b) for a, b in zip(before, net.theta))


@pytest.mark.parametrize("kind", ["SGD", "Adam"])
def test_defaults_are_torchs(kind):
    """Every keyword default of sn.SGD / sn.Adam equals torch.optim's (term for term includes defaults)."""
    torch = pytest.importorskip("torch")
    import inspect

    ours = inspect.signature(getattr(sn, kind).__init__).parameters
    theirs = inspect.signature(getattr(torch.optim, kind).__init__).parameters
    for name, p in ours.items():
        if name in ("self", "theta"):
            continue
        expected = theirs[name].default
        assert p.default == (tuple(expected) if isinstance(expected, tuple) else expected), name
