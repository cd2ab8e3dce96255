// Rung 4 (cuda_tile1d): register blocking in one dimension.
// Changed from rung 3: a block of 512 threads computes a 64 x 64 tile of C with BK = 8; each
//   thread owns TM = 8 consecutive rows of one column and keeps those 8 sums in registers.
//   Per k-step it loads one value of B from shared memory and reuses it for 8 FMAs.
// Hypothesis: shared-memory traffic per FMA falls from 2 loads to 1 + 1/8.
// Expect: ~2x over rung 3.
#define BM 64
#define BN 64
#define BK 8
#define TM 8
extern "C" __global__ void mm_tile1d(int M, int N, int K, const float *A, const float *B,
                                     float *C)
{
    __shared__ float As[BM][BK];
    __shared__ float Bs[BK][BN];
    const int t = threadIdx.x;                 // 512 threads
    const int col = t % BN, row0 = (t / BN) * TM;
    const int bi = blockIdx.y * BM, bj = blockIdx.x * BN;
    float acc[TM] = {0.0f};
    for (int k0 = 0; k0 < K; k0 += BK) {
        {   // 512 threads load 64 x 8 of A and 8 x 64 of B, one value each
            const int ar = t / BK, ac = t % BK, br = t / BN, bc = t % BN;
            As[ar][ac] = (bi + ar < M && k0 + ac < K) ? A[(size_t)(bi + ar) * K + k0 + ac] : 0.0f;
            Bs[br][bc] = (k0 + br < K && bj + bc < N) ? B[(size_t)(k0 + br) * N + bj + bc] : 0.0f;
        }
        __syncthreads();
        for (int k = 0; k < BK; k++) {
            const float b = Bs[k][col];
            for (int r = 0; r < TM; r++)
                acc[r] += As[row0 + r][k] * b;
        }
        __syncthreads();
    }
    for (int r = 0; r < TM; r++)
        if (bi + row0 + r < M && bj + col < N)
            C[(size_t)(bi + row0 + r) * N + bj + col] = acc[r];
}
