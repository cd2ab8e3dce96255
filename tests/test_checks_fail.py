"""Every checker is handed wrong answers and must reject each one; right answers computed the
ways the kernels compute them must pass.

The checkers: the matmul Reference at every precision (the dtype's own, TF32, BF16, BF16 with
a BF16 answer, 3xTF32),
the convolution references (ConvReference, and the conv harness's chunked Checker), the
harness's check before it times, and compare.race's. The wrong answers: zeros, twice the
answer, one output tile computed from the wrong rows, B transposed, the K tail dropped, one
NaN lost, one infinity lost, and a drift of one ulp at every step of a long sum; each at a
small and a large K. The drift is planted at large K only: at K = 24 a drift of 24 ulps is
inside the sqrt(K) rounding noise that any sound normwise bound must allow a correct kernel,
and never where the answer is rounded to BF16, whose 2^-8 per entry hides it at any K here.
"""
import contextlib

import numpy as np
import pytest

from matmul_ladder.rungs import registry as _registry
from matmul_ladder.bench.check import ConvReference, Reference, round_mantissa
from matmul_ladder.bench.race import race
from matmul_ladder.cli.conv import Checker
from matmul_ladder.bench.engine import Config, Harness

SMALL_K, LARGE_K = 24, 8192
M = N = 40

def _f32(x):
    return np.asarray(x, dtype=np.float32)


def toward_zero(x64):
    """float64 -> float32, rounded toward zero."""
    y = x64.astype(np.float32)
    over = np.abs(y.astype(np.float64)) > np.abs(x64)
    return np.where(over, np.nextafter(y, np.float32(0)), y)


def truncating_sum(a, b, group):
    """A tensor core's FP32 sum: `group` exact products at a time, the running sum truncated
    (Fasi et al., PeerJ Comput. Sci. 2021)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    s = np.zeros((a.shape[0], b.shape[1]), np.float32)
    for k0 in range(0, a.shape[1], group):
        s = toward_zero(s.astype(np.float64) + a64[:, k0:k0 + group] @ b64[k0:k0 + group])
    return s


def drifting_sum(a, b):
    """A sum in the dtype that errs by one ulp upward at every step."""
    s = np.zeros((a.shape[0], b.shape[1]), a.dtype)
    for k in range(a.shape[1]):
        s = np.nextafter(s + np.outer(a[:, k], b[k]), np.inf).astype(a.dtype)
    return s


def split_tf32(x):
    big = round_mantissa(x, 10, "nearest")
    return big, round_mantissa(_f32(x - big), 10, "nearest")


def three_tf32(a, b):
    """cuda_3xtf32: per 8-deep step, the three products of the parts in the tensor core
    (truncated), then added to the FP32 accumulator rounded to nearest."""
    (ab, as_), (bb, bs) = split_tf32(a), split_tf32(b)
    s = np.zeros((a.shape[0], b.shape[1]), np.float32)
    for k0 in range(0, a.shape[1], 8):
        ks = slice(k0, k0 + 8)
        small = toward_zero(as_[:, ks].astype(np.float64) @ bb[ks] + ab[:, ks].astype(np.float64) @ bs[ks])
        big = toward_zero(ab[:, ks].astype(np.float64) @ bb[ks])
        s = (s + (big + small)).astype(np.float32)
    return s


def rna(x, bits):
    """Round to nearest, ties away from zero (cvt.rna.tf32.f32)."""
    drop = 23 - bits
    u = _f32(x).view(np.uint32).astype(np.uint64)
    return (((u + (1 << (drop - 1))) >> drop) << drop).astype(np.uint32).view(np.float32)


# name: (dtype, precision, how a correct kernel of that precision computes: (a, b) -> C)
CASES = {
    "float64": ("float64", "", lambda a, b: a @ b),
    "float32": ("float32", "", lambda a, b: a @ b),
    "tf32": ("float32", "tf32", lambda a, b: truncating_sum(rna(a, 10), rna(b, 10), 8)),
    "tf32-truncated": ("float32", "tf32",
                       lambda a, b: truncating_sum(round_mantissa(a, 10, "zero"),
                                                   round_mantissa(b, 10, "zero"), 8)),
    "bf16": ("float32", "bf16",
             lambda a, b: truncating_sum(round_mantissa(a, 7, "nearest"),
                                         round_mantissa(b, 7, "nearest"), 16)),
    # torch.matmul on bfloat16 tensors: the bf16 sum, its answer rounded to bfloat16
    "bf16_out": ("float32", "bf16_out",
                 lambda a, b: round_mantissa(truncating_sum(round_mantissa(a, 7, "nearest"),
                                                            round_mantissa(b, 7, "nearest"), 16),
                                             7, "nearest")),
    "3xtf32": ("float32", "3xtf32", three_tf32),
}
# The answer's own rounding to bfloat16 (2^-8 of each entry) hides any drift of the sum
# smaller than that: 8192 ulps of float32 is 2^-11. Its drift is not planted.
DRIFT_CASES = [case for case in CASES if CASES[case][1] != "bf16_out"]


def inputs(dtype, k, n=N, seed=0):
    rng = np.random.default_rng(seed + k)
    return (rng.standard_normal((M, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype))


def faults(a, b, right, dtype):
    """{name: (a, b, wrong answer)}: each fault with the inputs it is judged against."""
    out = {"zeros": (a, b, np.zeros_like(right)), "twice": (a, b, 2 * right)}
    tile = right.copy()
    tile[8:16, 16:24] = (a[9:17] @ b[:, 16:24]).astype(dtype)   # rows off by one
    out["one wrong tile"] = (a, b, tile)
    k = a.shape[1]
    tail = 3
    out["K tail dropped"] = (a, b, (a[:, :k - tail] @ b[:k - tail]).astype(dtype))
    square = b[:, :k] if b.shape[1] >= k else None
    if square is not None:
        out["B transposed"] = (a, square, (a @ square.T).astype(dtype))
    for name, value in (("NaN lost", np.nan), ("inf lost", np.inf)):
        a2 = a.copy()
        a2[3, 5] = value
        out[name] = (a2, b, right)   # the answer of the inputs without it
    return out


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("k", [SMALL_K, LARGE_K])
def test_right_answers_pass(case, k):
    dtype, precision, compute = CASES[case]
    a, b = inputs(dtype, k)
    c = compute(a, b).astype(dtype)
    problem = Reference(a, b).violations(c, precision)
    assert not problem, problem


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("k", [SMALL_K, LARGE_K])
def test_every_fault_is_rejected(case, k):
    dtype, precision, compute = CASES[case]
    n = max(N, k) if k == SMALL_K else N
    a, b = inputs(dtype, k, n)
    right = compute(a, b).astype(dtype)
    for name, (fa, fb, wrong) in faults(a, b, right, dtype).items():
        assert Reference(fa, fb).violations(wrong, precision), f"{case} K={k}: {name} passed"


def test_b_transposed_is_rejected_at_large_k():
    for case, (dtype, precision, compute) in CASES.items():
        a, b = inputs(dtype, 2048, 2048)
        assert Reference(a, b).violations((a @ b.T).astype(dtype), precision), case


@pytest.mark.parametrize("case", DRIFT_CASES)
def test_a_drift_of_one_ulp_per_step_is_rejected_at_large_k(case):
    dtype, precision, compute = CASES[case]
    a, b = inputs(dtype, LARGE_K)
    a, b = a[:16], b[:, :16]
    if precision in ("tf32", "bf16"):   # the drift in the sum of the rounded products
        bits = 10 if precision == "tf32" else 7
        a, b = round_mantissa(a, bits, "nearest"), round_mantissa(b, bits, "nearest")
    ref = Reference(a, b)
    assert not ref.violations(compute(a, b).astype(dtype), precision)
    drifted = drifting_sum(a, b)
    assert ref.violations(drifted, precision), (case, ref.normwise_error(drifted))


def test_a_sum_that_cancels_is_not_called_wrong():
    """C_ref tiny beside its terms: a correct kernel summing in another order errs by a few
    ulps of the terms, far more than of C_ref; the normwise floor must allow it."""
    a = np.array([[1e8, 1.0, -1e8, 0.5]], np.float32)
    b = np.ones((4, 3), np.float32)
    c = np.full((1, 3), 0.0, np.float32)   # summed left to right in float32: 1 is lost
    assert not Reference(a, b).violations(c)


def test_normwise_error_is_what_a_user_sees():
    a, b = inputs("float32", 64)
    ref = Reference(a, b)
    c = (a.astype(np.float64) @ b.astype(np.float64))
    assert ref.normwise_error(c.astype(np.float32)) < 1e-7
    assert ref.normwise_error(np.zeros_like(c, np.float32)) == 1.0
    assert abs(ref.normwise_error((2 * c).astype(np.float32)) - 1.0) < 1e-6


# ---- the 3x3 convolution --------------------------------------------------------------------
def conv_faults(x, w, right):
    out = {"zeros": (x, w, np.zeros_like(right)), "twice": (x, w, 2 * right)}
    tile = right.copy()
    tile[8:16, 16:24] = right[9:17, 16:24]
    out["one wrong tile"] = (x, w, tile)
    w2 = w.copy()
    w2[2, 2] = 0
    from matmul_ladder.bench.check import correlate3x3_valid
    out["last tap dropped"] = (x, w, correlate3x3_valid(x, w2).astype(x.dtype))
    out["filter transposed"] = (x, w, correlate3x3_valid(x, w.T.copy()).astype(x.dtype))
    for name, value in (("NaN lost", np.nan), ("inf lost", np.inf)):
        x2 = x.copy()
        x2[5, 7] = value
        out[name] = (x2, w, right)
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("checker", ["ConvReference", "Checker"])
def test_conv_checkers_reject_every_fault(dtype, checker):
    from matmul_ladder.bench.check import correlate3x3_valid
    rng = np.random.default_rng(2)
    x = rng.standard_normal((60, 70)).astype(dtype)
    w = rng.standard_normal((3, 3)).astype(dtype)
    right = correlate3x3_valid(x, w)
    judge = ConvReference if checker == "ConvReference" else Checker
    assert not judge(x, w).violations(right)
    for name, (fx, fw, wrong) in conv_faults(x, w, right).items():
        assert judge(fx, fw).violations(wrong), f"{checker} {dtype}: {name} passed"


# ---- the harness and race check before they time ---------------------------------------------
def fake_kernel(name, fn):
    @contextlib.contextmanager
    def bind(threads):
        yield fn
    return _registry.Kernel(name, "C", 90, f"test kernel {name}", False, bind, lambda: "")


def _wrong_tile(a, b):
    c = a @ b
    c[:8, :8] = a[1:9] @ b[:, :8]   # rows off by one
    return c


WRONG = {
    "zeros": lambda a, b: np.zeros((a.shape[0], b.shape[1]), a.dtype),
    "twice": lambda a, b: 2 * (a @ b),
    "one wrong tile": _wrong_tile,
    "K tail dropped": lambda a, b: a[:, :-1] @ b[:-1],
    "B transposed": lambda a, b: a @ b.T,
}


@pytest.mark.parametrize("fault", list(WRONG))
def test_the_harness_fails_and_does_not_time_a_wrong_kernel(fault):
    kernel = fake_kernel(fault.replace(" ", "_"), WRONG[fault])
    h = Harness(Config(sizes=[24, 96], dtypes=["float32", "float64"], threads=[1],
                       budget=5.0, min_time=0.001), kernels=[kernel], run_id="t")
    rows = h.run()
    assert rows and all(r["status"] == "FAILED" and r["median_s"] == "" for r in rows), rows


@pytest.mark.parametrize("fault", list(WRONG))
def test_race_refuses_to_time_a_wrong_contender(fault):
    a, b = inputs("float32", 40, 40)
    with pytest.raises(AssertionError, match="wrong answer, not timed"):
        race(a, b, {"right": lambda x, y: x @ y, "wrong": WRONG[fault]}, baseline="right",
             min_time=0.001, budget=1.0, min_rounds=1)
