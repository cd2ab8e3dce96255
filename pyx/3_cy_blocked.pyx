# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# Built with -O3, no -ffast-math.
"""Rung 3 (cy_blocked): cache blocking of the ikj loops in typed Cython, twin of c_blocked.

Changed from cy_ikj: k and j are tiled into KB x NB tiles of B, swept by every row of A.
The tile sizes are c_blocked's, read from the same run-time cache query (ladder_blocked_tiles
in csrc/blocking.c): a row segment of C in L1, the tile of B in L2.
Hypothesis: as for c_blocked, the tile of B is reused from L2 by all M rows.
Expect: within ~10% of c_blocked.
"""
from cython cimport floating


cdef extern from "ladder.h" nogil:
    ctypedef struct ladder_tiles:
        size_t kb, nb
    ladder_tiles ladder_blocked_tiles(size_t elem)


def matmul(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c):
    cdef Py_ssize_t i, j, k, k_tile, j_tile, k0, j0, k1, j1
    cdef Py_ssize_t M = a.shape[0], K = a.shape[1], N = b.shape[1]
    cdef ladder_tiles t = ladder_blocked_tiles(sizeof(floating))
    cdef Py_ssize_t KB = t.kb, NB = t.nb
    cdef floating a_ik
    with nogil:
        for i in range(M):
            for j in range(N):
                c[i, j] = 0
        for k_tile in range((K + KB - 1) // KB):   # range() with a variable step is Python's
            k0 = k_tile * KB
            k1 = min(k0 + KB, K)
            for j_tile in range((N + NB - 1) // NB):
                j0 = j_tile * NB
                j1 = min(j0 + NB, N)
                for i in range(M):
                    for k in range(k0, k1):
                        a_ik = a[i, k]
                        for j in range(j0, j1):
                            c[i, j] = c[i, j] + a_ik * b[k, j]
