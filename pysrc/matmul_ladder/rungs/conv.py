"""The kernels of the 3x3 convolution ladder and its baselines, in the one registry.

Each binds to f(x, w, out=None) -> y, the 'valid' cross-correlation of an image x (H x W,
both >= 3) with a 3 x 3 filter w, both of one dtype; y is (H - 2) x (W - 2). The kernels
with takes_out write into `out` when given one (checked by ml.conv2d: right shape and dtype,
unit-stride rows); the others ignore it and return a new array, as their libraries do.
ml.conv2d does the rest (checks, true convolution by flipping w, mode='same' by zero
padding, images under 3 x 3).
Baselines that compute something else natively are adapted, and the tests hold each to
the same answer with an asymmetric filter: scipy's convolve2d flips its filter, so it is
given w flipped; ndimage.correlate returns a same-size output, whose border is cut off.
"""
import contextlib
import functools
import importlib.util

import numpy as np

from matmul_ladder.rungs import base, pure
from matmul_ladder.rungs.layout import empty_aligned, unit_stride_rows
from matmul_ladder.rungs.base import (Kernel, _always, _cupy_missing, _import_extension,
                                      _torch_cuda_missing, _torch_missing)

_cconv, _CONV_MISSING = _import_extension("_cconv")

CONV = "conv2d"


def _kernel(name, language, rung, description, parallel, binder, availability, device="cpu",
            dtypes=("float32", "float64"), **fields):
    # The ladder's own rungs (C, Cython, CUDA) write into a given output; baselines say so.
    fields.setdefault("takes_out", language in ("C", "Cython", "CUDA"))
    return Kernel(name, language, rung, description, parallel, binder, availability, device,
                  dtypes, CONV, **fields)


# ---- pure Python -------------------------------------------------------------------------
@contextlib.contextmanager
def _py_bind(threads):
    def run(x, w, out=None):
        rows = pure.correlate3x3_lists(x.tolist(), w.tolist())
        with np.errstate(over="ignore", invalid="ignore"):
            return np.array(rows, dtype=x.dtype).reshape(x.shape[0] - 2, x.shape[1] - 2)
    yield run


# ---- C rungs ----------------------------------------------------------------------------
def _padded_rows(shape, dtype, alignment=64):
    """An output whose rows each start on an `alignment`-byte boundary (a view of a wider
    buffer), as the streaming stores of conv_c_strips need (its aligned_rows)."""
    rows, cols = shape
    per_line = alignment // np.dtype(dtype).itemsize
    return empty_aligned((rows, -(-cols // per_line) * per_line), dtype, alignment)[:, :cols]


def _c_conv_binder(rung, aligned_rows=False):
    @contextlib.contextmanager
    def bind(threads):
        def run(x, w, out=None):
            x, w = unit_stride_rows(x), np.ascontiguousarray(w)
            shape = (x.shape[0] - 2, x.shape[1] - 2)
            y = out if out is not None else \
                (_padded_rows if aligned_rows else empty_aligned)(shape, x.dtype)
            _cconv.run(rung, x, w, y, threads)
            return y
        yield run
    return bind


def _c_available():
    return _CONV_MISSING


def _c_simd_available():
    if _CONV_MISSING:
        return _CONV_MISSING
    return base._simd_available().replace("micro-kernels", "vector kernels")


def _c_omp_available():
    return _c_simd_available() or base._omp_available()


# ---- Cython rungs ------------------------------------------------------------------------
def _cy_conv_binder(rung, openmp=False):
    """openmp: the module's correlate takes a thread count and needs OpenMP."""
    module, missing = _import_extension(f"_{rung}")

    @contextlib.contextmanager
    def bind(threads):
        def run(x, w, out=None):
            x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
            y = out if out is not None and out.flags.c_contiguous else \
                empty_aligned((x.shape[0] - 2, x.shape[1] - 2), x.dtype)
            if openmp:
                module.correlate(x, w, y, threads)
            else:
                module.correlate(x, w, y)
            if out is not None and y is not out:  # typed [:, ::1] views need C order
                out[...] = y
                return out
            return y
        yield run

    def availability():
        if missing:
            return missing
        if openmp and base._ckernels is not None \
                and not base._ckernels.has_openmp():
            return "built without OpenMP: prange would run on one thread"
        return ""
    return bind, availability


# ---- baselines ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _scipy_missing():
    if importlib.util.find_spec("scipy") is None:
        return "SciPy is not installed: pip install scipy"
    return ""


def _valid(full):
    """The 'valid' part of a same-size output (its one-pixel border cut off)."""
    return full[1:-1, 1:-1]


@contextlib.contextmanager
def _scipy_signal_bind(threads):
    from scipy import signal
    yield lambda x, w, out=None: signal.correlate2d(x, w, mode="valid")


@contextlib.contextmanager
def _scipy_convolve_bind(threads):
    from scipy import signal
    # convolve2d flips its filter: hand it w flipped to get the cross-correlation.
    yield lambda x, w, out=None: signal.convolve2d(x, w[::-1, ::-1], mode="valid")


@contextlib.contextmanager
def _scipy_ndimage_bind(threads):
    from scipy import ndimage
    yield lambda x, w, out=None: _valid(ndimage.correlate(x, w, mode="constant"))


@contextlib.contextmanager
def _numpy_einsum_bind(threads):
    from threadpoolctl import threadpool_limits
    from numpy.lib.stride_tricks import sliding_window_view

    def run(x, w, out=None):
        return np.einsum("ijpq,pq->ij", sliding_window_view(x, (3, 3)), w, out=out)
    with threadpool_limits(limits=threads, user_api="blas"):
        yield run


@contextlib.contextmanager
def _numpy_shifts_bind(threads):
    def run(x, w, out=None):
        ho, wo = x.shape[0] - 2, x.shape[1] - 2
        y = np.multiply(w[0, 0], x[:ho, :wo], out=out)
        for p in range(3):
            for q in range(3):
                if p or q:
                    y += w[p, q] * x[p:p + ho, q:q + wo]
        return y
    yield run


@contextlib.contextmanager
def _torch_cpu_bind(threads):
    import torch
    import torch.nn.functional as F
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)

    def run(x, w, out=None):
        tx = torch.from_numpy(np.ascontiguousarray(x))[None, None]
        tw = torch.from_numpy(np.ascontiguousarray(w))[None, None]
        return F.conv2d(tx, tw)[0, 0].numpy()
    try:
        with torch.no_grad():
            yield run
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def _torch_cuda_bind(threads):
    import cupy
    import torch
    import torch.nn.functional as F
    # True FP32 (cuDNN may otherwise use TF32 for convolutions).
    previous = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False

    def run(x, w, out=None):
        tx = torch.from_dlpack(cupy.ascontiguousarray(x))[None, None]
        tw = torch.from_dlpack(cupy.ascontiguousarray(w))[None, None]
        return cupy.from_dlpack(F.conv2d(tx, tw)[0, 0].contiguous())
    try:
        with torch.no_grad():
            yield run
    finally:
        torch.backends.cudnn.allow_tf32 = previous


@contextlib.contextmanager
def _cupyx_signal_bind(threads):
    from cupyx.scipy import signal
    yield lambda x, w, out=None: signal.correlate2d(x, w, mode="valid")


@contextlib.contextmanager
def _cupyx_ndimage_bind(threads):
    from cupyx.scipy import ndimage
    yield lambda x, w, out=None: _valid(ndimage.correlate(x, w, mode="constant"))


def _gpu_scipy_missing():
    return _cupy_missing()


def _cuda_conv_kernels():
    from matmul_ladder.rungs import cuda_conv

    def make(rung):
        @contextlib.contextmanager
        def bind(threads):
            yield cuda_conv.launcher(rung)
        return _kernel(rung.name, "CUDA", rung.rung, rung.description, False, bind,
                       _cupy_missing, "gpu", ("float32", "float64"))
    return [make(r) for r in cuda_conv.RUNGS]


CONV_KERNELS = [
    _kernel("conv_py_naive", "Python", 0, "four loops over Python lists (the floor)", False,
            _py_bind, _always),
    _kernel("conv_c_naive", "C", 1, "four loops, the filter size read at run time", False,
            _c_conv_binder("conv_c_naive"), _c_available),
    _kernel("conv_c_rows", "C", 2, "row by row: nine shifted axpys the compiler vectorises",
            False, _c_conv_binder("conv_c_rows"), _c_available),
    _kernel("conv_c_fixed", "C", 3, "fixed 3x3, nine weights in registers, one pass per row",
            False, _c_conv_binder("conv_c_fixed"), _c_available),
    _kernel("conv_c_simd", "C", 4, "AVX2/AVX-512/NEON FMA intrinsics, four output rows per "
            "pass", False, _c_conv_binder("conv_c_simd"), _c_simd_available),
    _kernel("conv_c_omp", "C", 5, "conv_c_simd on all threads, OpenMP over row blocks", True,
            _c_conv_binder("conv_c_omp"), _c_omp_available),
    _kernel("conv_c_strips", "C", 6, "conv_c_omp in column strips with streaming stores "
            "(for images beyond the L3)", True, _c_conv_binder("conv_c_strips", aligned_rows=True),
            _c_omp_available, aligned_rows=True),
    _kernel("conv_cy_naive", "Cython", 1, "typed Cython four loops (twin of conv_c_naive)",
            False, *_cy_conv_binder("conv_cy_naive")),
    _kernel("conv_cy_rows", "Cython", 2, "typed Cython row-wise axpys (twin of conv_c_rows)",
            False, *_cy_conv_binder("conv_cy_rows")),
    _kernel("conv_cy_prange", "Cython", 3, "fixed 3x3 rows shared among threads by prange",
            True, *_cy_conv_binder("conv_cy_prange", openmp=True)),
    _kernel("conv_scipy_signal", "baseline", None, "scipy.signal.correlate2d", False,
            _scipy_signal_bind, _scipy_missing),
    _kernel("conv_scipy_convolve2d", "baseline", None, "scipy.signal.convolve2d (given the "
            "flipped filter)", False, _scipy_convolve_bind, _scipy_missing),
    _kernel("conv_scipy_ndimage", "baseline", None, "scipy.ndimage.correlate", False,
            _scipy_ndimage_bind, _scipy_missing),
    _kernel("conv_numpy_einsum", "baseline", None, "NumPy sliding_window_view + einsum", True,
            _numpy_einsum_bind, _always, takes_out=True),
    _kernel("conv_numpy_shifts", "baseline", None, "NumPy: nine shifted multiply-adds", False,
            _numpy_shifts_bind, _always, takes_out=True),
    _kernel("conv_torch_cpu", "baseline", None, "torch.nn.functional.conv2d on the CPU", True,
            _torch_cpu_bind, _torch_missing, timing="torch"),
    _kernel("conv_torch_cuda", "baseline", None, "torch conv2d on CUDA (cuDNN, TF32 off)",
            False, _torch_cuda_bind, _torch_cuda_missing, "gpu"),
    _kernel("conv_cupyx_signal", "baseline", None, "cupyx.scipy.signal.correlate2d", False,
            _cupyx_signal_bind, _gpu_scipy_missing, "gpu"),
    _kernel("conv_cupyx_ndimage", "baseline", None, "cupyx.scipy.ndimage.correlate", False,
            _cupyx_ndimage_bind, _gpu_scipy_missing, "gpu"),
] + _cuda_conv_kernels()

