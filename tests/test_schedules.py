"""StepLR, ExponentialLR and CosineAnnealingLR against torch.optim.lr_scheduler, and in fit, torchref and the run."""

import math

import numpy as np
import pytest

import scratchnn as sn
from conftest import random_data

EPOCHS = 60

# (scratchnn's schedule, torch's class name, its arguments): T_max < EPOCHS, so the cosine goes past
# its minimum and back up, through torch's special case at e = T_max + 1 (where the recursion would divide by 0)
CASES = [
    (sn.StepLR, "StepLR", (7, 0.5)),
    (sn.StepLR, "StepLR", (3,)),
    (sn.ExponentialLR, "ExponentialLR", (0.93,)),
    (sn.CosineAnnealingLR, "CosineAnnealingLR", (10,)),
    (sn.CosineAnnealingLR, "CosineAnnealingLR", (13, 0.01)),
    (sn.CosineAnnealingLR, "CosineAnnealingLR", (45, 1e-3)),
]


def lrs(schedule, args, lr=0.1, epochs=EPOCHS):
    """lr_0 ... lr_epochs of ``schedule(opt, *args)`` stepped once per epoch after an optimizer step."""
    theta = [np.zeros((2, 3))]
    opt = sn.SGD(theta, lr=lr)
    sched = schedule(opt, *args)
    out = [opt.lr]
    for _ in range(epochs):
        opt.step([np.zeros((2, 3))])
        sched.step()
        out.append(opt.lr)
    return np.array(out)


def torch_lrs(name, args, lr=0.1, epochs=EPOCHS):
    torch = pytest.importorskip("torch")
    p = torch.zeros(2, 3, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    sched = getattr(torch.optim.lr_scheduler, name)(opt, *args)
    out = [opt.param_groups[0]["lr"]]
    for _ in range(epochs):
        p.grad = torch.zeros(2, 3)
        opt.step()
        sched.step()
        out.append(opt.param_groups[0]["lr"])
    return np.array(out)


@pytest.mark.parametrize("schedule,name,args", CASES)
def test_lr_sequence_is_torchs_bit_for_bit(schedule, name, args):
    """60 epochs. Bound: equality. Each lr is the same few Python float operations on the previous one,
    in torch's order (its recursive get_lr), so nothing can round differently."""
    np.testing.assert_array_equal(lrs(schedule, args), torch_lrs(name, args))


def test_cosine_recursion_is_not_the_closed_form():
    """Planted: the closed form eta_min + (lr_0 - eta_min)(1 + cos(pi e / T_max))/2 is the same curve in exact
    arithmetic but not torch's numbers: the bit-for-bit test above would catch a schedule that used it."""
    torch_side = torch_lrs("CosineAnnealingLR", (45, 1e-3))
    closed = np.array([1e-3 + (0.1 - 1e-3) * (1 + math.cos(math.pi * e / 45)) / 2 for e in range(EPOCHS + 1)])
    assert not np.array_equal(closed, torch_side)
    np.testing.assert_allclose(closed, torch_side, rtol=1e-12)  # measured 4.6e-14: the same curve


def test_the_formulas_without_torch():
    decays = np.array([0, 0, 1, 1, 2, 8])  # floor(e / 7) at e = 0, 6, 7, 13, 14, 60
    np.testing.assert_allclose(lrs(sn.StepLR, (7, 0.5))[[0, 6, 7, 13, 14, 60]], 0.1 * 0.5**decays, rtol=1e-15)
    np.testing.assert_allclose(lrs(sn.ExponentialLR, (0.93,)), 0.1 * 0.93 ** np.arange(EPOCHS + 1), rtol=1e-13)
    e = np.arange(EPOCHS + 1)
    closed = 0.01 + (0.1 - 0.01) * (1 + np.cos(np.pi * e / 13)) / 2  # down to eta_min at T_max, then back up
    np.testing.assert_allclose(lrs(sn.CosineAnnealingLR, (13, 0.01)), closed, rtol=1e-12)


@pytest.mark.parametrize("make,exc,name", [
    (lambda o: sn.StepLR(o, 0), ValueError, "step_size"),
    (lambda o: sn.StepLR(o, 2.5), TypeError, "step_size"),
    (lambda o: sn.StepLR(o, 3, gamma=0.0), ValueError, "gamma"),
    (lambda o: sn.ExponentialLR(o, -0.5), ValueError, "gamma"),
    (lambda o: sn.CosineAnnealingLR(o, 0), ValueError, "T_max"),
    (lambda o: sn.CosineAnnealingLR(o, 10, eta_min=-1e-3), ValueError, "eta_min"),
    (lambda o: sn.CosineAnnealingLR([np.zeros((1, 2))], 10), TypeError, "optimizer"),
])
def test_bad_arguments_name_themselves(make, exc, name):
    opt = sn.Adam([np.zeros((1, 2))])
    with pytest.raises(exc) as info:
        make(opt)
    assert str(info.value).startswith(f"{name}:"), str(info.value)


# ------------------------------------------------------------------------------------- in fit
def small(dtype=np.float64, n=40):
    units = [2, 4, 1]
    net = sn.MLP(units, dtype=dtype, generator=3)
    return net, *random_data(units, n, dtype, 0)


def test_fit_steps_the_schedule_once_per_epoch_after_the_last_batch():
    net, X, Y = small()
    opt = sn.SGD(net.theta, lr=0.1)
    sched = sn.StepLR(opt, 3, 0.5)
    sn.fit(net, X, Y, opt, epochs=7, batch_size=10, scheduler=sched)  # 4 batches an epoch: 28 optimizer steps
    assert (opt.t, sched.last_epoch) == (28, 7)
    assert opt.lr == 0.1 * 0.5 * 0.5  # decayed after epochs 3 and 6


def test_a_fit_in_pieces_with_a_schedule_equals_one_fit():
    a, X, Y = small()
    b = a.copy()
    opt_a, opt_b = sn.AdamW(a.theta, lr=0.05), sn.AdamW(b.theta, lr=0.05)
    sched_a, sched_b = sn.CosineAnnealingLR(opt_a, 9), sn.CosineAnnealingLR(opt_b, 9)
    h = sn.fit(a, X, Y, opt_a, epochs=12, batch_size=16, scheduler=sched_a)
    pieces = [sn.fit(b, X, Y, opt_b, epochs=k, batch_size=16, start_epoch=s, scheduler=sched_b).loss
              for s, k in ((0, 5), (5, 7))]
    np.testing.assert_array_equal(np.concatenate(pieces), h.loss)
    assert all(np.array_equal(x, y) for x, y in zip(a.theta, b.theta)) and opt_a.lr == opt_b.lr


def test_fit_checks_the_scheduler():
    net, X, Y = small()
    opt = sn.Adam(net.theta)
    with pytest.raises(ValueError, match="^scheduler: it must have been built on this fit's optimizer"):
        sn.fit(net, X, Y, opt, epochs=1, scheduler=sn.StepLR(sn.Adam(net.theta), 2))
    with pytest.raises(TypeError, match="^scheduler: expected a scratchnn schedule"):
        sn.fit(net, X, Y, opt, epochs=1, scheduler="cosine")
    with pytest.raises(ValueError, match="^scheduler: it must have been built on this fit's optimizer"):
        sn.fit(net, X, Y, epochs=1, scheduler=sn.StepLR(opt, 2))  # the default optimizer is a new Adam


# ------------------------------------------------------------------ a whole fit against torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [None, 16])
def test_adamw_with_cosine_annealing_fits_as_torch_does(dtype, batch_size):
    """sn.fit against torch.optim.AdamW + lr_scheduler.CosineAnnealingLR built by hand (not by the bridge),
    trained by torchref.fit, free-running: 50 epochs, T_max 20 (down, and back up past it).

    float64: measured loss <= 4.3e-16, theta <= 1.5e-15 (relative); bound 1e-12.
    float32: measured loss <= 2.2e-7, theta <= 1.3e-6; bound 2e-5: float32 roundings (u = 6e-8) of
    forward, backward and step, carried by a free-running fit over 50 epochs.
    """
    torch = pytest.importorskip("torch")
    import torchref
    from torchref.agreement import rel_err
    from torchref.bridge import theta_of

    units = [3, 8, 8, 2]
    X, Y = random_data(units, 64, dtype, 0)
    net = sn.MLP(units, activations=["tanh", "relu", "identity"], dtype=dtype, generator=7)
    model = torchref.to_torch(net)
    opt = sn.AdamW(net.theta, lr=0.02, weight_decay=0.1)
    sched = sn.CosineAnnealingLR(opt, T_max=20, eta_min=1e-3)
    topt = torch.optim.AdamW(model.parameters(), lr=0.02, weight_decay=0.1)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=20, eta_min=1e-3)
    h = sn.fit(net, X, Y, opt, epochs=50, batch_size=batch_size, seed=3, scheduler=sched)
    ht = torchref.fit(model, X, Y, topt, epochs=50, batch_size=batch_size, seed=3, scheduler=tsched)
    bound = 1e-12 if dtype == np.float64 else 2e-5
    assert rel_err(h.loss, ht.loss) < bound
    assert max(rel_err(a, b) for a, b in zip(net.theta, theta_of(model))) < bound
    assert opt.lr == topt.param_groups[0]["lr"]
    assert h.loss[-1] < 0.9 * h.loss[0]  # it did train (random targets: measured 0.67x to 0.81x)


@pytest.mark.parametrize("schedule,args", [(sn.StepLR, (4, 0.5)), (sn.ExponentialLR, (0.9,))])
def test_torchref_compare_takes_a_schedule(schedule, args):
    """The bridge's twin schedule (scheduler_to_torch), resynced every epoch. float64: measured ~1e-16; bound 1e-12."""
    pytest.importorskip("torch")
    import torchref

    net, X, Y = small()
    opt = sn.RMSprop(net.theta, lr=0.01, momentum=0.5)
    sched = schedule(opt, *args)
    c = torchref.compare(net, X, Y, opt, epochs=12, batch_size=16, resync_every=1, scheduler=sched)
    assert c.rel_gap.max() < 1e-12
    assert sched.last_epoch == 12


def test_scheduler_to_torch_resumes_where_the_schedule_is():
    """A twin built mid-fit continues the same recursion (not torch's closed-form resume)."""
    pytest.importorskip("torch")
    import torch
    import torchref

    ours = lrs(sn.CosineAnnealingLR, (13, 0.01), epochs=30)
    theta = [np.zeros((2, 3))]
    opt = sn.SGD(theta, lr=0.1)
    sched = sn.CosineAnnealingLR(opt, 13, 0.01)
    for _ in range(17):
        sched.step()
    p = torch.zeros(2, 3, requires_grad=True)
    topt = torch.optim.SGD([p], lr=opt.lr)
    tsched = torchref.scheduler_to_torch(sched, topt)
    theirs = []
    for _ in range(13):
        p.grad = torch.zeros(2, 3)
        topt.step()
        tsched.step()
        theirs.append(topt.param_groups[0]["lr"])
    np.testing.assert_array_equal(theirs, ours[18:])


def test_torchref_fit_checks_the_scheduler():
    torch = pytest.importorskip("torch")
    import torchref

    net, X, Y = small()
    model = torchref.to_torch(net)
    other = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="^scheduler:"):
        torchref.fit(model, X, Y, torch.optim.SGD(model.parameters(), lr=0.1), epochs=1,
                     scheduler=torch.optim.lr_scheduler.StepLR(other, 2))
