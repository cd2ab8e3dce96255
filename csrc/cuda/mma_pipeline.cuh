// Shared by the tensor-core rungs 8 and 9: a 128 x 256 block tile of C, computed by 8 warps
// (2 x 4, each 64 x 64) with the warp-level tensor-core instruction mma.sync m16n8k8 (TF32
// inputs, FP32 accumulation), fed by a 3-stage cp.async pipeline of 32-deep k-tiles. A warp
// tile of 64 x 64 is 4 x 8 pieces of 16 x 8: per 8-deep step, 12 fragment loads feed 32 mma.
// The rung decides what one k-step does with the fragments (the `Pass` policy): one product
// of the rounded values (rung 8) or three products of their big and small parts (rung 9).
#pragma once

#define BM 128
#define BN 256
#define BK 32
#define STAGES 3
#define A_LD (BK + 4)   // padded row of the A tile: a fragment's 32 reads hit 32 banks
#define B_LD (BN + 8)   // padded row of the B tile: the same for B's fragments
#define STAGE_FLOATS (BM * A_LD + BK * B_LD)
#define SHARED_BYTES (STAGES * STAGE_FLOATS * 4)   // 156,672: opted in by the host
#define PIECES_M 4   // 16-row pieces of a warp tile
#define PIECES_N 8   // 8-column pieces

__device__ __forceinline__ unsigned shared_address(const void *p)
{
    return (unsigned)__cvta_generic_to_shared(p);
}

// cp.async: global -> shared without a register round trip; src_bytes 0 writes zeros.
__device__ __forceinline__ void copy16(float *dst, const float *src, bool inside)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n"
                 :: "r"(shared_address(dst)), "l"(src), "r"(inside ? 16 : 0));
}

__device__ __forceinline__ void copy4(float *dst, const float *src, bool inside)
{
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n"
                 :: "r"(shared_address(dst)), "l"(src), "r"(inside ? 4 : 0));
}

__device__ __forceinline__ void copies_commit() { asm volatile("cp.async.commit_group;\n"); }

template <int PENDING>
__device__ __forceinline__ void copies_wait() { asm volatile("cp.async.wait_group %0;\n" :: "n"(PENDING)); }

// One ROWS x COLS tile of the row-major rows x cols matrix X, from (r0, c0), into shared
// memory with row stride LD. `aligned` (cols a multiple of 4, X 16-byte aligned) allows
// 16-byte copies; otherwise every element is copied alone. Outside X, zeros.
template <int ROWS, int COLS, int LD>
__device__ __forceinline__ void load_tile(float *s, const float *X, int rows, int cols,
                                          int r0, int c0, int t, bool aligned)
{
#pragma unroll
    for (int f = t; f < ROWS * COLS / 4; f += 256) {
        const int r = f / (COLS / 4), c = (f % (COLS / 4)) * 4;
        const int gr = r0 + r, gc = c0 + c;
        float *d = s + r * LD + c;
        if (aligned) {
            const bool inside = gr < rows && gc < cols;
            copy16(d, inside ? X + (size_t)gr * cols + gc : X, inside);
        } else {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const bool inside = gr < rows && gc + e < cols;
                copy4(d + e, inside ? X + (size_t)gr * cols + gc + e : X, inside);
            }
        }
    }
}

// FP32 -> TF32, rounded to nearest (ties away), as a 32-bit register mma.sync takes.
__device__ __forceinline__ unsigned to_tf32(float x)
{
    unsigned u;
    asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(u) : "f"(x));
    return u;
}

// d += a b for one 16 x 8 x 8 piece. Fragments (g = lane / 4, q = lane % 4):
//   a: (g, q) (g + 8, q) (g, q + 4) (g + 8, q + 4); b: (q, g) (q + 4, g);
//   d: (g, 2q) (g, 2q + 1) (g + 8, 2q) (g + 8, 2q + 1).
__device__ __forceinline__ void mma_tf32(float d[4], const unsigned a[4], const unsigned b[2])
{
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// d = a b for one piece, from a zero accumulator (rung 9's fresh partial sums).
__device__ __forceinline__ void mma_tf32_from_zero(float d[4], const unsigned a[4], const unsigned b[2])
{
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %10, %10, %10};\n"
                 : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(0.0f));
}

// C = A B for row-major float32 A (M x K), B (K x N), C (M x N); any sizes.
template <class Pass>
__device__ __forceinline__ void mma_gemm(int M, int N, int K, const float *A, const float *B,
                                         float *C, int aligned)
{
    extern __shared__ __align__(16) float smem[];
    const int t = threadIdx.x, warp = t / 32, lane = t % 32, g = lane / 4, q = lane % 4;
    const int bi = blockIdx.y * BM, bj = blockIdx.x * BN;
    const int wm = (warp / 4) * 64, wn = (warp % 4) * 64;
    const bool aligned_a = aligned && K % 4 == 0, aligned_b = aligned && N % 4 == 0;
    const int tiles = (K + BK - 1) / BK;
    float acc[PIECES_M][PIECES_N][4] = {};   // [m piece][n piece][fragment]

    auto load_stage = [&](int stage, int tile) {
        float *as = smem + stage * STAGE_FLOATS, *bs = as + BM * A_LD;
        load_tile<BM, BK, A_LD>(as, A, M, K, bi, tile * BK, t, aligned_a);
        load_tile<BK, BN, B_LD>(bs, B, K, N, tile * BK, bj, t, aligned_b);
    };
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < tiles)
            load_stage(s, s);
        copies_commit();   // one group per stage, empty or not, keeps the count simple
    }
    for (int kt = 0; kt < tiles; kt++) {
        copies_wait<STAGES - 2>();   // tile kt has landed (for this thread)...
        __syncthreads();             // ...for all threads, and tile kt - 1 is no longer read
        if (kt + STAGES - 1 < tiles)
            load_stage((kt + STAGES - 1) % STAGES, kt + STAGES - 1);
        copies_commit();
        const float *as = smem + (kt % STAGES) * STAGE_FLOATS, *bs = as + BM * A_LD;
#pragma unroll
        for (int kk = 0; kk < BK; kk += 8) {
            float a[PIECES_M][4], b[PIECES_N][2];
#pragma unroll
            for (int i = 0; i < PIECES_M; i++) {
                const float *p = as + (wm + 16 * i + g) * A_LD + kk + q;
                a[i][0] = p[0];
                a[i][1] = p[8 * A_LD];
                a[i][2] = p[4];
                a[i][3] = p[8 * A_LD + 4];
            }
#pragma unroll
            for (int j = 0; j < PIECES_N; j++) {
                const float *p = bs + (kk + q) * B_LD + wn + 8 * j + g;
                b[j][0] = p[0];
                b[j][1] = p[4 * B_LD];
            }
            Pass::step(acc, a, b);
        }
    }
#pragma unroll
    for (int i = 0; i < PIECES_M; i++)
#pragma unroll
        for (int j = 0; j < PIECES_N; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int row = bi + wm + 16 * i + g + 8 * (e / 2);
                const int col = bj + wn + 8 * j + 2 * q + e % 2;
                if (row < M && col < N)
                    C[(size_t)row * N + col] = acc[i][j][e];
            }
}
