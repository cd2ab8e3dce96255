// Rung 8 (cuda_tf32_mma): tensor cores through mma.sync, TF32 inputs, FP32 accumulation.
// Changed from rung 7:
//   - The multiply-adds leave the FP32 pipes for the tensor cores: one warp instruction,
//     mma.sync m16n8k8, does a 16 x 8 x 8 product (1,024 multiply-adds). Each warp keeps a
//     64 x 64 tile of C as 4 x 8 such pieces (128 accumulators a thread); the block, 128 x 256.
//   - Inputs enter the fragments as FP32 bit patterns; the tensor core reads their top 19
//     bits, i.e. truncates them to TF32 (10-bit mantissa, FP32's exponent). No conversion
//     instruction: at one mma per SM per cycle, every extra instruction costs issue slots.
//     Products are summed in FP32.
//   - Tiles travel global -> shared by cp.async, 3 stages deep: two k-tiles are in flight
//     while the warps compute on a third, with no registers held for the copies.
// Hypothesis: the SIMT rungs are bound by the FP32 pipes' 67 TFLOP/s; dense TF32 on the
//   tensor cores peaks near 495, so the bound moves to feeding them from shared memory.
// Expect: well past cuBLAS FP32; 50-80% of cuBLAS TF32 (mma.sync is not Hopper's fastest
//   path: wgmma is, rung 10). Accuracy: TF32's, below 2^-9 relative per product.
#include "mma_pipeline.cuh"

struct OnePass {
    static __device__ __forceinline__ void step(float acc[PIECES_M][PIECES_N][4],
                                                const float a[PIECES_M][4], const float b[PIECES_N][2])
    {
        unsigned ta[PIECES_M][4], tb[PIECES_N][2];
#pragma unroll
        for (int i = 0; i < PIECES_M; i++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                ta[i][e] = __float_as_uint(a[i][e]);
#pragma unroll
        for (int j = 0; j < PIECES_N; j++)
#pragma unroll
            for (int e = 0; e < 2; e++)
                tb[j][e] = __float_as_uint(b[j][e]);
#pragma unroll
        for (int i = 0; i < PIECES_M; i++)
#pragma unroll
            for (int j = 0; j < PIECES_N; j++)
                mma_tf32(acc[i][j], ta[i], tb[j]);
    }
};

extern "C" __global__ void __launch_bounds__(256, 1)
mm_tf32_mma(int M, int N, int K, const float *A, const float *B, float *C, int aligned)
{
    mma_gemm<OnePass>(M, N, K, A, B, C, aligned);
}
