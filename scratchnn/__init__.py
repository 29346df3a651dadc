"""scratchnn: a from-scratch MLP in NumPy, in the notation of the workshop, checked against torch.

The NumPy engine reads like the derivation (``mlp``); ``fast`` is the same
engine compiled with numba (``engine="numba"``); ``torchref`` (a separate
package) trains the same fits in PyTorch.
"""

from . import datasets
from .activations import ACTIVATIONS
from .data import lp_normalize, workshop_data
from .teaching.explain import Explanation, explain
from .generator import TorchGenerator
from .teaching.gradcheck import GradcheckResult, gradcheck
from .losses import CRITERIA
from .metrics import accuracy
from .mlp import MLP, Trace
from .optimizers import SGD, Adagrad, Adam, AdamW, RMSprop
from .schedules import CosineAnnealingLR, ExponentialLR, StepLR
from .epochs import DivergenceError, History, batches, epoch_order
from .train import fit

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS",
    "CRITERIA",
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "DivergenceError",
    "ExponentialLR",
    "Explanation",
    "GradcheckResult",
    "History",
    "MLP",
    "RMSprop",
    "SGD",
    "StepLR",
    "TorchGenerator",
    "Trace",
    "accuracy",
    "batches",
    "datasets",
    "epoch_order",
    "explain",
    "fit",
    "gradcheck",
    "lp_normalize",
    "workshop_data",
]
