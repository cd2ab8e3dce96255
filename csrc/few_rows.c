/* The few-rows path of rungs 4 and 5: C = A @ B for M <= LADDER_FEW_ROWS (one row is a
 * GEMV). Packing B and a 12-row register tile would waste far more than they save, so, as
 * in BLAS libraries, this case gets its own loop.
 * B is streamed once, four rows at a time, scaled into a chunk of C's rows held in a local
 * buffer that stays in L1 (one load and store of it per four rows of B; up to four rows of
 * C share each load of B: add_rows), and copied out at the end. The chunks are shared among
 * `threads` if > 1; as each thread sums into its own buffer, no two threads write to one
 * cache line of C until the copy (false sharing on a row of C that does not start on a
 * cache line would otherwise make 2 threads slower than 1). Where C is too narrow for every
 * thread to get whole rows of B's cache lines, the threads split K instead (split_k).
 * On x86-64 its functions are compiled for AVX2 + FMA (FEW_ROWS_TARGET), which c_simd/c_omp
 * require anyway (AVX-512 CPUs have them too), so that the compiler vectorises the j loop
 * with FMAs; called only after the CPU check. On arm64, NEON is the baseline.
 * Measurements of this path and of the cut-off LADDER_FEW_ROWS: docs/numpy.md. */
#include <stdlib.h>
#include <string.h>
#include "ladder.h"

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }
static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

#define ROW_CHUNK 4096
#define FEW_ROWS_TARGET LADDER_TARGET_AVX2
/* sums[r][0:w] += A[r][k:k+4] @ B[k:k+4][j0:j0+w] for the rows r < `rows` (4, 2 or 1, a
 * constant in each call below, so the r loops unroll): the rows share each load of B. */
FEW_ROWS_TARGET LADDER_INLINE void
add_rows(const int rows, const real *A, size_t lda, const real *restrict b0,
         const real *restrict b1, const real *restrict b2, const real *restrict b3,
         real *restrict sums, size_t w)
{
    real a[4][4];
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < 4; q++)
            a[r][q] = A[r * lda + q];
    for (size_t j = 0; j < w; j++) {
        const real x0 = b0[j], x1 = b1[j], x2 = b2[j], x3 = b3[j];
        for (int r = 0; r < rows; r++)
            sums[r * w + j] += a[r][0] * x0 + a[r][1] * x1 + a[r][2] * x2 + a[r][3] * x3;
    }
}

/* sums[0:M, 0:w] += A[0:M, k0:k1] @ B[k0:k1, 0:w], four rows of B at a time. */
FEW_ROWS_TARGET static void sum_rows(size_t M, size_t w, size_t k0, size_t k1, const real *A, size_t lda,
                     const real *B, size_t ldb, real *restrict sums)
{
    size_t k = k0;
    for (; k + 4 <= k1; k += 4) {
        const real *b0 = B + k * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
        size_t i = 0;
        for (; i + 4 <= M; i += 4)
            add_rows(4, A + i * lda + k, lda, b0, b1, b2, b3, sums + i * w, w);
        for (; i + 2 <= M; i += 2)
            add_rows(2, A + i * lda + k, lda, b0, b1, b2, b3, sums + i * w, w);
        for (; i < M; i++)
            add_rows(1, A + i * lda + k, lda, b0, b1, b2, b3, sums + i * w, w);
    }
    for (; k < k1; k++)
        for (size_t i = 0; i < M; i++) {
            const real a = A[i * lda + k], *restrict b = B + k * ldb;
            real *restrict c = sums + i * w;
            for (size_t j = 0; j < w; j++)
                c[j] += a * b[j];
        }
}

/* C too narrow to give every thread columns of its own (M x N <= ROW_CHUNK): the threads
 * split K instead, each summing its stretch of B's rows into its own partial C, and the
 * partials are then added in thread order, so the result does not depend on timing.
 * Returns 0, or -1 if the partials cannot be allocated. */
FEW_ROWS_TARGET static int split_k(size_t M, size_t N, size_t K, const real *A, size_t lda, const real *B,
                   size_t ldb, real *C, size_t ldc, int threads)
{
    const size_t MN = M * N;
    real *partial = malloc((size_t)threads * MN * sizeof(real));
    if (!partial)
        return -1;
    #pragma omp parallel num_threads(threads)
    {
        #pragma omp for schedule(static)
        for (int t = 0; t < threads; t++) {
            real *mine = partial + (size_t)t * MN;
            memset(mine, 0, MN * sizeof(real));
            sum_rows(M, N, K * t / threads, K * (t + 1) / threads, A, lda, B, ldb, mine);
        }
        #pragma omp for schedule(static)
        for (size_t e = 0; e < MN; e++) {
            real total = 0;
            for (int t = 0; t < threads; t++)
                total += partial[(size_t)t * MN + e];
            C[e / N * ldc + e % N] = total;
        }
    }
    free(partial);
    return 0;
}

FEW_ROWS_TARGET void MM(few_rows)(size_t M, size_t N, size_t K, const real *A, size_t lda, const real *B,
                  size_t ldb, real *C, size_t ldc, int threads)
{
    /* whole cache lines per chunk, and one chunk per thread where C is narrow */
    const size_t per_thread = round_up((N + threads - 1) / threads, 64 / sizeof(real));
    const size_t chunk = min_size(ROW_CHUNK / M, per_thread);
    /* Each thread's share of a row of B under 1 KiB: it would stream B in short pieces. */
    if (threads > 1 && M * N <= ROW_CHUNK && per_thread * sizeof(real) < 1024 &&
        K >= 64 * (size_t)threads && split_k(M, N, K, A, lda, B, ldb, C, ldc, threads) == 0)
        return;
    #pragma omp parallel for if (threads > 1) num_threads(threads) schedule(static)
    for (size_t j0 = 0; j0 < N; j0 += chunk) {
        const size_t w = min_size(chunk, N - j0);
        _Alignas(64) real sums[ROW_CHUNK];
        memset(sums, 0, M * w * sizeof(real));
        sum_rows(M, w, 0, K, A, lda, B + j0, ldb, sums);
        for (size_t i = 0; i < M; i++)
            memcpy(C + i * ldc + j0, sums + i * w, w * sizeof(real));
    }
}

