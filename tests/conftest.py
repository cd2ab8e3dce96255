"""Shared helpers: the kernels under test and the error bound of GUIDE.md section 4."""
import numpy as np
import pytest

import matmul_ladder as ml

CPU_KERNELS = [k.name for k in ml.kernels() if k.device == "cpu"]
DTYPES = [np.float32, np.float64]
# Bound constant: |C - C_ref| <= BOUND_C * K * eps * (|A| @ |B|), elementwise.
BOUND_C = 2.0
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


def assert_matmul_close(c, a, b):
    """c is a @ b within the standard rounding-error bound for its dtype."""
    assert isinstance(c, np.ndarray)
    assert c.dtype == a.dtype, f"result dtype {c.dtype}, inputs {a.dtype}"
    assert c.shape == (a.shape[0], b.shape[1])
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ref = a64 @ b64
    k = a.shape[1]
    bound = BOUND_C * k * np.finfo(a.dtype).eps * (np.abs(a64) @ np.abs(b64))
    err = np.abs(c.astype(np.float64) - ref)
    bad = ~(err <= bound)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise AssertionError(f"{bad.sum()} of {c.size} entries out of bound; first at ({i}, {j}): "
                             f"got {c[i, j]!r}, want {ref[i, j]!r} +- {bound[i, j]!r}")


def too_slow(kernel, m, n, k):
    return kernel == "py_naive" and m * n * k > PY_NAIVE_MAX_FLOPS
