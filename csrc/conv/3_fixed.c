/* Convolution rung 3 (conv_c_fixed): the 3x3 filter fixed, its nine weights in registers.
 * Changed from rung 2: one pass per output row. The filter size is a constant, so the nine
 * products of an output are written out in one expression, the weights are loaded once
 * into registers, and each output is stored once, never re-read.
 * Hypothesis: rung 2's nine loads and stores of y per output were its limit; now per
 * vector of outputs there are nine loads of x (three rows, three shifts: all from L1) and
 * nine multiplies and eight adds.
 * Expect: 2-3x rung 2 with the image in cache. At the default flags (SSE2, no FMA) the
 * arithmetic is the limit in cache; beyond the L3, memory bandwidth is. */
#include "conv.h"

void CONV(fixed)(size_t H, size_t W, const real *x, size_t ldx, const real *w, real *y,
                 size_t ldy)
{
    const size_t Ho = H - 2, Wo = W - 2;
    const real w00 = w[0], w01 = w[1], w02 = w[2], w10 = w[3], w11 = w[4], w12 = w[5],
               w20 = w[6], w21 = w[7], w22 = w[8];
    for (size_t i = 0; i < Ho; i++) {
        const real *restrict r0 = x + i * ldx, *restrict r1 = r0 + ldx, *restrict r2 = r1 + ldx;
        real *restrict out = y + i * ldy;
        for (size_t j = 0; j < Wo; j++)
            out[j] = w00 * r0[j] + w01 * r0[j + 1] + w02 * r0[j + 2] +
                     w10 * r1[j] + w11 * r1[j + 1] + w12 * r1[j + 2] +
                     w20 * r2[j] + w21 * r2[j + 1] + w22 * r2[j + 2];
    }
}
