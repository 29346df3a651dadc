r"""The compiled forward, backward, optimizer step and epoch loop of the numba engine.

The same mathematics as :mod:`scratchnn.mlp` and :mod:`scratchnn.optimizers`,
reorganised for speed; the names are the textbook engine's.

Layout
------
Each quantity is stored *transposed*, points along the fast axis, so every
inner loop runs over data points ``i`` and vectorizes whatever the width:

    A^j  = (a^j)^T       (u^j + 1, m), row 0 is the bias unit (all ones)
    Z^j  = (z^j)^T       (u^j, m)
    delta^j (transposed) (u^j, m)

for a chunk of ``m`` points (``engine.chunk_points``). In this layout the forward and backward
passes read

    Z^{j+1}  = theta^j A^j                                   (u^{j+1}, m)
    D^j     += delta^{j+1} (A^j)^T                           (u^{j+1}, u^j + 1)
    delta^j  = (theta^j[:, 1:])^T delta^{j+1} * g_j'(Z^j)    (u^j, m)

Each product is either a fused loop (small layers: ``forward_small`` and
``back_small`` apply g and g' to each row while it is in L1, ``grad_small``) or a
BLAS call through ``np.dot`` (large layers); ``engine.uses_blas`` chooses per layer.
The last step of a small tanh net (layer 1 over at most 3 inputs, as the workshop's)
fuses two: ``back_grad_tanh`` sends each row of delta^1 into D^0 as it is made.

Chunks, groups and determinism
------------------------------
A batch of ``nb`` points is cut into chunks of consecutive points (a size fixed by the net).
Chunk ``c`` belongs to group ``c mod G`` (``G = min(GROUPS, chunks)``); each
group sums its chunks' losses and gradients in chunk order into its own
partials, and the partials are summed in group order. The split depends only
on ``nb`` and the net (``engine.chunk_points``), never on the thread count, so one
thread or many give bit-identical results. Large batches (``nb`` times the number
of parameters at least ``engine.PARALLEL_MIN_WORK``) run the groups in parallel
(``prange``); BLAS runs at one thread inside every kernel (``engine`` limits it),
so it adds no dependence on threads either. Reductions (``dot``, ``sum_of_squares``)
are vectorized in lanes whose order the compiler fixes for the machine: results are
bit-identical run to run on one machine, whether the kernels were compiled in the
process or loaded from numba's cache, and may differ in the last bits on a CPU
with other vector widths. Every other operation rounds as written (no fused
multiply-add but the explicit ones of ``elementwise``; see ``elementwise.JIT``), so
``optimizer_step`` gives the NumPy engine's bits for the same gradient.

What the kernels take
---------------------
Named tuples, packed by :mod:`scratchnn.fast.engine` (``pack``, ``workspace``): :data:`PackedNet`
(the widths, activations, BLAS choices, theta^j flat and the criterion), :data:`PackedOptimizer`
(the :data:`Hyperparameters` and flat state of the optimizer) and :data:`Workspace` (a chunk's
buffers and the group partials). Compiled, ``net.theta`` is the same load as ``net[4]``. The
kernels called from Python (``fit_epochs``, ``batch_loss_grad``, ``optimizer_step``) also take
them as plain tuples (``engine.plain``) and name them again on entry: numba types a named tuple
argument from its class and field names at every call from Python (measured: a 1-5-5-1 Adam step
called from Python, 0.6 µs with plain arguments, 2.0 µs with Adam's settings and state in one
named tuple).

Criteria
--------
``net.criterion`` names the criterion (``MSE``, ``BCE``, ``CROSS_ENTROPY``; see :mod:`scratchnn.losses`).
``squared_error``, ``binary_cross_entropy`` and ``softmax_cross_entropy`` sit side by
side: each returns a chunk's loss sum and writes δ^L in its derived form
((2/N)(a^L - y) ⊙ g_L'(z^L), (a^L - y)/N, (softmax(z^L) - y)/n); ``l2_term`` adds the
L2 penalty of Ng's ex4 to a batch's loss and gradients.

Scalars are cast to the arrays' dtype (``dtype.type(c)``), so float32 stays float32.
"""

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic
from numpy.lib.stride_tricks import as_strided

from .elementwise import JIT, TANH, g_rows, times_g_prime, vexp

# A reduction may be reordered into vector lanes (reassoc); the loop vectorizer chooses the lanes when
# the function is first optimized and leaves a vectorized loop alone after, so every copy of it sums
# alike (tests/test_fast_determinism.py: fresh and cached kernels, bit for bit).
REDUCE = dict(JIT, fastmath={"reassoc"})

ADAM, SGD, ADAMW, RMSPROP, ADAGRAD = 0, 1, 2, 3, 4  # the optimizers of scratchnn.optimizers
MSE, BCE, CROSS_ENTROPY = 0, 1, 2  # the criteria of scratchnn.losses

PackedNet = namedtuple("PackedNet", ["units", "acts", "blas", "theta_off", "theta", "criterion"])
PackedNet.__doc__ = """The net as the kernels take it (``engine.pack_net``), layer j = 0 .. L-1 from theta^j:

``units`` u^0 .. u^L (L + 1,) int64; ``acts`` the code of g_{j+1} (L,) int64 (``elementwise.CODES``);
``blas`` whether layer j multiplies through BLAS (L,) bool; ``theta_off`` (L + 1,) int64 and ``theta``
(number of parameters,): theta^j is ``theta[theta_off[j]:theta_off[j + 1]]``, row-major
(u^{j+1}, u^j + 1), bias in column 0; ``criterion`` the loss's code (MSE, BCE or CROSS_ENTROPY)."""

Hyperparameters = namedtuple("Hyperparameters", [
    "kind", "lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "momentum", "dampening", "nesterov", "alpha",
    "centered", "lr_decay",
])
Hyperparameters.__doc__ = """An optimizer's settings as ``optimizer_step`` takes them: ``kind`` (ADAM, SGD, ADAMW, RMSPROP,
ADAGRAD), then the hyper-parameters as :mod:`scratchnn.optimizers` names them (float64; ``amsgrad``,
``nesterov``, ``centered`` bool; those the optimizer lacks 0). ``lr`` is the learning rate it was
packed with; a fit passes each epoch's (a schedule's) to ``optimizer_step``."""

PackedOptimizer = namedtuple("PackedOptimizer", ["hyper", "t", "D", "m", "v", "v_max", "b", "square_avg", "grad_avg",
                                                 "sum"])
PackedOptimizer.__doc__ = """An optimizer as ``fit_epochs`` takes it (``engine.pack_optimizer``): ``hyper`` its
:data:`Hyperparameters`; ``t`` the step count, a 1-element int64 array updated in place; ``D`` the
gradient buffer (number of parameters,); the state, flat like ``PackedNet.theta`` and named as the
optimizer names it: ``m``, ``v``, ``v_max`` (Adam, AdamW), ``b`` (SGD, RMSprop), ``square_avg``,
``grad_avg`` (RMSprop) and ``sum`` (Adagrad), empty arrays for the state an optimizer lacks."""

Workspace = namedtuple("Workspace", ["chunk", "max_groups", "parallel_min_work", "works", "plan", "Dparts",
                                     "loss_sums"])
Workspace.__doc__ = """The work buffers of ``batch_loss_grad`` (``engine.workspace``): ``chunk`` points per
chunk, at most ``max_groups`` groups, in threads when a batch's n x parameters reaches
``parallel_min_work``; per group g a buffer ``works[g]``, its gradient partial ``Dparts[g]`` and its
loss sum ``loss_sums[g]``. ``plan = (a_off, z_off, d_off, y_off, tmp_off)`` says where a chunk's
quantities start in a buffer: A^j at ``a_off[j]``, Z^j at ``z_off[j]``, delta^j at ``d_off[j]``
(each (L + 1,) int64, j = 0 .. L), Y at ``y_off``, a scratch D^j at ``tmp_off``."""


@intrinsic
def _contiguous(typingctx, arr):
    """``arr`` typed as C-contiguous (the caller knows it is): the same array, retyped, no copy."""
    c_type = arr.copy(layout="C")

    def codegen(context, builder, sig, args):
        return impl_ret_borrowed(context, builder, sig.return_type, args[0])

    return c_type(arr), codegen


@njit(**JIT)
def view(flat, off, rows, cols):
    """The ``(rows, cols)`` C-contiguous matrix stored in ``flat`` from ``off``.

    Built from its strides: ``flat[...].reshape`` calls a C helper, ~70 cycles a view, and a
    chunk takes dozens of views, which for the workshop's nets is more than their arithmetic.
    """
    return _contiguous(as_strided(flat[off:], shape=(rows, cols), strides=(cols * flat.itemsize, flat.itemsize)))


# ------------------------------------------------------------- small layers, fused loops
# These loops index the 2-D arrays (Z[s, i]) rather than take rows (Z[s]): a row is a new array
# object, and numba counts references to it with atomic instructions, which for tiny nets cost
# more than the arithmetic.
@njit(**JIT)
def affine_row(theta, A, Z, s):
    """Row s of Z = theta A: z^{j+1}_{si} = theta_{s0} + sum_{k>=1} theta_{sk} a^j_{ki} (row 0 of A is the unit 1)."""
    t0, t1 = theta[s, 0], theta[s, 1]  # the bias (times the unit 1) and the first input
    for i in range(Z.shape[1]):
        Z[s, i] = t0 + t1 * A[1, i]
    for k in range(2, A.shape[0]):
        t = theta[s, k]
        for i in range(Z.shape[1]):
            Z[s, i] += t * A[k, i]


@njit(**JIT)
def forward_small(theta, A, Z, code, H):
    """Z = theta A and H = g(Z), one unit's row at a time (it stays in L1 between the two).

    H is a^{j+1} without its bias row.
    """
    for s in range(Z.shape[0]):
        affine_row(theta, A, Z, s)
        g_rows(code, Z[s : s + 1], H[s : s + 1])


@njit(**REDUCE)
def dot(x, s, y, k):
    """sum_i x_{si} y_{ki} (vectorized: the order of the sum is the compiler's lanes, fixed per build)."""
    acc = x.dtype.type(0)
    for i in range(x.shape[1]):
        acc += x[s, i] * y[k, i]
    return acc


@njit(**JIT)
def grad_small(delta, A, D):
    """D += delta A^T, i.e. D^j_{sk} += sum_i delta^{j+1}_{si} a^j_{ki}."""
    for s in range(D.shape[0]):
        for k in range(D.shape[1]):
            D[s, k] += dot(delta, s, A, k)


@njit(**JIT)
def theta_t_delta_row(theta, delta_next, delta, k):
    """Row k of theta[:, 1:]^T delta_next: delta_{ki} = sum_s theta_{s,k+1} delta^{j+1}_{si}, summed in order of s."""
    t = theta[0, k + 1]
    for i in range(delta.shape[1]):
        delta[k, i] = t * delta_next[0, i]
    for s in range(1, delta_next.shape[0]):
        t = theta[s, k + 1]
        for i in range(delta.shape[1]):
            delta[k, i] += t * delta_next[s, i]


@njit(**JIT)
def back_small(theta, delta_next, delta, code, Z, H):
    """delta = theta[:, 1:]^T delta_next * g'(Z), one unit's row at a time.

    delta^j_{ki} = (sum_s theta_{s,k+1} delta^{j+1}_{si}) g_j'(z^j_{ki}); H is a^j without its bias row.
    """
    for k in range(delta.shape[0]):
        theta_t_delta_row(theta, delta_next, delta, k)
        times_g_prime(code, Z[k : k + 1], H[k : k + 1], delta[k : k + 1])


@njit(**REDUCE)
def tanh_grad_dots(t, R, r, H, k, A):
    """e_i = t R_{ri} (1 - H_{ki}^2) and the four sums sum_i e_i A_{li}, l = 0 .. 3 (rows past A's
    repeat row 0; their sums are dropped): backward through tanh and the layer below in one pass."""
    one = H.dtype.type(1)
    last = A.shape[0] - 1
    l1, l2, l3 = min(1, last), min(2, last), min(3, last)
    s0 = s1 = s2 = s3 = H.dtype.type(0)
    for i in range(H.shape[1]):
        e = t * R[r, i] * (one - H[k, i] * H[k, i])
        s0 += e * A[0, i]
        s1 += e * A[l1, i]
        s2 += e * A[l2, i]
        s3 += e * A[l3, i]
    return s0, s1, s2, s3


@njit(**JIT)
def back_grad_tanh(theta, delta_next, delta, H, A, D):
    """delta^1 = theta^1[:, 1:]^T delta^2 * (1 - (a^1)^2) and D^0 += delta^1 (a^0)^T, fused, for a
    tanh layer 1 above at most 3 inputs (u^0 + 1 <= 4): each unit's delta^1 row goes into D^0
    while it is in L1, or straight from delta^2 when u^2 = 1 (never stored)."""
    for k in range(delta.shape[0]):
        if delta_next.shape[0] == 1:
            s0, s1, s2, s3 = tanh_grad_dots(theta[0, k + 1], delta_next, 0, H, k, A)
        else:
            theta_t_delta_row(theta, delta_next, delta, k)
            s0, s1, s2, s3 = tanh_grad_dots(H.dtype.type(1), delta, k, H, k, A)
        D[k, 0] += s0
        if D.shape[1] > 1:
            D[k, 1] += s1
        if D.shape[1] > 2:
            D[k, 2] += s2
        if D.shape[1] > 3:
            D[k, 3] += s3


@njit(**REDUCE)
def sum_of_squares(R):
    """sum_{s,i} R_{si}^2."""
    acc = R.dtype.type(0)
    for s in range(R.shape[0]):
        r = R[s]
        for i in range(r.size):
            acc += r[i] * r[i]
    return acc


# ------------------------------------------------------- the criteria: a chunk's loss and delta^L
@njit(**JIT)
def squared_error(AL, Y, delta, scale, backward):
    """Σ_si (a_si - y_si)² and, when ``backward``, delta = scale (a^L - y), scale = 2/N (mse; g_L' comes after)."""
    for s in range(AL.shape[0]):
        r, a, y = delta[s], AL[s], Y[s]  # (m,)
        for i in range(r.size):
            r[i] = a[i] - y[i]
    loss_sum = sum_of_squares(delta)
    if backward:
        for s in range(delta.shape[0]):
            r = delta[s]  # (m,)
            for i in range(r.size):
                r[i] *= scale
    return loss_sum


@njit(**JIT)
def binary_cross_entropy(ZL, AL, Y, delta, scale, backward):
    """Σ_si softplus(z_si) - y_si z_si and, when ``backward``, delta = scale (a^L - y), scale = 1/N (bce).

    softplus(z) = max(z, 0) + log(1 + e^{-|z|}): the loss of a = σ(z) from z, no log(0) where σ saturates.
    """
    zero = ZL.dtype.type(0)
    loss_sum = zero
    for s in range(ZL.shape[0]):
        z, y = ZL[s], Y[s]  # (m,)
        for i in range(z.size):
            loss_sum += (z[i] if z[i] > zero else zero) - y[i] * z[i] + math.log1p(vexp(-abs(z[i])))
        if backward:
            a, d = AL[s], delta[s]  # (m,)
            for i in range(d.size):
                d[i] = (a[i] - y[i]) * scale
    return loss_sum


@njit(**JIT)
def softmax_cross_entropy(ZL, Y, delta, scale, backward):
    """Σ_i Σ_s -y_si log softmax(z_i)_s and, when ``backward``, delta = scale (softmax(z^L) - y), scale = 1/n.

    One point (column i) at a time: m = max_s z_si, e_s = e^{z_si - m} (no overflow),
    log softmax(z_i)_s = (z_si - m) - log Σ_k e_k (torch's order).
    """
    T = ZL.dtype.type
    loss_sum = T(0)
    for i in range(ZL.shape[1]):
        m = ZL[0, i]
        for s in range(1, ZL.shape[0]):
            m = ZL[s, i] if ZL[s, i] > m else m
        total = T(0)
        for s in range(ZL.shape[0]):
            total += vexp(ZL[s, i] - m)
        log_total = math.log(total)
        for s in range(ZL.shape[0]):
            loss_sum -= Y[s, i] * ((ZL[s, i] - m) - log_total)
        if backward:
            for s in range(ZL.shape[0]):
                delta[s, i] = (vexp(ZL[s, i] - m) / total - Y[s, i]) * scale
    return loss_sum


@njit(**JIT)
def l2_term(net, l2_n, D, backward):
    """λ/(2n) Σ_j ‖θ^j[:, 1:]‖² and, when ``backward``, D^j[:, 1:] += (λ/n) θ^j[:, 1:]; ``l2_n`` = λ/n.

    Column 0 of θ^j, the bias, is not penalised (Ng's ex4).
    """
    units, theta_off, theta = net.units, net.theta_off, net.theta
    T = theta.dtype.type
    c = T(l2_n)
    squares = T(0)
    for j in range(units.size - 1):
        th = view(theta, theta_off[j], units[j + 1], units[j] + 1)  # (u^{j+1}, u^j + 1)
        Dj = view(D, theta_off[j], units[j + 1], units[j] + 1)  # (u^{j+1}, u^j + 1)
        for s in range(th.shape[0]):
            for k in range(1, th.shape[1]):
                squares += th[s, k] * th[s, k]
                if backward:
                    Dj[s, k] += c * th[s, k]
    return T(l2_n / 2) * squares


@njit(**JIT)
def gather(x, order, i0, out):
    """out_i = x[order[i0 + i]] (a minibatch's rows), or x[i0 + i] when ``order`` is empty (the full batch)."""
    if order.size == 0:
        out[:] = x[i0 : i0 + out.size]
    else:
        for i in range(out.size):
            out[i] = x[order[i0 + i]]


# ------------------------------------------------------------------- one chunk of points
@njit(**JIT)
def chunk_loss_grad(net, XT, YT, order, i0, i1, work, plan, D, scale, backward):
    """Forward (and backward) over points ``i0 <= i < i1`` of the batch.

    ``net``: the :data:`PackedNet`. ``order`` maps batch position to data row (empty: the
    identity). ``plan`` (see :data:`Workspace`) holds the offsets of A^j, Z^j, delta^j, Y and a scratch
    matrix in ``work``. Adds D^j (scaled by ``scale`` through delta^L) to ``D``
    when ``backward``; returns the chunk's loss sum (before the mean).
    """
    units, acts, blas, theta_off, theta = net.units, net.acts, net.blas, net.theta_off, net.theta
    a_off, z_off, d_off, y_off, tmp_off = plan
    L = units.size - 1
    m = i1 - i0
    one = theta.dtype.type(1)

    # a^0 = [1, X] and the targets, transposed: (u^0 + 1, m) and (u^L, m)
    A0 = view(work, a_off[0], units[0] + 1, m)
    Yc = view(work, y_off, units[L], m)
    A0[0, :] = one
    for k in range(units[0]):
        gather(XT[k], order, i0, A0[k + 1])
    for s in range(units[L]):
        gather(YT[s], order, i0, Yc[s])

    # forward through layers j = 0 .. L-1: Z^{j+1} = theta^j A^j, A^{j+1} = [1, g(Z^{j+1})]
    for j in range(L):
        th = view(theta, theta_off[j], units[j + 1], units[j] + 1)  # (u^{j+1}, u^j + 1)
        A = view(work, a_off[j], units[j] + 1, m)  # (u^j + 1, m)
        Z = view(work, z_off[j + 1], units[j + 1], m)  # (u^{j+1}, m)
        if j + 1 < L:
            view(work, a_off[j + 1], 1, m)[0, :] = one  # the bias unit of a^{j+1}
            H = view(work, a_off[j + 1] + m, units[j + 1], m)  # g(Z^{j+1}): a^{j+1} below its bias row
        else:
            H = view(work, a_off[L], units[L], m)  # a^L, (u^L, m)
        if blas[j]:
            np.dot(th, A, Z)
            g_rows(acts[j], Z, H)
        else:
            forward_small(th, A, Z, acts[j], H)

    # the loss and, backward through it and g_L, delta^L in the criterion's derived form
    AL = view(work, a_off[L], units[L], m)  # (u^L, m)
    ZL = view(work, z_off[L], units[L], m)  # (u^L, m)
    delta = view(work, d_off[L] + m, units[L], m)  # (u^L, m)
    if net.criterion == MSE:  # delta^L = (2/N)(a^L - y) * g_L'(z^L)
        loss_sum = squared_error(AL, Yc, delta, scale, backward)
        if backward:
            times_g_prime(acts[L - 1], ZL, AL, delta)
    elif net.criterion == BCE:  # delta^L = (a^L - y)/N
        loss_sum = binary_cross_entropy(ZL, AL, Yc, delta, scale, backward)
    else:  # delta^L = (softmax(z^L) - y)/n
        loss_sum = softmax_cross_entropy(ZL, Yc, delta, scale, backward)
    if not backward:
        return loss_sum
    for j in range(L - 1, -1, -1):
        th = view(theta, theta_off[j], units[j + 1], units[j] + 1)  # (u^{j+1}, u^j + 1)
        A = view(work, a_off[j], units[j] + 1, m)  # (u^j + 1, m)
        delta_next = view(work, d_off[j + 1] + m, units[j + 1], m)  # (u^{j+1}, m)
        # backward through theta^j: D^j += delta^{j+1} (a^j)^T
        Dj = view(D, theta_off[j], units[j + 1], units[j] + 1)  # (u^{j+1}, u^j + 1)
        if blas[j]:
            tmp = view(work, tmp_off, units[j + 1], units[j] + 1)  # (u^{j+1}, u^j + 1)
            np.dot(delta_next, A.T, tmp)
            Dj += tmp
        else:
            grad_small(delta_next, A, Dj)
        if j == 0:
            break
        # backward through g_j: delta^j = theta^j[:, 1:]^T delta^{j+1} * g_j'(z^j), skipping the bias row
        delta = view(work, d_off[j] + m, units[j], m)  # (u^j, m)
        Z = view(work, z_off[j], units[j], m)  # (u^j, m)
        H = view(work, a_off[j] + m, units[j], m)  # a^j below its bias row, (u^j, m)
        if j == 1 and not blas[1] and not blas[0] and acts[0] == TANH and units[0] + 1 <= 4:
            # ... and through theta^0 in the same pass: D^0 += delta^1 (a^0)^T
            A0 = view(work, a_off[0], units[0] + 1, m)  # (u^0 + 1, m)
            back_grad_tanh(th, delta_next, delta, H, A0, view(D, theta_off[0], units[1], units[0] + 1))
            break
        if blas[j]:
            np.dot(th.T, delta_next, view(work, d_off[j], units[j] + 1, m))  # row 0 (the bias) is discarded
            times_g_prime(acts[j - 1], Z, H, delta)
        else:
            back_small(th, delta_next, delta, acts[j - 1], Z, H)
    return loss_sum


# ---------------------------------------------------------- a batch: chunks in groups
@njit(**JIT)
def group_loss_grad(g, groups, chunk, net, XT, YT, order, nb, work, plan, Dpart, scale, backward):
    """Group g's share: chunks g, g + G, g + 2G, ... in order, summed into its own partials."""
    if backward:
        Dpart[:] = 0
    loss_sum = net.theta.dtype.type(0)
    for c in range(g, (nb + chunk - 1) // chunk, groups):
        i0 = c * chunk
        loss_sum += chunk_loss_grad(net, XT, YT, order, i0, min(i0 + chunk, nb), work, plan, Dpart, scale, backward)
    return loss_sum


@njit(**JIT)
def groups_serial(groups, chunk, net, XT, YT, order, nb, works, plan, Dparts, scale, backward, loss_sums):
    for g in range(groups):
        loss_sums[g] = group_loss_grad(g, groups, chunk, net, XT, YT, order, nb, works[g], plan, Dparts[g], scale, backward)


@njit(parallel=True, **JIT)
def groups_parallel(groups, chunk, net, XT, YT, order, nb, works, plan, Dparts, scale, backward, loss_sums):
    for g in prange(groups):
        loss_sums[g] = group_loss_grad(g, groups, chunk, net, XT, YT, order, nb, works[g], plan, Dparts[g], scale, backward)


@njit(**JIT)
def batch_loss_grad(net, XT, YT, order, nb, ctx, D, backward, l2_n):
    """𝓛 over the batch and, when ``backward``, D^j = ∂𝓛/∂θ^j into ``D`` (flat).

    𝓛 is the net's criterion, a mean over the N = nb u^L entries (mse, bce) or the
    N = nb points (cross_entropy), plus the L2 term when ``l2_n`` = λ/n is not 0.
    ``net``: the :data:`PackedNet`, ``ctx``: the :data:`Workspace` (or their plain tuples); groups
    run in threads when ``nb`` times the number of parameters reaches ``ctx.parallel_min_work``.
    """
    net, ctx = PackedNet(*net), Workspace(*ctx)
    chunk, works, plan, Dparts, loss_sums = ctx.chunk, ctx.works, ctx.plan, ctx.Dparts, ctx.loss_sums
    units = net.units
    T = net.theta.dtype.type
    N = nb if net.criterion == CROSS_ENTROPY else nb * units[units.size - 1]
    scale = T(2.0 / N) if net.criterion == MSE else T(1.0 / N)  # rounded to the dtype, as torch and scratchnn.losses do
    groups = min(ctx.max_groups, (nb + chunk - 1) // chunk)
    if nb * net.theta.size >= ctx.parallel_min_work:
        groups_parallel(groups, chunk, net, XT, YT, order, nb, works, plan, Dparts, scale, backward, loss_sums)
    else:
        groups_serial(groups, chunk, net, XT, YT, order, nb, works, plan, Dparts, scale, backward, loss_sums)
    loss_sum = loss_sums[0]
    for g in range(1, groups):
        loss_sum += loss_sums[g]
    if backward:
        D[:] = Dparts[0]
        for g in range(1, groups):
            D += Dparts[g]
    loss = loss_sum / T(N)
    if l2_n != 0:
        loss += l2_term(net, l2_n, D, backward)
    return loss


# ------------------------------------------------------------------------- optimizers
@njit(**JIT)
def optimizer_step(opt, lr, theta):
    r"""One step of the optimizer ``opt`` at learning rate ``lr`` on flat theta, with the gradient ``opt.D``.

    torch's formulas, term for term and rounded as :mod:`scratchnn.optimizers` rounds them (the same
    bits for the same gradient). ``opt``: the :data:`PackedOptimizer` (or its plain tuple); ``opt.t[0]``
    is the step count after this step (t = 1 on the first); the state, flat like theta, is updated in
    place. g = D + lambda theta (weight decay lambda, except AdamW's), then:

    Adam:    m_t = m + (1 - beta1)(g - m),  v_t = beta2 v + (1 - beta2) g^2,
             theta -= lr / (1 - beta1^t) * m_t / (sqrt(vhat) / sqrt(1 - beta2^t) + eps)
    AdamW:   theta *= 1 - lr lambda, then Adam's step on g = D
    SGD:     b_t = g (t = 1) or mu b + (1 - tau) g;  theta -= lr (g + mu b_t if nesterov else b_t)
    RMSprop: s_t = alpha s + (1 - alpha) g^2,  r = sqrt(s_t [- gbar_t^2 centered]) + eps,
             theta -= lr g / r  (momentum mu: b_t = mu b + g / r, theta -= lr b_t)
    Adagrad: G_t = G + g^2,  theta -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(G_t) + eps)
    """
    opt = PackedOptimizer(*opt)
    hyper = Hyperparameters(*opt.hyper)
    D, t = opt.D, opt.t[0]
    T = theta.dtype.type
    weight_decay = hyper.weight_decay
    kind = hyper.kind
    l2_decay = weight_decay != 0 and kind != ADAMW  # torch's weight decay in the gradient; AdamW's is decoupled
    wd = T(weight_decay)
    if kind == ADAMW and weight_decay != 0:
        shrink = T(1 - lr * weight_decay)
        for p in range(theta.size):
            theta[p] *= shrink
    if kind == ADAM or kind == ADAMW:
        m, v, v_max = opt.m, opt.v, opt.v_max
        beta1, beta2 = hyper.beta1, hyper.beta2
        one_minus_beta1, beta2_t, one_minus_beta2 = T(1 - beta1), T(beta2), T(1 - beta2)
        neg_step_size = T(-(lr / (1 - math.pow(beta1, t))))
        bias_correction2_sqrt = T(math.pow(1 - math.pow(beta2, t), 0.5))  # as Python's ** 0.5
        eps_t = T(hyper.eps)
        use_max = hyper.amsgrad
        for p in range(theta.size):
            g = D[p] + theta[p] * wd if l2_decay else D[p]
            m[p] += (g - m[p]) * one_minus_beta1
            v[p] *= beta2_t
            v[p] += g * one_minus_beta2 * g
            vh = v[p]
            if use_max:
                v_max[p] = v_max[p] if v_max[p] >= vh else vh
                vh = v_max[p]
            theta[p] += neg_step_size * m[p] / (np.sqrt(vh) / bias_correction2_sqrt + eps_t)
    elif kind == SGD:
        b = opt.b
        momentum, nesterov = hyper.momentum, hyper.nesterov
        mu, damp, lr_t = T(momentum), T(1 - hyper.dampening), T(lr)
        for p in range(theta.size):
            g = D[p] + theta[p] * wd if l2_decay else D[p]
            if momentum != 0:
                if t == 1:
                    b[p] = g  # torch starts the buffer at the first gradient, undamped
                else:
                    b[p] = b[p] * mu + g * damp
                g = g + b[p] * mu if nesterov else b[p]
            theta[p] -= g * lr_t
    elif kind == RMSPROP:
        s, gbar, b = opt.square_avg, opt.grad_avg, opt.b
        alpha_t, one_minus_alpha, eps_t = T(hyper.alpha), T(1 - hyper.alpha), T(hyper.eps)
        momentum, centered = hyper.momentum, hyper.centered
        mu, lr_t, neg_lr = T(momentum), T(lr), T(-lr)
        far = abs(one_minus_alpha) >= 0.5  # torch's lerp (weight w = 1 - alpha) rounds from the far end when w >= 1/2
        one_minus_w = T(1) - one_minus_alpha
        for p in range(theta.size):
            g = D[p] + theta[p] * wd if l2_decay else D[p]
            s[p] *= alpha_t
            s[p] += g * one_minus_alpha * g
            if centered:
                if far:
                    gbar[p] = g - (g - gbar[p]) * one_minus_w
                else:
                    gbar[p] += (g - gbar[p]) * one_minus_alpha
                r = np.sqrt(s[p] - gbar[p] * gbar[p]) + eps_t
            else:
                r = np.sqrt(s[p]) + eps_t
            if momentum > 0:
                b[p] *= mu
                b[p] += g / r
                theta[p] -= b[p] * lr_t
            else:
                theta[p] += neg_lr * g / r
    else:  # ADAGRAD
        G = opt.sum
        neg_clr = T(-(lr / (1 + (t - 1) * hyper.lr_decay)))
        eps_t = T(hyper.eps)
        for p in range(theta.size):
            g = D[p] + theta[p] * wd if l2_decay else D[p]
            G[p] += g * g
            theta[p] += neg_clr * g / (np.sqrt(G[p]) + eps_t)


# ------------------------------------------------------------------------- epochs
@njit(**JIT)
def fit_epochs(net, XT, YT, XvT, YvT, orders, batch_size, ctx, opt, lrs, losses, val_losses, l2_n):
    """Epochs e = 0 .. len(losses)-1 of the training loop (see :mod:`scratchnn.train`).

    ``l2_n`` = λ/n (n the training points) adds the L2 term to every batch; the validation loss has none.

    ``net``, ``ctx``, ``opt``: the :data:`PackedNet`, :data:`Workspace` and :data:`PackedOptimizer`
    (or their plain tuples), the optimizer's step count ``opt.t`` and state updated in place.
    ``orders[e]`` is epoch e's visiting order (empty rows: full batch), ``lrs[e]`` its learning rate. Records the loss before
    each update (the size-weighted mean of the batch losses) and, when ``XvT`` has points, the
    validation loss at the start of the epoch. Returns how many epochs completed: fewer than
    asked when a loss was not finite (theta is then as it was before that batch).
    """
    net, ctx, opt = PackedNet(*net), Workspace(*ctx), PackedOptimizer(*opt)
    t, theta = opt.t, net.theta
    D = opt.D
    n = XT.shape[1]
    no_order = np.empty(0, np.int64)
    for e in range(losses.size):
        if XvT.shape[1] > 0:
            val_losses[e] = batch_loss_grad(net, XvT, YvT, no_order, XvT.shape[1], ctx, D, False, 0.0)
        epoch_loss = 0.0
        if orders.shape[1] == 0:  # full batch
            epoch_loss = float(batch_loss_grad(net, XT, YT, no_order, n, ctx, D, True, l2_n))
            if not np.isfinite(epoch_loss):
                return e
            t[0] += 1
            optimizer_step(opt, lrs[e], theta)
        else:
            for k0 in range(0, n, batch_size):
                nb = min(batch_size, n - k0)
                loss = batch_loss_grad(net, XT, YT, orders[e, k0 : k0 + nb], nb, ctx, D, True, l2_n)
                epoch_loss += float(loss) * (nb / n)
                if not np.isfinite(epoch_loss):
                    return e
                t[0] += 1
                optimizer_step(opt, lrs[e], theta)
        losses[e] = epoch_loss
    return losses.size
