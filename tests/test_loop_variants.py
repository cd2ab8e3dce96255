"""The loop variants of c_simd/c_omp (ml.set_loop_variants, csrc/ladder.h): each gives the
right answer on every kind of shape, dtype, layout and thread count, with each ISA's
micro-kernel this CPU runs (the AVX-512 ones are skipped, with the reason, where the CPU has
no AVX-512: they run on the Xeon); the setter's contract; and the l2_kc blocking, by hand."""
import os
import subprocess
import sys

import numpy as np
import pytest

import matmul_ladder as ml
from matmul_ladder import _ckernels
from conftest import assert_matmul_close, random_matrix

VARIANTS = _ckernels.LOOP_VARIANTS
# each variant alone, all of them together, and the default loop nest as the control
CHOICES = [()] + [(v,) for v in VARIANTS] + [VARIANTS]
IDS = ["default"] + list(VARIANTS) + ["all"]

# (M, N, K): empty, one element, few rows (M <= 8: no packing), a small A read in place,
# primes with edge tiles in every direction, K past one KC block (accumulating passes).
SHAPES = [(0, 5, 3), (5, 3, 0), (1, 1, 1), (7, 13, 17), (9, 1, 13), (13, 31, 97),
          (31, 37, 41), (97, 101, 103), (61, 29, 701), (211, 389, 37)]
# Block sizes small enough that the shapes above cross many MC, KC and NC blocks, and a KC
# under the prefetch variant's C tail (32 k steps) as well as one past it.
SMALL_BLOCKS = [dict(mc=24, kc=8, nc=48), dict(mc=36, kc=40, nc=80)]


def usable_isas():
    """[pytest.param(isa)] for the micro-kernels in this build, skipped where the CPU lacks them."""
    best = ml.build_info()["simd"]["usable"]
    out = []
    for isa in ml.build_info()["simd"]["compiled"]:
        runs = isa == best or (isa, best) == ("avx2", "avx512")  # an AVX-512 CPU runs AVX2
        out.append(pytest.param(isa, marks=pytest.mark.skipif(
            not runs, reason=f"this CPU runs {best}, not {isa} (the Xeon runs these)")))
    return out


@pytest.fixture
def variants_and_isa(request):
    """Sets (variants, isa) for the test and restores both after it."""
    variants, isa = request.param
    previous_isa = ml.set_simd_isa(isa)
    previous = ml.set_loop_variants(variants)
    try:
        yield variants
    finally:
        ml.set_loop_variants(previous)
        ml.set_simd_isa(previous_isa)


def _params():
    return [pytest.param((choice, isa.values[0]), marks=isa.marks, id=f"{name}-{isa.values[0]}")
            for isa in usable_isas() for choice, name in zip(CHOICES, IDS)]


def _check(a, b, threads):
    assert_matmul_close(ml.matmul(a, b, kernel="c_simd"), a, b)
    if ml.build_info()["openmp"]:
        assert_matmul_close(ml.matmul(a, b, kernel="c_omp", threads=threads), a, b)


@pytest.mark.parametrize("variants_and_isa", _params(), indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shapes(variants_and_isa, dtype):
    rng = np.random.default_rng(35)
    for m, n, k in SHAPES:
        a, b = random_matrix(rng, m, k, dtype), random_matrix(rng, k, n, dtype)
        for threads in (2, 3):
            _check(a, b, threads)


@pytest.mark.parametrize("variants_and_isa", _params(), indirect=True)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("blocks", SMALL_BLOCKS, ids=["kc8", "kc40"])
def test_many_blocks(variants_and_isa, dtype, blocks):
    """Every loop of the nest runs many times: A's blocks, B's panels (packed by all threads,
    with more threads than rows of k in a block), KC passes that accumulate."""
    rng = np.random.default_rng(36)
    with ml.blocking_override(np.dtype(dtype).name, **blocks):
        for m, n, k in [(97, 101, 103), (61, 29, 70), (25, 130, 9)]:
            a, b = random_matrix(rng, m, k, dtype), random_matrix(rng, k, n, dtype)
            for threads in (2, 5):
                _check(a, b, threads)


@pytest.mark.parametrize("variants_and_isa", _params(), indirect=True)
def test_layouts(variants_and_isa):
    rng = np.random.default_rng(37)
    big_a, big_b = random_matrix(rng, 130, 200, np.float64), random_matrix(rng, 200, 150, np.float64)
    cases = [(random_matrix(rng, 53, 67, np.float64, "F"), random_matrix(rng, 67, 41, np.float64, "F")),
             (big_a[:53, :67], big_b[:67, :41]),            # rows further apart than their length
             (big_a[::2, ::3][:53, :60], big_b[::3, ::2][:60, :41]),
             (big_a[::-1, :67], big_b[:67, ::-1])]
    for a, b in cases:
        _check(a, b, 2)


def test_set_loop_variants_contract():
    before = ml.set_loop_variants("none")
    try:
        assert ml.build_info()["simd"]["loop_variants"] == []
        assert ml.set_loop_variants("prefetch, l2_kc") == ()
        assert ml.build_info()["simd"]["loop_variants"] == ["prefetch", "l2_kc"]
        # a list, with a repeat, comes back in the bits' order
        assert ml.set_loop_variants(["hugepages", "pack_b_rows", "hugepages"]) == ("prefetch", "l2_kc")
        assert _ckernels.loop_variants() == ("hugepages", "pack_b_rows")
        assert ml.set_loop_variants(()) == ("hugepages", "pack_b_rows")
        assert ml.set_loop_variants(VARIANTS) == ()
        assert ml.set_loop_variants("") == VARIANTS
        with pytest.raises(ValueError, match="unknown loop variant 'prefetc'.*choose from prefetch"):
            ml.set_loop_variants("prefetc")
        with pytest.raises(TypeError, match="strings"):
            ml.set_loop_variants(["prefetch", 3])
        with pytest.raises(TypeError, match="string or an iterable"):
            ml.set_loop_variants(7)
        assert ml.build_info()["simd"]["loop_variants"] == []  # a refused choice changes nothing
    finally:
        ml.set_loop_variants(before)


def test_environment_variable_sets_them_at_import():
    env = dict(os.environ, MATMUL_LADDER_LOOP_VARIANTS="pack_b_rows,prefetch")
    code = "import matmul_ladder as ml; print(ml.build_info()['simd']['loop_variants'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "['prefetch', 'pack_b_rows']"
    env["MATMUL_LADDER_LOOP_VARIANTS"] = "nonsense"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]" and "MATMUL_LADDER_LOOP_VARIANTS='nonsense' ignored" in out.stderr


KIB, MIB = 1 << 10, 1 << 20
SAPPHIRE_RAPIDS = ((48 * KIB, 12, 64), (2 * MIB, 16, 64), (105 * MIB, 15, 64))
ZEN4 = ((32 * KIB, 8, 64), (1 * MIB, 8, 64), (32 * MIB, 16, 64))


@pytest.mark.parametrize("caches, itemsize, mr, nr, capped, uncapped", [
    # Sapphire Rapids, 12x16 float64: L2 way 128 KiB, B's micro-panel in 1 way, P = 14 *
    # 131072 / 8 = 229376, sqrt(2P) = 677. L1's cap (11 ways of 4 KiB: 11 * 4096 / 96 = 469)
    # gives KC 464, MC = 14 * 131072 / (464 * 8) = 494 -> 492. Without it KC = 672 (B's
    # micro-panel 84 KiB: still 1 way) and MC = 14 * 131072 / (672 * 8) = 341 -> 336.
    (SAPPHIRE_RAPIDS, 8, 12, 16, (464, 492), (672, 336)),
    # Sapphire Rapids, 12x32 float32: the cap (938 -> 936) barely binds: sqrt(2 * 458752) =
    # 957 -> 952; MC = 14 * 131072 / (952 * 4) = 481 -> 480, as with the cap.
    (SAPPHIRE_RAPIDS, 4, 12, 32, (936, 480), (952, 480)),
    # Zen 4, 12x16 float64: the cap 7 * 4096 / 96 = 298 -> 296 binds; P = 6 * 131072 / 8 =
    # 98304, sqrt(2P) = 443 -> 440, MC = 6 * 131072 / (440 * 8) = 223 -> 216.
    (ZEN4, 8, 12, 16, (296, 324), (440, 216)),
], ids=["spr-f64", "spr-f32", "zen4-f64"])
def test_l2_kc_model_by_hand(caches, itemsize, mr, nr, capped, uncapped):
    with_cap = _ckernels.gemm_model(itemsize, mr, nr, *caches)
    without = _ckernels.gemm_model(itemsize, mr, nr, *caches, l1_caps_kc=False)
    assert (with_cap["KC"], with_cap["MC"]) == capped
    assert (without["KC"], without["MC"]) == uncapped
    assert without["ways"]["L1 (cap on the A micro-panel)"] == 0


@pytest.mark.parametrize("dtype, size", [("float32", 4), ("float64", 8)])
def test_l2_kc_is_the_blocking_in_force(dtype, size):
    geometry = ml.build_info()["cpu"]["cache_geometry"]
    before = ml.set_loop_variants("l2_kc")
    try:
        simd = ml.build_info()["blocking"][dtype]["c_simd"]
        if simd["overridden"]:
            pytest.skip("block sizes are overridden here (a tuner's cache)")
        model = _ckernels.gemm_model(size, simd["MR"], simd["NR"], geometry["L1d"],
                                     geometry["L2"], geometry["L3"], l1_caps_kc=False)
        assert (simd["KC"], simd["MC"], simd["NC"]) == (model["KC"], model["MC"], model["NC"])
        assert "l2_kc" in simd["source"]
    finally:
        ml.set_loop_variants(before)
    assert "l2_kc" not in ml.build_info()["blocking"][dtype]["c_simd"]["source"]
