# cython: language_level=3
"""The run-time state as the Cython rungs cy_blocked and cy_prange read it: c_blocked's tile
sizes, asked of _ckernels, their one owner, so that ml.blocking_override and tuned sizes
reach these rungs too (csrc/state.h says how and why).

ladder_blocked_tiles is the function of ladder.h; in these extensions it is defined by
csrc/state_client.c, as a call to _ckernels's, which they find once, at module init, with
ladder_state_import."""

cdef extern from "ladder.h" nogil:
    ctypedef struct ladder_tiles:
        size_t kb, nb
    ladder_tiles ladder_blocked_tiles(size_t elem)

cdef extern from "state.h":
    int ladder_state_import(const char *module, int required) except -1
