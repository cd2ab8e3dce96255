// Shared by the TF32 wgmma rungs (12-14): the conversion kernel the host runs inside each
// call, before the GEMM. TF32 wgmma reads both operands K-major, so B is transposed on the
// way; rung 14 also splits each input into two TF32 parts, big and small.
#pragma once

// FP32 -> TF32, rounded to nearest (ties away from zero), kept in an FP32 word whose low 13
// bits are zero; NaN and infinity stay what they are.
__device__ __forceinline__ float round_tf32(float x)
{
    unsigned u;
    asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(u) : "f"(x));
    return __uint_as_float(u);
}

// x = big + small, both TF32: big = tf32(x), small = tf32(x - big); together about 21 of
// FP32's 24 mantissa bits. Where x is NaN or infinite, small is 0 (x - big would be NaN) and
// big carries it.
__device__ __forceinline__ void split_tf32(float x, float &big, float &small)
{
    big = round_tf32(x);
    small = isfinite(x) ? round_tf32(x - big) : 0.0f;
}

// Y (ld columns, zeroed by the host past the data) gets X (rows x cols, row-major) rounded to
// TF32 or, with transpose, its transpose; where Small is not null, Y gets the big parts and
// Small (the same shape) the small parts (split_tf32). A block of 32 x 8 threads takes a
// 32 x 32 tile; the transpose goes through shared memory (a row padded to 33, so that reading
// a column is conflict-free), so that both its reads of X and its writes of Y are along rows:
// coalesced.
extern "C" __global__ void __launch_bounds__(256)
to_tf32_matrix(const float *X, int rows, int cols, int transpose, float *Y, int ld, float *Small)
{
    __shared__ float tile[32][33];
    const int r0 = blockIdx.y * 32, c0 = blockIdx.x * 32, x = threadIdx.x;
    if (!transpose) {
        for (int i = threadIdx.y; i < 32; i += 8) {
            const int r = r0 + i, c = c0 + x;
            if (r < rows && c < cols) {
                const size_t at = (size_t)r * ld + c;
                if (Small)
                    split_tf32(X[(size_t)r * cols + c], Y[at], Small[at]);
                else
                    Y[at] = round_tf32(X[(size_t)r * cols + c]);
            }
        }
        return;
    }
    for (int i = threadIdx.y; i < 32; i += 8) {   // tile[i][x] = X[r0 + i][c0 + x]
        const int r = r0 + i, c = c0 + x;
        if (r < rows && c < cols)
            tile[i][x] = X[(size_t)r * cols + c];
    }
    __syncthreads();
    for (int i = threadIdx.y; i < 32; i += 8) {   // Y[c0 + i][r0 + x] = X[r0 + x][c0 + i]
        const int c = c0 + i, r = r0 + x;
        if (c < cols && r < rows) {
            const size_t at = (size_t)c * ld + r;
            if (Small)
                split_tf32(tile[x][i], Y[at], Small[at]);
            else
                Y[at] = round_tf32(tile[x][i]);
        }
    }
}
