"""The training loop: whole fits against torch, minibatches, validation, divergence, determinism."""

import numpy as np
import pytest

import scratchnn as sn
from conftest import random_data

WORKSHOP_NETS = [[1, 5, 1], [1, 10, 1], [1, 5, 5, 1]]


@pytest.mark.parametrize("units", WORKSHOP_NETS)
def test_workshop_fit_in_lockstep_with_torch(units, workshop):
    """The notebook's fits (seed 10, Adam lr 0.015, 1000 epochs, float32), resynced every epoch.

    Free-running, two correct engines drift apart chaotically (1-5-5-1 separates
    within 1000 epochs), so each epoch starts from torch's parameters and state:
    what remains is one epoch's disagreement. Measured worst: loss 2e-6, theta 5e-7.
    Bound: 1e-5, a few float32 roundings (u = 6e-8) through forward, backward and Adam.
    """
    pytest.importorskip("torch")
    import torchref

    X, Y = workshop
    net = sn.MLP(units, generator=10)
    c = torchref.compare(net, X, Y, sn.Adam(net.theta, lr=0.015), epochs=1000, resync_every=1)
    assert c.rel_gap.max() < 1e-5
    assert c.param_gap.max() < 1e-5


def test_workshop_1_5_1_free_running_agrees_with_torch(workshop):
    """1-5-1 is well conditioned: free-running over 1000 epochs the losses stay within ~1e-6.

    Measured worst relative loss gap 3.4e-7; bound 1e-6 (the issue's figure for this fit).
    """
    pytest.importorskip("torch")
    import torchref

    X, Y = workshop
    net = sn.MLP([1, 5, 1], generator=10)
    c = torchref.compare(net, X, Y, sn.Adam(net.theta, lr=0.015), epochs=1000)
    assert c.rel_gap.max() < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minibatch_fit_with_validation_in_lockstep_with_torch(dtype):
    """Same batches (from seed) in both engines, SGD with momentum, validation loss recorded.

    float64: measured ~1e-15 per epoch; bound 1e-12. float32: bound 1e-5 as above.
    """
    pytest.importorskip("torch")
    import torchref

    units = [3, 8, 2]
    X, Y = random_data(units, 130, dtype, 0)
    Xv, Yv = random_data(units, 30, dtype, 1)
    net = sn.MLP(units, activations=["relu", "identity"], dtype=dtype, generator=5)
    model = torchref.to_torch(net)
    opt = sn.SGD(net.theta, lr=0.05, momentum=0.9)
    topt = torchref.optimizer_to_torch(opt, model)
    h = sn.fit(net, X, Y, opt, epochs=20, batch_size=32, seed=7, validation=(Xv, Yv))
    ht = torchref.fit(model, X, Y, topt, epochs=20, batch_size=32, seed=7, validation=(Xv, Yv))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(h.loss, ht.loss, rtol=tol)
    np.testing.assert_allclose(h.val_loss, ht.val_loss, rtol=tol)


def test_history_records_the_loss_before_each_update():
    units = [1, 4, 1]
    X, Y = random_data(units, 50, np.float64, 0)
    Xv, Yv = random_data(units, 20, np.float64, 1)
    net = sn.MLP(units, dtype=np.float64, generator=2)
    first = float(net.loss(X, Y))
    first_val = float(net.loss(Xv, Yv))
    h = sn.fit(net, X, Y, sn.Adam(net.theta, lr=0.01), epochs=5, validation=(Xv, Yv))
    assert h.loss[0] == first
    assert h.val_loss[0] == first_val
    assert len(h.loss) == len(h.val_loss) == 5
    assert h.loss[-1] < h.loss[0]


def test_minibatch_epoch_loss_is_size_weighted_mean_of_batch_losses():
    units = [2, 3, 1]
    X, Y = random_data(units, 10, np.float64, 0)
    net = sn.MLP(units, dtype=np.float64, generator=3)
    replay = net.copy()
    opt, opt2 = sn.SGD(net.theta, lr=0.1), sn.SGD(replay.theta, lr=0.1)
    h = sn.fit(net, X, Y, opt, epochs=1, batch_size=4, seed=9)
    expected = 0.0
    idx_batches = sn.batches(10, 4, 9, 0)
    assert [len(b) for b in idx_batches] == [4, 4, 2]
    assert sorted(np.concatenate(idx_batches)) == list(range(10))
    for idx in idx_batches:
        loss, D = replay.loss_and_grad(X[idx], Y[idx])
        expected += float(loss) * (len(idx) / 10)  # the weight first, as fit rounds it
        opt2.step(D)
    assert h.loss[0] == expected
    for a, b in zip(net.theta, replay.theta):
        assert np.array_equal(a, b)


def test_fit_in_pieces_equals_one_fit():
    units = [2, 5, 1]
    X, Y = random_data(units, 40, np.float32, 0)
    one, two = sn.MLP(units, generator=1), sn.MLP(units, generator=1)
    o1, o2 = sn.Adam(one.theta, lr=0.01), sn.Adam(two.theta, lr=0.01)
    h = sn.fit(one, X, Y, o1, epochs=6, batch_size=16, seed=4)
    ha = sn.fit(two, X, Y, o2, epochs=2, batch_size=16, seed=4)
    hb = sn.fit(two, X, Y, o2, epochs=4, batch_size=16, seed=4, start_epoch=2)
    assert np.array_equal(h.loss, np.concatenate([ha.loss, hb.loss]))
    for a, b in zip(one.theta, two.theta):
        assert np.array_equal(a, b)


def test_same_seed_and_settings_give_bit_identical_fits(workshop):
    X, Y = workshop
    runs = []
    for _ in range(2):
        net = sn.MLP([1, 5, 5, 1], generator=10)
        h = sn.fit(net, X, Y, sn.Adam(net.theta, lr=0.015), epochs=50, batch_size=200, seed=3)
        runs.append((h.loss, net.theta))
    assert np.array_equal(runs[0][0], runs[1][0])
    for a, b in zip(runs[0][1], runs[1][1]):
        assert np.array_equal(a, b)


def test_default_optimizer_is_the_workshops_adam(workshop):
    X, Y = workshop
    a, b = sn.MLP([1, 5, 1], generator=10), sn.MLP([1, 5, 1], generator=10)
    ha = sn.fit(a, X, Y, epochs=3)
    hb = sn.fit(b, X, Y, sn.Adam(b.theta, lr=0.015), epochs=3)
    assert np.array_equal(ha.loss, hb.loss)


def test_divergence_raises_with_epoch_and_history():
    units = [1, 4, 1]
    X, Y = random_data(units, 30, np.float64, 0)
    net = sn.MLP(units, activations=["tanh", "identity"], dtype=np.float64, generator=0)
    with pytest.raises(sn.DivergenceError) as info:
        sn.fit(net, X * 100, Y, sn.SGD(net.theta, lr=1e6), epochs=500)
    err = info.value
    assert 0 < err.epoch < 500
    assert len(err.history.loss) == err.epoch
    assert np.all(np.isfinite(err.history.loss))
    assert f"epoch {err.epoch}" in str(err)


def test_torchref_divergence_raises_too():
    pytest.importorskip("torch")
    import torch

    import torchref

    units = [1, 4, 1]
    X, Y = random_data(units, 30, np.float64, 0)
    net = sn.MLP(units, activations=["tanh", "identity"], dtype=np.float64, generator=0)
    model = torchref.to_torch(net)
    with pytest.raises(sn.DivergenceError) as info:
        torchref.fit(model, X * 100, Y, torch.optim.SGD(model.parameters(), lr=1e6), epochs=500)
    assert len(info.value.history.loss) == info.value.epoch
