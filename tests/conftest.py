"""Shared fixtures. Errors are scale-relative, ``max|a - b| / max|b|`` (see torchref.agreement)."""

import numpy as np
import pytest
from hypothesis import settings

# Searches are derandomized so that the suite is the same run to run.
settings.register_profile("scratchnn", derandomize=True, deadline=None)
settings.load_profile("scratchnn")

import scratchnn as sn


def random_data(units, n, dtype, seed):
    """Standard-normal inputs (n, u^0) and targets (n, u^L) of ``dtype``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, units[0])).astype(dtype)
    Y = rng.standard_normal((n, units[-1])).astype(dtype)
    return X, Y


@pytest.fixture
def workshop():
    return sn.workshop_data()


def needs_sklearn():
    """Skip unless scikit-learn (the digits) imports.

    test_no_torch blocks torch with None in sys.modules, and scipy (under scikit-learn) then
    fails on import with an AttributeError: without torch installed it imports fine.
    """
    import sys

    if "torch" in sys.modules and sys.modules["torch"] is None:
        pytest.skip("scikit-learn's scipy cannot import while torch is blocked with None in sys.modules")
    return pytest.importorskip("sklearn")
