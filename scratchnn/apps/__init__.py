"""The applications, on top of the engine, the teaching tools and torchref.

``run`` is the floor they share: settings in, one chunked training loop, a run out (history,
snapshots, status), with callbacks for progress and stop, and the torch twin trained alongside.
Above it: ``workshop`` (the notebook reproduced), ``sweep`` (a grid in workers), ``play`` (the
playground) and, on top, ``cli`` (the ``scratchnn`` command). The bench (``python -m bench``,
outside the package) sits beside them.
"""
