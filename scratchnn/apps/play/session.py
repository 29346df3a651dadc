"""The playground's runs: the page's settings in, a trained run out. No widgets here (:mod:`.page` wires them).

A :class:`Settings` is what the page's controls show; :meth:`Session.run` turns it into the data, a
net and the applications' one :class:`~scratchnn.apps.run.Run`, and trains it through
:meth:`~scratchnn.apps.run.Run.train`: in chunks of epochs (so that the page can stream the curves,
and a Stop or a newer change can end it between two chunks), with ‖δ^j‖
(:func:`scratchnn.diagnostics.delta_norms`) as the snapshot at every chunk boundary and, with
``compare_torch``, the run's torch twin trained over the same chunks.
"""

import dataclasses
import re

import numpy as np

from ... import datasets
from ...data import workshop_data, workshop_test_points
from ...activations import ACTIVATIONS
from ...diagnostics import delta_norms
from .. import run as runs

DATA_SETS = ("workshop",) + datasets.PLAYGROUND
OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "momentum": "SGD, momentum 0.9", "adamw": "AdamW",
              "rmsprop": "RMSprop", "adagrad": "Adagrad"}
MOMENTUM = 0.9
NORMS = ("none", "batch", "layer")
SCHEDULES = {"none": "fixed lr", "step": "step: x0.5 every quarter of the epochs", "exp": "exp: x0.999 an epoch",
             "cosine": "cosine over the epochs"}
STEP_GAMMA, EXP_GAMMA = 0.5, 0.999  # the step and exp schedules' factors (the playground offers one of each)
L2_VALUES = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)  # λ, as TensorFlow Playground's
TRAIN_SHARES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # of a playground set's points trained on
LEARNING_RATES = tuple(float(f"{m}e{e}") for e in range(-4, 1) for m in (1, 1.5, 3, 5)) + (10.0,)  # log-spaced
EPOCHS = (10, 30, 100, 300, 1000, 3000, 10_000, 30_000, 100_000, 300_000, 1_000_000)
BATCH_SIZES = (None, 1000, 256, 64, 16)  # None: the full batch, as the workshop
DELTA_SAMPLES = 25  # ‖δ^j‖ is taken at least this often per run (once per chunk)
SEED_MAX = 2**64 - 1  # torch's manual_seed takes seeds below 2^64
PARTED = 1e3  # a free-running scratch-torch gap above this many ε of the dtype: the two engines have parted
TUTORIAL_5 = "two correct engines part ways: tutorial 5 (05_two_engines.ipynb) shows why"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything a run depends on; the defaults are the workshop's 1-5-5-1 fit (seed 10, Adam lr 0.015).

    ``hidden`` is text, as typed: the hidden widths u^1, ..., u^{L-1}, comma-separated ("" for none).
    ``criterion`` is the classifier's ("bce": one sigmoid output, "cross_entropy": two logits);
    the workshop's function is always fitted with "mse". ``train_share``: of a playground set's points,
    the share trained on (the rest are the test points, whose loss is drawn beside the training loss);
    ``l2`` is λ (:func:`scratchnn.fit`); ``norm`` ("none", "batch", "layer") and ``dropout`` (p) go to
    every hidden layer; ``schedule``: a key of SCHEDULES.
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
    seed: int | str = runs.Settings.seed  # as typed: seed_number reads it
    dtype: str = "float32"
    engine: str = "numba"
    compare_torch: bool = False
    train_share: float = 0.5
    l2: float = 0.0
    norm: str = "none"
    dropout: float = 0.0
    schedule: str = "none"


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


def seed_number(seed):
    """The seed typed in the page (text or int) as an int in [0, 2^64); a ValueError says what is wrong.

    Only the digits 0-9: "1e9", "3.7" and "-1" are refused, never read as another number.
    """
    text = str(seed).strip()
    if isinstance(seed, bool) or not re.fullmatch(r"[0-9]+", text):
        raise ValueError(f"seed: expected a whole number >= 0, like 10; got {text!r}")
    if int(text) > SEED_MAX:
        raise ValueError(f"seed: at most 2^64 - 1 = {SEED_MAX} (torch's limit), got a number of {len(text)} digits")
    return int(text)


def check(settings):
    """The net's units ``[u^0, ..., u^L]`` for ``settings``; a ValueError names the setting that is wrong."""
    s = settings
    if s.data not in DATA_SETS:
        raise ValueError(f"data: expected one of {', '.join(DATA_SETS)}, got {s.data!r}")
    if s.activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {', '.join(ACTIVATIONS)}, got {s.activation!r}")
    if s.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {s.optimizer!r}")
    if s.norm not in NORMS:
        raise ValueError(f"norm: expected one of {', '.join(NORMS)}, got {s.norm!r}")
    if s.schedule not in SCHEDULES:
        raise ValueError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {s.schedule!r}")
    if not 0 <= s.dropout < 1:
        raise ValueError(f"dropout: expected a probability in [0, 1), got {s.dropout!r}")
    if not 0 < s.train_share < 1:
        raise ValueError(f"train share: expected a number in (0, 1), got {s.train_share!r}")
    if not (np.isfinite(s.l2) and s.l2 >= 0):
        raise ValueError(f"L2 λ: expected a number >= 0, got {s.l2!r}")
    if s.criterion not in ("bce", "cross_entropy"):
        raise ValueError(f"classifier: expected bce or cross_entropy, got {s.criterion!r}")
    seed_number(s.seed)
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

    @property
    def seed(self):
        return seed_number(self.settings.seed)

    def warnings(self):
        """The run's warnings for the learner (:meth:`~scratchnn.apps.run.Run.warnings`), ‖δ^1‖'s fall included."""
        delta = self.delta
        return self.run.warnings(delta1=(delta[0][0], delta[-1][0]) if len(delta) > 1 else None)

    def parted(self):
        """The first epoch at which the free-running scratch-torch loss gap exceeds PARTED ε, else None."""
        torch_loss = self.torch_loss
        if torch_loss is None or not len(torch_loss):
            return None
        above = np.flatnonzero(runs.relative_gap(self.loss, torch_loss) > PARTED * np.finfo(self.net.dtype).eps)
        return int(above[0]) if len(above) else None

    @property
    def message(self):
        """How the run ended, when there is something to say ("" for a run that simply finished)."""
        twin = self.run.twin
        plain = self.run.status == "done" and (twin is None or twin.diverged_at is None)
        return "" if plain else self.run.message
    loss = property(lambda self: self.run.loss)
    val_loss = property(lambda self: self.run.history.val_loss)  # the test points' loss per epoch, or None
    epochs = property(lambda self: self.run.epochs)
    seconds = property(lambda self: self.run.seconds)
    delta_epochs = property(lambda self: [epoch for epoch, _ in self.run.snapshots])
    delta = property(lambda self: [norms for _, norms in self.run.snapshots])

    @property
    def train_seconds(self):
        """scratchnn's own training time (compile and cache load excluded)."""
        return self.run.history.seconds

    @property
    def torch_running(self):
        """True while the torch twin has epochs left to train (it trains after scratchnn)."""
        twin = self.run.twin
        return (twin is not None and twin.diverged_at is None and self.run.status != "diverged"
                and sum(h.epochs for h in twin.histories) < self.run.epochs)

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

    def data(self, settings, dtype, seed):
        """``(X, Y, X_show, y_show)`` for ``settings.data`` drawn with ``seed`` (see :class:`PlayRun`)."""
        s = settings
        key = (s.data, s.noise, seed, s.criterion, dtype, s.train_share) if s.data != "workshop" else ("workshop", dtype)
        if key not in self._data:
            if s.data == "workshop":
                X, Y = workshop_data(dtype)
                self._data[key] = (X, Y, workshop_test_points(X), None)
            else:
                (X, y), (X_test, y_test) = datasets.playground_split(s.data, noise=s.noise, seed=seed, dtype=dtype,
                                                                          train_share=s.train_share)
                Y = y if s.criterion == "cross_entropy" else y[:, None].astype(dtype)
                self._data[key] = (X, Y, X_test, y_test)
        return self._data[key]

    def run(self, settings, stop=lambda: False, progress=None, trained=None):
        """Train ``settings``'s net; returns the :class:`PlayRun`.

        Between two chunks ``stop()`` is asked (True ends the run: status "stopped") and
        ``progress(run)`` is told how far it went. With ``compare_torch`` the torch twin trains
        the same chunks once scratchnn's run has ended (``trained(run)`` is called in between,
        so that scratchnn's result can be shown first). A ValueError means bad settings (:func:`check`).
        """
        units = check(settings)
        s = settings
        dtype = np.dtype(s.dtype)
        seed = seed_number(s.seed)
        X, Y, X_show, y_show = self.data(s, dtype, seed)
        criterion = "mse" if s.data == "workshop" else s.criterion
        net = runs.build_net(units, s.activation, criterion, dtype, generator=seed,
                             norm=None if s.norm == "none" else s.norm, dropout=s.dropout)
        run = runs.Run(net, X, Y, loop_settings(s, seed), twin="after" if s.compare_torch else False,
                       validation=None if y_show is None else (X_show, self.targets(y_show, criterion, dtype)))
        play_run = PlayRun(s, run, X_show, y_show)
        self._train(play_run, stop, progress, trained)
        return play_run

    @staticmethod
    def targets(y, criterion, dtype):
        """Class indices ``y`` as ``criterion`` takes them (bce: a float column)."""
        return y if criterion == "cross_entropy" else y[:, None].astype(dtype)

    def extend(self, play_run, epochs, stop=lambda: False, progress=None, trained=None):
        """Train ``play_run`` ``epochs`` epochs further (the page's ▶ play and one-epoch step); returns it.

        A run ended by ``stop()`` (⏸ pause) is a run of the epochs it trained: its settings say so.
        """
        run = play_run.run
        target = run.epochs + epochs
        run.settings = dataclasses.replace(run.settings, epochs=target)
        play_run.settings = dataclasses.replace(play_run.settings, epochs=target)
        self._train(play_run, stop, progress, trained)
        if run.status == "stopped":
            run.settings = dataclasses.replace(run.settings, epochs=run.epochs)
            play_run.settings = dataclasses.replace(play_run.settings, epochs=run.epochs)
            run.status = "done"
        return play_run

    @staticmethod
    def _train(play_run, stop, progress, trained):
        run = play_run.run
        told = None if progress is None else (lambda _: progress(play_run))
        run.train(progress=told, stop=stop, snapshot=_delta_norms, samples=DELTA_SAMPLES)
        if trained is not None:
            trained(play_run)
        if run.twin is not None and run.status != "diverged":
            run.train_twin(progress=told, stop=stop)


def _delta_norms(run):
    """‖δ^j‖ of ``run``'s net on its data, the net's generator left where it was: a forward pass with dropout
    draws masks, and the next epoch's must be the ones a fit without these snapshots draws."""
    generator = run.net.generator.get_state()
    try:
        return delta_norms(run.net, run.X, run.Y)
    finally:
        run.net.generator.set_state(*generator)


def loop_settings(settings, seed):
    """The applications' :class:`~scratchnn.apps.run.Settings` for the page's ``settings``."""
    s = settings
    optimizer = "sgd" if s.optimizer == "momentum" else s.optimizer
    schedule = {"none": {}, "step": dict(schedule="step", step_size=max(1, s.epochs // 4), gamma=STEP_GAMMA),
                "exp": dict(schedule="exp", gamma=EXP_GAMMA),
                "cosine": dict(schedule="cosine", t_max=max(1, s.epochs))}[s.schedule]
    return runs.Settings(optimizer, s.lr, MOMENTUM if s.optimizer == "momentum" else 0.0, s.epochs, s.batch_size,
                         seed, s.engine, l2=s.l2, **schedule)
