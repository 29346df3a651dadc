"""The workshop notebook's training loop, in plain PyTorch.

    for epoch in range(epochs):
        pred_y = model(x); optimizer.zero_grad(); loss = loss_function(pred_y, y)
        losses.append(loss.item()); loss.backward(); optimizer.step()
        scheduler.step()                                   # with a scheduler

With ``batch_size`` the batches are ``scratchnn.batches(n, batch_size, seed, epoch)``,
the very ones the scratch engines visit.
"""

import time

import numpy as np
import torch

import scratchnn as sn
from scratchnn.epochs import check_loop_args

from .bridge import l2_term, linears, linears_and_activations, loss_function, torch_targets


def _as_tensor(name, A, dtype, columns):
    if isinstance(A, torch.Tensor):
        A = A.detach().numpy()
    sn.checks.check_data(name, A, np.dtype(dtype), columns)
    return torch.from_numpy(A)


def _as_targets(name, Y, dtype, columns, criterion):
    """Targets checked as scratchnn checks them for ``criterion``, as torch takes them (class indices int64)."""
    if isinstance(Y, torch.Tensor):
        Y = Y.detach().numpy()
    sn.losses.get(criterion).targets(name, Y, np.dtype(dtype), columns)
    return torch_targets(Y)


def fit(model, X, Y, optimizer=None, epochs=1000, batch_size=None, seed=0, validation=None, start_epoch=0,
        criterion="mse", l2=0.0, scheduler=None):
    """Train a torch ``nn.Sequential`` like ``scratchnn.fit``; returns a ``scratchnn.History``.

    ``optimizer`` defaults to ``torch.optim.Adam(model.parameters(), lr=0.015)``; any ``torch.optim``
    optimizer over the model's parameters will do (``torchref.optimizer_to_torch`` makes the twin
    of a scratchnn one). ``scheduler``: a ``torch.optim.lr_scheduler`` of ``optimizer``, stepped
    once at the end of every epoch, as ``scratchnn.fit`` steps its schedule.
    X, Y are arrays (or tensors) of the model's dtype; Y the targets ``criterion`` takes
    (class indices for ``"cross_entropy"`` become int64). ``criterion`` is scratchnn's name:
    ``nn.MSELoss``, ``nn.BCELoss`` or ``nn.CrossEntropyLoss``. ``l2=λ`` adds
    λ/(2n) Σ_j ‖weight_j‖² (n the training points, biases left out) to every batch's loss, as
    ``scratchnn.fit``. Raises ``scratchnn.DivergenceError`` at the first non-finite loss.
    As ``scratchnn.fit``: the model trains in training mode (``model.train()``: batch norm on the
    batch's statistics, dropout drawing masks), the validation loss is taken in evaluation mode
    (``model.eval()``), and the model is left in the mode it had.
    """
    lin = linears(model)
    if not lin:
        raise ValueError("model: expected an nn.Sequential with at least one nn.Linear")
    output = sn.losses.get(criterion).output  # the output activation the criterion needs (None: any)
    if output is not None and linears_and_activations(model)[1][-1] != output:
        raise ValueError(f"criterion: {criterion!r} needs the output activation {output} ({sn.losses.get(criterion).why}); "
                         f"the model ends in {linears_and_activations(model)[1][-1]}")
    dtype = {torch.float32: np.float32, torch.float64: np.float64}[lin[0].weight.dtype]
    X = _as_tensor("X", X, dtype, lin[0].in_features)
    Y = _as_targets("Y", Y, dtype, lin[-1].out_features, criterion)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X, Y: expected the same number of rows, got {X.shape[0]} and {Y.shape[0]}")
    epochs, batch_size = check_loop_args(epochs, batch_size, seed, start_epoch)
    l2 = sn.checks.check_real("l2", l2, low=0.0)
    if validation is not None:
        Xv = _as_tensor("validation[0]", validation[0], dtype, lin[0].in_features)
        Yv = _as_targets("validation[1]", validation[1], dtype, lin[-1].out_features, criterion)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=0.015)
    if scheduler is not None and getattr(scheduler, "optimizer", None) is not optimizer:
        raise ValueError("scheduler: expected a torch.optim.lr_scheduler built on this fit's optimizer")
    criterion_module = loss_function(criterion)
    was_training = model.training
    try:
        return _epochs(model, X, Y, optimizer, epochs, batch_size, seed, start_epoch, criterion_module, l2, scheduler,
                       None if validation is None else (Xv, Yv))
    finally:
        model.train(was_training)


def _epochs(model, X, Y, optimizer, epochs, batch_size, seed, start_epoch, criterion_module, l2, scheduler,
            validation):
    n = X.shape[0]
    losses, val_losses = [], [] if validation is not None else None
    start = time.perf_counter()
    for epoch in range(epochs):
        if validation is not None:
            model.eval()
            with torch.no_grad():
                val_loss = criterion_module(model(validation[0]), validation[1]).item()
        model.train()
        epoch_loss = 0.0
        for idx in sn.batches(n, batch_size, seed, start_epoch + epoch):
            if batch_size is not None:
                idx = torch.from_numpy(idx)
            pred_y = model(X[idx])
            optimizer.zero_grad()
            loss = criterion_module(pred_y, Y[idx])
            if l2:
                loss = loss + l2_term(model, l2, n)
            epoch_loss += loss.item() * (1.0 if batch_size is None else len(idx) / n)
            if not np.isfinite(epoch_loss):
                history = sn.History(losses, val_losses, "torch", time.perf_counter() - start)
                raise sn.DivergenceError(len(losses), history)
            loss.backward()
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(epoch_loss)
        if validation is not None:
            val_losses.append(val_loss)
    return sn.History(losses, val_losses, "torch", time.perf_counter() - start)
