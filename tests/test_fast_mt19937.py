"""The numba Mersenne Twister (scratchnn.fast.mt19937) against TorchGenerator and torch: raw words, dropout
keep-masks and their scaled form, all compared exactly (bit for bit), and the state the draws leave."""

import numpy as np
import pytest

from scratchnn import TorchGenerator
from scratchnn import norms
from scratchnn.fast import mt19937 as mt

SEEDS = (0, 1, 7, 2**32 + 5, 123456789)
# (words drawn before, mask shape): from a fresh state, mid-block, at odd positions (every pair
# then straddles two blocks), on a block's last word, sizes below, at and past 312 pairs per block
CASES = [
    (0, (1,)), (0, (2, 3)), (0, (311,)), (0, (312,)), (0, (313,)), (0, (3000, 32)),
    (1, (1,)), (1, (7, 5)), (5, (1000,)), (3, (624,)), (623, (2,)), (623, (313,)),
    (624, (9,)), (625, (17, 3)), (0, (0, 3)),
]


def state_arrays(gen):
    """The kernels' view of ``gen``'s state: key uint32 (624,), pos int64 (1,)."""
    key, pos = gen.get_state()
    return key, np.array([pos], dtype=np.int64)


def advanced(seed, before):
    gen = TorchGenerator(seed)
    gen.random32(before)
    return gen


def assert_same_state(key, pos, gen):
    ref_key, ref_pos = gen.get_state()
    assert pos[0] == ref_pos
    assert np.array_equal(key, ref_key)


@pytest.mark.parametrize("seed", SEEDS[:3])
@pytest.mark.parametrize("before, count", [(0, 1), (0, 624), (1, 1300), (623, 3), (624, 625), (10, 0)])
def test_random_words_are_torchgenerators_random32(seed, before, count):
    ref = advanced(seed, before)
    key, pos = state_arrays(ref)
    out = np.empty(count, dtype=np.uint32)
    mt.random_words(key, pos, out)
    assert np.array_equal(out, ref.random32(count))
    assert_same_state(key, pos, ref)


@pytest.mark.parametrize("before, shape", CASES)
def test_draw_keep_is_rand_below_threshold_bit_for_bit(before, shape):
    """draw_keep's out == (TorchGenerator.rand(shape) < 1 − p).ravel(), and the state after is the reference's."""
    for seed in SEEDS:
        for p in (0.1, 0.25, 0.5):
            ref = advanced(seed, before)
            key, pos = state_arrays(ref)
            out = np.empty(int(np.prod(shape)), dtype=np.bool_)
            mt.draw_keep(key, pos, 1 - p, out)
            assert np.array_equal(out, (ref.rand(shape) < 1 - p).ravel()), (seed, p)
            assert_same_state(key, pos, ref)


def test_draws_continue_the_stream():
    """Masks drawn one after another through (key, pos), then the generator put back: the same as one stream."""
    ref = TorchGenerator(42)
    key, pos = state_arrays(ref)
    for before, shape in CASES:
        ref.random32(before)  # other draws between the masks, through numpy
        gen = TorchGenerator(0)
        gen.set_state(key, pos[0])
        gen.random32(before)
        key, pos = state_arrays(gen)
        out = np.empty(int(np.prod(shape)), dtype=np.bool_)
        mt.draw_keep(key, pos, 0.75, out)
        assert np.array_equal(out, (ref.rand(shape) < 0.75).ravel()), (before, shape)
        assert_same_state(key, pos, ref)


@pytest.mark.parametrize("seed, shape, p", [(0, (3000, 32), 0.1), (5, (7, 3), 0.25), (9, (625,), 0.5)])
def test_keep_mask_is_norms_dropout_mask(seed, shape, p):
    """keep_mask(gen, shape, p) == norms.dropout_mask(gen, shape, p), twice in a row (the generator advanced alike)."""
    gen, ref = TorchGenerator(seed), TorchGenerator(seed)
    for _ in range(2):
        mask = mt.keep_mask(gen, shape, p)
        assert mask.dtype == np.bool_ and mask.shape == shape
        assert np.array_equal(mask, norms.dropout_mask(ref, shape, p))
    assert_same_state(*state_arrays(gen), ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.1, 0.25, 0.5])
def test_keep_scale_is_norms_dropout_scale(dtype, p):
    """keep_scale == dropout_scale(dropout_mask(...)): 0 or 1/(1 − p) rounded in the dtype, exactly."""
    gen, ref = TorchGenerator(3), TorchGenerator(3)
    gen.random32(1)  # an odd start: every pair straddles
    ref.random32(1)
    for shape in [(3000, 32), (5, 7)]:
        scaled = mt.keep_scale(gen, shape, p, dtype)
        expected = norms.dropout_scale(norms.dropout_mask(ref, shape, p), p, dtype)
        assert scaled.dtype == dtype and scaled.shape == shape
        assert np.array_equal(scaled, expected)
    assert_same_state(*state_arrays(gen), ref)


def test_draw_keep_scaled_writes_scale_where_draw_keep_keeps():
    """The kernel directly: out = scale where kept, 0 elsewhere, in the dtype of out, same draws as draw_keep."""
    for dtype in (np.float32, np.float64):
        key, pos = state_arrays(TorchGenerator(11))
        key2, pos2 = key.copy(), pos.copy()
        mask = np.empty(1001, dtype=np.bool_)
        scaled = np.empty(1001, dtype=dtype)
        mt.draw_keep(key, pos, 0.9, mask)
        mt.draw_keep_scaled(key2, pos2, 0.9, 1.25, scaled)
        assert np.array_equal(scaled, np.where(mask, dtype(1.25), dtype(0)))
        assert np.array_equal(key, key2) and pos[0] == pos2[0]


def test_p_zero_keeps_every_unit_and_still_draws():
    """p = 0: x < 1 always holds (torch draws the mask anyway); the stream moves by two words an element."""
    gen, ref = TorchGenerator(8), TorchGenerator(8)
    mask = mt.keep_mask(gen, (300, 7), 0.0)
    assert mask.all()
    ref.random32(2 * 300 * 7)
    assert_same_state(*state_arrays(gen), ref)
    assert np.array_equal(mt.keep_scale(gen, (4, 4), 0.0, np.float32), np.ones((4, 4), np.float32))


def test_p_one_keeps_nothing():
    assert not mt.keep_mask(TorchGenerator(8), (50, 3), 1.0).any()


THRESHOLDS = [0.9, 0.5, 0.75, 1 - 1e-9, 1 - 0.1, 1 - 0.25, 0.3, 1.0, 0.0, 2.0**-60, np.nextafter(1.0, 0.0),
              np.nextafter(0.5, 1.0), np.nextafter(0.5, 0.0), -0.5, 1.5, np.inf]


def test_keep_bound_is_the_float_comparison():
    """r53 < K(t) ⇔ r53 · 2^-53 < t, at the edges (K − 2 … K + 1, ⌊t·2^53⌋, 0, 2^53 − 1) and at random r53s."""
    rng = np.random.default_rng(0)
    for t in THRESHOLDS:
        K = int(mt.keep_bound(t))
        edge = np.array([K - 2, K - 1, K, K + 1, int(np.floor(t * 2.0**53)) if np.isfinite(t) else 0, 0, 2**53 - 1])
        r53 = np.concatenate([edge[(edge >= 0) & (edge < 2**53)], rng.integers(0, 2**53, 10_000)]).astype(np.uint64)
        x = r53.astype(np.float64) * 2.0**-53  # exact: r53 < 2^53
        assert np.array_equal(r53 < np.uint64(K), x < t), t
    assert mt.keep_bound(np.nan) == 0


def test_the_checks_catch_planted_mistakes():
    """The reference formula from raw words gives the mask; the planted mistakes do not: swapped r1/r2 (low word
    first), float32's 24-bit formula, ⌊t·2^53⌋ for the bound (at an r53 on it), and forgetting the state."""
    gen = TorchGenerator(4)
    mask = mt.keep_mask(gen, (3000, 32), 0.1)
    r = TorchGenerator(4).random32(2 * 3000 * 32)
    r1, r2 = r[0::2], r[1::2]

    def below(r64):
        return ((r64 & np.uint64(2**53 - 1)).astype(np.float64) * 2.0**-53 < 0.9).reshape(3000, 32)

    assert np.array_equal(below((r1 << np.uint64(32)) | r2), mask)  # the reference, from the same words
    assert not np.array_equal(below((r2 << np.uint64(32)) | r1), mask)  # low word first
    x24 = (r[:3000 * 32] & np.uint64(2**24 - 1)).astype(np.float64) * 2.0**-24  # one word an element
    assert not np.array_equal((x24 < 0.9).reshape(3000, 32), mask)
    # the bound: t = 0.3, c = t·2^53 not an integer, r53 = ⌊c⌋ < c kept, which a bound of ⌊c⌋ would drop;
    # t = 0.9, c an integer (every t in [0.5, 1) is), r53 = c dropped, which a bound of ⌊c⌋ + 1 would keep
    on_floor = np.uint64(np.floor(0.3 * 2.0**53))
    assert on_floor * 2.0**-53 < 0.3 and on_floor < mt.keep_bound(0.3) and on_floor + np.uint64(1) == mt.keep_bound(0.3)
    c = np.uint64(0.9 * 2.0**53)
    assert not c * 2.0**-53 < 0.9 and not c < mt.keep_bound(0.9) and c < c + np.uint64(1)
    assert not np.array_equal(mt.keep_mask(TorchGenerator(4), (3000, 32), 0.1), mt.keep_mask(gen, (3000, 32), 0.1))


@pytest.mark.parametrize("call, error", [
    (lambda: mt.keep_mask(TorchGenerator(0), (2, 2), 1.5), ValueError),
    (lambda: mt.keep_mask(TorchGenerator(0), (2, 2), -0.1), ValueError),
    (lambda: mt.keep_scale(TorchGenerator(0), (2, 2), 1.0, np.float32), ValueError),
    (lambda: mt.keep_scale(TorchGenerator(0), (2, 2), 0.1, np.int32), TypeError),
])
def test_bad_arguments_are_refused(call, error):
    with pytest.raises(error, match="p: |dtype: "):
        call()


def test_masks_are_torchs():
    """Against torch itself: torch.rand(shape, float64) < 1 − p after manual_seed, and nn.Dropout's zeros."""
    torch = pytest.importorskip("torch")
    for seed, shape, p in [(0, (3000, 32), 0.1), (17, (33, 5), 0.25)]:
        gen = TorchGenerator(seed)
        torch.manual_seed(seed)
        expected = (torch.rand(shape, dtype=torch.float64) < 1 - p).numpy()
        assert np.array_equal(mt.keep_mask(gen, shape, p), expected)
        kept = torch.nn.functional.dropout(torch.ones(shape, dtype=torch.float64), p, training=True) != 0
        assert np.array_equal(mt.keep_mask(gen, shape, p), kept.numpy())  # the next draw of both streams
