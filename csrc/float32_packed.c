/* Rungs 4-5 in float32: the BLIS framework over the 6x16 (AVX2) and 12x32 (AVX-512)
 * micro-kernels. Built with -O3 and OpenMP where available, never with -march flags. */
#include "ladder.h"
#define real float
#define MM(rung) mm_##rung##_s
#define UKERNEL_AVX2 ukernel_avx2_s
#define UKERNEL_AVX512 ukernel_avx512_s
#define UKERNEL_AVX512_HALF ukernel_avx512_half_s
#include "simd.c"
#include "omp.c"
