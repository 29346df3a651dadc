r"""The multilayer perceptron, forward and backward, in the workshop's notation.

Layers and indices
------------------
Layers are numbered ``j = 0, 1, ..., L`` from the input (layer 0, ``u^0``
features) to the output (layer L, ``u^L`` units), and the Python index *is*
that number: ``units[j] = u^j``, ``theta[j] = θ^j`` maps layer j to layer
j+1, ``a[j] = a^j``, ``z[j] = z^j``, ``delta[j] = δ^j``, ``D[j] = D^j``.
(The workshop notebook counts layers from 1 in its conventions but calls the
first weight matrix θ^0; our layer j is its layer j + 1, and our θ^j is its θ^j.)

The one exception: the input layer has no activation, so the list
``activations`` holds g_1 ... g_L and ``activations[j - 1]`` is g_j, the
activation of layer j (``net.g(j)`` returns it by layer number).

Data points are rows: ``n`` points give ``a^j`` of shape ``(n, u^j + 1)``.
⊙ is the element-wise (Hadamard) product, ``*`` in NumPy; 𝓛 is the loss.

Forward pass
------------
    a^0     = [1, X]                               (n, u^0 + 1)
    z^{j+1} = a^j (θ^j)ᵀ                           (n, u^{j+1})
    a^{j+1} = [1, g_{j+1}(z^{j+1})]                (n, u^{j+1} + 1), bias unit first
    a^L     = g_L(z^L)                             (n, u^L), no bias unit on the output

Backward pass (𝓛 the net's criterion, see ``losses``)
-----------------------------------------------------
The error of layer j is δ^j = ∂𝓛/∂z^j, one number per data point and unit
(no bias column: the bias unit has no z). D^j = ∂𝓛/∂θ^j.

    δ^L = ∂𝓛/∂a^L ⊙ g_L'(z^L)                        (n, u^L)
    D^j = (δ^{j+1})ᵀ a^j                              (u^{j+1}, u^j + 1)
    δ^j = (δ^{j+1} θ^j[:, 1:]) ⊙ g_j'(z^j)           (n, u^j)

``D^j`` has the shape of ``θ^j``; its column 0 is the bias gradient (the
bias unit's column of a^j is all ones). ``tutorials/02_backpropagation`` derives
these three lines from the chain rule, index by index.

δ^L depends on the criterion (``MLP(..., criterion=...)``), in its derived form:

    mse             δ^L = (2/N)(a^L - y) ⊙ g_L'(z^L)       N = n u^L, any output g_L
    bce             δ^L = (a^L - y) / N                    sigmoid output: σ' = a(1 - a) cancels
    cross_entropy   δ^L = (softmax(z^L) - y) / n           identity output (the logits)

(derived in ``losses``; ``tutorials/08_classification`` derives the softmax one).
With ``l2=λ`` the loss gains λ/(2n) Σ_j ‖θ^j[:, 1:]‖² and D^j[:, 1:] gains (λ/n) θ^j[:, 1:].

Normalisation and dropout (``MLP(..., norm="batch" | "layer", dropout=p)``)
---------------------------------------------------------------------------
Every hidden layer j = 1 … L−1 may normalise z^j before g_j and drop units after it, as torch's
``nn.Sequential(Linear, BatchNorm1d | LayerNorm, act, Dropout, …, Linear, out_act)`` does
(the formulas, and the backward pass of each piece, in :mod:`scratchnn.norms`):

    ẑ^j = (z^j − μ^j) / √(σ²^j + ε)                 (n, u^j)   μ, σ² over the points (batch) or units (layer)
    z̃^j = γ^j ⊙ ẑ^j + β^j                           (n, u^j)   z̃^j = z^j without a norm
    a^j = [1, g_j(z̃^j) ⊙ mask^j / (1 − p)]          (n, u^j + 1)   training; mask^j = 1 without dropout

and backward, with δ̃^j = ∂𝓛/∂z̃^j and δ^j = ∂𝓛/∂z^j as before:

    δ̃^j = (δ^{j+1} θ^j[:, 1:]) ⊙ mask^j / (1 − p) ⊙ g_j'(z̃^j)     (n, u^j)
    dγ^j = Σ_i δ̃^j ⊙ ẑ^j,   dβ^j = Σ_i δ̃^j                          (u^j,)
    δ^j  = (dẑ − mean(dẑ) − ẑ^j ⊙ mean(dẑ ⊙ ẑ^j)) / √(σ²^j + ε),   dẑ = δ̃^j ⊙ γ^j

γ^j and β^j are ``gamma[j - 1]`` and ``beta[j - 1]`` (the same exception as ``activations``: layer
0 has none). In evaluation mode (``net.eval()``) batch norm uses its running statistics and
dropout is the identity. With a norm after it θ^{j-1}'s bias column is redundant (β^j absorbs
any constant added to z^j): its gradient is zero in exact arithmetic, rounding noise in practice.
"""

import copy
import os

import numpy as np

from . import activations as _act
from . import losses as _losses
from . import norms as _norms
from .checks import check_data, check_dtype, check_pair, check_real
from .generator import TorchGenerator
from .init import linear_theta
from .table import format_table


class Trace:
    """Every quantity of one forward pass.

    ``a[j]`` is ``a^j`` (bias unit in column 0) for ``j < L`` and the output
    ``a^L`` (no bias unit) for ``j = L``; ``z[j]`` is ``z^j`` for ``j >= 1``
    and ``z[0]`` is None (the input layer has no pre-activation).

    Nets with a norm or dropout keep more, indexed alike (None where a layer has none):
    ``z_tilde[j]`` = z̃^j, what g_j is applied to (z^j itself without a norm); ``h[j]`` =
    g_j(z̃^j) ``(n, u^j)`` before dropout; ``z_hat[j]`` = ẑ^j, ``mu[j]`` = μ^j and ``var[j]`` = σ²^j
    (batch norm in evaluation mode: the running statistics); ``mask[j]`` the boolean keep-mask
    and ``keep[j]`` = mask^j/(1 − p) (training-mode dropout). ``training``: the mode of the pass (it picks
    the backward pass through batch norm).
    """

    def __init__(self, a, z, z_tilde=None, h=None, z_hat=None, mu=None, var=None, mask=None, keep=None,
                 training=True):
        self.a = a
        self.z = z
        self.training = training
        self.z_tilde = z if z_tilde is None else z_tilde
        self.h = h
        none = [None] * len(a)
        self.z_hat = none if z_hat is None else z_hat
        self.mu = none if mu is None else mu
        self.var = none if var is None else var
        self.mask = none if mask is None else mask
        self.keep = none if keep is None else keep

    @property
    def output(self):
        """a^L, the network's prediction ``(n, u^L)``."""
        return self.a[-1]


def with_bias_unit(h):
    """[1, h]: the bias unit prepended to each row of ``h``, ``(n, u) -> (n, u + 1)``; as a^j is laid out."""
    a = np.empty((h.shape[0], h.shape[1] + 1), dtype=h.dtype)
    a[:, 0] = 1
    a[:, 1:] = h
    return a


class MLP:
    r"""A fully connected network with weights theta^j of shape ``(u^{j+1}, u^j + 1)``.

    Parameters
    ----------
    units : sequence of int
        ``[u^0, u^1, ..., u^L]``: features in, hidden widths, outputs. At least two.
    activations : str or sequence of str
        One name for every layer, or one per layer ``j = 1..L`` (``L`` names):
        the input layer has no activation, so ``activations[j - 1]`` is g_j
        (``net.g(j)`` looks it up by layer number).
        Known names: see :mod:`scratchnn.activations`. Default ``"tanh"``
        everywhere, the output included, as in the workshop (None: the default).
    dtype : float32 or float64
        Of theta and of every quantity computed. Default float32 (torch's default).
    generator : TorchGenerator or int
        Where the initial weights come from: torch's ``nn.Linear`` rule on
        torch's CPU stream, so ``MLP(units, generator=TorchGenerator(s))``
        equals torch's ``nn.Sequential`` built after ``torch.manual_seed(s)``.
        An int is a seed. Default 0. Not drawn from when ``theta`` is given.
    criterion : "mse", "bce" or "cross_entropy"
        The loss 𝓛 (:mod:`scratchnn.losses`). ``"mse"`` (default): the workshop's
        mean squared error, any output activation. ``"bce"``: binary cross-entropy
        on a sigmoid output, targets in [0, 1], as ``nn.BCELoss``. ``"cross_entropy"``:
        softmax cross-entropy on an identity output (the logits), targets as class
        indices ``(n,)`` or probabilities ``(n, u^L)``, as ``nn.CrossEntropyLoss``.
    theta : list of L arrays, optional
        Start from these weights instead of drawing them: θ^j ``(u^{j+1}, u^j + 1)`` of ``dtype``
        for ``j = 0..L-1`` (copied). :meth:`load`, :meth:`copy` and ``torchref.from_torch`` build
        their nets this way.
    norm : None, "batch" or "layer"
        torch's ``BatchNorm1d(u^j)`` or ``LayerNorm(u^j)`` (ε = 1e-5, momentum 0.1, affine: γ^j = 1,
        β^j = 0 at the start) on z^j of every hidden layer j = 1..L-1, before g_j; the output layer
        gets none. ``gamma``, ``beta`` (and for batch norm ``running_mean``, ``running_var``) hold
        one ``(u^j,)`` array per hidden layer, entry j - 1 for layer j. Default None.
    dropout : float in [0, 1)
        p of torch's ``nn.Dropout(p)`` after g_j of every hidden layer j = 1..L-1. The keep-masks
        are drawn in training mode from the same generator, after the initial weights, so they equal
        torch's after ``torch.manual_seed(s)`` and building the Sequential. Default 0 (none).

    With a norm or dropout the torch twin is ``nn.Sequential(Linear, [Norm], act, [Dropout], …,
    Linear, out_act)``; only the Linears draw, so ``generator=s`` still gives torch's θ^j.
    ``net.params`` is θ^0..θ^{L-1}, then the γ's, then the β's (just ``theta`` without a norm),
    the layout of ``loss_and_grad``'s D. ``train()`` / ``eval()`` / ``training`` are torch's.

    ``MLP([1, 5, 1])`` is the workshop's model 0 (with ``generator=10``, its weights too);
    ``MLP([64, 25, 10], ["sigmoid", "identity"], criterion="cross_entropy")`` classifies the digits.
    """

    def __init__(self, units, activations="tanh", dtype=np.float32, generator=0, criterion="mse", theta=None, *,
                 norm=None, dropout=0.0):
        self.units = _check_units(units)
        self.activations = _check_activations("tanh" if activations is None else activations, len(self.units) - 1)
        self.dtype = check_dtype("dtype", dtype)
        self.criterion = _check_criterion(criterion, self.activations, self.units)
        self.norm = _check_norm(norm)
        self.dropout = check_real("dropout", dropout, low=0.0, high=1.0, high_open=True)
        self.training = True
        if isinstance(generator, TorchGenerator):
            gen = generator
        elif isinstance(generator, (int, np.integer)) and not isinstance(generator, (bool, np.bool_)):
            gen = TorchGenerator(int(generator))
        else:
            raise TypeError(f"generator: expected a TorchGenerator or an int seed, got {type(generator).__name__}")
        self.generator = gen  # the dropout masks come from it, after the initial weights
        hidden = self.units[1:-1]  # u^1 .. u^{L-1}
        self.gamma = [np.ones(u, dtype=self.dtype) for u in hidden] if self.norm else []  # γ^j = gamma[j - 1]
        self.beta = [np.zeros(u, dtype=self.dtype) for u in hidden] if self.norm else []  # β^j = beta[j - 1]
        batch = self.norm == "batch"
        self.running_mean = [np.zeros(u, dtype=self.dtype) for u in hidden] if batch else []
        self.running_var = [np.ones(u, dtype=self.dtype) for u in hidden] if batch else []
        if theta is not None:
            self.theta = _check_theta(theta, self.units, self.dtype)
            return
        self.theta = [
            linear_theta(gen, self.units[j], self.units[j + 1], self.dtype) for j in range(self.L)
        ]

    @property
    def params(self):
        """θ^0..θ^{L-1}, then γ^1..γ^{L-1}, then β^1..β^{L-1}: what an optimizer updates, in D's layout.

        Without a norm this is ``theta`` itself (the same list).
        """
        return self.theta + self.gamma + self.beta if self.norm else self.theta

    def train(self, mode=True):
        """Training mode (the default; ``mode=False``: evaluation), as torch's ``module.train``; returns the net.

        In training mode batch norm normalises with the batch's statistics (and updates its running
        ones) and dropout draws a mask at every forward pass.
        """
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"mode: expected a bool, got {type(mode).__name__}")
        self.training = bool(mode)
        return self

    def eval(self):
        """Evaluation mode, as torch's ``module.eval``: batch norm uses its running statistics, dropout is the
        identity, and the forward pass is a deterministic function of the parameters. Returns the net."""
        return self.train(False)

    def g(self, j):
        """The activation g_j of layer ``j = 1..L`` (``activations[j - 1]``: the input layer has none)."""
        if isinstance(j, (bool, np.bool_)) or not isinstance(j, (int, np.integer)):
            raise TypeError(f"j: expected a layer number (int) 1..{self.L}, got {type(j).__name__}")
        if not 1 <= j <= self.L:
            raise ValueError(f"j: expected a layer number 1..{self.L} (the input layer 0 has no activation), got {j!r}")
        return _act.get(self.activations[j - 1])

    @property
    def L(self):
        """The index of the output layer (the number of weight matrices)."""
        return len(self.units) - 1

    @property
    def n_parameters(self):
        """Total number of entries of all theta^j (and of the γ^j, β^j of a norm)."""
        return sum(t.size for t in self.params)

    def __repr__(self):
        extra = (f", norm={self.norm!r}" if self.norm else "") + (f", dropout={self.dropout}" if self.dropout else "")
        return (f"MLP(units={self.units}, activations={self.activations}, dtype={self.dtype.name}, "
                f"criterion={self.criterion!r}{extra})")

    # ----------------------------------------------------------------- forward
    def forward_trace(self, X):
        """Run the forward pass and keep every a^j and z^j (see :class:`Trace`)."""
        check_data("X", X, self.dtype, self.units[0])
        return self._forward_trace(X)

    def _forward_trace(self, X):
        """The forward pass; with a norm or dropout on the hidden layers as the module docstring writes it (in the
        net's mode), without them the workshop's pass (``_forward_trace_plain``), operation for operation as ever."""
        if not (self.norm or self.dropout):
            return self._forward_trace_plain(X)
        L = self.L
        if self.norm == "batch" and self.training and X.shape[0] < 2:
            raise ValueError(f"X: batch norm in training mode needs at least 2 data points (σ² of one point is 0), "
                             f"got {X.shape[0]}; as torch, use net.eval() for a single point")
        a = [with_bias_unit(X)]  # a^0: (n, u^0 + 1)
        z, z_tilde, h = [None], [None], [None]
        z_hat, mu, var, mask, keep = ([None] * (L + 1) for _ in range(5))
        for j in range(1, L + 1):
            z.append(a[j - 1] @ self.theta[j - 1].T)  # z^j: (n, u^j)
            if j == L:  # the output layer: no norm, no dropout
                z_tilde.append(z[j])
                h.append(None)
                a.append(_act.get(self.activations[L - 1]).g(z[L]))  # a^L: (n, u^L)
                break
            z_tilde.append(self._normalize(j, z[j], z_hat, mu, var))  # z̃^j: (n, u^j)
            h.append(_act.get(self.activations[j - 1]).g(z_tilde[j]))  # g_j(z̃^j): (n, u^j)
            out = h[j]
            if self.dropout and self.training:
                mask[j] = _norms.dropout_mask(self.generator, h[j].shape, self.dropout)  # (n, u^j), True: kept
                keep[j] = _norms.dropout_scale(mask[j], self.dropout, self.dtype)  # mask^j / (1 − p)
                out = _norms.dropout(h[j], keep[j])
            a.append(with_bias_unit(out))  # a^j: (n, u^j + 1)
        return Trace(a, z, z_tilde, h, z_hat, mu, var, mask, keep, self.training)

    def _forward_trace_plain(self, X):
        a = [with_bias_unit(X)]  # a^0: (n, u^0 + 1)
        z = [None]
        for j in range(self.L):
            z.append(a[j] @ self.theta[j].T)  # z^{j+1}: (n, u^{j+1})
            h = _act.get(self.activations[j]).g(z[j + 1])  # g_{j+1}(z^{j+1}): (n, u^{j+1})
            a.append(h if j + 1 == self.L else with_bias_unit(h))  # a^{j+1}
        return Trace(a, z)

    def _normalize(self, j, zj, z_hat, mu, var):
        """z̃^j = γ^j ⊙ ẑ^j + β^j of hidden layer j (z^j itself without a norm), filling ẑ^j, μ^j, σ²^j."""
        if not self.norm:
            return zj
        gamma, beta = self.gamma[j - 1], self.beta[j - 1]
        if self.norm == "batch" and not self.training:
            mu[j], var[j] = self.running_mean[j - 1].copy(), self.running_var[j - 1].copy()  # as they were
            zt, z_hat[j] = _norms.batchnorm_eval(zj, gamma, beta, mu[j], var[j])
            return zt
        zt, z_hat[j], mu[j], var[j] = _norms.normalize(zj, gamma, beta, _norms.AXIS[self.norm])
        if self.norm == "batch":
            _norms.update_running(self.running_mean[j - 1], self.running_var[j - 1], mu[j], var[j], zj.shape[0])
        return zt

    def forward(self, X):
        """The prediction a^L ``(n, u^L)`` for inputs X ``(n, u^0)``."""
        return self.forward_trace(X).output

    __call__ = forward

    def predict(self, X):
        """What the net predicts for X ``(n, u^0)``.

        ``cross_entropy``: the class indices ``argmax_s z^L_is`` ``(n,)`` (softmax keeps the order).
        ``bce``: the classes 1 where a^L >= 1/2, i.e. z^L >= 0, else 0: ``(n,)`` for one output
        unit, ``(n, u^L)`` (one yes/no per unit) for several. ``mse``: the prediction a^L ``(n, u^L)``.
        """
        trace = self.forward_trace(X)
        zL = trace.z[self.L]  # (n, u^L)
        if self.criterion == "cross_entropy":
            return np.argmax(zL, axis=1)  # (n,)
        if self.criterion == "bce":
            c = (zL >= 0).astype(np.int64)  # (n, u^L)
            return c[:, 0] if self.units[-1] == 1 else c
        return trace.output

    def check_targets(self, Y, name="Y"):
        """Y as the net's criterion takes it: ``(n, u^L)`` of the net's dtype, class indices ``(n,)``
        turned into one-hot rows (``cross_entropy``); raises, naming ``name``, when the criterion
        cannot take Y (see :mod:`scratchnn.losses`)."""
        return _losses.get(self.criterion).targets(name, Y, self.dtype, self.units[-1])

    def loss(self, X, Y, l2=0.0):
        """𝓛, the net's criterion (:mod:`scratchnn.losses`); with ``l2=λ`` plus λ/(2n) Σ_j ‖θ^j[:, 1:]‖²."""
        Y = check_pair(X, Y, self)
        return self.loss_unchecked(X, Y, check_real("l2", l2, low=0.0))

    def loss_unchecked(self, X, Y, l2=0.0, n=None):
        """𝓛 + λ/(2n) Σ_j ‖θ^j[:, 1:]‖², as :meth:`loss`, but skipping its argument checks.

        X ``(n_X, u^0)`` and Y ``(n_X, u^L)`` must already be what :meth:`loss` checks for (Y as
        :meth:`check_targets` returns it: class indices one-hot), and ``l2`` a float >= 0.
        ``n`` divides λ (default: X's rows; ``fit`` passes all its points for a minibatch).
        For inner loops (``fit``, ``gradcheck``) that check once, before the loop.
        """
        return self._objective(self._forward_trace(X), Y, l2, X.shape[0] if n is None else n)

    def _objective(self, trace, Y, l2, n):
        """𝓛(a^L, z^L; y) of one forward pass, plus λ/(2n) Σ_j ‖θ^j[:, 1:]‖² when λ > 0."""
        L = self.L
        loss = _losses.get(self.criterion).loss(trace.a[L], trace.z[L], Y)
        return loss + _losses.l2_penalty(self.theta, l2, n) if l2 else loss

    # ---------------------------------------------------------------- backward
    def backward(self, trace, Y):
        """The deltas and gradients of one forward pass.

        Returns ``(delta, D)``: ``delta[j]`` is delta^j ``(n, u^j)`` for
        ``j = 1..L`` (``delta[0]`` is None) and ``D[j]`` is D^j = dL/dtheta^j,
        shaped like ``theta[j]``; with a norm D continues with dγ^1..dγ^{L-1}, then
        dβ^1..dβ^{L-1}, the layout of ``net.params``. Y: the targets the criterion takes.
        The trace must come from this net (its mode, kept in the trace, picks the backward pass).
        """
        if not isinstance(trace, Trace):
            raise TypeError(f"trace: expected the Trace of forward_trace, got {type(trace).__name__}")
        Y = self.check_targets(Y)
        if Y.shape[0] != trace.output.shape[0]:
            raise ValueError(f"Y: expected {trace.output.shape[0]} rows like the trace, got {Y.shape[0]}")
        return self._backward(trace, Y)

    def _backward(self, trace, Y):
        a, z = trace.a, trace.z
        L = self.L
        delta = [None] * (L + 1)
        D = [None] * L
        dgamma, dbeta = [None] * len(self.gamma), [None] * len(self.beta)  # dγ^j, dβ^j at j - 1
        # backward through the loss and the output activation g_L, in the criterion's derived form
        delta[L] = _losses.get(self.criterion).delta(a[L], z[L], Y, _act.get(self.activations[L - 1]))  # (n, u^L)
        for j in range(L - 1, -1, -1):
            # backward through theta^j: the gradient of the weights of layer j -> j+1
            D[j] = delta[j + 1].T @ a[j]  # (u^{j+1}, u^j + 1)
            if j > 0 and not (self.norm or self.dropout):
                # backward through g_j: carry delta to layer j, skipping the bias column
                g = _act.get(self.activations[j - 1])  # g_j
                delta[j] = (delta[j + 1] @ self.theta[j][:, 1:]) * g.g_prime(z[j], a[j][:, 1:])  # (n, u^j)
            elif j > 0:
                delta[j] = self._backward_hidden(j, trace, delta[j + 1] @ self.theta[j][:, 1:], dgamma, dbeta)
        return delta, D + dgamma + dbeta

    def _backward_hidden(self, j, trace, da, dgamma, dbeta):
        """δ^j from da = ∂𝓛/∂a^j[:, 1:] ``(n, u^j)``: backward through dropout, g_j and the norm (filling dγ^j, dβ^j)."""
        if trace.keep[j] is not None:
            da = _norms.dropout_backward(da, trace.keep[j])  # backward through dropout: ∂𝓛/∂g_j(z̃^j)
        g = _act.get(self.activations[j - 1])  # g_j
        delta_tilde = da * g.g_prime(trace.z_tilde[j], trace.h[j])  # δ̃^j = ∂𝓛/∂z̃^j: (n, u^j)
        if not self.norm:
            return delta_tilde
        gamma = self.gamma[j - 1]
        if self.norm == "batch" and not trace.training:
            out = _norms.batchnorm_eval_backward(delta_tilde, trace.z_hat[j], gamma, trace.var[j])
        else:
            out = _norms.normalize_backward(delta_tilde, trace.z_hat[j], gamma, trace.var[j], _norms.AXIS[self.norm])
        delta_j, dgamma[j - 1], dbeta[j - 1] = out  # δ^j = ∂𝓛/∂z^j (n, u^j); dγ^j, dβ^j (u^j,)
        return delta_j

    def loss_and_grad(self, X, Y, l2=0.0):
        """``(L, D)``: the loss 𝓛 (the net's criterion) and the gradients D^j = ∂𝓛/∂θ^j (one per θ^j; with a norm
        then dγ^j, then dβ^j: the layout of ``net.params``).

        With ``l2=λ`` (Ng's ex4): 𝓛 + λ/(2n) Σ_j ‖θ^j[:, 1:]‖² and D^j[:, 1:] + (λ/n) θ^j[:, 1:],
        n the number of points; the bias column θ^j[:, 0] is not penalised.
        """
        Y = check_pair(X, Y, self)
        return self.loss_and_grad_unchecked(X, Y, check_real("l2", l2, low=0.0))

    def loss_and_grad_unchecked(self, X, Y, l2=0.0, n=None):
        """``(L, D)`` as :meth:`loss_and_grad`, but skipping its argument checks.

        𝓛 + λ/(2n) Σ_j ‖θ^j[:, 1:]‖² and D^j = (δ^{j+1})ᵀ a^j, with D^j[:, 1:] += (λ/n) θ^j[:, 1:].
        X, Y and ``l2`` must already be what :meth:`loss_and_grad` checks for (Y as
        :meth:`check_targets` returns it); ``n`` divides λ (default: X's rows; ``fit`` passes all
        its points for a minibatch). For inner loops that check once, before the loop.
        """
        trace = self._forward_trace(X)
        _, D = self._backward(trace, Y)
        n = X.shape[0] if n is None else n
        if l2:
            _losses.add_l2_gradient(D, self.theta, l2, n)  # D^j[:, 1:] += (λ/n) θ^j[:, 1:]
        return self._objective(trace, Y, l2, n), D

    # ------------------------------------------------------------------ report
    def describe(self):
        """A table of the layers (units, theta shape, parameters, activation, torch names) and the criterion."""
        rows = [("layer j", "units u^j", "theta^j shape", "parameters", "activation g_j", "torch parameters")]
        rows.append(("0 (input)", str(self.units[0]), "", "", "", ""))
        block = 2 + bool(self.norm) + bool(self.dropout)  # modules per hidden layer in torch's nn.Sequential
        for j in range(1, self.L + 1):
            t = self.theta[j - 1]
            k = block * (j - 1)  # index of the Linear module inside torch's nn.Sequential
            names = f"{k}.bias = theta^{j - 1}[:, 0], {k}.weight = theta^{j - 1}[:, 1:]"
            size = t.size
            if self.norm and j < self.L:
                names += f", {k + 1}.weight = gamma^{j}, {k + 1}.bias = beta^{j}"
                size += 2 * self.units[j]
            rows.append(
                (
                    f"{j}{' (output)' if j == self.L else ''}",
                    str(self.units[j]),
                    f"theta^{j - 1}: {t.shape[0]} x {t.shape[1]}",
                    str(size),
                    self.activations[j - 1],
                    names,
                )
            )
        rows.append(("total", "", "", str(self.n_parameters), "", f"dtype {self.dtype.name}"))
        if self.norm or self.dropout:
            torch_norm = {"batch": "BatchNorm1d", "layer": "LayerNorm", None: "none"}[self.norm]
            rows.append(("hidden layers", "", "", "", f"norm {self.norm}, dropout {self.dropout}",
                         f"{torch_norm}, Dropout({self.dropout}); {'training' if self.training else 'eval'} mode"))
        rows.append(("criterion", "", "", "", self.criterion, _losses.get(self.criterion).torch))
        return format_table(rows, left=range(len(rows[0])))

    # -------------------------------------------------------------------- file
    def save(self, path):
        """Write units, activations, dtype, criterion and every theta^j to an ``.npz`` file (no pickle).

        With a norm or dropout also the norm, p, the mode and every γ^j, β^j and running statistic
        (``gamma_j`` for layer j); the generator's position (the next masks) is not saved.
        """
        extra = {}
        if self.norm or self.dropout:
            extra = dict(norm=np.asarray(self.norm or ""), dropout=np.asarray(self.dropout),
                         training=np.asarray(self.training))
            for name in ("gamma", "beta", "running_mean", "running_var"):
                extra.update({f"{name}_{j}": v for j, v in enumerate(getattr(self, name), start=1)})
        np.savez(
            path,
            units=np.asarray(self.units, dtype=np.int64),
            activations=np.asarray(self.activations, dtype=np.str_),
            dtype=np.asarray(self.dtype.name),
            criterion=np.asarray(self.criterion),
            **{f"theta_{j}": t for j, t in enumerate(self.theta)},
            **extra,
        )

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`; malformed files raise ValueError."""
        if not os.path.exists(path):
            raise FileNotFoundError(f"path: no model file at {path!r}")
        try:
            with np.load(path, allow_pickle=False) as f:
                content = {k: f[k] for k in f.files}
        except Exception as exc:  # zip, header or pickle errors all mean "not our file"
            raise ValueError(f"path: {path!r} is not a scratchnn model file (.npz): {exc}") from None
        for key in ("units", "activations", "dtype"):
            if key not in content:
                raise ValueError(f"path: {path!r} is not a scratchnn model file: no {key!r} entry")
        units = [int(u) for u in np.atleast_1d(content["units"])]
        activations = [str(s) for s in np.atleast_1d(content["activations"])]
        missing = [f"theta_{j}" for j in range(len(units) - 1) if f"theta_{j}" not in content]
        if missing:
            raise ValueError(f"path: {path!r} holds a malformed model: no {missing[0]!r} entry")
        theta = [content[f"theta_{j}"] for j in range(len(units) - 1)]
        try:
            # files written before the criterion was saved hold MSE models
            net = cls(units, activations, str(content["dtype"]), criterion=str(content.get("criterion", "mse")),
                      theta=theta, norm=str(content.get("norm", "")) or None,
                      dropout=float(content.get("dropout", 0.0)))
            net.train(bool(content.get("training", True)))
            for name in ("gamma", "beta", "running_mean", "running_var"):
                for j, v in enumerate(getattr(net, name), start=1):
                    key = f"{name}_{j}"
                    if key not in content:
                        raise ValueError(f"no {key!r} entry")
                    if content[key].shape != v.shape or content[key].dtype != v.dtype:
                        raise ValueError(f"{key}: expected {v.dtype} {v.shape}, got {content[key].dtype} "
                                         f"{content[key].shape}")
                    v[...] = content[key]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"path: {path!r} holds a malformed model: {exc}") from None
        entries = [(f"theta_{j}", t) for j, t in enumerate(net.theta)]
        for name in ("gamma", "beta", "running_mean", "running_var"):
            entries += [(f"{name}_{j}", v) for j, v in enumerate(getattr(net, name), start=1)]
        for key, t in entries:
            if not np.all(np.isfinite(t)):
                raise ValueError(f"path: {path!r} holds a malformed model: {key} contains NaN or inf")
        return net

    def copy(self):
        """A deep copy (same units, activations, dtype, criterion, norm, dropout and mode; theta, γ, β, the
        running statistics and the generator's state copied: the copy draws the masks the original would)."""
        net = type(self)(self.units, self.activations, self.dtype, generator=copy.deepcopy(self.generator),
                         criterion=self.criterion, theta=self.theta, norm=self.norm, dropout=self.dropout)
        for name in ("gamma", "beta", "running_mean", "running_var"):
            for dst, src in zip(getattr(net, name), getattr(self, name)):
                dst[...] = src
        return net.train(self.training)


def _check_units(units):
    if isinstance(units, (str, bytes)) or not hasattr(units, "__len__"):
        raise TypeError(f"units: expected a list of ints like [1, 5, 1], got {units!r}")
    units = list(units)
    if len(units) < 2:
        raise ValueError(f"units: expected at least two layers (inputs and outputs), got {units}")
    for u in units:
        if isinstance(u, (bool, np.bool_)) or not isinstance(u, (int, np.integer)):
            raise TypeError(f"units: expected ints, got {units!r}")
        if u < 1:
            raise ValueError(f"units: every layer needs at least one unit, got {units}")
    return [int(u) for u in units]


def _check_norm(norm):
    """None, "batch" or "layer" (:mod:`scratchnn.norms`)."""
    if norm is not None and norm not in _norms.NORMS:
        raise ValueError(f"norm: expected None, 'batch' (torch's BatchNorm1d) or 'layer' (LayerNorm), got {norm!r}")
    return norm


def _check_activations(activations, L):
    if isinstance(activations, str):
        activations = [activations] * L
    if not hasattr(activations, "__len__"):
        raise TypeError(f"activations: expected a name or a list of {L} names, got {activations!r}")
    activations = list(activations)
    if len(activations) != L:
        raise ValueError(
            f"activations: expected one name for every layer or a list of {L} (one per layer 1..{L}), "
            f"got {len(activations)}: {activations}"
        )
    for name in activations:
        _act.get(name)
    return activations


def _check_theta(theta, units, dtype):
    """Copies of θ^0..θ^{L-1}, if there is one per layer, each ``(u^{j+1}, u^j + 1)`` of ``dtype``."""
    L = len(units) - 1
    if isinstance(theta, np.ndarray) or not hasattr(theta, "__len__"):
        raise TypeError(f"theta: expected a list of {L} arrays θ^0..θ^{L - 1}, got {type(theta).__name__}")
    if len(theta) != L:
        raise ValueError(f"theta: expected {L} arrays (θ^j for j = 0..{L - 1}, units {units}), got {len(theta)}")
    copies = []
    for j, t in enumerate(theta):
        expected = (units[j + 1], units[j] + 1)  # (u^{j+1}, u^j + 1)
        if not isinstance(t, np.ndarray):
            raise TypeError(f"theta[{j}]: expected a numpy array {expected} of {dtype}, got {type(t).__name__}")
        if t.dtype != dtype:
            raise TypeError(f"theta[{j}]: expected dtype {dtype}, got {t.dtype}")
        if t.shape != expected:
            raise ValueError(f"theta[{j}]: expected shape {expected} = (u^{j + 1}, u^{j} + 1), got {t.shape}")
        copies.append(np.array(t, order="C"))
    return copies


def _check_criterion(criterion, activations, units):
    """The criterion's name, if it knows it and the output layer suits it (see :mod:`scratchnn.losses`)."""
    c = _losses.get(criterion)
    if c.output is not None and activations[-1] != c.output:
        example = ["tanh"] * (len(units) - 2) + [c.output]
        raise ValueError(
            f"criterion {criterion!r}: expected the output activation g_L = {c.output!r} ({c.why}), "
            f"got {activations[-1]!r}; e.g. MLP({units}, activations={example}, criterion={criterion!r})"
        )
    if units[-1] < c.min_outputs:
        raise ValueError(
            f"criterion {criterion!r}: expected at least {c.min_outputs} output units (one per class), got "
            f"u^L = {units[-1]}; for two classes take 2 outputs, or 1 sigmoid output with criterion='bce'"
        )
    return criterion
