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
#
# **Indices count from 1, and the bias unit is unit 0** — here, in `explain`'s printout and in the
# exercises. $i = 1 \dots n$ is a data point (a row). $\theta^j_{sk}$ carries unit $k$ of layer $j$
# ($k = 0$: the bias unit) to unit $s$ of layer $j+1$, and the letters keep these roles throughout:
# $s$ counts the units of layer $j+1$ (at the output, of layer $L$), $k$ those of layer $j$.
# In NumPy subtract 1 from every index except a column of $a^j$, $\theta^j$ or $D^j$, where the bias
# unit already holds column 0: $a^j_{ik}$ is `a[j][i - 1, k]`, $\theta^j_{sk}$ is `theta[j][s - 1, k]`,
# $D^j_{sk}$ is `D[j][s - 1, k]`, $z^j_{is}$ is `z[j][i - 1, s - 1]`, $\delta^j_{is}$ is `delta[j][i - 1, s - 1]`.

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
# | relu | $\max(z, 0)$ | $1$ if $z > 0$ else $0$ | $1$ if $a > 0$ else $0$ | `nn.ReLU` |
# | leaky_relu | $z$ if $z > 0$ else $0.01 z$ | $1$ if $z > 0$ else $0.01$ | $1$ if $a > 0$ else $0.01$ | `nn.LeakyReLU` |
# | identity | $z$ | $1$ | $1$ | (none) |
#
# **Why $g'$ can be computed from $a$.** For tanh, $\frac{d}{dz}\tanh z = 1 - \tanh^2 z$, and
# $\tanh z$ *is* $a$; for the sigmoid, $\sigma' = e^{-z}/(1+e^{-z})^2 = \sigma(1-\sigma)$, and $\sigma(z)$
# *is* $a$. The forward pass has already stored every $a^j$, so the backward pass needs no second
# $\tanh$ or $e^{-z}$: one multiply and one subtract per entry. torch's autograd does the same
# (`TanhBackward` and `SigmoidBackward` keep the *output*, not the input). For relu and leaky_relu
# $a > 0$ exactly when $z > 0$ ($0.01 z$ has the sign of $z$), so their derivative, too, can be read
# off $a$: torch's `ReluBackward` keeps the output, its `LeakyReluBackward` the input, and either does.
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
# Each derivative checked against torch's autograd: scratchnn's `g_prime`, and the last column of the
# table above, computed from $a$ alone (away from the kink at 0, where relu and leaky_relu have none):

# %%
from_a = {  # g'(z) from a = g(z) only: the table's last column
    "tanh": lambda a: 1 - a * a,
    "sigmoid": lambda a: a * (1 - a),
    "relu": lambda a: np.where(a > 0, 1.0, 0.0),
    "leaky_relu": lambda a: np.where(a > 0, 1.0, activations.LEAKY_SLOPE),
    "identity": lambda a: np.ones_like(a),
}
zc = np.linspace(-4, 4, 800)  # 800 points: none of them is exactly 0
for name, act in activations.ACTIVATIONS.items():
    zt = torch.from_numpy(zc).requires_grad_()
    torchref.bridge.MODULES[name]()(zt).sum().backward()
    a_c = act.g(zc)
    print(f"{name:>10}: g'(z) = {act.derivative:<24} max |g' - autograd| = "
          f"{np.abs(act.g_prime(zc, a_c) - zt.grad.numpy()).max():.1e},  from a alone: "
          f"{np.abs(from_a[name](a_c) - zt.grad.numpy()).max():.1e}")

# %% [markdown]
# ## 2.2 The forward pass: the workshop's columns, our rows
# The workshop writes one data point as a **column** vector and multiplies from the left:
# $$z^{j+1} = \theta^j a^j, \qquad a^j \in \mathbb{R}^{u^j + 1},\; \theta^j \in \mathbb{R}^{u^{j+1} \times (u^j + 1)}.$$
# scratchnn (like torch) keeps a whole batch, one data point per **row**. Stack the transposed
# columns $(a^j_i)^T$ of points $i = 1 \dots n$ as the rows of a matrix $a^j$, $(n, u^j + 1)$; since
# $(\theta^j a^j_i)^T = (a^j_i)^T (\theta^j)^T$, row $i$ of $z^{j+1}$ is $(a^j_i)^T(\theta^j)^T$, and all rows at once:
# $$a^0 = [1, X], \qquad z^{j+1} = a^j (\theta^j)^T \quad (n, u^{j+1}), \qquad
# a^{j+1} = [1, g_{j+1}(z^{j+1})] \quad (n, u^{j+1}+1), \qquad a^L = g_L(z^L) \quad (n, u^L).$$
# Entry by entry, with the bias unit $a^j_{i0} = 1$ in column 0 (unit $s$ of layer $j+1$, point $i$):
# $$z^{j+1}_{is} = \sum_{k=0}^{u^j} a^j_{ik}\, \theta^j_{sk}.$$
# That one sum is all the backward pass needs. (torch's `nn.Linear` computes $x W^T + b$: the same
# rows, with $W = \theta^j_{[:, 1:]}$ and $b = \theta^j_{[:, 0]}$.)
#
# We work in float64 on 8 points of the workshop's function with the 1-5-5-1 model.

# %%

X, Y = sn.workshop_data(np.float64)
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
# Define the **error** of a layer as the derivative of the loss with respect to its pre-activations;
# for layer $j+1$,
# $$\delta^{j+1}_{is} = \frac{\partial \mathcal{L}}{\partial z^{j+1}_{is}} \qquad (n, u^{j+1}),$$
# one number per data point $i$ and unit $s$ (for layer $j$, $\delta^j_{ik}$: unit $k$). Everything follows
# from the chain rule and the one sum $z^{j+1}_{is} = \sum_k a^j_{ik}\theta^j_{sk}$.
#
# ### The gradient of $\theta^j$: $D^j = (\delta^{j+1})^T a^j$
# $\theta^j_{sk}$ enters the loss only through $z^{j+1}_{is}$ — unit $s$ of layer $j+1$, for **every**
# data point $i$ — and $\partial z^{j+1}_{is} / \partial \theta^j_{sk} = a^j_{ik}$. So
# $$D^j_{sk} = \frac{\partial \mathcal{L}}{\partial \theta^j_{sk}}
#   = \sum_{i=1}^{n} \frac{\partial \mathcal{L}}{\partial z^{j+1}_{is}} \frac{\partial z^{j+1}_{is}}{\partial \theta^j_{sk}}
#   = \sum_{i=1}^{n} \delta^{j+1}_{is}\, a^j_{ik}.$$
# **Where the transpose comes from:** the sum runs over $i$, the *row* index of both $\delta^{j+1}$
# and $a^j$. A matrix product sums over the column index of the left factor and the row index of
# the right one, so the left factor must be turned over: $\sum_i \delta^{j+1}_{is} a^j_{ik} = ((\delta^{j+1})^T a^j)_{sk}$,
# $$D^j = (\delta^{j+1})^T a^j \qquad (u^{j+1}, n)(n, u^j + 1) = (u^{j+1}, u^j + 1),$$
# the shape of $\theta^j$. Column $k = 0$ is the bias gradient: $a^j_{i0} = 1$, so $D^j_{s0} = \sum_i \delta^{j+1}_{is}$.
# (The sum over data points is also why $D^j$ is one matrix however large the batch.)
#
# ### Carrying the error back: $\delta^j = (\delta^{j+1}\,\theta^j_{[:,1:]}) \odot g_j'(z^j)$
# $z^j_{ik}$ (unit $k$ of layer $j$) affects the loss through the activation $a^j_{ik} = g_j(z^j_{ik})$ — which sits in
# **column $k$ of $a^j$**, because column 0 holds the bias unit and unit $k = 1 \dots u^j$ of layer $j$ comes after it.
# (In code `z[j][:, k - 1]` and `a[j][:, k]`.) $a^j_{ik}$ in turn feeds every unit $s$ of layer $j+1$
# for the same point $i$, with $\partial z^{j+1}_{is} / \partial a^j_{ik} = \theta^j_{sk}$:
# $$\delta^j_{ik} = \sum_{s=1}^{u^{j+1}} \frac{\partial \mathcal{L}}{\partial z^{j+1}_{is}}
#   \frac{\partial z^{j+1}_{is}}{\partial a^j_{ik}} \frac{\partial a^j_{ik}}{\partial z^j_{ik}}
#   = \Big(\sum_s \delta^{j+1}_{is}\, \theta^j_{sk}\Big)\, g_j'(z^j_{ik}), \qquad k = 1 \dots u^j.$$
# **Why the bias column drops:** the bias unit $a^j_{i0} = 1$ is a constant — it has no $z$, and
# nothing flows back through it. The sum therefore only uses columns $k \ge 1$ of $\theta^j$; column 0
# (the bias) has done its work in $D^j$. **No transpose here:** the sum is over $s$, the column index of
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
# smallest shape with two hidden units, tanh everywhere, float64, initial weights from `generator=7`
# rather than the workshop's 10. **Why 7:** with `generator=10` the weight from the input to hidden
# unit 2 is $\theta^0_{21} \approx -0.000026$, so that unit's activation $a^1_{i2}$ is the same for both
# points to four digits: in effect a second bias, which passes almost nothing of $x$ on to the output —
# a poor picture of gradient flow. With `generator=7` each hidden unit has an input weight ($\theta^0_{s1}$,
# hidden unit $s$) and an output weight ($\theta^1_{1k}$, hidden unit $k$) of size above 0.4, so both
# activations differ between the two points and both carry a share of the error back. The weights are
# the engine's (torch's initialisation), printed here for both seeds:

# %%
Xs = np.array([[0.5], [-0.3]])
Ys = np.array([[0.2], [-0.1]])
for seed in (10, 7):
    candidate = sn.MLP([1, 2, 1], dtype=np.float64, generator=seed)
    t = candidate.theta
    print(f"generator={seed:>2}: input weights theta^0_s1 = {t[0][:, 1]}, output weights theta^1_1k = {t[1][0, 1:]}")
    print(f"               hidden activations of the two points, a^1_i1 = {candidate.forward_trace(Xs).a[1][:, 1]}, "
          f"a^1_i2 = {candidate.forward_trace(Xs).a[1][:, 2]}")

# %% [markdown]
# `sn.explain` keeps every quantity of one forward and backward pass and prints each beside the
# equation that produced it, $\theta^j$ and $Y$ beside their names:

# %%
tiny = sn.MLP([1, 2, 1], dtype=np.float64, generator=7)
mine = sn.explain(tiny, Xs, Ys)
print(mine)

# %% [markdown]
# `torchref.explain` computes the same quantities with torch alone: the net rebuilt as `nn.Sequential`,
# each $z^j$ kept with `retain_grad()`, and after `loss.backward()` the errors read off as
# $\delta^j$ = `z.grad` and $D^j$ = `[bias.grad, weight.grad]`. Its walk carries our equations as
# labels all the same: **autograd's values; the labels are the equations they should satisfy** — and
# the table after it checks that they do.

# %%
theirs = torchref.explain(tiny, Xs, Ys)
print(theirs)

# %% [markdown]
# And the two side by side, quantity by quantity — the table of Karpathy's "backprop ninja" in our
# notation. *exact*: every entry equal, bit for bit; *close*: within the float64 tolerance $10^{-10}$
# (scale-relative); the diffs are $\max|\text{scratchnn} - \text{torch}|$ and that over $\max|\text{torch}|$.
# (Two explanations computed from different $\theta^j$, $X$ or $Y$ would differ everywhere: the table
# then starts with a warning that names what differs.)

# %%
print(mine.compare(theirs))

# %% [markdown]
# Follow the numbers by hand (indices from 1, as everywhere here). $D^1$ is $(1, 3)$: the bias gradient
# $D^1_{10}$ and one entry per hidden unit, $D^1_{1k} = \sum_i \delta^2_{i1}\, a^1_{ik}$ for $k = 1, 2$ — the two
# data points' errors at the output unit, each times that point's activation of hidden unit $k$. In NumPy
# $D^1_{1k}$ is `D[1][0, k]`, $\delta^2_{i1}$ is `delta[2][i - 1, 0]` and $a^1_{ik}$ is `a[1][i - 1, k]`:

# %%
for k in (1, 2):
    terms = [mine.delta[2][i - 1, 0] * mine.a[1][i - 1, k] for i in (1, 2)]
    print(f"D^1_{{1{k}}} = " + " + ".join(f"({mine.delta[2][i - 1, 0]:.6f})({mine.a[1][i - 1, k]:.6f})" for i in (1, 2)),
          f"= {sum(terms):.6f};  D[1][0, {k}] = {mine.D[1][0, k]:.6f}, torch {theirs.D[1][0, k]:.6f}")
print(f"bias gradient D^1_{{10}} = delta^2 summed over the points: {mine.delta[2].sum():.6f};  "
      f"D[1][0, 0] = {mine.D[1][0, 0]:.6f}")

# %% [markdown]
# One layer further back, each hidden unit $k$ gets its share of the output's error through its output
# weight, $\delta^1_{ik} = \delta^2_{i1}\,\theta^1_{1k}\,(1 - (a^1_{ik})^2)$, and the gradient of its input weight is
# $D^0_{k1} = \sum_i \delta^1_{ik}\, a^0_{i1}$ (`D[0][k - 1, 1]`): both hidden units carry the signal.

# %%
for k in (1, 2):
    d1 = [mine.delta[2][i - 1, 0] * mine.theta[1][0, k] * (1 - mine.a[1][i - 1, k] ** 2) for i in (1, 2)]
    D0 = sum(d1[i - 1] * mine.a[0][i - 1, 1] for i in (1, 2))
    print(f"hidden unit {k}: delta^1_{{i{k}}} = {d1[0]:.6f}, {d1[1]:.6f}  (delta[1][:, {k - 1}] = {mine.delta[1][:, k - 1]})")
    print(f"               D^0_{{{k}1}} = {D0:.6f}  (D[0][{k - 1}, 1] = {mine.D[0][k - 1, 1]:.6f}, torch {theirs.D[0][k - 1, 1]:.6f})")

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
