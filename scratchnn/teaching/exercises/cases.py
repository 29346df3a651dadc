r"""The nets every exercise is checked on: small random tanh nets in float64, the same every run.

Each case is one net ``units = [u^0, ..., u^L]`` (1 to 3 hidden layers of 1 to 5
units, 1 to 3 inputs and outputs), its weights theta^j ``(u^{j+1}, u^j + 1)``,
n data points ``X (n, u^0)``, targets ``Y (n, u^L)``, and for the optimizer
exercises a fixed sequence of gradients ``G[k][j]`` shaped like theta^j, one per
step k = 1..STEPS, so that a step's inputs do not depend on earlier answers.
Everything is drawn from ``numpy.random.default_rng(SEED)``.
"""

import numpy as np

SEED = 0
HIDDEN_LAYERS = (1, 2, 3, 1)  # one net per entry: every depth 1..3 appears
STEPS = 5  # optimizer steps per check, state carried from step to step

EPS = 1e-4  # numerical_gradient's eps: one-sided differences then err by ~eps, central ones by ~eps^2
SGD_SETTINGS = {"lr": 0.1, "momentum": 0.9}
ADAM_SETTINGS = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}


class Case:
    """One net and its data: ``units``, ``theta``, ``X``, ``Y``, optimizer gradients ``G``."""

    def __init__(self, number, units, theta, X, Y, G):
        self.number = number  # 1, 2, ... as printed
        self.units = units
        self.theta = theta
        self.X = X
        self.Y = Y
        self.G = G

    @property
    def L(self):
        """The output layer's index (the number of theta^j)."""
        return len(self.units) - 1

    @property
    def n(self):
        """The number of data points."""
        return self.X.shape[0]

    def describe(self):
        """``net 2: units 3-4-2 (L = 2), n = 5 points`` as printed above each table."""
        return f"net {self.number}: units {'-'.join(map(str, self.units))} (L = {self.L}), n = {self.n} points"


def make_cases(seed=SEED):
    """The list of cases, drawn from ``default_rng(seed)`` (the same list every call)."""
    rng = np.random.default_rng(seed)
    cases = []
    for number, hidden in enumerate(HIDDEN_LAYERS, start=1):
        u_in = int(rng.integers(1, 4))
        u_hidden = [int(u) for u in rng.integers(1, 6, size=hidden)]
        u_out = int(rng.integers(1, 4))
        units = [u_in] + u_hidden + [u_out]
        n = int(rng.integers(3, 8))
        # theta^j: (u^{j+1}, u^j + 1), the bias in column 0
        theta = [rng.uniform(-1, 1, size=(units[j + 1], units[j] + 1)) for j in range(len(units) - 1)]
        X = rng.standard_normal((n, u_in))  # (n, u^0)
        Y = rng.uniform(-1, 1, size=(n, u_out))  # (n, u^L), inside tanh's range
        G = [[rng.standard_normal(t.shape) for t in theta] for _ in range(STEPS)]  # G[k][j] like theta^j
        cases.append(Case(number, units, theta, X, Y, G))
    return cases
