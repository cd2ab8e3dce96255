/* Convolution rung 6 (conv_c_strips): for images beyond the L3, streaming stores and
 * column strips.
 * Changed from rung 5: two things for memory traffic, none for arithmetic.
 *   - Streaming (non-temporal) stores of y: a plain store first reads the output's cache
 *     line from memory (read-for-ownership), so an output costs 3 S bytes of traffic (read
 *     x, read y, write y); streamed, 2 S. The Python binding gives y rows that start on
 *     64-byte boundaries, which the stores need (elsewhere they fall back to plain stores).
 *   - Column strips: each thread walks down its block of rows one strip of STRIP columns at
 *     a time, so that the band's six input rows (6 x 16 KiB in float32) stay in L2 and the
 *     two it shares with the next band are re-read from there, however wide the image.
 * Hypothesis: beyond the L3 rung 5 moves 3 S bytes per output and is bound by them; this
 *   rung moves 2 S, so it is up to 1.5x faster there. In cache the streamed outputs must
 *   come back from memory if read soon after, so it is no faster there, and may be slower.
 * Expect: 1.2-1.5x rung 5 at N >= 8192; about rung 5 below the L3. (Measured: the
 *   streaming stores carry the gain; strips of 1024-4096 columns were within the noise of
 *   whole rows up to N = 16384: docs/conv.md.) */
#include "conv.h"

#define STRIP 4096 /* columns */

void CONV(strips)(size_t H, size_t W, const real *x, size_t ldx, const real *w, real *y,
                  size_t ldy, int threads)
{
    const size_t Ho = H - 2, Wo = W - 2;
    const size_t per = (Ho + (size_t)threads - 1) / (size_t)threads;
    const size_t block = (per + 3) / 4 * 4;
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (size_t i0 = 0; i0 < Ho; i0 += block) {
        const size_t i1 = i0 + block < Ho ? i0 + block : Ho;
        for (size_t j0 = 0; j0 < Wo; j0 += STRIP) {
            /* the strip's outputs are columns [j0, j0 + w) and read W = w + 2 input columns */
            const size_t w_out = Wo - j0 < STRIP ? Wo - j0 : STRIP;
            CONV(simd_rows)(i0, i1, w_out + 2, x + j0, ldx, w, y + j0, ldy, 1);
        }
    }
}
