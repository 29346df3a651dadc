r"""Activations g and their derivatives g' for the numba engine, side by side, in code LLVM vectorizes.

Why not ``math.tanh``: libm's scalar ``tanh``/``exp`` are opaque calls, so a loop
over them stays scalar, and numba has no SVML. Each function here is plain
arithmetic (multiply-adds, one division, selects, one integer shift), which
LLVM turns into packed AVX2 instructions. What ``inspect_asm`` of ``g_rows``
shows (AMD EPYC, AVX2 + FMA): float32 tanh, 8 lanes per ``ymm``: ``vfmadd213ps``,
``vmulps``, ``vdivps``, ``vmaxps``, ``vcmpltps`` + ``vblendvps`` for the selects;
float64 tanh and sigmoid, 4 lanes: ``vfmadd``, ``vmulpd``, ``vaddpd``, ``vdivpd``,
``vblendvpd``, and ``vpaddq``, ``vpsllq`` building 2^k from the bits of k + 1.5 * 2^52
(no float -> int conversion: AVX2 has none to int64); no call to ``tanh``/``exp``.
``tests/test_fast_elementwise.py`` checks the packed instructions and the absence of calls.

Every operation rounds as written: ``a * b + c`` is a multiply and an add (no
fastmath ``contract``), and a fused multiply-add is an explicit :func:`fma` (float32
tanh's rational, the exp/expm1 polynomial and its range reduction), so the compiled code
gives the same bits wherever numba puts it (see ``JIT`` below).

tanh, float32 (Eigen's ``generic_fast_tanh_float``: a 13/6-degree odd/even rational)
    tanh x ~= x p(x^2) / q(x^2) on |x| <= c = 7.99881172 (where it reaches 1),
    p and q by Horner's rule in fused multiply-adds, as Eigen evaluates them,
    tanh x = x for |x| < 4e-4 (better than the rational as x -> 0).
    Measured against ``np.tanh``: at most 4 ulp, near |x| = 8 where it saturates early
    (np.tanh reaches 1 only at |x| = 9.01); elsewhere 2.

tanh, float64: through e = expm1(-2|x|), which has no cancellation at any |x|
    tanh|x| = (1 - e^{-2|x|}) / (1 + e^{-2|x|}) = -e / (2 + e),   tanh x = copysign(tanh|x|, x).
    (1 - E with E = e^{-2|x|} would cancel as |x| -> 0; e = 2^k expm1(r) + (2^k - 1) keeps
    its relative accuracy there, and 2 + e = 1 + E loses nothing as |x| grows.)
    Measured against ``np.tanh``: at most 3 ulp.
    (The same formula in float32 is 1 ulp but 3x slower than Eigen's rational; it is float32's
    tanh on an x86 without FMA, where the rational, in a multiply and an add a step, is 6 ulp off
    and stops short of 1.)

exp and expm1 (both dtypes; Cody-Waite range reduction, Taylor polynomial)
    x = k ln2 + r, k = round(x / ln2) (x / ln2 + 1.5 * 2^52 in an fma, less the same), |r| <= ln2 / 2,
    r = (x - k LN2_HI) - k LN2_LO in two fmas
    expm1(r) = r + r^2/2! + ... + r^d/d!  (d = 7 for float32, 13 for float64:
               the first omitted term is below 0.1 ulp), by Horner's rule in fmas
               (half the instructions of a multiply and an add a step: float64 tanh 1.4x faster)
    exp(x)   = 2^k (1 + expm1(r)),   expm1(x) = 2^k expm1(r) + (2^k - 1)
    2^k is built from its bits (exponent field k + bias) from k + shifter, see ``_pow2``.

sigmoid: 1 / (1 + e^{-z}) for z >= 0 and e^{z} / (1 + e^{z}) for z < 0 (no overflow).

NaN propagates through every function (clamps are written so that a NaN
passes), so a diverging fit is still caught by its non-finite loss.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from ..activations import LEAKY_SLOPE

TANH, SIGMOID, RELU, LEAKY_RELU, IDENTITY = 0, 1, 2, 3, 4
CODES = {"tanh": TANH, "sigmoid": SIGMOID, "relu": RELU, "leaky_relu": LEAKY_RELU, "identity": IDENTITY}

# error_model="numpy": a float division is not a branch (the default one blocks vectorization).
# No fastmath "contract": numba links a copy of every callee into each caller, and which copy
# runs depends on whether the caller was compiled in this process (the callee's own code) or
# loaded from the cache (the caller's copy, optimized again there). With contraction the copies
# fused different products (Adam's beta2 v + (1 - beta2) g^2: either one), so a fit gave other
# bits from the cache than fresh; tests/test_fast_determinism.py holds the two equal.
JIT = dict(cache=True, nogil=True, error_model="numpy")
INLINE = dict(nogil=True, error_model="numpy")  # inlined where used, never cached alone

f32 = np.float32


# --------------------------------------------------------------------- 2^k from its bits
@intrinsic
def _pow2(typingctx, t):
    """2^k from t = k + shifter (1.5 * 2^52; float32: 1.5 * 2^23), k an integer in the normal range.

    Adding the shifter puts k in t's low mantissa bits (t's exponent fixed, its mantissa
    2^51 + k; float32: 2^22 + k), so (bits(t) + bias) << mantissa is 2^k's bit pattern: the bits above the
    exponent field shift out. Two integer operations, no float -> int conversion (AVX2 has
    none to int64). A NaN t gives some number, and the NaN in expm1(r) carries on.
    """
    if not isinstance(t, types.Float):
        return None
    width, mantissa, bias = (64, 52, 1023) if t.bitwidth == 64 else (32, 23, 127)

    def codegen(context, builder, sig, args):
        int_t = ir.IntType(width)
        bits = builder.bitcast(args[0], int_t)
        bits = builder.add(bits, ir.Constant(int_t, bias))
        bits = builder.shl(bits, ir.Constant(int_t, mantissa))
        return builder.bitcast(bits, context.get_value_type(sig.return_type))

    return t(t), codegen


# ------------------------------------------------------------ a b + c, rounded once
def target_features():
    """The CPU name and features numba compiles for: the host's, or ``NUMBA_CPU_NAME``/``NUMBA_CPU_FEATURES``'s."""
    import llvmlite.binding as llvm
    from numba.core import config

    name = config.CPU_NAME or llvm.get_host_cpu_name()
    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else llvm.get_host_cpu_features().flatten()
    return name, {f[1:] for f in features.split(",") if f.startswith("+")}


def _has_fma():
    """Whether the target has a fused multiply-add instruction (every aarch64 and ppc64le; x86 from Haswell)."""
    import platform

    return platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686") or "fma" in target_features()[1]


HAS_FMA = _has_fma()


@intrinsic
def fma(typingctx, a, b, c):
    """a b + c rounded once (``llvm.fma``): fused wherever the code lands, the same bits in every copy.

    One instruction (``vfmadd``) where the target has FMA (``HAS_FMA``). On an x86 without it
    (before Haswell, or ``NUMBA_CPU_NAME=generic``) ``llvm.fma`` would be a call to libm's ``fma``
    per value, which also stops the loop from vectorizing; there it is a multiply and an add
    instead, rounded twice: the same bits in every copy still, not the same bits as with FMA.
    """
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context, builder, sig, args):
        if HAS_FMA:
            return builder.fma(*args)
        return builder.fadd(builder.fmul(args[0], args[1]), args[2])

    return a(a, b, c), codegen


# ----------------------------------------------------------- expm1 and exp, per dtype
def vexp(x):
    """exp on a scalar: 0 below -87 (float32) / -708 (float64), clamped above 88 / 709; NaN passes."""


# Cody-Waite: ln2 = LN2_HI + LN2_LO with LN2_HI short enough that k LN2_HI is exact.
_F64 = dict(log2e=1.4426950408889634, ln2_hi=6.93147180369123816490e-01, ln2_lo=1.90821492927058770002e-10,
            shifter=6755399441055744.0)  # 1.5 * 2^52: adding it rounds to an integer
_F32 = dict(log2e=f32(1.44269504088896341), ln2_hi=f32(0.693359375), ln2_lo=f32(-2.12194440e-4),
            shifter=f32(12582912.0))  # 1.5 * 2^23
_TAYLOR64 = tuple(1.0 / np.prod(np.arange(1, d + 1, dtype=np.float64)) for d in range(2, 14))  # 1/2!..1/13!
_TAYLOR32 = tuple(f32(c) for c in _TAYLOR64[:6])  # 1/2!..1/7!


def _reduce_and_poly(consts, taylor):
    """Build ``reduce(x) = (t, p)`` with x = k ln2 + r, t = k + shifter (for :func:`_pow2`) and p = expm1(r)."""
    log2e, ln2_hi, ln2_lo, shifter = consts["log2e"], consts["ln2_hi"], consts["ln2_lo"], consts["shifter"]
    c2, c3, c4, c5, c6, c7 = taylor[:6]
    if len(taylor) == 6:

        @njit(**INLINE)
        def reduce(x):
            t = fma(x, log2e, shifter)  # k + shifter: adding the shifter rounds x / ln2 to an integer, no libm call
            k = t - shifter
            r = fma(-k, ln2_lo, fma(-k, ln2_hi, x))
            q = fma(r, fma(r, fma(r, fma(r, fma(r, c7, c6), c5), c4), c3), c2)
            return t, fma(r * r, q, r)

        return reduce
    c8, c9, c10, c11, c12, c13 = taylor[6:]

    @njit(**INLINE)
    def reduce(x):
        t = fma(x, log2e, shifter)
        k = t - shifter
        r = fma(-k, ln2_lo, fma(-k, ln2_hi, x))
        q = fma(r, fma(r, fma(r, fma(r, fma(r, c13, c12), c11), c10), c9), c8)
        q = fma(r, fma(r, fma(r, fma(r, fma(r, fma(r, q, c7), c6), c5), c4), c3), c2)
        return t, fma(r * r, q, r)

    return reduce


_reduce32 = _reduce_and_poly(_F32, _TAYLOR32)
_reduce64 = _reduce_and_poly(_F64, _TAYLOR64)


def _limits(T):
    """(lowest, highest) argument of exp whose result is a normal number, in dtype T."""
    return (T(-87.0), T(88.0)) if T is f32 else (-708.0, 709.0)


@overload(vexp, jit_options=INLINE)
def _vexp(x):
    if not isinstance(x, types.Float):
        return None
    reduce = _reduce32 if x.bitwidth == 32 else _reduce64
    T = f32 if x.bitwidth == 32 else np.float64
    lo, hi = _limits(T)
    one, zero = T(1.0), T(0.0)

    def impl(x):
        y = lo if x < lo else x
        y = hi if y > hi else y
        t, p = reduce(y)
        return zero if x < lo else _pow2(t) * (one + p)  # 0 below lo, where the result is subnormal or 0

    return impl


# ----------------------------------------------------------------------------- tanh
def vtanh(x):
    """tanh on a scalar, a few ulp from np.tanh in both dtypes (see the module docstring)."""


_EIGEN_ALPHA = tuple(f32(c) for c in (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
                                       5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13,
                                       -2.76076847742355e-16))  # numerator, x^1 .. x^13 (odd)
_EIGEN_BETA = tuple(f32(c) for c in (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
                                      1.19825839466702e-06))  # denominator, x^0 .. x^6 (even)


@overload(vtanh, jit_options=INLINE)
def _vtanh(x):
    if not isinstance(x, types.Float):
        return None
    if x.bitwidth == 32 and HAS_FMA:  # Eigen's rational needs its fused multiply-adds to reach 1 at the clamp
        a1, a3, a5, a7, a9, a11, a13 = _EIGEN_ALPHA
        b0, b2, b4, b6 = _EIGEN_BETA
        clamp, tiny = f32(7.99881172180175781), f32(4e-4)

        def impl32(x):
            c = clamp if x > clamp else x
            c = -clamp if c < -clamp else c
            x2 = c * c
            # Horner's rule with one fused multiply-add a step, as Eigen (pmadd): the clamp reaches 1 exactly
            p = c * fma(x2, fma(x2, fma(x2, fma(x2, fma(x2, fma(x2, a13, a11), a9), a7), a5), a3), a1)
            q = fma(x2, fma(x2, fma(x2, b6, b4), b2), b0)
            return x if abs(x) < tiny else p / q

        return impl32

    return _tanh_through_exp(x)


def _tanh_through_exp(x):
    T = f32 if x.bitwidth == 32 else np.float64
    reduce = _reduce32 if x.bitwidth == 32 else _reduce64
    one, two, lo = T(1.0), T(2.0), T(-60.0)

    def impl(x):
        y = T(-2.0) * abs(x)
        y = lo if y < lo else y  # tanh = 1 exactly well before; keeps 2^k normal
        t, p = reduce(y)
        s = _pow2(t)
        e = fma(s, p, s - one)  # expm1(-2|x|)
        return np.copysign(-e / (two + e), x)

    return impl


# ----------------------------------------------------------------- sigmoid
def vsigmoid(x):
    """1 / (1 + e^{-x}) on a scalar, without overflow."""


@overload(vsigmoid, jit_options=INLINE)
def _vsigmoid(x):
    if not isinstance(x, types.Float):
        return None
    T = f32 if x.bitwidth == 32 else np.float64
    one = T(1.0)

    def impl(x):
        e = vexp(-abs(x))  # (0, 1]
        s = one / (one + e)
        return s if not x < 0 else e * s

    return impl


# ------------------------------------------------- the activation of a layer, rows of it
# The loops index the 2-D arrays (Z[s, i]): taking a row (Z[s]) makes a new array object whose
# references numba counts with atomic instructions, a cost that tiny layers notice.
@njit(**JIT)
def g_rows(code, Z, A):
    """A = g(Z) element-wise; both ``(u^j, m)`` (A without its bias row), or one row of them ``(1, m)``."""
    zero = Z.dtype.type(0)
    if code == TANH:
        for s in range(Z.shape[0]):
            for i in range(Z.shape[1]):
                A[s, i] = vtanh(Z[s, i])
    elif code == SIGMOID:
        for s in range(Z.shape[0]):
            for i in range(Z.shape[1]):
                A[s, i] = vsigmoid(Z[s, i])
    elif code == RELU:
        for s in range(Z.shape[0]):
            for i in range(Z.shape[1]):
                A[s, i] = zero if Z[s, i] <= zero else Z[s, i]  # NaN passes, as np.maximum
    elif code == LEAKY_RELU:
        slope = Z.dtype.type(LEAKY_SLOPE)
        for s in range(Z.shape[0]):
            for i in range(Z.shape[1]):
                A[s, i] = Z[s, i] if Z[s, i] > zero else Z[s, i] * slope
    else:
        A[:] = Z


@njit(**JIT)
def times_g_prime(code, Z, A, delta):
    """delta *= g'(Z) element-wise, with g' written through A = g(Z) where cheaper; all ``(u^j, m)`` or ``(1, m)``."""
    one = Z.dtype.type(1)
    zero = Z.dtype.type(0)
    if code == TANH:
        for s in range(Z.shape[0]):
            for i in range(Z.shape[1]):
                delta[s, i] *= one - A[s, i] * A[s, i]  # 1 - a^2
    elif code == SIGMOID:
        for s in range(Z.shape[0]):
            for i in range(Z.shape[1]):
                delta[s, i] *= A[s, i] * (one - A[s, i])  # a (1 - a)
    elif code == RELU:
        for s in range(Z.shape[0]):
            for i in range(Z.shape[1]):
                delta[s, i] *= one if Z[s, i] > zero else zero
    elif code == LEAKY_RELU:
        slope = Z.dtype.type(LEAKY_SLOPE)
        for s in range(Z.shape[0]):
            for i in range(Z.shape[1]):
                delta[s, i] *= one if Z[s, i] > zero else slope


@njit(**JIT)
def g_vector(code, z, a):
    """a = g(z) for 1-D arrays (the public face of the row loops: the tests, and the bench's floor)."""
    g_rows(code, z.reshape((1, z.size)), a.reshape((1, a.size)))
