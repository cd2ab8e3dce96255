// Shared by the BF16 rungs (10, 11): the conversion kernel the host runs before the GEMM,
// FP32 -> BF16 with B transposed (wgmma reads both operands K-major), K padded by the host.
#pragma once

typedef unsigned short bf16_t;

// FP32 -> BF16, rounded to nearest even (NaN stays NaN). Y (ld columns, zeroed by the host
// past the data) gets X (rows x cols) or, with transpose, its transpose.
__device__ __forceinline__ bf16_t to_bf16(float x)
{
    const unsigned u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (bf16_t)((u >> 16) | 0x40);
    return (bf16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

extern "C" __global__ void to_bf16_matrix(const float *X, int rows, int cols, int transpose,
                                          bf16_t *Y, int ld)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x, r = blockIdx.y * blockDim.y + threadIdx.y;
    if (r >= rows || c >= cols)
        return;
    const bf16_t v = to_bf16(X[(size_t)r * cols + c]);
    if (transpose)
        Y[(size_t)c * ld + r] = v;
    else
        Y[(size_t)r * ld + c] = v;
}
