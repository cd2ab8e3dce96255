# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# Built with -O3, no -ffast-math.
"""Rung 2 (cy_ikj): the loops reordered i-k-j in typed Cython, twin of c_ikj.

Changed from cy_naive: k moves out and j in: c[i, :] += a[i, k] * b[k, :], unit stride on B and C.
Hypothesis: as for c_ikj, every cache line of B is used whole and the inner loop can be
vectorised, if gcc sees through the memoryview indexing (it must prove c and b do not overlap,
or version the loop at run time, as it does for c_ikj).
Expect: within ~10% of c_ikj.
"""
from cython cimport floating


def matmul(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c):
    cdef Py_ssize_t i, j, k
    cdef Py_ssize_t M = a.shape[0], K = a.shape[1], N = b.shape[1]
    cdef floating a_ik
    with nogil:
        for i in range(M):
            for j in range(N):
                c[i, j] = 0
            for k in range(K):
                a_ik = a[i, k]
                for j in range(N):
                    c[i, j] = c[i, j] + a_ik * b[k, j]
