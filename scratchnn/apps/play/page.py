"""The playground's page: Panel widgets wired to :mod:`.session` (training), :mod:`.live` (the Bokeh figures)
and :mod:`.views` (the status line and text).

One worker thread per page trains and draws, so the page stays responsive: a change of a
widget is checked at once (bad input: a message, and nothing drawn is lost), then handed to
the worker, which ends the run in progress at its next chunk and starts the new one. Long
runs stream: the curves and the progress bar are updated together every :data:`STREAM_SECONDS`.
The worker computes what the figures show; the document is changed on Bokeh's next tick, all of
one draw at once (:meth:`Playground._show`).

The status line (CSS class ``sn-status``) is the hook for tests and scripts: it starts with
``training`` while anything is training or drawing, and with ``ready:`` once every change is
trained and drawn, naming what is drawn (:func:`.views.ready`).
"""

import collections
import contextlib
import dataclasses
import html
import os
import re
import threading
import time

import panel as pn
from panel.io.state import set_curdoc
from tornado.ioloop import IOLoop

from ... import fast
from .. import run as runs
from ...activations import ACTIVATIONS
from . import live
from . import session as ss
from . import views

RUNS_AT_ONCE = os.cpu_count() or 1  # the server trains at most this many runs at once (every page's together)
SLOTS = threading.BoundedSemaphore(RUNS_AT_ONCE)  # a page's run holds one while it trains; the others queue
PLAY_ROUND = 2000  # ▶ play trains rounds of this many epochs, giving its slot to a queued page between two
PLAY_EPOCHS = 10_000_000  # ▶ play's epochs at most (⏸ pause ends it sooner)
STREAM_SECONDS = 0.25  # the least time between two streamed draws (curves and progress bar) of a training run
WIDTH = 280  # of the column of controls, in pixels
NARROW = 600  # px: below this width of the window the controls stack above the figures
CSS = f"""
@media (max-width: {NARROW}px) {{
  .sn-figures, .sn-controls {{ width: 100% !important; max-width: 100% !important; }}
}}
"""


def _widgets(torch_missing):
    """The controls, by the name of the :class:`~.session.Settings` field each sets; defaults: ``Settings()``."""
    d = ss.Settings()
    data = {"workshop: 3 sin(x/100) cos(x/10)": "workshop", **{name: name for name in ss.DATA_SETS[1:]}}
    batch_sizes = {"full batch": "full", **{str(b): str(b) for b in ss.BATCH_SIZES[1:]}}
    outputs = {"1 sigmoid unit, bce": "bce", "2 logits, cross_entropy": "cross_entropy"}
    return {
        "data": pn.widgets.Select(label="data set", options=data, value=d.data),
        "noise": pn.widgets.FloatSlider(label="noise (classification)", start=0.0, end=0.5, step=0.05,
                                        value=d.noise),
        "criterion": pn.widgets.Select(label="classifier output", options=outputs, value=d.criterion),
        "hidden": pn.widgets.TextInput(label="hidden widths u^1, ..., u^(L-1)", value=d.hidden,
                                       placeholder="e.g. 5, 5 (Enter to train)"),
        "activation": pn.widgets.Select(label="activation g", options=list(ACTIVATIONS), value=d.activation),
        "optimizer": pn.widgets.Select(label="optimizer", options={v: k for k, v in ss.OPTIMIZERS.items()},
                                       value=d.optimizer),
        "lr": pn.widgets.DiscreteSlider(label="learning rate (log scale)", value=d.lr,
                                        options={f"{v:g}": v for v in ss.LEARNING_RATES}),
        "epochs": pn.widgets.DiscreteSlider(label="epochs", value=d.epochs, options={f"{v:,}": v for v in ss.EPOCHS}),
        "batch_size": pn.widgets.Select(label="batch size", value="full", options=batch_sizes),
        "seed": pn.widgets.TextInput(label="seed (TorchGenerator; Enter to train)", value=str(d.seed)),
        "dtype": pn.widgets.RadioButtonGroup(label="dtype", options=["float32", "float64"], value=d.dtype),
        "engine": pn.widgets.RadioButtonGroup(label="engine", options=["numba", "numpy"], value=fast.default_engine()),
        "compare_torch": pn.widgets.Checkbox(label="compare with torch", value=False, disabled=torch_missing),
        "train_share": pn.widgets.DiscreteSlider(label="training points (classification; the rest: test)",
                                                 value=d.train_share,
                                                 options={f"{v:.0%}": v for v in ss.TRAIN_SHARES}),
        "l2": pn.widgets.DiscreteSlider(label="L2 regularization λ", value=d.l2,
                                        options={f"{v:g}": v for v in ss.L2_VALUES}),
        "norm": pn.widgets.Select(label="norm (hidden layers)", options=list(ss.NORMS), value=d.norm),
        "dropout": pn.widgets.FloatSlider(label="dropout p (hidden layers)", start=0.0, end=0.5, step=0.05,
                                          value=d.dropout),
        "schedule": pn.widgets.Select(label="lr schedule", options={v: k for k, v in ss.SCHEDULES.items()},
                                      value=d.schedule),
    }


class Playground:
    """One page: ``layout`` (the Panel object), its ``widgets``, ``figures`` (:class:`.live.Figures`) and
    ``panes``, ``status`` (the ``sn-status`` pane) and ``last_run`` (the run drawn).

    ``wait_idle(timeout)`` returns once every change has been trained and drawn (for tests and scripts).
    """

    def __init__(self, start=True):
        self._doc = pn.state.curdoc
        self._loop = IOLoop.current()  # the server's event loop: a served page is made on its thread
        torch_missing = runs.load_torchref() is None
        self.widgets = w = _widgets(torch_missing)
        for name, widget in w.items():
            widget.css_classes = [f"play-{name.replace('_', '-')}"]
            widget.width = WIDTH - 20
        self.figures = f = live.Figures()
        views_ = {"function": f.function, "boundary": f.boundary, "boundary_torch": f.boundary_torch,
                  "thumbs": f.thumbs, "loss": f.loss, "theta": f.theta, "delta": f.delta, "gap": f.gap}
        self.panes = {name: pn.pane.Bokeh(fig, css_classes=[f"play-view-{name}"], sizing_mode="stretch_width",
                                          min_width=280, max_width=640)
                      for name, fig in views_.items()}
        for name in ("boundary", "boundary_torch", "thumbs", "gap"):
            self.panes[name].object.visible = False
        self.status = pn.pane.HTML(_html("training ..."), css_classes=["sn-status"], sizing_mode="stretch_width",
                                   min_width=200)
        self.shapes = pn.pane.Markdown("", css_classes=["play-shapes"])
        self.message = pn.pane.Alert("", alert_type="warning", visible=False, css_classes=["play-message"],
                                     sizing_mode="stretch_width")
        self.progress = pn.indicators.Progress(value=0, max=1, width=160, css_classes=["play-progress"])
        self.progress_text = pn.pane.Str("", css_classes=["play-progress-text"])
        self.stop_button = pn.widgets.Button(label="Stop", color="danger", disabled=True, width=80,
                                             css_classes=["play-stop"])
        self.stop_button.on_click(self._stop)
        self.buttons = {name: pn.widgets.Button(label=label, width=80, css_classes=[f"play-{name}"])
                        for name, label in (("play", "▶ play"), ("pause", "‖ pause"), ("step", "step 1 epoch"),
                                            ("reset", "reset"))}
        self.buttons["play"].on_click(lambda event: self._extend(PLAY_EPOCHS))
        self.buttons["pause"].on_click(self._stop)
        self.buttons["step"].on_click(lambda event: self._extend(1))
        self.buttons["reset"].on_click(self._reset)
        torch_note = (f"torch is not installed: the comparison needs it ({runs.TORCH_EXTRA})"
                      if torch_missing else "torch trains a copy of the net from the same θ^j, over the same epochs, "
                                            "after scratchnn (whose result is drawn first)")
        self.gap_note = pn.pane.Markdown("Switch on *compare with torch* to see the loss gap between scratchnn "
                                         "and torch, with the epsilon of the dtype.", css_classes=["play-gap-note"],
                                         sizing_mode="stretch_width")
        controls = pn.Column(
            pn.pane.Markdown("## scratchnn play\nThe workshop's MLP, retrained at every change."),
            pn.Row(*self.buttons.values(), styles={"flex-wrap": "wrap"}),
            *[w[k] for k in ("data", "noise", "train_share", "criterion", "hidden", "activation", "norm", "dropout",
                             "optimizer", "lr", "schedule", "l2", "epochs", "batch_size", "seed")],
            w["dtype"], w["engine"], w["compare_torch"],
            pn.pane.Markdown(torch_note, css_classes=["play-torch-note"], styles={"font-size": "small"}),
            width=WIDTH, css_classes=["sn-controls"],
        )
        p = self.panes
        figures = pn.Column(
            pn.FlexBox(self.status, self.progress, self.progress_text, self.stop_button, align_items="center",
                       sizing_mode="stretch_width"),
            self.message,
            pn.FlexBox(p["function"], p["boundary"], p["boundary_torch"], p["loss"], sizing_mode="stretch_width"),
            p["thumbs"],
            pn.Column(p["theta"], self.shapes, sizing_mode="stretch_width"),
            pn.FlexBox(p["delta"], p["gap"], self.gap_note, sizing_mode="stretch_width"),
            sizing_mode="stretch_width", css_classes=["sn-figures"], styles={"flex": "1 1 560px", "min-width": "0"},
        )
        self.layout = pn.FlexBox(controls, figures, flex_wrap="wrap", sizing_mode="stretch_width", stylesheets=[CSS])
        self.session = ss.Session()
        self.last_run = None
        self._cv = threading.Condition()
        self._pending, self._generation, self._busy, self._stop_pressed, self._closed = None, 0, False, False, False
        self._final = None  # the current() of the job whose final draw is shown
        self._changes, self._draining = collections.deque(), False  # for the document, in order (_show)
        threading.Thread(target=self._work, name="scratchnn-play", daemon=True).start()
        for widget in w.values():
            widget.param.watch(self._changed, "value")
        if start:
            self.start()

    def start(self):
        """Train and draw the first run. A served page calls it once the browser has loaded the page
        (``pn.state.onload``): a run drawn while the session was still being set up could leave its
        streamed status after its final one."""
        self._changed()

    # ------------------------------------------------------------------ widgets -> settings
    def settings(self):
        """The :class:`~.session.Settings` the widgets show."""
        v = {name: widget.value for name, widget in self.widgets.items()}
        v["batch_size"] = None if v["batch_size"] == "full" else int(v["batch_size"])
        return ss.Settings(**v)

    def _changed(self, *events):
        s = self.settings()
        classification = s.data != "workshop"
        for name in ("noise", "criterion", "train_share"):
            self.widgets[name].disabled = not classification
        try:
            ss.check(s)
        except ValueError as exc:  # bad input: say so; the figures and the run in progress stay
            self._say(str(exc), "danger")
            return
        self._say("")
        self._submit(("train", s))
        self.progress.max, self.progress.value = s.epochs, 0
        self.progress_text.object = f"epoch 0 of {s.epochs:,} ..."
        self._set_status(views.training(s))

    def _submit(self, job):
        """Hand ``job`` to the worker: it ends the run in progress at its next chunk and starts this one."""
        with self._cv:
            self._generation += 1
            self._pending = (job, self._generation)
            self._cv.notify_all()

    def _extend(self, epochs):
        """▶ play (PLAY_EPOCHS, until ⏸ pause) or one-epoch step: train the drawn run further."""
        run = self.last_run
        if run is None or run.status == "diverged" or self._busy or self._pending is not None:
            return  # nothing to go on from, or a run is training (⏸ pause or Stop ends it first)
        self._submit(("extend", epochs))
        self._set_status(views.training(run.settings, run))

    def _reset(self, event=None):
        """θ^j drawn afresh from the seed, no epoch trained (▶ play or a step goes on from there)."""
        s = self.settings()
        try:
            ss.check(s)
        except ValueError as exc:
            self._say(str(exc), "danger")
            return
        self._say("")
        self._submit(("reset", dataclasses.replace(s, epochs=0)))
        self._set_status(views.training(s))

    def _stop(self, event=None):
        self._stop_pressed = True

    def _say(self, text, kind="warning"):
        self.message_text = text
        self.message.alert_type = kind
        self.message.object = _markdown_escaped(text)
        self.message.visible = bool(text)

    def _set_status(self, text):
        self.status.object = _html(text)

    # ------------------------------------------------------------------ the worker
    def _work(self):
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                job, generation = self._pending
                self._pending, self._busy, self._stop_pressed = None, True, False
            try:
                self._train(job, generation)
            except Exception as exc:  # whatever went wrong, the page keeps what it drew and goes on
                message = f"training failed: {type(exc).__name__}: {exc}"
                self._show(lambda: self._failed(message, generation))
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def _failed(self, message, generation):
        """A run that raised: its message; no lit Stop, no stale progress; the status names what is drawn."""
        self._say(message, "danger")
        self.progress.value, self.progress_text.object, self.stop_button.disabled = 0, "", True
        if generation == self._generation:
            self._set_status(views.ready(self.last_run) if self.last_run is not None else "ready: nothing drawn")

    @contextlib.contextmanager
    def _slot(self, settings, current):
        """Hold one of the server's SLOTS while training; wait, saying ``queued``, while none is free."""
        if not SLOTS.acquire(blocking=False):
            self._show(lambda: current() and self._set_status(
                f"queued: {views.describe(settings)} (the server trains {RUNS_AT_ONCE} runs at once)"))
            while not SLOTS.acquire(timeout=0.05):
                if not current():
                    yield False
                    return
            self._show(lambda: current() and self._set_status(views.training(settings)))
        try:
            yield True
        finally:
            SLOTS.release()

    def _train(self, job, generation):
        kind, arg = job

        def current():
            return self._generation == generation and not self._closed

        clock = {"draw": time.perf_counter()}

        def progress(run):
            now = time.perf_counter()
            if current() and now - clock["draw"] > STREAM_SECONDS:
                data = self.figures.data(run, final=False)
                self._show(lambda: self._streamed(run, data, current))
                clock["draw"] = now

        def trained(run):  # scratchnn's run has ended: draw it at once, torch (if on) trains next
            if current() and run.status != "diverged" and (run.epochs or kind == "reset"):
                data = self.figures.data(run)
                self._show(lambda: self._drawn_run(run, data, current, final=not run.torch_running))

        def stop():
            return self._stop_pressed or not current()

        if kind == "extend":
            run, left = self.last_run, arg
            while left > 0 and not stop():
                with self._slot(run.settings, current) as free:
                    if not free:
                        return
                    self.session.extend(run, min(left, PLAY_ROUND), stop=stop, progress=progress)
                left -= PLAY_ROUND
            if current() and run.status != "diverged":
                data = self.figures.data(run)
                self._show(lambda: self._drawn_run(run, data, current, final=True))
            elif current():
                self._show(lambda: self._diverged(run, current))
            return
        with self._slot(arg, current) as free:
            if not free:
                return
            run = self.session.run(arg, stop=stop, progress=progress, trained=trained)
        if not current():
            return  # a newer change ended this run: the next one draws
        if run.status == "diverged":
            self._show(lambda: self._diverged(run, current))
            return
        if run.run.twin is not None and run.epochs:
            data = self.figures.data(run)
            self._show(lambda: self._drawn_run(run, data, current, final=True))

    # ------------------------------------------------------------------ the document (Bokeh's next tick)
    def _show(self, change):
        """Run ``change`` (it changes the page) where the document may be changed, after every earlier one.

        The changes wait in one queue, drained on Bokeh's next tick once Panel writes to the document at
        once (``state._unblocked``: the page's websocket is open): before that Panel schedules each write
        for later, and a write scheduled so could land after a later one (a first run's streamed
        "training ..." after its final "ready: ...").

        The drain is registered from the event loop's own thread (``IOLoop.add_callback``, which any thread
        may call): Bokeh's ``add_next_tick_callback``, called from the worker, could lose its registration
        while the loop released a document hold (Panel holds the document while it applies changes; the
        held events are copied, then cleared), and the page then froze, its last status for good.
        """
        doc = self._doc
        if doc is None or doc.session_context is None:
            change()
            return
        with self._cv:
            self._changes.append(change)
            if self._draining:
                return
            self._draining = True
        self._loop.add_callback(doc.add_next_tick_callback, self._drain)

    def _drain(self):
        doc = self._doc
        with set_curdoc(doc):
            if not pn.state._unblocked(doc):
                doc.add_timeout_callback(self._drain, 50)  # ms; the websocket opens within a page load
                return
            while True:
                with self._cv:
                    if not self._changes:
                        self._draining = False
                        return
                    change = self._changes.popleft()
                try:
                    change()
                except Exception as exc:  # said in the page; the changes after it still run (else the page froze)
                    self._say(f"drawing failed: {type(exc).__name__}: {exc}", "danger")

    def _progress(self, run, running):
        epochs, done = run.settings.epochs, run.epochs
        self.progress.max, self.progress.value = epochs, done
        self.progress_text.object = f"epoch {done:,} of {epochs:,}" + (" ..." if running else "")
        self.stop_button.disabled = not running

    def _streamed(self, run, data, current):
        if not current() or self._final is current:
            return  # a newer change, or this run is drawn already (a late streamed draw never follows the final one)
        self.figures.apply(data)
        self._progress(run, running=True)
        self._set_status(views.training(run.settings, run))

    def _drawn_run(self, run, data, current, final):
        if not current():
            return
        self.figures.apply(data)
        for name, visible in data["_visible"].items():
            self.panes[name].object.visible = visible
        self.gap_note.object = self._gap_note(run, data["_visible"]["gap"])
        self.shapes.object = views.shapes(run)
        self.last_run = run
        if final:
            self._final = current  # this job's closure: its streamed draws that come later are dropped
        self._progress(run, running=not final)
        warnings = run.warnings()
        if run.message or warnings:
            self._say(" ".join([run.message] + warnings).strip(), "warning" if warnings else "info")
        self._set_status(views.ready(run) if final else views.training(run.settings, run))

    @staticmethod
    def _gap_note(run, shown):
        if not shown:
            return ("Switch on *compare with torch* to see the loss gap between scratchnn and torch, with the "
                    "epsilon of the dtype.")
        parted = run.parted()
        if parted is None:
            return f"The free-running gap stays within a few {run.settings.dtype} ε: the engines agree."
        return (f"The free-running gap leaves ε at epoch {parted}: {ss.TUTORIAL_5} (rounding differences grow "
                f"in a chaotic fit).")

    def _diverged(self, run, current):
        if not current():
            return
        self._say(run.message, "warning")  # the figures keep the last run that trained
        self._progress(run, running=False)
        self._set_status(views.ready(self.last_run) if self.last_run is not None else "ready: nothing drawn")

    # ------------------------------------------------------------------ life
    def wait_idle(self, timeout=60.0):
        """Wait until every change has been trained and drawn; False if ``timeout`` seconds passed first."""
        with self._cv:
            return self._cv.wait_for(lambda: self._pending is None and not self._busy, timeout)

    def close(self):
        """End the run in progress and the worker thread (the page is gone)."""
        with self._cv:
            self._closed = True
            self._generation += 1
            self._cv.notify_all()


def _html(text):
    return f"<span>{html.escape(text)}</span>"


def _markdown_escaped(text):
    """``text`` shown as typed by a Markdown pane: every ASCII punctuation mark backslash-escaped."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", text)
