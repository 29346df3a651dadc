"""The ``scratchnn`` command: ``workshop``, ``fit``, ``sweep`` and ``check``.

    scratchnn workshop [--out DIR]          the notebook, scratchnn beside torch, table + figures
    scratchnn fit [flags]                   one fit from flags: the workshop data, or a classification
                                            set (--criterion bce|cross_entropy --data circle|...|digits)
    scratchnn sweep [flags] --jobs N        a grid over seeds, learning rates, optimizers, models, resumable;
                                            --backend dask [--scheduler ADDRESS]: on a Dask cluster (needs [dask])
    scratchnn check FILE.py [--only NAME] [--timeout S]
                                            the exercise functions in FILE against torch, mistakes named,
                                            each verdict printed as it comes (each function in a child process)
    scratchnn grade SUBMISSIONS... --out DIR [--jobs N] [--timeout S] [--only NAME]
                                            a class: each .py file or .ipynb notebook checked in its own
                                            process; DIR/grades.csv and DIR/report.html; resumable
    scratchnn play [--port 5006] [--no-browser] [--address A] [--allow-websocket-origin HOST]   the playground: retrain and redraw at every change (needs [play])

Long fits show a progress bar; Ctrl-C stops them and writes what was trained
(exit status 130); a diverging fit ends with a one-line message (status 1);
bad flags exit with status 2. ``check`` exits with 0 when every function it
finds is right, 1 when one is wrong, timed out or crashed, 2 when FILE cannot be
imported or defines none of the exercise functions, 130 on Ctrl-C (the verdicts
so far printed).
``grade`` exits with 0 when the class is graded (wrong answers included), 2 when
a path is not a submission or none is found, 130 on Ctrl-C (rerun it to grade
the rest).
"""

import argparse
import os
import sys
import time

import numpy as np

from .. import datasets
from ..data import workshop_data, workshop_test_points
from ..activations import ACTIVATIONS
from ..losses import CRITERIA, one_hot
from ..metrics import accuracy
from ..norms import NORMS
from ..table import units_label
from ..teaching import plots
from ..teaching.exercises import NAMES as EXERCISE_NAMES
from ..teaching.exercises import TIMEOUT as CHECK_TIMEOUT
from . import grade as grading
from ..teaching.exercises import run_file
from . import play, sweep
from . import workshop as ws
from .run import (COMPILE_NOTE, ENGINE_CHOICES, OPTIMIZERS, SCHEDULE_FIELDS, SCHEDULES, TORCH_EXTRA, WITH_MOMENTUM, Run,
                  Settings, load_torchref, per_epoch_ms, relative_gap, resolve_engine, train)

EXIT_DIVERGED = 1
EXIT_INTERRUPTED = 130  # the shell's convention for a run ended by SIGINT
CLASSIFICATION_DATA = datasets.PLAYGROUND + ("digits",)


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


def _probability(text):
    """An argparse type: dropout's p, a number in [0, 1) (p = 1 would drop every unit)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1) (the probability of dropping a unit), got {text!r}")
    return value


def _port(text):
    port = _positive_int(text)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"expected a port 1-65535, got {text!r}")
    return port


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
    p.add_argument("--engine", choices=ENGINE_CHOICES, default="auto",
                   help="scratchnn engine: numba (compiled; its first use compiles it, about a minute), numpy "
                        "(the textbook engine), auto: numba when it works here, else numpy, saying why "
                        "(default: %(default)s)")


def _add_progress(p):
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown on a terminal)")


def _add_fit_flags(p, units_help):
    """The flags ``fit`` and ``sweep`` share: models, activation, momentum, epochs, dtype, engine, progress."""
    p.add_argument("--units", type=_units, action="append", help=units_help)
    p.add_argument("--activation", choices=sorted(ACTIVATIONS), default="tanh",
                   help="g of every layer (of the hidden layers for bce and cross_entropy) (default: %(default)s)")
    p.add_argument("--momentum", type=_nonnegative_float, default=0.0,
                   help="SGD momentum, with --optimizer sgd (default: %(default)s)")
    p.add_argument("--epochs", type=_positive_int, default=ws.WORKSHOP_EPOCHS,
                   help="full passes over the data (default: %(default)s, the notebook's)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="of the data, theta and every computation (default: %(default)s, the notebook's)")
    _add_engine(p)
    _add_progress(p)


def build_parser():
    parser = argparse.ArgumentParser(prog="scratchnn", description="The workshop's MLP from scratch, checked against torch.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{workshop,fit,sweep,check,grade,play}")

    p = sub.add_parser("workshop", help="reproduce the workshop notebook: three models, scratchnn beside torch",
                       description="Train the notebook's three models (1-5-1, 1-10-1, 1-5-5-1; Adam lr 0.015, "
                                   "1000 epochs) with scratchnn and torch; print a table, write figures.")
    p.add_argument("--out", default="workshop-out", help="folder for the figures (default: %(default)s)")
    p.add_argument("--epochs", type=_positive_int, default=ws.WORKSHOP_EPOCHS,
                   help="full-batch epochs of every model (default: %(default)s, the notebook's)")
    p.add_argument("--no-torch", action="store_true", help="train with scratchnn only, even if torch is installed")
    _add_engine(p)
    _add_progress(p)
    p.set_defaults(run=cmd_workshop, parser=p)

    p = sub.add_parser("fit", help="one fit of the workshop data, or of a classification set, from flags",
                       description="Fit the workshop data. Without --units the notebook's three models are "
                                   "built one after the other from one generator, as the notebook does. "
                                   "With --criterion bce or cross_entropy, fit a classification set "
                                   "(--data) and report the accuracy on its test points.")
    _add_fit_flags(p, "layer widths u^0,...,u^L, e.g. 1,5,5,1; repeat for several models "
                      "(default: 1,5,1 and 1,10,1 and 1,5,5,1)")
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="adam",
                   help="torch.optim's Adam, SGD, AdamW, RMSprop or Adagrad, term for term, with torch's defaults "
                        "for what the flags leave out (default: %(default)s)")
    p.add_argument("--weight-decay", type=_nonnegative_float, default=None,
                   help="torch's weight_decay λ: adamw decays θ by lr λ each step, the others add λθ to the "
                        "gradient (default: the optimizer's, 0.01 for adamw, else 0)")
    p.add_argument("--schedule", choices=tuple(SCHEDULES), default=None,
                   help="a learning-rate schedule, stepped after every epoch: step (× --gamma every --step-size "
                        "epochs), exp (× --gamma every epoch), cosine (from --lr down to --eta-min over --t-max "
                        "epochs), as torch.optim.lr_scheduler's (default: a fixed lr)")
    p.add_argument("--step-size", type=_positive_int, default=None,
                   help="with --schedule step: the epochs between two decays")
    p.add_argument("--gamma", type=_positive_float, default=None,
                   help="with --schedule step (default 0.1) or exp: the decay factor")
    p.add_argument("--t-max", type=_positive_int, default=None,
                   help="with --schedule cosine: the epochs from --lr down to --eta-min (default: --epochs)")
    p.add_argument("--eta-min", type=_nonnegative_float, default=None,
                   help="with --schedule cosine: the lowest learning rate (default 0)")
    p.add_argument("--lr", type=_positive_float, default=ws.WORKSHOP_LR,
                   help="learning rate (default: %(default)s, the notebook's)")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="minibatch size (default: full batch)")
    p.add_argument("--seed", type=_seed, default=ws.WORKSHOP_SEED,
                   help="torch.manual_seed / np.random.seed of the notebook: initial theta, test points, batch "
                        "order (default: %(default)s)")
    p.add_argument("--compare-torch", action="store_true", help="train a torch copy side by side")
    p.add_argument("--save", metavar="MODEL.npz", help="write the trained model (several models: one file each)")
    p.add_argument("--out", help="folder for the loss and prediction figures and the loss history")
    p.add_argument("--criterion", choices=sorted(CRITERIA), default="mse",
                   help="the loss: mse (default; any output), bce (sigmoid output) or cross_entropy (identity "
                        "output, the softmax in the loss); with bce and cross_entropy --activation is the hidden "
                        "layers'")
    p.add_argument("--data", choices=("workshop",) + CLASSIFICATION_DATA,
                   help=f"workshop (the default with mse), circle (the default with bce and cross_entropy), xor, "
                        f"gauss, spiral (TensorFlow Playground: {datasets.PLAYGROUND_POINTS} training and as many test "
                        f"points) or digits (8x8, 1437 training and 360 test images; needs scikit-learn)")
    p.add_argument("--noise", type=_nonnegative_float, default=0.0,
                   help="the playground sets' noise, 0 to 0.5 as the playground's slider / 100 (default 0)")
    p.add_argument("--l2", type=_nonnegative_float, default=0.0,
                   help="L2 regularisation λ: the loss gains λ/(2n) Σ_j ||θ^j[:, 1:]||², the biases left out "
                        "(default 0)")
    p.add_argument("--norm", choices=NORMS, default=None,
                   help="batch or layer: torch's BatchNorm1d or LayerNorm on z^j of every hidden layer, before g_j "
                        "(default: none)")
    p.add_argument("--dropout", type=_probability, default=0.0,
                   help="p in [0, 1): torch's Dropout(p) after g_j of every hidden layer, in training, its masks "
                        "torch's (default: 0, none)")
    p.set_defaults(run=cmd_fit, parser=p)

    p = sub.add_parser("sweep", help="a grid over seeds, learning rates, optimizers and models, in parallel",
                       description="Train every combination, one worker process per cell (joblib, or a Dask "
                                   "cluster); write each finished cell to OUT/cells/, then a summary table (final "
                                   "loss: median and spread over seeds) and a grid of loss curves. A rerun with "
                                   "the same flags reuses the cells on disk and fits only the missing ones.")
    _add_fit_flags(p, "a model, e.g. 1,5,5,1; repeat for several (default: the three workshop models)")
    p.add_argument("--seeds", type=_list_of(_seed), default=[0, 1, 2, 3, 10], help="comma-separated (default 0,1,2,3,10)")
    p.add_argument("--lrs", type=_list_of(_positive_float), default=[0.005, 0.015, 0.05],
                   help="comma-separated learning rates (default 0.005,0.015,0.05)")
    p.add_argument("--optimizers", type=_optimizers, default=["adam"], help="adam,sgd (default adam)")
    p.add_argument("--jobs", type=_positive_int, help="worker processes, 1: in this process (default 2)")
    p.add_argument("--backend", choices=("local", "dask"), default="local",
                   help="local: joblib processes (default); dask: a Dask distributed cluster (needs [dask])")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --backend dask: the scheduler of a running cluster, e.g. tcp://10.0.0.5:8786 "
                        "(default: a LocalCluster of --jobs processes, closed at the end)")
    p.add_argument("--out", default="sweep-out",
                   help="folder for the cells, table and figure; a rerun resumes from it (default: sweep-out)")
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
    p.add_argument("--timeout", type=_positive_float, default=CHECK_TIMEOUT, metavar="SECONDS",
                   help="the seconds each function may take on all the nets; one that takes longer is stopped "
                        "and reported with the line it was running (default %(default)s)")
    p.set_defaults(run=cmd_check, parser=p)

    p = sub.add_parser("grade", help="check a class's submissions, each in its own process: grades.csv, report.html",
                       description="Check every submission (a .py file; an .ipynb exercise notebook, whose "
                                   "functions are taken from its code cells without running it; or a folder of "
                                   "them) in its own process, --jobs at a time; write DIR/grades.csv (a row per "
                                   "submission) and DIR/report.html (the class table and its most common "
                                   "mistakes) and print a summary. Each result is kept in DIR/results/: a rerun "
                                   "checks only the submissions without one, or whose file changed. Exit status "
                                   "0: graded, 2: no submission, 130: Ctrl-C.")
    p.add_argument("submissions", nargs="+", metavar="SUBMISSION", help=".py files, .ipynb notebooks or folders")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder for grades.csv, report.html and the results a rerun resumes from")
    p.add_argument("--jobs", type=_positive_int, default=2, help="submissions checked at once (default: %(default)s)")
    p.add_argument("--timeout", type=_positive_float, default=grading.TIMEOUT, metavar="S",
                   help="seconds each function may take on all the nets (default: %(default)s)")
    p.add_argument("--only", nargs="+", action="extend", choices=EXERCISE_NAMES, metavar="NAME",
                   help=f"grade only these functions (default: all of {', '.join(EXERCISE_NAMES)})")
    p.set_defaults(run=cmd_grade, parser=p)

    p = sub.add_parser("play", help="the playground in the browser: the net retrains and redraws at every change",
                       description="Serve the playground (a Panel app) on localhost: data set, widths, activation, "
                                   "optimizer, learning rate, epochs ... retrain and redraw the prediction, the loss "
                                   "curves, each theta^j and the size of delta^j, torch beside scratchnn. "
                                   f"Needs Panel: {play.INSTALL}.")
    p.add_argument("--port", type=_port, default=5006, help="port on 127.0.0.1, 1-65535 (default 5006)")
    p.add_argument("--no-browser", action="store_true", help="serve only; do not open a browser tab")
    p.add_argument("--address", default="127.0.0.1",
                   help="the interface to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every "
                        "interface, for a room: anyone who reaches the port can open a page and train on this machine)")
    p.add_argument("--allow-websocket-origin", action="append", default=[], metavar="HOST[:PORT]",
                   help="a host whose pages may connect, beside localhost (repeatable; with --address 0.0.0.0 "
                        "give the name or address the room types, e.g. 192.168.1.20)")
    p.set_defaults(run=cmd_play, parser=p)
    return parser


def _engine(parser, args):
    """The engine that trains for ``--engine``; the numba engine is compiled or loaded here, said first.

    Returns ``(engine, seconds)``: the seconds it took to get the numba engine ready (0 for numpy).
    """
    if args.engine == "numpy":
        return "numpy", 0.0
    print(COMPILE_NOTE, flush=True)
    start = time.perf_counter()
    try:
        engine = resolve_engine(args.engine, lambda line: print(line, file=sys.stderr))
    except RuntimeError as exc:
        parser.error(f"--engine {exc}")
    return engine, time.perf_counter() - start


def _progress(args):
    return not args.no_progress and sys.stderr.isatty()


# ------------------------------------------------------------------ workshop
def cmd_workshop(parser, args):
    engine, ready = _engine(parser, args)
    start = time.perf_counter()
    results, table, paths = ws.run_workshop(out=args.out, epochs=args.epochs, engine=engine,
                                            use_torch=not args.no_torch, progress=_progress(args))
    print(f"The workshop: y = 3 sin(x/100) cos(x/10), 3000 points, L5-normalised; tanh models built one after "
          f"the other after manual_seed({ws.WORKSHOP_SEED}); Adam lr {ws.WORKSHOP_LR}, {args.epochs} full-batch epochs.")
    print(table)
    if results[0].torch_history is not None:
        print("rel gap = |L_scratch - L_torch| / L_torch at the last epoch (free-running), and its maximum over "
              "epochs when torch's parameters and Adam state are copied into scratchnn after every epoch (lockstep).")
        print("init = torch: scratchnn's initial theta equal, bit for bit, those of the notebook's nn.Sequential "
              "models built after torch.manual_seed.")
    else:
        print("torch: not used (scratchnn only).")
    print(f"figures: {', '.join(os.path.basename(p) for p in paths)} in {args.out}/")
    prepare = f"numba engine compiled or loaded from its cache in {ready:.1f} s, " if engine == "numba" else ""
    print(f"wall time: {prepare}training, torch and figures {time.perf_counter() - start:.1f} s")
    return 0


# ----------------------------------------------------------------------- fit
def _model_file(path, label, several):
    if several:
        stem, ext = os.path.splitext(path)
        path = f"{stem}_{label}{ext or '.npz'}"
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return path


def _check_schedule_flags(parser, args):
    """A schedule's flag without its schedule, or a schedule without the flag it needs, is a flag error."""
    for field, schedules in SCHEDULE_FIELDS.items():
        if getattr(args, field) is not None and args.schedule not in schedules:
            parser.error(f"--{field.replace('_', '-')}: only --schedule {' or '.join(schedules)} takes it")
    if args.schedule == "step" and args.step_size is None:
        parser.error("--step-size: --schedule step needs it (the epochs between two decays)")
    if args.schedule == "exp" and args.gamma is None:
        parser.error("--gamma: --schedule exp needs it (the factor of every epoch)")


def cmd_fit(parser, args):
    if args.optimizer not in WITH_MOMENTUM and args.momentum != 0:
        parser.error("--momentum: only SGD and RMSprop have momentum; add --optimizer sgd or rmsprop")
    _check_schedule_flags(parser, args)
    if args.compare_torch and load_torchref() is None:
        parser.error(f"--compare-torch: torch is not installed ({TORCH_EXTRA})")
    dtype = np.dtype(args.dtype)
    data, X, Y, X_test, Y_test, default_units = _fit_data(parser, args, dtype)
    units_list = args.units or default_units
    _check_widths(parser, units_list, default_units[0], data, args.criterion)
    if args.norm == "batch" and args.batch_size is not None and 1 in (args.batch_size, len(X) % args.batch_size):
        parser.error(f"--norm batch: a batch of one point has no variance; choose a --batch-size that leaves at "
                     f"least 2 points in every batch of the {len(X)} ({args.batch_size} leaves 1)")
    nets = ws.build_models(units_list, seed=args.seed, activation=args.activation, dtype=dtype,
                           criterion=args.criterion, norm=args.norm, dropout=args.dropout)
    engine, _ = _engine(parser, args)
    settings = Settings(args.optimizer, args.lr, args.momentum, args.epochs, args.batch_size, args.seed, engine, args.l2,
                        weight_decay=args.weight_decay, schedule=args.schedule, step_size=args.step_size,
                        gamma=args.gamma, t_max=args.t_max, eta_min=args.eta_min)
    print(f"fit: {args.optimizer} lr {args.lr}{f' momentum {args.momentum}' if args.momentum else ''}"
          f"{'' if args.weight_decay is None else f' weight decay {args.weight_decay}'}"
          f"{'' if args.schedule is None else f' schedule {args.schedule}'}, "
          f"{args.epochs} epochs, {'full batch' if args.batch_size is None else f'batches of {args.batch_size}'}, "
          f"seed {args.seed}, {args.dtype}, {args.activation}, engine {engine}"
          + ("" if data == "workshop" else f", data {data}, criterion {args.criterion}")
          + (f", l2 {args.l2}" if args.l2 else "") + (f", norm {args.norm}" if args.norm else "")
          + (f", dropout {args.dropout}" if args.dropout else ""))
    curves, preds, gaps, saved, classifiers = {}, {}, {}, {}, {}
    status = 0
    for net in nets:
        label = units_label(net.units)
        run = train(Run(net, X, Y, settings, twin=args.compare_torch), progress=_progress(args))
        net.eval()  # the accuracy and predictions: batch norm on its running statistics, no dropout
        if run.twin is not None:
            run.twin.model.eval()
        _report_fit(run, X, Y, X_test, Y_test, curves, preds, gaps, classifiers)
        if run.status != "diverged" and args.save:
            saved[label] = _model_file(args.save, label, len(nets) > 1)
            net.save(saved[label])
        elif args.save:
            print(f"{'':>10}  model {label} not saved: its parameters are no longer finite")
        if run.status == "interrupted":
            status = EXIT_INTERRUPTED
            break
        if run.diverged:
            status = EXIT_DIVERGED
            why = run.message if run.status == "diverged" else run.warnings()[0]
            print(f"scratchnn fit: {label} {why}", file=sys.stderr)
    if args.out:
        _write_fit_outputs(args.out, curves, preds, gaps, X, Y, X_test, args, classifiers)
    for label, path in saved.items():
        print(f"model {label} written to {path}")
    if status == EXIT_INTERRUPTED:
        print("scratchnn fit: interrupted; the history and models trained so far are written", file=sys.stderr)
    return status


def _report_fit(run, X, Y, X_test, Y_test, curves, preds, gaps, classifiers):
    """Print one fit's lines (and its torch twin's, its warnings) and collect what the figures draw."""
    net, label, h = run.net, run.label, run.history
    curves[f"{label} scratch"] = h.loss
    line = f"{label:>10}  {net.n_parameters:4d} parameters  "
    if h.epochs:
        line += (f"loss {h.loss[0]:.4e} -> {h.loss[-1]:.4e} (min {h.loss.min():.4e} at epoch {h.loss.argmin()})  "
                 f"{per_epoch_ms(h):.3f} ms/epoch  {run.message}")
    else:
        line += run.message
    print(line)
    for warning in run.warnings():
        print(f"{'':>10}  warning: {warning}")
    if run.status != "diverged" and Y_test is not None:
        test_accuracy = accuracy(net, X_test, Y_test)
        print(f"{'':>10}  accuracy {accuracy(net, X, Y):.2%} on the {len(X)} training points, "
              f"{test_accuracy:.2%} on the {len(X_test)} test points")
        classifiers[f"{label}: {test_accuracy:.1%} test"] = (net, X_test, Y_test)
    elif run.status != "diverged":
        preds[f"{label} scratch"] = net.forward(X_test)
    if run.twin is not None and run.epochs:
        th = run.torch_history
        curves[f"{label} torch"] = th.loss
        gap = relative_gap(h.loss, th.loss)
        gaps[label] = {"free-running": gap}
        if run.twin.diverged_at is None and Y_test is None:
            preds[f"{label} torch"] = run.twin.forward(X_test)
        torch_end = "" if run.twin.diverged_at is None else f"  diverged at epoch {run.twin.diverged_at}"
        print(f"{'':>10}  torch: loss {th.loss[-1]:.4e}, relative gap to scratch {gap[-1]:.2e} at the last "
              f"epoch (max {gap.max():.2e})  {per_epoch_ms(th):.3f} ms/epoch{torch_end}")


def _write_fit_outputs(out, curves, preds, gaps, X, Y, X_test, args, classifiers=None):
    os.makedirs(out, exist_ok=True)
    np.savez(os.path.join(out, "history.npz"), **{k.replace(" ", "_"): v for k, v in curves.items()})
    title = f"{args.optimizer} lr {args.lr}, seed {args.seed}"
    plots.save(plots.loss_figure(curves, title=title, ylabel=f"{args.criterion} loss"),
               os.path.join(out, "losses.png"))
    if classifiers and X.shape[1] == 2:  # a playground set: the decision boundaries over the test points
        plots.save(plots.decision_boundary_figure(classifiers), os.path.join(out, "boundary.png"))
    if preds:
        plots.save(plots.predictions_figure(X, Y, X_test, preds), os.path.join(out, "predictions.png"))
    if gaps:
        plots.save(plots.gap_figure(gaps), os.path.join(out, "gap.png"))
    print(f"history and figures written to {out}/")


def _fit_data(parser, args, dtype):
    """``(data, X, Y, X_test, Y_test, default units)`` for ``fit``.

    The workshop: its data and the notebook's test points (Y_test None). A classification
    set: training and test points with the targets ``--criterion`` takes (class indices for
    cross_entropy, 0/1 columns for bce and mse: one column for two classes).
    """
    data = args.data or ("workshop" if args.criterion == "mse" else "circle")
    if args.noise and data not in datasets.PLAYGROUND:
        parser.error(f"--noise: only the playground sets ({', '.join(datasets.PLAYGROUND)}) take noise, "
                     f"not --data {data}")
    if data == "workshop":
        if args.criterion != "mse":
            parser.error(f"--criterion {args.criterion}: the workshop data are a regression; "
                         f"add --data {'|'.join(CLASSIFICATION_DATA)}")
        X, Y = workshop_data(dtype)
        return data, X, Y, workshop_test_points(X, seed=args.seed), None, [list(u) for u in ws.WORKSHOP_UNITS]
    if args.criterion == "mse":
        parser.error(f"--criterion mse: --data {data} is a classification; use --criterion bce or cross_entropy")
    if data == "digits" and args.criterion == "bce":
        parser.error("--criterion bce: the digits have 10 classes, and bce scores each output unit on its own; "
                     "use --criterion cross_entropy")
    if data == "digits":
        try:
            (X, y), (X_test, y_test) = datasets.digits(dtype)
        except ImportError as exc:
            parser.error(f"--data digits: {exc}")
        classes, hidden = 10, [25]
    else:
        if args.noise > 1:
            parser.error(f"--noise: expected a number in [0, 1] (the playground's slider goes to 0.5), got {args.noise}")
        (X, y), (X_test, y_test) = datasets.playground_split(data, noise=args.noise, seed=args.seed, dtype=dtype)
        classes, hidden = 2, [8, 8]
    if args.criterion == "cross_entropy":
        u_L, Y, Y_test = classes, y, y_test
    else:
        u_L = 1 if classes == 2 else classes
        Y, Y_test = _label_columns(y, u_L, dtype), _label_columns(y_test, u_L, dtype)
    return data, X, Y, X_test, Y_test, [[X.shape[1]] + hidden + [u_L]]


def _label_columns(y, u_L, dtype):
    """Class indices as 0/1 columns: ``(n, 1)`` for two classes, one-hot ``(n, u^L)`` for more."""
    return y.reshape(-1, 1).astype(dtype) if u_L == 1 else one_hot(y, u_L, dtype)


def _check_widths(parser, units_list, expected, data, criterion):
    for units in units_list:
        if units[0] != expected[0] or units[-1] != expected[-1]:
            parser.error(f"--units {','.join(map(str, units))}: the {data} data with criterion {criterion} take "
                         f"{expected[0]} inputs and {expected[-1]} outputs, e.g. {','.join(map(str, expected))}")


# --------------------------------------------------------------------- sweep
def cmd_sweep(parser, args):
    if args.scheduler is not None and args.backend != "dask":
        parser.error("--scheduler: a Dask scheduler's address needs --backend dask")
    if args.scheduler is not None and args.jobs is not None:
        parser.error("--jobs: the cluster at --scheduler has its own workers; drop --jobs")
    jobs = 2 if args.jobs is None else args.jobs
    if args.backend == "dask":
        try:
            sweep.require_dask()
        except ImportError as exc:
            print(f"scratchnn sweep: {exc}", file=sys.stderr)
            return 2
    grid = sweep.Grid(args.units or [list(u) for u in ws.WORKSHOP_UNITS], args.optimizers, args.lrs, args.seeds,
                      args.activation, args.momentum, args.epochs, args.dtype, _engine(parser, args)[0])
    if args.backend == "dask":
        workers = (f"the Dask cluster at {args.scheduler}" if args.scheduler
                   else f"a Dask LocalCluster of {jobs} worker processes")
    else:
        workers = "this process" if jobs == 1 else f"{jobs} worker processes"
    total = len(grid.cells())
    print(f"sweep: {total} fits ({len(grid.units_list)} models x {len(grid.optimizers)} optimizers x "
          f"{len(grid.lrs)} learning rates x {len(grid.seeds)} seeds), {grid.epochs} epochs each, {workers}, "
          f"engine {grid.engine}; each model drawn alone from TorchGenerator(seed); cells in {sweep.cells_dir(args.out)}/")
    start = time.perf_counter()
    try:
        outcome = sweep.run(grid, args.out, args.backend, jobs, args.scheduler, progress=_progress(args))
    except sweep.CellMismatch as exc:
        print(f"scratchnn sweep: {exc}", file=sys.stderr)
        return 2
    results = sweep.load(grid, args.out)
    print(sweep.write_summary(grid, args.out, results))
    print(f"{len(results)} of {total} fits on disk ({outcome.reused} reused, {outcome.fitted} fitted now) in "
          f"{time.perf_counter() - start:.1f} s; summary.txt, sweep.csv and sweep.png written to {args.out}/")
    if outcome.interrupted:
        print("scratchnn sweep: interrupted; the fits finished so far are on disk: rerun the same command to "
              "fit the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    if outcome.error:
        print(f"scratchnn sweep: stopped by {outcome.error}; the fits finished so far are on disk: rerun the "
              f"same command to fit the rest", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------- check
def cmd_check(parser, args):
    return run_file(args.file, only=args.only, timeout=args.timeout)


# --------------------------------------------------------------------- grade
def cmd_grade(parser, args):
    try:
        subs = grading.submissions(args.submissions)
    except grading.SubmissionError as exc:
        print(f"scratchnn grade: {exc}", file=sys.stderr)
        return 2
    if not subs:
        print(f"scratchnn grade: no .py file or .ipynb notebook in {', '.join(args.submissions)}", file=sys.stderr)
        return 2
    print(f"grade: {len(subs)} submission{'s' if len(subs) > 1 else ''}, {args.jobs} at a time, each in its own "
          f"process; results in {os.path.join(args.out, 'results')}", flush=True)
    result = grading.grade(subs, args.out, jobs=args.jobs, timeout=args.timeout, only=args.only,
                           log=lambda line: print(line, flush=True))
    print(result.summary())
    if result.interrupted:
        print(f"scratchnn grade: interrupted; {len(result.rows)} of {result.total} submissions graded and kept in "
              f"{os.path.join(args.out, 'results')}: rerun the same command to grade the rest", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


# ---------------------------------------------------------------------- play
def cmd_play(parser, args):
    try:
        play.require_panel()
    except ImportError as exc:
        print(f"scratchnn play: {exc}", file=sys.stderr)
        return 2
    try:
        play.serve(port=args.port, open_browser=not args.no_browser, address=args.address,
                   origins=args.allow_websocket_origin)
    except KeyboardInterrupt:
        pass
    return 0


def main(argv=None):
    """Run the command in ``argv`` (default: sys.argv[1:]); returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.run(args.parser, args)


if __name__ == "__main__":
    sys.exit(main())
