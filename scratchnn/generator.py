"""torch's CPU random stream, reproduced without torch.

torch's CPU generator is a 32-bit Mersenne Twister (MT19937) whose state is
initialised from ``seed & 0xffffffff`` by the reference ``init_genrand``
recursion -- the same recursion NumPy's legacy ``RandomState(seed)`` uses.
``Tensor.uniform_(from, to)`` then fills the tensor in memory order, one
uniform per element:

* float32: ``x = (r & (2**24 - 1)) * 2**-24`` from one 32-bit draw ``r``;
* float64: ``x = (r64 & (2**53 - 1)) * 2**-53`` with ``r64 = (r1 << 32) | r2``
  from two draws, the first one high;

and maps it to ``x * (to - from) + from`` with a single rounding.
"""

import numpy as np

_MT_N = 624


def _mt19937_key(seed):
    """The 624-word MT19937 state that ``init_genrand(seed)`` produces."""
    key = np.empty(_MT_N, dtype=np.uint64)
    key[0] = seed & 0xFFFFFFFF
    for k in range(1, _MT_N):
        prev = int(key[k - 1])
        key[k] = (1812433253 * (prev ^ (prev >> 30)) + k) & 0xFFFFFFFF
    return key.astype(np.uint32)


class TorchGenerator:
    """The stream torch's CPU generator gives after ``torch.manual_seed(seed)``.

    Parameters
    ----------
    seed : int
        Any integer torch's ``manual_seed`` accepts; like torch, only its low
        32 bits seed the Mersenne Twister.

    Examples
    --------
    >>> gen = TorchGenerator(10)
    >>> w = gen.uniform((5, 1), -1.0, 1.0, np.float32)   # torch.empty(5, 1).uniform_(-1, 1)
    """

    def __init__(self, seed):
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
        seed = int(seed)
        if not -(2**63) <= seed < 2**64:
            raise ValueError(f"seed: expected an int in [-2**63, 2**64), got {seed}")
        self.initial_seed = seed % 2**64
        self._bits = np.random.MT19937()
        self._bits.state = {
            "bit_generator": "MT19937",
            "state": {"key": _mt19937_key(self.initial_seed), "pos": _MT_N},
        }

    def get_state(self):
        """``(key, pos)``: the 624-word MT19937 state (a copy) and the index of the next word to read
        (624: the state is regenerated before the next draw), as torch's ``left = 625 − pos``, ``next = pos``."""
        st = self._bits.state["state"]
        return np.array(st["key"], dtype=np.uint32), int(st["pos"])

    def set_state(self, key, pos):
        """Put the stream where :meth:`get_state` found it."""
        self._bits.state = {"bit_generator": "MT19937", "state": {"key": np.asarray(key, dtype=np.uint32), "pos": int(pos)}}

    def random32(self, count):
        """The next ``count`` raw 32-bit outputs, as uint64 (torch's ``random()``)."""
        return self._bits.random_raw(count)

    def rand(self, shape):
        """``torch.rand(shape, dtype=torch.float64)``, bit for bit: ``(r64 & (2**53 - 1)) * 2**-53`` per element.

        Two 32-bit draws per element, the first one high (what ``nn.Dropout`` draws its masks from).
        """
        shape = tuple(shape)
        r = self.random32(2 * int(np.prod(shape, dtype=np.int64)))
        r64 = (r[0::2] << np.uint64(32)) | r[1::2]
        return ((r64 & np.uint64(2**53 - 1)).astype(np.float64) * 2.0**-53).reshape(shape)

    def uniform(self, shape, low, high, dtype):
        """``torch.empty(shape, dtype=dtype).uniform_(low, high)``, bit for bit.

        The affine map ``x (high - low) + low`` is evaluated with one rounding,
        as torch does, so float64 results match torch's fused multiply-add.
        ``low`` and ``high`` are Python floats (torch casts them to ``dtype``).
        """
        dtype = np.dtype(dtype)
        shape = tuple(shape)
        count = int(np.prod(shape, dtype=np.int64))
        if dtype == np.float32:
            r = self.random32(count) & np.uint64(2**24 - 1)
            x = r.astype(np.float64) * 2.0**-24
            lo, hi = float(np.float32(low)), float(np.float32(high))
            # lo, hi and x carry 24 bits each: the product is exact in double,
            # so the only rounding is the final one to float32.
            u = (x * (hi - lo) + lo).astype(np.float32)
        elif dtype == np.float64:
            r = self.random32(2 * count)
            r64 = (r[0::2] << np.uint64(32)) | r[1::2]
            x = (r64 & np.uint64(2**53 - 1)).astype(np.float64) * 2.0**-53
            u = _fma_affine(x, float(low), float(high))
        else:
            raise TypeError(f"dtype: expected float32 or float64, got {dtype}")
        return u.reshape(shape)


def _fma_affine(x, low, high):
    """``fma(x, high - low, low)`` in float64, correctly rounded once.

    NumPy has no fused multiply-add. For the symmetric intervals torch's
    ``nn.Linear`` uses (``low == -high``) the exact value is
    ``high * (2x - 1)``, where ``2x - 1`` is exact, so one multiplication
    rounds exactly as the fma does. Other intervals fall back to the
    two-rounding form and say so.
    """
    if low == -high:
        return high * (2.0 * x - 1.0)
    raise NotImplementedError(
        "low, high: only symmetric intervals (low == -high) are reproduced bit for bit in float64"
    )
