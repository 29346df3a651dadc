"""The workshop's figures, headless: every function returns a matplotlib ``Figure``.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot), so nothing
here needs a display or changes the global backend; :func:`save` writes PNG
through Agg. In a notebook a returned Figure shows itself.
"""

import numpy as np
from matplotlib.figure import Figure

LONG_RUN = 20000  # epochs beyond which a loss curve is drawn as a per-window envelope
MODEL_COLORS = ("tab:red", "tab:orange", "tab:green", "tab:blue", "tab:purple", "tab:brown", "tab:pink")


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


def loss_figure(curves, title="", ax=None):
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
    ax.set(xlabel="epoch" + (" (+1, log scale)" if long_run else ""), ylabel="MSE loss", title=title)
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


def gap_figure(gaps, window=10, floor=1e-9):
    """Relative loss gap |L_scratch - L_torch| / L_torch per epoch, one panel per model, log scale.

    ``gaps`` maps a model label to ``{mode: gap per epoch}``. Each curve is the
    largest gap over the last ``window`` epochs (the raw gap flickers between
    0 and one rounding unit); exact agreement is drawn at ``floor``.
    """
    fig = Figure(figsize=(4 * len(gaps), 4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(gaps), sharey=True))
    for ax, (label, modes) in zip(axes, gaps.items()):
        for mode, gap in modes.items():
            ax.plot(np.arange(len(gap)), np.maximum(_window_max(gap, window), floor), lw=1.2, label=mode)
        ax.axhline(np.finfo(np.float32).eps, color="grey", ls=":", lw=1, label="float32 epsilon")
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
