"""The numba engine: the textbook engine's mathematics, compiled (``scratchnn.fit(..., engine="numba")``).

Importing ``scratchnn`` or this package compiles nothing: the kernels are
imported, and compiled or loaded from numba's cache, on the first call.

- :func:`fit` — the training loop (called by ``scratchnn.fit``).
- :func:`loss_and_grad` — as ``MLP.loss_and_grad``; :func:`loss` — as ``MLP.loss``.

Same inputs give bit-identical results run to run, with any number of threads
(the batch is split into chunks by its size and the net, never by the threads;
see :mod:`scratchnn.fast.kernels`).

Modules: ``elementwise`` (vectorizable activations g, g' and exp), ``kernels``
(forward, backward, optimizer step, epoch loop), ``norms`` (nets with batch norm, layer norm or
dropout: each batch in one piece), ``products`` (their layers' Z = θA, θ^T δ and δ A^T in register
tiles), ``mt19937`` (torch's generator, for dropout's masks), ``engine`` (packing, threads).

CPUs: numba compiles for the CPU it runs on. With AVX2 and FMA (x86 since 2013) the loops run
in 256-bit vectors with fused multiply-adds. On an x86 without them (``NUMBA_CPU_NAME=generic``
shows it: SSE2 only) the same loops vectorize to 128-bit SSE, ``elementwise.fma`` becomes a
multiply and an add, and float32 tanh goes through exp (Eigen's rational needs FMA to stay
within 4 ulp): the same accuracy bounds hold, tested (``tests/test_fast_elementwise.py``),
the speed is lower, and the last bits may differ from an FMA machine's. ``products`` writes its
tiles in 512-bit vectors, which LLVM splits where the target's are narrower: the same sums in the
same order on any x86 with FMA (``tests/test_fast_products.py`` runs them on the baseline too).
"""

import numpy as np

from ..mlp import MLP
from ..optimizers import SGD, Adagrad, Adam, AdamW, RMSprop

OPTIMIZERS = (SGD, Adam, AdamW, RMSprop, Adagrad)  # the optimizers the kernels run (and their subclasses)


def refusal(optimizer, scheduler=None, net=None):
    """None when the numba engine trains ``net`` with ``optimizer`` (an object or its class) and ``scheduler``,
    else why not: one line naming the argument, for ``fit`` to raise and ``--engine auto`` to say.

    It runs every optimizer and schedule of scratchnn and every net (norm, dropout, each criterion);
    only an optimizer class of one's own, outside scratchnn's five, is refused.
    """
    kind = optimizer if isinstance(optimizer, type) else type(optimizer)
    if not issubclass(kind, OPTIMIZERS):
        return (f"optimizer: the numba engine runs {', '.join(c.__name__ for c in OPTIMIZERS)}; {kind.__name__} "
                f"runs on the NumPy engine (engine='numpy')")
    return None


def fit(net, X, Y, optimizer, epochs, batch_size, seed, validation, start_epoch, l2=0.0, scheduler=None):
    """See :func:`scratchnn.fast.engine.fit`."""
    from .engine import fit as _fit

    return _fit(net, X, Y, optimizer, epochs, batch_size, seed, validation, start_epoch, l2, scheduler)


def loss_and_grad(net, X, Y, l2=0.0):
    """``(L, D)``: the loss (the net's criterion) and the gradients D = ∂𝓛/∂params (θ^j, then γ^j and β^j with a
    norm), as ``net.loss_and_grad(X, Y, l2)``, in the net's mode (a training-mode pass with dropout draws masks)."""
    from .engine import loss_and_grad as _loss_and_grad

    return _loss_and_grad(net, X, Y, l2=l2)


def loss(net, X, Y, l2=0.0):
    """𝓛, the forward pass only, as ``net.loss(X, Y, l2)``."""
    from .engine import loss_and_grad as _loss_and_grad

    return _loss_and_grad(net, X, Y, backward=False, l2=l2)[0]


_UNUSABLE = {}  # the answer of why_unusable(), once per process


def why_unusable(recheck=False):
    """None when the numba engine imports and trains a tiny net here, else why not (one line).

    Nothing is swallowed quietly: the reason names the exception, so ``--engine auto`` can say
    why it fell back to NumPy and ``--engine numba`` can fail with it. The first call compiles
    the engine, or loads it from numba's cache (see :func:`scratchnn.fast.engine.fit`); the
    answer is kept for the process, unless ``recheck``.
    """
    if recheck or "reason" not in _UNUSABLE:
        _UNUSABLE["reason"] = _try_tiny_fit()
    return _UNUSABLE["reason"]


def _try_tiny_fit():
    try:
        from . import engine
    except ImportError as exc:  # numba, or a library it needs, missing or broken
        return f"the numba engine does not import: {type(exc).__name__}: {exc}"
    X = np.zeros((4, 1), dtype=np.float32)
    net = MLP([1, 2, 1])
    try:
        engine.fit(net, X, X, Adam(net.theta), 2, None, 0, None, 0)
    except Exception as exc:  # a compile or run error of numba's: named, never hidden
        return f"the numba engine fails on a tiny fit: {type(exc).__name__}: {exc}"
    return None


def default_engine():
    """``"numba"`` when :func:`why_unusable` finds nothing wrong, else ``"numpy"`` (ask it why)."""
    return "numba" if why_unusable() is None else "numpy"
