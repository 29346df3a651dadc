"""The numba engine gives the same bits whether its kernels were compiled in the process or loaded from numba's cache.

Numba links a copy of every callee into each caller: a process that compiles the kernels runs
the callees' own code, a process that loads them from the cache runs the caller's copies,
optimized again inside it. Any freedom the compiler has in rounding (a fused multiply-add where
the source says a multiply and an add) can make the copies differ; see
:data:`scratchnn.fast.elementwise.JIT`. Each check below runs the same fits in two fresh
processes sharing one empty ``NUMBA_CACHE_DIR``: the first compiles and writes the cache, the
second loads it. Tolerance: none, every loss and every theta^j compared bit for bit.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import scratchnn

# One process, every case: the fits of one dtype share one compiled fit_epochs (criteria, optimizers,
# activations and BLAS or fused layers are run-time choices), so a case costs its run time only.
SCRIPT = r"""
import json, sys
import numpy as np
import scratchnn as sn
from scratchnn.fast import kernels as K

dtype = np.dtype(sys.argv[1])
X, Y = sn.workshop_data()
X, Y = X.astype(dtype), Y.astype(dtype)
rng = np.random.default_rng(0)
Xc = rng.standard_normal((1200, 2)).astype(dtype)
labels = (Xc[:, 0] * Xc[:, 1] > 0).astype(dtype).reshape(-1, 1)
cases = {}
compile_seconds = []  # each fit's: the first compiles or loads fit_epochs, the others reuse it

def record(name, h, net):
    cases[name] = {"loss": [float(x).hex() for x in h.loss], "theta": [t.tobytes().hex() for t in net.theta]}
    compile_seconds.append(h.compile_seconds)

# the workshop net: with fused multiply-adds the cached kernels first differed at epoch 17 of this fit
net = sn.MLP([1, 5, 5, 1], dtype=dtype, generator=10)
h = sn.fit(net, X, Y, sn.Adam(net.theta, lr=0.015), epochs=300, engine="numba")
record("1-5-5-1 tanh, Adam, full batch", h, net)
if dtype == np.float32:
    net = sn.MLP([1, 5, 5, 1], generator=10)
    opt = sn.Adam(net.theta, lr=0.015, weight_decay=1e-4, amsgrad=True)
    h = sn.fit(net, X, Y, opt, epochs=20, batch_size=200, seed=3, engine="numba")
    record("1-5-5-1 tanh, Adam amsgrad, minibatches", h, net)
    net = sn.MLP([1, 10, 1], activations=["sigmoid", "identity"], generator=2)
    opt = sn.SGD(net.theta, lr=0.5, momentum=0.9, nesterov=True)
    record("1-10-1 sigmoid, SGD nesterov, l2", sn.fit(net, X, Y, opt, epochs=100, l2=1e-3, engine="numba"), net)
    net = sn.MLP([2, 20, 20, 1], activations=["relu", "leaky_relu", "sigmoid"], generator=5, criterion="bce")
    h = sn.fit(net, Xc, labels, sn.Adam(net.theta, lr=0.01), epochs=50, engine="numba")
    record("2-20-20-1 relu (BLAS layer), bce, Adam", h, net)
stats = K.fit_epochs.stats
hits, misses = sum(stats.cache_hits.values()), sum(stats.cache_misses.values())
print(json.dumps({"cases": cases, "hits": hits, "misses": misses, "compile_seconds": compile_seconds}))
"""


def start(dtype, cache_dir):
    """A fresh process running the cases of ``dtype`` with ``cache_dir`` as numba's cache."""
    root = Path(scratchnn.__file__).parents[1]  # the scratchnn under test, whichever checkout that is
    path = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), PYTHONPATH=path)
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, dtype], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def results(process):
    """The cases' losses and theta^j (hex), fit_epochs' cache hits and misses, and each fit's compile seconds."""
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.splitlines()[-1])


def first_difference(a, b):
    return next(i for i, (x, y) in enumerate(zip(a, b)) if x != y) if a != b else None


DTYPES = ("float32", "float64")  # float64 runs the workshop fit only: its own compile of the kernels, ~35 s


def test_cached_kernels_give_the_bits_of_freshly_compiled_ones(tmp_path):
    # the dtypes compile side by side (one core each), each into its own cache
    fresh = {d: start(d, tmp_path / d) for d in DTYPES}
    fresh = {d: results(p) for d, p in fresh.items()}
    cached = {d: start(d, tmp_path / d) for d in DTYPES}
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
    for opt in (scratchnn.Adam([t.copy() for t in theta], lr=0.015, weight_decay=1e-3, amsgrad=True),
                scratchnn.SGD([t.copy() for t in theta], lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)):
        fast_theta = np.concatenate([t.ravel() for t in opt.theta])
        packed = engine.pack_optimizer(opt, np.float32)
        for t in range(1, 6):
            D = [rng.standard_normal(x.shape).astype(np.float32) for x in opt.theta]
            opt.step(D)
            K.optimizer_step(packed.hyper, t, fast_theta, np.concatenate([d.ravel() for d in D]),
                             packed.m, packed.v, packed.v_max, packed.b)
            name = type(opt).__name__
            assert fast_theta.tobytes() == flat(opt.theta), f"{name}: theta after step {t}"
            numpy_state = opt.state_arrays()
            assert numpy_state, f"{name}: no state to compare"
            for key, arrays in numpy_state.items():
                assert getattr(packed, key).tobytes() == flat(arrays), f"{name}: {key} after step {t}"
