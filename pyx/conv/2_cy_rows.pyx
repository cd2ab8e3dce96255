# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Convolution rung cy_rows (conv_cy_rows): the twin of conv_c_rows in typed Cython.
Changed from conv_cy_naive: row by row, nine shifted axpys over whole rows
(y[i, :] += w[p, q] * x[i + p, q:q + W - 2]), written on raw pointers so that the C
compiler sees the same unit-stride loop as csrc/conv/2_rows.c and vectorises it.
Hypothesis: as in C, vector instructions outweigh the nine loads and stores of each output.
Expect: within 20% of conv_c_rows."""

ctypedef fused real:
    float
    double


cdef inline void axpy(Py_ssize_t n, real c, const real *src, real *dst) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(n):
        dst[j] += c * src[j]


def correlate(const real[:, ::1] x, const real[:, ::1] w, real[:, ::1] y):
    """y = the 'valid' cross-correlation of x (H, W >= 3) with the 3 x 3 filter w."""
    cdef Py_ssize_t H = x.shape[0], W = x.shape[1], Wo = W - 2, i, j, p, q
    with nogil:
        for i in range(H - 2):
            for j in range(Wo):
                y[i, j] = 0
            for p in range(3):
                for q in range(3):
                    axpy(Wo, w[p, q], &x[i + p, q], &y[i, 0])
