"""scratchnn.table: the one text-table formatter, and the nets' labels."""

from scratchnn.table import format_table, units_label


def test_format_table_aligns_columns():
    lines = format_table([["a", "bb"], ["ccc", "d"]]).splitlines()
    assert lines == ["a    bb", "---  --", "ccc   d"]


def test_units_label_joins_the_widths():
    assert units_label([1, 5, 5, 1]) == "1-5-5-1"
    assert units_label((64, 25, 10)) == "64-25-10"
