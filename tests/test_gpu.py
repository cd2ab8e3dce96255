"""The GPU kernels (CUDA rungs and the cuBLAS baselines) against cuBLAS, on odd shapes.
Marked `gpu`; skipped with the reason where there is no CUDA GPU or CuPy. The tensor-core
rungs are held to the bounds of their precision (check.PRECISIONS: a rung that rounds its
inputs is judged against the product of the rounded inputs, summed to FP32's accuracy); a rung
this GPU cannot run (wgmma off Hopper) is skipped with its reason. Planted faults in each
rung's answer, checked on the GPU, must be caught."""
import numpy as np
import pytest

import matmul_ladder as ml
from matmul_ladder.bench.check import Reference

GPU = [k for k in ml.kernels("matmul") if k.device == "gpu"]
REASON = next((k.reason for k in GPU if k.name == "cupy"), "no GPU kernels")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not any(k.available for k in GPU), reason=f"no GPU: {REASON}")]

SHAPES = [(1, 1, 1), (0, 5, 3), (5, 0, 3), (5, 3, 0), (7, 13, 17), (31, 33, 35), (127, 129, 17),
          (128, 128, 16), (129, 127, 131), (257, 255, 513), (1, 100, 25600), (1000, 3, 7),
          (64, 4096, 96), (515, 517, 519)]


INFO = {k.name: k for k in GPU}


def runnable(kernel):
    if not INFO[kernel].available:
        pytest.skip(INFO[kernel].reason)
    return INFO[kernel].precision


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("kernel", [k.name for k in GPU])
def test_gpu_kernel_matches_cublas(kernel, shape):
    import cupy
    precision = runnable(kernel)
    m, n, k = shape
    rng = np.random.default_rng(m + 7 * n + 31 * k)
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    c = ml.matmul(cupy.asarray(a), cupy.asarray(b), kernel=kernel)
    assert isinstance(c, cupy.ndarray) and c.shape == (m, n)
    problem = Reference(a, b).violations(cupy.asnumpy(c), precision)
    assert not problem, problem
    if precision:
        return  # rounded inputs: the check above is against their own product
    np.testing.assert_allclose(cupy.asnumpy(c), cupy.asnumpy(cupy.asarray(a) @ cupy.asarray(b)),
                               rtol=1e-4, atol=1e-4 * max(k, 1))


@pytest.mark.parametrize("kernel", [k.name for k in GPU])
def test_gpu_kernel_on_strided_views(kernel):
    import cupy
    precision = runnable(kernel)
    rng = np.random.default_rng(1)
    big = cupy.asarray(rng.uniform(-1, 1, (300, 301)).astype(np.float32))
    a, b = big[1:200:2, 3:150], big[::-2, 5:66][:147]
    c = ml.matmul(a, b, kernel=kernel)
    problem = Reference(cupy.asnumpy(a), cupy.asnumpy(b)).violations(cupy.asnumpy(c), precision)
    assert not problem, problem


def test_3xtf32_meets_the_fp32_bounds_at_short_k_where_tf32_does_not():
    """The big/small split is what buys the accuracy: at K = 64, one TF32 pass misses the FP32
    bounds and three passes meet them. (At large K the tensor cores' truncated sums grow as K:
    docs/accuracy.md.)"""
    import cupy
    runnable("cuda_3xtf32")
    rng = np.random.default_rng(5)
    a = rng.standard_normal((200, 64)).astype(np.float32)   # short dot products: rounding shows
    b = rng.standard_normal((64, 150)).astype(np.float32)
    ref = Reference(a, b)
    one = ml.matmul(cupy.asarray(a), cupy.asarray(b), kernel="cuda_tf32_mma")
    three = ml.matmul(cupy.asarray(a), cupy.asarray(b), kernel="cuda_3xtf32")
    assert ref.violations(one.get()), "TF32 met the FP32 bound: the test inputs are too easy"
    assert not ref.violations(one.get(), "tf32")
    assert not ref.violations(three.get()), ref.violations(three.get())


PERSISTENT = [("cuda_bf16_persistent", "cuda_bf16_wgmma"), ("cuda_tf32_persistent", "cuda_tf32_wgmma")]


@pytest.mark.parametrize("shape", [(2049, 2305, 130), (1100, 4700, 520)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("persistent, before", PERSISTENT, ids=[p for p, _ in PERSISTENT])
def test_a_persistent_rung_gives_the_bits_of_the_rung_before(persistent, before, shape):
    """Rungs 11 and 13 compute each tile as rungs 10 and 12 do (the same wgmma sums in the same
    order); only which block computes it, and when, differ. These shapes have 170 and 171
    tiles of 128 x 256, more than an H100's or H200's 132 SMs, so blocks loop over 1 or 2
    tiles; their tile rows (17, 9) leave a short last group of the grouped order, their edges
    are partial, and 3 or 9 k-tiles a tile (5 or 17 for TF32) carry the 4-stage ring across
    tiles at every phase. A tile computed twice, skipped or put in the wrong place, or a stage
    refilled while its last products are still being computed, changes bits."""
    import cupy
    runnable(before)
    precision = runnable(persistent)
    m, n, k = shape
    rng = np.random.default_rng(m + n + k)
    a = cupy.asarray(rng.standard_normal((m, k)).astype(np.float32))
    b = cupy.asarray(rng.standard_normal((k, n)).astype(np.float32))
    c = ml.matmul(a, b, kernel=persistent)
    assert not Reference(a, b).violations(c, precision), Reference(a, b).violations(c, precision)
    same = c == ml.matmul(a, b, kernel=before)
    assert bool(same.all()), f"{int((~same).sum())} of {m * n} entries differ from {before}'s"


def test_3xtf32_wgmma_is_within_4x_cublas_fp32_at_long_k():
    """Rung 14 promotes its big products out of the tensor core every 32 of K; summed inside
    it instead, their truncation would grow as K (rung 9's sums in the tensor core read 2.9e-5
    at K = 4096, 100x cuBLAS FP32). At K = 16384 the error must stay within 4x cuBLAS FP32's
    on the same inputs, and the answer meet the 3xtf32 bounds on an odd shape."""
    import cupy
    precision = runnable("cuda_3xtf32_wgmma")
    rng = np.random.default_rng(14)
    a = cupy.asarray(rng.standard_normal((256, 16384)).astype(np.float32))
    b = cupy.asarray(rng.standard_normal((16384, 256)).astype(np.float32))
    ref = Reference(a, b)
    c = ml.matmul(a, b, kernel="cuda_3xtf32_wgmma")
    assert not ref.violations(c, precision), ref.violations(c, precision)
    ours, cublas = ref.normwise_error(c), ref.normwise_error(a @ b)
    assert ours <= 4 * cublas, f"normwise error {ours:.2e}, cuBLAS FP32 {cublas:.2e}"


@pytest.mark.parametrize("kernel", ["cuda_3xtf32", "cuda_3xtf32_wgmma"])
def test_3xtf32_keeps_an_infinity_whose_small_products_disagree(kernel):
    """b = 1 - 2^-13 splits into big 1 and small -2^-13, so inf x b's small product is -inf
    beside the big product's +inf: summed, they would make a NaN where inf x b is +inf."""
    import cupy
    runnable(kernel)
    a = np.ones((20, 24), np.float32)
    b = np.full((24, 20), 1 - 2.0 ** -13, np.float32)
    a[3, 5] = np.inf
    c = ml.matmul(cupy.asarray(a), cupy.asarray(b), kernel=kernel).get()
    assert np.all(c[3] == np.inf), c[3]
    np.testing.assert_allclose(np.delete(c, 3, axis=0), 24 * (1 - 2.0 ** -13), rtol=1e-6)


def test_cuda_bf16_wgmma_stage_ring_over_a_long_k():
    """A stage released before the products reading it are done (a missing wgmma.wait_group)
    lets TMA refill it under them. One tile row per SM, each with 1024 k-tiles: the producer
    runs at most 4 stages ahead, so every stage is refilled about 256 times. Rung 10 must give
    the same bits on every call and the bits of rung 11 (the same sums in the same order)."""
    import cupy
    runnable("cuda_bf16_wgmma")
    runnable("cuda_bf16_persistent")
    rng = np.random.default_rng(65)
    a = cupy.asarray(rng.standard_normal((1024, 65536)).astype(np.float32))
    b = cupy.asarray(rng.standard_normal((65536, 2048)).astype(np.float32))
    first = ml.matmul(a, b, kernel="cuda_bf16_wgmma")
    for other in [ml.matmul(a, b, kernel="cuda_bf16_wgmma") for _ in range(2)] + \
            [ml.matmul(a, b, kernel="cuda_bf16_persistent")]:
        same = first == other
        assert bool(same.all()), f"{int((~same).sum())} of {first.size} entries changed"


def test_tf32_wgmma_reads_a_in_place_or_through_a_padded_copy():
    """TMA reads A in place only where its rows are a multiple of 16 bytes and it starts on a
    16-byte boundary; a contiguous A that starts 4 bytes off one must be copied first (TMA
    refuses the address). Both ways pass the TF32 check, and they differ: in place, the tensor
    core truncates A to TF32; the copy rounds it to nearest, so the copy path was taken."""
    import cupy
    precision = runnable("cuda_tf32_wgmma")
    m, n, k = 300, 260, 132
    rng = np.random.default_rng(12)
    flat = cupy.asarray(rng.standard_normal(m * k + 1).astype(np.float32))
    a_off = flat[1:].reshape(m, k)          # contiguous, 4 bytes past a 16-byte boundary
    a = a_off.copy()                        # the same values, 16-byte aligned
    assert a_off.flags.c_contiguous and a_off.data.ptr % 16 == 4 and a.data.ptr % 16 == 0
    b = cupy.asarray(rng.standard_normal((k, n)).astype(np.float32))
    ref = Reference(a, b)
    in_place = ml.matmul(a, b, kernel="cuda_tf32_wgmma")
    copied = ml.matmul(a_off, b, kernel="cuda_tf32_wgmma")
    assert not ref.violations(in_place, precision), ref.violations(in_place, precision)
    assert not ref.violations(copied, precision), ref.violations(copied, precision)
    assert not bool((in_place == copied).all()), "A was not rounded differently: one path taken twice"


@pytest.mark.parametrize("kernel", [k.name for k in GPU if k.precision])
def test_rounding_rungs_keep_nan_and_inf(kernel):
    import cupy
    runnable(kernel)
    a = np.ones((20, 24), np.float32)
    b = np.ones((24, 20), np.float32)
    a[3, 5], b[7, 9] = np.nan, np.inf
    c = ml.matmul(cupy.asarray(a), cupy.asarray(b), kernel=kernel).get()
    assert np.isnan(c[3]).all() and np.isinf(c[:, 9][np.arange(20) != 3]).all()
    assert np.all(c[np.ix_(np.arange(20) != 3, np.arange(20) != 9)] == 24)


@pytest.mark.parametrize("kernel", [k.name for k in GPU if k.name.startswith("cuda_")])
def test_cuda_rungs_refuse_float64_and_numpy(kernel):
    import cupy
    runnable(kernel)
    with pytest.raises(TypeError, match="float32 only"):
        ml.matmul(cupy.ones((2, 2)), cupy.ones((2, 2)), kernel=kernel)
    with pytest.raises(TypeError, match="cupy.asarray"):
        ml.matmul(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), kernel=kernel)


@pytest.mark.parametrize("k", [64, 4099])
@pytest.mark.parametrize("kernel", [k.name for k in GPU])
def test_planted_faults_in_a_gpu_answer_are_caught_on_the_gpu(kernel, k):
    """The kernel's own answer passes; that answer with a fault planted in it does not, with
    the reference computed from CuPy arrays (as the harness and cuda_ladder.py do)."""
    import cupy
    precision = runnable(kernel)
    rng = np.random.default_rng(k)
    a = cupy.asarray(rng.standard_normal((256, k)).astype(np.float32))
    b = cupy.asarray(rng.standard_normal((k, 256)).astype(np.float32))
    ref = Reference(a, b)
    c = ml.matmul(a, b, kernel=kernel)
    assert not ref.violations(c, precision), ref.violations(c, precision)
    tile = c.copy()
    tile[128:256, :] = c[:128, :]                      # a block tile written to the wrong place
    tail = ml.matmul(a[:, :k - 3], b[:k - 3], kernel=kernel)    # the K tail dropped
    lost = c.copy()
    lost[0, 0] = cupy.nan
    wrong = {"zeros": cupy.zeros_like(c), "twice": 2 * c, "one wrong tile": tile,
             "K tail dropped": tail, "a NaN where none is": lost}
    for name, answer in wrong.items():
        assert ref.violations(answer, precision), f"{kernel} K={k}: {name} passed"


@pytest.mark.parametrize("kernel", [k.name for k in GPU if k.name.startswith("cuda_")])
def test_every_call_gives_the_same_bits(kernel):
    """No rung sums in an order that varies from call to call, so a race (a tile read before
    its copy lands, a stage refilled while it is read) shows as answers that differ."""
    import cupy
    runnable(kernel)
    rng = np.random.default_rng(9)
    a = cupy.asarray(rng.standard_normal((1031, 2053)).astype(np.float32))
    b = cupy.asarray(rng.standard_normal((2053, 1029)).astype(np.float32))
    first = ml.matmul(a, b, kernel=kernel)
    for _ in range(20):
        assert cupy.array_equal(ml.matmul(a, b, kernel=kernel), first), kernel


def compute_sanitizer():
    """NVIDIA's compute-sanitizer: on PATH, or in the CUDA toolkit CuPy found."""
    import shutil
    found = shutil.which("compute-sanitizer")
    if found:
        return found
    try:
        import cupy
        import os
        path = os.path.join(cupy.cuda.get_cuda_path() or "", "bin", "compute-sanitizer")
        return path if os.path.exists(path) else None
    except Exception:
        return None


RACE_PROGRAM = """
import sys, cupy, numpy as np, matmul_ladder as ml
rng = np.random.default_rng(3)
a = cupy.asarray(rng.standard_normal((130, 200)).astype(np.float32))
b = cupy.asarray(rng.standard_normal((200, 140)).astype(np.float32))
ml.matmul(a, b, kernel=sys.argv[1])
cupy.cuda.runtime.deviceSynchronize()
"""


@pytest.mark.slow
@pytest.mark.parametrize("kernel", [k.name for k in GPU if k.name.startswith("cuda_")])
def test_racecheck_finds_no_shared_memory_hazard(kernel, tmp_path):
    """compute-sanitizer's racecheck watches every shared-memory access of one call (K = 200:
    several k tiles, so every pipeline stage is filled, read and refilled). A tile read before
    its asynchronous copy has landed, or a stage refilled while another warp reads it, is a
    hazard it reports even when the timing of this GPU happens to hide it from the answers."""
    import subprocess
    import sys
    runnable(kernel)
    tool = compute_sanitizer()
    if tool is None:
        pytest.skip("compute-sanitizer is not installed (it comes with the CUDA toolkit)")
    script = tmp_path / "one_call.py"
    script.write_text(RACE_PROGRAM)
    out = subprocess.run([tool, "--tool", "racecheck", "--racecheck-report", "hazard",
                          "--error-exitcode", "3", sys.executable, str(script), kernel],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"{kernel}: racecheck exit {out.returncode}\n{out.stdout[-3000:]}\n{out.stderr[-2000:]}"
    assert "0 hazards" in out.stdout or "ERROR SUMMARY: 0 errors" in out.stdout, out.stdout[-3000:]
