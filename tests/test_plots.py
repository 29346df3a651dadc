"""scratchnn.teaching.plots: every figure builds headless and writes a PNG."""

import numpy as np
import pytest
from matplotlib.figure import Figure

import scratchnn as sn
from scratchnn.teaching import plots
from scratchnn.data import workshop_raw

PNG_MAGIC = b"\x89PNG"


def saved(fig, tmp_path, name):
    path = tmp_path / name
    plots.save(fig, path)
    assert path.read_bytes()[:4] == PNG_MAGIC
    return path


def test_function_figure(tmp_path):
    x, y = workshop_raw()
    X, Y = sn.workshop_data()
    fig = plots.function_figure(x, y, X, Y)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    saved(fig, tmp_path, "f.png")


def test_loss_figure_is_log_scale_with_a_legend(tmp_path):
    curves = {"1-5-1 scratch": np.geomspace(1, 1e-3, 50), "1-5-1 torch": np.geomspace(1, 2e-3, 50)}
    fig = plots.loss_figure(curves, title="t")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(curves)
    saved(fig, tmp_path, "l.png")


def test_loss_figure_draws_into_a_given_axes():
    fig = Figure()
    ax = fig.subplots()
    assert plots.loss_figure({"a": np.ones(3)}, ax=ax) is None
    assert len(ax.lines) == 1


def test_predictions_figure(tmp_path):
    X, Y = sn.workshop_data()
    Xt = X[::60]
    fig = plots.predictions_figure(X, Y, Xt, {"1-5-1 scratch": Xt * 0, "1-5-1 torch": Xt * 0})
    assert len(fig.axes[0].collections) == 2
    saved(fig, tmp_path, "p.png")


def test_gap_figure_handles_exact_zeros(tmp_path):
    gap = np.array([0.0, 1e-7, 0.0, 1e-3])
    fig = plots.gap_figure({"1-5-1": {"free-running": gap}, "1-10-1": {"free-running": gap}})
    line = fig.axes[0].lines[0]
    assert np.all(line.get_ydata() > 0)  # zeros are drawn at the floor, not dropped by the log axis
    saved(fig, tmp_path, "g.png")


def test_window_max():
    np.testing.assert_array_equal(plots._window_max([1, 3, 2, 0, 0, 0], 3), [1, 3, 3, 3, 2, 0])


@pytest.mark.parametrize("rows, cols", [(["1-5-1"], ["adam lr 0.1"]), (["a", "b"], ["x", "y", "z"])])
def test_sweep_figure_grid(tmp_path, rows, cols):
    curves = {(r, c): {"0": np.geomspace(1, 0.1, 10)} for r in rows for c in cols}
    fig = plots.sweep_figure(curves, rows, cols)
    assert len(fig.axes) == len(rows) * len(cols)
    saved(fig, tmp_path, "s.png")


def test_long_runs_are_drawn_as_an_envelope_on_a_log_epoch_axis(tmp_path):
    loss = np.abs(np.sin(np.arange(plots.LONG_RUN * 3))) + 1e-3
    fig = plots.loss_figure({"1-5-1 scratch": loss})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert len(ax.lines[0].get_xdata()) < len(loss)  # one point per window, not per epoch
    epoch, low, median, high = plots._envelope(loss)
    assert np.all(low <= median) and np.all(median <= high)
    assert low.min() == loss.min() and high.max() == loss.max()  # the windows cover every epoch
    saved(fig, tmp_path, "long.png")


def test_figures_show_themselves_as_png_in_a_notebook():
    """Jupyter calls _repr_png_: a bare matplotlib Figure would show only '<Figure size ...>'."""
    fig = plots.loss_figure({"1-5-1": np.linspace(1.0, 0.1, 50)}, title="t")
    png = fig._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000


def test_decision_boundary_figure(tmp_path):
    X, y = sn.datasets.playground("xor", n=60, seed=1)
    bce = sn.MLP([2, 4, 1], ["tanh", "sigmoid"], criterion="bce")
    three = sn.MLP([2, 4, 3], ["tanh", "identity"], criterion="cross_entropy")
    labels = np.arange(60) % 3
    fig = plots.decision_boundary_figure({"bce": (bce, X, y), "3 classes": (three, X, labels)}, resolution=20)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["bce", "3 classes"]
    saved(fig, tmp_path, "b.png")
    with pytest.raises(ValueError, match="classifier of two features"):
        plots.decision_boundary_figure({"mse": (sn.MLP([2, 3, 1]), X, y)})


def test_theta_figure_draws_each_theta_with_its_bias_column_marked(tmp_path):
    net = sn.MLP([1, 5, 3, 1], generator=10)
    fig = plots.theta_figure(net.theta)
    panels = fig.axes[:net.L]  # then the colour bar
    assert [ax.get_title() for ax in panels] == ["θ^0: 5 × 2", "θ^1: 3 × 6", "θ^2: 1 × 4"]
    for ax, theta in zip(panels, net.theta):
        assert ax.get_xticklabels()[0].get_text() == "bias"
        assert ax.lines[0].get_xdata()[0] == 0.5  # the line between the bias column 0 and the weights
        np.testing.assert_array_equal(ax.images[0].get_array(), theta)
    saved(fig, tmp_path, "theta.png")


def test_delta_norm_figure_has_one_log_scale_curve_per_layer(tmp_path):
    epochs = np.arange(0, 1001, 100)
    norms = np.geomspace(1e-2, 1e-4, len(epochs))[:, None] * np.array([0.1, 1.0, 3.0])  # (k, L = 3)
    fig = plots.delta_norm_figure(epochs, norms)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.lines) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "‖δ^3‖ (layer 3, output)"
    saved(fig, tmp_path, "delta.png")


def test_timing_figure_draws_the_given_times_and_the_ratios_to_torch(tmp_path):
    ms = {"1-5-1": {"numpy": 0.15, "numba": 0.02, "torch": 0.48}, "1-5-5-1": {"numpy": 0.25, "torch": 0.71}}
    operations = {"1-5-1": {"numpy": {"forward + loss": 0.05, "backward": 0.08, "Adam step": 0.03},
                            "numba": {"whole epoch (fused)": 0.02},
                            "torch": {"forward + loss": 0.2, "backward": 0.15, "Adam step": 0.12}}}
    fig = plots.timing_figure(ms, operations)
    per_engine, per_operation = fig.axes[:2]  # then the model labels' second x axis
    assert per_engine.get_yscale() == "log"
    assert [t.get_text() for t in per_engine.get_xticklabels()] == ["1-5-1", "1-5-5-1"]
    heights = {c.get_label(): [p.get_height() for p in c] for c in per_engine.containers}
    assert heights == {"numpy": [0.15, 0.25], "numba": [0.02], "torch": [0.48, 0.71]}
    # torch's time / the engine's, above each bar but torch's: 0.48/0.15, 0.71/0.25, 0.48/0.02
    assert sorted(t.get_text() for t in per_engine.texts) == ["2.8×", "24.0×", "3.2×"]

    engines = [t.get_text() for t in per_operation.get_xticklabels()]
    assert engines == ["numpy", "numba", "torch"]
    x_of = dict(zip(engines, per_operation.get_xticks()))
    for c in per_operation.containers:
        for p in c:
            engine = min(x_of, key=lambda e: abs(x_of[e] - p.get_x() - p.get_width() / 2))
            parts = operations["1-5-1"][engine]
            assert p.get_height() == pytest.approx(parts[c.get_label()])
            names = list(parts)  # stacked in their order: the bottom is the sum of the ones before
            assert p.get_y() == pytest.approx(sum(parts[o] for o in names[:names.index(c.get_label())]))
    assert [t.get_text() for t in per_operation.get_legend().get_texts()] == \
        ["forward + loss", "backward", "Adam step", "whole epoch (fused)"]
    assert sorted(t.get_text() for t in per_operation.texts) == ["0.020", "0.160", "0.470"]  # the sums on top
    saved(fig, tmp_path, "timing.png")


def test_timing_figure_draws_one_panel_per_argument_given():
    assert len(plots.timing_figure({"1-5-1": {"numpy": 0.1, "torch": 0.3}}).axes) == 1
    assert plots.timing_figure(operations={"1-5-1": {"numpy": {"backward": 0.1}}}).axes[0].get_yscale() == "linear"
    with pytest.raises(ValueError, match="at least one"):
        plots.timing_figure()
