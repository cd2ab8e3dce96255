# cython: language_level=3
"""The sweep of one tile of B, shared by the Cython rungs 3 (cy_blocked) and 4 (cy_prange).

A small cdef function on raw pointers, as c_blocked's loops are in C: written on the
memoryviews inside a rung's large generated function, gcc runs out of registers there and
keeps the inner loop's bound on the stack, one extra load per vector step (docs/cython.md).
"""
from cython cimport floating


cdef inline void add_tile(const floating *a, const floating *b, floating *c, Py_ssize_t rows,
                          Py_ssize_t K, Py_ssize_t N, Py_ssize_t k0, Py_ssize_t k1,
                          Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    """c[i, j0:j1] += a[i, k0:k1] @ b[k0:k1, j0:j1] for the rows i < rows (row strides K, N)."""
    cdef Py_ssize_t i, k, j
    cdef floating a_ik
    cdef floating *c_row
    cdef const floating *b_row
    for i in range(rows):
        c_row = c + i * N
        for k in range(k0, k1):
            a_ik = a[i * K + k]
            b_row = b + k * N
            for j in range(j0, j1):
                c_row[j] += a_ik * b_row[j]
