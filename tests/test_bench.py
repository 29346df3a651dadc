"""The timing harness: ``bench.run.main`` and ``bench.products.main`` run and write their files or tables (never a
speed), in this process on tiny nets; its argument checks; the peers' correctness guard and its planted failures; scikit-learn's
peer runs its k epochs; the floor's flop count."""

import argparse
import functools
import importlib.util
import json
import os
import sys

import numba
import numpy as np
import pytest

from conftest import needs_sklearn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # the bench package sits beside scratchnn, not installed

from bench import floor, peers, products, run  # noqa: E402

WORKSHOP = [[1, 5, 1], [1, 10, 1], [1, 5, 5, 1]]

# Tiny stand-ins for the grids: what is tested is what the bench does with a grid, not its speed.
TINY = [("vs n", [1, 4, 4, 1], 200, np.float32), ("vs n", [1, 4, 4, 1], 400, np.float32),
        ("vs width", [1, 4, 4, 1], 300, np.float32), ("vs width", [1, 8, 8, 1], 300, np.float32)]
TINY_WORKSHOP = [("workshop", [1, 5, 1], 300, np.float32), ("workshop", [1, 5, 5, 1], 300, np.float64)]
# the peers' guard and timing cost JAX two seconds of compiling each per net: one net here, both dtypes
# and all the workshop nets in the guard's own tests below
TINY_PEERS = TINY_WORKSHOP[:1]
TINY_NINJA = [("ninja", [1, 4, 4, 1], 200, np.float32)]  # batch norm, dropout, AdamW: the scratch engines and torch


@pytest.fixture
def bench(monkeypatch, tmp_path):
    """``bench(configs, *args)``: ``run.main(["--out", tmp_path, "--reps", "1", *args])`` in this process on
    ``configs`` (in place of ``run.grid``'s), returning bench.json; the thread counts and environment
    variables the bench sets (numba, torch, JAX's) are restored after."""
    threads = numba.get_num_threads()
    torch = sys.modules.get("torch")
    torch_threads = torch.get_num_threads() if torch else None
    environ = dict(os.environ)

    def main(configs, *args):
        monkeypatch.setattr(run, "grid", lambda quick, workshop=False: configs)
        run.main(["--out", str(tmp_path), "--reps", "1", *args])
        return json.loads((tmp_path / "bench.json").read_text())

    yield main
    numba.set_num_threads(threads)
    if torch:
        torch.set_num_threads(torch_threads)
    os.environ.clear()
    os.environ.update(environ)


def test_quick_bench_runs_and_writes_its_files(bench, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    args = ["--quick"] + ([] if importlib.util.find_spec("torch") else ["--no-torch"])
    result = bench(TINY + TINY_NINJA, *args)
    stdout = capsys.readouterr().out
    assert "epoch" in stdout and "numba" in stdout
    assert {"machine", "threads", "rows"} <= set(result)
    assert result["quick"] is True and result["reps"] == 1
    engines = {r["engine"] for r in result["rows"]}
    assert {"numpy", "numba"} <= engines
    assert {(r["engine"], r["op"]) for r in result["rows"]} == {(e, op) for e in engines for op in run.OPS}
    assert all(r["min"] <= r["median"] <= r["max"] and len(r["samples"]) == 1 for r in result["rows"])
    for name in ("epoch_vs_n.png", "epoch_vs_width.png"):
        assert (tmp_path / name).stat().st_size > 1000
    _assert_floor(result, stdout)
    assert {r["engine"] for r in result["rows"] if r["group"] == "ninja"} == engines  # torch too, when installed


def _assert_floor(result, stdout):
    """bench.json has the floor (rates, one entry per net) and every epoch row its multiple; stdout its table."""
    configs = {(c["group"], str(c["units"]), c["n"], c["dtype"]) for c in result["floor"]["configs"]}
    epochs = [r for r in result["rows"] if r["op"] == "epoch"]
    assert {(r["group"], str(r["units"]), r["n"], r["dtype"]) for r in epochs} == configs
    for c in result["floor"]["configs"]:
        assert c["seconds"] == pytest.approx(c["flop_seconds"] + c["tanh_seconds"])
        assert c["flops"] == floor.epoch_flops(c["units"], c["n"]) and c["tanh_count"] > 0
    assert all(r["peak_flops"] > 0 and r["tanh_seconds"] > 0 for r in result["floor"]["rates"].values())
    assert all(r["floor_multiple"] > 0 for r in epochs)
    assert "multiple of the floor" in stdout


def test_the_grids():
    """The nets ``--workshop``, ``--quick`` and the full bench time (the tests above run tiny stand-ins)."""
    workshop = run.grid(quick=True, workshop=True)
    assert workshop == run.grid(quick=False, workshop=True)
    assert [(group, units, n, np.dtype(d).name) for group, units, n, d in workshop] == [
        ("workshop", u, 3000, d) for u in WORKSHOP for d in ("float32", "float64")] + [
        (run.NINJA, [1, 32, 32, 1], 3000, "float32")]
    quick, full = run.grid(quick=True), run.grid(quick=False)
    assert quick[:7] == full[:7] == workshop
    assert {c[0] for c in quick} == {"workshop", run.NINJA, "vs n", "vs width"}
    assert {c[0] for c in full} == {"workshop", run.NINJA, "vs n", "vs width", "blas"} and len(full) > len(quick)


def test_bench_with_peers_times_them_beside_the_engines(bench, capsys):
    """``--peers all``: the peers' epoch rows (and none of the per-op ones), the guard on every net, the floor."""
    pytest.importorskip("matplotlib")
    result = bench(TINY_PEERS + TINY_NINJA, "--workshop", "--quick", "--peers", "all", "--no-torch")
    captured = capsys.readouterr()
    _assert_floor(result, captured.out)
    assert {r["engine"] for r in result["rows"] if r["group"] == "ninja"} == {"numpy", "numba"}  # no peer trains it
    engines = {r["engine"] for r in result["rows"]}
    have = {name: importlib.util.find_spec(name) is not None for name in ("jax", "sklearn")}
    expected = ({"jax scan", "jax step"} if have["jax"] else set()) | ({"sklearn"} if have["sklearn"] else set())
    assert engines - {"numpy", "numba"} == expected
    assert result["peers"] == [name for name in ("jax", "sklearn") if have[name]]
    for r in result["rows"]:
        if r["engine"] in expected:
            assert r["op"] == "epoch", "a peer times the epoch only"
    for name in ("jax", "sklearn"):
        if not have[name]:
            assert f"skipped peer {name}" in captured.err and "pip install -e '.[peers]'" in captured.err
    if have["jax"]:
        assert len(result["guard"]) == len(TINY_PEERS) and all(
            max(g["max_rel_diff"].values()) <= g["rtol"] for g in result["guard"])
        assert all(r["compile_seconds"] > 0 for r in result["rows"] if r["engine"].startswith("jax"))
        assert "jax peers' guard" in captured.out
    if have["sklearn"]:
        assert "MLPRegressor is not the model" in captured.out


def test_bench_without_the_peers_libraries_skips_them_and_names_the_extra(bench, monkeypatch, capsys):
    """jax and scikit-learn made unimportable (None in sys.modules): the bench says so, naming the extra,
    and times the rest."""
    monkeypatch.setitem(sys.modules, "jax", None)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    result = bench(TINY_PEERS, "--workshop", "--quick", "--peers", "all", "--no-torch")
    err = capsys.readouterr().err
    for name, library in (("jax", "jax"), ("sklearn", "scikit-learn")):
        assert f"skipped peer {name}: {library} is not installed (pip install -e '.[peers]')" in err
    assert result["peers"] == [] and {r["engine"] for r in result["rows"]} == {"numpy", "numba"}


def test_bench_refuses_an_unknown_peer(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        run.main(["--peers", "jax,tensorflow", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert info.value.code != 0
    assert "--peers" in err and "'tensorflow'" in err
    assert "jax" in err and "sklearn" in err and "all" in err
    assert not (tmp_path / "out").exists(), "refused before writing anything"


def test_bench_refuses_bad_threads(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        run.main(["--threads", "0", "--out", str(tmp_path / "out")])
    assert info.value.code != 0 and "--threads" in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), "refused before writing anything"


def test_peer_names_parse_lists_and_all():
    parser = argparse.ArgumentParser()
    assert run.parse_peers(parser, "", peers.PEERS) == []
    assert run.parse_peers(parser, "all", peers.PEERS) == ["jax", "sklearn"]
    assert run.parse_peers(parser, " sklearn, jax,sklearn ", peers.PEERS) == ["sklearn", "jax"]


@pytest.mark.usefixtures("bench")  # for the thread counts it restores
def test_play_latency_runs_and_writes_its_table(tmp_path, capsys, monkeypatch):
    """``--play``: the playground's retrain and redraw of the three workshop nets (never a speed)."""
    monkeypatch.setenv("BENCH_PLAY_BROWSER", "0")  # the browser's measurement is test_play's
    run.main(["--play", "--reps", "1", "--out", str(tmp_path)])
    stdout = capsys.readouterr().out
    assert "play latency" in stdout and "retrain ms" in stdout
    rows = json.loads((tmp_path / "play.json").read_text())["play"]
    assert [r["units"] for r in rows] == [[1, 5, 1], [1, 10, 1], [1, 5, 5, 1]]
    assert all(r["epochs"] == 1000 and len(r["retrain"]) == len(r["redraw"]) == 1 for r in rows)
    assert not (tmp_path / "bench.json").exists(), "--play times the playground only"


def test_products_bench_times_the_three_products_side_by_side(capsys):
    """``python -m bench.products``: tiles, numba's np.dot and (with torch) torch's @, both dtypes (never a speed)."""
    products.main(["--m", "100", "--width", "5", "--reps", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("5 x 6 by 6 x 100")
    rows = [line for line in lines if line.split()[0] in ("Z", "θ[:,1:]^T", "D")]
    assert len(rows) == 6 and sum("float64" in r for r in rows) == 3
    torch_cells = [r.rstrip().endswith("-") for r in rows]
    assert torch_cells == [importlib.util.find_spec("torch") is None] * 6


# ----------------------------------------------------------------- the JAX peers' guard
@pytest.fixture(scope="module")
def jax_peers():
    pytest.importorskip("jax")
    assert peers.setup(["jax"], threads=1) == ["jax"]
    return peers


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("units", WORKSHOP, ids=lambda u: "-".join(map(str, u)))
def test_jax_peers_train_scratchnns_model(jax_peers, units, dtype):
    """From scratchnn's θ, both JAX peers' 10 losses (and the one after) equal the NumPy engine's within 8 ε.

    8 ε: the guard's tolerance (peers.guard_rtol; measured at most 2 ε over the bench's grid).
    """
    X, Y = run.data(units, 3000, dtype)
    worst = jax_peers.guard(units, X, Y, dtype)
    assert set(worst) == {"jax scan", "jax step"}
    assert max(worst.values()) <= 8 * np.finfo(dtype).eps


def _planted(peers):
    """JAX models with one bug each, as a student might write them: the guard must reject every one."""

    class AdamClimbs(peers.JaxModel):  # a sign error in Adam's update: θ moves up the gradient
        def adam(self, theta, m, v, t, D):
            return super().adam(theta, m, v, t, [-g for g in D])

    class NoBias(peers.JaxModel):  # the bias column θ^j[:, 0] never reaches z^{j+1}
        def forward(self, theta, X):
            return super().forward([t.at[:, 0].set(0) for t in theta], X)

    return [AdamClimbs, NoBias]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_guard_rejects_a_wrong_jax_model(jax_peers, dtype):
    units = [1, 5, 5, 1]
    X, Y = run.data(units, 3000, dtype)
    for model in _planted(jax_peers):
        with pytest.raises(jax_peers.GuardError, match="jax scan is not scratchnn's model"):
            jax_peers.guard(units, X, Y, dtype, model=model)


def test_bench_refuses_to_time_jax_that_fails_the_guard(jax_peers, bench, monkeypatch, tmp_path, capsys):
    """With a planted bug the bench stops before timing anything, names the peer, exits non-zero, writes nothing."""
    adam_climbs = _planted(jax_peers)[0]
    monkeypatch.setattr(jax_peers, "guard", functools.partial(jax_peers.guard, model=adam_climbs))
    with pytest.raises(SystemExit) as info:
        bench(TINY_WORKSHOP, "--workshop", "--quick", "--peers", "jax", "--no-torch")
    message = str(info.value.code)
    assert "failed their correctness guard" in message and "jax scan is not scratchnn's model" in message
    assert "timed workshop" not in capsys.readouterr().err and not (tmp_path / "bench.json").exists()


# ----------------------------------------------------------------------- scikit-learn
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("units", WORKSHOP, ids=lambda u: "-".join(map(str, u)))
def test_sklearn_peer_runs_its_k_epochs_downhill(units, dtype):
    needs_sklearn()
    X, Y = run.data(units, 3000, dtype)
    reg = peers.SklearnPeer(units, X, Y, dtype).fit(30)
    curve = np.asarray(reg.loss_curve_)
    assert reg.n_iter_ == len(curve) == 30
    assert np.all(np.diff(curve) < 0), "full-batch Adam at lr 1e-4: every epoch's loss below the one before"
    assert reg.coefs_[0].dtype == dtype


def test_sklearn_peer_never_stops_early():
    """On a plateau (improvement per epoch below sklearn's default tol = 1e-4) its defaults stop after 12
    iterations; the peer (tol = 0, n_iter_no_change = inf) runs all k."""
    needs_sklearn()
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    X = np.random.default_rng(0).random((300, 1)).astype(np.float32)
    Y = np.full((300, 1), 0.5, np.float32)
    peer = peers.SklearnPeer([1, 5, 1], X, Y, np.float32)
    defaults = peer.regressor(60).set_params(tol=1e-4, n_iter_no_change=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert defaults.fit(X, Y[:, 0]).n_iter_ < 60  # the plateau does stop sklearn's defaults
    assert peer.fit(60).n_iter_ == 60


# ---------------------------------------------------------------------------- the floor
def test_floor_counts_the_epochs_flops_by_hand():
    """1-5-5-1 on n = 3000, counted term by term (bench/floor.py's formula, written out):

    z^{j+1} = a^j (θ^j)ᵀ: 2·3000·(5·2 + 5·6 + 1·6) = 276000, and as many for D^j = (δ^{j+1})ᵀ a^j;
    𝓛 and δ^L: 8·3000 = 24000; δ^1: 2·3000·5·5 + 3·3000·5 = 195000; δ^2: 2·3000·1·5 + 3·3000·5 = 75000;
    Adam: 13 per parameter, 13·46 = 598.
    """
    assert floor.epoch_flops([1, 5, 5, 1], 3000) == 2 * 276000 + 24000 + 195000 + 75000 + 598
    one_hidden = 2 * 2 * 3000 * (5 * 2 + 1 * 6) + 24000 + (2 * 3000 * 1 * 5 + 3 * 3000 * 5) + 13 * 16
    assert floor.epoch_flops([1, 5, 1], 3000) == one_hidden
    assert floor.tanh_count([1, 5, 5, 1], 3000) == 3000 * 11  # every layer's tanh, the output's too


def test_floor_adds_its_two_parts():
    rates = {"peak_flops": 1e11, "tanh_seconds": 1e-9}
    f = floor.floor([1, 10, 1], 3000, rates)
    assert f["flop_seconds"] == f["flops"] / 1e11 and f["tanh_seconds"] == 3000 * 11 * 1e-9
    assert f["seconds"] == f["flop_seconds"] + f["tanh_seconds"]
