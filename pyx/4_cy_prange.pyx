# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# Built with -O3 and -fopenmp (where the compiler has OpenMP), no -ffast-math.
"""Rung 4 (cy_prange): cy_blocked run in parallel with prange.

Changed from cy_blocked: the rows of A are split across threads with
`prange(..., schedule='static', num_threads=threads)`, one OpenMP parallel region for the
whole product; each thread sweeps every KB x NB tile of B over its own rows of C (with
cy_blocked's add_tile, from _tiles.pxd), so no locks or reductions. The tiles are
cy_blocked's, asked of _ckernels (pyx/_state.pxd).
Hypothesis: the rows are independent and each core keeps its own copy of the tile in its L2,
so 2 threads give close to 2x.
Expect: >= 1.7x cy_blocked on 2 threads at n = 1024; on 1 thread within a few % of cy_blocked
(the overhead of prange itself).
"""
from cython cimport floating
from cython.parallel cimport prange

from _state cimport ladder_blocked_tiles, ladder_state_import, ladder_tiles
from _tiles cimport add_tile

ladder_state_import("matmul_ladder._cy_prange", 1)  # the tiles' owner, _ckernels

cdef ladder_tiles latest  # the tiles of the latest call (last_tiles)


def matmul(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c, int threads):
    global latest
    cdef Py_ssize_t part, parts, first, last, i, k_tile, j_tile, k0, j0
    cdef Py_ssize_t M = a.shape[0], K = a.shape[1], N = b.shape[1]
    cdef ladder_tiles t = ladder_blocked_tiles(sizeof(floating))
    cdef Py_ssize_t KB = t.kb, NB = t.nb
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    latest = t
    if M == 0 or N == 0:
        return
    if K == 0:
        c[:, :] = 0
        return
    cdef Py_ssize_t k_tiles = (K + KB - 1) // KB, j_tiles = (N + NB - 1) // NB
    cdef floating *pa = <floating *>&a[0, 0]   # only read: see add_tile in _tiles.pxd
    cdef floating *pb = <floating *>&b[0, 0]
    cdef floating *pc = &c[0, 0]
    parts = min(threads, M)
    with nogil:
        # one contiguous band of rows per thread, swept tile by tile of B
        for part in prange(parts, schedule="static", num_threads=threads):
            first = part * M // parts
            last = (part + 1) * M // parts
            for i in range(first * N, last * N):
                pc[i] = 0
            for k_tile in range(k_tiles):   # range() with a variable step is Python's
                k0 = k_tile * KB
                for j_tile in range(j_tiles):
                    j0 = j_tile * NB
                    add_tile(pa + first * K, pb, pc + first * N, last - first, K, N, k0,
                             min(k0 + KB, K), j0, min(j0 + NB, N))


def tiles(size_t itemsize):
    """KB and NB that matmul takes now for itemsize-byte reals (what ml.build_info shows)."""
    cdef ladder_tiles t = ladder_blocked_tiles(itemsize)
    return {"KB": t.kb, "NB": t.nb}


def last_tiles():
    """KB and NB that the latest call ran with, for the tests."""
    return {"KB": latest.kb, "NB": latest.nb}
