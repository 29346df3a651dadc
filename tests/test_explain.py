"""explain: the worked example's quantities, its printed walk, and its comparison with torch's autograd."""

import numpy as np
import pytest

import scratchnn as sn
from conftest import random_data


def tiny(generator=7):
    """The 1-2-1 net of tutorial 2 on two data points, float64 (generator 7: both hidden units carry signal)."""
    net = sn.MLP([1, 2, 1], dtype=np.float64, generator=generator)
    X = np.array([[0.5], [-0.3]])
    Y = np.array([[0.2], [-0.1]])
    return net, X, Y


@pytest.mark.parametrize("units", [[1, 2, 1], [3, 4, 5, 2], [2, 1]])
def test_quantities_are_indexed_like_forward_trace_and_backward(units):
    net = sn.MLP(units, activations="sigmoid", dtype=np.float64, generator=3)
    X, Y = random_data(units, 5, np.float64, 0)
    e = sn.explain(net, X, Y)
    trace = net.forward_trace(X)
    delta, D = net.backward(trace, Y)
    assert e.z[0] is None and e.delta[0] is None
    for j in range(net.L + 1):
        assert np.array_equal(e.a[j], trace.a[j])
        if j:
            assert np.array_equal(e.z[j], trace.z[j]) and np.array_equal(e.delta[j], delta[j])
    assert all(np.array_equal(p, q) for p, q in zip(e.D, D))
    assert e.loss == net.loss(X, Y)


def test_walk_prints_each_quantity_beside_its_equation():
    net, X, Y = tiny()
    e = sn.explain(net, X, Y)
    text = str(e)
    order = ["Indices count from 1", "Forward pass", "a^0 = [1, X]", "θ^0: weights from layer 0 to layer 1",
             "z^1 = a^0 (θ^0)ᵀ", "a^1 = [1, g_1(z^1)]", "θ^1: weights from layer 1 to layer 2", "z^2 = a^1 (θ^1)ᵀ",
             "a^2 = g_2(z^2)", "Loss", "Y: the targets", "𝓛 =", "Backward pass", "δ^2 = (2/(n u^L)) (a^2 - Y) ⊙ g_2'(z^2)",
             "D^1 = (δ^2)ᵀ a^1", "δ^1 = (δ^2 θ^1[:, 1:]) ⊙ g_1'(z^1)", "D^0 = (δ^1)ᵀ a^0"]
    positions = [text.index(s) for s in order]
    assert positions == sorted(positions)
    line = next(l for l in text.splitlines() if l.startswith("D^1"))
    assert line.endswith("shape (1, 3)")
    # short arrays in full: every entry of D^1 is printed, to 6 digits
    for v in e.D[1].ravel():
        assert f"{v:.6f}".rstrip("0") in text
    assert f"{e.loss:.10g}" in text


def _printed(text, name):
    """The values printed under the line that starts with ``name``, as floats (a short array, printed in full)."""
    lines = text.splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith(name))
    values = []
    for line in lines[k + 1:]:
        if not line.startswith("    "):
            break
        values += [float(v) for v in line.replace("[", " ").replace("]", " ").split()]
    return np.array(values)


def test_walk_prints_theta_and_Y_beside_their_names():
    """z^1 = a^0 (θ^0)ᵀ can be followed from the printout alone: θ^j and Y are printed with their values."""
    net, X, Y = tiny()
    text = str(sn.explain(net, X, Y))
    for j in range(net.L):
        assert f"θ^{j}: weights from layer {j} to layer {j + 1}, bias in column 0    shape {net.theta[j].shape}" in text
        np.testing.assert_allclose(_printed(text, f"θ^{j}:"), net.theta[j].ravel(), rtol=0, atol=5e-7)  # 6 digits
    np.testing.assert_allclose(_printed(text, "Y: the targets"), [0.2, -0.1], rtol=0, atol=0)
    # and z^1, recomputed by hand from the printed a^0 and θ^0, is the printed z^1 (to the printed digits)
    a0 = _printed(text, "a^0 = [1, X]").reshape(2, 2)
    theta0 = _printed(text, "θ^0:").reshape(2, 2)
    np.testing.assert_allclose(a0 @ theta0.T, _printed(text, "z^1 =").reshape(2, 2), rtol=0, atol=2e-6)


def test_explanation_keeps_the_inputs_it_was_computed_from():
    net = sn.MLP([2, 3, 3], activations=["tanh", "identity"], dtype=np.float64, generator=1, criterion="cross_entropy")
    X = np.array([[0.1, -0.2], [0.3, 0.4]])
    e = sn.explain(net, X, np.array([0, 2]))
    assert all(np.array_equal(t, u) and t is not u for t, u in zip(e.theta, net.theta))
    assert np.array_equal(e.Y, [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # class indices as one-hot rows


def test_worked_example_has_two_hidden_units_that_carry_signal():
    """Tutorial 2's example: each hidden unit's input weight and output weight is far from 0, so its activation
    differs between the two points and its D^0 and D^1 entries are not negligible (generator 10's unit 2 has
    θ^0_{21} = -0.000026)."""
    net, X, Y = tiny()
    e = sn.explain(net, X, Y)
    assert np.all(np.abs(net.theta[0][:, 1]) > 0.4) and np.all(np.abs(net.theta[1][0, 1:]) > 0.4)
    assert np.all(np.abs(e.a[1][0, 1:] - e.a[1][1, 1:]) > 0.2)
    assert np.all(np.abs(e.D[0]) > 0.03) and np.all(np.abs(e.D[1]) > 0.1)
    assert abs(tiny(generator=10)[0].theta[0][1, 1]) < 1e-4  # the example it replaces


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["relu", "leaky_relu"])
def test_kinked_derivatives_can_be_read_off_a(name, dtype):
    """a > 0 exactly when z > 0 (0.01 z has the sign of z), so g'(z) of relu and leaky_relu follows from a alone;
    checked against the engine's g'(z) and against torch's autograd, at and around the kink."""
    g = sn.activations.get(name)
    tiny_ = np.finfo(dtype).smallest_subnormal
    z = np.array([-3.0, -1e-3, -tiny_, -0.0, 0.0, tiny_, 1e-3, 2.5, 1e30], dtype=dtype)
    a = g.g(z)
    slope = {"relu": 0.0, "leaky_relu": sn.activations.LEAKY_SLOPE}[name]
    from_a = np.where(a > 0, dtype(1), dtype(slope))
    assert np.array_equal(from_a, g.g_prime(z, a))
    torch = pytest.importorskip("torch")
    from torchref.bridge import MODULES

    zt = torch.from_numpy(z).requires_grad_()
    MODULES[name]()(zt).sum().backward()
    assert np.array_equal(from_a, zt.grad.numpy())


def test_long_arrays_are_abbreviated():
    net = sn.MLP([3, 20, 1], dtype=np.float64)
    X, Y = random_data([3, 20, 1], 50, np.float64, 1)
    text = str(sn.explain(net, X, Y))
    assert "..." in text
    assert len(text.splitlines()) < 100


def test_compare_with_itself_is_exact_and_a_planted_difference_is_found():
    net, X, Y = tiny()
    e, f = sn.explain(net, X, Y), sn.explain(net, X, Y)
    c = e.compare(f)
    assert c.ok and all(r.exact for r in c)
    labels = [r.label for r in c]
    assert labels == ["a^0", "z^1", "a^1", "z^2", "a^2", "loss", "delta^2", "D^1", "delta^1", "D^0"]
    f.D[0] = f.D[0].T.copy()  # a transposed D^0 (2 x 2: same shape, other values)
    bad = e.compare(f).failures()
    assert [r.label for r in bad] == ["D^0"]
    assert e.compare(f).warning == "" and not str(e.compare(f)).startswith("Warning")  # same X, Y, θ


def test_compare_warns_when_the_inputs_differ():
    """Two passes from different θ (or X, Y) differ everywhere: the table says so above its rows, and names what
    differs, with the difference computed here from the nets themselves."""
    net, X, Y = tiny()
    other, _, _ = tiny(generator=10)
    c = sn.explain(net, X, Y).compare(sn.explain(other, X, Y))
    first, second = str(c).splitlines()[:2]
    diffs = [np.max(np.abs(p - q)) for p, q in zip(net.theta, other.theta)]
    assert first == (f"Warning: these two explanations were computed from different θ^0 (max abs diff {diffs[0]:.2e}), "
                     f"θ^1 (max abs diff {diffs[1]:.2e}).")
    assert "Rows that are not close are expected" in second
    assert not c.ok and "quantity" in str(c).splitlines()[2]
    # different targets, and a different number of points
    c = sn.explain(net, X, Y).compare(sn.explain(net, X, Y + 0.5))
    assert c.warning.startswith("Warning: these two explanations were computed from different Y (max abs diff 5.00e-01).")
    c = sn.explain(net, X, Y).compare(sn.explain(net, X[:1], Y[:1]))
    assert "different X (shape (2, 1) against (1, 1)), Y (shape (2, 1) against (1, 1))." in c.warning


def test_bad_input():
    net, X, Y = tiny()
    with pytest.raises(TypeError, match="net: expected a scratchnn.MLP"):
        sn.explain("net", X, Y)
    with pytest.raises(TypeError, match="X: expected dtype float64"):
        sn.explain(net, X.astype(np.float32), Y)
    e = sn.explain(net, X, Y)
    with pytest.raises(TypeError, match="other: expected an Explanation"):
        e.compare(net)
    other = sn.explain(sn.MLP([1, 3, 1], dtype=np.float64), X, Y)
    with pytest.raises(ValueError, match=r"other: expected an explanation of a \[1, 2, 1\] net"):
        e.compare(other)


# ---------------------------------------------------------------- against torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("units, activations", [([1, 2, 1], "tanh"), ([3, 5, 4, 2], ["relu", "sigmoid", "identity"]),
                                                ([2, 6, 1], ["leaky_relu", "tanh"])])
def test_scratchnn_agrees_with_torch_autograd(units, activations, dtype):
    pytest.importorskip("torch")
    import torchref

    net = sn.MLP(units, activations=activations, dtype=dtype, generator=7)
    X, Y = random_data(units, 9, dtype, 2)
    ours, theirs = sn.explain(net, X, Y), torchref.explain(net, X, Y)
    assert isinstance(theirs, sn.Explanation) and theirs.source == "torch"
    c = ours.compare(theirs)
    assert c.warning == ""  # torch's θ, read back from its Linear modules, is net.theta to the bit
    # every row close at the dtype's tolerance (scratchnn.teaching.compare.RTOL: 1e-10 float64, 1e-4 float32)
    assert c.ok, str(c)
    # torch's a^0, z^1 and a^1 come from the same products: float64 agrees far tighter than the bound
    if dtype == np.float64:
        assert max(r.max_rel for r in c) < 1e-13, str(c)


def test_torch_walk_is_captioned_as_autograds_values():
    pytest.importorskip("torch")
    import torchref

    net, X, Y = tiny()
    caption = "autograd's values; the labels are the equations they should satisfy"
    assert str(torchref.explain(net, X, Y)).splitlines()[1] == caption
    assert caption not in str(sn.explain(net, X, Y))


def test_torch_delta_is_read_off_z_grad_not_computed():
    """torchref.explain's delta^j is torch's own z.grad: it matches the finite difference of the loss in z."""
    pytest.importorskip("torch")
    import torchref

    net, X, Y = tiny()
    t = torchref.explain(net, X, Y)
    # dL/dz^1_{i s} by central differences, pushing z^1 forward by hand
    def loss_from_z1(z1):
        a1 = np.hstack([np.ones((2, 1)), np.tanh(z1)])
        return np.mean((np.tanh(a1 @ net.theta[1].T) - Y) ** 2)

    eps = 1e-6
    numeric = np.zeros_like(t.z[1])
    for idx in np.ndindex(numeric.shape):
        zp, zm = t.z[1].copy(), t.z[1].copy()
        zp[idx] += eps
        zm[idx] -= eps
        numeric[idx] = (loss_from_z1(zp) - loss_from_z1(zm)) / (2 * eps)
    # central differences in float64 with eps 1e-6: truncation ~eps^2, rounding ~1e-16/eps ~ 1e-10
    assert np.allclose(t.delta[1], numeric, rtol=0, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("criterion, activations, targets", [
    ("bce", ["tanh", "sigmoid"], "probabilities"),
    ("cross_entropy", ["tanh", "identity"], "indices"),
    ("cross_entropy", ["relu", "identity"], "rows"),
])
def test_classification_criteria_agree_with_torch(criterion, activations, targets, dtype):
    """explain follows net.criterion: its loss and delta^L are the criterion's, as torch's loss module computes them."""
    pytest.importorskip("torch")
    import torchref

    rng = np.random.default_rng(5)
    net = sn.MLP([3, 4, 3], activations=activations, dtype=dtype, generator=2, criterion=criterion)
    X = rng.standard_normal((6, 3)).astype(dtype)
    Y = {"probabilities": rng.uniform(0, 1, (6, 3)).astype(dtype),
         "indices": rng.integers(0, 3, 6),
         "rows": rng.dirichlet(np.ones(3), 6).astype(dtype)}[targets]
    ours, theirs = sn.explain(net, X, Y), torchref.explain(net, X, Y)
    c = ours.compare(theirs)
    assert c.ok, str(c)
    assert ours.criterion == theirs.criterion == criterion
    line = {"bce": "δ^2 = (a^2 - Y) / (n u^L)", "cross_entropy": "δ^2 = (softmax(z^2) - Y) / n"}[criterion]
    assert line in str(ours)


def test_classification_walk_names_its_loss():
    net = sn.MLP([2, 3, 3], activations=["tanh", "identity"], dtype=np.float64, criterion="cross_entropy")
    X = np.array([[0.1, -0.2], [0.3, 0.4]])
    e = sn.explain(net, X, np.array([0, 2]))
    text = str(e)
    assert "criterion cross_entropy" in text and "𝓛 = -(1/n) Σ_i Σ_s y_is log softmax(z^L_i)_s" in text
    assert e.loss == net.loss(X, np.array([0, 2]))
    mse_net = sn.MLP([2, 3, 3], activations=["tanh", "identity"], dtype=np.float64)
    with pytest.raises(ValueError, match="criterion cross_entropy, got \\[2, 3, 3\\] with mse"):
        e.compare(sn.explain(mse_net, X, np.zeros((2, 3))))
