"""Activation functions g and their derivatives g', side by side.

Each activation is applied element-wise: ``a = g(z)``. Backpropagation needs
``g'(z)``; where it is cheaper (and it is what torch's autograd does) the
derivative is written in terms of the activation ``a = g(z)`` itself.

==============  ============================  ===============================
name            g(z)                          g'(z)
==============  ============================  ===============================
``tanh``        tanh z                        1 - a^2
``sigmoid``     1 / (1 + e^{-z})              a (1 - a)
``relu``        max(z, 0)                     1 if a > 0 else 0
``leaky_relu``  z if z > 0 else 0.01 z        1 if a > 0 else 0.01
``identity``    z                             1
==============  ============================  ===============================

relu and leaky_relu keep the sign of z (a > 0 exactly when z > 0), so their g' needs only a,
like tanh's and sigmoid's; the code below tests z, which is the same test.
"""

import numpy as np

from .checks import check_name

LEAKY_SLOPE = 0.01  # torch's nn.LeakyReLU default negative slope


class Activation:
    """One activation: its name, ``g(z)`` and ``g_prime(z, a)``, and both as text (for ``explain``)."""

    def __init__(self, name, g, g_prime, formula, derivative):
        self.name = name
        self.g = g
        self.g_prime = g_prime
        self.formula = formula  # g(z) in words of z
        self.derivative = derivative  # g'(z) in words of z and a = g(z)

    def __repr__(self):
        return f"Activation({self.name!r})"


def _sigmoid(z):
    with np.errstate(over="ignore", under="ignore"):  # e^{-z} = inf for z << 0, and 1/inf = 0 is right
        return 1 / (1 + np.exp(-z))


ACTIVATIONS = {
    "tanh": Activation("tanh", np.tanh, lambda z, a: 1 - a * a, "tanh(z)", "1 - a²"),
    "sigmoid": Activation("sigmoid", _sigmoid, lambda z, a: a * (1 - a), "1/(1 + e^-z)", "a ⊙ (1 - a)"),
    "relu": Activation("relu", lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(z.dtype),
                       "max(z, 0)", "[a > 0]"),
    "leaky_relu": Activation(
        "leaky_relu",
        lambda z: np.where(z > 0, z, z * z.dtype.type(LEAKY_SLOPE)),
        lambda z, a: np.where(z > 0, z.dtype.type(1), z.dtype.type(LEAKY_SLOPE)),
        f"z if z > 0 else {LEAKY_SLOPE} z",
        f"1 if a > 0 else {LEAKY_SLOPE}",
    ),
    "identity": Activation("identity", lambda z: z.copy(), lambda z, a: np.ones_like(z), "z", "1"),
}


def get(name):
    """The activation called ``name``; a ValueError lists the known ones."""
    return check_name("activations", "activation", name, ACTIVATIONS)
