"""The mean squared error, as ``nn.MSELoss()`` computes it.

With predictions ``a^L`` and targets ``y``, both ``(n, u^L)``, and ``N = n u^L``:

    L = (1/N) sum_{i,s} (a^L_{is} - y_{is})^2
    dL/da^L = (2/N) (a^L - y)
"""

import numpy as np


def mse(a, y):
    """L = mean((a - y)^2) over every element."""
    r = a - y  # (n, u^L)
    return np.mean(r * r)


def mse_grad(a, y):
    """dL/da = (2/N)(a - y); the factor 2/N is rounded to the data's dtype, as torch does."""
    return (a - y) * a.dtype.type(2.0 / a.size)  # (n, u^L)
