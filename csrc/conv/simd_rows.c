/* The vector code of convolution rungs 4-6: output rows [i0, i1) of the 'valid'
 * cross-correlation, BAND rows at a time, with the active ISA's vectors (AVX2 + FMA,
 * AVX-512F or NEON; chosen at run time as for the matmul micro-kernels).
 *
 * Per vector of outputs in a band of R rows, input rows i .. i + R + 1 are each loaded at
 * three shifts (j, j + 1, j + 2), and every loaded vector serves the up-to-three output rows
 * it belongs to: 3 (R + 2) loads and 9 R FMAs, against 27 R loads for R single rows. The nine
 * weights stay broadcast in registers: with R = 4 that is 9 + 4 accumulators + 1 loaded
 * vector, within AVX2's 16 registers (the FMAs take their loads as memory operands).
 *
 * stream: store y with non-temporal (streaming) stores, which write whole lines to memory
 * without reading them first (no read-for-ownership), so an output costs 2 S bytes of
 * memory traffic instead of 3 S. Used only where y and its row stride are vector-aligned
 * (x86-64); elsewhere plain stores. Columns past the last whole vector are done in scalar.
 * Compiled once per element type. */
#include <stdint.h>
#include "conv.h"
#if defined(LADDER_X86)
#include <immintrin.h>
#elif defined(LADDER_ARM64)
#include <arm_neon.h>
#endif

#define BAND 4

/* Scalar outputs y[i][j0:j1] for rows [i, i + rows): the columns no whole vector covers. */
static void scalar_columns(size_t i, size_t rows, size_t j0, size_t j1, const real *x,
                           size_t ldx, const real *w, real *y, size_t ldy)
{
    for (size_t r = i; r < i + rows; r++)
        for (size_t j = j0; j < j1; j++) {
            real sum = 0;
            for (size_t p = 0; p < 3; p++)
                for (size_t q = 0; q < 3; q++)
                    sum += x[(r + p) * ldx + j + q] * w[3 * p + q];
            y[r * ldy + j] = sum;
        }
}

/* One ISA's band and row loop. ROWS is a constant (BAND or 1) in each call of the band
 * function, so the compiler unrolls the r and t loops and keeps acc[] in registers. */
#define DEFINE_ISA(NAME, TARGET, VEC, LANES, SET1, ZERO, LOADU, FMADD, STOREU, STREAM, FENCE) \
    TARGET static inline __attribute__((always_inline)) void                              \
    NAME##_band(const int rows, size_t i, size_t Wv, const real *x, size_t ldx,           \
                const VEC *wv, real *y, size_t ldy, int nt)                               \
    {                                                                                     \
        for (size_t j = 0; j < Wv; j += LANES) {                                          \
            VEC acc[BAND];                                                                \
            for (int r = 0; r < rows; r++) acc[r] = ZERO();                               \
            for (int t = 0; t < rows + 2; t++) {                                          \
                const real *in = x + (i + t) * ldx + j;                                   \
                for (int q = 0; q < 3; q++) {                                             \
                    const VEC v = LOADU(in + q);                                          \
                    for (int r = 0; r < rows; r++) {                                      \
                        const int p = t - r;                                              \
                        if (p >= 0 && p < 3) acc[r] = FMADD(wv[3 * p + q], v, acc[r]);   \
                    }                                                                     \
                }                                                                         \
            }                                                                             \
            for (int r = 0; r < rows; r++) {                                              \
                real *out = y + (i + r) * ldy + j;                                        \
                if (nt) STREAM(out, acc[r]);                                              \
                else STOREU(out, acc[r]);                                                 \
            }                                                                             \
        }                                                                                 \
    }                                                                                     \
    TARGET static void NAME(size_t i0, size_t i1, size_t W, const real *x, size_t ldx,    \
                            const real *w, real *y, size_t ldy, int stream)               \
    {                                                                                     \
        const size_t Wo = W - 2, Wv = Wo / LANES * LANES;                                 \
        VEC wv[9];                                                                        \
        for (int k = 0; k < 9; k++) wv[k] = SET1(w[k]);                                   \
        const size_t vbytes = LANES * sizeof(real);                                       \
        const int nt = stream && (uintptr_t)y % vbytes == 0 && ldy * sizeof(real) % vbytes == 0; \
        size_t i = i0;                                                                    \
        for (; i + BAND <= i1; i += BAND)                                                 \
            NAME##_band(BAND, i, Wv, x, ldx, wv, y, ldy, nt);                             \
        for (; i < i1; i++)                                                               \
            NAME##_band(1, i, Wv, x, ldx, wv, y, ldy, nt);                                \
        if (Wv < Wo)                                                                      \
            scalar_columns(i0, i1 - i0, Wv, Wo, x, ldx, w, y, ldy);                       \
        if (nt) FENCE();                                                                  \
    }

#define NO_FENCE() ((void)0)
#if defined(LADDER_X86)
#ifdef LADDER_DOUBLE
DEFINE_ISA(rows_avx2, LADDER_TARGET_AVX2, __m256d, 4, _mm256_set1_pd, _mm256_setzero_pd,
           _mm256_loadu_pd, _mm256_fmadd_pd, _mm256_storeu_pd, _mm256_stream_pd, _mm_sfence)
DEFINE_ISA(rows_avx512, LADDER_TARGET_AVX512, __m512d, 8, _mm512_set1_pd, _mm512_setzero_pd,
           _mm512_loadu_pd, _mm512_fmadd_pd, _mm512_storeu_pd, _mm512_stream_pd, _mm_sfence)
#else
DEFINE_ISA(rows_avx2, LADDER_TARGET_AVX2, __m256, 8, _mm256_set1_ps, _mm256_setzero_ps,
           _mm256_loadu_ps, _mm256_fmadd_ps, _mm256_storeu_ps, _mm256_stream_ps, _mm_sfence)
DEFINE_ISA(rows_avx512, LADDER_TARGET_AVX512, __m512, 16, _mm512_set1_ps, _mm512_setzero_ps,
           _mm512_loadu_ps, _mm512_fmadd_ps, _mm512_storeu_ps, _mm512_stream_ps, _mm_sfence)
#endif
#elif defined(LADDER_ARM64)
/* vfmaq(a, b, c) = a + b * c; NEON has no streaming store intrinsic: plain stores. */
#ifdef LADDER_DOUBLE
#define NEON_FMA(w, v, acc) vfmaq_f64(acc, w, v)
#define NEON_ZERO() vdupq_n_f64(0)
DEFINE_ISA(rows_neon, , float64x2_t, 2, vdupq_n_f64, NEON_ZERO, vld1q_f64, NEON_FMA, vst1q_f64,
           vst1q_f64, NO_FENCE)
#else
#define NEON_FMA(w, v, acc) vfmaq_f32(acc, w, v)
#define NEON_ZERO() vdupq_n_f32(0)
DEFINE_ISA(rows_neon, , float32x4_t, 4, vdupq_n_f32, NEON_ZERO, vld1q_f32, NEON_FMA, vst1q_f32,
           vst1q_f32, NO_FENCE)
#endif
#endif

void CONV(simd_rows)(size_t i0, size_t i1, size_t W, const real *x, size_t ldx, const real *w,
                     real *y, size_t ldy, int stream)
{
    const int isa = ladder_active_isa();
#if defined(LADDER_X86)
    if (isa == LADDER_ISA_AVX512) {
        rows_avx512(i0, i1, W, x, ldx, w, y, ldy, stream);
        return;
    }
    if (isa == LADDER_ISA_AVX2) {
        rows_avx2(i0, i1, W, x, ldx, w, y, ldy, stream);
        return;
    }
#elif defined(LADDER_ARM64)
    if (isa == LADDER_ISA_NEON) {
        rows_neon(i0, i1, W, x, ldx, w, y, ldy, stream);
        return;
    }
#endif
    (void)isa;
    scalar_columns(i0, i1 - i0, 0, W - 2, x, ldx, w, y, ldy);
}
