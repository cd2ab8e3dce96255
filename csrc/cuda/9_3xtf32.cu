// Rung 9 (cuda_3xtf32): FP32 accuracy from TF32 tensor cores, three products per step.
// Changed from rung 8:
//   - Each input x is split into big = tf32(x) and small = tf32(x - big); together they
//     carry about 21 of FP32's 24 mantissa bits.
//   - a b = a_big b_big + a_big b_small + a_small b_big + a_small b_small; the last term is
//     below FP32's rounding and is dropped. The three others are three mma.sync, the small
//     ones first so that they are not lost against the big one.
// Hypothesis: three tensor-core passes still cost less than one pass on the FP32 pipes
//   (3 x 67 < 495 TFLOP/s), and the answer is as accurate as FP32 SGEMM.
// Expect: 1.5-2.5x cuBLAS FP32 SGEMM, within the same FP32 error bound as the SIMT rungs.
#include "mma_pipeline.cuh"

__device__ __forceinline__ void split(float x, unsigned &big, unsigned &small)
{
    big = to_tf32(x);
    small = to_tf32(x - __uint_as_float(big));
}

struct ThreePasses {
    static __device__ __forceinline__ void step(float acc[PIECES_M][PIECES_N][4],
                                                const float a[PIECES_M][4], const float b[PIECES_N][2])
    {
        unsigned a_big[PIECES_M][4], a_small[PIECES_M][4], b_big[PIECES_N][2], b_small[PIECES_N][2];
#pragma unroll
        for (int i = 0; i < PIECES_M; i++)
#pragma unroll
            for (int e = 0; e < 4; e++)
                split(a[i][e], a_big[i][e], a_small[i][e]);
#pragma unroll
        for (int j = 0; j < PIECES_N; j++)
#pragma unroll
            for (int e = 0; e < 2; e++)
                split(b[j][e], b_big[j][e], b_small[j][e]);
#pragma unroll
        for (int i = 0; i < PIECES_M; i++)
#pragma unroll
            for (int j = 0; j < PIECES_N; j++) {
                mma_tf32(acc[i][j], a_small[i], b_big[j]);
                mma_tf32(acc[i][j], a_big[i], b_small[j]);
                mma_tf32(acc[i][j], a_big[i], b_big[j]);
            }
    }
};

extern "C" __global__ void __launch_bounds__(256, 1)
mm_3xtf32(int M, int N, int K, const float *A, const float *B, float *C, int aligned)
{
    mma_gemm<ThreePasses>(M, N, K, A, B, C, aligned);
}
