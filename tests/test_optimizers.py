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


# ---------------------------------------------------------------- AdamW, RMSprop, Adagrad
SHAPES = [(5, 4), (3, 6), (1, 2), (17, 33)]  # theta^j-like: a row, a wide matrix, one with 33 columns (a vector tail)
STEPS = 40

NEW_CASES = [
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "amsgrad": True, "betas": (0.8, 0.95), "eps": 1e-6}),
    ("AdamW", {"weight_decay": 0.0}),
    ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.9}),
    ("RMSprop", {"centered": True}),
    ("RMSprop", {"lr": 0.003, "alpha": 0.9, "eps": 1e-3, "weight_decay": 0.1, "momentum": 0.5, "centered": True}),
    ("RMSprop", {"alpha": 0.3, "centered": True}),  # 1 - alpha >= 0.5: torch's lerp from the far end
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.2, "eps": 1e-6}),
]

# Scale-relative errors of theta and every state array after 40 steps on the same gradients.
#   float64: measured theta <= 3e-16, state <= 2.3e-15 (RMSprop's grad_avg, below). Not bit-equal:
#     torch's vectorised kernels fuse multiply-adds (add with alpha, addcmul, lerp) and its sqrt
#     is not correctly rounded (1 ulp off at times).
#     Bound 1e-14: a few roundings per step, 40 steps.
#   float32: theta measured <= 3e-7 (the same causes at u = 6e-8, accumulated). RMSprop's grad_avg,
#     a mean of gradients of either sign whose scale changes from step to step, cancels to a
#     fraction of the gradients it averages: its error relative to its own size reaches 2.1e-6.
#     Bound 1e-5.
NEW_TOL = {np.dtype(np.float64): 1e-14, np.dtype(np.float32): 1e-5}


def _torch_twin(kind, theta, settings):
    """torch.optim's ``kind`` over copies of theta, single-tensor updates (torch's CPU default)."""
    torch = pytest.importorskip("torch")
    params = [torch.tensor(t.copy(), requires_grad=True) for t in theta]
    return params, getattr(torch.optim, kind)(params, foreach=False, **settings)


def _step_both(opt, params, topt, rng, steps, dtype, scale=(0.01, 3.0)):
    torch = pytest.importorskip("torch")
    for _ in range(steps):
        D = [(rng.standard_normal(s) * rng.uniform(*scale)).astype(dtype) for s in SHAPES]
        for p, d in zip(params, D):
            p.grad = torch.from_numpy(d.copy())
        topt.step()
        opt.step(D)


def _errors(opt, params, topt):
    """Scale-relative error of theta and of each state array, scratch against torch."""
    from torchref.agreement import rel_err
    from torchref.bridge import STATE_KEYS

    errors = {"theta": max(rel_err(t, p.detach().numpy()) for t, p in zip(opt.theta, params))}
    for name, arrays in opt.state_arrays().items():
        key = STATE_KEYS[name]
        if key in topt.state[params[0]]:
            errors[name] = max(rel_err(a, topt.state[p][key].numpy()) for a, p in zip(arrays, params))
    return errors


def _run(kind, settings, dtype, steps=STEPS, opt_class=None, seed=0, scale=(0.01, 3.0)):
    rng = np.random.default_rng(seed)
    theta = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    params, topt = _torch_twin(kind, theta, settings)
    opt = (opt_class or getattr(sn, kind))(theta, **settings)
    _step_both(opt, params, topt, rng, steps, dtype, scale)
    return opt, _errors(opt, params, topt)


@pytest.mark.parametrize("kind,settings", NEW_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_new_optimizers_match_torch_optim_over_40_steps(kind, settings, dtype):
    opt, errors = _run(kind, settings, dtype)
    assert all(t.dtype == dtype for t in opt.theta)
    assert all(a.dtype == dtype for arrays in opt.state_arrays().values() for a in arrays)
    expected_state = {"AdamW": {"m", "v"}, "RMSprop": {"square_avg"}, "Adagrad": {"sum"}}[kind]
    assert expected_state <= set(errors)  # the state was compared too
    if settings.get("centered"):
        assert "grad_avg" in errors
    if settings.get("momentum"):
        assert "b" in errors
    assert max(errors.values()) < NEW_TOL[np.dtype(dtype)], errors


@pytest.mark.parametrize("kind,settings", [("adamw", {"lr": 0.01, "weight_decay": 0.1}),
                                           ("rmsprop", {"lr": 0.01, "momentum": 0.9, "centered": True}),
                                           ("adagrad", {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.01})])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_new_optimizers_train_a_net_as_torch_does(kind, settings, dtype):
    """30 steps on a 3-6-4-2 net, each engine with its own backward pass, torch's optimizer built by the bridge.

    Bounds as Adam's and SGD's (TOL above, own gradients): float64 1e-12 (measured <= 2e-14),
    float32 2e-5 (measured <= 2e-6: the gradients' own float32 error feeds in).
    """
    pytest.importorskip("torch")
    from torchref.agreement import optimizer_errors

    units = [3, 6, 4, 2]
    net = sn.MLP(units, activations=["tanh", "sigmoid", "identity"], dtype=dtype, generator=11)
    X, Y = random_data(units, 40, dtype, 2)
    errors = optimizer_errors(net, X, Y, kind, 30, same_gradients=False, **settings)
    assert len(errors) > 1
    assert max(errors.values()) < TOL[(np.dtype(dtype), False)], errors


@pytest.mark.parametrize("kind,settings", [("AdamW", {"amsgrad": True}),
                                           ("RMSprop", {"momentum": 0.9, "centered": True}),
                                           ("Adagrad", {"lr_decay": 0.1, "initial_accumulator_value": 0.5})])
def test_bridge_carries_the_state_both_ways(kind, settings):
    """5 steps here, then torch (optimizer_to_torch) and scratchnn 5 more on the same gradients; and back."""
    pytest.importorskip("torch")
    import torchref
    from torchref.agreement import torch_loss_and_grad

    units = [2, 5, 3]
    net = sn.MLP(units, dtype=np.float64, generator=4)
    X, Y = random_data(units, 20, np.float64, 1)
    opt = getattr(sn, kind)(net.theta, lr=0.01, **settings)
    for _ in range(5):
        opt.step(net.loss_and_grad(X, Y)[1])
    model = torchref.to_torch(net)
    topt = torchref.optimizer_to_torch(opt, model)
    for _ in range(5):
        D = torch_loss_and_grad(model, X, Y)[2]
        topt.step()
        opt.step([d.copy() for d in D])
    back = getattr(sn, kind)([t.copy() for t in net.theta], lr=0.01, **settings)
    torchref.optimizer_from_torch(topt, model, back)
    assert back.t == opt.t == 10
    for name, arrays in opt.state_arrays().items():
        for a, b in zip(arrays, back.state_arrays()[name]):
            np.testing.assert_allclose(b, a, rtol=1e-13, atol=1e-15, err_msg=name)  # measured ~1e-16


# ---------------------------------------------------------- planted mistakes: the tests can fail
class AdamL2(sn.AdamW):
    """Planted: AdamW's decay added to the gradient (Adam's L2), so it goes through m and v."""

    def _decay(self, j, g):
        return g + self.theta[j] * self.dtype.type(self.weight_decay)


class RMSpropEpsInsideRoot(sn.RMSprop):
    """Planted: sqrt(s + eps) instead of torch's sqrt(s) + eps."""

    def _update(self, j, g):
        T = self.dtype.type
        s = self.square_avg[j]
        s *= T(self.alpha)
        s += g * T(1 - self.alpha) * g
        self.theta[j] += T(-self.lr) * g / np.sqrt(s + T(self.eps))


class AdagradDecayOffByOne(sn.Adagrad):
    """Planted: clr = lr / (1 + t lr_decay), the first step already decayed (torch: t - 1)."""

    def _update(self, j, g):
        self.t += 1
        try:
            super()._update(j, g)
        finally:
            self.t -= 1


@pytest.mark.parametrize("planted,kind,settings,scale", [
    (AdamL2, "AdamW", {"lr": 0.01, "weight_decay": 0.5}, (0.01, 3.0)),
    # eps = 1e-2 beside gradients of 1e-3 to 1e-1: sqrt(s + eps) and sqrt(s) + eps differ by tens of percent
    (RMSpropEpsInsideRoot, "RMSprop", {"eps": 1e-2}, (1e-3, 1e-1)),
    (AdagradDecayOffByOne, "Adagrad", {"lr_decay": 0.1}, (0.01, 3.0)),
])
def test_planted_mistakes_are_caught(planted, kind, settings, scale):
    """The comparison above tells each named mistake from torch's rule, far above its bound."""
    _, right = _run(kind, settings, np.float64, scale=scale)
    _, wrong = _run(kind, settings, np.float64, opt_class=planted, scale=scale)
    assert right["theta"] < NEW_TOL[np.dtype(np.float64)]
    assert wrong["theta"] > 1e-4, wrong  # measured 0.13 (AdamW as L2), 0.11 (eps in the root), 1.6e-3 (t off by one)


def test_adamw_is_not_adam_with_weight_decay():
    """Decoupled: AdamW with weight_decay λ differs from Adam with λ (L2 through m and v); with λ = 0 they agree."""
    rng = np.random.default_rng(0)
    theta = [rng.standard_normal((4, 3))]
    a, b, c, d = ([theta[0].copy()] for _ in range(4))
    opts = [sn.AdamW(a, lr=0.01, weight_decay=0.5), sn.Adam(b, lr=0.01, weight_decay=0.5),
            sn.AdamW(c, lr=0.01, weight_decay=0.0), sn.Adam(d, lr=0.01)]
    for _ in range(30):
        D = [rng.standard_normal((4, 3))]
        for opt in opts:
            opt.step([D[0].copy()])
    assert np.max(np.abs(a[0] - b[0])) > 1e-3
    np.testing.assert_array_equal(c[0], d[0])
    assert not isinstance(opts[0], sn.Adam)  # the numba engine and the bridge tell them apart by class


def test_adamw_decays_theta_before_the_step():
    # t = 1, g = 0: m = v = 0, so Adam's step is 0 and only the decay moves theta: theta (1 - lr lambda)
    theta = [np.array([[2.0, -4.0]])]
    sn.AdamW(theta, lr=0.1, weight_decay=0.5).step([np.zeros((1, 2))])
    np.testing.assert_array_equal(theta[0], [[2.0 * 0.95, -4.0 * 0.95]])


def test_rmsprop_and_adagrad_rules_by_hand():
    # RMSprop, t = 1: s = (1 - alpha) g^2, theta -= lr g / (sqrt(s) + eps)
    theta = [np.array([[1.0, 1.0]])]
    sn.RMSprop(theta, lr=0.1, alpha=0.75, eps=0.5).step([np.array([[2.0, -4.0]])])
    np.testing.assert_allclose(theta[0], [[1 - 0.1 * 2 / (1 + 0.5), 1 + 0.1 * 4 / (2 + 0.5)]], rtol=1e-15)
    # Adagrad, t = 2 with lr_decay 1: clr = lr / 2; G = 0.5 + 1 + 9
    theta = [np.array([[0.0]])]
    opt = sn.Adagrad(theta, lr=1.0, lr_decay=1.0, initial_accumulator_value=0.5, eps=0.0)
    opt.step([np.array([[1.0]])])
    np.testing.assert_allclose(theta[0], [[-1 / np.sqrt(1.5)]], rtol=1e-15)
    opt.step([np.array([[3.0]])])
    np.testing.assert_allclose(theta[0], [[-1 / np.sqrt(1.5) - 0.5 * 3 / np.sqrt(10.5)]], rtol=1e-15)


@pytest.mark.parametrize("make,exc,name", [
    (lambda t: sn.AdamW(t, lr=0), ValueError, "lr"),
    (lambda t: sn.AdamW(t, betas=(1.0, 0.9)), ValueError, "betas[0]"),
    (lambda t: sn.AdamW(t, weight_decay=-0.1), ValueError, "weight_decay"),
    (lambda t: sn.AdamW(t, amsgrad=1), TypeError, "amsgrad"),
    (lambda t: sn.RMSprop(t, alpha=1.5), ValueError, "alpha"),
    (lambda t: sn.RMSprop(t, eps=-1e-8), ValueError, "eps"),
    (lambda t: sn.RMSprop(t, momentum=-0.9), ValueError, "momentum"),
    (lambda t: sn.RMSprop(t, centered="yes"), TypeError, "centered"),
    (lambda t: sn.RMSprop(t, weight_decay=float("nan")), ValueError, "weight_decay"),
    (lambda t: sn.Adagrad(t, lr_decay=-1), ValueError, "lr_decay"),
    (lambda t: sn.Adagrad(t, initial_accumulator_value=-0.1), ValueError, "initial_accumulator_value"),
    (lambda t: sn.Adagrad(t, eps="1e-10"), TypeError, "eps"),
    (lambda t: sn.Adagrad([t[0].astype(np.int64)]), TypeError, "theta"),
])
def test_bad_arguments_name_themselves(make, exc, name):
    with pytest.raises(exc) as info:
        make([np.zeros((2, 3))])
    assert str(info.value).startswith(f"{name}:"), str(info.value)


@pytest.mark.parametrize("kind", ["AdamW", "RMSprop", "Adagrad"])
def test_new_defaults_are_torchs(kind):
    test_defaults_are_torchs(kind)
