/* The contract shared by every C rung, and the one place where the ladder's two element
 * types are chosen.
 *
 *   void mm_<rung>_<s|d>(size_t M, size_t N, size_t K,
 *                        const T *A, size_t lda, const T *B, size_t ldb,
 *                        T *C, size_t ldc[, int threads]);
 *
 * Row-major C = A @ B: A is M x K, B is K x N, C is M x N and is overwritten.
 * lda/ldb/ldc are row strides in elements. Every size may be 0.
 * Callers (the Python binding) guarantee lda >= K, ldb >= N, ldc >= N.
 * The packing rungs (4_simd.c, 5_omp.c) allocate buffers and so return int: 0 on success,
 * -1 if the active micro-kernel ISA is unusable, -2 if memory ran out (C is then unspecified).
 *
 * Element type: every rung file is written once in terms of `real` and MM(rung), and
 * setup.py compiles it twice: as is (real = float, functions mm_<rung>_s) and with
 * LADDER_DOUBLE defined (real = double, mm_<rung>_d). On its own, `cc -c 1_naive.c`
 * compiles the float32 rung. */
#ifndef MATMUL_LADDER_H
#define MATMUL_LADDER_H

#include <stddef.h>
#include "portable.h"

/* ---- the CPU and compiler this file is compiled for ---------------------------------- */
#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define LADDER_X86 1
#elif defined(__aarch64__) || defined(_M_ARM64)
#define LADDER_ARM64 1
#endif
/* Per-function instruction sets (gcc and clang): a function marked LADDER_TARGET_AVX2 may use
 * AVX2 + FMA intrinsics and is called only after the run-time CPU check, so the rest of the
 * package stays baseline x86-64 and no -march flag is needed. MSVC needs no mark: it takes
 * any intrinsic in any function (setup.py gives the files made only of such functions their
 * /arch, so that its own code in them is vectorised for the same ISA). Advanced SIMD (NEON)
 * is part of the arm64 baseline and needs no mark. */
#if defined(LADDER_X86) && !defined(LADDER_MSVC) && (defined(__GNUC__) || defined(__clang__))
#define LADDER_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define LADDER_TARGET_AVX512 __attribute__((target("avx512f")))
#else
#define LADDER_TARGET_AVX2
#define LADDER_TARGET_AVX512
#endif

/* ---- the rungs, both element types -------------------------------------------------- */
#define LADDER_DECLARE(T, S)                                                           \
    void mm_naive_##S(size_t, size_t, size_t, const T *, size_t, const T *, size_t,    \
                      T *, size_t);                                                    \
    void mm_ikj_##S(size_t, size_t, size_t, const T *, size_t, const T *, size_t,      \
                    T *, size_t);                                                      \
    void mm_blocked_##S(size_t, size_t, size_t, const T *, size_t, const T *,          \
                        size_t, T *, size_t);                                          \
    int mm_simd_##S(size_t, size_t, size_t, const T *, size_t, const T *, size_t,      \
                    T *, size_t);                                                      \
    int mm_omp_##S(size_t, size_t, size_t, const T *, size_t, const T *, size_t,       \
                   T *, size_t, int threads);                                          \
    int mm_strassen_##S(size_t, size_t, size_t, const T *, size_t, const T *, size_t,  \
                        T *, size_t, int threads, int levels);                         \
    /* the few-rows path of rungs 4 and 5 (few_rows.c): M <= LADDER_FEW_ROWS */        \
    void mm_few_rows_##S(size_t, size_t, size_t, const T *, size_t, const T *, size_t, \
                         T *, size_t, int threads);                                    \
    /* fused block sums of the fast-matmul rung (lincomb.c) */                         \
    void mm_lincomb_##S(size_t rows, size_t cols, int terms, const T *const *src,      \
                        const size_t *ld, const T *coef, T *dst, size_t ldd,           \
                        int accumulate, int threads);
LADDER_DECLARE(float, s)
LADDER_DECLARE(double, d)
#define LADDER_FEW_ROWS 8

/* ---- micro-kernels: C[0:MR,0:NR] (=|+=) Ap(MR x kc) @ Bp(kc x NR) ------------------- */
/* Named after their tiles (MR x NR). Ap is packed column by column (MR values per k), Bp
 * row by row (NR per k). warm: NULL, or 16 * kc bytes that a later call will read (a slice
 * of the next B micro-panel), prefetched into L2 during the k loop, 16 bytes per k. */
#define UKERNEL_ARGS(T) size_t kc, const T *Ap, const T *Bp, T *C, size_t ldc, \
                        int accumulate, const char *warm
void ukernel_avx2_6x16(UKERNEL_ARGS(float));
void ukernel_avx2_6x8(UKERNEL_ARGS(double));
void ukernel_avx512_12x32(UKERNEL_ARGS(float));
void ukernel_avx512_12x16(UKERNEL_ARGS(double));
/* The top MR/2 rows of the AVX-512 tiles (Ap still packed MR tall), for edge tiles of at
 * most MR/2 rows. */
void ukernel_avx512_12x32_half(UKERNEL_ARGS(float));
void ukernel_avx512_12x16_half(UKERNEL_ARGS(double));
/* The full tiles reading A where it lies, MR rows lda apart, instead of packed:
 * for products small enough that packing A is a large share of the time (blis_loops.h). */
#define UKERNEL_ROWS_ARGS(T) size_t kc, const T *A, size_t lda, const T *Bp, T *C, size_t ldc, \
                             int accumulate, const char *warm
void ukernel_avx2_6x16_rows(UKERNEL_ROWS_ARGS(float));
void ukernel_avx2_6x8_rows(UKERNEL_ROWS_ARGS(double));
void ukernel_avx512_12x32_rows(UKERNEL_ROWS_ARGS(float));
void ukernel_avx512_12x16_rows(UKERNEL_ROWS_ARGS(double));
/* arm64 Advanced SIMD (NEON): 24 of the 32 128-bit registers hold the tile. */
void ukernel_neon_8x12(UKERNEL_ARGS(float));
void ukernel_neon_8x6(UKERNEL_ARGS(double));
/* The loop variant "prefetch" (see ladder_loop_variants) of the full and half x86 tiles:
 * the same arithmetic, with software prefetches in the k loop (ukernel_avx2.c says which). */
void ukernel_avx2_6x16_pf(UKERNEL_ARGS(float));
void ukernel_avx2_6x8_pf(UKERNEL_ARGS(double));
void ukernel_avx512_12x32_pf(UKERNEL_ARGS(float));
void ukernel_avx512_12x16_pf(UKERNEL_ARGS(double));
void ukernel_avx512_12x32_half_pf(UKERNEL_ARGS(float));
void ukernel_avx512_12x16_half_pf(UKERNEL_ARGS(double));
/* Prefetch variant: A and B are prefetched this many k steps ahead of their loads, and the C
 * tile's rows over the last UK_PF_C_TAIL k steps (one row a step) instead of before the loop. */
#define UK_PF_K_AHEAD 8
#define UK_PF_C_TAIL 32
#define UK_WARM_BYTES_PER_K 16

#define UK_AVX2_MR 6
#define UK_AVX2_NR_S 16
#define UK_AVX2_NR_D 8
#define UK_AVX512_MR 12
#define UK_AVX512_NR_S 32
#define UK_AVX512_NR_D 16
#define UK_NEON_MR 8
#define UK_NEON_NR_S 12
#define UK_NEON_NR_D 6
#define UK_MAX_TILE (12 * 32) /* largest MR*NR, for edge-tile buffers */

/* ---- the element type of this compilation ------------------------------------------- */
#ifdef LADDER_DOUBLE
typedef double real;
#define MM(rung) mm_##rung##_d
#define UKERNEL_AVX2 ukernel_avx2_6x8
#define UKERNEL_AVX2_PF ukernel_avx2_6x8_pf
#define UKERNEL_AVX2_ROWS ukernel_avx2_6x8_rows
#define UKERNEL_AVX512 ukernel_avx512_12x16
#define UKERNEL_AVX512_PF ukernel_avx512_12x16_pf
#define UKERNEL_AVX512_HALF ukernel_avx512_12x16_half
#define UKERNEL_AVX512_HALF_PF ukernel_avx512_12x16_half_pf
#define UKERNEL_AVX512_ROWS ukernel_avx512_12x16_rows
#define UKERNEL_NEON ukernel_neon_8x6
#else
typedef float real;
#define MM(rung) mm_##rung##_s
#define UKERNEL_AVX2 ukernel_avx2_6x16
#define UKERNEL_AVX2_PF ukernel_avx2_6x16_pf
#define UKERNEL_AVX2_ROWS ukernel_avx2_6x16_rows
#define UKERNEL_AVX512 ukernel_avx512_12x32
#define UKERNEL_AVX512_PF ukernel_avx512_12x32_pf
#define UKERNEL_AVX512_HALF ukernel_avx512_12x32_half
#define UKERNEL_AVX512_HALF_PF ukernel_avx512_12x32_half_pf
#define UKERNEL_AVX512_ROWS ukernel_avx512_12x32_rows
#define UKERNEL_NEON ukernel_neon_8x12
#endif

/* ---- run-time CPU facts (cpu.c) ----------------------------------------------------- */
/* cpu.c and blocking.c hold the run-time state (the active ISA, the block sizes and their
 * overrides, Strassen's cutoff); setup.py links them into _ckernels alone, and the other
 * extensions call its functions through state.h. */
enum ladder_isa { LADDER_ISA_NONE = 0, LADDER_ISA_AVX2 = 1, LADDER_ISA_AVX512 = 2,
                  LADDER_ISA_NEON = 3 };

/* Best micro-kernel ISA that this CPU and OS support (x86: CPUID and XCR0; arm64: NEON,
 * which every arm64 CPU has). */
int ladder_best_isa(void);
/* 1 if this build has a micro-kernel for `isa` (x86-64: AVX2, AVX-512; arm64: NEON). */
int ladder_isa_compiled(int isa);
/* 1 if this CPU can run `isa`'s micro-kernel (an AVX-512 CPU also runs the AVX2 one). */
int ladder_isa_usable(int isa);
/* The ISA that c_simd/c_omp and the convolution's vector rungs use: the best one, unless
 * changed by ladder_set_isa (from Python: ml.set_simd_isa or the environment variable
 * MATMUL_LADDER_ISA). */
int ladder_active_isa(void);
/* Returns 0, or -1 (and changes nothing) if this CPU cannot run `isa`. */
int ladder_set_isa(int isa);
/* One cache level as read at run time (a sane default where unknown). */
typedef struct {
    size_t bytes, ways, line; /* per core (L1d, L2) or the whole cache (L3) */
} ladder_cache;
ladder_cache ladder_cache_info(int level);
/* 1 if built with OpenMP. */
int ladder_has_openmp(void);

/* ---- packing buffers (scratch.c) ------------------------------------------------------ */
/* A 64-byte-aligned buffer of at least `bytes`, owned by the calling thread and reused by its
 * next call with the same slot (0: A, 1: B, 2 and 3: Strassen's blocks at each level; 4 and 5:
 * A and B of the loop variant "hugepages", 2 MiB-aligned, whole 2 MiB pages and advised
 * MADV_HUGEPAGE where the OS has it); NULL if memory ran out. */
#define LADDER_SCRATCH_HUGE 4 /* the first slot of huge-page buffers */
void *ladder_scratch(int slot, size_t bytes);
/* Frees the calling thread's buffer in `slot` if it is larger than `keep` bytes. */
void ladder_scratch_trim(int slot, size_t keep);

/* ---- probes (fma_peak.c, stream.c) --------------------------------------------------- */
/* Measured FMA peak in GFLOP/s for elem-byte reals, on `threads` threads. */
double ladder_fma_peak(size_t elem, int isa, int threads, double seconds);
/* GFLOP/s of the ISA's micro-kernel alone, on one pair of packed panels that stay in L1/L2,
 * one thread. */
double ladder_ukernel_peak(size_t elem, int isa, double seconds);
/* Best triad bandwidth in GB/s over arrays of n doubles, or -1 on failure. */
double ladder_triad_gbs(size_t n, int threads, int repeats);

/* ---- blocking (blocking.c) ------------------------------------------------------------ */
/* Block sizes of rungs 4-5 for one dtype (elem bytes) and ISA, with the model's working. */
typedef struct {
    size_t mr, nr;     /* micro-kernel tile (registers)                                 */
    size_t kc, mc, nc; /* B micro-panel in L1, A block in L2, B panel in L3              */
    size_t ways_a_l1;  /* the model's ways: L1's cap on an A micro-panel,                */
    size_t ways_a_l2;  /*   the A block's in L2,                                        */
    size_t ways_b_l3;  /*   the B panel's in L3                                         */
    int overridden;    /* 1 if any size was set with ladder_set_gemm_blocking            */
} ladder_blocking;
/* The model alone, for any tile and cache table (see blocking.c). */
ladder_blocking ladder_gemm_model(size_t elem, size_t mr, size_t nr, const ladder_cache *l1,
                                  const ladder_cache *l2, const ladder_cache *l3);
/* The model on this CPU's caches, then any sizes set below. */
ladder_blocking ladder_gemm_blocking(size_t elem, int isa);
/* NC when the product has one block of A (M <= MC, m rows): the B panel in L2. */
size_t ladder_one_block_nc(const ladder_blocking *b, size_t elem, size_t m);
/* Sizes for one element size, for a tuner or a sweep; 0 keeps the model's. */
void ladder_set_gemm_blocking(size_t elem, size_t mc, size_t kc, size_t nc);
/* The model with a choice: l1_caps_kc 0 leaves out L1's cap on KC (the loop variant l2_kc). */
ladder_blocking ladder_gemm_model_ex(size_t elem, size_t mr, size_t nr, const ladder_cache *l1,
                                     const ladder_cache *l2, const ladder_cache *l3,
                                     int l1_caps_kc);

/* Loop variants of c_simd/c_omp (blocking.c), for racing against the default loop nest in one
 * process; a bit mask, 0 (the default) is the loop nest without them. Each call reads the
 * mask once, when it plans. From Python: ml.set_loop_variants.
 *   PREFETCH     the micro-kernels prefetch A and B ahead in the k loop, and the C tile
 *                over the loop's last steps instead of before it (ukernel_avx2.c);
 *   HUGEPAGES    the packing buffers in 2 MiB-aligned memory advised MADV_HUGEPAGE (scratch.c);
 *   PACK_B_ROWS  c_omp's threads pack B's panel by runs of rows of k, every micro-panel each,
 *                instead of by runs of whole micro-panels (5_omp.c);
 *   L2_KC        KC from the L2 balance alone, without L1's cap (blocking.c). */
enum { LADDER_VARIANT_PREFETCH = 1, LADDER_VARIANT_HUGEPAGES = 2, LADDER_VARIANT_PACK_B_ROWS = 4,
       LADDER_VARIANT_L2_KC = 8, LADDER_VARIANT_ALL = 15 };
int ladder_loop_variants(void);
/* Returns 0, or -1 (and changes nothing) for bits outside LADDER_VARIANT_ALL. */
int ladder_set_loop_variants(int mask);

/* c_blocked's tiles: a row segment of NB values of C stays in L1, a KB x NB tile of B in L2. */
typedef struct {
    size_t kb, nb;
} ladder_tiles;
ladder_tiles ladder_blocked_model(size_t elem, const ladder_cache *l1, const ladder_cache *l2);
ladder_tiles ladder_blocked_tiles(size_t elem);
/* Tiles for one element size, for a tuner or a sweep; 0 keeps the model's. */
void ladder_set_blocked_tiles(size_t elem, size_t kb, size_t nb);

/* Strassen (6_strassen.c): levels for an M x K by K x N product of elem-byte reals: 0 below
 * the cutoff, 1 from it, 2 from twice it (each level halves the blocks). */
int ladder_strassen_levels(size_t elem, size_t M, size_t N, size_t K);
size_t ladder_strassen_cutoff(size_t elem);
/* 0 restores the default (LADDER_STRASSEN_CUTOFF). */
void ladder_set_strassen_cutoff(size_t elem, size_t n);
#define LADDER_STRASSEN_CUTOFF 2048 /* measured on the 2-vCPU Zen 4: docs/strassen.md */

/* ---- the CPU's matrix units: rung 7, c_bf16 (bf16_units.c, ukernel_bf16.c, 7_bf16.c) ------ */
/* LADDER_BF16_UNITS: this build has the real units' code (bf16_units.c, ukernel_bf16.c,
 * bf16_peak.c agree on it): gcc or clang on x86-64, except on Windows, where gcc's AMX
 * intrinsics pass the tile stride as a long, 32 bits there, which the assembler rejects.
 * Without it the real units are never usable, with the reason, and the emulated ones run. */
#if defined(LADDER_X86) && defined(__x86_64__) && !defined(LADDER_MSVC) && !defined(_WIN32) && \
    (defined(__GNUC__) || defined(__clang__))
#define LADDER_BF16_UNITS 1
#endif
/* The unit that c_bf16's micro-kernel runs on. The two "emulate" units are portable scalar
 * micro-kernels with the real units' arithmetic (bf16 pairs, products exact in float32, each
 * of the two adds rounded to nearest) on the same packed layout and tile: they let the
 * packing, edges, layouts and threads be tested on a CPU with neither unit. For tests only:
 * never chosen by themselves. */
enum ladder_bf16_unit { LADDER_BF16_NONE = 0, LADDER_BF16_AVX512 = 1, LADDER_BF16_AMX = 2,
                        LADDER_BF16_EMULATE_AVX512 = 3, LADDER_BF16_EMULATE_AMX = 4 };
/* The best real unit here: AMX (CPUID, XCR0 and the kernel's permission), else AVX512-BF16,
 * else NONE. The permission is asked once per process (arch_prctl ARCH_REQ_XCOMP_PERM). */
int ladder_bf16_best_unit(void);
/* 1 if `unit` can run here (the emulated ones always can); why not in ladder_bf16_reason. */
int ladder_bf16_usable(int unit);
/* Why `unit` cannot run here ("" if it can), static text. */
const char *ladder_bf16_reason(int unit);
int ladder_bf16_active_unit(void);
/* Returns 0, or -1 (and changes nothing) if `unit` cannot run here. */
int ladder_bf16_set_unit(int unit);
/* AMX tile state is per thread: every thread that runs the AMX micro-kernel first loads the
 * tile configuration (begin) and releases the tiles at the end. No-ops for other units. */
void ladder_bf16_thread_begin(int unit);
void ladder_bf16_thread_end(int unit);
/* The micro-kernels: C[0:MR, 0:32] (=|+=) Ap @ Bp over kb blocks of 32 k values.
 * Ap (one micro-panel, MR rows): kb blocks, each MR rows of 32 bf16 (64 bytes a row: an AMX
 *   A tile of 16 rows is 16 such rows, 64 bytes apart).
 * Bp (one micro-panel, 32 columns): 16 * kb rows of k pairs, each 32 columns x 2 bf16 (the
 *   pair of rows 2p, 2p+1 interleaved: the VNNI layout of an AMX B tile); 128 bytes a row. */
#define UKERNEL_BF16_ARGS size_t kb, const unsigned short *Ap, const unsigned short *Bp, \
                          float *C, size_t ldc, int accumulate
void ukernel_bf16_avx512_12x32(UKERNEL_BF16_ARGS);
void ukernel_bf16_amx_32x32(UKERNEL_BF16_ARGS);
void ukernel_bf16_emulate_12x32(UKERNEL_BF16_ARGS);
void ukernel_bf16_emulate_32x32(UKERNEL_BF16_ARGS);
#define UK_BF16_KB 32     /* k values per block: an AMX tile row of bf16 */
#define UK_BF16_NR 32
#define UK_BF16_MR_AVX512 12
#define UK_BF16_MR_AMX 32
/* Block sizes of c_bf16 for one unit (blocking.c): mr, nr, kc (a multiple of 32), mc, nc. */
ladder_blocking ladder_bf16_blocking(int unit);
/* Measured peak of the unit in GFLOP/s on `threads` threads: TDPBF16PS on 4 accumulator
 * tiles (AMX) or VDPBF16PS on 12 accumulator registers, no memory traffic (bf16_peak.c).
 * 0.0 if the unit cannot run here. */
double ladder_bf16_peak(int unit, int threads, double seconds);

#endif

