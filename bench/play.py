"""Play latency: how long ``scratchnn play`` takes to retrain and to redraw after a change.

    python -m bench --play [--reps 5] [--threads 1]

For the workshop's three nets (1-5-1, 1-10-1, 1-5-5-1; Adam lr 0.015, 1000 full-batch epochs,
float32, the numba engine) it times what the page runs after a change, without the browser:

- ``retrain``: :meth:`scratchnn.apps.play.session.Session.run`, the whole run as the page does it
  (chunks of epochs, ‖δ^j‖ at every chunk boundary), wall time;
- ``fit only``: the numba engine's own time within it (``scratchnn.fit``'s timings, compile excluded);
- ``redraw``: every view's figure (:mod:`scratchnn.teaching.plots`) built and rendered to PNG, as the page shows it.

One warm-up run per net is discarded (it compiles or loads the numba engine); each entry is the
median of ``reps`` runs, with the min and max. Panel and the browser are not involved.
"""

import statistics
import time

from scratchnn.apps import workshop as ws
from scratchnn.apps.play import session, views
from scratchnn.table import format_table, units_label


def _seconds(fn, reps):
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def latency(reps=5, engine="numba"):
    """One row per workshop net: the retrain, fit and redraw samples in seconds."""
    rows = []
    for units in ws.WORKSHOP_UNITS:
        settings = session.Settings(hidden=", ".join(map(str, units[1:-1])), engine=engine)
        s = session.Session()
        run = s.run(settings)  # warm-up: numba compiles or loads its cache
        runs = []
        retrain = _seconds(lambda: runs.append(s.run(settings)), reps)
        fit_only = [r.train_seconds for r in runs]
        redraw = _seconds(lambda: [views.png(fig) for fig in views.figures(run).values()], reps)
        rows.append({"units": units, "epochs": settings.epochs, "engine": engine, "final_loss": float(run.loss[-1]),
                     "retrain": retrain, "fit": fit_only, "redraw": redraw})
    return rows


def table(rows):
    """The play-latency table: median (min-max) milliseconds per net."""

    def ms(samples):
        return f"{statistics.median(samples) * 1e3:.1f} ({min(samples) * 1e3:.1f}-{max(samples) * 1e3:.1f})"

    lines = [["net", "epochs", "engine", "retrain ms", "fit only ms", "redraw ms", "final loss"]]
    for r in rows:
        lines.append([units_label(r["units"]), str(r["epochs"]), r["engine"], ms(r["retrain"]), ms(r["fit"]),
                      ms(r["redraw"]), f"{r['final_loss']:.4e}"])
    return (format_table(lines, left=(0, 2)) + "\nmedian (min-max) over the repetitions; retrain = the page's whole "
            "run (chunks, ‖δ^j‖ samples); redraw = 4 figures built and rendered to PNG")
