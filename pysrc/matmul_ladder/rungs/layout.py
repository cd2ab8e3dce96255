"""Input checks and memory layout shared by every CPU kernel."""
import math

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_pair(first, second, names, kernel, xp=np):
    """Raise TypeError/ValueError naming the problem unless both operands are 2-D arrays of
    the array module xp (numpy for CPU kernels, cupy for GPU ones) of one supported dtype.
    names: what the caller calls them ("a", "b" or "x", "w"). Never casts."""
    for name, x in zip(names, (first, second)):
        if not isinstance(x, xp.ndarray):
            kind = f"{type(x).__module__}.{type(x).__qualname__}"
            if kind.startswith("cupy"):
                hint = f" (use {name}.get() to copy it to the host)"
            elif isinstance(x, np.ndarray):
                hint = f" (use cupy.asarray({name}) to copy it to the GPU)"
            else:
                hint = ""
            raise TypeError(f"kernel {kernel!r} takes {xp.__name__}.ndarray operands; {name} "
                            f"is a {kind}{hint}")
        if x.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got {x.ndim}-D array of shape {x.shape}")
    if first.dtype != second.dtype:
        raise TypeError(f"mixed dtypes: {names[0]} is {first.dtype}, {names[1]} is "
                        f"{second.dtype}; both must be float32 or both float64 (matmul_ladder "
                        f"never casts)")
    if np.dtype(first.dtype) not in SUPPORTED_DTYPES:
        raise TypeError(f"unsupported dtype {first.dtype}; supported: float32, float64 "
                        f"(native byte order)")


def check_operands(a, b, kernel, xp=np):
    """check_pair for a matmul, and a.shape[1] == b.shape[0]."""
    check_pair(a, b, ("a", "b"), kernel, xp)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"shape mismatch: a is {a.shape} and b is {b.shape}; a.shape[1] "
                         f"({a.shape[1]}) must equal b.shape[0] ({b.shape[0]})")


def unit_stride_rows(x):
    """x itself if its rows are unit-stride, aligned and laid out top to bottom; otherwise a
    C-ordered copy. Fortran-ordered, column-strided and negatively strided inputs are thus
    copied once, O(rows*cols) next to the O(M*N*K) product."""
    rows, cols = x.shape
    item = x.itemsize
    row_ok = rows <= 1 or (x.strides[0] % item == 0 and x.strides[0] >= cols * item)
    col_ok = cols <= 1 or x.strides[1] == item
    if x.flags.aligned and row_ok and col_ok:
        return x
    return np.ascontiguousarray(x)


def empty_aligned(shape, dtype, alignment=64):
    """An uninitialised C-ordered array whose data starts on an `alignment`-byte boundary.
    NumPy's allocator returns addresses 16 bytes past a cache line here, so with an
    unaligned output every 64-byte vector store of a C tile would straddle two cache lines
    (measured: c_simd 4-7% slower at n = 2048-4096)."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize  # math.prod: np.prod takes microseconds
    buffer = np.empty(nbytes + alignment, dtype=np.uint8)
    start = -buffer.ctypes.data % alignment
    return buffer[start:start + nbytes].view(dtype).reshape(shape)
