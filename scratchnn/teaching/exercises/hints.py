r"""Hints for the exercises, in the notation, each more explicit than the one before; none is the code.

Indices as in tutorial 2 and docs/notation.md: counted from 1, the bias unit is unit 0; θ^j_{sk} carries
unit k of layer j to unit s of layer j+1, and θ^j_{sk} is ``theta[j][s - 1, k]`` in NumPy.
"""

HINTS = {
    "bias": [
        "θ^j has shape (u^{j+1}, u^j + 1): column 0 holds the biases, columns 1: the weights.",
        "a^j = [1, g(z^j)] for j < L: a column of ones in FRONT, column 0, so that z^{j+1} = a^j (θ^j)ᵀ adds "
        "the bias. a^0 = [1, X]. The output a^L has no bias unit.",
        "Backward, the bias unit has no z: δ^j has no bias column (use θ^j[:, 1:] and a^j[:, 1:]), while "
        "D^j keeps column 0, the bias gradient (δ^{j+1})ᵀ times the ones of a^j.",
    ],
    "forward": [
        "Start from a^0 = [1, X]; then for j = 0 … L−1: z^{j+1} = a^j (θ^j)ᵀ, and a^{j+1} from tanh(z^{j+1}).",
        "tanh on EVERY layer, the output included; the bias unit (ones, column 0) on every a^j but the last.",
        "Return all L + 1 of them, [a^0, …, a^L]: a^j is (n, u^j + 1) for j < L, a^L is (n, u^L); "
        "z^{j+1} = a^j @ theta[j].T is (n, u^{j+1}).",
    ],
    "output_delta": [
        "δ^L = ∂𝓛/∂z^L: the chain rule through the loss, then through the output's tanh.",
        "𝓛 = (1/(n·u^L)) Σ (a^L − Y)², so ∂𝓛/∂a^L = (2/(n·u^L))(a^L − Y): the mean runs over all n·u^L "
        "entries (Y.size), as torch's MSELoss.",
        "tanh'(z) = 1 − tanh(z)² = 1 − (a^L)²: write it with a^L, which you have, and multiply element by "
        "element (⊙, * in NumPy). Shape (n, u^L).",
    ],
    "layer_gradient": [
        "D^j = ∂𝓛/∂θ^j has θ^j's shape, (u^{j+1}, u^j + 1).",
        "D^j_{sk} = Σ_i δ^{j+1}_{is} a^j_{ik} (unit s of layer j+1, unit k of layer j, k = 0 the bias unit): "
        "a sum over the data points i, which is a matrix product.",
        "(n, u^{j+1}) and (n, u^j + 1) make (u^{j+1}, u^j + 1) when the first is transposed. Keep a^j's bias "
        "column (it gives column 0, the bias gradient) and add no 1/n: δ^L already holds the mean.",
    ],
    "hidden_delta": [
        "δ^j = ∂𝓛/∂z^j: one number per data point and unit of layer j, shape (n, u^j), no bias column "
        "(the bias unit has no z).",
        "Carry δ^{j+1} back through θ^j without its bias column: δ^{j+1} θ^j[:, 1:] is (n, u^j).",
        "Then back through tanh: ⊙ (1 − (a^j)²), with a^j without its bias column, a^j[:, 1:].",
    ],
    "backward": [
        "Go from the output back to the input: δ^L first, then for j = L−1 … 0 the gradient D^j from δ^{j+1}, "
        "and δ^j from δ^{j+1} (only for j ≥ 1: the input layer needs no δ).",
        "Each step is one of the three small exercises: output_delta, then layer_gradient and hidden_delta "
        "in a loop. Take a^j from the forward pass's list a.",
        "δ^L = (2/(n·u^L))(a^L − Y) ⊙ (1 − (a^L)²);  D^j = (δ^{j+1})ᵀ a^j;  δ^j = (δ^{j+1} θ^j[:, 1:]) ⊙ "
        "(1 − (a^j[:, 1:])²). Return [D^0, …, D^{L−1}] in layer order.",
    ],
    "numerical_gradient": [
        "For every entry θ^j_{sk}: D^j_{sk} ≈ (𝓛(θ + ε e_{sk}) − 𝓛(θ − ε e_{sk})) / (2ε), with "
        "𝓛 = mean((a^L − Y)²) from your forward pass.",
        "Save the entry, set it to saved + ε, evaluate 𝓛, set it to saved − ε, evaluate 𝓛, and put the saved "
        "value back before the next entry.",
        "np.ndindex(theta[j].shape) walks over every NumPy index (s − 1, k) of θ^j_{sk} (rows count from 0 in "
        "NumPy, units from 1); collect the estimates in arrays shaped like theta[j]. Central, not one-sided: the "
        "error is O(ε²) instead of O(ε).",
    ],
    "sgd_momentum_step": [
        "torch keeps a buffer per matrix. On the first step (buf is None) it is the gradient itself: buf = D.",
        "Afterwards buf = momentum·buf + D (dampening 0: no factor 1 − momentum), and θ = θ − lr·buf.",
        "Return (theta, buf). The lr stays out of the buffer, and the buffer is not the velocity −lr·(…) of "
        "CS231n, which moves θ alike but stores a different array.",
    ],
    "adam_step": [
        "m and v are running averages of D and of D²: m = β1·m + (1 − β1)·D, v = β2·v + (1 − β2)·D².",
        "They start at zero, so early on they are too small: torch divides by 1 − β1^t and 1 − β2^t "
        "(bias correction), with the step number t = 1, 2, … as given.",
        "θ = θ − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε): ε outside the square root; m and v are "
        "updated before θ.",
    ],
    "batchnorm_forward": [
        "Per unit (column): the mean μ and the variance σ² over the n data points (axis 0), then "
        "ẑ = (z − μ)/√(σ² + ε) and y = γ ⊙ ẑ + β.",
        "The variance of the normalisation is the biased one, mean((z − μ)²), divided by n: np.var's default, "
        "not ddof=1. ε goes under the square root.",
        "μ and σ² have shape (u,); NumPy broadcasts them over the rows of z (n, u). So do γ and β.",
    ],
    "batchnorm_backward": [
        "Recompute μ, σ² and ẑ from z; then dẑ = dy ⊙ γ, dγ = Σ_i dy ⊙ ẑ and dβ = Σ_i dy (sums over the data "
        "points: γ and β are shared by all of them).",
        "z_i reaches the loss three ways: through ẑ_i directly, through μ (every ẑ_k uses μ) and through σ² "
        "(every ẑ_k uses σ²). dz is the sum of the three.",
        "The three terms together: dz = (dẑ − mean(dẑ) − ẑ ⊙ mean(dẑ ⊙ ẑ)) / √(σ² + ε), means over axis 0.",
    ],
    "layernorm_backward": [
        "Layer norm is batch norm's derivation on the other axis: μ and σ² of each data point over its u units "
        "(axis 1, keepdims=True so that they broadcast).",
        "γ and β are still one number per unit: dγ = Σ_i dy ⊙ ẑ and dβ = Σ_i dy sum over the data points "
        "(axis 0), even though the statistics ran over axis 1.",
        "dz = (dẑ − mean(dẑ) − ẑ ⊙ mean(dẑ ⊙ ẑ)) / √(σ² + ε) with the means over axis 1, dẑ = dy ⊙ γ.",
    ],
    "dropout_backward": [
        "Forward, inverted dropout passed out = a ⊙ mask / (1 − p): each kept unit (mask True) scaled up so "
        "that the expected output is a.",
        "So ∂out/∂a = mask / (1 − p), element by element: a dropped unit gets no gradient.",
        "p is the probability to drop; 1 − p to keep. Return da * mask / (1 - p).",
    ],
    "cross_entropy_delta": [
        "𝓛 = (1/n) Σ_i −log softmax(z_i)[labels_i]; softmax and the log cancel into one simple δ^L.",
        "∂𝓛/∂z_i = (softmax(z_i) − onehot(labels_i)) / n: subtract 1 at each row's label column.",
        "Shift each row by its max before np.exp (the same softmax, no overflow), and divide by n at the end.",
    ],
    "adamw_step": [
        "AdamW is Adam with the weight decay taken out of the gradient: m and v see D alone.",
        "First θ ← θ (1 − lr·λ) (the decoupled decay, scaled by the learning rate), then Adam's step.",
        "θ = θ(1 − lr·λ);  m = β1·m + (1 − β1)·D;  v = β2·v + (1 − β2)·D²;  "
        "θ = θ − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε).",
    ],
    "rmsprop_step": [
        "RMSprop keeps a running mean of D², sq, and divides the step by its square root.",
        "sq = α·sq + (1 − α)·D² (the old mean keeps the weight α, 0.99), starting from zero, no bias correction.",
        "θ = θ − lr·D / (√sq + ε): ε after the square root, as torch.",
    ],
}


def hint(name, level=1):
    """Print hint ``level`` (1, 2, 3: each says more) for the exercise ``name``; an unknown name lists them."""
    if name not in HINTS:
        print(f"hint: no hints for {name!r}; there are hints for {', '.join(HINTS)}")
        return
    hints = HINTS[name]
    if isinstance(level, bool) or not isinstance(level, int) or level < 1:
        raise ValueError(f"level: expected an int >= 1, got {level!r}")
    k = min(level, len(hints))
    more = f'  (hint("{name}", level={k + 1}) says more)' if k < len(hints) else "  (that is the last hint)"
    print(f"hint {k} of {len(hints)} for {name}: {hints[k - 1]}\n{more}")
