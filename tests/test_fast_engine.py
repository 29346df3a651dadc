"""The numba engine against the NumPy engine and torch: gradients, optimizer steps, whole fits, loop semantics.

Errors are scale-relative, max|a - b| / max|b| (see torchref.agreement).
"""

import time

import numba
import numpy as np
import pytest

import scratchnn as sn
from conftest import random_data
from scratchnn import fast
from scratchnn.fast import engine

ACTS = sorted(sn.ACTIVATIONS)


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# Nets covering depth 1-4, every activation, fused and BLAS layers (width 40 -> BLAS), and
# batches of one point, one chunk, and several chunks and groups (n above engine.chunk_points).
# kernels.back_grad_tanh (a tanh layer 1 over at most 3 inputs) runs for 1-5-1 (delta^2 of one
# row, in registers), 3-6-4-2 (all 4 sums) and 2-6-3 (3 of them).
NETS = [
    ([1, 5, 1], ["tanh", "tanh"], 3000),
    ([3, 6, 4, 2], ["tanh", "sigmoid", "identity"], 40),
    ([2, 40, 40, 3], ["relu", "leaky_relu", "sigmoid"], 2500),
    ([4, 7, 3, 9, 1], ["leaky_relu", "identity", "tanh", "relu"], 1),
    ([5, 33, 1], ["sigmoid", "tanh"], 4500),
    ([2, 6, 3], ["tanh", "identity"], 700),  # kernels.back_grad_tanh with 3 of its 4 sums
]

# Both engines (and torch) round in the data's dtype, summing in different orders over up to
# 4500 points. float64 (u = 1.1e-16): measured worst 2.9e-15 (D against torch); bound 1e-13.
# float32 (u = 6e-8): measured worst 1.3e-6 (D against torch); bound 5e-6.
TOL = {np.dtype(np.float64): 1e-13, np.dtype(np.float32): 5e-6}


@pytest.mark.parametrize("units,acts,n", NETS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_and_grad_match_numpy_engine(units, acts, n, dtype):
    net = sn.MLP(units, activations=acts, dtype=dtype, generator=3)
    X, Y = random_data(units, n, dtype, 1)
    loss, D = net.loss_and_grad(X, Y)
    loss_f, D_f = fast.loss_and_grad(net, X, Y)
    assert type(loss_f) is type(loss)
    assert [d.shape for d in D_f] == [d.shape for d in D] and all(d.dtype == dtype for d in D_f)
    tol = TOL[np.dtype(dtype)]
    assert rel_err(loss_f, loss) < tol
    assert max(rel_err(a, b) for a, b in zip(D_f, D)) < tol


@pytest.mark.parametrize("units,acts,n", NETS[:3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_and_grad_match_torch(units, acts, n, dtype):
    pytest.importorskip("torch")
    import torchref
    from torchref.agreement import torch_loss_and_grad

    net = sn.MLP(units, activations=acts, dtype=dtype, generator=4)
    X, Y = random_data(units, n, dtype, 2)
    _, loss_t, D_t = torch_loss_and_grad(torchref.to_torch(net), X, Y)
    loss, D = fast.loss_and_grad(net, X, Y)
    tol = TOL[np.dtype(dtype)]  # same reasoning as against the NumPy engine
    assert rel_err(loss, loss_t) < tol
    assert max(rel_err(a, b) for a, b in zip(D, D_t)) < tol


OPTIMIZERS = [
    ("adam", {"lr": 0.01}),
    ("adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("adam", {"lr": 0.003, "amsgrad": True, "weight_decay": 0.05, "eps": 1e-6, "betas": (0.8, 0.99)}),
    ("sgd", {"lr": 0.05}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("adamw", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("rmsprop", {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.01}),
    ("rmsprop", {"lr": 0.003, "alpha": 0.4, "eps": 1e-3}),  # torch's lerp from the far end; ε moves θ
    ("adagrad", {"lr": 0.05, "lr_decay": 0.01, "initial_accumulator_value": 0.1, "weight_decay": 0.01}),
]


def make(kind, theta, settings):
    return {"adam": sn.Adam, "sgd": sn.SGD, "adamw": sn.AdamW, "rmsprop": sn.RMSprop, "adagrad": sn.Adagrad}[kind](
        theta, **settings)


# Theta and every state array after 1 and 25 full-batch steps, each engine with its own gradients
# (their rounding feeds the update). float64: measured worst 1.1e-14 (25 steps); bound 1e-12.
# float32: measured worst 7.9e-7 (25 steps); bound 5e-6.
STEP_TOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 5e-6}


@pytest.mark.parametrize("kind,settings", OPTIMIZERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("steps", [1, 25])
def test_optimizer_steps_match_numpy_engine(kind, settings, dtype, steps):
    units = [3, 6, 4, 2]
    a = sn.MLP(units, activations=["tanh", "sigmoid", "identity"], dtype=dtype, generator=11)
    b = a.copy()
    X, Y = random_data(units, 40, dtype, 2)
    oa, ob = make(kind, a.theta, settings), make(kind, b.theta, settings)
    ha = sn.fit(a, X, Y, oa, epochs=steps)
    hb = sn.fit(b, X, Y, ob, epochs=steps, engine="numba")
    tol = STEP_TOL[np.dtype(dtype)]
    if settings.get("centered") and dtype == np.float32:
        # centered RMSprop divides by √(s − ḡ²), a difference that cancels as the gradients settle: the engines'
        # own float32 gradients (their roundings differ) part by more there. Measured 3.1e-5 (b, 25 steps).
        tol = 1e-4
    assert hb.engine == "numba" and ob.t == oa.t == steps
    assert rel_err(hb.loss, ha.loss) < tol
    assert max(rel_err(x, y) for x, y in zip(b.theta, a.theta)) < tol
    for name, arrays in oa.state_arrays().items():
        if kind == "sgd" and not settings.get("momentum"):
            continue  # no buffer
        if name == "v_max" and not settings.get("amsgrad"):
            continue
        if (name == "grad_avg" and not settings.get("centered")) or (name == "b" and not settings.get("momentum")):
            continue  # never written: zeros on both sides
        assert max(rel_err(x, y) for x, y in zip(ob.state_arrays()[name], arrays)) < tol, name


@pytest.mark.parametrize("units", [[1, 5, 1], [1, 10, 1], [1, 5, 5, 1]])
def test_workshop_fit_in_lockstep_with_torch(units, workshop):
    """The notebook's fits (seed 10, Adam lr 0.015, float32), resynced to torch every epoch.

    Each epoch starts from torch's parameters and state, so what remains is one epoch's
    disagreement: a few float32 roundings through forward, backward and Adam. Measured worst:
    loss 4.1e-7, theta 2.4e-7; bound 5e-6. 300 epochs (the NumPy engine's test runs 1000).
    """
    pytest.importorskip("torch")
    import torchref

    X, Y = workshop
    net = sn.MLP(units, generator=10)
    c = torchref.compare(net, X, Y, sn.Adam(net.theta, lr=0.015), epochs=300, resync_every=1, engine="numba")
    assert c.rel_gap.max() < 5e-6
    assert c.param_gap.max() < 5e-6


def test_workshop_1_5_1_free_running_matches_numpy_engine(workshop):
    """1-5-1 is well conditioned: 1000 free-running epochs stay within 1e-6 of the NumPy engine (as of torch).

    Measured worst relative loss gap 6.2e-7; bound 1e-6 (the issue's figure for this fit against torch).
    """
    X, Y = workshop
    a, b = sn.MLP([1, 5, 1], generator=10), sn.MLP([1, 5, 1], generator=10)
    ha = sn.fit(a, X, Y, sn.Adam(a.theta, lr=0.015), epochs=1000)
    hb = sn.fit(b, X, Y, sn.Adam(b.theta, lr=0.015), epochs=1000, engine="numba")
    assert np.max(np.abs(hb.loss - ha.loss) / ha.loss) < 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minibatches_and_validation_as_numpy_engine(dtype):
    """Same batches (from seed), the last one smaller, validation at the start of each epoch."""
    units = [3, 8, 2]
    X, Y = random_data(units, 130, dtype, 0)
    Xv, Yv = random_data(units, 30, dtype, 1)
    a = sn.MLP(units, activations=["relu", "identity"], dtype=dtype, generator=5)
    b = a.copy()
    oa, ob = sn.SGD(a.theta, lr=0.05, momentum=0.9), sn.SGD(b.theta, lr=0.05, momentum=0.9)
    ha = sn.fit(a, X, Y, oa, epochs=20, batch_size=32, seed=7, validation=(Xv, Yv))
    hb = sn.fit(b, X, Y, ob, epochs=20, batch_size=32, seed=7, validation=(Xv, Yv), engine="numba")
    tol = TOL[np.dtype(dtype)]
    assert len(hb.loss) == len(hb.val_loss) == 20 and ob.t == oa.t == 20 * 5
    assert rel_err(hb.loss, ha.loss) < tol
    assert rel_err(hb.val_loss, ha.val_loss) < tol
    assert max(rel_err(x, y) for x, y in zip(b.theta, a.theta)) < tol


def test_first_loss_is_before_any_update_and_validation_at_epoch_start():
    units = [1, 4, 1]
    X, Y = random_data(units, 50, np.float64, 0)
    Xv, Yv = random_data(units, 20, np.float64, 1)
    net = sn.MLP(units, dtype=np.float64, generator=2)
    first, first_val = float(net.loss(X, Y)), float(net.loss(Xv, Yv))
    h = sn.fit(net, X, Y, sn.Adam(net.theta, lr=0.01), epochs=5, validation=(Xv, Yv), engine="numba")
    assert abs(h.loss[0] - first) < 1e-15 * first  # one rounding order against another
    assert abs(h.val_loss[0] - first_val) < 1e-15 * first_val


def test_fit_in_pieces_equals_one_fit_and_resumes_numpy_state():
    units = [2, 5, 1]
    X, Y = random_data(units, 40, np.float64, 0)
    one, two, mixed = (sn.MLP(units, dtype=np.float64, generator=1) for _ in range(3))
    o1, o2, o3 = sn.Adam(one.theta, lr=0.01), sn.Adam(two.theta, lr=0.01), sn.Adam(mixed.theta, lr=0.01)
    h = sn.fit(one, X, Y, o1, epochs=6, batch_size=16, seed=4, engine="numba")
    ha = sn.fit(two, X, Y, o2, epochs=2, batch_size=16, seed=4, engine="numba")
    hb = sn.fit(two, X, Y, o2, epochs=4, batch_size=16, seed=4, start_epoch=2, engine="numba")
    assert np.array_equal(h.loss, np.concatenate([ha.loss, hb.loss]))
    assert all(np.array_equal(a, b) for a, b in zip(one.theta, two.theta))
    # the optimizer state the NumPy engine leaves is the state the numba engine continues from
    hm = sn.fit(mixed, X, Y, o3, epochs=2, batch_size=16, seed=4)
    hm2 = sn.fit(mixed, X, Y, o3, epochs=4, batch_size=16, seed=4, start_epoch=2, engine="numba")
    assert o3.t == o1.t
    assert rel_err(np.concatenate([hm.loss, hm2.loss]), h.loss) < 1e-12  # float64 rounding orders
    assert max(rel_err(a, b) for a, b in zip(mixed.theta, one.theta)) < 1e-12


def test_theta_and_state_are_updated_in_place():
    net = sn.MLP([1, 3, 1])
    opt = sn.Adam(net.theta, lr=0.01, amsgrad=True)
    ids = [id(a) for a in net.theta + opt.m + opt.v + opt.v_max]
    before = [t.copy() for t in net.theta]
    X, Y = random_data([1, 3, 1], 20, np.float32, 0)
    sn.fit(net, X, Y, opt, epochs=3, engine="numba")
    assert [id(a) for a in net.theta + opt.m + opt.v + opt.v_max] == ids
    assert opt.t == 3 and all(not np.array_equal(a, b) for a, b in zip(before, net.theta))
    assert all(np.any(m != 0) for m in opt.m) and all(t.dtype == np.float32 for t in net.theta)


@pytest.mark.parametrize("batch_size", [None, 7])
def test_divergence_stops_where_the_numpy_engine_does(batch_size):
    units = [1, 4, 1]
    X, Y = random_data(units, 30, np.float64, 0)
    a = sn.MLP(units, activations=["tanh", "identity"], dtype=np.float64, generator=0)
    b = a.copy()
    errors = []
    for net, engine_name in ((a, "numpy"), (b, "numba")):
        with pytest.raises(sn.DivergenceError) as info:
            sn.fit(net, X * 100, Y, sn.SGD(net.theta, lr=1e6), epochs=500, batch_size=batch_size, engine=engine_name)
        errors.append(info.value)
    assert 0 < errors[1].epoch == errors[0].epoch < 500
    assert len(errors[1].history.loss) == errors[1].epoch
    assert np.all(np.isfinite(errors[1].history.loss))
    assert errors[1].history.engine == "numba"


def test_two_runs_are_bit_identical(workshop):
    X, Y = workshop
    runs = []
    for _ in range(2):
        net = sn.MLP([1, 5, 5, 1], generator=10)
        h = sn.fit(net, X, Y, sn.Adam(net.theta, lr=0.015), epochs=50, batch_size=200, seed=3, engine="numba")
        runs.append((h.loss, net.theta))
    assert np.array_equal(runs[0][0], runs[1][0])
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_thread_count_does_not_change_results():
    """A large batch runs its chunk groups in threads; the split never depends on the thread count."""
    units = [2, 6, 1]
    net = sn.MLP(units)
    n = engine.PARALLEL_MIN_WORK // net.n_parameters + 500
    assert n > 4 * engine.chunk_points(net)  # several chunks in every group
    X, Y = random_data(units, n, np.float32, 0)
    runs = []
    threads = numba.get_num_threads()
    try:
        for k in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(k)
            net = sn.MLP(units, generator=1)
            h = sn.fit(net, X, Y, sn.Adam(net.theta, lr=0.01), epochs=3, engine="numba")
            runs.append((h.loss, net.theta))
    finally:
        numba.set_num_threads(threads)
    assert np.array_equal(runs[0][0], runs[1][0])
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_history_reports_compile_and_run_time():
    """``seconds`` and ``compile_seconds`` split the fit's wall time; once compiled (or loaded) for a dtype,
    a fit compiles nothing. (That a first fit reports its compile or cache load: test_fast_determinism.)"""
    X, Y = random_data([1, 2, 1], 10, np.float32, 0)
    for _ in range(2):
        net = sn.MLP([1, 2, 1])
        start = time.perf_counter()
        h = sn.fit(net, X, Y, sn.Adam(net.theta), epochs=2, engine="numba")
        wall = time.perf_counter() - start
        assert h.engine == "numba" and 0 < h.seconds and h.seconds + h.compile_seconds <= wall
    assert h.compile_seconds == 0.0, "the second fit of a dtype reuses the compiled kernels"


def test_prepare_step_steps_copies_only():
    """The bench's compiled step (engine.prepare_step) works on packed copies: the net and its optimizer
    stay as they were (weight decay makes each step move theta even with the zero gradient it uses)."""
    net = sn.MLP([1, 3, 1])
    for opt in (sn.Adam(net.theta, lr=0.1, weight_decay=0.5), sn.SGD(net.theta, lr=0.1, momentum=0.9, weight_decay=0.5)):
        before = [t.copy() for t in net.theta]
        step = engine.prepare_step(net, opt)
        step()
        step()
        assert all(np.array_equal(a, b) for a, b in zip(before, net.theta)) and opt.t == 0
        assert all(not a.any() for arrays in opt.state_arrays().values() for a in arrays)


def test_unknown_optimizer_is_refused_by_name():
    class Custom(sn.Adam):
        pass

    net = sn.MLP([1, 2, 1])
    X, Y = random_data([1, 2, 1], 10, np.float32, 0)
    opt = sn.optimizers.Optimizer(net.theta, 0.1, 0.0)
    with pytest.raises(ValueError, match="^optimizer: the numba engine runs SGD, Adam, AdamW, RMSprop, Adagrad; "
                                         "Optimizer runs on the NumPy engine"):
        sn.fit(net, X, Y, opt, epochs=1, engine="numba")
    sn.fit(net, X, Y, Custom(net.theta), epochs=1, engine="numba")  # a subclass is still Adam


def test_loss_and_grad_checks_its_arguments():
    net = sn.MLP([2, 3, 1])
    with pytest.raises(TypeError, match="X"):
        fast.loss_and_grad(net, np.zeros((4, 2)), np.zeros((4, 1), np.float32))


@pytest.mark.parametrize("make_schedule", [lambda o: sn.StepLR(o, 3, 0.5), lambda o: sn.ExponentialLR(o, 0.9),
                                           lambda o: sn.CosineAnnealingLR(o, 7, 1e-4)])
def test_schedules_set_each_epochs_lr_as_the_numpy_engine_does(make_schedule):
    """Each epoch trains at the schedule's lr (minibatches: every step of the epoch), and the schedule ends where
    the NumPy engine leaves it. float64, 20 epochs: the loss curves within 1e-12 (measured ~1e-16)."""
    units = [2, 6, 1]
    a = sn.MLP(units, dtype=np.float64, generator=3)
    b = a.copy()
    X, Y = random_data(units, 60, np.float64, 1)
    oa, ob = sn.SGD(a.theta, lr=0.1, momentum=0.5), sn.SGD(b.theta, lr=0.1, momentum=0.5)
    sa, sb = make_schedule(oa), make_schedule(ob)
    ha = sn.fit(a, X, Y, oa, epochs=20, batch_size=25, scheduler=sa)
    hb = sn.fit(b, X, Y, ob, epochs=20, batch_size=25, scheduler=sb, engine="numba")
    assert rel_err(hb.loss, ha.loss) < 1e-12 and max(rel_err(x, y) for x, y in zip(b.theta, a.theta)) < 1e-12
    assert (sb.last_epoch, ob.lr) == (sa.last_epoch, oa.lr) == (20, oa.lr)
    # the comparison can fail: the same fit at a fixed lr 0.1 parts from the scheduled one
    c = sn.MLP(units, dtype=np.float64, generator=3)
    hc = sn.fit(c, X, Y, sn.SGD(c.theta, lr=0.1, momentum=0.5), epochs=20, batch_size=25, engine="numba")
    assert rel_err(hc.loss, ha.loss) > 1e-6


def test_a_diverging_fit_leaves_the_schedule_where_the_numpy_engine_does():
    """A fit stopped at a non-finite loss: the schedule stepped once per completed epoch, on both engines."""
    units = [1, 4, 1]
    X, Y = random_data(units, 30, np.float64, 0)
    ends = []
    for engine_name in ("numpy", "numba"):
        net = sn.MLP(units, ["tanh", "identity"], dtype=np.float64, generator=1)
        opt = sn.SGD(net.theta, lr=0.01)
        sched = sn.ExponentialLR(opt, 10.0)  # the lr grows tenfold an epoch until the fit diverges
        with pytest.raises(sn.DivergenceError) as info:
            sn.fit(net, X, Y, opt, epochs=50, scheduler=sched, engine=engine_name)
        ends.append((len(info.value.history.loss), sched.last_epoch, opt.lr))
    assert ends[0] == ends[1] and 0 < ends[0][0] < 50 and ends[0][1] == ends[0][0]
