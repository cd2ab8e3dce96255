"""The GPU kernels (CUDA rungs and the cuBLAS baselines) against cuBLAS, on odd shapes.
Marked `gpu`; skipped with the reason where there is no CUDA GPU or CuPy."""
import numpy as np
import pytest

import matmul_ladder as ml
from matmul_ladder.check import Reference

GPU = [k for k in ml.kernels("matmul") if k.device == "gpu"]
REASON = next((k.reason for k in GPU if k.name == "cupy"), "no GPU kernels")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not any(k.available for k in GPU), reason=f"no GPU: {REASON}")]

SHAPES = [(1, 1, 1), (0, 5, 3), (5, 0, 3), (5, 3, 0), (7, 13, 17), (31, 33, 35), (127, 129, 17),
          (128, 128, 16), (129, 127, 131), (257, 255, 513), (1, 100, 25600), (1000, 3, 7),
          (64, 4096, 96), (515, 517, 519)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("kernel", [k.name for k in GPU])
def test_gpu_kernel_matches_cublas(kernel, shape):
    import cupy
    m, n, k = shape
    rng = np.random.default_rng(m + 7 * n + 31 * k)
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    c = ml.matmul(cupy.asarray(a), cupy.asarray(b), kernel=kernel)
    assert isinstance(c, cupy.ndarray) and c.shape == (m, n)
    problem = Reference(a, b).violations(cupy.asnumpy(c))
    assert not problem, problem
    np.testing.assert_allclose(cupy.asnumpy(c), cupy.asnumpy(cupy.asarray(a) @ cupy.asarray(b)),
                               rtol=1e-4, atol=1e-4 * max(k, 1))


@pytest.mark.parametrize("kernel", [k.name for k in GPU])
def test_gpu_kernel_on_strided_views(kernel):
    import cupy
    rng = np.random.default_rng(1)
    big = cupy.asarray(rng.uniform(-1, 1, (300, 301)).astype(np.float32))
    a, b = big[1:200:2, 3:150], big[::-2, 5:66][:147]
    c = ml.matmul(a, b, kernel=kernel)
    problem = Reference(cupy.asnumpy(a), cupy.asnumpy(b)).violations(cupy.asnumpy(c))
    assert not problem, problem


@pytest.mark.parametrize("kernel", [k.name for k in GPU if k.name.startswith("cuda_")])
def test_cuda_rungs_refuse_float64_and_numpy(kernel):
    import cupy
    with pytest.raises(TypeError, match="float32 only"):
        ml.matmul(cupy.ones((2, 2)), cupy.ones((2, 2)), kernel=kernel)
    with pytest.raises(TypeError, match="cupy.asarray"):
        ml.matmul(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32), kernel=kernel)
