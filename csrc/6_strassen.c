/* Rung 6 (c_strassen): fewer multiplications. Strassen-Winograd on top of rung 5.
 * Changed from rung 5: the product is cut into 2 x 2 blocks, and the four blocks of C come
 * from 7 block products instead of 8 (Winograd's form of Strassen's 1969 algorithm: 7
 * products and 15 block additions), each product by rung 5 (c_omp) or, for two levels, by
 * this rung again: 49 products instead of 64.
 * Hypothesis: rung 5 runs near the FMA peak, so arithmetic is the limit; doing 7/8 of it
 * (49/64 at two levels) saves up to 12.5% (23%) of the time, less the block additions,
 * which are memory-bound (O(n^2) traffic for O(n^3) work, so they fade as n grows).
 * Expect: slower than rung 5 below a cutoff of a few thousand, 1.05-1.10x above it; error
 * about 3x rung 5's per level (Higham, "Accuracy and Stability of Numerical Algorithms",
 * ch. 23).
 *
 * levels: 0 is rung 5 itself; < 0 chooses by the cutoff (ladder_strassen_levels).
 * Odd dimensions are peeled: the even part goes through Strassen, the last row, column or
 * depth slice (a GEMV or a rank-1 update) through rung 5 or a loop.
 * Extra memory per level, for an M x K by K x N product: 4 blocks of A (M/2 x K/2), 4 of B
 * (K/2 x N/2) and 2 of C (M/2 x N/2): (MK + KN + MN/2) elements, 2.5 n^2 for n x n; the
 * next level adds a quarter of that. A level's blocks are the calling thread's scratch, so
 * the second level's serve all seven of its calls (first touching fresh pages on every call
 * cost more than the additions); those up to keep_bytes() (1/16 of physical memory) are
 * kept for the thread's next product, as the packing buffers are, and larger ones freed
 * when the product ends.
 * The sums S1..S4 of A's blocks (and T1..T4 of B's) are formed in one pass each.
 * Returns 0, -1 without a micro-kernel, -2 without memory. */
#include "ladder.h"

/* The most a level's blocks may take and still be kept for the thread's next product: a
 * sixteenth of physical memory, at least 256 MiB (where the OS does not say). Kept, they
 * are first-touched once; freed, every call pays a page fault per 4 KiB of them again. */
static size_t keep_bytes(void)
{
    const size_t keep = (size_t)256 << 20, sixteenth = ladder_physical_bytes() / 16;
    return sixteenth > keep ? sixteenth : keep;
}

/* dst = a + sign * b, for rows x cols blocks with their own row strides. */
static void add(size_t rows, size_t cols, const real *a, size_t lda, const real *b, size_t ldb,
                real sign, real *dst, size_t ldd, int threads)
{
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows * cols > 65536)
    for (size_t i = 0; i < rows; i++) {
        const real *restrict pa = a + i * lda, *restrict pb = b + i * ldb;
        real *restrict pd = dst + i * ldd;
        for (size_t j = 0; j < cols; j++)
            pd[j] = pa[j] + sign * pb[j];
    }
}

static int product(size_t M, size_t N, size_t K, const real *A, size_t lda, const real *B,
                   size_t ldb, real *C, size_t ldc, int threads, int levels);

/* The even part: M, N, K even and > 0. */
static int winograd(size_t M, size_t N, size_t K, const real *A, size_t lda, const real *B,
                    size_t ldb, real *C, size_t ldc, int threads, int levels)
{
    const size_t m = M / 2, n = N / 2, k = K / 2;
    const real *A11 = A, *A12 = A + k, *A21 = A + m * lda, *A22 = A21 + k;
    const real *B11 = B, *B12 = B + n, *B21 = B + k * ldb, *B22 = B21 + n;
    real *C11 = C, *C12 = C + n, *C21 = C + m * ldc, *C22 = C21 + n;
    const size_t bytes = (4 * m * k + 4 * k * n + 2 * m * n) * sizeof(real);
    real *buf = ladder_scratch(1 + levels, bytes);
    if (!buf)
        return -2;
    real *S1 = buf, *S2 = S1 + m * k, *S3 = S2 + m * k, *S4 = S3 + m * k;
    real *T1 = S4 + m * k, *T2 = T1 + k * n, *T3 = T2 + k * n, *T4 = T3 + k * n;
    real *X = T4 + k * n, *Y = X + m * n;
    /* S1 = A21 + A22, S2 = S1 - A11, S3 = A11 - A21, S4 = A12 - S2: one pass over A */
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && m * k > 65536)
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < k; j++) {
            const real a11 = A11[i * lda + j], a12 = A12[i * lda + j], a21 = A21[i * lda + j],
                       a22 = A22[i * lda + j], s1 = a21 + a22, s2 = s1 - a11;
            S1[i * k + j] = s1, S2[i * k + j] = s2, S3[i * k + j] = a11 - a21;
            S4[i * k + j] = a12 - s2;
        }
    /* T1 = B12 - B11, T2 = B22 - T1, T3 = B22 - B12, T4 = T2 - B21: one pass over B */
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && k * n > 65536)
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < n; j++) {
            const real b11 = B11[i * ldb + j], b12 = B12[i * ldb + j], b21 = B21[i * ldb + j],
                       b22 = B22[i * ldb + j], t1 = b12 - b11, t2 = b22 - t1;
            T1[i * n + j] = t1, T2[i * n + j] = t2, T3[i * n + j] = b22 - b12;
            T4[i * n + j] = t2 - b21;
        }
    const int next = levels - 1;
    int status;
    /* P1 = A11 B11 -> X; C11 = P2 + P1, with P2 = A12 B21 */
    if ((status = product(m, n, k, A11, lda, B11, ldb, X, n, threads, next)) ||
        (status = product(m, n, k, A12, lda, B21, ldb, C11, ldc, threads, next)))
        goto done;
    add(m, n, C11, ldc, X, n, 1, C11, ldc, threads);
    /* U2 = P1 + P6 (X), U3 = U2 + P7 (Y) */
    if ((status = product(m, n, k, S2, k, T2, n, Y, n, threads, next)))
        goto done;
    add(m, n, X, n, Y, n, 1, X, n, threads);
    if ((status = product(m, n, k, S3, k, T3, n, Y, n, threads, next)))
        goto done;
    add(m, n, X, n, Y, n, 1, Y, n, threads);
    /* P5 = S1 T1 -> C22; C12 = U4 = U2 + P5; C22 = U7 = U3 + P5 */
    if ((status = product(m, n, k, S1, k, T1, n, C22, ldc, threads, next)))
        goto done;
    add(m, n, X, n, C22, ldc, 1, C12, ldc, threads);
    add(m, n, Y, n, C22, ldc, 1, C22, ldc, threads);
    /* C12 = U5 = U4 + P3, with P3 = S4 B22 */
    if ((status = product(m, n, k, S4, k, B22, ldb, X, n, threads, next)))
        goto done;
    add(m, n, C12, ldc, X, n, 1, C12, ldc, threads);
    /* C21 = U6 = U3 - P4, with P4 = A22 T4 */
    if ((status = product(m, n, k, A22, lda, T4, n, X, n, threads, next)))
        goto done;
    add(m, n, Y, n, X, n, -1, C21, ldc, threads);
done:
    return status;
}

static int product(size_t M, size_t N, size_t K, const real *A, size_t lda, const real *B,
                   size_t ldb, real *C, size_t ldc, int threads, int levels)
{
    if (levels <= 0 || M < 2 || N < 2 || K < 2)
        return MM(omp)(M, N, K, A, lda, B, ldb, C, ldc, threads);
    const size_t M2 = M / 2 * 2, N2 = N / 2 * 2, K2 = K / 2 * 2;
    int status = winograd(M2, N2, K2, A, lda, B, ldb, C, ldc, threads, levels);
    if (status)
        return status;
    if (K2 < K) /* the last depth slice: C[0:M2, 0:N2] += A[:, K-1] B[K-1, :] */
        for (size_t i = 0; i < M2; i++) {
            const real a = A[i * lda + K2], *restrict b = B + K2 * ldb;
            real *restrict c = C + i * ldc;
            for (size_t j = 0; j < N2; j++)
                c[j] += a * b[j];
        }
    if (N2 < N) /* the last column of C, all rows */
        status = MM(omp)(M, 1, K, A, lda, B + N2, ldb, C + N2, ldc, threads);
    if (!status && M2 < M) /* the last row of C, the even columns */
        status = MM(omp)(1, N2, K, A + M2 * lda, lda, B, ldb, C + M2 * ldc, ldc, threads);
    return status;
}

int MM(strassen)(size_t M, size_t N, size_t K, const real *A, size_t lda, const real *B,
                 size_t ldb, real *C, size_t ldc, int threads, int levels)
{
    if (levels < 0)
        levels = ladder_strassen_levels(sizeof(real), M, N, K);
    const int status = product(M, N, K, A, lda, B, ldb, C, ldc, threads, levels > 2 ? 2 : levels);
    const size_t keep = keep_bytes();
    ladder_scratch_trim(2, keep);
    ladder_scratch_trim(3, keep);
    return status;
}
