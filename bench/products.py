"""The three products of a layer of the ninja net, side by side: register tiles, BLAS, torch.

    python -m bench.products [--m 3000] [--width 32] [--reps 200]

For a hidden layer of ``width`` units on m points (the bench's ninja row: 32 and 3000), float32 and
float64, one thread each: Z = θ A (``times``), θ[:, 1:]^T δ (``times``) and D = δ A^T
(``times_transposed``) in :mod:`scratchnn.fast.products`; the same products through ``np.dot`` inside
numba (SciPy's OpenBLAS: what the engine called before the tiles); and torch's ``@`` (MKL), when torch
is installed. Best of 5 runs of ``reps`` calls; the ratios are each one's time over the tiles'.
"""

import argparse

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  numba's np.dot calls SciPy's BLAS: loaded before threadpool_limits looks
from numba import njit
from threadpoolctl import threadpool_limits

from scratchnn.fast.products import times, times_transposed
from scratchnn.table import format_table

from .run import clock


@njit(nogil=True)
def _tiles_forward(theta, A, Z, reps):
    for _ in range(reps):
        times(theta, A, Z)


@njit(nogil=True)
def _tiles_grad(delta, A, D, reps):
    for _ in range(reps):
        times_transposed(delta, A, D)


@njit(nogil=True)
def _blas(P, Q, out, reps):
    for _ in range(reps):
        np.dot(P, Q, out)


def best(fn, reps):
    """Seconds per product, the best of 5 runs of ``fn(reps)`` (each ``reps`` products in one compiled loop)."""
    fn(1)
    return min(clock(lambda: fn(reps), 1) for _ in range(5)) / reps


def products(width, m, dtype, rng):
    """(name, {engine: a function of reps}) for the layer's three products."""
    theta = rng.standard_normal((width, width + 1)).astype(dtype)  # θ^j, (u^{j+1}, u^j + 1)
    A = rng.standard_normal((width + 1, m)).astype(dtype)  # A^j, (u^j + 1, m)
    delta = rng.standard_normal((width, m)).astype(dtype)  # δ^{j+1}, (u^{j+1}, m)
    weights_t = np.ascontiguousarray(theta[:, 1:].T)  # θ^j[:, 1:]^T, (u^j, u^{j+1})
    Z, back, D = np.empty((width, m), dtype), np.empty((width, m), dtype), np.empty((width, width + 1), dtype)
    Dt = np.empty((width + 1, width), dtype)
    out = [
        ("Z = θ A", {"tiles": lambda r: _tiles_forward(theta, A, Z, r), "blas": lambda r: _blas(theta, A, Z, r)}, (theta, A)),
        ("θ[:,1:]^T δ", {"tiles": lambda r: _tiles_forward(weights_t, delta, back, r),
                         "blas": lambda r: _blas(weights_t, delta, back, r)}, (weights_t, delta)),
        ("D = δ A^T", {"tiles": lambda r: _tiles_grad(delta, A, D, r), "blas": lambda r: _blas(A, delta.T, Dt, r)},
         (delta, A.T)),
    ]
    try:
        import torch
    except ImportError:
        return [(name, fns) for name, fns, _ in out]
    torch.set_num_threads(1)
    for name, fns, (P, Q) in out:
        tP, tQ = torch.from_numpy(np.ascontiguousarray(P)), torch.from_numpy(Q)

        def run(reps, tP=tP, tQ=tQ):
            for _ in range(reps):
                tP @ tQ

        fns["torch"] = run
    return [(name, fns) for name, fns, _ in out]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.products", description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=3000, help="points (default 3000)")
    parser.add_argument("--width", type=int, default=32, help="units of the layer (default 32)")
    parser.add_argument("--reps", type=int, default=200, help="calls per run (default 200)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    lines = [["product", "dtype", "tiles", "BLAS (numba np.dot)", "torch @"]]
    with threadpool_limits(1, user_api="blas"):
        for dtype in (np.float32, np.float64):
            for name, fns in products(args.width, args.m, dtype, rng):
                t = {engine: best(fn, args.reps) for engine, fn in fns.items()}
                cells = [f"{t['tiles'] * 1e6:.1f} us"]
                for engine in ("blas", "torch"):
                    cells.append(f"{t[engine] * 1e6:.1f} us ({t[engine] / t['tiles']:.2f}x)" if engine in t else "-")
                lines.append([name, np.dtype(dtype).name, *cells])
    print(f"{args.width} x {args.width + 1} by {args.width + 1} x {args.m}, one thread; (Nx) = that time / the tiles'")
    print(format_table(lines, left=(0, 1)))


if __name__ == "__main__":
    main()
