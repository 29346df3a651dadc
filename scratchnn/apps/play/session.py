"""The playground's runs: the page's settings in, a trained run out. No widgets here (:mod:`.page` wires them).

A :class:`Settings` is what the page's controls show; :meth:`Session.run` turns it into the data, a
net and the applications' one :class:`~scratchnn.apps.run.Run`, and trains it through
:meth:`~scratchnn.apps.run.Run.train`: in chunks of epochs (so that the page can stream the curves,
and a Stop or a newer change can end it between two chunks), with ‖δ^j‖
(:func:`scratchnn.diagnostics.delta_norms`) as the snapshot at every chunk boundary and, with
``compare_torch``, the run's torch twin trained over the same chunks.
"""

import dataclasses

import numpy as np

from ... import datasets
from ...data import workshop_data, workshop_test_points
from ...activations import ACTIVATIONS
from ...diagnostics import delta_norms
from .. import run as runs

DATA_SETS = ("workshop",) + datasets.PLAYGROUND
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "momentum": "SGD, momentum 0.9"}
MOMENTUM = 0.9
LEARNING_RATES = tuple(float(f"{m}e{e}") for e in range(-4, 1) for m in (1, 1.5, 3, 5)) + (10.0,)  # log-spaced
EPOCHS = (10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000, 300_000, 1_000_000)
BATCH_SIZES = (None, 1000, 256, 64, 16)  # None: the full batch, as the workshop
DELTA_SAMPLES = 25  # ‖δ^j‖ is taken at least this often per run (once per chunk)


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
    lr: float = runs.Settings.lr
    epochs: int = runs.Settings.epochs
    batch_size: int | None = None
    seed: int = runs.Settings.seed
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
    if s.compare_torch and runs.load_torchref() is None:
        raise ValueError(f"compare with torch: torch is not installed ({runs.TORCH_EXTRA})")
    hidden = hidden_widths(s.hidden)
    if s.data == "workshop":
        return [1] + hidden + [1]
    return [2] + hidden + [1 if s.criterion == "bce" else 2]


class PlayRun:
    """A playground run: the applications' :class:`~scratchnn.apps.run.Run` (``run``) with what the page shows.

    ``settings`` (the page's), ``net`` (trained in place), the training data ``X``, ``Y`` (targets
    as the criterion takes them), the points the views show the prediction at (``X_show``: the
    notebook's 50 test points, or the classification set's test points with their classes
    ``y_show``), ``loss`` per epoch, ``delta_epochs`` and ``delta`` (‖δ^j‖ per layer, one row per
    snapshot), torch's ``torch_loss`` and :meth:`torch_net` with ``compare_torch``; ``status`` and
    ``message`` are the run's (status "running", "done", "stopped" or "diverged").
    """

    def __init__(self, settings, run, X_show, y_show):
        self.settings, self.run, self.X_show, self.y_show = settings, run, X_show, y_show
        self.net, self.X, self.Y = run.net, run.X, run.Y

    status = property(lambda self: self.run.status)

    def warnings(self):
        """The run's warnings for the learner (:meth:`~scratchnn.apps.run.Run.warnings`)."""
        return self.run.warnings()

    @property
    def message(self):
        """How the run ended, when there is something to say ("" for a run that simply finished)."""
        twin = self.run.twin
        plain = self.run.status == "done" and (twin is None or twin.diverged_at is None)
        return "" if plain else self.run.message
    loss = property(lambda self: self.run.loss)
    epochs = property(lambda self: self.run.epochs)
    seconds = property(lambda self: self.run.seconds)
    delta_epochs = property(lambda self: [epoch for epoch, _ in self.run.snapshots])
    delta = property(lambda self: [norms for _, norms in self.run.snapshots])

    @property
    def train_seconds(self):
        """scratchnn's own training time (compile and cache load excluded)."""
        return self.run.history.seconds

    @property
    def torch_loss(self):
        """torch's loss per epoch, or None without the comparison."""
        return None if self.run.twin is None else self.run.torch_history.loss

    def torch_net(self):
        """torch's trained parameters as a scratchnn MLP (to draw them with the same functions), or None."""
        return None if self.run.twin is None else self.run.twin.net()


class Session:
    """Trains runs; keeps the data sets it built, so a change of the net does not rebuild them."""

    def __init__(self):
        self._data = {}

    def data(self, settings, dtype):
        """``(X, Y, X_show, y_show)`` for ``settings.data`` (see :class:`PlayRun`)."""
        s = settings
        key = (s.data, s.noise, s.seed, s.criterion, dtype) if s.data != "workshop" else ("workshop", dtype)
        if key not in self._data:
            if s.data == "workshop":
                X, Y = workshop_data(dtype)
                self._data[key] = (X, Y, workshop_test_points(X), None)
            else:
                (X, y), (X_test, y_test) = datasets.playground_split(s.data, noise=s.noise, seed=s.seed, dtype=dtype)
                Y = y if s.criterion == "cross_entropy" else y[:, None].astype(dtype)
                self._data[key] = (X, Y, X_test, y_test)
        return self._data[key]

    def run(self, settings, stop=lambda: False, progress=None):
        """Train ``settings``'s net; returns the :class:`PlayRun`.

        Between two chunks ``stop()`` is asked (True ends the run: status "stopped") and
        ``progress(run)`` is told how far it went. A ValueError means bad settings (:func:`check`).
        """
        units = check(settings)
        s = settings
        dtype = np.dtype(s.dtype)
        X, Y, X_show, y_show = self.data(s, dtype)
        criterion = "mse" if s.data == "workshop" else s.criterion
        net = runs.build_net(units, s.activation, criterion, dtype, generator=s.seed)
        optimizer = "adam" if s.optimizer == "adam" else "sgd"
        loop = runs.Settings(optimizer, s.lr, MOMENTUM if s.optimizer == "momentum" else 0.0, s.epochs,
                             s.batch_size, s.seed, s.engine)
        play_run = PlayRun(s, runs.Run(net, X, Y, loop, twin=s.compare_torch), X_show, y_show)
        play_run.run.train(progress=None if progress is None else lambda run: progress(play_run), stop=stop,
                           snapshot=lambda run: delta_norms(run.net, run.X, run.Y), samples=DELTA_SAMPLES)
        return play_run
