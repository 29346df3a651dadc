"""Smoke test of the timing harness: ``python -m bench --quick`` runs and writes its files (never a speed)."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quick_bench_runs_and_writes_its_files(tmp_path):
    pytest.importorskip("matplotlib")
    args = [sys.executable, "-m", "bench", "--quick", "--reps", "1", "--out", str(tmp_path)]
    try:
        import torch  # noqa: F401
    except ImportError:
        args.append("--no-torch")
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "epoch" in done.stdout and "numba" in done.stdout
    result = json.loads((tmp_path / "bench.json").read_text())
    assert {"machine", "threads", "rows"} <= set(result)
    engines = {r["engine"] for r in result["rows"]}
    assert {"numpy", "numba"} <= engines
    assert all(r["min"] <= r["median"] <= r["max"] for r in result["rows"])
    for name in ("epoch_vs_n.png", "epoch_vs_width.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_bench_refuses_bad_threads(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench", "--threads", "0", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "--threads" in done.stderr


def test_play_latency_runs_and_writes_its_table(tmp_path):
    """``python -m bench --play``: the playground's retrain and redraw of the three workshop nets (never a speed)."""
    done = subprocess.run([sys.executable, "-m", "bench", "--play", "--reps", "1", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "play latency" in done.stdout and "retrain ms" in done.stdout
    rows = json.loads((tmp_path / "play.json").read_text())["play"]
    assert [r["units"] for r in rows] == [[1, 5, 1], [1, 10, 1], [1, 5, 5, 1]]
    assert all(r["epochs"] == 1000 and len(r["retrain"]) == len(r["redraw"]) == 1 for r in rows)
