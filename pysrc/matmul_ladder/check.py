"""The correctness check shared by the tests and the harness.

    |C - C_ref| <= c * K * eps(dtype) * (|A| @ |B|)    elementwise, C_ref in float64.

It holds for any K (the classic rounding-error bound of a dot product of length K, with a
safety factor c) and rejects real bugs, where a bare rtol would either fail on cancellation
or pass wrong answers.
"""
import numpy as np

BOUND_C = 2.0


def _array_module(x):
    """numpy, or cupy for a CuPy array (without importing cupy otherwise)."""
    if type(x).__module__.split(".")[0] == "cupy":
        import cupy
        return cupy
    return np


class Reference:
    """C_ref and the bound for one pair of inputs, computed once, checked against many."""

    def __init__(self, a, b):
        """a, b: numpy arrays, or CuPy arrays (the reference is then computed on the GPU,
        in float64, and brought back)."""
        xp = _array_module(a)
        a64, b64 = a.astype(xp.float64), b.astype(xp.float64)
        expected = a64 @ b64
        bound = BOUND_C * a.shape[1] * np.finfo(a.dtype).eps * (xp.abs(a64) @ xp.abs(b64))
        to_host = getattr(xp, "asnumpy", np.asarray)
        self.expected, self.bound = to_host(expected), to_host(bound)
        self.dtype = np.dtype(a.dtype)

    def violations(self, c):
        """'' if c passes, else a sentence saying how it fails."""
        if _array_module(c) is not np:
            c = c.get()
        c = np.asarray(c)
        if c.shape != self.expected.shape:
            return f"shape {c.shape}, expected {self.expected.shape}"
        if c.dtype != self.dtype:
            return f"dtype {c.dtype}, expected {self.dtype}"
        err = np.abs(c.astype(np.float64) - self.expected)
        bad = ~(err <= self.bound)
        if not bad.any():
            return ""
        i, j = np.argwhere(bad)[0]
        return (f"{int(bad.sum())} of {c.size} entries out of bound; first at ({i}, {j}): got "
                f"{c[i, j]!r}, expected {self.expected[i, j]!r} +- {self.bound[i, j]:.3g}")
