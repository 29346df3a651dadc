"""Time the NumPy engine, the numba engine and torch eager on the same nets, side by side, against the floor.

    python -m bench [--quick | --workshop] [--out DIR] [--threads T] [--peers jax,sklearn | all]
                    [--fused] [--compile] [--million] [--scaling]
    python -m bench --play [--reps R]       the playground's retrain and redraw times (bench/play.py)

For every net in the grid (the workshop nets at n = 3000, the ninja row, a sweep over n and one
over width, a BLAS-bound net; ``--workshop``: the workshop nets and the ninja row), each engine
times: ``forward`` (forward pass and loss), ``backward`` (loss and gradients),
``step`` (one optimizer step) and ``epoch`` (one full-batch Adam epoch of the
training loop, from a fit of many epochs). Every engine trains ``sn.MLP(units,
dtype, generator=10)`` (tanh on every layer, the mean squared error) with Adam,
lr = ``LR`` (:mod:`bench.config`); the ninja row (group ``ninja``: 1-32-32-1, n = 3000, float32)
adds batch norm and dropout 0.1 to every hidden layer and trains with AdamW (torch: the same
``nn.Sequential`` with ``BatchNorm1d`` and ``Dropout``, in training mode; the peers skip it). Fairness:

- every library is pinned to ``--threads`` threads (torch.set_num_threads,
  numba.set_num_threads, BLAS through threadpoolctl, JAX through ``PJRT_NPROC``);
- one warm-up call per engine and operation is discarded (numba's compile or
  cache load, JAX's compile, are reported separately, as ``compile_seconds``);
- engines are interleaved within each repetition, so a slow spell of the
  machine hits all of them; each entry is the median of the repetitions, with min and max.

Peers (``--peers``, :mod:`bench.peers`; the ``peers`` extra) time the epoch only:
``jax scan`` (the whole fit jitted as one ``lax.scan`` over epochs, compiled for
the number of epochs it times), ``jax step`` (one jitted epoch called from Python
each epoch) and ``sklearn`` (``MLPRegressor``, full-batch Adam, fit time / epochs;
not our model: its differences are printed with the table). Before timing, the
JAX peers must pass a guard on every net: from scratchnn's θ, their losses over
10 epochs equal the NumPy engine's within 8 ε of the dtype (``peers.guard``); a
failure stops the bench with an error, before anything is timed.

The floor (:mod:`bench.floor`) is a lower bound on an epoch's time on this machine::

    floor = F / peak + T c_tanh

F counts the epoch's floating-point operations (the matrix products of the
forward pass and of D^j and δ^j, 2 n u^{j+1}(u^j + 1) each; the loss; δ^L and
g' = 1 - a²; 13 per parameter for Adam); peak is the FLOP/s the bench measures
for ``np.dot`` of two 1024 x 1024 matrices of the dtype on its threads (a BLAS
matmul, the best of 5); T = n Σ_{j>=1} u^j tanh values, at c_tanh, the seconds
per value of the numba engine's vectorized tanh (``elementwise.g_vector``) on
2^20 values. It ignores memory traffic, loop and call overhead, and prices
element-wise work at the matmul's rate, so no engine reaches it (XLA's float64
tanh is cheaper than numba's, the one caveat: see bench/floor.py): the second
table gives each engine's epoch as a multiple of it.

Writes ``DIR/bench.json`` (every sample, the machine, the library versions and
thread settings, the guard's differences, the floor and its parts per net, and
each epoch row's ``floor_multiple``), ``DIR/epoch_vs_n.png`` and
``DIR/epoch_vs_width.png``, and prints a table whose ratios are torch's time over
each engine's (above 1: faster than torch), then the floor table.
``--million`` adds the notebook's 1,000,000-epoch 1-5-1 fit with the numba engine;
``--scaling --threads 2`` the numba engine's speedup from threads on large batches.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

import scratchnn as sn
from scratchnn.fast import engine as fast_engine
from scratchnn.table import format_table, units_label

from . import floor as floor_
from . import peers
from .config import LR

OPS = ("forward", "backward", "step", "epoch")


NINJA = "ninja"  # the group of the backprop-ninja row: batch norm and dropout on every hidden layer, AdamW
NINJA_NET = {"norm": "batch", "dropout": 0.1}


def grid(quick, workshop=False):
    """The (name, units, n, dtype) configurations to time (``workshop``: the three workshop nets only, and the
    ninja row: 1-32-32-1 tanh with batch norm and dropout 0.1, full-batch AdamW, float32)."""
    configs = []
    for units in ([1, 5, 1], [1, 10, 1], [1, 5, 5, 1]):
        for dtype in (np.float32, np.float64):
            configs.append(("workshop", units, 3000, dtype))
    configs.append((NINJA, [1, 32, 32, 1], 3000, np.float32))
    if workshop:
        return configs
    ns = (1000, 10_000) if quick else (300, 1000, 3000, 10_000, 30_000, 100_000)
    configs += [("vs n", [1, 32, 32, 1], n, np.float32) for n in ns]
    widths = (8, 64) if quick else (4, 16, 64, 128, 256, 512)
    configs += [("vs width", [1, w, w, 1], 10_000, np.float32) for w in widths]
    if not quick:
        configs.append(("blas", [8, 256, 256, 1], 10_000, np.float32))
    return configs


def data(units, n, dtype):
    """Inputs in [0, 1] and a smooth target, as the workshop's (the workshop's own data at n = 3000, 1 input)."""
    if units[0] == 1 and units[-1] == 1 and n == 3000:
        X, Y = sn.workshop_data()
        return X.astype(dtype), Y.astype(dtype)
    rng = np.random.default_rng(0)
    X = rng.random((n, units[0])).astype(dtype)
    Y = np.sin(3 * X.sum(axis=1, keepdims=True)).repeat(units[-1], axis=1).astype(dtype)
    return X, Y


def clock(fn, repeat):
    """Seconds per call of ``fn`` over ``repeat`` calls."""
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


# ------------------------------------------------------------------------ the engines
class NumpyEngine:
    name = "numpy"

    def __init__(self, units, X, Y, dtype, ninja=False):
        # the ninja row: batch norm and dropout (NINJA_NET), trained with AdamW; else the plain net with Adam
        self.net = sn.MLP(units, dtype=dtype, generator=10, **(NINJA_NET if ninja else {}))
        self.X, self.Y = X, Y
        self.opt = (sn.AdamW if ninja else sn.Adam)(self.net.params, lr=LR)
        self.D = self.net.loss_and_grad(X, Y)[1]

    def op(self, name):
        net, X, Y = self.net, self.X, self.Y
        return {
            "forward": lambda: net.loss(X, Y),
            "backward": lambda: net.loss_and_grad(X, Y),
            "step": lambda: self.opt.step(self.D),
        }[name]

    def epochs(self, k):
        """Seconds per epoch of a k-epoch fit, and the compile seconds it reported."""
        h = sn.fit(self.net, self.X, self.Y, self.opt, epochs=k, engine=self.name)
        return h.seconds / k, h.compile_seconds


class NumbaEngine(NumpyEngine):
    name = "numba"

    def op(self, name):
        # packed once, as inside a fit: what is timed is the compiled step or pass, not the packing
        if name == "step":
            return fast_engine.prepare_step(self.net, self.opt)
        return fast_engine.prepare_loss_and_grad(self.net, self.X, self.Y, backward=name == "backward")


class TorchEngine:
    name = "torch"

    def __init__(self, units, X, Y, dtype, fused=False, compiled=False, ninja=False):
        import torch

        import torchref

        self.torch = torch
        self.model = torchref.to_torch(sn.MLP(units, dtype=dtype, generator=10, **(NINJA_NET if ninja else {})))
        self.forward_model = torch.compile(self.model) if compiled else self.model
        self.X, self.Y = torch.from_numpy(X), torch.from_numpy(Y)
        optimizer = torch.optim.AdamW if ninja else torch.optim.Adam
        self.opt = optimizer(self.model.parameters(), lr=LR, fused=fused or None)
        self.loss_fn = torch.nn.MSELoss()
        self.name = "torch" + (" fused" if fused else "") + (" compile" if compiled else "")

    def _loss_and_grad(self):
        self.opt.zero_grad()
        loss = self.loss_fn(self.forward_model(self.X), self.Y)
        loss.backward()
        return loss.item()

    def op(self, name):
        torch = self.torch
        if name == "forward":

            def forward():
                with torch.no_grad():
                    return self.loss_fn(self.forward_model(self.X), self.Y).item()

            return forward
        if name == "backward":
            return self._loss_and_grad
        self._loss_and_grad()
        return self.opt.step

    def epochs(self, k):
        """The notebook's loop: forward, zero_grad, loss, record, backward, step."""
        start = time.perf_counter()
        losses = []
        for _ in range(k):
            pred = self.forward_model(self.X)
            self.opt.zero_grad()
            loss = self.loss_fn(pred, self.Y)
            losses.append(loss.item())
            loss.backward()
            self.opt.step()
        return (time.perf_counter() - start) / k, 0.0


# ---------------------------------------------------------------------- measurement
def pin_threads(threads):
    """Pin every library to ``threads`` threads; returns what was set (for the JSON)."""
    import numba
    from threadpoolctl import threadpool_info, threadpool_limits

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    limiter = threadpool_limits(threads)
    settings = {"numba": numba.get_num_threads(), "blas": [
        {"library": i.get("internal_api"), "path": os.path.basename(i.get("filepath", "")), "threads": i.get("num_threads")}
        for i in threadpool_info()
    ]}
    try:
        import torch

        torch.set_num_threads(threads)
        settings["torch"] = torch.get_num_threads()
    except ImportError:
        pass
    return limiter, settings


def machine():
    import numba

    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "scratchnn": sn.__version__,
    }
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    for peer in ("jax", "jaxlib", "sklearn"):  # the peers' libraries, when the bench imported them
        if sys.modules.get(peer) is not None:
            info[peer] = sys.modules[peer].__version__
    return info


def measure(config, engines, reps, target):
    """Median/min/max seconds of every op of every engine for one configuration, engines interleaved.

    An engine without ``op`` (a peer) times the epoch only.
    """
    group, units, n, dtype = config
    X, Y = data(units, n, dtype)
    compile_seconds = {}
    calls = {}
    built = []
    for cls, kw in engines:  # warm-ups, discarded; they also size each measurement to ~target seconds
        if group == NINJA:
            if cls not in (NumpyEngine, NumbaEngine, TorchEngine):
                continue  # the peers train the plain net only
            kw = {**kw, "ninja": True}
        try:
            e = cls(units, X, Y, dtype, **kw)
            for op in _ops(e)[:-1]:
                fn = e.op(op)
                clock(fn, 1)
                calls[(e.name, op)] = (fn, max(1, int(target / max(clock(fn, 1), 1e-7))))
            _, first_compile = e.epochs(2)  # numba's compile or cache load; jax's compile for 2 epochs
            per_epoch, _ = e.epochs(2)
            k = max(2, int(target / max(per_epoch, 1e-7)))
            # at the timed length too: jax scan compiles a program for each number of epochs
            _, compile_k = e.epochs(k)
            calls[(e.name, "epoch")] = k
            compile_seconds[e.name] = compile_k or first_compile  # the compile of the program timed
        except Exception as exc:  # an optional torch variant (torch.compile, fused Adam) may be unavailable here
            if cls is not TorchEngine or not kw:
                raise
            print(f"  skipped torch {kw}: {type(exc).__name__}: {str(exc)[:200]}", file=sys.stderr)
            continue
        built.append(e)
    samples = {(e.name, op): [] for e in built for op in _ops(e)}
    for _ in range(reps):
        for e in built:
            for op in _ops(e)[:-1]:
                fn, repeat = calls[(e.name, op)]
                samples[(e.name, op)].append(clock(fn, repeat))
            samples[(e.name, "epoch")].append(e.epochs(calls[(e.name, "epoch")])[0])
    rows = []
    for (engine, op), s in samples.items():
        rows.append({
            "group": group, "units": units, "n": n, "dtype": np.dtype(dtype).name, "engine": engine, "op": op,
            "median": statistics.median(s), "min": min(s), "max": max(s), "samples": s,
            "compile_seconds": compile_seconds.get(engine, 0.0) if op == "epoch" else 0.0,
        })
    return rows


def _ops(engine):
    """The ops an engine times: all of OPS, or the epoch only for an engine without per-op timings (a peer)."""
    return OPS if hasattr(engine, "op") else ("epoch",)


def table(rows):
    """The terminal table: per configuration and op, each engine's median and torch's time over it."""
    engines = list(dict.fromkeys(r["engine"] for r in rows))
    keyed = {}
    for r in rows:
        keyed.setdefault((r["group"], units_label(r["units"]), r["n"], r["dtype"], r["op"]), {})[r["engine"]] = r["median"]
    lines = [["group", "net", "n", "dtype", "op"] + engines]
    for key, times in keyed.items():
        ref = times.get("torch")
        cells = []
        for e in engines:
            t = times.get(e)
            if t is None:
                cells.append("-")
            elif ref is None or e == "torch":
                cells.append(f"{t * 1e6:.1f} us       ")
            else:
                cells.append(f"{t * 1e6:.1f} us {ref / t:>5.1f}x")
        lines.append(list(key) + cells)
    return (format_table(lines, left=(0, 1, 3, 4))
            + "\ntimes are medians per call; Nx = torch's time / this engine's (above 1: faster than torch)")


def floors(configs, rates):
    """The floor and its parts (:func:`bench.floor.floor`) for every configuration, in the JSON's form."""
    out = []
    for group, units, n, dtype in configs:
        name = np.dtype(dtype).name
        out.append({"group": group, "units": units, "n": n, "dtype": name, **floor_.floor(units, n, rates[name])})
    return out


def floor_table(rows, floor_rows, rates, threads):
    """The second table: per configuration, the floor and each engine's epoch as a multiple of it (the rows' ``floor_multiple``)."""
    engines = list(dict.fromkeys(r["engine"] for r in rows if r["op"] == "epoch"))
    multiple = {(r["group"], units_label(r["units"]), r["n"], r["dtype"], r["engine"]): r["floor_multiple"]
                for r in rows if r["op"] == "epoch"}
    lines = [["group", "net", "n", "dtype", "floor", "tanh part"] + engines]
    for f in floor_rows:
        key = (f["group"], units_label(f["units"]), f["n"], f["dtype"])
        multiples = [f"{multiple[key + (e,)]:.1f}x" if key + (e,) in multiple else "-" for e in engines]
        lines.append(list(key) + [f"{f['seconds'] * 1e6:.1f} us", f"{f['tanh_seconds'] / f['seconds']:.0%}"]
                     + multiples)
    rate_lines = [f"  {d}: peak {r['peak_flops'] / 1e9:.1f} GFLOP/s (np.dot 1024x1024, {threads} thread(s)), "
                  f"numba tanh {r['tanh_seconds'] * 1e9:.2f} ns per value" for d, r in rates.items()]
    return "\n".join(
        ["epoch, multiple of the floor (floor = flops / peak + tanh values x tanh cost, a lower bound; bench/floor.py)",
         format_table(lines, left=(0, 1, 3)), *rate_lines]
    )


def compile_line(rows):
    """Each engine's compile seconds, min-max over the nets it compiled for (numba: once per dtype; jax: every net)."""
    spans = {}
    for r in rows:
        if r["op"] == "epoch" and r["compile_seconds"] > 0:
            spans.setdefault(r["engine"], []).append(r["compile_seconds"])
    if not spans:
        return ""
    return ("compile (or cache load) seconds, min-max over the nets that compiled, not in the times above: "
            + ", ".join(f"{e} {min(s):.2f}-{max(s):.2f}" for e, s in spans.items()))


def figures(rows, out):
    """epoch time vs n and vs width, log-log, one line per engine (Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for group, xkey, xlabel, fname in (("vs n", "n", "data points n", "epoch_vs_n.png"),
                                       ("vs width", "width", "hidden width u (net 1-u-u-1)", "epoch_vs_width.png")):
        sel = [r for r in rows if r["group"] == group and r["op"] == "epoch"]
        if not sel:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        for engine in dict.fromkeys(r["engine"] for r in sel):
            pts = sorted((r["n"] if xkey == "n" else r["units"][1], r["median"]) for r in sel if r["engine"] == engine)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=engine)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("seconds per epoch (full batch, Adam)")
        net = "1-32-32-1" if xkey == "n" else f"n = {sel[0]['n']}"
        ax.set_title(f"time per epoch {group} ({net}, {sel[0]['dtype']})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = os.path.join(out, fname)
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def million(threads):
    """The notebook's suggestion: 1,000,000 epochs of the 1-5-1 model (float32, Adam lr 0.015), numba engine."""
    X, Y = sn.workshop_data()
    net = sn.MLP([1, 5, 1], generator=10)
    h = sn.fit(net, X, Y, sn.Adam(net.theta, lr=0.015), epochs=1_000_000, engine="numba")
    return {"epochs": 1_000_000, "seconds": h.seconds, "compile_seconds": h.compile_seconds,
            "final_loss": float(h.loss[-1]), "threads": threads}


def scaling(max_threads, quick, reps):
    """The numba engine's epoch time on large batches with 1 .. max_threads threads (interleaved), and the speedup."""
    import numba

    configs = [([1, 32, 32, 1], 30_000 if quick else 100_000), ([8, 256, 256, 1], 3_000 if quick else 10_000)]
    counts = list(range(1, min(max_threads, numba.config.NUMBA_NUM_THREADS) + 1))
    samples = {}
    for _ in range(reps):
        for units, n in configs:
            X, Y = data(units, n, np.float32)
            for threads in counts:
                numba.set_num_threads(threads)
                net = sn.MLP(units, generator=10)
                h = sn.fit(net, X, Y, sn.Adam(net.theta, lr=LR), epochs=3, engine="numba")
                samples.setdefault((str(units), n, threads), []).append(h.seconds / 3)
    numba.set_num_threads(max(counts))
    rows = []
    for (units, n, threads), s in samples.items():
        one = statistics.median(samples[(units, n, 1)])
        rows.append({"units": json.loads(units), "n": n, "threads": threads, "median": statistics.median(s),
                     "min": min(s), "max": max(s), "samples": s, "speedup": one / statistics.median(s)})
    return rows


def parse_peers(parser, text, choices):
    """``--peers``: a comma-separated list of ``choices``, or ``all``."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    if names == ["all"]:
        return list(choices)
    unknown = [p for p in names if p not in choices]
    if unknown:
        parser.error(f"--peers: unknown peer {unknown[0]!r}; expected a comma-separated list of "
                     f"{', '.join(choices)}, or all")
    return list(dict.fromkeys(names))


def run_guard(configs, limiter):
    """Run :func:`bench.peers.guard` on every configuration; exits with the error at the first failure.

    Returns one entry per configuration: the largest relative difference per JAX peer, and the tolerance.
    """
    out = []
    for group, units, n, dtype in configs:
        X, Y = data(units, n, dtype)
        try:
            worst = peers.guard(units, X, Y, dtype)
        except peers.GuardError as exc:
            limiter.restore_original_limits()
            sys.exit(f"bench: the JAX peers failed their correctness guard and are not timed (nothing is):\n  {exc}")
        out.append({"group": group, "units": units, "n": n, "dtype": np.dtype(dtype).name,
                    "max_rel_diff": worst, "rtol": peers.guard_rtol(dtype)})
    print(f"  guard passed: the jax peers' losses equal the numpy engine's on {len(out)} nets", file=sys.stderr)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small grid and few repetitions (well under a minute)")
    parser.add_argument("--out", default="bench-out", help="folder for bench.json and the figures (default bench-out)")
    parser.add_argument("--threads", type=int, default=1, help="threads for every library (default 1)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per measurement (default 5, quick 3)")
    parser.add_argument("--fused", action="store_true", help="also time torch with Adam(fused=True)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd models (slow to compile)")
    parser.add_argument("--no-torch", action="store_true", help="time the NumPy and numba engines only")
    parser.add_argument("--million", action="store_true", help="also time the 1,000,000-epoch 1-5-1 fit (numba)")
    parser.add_argument("--play", action="store_true",
                        help="only the play latency: the workshop nets' retrain and redraw as scratchnn play runs them")
    parser.add_argument("--scaling", action="store_true",
                        help="also time the numba engine on large batches with 1 .. --threads threads")
    parser.add_argument("--workshop", action="store_true", help="only the three workshop nets, float32 and float64")
    parser.add_argument("--peers", default="", metavar="jax,sklearn|all",
                        help="also time these peers' epoch (bench/peers.py; pip install -e '.[peers]')")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads: expected an int >= 1")
    peer_names = parse_peers(parser, args.peers, peers.PEERS)
    os.makedirs(args.out, exist_ok=True)
    ready = []
    if peer_names and not args.play:
        ready = peers.setup(peer_names, args.threads)  # before pin_threads, so the BLAS they load is pinned too
    limiter, threads = pin_threads(args.threads)
    if "jax" in ready:
        threads["jax"] = peers.jax_settings()
    if args.play:
        from . import play

        rows = play.latency(reps=args.reps or 5)
        result = {"machine": machine(), "threads": threads, "play": rows}
        with open(os.path.join(args.out, "play.json"), "w") as f:
            json.dump(result, f, indent=1)
        print(f"play latency ({args.threads} thread(s)):\n{play.table(rows)}")
        print(f"wrote {os.path.join(args.out, 'play.json')}")
        limiter.restore_original_limits()
        return result
    engines = [(NumpyEngine, {}), (NumbaEngine, {})]
    have_torch = False
    if not args.no_torch:
        try:
            import torch  # noqa: F401

            have_torch = True
        except ImportError:
            print("torch is not installed: timing the NumPy and numba engines only", file=sys.stderr)
    if have_torch:
        engines.append((TorchEngine, {}))
        if args.fused:
            engines.append((TorchEngine, {"fused": True}))
        if args.compile:
            engines.append((TorchEngine, {"compiled": True}))
    engines += [(cls, {}) for name in ready for cls in peers.ENGINES[name]]
    configs = grid(args.quick, args.workshop)
    guard = run_guard([c for c in configs if c[0] != NINJA], limiter) if "jax" in ready else None
    rates = floor_.machine(list(dict.fromkeys(np.dtype(c[3]) for c in configs)), args.threads)
    reps = args.reps or (3 if args.quick else 5)
    target = 0.01 if args.quick else 0.05
    rows = []
    start = time.perf_counter()
    for config in configs:
        rows += measure(config, engines, reps, target)
        print(f"  timed {config[0]} {config[1]} n={config[2]} {np.dtype(config[3]).name}", file=sys.stderr, flush=True)
    floor_rows = floors(configs, rates)
    by_config = {(f["group"], str(f["units"]), f["n"], f["dtype"]): f["seconds"] for f in floor_rows}
    for r in rows:
        if r["op"] == "epoch":
            r["floor_multiple"] = r["median"] / by_config[(r["group"], str(r["units"]), r["n"], r["dtype"])]
    result = {"machine": machine(), "threads": threads, "quick": args.quick, "workshop": args.workshop, "reps": reps,
              "seconds": time.perf_counter() - start, "peers": ready, "guard": guard,
              "floor": {"method": floor_.METHOD, "rates": rates, "configs": floor_rows}, "rows": rows}
    if args.million:
        result["million"] = million(args.threads)
    if args.scaling:
        result["scaling"] = scaling(args.threads, args.quick, reps)
    with open(os.path.join(args.out, "bench.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(table(rows))
    print()
    print(floor_table(rows, floor_rows, rates, args.threads))
    compiled = compile_line(rows)
    if compiled:
        print(compiled)
    if guard:
        worst = max(max(g["max_rel_diff"].values()) / np.finfo(g["dtype"]).eps for g in guard)
        rtol = guard[0]["rtol"] / np.finfo(guard[0]["dtype"]).eps
        print(f"jax peers' guard: their losses over {peers.GUARD_EPOCHS} epochs equal the numpy engine's on every net, "
              f"the largest relative difference {worst:.1f} eps of the dtype (tolerance {rtol:.0f} eps)")
    if "sklearn" in ready:
        print("\n".join(peers.SKLEARN_DIFFERS))
    if args.million:
        m = result["million"]
        print(f"1,000,000 epochs of 1-5-1 (float32, numba, {args.threads} thread(s)): {m['seconds']:.1f} s "
              f"(+ {m['compile_seconds']:.1f} s compile/cache load), final loss {m['final_loss']:.3g}")
    for r in result.get("scaling", []):
        net = units_label(r["units"])
        print(f"numba epoch, {net} n={r['n']}, {r['threads']} thread(s): {r['median'] * 1e3:.2f} ms "
              f"(speedup over 1 thread {r['speedup']:.2f}x)")
    for path in figures(rows, args.out):
        print(f"wrote {path}")
    print(f"wrote {os.path.join(args.out, 'bench.json')}")
    limiter.restore_original_limits()
    return result


if __name__ == "__main__":
    main()
