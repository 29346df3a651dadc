"""One run: settings in, one chunked training loop, a run out. Every application trains through it.

The workshop job, ``scratchnn fit``, the sweep's cells, the playground and the bench do not
write training loops of their own: they build a :class:`Run` from a net, its data and
:class:`Settings`, and call :meth:`Run.train` with what they want to hear back:

* ``progress(run)`` after every chunk (a progress bar, a page's streamed figures);
* ``stop()`` before every chunk (True ends the run: status ``"stopped"``);
* ``snapshot(run)`` at every chunk boundary, kept in ``run.snapshots`` as ``(epoch, value)``
  (the playground's ‖δ^j‖ per layer).

The loop trains in chunks of epochs with :func:`scratchnn.fit` (``start_epoch`` numbers them,
so a run in chunks is bit for bit the run in one piece). A chunk lasts about
:data:`CHUNK_SECONDS` (the delay of a Stop and of a streamed figure), the first one
:data:`FIRST_CHUNK` epochs (it also measures the time per epoch). With ``twin=True`` the torch
twin (:class:`TorchTwin`) trains the same chunks from the same θ^j and optimizer state right
after scratchnn's (``twin="after"``: over the same chunks once scratchnn's run has ended,
:meth:`Run.train_twin`, so an application can show scratchnn's result first). A Ctrl-C inside a chunk rolls the chunk back (scratchnn's and the twin's
parameters and optimizer state), so the parameters always match the recorded history.

Status words: ``"running"``, ``"done"``, ``"stopped"`` (``stop()`` said so), ``"interrupted"``
(Ctrl-C) and ``"diverged"`` (a non-finite loss; ``diverged_at`` is its epoch).
"""

import copy
import dataclasses
import time

import numpy as np

from .. import fast
from ..diagnostics import saturation, stuck
from ..epochs import DivergenceError, History
from ..losses import get as get_criterion
from ..mlp import MLP
from ..optimizers import SGD, Adagrad, Adam, AdamW, RMSprop
from ..schedules import CosineAnnealingLR, ExponentialLR, StepLR
from ..table import units_label
from ..train import ENGINES, fit

CHUNK_SECONDS = 0.25  # a chunk trains about this long at most: the delay of a Stop and of a streamed view
FIRST_CHUNK = 10  # epochs of the first chunk, which also measures the time per epoch
DIVERGED_RISE = 2.0  # a finite loss that ends above this many times its start has diverged (Adam's early
# overshoot ends a 5-epoch workshop fit at 1.1x its start; lr 1e6 or SGD at lr 1e4 end at 4x)
OPTIMIZERS = {"adam": Adam, "sgd": SGD, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad}  # name -> class
WITH_MOMENTUM = ("sgd", "rmsprop")
SCHEDULES = {"step": StepLR, "exp": ExponentialLR, "cosine": CosineAnnealingLR}  # name -> class
SCHEDULE_FIELDS = {"step_size": ("step",), "gamma": ("step", "exp"), "t_max": ("cosine",), "eta_min": ("cosine",)}
ENGINE_CHOICES = ("auto",) + ENGINES
TORCH_EXTRA = "pip install -e '.[torch]'"  # the one install spelling, as the README's
COMPILE_NOTE = "compiling the numba engine (first run only, about a minute) ..."  # said before it starts


@dataclasses.dataclass(frozen=True)
class Settings:
    """How a net is trained; the defaults are the workshop notebook's (Adam, lr 0.015, 1000 full-batch epochs, seed 10).

    ``seed`` numbers the minibatch orders (:func:`scratchnn.epoch_order`); the net's initial θ^j
    come from whoever built it (:func:`build_net`). ``engine`` is the one that trains, never
    "auto" (:func:`resolve_engine` picks it). ``l2`` is λ of λ/(2n) Σ_j ‖θ^j[:, 1:]‖².
    ``optimizer``: adam, sgd, adamw, rmsprop or adagrad (``momentum``: sgd and rmsprop);
    ``weight_decay`` is torch's (None: the optimizer's default, 1e-2 for AdamW, else 0).
    ``schedule``: None (a fixed lr), "step" (``step_size``, ``gamma`` default 0.1), "exp"
    (``gamma``) or "cosine" (``t_max`` default ``epochs``, ``eta_min`` default 0), stepped per epoch.
    """

    optimizer: str = "adam"
    lr: float = 0.015
    momentum: float = 0.0
    epochs: int = 1000
    batch_size: int | None = None
    seed: int = 10
    engine: str = "numpy"
    l2: float = 0.0
    weight_decay: float | None = None
    schedule: str | None = None
    step_size: int | None = None
    gamma: float | None = None
    t_max: int | None = None
    eta_min: float | None = None

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.engine not in ENGINES:
            raise ValueError(f"engine: expected one of {', '.join(ENGINES)} (the one that trains), got {self.engine!r}")
        if self.optimizer not in WITH_MOMENTUM and self.momentum:
            raise ValueError("momentum: only SGD and RMSprop have momentum; use optimizer 'sgd' or 'rmsprop'")
        if self.schedule is not None and self.schedule not in SCHEDULES:
            raise ValueError(f"schedule: expected None or one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        for field, schedules in SCHEDULE_FIELDS.items():
            if getattr(self, field) is not None and self.schedule not in schedules:
                raise ValueError(f"{field}: only the schedule {' or '.join(map(repr, schedules))} takes it, "
                                 f"and the schedule is {self.schedule!r}")
        if self.schedule == "step" and self.step_size is None:
            raise ValueError("step_size: the step schedule needs it (epochs between two decays)")
        if self.schedule == "exp" and self.gamma is None:
            raise ValueError("gamma: the exp schedule needs it (the factor of every epoch)")


def make_optimizer(settings, theta):
    """The optimizer ``settings`` name over theta, with their lr, momentum (SGD, RMSprop) and weight decay."""
    kwargs = {"lr": settings.lr}
    if settings.optimizer in WITH_MOMENTUM:
        kwargs["momentum"] = settings.momentum
    if settings.weight_decay is not None:
        kwargs["weight_decay"] = settings.weight_decay
    return OPTIMIZERS[settings.optimizer](theta, **kwargs)


def make_scheduler(settings, optimizer):
    """The schedule ``settings`` name over ``optimizer``, or None for a fixed learning rate."""
    s = settings
    if s.schedule is None:
        return None
    if s.schedule == "step":
        return StepLR(optimizer, s.step_size, 0.1 if s.gamma is None else s.gamma)
    if s.schedule == "exp":
        return ExponentialLR(optimizer, s.gamma)
    return CosineAnnealingLR(optimizer, s.epochs if s.t_max is None else s.t_max, s.eta_min or 0.0)


def build_net(units, activation="tanh", criterion="mse", dtype=np.float32, generator=10, norm=None, dropout=0.0):
    """An MLP whose hidden layers use ``activation`` and whose output layer suits ``criterion``.

    mse: every layer ``activation`` (the workshop's all-tanh nets); bce: a sigmoid output;
    cross_entropy: an identity output (the logits). ``generator``: a seed or a shared
    :class:`~scratchnn.TorchGenerator` (several nets drawn one after the other, as the notebook does).
    ``norm`` (None, "batch", "layer") and ``dropout`` (p) go to every hidden layer, as ``MLP`` puts them.
    An unknown activation is refused by the MLP itself, with the known names.
    """
    output = get_criterion(criterion).output
    activations = activation if output is None else [activation] * (len(units) - 2) + [output]
    return MLP(units, activations=activations, dtype=dtype, generator=generator, criterion=criterion, norm=norm,
               dropout=dropout)


def resolve_engine(name, log=print):
    """The engine that trains for ``--engine name``: "numpy", "numba", or "auto" (numba when usable).

    The numba engine trains every net, optimizer and schedule a run can ask for. "auto" falls back
    to NumPy with a message naming why numba is unusable here; "numba" that is unusable raises
    RuntimeError with the reason. Either way nothing is swallowed.
    """
    if name not in ENGINE_CHOICES:
        raise ValueError(f"engine: expected one of {', '.join(ENGINE_CHOICES)}, got {name!r}")
    if name == "numpy":
        return name
    reason = fast.why_unusable()
    if reason is None:
        return "numba"
    if name == "numba":
        raise RuntimeError(f"engine numba: {reason}; use the NumPy engine (--engine numpy)")
    log(f"engine auto: using the NumPy engine, since {reason}")
    return "numpy"


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


def join_histories(histories, engine):
    """One History holding ``histories`` one after the other (losses, timings summed)."""
    loss = np.concatenate([h.loss for h in histories]) if histories else np.zeros(0)
    has_val = bool(histories) and histories[0].val_loss is not None
    val = np.concatenate([h.val_loss for h in histories]) if has_val else None
    return History(loss, val, engine, seconds=sum(h.seconds for h in histories),
                   compile_seconds=sum(h.compile_seconds for h in histories))


def relative_gap(loss, reference):
    """``|loss - reference| / |reference|`` per epoch, over the epochs both histories have."""
    k = min(len(loss), len(reference))
    return np.abs(loss[:k] - reference[:k]) / np.abs(reference[:k])


def per_epoch_ms(history):
    """Milliseconds per epoch, compile time excluded (a History's ``seconds`` leave it out)."""
    return 1e3 * history.seconds / max(history.epochs, 1)


class TorchTwin:
    """The torch copy of a net and its optimizer, from the same θ^j and state, trained chunk by chunk.

    Built before training (``torchref.to_torch``, ``torchref.optimizer_to_torch``); every chunk
    is ``torchref.fit`` over the same epochs, on one torch thread. ``model`` is the torch
    module; ``diverged_at`` the epoch of torch's first non-finite loss (torch then stops).
    The twin keeps a torch generator state of its own, started where the net's generator is, and
    trains on it (torch's global generator is given back after each chunk): its dropout masks
    are the net's.
    """

    def __init__(self, net, optimizer, scheduler=None):
        torchref = load_torchref()
        if torchref is None:
            raise ImportError(f"the torch twin needs torch, which is not installed: {TORCH_EXTRA}")
        import torch

        self.torch, self.torchref = torch, torchref
        self.criterion = net.criterion
        self.model = torchref.to_torch(net)
        self.optimizer = torchref.optimizer_to_torch(optimizer, self.model)
        self.scheduler = None if scheduler is None else torchref.scheduler_to_torch(scheduler, self.optimizer)
        self.rng_state = torchref.bridge.torch_rng_state(net.generator)  # the twin's dropout masks start here
        self.histories = []
        self.diverged_at = None

    def train(self, X, Y, k, start, settings):
        """Train epochs ``start`` … ``start + k - 1`` as scratchnn just did."""
        if self.diverged_at is not None:
            return
        s = settings
        saved = self.torch.get_rng_state()
        self.torch.set_rng_state(self.rng_state)
        with torch_threads(self.torch, 1):
            try:
                h = self.torchref.fit(self.model, X, Y, self.optimizer, k, s.batch_size, s.seed, start_epoch=start,
                                      criterion=self.criterion, l2=s.l2, scheduler=self.scheduler)
            except DivergenceError as exc:
                h = exc.history
                self.diverged_at = start + exc.epoch
            finally:
                self.rng_state = self.torch.get_rng_state()
                self.torch.set_rng_state(saved)
        self.histories.append(h)

    def snapshot(self):
        """Record the model and optimizer state; returns the function that restores them."""
        model_state = copy.deepcopy(self.model.state_dict())
        opt_state = copy.deepcopy(self.optimizer.state_dict())
        sched_state = None if self.scheduler is None else copy.deepcopy(self.scheduler.state_dict())
        count = len(self.histories)
        rng_state = self.rng_state.clone()

        def restore():
            self.rng_state = rng_state
            self.model.load_state_dict(model_state)
            self.optimizer.load_state_dict(opt_state)
            if sched_state is not None:
                self.scheduler.load_state_dict(sched_state)
            del self.histories[count:]

        return restore

    @property
    def history(self):
        return join_histories(self.histories, "torch")

    def net(self):
        """torch's trained parameters as a scratchnn MLP (to draw and evaluate them with the same functions)."""
        return self.torchref.from_torch(self.model, self.criterion)

    def forward(self, X):
        """The torch model's output for X (no gradient)."""
        with self.torch.no_grad():
            return self.model(self.torch.from_numpy(X)).numpy()


def snapshot_scratch(net, optimizer, scheduler=None):
    """Record ``net.params`` (and batch norm's running statistics, the generator's position), the optimizer's state
    and lr, the schedule's epoch; returns what restores them."""
    live = net.params + net.running_mean + net.running_var
    theta = [t.copy() for t in live]
    generator = net.generator.get_state()  # where the next dropout masks come from
    state = {k: [a.copy() for a in arrays] for k, arrays in optimizer.state_arrays().items()}
    t, lr = optimizer.t, optimizer.lr
    epoch = None if scheduler is None else scheduler.last_epoch

    def restore():
        for dst, src in zip(live, theta):
            dst[...] = src
        net.generator.set_state(*generator)
        for k, arrays in optimizer.state_arrays().items():
            for dst, src in zip(arrays, state[k]):
                dst[...] = src
        optimizer.t, optimizer.lr = t, lr
        if scheduler is not None:
            scheduler.last_epoch = epoch

    return restore


class Run:
    """One training run of ``net`` on (X, Y) as ``settings`` say, as far as it went.

    ``net`` is trained in place; ``optimizer`` and ``scheduler`` are built from the settings (or given);
    ``validation`` ``(X_val, Y_val)`` is handed to :func:`scratchnn.fit` (``history.val_loss``).
    ``chunks`` (one History per trained chunk), ``history`` (them joined: one loss per trained epoch), ``twin`` (the :class:`TorchTwin`,
    or None) and ``torch_history``; ``snapshots`` [(epoch, value)]; ``status``, ``message``,
    ``diverged_at``; ``seconds`` (wall time so far, twin and snapshots included).
    """

    def __init__(self, net, X, Y, settings=Settings(), twin=False, optimizer=None, label=None, scheduler=None,
                 validation=None):
        self.net, self.X, self.Y, self.settings = net, X, Y, settings
        self.validation = validation  # (X_val, Y_val): fit's validation loss per epoch, in history.val_loss
        self.optimizer = optimizer if optimizer is not None else make_optimizer(settings, net.params)
        self.scheduler = scheduler if scheduler is not None else make_scheduler(settings, self.optimizer)
        self.twin = TorchTwin(net, self.optimizer, self.scheduler) if twin else None  # before training: the same θ^j
        self.twin_after = twin == "after"  # the twin trains in train_twin, once scratchnn's run has ended
        self.label = label or units_label(net.units)
        self.chunks = []
        self.snapshots = []
        self.status, self.diverged_at, self.seconds = "running", None, 0.0

    # ------------------------------------------------------------------ what was recorded
    @property
    def history(self):
        return join_histories(self.chunks, self.settings.engine)

    @property
    def loss(self):
        """𝓛 before each trained epoch's update ``(epochs,)``."""
        return self.history.loss

    @property
    def epochs(self):
        """Epochs trained so far."""
        return sum(h.epochs for h in self.chunks)

    @property
    def torch_history(self):
        return None if self.twin is None else self.twin.history

    @property
    def message(self):
        """One line on how the run ended (empty while it runs)."""
        s = self.settings
        if self.status == "diverged":
            return (f"diverged: the loss became non-finite at epoch {self.diverged_at} with learning rate {s.lr:g}; "
                    f"lower the learning rate")
        if self.status == "interrupted":
            return f"interrupted after {self.epochs} epochs; what was trained is kept"
        if self.status == "stopped":
            return f"stopped after {self.epochs} of {s.epochs} epochs"
        if self.status == "done":
            if self.twin is not None and self.twin.diverged_at is not None:
                return f"done: {self.epochs} epochs; torch diverged at epoch {self.twin.diverged_at}"
            return f"done: {self.epochs} epochs"
        return ""

    def warnings(self, delta1=None):
        """What a learner should be told about a finished run: a loss that rose, a saturated or dead net.

        ``delta1``: ‖δ^1‖ before the first and after the last epoch, when the caller measured it
        (:func:`scratchnn.diagnostics.stuck` then also calls a net whose error vanished stuck).
        """
        out = []
        loss = self.loss
        if self.status != "diverged" and self.rose:
            verdict = ("the fit diverged; lower the learning rate" if self.diverged
                       else "train longer, or lower the learning rate")
            out.append(f"the loss ended above where it started ({loss[0]:.4e} -> {loss[-1]:.4e}, "
                       f"{loss[-1] / loss[0]:.1f}x): {verdict}")
        if self.status != "diverged" and self.net.L > 1:
            word, fraction = saturation(self.net, self.X)
            output = self.net.activations[-1] if self.net.criterion == "mse" else None
            line = stuck(word, fraction, *(delta1 or (None, None)), output=output)
            if line is not None:
                out.append(line)
        return out

    @property
    def rose(self):
        """True when the last loss is above the first (a fit that went the wrong way)."""
        loss = self.loss
        return len(loss) > 1 and bool(loss[-1] > loss[0])

    @property
    def diverged(self):
        """True for a non-finite loss, and for a finite one that ended above DIVERGED_RISE times its start."""
        loss = self.loss
        return self.status == "diverged" or (len(loss) > 1 and bool(loss[-1] > DIVERGED_RISE * loss[0]))

    # ------------------------------------------------------------------ the loop
    def train(self, progress=None, stop=None, snapshot=None, samples=1):
        """Train the remaining epochs in chunks; returns ``self``.

        ``samples``: at least this many chunks (so ``snapshot`` is taken at least that often).
        """
        s = self.settings
        start = time.perf_counter() - self.seconds
        longest = max(1, s.epochs // samples)
        k = min(FIRST_CHUNK, longest)
        self.status = "running"
        while self.epochs < s.epochs:
            if stop is not None and stop():
                self.status = "stopped"
                break
            if snapshot is not None:
                self.snapshots.append((self.epochs, snapshot(self)))
            k = min(k, s.epochs - self.epochs)
            chunk_start = time.perf_counter()
            restore = snapshot_scratch(self.net, self.optimizer, self.scheduler)
            restore_twin = None if self.twin is None else self.twin.snapshot()
            try:
                h = fit(self.net, self.X, self.Y, self.optimizer, k, s.batch_size, s.seed, engine=s.engine,
                        start_epoch=self.epochs, l2=s.l2, scheduler=self.scheduler, validation=self.validation)
                if self.twin is not None and not self.twin_after:
                    self.twin.train(self.X, self.Y, k, self.epochs, s)
            except KeyboardInterrupt:
                restore()
                if restore_twin is not None:
                    restore_twin()
                self.status = "interrupted"
                break
            except DivergenceError as exc:
                self.chunks.append(exc.history)
                self.status, self.diverged_at = "diverged", self.epochs
                break
            self.chunks.append(h)
            per_epoch = max(time.perf_counter() - chunk_start - h.compile_seconds, 1e-9) / k  # the twin's included
            k = int(min(longest, max(1, CHUNK_SECONDS / per_epoch)))
            self.seconds = time.perf_counter() - start
            if progress is not None:
                progress(self)
        if snapshot is not None and self.status != "diverged":
            self.snapshots.append((self.epochs, snapshot(self)))
        if self.status == "running":
            self.status = "done"
        self.seconds = time.perf_counter() - start
        return self


    def train_twin(self, progress=None, stop=None):
        """With ``twin="after"``: train the torch twin over the chunks scratchnn trained, one after the other;
        returns ``self``. ``progress(run)`` after every chunk, ``stop()`` before each (True leaves the rest)."""
        done = len(self.twin.histories)
        start = sum(h.epochs for h in self.chunks[:done])
        for h in self.chunks[done:]:
            if stop is not None and stop():
                break
            self.twin.train(self.X, self.Y, h.epochs, start, self.settings)
            start += h.epochs
            if progress is not None:
                progress(self)
        return self


class ProgressBar:
    """``with ProgressBar(total, desc, enabled) as bar: run.train(progress=bar)``: a tqdm bar over epochs."""

    def __init__(self, total, desc="training", enabled=True):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=desc, unit="epoch", disable=not enabled, leave=False, mininterval=0.5)

    def __call__(self, run):
        self.bar.update(run.epochs - self.bar.n)
        if run.epochs:  # the last chunk's last loss: no need to join every chunk's history for it
            self.bar.set_postfix(loss=f"{run.chunks[-1].loss[-1]:.3g}", refresh=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()


def train(run, desc=None, progress=False, **callbacks):
    """``run.train(...)`` with a progress bar on stderr when ``progress``; returns the run."""
    with ProgressBar(run.settings.epochs, desc or f"{run.label} {run.settings.engine}", progress) as bar:
        return run.train(progress=bar, **callbacks)

