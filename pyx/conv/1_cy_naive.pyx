# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Convolution rung cy_naive (conv_cy_naive): the twin of conv_c_naive in typed Cython.
Changed from conv_py_naive: typed memoryviews and C loops, no Python objects inside them,
the GIL released. The four loops of csrc/conv/1_naive.c, the filter's size read at run time.
Hypothesis: once typed, Cython is C: the same loop nest, the same speed.
Expect: within 20% of conv_c_naive."""

ctypedef fused real:
    float
    double


def correlate(const real[:, ::1] x, const real[:, ::1] w, real[:, ::1] y):
    """y = the 'valid' cross-correlation of x with w (any kh x kw); y is preallocated."""
    cdef Py_ssize_t H = x.shape[0], W = x.shape[1], kh = w.shape[0], kw = w.shape[1]
    cdef Py_ssize_t i, j, p, q
    cdef real total
    with nogil:
        for i in range(H - kh + 1):
            for j in range(W - kw + 1):
                total = 0
                for p in range(kh):
                    for q in range(kw):
                        total = total + x[i + p, j + q] * w[p, q]
                y[i, j] = total
