r"""Optimizers that follow ``torch.optim``'s update formulas, term for term.

Each optimizer holds the list ``theta`` it updates in place and one state
array per theta^j, shaped like it (bias in column 0, as theta). Scalars are
rounded to theta's dtype where torch rounds them, so float32 stays float32.
The defaults are torch's too (``lr=1e-3`` for SGD, Adam and AdamW, ``1e-2`` for
RMSprop and Adagrad). ``lr`` is an attribute a schedule may change between
steps (:mod:`scratchnn.schedules`).

Weight decay is torch's ``weight_decay``: lambda theta is added to the whole
gradient, the bias column included. That is not the regularisation of Ng's
ex4, which adds (lambda/n) theta^j[:, 1:] and leaves the bias alone; and in
Adam, ``weight_decay`` goes through the moment estimates. AdamW decays theta
itself instead ("decoupled", Loshchilov & Hutter 2019), before the step and
outside the gradient.

SGD (``torch.optim.SGD``), with gradient ``D`` and step count ``t``:

    g   = D + lambda theta                         (weight decay lambda)
    b_t = g                          if t = 1      (the first step does not dampen)
    b_t = mu b_{t-1} + (1 - tau) g   if t > 1      (momentum mu, dampening tau)
    g   = g + mu b_t  if nesterov else b_t         (only when mu != 0)
    theta <- theta - lr g

Adam (``torch.optim.Adam``, Kingma & Ba 2015, as torch implements it):

    g     = D + lambda theta
    m_t   = m_{t-1} + (1 - beta1) (g - m_{t-1})         (torch's lerp)
    v_t   = beta2 v_{t-1} + (1 - beta2) g^2
    vhat  = max(vhat_{t-1}, v_t) if amsgrad else v_t
    theta <- theta - lr / (1 - beta1^t) * m_t / (sqrt(vhat) / sqrt(1 - beta2^t) + eps)

AdamW (``torch.optim.AdamW``): Adam's moments and step on g = D, after

    theta <- theta (1 - lr lambda)                      (decoupled decay; the gradient is not decayed)

RMSprop (``torch.optim.RMSprop``, Hinton's lecture 6e; centered: Graves 2013):

    g     = D + lambda theta
    s_t   = alpha s_{t-1} + (1 - alpha) g^2             (square_avg)
    gbar_t = gbar_{t-1} + (1 - alpha) (g - gbar_{t-1})  (grad_avg, only when centered; torch's lerp)
    r     = sqrt(s_t - gbar_t^2) + eps if centered else sqrt(s_t) + eps   (eps after the root)
    b_t   = mu b_{t-1} + g / r;  theta <- theta - lr b_t   if momentum mu > 0
    theta <- theta - lr g / r                                otherwise

Adagrad (``torch.optim.Adagrad``, Duchi, Hazan & Singer 2011):

    g     = D + lambda theta
    clr   = lr / (1 + (t - 1) lr_decay)
    G_t   = G_{t-1} + g^2                               (``sum``, starts at initial_accumulator_value)
    theta <- theta - clr g / (sqrt(G_t) + eps)
"""

import numpy as np

from .checks import check_real


def _check_theta(theta):
    if not isinstance(theta, (list, tuple)) or not theta or not all(isinstance(t, np.ndarray) for t in theta):
        raise TypeError("theta: expected the list of weight matrices, e.g. net.theta")
    dtypes = {t.dtype for t in theta}
    if len(dtypes) != 1 or not all(t.dtype in (np.float32, np.float64) for t in theta):
        raise TypeError(f"theta: expected float32 or float64 matrices of one dtype, got {sorted(map(str, dtypes))}")
    return list(theta)


class Optimizer:
    """What every optimizer shares: the theta it updates and the step count t."""

    def __init__(self, theta, lr, weight_decay):
        self.theta = _check_theta(theta)
        self.dtype = self.theta[0].dtype
        self.lr = check_real("lr", lr, low=0.0, low_open=True)
        self.weight_decay = check_real("weight_decay", weight_decay, low=0.0)
        self.t = 0

    def _check_D(self, D):
        if not isinstance(D, (list, tuple)) or len(D) != len(self.theta):
            raise ValueError(f"D: expected a list of {len(self.theta)} gradients, one per theta^j")
        for j, (d, t) in enumerate(zip(D, self.theta)):
            if not isinstance(d, np.ndarray) or d.shape != t.shape or d.dtype != t.dtype:
                got = f"{d.dtype} {d.shape}" if isinstance(d, np.ndarray) else type(d).__name__
                raise ValueError(f"D[{j}]: expected {t.dtype} {t.shape} like theta[{j}], got {got}")

    def step(self, D):
        """Update every theta^j in place with its gradient D^j."""
        self._check_D(D)
        self.t += 1
        for j in range(len(self.theta)):
            self._update(j, self._decay(j, D[j]))

    def _decay(self, j, g):
        """torch's L2 weight decay: g = D^j + lambda theta^j (AdamW overrides it)."""
        if self.weight_decay == 0:
            return g
        return g + self.theta[j] * self.dtype.type(self.weight_decay)

    def state_arrays(self):
        """The state, name -> list of arrays (one per theta^j); the engines share it."""
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (torch's)."""

    def __init__(self, theta, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(theta, lr, weight_decay)
        self.momentum = check_real("momentum", momentum, low=0.0)
        self.dampening = check_real("dampening", dampening)
        _check_bool("nesterov", nesterov)
        if nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("nesterov: Nesterov momentum requires momentum > 0 and dampening = 0")
        self.nesterov = bool(nesterov)
        self.b = [np.zeros_like(t) for t in self.theta]  # momentum buffers b^j

    def _update(self, j, g):
        T = self.dtype.type
        if self.momentum != 0:
            if self.t == 1:
                self.b[j][...] = g  # torch starts the buffer at the first gradient, undamped
            else:
                self.b[j] *= T(self.momentum)
                self.b[j] += g * T(1 - self.dampening)
            g = g + self.b[j] * T(self.momentum) if self.nesterov else self.b[j]
        self.theta[j] -= g * T(self.lr)

    def state_arrays(self):
        return {"b": self.b}


class _AdamMoments(Optimizer):
    """Adam's moments and step, shared by Adam and AdamW (which differ only in their weight decay)."""

    def __init__(self, theta, lr, betas, eps, weight_decay, amsgrad):
        super().__init__(theta, lr, weight_decay)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas: expected a pair (beta1, beta2), got {betas!r}")
        self.beta1 = check_real("betas[0]", betas[0], low=0.0, high=1.0, high_open=True)
        self.beta2 = check_real("betas[1]", betas[1], low=0.0, high=1.0, high_open=True)
        self.eps = check_real("eps", eps, low=0.0)
        self.amsgrad = _check_bool("amsgrad", amsgrad)
        self.m = [np.zeros_like(t) for t in self.theta]  # first moments m^j
        self.v = [np.zeros_like(t) for t in self.theta]  # second moments v^j
        self.v_max = [np.zeros_like(t) for t in self.theta]  # running max of v^j (amsgrad)

    def _update(self, j, g):
        T = self.dtype.type
        m, v = self.m[j], self.v[j]
        m += (g - m) * T(1 - self.beta1)
        v *= T(self.beta2)
        v += g * T(1 - self.beta2) * g
        if self.amsgrad:
            np.maximum(self.v_max[j], v, out=self.v_max[j])
            v = self.v_max[j]
        step_size = self.lr / (1 - self.beta1**self.t)
        bias_correction2_sqrt = (1 - self.beta2**self.t) ** 0.5
        denom = np.sqrt(v) / T(bias_correction2_sqrt) + T(self.eps)
        self.theta[j] += T(-step_size) * m / denom

    def state_arrays(self):
        return {"m": self.m, "v": self.v, "v_max": self.v_max}


class Adam(_AdamMoments):
    """Adam with torch's bias correction, L2 weight decay and AMSGrad."""

    def __init__(self, theta, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(theta, lr, betas, eps, weight_decay, amsgrad)


class AdamW(_AdamMoments):
    """Adam with torch's decoupled weight decay: theta^j <- theta^j (1 - lr lambda) before Adam's step on D^j.

    Not a subclass of :class:`Adam`: ``isinstance(opt, Adam)`` means the L2 decay, which AdamW
    is not (the numba engine and the torch bridge tell them apart that way).
    """

    def __init__(self, theta, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(theta, lr, betas, eps, weight_decay, amsgrad)

    def _decay(self, j, g):
        if self.weight_decay != 0:
            self.theta[j] *= self.dtype.type(1 - self.lr * self.weight_decay)
        return g  # the gradient itself is not decayed: the moments never see lambda


class RMSprop(Optimizer):
    """RMSprop with torch's smoothing alpha, eps after the square root, momentum, centering and L2 weight decay."""

    def __init__(self, theta, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        super().__init__(theta, lr, weight_decay)
        self.alpha = check_real("alpha", alpha, low=0.0, high=1.0)
        self.eps = check_real("eps", eps, low=0.0)
        self.momentum = check_real("momentum", momentum, low=0.0)
        self.centered = _check_bool("centered", centered)
        self.square_avg = [np.zeros_like(t) for t in self.theta]  # s^j, the running mean of g^2
        self.grad_avg = [np.zeros_like(t) for t in self.theta]  # gbar^j, the running mean of g (centered)
        self.b = [np.zeros_like(t) for t in self.theta]  # momentum buffers b^j

    def _update(self, j, g):
        T = self.dtype.type
        s = self.square_avg[j]
        s *= T(self.alpha)
        s += g * T(1 - self.alpha) * g
        if self.centered:
            _lerp(self.grad_avg[j], g, T(1 - self.alpha))
            r = np.sqrt(s - self.grad_avg[j] * self.grad_avg[j])  # the variance of g, not its second moment
        else:
            r = np.sqrt(s)
        r += T(self.eps)  # eps after the root, as torch (not sqrt(s + eps))
        if self.momentum > 0:
            b = self.b[j]
            b *= T(self.momentum)
            b += g / r
            self.theta[j] -= b * T(self.lr)
        else:
            self.theta[j] += T(-self.lr) * g / r

    def state_arrays(self):
        return {"square_avg": self.square_avg, "grad_avg": self.grad_avg, "b": self.b}


class Adagrad(Optimizer):
    """Adagrad with torch's learning-rate decay, initial accumulator, eps after the root and L2 weight decay."""

    def __init__(self, theta, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        super().__init__(theta, lr, weight_decay)
        self.lr_decay = check_real("lr_decay", lr_decay, low=0.0)
        self.initial_accumulator_value = check_real("initial_accumulator_value", initial_accumulator_value, low=0.0)
        self.eps = check_real("eps", eps, low=0.0)
        # G^j, the sum of g^2 over the steps so far (torch's state "sum")
        self.sum = [np.full_like(t, self.initial_accumulator_value) for t in self.theta]

    def _update(self, j, g):
        T = self.dtype.type
        clr = self.lr / (1 + (self.t - 1) * self.lr_decay)
        G = self.sum[j]
        G += g * g
        self.theta[j] += T(-clr) * g / (np.sqrt(G) + T(self.eps))

    def state_arrays(self):
        return {"sum": self.sum}


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")
    return bool(value)


def _lerp(a, end, w):
    """a <- a + w (end - a) in place, as torch's ``lerp_`` rounds it (from the far end when w >= 0.5)."""
    if abs(w) < 0.5:
        a += (end - a) * w
    else:
        a[...] = end - (end - a) * (1 - w)
