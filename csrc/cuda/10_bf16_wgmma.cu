// Rung 10 (cuda_bf16_wgmma): Hopper's warpgroup tensor-core instruction, fed by TMA.
// Changed from rung 8:
//   - BF16 inputs (8-bit mantissa), FP32 accumulation and FP32 output. A arrives as M x K and
//     B as its transpose, N x K, both BF16 (the host converts; those copies are not timed, as
//     cuBLAS BF16 is timed on BF16 inputs).
//   - wgmma.mma_async: a warpgroup (4 warps, 128 threads) multiplies a 64 x 128 x 16 piece
//     per instruction, reading both operands straight from shared memory (no fragments in
//     registers), asynchronously to the issuing threads.
//   - TMA (cp.async.bulk.tensor): one thread copies a whole 128 x 64 tile per instruction,
//     in the 128-byte swizzled layout wgmma reads without bank conflicts; out-of-range rows
//     and columns arrive as zeros. The descriptors of A and B are built on the host.
//   - Warp specialisation: warpgroup 0 only issues copies (and gives registers back with
//     setmaxnreg); warpgroups 1 and 2 each compute 64 rows of the 128 x 256 block tile, 128
//     accumulators a thread (setmaxnreg raises their register budget to 232).
//     Four stages of shared memory (48 KiB each), each with a "full" mbarrier (the copy has
//     landed) and an "empty" one (both consumers are done with it), let copies run ahead of
//     the math; a consumer releases a stage once the next stage's products are issued.
// Hypothesis: rung 8's mma.sync spends its issue slots on fragment loads and waits at
//   barriers; wgmma + TMA take both off the threads, so the tensor cores stay busy.
// Expect: 70-90% of cuBLAS BF16 (about 730 TFLOP/s at n = 4096). Needs sm_90 (Hopper),
//   compiled as sm_90a. Accuracy: BF16's, about 4e-3 relative per product.
#include "wgmma.cuh"
#include "bf16.cuh"

#define BM 128
#define BN 256
#define BK 64          // 64 BF16 = 128 bytes: one swizzle row
#define STAGES 4
#define CONSUMERS 2
#define TILE_A (BM * BK)
#define TILE_B (BN * BK)
#define SHARED_BYTES (STAGES * (TILE_A + TILE_B) * 2 + 2 * STAGES * 8 + 1024)

extern "C" __global__ void __launch_bounds__(128 * (CONSUMERS + 1), 1)
mm_bf16_wgmma(int M, int N, int K, const __grid_constant__ TensorMap map_a,
              const __grid_constant__ TensorMap map_b, float *C)
{
    extern __shared__ __align__(1024) unsigned char shared_raw[];
    // The swizzled tiles must start on 1,024-byte boundaries.
    bf16_t *sa = reinterpret_cast<bf16_t *>(((size_t)shared_raw + 1023) & ~(size_t)1023);
    bf16_t *sb = sa + STAGES * TILE_A;
    uint64_t *full = reinterpret_cast<uint64_t *>(sb + STAGES * TILE_B);
    uint64_t *empty = full + STAGES;
    const int warpgroup = threadIdx.x / 128, t = threadIdx.x % 128;
    const int bi = blockIdx.y * BM, bj = blockIdx.x * BN;
    const int tiles = (K + BK - 1) / BK;

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
            for (int kt = 0; kt < tiles; kt++) {
                const int s = kt % STAGES;
                if (kt >= STAGES)   // wait until both consumers released this stage's last use
                    barrier_wait(&empty[s], (kt / STAGES - 1) & 1);
                barrier_arrive_expecting(&full[s], (TILE_A + TILE_B) * 2);
                tma_load(sa + s * TILE_A, &map_a, &full[s], kt * BK, bi);
                tma_load(sb + s * TILE_B, &map_b, &full[s], kt * BK, bj);
            }
        }
    } else {                // the consumers
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
        const int row0 = (warpgroup - 1) * 64;   // this consumer's rows of the block tile
        float d[128];
#pragma unroll
        for (int i = 0; i < 128; i++)
            d[i] = 0.0f;
        for (int kt = 0; kt < tiles; kt++) {
            const int s = kt % STAGES;
            barrier_wait(&full[s], (kt / STAGES) & 1);
            const bf16_t *a = sa + s * TILE_A + row0 * BK, *b = sb + s * TILE_B;
            wgmma_fence();
#pragma unroll
            for (int k = 0; k < BK; k += 16)   // 16 elements = 32 bytes along the swizzled row
                wgmma_bf16_m64n256k16(d, descriptor(a + k), descriptor(b + k));
            wgmma_commit();
            wgmma_wait_one();   // the previous stage's products are done: release it
            if (t == 0 && kt > 0)
                barrier_arrive(&empty[(kt - 1) % STAGES]);
        }
        wgmma_wait_all();

        const int warp = t / 32, g = (t % 32) / 4, q = t % 4;
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
