# %% [markdown]
# # 5. Why two correct engines disagree
#
# scratchnn and torch start from bit-identical weights, compute the same formulas, and agree on
# every single step to float32 rounding. Yet their loss curves part after a few hundred or thousand
# epochs. Both are right; this notebook shows why, and what "reproducible" can and cannot mean.

# %%
import os

QUICK = os.environ.get("SCRATCHNN_QUICK") == "1"

import matplotlib.pyplot as plt
import numpy as np
import torch

import scratchnn as sn
import torchref
from scratchnn.apps import workshop
from scratchnn.table import units_label
from scratchnn.teaching import plots

epochs = 60 if QUICK else 3000
X32, Y32 = sn.workshop_data(np.float32)
X64, Y64 = sn.workshop_data(np.float64)

torch.set_num_threads(1)  # one thread, as the bench pins it: on these tiny nets a second buys little (tutorial 6)
# %% [markdown]
# ## 5.1 Free-running: each engine trains on its own
# `torchref.compare` trains a scratchnn net and a torch copy side by side from the same weights and
# Adam state, and records both losses every epoch.

# %%
free = {}
for net in workshop.build_models():  # the workshop's three models, from one TorchGenerator(10)
    free[units_label(net.units)] = torchref.compare(net, X32, Y32, sn.Adam(net.theta, lr=0.015), epochs=epochs)
for label, c in free.items():
    sep = np.argmax(c.rel_gap > 1e-4) if (c.rel_gap > 1e-4).any() else None
    print(f"{label:>8}: final losses {c.loss_scratch[-1]:.4e} / {c.loss_torch[-1]:.4e}, "
          f"gap first above 1e-4 at epoch {sep}")

# %%
label = "1-5-5-1"
fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
plots.loss_figure({f"{label} scratch": free[label].loss_scratch, f"{label} torch": free[label].loss_torch},
                  title="free-running, float32", ax=axes[0])
axes[1].semilogy(np.maximum(free[label].rel_gap, 1e-9), lw=0.8, label="relative loss gap")
axes[1].semilogy(np.maximum(free[label].param_gap, 1e-9), lw=0.8, label="max |theta_scratch - theta_torch|")
axes[1].set(xlabel="epoch", title=f"{label}: how far apart")
axes[1].grid(alpha=0.3, which="both")
axes[1].legend()
plt.show()

# %% [markdown]
# The gap starts at one rounding unit ($\sim 10^{-7}$) and stays there for a while; then, typically
# when the fit moves fast (a drop or a spike of the loss), it grows by orders of magnitude within a few
# epochs (1-10-1 and 1-5-5-1 above; 1-5-1's gap instead climbs steadily over about a thousand epochs).
# The training dynamics are *chaotic* at those moments: two trajectories that start $10^{-7}$ apart
# separate exponentially. Neither engine is wrong — they simply round differently: torch sums in
# a blocked, vectorised order; NumPy's matmul and `mean` use another; the `tanh` implementations
# differ in the last bit.
#
# ## 5.2 Lockstep: every single step agrees
# With `resync_every=1`, after every epoch torch's parameters and Adam state are copied into scratchnn,
# so the gap measured is what *one* step adds — the engines' real disagreement.

# %%
lock = {}
for net in workshop.build_models():
    lock[units_label(net.units)] = torchref.compare(net, X32, Y32, sn.Adam(net.theta, lr=0.015),
                                                         epochs=min(epochs, 1000), resync_every=1)
for label, c in lock.items():
    print(f"{label:>8}: lockstep max relative loss gap {c.rel_gap.max():.1e}, max parameter gap {c.param_gap.max():.1e}")
plots.gap_figure({label: {"free-running": free[label].rel_gap, "lockstep": lock[label].rel_gap} for label in lock})

# %% [markdown]
# ## 5.3 float32 against float64
# float64 rounds $2^{29}$ times more finely. The engines then agree to $\sim 10^{-16}$ per step — but the
# separation is the same mechanism, so it only comes later, not never: the float64 gap of 1-5-5-1 stays
# at $\sim 10^{-16}$ (the curves equal to the last bit) for about 600 epochs, then, where the loss
# drops fast, jumps by about ten orders of magnitude within a few epochs, to $\sim 10^{-5}$ at its
# largest, and stays far above $10^{-16}$ after that; over more epochs it keeps growing.

# %%
net64 = workshop.build_models(dtype=np.float64)[2]  # the same 1-5-5-1, its weights drawn in float64
c64 = torchref.compare(net64, X64, Y64, sn.Adam(net64.theta, lr=0.015), epochs=min(epochs, 1000))
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.semilogy(np.maximum(free["1-5-5-1"].rel_gap[: len(c64.rel_gap)], 1e-17), lw=0.8, label="float32")
ax.semilogy(np.maximum(c64.rel_gap, 1e-17), lw=0.8, label="float64")
ax.set(xlabel="epoch", ylabel="|L_scratch - L_torch| / L_torch", title="1-5-5-1, free-running")
ax.grid(alpha=0.3, which="both")
ax.legend()
plt.show()
print(f"float64 gap: epoch 100 {c64.rel_gap[min(99, len(c64.rel_gap) - 1)]:.1e}, largest {c64.rel_gap.max():.1e}")

# %% [markdown]
# ## 5.4 What "reproducible" means here
# The workshop notebook's seeding cell:
# ```python
# torch.manual_seed(SEED)
# torch.backends.openmp.deterministic = True
# np.random.seed(SEED)
# ```
# * `torch.manual_seed` fixes the initial weights (and scratchnn's `TorchGenerator` replays them
#   without torch). `np.random.seed` fixes the test points.
# * `torch.backends.openmp.deterministic = True` **does nothing**: `torch.backends.openmp` has no
#   such setting (its only function is `is_available()`); the line creates a new attribute nobody
#   reads. The switch torch does have is `torch.use_deterministic_algorithms(True)`, and on the CPU it
#   changes nothing for these models — their operations are deterministic already.

# %%
print("torch.backends.openmp has 'deterministic' before the notebook sets it:",
      "deterministic" in vars(torch.backends.openmp))
print("public names of torch.backends.openmp:", [n for n in dir(torch.backends.openmp) if not n.startswith("_")])

# %% [markdown]
# What the seeds *do* give: the same program, same library versions, same machine and thread
# settings, reruns bit for bit. Let's check that, and what changes it:

# %%
def torch_run(threads, n_epochs=min(epochs, 1000)):
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = torchref.to_torch(workshop.build_models()[2])
        return torchref.fit(model, X32, Y32, epochs=n_epochs).loss
    finally:
        torch.set_num_threads(saved)


a, b = torch_run(1), torch_run(1)
print("torch, rerun with the same settings, identical:", np.array_equal(a, b))
c = torch_run(2)
print("torch, 1 thread against 2 threads, identical:", np.array_equal(a, c))
print(f"scratchnn against torch over {len(a)} epochs, identical:", np.array_equal(a, free["1-5-5-1"].loss_scratch[: len(a)]))

# %% [markdown]
# So "reproducible" means: *this* run, *this* software, *this* machine. It does **not** mean that
# another framework, another library version, another CPU (different vector instructions), another
# thread count for large tensors, or float64 will follow the same trajectory through thousands of
# epochs. Results that matter should survive that: compare final losses across seeds and engines
# (`scratchnn sweep`), not single trajectories — and compare implementations in lockstep, where
# agreement is a real test.
