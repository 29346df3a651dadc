"""``scratchnn play``: the workshop's MLP retrained and redrawn at every change of a widget, torch beside it.

    scratchnn play [--port 5006] [--no-browser]       serve the page on localhost
    scratchnn play --address 0.0.0.0 --allow-websocket-origin HOST:5006    serve a room (every page its own run)

In Jupyter: ``scratchnn.apps.play.app()`` returns the page (a Panel object), ``scratchnn.apps.play.show()``
displays it. Needs Panel: ``pip install -e '.[play]'``.

Modules: ``session`` (settings in, a trained run out; no widgets), ``views`` (the run's figures,
all from :mod:`scratchnn.teaching.plots`), ``page`` (the Panel widgets wired to both), ``screenshot`` (the
served page in headless Chromium, for the README and the browser tests). Importing this package
imports neither Panel nor torch.
"""

import faulthandler
import signal

from ..run import COMPILE_NOTE
from . import session

INSTALL = "pip install -e '.[play]'"


def require_panel():
    """The ``panel`` module, or an ImportError that says which extra to install."""
    try:
        import panel
    except ImportError:
        raise ImportError(f"scratchnn play needs Panel, which is not installed: {INSTALL}") from None
    return panel


def app():
    """A new playground page (a Panel object: the controls beside the figures)."""
    require_panel()
    from .page import Playground

    return Playground().layout


def show():
    """Display a playground page in Jupyter (loads Panel's notebook extension first)."""
    pn = require_panel()
    from IPython.display import display

    pn.extension()
    display(app())


def warm_up():
    """Compile (or load from numba's cache) the numba engine for the page's first run."""
    session.Session().run(session.Settings(epochs=10))


def serve(port=5006, open_browser=True, address="127.0.0.1", origins=()):
    """Serve the playground at ``http://localhost:port`` until Ctrl-C; each browser tab gets its own page.

    ``address``: the interface to listen on ("0.0.0.0": every interface, a room's machines can connect);
    ``origins``: the hosts (``HOST`` or ``HOST:PORT``) whose pages may open the page's websocket, beside
    localhost. Every page is a session of its own (its own widgets, run and worker thread); the server
    trains at most :data:`~.page.RUNS_AT_ONCE` runs at once and queues the rest.
    Every script and style comes from the local Bokeh and Panel packages: the page works offline.
    """
    pn = require_panel()
    from .page import RUNS_AT_ONCE, Playground

    if hasattr(signal, "SIGUSR1"):  # kill -USR1 <pid>: every thread's stack on stderr (what a stalled page waits for)
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    print(f"scratchnn play: {COMPILE_NOTE}", flush=True)
    warm_up()

    def page():
        playground = Playground(start=False)
        pn.state.onload(playground.start)  # once the page is loaded in the browser
        pn.state.on_session_destroyed(lambda context: playground.close())
        return playground.layout

    allowed = [f"localhost:{port}", f"127.0.0.1:{port}"] + [o if ":" in o else f"{o}:{port}" for o in origins]
    print(f"scratchnn play: serving on http://{'localhost' if address == '127.0.0.1' else address}:{port} "
          f"(pages from {', '.join(allowed)}; at most {RUNS_AT_ONCE} runs at once, the rest queued; Ctrl-C to stop)",
          flush=True)
    pn.serve(page, port=port, address=address, websocket_origin=allowed, show=open_browser,
             title="scratchnn play", verbose=False)
