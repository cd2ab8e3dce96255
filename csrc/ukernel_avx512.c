/* Micro-kernels for rungs 4-5 on AVX-512F (Skylake-X, Ice Lake, Sapphire Rapids, Zen 4).
 * Twice the vector width of ukernel_avx2.c and twice the registers (32 zmm), so larger
 * tiles, of 24 accumulators each: float32 6 x 64 (6 rows x 4 vectors of 16) and float64
 * 12 x 16 (12 rows x 2 vectors of 8).
 * Per k, float32: 4 vector loads of B, 6 broadcasts of A, 24 FMAs; float64: 2 loads,
 * 12 broadcasts, 24 FMAs; and one prefetch of `warm`.
 * Why two shapes: fewer loads per FMA. Where a neighbour shares the core (this VM's busy
 * phases), the kernel's loads, not its FMAs, set its pace: float32 12 x 32 (2 loads and
 * 12 broadcasts) ran at 85% of the FMA peak on its own, 6 x 64 at 88%, and c_simd at
 * n = 2048 went from 79% to 83% (1.11x to 1.15x NumPy; in-process races, session 7).
 * In float64, 6 x 32 reached 87% alone but made c_simd 3-5% slower, as 8 x 24 did.
 * The accumulators are named variables (c0a, c0b, ...), one row of C each per ROWS(X)
 * expansion, not an array: with an array and a prefetch in the k loop, gcc 13 kept them in
 * memory (22 stores per 4 k-steps, 15-20% slower).
 * Each kernel is written once, for `rows` rows, and built twice: all rows, and half of
 * them for tiles of at most MR/2 rows at the bottom edge of C (M = 64 in float64 is 5
 * tiles of 12 and one of 4, which the 12-row kernel computes at 1/3 use). `rows` is a
 * constant in each caller, so gcc drops the code of the rows past it.
 * Compiled for AVX-512F by the pragma below and called only after the CPU check. */
#pragma GCC push_options
#pragma GCC target("avx512f")
#include <immintrin.h>
#include "ladder.h"

#define ROWS_S(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define ROWS_D(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
_Static_assert(UK_AVX512_MR_S == 6 && UK_AVX512_MR_D == 12, "ROWS_S/D list the MR rows");

static inline __attribute__((always_inline)) void
tile_s(const int rows, size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc,
       int accumulate, const char *warm)
{
#define ZERO(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = _mm512_setzero_ps(), \
                       c##i##c = _mm512_setzero_ps(), c##i##d = _mm512_setzero_ps();
    ROWS_S(ZERO)
    for (int i = 0; i < rows; i++)  /* C comes from memory: start fetching it now */
        for (int j = 0; j < UK_AVX512_NR_S; j += 16)
            _mm_prefetch((const char *)(C + i * ldc + j), _MM_HINT_T0);
    const size_t warm_step = warm ? UK_WARM_BYTES_PER_K : 0;  /* none: Bp's line, in L1 */
    if (!warm)
        warm = (const char *)Bp;
#pragma GCC unroll 4
    for (size_t k = 0; k < kc; k++, Ap += UK_AVX512_MR_S, Bp += UK_AVX512_NR_S) {
        _mm_prefetch(warm, _MM_HINT_T1);
        warm += warm_step;
        const __m512 b0 = _mm512_loadu_ps(Bp), b1 = _mm512_loadu_ps(Bp + 16),
                     b2 = _mm512_loadu_ps(Bp + 32), b3 = _mm512_loadu_ps(Bp + 48);
#define FMA_ROW(i)                                                                      \
        if (i < rows) {                                                                 \
            const __m512 a = _mm512_set1_ps(Ap[i]);                                     \
            c##i##a = _mm512_fmadd_ps(a, b0, c##i##a);                                  \
            c##i##b = _mm512_fmadd_ps(a, b1, c##i##b);                                  \
            c##i##c = _mm512_fmadd_ps(a, b2, c##i##c);                                  \
            c##i##d = _mm512_fmadd_ps(a, b3, c##i##d);                                  \
        }
        ROWS_S(FMA_ROW)
#undef FMA_ROW
    }
#define STORE_ROW(i)                                                                    \
    if (i < rows) {                                                                     \
        float *row = C + i * ldc;                                                       \
        if (accumulate) {                                                               \
            c##i##a = _mm512_add_ps(c##i##a, _mm512_loadu_ps(row));                     \
            c##i##b = _mm512_add_ps(c##i##b, _mm512_loadu_ps(row + 16));                \
            c##i##c = _mm512_add_ps(c##i##c, _mm512_loadu_ps(row + 32));                \
            c##i##d = _mm512_add_ps(c##i##d, _mm512_loadu_ps(row + 48));                \
        }                                                                               \
        _mm512_storeu_ps(row, c##i##a);                                                 \
        _mm512_storeu_ps(row + 16, c##i##b);                                            \
        _mm512_storeu_ps(row + 32, c##i##c);                                            \
        _mm512_storeu_ps(row + 48, c##i##d);                                            \
    }
    ROWS_S(STORE_ROW)
#undef STORE_ROW
#undef ZERO
}

void ukernel_avx512_s(size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc,
                      int accumulate, const char *warm)
{
    tile_s(UK_AVX512_MR_S, kc, Ap, Bp, C, ldc, accumulate, warm);
}

void ukernel_avx512_half_s(size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc,
                           int accumulate, const char *warm)
{
    tile_s(UK_AVX512_MR_S / 2, kc, Ap, Bp, C, ldc, accumulate, warm);
}

static inline __attribute__((always_inline)) void
tile_d(const int rows, size_t kc, const double *Ap, const double *Bp, double *C, size_t ldc,
       int accumulate, const char *warm)
{
#define ZERO(i) __m512d c##i##a = _mm512_setzero_pd(), c##i##b = _mm512_setzero_pd();
    ROWS_D(ZERO)
    for (int i = 0; i < rows; i++) {  /* C comes from memory: start fetching it now */
        _mm_prefetch((const char *)(C + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(C + i * ldc + UK_AVX512_NR_D - 1), _MM_HINT_T0);
    }
    const size_t warm_step = warm ? UK_WARM_BYTES_PER_K : 0;  /* none: Bp's line, in L1 */
    if (!warm)
        warm = (const char *)Bp;
#pragma GCC unroll 4
    for (size_t k = 0; k < kc; k++, Ap += UK_AVX512_MR_D, Bp += UK_AVX512_NR_D) {
        _mm_prefetch(warm, _MM_HINT_T1);
        warm += warm_step;
        const __m512d b0 = _mm512_loadu_pd(Bp), b1 = _mm512_loadu_pd(Bp + 8);
#define FMA_ROW(i)                                                                      \
        if (i < rows) {                                                                 \
            const __m512d a = _mm512_set1_pd(Ap[i]);                                    \
            c##i##a = _mm512_fmadd_pd(a, b0, c##i##a);                                  \
            c##i##b = _mm512_fmadd_pd(a, b1, c##i##b);                                  \
        }
        ROWS_D(FMA_ROW)
#undef FMA_ROW
    }
#define STORE_ROW(i)                                                                    \
    if (i < rows) {                                                                     \
        double *row = C + i * ldc;                                                      \
        if (accumulate) {                                                               \
            c##i##a = _mm512_add_pd(c##i##a, _mm512_loadu_pd(row));                     \
            c##i##b = _mm512_add_pd(c##i##b, _mm512_loadu_pd(row + 8));                 \
        }                                                                               \
        _mm512_storeu_pd(row, c##i##a);                                                 \
        _mm512_storeu_pd(row + 8, c##i##b);                                             \
    }
    ROWS_D(STORE_ROW)
#undef STORE_ROW
#undef ZERO
}

void ukernel_avx512_d(size_t kc, const double *Ap, const double *Bp, double *C, size_t ldc,
                      int accumulate, const char *warm)
{
    tile_d(UK_AVX512_MR_D, kc, Ap, Bp, C, ldc, accumulate, warm);
}

void ukernel_avx512_half_d(size_t kc, const double *Ap, const double *Bp, double *C, size_t ldc,
                           int accumulate, const char *warm)
{
    tile_d(UK_AVX512_MR_D / 2, kc, Ap, Bp, C, ldc, accumulate, warm);
}

#pragma GCC pop_options
