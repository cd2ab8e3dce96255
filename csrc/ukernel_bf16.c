/* The micro-kernels of rung 7 (c_bf16): C[0:MR, 0:32] (=|+=) Ap @ Bp on bf16 pairs summed in
 * float32, in the packed layout of ladder.h (UKERNEL_BF16_ARGS), on three kinds of unit:
 *   - AMX (TDPBF16PS), 32 x 32: four 16 x 16 float32 C tiles (tmm0-3) stay in the tile
 *     registers for the whole k loop; per block of 32 k values it loads two A tiles (16 rows
 *     x 32 bf16, tmm4-5) and two B tiles (16 k pairs x 16 columns x 2 bf16, in the VNNI
 *     pair-interleaved layout, tmm6-7), and issues four TDPBF16PS, each 16 x 16 x 32
 *     multiply-adds (16384 FLOP). Every thread must have loaded the tile configuration
 *     (ladder_bf16_thread_begin) first.
 *   - AVX512-BF16 (VDPBF16PS), 12 x 32: 24 zmm accumulators; per k pair it loads two B
 *     vectors (16 columns x a pair each) and broadcasts one pair of each of the 12 rows of A.
 *   - Emulated, 12 x 32 and 32 x 32: the same arithmetic in portable C, for tests on CPUs
 *     with neither unit. Per pair a product of two bf16 is exact in float32, and the two
 *     products are added to the sum one at a time, each add rounded to nearest: the order
 *     of Intel's pseudo-code (VDPBF16PS adds the odd element's product first, TDPBF16PS the
 *     even one's). Not emulated: the units treat denormal inputs as zero and flush denormal
 *     results (DAZ/FTZ), which the emulation does not.
 * Compiled with per-function target attributes (gcc >= 11, clang >= 12): the AMX and
 * AVX512-BF16 functions are called only after ladder_bf16_usable says the CPU, the OS and
 * (for AMX) the kernel allow them. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "ladder.h"
#if defined(LADDER_BF16_UNITS)
#include <immintrin.h>
#define BF16_UNITS 1
#define TARGET_AVX512_BF16 __attribute__((target("avx512f,avx512bf16")))
#define TARGET_AMX __attribute__((target("amx-tile,amx-bf16")))
#endif

/* ---- emulated units (portable) --------------------------------------------------------- */
static inline float bf16_to_float(unsigned short h)
{
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* odd_first: VDPBF16PS's order; else TDPBF16PS's. */
static void emulate(size_t mr, int odd_first, UKERNEL_BF16_ARGS)
{
    for (size_t i = 0; i < mr; i++)
        for (size_t j = 0; j < UK_BF16_NR; j++) {
            float c = accumulate ? C[i * ldc + j] : 0.0f;
            for (size_t b = 0; b < kb; b++) {
                const unsigned short *a = Ap + b * mr * UK_BF16_KB + i * UK_BF16_KB;
                const unsigned short *bp = Bp + b * (UK_BF16_KB / 2) * (2 * UK_BF16_NR) + 2 * j;
                for (size_t p = 0; p < UK_BF16_KB / 2; p++) {
                    const float p0 = bf16_to_float(a[2 * p]) * bf16_to_float(bp[p * 2 * UK_BF16_NR]);
                    const float p1 = bf16_to_float(a[2 * p + 1]) *
                                     bf16_to_float(bp[p * 2 * UK_BF16_NR + 1]);
                    if (odd_first) {
                        c += p1;
                        c += p0;
                    } else {
                        c += p0;
                        c += p1;
                    }
                }
            }
            C[i * ldc + j] = c;
        }
}

void ukernel_bf16_emulate_12x32(UKERNEL_BF16_ARGS)
{
    emulate(UK_BF16_MR_AVX512, 1, kb, Ap, Bp, C, ldc, accumulate);
}

void ukernel_bf16_emulate_32x32(UKERNEL_BF16_ARGS)
{
    emulate(UK_BF16_MR_AMX, 0, kb, Ap, Bp, C, ldc, accumulate);
}

#ifdef BF16_UNITS
/* ---- AVX512-BF16 ------------------------------------------------------------------------ */
TARGET_AVX512_BF16 void ukernel_bf16_avx512_12x32(UKERNEL_BF16_ARGS)
{
    enum { MR = UK_BF16_MR_AVX512 };
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        c0[i] = accumulate ? _mm512_loadu_ps(C + i * ldc) : _mm512_setzero_ps();
        c1[i] = accumulate ? _mm512_loadu_ps(C + i * ldc + 16) : _mm512_setzero_ps();
    }
    for (size_t b = 0; b < kb; b++) {
        const unsigned short *a = Ap + b * MR * UK_BF16_KB;
        const unsigned short *bp = Bp + b * (UK_BF16_KB / 2) * (2 * UK_BF16_NR);
        for (int p = 0; p < UK_BF16_KB / 2; p++) {
            /* 16 columns x (row 2p, row 2p + 1) each */
            const __m512bh b0 = (__m512bh)_mm512_loadu_si512((const void *)(bp + p * 64));
            const __m512bh b1 = (__m512bh)_mm512_loadu_si512((const void *)(bp + p * 64 + 32));
#pragma GCC unroll 12
            for (int i = 0; i < MR; i++) {
                int32_t pair;  /* A[i][2p] (low half), A[i][2p + 1] (high half) */
                memcpy(&pair, a + i * UK_BF16_KB + 2 * p, sizeof pair);
                const __m512bh ai = (__m512bh)_mm512_set1_epi32(pair);
                c0[i] = _mm512_dpbf16_ps(c0[i], ai, b0);
                c1[i] = _mm512_dpbf16_ps(c1[i], ai, b1);
            }
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
        _mm512_storeu_ps(C + i * ldc, c0[i]);
        _mm512_storeu_ps(C + i * ldc + 16, c1[i]);
    }
}

/* ---- AMX -------------------------------------------------------------------------------- */
/* The tile configuration (LDTILECFG's 64 bytes): palette 1; tiles 0-7 each 16 rows of 64
 * bytes (C: 16 float32; A: 32 bf16; B: 16 pairs of bf16). */
typedef struct {
    uint8_t palette_id;   /* byte 0 */
    uint8_t start_row;    /* byte 1 */
    uint8_t reserved[14]; /* bytes 2-15, zero */
    uint16_t colsb[16];   /* bytes 16-47: bytes per row of tile i */
    uint8_t rows[16];     /* bytes 48-63: rows of tile i */
} __attribute__((aligned(64))) amx_tile_config;
_Static_assert(sizeof(amx_tile_config) == 64, "LDTILECFG reads 64 bytes");
_Static_assert(offsetof(amx_tile_config, colsb) == 16, "colsb at byte 16");
_Static_assert(offsetof(amx_tile_config, rows) == 48, "rows at byte 48");

static const amx_tile_config tile_config = {
    1, 0, {0}, {64, 64, 64, 64, 64, 64, 64, 64}, {16, 16, 16, 16, 16, 16, 16, 16}};

TARGET_AMX static void amx_begin(void) { _tile_loadconfig(&tile_config); }
TARGET_AMX static void amx_end(void) { _tile_release(); }

TARGET_AMX void ukernel_bf16_amx_32x32(UKERNEL_BF16_ARGS)
{
    /* gcc's tile loads are asm statements that do not tell the compiler they read memory:
     * every store before them (packing, an edge tile's copy of C) must be done. */
    __asm__ volatile("" ::: "memory");
    const size_t stride = ldc * sizeof(float);
    if (accumulate) {
        _tile_loadd(0, C, stride);
        _tile_loadd(1, C + 16, stride);
        _tile_loadd(2, C + 16 * ldc, stride);
        _tile_loadd(3, C + 16 * ldc + 16, stride);
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    for (size_t b = 0; b < kb; b++) {
        const unsigned short *a = Ap + b * UK_BF16_MR_AMX * UK_BF16_KB;
        const unsigned short *bp = Bp + b * (UK_BF16_KB / 2) * (2 * UK_BF16_NR);
        _tile_loadd(4, a, UK_BF16_KB * 2);                       /* rows 0-15 of A  */
        _tile_loadd(5, a + 16 * UK_BF16_KB, UK_BF16_KB * 2);     /* rows 16-31      */
        _tile_loadd(6, bp, 2 * UK_BF16_NR * 2);                  /* columns 0-15 of B */
        _tile_loadd(7, bp + 32, 2 * UK_BF16_NR * 2);             /* columns 16-31   */
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, C, stride);
    _tile_stored(1, C + 16, stride);
    _tile_stored(2, C + 16 * ldc, stride);
    _tile_stored(3, C + 16 * ldc + 16, stride);
    __asm__ volatile("" ::: "memory");
}
#else
void ukernel_bf16_avx512_12x32(UKERNEL_BF16_ARGS)
{
    (void)kb, (void)Ap, (void)Bp, (void)C, (void)ldc, (void)accumulate;
}
void ukernel_bf16_amx_32x32(UKERNEL_BF16_ARGS)
{
    (void)kb, (void)Ap, (void)Bp, (void)C, (void)ldc, (void)accumulate;
}
#endif

/* Compiled for the baseline: they execute a tile instruction only for AMX, which is chosen
 * only where usable. */
void ladder_bf16_thread_begin(int unit)
{
#ifdef BF16_UNITS
    if (unit == LADDER_BF16_AMX)
        amx_begin();
#else
    (void)unit;
#endif
}

void ladder_bf16_thread_end(int unit)
{
#ifdef BF16_UNITS
    if (unit == LADDER_BF16_AMX)
        amx_end();
#else
    (void)unit;
#endif
}
