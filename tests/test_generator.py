"""TorchGenerator and the nn.Linear initialisation: bit for bit against torch."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnn as sn
from scratchnn.init import kaiming_uniform_bound


def test_raw_stream_is_numpy_legacy_mt19937():
    # NumPy's legacy random_sample builds each double from two raw draws as
    # ((r1 >> 5) * 2^26 + (r2 >> 6)) / 2^53: an independent check of the raw stream.
    for seed in (0, 10, 4294967295):
        r = sn.TorchGenerator(seed).random32(2000).astype(np.int64)
        ours = ((r[0::2] >> 5) * 67108864 + (r[1::2] >> 6)) / 9007199254740992.0
        assert np.array_equal(ours, np.random.RandomState(seed).random_sample(1000))


def test_notebook_printed_parameters():
    # The workshop notebook prints model 0's parameters after torch.manual_seed(10),
    # to 4 decimals; those printed digits are the reference.
    net = sn.MLP([1, 5, 1], generator=sn.TorchGenerator(10))
    printed_weight0 = [-0.0838, -0.0343, -0.3750, 0.2300, -0.5721]
    printed_bias0 = [-0.1763, 0.3876, 0.9386, 0.2356, -0.3393]
    printed_weight1 = [0.0429, -0.0501, 0.1825, 0.0512, 0.1752]
    printed_bias1 = [0.4337]
    np.testing.assert_array_equal(np.round(net.theta[0][:, 1], 4), np.float32(printed_weight0))
    np.testing.assert_array_equal(np.round(net.theta[0][:, 0], 4), np.float32(printed_bias0))
    np.testing.assert_array_equal(np.round(net.theta[1][0, 1:], 4), np.float32(printed_weight1))
    np.testing.assert_array_equal(np.round(net.theta[1][:, 0], 4), np.float32(printed_bias1))


def test_kaiming_bound_is_one_over_sqrt_fan_in():
    # a = sqrt(5) makes the kaiming bound 1/sqrt(fan_in), up to the rounding of the formula
    for fan_in in (1, 5, 10, 256):
        assert kaiming_uniform_bound(fan_in) == pytest.approx(1 / math.sqrt(fan_in), rel=1e-15)


def test_int_generator_is_a_seed():
    a = sn.MLP([2, 3, 1], generator=7)
    b = sn.MLP([2, 3, 1], generator=sn.TorchGenerator(7))
    for ta, tb in zip(a.theta, b.theta):
        assert np.array_equal(ta, tb)


def test_consecutive_nets_continue_the_stream():
    gen = sn.TorchGenerator(3)
    first = sn.MLP([1, 4, 1], generator=gen)
    second = sn.MLP([1, 4, 1], generator=gen)
    assert not np.array_equal(first.theta[0], second.theta[0])
    again = sn.MLP([1, 4, 1], generator=3)
    assert np.array_equal(first.theta[0], again.theta[0])




def _torch_sequential(units, dtype):
    import torch

    layers = []
    for j in range(len(units) - 1):
        layers += [torch.nn.Linear(units[j], units[j + 1], dtype=dtype), torch.nn.Tanh()]
    return torch.nn.Sequential(*layers)


def _assert_bits_equal(net, model):
    import torchref

    for j, m in enumerate(torchref.bridge.linears(model)):
        assert np.array_equal(net.theta[j][:, 1:].view(np.uint8), m.weight.detach().numpy().view(np.uint8)), f"weight {j}"
        assert np.array_equal(net.theta[j][:, 0].copy().view(np.uint8), m.bias.detach().numpy().view(np.uint8)), f"bias {j}"


@settings(max_examples=40, deadline=None)
@given(
    seed=st.one_of(st.integers(0, 2**32 - 1), st.integers(2**32, 2**64 - 1), st.integers(-(2**63), -1)),
    units_list=st.lists(st.lists(st.integers(1, 40), min_size=2, max_size=4), min_size=1, max_size=3),
    double=st.booleans(),
)
def test_init_bit_exact_against_torch(seed, units_list, double):
    """Several nets in a row from one seed equal torch's nn.Sequential built after manual_seed, bit for bit."""
    torch = pytest.importorskip("torch")
    np_dtype, t_dtype = (np.float64, torch.float64) if double else (np.float32, torch.float32)
    gen = sn.TorchGenerator(seed)
    torch.manual_seed(seed)
    for units in units_list:
        net = sn.MLP(units, dtype=np_dtype, generator=gen)
        model = _torch_sequential(units, t_dtype)
        _assert_bits_equal(net, model)


@pytest.mark.parametrize("double", [False, True])
def test_init_bit_exact_large_layers(double):
    torch = pytest.importorskip("torch")
    np_dtype, t_dtype = (np.float64, torch.float64) if double else (np.float32, torch.float32)
    units = [13, 512, 300, 11]
    torch.manual_seed(1234)
    _assert_bits_equal(sn.MLP(units, dtype=np_dtype, generator=1234), _torch_sequential(units, t_dtype))


@pytest.mark.parametrize("double", [False, True])
def test_uniform_matches_torch_on_any_symmetric_interval(double):
    torch = pytest.importorskip("torch")
    np_dtype, t_dtype = (np.float64, torch.float64) if double else (np.float32, torch.float32)
    gen = sn.TorchGenerator(99)
    torch.manual_seed(99)
    for bound in (1.0, 1e-3, 0.7071067811865476, 123.456):
        ours = gen.uniform((257,), -bound, bound, np_dtype)
        theirs = torch.empty(257, dtype=t_dtype).uniform_(-bound, bound).numpy()
        assert np.array_equal(ours.view(np.uint8), theirs.view(np.uint8))


def test_float64_uniform_needs_the_single_rounding():
    # the two-rounding form x*(to-from)+from differs from torch's fma in the last bit
    # for some draws: a check that our single-rounding formula is not a no-op.
    gen = sn.TorchGenerator(5)
    r = gen.random32(2 * 4000)
    x = ((r[0::2] << np.uint64(32)) | r[1::2]) & np.uint64(2**53 - 1)
    x = x.astype(np.float64) * 2.0**-53
    b = 1 / math.sqrt(3)
    assert np.any(b * (2 * x - 1) != x * (2 * b) + (-b))


def test_generator_rejects_bad_seeds():
    with pytest.raises(TypeError, match="seed"):
        sn.TorchGenerator(1.5)
    with pytest.raises(ValueError, match="seed"):
        sn.TorchGenerator(2**64)
    with pytest.raises(TypeError, match="dtype"):
        sn.TorchGenerator(0).uniform((2,), -1.0, 1.0, np.int32)
