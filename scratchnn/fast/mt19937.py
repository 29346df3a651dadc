r"""torch's CPU Mersenne Twister in numba: dropout keep-masks, bit for bit as :class:`~scratchnn.TorchGenerator`.

The state is the ``(key, pos)`` of :meth:`TorchGenerator.get_state`, passed as arrays the kernels
update in place: ``key`` uint32 (624,), the words mt[0 … 623], and ``pos`` int64 (1,), the index
of the next word to read (624: twist first). After a kernel, ``gen.set_state(key, pos[0])``
continues the stream where the same draws through ``gen`` would have left it.

MT19937 (Matsumoto & Nishimura 1998), N = 624, M = 397, A = 0x9908b0df
    twist, for i = 0 … 623 in order (indices mod N):
        y     = (mt[i] & 0x80000000) | (mt[i+1] & 0x7fffffff)      the upper bit of one word, the lower 31 of the next
        mt[i] = mt[i+M] ^ (y >> 1) ^ (A if y is odd else 0)
    temper, one output word r per state word, in order:
        y ^= y >> 11;  y ^= (y << 7) & 0x9d2c5680;  y ^= (y << 15) & 0xefc60000;  r = y ^ (y >> 18)

torch's ``rand(shape, dtype=float64)``, hence ``nn.Dropout(p)``'s mask, element by element in memory order:
    r64  = (r1 << 32) | r2             two words, the first one high
    x    = (r64 & (2^53 − 1)) 2^-53    in [0, 1)
    keep = x < t,   t = 1 − p

Why the twist vectorizes. Step i reads mt[i], mt[i+1] (neither rewritten yet) and mt[i+M mod N].
For i < N − M = 227 that word is from the old state. For 227 ≤ i < 623 it is mt[i − 227], rewritten
227 steps earlier; split at 454, into i in [227, 454) and [454, 623), no loop reads a word it writes
itself. So three loops in which no step waits for another (LLVM packs 8 words at a time), and step
623, which wraps around to the new mt[0], alone. (One loop over [227, 623), a dependence at distance
227, LLVM packed 4 words at a time only: the twist took 0.15 ns a word instead of 0.12.)

Why the comparison can be in integers. Let r53 = r64 & (2^53 − 1), an integer in [0, 2^53). Then
x = r53 · 2^-53 exactly (r53 fits a double's 53-bit significand; the power of two moves the exponent
only), and c = t · 2^53 is exact as well (a power of two again; for |t| ≥ 2^971 it overflows to
inf, which orders the same). So
    x < t  ⇔  r53 < c  ⇔  r53 < ⌈c⌉ =: K        (r53 an integer: r53 < c ⇔ r53 < ⌈c⌉)
with K clamped to [0, 2^53]: c ≤ 0 or NaN keeps nothing (K = 0); c ≥ 2^53 (t ≥ 1, p ≤ 0) keeps every
r53 (K = 2^53). In between, ⌈c⌉ ≤ 2^53 is a double and an exact uint64. (For t in [0.5, 1), the
dropout range p ≤ 0.5, c is already an integer: t's last bit is worth 2^-53; the ceiling matters below.)
See :func:`keep_bound`; ``tests/test_fast_mt19937.py`` checks it against the float comparison.

The mask in the engine's layout. A hidden layer is stored transposed, (u, m), so
:func:`draw_keep_columns` writes K[s, i] for element k = i·u + s directly, in two passes. With
K = khi·2^32 + klo and hi = r1 & (2^21 − 1), r53's upper 21 bits,
    r53 < K  ⇔  hi < khi,  or  hi == khi and r2 < klo
so the first pass tempers and compares only the r1s, in 32-bit lanes, into keep words (bit e of word g:
element 32g + e); a tie hi == khi (probability 2^-21 an element) is settled from its r2, tempered then.
(K = 2^53, p = 0: khi = 2^21 exceeds every hi.) The second writes K row by row, K[s, i] from bit s of
point i's word: a contiguous read where a transpose would stride by u.

Speed (Intel Xeon with AVX-512, numba 0.68, best of 5 loops after warm-up): :func:`draw_keep` 0.34 ns per
32-bit word, 65 µs for a 3000 × 32 mask, so 0.13 ms for the 1-32-32-1 net's two masks an epoch (384,000
words); NumPy's ``random_raw`` takes 2.4 ns a word, ``TorchGenerator.rand(shape) < t`` 1.5 ms a mask.
``inspect_asm`` shows the twist's three loops and the temper in packed 8-lane instructions on ``ymm``
(``vpsrld``, ``vpslld``, ``vpxor``, ``vpternlogd``; ``vpmovd2m`` turns y's low bit into the mask that
selects A), and the comparison in 4-lane 64-bit ones (``vprolq`` swaps r1 and r2 into r64, ``vpcmpltuq``
compares with K, ``vmovdqu8`` stores the bools). :func:`draw_keep_columns`, (32, 3000): 47 µs in
float32, 56 µs in float64 (the twist 23 µs of it, writing K 7 µs in float32), where drawing with
:func:`draw_keep_scaled` in blocks and transposing them took 115 µs; its keep words are 16-lane ``zmm``
code (``vpermt2d`` takes the r1s, ``vpsrld``/``vpslld``/``vpternlogd`` temper, ``vpcmpltud`` into a mask
register stored by ``kmovw``, ``vpcmpeqd`` + ``kortestw`` look for ties), and K is written by
``vptestmd`` + ``vmovaps {z}``.
"""

import math
import sys

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .elementwise import JIT

if sys.byteorder != "little":  # pair_r53 reads two consecutive uint32 words as one uint64
    raise ImportError("scratchnn.fast.mt19937 needs a little-endian CPU")

N, M = 624, 397  # words of state; the distance to the word each step of the twist mixes in
MATRIX_A = np.uint32(0x9908B0DF)  # A
UPPER = np.uint32(0x80000000)  # a word's upper bit
LOWER = np.uint32(0x7FFFFFFF)  # its lower 31 bits
TEMPER_B, TEMPER_C = np.uint32(0x9D2C5680), np.uint32(0xEFC60000)
LOW21 = np.uint64(2**21 - 1)  # the bits of r1 that reach r53: 53 − 32 = 21
TWO_53 = 2.0**53


@njit(**JIT)
def keep_bound(threshold):
    """K = ⌈t · 2^53⌉ clamped to [0, 2^53] (uint64): r53 · 2^-53 < t ⇔ r53 < K for every r53 in [0, 2^53)."""
    c = threshold * TWO_53  # exact: times a power of two
    if not c > 0.0:  # t ≤ 0 or NaN: x < t never holds
        return np.uint64(0)
    if c >= TWO_53:  # t ≥ 1: x < 1 ≤ t always holds
        return np.uint64(2**53)
    return np.uint64(math.ceil(c))


@njit(**JIT)
def twist(key):
    """Regenerate ``key`` in place: mt[i] = mt[i+M] ^ (y >> 1) ^ (A if y is odd else 0), i = 0 … 623, in order."""
    for i in range(0, N - M):  # mt[i + M]: a word of the old state
        y = (key[i] & UPPER) | (key[i + 1] & LOWER)
        key[i] = key[i + M] ^ (y >> 1) ^ ((y & 1) * MATRIX_A)
    for i in range(N - M, 2 * (N - M)):  # mt[i + M − N]: rewritten by the loop above
        y = (key[i] & UPPER) | (key[i + 1] & LOWER)
        key[i] = key[i - (N - M)] ^ (y >> 1) ^ ((y & 1) * MATRIX_A)
    for i in range(2 * (N - M), N - 1):  # mt[i + M − N]: rewritten by the loop above
        y = (key[i] & UPPER) | (key[i + 1] & LOWER)
        key[i] = key[i - (N - M)] ^ (y >> 1) ^ ((y & 1) * MATRIX_A)
    y = (key[N - 1] & UPPER) | (key[0] & LOWER)  # wraps around to the new mt[0]
    key[N - 1] = key[M - 1] ^ (y >> 1) ^ ((y & 1) * MATRIX_A)


@njit(**JIT)
def temper_word(y):
    """r, the tempered y (uint32): y ^= y >> 11; y ^= (y << 7) & B; y ^= (y << 15) & C; r = y ^ (y >> 18)."""
    y ^= y >> 11
    y ^= (y << 7) & TEMPER_B
    y ^= (y << 15) & TEMPER_C
    return np.uint32(y ^ (y >> 18))


@njit(**JIT)
def temper(state, words):
    """words[j] = r, the tempered state[j]; both uint32 of the same size."""
    # Slices, not offsets: a computed index may be negative for all numba knows, and its
    # wrap-around select turns the loop into gathers.
    for j in range(state.size):
        words[j] = temper_word(state[j])


@njit(**JIT)
def random_words(key, pos, out):
    """out[i] = the next raw 32-bit output r (torch's ``random()``), i < out.size; ``(key, pos)`` advanced past them.

    key: uint32 (624,), pos: int64 (1,), both updated; out: uint32 (count,).
    """
    done = 0
    while done < out.size:
        if pos[0] == N:
            twist(key)
            pos[0] = 0
        p = pos[0]
        take = min(N - p, out.size - done)
        temper(key[p:p + take], out[done:done + take])
        pos[0] = p + take
        done += take


@njit(**JIT)
def pair_r53(v):
    """r53 = ((r1 << 32) | r2) & (2^53 − 1) from v = r1 | (r2 << 32), the words r1, r2 read as one uint64."""
    return ((v & LOW21) << 32) | (v >> 32)


@njit(**JIT)
def _next_pairs(key, pos, words, carry, pairs):
    """Temper words into ``words`` (uint32, 626) for the next m pairs (r1, r2), m ≤ ``pairs``; returns m.

    Uses the words left in the current block of 624 (twisting first when none are), so m ≤ 312.
    A pair split between two blocks waits in ``carry`` (int64, 2): carry[0] = 1 and its r1 in
    carry[1], which the next call puts in words[0].
    """
    if pos[0] == N:
        twist(key)
        pos[0] = 0
    p = pos[0]
    have = carry[0]
    words[0] = carry[1]  # overwritten below when no r1 waits
    take = min(N - p, 2 * pairs - have)
    temper(key[p:p + take], words[have:have + take])
    pos[0] = p + take
    m = (have + take) // 2
    carry[0] = (have + take) - 2 * m
    carry[1] = words[2 * m]
    return m


@njit(**JIT)
def draw_keep(key, pos, threshold, out):
    """out[i] = x_i < t for the next out.size doubles x_i of torch's ``rand`` (float64), t = ``threshold``.

    With t = 1 − p this is ``nn.Dropout(p)``'s keep-mask of shape (n, u), flattened row-major:
    element (i, s) is out[i·u + s]. key: uint32 (624,), pos: int64 (1,), both advanced past the
    2·out.size words drawn; out: bool (n·u,), True: kept.
    """
    draw_keep_scaled(key, pos, threshold, True, out)  # True where kept, False elsewhere


@njit(**JIT)
def draw_keep_scaled(key, pos, threshold, scale, out):
    """out[i] = scale if x_i < t else 0: dropout's mask / (1 − p) in one pass, float32 or float64 (n·u,), or
    the mask itself for a bool ``out`` (:func:`draw_keep`). ``scale`` is stored as out's dtype: pass the value
    wanted there (``T(1) / T(1 - p)`` for :func:`scratchnn.norms.dropout_scale`'s, T the dtype).
    """
    K = keep_bound(threshold)
    s = out.dtype.type(scale)
    zero = out.dtype.type(0)
    pairs = np.empty(N // 2 + 1, dtype=np.uint64)
    words = pairs.view(np.uint32)  # words[2k], words[2k + 1]: pairs[k]'s low and high halves
    carry = np.zeros(2, dtype=np.int64)
    done = 0
    while done < out.size:
        m = _next_pairs(key, pos, words, carry, out.size - done)
        dst = out[done:done + m]
        for k in range(m):
            dst[k] = s if pair_r53(pairs[k]) < K else zero
        done += m


# ------------------------------------------------------- the mask transposed, for the (u, m) layout
KEEP_WORD = 32  # elements a keep word holds: bit e of word g is element 32 g + e (1: kept)
LANES = 16  # 32-bit lanes of _keep_word's vectors: two a keep word
PAIR_WORDS = 2 * KEEP_WORD  # the words (r1, r2 pairs) a keep word is drawn from
HI_BITS = np.uint32(2**21 - 1)  # hi = r1 & HI_BITS, r53's upper 21 bits


@intrinsic
def _keep_word(typingctx, words, j, khi, bits, g):
    """bits[g] = the keep bits of 32 elements, bit e set iff hi_e < khi; returns nonzero iff some hi_e == khi
    (a tie, which r2 decides: :func:`_settle_ties`).

    Element e's words, untempered, are words[j + 2e] (r1) and words[j + 2e + 1] (r2), e < 32 (64 words are
    read); hi_e = temper(r1) & (2^21 − 1), and r2 is not tempered. In explicit 16-lane vectors because
    LLVM's vectorizer loads every other word with a gather and widens the temper to 64-bit lanes; here each
    half is two loads and a shuffle (``vpermt2d``), the temper in 32-bit lanes, and the comparison's 16-bit
    mask is stored as it stands (``kmovw``). words, bits: uint32 C-contiguous; khi uint32.
    """
    array = types.Array(types.uint32, 1, "C")
    if not (words == bits == array and khi == types.uint32):
        return None

    def codegen(context, builder, sig, args):
        src = context.make_array(array)(context, builder, value=args[0]).data
        dst = context.make_array(array)(context, builder, value=args[3]).data
        dst = builder.bitcast(dst, ir.IntType(16).as_pointer())
        j, khi, g = args[1], args[2], args[4]
        vec = ir.VectorType(ir.IntType(32), LANES)

        def splat(c):
            return ir.Constant(vec, [int(c)] * LANES)

        def offset(base, k):
            return builder.add(base, ir.Constant(base.type, k))

        bound = builder.insert_element(ir.Constant(vec, None), khi, ir.Constant(ir.IntType(32), 0))
        bound = builder.shuffle_vector(bound, ir.Constant(vec, None), ir.Constant(vec, [0] * LANES))
        ties = None
        for half in range(KEEP_WORD // LANES):  # elements 16 half + l, l < 16: words j + 32 half + 2 l (+ 1)
            a = builder.load(builder.gep(src, [offset(j, 2 * LANES * half)]), typ=vec, align=4)
            b = builder.load(builder.gep(src, [offset(j, 2 * LANES * half + LANES)]), typ=vec, align=4)
            y = builder.shuffle_vector(a, b, ir.Constant(vec, list(range(0, 2 * LANES, 2))))  # the 16 r1s
            y = builder.xor(y, builder.lshr(y, splat(11)))
            y = builder.xor(y, builder.and_(builder.shl(y, splat(7)), splat(TEMPER_B)))
            y = builder.xor(y, builder.and_(builder.shl(y, splat(15)), splat(TEMPER_C)))
            hi = builder.and_(builder.xor(y, builder.lshr(y, splat(18))), splat(HI_BITS))
            kept = builder.bitcast(builder.icmp_unsigned("<", hi, bound), ir.IntType(16))
            builder.store(kept, builder.gep(dst, [offset(builder.shl(g, ir.Constant(g.type, 1)), half)]), align=2)
            tie = builder.icmp_unsigned("==", hi, bound)
            ties = tie if ties is None else builder.or_(ties, tie)
        return builder.zext(builder.bitcast(ties, ir.IntType(16)), ir.IntType(32))

    return types.uint32(array, types.intp, types.uint32, array, types.intp), codegen


@njit(**JIT)
def _settle_ties(words, j, khi, klo, bits, g):
    """Where hi_e == khi in keep word g (read as :func:`_keep_word`), keep iff r2_e < klo: r53 < K compared
    in its lower 32 bits once its upper 21 are equal."""
    for e in range(KEEP_WORD):
        if (temper_word(words[j + 2 * e]) & HI_BITS) == khi and temper_word(words[j + 2 * e + 1]) < klo:
            bits[g] |= np.uint32(1) << np.uint32(e)


@njit(**JIT)
def _keep_words(key, pos, count, khi, klo, bits, stage):
    """bits[g], g < ⌈count/32⌉: the keep bits of the next ``count`` elements (as :func:`_keep_word`), ``(key, pos)``
    advanced past their 2·count words.

    A keep word is read straight from ``key`` when its 64 words lie in the current block of 624; the one that
    straddles two blocks is copied into ``stage`` (uint32, 64), around the twist between them. Beyond
    ``count``, the last word's bits are unspecified.
    """
    n_words = (count + KEEP_WORD - 1) // KEEP_WORD
    g = 0
    while g < n_words:
        if pos[0] == N:
            twist(key)
            pos[0] = 0
        p = pos[0]
        here = min((N - p) // PAIR_WORDS, n_words - g)
        for t in range(here):
            j = p + PAIR_WORDS * t
            if _keep_word(key, j, khi, bits, g + t):
                _settle_ties(key, j, khi, klo, bits, g + t)
        g += here
        p += PAIR_WORDS * here
        if g == n_words:  # the last word drew 2·count − 64 (n_words − 1) of its 64 words
            pos[0] = p - PAIR_WORDS * n_words + 2 * count
            return
        need = min(PAIR_WORDS, 2 * (count - KEEP_WORD * g))
        have = N - p
        if have == 0:
            pos[0] = N
            continue
        src, dst = key[p:], stage[:have]
        for w in range(have):
            dst[w] = src[w]
        if need <= have:  # the last word, within this block
            pos[0] = p + need
        else:
            twist(key)
            src, dst = key[: need - have], stage[have:need]
            for w in range(need - have):
                dst[w] = src[w]
            pos[0] = need - have
        if _keep_word(stage, 0, khi, bits, g):
            _settle_ties(stage, 0, khi, klo, bits, g)
        g += 1


@njit(**JIT)
def _point_words(bits, u, P):
    """P[w, i] = the keep bits of point i's units 32w … 32w + 31 (bit s − 32w for unit s < u; past u − 1, the next
    point's, never read) from ``bits``, element k = i·u + s at bit k: P (⌈u/32⌉, m) uint32. ``bits`` has a word to
    spare past the last."""
    for i in range(P.shape[1]):
        for w in range(P.shape[0]):
            start = i * u + KEEP_WORD * w  # element (i, 32w)
            q = start // KEEP_WORD
            pair = np.uint64(bits[q]) | (np.uint64(bits[q + 1]) << np.uint64(32))
            P[w, i] = np.uint32(pair >> np.uint64(start % KEEP_WORD))


@njit(**JIT)
def draw_keep_columns(key, pos, threshold, scale, K):
    """K[s, i] = scale if x_{i·u + s} < t else 0: ``nn.Dropout(p)``'s (m, u) mask / (1 − p), transposed.

    t = ``threshold``. x_k is the k-th of the next m·u doubles of torch's ``rand`` (float64), in the order
    torch draws an (m, u) mask: point i, unit s is k = i·u + s. K (u, m) float32 or float64, C-contiguous:
    unit s along the rows, point i along the fast axis, as the engine stores a hidden layer. Equal to
    :func:`draw_keep_scaled` on m·u elements, reshaped (m, u) and transposed, and ``(key, pos)`` advanced alike.
    ``scale`` is stored as K's dtype.

    Drawn in two passes. The first decides 32 elements at a time into keep words (:func:`_keep_word`):
    with K53 = :func:`keep_bound` (t) = khi·2^32 + klo and hi = r1 & (2^21 − 1),
        r53 < K53  ⇔  hi < khi, or hi == khi and r2 < klo
    so only the r1s are tempered and compared, in 32-bit lanes; a tie (hi == khi, probability 2^-21 an
    element) is settled from its r2 (:func:`_settle_ties`). The second writes K row by row: K[s, i] from
    bit s of point i's keep word, a contiguous read (for u = 32 the keep words are the points').
    """
    u, m = K.shape
    bound = keep_bound(threshold)
    khi = np.uint32(bound >> np.uint64(32))
    klo = np.uint32(bound & np.uint64(0xFFFFFFFF))
    bits = np.empty((m * u + KEEP_WORD - 1) // KEEP_WORD + 1, dtype=np.uint32)
    _keep_words(key, pos, m * u, khi, klo, bits, np.empty(PAIR_WORDS, dtype=np.uint32))
    if u == KEEP_WORD:
        P = bits[:m].reshape((1, m))
    else:
        P = np.empty(((u + KEEP_WORD - 1) // KEEP_WORD, m), dtype=np.uint32)
        _point_words(bits, u, P)
    s_val = K.dtype.type(scale)
    zero = K.dtype.type(0)
    for s in range(u):
        words, row = P[s // KEEP_WORD], K[s]
        bit = np.uint32(1) << np.uint32(s % KEEP_WORD)
        for i in range(m):
            row[i] = s_val if np.uint32(words[i] & bit) != np.uint32(0) else zero


# ------------------------------------------------------------- from and back into a TorchGenerator
def _check_p(p, high_open):
    if not (0.0 <= p < 1.0 if high_open else 0.0 <= p <= 1.0):
        raise ValueError(f"p: expected a dropout probability in [0, 1{')' if high_open else ']'}, got {p}")


def _draw(generator, shape, kernel, *args):
    """Run ``kernel(key, pos, *args, out)`` on ``generator``'s state and put the advanced state back."""
    key, pos = generator.get_state()
    pos = np.array([pos], dtype=np.int64)
    kernel(key, pos, *args)
    generator.set_state(key, int(pos[0]))
    return args[-1].reshape(shape)


def keep_mask(generator, shape, p):
    """``nn.Dropout(p)``'s keep-mask, torch.rand(shape, dtype=float64) < 1 − p, drawn from ``generator``.

    Bool of shape ``shape``, True: kept; equal to :func:`scratchnn.norms.dropout_mask`, and
    ``generator`` advanced as that leaves it.
    """
    _check_p(p, high_open=False)
    shape = tuple(shape)
    out = np.empty(int(np.prod(shape, dtype=np.int64)), dtype=np.bool_)
    return _draw(generator, shape, draw_keep, 1 - p, out)


def keep_scale(generator, shape, p, dtype):
    """mask / (1 − p) in ``dtype`` (0 or 1/(1 − p)), the mask drawn as :func:`keep_mask`, 0 ≤ p < 1.

    Equal to ``dropout_scale(dropout_mask(generator, shape, p), p, dtype)`` of :mod:`scratchnn.norms`.
    """
    _check_p(p, high_open=True)
    T = np.dtype(dtype).type
    if T not in (np.float32, np.float64):
        raise TypeError(f"dtype: expected float32 or float64, got {np.dtype(dtype)}")
    shape = tuple(shape)
    out = np.empty(int(np.prod(shape, dtype=np.int64)), dtype=T)
    return _draw(generator, shape, draw_keep_scaled, 1 - p, T(1) / T(1 - p), out)
