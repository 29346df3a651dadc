"""The compare table: exact, close, max abs and max rel diff, the worst entry, and what is never close."""

import numpy as np
import pytest

from scratchnn.teaching.compare import RTOL, Comparison, compare_arrays


def test_equal_arrays_are_exact_and_close():
    A = np.arange(6.0).reshape(2, 3)
    r = compare_arrays("D", 0, A.copy(), A)
    assert (r.exact, r.close, r.max_abs, r.max_rel) == (True, True, 0.0, 0.0)


def test_diffs_and_worst_entry_are_computed_from_the_arrays():
    ref = np.array([[1.0, -4.0], [2.0, 0.5]])
    mine = ref.copy()
    mine[1, 0] += 0.25  # the one wrong entry
    r = compare_arrays("delta", 2, mine, ref)
    assert not r.exact and not r.close
    assert r.max_abs == 0.25
    assert r.max_rel == 0.25 / 4.0  # scale-relative: max|diff| / max|ref|
    assert r.worst == (1, 0) and (r.mine_at, r.ref_at) == (2.25, 2.0)
    assert r.label == "delta^2"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_close_is_the_relative_tolerance_of_the_dtype(dtype):
    ref = np.ones((3, 3), dtype=dtype)
    tol = RTOL[np.dtype(dtype)]
    just_in, just_out = ref.copy(), ref.copy()
    just_in[0, 0] += dtype(tol / 2)
    just_out[0, 0] += dtype(tol * 4)
    assert compare_arrays("a", 1, just_in, ref).close
    assert not compare_arrays("a", 1, just_out, ref).close


@pytest.mark.parametrize(
    "mine, note",
    [
        (np.zeros((3, 2)), "got shape (3, 2), expected (2, 3)"),
        ([[0.0] * 3] * 2, "got list"),
        (np.zeros((2, 3), dtype=np.int64), "dtype int64"),
        (np.full((2, 3), np.nan), "NaN"),
        (None, "got NoneType"),
    ],
)
def test_wrong_type_shape_or_values_are_never_close(mine, note):
    r = compare_arrays("D", 1, mine, np.zeros((2, 3)))
    assert not r.close and not r.exact and note in r.note


def test_zero_reference_needs_an_exact_zero():
    assert compare_arrays("D", 0, np.zeros(3), np.zeros(3)).close
    assert compare_arrays("D", 0, np.full(3, 1e-30), np.zeros(3)).max_rel == np.inf


def test_table_lists_every_row_and_the_verdict():
    ref = np.ones((2, 2))
    c = Comparison([compare_arrays("D", 0, ref, ref), compare_arrays("D", 1, ref * 2, ref)], mine="you", ref="torch")
    text = str(c)
    assert not c.ok and [r.label for r in c.failures()] == ["D^1"]
    head, rule, row0, row1 = text.splitlines()[:4]
    assert head.split() == ["quantity", "layer", "shape", "exact", "close", "max", "abs", "diff", "max", "rel", "diff"]
    assert set(rule) <= {"-", " "}
    assert row0.split()[:5] == ["D", "0", "(2,", "2)", "yes"] and "NO" in row1
    assert "you against torch" in text


def test_a_warning_is_printed_above_the_table():
    ref = np.ones((2, 2))
    rows = [compare_arrays("D", 0, ref * 2, ref)]
    text = str(Comparison(rows, mine="you", ref="torch", warning="Warning: different θ^0."))
    assert text.splitlines()[0] == "Warning: different θ^0."
    assert text.splitlines()[1].split()[0] == "quantity"
    assert text.endswith(str(Comparison(rows, mine="you", ref="torch")))
