/* The C ladder's check on a CPU the project cannot run natively: every C rung (c_naive,
 * c_ikj, c_blocked, c_simd, c_omp, c_strassen), the NEON micro-kernel, and every C rung of
 * the 3x3 convolution ladder (csrc/conv/: its NEON vector code), in both element types, on
 * edge shapes, under extreme blocks, against a long-double reference, with the bound of
 * matmul_ladder.check:
 *
 *     |C - C_ref| <= 2 * K * eps * (|A| @ |B|)    elementwise (K = 9 for the convolution),
 *
 * times 3 per level for c_strassen (as tests/test_strassen.py).
 * Built by run.sh with a cross compiler and run under qemu-user (tests/test_aarch64.py);
 * it builds and runs natively too (CROSS_CC=gcc QEMU= run.sh), where it checks every
 * micro-kernel ISA the CPU runs in turn (x86-64: AVX-512, then AVX2), as tools/mutate.py
 * does for the C rungs. Exit status 0 if every check passes. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ladder.h"
#include "conv/conv.h"

static int failures, checks;

static double uniform(unsigned long long *state) /* in [-1, 1) */
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*state >> 11) / (double)(1ULL << 52) - 1.0;
}

/* C (M x N, row stride ldc) against the reference from A (lda) and B (ldb); prints the first
 * entry out of bound. T is float or double. */
#define DEFINE_CHECK(T, S, EPS)                                                          \
    static void check_##S(const char *what, size_t M, size_t N, size_t K, const T *A,    \
                          size_t lda, const T *B, size_t ldb, const T *C, size_t ldc,     \
                          long double scale)                                             \
    {                                                                                    \
        checks++;                                                                        \
        for (size_t i = 0; i < M; i++)                                                   \
            for (size_t j = 0; j < N; j++) {                                             \
                long double ref = 0, mag = 0;                                            \
                for (size_t k = 0; k < K; k++) {                                         \
                    ref += (long double)A[i * lda + k] * B[k * ldb + j];                 \
                    mag += fabsl((long double)A[i * lda + k] * B[k * ldb + j]);          \
                }                                                                        \
                const long double err = fabsl((long double)C[i * ldc + j] - ref);        \
                if (!(err <= scale * 2.0L * K * EPS * mag)) {                            \
                    printf("FAIL %s %s M=%zu N=%zu K=%zu: C[%zu][%zu] = %g, expected "   \
                           "%Lg +- %Lg\n", what, #T, M, N, K, i, j, (double)C[i * ldc + j], \
                           ref, scale * 2.0L * K * EPS * mag);                           \
                    failures++;                                                          \
                    return;                                                              \
                }                                                                        \
            }                                                                            \
    }
DEFINE_CHECK(float, s, FLT_EPSILON)
DEFINE_CHECK(double, d, DBL_EPSILON)

/* Every rung on one shape, with row strides past the widths (lda = K + 3, ...), so that
 * views are covered; C starts as garbage, which every rung must overwrite. c_strassen runs
 * with one level forced (1 thread) and two (3 threads): its odd-size peeling on every
 * shape, held to 3x and 9x the bound. */
#define RUNG_COUNT 8
#define DEFINE_RUNGS(T, S)                                                               \
    static void rungs_##S(size_t M, size_t N, size_t K, unsigned long long seed)         \
    {                                                                                    \
        const size_t lda = K + 3, ldb = N + 1, ldc = N + 2;                              \
        T *A = malloc((M * lda + 1) * sizeof(T)), *B = malloc((K * ldb + 1) * sizeof(T)), \
          *C = malloc((M * ldc + 1) * sizeof(T));                                        \
        for (size_t i = 0; i < M * lda; i++) A[i] = (T)uniform(&seed);                   \
        for (size_t i = 0; i < K * ldb; i++) B[i] = (T)uniform(&seed);                   \
        char what[64];                                                                   \
        for (int rung = 0; rung < RUNG_COUNT; rung++) {                                  \
            for (size_t i = 0; i < M * ldc; i++) C[i] = (T)NAN;                          \
            int status = 0;                                                              \
            const char *name[RUNG_COUNT] = {"c_naive", "c_ikj", "c_blocked", "c_simd",   \
                                            "c_omp(1)", "c_omp(3)", "c_strassen(1 level)", \
                                            "c_strassen(2 levels, 3 threads)"};          \
            const long double scale[RUNG_COUNT] = {1, 1, 1, 1, 1, 1, 3, 9};              \
            switch (rung) {                                                              \
            case 0: mm_naive_##S(M, N, K, A, lda, B, ldb, C, ldc); break;                \
            case 1: mm_ikj_##S(M, N, K, A, lda, B, ldb, C, ldc); break;                  \
            case 2: mm_blocked_##S(M, N, K, A, lda, B, ldb, C, ldc); break;              \
            case 3: status = mm_simd_##S(M, N, K, A, lda, B, ldb, C, ldc); break;        \
            case 4: status = mm_omp_##S(M, N, K, A, lda, B, ldb, C, ldc, 1); break;      \
            case 5: status = mm_omp_##S(M, N, K, A, lda, B, ldb, C, ldc, 3); break;      \
            case 6: status = mm_strassen_##S(M, N, K, A, lda, B, ldb, C, ldc, 1, 1); break; \
            default: status = mm_strassen_##S(M, N, K, A, lda, B, ldb, C, ldc, 3, 2); break; \
            }                                                                            \
            snprintf(what, sizeof what, "%s", name[rung]);                               \
            if (status != 0) {                                                           \
                printf("FAIL %s %s M=%zu N=%zu K=%zu: status %d\n", what, #T, M, N, K,   \
                       status);                                                          \
                failures++;                                                              \
                checks++;                                                                \
                continue;                                                                \
            }                                                                            \
            check_##S(what, M, N, K, A, lda, B, ldb, C, ldc, scale[rung]);               \
        }                                                                                \
        free(A), free(B), free(C);                                                       \
    }
DEFINE_RUNGS(float, s)
DEFINE_RUNGS(double, d)

/* c_omp on 3 threads against 1, bitwise: each tile of C is computed by one thread in the
 * same order whatever the thread count, so a difference is a race (a packing buffer refilled
 * while another thread still reads it). Many A blocks of several micro-panels, B panels of
 * several micro-panels and more threads than this machine may have cores give a race its
 * chances; the product is repeated. Blocks: MC 48, KC 16, NC 96. */
#define DEFINE_RACES(T, S)                                                               \
    static void races_##S(void)                                                          \
    {                                                                                    \
        const size_t M = 150, N = 100, K = 40, lda = K + 1, ldb = N + 3, ldc = N + 1;    \
        unsigned long long seed = 5;                                                     \
        T *A = malloc(M * lda * sizeof(T)), *B = malloc(K * ldb * sizeof(T)),            \
          *one = malloc(M * ldc * sizeof(T)), *three = malloc(M * ldc * sizeof(T));      \
        for (size_t i = 0; i < M * lda; i++) A[i] = (T)uniform(&seed);                   \
        for (size_t i = 0; i < K * ldb; i++) B[i] = (T)uniform(&seed);                   \
        memset(one, 0, M * ldc * sizeof(T));                                             \
        memset(three, 0, M * ldc * sizeof(T));                                           \
        ladder_set_gemm_blocking(sizeof(T), 48, 16, 96);                                 \
        checks++;                                                                        \
        int status = mm_omp_##S(M, N, K, A, lda, B, ldb, one, ldc, 1);                   \
        for (int rep = 0; rep < 30 && status == 0; rep++) {                              \
            status = mm_omp_##S(M, N, K, A, lda, B, ldb, three, ldc, 3);                 \
            if (status == 0 && memcmp(one, three, M * ldc * sizeof(T)) != 0) {           \
                printf("FAIL c_omp(3) %s differs from c_omp(1) (run %d): a race\n", #T,  \
                       rep + 1);                                                         \
                failures++;                                                              \
                break;                                                                   \
            }                                                                            \
        }                                                                                \
        if (status != 0) {                                                               \
            printf("FAIL c_omp %s: status %d\n", #T, status);                            \
            failures++;                                                                  \
        }                                                                                \
        ladder_set_gemm_blocking(sizeof(T), 0, 0, 0);                                    \
        free(A), free(B), free(one), free(three);                                        \
    }
DEFINE_RACES(float, s)
DEFINE_RACES(double, d)

/* The micro-kernel alone: one MR x NR tile, stored and then accumulated into C (ldc > NR). */
#define DEFINE_UKERNEL(T, S, KERNEL, NR)                                                 \
    static void ukernel_##S(size_t kc)                                                   \
    {                                                                                    \
        const size_t mr = UK_NEON_MR, nr = NR, ldc = NR + 5;                             \
        unsigned long long seed = 7 + kc;                                                \
        T *Ap = malloc((mr * kc + 1) * sizeof(T)), *Bp = malloc((kc * nr + 1) * sizeof(T)), \
          *C = malloc(mr * ldc * sizeof(T)), *A = malloc((mr * kc + 1) * sizeof(T)),     \
          *twice = malloc(mr * ldc * sizeof(T));                                         \
        for (size_t i = 0; i < mr * kc; i++) Ap[i] = (T)uniform(&seed);                  \
        for (size_t i = 0; i < kc * nr; i++) Bp[i] = (T)uniform(&seed);                  \
        for (size_t i = 0; i < mr; i++) /* A row-major, from the packed column order */  \
            for (size_t k = 0; k < kc; k++) A[i * kc + k] = Ap[k * mr + i];              \
        KERNEL(kc, Ap, Bp, C, ldc, 0, NULL);                                             \
        check_##S("ukernel", mr, nr, kc, A, kc, Bp, nr, C, ldc, 1);                      \
        KERNEL(kc, Ap, Bp, C, ldc, 1, NULL); /* C = 2 * A @ B */                         \
        for (size_t i = 0; i < mr * ldc; i++) twice[i] = C[i] / 2;                       \
        check_##S("ukernel accumulate", mr, nr, kc, A, kc, Bp, nr, twice, ldc, 1);       \
        free(Ap), free(Bp), free(C), free(A), free(twice);                               \
    }
#if defined(LADDER_ARM64)
DEFINE_UKERNEL(float, s, ukernel_neon_8x12, UK_NEON_NR_S)
DEFINE_UKERNEL(double, d, ukernel_neon_8x6, UK_NEON_NR_D)
#endif

/* Every convolution rung on an H x W image (row stride W + 5, output stride W + 1); with
 * `aligned`, the output 64-byte aligned with a row stride of whole 64-byte lines, so that
 * conv_c_strips takes its streaming stores. */
#define DEFINE_CONV(T, S, EPS)                                                           \
    static void conv_##S(size_t H, size_t W, unsigned long long seed, int aligned)       \
    {                                                                                    \
        const size_t Ho = H - 2, Wo = W - 2, line = 64 / sizeof(T);                      \
        const size_t ldx = W + 5, ldy = aligned ? (Wo + line - 1) / line * line : W + 1; \
        T *x = malloc(H * ldx * sizeof(T)), w[9];                                        \
        T *y = aligned ? ladder_aligned_alloc(64, Ho * ldy * sizeof(T))                  \
                       : malloc(Ho * ldy * sizeof(T));                                   \
        for (size_t i = 0; i < H * ldx; i++) x[i] = (T)uniform(&seed);                   \
        for (int k = 0; k < 9; k++) w[k] = (T)uniform(&seed);                            \
        for (int rung = 0; rung < 7; rung++) {                                           \
            for (size_t i = 0; i < Ho * ldy; i++) y[i] = (T)NAN;                         \
            switch (rung) {                                                              \
            case 0: conv_naive_##S(H, W, x, ldx, w, 3, 3, y, ldy); break;                \
            case 1: conv_rows_##S(H, W, x, ldx, w, y, ldy); break;                       \
            case 2: conv_fixed_##S(H, W, x, ldx, w, y, ldy); break;                      \
            case 3: conv_simd_##S(H, W, x, ldx, w, y, ldy); break;                       \
            case 4: conv_omp_##S(H, W, x, ldx, w, y, ldy, 3); break;                     \
            case 5: conv_strips_##S(H, W, x, ldx, w, y, ldy, 1); break;                  \
            default: conv_strips_##S(H, W, x, ldx, w, y, ldy, 3); break;                 \
            }                                                                            \
            checks++;                                                                    \
            for (size_t i = 0; i < Ho; i++)                                              \
                for (size_t j = 0; j < Wo; j++) {                                        \
                    long double ref = 0, mag = 0;                                        \
                    for (size_t p = 0; p < 3; p++)                                       \
                        for (size_t q = 0; q < 3; q++) {                                 \
                            const long double t = (long double)x[(i + p) * ldx + j + q] * w[3 * p + q]; \
                            ref += t;                                                    \
                            mag += fabsl(t);                                             \
                        }                                                                \
                    if (!(fabsl(y[i * ldy + j] - ref) <= 2.0L * 9 * EPS * mag)) {         \
                        printf("FAIL conv rung %d %s %zu x %zu%s: y[%zu][%zu] = %g, expected " \
                               "%Lg\n", rung + 1, #T, H, W, aligned ? " (aligned)" : "", i, j, \
                               (double)y[i * ldy + j], ref);                             \
                        failures++;                                                      \
                        i = Ho;                                                          \
                        break;                                                           \
                    }                                                                    \
                }                                                                        \
        }                                                                                \
        free(x);                                                                         \
        if (aligned) ladder_aligned_free(y);                                             \
        else free(y);                                                                    \
    }
DEFINE_CONV(float, s, FLT_EPSILON)
DEFINE_CONV(double, d, DBL_EPSILON)

static void all_shapes(const char *blocks)
{
    /* 0 and 1, primes, and non-multiples of every tile (MR = 8, NR = 12 / 6; x86-64: MR 12
     * or 6, NR 32, 16 or 8) and block; 20 rows end in an AVX-512 edge tile of 8, past the
     * half-height kernel's 6. M <= 8 takes the few-rows path (split over K on 3 threads at
     * M * N small: one row, and three, whose C rows lie ldc apart). */
    static const size_t shapes[][3] = {
        {0, 5, 3}, {5, 0, 3}, {5, 3, 0}, {1, 1, 1}, {1, 37, 300}, {3, 37, 500}, {3, 200, 64},
        {8, 12, 8}, {9, 13, 17}, {7, 5, 11}, {16, 24, 32}, {17, 31, 257}, {20, 29, 33},
        {61, 67, 71}, {97, 11, 129}, {130, 150, 90}};
    printf("blocks: %s\n", blocks);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        rungs_s(shapes[s][0], shapes[s][1], shapes[s][2], 1 + s);
        rungs_d(shapes[s][0], shapes[s][1], shapes[s][2], 101 + s);
    }
}

/* The blocking model (blocking.c) on fixed cache tables, against the sizes worked out by
 * hand in tests/test_blocking_model.py; the overrides of the sizes in force, and
 * c_strassen's cutoff (as tests/test_strassen.py). */
static void blocking_checks(void)
{
    const size_t KIB = 1024, MIB = 1024 * 1024;
    static ladder_cache tables[4][3];
    const ladder_cache zen3[3] = {{32 * KIB, 8, 64}, {512 * KIB, 8, 64}, {32 * MIB, 16, 64}},
                       spr[3] = {{48 * KIB, 12, 64}, {2 * MIB, 16, 64}, {105 * MIB, 15, 64}},
                       skylake[3] = {{32 * KIB, 8, 64}, {256 * KIB, 4, 64}, {8 * MIB, 16, 64}},
                       graviton3[3] = {{64 * KIB, 4, 64}, {1 * MIB, 8, 64}, {32 * MIB, 16, 64}};
    memcpy(tables[0], zen3, sizeof zen3);
    memcpy(tables[1], spr, sizeof spr);
    memcpy(tables[2], skylake, sizeof skylake);
    memcpy(tables[3], graviton3, sizeof graviton3);
    /* table, element bytes, MR, NR, then KC, MC, NC expected */
    static const size_t gemm[][7] = {{0, 4, 6, 16, 440, 222, 4096}, {0, 8, 6, 8, 312, 156, 4096},
                                     {1, 4, 12, 32, 936, 480, 4096}, {1, 8, 12, 16, 464, 492, 4096},
                                     {2, 8, 6, 8, 176, 90, 4096}, {2, 4, 6, 16, 256, 126, 4096},
                                     {3, 4, 8, 12, 624, 312, 4092}};
    for (size_t c = 0; c < sizeof gemm / sizeof gemm[0]; c++) {
        const ladder_cache *t = tables[gemm[c][0]];
        const ladder_blocking b = ladder_gemm_model(gemm[c][1], gemm[c][2], gemm[c][3], &t[0],
                                                    &t[1], &t[2]);
        checks++;
        if (b.kc != gemm[c][4] || b.mc != gemm[c][5] || b.nc != gemm[c][6]) {
            printf("FAIL blocking model case %zu: KC %zu MC %zu NC %zu, expected %zu %zu %zu\n",
                   c, b.kc, b.mc, b.nc, gemm[c][4], gemm[c][5], gemm[c][6]);
            failures++;
        }
    }
    /* table, element bytes, then KB, NB expected (c_blocked's tiles) */
    static const size_t tiles[][4] = {{0, 4, 37, 3072}, {0, 8, 37, 1536}, {1, 4, 96, 5120},
                                      {3, 4, 56, 4096}};
    for (size_t c = 0; c < sizeof tiles / sizeof tiles[0]; c++) {
        const ladder_cache *t = tables[tiles[c][0]];
        const ladder_tiles b = ladder_blocked_model(tiles[c][1], &t[0], &t[1]);
        checks++;
        if (b.kb != tiles[c][2] || b.nb != tiles[c][3]) {
            printf("FAIL blocked model case %zu: KB %zu NB %zu, expected %zu %zu\n", c, b.kb,
                   b.nb, tiles[c][2], tiles[c][3]);
            failures++;
        }
    }
    /* overrides, per element size, and back to the model on this CPU */
    const int isa = ladder_active_isa();
    const ladder_cache l1 = ladder_cache_info(1), l2 = ladder_cache_info(2),
                       l3 = ladder_cache_info(3);
    for (size_t elem = 4; elem <= 8; elem += 4) {
        const size_t other = 12 - elem;
        const ladder_blocking before = ladder_gemm_blocking(other, isa);
        ladder_set_gemm_blocking(elem, 48, 64, 128);
        ladder_set_blocked_tiles(elem, 16, 64);
        const ladder_blocking b = ladder_gemm_blocking(elem, isa),
                              still = ladder_gemm_blocking(other, isa);
        const ladder_tiles t = ladder_blocked_tiles(elem);
        const size_t mc = 48 < b.mr ? b.mr : 48 / b.mr * b.mr,
                     nc = 128 < b.nr ? b.nr : 128 / b.nr * b.nr;
        checks++;
        if (!b.overridden || b.kc != 64 || b.mc != mc || b.nc != nc || t.kb != 16 ||
            t.nb != 64 || still.overridden || still.kc != before.kc || still.mc != before.mc ||
            still.nc != before.nc) {
            printf("FAIL blocking override float%zu: KC %zu MC %zu NC %zu KB %zu NB %zu\n",
                   elem * 8, b.kc, b.mc, b.nc, t.kb, t.nb);
            failures++;
        }
        ladder_set_gemm_blocking(elem, 0, 0, 0);
        ladder_set_blocked_tiles(elem, 0, 0);
        const ladder_blocking back = ladder_gemm_blocking(elem, isa),
                              model = ladder_gemm_model(elem, b.mr, b.nr, &l1, &l2, &l3);
        const ladder_tiles t_back = ladder_blocked_tiles(elem),
                           t_model = ladder_blocked_model(elem, &l1, &l2);
        checks++;
        if (back.overridden || back.kc != model.kc || back.mc != model.mc ||
            back.nc != model.nc || t_back.kb != t_model.kb || t_back.nb != t_model.nb) {
            printf("FAIL blocking float%zu not restored\n", elem * 8);
            failures++;
        }
    }
    /* c_strassen's levels: 0 below the cutoff, 1 from it, 2 from twice it */
    ladder_set_strassen_cutoff(8, 1000);
    checks++;
    if (ladder_strassen_cutoff(8) != 1000 || ladder_strassen_levels(8, 999, 5000, 5000) != 0 ||
        ladder_strassen_levels(8, 5000, 1000, 1999) != 1 ||
        ladder_strassen_levels(8, 2000, 2000, 2000) != 2 ||
        ladder_strassen_cutoff(4) != LADDER_STRASSEN_CUTOFF) {
        printf("FAIL strassen cutoff\n");
        failures++;
    }
    ladder_set_strassen_cutoff(8, 0);
}

/* Every check of the matmul and convolution rungs with the active micro-kernel ISA. */
static void all_rungs(void)
{
    for (size_t elem = 4; elem <= 8; elem += 4) {  /* the model's blocks and tiles */
        ladder_set_gemm_blocking(elem, 0, 0, 0);
        ladder_set_blocked_tiles(elem, 0, 0);
    }
    all_shapes("from the cache model");
    /* Many blocks on small shapes: MC = 2 MR, KC = 16, NC = 2 NR; c_blocked KB 16, NB 32. */
    ladder_set_gemm_blocking(4, 16, 16, 24);
    ladder_set_gemm_blocking(8, 16, 16, 12);
    ladder_set_blocked_tiles(4, 16, 32);
    ladder_set_blocked_tiles(8, 16, 32);
    all_shapes("MC 16, KC 16, NC 2 NR; KB 16, NB 32");
    /* The extreme: MC = MR, KC = 8, NC = NR; c_blocked KB 8, NB 16. */
    ladder_set_gemm_blocking(4, 1, 8, 1);
    ladder_set_gemm_blocking(8, 1, 8, 1);
    ladder_set_blocked_tiles(4, 8, 16);
    ladder_set_blocked_tiles(8, 8, 16);
    all_shapes("MC = MR, KC = 8, NC = NR; KB 8, NB 16");
    races_s();
    races_d();
    /* the convolution: every column remainder of the 4- and 2-wide vectors, bands of 4, and
     * an image wider than conv_c_strips' strip of 4096 columns; the third column: 1 to run
     * it with an aligned output too */
    static const size_t images[][3] = {{3, 3, 0}, {4, 4, 0}, {17, 5, 0}, {5, 17, 0},
                                       {7, 10, 1}, {11, 11, 0}, {6, 37, 1}, {129, 257, 0},
                                       {12, 1031, 1}, {7, 4203, 1}};
    for (size_t s = 0; s < sizeof images / sizeof images[0]; s++)
        for (int aligned = 0; aligned <= (int)images[s][2]; aligned++) {
            conv_s(images[s][0], images[s][1], 300 + s, aligned);
            conv_d(images[s][0], images[s][1], 400 + s, aligned);
        }
}

int main(void)
{
    const int isa = ladder_active_isa();
    printf("micro-kernel ISA %d (best %d); L1d %zu, L2 %zu, L3 %zu bytes\n", isa,
           ladder_best_isa(), ladder_cache_info(1).bytes, ladder_cache_info(2).bytes,
           ladder_cache_info(3).bytes);
#if defined(LADDER_ARM64)
    if (isa != LADDER_ISA_NEON) {
        printf("FAIL: the NEON micro-kernel is not active\n");
        return 1;
    }
    for (int elem = 4; elem <= 8; elem += 4) {
        const ladder_blocking b = ladder_gemm_blocking(elem, isa);
        printf("float%d blocking: MR %zu NR %zu KC %zu MC %zu NC %zu\n", elem * 8, b.mr, b.nr,
               b.kc, b.mc, b.nc);
        if (b.mr != UK_NEON_MR || b.nr != (elem == 4 ? UK_NEON_NR_S : UK_NEON_NR_D) ||
            !b.kc || b.mc % b.mr || b.nc % b.nr || !b.mc || !b.nc) {
            printf("FAIL: blocking\n");
            failures++;
        }
    }
    const size_t depths[] = {1, 2, 7, 64, 301};
    for (size_t i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        ukernel_s(depths[i]);
        ukernel_d(depths[i]);
    }
    blocking_checks();
    all_rungs();
#else
    blocking_checks();
    /* every micro-kernel ISA this CPU runs, the best first (x86-64: AVX-512, AVX2); with
     * none, the packing rungs' status -1 is reported as failures */
    int ran = 0;
    for (int next = isa; next > LADDER_ISA_NONE; next--) {
        if (!ladder_isa_compiled(next) || ladder_set_isa(next) != 0)
            continue;
        printf("ISA %d:\n", next);
        all_rungs();
        ran++;
    }
    ladder_set_isa(isa);
    if (!ran)
        all_rungs();
#endif
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
