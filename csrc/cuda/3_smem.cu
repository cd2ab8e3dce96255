// Rung 3 (cuda_smem): shared-memory tiles, the GPU twin of cache blocking (c_blocked).
// Changed from rung 2: a 32 x 32 block of threads stages a 32 x 32 tile of A and of B in shared
//   memory, then each thread runs 32 k-steps out of shared memory; tiles past the matrix edge
//   are zero-filled, so any M, N, K works.
// Hypothesis: each element loaded from global memory is now used 32 times from on-chip memory.
// Expect: ~1.5-2x over rung 2; now shared-memory loads (2 per FMA) are the limit.
#define TILE 32
extern "C" __global__ void mm_smem(int M, int N, int K, const float *A, const float *B, float *C)
{
    __shared__ float As[TILE][TILE];
    __shared__ float Bs[TILE][TILE];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int i = blockIdx.y * TILE + ty, j = blockIdx.x * TILE + tx;
    float sum = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TILE) {
        As[ty][tx] = (i < M && k0 + tx < K) ? A[(size_t)i * K + k0 + tx] : 0.0f;
        Bs[ty][tx] = (k0 + ty < K && j < N) ? B[(size_t)(k0 + ty) * N + j] : 0.0f;
        __syncthreads();
        for (int k = 0; k < TILE; k++)
            sum += As[ty][k] * Bs[k][tx];
        __syncthreads();
    }
    if (i < M && j < N)
        C[(size_t)i * N + j] = sum;
}
