"""The sweep: one fit of the workshop data per cell of a grid, in workers, resumable from disk.

The grid is models x optimizers x learning rates x seeds (:class:`Grid`); each model is drawn
alone from ``TorchGenerator(seed)``. The cells run in joblib worker processes
(``backend="local"``; ``jobs=1``: in this process) or on a Dask distributed cluster
(``backend="dask"``: the one at ``scheduler``, or a ``LocalCluster`` of ``jobs`` worker processes
started and closed here; needs the ``dask`` extra). A cell gives the same loss curve, bit for bit,
in any of them.

On disk
-------
::

    OUT/cells/1-5-1_adam_lr0.015_seed3.npz    one file per finished cell: <units>_<optimizer>_lr<lr>_seed<seed>.npz
        loss       (epochs trained,) float64, the curve exactly as trained (diverged: the epochs before)
        status     "done" or "diverged"
        settings   JSON of the cell's settings: units, optimizer, lr, seed and the grid's
                   activation, momentum, epochs, dtype, engine, data
    OUT/summary.txt, OUT/sweep.csv, OUT/sweep.png    made from the grid's cells on disk

A cell is written as soon as it finishes, to a temporary file in ``OUT/cells/`` renamed over
its name (``os.replace``), so a file is whole or absent: a Ctrl-C or a lost worker loses only the
cells in flight. A fit stopped part way (status ``"interrupted"``) is never written.

Resume rule
-----------
A rerun fits only the cells of its grid that have no file. A file whose recorded settings equal
the cell's exactly (floats as written, bit for bit) is reused. A file with other settings (the
same --out with another --epochs, --dtype, --engine ...) or one that cannot be read is never
reused nor overwritten: the sweep stops before any fit with :class:`CellMismatch`, naming the
file and the settings that differ.
"""

import contextlib
import json
import logging
import os
import signal
import tempfile
import threading
import time
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from ..data import workshop_data
from ..table import format_table, units_label
from ..teaching import plots
from .run import Run, Settings, build_net

DATA = "workshop"  # the one data set a sweep fits; recorded so that a file says what it was fitted on
DASK_EXTRA = "pip install -e '.[dask]'"
# a LocalCluster without the dashboard, its scheduler's HTTP server (health checks) on a free port
# of this machine: not the 8787 that another cluster may hold, which would warn
# The workers' own log below CRITICAL is silenced too: after a Ctrl-C the scheduler may close before a
# worker's heartbeat, which distributed then logs as an ERROR with two tracebacks (seen once in 6 runs
# under load); a cell that fails reaches the sweep through its future, never through that log.
QUIET_CLUSTER = dict(dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                     silence_logs=logging.CRITICAL)


class CellMismatch(ValueError):
    """A cell file of the grid that the sweep will not reuse: fitted with other settings, or unreadable."""


@dataclass(frozen=True)
class Grid:
    """The cells of a sweep: ``units_list x optimizers x lrs x seeds``, with the settings they share.

    ``engine`` is the one that trains ("numpy" or "numba", never "auto": a file records the engine
    that gave its bits).
    """

    units_list: list
    optimizers: list
    lrs: list
    seeds: list
    activation: str = "tanh"
    momentum: float = 0.0
    epochs: int = Settings.epochs
    dtype: str = "float32"
    engine: str = "numpy"

    def __post_init__(self):
        if self.engine not in ("numpy", "numba"):
            raise ValueError(f"engine: expected 'numpy' or 'numba' (the one that trains), got {self.engine!r}")

    def cells(self):
        """The settings of every cell, a dict each, models outermost and seeds innermost."""
        return [dict(units=[int(u) for u in units], optimizer=o, lr=float(lr), seed=int(s),
                     activation=self.activation, momentum=float(self.momentum), epochs=int(self.epochs),
                     dtype=np.dtype(self.dtype).name, engine=self.engine, data=DATA)
                for units in self.units_list for o in self.optimizers for lr in self.lrs for s in self.seeds]


@dataclass
class Outcome:
    """What :func:`run` did: cells ``reused`` from disk, ``fitted`` now, and how it ended."""

    reused: int = 0
    fitted: int = 0
    interrupted: bool = False  # Ctrl-C: the cells in flight are lost, the finished ones are on disk
    error: str | None = None  # a cell failed (e.g. a worker lost for good): the sweep stopped there


def key(cell):
    """``(units, optimizer, lr, seed)``: where a cell sits in the grid."""
    return tuple(cell["units"]), cell["optimizer"], cell["lr"], cell["seed"]


def fit_cell(cell):
    """Train one cell from its settings; returns ``(loss, status)``.

    ``loss`` is the curve ``(epochs trained,)``; ``status`` is "done", "diverged" or
    "interrupted" (see :class:`scratchnn.apps.run.Run`).
    """
    X, Y = workshop_data(cell["dtype"])
    net = build_net(cell["units"], cell["activation"], dtype=cell["dtype"], generator=cell["seed"])
    settings = Settings(cell["optimizer"], cell["lr"], cell["momentum"], cell["epochs"], engine=cell["engine"])
    # BLAS at one thread: a joblib worker, a Dask worker and this process get different thread
    # counts, and a product split across threads may sum in another order
    with threadpool_limits(1, user_api="blas"):
        run = Run(net, X, Y, settings).train()
    return run.loss, run.status


# --------------------------------------------------------------------- on disk
def cells_dir(out):
    return os.path.join(out, "cells")


def cell_path(out, cell):
    """``OUT/cells/<units>_<optimizer>_lr<lr>_seed<seed>.npz``; ``repr(lr)`` round-trips, so lrs never share a name."""
    return os.path.join(cells_dir(out), f"{units_label(cell['units'])}_{cell['optimizer']}_lr{cell['lr']!r}"
                                        f"_seed{cell['seed']}.npz")


def write_cell(out, cell, loss, status):
    """Write a finished cell atomically: a temporary file in the same folder, then ``os.replace``."""
    path = cell_path(out, cell)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, loss=np.asarray(loss), status=np.str_(status), settings=np.str_(json.dumps(cell, sort_keys=True)))
        os.replace(tmp, path)
    except BaseException:  # a Ctrl-C mid-write included: no temporary files left behind
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def read_cell(path):
    """``(settings, loss, status)`` of a cell file."""
    with np.load(path, allow_pickle=False) as f:
        return json.loads(str(f["settings"])), f["loss"], str(f["status"])


def load(grid, out):
    """The grid's cells on disk: ``{key(cell): (loss, status)}``; raises :class:`CellMismatch` for a file not reusable."""
    found, refused = {}, []
    for cell in grid.cells():
        path = cell_path(out, cell)
        if not os.path.exists(path):
            continue
        try:
            recorded, loss, status = read_cell(path)
        except Exception as exc:  # truncated or foreign: whatever np.load or json raise
            refused.append(f"{path}: cannot be read as a sweep cell ({type(exc).__name__}: {exc})")
            continue
        if recorded != cell:
            differ = [k for k in cell if recorded.get(k) != cell[k]] + [k for k in recorded if k not in cell]
            refused.append(f"{path}: fitted with {', '.join(f'{k} {recorded.get(k)!r}' for k in differ)}; "
                           f"this sweep asks for {', '.join(f'{k} {cell.get(k)!r}' for k in differ)}")
            continue
        found[key(cell)] = (loss, status)
    if refused:
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise CellMismatch(f"{refused[0]}{more}. Sweep into another --out, or delete these cell files to refit them.")
    return found


# ------------------------------------------------------------------------ run
def run(grid, out, backend="local", jobs=2, scheduler=None, progress=False):
    """Fit the grid's cells that are not on disk, writing each as it finishes; returns an :class:`Outcome`.

    ``backend``: "local" (``jobs`` processes of joblib's loky) or "dask" (``scheduler``'s cluster, or a
    LocalCluster of ``jobs`` processes). Raises :class:`CellMismatch` before any fit when a file
    of the grid is not reusable, ImportError when Dask is missing.
    """
    if backend not in ("local", "dask"):
        raise ValueError(f"backend: expected 'local' or 'dask', got {backend!r}")
    if scheduler is not None and backend != "dask":
        raise ValueError(f"scheduler: a Dask scheduler's address needs backend='dask', got backend={backend!r}")
    if backend == "dask":
        require_dask()
    done = load(grid, out)
    todo = [c for c in grid.cells() if key(c) not in done]
    outcome = Outcome(reused=len(done))
    if not todo:
        return outcome
    from tqdm.auto import tqdm

    stream = _joblib(todo, jobs) if backend == "local" else _dask(todo, jobs, scheduler)
    bar = tqdm(total=len(todo), unit="fit", disable=not progress)
    try:
        for cell, loss, status in stream:
            if status == "interrupted":  # the Ctrl-C reached the fit (in this process, or a worker) first
                raise KeyboardInterrupt
            write_cell(out, cell, loss, status)
            outcome.fitted += 1
            bar.update()
    except KeyboardInterrupt:
        outcome.interrupted = True
    except Exception as exc:  # a lost worker, an unreachable scheduler: what finished is on disk
        outcome.error = f"{type(exc).__name__}: {exc}"
    finally:
        stream.close()  # stops the workers (joblib) or cancels what is queued (Dask)
        bar.close()
    return outcome


def _tagged(cell):
    return (cell, *fit_cell(cell))


def _joblib(todo, jobs):
    """``(cell, loss, status)`` in the order the cells finish, from ``jobs`` joblib processes (1: this one).

    The workers start with SIGINT ignored (joblib starts them, and dispatches the first cells,
    inside ``Parallel(...)(...)``), so a Ctrl-C, which reaches the whole process group, is this
    process's alone: joblib stops and kills the workers, whose cells in flight are lost. A
    worker interrupted itself could print a traceback.
    """
    from joblib import Parallel, delayed

    with _sigint_ignored():
        results = Parallel(n_jobs=jobs, return_as="generator_unordered")(delayed(_tagged)(c) for c in todo)
    yield from results


def require_dask():
    """The ``distributed`` module; ImportError naming the extra when it is missing."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(f"the dask backend needs Dask distributed ({exc}): {DASK_EXTRA}") from None
    return distributed


@contextlib.contextmanager
def _sigint_ignored():
    """SIGINT ignored while the block runs, so that processes started in it inherit SIG_IGN.

    A Ctrl-C in the terminal reaches the whole process group: the LocalCluster's workers should
    leave it to this process (which cancels their tasks) rather than each print a traceback.
    Signals can be set in the main thread only; elsewhere the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _sigint_deferred():
    """SIGINT only noted while the block runs; yields a function that raises KeyboardInterrupt if one came.

    distributed's blocking calls (``as_completed``, ``result``, ``cancel``) are not safe to
    interrupt: a KeyboardInterrupt raised inside one can leave its own callback failing with a
    traceback in the log. The Dask loop polls instead and raises between those calls.
    Signals can be set in the main thread only; elsewhere a Ctrl-C raises where it lands.
    """
    came = threading.Event()

    def check():
        if came.is_set():
            raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield check
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: came.set())
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, previous)


POLL_SECONDS = 0.05  # how often the Dask loop looks for finished cells and a Ctrl-C


def _dask(todo, jobs, scheduler):
    """``(cell, loss, status)`` in the order the cells finish, from a Dask cluster."""
    distributed = require_dask()
    cluster = None
    with _sigint_deferred() as check_interrupt:
        if scheduler is None:
            with _sigint_ignored():
                cluster = distributed.LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                                   **QUIET_CLUSTER)
        try:
            with distributed.Client(cluster or scheduler) as client:
                # pure=False: fresh task keys, so a rerun right after a Ctrl-C never meets, on the same
                # scheduler, the tasks of the run before that are still being cancelled
                futures = {client.submit(fit_cell, c, pure=False): c for c in todo}
                finished = distributed.as_completed(futures)
                try:
                    while not finished.is_empty():
                        check_interrupt()
                        if not finished.has_ready():
                            time.sleep(POLL_SECONDS)
                            continue
                        for future in finished.next_batch(block=False):
                            yield (futures[future], *future.result())
                finally:
                    client.cancel(list(futures))
        finally:
            if cluster is not None:
                cluster.close()


# -------------------------------------------------------------------- summary
def summary_table(grid, results):
    """Per model, optimizer and lr: fits, diverged, and the median, min and max final loss over the seeds done."""
    rows = [["model", "optimizer", "lr", "fits", "diverged", "median final loss", "min", "max"]]
    for u in grid.units_list:
        for o in grid.optimizers:
            for lr in grid.lrs:
                runs = [results[k] for k in ((tuple(u), o, lr, s) for s in grid.seeds) if k in results]
                finals = [loss[-1] for loss, status in runs if status == "done"]
                diverged = sum(status == "diverged" for _, status in runs)
                stats = [f"{np.median(finals):.3e}", f"{min(finals):.3e}", f"{max(finals):.3e}"] if finals else ["-"] * 3
                rows.append([units_label(u), o, f"{lr:g}", str(len(runs)), str(diverged)] + stats)
    return format_table(rows)


def write_summary(grid, out, results):
    """Write summary.txt, sweep.csv and sweep.png of ``results`` (from :func:`load`) to ``out``; returns the table."""
    os.makedirs(out, exist_ok=True)
    table = summary_table(grid, results)
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write(table + "\n")
    present = [key(c) for c in grid.cells() if key(c) in results]
    with open(os.path.join(out, "sweep.csv"), "w") as f:
        f.write("units,optimizer,lr,seed,epochs_trained,status,final_loss\n")
        for u, o, lr, s in present:
            loss, status = results[(u, o, lr, s)]
            final = loss[-1] if len(loss) else float("nan")
            f.write(f"{units_label(u)},{o},{lr},{s},{len(loss)},{status},{final:.8e}\n")
    rows = [units_label(u) for u in grid.units_list]
    cols = [f"{o} lr {lr}" for o in grid.optimizers for lr in grid.lrs]
    curves = {}
    for u, o, lr, s in present:
        curves.setdefault((units_label(u), f"{o} lr {lr}"), {})[str(s)] = results[(u, o, lr, s)][0]
    plots.save(plots.sweep_figure(curves, rows, cols), os.path.join(out, "sweep.png"))
    return table
