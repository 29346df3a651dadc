r"""Exercises: a student writes the functions of the workshop's MLP, and ``check`` says whether they are right.

The functions (NumPy in, NumPy out, float64, tanh on every layer including the
output, 𝓛 = mean((a^L − Y)²) over all n·u^L entries, θ^j of shape
(u^{j+1}, u^j + 1) with the bias in column 0):

    forward(theta, X)                              -> [a^0, ..., a^L]
    output_delta(a_L, Y)                           -> δ^L
    layer_gradient(delta_next, a_j)                -> D^j = (δ^{j+1})ᵀ a^j
    hidden_delta(delta_next, theta_j, a_j)         -> δ^j = (δ^{j+1} θ^j[:, 1:]) ⊙ (1 − a^j[:, 1:]²)
    backward(theta, a, Y)                          -> [D^0, ..., D^{L-1}]
    numerical_gradient(theta, X, Y, eps)           -> central differences, shaped like theta
    sgd_momentum_step(theta, D, buf, lr, momentum) -> (theta, buf)        torch.optim.SGD, dampening 0
    adam_step(theta, D, m, v, t, lr, beta1, beta2, eps) -> (theta, m, v)  torch.optim.Adam

``check(forward)``, ``check(globals())`` or ``scratchnn check FILE.py`` runs them on
small random nets against torch (against scratchnn's engine when torch is not
installed), each function in a child process with a time limit (``timeout=``, 10 s),
prints a comparison table per function as it is checked and names known mistakes;
``hint("backward")`` gives a hint. Of the exercises' modules, torch is imported only by
``torch_reference``, and only when a check runs with torch installed.
"""

from .calls import NAMES
from .checker import TIMEOUT, FunctionResult, Report, check, check_file, run_file
from .hints import HINTS, hint
from .mistakes import names as mistake_names

__all__ = ["HINTS", "NAMES", "TIMEOUT", "FunctionResult", "Report", "check", "check_file", "hint", "mistake_names",
           "run_file"]
