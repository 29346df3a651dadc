# %% [markdown]
# # Exercises 1. Backpropagation by hand
#
# You write the textbook engine yourself, one function at a time: the forward pass, the output
# layer's error $\delta^L$, the gradient $D^j$ of one weight matrix, the error $\delta^j$ of a hidden
# layer, the whole backward pass, and a finite-difference gradient check. Each exercise cell holds
# one function whose body is `raise NotImplementedError("your code here")`: replace that line. The
# cell after it, `check(...)`, runs your function on a few small random nets and compares every array
# it returns with torch's autograd, in a table. A failing check names the quantity and the layer.
#
# Stuck? `hint("forward")` prints a hint, `hint("forward", level=2)` a stronger one; the names are
# `"bias"`, `"forward"`, `"output_delta"`, `"layer_gradient"`, `"hidden_delta"`, `"backward"` and
# `"numerical_gradient"`. The solutions are in `solutions.py`, next to this notebook: open it once
# your check passes, or when you are really stuck.
#
# Conventions — the workshop's, as in tutorials 1 to 3:
# * NumPy float64 arrays; data points are the rows: $X$ is $(n, u^0)$, $Y$ is $(n, u^L)$.
# * Layers $j = 0$ (input) to $L$ (output); `theta[j]` is $\theta^j$, of shape $(u^{j+1}, u^j + 1)$,
#   the bias in column 0; $L$ is `len(theta)`.
# * Indices count from 1 and the bias unit is unit 0: $i = 1 \dots n$ is a data point, $\theta^j_{sk}$
#   carries unit $k$ of layer $j$ ($k = 0$: the bias unit) to unit $s$ of layer $j+1$. In NumPy subtract 1
#   from every index except a column of $a^j$, $\theta^j$ or $D^j$: $\theta^j_{sk}$ is `theta[j][s - 1, k]`.
# * $g = \tanh$ on every layer, the output included: $g'(z) = 1 - \tanh^2 z = 1 - a^2$.
# * The loss is torch's `nn.MSELoss()`: the mean over all $N = n\,u^L$ entries,
#   $\mathcal{L} = \frac{1}{N} \sum_{i,s} (a^L_{is} - Y_{is})^2$.

# %%
import numpy as np

import scratchnn as sn
import torchref
from scratchnn.teaching.exercises import check, hint

# %% [markdown]
# ## 1. The bias unit and the forward pass
# `torch.nn.Linear` keeps a weight matrix and a bias vector. The workshop keeps one matrix $\theta^j$
# with the bias as column 0, and gives every activation row a **bias unit**, a leading 1, so that one
# matrix product applies weight and bias at once:
# $z = \theta^j_{[:, 0]} + \theta^j_{[:, 1:]}\, x = \theta^j\, [1, x]$. Here is the workshop's first model,
# 1-5-1, in both forms (torch's `weight` is $\theta^0_{[:, 1:]}$, its `bias` $\theta^0_{[:, 0]}$), and one
# input, $x = 0.5$, through its first layer both ways:

# %%
net = sn.MLP([1, 5, 1], dtype=np.float64, generator=10)  # the workshop's model 0, torch's initial weights
linear = torchref.to_torch(net)[0]  # its first nn.Linear
print("theta^0, shape", net.theta[0].shape, "\n", net.theta[0])
print("torch bias  ", linear.bias.detach().numpy())
print("torch weight", linear.weight.detach().numpy().ravel())
x = np.array([0.5])
a0 = np.array([1.0, 0.5])  # [bias unit, x]
print("theta^0 [1, x]:  ", net.theta[0] @ a0)
print("weight x + bias: ", linear.weight.detach().numpy() @ x + linear.bias.detach().numpy())

# %% [markdown]
# Now the forward pass for $n$ points at once (`hint("bias")` if the bias unit puzzles you):
# $$a^0 = [\mathbf{1}, X] \quad (n, u^0 + 1), \qquad z^{j+1} = a^j (\theta^j)^T \quad (n, u^{j+1}),$$
# $$a^{j+1} = [\mathbf{1}, \tanh z^{j+1}] \quad (n, u^{j+1} + 1) \ \text{ for } j + 1 < L, \qquad
# a^L = \tanh z^L \quad (n, u^L) \ \text{ (no bias unit on the output)}.$$
# Return the list $[a^0, \dots, a^L]$, $L + 1$ arrays.

# %% exercise: forward
def forward(theta, X):
    """The activations [a^0, ..., a^L] of the net theta on X (n, u^0); a bias unit in column 0 of a^j for j < L."""
    raise NotImplementedError("your code here")

# %% check
check(forward)

# %% [markdown]
# ## 2. The output layer's error $\delta^L$
# The error of layer $j$ is $\delta^j = \partial \mathcal{L} / \partial z^j$, one number per data point and
# unit. At the output, through the loss and through $g$:
# $$\delta^L = \frac{\partial \mathcal{L}}{\partial a^L} \odot g'(z^L) = \frac{2}{N}\,(a^L - Y) \odot \left(1 - (a^L)^2\right)
# \qquad (n, u^L), \quad N = n\,u^L.$$

# %% exercise: output_delta
def output_delta(a_L, Y):
    """delta^L (n, u^L) of the MSE loss and a tanh output layer, from a^L (n, u^L) and Y (n, u^L)."""
    raise NotImplementedError("your code here")

# %% check
check(output_delta)

# %% [markdown]
# ## 3. The gradient of one weight matrix, $D^j$
# $z^{j+1} = a^j (\theta^j)^T$ is linear in $\theta^j$, so, summed over the data points,
# $$D^j = \frac{\partial \mathcal{L}}{\partial \theta^j} = (\delta^{j+1})^T a^j \qquad (u^{j+1}, u^j + 1).$$
# Column 0 — the bias unit's column of $a^j$, all ones — is the bias gradient,
# $\sum_i \delta^{j+1}_i$.

# %% exercise: layer_gradient
def layer_gradient(delta_next, a_j):
    """D^j (u^{j+1}, u^j + 1) from delta^{j+1} (n, u^{j+1}) and a^j (n, u^j + 1)."""
    raise NotImplementedError("your code here")

# %% check
check(layer_gradient)

# %% [markdown]
# ## 4. Carrying the error back: $\delta^j$ of a hidden layer
# For $1 \le j < L$, through $\theta^j$ and through $g$. The bias unit has no input, so the bias column
# of $\theta^j$ and of $a^j$ takes no part:
# $$\delta^j = \left(\delta^{j+1}\, \theta^j_{[:, 1:]}\right) \odot \left(1 - (a^j_{[:, 1:]})^2\right) \qquad (n, u^j).$$

# %% exercise: hidden_delta
def hidden_delta(delta_next, theta_j, a_j):
    """delta^j (n, u^j), no bias column, from delta^{j+1} (n, u^{j+1}), theta^j and a^j (n, u^j + 1)."""
    raise NotImplementedError("your code here")

# %% check
check(hidden_delta)

# %% [markdown]
# ## 5. The whole backward pass
# Put your three functions together: $\delta^L$ first, then for $j = L-1, \dots, 0$ the gradient $D^j$
# and, while $j > 0$, the error $\delta^j$ for the next step down. `a` is what `forward` returns.

# %% exercise: backward
def backward(theta, a, Y):
    """The gradients [D^0, ..., D^{L-1}], D^j shaped like theta^j, from the activations a = forward(theta, X)."""
    raise NotImplementedError("your code here")

# %% check
check(backward)

# %% [markdown]
# ## 6. A finite-difference gradient check
# A derivative that needs no derivation: for every entry $\theta^j_{sk}$ move it by $\pm\varepsilon$ and
# difference the loss,
# $$D^{j,\mathrm{num}}_{sk} = \frac{\mathcal{L}(\theta + \varepsilon e_{sk}) - \mathcal{L}(\theta - \varepsilon e_{sk})}{2\varepsilon},$$
# with $\mathcal{L}(\theta) = \mathrm{mean}\left((a^L - Y)^2\right)$ from your `forward`. Put every entry back
# as it was. The central difference errs by $O(\varepsilon^2)$; a one-sided one,
# $(\mathcal{L}(\theta + \varepsilon e_{sk}) - \mathcal{L}(\theta))/\varepsilon$, by $O(\varepsilon)$ — the check
# (with $\varepsilon = 10^{-4}$) tells them apart. Tutorial 3 explains how to choose $\varepsilon$.

# %% exercise: numerical_gradient
def numerical_gradient(theta, X, Y, eps):
    """[Dnum^0, ..., Dnum^{L-1}], Dnum^j shaped like theta^j, by central differences; theta is left as it was."""
    raise NotImplementedError("your code here")

# %% check
check(numerical_gradient)

# %% [markdown]
# ## Your two gradients agree
# Your backward pass against your finite differences on the workshop's 1-5-5-1 model (float64, 30 of
# its points), with Ng's relative error per layer,
# $r^j = \| D^{j,\mathrm{num}} - D^j \| / \| D^{j,\mathrm{num}} + D^j \|$: about $10^{-10}$ when both are right.

# %%

X, Y = sn.workshop_data(np.float64)
X, Y = X[::100], Y[::100]
theta = sn.MLP([1, 5, 5, 1], dtype=np.float64, generator=10).theta
D = backward(theta, forward(theta, X), Y)
Dnum = numerical_gradient(theta, X, Y, 1e-6)
for j, (d, dn) in enumerate(zip(D, Dnum)):
    print(f"theta^{j} {d.shape}: relative error {np.linalg.norm(dn - d) / np.linalg.norm(dn + d):.1e}")
