"""The numba engine's activations: accuracy in ulps against NumPy over the whole range, NaN, and vectorization."""

import os
import platform
import re
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from scratchnn.fast import elementwise as ew


def ulps(x, ref, dtype):
    """|x - ref| in units of the last place of ref (in dtype), elementwise."""
    ref = np.asarray(ref, dtype=np.float64)
    spacing = np.spacing(np.abs(ref).astype(dtype)).astype(np.float64)
    return np.abs(np.asarray(x, dtype=np.float64) - ref) / spacing


def inputs(dtype):
    """Every scale: a dense grid, large |z|, powers of two down to subnormals, +-0, the largest floats."""
    info = np.finfo(dtype)
    grid = np.linspace(-25, 25, 400_001)
    powers = 2.0 ** np.arange(np.log2(info.smallest_subnormal), np.log2(info.max))
    z = np.concatenate([grid, powers, -powers, [0.0, -0.0, info.max, -info.max, info.tiny, -info.tiny]])
    return z.astype(dtype)


def apply(code, z):
    a = np.empty_like(z)
    ew.g_vector(code, z, a)
    return a


# Max ulp errors measured over `inputs`: tanh float32 4 (near |z| = 8, where Eigen's rational
# reaches 1 before np.tanh does at 9.01; elsewhere 2), tanh float64 3.
# Bounds: the measured maxima.
@pytest.mark.parametrize("dtype,bound", [(np.float32, 4), (np.float64, 3)])
def test_tanh_ulps_against_numpy(dtype, bound):
    z = inputs(dtype)
    err = ulps(apply(ew.TANH, z), np.tanh(z), dtype)
    assert err.max() <= bound, (err.max(), z[err.argmax()])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_keeps_signed_zero_and_subnormals_exactly(dtype):
    tiny = np.array([0.0, -0.0, np.finfo(dtype).smallest_subnormal, -np.finfo(dtype).smallest_subnormal], dtype)
    a = apply(ew.TANH, tiny)
    assert np.array_equal(a, tiny)
    assert np.array_equal(np.signbit(a), np.signbit(tiny))


# float32 against a float64 reference: measured 2.4 ulp. float64 against NumPy's own float64
# formula (itself ~2 ulp off): measured 4.
@pytest.mark.parametrize("dtype,bound", [(np.float32, 3), (np.float64, 4)])
def test_sigmoid_ulps_against_float64_reference(dtype, bound):
    # normal results only: below e^-87 (float32) / e^-708 (float64) NumPy returns subnormals or 0
    z = inputs(dtype)
    z = z[np.abs(z) < (80 if dtype == np.float32 else 700)]
    with np.errstate(over="ignore"):
        ref = 1 / (1 + np.exp(-z.astype(np.float64)))
    err = ulps(apply(ew.SIGMOID, z), ref, dtype)
    assert err.max() <= bound, (err.max(), z[err.argmax()])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ew.CODES))
def test_every_activation_matches_numpy_and_passes_nan(name, dtype):
    from scratchnn.activations import get

    z = np.concatenate([np.linspace(-5, 5, 101), [np.nan, np.inf, -np.inf]]).astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        ref = get(name).g(z)
    a = apply(ew.CODES[name], z)
    assert np.isnan(a[-3])  # a diverging fit must still show a non-finite loss
    # a few ulps (tanh, sigmoid above); exact for the piecewise-linear ones
    np.testing.assert_allclose(a[:-3], ref[:-3], rtol=8 * np.finfo(dtype).eps, atol=0)
    assert np.array_equal(a[-2:], ref[-2:])


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="reads x86-64 assembly for packed AVX/SSE instructions; other CPUs have other names")
@pytest.mark.parametrize("dtype,packed", [(np.float32, "ps"), (np.float64, "pd")])
def test_activation_loops_are_vectorized(dtype, packed):
    """The compiled row loop uses packed AVX (ymm) or SSE (xmm) instructions and calls no libm tanh/exp/fma."""
    from numba import njit

    fresh = njit(**ew.INLINE)(ew.g_rows.py_func)  # the engine's flags, uncached: cached code cannot be inspected
    z = np.zeros((1, 8), dtype)
    fresh(ew.TANH, z, z.copy())
    asm = next(iter(fresh.inspect_asm().values()))
    if "avx" in ew.target_features()[1]:
        assert re.search(rf"\bv(fmadd\d+|div|mul){packed}\s+%[xyz]mm", asm)
    else:  # x86-64's baseline: SSE2, two-operand forms on xmm
        assert re.search(rf"\b(div|mul){packed}\s+%xmm", asm)
    assert not re.search(r"call\w*\s+[^\n]*\b(tanh|exp|fma)f?\b", asm)


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="NUMBA_CPU_NAME=generic is x86-64's baseline")
def test_the_engine_on_a_cpu_without_avx2_or_fma():
    """This file's tests, and the engine's loss and gradients against the NumPy engine's, compiled for x86-64's
    baseline (SSE2, no FMA): what a machine without AVX2 runs (a fresh numba cache, so nothing compiled for this
    CPU is reused). The forward and backward kernels, where every activation and every fused multiply-add of
    the engine runs; the whole fit loop is not compiled here (another 27 s of one core: the suite's budget)."""
    env = dict(os.environ, NUMBA_CPU_NAME="generic", NUMBA_CACHE_DIR=tempfile.mkdtemp())
    env.pop("NUMBA_CPU_FEATURES", None)
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
                            "-k", "not without_avx2"], env=env, capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout[-3000:]
    code = """
import numpy as np, scratchnn as sn
from scratchnn import fast
from scratchnn.fast import elementwise as ew
assert not ew.HAS_FMA and "avx2" not in ew.target_features()[1]
X, Y = sn.workshop_data()
for units in ([1, 5, 1], [1, 5, 5, 1]):
    net = sn.MLP(units, generator=10)
    loss, D = fast.loss_and_grad(net, X, Y)
    loss_np, D_np = net.loss_and_grad(X, Y)
    # float32, one pass, the engines summing in other orders: the bounds of scratchnn.teaching.compare's RTOL
    assert abs(loss - loss_np) / loss_np < 5e-6, (units, loss, loss_np)
    for d, d_np in zip(D, D_np):
        assert np.max(np.abs(d - d_np)) / np.max(np.abs(d_np)) < 1e-4, units
print("ok")
"""
    engine = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert engine.returncode == 0 and engine.stdout.split() == ["ok"], engine.stderr[-3000:]


def test_importing_scratchnn_compiles_nothing():
    code = "import sys, scratchnn; print('scratchnn.fast.kernels' in sys.modules, 'numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
