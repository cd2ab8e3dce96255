"""The correctness check shared by the tests, the harness and the studies.

An answer C of A @ B (M x K times K x N) passes when it is the same NaN or infinity wherever
the float64 reference C_ref is not finite, and where it is finite meets two bounds:

1. Elementwise, the worst case:  |C - C_ref| <= 2 (e_in + K e_acc) (|A| @ |B|).
   e_acc is the eps of the arithmetic that sums (the dtype's; FP32's on the tensor cores).
   e_in is what the inputs' own rounding costs each product: 0 for a kernel that multiplies
   the inputs as they are. A product of two inputs rounded to a format of eps e_p is off by
   at most 2 e_p |a| |b| however long the sum is, so e_in is not scaled by K (scaled by K, as
   the sum's rounding is, the TF32 bound passed an all-zero answer from K = 512 on).
2. Normwise, the typical case:
       ||C - C_ref||_F <= tol * max(||C_ref||_F, || |A| @ |B| ||_F / sqrt(K)),
       tol = 2 e_in + LAMBDA sqrt(K) u_acc (+ RHO K e_acc where the sum truncates).
   Rounding errors of random sign grow as sqrt(K), not K (Higham and Mary, "A new approach
   to probabilistic rounding error analysis", SIAM J. Sci. Comput. 41(5), 2019). Measured by
   `python tools/accuracy.py` (docs/accuracy.md): the C, Cython and NumPy loops at most
   0.42 sqrt(K) u, two levels of Strassen at most 1.07 sqrt(K) u; LAMBDA = 4 leaves room.
   A sum that truncates instead of rounding to nearest (the tensor cores: Fasi, Higham,
   Mikaitis and Pranesh, "Numerical behavior of NVIDIA tensor cores", PeerJ Comput. Sci.
   7:e330, 2021) errs with one sign, so its error grows as K: 0.06 K e_acc measured on an H200
   at K = 1024-65536 for three TF32 products a step summed in the tensor core (cuda_3xtf32
   before it moved its sums out); RHO = 0.15. This bound is what rejects an answer
   a few ulps off at every step of a long sum, which the worst case admits by design. The
   floor on the denominator keeps a sum that cancels (C_ref small beside its terms) from
   looking wrong.

A kernel that rounds its inputs to TF32 or BF16 is judged against references built from the
rounded inputs, so that its sum is held to FP32's bounds rather than to the inputs' rounding,
which would hide a dropped K step or a drift under its noise: each operand may be rounded to
nearest or toward zero (a tensor core reading FP32 data truncates it), and a tie may go
either way. The answer passes if it meets the bounds for one of the four combinations, or
the dtype's own bounds (an answer more exact than its kernel's rounding is still right).
A kernel that also rounds its answer to BF16 (torch.matmul on bfloat16 tensors: float32
sums, a bfloat16 result) is allowed that last rounding on top, u = 2^-8 of each entry
(round to nearest) in both bounds: precision "bf16_out".

A fast scheme (rungs/fast.py: Strassen, AlphaTensor's and the like) is judged with its own
error bound: a bilinear scheme's error is bounded normwise, not entry by entry (Higham,
"Accuracy and Stability of Numerical Algorithms", 2nd ed., ch. 23), and a level can make the
quantities it sums larger than |A| |B| by its growth factor g (Scheme.growth: Bini and
Lotti's max over C blocks of sum_r |w_r| ||u_r||_1 ||v_r||_1, over the classical k). With
`growth` G = the product of g over its levels, both bounds are scaled by G and the
elementwise one uses the largest entry of |A| |B| in place of each entry (a max-norm bound):
    |C - C_ref| <= 2 G (e_in + K e_acc) max(|A| @ |B|),   tol = G (the classical tol).
G is a worst case; the errors measured (docs/fast-matmul.md) sit well below it, while the
planted faults of tests/test_fast_matmul.py (a wrong sign, a dropped product) err by far more.

normwise_error(C) is the figure reported beside every speed: ||C - C_ref||_F / ||C_ref||_F
against the float64 product of the unrounded inputs, what a user of the answer sees.

The 3x3 convolution is nine-term dot products: the same bounds with K = 9 and |x| correlated
with |w| for |A| @ |B| (ConvReference).
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np

BOUND_C = 2.0       # the worst case's safety factor
LAMBDA = 4.0        # the normwise factor of sqrt(K) u for sums rounded to nearest
RHO = 0.15          # the normwise factor of K eps for sums that truncate
EPSILON = {"tf32": 2.0 ** -10, "bf16": 2.0 ** -7}   # machine epsilon: 10 and 7 mantissa bits
FP32_EPS = float(np.finfo(np.float32).eps)


@dataclass(frozen=True)
class Precision:
    """How a kernel computes, as far as its errors go."""
    name: str
    bits: Optional[int] = None   # the inputs are rounded to this many mantissa bits; None: not
    input_eps: float = 0.0       # e_in: what the inputs' rounding costs a product, relative
    truncates: bool = False      # the sum truncates (tensor cores) instead of rounding to nearest
    output_bits: Optional[int] = None  # the answer is rounded to nearest to this many bits


PRECISIONS = {
    "": Precision(""),
    "tf32": Precision("tf32", bits=10, input_eps=EPSILON["tf32"], truncates=True),
    "bf16": Precision("bf16", bits=7, input_eps=EPSILON["bf16"], truncates=True),
    "bf16_out": Precision("bf16_out", bits=7, input_eps=EPSILON["bf16"], truncates=True,
                          output_bits=7),
    # Each input split into big + small TF32 parts (2 x 11 bits of its 24): the residual and
    # the dropped small x small product are below 2^-20 of each product. The sum: each step's
    # products in the tensor core, the steps added with FP32's round-to-nearest adds.
    "3xtf32": Precision("3xtf32", input_eps=2.0 ** -20),
}


def precision(name):
    """The Precision of a kernel's `precision` field ("" or "fp32"/"fp64": the dtype's own)."""
    key = "" if name in ("", "fp32", "fp64", None) else name
    if key not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; one of {', '.join(map(repr, PRECISIONS))}")
    return PRECISIONS[key]


def output_unit(spec):
    """The relative error of rounding the answer to nearest in spec.output_bits bits (0: the
    answer is not rounded)."""
    return 0.0 if spec.output_bits is None else 2.0 ** -(spec.output_bits + 1)


def _array_module(x):
    """numpy, or cupy for a CuPy array (without importing cupy otherwise)."""
    if type(x).__module__.split(".")[0] == "cupy":
        import cupy
        return cupy
    return np


def _host(x):
    return x.get() if _array_module(x) is not np else np.asarray(x)


def round_mantissa(x, bits, mode, xp=np):
    """float32 x rounded to `bits` explicit mantissa bits: mode "nearest" (ties to even) or
    "zero" (truncated). NaN and infinity stay what they are."""
    drop = 23 - bits
    u = xp.ascontiguousarray(x, dtype=xp.float32).view(xp.uint32).astype(xp.uint64)
    if mode == "nearest":
        u = u + ((1 << (drop - 1)) - 1) + ((u >> drop) & 1)
    elif mode != "zero":
        raise ValueError(f"mode must be 'nearest' or 'zero', got {mode!r}")
    r = ((u >> drop) << drop).astype(xp.uint32).view(xp.float32)
    return xp.where(xp.isfinite(x), r, x)


def _tie_slack(a, b, bits, xp):
    """An elementwise allowance for the entries of a and b that lie exactly halfway between
    two values of the format: ties-to-even and ties-away round them one ulp apart."""
    drop = 23 - bits
    slack = None
    for x, left in ((a, True), (b, False)):
        u = xp.ascontiguousarray(x, dtype=xp.float32).view(xp.uint32)
        tie = (u & ((1 << drop) - 1)) == (1 << (drop - 1))
        if not bool(tie.any()):
            continue
        part = xp.where(tie, xp.abs(x.astype(xp.float64)), 0.0)
        term = part @ xp.abs(b.astype(xp.float64)) if left else xp.abs(a.astype(xp.float64)) @ part
        slack = term if slack is None else slack + term
    return None if slack is None else _host(slack) * 2.0 ** -bits


class Tally:
    """The sums the normwise bound needs, gathered over one answer or over its chunks."""

    def __init__(self):
        self.error_sq = self.expected_sq = self.magnitude_sq = self.slack_sq = 0.0

    def add(self, err, expected, magnitude, finite, slack=None):
        xp = _array_module(err)
        self.error_sq += float(xp.sum(xp.where(finite, err, 0.0) ** 2))
        self.expected_sq += float(xp.sum(xp.where(finite, expected, 0.0) ** 2))
        self.magnitude_sq += float(xp.sum(xp.where(finite, magnitude, 0.0) ** 2))
        if slack is not None:
            self.slack_sq += float(xp.sum(xp.where(finite, slack, 0.0) ** 2))

    def error(self):
        """||C - C_ref||_F / ||C_ref||_F (0 for an exact answer, inf if C_ref is 0 and C not)."""
        if self.expected_sq:
            return float(np.sqrt(self.error_sq / self.expected_sq))
        return 0.0 if not self.error_sq else float("inf")

    def violation(self, k, eps, spec, growth=1.0):
        """'' if the normwise bound holds, else a sentence saying by how much it fails.
        growth: a fast scheme's error-growth factor (the module's docstring)."""
        tol = 2 * spec.input_eps + LAMBDA * np.sqrt(k) * eps / 2
        if spec.truncates:
            tol += RHO * k * eps
        if spec.output_bits is not None:  # the rounded answer: within u of the unrounded one
            tol += output_unit(spec) * (1 + tol)
        tol *= growth
        scale = np.sqrt(max(self.expected_sq, self.magnitude_sq / k if k else 0.0))
        allowed = tol * scale + np.sqrt(self.slack_sq)
        if np.sqrt(self.error_sq) <= allowed:
            return ""
        return (f"normwise error {self.error():.3g} (||C - C_ref||_F / ||C_ref||_F) above the "
                f"{allowed / scale if scale else 0.0:.3g} that {spec.name or 'its dtype'} allows "
                f"at K = {k}")


def elementwise(got, expected, bound, origin=(0, 0)):
    """('' or a sentence naming the first entry out of bound, err, finite): the elementwise
    bound, NaN and infinity kept. Arrays of one module (NumPy or CuPy), float64."""
    xp = _array_module(got)
    with np.errstate(invalid="ignore"):  # inf - inf where both are infinite
        err = xp.abs(got - expected)
    finite = xp.isfinite(expected)
    same_nonfinite = ~finite & ((got == expected) | (xp.isnan(got) & xp.isnan(expected)))
    bad = ~((finite & (err <= bound)) | same_nonfinite)
    count = int(bad.sum())
    if not count:
        return "", err, finite
    i, j = (int(v) for v in xp.argwhere(bad)[0])
    return (f"{count} of {bad.size} entries out of bound; first at ({origin[0] + i}, "
            f"{origin[1] + j}): got {float(got[i, j])!r}, expected {float(expected[i, j])!r} "
            f"+- {float(bound[i, j]):.3g}"), err, finite


class Reference:
    """C_ref and the bounds for one pair of inputs, computed once, checked against many."""

    def __init__(self, a, b):
        """a, b: numpy arrays, or CuPy arrays (the reference is then computed on the GPU,
        in float64, and brought back). They are kept (not copied) for the references of
        rounded inputs, computed when a kernel that rounds is first checked."""
        xp = _array_module(a)
        a64, b64 = a.astype(xp.float64), b.astype(xp.float64)
        self.expected = _host(a64 @ b64)
        self.magnitude = _host(xp.abs(a64) @ xp.abs(b64))
        self.dtype = np.dtype(a.dtype)
        self.k = a.shape[1]
        self._a, self._b, self._rounded = a, b, {}

    @property
    def bound(self):
        """The elementwise bound of a kernel that computes in the dtype."""
        return BOUND_C * self.k * np.finfo(self.dtype).eps * self.magnitude

    def _answer(self, c):
        c = _host(c)
        if c.shape != self.expected.shape:
            return None, f"shape {c.shape}, expected {self.expected.shape}"
        if c.dtype != self.dtype:
            return None, f"dtype {c.dtype}, expected {self.dtype}"
        return c.astype(np.float64), ""

    def normwise_error(self, c):
        """||C - C_ref||_F / ||C_ref||_F over the finite entries of C_ref (C_ref: the float64
        product of the inputs as given)."""
        got, problem = self._answer(c)
        if problem:
            raise ValueError(problem)
        tally = Tally()
        with np.errstate(invalid="ignore"):
            err = np.abs(got - self.expected)
        tally.add(err, self.expected, self.magnitude, np.isfinite(self.expected))
        return tally.error()

    def violations(self, c, precision_name="", growth=1.0):
        """'' if c passes, else a sentence saying how it fails. precision_name: "" for a
        kernel that computes in the dtype, or one of PRECISIONS ("tf32", "bf16", "bf16_out",
        "3xtf32").
        growth: a fast scheme's error-growth factor over the classical bound (>= 1)."""
        spec = precision(precision_name)
        if not growth >= 1.0:
            raise ValueError(f"growth must be >= 1, got {growth!r}")
        got, problem = self._answer(c)
        if problem:
            return problem
        native = self._judge(got, self.expected, spec if spec.bits is None else PRECISIONS[""],
                             growth=growth)
        if spec.bits is None or not native:
            return native  # an answer that meets the dtype's own bounds is right for any kernel
        problems = []
        for modes in (("nearest", "nearest"), ("zero", "zero"), ("nearest", "zero"),
                      ("zero", "nearest")):
            expected, slack = self._rounded_reference(spec, modes)
            problem = self._judge(got, expected, spec, slack)
            if not problem:
                return ""
            problems.append(f"{problem} (inputs rounded {modes[0]}/{modes[1]})")
        return (f"{problems[0]}; and for the other roundings: {'; '.join(problems[1:])}; "
                f"and as {self.dtype}: {native}")

    def _judge(self, got, expected, spec, slack=None, growth=1.0):
        eps = FP32_EPS if spec.truncates else float(np.finfo(self.dtype).eps)
        input_eps = 0.0 if spec.bits is not None else spec.input_eps
        magnitude = self.magnitude
        if growth != 1.0:  # a fast scheme: a max-norm bound, scaled by its growth
            magnitude = np.full_like(magnitude, magnitude.max(initial=0.0) * growth)
        bound = BOUND_C * (input_eps + self.k * eps) * magnitude
        if spec.bits is not None:  # the magnitudes of the rounded inputs, and ties
            bound *= (1 + 2.0 ** -spec.bits) ** 2
            if slack is not None:
                bound = bound + slack
        if spec.output_bits is not None:  # |fl(x) - x| <= u |x|, x within bound of expected
            with np.errstate(invalid="ignore"):
                bound = bound + output_unit(spec) * (np.abs(expected) + bound)
        problem, err, finite = elementwise(got, expected, bound)
        if problem:
            return problem
        tally = Tally()
        tally.add(err, expected, self.magnitude, finite, slack)
        return tally.violation(self.k, eps, Precision(spec.name, None, input_eps, spec.truncates,
                                                      spec.output_bits), growth)

    def _rounded_reference(self, spec, modes):
        """(C_ref of the inputs rounded by `modes`, its tie slack), computed once."""
        key = (spec.bits, modes)
        if key not in self._rounded:
            xp = _array_module(self._a)
            a = round_mantissa(self._a, spec.bits, modes[0], xp).astype(xp.float64)
            b = round_mantissa(self._b, spec.bits, modes[1], xp).astype(xp.float64)
            self._rounded[key] = (_host(a @ b), _tie_slack(self._a, self._b, spec.bits, xp))
        return self._rounded[key]


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
    """y_ref (float64) and the bounds for the 'valid' cross-correlation of x with a 3 x 3 w:
    the matmul bounds with K = 9 and |x| correlated with |w| for |A| @ |B|."""

    def __init__(self, x, w):
        xp = _array_module(x)
        x64, w64 = x.astype(xp.float64), xp.asarray(w).astype(xp.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            expected = correlate3x3_valid(x64, w64, xp)
            magnitude = correlate3x3_valid(xp.abs(x64), xp.abs(w64), xp)
        self.expected, self.magnitude = _host(expected), _host(magnitude)
        self.dtype = np.dtype(x.dtype)
        self.k = 9
        self._a = self._b = None
        self._rounded = {}
