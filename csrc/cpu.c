/* Run-time facts about this CPU: which micro-kernel it can run and its cache geometry.
 * Compiled for the baseline ISA, so it runs anywhere. Cache geometry comes from Linux's
 * sysfs, then sysconf (glibc), then macOS's sysctl, then Windows's
 * GetLogicalProcessorInformation, then typical values. */
#include <stdatomic.h>
#include <stdio.h>
#if defined(__APPLE__)
#include <sys/sysctl.h>
#endif
#include "ladder.h"
#if defined(LADDER_X86) && defined(LADDER_MSVC)
#include <immintrin.h>
#include <intrin.h>
#define X86_KERNELS 1
/* MSVC has no __builtin_cpu_supports: what it checks, by hand. The CPUID feature bits, and
 * that the OS saves the registers (OSXSAVE, then XCR0: the SSE and AVX state for AVX2; the
 * opmask and both parts of the upper ZMM state too for AVX-512). */
static int msvc_best_isa(void)
{
    int r[4]; /* EAX, EBX, ECX, EDX */
    __cpuidex(r, 0, 0);
    const int max_leaf = r[0];
    __cpuidex(r, 1, 0);
    const int fma = (r[2] >> 12) & 1, osxsave = (r[2] >> 27) & 1, avx = (r[2] >> 28) & 1;
    if (max_leaf < 7 || !osxsave || !avx || !fma)
        return LADDER_ISA_NONE;
    const unsigned long long xcr0 = _xgetbv(0);
    if ((xcr0 & 0x6) != 0x6)
        return LADDER_ISA_NONE;
    __cpuidex(r, 7, 0);
    const int avx2 = (r[1] >> 5) & 1, avx512f = (r[1] >> 16) & 1;
    if (!avx2)
        return LADDER_ISA_NONE;
    return avx512f && (xcr0 & 0xE6) == 0xE6 ? LADDER_ISA_AVX512 : LADDER_ISA_AVX2;
}
#elif defined(LADDER_X86) && (defined(__GNUC__) || defined(__clang__))
#define X86_KERNELS 1
#endif

int ladder_best_isa(void)
{
#if defined(X86_KERNELS) && defined(LADDER_MSVC)
    return msvc_best_isa();
#elif defined(X86_KERNELS)
    /* __builtin_cpu_supports reads CPUID and checks that the OS saves the wide registers.
     * The AVX-512 path also uses AVX2 + FMA (few_rows.c, and ladder_set_isa lowering to
     * AVX2), which every AVX-512 CPU has; checked all the same. */
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx2 && __builtin_cpu_supports("avx512f"))
        return LADDER_ISA_AVX512;
    return avx2 ? LADDER_ISA_AVX2 : LADDER_ISA_NONE;
#elif defined(LADDER_ARM64)
    return LADDER_ISA_NEON;
#else
    return LADDER_ISA_NONE;
#endif
}

int ladder_isa_compiled(int isa)
{
#if defined(X86_KERNELS)
    return isa == LADDER_ISA_AVX2 || isa == LADDER_ISA_AVX512;
#elif defined(LADDER_ARM64)
    return isa == LADDER_ISA_NEON;
#else
    (void)isa;
    return 0;
#endif
}

int ladder_isa_usable(int isa)
{
    const int best = ladder_best_isa();
    return isa == LADDER_ISA_NONE || isa == best ||
           (isa == LADDER_ISA_AVX2 && best == LADDER_ISA_AVX512);
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
    if (!ladder_isa_usable(isa))
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

/* Linux sysfs: what the kernel (or a VM's hypervisor) exposes for cpu0. Preferred over
 * sysconf, which on some VMs reports the host's whole L3. Elsewhere (under Wine too, whose
 * Z: drive would show the Linux host's) nothing. */
#if defined(__linux__)
static unsigned long read_number(const char *dir, const char *name)
{
    char path[128];
    unsigned long value = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (fscanf(f, "%lu", &value) != 1) /* "32K" reads as 32 */
        value = 0;
    fclose(f);
    return value;
}

static ladder_cache read_sysfs(int level)
{
    ladder_cache c = {0, 0, 0};
    for (int index = 0; index < 8; index++) {
        char dir[64], type[32] = "";
        snprintf(dir, sizeof dir, "/sys/devices/system/cpu/cpu0/cache/index%d", index);
        const unsigned long lvl = read_number(dir, "level");
        if (!lvl)
            break;
        char path[96];
        snprintf(path, sizeof path, "%s/type", dir);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%31s", type) != 1)
                type[0] = 0;
            fclose(f);
        }
        if ((int)lvl != level || type[0] == 'I')
            continue;
        c.bytes = read_number(dir, "size") * 1024;
        c.ways = read_number(dir, "ways_of_associativity");
        c.line = read_number(dir, "coherency_line_size");
        break;
    }
    return c;
}
#else
static ladder_cache read_sysfs(int level)
{
    (void)level;
    return (ladder_cache){0, 0, 0};
}
#endif

#if defined(__APPLE__)
static size_t sysctl_number(const char *name)
{
    unsigned long long v = 0;
    size_t size = sizeof v;
    if (sysctlbyname(name, &v, &size, NULL, 0) != 0)
        return 0;
    return size == 4 ? (size_t)(unsigned)v : (size_t)v; /* some keys are 32-bit */
}

/* macOS: the performance cores' caches (hw.perflevel0, Apple Silicon), else hw.*. The
 * associativity is not published; typical values stand in for it. */
static ladder_cache read_sysctl(int level)
{
    static const char *const perf[4] = {"", "hw.perflevel0.l1dcachesize",
                                        "hw.perflevel0.l2cachesize", ""};
    static const char *const plain[4] = {"", "hw.l1dcachesize", "hw.l2cachesize",
                                         "hw.l3cachesize"};
    ladder_cache c = {0, 0, 0};
    if (perf[level][0]) c.bytes = sysctl_number(perf[level]);
    if (!c.bytes) c.bytes = sysctl_number(plain[level]);
    c.line = sysctl_number("hw.cachelinesize");
    return c;
}
#endif

#if defined(_WIN32)
/* Windows: the data or unified cache of this level that the first logical processor uses
 * (GetLogicalProcessorInformation lists one entry per cache instance). */
static ladder_cache read_windows(int level)
{
    ladder_cache c = {0, 0, 0};
    DWORD bytes = 0;
    GetLogicalProcessorInformation(NULL, &bytes); /* fails, giving the size needed */
    SYSTEM_LOGICAL_PROCESSOR_INFORMATION *info = bytes ? malloc(bytes) : NULL;
    if (!info)
        return c;
    if (GetLogicalProcessorInformation(info, &bytes)) {
        const size_t n = bytes / sizeof *info;
        for (size_t i = 0; i < n; i++) {
            const CACHE_DESCRIPTOR *d = &info[i].Cache;
            if (info[i].Relationship != RelationCache || d->Level != level ||
                d->Type == CacheInstruction || !(info[i].ProcessorMask & 1))
                continue;
            c.bytes = d->Size;
            c.ways = d->Associativity == CACHE_FULLY_ASSOCIATIVE ? 0 : d->Associativity;
            c.line = d->LineSize;
            break;
        }
    }
    free(info);
    return c;
}
#endif

static ladder_cache read_cache(int level)
{
    /* Typical of current x86-64 and arm64 cores, where nothing can be read. */
    static const ladder_cache fallback[4] = {
        {0, 0, 0}, {32 << 10, 8, 64}, {512 << 10, 8, 64}, {8 << 20, 16, 64}};
    ladder_cache c = read_sysfs(level);
#if defined(_SC_LEVEL1_DCACHE_SIZE)
    const int size[4] = {0, _SC_LEVEL1_DCACHE_SIZE, _SC_LEVEL2_CACHE_SIZE, _SC_LEVEL3_CACHE_SIZE};
    const int ways[4] = {0, _SC_LEVEL1_DCACHE_ASSOC, _SC_LEVEL2_CACHE_ASSOC, _SC_LEVEL3_CACHE_ASSOC};
    const int line[4] = {0, _SC_LEVEL1_DCACHE_LINESIZE, _SC_LEVEL2_CACHE_LINESIZE,
                         _SC_LEVEL3_CACHE_LINESIZE};
    long v;
    if (!c.bytes && (v = sysconf(size[level])) > 0) c.bytes = (size_t)v;
    if (!c.ways && (v = sysconf(ways[level])) > 0) c.ways = (size_t)v;
    if (!c.line && (v = sysconf(line[level])) > 0) c.line = (size_t)v;
#endif
#if defined(__APPLE__)
    if (!c.bytes) {
        const ladder_cache s = read_sysctl(level);
        c.bytes = s.bytes;
        if (!c.line) c.line = s.line;
    }
#endif
#if defined(_WIN32)
    if (!c.bytes) {
        const ladder_cache w = read_windows(level);
        c.bytes = w.bytes;
        if (!c.ways) c.ways = w.ways;
        if (!c.line) c.line = w.line;
    }
#endif
    if (!c.bytes) c.bytes = fallback[level].bytes;
    if (!c.ways) c.ways = fallback[level].ways;
    if (!c.line) c.line = fallback[level].line;
    return c;
}

ladder_cache ladder_cache_info(int level)
{
    /* Read once per level: every call of the blocked rungs derives its blocks from these,
     * and sysfs means opening files. */
    static atomic_size_t bytes[4], ways[4], line[4];
    if (level < 1 || level > 3)
        return (ladder_cache){0, 0, 0};
    if (!atomic_load(&bytes[level])) {
        const ladder_cache c = read_cache(level);
        atomic_store(&ways[level], c.ways);
        atomic_store(&line[level], c.line);
        atomic_store(&bytes[level], c.bytes);
    }
    return (ladder_cache){atomic_load(&bytes[level]), atomic_load(&ways[level]),
                          atomic_load(&line[level])};
}
