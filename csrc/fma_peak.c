/* The FMA-throughput peak of this machine, measured on the spot: the ceiling that the
 * harness reports every rung against ("% of peak").
 * Each thread runs independent chains x = x * m + a in vector registers, with no memory
 * traffic at all: 12 on x86-64, enough to cover the FMA latency (4-5 cycles) on two FMA
 * ports; 16 on arm64, whose big cores have four FMA pipes of latency 4.
 * Compiled per ISA with target attributes and run only on the ISA the CPU supports.
 * At the end, the second ceiling: the micro-kernel alone (ladder_ukernel_peak). */
#include <stdlib.h>
#include <string.h>
#include "ladder.h"
#if defined(LADDER_X86)
#include <immintrin.h>
#define CHAINS 12
#elif defined(LADDER_ARM64)
#include <arm_neon.h>
#define CHAINS 16
#endif
#define STEPS 4096

/* Each returns the number of floating-point operations it did (2 per lane per FMA). */
#define FMA_LOOP(VEC, SET1, FMADD, ADD, LANES)                                           \
    VEC x[CHAINS];                                                                       \
    const VEC m = SET1(0.999999), a = SET1(1e-7);                                           \
    for (int c = 0; c < CHAINS; c++) x[c] = SET1(1.0 + c);                               \
    for (long s = 0; s < STEPS; s++)                                                     \
        for (int c = 0; c < CHAINS; c++) x[c] = FMADD(x[c], m, a);                       \
    VEC sum = x[0];                                                                      \
    for (int c = 1; c < CHAINS; c++) sum = ADD(sum, x[c]);                               \
    *sink = sum;                                                                         \
    return 2.0 * LANES * CHAINS * STEPS;

#if defined(LADDER_X86)
LADDER_TARGET_AVX2 static double burst_avx2_s(__m256 *sink)
{ FMA_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, 8) }
LADDER_TARGET_AVX2 static double burst_avx2_d(__m256d *sink)
{ FMA_LOOP(__m256d, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_add_pd, 4) }
LADDER_TARGET_AVX512 static double burst_avx512_s(__m512 *sink)
{ FMA_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, 16) }
LADDER_TARGET_AVX512 static double burst_avx512_d(__m512d *sink)
{ FMA_LOOP(__m512d, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd, 8) }
#elif defined(LADDER_ARM64)
/* vfmaq_f32(a, b, c) is a + b * c */
#define NEON_FMA_S(x, m, a) vfmaq_f32(a, x, m)
#define NEON_FMA_D(x, m, a) vfmaq_f64(a, x, m)
static double burst_neon_s(float32x4_t *sink)
{ FMA_LOOP(float32x4_t, vdupq_n_f32, NEON_FMA_S, vaddq_f32, 4) }
static double burst_neon_d(float64x2_t *sink)
{ FMA_LOOP(float64x2_t, vdupq_n_f64, NEON_FMA_D, vaddq_f64, 2) }
#endif

/* Written with the first value of every burst's result: a store the compiler must keep, so
 * that it keeps the chains behind it (clang drops stores to a variable nobody reads). */
static volatile double fma_checksum;

static double burst(size_t elem, int isa)
{
    double flops = 0.0;
#if defined(LADDER_X86)
    __m512d sink;
    if (isa == LADDER_ISA_AVX512)
        flops = elem == 4 ? burst_avx512_s((__m512 *)&sink) : burst_avx512_d(&sink);
    else
        flops = elem == 4 ? burst_avx2_s((__m256 *)&sink) : burst_avx2_d((__m256d *)&sink);
#elif defined(LADDER_ARM64)
    float64x2_t sink;
    (void)isa;
    flops = elem == 4 ? burst_neon_s((float32x4_t *)&sink) : burst_neon_d(&sink);
#else
    double sink[1] = {0.0};
    (void)elem, (void)isa;
#endif
    float first_s;
    double first_d;
    memcpy(&first_s, &sink, sizeof first_s);
    memcpy(&first_d, &sink, sizeof first_d);
    fma_checksum = elem == 4 ? (double)first_s : first_d;
    return flops;
}

double ladder_fma_peak(size_t elem, int isa, int threads, double seconds)
{
    if (!ladder_isa_compiled(isa) || !ladder_isa_usable(isa))
        return 0.0;
    double total = 0.0, elapsed = 0.0;
    #pragma omp parallel num_threads(threads) reduction(+ : total) reduction(max : elapsed)
    {
        burst(elem, isa);  /* warm-up: wake the vector units up to full clock */
        const double t0 = ladder_seconds();
        double flops = 0.0;
        do
            flops += burst(elem, isa);
        while (ladder_seconds() - t0 < seconds);
        total += flops;
        elapsed = ladder_seconds() - t0;
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
#if defined(LADDER_X86)
    if (elem == 4) {
        float *a = panels, *b = a + mr * kc, *c = b + kc * nr;
        if (isa == LADDER_ISA_AVX512) ukernel_avx512_12x32(kc, a, b, c, nr, 1, NULL);
        else ukernel_avx2_6x16(kc, a, b, c, nr, 1, NULL);
    } else {
        double *a = panels, *b = a + mr * kc, *c = b + kc * nr;
        if (isa == LADDER_ISA_AVX512) ukernel_avx512_12x16(kc, a, b, c, nr, 1, NULL);
        else ukernel_avx2_6x8(kc, a, b, c, nr, 1, NULL);
    }
#elif defined(LADDER_ARM64)
    (void)isa;
    if (elem == 4) {
        float *a = panels, *b = a + mr * kc, *c = b + kc * nr;
        ukernel_neon_8x12(kc, a, b, c, nr, 1, NULL);
    } else {
        double *a = panels, *b = a + mr * kc, *c = b + kc * nr;
        ukernel_neon_8x6(kc, a, b, c, nr, 1, NULL);
    }
#endif
}

double ladder_ukernel_peak(size_t elem, int isa, double seconds)
{
    if (!ladder_isa_compiled(isa) || !ladder_isa_usable(isa))
        return 0.0;
    const ladder_blocking bs = ladder_gemm_blocking(elem, isa);
    const size_t count = (bs.mr + bs.nr) * bs.kc + bs.mr * bs.nr;
    void *panels = ladder_aligned_alloc(64, count * elem);
    if (!panels)
        return -1.0;
    for (size_t i = 0; i < count; i++)  /* small values: C grows by ~1e-3 per call */
        if (elem == 4) ((float *)panels)[i] = 1e-3f;
        else ((double *)panels)[i] = 1e-3;
    ukernel_call(elem, isa, &bs, panels);  /* warm-up */
    long calls = 0;
    const double t0 = ladder_seconds();
    double elapsed;
    do {
        for (int i = 0; i < 16; i++)
            ukernel_call(elem, isa, &bs, panels);
        calls += 16;
        elapsed = ladder_seconds() - t0;
    } while (elapsed < seconds);
    ladder_aligned_free(panels);
    return 2.0 * bs.mr * bs.nr * bs.kc * calls / elapsed / 1e9;
}
