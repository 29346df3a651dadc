"""gradcheck: passes the engine, and fails a planted error (a check that cannot fail is no check)."""

import numpy as np
import pytest

import scratchnn as sn
from conftest import random_data

ARCHS = [
    ([1, 5, 1], "tanh"),
    ([1, 5, 5, 1], "tanh"),
    ([3, 4, 2], ["sigmoid", "identity"]),
    ([2, 6, 3, 2], ["leaky_relu", "tanh", "sigmoid"]),
]


@pytest.mark.parametrize("units,acts", ARCHS)
def test_engine_passes_in_float64(units, acts):
    net = sn.MLP(units, activations=acts, dtype=np.float64, generator=3)
    X, Y = random_data(units, 20, np.float64, 0)
    r = sn.gradcheck(net, X, Y)
    assert r.passed, r
    assert r.max_rel_error < 1e-7
    assert len(r.per_layer) == net.L


def test_relu_net_passes_away_from_the_kink():
    # relu's kink: central differences straddling z = 0 are wrong by design; with
    # h = 1e-6 and these data no z^j falls within h of 0 (asserted below)
    units = [2, 5, 1]
    net = sn.MLP(units, activations=["relu", "identity"], dtype=np.float64, generator=8)
    X, Y = random_data(units, 15, np.float64, 1)
    assert np.min(np.abs(net.forward_trace(X).z[1])) > 1e-4
    assert sn.gradcheck(net, X, Y).passed


def _plant(net, j, idx, factor):
    """Make net.loss_and_grad return D^j with one entry multiplied by ``factor``."""
    honest = net.loss_and_grad

    def planted(X, Y, l2=0.0):
        loss, D = honest(X, Y, l2=l2)
        D[j][idx] *= factor
        return loss, D

    net.loss_and_grad = planted


@pytest.mark.parametrize("units,acts", ARCHS)
def test_fails_on_one_entry_off_by_a_tenth_of_a_percent(units, acts):
    net = sn.MLP(units, activations=acts, dtype=np.float64, generator=3)
    X, Y = random_data(units, 20, np.float64, 0)
    _, D = net.loss_and_grad(X, Y)
    # plant the error in the largest entry of the last layer's gradient
    j = net.L - 1
    idx = np.unravel_index(np.argmax(np.abs(D[j])), D[j].shape)
    _plant(net, j, idx, 1.001)
    r = sn.gradcheck(net, X, Y)
    assert not r.passed
    assert r.per_layer[j]["rel_error"] > 1e-7
    assert r.per_layer[j]["worst_entry"] == tuple(int(k) for k in idx)
    assert all(r.per_layer[k]["rel_error"] < 1e-7 for k in range(net.L) if k != j)


def test_float32_needs_its_own_tolerance():
    units = [1, 5, 1]
    net = sn.MLP(units, dtype=np.float32, generator=10)
    X, Y = random_data(units, 30, np.float32, 0)
    r = sn.gradcheck(net, X, Y)
    assert r.passed and r.tol == 1e-2
    # float32 central differences cannot reach float64's 1e-7
    assert r.max_rel_error > 1e-7


def test_theta_is_restored():
    net = sn.MLP([2, 3, 1], dtype=np.float64, generator=1)
    before = [t.copy() for t in net.theta]
    sn.gradcheck(net, *random_data([2, 3, 1], 5, np.float64, 0))
    for a, b in zip(before, net.theta):
        assert np.array_equal(a, b)


def test_rejects_bad_eps_and_tol():
    net = sn.MLP([1, 2, 1], dtype=np.float64)
    X, Y = random_data([1, 2, 1], 3, np.float64, 0)
    with pytest.raises(ValueError, match="eps"):
        sn.gradcheck(net, X, Y, eps=0.0)
    with pytest.raises(ValueError, match="tol"):
        sn.gradcheck(net, X, Y, tol=-1.0)
