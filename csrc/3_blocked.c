/* Rung 3 (c_blocked): cache blocking of the ikj loops.
 * Changed from rung 2: k and j are tiled into KB x NB tiles of B; for each tile every row
 *   of A is swept with the same ikj inner loops. Sizes come from the caches read at run time
 *   (ladder_blocked_tiles in blocking.c): a row segment of NB elements of C stays in L1
 *   and the KB x NB tile of B in L2.
 * Hypothesis: rung 2 streams all of B from L3/DRAM for every row of A; a tile that fits L2
 *   is reused by all M rows, so B comes from L2 instead.
 * Expect: no drop in GFLOP/s as B outgrows L2; a modest gain (~1.2-2x) over rung 2 at
 *   n >= 1024, because the inner loop is still one load of B and a load+store of C per FMA. */
#include "ladder.h"

/* C[0:rows, 0:w] += A[0:rows, k0:k1] @ B[k0:k1, 0:w]: the ikj loops over one tile of B.
 * restrict tells the compiler that C does not overlap A or B, so the j loop is vectorised
 * without a run-time overlap check, and gcc -O3 may unroll k by two into it (unroll-and-jam):
 * one load and store of C for two rows of B. */
static void add_tile(size_t rows, size_t k0, size_t k1, size_t w, const real *restrict A,
                     size_t lda, const real *restrict B, size_t ldb, real *restrict C, size_t ldc)
{
    for (size_t i = 0; i < rows; i++) {
        real *restrict c_row = C + i * ldc;
        for (size_t k = k0; k < k1; k++) {
            const real a_ik = A[i * lda + k];
            const real *restrict b_row = B + k * ldb;
            for (size_t j = 0; j < w; j++)
                c_row[j] += a_ik * b_row[j];
        }
    }
}

void MM(blocked)(size_t M, size_t N, size_t K, const real *A, size_t lda,
                 const real *B, size_t ldb, real *C, size_t ldc)
{
    const ladder_tiles t = ladder_blocked_tiles(sizeof(real));

    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++)
            C[i * ldc + j] = 0;

    for (size_t k0 = 0; k0 < K; k0 += t.kb) {
        const size_t k1 = k0 + t.kb < K ? k0 + t.kb : K;
        for (size_t j0 = 0; j0 < N; j0 += t.nb) {
            const size_t w = j0 + t.nb < N ? t.nb : N - j0;
            add_tile(M, k0, k1, w, A, lda, B + j0, ldb, C + j0, ldc);
        }
    }
}
