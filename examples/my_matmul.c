/* my_matmul.c: a starting point for your own matrix multiply on the ladder.
 *
 *     matmul-ladder try examples/my_matmul.c          (or: python -m matmul_ladder.tryout ...)
 *
 * compiles this file with the compiler and flags of the C rungs, checks your functions on
 * the hard shapes, races them against the rungs either side of them and NumPy on one thread,
 * and writes a report into results/try-my_matmul/ (docs/try-your-kernel.md).
 *
 * The contract (the same as the rungs', csrc/ladder.h), for float (my_matmul_s) and/or
 * double (my_matmul_d); the file's name gives the prefix, --function NAME another one:
 *
 *   void my_matmul_s(size_t M, size_t N, size_t K,
 *                    const float *A, size_t lda,
 *                    const float *B, size_t ldb,
 *                    float *C, size_t ldc);
 *
 * - Row-major C = A @ B. A is M x K, B is K x N, C is M x N.
 * - Element (i, j) of A is A[i * lda + j]; of B, B[i * ldb + j]; of C, C[i * ldc + j].
 *   The row strides are at least the widths (lda >= K, ldb >= N, ldc >= N) and may be
 *   larger: never touch the padding past the width of a row.
 * - C is overwritten: its old contents are garbage (the checker fills it with NaN).
 * - Any size may be 0 (with K = 0, C is all zeros).
 * - Do not change A or B, and do not keep pointers to them after you return.
 * - It runs on one thread in the race (OMP_NUM_THREADS=1), so OpenMP buys nothing there.
 *
 * Provide one of the two functions or both. Below: the ikj loop of rung 2 (csrc/2_ikj.c),
 * which streams rows of B and C. Make it faster, then run the command again. */
#include <stddef.h>

void my_matmul_s(size_t M, size_t N, size_t K, const float *A, size_t lda,
                 const float *B, size_t ldb, float *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        for (size_t j = 0; j < N; j++)
            c[j] = 0.0f;
        for (size_t k = 0; k < K; k++) {
            const float a = A[i * lda + k];
            const float *b = B + k * ldb;
            for (size_t j = 0; j < N; j++)
                c[j] += a * b[j];
        }
    }
}

void my_matmul_d(size_t M, size_t N, size_t K, const double *A, size_t lda,
                 const double *B, size_t ldb, double *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++) {
        double *c = C + i * ldc;
        for (size_t j = 0; j < N; j++)
            c[j] = 0.0;
        for (size_t k = 0; k < K; k++) {
            const double a = A[i * lda + k];
            const double *b = B + k * ldb;
            for (size_t j = 0; j < N; j++)
                c[j] += a * b[j];
        }
    }
}
