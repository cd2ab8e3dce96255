// Rung 7 (cuda_warptile): warp tiles, conflict-free fragments and double buffering.
// Changed from rung 6:
//   - Each of the 8 warps owns a 64 x 32 part of the 128 x 128 block tile, and each lane an
//     8 x 8 sub-tile split into 2 x 2 pieces of 4 x 4, placed so that a warp's 128-bit shared
//     loads hit 8 (A) and 4 (B) distinct addresses: no bank conflicts, the rest broadcast.
//   - BK = 16 and two shared-memory buffers: while the block computes on one, the next tiles
//     are already on their way from global memory into registers; one barrier per k-tile.
//   - The A tile's rows are padded by 4 floats, which halves the bank conflicts of its
//     transposed store.
// Hypothesis: rung 6 stalls at every barrier waiting for global loads, and its fragments
//   cause shared-memory bank conflicts; overlapping loads with math and conflict-free reads
//   keep the FMA pipes busier.
// Expect: 70-85% of cuBLAS FP32 at n = 4096.
#include "edges.cuh"
#define BM 128
#define BN 128
#define BK 16
#define PAD 4

__device__ __forceinline__ void fetch(const float *A, const float *B, int M, int N, int K,
                                      int bi, int bj, int k0, int t, int aligned_a,
                                      int aligned_b, float4 ra[2], float4 rb[2])
{
    for (int x = 0; x < 2; x++) {
        const int f = t + 256 * x;   // 512 float4 of A (128 x 16) and of B (16 x 128)
        ra[x] = load4(A, M, K, bi + f / 4, k0 + (f % 4) * 4, aligned_a);
        rb[x] = load4(B, K, N, k0 + f / 32, bj + (f % 32) * 4, aligned_b);
    }
}

__device__ __forceinline__ void stage(float (*As)[BM + PAD], float (*Bs)[BN], int t,
                                      const float4 ra[2], const float4 rb[2])
{
    for (int x = 0; x < 2; x++) {
        const int f = t + 256 * x;
        const int m = f / 4, k = (f % 4) * 4;
        As[k + 0][m] = ra[x].x;
        As[k + 1][m] = ra[x].y;
        As[k + 2][m] = ra[x].z;
        As[k + 3][m] = ra[x].w;
        *reinterpret_cast<float4 *>(&Bs[f / 32][(f % 32) * 4]) = rb[x];
    }
}

extern "C" __global__ void __launch_bounds__(256)
mm_warptile(int M, int N, int K, const float *A, const float *B, float *C, int aligned)
{
    __shared__ __align__(16) float As[2][BK][BM + PAD];   // transposed: As[k][m]
    __shared__ __align__(16) float Bs[2][BK][BN];
    const int t = threadIdx.x, warp = t / 32, lane = t % 32;
    const int bi = blockIdx.y * BM, bj = blockIdx.x * BN;
    const int wm = (warp / 4) * 64, wn = (warp % 4) * 32;   // warps: 2 (m) x 4 (n)
    const int tm = (lane / 4) * 4, tn = (lane % 4) * 4;     // lanes: 8 (m) x 4 (n)
    const int aligned_a = aligned && (K % 4 == 0), aligned_b = aligned && (N % 4 == 0);
    float acc[8][8] = {{0.0f}};
    float4 ra[2], rb[2];

    fetch(A, B, M, N, K, bi, bj, 0, t, aligned_a, aligned_b, ra, rb);
    stage(As[0], Bs[0], t, ra, rb);
    __syncthreads();
    int buf = 0;
    for (int k0 = 0; k0 < K; k0 += BK) {
        const bool more = k0 + BK < K;
        if (more)
            fetch(A, B, M, N, K, bi, bj, k0 + BK, t, aligned_a, aligned_b, ra, rb);
#pragma unroll
        for (int k = 0; k < BK; k++) {
            const float4 a0 = *reinterpret_cast<const float4 *>(&As[buf][k][wm + tm]);
            const float4 a1 = *reinterpret_cast<const float4 *>(&As[buf][k][wm + 32 + tm]);
            const float4 b0 = *reinterpret_cast<const float4 *>(&Bs[buf][k][wn + tn]);
            const float4 b1 = *reinterpret_cast<const float4 *>(&Bs[buf][k][wn + 16 + tn]);
            const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
            const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
            for (int r = 0; r < 8; r++)
#pragma unroll
                for (int c = 0; c < 8; c++)
                    acc[r][c] += av[r] * bv[c];
        }
        if (more)
            stage(As[buf ^ 1], Bs[buf ^ 1], t, ra, rb);   // read last in the previous k-tile
        __syncthreads();
        buf ^= 1;
    }
    const int aligned_c = aligned && (N % 4 == 0);
    for (int r = 0; r < 8; r++) {
        const int row = bi + wm + (r < 4 ? tm + r : 32 + tm + r - 4);
        for (int h = 0; h < 2; h++)
            store4(C, M, N, row, bj + wn + tn + 16 * h, aligned_c,
                   make_float4(acc[r][4 * h], acc[r][4 * h + 1], acc[r][4 * h + 2], acc[r][4 * h + 3]));
    }
}
