"""The timing harness: ``python -m bench`` (see :mod:`bench.run`)."""
