"""The ``scratchnn`` command: ``workshop``, ``fit``, ``sweep`` and ``check``.

    scratchnn workshop [--out DIR]          the notebook, scratchnn beside torch, table + figures
    scratchnn fit [flags]                   one fit of the workshop data from flags
    scratchnn sweep [flags] --jobs N        a grid over seeds, learning rates, optimizers, models
    scratchnn check FILE.py [--only NAME]   the exercise functions in FILE against torch, mistakes named

Long fits show a progress bar; Ctrl-C stops them and writes what was trained
(exit status 130); a diverging fit ends with a one-line message (status 1);
bad flags exit with status 2. ``check`` exits with 0 when every function it
finds is right, 1 when one is wrong, 2 when FILE cannot be imported or defines
none of the exercise functions.
"""

import argparse
import os
import sys
import time

import numpy as np

from . import workshop as ws
from .activations import ACTIVATIONS
from .exercises import NAMES as EXERCISE_NAMES

EXIT_DIVERGED = 1
EXIT_INTERRUPTED = 130  # the shell's convention for a run ended by SIGINT


# -------------------------------------------------------------- flag types
def _units(text):
    try:
        units = [int(u) for u in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated widths like 1,5,5,1, got {text!r}") from None
    if len(units) < 2 or min(units) < 1:
        raise argparse.ArgumentTypeError(f"expected at least two widths, each >= 1, got {text!r}")
    return units


def _number(kind, low, strict):
    """An argparse type: a finite ``kind`` (int or float) above ``low`` (``strict``) or at least ``low``."""
    expected = f"expected {'an int' if kind is int else 'a number'} {'>' if strict else '>='} {low}"

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{expected}, got {text!r}") from None
        if not np.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"{expected}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, 0, strict=True)
_positive_float = _number(float, 0, strict=True)
_nonnegative_float = _number(float, 0, strict=False)
_seed = _number(int, 0, strict=False)


def _list_of(parse):
    def parse_list(text):
        return [parse(t) for t in text.split(",") if t.strip()] or parse("")

    return parse_list


def _optimizers(text):
    names = [t.strip() for t in text.split(",")]
    bad = [n for n in names if n not in ("adam", "sgd")]
    if bad:
        raise argparse.ArgumentTypeError(f"expected adam and/or sgd, got {','.join(bad)!r}")
    return names


def _add_engine(p):
    p.add_argument("--engine", choices=("auto", "numpy", "numba"), default="auto",
                   help="scratchnn engine; auto = numba when scratchnn.fast works, else numpy (default)")


def _add_progress(p):
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown on a terminal)")


def _add_fit_flags(p, units_help):
    """The flags ``fit`` and ``sweep`` share: models, activation, momentum, epochs, dtype, engine, progress."""
    p.add_argument("--units", type=_units, action="append", help=units_help)
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="tanh")
    p.add_argument("--momentum", type=_nonnegative_float, default=0.0, help="SGD momentum (default 0)")
    p.add_argument("--epochs", type=_positive_int, default=ws.WORKSHOP_EPOCHS)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    _add_engine(p)
    _add_progress(p)


def build_parser():
    parser = argparse.ArgumentParser(prog="scratchnn", description="The workshop's MLP from scratch, checked against torch.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{workshop,fit,sweep,check}")

    p = sub.add_parser("workshop", help="reproduce the workshop notebook: three models, scratchnn beside torch",
                       description="Train the notebook's three models (1-5-1, 1-10-1, 1-5-5-1; Adam lr 0.015, "
                                   "1000 epochs) with scratchnn and torch; print a table, write figures.")
    p.add_argument("--out", default="workshop-out", help="folder for the figures (default: workshop-out)")
    p.add_argument("--epochs", type=_positive_int, default=ws.WORKSHOP_EPOCHS)
    p.add_argument("--no-torch", action="store_true", help="train with scratchnn only, even if torch is installed")
    _add_engine(p)
    _add_progress(p)
    p.set_defaults(run=cmd_workshop, parser=p)

    p = sub.add_parser("fit", help="one fit of the workshop data from flags",
                       description="Fit the workshop data. Without --units the notebook's three models are "
                                   "built one after the other from one generator, as the notebook does.")
    _add_fit_flags(p, "layer widths u^0,...,u^L, e.g. 1,5,5,1; repeat for several models "
                      "(default: 1,5,1 and 1,10,1 and 1,5,5,1)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--lr", type=_positive_float, default=ws.WORKSHOP_LR)
    p.add_argument("--batch-size", type=_positive_int, default=None, help="minibatch size (default: full batch)")
    p.add_argument("--seed", type=_seed, default=ws.WORKSHOP_SEED,
                   help="torch.manual_seed / np.random.seed of the notebook: initial theta, test points, batch order")
    p.add_argument("--compare-torch", action="store_true", help="train a torch copy side by side")
    p.add_argument("--save", metavar="MODEL.npz", help="write the trained model (several models: one file each)")
    p.add_argument("--out", help="folder for the loss and prediction figures and the loss history")
    p.set_defaults(run=cmd_fit, parser=p)

    p = sub.add_parser("sweep", help="a grid over seeds, learning rates, optimizers and models, in parallel",
                       description="Train every combination, one worker process per cell; write a summary "
                                   "table (final loss: median and spread over seeds) and a grid of loss curves.")
    _add_fit_flags(p, "a model, e.g. 1,5,5,1; repeat for several (default: the three workshop models)")
    p.add_argument("--seeds", type=_list_of(_seed), default=[0, 1, 2, 3, 10], help="comma-separated (default 0,1,2,3,10)")
    p.add_argument("--lrs", type=_list_of(_positive_float), default=[0.005, 0.015, 0.05],
                   help="comma-separated learning rates (default 0.005,0.015,0.05)")
    p.add_argument("--optimizers", type=_optimizers, default=["adam"], help="adam,sgd (default adam)")
    p.add_argument("--jobs", type=_positive_int, default=2, help="worker processes (default 2)")
    p.add_argument("--out", default="sweep-out", help="folder for the table and figure (default: sweep-out)")
    p.set_defaults(run=cmd_sweep, parser=p)

    p = sub.add_parser("check", help="check the exercise functions in a Python file against torch",
                       description="Import FILE, run every exercise function it defines (forward, output_delta, "
                                   "layer_gradient, hidden_delta, backward, numerical_gradient, sgd_momentum_step, "
                                   "adam_step) on small random nets, compare with torch (scratchnn's engine without "
                                   "torch) and name known mistakes. Exit status 0: all right, 1: one is wrong, "
                                   "2: FILE unusable.")
    p.add_argument("file", metavar="FILE.py", help="the Python file with your functions")
    p.add_argument("--only", nargs="+", action="extend", choices=EXERCISE_NAMES, metavar="NAME",
                   help=f"check only these functions ({', '.join(EXERCISE_NAMES)})")
    p.set_defaults(run=cmd_check, parser=p)
    return parser


def _engine(parser, args):
    if args.engine == "auto":
        return ws.default_engine()
    if args.engine == "numba" and ws.default_engine() != "numba":
        parser.error("--engine numba: scratchnn.fast is not available here; use --engine numpy")
    return args.engine


def _progress(args):
    return not args.no_progress and sys.stderr.isatty()


# ------------------------------------------------------------------ workshop
def cmd_workshop(parser, args):
    engine = _engine(parser, args)
    start = time.perf_counter()
    results, table, paths = ws.run_workshop(out=args.out, epochs=args.epochs, engine=engine, use_torch=not args.no_torch,
                                     progress=_progress(args))
    print(f"The workshop: y = 3 sin(x/100) cos(x/10), 3000 points, L5-normalised; tanh models built one after "
          f"the other after manual_seed({ws.WORKSHOP_SEED}); Adam lr {ws.WORKSHOP_LR}, {args.epochs} full-batch epochs.")
    print(table)
    if results[0].torch_run is not None:
        print("rel gap = |L_scratch - L_torch| / L_torch at the last epoch (free-running), and its maximum over "
              "epochs when torch's parameters and Adam state are copied into scratchnn after every epoch (lockstep).")
        print("init = torch: scratchnn's initial theta equal, bit for bit, those of the notebook's nn.Sequential "
              "models built after torch.manual_seed.")
    else:
        print("torch: not used (scratchnn only).")
    print(f"figures: {', '.join(os.path.basename(p) for p in paths)} in {args.out}/")
    print(f"wall time: {time.perf_counter() - start:.1f} s")
    return 0


# ----------------------------------------------------------------------- fit
def _model_file(path, label, several):
    if several:
        stem, ext = os.path.splitext(path)
        path = f"{stem}_{label}{ext or '.npz'}"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return path


def cmd_fit(parser, args):
    engine = _engine(parser, args)
    if args.optimizer == "adam" and args.momentum != 0:
        parser.error("--momentum: only SGD has momentum; add --optimizer sgd")
    torchref = None
    if args.compare_torch:
        torchref = ws.load_torchref()
        if torchref is None:
            parser.error("--compare-torch: torch is not installed (pip install scratchnn[torch])")
    dtype = np.dtype(args.dtype)
    units_list = args.units or [list(u) for u in ws.WORKSHOP_UNITS]
    X, Y = ws.data(dtype)
    X_test = ws.test_points(X, seed=args.seed)
    nets = ws.build_models(units_list, seed=args.seed, activation=args.activation, dtype=dtype)
    progress = _progress(args)
    print(f"fit: {args.optimizer} lr {args.lr}{f' momentum {args.momentum}' if args.momentum else ''}, "
          f"{args.epochs} epochs, {'full batch' if args.batch_size is None else f'batches of {args.batch_size}'}, "
          f"seed {args.seed}, {args.dtype}, {args.activation}, engine {engine}")
    curves, preds, gaps, saved = {}, {}, {}, {}
    status = 0
    for net in nets:
        label = ws.units_label(net.units)
        opt = ws.make_optimizer(args.optimizer, net.theta, args.lr, args.momentum)
        torch_pair = None
        if torchref is not None:
            model = torchref.to_torch(net)  # before training: the same initial theta
            torch_pair = (model, torchref.optimizer_to_torch(opt, model))
        run = ws.train_scratch(net, X, Y, opt, args.epochs, args.batch_size, args.seed, engine=engine,
                               progress=progress)
        h = run.history
        curves[f"{label} scratch"] = h.loss
        line = f"{label:>10}  {net.n_parameters:4d} parameters  "
        if h.epochs:
            line += (f"loss {h.loss[0]:.4e} -> {h.loss[-1]:.4e} (min {h.loss.min():.4e} at epoch {h.loss.argmin()})  "
                     f"{ws.per_epoch_ms(h):.3f} ms/epoch  {run.message}")
        else:
            line += run.message
        print(line)
        if run.status != "diverged":
            preds[f"{label} scratch"] = net.forward(X_test)
            if args.save:
                saved[label] = _model_file(args.save, label, len(nets) > 1)
                net.save(saved[label])
        elif args.save:
            print(f"{'':>10}  model {label} not saved: its parameters are no longer finite")
        if torch_pair is not None and run.status == "done":
            model, topt = torch_pair
            import torch

            with ws.torch_threads(torch, 1):
                trun = ws.train_torch(torchref, model, topt, X, Y, args.epochs, args.batch_size, args.seed,
                                      desc=f"{label} torch", progress=progress)
            th = trun.history
            curves[f"{label} torch"] = th.loss
            gap = ws.relative_gap(h.loss, th.loss)
            gaps[label] = {"free-running": gap}
            if trun.status != "diverged":
                with torch.no_grad():
                    preds[f"{label} torch"] = model(torch.from_numpy(X_test)).numpy()
            print(f"{'':>10}  torch: loss {th.loss[-1]:.4e}, relative gap to scratch {gap[-1]:.2e} at the last "
                  f"epoch (max {gap.max():.2e})  {ws.per_epoch_ms(th):.3f} ms/epoch  {trun.message}")
            run = trun if trun.status != "done" else run
        if run.status == "interrupted":
            status = EXIT_INTERRUPTED
            break
        if run.status == "diverged":
            status = EXIT_DIVERGED
            print(f"scratchnn fit: {label} {run.message}", file=sys.stderr)
    if args.out:
        _write_fit_outputs(args.out, curves, preds, gaps, X, Y, X_test, args)
    for label, path in saved.items():
        print(f"model {label} written to {path}")
    if status == EXIT_INTERRUPTED:
        print("scratchnn fit: interrupted; the history and models trained so far are written", file=sys.stderr)
    return status


def _write_fit_outputs(out, curves, preds, gaps, X, Y, X_test, args):
    from . import plots

    os.makedirs(out, exist_ok=True)
    np.savez(os.path.join(out, "history.npz"), **{k.replace(" ", "_"): v for k, v in curves.items()})
    title = f"{args.optimizer} lr {args.lr}, seed {args.seed}"
    plots.save(plots.loss_figure(curves, title=title), os.path.join(out, "losses.png"))
    if preds:
        plots.save(plots.predictions_figure(X, Y, X_test, preds), os.path.join(out, "predictions.png"))
    if gaps:
        plots.save(plots.gap_figure(gaps), os.path.join(out, "gap.png"))
    print(f"history and figures written to {out}/")


# --------------------------------------------------------------------- sweep
def sweep_cell(units, activation, optimizer, lr, momentum, seed, epochs, dtype, engine):
    """Train one cell of the sweep; returns ``(losses, status)`` (runs in a worker process)."""
    X, Y = ws.data(dtype)
    net = ws.build_models([units], seed=seed, activation=activation, dtype=dtype)[0]
    opt = ws.make_optimizer(optimizer, net.theta, lr, momentum)
    run = ws.train_scratch(net, X, Y, opt, epochs, engine=engine, progress=False)
    return run.history.loss, run.status


def cmd_sweep(parser, args):
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    from . import plots

    engine = _engine(parser, args)
    units_list = args.units or [list(u) for u in ws.WORKSHOP_UNITS]
    cells = [(tuple(u), o, lr, s) for u in units_list for o in args.optimizers for lr in args.lrs for s in args.seeds]
    print(f"sweep: {len(cells)} fits ({len(units_list)} models x {len(args.optimizers)} optimizers x "
          f"{len(args.lrs)} learning rates x {len(args.seeds)} seeds), {args.epochs} epochs each, "
          f"{args.jobs} worker processes, engine {engine}; each model drawn alone from TorchGenerator(seed)")
    results = {}
    start = time.perf_counter()
    interrupted = False
    jobs = (delayed(sweep_cell)(list(u), args.activation, o, lr, args.momentum, s, args.epochs, args.dtype, engine)
            for u, o, lr, s in cells)
    try:
        stream = Parallel(n_jobs=args.jobs, return_as="generator")(jobs)
        for cell, result in zip(cells, tqdm(stream, total=len(cells), unit="fit", disable=not _progress(args))):
            results[cell] = result
    except KeyboardInterrupt:
        interrupted = True
    os.makedirs(args.out, exist_ok=True)
    table = _sweep_table(results, units_list, args)
    with open(os.path.join(args.out, "summary.txt"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(args.out, "sweep.csv"), "w") as f:
        f.write("units,optimizer,lr,seed,epochs_trained,status,final_loss\n")
        for (u, o, lr, s), (loss, status) in results.items():
            final = loss[-1] if len(loss) else float("nan")
            f.write(f"{ws.units_label(u)},{o},{lr},{s},{len(loss)},{status},{final:.8e}\n")
    rows = [ws.units_label(u) for u in units_list]
    cols = [f"{o} lr {lr}" for o in args.optimizers for lr in args.lrs]
    curves = {}
    for (u, o, lr, s), (loss, _) in results.items():
        curves.setdefault((ws.units_label(u), f"{o} lr {lr}"), {})[str(s)] = loss
    plots.save(plots.sweep_figure(curves, rows, cols), os.path.join(args.out, "sweep.png"))
    print(table)
    print(f"{len(results)} of {len(cells)} fits in {time.perf_counter() - start:.1f} s; "
          f"summary.txt, sweep.csv and sweep.png written to {args.out}/")
    if interrupted:
        print("scratchnn sweep: interrupted; the fits finished so far are written", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _sweep_table(results, units_list, args):
    rows = [["model", "optimizer", "lr", "fits", "diverged", "median final loss", "min", "max"]]
    for u in units_list:
        for o in args.optimizers:
            for lr in args.lrs:
                runs = [results[c] for c in ((tuple(u), o, lr, s) for s in args.seeds) if c in results]
                finals = [loss[-1] for loss, status in runs if status == "done"]
                diverged = sum(status == "diverged" for _, status in runs)
                stats = [f"{np.median(finals):.3e}", f"{min(finals):.3e}", f"{max(finals):.3e}"] if finals else ["-"] * 3
                rows.append([ws.units_label(u), o, f"{lr:g}", str(len(runs)), str(diverged)] + stats)
    return ws.format_table(rows)


# --------------------------------------------------------------------- check
def cmd_check(parser, args):
    from .exercises import run_file

    return run_file(args.file, only=args.only)


def main(argv=None):
    """Run the command in ``argv`` (default: sys.argv[1:]); returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args.parser, args)


if __name__ == "__main__":
    sys.exit(main())
