/* The contract shared by the C rungs of the 3x3 convolution ladder.
 *
 *   void conv_<rung>_<s|d>(size_t H, size_t W, const T *x, size_t ldx, const T *w,
 *                          T *y, size_t ldy[, int threads]);
 *
 * 'valid' cross-correlation of an H x W image x with a 3 x 3 filter w (row-major, 9 values):
 *     y[i][j] = sum over p, q < 3 of x[i + p][j + q] * w[p][q],   i < H - 2, j < W - 2,
 * which is what deep-learning libraries call convolution (true convolution flips w; the
 * Python layer does that, and the zero padding of mode='same'). Callers guarantee H, W >= 3,
 * ldx >= W, ldy >= W - 2 (row strides in elements). Rung 1 takes the filter size at run time
 * (kh, kw) as a general loop nest would.
 *
 * Bytes per output, counted by the harness: one input read and one output written, 2 * S
 * (8 in float32): each input value is used by up to 9 outputs, but a rung that keeps the
 * three rows it reads in cache fetches it from memory once.
 *
 * Element type: as the matmul rungs (../ladder.h), each file is compiled twice; `real` is
 * float, or double with LADDER_DOUBLE, and CONV(rung) names the function. */
#ifndef MATMUL_LADDER_CONV_H
#define MATMUL_LADDER_CONV_H

#include <stddef.h>
#include "ladder.h"

#define CONV_DECLARE(T, S)                                                               \
    void conv_naive_##S(size_t H, size_t W, const T *x, size_t ldx, const T *w, size_t kh, \
                        size_t kw, T *y, size_t ldy);                                    \
    void conv_rows_##S(size_t H, size_t W, const T *x, size_t ldx, const T *w, T *y,     \
                       size_t ldy);                                                      \
    void conv_fixed_##S(size_t H, size_t W, const T *x, size_t ldx, const T *w, T *y,    \
                        size_t ldy);                                                     \
    void conv_simd_##S(size_t H, size_t W, const T *x, size_t ldx, const T *w, T *y,     \
                       size_t ldy);                                                      \
    void conv_omp_##S(size_t H, size_t W, const T *x, size_t ldx, const T *w, T *y,      \
                      size_t ldy, int threads);                                          \
    void conv_strips_##S(size_t H, size_t W, const T *x, size_t ldx, const T *w, T *y,   \
                         size_t ldy, int threads);                                       \
    /* rows [i0, i1) of the output with the active ISA's vector code (conv_rows.h) */    \
    void conv_simd_rows_##S(size_t i0, size_t i1, size_t W, const T *x, size_t ldx,      \
                            const T *w, T *y, size_t ldy, int stream);
CONV_DECLARE(float, s)
CONV_DECLARE(double, d)

#ifdef LADDER_DOUBLE
#define CONV(rung) conv_##rung##_d
#else
#define CONV(rung) conv_##rung##_s
#endif

#endif
