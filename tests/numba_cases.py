"""The fits that tests/test_fast_determinism.py runs fresh and from numba's cache, compared bit for bit.

One process, every case: the fits of one dtype share one compiled fit_epochs (criteria, optimizers,
activations and BLAS or fused layers are run-time choices), so a case costs its run time only.
``python tests/numba_cases.py DTYPE`` prints the JSON of :func:`run_cases`; ``tests/conftest.py``
calls :func:`run_cases` in a worker that has just compiled the kernels (a fresh compile).
"""

import json
import sys

import numpy as np

import scratchnn as sn


def fit_epochs_stats():
    """``(hits, misses)`` of fit_epochs on numba's cache in this process, all signatures together."""
    from scratchnn.fast import kernels as K

    stats = K.fit_epochs.stats
    return sum(stats.cache_hits.values()), sum(stats.cache_misses.values())


def run_cases(dtype, compile_seconds=None):
    """Every case of ``dtype``: ``{"cases": {name: {"loss": [hex], "theta": [hex]}}, "compile_seconds": [...]}``."""
    dtype = np.dtype(dtype)
    X, Y = sn.workshop_data()
    X, Y = X.astype(dtype), Y.astype(dtype)
    rng = np.random.default_rng(0)
    Xc = rng.standard_normal((1200, 2)).astype(dtype)
    labels = (Xc[:, 0] * Xc[:, 1] > 0).astype(dtype).reshape(-1, 1)
    cases = {}
    compile_seconds = [] if compile_seconds is None else compile_seconds  # each fit's: the first compiles or loads

    def record(name, h, net):
        cases[name] = {"loss": [float(x).hex() for x in h.loss], "theta": [t.tobytes().hex() for t in net.params]}
        compile_seconds.append(h.compile_seconds)

    # the workshop net: with fused multiply-adds the cached kernels first differed at epoch 17 of this fit
    net = sn.MLP([1, 5, 5, 1], dtype=dtype, generator=10)
    h = sn.fit(net, X, Y, sn.Adam(net.theta, lr=0.015), epochs=300, engine="numba")
    record("1-5-5-1 tanh, Adam, full batch", h, net)
    # the kernels of nets with a norm or dropout (scratchnn.fast.norms): their reductions are vectorized too
    net = sn.MLP([1, 8, 8, 1], dtype=dtype, generator=10, norm="batch", dropout=0.1)
    h = sn.fit(net, X, Y, sn.AdamW(net.params, lr=0.01), epochs=30, batch_size=1000, seed=1, engine="numba")
    record("1-8-8-1 tanh, batch norm, dropout, AdamW, minibatches", h, net)
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
    return {"cases": cases, "compile_seconds": compile_seconds}


if __name__ == "__main__":
    out = run_cases(sys.argv[1])
    out["hits"], out["misses"] = fit_epochs_stats()
    print(json.dumps(out))
