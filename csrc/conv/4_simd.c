/* Convolution rung 4 (conv_c_simd): explicit SIMD with FMA, four output rows per pass.
 * Changed from rung 3: AVX2 + FMA intrinsics (AVX-512 or NEON where the CPU has them,
 * chosen at run time), and a band of four output rows computed together, so that each
 * loaded vector of an input row serves the up-to-three output rows that use it
 * (simd_rows.c): 18 loads and 36 FMAs per four vectors of outputs, against 36 loads,
 * 36 multiplies and 32 adds for rung 3's four single rows at the same width.
 * Hypothesis: in cache, rung 3 was bound by its SSE2 multiplies and adds and by its loads;
 * FMAs on 2-4x wider vectors with half the loads per output lift that bound 4-8x.
 * Expect: 3-6x rung 3 while the image is in cache, near 50% of the FMA peak; beyond the L3
 * the same memory-bandwidth limit as rung 3 (it cannot go faster than bytes arrive). */
#include "conv.h"

void CONV(simd)(size_t H, size_t W, const real *x, size_t ldx, const real *w, real *y,
                size_t ldy)
{
    CONV(simd_rows)(0, H - 2, W, x, ldx, w, y, ldy, 0);
}
