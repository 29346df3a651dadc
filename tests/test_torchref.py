"""torchref's bridges and comparison (all of this needs torch)."""

import numpy as np
import pytest

import scratchnn as sn
from conftest import random_data

torch = pytest.importorskip("torch")
import torchref  # noqa: E402  (only importable with torch)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_torch_and_back_is_exact(dtype):
    net = sn.MLP([3, 4, 5, 2], activations=["relu", "leaky_relu", "sigmoid"], dtype=dtype, generator=2)
    model = torchref.to_torch(net)
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear", "LeakyReLU", "Linear", "Sigmoid"]
    assert model[0].weight.dtype == torchref.torch_dtype(dtype)
    back = torchref.from_torch(model)
    assert back.units == net.units and back.activations == net.activations and back.dtype == net.dtype
    for a, b in zip(net.theta, back.theta):
        assert np.array_equal(a, b)


def test_from_torch_reads_the_notebooks_model():
    torch.manual_seed(10)
    model0 = torch.nn.Sequential(torch.nn.Linear(1, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1), torch.nn.Tanh())
    net = torchref.from_torch(model0)
    ours = sn.MLP([1, 5, 1], generator=10)
    for a, b in zip(net.theta, ours.theta):
        assert np.array_equal(a, b)


def test_from_torch_reads_a_missing_activation_as_identity():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    assert torchref.from_torch(model).activations == ["tanh", "identity"]


@pytest.mark.parametrize("opt_cls,settings", [(sn.Adam, {"lr": 0.01, "amsgrad": True}), (sn.SGD, {"lr": 0.1, "momentum": 0.9})])
def test_optimizer_state_round_trips_through_torch(opt_cls, settings):
    units = [2, 3, 1]
    X, Y = random_data(units, 20, np.float64, 0)
    net = sn.MLP(units, dtype=np.float64, generator=1)
    opt = opt_cls(net.theta, **settings)
    sn.fit(net, X, Y, opt, epochs=3)
    model = torchref.to_torch(net)
    topt = torchref.optimizer_to_torch(opt, model)
    fresh = opt_cls(net.copy().theta, **settings)
    torchref.optimizer_from_torch(topt, model, fresh)
    if opt_cls is sn.Adam:
        assert fresh.t == opt.t
    else:  # torch's SGD counts no steps: what carries over is that the buffers are live
        assert fresh.t >= 1
    for name, arrays in opt.state_arrays().items():
        for a, b in zip(arrays, fresh.state_arrays()[name]):
            assert np.array_equal(a, b), name


def test_resumed_optimizer_continues_like_torch():
    """A scratch fit, moved to torch half way, continues as if torch had trained all along."""
    units = [1, 6, 1]
    X, Y = random_data(units, 50, np.float64, 0)
    net = sn.MLP(units, dtype=np.float64, generator=4)
    opt = sn.Adam(net.theta, lr=0.01)
    sn.fit(net, X, Y, opt, epochs=10)
    model = torchref.to_torch(net)
    topt = torchref.optimizer_to_torch(opt, model)
    h = sn.fit(net, X, Y, opt, epochs=10, start_epoch=10)
    ht = torchref.fit(model, X, Y, topt, epochs=10, start_epoch=10)
    # float64, 10 epochs of a well-conditioned fit: rounding-level differences only
    np.testing.assert_allclose(h.loss, ht.loss, rtol=1e-12)


def test_compare_resync_removes_the_drift(workshop):
    """1-5-5-1 drifts free-running; resynced every epoch it agrees to float32 rounding."""
    X, Y = workshop[0][::5], workshop[1][::5]  # 600 of the 3000 points: the same drift, 5x sooner to test
    free = torchref.compare(sn.MLP([1, 5, 5, 1], generator=10), X, Y, epochs=400)
    lock = torchref.compare(sn.MLP([1, 5, 5, 1], generator=10), X, Y, epochs=400, resync_every=1)
    assert len(free.rel_gap) == len(lock.rel_gap) == 400
    # measured: free-running gap 0.26 by epoch 400, lockstep 5.5e-7
    assert free.rel_gap.max() > 1e-3
    assert lock.rel_gap.max() < 1e-5
    assert isinstance(lock, torchref.FitGap) and repr(lock).startswith("FitGap(400 epochs, resync every 1")


def test_torchref_fit_is_the_notebook_loop(workshop):
    X, Y = workshop
    torch.manual_seed(10)
    model0 = torch.nn.Sequential(torch.nn.Linear(1, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1), torch.nn.Tanh())
    optimizer0 = torch.optim.Adam(model0.parameters(), lr=0.015)
    x_norm, y_norm = torch.from_numpy(X), torch.from_numpy(Y)
    losses0 = []
    for epoch in range(20):
        pred_y0 = model0(x_norm)
        optimizer0.zero_grad()
        loss0 = torch.nn.MSELoss()(pred_y0, y_norm)
        losses0.append(loss0.item())
        loss0.backward()
        optimizer0.step()
    torch.manual_seed(10)
    model = torchref.to_torch(sn.MLP([1, 5, 1], generator=10))
    h = torchref.fit(model, X, Y, epochs=20)
    assert np.array_equal(h.loss, losses0)


def test_agreement_report_covers_the_criteria_and_l2(capsys):
    from torchref import agreement

    agreement.main(["--trials", "1"])
    out = capsys.readouterr().out
    for line in ("2-4-3 tanh/identity cross_entropy: grad", "bce: loss", "cross_entropy (indices): grad",
                 "cross_entropy (probabilities) + l2: grad", "mse + l2: loss", "bce + l2: 20 epochs in lockstep, loss"):
        assert line in out
    worst = {}
    for row in out.splitlines()[2:]:
        name, f32, f64 = row.rsplit(maxsplit=2)
        worst[name] = (f32, f64)
    # the bounds of test_classification, on this one trial
    assert float(worst["2-4-3 tanh/identity cross_entropy: grad"][1]) < 1e-12
    assert float(worst["bce + l2: grad"][0]) < 1e-5
    # batch norm and dropout against torch's modules: the bounds of test_norms
    assert float(worst["batch norm, dropout 0.2, 5 Adam steps: grad"][1]) < 1e-12
    assert float(worst["layer norm, dropout 0.5, 5 Adam steps: eval loss"][0]) < 1e-4


def test_fit_and_from_torch_follow_the_criterion():
    net = sn.MLP([2, 3, 3], ["tanh", "identity"], dtype=np.float64, generator=1, criterion="cross_entropy")
    X = np.random.default_rng(0).standard_normal((20, 2))
    y = np.arange(20) % 3
    model = torchref.to_torch(net)
    assert torchref.from_torch(model, criterion="cross_entropy").criterion == "cross_entropy"
    h = sn.fit(net, X, y, sn.SGD(net.theta, lr=0.1), epochs=5, l2=0.5)
    ht = torchref.fit(model, X, y, torch.optim.SGD(model.parameters(), lr=0.1), epochs=5, criterion="cross_entropy",
                      l2=0.5)
    # float64, 5 full-batch steps: rounding-level differences only
    np.testing.assert_allclose(h.loss, ht.loss, rtol=1e-13)


def test_fit_refuses_a_criterion_that_does_not_suit_the_output_layer():
    """As sn.MLP does: cross_entropy takes the logits (an identity output), bce a sigmoid output."""
    pytest.importorskip("torch")
    import torchref

    model = torchref.to_torch(sn.MLP([2, 3, 2], dtype=np.float64))  # tanh output
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="criterion: 'cross_entropy' needs the output activation identity"):
        torchref.fit(model, X, y, epochs=1, criterion="cross_entropy")
    with pytest.raises(ValueError, match="criterion: 'bce' needs the output activation sigmoid"):
        torchref.fit(model, X, np.zeros((4, 2)), epochs=1, criterion="bce")
