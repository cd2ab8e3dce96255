/* Rung 4 (c_simd): SIMD/FMA intrinsics in the BLIS loop structure, one thread.
 * Changed from rung 3: three things at once, because each needs the others to pay off.
 *   - Packing: a KC x NC panel of B and an MC x KC block of A are copied into contiguous
 *     micro-panels in exactly the order the micro-kernel reads them (NR or MR wide).
 *   - A register-blocked micro-kernel (ukernel_avx2.c / ukernel_avx512.c) keeps an MR x NR
 *     tile of C in vector registers for the whole KC loop: per k it loads NR values of B,
 *     broadcasts MR values of A and issues MR*NR/width FMAs, with no load or store of C.
 *   - Blocks sized from the caches (ladder_gemm_blocking in cpu.c): an A micro-panel fills
 *     L1, the A block takes part of L2, the B panel lives in L3; while one B micro-panel is
 *     in use, the micro-kernel prefetches the next into L2 (warm_slice).
 * Hypothesis: rung 3 does a load+store of C per FMA and uses 4-wide SSE without FMA; the
 *   register tile removes the C traffic, AVX2/AVX-512 FMA does 8-16 multiply-adds per
 *   instruction, and packing makes every load unit-stride and TLB-friendly.
 * Expect: 5-20x over rung 3, 60-100% of single-thread OpenBLAS.
 * The micro-kernel is chosen at run time (ladder_active_isa); edge tiles go through a
 * zero-padded MR x NR buffer here, so the micro-kernels only ever see full tiles. A few
 * rows of A (M <= 8) skip all of it: see rows_times_matrix. */

#include <stdlib.h>
#include <string.h>

typedef void (*ukernel_fn)(size_t kc, const real *Ap, const real *Bp, real *C, size_t ldc,
                           int accumulate, const char *warm);

typedef struct {
    ukernel_fn run;
    ukernel_fn run_half;  /* the top MR/2 rows only, for short edge tiles; or NULL */
    ladder_blocking bs;
} gemm_plan;

static int make_plan(gemm_plan *plan, int isa, size_t M, size_t N)
{
    plan->run_half = NULL;
    if (isa == LADDER_ISA_AVX512) {
        plan->run = UKERNEL_AVX512;
        plan->run_half = UKERNEL_AVX512_HALF;
    } else if (isa == LADDER_ISA_AVX2)
        plan->run = UKERNEL_AVX2;
    else
        return -1;
    plan->bs = ladder_gemm_blocking(sizeof(real), isa);
    if (M < plan->bs.mc || M * N * sizeof(real) <= plan->bs.c_small) {  /* see cpu.c */
        plan->bs.kc = plan->bs.kc_short;
        plan->bs.nc = plan->bs.nc_short;
    }
    return 0;
}

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }
static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

static real *alloc_panel(size_t elements)
{
    /* 64-byte aligned, and never 0 bytes */
    return aligned_alloc(64, round_up(elements * sizeof(real) + 1, 64));
}

/* dst[0:n] = src[0:n] for n = NR (8, 16 or 32 for the micro-kernels): a constant-size
 * memcpy becomes a few vector moves. */
static inline void copy_row(real *restrict dst, const real *restrict src, size_t n)
{
    switch (n) {
    case 8: memcpy(dst, src, 8 * sizeof(real)); break;
    case 16: memcpy(dst, src, 16 * sizeof(real)); break;
    case 32: memcpy(dst, src, 32 * sizeof(real)); break;
    default: memcpy(dst, src, n * sizeof(real));
    }
}

/* B[0:kc, 0:nc] -> NR-wide micro-panels, each kc rows of NR values; zero-padded past nc.
 * B_ROWS rows at a time: their stretch of B stays in L1 while it is dealt out to the
 * micro-panels, and each micro-panel receives B_ROWS * NR contiguous values. (Dealing one
 * row to all micro-panels wrote to addresses KC*NR*elem apart, all in one L1 set: B was
 * packed at 7.5 GB/s instead of 15; copying one micro-panel at a time read B by 128-byte
 * pieces of rows one page apart.) */
#define B_ROWS 8
static void pack_b(size_t kc, size_t nc, size_t nr, const real *B, size_t ldb, real *Bp)
{
    const size_t full = nc / nr * nr;
    for (size_t k0 = 0; k0 < kc; k0 += B_ROWS) {
        const size_t k1 = min_size(kc, k0 + B_ROWS);
        real *panel = Bp;
        for (size_t j0 = 0; j0 < full; j0 += nr, panel += kc * nr)
            for (size_t k = k0; k < k1; k++)
                copy_row(panel + k * nr, B + k * ldb + j0, nr);
        if (full < nc)
            for (size_t k = k0; k < k1; k++) {
                size_t j = 0;
                for (; j < nc - full; j++) panel[k * nr + j] = B[k * ldb + full + j];
                for (; j < nr; j++) panel[k * nr + j] = 0;
            }
    }
}

/* A[0:mc, 0:kc] -> MR-tall micro-panels, each kc columns of MR values; zero-padded past mc. */
static inline void pack_a_panel(size_t h, size_t kc, size_t mr, const real *A, size_t lda, real *Ap)
{
    for (size_t k = 0; k < kc; k++, Ap += mr) {
        size_t i = 0;
        for (; i < h; i++) Ap[i] = A[i * lda + k];
        for (; i < mr; i++) Ap[i] = 0;
    }
}

static void pack_a(size_t mc, size_t kc, size_t mr, const real *A, size_t lda, real *Ap)
{
    for (size_t i0 = 0; i0 < mc; i0 += mr, Ap += mr * kc, A += mr * lda) {
        const size_t h = min_size(mr, mc - i0);
        if (h == mr && mr == UK_AVX512_MR)  /* constant sizes, so gcc unrolls the rows */
            pack_a_panel(UK_AVX512_MR, kc, UK_AVX512_MR, A, lda, Ap);
        else if (h == mr && mr == UK_AVX2_MR)
            pack_a_panel(UK_AVX2_MR, kc, UK_AVX2_MR, A, lda, Ap);
        else
            pack_a_panel(h, kc, mr, A, lda, Ap);
    }
}

/* One MR x NR tile of C (=|+=) a packed A micro-panel @ a packed B micro-panel. Edge tiles
 * (h < MR or w < NR) are computed whole into a buffer and only their valid part copied out;
 * those of at most MR/2 rows by the half-height kernel, where there is one. */
static void compute_tile(const gemm_plan *p, size_t kc, const real *a, const real *b, real *c,
                         size_t ldc, size_t h, size_t w, int accumulate, const char *warm)
{
    const size_t nr = p->bs.nr;
    if (h == p->bs.mr && w == nr) {
        p->run(kc, a, b, c, ldc, accumulate, warm);
        return;
    }
    const ukernel_fn run = p->run_half && 2 * h <= p->bs.mr ? p->run_half : p->run;
    real edge[UK_MAX_TILE] __attribute__((aligned(64)));
    run(kc, a, b, edge, nr, 0, warm);
    for (size_t i = 0; i < h; i++)
        for (size_t j = 0; j < w; j++)
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + edge[i * nr + j] : edge[i * nr + j];
}

/* What the tile at (ir, jr) of the macro-kernel prefetches into L2 (see ladder.h): the
 * next B micro-panel (jr + NR), in NR * sizeof(real) / 16 slices (8 for AVX-512), one per
 * tile over the last tiles of column jr. The B panel is larger than L2, so without this the
 * first tile of each column read its B micro-panel from L3 and took 1.7x as long as the
 * rest (f32, n = 2048). Prefetched earlier, over the first tiles, it was evicted again. */
static const char *warm_slice(const real *Bp, size_t mc, size_t nc, size_t kc, size_t mr,
                              size_t nr, size_t ir, size_t jr)
{
    const size_t slice = UK_WARM_BYTES_PER_K * kc;
    const size_t slices = nr * sizeof(real) / UK_WARM_BYTES_PER_K, tiles = (mc + mr - 1) / mr;
    const size_t first = tiles > slices ? tiles - slices : 0, tile = ir / mr;
    if (jr + nr >= nc || tile < first)
        return NULL;
    return (const char *)(Bp + (jr + nr) * kc) + (tile - first) * slice;
}

/* C[0:mc, 0:nc] (=|+=) packed A block @ packed B panel: the two loops around the micro-kernel.
 * jr outside, ir inside: one B micro-panel stays in cache while all A micro-panels stream by. */
static void macro_kernel(const gemm_plan *p, size_t mc, size_t nc, size_t kc, const real *Ap,
                         const real *Bp, real *C, size_t ldc, int accumulate)
{
    const size_t mr = p->bs.mr, nr = p->bs.nr;
    for (size_t jr = 0; jr < nc; jr += nr)
        for (size_t ir = 0; ir < mc; ir += mr)
            compute_tile(p, kc, Ap + ir * kc, Bp + jr * kc, C + ir * ldc + jr, ldc,
                         min_size(mr, mc - ir), min_size(nr, nc - jr), accumulate,
                         warm_slice(Bp, mc, nc, kc, mr, nr, ir, jr));
}

/* Elements of one packed A block (MC x KC at most), rounded up to whole cache lines. */
static size_t a_block_elements(const ladder_blocking *bs, size_t M, size_t K)
{
    return round_up(round_up(min_size(bs->mc, M), bs->mr) * min_size(bs->kc, K),
                    64 / sizeof(real));
}

/* The packing buffers: `a_blocks` blocks of A and one KC x NC panel of B at most, whatever
 * the sizes. */
static int alloc_packing(const ladder_blocking *bs, size_t M, size_t N, size_t K,
                         size_t a_blocks, real **Ap, real **Bp)
{
    *Ap = alloc_panel(a_blocks * a_block_elements(bs, M, K));
    *Bp = alloc_panel(min_size(bs->kc, K) * round_up(min_size(bs->nc, N), bs->nr));
    if (*Ap && *Bp)
        return 0;
    free(*Ap);
    free(*Bp);
    return -1;
}

static void zero_matrix(size_t M, size_t N, real *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++)
        memset(C + i * ldc, 0, N * sizeof(real));
}

/* A few rows of A (M <= FEW_ROWS; one row is a GEMV): packing B and a 12-row register tile
 * would waste far more than they save (as BLAS libraries do, and NumPy, this case gets its
 * own loop). B is streamed once, four rows at a time, scaled into a chunk of C's rows held
 * in a local buffer that stays in L1 (one load and store of it per four rows of B; up to
 * four rows of C share each load of B: add_rows), and copied out at the end. The chunks are
 * shared among `threads` if > 1; as each thread sums into its own buffer, no two threads
 * write to one cache line of C until the copy (a row of C that does not start on a cache
 * line, written in place, made 2 threads 3x slower than 1 for 4 x 25600 x 100).
 * Compiled for AVX2 + FMA, which c_simd/c_omp require anyway (AVX-512 CPUs have them too),
 * so that gcc vectorises the j loop 4-8 wide with FMAs. In-process races: against the
 * baseline (SSE2) build, 1.3-1.7x for M = 2-4 and 1.1-1.25x for one row (an AVX-512 build
 * added nothing); rows in fours rather than one by one, a further 1.1-1.3x at M = 4-8.
 * FEW_ROWS = 8: at M = 5-8 this loop beat the packed path (half-height tiles included)
 * 1.0-1.7x, but for float32 at M x 4096 x 4096 (0.96-1.0x); at M = 12-16 in float64 it
 * lost 11-13% at M x 4096 x 4096. */
#define FEW_ROWS 8
#define ROW_CHUNK 4096
#pragma GCC push_options
#pragma GCC target("avx2,fma")
/* sums[r][0:w] += A[r][k:k+4] @ B[k:k+4][j0:j0+w] for the rows r < `rows` (4, 2 or 1, a
 * constant in each call below, so the r loops unroll): the rows share each load of B. */
static inline __attribute__((always_inline)) void
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

static void rows_times_matrix(size_t M, size_t N, size_t K, const real *A, size_t lda,
                              const real *B, size_t ldb, real *C, size_t ldc, int threads)
{
    /* whole cache lines per chunk, and one chunk per thread where C is narrow */
    const size_t per_thread = round_up((N + threads - 1) / threads, 64 / sizeof(real));
    const size_t chunk = min_size(ROW_CHUNK / M, per_thread);
    #pragma omp parallel for if (threads > 1) num_threads(threads) schedule(static)
    for (size_t j0 = 0; j0 < N; j0 += chunk) {
        const size_t w = min_size(chunk, N - j0);
        real sums[ROW_CHUNK] __attribute__((aligned(64)));
        memset(sums, 0, M * w * sizeof(real));
        size_t k = 0;
        for (; k + 4 <= K; k += 4) {
            const real *b0 = B + k * ldb + j0, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
            size_t i = 0;
            for (; i + 4 <= M; i += 4)
                add_rows(4, A + i * lda + k, lda, b0, b1, b2, b3, sums + i * w, w);
            for (; i + 2 <= M; i += 2)
                add_rows(2, A + i * lda + k, lda, b0, b1, b2, b3, sums + i * w, w);
            for (; i < M; i++)
                add_rows(1, A + i * lda + k, lda, b0, b1, b2, b3, sums + i * w, w);
        }
        for (; k < K; k++)
            for (size_t i = 0; i < M; i++) {
                const real a = A[i * lda + k], *restrict b = B + k * ldb + j0;
                real *restrict c = sums + i * w;
                for (size_t j = 0; j < w; j++)
                    c[j] += a * b[j];
            }
        for (size_t i = 0; i < M; i++)
            memcpy(C + i * ldc + j0, sums + i * w, w * sizeof(real));
    }
}
#pragma GCC pop_options

/* The products that need no packing: an empty C, K = 0 (C = 0) and a few rows of A.
 * Returns 1 if it computed C, 0 if the product needs the blocked loop nest. */
static int done_without_packing(size_t M, size_t N, size_t K, const real *A, size_t lda,
                                const real *B, size_t ldb, real *C, size_t ldc, int threads)
{
    if (M == 0 || N == 0)
        return 1;
    if (K == 0)
        zero_matrix(M, N, C, ldc);
    else if (M <= FEW_ROWS)
        rows_times_matrix(M, N, K, A, lda, B, ldb, C, ldc, threads);
    else
        return 0;
    return 1;
}

/* Returns 0, -1 if the ISA is not usable, -2 if the packing buffers could not be allocated. */
int MM(simd)(size_t M, size_t N, size_t K, const real *A, size_t lda, const real *B,
             size_t ldb, real *C, size_t ldc)
{
    gemm_plan p;
    if (make_plan(&p, ladder_active_isa(), M, N) != 0)
        return -1;
    if (done_without_packing(M, N, K, A, lda, B, ldb, C, ldc, 1))
        return 0;
    const ladder_blocking bs = p.bs;
    real *Ap, *Bp;
    if (alloc_packing(&bs, M, N, K, 1, &Ap, &Bp) != 0)
        return -2;
    for (size_t jc = 0; jc < N; jc += bs.nc) {              /* B panel -> L2/L3 */
        const size_t nc = min_size(bs.nc, N - jc);
        for (size_t pc = 0; pc < K; pc += bs.kc) {          /* depth block; first one stores */
            const size_t kc = min_size(bs.kc, K - pc);
            pack_b(kc, nc, bs.nr, B + pc * ldb + jc, ldb, Bp);
            for (size_t ic = 0; ic < M; ic += bs.mc) {      /* A block -> L2 */
                const size_t mc = min_size(bs.mc, M - ic);
                pack_a(mc, kc, bs.mr, A + ic * lda + pc, lda, Ap);
                macro_kernel(&p, mc, nc, kc, Ap, Bp, C + ic * ldc + jc, ldc, pc > 0);
            }
        }
    }
    free(Ap);
    free(Bp);
    return 0;
}
