/* Rung 2 (c_ikj): the same loops reordered to i-k-j.
 * Changed from rung 1: k moves out and j in, so the inner loop is C[i,:] += A[i,k] * B[k,:]
 *   and reads B and C with unit stride; no arithmetic changes.
 * Hypothesis: every cache line of B is now used whole (16 floats, not 1), and the unit-stride
 *   inner loop lets the compiler vectorise it (SSE2 by default, AVX with -march flags).
 * Expect: 10-50x over rung 1; D1 misses per FLOP fall ~16x; still bound by streaming all
 *   of B from L2/L3 once per row of A, so GFLOP/s drop once B outgrows L2. */
#include "ladder.h"

void MM(ikj)(size_t M, size_t N, size_t K, const real *A, size_t lda,
             const real *B, size_t ldb, real *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++) {
        real *c_row = C + i * ldc;
        for (size_t j = 0; j < N; j++)
            c_row[j] = 0;
        for (size_t k = 0; k < K; k++) {
            const real a_ik = A[i * lda + k];
            const real *b_row = B + k * ldb;
            for (size_t j = 0; j < N; j++)
                c_row[j] += a_ik * b_row[j];
        }
    }
}
