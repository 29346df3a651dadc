"""The teaching tools, on top of the engine: one pass printed beside its equations (``explain``),
the per-quantity table (``compare``), central differences (``gradcheck``), the figures (``plots``)
and the exercises with their checker (``exercises``). They import the engine, never an application.
"""
