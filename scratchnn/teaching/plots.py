"""The workshop's figures, headless: every function returns a matplotlib ``Figure``.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot), so nothing
here needs a display or changes the global backend; :func:`save` writes PNG
through Agg. In a notebook a returned Figure shows itself as a PNG, whether or
not pyplot has drawn anything before.
"""

import io

import matplotlib.figure
import matplotlib.ticker
import numpy as np

LONG_RUN = 20000  # epochs beyond which a loss curve is drawn as a per-window envelope
MODEL_COLORS = ("tab:red", "tab:orange", "tab:green", "tab:blue", "tab:purple", "tab:brown", "tab:pink")
ENGINE_COLORS = {"numpy": "tab:blue", "numba": "tab:green", "torch": "tab:orange"}  # timing_figure's bars
OPERATION_COLORS = ("tab:cyan", "tab:purple", "tab:olive", "tab:gray", "tab:pink", "tab:brown")  # its stacked parts


class Figure(matplotlib.figure.Figure):
    """A matplotlib Figure that Jupyter shows as a PNG (a bare Figure shows only its repr
    until pyplot's inline backend is active)."""

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def save(fig, path, dpi=120):
    """Write ``fig`` to ``path`` (PNG by default)."""
    fig.savefig(path, dpi=dpi)


def _colors(labels):
    """One colour per model: labels sharing their first word (the model) share a colour."""
    models = list(dict.fromkeys(label.split()[0] for label in labels))
    return {label: MODEL_COLORS[models.index(label.split()[0]) % len(MODEL_COLORS)] for label in labels}


def _style(label):
    """Solid for scratchnn, dashed for torch."""
    return "--" if "torch" in label else "-"


def function_figure(x, y, X, Y):
    """The function to fit (left) and its L5-normalised form (right)."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.plot(x, y)
    left.set(xlabel="x", ylabel="y", title="Function to be fitted: 3 sin(x/100) cos(x/10)")
    right.plot(X[:, 0], Y[:, 0])
    right.set(xlabel="x / ||x||_5", ylabel="y / ||y||_5", title="Normalised function (L5 norm)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    return fig


def _envelope(loss, windows=400):
    """``(epoch, min, median, max)`` of ``loss`` over log-spaced windows of epochs (epoch counted from 1)."""
    edges = np.unique(np.geomspace(1, len(loss) + 1, windows + 1).astype(np.int64))
    parts = [loss[a - 1 : b - 1] for a, b in zip(edges[:-1], edges[1:])]
    epoch = np.sqrt(edges[:-1] * (edges[1:] - 1).clip(min=1))
    return epoch, np.array([p.min() for p in parts]), np.array([np.median(p) for p in parts]), np.array([p.max() for p in parts])


def loss_figure(curves, title="", ax=None, ylabel="MSE loss"):
    """Loss per epoch, log scale; ``curves`` maps a label ("1-5-1 torch") to its losses.

    Runs longer than ``LONG_RUN`` epochs are drawn on a log epoch axis as the median of log-spaced
    windows with a min-max band: a million raw points would be a solid block.
    """
    fig = None
    if ax is None:
        fig = Figure(figsize=(8, 5), layout="constrained")
        ax = fig.subplots()
    colors = _colors(curves)
    long_run = max((len(loss) for loss in curves.values()), default=0) > LONG_RUN
    for label, loss in curves.items():
        if long_run and len(loss) > LONG_RUN:
            epoch, low, median, high = _envelope(np.asarray(loss, dtype=np.float64))
            ax.fill_between(epoch, low, high, color=colors[label], alpha=0.2, lw=0)
            ax.plot(epoch, median, _style(label), color=colors[label], label=f"{label} (median, band: min-max)", lw=1.2)
        else:
            ax.plot(np.arange(1, len(loss) + 1) if long_run else np.arange(len(loss)), loss, _style(label),
                    color=colors[label], label=label, lw=1.2)
    ax.set_yscale("log")
    if long_run:  # a million epochs: the first thousand would be a sliver on a linear axis
        ax.set_xscale("log")
    ax.set(xlabel="epoch" + (" (+1, log scale)" if long_run else ""), ylabel=ylabel, title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


def predictions_figure(X, Y, X_test, predictions):
    """The normalised function with every model's test predictions (circles scratch, crosses torch)."""
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.subplots()
    ax.plot(X[:, 0], Y[:, 0], color="black", lw=1, label="function")
    colors = _colors(predictions)
    for label, pred in predictions.items():
        torch_like = "torch" in label
        ax.scatter(X_test[:, 0], pred[:, 0], color=colors[label], label=label, s=40 if torch_like else 18,
                   marker="x" if torch_like else "o", alpha=0.8)
    ax.set(xlabel="x / ||x||_5", ylabel="y / ||y||_5", title=f"Predictions at {len(X_test)} random test points")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", ncol=2)
    return fig


def _window_max(a, window):
    """max of a[e - window + 1 .. e] for every e (a running maximum over the last ``window`` values)."""
    a = np.asarray(a, dtype=np.float64)
    padded = np.concatenate([np.full(window - 1, -np.inf), a])
    return np.lib.stride_tricks.sliding_window_view(padded, window).max(axis=1)


def gap_figure(gaps, window=10, floor=1e-9, dtype=np.float32):
    """Relative loss gap |L_scratch - L_torch| / L_torch per epoch, one panel per model, log scale.

    ``gaps`` maps a model label to ``{mode: gap per epoch}``. Each curve is the
    largest gap over the last ``window`` epochs (the raw gap flickers between
    0 and one rounding unit); exact agreement is drawn at ``floor``. The dotted line is
    the machine epsilon of ``dtype``, the runs' (one rounding unit at 1).
    """
    dtype = np.dtype(dtype)
    fig = Figure(figsize=(4 * len(gaps), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(gaps), sharey=True))
    for ax, (label, modes) in zip(axes, gaps.items()):
        for mode, gap in modes.items():
            ax.plot(np.arange(len(gap)), np.maximum(_window_max(gap, window), floor), lw=1.2, label=mode)
        ax.axhline(np.finfo(dtype).eps, color="grey", ls=":", lw=1, label=f"{dtype.name} epsilon")
        ax.set_yscale("log")
        ax.set(xlabel="epoch", title=f"model {label}")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel(f"|L_scratch - L_torch| / L_torch\n(max over {window} epochs)")
    axes[0].legend(fontsize="small")
    fig.suptitle("scratchnn vs torch: relative loss gap per epoch")
    return fig


def sweep_figure(curves, rows, cols):
    """A grid of loss-curve panels: ``curves[(row, col)]`` maps a seed label to its losses."""
    fig = Figure(figsize=(3.2 * len(cols), 2.6 * len(rows)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(rows), len(cols), sharex=True, sharey=True, squeeze=False))
    for r, row in enumerate(rows):
        for c, col in enumerate(cols):
            ax = axes[r, c]
            for label, loss in curves.get((row, col), {}).items():
                ax.plot(np.arange(len(loss)), loss, lw=0.9, label=label)
            ax.set_yscale("log")
            ax.grid(alpha=0.3, which="both")
            if r == 0:
                ax.set_title(col, fontsize="small")
            if c == 0:
                ax.set_ylabel(f"{row}\nMSE loss", fontsize="small")
            if r == len(rows) - 1:
                ax.set_xlabel("epoch", fontsize="small")
    axes[0, 0].legend(fontsize="x-small", title="seed", title_fontsize="x-small")
    return fig


def plane(lo, hi, resolution, dtype=np.float32):
    """``(G0, G1, grid)``: a resolution × resolution grid over [lo_0, hi_0] × [lo_1, hi_1] of the input plane,
    as two ``(resolution, resolution)`` coordinate arrays and the ``(resolution², 2)`` points (row-major, x_1 fastest)."""
    G0, G1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    return G0, G1, np.stack([G0.ravel(), G1.ravel()], axis=1).astype(dtype)  # (resolution^2, 2)


def class_one_probability(net, out):
    """P(class 1) ``(n,)`` from a two-class net's output ``out`` (n, u^L): a^L (bce) or softmax(z^L)_1."""
    from ..losses import softmax

    return out[:, 0] if net.criterion == "bce" else softmax(out)[:, 1]


def decision_boundary(ax, net, X, y, title="", resolution=150, margin=0.5):
    """What a classifier predicts over the plane of X's two features, with the points coloured by class.

    One bce output or two cross_entropy outputs: the probability of class 1 (a^L, or
    softmax(z^L)_1) from blue (0) to red (1), the boundary p = 1/2 in black. More classes:
    each predicted class's region in its own colour. ``y``: class indices ``(n,)`` or 0/1 labels ``(n, 1)``.
    """
    if net.criterion not in ("bce", "cross_entropy") or net.units[0] != 2:
        raise ValueError(f"net: expected a classifier of two features, got {net!r}")
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    G0, G1, grid = plane(lo, hi, resolution, net.dtype)
    out = net.forward(grid)  # (resolution^2, u^L)
    labels = np.asarray(y).reshape(len(X), -1)[:, 0].astype(np.int64)  # (n,)
    u_L = net.units[-1]
    if u_L <= 2:
        P = class_one_probability(net, out).reshape(G0.shape)
        ax.contourf(G0, G1, P, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.45, vmin=0, vmax=1)
        ax.contour(G0, G1, P, levels=[0.5], colors="black", linewidths=1.2)
        ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="RdBu_r", vmin=0, vmax=1, s=10, edgecolors="white", linewidths=0.4)
    else:
        C = np.argmax(out, axis=1).reshape(G0.shape)
        ax.contourf(G0, G1, C, levels=np.arange(u_L + 1) - 0.5, cmap="tab10", vmin=-0.5, vmax=9.5, alpha=0.35)
        ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=10, edgecolors="white",
                   linewidths=0.4)
    ax.set(xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]), xlabel="x_1", ylabel="x_2", title=title)
    ax.set_aspect("equal")


def decision_boundary_figure(panels, columns=4, resolution=150):
    """One :func:`decision_boundary` panel per entry of ``panels``: title -> (net, X, y)."""
    rows = -(-len(panels) // columns)
    cols = min(columns, len(panels))
    fig = Figure(figsize=(3.3 * cols, 3.4 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (title, (net, X, y)) in zip(axes, panels.items()):
        decision_boundary(ax, net, X, y, title=title, resolution=resolution)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    return fig


def theta_figure(theta, title=""):
    """Each θ^j ``(u^{j+1}, u^j + 1)`` as a heat map, one panel per j, one colour scale for all.

    Row s is unit s of layer j+1, column k the weight from unit k of layer j; column 0, the bias
    (θ^j[:, 0], torch's ``bias``), is set off by a black line and labelled "bias". Blue is negative,
    red positive, white 0.
    """
    widths = [t.shape[1] for t in theta]
    fig = Figure(figsize=(min(2.0 + 1.6 * len(theta) + 0.12 * sum(widths), 11), 3.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(theta), width_ratios=[max(w, 2) for w in widths]))
    m = max(float(np.max(np.abs(t))) for t in theta) or 1.0
    for j, (ax, t) in enumerate(zip(axes, theta)):
        image = ax.imshow(t, cmap="RdBu_r", vmin=-m, vmax=m, aspect="auto", interpolation="nearest")
        ax.axvline(0.5, color="black", lw=2)
        step = max(1, t.shape[1] // 8)
        ax.set_xticks(range(0, t.shape[1], step), ["bias"] + [str(k) for k in range(step, t.shape[1], step)],
                      fontsize="small")
        ax.set_yticks(range(0, t.shape[0], max(1, t.shape[0] // 8)),
                      [str(s + 1) for s in range(0, t.shape[0], max(1, t.shape[0] // 8))], fontsize="small")
        ax.set_title(f"θ^{j}: {t.shape[0]} × {t.shape[1]}", fontsize="medium")
        ax.set_xlabel(f"unit of layer {j}", fontsize="small")
        ax.set_ylabel(f"unit of layer {j + 1}", fontsize="small")
    fig.colorbar(image, ax=list(axes), shrink=0.9)
    if title:
        fig.suptitle(title)
    return fig


def delta_norm_figure(epochs, norms, title="", ax=None):
    """‖δ^j‖ per layer j = 1..L over the epochs (log scale): gradients vanishing or exploding.

    ``epochs`` ``(k,)``: where each row of ``norms`` ``(k, L)`` was taken
    (:func:`scratchnn.diagnostics.delta_norms`); column j - 1 is layer j.
    """
    fig = None
    if ax is None:
        fig = Figure(figsize=(6, 3.5), layout="constrained")
        ax = fig.subplots()
    epochs, norms = np.asarray(epochs), np.atleast_2d(np.asarray(norms, dtype=np.float64))
    long_run = len(epochs) and epochs[-1] > LONG_RUN
    x = epochs + 1 if long_run else epochs
    for j in range(1, norms.shape[1] + 1):
        label = f"‖δ^{j}‖ (layer {j}{', output' if j == norms.shape[1] else ''})"
        ax.plot(x, np.maximum(norms[:, j - 1], 1e-300), lw=1.2, label=label)
    ax.set_yscale("log")
    if long_run:
        ax.set_xscale("log")
    ax.set(xlabel="epoch" + (" (+1, log scale)" if long_run else ""), ylabel="‖δ^j‖ (Frobenius)", title=title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


def _grouped(groups, members):
    """x of member k of group g, bars 0.8 / len(members) wide, and the width: groups 1 apart."""
    width = 0.8 / max(len(members), 1)
    x = {(g, m): i + (k - (len(members) - 1) / 2) * width for i, g in enumerate(groups) for k, m in enumerate(members)}
    return x, width


def timing_figure(ms=None, operations=None, reference="torch"):
    """Milliseconds per epoch by engine and model (log scale), and where an epoch's time goes.

    ``ms`` maps a model label ("1-5-1") to ``{engine: ms per epoch}``: one bar per engine in each
    model's group, and above every engine's bar but ``reference``'s the ratio reference's time /
    the engine's, measured in the same run ("3.2×": torch takes 3.2 times as long as the engine).
    ``operations`` maps a model label to ``{engine: {operation: ms per epoch}}``: one bar per engine,
    stacked from its operations in their order (forward + loss, backward, step; or one fused epoch),
    its total written on top. One panel per argument given, ``ms``'s on the left.
    """
    panels = [p for p in (ms, operations) if p]
    if not panels:
        raise ValueError("ms, operations: expected at least one of them to have a model")
    fig = Figure(figsize=(6.5 * len(panels), 4.6), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(1, len(panels))))
    if ms:
        ax = axes.pop(0)
        engines = list(dict.fromkeys(e for row in ms.values() for e in row))
        x, width = _grouped(list(ms), engines)
        for engine in engines:
            models = [m for m in ms if engine in ms[m]]
            ax.bar([x[m, engine] for m in models], [ms[m][engine] for m in models], width, label=engine,
                   color=ENGINE_COLORS.get(engine))
            if engine == reference:
                continue
            for m in models:
                if reference in ms[m]:
                    ax.text(x[m, engine], ms[m][engine] * 1.06, f"{ms[m][reference] / ms[m][engine]:.1f}×",
                            ha="center", va="bottom", fontsize="small")
        low = min(t for row in ms.values() for t in row.values())
        high = max(t for row in ms.values() for t in row.values())
        ax.set_yscale("log")
        # from the decade below the shortest bar (so it has a labelled tick) to room above the tallest for the legend
        ax.set_ylim(10 ** np.floor(np.log10(low / 1.5)), high * 2.5)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))  # 0.1, not 10^-1
        ax.set_xticks(range(len(ms)), list(ms))
        ax.set(xlabel="model", ylabel="ms per epoch (log scale)",
               title=f"Time per epoch; above the bars: {reference}'s time / the engine's")
        ax.grid(alpha=0.3, axis="y", which="both")
        ax.legend(fontsize="small", ncol=len(engines), loc="upper left")
    if operations:
        ax = axes.pop(0)
        engines = list(dict.fromkeys(e for row in operations.values() for e in row))
        names = list(dict.fromkeys(o for row in operations.values() for parts in row.values() for o in parts))
        x, width = _grouped(list(operations), engines)
        bars = [(m, e) for m in operations for e in engines if e in operations[m]]
        bottom = dict.fromkeys(bars, 0.0)
        for k, name in enumerate(names):
            mine = [b for b in bars if name in operations[b[0]][b[1]]]
            heights = [operations[m][e][name] for m, e in mine]
            ax.bar([x[b] for b in mine], heights, width * 0.92, bottom=[bottom[b] for b in mine], label=name,
                   color=OPERATION_COLORS[k % len(OPERATION_COLORS)])
            for b, h in zip(mine, heights):
                bottom[b] += h
        for b in bars:
            total = bottom[b]
            ax.text(x[b], total, f"{total:.3f}" if total < 1 else f"{total:.2f}", ha="center", va="bottom",
                    fontsize="small")
        ax.set_ylim(0, max(bottom.values()) * 1.3)  # room for the totals and the legend
        ax.set_xticks([x[b] for b in bars], [e for _, e in bars], fontsize="small")
        # the model under its engines: a second x axis, ticks at the groups' centres, below the engine names
        models = ax.secondary_xaxis("bottom")
        models.set_xticks(range(len(operations)), list(operations), fontweight="bold")
        models.tick_params(length=0, pad=20)
        models.set_xlabel("engine, model")
        models.spines["bottom"].set_visible(False)
        ax.set(ylabel="ms per epoch", title="Where an epoch's time goes (on top: the sum)")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize="small", loc="upper left", ncol=min(len(names), 2))
    return fig
