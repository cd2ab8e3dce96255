/* Run-time facts about the CPU's matrix units, for rung 7 (c_bf16): which of AVX512-BF16
 * and AMX-BF16 this CPU and OS can run, the kernel's permission for AMX, and the unit
 * c_bf16 uses. Compiled for the baseline ISA, so it runs anywhere; nothing here executes an
 * instruction the CPU may lack (CPUID and XGETBV only, XGETBV after CPUID says OSXSAVE).
 *
 * AVX512-BF16 (VDPBF16PS): CPUID.(7,1):EAX bit 5, with AVX-512F (CPUID.(7,0):EBX bit 16)
 *   and the OS saving the opmask and ZMM state (XCR0 bits 1, 2, 5, 6, 7).
 * AMX-BF16 (TDPBF16PS): CPUID.(7,0):EDX bits 22 (AMX-BF16) and 24 (AMX-TILE), the OS
 *   enabling the tile state (XCR0 bits 17 XTILECFG and 18 XTILEDATA), and on Linux the
 *   process's permission to use the tile data: arch_prctl(ARCH_REQ_XCOMP_PERM,
 *   XFEATURE_XTILEDATA), asked once and the answer kept. The permission is process-wide, so
 *   threads started before or after it may use the tiles. Without it, the first tile
 *   instruction would kill the process (SIGILL), so AMX is then not usable, with the reason. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ladder.h"
#if defined(LADDER_BF16_UNITS)
#include <cpuid.h>
#define BF16_X86 1
#endif
#if defined(BF16_X86) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#define ARCH_GET_XCOMP_PERM 0x1022
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
#endif

#ifdef BF16_X86
static uint64_t xcr0(void)
{
    uint32_t lo, hi;
    /* XGETBV with ECX = 0, as bytes: no target attribute or assembler support needed. */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

typedef struct {
    int avx512_bf16, amx;          /* 1 if usable */
    char avx512_reason[160], amx_reason[200];
} unit_facts;

static unit_facts facts;
static atomic_int facts_state;  /* 0: not read, 1: being read, 2: read */

static void read_facts(unit_facts *f)
{
    memset(f, 0, sizeof *f);
#ifdef BF16_X86
    unsigned a, b, c, d;
    unsigned ebx7 = 0, edx7 = 0, eax71 = 0;
    int osxsave = 0;
    if (__get_cpuid(1, &a, &b, &c, &d))
        osxsave = (c >> 27) & 1;
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        ebx7 = b, edx7 = d;
        const unsigned max_sub = a;
        if (max_sub >= 1) {
            __cpuid_count(7, 1, a, b, c, d);
            eax71 = a;
        }
    }
    const uint64_t x = osxsave ? xcr0() : 0;
    const int avx512f = (ebx7 >> 16) & 1, bf16 = (eax71 >> 5) & 1;
    const int zmm_state = (x & 0xE6) == 0xE6;
    if (!bf16)
        snprintf(f->avx512_reason, sizeof f->avx512_reason,
                 "this CPU lacks AVX512-BF16 (vdpbf16ps; CPUID leaf 7.1 EAX bit 5)");
    else if (!avx512f || !zmm_state)
        snprintf(f->avx512_reason, sizeof f->avx512_reason,
                 "AVX512-BF16 is listed but AVX-512F or the OS's ZMM state is not");
    else
        f->avx512_bf16 = 1;

    const int amx_bf16 = (edx7 >> 22) & 1, amx_tile = (edx7 >> 24) & 1;
    const int tile_state = ((x >> 17) & 3) == 3;
    if (!amx_bf16 || !amx_tile)
        snprintf(f->amx_reason, sizeof f->amx_reason,
                 "this CPU lacks AMX-BF16 (CPUID leaf 7 EDX bits 22 and 24: amx_bf16, amx_tile)");
    else if (!tile_state)
        snprintf(f->amx_reason, sizeof f->amx_reason,
                 "the CPU has AMX but the OS does not enable its tile state (XCR0 bits 17-18)");
    else {
#if defined(__linux__)
        /* Asked once per process; the answer is kept (this function runs once). */
        const long r = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA);
        unsigned long perm = 0;
        const long g = syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &perm);
        if (r != 0)
            snprintf(f->amx_reason, sizeof f->amx_reason,
                     "the kernel refused AMX: arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) "
                     "failed: %s (Linux >= 5.16 is needed; a small sigaltstack also makes "
                     "it fail)", strerror(errno));
        else if (g == 0 && !((perm >> XFEATURE_XTILEDATA) & 1))
            snprintf(f->amx_reason, sizeof f->amx_reason,
                     "the kernel granted ARCH_REQ_XCOMP_PERM but ARCH_GET_XCOMP_PERM does "
                     "not list XTILEDATA");
        else
            f->amx = 1;
#else
        snprintf(f->amx_reason, sizeof f->amx_reason,
                 "AMX is used on Linux only here (its permission request is Linux's "
                 "arch_prctl)");
#endif
    }
#else
    snprintf(f->avx512_reason, sizeof f->avx512_reason,
             "this build has no AVX512-BF16 code (it needs x86-64 with gcc or clang, not "
             "Windows: csrc/ladder.h, LADDER_BF16_UNITS)");
    snprintf(f->amx_reason, sizeof f->amx_reason,
             "this build has no AMX code (it needs x86-64 with gcc or clang, not Windows: "
             "csrc/ladder.h, LADDER_BF16_UNITS)");
#endif
}

static const unit_facts *get_facts(void)
{
    int expected = 0;
    if (atomic_load(&facts_state) == 2)
        return &facts;
    if (atomic_compare_exchange_strong(&facts_state, &expected, 1)) {
        read_facts(&facts);
        atomic_store(&facts_state, 2);
    } else
        while (atomic_load(&facts_state) != 2)
            ;  /* another thread is reading them: a few microseconds */
    return &facts;
}

int ladder_bf16_best_unit(void)
{
    const unit_facts *f = get_facts();
    return f->amx ? LADDER_BF16_AMX : f->avx512_bf16 ? LADDER_BF16_AVX512 : LADDER_BF16_NONE;
}

int ladder_bf16_usable(int unit)
{
    const unit_facts *f = get_facts();
    switch (unit) {
    case LADDER_BF16_AVX512: return f->avx512_bf16;
    case LADDER_BF16_AMX: return f->amx;
    case LADDER_BF16_EMULATE_AVX512:
    case LADDER_BF16_EMULATE_AMX:
    case LADDER_BF16_NONE: return 1;
    default: return 0;
    }
}

const char *ladder_bf16_reason(int unit)
{
    const unit_facts *f = get_facts();
    switch (unit) {
    case LADDER_BF16_AVX512: return f->avx512_bf16 ? "" : f->avx512_reason;
    case LADDER_BF16_AMX: return f->amx ? "" : f->amx_reason;
    case LADDER_BF16_EMULATE_AVX512:
    case LADDER_BF16_EMULATE_AMX: return "";
    case LADDER_BF16_NONE: return "no BF16 matrix unit chosen";
    default: return "unknown unit";
    }
}

static atomic_int active_unit = -1;

int ladder_bf16_active_unit(void)
{
    int unit = atomic_load(&active_unit);
    if (unit < 0) {
        unit = ladder_bf16_best_unit();
        atomic_store(&active_unit, unit);
    }
    return unit;
}

int ladder_bf16_set_unit(int unit)
{
    if (unit < 0 || unit > LADDER_BF16_EMULATE_AMX || !ladder_bf16_usable(unit))
        return -1;
    atomic_store(&active_unit, unit);
    return 0;
}
