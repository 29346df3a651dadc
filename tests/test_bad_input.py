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
