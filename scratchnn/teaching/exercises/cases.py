r"""The nets every exercise is checked on: small random tanh nets in float64, the same every run.

Each case is one net ``units = [u^0, ..., u^L]`` (1 to 3 hidden layers of 1 to 5
units, 1 to 3 inputs and outputs), its weights theta^j ``(u^{j+1}, u^j + 1)``,
n data points ``X (n, u^0)``, targets ``Y (n, u^L)``, and for the optimizer
exercises a fixed sequence of gradients ``G[k][j]`` shaped like theta^j, one per
step k = 1..STEPS, so that a step's inputs do not depend on earlier answers.
Everything is drawn from ``numpy.random.default_rng(SEED)``.

The backprop-ninja exercises (batch norm, layer norm, dropout, the fused
softmax-cross-entropy delta, AdamW, RMSprop) take ``case.ninja``: a
:class:`Ninja` of the case's n points with arrays of their own, drawn from
``default_rng([seed, number])`` so that the nets above stay as they were.
"""

import numpy as np

SEED = 0
HIDDEN_LAYERS = (1, 2, 3, 1)  # one net per entry: every depth 1..3 appears
STEPS = 5  # optimizer steps per check, state carried from step to step

EPS = 1e-4  # numerical_gradient's eps: one-sided differences then err by ~eps, central ones by ~eps^2
SGD_SETTINGS = {"lr": 0.1, "momentum": 0.9}
ADAM_SETTINGS = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
# decay 0.1: large enough that Adam's L2 (decay in the gradient) and the decay applied after the step both
# move theta by more than the checker's match tolerance away from AdamW's
ADAMW_SETTINGS = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.1}
# eps 1e-4 beside sqrt(sq) ~ 0.1 |D|: eps inside the square root moves theta by ~1e-3 of a step, far above
# rounding (with torch's default 1e-8 the two would agree to ~1e-9 and the mistake could not be named)
RMSPROP_SETTINGS = {"lr": 0.01, "alpha": 0.99, "eps": 1e-4}
NORM_EPS = 1e-5  # torch's BatchNorm1d and LayerNorm
DROPOUT_P = (0.1, 0.25, 0.3, 0.2)  # one per case; never 0.5, where 1/p and 1/(1 - p) are equal


class Ninja:
    r"""The backprop-ninja exercises' inputs for one case (float64; n points, u units, C classes).

    ``z (n, u)``, ``gamma``, ``beta (u,)``, ``dy (n, u)`` for the norms (u ≥ 4: layer norm over fewer
    units is degenerate), ``mask (n, u)`` a boolean keep-mask with ``p`` and ``da (n, u)`` for dropout,
    ``logits (n, C)`` and integer ``labels (n,)`` for cross-entropy.
    """

    def __init__(self, number, n, seed=SEED):
        rng = np.random.default_rng([seed, number])
        u = int(rng.integers(4, 7))
        self.z = 2 * rng.standard_normal((n, u)) + 0.5  # pre-activations, not centred
        self.gamma = rng.uniform(0.5, 1.5, size=u)  # not torch's initial 1 and 0: a forgotten γ or β shows
        self.beta = rng.standard_normal(u)
        self.dy = rng.standard_normal((n, u))  # dL/dy from the layers above
        self.eps = NORM_EPS
        self.p = DROPOUT_P[(number - 1) % len(DROPOUT_P)]
        self.mask = rng.random((n, u)) >= self.p  # keep-mask: True where the unit is kept
        self.da = rng.standard_normal((n, u))  # dL/d(dropout's output)
        C = int(rng.integers(2, 6))
        self.logits = 2 * rng.standard_normal((n, C))
        self.labels = rng.integers(0, C, size=n)


class Case:
    """One net and its data: ``units``, ``theta``, ``X``, ``Y``, optimizer gradients ``G``."""

    def __init__(self, number, units, theta, X, Y, G, seed=SEED):
        self.number = number  # 1, 2, ... as printed
        self.seed = seed  # of make_cases: with the number, it names the case
        self.units = units
        self.theta = theta
        self.X = X
        self.Y = Y
        self.G = G
        self.ninja = Ninja(number, X.shape[0], seed)

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
        cases.append(Case(number, units, theta, X, Y, G, seed))
    return cases
