# %% [markdown]
# # Exercises 3. Becoming a backprop ninja
#
# Past the MLP of exercises 1: the layers every modern net has, and their backward passes written by
# hand, each checked against torch's own function. Batch norm (and why its backward pass has three
# terms), layer norm (the same derivation on the other axis), inverted dropout, the fused
# softmax-cross-entropy $\delta^L$, and two more optimizers, AdamW and RMSprop. Tutorial 9 derives them.
#
# As before: replace `raise NotImplementedError("your code here")`; the check cell after each compares
# your function with torch on four random cases; `hint("batchnorm_backward")` for a hint (`level=2`, `3`
# for stronger ones); the solutions are at the end of `solutions.py`.
#
# Conventions for the layer exercises: one layer's arrays, NumPy float64. $z$ is $(n, u)$: $n$ data
# points (rows, index $i$), $u$ units (columns). $\gamma$ and $\beta$ are $(u,)$, one per unit.
# `dy` is $\partial\mathcal{L}/\partial y$, the gradient arriving from the layers above, shaped like $y$;
# a backward function returns the gradients with respect to its inputs and parameters.

# %%
import numpy as np

from scratchnn.teaching.exercises import check, hint

# %% [markdown]
# ## 9. Batch norm, forward (training mode)
# Per unit, over the $n$ data points of the batch:
# $$\mu = \frac{1}{n}\sum_i z_i, \qquad \sigma^2 = \frac{1}{n}\sum_i (z_i - \mu)^2, \qquad
# \hat z = \frac{z - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y = \gamma \odot \hat z + \beta.$$
# The variance is the *biased* one, divided by $n$ (torch keeps the unbiased one, divided by $n - 1$, only
# for the running estimate it uses in eval mode: Bessel's correction, tutorial 9).

# %% exercise: batchnorm_forward
def batchnorm_forward(z, gamma, beta, eps):
    """Batch norm of z (n, u) in training mode; returns y (n, u)."""
    raise NotImplementedError("your code here")

# %% check
check(batchnorm_forward)

# %% [markdown]
# ## 10. Batch norm, backward
# $z_i$ reaches the loss three ways: through $\hat z_i$ directly, and through $\mu$ and $\sigma^2$, which
# every $\hat z_k$ uses. With $d\hat z = dy \odot \gamma$ the chain rule sums the three:
# $$dz = \frac{1}{\sqrt{\sigma^2 + \epsilon}}\Big(d\hat z - \frac{1}{n}\sum_k d\hat z_k
# - \hat z \odot \frac{1}{n}\sum_k d\hat z_k \odot \hat z_k\Big), \qquad
# d\gamma = \sum_i dy_i \odot \hat z_i, \qquad d\beta = \sum_i dy_i.$$
# Return `(dz, dgamma, dbeta)`, shaped like `z`, `gamma` and `gamma`.

# %% exercise: batchnorm_backward
def batchnorm_backward(dy, z, gamma, eps):
    """The backward of batch norm (training mode); returns (dz, dgamma, dbeta)."""
    raise NotImplementedError("your code here")

# %% check
check(batchnorm_backward)

# %% [markdown]
# ## 11. Layer norm, backward
# Layer norm normalizes each data point over its own $u$ units: the same formulas with the means over the
# last axis (`axis=1, keepdims=True`), while $\gamma$ and $\beta$ stay one per unit, so $d\gamma$ and
# $d\beta$ still sum over the data points.

# %% exercise: layernorm_backward
def layernorm_backward(dy, z, gamma, eps):
    """The backward of layer norm over the last axis; returns (dz, dgamma, dbeta)."""
    raise NotImplementedError("your code here")

# %% check
check(layernorm_backward)

# %% [markdown]
# ## 12. Inverted dropout, backward
# In training, dropout keeps each unit with probability $1 - p$ (`mask` is True where kept) and scales the
# kept ones up, $\text{out} = a \odot \text{mask} / (1 - p)$, so that eval mode can pass $a$ unchanged.
# Return $\partial\mathcal{L}/\partial a$ from `da` $= \partial\mathcal{L}/\partial\,\text{out}$.

# %% exercise: dropout_backward
def dropout_backward(da, mask, p):
    """The gradient with respect to dropout's input, from da (the gradient of its output)."""
    raise NotImplementedError("your code here")

# %% check
check(dropout_backward)

# %% [markdown]
# ## 13. Softmax and cross-entropy, fused
# With $n$ data points, logits $z$ $(n, C)$ and integer labels, torch's `F.cross_entropy(z, labels)` is
# $\mathcal{L} = \frac{1}{n}\sum_i -\log \operatorname{softmax}(z_i)_{\text{label}_i}$. The softmax's
# Jacobian and the log's derivative cancel into
# $$\delta^L = \frac{\partial\mathcal{L}}{\partial z} = \frac{1}{n}\big(\operatorname{softmax}(z) -
# \operatorname{onehot}(\text{labels})\big).$$

# %% exercise: cross_entropy_delta
def cross_entropy_delta(z, labels):
    """delta^L of the mean cross-entropy of softmax(z) against integer labels; shape (n, C)."""
    raise NotImplementedError("your code here")

# %% check
check(cross_entropy_delta)

# %% [markdown]
# ## 14. AdamW
# Adam with `weight_decay` adds $\lambda\theta$ to the gradient, so the decay goes through $m$ and $v$
# and is rescaled by them. AdamW (Loshchilov & Hutter) decouples it: first
# $\theta \leftarrow \theta\,(1 - \eta\lambda)$, then Adam's step (exercise 8) with $D$ alone.

# %% exercise: adamw_step
def adamw_step(theta, D, m, v, t, lr, beta1, beta2, eps, weight_decay):
    """One step t (1, 2, ...) of torch's AdamW on one theta^j; returns (theta, m, v)."""
    raise NotImplementedError("your code here")

# %% check
check(adamw_step)

# %% [markdown]
# ## 15. RMSprop
# A running mean of the squared gradient, starting at zero, and a step divided by its root:
# $$s_t = \alpha\, s_{t-1} + (1 - \alpha)\, D_t^2, \qquad \theta \leftarrow \theta - \eta\,
# \frac{D_t}{\sqrt{s_t} + \epsilon}.$$
# `sq` is $s_{t-1}$; return the new $\theta$ and $s_t$.

# %% exercise: rmsprop_step
def rmsprop_step(theta, D, sq, lr, alpha, eps):
    """One step of torch's RMSprop (no momentum, not centered) on one theta^j; returns (theta, sq)."""
    raise NotImplementedError("your code here")

# %% check
check(rmsprop_step)

# %% [markdown]
# ## Your batch norm, checked by itself
# Central differences of your forward pass against your backward pass, on a batch of 8 points with 3
# units: $\mathcal{L} = \sum dy \odot y$, so that $\partial\mathcal{L}/\partial y$ is exactly `dy`.
# They agree to about $10^{-10}$ when both are right; a backward pass without the mean terms is off by
# order 1.

# %%
rng = np.random.default_rng(0)
z, dy = rng.standard_normal((8, 3)), rng.standard_normal((8, 3))
gamma, beta, eps = rng.uniform(0.5, 1.5, 3), rng.standard_normal(3), 1e-5
dz = batchnorm_backward(dy, z, gamma, eps)[0]
numerical = np.zeros_like(z)
h = 1e-6
for idx in np.ndindex(z.shape):
    up, down = z.copy(), z.copy()
    up[idx] += h
    down[idx] -= h
    numerical[idx] = np.sum(dy * (batchnorm_forward(up, gamma, beta, eps) - batchnorm_forward(down, gamma, beta, eps))) / (2 * h)
print(f"max |dz - central differences| / max |dz| = {np.max(np.abs(dz - numerical)) / np.max(np.abs(dz)):.1e}")
