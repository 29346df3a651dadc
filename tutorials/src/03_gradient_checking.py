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

X64, Y64 = sn.workshop_data(np.float64)
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
# The central difference errs in two ways. *Truncation*: the Taylor remainder, of order $\varepsilon^2$,
# shrinks with $\varepsilon$. *Rounding*: the loss is computed with a relative error of about the unit
# round-off $u$ ($1.1 \times 10^{-16}$ in float64, $6 \times 10^{-8}$ in float32), an absolute error of about
# $u\,\mathcal{L}$ in each of $\mathcal{L}(\theta \pm \varepsilon e_{sk})$. Their difference, about
# $2\varepsilon D^j_{sk}$, is a small difference of two large numbers, so after dividing by $2\varepsilon$ the
# rounding error relative to $D^j_{sk}$ is about
# $$\frac{u\,\mathcal{L}}{\varepsilon\,|D^j_{sk}|}$$
# — not $u/\varepsilon$: what counts is how small the loss change $2\varepsilon |D^j_{sk}|$ is next to the
# loss itself. Against a truncation error of order $\varepsilon^2$ the sum is smallest near
# $\varepsilon \approx (u\mathcal{L}/|D^j_{sk}|)^{1/3}$, where the relative error is about
# $(u\mathcal{L}/|D^j_{sk}|)^{2/3}$. For the entry of 3.1, with the weights rounded to float32 so that
# both precisions start from the same values:

# %%
# One set of weights for both precisions: float32-representable values, so only the arithmetic differs.
theta32 = [t.astype(np.float32) for t in sn.MLP([1, 5, 5, 1], dtype=np.float64, generator=10).theta]


def net_of(dtype):
    net = sn.MLP([1, 5, 5, 1], dtype=dtype)
    net.theta[:] = [t.astype(dtype) for t in theta32]
    return net


loss, D = net_of(np.float64).loss_and_grad(X64, Y64)
exact = D[j][s, k]  # float64 backprop: the reference
print(f"loss L = {loss:.4g}, D^{j}[{s},{k}] = {exact:.4g}, L/|D| = {loss / abs(exact):.3g}")
for dtype in (np.float64, np.float32):
    ratio = np.finfo(dtype).eps / 2 * loss / abs(exact)  # u L / |D|
    print(f"{np.dtype(dtype).name}: u = {np.finfo(dtype).eps / 2:.2g}, best eps ~ {ratio ** (1 / 3):.1g}, "
          f"best relative error ~ {ratio ** (2 / 3):.1g}")

# %%
def difference(dtype, eps):
    """(theta + eps) - (theta - eps) and L(theta + eps) - L(theta - eps), both as dtype computes them."""
    net = net_of(dtype)
    X, Y = (X64, Y64) if dtype == np.float64 else (X32, Y32)
    t = net.theta[j]
    saved = t[s, k]
    t[s, k] = saved + dtype(eps)
    plus, theta_plus = float(net.loss(X, Y)), float(t[s, k])
    t[s, k] = saved - dtype(eps)
    minus, theta_minus = float(net.loss(X, Y)), float(t[s, k])
    t[s, k] = saved
    return theta_plus - theta_minus, plus - minus  # the step actually taken, and the loss change


def entry_error(dtype, eps):
    step, change = difference(dtype, eps)
    if step == 0:  # eps below half a rounding unit of theta: theta does not move at all
        return 1.0
    return abs(change / step - exact) / abs(exact)


epsilons = np.logspace(-10, -0.5, 40)
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
for dtype in (np.float64, np.float32):
    errors = [entry_error(dtype, e) for e in epsilons]
    best = int(np.argmin(errors))
    print(f"{np.dtype(dtype).name}: smallest relative error {errors[best]:.2g} at eps = {epsilons[best]:.2g}")
    ax.loglog(epsilons, np.maximum(errors, 1e-17), "o-", ms=3, label=np.dtype(dtype).name)
ax.set(xlabel="epsilon", ylabel="relative error of one entry", title="central difference: truncation vs rounding")
ax.grid(alpha=0.3, which="both")
ax.legend()
plt.show()

# %% [markdown]
# The estimate finds the minima within a factor of a few: for this entry
# $\mathcal{L}/|D^j_{sk}| \approx 107$, so the best $\varepsilon$ is near $2 \times 10^{-5}$ in float64
# (measured: $7 \times 10^{-5}$) and $2 \times 10^{-2}$ in float32 (measured: $3 \times 10^{-2}$), with a best
# relative error of about $5 \times 10^{-10}$ (measured $2 \times 10^{-10}$) and $3 \times 10^{-4}$ (measured
# $8 \times 10^{-5}$). That is why `gradcheck` uses $\varepsilon = 10^{-2}$ for float32. To the right of the
# minima both curves follow the same truncation line, $\propto \varepsilon^2$; to the left, the
# rounding line $\propto 1/\varepsilon$, $u_{32}/u_{64} = 5 \times 10^{8}$ apart.
#
# Far to the left, the float32 error is 100 %. Not because $\theta$ stops moving — in float32 the spacing
# of numbers near $\theta^{1}_{23} = 0.091$ is $7.5 \times 10^{-9}$, so $\theta \pm \varepsilon$ differ for every
# $\varepsilon \geq 10^{-8}$ — but because the *loss* stops changing:

# %%
u32 = np.finfo(np.float32).eps / 2
print(f"theta = {theta32[j][s, k]:.4g}, float32 spacing of theta {np.spacing(theta32[j][s, k]):.2g}; "
      f"u L = {u32 * loss:.2g}, float32 spacing of L {np.spacing(np.float32(loss)):.2g}")
print(f"{'eps':>7} {'step of theta':>14} {'2 eps D':>10} {'L(+) - L(-)':>12}   (float32)")
for eps in (1e-2, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8):
    step, change = difference(np.float32, eps)
    print(f"{eps:7.0e} {step:14.3g} {2 * eps * exact:10.2g} {change:12.3g}")

# %% [markdown]
# The step of $\theta$ is $2\varepsilon$ (rounded) all the way down, while the loss change $2\varepsilon D$
# drops below one rounding unit of $\mathcal{L}$ ($u\mathcal{L} \approx 1.3 \times 10^{-9}$; the float32 numbers
# near $\mathcal{L}$ are $1.9 \times 10^{-9}$ apart) at $\varepsilon \approx 3 \times 10^{-6}$. At
# $\varepsilon = 10^{-6}$ the computed change is a single spacing, $1.9 \times 10^{-9}$, more than four times
# the true $4 \times 10^{-10}$; at $\varepsilon = 10^{-7}$ and below it is exactly zero, the difference
# quotient is 0 and its error 100 %.

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
# wrong $\delta^2$ and $\delta^1$, fail — relative errors of about $8 \times 10^{-3}$ ($D^1$) and $0.1$ ($D^0$)
# against a tolerance of $10^{-7}$, growing towards the input as the error compounds: the per-layer report
# points at the layer where the error enters. Even float32, with its loose tolerance, catches it:

# %%
print(sn.gradcheck(BuggyMLP([1, 5, 5, 1], dtype=np.float32, generator=10), X32, Y32))
