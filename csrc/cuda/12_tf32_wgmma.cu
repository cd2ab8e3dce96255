// Rung 12 (cuda_tf32_wgmma): TF32 on Hopper's wgmma, with rung 10's pipeline.
// Changed from rung 10:
//   - TF32 inputs (10-bit mantissa) from FP32 data: wgmma.mma_async m64n256k8 .tf32 reads
//     FP32 words from shared memory and uses their top 19 bits. A 128-byte swizzle row is
//     32 of them, so a k-tile is 32 deep (rung 10: 64 BF16) and each stage takes 4
//     instructions of k = 8 a consumer; the stage is the same 48 KiB (128 x 32 of A and
//     256 x 32 of B, FP32), the same 4 stages, the same producer and consumers.
//   - TF32 wgmma has no transposed form: both operands must be K-major in shared memory.
//     A (M x K, row-major) already is; B (K x N) is not, so B is transposed on the way in: the
//     host's call runs to_tf32_matrix (tf32.cuh), a tiled transpose that also rounds B to the
//     nearest TF32, into N x K' (K' = K rounded up to 4, for TMA's 16-byte row stride), then
//     the GEMM. That transpose is part of every call and of its time: cuBLAS TF32 starts from
//     the same FP32 row-major inputs. A is read in place by TMA when its rows are a multiple
//     of 16 bytes and it is 16-byte aligned; otherwise it is copied into a padded one first
//     (rounded to nearest, not transposed), also inside the call.
//   - rung 8 (mma.sync) stays as the Ampere-style step before this one.
// Hypothesis: rung 8 is limited by its feed (scalar fragment loads from shared memory, in
//   line with its mma.syncs, one block of 8 warps per SM), not by its tensor-core work;
//   wgmma reads its operands from shared memory itself, and TMA fills it, as in rung 10.
// Expect: about rung 10's share of its cuBLAS, less the transpose of B (2 x 4 N K bytes
//   through memory: a few percent at n = 4096): 70-85% of cuBLAS TF32, about 3x rung 8.
//   Accuracy: A truncated to TF32 by the tensor core, B rounded to nearest; FP32 sums of
//   k = 8 products that the tensor core itself sums with truncation.
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
mm_tf32_wgmma(int M, int N, int K, const __grid_constant__ TensorMap map_a,
              const __grid_constant__ TensorMap map_b, float *C)
{
    extern __shared__ __align__(1024) unsigned char shared_raw[];
    // The swizzled tiles must start on 1,024-byte boundaries.
    float *sa = reinterpret_cast<float *>(((size_t)shared_raw + 1023) & ~(size_t)1023);
    float *sb = sa + STAGES * TILE_A;
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
                barrier_arrive_expecting(&full[s], (TILE_A + TILE_B) * 4);
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
            const float *a = sa + s * TILE_A + row0 * BK, *b = sb + s * TILE_B;
            wgmma_fence();
#pragma unroll
            for (int k = 0; k < BK; k += 8)   // 8 elements = 32 bytes along the swizzled row
                wgmma_tf32_m64n256k8(d, descriptor(a + k), descriptor(b + k));
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
