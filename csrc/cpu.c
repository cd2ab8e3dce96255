/* Run-time facts about this CPU: which micro-kernel it can run, its cache sizes, and the
 * block sizes derived from them. Compiled for the baseline ISA, so it runs anywhere. */
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#include "ladder.h"

int ladder_best_isa(void)
{
    /* __builtin_cpu_supports reads CPUID and checks that the OS saves the wide registers. */
    __builtin_cpu_init();
    /* Every AVX-512 CPU also has AVX2 and FMA, which set_isa (lowering to AVX2) and the
     * few-rows loop in simd.c rely on; checked all the same. */
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2 && __builtin_cpu_supports("avx512f"))
        return LADDER_ISA_AVX512;
    return avx2 ? LADDER_ISA_AVX2 : LADDER_ISA_NONE;
}

static atomic_int active_isa = -1;

int ladder_active_isa(void)
{
    int isa = atomic_load(&active_isa);
    if (isa < 0) {
        isa = ladder_best_isa();
        atomic_store(&active_isa, isa);
    }
    return isa;
}

int ladder_set_isa(int isa)
{
    if (isa < LADDER_ISA_NONE || isa > ladder_best_isa())
        return -1;
    atomic_store(&active_isa, isa);
    return 0;
}

int ladder_has_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

static size_t read_sys_cache(int level)
{
    /* Linux sysfs, for where sysconf does not know (non-glibc, some VMs). */
    for (int index = 0; index < 8; index++) {
        char path[96], type[32] = "";
        int lvl = 0;
        unsigned long kib = 0;
        FILE *f;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", index);
        if (!(f = fopen(path, "r"))) break;
        if (fscanf(f, "%d", &lvl) != 1) lvl = 0;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", index);
        if (!(f = fopen(path, "r"))) continue;
        if (fscanf(f, "%31s", type) != 1) type[0] = 0;
        fclose(f);
        if (lvl != level || type[0] == 'I') continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", index);
        if (!(f = fopen(path, "r"))) continue;
        if (fscanf(f, "%luK", &kib) != 1) kib = 0;
        fclose(f);
        return kib * 1024;
    }
    return 0;
}

static size_t read_cache_bytes(int level)
{
    static const size_t fallback[4] = {0, 32 << 10, 256 << 10, 8 << 20};
    long bytes = 0;
#if defined(_SC_LEVEL1_DCACHE_SIZE)
    const int names[4] = {0, _SC_LEVEL1_DCACHE_SIZE, _SC_LEVEL2_CACHE_SIZE, _SC_LEVEL3_CACHE_SIZE};
    bytes = sysconf(names[level]);
#endif
    if (bytes <= 0)
        bytes = (long)read_sys_cache(level);
    return bytes > 0 ? (size_t)bytes : fallback[level];
}

size_t ladder_cache_bytes(int level)
{
    /* Read once per level: every c_simd/c_omp/c_blocked call derives its blocks from these,
     * and the sysfs fallback opens files. */
    static atomic_size_t known[4];
    if (level < 1 || level > 3)
        return 0;
    size_t bytes = atomic_load(&known[level]);
    if (!bytes) {
        bytes = read_cache_bytes(level);
        atomic_store(&known[level], bytes);
    }
    return bytes;
}

static size_t clamp_multiple(size_t x, size_t lo, size_t hi, size_t multiple)
{
    x = x < lo ? lo : x > hi ? hi : x;
    x -= x % multiple;
    return x < multiple ? multiple : x;
}

static atomic_size_t override_mc, override_kc, override_nc;

void ladder_set_gemm_blocking(size_t mc, size_t kc, size_t nc)
{
    atomic_store(&override_mc, mc);
    atomic_store(&override_kc, kc);
    atomic_store(&override_nc, nc);
}

ladder_blocking ladder_gemm_blocking(size_t elem, int isa)
{
    ladder_blocking b;
    const size_t l1 = ladder_cache_bytes(1), l2 = ladder_cache_bytes(2);
    b.mr = isa == LADDER_ISA_AVX512 ? UK_AVX512_MR : UK_AVX2_MR;
    if (isa == LADDER_ISA_AVX512)
        b.nr = elem == 4 ? UK_AVX512_NR_S : UK_AVX512_NR_D;
    else
        b.nr = elem == 4 ? UK_AVX2_NR_S : UK_AVX2_NR_D;
    /* Chosen by experiments/tune_blocking.py on Sapphire Rapids (48 KiB L1, 2 MiB L2), where
     * at n >= 2048 the sizes below won over the textbook "B micro-panel in half of L1" (KC 192)
     * by 15-25% (for small C see kc_short below):
     * a long KC amortises the load and store of the C tile, the micro-kernel's only traffic
     * to memory.
     * KC: one MR x KC micro-panel of A fills L1 (fp32 AVX-512: 1024, fp64: 512). */
    b.kc = clamp_multiple(l1 / (b.mr * elem), 128, 1024, 8);
    /* MC: the MC x KC block of A takes 3/16 of L2 (96 rows here), leaving most of L2 to B's
     * micro-panel, the next one being warmed, and C. In round-robin sweeps at n = 1024-4096,
     * MC 96-120 beat 192 (3/8 of L2) by 1-5% on 1 thread in both dtypes, and on 2 threads
     * at n >= 2048; MC 48 lost 4-5%. */
    b.mc = clamp_multiple(3 * l2 / (16 * b.kc * elem), 2 * b.mr, 4096, b.mr);
    /* NC: the KC x NC panel of B is read again by every block of A, and A is packed N/NC
     * times. Where L3 holds four such panels, the panel takes 8x L2 (16 MiB here: NC 4096 in
     * both dtypes), else 2x L2 (NC_short's width). In round-robin sweeps here at n = 2048-4096
     * the 16 MiB panel beat the 4 MiB one by 2-3% on 1 thread and 0-2% on 2 (it lost ~10%
     * before the micro-kernel prefetched the next B micro-panel into L2). A VM reports the
     * host's whole L3 (480 MiB here), not its share of it: hence the cap at 8x L2.
     * With the short KC below, the panel keeps the 2x-L2 width (NC_short): there is one A
     * block or a small C, and the wide panel lost 3-8% at 64x4096x4096. */
    const size_t b_panel = ladder_cache_bytes(3) >= 32 * l2 ? 8 * l2 : 2 * l2;
    b.nc = clamp_multiple(b_panel / (b.kc * elem), 4 * b.nr, 4096, b.nr);
    b.nc_short = clamp_multiple(2 * l2 / (b.kc * elem), 4 * b.nr, 4096, b.nr);
    /* The long KC pays for itself only by cutting the passes over C, which matter when C
     * is large. When C is at most 4x L2, or M < MC (one A block), a short KC wins: a KC x NR
     * micro-panel of B in 2/3 of L1 (256 either dtype here), which stays in L1 while the
     * A micro-panels stream past. In-process sweeps here: +12-37% at n = 512-1024 (C of
     * 1-8 MiB), +4-67% for M = 32-128; the long KC won by 4-7% at n >= 2048 in float32. */
    b.kc_short = clamp_multiple(2 * l1 / (3 * b.nr * elem), 64, b.kc, 64);
    b.c_small = 4 * l2;
    /* A tuning sweep may override any of them (0 keeps the derived value). */
    if (atomic_load(&override_kc))
        b.kc = b.kc_short = clamp_multiple(atomic_load(&override_kc), 8, 1 << 16, 8);
    if (atomic_load(&override_mc)) b.mc = clamp_multiple(atomic_load(&override_mc), b.mr, 1 << 16, b.mr);
    if (atomic_load(&override_nc))
        b.nc = b.nc_short = clamp_multiple(atomic_load(&override_nc), b.nr, 1 << 20, b.nr);
    return b;
}

ladder_tiles ladder_blocked_tiles(size_t elem)
{
    ladder_tiles t;
    /* A row segment of C (NB values) takes a quarter of L1; a KB x NB tile of B half of L2. */
    t.nb = clamp_multiple(ladder_cache_bytes(1) / (4 * elem), 64, 1 << 16, 16);
    t.kb = clamp_multiple(ladder_cache_bytes(2) / (2 * t.nb * elem), 8, 1 << 16, 1);
    return t;
}
