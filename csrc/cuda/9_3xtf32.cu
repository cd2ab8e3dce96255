// Rung 9 (cuda_3xtf32): FP32 accuracy from TF32 tensor cores, three products per step.
// Changed from rung 8:
//   - Each input x is split into big = tf32(x) and small = tf32(x - big); together they
//     carry about 21 of FP32's 24 mantissa bits.
//   - a b = a_big b_big + a_big b_small + a_small b_big + a_small b_small; the last term is
//     below FP32's rounding and is dropped. The three others are three mma.sync: the two
//     small products into one fresh fragment, the big one into another.
//   - Both fragments of each 8-deep step are added to the accumulators with FP32 adds (round
//     to nearest), outside the tensor core. The tensor core truncates the sums it makes (Fasi
//     et al., PeerJ Comput. Sci. 2021): summing into the accumulators themselves, it drops up
//     to an ulp of the running sum at every step, always toward zero, an error that grows as
//     K. Truncated only at the scale of one step's partial sum, whose sign is random, the
//     error grows as sqrt(K), as FP32's does.
//   - An infinite input has a NaN small part (inf - inf), and meets the other operand's
//     small part of 0 as 0 x inf: where the small products alone are NaN, the big product,
//     which carries the infinity, is added alone.
// Hypothesis: three tensor-core passes still cost less than one pass on the FP32 pipes
//   (3 x 67 < 495 TFLOP/s), and the answer is as accurate as FP32 SGEMM.
// Expect: faster than cuBLAS FP32 only if the extra fragments and adds fit beside rung 8's
//   128 accumulators a thread; an error within a few times cuBLAS FP32's at every K.
#include "mma_pipeline.cuh"

__device__ __forceinline__ void split(float x, unsigned &big, unsigned &small)
{
    big = to_tf32(x);
    small = to_tf32(x - __uint_as_float(big));   // NaN where x is infinite: see below
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
                float big[4], small[4];
                mma_tf32_from_zero(small, a_small[i], b_big[j]);
                mma_tf32(small, a_big[i], b_small[j]);
                mma_tf32_from_zero(big, a_big[i], b_big[j]);
#pragma unroll
                for (int e = 0; e < 4; e++)   // round to nearest, outside the tensor core; a
                    // NaN of the small products alone comes of an infinite input (its small
                    // part, or 0 x its big part): the big product carries that infinity
                    acc[i][j][e] += isnan(small[e]) ? big[e] : big[e] + small[e];
            }
    }
};

extern "C" __global__ void __launch_bounds__(256, 1)
mm_3xtf32(int M, int N, int K, const float *A, const float *B, float *C, int aligned)
{
    mma_gemm<ThreePasses>(M, N, K, A, B, C, aligned);
}
