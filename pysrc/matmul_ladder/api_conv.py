"""ml.conv2d: the 3x3 convolution ladder's entry point.

    y = ml.conv2d(x, w, kernel="conv_c_omp", mode="valid", flip=False, threads=None)

It computes the cross-correlation y[i, j] = sum_{p, q < 3} x[i + p, j + q] * w[p, q], which
is what deep-learning libraries (torch.nn.functional.conv2d, cuDNN) call convolution.
flip=True gives the true convolution of signal processing (scipy.signal.convolve2d), the
cross-correlation with w turned by 180 degrees.
"""
from matmul_ladder.rungs import registry as _registry
from matmul_ladder.api import KernelUnavailableError
from matmul_ladder.rungs.threads import resolve_threads
from matmul_ladder.rungs.layout import check_pair

MODES = ("valid", "same")


def _check_conv_operands(x, w, kernel, xp):
    check_pair(x, w, ("x", "w"), kernel, xp)
    if w.shape != (3, 3):
        raise ValueError(f"w must be 3 x 3, got shape {w.shape}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must be at least 1 x 1, got shape {x.shape}")


def _check_out(out, shape, dtype, xp, kernel):
    if not isinstance(out, xp.ndarray):
        raise TypeError(f"out must be a {xp.__name__}.ndarray for kernel {kernel!r}, got "
                        f"{type(out).__module__}.{type(out).__qualname__}")
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(f"out must have shape {shape} and dtype {dtype}, got {out.shape} and "
                         f"{out.dtype}")
    item = out.itemsize
    if out.size and ((shape[1] > 1 and out.strides[1] != item) or
                     (shape[0] > 1 and out.strides[0] < shape[1] * item) or not
                     out.flags.writeable):
        raise ValueError("out must be writeable, with unit-stride rows laid out top to bottom")


def conv2d(x, w, kernel="conv_c_omp", mode="valid", flip=False, threads=None, out=None):
    """The 3x3 cross-correlation (or, with flip=True, convolution) of the image x with w.

    x: 2-D array H x W (H, W >= 1); w: 3 x 3; both float32 or both float64, never cast.
    CPU kernels take numpy arrays, GPU kernels ("conv_cuda_*", "conv_torch_cuda",
    "conv_cupyx_*") CuPy arrays; x may be C- or Fortran-ordered or a strided view.
    mode: "valid" gives (H - 2) x (W - 2) (empty for an image under 3 x 3); "same" gives
    H x W, with x zero-padded by one pixel on every side.
    threads: as for ml.matmul. Returns a new array; the rows of conv_c_strips's result are
    padded to 64 bytes (a view of a wider buffer) for its streaming stores.
    out: an array of the result's shape and dtype, with unit-stride rows, to write into and
    return (as NumPy's out=): it saves allocating, and page-faulting, a new output per call,
    which for a large image costs as much as the convolution itself. Kernels whose library
    has no such argument (SciPy, torch) write into it by a copy.
    """
    import numpy as np
    k = _registry.get(kernel, "conv2d")
    nthreads = resolve_threads(kernel, k.parallel, threads)
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode must be 'valid' or 'same', got {mode!r}")
    if not isinstance(flip, (bool, np.bool_)):
        raise TypeError(f"flip must be True or False, got {type(flip).__name__}")
    reason = k.availability()
    if reason:
        raise KernelUnavailableError(f"kernel {kernel!r} is not available here: {reason}")
    if k.device == "gpu":
        import cupy as xp
    else:
        xp = np
    _check_conv_operands(x, w, kernel, xp)
    if x.dtype.name not in k.dtypes:
        raise TypeError(f"kernel {kernel!r} takes {' or '.join(k.dtypes)} only; got {x.dtype}")
    if flip:
        w = w[::-1, ::-1]
    if mode == "same":
        x = xp.pad(x, 1)
    H, W = x.shape
    shape = (max(H - 2, 0), max(W - 2, 0))
    if out is not None:
        _check_out(out, shape, x.dtype, xp, kernel)
        if xp.shares_memory(out, x):
            raise ValueError("out must not overlap x")
    if H < 3 or W < 3:  # 'valid' of an image smaller than the filter: nothing to compute
        return out if out is not None else xp.empty(shape, dtype=x.dtype)
    with k.bind(nthreads) as run:
        y = run(x, w, out) if k.takes_out else run(x, w)
    if out is not None and y is not out:
        out[...] = y
        return out
    return y
