# %% [markdown]
# # 3. Gradient checking
#
# A backward pass can be wrong and still train, slowly. Gradient checking compares it with a
# derivative that needs no derivation: central differences of the loss. For every entry $\theta^j_{sk}$
# $$D^{j,\mathrm{num}}_{sk} = \frac{\mathcal{L}(\theta + \varepsilon e_{sk}) - \mathcal{L}(\theta - \varepsilon e_{sk})}{2\varepsilon}$$
# and per layer the relative error (Ng's recipe)
# $$r^j = \frac{\| D^{j,\mathrm{num}} - D^j \|}{\| D^{j,\mathrm{num}} + D^j \|}.$$

# %%
import os

QUICK = os.environ.get("SCRATCHNN_QUICK") == "1"

import matplotlib.pyplot as plt
import numpy as np

import scratchnn as sn
from scratchnn import workshop

X64, Y64 = workshop.data(np.float64)
X64, Y64 = X64[::100], Y64[::100]  # 30 points: the check costs two losses per parameter
X32, Y32 = X64.astype(np.float32), Y64.astype(np.float32)

# %% [markdown]
# ## 3.1 One entry, by hand

# %%
net = sn.MLP([1, 5, 5, 1], dtype=np.float64, generator=10)
_, D = net.loss_and_grad(X64, Y64)
j, s, k, eps = 1, 2, 3, 1e-6
saved = net.theta[j][s, k]
net.theta[j][s, k] = saved + eps
plus = net.loss(X64, Y64)
net.theta[j][s, k] = saved - eps
minus = net.loss(X64, Y64)
net.theta[j][s, k] = saved
numeric = (plus - minus) / (2 * eps)
print(f"D^{j}[{s},{k}]: backprop {D[j][s, k]:.12e}, central difference {numeric:.12e}")

# %% [markdown]
# ## 3.2 Choosing $\varepsilon$: truncation against rounding
# The central difference errs by $O(\varepsilon^2)$ (the Taylor remainder) plus $O(u/\varepsilon)$
# (the loss is only known to the unit round-off $u$: $1.1 \times 10^{-16}$ in float64, $6 \times 10^{-8}$ in
# float32). The sum is smallest near $\varepsilon \approx u^{1/3}$: about $10^{-5}$ in float64 and
# $4 \times 10^{-3}$ in float32 — where the best reachable relative error is about $u^{2/3}$:
# $10^{-11}$ against $10^{-5}$.
#
# The figure bears out float64 (best $\approx 10^{-10}$ near $\varepsilon = 10^{-4}$). float32 does worse
# than the estimate: the loss is a mean of 30 terms summed in float32, so it carries several rounding
# units of error, and the best, about $10^{-4}$, comes only at $\varepsilon \approx 10^{-2}$ — which is why
# `gradcheck` uses $\varepsilon = 10^{-2}$ for float32. Below $\varepsilon \approx 10^{-6}$ a float32 weight
# of size 0.1–1 does not move at all (the error is then 100 %).

# %%
# One set of weights for both precisions: float32-representable values, so only the arithmetic differs.
theta32 = [t.astype(np.float32) for t in sn.MLP([1, 5, 5, 1], dtype=np.float64, generator=10).theta]


def net_of(dtype):
    net = sn.MLP([1, 5, 5, 1], dtype=dtype)
    net.theta[:] = [t.astype(dtype) for t in theta32]
    return net


exact = net_of(np.float64).loss_and_grad(X64, Y64)[1][j][s, k]  # float64 backprop: the reference


def entry_error(dtype, eps):
    net = net_of(dtype)
    X, Y = (X64, Y64) if dtype == np.float64 else (X32, Y32)
    t = net.theta[j]
    saved = t[s, k]
    t[s, k] = saved + dtype(eps)
    plus = float(net.loss(X, Y))
    t[s, k] = saved - dtype(eps)
    minus = float(net.loss(X, Y))
    t[s, k] = saved
    step = float(dtype(saved + dtype(eps))) - float(dtype(saved - dtype(eps)))  # the step actually taken
    if step == 0:  # eps below half a rounding unit of theta: theta does not move at all
        return 1.0
    return abs((plus - minus) / step - exact) / abs(exact)


epsilons = np.logspace(-10, -0.5, 40)
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for dtype in (np.float64, np.float32):
    ax.loglog(epsilons, [max(entry_error(dtype, e), 1e-17) for e in epsilons], "o-", ms=3, label=np.dtype(dtype).name)
ax.set(xlabel="epsilon", ylabel="relative error of one entry", title="central difference: truncation vs rounding")
ax.grid(alpha=0.3, which="both")
ax.legend()
plt.show()

# %% [markdown]
# ## 3.3 `sn.gradcheck`: every entry, every layer
# Defaults by dtype: float64 $\varepsilon = 10^{-6}$, tolerance $10^{-7}$; float32 $\varepsilon = 10^{-2}$,
# tolerance $10^{-2}$ — float32 can only confirm the gradient to a few digits.

# %%
print(sn.gradcheck(sn.MLP([1, 5, 5, 1], dtype=np.float64, generator=10), X64, Y64))
print(sn.gradcheck(sn.MLP([1, 5, 5, 1], dtype=np.float32, generator=10), X32, Y32))

# %% [markdown]
# ## 3.4 A planted bug
# The classic mistake: carrying the error back through $\theta^j$ *with* its bias column, or forgetting
# the $g'(z^j)$ factor. We plant the second — the hidden layers' $\delta^j$ without $g'$ — and let the check find it.

# %%
from scratchnn import activations


class BuggyMLP(sn.MLP):
    def _backward(self, trace, Y):  # the inner backward that loss_and_grad (and so gradcheck) calls
        a, z, L = trace.a, trace.z, self.L
        delta, D = [None] * (L + 1), [None] * L
        g = activations.get(self.activations[L - 1])
        delta[L] = sn.losses.mse_grad(a[L], Y) * g.g_prime(z[L], a[L])
        for j in range(L - 1, -1, -1):
            D[j] = delta[j + 1].T @ a[j]
            if j > 0:
                delta[j] = delta[j + 1] @ self.theta[j][:, 1:]  # BUG: the factor g'(z^j) is missing
        return delta, D


buggy = BuggyMLP([1, 5, 5, 1], dtype=np.float64, generator=10)
result = sn.gradcheck(buggy, X64, Y64)
print(result)
assert not result.passed

# %% [markdown]
# The output layer's $D^2$ still passes — its $\delta^3$ is right — while $D^1$ and $D^0$, which use the
# wrong $\delta^2$ and $\delta^1$, fail — relative errors of $10^{-2}$ to $10^{-1}$ against a tolerance of $10^{-7}$, and growing towards the input as the error compounds: the per-layer report points at the layer
# where the error enters. Even float32, with its loose tolerance, catches it:

# %%
print(sn.gradcheck(BuggyMLP([1, 5, 5, 1], dtype=np.float32, generator=10), X32, Y32))
