/* Micro-kernels for rungs 4-5 on AVX2 + FMA (Haswell and later, Zen): ukernel_avx2_6x16
 * (float32) and ukernel_avx2_6x8 (float64).
 * An MR x NR tile of C lives in 12 of the 16 ymm registers for the whole kc loop:
 *   float32 6 x 16 (6 rows x 2 vectors of 8), float64 6 x 8 (6 rows x 2 vectors of 4).
 * Per k: 2 vector loads of B, 6 broadcasts of A, 12 FMAs and one prefetch of `warm`; C is
 * touched only at the end. As in ukernel_avx512.c, the accumulators are named variables
 * (c0a ... c5b), one row each per ROWS(X) expansion, so that gcc keeps them in registers.
 * The k loop is unrolled 4 times, so that the loop's own instructions do not take issue
 * slots from the FMAs. As in ukernel_avx512.c, A(i, k) is read at Ap[i * rs_a + k * cs_a]:
 * packed (rs_a = 1, cs_a = MR), or in place for a small A (the _rows kernels, rs_a = lda).
 * Each function is compiled for AVX2/FMA (LADDER_TARGET_AVX2), whatever the global flags,
 * and called only after ladder_best_isa() has checked the CPU, so older CPUs never see
 * these instructions. On other CPUs this file compiles to nothing.
 * The _pf kernels (the loop variant "prefetch", ladder.h) are the same tiles with what
 * OpenBLAS's Haswell and SkylakeX kernels prefetch inside the k loop: A's and B's micro-panels
 * UK_PF_K_AHEAD steps ahead of their loads (one prefetch per 64 bytes a step; A's runs on into
 * the next A micro-panel, which the next call reads), and the C tile's rows over the last
 * UK_PF_C_TAIL steps, one row a step, instead of before the loop, where a long k loop's stream
 * of A and B can evict them from L1 again before the stores. A flag `pf`, a constant in each
 * caller, picks the loops, so the default kernels are compiled as before. */
#include "ladder.h"
#if defined(LADDER_X86)
#include <immintrin.h>

#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define A_ROW(i) ((i) < 3 ? a0 : a3)  /* a constant choice */
_Static_assert(UK_AVX2_MR == 6, "ROWS lists the micro-kernel's MR rows");

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

LADDER_TARGET_AVX2 LADDER_INLINE void
tile_s(const int pf, size_t kc, const float *Ap, size_t rs_a, size_t cs_a, const float *Bp,
       float *C, size_t ldc, int accumulate, const char *warm)
{
#define ZERO(i) __m256 c##i##a = _mm256_setzero_ps(), c##i##b = _mm256_setzero_ps();
    ROWS(ZERO)
    for (int i = 0; !pf && i < UK_AVX2_MR; i++) {  /* C comes from memory: start fetching it now */
        _mm_prefetch((const char *)(C + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(C + i * ldc + UK_AVX2_NR_S - 1), _MM_HINT_T0);
    }
    const size_t warm_step = warm ? UK_WARM_BYTES_PER_K : 0;  /* none: Bp's line, in L1 */
    if (!warm)
        warm = (const char *)Bp;
    /* rows 0-2 of A are read from a0 at 0, rs_a and 2 rs_a, rows 3-5 from a3: x86 addressing
     * (base + index * 1 or 2) reaches them from two pointers */
    const float *a0 = Ap, *a3 = Ap + 3 * rs_a;
#define FMA_ROW(i)                                                                      \
        {                                                                               \
            const __m256 a = _mm256_broadcast_ss(A_ROW(i) + (i) % 3 * rs_a);            \
            c##i##a = _mm256_fmadd_ps(a, b0, c##i##a);                                  \
            c##i##b = _mm256_fmadd_ps(a, b1, c##i##b);                                  \
        }
    /* one step of k: A's column k (MR values) times B's row k (NR values); each loop
     * below then moves A's and B's pointers on */
#define K_BODY()                                                                        \
    {                                                                                   \
        _mm_prefetch(warm, _MM_HINT_T1);                                                \
        warm += warm_step;                                                              \
        const __m256 b0 = _mm256_loadu_ps(Bp), b1 = _mm256_loadu_ps(Bp + 8);            \
        ROWS(FMA_ROW)                                                                   \
    }
#define NEXT_K a0 += cs_a, a3 += cs_a, Bp += UK_AVX2_NR_S
    if (!pf) {
#pragma GCC unroll 4
        for (size_t k = 0; k < kc; k++, NEXT_K)
            K_BODY()
    } else {  /* packed A: cs_a = MR */
        const size_t tail = kc < UK_PF_C_TAIL ? kc : UK_PF_C_TAIL;
#pragma GCC unroll 4
        for (size_t k = tail; k < kc; k++, NEXT_K) {
            PF_AHEAD(a0, UK_AVX2_MR * sizeof(float))
            PF_AHEAD(Bp, UK_AVX2_NR_S * sizeof(float))
            K_BODY()
        }
        for (size_t t = 0; t < tail; t++, NEXT_K) {  /* the last steps: C's rows too */
            PF_AHEAD(a0, UK_AVX2_MR * sizeof(float))
            PF_AHEAD(Bp, UK_AVX2_NR_S * sizeof(float))
            if (t < UK_AVX2_MR)
                PF_C_ROW(t, UK_AVX2_NR_S, sizeof(float))
            K_BODY()
        }
    }
#undef K_BODY
#undef NEXT_K
#undef FMA_ROW
#define STORE_ROW(i)                                                                    \
    {                                                                                   \
        float *row = C + i * ldc;                                                       \
        if (accumulate) {                                                               \
            c##i##a = _mm256_add_ps(c##i##a, _mm256_loadu_ps(row));                     \
            c##i##b = _mm256_add_ps(c##i##b, _mm256_loadu_ps(row + 8));                 \
        }                                                                               \
        _mm256_storeu_ps(row, c##i##a);                                                 \
        _mm256_storeu_ps(row + 8, c##i##b);                                             \
    }
    ROWS(STORE_ROW)
#undef STORE_ROW
#undef ZERO
}

LADDER_TARGET_AVX2 void ukernel_avx2_6x16(size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc,
                    int accumulate, const char *warm)
{
    tile_s(0, kc, Ap, 1, UK_AVX2_MR, Bp, C, ldc, accumulate, warm);
}

LADDER_TARGET_AVX2 void ukernel_avx2_6x16_rows(size_t kc, const float *A, size_t lda, const float *Bp, float *C,
                    size_t ldc, int accumulate, const char *warm)
{
    tile_s(0, kc, A, lda, 1, Bp, C, ldc, accumulate, warm);
}

LADDER_TARGET_AVX2 void ukernel_avx2_6x16_pf(size_t kc, const float *Ap, const float *Bp, float *C,
                                          size_t ldc, int accumulate, const char *warm)
{
    tile_s(1, kc, Ap, 1, UK_AVX2_MR, Bp, C, ldc, accumulate, warm);
}

LADDER_TARGET_AVX2 LADDER_INLINE void
tile_d(const int pf, size_t kc, const double *Ap, size_t rs_a, size_t cs_a, const double *Bp,
       double *C, size_t ldc, int accumulate, const char *warm)
{
#define ZERO(i) __m256d c##i##a = _mm256_setzero_pd(), c##i##b = _mm256_setzero_pd();
    ROWS(ZERO)
    for (int i = 0; !pf && i < UK_AVX2_MR; i++) {  /* C comes from memory: start fetching it now */
        _mm_prefetch((const char *)(C + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(C + i * ldc + UK_AVX2_NR_D - 1), _MM_HINT_T0);
    }
    const size_t warm_step = warm ? UK_WARM_BYTES_PER_K : 0;  /* none: Bp's line, in L1 */
    if (!warm)
        warm = (const char *)Bp;
    /* rows 0-2 of A are read from a0 at 0, rs_a and 2 rs_a, rows 3-5 from a3: x86 addressing
     * (base + index * 1 or 2) reaches them from two pointers */
    const double *a0 = Ap, *a3 = Ap + 3 * rs_a;
#define FMA_ROW(i)                                                                      \
        {                                                                               \
            const __m256d a = _mm256_broadcast_sd(A_ROW(i) + (i) % 3 * rs_a);           \
            c##i##a = _mm256_fmadd_pd(a, b0, c##i##a);                                  \
            c##i##b = _mm256_fmadd_pd(a, b1, c##i##b);                                  \
        }
    /* one step of k: A's column k (MR values) times B's row k (NR values); each loop
     * below then moves A's and B's pointers on */
#define K_BODY()                                                                        \
    {                                                                                   \
        _mm_prefetch(warm, _MM_HINT_T1);                                                \
        warm += warm_step;                                                              \
        const __m256d b0 = _mm256_loadu_pd(Bp), b1 = _mm256_loadu_pd(Bp + 4);           \
        ROWS(FMA_ROW)                                                                   \
    }
#define NEXT_K a0 += cs_a, a3 += cs_a, Bp += UK_AVX2_NR_D
    if (!pf) {
#pragma GCC unroll 4
        for (size_t k = 0; k < kc; k++, NEXT_K)
            K_BODY()
    } else {  /* packed A: cs_a = MR */
        const size_t tail = kc < UK_PF_C_TAIL ? kc : UK_PF_C_TAIL;
#pragma GCC unroll 4
        for (size_t k = tail; k < kc; k++, NEXT_K) {
            PF_AHEAD(a0, UK_AVX2_MR * sizeof(double))
            PF_AHEAD(Bp, UK_AVX2_NR_D * sizeof(double))
            K_BODY()
        }
        for (size_t t = 0; t < tail; t++, NEXT_K) {  /* the last steps: C's rows too */
            PF_AHEAD(a0, UK_AVX2_MR * sizeof(double))
            PF_AHEAD(Bp, UK_AVX2_NR_D * sizeof(double))
            if (t < UK_AVX2_MR)
                PF_C_ROW(t, UK_AVX2_NR_D, sizeof(double))
            K_BODY()
        }
    }
#undef K_BODY
#undef NEXT_K
#undef FMA_ROW
#define STORE_ROW(i)                                                                    \
    {                                                                                   \
        double *row = C + i * ldc;                                                      \
        if (accumulate) {                                                               \
            c##i##a = _mm256_add_pd(c##i##a, _mm256_loadu_pd(row));                     \
            c##i##b = _mm256_add_pd(c##i##b, _mm256_loadu_pd(row + 4));                 \
        }                                                                               \
        _mm256_storeu_pd(row, c##i##a);                                                 \
        _mm256_storeu_pd(row + 4, c##i##b);                                             \
    }
    ROWS(STORE_ROW)
#undef STORE_ROW
#undef ZERO
}

LADDER_TARGET_AVX2 void ukernel_avx2_6x8(size_t kc, const double *Ap, const double *Bp, double *C, size_t ldc,
                    int accumulate, const char *warm)
{
    tile_d(0, kc, Ap, 1, UK_AVX2_MR, Bp, C, ldc, accumulate, warm);
}

LADDER_TARGET_AVX2 void ukernel_avx2_6x8_rows(size_t kc, const double *A, size_t lda, const double *Bp, double *C,
                    size_t ldc, int accumulate, const char *warm)
{
    tile_d(0, kc, A, lda, 1, Bp, C, ldc, accumulate, warm);
}

LADDER_TARGET_AVX2 void ukernel_avx2_6x8_pf(size_t kc, const double *Ap, const double *Bp,
                                         double *C, size_t ldc, int accumulate, const char *warm)
{
    tile_d(1, kc, Ap, 1, UK_AVX2_MR, Bp, C, ldc, accumulate, warm);
}

#endif
