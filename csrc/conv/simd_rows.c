/* The vector code of convolution rungs 4-6: output rows [i0, i1) of the 'valid'
 * cross-correlation, BAND rows at a time, with the active ISA's vectors (AVX2 + FMA,
 * AVX-512F or NEON; chosen at run time as for the matmul micro-kernels).
 *
 * Per vector of outputs in a band of R rows, input rows i .. i + R + 1 are each read at
 * three shifts (j, j + 1, j + 2), and every such vector serves the up-to-three output rows
 * it belongs to: 9 R FMAs against 3 (R + 2) input vectors, where R single rows would need
 * 9 R. The nine weights stay broadcast in registers; with R = 4, 9 weights + 4 accumulators
 * + the input vectors fit AVX2's 16 registers (its FMAs take their loads as memory
 * operands) and leave AVX-512 and NEON room to carry a vector per input row (see SHIFT).
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
 * function, so the compiler unrolls the r and t loops and keeps acc[] in registers.
 * Where the ISA can shift a pair of vectors by k elements in registers (SHIFT: AVX-512's
 * valignd/valignq, NEON's ext), the three shifted vectors of an input row come from the one
 * vector at j and the next one, which the next step reuses: one load per input row and
 * step instead of three, two of which would straddle cache lines. AVX2 has no such
 * whole-register shift (its alignr works within 128-bit halves), so it loads all three.
 * The last steps, where the next vector would run past the row, load too. */
#define BAND_FMAS(FMADD_, t, v0, v1, v2)                                                        \
    _Pragma("GCC unroll 8")                                                               \
    for (int r = 0; r < rows; r++) {                                                      \
        const int p = (t) - r;                                                            \
        if (p >= 0 && p < 3) {                                                            \
            acc[r] = FMADD_(wv[3 * p], v0, acc[r]);                                       \
            acc[r] = FMADD_(wv[3 * p + 1], v1, acc[r]);                                   \
            acc[r] = FMADD_(wv[3 * p + 2], v2, acc[r]);                                   \
        }                                                                                 \
    }
#define BAND_STORE(STOREU_, STREAM_)                                                            \
    _Pragma("GCC unroll 8")                                                               \
    for (int r = 0; r < rows; r++) {                                                      \
        real *out = y + (i + r) * ldy + j;                                                \
        if (nt) STREAM_(out, acc[r]);                                                     \
        else STOREU_(out, acc[r]);                                                        \
    }
#define DEFINE_ISA(NAME, TARGET, VEC, LANES, SET1, ZERO, LOADU, FMADD_, STOREU_, STREAM_,   \
                   FENCE, HAS_SHIFT, SHIFT)                                               \
    TARGET LADDER_INLINE void                                                             \
    NAME##_band(const int rows, size_t i, size_t Wv, size_t W, const real *x, size_t ldx, \
                const VEC *wv, real *y, size_t ldy, int nt)                               \
    {                                                                                     \
        size_t j = 0;                                                                     \
        if (HAS_SHIFT && Wv && 2 * LANES <= W) {                                          \
            VEC cur[BAND + 2];                                                            \
            _Pragma("GCC unroll 8")                                                       \
            for (int t = 0; t < rows + 2; t++) cur[t] = LOADU(x + (i + t) * ldx);         \
            for (; j < Wv && j + 2 * LANES <= W; j += LANES) {                            \
                VEC acc[BAND];                                                            \
                _Pragma("GCC unroll 8")                                                   \
                for (int r = 0; r < rows; r++) acc[r] = ZERO();                           \
                _Pragma("GCC unroll 8")                                                   \
                for (int t = 0; t < rows + 2; t++) {                                      \
                    const VEC next = LOADU(x + (i + t) * ldx + j + LANES);                \
                    const VEC s1 = SHIFT(next, cur[t], 1), s2 = SHIFT(next, cur[t], 2);   \
                    BAND_FMAS(FMADD_, t, cur[t], s1, s2)                                  \
                    cur[t] = next;                                                        \
                }                                                                         \
                BAND_STORE(STOREU_, STREAM_)                                                           \
            }                                                                             \
        }                                                                                 \
        for (; j < Wv; j += LANES) {                                                      \
            VEC acc[BAND];                                                                \
            _Pragma("GCC unroll 8")                                                       \
            for (int r = 0; r < rows; r++) acc[r] = ZERO();                               \
            _Pragma("GCC unroll 8")                                                       \
            for (int t = 0; t < rows + 2; t++) {                                          \
                const real *in = x + (i + t) * ldx + j;                                   \
                BAND_FMAS(FMADD_, t, LOADU(in), LOADU(in + 1), LOADU(in + 2))                  \
            }                                                                             \
            BAND_STORE(STOREU_, STREAM_)                                                               \
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
            NAME##_band(BAND, i, Wv, W, x, ldx, wv, y, ldy, nt);                          \
        for (; i < i1; i++)                                                               \
            NAME##_band(1, i, Wv, W, x, ldx, wv, y, ldy, nt);                             \
        if (Wv < Wo)                                                                      \
            scalar_columns(i0, i1 - i0, Wv, Wo, x, ldx, w, y, ldy);                       \
        if (nt) FENCE();                                                                  \
    }

#define NO_SHIFT(next, cur, k) (cur)
#define NO_FENCE() ((void)0)
#if defined(LADDER_X86)
#ifdef LADDER_DOUBLE
#define SHIFT512(next, cur, k) \
    _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(next), _mm512_castpd_si512(cur), k))
DEFINE_ISA(rows_avx2, LADDER_TARGET_AVX2, __m256d, 4, _mm256_set1_pd, _mm256_setzero_pd,
           _mm256_loadu_pd, _mm256_fmadd_pd, _mm256_storeu_pd, _mm256_stream_pd, _mm_sfence,
           0, NO_SHIFT)
DEFINE_ISA(rows_avx512, LADDER_TARGET_AVX512, __m512d, 8, _mm512_set1_pd, _mm512_setzero_pd,
           _mm512_loadu_pd, _mm512_fmadd_pd, _mm512_storeu_pd, _mm512_stream_pd, _mm_sfence,
           1, SHIFT512)
#else
#define SHIFT512(next, cur, k) \
    _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(next), _mm512_castps_si512(cur), k))
DEFINE_ISA(rows_avx2, LADDER_TARGET_AVX2, __m256, 8, _mm256_set1_ps, _mm256_setzero_ps,
           _mm256_loadu_ps, _mm256_fmadd_ps, _mm256_storeu_ps, _mm256_stream_ps, _mm_sfence,
           0, NO_SHIFT)
DEFINE_ISA(rows_avx512, LADDER_TARGET_AVX512, __m512, 16, _mm512_set1_ps, _mm512_setzero_ps,
           _mm512_loadu_ps, _mm512_fmadd_ps, _mm512_storeu_ps, _mm512_stream_ps, _mm_sfence,
           1, SHIFT512)
#endif
#elif defined(LADDER_ARM64)
/* vfmaq(a, b, c) = a + b * c; NEON has no streaming store intrinsic: plain stores. */
#ifdef LADDER_DOUBLE
#define NEON_FMA(w, v, acc) vfmaq_f64(acc, w, v)
#define NEON_ZERO() vdupq_n_f64(0)
/* two lanes: a shift by 2 is the next vector itself */
#define NEON_SHIFT(next, cur, k) ((k) == 2 ? (next) : vextq_f64(cur, next, (k) & 1))
DEFINE_ISA(rows_neon, , float64x2_t, 2, vdupq_n_f64, NEON_ZERO, vld1q_f64, NEON_FMA, vst1q_f64,
           vst1q_f64, NO_FENCE, 1, NEON_SHIFT)
#else
#define NEON_FMA(w, v, acc) vfmaq_f32(acc, w, v)
#define NEON_ZERO() vdupq_n_f32(0)
#define NEON_SHIFT(next, cur, k) vextq_f32(cur, next, k)
DEFINE_ISA(rows_neon, , float32x4_t, 4, vdupq_n_f32, NEON_ZERO, vld1q_f32, NEON_FMA, vst1q_f32,
           vst1q_f32, NO_FENCE, 1, NEON_SHIFT)
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
