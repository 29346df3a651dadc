# %% [markdown]
# # 4. Optimizers by hand
#
# SGD, momentum, Nesterov and Adam written out step by step in NumPy, checked against scratchnn's
# optimizers and `torch.optim` on the same gradients; then the workshop's learning-rate experiments.
# $D^j$ is the gradient of $\theta^j$, $\eta$ the learning rate, $t$ the step count.

# %%
import os

QUICK = os.environ.get("SCRATCHNN_QUICK") == "1"

import matplotlib.pyplot as plt
import numpy as np
import torch

import scratchnn as sn
import torchref
from scratchnn.apps import workshop
from scratchnn import fast
from scratchnn.table import units_label
from scratchnn.teaching import plots
from torchref.agreement import rel_err

X, Y = sn.workshop_data()
STEPS = 10


def run(update, make_sn, make_torch):
    """STEPS steps of a hand-written update, of scratchnn's optimizer and of torch's, on the same gradients."""
    net_hand = sn.MLP([1, 5, 5, 1], generator=10)
    net_sn = net_hand.copy()
    model = torchref.to_torch(net_hand)
    opt_sn, opt_t = make_sn(net_sn.theta), make_torch(model)
    state = {}
    for t in range(1, STEPS + 1):
        _, _, D = torchref.agreement.torch_loss_and_grad(model, X, Y)  # torch's gradient, for everyone
        for j in range(net_hand.L):
            net_hand.theta[j] -= update(state, j, D[j].copy(), t)
        opt_sn.step([d.copy() for d in D])
        opt_t.step()
    theta_t = torchref.bridge.theta_of(model)
    print(f"after {STEPS} steps: hand vs torch {max(rel_err(a, b) for a, b in zip(net_hand.theta, theta_t)):.1e}, "
          f"scratchnn vs torch {max(rel_err(a, b) for a, b in zip(net_sn.theta, theta_t)):.1e}")


def torch_params(model):
    return [p for m in torchref.bridge.linears(model) for p in (m.weight, m.bias)]

torch.set_num_threads(1)  # one thread, as the bench pins it: on these tiny nets a second buys little (tutorial 6)
# %% [markdown]
# ## 4.1 SGD
# $$\theta^j \leftarrow \theta^j - \eta D^j$$

# %%
lr = 0.1
run(lambda state, j, D, t: lr * D,
    lambda theta: sn.SGD(theta, lr=lr),
    lambda model: torch.optim.SGD(torch_params(model), lr=lr))

# %% [markdown]
# ## 4.2 Momentum
# A velocity $b^j$ remembers past gradients (torch's form: the first step starts it at $D$, no dampening):
# $$b^j_1 = D^j_1, \qquad b^j_t = \mu\, b^j_{t-1} + D^j_t, \qquad \theta^j \leftarrow \theta^j - \eta\, b^j_t$$

# %%
mu = 0.9


def momentum(state, j, D, t):
    state[j] = D if t == 1 else mu * state[j] + D
    return lr * state[j]


run(momentum, lambda theta: sn.SGD(theta, lr=lr, momentum=mu),
    lambda model: torch.optim.SGD(torch_params(model), lr=lr, momentum=mu))

# %% [markdown]
# ## 4.3 Nesterov momentum
# Step with the gradient plus the velocity it is about to have — a look ahead:
# $$b^j_t \text{ as above}, \qquad \theta^j \leftarrow \theta^j - \eta\,(D^j_t + \mu\, b^j_t)$$

# %%
def nesterov(state, j, D, t):
    state[j] = D if t == 1 else mu * state[j] + D
    return lr * (D + mu * state[j])


run(nesterov, lambda theta: sn.SGD(theta, lr=lr, momentum=mu, nesterov=True),
    lambda model: torch.optim.SGD(torch_params(model), lr=lr, momentum=mu, nesterov=True))

# %% [markdown]
# ## 4.4 Adam
# Running means of the gradient and of its square, bias-corrected for their zero start
# (Kingma & Ba 2015):
# $$m_t = \beta_1 m_{t-1} + (1-\beta_1) D_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) D_t^2,$$
# $$\theta \leftarrow \theta - \eta\, \frac{m_t / (1-\beta_1^t)}{\sqrt{v_t / (1-\beta_2^t)} + \epsilon}.$$
# Every parameter gets its own step size, about $\eta$ in size whatever the gradient's scale —
# which is why the workshop's tiny gradients still train with $\eta = 0.015$.

# %%
lr_adam, b1, b2, eps = 0.015, 0.9, 0.999, 1e-8


def adam(state, j, D, t):
    m, v = state.get(j, (0.0, 0.0))
    m = b1 * m + (1 - b1) * D
    v = b2 * v + (1 - b2) * D * D
    state[j] = (m, v)
    return lr_adam * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)


run(adam, lambda theta: sn.Adam(theta, lr=lr_adam),
    lambda model: torch.optim.Adam(torch_params(model), lr=lr_adam))

# %% [markdown]
# The hand-written versions agree with torch to float32 rounding (below $10^{-7}$ relative after
# ten steps), and so do scratchnn's optimizers, which follow torch's formulas term for term (torch
# computes $m_t$ as a `lerp`, $m + (1-\beta_1)(D - m)$, and scratchnn does too).
#
# ## 4.5 The workshop's learning-rate experiments
# Adam, 1000 epochs, the three workshop models, learning rates 0.015 (the notebook's), 0.05 and 0.5.

# %%
epochs = 150 if QUICK else 1000
final = {}
fig, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=True, layout="constrained")
for ax, lr in zip(axes, (0.015, 0.05, 0.5)):
    curves = {}
    for net in workshop.build_models():
        h = sn.fit(net, X, Y, sn.Adam(net.theta, lr=lr), epochs=epochs, engine=fast.default_engine())
        label = units_label(net.units)
        curves[label] = h.loss
        final[(label, lr)] = h.loss[-1]
    plots.loss_figure(curves, title=f"Adam, learning rate {lr}", ax=ax)
for (label, lr), loss in final.items():
    print(f"{label:>8}  lr {lr:<6} final loss {loss:.2e}")

# %% [markdown]
# What they show (full 1000 epochs):
# * **0.05** ends lower than **0.015** for every model (1-5-1 about 7.6·10⁻³ against 2.0·10⁻², 1-5-5-1
#   6·10⁻⁵ against 2·10⁻⁴): the notebook's 0.015 is safe but slow — the loss was limited by the
#   number of steps, not by the problem.
# * **0.5** is too large. Adam's steps are about $\eta$ in size per parameter, and a step of 0.5 in the
#   weights drives the tanh units into saturation, where $g'(z) = 1 - a^2 \approx 0$: no gradient flows,
#   and 1-10-1 and 1-5-5-1 stay at a loss of about 1 (the outputs pinned at ±1). The small model keeps
#   moving but oscillates. The loss did not become NaN — tanh keeps every output bounded — it just
#   stopped learning.

# %% [markdown]
# ## 4.6 `weight_decay` is not Ng's regularisation
# torch's `weight_decay=λ` (and scratchnn's, which copies it) adds $\lambda\,\theta^j$ to the **whole**
# gradient before the update — the bias column included:
# $$D^j \leftarrow D^j + \lambda\,\theta^j.$$
# Ng's ex4 regularises the loss instead, $\mathcal{L} + \frac{\lambda}{2n}\sum_j \|\theta^j_{[:,1:]}\|^2$, which adds
# $\frac{\lambda}{n}\theta^j_{[:,1:]}$ to the gradient and leaves the bias column alone (a bias does not make the
# fit wigglier). One SGD step with $\eta = 1$ shows what torch added to each column of $\theta^0$:

# %%
lam = 0.1
net_wd = sn.MLP([1, 5, 1], generator=10)
model_wd = torchref.to_torch(net_wd)
_, _, D_wd = torchref.agreement.torch_loss_and_grad(model_wd, X, Y)
before = torchref.bridge.theta_of(model_wd)
torch.optim.SGD(torch_params(model_wd), lr=1.0, weight_decay=lam).step()
added = before[0] - torchref.bridge.theta_of(model_wd)[0] - D_wd[0]  # the step minus the gradient: what decay added
print("added by torch's weight_decay, bias column:  ", added[:, 0])
print("lambda * theta^0 bias column:                 ", lam * before[0][:, 0])
print("added by Ng's L2 (lambda/n) theta, bias column:", np.zeros(5), f"(n = {len(X)}: weights get lambda/n = {lam / len(X):.1e} theta)")

# %% [markdown]
# Two more differences. The scale: torch's $\lambda$ is per step and does not know $n$; Ng's $\lambda$ is
# divided by the number of examples. And for Adam, `weight_decay` goes through the moment estimates
# ($\lambda\theta$ is part of the $D$ that $m$ and $v$ average), so a weight with large gradients is barely
# decayed at all; `torch.optim.AdamW` instead *decouples* the decay,
# $\theta \leftarrow \theta - \eta\lambda\theta$ beside the Adam step — a third rule, not the same as either.
