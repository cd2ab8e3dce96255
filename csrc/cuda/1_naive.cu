// Rung 1 (cuda_naive): one thread per element of C, the GPU twin of c_naive.
// Changed from the CPU ladder: the i and j loops become a 2-D grid of 32 x 32 thread blocks;
//   each thread runs the k loop for its own C[i][j].
// Hypothesis: a warp's 32 threads take 32 consecutive i (threadIdx.x -> row), so each load of
//   A and each store of C touches 32 different rows: 32 memory transactions where 1 would do.
// Expect: a few hundred GFLOP/s on an H100, ~1% of cuBLAS; memory-bound, not compute-bound.
extern "C" __global__ void mm_naive(int M, int N, int K, const float *A, const float *B, float *C)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    const int j = blockIdx.y * blockDim.y + threadIdx.y;
    if (i < M && j < N) {
        float sum = 0.0f;
        for (int k = 0; k < K; k++)
            sum += A[(size_t)i * K + k] * B[(size_t)k * N + j];
        C[(size_t)i * N + j] = sum;
    }
}
