/* Rung 4 (c_simd): SIMD/FMA intrinsics in the BLIS loop structure, one thread.
 * Changed from rung 3: three things at once, because each needs the others to pay off.
 *   - Packing: a KC x NC panel of B and an MC x KC block of A are copied into contiguous
 *     micro-panels in exactly the order the micro-kernel reads them (NR or MR wide).
 *   - A register-blocked micro-kernel (ukernel_avx2.c / ukernel_avx512.c) keeps an MR x NR
 *     tile of C in vector registers for the whole KC loop: per k it loads NR values of B,
 *     broadcasts MR values of A and issues MR*NR/width FMAs, with no load or store of C.
 *   - Blocks sized from the caches (ladder_gemm_blocking in blocking.c): a B micro-panel
 *     stays in L1, the A block in L2, the B panel in L3; while one B micro-panel is in use,
 *     the micro-kernel prefetches the next into L2 (warm_slice).
 * Hypothesis: rung 3 does a load+store of C per FMA and uses 4-wide SSE without FMA; the
 *   register tile removes the C traffic, AVX2/AVX-512 FMA does 8-16 multiply-adds per
 *   instruction, and packing makes every load unit-stride and TLB-friendly.
 * Expect: 5-20x over rung 3, 60-100% of single-thread OpenBLAS.
 * The micro-kernel is chosen at run time (ladder_active_isa); edge tiles go through a
 * zero-padded MR x NR buffer (blis_loops.h), so the micro-kernels only ever see full tiles.
 * A few rows of A (M <= 8) skip all of it: see few_rows.c. A small A (no larger than one
 * packed block) is not packed: the micro-kernel reads its rows where they lie
 * (a_in_place in blis_loops.h), as packing it would cost about as much as it saves. */

#include "blis_loops.h"

/* Returns 0, -1 if the ISA is not usable, -2 if the packing buffers could not be allocated. */
int MM(simd)(size_t M, size_t N, size_t K, const real *A, size_t lda, const real *B,
             size_t ldb, real *C, size_t ldc)
{
    gemm_plan p;
    if (make_plan(&p, ladder_active_isa(), M, N, K, 1) != 0)
        return -1;
    if (done_without_packing(M, N, K, A, lda, B, ldb, C, ldc, 1))
        return 0;
    const ladder_blocking bs = p.bs;
    real *Ap, *Bp;
    if (get_packing(&p, M, N, K, 1, &Ap, &Bp) != 0)
        return -2;
    const int in_place = a_in_place(&p, M, K, lda);
    for (size_t jc = 0; jc < N; jc += bs.nc) {              /* B panel -> L2/L3 */
        const size_t nc = min_size(bs.nc, N - jc);
        for (size_t pc = 0; pc < K; pc += bs.kc) {          /* depth block; first one stores */
            const size_t kc = min_size(bs.kc, K - pc);
            pack_b(kc, nc, bs.nr, B + pc * ldb + jc, ldb, Bp);
            for (size_t ic = 0; ic < M; ic += bs.mc) {      /* A block -> L2 */
                const size_t mc = min_size(bs.mc, M - ic);
                if (in_place) {  /* only the last rows, if fewer than MR, are packed */
                    const size_t full = mc / bs.mr * bs.mr;
                    pack_a(mc - full, kc, bs.mr, A + (ic + full) * lda + pc, lda, Ap);
                    macro_kernel_a_in_place(&p, mc, nc, kc, A + ic * lda + pc, lda, Ap, Bp,
                                            C + ic * ldc + jc, ldc, pc > 0);
                    continue;
                }
                pack_a(mc, kc, bs.mr, A + ic * lda + pc, lda, Ap);
                macro_kernel(&p, mc, nc, kc, Ap, Bp, C + ic * ldc + jc, ldc, pc > 0);
            }
        }
    }
    return 0;
}
