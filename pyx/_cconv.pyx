# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The thin binding over csrc/conv/: one call for every C rung of the convolution ladder.

Private: matmul_ladder.conv2d validates, pads, flips and lays out the inputs, then calls
run(). run() re-checks what memory safety depends on, so a misuse raises instead of
crashing. The GIL is released while a kernel runs.
"""

cdef extern from "conv/conv.h" nogil:
    void conv_naive_s(size_t, size_t, const float *, size_t, const float *, size_t, size_t, float *, size_t)
    void conv_naive_d(size_t, size_t, const double *, size_t, const double *, size_t, size_t, double *, size_t)
    void conv_rows_s(size_t, size_t, const float *, size_t, const float *, float *, size_t)
    void conv_rows_d(size_t, size_t, const double *, size_t, const double *, double *, size_t)
    void conv_fixed_s(size_t, size_t, const float *, size_t, const float *, float *, size_t)
    void conv_fixed_d(size_t, size_t, const double *, size_t, const double *, double *, size_t)
    void conv_simd_s(size_t, size_t, const float *, size_t, const float *, float *, size_t)
    void conv_simd_d(size_t, size_t, const double *, size_t, const double *, double *, size_t)
    void conv_omp_s(size_t, size_t, const float *, size_t, const float *, float *, size_t, int)
    void conv_omp_d(size_t, size_t, const double *, size_t, const double *, double *, size_t, int)
    void conv_strips_s(size_t, size_t, const float *, size_t, const float *, float *, size_t, int)
    void conv_strips_d(size_t, size_t, const double *, size_t, const double *, double *, size_t, int)

from _strides cimport row_stride

cdef extern from "ladder.h" nogil:
    int ladder_active_isa()

cdef extern from "state.h":
    int ladder_state_import(const char *module, int required) except -1

# The vector rungs' ISA is _ckernels's, the one owner of the run-time state (csrc/state.h):
# ml.set_simd_isa changes it for them too. Not required: without _ckernels the scalar rungs
# still run, and the vector ones, listed unavailable, would take their scalar path.
ladder_state_import("matmul_ladder._cconv", 0)

ctypedef fused real:
    float
    double

RUNGS = ("conv_c_naive", "conv_c_rows", "conv_c_fixed", "conv_c_simd", "conv_c_omp",
         "conv_c_strips")


def run(str rung, const real[:, :] x, const real[:, ::1] w, real[:, :] y, int threads=1):
    """y = the 'valid' cross-correlation of x (H x W, H and W >= 3) with the 3 x 3 filter w,
    by the C rung named `rung`; y must be (H - 2) x (W - 2) with unit-stride rows."""
    cdef size_t H = x.shape[0], W = x.shape[1]
    if H < 3 or W < 3:
        raise ValueError(f"x must be at least 3 x 3 for the C rungs, got {H} x {W}")
    if w.shape[0] != 3 or w.shape[1] != 3:
        raise ValueError(f"w must be 3 x 3, got {w.shape[0]} x {w.shape[1]}")
    if <size_t>y.shape[0] != H - 2 or <size_t>y.shape[1] != W - 2:
        raise ValueError(f"y must be ({H - 2}, {W - 2}), got ({y.shape[0]}, {y.shape[1]})")
    if rung not in RUNGS:
        raise ValueError(f"unknown C convolution rung {rung!r}; choose from {', '.join(RUNGS)}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    cdef size_t ldx = row_stride(x, "x"), ldy = row_stride(y, "y")
    cdef const real *px = &x[0, 0]
    cdef const real *pw = &w[0, 0]
    cdef real *py = &y[0, 0]
    cdef int which = RUNGS.index(rung)
    with nogil:
        if real is float:
            if which == 0: conv_naive_s(H, W, px, ldx, pw, 3, 3, py, ldy)
            elif which == 1: conv_rows_s(H, W, px, ldx, pw, py, ldy)
            elif which == 2: conv_fixed_s(H, W, px, ldx, pw, py, ldy)
            elif which == 3: conv_simd_s(H, W, px, ldx, pw, py, ldy)
            elif which == 4: conv_omp_s(H, W, px, ldx, pw, py, ldy, threads)
            else: conv_strips_s(H, W, px, ldx, pw, py, ldy, threads)
        else:
            if which == 0: conv_naive_d(H, W, px, ldx, pw, 3, 3, py, ldy)
            elif which == 1: conv_rows_d(H, W, px, ldx, pw, py, ldy)
            elif which == 2: conv_fixed_d(H, W, px, ldx, pw, py, ldy)
            elif which == 3: conv_simd_d(H, W, px, ldx, pw, py, ldy)
            elif which == 4: conv_omp_d(H, W, px, ldx, pw, py, ldy, threads)
            else: conv_strips_d(H, W, px, ldx, pw, py, ldy, threads)


def active_isa():
    """The ISA that the vector rungs use now, as csrc/conv/simd_rows.c reads it: _ckernels's
    (an index of _ckernels.ISA_NAMES; 0, none, where _ckernels is absent)."""
    return ladder_active_isa()
