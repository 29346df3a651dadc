r"""One quantity computed twice, compared entry by entry: the backprop-ninja table in our notation.

For a quantity (``a``, ``z``, ``delta``, ``D``, the loss, an optimizer's state)
of layer ``j`` computed as ``mine`` and by a reference ``ref`` (torch, or
scratchnn's engine), each row of the table says

    exact      every entry equal, bit for bit
    max abs    max_i |mine_i - ref_i|
    max rel    max_i |mine_i - ref_i| / max_i |ref_i|     (scale-relative, as torchref.agreement)
    close      max rel <= rtol

and, for the checker's diagnosis, where the worst entry is. A ``mine`` that is
not an array of ``ref``'s shape, or holds NaN or inf, is never close; the row
says why in its note.
"""

import numpy as np

from ..table import format_table

RTOL = {
    np.dtype(np.float64): 1e-10,  # two correct float64 computations agree to ~1e-15 (the agreement suite)
    # float32 gradients: dot products that cancel can lose digits; the agreement suite's searched worst case
    # is 1.2e-5, so 1e-4 leaves room for a different summation order and no more
    np.dtype(np.float32): 1e-4,
}


class Row:
    """One compared quantity: ``name``, ``layer``, ``shape``, ``exact``, ``close``, ``max_abs``, ``max_rel``,
    ``worst`` (index of the worst entry, or None), ``mine_at`` and ``ref_at`` (the values there) and ``note``."""

    def __init__(self, name, layer, shape, exact, close, max_abs, max_rel, worst=None, mine_at=None, ref_at=None,
                 note=""):
        self.name = name
        self.layer = layer
        self.shape = shape
        self.exact = exact
        self.close = close
        self.max_abs = max_abs
        self.max_rel = max_rel
        self.worst = worst
        self.mine_at = mine_at
        self.ref_at = ref_at
        self.note = note

    @property
    def label(self):
        """``name^layer`` as printed, e.g. ``delta^2``; the name alone when there is no layer."""
        return self.name if self.layer is None else f"{self.name}^{self.layer}"

    def __repr__(self):
        return f"Row({self.label}, close={self.close}, max_rel={self.max_rel:.3g})"


def _shape_text(shape):
    """``(4, 5)``, and ``(5,)`` for one axis, as Python writes a shape."""
    return "(" + ", ".join(str(k) for k in shape) + ("," if len(shape) == 1 else "") + ")"


def compare_arrays(name, layer, mine, ref, rtol=None):
    """Compare ``mine`` with the reference ``ref`` (an array, or a number for the loss) as one :class:`Row`.

    ``rtol`` defaults by ``ref``'s dtype: 1e-10 for float64, 1e-4 for float32 (see :data:`RTOL`).
    """
    ref = np.asarray(ref)
    if rtol is None:
        rtol = RTOL.get(ref.dtype, RTOL[np.dtype(np.float64)])
    shape = _shape_text(ref.shape)

    def wrong(note):
        return Row(name, layer, shape, False, False, float("nan"), float("nan"), note=note)

    if isinstance(mine, (int, float, np.number)) and not isinstance(mine, (bool, np.bool_)):
        mine = np.asarray(mine)
    if not isinstance(mine, np.ndarray):
        return wrong(f"got {type(mine).__name__}, expected an array of shape {shape}")
    if mine.shape != ref.shape:
        return wrong(f"got shape {_shape_text(mine.shape)}, expected {shape}")
    if not np.issubdtype(mine.dtype, np.floating):
        return wrong(f"got dtype {mine.dtype}, expected {ref.dtype}")
    if not np.all(np.isfinite(mine)):
        return wrong("contains NaN or inf")
    diff = np.abs(mine.astype(np.float64) - ref.astype(np.float64))
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    max_abs = float(np.max(diff)) if diff.size else 0.0
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    worst = tuple(int(k) for k in np.unravel_index(np.argmax(diff), diff.shape)) if diff.size else ()
    note = "" if mine.dtype == ref.dtype else f"dtype {mine.dtype}, reference {ref.dtype}"
    return Row(name, layer, shape, bool(np.array_equal(mine, ref)), bool(max_rel <= rtol), max_abs, max_rel,
               worst=worst, mine_at=float(mine[worst]), ref_at=float(ref[worst]), note=note)


class Comparison:
    """The rows of one comparison; ``str()`` is the table, ``ok`` says whether every row is close.

    ``warning``, when not empty, is printed above the table: it says why rows that are not close
    are expected (``Explanation.compare`` of two passes from different θ^j, X or Y).
    """

    def __init__(self, rows, mine="mine", ref="reference", warning=""):
        self.rows = list(rows)
        self.mine = mine
        self.ref = ref
        self.warning = warning

    @property
    def ok(self):
        """True when every quantity is close to the reference."""
        return all(r.close for r in self.rows)

    def failures(self):
        """The rows that are not close."""
        return [r for r in self.rows if not r.close]

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def __str__(self):
        head = ["quantity", "layer", "shape", "exact", "close", "max abs diff", "max rel diff"]
        with_notes = any(r.note for r in self.rows)
        rows = [head + (["note"] if with_notes else [])]
        for r in self.rows:
            cells = [
                r.name,
                "" if r.layer is None else str(r.layer),
                r.shape,
                "yes" if r.exact else "no",
                "yes" if r.close else "NO",
                "-" if np.isnan(r.max_abs) else f"{r.max_abs:.2e}",
                "-" if np.isnan(r.max_rel) else f"{r.max_rel:.2e}",
            ]
            rows.append(cells + ([r.note] if with_notes else []))
        caption = (f"{self.mine} against {self.ref}; max rel diff = max|{self.mine} - {self.ref}| / "
                   f"max|{self.ref}| per quantity")
        table = format_table(rows, left=(0, 2, 3, 4, 7)) + "\n" + caption
        return f"{self.warning}\n{table}" if self.warning else table

    __repr__ = __str__
