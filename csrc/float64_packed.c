/* Rungs 4-5 in float64: the BLIS framework over the 6x8 (AVX2) and 12x16 (AVX-512)
 * micro-kernels. Built with -O3 and OpenMP where available, never with -march flags. */
#include "ladder.h"
#define real double
#define MM(rung) mm_##rung##_d
#define UKERNEL_AVX2 ukernel_avx2_d
#define UKERNEL_AVX512 ukernel_avx512_d
#define UKERNEL_AVX512_HALF ukernel_avx512_half_d
#include "simd.c"
#include "omp.c"
