"""Bad input gets a clear exception naming the problem: never a crash or a silent cast."""
import numpy as np
import pytest

import matmul_ladder as ml
from conftest import CPU_KERNELS, kernel_params

A = np.ones((3, 4), np.float64)
B = np.ones((4, 5), np.float64)


@pytest.mark.parametrize("kernel", kernel_params())
@pytest.mark.parametrize("a, b, error, words", [
    (np.ones(4), B, ValueError, "a must be 2-D"),
    (A, np.ones((4, 5, 1)), ValueError, "b must be 2-D"),
    (np.ones((3, 5)), B, ValueError, "shape mismatch"),
    (A.astype(np.float32), B, TypeError, "mixed dtypes"),
    (A.astype(np.int64), B.astype(np.int64), TypeError, "unsupported dtype int64"),
    (A.astype(np.float16), B.astype(np.float16), TypeError, "unsupported dtype float16"),
    (A.astype(np.complex128), B.astype(np.complex128), TypeError, "unsupported dtype complex128"),
    (A.astype(">f8"), B.astype(">f8"), TypeError, "unsupported dtype >f8"),
    (A.tolist(), B, TypeError, "a is a builtins.list"),
    (A, 2.0, TypeError, "b is a builtins.float"),
])
def test_bad_operands(kernel, a, b, error, words):
    with pytest.raises(error, match=words):
        ml.matmul(a, b, kernel=kernel)


@pytest.mark.parametrize("kernel", ["", "C_NAIVE", "blas", "cuda_nope"])
def test_unknown_kernel(kernel):
    with pytest.raises(ValueError, match="unknown kernel .* choose from: py_naive"):
        ml.matmul(A, B, kernel=kernel)


def test_kernel_name_must_be_str():
    with pytest.raises(TypeError, match="kernel must be a str"):
        ml.matmul(A, B, kernel=3)


PARALLEL = [k.name for k in ml.kernels("matmul") if k.parallel and k.device == "cpu"]
SERIAL = [k for k in CPU_KERNELS if k not in PARALLEL]


@pytest.mark.parametrize("kernel", kernel_params())
@pytest.mark.parametrize("threads, error, words", [
    (0, ValueError, "between 1 and"), (-2, ValueError, "between 1 and"),
    (10**6, ValueError, "between 1 and"), (1.5, TypeError, "int or None, got float"),
    ("2", TypeError, "int or None, got str"), (True, TypeError, "int or None, got bool"),
])
def test_bad_thread_count(kernel, threads, error, words):
    with pytest.raises(error, match=words):
        ml.matmul(A, B, kernel=kernel, threads=threads)


@pytest.mark.parametrize("kernel", kernel_params(SERIAL))
def test_serial_kernels_refuse_threads(kernel):
    with pytest.raises(ValueError, match="single-threaded"):
        ml.matmul(A, B, kernel=kernel, threads=2)
    ml.matmul(A, B, kernel=kernel, threads=1)


@pytest.mark.parametrize("info", [k for k in ml.kernels("matmul") if not k.available],
                         ids=lambda k: k.name)
def test_unavailable_kernels_say_why(info):
    assert info.reason
    with pytest.raises(ml.KernelUnavailableError, match="not available here"):
        ml.matmul(A, B, kernel=info.name)


def test_gpu_kernels_refuse_numpy_arrays():
    gpu = [k for k in ml.kernels("matmul") if k.device == "gpu" and k.available]
    if not gpu:
        pytest.skip("no GPU kernel available here")
    with pytest.raises(TypeError, match="cupy.asarray"):
        ml.matmul(A, B, kernel=gpu[0].name)


def test_binding_rechecks_layout():
    """The private binding refuses what would be unsafe, instead of crashing."""
    from matmul_ladder import _ckernels
    c = np.empty((3, 5))
    with pytest.raises(ValueError, match="unit-stride"):
        _ckernels.run("c_naive", np.asfortranarray(A), B, c)
    with pytest.raises(ValueError, match="shape mismatch"):
        _ckernels.run("c_naive", A, B, np.empty((3, 4)))
    with pytest.raises(ValueError, match="unknown C rung"):
        _ckernels.run("c_fast", A, B, c)
    with pytest.raises(ValueError, match="threads"):
        _ckernels.run("c_omp", A, B, c, 0)
