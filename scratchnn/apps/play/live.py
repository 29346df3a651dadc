"""The page's figures, native in the browser: Bokeh figures whose data sources a run replaces or extends.

A change sends new numbers, never new images: :meth:`Figures.data` gathers, from a
:class:`~.session.PlayRun`, what each source shows (every number from the run or the net: the
engine computed it), and :meth:`Figures.apply` puts it into the sources, extending the loss
curves (``ColumnDataSource.stream``) while the same run trains and replacing the rest (the
decision boundary is an ``image`` glyph whose array is replaced). ``data`` may run in any
thread; ``apply`` runs where the document may be changed (the page calls it on Bokeh's next tick).

Colours: the two classes are Okabe and Ito's blue and orange (told apart by colour-blind readers),
training points are circles, test points triangles.
"""

import numpy as np
from bokeh.models import ColumnDataSource, LinearColorMapper, Range1d
from bokeh.plotting import figure

from ...teaching import plots
from ...table import units_label
from ..run import relative_gap

CLASS_COLORS = ("#0072B2", "#E69F00")  # Okabe-Ito blue (class 0), orange (class 1)
LINE_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00", "#000000", "#F0E442")
RESOLUTION = 80  # grid points per side of the decision boundary image
THUMB_RESOLUTION = 32  # per side of a hidden unit's thumbnail
THUMBS_PER_LAYER = 8  # at most this many units of each hidden layer get a thumbnail
CURVE_POINTS = 2000  # at most about this many points per loss curve (every 2^k-th epoch)
LOG_FLOOR = 1e-30  # an exact 0 (a dead net's ‖δ^j‖, two equal losses) is drawn here on the log axes
HEIGHT = 300


def _palette(a, b, steps=128):
    """``steps`` colours from ``a`` through white to ``b`` (hex strings): P(class 1) from 0 to 1."""
    a, b = (np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)]) for c in (a, b))
    white = np.full(3, 255)
    t = np.linspace(-1, 1, steps)[:, None]
    rgb = np.where(t < 0, white + (a - white) * -t * 0.75, white + (b - white) * t * 0.75).round().astype(int)
    return ["#%02x%02x%02x" % tuple(c) for c in rgb]


BOUNDARY_PALETTE = _palette(*CLASS_COLORS)
THETA_PALETTE = _palette("#2166AC", "#B2182B")  # blue negative, red positive, white 0


def stride(epochs):
    """The epochs between two drawn points of a curve of ``epochs`` epochs: the least power of 2 that keeps
    it to about CURVE_POINTS points (fixed for a run, so that its curve only grows)."""
    return 1 << max(0, int(np.ceil(np.log2(max(epochs, 1) / CURVE_POINTS))))


def _figure(title, **kw):
    return figure(title=title, height=HEIGHT, sizing_mode="stretch_width", min_width=280, max_width=620,
                  tools="pan,wheel_zoom,box_zoom,reset,save", toolbar_location="above", **kw)


class Figures:
    """Every figure of one page, by view: ``data``, ``boundary_torch``, ``thumbs``, ``loss``, ``theta``,
    ``delta``, ``gap`` (Bokeh figures), and their sources (``sources``)."""

    def __init__(self):
        # named "sn-<source>": a script or a browser test finds what is drawn with Bokeh's get_model_by_name
        src = self.sources = {name: ColumnDataSource(data=cols, name=f"sn-{name}") for name, cols in {
            "function": {"x": [], "y": []},
            "pred": {"x": [], "y": []}, "pred_torch": {"x": [], "y": []},
            "image": {"image": [], "x": [], "y": [], "dw": [], "dh": []},
            "image_torch": {"image": [], "x": [], "y": [], "dw": [], "dh": []},
            "train": {"x": [], "y": [], "color": []}, "test": {"x": [], "y": [], "color": []},
            "thumbs": {"image": [], "x": [], "y": [], "dw": [], "dh": []},
            "thumb_labels": {"x": [], "y": [], "text": []},
            "loss": {"x": [], "y": []}, "loss_torch": {"x": [], "y": []}, "val_loss": {"x": [], "y": []},
            "theta": {"x": [], "y": [], "value": []}, "theta_bias": {"x0": [], "x1": [], "y0": [], "y1": []},
            "theta_labels": {"x": [], "y": [], "text": []},
            "delta": {"xs": [], "ys": [], "color": [], "label": []},
            "gap": {"x": [], "y": []}, "eps": {"x": [], "y": []},
        }.items()}
        self._sent = None  # ((run id, stride), points sent of the loss curve, of torch's, of the test points')

        self.function = f = _figure("the workshop's function and the net's prediction", x_axis_label="x / ||x||_5",
                                    y_axis_label="y / ||y||_5")
        f.line("x", "y", source=src["function"], color="black", legend_label="function")
        f.scatter("x", "y", source=src["pred"], color=LINE_COLORS[1], size=6, legend_label="scratchnn")
        f.scatter("x", "y", source=src["pred_torch"], marker="x", color=LINE_COLORS[2], size=9, line_width=2,
                  legend_label="torch")
        f.legend.location = "bottom_left"

        boundary_mapper = LinearColorMapper(palette=BOUNDARY_PALETTE, low=0, high=1)
        self.boundary, self.boundary_torch = (self._boundary(title, src[image], boundary_mapper)
                                              for title, image in (("scratchnn: P(class 1)", "image"),
                                                                   ("torch: P(class 1)", "image_torch")))
        self.thumbs = t = _figure("each hidden unit's activation over the input plane")
        t.image(image="image", x="x", y="y", dw="dw", dh="dh", source=src["thumbs"],
                color_mapper=LinearColorMapper(palette=BOUNDARY_PALETTE, low=-1, high=1))
        t.text("x", "y", text="text", source=src["thumb_labels"], text_font_size="9px", text_baseline="bottom")
        t.axis.visible = t.grid.visible = False

        self.loss = lo = _figure("loss per epoch: training points, test points", y_axis_type="log",
                                 x_axis_label="epoch")
        lo.line("x", "y", source=src["loss"], color=LINE_COLORS[0], line_width=1.5, legend_label="scratchnn")
        lo.line("x", "y", source=src["val_loss"], color=LINE_COLORS[2], line_width=1.5, legend_label="test points")
        lo.line("x", "y", source=src["loss_torch"], color=LINE_COLORS[1], line_dash="dashed", line_width=1.5,
                legend_label="torch")

        self.theta = th = _figure("θ^j: rows are units of layer j+1, column 0 the bias")
        th.rect("x", "y", width=1, height=1, source=src["theta"], line_color=None,
                fill_color={"field": "value", "transform": LinearColorMapper(palette=THETA_PALETTE, low=-1, high=1)})
        self._theta_mapper = th.renderers[-1].glyph.fill_color["transform"]
        th.segment("x0", "y0", "x1", "y1", source=src["theta_bias"], color="black", line_width=2)
        th.text("x", "y", text="text", source=src["theta_labels"], text_font_size="11px", text_baseline="bottom")
        th.axis.visible = th.grid.visible = False

        self.delta = d = _figure("the error δ^j of each layer", y_axis_type="log", x_axis_label="epoch",
                                 y_axis_label="‖δ^j‖ (Frobenius)")
        d.multi_line("xs", "ys", source=src["delta"], color="color", legend_field="label", line_width=1.5)
        d.legend.location = "bottom_left"

        self.gap = g = _figure("|L_scratch - L_torch| / L_torch (max over 10 epochs)", y_axis_type="log",
                               x_axis_label="epoch")
        g.line("x", "y", source=src["gap"], color=LINE_COLORS[2], line_width=1.5, legend_label="free-running")
        g.line("x", "y", source=src["eps"], color="grey", line_dash="dotted", legend_label="ε of the dtype")
        g.legend.location = "bottom_right"

    def _boundary(self, title, source, mapper):
        b = _figure(title, x_axis_label="x_1", y_axis_label="x_2",
                    x_range=Range1d(-1, 1), y_range=Range1d(-1, 1))
        b.image(image="image", x="x", y="y", dw="dw", dh="dh", source=source, color_mapper=mapper)
        for name, marker, label in (("train", "circle", "training points"), ("test", "triangle", "test points")):
            b.scatter("x", "y", source=self.sources[name], marker=marker, fill_color="color", line_color="black",
                      line_width=0.5, size=6 if name == "train" else 7, legend_label=label)
        b.legend.location = "top_left"
        b.legend.background_fill_alpha = 0.6
        return b

    # ------------------------------------------------------------------ run -> numbers (any thread)
    def data(self, run, final=True):
        """What every source shows of ``run``: ``{source: columns or ("stream", columns)}`` and the figures'
        settings (``"_ranges"``, ``"_visible"``, ``"_theta_high"``). ``final``: the whole figure set (a streamed
        draw while training sends the curves only)."""
        s, net = run.settings, run.net
        out = {"_visible": {}}
        step = stride(s.epochs)
        key = (id(run), step)  # a run trained further (▶ play) may draw every 2^k-th epoch from then on
        # a final draw sends the whole curves (a page that connected mid-run has missed the streamed parts)
        sent = self._sent[1:] if self._sent and self._sent[0] == key and not final else (0, 0, 0)
        torch_loss = run.torch_loss if run.torch_loss is not None else np.zeros(0)
        val_loss = run.val_loss if run.val_loss is not None else np.zeros(0)
        curves = {"loss": run.loss, "loss_torch": torch_loss, "val_loss": val_loss}
        for (name, curve), done in zip(curves.items(), sent):
            out.update(self._curve(name, curve, step, done))
        self._sent = (key, *(-(-len(curve) // step) for curve in curves.values()))
        epochs = np.asarray(run.delta_epochs)
        norms = np.maximum(np.atleast_2d(np.asarray(run.delta, dtype=np.float64)), LOG_FLOOR)
        L = norms.shape[1] if len(run.delta) else 0
        out["delta"] = {"xs": [epochs] * L, "ys": [norms[:, j] for j in range(L)],
                        "color": [LINE_COLORS[j % len(LINE_COLORS)] for j in range(L)],
                        "label": [f"‖δ^{j + 1}‖ (layer {j + 1}{', output' if j == L - 1 else ''})" for j in range(L)]}
        gap = relative_gap(run.loss, torch_loss) if len(torch_loss) else np.zeros(0)
        out["gap"] = {"x": np.arange(len(gap)), "y": np.maximum(plots._window_max(gap, 10), 1e-9) if len(gap) else gap}
        eps = float(np.finfo(net.dtype).eps)
        out["eps"] = {"x": [0, max(len(gap) - 1, 1)], "y": [eps, eps]}
        out["_visible"]["gap"] = bool(len(gap))
        out["_titles"] = {"loss": f"{units_label(net.units)} {s.activation}, {net.criterion} loss per epoch",
                          "gap": f"scratch-torch relative loss gap; dotted: the {net.dtype.name} ε"}
        if final:
            out.update(self._theta(net.theta))
            prediction = self._prediction(run)
            out["_visible"].update(prediction.pop("_visible"))
            out.update(prediction)
        return out

    @staticmethod
    def _curve(name, loss, step, sent):
        """The curve's points every ``step`` epochs: the ones not yet sent (``stream``), or all of them."""
        x = np.arange(0, len(loss), step)
        if sent and sent <= len(x):
            return {name: ("stream", {"x": x[sent:], "y": np.maximum(loss[x[sent:]], LOG_FLOOR)})}
        return {name: {"x": x, "y": np.maximum(loss[x], LOG_FLOOR)}}

    @staticmethod
    def _theta(theta):
        """Each θ^j as a block of cells, side by side, column 0 (the bias) set off by a black line."""
        xs, ys, values, bias, labels = [], [], [], {"x0": [], "x1": [], "y0": [], "y1": []}, {"x": [], "y": [],
                                                                                            "text": []}
        left = 0
        for j, t in enumerate(theta):
            rows, cols = t.shape
            S, K = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
            xs.append(left + K.ravel() + 0.5)
            ys.append(-S.ravel() - 0.5)
            values.append(t.ravel().astype(np.float64))
            for key, v in zip(bias, (left + 1, left + 1, 0, -rows)):
                bias[key].append(v)
            labels["x"].append(left)
            labels["y"].append(0.2)
            labels["text"].append(f"θ^{j}: {rows} × {cols}")
            left += cols + max(2, 0.25 * cols)
        values = np.concatenate(values)
        return {"theta": {"x": np.concatenate(xs), "y": np.concatenate(ys), "value": values},
                "theta_bias": bias, "theta_labels": labels, "_theta_high": float(np.max(np.abs(values))) or 1.0}

    def _prediction(self, run):
        s, net, out = run.settings, run.net, {}
        torch_net = run.torch_net() if run.torch_loss is not None and len(run.torch_loss) else None
        classify = s.data != "workshop"
        out["_visible"] = {"function": not classify, "boundary": classify, "thumbs": classify,
                           "boundary_torch": classify and torch_net is not None}
        if not classify:
            out["function"] = {"x": run.X[:, 0], "y": run.Y[:, 0]}
            out["pred"] = {"x": run.X_show[:, 0], "y": net.forward(run.X_show)[:, 0]}
            out["pred_torch"] = ({"x": run.X_show[:, 0], "y": torch_net.forward(run.X_show)[:, 0]}
                                 if torch_net is not None else {"x": [], "y": []})
            return out
        X_all = np.concatenate([run.X, run.X_show])
        lo, hi = X_all.min(axis=0) - 0.5, X_all.max(axis=0) + 0.5
        _, _, grid = plots.plane(lo, hi, RESOLUTION, net.dtype)
        place = {"x": [lo[0]], "y": [lo[1]], "dw": [hi[0] - lo[0]], "dh": [hi[1] - lo[1]]}
        for name, n in (("image", net), ("image_torch", torch_net)):
            if n is not None:
                P = plots.class_one_probability(n, n.forward(grid)).reshape(RESOLUTION, RESOLUTION)
                out[name] = {"image": [P.astype(np.float64)], **place}
        labels = np.asarray(run.Y).reshape(len(run.X), -1)
        y_train = labels[:, 0].astype(int) if labels.shape[1] == 1 else np.argmax(labels, axis=1)
        for name, X, y in (("train", run.X, y_train), ("test", run.X_show, run.y_show)):
            out[name] = {"x": X[:, 0], "y": X[:, 1], "color": [CLASS_COLORS[c] for c in y]}
        out["_ranges"] = (lo, hi)
        out.update(self._thumbs(net, lo, hi))
        return out

    @staticmethod
    def _thumbs(net, lo, hi):
        """a^j_s over the input plane for the first THUMBS_PER_LAYER units s of every hidden layer j, each
        scaled by its largest |a| (the colour shows where the unit is on, not how much)."""
        _, _, grid = plots.plane(lo, hi, THUMB_RESOLUTION, net.dtype)
        a = net.forward_trace(grid).a
        thumbs = {"image": [], "x": [], "y": [], "dw": [], "dh": []}
        labels = {"x": [], "y": [], "text": []}
        for j in range(1, net.L):
            h = a[j][:, 1:]  # (resolution², u^j): the bias unit left out
            for s in range(min(h.shape[1], THUMBS_PER_LAYER)):
                unit = h[:, s].reshape(THUMB_RESOLUTION, THUMB_RESOLUTION).astype(np.float64)
                for key, v in zip(thumbs, (unit / (np.max(np.abs(unit)) or 1.0), 1.1 * s, -1.3 * j, 1.0, 1.0)):
                    thumbs[key].append(v)
                labels["x"].append(1.1 * s)
                labels["y"].append(-1.3 * j + 1.0)
                labels["text"].append(f"a^{j}_{s + 1}")
        return {"thumbs": thumbs, "thumb_labels": labels}

    # ------------------------------------------------------------------ numbers -> the figures (document thread)
    def apply(self, data):
        """Put ``data`` (from :meth:`data`) into the sources and figures."""
        for name, columns in data.items():
            if name.startswith("_"):
                continue
            if isinstance(columns, tuple):
                if len(columns[1]["x"]):
                    self.sources[name].stream(columns[1])
            else:
                self.sources[name].data = columns
        if "_theta_high" in data:
            self._theta_mapper.low, self._theta_mapper.high = -data["_theta_high"], data["_theta_high"]
        if "_ranges" in data:
            lo, hi = data["_ranges"]
            for b in (self.boundary, self.boundary_torch):
                b.x_range.start, b.x_range.end = float(lo[0]), float(hi[0])
                b.y_range.start, b.y_range.end = float(lo[1]), float(hi[1])
        for view, title in data.get("_titles", {}).items():
            getattr(self, view).title.text = title
