/* Block sizes of the blocked rungs, derived from the cache sizes read at run time (cpu.c).
 * Compiled for the baseline ISA, so it runs anywhere. */
#include <stdatomic.h>
#include "ladder.h"

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
    /* KC: one MR x KC micro-panel of A fills L1. A long KC amortises the load and store of
     * the C tile, the micro-kernel's only traffic to memory. */
    b.kc = clamp_multiple(l1 / (b.mr * elem), 128, 1024, 8);
    /* MC: the MC x KC block of A takes 3/16 of L2, leaving most of it to B's micro-panel,
     * the next one being warmed, and C. */
    b.mc = clamp_multiple(3 * l2 / (16 * b.kc * elem), 2 * b.mr, 4096, b.mr);
    /* NC: the KC x NC panel of B is read again by every block of A, and A is packed N/NC
     * times. Where L3 holds four such panels the panel takes 8x L2, else 2x L2. A VM may
     * report the host's whole L3, not its share of it: hence the cap at 8x L2. */
    const size_t b_panel = ladder_cache_bytes(3) >= 32 * l2 ? 8 * l2 : 2 * l2;
    b.nc = clamp_multiple(b_panel / (b.kc * elem), 4 * b.nr, 4096, b.nr);
    b.nc_short = clamp_multiple(2 * l2 / (b.kc * elem), 4 * b.nr, 4096, b.nr);
    /* Where C is small (at most 4x L2) or there is one A block (M < MC), the passes over C
     * that a long KC saves matter little: a short KC, a B micro-panel in 2/3 of L1, keeps
     * that micro-panel in L1 while the A micro-panels stream past. */
    b.kc_short = clamp_multiple(2 * l1 / (3 * b.nr * elem), 64, b.kc, 64);
    b.c_small = 4 * l2;
    /* A tuning sweep may override any of them (0 keeps the derived value). */
    if (atomic_load(&override_kc))
        b.kc = b.kc_short = clamp_multiple(atomic_load(&override_kc), 8, 1 << 16, 8);
    if (atomic_load(&override_mc))
        b.mc = clamp_multiple(atomic_load(&override_mc), b.mr, 1 << 16, b.mr);
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
