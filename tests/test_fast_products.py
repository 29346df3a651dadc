"""The register-tiled products (scratchnn.fast.products) against extended-precision products.

Each entry is a sum of K (``times``) or m (``times_transposed``) products, so its rounding error is at
most γ_K Σ_k |p_k q_k|, γ_K = K u / (1 − K u), u the dtype's unit roundoff (Higham, Accuracy and
Stability of Numerical Algorithms, §3.1), whatever the order of the sum; a term left out, counted
twice or taken from the wrong row is far outside it. The shapes take every kind of tile: rows in fours
and left over, points in whole tiles, whole vectors and a last masked vector, and fewer points than a
vector holds.
"""

import os
import platform
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from scratchnn.fast.products import times, times_transposed

DTYPES = (np.float32, np.float64)
SHAPES = [  # (S, K, m): Z (S, m) = P (S, K) Q (K, m);  D (S, K) = P (S, m) Q (K, m)^T
    (32, 33, 3000), (33, 32, 3000), (5, 7, 130), (4, 4, 64), (1, 1, 1), (3, 2, 15), (6, 1, 17), (1, 9, 65), (8, 5, 63),
]
SENTINEL = 12345.0  # written after the output; a store past its end changes it


def unit_roundoff(dtype):
    return np.finfo(dtype).eps / 2


def gamma(n, dtype):
    nu = n * unit_roundoff(dtype)
    return nu / (1 - nu)


def data(shape, dtype, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def output(shape, dtype):
    """A NaN-filled C-contiguous (shape) matrix followed in memory by SENTINELs: what it returns and the flat buffer."""
    flat = np.full(int(np.prod(shape)) + 64, SENTINEL, dtype)
    flat[: int(np.prod(shape))] = np.nan
    return flat[: int(np.prod(shape))].reshape(shape), flat


def assert_within_bound(got, P, Q, terms, dtype):
    """|got − P Q| <= γ_terms |P| |Q| entry by entry, P Q in extended precision."""
    exact = P.astype(np.longdouble) @ Q.astype(np.longdouble)
    bound = gamma(terms, dtype) * (np.abs(P).astype(np.longdouble) @ np.abs(Q).astype(np.longdouble))
    assert np.isfinite(got).all()
    excess = np.abs(got.astype(np.longdouble) - exact) - bound
    assert (excess <= 0).all(), f"worst entry {np.unravel_index(np.argmax(excess), got.shape)} over the bound by {excess.max()}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("S, K, m", SHAPES)
def test_times_is_P_Q_within_the_rounding_bound(S, K, m, dtype):
    P, Q = data((S, K), dtype, 1), data((K, m), dtype, 2)
    Z, flat = output((S, m), dtype)
    times(P, Q, Z)
    assert_within_bound(Z, P, Q, K, dtype)
    assert (flat[S * m :] == SENTINEL).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("S, K, m", SHAPES)
def test_times_transposed_is_P_Q_T_within_the_rounding_bound(S, K, m, dtype):
    P, Q = data((S, m), dtype, 3), data((K, m), dtype, 4)
    D, flat = output((S, K), dtype)
    times_transposed(P, Q, D)
    assert_within_bound(D, P, Q.T, m, dtype)
    assert (flat[S * K :] == SENTINEL).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_times_gives_each_entry_the_same_bits_in_every_kind_of_tile(dtype):
    """z_si is summed in the order of k whichever tile computes it: the same bits when the point sits in a whole tile,
    a whole vector or the masked last one, and when its row is in a tile of four or of one."""
    S, K, m = 33, 33, 3000
    P, Q = data((S, K), dtype, 5), data((K, m), dtype, 6)
    Z = np.empty((S, m), dtype)
    times(P, Q, Z)
    for i0 in (2990, 2999, 1000 - 7):  # point i0 onward: other tiles than in the whole product
        Zi = np.empty((S, m - i0), dtype)
        times(P, np.ascontiguousarray(Q[:, i0:]), Zi)
        assert np.array_equal(Zi, Z[:, i0:]), i0
    for s in (0, 5, 32):  # one row: a tile of one row
        Zs = np.empty((1, m), dtype)
        times(np.ascontiguousarray(P[s : s + 1]), Q, Zs)
        assert np.array_equal(Zs[0], Z[s]), s


@pytest.mark.parametrize("dtype", DTYPES)
def test_times_transposed_gives_each_entry_the_same_bits_in_every_kind_of_tile(dtype):
    """D_sk's lanes depend on m alone: the same bits when s and k sit in tiles of four or of one."""
    S, K, m = 9, 33, 3001
    P, Q = data((S, m), dtype, 7), data((K, m), dtype, 8)
    D = np.empty((S, K), dtype)
    times_transposed(P, Q, D)
    for s, k in ((0, 0), (8, 32), (3, 17)):
        one = np.empty((1, 1), dtype)
        times_transposed(np.ascontiguousarray(P[s : s + 1]), np.ascontiguousarray(Q[k : k + 1]), one)
        assert one[0, 0] == D[s, k], (s, k)


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="NUMBA_CPU_NAME=generic is x86-64's baseline")
def test_the_tiles_on_a_cpu_without_avx2_or_fma():
    """This file's tests compiled for x86-64's baseline (SSE2, no FMA: a multiply and an add a step, the 512-bit
    vectors split into 128-bit ones, the masked loads and stores element by element), in a fresh numba cache."""
    env = dict(os.environ, NUMBA_CPU_NAME="generic", NUMBA_CACHE_DIR=tempfile.mkdtemp())
    env.pop("NUMBA_CPU_FEATURES", None)
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
                            "-k", "not without_avx2"], env=env, capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout[-3000:]
