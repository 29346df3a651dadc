"""scratchnn play: the session (no widgets), the page driven from Python, and the served page in Chromium.

The browser tests start ``scratchnn play --no-browser`` on a free port of 127.0.0.1 and drive it
with Playwright in Debian's ``chromium`` (Playwright's own browser download is not used); they skip,
saying why, where playwright or chromium is missing. Every wait is bounded.
"""

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


# ------------------------------------------------------------------------------------ the page, from Python
@pytest.fixture
def playground():
    pytest.importorskip("panel")
    from scratchnn.apps.play.page import Playground

    pg = Playground()
    assert pg.wait_idle(RETRAIN_TIMEOUT), "the first run did not end"
    yield pg
    pg.close()


def test_the_page_retrains_when_a_widget_changes(playground):
    pg = playground
    first = pg.last_run
    assert first.status == "done" and first.net.units == [1, 5, 5, 1]
    assert "final loss" in pg.status.object and pg.panes["theta"].object[:4] == PNG_MAGIC
    pg.widgets["lr"].value = 0.05
    pg.widgets["hidden"].value = "8, 4"
    assert pg.wait_idle(RETRAIN_TIMEOUT)
    run = pg.last_run
    assert run is not first and run.settings.lr == 0.05
    assert [t.shape for t in run.net.theta] == [(8, 2), (4, 9), (1, 5)]
    assert pg.shapes.object == "θ^0: 8 × 2, θ^1: 4 × 9, θ^2: 1 × 5"
    assert f"final loss {run.loss[-1]:.4e}" in pg.status.object and run.loss[-1] != first.loss[-1]


def test_bad_input_shows_a_message_and_keeps_what_was_drawn(playground):
    pg = playground
    drawn = {name: pane.object for name, pane in pg.panes.items()}
    run, status = pg.last_run, pg.status.object
    for text in ("0", "5, five"):
        pg.widgets["hidden"].value = text
        assert pg.wait_idle(RETRAIN_TIMEOUT)
        assert pg.message.visible and pg.message.object.startswith("hidden widths:")
        assert pg.last_run is run and pg.status.object == status
        assert all(pg.panes[name].object is image for name, image in drawn.items())
    pg.widgets["hidden"].value = "3"  # and the page goes on
    assert pg.wait_idle(RETRAIN_TIMEOUT)
    assert not pg.message.visible and pg.last_run.net.units == [1, 3, 1]


def test_a_diverging_fit_shows_a_message_and_keeps_what_was_drawn(playground):
    pg = playground
    pg.widgets["activation"].value, pg.widgets["optimizer"].value = "identity", "sgd"
    assert pg.wait_idle(RETRAIN_TIMEOUT)
    run, theta = pg.last_run, pg.panes["theta"].object
    pg.widgets["lr"].value = 10.0
    assert pg.wait_idle(RETRAIN_TIMEOUT)
    assert "diverged" in pg.message.object and pg.message.visible
    assert pg.last_run is run and pg.panes["theta"].object is theta


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
    assert wait_until(lambda: pg.last_run.settings.epochs == 1_000_000)  # the first streamed draw
    assert pg.last_run.status == "running" and 0 < pg.last_run.epochs < 1_000_000
    assert "training: loss at epoch" in pg.status.object
    assert not pg.stop_button.disabled and re.match(r"epoch [\d,]+ of 1,000,000", pg.progress_text.object)
    pg.widgets["epochs"].value = 100  # a new change ends the long run
    assert pg.wait_idle(RETRAIN_TIMEOUT)
    assert pg.last_run.settings.epochs == 100 and pg.last_run.status == "done"
    pg.widgets["epochs"].value = 1_000_000
    assert wait_until(lambda: not pg.stop_button.disabled and pg.progress.value > 0)  # training, some epochs done
    pg.stop_button.clicks += 1
    assert pg.wait_idle(RETRAIN_TIMEOUT)
    assert pg.last_run.status == "stopped" and pg.message.object.startswith("stopped after")
    assert pg.stop_button.disabled


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


# ------------------------------------------------------------------------------------ the page, in Chromium
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


@pytest.fixture
def page(server, chromium):
    """A fresh page on the served app, its first run drawn; every request it makes is recorded."""
    page = chromium.new_page(viewport={"width": 1500, "height": 1250})
    page.set_default_timeout(RETRAIN_TIMEOUT * 1000)
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("websocket", lambda ws: page.requests.append(ws.url))
    page.goto(server)
    page.locator(".play-status p").get_by_text("final loss").wait_for()
    yield page
    page.close()


def _final_loss(page):
    return float(re.search(r"final loss (\S+)", page.locator(".play-status p").inner_text()).group(1))


def _theta_image(page):
    return page.locator(".play-view-theta img").get_attribute("src")


def _off_machine(urls):
    """The requests that left 127.0.0.1 (blob: and data: URLs are the page's own)."""
    return [u for u in urls if urlparse(u).scheme not in ("blob", "data") and urlparse(u).hostname != "127.0.0.1"]


@browser
def test_browser_learning_rate_and_widths_retrain_and_redraw(page, tmp_path):
    from playwright.sync_api import expect

    status, shapes = page.locator(".play-status p"), page.locator(".play-shapes p")
    expect(shapes).to_have_text("θ^0: 5 × 2, θ^1: 5 × 6, θ^2: 1 × 6")
    loss, theta = _final_loss(page), _theta_image(page)
    before = status.inner_text()
    page.locator(".play-lr .noUi-handle").focus()
    page.keyboard.press("ArrowRight")  # one step up the log scale: 0.015 -> 0.03
    expect(page.locator(".bk-Div.play-lr b")).to_have_text("0.03")
    expect(status).not_to_have_text(before)
    expect(status).to_contain_text("final loss")  # the run has ended (a long one streams "loss at epoch")
    assert _final_loss(page) != loss
    loss = _final_loss(page)
    widths = page.locator(".play-hidden input")
    widths.fill("8, 4")
    widths.press("Enter")
    expect(shapes).to_have_text("θ^0: 8 × 2, θ^1: 4 × 9, θ^2: 1 × 5")
    expect(status).to_contain_text(re.compile(r"1-8-4-1 .* final loss"))
    assert _final_loss(page) != loss and _theta_image(page) != theta
    path = tmp_path / "playground.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:4] == PNG_MAGIC
    assert _off_machine(page.requests) == [], "the page fetched from outside 127.0.0.1"
    assert any(u.startswith("ws://127.0.0.1") for u in page.requests)


@browser
def test_browser_bad_width_shows_a_message_and_keeps_the_figures(page):
    from playwright.sync_api import expect

    theta, status = _theta_image(page), page.locator(".play-status p").inner_text()
    widths = page.locator(".play-hidden input")
    widths.fill("5, 0")
    widths.press("Enter")
    message = page.locator(".play-message div")
    expect(message).to_have_text("hidden widths: every layer needs at least 1 unit, got 5, 0")
    widths.fill("five")
    widths.press("Enter")
    expect(message).to_contain_text("'five' is not a whole number")
    assert _theta_image(page) == theta and page.locator(".play-status p").inner_text() == status
    assert _off_machine(page.requests) == []
