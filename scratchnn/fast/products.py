r"""The products of a layer with many units, in register tiles: Z = P Q and D = P Q^T.

A layer of the nets that take the batch in one piece (:mod:`scratchnn.fast.norms`) multiplies three
times, a (u, u') matrix against rows of m points (points along the fast axis i):

    Z^j          = θ^{j-1} A^{j-1}        :func:`times`             P = θ^{j-1}, Q = A^{j-1}
    ∂𝓛/∂a^j[1:] = θ^j[:, 1:]^T δ^{j+1}    :func:`times`             P = θ^j[:, 1:]^T (a copy), Q = δ^{j+1}
    D^j          = δ^{j+1} (A^j)^T        :func:`times_transposed`  P = δ^{j+1}, Q = A^j

Why not BLAS: at these shapes (32 × 33 by 33 × 3000) a general GEMM spends much of its time packing
its operands. ``python -m bench.products`` times the three side by side, one thread (float32, an Intel
Xeon with AVX-512, 2026-12-02): SciPy's OpenBLAS, which numba's ``np.dot`` calls, 73, 72 and 86 µs;
these tiles 39, 40 and 68; torch's ``@`` (MKL) 38, 38 and 76.

A tile keeps its sums in registers while the sum's index runs. :func:`times` takes R = 4 rows of P by
V = 4 vectors of points (64 points in float32's 16 lanes): a step of k loads V vectors of Q's row k
and R numbers of P, for R·V fused multiply-adds. :func:`times_transposed` takes 4 rows of P by 4 rows
of Q, a vector of sums each, and steps over the points a vector at a time. Rows left over take tiles
of one row; points left over, tiles of one vector whose loads and stores are masked to the points
that exist.

The sums: each z_si = Σ_k p_sk q_ki is summed in the order of k, rounded once a step (a fused
multiply-add where the target has one, as :func:`~scratchnn.fast.elementwise.fma`), whichever tile
computes it. Each D_sk is summed in 16 (float32) or 8 (float64) lanes, point i into lane i mod lanes,
and the lanes are then added in order: the order is fixed by m alone (not by the machine's vector
width: LLVM splits a 512-bit vector where the target's are narrower), so the same inputs give the
same bits run to run.
"""

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .elementwise import HAS_FMA, JIT

ROWS, VECTORS = 4, 4  # a tile of times: ROWS rows of P by VECTORS vectors of points; of times_transposed: ROWS by ROWS
VECTOR_BYTES = 64  # a vector of the tiles: 16 float32 or 8 float64 lanes
I32 = ir.IntType(32)


class _Vectors:
    """The IR one tile is written in: vectors of the arrays' float type, splats, fused multiply-adds, (masked) loads
    and stores at an element offset."""

    def __init__(self, context, builder, dtype):
        self.b = builder
        self.float = context.get_value_type(dtype)
        self.size = dtype.bitwidth // 8
        self.lanes = VECTOR_BYTES // self.size
        self.vec = ir.VectorType(self.float, self.lanes)
        self.suffix = f"v{self.lanes}f{dtype.bitwidth}"
        self.zero = ir.Constant(self.vec, [0.0] * self.lanes)

    def plus(self, x, k):
        """x + k, k a Python int, in x's integer type."""
        return self.b.add(x, ir.Constant(x.type, k))

    def _intrinsic(self, name, ret, args):
        return cgutils.get_or_insert_function(self.b.module, ir.FunctionType(ret, args), name)

    def splat(self, x, vec=None):
        vec = vec or self.vec
        one = self.b.insert_element(ir.Constant(vec, None), x, ir.Constant(I32, 0))
        return self.b.shuffle_vector(one, ir.Constant(vec, None), ir.Constant(ir.VectorType(I32, self.lanes), [0] * self.lanes))

    def fma(self, a, b, c):
        """a b + c lane by lane, rounded once where the target has FMA (else a multiply and an add)."""
        if HAS_FMA:
            return self.b.call(self._intrinsic(f"llvm.fma.{self.suffix}", self.vec, [self.vec] * 3), [a, b, c])
        return self.b.fadd(self.b.fmul(a, b), c)

    def mask(self, count):
        """Lanes l < count (an i64)."""
        wide = ir.VectorType(count.type, self.lanes)
        return self.b.icmp_unsigned("<", ir.Constant(wide, list(range(self.lanes))), self.splat(count, wide))

    def _at(self, data, offset):
        return self.b.bitcast(self.b.gep(data, [offset]), self.vec.as_pointer())

    def load(self, data, offset, mask=None):
        if mask is None:
            return self.b.load(self._at(data, offset), align=self.size)
        f = self._intrinsic(f"llvm.masked.load.{self.suffix}.p0", self.vec, [self.vec.as_pointer(), I32, mask.type, self.vec])
        return self.b.call(f, [self._at(data, offset), ir.Constant(I32, self.size), mask, self.zero])

    def store(self, value, data, offset, mask=None):
        if mask is None:
            self.b.store(value, self._at(data, offset), align=self.size)
            return
        f = self._intrinsic(f"llvm.masked.store.{self.suffix}.p0", ir.VoidType(), [self.vec, self.vec.as_pointer(), I32, mask.type])
        self.b.call(f, [value, self._at(data, offset), ir.Constant(I32, self.size), mask])

    def reduce(self, v):
        """Σ_l v_l, added in the order of l (no reassociation: the same bits everywhere)."""
        f = self._intrinsic(f"llvm.vector.reduce.fadd.{self.suffix}", self.float, [self.float, self.vec])
        return self.b.call(f, [ir.Constant(self.float, 0.0), v])


def _typed(P, Q, Z):
    """The tiles' signature when P, Q and the output are C-contiguous matrices of one float dtype, else None."""
    if all(isinstance(a, types.Array) and a.ndim == 2 and a.layout == "C" for a in (P, Q, Z)) and \
            P.dtype == Q.dtype == Z.dtype and P.dtype in (types.float32, types.float64):
        return types.void(P, Q, Z, types.intp, types.intp, types.intp)
    return None


def _matrices(context, builder, sig, args):
    """Each matrix argument's data pointer and row length."""
    out = []
    for ty, value in zip(sig.args[:3], args[:3]):
        a = context.make_array(ty)(context, builder, value=value)
        out.append((a.data, cgutils.unpack_tuple(builder, a.shape, 2)[1]))
    return out


def _tile_intrinsic(name, emit):
    """An intrinsic ``tile(P, Q, out, a, b, c)`` (matrices as :func:`_typed` takes them, three integers) whose body
    ``emit(v, matrices, a, b, c)`` writes: ``v`` the :class:`_Vectors` of the dtype, ``matrices`` the three
    (data pointer, row length) pairs."""

    def tile(typingctx, P, Q, out, a, b, c):
        sig = _typed(P, Q, out)
        if sig is None:
            return None

        def codegen(context, builder, sig, args):
            emit(_Vectors(context, builder, sig.args[0].dtype), _matrices(context, builder, sig, args), *args[3:])
            return context.get_dummy_value()

        return sig, codegen

    tile.__name__ = name
    return intrinsic(tile)


# ------------------------------------------------------------------------- Z = P Q
def _times_tile(rows, vectors):
    """An intrinsic ``tile(P, Q, Z, r0, i0, n)``: Z[r0 + r, i0 + i] = Σ_k P[r0 + r, k] Q[k, i0 + i] for r < rows and
    ``vectors`` whole vectors of points (``vectors`` > 1), or one vector masked to its first n points (``vectors`` = 1)."""

    def emit(v, matrices, r0, i0, n):
        b = v.b
        (p, K), (q, m), (z, _) = matrices
        mask = v.mask(n) if vectors == 1 else None
        sums = [[cgutils.alloca_once_value(b, v.zero) for _ in range(vectors)] for _ in range(rows)]
        with cgutils.for_range(b, K) as loop:
            k = loop.index
            row = b.add(b.mul(k, m), i0)
            qk = [v.load(q, v.plus(row, c * v.lanes), mask) for c in range(vectors)]
            for r in range(rows):
                prk = v.splat(b.load(b.gep(p, [b.add(b.mul(v.plus(r0, r), K), k)])))
                for c in range(vectors):
                    b.store(v.fma(prk, qk[c], b.load(sums[r][c])), sums[r][c])
        for r in range(rows):
            row = b.add(b.mul(v.plus(r0, r), m), i0)
            for c in range(vectors):
                v.store(b.load(sums[r][c]), z, v.plus(row, c * v.lanes), mask)

    return _tile_intrinsic(f"times_tile_{rows}x{vectors}", emit)


_times_rows_vectors = _times_tile(ROWS, VECTORS)
_times_row_vectors = _times_tile(1, VECTORS)
_times_rows_vector = _times_tile(ROWS, 1)
_times_row_vector = _times_tile(1, 1)


@njit(**JIT)
def times(P, Q, Z):
    """Z = P Q, z_si = Σ_k p_sk q_ki summed in the order of k. P (S, K), Q (K, m), Z (S, m), C-contiguous, one dtype."""
    S, m = Z.shape
    lanes = VECTOR_BYTES // Z.itemsize
    width = VECTORS * lanes
    whole = m - m % width  # points in whole tiles
    S4 = S - S % ROWS
    for i0 in range(0, whole, width):  # a block of Q's columns stays in L1 while every row of P passes
        for r0 in range(0, S4, ROWS):
            _times_rows_vectors(P, Q, Z, r0, i0, width)
        for r0 in range(S4, S):
            _times_row_vectors(P, Q, Z, r0, i0, width)
    for i0 in range(whole, m, lanes):
        n = min(lanes, m - i0)
        for r0 in range(0, S4, ROWS):
            _times_rows_vector(P, Q, Z, r0, i0, n)
        for r0 in range(S4, S):
            _times_row_vector(P, Q, Z, r0, i0, n)


# --------------------------------------------------------------------- D = P Q^T
def _times_transposed_tile(rows, cols):
    """An intrinsic ``tile(P, Q, D, r0, c0, 0)``: D[r0 + r, c0 + c] = Σ_i P[r0 + r, i] Q[c0 + c, i] for r < rows,
    c < cols: point i summed into lane i mod lanes, the last vector masked, then the lanes in order."""

    def emit(v, matrices, r0, c0, _):
        b = v.b
        (p, m), (q, _), (d, C) = matrices
        lanes = ir.Constant(m.type, v.lanes)
        whole = b.udiv(m, lanes)
        sums = [[cgutils.alloca_once_value(b, v.zero) for _ in range(cols)] for _ in range(rows)]
        p_rows = [b.mul(v.plus(r0, r), m) for r in range(rows)]
        q_rows = [b.mul(v.plus(c0, c), m) for c in range(cols)]

        def step(i, mask):
            pr = [v.load(p, b.add(base, i), mask) for base in p_rows]
            qc = [v.load(q, b.add(base, i), mask) for base in q_rows]
            for r in range(rows):
                for c in range(cols):
                    b.store(v.fma(pr[r], qc[c], b.load(sums[r][c])), sums[r][c])

        with cgutils.for_range(b, whole) as loop:
            step(b.mul(loop.index, lanes), None)
        rest = b.mul(whole, lanes)
        step(rest, v.mask(b.sub(m, rest)))  # the points after the last whole vector (none: adds zeros)
        for r in range(rows):
            row = b.mul(v.plus(r0, r), C)
            for c in range(cols):
                b.store(v.reduce(b.load(sums[r][c])), b.gep(d, [b.add(row, v.plus(c0, c))]))

    return _tile_intrinsic(f"times_transposed_tile_{rows}x{cols}", emit)


_tt_rows_rows = _times_transposed_tile(ROWS, ROWS)
_tt_rows_row = _times_transposed_tile(ROWS, 1)
_tt_row_rows = _times_transposed_tile(1, ROWS)
_tt_row_row = _times_transposed_tile(1, 1)


@njit(**JIT)
def times_transposed(P, Q, D):
    """D = P Q^T, D_sk = Σ_i p_si q_ki (in lanes, see the module docstring). P (S, m), Q (C, m), D (S, C), C-contiguous."""
    S, C = D.shape
    S4, C4 = S - S % ROWS, C - C % ROWS
    for r0 in range(0, S4, ROWS):
        for c0 in range(0, C4, ROWS):
            _tt_rows_rows(P, Q, D, r0, c0, 0)
        for c0 in range(C4, C):
            _tt_rows_row(P, Q, D, r0, c0, 0)
    for r0 in range(S4, S):
        for c0 in range(0, C4, ROWS):
            _tt_row_rows(P, Q, D, r0, c0, 0)
        for c0 in range(C4, C):
            _tt_row_row(P, Q, D, r0, c0, 0)
