/* Rungs 1-3 in float64. Built with the plain-rung flags (setup.py, MATMUL_LADDER_CFLAGS). */
#include "ladder.h"
#define real double
#define MM(rung) mm_##rung##_d
#include "naive.c"
#include "ikj.c"
#include "blocked.c"
