r"""The peers a user might pick instead of scratchnn, timed by ``python -m bench --peers jax,sklearn``.

Each peer is an engine of :mod:`bench.run` that times the ``epoch`` op only (one
full-batch epoch of a many-epoch fit; no per-op timings): ``name``,
``__init__(units, X, Y, dtype)``, ``epochs(k)`` -> (seconds per epoch, compile seconds).
Their libraries are the ``peers`` extra (``pip install -e '.[peers]'``);
:func:`setup` imports them, and a missing one is skipped with that message.

``jax scan``: the whole k-epoch fit as one jitted ``jax.lax.scan`` over epochs.
``jax step``: one jitted epoch (loss, gradient, Adam update) called once per epoch from Python.
Both train exactly the bench's model, ``sn.MLP(units, dtype, generator=10)``: tanh
on every layer (the output too: scratchnn's default, the workshop's model),
the mean squared error, and Adam as :mod:`scratchnn.optimizers` writes it
(torch's), all in the workshop's notation (:class:`JaxModel`). :func:`guard`
checks that against the NumPy engine before the bench times them.

``sklearn``: ``MLPRegressor`` full batch with Adam. Not our model; where it differs
is :data:`SKLEARN_DIFFERS` (read in scikit-learn 1.9's ``neural_network`` source).

Threads (set by :func:`setup` before JAX is first imported, since XLA reads them
when its CPU client starts): ``PJRT_NPROC=T`` sizes XLA's intra-op thread pool,
the one its dot products run on. ``--xla_cpu_multi_thread_eigen=false`` alone does
not pin jaxlib 0.10's dots (its thunk runtime hands every dot to that pool; the flag
still picks single-threaded Eigen where the emitter asks it, e.g. convolutions, so
it is set too): with both cores free, a jitted 2048 x 2048 dot kept two threads busy
with the flag alone and one with ``PJRT_NPROC=1`` (per-thread CPU time in /proc).
``intra_op_parallelism_threads`` is TensorFlow's setting, not an XLA flag: jaxlib
ignores it without the ``--`` and aborts on it with. scikit-learn
multiplies through NumPy's BLAS, which ``threadpoolctl`` pins (:func:`bench.run.pin_threads`,
called after :func:`setup` so that the libraries it loads are pinned too).
"""

import os
import sys
import time
import warnings

import numpy as np

import scratchnn as sn

from .config import LR

PEERS = ("jax", "sklearn")
EXTRA = "pip install -e '.[peers]'"
GUARD_EPOCHS = 10

SKLEARN_DIFFERS = (
    "sklearn's MLPRegressor is not the model the others train:",
    "  - identity output layer (ours: tanh on the output too); tanh on the hidden layers as ours;",
    "  - its own initialisation, Glorot-uniform U(-b, b), b = sqrt(6/(fan_in + fan_out)), biases included, "
    "from random_state (not scratchnn's theta);",
    "  - its loss is (1/2) MSE: at the same output its gradient (a - y)/n is half ours, (2/n)(a - y) "
    "(Adam's step hardly sees the scale, eps's weight doubles);",
    "  - its Adam adds eps to sqrt(v) before the bias correction (lr_t = lr sqrt(1 - beta2^t)/(1 - beta1^t)); "
    "torch's and ours to sqrt(v / (1 - beta2^t));",
    "  - with float32 data its Adam update is computed in float64 (lr_t is a NumPy float64) and rounded back;",
    "  - alpha = 0 still computes the L2 term (sum theta^2 and + 0 theta each step), and every fit() validates "
    "and copies the data: in its time per epoch, fit time / k.",
)


def setup(names, threads):
    """Import the peers ``names`` (from :data:`PEERS`), JAX pinned to ``threads``; returns those that imported.

    JAX: ``JAX_PLATFORMS=cpu``, ``PJRT_NPROC`` and ``XLA_FLAGS`` are set before it is
    first imported, then float64 is enabled (``jax_enable_x64``: float32 arrays stay
    float32, float64 configs are float64). A missing library prints a line naming the
    extra, and the bench goes on without that peer.
    """
    ready = []
    for name in names:
        try:
            if name == "jax":
                _import_jax(threads)
            else:
                import sklearn.neural_network  # noqa: F401
        except ImportError:
            library = {"jax": "jax", "sklearn": "scikit-learn"}[name]
            print(f"  skipped peer {name}: {library} is not installed ({EXTRA})", file=sys.stderr)
            continue
        ready.append(name)
    return ready


def _import_jax(threads):
    if sys.modules.get("jax") is None:
        os.environ["JAX_PLATFORMS"] = "cpu"
        os.environ["PJRT_NPROC"] = str(threads)  # XLA's intra-op pool: where its dots run
        if threads == 1:  # single-threaded Eigen for what still asks the flag (convolutions, FFTs)
            os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
    elif os.environ.get("PJRT_NPROC") != str(threads):
        print(f"  jax was imported before the bench could pin it: its thread pool is not set to {threads}",
              file=sys.stderr)
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def jax_settings():
    """What JAX was pinned with (for bench.json)."""
    return {k: os.environ.get(k) for k in ("JAX_PLATFORMS", "PJRT_NPROC", "XLA_FLAGS")}


# ------------------------------------------------------------------------ JAX
class JaxModel:
    r"""The bench's model in ``jax.numpy``, in the workshop's notation (see :mod:`scratchnn.mlp`).

    Forward, for ``theta[j]`` = θ^j of shape ``(u^{j+1}, u^j + 1)``, bias in column 0::

        a^0 = [1, X]                      (n, u^0 + 1)
        z^{j+1} = a^j (θ^j)ᵀ              (n, u^{j+1})
        a^{j+1} = [1, tanh(z^{j+1})]      (n, u^{j+1} + 1);   a^L = tanh(z^L)   (n, u^L)
        𝓛 = mean((a^L - y)²)

    the gradient D^j = ∂𝓛/∂θ^j is JAX's (``jax.value_and_grad``), and Adam is
    :class:`scratchnn.Adam`'s, term for term, scalars rounded to θ's dtype where it rounds them::

        m ← m + (1 - β1)(D - m),   v ← β2 v + (1 - β2) D²
        θ ← θ + (-lr / (1 - β1^t)) m / (√v / √(1 - β2^t) + ε)
    """

    def __init__(self, units, dtype, lr=LR, betas=(0.9, 0.999), eps=1e-8):
        import jax

        self.jax, self.jnp = jax, jax.numpy
        self.units = list(units)
        self.L = len(self.units) - 1
        self.dtype = np.dtype(dtype)
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps

    def forward(self, theta, X):
        """a^L ``(n, u^L)`` for inputs X ``(n, u^0)``."""
        jnp = self.jnp
        ones = jnp.ones((X.shape[0], 1), X.dtype)  # the bias unit's column
        a = jnp.concatenate([ones, X], axis=1)  # a^0: (n, u^0 + 1)
        for j in range(self.L):
            z = a @ theta[j].T  # z^{j+1}: (n, u^{j+1})
            h = jnp.tanh(z)  # g_{j+1}(z^{j+1})
            a = h if j + 1 == self.L else jnp.concatenate([ones, h], axis=1)  # a^{j+1}
        return a

    def loss(self, theta, X, Y):
        """𝓛 = mean((a^L - y)²) over every element."""
        r = self.forward(theta, X) - Y  # (n, u^L)
        return self.jnp.mean(r * r)

    def adam(self, theta, m, v, t, D):
        """Adam's step t (1, 2, ...) on every θ^j; returns the new ``(theta, m, v)``."""
        jnp, T = self.jnp, self.dtype
        # the bias corrections in float64, then rounded to θ's dtype, as scratchnn's T(-step_size)
        step = jnp.asarray(-self.lr / (1 - self.beta1**t), T)
        bc2 = jnp.asarray((1 - self.beta2**t) ** 0.5, T)
        out = [], [], []
        for th, mj, vj, g in zip(theta, m, v, D):
            mj = mj + (g - mj) * (1 - self.beta1)
            vj = vj * self.beta2 + g * (1 - self.beta2) * g
            th = th + step * mj / (jnp.sqrt(vj) / bc2 + self.eps)
            for lst, x in zip(out, (th, mj, vj)):
                lst.append(x)
        return out

    def epoch(self, state, X, Y):
        """One full-batch epoch: 𝓛 and D at θ, then Adam's step; returns ``(state, 𝓛 before the step)``."""
        theta, m, v, t = state
        loss, D = self.jax.value_and_grad(self.loss)(theta, X, Y)
        t = t + 1
        theta, m, v = self.adam(theta, m, v, t, D)
        return (theta, m, v, t), loss

    def fit(self, state, X, Y, k):
        """k epochs as one ``lax.scan``; returns ``(state, the k losses)`` (k must be static under jit)."""
        return self.jax.lax.scan(lambda s, _: self.epoch(s, X, Y), state, None, length=k)

    def start(self, theta):
        """The state ``(theta, m, v, t)`` of a fit from scratchnn's θ: moments zero, t = 0."""
        jnp = self.jnp
        theta = [jnp.asarray(t) for t in theta]
        return theta, [jnp.zeros_like(t) for t in theta], [jnp.zeros_like(t) for t in theta], jnp.asarray(0)


class JaxScan:
    """The whole fit jitted: k epochs in one ``lax.scan``, compiled for each k it is asked to time."""

    name = "jax scan"
    model = JaxModel

    def __init__(self, units, X, Y, dtype):
        self.m = self.model(units, dtype)
        jnp = self.m.jnp
        self.X, self.Y = jnp.asarray(X), jnp.asarray(Y)
        self.state = self.m.start(sn.MLP(units, dtype=dtype, generator=10).theta)
        self.compiled = {}  # k -> (executable, compile seconds)

    def _compile(self, k):
        if k not in self.compiled:
            start = time.perf_counter()
            exe = self.m.jax.jit(self.m.fit, static_argnums=3).lower(self.state, self.X, self.Y, k).compile()
            self.compiled[k] = exe, time.perf_counter() - start
        return self.compiled[k]

    def run(self, k):
        """k epochs from the current state; returns the k losses (each before its epoch's step)."""
        exe, _ = self._compile(k)
        self.state, losses = exe(self.state, self.X, self.Y)
        return np.asarray(losses)

    def epochs(self, k):
        """Seconds per epoch of a k-epoch scan, timed after its compile (the compile seconds, apart)."""
        fresh = k not in self.compiled
        exe, compile_seconds = self._compile(k)  # for this k: the scan's length is static
        if fresh:  # the first run after compiling is not timed
            self.state, losses = exe(self.state, self.X, self.Y)
            losses.block_until_ready()
        start = time.perf_counter()
        self.state, losses = exe(self.state, self.X, self.Y)
        losses.block_until_ready()
        return (time.perf_counter() - start) / k, compile_seconds


class JaxStep(JaxScan):
    """One jitted epoch (loss, gradient, Adam step), called once per epoch from Python."""

    name = "jax step"

    def _compile(self, k=None):
        if None not in self.compiled:
            start = time.perf_counter()
            exe = self.m.jax.jit(self.m.epoch).lower(self.state, self.X, self.Y).compile()
            self.compiled[None] = exe, time.perf_counter() - start
        return self.compiled[None]

    def run(self, k):
        exe, _ = self._compile()
        losses = []
        for _ in range(k):
            self.state, loss = exe(self.state, self.X, self.Y)
            losses.append(loss)
        return np.asarray(losses)

    def epochs(self, k):
        """Seconds per epoch of k calls; the losses stay on the device until the end, as JAX code keeps them."""
        exe, compile_seconds = self._compile()
        start = time.perf_counter()
        losses = []
        for _ in range(k):
            self.state, loss = exe(self.state, self.X, self.Y)
            losses.append(loss)
        self.m.jax.block_until_ready(losses)
        return (time.perf_counter() - start) / k, compile_seconds


# ------------------------------------------------------------------ the guard
class GuardError(AssertionError):
    """A JAX peer's loss curve is not scratchnn's: it trains another model, so the bench will not time it."""


def guard_rtol(dtype):
    """The guard's relative tolerance on a loss: 8 ε of the dtype (ε = 2^-23 float32, 2^-52 float64).

    Measured over the bench's whole grid (every net, n and width, 10 epochs, both peers):
    at most 2.0 ε in either dtype. The two sides round differently (the n squared
    residuals summed in another order, tanh a few ulp apart, XLA's fusions), and those
    errors average out in the mean; 8 ε leaves 4x room for another CPU's code paths
    (XLA picks vector widths per instruction set). The planted bugs of
    tests/test_bench.py (a sign error in Adam, a missing bias) are 1e-2 and more apart.
    """
    return 8 * float(np.finfo(dtype).eps)


def guard(units, X, Y, dtype, model=JaxModel, epochs=GUARD_EPOCHS):
    """Check that the JAX peers train scratchnn's model: the same losses as the NumPy engine, to rounding.

    From ``sn.MLP(units, dtype, generator=10)``'s θ, Adam lr = :data:`bench.config.LR`,
    both the scan and the step peer fit ``epochs`` epochs; their ``epochs`` losses
    (each before its step) and the loss after the last step must equal the NumPy
    engine's within :func:`guard_rtol`. Returns the largest relative difference per
    peer; raises :class:`GuardError` naming the peer, epoch and both losses otherwise.
    """
    dtype = np.dtype(dtype)
    net = sn.MLP(units, dtype=dtype, generator=10)
    h = sn.fit(net, X, Y, sn.Adam(net.theta, lr=LR), epochs=epochs)
    ref = np.append(h.loss, float(net.loss(X, Y)))  # the losses before each step, and after the last
    rtol = guard_rtol(dtype)
    worst = {}
    for cls in (JaxScan, JaxStep):
        peer = type(cls.__name__, (cls,), {"model": model})(units, X, Y, dtype)
        losses = peer.run(epochs)
        theta = peer.state[0]
        if losses.dtype != dtype or any(t.dtype != dtype for t in theta):
            raise GuardError(f"{cls.name}: computed in {losses.dtype}, θ in {theta[0].dtype}, not {dtype.name}")
        got = np.append(losses, float(peer.m.loss(theta, peer.X, peer.Y)))
        rel = np.abs(got - ref) / np.abs(ref)
        worst[cls.name] = float(rel.max())
        e = int(np.argmax(rel))
        if not rel[e] <= rtol:
            when = f"after epoch {e}" if e == epochs else f"at epoch {e} (before its step)"
            raise GuardError(
                f"{cls.name} is not scratchnn's model: {'-'.join(map(str, units))} {dtype.name}, loss {when} "
                f"{got[e]!r}, numpy engine {ref[e]!r}: relative difference {rel[e]:.2e} > {rtol:.2e}"
            )
    return worst


# ------------------------------------------------------------------ scikit-learn
class SklearnPeer:
    """``MLPRegressor``: full-batch Adam for k iterations (never stopping early); time per epoch = fit time / k."""

    name = "sklearn"

    def __init__(self, units, X, Y, dtype):
        self.units = list(units)
        self.X = X
        self.Y = Y[:, 0] if Y.shape[1] == 1 else Y  # a column would be flattened with a DataConversionWarning

    def regressor(self, k):
        from sklearn.neural_network import MLPRegressor

        return MLPRegressor(
            hidden_layer_sizes=self.units[1:-1], activation="tanh", solver="adam", alpha=0.0,
            batch_size=self.X.shape[0], learning_rate_init=LR, max_iter=k, shuffle=False, random_state=0,
            tol=0.0, n_iter_no_change=np.inf, early_stopping=False,  # never stops before k iterations
        )

    def fit(self, k):
        """A fresh k-iteration fit; returns the fitted regressor (``loss_curve_``, ``n_iter_``)."""
        from sklearn.exceptions import ConvergenceWarning

        reg = self.regressor(k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # "max_iter reached": what we ask for
            reg.fit(self.X, self.Y)
        return reg

    def epochs(self, k):
        """Seconds per epoch of a k-epoch fit (from its random initialisation: each fit starts afresh)."""
        start = time.perf_counter()
        self.fit(k)
        return (time.perf_counter() - start) / k, 0.0


ENGINES = {"jax": (JaxScan, JaxStep), "sklearn": (SklearnPeer,)}
