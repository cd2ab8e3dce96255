/* The parts of the BLIS loop nest that rungs 4 (4_simd.c) and 5 (5_omp.c) share: the plan
 * (micro-kernel and block sizes), packing, edge tiles and the macro-kernel (the two loops
 * around the micro-kernel). Static functions, included by both rung files, each of which
 * is compiled once per element type (see ladder.h). */
#ifndef MATMUL_LADDER_BLIS_LOOPS_H
#define MATMUL_LADDER_BLIS_LOOPS_H

#include <stdlib.h>
#include <string.h>
#include "ladder.h"

typedef void (*ukernel_fn)(size_t kc, const real *Ap, const real *Bp, real *C, size_t ldc,
                           int accumulate, const char *warm);

typedef void (*ukernel_rows_fn)(size_t kc, const real *A, size_t lda, const real *Bp, real *C,
                                size_t ldc, int accumulate, const char *warm);

typedef struct {
    ukernel_fn run;
    ukernel_fn run_half;  /* the top MR/2 rows only, for short edge tiles; or NULL */
    ukernel_rows_fn run_rows;  /* full tiles with A read in place, lda apart; or NULL */
    ladder_blocking bs;
    size_t block_elements;  /* MC x KC of the blocking before it is fitted to this product */
    int variants;  /* the loop variants of this call (LADDER_VARIANT_*), read once */
} gemm_plan;

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }
static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }

/* The block of `block` or less, a multiple of `multiple`, that cuts `total` into as few
 * passes as `block` does but of near-equal size: K = 1024 with KC = 936 makes two passes of
 * 512, not one of 936 and a short one of 88 that would pay a whole pass's overhead. */
static size_t balanced(size_t total, size_t block, size_t multiple)
{
    if (total <= block)
        return block;
    const size_t passes = (total + block - 1) / block;
    const size_t step = round_up((total + passes - 1) / passes, multiple);
    return min_size(step, block);
}

static int make_plan(gemm_plan *plan, int isa, size_t M, size_t N, size_t K, int threads)
{
    plan->run = plan->run_half = NULL;
    plan->run_rows = NULL;
    plan->variants = ladder_loop_variants();
#if defined(LADDER_X86)
    /* the prefetch variant changes the packed kernels only: the _rows ones, for products
     * of one small A, keep theirs */
    const int pf = plan->variants & LADDER_VARIANT_PREFETCH;
    if (isa == LADDER_ISA_AVX512) {
        plan->run = pf ? UKERNEL_AVX512_PF : UKERNEL_AVX512;
        plan->run_half = pf ? UKERNEL_AVX512_HALF_PF : UKERNEL_AVX512_HALF;
        plan->run_rows = UKERNEL_AVX512_ROWS;
    } else if (isa == LADDER_ISA_AVX2) {
        plan->run = pf ? UKERNEL_AVX2_PF : UKERNEL_AVX2;
        plan->run_rows = UKERNEL_AVX2_ROWS;
    }
#elif defined(LADDER_ARM64)
    if (isa == LADDER_ISA_NEON)
        plan->run = UKERNEL_NEON;
#endif
    if (!plan->run || !ladder_isa_compiled(isa))
        return -1;
    ladder_blocking *bs = &plan->bs;
    *bs = ladder_gemm_blocking(sizeof(real), isa);  /* the l2_kc variant acts in there */
    plan->block_elements = bs->mc * bs->kc;
    if (M <= bs->mc) /* one block of A: each B panel is read once, just after packing */
        bs->nc = ladder_one_block_nc(bs, sizeof(real), M);
    if (threads > 1 && !bs->overridden) /* each thread packs and reads 1/threads of a B panel */
        bs->nc = min_size(4096, bs->nc * (size_t)threads) / bs->nr * bs->nr;
    if (!bs->overridden) {
        bs->kc = balanced(K, bs->kc, 8);
        bs->mc = balanced(M, bs->mc, bs->mr);
        bs->nc = balanced(N, bs->nc, bs->nr);
    }
    return 0;
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
 * micro-panels, and each micro-panel receives B_ROWS * NR contiguous values. Dealing one
 * row at a time would write to addresses KC*NR*elem apart, all in one L1 set; copying one
 * micro-panel at a time would read B in short pieces of rows a page apart. */
#define B_ROWS 8
/* Rows k_from to k_to of that (B and Bp still the panel's start): the part of every
 * micro-panel that those rows fill. c_omp's pack_b_rows variant deals the rows out to its
 * threads, each of which so reads whole rows of B. */
static void pack_b_rows(size_t k_from, size_t k_to, size_t kc, size_t nc, size_t nr,
                        const real *B, size_t ldb, real *Bp)
{
    const size_t full = nc / nr * nr;
    for (size_t k0 = k_from; k0 < k_to; k0 += B_ROWS) {
        const size_t k1 = min_size(k_to, k0 + B_ROWS);
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

static void pack_b(size_t kc, size_t nc, size_t nr, const real *B, size_t ldb, real *Bp)
{
    pack_b_rows(0, kc, kc, nc, nr, B, ldb, Bp);
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

#if defined(__SSE2__) /* every x86-64 CPU: no target flags needed */
#include <emmintrin.h>
#define PACK_V (16 / sizeof(real)) /* elements per 128-bit register: 4 float, 2 double */
/* Ap[q * mr + r] = A[r * lda + q] for r, q < PACK_V: a PACK_V x PACK_V block of A, transposed
 * in registers, so that A's rows are read with whole vector loads. */
static inline void transpose_block(const real *A, size_t lda, real *Ap, size_t mr)
{
#ifdef LADDER_DOUBLE
    const __m128d r0 = _mm_loadu_pd(A), r1 = _mm_loadu_pd(A + lda);
    _mm_storeu_pd(Ap, _mm_unpacklo_pd(r0, r1));
    _mm_storeu_pd(Ap + mr, _mm_unpackhi_pd(r0, r1));
#else
    __m128 r0 = _mm_loadu_ps(A), r1 = _mm_loadu_ps(A + lda), r2 = _mm_loadu_ps(A + 2 * lda),
           r3 = _mm_loadu_ps(A + 3 * lda);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(Ap, r0);
    _mm_storeu_ps(Ap + mr, r1);
    _mm_storeu_ps(Ap + 2 * mr, r2);
    _mm_storeu_ps(Ap + 3 * mr, r3);
#endif
}

/* A full micro-panel (mr rows): PACK_V columns of k at a time, whole blocks transposed in
 * registers, the rows past the last whole block copied one by one. */
static inline void pack_a_full(size_t kc, size_t mr, const real *A, size_t lda, real *Ap)
{
    size_t k = 0;
    for (; k + PACK_V <= kc; k += PACK_V, Ap += PACK_V * mr) {
        size_t i = 0;
        for (; i + PACK_V <= mr; i += PACK_V)
            transpose_block(A + i * lda + k, lda, Ap + i, mr);
        for (; i < mr; i++)
            for (size_t q = 0; q < PACK_V; q++)
                Ap[q * mr + i] = A[i * lda + k + q];
    }
    pack_a_panel(mr, kc - k, mr, A + k, lda, Ap);
}
#else
static inline void pack_a_full(size_t kc, size_t mr, const real *A, size_t lda, real *Ap)
{
    pack_a_panel(mr, kc, mr, A, lda, Ap);
}
#endif

static void pack_a(size_t mc, size_t kc, size_t mr, const real *A, size_t lda, real *Ap)
{
    for (size_t i0 = 0; i0 < mc; i0 += mr, Ap += mr * kc, A += mr * lda) {
        const size_t h = min_size(mr, mc - i0);
        if (h == mr && mr == UK_AVX512_MR)  /* constant sizes, so gcc unrolls the rows */
            pack_a_full(kc, UK_AVX512_MR, A, lda, Ap);
        else if (h == mr && mr == UK_AVX2_MR)
            pack_a_full(kc, UK_AVX2_MR, A, lda, Ap);
        else if (h == mr && mr == UK_NEON_MR)
            pack_a_full(kc, UK_NEON_MR, A, lda, Ap);
        else
            pack_a_panel(h, kc, mr, A, lda, Ap);
    }
}

/* C[0:h, 0:w] (=|+=) the valid part of an edge tile computed into a buffer (row stride nr). */
static void store_edge(const real *edge, size_t nr, real *c, size_t ldc, size_t h, size_t w,
                       int accumulate)
{
    for (size_t i = 0; i < h; i++)
        for (size_t j = 0; j < w; j++)
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + edge[i * nr + j] : edge[i * nr + j];
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
    _Alignas(64) real edge[UK_MAX_TILE];
    run(kc, a, b, edge, nr, 0, warm);
    store_edge(edge, nr, c, ldc, h, w, accumulate);
}

/* compute_tile for a full-height tile (MR rows) whose rows of A are read where they lie,
 * lda apart, instead of from a packed micro-panel; p->run_rows is not NULL. */
static void compute_tile_rows(const gemm_plan *p, size_t kc, const real *a, size_t lda,
                              const real *b, real *c, size_t ldc, size_t w, int accumulate,
                              const char *warm)
{
    const size_t nr = p->bs.nr;
    if (w == nr) {
        p->run_rows(kc, a, lda, b, c, ldc, accumulate, warm);
        return;
    }
    _Alignas(64) real edge[UK_MAX_TILE];
    p->run_rows(kc, a, lda, b, edge, nr, 0, warm);
    store_edge(edge, nr, c, ldc, p->bs.mr, w, accumulate);
}

/* What the tile at (ir, jr) of the macro-kernel prefetches into L2 (see ladder.h): the
 * next B micro-panel (jr + NR), in NR * sizeof(real) / 16 slices (8 for AVX-512), one per
 * tile over the last tiles of column jr. The B panel is larger than L2, so without this the
 * first tile of each column would wait for its B micro-panel from L3. Prefetched over the
 * last tiles rather than the first, so that it is not evicted again before use. */
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
static inline void macro_kernel(const gemm_plan *p, size_t mc, size_t nc, size_t kc, const real *Ap,
                         const real *Bp, real *C, size_t ldc, int accumulate)
{
    const size_t mr = p->bs.mr, nr = p->bs.nr;
    for (size_t jr = 0; jr < nc; jr += nr)
        for (size_t ir = 0; ir < mc; ir += mr)
            compute_tile(p, kc, Ap + ir * kc, Bp + jr * kc, C + ir * ldc + jr, ldc,
                         min_size(mr, mc - ir), min_size(nr, nc - jr), accumulate,
                         warm_slice(Bp, mc, nc, kc, mr, nr, ir, jr));
}

/* Whether to read A where it lies rather than pack it: where all of A is no larger than one
 * packed block (MC x KC), packing it is a large share of a short product (about 60% of the
 * packing at n = 256), and its rows stay in L2 for every tile that reads them. Packing
 * still pays where A's rows are a multiple of 4 KiB apart: the MR rows read together would
 * then all fall into one set of the L1 cache and evict each other. */
static int a_in_place(const gemm_plan *p, size_t M, size_t K, size_t lda)
{
    return p->run_rows && M >= p->bs.mr && M * K <= p->block_elements &&
           lda * sizeof(real) % 4096 != 0;
}

/* macro_kernel with A's full micro-panels read in place (A: the block's first row, lda
 * apart) and its last rows, if fewer than MR, packed in Ap_tail. */
static inline void macro_kernel_a_in_place(const gemm_plan *p, size_t mc, size_t nc, size_t kc,
                                           const real *A, size_t lda, const real *Ap_tail,
                                           const real *Bp, real *C, size_t ldc, int accumulate)
{
    const size_t mr = p->bs.mr, nr = p->bs.nr, full = mc / mr * mr;
    for (size_t jr = 0; jr < nc; jr += nr) {
        const size_t w = min_size(nr, nc - jr);
        for (size_t ir = 0; ir < full; ir += mr)
            compute_tile_rows(p, kc, A + ir * lda, lda, Bp + jr * kc, C + ir * ldc + jr, ldc,
                              w, accumulate, warm_slice(Bp, mc, nc, kc, mr, nr, ir, jr));
        if (full < mc)
            compute_tile(p, kc, Ap_tail, Bp + jr * kc, C + full * ldc + jr, ldc, mc - full, w,
                         accumulate, warm_slice(Bp, mc, nc, kc, mr, nr, full, jr));
    }
}

/* Elements of one packed A block (MC x KC at most), rounded up to whole cache lines. */
static size_t a_block_elements(const ladder_blocking *bs, size_t M, size_t K)
{
    return round_up(round_up(min_size(bs->mc, M), bs->mr) * min_size(bs->kc, K),
                    64 / sizeof(real));
}

/* The packing buffers: `a_blocks` blocks of A and one KC x NC panel of B at most, whatever
 * the sizes; the calling thread's, reused from call to call (scratch.c), in huge pages under
 * the hugepages variant. */
static int get_packing(const gemm_plan *p, size_t M, size_t N, size_t K, size_t a_blocks,
                       real **Ap, real **Bp)
{
    const ladder_blocking *bs = &p->bs;
    const int slot = p->variants & LADDER_VARIANT_HUGEPAGES ? LADDER_SCRATCH_HUGE : 0;
    *Ap = ladder_scratch(slot, a_blocks * a_block_elements(bs, M, K) * sizeof(real));
    *Bp = ladder_scratch(slot + 1, min_size(bs->kc, K) * round_up(min_size(bs->nc, N), bs->nr) *
                                       sizeof(real));
    return *Ap && *Bp ? 0 : -1;
}

/* The products that need no packing: an empty C, K = 0 (C = 0) and a few rows of A
 * (few_rows.c). Returns 1 if it computed C, 0 if the product needs the blocked loop nest. */
static int done_without_packing(size_t M, size_t N, size_t K, const real *A, size_t lda,
                                const real *B, size_t ldb, real *C, size_t ldc, int threads)
{
    if (M == 0 || N == 0)
        return 1;
    if (K == 0)
        for (size_t i = 0; i < M; i++)
            memset(C + i * ldc, 0, N * sizeof(real));
    else if (M <= LADDER_FEW_ROWS)
        MM(few_rows)(M, N, K, A, lda, B, ldb, C, ldc, threads);
    else
        return 0;
    return 1;
}

#endif
