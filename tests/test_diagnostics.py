"""scratchnn.diagnostics: ‖δ^j‖ per layer, against the δ^j = ∂𝓛/∂z^j of torch's autograd."""

import numpy as np
import pytest

import scratchnn as sn
from scratchnn.diagnostics import delta_norms

from conftest import random_data


def test_delta_norms_has_one_number_per_layer_and_leaves_the_net_alone():
    net = sn.MLP([2, 4, 3, 1], generator=3)
    X, Y = random_data(net.units, 20, np.float32, seed=1)
    theta = [t.copy() for t in net.theta]
    norms = delta_norms(net, X, Y)
    assert norms.shape == (net.L,) and np.all(norms > 0)
    assert all(np.array_equal(a, b) for a, b in zip(theta, net.theta))


def test_delta_norms_equal_the_norms_of_torch_autograd_deltas():
    pytest.importorskip("torch")
    import torchref
    net = sn.MLP([1, 5, 5, 1], dtype=np.float64, generator=10)
    X, Y = random_data(net.units, 50, np.float64, seed=2)
    reference = torchref.explain(net, X, Y)
    expected = [np.linalg.norm(reference.delta[j]) for j in range(1, net.L + 1)]
    # float64, a different order of the same sums: agreement to ~1e-15 relative; 1e-12 leaves room
    np.testing.assert_allclose(delta_norms(net, X, Y), expected, rtol=1e-12)
