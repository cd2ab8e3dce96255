// Shared by the vectorised CUDA rungs: 4 consecutive floats of a row-major rows x cols matrix,
// as one 128-bit access where the row has them all and the matrix allows it (`aligned`: cols
// is a multiple of 4 and the base 16-byte aligned, checked by the host), element by element,
// zero-filled or skipped, at the edges. This is what lets every rung take any M, N, K.
#pragma once

__device__ __forceinline__ float4 load4(const float *X, int rows, int cols, int r, int c,
                                        int aligned)
{
    if (aligned && r < rows && c + 3 < cols)
        return __ldg(reinterpret_cast<const float4 *>(X + (size_t)r * cols + c));
    float4 v;
    const float *p = X + (size_t)r * cols + c;
    const bool row_in = r < rows;
    v.x = (row_in && c + 0 < cols) ? p[0] : 0.0f;
    v.y = (row_in && c + 1 < cols) ? p[1] : 0.0f;
    v.z = (row_in && c + 2 < cols) ? p[2] : 0.0f;
    v.w = (row_in && c + 3 < cols) ? p[3] : 0.0f;
    return v;
}

__device__ __forceinline__ void store4(float *X, int rows, int cols, int r, int c, int aligned,
                                       float4 v)
{
    if (r >= rows)
        return;
    float *p = X + (size_t)r * cols + c;
    if (aligned && c + 3 < cols) {
        *reinterpret_cast<float4 *>(p) = v;
        return;
    }
    if (c + 0 < cols) p[0] = v.x;
    if (c + 1 < cols) p[1] = v.y;
    if (c + 2 < cols) p[2] = v.z;
    if (c + 3 < cols) p[3] = v.w;
}
