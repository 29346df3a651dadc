"""How closely scratchnn agrees with torch: the measurements the test suite bounds.

Every function returns errors measured as ``max|scratch - torch| / max|torch|``
per array (the largest over the arrays compared): scale-relative, because an
entry that is a sum cancelling to ~0 has no meaningful relative error of its own.

``python -m torchref.agreement`` runs random trials and prints the worst error of
each comparison, float32 and float64 (nets with batch norm, layer norm and dropout included:
``norm_step_errors``).
"""

import argparse

import numpy as np
import torch

import scratchnn as sn

from .bridge import (STATE_KEYS, l2_term, linears, loss_function, optimizer_to_torch, parameters, params_of, theta_of,
                     to_torch, torch_rng_state, torch_targets)
from .compare import compare


def rel_err(a, b):
    """max|a - b| / max|b| (the scale-relative error of a against reference b)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = np.max(np.abs(b)) if b.size else 0.0
    diff = float(np.max(np.abs(a - b), initial=0.0))
    return diff / scale if scale > 0 else diff


def torch_loss_and_grad(model, X, Y, criterion="mse", l2=0.0):
    """torch's loss and dL/dtheta^j (bias column first) for ``model`` on (X, Y).

    ``criterion`` is scratchnn's name for torch's loss module (see ``bridge.LOSSES``);
    ``l2=λ`` adds λ/(2n) Σ_j ‖weight_j‖², as scratchnn's ``loss_and_grad(X, Y, l2)``.
    """
    for p in model.parameters():
        p.grad = None
    out = model(torch.from_numpy(X))
    loss = loss_function(criterion)(out, torch_targets(Y))
    if l2:
        loss = loss + l2_term(model, l2, X.shape[0])
    loss.backward()
    D = [torch.cat([m.bias.grad[:, None], m.weight.grad], dim=1).numpy() for m in linears(model)]
    return out.detach().numpy(), loss.item(), D


def forward_loss_grad_errors(net, X, Y, l2=0.0):
    """Errors of a^L, L and every D^j of ``net`` (its criterion, and the L2 term with ``l2``) against torch autograd."""
    out_t, loss_t, D_t = torch_loss_and_grad(to_torch(net), X, Y, net.criterion, l2)
    loss, D = net.loss_and_grad(X, Y, l2=l2)
    return {
        "forward": rel_err(net.forward(X), out_t),
        "loss": rel_err(loss, loss_t),
        "grad": max(rel_err(d, t) for d, t in zip(D, D_t)),
    }


OPTIMIZERS = {"adam": sn.Adam, "sgd": sn.SGD, "adamw": sn.AdamW, "rmsprop": sn.RMSprop, "adagrad": sn.Adagrad}


def make_optimizer(kind, theta, **settings):
    """The scratchnn optimizer named ``kind`` (a key of ``OPTIMIZERS``) over theta."""
    return OPTIMIZERS[kind](theta, **settings)


def _torch_state(topt, model, net, opt):
    """torch's optimizer state, laid out like scratchnn's (name -> list of theta-shaped arrays)."""
    out = {}
    for name, arrays in opt.state_arrays().items():
        key = STATE_KEYS[name]
        if key not in topt.state.get(linears(model)[0].weight, {}):
            continue
        out[name] = [
            np.concatenate([topt.state[m.bias][key].numpy()[:, None], topt.state[m.weight][key].numpy()], axis=1)
            for m in linears(model)
        ]
    return out


def optimizer_errors(net, X, Y, kind, steps, same_gradients=True, **settings):
    """Errors of theta and optimizer state after ``steps`` steps, scratch against torch.optim.

    With ``same_gradients`` both optimizers are fed torch's gradients, which isolates
    the update formulas; otherwise each engine uses its own backward pass (a
    tiny training run).
    """
    model = to_torch(net)
    opt = make_optimizer(kind, net.theta, **settings)
    topt = optimizer_to_torch(opt, model)
    for _ in range(steps):
        _, _, D_t = torch_loss_and_grad(model, X, Y)
        D = [d.copy() for d in D_t] if same_gradients else net.loss_and_grad(X, Y)[1]
        topt.step()
        opt.step(D)
    errors = {"theta": max(rel_err(a, b) for a, b in zip(net.theta, theta_of(model)))}
    for name, arrays in _torch_state(topt, model, net, opt).items():
        errors[name] = max(rel_err(a, b) for a, b in zip(opt.state_arrays()[name], arrays))
    return errors


OPTIMIZER_CASES = {
    "adam": {"lr": 0.01},
    "adam weight_decay": {"lr": 0.01, "weight_decay": 0.1},
    "adam amsgrad": {"lr": 0.01, "amsgrad": True, "betas": (0.8, 0.99)},
    "sgd": {"lr": 0.05},
    "sgd momentum dampening": {"lr": 0.05, "momentum": 0.9, "dampening": 0.3},
    "sgd nesterov weight_decay": {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    "adamw": {"lr": 0.01, "weight_decay": 0.1},
    "rmsprop centered momentum": {"lr": 0.01, "momentum": 0.9, "centered": True},
    "adagrad lr_decay weight_decay": {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.01},
}


def random_case(rng, dtype, max_width=8, max_depth=4, max_n=60, criterion="mse", targets="indices"):
    """A random net (units, activations, seed) with ``criterion`` and standard-normal inputs and targets it takes.

    ``"bce"``: a sigmoid output, targets uniform in [0, 1]. ``"cross_entropy"``: an identity
    output of at least 2 units, targets class indices (``targets="indices"``) or
    probabilities drawn from a flat Dirichlet (``"probabilities"``). ``"mse"``: standard-normal targets.
    """
    L = int(rng.integers(1, max_depth + 1))
    units = [int(u) for u in rng.integers(1, max_width + 1, size=L + 1)]
    names = sorted(sn.ACTIVATIONS)
    acts = [names[k] for k in rng.integers(0, len(names), size=L)]
    if criterion == "bce":
        acts[-1] = "sigmoid"
    elif criterion == "cross_entropy":
        acts[-1] = "identity"
        units[-1] = max(units[-1], 2)
    net = sn.MLP(units, activations=acts, dtype=dtype, generator=int(rng.integers(0, 2**31)), criterion=criterion)
    n = int(rng.integers(1, max_n + 1))
    X = rng.standard_normal((n, units[0])).astype(dtype)
    Y = rng.standard_normal((n, units[-1])).astype(dtype)
    if criterion == "bce":
        Y = rng.uniform(0, 1, (n, units[-1])).astype(dtype)
    elif criterion == "cross_entropy" and targets == "indices":
        Y = rng.integers(0, units[-1], n)
    elif criterion == "cross_entropy":
        Y = rng.dirichlet(np.ones(units[-1]), n).astype(dtype)
    return net, X, Y


CRITERION_CASES = {  # label -> (criterion, targets) of random_case
    "mse": ("mse", None),
    "bce": ("bce", None),
    "cross_entropy (indices)": ("cross_entropy", "indices"),
    "cross_entropy (probabilities)": ("cross_entropy", "probabilities"),
}
KINKS = {"relu", "leaky_relu"}  # central differences across a kink are wrong by design: no gradcheck there


NORM_SHAPES = [("batch", 0.0), ("batch", 0.2), ("layer", 0.0), ("layer", 0.5), (None, 0.3)]  # (norm, p)


def norm_case(rng, dtype, norm, p, n=32):
    """A random mse net with ``norm`` and dropout ``p`` that is not degenerate: u^0 >= 2 (batch norm fed by one
    feature moves only through ε), hidden widths >= 4 (layer norm of two units is ±1 whatever z)."""
    L = int(rng.integers(2, 4))
    units = [int(rng.integers(2, 5))] + [int(u) for u in rng.integers(4, 8, L - 1)] + [int(rng.integers(1, 4))]
    acts = [str(a) for a in rng.choice(["tanh", "sigmoid", "relu", "leaky_relu"], L - 1)] + ["identity"]
    net = sn.MLP(units, acts, dtype, generator=int(rng.integers(0, 2**31)), norm=norm, dropout=p)
    return net, rng.standard_normal((n, units[0])).astype(dtype), rng.standard_normal((n, units[-1])).astype(dtype)


def norm_step_errors(net, X, Y, steps=5, lr=0.01):
    """Errors of a net with a norm or dropout against its torch twin over ``steps`` Adam steps in training mode
    (loss, every gradient of ``net.params``, running statistics, parameters), then in eval mode (loss, gradients).

    torch's generator is put at the net's position, so both draw the same masks. θ^j's bias column before
    a batch norm is redundant (its gradient is rounding noise, which Adam's slope lr/ε turns into
    steps up to lr): it is left out of the gradient and parameter errors and resynced from torch
    after every step (tests/test_norms.py bounds it by Adam's step).
    """
    saved_threads, saved_state = torch.get_num_threads(), torch.get_rng_state()
    torch.set_num_threads(1)  # BatchNorm1d on tiny batches: thread start-up dominates
    try:
        model = to_torch(net)
        torch.set_rng_state(torch_rng_state(net.generator))
        opt = sn.Adam(net.params, lr=lr)
        topt = torch.optim.Adam(model.parameters(), lr=lr, foreach=False)
        redundant = range(net.L - 1) if net.norm == "batch" else ()
        bns = [m for m in model if isinstance(m, torch.nn.BatchNorm1d)]
        errors = dict.fromkeys(["loss", "grad", "running", "params", "eval loss", "eval grad"], 0.0)

        def both():
            loss, D = net.loss_and_grad(X, Y)
            model.zero_grad()
            tloss = loss_function("mse")(model(torch.from_numpy(X)), torch.from_numpy(Y))
            tloss.backward()
            tD = [torch.cat([g[1].grad[:, None], g[0].grad], dim=1).numpy() if len(g) == 2 else g[0].grad.numpy()
                  for g in parameters(model)]
            return rel_err(loss, tloss.item()), D, tD

        for _ in range(steps):
            err, D, tD = both()
            errors["loss"] = max(errors["loss"], err)
            errors["grad"] = max([errors["grad"]] + [rel_err(d[:, 1:], t[:, 1:]) if j in redundant else rel_err(d, t)
                                                     for j, (d, t) in enumerate(zip(D, tD))])
            for j, m in enumerate(bns):
                errors["running"] = max(errors["running"], rel_err(net.running_mean[j], m.running_mean.numpy()),
                                        rel_err(net.running_var[j], m.running_var.numpy()))
            opt.step(D)
            topt.step()
            tparams = params_of(model)
            for j in redundant:
                net.theta[j][:, 0] = tparams[j][:, 0]
            errors["params"] = max([errors["params"]] + [rel_err(a, b) for a, b in zip(net.params, tparams)])
        net.eval()
        model.eval()
        err, D, tD = both()
        errors["eval loss"], errors["eval grad"] = err, max(rel_err(d, t) for d, t in zip(D, tD))
        if not bns:
            del errors["running"]
        return errors
    finally:
        torch.set_num_threads(saved_threads)
        torch.set_rng_state(saved_state)


def lockstep_gap(net, X, Y, epochs=20, l2=0.0):
    """max over epochs of |L_scratch - L_torch| / |L_torch| in a full-batch Adam fit, resynced every epoch."""
    c = compare(net, X, Y, sn.Adam(net.theta, lr=0.01), epochs=epochs, resync_every=1, l2=l2)
    return float(c.rel_gap.max())


def ex4_case(dtype, n=30, seed=0):
    """The issue's case: a 2-4-3 tanh/identity net, cross_entropy, standard-normal X and class indices."""
    rng = np.random.default_rng(seed)
    net = sn.MLP([2, 4, 3], ["tanh", "identity"], dtype=dtype, generator=seed, criterion="cross_entropy")
    return net, rng.standard_normal((n, 2)).astype(dtype), rng.integers(0, 3, n)


def report(trials=200, seed=0):
    """The worst error of each comparison over random trials, per dtype: {(dtype, what): error}."""
    rng = np.random.default_rng(seed)
    worst = {}

    def keep(dtype, what, err):
        key = (np.dtype(dtype).name, what)
        worst[key] = max(worst.get(key, 0.0), err)

    for t in range(trials):
        for dtype in (np.float32, np.float64):
            net, X, Y = random_case(rng, dtype)
            for what, err in forward_loss_grad_errors(net, X, Y).items():
                keep(dtype, what, err)
            if t % 10 == 0:
                for case, settings in OPTIMIZER_CASES.items():
                    kind = case.split()[0]
                    for steps in (1, 25):
                        errs = optimizer_errors(net.copy(), X, Y, kind, steps, **settings)
                        keep(dtype, f"{case}, {steps} steps: theta", errs["theta"])
    # the criteria and L2, from a stream of their own (the comparisons above keep their draws)
    rng = np.random.default_rng([seed, 1])
    for dtype in (np.float32, np.float64):
        net, X, Y = ex4_case(dtype)
        for what, err in forward_loss_grad_errors(net, X, Y).items():
            keep(dtype, f"2-4-3 tanh/identity cross_entropy: {what}", err)
    for t in range(trials):
        for dtype in (np.float32, np.float64):
            for label, (criterion, targets) in CRITERION_CASES.items():
                net, X, Y = random_case(rng, dtype, criterion=criterion, targets=targets)
                if criterion != "mse":
                    for what, err in forward_loss_grad_errors(net, X, Y).items():
                        keep(dtype, f"{label}: {what}", err)
                l2 = float(rng.uniform(0.01, 2.0))
                errs = forward_loss_grad_errors(net, X, Y, l2=l2)
                keep(dtype, f"{label} + l2: loss", errs["loss"])
                keep(dtype, f"{label} + l2: grad", errs["grad"])
                if t % 10 == 0:
                    keep(dtype, f"{label}: 20 epochs in lockstep, loss", lockstep_gap(net.copy(), X, Y))
                    keep(dtype, f"{label} + l2: 20 epochs in lockstep, loss", lockstep_gap(net.copy(), X, Y, l2=l2))
                    if dtype == np.float64 and not KINKS & set(net.activations):
                        r = sn.gradcheck(net.copy(), X, Y)
                        keep(dtype, f"{label}: gradcheck r^j (not torch)", r.max_rel_error)
    # batch norm, layer norm and dropout, from a stream of their own
    rng = np.random.default_rng([seed, 2])
    for t in range(0, trials, 10):
        for dtype in (np.float32, np.float64):
            for norm, p in NORM_SHAPES:
                label = f"{norm or 'no'} norm, dropout {p}, 5 Adam steps"
                for what, err in norm_step_errors(*norm_case(rng, dtype, norm, p)).items():
                    keep(dtype, f"{label}: {what}", err)
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m torchref.agreement", description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    worst = report(args.trials, args.seed)
    whats = sorted({w for _, w in worst})
    rows = [("comparison", "float32", "float64")]
    for w in whats:
        rows.append((w,) + tuple(f"{worst[(d, w)]:.2e}" if (d, w) in worst else "-" for d in ("float32", "float64")))
    print(sn.table.format_table(rows))


if __name__ == "__main__":
    main()
