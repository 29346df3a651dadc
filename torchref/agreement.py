"""How closely scratchnn agrees with torch: the measurements the test suite bounds.

Every function returns errors measured as ``max|scratch - torch| / max|torch|``
per array (the largest over the arrays compared): scale-relative, because an
entry that is a sum cancelling to ~0 has no meaningful relative error of its own.

``python -m torchref.agreement`` runs random trials and prints the worst error of
each comparison, float32 and float64.
"""

import argparse

import numpy as np
import torch

import scratchnn as sn

from .bridge import linears, optimizer_to_torch, theta_of, to_torch


def rel_err(a, b):
    """max|a - b| / max|b| (the scale-relative error of a against reference b)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = np.max(np.abs(b)) if b.size else 0.0
    diff = float(np.max(np.abs(a - b), initial=0.0))
    return diff / scale if scale > 0 else diff


def torch_loss_and_grad(model, X, Y):
    """torch's loss and dL/dtheta^j (bias column first) for ``model`` on (X, Y)."""
    for p in model.parameters():
        p.grad = None
    out = model(torch.from_numpy(X))
    loss = torch.nn.MSELoss()(out, torch.from_numpy(Y))
    loss.backward()
    D = [torch.cat([m.bias.grad[:, None], m.weight.grad], dim=1).numpy() for m in linears(model)]
    return out.detach().numpy(), loss.item(), D


def forward_loss_grad_errors(net, X, Y):
    """Errors of a^L, L and every D^j of ``net`` against torch autograd on a copy of it."""
    out_t, loss_t, D_t = torch_loss_and_grad(to_torch(net), X, Y)
    loss, D = net.loss_and_grad(X, Y)
    return {
        "forward": rel_err(net.forward(X), out_t),
        "loss": rel_err(loss, loss_t),
        "grad": max(rel_err(d, t) for d, t in zip(D, D_t)),
    }


def make_optimizer(kind, theta, **settings):
    """``sn.Adam`` or ``sn.SGD`` over theta."""
    return {"adam": sn.Adam, "sgd": sn.SGD}[kind](theta, **settings)


def _torch_state(topt, model, net, opt):
    """torch's optimizer state, laid out like scratchnn's (name -> list of theta-shaped arrays)."""
    names = {"m": "exp_avg", "v": "exp_avg_sq", "v_max": "max_exp_avg_sq", "b": "momentum_buffer"}
    out = {}
    for name, arrays in opt.state_arrays().items():
        key = names[name]
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
}


def random_case(rng, dtype, max_width=8, max_depth=4, max_n=60):
    """A random net (units, activations, seed) and standard-normal data for it."""
    L = int(rng.integers(1, max_depth + 1))
    units = [int(u) for u in rng.integers(1, max_width + 1, size=L + 1)]
    names = sorted(sn.ACTIVATIONS)
    acts = [names[k] for k in rng.integers(0, len(names), size=L)]
    net = sn.MLP(units, activations=acts, dtype=dtype, generator=int(rng.integers(0, 2**31)))
    n = int(rng.integers(1, max_n + 1))
    X = rng.standard_normal((n, units[0])).astype(dtype)
    Y = rng.standard_normal((n, units[-1])).astype(dtype)
    return net, X, Y


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
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m torchref.agreement", description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    worst = report(args.trials, args.seed)
    whats = sorted({w for _, w in worst})
    print(f"{'comparison':<45} {'float32':>10} {'float64':>10}")
    for w in whats:
        print(f"{w:<45} {worst.get(('float32', w), float('nan')):>10.2e} {worst.get(('float64', w), float('nan')):>10.2e}")


if __name__ == "__main__":
    main()
