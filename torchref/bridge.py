"""Bridges between scratchnn and torch: models, optimizer state, criteria and targets.

theta^j ``(u^{j+1}, u^j + 1)`` is torch's ``(bias, weight)`` of the j-th
``nn.Linear`` side by side: ``bias = theta^j[:, 0]``, ``weight = theta^j[:, 1:]``.
In ``nn.Sequential`` the j-th Linear is module ``2j`` and its activation ``2j + 1``.
Each criterion of :mod:`scratchnn.losses` has its torch loss module (``LOSSES``,
``loss_function``), and ``l2_term`` is its L2 penalty written in torch. Each optimizer of
:mod:`scratchnn.optimizers` has its ``torch.optim`` twin (``optimizer_to_torch``, state names
in ``STATE_KEYS``), and each schedule its ``torch.optim.lr_scheduler`` twin (``scheduler_to_torch``).
"""

import numpy as np
import torch
from torch import nn
from torch.optim import lr_scheduler

import scratchnn as sn

MODULES = {
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,  # default slope 0.01, as scratchnn.activations.LEAKY_SLOPE
    "identity": nn.Identity,
}
NAMES = {cls: name for name, cls in MODULES.items()}
LOSSES = {  # scratchnn's criteria (scratchnn.losses), each with torch's default mean reduction
    "mse": nn.MSELoss,
    "bce": nn.BCELoss,  # on the Sigmoid module's output
    "cross_entropy": nn.CrossEntropyLoss,  # on the logits (an identity output)
}


def torch_dtype(dtype):
    """torch's dtype for a NumPy float dtype."""
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(dtype)]


def to_torch(net):
    """An ``nn.Sequential(Linear, act, Linear, act, ...)`` holding copies of net's theta, in its dtype."""
    if not isinstance(net, sn.MLP):
        raise TypeError(f"net: expected a scratchnn.MLP, got {type(net).__name__}")
    layers = []
    for j, theta in enumerate(net.theta):
        linear = nn.Linear(net.units[j], net.units[j + 1], dtype=torch_dtype(net.dtype))
        with torch.no_grad():
            linear.bias.copy_(torch.from_numpy(theta[:, 0].copy()))
            linear.weight.copy_(torch.from_numpy(theta[:, 1:].copy()))
        layers += [linear, MODULES[net.activations[j]]()]
    return nn.Sequential(*layers)


def loss_function(criterion):
    """torch's loss module for scratchnn's criterion ``criterion`` ("mse", "bce" or "cross_entropy")."""
    if criterion not in LOSSES:
        raise ValueError(f"criterion: expected one of {sorted(LOSSES)}, got {criterion!r}")
    return LOSSES[criterion]()


def torch_targets(Y):
    """Y as torch takes it: class indices ``(n,)`` as int64 (``nn.CrossEntropyLoss``), other targets as they are."""
    if isinstance(Y, torch.Tensor):
        return Y
    return torch.from_numpy(Y.astype(np.int64) if Y.ndim == 1 else Y)


def l2_term(model, l2, n):
    """scratchnn's L2 term in torch: λ/(2n) Σ_j ‖weight_j‖², the biases left out (Ng's ex4)."""
    return l2 / (2 * n) * sum((m.weight * m.weight).sum() for m in linears(model))


def linears(model):
    """The ``nn.Linear`` modules of a Sequential, in order."""
    return [m for m in model if isinstance(m, nn.Linear)]


def linears_and_activations(model):
    """``(linears, names)`` of ``nn.Sequential(Linear, act, Linear, act, ...)``, checked for scratchnn.

    ``linears[j]`` is the Linear holding θ^j (``bias = θ^j[:, 0]``, ``weight = θ^j[:, 1:]``) and
    ``names[j]`` the scratchnn name of the activation after it, g_{j+1} (``activations[j]`` of an
    ``MLP``); a Linear with no activation module after it counts as ``"identity"``.
    Raises TypeError for a model that is not a Sequential and ValueError for one scratchnn
    cannot hold: an unknown activation, a LeakyReLU slope other than ``LEAKY_SLOPE``, Linear
    sizes that do not chain, a Linear without a bias.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model: expected an nn.Sequential of Linear and activation modules, got {type(model).__name__}")
    mods = list(model)
    lin, acts = [], []
    k = 0
    while k < len(mods):
        if not isinstance(mods[k], nn.Linear):
            raise ValueError(f"model: expected nn.Linear at position {k}, got {type(mods[k]).__name__}")
        lin.append(mods[k])
        nxt = mods[k + 1] if k + 1 < len(mods) else None
        if nxt is not None and not isinstance(nxt, nn.Linear):
            if type(nxt) not in NAMES:
                raise ValueError(f"model: unsupported activation {type(nxt).__name__} at position {k + 1}; expected one of {sorted(c.__name__ for c in NAMES)}")
            if isinstance(nxt, nn.LeakyReLU) and nxt.negative_slope != sn.activations.LEAKY_SLOPE:
                raise ValueError(f"model: LeakyReLU at position {k + 1} has slope {nxt.negative_slope}; scratchnn uses {sn.activations.LEAKY_SLOPE}")
            acts.append(NAMES[type(nxt)])
            k += 2
        else:
            acts.append("identity")
            k += 1
    if not lin:
        raise ValueError("model: expected at least one nn.Linear")
    for a, b in zip(lin, lin[1:]):
        if a.out_features != b.in_features:
            raise ValueError(f"model: Linear sizes do not chain ({a.out_features} -> {b.in_features})")
    if any(m.bias is None for m in lin):
        raise ValueError("model: every nn.Linear needs a bias (scratchnn keeps it in column 0 of theta)")
    return lin, acts


def from_torch(model, criterion="mse"):
    """A scratchnn ``MLP`` with the same units, activations, dtype and parameters as ``model``, and ``criterion``."""
    lin, acts = linears_and_activations(model)
    dtype = {torch.float32: np.float32, torch.float64: np.float64}.get(lin[0].weight.dtype)
    if dtype is None:
        raise TypeError(f"model: expected float32 or float64 parameters, got {lin[0].weight.dtype}")
    return sn.MLP([lin[0].in_features] + [m.out_features for m in lin], activations=acts, dtype=dtype,
                  criterion=criterion, theta=[t.astype(dtype, copy=False) for t in theta_of(model)])


def copy_theta_from_torch(net, model):
    """Overwrite net's theta (in place) with model's parameters."""
    for theta, m in zip(net.theta, linears(model)):
        theta[:, 0] = m.bias.detach().numpy()
        theta[:, 1:] = m.weight.detach().numpy()


def theta_of(model):
    """model's parameters as theta^j matrices (copies)."""
    return [np.concatenate([m.bias.detach().numpy()[:, None], m.weight.detach().numpy()], axis=1) for m in linears(model)]


def _split(a):
    """theta-shaped state -> (weight, bias) tensors."""
    return torch.from_numpy(a[:, 1:].copy()), torch.from_numpy(a[:, 0].copy())


def _join(weight, bias):
    return np.concatenate([bias.detach().numpy()[:, None], weight.detach().numpy()], axis=1)


STATE_KEYS = {  # scratchnn's optimizer state arrays (``opt.state_arrays()``) -> torch.optim's state keys
    "m": "exp_avg",
    "v": "exp_avg_sq",
    "v_max": "max_exp_avg_sq",
    "b": "momentum_buffer",
    "square_avg": "square_avg",
    "grad_avg": "grad_avg",
    "sum": "sum",
}


def _torch_optimizer(opt, params):
    """A fresh torch.optim optimizer with opt's settings (its lr now), single-tensor updates (torch's CPU default)."""
    if isinstance(opt, (sn.Adam, sn.AdamW)):
        kind = torch.optim.Adam if isinstance(opt, sn.Adam) else torch.optim.AdamW
        return kind(params, lr=opt.lr, betas=(opt.beta1, opt.beta2), eps=opt.eps, weight_decay=opt.weight_decay,
                    amsgrad=opt.amsgrad, foreach=False)
    if isinstance(opt, sn.SGD):
        return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum, dampening=opt.dampening,
                               weight_decay=opt.weight_decay, nesterov=opt.nesterov, foreach=False)
    if isinstance(opt, sn.RMSprop):
        return torch.optim.RMSprop(params, lr=opt.lr, alpha=opt.alpha, eps=opt.eps, weight_decay=opt.weight_decay,
                                   momentum=opt.momentum, centered=opt.centered, foreach=False)
    if isinstance(opt, sn.Adagrad):
        return torch.optim.Adagrad(params, lr=opt.lr, lr_decay=opt.lr_decay, weight_decay=opt.weight_decay,
                                   initial_accumulator_value=opt.initial_accumulator_value, eps=opt.eps,
                                   foreach=False)
    raise TypeError(f"opt: expected a scratchnn optimizer (SGD, Adam, AdamW, RMSprop, Adagrad), "
                    f"got {type(opt).__name__}")


def _in_use(opt, name):
    """Whether torch keeps state ``name`` for opt's settings (it skips the buffers a setting leaves unused)."""
    if name == "v_max":
        return opt.amsgrad
    if name == "b":
        return opt.momentum != 0
    if name == "grad_avg":
        return opt.centered
    return True


def optimizer_to_torch(opt, model):
    """A ``torch.optim`` optimizer over ``model`` with opt's settings and state."""
    params = [p for m in linears(model) for p in (m.weight, m.bias)]
    topt = _torch_optimizer(opt, params)
    if opt.t > 0:
        for j, m in enumerate(linears(model)):
            for k, p in enumerate((m.weight, m.bias)):
                st = topt.state[p]
                if not isinstance(opt, sn.SGD):  # torch's SGD counts no steps
                    st["step"] = torch.tensor(float(opt.t))
                for name, arrays in opt.state_arrays().items():
                    if _in_use(opt, name):
                        st[STATE_KEYS[name]] = _split(arrays[j])[k]
    return topt


def optimizer_from_torch(topt, model, opt):
    """Copy a torch optimizer's state and learning rate over ``model`` into scratchnn optimizer ``opt`` (in place)."""
    steps = set()
    for j, m in enumerate(linears(model)):
        sw, sb = topt.state.get(m.weight, {}), topt.state.get(m.bias, {})
        if "step" in sw:
            steps.add(int(sw["step"]))
        for name, arrays in opt.state_arrays().items():
            if sw.get(STATE_KEYS[name]) is not None:
                arrays[j][...] = _join(sw[STATE_KEYS[name]], sb[STATE_KEYS[name]])
    opt.lr = topt.param_groups[0]["lr"]  # a schedule may have moved it
    if isinstance(opt, sn.SGD):
        # torch's SGD counts no steps; what matters is whether its buffers exist yet
        has_buffer = any(topt.state.get(m.weight, {}).get("momentum_buffer") is not None for m in linears(model))
        opt.t = max(opt.t, 1) if has_buffer else 0
    else:
        opt.t = steps.pop() if steps else 0


def scheduler_to_torch(sched, topt):
    """A ``torch.optim.lr_scheduler`` over torch optimizer ``topt`` with sched's settings, at its epoch and lr."""
    if isinstance(sched, sn.StepLR):
        tsched = lr_scheduler.StepLR(topt, sched.step_size, sched.gamma)
    elif isinstance(sched, sn.ExponentialLR):
        tsched = lr_scheduler.ExponentialLR(topt, sched.gamma)
    elif isinstance(sched, sn.CosineAnnealingLR):
        tsched = lr_scheduler.CosineAnnealingLR(topt, sched.T_max, sched.eta_min)
    else:
        raise TypeError(f"sched: expected a scratchnn schedule (StepLR, ExponentialLR, CosineAnnealingLR), "
                        f"got {type(sched).__name__}")
    # built fresh (last_epoch 0, lr as it is), then moved to sched's epoch: torch's own way to resume
    # (last_epoch=k) would take one closed-form step, which differs from the recursion in the last bits
    for group in topt.param_groups:
        group["initial_lr"], group["lr"] = sched.base_lr, sched.optimizer.lr
    tsched.base_lrs = [sched.base_lr for _ in topt.param_groups]
    tsched.last_epoch = sched.last_epoch
    tsched._last_lr = [sched.optimizer.lr for _ in topt.param_groups]
    return tsched
