"""What the playground says of a :class:`~.session.PlayRun`: its status line and a few lines of text, and
its figures as :mod:`scratchnn.teaching.plots` draws them (matplotlib: the notebooks' and the bench's; the
page draws the same quantities natively, :mod:`.live`).

No widgets here, and no mathematics: every figure is one of ``plots``' functions, every number
comes from the run (the engine computed it).
"""

import io

from ...teaching import plots
from ...metrics import accuracy
from ...table import units_label
from ..run import relative_gap

VIEWS = ("data", "loss", "theta", "delta", "gap")  # in the order the page draws them
DPI = 80
SIZES = {"data": (6, 4), "loss": (6, 4), "delta": (6, 3.6), "gap": (4.6, 3.6)}  # inches; the others keep theirs


def label(run):
    """``"1-5-5-1 tanh"``: the net, as the views name it."""
    return f"{units_label(run.net.units)} {run.settings.activation}"


def figures(run):
    """One matplotlib Figure per view of ``run`` (``VIEWS``; "gap" only with the torch comparison)."""
    s, net, name = run.settings, run.net, units_label(run.net.units)
    torch_net, torch_loss = run.torch_net(), run.torch_loss
    if s.data == "workshop":
        predictions = {f"{name} scratch": net.forward(run.X_show)}
        if torch_net is not None:
            predictions[f"{name} torch"] = torch_net.forward(run.X_show)
        data = plots.predictions_figure(run.X, run.Y, run.X_show, predictions)
    else:
        nets = {"scratchnn": net, "torch": torch_net}
        panels = {f"{engine}, test accuracy {accuracy(n, run.X_show, run.y_show):.0%}": (n, run.X_show, run.y_show)
                  for engine, n in nets.items() if n is not None}  # the test points, coloured by their class
        data = plots.decision_boundary_figure(panels, columns=2, resolution=80)
    curves = {f"{name} scratch ({s.engine})": run.loss}
    if torch_loss is not None:
        curves[f"{name} torch"] = torch_loss
    optimizer = f"{s.optimizer if s.optimizer != 'momentum' else 'sgd, momentum'} lr {s.lr:g}"
    result = {
        "data": data,
        "loss": plots.loss_figure(curves, title=f"{label(run)}, {optimizer}", ylabel=f"{net.criterion} loss"),
        "theta": plots.theta_figure(net.theta),
        "delta": plots.delta_norm_figure(run.delta_epochs, run.delta, title="the error δ^j of each layer"),
    }
    if torch_loss is not None and len(torch_loss):
        result["gap"] = plots.gap_figure({name: {"free-running": relative_gap(run.loss, torch_loss)}}, dtype=net.dtype)
    for view, fig in result.items():
        if view in SIZES and (view != "data" or s.data == "workshop"):
            fig.set_size_inches(*SIZES[view])
    return result


def png(fig, dpi=DPI):
    """``fig`` as PNG bytes, as the page shows it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def describe(settings):
    """``"tanh, adam, lr 0.015, seed 10"``: the settings a status line names (the lr as the slider shows it),
    then those off their defaults: the schedule, L2 λ, the norm, dropout p, a playground set's train share."""
    s = settings
    optimizer = "sgd+momentum" if s.optimizer == "momentum" else s.optimizer
    text = f"{s.activation}, {optimizer}, lr {s.lr:g}, seed {s.seed}"
    extras = [f"{s.schedule} schedule" if s.schedule != "none" else "", f"L2 λ {s.l2:g}" if s.l2 else "",
              f"{s.norm} norm" if s.norm != "none" else "", f"dropout {s.dropout:g}" if s.dropout else "",
              f"train {s.train_share:.0%}" if s.data != "workshop" and s.train_share != 0.5 else ""]
    return ", ".join([text] + [e for e in extras if e])


def ready(run):
    """The page's status once ``run`` is drawn, e.g. ``"ready: 1-5-5-1 tanh, adam, lr 0.015, seed 10, 1000 epochs,
    float32: loss 3.52e-04"`` (a stopped run: ``"340 of 1000 epochs"``; torch's last loss beside it;
    for classification the train and test accuracy)."""
    s = run.settings
    epochs = f"{run.epochs} epochs" if run.epochs == s.epochs else f"{run.epochs} of {s.epochs} epochs"
    text = f"ready: {units_label(run.net.units)} {describe(s)}, {epochs}, {s.dtype}: "
    if not run.epochs:
        return text + "no epoch trained"
    text += f"loss {run.loss[-1]:.2e}"
    torch_loss = run.torch_loss
    if torch_loss is not None and len(torch_loss):
        text += f" (torch {torch_loss[-1]:.2e})"
    if run.val_loss is not None and len(run.val_loss):
        text += f", test loss {run.val_loss[-1]:.2e}"
    if s.data != "workshop":
        text += (f", train accuracy {accuracy(run.net, run.X, run.Y):.1%}, "
                 f"test accuracy {accuracy(run.net, run.X_show, run.y_show):.1%}")
    return text


def training(settings, run=None):
    """The page's status while ``settings``' run trains (``run``: as far as it went), e.g.
    ``"training 1-5-5-1 tanh, adam, lr 0.015, seed 10: epoch 400 of 1000, loss 1.21e-03"``; with torch
    on, once scratchnn is drawn: ``"training torch (scratchnn drawn: ...)"``."""
    s = settings
    if run is None:
        return f"training {describe(s)}: {s.epochs:,} epochs ..."
    name = f"{units_label(run.net.units)} {describe(s)}"
    if run.torch_running and run.status != "running":
        done = len(run.torch_loss)
        return f"training torch: epoch {done:,} of {run.epochs:,} (scratchnn drawn: {name}, loss {run.loss[-1]:.2e})"
    loss = f", loss {run.loss[-1]:.2e}" if run.epochs else ""
    return f"training {name}: epoch {run.epochs:,} of {s.epochs:,}{loss}"


def summary(run):
    """One line: the net, the epochs trained, the last loss (and torch's, and the accuracy).

    "final loss" once the run has ended; "loss at epoch e" while it trains (a streamed view).
    """
    s, net = run.settings, run.net
    if not run.epochs:
        return f"{label(run)}: no epoch trained"
    if run.status == "running":
        text = f"{label(run)}, {s.dtype}, training: loss at epoch {run.epochs - 1} {run.loss[-1]:.4e}"
    else:
        text = f"{label(run)}, {s.dtype}, {run.epochs} epochs in {run.seconds:.2f} s: final loss {run.loss[-1]:.4e}"
    torch_loss = run.torch_loss
    if torch_loss is not None and len(torch_loss):
        text += f" (torch {torch_loss[-1]:.4e})"
    if s.data != "workshop" and run.epochs:
        text += f", test accuracy {accuracy(net, run.X_show, run.y_show):.1%}"
    return text


def shapes(run):
    """``"θ^0: 5 × 2, θ^1: 5 × 6, θ^2: 1 × 6"``: the shape u^{j+1} × (u^j + 1) of each θ^j."""
    return ", ".join(f"θ^{j}: {t.shape[0]} × {t.shape[1]}" for j, t in enumerate(run.net.theta))
