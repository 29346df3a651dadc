"""Batch norm, layer norm and dropout (MLP(..., norm=, dropout=)) against torch's own modules.

Errors are scale-relative, max|a - b| / max|b| (``rel_err``). The torch twin is built here with
torch's modules after ``torch.manual_seed(s)``, not through the bridge, so that the bridge is
tested too (``to_torch`` must give the same model).
"""

import math

import numpy as np
import pytest

import scratchnn as sn
from scratchnn import norms

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import torchref  # noqa: E402
from torchref.agreement import rel_err  # noqa: E402
from torchref.bridge import MODULES  # noqa: E402

NORM_MODULES = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}
LR, BETAS = 0.01, (0.9, 0.999)
STEPS = 4

# float64: every quantity within 1e-12 (measured <= 4e-14 over 60 random nets x 5 Adam steps: both
# sides round differently in the sums of μ, σ² and the backward's means, and the steps compound it).
# float32: 1e-4. The two sides sum μ, σ² and the gradients' columns in different orders, each
# sum off by up to ~n u (u = 6e-8, n = 32 points) relative to its terms; the normalisation
# divides by σ, so a partly cancelling sum (a mean close to zero, a gradient column whose terms
# cancel) loses a few more digits, and the steps compound it. Measured <= 1.2e-5 over 60 random nets.
TOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-4}

# (norm, p) for each net: every norm with and without dropout, and dropout alone
SHAPES = [("batch", 0.0), ("batch", 0.2), ("layer", 0.0), ("layer", 0.5), (None, 0.3)]


@pytest.fixture(autouse=True)
def one_torch_thread():
    """torch's BatchNorm1d on two threads takes ~30 ms a call on these tiny batches (thread start-up), 0.02 ms on one."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def random_net(seed, norm, p, dtype):
    """Random widths and activations for a net that is not degenerate (see ``test_...degenerate`` below).

    Batch norm needs two or more features into the Linear before it (with one, ẑ = ±x̂ whatever
    the weight: its gradient is rounding noise); layer norm needs four or more units to normalise
    (with two, ẑ = ±1 whatever z). So u^0 >= 2 and every hidden width >= 4.
    """
    rng = np.random.default_rng(seed)
    L = int(rng.integers(2, 4))  # 2 or 3 weight matrices: 1 or 2 hidden layers
    units = [int(rng.integers(2, 5))] + [int(u) for u in rng.integers(4, 8, L - 1)] + [int(rng.integers(1, 4))]
    acts = [str(a) for a in rng.choice(["tanh", "sigmoid", "relu", "leaky_relu"], L - 1)] + [
        str(rng.choice(["identity", "tanh"]))]
    return units, acts


def torch_twin(units, acts, norm, p, dtype, seed):
    """``nn.Sequential(Linear, [Norm], act, [Dropout], …, Linear, out_act)`` built after ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    dt = torchref.torch_dtype(dtype)
    mods = []
    L = len(units) - 1
    for j in range(L):
        mods.append(nn.Linear(units[j], units[j + 1], dtype=dt))
        if j + 1 < L and norm:
            mods.append(NORM_MODULES[norm](units[j + 1], dtype=dt))
        mods.append(MODULES[acts[j]]())
        if j + 1 < L and p:
            mods.append(nn.Dropout(p))
    return nn.Sequential(*mods)


def torch_params(model):
    """model's parameters in ``net.params``' layout: θ^j = [bias, weight], then γ^j, then β^j (numpy copies)."""
    return torchref.bridge.params_of(model)


def torch_grads(model):
    """The gradients of model's parameters in ``net.params``' layout."""
    out = []
    for group in torchref.bridge.parameters(model):
        if len(group) == 2:
            w, b = group
            out.append(np.concatenate([b.grad.numpy()[:, None], w.grad.numpy()], axis=1))
        else:
            out.append(group[0].grad.numpy().copy())
    return out


def torch_loss_and_grad(model, X, Y):
    model.zero_grad()
    loss = nn.MSELoss()(model(torch.from_numpy(X)), torch.from_numpy(Y))
    loss.backward()
    return loss.item(), torch_grads(model)


def adam_step_bound(t, G, lr=LR, betas=BETAS, eps=1e-8):
    """The largest |Δθ| of Adam's step t when every gradient so far was at most G in magnitude.

    The step is lr/(1 − β1^t) · m_t / (√v_t / √(1 − β2^t) + ε), with m_t = (1 − β1) Σ_s β1^{t−s} g_s
    and v_t = (1 − β2) Σ_s β2^{t−s} g_s². Two bounds, the smaller holds:
    - |m_t| <= (1 − β1^t) G, so the step is at most lr G/ε: Adam's slope lr/ε near a zero gradient,
      which turns rounding noise G into a parameter change far above rounding;
    - by Cauchy–Schwarz |m_t| <= (1 − β1)/√(1 − β2) · √(Σ_{k<t} (β1²/β2)^k) · √v_t, whatever the
      gradients: at most lr for t = 1 (exactly lr when |g| >> ε), a few lr later.
    """
    b1, b2 = betas
    ratio = math.sqrt(sum((b1 * b1 / b2) ** k for k in range(t)))
    any_gradient = lr * math.sqrt(1 - b2**t) / (1 - b1**t) * (1 - b1) / math.sqrt(1 - b2) * ratio
    return min(any_gradient, lr * G / eps)


def redundant_bias_columns(net):
    """The j of the θ^j whose bias column feeds a batch norm (redundant: β^{j+1} absorbs it)."""
    return list(range(net.L - 1)) if net.norm == "batch" else []


def test_rand_is_torchs_float64_rand_bit_for_bit():
    for shape in [(3000, 5), (64, 10), (7,), (1,), (33, 17)]:
        torch.manual_seed(3)
        expected = torch.rand(shape, dtype=torch.float64).numpy()
        gen = sn.TorchGenerator(3)
        assert np.array_equal(gen.rand(shape), expected), shape
        torch.manual_seed(3)
        torch.rand(shape, dtype=torch.float64)
        assert np.array_equal(gen.rand((5,)), torch.rand(5, dtype=torch.float64).numpy())  # the stream continues


@pytest.mark.parametrize("p", [0.1, 0.25])  # 1 − 0.1 is not exact in binary: the scale's rounding shows
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_masks_are_torchs_forward_after_forward(dtype, p):
    units, acts = [3, 6, 5, 2], ["tanh", "sigmoid", "identity"]
    model = torch_twin(units, acts, None, p, dtype, 7)
    net = sn.MLP(units, acts, dtype, generator=7, dropout=p)
    seen = []
    for m in model:
        if isinstance(m, nn.Dropout):
            m.register_forward_hook(lambda mod, inp, out: seen.append((inp[0].detach(), out.detach())))
    X = np.random.default_rng(0).standard_normal((50, 3)).astype(dtype)
    for _ in range(3):  # the k-th forward of scratchnn uses the k-th forward's masks of torch
        seen.clear()
        trace = net.forward_trace(X)
        with torch.no_grad():
            model(torch.from_numpy(X))
        for j, (inp, out) in enumerate(seen, start=1):
            assert np.all(inp.numpy() != 0)  # so out != 0 is the keep-mask
            assert np.array_equal(trace.mask[j], out.numpy() != 0), j
            # torch scales by mask/(1 − p) rounded in the dtype, as dropout_scale does
            assert np.array_equal(out.numpy(), inp.numpy() * norms.dropout_scale(trace.mask[j], p, dtype))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", range(len(SHAPES)))
def test_training_steps_and_eval_match_torch(case, dtype):
    """The issue's "done when": the twin built after torch.manual_seed(s), Adam steps on both sides in
    training mode (losses, every gradient, running statistics), then the eval-mode loss and gradients."""
    dtype = np.dtype(dtype)
    seed = 100 + case
    norm, p = SHAPES[case]
    units, acts = random_net(seed, norm, p, dtype)
    model = torch_twin(units, acts, norm, p, dtype, seed)
    net = sn.MLP(units, acts, dtype, generator=seed, norm=norm, dropout=p)
    assert all(np.array_equal(a, b) for a, b in zip(net.params, torch_params(model)))  # only the Linears drew
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((32, units[0])).astype(dtype)
    Y = rng.standard_normal((32, units[-1])).astype(dtype)
    opt = sn.Adam(net.params, lr=LR, betas=BETAS)
    topt = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS, foreach=False)
    tol, worst = TOL[dtype], 0.0
    redundant = redundant_bias_columns(net)
    G = {j: 0.0 for j in redundant}  # the largest bias-column gradient of θ^j so far, either side
    for t in range(1, STEPS + 1):
        loss, D = net.loss_and_grad(X, Y)
        tloss, tD = torch_loss_and_grad(model, X, Y)
        errs = [abs(float(loss) - tloss) / abs(tloss)]
        for j, (d, td) in enumerate(zip(D, tD)):
            if j in redundant:
                # the bias column's gradient is rounding noise on both sides: compare it with the
                # noise of a sum of n terms, everything else as the rest
                noise = 64 * np.finfo(dtype).eps * np.abs(td).max()
                assert np.abs(d[:, 0] - td[:, 0]).max() <= noise, (t, j)
                G[j] = max(G[j], float(np.abs(d[:, 0]).max()), float(np.abs(td[:, 0]).max()))
                errs.append(rel_err(d[:, 1:], td[:, 1:]))
            else:
                errs.append(rel_err(d, td))
        for j, bn in enumerate(m for m in model if isinstance(m, nn.BatchNorm1d)):
            errs += [rel_err(net.running_mean[j], bn.running_mean.numpy()), rel_err(net.running_var[j], bn.running_var.numpy())]
        assert max(errs) <= tol, (t, errs)
        worst = max(worst, max(errs))
        opt.step(D)
        topt.step()
        tparams = torch_params(model)
        for j in redundant:
            # Adam turns the noise into a step of up to adam_step_bound(t) on each side, in either direction
            assert np.abs(net.theta[j][:, 0] - tparams[j][:, 0]).max() <= 2 * adam_step_bound(t, G[j]) * 1.001, (t, j)
            net.theta[j][:, 0] = tparams[j][:, 0]  # resync it: the running means see the bias, the rest must not drift
        assert max(rel_err(a, b) for a, b in zip(net.params, tparams)) <= tol, t
    net.eval()
    model.eval()
    loss, D = net.loss_and_grad(X, Y)
    tloss, tD = torch_loss_and_grad(model, X, Y)
    assert abs(float(loss) - tloss) / abs(tloss) <= tol
    assert max(rel_err(d, td) for d, td in zip(D, tD)) <= tol  # in eval mode no bias column is redundant


@pytest.mark.parametrize("G", [1.0, 1e-17])
def test_adam_step_bound_holds_and_is_reached(G):
    opt = sn.Adam([np.zeros(1)], lr=LR, betas=BETAS)
    rng = np.random.default_rng(0)
    steps = []
    for t in range(1, 30):
        before = float(opt.theta[0][0])
        opt.step([np.array([G * (1 if t < 10 else rng.choice([-1, 1]))])])
        steps.append(abs(float(opt.theta[0][0]) - before))
        assert steps[-1] <= adam_step_bound(t, G) * (1 + 1e-12)
    # a gradient far above ε steps by lr at first; rounding noise far below it by lr G/ε
    assert steps[0] == pytest.approx(LR if G == 1.0 else LR * G / 1e-8, rel=1e-6)


def central_differences(net, X, Y, arrays, eps=1e-6):
    """∂𝓛/∂(each entry of ``arrays``) by central differences of ``net.loss``."""
    out = []
    for a in arrays:
        G = np.zeros(a.shape)
        for idx in np.ndindex(a.shape):
            saved = a[idx]
            a[idx] = saved + eps
            plus = float(net.loss(X, Y))
            a[idx] = saved - eps
            minus = float(net.loss(X, Y))
            a[idx] = saved
            G[idx] = (plus - minus) / (2 * eps)
        out.append(G)
    return out


@pytest.mark.parametrize("norm,mode", [("batch", "eval"), ("batch", "train"), ("layer", "train")])
def test_gamma_and_beta_gradients_are_central_differences(norm, mode):
    """In eval mode (dropout the identity, batch norm on its running statistics) or training with p = 0
    the loss is a deterministic function of γ and β (the running statistics move, but are not used)."""
    net = sn.MLP([3, 5, 4, 2], ["tanh", "sigmoid", "identity"], np.float64, generator=1, norm=norm,
                 dropout=0.3 if mode == "eval" else 0.0)
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    for g, b in zip(net.gamma, net.beta):  # away from γ = 1, β = 0
        g[...] = rng.uniform(0.5, 1.5, g.shape)
        b[...] = rng.uniform(-0.5, 0.5, b.shape)
    net.loss(X, Y)  # one training forward: running statistics away from (0, 1)
    net.train(mode == "train")
    _, D = net.loss_and_grad(X, Y)
    Dnum = central_differences(net, X, Y, net.gamma + net.beta)
    for d, dn in zip(D[net.L:], Dnum):
        assert rel_err(d, dn) < 1e-7


def test_train_and_eval_are_torchs():
    net = sn.MLP([2, 4, 1], generator=0, norm="batch", dropout=0.5, dtype=np.float64)
    assert net.training and net.train() is net and net.eval() is net and not net.training
    X = np.random.default_rng(0).standard_normal((10, 2))
    untouched = net.copy()  # its generator where net's is now
    rm = [m.copy() for m in net.running_mean]
    out1, out2 = net.forward(X), net.forward(X)
    assert np.array_equal(out1, out2)  # eval: no mask, running statistics
    assert np.array_equal(net.generator.rand((4,)), untouched.generator.rand((4,)))  # nothing drawn
    assert all(np.array_equal(a, b) for a, b in zip(rm, net.running_mean))
    z1 = np.hstack([np.ones((10, 1)), X]) @ net.theta[0].T
    z_hat = (z1 - net.running_mean[0]) / np.sqrt(net.running_var[0] + 1e-5)
    assert np.allclose(net.forward_trace(X).a[1][:, 1:], np.tanh(net.gamma[0] * z_hat + net.beta[0]), rtol=0, atol=1e-15)
    net.train()
    t1, t2 = net.forward_trace(X), net.forward_trace(X)
    assert not np.array_equal(t1.mask[1], t2.mask[1])  # each training forward draws its masks
    assert not np.array_equal(rm[0], net.running_mean[0])  # and updates the running statistics
    with pytest.raises(ValueError, match="at least 2 data points"):
        net.forward(X[:1])
    assert net.eval().forward(X[:1]).shape == (1, 1)
    assert torchref.to_torch(net).training is False and torchref.to_torch(net.train()).training is True
    with pytest.raises(TypeError, match="mode"):
        net.train("no")


def test_nets_without_norm_and_dropout_keep_their_layout():
    net = sn.MLP([1, 5, 1])
    assert net.params is net.theta and net.gamma == [] and net.running_mean == []
    X = np.linspace(-1, 1, 7, dtype=np.float32)[:, None]
    assert len(net.loss_and_grad(X, X)[1]) == net.L
    assert repr(net) == "MLP(units=[1, 5, 1], activations=['tanh', 'tanh'], dtype=float32, criterion='mse')"


def test_params_layout_and_describe():
    net = sn.MLP([2, 3, 4, 1], norm="layer", dropout=0.1)
    assert [p.shape for p in net.params] == [(3, 3), (4, 4), (1, 5), (3,), (4,), (3,), (4,)]
    assert net.n_parameters == sum(p.numel() for p in torchref.to_torch(net).parameters())
    text = net.describe()
    assert "4.weight = theta^1[:, 1:]" in text and "1.weight = gamma^1" in text and "LayerNorm, Dropout(0.1)" in text
    assert [type(m).__name__ for m in torchref.to_torch(net)] == [
        "Linear", "LayerNorm", "Tanh", "Dropout", "Linear", "LayerNorm", "Tanh", "Dropout", "Linear", "Tanh"]


@pytest.mark.parametrize("kwargs,error,match", [
    ({"norm": "bogus"}, ValueError, "norm"),
    ({"norm": 1}, ValueError, "norm"),
    ({"dropout": 1.0}, ValueError, "dropout"),
    ({"dropout": -0.1}, ValueError, "dropout"),
    ({"dropout": "0.5"}, TypeError, "dropout"),
    ({"dropout": True}, TypeError, "dropout"),
])
def test_bad_arguments_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        sn.MLP([2, 3, 1], **kwargs)


def test_fit_trains_in_training_mode_validates_in_eval_mode_and_restores_the_mode():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((30, 2)), rng.standard_normal((30, 1))
    net = sn.MLP([2, 4, 1], dtype=np.float64, generator=3, norm="batch", dropout=0.2).eval()
    expected_val = float(net.copy().eval().loss(X, Y))
    h = sn.fit(net, X, Y, epochs=3, validation=(X, Y))
    assert not net.training  # the mode it had
    assert h.val_loss[0] == expected_val  # the first epoch's validation: eval mode, the initial parameters
    with pytest.raises(ValueError, match=r"net\.params"):
        sn.fit(net, X, Y, sn.Adam(net.theta), epochs=1)


def test_whole_fit_matches_torchref_fit():
    """sn.fit and torchref.fit on the twins: same θ, masks and batches; SGD (no redundant-bias noise to amplify)."""
    units, acts, seed = [3, 6, 5, 1], ["tanh", "relu", "identity"], 4
    model = torch_twin(units, acts, "batch", 0.2, np.float64, seed)  # leaves torch's generator where the net's is
    net = sn.MLP(units, acts, np.float64, generator=seed, norm="batch", dropout=0.2)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((40, 3)), rng.standard_normal((40, 1))
    Xv, Yv = rng.standard_normal((10, 3)), rng.standard_normal((10, 1))
    h = sn.fit(net, X, Y, sn.SGD(net.params, lr=0.1), epochs=8, batch_size=16, validation=(Xv, Yv))
    ht = torchref.fit(model, X, Y, torch.optim.SGD(model.parameters(), lr=0.1, foreach=False), epochs=8, batch_size=16,
                      validation=(Xv, Yv))
    assert np.max(np.abs(h.loss - ht.loss) / ht.loss) < 1e-12
    assert np.max(np.abs(h.val_loss - ht.val_loss) / ht.val_loss) < 1e-12
    assert max(rel_err(a, b) for a, b in zip(net.params, torch_params(model))) < 1e-12
    assert model.training and net.training


@pytest.mark.parametrize("norm,p", [("batch", 0.0), ("layer", 0.3)])
def test_bridge_and_save_load_carry_gamma_beta_running_statistics_and_mode(tmp_path, norm, p):
    net = sn.MLP([2, 4, 4, 1], dtype=np.float64, generator=2, norm=norm, dropout=p)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((12, 2)), rng.standard_normal((12, 1))
    sn.fit(net, X, Y, epochs=3)
    net.eval()
    for copy in (torchref.from_torch(torchref.to_torch(net)), sn.MLP.load(_saved(net, tmp_path)), net.copy()):
        assert (copy.norm, copy.dropout, copy.training) == (norm, p, False)
        for name in ("theta", "gamma", "beta", "running_mean", "running_var"):
            assert all(np.array_equal(a, b) for a, b in zip(getattr(copy, name), getattr(net, name))), name
        assert float(copy.loss(X, Y)) == float(net.loss(X, Y))
    model = torchref.to_torch(net)
    with torch.no_grad():
        assert np.array_equal(model(torch.from_numpy(X)).numpy().shape, (12, 1))
        assert abs(nn.MSELoss()(model(torch.from_numpy(X)), torch.from_numpy(Y)).item() - float(net.loss(X, Y))) < 1e-12


def _saved(net, tmp_path):
    path = tmp_path / "net.npz"
    net.save(path)
    return path


def test_from_torch_refuses_what_scratchnn_cannot_hold():
    with pytest.raises(ValueError, match="every hidden layer"):
        torchref.from_torch(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Tanh(), nn.Linear(3, 3), nn.Tanh(),
                                          nn.Linear(3, 1)))
    with pytest.raises(ValueError, match="eps"):
        torchref.from_torch(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3, eps=1e-3), nn.Tanh(), nn.Linear(3, 1)))
    with pytest.raises(ValueError, match="Dropout"):
        torchref.from_torch(nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Dropout(0.1), nn.Linear(3, 3), nn.Tanh(),
                                          nn.Dropout(0.2), nn.Linear(3, 1)))


def test_degenerate_nets_have_gradients_near_zero():
    """The degenerate case (the tutorial's lesson): batch norm fed by one feature x gives
    ẑ = sign(w) x̂ · |w|σ_x/√(w²σ_x² + ε), so the weight w moves the loss only through ε: its gradient is
    tiny, and Adam (slope lr/ε there) turns the engines' rounding differences into visible parameter
    differences. The bias column, as ever before a batch norm, is rounding noise."""
    net = sn.MLP([1, 3, 1], dtype=np.float64, generator=0, norm="batch")
    X = np.random.default_rng(0).standard_normal((20, 1))
    _, D = net.loss_and_grad(X, np.sin(X))
    scale = np.abs(D[1]).max()
    assert np.abs(D[0][:, 0]).max() < 1e-14 * scale  # the bias: zero in exact arithmetic
    assert np.abs(D[0][:, 1]).max() < 1e-2 * scale  # the weight: only ε keeps it from zero


@pytest.mark.parametrize("norm,p", [("batch", 0.0), ("layer", 0.0), ("batch", 0.4)])
def test_gradcheck_covers_gamma_and_beta(norm, p):
    net = sn.MLP([3, 4, 4, 2], ["tanh", "sigmoid", "identity"], np.float64, generator=5, norm=norm, dropout=p)
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((12, 3)), rng.standard_normal((12, 2))
    net.loss(X, Y)  # running statistics away from (0, 1)
    if p:
        with pytest.raises(ValueError, match="net.eval()"):
            sn.gradcheck(net, X, Y)
        net.eval()
    running = [r.copy() for r in net.running_mean + net.running_var]
    r = sn.gradcheck(net, X, Y)
    assert r.passed and [(e["name"], e["j"]) for e in r.per_layer][-4:] == [("gamma", 1), ("gamma", 2), ("beta", 1),
                                                                            ("beta", 2)]
    assert "gamma^2" in repr(r)
    assert all(np.array_equal(a, b) for a, b in zip(running, net.running_mean + net.running_var))
    right = net.loss_and_grad

    def dgamma_not_summed(X, Y, l2=0.0):  # a planted mistake: dγ^2 a mean over the points, not a sum
        loss, D = right(X, Y, l2)
        D[net.L + 1] = D[net.L + 1] / X.shape[0]
        return loss, D

    net.loss_and_grad = dgamma_not_summed
    r = sn.gradcheck(net, X, Y)
    assert not r.passed and max(r.per_layer, key=lambda e: e["rel_error"])["name"] == "gamma"


@pytest.mark.parametrize("norm,p,mode", [("batch", 0.3, "train"), ("layer", 0.2, "train"), ("batch", 0.0, "eval"),
                                         (None, 0.4, "train")])
def test_explain_shows_the_norm_and_the_mask_and_torch_agrees(norm, p, mode):
    net = sn.MLP([3, 4, 5, 2], dtype=np.float64, generator=1, norm=norm, dropout=p)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    net.loss(X, Y)  # running statistics away from (0, 1), the generator moved on
    net.train(mode == "train")
    e = sn.explain(net, X, Y)  # first, leaving the net as it was: torch explains the same pass
    state = torch.get_rng_state()
    t = torchref.explain(net, X, Y)
    assert torch.equal(torch.get_rng_state(), state)  # torch's generator given back
    c = e.compare(t)
    assert all(row.close for row in c.rows), c
    names = {row.name for row in c.rows}
    assert {"mask"} <= names if p and mode == "train" else "mask" not in names
    if norm:
        assert {"mu", "var", "z_hat", "z_tilde", "dgamma", "dbeta"} <= names
        text = str(e)
        assert "ẑ^1 = (z^1 − μ^1) / √(σ²^1 + ε)" in text and "dγ^2 = Σ_i δ̃^2 ⊙ ẑ^2" in text
    masks = [m for m in e.parts.get("mask", []) if m is not None]
    assert all(np.array_equal(m, tm) for m, tm in zip(masks, [m for m in t.parts["mask"] if m is not None]))
    assert np.array_equal(sn.explain(net, X, Y).a[1], e.a[1])  # explain left the net (and its generator) alone


def test_compare_draws_the_same_masks_on_both_sides():
    net = sn.MLP([2, 5, 4, 1], dtype=np.float64, generator=6, norm="batch", dropout=0.25)
    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((24, 2)), rng.standard_normal((24, 1))
    state = torch.get_rng_state()
    c = torchref.compare(net, X, Y, sn.SGD(net.params, lr=0.05), epochs=6, batch_size=8)
    assert c.rel_gap.max() < 1e-12 and c.param_gap.max() < 1e-12
    assert torch.equal(torch.get_rng_state(), state)  # torch's generator given back


@pytest.mark.parametrize("opt_cls,settings", [(sn.Adam, {"lr": 0.01}), (sn.RMSprop, {"momentum": 0.9, "centered": True})])
def test_optimizer_state_of_gamma_and_beta_round_trips_through_torch(opt_cls, settings):
    net = sn.MLP([2, 4, 1], activations=None, dtype=np.float64, generator=1, norm="layer")
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((10, 2)), rng.standard_normal((10, 1))
    opt = opt_cls(net.params, **settings)
    sn.fit(net, X, Y, opt, epochs=3)
    model = torchref.to_torch(net)
    topt = torchref.optimizer_to_torch(opt, model)
    assert len(topt.param_groups[0]["params"]) == 2 * net.L + 2  # weights and biases, then γ^1, then β^1
    fresh = opt_cls(net.copy().params, **settings)
    torchref.optimizer_from_torch(topt, model, fresh)
    for name, arrays in opt.state_arrays().items():
        for a, b in zip(arrays, fresh.state_arrays()[name]):
            assert np.array_equal(a, b), name


def test_a_run_rolled_back_draws_the_same_masks_again():
    from scratchnn.apps.run import snapshot_scratch

    net = sn.MLP([2, 4, 1], dtype=np.float64, generator=1, norm="batch", dropout=0.3)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((10, 2)), rng.standard_normal((10, 1))
    opt = sn.Adam(net.params)
    restore = snapshot_scratch(net, opt)
    first = sn.fit(net, X, Y, opt, epochs=2).loss
    restore()
    assert np.array_equal(sn.fit(net, X, Y, opt, epochs=2).loss, first)


def test_the_run_s_torch_twin_draws_the_net_s_masks():
    from scratchnn.apps import run as R

    net = sn.MLP([2, 5, 1], dtype=np.float64, generator=3, norm="batch", dropout=0.3)
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((40, 2)), rng.standard_normal((40, 1))
    run = R.Run(net, X, Y, R.Settings(optimizer="sgd", lr=0.05, epochs=30, batch_size=10), twin=True).train(samples=3)
    assert len(run.chunks) >= 3 and np.max(np.abs(run.loss - run.torch_history.loss) / run.torch_history.loss) < 1e-12
