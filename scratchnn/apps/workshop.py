"""The workshop notebook, end to end, with scratchnn beside torch.

What the notebook does, and how this module repeats it:

* data: 3000 points of ``3 sin(x/100) cos(x/10)``, float32, L5-normalised
  (:func:`scratchnn.workshop_data`);
* models 1-5-1, 1-10-1 and 1-5-5-1, all tanh, built one after the other after
  ``torch.manual_seed(10)``: here from ONE ``TorchGenerator(10)``, so their
  initial theta equal torch's bit for bit (:func:`build_models`);
* Adam, lr 0.015, 1000 full-batch epochs;
* 50 test points ``np.random.uniform(0, max(x_norm), 50)`` right after
  ``np.random.seed(10)``: nothing else draws from NumPy's global stream in
  between, so ``RandomState(10)`` replays them (:func:`scratchnn.data.workshop_test_points`).

:func:`run_workshop` trains every model through the applications' one run
(:mod:`scratchnn.apps.run`) and, when torch is installed, with its torch twin
beside it (free-running) and in lockstep (``torchref.compare(resync_every=1)``),
and returns the table and figures. Nothing else lives here: the loop, the
optimizers by name and the torch twin are :mod:`.run`'s.
"""

import os

import numpy as np

from .. import data as _data
from ..generator import TorchGenerator
from ..table import format_table, units_label
from ..teaching import plots
from .run import (Run, Settings, build_net, load_torchref, make_optimizer, per_epoch_ms, relative_gap, torch_threads,
                  train)

WORKSHOP_UNITS = ([1, 5, 1], [1, 10, 1], [1, 5, 5, 1])
WORKSHOP_SEED = Settings.seed  # torch.manual_seed(10), np.random.seed(10): the defaults of every run
WORKSHOP_LR = Settings.lr  # Adam's 0.015
WORKSHOP_EPOCHS = Settings.epochs  # 1000 full-batch epochs


def build_models(units_list=WORKSHOP_UNITS, seed=WORKSHOP_SEED, activation="tanh", dtype=np.float32, criterion="mse",
                 norm=None, dropout=0.0):
    """One MLP per entry of ``units_list``, drawn one after the other from one ``TorchGenerator(seed)``.

    That is what the notebook does after ``torch.manual_seed(seed)``: model k's
    initial weights depend on the models built before it. ``activation`` is every
    layer's, except the output of a criterion that needs its own (sigmoid for bce,
    identity for cross_entropy): see :func:`scratchnn.apps.run.build_net`, which also puts ``norm`` and
    ``dropout`` on the hidden layers.
    """
    gen = TorchGenerator(seed)
    return [build_net(units, activation, criterion, dtype, generator=gen, norm=norm, dropout=dropout)
            for units in units_list]


# ----------------------------------------------------------------- workshop
class ModelResult:
    """Everything the workshop measured for one model: its :class:`~.run.Run` (torch's twin in it,
    without torch None), the predictions at the test points, the lockstep comparison, and
    whether the initial θ equal those of the notebook's own torch construction."""

    def __init__(self, run, prediction):
        self.run = run
        self.net = run.net
        self.prediction = prediction
        self.torch_prediction = None
        self.lockstep = None
        self.same_init = None

    @property
    def label(self):
        return units_label(self.net.units)

    @property
    def torch_history(self):
        return self.run.torch_history

    @property
    def free_gap(self):
        """|L_scratch - L_torch| / L_torch per epoch, free-running."""
        return relative_gap(self.run.loss, self.torch_history.loss)


def _torch_models_after_seed(torch, units_list, seed):
    """The notebook's own construction: nn.Sequential models built after torch.manual_seed(seed)."""
    nn = torch.nn
    models = []
    with torch.random.fork_rng():  # leave the caller's torch stream as it was
        torch.manual_seed(seed)
        for units in units_list:
            layers = []
            for j in range(len(units) - 1):
                layers += [nn.Linear(units[j], units[j + 1]), nn.Tanh()]
            models.append(nn.Sequential(*layers))
    return models


def run_workshop(out=None, epochs=WORKSHOP_EPOCHS, seed=WORKSHOP_SEED, lr=WORKSHOP_LR, engine="numpy",
                 use_torch=True, progress=False, log=print):
    """Reproduce the notebook; returns ``(results, table, figure paths)``, writing the figures to ``out`` if given.

    ``results`` is one :class:`ModelResult` per workshop model; ``table`` the
    printed summary. With ``use_torch`` and torch installed, every model's torch twin
    trains beside it from the same initial theta (free-running), and
    ``torchref.compare(resync_every=1)`` runs it in lockstep. ``engine``: the one that trains.
    """
    X, Y = _data.workshop_data()
    X_test = _data.workshop_test_points(X, seed=seed)
    torchref = load_torchref() if use_torch else None
    if use_torch and torchref is None:
        log("torch is not installed: training with scratchnn only (pip install -e '.[torch]' for the comparison)")
    settings = Settings(lr=lr, epochs=epochs, seed=seed, engine=engine)
    nets = build_models(seed=seed)
    if torchref is not None:
        import torch

        reference = _torch_models_after_seed(torch, WORKSHOP_UNITS, seed)
    results = []
    for k, net in enumerate(nets):
        run = train(Run(net.copy(), X, Y, settings, twin=torchref is not None), progress=progress)
        results.append(ModelResult(run, run.net.forward(X_test)))
        if torchref is not None:
            _torch_side(torch, torchref, results[-1], net, reference[k], X, Y, X_test, settings)
    table = workshop_table(results, engine)
    paths = [] if out is None else write_figures(out, results, X, Y, X_test, engine, lr)
    return results, table, paths


def _torch_side(torch, torchref, result, initial, reference, X, Y, X_test, settings):
    """The twin's predictions, the lockstep comparison, and the initial θ against the notebook's own model."""
    result.same_init = all(np.array_equal(a, b) for a, b in zip(initial.theta, torchref.bridge.theta_of(reference)))
    result.torch_prediction = result.run.twin.forward(X_test)
    with torch_threads(torch, 1):
        lock = initial.copy()
        result.lockstep = torchref.compare(lock, X, Y, make_optimizer(settings, lock.theta), settings.epochs,
                                           resync_every=1, engine=settings.engine)


def workshop_table(results, engine):
    """The summary table as text: one row per model."""
    with_torch = results[0].torch_history is not None
    head = ["model", "parameters", f"loss scratch ({engine})"]
    if with_torch:
        head += ["loss torch", "rel gap free", "rel gap lockstep (max)", "init = torch"]
    head += ["ms/epoch scratch"] + (["ms/epoch torch"] if with_torch else [])
    rows = [head]
    for r in results:
        row = [r.label, str(r.net.n_parameters), f"{r.run.history.loss[-1]:.6e}"]
        if with_torch:
            row += [
                f"{r.torch_history.loss[-1]:.6e}",
                f"{r.free_gap[-1]:.2e}",
                f"{r.lockstep.rel_gap.max():.2e}",
                "yes" if r.same_init else "NO",
            ]
        row += [f"{per_epoch_ms(r.run.history):.3f}"]
        if with_torch:
            row += [f"{per_epoch_ms(r.torch_history):.3f}"]
        rows.append(row)
    return format_table(rows)


def write_figures(out, results, X, Y, X_test, engine, lr):
    """The four workshop figures as PNG in ``out``; returns their paths."""
    os.makedirs(out, exist_ok=True)
    x, y = _data.workshop_raw()
    curves, preds, gaps = {}, {}, {}
    for r in results:
        curves[f"{r.label} scratch ({engine})"] = r.run.history.loss
        preds[f"{r.label} scratch"] = r.prediction
        if r.torch_history is not None:
            curves[f"{r.label} torch"] = r.torch_history.loss
            preds[f"{r.label} torch"] = r.torch_prediction
            gaps[r.label] = {"free-running": r.free_gap, "lockstep (resync every epoch)": r.lockstep.rel_gap}
    figures = {
        "function.png": plots.function_figure(x, y, X, Y),
        "losses.png": plots.loss_figure(curves, title=f"Adam, learning rate {lr}"),
        "predictions.png": plots.predictions_figure(X, Y, X_test, preds),
    }
    if gaps:
        figures["gap.png"] = plots.gap_figure(gaps)
    paths = []
    for name, fig in figures.items():
        paths.append(os.path.join(out, name))
        plots.save(fig, paths[-1])
    return paths
