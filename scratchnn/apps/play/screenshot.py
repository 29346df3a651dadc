"""The served playground in headless Chromium: the README's screenshot, and the browser tests' harness.

    python -m scratchnn.apps.play.screenshot [docs/figures/playground.png]

:func:`serving` starts ``scratchnn play --no-browser`` on a free port of 127.0.0.1 and kills it on
exit; :func:`launch` starts Debian's ``chromium`` through Playwright (``pip install playwright``;
Playwright's own browser download is not needed). Every wait is bounded.
"""

import contextlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

# Chromium as root needs --no-sandbox; the others keep it from reaching for the network (and stalling without one)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 # several pages at once (the class test): none of them is a throttled background tab
                 "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"]
START_SECONDS = 120  # the server's start, a cold numba cache compiling the engine included


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(port=None, log=None, timeout=START_SECONDS):
    """``scratchnn play --no-browser`` in a subprocess; yields its URL once it answers; killed on exit.

    ``log``: a path for the server's output (default: a temporary file). RuntimeError, with the
    end of that output, when the server exits or does not answer within ``timeout`` seconds.
    """
    port = port or free_port()
    log = log or tempfile.NamedTemporaryFile(prefix="scratchnn-play-", suffix=".log", delete=False).name
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "scratchnn", "play", "--no-browser", "--port", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    SERVERS[url] = (process, log)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                with open(log) as f:
                    tail = f.read()[-3000:]
                why = f"exited with status {process.returncode}" if process.poll() is not None else \
                    f"did not answer within {timeout} s"
                raise RuntimeError(f"scratchnn play {why}:\n{tail}")
            time.sleep(0.25)
        yield url
    finally:
        SERVERS.pop(url, None)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _answers(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


SERVERS = {}  # url -> (process, log) of each server serving() runs now


def server_stacks(url, wait=2.0):
    """Every thread's stack in the server :func:`serving` runs at ``url`` (``scratchnn play`` writes them to its log
    on SIGUSR1), then the end of its log: what a stalled page's server is doing."""
    process, log = SERVERS[url]
    if hasattr(signal, "SIGUSR1") and process.poll() is None:
        process.send_signal(signal.SIGUSR1)
        time.sleep(wait)
    with open(log) as f:
        return f.read()[-20000:]


def launch(playwright):
    """Debian's chromium, headless, through Playwright's ``chromium.launch``."""
    executable = shutil.which("chromium")
    if executable is None:
        raise RuntimeError("no chromium on PATH (Debian: apt-get install -y chromium)")
    return playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, timeout=60_000)


def status_text(page):
    """The text of the page's status hook (``.sn-status``, rendered by Panel inside a shadow root)."""
    text = page.locator(".sn-status").evaluate(  # the text, without the shadow root's style sheets
        "e => Array.from((e.shadowRoot || e).childNodes).filter(n => n.nodeName !== 'STYLE')"
        ".map(n => n.textContent).join('')")
    found = re.search(r"(ready:|training).*", text)
    return found.group(0).strip() if found else ""


def main(path="docs/figures/playground.png"):
    """The README's screenshot: the workshop's 1-5-5-1 net, torch beside it."""
    from playwright.sync_api import expect, sync_playwright

    with serving() as url, sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(url)
        status = page.locator(".sn-status")
        expect(status).to_contain_text(re.compile("^ready:"), timeout=60_000)
        page.locator(".play-compare-torch input").check()
        expect(status).to_contain_text(re.compile(r"^ready: .*1000 epochs.*\(torch "), timeout=60_000)  # all drawn
        page.screenshot(path=path, full_page=True)
        browser.close()
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
