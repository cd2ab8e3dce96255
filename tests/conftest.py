"""Shared helpers: the kernels under test and the error bound of matmul_ladder.bench.check."""
import numpy as np
import pytest

import matmul_ladder as ml
from matmul_ladder.bench.check import Reference

# The CPU kernels that compute in the arrays' dtype, both dtypes, held to its bounds. Those
# that round to bfloat16 (c_bf16, torch_bf16: float32 only) have tests/test_bf16*.py.
CPU_KERNELS = [k.name for k in ml.kernels("matmul") if k.device == "cpu" and not k.precision]
DTYPES = [np.float32, np.float64]
# py_naive interprets every multiply-add; keep its shapes small.
PY_NAIVE_MAX_FLOPS = 3_000_000


def kernel_params(kernels=CPU_KERNELS):
    """One pytest param per kernel, skipped with the reason where it is unavailable here."""
    infos = {k.name: k for k in ml.kernels()}
    return [pytest.param(name, marks=pytest.mark.skipif(not infos[name].available,
                                                        reason=infos[name].reason or "n/a"))
            for name in kernels]


def random_matrix(rng, rows, cols, dtype, order="C"):
    """Values in [-1, 1), so that cancellation happens and the bound is exercised."""
    x = rng.uniform(-1.0, 1.0, size=(rows, cols)).astype(dtype)
    return np.asfortranarray(x) if order == "F" else x


def assert_matmul_close(c, a, b, kernel=None):
    """c is a @ b within the rounding-error bound of matmul_ladder.bench.check; with
    `kernel`, the bound of that kernel's precision and (a fast scheme's) error growth."""
    assert isinstance(c, np.ndarray)
    assert c.shape == (a.shape[0], b.shape[1])
    info = next((k for k in ml.kernels() if k.name == kernel), None) if kernel else None
    problem = Reference(a, b).violations(c, *((info.precision, info.error_growth) if info else ()))
    assert not problem, problem


def too_slow(kernel, m, n, k):
    return kernel == "py_naive" and m * n * k > PY_NAIVE_MAX_FLOPS
