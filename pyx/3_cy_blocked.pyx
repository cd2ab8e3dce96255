# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
# Built with -O3, no -ffast-math.
"""Rung 3 (cy_blocked): cache blocking of the ikj loops in typed Cython, twin of c_blocked.

Changed from cy_ikj: k and j are tiled into KB x NB tiles of B, swept by every row of A.
The tile sizes are c_blocked's, from the same cache model (ladder_blocked_tiles in
csrc/blocking.c): a row segment of C in L1, the tile of B in L2. They are asked of
_ckernels, which owns them, so an override or tuned sizes reach this rung as they reach
c_blocked (pyx/_state.pxd).
The sweep of one tile is a small cdef function on restrict-qualified raw pointers (add_tile
in _tiles.pxd), as c_blocked's loops are in C.
Hypothesis: as for c_blocked, the tile of B is reused from L2 by all M rows.
Expect: within ~10% of c_blocked.
"""
from cython cimport floating

from _state cimport ladder_blocked_tiles, ladder_state_import, ladder_tiles
from _tiles cimport add_tile

ladder_state_import("matmul_ladder._cy_blocked", 1)  # the tiles' owner, _ckernels

cdef ladder_tiles latest  # the tiles of the latest call (last_tiles)


def matmul(const floating[:, ::1] a, const floating[:, ::1] b, floating[:, ::1] c):
    global latest
    cdef Py_ssize_t i, j, k_tile, j_tile, k0, j0
    cdef Py_ssize_t M = a.shape[0], K = a.shape[1], N = b.shape[1]
    cdef ladder_tiles t = ladder_blocked_tiles(sizeof(floating))
    cdef Py_ssize_t KB = t.kb, NB = t.nb
    cdef Py_ssize_t k_tiles = (K + KB - 1) // KB
    latest = t
    with nogil:
        for i in range(M):
            for j in range(N):
                c[i, j] = 0
        if M == 0 or N == 0 or K == 0:
            k_tiles = 0  # C = 0 is all there is; &a[0, 0] may not exist
        for k_tile in range(k_tiles):   # range() with a variable step is Python's
            k0 = k_tile * KB
            for j_tile in range((N + NB - 1) // NB):
                j0 = j_tile * NB
                # a and b are read-only inputs: add_tile only reads them (const is cast away
                # because its restrict pointer type is one for all three)
                add_tile(<floating *>&a[0, 0], <floating *>&b[0, 0], &c[0, 0], M, K, N, k0,
                         min(k0 + KB, K), j0, min(j0 + NB, N))


def tiles(size_t itemsize):
    """KB and NB that matmul takes now for itemsize-byte reals (what ml.build_info shows)."""
    cdef ladder_tiles t = ladder_blocked_tiles(itemsize)
    return {"KB": t.kb, "NB": t.nb}


def last_tiles():
    """KB and NB that the latest call ran with, for the tests."""
    return {"KB": latest.kb, "NB": latest.nb}
