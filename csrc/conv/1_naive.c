/* Convolution rung 1 (conv_c_naive): four loops, the filter's size read at run time.
 * The loop nest a textbook writes for any kh x kw filter: per output, kh * kw products
 * summed in a scalar. The compiler cannot unroll the two inner loops (their trip counts are
 * unknown), so each output costs two loop nests' overhead and 2 * kh * kw scalar loads.
 * Hypothesis: compute-bound on instruction overhead, far from both the FMA peak and memory
 * bandwidth, even with the image in cache.
 * Expect: about 0.1-0.3 Gpix/s on one core, 10-30x pure Python. */
#include "conv.h"

void CONV(naive)(size_t H, size_t W, const real *x, size_t ldx, const real *w, size_t kh,
                 size_t kw, real *y, size_t ldy)
{
    for (size_t i = 0; i + kh <= H; i++)
        for (size_t j = 0; j + kw <= W; j++) {
            real sum = 0;
            for (size_t p = 0; p < kh; p++)
                for (size_t q = 0; q < kw; q++)
                    sum += x[(i + p) * ldx + j + q] * w[p * kw + q];
            y[i * ldy + j] = sum;
        }
}
