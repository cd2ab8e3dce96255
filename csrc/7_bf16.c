/* Rung 7 (c_bf16): the CPU's matrix units, on bf16 inputs summed in float32.
 * Changed from rung 5 (c_omp; rung 6 is Strassen's detour): the loop nest and the threads
 *   are rung 5's, but the numbers and the unit are not.
 *   - Packing rounds each float32 of A and B to bf16 (round to nearest, ties to even; NaN
 *     kept a NaN) and lays them out as the instructions read them: A's micro-panel in blocks
 *     of 32 k values, MR rows of 64 bytes each (an AMX A tile is 16 such rows); B's in k
 *     pairs, the two rows of a pair interleaved column by column (the VNNI layout: an AMX
 *     B tile is 16 pairs x 16 columns). K is padded to a multiple of 32 with zeros.
 *   - The micro-kernel (ukernel_bf16.c) runs on a matrix unit, chosen at run time
 *     (bf16_units.c): AMX's TDPBF16PS (Sapphire Rapids and newer: a 32 x 32 tile of C in four
 *     tile registers, 16384 FLOP an instruction) or AVX512-BF16's VDPBF16PS (Zen 4, Cooper
 *     Lake, Sapphire Rapids: a 12 x 32 tile in 24 zmm registers, a dot product of bf16
 *     pairs per lane). AMX needs the kernel's permission, asked once per process.
 *   - The answer is float32, summed in float32 but from inputs of 8 significant bits: its
 *     error is bf16's (about 2^-9 relative per product), not float32's (ml.bench.check
 *     judges it with the "bf16" precision, as the GPU's cuda_bf16_wgmma).
 * Hypothesis: a matrix unit does many more multiply-adds per instruction than the FMA
 *   units: VDPBF16PS twice the float32 FMA's, TDPBF16PS 16x AVX-512's float32 FMA rate
 *   (1024 bf16 FLOP a cycle a core). The loops that fed the FMAs can feed them too, if the
 *   packed panels halve in bytes and stay in the caches.
 * Expect: AVX512-BF16 about 1.8-2x c_simd (float32) on 1 thread; AMX several times c_omp,
 *   at least 50% of the AMX peak (bf16_peak.c) on 1 thread at n = 4096, and as fast as
 *   torch.matmul in bfloat16 (oneDNN), with a normwise error near torch bf16's.
 * Float32 only: built for float64 (-DLADDER_DOUBLE) it returns -3 at once, and the binding
 * raises TypeError (the kernel lists dtypes ("float32",), so ml.matmul refuses float64
 * first). Status: 0; -2 if memory ran out; -4 if no BF16 unit is usable (ladder_bf16_reason). */
#include <stdint.h>
#include <string.h>
#include "ladder.h"

#ifdef LADDER_DOUBLE
int MM(bf16)(size_t M, size_t N, size_t K, const real *A, size_t lda, const real *B,
             size_t ldb, real *C, size_t ldc, int threads)
{
    (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)C, (void)ldc,
        (void)threads;
    return -3;
}
#else

typedef void (*bf16_ukernel)(UKERNEL_BF16_ARGS);
typedef unsigned short bf16;

static size_t min_sz(size_t a, size_t b) { return a < b ? a : b; }
static size_t up_to(size_t x, size_t to) { return (x + to - 1) / to * to; }

/* As blis_loops.h's balanced(): blocks of near-equal size, as few passes as `block` makes. */
static size_t even_blocks(size_t total, size_t block, size_t multiple)
{
    if (total <= block)
        return block;
    const size_t passes = (total + block - 1) / block;
    return min_sz(up_to((total + passes - 1) / passes, multiple), block);
}

/* float32 -> bf16, round to nearest with ties to even; a NaN stays a (quiet) NaN, an
 * infinity an infinity; a finite value past bf16's largest rounds to infinity. */
static inline bf16 to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (bf16)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16)(u >> 16);
}

/* B[0:kc, 0:w] (w <= 32) -> one micro-panel: kcp / 2 rows of k pairs, each 32 columns x
 * (B[2p][j], B[2p+1][j]); zeros past kc and past w. */
static void pack_b_panel(size_t kc, size_t kcp, size_t w, const float *B, size_t ldb, bf16 *Bp)
{
    for (size_t p = 0; p < kcp / 2; p++, Bp += 2 * UK_BF16_NR) {
        const size_t k = 2 * p;
        const float *r0 = k < kc ? B + k * ldb : NULL;
        const float *r1 = k + 1 < kc ? B + (k + 1) * ldb : NULL;
        size_t j = 0;
        if (r0 && r1)
            for (; j < w; j++) {
                Bp[2 * j] = to_bf16(r0[j]);
                Bp[2 * j + 1] = to_bf16(r1[j]);
            }
        else if (r0)
            for (; j < w; j++) {
                Bp[2 * j] = to_bf16(r0[j]);
                Bp[2 * j + 1] = 0;
            }
        for (; j < UK_BF16_NR; j++)
            Bp[2 * j] = Bp[2 * j + 1] = 0;
    }
}

/* A[0:h, 0:kc] (h <= mr) -> one micro-panel: kcp / 32 blocks, each mr rows of 32 values;
 * zeros past kc and past h. */
static void pack_a_panel(size_t h, size_t mr, size_t kc, size_t kcp, const float *A, size_t lda,
                         bf16 *Ap)
{
    for (size_t k0 = 0; k0 < kcp; k0 += UK_BF16_KB) {
        const size_t n = k0 < kc ? min_sz(UK_BF16_KB, kc - k0) : 0;
        for (size_t i = 0; i < mr; i++, Ap += UK_BF16_KB) {
            size_t k = 0;
            if (i < h)
                for (const float *a = A + i * lda + k0; k < n; k++)
                    Ap[k] = to_bf16(a[k]);
            for (; k < UK_BF16_KB; k++)
                Ap[k] = 0;
        }
    }
}

/* One m x n tile of C (m <= mr, n <= 32): in place when whole, else through a 32 x 32
 * buffer, so the micro-kernels only ever see full tiles. */
static void tile(bf16_ukernel run, size_t mr, size_t kb, const bf16 *Ap, const bf16 *Bp,
                 float *C, size_t ldc, size_t m, size_t n, int accumulate)
{
    if (m == mr && n == UK_BF16_NR) {
        run(kb, Ap, Bp, C, ldc, accumulate);
        return;
    }
    _Alignas(64) float buf[UK_BF16_MR_AMX * UK_BF16_NR];
    memset(buf, 0, sizeof buf);
    if (accumulate)
        for (size_t i = 0; i < m; i++)
            memcpy(buf + i * UK_BF16_NR, C + i * ldc, n * sizeof(float));
    run(kb, Ap, Bp, buf, UK_BF16_NR, accumulate);
    for (size_t i = 0; i < m; i++)
        memcpy(C + i * ldc, buf + i * UK_BF16_NR, n * sizeof(float));
}

int MM(bf16)(size_t M, size_t N, size_t K, const real *A, size_t lda, const real *B,
             size_t ldb, real *C, size_t ldc, int threads)
{
    const int unit = ladder_bf16_active_unit();
    if (unit == LADDER_BF16_NONE || !ladder_bf16_usable(unit))
        return -4;
    bf16_ukernel run;
    switch (unit) {
    case LADDER_BF16_AMX: run = ukernel_bf16_amx_32x32; break;
    case LADDER_BF16_AVX512: run = ukernel_bf16_avx512_12x32; break;
    case LADDER_BF16_EMULATE_AMX: run = ukernel_bf16_emulate_32x32; break;
    case LADDER_BF16_EMULATE_AVX512: run = ukernel_bf16_emulate_12x32; break;
    default: return -4;
    }
    if (M == 0 || N == 0)
        return 0;
    if (K == 0) {
        for (size_t i = 0; i < M; i++)
            memset(C + i * ldc, 0, N * sizeof(float));
        return 0;
    }
    if (threads < 1)
        threads = 1;
    ladder_blocking bs = ladder_bf16_blocking(unit);
    const size_t mr = bs.mr, nr = bs.nr;
    if (threads > 1) /* each thread packs and reads 1/threads of a B panel */
        bs.nc = min_sz(4096, bs.nc * (size_t)threads) / nr * nr;
    bs.kc = even_blocks(K, bs.kc, UK_BF16_KB);
    bs.mc = even_blocks(M, bs.mc, mr);
    bs.nc = even_blocks(N, bs.nc, nr);
    const size_t kcmax = up_to(min_sz(bs.kc, K), UK_BF16_KB);
    const size_t mcmax = up_to(min_sz(bs.mc, M), mr), ncmax = up_to(min_sz(bs.nc, N), nr);
    /* two A blocks (packed in turn, as rung 5) and one B panel, from the calling thread's
     * scratch slots 0 and 1 (csrc/scratch.c) */
    bf16 *Ap = ladder_scratch(0, 2 * mcmax * kcmax * sizeof(bf16));
    bf16 *Bp = ladder_scratch(1, ncmax * kcmax * sizeof(bf16));
    if (!Ap || !Bp)
        return -2;
    bf16 *const A_blocks[2] = {Ap, Ap + mcmax * kcmax};

    #pragma omp parallel num_threads(threads)
    {
        ladder_bf16_thread_begin(unit);  /* AMX: this thread's tile configuration */
        for (size_t jc = 0; jc < N; jc += bs.nc) {
            const size_t nc = min_sz(bs.nc, N - jc);
            for (size_t pc = 0; pc < K; pc += bs.kc) {
                const size_t kc = min_sz(bs.kc, K - pc), kcp = up_to(kc, UK_BF16_KB);
                const size_t kb = kcp / UK_BF16_KB;
                #pragma omp barrier  /* every tile that reads B's panel is done: refill it */
                #pragma omp for schedule(static) nowait
                for (size_t jr = 0; jr < nc; jr += nr)
                    pack_b_panel(kc, kcp, min_sz(nr, nc - jr), B + pc * ldb + jc + jr, ldb,
                                 Bp + jr * kcp);
                for (size_t ic = 0, block = 0; ic < M; ic += bs.mc, block++) {
                    const size_t mc = min_sz(bs.mc, M - ic);
                    bf16 *const Ablock = A_blocks[block % 2];
                    #pragma omp for schedule(static) nowait
                    for (size_t ir = 0; ir < mc; ir += mr)
                        pack_a_panel(min_sz(mr, mc - ir), mr, kc, kcp, A + (ic + ir) * lda + pc,
                                     lda, Ablock + ir * kcp);
                    /* This block of A (and B's panel) is packed, and every tile of the block
                     * before it is done, so the next block may refill that one's buffer. */
                    #pragma omp barrier
                    #pragma omp for collapse(2) schedule(static) nowait
                    for (size_t jr = 0; jr < nc; jr += nr)
                        for (size_t ir = 0; ir < mc; ir += mr)
                            tile(run, mr, kb, Ablock + ir * kcp, Bp + jr * kcp,
                                 C + (ic + ir) * ldc + jc + jr, ldc, min_sz(mr, mc - ir),
                                 min_sz(nr, nc - jr), pc > 0);
                }
            }
        }
        ladder_bf16_thread_end(unit);
    }
    return 0;
}
#endif
