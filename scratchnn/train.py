"""The training loop: the workshop's loop, written once for every engine.

Per epoch, exactly as the notebook's cell does for the whole batch::

    prediction = forward(X); loss = L(prediction, Y); record loss;
    D = backward; optimizer.step(D)
    scheduler.step()                    (with a scheduler: the next epoch's lr)

so ``history.loss[e]`` is the loss *before* epoch e's update. With
``batch_size`` set, each epoch visits the data in the order
``epoch_order(n, seed, e)`` in consecutive batches of ``batch_size`` (the last
one may be smaller), one update per batch, and records the size-weighted mean
of the batch losses, each taken before its own update. The validation loss is
taken with the parameters as they are at the start of the epoch.

The visiting order, the batches and the :class:`History` a fit returns live in
:mod:`scratchnn.epochs`, shared by every engine.
"""

import time

import numpy as np

from .checks import check_pair, check_real
from .epochs import DivergenceError, History, batches, check_loop_args
from .fast import refusal as numba_refusal
from .optimizers import Adam, Optimizer
from .schedules import Schedule

ENGINES = ("numpy", "numba")


def check_fit_args(net, X, Y, optimizer, epochs, batch_size, seed, validation, engine, start_epoch=0,
                   scheduler=None):
    """Validate ``fit``'s arguments; returns ``(epochs, batch_size, Y, validation)`` with the criterion's
    ``(n, u^L)`` targets in Y and in validation's second entry (class indices become one-hot rows)."""
    Y = check_pair(X, Y, net)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected a scratchnn optimizer (SGD, Adam, AdamW, RMSprop or Adagrad), "
                        f"got {type(optimizer).__name__}")
    params = net.params  # θ^j, then the γ^j and β^j of a norm
    if len(optimizer.theta) != len(params) or any(a is not b for a, b in zip(optimizer.theta, params)):
        if net.norm and len(optimizer.theta) == len(net.theta):
            raise ValueError("optimizer: a net with a norm trains θ^j, γ^j and β^j: build the optimizer on "
                             "net.params (e.g. Adam(net.params)), not on net.theta")
        raise ValueError("optimizer: it must have been built on this net's parameters (e.g. Adam(net.params))")
    if scheduler is not None:
        if not isinstance(scheduler, Schedule):
            raise TypeError(f"scheduler: expected a scratchnn schedule (StepLR, ExponentialLR or CosineAnnealingLR), "
                            f"got {type(scheduler).__name__}")
        if scheduler.optimizer is not optimizer:
            raise ValueError("scheduler: it must have been built on this fit's optimizer "
                             "(e.g. CosineAnnealingLR(opt, T_max) with fit(..., optimizer=opt))")
    epochs, batch_size = check_loop_args(epochs, batch_size, seed, start_epoch)
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError("validation: expected a pair (X_val, Y_val)")
        validation = (validation[0], check_pair(*validation, net, names=("validation[0]", "validation[1]")))
    if engine not in ENGINES:
        raise ValueError(f"engine: expected one of {ENGINES}, got {engine!r}")
    if engine == "numba" and numba_refusal(optimizer, scheduler, net) is not None:
        raise ValueError(numba_refusal(optimizer, scheduler, net))
    return epochs, batch_size, Y, validation


def fit(
    net, X, Y, optimizer=None, epochs=1000, batch_size=None, seed=0, validation=None, engine="numpy", start_epoch=0,
    l2=0.0, scheduler=None,
):
    """Train ``net`` on (X, Y) with its criterion (``net.criterion``); returns a :class:`History`.

    Y: the targets the criterion takes (class indices or probabilities for ``cross_entropy``).
    ``l2=λ`` adds λ/(2n) Σ_j ‖θ^j[:, 1:]‖² to every batch's loss and (λ/n) θ^j[:, 1:] to its D^j,
    with n the number of training points (Ng's m) whatever the batch size; the validation
    loss is the criterion alone.
    ``optimizer`` defaults to the workshop's ``Adam(net.params, lr=0.015)`` (``net.params`` is ``net.theta``
    without a norm; with one, θ^j, then the γ^j, then the β^j).
    The net trains in training mode (batch norm on each batch's statistics, dropout drawing its
    masks) and the validation loss is taken in evaluation mode (running statistics, no dropout),
    as a torch loop with ``model.train()`` / ``model.eval()`` does; the net is left in the mode it
    had before the fit.
    ``scheduler``: a schedule of ``optimizer`` (:mod:`scratchnn.schedules`), stepped once at the end
    of every epoch, after the epoch's last optimizer step, as torch's ``scheduler.step()``.
    ``engine="numba"`` runs the same loop compiled (:mod:`scratchnn.fast`): every optimizer, schedule
    and net of scratchnn (an optimizer class of one's own: ValueError).
    ``start_epoch`` numbers the first epoch (it picks the minibatch orders), so
    a fit run in pieces visits the data exactly as one run would.
    Raises :class:`DivergenceError` at the first non-finite loss.
    """
    if optimizer is None:
        optimizer = Adam(net.params, lr=0.015)
    # the criterion's (n, u^L) targets, once for the whole fit: class indices become one-hot rows
    epochs, batch_size, Y, validation = check_fit_args(net, X, Y, optimizer, epochs, batch_size, seed, validation,
                                                       engine, start_epoch, scheduler)
    l2 = check_real("l2", l2, low=0.0)
    if engine == "numba":
        from .fast import fit as fast_fit

        history = fast_fit(net, X, Y, optimizer, epochs, batch_size, seed, validation, start_epoch, l2, scheduler)
    else:
        history = _fit_numpy(net, X, Y, optimizer, epochs, batch_size, seed, validation, start_epoch, l2, scheduler)
    if len(history.loss) < epochs:
        raise DivergenceError(len(history.loss), history)
    return history


def _fit_numpy(net, X, Y, optimizer, epochs, batch_size, seed, validation, start_epoch, l2=0.0, scheduler=None):
    was_training = net.training
    try:
        return _epochs_numpy(net, X, Y, optimizer, epochs, batch_size, seed, validation, start_epoch, l2, scheduler)
    finally:
        net.train(was_training)


def _epochs_numpy(net, X, Y, optimizer, epochs, batch_size, seed, validation, start_epoch, l2, scheduler):
    n = X.shape[0]
    losses, val_losses = [], [] if validation is not None else None
    start = time.perf_counter()
    for epoch in range(epochs):
        if validation is not None:
            net.eval()  # batch norm on its running statistics, no dropout
            val_loss = float(net.loss_unchecked(*validation))  # with the parameters at the start of the epoch
        net.train()
        epoch_loss = 0.0
        for idx in batches(n, batch_size, seed, start_epoch + epoch):
            with np.errstate(over="ignore", invalid="ignore"):  # a diverging fit is caught just below
                loss, D = net.loss_and_grad_unchecked(X[idx], Y[idx], l2, n)
            epoch_loss += float(loss) * (1.0 if batch_size is None else len(idx) / n)
            if not np.isfinite(epoch_loss):
                # stop at the first non-finite loss: the history keeps the epochs before it
                return History(losses, val_losses, "numpy", time.perf_counter() - start)
            optimizer.step(D)
        if scheduler is not None:
            scheduler.step()  # lr for the next epoch
        losses.append(epoch_loss)
        if validation is not None:
            val_losses.append(val_loss)
    return History(losses, val_losses, "numpy", time.perf_counter() - start)
