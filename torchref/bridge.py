"""Bridges between scratchnn and torch: models, optimizer state, criteria and targets.

theta^j ``(u^{j+1}, u^j + 1)`` is torch's ``(bias, weight)`` of the j-th
``nn.Linear`` side by side: ``bias = theta^j[:, 0]``, ``weight = theta^j[:, 1:]``.
In ``nn.Sequential`` the j-th Linear is module ``2j`` and its activation ``2j + 1``; a net with
a norm or dropout is ``nn.Sequential(Linear, [Norm], act, [Dropout], …, Linear, out_act)``, the
norm's ``weight`` and ``bias`` being γ^j and β^j (``NORMS``), its running statistics batch norm's.
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
NORMS = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}  # scratchnn's norm= -> torch's module (eps 1e-5)
NORM_NAMES = {cls: name for name, cls in NORMS.items()}
LOSSES = {  # scratchnn's criteria (scratchnn.losses), each with torch's default mean reduction
    "mse": nn.MSELoss,
    "bce": nn.BCELoss,  # on the Sigmoid module's output
    "cross_entropy": nn.CrossEntropyLoss,  # on the logits (an identity output)
}


def torch_dtype(dtype):
    """torch's dtype for a NumPy float dtype."""
    return {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}[np.dtype(dtype)]


def to_torch(net):
    """An ``nn.Sequential(Linear, [Norm], act, [Dropout], ...)`` holding copies of net's parameters, in its dtype.

    θ^j, and with a norm γ^j, β^j (and batch norm's running statistics); the model is in the
    net's mode (``model.training == net.training``).
    """
    if not isinstance(net, sn.MLP):
        raise TypeError(f"net: expected a scratchnn.MLP, got {type(net).__name__}")
    dtype = torch_dtype(net.dtype)
    layers = []
    for j, theta in enumerate(net.theta):
        linear = nn.Linear(net.units[j], net.units[j + 1], dtype=dtype)
        with torch.no_grad():
            linear.bias.copy_(torch.from_numpy(theta[:, 0].copy()))
            linear.weight.copy_(torch.from_numpy(theta[:, 1:].copy()))
        layers.append(linear)
        hidden = j + 1 < net.L
        if hidden and net.norm:
            norm = NORMS[net.norm](net.units[j + 1], dtype=dtype)  # γ^{j+1}, β^{j+1} = gamma[j], beta[j]
            with torch.no_grad():
                norm.weight.copy_(torch.from_numpy(net.gamma[j]))
                norm.bias.copy_(torch.from_numpy(net.beta[j]))
                if net.norm == "batch":
                    norm.running_mean.copy_(torch.from_numpy(net.running_mean[j]))
                    norm.running_var.copy_(torch.from_numpy(net.running_var[j]))
            layers.append(norm)
        layers.append(MODULES[net.activations[j]]())
        if hidden and net.dropout:
            layers.append(nn.Dropout(net.dropout))
    return nn.Sequential(*layers).train(net.training)


def torch_rng_state(generator):
    """torch's CPU generator state (``torch.set_rng_state``) at the position of scratchnn's ``TorchGenerator``.

    torch keeps the Mersenne Twister as ``(initial_seed uint64, left int32, seeded int32, next uint64,
    state 624 x uint64, …)``, with ``left = 625 − pos`` and ``next = pos``; the cached normal samples
    are marked invalid. After ``torch.set_rng_state(torch_rng_state(net.generator))`` torch's dropout
    draws the masks the net draws next.
    """
    key, pos = generator.get_state()
    state = torch.get_rng_state().numpy().copy()  # the layout, 5056 bytes
    head = np.array([generator.initial_seed % 2**64], dtype=np.uint64).view(np.uint8)
    state[0:8] = head
    state[8:16] = np.array([625 - pos, 1], dtype=np.int32).view(np.uint8)
    state[16:24] = np.array([pos], dtype=np.uint64).view(np.uint8)
    state[24:24 + 624 * 8] = key.astype(np.uint64).view(np.uint8)
    state[24 + 624 * 8 + 24:24 + 624 * 8 + 28] = 0  # normal_is_valid
    state[-4:] = 0  # is_next_float_normal_sample_valid (and padding)
    return torch.from_numpy(state)


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


def norms(model):
    """The ``nn.BatchNorm1d`` / ``nn.LayerNorm`` modules of a Sequential, in order: the one of layer j at j - 1."""
    return [m for m in model if type(m) in NORM_NAMES]


def parameters(model):
    """model's parameter tensors grouped as ``net.params``: ``[(weight, bias)]`` of the Linears (θ^j), then
    ``[(norm.weight,)]`` (γ^j), then ``[(norm.bias,)]`` (β^j)."""
    return ([(m.weight, m.bias) for m in linears(model)] + [(m.weight,) for m in norms(model)]
            + [(m.bias,) for m in norms(model)])


def linears_and_activations(model):
    """``(linears, names)`` of ``nn.Sequential(Linear, act, Linear, act, ...)``, checked for scratchnn.

    ``linears[j]`` is the Linear holding θ^j (``bias = θ^j[:, 0]``, ``weight = θ^j[:, 1:]``) and
    ``names[j]`` the scratchnn name of the activation after it, g_{j+1} (``activations[j]`` of an
    ``MLP``); a Linear with no activation module after it counts as ``"identity"``.
    Raises TypeError for a model that is not a Sequential and ValueError for one scratchnn
    cannot hold: an unknown activation, a LeakyReLU slope other than ``LEAKY_SLOPE``, Linear
    sizes that do not chain, a Linear without a bias, a norm or dropout scratchnn cannot hold
    (see :func:`layout`).
    """
    lin, acts, _, _ = layout(model)
    return lin, acts


def layout(model):
    """``(linears, names, norm, p)`` of ``nn.Sequential(Linear, [Norm], act, [Dropout], …)``, checked for scratchnn.

    ``linears`` and ``names`` as :func:`linears_and_activations`; ``norm`` is None, "batch" or
    "layer" and ``p`` the dropout probability (0 without). scratchnn holds the same norm
    (torch's defaults: eps 1e-5, momentum 0.1, affine, running statistics) on every hidden layer
    and none on the output, and the same ``nn.Dropout(p)`` after every hidden activation.
    """
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"model: expected an nn.Sequential of Linear and activation modules, got {type(model).__name__}")
    mods = list(model)
    lin, acts, norm_of, p_of = [], [], [], []  # per Linear: the norm module (or None), the dropout p (or 0)
    k = 0
    while k < len(mods):
        if not isinstance(mods[k], nn.Linear):
            raise ValueError(f"model: expected nn.Linear at position {k}, got {type(mods[k]).__name__}")
        lin.append(mods[k])
        k += 1
        norm_of.append(mods[k] if k < len(mods) and type(mods[k]) in NORM_NAMES else None)
        k += norm_of[-1] is not None
        nxt = mods[k] if k < len(mods) else None
        if nxt is not None and not isinstance(nxt, (nn.Linear, nn.Dropout)):
            if type(nxt) not in NAMES:
                raise ValueError(f"model: unsupported activation {type(nxt).__name__} at position {k}; expected one of {sorted(c.__name__ for c in NAMES)}")
            if isinstance(nxt, nn.LeakyReLU) and nxt.negative_slope != sn.activations.LEAKY_SLOPE:
                raise ValueError(f"model: LeakyReLU at position {k} has slope {nxt.negative_slope}; scratchnn uses {sn.activations.LEAKY_SLOPE}")
            acts.append(NAMES[type(nxt)])
            k += 1
        else:
            acts.append("identity")
        is_dropout = k < len(mods) and type(mods[k]) is nn.Dropout
        p_of.append(float(mods[k].p) if is_dropout else 0.0)
        k += is_dropout
    if not lin:
        raise ValueError("model: expected at least one nn.Linear")
    for a, b in zip(lin, lin[1:]):
        if a.out_features != b.in_features:
            raise ValueError(f"model: Linear sizes do not chain ({a.out_features} -> {b.in_features})")
    if any(m.bias is None for m in lin):
        raise ValueError("model: every nn.Linear needs a bias (scratchnn keeps it in column 0 of theta)")
    return lin, acts, _check_norms(norm_of, lin), _check_dropouts(p_of)


def _check_norms(norm_of, lin):
    """The norm's name when every hidden layer has the same torch-default norm and the output none, else None."""
    if all(m is None for m in norm_of):
        return None
    kinds = {type(m) for m in norm_of[:-1]}
    if norm_of[-1] is not None or None in kinds or len(kinds) != 1:
        raise ValueError("model: scratchnn puts one kind of norm (BatchNorm1d or LayerNorm) after the Linear of "
                         "every hidden layer and none on the output layer")
    for j, (m, linear) in enumerate(zip(norm_of[:-1], lin), start=1):
        if isinstance(m, nn.BatchNorm1d):
            ok = (m.num_features == linear.out_features and m.eps == sn.norms.EPS and m.momentum == sn.norms.MOMENTUM
                  and m.affine and m.track_running_stats)
        else:
            ok = (tuple(m.normalized_shape) == (linear.out_features,) and m.eps == sn.norms.EPS
                  and m.elementwise_affine and m.bias is not None)
        if not ok:
            raise ValueError(f"model: the norm of layer {j} is not torch's default {type(m).__name__}"
                             f"({linear.out_features}) (eps {sn.norms.EPS}, momentum {sn.norms.MOMENTUM}, affine, "
                             f"with running statistics), which scratchnn holds")
    return NORM_NAMES[kinds.pop()]


def _check_dropouts(p_of):
    """The dropout p when every hidden layer has the same one and the output none (0 without dropout)."""
    if all(p == 0 for p in p_of):
        return 0.0
    if p_of[-1] != 0 or len(set(p_of[:-1])) != 1:
        raise ValueError(f"model: scratchnn puts the same nn.Dropout(p) after every hidden activation and none on "
                         f"the output layer; got p = {p_of} per layer")
    return float(p_of[0])


def from_torch(model, criterion="mse"):
    """A scratchnn ``MLP`` with the same units, activations, norm, dropout, dtype, parameters (γ, β and running
    statistics included) and mode as ``model``, and ``criterion``. (torch's global generator stays torch's: the
    net draws its dropout masks from its own, seed 0.)"""
    lin, acts, norm, p = layout(model)
    dtype = {torch.float32: np.float32, torch.float64: np.float64}.get(lin[0].weight.dtype)
    if dtype is None:
        raise TypeError(f"model: expected float32 or float64 parameters, got {lin[0].weight.dtype}")
    net = sn.MLP([lin[0].in_features] + [m.out_features for m in lin], activations=acts, dtype=dtype,
                 criterion=criterion, theta=[t.astype(dtype, copy=False) for t in theta_of(model)], norm=norm,
                 dropout=p)
    copy_theta_from_torch(net, model)
    return net.train(model.training)


def copy_theta_from_torch(net, model):
    """Overwrite net's parameters (in place) with model's: θ^j, and γ^j, β^j and batch norm's running statistics."""
    for theta, m in zip(net.theta, linears(model)):
        theta[:, 0] = m.bias.detach().numpy()
        theta[:, 1:] = m.weight.detach().numpy()
    for j, m in enumerate(norms(model)):
        net.gamma[j][...] = m.weight.detach().numpy()
        net.beta[j][...] = m.bias.detach().numpy()
        if net.running_mean:
            net.running_mean[j][...] = m.running_mean.numpy()
            net.running_var[j][...] = m.running_var.numpy()


def theta_of(model):
    """model's parameters as theta^j matrices (copies)."""
    return [np.concatenate([m.bias.detach().numpy()[:, None], m.weight.detach().numpy()], axis=1) for m in linears(model)]


def params_of(model):
    """model's parameters laid out as ``net.params`` (copies): θ^j, then γ^j, then β^j."""
    return [_join(*group) for group in parameters(model)]


def _split(a):
    """theta-shaped state -> (weight, bias) tensors; a γ- or β-shaped one -> (tensor,)."""
    if a.ndim == 1:
        return (torch.from_numpy(a.copy()),)
    return torch.from_numpy(a[:, 1:].copy()), torch.from_numpy(a[:, 0].copy())


def _join(*tensors):
    """(weight, bias) -> theta-shaped; (tensor,) -> its array."""
    if len(tensors) == 1:
        return tensors[0].detach().numpy().copy()
    weight, bias = tensors
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
    """A ``torch.optim`` optimizer over ``model`` with opt's settings and state (opt over ``net.params``)."""
    groups = parameters(model)
    params = [p for group in groups for p in group]
    topt = _torch_optimizer(opt, params)
    if opt.t > 0:
        for j, group in enumerate(groups):
            for k, p in enumerate(group):
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
    for j, group in enumerate(parameters(model)):
        states = [topt.state.get(p, {}) for p in group]
        if "step" in states[0]:
            steps.add(int(states[0]["step"]))
        for name, arrays in opt.state_arrays().items():
            if states[0].get(STATE_KEYS[name]) is not None:
                arrays[j][...] = _join(*(st[STATE_KEYS[name]] for st in states))
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
