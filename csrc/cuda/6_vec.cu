// Rung 6 (cuda_vec): 128-bit loads, and the A tile stored transposed in shared memory.
// Changed from rung 5: global loads move 4 floats per instruction (float4); the A tile is
//   written to shared memory as As[k][m], so a thread's 8 values of A for one k are contiguous
//   and, like its 8 values of B, come in two 128-bit shared loads instead of 8 scalar ones.
// Hypothesis: rung 5 issues ~4x more load instructions than needed; the instruction stream,
//   not the FMA units, was still the limit.
// Expect: ~1.2-1.5x over rung 5.
#include "edges.cuh"
#define BM 128
#define BN 128
#define BK 8

extern "C" __global__ void __launch_bounds__(256)
mm_vec(int M, int N, int K, const float *A, const float *B, float *C, int aligned)
{
    __shared__ __align__(16) float As[BK][BM];   // transposed: As[k][m]
    __shared__ __align__(16) float Bs[BK][BN];
    const int t = threadIdx.x;
    const int row0 = (t / 16) * 8, col0 = (t % 16) * 8;
    const int bi = blockIdx.y * BM, bj = blockIdx.x * BN;
    const int a_row = t / 2, a_col = (t % 2) * 4;    // 128 x 8 of A: one float4 a thread
    const int b_row = t / 32, b_col = (t % 32) * 4;  // 8 x 128 of B: one float4 a thread
    const int aligned_a = aligned && (K % 4 == 0), aligned_b = aligned && (N % 4 == 0);
    float acc[8][8] = {{0.0f}};
    for (int k0 = 0; k0 < K; k0 += BK) {
        const float4 a = load4(A, M, K, bi + a_row, k0 + a_col, aligned_a);
        As[a_col + 0][a_row] = a.x;
        As[a_col + 1][a_row] = a.y;
        As[a_col + 2][a_row] = a.z;
        As[a_col + 3][a_row] = a.w;
        *reinterpret_cast<float4 *>(&Bs[b_row][b_col]) = load4(B, K, N, k0 + b_row, bj + b_col, aligned_b);
        __syncthreads();
        for (int k = 0; k < BK; k++) {
            const float4 a0 = *reinterpret_cast<const float4 *>(&As[k][row0]);
            const float4 a1 = *reinterpret_cast<const float4 *>(&As[k][row0 + 4]);
            const float4 b0 = *reinterpret_cast<const float4 *>(&Bs[k][col0]);
            const float4 b1 = *reinterpret_cast<const float4 *>(&Bs[k][col0 + 4]);
            const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
            for (int r = 0; r < 8; r++)
                for (int c = 0; c < 8; c++)
                    acc[r][c] += av[r] * bv[c];
        }
        __syncthreads();
    }
    const int aligned_c = aligned && (N % 4 == 0);
    for (int r = 0; r < 8; r++)
        for (int h = 0; h < 2; h++)
            store4(C, M, N, bi + row0 + r, bj + col0 + 4 * h, aligned_c,
                   make_float4(acc[r][4 * h], acc[r][4 * h + 1], acc[r][4 * h + 2], acc[r][4 * h + 3]));
}
