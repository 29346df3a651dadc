"""torch's ``nn.Linear`` initialisation, in the workshop's notation.

For a layer with ``fan_in = u^j`` inputs and ``u^{j+1}`` outputs torch draws

* the weights ``theta^j[:, 1:]`` from U(-b_w, b_w), with
  ``b_w = sqrt(3) * gain / sqrt(fan_in)`` and ``gain = sqrt(2 / (1 + a^2))``,
  ``a = sqrt(5)`` (kaiming-uniform for a leaky ReLU), i.e. ``b_w = 1/sqrt(fan_in)``
  up to rounding;
* then the biases ``theta^j[:, 0]`` from U(-b_b, b_b), ``b_b = 1 / sqrt(fan_in)``;

in that order, row-major, one layer after the other. The bounds below are
computed with the same floating-point operations as torch, so the draws match
bit for bit.
"""

import math

import numpy as np


def kaiming_uniform_bound(fan_in, a=math.sqrt(5)):
    """``sqrt(3) * gain / sqrt(fan_in)`` with torch's leaky-ReLU gain for slope ``a``."""
    gain = math.sqrt(2.0 / (1 + a**2))
    std = gain / math.sqrt(fan_in)
    return math.sqrt(3.0) * std


def linear_theta(generator, fan_in, fan_out, dtype):
    """theta^j of shape ``(fan_out, fan_in + 1)``, drawn as ``nn.Linear(fan_in, fan_out)`` is.

    Column 0 is the bias; columns 1.. are torch's ``weight``.
    """
    weight = generator.uniform((fan_out, fan_in), -kaiming_uniform_bound(fan_in), kaiming_uniform_bound(fan_in), dtype)
    b = 1 / math.sqrt(fan_in)
    bias = generator.uniform((fan_out,), -b, b, dtype)
    theta = np.empty((fan_out, fan_in + 1), dtype=dtype)  # (u^{j+1}, u^j + 1)
    theta[:, 0] = bias
    theta[:, 1:] = weight
    return theta
