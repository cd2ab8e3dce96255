/* Fused linear combinations of blocks, for the fast-matmul rung (rungs/fast.py):
 *     dst = (accumulate ? dst : 0) + sum_t coef[t] * src[t]
 * over rows x cols blocks, each with its own row stride. One pass over memory however many
 * terms there are: each source is read once and the destination written once, where a sum
 * formed by pairwise adds would write (and read back) a temporary per term.
 * A row is done in strips of STRIP elements that stay in L1: the first term (or dst) is
 * loaded into the strip, each further term added in with a unit-stride loop the compiler
 * vectorises, and the strip stored once. Rows are split across threads (OpenMP). */
#include "ladder.h"

enum { STRIP = 512 };

void MM(lincomb)(size_t rows, size_t cols, int terms, const real *const *src, const size_t *ld,
                 const real *coef, real *dst, size_t ldd, int accumulate, int threads)
{
    #pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows * cols > 65536)
    for (size_t i = 0; i < rows; i++) {
        real strip[STRIP];
        real *restrict d = dst + i * ldd;
        for (size_t j0 = 0; j0 < cols; j0 += STRIP) {
            const size_t w = cols - j0 < STRIP ? cols - j0 : STRIP;
            int t = 0;
            if (accumulate) {
                for (size_t j = 0; j < w; j++)
                    strip[j] = d[j0 + j];
            } else if (terms > 0) {
                const real *restrict s = src[0] + i * ld[0] + j0;
                const real c = coef[0];
                for (size_t j = 0; j < w; j++)
                    strip[j] = c * s[j];
                t = 1;
            } else {
                for (size_t j = 0; j < w; j++)
                    strip[j] = 0;
            }
            for (; t < terms; t++) {
                const real *restrict s = src[t] + i * ld[t] + j0;
                const real c = coef[t];
                for (size_t j = 0; j < w; j++)
                    strip[j] += c * s[j];
            }
            for (size_t j = 0; j < w; j++)
                d[j0 + j] = strip[j];
        }
    }
}
