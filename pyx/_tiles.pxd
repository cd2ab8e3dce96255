# cython: language_level=3
"""The sweep of one tile of B, shared by the Cython rungs 3 (cy_blocked) and 4 (cy_prange).

A small cdef function on raw pointers, as c_blocked's loops are in C. Its pointers are
restrict-qualified, as c_blocked's are: Cython has no keyword for C's `restrict`, so the
pointer types below name it in the C they are written as. With it the compiler knows that
storing to a row of C cannot change A or B, and so it may load B's rows and A's element once
per step and unroll k by two (one load and store of C for two rows of B), as it does for
c_blocked (the measurements: docs/cython.md).
"""

cdef extern from *:
    ctypedef float *float_restrict "float *__restrict__"
    ctypedef double *double_restrict "double *__restrict__"

ctypedef fused floating_restrict:
    float_restrict
    double_restrict


cdef inline void add_tile(floating_restrict a, floating_restrict b, floating_restrict c,
                          Py_ssize_t rows, Py_ssize_t K, Py_ssize_t N, Py_ssize_t k0,
                          Py_ssize_t k1, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """c[i, j0:j1] += a[i, k0:k1] @ b[k0:k1, j0:j1] for the rows i < rows (row strides K, N).

    a and b are only read; c overlaps neither."""
    cdef Py_ssize_t i, k, j
    cdef floating_restrict c_row
    cdef floating_restrict b_row
    for i in range(rows):
        c_row = c + i * N
        for k in range(k0, k1):
            b_row = b + k * N
            for j in range(j0, j1):
                c_row[j] += a[i * K + k] * b_row[j]
