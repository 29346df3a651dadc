"""The numba engine gives the same bits whether its kernels were compiled in the process or loaded from numba's cache.

Numba links a copy of every callee into each caller: a process that compiles the kernels runs
the callees' own code, a process that loads them from the cache runs the caller's copies,
optimized again inside it. Any freedom the compiler has in rounding (a fused multiply-add where
the source says a multiply and an add) can make the copies differ; see
:data:`scratchnn.fast.elementwise.JIT`. The check runs the same fits (tests/numba_cases.py) in a
process that compiles the kernels and writes the cache, and in one that loads it. The compiling
one is a new process with an empty ``NUMBA_CACHE_DIR`` of its own, or, when a pytest-xdist worker
has just compiled the kernels for the suite (a fresh clone), that worker itself
(tests/conftest.py): one compile serves both. Tolerance: none, every loss and every theta^j
compared bit for bit.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import scratchnn


def start(dtype, cache_dir):
    """A new process running the cases of ``dtype`` (tests/numba_cases.py) with ``cache_dir`` as numba's cache.

    ``cache_dir`` None: the cache the suite's workers use (where they compiled).
    """
    root = Path(scratchnn.__file__).parents[1]  # the scratchnn under test, whichever checkout that is
    path = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    return subprocess.Popen([sys.executable, str(Path(__file__).parent / "numba_cases.py"), dtype], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def results(process):
    """The cases' losses and theta^j (hex), fit_epochs' cache hits and misses, and each fit's compile seconds."""
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.splitlines()[-1])


def first_difference(a, b):
    return next(i for i, (x, y) in enumerate(zip(a, b)) if x != y) if a != b else None


DTYPES = ("float32", "float64")  # float64 runs the workshop fit only: its own compile of the kernels, ~45 s


def test_cached_kernels_give_the_bits_of_freshly_compiled_ones(tmp_path, fresh_numba_cases):
    # A dtype whose kernels a suite worker has just compiled into the checkout's cache (a fresh clone
    # under xdist: tests/conftest.py ran the cases right after compiling) is checked against a
    # process loading that cache: no second compile. Any other dtype compiles in a new process with
    # an empty cache of its own (side by side, one core each), then a second process loads it.
    fresh = {d: fresh_numba_cases.get(d) or start(d, tmp_path / d) for d in DTYPES}
    fresh = {d: p if isinstance(p, dict) else results(p) for d, p in fresh.items()}
    cached = {d: start(d, None if d in fresh_numba_cases else tmp_path / d) for d in DTYPES}
    cached = {d: results(p) for d, p in cached.items()}
    for d in DTYPES:
        f, c = fresh[d], cached[d]
        assert f["misses"] > 0 and f["hits"] == 0, f"{d}: the first process should compile fit_epochs"
        assert c["hits"] > 0 and c["misses"] == 0, f"{d}: the second process should load fit_epochs from the cache"
        for name, run in (("fresh", f), ("cached", c)):  # History.compile_seconds: the compile or load, once
            assert run["compile_seconds"][0] > 0 and all(s == 0 for s in run["compile_seconds"][1:]), (
                f"{d} {name}: compile seconds per fit {run['compile_seconds']}")
        assert f["cases"].keys() == c["cases"].keys()
        for name, fc in f["cases"].items():
            cc = c["cases"][name]
            e = first_difference(fc["loss"], cc["loss"])
            assert e is None, (
                f"{d} {name}: loss at epoch {e}: fresh {float.fromhex(fc['loss'][e])!r}, "
                f"cached {float.fromhex(cc['loss'][e])!r}"
            )
            j = first_difference(fc["theta"], cc["theta"])
            assert j is None, f"{d} {name}: theta^{j} differs after the fit"


def test_compiled_optimizer_step_is_the_numpy_engines_bit_for_bit():
    """No fused multiply-add: ``kernels.optimizer_step`` rounds each operation as ``scratchnn.optimizers`` does.

    The same gradients into both; theta and every state array compared bit for bit after each step.
    """
    from scratchnn.fast import engine
    from scratchnn.fast import kernels as K

    rng = np.random.default_rng(7)
    theta = [rng.standard_normal((10, 6)).astype(np.float32), rng.standard_normal((1, 11)).astype(np.float32)]
    flat = lambda arrays: np.concatenate([a.ravel() for a in arrays]).tobytes()  # noqa: E731
    copy = lambda: [t.copy() for t in theta]  # noqa: E731
    for opt in (scratchnn.Adam(copy(), lr=0.015, weight_decay=1e-3, amsgrad=True),
                scratchnn.SGD(copy(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
                scratchnn.AdamW(copy(), lr=0.015, weight_decay=0.1, amsgrad=True),
                scratchnn.RMSprop(copy(), lr=0.01, momentum=0.5, centered=True, weight_decay=1e-3),
                scratchnn.RMSprop(copy(), lr=0.01, alpha=0.3, centered=True),  # torch's lerp from the far end
                scratchnn.Adagrad(copy(), lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=1e-3)):
        fast_theta = np.concatenate([t.ravel() for t in opt.theta])
        packed = engine.pack_optimizer(opt, np.float32)
        for t in range(1, 6):
            D = [rng.standard_normal(x.shape).astype(np.float32) for x in opt.theta]
            opt.step(D)
            packed.D[:] = np.concatenate([d.ravel() for d in D])
            packed.t[0] = t
            K.optimizer_step(engine.plain(packed), opt.lr, fast_theta)
            name = type(opt).__name__
            assert fast_theta.tobytes() == flat(opt.theta), f"{name}: theta after step {t}"
            numpy_state = opt.state_arrays()
            assert numpy_state, f"{name}: no state to compare"
            for key, arrays in numpy_state.items():
                assert getattr(packed, key).tobytes() == flat(arrays), f"{name}: {key} after step {t}"
