# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# Built with -O3, no -ffast-math (so the sum keeps C's order, as c_naive's does).
"""Rung 1 (cy_naive): the i-j-k triple loop in typed Cython, twin of c_naive.

Changed from py_naive: typed memoryviews (float or double, one fused definition) and C integer
indices, with the directives above: no bounds or negative-index checks, so the loops compile to
plain C with no Python object touched inside them, and the GIL released.
Hypothesis: once no Python is touched, Cython's C is c_naive's C; what is left is the
memoryview's stride arithmetic, which gcc hoists.
Expect: within ~10% of c_naive (ratio >= 0.8 to pass), same cache cliff.
Inputs must be C-contiguous (the registry copies anything else once).
"""
from cython cimport floating


def matmul(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c):
    cdef Py_ssize_t i, j, k
    cdef Py_ssize_t M = a.shape[0], K = a.shape[1], N = b.shape[1]
    cdef floating total
    with nogil:
        for i in range(M):
            for j in range(N):
                total = 0
                for k in range(K):
                    total = total + a[i, k] * b[k, j]
                c[i, j] = total
