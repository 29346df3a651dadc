"""What an epoch is: the order it visits the data, and what a fit records.

Every engine shares these (the NumPy loop of :mod:`scratchnn.train`, the numba one of
:mod:`scratchnn.fast`, torch's in ``torchref.train``), so a fit visits the same batches
and ends in the same :class:`History` whichever engine ran it. The lowest floor of the
training code: it imports nothing of scratchnn but the argument checks.
"""

import numpy as np

from .checks import check_int


class DivergenceError(RuntimeError):
    """A fit met a non-finite loss. ``epoch`` is where; ``history`` holds the epochs before it."""

    def __init__(self, epoch, history):
        self.epoch = epoch
        self.history = history
        super().__init__(f"the loss became non-finite at epoch {epoch}; training stopped (lower the learning rate?)")


class History:
    """What a fit recorded: ``loss`` (one per epoch), ``val_loss`` (or None), timings."""

    def __init__(self, loss, val_loss=None, engine="numpy", seconds=0.0, compile_seconds=0.0):
        self.loss = np.asarray(loss, dtype=np.float64)
        self.val_loss = None if val_loss is None else np.asarray(val_loss, dtype=np.float64)
        self.engine = engine
        self.seconds = seconds
        self.compile_seconds = compile_seconds

    @property
    def epochs(self):
        return len(self.loss)

    def __repr__(self):
        last = f", final loss {self.loss[-1]:.6g}" if len(self.loss) else ""
        return f"History({self.epochs} epochs, engine={self.engine!r}{last})"


def epoch_order(n, seed, epoch):
    """The order in which epoch ``epoch`` visits the ``n`` data points (minibatch fits).

    A permutation drawn from NumPy's PCG64 seeded with ``(seed, epoch)``: any
    engine, torchref included, can replay any epoch without replaying the others.
    """
    return np.random.default_rng([seed, epoch]).permutation(n)


def batches(n, batch_size, seed, epoch):
    """The index arrays of epoch ``epoch``'s minibatches, in order; the whole data when batch_size is None."""
    if batch_size is None:
        return [slice(None)]
    order = epoch_order(n, seed, epoch)
    return [order[k : k + batch_size] for k in range(0, n, batch_size)]


def check_loop_args(epochs, batch_size, seed, start_epoch):
    """Validate the loop settings every engine shares (torchref's fit included); returns ``(epochs, batch_size)``."""
    epochs = check_int("epochs", epochs, 1)
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, 1)
    check_int("seed", seed, 0)
    check_int("start_epoch", start_epoch, 0)
    return epochs, batch_size
