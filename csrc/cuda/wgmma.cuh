// Shared by the Hopper rungs (10-14): the pieces of a wgmma + TMA pipeline, each a thin
// wrapper of one PTX instruction. Needs sm_90a. Every rung that includes this header defines
// its own tile sizes and kernel.
#pragma once

typedef unsigned long long uint64_t;

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

// A shared-memory matrix descriptor for a K-major tile of 128-byte rows (64 BF16 or 32 TF32)
// in the 128-byte swizzle: start address, stride between 8-row groups 1,024 bytes, swizzle
// mode 1. The start may step along a row in 32-byte pieces (one k16 BF16 or k8 TF32 slice).
__device__ __forceinline__ uint64_t descriptor(const void *p)
{
    const uint64_t address = shared_address(p);
    return ((address & 0x3FFFF) >> 4) | (1ull << 16) | ((uint64_t)(1024 >> 4) << 32) | (1ull << 62);
}

// The persistent rungs' (11, 13, 14) tile order. Tile t of the grouped order -> its tile row
// ti and tile column tj. Groups of GROUP_M tile rows (the last group may have fewer) are taken
// one after another; inside a group, t walks down the group's rows, then on to the next
// column, so that the tiles running at once share GROUP_M panels of A and a few of B in L2.
// A bijection of [0, rows * cols).
#define GROUP_M 8
__device__ __forceinline__ void grouped_tile(int t, int tile_rows, int tile_cols, int &ti, int &tj)
{
    const int per_group = GROUP_M * tile_cols;
    const int first = (t / per_group) * GROUP_M;
    const int rows = min(tile_rows - first, GROUP_M);
    const int r = t % per_group;
    ti = first + r % rows;
    tj = r / rows;
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait_all() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait_one() { asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory"); }

// Pins accumulators in place after a wait: the compiler sees them written here, so it cannot
// move an instruction that reads them above the wait_group before it (CUTLASS's
// warpgroup_fence_operand).
template <int N>
__device__ __forceinline__ void wgmma_fence_operands(float (&r)[N])
{
#pragma unroll
    for (int i = 0; i < N; i++)
        asm volatile("" : "+f"(r[i]) :: "memory");
}

// The 128 accumulators of a 64 x 256 wgmma, as the asm operands %0..%127 (read and written).
// d's layout: warp w of the warpgroup holds rows 16w..16w+15; for the 8 columns 8j..8j+7,
// lane (g = lane / 4, q = lane % 4) holds d[4j..4j+3] = (g, 2q) (g, 2q+1) (g+8, 2q) (g+8, 2q+1).
#define WGMMA_D128 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}"
#define WGMMA_D128_OPERANDS(d) \
    "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
    "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
    "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
    "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
    "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
    "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
    "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
    "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), \
    "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), \
    "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), \
    "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), \
    "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), \
    "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), \
    "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), \
    "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), \
    "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])

// d += A B for a 64 x 256 x 16 piece of BF16; A and B in shared memory, named by
// descriptors, both K-major (imm-trans 0).
__device__ __forceinline__ void wgmma_bf16_m64n256k16(float d[128], uint64_t desc_a, uint64_t desc_b)
{
    asm volatile(
        "{\n.reg .pred accumulate;\nsetp.ne.b32 accumulate, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 " WGMMA_D128 ", "
        "%128, %129, accumulate, 1, 1, 0, 0;\n}\n"
        : WGMMA_D128_OPERANDS(d)
        : "l"(desc_a), "l"(desc_b), "r"(1));
}

// d += A B for a 64 x 256 x 8 piece of TF32 (the tensor core reads the top 19 bits of each
// FP32 word); A and B in shared memory, both K-major: TF32 wgmma has no transposed form.
__device__ __forceinline__ void wgmma_tf32_m64n256k8(float d[128], uint64_t desc_a, uint64_t desc_b)
{
    asm volatile(
        "{\n.reg .pred accumulate;\nsetp.ne.b32 accumulate, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k8.f32.tf32.tf32 " WGMMA_D128 ", "
        "%128, %129, accumulate, 1, 1;\n}\n"
        : WGMMA_D128_OPERANDS(d)
        : "l"(desc_a), "l"(desc_b), "r"(1));
}

// The 64 accumulators of a 64 x 128 wgmma, as %0..%63: the layout of WGMMA_D128's first 16
// groups of 8 columns.
#define WGMMA_D64 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define WGMMA_D64_OPERANDS(d) \
    "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
    "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
    "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
    "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), \
    "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
    "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
    "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
    "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])

// d = A B (accumulate 0) or d += A B (accumulate 1) for a 64 x 128 x 8 piece of TF32; A and B
// in shared memory, both K-major.
__device__ __forceinline__ void wgmma_tf32_m64n128k8(float d[64], uint64_t desc_a, uint64_t desc_b,
                                                     int accumulate)
{
    asm volatile(
        "{\n.reg .pred accumulate;\nsetp.ne.b32 accumulate, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k8.f32.tf32.tf32 " WGMMA_D64 ", "
        "%64, %65, accumulate, 1, 1;\n}\n"
        : WGMMA_D64_OPERANDS(d)
        : "l"(desc_a), "l"(desc_b), "r"(accumulate));
}
