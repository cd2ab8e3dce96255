/* Rung 1 (c_naive): the textbook i-j-k triple loop, as a student writes it first.
 * Changed from py_naive: the same three loops, compiled, on typed contiguous arrays.
 * Hypothesis: compilation removes the interpreter (~100x over Python), but the inner k loop
 *   walks B down a column, one element per cache line, so each FMA waits on memory.
 * Expect: well under 1 GFLOP/s at n = 1024; D1 misses ~ 1 per inner iteration once a
 *   column of B no longer fits L1.
 * Written once in terms of `real` and compiled for float and double (see ladder.h). */
#include "ladder.h"

void MM(naive)(size_t M, size_t N, size_t K, const real *A, size_t lda,
               const real *B, size_t ldb, real *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            real sum = 0;
            for (size_t k = 0; k < K; k++)
                sum += A[i * lda + k] * B[k * ldb + j];
            C[i * ldc + j] = sum;
        }
}
