/* Rung 5 (c_omp): rung 4 on several cores with OpenMP.
 * Changed from rung 4: the loop nest, packing and micro-kernel are the same; inside one
 *   parallel region the threads pack B's panel (a run of micro-panels each) and A's block
 *   (split by micro-panel), then share out the MR x NR tiles of the macro-kernel (jr and ir
 *   loops collapsed). Every tile writes its own part of C, so no locks. A is packed into
 *   two buffers in turn, so a thread that finishes its tiles goes on to pack the next block
 *   while others still read this one: one barrier per A block instead of three. The
 *   buffers are shared; the B panel widens with the thread count (each thread works on its
 *   share of it), up to 4096 columns.
 * Hypothesis: the micro-kernel is compute-bound, so cores add FLOP/s until the packed B
 *   panel's re-reads or memory bandwidth run short.
 * Expect: close to `threads`x rung 4 on large n (>= 1.6x on 2 cores at n = 2048); less on
 *   small n, where the barriers and packing are a larger share.
 * A few rows of A (M <= 8) take rung 4's unpacked loop (few_rows.c), its chunks shared out;
 * a small A is read in place, as in rung 4 (a_in_place in blis_loops.h).
 * The loop variant pack_b_rows (ladder.h) deals B's panel out by runs of rows of k instead.
 * threads: the caller passes >= 1. Built without OpenMP the pragmas are ignored and this
 * runs serially (ml.kernels() then lists c_omp unavailable). */

#include "blis_loops.h"

int MM(omp)(size_t M, size_t N, size_t K, const real *A, size_t lda, const real *B,
            size_t ldb, real *C, size_t ldc, int threads)
{
    gemm_plan p;
    if (make_plan(&p, ladder_active_isa(), M, N, K, threads) != 0)
        return -1;
    if (done_without_packing(M, N, K, A, lda, B, ldb, C, ldc, threads))
        return 0;
    const ladder_blocking bs = p.bs;
    const size_t mr = bs.mr, nr = bs.nr;
    real *Ap, *Bp;
    if (get_packing(&p, M, N, K, 2, &Ap, &Bp) != 0)
        return -2;
    real *const A_blocks[2] = {Ap, Ap + a_block_elements(&bs, M, K)};
    const int in_place = a_in_place(&p, M, K, lda);  /* A's full micro-panels not packed */
    const int b_by_rows = p.variants & LADDER_VARIANT_PACK_B_ROWS;

    #pragma omp parallel num_threads(threads)
    for (size_t jc = 0; jc < N; jc += bs.nc) {
        const size_t nc = min_size(bs.nc, N - jc);
        /* each thread packs one run of whole micro-panels of B (see pack_b) */
        const size_t b_share = round_up((nc + threads - 1) / threads, nr);
        for (size_t pc = 0; pc < K; pc += bs.kc) {
            const size_t kc = min_size(bs.kc, K - pc);
            #pragma omp barrier  /* every tile that reads B's panel is done: refill it */
            if (b_by_rows) {  /* the variant: runs of B_ROWS rows of every micro-panel */
                #pragma omp for schedule(static) nowait
                for (size_t k0 = 0; k0 < kc; k0 += B_ROWS)
                    pack_b_rows(k0, min_size(kc, k0 + B_ROWS), kc, nc, nr, B + pc * ldb + jc,
                                ldb, Bp);
            } else {
                #pragma omp for schedule(static) nowait
                for (size_t j0 = 0; j0 < nc; j0 += b_share)
                    pack_b(kc, min_size(b_share, nc - j0), nr, B + pc * ldb + jc + j0, ldb,
                           Bp + j0 * kc);
            }
            for (size_t ic = 0, block = 0; ic < M; ic += bs.mc, block++) {
                const size_t mc = min_size(bs.mc, M - ic);
                real *const Ablock = A_blocks[block % 2];
                const size_t packed_from = in_place ? mc / mr * mr : 0;
                #pragma omp for schedule(static) nowait
                for (size_t ir = packed_from; ir < mc; ir += mr)
                    pack_a(min_size(mr, mc - ir), kc, mr, A + (ic + ir) * lda + pc, lda,
                           Ablock + ir * kc);
                /* This block of A (and B's panel) is packed, and every tile of the block
                 * before it is done, so the next block may refill that one's buffer. */
                #pragma omp barrier
                #pragma omp for collapse(2) schedule(static) nowait
                for (size_t jr = 0; jr < nc; jr += nr)
                    for (size_t ir = 0; ir < mc; ir += mr) {
                        real *const c = C + (ic + ir) * ldc + jc + jr;
                        const char *warm = warm_slice(Bp, mc, nc, kc, mr, nr, ir, jr);
                        if (ir < packed_from)
                            compute_tile_rows(&p, kc, A + (ic + ir) * lda + pc, lda,
                                              Bp + jr * kc, c, ldc, min_size(nr, nc - jr),
                                              pc > 0, warm);
                        else
                            compute_tile(&p, kc, Ablock + ir * kc, Bp + jr * kc, c, ldc,
                                         min_size(mr, mc - ir), min_size(nr, nc - jr), pc > 0,
                                         warm);
                    }
            }
        }
    }
    return 0;
}
