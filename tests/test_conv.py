"""The 3x3 convolution ladder: every kernel against the float64 reference with the K = 9
bound, in both dtypes and modes, with and without flip, on edge shapes and layouts, with
NaN and Inf, and every bad input refused with a clear error. GPU kernels are marked `gpu`."""
import threading

import numpy as np
import pytest

import matmul_ladder as ml
from matmul_ladder.bench.check import ConvReference

DTYPES = [np.float32, np.float64]
SHAPES = [(1, 1), (2, 2), (3, 3), (4, 4), (17, 5), (5, 17), (129, 257)]
INFOS = {k.name: k for k in ml.kernels("conv2d")}


def conv_params(device):
    params = []
    for name, k in INFOS.items():
        if k.device != device:
            continue
        marks = [pytest.mark.skipif(not k.available, reason=k.reason or "n/a")]
        if device == "gpu":
            marks.append(pytest.mark.gpu)
        params.append(pytest.param(name, marks=marks))
    return params


CPU = conv_params("cpu")
GPU = conv_params("gpu")


def image(rng, shape, dtype, order="C"):
    x = rng.uniform(-1, 1, shape).astype(dtype)
    return np.asfortranarray(x) if order == "F" else x


def filt(rng, dtype):
    """An asymmetric filter: a flipped or transposed kernel gives a different answer."""
    w = rng.uniform(-1, 1, (3, 3)).astype(dtype)
    assert not np.allclose(w, w[::-1, ::-1]) and not np.allclose(w, w.T)
    return w


def expected(x, w, mode, flip):
    """ConvReference of what conv2d should compute, from the definition."""
    x = np.asarray(x)
    if flip:
        w = w[::-1, ::-1]
    if mode == "same":
        x = np.pad(x, 1)
    return ConvReference(x, np.ascontiguousarray(w))


def check(y, x, w, mode="valid", flip=False):
    y = y.get() if hasattr(y, "get") else y
    problem = expected(x, w, mode, flip).violations(np.asarray(y))
    assert not problem, problem


@pytest.mark.parametrize("kernel", CPU)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["valid", "same"])
@pytest.mark.parametrize("flip", [False, True])
def test_every_shape(kernel, dtype, mode, flip):
    rng = np.random.default_rng(1)
    w = filt(rng, dtype)
    for shape in SHAPES:
        x = image(rng, shape, dtype)
        y = ml.conv2d(x, w, kernel=kernel, mode=mode, flip=flip)
        want = shape if mode == "same" else (max(shape[0] - 2, 0), max(shape[1] - 2, 0))
        assert y.shape == want and y.dtype == dtype
        check(y, x, w, mode, flip)


@pytest.mark.parametrize("kernel", CPU)
@pytest.mark.parametrize("dtype", DTYPES)
def test_layouts(kernel, dtype):
    """Fortran order, strided and negatively strided views, a non-contiguous filter."""
    rng = np.random.default_rng(2)
    w = filt(rng, dtype)
    base = image(rng, (70, 90), dtype)
    for x in (np.asfortranarray(base), base[::2, ::3], base[::-1, 5:50], base[3:60, 7:80]):
        check(ml.conv2d(x, w, kernel=kernel), x, w)
    wide = np.zeros((6, 6), dtype)
    wide[::2, ::2] = w
    check(ml.conv2d(base, wide[::2, ::2], kernel=kernel), base, w)


@pytest.mark.parametrize("kernel", CPU)
@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_and_inf_propagate(kernel, dtype):
    rng = np.random.default_rng(3)
    w = filt(rng, dtype)
    x = image(rng, (40, 37), dtype)
    x[5, 5], x[20, 30], x[33, 2] = np.nan, np.inf, -np.inf
    y = ml.conv2d(x, w, kernel=kernel)
    check(y, x, w)
    assert np.isnan(y[3:6, 3:6]).all() and np.isinf(y[18:21, 28:31]).all()


@pytest.mark.parametrize("kernel", CPU)
def test_threads_and_sizes_past_the_vector_tiles(kernel):
    """Every column remainder of 4-, 8- and 16-wide vectors, row counts past the bands,
    one and all threads."""
    rng = np.random.default_rng(4)
    if kernel == "conv_py_naive":
        shapes = [(9, 21)]
    else:
        shapes = [(h, w) for h in (3, 6, 7, 11) for w in range(3, 40)] + [(300, 2051)]
    threads = [None, 1] + ([2, 3] if INFOS[kernel].parallel else [])
    for dtype in DTYPES:
        w = filt(rng, dtype)
        for shape in shapes:
            x = image(rng, shape, dtype)
            for t in threads:
                check(ml.conv2d(x, w, kernel=kernel, threads=t), x, w)


def test_flip_is_true_convolution():
    scipy_signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(5)
    x, w = rng.uniform(-1, 1, (30, 41)), filt(rng, np.float64)
    for mode in ("valid", "same"):
        np.testing.assert_allclose(ml.conv2d(x, w, mode=mode, flip=True),
                                   scipy_signal.convolve2d(x, w, mode=mode), atol=1e-12)
        np.testing.assert_allclose(ml.conv2d(x, w, mode=mode),
                                   scipy_signal.correlate2d(x, w, mode=mode), atol=1e-12)


@pytest.mark.parametrize("kernel", [k for k in INFOS if INFOS[k].language in ("C", "Cython")
                                    and INFOS[k].available])
def test_compiled_kernels_release_the_gil_and_are_thread_safe(kernel):
    rng = np.random.default_rng(6)
    jobs = [(image(rng, (200, 150 + 7 * i), np.float32), filt(rng, np.float32)) for i in range(6)]
    results, errors = [None] * len(jobs), []

    def work(i):
        try:
            for _ in range(3):
                results[i] = ml.conv2d(*jobs[i], kernel=kernel, threads=1)
        except Exception as exc:  # reported below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for (x, w), y in zip(jobs, results):
        check(y, x, w)


# ---- bad input ---------------------------------------------------------------------------
X = np.ones((5, 6))
W = np.ones((3, 3))


@pytest.mark.parametrize("args, kwargs, error, match", [
    ((X.astype(np.float32), W), {}, TypeError, "mixed dtypes"),
    ((X.astype(np.int64), W.astype(np.int64)), {}, TypeError, "unsupported dtype"),
    ((X.astype(np.float16), W.astype(np.float16)), {}, TypeError, "unsupported dtype"),
    ((X.tolist(), W), {}, TypeError, "numpy.ndarray"),
    ((X, W.tolist()), {}, TypeError, "numpy.ndarray"),
    ((np.ones(5), W), {}, ValueError, "x must be 2-D"),
    ((np.ones((2, 3, 4)), W), {}, ValueError, "x must be 2-D"),
    ((X, np.ones((5, 5))), {}, ValueError, "w must be 3 x 3"),
    ((X, np.ones(9)), {}, ValueError, "w must be 2-D"),
    ((np.ones((0, 4)), W), {}, ValueError, "at least 1 x 1"),
    ((X, W), {"mode": "full"}, ValueError, "mode"),
    ((X, W), {"mode": None}, ValueError, "mode"),
    ((X, W), {"flip": "yes"}, TypeError, "flip"),
    ((X, W), {"kernel": "c_simd"}, ValueError, "computes matmul"),
    ((X, W), {"kernel": "conv_nope"}, ValueError, "unknown kernel"),
    ((X, W), {"kernel": 3}, TypeError, "kernel must be a str"),
    ((X, W), {"kernel": "conv_c_simd", "threads": 2}, ValueError, "single-threaded"),
    ((X, W), {"threads": 0}, ValueError, "threads"),
    ((X, W), {"threads": 1.5}, TypeError, "threads"),
])
def test_bad_input_is_refused(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        ml.conv2d(*args, **kwargs)


def test_matmul_refuses_convolution_kernels():
    with pytest.raises(ValueError, match="computes conv2d"):
        ml.matmul(np.ones((2, 2)), np.ones((2, 2)), kernel="conv_c_omp")


def test_private_binding_rechecks():
    from matmul_ladder import _cconv
    x, w = np.ones((5, 5)), np.ones((3, 3))
    with pytest.raises(ValueError, match="must be"):
        _cconv.run("conv_c_simd", x, w, np.empty((4, 3)))
    with pytest.raises(ValueError, match="at least 3 x 3"):
        _cconv.run("conv_c_simd", np.ones((2, 5)), w, np.empty((0, 3)))
    with pytest.raises(ValueError, match="unknown"):
        _cconv.run("conv_c_fft", x, w, np.empty((3, 3)))


# ---- GPU ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", GPU)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gpu_kernels(kernel, dtype):
    import cupy
    rng = np.random.default_rng(7)
    w = filt(rng, dtype)
    for shape in SHAPES + [(1000, 1003), (64, 4096)]:
        x = image(rng, shape, dtype)
        for mode in ("valid", "same"):
            for flip in (False, True):
                y = ml.conv2d(cupy.asarray(x), cupy.asarray(w), kernel=kernel, mode=mode, flip=flip)
                assert isinstance(y, cupy.ndarray)
                check(y, x, w, mode, flip)
    x = image(rng, (50, 60), dtype)
    x[10, 10] = np.nan
    check(ml.conv2d(cupy.asarray(x), cupy.asarray(w), kernel=kernel), x, w)
    with pytest.raises(TypeError, match="cupy"):
        ml.conv2d(x, w, kernel=kernel)
