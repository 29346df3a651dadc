"""scratchnn.apps.workshop: the notebook's models, data and test points, and its reproduction beside torch."""

import sys
import os

import numpy as np
import pytest

import scratchnn as sn
from scratchnn.apps import workshop as ws


def test_models_are_drawn_one_after_the_other_from_one_generator():
    nets = ws.build_models()
    assert [n.units for n in nets] == [list(u) for u in ws.WORKSHOP_UNITS]
    alone = sn.MLP([1, 10, 1], generator=10)
    assert not np.array_equal(nets[1].theta[0], alone.theta[0])  # model 1 continues model 0's stream
    gen = sn.TorchGenerator(10)
    sn.MLP([1, 5, 1], generator=gen)
    assert all(np.array_equal(a, b) for a, b in zip(nets[1].theta, sn.MLP([1, 10, 1], generator=gen).theta))


def test_models_equal_the_notebooks_torch_models():
    torch = pytest.importorskip("torch")
    torchref = pytest.importorskip("torchref")
    nn = torch.nn
    torch.manual_seed(10)
    m0 = nn.Sequential(nn.Linear(1, 5), nn.Tanh(), nn.Linear(5, 1), nn.Tanh())
    m1 = nn.Sequential(nn.Linear(1, 10), nn.Tanh(), nn.Linear(10, 1), nn.Tanh())
    m2 = nn.Sequential(nn.Linear(1, 5), nn.Tanh(), nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, 1), nn.Tanh())
    for net, model in zip(ws.build_models(), (m0, m1, m2)):
        for a, b in zip(net.theta, torchref.bridge.theta_of(model)):
            assert np.array_equal(a, b)  # bit for bit: same stream, same rounding


def test_run_workshop_without_torch(tmp_path):
    messages = []
    results, table, paths = ws.run_workshop(out=tmp_path, epochs=30, use_torch=False, log=messages.append)
    assert [r.label for r in results] == ["1-5-1", "1-10-1", "1-5-5-1"]
    assert "loss torch" not in table and "1-5-5-1" in table
    assert all(r.run.epochs == 30 and r.torch_history is None for r in results)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["function.png", "losses.png", "predictions.png"]
    assert sorted(os.path.basename(p) for p in paths) == ["function.png", "losses.png", "predictions.png"]


def test_run_workshop_says_plainly_when_torch_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchref", None)  # None in sys.modules: `import torchref` fails, as without torch
    messages = []
    results, _, paths = ws.run_workshop(epochs=2, log=messages.append)
    assert paths == []
    assert results[0].torch_history is None
    assert any("torch is not installed" in m for m in messages)


def test_run_workshop_with_torch(tmp_path):
    pytest.importorskip("torch")
    results, table, _ = ws.run_workshop(out=tmp_path, epochs=40)
    assert "loss torch" in table and "NO" not in table
    for r in results:
        assert r.same_init
        # lockstep: each epoch starts from torch's parameters, so the gap is one step's rounding
        # (float32, a few units of 1e-7 relative; see torchref.agreement)
        assert r.lockstep.rel_gap.max() < 1e-5
        assert r.torch_history.epochs == 40
    assert (tmp_path / "gap.png").exists()
