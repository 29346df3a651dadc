# %% [markdown]
# # 9. Becoming a backprop ninja, in θ notation
#
# Karpathy's "Becoming a backprop ninja" and CS231n's second assignment are where backpropagation gets
# hard: through **batch norm** (with Bessel's correction), **layer norm**, **dropout** and the fused
# **softmax–cross-entropy**. This tutorial derives each of them index by index in our notation, then
# prints scratchnn's numbers beside torch autograd's on a tiny net (`sn.explain` beside
# `torchref.explain`), and finally trains the digits with and without them.
#
# - 9.1 batch norm: the forward pass, the backward pass at index level, and why its three terms collapse to one line
# - 9.2 Bessel's correction, training and evaluation mode (the running statistics)
# - 9.3 layer norm: the same derivation on the other axis
# - 9.4 inverted dropout, and why it scales by $1/(1 - p)$
# - 9.5 the fused softmax–cross-entropy $\delta^L$
# - 9.6 the redundant bias before a norm, and 9.7 the degenerate cases, as lessons
# - 9.8 the digits with and without batch norm and dropout; AdamW with a cosine schedule against Adam
#
# **Notation** (the full sheet: `docs/notation.md`). On every hidden layer $j = 1 \dots L-1$ the net
# `MLP(units, norm="batch" | "layer", dropout=p)` inserts, between $z^j$ and $a^j$,
#
# | symbol | shape | code | meaning |
# |---|---|---|---|
# | $\mu^j, \sigma^{2,j}$ | $(1, u^j)$ batch norm, $(n, 1)$ layer norm | `trace.mu[j]`, `trace.var[j]` | mean and (biased) variance of $z^j$ over the points $i$ (batch) or the units $s$ (layer) |
# | $\hat z^j = (z^j - \mu^j)/\sqrt{\sigma^{2,j} + \varepsilon}$ | $(n, u^j)$ | `trace.z_hat[j]` | the normalised $z^j$, $\varepsilon = 10^{-5}$ |
# | $\gamma^j, \beta^j$ | $(u^j,)$ | `net.gamma[j - 1]`, `net.beta[j - 1]` | scale and shift, one per unit (torch's `weight`, `bias`) |
# | $\tilde z^j = \gamma^j \odot \hat z^j + \beta^j$ | $(n, u^j)$ | `trace.z_tilde[j]` | what $g_j$ is applied to |
# | $\mathrm{mask}^j$ | $(n, u^j)$ | `trace.mask[j]` | dropout's keep-mask, True for a kept unit |
# | $a^j = [1, g_j(\tilde z^j) \odot \mathrm{mask}^j/(1-p)]$ | $(n, u^j + 1)$ | `trace.a[j]` | the activation, with its bias unit |
# | $\tilde\delta^j = \partial\mathcal{L}/\partial\tilde z^j$ | $(n, u^j)$ | | the error after the norm; $\delta^j = \partial\mathcal{L}/\partial z^j$ as before |
#
# `net.params` is $\theta^0 \dots \theta^{L-1}$, then $\gamma^1 \dots \gamma^{L-1}$, then $\beta^1 \dots \beta^{L-1}$,
# and `loss_and_grad` returns $D$ in that layout: $D^j$, then $d\gamma^j$, then $d\beta^j$. γ and β sit at
# list index $j - 1$ (layer 0 has none), as `activations` does. The numba engine runs all of it too
# (`engine="numba"`, the same masks from the same generator); the fits below run on the NumPy engine, whose
# code is the derivation.

# %%
import os

QUICK = os.environ.get("SCRATCHNN_QUICK") == "1"  # the test suite sets this to cut epochs

import matplotlib.pyplot as plt
import numpy as np
import torch

import scratchnn as sn
import torchref
from scratchnn import norms
from scratchnn.table import format_table

torch.set_num_threads(1)  # these nets are tiny: a second thread only adds synchronisation
np.set_printoptions(precision=4, suppress=True)


def side_by_side(net, X, Y):
    """sn.explain beside torchref.explain: the per-quantity table, and its worst relative difference."""
    mine, theirs = sn.explain(net, X, Y), torchref.explain(net, X, Y)
    table = mine.compare(theirs)
    print(table)
    return mine, theirs, table


# %% [markdown]
# ## 9.1 Batch norm, forward and backward
#
# Batch norm treats every unit $s$ of layer $j$ on its own, so drop $j$ and $s$: one column $z_1 \dots z_n$
# of $z^j$, one $\gamma$, one $\beta$. Over the $n$ points of the batch
# $$\mu = \frac{1}{n}\sum_i z_i, \qquad \sigma^2 = \frac{1}{n}\sum_i (z_i - \mu)^2, \qquad
# \hat z_i = \frac{z_i - \mu}{\sqrt{\sigma^2 + \varepsilon}}, \qquad \tilde z_i = \gamma \hat z_i + \beta .$$
# The backward pass starts from $\tilde\delta_i = \partial\mathcal{L}/\partial\tilde z_i$, which the layer above
# hands down exactly as before: $\tilde\delta^j = (\delta^{j+1}\theta^j[:, 1:]) \odot g_j'(\tilde z^j)$.
# γ and β touch every point, so their gradients are sums over the batch:
# $$d\gamma = \sum_i \tilde\delta_i \hat z_i, \qquad d\beta = \sum_i \tilde\delta_i, \qquad d\hat z_i = \gamma\,\tilde\delta_i .$$
# Now $\delta_k = \partial\mathcal{L}/\partial z_k$. Point $k$'s $z_k$ reaches **every** $\hat z_i$, by three roads:
# directly (only $\hat z_k$), through $\mu$, and through $\sigma^2$. Write $s = \sqrt{\sigma^2 + \varepsilon}$:
# $$\frac{\partial\mathcal{L}}{\partial\sigma^2} = \sum_i d\hat z_i\,(z_i - \mu)\Big(-\tfrac12\Big)(\sigma^2 + \varepsilon)^{-3/2}, \qquad
# \frac{\partial\mathcal{L}}{\partial\mu} = -\frac{1}{s}\sum_i d\hat z_i + \frac{\partial\mathcal{L}}{\partial\sigma^2}\cdot\Big(-\frac{2}{n}\sum_i (z_i - \mu)\Big),$$
# $$\delta_k = \underbrace{\frac{d\hat z_k}{s}}_{\text{direct}} + \underbrace{\frac{\partial\mathcal{L}}{\partial\mu}\,\frac{1}{n}}_{\text{through }\mu} + \underbrace{\frac{\partial\mathcal{L}}{\partial\sigma^2}\,\frac{2(z_k - \mu)}{n}}_{\text{through }\sigma^2} .$$
# That is the three-term formula most courses stop at. It collapses. $\sum_i (z_i - \mu) = 0$, so the second part
# of $\partial\mathcal{L}/\partial\mu$ is zero; and $z_i - \mu = s\,\hat z_i$, so
# $\partial\mathcal{L}/\partial\sigma^2 = -\frac{1}{2s^2}\sum_i d\hat z_i \hat z_i$. Put both in and take $1/s$ out:
# $$\boxed{\;\delta_k = \frac{1}{s}\Big(d\hat z_k - \frac1n\sum_i d\hat z_i - \hat z_k\,\frac1n\sum_i d\hat z_i \hat z_i\Big)\;}
# \qquad \delta^j = \frac{d\hat z - \mathrm{mean}(d\hat z) - \hat z^j \odot \mathrm{mean}(d\hat z \odot \hat z^j)}{\sqrt{\sigma^{2,j} + \varepsilon}},$$
# the means over the points (axis 0). One line of NumPy (`scratchnn/norms.py`, `normalize_backward`). It reads as a
# projection: from $d\hat z$ remove its mean (the direction $\mu$ can absorb) and its component along $\hat z$ (the
# direction $\sigma^2$ can absorb), then undo the scale.
#
# A 2-4-4-1 tanh net with batch norm on both hidden layers, float64, four points:

# %%
rng = np.random.default_rng(0)
X = rng.standard_normal((4, 2))
Y = rng.standard_normal((4, 1))
net = sn.MLP([2, 4, 4, 1], dtype=np.float64, generator=0, norm="batch")
print(net.describe())
e = sn.explain(net, X, Y)
print(e)

# %% [markdown]
# The three-term formula and the one-liner, written out from the quantities above for layer 2, against the
# engine's $\delta^2$:

# %%
j = 2
z_hat, var, gamma = e.parts["z_hat"][j], e.parts["var"][j], e.parts["gamma"][j]
a_j = np.tanh(e.parts["z_tilde"][j])
delta_tilde = (e.delta[j + 1] @ e.theta[j][:, 1:]) * (1 - a_j**2)  # δ̃^2 = (δ^3 θ^2[:, 1:]) ⊙ g_2'(z̃^2)
d_hat = delta_tilde * gamma  # dẑ
n, s = len(X), np.sqrt(var + norms.EPS)
z_minus_mu = z_hat * s
d_var = (d_hat * z_minus_mu).sum(axis=0) * -0.5 * (var + norms.EPS) ** -1.5  # ∂𝓛/∂σ²
d_mu = -(d_hat / s).sum(axis=0) + d_var * (-2 / n) * z_minus_mu.sum(axis=0)  # ∂𝓛/∂μ (its second part is 0)
three_terms = d_hat / s + d_mu / n + d_var * 2 * z_minus_mu / n
one_line = (d_hat - d_hat.mean(axis=0) - z_hat * (d_hat * z_hat).mean(axis=0)) / s
print(f"max |three terms - engine's delta^2| = {np.abs(three_terms - e.delta[j]).max():.1e}")
print(f"max |one line    - engine's delta^2| = {np.abs(one_line - e.delta[j]).max():.1e}")
print(f"dgamma^2 = sum_i dtilde * z_hat: {np.abs((delta_tilde * z_hat).sum(axis=0) - e.parts['dgamma'][j]).max():.1e} "
      f"from the engine's; dbeta^2 = sum_i dtilde: {np.abs(delta_tilde.sum(axis=0) - e.parts['dbeta'][j]).max():.1e}")

# %% [markdown]
# And every quantity against torch's `nn.BatchNorm1d` through autograd (`torchref.explain` builds the
# `nn.Sequential(Linear, BatchNorm1d, Tanh, …)` twin from the same θ and retains each intermediate's gradient),
# then central differences over every entry of `net.params`, γ and β included:

# %%
_, _, table = side_by_side(net, X, Y)
print(sn.gradcheck(net, X, Y))

# %% [markdown]
# ## 9.2 Bessel's correction, training and evaluation
#
# In training mode batch norm normalises each batch by **its own** $\mu$ and $\sigma^2$, and $\sigma^2$ is the biased
# variance (divided by $n$): it is the exact variance of the $n$ numbers in front of it, so $\hat z$ has mean 0 and
# variance $\sigma^2/(\sigma^2 + \varepsilon) \approx 1$ over the batch, and the backward pass above differentiates
# exactly that.
#
# A net in use sees one point at a time, and one point has no variance. So in training batch norm also keeps
# **running statistics**, estimates of the mean and variance of $z^j$ over the whole data, updated at every
# training-mode forward pass with momentum $m = 0.1$:
# $$\text{running\_mean} \leftarrow (1 - m)\,\text{running\_mean} + m\,\mu, \qquad
# \text{running\_var} \leftarrow (1 - m)\,\text{running\_var} + m\,\sigma^2\,\frac{n}{n - 1}.$$
# The $n/(n-1)$ is **Bessel's correction**. A batch's biased variance underestimates the variance of the
# distribution it was drawn from: $\mathrm{E}[\sigma^2] = \frac{n-1}{n}\,\sigma^2_{\text{true}}$, because the deviations are
# measured from the batch's own mean, which sits closer to its points than the true mean does. For an estimate
# of the data's variance torch multiplies it back; for normalising the batch it must not. Batches of 4 points
# from a distribution of variance 1:

# %%
batches = np.random.default_rng(1).standard_normal((100_000, 4))
biased = batches.var(axis=1)  # ÷ n, what batch norm normalises with
print(f"n = 4: mean of the biased variance {biased.mean():.4f} (expected (n-1)/n = 0.75), "
      f"with Bessel's n/(n-1): {(biased * 4 / 3).mean():.4f}")

# %% [markdown]
# In evaluation mode (`net.eval()`, torch's `model.eval()`) batch norm uses the running statistics instead; they
# are constants, so the backward pass loses its mean and variance terms: $\delta^j = d\hat z / \sqrt{\text{running\_var} + \varepsilon}$.
# `explain` and `gradcheck` left the net's running statistics as they were (0 and 1, torch's start). One
# training-mode forward pass updates them once, then the same net in evaluation mode, beside torch's in `eval()`:

# %%
net.forward(X)  # training mode: normalises with the batch's statistics and updates the running ones
print("layer 1: running_mean", net.running_mean[0], " running_var", net.running_var[0])
print("         0.1 * mu    ", 0.1 * e.parts["mu"][1].ravel(), " 0.9 + 0.1 * var * 4/3",
      0.9 + 0.1 * e.parts["var"][1].ravel() * 4 / 3)
net.eval()
e_eval, _, _ = side_by_side(net, X, Y)
print("eval mode: mu^1 is the running mean:", e_eval.parts["mu"][1].ravel())
print("eval mode, one point: a^3 =", net.forward(X[:1]).ravel())  # fine: nothing is estimated from the batch
net.train()
try:
    net.forward(X[:1])
except ValueError as exc:
    print("training mode, one point:", exc)

# %% [markdown]
# `explain` runs its training-mode pass on a copy, so it does not move the running statistics; `net.forward` in
# training mode does, exactly as torch's module does at every training-mode call. (That is why `sn.fit` validates
# in evaluation mode, and why a prediction in training mode depends on the batch it comes with.)
#
# ## 9.3 Layer norm: the same derivation on the other axis
#
# Layer norm normalises each **point** over its $u^j$ units: $\mu_i = \frac{1}{u}\sum_s z_{is}$,
# $\sigma^2_i = \frac{1}{u}\sum_s (z_{is} - \mu_i)^2$, shapes $(n, 1)$. Nothing in 9.1 used which axis the sums ran
# over, except that $\mu$ and $\sigma^2$ are shared along it: redo it with $i$ and $s$ swapped and
# $$\delta^j = \frac{d\hat z - \mathrm{mean}_s(d\hat z) - \hat z^j \odot \mathrm{mean}_s(d\hat z \odot \hat z^j)}{\sqrt{\sigma^{2,j} + \varepsilon}},$$
# the means now over the units (axis 1). γ and β are still one per unit, so $d\gamma = \sum_i \tilde\delta \odot \hat z$ and
# $d\beta = \sum_i \tilde\delta$ still sum over the points. Each point is normalised by itself: no running statistics,
# the same pass in training and evaluation, and a batch of one point is fine.

# %%
net_ln = sn.MLP([2, 4, 4, 1], dtype=np.float64, generator=0, norm="layer")
e_ln, _, _ = side_by_side(net_ln, X, Y)
print("mu^1 (one per point):", e_ln.parts["mu"][1].ravel(), "  sigma^2^1:", e_ln.parts["var"][1].ravel())
z_hat, d = e_ln.parts["z_hat"][1], e_ln.delta[1]
print(f"each row of z_hat^1 has mean {np.abs(z_hat.mean(axis=1)).max():.0e} and variance {z_hat.var(axis=1).round(4)}; "
      f"each row of delta^1 sums to {np.abs(d.sum(axis=1)).max():.0e}")

# %% [markdown]
# ## 9.4 Inverted dropout
#
# In training, dropout keeps each unit of $g_j(\tilde z^j)$ with probability $1 - p$ and zeroes the rest; torch
# draws the mask as `torch.rand(n, u, dtype=float64) < 1 - p` from its global generator, and so does the net, from
# its `TorchGenerator` (the draws after the initial weights): the masks equal torch's, bit for bit. The kept units
# are scaled by $1/(1 - p)$:
# $$a^j = \big[1,\; g_j(\tilde z^j) \odot \mathrm{mask}^j / (1 - p)\big], \qquad
# \mathrm{E}\big[\mathrm{mask}_{is}/(1 - p)\big] = \frac{(1 - p)\cdot 1 + p \cdot 0}{1 - p} = 1 .$$
# So in expectation a unit's output is what it is without dropout, and evaluation mode can drop dropout and do
# nothing (the original dropout paper instead scaled the weights by $1 - p$ at test time: "inverted" dropout moves
# that work into training). The backward pass is the same product, $\partial\mathcal{L}/\partial g_j = \partial\mathcal{L}/\partial a^j[:, 1:] \odot \mathrm{mask}^j/(1 - p)$:
# a dropped unit passes no gradient, a kept one passes it scaled as its value was. (Beware $p = 0.5$: there $1/p$
# and $1/(1-p)$ are both 2, and a wrong scale goes unnoticed; the exercises check at $p = 0.25$.)

# %%
h = np.full((200_000, 1), 0.7)
generator = sn.TorchGenerator(0)
for p in (0.1, 0.25, 0.5):
    keep = norms.dropout_scale(norms.dropout_mask(generator, h.shape, p), p, np.float64)  # mask / (1 - p)
    print(f"p = {p}: kept {keep.astype(bool).mean():.4f} of the units, mean of h * mask/(1-p) = "
          f"{(h * keep).mean():.4f} (h = 0.7)")

net_do = sn.MLP([2, 4, 4, 1], dtype=np.float64, generator=0, dropout=0.25)
X8 = rng.standard_normal((8, 2))
Y8 = rng.standard_normal((8, 1))
mine, theirs, _ = side_by_side(net_do, X8, Y8)
print("mask^1, scratchnn (left) and torch (right):")
print(np.hstack([mine.parts["mask"][1], np.full((8, 1), np.nan), theirs.parts["mask"][1]]))

# %% [markdown]
# ## 9.5 The fused softmax–cross-entropy $\delta^L$
#
# Tutorial 8 derived it; here is why the "fused" form matters. Written as separate steps, backprop runs through
# three of them: $\mathcal{L} = -\frac1n\sum_i \log p_{i y_i}$ with $p = \mathrm{softmax}(z^L)$, so
# $\partial\mathcal{L}/\partial p_{is} = -\frac{1}{n}\,y_{is}/p_{is}$, and through the softmax's Jacobian
# $\partial p_{is}/\partial z_{ir} = p_{is}([s = r] - p_{ir})$:
# $$\delta^L_{ir} = \sum_s \Big(-\frac{y_{is}}{n\,p_{is}}\Big) p_{is}\big([s = r] - p_{ir}\big) = -\frac{y_{ir}}{n} + \frac{p_{ir}}{n}\sum_s y_{is} = \frac{1}{n}\,(p_{ir} - y_{ir}).$$
# The $1/p$ cancels against the Jacobian's $p$. Computed step by step it does not cancel in floating point: where the
# true class gets $p \approx 10^{-300}$, $y/p$ overflows, and a $p$ that rounded to 0 gives $0 \cdot \infty$. The fused
# form never divides. The same pass with batch norm and dropout on the hidden layers, against torch's
# `nn.CrossEntropyLoss` (class indices as targets):

# %%
z = np.array([[0.0, 800.0, -3.0], [2.0, 1.0, 0.5]])
labels = np.array([0, 2])
y_onehot = np.eye(3)[labels]
p = np.exp(z - z.max(axis=1, keepdims=True))
p /= p.sum(axis=1, keepdims=True)  # the softmax, stably
with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
    dp = -y_onehot / (len(z) * p)  # ∂𝓛/∂p
    step_by_step = p * (dp - (dp * p).sum(axis=1, keepdims=True))  # through the softmax's Jacobian
print("step by step:", step_by_step.round(4).tolist())
print("fused (p - y)/n:", ((p - y_onehot) / len(z)).round(4).tolist())

net_ce = sn.MLP([2, 4, 4, 3], ["tanh", "tanh", "identity"], dtype=np.float64, generator=0, criterion="cross_entropy",
                norm="batch", dropout=0.25)
y8 = rng.integers(0, 3, 8)
mine, theirs, _ = side_by_side(net_ce, X8, y8)
print("delta^3 = (softmax(z^3) - y)/n, scratchnn:\n", mine.delta[3])

# %% [markdown]
# ## 9.6 The redundant bias before a norm
#
# $\theta^{j-1}$'s bias column adds $\theta^{j-1}_{s0}$ to every point's $z^j_{is}$. Batch norm subtracts that unit's mean
# over the points at once, so the bias cancels: $\hat z^j$, and the loss, do not depend on it; β^j does its job.
# The derivation says the same: $D^{j-1}[:, 0] = \sum_i \delta^j_i$, and the boxed $\delta^j$ sums to zero over the
# points ($\sum_i \hat z_i = 0$ takes care of the last term, and the mean is subtracted from the first). So its gradient is
# zero in exact arithmetic, and both engines compute rounding noise there: the bias column of $D^0$, $D^1$ in 9.1 was
# of order $10^{-17}$ to $10^{-16}$. Noise against noise, its relative difference between scratchnn and torch means nothing:

# %%
net32 = sn.MLP([2, 4, 4, 1], generator=0, norm="batch")  # float32
X32, Y32 = X8.astype(np.float32), Y8.astype(np.float32)
mine, theirs = sn.explain(net32, X32, Y32), torchref.explain(net32, X32, Y32)
rows = [("D^j column", "|scratchnn| max", "|torch| max", "max |difference|")]
for jj in (0, 1):
    for name, cols in (("bias, [:, 0]", slice(0, 1)), ("weights, [:, 1:]", slice(1, None))):
        a_, b_ = mine.D[jj][:, cols], theirs.D[jj][:, cols]
        rows.append((f"D^{jj} {name}", f"{np.abs(a_).max():.2e}", f"{np.abs(b_).max():.2e}",
                     f"{np.abs(a_ - b_).max():.2e}"))
print(format_table(rows))
shifted = net32.copy()
shifted.theta[0][:, 0] += 5.0  # any bias at all
print("loss with theta^0[:, 0] + 5:", shifted.loss(X32, Y32), " without:", net32.loss(X32, Y32))

# %% [markdown]
# The column stays, as torch's `Linear` keeps its bias; but what an optimizer does with noise is another matter.
# Adam divides by $\sqrt{\hat v} + \varepsilon$: near a zero gradient its step is about $\mathrm{lr}\cdot g/\varepsilon$ with
# $\varepsilon = 10^{-8}$, and float32 noise of $10^{-9}$ already gives a step of order $0.1\,\mathrm{lr}$. So after a few Adam
# steps scratchnn's and torch's bias columns differ by a fraction of lr, while everything else agrees to rounding
# (the test suite compares that column with a bound derived from the step size). One Adam step from each engine's $D$:

# %%
steps = []
for D in (mine.D, theirs.D):
    theta = [t.copy() for t in net32.theta]
    sn.Adam(theta, lr=0.01).step(D[:3])
    steps.append(theta)
print(f"after one step, lr 0.01: max |difference| in the bias column of theta^0: "
      f"{np.abs(steps[0][0][:, 0] - steps[1][0][:, 0]).max():.1e}, in its weights: "
      f"{np.abs(steps[0][0][:, 1:] - steps[1][0][:, 1:]).max():.1e}")

# %% [markdown]
# Layer norm is different: it subtracts a mean over the *units* of each point, which absorbs only a bias common to
# all units. Its bias column is not redundant; only the column's mean is, so only $\sum_s D^{j-1}_{s0}$ is zero:

# %%
L_, D_ln = net_ln.loss_and_grad(X, Y)
print("layer norm: D^0[:, 0] =", D_ln[0][:, 0], f" sum over the units: {D_ln[0][:, 0].sum():.1e}")

# %% [markdown]
# ## 9.7 The degenerate cases
#
# **Batch norm fed by one feature.** With one input, $z^1_{is} = \theta^0_{s0} + \theta^0_{s1} x_i$: every unit is the same
# column up to a shift and a scale, and batch norm removes both: $\hat z^1_{is} = \mathrm{sign}(\theta^0_{s1})\,\hat x_i$. All
# units carry the same information, and $\theta^0$ hardly matters any more (only through ε); its gradient is tiny and
# badly conditioned, and the agreement with torch there drops from $10^{-16}$ to about $10^{-13}$.
#
# **Layer norm over few units.** Over $u = 2$ units, $\hat z_{i1} = -\hat z_{i2} = \pm 1$ (up to ε): each point is reduced
# to the sign of $z_{i1} - z_{i2}$, a step function; over $u = 1$ unit $\hat z = 0$ and the layer outputs β alone, and
# torch and scratchnn disagree completely about $d\gamma$, which is rounding noise in both.

# %%
x1 = rng.standard_normal((8, 1))
for units, norm, inputs in (([1, 4, 1], "batch", x1), ([2, 2, 1], "layer", X8), ([2, 1, 1], "layer", X8)):
    degenerate = sn.MLP(units, dtype=np.float64, generator=0, norm=norm)
    print(f"{'-'.join(map(str, units))}, norm {norm}: z_hat^1 of the first 3 points:\n", degenerate.forward_trace(inputs).z_hat[1][:3])
    lines = str(sn.explain(degenerate, inputs, Y8).compare(torchref.explain(degenerate, inputs, Y8))).splitlines()
    print("\n".join(lines[:2] + [line for line in lines if line.startswith(("D ", "dgamma", "delta "))]) + "\n")

# %% [markdown]
# The test suite compares the two engines on nets that are not degenerate (at least two features into every batch
# norm, four units under every layer norm). A net like these is not wrong, only wasteful, and the lesson carries over
# to bigger nets: a norm over a handful of numbers throws most of them away.
#
# ## 9.8 The digits, with and without batch norm and dropout
#
# The 8×8 digits of tutorial 8 (`sn.datasets.digits()`, 1437 training and 360 test images), minibatches of 64 and the
# NumPy engine. Every epoch the net is put in evaluation mode to measure the loss on the training and the test images
# (`net.eval()`: running statistics, no dropout), then back in training mode:

# %%
(X_train, y_train), (X_test, y_test) = sn.datasets.digits()


def train_curves(net, optimizer, epochs, X, y, batch_size=64, scheduler=None):
    """Fit one epoch at a time; after each (and before the first) the eval-mode losses and test accuracy."""
    out = {"train loss": [], "test loss": [], "test accuracy": [], "lr": []}

    def record():
        net.eval()
        out["train loss"].append(net.loss(X, y))
        out["test loss"].append(net.loss(X_test, y_test))
        out["test accuracy"].append(sn.accuracy(net, X_test, y_test))
        out["lr"].append(optimizer.lr)
        net.train()

    record()
    for epoch in range(epochs):
        sn.fit(net, X, y, optimizer, epochs=1, batch_size=batch_size, start_epoch=epoch, scheduler=scheduler)
        record()
    return {k: np.array(v) for k, v in out.items()}


def curves_figure(runs, title, lowest=0):
    """Left: train (dashed) and test (solid) loss per epoch; right: the test accuracy, from ``lowest`` %."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for k, (label, c) in enumerate(runs.items()):
        color = f"C{k}"
        left.plot(c["train loss"], "--", color=color, lw=1.2)
        left.plot(c["test loss"], "-", color=color, lw=1.5, label=label)
        right.plot(100 * c["test accuracy"], "-", color=color, lw=1.5, label=label)
    left.set(yscale="log", xlabel="epoch", ylabel="cross-entropy (dashed: training images, solid: test)", title=title)
    right.set(xlabel="epoch", ylabel="test accuracy (%)", ylim=(lowest, 100), title="test images")
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    plt.show()


def summary(runs):
    rows = [("run", "train loss", "test loss", "test accuracy", "best test accuracy (epoch)")]
    for label, c in runs.items():
        best = int(np.argmax(c["test accuracy"]))
        rows.append((label, f"{c['train loss'][-1]:.4f}", f"{c['test loss'][-1]:.4f}", f"{c['test accuracy'][-1]:.1%}",
                     f"{c['test accuracy'][best]:.1%} ({best})"))
    print(format_table(rows))


# %% [markdown]
# ### Batch norm lets a deep sigmoid net train
#
# A 64-32-32-32-32-10 net with sigmoid hidden units and plain SGD (lr 0.1, momentum 0.9): the sigmoid's slope is at most
# 1/4, so each layer shrinks δ on its way down (tutorial 2) and the lower layers barely learn. With batch norm every
# hidden layer's $\tilde z$ starts at mean 0 and variance 1, where the sigmoid is steepest, whatever θ does to $z$:

# %%
epochs = 1 if QUICK else 20
deep = [64, 32, 32, 32, 32, 10]
runs = {}
for label, norm in (("no norm", None), ("batch norm", "batch"), ("layer norm", "layer")):
    model = sn.MLP(deep, ["sigmoid"] * 4 + ["identity"], generator=0, criterion="cross_entropy", norm=norm)
    runs[label] = train_curves(model, sn.SGD(model.params, lr=0.1, momentum=0.9), epochs, X_train, y_train)
summary(runs)
curves_figure(runs, "64-32-32-32-32-10 sigmoid, SGD lr 0.1 momentum 0.9")

# %% [markdown]
# Without a norm the loss sits at $\log 10 \approx 2.30$, the loss of guessing: the net predicts the class frequencies.
# With batch norm it trains within a few epochs; layer norm helps too, less quickly here.
#
# ### Dropout against overfitting
#
# Dropout pays off where a net can memorise its data: 300 training images for a 64-128-128-10 relu net (Adam, lr 0.001,
# minibatches of 32). Without dropout the training loss goes to zero while the test loss stops falling; with dropout
# the training loss (measured in evaluation mode, without the dropping) stays higher and the gap to the test loss
# narrows:

# %%
epochs = 1 if QUICK else 100
few_X, few_y = X_train[:300], y_train[:300]
runs = {}
for p in (0.0, 0.25, 0.5):
    model = sn.MLP([64, 128, 128, 10], ["relu", "relu", "identity"], generator=0, criterion="cross_entropy", dropout=p)
    runs[f"dropout {p}"] = train_curves(model, sn.Adam(model.params, lr=1e-3), epochs, few_X, few_y, batch_size=32)
summary(runs)
curves_figure(runs, "300 training images, 64-128-128-10 relu, Adam lr 0.001", lowest=80)

# %% [markdown]
# In the full run the test loss ends lower with dropout (0.15 against 0.16) and the train–test gap narrows
# most at p = 0.5; the test accuracy hardly moves (about 96-97 % for all three): dropout mostly makes this net less
# overconfident on the images it memorised.

# %% [markdown]
# ### Batch norm and dropout on all the images
#
# On all 1437 images a 64-64-64-10 tanh net with Adam reaches about 98 % on the test images whatever we add; the
# differences are in the losses:

# %%
epochs = 1 if QUICK else 40
runs = {}
for label, norm, p in (("plain", None, 0.0), ("batch norm", "batch", 0.0), ("dropout 0.2", None, 0.2),
                       ("batch norm + dropout 0.2", "batch", 0.2)):
    model = sn.MLP([64, 64, 64, 10], ["tanh", "tanh", "identity"], generator=0, criterion="cross_entropy", norm=norm,
                   dropout=p)
    runs[label] = train_curves(model, sn.Adam(model.params, lr=0.003), epochs, X_train, y_train)
summary(runs)
curves_figure(runs, "64-64-64-10 tanh, Adam lr 0.003, all 1437 training images", lowest=90)

# %% [markdown]
# Batch norm trains fastest and ends with the lowest test loss. Dropout slows the fall of the training loss and here
# does not lower the test loss: with 1437 images and a net of this size there is little overfitting for it to undo.

# %% [markdown]
# ### AdamW with a cosine schedule against Adam
#
# `sn.AdamW` decays the weights outside Adam's moments, $\theta \leftarrow \theta(1 - \mathrm{lr}\,\lambda)$ before the step
# (tutorial 8 showed why that differs from Adam's `weight_decay`), and `sn.CosineAnnealingLR(opt, T_max)` sets
# `opt.lr` once per epoch to $\eta_e = \eta_{\min} + \frac12(\eta_0 - \eta_{\min})(1 + \cos(\pi e/T_{\max}))$, as torch's
# schedulers do: large steps first, then smaller and smaller ones, which let the loss settle instead of jittering
# around its minimum. Same net, same start, lr 0.01 (a little too large for a fixed rate):

# %%
epochs = 1 if QUICK else 40
runs = {}
for label in ("Adam, lr 0.01", "AdamW, lr 0.01 cosine, weight_decay 0.01"):
    model = sn.MLP([64, 64, 64, 10], ["tanh", "tanh", "identity"], generator=0, criterion="cross_entropy",
                   norm="batch")
    if label.startswith("AdamW"):
        opt = sn.AdamW(model.params, lr=0.01, weight_decay=0.01)
        runs[label] = train_curves(model, opt, epochs, X_train, y_train, scheduler=sn.CosineAnnealingLR(opt, T_max=epochs))
    else:
        runs[label] = train_curves(model, sn.Adam(model.params, lr=0.01), epochs, X_train, y_train)
summary(runs)
print("cosine lr at epochs 0, T/4, T/2, 3T/4, T:",
      [f"{runs['AdamW, lr 0.01 cosine, weight_decay 0.01']['lr'][k]:.5f}" for k in np.linspace(0, epochs, 5).astype(int)])
curves_figure(runs, "64-64-64-10 tanh with batch norm", lowest=90)

# %% [markdown]
# Both runs jump in mid-run (a fixed lr of 0.01 is on the large side), the fixed-lr run more often and higher
# (epochs 14–23). Towards the end both come to rest: under the cosine schedule because its steps shrink to 0, and
# AdamW's training loss levels off at about $6 \cdot 10^{-4}$, where the weight decay (which pulls every weight towards 0,
# against the fit) balances the fit, while Adam's goes on down to $2 \cdot 10^{-4}$. The test losses end equal. On data
# this easy neither the schedule nor the decay buys test accuracy; what the schedule buys is a predictable end: its last
# epochs, at a learning rate near 0, hardly change the net.
#
# **Where next.** Exercise notebook 3 (`tutorials/exercises/03_backprop_ninja.ipynb`) has you write
# `batchnorm_backward`, `layernorm_backward`, `dropout_backward`, `cross_entropy_delta`, `adamw_step` and
# `rmsprop_step` yourself, each checked against torch (`scratchnn check`). From a shell, a net of 9.8 with both:
# `scratchnn fit --criterion cross_entropy --data digits --units 64,64,64,10 --norm batch --dropout 0.2 --optimizer adamw
# --schedule cosine --lr 0.01 --epochs 40 --batch-size 64`.
