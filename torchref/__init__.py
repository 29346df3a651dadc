"""torchref: the workshop's fits in plain PyTorch, and the bridges to and from scratchnn.

``to_torch``/``from_torch`` move a model between the two engines,
``optimizer_to_torch``/``optimizer_from_torch`` move optimizer state (``scheduler_to_torch``
a learning-rate schedule), ``fit``
is the notebook's training loop, ``compare`` trains both side by side and
returns their per-epoch gap (a ``FitGap``), and ``explain`` computes every
quantity of one backward pass with autograd.
"""

from .bridge import from_torch, optimizer_from_torch, optimizer_to_torch, scheduler_to_torch, to_torch, torch_dtype
from .compare import FitGap, compare
from .explain import explain
from .train import fit

__all__ = [
    "FitGap",
    "compare",
    "explain",
    "fit",
    "from_torch",
    "optimizer_from_torch",
    "optimizer_to_torch",
    "scheduler_to_torch",
    "to_torch",
    "torch_dtype",
]
