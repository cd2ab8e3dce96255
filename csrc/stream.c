/* Memory bandwidth of this machine, measured on the spot: the roofline's slanted ceiling.
 * A STREAM-like triad a[i] = b[i] + s * c[i] over three arrays much larger than the caches,
 * first touched by the threads that use them; the best of `repeats` passes, counting 24 bytes
 * per element (two reads and a write), as STREAM does. */
#include <stdlib.h>
#include "ladder.h"

double ladder_triad_gbs(size_t n, int threads, int repeats)
{
    double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double)),
           *c = malloc(n * sizeof(double));
    double best = 0.0;
    if (!a || !b || !c)
        goto done;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) {
        a[i] = 0.0;
        b[i] = 1.0;
        c[i] = 2.0;
    }
    for (int r = 0; r < repeats; r++) {
        const double t0 = ladder_seconds(), s = 3.0 + r;
        #pragma omp parallel for num_threads(threads) schedule(static)
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] + s * c[i];
        const double gbs = 24.0 * n / (ladder_seconds() - t0) / 1e9;
        if (gbs > best)
            best = gbs;
    }
    if (a[n / 2] != 1.0 + (3.0 + repeats - 1) * 2.0)  /* the stores happened */
        best = -1.0;
done:
    free(a);
    free(b);
    free(c);
    return best;
}
