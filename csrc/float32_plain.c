/* Rungs 1-3 in float32. Built with the plain-rung flags (setup.py, MATMUL_LADDER_CFLAGS). */
#include "ladder.h"
#define real float
#define MM(rung) mm_##rung##_s
#include "naive.c"
#include "ikj.c"
#include "blocked.c"
