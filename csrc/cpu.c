/* Run-time facts about this CPU: which micro-kernel it can run and its cache geometry.
 * Compiled for the baseline ISA, so it runs anywhere. Cache geometry comes from Linux's
 * sysfs, then sysconf (glibc), then macOS's sysctl, then typical values. */
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>
#if defined(__APPLE__)
#include <sys/sysctl.h>
#endif
#include "ladder.h"

int ladder_best_isa(void)
{
#if defined(LADDER_X86) && (defined(__GNUC__) || defined(__clang__))
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
#if defined(LADDER_X86) && (defined(__GNUC__) || defined(__clang__))
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

/* Linux sysfs: what the kernel (or a VM's hypervisor) exposes for cpu0. Preferred over
 * sysconf, which on some VMs reports the host's whole L3. */
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
