// Rung 2 (cuda_coalesced): the same work, with a warp's threads along a row of C.
// Changed from rung 1: threadIdx.x now maps to the column j, threadIdx.y to the row i.
// Hypothesis: a warp now reads 32 consecutive floats of B (one 128-byte transaction), reads
//   one broadcast value of A, and writes 32 consecutive floats of C: global memory traffic
//   falls ~8-30x; the GPU's cache-line story is the CPU's ijk -> ikj story.
// Expect: 5-10x over rung 1; still one global load of B per FMA, so far from compute-bound.
extern "C" __global__ void mm_coalesced(int M, int N, int K, const float *A, const float *B,
                                        float *C)
{
    const int j = blockIdx.x * blockDim.x + threadIdx.x;
    const int i = blockIdx.y * blockDim.y + threadIdx.y;
    if (i < M && j < N) {
        float sum = 0.0f;
        for (int k = 0; k < K; k++)
            sum += A[(size_t)i * K + k] * B[(size_t)k * N + j];
        C[(size_t)i * N + j] = sum;
    }
}
