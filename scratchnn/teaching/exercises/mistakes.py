r"""Known wrong answers, each reproduced by code that makes it, so that a wrong answer can be named.

A :class:`Mistake` has a ``name``, ``why`` (one line, in the notation) and
``variants``: functions with the exercise's signature that make the mistake (a
mistake can often be made in more than one way). The checker runs each variant
on the same cases as the student's function; when the two agree on every case
(and the variant is wrong on at least one), the mistake is named. A mistake that
changes shapes also has ``shape``: ``(case, key) -> the shape it gives`` to the
quantity ``key``, so that the shape alone can name it when the values differ too.

The variants start from the right formulas, written once here:

    delta^L = (2/(n u^L)) (a^L - Y) * (1 - (a^L)^2)                 (n, u^L)
    D^j     = (delta^{j+1})^T a^j                                   (u^{j+1}, u^j + 1)
    delta^j = (delta^{j+1} theta^j[:, 1:]) * (1 - a^j[:, 1:]^2)     (n, u^j)
"""

import numpy as np


class Mistake:
    """A named wrong answer: ``name``, ``why``, ``variants``; ``shape`` and ``only`` are optional.

    ``only`` limits the comparison to these quantities (a mistake that shows only in theta).
    ``explain``: ``case -> text``, the mistake in the numbers of the net shown.
    ``same_message``: where a variant raises, the student's function must raise the same message
    (a shape error with the same sizes), not only the same type.
    """

    def __init__(self, name, why, variants, shape=None, only=None, same_message=False, explain=None):
        self.name = name
        self.why = why
        self.variants = list(variants)
        self.shape = shape
        self.only = only
        self.same_message = same_message
        self.explain = explain  # case -> the mistake in that net's numbers, printed beside its name


# ------------------------------------------------------ the right formulas
def with_bias_unit(h):
    """[1, h]: a column of ones in front of h  (n, u) -> (n, u + 1)."""
    return np.hstack([np.ones((h.shape[0], 1)), h])


def output_delta(a_L, Y):
    return 2 / Y.size * (a_L - Y) * (1 - a_L**2)  # (n, u^L)


def layer_gradient(delta_next, a_j):
    return delta_next.T @ a_j  # (u^{j+1}, u^j + 1)


def hidden_delta(delta_next, theta_j, a_j):
    return (delta_next @ theta_j[:, 1:]) * (1 - a_j[:, 1:] ** 2)  # (n, u^j)


def backward_with(output_delta=output_delta, layer_gradient=layer_gradient, hidden_delta=hidden_delta):
    """A backward pass built from three steps, any of which may be a mistaken one."""

    def backward(theta, a, Y):
        L = len(theta)
        D = [None] * L
        delta = output_delta(a[L], Y)  # delta^L
        for j in range(L - 1, -1, -1):
            D[j] = layer_gradient(delta, a[j])  # D^j from delta^{j+1}
            if j > 0:
                delta = hidden_delta(delta, theta[j], a[j])  # delta^j
        return D

    return backward


def forward_with(bias=with_bias_unit, g_L=np.tanh, weights=lambda a_j, theta_j: a_j @ theta_j.T):
    """A forward pass whose bias unit, output activation and product z = a theta^T may be mistaken."""

    def forward(theta, X):
        L = len(theta)
        a = [bias(X)]
        for j in range(L):
            z = weights(a[j], theta[j])  # z^{j+1}
            a.append(g_L(z) if j + 1 == L else bias(np.tanh(z)))
        return a

    return forward


def loss(theta, X, Y, forward=None):
    """mean((a^L - Y)^2), a^L from ``forward`` (default: the right forward pass)."""
    return np.mean(((forward or forward_with())(theta, X)[-1] - Y) ** 2)


def numerical_gradient_with(difference, forward=None):
    """Central differences, or the mistaken ``difference(L, theta, j, idx, eps)`` in their place, of the loss
    that ``forward`` gives (default: the right forward pass; a student's, to see what it makes of this one)."""

    def numerical_gradient(theta, X, Y, eps):
        Dnum = []
        for j in range(len(theta)):
            G = np.zeros(theta[j].shape)
            for idx in np.ndindex(G.shape):
                G[idx] = difference(lambda th: loss(th, X, Y, forward), theta, j, idx, eps)
            Dnum.append(G)
        return Dnum

    return numerical_gradient


def _shifted(theta, j, idx, h):
    theta = [t.copy() for t in theta]
    theta[j][idx] += h
    return theta


def central(L, theta, j, idx, eps):
    return (L(_shifted(theta, j, idx, eps)) - L(_shifted(theta, j, idx, -eps))) / (2 * eps)


# -------------------------------------------------------- the mistakes
def _d_shape(case, key, change):
    """The shape ``change(rows, columns)`` gives D^j, for the D keys."""
    name, j, _ = key
    return change(case.units[j + 1], case.units[j] + 1) if name == "D" else None


TRANSPOSED_D = Mistake(
    "transposed D",
    "D^j = (δ^{j+1})ᵀ a^j has θ^j's shape (u^{j+1}, u^j + 1); yours is its transpose (a^j)ᵀ δ^{j+1}.",
    [lambda delta_next, a_j: a_j.T @ delta_next],
    shape=lambda case, key: _d_shape(case, key, lambda rows, cols: (cols, rows)),
)
BIAS_GRADIENT_MISSING = Mistake(
    "bias column's gradient missing",
    "column 0 of D^j is the bias gradient, (δ^{j+1})ᵀ times a^j's column of ones: keep a^j's bias unit.",
    [lambda delta_next, a_j: delta_next.T @ a_j[:, 1:],
     lambda delta_next, a_j: np.hstack([np.zeros((delta_next.shape[1], 1)), delta_next.T @ a_j[:, 1:]])],
    shape=lambda case, key: _d_shape(case, key, lambda rows, cols: (rows, cols - 1)),
)
MEAN_TWICE = Mistake(
    "1/n applied twice",
    "δ^L already carries the mean's 1/(n·u^L); D^j = (δ^{j+1})ᵀ a^j sums over the data points, no second 1/n.",
    [lambda delta_next, a_j: delta_next.T @ a_j / a_j.shape[0]],
)


BIAS_GRADIENT_MEAN = Mistake(
    "bias gradient as the mean of delta",
    "column 0 of D^j is Σ_i δ^{j+1}_{is}·1, the sum over the data points like every other column; δ^L "
    "already holds the 1/n of the mean, so the mean of δ gives 1/n of the bias gradient.",
    [lambda delta_next, a_j: np.hstack([delta_next.mean(axis=0)[:, None], delta_next.T @ a_j[:, 1:]])],
)
BIAS_COLUMN_WRONG = Mistake(
    "bias column wrong",
    "your bias column is wrong: column 0 of D^j (the bias gradient, (δ^{j+1})ᵀ times a^j's column of ones) "
    "is off, while columns 1 on (the weights) are right.",
    [],
)
RETURNS_FLOAT32 = Mistake(
    "returns float32",
    "your function returns float32; compute in float64: one float32 operand (X.astype(np.float32), "
    "dtype=np.float32) makes every result after it float32, 7 digits instead of 16.",
    [],
)

FLOAT32_PRECISION = Mistake(
    "float32 precision",
    "your numbers agree with the reference to 7 or 8 digits, not 16: float32's precision. Somewhere a float32 "
    "(X.astype(np.float32), dtype=np.float32) rounded them before float64 took over again: compute in float64.",
    [],
)


def _delta_shape(case, key):
    name, j, _ = key
    return (case.X.shape[0], case.units[j] + 1) if name == "delta" else None


BIAS_IN_DELTA = Mistake(
    "bias column included in delta",
    "δ^j = (δ^{j+1} θ^j[:, 1:]) ⊙ g'(z^j) has no bias column, shape (n, u^j): the bias unit has no z; "
    "leave out θ^j's column 0.",
    [lambda delta_next, theta_j, a_j: (delta_next @ theta_j) * (1 - a_j**2)],
    shape=_delta_shape,
)
G_PRIME_OF_A = Mistake(
    "1 - tanh(a)^2 instead of 1 - a^2",
    "tanh'(z) = 1 − tanh(z)² = 1 − a²: you applied the z-formula to a = tanh(z), i.e. took tanh twice.",
    [],
)
G_PRIME_OF_Z = Mistake(
    "1 - z^2 instead of 1 - a^2",
    "1 − a² is tanh'(z) written with a = tanh(z); you fed it z. Use 1 − a² (or 1 − tanh(z)²).",
    [],
)
G_PRIME_FORGOTTEN = Mistake(
    "g' forgotten",
    "every layer has tanh, the output's included: δ^j = (…) ⊙ g'(z^j) with g'(z) = 1 − a².",
    [],
)
FACTOR_2 = Mistake(
    "factor 2 forgotten",
    "∂/∂a (a − y)² = 2(a − y): δ^L = (2/(n·u^L))(a^L − Y) ⊙ (1 − (a^L)²).",
    [],
)
MEAN_FORGOTTEN = Mistake(
    "1/(n u^L) of the mean forgotten",
    "𝓛 is the mean over all n·u^L entries of (a^L − Y)², as torch's MSELoss: divide by Y.size.",
    [],
)
MEAN_OVER_N = Mistake(
    "1/n instead of 1/(n u^L)",
    "torch's MSELoss averages over all n·u^L entries, not only over the n data points: divide by Y.size.",
    [],
)
G_PRIME_ONE_MINUS_A = Mistake(
    "1 - a instead of 1 - a^2",
    "tanh'(z) = 1 − tanh(z)² = 1 − a², squared: 1 − a is not the derivative of anything here.",
    [],
)
G_PRIME_SQUARE_OF_DIFFERENCE = Mistake(
    "(1 - a)^2 instead of 1 - a^2",
    "tanh'(z) = 1 − a², one minus the square; (1 − a)² is the square of the difference.",
    [],
)
THETA_TRANSPOSED_IN_DELTA = Mistake(
    "theta transposed in the hidden delta",
    "δ^j = (δ^{j+1} θ^j[:, 1:]) ⊙ g'(z^j): δ^{j+1} (n, u^{j+1}) times θ^j[:, 1:] (u^{j+1}, u^j) gives "
    "(n, u^j). With θ^j[:, 1:]ᵀ the product runs only when u^{j+1} = u^j, and is wrong there.",
    [lambda delta_next, theta_j, a_j: (delta_next @ theta_j[:, 1:].T) * (1 - a_j[:, 1:] ** 2)],
    same_message=True,
)
SIGN_FLIPPED = Mistake(
    "sign of a^L - Y flipped",
    "∂𝓛/∂a^L = (2/(n·u^L))(a^L − Y): prediction minus target.",
    [],
)

# output_delta's mistakes, then hidden_delta's, each a step; backward gets them by composition
OUTPUT = {
    FACTOR_2: [lambda a_L, Y: 1 / Y.size * (a_L - Y) * (1 - a_L**2)],
    MEAN_FORGOTTEN: [lambda a_L, Y: 2 * (a_L - Y) * (1 - a_L**2)],
    MEAN_OVER_N: [lambda a_L, Y: 2 / Y.shape[0] * (a_L - Y) * (1 - a_L**2)],
    G_PRIME_OF_A: [lambda a_L, Y: 2 / Y.size * (a_L - Y) * (1 - np.tanh(a_L) ** 2)],
    G_PRIME_FORGOTTEN: [lambda a_L, Y: 2 / Y.size * (a_L - Y)],
    SIGN_FLIPPED: [lambda a_L, Y: 2 / Y.size * (Y - a_L) * (1 - a_L**2)],
    G_PRIME_ONE_MINUS_A: [lambda a_L, Y: 2 / Y.size * (a_L - Y) * (1 - a_L)],
    G_PRIME_SQUARE_OF_DIFFERENCE: [lambda a_L, Y: 2 / Y.size * (a_L - Y) * (1 - a_L) ** 2],
}
HIDDEN = {
    BIAS_IN_DELTA: BIAS_IN_DELTA.variants,
    G_PRIME_OF_A: [lambda delta_next, theta_j, a_j: (delta_next @ theta_j[:, 1:]) * (1 - np.tanh(a_j[:, 1:]) ** 2)],
    G_PRIME_FORGOTTEN: [lambda delta_next, theta_j, a_j: delta_next @ theta_j[:, 1:]],
    G_PRIME_ONE_MINUS_A: [lambda delta_next, theta_j, a_j: (delta_next @ theta_j[:, 1:]) * (1 - a_j[:, 1:])],
    THETA_TRANSPOSED_IN_DELTA: THETA_TRANSPOSED_IN_DELTA.variants,
}
LAYER = [TRANSPOSED_D, BIAS_GRADIENT_MISSING, MEAN_TWICE, BIAS_GRADIENT_MEAN]


def _as_step(mistake, variants):
    return Mistake(mistake.name, mistake.why, variants, mistake.shape, mistake.only, mistake.same_message,
                   mistake.explain)


def _backward_mistakes():
    out = []
    g_variants = {}  # a g' mistake is made at the output, at the hidden layers, or at both
    for m, variants in OUTPUT.items():
        found = [backward_with(output_delta=v) for v in variants]
        if m in HIDDEN:
            found += [backward_with(hidden_delta=v) for v in HIDDEN[m]]
            found += [backward_with(output_delta=v, hidden_delta=w) for v in variants for w in HIDDEN[m]]
        g_variants[m] = found
    for m, found in g_variants.items():
        out.append(_as_step(m, found))

    def extra_row(case, key):  # delta^{j+1} with a bias column gives D^j an extra row 0 (j < L - 1)
        name, j, _ = key
        return (case.units[j + 1] + 1, case.units[j] + 1) if name == "D" and j < case.L - 1 else None

    variants = [backward_with(hidden_delta=v) for v in HIDDEN[BIAS_IN_DELTA]]
    out.append(Mistake(BIAS_IN_DELTA.name, BIAS_IN_DELTA.why, variants, shape=extra_row))
    out.append(_as_step(THETA_TRANSPOSED_IN_DELTA,
                        [backward_with(hidden_delta=v) for v in HIDDEN[THETA_TRANSPOSED_IN_DELTA]]))
    for m in LAYER:
        out.append(_as_step(m, [backward_with(layer_gradient=v) for v in m.variants]))
    out.append(_as_step(G_PRIME_OF_Z, [_backward_one_minus_z_squared]))
    out.append(Mistake("D listed in reverse order", "return [D^0, …, D^{L−1}]: D^0 (the input layer's θ^0) first.",
                       [lambda theta, a, Y: backward_with()(theta, a, Y)[::-1]]))
    return out


def _backward_one_minus_z_squared(theta, a, Y):
    L = len(theta)
    z = [None] + [a[j] @ theta[j].T for j in range(L)]  # z^j recomputed from a^{j-1}
    D = [None] * L
    delta = 2 / Y.size * (a[L] - Y) * (1 - z[L] ** 2)
    for j in range(L - 1, -1, -1):
        D[j] = delta.T @ a[j]
        if j > 0:
            delta = (delta @ theta[j][:, 1:]) * (1 - z[j] ** 2)
    return D


def _forward_mistakes():
    def bias_last(h):
        return np.hstack([h, np.ones((h.shape[0], 1))])

    def no_bias_unit(h):
        return h

    def a_shape(change):
        return lambda case, key: change(case, key[1])

    def hidden_without_bias_unit(product):
        def forward(theta, X):
            a = [with_bias_unit(X)]  # a^0 = [1, X], right
            for j in range(len(theta)):
                a.append(np.tanh(product(a[j], theta[j])))  # a^{j+1} = g(z^{j+1}): no bias unit on hidden layers
            return a

        return forward

    return [
        Mistake("bias unit missing on the hidden layers",
                "a^j has u^j columns; θ^j expects u^j + 1: the bias unit is missing. a^j = [1, g(z^j)] for every "
                "hidden layer, not only a^0 = [1, X].",
                [hidden_without_bias_unit(lambda a_j, theta_j: a_j @ theta_j.T),
                 hidden_without_bias_unit(lambda a_j, theta_j: np.dot(a_j, theta_j.T))],
                same_message=True,
                explain=lambda case: f"a^1 has {case.units[1]} columns; θ^1 expects {case.units[1] + 1}"),
        Mistake("bias unit missing", "a^j = [1, g(z^j)] carries a column of ones in front for every j < L "
                "(a^0 = [1, X] too): the bias unit.",
                [forward_with(bias=no_bias_unit, weights=lambda a_j, theta_j: a_j @ theta_j[:, 1:].T + theta_j[:, 0])],
                shape=a_shape(lambda case, j: (case.X.shape[0], case.units[j]) if j < case.L else None)),
        Mistake("bias unit in the last column", "the bias unit is column 0 of a^j, to meet θ^j's bias column 0.",
                [forward_with(bias=bias_last)]),
        Mistake("no tanh on the output", "every layer has tanh, the output's included: a^L = tanh(z^L).",
                [forward_with(g_L=lambda z: z)]),
        Mistake("bias unit on the output", "the output a^L = g(z^L) has no bias unit: shape (n, u^L).",
                [forward_with(g_L=lambda z: with_bias_unit(np.tanh(z)))],
                shape=a_shape(lambda case, j: (case.X.shape[0], case.units[j] + 1) if j == case.L else None)),
    ]


def _numerical_gradient_mistakes():
    def forward_difference(L, theta, j, idx, eps):
        return (L(_shifted(theta, j, idx, eps)) - L(theta)) / eps

    def backward_difference(L, theta, j, idx, eps):
        return (L(theta) - L(_shifted(theta, j, idx, -eps))) / eps

    def over_eps(L, theta, j, idx, eps):
        return 2 * central(L, theta, j, idx, eps)

    def summed(theta, X, Y, eps):
        return [G * Y.size for G in numerical_gradient_with(central)(theta, X, Y, eps)]

    return [
        Mistake("one-sided difference", "(𝓛(θ + ε) − 𝓛(θ)) / ε errs by O(ε); the central difference "
                "(𝓛(θ + ε) − 𝓛(θ − ε)) / (2ε) by O(ε²).",
                [numerical_gradient_with(forward_difference), numerical_gradient_with(backward_difference)]),
        Mistake("divided by eps instead of 2 eps", "θ + ε and θ − ε are 2ε apart: divide by 2ε.",
                [numerical_gradient_with(over_eps)]),
        Mistake(MEAN_FORGOTTEN.name, MEAN_FORGOTTEN.why, [summed]),
    ]


def _sgd_mistakes():
    def momentum_first(theta, D, buf, lr, momentum):
        buf = momentum * D if buf is None else momentum * buf + D
        return theta - lr * buf, buf

    def average_from_zero(theta, D, buf, lr, momentum):
        buf = (1 - momentum) * D if buf is None else momentum * buf + (1 - momentum) * D
        return theta - lr * buf, buf

    def average_from_D(theta, D, buf, lr, momentum):
        buf = D.copy() if buf is None else momentum * buf + (1 - momentum) * D
        return theta - lr * buf, buf

    def velocity(theta, D, v, lr, momentum):
        v = -lr * D if v is None else momentum * v - lr * D
        return theta + v, v

    def lr_inside(theta, D, buf, lr, momentum):
        buf = lr * D if buf is None else momentum * buf + lr * D
        return theta - buf, buf

    def plain(theta, D, buf, lr, momentum):
        return theta - lr * D, D

    return [
        Mistake("momentum applied before the first buffer", "torch starts the buffer at the first gradient: "
                "on the first step (buf is None) buf = D, with no factor momentum.", [momentum_first]),
        Mistake("buffer as a running average", "torch's buffer is buf = momentum·buf + D (dampening 0), "
                "not momentum·buf + (1 − momentum)·D.", [average_from_zero, average_from_D]),
        Mistake("velocity instead of torch's buffer", "v = momentum·v − lr·D, θ = θ + v (CS231n) moves θ the same "
                "way, but torch keeps buf = momentum·buf + D and θ = θ − lr·buf: return that buf.", [velocity]),
        Mistake("lr inside the buffer", "torch keeps the lr out of the buffer: buf = momentum·buf + D, "
                "θ = θ − lr·buf.", [lr_inside]),
        Mistake("momentum not used", "θ moved by lr·D alone: with momentum, θ = θ − lr·buf with "
                "buf = momentum·buf + D.", [plain], only=("theta",)),
    ]


def adam_with(t_m=lambda t: t, t_v=lambda t: t, eps_inside=False):
    """Adam whose bias corrections use the steps ``t_m(t)`` and ``t_v(t)`` (None: no correction)."""

    def adam_step(theta, D, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * D
        v = beta2 * v + (1 - beta2) * D**2
        m_hat = m if t_m is None else m / (1 - beta1 ** t_m(t))
        v_hat = v if t_v is None else v / (1 - beta2 ** t_v(t))
        denominator = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        return theta - lr * m_hat / denominator, m, v

    return adam_step


def _adam_mistakes():
    def t_minus_1_in_floats(theta, D, m, v, t, lr, beta1, beta2, eps):
        m = beta1 * m + (1 - beta1) * D
        v = beta2 * v + (1 - beta2) * D**2
        step_size = lr / (1 - beta1 ** (t - 1))  # Python floats: ZeroDivisionError at t = 1
        return theta - step_size * m / (np.sqrt(v) / np.sqrt(1 - beta2 ** (t - 1)) + eps), m, v

    def theta_first(theta, D, m, v, t, lr, beta1, beta2, eps):
        theta = theta - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)  # the old m and v
        m = beta1 * m + (1 - beta1) * D
        v = beta2 * v + (1 - beta2) * D**2
        return theta, m, v

    def swapped(theta, D, m, v, t, lr, beta1, beta2, eps):
        m = (1 - beta1) * m + beta1 * D
        v = (1 - beta2) * v + beta2 * D**2
        return theta - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v

    return [
        Mistake("Adam without bias correction", "m and v start at 0, so torch divides them by 1 − β1^t and "
                "1 − β2^t (bias correction).", [adam_with(t_m=None, t_v=None)]),
        Mistake("Adam with t - 1", "t counts the steps from 1: the first step has t = 1, so 1 − β1^t ≠ 0.",
                [adam_with(t_m=lambda t: t - 1, t_v=lambda t: t - 1), t_minus_1_in_floats]),
        Mistake("Adam with t + 1", "t counts the steps from 1: the first step has t = 1, not 2.",
                [adam_with(t_m=lambda t: t + 1, t_v=lambda t: t + 1)]),
        Mistake("bias correction on only one of m, v", "correct both: m by 1 − β1^t and v by 1 − β2^t.",
                [adam_with(t_v=None), adam_with(t_m=None)]),
        Mistake("eps inside the square root", "torch adds ε after the square root: √v̂ + ε.",
                [adam_with(eps_inside=True)]),
        Mistake("theta updated before m and v", "update m and v with this step's D first, then θ with them.",
                [theta_first]),
        Mistake("beta and 1 - beta swapped", "m = β1·m + (1 − β1)·D: the old average keeps the weight β1 (0.9).",
                [swapped]),
    ]


# ------------------------------------------------- the backprop ninja's
def norm_with(axis=0, ddof=0, eps_outside=False):
    """Batch norm's forward (``axis`` 0) with the variance's ``ddof`` and ε's place as given."""

    def forward(z, gamma, beta, eps):
        mu = z.mean(axis=axis, keepdims=True)
        var = z.var(axis=axis, ddof=ddof, keepdims=True)
        std = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
        return gamma * (z - mu) / std + beta

    return forward


def norm_backward_with(axis=0, mean_terms=True, variance_term=True, summed=True):
    """The backward of a norm over ``axis`` (0: batch norm, 1: layer norm), terms of dz left out as given:

    dz = (dẑ − mean dẑ − ẑ ⊙ mean(dẑ ⊙ ẑ)) / √(σ² + ε),  dγ = Σ_i dy ⊙ ẑ,  dβ = Σ_i dy.
    """

    def backward(dy, z, gamma, eps):
        mu = z.mean(axis=axis, keepdims=True)
        std = np.sqrt(((z - mu) ** 2).mean(axis=axis, keepdims=True) + eps)
        z_hat = (z - mu) / std
        d_hat = dy * gamma
        dz = d_hat
        if mean_terms:
            dz = dz - d_hat.mean(axis=axis, keepdims=True)
            if variance_term:
                dz = dz - z_hat * (d_hat * z_hat).mean(axis=axis, keepdims=True)
        dz = dz / std
        if not summed:
            return dz, dy * z_hat, dy
        return dz, (dy * z_hat).sum(axis=0), dy.sum(axis=0)

    return backward


NOT_SUMMED = Mistake(
    "dgamma, dbeta not summed over the batch",
    "γ and β are one number per unit, shared by every data point: dγ = Σ_i dy_i ⊙ ẑ_i and dβ = Σ_i dy_i "
    "have shape (u,), not (n, u).",
    [],
)
WITHOUT_MEAN_TERMS = Mistake(
    "without the mean terms",
    "μ and σ² depend on every z_i, so dz has two more terms than dẑ/√(σ² + ε): − mean(dẑ) (through μ) and "
    "− ẑ ⊙ mean(dẑ ⊙ ẑ) (through σ²).",
    [],
)
WITHOUT_VARIANCE_TERM = Mistake(
    "without the variance term",
    "σ² depends on every z_i too: dz = (dẑ − mean(dẑ) − ẑ ⊙ mean(dẑ ⊙ ẑ)) / √(σ² + ε); the last term is "
    "the gradient through σ².",
    [],
)


def _norm_backward_mistakes(axis):
    out = [
        _as_step(WITHOUT_MEAN_TERMS, [norm_backward_with(axis, mean_terms=False)]),
        _as_step(WITHOUT_VARIANCE_TERM, [norm_backward_with(axis, variance_term=False)]),
        _as_step(NOT_SUMMED, [norm_backward_with(axis, summed=False)]),
    ]
    if axis == 1:
        out.append(Mistake("layer norm over the wrong axis",
                           "layer norm takes μ and σ² of each data point over its u units (axis 1, the last); "
                           "over the batch (axis 0) is batch norm.", [norm_backward_with(axis=0)]))
    return out


def _batchnorm_forward_mistakes():
    return [
        Mistake("unbiased variance in the forward pass",
                "batch norm normalizes with the batch's biased variance, Σ_i (z_i − μ)²/n; torch keeps the "
                "unbiased one, /(n − 1) (Bessel's correction), only for the running estimate used in eval mode.",
                [norm_with(ddof=1)]),
        Mistake("eps outside the square root", "ẑ = (z − μ)/√(σ² + ε): ε goes under the root, as torch.",
                [norm_with(eps_outside=True)]),
        Mistake("batch norm over the wrong axis", "batch norm takes μ and σ² of each unit over the n data points "
                "(axis 0); over the units (axis 1) is layer norm.", [norm_with(axis=1)]),
    ]


def _dropout_mistakes():
    return [
        Mistake("without the 1/(1 - p)", "inverted dropout scales the kept units by 1/(1 − p) in the forward pass, "
                "so the gradient is scaled alike: da ⊙ mask / (1 − p).",
                [lambda da, mask, p: da * mask]),
        Mistake("scaled by 1/p instead of 1/(1 - p)", "p is the probability to DROP a unit; a unit is kept with "
                "probability 1 − p, and the kept ones are scaled by 1/(1 − p).",
                [lambda da, mask, p: da * mask / p]),
        Mistake("mask not applied", "a dropped unit passed nothing forward, so it gets no gradient: multiply by "
                "the mask (0 where dropped).", [lambda da, mask, p: da / (1 - p)]),
    ]


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _onehot(labels, C):
    return np.eye(C)[labels]


def _cross_entropy_mistakes():
    return [
        Mistake("cross-entropy delta without the 1/n", "𝓛 is the mean over the n data points, so δ^L = "
                "(softmax(z) − onehot(labels)) / n.",
                [lambda z, labels: _softmax(z) - _onehot(labels, z.shape[1])]),
        Mistake("sign of softmax - onehot flipped", "∂𝓛/∂z = softmax(z) − onehot(labels): prediction minus "
                "target.", [lambda z, labels: (_onehot(labels, z.shape[1]) - _softmax(z)) / z.shape[0]]),
    ]


def adamw_with(decay="decoupled"):
    """AdamW, its weight decay ``decoupled`` (torch), ``in the gradient`` (Adam's L2), ``after`` the update, or
    ``without lr`` (θ(1 − λ) instead of θ(1 − lr·λ))."""

    def adamw_step(theta, D, m, v, t, lr, beta1, beta2, eps, weight_decay):
        if decay == "in the gradient":
            D = D + weight_decay * theta
        elif decay == "decoupled":
            theta = theta * (1 - lr * weight_decay)
        elif decay == "without lr":
            theta = theta * (1 - weight_decay)
        m = beta1 * m + (1 - beta1) * D
        v = beta2 * v + (1 - beta2) * D**2
        theta = theta - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
        if decay == "after":
            theta = theta - lr * weight_decay * theta
        return theta, m, v

    return adamw_step


def _adamw_mistakes():
    return [
        Mistake("AdamW's decay added to the gradient", "that is Adam with L2 (torch's Adam(weight_decay=λ)): the "
                "decay goes through m and v. AdamW decouples it: θ ← θ(1 − lr·λ), then Adam's step with D alone.",
                [adamw_with("in the gradient")]),
        Mistake("AdamW's decay after the step", "torch decays θ first, θ ← θ(1 − lr·λ), then takes Adam's step.",
                [adamw_with("after")]),
        Mistake("AdamW's decay without lr", "the decoupled decay is scaled by the learning rate: θ ← θ(1 − lr·λ).",
                [adamw_with("without lr")]),
    ]


def rmsprop_with(root=True, eps_inside=False, swapped=False):
    def rmsprop_step(theta, D, sq, lr, alpha, eps):
        sq = (1 - alpha) * sq + alpha * D**2 if swapped else alpha * sq + (1 - alpha) * D**2
        denominator = np.sqrt(sq + eps) if eps_inside else (np.sqrt(sq) + eps if root else sq + eps)
        return theta - lr * D / denominator, sq

    return rmsprop_step


def _rmsprop_mistakes():
    return [
        Mistake("RMSprop without the square root", "θ ← θ − lr·D/(√s + ε): divide by the root of the running "
                "mean of D², which has D's units; s itself has D²'s.", [rmsprop_with(root=False)]),
        Mistake(_adam_eps_inside().name, "torch adds ε after the square root: √s + ε.",
                [rmsprop_with(eps_inside=True)]),
        Mistake("alpha and 1 - alpha swapped", "s = α·s + (1 − α)·D²: the old average keeps the weight α (0.99).",
                [rmsprop_with(swapped=True)]),
    ]


def _adam_eps_inside():
    return next(m for m in _adam_mistakes() if m.name == "eps inside the square root")


INPUT_MODIFIED = Mistake(
    "input modified in place",
    "the function changed an argument it was given (an array's entries, or a list's items); compute new ones "
    "(x = x + 1, not x += 1; a new list, not a.append) and leave the caller's alone.",
    [],
)
THETA_NOT_RESTORED = Mistake(
    "theta not restored",
    "after 𝓛(θ ± ε e_{sk}) put θ^j_{sk} back to its saved value; the caller's θ must come back unchanged.",
    [],
)

MISTAKES = {
    "forward": _forward_mistakes(),
    "output_delta": [_as_step(m, v) for m, v in OUTPUT.items()],
    "layer_gradient": LAYER,
    "hidden_delta": [_as_step(m, v) for m, v in HIDDEN.items()],
    "backward": _backward_mistakes(),
    "numerical_gradient": _numerical_gradient_mistakes(),
    "sgd_momentum_step": _sgd_mistakes(),
    "adam_step": _adam_mistakes(),
    "batchnorm_forward": _batchnorm_forward_mistakes(),
    "batchnorm_backward": _norm_backward_mistakes(axis=0),
    "layernorm_backward": _norm_backward_mistakes(axis=1),
    "dropout_backward": _dropout_mistakes(),
    "cross_entropy_delta": _cross_entropy_mistakes(),
    "adamw_step": _adamw_mistakes(),
    "rmsprop_step": _rmsprop_mistakes(),
}
WATCHED = ("forward", "output_delta", "layer_gradient", "hidden_delta", "backward", "numerical_gradient",
           "batchnorm_forward", "batchnorm_backward", "layernorm_backward", "dropout_backward", "cross_entropy_delta")


# blame follows dependencies: a function the student wrote may call the student's other functions
DEPENDS = {"backward": ("output_delta", "layer_gradient", "hidden_delta"), "numerical_gradient": ("forward",)}


def composed(name, functions):
    """The right ``name`` built on ``functions`` (the student's, by name) where it would call them: what the
    student's ``name`` gives when its only fault is theirs."""
    if name == "backward":
        return backward_with(**functions)
    if name == "numerical_gradient":
        return numerical_gradient_with(central, forward=functions["forward"])
    raise ValueError(f"name: {name!r} calls no other exercise; expected one of {', '.join(DEPENDS)}")


def names():
    """Every mistake the checker can name, by exercise (the optimizer steps may update theta in place)."""
    out = {exercise: [m.name for m in ms] for exercise, ms in MISTAKES.items()}
    out["numerical_gradient"].append(THETA_NOT_RESTORED.name)
    for exercise in WATCHED:
        out[exercise].append(INPUT_MODIFIED.name)
    for exercise in ("layer_gradient", "backward", "numerical_gradient"):  # the answers shaped like theta
        out[exercise].append(BIAS_COLUMN_WRONG.name)
    for exercise in out:
        out[exercise].append(RETURNS_FLOAT32.name)
    out["forward"].append(FLOAT32_PRECISION.name)
    return out
