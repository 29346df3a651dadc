"""Train scratchnn and torch side by side, epoch by epoch, and measure the gap.

Two correct implementations of the same fit can drift apart: rounding
differs in the last bit, and a chaotic fit amplifies that. ``resync_every=k``
copies torch's parameters and optimizer state into scratchnn after every k-th
epoch, so what ``compare`` reports is then the engines' k-step disagreement,
not the amplified one.
"""

import numpy as np
import torch

import scratchnn as sn

from .bridge import (copy_theta_from_torch, optimizer_from_torch, optimizer_to_torch, params_of, scheduler_to_torch,
                     to_torch, torch_rng_state)
from .train import fit as torch_fit


class FitGap:
    """The gap between a scratchnn fit and its torch twin, per epoch: ``loss_scratch``, ``loss_torch``,
    ``rel_gap`` = |Ls - Lt| / |Lt|, ``param_gap``.

    ``param_gap[e]`` is the largest |theta_scratch - theta_torch| after epoch e
    (before any resync), over every entry of ``net.params`` (γ^j and β^j of a norm included).
    """

    def __init__(self, loss_scratch, loss_torch, param_gap, resync_every):
        self.loss_scratch = np.asarray(loss_scratch)
        self.loss_torch = np.asarray(loss_torch)
        self.rel_gap = np.abs(self.loss_scratch - self.loss_torch) / np.abs(self.loss_torch)
        self.param_gap = np.asarray(param_gap)
        self.resync_every = resync_every

    def __repr__(self):
        mode = "free-running" if self.resync_every is None else f"resync every {self.resync_every}"
        return (
            f"FitGap({len(self.loss_torch)} epochs, {mode}: max relative loss gap {self.rel_gap.max():.3g}, "
            f"max parameter gap {self.param_gap.max():.3g})"
        )


def compare(net, X, Y, optimizer=None, epochs=1000, batch_size=None, seed=0, resync_every=None, engine="numpy",
            l2=0.0, scheduler=None):
    """Train ``net`` (in place, with scratchnn ``optimizer`` and ``scheduler``) and a torch copy side by side.

    Both minimise ``net.criterion`` (plus the L2 term with ``l2=λ``).
    The torch model, optimizer and schedule start from the same parameters and state.
    Returns a :class:`FitGap`; ``net`` ends with scratchnn's parameters.
    With dropout, torch's generator is put where the net's is (``torch_rng_state``) for the fit, so
    both draw the same masks; torch's generator is restored afterwards.
    """
    if optimizer is None:
        optimizer = sn.Adam(net.params, lr=0.015)
    epochs, batch_size, _, _ = sn.train.check_fit_args(net, X, Y, optimizer, epochs, batch_size, seed, None, engine,
                                                        scheduler=scheduler)
    if resync_every is not None:
        resync_every = sn.checks.check_int("resync_every", resync_every, 1)
    saved = torch.get_rng_state()  # before to_torch, whose Linears draw their (overwritten) weights
    model = to_torch(net)
    topt = optimizer_to_torch(optimizer, model)
    tsched = None if scheduler is None else scheduler_to_torch(scheduler, topt)
    torch.set_rng_state(torch_rng_state(net.generator))
    try:
        return _lockstep(net, X, Y, optimizer, epochs, batch_size, seed, resync_every, engine, l2, scheduler, model,
                         topt, tsched)
    finally:
        torch.set_rng_state(saved)


def _lockstep(net, X, Y, optimizer, epochs, batch_size, seed, resync_every, engine, l2, scheduler, model, topt, tsched):
    loss_s, loss_t, gap = [], [], []
    for e in range(epochs):
        hs = sn.fit(net, X, Y, optimizer, epochs=1, batch_size=batch_size, seed=seed, engine=engine, start_epoch=e,
                    l2=l2, scheduler=scheduler)
        ht = torch_fit(model, X, Y, topt, epochs=1, batch_size=batch_size, seed=seed, start_epoch=e,
                       criterion=net.criterion, l2=l2, scheduler=tsched)
        loss_s.append(hs.loss[0])
        loss_t.append(ht.loss[0])
        gap.append(max(float(np.max(np.abs(a - b))) for a, b in zip(net.params, params_of(model))))
        if resync_every is not None and (e + 1) % resync_every == 0:
            copy_theta_from_torch(net, model)
            optimizer_from_torch(topt, model, optimizer)
    return FitGap(loss_s, loss_t, gap, resync_every)
