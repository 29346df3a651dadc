"""Every public entry point rejects bad input with an error that names the argument."""

import numpy as np
import pytest

import scratchnn as sn


@pytest.fixture
def net():
    return sn.MLP([2, 3, 1])


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((10, 2)).astype(np.float32), rng.standard_normal((10, 1)).astype(np.float32)


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"units": [1]}, ValueError, "units"),
        ({"units": []}, ValueError, "units"),
        ({"units": [1, 0, 1]}, ValueError, "units"),
        ({"units": [1, -3, 1]}, ValueError, "units"),
        ({"units": [1, 2.5, 1]}, TypeError, "units"),
        ({"units": "1,5,1"}, TypeError, "units"),
        ({"units": [1, 5, 1], "activations": "swish"}, ValueError, "activations.*swish"),
        ({"units": [1, 5, 1], "activations": ["tanh"]}, ValueError, "activations.*expected.*2"),
        ({"units": [1, 5, 1], "activations": ["tanh", "tanh", "tanh"]}, ValueError, "activations"),
        ({"units": [1, 5, 1], "activations": [None, "tanh"]}, TypeError, "activations"),
        ({"units": [1, 5, 1], "dtype": np.int32}, TypeError, "dtype"),
        ({"units": [1, 5, 1], "dtype": np.float16}, TypeError, "dtype"),
        ({"units": [1, 5, 1], "dtype": "banana"}, TypeError, "dtype"),
        ({"units": [1, 5, 1], "generator": 1.5}, TypeError, "generator"),
        ({"units": [1, 5, 1], "generator": "10"}, TypeError, "generator"),
    ],
)
def test_mlp_constructor(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        sn.MLP(**kwargs)


def _bad_arrays(X):
    """(description, bad X, exception, message) for an array that should look like X."""
    nan = X.copy()
    nan[3, 0] = np.nan
    inf = X.copy()
    inf[0, -1] = -np.inf
    return [
        ("float64 for a float32 net", X.astype(np.float64), TypeError, "dtype float32"),
        ("ints", X.astype(np.int64), TypeError, "dtype"),
        ("a list", X.tolist(), TypeError, "numpy array"),
        ("1-D", X[:, 0].copy(), ValueError, "2-D"),
        ("wrong width", np.ones((10, 5), np.float32), ValueError, r"\(n, "),
        ("empty", X[:0], ValueError, "at least one"),
        ("NaN", nan, ValueError, "NaN"),
        ("inf", inf, ValueError, "inf"),
    ]


@pytest.mark.parametrize("method", ["forward", "forward_trace"])
def test_forward_rejects_bad_X(net, data, method):
    for what, X, exc, match in _bad_arrays(data[0]):
        with pytest.raises(exc, match=match):
            getattr(net, method)(X)
        with pytest.raises(exc, match="^X"):
            getattr(net, method)(X)


@pytest.mark.parametrize("entry", ["loss", "loss_and_grad", "gradcheck", "fit"])
def test_pair_entry_points_reject_bad_X_and_Y(net, data, entry):
    X, Y = data
    call = {
        "loss": lambda X, Y: net.loss(X, Y),
        "loss_and_grad": lambda X, Y: net.loss_and_grad(X, Y),
        "gradcheck": lambda X, Y: sn.gradcheck(net, X, Y),
        "fit": lambda X, Y: sn.fit(net, X, Y, epochs=1),
    }[entry]
    for what, bad, exc, match in _bad_arrays(X):
        with pytest.raises(exc, match="^X"):
            call(bad, Y)
    for what, bad, exc, match in _bad_arrays(Y):
        with pytest.raises(exc, match="^Y"):
            call(X, bad)
    with pytest.raises(ValueError, match="same number of rows"):
        call(X, Y[:5])


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": -5}, ValueError, "epochs"),
        ({"epochs": 2.0}, TypeError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 3.5}, TypeError, "batch_size"),
        ({"seed": -1}, ValueError, "seed"),
        ({"engine": "cuda"}, ValueError, "engine"),
        ({"engine": None}, ValueError, "engine"),
        ({"optimizer": "adam"}, TypeError, "optimizer"),
        ({"validation": "x"}, TypeError, "validation"),
        ({"start_epoch": -1}, ValueError, "start_epoch"),
    ],
)
def test_fit_rejects_bad_settings(net, data, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        sn.fit(net, *data, **kwargs)


def test_fit_rejects_an_optimizer_of_another_net(net, data):
    other = sn.MLP([2, 3, 1])
    with pytest.raises(ValueError, match="optimizer"):
        sn.fit(net, *data, optimizer=sn.Adam(other.theta))


def test_fit_rejects_bad_validation(net, data):
    X, Y = data
    with pytest.raises(ValueError, match=r"validation\[0\]"):
        sn.fit(net, X, Y, validation=(np.ones((4, 7), np.float32), Y[:4]), epochs=1)
    with pytest.raises(TypeError, match=r"validation\[1\]"):
        sn.fit(net, X, Y, validation=(X, Y.astype(np.float64)), epochs=1)


@pytest.mark.parametrize(
    "cls,kwargs,exc,match",
    [
        (sn.Adam, {"lr": 0.0}, ValueError, "lr"),
        (sn.Adam, {"lr": -1e-3}, ValueError, "lr"),
        (sn.Adam, {"lr": float("nan")}, ValueError, "lr"),
        (sn.Adam, {"lr": "fast"}, TypeError, "lr"),
        (sn.Adam, {"betas": (1.0, 0.999)}, ValueError, r"betas\[0\]"),
        (sn.Adam, {"betas": (0.9, -0.1)}, ValueError, r"betas\[1\]"),
        (sn.Adam, {"betas": (0.9,)}, ValueError, "betas"),
        (sn.Adam, {"eps": -1e-8}, ValueError, "eps"),
        (sn.Adam, {"weight_decay": -0.1}, ValueError, "weight_decay"),
        (sn.Adam, {"amsgrad": "yes"}, TypeError, "amsgrad"),
        (sn.SGD, {"lr": 0}, ValueError, "lr"),
        (sn.SGD, {"lr": -0.1}, ValueError, "lr"),
        (sn.SGD, {"momentum": -0.5}, ValueError, "momentum"),
        (sn.SGD, {"nesterov": True}, ValueError, "nesterov"),
        (sn.SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, ValueError, "nesterov"),
        (sn.SGD, {"weight_decay": -1}, ValueError, "weight_decay"),
    ],
)
def test_optimizer_settings(net, cls, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        cls(net.theta, **kwargs)


def test_optimizer_rejects_bad_theta_and_gradients(net):
    with pytest.raises(TypeError, match="theta"):
        sn.Adam(net)
    with pytest.raises(TypeError, match="theta"):
        sn.SGD([])
    opt = sn.SGD(net.theta, lr=0.1)
    with pytest.raises(ValueError, match="D"):
        opt.step([np.zeros((3, 3), np.float32)])
    with pytest.raises(ValueError, match=r"D\[1\]"):
        opt.step([np.zeros((3, 3), np.float32), np.zeros((1, 4), np.float64)])


def test_torchref_rejects_bad_input(net, data):
    torch = pytest.importorskip("torch")
    import torchref

    with pytest.raises(TypeError, match="net"):
        torchref.to_torch("model")
    with pytest.raises(ValueError, match="model"):
        torchref.from_torch(torch.nn.Sequential(torch.nn.Tanh()))
    with pytest.raises(ValueError, match="model"):
        torchref.from_torch(torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.GELU()))
    with pytest.raises(TypeError, match="model"):
        torchref.from_torch(torch.nn.Linear(1, 2))
    model = torchref.to_torch(net)
    X, Y = data
    with pytest.raises(TypeError, match="^X"):
        torchref.fit(model, X.astype(np.float64), Y, epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        torchref.fit(model, X, Y, epochs=0)
    with pytest.raises(ValueError, match="resync_every"):
        torchref.compare(net, X, Y, epochs=1, resync_every=0)


# ------------------------------------------------------------ criteria, targets and L2
@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        ({"criterion": "hinge"}, ValueError, "criterion: unknown criterion 'hinge'"),
        ({"criterion": None}, TypeError, "criterion"),
        ({"criterion": "bce"}, ValueError, r"criterion 'bce': expected the output activation g_L = 'sigmoid'.*'tanh'"),
        ({"criterion": "cross_entropy", "units": [2, 3, 3]}, ValueError, "'identity'.*logits"),
        ({"criterion": "cross_entropy", "activations": ["tanh", "identity"]}, ValueError, "at least 2 output units"),
    ],
)
def test_criterion_must_suit_the_output_layer(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        sn.MLP(**{"units": [2, 3, 1], **kwargs})


@pytest.fixture
def classifier():
    return sn.MLP([2, 3, 3], ["tanh", "identity"], criterion="cross_entropy")


def _bad_class_targets(n):
    probs = np.full((n, 3), 1 / 3, np.float32)
    unnormalised = probs.copy()
    unnormalised[4] *= 2
    negative = probs.copy()
    negative[2] = [1.5, -0.25, -0.25]
    return [
        ("label out of range", np.array([0, 1, 3] + [0] * (n - 3)), ValueError, r"0\.\.2.*got 3 at row 2"),
        ("negative label", np.array([-1] + [0] * (n - 1)), ValueError, r"0\.\.2.*got -1"),
        ("float labels", np.zeros(n), TypeError, r"float64 labels.*astype\(np.int64\)"),
        ("bool labels", np.zeros(n, bool), TypeError, "class indices"),
        ("int matrix", np.zeros((n, 3), np.int64), TypeError, r"class indices \(n,\)"),
        ("rows not summing to 1", unnormalised, ValueError, "row 4 sums to 2"),
        ("negative probability", negative, ValueError, ">= 0"),
        ("wrong width", np.full((n, 2), 0.5, np.float32), ValueError, r"\(n, 3\)"),
        ("a list", [0] * n, TypeError, "numpy array"),
    ]


@pytest.mark.parametrize("entry", ["loss", "loss_and_grad", "backward", "gradcheck", "fit", "fit numba", "accuracy"])
def test_classifier_entry_points_reject_bad_targets(classifier, data, entry):
    X = data[0]
    call = {
        "loss": lambda Y: classifier.loss(X, Y),
        "loss_and_grad": lambda Y: classifier.loss_and_grad(X, Y),
        "backward": lambda Y: classifier.backward(classifier.forward_trace(X), Y),
        "gradcheck": lambda Y: sn.gradcheck(classifier, X, Y),
        "fit": lambda Y: sn.fit(classifier, X, Y, epochs=1),
        "fit numba": lambda Y: sn.fit(classifier, X, Y, epochs=1, engine="numba"),
        "accuracy": lambda Y: sn.accuracy(classifier, X, Y),
    }[entry]
    for what, Y, exc, match in _bad_class_targets(len(X)):
        if entry == "accuracy" and what in ("rows not summing to 1", "negative probability"):
            continue  # accuracy takes the argmax of any score rows
        if entry == "accuracy":
            match = "^y"
        with pytest.raises(exc, match=match):
            call(Y)


def test_bce_targets_must_be_probabilities(data):
    net = sn.MLP([2, 3, 1], ["tanh", "sigmoid"], criterion="bce")
    X, Y = data
    for bad in (Y, np.full_like(Y, -0.01)):  # standard normal, and just below 0
        with pytest.raises(ValueError, match=r"^Y: binary cross-entropy targets are probabilities in \[0, 1\]"):
            net.loss_and_grad(X, bad)
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            sn.fit(net, X, bad, epochs=1)
    with pytest.raises(ValueError, match=r"^validation\[1\]: binary cross-entropy"):
        sn.fit(net, X, np.zeros_like(Y), epochs=1, validation=(X, Y))


@pytest.mark.parametrize("l2,exc", [(-0.1, ValueError), (float("inf"), ValueError), ("1", TypeError), (None, TypeError)])
def test_l2_must_be_a_nonnegative_number(net, data, l2, exc):
    X, Y = data
    for call in (lambda: net.loss_and_grad(X, Y, l2=l2), lambda: net.loss(X, Y, l2=l2),
                 lambda: sn.fit(net, X, Y, epochs=1, l2=l2), lambda: sn.gradcheck(net, X, Y, l2=l2)):
        with pytest.raises(exc, match="^l2"):
            call()


def test_torchref_checks_targets_as_scratchnn_does(classifier, data):
    pytest.importorskip("torch")
    import torchref

    model = torchref.to_torch(classifier)
    X = data[0]
    with pytest.raises(ValueError, match=r"^Y: class indices must lie in 0\.\.2"):
        torchref.fit(model, X, np.full(len(X), 5), epochs=1, criterion="cross_entropy")
    with pytest.raises(ValueError, match="^l2"):
        torchref.fit(model, X, np.zeros(len(X), np.int64), epochs=1, criterion="cross_entropy", l2=-1)
    with pytest.raises(ValueError, match="criterion"):
        torchref.fit(model, X, np.zeros(len(X), np.int64), epochs=1, criterion="nll")
