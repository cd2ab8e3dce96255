# cython: language_level=3
"""The row stride of a matrix handed to a C kernel, checked: shared by the wrappers of the C
matmul rungs (_ckernels.pyx) and of the C convolution rungs (_cconv.pyx)."""
from cython cimport floating


cdef inline size_t row_stride(const floating[:, :] x, str name) except? 0:
    """Row stride in elements of a matrix whose rows are unit-stride."""
    cdef Py_ssize_t rows = x.shape[0], cols = x.shape[1]
    if cols > 1 and x.strides[1] != sizeof(floating):
        raise ValueError(f"{name}: rows must be unit-stride (strides {x.strides[0]}, {x.strides[1]})")
    if rows <= 1:
        return cols
    if x.strides[0] < 0 or x.strides[0] % sizeof(floating) or x.strides[0] < cols * sizeof(floating):
        raise ValueError(f"{name}: unsupported row stride {x.strides[0]}")
    return x.strides[0] // sizeof(floating)
