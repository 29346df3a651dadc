# %% [markdown]
# # Exercises 2. Optimizers by hand
#
# Two update rules, written exactly as `torch.optim` applies them: SGD with momentum, and Adam with
# its bias correction. Each function makes **one step on one weight matrix**: `theta` is one
# $\theta^j$, `D` its gradient $D^j$, and the optimizer's state for that matrix comes in and goes out.
# The check cell after each runs five steps on every $\theta^j$ of a few random nets, with fixed
# gradients, and compares $\theta^j$ and the state after every step with `torch.optim`.
#
# As in exercises 1: replace `raise NotImplementedError("your code here")`; `hint("sgd_momentum_step")`
# or `hint("adam_step")` for a hint (`level=2` for a stronger one); the solutions are in `solutions.py`.
# Tutorial 4 derives both rules and compares them on the workshop's models.

# %%
import os

QUICK = os.environ.get("SCRATCHNN_QUICK") == "1"  # the test suite sets this to cut epochs

import matplotlib.pyplot as plt
import numpy as np

import scratchnn as sn
from scratchnn.teaching import plots
from scratchnn.teaching.exercises import check, hint

# %% [markdown]
# ## 7. SGD with momentum
# With learning rate $\eta$ and momentum $\mu$, torch keeps a buffer $b$ per parameter (no dampening,
# no Nesterov, no weight decay):
# $$b_1 = D_1, \qquad b_t = \mu\, b_{t-1} + D_t, \qquad \theta \leftarrow \theta - \eta\, b_t.$$
# `buf` is $b_{t-1}$, `None` before the first step. Return the new $\theta$ and $b_t$ (arrays shaped like
# `theta`); updating `theta` in place is fine, as torch does.

# %% exercise: sgd_momentum_step
def sgd_momentum_step(theta, D, buf, lr, momentum):
    """One step of torch's SGD with momentum on one theta^j; returns (theta, buf)."""
    raise NotImplementedError("your code here")

# %% check
check(sgd_momentum_step)

# %% [markdown]
# ## 8. Adam with bias correction
# Adam keeps running means of the gradient and of its square, both starting at zero, $t = 1, 2, \dots$:
# $$m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, D_t, \qquad v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, D_t^2,$$
# and, because they start at zero, divides out their bias before the step:
# $$\hat m_t = \frac{m_t}{1 - \beta_1^t}, \qquad \hat v_t = \frac{v_t}{1 - \beta_2^t}, \qquad
# \theta \leftarrow \theta - \eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$
# Every operation is elementwise. Return $\theta$, $m_t$ and $v_t$.

# %% exercise: adam_step
def adam_step(theta, D, m, v, t, lr, beta1, beta2, eps):
    """One step t (1, 2, ...) of torch's Adam on one theta^j; returns (theta, m, v)."""
    raise NotImplementedError("your code here")

# %% check
check(adam_step)

# %% [markdown]
# ## Train the workshop's model with your Adam
# The workshop's model 0 (1-5-1, torch's initial weights from seed 10), learning rate 0.015, full
# batch, in float64: the gradients from scratchnn's backward pass, the steps from your `adam_step`,
# beside `sn.fit` with `sn.Adam`. The two loss curves should agree to rounding.

# %%
X, Y = sn.workshop_data(np.float64)
epochs = 100 if QUICK else 1000
net = sn.MLP([1, 5, 1], dtype=np.float64, generator=10)
twin = net.copy()
reference = sn.fit(twin, X, Y, sn.Adam(twin.theta, lr=0.015), epochs=epochs)

m = [np.zeros_like(t) for t in net.theta]
v = [np.zeros_like(t) for t in net.theta]
losses = []
for t in range(1, epochs + 1):
    loss, D = net.loss_and_grad(X, Y)
    losses.append(loss)
    for j in range(net.L):
        net.theta[j], m[j], v[j] = adam_step(net.theta[j], D[j], m[j], v[j], t, 0.015, 0.9, 0.999, 1e-8)
print(f"loss after {epochs} epochs: yours {losses[-1]:.6g}, sn.fit {reference.loss[-1]:.6g}; "
      f"largest relative difference {np.max(np.abs(np.array(losses) / reference.loss - 1)):.1e}")
fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
plots.loss_figure({"your adam_step": losses, "sn.Adam": reference.loss}, title="1-5-1, Adam, learning rate 0.015", ax=ax)
plt.show()
