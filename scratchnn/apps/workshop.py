"""The workshop notebook, end to end, with scratchnn beside torch.

What the notebook does, and how this module repeats it:

* data: 3000 points of ``3 sin(x/100) cos(x/10)``, float32, L5-normalised (:func:`data`);
* models 1-5-1, 1-10-1 and 1-5-5-1, all tanh, built one after the other after
  ``torch.manual_seed(10)``: here from ONE ``TorchGenerator(10)``, so their
  initial theta equal torch's bit for bit (:func:`build_models`);
* Adam, lr 0.015, 1000 full-batch epochs;
* 50 test points ``np.random.uniform(0, max(x_norm), 50)`` right after
  ``np.random.seed(10)``: nothing else draws from NumPy's global stream in
  between, so ``RandomState(10)`` replays them (:func:`test_points`).

:func:`run_workshop` trains every model with scratchnn and, when torch is
installed, with torch (free-running, and in lockstep through
``torchref.compare(resync_every=1)``), and returns the table and figures.
:func:`train` is the loop every command shares: chunks of epochs with a
progress bar, Ctrl-C keeping what was trained, divergence reported by epoch.
"""

import copy
import functools
import os

import numpy as np

from .. import data as _data
from ..checks import check_dtype
from ..generator import TorchGenerator
from ..losses import get as get_criterion
from ..mlp import MLP
from ..optimizers import SGD, Adam
from ..table import format_table
from ..train import DivergenceError, History, fit

WORKSHOP_UNITS = ([1, 5, 1], [1, 10, 1], [1, 5, 5, 1])
WORKSHOP_SEED = 10
WORKSHOP_LR = 0.015
WORKSHOP_EPOCHS = 1000
TEST_POINTS = 50


# ------------------------------------------------------------------ choices
@functools.lru_cache(maxsize=None)
def default_engine():
    """``"numba"`` when :mod:`scratchnn.fast` imports and trains a tiny net, else ``"numpy"``."""
    try:
        X = np.zeros((4, 1), dtype=np.float32)
        net = MLP([1, 2, 1])
        fit(net, X, X, Adam(net.theta), epochs=2, engine="numba")
    except Exception:  # not there yet, or broken: the textbook engine always works
        return "numpy"
    return "numba"


def load_torchref():
    """The :mod:`torchref` package, or None when torch is not installed."""
    try:
        import torchref
    except ImportError:
        return None
    return torchref


class torch_threads:
    """``with torch_threads(torch, 1):`` run torch on n intra-op threads, restoring the setting after.

    The workshop's nets are tiny: a second thread only adds synchronisation
    (and on a busy 2-core machine it multiplies torch's time per epoch).
    """

    def __init__(self, torch, n):
        self.torch, self.n = torch, n

    def __enter__(self):
        self.saved = self.torch.get_num_threads()
        self.torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        self.torch.set_num_threads(self.saved)


def units_label(units):
    """``[1, 5, 5, 1]`` -> ``"1-5-5-1"``."""
    return "-".join(str(u) for u in units)


# --------------------------------------------------------------------- data
def data(dtype=np.float32):
    """The workshop's ``(X, Y)``, ``(3000, 1)`` each, L5-normalised, in ``dtype``.

    float32 is the notebook's data (:func:`scratchnn.workshop_data`); float64
    normalises the float64 samples directly, without a float32 detour.
    """
    dtype = check_dtype("dtype", dtype)
    if dtype == np.float32:
        return _data.workshop_data()
    x, y = _data.workshop_raw()
    return _data.lp_normalize(x.reshape(-1, 1), p=5, axis=0), _data.lp_normalize(y.reshape(-1, 1), p=5, axis=0)


def test_points(X, count=TEST_POINTS, seed=WORKSHOP_SEED):
    """The notebook's test inputs ``(count, 1)``: ``np.random.uniform(0, max(X), count)`` after ``np.random.seed(seed)``.

    As in the notebook the maximum is taken in X's dtype and the draws in
    float64, then converted to X's dtype.
    """
    high = np.max(X)  # float32 for float32 X, as np.max(x_norm.detach().numpy())
    return np.random.RandomState(seed).uniform(0, high, count).reshape(-1, 1).astype(X.dtype)


def build_models(units_list=WORKSHOP_UNITS, seed=WORKSHOP_SEED, activation="tanh", dtype=np.float32, criterion="mse"):
    """One MLP per entry of ``units_list``, drawn one after the other from one ``TorchGenerator(seed)``.

    That is what the notebook does after ``torch.manual_seed(seed)``: model k's
    initial weights depend on the models built before it. ``activation`` is every
    layer's, except the output of a criterion that needs its own (sigmoid for bce,
    identity for cross_entropy).
    """
    gen = TorchGenerator(seed)
    output = get_criterion(criterion).output

    def activations(units):
        return activation if output is None else [activation] * (len(units) - 2) + [output]

    return [MLP(units, activations=activations(units), dtype=dtype, generator=gen, criterion=criterion)
            for units in units_list]


def make_optimizer(name, theta, lr, momentum=0.0):
    """``Adam(theta, lr)`` or ``SGD(theta, lr, momentum)`` by name."""
    if name == "adam":
        return Adam(theta, lr=lr)
    if name == "sgd":
        return SGD(theta, lr=lr, momentum=momentum)
    raise ValueError(f"optimizer: expected 'adam' or 'sgd', got {name!r}")


# -------------------------------------------------------------------- train
class Run:
    """One training run: ``history`` (what was recorded), ``status`` and ``message``.

    ``status`` is ``"done"``, ``"interrupted"`` (Ctrl-C; the parameters are
    those at the end of ``history``) or ``"diverged"`` (``diverged_at`` is
    the first epoch whose loss was not finite; ``history`` holds the ones before).
    """

    def __init__(self, history, status="done", diverged_at=None):
        self.history = history
        self.status = status
        self.diverged_at = diverged_at

    @property
    def message(self):
        if self.status == "diverged":
            return f"diverged: the loss became non-finite at epoch {self.diverged_at} (lower the learning rate)"
        if self.status == "interrupted":
            return f"interrupted after {self.history.epochs} epochs; what was trained is kept"
        return f"done: {self.history.epochs} epochs"


def join_histories(histories, engine):
    """One History holding ``histories`` one after the other (losses, timings summed)."""
    loss = np.concatenate([h.loss for h in histories]) if histories else np.zeros(0)
    has_val = bool(histories) and histories[0].val_loss is not None
    val = np.concatenate([h.val_loss for h in histories]) if has_val else None
    return History(
        loss,
        val,
        engine,
        seconds=sum(h.seconds for h in histories),
        compile_seconds=sum(h.compile_seconds for h in histories),
    )


def chunk_size(epochs):
    """Epochs per call of the fit: about 100 updates of the progress bar, at most 1000 epochs each."""
    return max(1, min(1000, epochs // 100))


def train(fit_chunk, snapshot, epochs, engine, desc="training", progress=True):
    """Run ``epochs`` epochs in chunks; returns a :class:`Run`.

    ``fit_chunk(k, start_epoch)`` trains k epochs and returns their History;
    ``snapshot()`` records the parameters and optimizer state and returns a
    function that restores them. A Ctrl-C inside a chunk rolls back to the
    chunk's start, so the parameters always match the recorded history.
    """
    from tqdm.auto import tqdm

    done = []
    trained = 0
    bar = tqdm(total=epochs, desc=desc, unit="epoch", disable=not progress, leave=False, mininterval=0.5)
    try:
        while trained < epochs:
            k = min(chunk_size(epochs), epochs - trained)
            restore = snapshot()
            try:
                h = fit_chunk(k, trained)
            except KeyboardInterrupt:
                restore()
                return Run(join_histories(done, engine), "interrupted")
            except DivergenceError as exc:
                done.append(exc.history)
                return Run(join_histories(done, engine), "diverged", trained + exc.epoch)
            done.append(h)
            trained += k
            bar.update(k)
            bar.set_postfix(loss=f"{h.loss[-1]:.3g}", refresh=False)
    finally:
        bar.close()
    return Run(join_histories(done, engine), "done")


def snapshot_scratch(net, optimizer):
    """Record ``net.theta`` and the optimizer state; returns their restore function."""
    theta = [t.copy() for t in net.theta]
    state = {k: [a.copy() for a in arrays] for k, arrays in optimizer.state_arrays().items()}
    t = optimizer.t

    def restore():
        for dst, src in zip(net.theta, theta):
            dst[...] = src
        for k, arrays in optimizer.state_arrays().items():
            for dst, src in zip(arrays, state[k]):
                dst[...] = src
        optimizer.t = t

    return restore


def snapshot_torch(model, topt):
    """As :func:`snapshot_scratch`, for a torch model and optimizer."""
    model_state = copy.deepcopy(model.state_dict())
    opt_state = copy.deepcopy(topt.state_dict())

    def restore():
        model.load_state_dict(model_state)
        topt.load_state_dict(opt_state)

    return restore


def train_scratch(net, X, Y, optimizer, epochs, batch_size=None, seed=0, validation=None, engine="numpy",
                  desc=None, progress=True, l2=0.0):
    """:func:`train` with :func:`scratchnn.fit`."""

    def fit_chunk(k, start):
        return fit(net, X, Y, optimizer, k, batch_size, seed, validation, engine, start_epoch=start, l2=l2)

    return train(fit_chunk, lambda: snapshot_scratch(net, optimizer), epochs, engine,
                 desc or f"{units_label(net.units)} {engine}", progress)


def train_torch(torchref, model, topt, X, Y, epochs, batch_size=None, seed=0, validation=None, desc=None,
                progress=True, criterion="mse", l2=0.0):
    """:func:`train` with :func:`torchref.fit`."""

    def fit_chunk(k, start):
        return torchref.fit(model, X, Y, topt, k, batch_size, seed, validation, start_epoch=start,
                            criterion=criterion, l2=l2)

    return train(fit_chunk, lambda: snapshot_torch(model, topt), epochs, "torch", desc or "torch", progress)


# ----------------------------------------------------------------- workshop
class ModelResult:
    """Everything the workshop measured for one model (torch fields None without torch)."""

    def __init__(self, net, run, prediction):
        self.net = net
        self.run = run
        self.prediction = prediction
        self.torch_run = None
        self.torch_prediction = None
        self.lockstep = None
        self.same_init = None

    @property
    def label(self):
        return units_label(self.net.units)

    @property
    def free_gap(self):
        """|L_scratch - L_torch| / L_torch per epoch, free-running."""
        return relative_gap(self.run.history.loss, self.torch_run.history.loss)


def relative_gap(loss, reference):
    """``|loss - reference| / |reference|`` per epoch, over the epochs both histories have."""
    k = min(len(loss), len(reference))
    return np.abs(loss[:k] - reference[:k]) / np.abs(reference[:k])


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


def run_workshop(out=None, epochs=WORKSHOP_EPOCHS, seed=WORKSHOP_SEED, lr=WORKSHOP_LR, engine=None,
                 use_torch=True, progress=False, log=print):
    """Reproduce the notebook; returns ``(results, table, figure paths)``, writing the figures to ``out`` if given.

    ``results`` is one :class:`ModelResult` per workshop model; ``table`` the
    printed summary. With ``use_torch`` and torch installed, every model is
    also trained by torch from the same initial theta, free-running and in
    lockstep (``torchref.compare(resync_every=1)``).
    """
    engine = engine or default_engine()
    X, Y = data()
    X_test = test_points(X, seed=seed)
    torchref = load_torchref() if use_torch else None
    if use_torch and torchref is None:
        log("torch is not installed: training with scratchnn only (pip install scratchnn[torch] for the comparison)")
    nets = build_models(seed=seed)
    results = []
    for net in nets:
        trained = net.copy()
        opt = Adam(trained.theta, lr=lr)
        run = train_scratch(trained, X, Y, opt, epochs, engine=engine, progress=progress)
        results.append(ModelResult(trained, run, trained.forward(X_test)))
    if torchref is not None:
        import torch

        reference = _torch_models_after_seed(torch, WORKSHOP_UNITS, seed)
        with torch_threads(torch, 1):
            _torch_side(torch, torchref, results, nets, reference, X, Y, X_test, epochs, lr, engine, progress)
    table = workshop_table(results, engine)
    paths = [] if out is None else write_figures(out, results, X, Y, X_test, engine, lr)
    return results, table, paths


def _torch_side(torch, torchref, results, nets, reference, X, Y, X_test, epochs, lr, engine, progress):
    """Train every model with torch, free-running and in lockstep, into ``results``."""
    for res, net, ref in zip(results, nets, reference):
        res.same_init = all(np.array_equal(a, b) for a, b in zip(net.theta, torchref.bridge.theta_of(ref)))
        model = torchref.to_torch(net)
        topt = torch.optim.Adam(model.parameters(), lr=lr)
        res.torch_run = train_torch(torchref, model, topt, X, Y, epochs, desc=f"{res.label} torch",
                                    progress=progress)
        with torch.no_grad():
            res.torch_prediction = model(torch.from_numpy(X_test)).numpy()
        lock = net.copy()
        res.lockstep = torchref.compare(lock, X, Y, Adam(lock.theta, lr=lr), epochs, resync_every=1, engine=engine)


def per_epoch_ms(history):
    """Milliseconds per epoch, compile time excluded."""
    return 1e3 * (history.seconds - history.compile_seconds) / max(history.epochs, 1)


def workshop_table(results, engine):
    """The summary table as text: one row per model."""
    with_torch = results[0].torch_run is not None
    head = ["model", "parameters", f"loss scratch ({engine})"]
    if with_torch:
        head += ["loss torch", "rel gap free", "rel gap lockstep (max)", "init = torch"]
    head += [f"ms/epoch scratch"] + (["ms/epoch torch"] if with_torch else [])
    rows = [head]
    for r in results:
        row = [r.label, str(r.net.n_parameters), f"{r.run.history.loss[-1]:.6e}"]
        if with_torch:
            row += [
                f"{r.torch_run.history.loss[-1]:.6e}",
                f"{r.free_gap[-1]:.2e}",
                f"{r.lockstep.rel_gap.max():.2e}",
                "yes" if r.same_init else "NO",
            ]
        row += [f"{per_epoch_ms(r.run.history):.3f}"]
        if with_torch:
            row += [f"{per_epoch_ms(r.torch_run.history):.3f}"]
        rows.append(row)
    return format_table(rows)


def write_figures(out, results, X, Y, X_test, engine, lr):
    """The four workshop figures as PNG in ``out``; returns their paths."""
    from ..teaching import plots

    os.makedirs(out, exist_ok=True)
    x, y = _data.workshop_raw()
    curves, preds, gaps = {}, {}, {}
    for r in results:
        curves[f"{r.label} scratch ({engine})"] = r.run.history.loss
        preds[f"{r.label} scratch"] = r.prediction
        if r.torch_run is not None:
            curves[f"{r.label} torch"] = r.torch_run.history.loss
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
