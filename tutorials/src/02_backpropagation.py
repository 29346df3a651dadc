# %% [markdown]
# # 2. Backpropagation, derived
#
# This tutorial derives the backward pass from the chain rule, index by index, in the workshop's
# notation; then walks a 1-2-1 network with two data points through it, printing every number of the
# forward and backward pass next to the numbers torch's autograd computes for the same net.
#
# **Notation** (the full sheet: `docs/notation.md`). Layers are $j = 0$ (input) … $L$ (output) and
# the Python index is the layer number. $n$ data points are the **rows**:
#
# | symbol | shape | code | meaning |
# |---|---|---|---|
# | $a^j$ | $(n, u^j + 1)$, the output $(n, u^L)$ | `a[j]` | activations; column 0 is the bias unit, always 1 (not on the output) |
# | $\theta^j$ | $(u^{j+1}, u^j + 1)$ | `theta[j]` | weights from layer $j$ to $j+1$; column 0 is the bias |
# | $z^j$ | $(n, u^j)$ | `z[j]` | pre-activations, $j \ge 1$ |
# | $\delta^j = \partial\mathcal{L}/\partial z^j$ | $(n, u^j)$ | `delta[j]` | the error of layer $j$, $j \ge 1$ |
# | $D^j = \partial\mathcal{L}/\partial\theta^j$ | like $\theta^j$ | `D[j]` | the gradient of $\theta^j$ |
#
# $\odot$ is the element-wise product (`*` in NumPy). $g_j$ is layer $j$'s activation (`net.g(j)`;
# the list `net.activations` starts at layer 1, so `activations[j - 1]` is $g_j$).

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

torch.set_num_threads(1)  # one thread, as the bench pins it: on these tiny nets a second buys little (tutorial 6)
np.set_printoptions(precision=6, suppress=True)

# %% [markdown]
# ## 2.1 Activation functions
# Each unit applies a non-linear $g$ to its input $z$: $a = g(z)$. Backpropagation needs $g'(z)$.
#
# | name | $g(z)$ | $g'(z)$ | written through $a = g(z)$ | torch module |
# |---|---|---|---|---|
# | tanh | $\tanh z$ | $1 - \tanh^2 z$ | $1 - a^2$ | `nn.Tanh` |
# | sigmoid | $\sigma(z) = 1 / (1 + e^{-z})$ | $\sigma(z)(1 - \sigma(z))$ | $a(1 - a)$ | `nn.Sigmoid` |
# | relu | $\max(z, 0)$ | $1$ if $z > 0$ else $0$ | (needs $z$, or $a > 0$) | `nn.ReLU` |
# | leaky_relu | $z$ if $z > 0$ else $0.01 z$ | $1$ if $z > 0$ else $0.01$ | (needs $z$) | `nn.LeakyReLU` |
# | identity | $z$ | $1$ | $1$ | (none) |
#
# **Why $g'$ can be computed from $a$.** For tanh, $\frac{d}{dz}\tanh z = 1 - \tanh^2 z$, and
# $\tanh z$ *is* $a$; for the sigmoid, $\sigma' = e^{-z}/(1+e^{-z})^2 = \sigma(1-\sigma)$, and $\sigma(z)$
# *is* $a$. The forward pass has already stored every $a^j$, so the backward pass needs no second
# $\tanh$ or $e^{-z}$: one multiply and one subtract per entry. torch's autograd does the same
# (`TanhBackward` and `SigmoidBackward` keep the *output*, not the input).
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
# Each derivative — scratchnn's, written through $a$ — checked against torch's autograd (away from
# the kink at 0, where ReLU has none):

# %%
zc = np.linspace(-4, 4, 800)  # 800 points: none of them is exactly 0
for name, act in activations.ACTIVATIONS.items():
    zt = torch.from_numpy(zc).requires_grad_()
    torchref.bridge.MODULES[name]()(zt).sum().backward()
    print(f"{name:>10}: g'(z) = {act.derivative:<24} max |g' - autograd| = "
          f"{np.abs(act.g_prime(zc, act.g(zc)) - zt.grad.numpy()).max():.1e}")

# %% [markdown]
# ## 2.2 The forward pass: the workshop's columns, our rows
# The workshop writes one data point as a **column** vector and multiplies from the left:
# $$z^{j+1} = \theta^j a^j, \qquad a^j \in \mathbb{R}^{u^j + 1},\; \theta^j \in \mathbb{R}^{u^{j+1} \times (u^j + 1)}.$$
# scratchnn (like torch) keeps a whole batch, one data point per **row**. Stack the transposed
# columns $(a^j_i)^T$ of points $i = 1 \dots n$ as the rows of a matrix $a^j$, $(n, u^j + 1)$; since
# $(\theta^j a^j_i)^T = (a^j_i)^T (\theta^j)^T$, row $i$ of $z^{j+1}$ is $(a^j_i)^T(\theta^j)^T$, and all rows at once:
# $$a^0 = [1, X], \qquad z^{j+1} = a^j (\theta^j)^T \quad (n, u^{j+1}), \qquad
# a^{j+1} = [1, g_{j+1}(z^{j+1})] \quad (n, u^{j+1}+1), \qquad a^L = g_L(z^L) \quad (n, u^L).$$
# Entry by entry, with the bias unit $a^j_{i0} = 1$ in column 0:
# $$z^{j+1}_{ik} = \sum_{l=0}^{u^j} a^j_{il}\, \theta^j_{kl}.$$
# That one sum is all the backward pass needs. (torch's `nn.Linear` computes $x W^T + b$: the same
# rows, with $W = \theta^j_{[:, 1:]}$ and $b = \theta^j_{[:, 0]}$.)
#
# We work in float64 on 8 points of the workshop's function with the 1-5-5-1 model.

# %%
from scratchnn.apps import workshop

X, Y = workshop.data(np.float64)
X, Y = X[::375], Y[::375]  # 8 points
net = sn.MLP([1, 5, 5, 1], dtype=np.float64, generator=10)
theta, L = net.theta, net.L
g, g_prime = np.tanh, lambda a: 1 - a * a  # tanh, and its derivative written through a = tanh(z)

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
# ## 2.3 The loss
# The mean squared error as torch's `nn.MSELoss()` computes it: the mean over **all** $N = n\,u^L$ entries,
# $$\mathcal{L} = \frac{1}{n\,u^L} \sum_{i=1}^{n} \sum_{s=1}^{u^L} (a^L_{is} - y_{is})^2, \qquad
# \frac{\partial \mathcal{L}}{\partial a^L_{is}} = \frac{2}{n\,u^L}(a^L_{is} - y_{is}).$$

# %%
N = Y.size
loss = np.sum((a[L] - Y) ** 2) / N
dL_da = 2 / N * (a[L] - Y)  # (n, u^L)
out_t, loss_t, D_t = torch_loss_and_grad(model, X, Y)
print("loss:", loss, " torch:", loss_t, " relative error:", rel_err(loss, loss_t))

# %% [markdown]
# ## 2.4 The backward pass, derived
# Define the **error** of layer $j$ as the derivative of the loss with respect to its pre-activations,
# $$\delta^j_{ik} = \frac{\partial \mathcal{L}}{\partial z^j_{ik}} \qquad (n, u^j),$$
# one number per data point $i$ and unit $k$. Everything follows from the chain rule and the one sum
# $z^{j+1}_{ik} = \sum_l a^j_{il}\theta^j_{kl}$.
#
# ### The gradient of $\theta^j$: $D^j = (\delta^{j+1})^T a^j$
# $\theta^j_{kl}$ enters the loss only through $z^{j+1}_{ik}$ — unit $k$ of layer $j+1$, for **every**
# data point $i$ — and $\partial z^{j+1}_{ik} / \partial \theta^j_{kl} = a^j_{il}$. So
# $$D^j_{kl} = \frac{\partial \mathcal{L}}{\partial \theta^j_{kl}}
#   = \sum_{i=1}^{n} \frac{\partial \mathcal{L}}{\partial z^{j+1}_{ik}} \frac{\partial z^{j+1}_{ik}}{\partial \theta^j_{kl}}
#   = \sum_{i=1}^{n} \delta^{j+1}_{ik}\, a^j_{il}.$$
# **Where the transpose comes from:** the sum runs over $i$, the *row* index of both $\delta^{j+1}$
# and $a^j$. A matrix product sums over the column index of the left factor and the row index of
# the right one, so the left factor must be turned over: $\sum_i \delta^{j+1}_{ik} a^j_{il} = ((\delta^{j+1})^T a^j)_{kl}$,
# $$D^j = (\delta^{j+1})^T a^j \qquad (u^{j+1}, n)(n, u^j + 1) = (u^{j+1}, u^j + 1),$$
# the shape of $\theta^j$. Column $l = 0$ is the bias gradient: $a^j_{i0} = 1$, so $D^j_{k0} = \sum_i \delta^{j+1}_{ik}$.
# (The sum over data points is also why $D^j$ is one matrix however large the batch.)
#
# ### Carrying the error back: $\delta^j = (\delta^{j+1}\,\theta^j_{[:,1:]}) \odot g_j'(z^j)$
# $z^j_{is}$ affects the loss through the activation $a^j_{is} = g_j(z^j_{is})$ — which sits in
# **column $s$ of $a^j$**, because column 0 holds the bias unit and unit $s = 1 \dots u^j$ of layer $j$ comes after it.
# (In code `z[j][:, s - 1]` and `a[j][:, s]`.) $a^j_{is}$ in turn feeds every unit $k$ of layer $j+1$
# for the same point $i$, with $\partial z^{j+1}_{ik} / \partial a^j_{is} = \theta^j_{ks}$:
# $$\delta^j_{is} = \sum_{k=1}^{u^{j+1}} \frac{\partial \mathcal{L}}{\partial z^{j+1}_{ik}}
#   \frac{\partial z^{j+1}_{ik}}{\partial a^j_{is}} \frac{\partial a^j_{is}}{\partial z^j_{is}}
#   = \Big(\sum_k \delta^{j+1}_{ik}\, \theta^j_{ks}\Big)\, g_j'(z^j_{is}), \qquad s = 1 \dots u^j.$$
# **Why the bias column drops:** the bias unit $a^j_{i0} = 1$ is a constant — it has no $z$, and
# nothing flows back through it. The sum therefore only uses columns $s \ge 1$ of $\theta^j$; column 0
# (the bias) has done its work in $D^j$. **No transpose here:** the sum is over $k$, the column index of
# $\delta^{j+1}$ and the row index of $\theta^j$ — already the order of a matrix product:
# $$\delta^j = \left(\delta^{j+1}\, \theta^j_{[:, 1:]}\right) \odot g_j'(z^j) \qquad (n, u^{j+1})(u^{j+1}, u^j) = (n, u^j).$$
# In the workshop's column form the same line reads $\delta^j = \big((\theta^j_{[:,1:]})^T \delta^{j+1}\big) \odot g'(z^j)$:
# transposing our rows turns $\delta\,\theta$ into $\theta^T\delta$ — the transpose moves, the sum does not change.
#
# ### The output layer: $\delta^L$ and the $2/(n\,u^L)$
# At the output there is no next layer; $z^L_{is}$ acts only through $a^L_{is} = g_L(z^L_{is})$:
# $$\delta^L_{is} = \frac{\partial \mathcal{L}}{\partial a^L_{is}}\, g_L'(z^L_{is})
#   = \frac{2}{n\,u^L}(a^L_{is} - y_{is})\, g_L'(z^L_{is}), \qquad
#   \delta^L = \frac{2}{n\,u^L}(a^L - y) \odot g_L'(z^L) \quad (n, u^L).$$
# The $\frac{1}{n u^L}$ of the mean and the 2 of the square enter **here, once**: every $\delta^j$ below is
# then the true derivative of the mean loss, and $D^j = (\delta^{j+1})^T a^j$ needs no extra factor.
# **Ng's ex4 does it the other way round:** its $\delta^{(L)} = a^{(L)} - y$ is the error of *one*
# example's loss (cross-entropy with a sigmoid output, where $g'$ cancels), the per-example
# gradients are accumulated, $\Delta^{(l)} \mathrel{+}= \delta^{(l+1)} (a^{(l)})^T$, and the $\frac{1}{m}$ of the mean is
# applied at the end, $D^{(l)} = \frac{1}{m}\Delta^{(l)}$. Both give the same $D$ — the cell after next shows it
# for our loss — but their $\delta$'s differ by the factor $n$ (and here also $2/u^L$).
#
# The three lines, as code:

# %%
delta = [None] * (L + 1)
D = [None] * L
delta[L] = dL_da * g_prime(a[L])  # (n, u^L): through the loss and g_L
for j in range(L - 1, -1, -1):
    D[j] = delta[j + 1].T @ a[j]  # (u^{j+1}, u^j + 1): the sum over the data points i
    if j > 0:
        delta[j] = (delta[j + 1] @ theta[j][:, 1:]) * g_prime(a[j][:, 1:])  # (n, u^j): skip the bias column
for j in range(L, 0, -1):
    print(f"delta^{j}: {delta[j].shape}")
for j in range(L):
    print(f"D^{j}: {D[j].shape}  relative error against torch autograd: {rel_err(D[j], D_t[j]):.1e}")

# %% [markdown]
# Ng's bookkeeping on the same net: one example at a time, $\delta$ of the per-example loss
# $\ell_i = \frac{1}{u^L}\sum_s (a^L_{is} - y_{is})^2$, accumulated, divided by $n$ at the end.

# %%
n = len(X)
Delta = [np.zeros_like(t) for t in theta]
for i in range(n):
    d = (2 / Y.shape[1]) * (a[L][i] - Y[i]) * g_prime(a[L][i])  # per-example delta^L: (u^L,)
    for j in range(L - 1, -1, -1):
        Delta[j] += np.outer(d, a[j][i])  # Delta^j += delta^{j+1} (a^j)^T, column form
        if j > 0:
            d = (theta[j][:, 1:].T @ d) * g_prime(a[j][i, 1:])  # theta^T delta: the column form's transpose
D_ng = [Dj / n for Dj in Delta]
print("per-example delta^L is n times ours:", np.allclose((2 / Y.shape[1]) * (a[L] - Y) * g_prime(a[L]), n * delta[L]))
print("the same D:", [f"{rel_err(p, q):.1e}" for p, q in zip(D_ng, D)])

# %% [markdown]
# The same in scratchnn: `net.backward(trace, Y)` returns these `delta` and `D`, line for line.

# %%
delta_sn, D_sn = net.backward(net.forward_trace(X), Y)
print("deltas equal:", all(np.allclose(p, q, rtol=1e-14, atol=0) for p, q in zip(delta_sn[1:], delta[1:])))
print("gradients equal:", all(np.allclose(p, q, rtol=1e-14, atol=0) for p, q in zip(D_sn, D)))

# %% [markdown]
# ## 2.5 A worked example: every number of a 1-2-1 net, next to torch's
# Two data points, $x = 0.5$ and $x = -0.3$ with targets $0.2$ and $-0.1$, through the workshop's
# smallest shape with two hidden units, tanh everywhere, float64, initial weights from `generator=10`.
# `sn.explain` keeps every quantity of one forward and backward pass and prints each beside the
# equation that produced it:

# %%
tiny = sn.MLP([1, 2, 1], dtype=np.float64, generator=10)
Xs = np.array([[0.5], [-0.3]])
Ys = np.array([[0.2], [-0.1]])
print("theta^0 =\n", tiny.theta[0], "\ntheta^1 =\n", tiny.theta[1])
mine = sn.explain(tiny, Xs, Ys)
print(mine)

# %% [markdown]
# `torchref.explain` computes the same quantities with torch alone: the net rebuilt as `nn.Sequential`,
# each $z^j$ kept with `retain_grad()`, and after `loss.backward()` the errors read off as
# $\delta^j$ = `z.grad` and $D^j$ = `[bias.grad, weight.grad]`. No formula of ours is involved.

# %%
theirs = torchref.explain(tiny, Xs, Ys)
print(theirs)

# %% [markdown]
# And the two side by side, quantity by quantity — the table of Karpathy's "backprop ninja" in our
# notation. *exact*: every entry equal, bit for bit; *close*: within the float64 tolerance $10^{-10}$
# (scale-relative); the diffs are $\max|\text{scratchnn} - \text{torch}|$ and that over $\max|\text{torch}|$.

# %%
print(mine.compare(theirs))

# %% [markdown]
# Follow one number by hand. $D^1$ is $(1, 3)$: the bias gradient and one entry per hidden unit.
# Its entry for hidden unit 1 is $D^1_{01} = \sum_i \delta^2_{i0}\, a^1_{i1}$ — the two data points' errors at
# the output, each times that point's activation of hidden unit 1:

# %%
terms = [mine.delta[2][i, 0] * mine.a[1][i, 1] for i in range(2)]
print(" + ".join(f"({mine.delta[2][i, 0]:.6f})({mine.a[1][i, 1]:.6f})" for i in range(2)),
      f"= {sum(terms):.6f};  D^1[0, 1] = {mine.D[1][0, 1]:.6f}, torch {theirs.D[1][0, 1]:.6f}")
print(f"bias gradient D^1[0, 0] = delta^2 summed over the points: {mine.delta[2].sum():.6f} = {mine.D[1][0, 0]:.6f}")

# %% [markdown]
# ## 2.6 The same check on every activation and on float32
# Relative error `max|scratch - torch| / max|torch|` over random nets and data: float64 agrees to
# ~1e-15 or better, float32 to below 1e-6 (each engine rounds in its own order).

# %%
rng = np.random.default_rng(0)
for dtype in (np.float64, np.float32):
    worst = {"forward": 0.0, "loss": 0.0, "grad": 0.0}
    for _ in range(20 if QUICK else 100):
        case_net, Xr, Yr = torchref.agreement.random_case(rng, dtype)
        for k, v in torchref.agreement.forward_loss_grad_errors(case_net, Xr, Yr).items():
            worst[k] = max(worst[k], v)
    print(np.dtype(dtype).name, {k: f"{v:.1e}" for k, v in worst.items()})

# %% [markdown]
# ## Now write it yourself
# The exercises in `tutorials/exercises/` ask you to write `forward`, $\delta^L$, $D^j$, $\delta^j$ and the whole
# `backward` (then a gradient check, momentum and Adam); `scratchnn check your_file.py` compares your
# functions with torch and names the mistake when it recognises one.
