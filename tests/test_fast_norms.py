"""The numba engine on nets with batch norm, layer norm and dropout (scratchnn.fast.norms) against the NumPy engine.

Errors are scale-relative, max|a - b| / max|b|. The NumPy engine is itself checked against torch's
modules (tests/test_norms.py); here the compiled engine must give its numbers: the same masks
(drawn from the same generator), losses, gradients, running statistics and fits.
"""

import numpy as np
import pytest

import scratchnn as sn
from scratchnn import fast


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def max_err(xs, ys):
    return max([rel_err(x, y) for x, y in zip(xs, ys)] or [0.0])


def random_net(seed, norm, p, dtype=np.float64):
    """A random net that is not degenerate (as tests/test_norms.py: u^0 >= 2, hidden widths >= 4), with its data."""
    rng = np.random.default_rng(seed)
    L = int(rng.integers(2, 4))
    units = [int(rng.integers(2, 5))] + [int(u) for u in rng.integers(4, 8, L - 1)] + [int(rng.integers(1, 4))]
    acts = [str(a) for a in rng.choice(["tanh", "sigmoid", "relu", "leaky_relu"], L - 1)] + [
        str(rng.choice(["identity", "tanh"]))]
    net = sn.MLP(units, acts, dtype, generator=seed, norm=norm, dropout=p)
    X = rng.standard_normal((48, units[0])).astype(dtype)
    Y = rng.standard_normal((48, units[-1])).astype(dtype)
    return net, X, Y


# (norm, p): every norm with and without dropout, and dropout alone
SHAPES = [("batch", 0.0), ("batch", 0.2), ("layer", 0.0), ("layer", 0.5), (None, 0.3)]

# float64: within 1e-12. Both engines round differently (the compiled one multiplies by 1/√(σ² + ε) as torch,
# NumPy divides by √(σ² + ε); sums in other orders): measured <= 5e-15 on the nets of these tests.
TOL = 1e-12


@pytest.mark.parametrize("case", range(len(SHAPES)))
def test_loss_and_grad_in_both_modes_are_the_numpy_engines(case):
    """One forward and backward pass, training mode then eval mode: loss, every gradient (θ, γ, β), the running
    statistics it updates and the generator's position after the masks it drew."""
    norm, p = SHAPES[case]
    a, X, Y = random_net(20 + case, norm, p)
    b = a.copy()
    for mode in ("train", "eval"):
        getattr(a, mode)()
        getattr(b, mode)()
        for _ in range(2):  # the second pass draws the next masks, from where the first left the generator
            la, Da = a.loss_and_grad(X, Y, l2=0.1)
            lb, Db = fast.loss_and_grad(b, X, Y, l2=0.1)
            assert rel_err(lb, la) <= TOL and max_err(Db, Da) <= TOL, mode
            assert [d.shape for d in Db] == [t.shape for t in b.params]
            assert max_err(b.running_mean + b.running_var, a.running_mean + a.running_var) <= TOL
            assert a.generator.get_state()[1] == b.generator.get_state()[1]
            assert np.array_equal(a.generator.get_state()[0], b.generator.get_state()[0])


def test_a_planted_mask_mistake_is_seen():
    """The comparison above can fail: the compiled pass with the generator one draw ahead differs from NumPy's."""
    a, X, Y = random_net(7, None, 0.3)
    b = a.copy()
    b.generator.rand((1,))  # one element: two words, the next mask shifted
    la, Da = a.loss_and_grad(X, Y)
    lb, Db = fast.loss_and_grad(b, X, Y)
    assert rel_err(lb, la) > 1e-3 or max_err(Db, Da) > 1e-3


def redundant_bias_columns(net):
    """The j of the θ^j whose bias column feeds a batch norm (β^{j+1} absorbs it: its gradient is rounding noise)."""
    return list(range(net.L - 1)) if net.norm == "batch" else []


@pytest.mark.parametrize("case", range(len(SHAPES)))
@pytest.mark.parametrize("batch_size", [None, 20])
def test_fit_is_the_numpy_engines(case, batch_size):
    """30 epochs of AdamW under a cosine schedule, with validation (eval mode), in float64.

    The loss curves, validation losses, γ, β and the weights agree to 1e-12. A batch-normed layer's bias
    column is the exception: its gradient is rounding noise on both sides, and Adam (slope lr/ε near a zero
    gradient) turns the noise into steps of up to lr, so the columns, and the running means that see them,
    may part by up to lr per step (30 steps of lr 0.01: 0.3), and the eval-mode validation loss with them.
    The training-mode losses do not see the bias (batch norm subtracts it), so they agree to 1e-12 throughout.
    Measured: losses <= 6e-16, weights, γ, β <= 6e-15; the bias columns 8e-10 apart, the running means 3e-9.
    """
    norm, p = SHAPES[case]
    a, X, Y = random_net(40 + case, norm, p)
    b = a.copy()
    Xv, Yv = X[:10] + 0.5, Y[:10]
    oa, ob = sn.AdamW(a.params, lr=0.01), sn.AdamW(b.params, lr=0.01)
    sa, sb = sn.CosineAnnealingLR(oa, 12), sn.CosineAnnealingLR(ob, 12)
    ha = sn.fit(a, X, Y, oa, epochs=30, batch_size=batch_size, seed=3, validation=(Xv, Yv), scheduler=sa)
    hb = sn.fit(b, X, Y, ob, epochs=30, batch_size=batch_size, seed=3, validation=(Xv, Yv), scheduler=sb,
                engine="numba")
    assert hb.engine == "numba" and ob.t == oa.t and (sb.last_epoch, ob.lr) == (sa.last_epoch, oa.lr)
    assert rel_err(hb.loss, ha.loss) <= TOL
    redundant = redundant_bias_columns(a)
    for j, (x, y) in enumerate(zip(b.theta, a.theta)):
        if j in redundant:
            assert np.abs(x[:, 0] - y[:, 0]).max() <= 0.01 * 30
            x, y = x[:, 1:], y[:, 1:]
        assert rel_err(x, y) <= TOL, j
    assert max_err(b.gamma + b.beta + b.running_var, a.gamma + a.beta + a.running_var) <= TOL
    if not redundant:
        assert rel_err(hb.val_loss, ha.val_loss) <= TOL
        assert max_err(b.running_mean, a.running_mean) <= TOL
    assert np.array_equal(a.generator.get_state()[0], b.generator.get_state()[0])
    assert a.training and b.training


@pytest.mark.parametrize("norm,p", [("batch", 0.2), ("layer", 0.0)])
def test_sgd_fit_with_batch_norm_agrees_everywhere(norm, p):
    """With SGD no noise is amplified (a step is lr times the gradient): every quantity to 1e-12, the
    redundant bias columns, running means and the eval-mode validation losses too; a step schedule."""
    a, X, Y = random_net(60, norm, p)
    b = a.copy()
    Xv, Yv = X[:10] - 0.5, Y[:10]
    oa, ob = (sn.SGD(n.params, lr=0.05, momentum=0.9) for n in (a, b))
    ha = sn.fit(a, X, Y, oa, epochs=25, batch_size=16, validation=(Xv, Yv), scheduler=sn.StepLR(oa, 5, 0.5))
    hb = sn.fit(b, X, Y, ob, epochs=25, batch_size=16, validation=(Xv, Yv), scheduler=sn.StepLR(ob, 5, 0.5),
                engine="numba")
    assert rel_err(hb.loss, ha.loss) <= TOL and rel_err(hb.val_loss, ha.val_loss) <= TOL
    assert max_err(b.params + b.running_mean + b.running_var, a.params + a.running_mean + a.running_var) <= TOL
    assert max_err(ob.b, oa.b) <= TOL and ob.lr == oa.lr


def test_same_seed_same_bits_and_the_fit_continues_in_pieces():
    """Two fits of one net give the same bits; a fit in two pieces (the generator, running statistics and
    optimizer state carried over) gives the bits of one fit."""
    runs = []
    for pieces in ((12,), (12,), (5, 7)):
        net, X, Y = random_net(80, "batch", 0.25)
        opt = sn.Adam(net.params, lr=0.01)
        start = 0
        for epochs in pieces:
            sn.fit(net, X, Y, opt, epochs=epochs, batch_size=16, seed=2, start_epoch=start, engine="numba")
            start += epochs
        runs.append(b"".join(a.tobytes() for a in net.params + net.running_mean + net.running_var))
    assert runs[0] == runs[1] == runs[2]


def test_float32_stays_float32_and_agrees_with_numpy():
    """float32 in, float32 out: parameters, gradients, statistics. 20 epochs of Adam, minibatches, batch norm and
    dropout: the losses within 1e-4 relative (the NumPy engine's float32 bound against torch, tests/test_norms.py:
    sums in other orders, a few digits lost where σ normalises a partly cancelling sum, compounded by the steps).
    Measured 1.4e-7."""
    a, X, Y = random_net(90, "batch", 0.1, np.float32)
    b = a.copy()
    loss, D = fast.loss_and_grad(b.copy(), X, Y)
    assert loss.dtype == np.float32 and all(d.dtype == np.float32 for d in D)
    ha = sn.fit(a, X, Y, sn.Adam(a.params, lr=0.01), epochs=20, batch_size=24)
    hb = sn.fit(b, X, Y, sn.Adam(b.params, lr=0.01), epochs=20, batch_size=24, engine="numba")
    assert all(x.dtype == np.float32 for x in b.params + b.running_mean + b.running_var)
    assert rel_err(hb.loss, ha.loss) <= 1e-4


def test_batch_norm_needs_two_points_in_every_batch():
    net, X, Y = random_net(3, "batch", 0.0)
    with pytest.raises(ValueError, match="^batch_size: batch norm in training mode needs at least 2 points"):
        sn.fit(net, X[:41], Y[:41], epochs=1, batch_size=20, engine="numba")  # 20, 20, 1
    with pytest.raises(ValueError, match="^X: batch norm in training mode needs at least 2 data points"):
        fast.loss_and_grad(net, X[:1], Y[:1])
    net.eval()
    fast.loss_and_grad(net, X[:1], Y[:1])  # eval mode: the running statistics, one point is fine


@pytest.mark.parametrize("norm,p", [("batch", 0.1), ("layer", 0.2)])
def test_blas_layers_are_the_numpy_engines(norm, p):
    """Layers of (u^j + 1) u^{j+1} >= engine.BLAS_MIN entries multiply through BLAS (the bench's 1-32-32-1 is such a
    net; the random nets above are not): 3-20-20-2 tanh, float64, one pass in each mode and 10 epochs of AdamW."""
    from scratchnn.fast import engine

    units = [3, 20, 20, 2]
    assert [engine.uses_blas(units[j], units[j + 1]) for j in range(3)] == [False, True, False]
    a = sn.MLP(units, ["tanh", "tanh", "identity"], np.float64, generator=5, norm=norm, dropout=p)
    b = a.copy()
    rng = np.random.default_rng(5)
    X, Y = rng.standard_normal((64, 3)), rng.standard_normal((64, 2))
    for mode in ("train", "eval"):
        getattr(a, mode)()
        getattr(b, mode)()
        la, Da = a.loss_and_grad(X, Y)
        lb, Db = fast.loss_and_grad(b, X, Y)
        assert rel_err(lb, la) <= TOL and max_err(Db, Da) <= TOL, mode
    a.train()
    b.train()
    ha = sn.fit(a, X, Y, sn.SGD(a.params, lr=0.05), epochs=10)
    hb = sn.fit(b, X, Y, sn.SGD(b.params, lr=0.05), epochs=10, engine="numba")
    assert rel_err(hb.loss, ha.loss) <= TOL and max_err(b.params, a.params) <= TOL
