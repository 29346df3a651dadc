# %% [markdown]
# # 8. Classification, derived
#
# The workshop fits a function with the mean squared error. The second derivation every backprop
# course teaches is the one for classification: the net's outputs become class probabilities, the loss
# becomes the cross-entropy, and the error of the output layer collapses to $\delta^L = (p - y)/n$. This
# is Ng's ex4 (sigmoid units, cross-entropy, and an L2 term that leaves the bias column alone) in our
# notation: $\theta^j$ with the bias in column 0, $a^j$ with a bias unit, $\delta^j = \partial\mathcal{L}/\partial z^j$.
#
# - 8.1 softmax and cross-entropy: $\delta^L$ derived, checked by hand, by `gradcheck` and against torch
# - 8.2 a sigmoid output and binary cross-entropy, and why both losses are computed from $z^L$
# - 8.3 the four TensorFlow-Playground sets, and their decision boundaries
# - 8.4 the handwritten digits with the numba engine
# - 8.5 L2 regularisation, and why torch's `weight_decay` is something else

# %%
import os

QUICK = os.environ.get("SCRATCHNN_QUICK") == "1"  # the test suite sets this to cut epochs

import matplotlib.pyplot as plt
import numpy as np
import torch

import scratchnn as sn
import torchref
from scratchnn import losses
from scratchnn.teaching import plots
from scratchnn.table import format_table
from torchref.agreement import forward_loss_grad_errors

torch.set_num_threads(1)  # these nets are tiny: a second thread only adds synchronisation

# %% [markdown]
# ## 8.1 Softmax and cross-entropy
#
# With $u^L$ classes the output layer is the identity, $a^L = z^L$: the *logits*. Point $i$'s class
# probabilities are its softmax,
# $$p_{is} = \frac{e^{z^L_{is}}}{\sum_k e^{z^L_{ik}}}, \qquad \log p_{is} = z^L_{is} - \log \sum_k e^{z^L_{ik}},$$
# and with targets $y_{is}$ (one-hot rows for class labels; any probabilities summing to 1 per row) the
# cross-entropy is the mean over the $n$ points
# $$\mathcal{L} = -\frac{1}{n} \sum_i \sum_s y_{is} \log p_{is} = \frac{1}{n} \sum_i \Big( \sum_s y_{is} \Big) \log \sum_k e^{z^L_{ik}} - \frac{1}{n} \sum_{i,s} y_{is} z^L_{is}.$$
# Differentiate by $z^L_{ir}$. The log-sum-exp gives $\partial \log \sum_k e^{z_{ik}} / \partial z_{ir} = e^{z_{ir}} / \sum_k e^{z_{ik}} = p_{ir}$,
# the last sum gives $y_{ir}$, and $\sum_s y_{is} = 1$:
# $$\delta^L_{ir} = \frac{\partial \mathcal{L}}{\partial z^L_{ir}} = \frac{1}{n}\,(p_{ir} - y_{ir}), \qquad \delta^L = \frac{1}{n}\,\big(\mathrm{softmax}(z^L) - y\big).$$
# No $g_L'$ appears: the output is the identity ($g_L' = 1$) and the softmax's Jacobian has been folded into
# the derivation. Compare the MSE's $\delta^L = \frac{2}{N}(a^L - y) \odot g_L'(z^L)$. Everything below
# $\delta^L$ (that is $D^j = (\delta^{j+1})^T a^j$ and $\delta^j = (\delta^{j+1}\theta^j[:, 1:]) \odot g_j'(z^j)$) is unchanged.
#
# A 2-4-3 net, tanh hidden layer, identity output, `criterion="cross_entropy"`, and class labels 0, 1, 2:

# %%
rng = np.random.default_rng(0)
net = sn.MLP([2, 4, 3], ["tanh", "identity"], dtype=np.float64, generator=0, criterion="cross_entropy")
X = rng.standard_normal((30, 2))
y = rng.integers(0, 3, 30)  # class indices; cross_entropy also takes probabilities (30, 3)
print(net.describe())

trace = net.forward_trace(X)
delta, D = net.backward(trace, y)
Y = losses.one_hot(y, 3, np.float64)  # (n, u^L): row i is e_{y_i}
p = np.exp(trace.z[2]) / np.exp(trace.z[2]).sum(axis=1, keepdims=True)  # the softmax, as written above
by_hand = (p - Y) / len(X)
print(f"max |delta^L (engine) - (p - y)/n (by hand)| = {np.max(np.abs(delta[2] - by_hand)):.1e}")
print(sn.gradcheck(net, X, y))

# %% [markdown]
# And against torch's `nn.CrossEntropyLoss` on a copy of the net (`torchref.to_torch`), which takes the
# same logits and the class indices: the scale-relative error $\max|\text{scratch} - \text{torch}| / \max|\text{torch}|$
# of the output, the loss and every $D^j$.

# %%
for dtype in (np.float64, np.float32):
    n32 = sn.MLP([2, 4, 3], ["tanh", "identity"], dtype=dtype, generator=0, criterion="cross_entropy")
    errors = forward_loss_grad_errors(n32, X.astype(dtype), y)
    print(f"{np.dtype(dtype).name}: " + ", ".join(f"{k} {v:.1e}" for k, v in errors.items()))
assert max(forward_loss_grad_errors(net, X, y).values()) < 1e-12

# %% [markdown]
# ### Computed stably
# $e^{z}$ overflows for $z > 709$ in float64 ($z > 88$ in float32). Subtracting each point's largest logit
# $m_i = \max_k z_{ik}$ changes nothing in exact arithmetic,
# $\log \sum_k e^{z_{ik}} = m_i + \log \sum_k e^{z_{ik} - m_i}$, and leaves every exponent $\le 0$:

# %%
z = np.array([[1000.0, 0.0, -5.0]])
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
print("softmax as written:", naive, "  with log-sum-exp:", losses.softmax(z), "  log p:", losses.log_softmax(z))

# %% [markdown]
# ## 8.2 A sigmoid output and binary cross-entropy
#
# For two classes (or several yes/no questions) one sigmoid unit per question, $a = \sigma(z)$, and the
# binary cross-entropy, the mean over all $N = n u^L$ entries:
# $$\mathcal{L} = -\frac{1}{N} \sum_{i,s} \big[ y_{is} \log a_{is} + (1 - y_{is}) \log (1 - a_{is}) \big].$$
# $\partial \ell / \partial a = (a - y)/\big(a(1 - a)\big)$ and $\sigma'(z) = a(1 - a)$ cancel:
# $$\delta^L = \frac{1}{N}\,(a^L - y).$$
# The loss itself is computed from $z^L$, which the trace keeps: $\log a = -\mathrm{softplus}(-z)$ and
# $\log(1 - a) = -\mathrm{softplus}(z)$ with $\mathrm{softplus}(z) = \max(z, 0) + \log(1 + e^{-|z|})$.
# Where the sigmoid saturates, $a$ rounds to exactly 1 and $\log(1 - a)$ to $-\infty$; torch's `nn.BCELoss`,
# which sees only $a$, clamps each log at $-100$ (and its gradient vanishes there). From $z$ the loss is exact:

# %%
z = np.array([[40.0], [200.0]], np.float32)  # confident and wrong: y = 0
y0 = np.zeros_like(z)
a = sn.ACTIVATIONS["sigmoid"].g(z)
with np.errstate(divide="ignore"):
    naive = -np.mean(np.log(1 - a))
torch_bce = torch.nn.BCELoss()(torch.from_numpy(a), torch.from_numpy(y0)).item()
print(f"a = {a.ravel()}; -mean log(1 - a) = {naive}; nn.BCELoss = {torch_bce:.1f}; "
      f"scratchnn (from z) = {losses.bce(z, y0):.1f}; delta^L = {losses.bce_delta(a, y0).ravel()}")

# %% [markdown]
# ## 8.3 The TensorFlow Playground's data sets
#
# `sn.datasets.playground(name, n, noise, seed)` draws the playground's four sets (its generators, its scale:
# points in about $[-6, 6]^2$, labels 0/1 as a column for one sigmoid output). Each is fitted by a 2-8-8-1
# net, tanh hidden layers and a sigmoid output, `criterion="bce"`, with Adam and the numba engine, on 500
# points of a 1000-point draw, and judged on the other 500 (the test points drawn here). The background is the net's $a^L = P(\text{class } 1)$, the black line
# its decision boundary $a^L = 1/2$ (that is $z^L = 0$).

# %%
epochs = 200 if QUICK else 1000
panels, rows = {}, [("set", "train loss", "train accuracy", "test accuracy")]
for k, name in enumerate(sn.datasets.PLAYGROUND):
    X_all, y_all = sn.datasets.playground(name, n=1000, noise=0.1, seed=k)
    X_train, y_train, X_test, y_test = X_all[:500], y_all[:500], X_all[500:], y_all[500:]
    clf = sn.MLP([2, 8, 8, 1], ["tanh", "tanh", "sigmoid"], generator=k, criterion="bce")
    h = sn.fit(clf, X_train, y_train, sn.Adam(clf.theta, lr=0.03), epochs=epochs, engine="numba")
    test = sn.accuracy(clf, X_test, y_test)
    rows.append((name, f"{h.loss[-1]:.4f}", f"{sn.accuracy(clf, X_train, y_train):.1%}", f"{test:.1%}"))
    panels[f"{name}: {test:.1%} on the test points"] = (clf, X_test, y_test)
print(format_table(rows))
plots.decision_boundary_figure(panels, columns=2)

# %% [markdown]
# The same xor set with two outputs and `criterion="cross_entropy"` (labels as class indices): the softmax of
# two logits is a sigmoid of their difference, $p_1 = \sigma(z_1 - z_0)$, so it is the same model written twice.

# %%
X_all, y_all = sn.datasets.playground("xor", n=1000, noise=0.1, seed=1)
labels = y_all[:, 0].astype(np.int64)  # (n,) class indices
clf = sn.MLP([2, 8, 8, 2], ["tanh", "tanh", "identity"], generator=1, criterion="cross_entropy")
sn.fit(clf, X_all[:500], labels[:500], sn.Adam(clf.theta, lr=0.03), epochs=epochs, engine="numba")
print(f"xor, softmax over two outputs: {sn.accuracy(clf, X_all[500:], labels[500:]):.1%} on the test points")

# %% [markdown]
# ## 8.4 The digits: Ng's ex4 in miniature
#
# `sn.datasets.digits()` is scikit-learn's copy of the 8×8 handwritten digits (1797 images; ex4 uses
# 20×20 ones): pixels scaled to $[0, 1]$, a fixed split into 1437 training and 360 test images, labels 0-9.
# The net is ex4's with a smaller hidden layer: 64-25-10, sigmoid hidden units, a softmax
# output (`cross_entropy`; ex4 puts ten sigmoids with binary cross-entropy there, `criterion="bce"` with
# one-hot targets, which trains as well). 300 full-batch epochs of Adam with the numba engine:

# %%
(X_train, y_train), (X_test, y_test) = sn.datasets.digits()
digits_net = sn.MLP([64, 25, 10], ["sigmoid", "identity"], generator=0, criterion="cross_entropy")
h = sn.fit(digits_net, X_train, y_train, sn.Adam(digits_net.theta, lr=0.01), epochs=300, engine="numba")
accuracy = sn.accuracy(digits_net, X_test, y_test)
print(f"{h.engine} engine: {h.epochs} epochs in {h.seconds:.2f} s (+ {h.compile_seconds:.1f} s compiling or "
      f"loading the kernels); loss {h.loss[0]:.3f} -> {h.loss[-1]:.4f}")
print(f"accuracy: {sn.accuracy(digits_net, X_train, y_train):.1%} on the training images, "
      f"{accuracy:.1%} on the {len(y_test)} test images")
assert accuracy >= 0.95
plots.loss_figure({"64-25-10 scratch": h.loss}, title="digits, Adam lr 0.01", ylabel="cross-entropy loss")

# %% [markdown]
# The first test images, with the predicted class above each (red where it is wrong):

# %%
predicted = digits_net.predict(X_test)
fig, axes = plt.subplots(2, 12, figsize=(12, 2.4), layout="constrained")
for ax, image, guess, truth in zip(axes.ravel(), X_test, predicted, y_test):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(str(guess), color="black" if guess == truth else "red")
    ax.set_axis_off()
plt.show()
wrong = np.flatnonzero(predicted != y_test)
print(f"{len(wrong)} of {len(y_test)} test images wrong; (true, predicted): "
      f"{[(int(y_test[i]), int(predicted[i])) for i in wrong[:10]]}")

# %% [markdown]
# ## 8.5 L2 regularisation, and torch's `weight_decay`
#
# Ng's ex4 adds to the loss the squared weights, not the biases:
# $$\mathcal{L} + \frac{\lambda}{2n} \sum_j \big\| \theta^j[:, 1:] \big\|^2, \qquad D^j[:, 1:] \mathrel{+}= \frac{\lambda}{n}\, \theta^j[:, 1:], \qquad D^j[:, 0] \text{ unchanged},$$
# `l2=λ` on `loss_and_grad`, `fit` and `scratchnn fit --l2`. torch has no such term; what it has is the
# optimizers' `weight_decay=w`, which adds $w\,\theta$ to the gradient of *every* parameter before the step:
#
# - **SGD**: $\theta \leftarrow \theta - \mathrm{lr}\,(D + w\theta)$ is gradient descent on $\mathcal{L} + \frac{w}{2}\|\theta\|^2$.
#   With $w = \lambda/n$ that is our L2 term, except that the biases are penalised too.
# - **Adam**: the same $w\theta$ enters the moments $m$ and $v$ and is divided by $\sqrt{\hat v}$ with the rest
#   of the gradient. So it is still an L2 term (ours, plus the biases), but it is no longer a *decay*: how fast
#   a weight shrinks depends on its own gradient history, not on $w$ and the learning rate alone.
# - **AdamW** decouples the two: $\theta \leftarrow \theta - \mathrm{lr}\,w\,\theta$ outside the moments, then
#   Adam's step on $D$ alone. That is not the gradient of any penalty passed through Adam; the same $w$ means
#   something else again.
#
# One step from the same $\theta$ on the digits, $\lambda = 1$ (so $w = \lambda/n$), and the change of the weight
# columns $\theta^j[:, 1:]$ and of the bias columns $\theta^j[:, 0]$ against ours:

# %%
lam, n = 1.0, len(X_train)
start = sn.MLP([64, 25, 10], ["sigmoid", "identity"], generator=0, criterion="cross_entropy")


def one_step(kind):
    """theta after one full-batch step: ('ours', optimizer name) or (torch optimizer, weight_decay)."""
    if kind[0] == "ours":
        mine = start.copy()
        opt = sn.SGD(mine.theta, lr=0.1) if kind[1] == "sgd" else sn.Adam(mine.theta, lr=0.01)
        sn.fit(mine, X_train, y_train, opt, epochs=1, l2=lam)
        return mine.theta
    model = torchref.to_torch(start)
    topt = {"sgd": lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=lam / n),
            "adam": lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=lam / n),
            "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=lam / n)}[kind[1]](model.parameters())
    torchref.fit(model, X_train, y_train, topt, epochs=1, criterion="cross_entropy")
    return torchref.bridge.theta_of(model)


rows = [("step", "against", "max |diff|, weights", "max |diff|, biases")]
for name, theirs, ours in (("SGD, weight_decay = λ/n", ("torch", "sgd"), ("ours", "sgd")),
                           ("Adam, weight_decay = λ/n", ("torch", "adam"), ("ours", "adam")),
                           ("AdamW, weight_decay = λ/n", ("torch", "adamw"), ("ours", "adam"))):
    a, b = one_step(theirs), one_step(ours)
    w = max(np.max(np.abs(s[:, 1:] - t[:, 1:])) for s, t in zip(a, b))
    bias = max(np.max(np.abs(s[:, 0] - t[:, 0])) for s, t in zip(a, b))
    rows.append((name, f"ours, l2 = {lam:g}", f"{w:.1e}", f"{bias:.1e}"))
print(format_table(rows))

# %% [markdown]
# SGD with `weight_decay` moves the weights as our L2 term does, to float32 rounding, and the biases by the
# extra $\mathrm{lr}\,w\,\theta^j[:, 0]$. Adam's first step is $\pm\mathrm{lr}$ for every parameter whatever its
# gradient ($\hat m / \sqrt{\hat v} = \pm 1$), so one step cannot show the bias term: its weights agree with
# ours, and so do its biases, unless a bias's gradient is so small that $w\theta$ flips its sign. AdamW's step
# differs by up to $2\,\mathrm{lr}$: where $(\lambda/n)\theta$ outweighs an entry of $D$, the penalised
# gradient and $D$ point opposite ways. Over a whole fit, from the same start:

# %%
epochs = 100 if QUICK else 300
rows = [("fit (Adam, lr 0.01)", "||weights||", "||biases||", "train loss (no penalty)", "test accuracy")]
for name in ("no regularisation", f"ours, l2 = {lam:g}", "torch Adam, weight_decay = λ/n",
             "torch AdamW, weight_decay = λ/n"):
    fitted = start.copy()
    if name.startswith("torch"):
        model = torchref.to_torch(start)
        cls = torch.optim.AdamW if "AdamW" in name else torch.optim.Adam
        torchref.fit(model, X_train, y_train, cls(model.parameters(), lr=0.01, weight_decay=lam / n), epochs=epochs,
                     criterion="cross_entropy")
        fitted = torchref.from_torch(model, criterion="cross_entropy")
    else:
        sn.fit(fitted, X_train, y_train, sn.Adam(fitted.theta, lr=0.01), epochs=epochs, engine="numba",
               l2=lam if name.startswith("ours") else 0.0)
    weights = np.sqrt(sum(np.sum(t[:, 1:] ** 2) for t in fitted.theta))
    biases = np.sqrt(sum(np.sum(t[:, 0] ** 2) for t in fitted.theta))
    rows.append((name, f"{weights:.2f}", f"{biases:.2f}", f"{fitted.loss(X_train, y_train):.4f}",
                 f"{sn.accuracy(fitted, X_test, y_test):.1%}"))
print(format_table(rows))

# %% [markdown]
# Our L2 term and Adam's `weight_decay = λ/n` shrink the weights alike, and only torch's shrinks the biases.
# AdamW with the same number barely shrinks anything: per step it removes the fraction lr·w ≈ 7·10⁻⁶ of each
# weight. To decay as much, AdamW's `weight_decay` has to be chosen on its own scale (values like 0.01-0.1 are
# usual) — the same name for three different things.
