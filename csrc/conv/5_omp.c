/* Convolution rung 5 (conv_c_omp): rung 4 on every core, OpenMP over blocks of rows.
 * Changed from rung 4: the output rows are cut into one contiguous block per thread (each
 * a multiple of the four-row band), and each thread runs rung 4's loop on its block. Each
 * block reads its rows plus two of the next block's: no thread writes another's rows.
 * Hypothesis: in cache each core adds its FMAs; beyond the L3 the cores share one memory
 * bus, so the gain is what one core could not draw alone.
 * Expect: close to `threads`x rung 4 in cache; beyond the L3 at most the ratio of the
 * all-core to the one-core STREAM bandwidth (1.5x on this 2-vCPU machine). */
#include "conv.h"

void CONV(omp)(size_t H, size_t W, const real *x, size_t ldx, const real *w, real *y,
               size_t ldy, int threads)
{
    const size_t Ho = H - 2;
    const size_t per = (Ho + (size_t)threads - 1) / (size_t)threads;
    const size_t block = (per + 3) / 4 * 4;
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (size_t i0 = 0; i0 < Ho; i0 += block)
        CONV(simd_rows)(i0, i0 + block < Ho ? i0 + block : Ho, W, x, ldx, w, y, ldy, 0);
}
