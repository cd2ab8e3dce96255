"""The blocking model (csrc/blocking.c) on the cache tables of four CPUs, against values
worked out by hand from its formulas; and that the sizes in force can be overridden and
restored. Each level is (bytes, ways, line bytes); a way is bytes / ways."""
import numpy as np
import pytest

import matmul_ladder as ml
from matmul_ladder import _ckernels

KIB, MIB = 1 << 10, 1 << 20
ZEN3 = dict(l1=(32 * KIB, 8, 64), l2=(512 * KIB, 8, 64), l3=(32 * MIB, 16, 64))
SAPPHIRE_RAPIDS = dict(l1=(48 * KIB, 12, 64), l2=(2 * MIB, 16, 64), l3=(105 * MIB, 15, 64))
SKYLAKE_CLIENT = dict(l1=(32 * KIB, 8, 64), l2=(256 * KIB, 4, 64), l3=(8 * MIB, 16, 64))
GRAVITON3 = dict(l1=(64 * KIB, 4, 64), l2=(1 * MIB, 8, 64), l3=(32 * MIB, 16, 64))

# (name, caches, itemsize, MR, NR, expected KC, MC, NC), with the working. P is the A block's
# elements in L2: (W2 - 1 - ways of one B micro-panel) * way2 / S; KC = min(sqrt(2P), the
# A micro-panel in L1's ways but one), a multiple of 8; MC = P / KC, a multiple of MR.
CASES = [
    # Zen 3, AVX2 6x16 float32. L2 way 64 KiB; with B's micro-panel in 1 way, P = 6 * 65536
    # / 4 = 98304 and sqrt(2P) = 443; L1's cap 7 * 4096 / 24 = 1194: KC = 440. B's
    # micro-panel 440 * 16 * 4 = 27.5 KiB: 1 way indeed. MC = 6 * 65536 / (440 * 4) = 223
    # -> 222. L3 way 2 MiB: the A block takes 1, B's panel 14: NC = 14 * 2 MiB / 1760 =
    # 16680 -> capped at 4096.
    ("zen3 avx2 f32", ZEN3, 4, 6, 16, 440, 222, 4096),
    # Zen 3, AVX2 6x8 float64: P = 6 * 65536 / 8 = 49152, sqrt(2P) = 313 -> KC 312; B's
    # micro-panel 19.5 KiB, 1 way; MC = 6 * 65536 / (312 * 8) = 157 -> 156.
    ("zen3 avx2 f64", ZEN3, 8, 6, 8, 312, 156, 4096),
    # Sapphire Rapids, AVX-512 12x32 float32: L2 way 128 KiB, P = 14 * 131072 / 4 = 458752,
    # sqrt(2P) = 957; L1 (48 KiB, 12 ways of 4 KiB) caps KC at 11 * 4096 / 48 = 938: KC
    # 936. B's micro-panel 117 KiB, 1 way. MC = 14 * 131072 / (936 * 4) = 490 -> 480.
    ("spr avx512 f32", SAPPHIRE_RAPIDS, 4, 12, 32, 936, 480, 4096),
    # Sapphire Rapids, AVX-512 12x16 float64: P = 229376, sqrt(2P) = 677; L1's cap 11 *
    # 4096 / 96 = 469: KC 464; MC = 14 * 131072 / (464 * 8) = 494 -> 492.
    ("spr avx512 f64", SAPPHIRE_RAPIDS, 8, 12, 16, 464, 492, 4096),
    # Skylake client, AVX2 6x8 float64: L2 256 KiB in 4 ways of 64 KiB leaves the A block
    # 2: P = 2 * 65536 / 8 = 16384, sqrt(2P) = 181 -> KC 176; MC = 131072 / 1408 = 93 -> 90.
    # L3 way 512 KiB: NC = 14 * 524288 / 1408 = 5213 -> 4096.
    ("skylake avx2 f64", SKYLAKE_CLIENT, 8, 6, 8, 176, 90, 4096),
    # Skylake client, AVX2 6x16 float32: P = 32768, sqrt(2P) = 256 -> KC 256; MC = 131072 /
    # 1024 = 128 -> 126.
    ("skylake avx2 f32", SKYLAKE_CLIENT, 4, 6, 16, 256, 126, 4096),
    # Graviton 3 (Neoverse V1), an 8x12 NEON float32 tile: L2 1 MiB in 8 ways of 128 KiB,
    # P = 6 * 131072 / 4 = 196608, sqrt(2P) = 627 -> KC 624 (L1's cap: 3 ways of 16 KiB,
    # 1536); MC = 6 * 131072 / (624 * 4) = 315 -> 312; NC capped: 4096 -> 4092 (12 | NC).
    ("graviton3 neon f32", GRAVITON3, 4, 8, 12, 624, 312, 4092),
]


@pytest.mark.parametrize("name, caches, itemsize, mr, nr, kc, mc, nc", CASES,
                         ids=[c[0] for c in CASES])
def test_gemm_model_by_hand(name, caches, itemsize, mr, nr, kc, mc, nc):
    b = _ckernels.gemm_model(itemsize, mr, nr, caches["l1"], caches["l2"], caches["l3"])
    assert (b["KC"], b["MC"], b["NC"]) == (kc, mc, nc)
    assert b["MC"] % mr == 0 and b["NC"] % nr == 0


@pytest.mark.parametrize("caches, itemsize, kb, nb", [
    # NB: half of L1's ways but one, floor(7 / 2) = 3 ways of 4 KiB: 3072 floats; KB: L2's
    # ways but one hold the tile: 7 * 64 KiB / (3072 * 4) = 37.
    (ZEN3, 4, 37, 3072),
    (ZEN3, 8, 37, 1536),
    # Sapphire Rapids: 5 ways of 4 KiB -> NB 5120 floats; KB = 15 * 128 KiB / 20 KiB = 96.
    (SAPPHIRE_RAPIDS, 4, 96, 5120),
    # Graviton 3: 1 way of 16 KiB -> NB 4096 floats; KB = 7 * 128 KiB / 16 KiB = 56.
    (GRAVITON3, 4, 56, 4096),
])
def test_blocked_model_by_hand(caches, itemsize, kb, nb):
    assert _ckernels.blocked_model(itemsize, caches["l1"], caches["l2"]) == {"KB": kb, "NB": nb}


def test_model_is_what_this_cpu_uses():
    info = ml.build_info()
    geometry = info["cpu"]["cache_geometry"]
    for dtype, size in (("float32", 4), ("float64", 8)):
        simd = info["blocking"][dtype]["c_simd"]
        model = _ckernels.gemm_model(size, simd["MR"], simd["NR"], geometry["L1d"],
                                     geometry["L2"], geometry["L3"])
        if not simd["overridden"]:
            assert (simd["KC"], simd["MC"], simd["NC"]) == (model["KC"], model["MC"], model["NC"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_override_applies_and_restores(dtype):
    before = ml.build_info()["blocking"][dtype]
    with ml.blocking_override(dtype, mc=48, kc=64, nc=128, kb=16, nb=64):
        inside = ml.build_info()["blocking"][dtype]
        mr, nr = inside["c_simd"]["MR"], inside["c_simd"]["NR"]
        assert inside["c_simd"]["KC"] == 64 and inside["c_simd"]["overridden"]
        assert inside["c_simd"]["MC"] == 48 // mr * mr or inside["c_simd"]["MC"] == mr
        assert inside["c_simd"]["NC"] == max(128 // nr * nr, nr)
        assert inside["c_blocked"] == {"KB": 16, "NB": 64}
        a = np.ones((50, 70), dtype)
        np.testing.assert_array_equal(ml.matmul(a, a.T, kernel="c_blocked"), a @ a.T)
    assert ml.build_info()["blocking"][dtype] == before
