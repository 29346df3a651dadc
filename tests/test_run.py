"""scratchnn.apps.run: the one run every application trains through (chunks, callbacks, Ctrl-C, twin)."""

import numpy as np
import pytest

import scratchnn as sn
from scratchnn import fast
from scratchnn.apps import run as R

X, Y = sn.workshop_data()
X_SMALL, Y_SMALL = X[::10], Y[::10]  # 300 points: enough for every behaviour here, fast on 2 cores


def fresh(units=(1, 5, 1), seed=3, **kwargs):
    return R.build_net(list(units), generator=seed, **kwargs)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize("batch_size", [None, 70])
def test_a_run_in_chunks_equals_one_fit(engine, batch_size):
    a, b = fresh(), fresh()
    h = sn.fit(a, X_SMALL, Y_SMALL, sn.Adam(a.theta, lr=0.015), epochs=250, batch_size=batch_size, seed=4, engine=engine)
    run = R.Run(b, X_SMALL, Y_SMALL, R.Settings(epochs=250, batch_size=batch_size, seed=4, engine=engine))
    run.train(samples=7)  # at least 7 chunks
    assert run.status == "done" and len(run.chunks) >= 7
    assert np.array_equal(run.loss, h.loss)  # same epochs, same batches, same arithmetic
    assert all(np.array_equal(p, q) for p, q in zip(a.theta, b.theta))


def test_the_same_settings_give_the_same_bits_twice():
    runs = [R.Run(fresh(seed=5), X_SMALL, Y_SMALL, R.Settings(epochs=120, batch_size=64, seed=1)).train()
            for _ in range(2)]
    assert np.array_equal(runs[0].loss, runs[1].loss)
    assert all(np.array_equal(p, q) for p, q in zip(runs[0].net.theta, runs[1].net.theta))


def test_divergence_names_the_absolute_epoch():
    net = R.build_net([1, 5, 5, 1], "identity", generator=10)
    run = R.Run(net, X_SMALL, Y_SMALL, R.Settings(optimizer="sgd", lr=50.0, epochs=500)).train(samples=20)
    assert run.status == "diverged"
    assert run.epochs == run.diverged_at and 0 < run.diverged_at < 500
    assert f"epoch {run.diverged_at}" in run.message and "lower the learning rate" in run.message
    assert run.warnings() == []  # a diverged run's message says it all


def test_ctrl_c_rolls_back_to_the_last_whole_chunk(monkeypatch):
    calls = []
    real_fit = R.fit

    def interrupted_fit(net, X, Y, opt, k, *args, **kwargs):
        calls.append(k)
        h = real_fit(net, X, Y, opt, k, *args, **kwargs)  # trains, then is interrupted before returning
        if len(calls) == 3:
            raise KeyboardInterrupt
        return h

    monkeypatch.setattr(R, "fit", interrupted_fit)
    net = fresh()
    run = R.Run(net, X_SMALL, Y_SMALL, R.Settings(epochs=1000)).train(samples=50)
    assert run.status == "interrupted" and "interrupted after" in run.message
    assert run.epochs == calls[0] + calls[1]  # the third chunk was rolled back
    reference = fresh()
    ref_opt = sn.Adam(reference.theta, lr=0.015)
    sn.fit(reference, X_SMALL, Y_SMALL, ref_opt, run.epochs)
    assert all(np.array_equal(p, q) for p, q in zip(net.theta, reference.theta))
    assert run.optimizer.t == ref_opt.t and all(np.array_equal(p, q) for p, q in zip(run.optimizer.m, ref_opt.m))


def test_stop_progress_and_snapshots_are_called_between_chunks():
    seen = []
    run = R.Run(fresh(), X_SMALL, Y_SMALL, R.Settings(epochs=400))
    run.train(progress=lambda r: seen.append(r.epochs), stop=lambda: len(seen) >= 3,
              snapshot=lambda r: r.epochs * 10, samples=40)
    assert run.status == "stopped" and run.message == f"stopped after {run.epochs} of 400 epochs"
    assert seen == sorted(seen) and seen[-1] == run.epochs and len(seen) == 3
    # a snapshot before every chunk and one at the end, each recording its epoch
    assert [e for e, _ in run.snapshots] == [0] + seen
    assert all(value == 10 * epoch for epoch, value in run.snapshots)


def test_a_stopped_run_goes_on_where_it_stopped():
    settings = R.Settings(epochs=300)
    whole = R.Run(fresh(), X_SMALL, Y_SMALL, settings).train()
    run = R.Run(fresh(), X_SMALL, Y_SMALL, settings)
    run.train(stop=lambda: run.epochs >= 100, samples=30)
    assert run.status == "stopped" and 100 <= run.epochs < 300
    run.train()
    assert run.status == "done" and np.array_equal(run.loss, whole.loss)


def test_a_loss_that_rose_is_told():
    net = R.build_net([1, 5, 5, 1], generator=10)
    run = R.Run(net, X_SMALL, Y_SMALL, R.Settings(lr=10.0, epochs=200)).train()
    assert run.status == "done"  # tanh keeps it finite; Adam at lr 10 throws θ far out
    assert run.loss[-1] > R.DIVERGED_RISE * run.loss[0] and run.rose and run.diverged
    [warning] = [w for w in run.warnings() if "loss ended above" in w]
    assert f"{run.loss[0]:.4e} -> {run.loss[-1]:.4e}" in warning and "diverged" in warning


def test_a_loss_that_rose_a_little_is_told_but_not_diverged():
    net = R.build_net([1, 5, 5, 1], generator=7)  # found by trying seeds: Adam's first steps overshoot here
    run = R.Run(net, X_SMALL, Y_SMALL, R.Settings(epochs=5)).train()
    ratio = run.loss[-1] / run.loss[0]
    assert 1 < ratio < R.DIVERGED_RISE
    assert run.rose and not run.diverged
    assert any("train longer" in w for w in run.warnings())


def test_a_dead_relu_net_is_named_dead():
    net = R.build_net([1, 5, 5, 1], "relu", generator=10)
    run = R.Run(net, X_SMALL, Y_SMALL, R.Settings(lr=1.0, epochs=100)).train()
    word, fraction = sn.diagnostics.saturation(run.net, X_SMALL)
    hidden = run.net.forward_trace(X_SMALL).a[1:-1]
    dead = sum(int(np.all(a[:, 1:] == 0, axis=0).sum()) for a in hidden)
    assert word == "dead" and fraction == dead / 10 and fraction > 0.5
    assert any(w.startswith("the net is dead") for w in run.warnings())


def test_a_saturated_tanh_net_is_named_saturated():
    net = R.build_net([1, 5, 1], generator=10)
    net.theta[0][:, 0] = 20.0  # biases that hold every hidden tanh at |a| > 0.99 whatever x in [0, 1]
    word, fraction = sn.diagnostics.saturation(net, X_SMALL)
    assert (word, fraction) == ("saturated", 1.0)
    assert sn.diagnostics.saturation(fresh(), X_SMALL)[1] == 0.0  # the workshop's init is not


def test_settings_name_what_is_wrong():
    with pytest.raises(ValueError, match="optimizer: expected one of adam, sgd, adamw, rmsprop, adagrad"):
        R.Settings(optimizer="lbfgs")
    with pytest.raises(ValueError, match="engine: expected one of numpy, numba"):
        R.Settings(engine="auto")
    with pytest.raises(ValueError, match="only SGD and RMSprop have momentum"):
        R.Settings(momentum=0.9)


def test_engine_auto_falls_back_saying_why(monkeypatch):
    monkeypatch.setattr(fast, "why_unusable", lambda: "the numba engine does not import: ImportError: planted")
    said = []
    assert R.resolve_engine("auto", log=said.append) == "numpy"
    assert said == ["engine auto: using the NumPy engine, since the numba engine does not import: ImportError: planted"]
    with pytest.raises(RuntimeError, match="engine numba: the numba engine does not import: ImportError: planted"):
        R.resolve_engine("numba")
    assert R.resolve_engine("numpy") == "numpy"


def test_why_unusable_reports_a_broken_engine(monkeypatch):
    from scratchnn.fast import engine

    def broken(*args, **kwargs):
        raise TypeError("planted compile error")

    monkeypatch.setattr(engine, "fit", broken)
    try:
        assert fast.why_unusable(recheck=True) == "the numba engine fails on a tiny fit: TypeError: planted compile error"
    finally:
        monkeypatch.undo()
        assert fast.why_unusable(recheck=True) is None  # the kept answer is the true one again


def test_the_numba_engine_is_usable_here():
    # the suite's machines have numba: a regression that breaks it must fail here, not fall back quietly
    assert fast.why_unusable() is None and R.resolve_engine("auto") == "numba"


def test_the_torch_twin_trains_the_same_chunks_as_one_torch_fit():
    torch = pytest.importorskip("torch")
    torchref = pytest.importorskip("torchref")
    settings = R.Settings(epochs=60, batch_size=100, seed=2)
    net = fresh(units=(1, 5, 5, 1))
    model = torchref.to_torch(net)
    h = torchref.fit(model, X_SMALL, Y_SMALL, torch.optim.Adam(model.parameters(), lr=0.015), 60, 100, 2)
    run = R.Run(net, X_SMALL, Y_SMALL, settings, twin=True).train(samples=6)
    assert len(run.twin.histories) >= 6
    assert np.array_equal(run.torch_history.loss, h.loss)  # torch's own bits, in chunks or not
    with torch.no_grad():
        assert np.array_equal(run.twin.forward(X_SMALL), model(torch.from_numpy(X_SMALL)).numpy())
    # scratch and torch from the same θ: float32 agreement of a short fit (a few 1e-6; tutorial 5)
    np.testing.assert_allclose(run.loss, h.loss, rtol=1e-4)


# ------------------------------------------------- AdamW, RMSprop, Adagrad and schedules in the run
@pytest.mark.parametrize("fields,message", [
    ({"schedule": "linear"}, "schedule: expected None or one of step, exp, cosine"),
    ({"step_size": 3}, "step_size: only the schedule 'step' takes it"),
    ({"schedule": "cosine", "gamma": 0.5}, "gamma: only the schedule 'step' or 'exp' takes it"),
    ({"schedule": "exp", "gamma": 0.9, "t_max": 5}, "t_max: only the schedule 'cosine' takes it"),
    ({"schedule": "step"}, "step_size: the step schedule needs it"),
    ({"schedule": "exp"}, "gamma: the exp schedule needs it"),
    ({"optimizer": "adagrad", "momentum": 0.9}, "momentum: only SGD and RMSprop have momentum"),
])
def test_settings_name_what_is_wrong_with_a_schedule(fields, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        R.Settings(**fields)


def test_settings_make_the_optimizer_and_schedule_they_name():
    theta = fresh().theta
    opt = R.make_optimizer(R.Settings(optimizer="adamw", lr=0.01), theta)
    assert type(opt) is sn.AdamW and (opt.lr, opt.weight_decay) == (0.01, 1e-2)  # torch's default decay
    opt = R.make_optimizer(R.Settings(optimizer="rmsprop", momentum=0.5, weight_decay=0.1), theta)
    assert type(opt) is sn.RMSprop and (opt.momentum, opt.weight_decay, opt.alpha) == (0.5, 0.1, 0.99)
    assert R.make_scheduler(R.Settings(), opt) is None
    sched = R.make_scheduler(R.Settings(schedule="cosine", epochs=300), opt)
    assert type(sched) is sn.CosineAnnealingLR and (sched.T_max, sched.eta_min) == (300, 0.0)  # T_max: the epochs
    sched = R.make_scheduler(R.Settings(schedule="step", step_size=5), opt)
    assert (sched.step_size, sched.gamma) == (5, 0.1)


def test_a_run_with_a_schedule_in_chunks_equals_one_fit_and_its_twin_agrees():
    """AdamW + cosine, float64, trained in 6+ chunks beside its torch twin: the chunks carry the schedule.

    Scratch against torch, free-running over 60 epochs: measured ~1e-16 relative; bound 1e-12.
    """
    pytest.importorskip("torch")
    settings = R.Settings(optimizer="adamw", lr=0.03, epochs=60, batch_size=100, seed=2, schedule="cosine", t_max=25,
                          eta_min=1e-3)
    a, b = fresh(dtype=np.float64), fresh(dtype=np.float64)
    X, Y = X_SMALL.astype(np.float64), Y_SMALL.astype(np.float64)
    opt = sn.AdamW(a.theta, lr=0.03)
    h = sn.fit(a, X, Y, opt, 60, 100, 2, scheduler=sn.CosineAnnealingLR(opt, 25, 1e-3))
    run = R.Run(b, X, Y, settings, twin=True).train(samples=6)
    assert len(run.chunks) >= 6 and run.scheduler.last_epoch == 60
    np.testing.assert_array_equal(run.loss, h.loss)
    assert run.optimizer.lr == opt.lr
    assert R.relative_gap(run.loss, run.torch_history.loss).max() < 1e-12
    assert run.twin.optimizer.param_groups[0]["lr"] == opt.lr


def test_rollback_restores_the_learning_rate_and_the_schedule():
    net = fresh()
    opt = sn.Adagrad(net.theta, lr=0.1)
    sched = sn.ExponentialLR(opt, 0.5)
    restore = R.snapshot_scratch(net, opt, sched)
    sn.fit(net, X_SMALL, Y_SMALL, opt, 3, scheduler=sched)
    assert (opt.lr, sched.last_epoch, opt.t) == (0.1 * 0.5**3, 3, 3)
    restore()
    assert (opt.lr, sched.last_epoch, opt.t) == (0.1, 0, 0)
