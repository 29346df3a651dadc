"""The sweep: cells written as they finish, a rerun reuses them, and every backend gives the same bits.

Tolerance: none anywhere. A cell's loss curve is compared bit for bit (np.array_equal on the
float64 curves, dtype checked), whatever ran it: this process, joblib workers or a Dask cluster.
"""

import glob
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import scratchnn as sn
from scratchnn import fast
from scratchnn.apps import cli, sweep
from scratchnn.apps import run as R

# a tiny grid with both endings: SGD at lr 50 on an identity net diverges within 3 epochs
DIVERGING = dict(units_list=[[1, 3, 1]], optimizers=["sgd"], lrs=[0.015, 50.0], seeds=[0, 1], activation="identity",
                 epochs=30)
SMALL = ["--units", "1,3,1", "--seeds", "0,1", "--lrs", "0.015,0.05", "--epochs", "30", "--no-progress"]


def cells_on_disk(out):
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(out, "cells", "*")))


def assert_same_bits(results, reference):
    assert results.keys() == reference.keys()
    for k, (loss, status) in results.items():
        assert status == reference[k][1], k
        assert loss.dtype == reference[k][0].dtype and np.array_equal(loss, reference[k][0]), k


def in_process(grid):
    """``{key: (loss, status)}`` of every cell, fitted here with :func:`sweep.fit_cell`."""
    return {sweep.key(c): sweep.fit_cell(c) for c in grid.cells()}


# ----------------------------------------------------------------- one cell
def test_fit_cell_matches_a_direct_fit():
    cell = sweep.Grid([[1, 5, 1]], ["adam"], [0.015], [3], epochs=25).cells()[0]
    loss, status = sweep.fit_cell(cell)
    net = sn.MLP([1, 5, 1], generator=3)
    X, Y = sn.workshop_data()
    assert status == "done"
    assert np.array_equal(loss, sn.fit(net, X, Y, sn.Adam(net.theta, lr=0.015), 25).loss)


def test_a_cell_file_keeps_the_curve_and_settings_exactly(tmp_path):
    cell = sweep.Grid([[1, 3, 1]], ["sgd"], [0.1 + 0.2], [7], momentum=0.9, dtype="float64").cells()[0]
    loss = np.array([np.pi, np.nextafter(1.0, 2.0), 5e-324, 1e300])  # last bits, a subnormal, a huge one
    path = sweep.write_cell(str(tmp_path), cell, loss, "diverged")
    assert os.path.basename(path) == "1-3-1_sgd_lr0.30000000000000004_seed7.npz"
    settings, read, status = sweep.read_cell(path)
    assert settings == cell and status == "diverged"
    assert read.dtype == np.float64 and np.array_equal(read, loss)
    assert cells_on_disk(tmp_path) == [os.path.basename(path)]  # no temporary file left


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sweep.Grid([[1, 3, 1]], ["adam"], [0.1], [0], engine="auto"), "engine: expected 'numpy' or 'numba'"),
        (lambda: sweep.run(sweep.Grid([[1, 3, 1]], ["adam"], [0.1], [0]), "out", backend="ray"), "backend: expected"),
        (lambda: sweep.run(sweep.Grid([[1, 3, 1]], ["adam"], [0.1], [0]), "out", scheduler="tcp://h:8786"),
         "scheduler: a Dask scheduler's address needs backend='dask'"),
    ],
)
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- backends
@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, **sweep.QUIET_CLUSTER) as c:
        yield c


@pytest.mark.parametrize("dtype, engine", [("float32", "numpy"), ("float64", "auto")])
def test_every_backend_gives_the_same_bits(cluster, tmp_path, dtype, engine):
    grid = sweep.Grid(**DIVERGING, dtype=dtype, engine=fast.default_engine() if engine == "auto" else engine)
    reference = in_process(grid)
    assert sorted(status for _, status in reference.values()) == ["diverged", "diverged", "done", "done"]
    runs = {"this process": dict(jobs=1), "joblib": dict(jobs=2),
            "dask": dict(backend="dask", scheduler=cluster.scheduler_address)}
    for name, how in runs.items():
        out = str(tmp_path / name)
        outcome = sweep.run(grid, out, **how)
        assert (outcome.reused, outcome.fitted, outcome.interrupted, outcome.error) == (0, 4, False, None), name
        assert_same_bits(sweep.load(grid, out), reference)


def test_the_command_on_a_local_dask_cluster(tmp_path, capsys):
    pytest.importorskip("distributed")
    out = str(tmp_path)
    assert cli.main(["sweep", *SMALL, "--engine", "numpy", "--backend", "dask", "--jobs", "2", "--out", out]) == 0
    printed = capsys.readouterr().out
    assert "a Dask LocalCluster of 2 worker processes" in printed
    assert "4 of 4 fits on disk (0 reused, 4 fitted now)" in printed
    grid = sweep.Grid([[1, 3, 1]], ["adam"], [0.015, 0.05], [0, 1], epochs=30)
    assert_same_bits(sweep.load(grid, out), in_process(grid))


# ------------------------------------------------------------------ resume
def test_a_rerun_refits_only_the_missing_cells(tmp_path, monkeypatch):
    out = str(tmp_path)
    grid = sweep.Grid([[1, 3, 1]], ["adam", "sgd"], [0.015, 0.05], [0, 1], epochs=30)
    assert sweep.run(grid, out, jobs=1).fitted == 8
    fresh = sweep.load(grid, out)
    cells = grid.cells()
    lost = [sweep.cell_path(out, c) for c in cells[1::2]]  # as if the sweep had been killed with these in flight
    for path in lost:
        os.remove(path)
    kept = {p: os.stat(p) for p in (sweep.cell_path(out, c) for c in cells[0::2])}

    fitted = []
    real_fit_cell = sweep.fit_cell
    monkeypatch.setattr(sweep, "fit_cell", lambda cell: fitted.append(sweep.cell_path(out, cell)) or real_fit_cell(cell))
    outcome = sweep.run(grid, out, jobs=1)  # jobs=1: in this process, where the spy sees every fit
    assert (outcome.reused, outcome.fitted) == (4, 4)
    assert sorted(fitted) == sorted(lost)
    for path, before in kept.items():  # the kept files were not rewritten
        after = os.stat(path)
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert_same_bits(sweep.load(grid, out), fresh)


def test_ctrl_c_in_a_fit_keeps_the_finished_cells(tmp_path, monkeypatch, capsys):
    out = str(tmp_path)
    real_fit = R.fit
    starts = []

    def interrupted_fit(*args, start_epoch=0, **kwargs):
        starts.append(start_epoch)
        if starts.count(0) == 3:  # the third cell's first chunk: cells 1 and 2 done, 3 in flight
            raise KeyboardInterrupt
        return real_fit(*args, start_epoch=start_epoch, **kwargs)

    monkeypatch.setattr(R, "fit", interrupted_fit)
    argv = ["sweep", *SMALL, "--engine", "numpy", "--jobs", "1", "--out", out]
    assert cli.main(argv) == cli.EXIT_INTERRUPTED
    captured = capsys.readouterr()
    assert "interrupted" in captured.err and "2 of 4 fits on disk (0 reused, 2 fitted now)" in captured.out
    assert cells_on_disk(out) == ["1-3-1_adam_lr0.015_seed0.npz", "1-3-1_adam_lr0.015_seed1.npz"]
    assert len((tmp_path / "sweep.csv").read_text().splitlines()) == 1 + 2  # the summary is what is on disk

    monkeypatch.setattr(R, "fit", real_fit)
    assert cli.main(argv) == 0
    assert "4 of 4 fits on disk (2 reused, 2 fitted now)" in capsys.readouterr().out
    grid = sweep.Grid([[1, 3, 1]], ["adam"], [0.015, 0.05], [0, 1], epochs=30)
    assert_same_bits(sweep.load(grid, out), in_process(grid))


@pytest.mark.parametrize("backend", ["local", "dask"])
def test_sigint_to_a_running_sweep_then_a_rerun(tmp_path, backend):
    if backend == "dask":
        pytest.importorskip("distributed")
    out = str(tmp_path)
    # 12 cells of about 0.3 s each on 2 workers: the signal comes with most of them still to fit
    argv = [sys.executable, "-m", "scratchnn", "sweep", "--units", "1,3,1", "--seeds", "0,1,2,3,4,5",
            "--lrs", "0.015,0.05", "--epochs", "1500", "--engine", "numpy", "--no-progress", "--backend", backend,
            "--out", out]
    # its own process group, sent SIGINT as a whole: what Ctrl-C in a terminal does
    sweep_process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
    deadline = time.monotonic() + 60
    while not cells_on_disk(out) and time.monotonic() < deadline and sweep_process.poll() is None:
        time.sleep(0.02)
    os.killpg(sweep_process.pid, signal.SIGINT)
    stdout, stderr = sweep_process.communicate(timeout=60)
    assert sweep_process.returncode == cli.EXIT_INTERRUPTED, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    finished = cells_on_disk(out)
    assert 1 <= len(finished) < 12 and all(name.endswith(".npz") for name in finished)

    rerun = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"12 of 12 fits on disk ({len(finished)} reused, {12 - len(finished)} fitted now)" in rerun.stdout
    # the cells finished before the signal are whole and exactly what a fit gives
    grid = sweep.Grid([[1, 3, 1]], ["adam"], [0.015, 0.05], list(range(6)), epochs=1500)
    interrupted = {sweep.key(c): sweep.fit_cell(c) for c in grid.cells()
                   if os.path.basename(sweep.cell_path(out, c)) in finished}
    assert_same_bits({k: v for k, v in sweep.load(grid, out).items() if k in interrupted}, interrupted)


def test_a_cell_fitted_with_other_settings_is_not_reused(tmp_path, capsys):
    out = str(tmp_path)
    assert cli.main(["sweep", *SMALL, "--engine", "numpy", "--jobs", "1", "--out", out]) == 0
    path = tmp_path / "cells" / "1-3-1_adam_lr0.015_seed0.npz"
    before = path.read_bytes()
    capsys.readouterr()

    assert cli.main(["sweep", *SMALL, "--engine", "numpy", "--jobs", "1", "--out", out, "--epochs", "20"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: fitted with epochs 30; this sweep asks for epochs 20 (and 3 more)" in err
    assert "another --out" in err
    assert path.read_bytes() == before  # refused, not refitted into

    path.write_bytes(before[:100])  # a file that is not a whole cell
    grid = sweep.Grid([[1, 3, 1]], ["adam"], [0.015, 0.05], [0, 1], epochs=30)
    with pytest.raises(sweep.CellMismatch, match="cannot be read as a sweep cell"):
        sweep.run(grid, out, jobs=1)


# -------------------------------------------------------------------- flags
@pytest.mark.parametrize(
    "argv, message",
    [
        (["sweep", "--scheduler", "tcp://127.0.0.1:8786"], "--scheduler: a Dask scheduler's address needs --backend dask"),
        (["sweep", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:8786", "--jobs", "4"],
         "--jobs: the cluster at --scheduler has its own workers"),
        (["sweep", "--backend", "ray"], "--backend: invalid choice"),
    ],
)
def test_bad_sweep_flags_exit_2_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_dask_missing_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # every `import distributed` raises ImportError
    assert cli.main(["sweep", *SMALL, "--backend", "dask", "--out", str(tmp_path)]) == 2
    assert "pip install -e '.[dask]'" in capsys.readouterr().err
    assert not os.listdir(tmp_path)  # nothing fitted
