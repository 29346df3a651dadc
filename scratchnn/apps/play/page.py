"""The playground's page: Panel widgets wired to :mod:`.session` (training) and :mod:`.views` (figures).

One worker thread per page trains and draws, so the page stays responsive: a change of a
widget is checked at once (bad input: a message, and nothing drawn is lost), then handed to
the worker, which ends the run in progress at its next chunk and starts the new one. Long
runs stream: the figures are redrawn every :data:`STREAM_SECONDS` or so while they train.
"""

import threading
import time

import panel as pn

from ... import fast
from .. import run as runs
from ...activations import ACTIVATIONS
from . import session as ss
from . import views

STREAM_SECONDS = 0.5  # the least time between two redraws of a run that is still training
PROGRESS_SECONDS = 0.1  # the least time between two updates of the progress bar
WIDTH = 280  # of the column of controls, in pixels


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
        "seed": pn.widgets.IntInput(label="seed (TorchGenerator)", value=d.seed, start=0),
        "dtype": pn.widgets.RadioButtonGroup(label="dtype", options=["float32", "float64"], value=d.dtype),
        "engine": pn.widgets.RadioButtonGroup(label="engine", options=["numba", "numpy"], value=fast.default_engine()),
        "compare_torch": pn.widgets.Checkbox(label="compare with torch", value=False, disabled=torch_missing),
    }


class Playground:
    """One page: ``layout`` (the Panel object), its ``widgets`` and ``panes``, and ``last_run`` (the run drawn).

    ``wait_idle(timeout)`` returns once every change has been trained and drawn (for tests and scripts).
    """

    def __init__(self):
        torch_missing = runs.load_torchref() is None
        self.widgets = w = _widgets(torch_missing)
        for name, widget in w.items():
            widget.css_classes = [f"play-{name.replace('_', '-')}"]
            widget.width = WIDTH - 20
        self.panes = {name: pn.pane.PNG(None, css_classes=[f"play-view-{name}"]) for name in views.VIEWS}
        self.status = pn.pane.Markdown("training ...", css_classes=["play-status"], sizing_mode="stretch_width")
        self.shapes = pn.pane.Markdown("", css_classes=["play-shapes"])
        self.message = pn.pane.Alert("", alert_type="warning", visible=False, css_classes=["play-message"])
        self.progress = pn.indicators.Progress(value=0, max=1, width=160, css_classes=["play-progress"])
        self.progress_text = pn.pane.Str("", css_classes=["play-progress-text"])
        self.stop_button = pn.widgets.Button(label="Stop", color="danger", disabled=True, width=80,
                                             css_classes=["play-stop"])
        self.stop_button.on_click(self._stop)
        torch_note = (f"torch is not installed: the comparison needs it ({runs.TORCH_EXTRA})"
                      if torch_missing else "torch trains a copy of the net from the same θ^j, over the same epochs")
        self.gap_note = pn.pane.Markdown("Switch on *compare with torch* to see the loss gap between scratchnn "
                                         "and torch, with the float32 epsilon.", width=300)
        controls = pn.Column(
            pn.pane.Markdown("## scratchnn play\nThe workshop's MLP, retrained at every change."),
            *[w[k] for k in ("data", "noise", "criterion", "hidden", "activation", "optimizer", "lr", "epochs",
                             "batch_size", "seed")],
            w["dtype"], w["engine"], w["compare_torch"],
            pn.pane.Markdown(torch_note, css_classes=["play-torch-note"], styles={"font-size": "small"}),
            width=WIDTH,
        )
        figures = pn.Column(
            pn.Row(self.status, self.progress, self.progress_text, self.stop_button),
            self.message,
            pn.Row(self.panes["data"], self.panes["loss"]),
            pn.Column(self.panes["theta"], self.shapes),
            pn.Row(self.panes["delta"], self.panes["gap"], self.gap_note),
        )
        self.layout = pn.Row(controls, figures)
        self.session = ss.Session()
        self.last_run = None
        self._cv = threading.Condition()
        self._pending, self._generation, self._busy, self._stop_pressed, self._closed = None, 0, False, False, False
        threading.Thread(target=self._work, name="scratchnn-play", daemon=True).start()
        for widget in w.values():
            widget.param.watch(self._changed, "value")
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
        self.widgets["noise"].disabled = self.widgets["criterion"].disabled = not classification
        try:
            ss.check(s)
        except ValueError as exc:  # bad input: say so; the figures and the run in progress stay
            self._say(str(exc), "danger")
            return
        self._say("")
        with self._cv:
            self._generation += 1
            self._pending = (s, self._generation)
            self._cv.notify_all()

    def _stop(self, event=None):
        self._stop_pressed = True

    def _say(self, text, kind="warning"):
        self.message.alert_type = kind
        self.message.object = text
        self.message.visible = bool(text)

    # ------------------------------------------------------------------ the worker
    def _work(self):
        while True:
            with self._cv:
                self._cv.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                settings, generation = self._pending
                self._pending, self._busy, self._stop_pressed = None, True, False
            try:
                self._train(settings, generation)
            except Exception as exc:  # whatever went wrong, the page keeps what it drew and goes on
                self._say(f"training failed: {type(exc).__name__}: {exc}", "danger")
            finally:
                with self._cv:
                    self._busy = False
                    self._cv.notify_all()

    def _train(self, settings, generation):
        def current():
            return self._generation == generation and not self._closed

        clock = {"progress": 0.0, "draw": time.perf_counter(), "cost": 0.0}

        def progress(run):
            now = time.perf_counter()
            if now - clock["progress"] > PROGRESS_SECONDS:
                self._show_progress(run, running=True)
                clock["progress"] = now
            if current() and now - clock["draw"] > max(STREAM_SECONDS, 2 * clock["cost"]):
                self._draw(run, current)
                clock["draw"] = time.perf_counter()
                clock["cost"] = clock["draw"] - now

        self._show_progress(None, running=True, epochs=settings.epochs)
        run = self.session.run(settings, stop=lambda: self._stop_pressed or not current(), progress=progress)
        if not current():
            return  # a newer change ended this run: the next one draws
        self._show_progress(run, running=False)
        if run.status == "diverged":
            self._say(run.message, "warning")  # the figures keep the last run that trained
            return
        if run.epochs:
            self._draw(run, current)
        warnings = run.warnings()
        if run.message or warnings:
            self._say(" ".join([run.message] + warnings).strip(), "warning" if warnings else "info")

    def _show_progress(self, run, running, epochs=None):
        epochs = epochs or run.settings.epochs
        done = 0 if run is None else run.epochs
        self.progress.max, self.progress.value = epochs, done
        self.progress_text.object = f"epoch {done:,} of {epochs:,}" + (" ..." if running else "")
        self.stop_button.disabled = not running

    def _draw(self, run, current=lambda: True):
        """Every view of ``run``, in the order of ``views.VIEWS``; a newer change (``current()`` False) ends it."""
        figures = views.figures(run)
        for name in views.VIEWS:
            if not current():
                return
            if name in figures:
                self.panes[name].object = views.png(figures[name])
        self.panes["gap"].visible = "gap" in figures
        self.gap_note.visible = "gap" not in figures
        self.status.object = views.summary(run)
        self.shapes.object = views.shapes(run)
        self.last_run = run

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
