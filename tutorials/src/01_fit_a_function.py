# %% [markdown]
# # 1. Fit a function — the workshop notebook, with scratchnn beside torch
#
# This is the workshop's first notebook (`1-neural_networks.ipynb`) cell for cell, with every
# torch step followed by the same step in **scratchnn**, the from-scratch NumPy engine. Same data,
# same seed, same initial weights — printed side by side — and the notebook's questions answered.
#
# Notation (the workshop's): data points $i = 1..n$, layers $j$, units $u^j$ in layer $j$,
# activations $a^j$ with a bias unit, weights $\theta^j$ of shape $u^{j+1} \times (u^j + 1)$, bias in column 0.

# %%
import os

QUICK = os.environ.get("SCRATCHNN_QUICK") == "1"  # the test suite sets this to cut epochs

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn

import scratchnn as sn
from scratchnn.teaching import plots
import torchref

torch.set_num_threads(1)  # one thread, as the bench pins it: on these tiny nets a second buys little (tutorial 6)
# %% [markdown]
# ## Reproducibility
# The notebook seeds torch and NumPy with 10. scratchnn does not need torch for its seed:
# `sn.TorchGenerator(10)` replays torch's CPU random stream after `torch.manual_seed(10)`
# (a Mersenne Twister, reimplemented in NumPy). Tutorial 5 explains what this seeding does and
# does not make reproducible — the notebook's `torch.backends.openmp.deterministic = True` line,
# for one, sets an attribute that torch never reads.

# %%
SEED = 10
torch.manual_seed(SEED)
np.random.seed(SEED)
gen = sn.TorchGenerator(SEED)  # scratchnn's copy of torch's stream

# %% [markdown]
# ## 0.2 The function to fit, and 0.4 its normalisation
# $y = 3 \sin(x/100) \cos(x/10)$ on 3000 points of $[0, 100]$, converted to float32 and
# $L_5$-normalised: $x \to x / \|x\|_5$ with $\|x\|_p = (\sum_i |x_i|^p)^{1/p}$.

# %%
sample_points, x_lim = 3e3, 100
x = np.linspace(0, x_lim, int(sample_points))
y = np.sin(x * x_lim * 1e-4) * np.cos(x * x_lim * 1e-3) * 3

# torch, as the notebook
x_torch = torch.from_numpy(x.reshape(-1, 1)).to(dtype=torch.float32)
y_torch = torch.from_numpy(y.reshape(-1, 1)).to(dtype=torch.float32)
x_norm = torch.nn.functional.normalize(x_torch, p=5, dim=0)
y_norm = torch.nn.functional.normalize(y_torch, p=5, dim=0)

# scratchnn
X, Y = sn.workshop_data()  # float32, (3000, 1) each
print(X.dtype, X.shape, Y.dtype, Y.shape)
print("largest difference from torch's x_norm:", np.abs(X - x_norm.numpy()).max())
print("largest difference from torch's y_norm:", np.abs(Y - y_norm.numpy()).max())

# %% [markdown]
# The inputs differ in the last bit: torch sums $|x_i|^5$ in float32 and its norm
# (346.61868) is one rounding unit above the correctly rounded one that scratchnn computes in
# float64 (346.61865). One float32 unit at 0.29 is $3 \times 10^{-8}$. From here on **both engines
# train on scratchnn's `X, Y`**, so any difference you see comes from the engines, not the data.

# %%
plots.function_figure(x, y, X, Y)

# %% [markdown]
# ## 2. Build your model
# The notebook builds three tanh models one after the other, so model 1's initial weights continue
# the random stream where model 0's stopped. scratchnn does the same with one generator.

# %%
n_input, n_out = 1, 1
model0 = nn.Sequential(nn.Linear(n_input, 5), nn.Tanh(), nn.Linear(5, n_out), nn.Tanh())
model1 = nn.Sequential(nn.Linear(n_input, 10), nn.Tanh(), nn.Linear(10, n_out), nn.Tanh())
model2 = nn.Sequential(nn.Linear(n_input, 5), nn.Tanh(), nn.Linear(5, 5), nn.Tanh(), nn.Linear(5, n_out), nn.Tanh())

net0 = sn.MLP([1, 5, 1], generator=gen)
net1 = sn.MLP([1, 10, 1], generator=gen)
net2 = sn.MLP([1, 5, 5, 1], generator=gen)

print(model0)
print(net0.describe())

# %% [markdown]
# ## 2.1 Understanding the model: `parameters()`

# %%
for element in model0.parameters():
    print(element.shape)
print("scratchnn:", [t.shape for t in net0.theta])

# %% [markdown]
# **Can you identify the elements of the model by their dimensions?** (The notebook's answer
# mislabels two of them and numbers the layers two ways; here it is set right.)
#
# Layers are numbered from the input: layer 0 is the input ($u^0 = 1$), layer 1 the hidden layer
# ($u^1 = 5$), layer 2 the output ($u^2 = 1$). $\theta^j$ maps layer $j$ to layer $j+1$. In Python
# the index *is* the layer number: `net.theta[j]` is $\theta^j$, `net.units[j]` is $u^j$. (The
# notebook's conventions count layers from 1 but call the first matrix $\theta^0$ — that is why its
# answer writes $u^2 \times u^1$ for the first matrix and $u^3 \times u^3$ for the second.)
#
# | `parameters()` element | torch name | shape | what it is |
# |---|---|---|---|
# | 0 | `0.weight` | $5 \times 1 = u^1 \times u^0$ | $\theta^0$ without its bias column: `theta[0][:, 1:]` |
# | 1 | `0.bias` | $5 = u^1$ | the **bias weights** into layer 1: column 0 of $\theta^0$, `theta[0][:, 0]` — not "the values of the activation units" (parameters hold no activations) |
# | 2 | `2.weight` | $1 \times 5 = u^2 \times u^1$ | $\theta^1$ without its bias column: `theta[1][:, 1:]` |
# | 3 | `2.bias` | $1 = u^2$ | the bias weight into the output unit: `theta[1][:, 0]` — not "the output of the model" |
#
# In general: element $k$ of `parameters()` belongs to $\theta^{\lfloor k/2 \rfloor}$ (even $k$: the
# weights, odd $k$: the bias column), and in `nn.Sequential` the Linear module at index $2j$ holds $\theta^j$
# (odd indices are the activations, which have no parameters).

# %%
for k, element in enumerate(model0.parameters()):
    j = k // 2
    part = net0.theta[j][:, 1:] if k % 2 == 0 else net0.theta[j][:, 0]
    print(f"element {k} = theta^{j}{'[:, 1:]' if k % 2 == 0 else '[:, 0]'}:", np.array_equal(element.detach().numpy(), part))
    print(element.detach().numpy().ravel(), "\n", part.ravel())

# %% [markdown]
# **What are these values?** The *initial*, untrained weights, random draws: `nn.Linear(u^j, u^{j+1})`
# draws the weights from $U(-1/\sqrt{u^j}, 1/\sqrt{u^j})$ (Kaiming-uniform with $a = \sqrt 5$) and
# then the biases from the same interval. For $\theta^0$ ($u^0 = 1$) every entry lies in $[-1, 1]$, for
# $\theta^1$ ($u^1 = 5$) in $[-0.447, 0.447]$. They equal the notebook's printout (`-0.0838, -0.0343, ...`)
# because the seed is the same — and scratchnn reproduces them bit for bit:

# %%
for net, model in [(net0, model0), (net1, model1), (net2, model2)]:
    same = all(np.array_equal(a, b) for a, b in zip(net.theta, torchref.bridge.theta_of(model)))
    bounds = [float(np.abs(t).max()) for t in net.theta]
    print(net.units, "equal to torch:", same, " max |theta^j|:", np.round(bounds, 3),
          " bounds 1/sqrt(u^j):", np.round([1 / np.sqrt(u) for u in net.units[:-1]], 3))

# %% [markdown]
# ## 3–5. Loss, optimizer, training loop
# MSE loss, Adam with learning rate 0.015, 1000 epochs, each epoch one full-batch step (the
# notebook defines `batch_size = 200` but never uses it). torch first, exactly as the notebook;
# then scratchnn's `fit`, which runs the same loop.

# %%
epochs = 100 if QUICK else 1000
learning_rate = 0.015
loss_function = nn.MSELoss()
xt, yt = torch.from_numpy(X), torch.from_numpy(Y)

torch_losses = []
for model in (model0, model1, model2):
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    losses = []
    for epoch in range(epochs):
        pred_y = model(xt)
        optimizer.zero_grad()
        loss = loss_function(pred_y, yt)
        losses.append(loss.item())
        loss.backward()
        optimizer.step()
    torch_losses.append(losses)

scratch_histories = [sn.fit(net, X, Y, sn.Adam(net.theta, lr=learning_rate), epochs=epochs) for net in (net0, net1, net2)]
for net, h, lt in zip((net0, net1, net2), scratch_histories, torch_losses):
    print(f"{net.units}: final loss scratch {h.loss[-1]:.6e}  torch {lt[-1]:.6e}")

# %%
curves = {}
for k, (h, lt) in enumerate(zip(scratch_histories, torch_losses)):
    curves[f"{'-'.join(map(str, (net0, net1, net2)[k].units))} scratch"] = h.loss
    curves[f"{'-'.join(map(str, (net0, net1, net2)[k].units))} torch"] = np.array(lt)
plots.loss_figure(curves, title=f"Learning rate {learning_rate}")

# %% [markdown]
# The curves lie on top of each other for hundreds of epochs; the deeper model's can part
# later — each engine rounds differently in the last bit and the fit amplifies it. Tutorial 5 is about that.
#
# **How much do you think each hyperparameter will affect the quality of the model?** Measured
# (`scratchnn sweep`, `scratchnn fit`): the architecture and the learning rate matter most — at 1000
# epochs the final losses of the three models span two orders of magnitude (1-5-1 ≈ 2·10⁻², 1-10-1
# ≈ 2·10⁻³, 1-5-5-1 ≈ 2·10⁻⁴); the seed alone moves a model's final loss by more than two orders of
# magnitude (`scratchnn sweep`: 1-5-5-1 at lr 0.015 ends between about 4·10⁻⁵ and 1·10⁻² over five
# seeds); the number of epochs keeps helping (5000 epochs: 1-5-1 ≈ 3·10⁻⁴).
#
# ## 6. Test the trained model
# 50 random points in $[0, \max x_\mathrm{norm}]$. The notebook seeds NumPy at the top and draws
# nothing else from it before, so `np.random.uniform` here gives the notebook's points.
# (`sn.data.workshop_test_points(X)` is the same draw without touching the global stream.)

# %%
x_test = np.random.uniform(0, np.max(X), 50).reshape(-1, 1).astype(np.float32)
print("same as sn.data.workshop_test_points:", np.array_equal(x_test, sn.data.workshop_test_points(X)))
with torch.no_grad():
    preds = {}
    for net, model in [(net0, model0), (net1, model1), (net2, model2)]:
        label = "-".join(map(str, net.units))
        preds[f"{label} scratch"] = net.forward(x_test)
        preds[f"{label} torch"] = model(torch.from_numpy(x_test)).numpy()
plots.predictions_figure(X, Y, x_test, preds)

# %% [markdown]
# **What do you think of these results, do they follow the universal approximation theorem?**
# The theorem says that *some* one-hidden-layer tanh network with enough units approximates the
# function as well as we like. It does not say that 5 or 10 units are enough, nor that 1000 Adam
# steps from a random start find the good weights. With 1000 epochs 1-5-1 barely leaves the
# plateau at loss ≈ 0.02 — about $\overline{y^2}$ = 0.022, the loss of predicting nearly zero
# everywhere; 1-10-1 follows the large wave; 1-5-5-1 follows the curve closely. So the results do
# not contradict the theorem, they show what it leaves out: the size needed and the optimisation.
#
# ## 7. Play with the notebook — one command each
# Every suggestion is a `scratchnn fit` command (add `--compare-torch` to train torch beside it and
# `--out DIR` for the figures). What they showed when we ran them (float32, the default engine, numba
# where it works; `--engine numpy` gives the same picture, not always the same digits):
#
# | suggestion | command | what it shows |
# |---|---|---|
# | 5000 epochs | `scratchnn fit --epochs 5000` | every model keeps improving: 1-5-1 about 3·10⁻⁴, 1-10-1 2·10⁻⁴, 1-5-5-1 1.3·10⁻⁵ (with loss spikes) |
# | another seed | `scratchnn fit --seed 1` | different starting weights, different outcome: 1-5-1 2.5·10⁻³ now beats 1-10-1 2.8·10⁻³ |
# | SGD instead of Adam | `scratchnn fit --optimizer sgd` | plain SGD at lr 0.015 stays on the plateau (≈ 2.1·10⁻²) for all three models |
# | 1,000,000 epochs | `scratchnn fit --epochs 1000000` | all three keep improving for hundreds of thousands of epochs, to about 1.4·10⁻⁶ (1-5-1), 7·10⁻⁷ (1-10-1) and 2–3·10⁻⁷ (1-5-5-1): the small nets were undertrained, not too small. Adam at a fixed lr never settles — the loss spikes to 10⁻⁴–10⁻³ throughout. About 2 min with the numba engine (a few hundredths of a ms per epoch, tutorial 6); Ctrl-C keeps what was trained |
# | lr 0.05 | `scratchnn fit --lr 0.05` | every model ends lower than at 0.015 (1-5-1 7.6·10⁻³, 1-10-1 1.8·10⁻³, 1-5-5-1 6.1·10⁻⁵): 0.015 was cautious |
# | lr 0.5 | `scratchnn fit --lr 0.5` | too large: 1-10-1 and 1-5-5-1 saturate their tanh units and stick at loss ≈ 1; 1-5-1 oscillates |
