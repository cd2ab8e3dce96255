// Rung 13 (cuda_tf32_persistent): rung 12 made persistent, with rung 11's grouped tile order.
// Changed from rung 12 (the same change rung 11 made to rung 10):
//   - The grid is one block per SM (the host launches min(SMs, tiles) blocks), and each block
//     loops over output tiles t = blockIdx.x, blockIdx.x + gridDim.x, ... Its producer and
//     consumers keep one count of k-tiles across all its tiles, so the ring of 4 stages runs
//     on from one tile into the next.
//   - The tile order is grouped (grouped_tile, wgmma.cuh): tile t goes down a group of 8 tile
//     rows before it moves one tile column right.
//   - A consumer releases its last stage of a tile after the tile's final wgmma completes.
//   - B is still transposed and rounded to TF32 inside each call (to_tf32_matrix), as in 12.
// Hypothesis: rung 12 falls from 73% of cuBLAS TF32 at n = 4096 to 47% at 8192 for the reason
//   rung 10 fell behind rung 11 there: the row-major block order streams every panel of B
//   through L2 for each row of tiles (at 8192 a k-tile row of B is 32 MiB of FP32), and each
//   tile refills its pipeline from empty.
// Expect: rung 11's gain over rung 10 (+4% at 4096, +29% at 8192 on an H100), so about 75% of
//   cuBLAS TF32 at both sizes. Accuracy: rung 12's, the same sums in the same order.
#include "wgmma.cuh"
// tf32.cuh: to_tf32_matrix: B transposed and rounded, inside the call
#include "tf32.cuh"

#define BM 128
#define BN 256
#define BK 32          // 32 FP32 = 128 bytes: one swizzle row
#define STAGES 4
#define CONSUMERS 2
#define TILE_A (BM * BK)
#define TILE_B (BN * BK)
#define SHARED_BYTES (STAGES * (TILE_A + TILE_B) * 4 + 2 * STAGES * 8 + 1024)

extern "C" __global__ void __launch_bounds__(128 * (CONSUMERS + 1), 1)
mm_tf32_persistent(int M, int N, int K, const __grid_constant__ TensorMap map_a,
                   const __grid_constant__ TensorMap map_b, float *C)
{
    extern __shared__ __align__(1024) unsigned char shared_raw[];
    // The swizzled tiles must start on 1,024-byte boundaries.
    float *sa = reinterpret_cast<float *>(((size_t)shared_raw + 1023) & ~(size_t)1023);
    float *sb = sa + STAGES * TILE_A;
    uint64_t *full = reinterpret_cast<uint64_t *>(sb + STAGES * TILE_B);
    uint64_t *empty = full + STAGES;
    const int warpgroup = threadIdx.x / 128, t = threadIdx.x % 128;
    const int tile_rows = (M + BM - 1) / BM, tile_cols = (N + BN - 1) / BN;
    const int tiles = tile_rows * tile_cols;
    const int k_tiles = (K + BK - 1) / BK;

    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) {
            barrier_init(&full[s], 1);
            barrier_init(&empty[s], CONSUMERS);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (warpgroup == 0) {   // the producer
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
        if (t == 0) {
            int it = 0;     // k-tiles loaded by this block so far, over all its tiles
            for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
                int ti, tj;
                grouped_tile(tile, tile_rows, tile_cols, ti, tj);
                for (int kt = 0; kt < k_tiles; kt++, it++) {
                    const int s = it % STAGES;
                    if (it >= STAGES)   // wait until both consumers released this stage's last use
                        barrier_wait(&empty[s], (it / STAGES - 1) & 1);
                    barrier_arrive_expecting(&full[s], (TILE_A + TILE_B) * 4);
                    tma_load(sa + s * TILE_A, &map_a, &full[s], kt * BK, ti * BM);
                    tma_load(sb + s * TILE_B, &map_b, &full[s], kt * BK, tj * BN);
                }
            }
        }
    } else {                // the consumers
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
        const int row0 = (warpgroup - 1) * 64;   // this consumer's rows of the block tile
        const int warp = t / 32, g = (t % 32) / 4, q = t % 4;
        int it = 0;         // k-tiles consumed so far, counted as the producer counts them
        float d[128];
        for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
            int ti, tj;
            grouped_tile(tile, tile_rows, tile_cols, ti, tj);
#pragma unroll
            for (int i = 0; i < 128; i++)
                d[i] = 0.0f;
            for (int kt = 0; kt < k_tiles; kt++, it++) {
                const int s = it % STAGES;
                barrier_wait(&full[s], (it / STAGES) & 1);
                const float *a = sa + s * TILE_A + row0 * BK, *b = sb + s * TILE_B;
                wgmma_fence();
#pragma unroll
                for (int k = 0; k < BK; k += 8)   // 8 elements = 32 bytes along the swizzled row
                    wgmma_tf32_m64n256k8(d, descriptor(a + k), descriptor(b + k));
                wgmma_commit();
                wgmma_wait_one();   // the previous k-tile's products are done: release its stage
                if (t == 0 && kt > 0)
                    barrier_arrive(&empty[(it - 1) % STAGES]);
            }
            wgmma_wait_all();       // the tile's last products are done: release their stage
            if (t == 0)
                barrier_arrive(&empty[(it - 1) % STAGES]);

            const int bi = ti * BM, bj = tj * BN;
#pragma unroll
            for (int j = 0; j < 32; j++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int row = bi + row0 + 16 * warp + g + 8 * (e / 2);
                    const int col = bj + 8 * j + 2 * q + e % 2;
                    if (row < M && col < N)
                        C[(size_t)row * N + col] = d[4 * j + e];
                }
        }
    }
}
