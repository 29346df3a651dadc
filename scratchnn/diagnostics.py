r"""How big the errors δ^j are, layer by layer: vanishing and exploding gradients, measured.

The backward pass (:mod:`scratchnn.mlp`) carries the error from the output back to layer 1,

    δ^j = (δ^{j+1} θ^j[:, 1:]) ⊙ g_j'(z^j)            (n, u^j)

so each layer multiplies it by a weight matrix and by g'. Where |θ| g' stays below 1 the
error shrinks on its way to the input (vanishing gradients: a saturated tanh or sigmoid has
g' near 0); where it stays above 1 it grows (exploding gradients). D^j = (δ^{j+1})ᵀ a^j
inherits that size, and so does the update of θ^j.
"""

import numpy as np


def delta_norms(net, X, Y):
    r"""‖δ^j‖ for j = 1..L, of one forward and backward pass over (X, Y): an array of L numbers.

    ‖δ^j‖ = sqrt(Σ_i Σ_s (δ^j_is)²), the Frobenius norm of the ``(n, u^j)`` error of layer j;
    entry ``j - 1`` of the result is layer j's (the input layer 0 has no δ).
    Y: the targets ``net.criterion`` takes. The net is not changed.
    """
    trace = net.forward_trace(X)
    delta, _ = net.backward(trace, Y)  # delta[j]: (n, u^j) for j = 1..L
    return np.array([np.linalg.norm(delta[j]) for j in range(1, net.L + 1)], dtype=np.float64)  # (L,)
