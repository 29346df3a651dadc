"""scratchnn play: the session (no widgets), the page driven from Python, and the served page in Chromium.

The browser tests start ``scratchnn play --no-browser`` on a free port of 127.0.0.1 and drive it
with Playwright in Debian's ``chromium`` (Playwright's own browser download is not used); they skip,
saying why, where playwright or chromium is missing. Every wait is bounded.
"""

import dataclasses
import html
import os
import re
import shutil
import subprocess
import sys
import time
from urllib.parse import urlparse

import numpy as np
import pytest

import scratchnn as sn
from scratchnn.diagnostics import delta_norms
from scratchnn.apps.play import session as ss
from scratchnn.apps.play import views

PNG_MAGIC = b"\x89PNG"
RETRAIN_TIMEOUT = 60  # seconds a change may take to retrain and redraw (a cold numba cache compiles first)


def _python(code, block=()):
    """Run ``code`` in a fresh interpreter in which importing any module of ``block`` fails."""
    prelude = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in block)
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(__file__)))


# ------------------------------------------------------------------------------------ the page, in Chromium
# First in the file: pytest -n 2 hands out tests in file order, so the one long browser test starts at once on
# one worker while the other worker runs the rest of the file.
def _browser_missing():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; CI installs it with the dev extra)"
    try:
        import panel  # noqa: F401
    except ImportError:
        return "panel is not installed (pip install -e '.[play]')"
    if shutil.which("chromium") is None:
        return "no chromium on PATH (Debian: apt-get install -y chromium; .ci/run installs it)"
    return None


def browser(test):
    """Mark a test as driving Chromium (``-m "not browser"`` leaves it out); skip it, saying why, without one."""
    return pytest.mark.browser(pytest.mark.skipif(_browser_missing() is not None, reason=str(_browser_missing()))(test))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``scratchnn play --no-browser`` on a free port of 127.0.0.1; yields its URL; killed at teardown."""
    from scratchnn.apps.play.screenshot import serving

    try:
        with serving(log=tmp_path_factory.mktemp("play") / "server.log") as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    from scratchnn.apps.play.screenshot import launch

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


def _new_page(chromium, url, width=1500, height=1250, wait=True):
    """A page on the served app, its first run drawn (``wait=False``: only asked for); its requests are recorded."""
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(RETRAIN_TIMEOUT * 1000)
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("websocket", lambda ws: page.requests.append(ws.url))
    page.goto(url, wait_until="load" if wait else "commit")
    if wait:
        _ready(page)
    return page


def _ready(page, pattern="ready:"):
    """Wait (bounded) until the status hook says every change is trained and drawn; returns its text."""
    from playwright.sync_api import expect

    from scratchnn.apps.play.screenshot import status_text

    expect(page.locator(".sn-status")).to_contain_text(re.compile(f"^{pattern}"), timeout=RETRAIN_TIMEOUT * 1000)
    return status_text(page)


def _status_text(page):
    from scratchnn.apps.play.screenshot import status_text

    return status_text(page)


# what the browser draws: a source of live.Figures (named "sn-<name>") as Bokeh holds it in the page
_DRAWN = """(name) => {
  const d = window.Bokeh.documents[0].get_model_by_name('sn-' + name).data;
  const column = Array.from(d.y || d.value || []);
  return [Array.from(d.x || d.image || []).length, column.reduce((a, b) => a + b, 0)];
}"""


def _drawn(page, name):
    """``(points, sum of y)`` of the source ``name`` as drawn in the page: a change of either is a new drawing."""
    return tuple(page.evaluate(_DRAWN, name))


def _off_machine(urls):
    """The requests that left 127.0.0.1 (blob: and data: URLs are the page's own)."""
    return [u for u in urls if urlparse(u).scheme not in ("blob", "data") and urlparse(u).hostname != "127.0.0.1"]


def _enter(page, field, text):
    box = page.locator(f".play-{field} input")
    box.fill(text)
    box.press("Enter")


def _press(page, field, *keys):
    """Keys on a slider's handle (ArrowRight: one step up, Home: the first value, End: the last)."""
    page.locator(f".play-{field} .noUi-handle").focus()
    for key in keys:
        page.keyboard.press(key)


_SLIDE = """([field, index]) => {
  for (const m of window.Bokeh.documents[0].all_models)
    if (m.type === 'Slider' && (m.css_classes || []).includes('play-' + field)) m.value = index;
}"""


def _slide_lr(page, lr):
    """The learning-rate slider dragged to ``lr`` (its Bokeh model set in the page: one change, as a drag makes;
    a burst of key presses on a page under load can lose or delay a step)."""
    from playwright.sync_api import expect

    page.evaluate(_SLIDE, ["lr", [f"{v:g}" for v in ss.LEARNING_RATES].index(lr)])
    expect(page.locator(".bk-Div.play-lr b")).to_have_text(lr)


def _select(page, field, value):
    """Pick ``value`` (a Settings value) in a Select, by the label the page shows for it."""
    labels = {"optimizer": ss.OPTIMIZERS, "schedule": ss.SCHEDULES,
              "data": {"workshop": "workshop: 3 sin(x/100) cos(x/10)"}}.get(field, {})
    page.locator(f".play-{field} select").select_option(label=labels.get(value, value))


def _changes_the_drawing(page, change, pattern, source="loss"):
    """Make ``change``; wait for ``ready:`` matching ``pattern``; assert ``source`` is drawn anew; returns the status."""
    before = _drawn(page, source)
    change()
    status = _ready(page, pattern)
    after = _drawn(page, source)
    assert after != before, f"{pattern!r}: the {source} drawn did not change ({before})"
    return status


# One browser test walks one page through the issue's list, so the module starts one server and one
# Chromium, on one xdist worker, and loads few pages (each page load costs seconds): its steps are the
# functions below, each named for what it checks.
def _change_to_drawn_latency_is_measured(page):
    from bench.play import browser_latency

    seconds = browser_latency(page, changes=2)  # the workshop's 1-5-5-1, 1000 epochs: lr up and down again
    print(f"change to drawn in Chromium: {', '.join(f'{s:.3f}' for s in seconds)} s")
    assert len(seconds) == 2 and all(0 < s < RETRAIN_TIMEOUT for s in seconds)


def _controls_retrain_and_redraw(page):
    from playwright.sync_api import expect

    shapes = page.locator(".play-shapes p")
    expect(shapes).to_have_text("θ^0: 5 × 2, θ^1: 5 × 6, θ^2: 1 × 6")
    first = _ready(page, r"ready: 1-5-5-1 tanh, adam, lr 0\.015, seed 10, 1000 epochs, float32: loss \S+$")
    assert _drawn(page, "loss")[0] == 1000 and _drawn(page, "val_loss")[0] == 0  # the workshop set: no test points
    second = _changes_the_drawing(page, lambda: _press(page, "lr", "ArrowRight"),  # one step up the log scale
                                  r"ready: 1-5-5-1 tanh, adam, lr 0\.03, seed 10")
    expect(page.locator(".bk-Div.play-lr b")).to_have_text("0.03")
    assert second.split("loss ")[1] != first.split("loss ")[1]
    _changes_the_drawing(page, lambda: _enter(page, "hidden", "8, 4"), r"ready: 1-8-4-1 tanh, adam, lr 0\.03, seed 10")
    expect(shapes).to_have_text("θ^0: 8 × 2, θ^1: 4 × 9, θ^2: 1 × 5")
    _changes_the_drawing(page, lambda: _enter(page, "seed", "3"), r"ready: 1-8-4-1 tanh, adam, lr 0\.03, seed 3, 1000")


def _bad_input_in_every_field_shows_a_message_and_keeps_the_status(page):
    from playwright.sync_api import expect

    status, drawn = _ready(page), _drawn(page, "loss")
    message = page.locator(".play-message")
    for field, text, words in (("hidden", "5, 0", "hidden widths: every layer needs at least 1 unit, got 5, 0"),
                               ("hidden", "five", "'five' is not a whole number"),
                               ("seed", "1e9", "seed: expected a whole number >= 0, like 10; got '1e9'"),
                               ("seed", "3.7", "got '3.7'"), ("seed", "-1", "got '-1'"),
                               ("seed", "9" * 30, "at most 2^64 - 1")):
        _enter(page, field, text)
        expect(message).to_contain_text(words)  # as typed: no Markdown mangling
        assert _status_text(page) == status and _drawn(page, "loss") == drawn
    expect(page.locator(".play-stop button")).to_be_disabled()
    _enter(page, "seed", "3")
    _enter(page, "hidden", "8, 4")
    expect(message).to_be_hidden()
    _ready(page, r"ready: 1-8-4-1 tanh, adam, lr 0\.03, seed 3, 1000")


def _playground_lessons_each_change_what_is_drawn(page):
    net = r"ready: 2-8-4-1 tanh, "
    _press(page, "epochs", "ArrowLeft")  # 300 epochs: a dozen retrains below take a third of the time
    status = _changes_the_drawing(page, lambda: _select(page, "data", "xor"), net + r"adam, lr 0\.03, seed 1, 300 "
                                  r"epochs, float32: loss \S+, test loss \S+, train accuracy \S+, test accuracy \S+$")
    assert _drawn(page, "train")[0] == _drawn(page, "test")[0] == 500  # circles and triangles, half and half
    assert _drawn(page, "val_loss")[0] == 300 and _drawn(page, "image")[0] == 1  # the test loss beside the training's
    _changes_the_drawing(page, lambda: _press(page, "train-share", "ArrowRight"), net + r".*, train 60%, 300",
                         source="val_loss")
    assert (_drawn(page, "train")[0], _drawn(page, "test")[0]) == (600, 400)
    _changes_the_drawing(page, lambda: _press(page, "l2", "ArrowRight"), net + r".*, L2 λ 0\.0001, train 60%")
    _changes_the_drawing(page, lambda: _select(page, "norm", "layer"), net + r".*, L2 λ 0\.0001, layer norm, train")
    _changes_the_drawing(page, lambda: _press(page, "dropout", "ArrowRight"), net + r".*, layer norm, dropout 0\.05,")
    for optimizer in ("adamw", "rmsprop", "adagrad", "sgd"):
        _changes_the_drawing(page, lambda: _select(page, "optimizer", optimizer), net + optimizer + r", lr 0\.03")
    for schedule in ("step", "exp", "cosine"):
        _changes_the_drawing(page, lambda: _select(page, "schedule", schedule), net + rf"sgd, .*, {schedule} schedule,")
    assert status != _status_text(page)


def _play_pause_step_and_reset(page):
    from playwright.sync_api import expect

    _changes_the_drawing(page, lambda: page.locator(".play-step button").click(), r"ready: .*, 301 epochs, ")
    assert _drawn(page, "loss")[0] == 301
    page.locator(".play-play button").click()
    expect(page.locator(".sn-status")).to_contain_text(re.compile(r"^training 2-8-4-1 .*: epoch [\d,]+ of"))
    assert wait_until(lambda: _drawn(page, "loss")[0] > 301)  # play streams the curve while it runs
    page.locator(".play-pause button").click()
    paused = _ready(page, r"ready: 2-8-4-1 .*, \d+ epochs, ")
    epochs = int(re.search(r", (\d+) epochs, ", paused).group(1))
    assert epochs > 301 and _drawn(page, "loss")[0] == -(-epochs // live_stride(epochs))  # drawn to the last epoch
    _changes_the_drawing(page, lambda: page.locator(".play-reset button").click(),
                         r"ready: 2-8-4-1 .*, 0 epochs, float32: no epoch trained$")
    assert _drawn(page, "loss")[0] == 0
    _changes_the_drawing(page, lambda: page.locator(".play-step button").click(), r"ready: .*, 1 epochs, ")


def _dead_and_saturated_nets_are_warned_about(page):
    from playwright.sync_api import expect

    _enter(page, "hidden", "5, 5")
    _press(page, "lr", "ArrowLeft")
    _select(page, "activation", "relu")
    _enter(page, "seed", "1")
    _ready(page, "ready: 1-5-5-1 relu, adam, lr 0.015, seed 1, 1000 epochs")
    expect(page.locator(".play-message")).to_contain_text(re.compile(r"the net is dead: .* try a smaller learning"))
    _select(page, "activation", "tanh")
    _press(page, "lr", "End")  # the slider's last value: lr 10
    _ready(page, "ready: 1-5-5-1 tanh, adam, lr 10, seed 1")
    expect(page.locator(".play-message")).to_contain_text("the net is saturated")
    _enter(page, "hidden", "8, 4")
    _slide_lr(page, "0.03")
    _ready(page, r"ready: 1-8-4-1 tanh, adam, lr 0\.03, seed 1, 1000 epochs")


def _narrow_screen_stacks_the_controls_above_the_plots(page):
    page.set_viewport_size({"width": 400, "height": 800})

    def stacked():
        width, inner = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
        controls = page.locator(".play-epochs").first.bounding_box()
        figures = page.locator(".sn-figures").first.bounding_box()
        return (width <= inner and controls["y"] + controls["height"] <= figures["y"]
                and figures["x"] + figures["width"] <= inner)

    assert wait_until(stacked, 10), "at 400 px: horizontal scroll, or the controls beside the figures"
    status = page.locator(".sn-status").first.bounding_box()
    assert status["width"] >= 200 and status["height"] < 100  # one readable line or two, not a letter column
    page.set_viewport_size({"width": 1500, "height": 1250})


@browser
def test_browser_one_page_through_the_playgrounds_lessons(server, chromium):
    page = _new_page(chromium, server)
    try:
        _change_to_drawn_latency_is_measured(page)
        _controls_retrain_and_redraw(page)
        _bad_input_in_every_field_shows_a_message_and_keeps_the_status(page)
        _dead_and_saturated_nets_are_warned_about(page)
        _playground_lessons_each_change_what_is_drawn(page)
        _play_pause_step_and_reset(page)
        _narrow_screen_stacks_the_controls_above_the_plots(page)
        assert _off_machine(page.requests) == [], "the page fetched from outside 127.0.0.1"
        assert any(u.startswith("ws://127.0.0.1") for u in page.requests)
    finally:
        page.close()




@browser
def test_browser_six_pages_at_once_each_end_ready_with_their_own_settings(server, chromium):
    """The issue's class on one server: six pages, five changes each, made on every page before any is
    waited for; each change's latency by its page's clock. (Second in the file: pytest -n 2 hands each
    worker its first six tests in file order, so both browser tests share one worker's server; on two
    workers at once, each with its own server, the file took longer: the cores are the limit.)"""
    from bench.play import watch_ready, watched

    url = server
    pages = [_new_page(chromium, url, wait=False) for _ in range(6)]  # loading at once
    for p in pages:
        _ready(p, r"ready: 1-5-5-1 tanh, adam, lr 0\.015, seed 10, 1000 epochs")
    options = [f"{v:g}" for v in ss.LEARNING_RATES]
    lr = {i: options[options.index("0.015") - (i + 1)] for i in range(6)}  # each page its own: 0.01, 0.005, ...
    changes = [  # (change, the status it ends in) for page i
        lambda p, i: (lambda: _enter(p, "seed", str(50 + i)), rf"ready: 1-5-5-1 tanh, adam, lr 0\.015, seed {50 + i},"),
        lambda p, i: (lambda: _enter(p, "hidden", "4"), rf"ready: 1-4-1 tanh, adam, lr 0\.015, seed {50 + i},"),
        lambda p, i: (lambda: _slide_lr(p, lr[i]),
                      rf"ready: 1-4-1 tanh, adam, lr {re.escape(lr[i])}, seed {50 + i},"),
        lambda p, i: (lambda: _enter(p, "seed", str(60 + i)), rf"ready: 1-4-1 tanh, adam, lr {re.escape(lr[i])}, "
                                                              rf"seed {60 + i},"),
        lambda p, i: (lambda: _enter(p, "hidden", "3"), rf"ready: 1-3-1 tanh, adam, lr {re.escape(lr[i])}, "
                                                        rf"seed {60 + i}, 1000 epochs"),
    ]
    seconds = []
    try:
        for change in changes:
            for i, p in enumerate(pages):
                act, pattern = change(p, i)
                watch_ready(p, pattern)
                act()
            try:
                seconds += [watched(p, RETRAIN_TIMEOUT) for p in pages]
            except Exception as exc:  # which page stalled, where each one stands and what the server is doing
                from scratchnn.apps.play.screenshot import server_stacks

                statuses = "\n".join(f"  page {i}: {_status_text(p)!r}" for i, p in enumerate(pages))
                raise AssertionError(f"a page did not reach {change(pages[0], 0)[1]!r} (page 0's; page i: seed "
                                     f"50 + i or 60 + i, lr {lr}) within {RETRAIN_TIMEOUT} s: {exc}\n{statuses}\n"
                                     f"the server's threads and log:\n{server_stacks(url)}") from exc
        for i, p in enumerate(pages):  # every page ends with its own settings, never another page's
            assert re.match(rf"ready: 1-3-1 tanh, adam, lr {re.escape(lr[i])}, seed {60 + i}, 1000 epochs, float32: "
                            r"loss \S+$", _status_text(p))
    finally:
        for p in pages:
            p.close()
    median = float(np.median(seconds))
    print(f"six pages, change to drawn: median {median:.3f} s, max {max(seconds):.3f} s")
    # the issue's bound is 2 s for six pages and the server on two cores (met alone: the README's measurement);
    # here the suite's other xdist worker takes one of the two cores, so the bound is twice that, on the median
    assert median <= 4.0, f"six pages: median change-to-drawn {median:.2f} s (the issue's 2 s, doubled); {seconds}"


# ------------------------------------------------------------------------------------ no Panel, no torch
def test_importing_scratchnn_and_play_imports_neither_panel_nor_torch():
    r = _python("import scratchnn, scratchnn.apps.play, scratchnn.apps.play.session, scratchnn.apps.play.views\n"
                "print('panel' in sys.modules, 'torch' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]


def test_play_without_panel_names_the_extra_to_install():
    r = _python("from scratchnn.apps.cli import main\nsys.exit(main(['play', '--no-browser']))", block=["panel"])
    assert r.returncode == 2
    assert "pip install -e '.[play]'" in r.stderr


# ------------------------------------------------------------------------------------ the session
@pytest.mark.parametrize("text, widths", [("5, 5", [5, 5]), ("10", [10]), ("", []), (" 3;4 ", [3, 4])])
def test_hidden_widths_are_read_as_typed(text, widths):
    assert ss.hidden_widths(text) == widths


@pytest.mark.parametrize("text, words", [("0", "at least 1 unit"), ("5, x", "'x' is not a whole number"),
                                         ("5,,5", "'' is not a whole number"), ("-2", "at least 1 unit"),
                                         ("2.5", "'2.5' is not a whole number"), ("1000", "at most")])
def test_bad_hidden_widths_say_what_is_wrong(text, words):
    with pytest.raises(ValueError, match="hidden widths") as info:
        ss.hidden_widths(text)
    assert words in str(info.value)


def test_a_run_is_the_fit_of_scratchnn_fit_in_one_call():
    # chunks of epochs with start_epoch visit the data as one call does: the losses are identical
    run = ss.Session().run(ss.Settings(hidden="5", epochs=300))
    net = sn.MLP([1, 5, 1], generator=10)
    X, Y = sn.workshop_data()
    h = sn.fit(net, X, Y, sn.Adam(net.theta, lr=0.015), epochs=300, engine=run.settings.engine)
    assert run.status == "done" and run.epochs == 300
    np.testing.assert_array_equal(run.loss, h.loss)
    assert all(np.array_equal(a, b) for a, b in zip(run.net.theta, net.theta))
    assert run.delta_epochs[0] == 0 and run.delta_epochs[-1] == 300 and len(run.delta_epochs) > 10
    np.testing.assert_array_equal(run.delta[-1], delta_norms(net, X, Y))


def test_a_run_with_minibatches_is_the_fit_of_scratchnn_fit_in_one_call():
    run = ss.Session().run(ss.Settings(hidden="4", epochs=30, batch_size=256, optimizer="momentum", lr=0.05))
    net = sn.MLP([1, 4, 1], generator=10)
    X, Y = sn.workshop_data()
    h = sn.fit(net, X, Y, sn.SGD(net.theta, lr=0.05, momentum=0.9), epochs=30, batch_size=256, seed=10,
               engine=run.settings.engine)
    np.testing.assert_array_equal(run.loss, h.loss)


def test_a_diverging_fit_ends_with_a_message():
    run = ss.Session().run(ss.Settings(activation="identity", optimizer="sgd", lr=10.0))
    assert run.status == "diverged"
    assert re.search(r"non-finite at epoch \d+ with learning rate 10; lower the learning rate", run.message)
    assert np.all(np.isfinite(run.loss))


def test_stop_ends_a_run_between_two_chunks():
    calls = []
    run = ss.Session().run(ss.Settings(epochs=1_000_000), stop=lambda: len(calls) >= 2, progress=calls.append)
    assert run.status == "stopped" and 0 < run.epochs < 1_000_000
    assert run.message == f"stopped after {run.epochs} of 1000000 epochs"
    assert run.delta_epochs[-1] == run.epochs


@pytest.mark.parametrize("criterion, outputs", [("bce", 1), ("cross_entropy", 2)])
def test_a_classification_run_learns_the_circle(criterion, outputs):
    run = ss.Session().run(ss.Settings(data="circle", criterion=criterion, hidden="6", epochs=300, lr=0.03))
    assert run.net.units == [2, 6, outputs] and run.net.criterion == criterion
    assert sn.accuracy(run.net, run.X_show, run.y_show) > 0.9  # circle without noise: separable
    assert "test accuracy" in views.summary(run)


def test_compare_with_torch_trains_torch_from_the_same_theta():
    pytest.importorskip("torch")
    run = ss.Session().run(ss.Settings(hidden="5", epochs=100, compare_torch=True))
    assert len(run.torch_loss) == 100
    # the same θ^j: epoch 0's losses differ by float32 rounding of the mean over 3000 points only
    assert abs(run.loss[0] - run.torch_loss[0]) / run.torch_loss[0] < 1e-6
    assert "(torch " in views.summary(run)
    assert set(views.figures(run)) == set(views.VIEWS)


def test_the_views_are_figures_of_plots_with_the_theta_shapes():
    run = ss.Session().run(ss.Settings(hidden="3, 4", epochs=20))
    figures = views.figures(run)
    assert set(figures) == {"data", "loss", "theta", "delta"}  # no gap without torch
    assert [ax.get_title() for ax in figures["theta"].axes[:3]] == ["θ^0: 3 × 2", "θ^1: 4 × 4", "θ^2: 1 × 5"]
    assert views.shapes(run) == "θ^0: 3 × 2, θ^1: 4 × 4, θ^2: 1 × 5"
    assert views.png(figures["loss"])[:4] == PNG_MAGIC
    assert re.search(r"final loss \d\.\d{4}e[-+]\d\d", views.summary(run))


@pytest.mark.parametrize("typed, seed", [("10", 10), (" 7 ", 7), (0, 0), (str(2**64 - 1), 2**64 - 1)])
def test_the_seed_is_read_as_typed(typed, seed):
    assert ss.seed_number(typed) == seed


@pytest.mark.parametrize("typed, words", [("1e9", "'1e9'"), ("3.7", "'3.7'"), ("-1", "'-1'"), ("", "''"),
                                          (str(2**64), "at most 2^64 - 1")])
def test_a_bad_seed_says_what_is_wrong_and_is_never_changed(typed, words):
    with pytest.raises(ValueError, match="seed: ") as info:
        ss.check(ss.Settings(seed=typed))
    assert words in str(info.value)


@pytest.mark.parametrize("args, expected", [
    (("dead", 0.6), "the net is dead: 60% of its hidden units are dead"),
    (("saturated", 0.0, 1e-3, 1e-16), "the net is saturated: ‖δ^1‖ fell from 1.0e-03 to 1.0e-16"),
    (("dead", 0.0, 0.0, 0.0), "the net is dead: ‖δ^1‖ is 0 from the first epoch"),
    (("saturated", 0.5, 1e-3, 1e-14), None),  # half the units, and δ^1 fell by 1e-11 only: still learning
])
def test_stuck_names_a_dead_or_saturated_net_and_what_to_try(args, expected):
    line = sn.diagnostics.stuck(*args)
    if expected is None:
        assert line is None
    else:
        assert line.startswith(expected) and "try a smaller learning rate, or another activation" in line


def test_stuck_names_the_output_activation_when_it_can_get_stuck_too():
    assert "the output unit is tanh too" in sn.diagnostics.stuck("saturated", 0.0, 1.0, 0.0, output="tanh")
    assert "output" not in sn.diagnostics.stuck("saturated", 0.0, 1.0, 0.0, output=None)


@pytest.mark.parametrize("settings, word", [(dict(activation="relu", seed=1), "dead"),
                                            (dict(activation="tanh", lr=10.0), "saturated")])
def test_a_dead_relu_and_a_saturated_tanh_net_are_warned_about(settings, word):
    # the issue's two silent failures on the workshop set: no hidden unit or error left to learn with
    run = ss.Session().run(ss.Settings(epochs=300, **settings))
    [line] = [w for w in run.warnings() if w.startswith("the net is")]
    assert line.startswith(f"the net is {word}") and "try" in line


def test_the_status_names_what_is_drawn_in_the_issues_format():
    run = ss.Session().run(ss.Settings(hidden="3", lr=0.05, epochs=30))
    assert re.fullmatch(r"ready: 1-3-1 tanh, adam, lr 0\.05, seed 10, 30 epochs, float32: loss \d\.\d\de-\d\d",
                        views.ready(run))
    assert views.training(run.settings).startswith("training tanh, adam, lr 0.05, seed 10")
    c = ss.Session().run(ss.Settings(data="xor", hidden="4", epochs=30, optimizer="momentum", dtype="float64"))
    assert re.search(r"^ready: 2-4-1 tanh, sgd\+momentum, lr 0\.015, seed 10, 30 epochs, float64: loss \S+, "
                     r"test loss \S+, train accuracy \d+\.\d%, test accuracy \d+\.\d%$", views.ready(c))


def test_the_gap_figure_draws_the_epsilon_of_the_runs_dtype():
    from scratchnn.teaching import plots

    gap = np.full(20, 1e-10)
    for dtype in ("float32", "float64"):
        [line] = [ln for ln in plots.gap_figure({"1-5-1": {"free-running": gap}}, dtype=dtype).axes[0].lines
                  if "epsilon" in ln.get_label()]
        assert line.get_label() == f"{dtype} epsilon" and line.get_ydata()[0] == np.finfo(dtype).eps


def test_torch_trains_after_scratchnn_whose_result_is_ready_first():
    pytest.importorskip("torch")
    seen = []
    run = ss.Session().run(ss.Settings(hidden="3", epochs=40, compare_torch=True),
                           trained=lambda r: seen.append((r.epochs, len(r.torch_loss), r.torch_running)))
    assert seen == [(40, 0, True)] and len(run.torch_loss) == 40 and not run.torch_running
    assert "(torch " in views.ready(run) and run.parted() is None  # 40 epochs of a calm fit: the engines agree


def test_live_figures_stream_the_curve_and_replace_the_boundary():
    pytest.importorskip("bokeh")
    from scratchnn.apps.play import live

    figures = live.Figures()
    run = ss.Session().run(ss.Settings(data="circle", hidden="3", epochs=50))
    first = figures.data(run)
    assert first["loss"]["x"].tolist() == list(range(50))  # a final draw: the whole curve
    figures.apply(first)
    [P] = figures.sources["image"].data["image"]
    assert P.shape == (live.RESOLUTION, live.RESOLUTION) and 0 <= P.min() and P.max() <= 1
    assert set(figures.sources["train"].data["color"]) == set(live.CLASS_COLORS)  # both classes, Okabe-Ito
    assert len(figures.sources["test"].data["x"]) == len(run.X_show)
    assert figures.sources["thumb_labels"].data["text"] == ["a^1_1", "a^1_2", "a^1_3"]
    run.run.settings = dataclasses.replace(run.run.settings, epochs=80)  # the same run, trained further
    run.run.train()
    streamed = figures.data(run, final=False)
    assert streamed["loss"][0] == "stream" and streamed["loss"][1]["x"].tolist() == list(range(50, 80))
    assert "image" not in streamed  # a streamed draw sends the curves only
    figures.apply(streamed)
    assert figures.sources["loss"].data["x"].tolist() == list(range(80))
    assert live.stride(1_000_000) == 512 and live.stride(1000) == 1


# ------------------------------------------------------------------------------------ the page, from Python
@pytest.fixture
def playground():
    pytest.importorskip("panel")
    from scratchnn.apps.play.page import Playground

    pg = Playground()
    assert pg.wait_idle(RETRAIN_TIMEOUT), "the first run did not end"
    yield pg
    pg.close()


def _status(pg):
    return html.unescape(re.sub(r"<[^>]+>", "", pg.status.object))


def test_the_page_retrains_when_a_widget_changes(playground):
    pg = playground
    first = pg.last_run
    assert first.status == "done" and first.net.units == [1, 5, 5, 1]
    assert _status(pg) == views.ready(first) and "sn-status" in pg.status.css_classes
    theta = pg.figures.sources["theta"].data
    pg.widgets["lr"].value = 0.05
    pg.widgets["hidden"].value = "8, 4"
    assert pg.wait_idle(RETRAIN_TIMEOUT)
    run = pg.last_run
    assert run is not first and run.settings.lr == 0.05
    assert [t.shape for t in run.net.theta] == [(8, 2), (4, 9), (1, 5)]
    assert pg.shapes.object == "θ^0: 8 × 2, θ^1: 4 × 9, θ^2: 1 × 5"
    assert _status(pg).startswith("ready: 1-8-4-1 tanh, adam, lr 0.05, seed 10, 1000 epochs, float32: loss ")
    assert pg.figures.sources["theta"].data is not theta and len(pg.figures.sources["theta"].data["value"]) == 16 + 36 + 5


def test_bad_input_shows_a_message_and_keeps_what_was_drawn(playground):
    pg = playground
    drawn = {name: source.data for name, source in pg.figures.sources.items()}
    run, status = pg.last_run, pg.status.object
    for field, text, words in (("hidden", "0", "hidden widths:"), ("hidden", "5, five", "hidden widths:"),
                               ("seed", "1e9", "seed: "), ("seed", "-1", "seed: "), ("seed", "3.7", "seed: ")):
        pg.widgets[field].value = text
        assert pg.wait_idle(RETRAIN_TIMEOUT)
        assert pg.message.visible and pg.message_text.startswith(words)
        assert field != "seed" or repr(text) in pg.message_text  # the seed as typed, never another number
        assert pg.last_run is run and pg.status.object == status
        assert all(pg.figures.sources[name].data is data for name, data in drawn.items())
    pg.widgets["seed"].value = "10"
    pg.widgets["hidden"].value = "3"  # and the page goes on
    assert pg.wait_idle(RETRAIN_TIMEOUT)
    assert not pg.message.visible and pg.last_run.net.units == [1, 3, 1]


def test_a_failed_run_leaves_no_lit_stop_and_no_stale_progress(playground, monkeypatch):
    pg = playground
    drawn = pg.last_run

    def fails(*args, **kwargs):
        raise RuntimeError("planted failure")

    monkeypatch.setattr(pg.session, "run", fails)
    pg.widgets["lr"].value = 0.05
    assert pg.wait_idle(RETRAIN_TIMEOUT)
    assert pg.message_text == "training failed: RuntimeError: planted failure"
    assert pg.stop_button.disabled and pg.progress_text.object == "" and pg.progress.value == 0
    assert _status(pg) == views.ready(drawn)  # the status names what is still drawn


def test_a_drawing_that_raises_is_said_and_the_page_keeps_drawing(playground, monkeypatch):
    """The served page's queue of changes (``_show``, drained on Bokeh's next tick, registered from the event loop's
    thread): a change that raises is said in the page, the changes after it still run, and later ones are drained
    again (the page never freezes)."""
    import panel as pn

    pg, ticks, ran = playground, [], []

    class Doc:  # a served document: Bokeh runs next-tick callbacks later, here when the test says so
        session_context = object()

        def add_next_tick_callback(self, callback):
            ticks.append(callback)

    loop = []

    class Loop:  # the server's event loop: the worker hands it the drain's registration (run when the test says)
        def add_callback(self, callback, *args):
            loop.append(lambda: callback(*args))

    monkeypatch.setattr(pg, "_doc", Doc())
    monkeypatch.setattr(pg, "_loop", Loop())
    monkeypatch.setattr(pn.state, "_unblocked", lambda doc: True)
    pg._show(lambda: 1 / 0)
    pg._show(lambda: ran.append("after"))
    assert len(loop) == 1 and ticks == []  # registered on the loop's thread, never from the worker's (Bokeh's hold)
    loop.pop()()
    assert len(ticks) == 1 and ran == []
    ticks.pop()()
    assert ran == ["after"] and pg.message_text == "drawing failed: ZeroDivisionError: division by zero"
    pg._show(lambda: ran.append("later"))
    loop.pop()()
    ticks.pop()()
    assert ran == ["after", "later"] and loop == ticks == []


def test_a_diverging_fit_shows_a_message_and_keeps_what_was_drawn(playground):
    pg = playground
    pg.widgets["activation"].value, pg.widgets["optimizer"].value = "identity", "sgd"
    assert pg.wait_idle(RETRAIN_TIMEOUT)
    run, theta = pg.last_run, pg.figures.sources["theta"].data
    pg.widgets["lr"].value = 10.0
    assert pg.wait_idle(RETRAIN_TIMEOUT)
    assert "diverged" in pg.message_text and pg.message.visible
    assert pg.last_run is run and pg.figures.sources["theta"].data is theta
    assert _status(pg) == views.ready(run)


def wait_until(condition, timeout=RETRAIN_TIMEOUT):
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False): no fixed sleeps."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_long_run_streams_and_stops_and_a_new_change_cancels_it(playground):
    pg = playground
    pg.widgets["epochs"].value = 1_000_000
    assert wait_until(lambda: _status(pg).startswith("training 1-5-5-1 tanh"))  # the first streamed draw
    assert not pg.stop_button.disabled and pg.progress.value > 0
    assert re.match(r"epoch [\d,]+ of 1,000,000", pg.progress_text.object)
    # the streamed curve ends at the epoch the progress bar shows (one point every stride epochs)

    def curve_at_the_bar():  # the worker may stream between the two reads: polled until they are of one draw
        shown, last = pg.progress.value, pg.figures.sources["loss"].data["x"][-1]
        return shown - live_stride(1_000_000) <= last < shown

    assert wait_until(curve_at_the_bar, 5)
    pg.widgets["epochs"].value = 100  # a new change ends the long run
    assert pg.wait_idle(RETRAIN_TIMEOUT)
    assert pg.last_run.settings.epochs == 100 and pg.last_run.status == "done"
    pg.widgets["epochs"].value = 1_000_000
    assert wait_until(lambda: not pg.stop_button.disabled and pg.progress.value > 0)  # training, some epochs done
    pg.stop_button.clicks += 1
    assert pg.wait_idle(RETRAIN_TIMEOUT)
    assert pg.last_run.status == "stopped" and pg.message_text.startswith("stopped after")
    assert pg.stop_button.disabled and re.match(r"ready: .* \d+ of 1000000 epochs", _status(pg))


def test_a_page_waits_saying_queued_while_the_servers_runs_are_all_in_flight(playground, monkeypatch):
    from scratchnn.apps.play import page as page_module

    pg = playground
    slots = page_module.threading.BoundedSemaphore(1)
    monkeypatch.setattr(page_module, "SLOTS", slots)
    slots.acquire()  # another page's run holds the server's one slot
    pg.widgets["seed"].value = "4"
    assert wait_until(lambda: _status(pg).startswith("queued: tanh, adam, lr 0.015, seed 4"))
    assert not pg.wait_idle(0.3)  # still queued: nothing trains
    slots.release()
    assert pg.wait_idle(RETRAIN_TIMEOUT) and _status(pg).startswith("ready: 1-5-5-1 tanh, adam, lr 0.015, seed 4,")


def test_play_pause_step_and_reset_go_on_from_the_drawn_run(playground):
    pg = playground
    run = pg.last_run
    pg.buttons["step"].clicks += 1
    assert wait_until(lambda: pg.last_run.epochs == 1001) and pg.wait_idle(RETRAIN_TIMEOUT)
    assert pg.last_run is run and _status(pg).startswith("ready: 1-5-5-1 tanh, adam, lr 0.015, seed 10, 1001 epochs")
    pg.buttons["play"].clicks += 1
    assert wait_until(lambda: run.epochs > 3000)  # past a round of PLAY_ROUND epochs: play goes on
    pg.buttons["pause"].clicks += 1
    assert pg.wait_idle(RETRAIN_TIMEOUT) and run.status == "done"
    assert _status(pg).startswith(f"ready: 1-5-5-1 tanh, adam, lr 0.015, seed 10, {run.epochs} epochs")
    pg.buttons["reset"].clicks += 1
    assert wait_until(lambda: pg.last_run is not run) and pg.wait_idle(RETRAIN_TIMEOUT)
    assert pg.last_run.epochs == 0 and _status(pg).endswith("0 epochs, float32: no epoch trained")
    assert [t.tolist() for t in pg.last_run.net.theta] == [t.tolist() for t in sn.MLP([1, 5, 5, 1], generator=10).theta]


def test_the_pages_new_settings_reach_the_run():
    run = ss.Session().run(ss.Settings(data="xor", hidden="3", epochs=20, train_share=0.7, l2=0.01, norm="layer",
                                       dropout=0.1, optimizer="rmsprop", schedule="step"))
    loop = run.run.settings
    assert (loop.l2, loop.optimizer, loop.schedule, loop.step_size, loop.gamma) == (0.01, "rmsprop", "step", 5, 0.5)
    assert run.net.norm == "layer" and run.net.dropout == 0.1
    assert (len(run.X), len(run.X_show)) == (700, 300) and len(run.val_loss) == 20
    # the test loss is scratchnn.fit's validation loss on the test points
    net = sn.MLP([2, 3, 1], activations=["tanh", "sigmoid"], criterion="bce", generator=10, norm="layer", dropout=0.1)
    optimizer = sn.RMSprop(net.params, lr=0.015)
    h = sn.fit(net, run.X, run.Y, optimizer, epochs=20, seed=10, l2=0.01, engine=loop.engine,
               validation=(run.X_show, run.y_show[:, None].astype(np.float32)), scheduler=sn.StepLR(optimizer, 5, 0.5))
    np.testing.assert_array_equal(run.val_loss, h.val_loss)
    np.testing.assert_array_equal(run.loss, h.loss)
    for bad, words in ((dict(norm="group"), "norm: "), (dict(schedule="linear"), "schedule: "),
                       (dict(dropout=1.0), "dropout: "), (dict(train_share=1.0), "train share: "),
                       (dict(l2=-1.0), "L2 λ: ")):
        with pytest.raises(ValueError, match=words):
            ss.check(ss.Settings(**bad))


def live_stride(epochs):
    from scratchnn.apps.play import live

    return live.stride(epochs)


def test_without_torch_the_comparison_is_off_and_says_why():
    pytest.importorskip("panel")
    r = _python("from scratchnn.apps.play.page import Playground\n"
                "pg = Playground(); w = pg.widgets['compare_torch']\n"
                "print(w.disabled, pg.wait_idle(60), pg.last_run.status); pg.close()\n"
                "print([o.object for o in pg.layout.select() if 'play-torch-note' in getattr(o, 'css_classes', [])])",
                block=["torch"])
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.splitlines()[0] == "True True done"
    assert "torch is not installed" in r.stdout and "pip install -e '.[torch]'" in r.stdout


def test_play_serves_a_room_with_address_and_allowed_origins(monkeypatch):
    pytest.importorskip("panel")
    from scratchnn.apps import cli, play

    calls = []
    monkeypatch.setattr(play, "serve", lambda **kw: calls.append(kw))
    assert cli.main(["play", "--no-browser", "--address", "0.0.0.0", "--allow-websocket-origin", "room.local",
                     "--allow-websocket-origin", "10.0.0.5:8000"]) == 0
    assert calls == [dict(port=5006, open_browser=False, address="0.0.0.0", origins=["room.local", "10.0.0.5:8000"])]
    assert cli.main(["play", "--no-browser"]) == 0 and calls[1]["address"] == "127.0.0.1" and calls[1]["origins"] == []
