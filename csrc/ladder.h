/* The kernel contract shared by every C rung (GUIDE.md section 2).
 *
 *   void mm_<rung>_<s|d>(size_t M, size_t N, size_t K,
 *                        const T *A, size_t lda, const T *B, size_t ldb,
 *                        T *C, size_t ldc[, int threads]);
 *
 * Row-major C = A @ B: A is M x K, B is K x N, C is M x N and is overwritten.
 * lda/ldb/ldc are row strides in elements. Every size may be 0.
 * Callers (the Python binding) guarantee lda >= K, ldb >= N, ldc >= N.
 * The packing rungs (simd, omp) allocate buffers and so return int: 0 on success, -1 if the
 * active micro-kernel ISA is unusable, -2 if memory ran out (C is then unspecified).
 *
 * The plain rungs (naive.c, ikj.c, blocked.c) and the BLIS framework (gemm.c)
 * are written once in terms of `real` and MM(rung), and compiled twice by
 * float32.c and float64.c. */
#ifndef MATMUL_LADDER_H
#define MATMUL_LADDER_H

#include <stddef.h>

/* ---- the rungs ---------------------------------------------------------- */
#define LADDER_DECLARE(T, S)                                                        \
    void mm_naive_##S(size_t, size_t, size_t, const T *, size_t, const T *, size_t, \
                      T *, size_t);                                                 \
    void mm_ikj_##S(size_t, size_t, size_t, const T *, size_t, const T *, size_t,   \
                    T *, size_t);                                                   \
    void mm_blocked_##S(size_t, size_t, size_t, const T *, size_t, const T *,       \
                        size_t, T *, size_t);                                       \
    int mm_simd_##S(size_t, size_t, size_t, const T *, size_t, const T *, size_t,   \
                    T *, size_t);                                                   \
    int mm_omp_##S(size_t, size_t, size_t, const T *, size_t, const T *, size_t,    \
                   T *, size_t, int threads);
LADDER_DECLARE(float, s)
LADDER_DECLARE(double, d)

/* ---- run-time CPU facts (cpu.c) ----------------------------------------- */
enum ladder_isa { LADDER_ISA_NONE = 0, LADDER_ISA_AVX2 = 1, LADDER_ISA_AVX512 = 2 };

/* Best micro-kernel ISA that this CPU and OS support (checks CPUID and XCR0). */
int ladder_best_isa(void);
/* The ISA that c_simd/c_omp use: the best one, unless lowered by ladder_set_isa or the
 * environment variable MATMUL_LADDER_ISA=avx2|avx512 read at first use. */
int ladder_active_isa(void);
/* Returns 0, or -1 (and changes nothing) if this CPU cannot run `isa`. */
int ladder_set_isa(int isa);
/* Cache sizes in bytes, read at run time; a sane default where unknown. */
size_t ladder_cache_bytes(int level);
/* Measured FMA peak in GFLOP/s for elem-byte reals, on `threads` threads (fma_peak.c). */
double ladder_fma_peak(size_t elem, int isa, int threads, double seconds);
/* GFLOP/s of the ISA's micro-kernel alone, on one pair of packed panels that stay in L1/L2,
 * one thread (fma_peak.c). */
double ladder_ukernel_peak(size_t elem, int isa, double seconds);
/* Best triad bandwidth in GB/s over arrays of n doubles, or -1 on failure (stream.c). */
double ladder_triad_gbs(size_t n, int threads, int repeats);
/* 1 if built with OpenMP. */
int ladder_has_openmp(void);

/* ---- blocking ------------------------------------------------------------ */
/* Block sizes chosen from the caches for one dtype (elem bytes) and ISA. */
typedef struct {
    size_t mr, nr;      /* micro-kernel tile (registers)  */
    size_t mc, kc, nc;  /* cache blocks: A micro-panel in L1, A block in L2, B panel in L3 */
    size_t kc_short;    /* KC when C is small (see cpu.c): a B micro-panel in 2/3 of L1 */
    size_t nc_short;    /* NC with kc_short: the width of a 2x-L2 panel at the long KC */
    size_t c_small;     /* bytes: a C up to this size (or M < MC) takes kc_short */
} ladder_blocking;
ladder_blocking ladder_gemm_blocking(size_t elem, int isa);
/* Process-wide override of MC, KC, NC for tuning sweeps; 0 keeps the derived size. */
void ladder_set_gemm_blocking(size_t mc, size_t kc, size_t nc);

/* c_blocked's tiles: a KB x NB tile of B stays in L2, a row of NB in L1. */
typedef struct { size_t kb, nb; } ladder_tiles;
ladder_tiles ladder_blocked_tiles(size_t elem);

/* ---- micro-kernels: C[0:MR,0:NR] (=|+=) Ap(MR x kc) @ Bp(kc x NR) ---------- */
/* Ap is packed column by column (MR values per k), Bp row by row (NR per k).
 * warm: NULL, or 16 * kc bytes that a later call will read (a slice of the next B
 * micro-panel), prefetched into L2 during the k loop, 16 bytes per k. With NULL the loop
 * prefetches a line already in L1 instead of testing `warm` on every k (with the
 * accumulators still in an array, that test made gcc spill the AVX2 ones: 0.6x the speed). */
void ukernel_avx2_s(size_t, const float *, const float *, float *, size_t, int, const char *);
void ukernel_avx2_d(size_t, const double *, const double *, double *, size_t, int, const char *);
void ukernel_avx512_s(size_t, const float *, const float *, float *, size_t, int, const char *);
void ukernel_avx512_d(size_t, const double *, const double *, double *, size_t, int, const char *);
/* The same for the top MR/2 rows of the tile (Ap still packed MR tall), for edge tiles of at
 * most MR/2 rows. */
void ukernel_avx512_half_s(size_t, const float *, const float *, float *, size_t, int,
                           const char *);
void ukernel_avx512_half_d(size_t, const double *, const double *, double *, size_t, int,
                           const char *);
#define UK_WARM_BYTES_PER_K 16

#define UK_AVX2_MR 6
#define UK_AVX2_NR_S 16
#define UK_AVX2_NR_D 8
#define UK_AVX512_MR 12
#define UK_AVX512_NR_S 32
#define UK_AVX512_NR_D 16
#define UK_MAX_TILE (12 * 32)   /* largest MR*NR, for edge-tile buffers */

#endif
