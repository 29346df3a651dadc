"""One text-table formatter for every table scratchnn prints.

``describe``, the workshop summary, the sweep summary, the compare tables of
``explain`` and ``scratchnn check`` all go through :func:`format_table`.
"""


def format_table(rows, left=(0,)):
    """Rows of strings as an aligned text table, a rule under the first row (the header).

    Columns whose index is in ``left`` are left-aligned, the others right-aligned
    (numbers line up on their last digit).
    """
    rows = [[str(cell) for cell in r] for r in rows]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) if k in left else cell.rjust(w) for k, (cell, w) in enumerate(zip(r, widths))).rstrip()
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def units_label(units):
    """``[1, 5, 5, 1]`` -> ``"1-5-5-1"``: a net's widths u^0-...-u^L, as tables and figures name it."""
    return "-".join(str(u) for u in units)
