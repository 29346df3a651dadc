"""The workshop notebook's training loop, in plain PyTorch.

    for epoch in range(epochs):
        pred_y = model(x); optimizer.zero_grad(); loss = loss_function(pred_y, y)
        losses.append(loss.item()); loss.backward(); optimizer.step()

With ``batch_size`` the batches are ``scratchnn.batches(n, batch_size, seed, epoch)``,
the very ones the scratch engines visit.
"""

import time

import numpy as np
import torch
from torch import nn

import scratchnn as sn
from scratchnn.train import check_loop_args

from .bridge import linears


def _as_tensor(name, A, dtype, columns):
    if isinstance(A, torch.Tensor):
        A = A.detach().numpy()
    sn.checks.check_data(name, A, np.dtype(dtype), columns)
    return torch.from_numpy(A)


def fit(model, X, Y, optimizer=None, epochs=1000, batch_size=None, seed=0, validation=None, start_epoch=0):
    """Train a torch ``nn.Sequential`` like ``scratchnn.fit``; returns a ``scratchnn.History``.

    ``optimizer`` defaults to ``torch.optim.Adam(model.parameters(), lr=0.015)``.
    X, Y are arrays (or tensors) of the model's dtype. Raises
    ``scratchnn.DivergenceError`` at the first non-finite loss.
    """
    lin = linears(model)
    if not lin:
        raise ValueError("model: expected an nn.Sequential with at least one nn.Linear")
    dtype = {torch.float32: np.float32, torch.float64: np.float64}[lin[0].weight.dtype]
    X = _as_tensor("X", X, dtype, lin[0].in_features)
    Y = _as_tensor("Y", Y, dtype, lin[-1].out_features)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X, Y: expected the same number of rows, got {X.shape[0]} and {Y.shape[0]}")
    epochs, batch_size = check_loop_args(epochs, batch_size, seed, start_epoch)
    if validation is not None:
        Xv = _as_tensor("validation[0]", validation[0], dtype, lin[0].in_features)
        Yv = _as_tensor("validation[1]", validation[1], dtype, lin[-1].out_features)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=0.015)
    loss_function = nn.MSELoss()
    n = X.shape[0]
    losses, val_losses = [], [] if validation is not None else None
    start = time.perf_counter()
    for epoch in range(epochs):
        if validation is not None:
            with torch.no_grad():
                val_loss = loss_function(model(Xv), Yv).item()
        epoch_loss = 0.0
        for idx in sn.batches(n, batch_size, seed, start_epoch + epoch):
            if batch_size is not None:
                idx = torch.from_numpy(idx)
            pred_y = model(X[idx])
            optimizer.zero_grad()
            loss = loss_function(pred_y, Y[idx])
            epoch_loss += loss.item() * (1.0 if batch_size is None else len(idx) / n)
            if not np.isfinite(epoch_loss):
                history = sn.History(losses, val_losses, "torch", time.perf_counter() - start)
                raise sn.DivergenceError(len(losses), history)
            loss.backward()
            optimizer.step()
        losses.append(epoch_loss)
        if validation is not None:
            val_losses.append(val_loss)
    return sn.History(losses, val_losses, "torch", time.perf_counter() - start)
