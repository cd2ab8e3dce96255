/* The peak of the CPU's matrix units, measured on the spot, as fma_peak.c measures the FMA
 * peak: the ceiling that the harness reports c_bf16 against ("% of peak").
 *   - AMX: TDPBF16PS on four accumulator tiles (tmm0-3) from two A and two B tiles loaded
 *     once (tmm4-7): register-only, 16 x 16 x 32 x 2 = 16384 FLOP an instruction. Four
 *     chains cover the instruction's latency at one issue every 16 cycles.
 *   - AVX512-BF16: VDPBF16PS on 12 independent zmm chains, 16 lanes x 2 products x 2 = 64
 *     FLOP an instruction.
 * Compiled with target attributes; run only where ladder_bf16_usable says the unit is. */
#include <stdint.h>
#include <string.h>
#include "ladder.h"
#if defined(LADDER_BF16_UNITS)
#include <immintrin.h>
#define BF16_UNITS 1
#endif
#define STEPS 2048
#define CHAINS 12

static volatile float bf16_checksum;

#ifdef BF16_UNITS
__attribute__((target("avx512f,avx512bf16"))) static double burst_avx512(void)
{
    __m512 x[CHAINS];
    /* bf16 pairs of about 1e-3: the sums grow by about 2e-6 a step */
    const __m512bh a = (__m512bh)_mm512_set1_epi32(0x3a833a83);
    const __m512bh b = (__m512bh)_mm512_set1_epi32(0x3a833a83);
    for (int c = 0; c < CHAINS; c++) x[c] = _mm512_set1_ps(1.0f + c);
    for (long s = 0; s < STEPS; s++)
        for (int c = 0; c < CHAINS; c++) x[c] = _mm512_dpbf16_ps(x[c], a, b);
    __m512 sum = x[0];
    for (int c = 1; c < CHAINS; c++) sum = _mm512_add_ps(sum, x[c]);
    float out[16];
    _mm512_storeu_ps(out, sum);
    bf16_checksum = out[0];
    return 64.0 * CHAINS * STEPS;
}

static unsigned short amx_inputs[16 * 32] __attribute__((aligned(64)));
static float amx_out[16 * 16] __attribute__((aligned(64)));

__attribute__((target("amx-tile,amx-bf16"))) static double burst_amx(void)
{
    __asm__ volatile("" ::: "memory");
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, amx_inputs, 64);
    _tile_loadd(5, amx_inputs, 64);
    _tile_loadd(6, amx_inputs, 64);
    _tile_loadd(7, amx_inputs, 64);
    for (long s = 0; s < STEPS; s++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, amx_out, 64);  /* every thread stores the same value: a benign race */
    __asm__ volatile("" ::: "memory");
    bf16_checksum = amx_out[0];
    return 4.0 * 16384.0 * STEPS;
}
#endif

static double burst(int unit)
{
#ifdef BF16_UNITS
    if (unit == LADDER_BF16_AMX) return burst_amx();
    if (unit == LADDER_BF16_AVX512) return burst_avx512();
#else
    (void)unit;
#endif
    return 0.0;
}

double ladder_bf16_peak(int unit, int threads, double seconds)
{
    if ((unit != LADDER_BF16_AMX && unit != LADDER_BF16_AVX512) || !ladder_bf16_usable(unit))
        return 0.0;
#ifdef BF16_UNITS
    if (unit == LADDER_BF16_AMX) {
        const unsigned short one_e_minus_3 = 0x3a83;
        for (int i = 0; i < 16 * 32; i++) amx_inputs[i] = one_e_minus_3;
    }
#endif
    double total = 0.0, elapsed = 0.0;
    #pragma omp parallel num_threads(threads) reduction(+ : total) reduction(max : elapsed)
    {
        ladder_bf16_thread_begin(unit);
        burst(unit);  /* warm-up: wake the unit up to full clock */
        const double t0 = ladder_seconds();
        double flops = 0.0;
        do
            flops += burst(unit);
        while (ladder_seconds() - t0 < seconds);
        total += flops;
        elapsed = ladder_seconds() - t0;
        ladder_bf16_thread_end(unit);
    }
    return elapsed > 0 ? total / elapsed / 1e9 : 0.0;
}
