"""Every CPU kernel against numpy.matmul: empty and tiny shapes, primes, every tile edge, sizes
past the cache blocks, strided and Fortran layouts, NaN/Inf, random shapes (hypothesis)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import matmul_ladder as ml
from conftest import (DTYPES, assert_matmul_close, kernel_params, random_matrix, too_slow)

# (M, N, K). Tiles here: c_simd MR 6/12, NR 8/16/32, MC 96, KC 1024/512 (256 when C is small:
# all shapes here), NC 1024 (x threads in c_omp); c_blocked KB 85, NB 1536/3072
# (ml.build_info()["blocking"]); test_extreme_blocks_every_loop below shrinks them all.
SHAPES = [
    (0, 0, 0), (0, 5, 3), (5, 0, 3), (5, 3, 0), (1, 1, 1), (1, 1, 7), (2, 3, 5),
    (7, 13, 17), (13, 31, 97), (31, 37, 41),
    (5, 7, 11), (6, 16, 8), (12, 32, 192), (11, 31, 191), (13, 33, 193), (7, 17, 9),
    (25, 65, 385), (97, 101, 103),
    (1, 100, 25600),        # the seed blog's (1 x 25600) @ (25600 x 100)
    (1, 2500, 30),          # one row of A (GEMV path) over several column chunks
    (2, 2500, 30),          # a few rows of A (no packing) over several column chunks
    (3, 100, 25600),        # a few rows, narrow C: rows of C off cache-line boundaries
    (4, 1100, 7),           # a few rows: one group of four, K not a multiple of 4
    (5, 100, 300),          # a few rows: a group of four and one row
    (8, 300, 70),           # the last few-rows case
    (9, 100, 300),          # one row past it: the packed path
    (1400, 40, 50),         # M past MC (both dtypes)
    (7, 4100, 9),           # N past NC and NB
    (30, 30, 500),          # K past KC (small M) and KB
    (200, 37, 1100),        # M past MC, K past the short KC
    (64, 3100, 90),         # N past float32's NB, K past KB
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("kernel", kernel_params())
def test_shapes(kernel, shape, dtype):
    m, n, k = shape
    if too_slow(kernel, m, n, k):
        pytest.skip("too slow for py_naive")
    rng = np.random.default_rng(m * 1_000_003 + n * 1009 + k)
    a, b = random_matrix(rng, m, k, dtype), random_matrix(rng, k, n, dtype)
    assert_matmul_close(ml.matmul(a, b, kernel=kernel), a, b, kernel)


def _layouts(rng, m, n, k, dtype):
    """(name, a, b) for inputs that are not plain C-ordered arrays."""
    big_a = random_matrix(rng, 2 * m + 1, 3 * k + 2, dtype)
    big_b = random_matrix(rng, 2 * k + 1, 3 * n + 2, dtype)
    yield "fortran", random_matrix(rng, m, k, dtype, "F"), random_matrix(rng, k, n, dtype, "F")
    yield "row-slice", big_a[:m, :k], big_b[:k, :n]                # row stride > cols
    yield "strided", big_a[::2, ::3][:m, :k], big_b[::2, ::3][:k, :n]
    yield "negative", big_a[::-1, ::-1][:m, :k], big_b[::-2, ::-1][:k, :n]
    yield "transposed", random_matrix(rng, k, m, dtype).T, random_matrix(rng, n, k, dtype).T
    ro_a, ro_b = random_matrix(rng, m, k, dtype), random_matrix(rng, k, n, dtype)
    ro_a.setflags(write=False)
    ro_b.setflags(write=False)
    yield "read-only", ro_a, ro_b


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", kernel_params())
def test_layouts(kernel, dtype):
    rng = np.random.default_rng(7)
    for m, n, k in [(1, 1, 1), (13, 37, 29), (1, 5, 3), (4, 1, 6)]:
        for name, a, b in _layouts(rng, m, n, k, dtype):
            expected = (a.copy(), b.copy())
            c = ml.matmul(a, b, kernel=kernel)
            assert_matmul_close(c, a, b, kernel)
            np.testing.assert_array_equal(a, expected[0], err_msg=f"{name}: a was modified")
            np.testing.assert_array_equal(b, expected[1], err_msg=f"{name}: b was modified")


@pytest.mark.parametrize("kernel", kernel_params())
@settings(max_examples=25, deadline=None)
@given(m=st.integers(0, 70), n=st.integers(0, 70), k=st.integers(0, 70),
       dtype=st.sampled_from(DTYPES), order=st.sampled_from("CF"), seed=st.integers(0, 2**31))
def test_random_shapes(kernel, m, n, k, dtype, order, seed):
    rng = np.random.default_rng(seed)
    a, b = random_matrix(rng, m, k, dtype, order), random_matrix(rng, k, n, dtype, order)
    assert_matmul_close(ml.matmul(a, b, kernel=kernel), a, b, kernel)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", kernel_params())
def test_nan_and_inf_propagate(kernel, dtype):
    rng = np.random.default_rng(3)
    m, n, k = 19, 37, 23
    a = rng.uniform(0.5, 1.0, (m, k)).astype(dtype)
    b = rng.uniform(0.5, 1.0, (k, n)).astype(dtype)
    a[2, 3] = np.inf        # row 2 of C: +inf (all other terms positive and finite)
    b[5, 4] = np.nan        # column 4 of C: NaN
    c = ml.matmul(a, b, kernel=kernel)
    assert np.isnan(c[:, 4]).all()
    others = np.ones(n, bool)
    others[4] = False
    assert np.isposinf(c[2, others]).all()
    rows = np.ones(m, bool)
    rows[2] = False
    assert np.isfinite(c[np.ix_(rows, others)]).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", kernel_params())
def test_output_is_fresh_c_ordered(kernel, dtype):
    rng = np.random.default_rng(5)
    a, b = random_matrix(rng, 9, 4, dtype), random_matrix(rng, 4, 11, dtype)
    c = ml.matmul(a, b, kernel=kernel)
    assert c.flags.c_contiguous and c.flags.writeable
    assert not np.shares_memory(c, a) and not np.shares_memory(c, b)


@pytest.mark.parametrize("kernel", kernel_params([k.name for k in ml.kernels("matmul")
                                                   if k.name.startswith(("c_", "cy_"))]))
def test_compiled_kernels_write_cache_line_aligned_output(kernel):
    rng = np.random.default_rng(6)
    a, b = random_matrix(rng, 13, 5, np.float64), random_matrix(rng, 5, 7, np.float64)
    assert ml.matmul(a, b, kernel=kernel).ctypes.data % 64 == 0


@pytest.mark.parametrize("kernel", kernel_params([k.name for k in ml.kernels("matmul")
                                                  if k.parallel and k.device == "cpu"]))
@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_counts_agree(kernel, dtype):
    dtypes = {k.name: k.dtypes for k in ml.kernels("matmul")}[kernel]
    if np.dtype(dtype).name not in dtypes:
        pytest.skip(f"{kernel} takes {', '.join(dtypes)} only")
    rng = np.random.default_rng(11)
    a, b = random_matrix(rng, 301, 257, dtype), random_matrix(rng, 257, 203, dtype)
    results = [ml.matmul(a, b, kernel=kernel, threads=t) for t in (1, 2, 3)]
    for c in results:
        assert_matmul_close(c, a, b, kernel)
    if kernel.startswith(("c_", "cy_")):  # each tile is computed by one thread, same order
        np.testing.assert_array_equal(results[0], results[1])
        np.testing.assert_array_equal(results[0], results[2])


def test_default_kernel_is_c_omp():
    rng = np.random.default_rng(1)
    a, b = random_matrix(rng, 20, 30, np.float64), random_matrix(rng, 30, 10, np.float64)
    np.testing.assert_array_equal(ml.matmul(a, b), ml.matmul(a, b, kernel="c_omp"))


def extreme_sizes(dtype, which):
    """Blocks that make small shapes run every loop of the nests several times, with edges
    everywhere: 'small' (MC 24, KC 40, NC 64), or the smallest legal ones, 'minimal'
    (MC = MR, KC = 8, NC = NR; KB = 8, NB = 16)."""
    if which == "small":
        return dict(mc=24, kc=40, nc=64, kb=8, nb=32)
    simd = ml.build_info()["blocking"][np.dtype(dtype).name]["c_simd"]
    return dict(mc=simd["MR"], kc=8, nc=simd["NR"], kb=8, nb=16)


def blocks_used(kernel, dtype):
    """The blocks `kernel` ran its latest call with: the Cython rungs record their tiles; the
    C rungs ask _ckernels, which owns the sizes, through the functions that they call."""
    from matmul_ladder.rungs import registry as _registry
    ck, size = _registry._ckernels, np.dtype(dtype).itemsize
    if kernel in ("cy_blocked", "cy_prange"):
        return _registry.CYTHON_MODULES[kernel][0].last_tiles()
    if kernel == "c_blocked":
        return ck.blocked_tiles(size)
    simd = ck.gemm_blocking(size, ck.active_isa())
    return {"MC": simd["MC"], "KC": simd["KC"], "NC": simd["NC"]}


@pytest.mark.parametrize("which", ["small", "minimal"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", kernel_params(["c_simd", "c_omp", "c_blocked", "cy_blocked",
                                                  "cy_prange"]))
def test_extreme_blocks_every_loop(kernel, dtype, which):
    rng = np.random.default_rng(8)
    sizes = extreme_sizes(dtype, which)
    expected = ({"KB": sizes["kb"], "NB": sizes["nb"]} if kernel in ("c_blocked", "cy_blocked",
                                                                     "cy_prange")
                else {"MC": sizes["mc"], "KC": sizes["kc"], "NC": sizes["nc"]})
    with ml.blocking_override(dtype, **sizes):
        for m, n, k in [(61, 130, 70), (48, 64, 80), (13, 200, 41), (100, 7, 123)]:
            a, b = random_matrix(rng, m, k, dtype), random_matrix(rng, k, n, dtype)
            assert_matmul_close(ml.matmul(a, b, kernel=kernel), a, b)
            assert blocks_used(kernel, dtype) == expected  # the extreme blocks, not the model's


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threads", [2, 3, 7])
@pytest.mark.parametrize("m, n, k", [(1, 100, 25600), (3, 37, 5000), (8, 5, 999), (2, 700, 3000)])
def test_few_rows_on_several_threads(m, n, k, threads, dtype):
    """A few rows of A on several threads: C narrow enough that the threads split K (and add
    their partial sums in a fixed order, so the answer does not depend on timing), or wide
    enough that they split the columns."""
    if not next(i for i in ml.kernels() if i.name == "c_omp").available:
        pytest.skip("c_omp unavailable")
    rng = np.random.default_rng(11)
    a, b = random_matrix(rng, m, k, dtype), random_matrix(rng, k, n, dtype)
    c = ml.matmul(a, b, kernel="c_omp", threads=threads)
    assert_matmul_close(c, a, b)
    np.testing.assert_array_equal(c, ml.matmul(a, b, kernel="c_omp", threads=threads))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("isa", ["avx2", "avx512"])
def test_small_a_read_in_place(isa, dtype):
    """A no larger than one packed block is read where it lies (a_in_place in blis_loops.h):
    full MR-row tiles straight from A's rows, the last rows packed; rows of A farther apart
    than K (a column slice), and rows 4 KiB apart (packed instead), on 1 and 2 threads."""
    if isa not in ml.build_info()["simd"]["compiled"] or not _cpu_runs(isa):
        pytest.skip(f"{isa} not usable here")
    rng = np.random.default_rng(12)
    itemsize = np.dtype(dtype).itemsize
    wide = random_matrix(rng, 40, 4096 // itemsize, dtype)
    cases = [(random_matrix(rng, 37, 50, dtype), 29),   # rows K apart, a tail of rows
             (random_matrix(rng, 24, 90, dtype)[:, 3:80], 41),  # rows 90 apart, K = 77
             (wide[:, :33], 17)]                         # rows 4 KiB apart
    previous = ml.build_info()["simd"]["active"]
    try:
        ml.set_simd_isa(isa)
        for a, n in cases:
            b = random_matrix(rng, a.shape[1], n, dtype)
            for kernel, threads in [("c_simd", 1), ("c_omp", 1), ("c_omp", 2)]:
                if next(i for i in ml.kernels() if i.name == kernel).available:
                    assert_matmul_close(ml.matmul(a, b, kernel=kernel, threads=threads), a, b)
    finally:
        ml.set_simd_isa(previous)


def _cpu_runs(isa):
    order = ["none", "avx2", "avx512"]
    best = ml.build_info()["simd"]["usable"]
    return best in order and order.index(best) >= order.index(isa)
