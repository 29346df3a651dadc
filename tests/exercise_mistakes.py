"""Planted mistakes for tests/test_exercises.py: each is the solution with one small thing wrong.

``PLANTED`` lists ``(exercise, mistake name, function)``: the function is what a
student might write, and the checker must name that mistake. They are written
here independently of scratchnn.teaching.exercises.mistakes (which reproduces them), so
that the test does not compare the checker's code with itself.
"""

import numpy as np

# ------------------------------------------------------------------ forward
def forward_no_bias_unit(theta, X):
    a = [X]
    for j in range(len(theta)):
        z = a[j] @ theta[j][:, 1:].T + theta[j][:, 0]
        a.append(np.tanh(z))
    return a


def forward_bias_last(theta, X):
    n = X.shape[0]
    a = [np.hstack([X, np.ones((n, 1))])]
    for j in range(len(theta)):
        h = np.tanh(a[j] @ theta[j].T)
        a.append(h if j == len(theta) - 1 else np.hstack([h, np.ones((n, 1))]))
    return a


def forward_linear_output(theta, X):
    n = X.shape[0]
    a = [np.hstack([np.ones((n, 1)), X])]
    for j in range(len(theta)):
        z = a[j] @ theta[j].T
        a.append(z if j == len(theta) - 1 else np.hstack([np.ones((n, 1)), np.tanh(z)]))
    return a


def forward_bias_on_output(theta, X):
    n = X.shape[0]
    a = [np.hstack([np.ones((n, 1)), X])]
    for j in range(len(theta)):
        a.append(np.hstack([np.ones((n, 1)), np.tanh(a[j] @ theta[j].T)]))
    return a


def forward_no_hidden_bias_unit(theta, X):
    n = X.shape[0]
    a = [np.hstack([np.ones((n, 1)), X])]
    for j in range(len(theta)):
        a.append(np.tanh(a[j] @ theta[j].T))  # the bias unit only on the input
    return a


def forward_float32(theta, X):
    theta = [t.astype(np.float32) for t in theta]  # "float32 is enough"
    n = X.shape[0]
    a = [np.hstack([np.ones((n, 1), np.float32), X.astype(np.float32)])]
    for j in range(len(theta)):
        z = a[j] @ theta[j].T
        a.append(np.tanh(z) if j == len(theta) - 1 else np.hstack([np.ones((n, 1), np.float32), np.tanh(z)]))
    return a


def forward_float32_inside(theta, X):
    n = X.shape[0]
    a = [np.hstack([np.ones((n, 1)), X.astype(np.float32)])]  # float64 again after the hstack, X rounded
    for j in range(len(theta)):
        z = a[j] @ theta[j].T
        a.append(np.tanh(z) if j == len(theta) - 1 else np.hstack([np.ones((n, 1)), np.tanh(z)]))
    return a


def forward_in_place(theta, X):
    X -= 0  # harmless
    X[:, 0] = X[:, 0]  # harmless
    n = X.shape[0]
    a = [np.hstack([np.ones((n, 1)), X])]
    for j in range(len(theta)):
        theta[j][:, 0] *= 1.0  # harmless so far
        z = a[j] @ theta[j].T
        a.append(np.tanh(z) if j == len(theta) - 1 else np.hstack([np.ones((n, 1)), np.tanh(z)]))
    X *= 2  # the caller's X is now doubled
    return a


# ------------------------------------------------------------- output_delta
def output_delta_no_2(a_L, Y):
    return 1 / Y.size * (a_L - Y) * (1 - a_L**2)


def output_delta_no_mean(a_L, Y):
    return 2 * (a_L - Y) * (1 - a_L**2)


def output_delta_over_n(a_L, Y):
    n = a_L.shape[0]
    return 2 / n * (a_L - Y) * (1 - a_L**2)


def output_delta_tanh_of_a(a_L, Y):
    return 2 / Y.size * (a_L - Y) * (1 - np.tanh(a_L) ** 2)


def output_delta_no_g_prime(a_L, Y):
    return 2 / Y.size * (a_L - Y)


def output_delta_sign(a_L, Y):
    return 2 / Y.size * (Y - a_L) * (1 - a_L**2)


def output_delta_one_minus_a(a_L, Y):
    return 2 / Y.size * (a_L - Y) * (1 - a_L)


def output_delta_square_of_difference(a_L, Y):
    return 2 / Y.size * (a_L - Y) * (1 - a_L) ** 2


def output_delta_float32(a_L, Y):
    a_L = a_L.astype(np.float32)
    return 2 / Y.size * (a_L - Y.astype(np.float32)) * (1 - a_L**2)


def output_delta_in_place(a_L, Y):
    a_L -= Y  # a_L now holds the residual
    return 2 / Y.size * a_L * (1 - (a_L + Y) ** 2)


# ----------------------------------------------------------- layer_gradient
def layer_gradient_transposed(delta_next, a_j):
    return a_j.T @ delta_next


def layer_gradient_no_bias(delta_next, a_j):
    return delta_next.T @ a_j[:, 1:]


def layer_gradient_zero_bias(delta_next, a_j):
    D = delta_next.T @ a_j
    D[:, 0] = 0
    return D


def layer_gradient_mean_again(delta_next, a_j):
    n = a_j.shape[0]
    return delta_next.T @ a_j / n


def layer_gradient_bias_mean(delta_next, a_j):
    D = delta_next.T @ a_j
    D[:, 0] = delta_next.mean(axis=0)  # "the bias gradient is the average delta"
    return D


def layer_gradient_bias_first_point(delta_next, a_j):
    D = delta_next.T @ a_j
    D[:, 0] = delta_next[0]  # the bias gradient of the first data point only
    return D


def layer_gradient_float32(delta_next, a_j):
    return delta_next.T.astype(np.float32) @ a_j.astype(np.float32)


def layer_gradient_in_place(delta_next, a_j):
    a_j[:, 0] = 0  # "the bias unit is not a weight"
    a_j[:, 0] = 1
    delta_next *= 1.5
    return delta_next.T @ a_j / 1.5


# ------------------------------------------------------------- hidden_delta
def hidden_delta_bias_column(delta_next, theta_j, a_j):
    return (delta_next @ theta_j) * (1 - a_j**2)


def hidden_delta_tanh_of_a(delta_next, theta_j, a_j):
    return (delta_next @ theta_j[:, 1:]) * (1 - np.tanh(a_j[:, 1:]) ** 2)


def hidden_delta_no_g_prime(delta_next, theta_j, a_j):
    return delta_next @ theta_j[:, 1:]


def hidden_delta_one_minus_a(delta_next, theta_j, a_j):
    return (delta_next @ theta_j[:, 1:]) * (1 - a_j[:, 1:])


def hidden_delta_theta_transposed(delta_next, theta_j, a_j):
    return (delta_next @ theta_j[:, 1:].T) * (1 - a_j[:, 1:] ** 2)


def hidden_delta_float32(delta_next, theta_j, a_j):
    return (delta_next @ theta_j[:, 1:]).astype(np.float32) * (1 - a_j[:, 1:] ** 2).astype(np.float32)


def hidden_delta_in_place(delta_next, theta_j, a_j):
    a_j **= 2
    return (delta_next @ theta_j[:, 1:]) * (1 - a_j[:, 1:])


# ----------------------------------------------------------------- backward
def make_backward(output_delta, layer_gradient, hidden_delta):
    def backward(theta, a, Y):
        L = len(theta)
        D = [None] * L
        delta = output_delta(a[L], Y)
        for j in range(L - 1, -1, -1):
            D[j] = layer_gradient(delta, a[j])
            if j > 0:
                delta = hidden_delta(delta, theta[j], a[j])
        return D

    return backward


def _od(a_L, Y):
    return 2 / Y.size * (a_L - Y) * (1 - a_L**2)


def _lg(delta_next, a_j):
    return delta_next.T @ a_j


def _hd(delta_next, theta_j, a_j):
    return (delta_next @ theta_j[:, 1:]) * (1 - a_j[:, 1:] ** 2)


def backward_one_minus_z_squared(theta, a, Y):
    L = len(theta)
    D = [None] * L
    z = a[L - 1] @ theta[L - 1].T
    delta = 2 / Y.size * (a[L] - Y) * (1 - z**2)
    for j in range(L - 1, -1, -1):
        D[j] = delta.T @ a[j]
        if j > 0:
            z = a[j - 1] @ theta[j - 1].T
            delta = (delta @ theta[j][:, 1:]) * (1 - z**2)
    return D


def backward_reversed(theta, a, Y):
    D = []
    delta = _od(a[-1], Y)
    for j in range(len(theta) - 1, -1, -1):
        D.append(delta.T @ a[j])
        if j > 0:
            delta = _hd(delta, theta[j], a[j])
    return D


def backward_in_place(theta, a, Y):
    a[-1] -= Y  # the residual, in the caller's a^L
    delta = 2 / Y.size * a[-1] * (1 - (a[-1] + Y) ** 2)
    D = [None] * len(theta)
    for j in range(len(theta) - 1, -1, -1):
        D[j] = delta.T @ a[j]
        if j > 0:
            delta = _hd(delta, theta[j], a[j])
    return D


# ------------------------------------------------------- numerical_gradient
def _loss(theta, X, Y):
    n = X.shape[0]
    a = np.hstack([np.ones((n, 1)), X])
    for j in range(len(theta)):
        h = np.tanh(a @ theta[j].T)
        a = h if j == len(theta) - 1 else np.hstack([np.ones((n, 1)), h])
    return np.mean((a - Y) ** 2)


def numerical_gradient_one_sided(theta, X, Y, eps):
    Dnum = []
    for t in theta:
        G = np.zeros(t.shape)
        for idx in np.ndindex(t.shape):
            base = _loss(theta, X, Y)
            t[idx] += eps
            G[idx] = (_loss(theta, X, Y) - base) / eps
            t[idx] -= eps
        Dnum.append(G)
    return Dnum


def numerical_gradient_over_eps(theta, X, Y, eps):
    Dnum = []
    for t in theta:
        G = np.zeros(t.shape)
        for idx in np.ndindex(t.shape):
            saved = t[idx]
            t[idx] = saved + eps
            plus = _loss(theta, X, Y)
            t[idx] = saved - eps
            minus = _loss(theta, X, Y)
            t[idx] = saved
            G[idx] = (plus - minus) / eps
        Dnum.append(G)
    return Dnum


def numerical_gradient_summed(theta, X, Y, eps):
    def loss(theta):
        return _loss(theta, X, Y) * Y.size  # the sum of squares

    Dnum = []
    for t in theta:
        G = np.zeros(t.shape)
        for idx in np.ndindex(t.shape):
            saved = t[idx]
            t[idx] = saved + eps
            plus = loss(theta)
            t[idx] = saved - eps
            minus = loss(theta)
            t[idx] = saved
            G[idx] = (plus - minus) / (2 * eps)
        Dnum.append(G)
    return Dnum


def numerical_gradient_not_restored(theta, X, Y, eps):
    Dnum = []
    for t in theta:
        G = np.zeros(t.shape)
        for idx in np.ndindex(t.shape):
            t[idx] += eps
            plus = _loss(theta, X, Y)
            t[idx] -= 2 * eps
            minus = _loss(theta, X, Y)
            G[idx] = (plus - minus) / (2 * eps)  # and theta stays at theta - eps
        Dnum.append(G)
    return Dnum


def numerical_gradient_skipping_the_bias(theta, X, Y, eps):
    Dnum = []
    for t in theta:
        G = np.zeros(t.shape)
        for idx in np.ndindex(t.shape):
            if idx[1] == 0:
                continue  # "the bias is not a weight"
            saved = t[idx]
            t[idx] = saved + eps
            plus = _loss(theta, X, Y)
            t[idx] = saved - eps
            minus = _loss(theta, X, Y)
            t[idx] = saved
            G[idx] = (plus - minus) / (2 * eps)
        Dnum.append(G)
    return Dnum


def numerical_gradient_float32(theta, X, Y, eps):
    Dnum = []
    for t in theta:
        G = np.zeros(t.shape, dtype=np.float32)
        for idx in np.ndindex(t.shape):
            saved = t[idx]
            t[idx] = saved + eps
            plus = _loss(theta, X, Y)
            t[idx] = saved - eps
            minus = _loss(theta, X, Y)
            t[idx] = saved
            G[idx] = (plus - minus) / (2 * eps)
        Dnum.append(G)
    return Dnum


def numerical_gradient_in_place(theta, X, Y, eps):
    Y += 0.0
    Y *= 1.0
    X /= 2  # the caller's X is halved
    Dnum = []
    for t in theta:
        G = np.zeros(t.shape)
        for idx in np.ndindex(t.shape):
            saved = t[idx]
            t[idx] = saved + eps
            plus = _loss(theta, 2 * X, Y)
            t[idx] = saved - eps
            minus = _loss(theta, 2 * X, Y)
            t[idx] = saved
            G[idx] = (plus - minus) / (2 * eps)
        Dnum.append(G)
    return Dnum


# -------------------------------------------------------- sgd_momentum_step
def sgd_momentum_first(theta, D, buf, lr, momentum):
    if buf is None:
        buf = momentum * D
    else:
        buf = momentum * buf + D
    return theta - lr * buf, buf


def sgd_average(theta, D, buf, lr, momentum):
    if buf is None:
        buf = np.zeros_like(D)
    buf = momentum * buf + (1 - momentum) * D
    return theta - lr * buf, buf


def sgd_velocity(theta, D, buf, lr, momentum):
    if buf is None:
        buf = np.zeros_like(D)
    buf = momentum * buf - lr * D
    return theta + buf, buf


def sgd_lr_inside(theta, D, buf, lr, momentum):
    if buf is None:
        buf = lr * D
    else:
        buf = momentum * buf + lr * D
    return theta - buf, buf


def sgd_no_momentum(theta, D, buf, lr, momentum):
    theta = theta - lr * D
    return theta, buf


def sgd_float32(theta, D, buf, lr, momentum):
    D = D.astype(np.float32)
    buf = D if buf is None else momentum * buf + D
    return theta.astype(np.float32) - lr * buf, buf


# ---------------------------------------------------------------- adam_step
def adam_no_correction(theta, D, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * D
    v = beta2 * v + (1 - beta2) * D**2
    return theta - lr * m / (np.sqrt(v) + eps), m, v


def adam_t_minus_1(theta, D, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * D
    v = beta2 * v + (1 - beta2) * D**2
    m_hat = m / (1 - beta1 ** (t - 1))
    v_hat = v / (1 - beta2 ** (t - 1))
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_t_plus_1(theta, D, m, v, t, lr, beta1, beta2, eps):
    t = t + 1
    m = beta1 * m + (1 - beta1) * D
    v = beta2 * v + (1 - beta2) * D**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_m_only(theta, D, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * D
    v = beta2 * v + (1 - beta2) * D**2
    return theta - lr * m / (1 - beta1**t) / (np.sqrt(v) + eps), m, v


def adam_eps_inside(theta, D, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * D
    v = beta2 * v + (1 - beta2) * D**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return theta - lr * m_hat / np.sqrt(v_hat + eps), m, v


def adam_theta_first(theta, D, m, v, t, lr, beta1, beta2, eps):
    theta = theta - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
    m = beta1 * m + (1 - beta1) * D
    v = beta2 * v + (1 - beta2) * D**2
    return theta, m, v


def adam_swapped(theta, D, m, v, t, lr, beta1, beta2, eps):
    m = (1 - beta1) * m + beta1 * D
    v = (1 - beta2) * v + beta2 * D**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def adam_float32(theta, D, m, v, t, lr, beta1, beta2, eps):
    D = D.astype(np.float32)
    m = beta1 * m.astype(np.float32) + (1 - beta1) * D
    v = beta2 * v.astype(np.float32) + (1 - beta2) * D**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def backward_float32(theta, a, Y):
    theta = [t.astype(np.float32) for t in theta]  # "to save memory"
    a = [a_j.astype(np.float32) for a_j in a]
    return make_backward(_od, _lg, _hd)(theta, a, Y.astype(np.float32))


# ------------------------------------------------------- the backprop ninja's
def _bn_stats(z, axis=0, ddof=0):
    mu = z.mean(axis=axis, keepdims=True)
    var = z.var(axis=axis, ddof=ddof, keepdims=True)
    return mu, var


def batchnorm_forward_unbiased(z, gamma, beta, eps):
    mu, var = _bn_stats(z, ddof=1)  # "the sample variance"
    return gamma * (z - mu) / np.sqrt(var + eps) + beta


def batchnorm_forward_eps_outside(z, gamma, beta, eps):
    mu, var = _bn_stats(z)
    return gamma * (z - mu) / (np.sqrt(var) + eps) + beta


def batchnorm_forward_rows(z, gamma, beta, eps):
    mu, var = _bn_stats(z, axis=1)
    return gamma * (z - mu) / np.sqrt(var + eps) + beta


def batchnorm_forward_float32(z, gamma, beta, eps):
    z = z.astype(np.float32)
    mu, var = _bn_stats(z)
    return gamma.astype(np.float32) * (z - mu) / np.sqrt(var + np.float32(eps)) + beta.astype(np.float32)


def batchnorm_forward_in_place(z, gamma, beta, eps):
    z -= z.mean(axis=0)  # centred in the caller's array
    return gamma * z / np.sqrt((z**2).mean(axis=0) + eps) + beta


def _norm_parts(dy, z, gamma, eps, axis):
    mu, var = _bn_stats(z, axis=axis)
    std = np.sqrt(var + eps)
    z_hat = (z - mu) / std
    return z_hat, std, dy * gamma


def batchnorm_backward_direct_only(dy, z, gamma, eps):
    z_hat, std, d_hat = _norm_parts(dy, z, gamma, eps, 0)
    return d_hat / std, (dy * z_hat).sum(axis=0), dy.sum(axis=0)  # "y is linear in z"


def batchnorm_backward_no_variance_term(dy, z, gamma, eps):
    z_hat, std, d_hat = _norm_parts(dy, z, gamma, eps, 0)
    return (d_hat - d_hat.mean(axis=0)) / std, (dy * z_hat).sum(axis=0), dy.sum(axis=0)


def batchnorm_backward_not_summed(dy, z, gamma, eps):
    z_hat, std, d_hat = _norm_parts(dy, z, gamma, eps, 0)
    dz = (d_hat - d_hat.mean(axis=0) - z_hat * (d_hat * z_hat).mean(axis=0)) / std
    return dz, dy * z_hat, dy


def batchnorm_backward_float32(dy, z, gamma, eps):
    z_hat, std, d_hat = _norm_parts(dy.astype(np.float32), z.astype(np.float32), gamma.astype(np.float32),
                                    np.float32(eps), 0)
    dy = dy.astype(np.float32)
    dz = (d_hat - d_hat.mean(axis=0) - z_hat * (d_hat * z_hat).mean(axis=0)) / std
    return dz, (dy * z_hat).sum(axis=0), dy.sum(axis=0)


def batchnorm_backward_in_place(dy, z, gamma, eps):
    z_hat, std, d_hat = _norm_parts(dy, z, gamma, eps, 0)
    dy *= z_hat  # dy now holds dy ⊙ ẑ
    dz = (d_hat - d_hat.mean(axis=0) - z_hat * (d_hat * z_hat).mean(axis=0)) / std
    return dz, dy.sum(axis=0), (dy / z_hat).sum(axis=0)


def layernorm_backward_batch_axis(dy, z, gamma, eps):
    z_hat, std, d_hat = _norm_parts(dy, z, gamma, eps, 0)  # the batch-norm code, unchanged
    dz = (d_hat - d_hat.mean(axis=0) - z_hat * (d_hat * z_hat).mean(axis=0)) / std
    return dz, (dy * z_hat).sum(axis=0), dy.sum(axis=0)


def layernorm_backward_direct_only(dy, z, gamma, eps):
    z_hat, std, d_hat = _norm_parts(dy, z, gamma, eps, 1)
    return d_hat / std, (dy * z_hat).sum(axis=0), dy.sum(axis=0)


def layernorm_backward_no_variance_term(dy, z, gamma, eps):
    z_hat, std, d_hat = _norm_parts(dy, z, gamma, eps, 1)
    return (d_hat - d_hat.mean(axis=1, keepdims=True)) / std, (dy * z_hat).sum(axis=0), dy.sum(axis=0)


def layernorm_backward_not_summed(dy, z, gamma, eps):
    z_hat, std, d_hat = _norm_parts(dy, z, gamma, eps, 1)
    dz = (d_hat - d_hat.mean(axis=1, keepdims=True) - z_hat * (d_hat * z_hat).mean(axis=1, keepdims=True)) / std
    return dz, dy * z_hat, dy


def layernorm_backward_float32(dy, z, gamma, eps):
    return tuple(x.astype(np.float32) for x in _layernorm_right(dy, z, gamma, eps))


def _layernorm_right(dy, z, gamma, eps):
    z_hat, std, d_hat = _norm_parts(dy, z, gamma, eps, 1)
    dz = (d_hat - d_hat.mean(axis=1, keepdims=True) - z_hat * (d_hat * z_hat).mean(axis=1, keepdims=True)) / std
    return dz, (dy * z_hat).sum(axis=0), dy.sum(axis=0)


def layernorm_backward_in_place(dy, z, gamma, eps):
    out = _layernorm_right(dy, z, gamma, eps)
    gamma[:] = 1  # "reset" the caller's γ
    return out


def dropout_backward_unscaled(da, mask, p):
    return da * mask


def dropout_backward_over_p(da, mask, p):
    return da * mask / p


def dropout_backward_no_mask(da, mask, p):
    return da / (1 - p)


def dropout_backward_float32(da, mask, p):
    return (da * mask / (1 - p)).astype(np.float32)


def dropout_backward_in_place(da, mask, p):
    da[~mask] = 0
    return da / (1 - p)


def _softmax_rows(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy_delta_no_mean(z, labels):
    s = _softmax_rows(z)
    s[np.arange(len(labels)), labels] -= 1
    return s


def cross_entropy_delta_sign(z, labels):
    s = -_softmax_rows(z)
    s[np.arange(len(labels)), labels] += 1
    return s / len(labels)


def cross_entropy_delta_float32(z, labels):
    s = _softmax_rows(z.astype(np.float32))
    s[np.arange(len(labels)), labels] -= 1
    return s / np.float32(len(labels))


def cross_entropy_delta_in_place(z, labels):
    z -= z.max(axis=1, keepdims=True)  # the shift, in the caller's logits
    s = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    s[np.arange(len(labels)), labels] -= 1
    return s / len(labels)


def _adam_update(theta, D, m, v, t, lr, beta1, beta2, eps):
    m = beta1 * m + (1 - beta1) * D
    v = beta2 * v + (1 - beta2) * D**2
    return theta - lr * (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps), m, v


def adamw_l2(theta, D, m, v, t, lr, beta1, beta2, eps, weight_decay):
    return _adam_update(theta, D + weight_decay * theta, m, v, t, lr, beta1, beta2, eps)


def adamw_decay_after(theta, D, m, v, t, lr, beta1, beta2, eps, weight_decay):
    theta, m, v = _adam_update(theta, D, m, v, t, lr, beta1, beta2, eps)
    return theta * (1 - lr * weight_decay), m, v


def adamw_decay_without_lr(theta, D, m, v, t, lr, beta1, beta2, eps, weight_decay):
    return _adam_update(theta - weight_decay * theta, D, m, v, t, lr, beta1, beta2, eps)


def adamw_float32(theta, D, m, v, t, lr, beta1, beta2, eps, weight_decay):
    theta = theta.astype(np.float32) * np.float32(1 - lr * weight_decay)
    return _adam_update(theta, D.astype(np.float32), m.astype(np.float32), v.astype(np.float32), t,
                        np.float32(lr), np.float32(beta1), np.float32(beta2), np.float32(eps))


def rmsprop_no_root(theta, D, sq, lr, alpha, eps):
    sq = alpha * sq + (1 - alpha) * D**2
    return theta - lr * D / (sq + eps), sq


def rmsprop_eps_inside(theta, D, sq, lr, alpha, eps):
    sq = alpha * sq + (1 - alpha) * D**2
    return theta - lr * D / np.sqrt(sq + eps), sq


def rmsprop_swapped(theta, D, sq, lr, alpha, eps):
    sq = (1 - alpha) * sq + alpha * D**2
    return theta - lr * D / (np.sqrt(sq) + eps), sq


def rmsprop_float32(theta, D, sq, lr, alpha, eps):
    sq = np.float32(alpha) * sq.astype(np.float32) + np.float32(1 - alpha) * D.astype(np.float32) ** 2
    return theta.astype(np.float32) - np.float32(lr) * D.astype(np.float32) / (np.sqrt(sq) + np.float32(eps)), sq


PLANTED = [
    ("forward", "bias unit missing", forward_no_bias_unit),
    ("forward", "bias unit in the last column", forward_bias_last),
    ("forward", "no tanh on the output", forward_linear_output),
    ("forward", "bias unit on the output", forward_bias_on_output),
    ("forward", "input modified in place", forward_in_place),
    ("forward", "bias unit missing on the hidden layers", forward_no_hidden_bias_unit),
    ("forward", "returns float32", forward_float32),
    ("forward", "float32 precision", forward_float32_inside),
    ("output_delta", "factor 2 forgotten", output_delta_no_2),
    ("output_delta", "1/(n u^L) of the mean forgotten", output_delta_no_mean),
    ("output_delta", "1/n instead of 1/(n u^L)", output_delta_over_n),
    ("output_delta", "1 - tanh(a)^2 instead of 1 - a^2", output_delta_tanh_of_a),
    ("output_delta", "g' forgotten", output_delta_no_g_prime),
    ("output_delta", "sign of a^L - Y flipped", output_delta_sign),
    ("output_delta", "input modified in place", output_delta_in_place),
    ("output_delta", "1 - a instead of 1 - a^2", output_delta_one_minus_a),
    ("output_delta", "(1 - a)^2 instead of 1 - a^2", output_delta_square_of_difference),
    ("output_delta", "returns float32", output_delta_float32),
    ("layer_gradient", "transposed D", layer_gradient_transposed),
    ("layer_gradient", "bias column's gradient missing", layer_gradient_no_bias),
    ("layer_gradient", "bias column's gradient missing", layer_gradient_zero_bias),
    ("layer_gradient", "1/n applied twice", layer_gradient_mean_again),
    ("layer_gradient", "input modified in place", layer_gradient_in_place),
    ("layer_gradient", "bias gradient as the mean of delta", layer_gradient_bias_mean),
    ("layer_gradient", "bias column wrong", layer_gradient_bias_first_point),
    ("layer_gradient", "returns float32", layer_gradient_float32),
    ("hidden_delta", "bias column included in delta", hidden_delta_bias_column),
    ("hidden_delta", "1 - tanh(a)^2 instead of 1 - a^2", hidden_delta_tanh_of_a),
    ("hidden_delta", "g' forgotten", hidden_delta_no_g_prime),
    ("hidden_delta", "input modified in place", hidden_delta_in_place),
    ("hidden_delta", "1 - a instead of 1 - a^2", hidden_delta_one_minus_a),
    ("hidden_delta", "theta transposed in the hidden delta", hidden_delta_theta_transposed),
    ("hidden_delta", "returns float32", hidden_delta_float32),
    ("backward", "factor 2 forgotten", make_backward(output_delta_no_2, _lg, _hd)),
    ("backward", "1/(n u^L) of the mean forgotten", make_backward(output_delta_no_mean, _lg, _hd)),
    ("backward", "1/n instead of 1/(n u^L)", make_backward(output_delta_over_n, _lg, _hd)),
    ("backward", "1 - tanh(a)^2 instead of 1 - a^2",
     make_backward(output_delta_tanh_of_a, _lg, hidden_delta_tanh_of_a)),
    ("backward", "g' forgotten", make_backward(output_delta_no_g_prime, _lg, _hd)),
    ("backward", "sign of a^L - Y flipped", make_backward(output_delta_sign, _lg, _hd)),
    ("backward", "bias column included in delta", make_backward(_od, _lg, hidden_delta_bias_column)),
    ("backward", "transposed D", make_backward(_od, layer_gradient_transposed, _hd)),
    ("backward", "bias column's gradient missing", make_backward(_od, layer_gradient_no_bias, _hd)),
    ("backward", "1/n applied twice", make_backward(_od, layer_gradient_mean_again, _hd)),
    ("backward", "1 - z^2 instead of 1 - a^2", backward_one_minus_z_squared),
    ("backward", "D listed in reverse order", backward_reversed),
    ("backward", "input modified in place", backward_in_place),
    ("backward", "1 - a instead of 1 - a^2", make_backward(output_delta_one_minus_a, _lg, hidden_delta_one_minus_a)),
    ("backward", "(1 - a)^2 instead of 1 - a^2", make_backward(output_delta_square_of_difference, _lg, _hd)),
    ("backward", "theta transposed in the hidden delta", make_backward(_od, _lg, hidden_delta_theta_transposed)),
    ("backward", "bias gradient as the mean of delta", make_backward(_od, layer_gradient_bias_mean, _hd)),
    ("backward", "bias column wrong", make_backward(_od, layer_gradient_bias_first_point, _hd)),
    ("backward", "returns float32", backward_float32),
    ("numerical_gradient", "one-sided difference", numerical_gradient_one_sided),
    ("numerical_gradient", "divided by eps instead of 2 eps", numerical_gradient_over_eps),
    ("numerical_gradient", "1/(n u^L) of the mean forgotten", numerical_gradient_summed),
    ("numerical_gradient", "theta not restored", numerical_gradient_not_restored),
    ("numerical_gradient", "input modified in place", numerical_gradient_in_place),
    ("numerical_gradient", "bias column wrong", numerical_gradient_skipping_the_bias),
    ("numerical_gradient", "returns float32", numerical_gradient_float32),
    ("sgd_momentum_step", "momentum applied before the first buffer", sgd_momentum_first),
    ("sgd_momentum_step", "buffer as a running average", sgd_average),
    ("sgd_momentum_step", "velocity instead of torch's buffer", sgd_velocity),
    ("sgd_momentum_step", "lr inside the buffer", sgd_lr_inside),
    ("sgd_momentum_step", "momentum not used", sgd_no_momentum),
    ("sgd_momentum_step", "returns float32", sgd_float32),
    ("adam_step", "Adam without bias correction", adam_no_correction),
    ("adam_step", "Adam with t - 1", adam_t_minus_1),
    ("adam_step", "Adam with t + 1", adam_t_plus_1),
    ("adam_step", "bias correction on only one of m, v", adam_m_only),
    ("adam_step", "eps inside the square root", adam_eps_inside),
    ("adam_step", "theta updated before m and v", adam_theta_first),
    ("adam_step", "beta and 1 - beta swapped", adam_swapped),
    ("adam_step", "returns float32", adam_float32),
    ("batchnorm_forward", "unbiased variance in the forward pass", batchnorm_forward_unbiased),
    ("batchnorm_forward", "eps outside the square root", batchnorm_forward_eps_outside),
    ("batchnorm_forward", "batch norm over the wrong axis", batchnorm_forward_rows),
    ("batchnorm_forward", "returns float32", batchnorm_forward_float32),
    ("batchnorm_forward", "input modified in place", batchnorm_forward_in_place),
    ("batchnorm_backward", "without the mean terms", batchnorm_backward_direct_only),
    ("batchnorm_backward", "without the variance term", batchnorm_backward_no_variance_term),
    ("batchnorm_backward", "dgamma, dbeta not summed over the batch", batchnorm_backward_not_summed),
    ("batchnorm_backward", "returns float32", batchnorm_backward_float32),
    ("batchnorm_backward", "input modified in place", batchnorm_backward_in_place),
    ("layernorm_backward", "layer norm over the wrong axis", layernorm_backward_batch_axis),
    ("layernorm_backward", "without the mean terms", layernorm_backward_direct_only),
    ("layernorm_backward", "without the variance term", layernorm_backward_no_variance_term),
    ("layernorm_backward", "dgamma, dbeta not summed over the batch", layernorm_backward_not_summed),
    ("layernorm_backward", "returns float32", layernorm_backward_float32),
    ("layernorm_backward", "input modified in place", layernorm_backward_in_place),
    ("dropout_backward", "without the 1/(1 - p)", dropout_backward_unscaled),
    ("dropout_backward", "scaled by 1/p instead of 1/(1 - p)", dropout_backward_over_p),
    ("dropout_backward", "mask not applied", dropout_backward_no_mask),
    ("dropout_backward", "returns float32", dropout_backward_float32),
    ("dropout_backward", "input modified in place", dropout_backward_in_place),
    ("cross_entropy_delta", "cross-entropy delta without the 1/n", cross_entropy_delta_no_mean),
    ("cross_entropy_delta", "sign of softmax - onehot flipped", cross_entropy_delta_sign),
    ("cross_entropy_delta", "returns float32", cross_entropy_delta_float32),
    ("cross_entropy_delta", "input modified in place", cross_entropy_delta_in_place),
    ("adamw_step", "AdamW's decay added to the gradient", adamw_l2),
    ("adamw_step", "AdamW's decay after the step", adamw_decay_after),
    ("adamw_step", "AdamW's decay without lr", adamw_decay_without_lr),
    ("adamw_step", "returns float32", adamw_float32),
    ("rmsprop_step", "RMSprop without the square root", rmsprop_no_root),
    ("rmsprop_step", "eps inside the square root", rmsprop_eps_inside),
    ("rmsprop_step", "alpha and 1 - alpha swapped", rmsprop_swapped),
    ("rmsprop_step", "returns float32", rmsprop_float32),
]
