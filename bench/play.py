"""Play latency: how long ``scratchnn play`` takes to retrain and to redraw after a change.

    python -m bench --play [--reps 5] [--threads 1]

For the workshop's three nets (1-5-1, 1-10-1, 1-5-5-1; Adam lr 0.015, 1000 full-batch epochs,
float32, the numba engine) it times what the page runs after a change, without the browser:

- ``retrain``: :meth:`scratchnn.apps.play.session.Session.run`, the whole run as the page does it
  (chunks of epochs, ‖δ^j‖ at every chunk boundary), wall time;
- ``fit only``: the numba engine's own time within it (``scratchnn.fit``'s timings, compile excluded);
- ``redraw``: every view's figure (:mod:`scratchnn.teaching.plots`) built and rendered to PNG, as the page shows it.

- ``drawn``: in the browser (``scratchnn play`` served, Debian's chromium through Playwright), the time
  from a change of the learning-rate slider to the status hook (``.sn-status``) saying ``ready:`` with
  the new learning rate: trained, sent and drawn (:func:`browser_latency`; measured with the page's
  own clock, ``performance.now()``). Left out, saying why, without playwright, panel or chromium.

One warm-up run per net is discarded (it compiles or loads the numba engine); each entry is the
median of ``reps`` runs, with the min and max.
"""

import os
import re
import statistics
import sys
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


# the status element, found through the shadow roots Panel renders into; its text once it matches PATTERN
_FIND = """(root) => {
    const hit = root.querySelector('.sn-status');
    if (hit) return hit;
    for (const node of root.querySelectorAll('*')) {
      if (node.shadowRoot) { const found = find(node.shadowRoot); if (found) return found; }
    }
    return null;
  }"""
_FIND_READY = """([pattern]) => {
  const find = FIND;
  const el = find(document);
  const text = el ? (el.shadowRoot || el).textContent : '';
  return new RegExp(pattern).test(text) ? performance.now() : false;
}""".replace("FIND", _FIND)


def browser_latency(page, changes=5, timeout=60.0):
    """Seconds from each of ``changes`` learning-rate changes (the slider one step up, then down, ...) to
    ``ready: ... lr <new> ...`` in the page's status hook, by the page's clock; ``page``: a Playwright page
    showing ``scratchnn play``, its first run drawn."""
    from scratchnn.apps.play.screenshot import status_text

    seconds = []
    options = [f"{v:g}" for v in session.LEARNING_RATES]
    for k in range(changes):
        shown = status_text(page)
        lr = re.search(r"lr (\S+),", shown).group(1)
        up = options.index(lr) + 1 < len(options) and k % 2 == 0
        new = options[options.index(lr) + (1 if up else -1)]
        page.locator(".play-lr .noUi-handle").focus()
        start = page.evaluate("performance.now()")
        page.keyboard.press("ArrowRight" if up else "ArrowLeft")
        done = page.wait_for_function(_FIND_READY, arg=[f"ready: [^\\n]*lr {re.escape(new)},"], polling="raf",
                                      timeout=timeout * 1000)
        seconds.append((done.json_value() - start) / 1e3)
    return seconds


# from now on, the time (ms, by the page's clock) until the status first matches PATTERN, in window.__snReady
_WATCH = """([pattern]) => {
  const re = new RegExp(pattern), start = performance.now(), find = FIND;
  window.__snReady = null;
  const id = setInterval(() => {
    const el = find(document);
    if (el && re.test((el.shadowRoot || el).textContent)) { window.__snReady = performance.now() - start; clearInterval(id); }
  }, 5);
}""".replace("FIND", _FIND)


def watch_ready(page, pattern):
    """Start timing, in ``page``, until its status hook matches ``pattern`` (read it with :func:`watched`).

    Several pages can be watched at once: each keeps its own clock, polled every 5 ms."""
    page.evaluate(_WATCH, [pattern])


def watched(page, timeout=60.0):
    """Seconds from :func:`watch_ready` to the match, waiting (bounded) for it."""
    page.wait_for_function("window.__snReady !== null", timeout=timeout * 1000)
    return page.evaluate("window.__snReady") / 1e3


def browser_rows(reps=5):
    """``{units: [seconds]}``: :func:`browser_latency` for each workshop net, or ``{}`` and why not."""
    try:
        from playwright.sync_api import sync_playwright

        from scratchnn.apps.play.screenshot import launch, serving
    except ImportError as exc:
        return {}, f"no browser measurement: {exc}"
    out = {}
    with serving() as url, sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(120_000)
        page.goto(url)
        page.wait_for_function(_FIND_READY, arg=["ready:"], polling="raf", timeout=120_000)
        for units in ws.WORKSHOP_UNITS:
            widths = page.locator(".play-hidden input")
            widths.fill(", ".join(map(str, units[1:-1])))
            widths.press("Enter")
            page.wait_for_function(_FIND_READY, arg=[f"ready: {units_label(units)} "], polling="raf", timeout=120_000)
            browser_latency(page, 1)  # warm-up
            out[tuple(units)] = browser_latency(page, reps)
        browser.close()
    return out, None


def latency(reps=5, engine="numba", browser=None):
    """One row per workshop net: the retrain, fit and redraw samples in seconds (and ``drawn``, in the browser;
    ``browser`` None: unless the environment sets BENCH_PLAY_BROWSER=0)."""
    if browser is None:
        browser = os.environ.get("BENCH_PLAY_BROWSER", "1") != "0"
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
    if browser:
        drawn, why = browser_rows(reps)
        if why:
            print(why, file=sys.stderr)
        for row in rows:
            row["drawn"] = drawn.get(tuple(row["units"]), [])
    return rows


def table(rows):
    """The play-latency table: median (min-max) milliseconds per net."""

    def ms(samples):
        return f"{statistics.median(samples) * 1e3:.1f} ({min(samples) * 1e3:.1f}-{max(samples) * 1e3:.1f})"

    lines = [["net", "epochs", "engine", "retrain ms", "fit only ms", "redraw ms", "drawn ms", "final loss"]]
    for r in rows:
        drawn = ms(r["drawn"]) if r.get("drawn") else "-"
        lines.append([units_label(r["units"]), str(r["epochs"]), r["engine"], ms(r["retrain"]), ms(r["fit"]),
                      ms(r["redraw"]), drawn, f"{r['final_loss']:.4e}"])
    return (format_table(lines, left=(0, 2)) + "\nmedian (min-max) over the repetitions; retrain = the page's whole "
            "run (chunks, ‖δ^j‖ samples); redraw = the matplotlib figures rendered to PNG (the notebooks' and the "
            "CLI's; the page draws natively); drawn = in Chromium, a learning-rate change to 'ready:' in .sn-status")
