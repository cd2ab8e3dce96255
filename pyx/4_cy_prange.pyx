# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# Built with -O3 and -fopenmp (where the compiler has OpenMP), no -ffast-math.
"""Rung 4 (cy_prange): cy_blocked run in parallel with prange.

Changed from cy_blocked: inside each KB x NB tile of B, the rows of A are split across threads
with `prange(..., schedule='static', num_threads=threads)`; each thread owns its rows of C, so
no locks or reductions. Cython turns each prange into an OpenMP parallel region, one per tile.
Hypothesis: the rows are independent and each core keeps its own copy of the tile in its L2,
so 2 threads give close to 2x, minus one region's start-up per tile.
Expect: >= 1.7x cy_blocked on 2 threads at n = 1024; on 1 thread within a few % of cy_blocked
(the overhead of prange itself).
"""
from cython cimport floating
from cython.parallel cimport prange


cdef extern from "ladder.h" nogil:
    ctypedef struct ladder_tiles:
        size_t kb, nb
    ladder_tiles ladder_blocked_tiles(size_t elem)


def matmul(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c, int threads):
    cdef Py_ssize_t i, j, k, k_tile, j_tile, k0, j0, k1, j1
    cdef Py_ssize_t M = a.shape[0], K = a.shape[1], N = b.shape[1]
    cdef ladder_tiles t = ladder_blocked_tiles(sizeof(floating))
    cdef Py_ssize_t KB = t.kb, NB = t.nb
    cdef floating a_ik
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    with nogil:
        for i in prange(M, schedule="static", num_threads=threads):
            for j in range(N):
                c[i, j] = 0
        for k_tile in range((K + KB - 1) // KB):   # range() with a variable step is Python's
            k0 = k_tile * KB
            k1 = min(k0 + KB, K)
            for j_tile in range((N + NB - 1) // NB):
                j0 = j_tile * NB
                j1 = min(j0 + NB, N)
                for i in prange(M, schedule="static", num_threads=threads):
                    for k in range(k0, k1):
                        a_ik = a[i, k]
                        for j in range(j0, j1):
                            c[i, j] = c[i, j] + a_ik * b[k, j]
