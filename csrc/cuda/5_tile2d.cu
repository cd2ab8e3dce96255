// Rung 5 (cuda_tile2d): register blocking in two dimensions, as the CPU micro-kernel does.
// Changed from rung 4: a block of 256 threads computes a 128 x 128 tile of C; each thread
//   owns an 8 x 8 sub-tile in 64 registers. Per k-step it loads 8 values of A and 8 of B from
//   shared memory into registers and does 64 FMAs (an outer product).
// Hypothesis: shared-memory loads per FMA fall from ~1.1 to 0.25; the FMA units, not the
//   memory pipes, become the limit.
// Expect: ~1.5-2x over rung 4, about half of cuBLAS.
#define BM 128
#define BN 128
#define BK 8
#define TM 8
#define TN 8
extern "C" __global__ void mm_tile2d(int M, int N, int K, const float *A, const float *B,
                                     float *C)
{
    __shared__ float As[BM][BK];
    __shared__ float Bs[BK][BN];
    const int t = threadIdx.x;                               // 256 threads
    const int row0 = (t / (BN / TN)) * TM, col0 = (t % (BN / TN)) * TN;
    const int bi = blockIdx.y * BM, bj = blockIdx.x * BN;
    float acc[TM][TN] = {{0.0f}};
    float a[TM], b[TN];
    for (int k0 = 0; k0 < K; k0 += BK) {
        for (int x = t; x < BM * BK; x += 256) {             // 4 values of A, 4 of B each
            const int ar = x / BK, ac = x % BK, br = x / BN, bc = x % BN;
            As[ar][ac] = (bi + ar < M && k0 + ac < K) ? A[(size_t)(bi + ar) * K + k0 + ac] : 0.0f;
            Bs[br][bc] = (k0 + br < K && bj + bc < N) ? B[(size_t)(k0 + br) * N + bj + bc] : 0.0f;
        }
        __syncthreads();
        for (int k = 0; k < BK; k++) {
            for (int r = 0; r < TM; r++) a[r] = As[row0 + r][k];
            for (int c = 0; c < TN; c++) b[c] = Bs[k][col0 + c];
            for (int r = 0; r < TM; r++)
                for (int c = 0; c < TN; c++)
                    acc[r][c] += a[r] * b[c];
        }
        __syncthreads();
    }
    for (int r = 0; r < TM; r++)
        for (int c = 0; c < TN; c++)
            if (bi + row0 + r < M && bj + col0 + c < N)
                C[(size_t)(bi + row0 + r) * N + bj + col0 + c] = acc[r][c];
}
