/* Block sizes of the blocked rungs, from a model of the caches. It counts cache ways, as
 * Low, Smith, Van Zee and van de Geijn do in "Analytical modeling is enough for
 * high-performance BLIS" (ACM TOMS 43(2), 2016): every size follows from the micro-kernel's
 * tile (MR x NR), the element size S and each level's size, associativity W and line size,
 * through the bytes of one way (size / W: one line in every set). An LRU set-associative
 * cache keeps a block only while the data streaming past it leaves it its ways in every set.
 *
 *   Traffic beyond L2. Per call the micro-kernel loads and stores its MR x NR tile of C, from
 *   wherever C lives: 2 * MR * NR * S bytes for MR * NR * KC multiply-adds, so 2S / KC bytes
 *   each. Per column of micro-panels, the KC x NR micro-panel of B comes from L3 once and
 *   serves the MC / MR micro-panels of A in L2: S / MC bytes per multiply-add. With the A
 *   block's P = MC * KC elements fixed by L2, 2 / KC + 1 / MC is least at KC = sqrt(2P),
 *   MC = sqrt(P / 2): KC twice MC.
 *   L2: the A block shares L2 with one micro-panel of B (C_B2 = ceil(KC * NR * S / way2)
 *       ways) and C (one way): P = (W2 - 1 - C_B2) * way2 / S.
 *   L1: an MR x KC micro-panel of A in L1's ways but one caps KC. (Low et al. keep the B
 *       micro-panel in L1 instead, which gives KC = 80-170 for the 12 x 32 and 6 x 16 float32
 *       tiles; their C tile then costs up to 20%: docs/blocking.md.)
 *   KC = min(sqrt(2P), (W1 - 1) * way1 / (MR * S)), a multiple of 8; then
 *   MC = (W2 - 1 - C_B2) * way2 / (KC * S), a multiple of MR.
 *   NC (L3): the KC x NC panel of B shares L3 with the A block:
 *       C_B3 = W3 - 1 - ceil(MC * KC * S / way3), NC = C_B3 * way3 / (KC * S), a multiple of
 *       NR, at most NC_MAX (a VM may report its host's whole L3).
 *   One block of A (M <= MC): each B panel is read once, just after it is packed, so NC
 *       shrinks until the panel fits in the L2 ways the A block and C leave
 *       (ladder_one_block_nc): the micro-kernel then reads it from L2, not L3.
 *   c_blocked (rung 3) keeps a row segment of C (NB values) in half of L1's ways but one,
 *       and a KB x NB tile of B in L2's ways but one.
 * ladder_gemm_model is the model alone, on any cache table; ladder_gemm_blocking applies it
 * to this CPU, then any sizes set with ladder_set_gemm_blocking (a tuner's, or a sweep's).
 * Compiled for the baseline ISA, so it runs anywhere. */
#include <stdatomic.h>
#include "ladder.h"

#define NC_MAX 4096

static size_t way_bytes(const ladder_cache *c)
{
    return c->ways ? c->bytes / c->ways : c->bytes; /* N * L */
}

static size_t round_down(size_t x, size_t multiple, size_t at_least)
{
    x -= x % multiple;
    return x < at_least ? at_least : x;
}

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

static size_t isqrt(size_t x)
{
    size_t r = 0;
    while ((r + 1) * (r + 1) <= x)
        r++;
    return r;
}

/* l1_caps_kc 0 (the loop variant l2_kc) leaves out L1's cap: where the cap binds (float64
 * with the 12 x 16 tile on a 48 KiB L1: KC 464 where L2 alone gives 672), the A micro-panel
 * then streams from L2 beside B's, which L2 feeds at the kernel's rate (docs/blocking.md), and
 * KC comes back to the balance of C's traffic against B's; ways_a_l1 is then 0. */
ladder_blocking ladder_gemm_model_ex(size_t elem, size_t mr, size_t nr, const ladder_cache *l1,
                                     const ladder_cache *l2, const ladder_cache *l3,
                                     int l1_caps_kc)
{
    ladder_blocking b = {0};
    b.mr = mr;
    b.nr = nr;
    const size_t w1 = l1->ways > 1 ? l1->ways : 2, w2 = l2->ways > 2 ? l2->ways : 3,
                 w3 = l3->ways > 2 ? l3->ways : 3;
    /* KC: balances C's traffic against B's, within L1's cap; then B's ways in L2. */
    b.ways_a_l1 = l1_caps_kc ? w1 - 1 : 0;
    const size_t kc_l1 = l1_caps_kc ? b.ways_a_l1 * way_bytes(l1) / (mr * elem) : (size_t)-1;
    size_t b_ways = 1, kc = 0;
    for (int pass = 0; pass < 2; pass++) { /* B's ways depend on KC: settle them */
        const size_t a_elements = (w2 > 1 + b_ways ? w2 - 1 - b_ways : 1) * way_bytes(l2) / elem;
        kc = isqrt(2 * a_elements);
        kc = round_down(kc < kc_l1 ? kc : kc_l1, 8, 8);
        b_ways = ceil_div(kc * nr * elem, way_bytes(l2));
    }
    b.kc = kc;
    b.ways_a_l2 = w2 > 1 + b_ways ? w2 - 1 - b_ways : 1;
    b.mc = round_down(b.ways_a_l2 * way_bytes(l2) / (b.kc * elem), mr, mr);
    /* NC: the ways of L3 that the block of A leaves to the panel of B. */
    const size_t a_ways = ceil_div(b.mc * b.kc * elem, way_bytes(l3));
    b.ways_b_l3 = w3 > 1 + a_ways ? w3 - 1 - a_ways : 1;
    const size_t nc = b.ways_b_l3 * way_bytes(l3) / (b.kc * elem);
    b.nc = round_down(nc < NC_MAX ? nc : NC_MAX, nr, nr);
    return b;
}

ladder_blocking ladder_gemm_model(size_t elem, size_t mr, size_t nr, const ladder_cache *l1,
                                  const ladder_cache *l2, const ladder_cache *l3)
{
    return ladder_gemm_model_ex(elem, mr, nr, l1, l2, l3, 1);
}

size_t ladder_one_block_nc(const ladder_blocking *b, size_t elem, size_t m)
{
    if (b->overridden)
        return b->nc;
    const ladder_cache l2 = ladder_cache_info(2);
    const size_t w2 = l2.ways > 2 ? l2.ways : 3;
    const size_t a_ways = ceil_div((m < b->mc ? m : b->mc) * b->kc * elem, way_bytes(&l2));
    const size_t b_ways = w2 > 1 + a_ways ? w2 - 1 - a_ways : 1;
    const size_t nc = round_down(b_ways * way_bytes(&l2) / (b->kc * elem), b->nr, b->nr);
    return nc < b->nc ? nc : b->nc;
}

ladder_tiles ladder_blocked_model(size_t elem, const ladder_cache *l1, const ladder_cache *l2)
{
    ladder_tiles t;
    const size_t w1 = l1->ways > 2 ? l1->ways : 3, w2 = l2->ways > 1 ? l2->ways : 2;
    t.nb = round_down((w1 - 1) / 2 * way_bytes(l1) / elem, 16, 16);
    t.kb = round_down((w2 - 1) * way_bytes(l2) / (t.nb * elem), 1, 8);
    return t;
}

/* ---- this CPU -------------------------------------------------------------------------- */
static void tile_of(size_t elem, int isa, size_t *mr, size_t *nr)
{
    if (isa == LADDER_ISA_AVX512) {
        *mr = UK_AVX512_MR;
        *nr = elem == 4 ? UK_AVX512_NR_S : UK_AVX512_NR_D;
    } else if (isa == LADDER_ISA_NEON) {
        *mr = UK_NEON_MR;
        *nr = elem == 4 ? UK_NEON_NR_S : UK_NEON_NR_D;
    } else {
        *mr = UK_AVX2_MR;
        *nr = elem == 4 ? UK_AVX2_NR_S : UK_AVX2_NR_D;
    }
}

/* Sizes set from outside, per element size (index 0: float32, 1: float64); 0 keeps the
 * model's. */
static atomic_size_t override_mc[2], override_kc[2], override_nc[2];

void ladder_set_gemm_blocking(size_t elem, size_t mc, size_t kc, size_t nc)
{
    const int i = elem == 8;
    atomic_store(&override_mc[i], mc);
    atomic_store(&override_kc[i], kc);
    atomic_store(&override_nc[i], nc);
}

ladder_blocking ladder_gemm_blocking(size_t elem, int isa)
{
    size_t mr, nr;
    tile_of(elem, isa, &mr, &nr);
    const ladder_cache l1 = ladder_cache_info(1), l2 = ladder_cache_info(2),
                       l3 = ladder_cache_info(3);
    const int l1_caps_kc = !(ladder_loop_variants() & LADDER_VARIANT_L2_KC);
    ladder_blocking b = ladder_gemm_model_ex(elem, mr, nr, &l1, &l2, &l3, l1_caps_kc);
    const int i = elem == 8;
    const size_t kc = atomic_load(&override_kc[i]), mc = atomic_load(&override_mc[i]),
                 nc = atomic_load(&override_nc[i]);
    if (kc) b.kc = round_down(kc, 1, 1);
    if (mc) b.mc = round_down(mc, b.mr, b.mr);
    if (nc) b.nc = round_down(nc, b.nr, b.nr);
    b.overridden = kc || mc || nc;
    return b;
}

/* ---- loop variants of rungs 4-5 (ladder.h) --------------------------------------------- */
static atomic_int loop_variants;

int ladder_loop_variants(void)
{
    return atomic_load(&loop_variants);
}

int ladder_set_loop_variants(int mask)
{
    if (mask & ~LADDER_VARIANT_ALL)
        return -1;
    atomic_store(&loop_variants, mask);
    return 0;
}

static atomic_size_t override_kb[2], override_nb[2];

void ladder_set_blocked_tiles(size_t elem, size_t kb, size_t nb)
{
    atomic_store(&override_kb[elem == 8], kb);
    atomic_store(&override_nb[elem == 8], nb);
}

ladder_tiles ladder_blocked_tiles(size_t elem)
{
    const ladder_cache l1 = ladder_cache_info(1), l2 = ladder_cache_info(2);
    ladder_tiles t = ladder_blocked_model(elem, &l1, &l2);
    const size_t kb = atomic_load(&override_kb[elem == 8]), nb = atomic_load(&override_nb[elem == 8]);
    if (kb) t.kb = kb;
    if (nb) t.nb = nb;
    return t;
}

/* ---- Strassen's cutoff (rung 6) -------------------------------------------------------- */
static atomic_size_t strassen_cutoff[2];

size_t ladder_strassen_cutoff(size_t elem)
{
    const size_t n = atomic_load(&strassen_cutoff[elem == 8]);
    return n ? n : LADDER_STRASSEN_CUTOFF;
}

void ladder_set_strassen_cutoff(size_t elem, size_t n)
{
    atomic_store(&strassen_cutoff[elem == 8], n);
}

int ladder_strassen_levels(size_t elem, size_t M, size_t N, size_t K)
{
    const size_t smallest = M < N ? (M < K ? M : K) : (N < K ? N : K);
    const size_t cutoff = ladder_strassen_cutoff(elem);
    return smallest >= 2 * cutoff ? 2 : smallest >= cutoff ? 1 : 0;
}

/* c_bf16 (rung 7): bf16 operands, 2 bytes each, in the tile of the unit. A simpler model
 * than the one above, as the unit's C tile costs little beside its k loop: a KC x 32
 * micro-panel of B in half of L1 (KC a multiple of the 32 k values of an AMX tile row), the
 * MC x KC block of A in half of L2, and a KC x NC panel of B in half of L3 (at most NC_MAX). */
ladder_blocking ladder_bf16_blocking(int unit)
{
    ladder_blocking b = {0};
    const int amx = unit == LADDER_BF16_AMX || unit == LADDER_BF16_EMULATE_AMX;
    b.mr = amx ? UK_BF16_MR_AMX : UK_BF16_MR_AVX512;
    b.nr = UK_BF16_NR;
    const ladder_cache l1 = ladder_cache_info(1), l2 = ladder_cache_info(2),
                       l3 = ladder_cache_info(3);
    size_t kc = l1.bytes / 2 / (b.nr * 2);
    kc = round_down(kc > 1024 ? 1024 : kc, UK_BF16_KB, 64);
    b.kc = kc;
    size_t mc = l2.bytes / 2 / (kc * 2);
    b.mc = round_down(mc > 4096 ? 4096 : mc, b.mr, b.mr);
    size_t nc = l3.bytes / 2 / (kc * 2);
    b.nc = round_down(nc > NC_MAX ? NC_MAX : nc, b.nr, b.nr);
    return b;
}
