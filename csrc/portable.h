/* What the C ladder needs beyond C11 that compilers and operating systems spell differently:
 * the one place where gcc/clang is told from Microsoft's compiler (MSVC), and POSIX from
 * Windows. Included by ladder.h, so every C file has it.
 *
 * Two kinds of switch, on purpose:
 *   - The compiler. LADDER_MSVC selects MSVC's ways where MSVC has no GNU extension: no
 *     per-function target attributes (MSVC allows any intrinsic in any function, so the
 *     micro-kernels need none), and __cpuidex/_xgetbv instead of __builtin_cpu_supports for
 *     the CPU check (cpu.c). It is set by MSVC itself, or by -DLADDER_MSVC_PATHS, so that
 *     gcc can compile these paths where no MSVC is at hand (tests/windows/run.sh). Pure
 *     spellings that gcc cannot take in MSVC's form (__forceinline) follow _MSC_VER alone.
 *     MinGW-w64's gcc is gcc: it takes the same paths as gcc on Linux.
 *   - The operating system (_WIN32, whichever the compiler): aligned memory, the clock, the
 *     physical memory size, and (scratch.c, cpu.c) thread-local buffers and cache sizes. So
 *     a MinGW-w64 build run under Wine runs the Windows paths that an MSVC build would.
 *
 * Atomics stay C11 <stdatomic.h> everywhere: MSVC has it under /std:c11
 * /experimental:c11atomics (Visual Studio 2022 17.5 and later), which setup.py passes.
 * OpenMP stays `#pragma omp` with OpenMP 3 loops (size_t indices, collapse): MSVC has them
 * under /openmp:llvm; setup.py builds without OpenMP where its test program of these
 * constructs does not compile. */
#ifndef MATMUL_LADDER_PORTABLE_H
#define MATMUL_LADDER_PORTABLE_H

#include <stddef.h>
#include <stdlib.h>

#if (defined(_MSC_VER) && !defined(__clang__)) || defined(LADDER_MSVC_PATHS)
#define LADDER_MSVC 1
#endif

/* A static function inlined into its caller whatever the optimiser's estimate: the
 * micro-kernels' tile bodies, whose accumulators must stay in registers. */
#if defined(_MSC_VER) && !defined(__clang__)
#define LADDER_INLINE static __forceinline
#else
#define LADDER_INLINE static inline __attribute__((always_inline))
#endif

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX /* windows.h would otherwise define min and max as macros */
#endif
#include <malloc.h>
#include <windows.h>
#else
#include <time.h>
#include <unistd.h>
#endif

/* `bytes` (any size, 0 too) aligned to `align` (a power of two), or NULL; freed with
 * ladder_aligned_free only. C11's aligned_alloc wants a multiple of `align` and is missing
 * from Microsoft's C runtime (free could not release it there): _aligned_malloc. */
static inline void *ladder_aligned_alloc(size_t align, size_t bytes)
{
    const size_t rounded = bytes ? (bytes + align - 1) / align * align : align;
#if defined(_WIN32)
    return _aligned_malloc(rounded, align);
#else
    return aligned_alloc(align, rounded);
#endif
}

static inline void ladder_aligned_free(void *p)
{
#if defined(_WIN32)
    _aligned_free(p);
#else
    free(p);
#endif
}

/* Seconds on a monotonic clock, for the probes' timed loops. */
static inline double ladder_seconds(void)
{
#if defined(_WIN32)
    LARGE_INTEGER count, frequency;
    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&frequency);
    return (double)count.QuadPart / (double)frequency.QuadPart;
#elif defined(CLOCK_MONOTONIC)
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
#else
    /* Strict ISO C (-std=c11) hides POSIX's clock_gettime: C11's wall clock instead. */
    struct timespec t;
    timespec_get(&t, TIME_UTC);
    return t.tv_sec + 1e-9 * t.tv_nsec;
#endif
}

/* This machine's physical memory in bytes, or 0 where the OS does not say. */
static inline size_t ladder_physical_bytes(void)
{
#if defined(_WIN32)
    MEMORYSTATUSEX status;
    status.dwLength = sizeof status;
    return GlobalMemoryStatusEx(&status) ? (size_t)status.ullTotalPhys : 0;
#elif defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
#else
    return 0;
#endif
}

#endif
