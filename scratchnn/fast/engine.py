"""The Python side of the numba engine: pack the net, optimizer and data for the kernels, and unpack.

:func:`pack` copies theta^j and the optimizer's state arrays into flat buffers (theta^j
from ``theta_off[j]``, row-major, bias in column 0 as ever) held by the kernels' named
tuples (:data:`~scratchnn.fast.kernels.PackedNet`, :data:`~scratchnn.fast.kernels.PackedOptimizer`),
the compiled loop runs, and :func:`unpack` writes the results back into the caller's arrays
*in place*, so ``net.theta``, ``opt.m``/``opt.v``/``opt.v_max``/``opt.b`` and ``opt.t`` end as
the NumPy engine would leave them.
"""

import time

import numba
import numpy as np
from threadpoolctl import ThreadpoolController

from ..checks import check_pair, check_real
from ..epochs import History, epoch_order
from ..optimizers import SGD, Adam
from . import kernels as K
from .elementwise import CODES

# A chunk's A^j, Z^j, delta^j fit in half of CHUNK_BYTES[itemsize] bytes (L2: 1 MiB on a Zen 4),
# with between 256 and 4096 points (a power of 2). Measured on the workshop nets (n = 3000, one
# thread): float32 runs fastest in one chunk of 4096 (a chunk's fixed cost, ~0.5 us, against
# ~5 ns a point), float64 in chunks of 1024 (a point costs 3x more; rows of 8 KiB stay in L1).
CHUNK_BYTES = {4: 1 << 20, 8: 1 << 19}
CHUNK_RANGE = (256, 4096)
GROUPS = 4  # chunks are summed in this many groups (in parallel when the batch is large)
PARALLEL_MIN_WORK = 1 << 21  # batches with n x (number of parameters) >= this use threads; below, threads cost more
BLAS_MIN = 256  # a layer with (u^j + 1) u^{j+1} >= BLAS_MIN entries uses BLAS, smaller ones fused loops
ORDER_BUDGET = 1 << 22  # at most this many minibatch indices are drawn ahead (epochs x n)
CRITERIA = {"mse": K.MSE, "bce": K.BCE, "cross_entropy": K.CROSS_ENTROPY}  # the criteria the kernels compute


def uses_blas(u_in, u_out):
    """Whether the layer u^j = u_in -> u^{j+1} = u_out multiplies through BLAS (else fused loops)."""
    return (u_in + 1) * u_out >= BLAS_MIN


def criterion_code(net):
    """The kernels' code for ``net.criterion``; a criterion they do not compute is refused, never replaced."""
    if net.criterion not in CRITERIA:
        raise ValueError(
            f"criterion: the numba engine computes {sorted(CRITERIA)}, not {net.criterion!r}; "
            f"train this net with engine='numpy'"
        )
    return CRITERIA[net.criterion]


def pack_net(net):
    """The net as the kernels take it: a :data:`~scratchnn.fast.kernels.PackedNet` holding a flat copy of theta.

    theta^j = ``packed.theta[packed.theta_off[j]:packed.theta_off[j + 1]]`` reshaped to
    (u^{j+1}, u^j + 1); the activations and the criterion become the kernels' codes.
    """
    criterion = criterion_code(net)
    return K.PackedNet(
        units=np.asarray(net.units, dtype=np.int64),
        acts=np.asarray([CODES[name] for name in net.activations], dtype=np.int64),
        blas=np.asarray([uses_blas(net.units[j], net.units[j + 1]) for j in range(net.L)], dtype=np.bool_),
        theta_off=np.concatenate([[0], np.cumsum([t.size for t in net.theta])]).astype(np.int64),
        theta=_flat(net.theta, net.dtype),
        criterion=criterion,
    )


def pack_optimizer(optimizer, dtype):
    """Adam or SGD as the kernels take it: a :data:`~scratchnn.fast.kernels.PackedOptimizer`.

    The hyper-parameters as float64 (bool for ``amsgrad``, ``nesterov``; 0 for those the
    optimizer lacks), the step count t in a 1-element array, a zero gradient buffer D, and
    flat copies of the state (Adam: m, v, v_max; SGD: b; empty arrays for the other's).
    """
    empty = np.empty(0, dtype)
    if isinstance(optimizer, Adam):
        kind, betas, eps, amsgrad = K.ADAM, (optimizer.beta1, optimizer.beta2), optimizer.eps, optimizer.amsgrad
        momentum, dampening, nesterov = 0.0, 0.0, False
        m, v, v_max, b = _flat(optimizer.m, dtype), _flat(optimizer.v, dtype), _flat(optimizer.v_max, dtype), empty
    elif isinstance(optimizer, SGD):
        kind, betas, eps, amsgrad = K.SGD, (0.0, 0.0), 0.0, False
        momentum, dampening, nesterov = optimizer.momentum, optimizer.dampening, optimizer.nesterov
        m, v, v_max, b = empty, empty, empty, _flat(optimizer.b, dtype)
    else:
        raise TypeError(
            f"optimizer: the numba engine runs scratchnn.Adam and scratchnn.SGD, got {type(optimizer).__name__}"
        )
    # floats and bools whatever was assigned: one numba signature per dtype (see _compile)
    hyper = K.Hyperparameters(
        kind=kind, lr=float(optimizer.lr), beta1=float(betas[0]), beta2=float(betas[1]), eps=float(eps),
        weight_decay=float(optimizer.weight_decay), amsgrad=bool(amsgrad), momentum=float(momentum),
        dampening=float(dampening), nesterov=bool(nesterov),
    )
    D = np.zeros(sum(t.size for t in optimizer.theta), dtype)
    return K.PackedOptimizer(hyper=hyper, t=np.array([optimizer.t], np.int64), D=D, m=m, v=v, v_max=v_max, b=b)


def plain(packed):
    """A packed named tuple as plain tuples, nested ones too: how the engine passes it to the kernels.

    Numba types a named tuple from its field names at every call from Python, a plain one several
    times faster; the kernels name their arguments again on entry (kernels, "What the kernels take").
    """
    return tuple(plain(x) if isinstance(x, tuple) else x for x in packed)


def pack(net, optimizer):
    """``(pack_net(net), pack_optimizer(optimizer, net.dtype))``: what ``kernels.fit_epochs`` trains.

    Copies: the kernels update the packed arrays, and :func:`unpack` writes them back.
    """
    return pack_net(net), pack_optimizer(optimizer, net.dtype)


def unpack(packed_net, packed_optimizer, net, optimizer):
    """Write the packed theta, step count and state back into ``net.theta`` and ``optimizer``, in place."""
    _unflat(packed_net.theta, net.theta)
    optimizer.t = int(packed_optimizer.t[0])
    for key, arrays in optimizer.state_arrays().items():  # Adam: m, v, v_max; SGD: b
        _unflat(getattr(packed_optimizer, key), arrays)


def _flat(arrays, dtype):
    """One flat copy of a list of arrays (theta-shaped), or an empty array when there are none."""
    return np.concatenate([a.ravel() for a in arrays]) if arrays else np.empty(0, dtype)


def _unflat(flat, arrays):
    """Write ``flat`` back into ``arrays`` in place (the inverse of ``_flat``)."""
    off = 0
    for a in arrays:
        a[...] = flat[off : off + a.size].reshape(a.shape)
        off += a.size


def chunk_points(net):
    """Points per chunk: the largest power of 2 whose buffers fit half of CHUNK_BYTES, within CHUNK_RANGE.

    It depends on the net and dtype only (never on threads), so results do too.
    """
    per_point = net.dtype.itemsize * sum(3 * (u + 1) for u in net.units)  # A^j, Z^j, delta^j
    chunk = CHUNK_RANGE[0]
    while chunk < CHUNK_RANGE[1] and 2 * chunk * per_point <= CHUNK_BYTES[net.dtype.itemsize]:
        chunk *= 2
    return chunk


PAGE = 4096  # bytes


def _page_aligned(shape, dtype):
    """A zeroed C-contiguous array whose data starts on a page (4 KiB) boundary.

    malloc aligns large arrays to 16 bytes, and where the buffers started decided the speed: a
    fit of a workshop net ran at one of two speeds, fixed for the process (1-5-5-1, float32:
    32 or 39 µs an epoch, 3 processes in 6 slow); with the work buffers and the data
    page-aligned, 13 processes in 14 ran the fast one.
    """
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.zeros(nbytes + PAGE, np.uint8)
    start = -raw.ctypes.data % PAGE
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def workspace(net, n_max):
    """The work buffers for batches of up to ``n_max`` points (:data:`~scratchnn.fast.kernels.Workspace`):
    per group, A^j, Z^j, delta^j and Y for one chunk, and the gradient partials."""
    u = net.units
    L = net.L
    chunk = min(chunk_points(net), n_max)
    off = 0
    a_off, z_off, d_off = np.zeros(L + 1, np.int64), np.zeros(L + 1, np.int64), np.zeros(L + 1, np.int64)
    for j in range(L + 1):
        a_off[j] = off
        off += (u[j] + 1 if j < L else u[L]) * chunk  # A^j (u^j + 1, m); A^L (u^L, m)
    for j in range(1, L + 1):
        z_off[j] = off
        off += u[j] * chunk  # Z^j (u^j, m)
    for j in range(1, L + 1):
        d_off[j] = off
        off += (u[j] + 1) * chunk  # delta^j (u^j, m) after a scratch row for BLAS
    y_off = off
    off += u[L] * chunk  # Y (u^L, m)
    tmp_off = off
    off += max(t.size for t in net.theta)  # one D^j from BLAS before it is added
    plan = (a_off, z_off, d_off, y_off, tmp_off)
    groups = min(GROUPS, -(-n_max // chunk))
    per_page = PAGE // net.dtype.itemsize
    works = _page_aligned((groups, -(-off // per_page) * per_page), net.dtype)  # each group's row on its own page
    Dparts = np.zeros((groups, net.n_parameters), net.dtype)
    loss_sums = np.zeros(groups, net.dtype)
    return K.Workspace(chunk=chunk, max_groups=GROUPS, parallel_min_work=PARALLEL_MIN_WORK, works=works, plan=plan,
                       Dparts=Dparts, loss_sums=loss_sums)


def _transposed(X):
    """X^T, C-contiguous ``(columns, n)`` and page-aligned: points along the fast axis."""
    XT = _page_aligned((X.shape[1], X.shape[0]), X.dtype)
    XT[...] = X.T
    return XT


def _compile(dispatcher, args, key):
    """Compile (or load from the cache) ``dispatcher`` for ``args``; returns the seconds it took (0 if ready).

    ``key`` (the dtype) determines every argument's numba type, so a key seen once
    skips ``numba.typeof``, which costs more than a short fit.
    """
    if (dispatcher, key) in _READY:
        return 0.0
    sig = tuple(numba.typeof(a) for a in args)
    start = time.perf_counter()
    dispatcher.compile(sig)
    _READY.add((dispatcher, key))
    return time.perf_counter() - start


_READY = set()


def fit(net, X, Y, optimizer, epochs, batch_size, seed, validation, start_epoch, l2=0.0):
    """The training loop of :func:`scratchnn.fit`, compiled; arguments already checked there
    (Y and the validation targets as the criterion's ``(n, u^L)`` arrays; ``l2`` is λ).

    Same semantics as the NumPy engine (see :mod:`scratchnn.train`); theta and the
    optimizer state are updated in place. Returns a :class:`~scratchnn.epochs.History`
    with ``engine="numba"``, ``compile_seconds`` (compiling or loading the kernels
    on a first call) and ``seconds`` (the rest).
    """
    start = time.perf_counter()
    dtype = net.dtype
    n = X.shape[0]
    packed_net, packed_opt = pack(net, optimizer)
    XT, YT = _transposed(X), _transposed(Y)
    if validation is not None:
        XvT, YvT = _transposed(validation[0]), _transposed(validation[1])
    else:
        XvT, YvT = np.empty((net.units[0], 0), dtype), np.empty((net.units[-1], 0), dtype)
    ctx = workspace(net, max(n, XvT.shape[1]))
    bs = n if batch_size is None else batch_size
    losses, val_losses = [], [] if validation is not None else None
    compile_seconds = 0.0
    done = 0
    while done < epochs:
        E = epochs - done if batch_size is None else max(1, min(epochs - done, ORDER_BUDGET // n))
        if batch_size is None:
            orders = np.empty((E, 0), np.int64)
        else:
            orders = np.stack([epoch_order(n, seed, start_epoch + done + e) for e in range(E)]).astype(np.int64)
        loss_e, val_e = np.empty(E), np.empty(E if validation is not None else 0)
        args = (plain(packed_net), XT, YT, XvT, YvT, orders, bs, plain(ctx), plain(packed_opt), loss_e, val_e, l2 / n)
        compile_seconds += _compile(K.fit_epochs, args, dtype)
        with _blas_single_threaded(packed_net.blas.any()):
            completed = K.fit_epochs(*args)
        losses.extend(loss_e[:completed])
        if validation is not None:
            val_losses.extend(val_e[:completed])
        done += completed
        if completed < E:
            break
    unpack(packed_net, packed_opt, net, optimizer)
    seconds = time.perf_counter() - start - compile_seconds
    return History(losses, val_losses, "numba", seconds=seconds, compile_seconds=compile_seconds)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _blas_single_threaded(uses_blas):
    """BLAS at one thread while a kernel runs (threads come from the chunk groups instead).

    Also the fast choice: a multi-threaded BLAS on these thin products (and on a
    busy machine) was measured 50-250x slower than one thread.
    """
    global _CONTROLLER
    if not uses_blas:
        return _nothing()
    if _CONTROLLER is None:
        import scipy.linalg.cython_blas  # noqa: F401  numba's np.dot calls scipy's BLAS: load it so it is seen

        _CONTROLLER = ThreadpoolController()  # found once: finding the libraries costs milliseconds
    return _CONTROLLER.limit(limits=1, user_api="blas")


_CONTROLLER = None


def prepare_loss_and_grad(net, X, Y, backward=True, l2=0.0):
    """A function of no arguments that returns ``(L, D)`` for the data, packed once (for :func:`loss_and_grad` and timing).

    Y: the criterion's ``(n, u^L)`` targets. theta is read when prepared: the function keeps
    evaluating at those parameters.
    """
    n = X.shape[0]
    packed = pack_net(net)
    D = np.zeros(net.n_parameters, net.dtype)
    ctx = workspace(net, n)
    args = (plain(packed), _transposed(X), _transposed(Y), np.empty(0, np.int64), n, plain(ctx), D, backward, l2 / n)
    offsets = packed.theta_off
    blas = packed.blas.any()

    def run():
        with _blas_single_threaded(blas):
            loss = net.dtype.type(K.batch_loss_grad(*args))
        return loss, [D[offsets[j] : offsets[j + 1]].reshape(t.shape).copy() for j, t in enumerate(net.theta)]

    return run


def prepare_step(net, optimizer, t=1):
    """A function of no arguments that runs one compiled optimizer step, as a fit runs it (for timing).

    It steps packed copies of theta and of the optimizer's state (:func:`pack`), with the
    gradient D = 0 and the step count ``t`` at every call: ``net`` and ``optimizer`` never change.
    """
    packed_net, opt = pack(net, optimizer)
    args = (plain(opt.hyper), t, packed_net.theta, opt.D, opt.m, opt.v, opt.v_max, opt.b)
    return lambda: K.optimizer_step(*args)


def loss_and_grad(net, X, Y, backward=True, l2=0.0):
    """``(L, D)`` as :meth:`scratchnn.MLP.loss_and_grad`: the loss (the net's criterion, plus the
    L2 term with ``l2=λ``) and D^j = ∂𝓛/∂θ^j, compiled.

    With ``backward=False`` only the forward pass and the loss run (D is then zeros).
    """
    Y = check_pair(X, Y, net)  # the criterion's (n, u^L) targets: class indices become one-hot rows
    l2 = check_real("l2", l2, low=0.0)
    return prepare_loss_and_grad(net, X, Y, backward, l2)()
