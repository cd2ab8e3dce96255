/* The run-time state of the ladder, and its one owner.
 *
 * What: the state is the micro-kernel ISA (cpu.c: ladder_set_isa), the block sizes of the
 * blocked rungs with their overrides (blocking.c: c_blocked's KB x NB, c_simd/c_omp's MC, KC,
 * NC) and Strassen's cutoff (blocking.c): static variables of those two files. setup.py
 * links cpu.c and blocking.c into one extension only, _ckernels, which owns that state and is
 * the only way to change it (ml.set_simd_isa, ml.blocking_override, the tuner). The other
 * extensions that read the state, _cconv (the ISA of its vector rungs) and the Cython rungs
 * cy_blocked and cy_prange (c_blocked's tiles), link state_client.c instead: its
 * ladder_active_isa and ladder_blocked_tiles call _ckernels's through the table below, so the
 * rungs' code calls the same functions of ladder.h as before. _ckernels exports the table's
 * address in a PyCapsule, matmul_ladder._ckernels._state_api, as NumPy exports its C API;
 * each client takes it once, at module init (ladder_state_import).
 *
 * Why: Python loads each extension with symbols of its own (RTLD_LOCAL), so a C file linked
 * into several extensions is several copies of its static variables. When cpu.c and
 * blocking.c were linked into all nine extensions, ml.blocking_override set _ckernels's tiles
 * while cy_blocked and cy_prange went on with the model's, and set_simd_isa had to tell
 * _cconv's copy of the ISA by hand. Of the ways to have one copy:
 *   - one shared C library linked by every extension needs a run-time search path ($ORIGIN,
 *     @loader_path) and a build and install step of its own for wheels and editable installs;
 *   - the sizes passed from Python on every call change the signature of every rung that
 *     reads them, in C too (tests/aarch64 calls the C rungs directly);
 *   - a capsule needs nothing of the build but which files each extension links, and leaves
 *     the rungs as they were. It is the one chosen.
 *
 * Threads: the table is constant, and each client's pointer to it is written once, at module
 * init (under the import lock), before any kernel of that module can run; the state itself
 * is atomics (cpu.c, blocking.c). So kernels read it with the GIL released, on any thread.
 *
 * The table holds only what other extensions read; writing stays with _ckernels. A client
 * built from another version of this file refuses to load (version). */
#ifndef MATMUL_LADDER_STATE_H
#define MATMUL_LADDER_STATE_H

#include "ladder.h"

#define LADDER_STATE_VERSION 1
#define LADDER_STATE_MODULE "matmul_ladder._ckernels"
#define LADDER_STATE_ATTR "_state_api"
#define LADDER_STATE_CAPSULE "matmul_ladder._ckernels._state_api" /* MODULE "." ATTR */

typedef struct {
    int version;                               /* LADDER_STATE_VERSION */
    int (*active_isa)(void);                   /* cpu.c's ladder_active_isa */
    ladder_tiles (*blocked_tiles)(size_t elem); /* blocking.c's ladder_blocked_tiles */
} ladder_state_api;

/* The owner's table (state_owner.c, in _ckernels only). */
extern const ladder_state_api ladder_state_owner;

/* In the clients (state_client.c): takes the owner's table from its capsule, importing
 * _ckernels. Returns 0, or -1 with an ImportError set. Where the owner cannot be imported,
 * a client that `required` it fails; one that did not (_cconv, whose scalar rungs need no
 * state) returns 0, and its ladder_active_isa then says LADDER_ISA_NONE. */
int ladder_state_import(const char *module, int required);

#endif
