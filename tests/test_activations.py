"""Each activation g and its derivative g': against central differences and against torch."""

import numpy as np
import pytest

import scratchnn as sn
from scratchnn import activations

NAMES = sorted(sn.ACTIVATIONS)
# points away from the kink of relu / leaky_relu at 0, where g' is undefined
Z = np.concatenate([np.linspace(-6, -0.01, 200), np.linspace(0.01, 6, 200)])


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_central_differences(name):
    g = activations.get(name)
    h = 1e-6
    numeric = (g.g(Z + h) - g.g(Z - h)) / (2 * h)
    analytic = g.g_prime(Z, g.g(Z))
    # central differences in float64 with h = 1e-6: truncation ~h^2 |g'''| ~ 1e-12,
    # rounding ~ u/h ~ 1e-10
    np.testing.assert_allclose(analytic, numeric, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_and_derivative_match_torch(name, dtype):
    torch = pytest.importorskip("torch")
    from torchref.bridge import MODULES

    z = np.concatenate([Z, [-80.0, -20.0, 20.0, 80.0]]).astype(dtype)
    g = activations.get(name)
    zt = torch.from_numpy(z.copy()).requires_grad_(True)
    at = MODULES[name]()(zt)
    at.sum().backward()
    a = g.g(z)
    assert a.dtype == dtype
    # float32: torch's vectorised exp/tanh are ~1 ulp from NumPy's (u = 6e-8);
    # float64: both are within an ulp or two of the true value (u = 1.1e-16)
    tol = 4e-7 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(a, at.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(g.g_prime(z, a), zt.grad.numpy(), rtol=tol, atol=tol)


def test_unknown_activation_is_rejected_with_the_known_names():
    with pytest.raises(ValueError, match="swish.*identity"):
        activations.get("swish")
    with pytest.raises(TypeError, match="activations"):
        activations.get(3)


def test_sigmoid_saturates_without_warnings():
    with np.errstate(all="raise"):
        a = activations.get("sigmoid").g(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_array_equal(a, [0.0, 0.5, 1.0])
