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
typedef unsigned long long uint64_t;
typedef unsigned short bf16_t;

#define BM 128
#define BN 256
#define BK 64          // 64 BF16 = 128 bytes: one swizzle row
#define STAGES 4
#define CONSUMERS 2
#define TILE_A (BM * BK)
#define TILE_B (BN * BK)
#define SHARED_BYTES (STAGES * (TILE_A + TILE_B) * 2 + 2 * STAGES * 8 + 1024)

// The host's CUtensorMap, 128 opaque bytes passed by value.
struct __align__(64) TensorMap { uint64_t opaque[16]; };

__device__ __forceinline__ unsigned shared_address(const void *p)
{
    return (unsigned)__cvta_generic_to_shared(p);
}

// mbarriers: a count of arrivals plus a count of bytes still to land; a phase completes when
// both reach zero, and waiting is on the parity of the phase.
__device__ __forceinline__ void barrier_init(uint64_t *bar, unsigned arrivals)
{
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" :: "r"(shared_address(bar)), "r"(arrivals));
}

__device__ __forceinline__ void barrier_arrive(uint64_t *bar)
{
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" :: "r"(shared_address(bar)) : "memory");
}

__device__ __forceinline__ void barrier_arrive_expecting(uint64_t *bar, unsigned bytes)
{
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n"
                 :: "r"(shared_address(bar)), "r"(bytes) : "memory");
}

__device__ __forceinline__ void barrier_wait(uint64_t *bar, unsigned parity)
{
    asm volatile("{\n.reg .pred done;\nWAIT:\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
                 "@!done bra WAIT;\n}\n"
                 :: "r"(shared_address(bar)), "r"(parity) : "memory");
}

// TMA: the box of the tensor map at (column c, row r) into dst; completion counted on bar.
__device__ __forceinline__ void tma_load(void *dst, const TensorMap *map, uint64_t *bar, int c, int r)
{
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
                 " [%0], [%1, {%3, %4}], [%2];\n"
                 :: "r"(shared_address(dst)), "l"(map), "r"(shared_address(bar)), "r"(c), "r"(r)
                 : "memory");
}

// A shared-memory matrix descriptor for a K-major tile of 64-element (128-byte) rows in the
// 128-byte swizzle: start address, stride between 8-row groups 1,024 bytes, swizzle mode 1.
__device__ __forceinline__ uint64_t descriptor(const bf16_t *p)
{
    const uint64_t address = shared_address(p);
    return ((address & 0x3FFFF) >> 4) | (1ull << 16) | ((uint64_t)(1024 >> 4) << 32) | (1ull << 62);
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait_all() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait_one() { asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory"); }

// d (+)= A B for a 64 x 256 x 16 piece; A and B in shared memory, named by descriptors.
// d's layout: warp w of the warpgroup holds rows 16w..16w+15; for the 8 columns 8j..8j+7,
// lane (g = lane / 4, q = lane % 4) holds d[4j..4j+3] = (g, 2q) (g, 2q+1) (g+8, 2q) (g+8, 2q+1).
__device__ __forceinline__ void wgmma_m64n256k16(float d[128], uint64_t desc_a, uint64_t desc_b)
{
    asm volatile(
        "{\n.reg .pred accumulate;\nsetp.ne.b32 accumulate, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, "
        "%128, %129, accumulate, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
          "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
          "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
          "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
          "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
          "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "l"(desc_a), "l"(desc_b), "r"(1));
}

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
                wgmma_m64n256k16(d, descriptor(a + k), descriptor(b + k));
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

// FP32 -> BF16, rounded to nearest even (NaN stays NaN). Y (ld columns, zeroed by the host
// past the data) gets X (rows x cols) or, with transpose, its transpose.
__device__ __forceinline__ bf16_t to_bf16(float x)
{
    const unsigned u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (bf16_t)((u >> 16) | 0x40);
    return (bf16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

extern "C" __global__ void to_bf16_matrix(const float *X, int rows, int cols, int transpose,
                                          bf16_t *Y, int ld)
{
    const int c = blockIdx.x * blockDim.x + threadIdx.x, r = blockIdx.y * blockDim.y + threadIdx.y;
    if (r >= rows || c >= cols)
        return;
    const bf16_t v = to_bf16(X[(size_t)r * cols + c]);
    if (transpose)
        Y[(size_t)c * ld + r] = v;
    else
        Y[(size_t)r * ld + c] = v;
}
