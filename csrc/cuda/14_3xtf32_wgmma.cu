// Rung 14 (cuda_3xtf32_wgmma): rung 9's three TF32 passes on rung 13's wgmma pipeline.
// Changed from rung 13:
//   - Each input is split into big and small TF32 parts inside the call (to_tf32_matrix with
//     its second output, tf32.cuh: A as it is, B transposed): four operands, each read by
//     TMA. A stage holds a k-tile of all four: 64 KiB for a 128 x 128 block tile, so 3 stages.
//   - Per k-tile, a_big b_big goes into fresh accumulators t (the first wgmma of the k-tile
//     does not accumulate), and t is added to d with FP32 adds, which round to nearest. The
//     tensor core truncates the sums it makes (rung 9's header); promoted after every 32
//     products, the truncation is at the scale of one k-tile's partial sum, of random sign,
//     and the error grows as sqrt(K), as FP32's does. (Rung 9 promotes every 8, on mma.sync.)
//   - a_big b_small + a_small b_big, 2^-11 of the answer, accumulate in s over all of K
//     inside the tensor core: their truncation is 2^-11 of the whole error's size.
//   - d, t and s are 3 x 64 accumulators a thread, so a consumer warpgroup takes 64 x 128
//     (m64n128k8) and the block tile is 128 x 128 (rung 13: 128 x 256).
//   - The two groups of a k-tile are committed apart: the consumer waits for the big
//     products only, and adds t to d while the small ones still run.
//   - An infinite or NaN input has a small part of 0 (split_tf32), and its big part times the
//     other operand's small part can be NaN (0 x inf) or an infinity of either sign: where s
//     is not finite, the answer is d alone, which carries that input.
// Hypothesis: rung 9 (0.75x cuBLAS FP32 on an H200) is bound by mma.sync's feed, as rung 8
//   is; on wgmma, three TF32 passes cost a third of a TF32 rung's rate, and rung 12 ran at
//   5.5x cuBLAS FP32 on an H100 at n = 4096 (280 TFLOP/s against 51), so three passes are
//   about 1.8x cuBLAS FP32, less the split (12 bytes written for every 4 read, inside the
//   call) and the smaller tile.
// Expect: 1.5-2x cuBLAS FP32; a normwise error within a few times cuBLAS FP32's at every K.
#include "wgmma.cuh"
// tf32.cuh: to_tf32_matrix: A and B (transposed) split into big + small, inside the call
#include "tf32.cuh"

#define BM 128
#define BN 128
#define BK 32          // 32 FP32 = 128 bytes: one swizzle row
#define STAGES 3
#define CONSUMERS 2
#define TILE_A (BM * BK)
#define TILE_B (BN * BK)
#define STAGE (2 * TILE_A + 2 * TILE_B)   // a_big, a_small, b_big, b_small
#define SHARED_BYTES (STAGES * STAGE * 4 + 2 * STAGES * 8 + 1024)

extern "C" __global__ void __launch_bounds__(128 * (CONSUMERS + 1), 1)
mm_3xtf32_wgmma(int M, int N, int K, const __grid_constant__ TensorMap map_a_big,
                const __grid_constant__ TensorMap map_a_small,
                const __grid_constant__ TensorMap map_b_big,
                const __grid_constant__ TensorMap map_b_small, float *C)
{
    extern __shared__ __align__(1024) unsigned char shared_raw[];
    // The swizzled tiles must start on 1,024-byte boundaries; stage s holds a_big, a_small,
    // b_big and b_small one after another (each a multiple of 1,024 bytes).
    float *stages = reinterpret_cast<float *>(((size_t)shared_raw + 1023) & ~(size_t)1023);
    uint64_t *full = reinterpret_cast<uint64_t *>(stages + STAGES * STAGE);
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
                    float *stage = stages + s * STAGE;
                    if (it >= STAGES)   // wait until both consumers released this stage's last use
                        barrier_wait(&empty[s], (it / STAGES - 1) & 1);
                    barrier_arrive_expecting(&full[s], STAGE * 4);
                    tma_load(stage, &map_a_big, &full[s], kt * BK, ti * BM);
                    tma_load(stage + TILE_A, &map_a_small, &full[s], kt * BK, ti * BM);
                    tma_load(stage + 2 * TILE_A, &map_b_big, &full[s], kt * BK, tj * BN);
                    tma_load(stage + 2 * TILE_A + TILE_B, &map_b_small, &full[s], kt * BK, tj * BN);
                }
            }
        }
    } else {                // the consumers
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
        const int row0 = (warpgroup - 1) * 64;   // this consumer's rows of the block tile
        const int warp = t / 32, g = (t % 32) / 4, q = t % 4;
        int it = 0;         // k-tiles consumed so far, counted as the producer counts them
        float d[64], big[64], small[64];   // d: the promoted sum; big: t above; small: s
#pragma unroll
        for (int i = 0; i < 64; i++)
            big[i] = 0.0f;
        for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
            int ti, tj;
            grouped_tile(tile, tile_rows, tile_cols, ti, tj);
#pragma unroll
            for (int i = 0; i < 64; i++)
                d[i] = small[i] = 0.0f;
            for (int kt = 0; kt < k_tiles; kt++, it++) {
                const int s = it % STAGES;
                barrier_wait(&full[s], (it / STAGES) & 1);
                const float *stage = stages + s * STAGE;
                const float *a_big = stage + row0 * BK, *a_small = stage + TILE_A + row0 * BK;
                const float *b_big = stage + 2 * TILE_A, *b_small = b_big + TILE_B;
                wgmma_fence();
#pragma unroll
                for (int k = 0; k < BK; k += 8)   // 8 elements = 32 bytes along the swizzled row
                    wgmma_tf32_m64n128k8(big, descriptor(a_big + k), descriptor(b_big + k), k > 0);
                wgmma_commit();
#pragma unroll
                for (int k = 0; k < BK; k += 8) {
                    wgmma_tf32_m64n128k8(small, descriptor(a_big + k), descriptor(b_small + k), 1);
                    wgmma_tf32_m64n128k8(small, descriptor(a_small + k), descriptor(b_big + k), 1);
                }
                wgmma_commit();
                wgmma_wait_one();   // this k-tile's big products are done, and all before them
                if (t == 0 && kt > 0)   // the previous k-tile's small products are done
                    barrier_arrive(&empty[(it - 1) % STAGES]);
                wgmma_fence_operands(big);
#pragma unroll
                for (int i = 0; i < 64; i++)   // promoted: FP32 adds, round to nearest
                    d[i] += big[i];
            }
            wgmma_wait_all();       // the tile's last products are done: release their stage
            if (t == 0)
                barrier_arrive(&empty[(it - 1) % STAGES]);
            wgmma_fence_operands(small);

            const int bi = ti * BM, bj = tj * BN;
#pragma unroll
            for (int j = 0; j < 16; j++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int row = bi + row0 + 16 * warp + g + 8 * (e / 2);
                    const int col = bj + 8 * j + 2 * q + e % 2;
                    const float sum = d[4 * j + e], rest = small[4 * j + e];
                    if (row < M && col < N)
                        C[(size_t)row * N + col] = isfinite(rest) ? sum + rest : sum;
                }
        }
    }
}
