"""The playground's training runs: settings in, a trained run out. No widgets here (:mod:`.app` wires them).

A run builds the data and the net from :class:`Settings`, trains with :func:`scratchnn.fit` in
chunks of epochs (so that the page can stream the curves, and a Stop or a newer change can end it
between two chunks), takes ‖δ^j‖ (:func:`scratchnn.diagnostics.delta_norms`) at every chunk
boundary, and, with ``compare_torch``, trains a torch copy of the net from the same θ^j and
optimizer state over the same chunks (:mod:`torchref`).
"""

import dataclasses
import time

import numpy as np

from ... import datasets
from .. import workshop as ws
from ...activations import ACTIVATIONS
from ...diagnostics import delta_norms
from ...train import DivergenceError, fit

DATA_SETS = ("workshop",) + datasets.PLAYGROUND
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "momentum": "SGD, momentum 0.9"}
MOMENTUM = 0.9
LEARNING_RATES = tuple(float(f"{m}e{e}") for e in range(-4, 1) for m in (1, 1.5, 3, 5)) + (10.0,)  # log-spaced
EPOCHS = (10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000, 300_000, 1_000_000)
BATCH_SIZES = (None, 1000, 256, 64, 16)  # None: the full batch, as the workshop
CLASS_POINTS = 500  # training points of a classification set, and as many test points
DELTA_SAMPLES = 25  # ‖δ^j‖ is taken at least this often per run (once per chunk)
CHUNK_SECONDS = 0.25  # a chunk trains about this long at most: the delay of a Stop, and of streaming


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything a run depends on; the defaults are the workshop's 1-5-5-1 fit (seed 10, Adam lr 0.015).

    ``hidden`` is text, as typed: the hidden widths u^1, ..., u^{L-1}, comma-separated ("" for none).
    ``criterion`` is the classifier's ("bce": one sigmoid output, "cross_entropy": two logits);
    the workshop's function is always fitted with "mse".
    """

    data: str = "workshop"
    noise: float = 0.0
    criterion: str = "bce"
    hidden: str = "5, 5"
    activation: str = "tanh"
    optimizer: str = "adam"
    lr: float = ws.WORKSHOP_LR
    epochs: int = ws.WORKSHOP_EPOCHS
    batch_size: int | None = None
    seed: int = ws.WORKSHOP_SEED
    dtype: str = "float32"
    engine: str = "numba"
    compare_torch: bool = False


def hidden_widths(text):
    """``"5, 5"`` -> ``[5, 5]``: the hidden widths typed in the page; a ValueError says what is wrong."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",")]
    if parts == [""]:
        return []
    widths = []
    for p in parts:
        try:
            widths.append(int(p))
        except ValueError:
            raise ValueError(f"hidden widths: {p!r} is not a whole number; type widths like 5, 5 "
                             f"(one per hidden layer)") from None
    if any(w < 1 for w in widths):
        raise ValueError(f"hidden widths: every layer needs at least 1 unit, got {', '.join(map(str, widths))}")
    if any(w > 512 for w in widths) or len(widths) > 8:
        raise ValueError("hidden widths: at most 8 hidden layers of at most 512 units in the playground")
    return widths


def check(settings):
    """The net's units ``[u^0, ..., u^L]`` for ``settings``; a ValueError names the setting that is wrong."""
    s = settings
    if s.data not in DATA_SETS:
        raise ValueError(f"data: expected one of {', '.join(DATA_SETS)}, got {s.data!r}")
    if s.activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)}, got {s.activation!r}")
    if s.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {s.optimizer!r}")
    if s.criterion not in ("bce", "cross_entropy"):
        raise ValueError(f"classifier: expected bce or cross_entropy, got {s.criterion!r}")
    if not (isinstance(s.seed, (int, np.integer)) and s.seed >= 0):
        raise ValueError(f"seed: expected a whole number >= 0, got {s.seed!r}")
    if not (isinstance(s.lr, (int, float)) and np.isfinite(s.lr) and s.lr > 0):
        raise ValueError(f"learning rate: expected a number > 0, got {s.lr!r}")
    if s.compare_torch and ws.load_torchref() is None:
        raise ValueError("compare with torch: torch is not installed (pip install 'scratchnn[torch]')")
    hidden = hidden_widths(s.hidden)
    if s.data == "workshop":
        return [1] + hidden + [1]
    return [2] + hidden + [1 if s.criterion == "bce" else 2]


class Run:
    """One training run, as far as it went.

    ``net`` (trained in place), the training data ``X``, ``Y`` (targets as the criterion takes
    them), the points the views show the prediction at (``X_show``: the notebook's 50 test points,
    or the classification set's test points with their classes ``y_show``), ``loss`` per epoch,
    ``delta_epochs`` and ``delta`` (‖δ^j‖ per layer, one row per sample), torch's ``torch_loss``
    and its trained ``torch_net`` (a scratchnn MLP holding torch's θ^j) with ``compare_torch``.
    ``status``: "running", "done", "stopped" or "diverged" (``message`` says at which epoch).
    """

    def __init__(self, settings, net, X, Y, X_show, y_show):
        self.settings = settings
        self.net, self.X, self.Y, self.X_show, self.y_show = net, X, Y, X_show, y_show
        self._loss, self._torch_loss = [], []
        self.delta_epochs, self.delta = [], []
        self.torch_model = None
        self.status, self.message = "running", ""
        self.seconds = 0.0  # wall time of the run so far, δ samples and torch included
        self.train_seconds = 0.0  # scratchnn's own training time (compile and cache load excluded)

    @property
    def loss(self):
        """𝓛 before each trained epoch's update ``(epochs,)``."""
        return np.concatenate(self._loss) if self._loss else np.zeros(0)

    @property
    def torch_loss(self):
        """torch's loss per epoch, or None without the comparison."""
        if self.torch_model is None:
            return None
        return np.concatenate(self._torch_loss) if self._torch_loss else np.zeros(0)

    @property
    def epochs(self):
        """Epochs trained so far."""
        return sum(len(h) for h in self._loss)

    def torch_net(self):
        """torch's trained parameters as a scratchnn MLP (to draw them with the same functions), or None."""
        if self.torch_model is None:
            return None
        import torchref

        return torchref.from_torch(self.torch_model, self.net.criterion)


class Session:
    """Trains runs; keeps the data sets it built, so a change of the net does not rebuild them."""

    def __init__(self):
        self._data = {}

    def data(self, settings, dtype):
        """``(X, Y, X_show, y_show)`` for ``settings.data`` (see :class:`Run`)."""
        s = settings
        key = (s.data, s.noise, s.seed, s.criterion, dtype) if s.data != "workshop" else ("workshop", dtype)
        if key not in self._data:
            if s.data == "workshop":
                X, Y = ws.data(dtype)
                self._data[key] = (X, Y, ws.test_points(X), None)
            else:
                X, y = datasets.playground(s.data, n=2 * CLASS_POINTS, noise=s.noise, seed=s.seed)
                X = X.astype(dtype)
                y = y[:, 0].astype(np.int64)  # class indices (2 n,)
                Y = y[:CLASS_POINTS] if s.criterion == "cross_entropy" else y[:CLASS_POINTS, None].astype(dtype)
                self._data[key] = (X[:CLASS_POINTS], Y, X[CLASS_POINTS:], y[CLASS_POINTS:])
        return self._data[key]

    def run(self, settings, stop=lambda: False, progress=None):
        """Train ``settings``'s net; returns the :class:`Run`.

        Between two chunks ``stop()`` is asked (True ends the run: status "stopped") and
        ``progress(run)`` is told how far it went. A ValueError means bad settings (:func:`check`).
        """
        units = check(settings)
        s = settings
        dtype = np.dtype(s.dtype)
        X, Y, X_show, y_show = self.data(s, dtype)
        criterion = "mse" if s.data == "workshop" else s.criterion
        [net] = ws.build_models([units], seed=s.seed, activation=s.activation, dtype=dtype, criterion=criterion)
        opt = ws.make_optimizer("adam" if s.optimizer == "adam" else "sgd", net.theta, s.lr,
                                MOMENTUM if s.optimizer == "momentum" else 0.0)
        run = Run(s, net, X, Y, X_show, y_show)
        torch_side = _TorchSide(run, opt) if s.compare_torch else None
        start = time.perf_counter()
        longest = max(1, s.epochs // DELTA_SAMPLES)
        k = min(longest, 10)  # a short first chunk: it also measures the time per epoch
        while run.epochs < s.epochs:
            if stop():
                run.status, run.message = "stopped", f"stopped after {run.epochs} of {s.epochs} epochs"
                break
            run.delta_epochs.append(run.epochs)
            run.delta.append(delta_norms(net, X, Y))
            k = min(k, s.epochs - run.epochs)
            chunk_start = time.perf_counter()
            try:
                h = fit(net, X, Y, opt, k, s.batch_size, s.seed, engine=s.engine, start_epoch=run.epochs)
            except DivergenceError as exc:
                run._loss.append(exc.history.loss)
                run.status = "diverged"
                run.message = (f"diverged: the loss became non-finite at epoch {run.epochs} with learning rate "
                               f"{s.lr:g}; lower the learning rate")
                break
            if torch_side is not None:
                torch_side.train(k, run.epochs)
            run._loss.append(h.loss)
            run.train_seconds += h.seconds - h.compile_seconds
            per_epoch = max(time.perf_counter() - chunk_start - h.compile_seconds, 1e-9) / k  # torch's included
            k = int(min(longest, max(1, CHUNK_SECONDS / per_epoch)))
            run.seconds = time.perf_counter() - start
            if progress is not None:
                progress(run)
        if run.status != "diverged":
            run.delta_epochs.append(run.epochs)
            run.delta.append(delta_norms(net, X, Y))
        if run.status == "running":
            run.status = "done"
        if torch_side is not None and torch_side.diverged_at is not None and run.status != "diverged":
            run.message = f"torch diverged at epoch {torch_side.diverged_at}; scratchnn trained on"
        run.seconds = time.perf_counter() - start
        return run


class _TorchSide:
    """The torch copy of a run's net and optimizer, trained over the same chunks of epochs."""

    def __init__(self, run, opt):
        import torch
        import torchref

        self.torch, self.torchref, self.run = torch, torchref, run
        run.torch_model = torchref.to_torch(run.net)  # before training: the same initial θ^j
        self.topt = torchref.optimizer_to_torch(opt, run.torch_model)
        self.diverged_at = None

    def train(self, k, start):
        if self.diverged_at is not None:
            return
        s, run = self.run.settings, self.run
        with ws.torch_threads(self.torch, 1):
            try:
                h = self.torchref.fit(run.torch_model, run.X, run.Y, self.topt, k, s.batch_size, s.seed,
                                      start_epoch=start, criterion=run.net.criterion)
            except DivergenceError as exc:
                h = exc.history
                self.diverged_at = start + exc.epoch
        run._torch_loss.append(h.loss)
