r"""The floor: a lower bound on one epoch's time on this machine, which the bench divides each engine's epoch by.

For the bench's model (tanh on every layer, the output too; the mean squared error;
full-batch Adam) on n points::

    floor = F / peak + T c_tanh

- F, the floating-point operations of an epoch (:func:`epoch_flops`): forward,
  loss, backward and Adam's update, a multiply-add counted as 2;
- peak, the FLOP/s of this machine's BLAS on a large matrix product
  (:func:`blas_peak`: ``np.dot`` of two 1024 x 1024 matrices of the dtype, on the
  bench's threads, the best of a few runs): what the arithmetic could run at,
  every multiply-add fused and vectorized, operands in cache;
- T, the tanh evaluations of an epoch (:func:`tanh_count`), at c_tanh, the seconds
  per value of the numba engine's own vectorized tanh on a long array
  (:func:`tanh_cost`: ``scratchnn.fast.elementwise.g_vector`` on 2^20 values).

It is a bound, not a target: it counts no memory traffic (a^j, z^j, δ^j are
written and read back every epoch), no loop or call overhead (per epoch, per
layer, per operation: what dominates a net of 16 parameters), and it prices the
element-wise work (Adam's square roots and divisions, g') at the matrix product's
rate, which no element-wise loop reaches; the matmuls of these nets, a few units
wide, are far too small to reach that rate either.

One caveat: the tanh part is priced at the numba engine's tanh, the fastest of
NumPy's, torch's and its own here, but not XLA's in float64 (0.88 against 0.95 ns
per value on the machine this was written on; XLA's 6 ulp from np.tanh at worst, ours 3): a
float64 engine spending its time in XLA's tanh could, in principle, come in under the floor's tanh part.
"""

import time

import numpy as np

ADAM_FLOPS = 13  # per parameter: m (3), v (4), √v / √(1 - β2^t) + ε (3), θ += s m / denom (3)


def epoch_flops(units, n):
    r"""Floating-point operations of one full-batch Adam epoch of the bench's model, tanh not included.

    With units ``[u^0, ..., u^L]``, n points, P = Σ_j u^{j+1}(u^j + 1) parameters:

    .. math::

        F = \underbrace{\sum_{j=0}^{L-1} 2 n u^{j+1}(u^j + 1)}_{z^{j+1} = a^j (θ^j)^T}
          + \underbrace{3 n u^L}_{𝓛}
          + \underbrace{5 n u^L}_{δ^L}
          + \underbrace{\sum_{j=0}^{L-1} 2 n u^{j+1}(u^j + 1)}_{D^j = (δ^{j+1})^T a^j}
          + \sum_{j=1}^{L-1} \underbrace{\left(2 n u^{j+1} u^j + 3 n u^j\right)}_{
                δ^j = (δ^{j+1} θ^j[:, 1:]) ⊙ (1 - (a^j)^2)}
          + 13 P

    𝓛 = mean((a^L - y)²): a subtraction, a square and a sum per output;
    δ^L = (2/N)(a^L - y) ⊙ (1 - (a^L)²): 5 per output; g'(z) = 1 - a² and the product: 3
    per hidden unit; Adam: :data:`ADAM_FLOPS` per parameter. A multiply-add is 2.
    """
    L = len(units) - 1
    matmul = sum(2 * n * units[j + 1] * (units[j] + 1) for j in range(L))  # one pass of a^j (θ^j)ᵀ
    hidden = sum(2 * n * units[j + 1] * units[j] + 3 * n * units[j] for j in range(1, L))
    params = sum(units[j + 1] * (units[j] + 1) for j in range(L))
    return 2 * matmul + 8 * n * units[L] + hidden + ADAM_FLOPS * params


def tanh_count(units, n):
    """tanh evaluations of one epoch: n Σ_{j=1}^{L} u^j (every layer's, the output's too: the bench's model)."""
    return n * sum(units[1:])


def blas_peak(dtype, threads=1, size=1024, reps=5):
    """FLOP/s of ``np.dot`` of two ``size x size`` matrices of ``dtype``, ``threads`` BLAS threads, best of ``reps``."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    A = rng.random((size, size)).astype(dtype)
    B = rng.random((size, size)).astype(dtype)
    with threadpool_limits(threads, user_api="blas"):
        np.dot(A, B)  # warm-up: the BLAS's buffers and threads
        best = min(_seconds(lambda: np.dot(A, B)) for _ in range(reps))
    return 2 * size**3 / best


def tanh_cost(dtype, length=1 << 20, reps=10):
    """Seconds per value of the numba engine's tanh (``elementwise.g_vector``) on ``length`` values, best of ``reps``."""
    from scratchnn.fast import elementwise

    z = np.random.default_rng(0).uniform(-3, 3, length).astype(dtype)
    a = np.empty_like(z)
    tanh = elementwise.CODES["tanh"]
    elementwise.g_vector(tanh, z, a)  # compile or load from the cache
    return min(_seconds(lambda: elementwise.g_vector(tanh, z, a)) for _ in range(reps)) / length


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def machine(dtypes, threads=1):
    """This machine's rates per dtype name: ``peak_flops`` (:func:`blas_peak`), ``tanh_seconds`` (:func:`tanh_cost`)."""
    return {np.dtype(d).name: {"peak_flops": blas_peak(d, threads), "tanh_seconds": tanh_cost(d)} for d in dtypes}


def floor(units, n, rates):
    """The floor of one epoch and its parts, from :func:`machine`'s ``rates`` for the dtype."""
    flops, tanhs = epoch_flops(units, n), tanh_count(units, n)
    flop_seconds = flops / rates["peak_flops"]
    tanh_seconds = tanhs * rates["tanh_seconds"]
    return {"flops": flops, "tanh_count": tanhs, "flop_seconds": flop_seconds, "tanh_seconds": tanh_seconds,
            "seconds": flop_seconds + tanh_seconds}


METHOD = ("floor = F / peak + T c_tanh: F the epoch's flops (forward, loss, backward, Adam; bench/floor.py), "
          "peak np.dot 1024x1024 FLOP/s on the bench's threads, T the epoch's tanh values (n x sum of u^j, j >= 1), "
          "c_tanh the numba engine's tanh per value (elementwise.g_vector on 2^20 values)")
