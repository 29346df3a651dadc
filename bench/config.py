"""The settings every engine and peer of the bench trains with (:mod:`bench.run`, :mod:`bench.peers`).

The model is ``sn.MLP(units, dtype, generator=10)``: tanh on every layer, the mean squared error.
"""

LR = 1e-4  # Adam's learning rate in every engine and peer
