# %% [markdown]
# # 6. Timing scratch against torch
#
# On the workshop's nets — at most 46 parameters, 3000 points — scratchnn's NumPy engine is faster
# per epoch than torch, and its numba engine faster still. Why? For a tiny net the arithmetic is a
# few hundred thousand floating-point operations per epoch: microseconds. What costs time is what
# surrounds each operation. This notebook measures where the time goes.

# %%
import os
import time

QUICK = os.environ.get("SCRATCHNN_QUICK") == "1"

import numpy as np
import torch

import scratchnn as sn
import torchref
from scratchnn.apps import workshop
from scratchnn import fast
from scratchnn.table import units_label
from scratchnn.teaching import plots

X, Y = sn.workshop_data()
epochs = 50 if QUICK else 500
torch.set_num_threads(1)  # a tiny net gains nothing from a second thread (see below)


def ms_per_epoch(history):
    return 1e3 * (history.seconds - history.compile_seconds) / history.epochs

# %% [markdown]
# ## 6.1 Time per epoch, three engines
# The numba engine (`engine="numba"`, package `scratchnn.fast`) is used when it is installed and works.
# The figure draws the table (log scale: the engines are an order of magnitude apart); above each numpy
# and numba bar, torch's time divided by the engine's, both measured in this one run.

# %%
engines = ["numpy"] + (["numba"] if fast.default_engine() == "numba" else [])
ms = {}  # model -> ms per epoch, one per engine (kept for the floor, 6.5)
print(f"{'model':>8} " + " ".join(f"{e:>12}" for e in engines + ["torch"]) + "   (ms per epoch)")
for net in workshop.build_models():
    row = ms[units_label(net.units)] = []
    for engine in engines:
        n = net.copy()
        sn.fit(n, X, Y, sn.Adam(n.theta, lr=0.015), epochs=2, engine=engine)  # warm up (numba compiles here)
        n = net.copy()
        row.append(ms_per_epoch(sn.fit(n, X, Y, sn.Adam(n.theta, lr=0.015), epochs=epochs, engine=engine)))
    model = torchref.to_torch(net)
    row.append(ms_per_epoch(torchref.fit(model, X, Y, epochs=epochs)))
    print(f"{units_label(net.units):>8} " + " ".join(f"{t:12.3f}" for t in row))
plots.timing_figure({label: dict(zip(engines + ["torch"], row)) for label, row in ms.items()})

# %% [markdown]
# ## 6.2 Where torch's time goes
# `torch.profiler` over 50 epochs of 1-5-5-1, sorted by *self* CPU time. Near the top: Adam's
# `step` itself — for six small parameter tensors it runs a Python loop of small tensor operations —
# then `tanh` and the matmuls (`mm`, `addmm`), where the arithmetic actually happens. Below them come
# operators called hundreds to thousands of times that do almost no arithmetic (`copy_`, `_to_copy`, `t`,
# the autograd nodes such as `AddmmBackward0`), a few microseconds or less each: every operator goes through
# torch's dispatcher (argument checks, dtype and device dispatch, autograd bookkeeping) before any arithmetic.

# %%
from torch.profiler import ProfilerActivity, profile

model = torchref.to_torch(workshop.build_models()[2])
opt = torch.optim.Adam(model.parameters(), lr=0.015)
torchref.fit(model, X, Y, opt, epochs=5)  # warm up
with profile(activities=[ProfilerActivity.CPU]) as prof:
    torchref.fit(model, X, Y, opt, epochs=10 if QUICK else 50)
print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))

# %% [markdown]
# ## 6.3 Where NumPy's time goes: per-operation timing
# The same epoch in scratchnn's NumPy engine, one operation at a time.

# %%
net = workshop.build_models()[2]
trace = net.forward_trace(X)


def timed(f, repeat=200 if not QUICK else 20):
    f()
    t = time.perf_counter()
    for _ in range(repeat):
        f()
    return 1e6 * (time.perf_counter() - t) / repeat


a1, t1 = trace.a[1], net.theta[1]
parts = {
    "forward_trace (whole)": lambda: net.forward_trace(X),
    "  one matmul a^1 (theta^1)^T": lambda: a1 @ t1.T,
    "  one tanh on (3000, 5)": lambda: np.tanh(trace.z[1]),
    "  one bias-unit concat": lambda: np.hstack([np.ones((3000, 1), np.float32), trace.z[1]]),
    "backward (whole)": lambda: net.backward(trace, Y),
}
D = net.backward(trace, Y)[1]
adam = sn.Adam([t.copy() for t in net.theta], lr=0.015)
parts["Adam step"] = lambda: adam.step(D)
for name, f in parts.items():
    print(f"{name:<32} {timed(f):8.1f} us")

# %% [markdown]
# NumPy also pays a per-call price (a few microseconds to parse arguments and allocate the result),
# but scratchnn makes fewer calls: no autograd graph is recorded, the gradient of each layer is one
# matmul, and Adam updates each $\theta^j$ — bias and weights together — as one array.
#
# The same split, engine beside engine: each model trained for `epochs` epochs of full-batch Adam, each
# epoch timed in three phases — the forward pass with the loss, the backward pass (torch's includes
# `zero_grad`), the optimizer step. scratchnn's phases are the public `forward_trace` and `backward`,
# which check their arguments (`fit` skips that). The sums are a second measurement of 6.1's times and
# differ from them by the spread between runs; compare the engines within one figure. The numba engine
# runs the whole epoch as one compiled call, which cannot be split: its bar is its time per epoch,
# measured here beside the other two.

# %%
Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
PHASES = ("forward + loss", "backward", "Adam step")


def phases_numpy(net):
    """ms per epoch in each phase of scratchnn's NumPy epoch (fit's loop, written out)."""
    adam = sn.Adam(net.theta, lr=0.015)
    seconds = np.zeros(3)
    for _ in range(epochs):
        t0 = time.perf_counter()
        trace = net.forward_trace(X)
        float(sn.losses.mse(trace.output, Y))
        t1 = time.perf_counter()
        _, D = net.backward(trace, Y)
        t2 = time.perf_counter()
        adam.step(D)
        seconds += np.diff([t0, t1, t2, time.perf_counter()])
    return dict(zip(PHASES, 1e3 * seconds / epochs))


def phases_torch(model):
    """ms per epoch in each phase of the workshop's torch epoch (torchref.fit's loop, written out)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.015)
    mse = torch.nn.MSELoss()
    seconds = np.zeros(3)
    for _ in range(epochs):
        t0 = time.perf_counter()
        loss = mse(model(Xt), Yt)
        loss.item()
        t1 = time.perf_counter()
        optimizer.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        optimizer.step()
        seconds += np.diff([t0, t1, t2, time.perf_counter()])
    return dict(zip(PHASES, 1e3 * seconds / epochs))


phases = {}  # model -> engine -> {phase: ms per epoch}
print(f"{'model':>8} {'engine':>6} " + " ".join(f"{p:>14}" for p in PHASES) + f" {'sum':>7}   (ms per epoch)")
for net in workshop.build_models():
    row = phases[units_label(net.units)] = {}
    phases_numpy(net.copy())  # warm up
    row["numpy"] = phases_numpy(net.copy())
    if "numba" in engines:
        n = net.copy()
        h = sn.fit(n, X, Y, sn.Adam(n.theta, lr=0.015), epochs=epochs, engine="numba")
        row["numba"] = {"whole epoch (fused)": ms_per_epoch(h)}
    phases_torch(torchref.to_torch(net))  # warm up
    row["torch"] = phases_torch(torchref.to_torch(net))
    for engine, parts in row.items():
        cells = [f"{parts[p]:14.3f}" if p in parts else f"{'':>14}" for p in PHASES]
        print(f"{units_label(net.units):>8} {engine:>6} " + " ".join(cells) + f" {sum(parts.values()):7.3f}")
plots.timing_figure(operations=phases)

# %% [markdown]
# ## 6.4 What the numba engine does instead
# `scratchnn.fast` compiles the whole epoch — forward, backward and the optimizer step — into one
# machine-code function, and runs the epoch loop inside it. There is no Python between operations,
# no temporary arrays (the activations and deltas live in buffers allocated once, the points along
# their rows), and the loops over the points are fused where they can be: each unit's row of $z$ is
# put through $g$ while it is in the L1 cache, and each row of $\delta^1$ goes into $D^0$ as it is
# made. For a tiny net this removes nearly all the overhead that dominates above. It keeps the
# textbook engine's names and semantics (the same loss curve to rounding).
#
# For large nets the picture turns: the matmuls dominate, and torch's (and NumPy's) BLAS wins. The
# crossover and the scaling with width and batch size are measured by the benchmark harness `bench/`
# (run `python -m bench` from the repository root; it writes its figures to `bench-out/`). If those
# figures exist, they are shown below.

# %%
from IPython.display import Image, display

bench_out = os.path.join(os.path.dirname(os.getcwd()), "bench-out")
figures = sorted(f for f in os.listdir(bench_out) if f.endswith(".png")) if os.path.isdir(bench_out) else []
for f in figures:
    display(Image(os.path.join(bench_out, f)))
print(f"{len(figures)} bench figure(s) found in {bench_out}" if figures else "no bench figures yet: run python -m bench")

# %% [markdown]
# ## 6.5 The floor: how fast could an epoch be?
# Count the arithmetic of one epoch and divide it by the fastest rate at which this machine does
# arithmetic: none of these engines can run an epoch in less time. That is the bench's *floor*
# (`bench/floor.py`, used by `python -m bench`):
#
# $$\text{floor} = \frac{F}{\text{peak}} + T \, c_{\tanh}$$
#
# - $F$, the floating-point operations of an epoch: the matrix products of the forward pass, of
#   $D^j = (\delta^{j+1})^T a^j$ and of $\delta^j$, $2 n u^{j+1} (u^j + 1)$ each (a multiply-add is 2);
#   the loss, $\delta^L$ and $g' = 1 - a^2$, a few per unit and point; Adam's update, 13 per parameter;
# - peak, the FLOP/s of a large matrix product (`np.dot` of two 1024 × 1024 float32 matrices, one
#   thread): every multiply-add fused and vectorized, the operands in cache;
# - $T = n \sum_{j \ge 1} u^j$ tanh values per epoch (the output's too), at $c_{\tanh}$, the cost per
#   value of the numba engine's own vectorized tanh, timed on a million values.
#
# It is a lower bound, not a target. It counts no memory traffic (every $a^j$, $z^j$, $\delta^j$ is
# written and read back each epoch), no loop or call overhead (what 6.2 and 6.3 measured), and it
# prices element-wise work at the matrix product's rate. And the sizes are tiny: a product with 5
# or 10 columns cannot keep the vector units busy as a 1024 × 1024 one does. Below, each engine's
# time per epoch from 6.1 as a multiple of the floor: the numba engine, with no overhead between
# operations, comes within a small multiple of it; NumPy and torch, whose time is overhead, are
# many times above.

# %%
import sys

sys.path.insert(0, os.path.dirname(os.getcwd()))  # the repository root: bench/ is not installed with scratchnn
from bench import floor

rates = floor.machine([np.float32], threads=1)["float32"]
print(f"peak {rates['peak_flops'] / 1e9:.0f} GFLOP/s (np.dot 1024 x 1024, 1 thread), "
      f"numba tanh {rates['tanh_seconds'] * 1e9:.2f} ns per value")
print(f"{'model':>8} {'flops':>8} {'tanh':>6} {'floor us':>9} " + " ".join(f"{e:>7}" for e in engines + ["torch"])
      + "   (x floor)")
for net in workshop.build_models():
    f = floor.floor(net.units, len(X), rates)
    label = units_label(net.units)
    multiples = " ".join(f"{t * 1e-3 / f['seconds']:6.1f}x" for t in ms[label])
    print(f"{label:>8} {f['flops']:8d} {f['tanh_count']:6d} {f['seconds'] * 1e6:9.1f} {multiples}")

# %% [markdown]
# ## 6.6 Threads
# On a tiny net a second thread buys little or nothing: the two timings below are close, their difference
# of the order of the spread between reruns of one setting. On a busy machine it can be worse: torch's
# worker threads wait for a free core at every operator.

# %%
net = workshop.build_models()[2]
for threads in (1, 2):
    torch.set_num_threads(threads)
    h = torchref.fit(torchref.to_torch(net), X, Y, epochs=epochs)
    print(f"torch, {threads} thread(s): {ms_per_epoch(h):.3f} ms per epoch")
torch.set_num_threads(1)
