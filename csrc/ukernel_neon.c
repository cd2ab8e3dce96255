/* Micro-kernels for rungs 4-5 on arm64 Advanced SIMD (NEON: Apple M-series, Graviton,
 * Grace, Jetson): ukernel_neon_8x12 (float32) and ukernel_neon_8x6 (float64).
 * The same register tile as ukernel_avx2.c, on 32 128-bit registers: 24 accumulators hold
 * 8 rows x 3 vectors of C (float32 8 x 12, float64 8 x 6). Per k: 3 vector loads of B, 2
 * (float32) or 4 (float64) vector loads of A's 8 values, and 24 FMAs that each take their
 * A value from a lane of those registers (vfmaq_laneq: fmla v.4s, v.4s, v.s[lane]), so A
 * needs no broadcasts; 29 or 31 registers in all.
 * NEON is part of every arm64 CPU, so no target attribute or CPU check is needed. On
 * other CPUs this file compiles to nothing. Speed on arm64 has not been measured by the
 * project (its machines are x86-64); correctness is checked under qemu (tests/aarch64/). */
#include "ladder.h"
#if defined(LADDER_ARM64)
#include <arm_neon.h>

/* row i of the tile: (register of A, lane) */
#define ROWS_S(X) X(0, a0, 0) X(1, a0, 1) X(2, a0, 2) X(3, a0, 3) \
                  X(4, a1, 0) X(5, a1, 1) X(6, a1, 2) X(7, a1, 3)
#define ROWS_D(X) X(0, a0, 0) X(1, a0, 1) X(2, a1, 0) X(3, a1, 1) \
                  X(4, a2, 0) X(5, a2, 1) X(6, a3, 0) X(7, a3, 1)
_Static_assert(UK_NEON_MR == 8, "ROWS_S and ROWS_D list the micro-kernel's MR rows");

void ukernel_neon_8x12(size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc,
                       int accumulate, const char *warm)
{
#define ZERO(i, a, lane) float32x4_t c##i##0 = vdupq_n_f32(0), c##i##1 = c##i##0, \
                                     c##i##2 = c##i##0;
    ROWS_S(ZERO)
    const size_t warm_step = warm ? UK_WARM_BYTES_PER_K : 0;
    if (!warm)
        warm = (const char *)Bp;
    for (size_t k = 0; k < kc; k++, Ap += UK_NEON_MR, Bp += UK_NEON_NR_S) {
        __builtin_prefetch(warm, 0, 2);
        warm += warm_step;
        const float32x4_t b0 = vld1q_f32(Bp), b1 = vld1q_f32(Bp + 4), b2 = vld1q_f32(Bp + 8);
        const float32x4_t a0 = vld1q_f32(Ap), a1 = vld1q_f32(Ap + 4);
#define FMA_ROW(i, a, lane)                                                             \
        c##i##0 = vfmaq_laneq_f32(c##i##0, b0, a, lane);                                \
        c##i##1 = vfmaq_laneq_f32(c##i##1, b1, a, lane);                                \
        c##i##2 = vfmaq_laneq_f32(c##i##2, b2, a, lane);
        ROWS_S(FMA_ROW)
#undef FMA_ROW
    }
#define STORE_ROW(i, a, lane)                                                           \
    {                                                                                   \
        float *row = C + i * ldc;                                                       \
        if (accumulate) {                                                               \
            c##i##0 = vaddq_f32(c##i##0, vld1q_f32(row));                               \
            c##i##1 = vaddq_f32(c##i##1, vld1q_f32(row + 4));                           \
            c##i##2 = vaddq_f32(c##i##2, vld1q_f32(row + 8));                           \
        }                                                                               \
        vst1q_f32(row, c##i##0);                                                        \
        vst1q_f32(row + 4, c##i##1);                                                    \
        vst1q_f32(row + 8, c##i##2);                                                    \
    }
    ROWS_S(STORE_ROW)
#undef STORE_ROW
#undef ZERO
}

void ukernel_neon_8x6(size_t kc, const double *Ap, const double *Bp, double *C, size_t ldc,
                      int accumulate, const char *warm)
{
#define ZERO(i, a, lane) float64x2_t c##i##0 = vdupq_n_f64(0), c##i##1 = c##i##0, \
                                     c##i##2 = c##i##0;
    ROWS_D(ZERO)
    const size_t warm_step = warm ? UK_WARM_BYTES_PER_K : 0;
    if (!warm)
        warm = (const char *)Bp;
    for (size_t k = 0; k < kc; k++, Ap += UK_NEON_MR, Bp += UK_NEON_NR_D) {
        __builtin_prefetch(warm, 0, 2);
        warm += warm_step;
        const float64x2_t b0 = vld1q_f64(Bp), b1 = vld1q_f64(Bp + 2), b2 = vld1q_f64(Bp + 4);
        const float64x2_t a0 = vld1q_f64(Ap), a1 = vld1q_f64(Ap + 2), a2 = vld1q_f64(Ap + 4),
                          a3 = vld1q_f64(Ap + 6);
#define FMA_ROW(i, a, lane)                                                             \
        c##i##0 = vfmaq_laneq_f64(c##i##0, b0, a, lane);                                \
        c##i##1 = vfmaq_laneq_f64(c##i##1, b1, a, lane);                                \
        c##i##2 = vfmaq_laneq_f64(c##i##2, b2, a, lane);
        ROWS_D(FMA_ROW)
#undef FMA_ROW
    }
#define STORE_ROW(i, a, lane)                                                           \
    {                                                                                   \
        double *row = C + i * ldc;                                                      \
        if (accumulate) {                                                               \
            c##i##0 = vaddq_f64(c##i##0, vld1q_f64(row));                               \
            c##i##1 = vaddq_f64(c##i##1, vld1q_f64(row + 2));                           \
            c##i##2 = vaddq_f64(c##i##2, vld1q_f64(row + 4));                           \
        }                                                                               \
        vst1q_f64(row, c##i##0);                                                        \
        vst1q_f64(row + 2, c##i##1);                                                    \
        vst1q_f64(row + 4, c##i##2);                                                    \
    }
    ROWS_D(STORE_ROW)
#undef STORE_ROW
#undef ZERO
}
#endif
