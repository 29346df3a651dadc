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


SATURATED = 0.99  # |tanh| above this (sigmoid below 1 - this or above it): g' is nearly 0 there


def saturation(net, X):
    """``(word, fraction)``: how many hidden units are stuck over the whole data X.

    A hidden unit s of layer j (1 ≤ j < L) is *saturated* when g_j is tanh and |a^j_is| > 0.99
    for every point i (sigmoid: a^j_is < 0.01 or > 0.99 for every i), and *dead* when g_j is
    relu and a^j_is = 0 for every i: then g'(z^j_is) is (nearly) 0 on the whole data, δ^j_is too,
    and the unit stops learning. ``word`` is "dead" for a relu net, else "saturated";
    ``fraction`` is the stuck units over all hidden units of the activations that can get stuck
    (0.0 when there are none, e.g. leaky_relu or identity).
    """
    a = net.forward_trace(X).a
    stuck, total, word = 0, 0, "saturated"
    for j in range(1, net.L):
        name = net.activations[j - 1]  # g_j
        h = a[j][:, 1:]  # (n, u^j): the bias unit left out
        if name == "tanh":
            dead = np.all(np.abs(h) > SATURATED, axis=0)
        elif name == "sigmoid":
            dead = np.all((h < 1 - SATURATED) | (h > SATURATED), axis=0)
        elif name == "relu":
            dead, word = np.all(h == 0, axis=0), "dead"
        else:
            continue
        stuck += int(dead.sum())
        total += h.shape[1]
    return word, (stuck / total if total else 0.0)


VANISHED = 1e-12  # ‖δ^1‖ below this fraction of its first value: the error no longer reaches layer 1


def stuck(word, fraction, delta_first=None, delta_last=None, output=None):
    """One line for a learner when the net has stopped learning, else None.

    ``word`` and ``fraction``: :func:`saturation`'s answer; ``delta_first`` and ``delta_last``:
    ‖δ^1‖ (:func:`delta_norms`' first entry) before the first and after the last epoch.
    The net is stuck when more than half of its hidden units are (``fraction > 0.5``), or when
    ‖δ^1‖ ≤ 1e-12 ‖δ^1‖_first (no error reaches layer 1, so no θ^j learns). ``output``: the
    output layer's activation g_L, named in the advice when it is the stuck kind too (the
    workshop's mse nets use g in every layer).
    """
    vanished = delta_first is not None and delta_last is not None and delta_last <= VANISHED * delta_first
    if fraction <= 0.5 and not vanished:
        return None
    if fraction > 0.5:
        why = f"{fraction:.0%} of its hidden units are {word} over the training data"
    else:
        why = (f"‖δ^1‖ fell from {delta_first:.1e} to {delta_last:.1e}" if delta_first > 0 else
               "‖δ^1‖ is 0 from the first epoch") + ", so no layer learns"
    other = "leaky_relu or tanh" if word == "dead" else "relu or leaky_relu"
    fix = f"a smaller learning rate, or another activation ({other})"
    if output in ("relu", "tanh", "sigmoid"):
        fix += f"; the output unit is {output} too, so its g' can vanish as well: an activation that keeps g' > 0"
    return f"the net is {word}: {why}; try {fix}"
