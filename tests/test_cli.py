"""The scratchnn command: workshop, fit, sweep; exit statuses 0, 1 (diverged), 2 (bad flags), 130 (Ctrl-C)."""

import argparse
import subprocess
import sys

import numpy as np
import pytest

import scratchnn as sn
from scratchnn.apps import cli
from scratchnn.apps import run as R


def test_workshop_without_torch(tmp_path, capsys):
    assert cli.main(["workshop", "--out", str(tmp_path), "--epochs", "20", "--no-torch"]) == 0
    out = capsys.readouterr().out
    assert "torch: not used (scratchnn only)" in out
    assert "1-5-5-1" in out and "wall time" in out
    assert (tmp_path / "losses.png").exists()


def test_workshop_with_torch(tmp_path, capsys):
    pytest.importorskip("torch")
    assert cli.main(["workshop", "--out", str(tmp_path), "--epochs", "20"]) == 0
    out = capsys.readouterr().out
    assert "loss torch" in out and "rel gap lockstep" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["function.png", "gap.png", "losses.png", "predictions.png"]


def test_fit_writes_history_figures_and_model(tmp_path, capsys):
    model = tmp_path / "m.npz"
    args = ["fit", "--units", "1,5,5,1", "--epochs", "30", "--batch-size", "500", "--optimizer", "sgd",
            "--momentum", "0.9", "--lr", "0.05", "--dtype", "float64", "--out", str(tmp_path), "--save", str(model)]
    assert cli.main(args) == 0
    assert "sgd lr 0.05 momentum 0.9" in capsys.readouterr().out
    net = sn.MLP.load(model)
    assert net.units == [1, 5, 5, 1] and net.dtype == np.float64
    history = np.load(tmp_path / "history.npz")
    assert history["1-5-5-1_scratch"].shape == (30,)
    assert (tmp_path / "losses.png").exists() and (tmp_path / "predictions.png").exists()


def test_fit_defaults_to_the_three_workshop_models(tmp_path, capsys):
    assert cli.main(["fit", "--epochs", "5", "--save", str(tmp_path / "m.npz")]) == 0
    out = capsys.readouterr().out
    for label in ("1-5-1", "1-10-1", "1-5-5-1"):
        assert label in out
        assert (tmp_path / f"m_{label}.npz").exists()


def test_fit_compare_torch(capsys):
    pytest.importorskip("torch")
    assert cli.main(["fit", "--units", "1,5,1", "--epochs", "20", "--compare-torch"]) == 0
    assert "relative gap to scratch" in capsys.readouterr().out


def test_fit_divergence_is_one_line_and_status_1(tmp_path, capsys):
    args = ["fit", "--units", "1,5,5,1", "--activation", "identity", "--optimizer", "sgd", "--lr", "50",
            "--epochs", "200", "--save", str(tmp_path / "m.npz"), "--out", str(tmp_path)]
    assert cli.main(args) == cli.EXIT_DIVERGED
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "diverged" in err[0] and "epoch" in err[0]
    assert "Traceback" not in captured.err
    assert "not saved" in captured.out and not (tmp_path / "m.npz").exists()
    assert (tmp_path / "history.npz").exists()


def test_fit_ctrl_c_writes_what_was_trained(tmp_path, monkeypatch, capsys):
    real_fit = R.fit
    chunks = []

    def interrupted_fit(net, X, Y, opt, k, *args, **kwargs):
        if len(chunks) == 2:
            real_fit(net, X, Y, opt, k, *args, **kwargs)  # trains the third chunk, interrupted before it returns
            raise KeyboardInterrupt
        chunks.append(k)
        return real_fit(net, X, Y, opt, k, *args, **kwargs)

    monkeypatch.setattr(R, "fit", interrupted_fit)
    model = tmp_path / "m.npz"
    # 3000 epochs of 1-5-1 take several chunks of at most CHUNK_SECONDS each
    args = ["fit", "--units", "1,5,1", "--epochs", "3000", "--engine", "numpy", "--save", str(model),
            "--out", str(tmp_path)]
    assert cli.main(args) == cli.EXIT_INTERRUPTED
    assert "interrupted" in capsys.readouterr().err
    loss = np.load(tmp_path / "history.npz")["1-5-1_scratch"]
    assert len(loss) == sum(chunks)  # the two whole chunks; the third rolled back
    # the saved model is the one at the end of the recorded history
    reference = sn.MLP([1, 5, 1], generator=10)
    X, Y = sn.workshop_data()
    sn.fit(reference, X, Y, sn.Adam(reference.theta, lr=0.015), len(loss))
    assert all(np.array_equal(a, b) for a, b in zip(sn.MLP.load(model).theta, reference.theta))


def exits_2_saying(argv, message, capsys):
    """``scratchnn ARGV`` is a flag error: exit status 2, and ``message`` on stderr."""
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "--units", "1,x,1"], "--units: expected comma-separated widths"),
        (["fit", "--units", "1"], "--units: expected at least two widths"),
        (["fit", "--lr", "0"], "--lr: expected a number > 0"),
        (["fit", "--epochs", "1.5"], "--epochs: expected an int"),
        (["fit", "--optimizer", "lbfgs"], "--optimizer: invalid choice"),
        (["fit", "--momentum", "0.9"], "--momentum: only SGD and RMSprop have momentum"),
        (["fit", "--seed", "-1"], "--seed: expected an int >= 0"),
        (["sweep", "--optimizers", "adam,lbfgs"], "--optimizers: expected adam and/or sgd"),
        (["sweep", "--lrs", "0.1,nope"], "--lrs"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_flags_exit_2_with_a_message(argv, message, capsys):
    exits_2_saying(argv, message, capsys)


def test_compare_torch_without_torch_is_a_flag_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torchref", None)  # None in sys.modules: `import torchref` fails, as without torch
    with pytest.raises(SystemExit) as exc:
        cli.main(["fit", "--compare-torch", "--epochs", "1"])
    assert exc.value.code == 2
    assert "torch is not installed" in capsys.readouterr().err


def test_sweep_writes_table_csv_and_figure(tmp_path, capsys):
    args = ["sweep", "--units", "1,5,1", "--units", "1,3,3,1", "--seeds", "0,1", "--lrs", "0.015,0.05",
            "--optimizers", "adam,sgd", "--epochs", "10", "--jobs", "2", "--out", str(tmp_path)]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "16 of 16 fits on disk (0 reused, 16 fitted now)" in out and "median final loss" in out
    rows = (tmp_path / "sweep.csv").read_text().splitlines()
    assert len(rows) == 1 + 16
    assert (tmp_path / "sweep.png").exists() and (tmp_path / "summary.txt").exists()
    assert len(list((tmp_path / "cells").iterdir())) == 16  # one file per cell (tests/test_sweep.py: resuming)


def test_python_dash_m_runs_the_command():
    done = subprocess.run([sys.executable, "-m", "scratchnn", "fit", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--compare-torch" in done.stdout


def test_workshop_runs_without_torch(tmp_path):
    # None in sys.modules makes every `import torch` raise ImportError, as on a machine without torch
    code = ("import sys; sys.modules['torch'] = None\n"
            "from scratchnn.apps.cli import main\n"
            f"status = main(['workshop', '--epochs', '5', '--out', {str(tmp_path)!r}])\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
            "sys.exit(status)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "torch is not installed: training with scratchnn only" in done.stdout
    assert "torch: not used (scratchnn only)" in done.stdout


def test_importing_the_command_does_not_import_torch():
    code = "import sys, scratchnn.apps.cli, scratchnn.apps.workshop, scratchnn.teaching.plots, scratchnn.preprocess; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# ------------------------------------------------------------ classification
def test_fit_classifies_a_playground_set_with_l2(tmp_path, capsys):
    model = tmp_path / "m.npz"
    args = ["fit", "--criterion", "cross_entropy", "--data", "xor", "--noise", "0.1", "--l2", "0.1", "--epochs", "150",
            "--lr", "0.03", "--out", str(tmp_path), "--save", str(model)]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "data xor, criterion cross_entropy, l2 0.1" in out and "2-8-8-2" in out
    assert "on the 500 test points" in out
    net = sn.MLP.load(model)
    assert net.criterion == "cross_entropy" and net.activations == ["tanh", "tanh", "identity"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boundary.png", "history.npz", "losses.png", "m.npz"]


def test_fit_bce_defaults_to_the_circle_with_a_sigmoid_output(capsys):
    assert cli.main(["fit", "--criterion", "bce", "--epochs", "5", "--engine", "numpy"]) == 0
    assert "data circle, criterion bce" in capsys.readouterr().out


def test_fit_compare_torch_follows_the_criterion(capsys):
    pytest.importorskip("torch")
    args = ["fit", "--criterion", "bce", "--data", "gauss", "--units", "2,4,1", "--epochs", "30", "--l2", "1",
            "--compare-torch", "--engine", "numpy"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    gap = float(out.split("relative gap to scratch ")[1].split()[0])
    assert gap < 1e-5  # float32 rounding over 30 free-running epochs of a well-conditioned fit


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "--criterion", "bce", "--data", "workshop"], "--criterion bce: the workshop data are a regression"),
        (["fit", "--criterion", "cross_entropy", "--units", "2,5,1"], "--units 2,5,1: the circle data with criterion "
                                                                      "cross_entropy take 2 inputs and 2 outputs"),
        (["fit", "--criterion", "nll"], "--criterion: invalid choice"),
        (["fit", "--l2", "-1"], "--l2: expected a number >= 0"),
        (["fit", "--criterion", "bce", "--noise", "2"], "--noise: expected a number in [0, 1]"),
        (["fit", "--criterion", "mse", "--data", "circle"], "--criterion mse: --data circle is a classification"),
        (["fit", "--criterion", "bce", "--data", "digits"], "--criterion bce: the digits have 10 classes"),
        (["play", "--port", "70000"], "--port: expected a port 1-65535"),
        (["fit", "--criterion", "cross_entropy", "--data", "digits", "--noise", "0.1"],
         "--noise: only the playground sets (circle, xor, gauss, spiral) take noise, not --data digits"),
    ],
)
def test_classification_flags_exit_2_with_a_message(argv, message, capsys):
    exits_2_saying(argv, message, capsys)


@pytest.mark.parametrize("flags", [["--lr", "1e6"], ["--optimizer", "sgd", "--lr", "1e4"]])
def test_fit_that_ends_far_above_its_start_exits_diverged(flags, capsys):
    argv = ["fit", "--units", "1,5,1", "--epochs", "300", "--engine", "numpy", *flags]
    assert cli.main(argv) == cli.EXIT_DIVERGED
    captured = capsys.readouterr()
    assert "warning: the loss ended above where it started" in captured.out
    assert "warning: the net is saturated" in captured.out  # every tanh unit pinned at ±1
    [line] = captured.err.strip().splitlines()
    assert line.startswith("scratchnn fit: 1-5-1 the loss ended above where it started") and "diverged" in line


def test_every_flag_has_a_help_text_and_shows_its_default():
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"scratchnn {name} {action.option_strings[0]}: no help text"
                if action.default not in (None, False) and action.nargs != 0:
                    default = action.default
                    written = ",".join(map(str, default)) if isinstance(default, list) else str(default)
                    shown = "%(default)s" in action.help or written in action.help
                    assert shown, f"scratchnn {name} {action.option_strings[0]}: the default is not shown"


# ------------------------------------------------------------- AdamW, RMSprop, Adagrad and schedules
@pytest.mark.parametrize("flags,said", [
    (["--optimizer", "adamw", "--schedule", "cosine"], "adamw lr 0.015 schedule cosine"),
    (["--optimizer", "rmsprop", "--momentum", "0.5", "--weight-decay", "0.01", "--schedule", "step", "--step-size",
      "5", "--gamma", "0.5"], "rmsprop lr 0.015 momentum 0.5 weight decay 0.01 schedule step"),
    (["--optimizer", "adagrad", "--schedule", "exp", "--gamma", "0.99"], "adagrad lr 0.015 schedule exp"),
    (["--optimizer", "sgd", "--schedule", "cosine", "--t-max", "10", "--eta-min", "0.001"],
     "sgd lr 0.015 schedule cosine"),
])
def test_fit_with_the_new_optimizers_and_schedules_runs_on_numba(flags, said, capsys):
    assert cli.main(["fit", "--units", "1,5,1", "--epochs", "20", *flags]) == 0  # --engine auto
    captured = capsys.readouterr()
    assert said in captured.out and "engine numba" in captured.out
    assert captured.err == ""


def test_fit_compare_torch_with_a_schedule(capsys):
    pytest.importorskip("torch")
    argv = ["fit", "--units", "1,5,1", "--epochs", "20", "--optimizer", "adamw", "--schedule", "step", "--step-size",
            "5", "--dtype", "float64", "--compare-torch"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    gap = float(out.split("relative gap to scratch ")[1].split()[0])
    assert gap < 1e-12  # float64 free-running, 20 epochs: measured ~1e-16


@pytest.mark.parametrize("argv, message", [
    (["fit", "--gamma", "0.5"], "--gamma: only --schedule step or exp takes it"),
    (["fit", "--step-size", "3"], "--step-size: only --schedule step takes it"),
    (["fit", "--schedule", "exp", "--t-max", "9", "--gamma", "0.9"], "--t-max: only --schedule cosine takes it"),
    (["fit", "--schedule", "step", "--eta-min", "0.1", "--step-size", "2"],
     "--eta-min: only --schedule cosine takes it"),
    (["fit", "--schedule", "step"], "--step-size: --schedule step needs it"),
    (["fit", "--schedule", "exp"], "--gamma: --schedule exp needs it"),
    (["fit", "--schedule", "linear"], "--schedule: invalid choice"),
    (["fit", "--schedule", "step", "--step-size", "0"], "--step-size: expected an int > 0"),
    (["fit", "--schedule", "exp", "--gamma", "0"], "--gamma: expected a number > 0"),
    (["fit", "--weight-decay", "-0.1"], "--weight-decay: expected a number >= 0"),
    (["fit", "--optimizer", "adagrad", "--momentum", "0.9"], "--momentum: only SGD and RMSprop have momentum"),
])
def test_schedule_flags_exit_2_naming_the_flag(argv, message, capsys):
    exits_2_saying(argv, message, capsys)


# ------------------------------------------------------------- batch norm, layer norm and dropout
@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_fit_with_a_norm_and_dropout(norm, tmp_path, capsys):
    model = tmp_path / "m.npz"
    argv = ["fit", "--units", "1,5,5,1", "--epochs", "10", "--norm", norm, "--dropout", "0.25", "--save", str(model),
            "--dtype", "float64"]
    assert cli.main(argv) == 0  # --engine auto: numba
    captured = capsys.readouterr()
    assert f"engine numba, norm {norm}, dropout 0.25" in captured.out
    assert captured.err == ""
    net = sn.MLP.load(model)
    assert (net.norm, net.dropout, net.training) == (norm, 0.25, False)  # evaluated, and saved, in eval mode
    assert len(net.params) == 3 + 2 + 2  # θ^0..θ^2, then γ^1, γ^2, then β^1, β^2


def test_fit_with_dropout_only_names_dropout(capsys):
    argv = ["fit", "--criterion", "bce", "--data", "xor", "--epochs", "5", "--dropout", "0.1", "--dtype", "float64"]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "data xor, criterion bce, dropout 0.1" in captured.out and "accuracy" in captured.out


@pytest.mark.parametrize("argv, message", [
    (["fit", "--dropout", "1"], "argument --dropout: expected a number in [0, 1)"),
    (["fit", "--dropout", "-0.1"], "argument --dropout: expected a number in [0, 1)"),
    (["fit", "--dropout", "nan"], "argument --dropout: expected a number in [0, 1)"),
    (["fit", "--dropout", "half"], "argument --dropout: expected a number in [0, 1)"),
    (["fit", "--norm", "group"], "argument --norm: invalid choice"),
    (["fit", "--norm", "batch", "--batch-size", "1"], "--norm batch: a batch of one point has no variance"),
    (["fit", "--norm", "batch", "--batch-size", "2999"], "every batch of the 3000 (2999 leaves 1)"),  # the last batch
])
def test_norm_and_dropout_flags_exit_2_naming_the_flag(argv, message, capsys):
    exits_2_saying(argv, message, capsys)
