"""Shared fixtures. Errors are scale-relative, ``max|a - b| / max|b|`` (see torchref.agreement)."""

import os

# One OpenMP thread per process, set before numpy or torch loads (and inherited by the notebooks' kernels and
# the commands the tests start): the suite's two pytest-xdist workers share two cores, and torch's pool of two
# spin-waits on a core the other worker is using. Measured: test_torchref, test_norms and test_train took 60 s
# beside a busy core, 15 s with this; torch's BatchNorm1d on these tiny batches 30 ms a call, 0.02 ms.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest
from hypothesis import settings

# Searches are derandomized so that the suite is the same run to run.
settings.register_profile("scratchnn", derandomize=True, deadline=None)
settings.load_profile("scratchnn")

import scratchnn as sn


def random_data(units, n, dtype, seed):
    """Standard-normal inputs (n, u^0) and targets (n, u^L) of ``dtype``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, units[0])).astype(dtype)
    Y = rng.standard_normal((n, units[-1])).astype(dtype)
    return X, Y


@pytest.fixture
def workshop():
    return sn.workshop_data()


def needs_sklearn():
    """Skip unless scikit-learn (the digits) imports.

    test_no_torch blocks torch with None in sys.modules, and scipy (under scikit-learn) then
    fails on import with an AttributeError: without torch installed it imports fine.
    """
    import sys

    if "torch" in sys.modules and sys.modules["torch"] is None:
        pytest.skip("scikit-learn's scipy cannot import while torch is blocked with None in sys.modules")
    return pytest.importorskip("sklearn")


@pytest.fixture(scope="session")
def shared_tmp(tmp_path_factory):
    """A folder every pytest-xdist worker of this run sees (the workers' own tmp folders' parent)."""
    return tmp_path_factory.getbasetemp().parent


@pytest.fixture(scope="session", autouse=True)
def numba_engine_compiled_once_per_dtype(request, shared_tmp):
    """Under pytest-xdist, the numba engine is compiled once per dtype for all the workers, not once per worker.

    numba's on-disk cache is shared, but two processes that need the same kernels at the same time
    both compile them (about a minute of one core per dtype, on a fresh clone, and 15-20 s more for the
    kernels of nets with a norm or dropout). Each worker
    takes the dtypes in its own order, each under a file lock: worker gw0 compiles float32 while
    gw1 compiles float64, then each loads the other's from the cache. A worker that did compile
    fit_epochs runs tests/numba_cases.py's fits at once, as the freshly compiled side of
    tests/test_fast_determinism.py (``fresh_numba_cases``). Without xdist nothing is done here
    (a single process compiles on first use, as ever).
    """
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    if worker is None:
        return
    import fcntl
    import json

    from numba_cases import fit_epochs_stats, run_cases

    from scratchnn import fast

    dtypes = [np.float32, np.float64]
    if int(worker.lstrip("gw") or 0) % 2:
        dtypes.reverse()
    for dtype in dtypes:
        name = np.dtype(dtype).name
        with open(shared_tmp / f"numba-{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            hits, misses = fit_epochs_stats()
            X = np.zeros((4, 1), dtype=dtype)
            net = sn.MLP([1, 2, 1], dtype=dtype)
            h = sn.fit(net, X, X, sn.Adam(net.theta), 2, engine="numba")  # the epoch loop's kernels
            new_hits, new_misses = fit_epochs_stats()
            if new_misses > misses and new_hits == hits:  # compiled here, not loaded
                fresh = run_cases(dtype, compile_seconds=[h.compile_seconds])
                fresh["hits"], fresh["misses"] = new_hits - hits, new_misses - misses
                (shared_tmp / f"numba-fresh-{name}.json").write_text(json.dumps(fresh))
            fast.loss_and_grad(net, X, X)  # one pass's kernels
            # the kernels of nets with a norm or dropout (scratchnn.fast.norms): their loop and one pass
            X2 = np.arange(8, dtype=dtype).reshape(4, 2)
            net = sn.MLP([2, 4, 1], dtype=dtype, norm="batch", dropout=0.1)
            sn.fit(net, X2, X2[:, :1], sn.Adam(net.params), 2, engine="numba")
            fast.loss_and_grad(net, X2, X2[:, :1])
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture
def fresh_numba_cases(request, shared_tmp):
    """``{dtype name: run_cases' result}`` for the dtypes a worker of this run compiled (see above)."""
    import json

    found = {}
    if "workerinput" not in request.config.__dict__:
        return found
    for path in shared_tmp.glob("numba-fresh-*.json"):
        found[path.stem.removeprefix("numba-fresh-")] = json.loads(path.read_text())
    return found
