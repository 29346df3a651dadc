"""The Python side of the numba engine: pack the net, optimizer and data for the kernels, and unpack.

:func:`pack` copies the parameters (θ^j from ``theta_off[j]``, row-major, bias in column 0 as
ever; then a norm's γ^j and β^j: ``net.params`` flat) and the optimizer's state arrays into flat
buffers held by the kernels' named tuples (:data:`~scratchnn.fast.kernels.PackedNet`,
:data:`~scratchnn.fast.kernels.PackedOptimizer`; :func:`pack_norm`: the norm, dropout, running
statistics and the masks' generator), the compiled loop runs, and :func:`unpack` writes the
results back into the caller's arrays *in place*, so ``net.params``, the optimizer's state
(``opt.m``, ``opt.square_avg``, … as it names them), ``opt.t``, a schedule, the running statistics
and the generator end as the NumPy engine would leave them.
"""

import threading
import time

import numba
import numpy as np
from threadpoolctl import ThreadpoolController

from ..checks import check_pair, check_real
from ..epochs import History, epoch_order
from ..optimizers import SGD, Adagrad, Adam, AdamW, RMSprop
from . import kernels as K
from . import norms as N
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
        theta=_flat(net.params, net.dtype),  # θ^0 … θ^{L-1}, then the γ^j and β^j of a norm
        criterion=criterion,
    )


KINDS = {Adam: K.ADAM, SGD: K.SGD, AdamW: K.ADAMW, RMSprop: K.RMSPROP, Adagrad: K.ADAGRAD}  # class -> the kernels' code


def optimizer_kind(optimizer):
    """The kernels' code for ``optimizer`` (a subclass counts as its base), or a TypeError naming the argument."""
    for cls, kind in KINDS.items():
        if isinstance(optimizer, cls):
            return kind
    raise TypeError(f"optimizer: the numba engine runs {', '.join(c.__name__ for c in KINDS)}, "
                    f"got {type(optimizer).__name__}")


def pack_optimizer(optimizer, dtype):
    """An optimizer of :data:`KINDS` as the kernels take it: a :data:`~scratchnn.fast.kernels.PackedOptimizer`.

    The hyper-parameters as float64 (bool for ``amsgrad``, ``nesterov``, ``centered``; 0 for those
    the optimizer lacks), the step count t in a 1-element array, a zero gradient buffer D, and
    flat copies of the state the optimizer has (``state_arrays``; empty arrays for the rest).
    """
    kind = optimizer_kind(optimizer)
    get = lambda name, default=0.0: getattr(optimizer, name, default)  # noqa: E731  the settings it lacks: 0
    # floats and bools whatever was assigned: one numba signature per dtype (see _compile)
    hyper = K.Hyperparameters(
        kind=kind, lr=float(optimizer.lr), beta1=float(get("beta1")), beta2=float(get("beta2")), eps=float(get("eps")),
        weight_decay=float(optimizer.weight_decay), amsgrad=bool(get("amsgrad", False)),
        momentum=float(get("momentum")), dampening=float(get("dampening")), nesterov=bool(get("nesterov", False)),
        alpha=float(get("alpha")), centered=bool(get("centered", False)), lr_decay=float(get("lr_decay")),
    )
    state = {name: _flat(arrays, dtype) for name, arrays in optimizer.state_arrays().items()}
    empty = np.empty(0, dtype)
    D = np.zeros(sum(t.size for t in optimizer.theta), dtype)
    return K.PackedOptimizer(hyper=hyper, t=np.array([optimizer.t], np.int64), D=D,
                             **{name: state.get(name, empty) for name in K.PackedOptimizer._fields[3:]})


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


def unpack(packed_net, packed_optimizer, net, optimizer, packed_norm=None):
    """Write the packed parameters (θ, γ, β), step count and state back into ``net`` and ``optimizer``, in place;
    with ``packed_norm`` also the running statistics and the masks' generator state."""
    _unflat(packed_net.theta, net.params)
    optimizer.t = int(packed_optimizer.t[0])
    for key, arrays in optimizer.state_arrays().items():  # as named there: m, v, v_max, b, square_avg, ...
        _unflat(getattr(packed_optimizer, key), arrays)
    if packed_norm is not None:
        unpack_norm(packed_norm, net)


NORM_CODES = {None: N.NONE, "batch": N.BATCH, "layer": N.LAYER}


def pack_norm(net):
    """The net's norm, dropout p, running statistics and mask generator as a :data:`~scratchnn.fast.norms.PackedNorm`."""
    hidden = net.units[1:-1]
    unit_off = np.zeros(net.L + 1, np.int64)  # layer j's units: unit_off[j] .. unit_off[j + 1], j = 1 .. L-1
    for j in range(1, net.L):
        unit_off[j + 1] = unit_off[j] + net.units[j]
    gamma_off = sum(t.size for t in net.theta)
    key, pos = net.generator.get_state() if net.dropout else (np.zeros(624, np.uint32), 624)
    return N.PackedNorm(
        norm=NORM_CODES[net.norm], p=float(net.dropout), unit_off=unit_off, gamma_off=gamma_off,
        beta_off=gamma_off + sum(hidden), running_mean=_flat(net.running_mean, net.dtype),
        running_var=_flat(net.running_var, net.dtype), mt_key=key, mt_pos=np.array([pos], np.int64),
    )


def unpack_norm(packed_norm, net):
    """Write the running statistics and the generator's state (the next masks) back into ``net``, in place."""
    _unflat(packed_norm.running_mean, net.running_mean)
    _unflat(packed_norm.running_var, net.running_var)
    if net.dropout:
        net.generator.set_state(packed_norm.mt_key, int(packed_norm.mt_pos[0]))


WORK_KEPT_BYTES = 1 << 26  # a thread keeps its last norm workspace for the next fit when it is at most this big


def norm_workspace(net, n_max):
    """The flat work buffer and its :data:`~scratchnn.fast.norms.Plan` for batches of up to ``n_max`` points.

    Each thread keeps the last one it made (up to WORK_KEPT_BYTES) and hands it out again for a net of the
    same shape: the kernels write every entry before they read it, and a fresh buffer's pages cost a fit's
    first epoch more than the epoch itself (the bench's 1-32-32-1: 0.9 ms of page faults). One thread runs
    one fit at a time, so two fits never share a buffer.
    """
    key = (tuple(net.units), net.dtype, net.norm, bool(net.dropout), n_max)
    kept = getattr(_KEPT, "norm", None)
    if kept is not None and kept[0] == key:
        return kept[1]
    made = _norm_workspace(net, n_max)
    if made[0].nbytes <= WORK_KEPT_BYTES:
        _KEPT.norm = (key, made)
    return made


_KEPT = threading.local()


def _norm_workspace(net, n_max):
    u, L = net.units, net.L
    offsets = {name: np.zeros(L + 1, np.int64) for name in N.Plan._fields if name.endswith("_off")}
    off = 0

    def take(name, j, rows):
        nonlocal off
        offsets[name][j] = off
        off += rows * n_max

    for j in range(L + 1):
        take("a_off", j, u[j] + 1 if j < L else u[L])
    for j in range(1, L + 1):
        take("z_off", j, u[j])
        take("d_off", j, u[j] + 1)
        if j < L and net.norm:
            for name in ("zhat_off", "zt_off"):
                take(name, j, u[j])
        if j < L and net.dropout:
            for name in ("h_off", "keep_off"):
                take(name, j, u[j])
        if j < L:
            for name in ("mu_off", "var_off", "invstd_off"):
                offsets[name][j] = off
                off += max(u[j], n_max)
    scalars = {}
    for name, size in (("y_off", u[L] * n_max), ("c_off", 2 * n_max), ("tmp_off", max(t.size for t in net.theta))):
        scalars[name] = off
        off += size
    plan = N.Plan(**{name: scalars.get(name, offsets.get(name)) for name in N.Plan._fields})
    return _page_aligned((off,), net.dtype), plan


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


def learning_rates(optimizer, scheduler, epochs):
    """Each epoch's learning rate, (epochs,) float64: ``optimizer.lr`` throughout, or as ``scheduler`` sets it,
    stepping the schedule once per epoch (it ends as a fit of ``epochs`` epochs leaves it)."""
    lrs = np.empty(epochs)
    for e in range(epochs):
        lrs[e] = optimizer.lr
        if scheduler is not None:
            scheduler.step()
    return lrs


def fit(net, X, Y, optimizer, epochs, batch_size, seed, validation, start_epoch, l2=0.0, scheduler=None):
    """The training loop of :func:`scratchnn.fit`, compiled; arguments already checked there
    (Y and the validation targets as the criterion's ``(n, u^L)`` arrays; ``l2`` is λ).

    Same semantics as the NumPy engine (see :mod:`scratchnn.train`); the parameters, the optimizer
    state, the schedule and (with a norm or dropout) the running statistics and the generator are
    updated in place. Nets with a norm or dropout train through :mod:`scratchnn.fast.norms`, each
    batch in one piece, in training mode, the validation loss in evaluation mode. Returns a
    :class:`~scratchnn.epochs.History` with ``engine="numba"``, ``compile_seconds`` (compiling or
    loading the kernels on a first call) and ``seconds`` (the rest).
    """
    start = time.perf_counter()
    dtype = net.dtype
    n = X.shape[0]
    smallest = n if batch_size is None or batch_size >= n else (n % batch_size or batch_size)  # the last batch
    if net.norm == "batch" and smallest < 2:
        raise ValueError("batch_size: batch norm in training mode needs at least 2 points in every batch (σ² of one "
                         f"point is 0); {n} points in batches of {batch_size or n} leave one alone")
    packed_net, packed_opt = pack(net, optimizer)
    XT, YT = _transposed(X), _transposed(Y)
    if validation is not None:
        XvT, YvT = _transposed(validation[0]), _transposed(validation[1])
    else:
        XvT, YvT = np.empty((net.units[0], 0), dtype), np.empty((net.units[-1], 0), dtype)
    n_max = max(n, XvT.shape[1])
    whole = bool(net.norm or net.dropout)  # the batch in one piece (fast.norms), else in chunks (kernels)
    if whole:
        packed_norm, (work, plan) = pack_norm(net), norm_workspace(net, n_max)
        kernel = N.fit_epochs
    else:
        packed_norm, ctx = None, workspace(net, n_max)
        kernel = K.fit_epochs
    schedule_at = None if scheduler is None else (scheduler.last_epoch, optimizer.lr)
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
        lrs = learning_rates(optimizer, scheduler, E)
        if whole:
            args = (plain(packed_net), plain(packed_norm), XT, YT, XvT, YvT, orders, bs, work, plain(plan),
                    plain(packed_opt), lrs, loss_e, val_e, l2 / n)
        else:
            args = (plain(packed_net), XT, YT, XvT, YvT, orders, bs, plain(ctx), plain(packed_opt), lrs, loss_e, val_e,
                    l2 / n)
        compile_seconds += _compile(kernel, args, dtype)
        with _blas_single_threaded(not whole and packed_net.blas.any()):  # fast.norms multiplies in tiles, no BLAS
            completed = kernel(*args)
        losses.extend(loss_e[:completed])
        if validation is not None:
            val_losses.extend(val_e[:completed])
        done += completed
        if completed < E:
            break
    if scheduler is not None and done < epochs:  # stopped early: the schedule as the epochs that completed leave it
        scheduler.last_epoch, optimizer.lr = schedule_at
        learning_rates(optimizer, scheduler, done)
    unpack(packed_net, packed_opt, net, optimizer, packed_norm)
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
    D = np.zeros(packed.theta.size, net.dtype)
    no_order = np.empty(0, np.int64)
    if net.norm or net.dropout:  # the batch in one piece, in the net's mode; the masks from (and back to) its generator
        if net.norm == "batch" and net.training and n < 2:
            raise ValueError(f"X: batch norm in training mode needs at least 2 data points (σ² of one point is 0), "
                             f"got {n}; as torch, use net.eval() for a single point")
        work, plan = norm_workspace(net, n)
        XT, YT = _transposed(X), _transposed(Y)

        def call():
            packed_norm = pack_norm(net)
            loss = N.batch_loss_grad(plain(packed), plain(packed_norm), XT, YT, no_order, n, work, plain(plan), D,
                                     backward, net.training, l2 / n)
            unpack_norm(packed_norm, net)
            return loss
    else:
        ctx = workspace(net, n)
        args = (plain(packed), _transposed(X), _transposed(Y), no_order, n, plain(ctx), D, backward, l2 / n)

        def call():
            return K.batch_loss_grad(*args)

    blas = not (net.norm or net.dropout) and packed.blas.any()  # fast.norms multiplies in tiles, no BLAS

    def run():
        with _blas_single_threaded(blas):
            loss = net.dtype.type(call())
        return loss, _split(D, net.params)

    return run


def _split(flat, arrays):
    """Copies of ``flat``'s consecutive pieces, shaped like ``arrays`` (the inverse of ``_flat``)."""
    out, off = [], 0
    for a in arrays:
        out.append(flat[off : off + a.size].reshape(a.shape).copy())
        off += a.size
    return out


def prepare_step(net, optimizer, t=1):
    """A function of no arguments that runs one compiled optimizer step, as a fit runs it (for timing).

    It steps packed copies of theta and of the optimizer's state (:func:`pack`), with the
    gradient D = 0 and the step count ``t`` at every call: ``net`` and ``optimizer`` never change.
    """
    packed_net, opt = pack(net, optimizer)
    opt.t[0] = t
    args = (plain(opt), float(optimizer.lr), packed_net.theta)
    return lambda: K.optimizer_step(*args)


def loss_and_grad(net, X, Y, backward=True, l2=0.0):
    """``(L, D)`` as :meth:`scratchnn.MLP.loss_and_grad`: the loss (the net's criterion, plus the
    L2 term with ``l2=λ``) and D^j = ∂𝓛/∂θ^j, compiled.

    With ``backward=False`` only the forward pass and the loss run (D is then zeros).
    """
    Y = check_pair(X, Y, net)  # the criterion's (n, u^L) targets: class indices become one-hot rows
    l2 = check_real("l2", l2, low=0.0)
    return prepare_loss_and_grad(net, X, Y, backward, l2)()
