"""Checks for bugs that a mutation run (tools/mutate.py; reference/zen4-2core/mutation/REPORT.md)
showed the other tests catch only by chance."""
import numpy as np
import pytest

import matmul_ladder as ml
from conftest import DTYPES, assert_matmul_close, random_matrix

C_OMP = next(k for k in ml.kernels("matmul") if k.name == "c_omp")


@pytest.mark.skipif(not C_OMP.available, reason=C_OMP.reason or "c_omp unavailable")
@pytest.mark.parametrize("dtype", DTYPES)
def test_c_omp_threads_agree_bitwise_under_small_blocks(dtype):
    """c_omp on 3 threads equals c_omp on 1 bit for bit, 30 times over, with A blocks and B
    panels of several micro-panels each: each tile of C is computed by one thread in the same
    order whatever the thread count, so a difference is a race. Mutant c_omp.second_a_buffer
    (one A buffer for every block: the next block packed over the one other threads still
    read) failed test_extreme_blocks_every_loop in about two runs of three; it fails this one
    on the first product (tests/aarch64/ladder_check.c has the same check)."""
    rng = np.random.default_rng(21)
    a, b = random_matrix(rng, 150, 40, dtype), random_matrix(rng, 40, 100, dtype)
    with ml.blocking_override(dtype, mc=48, kc=16, nc=96):
        one = ml.matmul(a, b, kernel="c_omp", threads=1)
        assert_matmul_close(one, a, b)
        for run in range(30):
            np.testing.assert_array_equal(ml.matmul(a, b, kernel="c_omp", threads=3), one,
                                          err_msg=f"c_omp on 3 threads, product {run + 1}")
