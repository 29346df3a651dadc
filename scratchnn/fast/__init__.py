"""The numba engine: the textbook engine's mathematics, compiled (``scratchnn.fit(..., engine="numba")``).

Importing ``scratchnn`` or this package compiles nothing: the kernels are
imported, and compiled or loaded from numba's cache, on the first call.

- :func:`fit` — the training loop (called by ``scratchnn.fit``).
- :func:`loss_and_grad` — as ``MLP.loss_and_grad``; :func:`loss` — as ``MLP.loss``.

Same inputs give bit-identical results run to run, with any number of threads
(the batch is split into chunks by its size and the net, never by the threads;
see :mod:`scratchnn.fast.kernels`).

Modules: ``elementwise`` (vectorizable activations g, g' and exp), ``kernels``
(forward, backward, optimizer step, epoch loop), ``engine`` (packing, threads).
"""


def fit(net, X, Y, optimizer, epochs, batch_size, seed, validation, start_epoch, l2=0.0):
    """See :func:`scratchnn.fast.engine.fit`."""
    from .engine import fit as _fit

    return _fit(net, X, Y, optimizer, epochs, batch_size, seed, validation, start_epoch, l2)


def loss_and_grad(net, X, Y, l2=0.0):
    """``(L, D)``: the loss (the net's criterion) and the gradients D^j = ∂𝓛/∂θ^j, as ``net.loss_and_grad(X, Y, l2)``."""
    from .engine import loss_and_grad as _loss_and_grad

    return _loss_and_grad(net, X, Y, l2=l2)


def loss(net, X, Y, l2=0.0):
    """𝓛, the forward pass only, as ``net.loss(X, Y, l2)``."""
    from .engine import loss_and_grad as _loss_and_grad

    return _loss_and_grad(net, X, Y, backward=False, l2=l2)[0]
