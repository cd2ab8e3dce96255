/* Micro-kernels for rungs 4-5 on AVX-512F (Skylake-X, Ice Lake, Sapphire Rapids, Zen 4).
 * Twice the vector width of ukernel_avx2.c and twice the registers (32 zmm), so a larger
 * tile: 24 accumulators hold float32 12 x 32 or float64 12 x 16 (12 rows x 2 vectors).
 * Per k: 2 vector loads of B, 12 broadcasts of A, 24 FMAs.
 * Compiled for AVX-512F by the pragma below and called only after the CPU check. */
#pragma GCC push_options
#pragma GCC target("avx512f")
#include <immintrin.h>
#include "ladder.h"

#define MR UK_AVX512_MR

void ukernel_avx512_s(size_t kc, const float *Ap, const float *Bp, float *C, size_t ldc,
                      int accumulate)
{
    __m512 c[MR][2];
    for (int i = 0; i < MR; i++)
        c[i][0] = c[i][1] = _mm512_setzero_ps();
    for (int i = 0; i < MR; i++) {  /* C comes from memory: start fetching its rows now */
        _mm_prefetch((const char *)(C + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(C + i * ldc + UK_AVX512_NR_S - 1), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (size_t k = 0; k < kc; k++, Ap += MR, Bp += UK_AVX512_NR_S) {
        const __m512 b0 = _mm512_loadu_ps(Bp), b1 = _mm512_loadu_ps(Bp + 16);
        for (int i = 0; i < MR; i++) {
            const __m512 a = _mm512_set1_ps(Ap[i]);
            c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
            c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
        }
    }
    for (int i = 0; i < MR; i++, C += ldc) {
        if (accumulate) {
            c[i][0] = _mm512_add_ps(c[i][0], _mm512_loadu_ps(C));
            c[i][1] = _mm512_add_ps(c[i][1], _mm512_loadu_ps(C + 16));
        }
        _mm512_storeu_ps(C, c[i][0]);
        _mm512_storeu_ps(C + 16, c[i][1]);
    }
}

void ukernel_avx512_d(size_t kc, const double *Ap, const double *Bp, double *C, size_t ldc,
                      int accumulate)
{
    __m512d c[MR][2];
    for (int i = 0; i < MR; i++)
        c[i][0] = c[i][1] = _mm512_setzero_pd();
    for (int i = 0; i < MR; i++) {  /* C comes from memory: start fetching its rows now */
        _mm_prefetch((const char *)(C + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(C + i * ldc + UK_AVX512_NR_D - 1), _MM_HINT_T0);
    }
#pragma GCC unroll 4
    for (size_t k = 0; k < kc; k++, Ap += MR, Bp += UK_AVX512_NR_D) {
        const __m512d b0 = _mm512_loadu_pd(Bp), b1 = _mm512_loadu_pd(Bp + 8);
        for (int i = 0; i < MR; i++) {
            const __m512d a = _mm512_set1_pd(Ap[i]);
            c[i][0] = _mm512_fmadd_pd(a, b0, c[i][0]);
            c[i][1] = _mm512_fmadd_pd(a, b1, c[i][1]);
        }
    }
    for (int i = 0; i < MR; i++, C += ldc) {
        if (accumulate) {
            c[i][0] = _mm512_add_pd(c[i][0], _mm512_loadu_pd(C));
            c[i][1] = _mm512_add_pd(c[i][1], _mm512_loadu_pd(C + 8));
        }
        _mm512_storeu_pd(C, c[i][0]);
        _mm512_storeu_pd(C + 8, c[i][1]);
    }
}

#pragma GCC pop_options
