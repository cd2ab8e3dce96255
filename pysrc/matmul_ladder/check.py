"""The correctness check shared by the tests and the harness.

    |C - C_ref| <= c * K * eps(dtype) * (|A| @ |B|)    elementwise, C_ref in float64.

It holds for any K (the classic rounding-error bound of a dot product of length K, with a
safety factor c) and rejects real bugs, where a bare rtol would either fail on cancellation
or pass wrong answers. The 3x3 convolution is nine-term dot products: the same bound with
K = 9 (ConvReference). Where the reference is NaN or infinite, the answer must be the same.

A kernel that rounds its inputs to a narrower format before multiplying (the tensor-core
rungs: TF32, BF16) is held to the same bound with that format's eps (EPSILON), accumulation
in FP32 being no worse.
"""
import numpy as np

BOUND_C = 2.0
EPSILON = {"tf32": 2.0 ** -10, "bf16": 2.0 ** -7}   # machine epsilon: 10 and 7 mantissa bits


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

    def violations(self, c, precision=""):
        """'' if c passes, else a sentence saying how it fails. precision: "" for the dtype's
        own bound, or "tf32" / "bf16" for a kernel that rounds its inputs to that format."""
        if _array_module(c) is not np:
            c = c.get()
        c = np.asarray(c)
        if c.shape != self.expected.shape:
            return f"shape {c.shape}, expected {self.expected.shape}"
        if c.dtype != self.dtype:
            return f"dtype {c.dtype}, expected {self.dtype}"
        got = c.astype(np.float64)
        with np.errstate(invalid="ignore"):  # inf - inf where both are infinite
            err = np.abs(got - self.expected)
        finite = np.isfinite(self.expected)
        same_nonfinite = ~finite & ((got == self.expected) |
                                    (np.isnan(got) & np.isnan(self.expected)))
        bound = self.bound
        if precision:
            bound = bound * (EPSILON[precision] / np.finfo(self.dtype).eps)
        bad = ~((finite & (err <= bound)) | same_nonfinite)
        if not bad.any():
            return ""
        i, j = np.argwhere(bad)[0]
        return (f"{int(bad.sum())} of {c.size} entries out of bound; first at ({i}, {j}): got "
                f"{c[i, j]!r}, expected {self.expected[i, j]!r} +- {bound[i, j]:.3g}")


def correlate3x3_valid(x, w, xp=np):
    """The 'valid' cross-correlation of x with the 3 x 3 filter w, by nine shifted adds."""
    ho, wo = x.shape[0] - 2, x.shape[1] - 2
    y = xp.zeros((max(ho, 0), max(wo, 0)), dtype=x.dtype)
    if y.size:
        for p in range(3):
            for q in range(3):
                y += w[p, q] * x[p:p + ho, q:q + wo]
    return y


class ConvReference(Reference):
    """y_ref (float64) and the bound for the 'valid' cross-correlation of x with a 3 x 3 w:
    the matmul bound with K = 9 and |x| correlated with |w| for |A| @ |B|."""

    def __init__(self, x, w):
        xp = _array_module(x)
        x64, w64 = x.astype(xp.float64), xp.asarray(w).astype(xp.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            expected = correlate3x3_valid(x64, w64, xp)
            magnitude = correlate3x3_valid(xp.abs(x64), xp.abs(w64), xp)
        bound = BOUND_C * 9 * np.finfo(x.dtype).eps * magnitude
        to_host = getattr(xp, "asnumpy", np.asarray)
        self.expected, self.bound = to_host(expected), to_host(bound)
        self.dtype = np.dtype(x.dtype)
