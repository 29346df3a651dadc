# %% [markdown]
# # 2. Backpropagation, derived
#
# The forward pass, the loss, the deltas $\delta^j$ and the gradients $D^j$ in the workshop's
# notation, each formula followed by the NumPy line that computes it and a check against torch's
# autograd. First the section the workshop notebook left empty: the activation functions.
#
# Shapes: $n$ data points are the rows. $a^j$ is $(n, u^j + 1)$ — column 0 is the bias unit,
# always 1 — except the output $a^L$, $(n, u^L)$. $\theta^j$ is $(u^{j+1}, u^j + 1)$.
# Layer 0 is the input; the Python index is the layer number (`theta[j]` is $\theta^j$).

# %%
import os

QUICK = os.environ.get("SCRATCHNN_QUICK") == "1"

import matplotlib.pyplot as plt
import numpy as np
import torch

import scratchnn as sn
from scratchnn import activations
from torchref.agreement import rel_err, torch_loss_and_grad
import torchref

torch.set_num_threads(1)  # these nets are tiny: a second thread only adds synchronisation (tutorial 6)
# %% [markdown]
# ## 2.1 Activation functions
# Each unit applies a non-linear $g$ to its input $z$: $a = g(z)$. Backpropagation needs $g'(z)$,
# often cheaper to write through $a$ itself:
#
# | name | $g(z)$ | $g'(z)$ | torch module |
# |---|---|---|---|
# | tanh | $\tanh z$ | $1 - a^2$ | `nn.Tanh` |
# | sigmoid | $1 / (1 + e^{-z})$ | $a(1 - a)$ | `nn.Sigmoid` |
# | relu | $\max(z, 0)$ | $1$ if $z > 0$ else $0$ | `nn.ReLU` |
# | leaky_relu | $z$ if $z > 0$ else $0.01 z$ | $1$ if $z > 0$ else $0.01$ | `nn.LeakyReLU` |
# | identity | $z$ | $1$ | (none) |
#
# Without a non-linearity a stack of layers collapses into one linear map. tanh is zero-centred
# and saturates at ±1 (its derivative vanishes for large $|z|$ — the reason the workshop normalises
# its data); ReLU does not saturate for $z > 0$ but passes no gradient for $z < 0$.

# %%
z = np.linspace(-4, 4, 801)
fig, axes = plt.subplots(2, 5, figsize=(16, 6), sharex=True, layout="constrained")
for col, (name, act) in enumerate(activations.ACTIVATIONS.items()):
    a = act.g(z)
    axes[0, col].plot(z, a, color="tab:blue")
    axes[1, col].plot(z, act.g_prime(z, a), color="tab:red")
    axes[0, col].set_title(name)
    axes[1, col].set_xlabel("z")
    for ax in axes[:, col]:
        ax.grid(alpha=0.3)
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
axes[0, 0].set_ylabel("g(z)")
axes[1, 0].set_ylabel("g'(z)")
plt.show()

# %% [markdown]
# Each derivative, checked against torch's autograd (away from the kink at 0, where ReLU has none):

# %%
zc = np.linspace(-4, 4, 800)  # 800 points: none of them is exactly 0
for name, act in activations.ACTIVATIONS.items():
    zt = torch.from_numpy(zc).requires_grad_()
    torchref.bridge.MODULES[name]()(zt).sum().backward()
    print(f"{name:>10}: max |g' - autograd| = {np.abs(act.g_prime(zc, act.g(zc)) - zt.grad.numpy()).max():.1e}")

# %% [markdown]
# ## 2.2 Forward pass
# $$a^0 = [1, X] \quad (n, u^0+1), \qquad z^{j+1} = a^j (\theta^j)^T \quad (n, u^{j+1}), \qquad
# a^{j+1} = [1, g(z^{j+1})] \quad (n, u^{j+1}+1),$$
# and the output has no bias unit: $a^L = g(z^L)$, $(n, u^L)$.
#
# We work in float64 on 8 data points of the workshop's function with the 1-5-5-1 model.

# %%
from scratchnn import workshop

X, Y = workshop.data(np.float64)
X, Y = X[::375], Y[::375]  # 8 points
net = sn.MLP([1, 5, 5, 1], dtype=np.float64, generator=10)
theta, L = net.theta, net.L
g, g_prime = np.tanh, lambda a: 1 - a * a

a = [np.hstack([np.ones((len(X), 1)), X])]  # a^0: (n, u^0 + 1)
z = [None]  # the input layer has no z
for j in range(L):
    z.append(a[j] @ theta[j].T)  # z^{j+1}: (n, u^{j+1})
    h = g(z[j + 1])
    a.append(h if j + 1 == L else np.hstack([np.ones((len(X), 1)), h]))  # a^{j+1}
for j in range(L + 1):
    print(f"a^{j}: {a[j].shape}" + (f"   z^{j}: {z[j].shape}" if j else ""))

model = torchref.to_torch(net)
print("a^L against torch:", rel_err(a[L], model(torch.from_numpy(X)).detach().numpy()))
print("a^L against net.forward:", rel_err(a[L], net.forward(X)))

# %% [markdown]
# ## 2.3 Loss
# $$\mathcal{L} = \frac{1}{N} \sum_{i,s} (a^L_{is} - y_{is})^2, \quad N = n\,u^L, \qquad
# \frac{\partial \mathcal{L}}{\partial a^L} = \frac{2}{N}(a^L - y) \quad (n, u^L)$$

# %%
N = Y.size
loss = np.sum((a[L] - Y) ** 2) / N
dL_da = 2 / N * (a[L] - Y)  # (n, u^L)
out_t, loss_t, D_t = torch_loss_and_grad(model, X, Y)
print("loss:", loss, " torch:", loss_t, " relative error:", rel_err(loss, loss_t))

# %% [markdown]
# ## 2.4 Backward pass
# The **error** of layer $j$ is $\delta^j = \partial \mathcal{L} / \partial z^j$, one number per unit
# and data point, $(n, u^j)$ — no bias column: the bias unit has no input.
#
# Output layer, through the loss and $g$:
# $$\delta^L = \frac{\partial \mathcal{L}}{\partial a^L} \odot g'(z^L) \qquad (n, u^L)$$
# Gradient of $\theta^j$: $z^{j+1} = a^j (\theta^j)^T$ is linear in $\theta^j$, so
# $$D^j = \frac{\partial \mathcal{L}}{\partial \theta^j} = (\delta^{j+1})^T a^j \qquad (u^{j+1}, u^j + 1)$$
# — column 0 (the bias unit's column of $a^j$, all ones) is the bias gradient, $\sum_i \delta^{j+1}_i$.
# Carrying the error one layer back skips $\theta^j$'s bias column (the bias unit has no $z$):
# $$\delta^j = \left(\delta^{j+1}\, \theta^j_{[:, 1:]}\right) \odot g'(z^j) \qquad (n, u^j)$$

# %%
delta = [None] * (L + 1)
D = [None] * L
delta[L] = dL_da * g_prime(a[L])  # (n, u^L)
for j in range(L - 1, -1, -1):
    D[j] = delta[j + 1].T @ a[j]  # (u^{j+1}, u^j + 1)
    if j > 0:
        delta[j] = (delta[j + 1] @ theta[j][:, 1:]) * g_prime(a[j][:, 1:])  # (n, u^j)
for j in range(L, 0, -1):
    print(f"delta^{j}: {delta[j].shape}")
for j in range(L):
    print(f"D^{j}: {D[j].shape}  relative error against torch autograd: {rel_err(D[j], D_t[j]):.1e}")

# %% [markdown]
# The same in scratchnn: `net.backward(trace, Y)` returns these `delta` and `D`, line for line.

# %%
delta_sn, D_sn = net.backward(net.forward_trace(X), Y)
print("deltas equal:", all(np.allclose(p, q, rtol=1e-14, atol=0) for p, q in zip(delta_sn[1:], delta[1:])))
print("gradients equal:", all(np.allclose(p, q, rtol=1e-14, atol=0) for p, q in zip(D_sn, D)))

# %% [markdown]
# ## 2.5 The same check on every activation and on float32
# Relative error `max|scratch - torch| / max|torch|` over random nets and data: float64 agrees to
# ~1e-15, float32 to a few 1e-7 (each engine rounds in its own order).

# %%
rng = np.random.default_rng(0)
for dtype in (np.float64, np.float32):
    worst = {"forward": 0.0, "loss": 0.0, "grad": 0.0}
    for _ in range(20 if QUICK else 100):
        case_net, Xr, Yr = torchref.agreement.random_case(rng, dtype)
        for k, v in torchref.agreement.forward_loss_grad_errors(case_net, Xr, Yr).items():
            worst[k] = max(worst[k], v)
    print(np.dtype(dtype).name, {k: f"{v:.1e}" for k, v in worst.items()})
