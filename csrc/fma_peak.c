/* The FMA-throughput peak of this machine, measured on the spot: the ceiling that the
 * harness reports every rung against ("% of peak").
 * Each thread runs 12 independent chains x = x * m + a in vector registers, enough to
 * cover the FMA latency (4-5 cycles) on two FMA ports, with no memory traffic at all.
 * Compiled per ISA with target attributes and run only on the ISA the CPU supports.
 * At the end, the second ceiling: the micro-kernel alone (ladder_ukernel_peak). */
#include <immintrin.h>
#include <stdlib.h>
#include <time.h>
#include "ladder.h"

#define CHAINS 12
#define STEPS 4096

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Each returns the number of floating-point operations it did (2 per lane per FMA). */
#define FMA_LOOP(VEC, SET1, FMADD, ADD, LANES)                                           \
    VEC x[CHAINS];                                                                       \
    const VEC m = SET1(0.999999), a = SET1(1e-7);                                        \
    for (int c = 0; c < CHAINS; c++) x[c] = SET1(1.0 + c);                               \
    for (long s = 0; s < STEPS; s++)                                                     \
        for (int c = 0; c < CHAINS; c++) x[c] = FMADD(x[c], m, a);                       \
    VEC sum = x[0];                                                                      \
    for (int c = 1; c < CHAINS; c++) sum = ADD(sum, x[c]);                               \
    *sink = sum;                                                                         \
    return 2.0 * LANES * CHAINS * STEPS;

__attribute__((target("avx2,fma"))) static double burst_avx2_s(__m256 *sink)
{ FMA_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, 8) }
__attribute__((target("avx2,fma"))) static double burst_avx2_d(__m256d *sink)
{ FMA_LOOP(__m256d, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_add_pd, 4) }
__attribute__((target("avx512f"))) static double burst_avx512_s(__m512 *sink)
{ FMA_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, 16) }
__attribute__((target("avx512f"))) static double burst_avx512_d(__m512d *sink)
{ FMA_LOOP(__m512d, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd, 8) }

static double burst(size_t elem, int isa)
{
    /* 64-byte sinks, kept alive so the compiler cannot drop the chains. */
    static __thread __m512d sink;
    if (isa == LADDER_ISA_AVX512)
        return elem == 4 ? burst_avx512_s((__m512 *)&sink) : burst_avx512_d(&sink);
    return elem == 4 ? burst_avx2_s((__m256 *)&sink) : burst_avx2_d((__m256d *)&sink);
}

double ladder_fma_peak(size_t elem, int isa, int threads, double seconds)
{
    if (isa != LADDER_ISA_AVX2 && isa != LADDER_ISA_AVX512)
        return 0.0;
    double total = 0.0, elapsed = 0.0;
    #pragma omp parallel num_threads(threads) reduction(+ : total) reduction(max : elapsed)
    {
        burst(elem, isa);  /* warm-up: wake the vector units up to full clock */
        const double t0 = now();
        double flops = 0.0;
        do
            flops += burst(elem, isa);
        while (now() - t0 < seconds);
        total += flops;
        elapsed = now() - t0;
    }
    return total / elapsed / 1e9;
}

/* The micro-kernel's own ceiling, on one thread: the active ISA's micro-kernel called again
 * and again on one packed A micro-panel and one B micro-panel, with c_simd's KC (so the
 * load and store of C per call count as in the product). The panels never leave L1/L2,
 * so only the kernel's instruction mix (per k, MR broadcasts of A and NR/width loads of B
 * beside the FMAs) stands between it and the FMA peak. Against it, the rest of c_simd's
 * gap to the peak is what L3, the loop nest and packing cost. A VM's sibling hyperthread
 * shares the load ports and L1: it slows this kernel more than the bare FMA loop.
 * Returns GFLOP/s; 0.0 without SIMD; -1.0 if the panels cannot be allocated. */
static void ukernel_call(size_t elem, int isa, const ladder_blocking *bs, void *panels)
{
    const size_t mr = bs->mr, nr = bs->nr, kc = bs->kc;
    if (elem == 4) {
        float *a = panels, *b = a + mr * kc, *c = b + kc * nr;
        if (isa == LADDER_ISA_AVX512) ukernel_avx512_12x32(kc, a, b, c, nr, 1, NULL);
        else ukernel_avx2_6x16(kc, a, b, c, nr, 1, NULL);
    } else {
        double *a = panels, *b = a + mr * kc, *c = b + kc * nr;
        if (isa == LADDER_ISA_AVX512) ukernel_avx512_12x16(kc, a, b, c, nr, 1, NULL);
        else ukernel_avx2_6x8(kc, a, b, c, nr, 1, NULL);
    }
}

double ladder_ukernel_peak(size_t elem, int isa, double seconds)
{
    if (isa != LADDER_ISA_AVX2 && isa != LADDER_ISA_AVX512)
        return 0.0;
    const ladder_blocking bs = ladder_gemm_blocking(elem, isa);
    const size_t count = (bs.mr + bs.nr) * bs.kc + bs.mr * bs.nr;
    void *panels = aligned_alloc(64, (count * elem + 63) / 64 * 64);
    if (!panels)
        return -1.0;
    for (size_t i = 0; i < count; i++)  /* small values: C grows by ~1e-3 per call */
        if (elem == 4) ((float *)panels)[i] = 1e-3f;
        else ((double *)panels)[i] = 1e-3;
    ukernel_call(elem, isa, &bs, panels);  /* warm-up */
    long calls = 0;
    const double t0 = now();
    double elapsed;
    do {
        for (int i = 0; i < 16; i++)
            ukernel_call(elem, isa, &bs, panels);
        calls += 16;
        elapsed = now() - t0;
    } while (elapsed < seconds);
    free(panels);
    return 2.0 * bs.mr * bs.nr * bs.kc * calls / elapsed / 1e9;
}
