/* Convolution rung 2 (conv_c_rows): row by row, nine shifted axpys.
 * Changed from rung 1: the loops are turned inside out. For each output row and each of the
 * nine weights, one whole row is updated: y[i][:] += w[p][q] * x[i + p][q : q + W - 2].
 * The inner loop is unit-stride over j with restrict pointers, which the compiler
 * vectorises (SSE2 at the default flags), and its trip count is a whole row.
 * Hypothesis: vector instructions and no per-output loop overhead outweigh the new cost:
 * the output row is loaded and stored nine times (from L1 while the row fits).
 * Expect: 3-10x rung 1; bound by the loads and stores of y, not by arithmetic. */
#include <string.h>
#include "conv.h"

void CONV(rows)(size_t H, size_t W, const real *x, size_t ldx, const real *w, real *y,
                size_t ldy)
{
    const size_t Ho = H - 2, Wo = W - 2;
    for (size_t i = 0; i < Ho; i++) {
        real *restrict out = y + i * ldy;
        memset(out, 0, Wo * sizeof(real));
        for (size_t p = 0; p < 3; p++)
            for (size_t q = 0; q < 3; q++) {
                const real c = w[3 * p + q];
                const real *restrict in = x + (i + p) * ldx + q;
                for (size_t j = 0; j < Wo; j++)
                    out[j] += c * in[j];
            }
    }
}
