"""c_bf16 (rung 7, csrc/7_bf16.c): the CPU's matrix units.

The packing, edges, layouts, NaN/Inf and threads are tested everywhere through the emulated
units (portable scalar micro-kernels with the units' arithmetic on the same packed layout
and tile: ml.set_bf16_unit("emulate_amx" / "emulate_avx512_bf16"), for tests only). The
real units' tests skip, with the reason, where the CPU (or the kernel, for AMX) lacks them;
they run on an AVX512-BF16 or AMX machine."""
import numpy as np
import pytest

import matmul_ladder as ml
from matmul_ladder._ckernels import bf16_unit_reason
from matmul_ladder.bench.check import Reference

EMULATED = ("emulate_amx", "emulate_avx512_bf16")
REAL = ("amx", "avx512_bf16")
SHAPES = [(1, 1, 1), (2, 3, 5), (7, 31, 33), (13, 17, 29), (32, 32, 32), (33, 33, 33),
          (12, 64, 100), (97, 61, 257), (40, 130, 530), (1, 100, 37), (100, 1, 37)]


def unit_or_skip(unit):
    reason = bf16_unit_reason(unit)
    if reason:
        pytest.skip(f"{unit} cannot run here: {reason}")
    return unit


@pytest.fixture(params=EMULATED + REAL)
def unit(request):
    name = unit_or_skip(request.param)
    previous = ml.set_bf16_unit(name)
    yield name
    ml.set_bf16_unit(previous)


def rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def check(a, b, threads=1):
    c = ml.matmul(a, b, kernel="c_bf16", threads=threads)
    assert c.dtype == np.float32 and c.shape == (a.shape[0], b.shape[1])
    problem = Reference(a, b).violations(c, "bf16")
    assert not problem, problem
    return c


@pytest.mark.parametrize("m,n,k", SHAPES)
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_shapes_and_threads(unit, m, n, k, threads):
    check(rand((m, k), m * 7 + k), rand((k, n), n * 11 + k), threads)


@pytest.mark.parametrize("m,n,k", [(0, 5, 3), (4, 0, 3), (4, 5, 0), (0, 0, 0)])
def test_empty(unit, m, n, k):
    c = ml.matmul(np.ones((m, k), np.float32), np.ones((k, n), np.float32), kernel="c_bf16",
                  threads=2)
    assert c.shape == (m, n) and not c.any()


def test_layouts(unit):
    a, b = rand((45, 70), 1), rand((70, 39), 2)
    check(np.asfortranarray(a), b)
    check(a, np.asfortranarray(b))
    big_a, big_b = rand((90, 140), 3), rand((140, 80), 4)
    check(big_a[::2, ::2], big_b[::2, 1::2], threads=2)  # strided views
    check(big_a[:45, 3:73], big_b[5:75, :39])             # offset views, row stride > K


def test_blocks_and_edges(unit):
    """More than one K block, M block and partial tiles at once (the blocking's KC, MC)."""
    bs = ml._api._require_ckernels().bf16_blocking(unit)
    m, k = bs["MC"] + bs["MR"] + 3, bs["KC"] + 35
    check(rand((m, k), 5), rand((k, 45), 6), threads=2)


def test_nan_and_inf(unit):
    a, b = rand((20, 40), 7), rand((40, 36), 8)
    a[3, 5], b[7, 2], a[10, 0], b[0, 30] = np.nan, np.inf, -np.inf, np.nan
    c = check(a, b, threads=2)
    assert np.isnan(c[3]).all() and np.isnan(c[:, 30]).all()


def test_rounds_to_nearest_even():
    """The packing's float32 -> bf16: exact products of bf16 values come out exact."""
    unit_name = ml.set_bf16_unit("emulate_amx")
    try:
        one_plus = np.float32(1 + 2 ** -8 + 2 ** -20)  # rounds up to 1 + 2^-7
        tie = np.float32(1 + 2 ** -8)                   # a tie: rounds to even, 1
        a = np.array([[one_plus, tie]], np.float32)
        b = np.array([[1.0], [1.0]], np.float32)
        c = ml.matmul(a, b, kernel="c_bf16")
        assert c[0, 0] == np.float32(1 + 2 ** -7 + 1)
    finally:
        ml.set_bf16_unit(unit_name)


def test_float64_refused():
    previous = ml.set_bf16_unit("emulate_amx")
    try:
        with pytest.raises(TypeError):
            ml.matmul(np.ones((3, 3)), np.ones((3, 3)), kernel="c_bf16")
        with pytest.raises(TypeError, match="float32 only"):  # the binding, below ml.matmul
            ml._api._require_ckernels().run("c_bf16", np.ones((3, 3)), np.ones((3, 3)),
                                            np.empty((3, 3)), 1)
    finally:
        ml.set_bf16_unit(previous)


def test_none_is_unavailable_with_reason():
    previous = ml.set_bf16_unit("none")
    try:
        info = [k for k in ml.kernels() if k.name == "c_bf16"][0]
        assert not info.available and "BF16" in info.reason
        with pytest.raises(ml.KernelUnavailableError):
            ml.matmul(np.ones((3, 3), np.float32), np.ones((3, 3), np.float32), kernel="c_bf16")
    finally:
        ml.set_bf16_unit(previous)


def test_real_units_never_chosen_where_absent():
    for name in REAL:
        if bf16_unit_reason(name):
            with pytest.raises(ValueError):
                ml.set_bf16_unit(name)
            assert ml.bf16_peak(1, 0.01, name) == 0.0


@pytest.mark.parametrize("name", REAL)
def test_peak_probe(name):
    unit_or_skip(name)
    peak = ml.bf16_peak(1, 0.05, name)
    assert peak > 0


def test_check_catches_a_dropped_k_block():
    """The bf16 check can fail: an answer missing one K block of 32 is rejected."""
    a, b = rand((40, 96), 9), rand((96, 40), 10)
    previous = ml.set_bf16_unit("emulate_amx")
    try:
        wrong = ml.matmul(a[:, 32:], b[32:], kernel="c_bf16")
    finally:
        ml.set_bf16_unit(previous)
    assert Reference(a, b).violations(wrong, "bf16")
