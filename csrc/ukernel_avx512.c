/* Micro-kernels for rungs 4-5 on AVX-512F (Skylake-X, Ice Lake, Sapphire Rapids, Zen 4):
 * ukernel_avx512_12x32 (float32) and ukernel_avx512_12x16 (float64).
 * Twice the vector width of ukernel_avx2.c and twice the registers (32 zmm), so a larger
 * tile: 24 accumulators hold 12 rows x 2 vectors of C.
 * Per k: 2 vector loads of B, 12 broadcasts of A, 24 FMAs, and one prefetch of `warm`.
 * The accumulators are 24 named variables (c0a, c0b, ... c11b), one row of C each per
 * ROWS(X) expansion, not an array c[12][2], which gcc may keep in memory.
 * Each kernel is written once, for `rows` rows, and built twice: 12 rows, and 6 for tiles
 * of at most 6 rows at the bottom edge of C (M = 64 is 5 tiles of 12 and one of 4, which
 * the 12-row kernel computes at 1/3 use). `rows` is a constant in each caller, so gcc
 * drops the code of the rows past it. It reads A(i, k) at Ap[i * rs_a + k * cs_a]: packed
 * (rs_a = 1, cs_a = MR, constants, so the code is that of a packed kernel), or, in the
 * _rows kernels, A where it lies (rs_a = lda, cs_a = 1) for a small A left unpacked.
 * Each function is compiled for AVX-512F (LADDER_TARGET_AVX512) and called only after the
 * CPU check. On other CPUs this file compiles to nothing.
 * The _pf kernels (the loop variant "prefetch") add the prefetches of ukernel_avx2.c's: A
 * (96 bytes a step in float64, so two prefetches) and B (128 bytes, two) UK_PF_K_AHEAD steps
 * ahead, and C's rows (two or three lines each) over the last UK_PF_C_TAIL steps. */
#include "ladder.h"
#if defined(LADDER_X86)
#include <immintrin.h>

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define A_ROW(i) ((i) < 3 ? a0 : (i) < 6 ? a3 : (i) < 9 ? a6 : a9)  /* a constant choice */
_Static_assert(UK_AVX512_MR == 12, "ROWS lists the micro-kernel's MR rows");

/* The prefetches of the _pf kernels, in one k step: `bytes` of a stream per step, from p
 * UK_PF_K_AHEAD steps ahead; and row `row` of the C tile (NR values of `size` bytes). */
#define PF_AHEAD(p, bytes)                                                              \
    for (size_t o_ = 0; o_ < (bytes); o_ += 64)                                         \
        _mm_prefetch((const char *)(p) + UK_PF_K_AHEAD * (bytes) + o_, _MM_HINT_T0);
#define PF_C_ROW(row, nr, size)                                                         \
    {                                                                                   \
        const char *r_ = (const char *)(C + (row) * ldc);                               \
        for (size_t o_ = 0; o_ < (nr) * (size); o_ += 64)                               \
            _mm_prefetch(r_ + o_, _MM_HINT_T0);                                         \
        _mm_prefetch(r_ + (nr) * (size) - 1, _MM_HINT_T0);                              \
    }

LADDER_TARGET_AVX512 LADDER_INLINE void
tile_s(const int pf, const int rows, size_t kc, const float *Ap, size_t rs_a, size_t cs_a,
       const float *Bp, float *C, size_t ldc, int accumulate, const char *warm)
{
#define ZERO(i) __m512 c##i##a = _mm512_setzero_ps(), c##i##b = _mm512_setzero_ps();
    ROWS(ZERO)
    for (int i = 0; !pf && i < rows; i++) {  /* C comes from memory: start fetching it now */
        _mm_prefetch((const char *)(C + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(C + i * ldc + UK_AVX512_NR_S - 1), _MM_HINT_T0);
    }
    const size_t warm_step = warm ? UK_WARM_BYTES_PER_K : 0;  /* none: Bp's line, in L1 */
    if (!warm)
        warm = (const char *)Bp;
    /* rows 3j..3j+2 of A are read from a##3j at 0, rs_a and 2 rs_a: four pointers, and
     * x86 addressing (base + index * 1 or 2) reaches the other rows, where twelve row
     * pointers would not fit in the registers */
    const float *a0 = Ap, *a3 = Ap + 3 * rs_a, *a6 = Ap + 6 * rs_a, *a9 = Ap + 9 * rs_a;
#define FMA_ROW(i)                                                                      \
        if (i < rows) {                                                                 \
            const __m512 a = _mm512_set1_ps(A_ROW(i)[(i) % 3 * rs_a]);                  \
            c##i##a = _mm512_fmadd_ps(a, b0, c##i##a);                                  \
            c##i##b = _mm512_fmadd_ps(a, b1, c##i##b);                                  \
        }
    /* one step of k: A's column k (MR values) times B's row k (NR values); each loop
     * below then moves A's and B's pointers on */
#define K_BODY()                                                                        \
    {                                                                                   \
        _mm_prefetch(warm, _MM_HINT_T1);                                                \
        warm += warm_step;                                                              \
        const __m512 b0 = _mm512_loadu_ps(Bp), b1 = _mm512_loadu_ps(Bp + 16);           \
        ROWS(FMA_ROW)                                                                   \
    }
#define NEXT_K a0 += cs_a, a3 += cs_a, a6 += cs_a, a9 += cs_a, Bp += UK_AVX512_NR_S
    if (!pf) {
#pragma GCC unroll 4
        for (size_t k = 0; k < kc; k++, NEXT_K)
            K_BODY()
    } else {  /* packed A: cs_a = MR, whatever `rows` */
        const size_t tail = kc < UK_PF_C_TAIL ? kc : UK_PF_C_TAIL;
#pragma GCC unroll 4
        for (size_t k = tail; k < kc; k++, NEXT_K) {
            PF_AHEAD(a0, UK_AVX512_MR * sizeof(float))
            PF_AHEAD(Bp, UK_AVX512_NR_S * sizeof(float))
            K_BODY()
        }
        for (size_t t = 0; t < tail; t++, NEXT_K) {  /* the last steps: C's rows too */
            PF_AHEAD(a0, UK_AVX512_MR * sizeof(float))
            PF_AHEAD(Bp, UK_AVX512_NR_S * sizeof(float))
            if (t < (size_t)rows)
                PF_C_ROW(t, UK_AVX512_NR_S, sizeof(float))
            K_BODY()
        }
    }
#undef K_BODY
#undef NEXT_K
#undef FMA_ROW
#define STORE_ROW(i)                                                                    \
    if (i < rows) {                                                                     \
        float *row = C + i * ldc;                                                       \
        if (accumulate) {                                                               \
            c##i##a = _mm512_add_ps(c##i##a, _mm512_loadu_ps(row));                     \
            c##i##b = _mm512_add_ps(c##i##b, _mm512_loadu_ps(row + 16));                \
        }                                                                               \
        _mm512_storeu_ps(row, c##i##a);                                                 \
        _mm512_storeu_ps(row + 16, c##i##b);                                            \
    }
    ROWS(STORE_ROW)
#undef STORE_ROW
#undef ZERO
}

LADDER_TARGET_AVX512
void ukernel_avx512_12x32(size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc,
                      int accumulate, const char *warm)
{
    tile_s(0, UK_AVX512_MR, kc, Ap, 1, UK_AVX512_MR, Bp, C, ldc, accumulate, warm);
}

LADDER_TARGET_AVX512
void ukernel_avx512_12x32_rows(size_t kc, const float *A, size_t lda, const float *Bp, float *C,
                               size_t ldc, int accumulate, const char *warm)
{
    tile_s(0, UK_AVX512_MR, kc, A, lda, 1, Bp, C, ldc, accumulate, warm);
}

LADDER_TARGET_AVX512
void ukernel_avx512_12x32_half(size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc,
                           int accumulate, const char *warm)
{
    tile_s(0, UK_AVX512_MR / 2, kc, Ap, 1, UK_AVX512_MR, Bp, C, ldc, accumulate, warm);
}

LADDER_TARGET_AVX512
void ukernel_avx512_12x32_pf(size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc,
                             int accumulate, const char *warm)
{
    tile_s(1, UK_AVX512_MR, kc, Ap, 1, UK_AVX512_MR, Bp, C, ldc, accumulate, warm);
}

LADDER_TARGET_AVX512
void ukernel_avx512_12x32_half_pf(size_t kc, const float *Ap, const float *Bp, float *C,
                                  size_t ldc, int accumulate, const char *warm)
{
    tile_s(1, UK_AVX512_MR / 2, kc, Ap, 1, UK_AVX512_MR, Bp, C, ldc, accumulate, warm);
}

LADDER_TARGET_AVX512 LADDER_INLINE void
tile_d(const int pf, const int rows, size_t kc, const double *Ap, size_t rs_a, size_t cs_a,
       const double *Bp, double *C, size_t ldc, int accumulate, const char *warm)
{
#define ZERO(i) __m512d c##i##a = _mm512_setzero_pd(), c##i##b = _mm512_setzero_pd();
    ROWS(ZERO)
    for (int i = 0; !pf && i < rows; i++) {  /* C comes from memory: start fetching it now */
        _mm_prefetch((const char *)(C + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(C + i * ldc + UK_AVX512_NR_D - 1), _MM_HINT_T0);
    }
    const size_t warm_step = warm ? UK_WARM_BYTES_PER_K : 0;  /* none: Bp's line, in L1 */
    if (!warm)
        warm = (const char *)Bp;
    /* rows 3j..3j+2 of A are read from a##3j at 0, rs_a and 2 rs_a: four pointers, and
     * x86 addressing (base + index * 1 or 2) reaches the other rows, where twelve row
     * pointers would not fit in the registers */
    const double *a0 = Ap, *a3 = Ap + 3 * rs_a, *a6 = Ap + 6 * rs_a, *a9 = Ap + 9 * rs_a;
#define FMA_ROW(i)                                                                      \
        if (i < rows) {                                                                 \
            const __m512d a = _mm512_set1_pd(A_ROW(i)[(i) % 3 * rs_a]);                 \
            c##i##a = _mm512_fmadd_pd(a, b0, c##i##a);                                  \
            c##i##b = _mm512_fmadd_pd(a, b1, c##i##b);                                  \
        }
    /* one step of k: A's column k (MR values) times B's row k (NR values); each loop
     * below then moves A's and B's pointers on */
#define K_BODY()                                                                        \
    {                                                                                   \
        _mm_prefetch(warm, _MM_HINT_T1);                                                \
        warm += warm_step;                                                              \
        const __m512d b0 = _mm512_loadu_pd(Bp), b1 = _mm512_loadu_pd(Bp + 8);           \
        ROWS(FMA_ROW)                                                                   \
    }
#define NEXT_K a0 += cs_a, a3 += cs_a, a6 += cs_a, a9 += cs_a, Bp += UK_AVX512_NR_D
    if (!pf) {
#pragma GCC unroll 4
        for (size_t k = 0; k < kc; k++, NEXT_K)
            K_BODY()
    } else {  /* packed A: cs_a = MR, whatever `rows` */
        const size_t tail = kc < UK_PF_C_TAIL ? kc : UK_PF_C_TAIL;
#pragma GCC unroll 4
        for (size_t k = tail; k < kc; k++, NEXT_K) {
            PF_AHEAD(a0, UK_AVX512_MR * sizeof(double))
            PF_AHEAD(Bp, UK_AVX512_NR_D * sizeof(double))
            K_BODY()
        }
        for (size_t t = 0; t < tail; t++, NEXT_K) {  /* the last steps: C's rows too */
            PF_AHEAD(a0, UK_AVX512_MR * sizeof(double))
            PF_AHEAD(Bp, UK_AVX512_NR_D * sizeof(double))
            if (t < (size_t)rows)
                PF_C_ROW(t, UK_AVX512_NR_D, sizeof(double))
            K_BODY()
        }
    }
#undef K_BODY
#undef NEXT_K
#undef FMA_ROW
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
    ROWS(STORE_ROW)
#undef STORE_ROW
#undef ZERO
}

LADDER_TARGET_AVX512
void ukernel_avx512_12x16(size_t kc, const double *Ap, const double *Bp, double *C, size_t ldc,
                      int accumulate, const char *warm)
{
    tile_d(0, UK_AVX512_MR, kc, Ap, 1, UK_AVX512_MR, Bp, C, ldc, accumulate, warm);
}

LADDER_TARGET_AVX512
void ukernel_avx512_12x16_rows(size_t kc, const double *A, size_t lda, const double *Bp,
                               double *C, size_t ldc, int accumulate, const char *warm)
{
    tile_d(0, UK_AVX512_MR, kc, A, lda, 1, Bp, C, ldc, accumulate, warm);
}

LADDER_TARGET_AVX512
void ukernel_avx512_12x16_half(size_t kc, const double *Ap, const double *Bp, double *C, size_t ldc,
                           int accumulate, const char *warm)
{
    tile_d(0, UK_AVX512_MR / 2, kc, Ap, 1, UK_AVX512_MR, Bp, C, ldc, accumulate, warm);
}

LADDER_TARGET_AVX512
void ukernel_avx512_12x16_pf(size_t kc, const double *Ap, const double *Bp, double *C, size_t ldc,
                             int accumulate, const char *warm)
{
    tile_d(1, UK_AVX512_MR, kc, Ap, 1, UK_AVX512_MR, Bp, C, ldc, accumulate, warm);
}

LADDER_TARGET_AVX512
void ukernel_avx512_12x16_half_pf(size_t kc, const double *Ap, const double *Bp, double *C,
                                  size_t ldc, int accumulate, const char *warm)
{
    tile_d(1, UK_AVX512_MR / 2, kc, Ap, 1, UK_AVX512_MR, Bp, C, ldc, accumulate, warm);
}

#endif
