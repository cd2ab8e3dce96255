# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Convolution rung cy_prange (conv_cy_prange): Cython's prange over output rows.
Changed from conv_cy_rows: the filter fixed at 3 x 3 with its nine weights in local
variables, one pass per output row (as csrc/conv/3_fixed.c), and the rows shared among
threads by prange (OpenMP, static schedule).
Hypothesis: one pass per output removes the eight extra loads and stores of y; the threads
add what the memory bus lets them.
Expect: 1.5-3x conv_cy_rows on one thread; on all threads, up to the all-core bandwidth."""
from cython.parallel cimport prange

ctypedef fused real:
    float
    double


cdef inline void fixed_row(Py_ssize_t Wo, const real *r0, const real *r1, const real *r2,
                           const real *w, real *out) noexcept nogil:
    cdef Py_ssize_t j
    cdef real w00 = w[0], w01 = w[1], w02 = w[2], w10 = w[3], w11 = w[4], w12 = w[5]
    cdef real w20 = w[6], w21 = w[7], w22 = w[8]
    for j in range(Wo):
        out[j] = (w00 * r0[j] + w01 * r0[j + 1] + w02 * r0[j + 2] +
                  w10 * r1[j] + w11 * r1[j + 1] + w12 * r1[j + 2] +
                  w20 * r2[j] + w21 * r2[j + 1] + w22 * r2[j + 2])


def correlate(const real[:, ::1] x, const real[:, ::1] w, real[:, ::1] y, int threads):
    """y = the 'valid' cross-correlation of x (H, W >= 3) with the 3 x 3 filter w."""
    cdef Py_ssize_t H = x.shape[0], W = x.shape[1], i
    for i in prange(H - 2, nogil=True, num_threads=threads, schedule="static"):
        fixed_row(W - 2, &x[i, 0], &x[i + 1, 0], &x[i + 2, 0], &w[0, 0], &y[i, 0])
