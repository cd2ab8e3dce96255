/* Rung 6 (c_strassen): fewer multiplications. Strassen's algorithm inside rung 5's loop nest.
 * Changed from rung 5: C is cut into 2 x 2 blocks, and its four blocks come from 7 block
 *   products instead of 8 (Strassen, 1969). Each product multiplies a sum of A's blocks by a
 *   sum of B's blocks, and its result is added to one or two of C's blocks:
 *     M1 = (A11 + A22)(B11 + B22)   C11 += M1, C22 += M1
 *     M2 = (A21 + A22) B11          C21 += M2, C22 -= M2
 *     M3 = A11 (B12 - B22)          C12 += M3, C22 += M3
 *     M4 = A22 (B21 - B11)          C11 += M4, C21 += M4
 *     M5 = (A11 + A12) B22          C11 -= M5, C12 += M5
 *     M6 = (A21 - A11)(B11 + B12)   C22 += M6
 *     M7 = (A12 - A22)(B21 + B22)   C11 += M7
 *   The sums are formed while packing (A's into the packed A block, B's into the packed B
 *   panel) and each micro-kernel tile is added to its C blocks as it leaves the registers,
 *   so there are no temporaries and no passes over memory beyond rung 5's own ("ABC
 *   Strassen": Huang, Smith, Henry and van de Geijn, "Strassen's Algorithm Reloaded", SC16).
 *   Two levels apply the table to itself: 49 products, each of up to 4 blocks of A and of B,
 *   into up to 4 blocks of C.
 * Hypothesis: rung 5 runs near the FMA peak, so arithmetic is the limit; doing 7/8 of it
 *   (49/64 at two levels) saves up to 12.5% (23%) of the time, less what the packing pays to
 *   read 2-4 blocks instead of one and the tiles to update 2-4 blocks of C.
 * Expect: slower than rung 5 below a cutoff of a thousand or two, 1.05-1.2x above it; error
 *   about 3x rung 5's per level (Higham, "Accuracy and Stability of Numerical Algorithms",
 *   ch. 23).
 *
 * levels: 0 is rung 5 itself; < 0 chooses by the cutoff (ladder_strassen_levels).
 * The part of each dimension divisible by 2^levels goes through Strassen; the rows, columns
 * and depth left over (fewer than 2^levels) through rung 5 or a loop.
 * Extra memory: none; the packing buffers are rung 5's.
 * Returns 0, -1 without a micro-kernel, -2 without memory. */
#include "blis_loops.h"

/* A sum of blocks of one matrix, sign[t] * at[t] for t < count; all with the matrix's row
 * stride. */
#define MAX_TERMS 4
typedef struct {
    size_t count;
    const real *at[MAX_TERMS];
    real sign[MAX_TERMS];
} block_sum;

/* Strassen's table: for product r, the sign of each quadrant (11, 12, 21, 22) in its sum of
 * A's blocks, of B's blocks, and in the C blocks that receive it. */
static const signed char TABLE_A[7][4] = {
    {1, 0, 0, 1}, {0, 0, 1, 1}, {1, 0, 0, 0}, {0, 0, 0, 1}, {1, 1, 0, 0}, {-1, 0, 1, 0}, {0, 1, 0, -1}};
static const signed char TABLE_B[7][4] = {
    {1, 0, 0, 1}, {1, 0, 0, 0}, {0, 1, 0, -1}, {-1, 0, 1, 0}, {0, 0, 0, 1}, {1, 1, 0, 0}, {0, 0, 1, 1}};
static const signed char TABLE_C[7][4] = {
    {1, 0, 0, 1}, {0, 0, 1, -1}, {0, 1, 0, 1}, {1, 0, 1, 0}, {-1, 1, 0, 0}, {0, 0, 0, 1}, {1, 0, 0, 0}};

/* The blocks of an M x N matrix (row stride ld) that product digit[0..levels) takes: level l
 * picks quadrants of the quadrant chosen at level l - 1. */
static block_sum terms(const signed char table[7][4], const int *digit, int levels,
                       const real *X, size_t M, size_t N, size_t ld)
{
    block_sum s = {1, {X}, {1}};
    for (int l = 0; l < levels; l++) {
        M /= 2, N /= 2;
        block_sum next = {0, {0}, {0}};
        for (size_t t = 0; t < s.count; t++)
            for (int q = 0; q < 4; q++)
                if (table[digit[l]][q]) {
                    next.at[next.count] = s.at[t] + (q / 2) * M * ld + (q % 2) * N;
                    next.sign[next.count++] = s.sign[t] * table[digit[l]][q];
                }
        s = next;
    }
    return s;
}

/* dst[0:n] = the sum's row at `offset` (its elements offset .. offset + n). */
static inline void sum_row(real *restrict dst, const block_sum *s, size_t offset, size_t n)
{
    const real *restrict x = s->at[0] + offset;
    const real sign = s->sign[0];
    for (size_t j = 0; j < n; j++)
        dst[j] = sign * x[j];
    for (size_t t = 1; t < s->count; t++) {
        const real *restrict y = s->at[t] + offset;
        const real sign_t = s->sign[t];
        for (size_t j = 0; j < n; j++)
            dst[j] += sign_t * y[j];
    }
}

/* pack_b of the sum's rows [0, kc) and columns [0, nc) from `offset` (row stride ld). */
static void pack_b_sum(size_t kc, size_t nc, size_t nr, const block_sum *B, size_t offset,
                       size_t ld, real *Bp)
{
    if (B->count == 1 && B->sign[0] == 1) {
        pack_b(kc, nc, nr, B->at[0] + offset, ld, Bp);
        return;
    }
    const size_t full = nc / nr * nr;
    for (size_t k0 = 0; k0 < kc; k0 += B_ROWS) {
        const size_t k1 = min_size(kc, k0 + B_ROWS);
        real *panel = Bp;
        for (size_t j0 = 0; j0 < full; j0 += nr, panel += kc * nr)
            for (size_t k = k0; k < k1; k++)
                sum_row(panel + k * nr, B, offset + k * ld + j0, nr);
        if (full < nc)
            for (size_t k = k0; k < k1; k++) {
                sum_row(panel + k * nr, B, offset + k * ld + full, nc - full);
                memset(panel + k * nr + (nc - full), 0, (nr - (nc - full)) * sizeof(real));
            }
    }
}

/* One micro-panel (h <= MR rows, kc columns) of the sum of A's blocks from `offset`: the rows'
 * sums, SUM_COLUMNS columns at a time, into a small buffer that pack_a then transposes. */
#define SUM_COLUMNS 64
static void pack_a_sum(size_t h, size_t kc, size_t mr, const block_sum *A, size_t offset,
                       size_t ld, real *Ap)
{
    if (A->count == 1 && A->sign[0] == 1) {
        pack_a(h, kc, mr, A->at[0] + offset, ld, Ap);
        return;
    }
    real rows[UK_AVX512_MR * SUM_COLUMNS] __attribute__((aligned(64)));
    for (size_t k0 = 0; k0 < kc; k0 += SUM_COLUMNS) {
        const size_t width = min_size(SUM_COLUMNS, kc - k0);
        for (size_t i = 0; i < h; i++)
            sum_row(rows + i * SUM_COLUMNS, A, offset + i * ld + k0, width);
        pack_a(h, width, mr, rows, SUM_COLUMNS, Ap + k0 * mr);
    }
}

/* c[0:w] += sign * t[0:w]; a constant w (NR, for whole tiles) becomes a few vector FMAs. */
static inline void add_row(real *restrict c, const real *restrict t, size_t w, real sign)
{
    switch (w) {
    case 8: for (size_t j = 0; j < 8; j++) c[j] += sign * t[j]; break;
    case 16: for (size_t j = 0; j < 16; j++) c[j] += sign * t[j]; break;
    case 32: for (size_t j = 0; j < 32; j++) c[j] += sign * t[j]; break;
    default: for (size_t j = 0; j < w; j++) c[j] += sign * t[j];
    }
}

/* One MR x NR tile of the product, added to each of C's blocks with its sign. */
static void add_tile(const gemm_plan *p, size_t kc, const real *a, const real *b,
                     const block_sum *C, size_t offset, size_t ldc, size_t h, size_t w,
                     const char *warm)
{
    if (C->count == 1 && C->sign[0] == 1) {
        compute_tile(p, kc, a, b, (real *)C->at[0] + offset, ldc, h, w, 1, warm);
        return;
    }
    const size_t nr = p->bs.nr;
    const ukernel_fn run = p->run_half && 2 * h <= p->bs.mr ? p->run_half : p->run;
    for (size_t t = 0; t < C->count; t++) /* the C rows arrive while the tile is computed */
        for (size_t i = 0; i < h; i++) {
            const real *row = C->at[t] + offset + i * ldc;
            __builtin_prefetch(row, 1, 2);
            __builtin_prefetch(row + w - 1, 1, 2);
        }
    real tile[UK_MAX_TILE] __attribute__((aligned(64)));
    run(kc, a, b, tile, nr, 0, warm);
    for (size_t t = 0; t < C->count; t++) {
        real *c = (real *)C->at[t] + offset;
        for (size_t i = 0; i < h; i++)
            add_row(c + i * ldc, tile + i * nr, w, C->sign[t]);
    }
}

/* C's blocks += (sum of A's blocks) (sum of B's blocks), each block M x K, K x N, M x N: rung
 * 5's loop nest and parallel scheme, with the sums packed and the tiles added. */
static void product(const gemm_plan *p, size_t M, size_t N, size_t K, const block_sum *A,
                    size_t lda, const block_sum *B, size_t ldb, const block_sum *C, size_t ldc,
                    real *const A_blocks[2], real *Bp, int threads)
{
    const ladder_blocking bs = p->bs;
    const size_t mr = bs.mr, nr = bs.nr;
    #pragma omp parallel num_threads(threads)
    for (size_t jc = 0; jc < N; jc += bs.nc) {
        const size_t nc = min_size(bs.nc, N - jc);
        const size_t b_share = round_up((nc + threads - 1) / threads, nr);
        for (size_t pc = 0; pc < K; pc += bs.kc) {
            const size_t kc = min_size(bs.kc, K - pc);
            #pragma omp barrier
            #pragma omp for schedule(static) nowait
            for (size_t j0 = 0; j0 < nc; j0 += b_share)
                pack_b_sum(kc, min_size(b_share, nc - j0), nr, B, pc * ldb + jc + j0, ldb,
                           Bp + j0 * kc);
            for (size_t ic = 0, block = 0; ic < M; ic += bs.mc, block++) {
                const size_t mc = min_size(bs.mc, M - ic);
                real *const Ablock = A_blocks[block % 2];
                #pragma omp for schedule(static) nowait
                for (size_t ir = 0; ir < mc; ir += mr)
                    pack_a_sum(min_size(mr, mc - ir), kc, mr, A, (ic + ir) * lda + pc, lda,
                               Ablock + ir * kc);
                #pragma omp barrier
                #pragma omp for collapse(2) schedule(static) nowait
                for (size_t jr = 0; jr < nc; jr += nr)
                    for (size_t ir = 0; ir < mc; ir += mr)
                        add_tile(p, kc, Ablock + ir * kc, Bp + jr * kc, C, (ic + ir) * ldc + jc + jr,
                                 ldc, min_size(mr, mc - ir), min_size(nr, nc - jr),
                                 warm_slice(Bp, mc, nc, kc, mr, nr, ir, jr));
            }
        }
    }
}

/* The part divisible by 2^levels: M, N, K multiples of it, all > 0. */
static int strassen(size_t M, size_t N, size_t K, const real *A, size_t lda, const real *B,
                    size_t ldb, real *C, size_t ldc, int threads, int levels)
{
    const size_t m = M >> levels, n = N >> levels, k = K >> levels;
    gemm_plan p;
    if (make_plan(&p, ladder_active_isa(), m, n, k, threads) != 0)
        return -1;
    real *Ap, *Bp;
    if (get_packing(&p.bs, m, n, k, 2, &Ap, &Bp) != 0)
        return -2;
    real *const A_blocks[2] = {Ap, Ap + a_block_elements(&p.bs, m, k)};
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < M; i++) /* every product adds to C */
        memset(C + i * ldc, 0, N * sizeof(real));
    const int products = levels == 2 ? 49 : 7;
    for (int r = 0; r < products; r++) {
        const int digit[2] = {levels == 2 ? r / 7 : r, r % 7};
        const block_sum a = terms(TABLE_A, digit, levels, A, M, K, lda);
        const block_sum b = terms(TABLE_B, digit, levels, B, K, N, ldb);
        const block_sum c = terms(TABLE_C, digit, levels, C, M, N, ldc);
        product(&p, m, n, k, &a, lda, &b, ldb, &c, ldc, A_blocks, Bp, threads);
    }
    return 0;
}

int MM(strassen)(size_t M, size_t N, size_t K, const real *A, size_t lda, const real *B,
                 size_t ldb, real *C, size_t ldc, int threads, int levels)
{
    if (levels < 0)
        levels = ladder_strassen_levels(sizeof(real), M, N, K);
    if (levels > 2)
        levels = 2;
    while (levels > 0 && (M >> levels == 0 || N >> levels == 0 || K >> levels == 0))
        levels--;
    if (levels == 0)
        return MM(omp)(M, N, K, A, lda, B, ldb, C, ldc, threads);
    const size_t unit = (size_t)1 << levels;
    const size_t M2 = M / unit * unit, N2 = N / unit * unit, K2 = K / unit * unit;
    int status = strassen(M2, N2, K2, A, lda, B, ldb, C, ldc, threads, levels);
    if (status)
        return status;
    if (K2 < K) { /* the last depth slices: C[0:M2, 0:N2] += A[:, K2:K] B[K2:K, :] */
        #pragma omp parallel for num_threads(threads) schedule(static)
        for (size_t i = 0; i < M2; i++)
            for (size_t d = K2; d < K; d++) {
                const real a = A[i * lda + d], *restrict b = B + d * ldb;
                real *restrict c = C + i * ldc;
                for (size_t j = 0; j < N2; j++)
                    c[j] += a * b[j];
            }
    }
    if (N2 < N) /* the last columns of C, all rows */
        status = MM(omp)(M, N - N2, K, A, lda, B + N2, ldb, C + N2, ldc, threads);
    if (!status && M2 < M) /* the last rows of C, the other columns */
        status = MM(omp)(M - M2, N2, K, A + M2 * lda, lda, B, ldb, C + M2 * ldc, ldc, threads);
    return status;
}
