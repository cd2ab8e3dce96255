/* The owner's side of the run-time state (state.h): the table of the functions that other
 * extensions call to read it. Linked into _ckernels only, with cpu.c and blocking.c; the
 * binding (pyx/_ckernels.pyx) exports its address in the capsule _ckernels._state_api. */
#include "state.h"

const ladder_state_api ladder_state_owner = {
    LADDER_STATE_VERSION,
    ladder_active_isa,
    ladder_blocked_tiles,
};
