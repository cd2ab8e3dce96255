"""The fast-matmul rung (rungs/fast.py) and its schemes (matmul_ladder.schemes): every scheme's
Brent equations, exactly; the mod-2 scheme refused for floating point, with its residual over
the integers; answers right under each scheme's own error bound (bench/check.py, growth) on
odd, prime and rectangular sizes, one and two levels, on the CPU and on the GPU where one is
present; and the bound shown able to fail: planted faults (a flipped sign, a dropped
product) are rejected."""
import numpy as np
import pytest

from matmul_ladder import schemes
from matmul_ladder.bench.check import Reference
from matmul_ladder.rungs import fast
from matmul_ladder.rungs.base import _cupy_missing, _omp_available

REAL = [s for s in schemes.names() if s != "alphatensor_444_47_f2"]
CPU_MISSING = _omp_available()
cpu = pytest.mark.skipif(bool(CPU_MISSING), reason=CPU_MISSING or "")
gpu = [pytest.mark.gpu, pytest.mark.skipif(bool(_cupy_missing()), reason=_cupy_missing() or "")]
SHAPES = [(97, 101, 103), (64, 64, 64), (131, 67, 257), (1, 40, 30), (40, 1, 30), (40, 30, 1),
          (0, 5, 3), (17, 13, 11)]


def test_every_shipped_scheme_has_its_origin_and_licence():
    listed = open(schemes.os.path.join(schemes.DATA, "SOURCES.md")).read()
    for name in schemes.names():
        s = schemes.load(name, for_floating_point=False)
        assert s.origin and s.licence, name
        assert f"{name}.json" in listed, name


@pytest.mark.parametrize("name", schemes.names())
def test_brent_equations_hold_exactly(name):
    s = schemes.load(name, for_floating_point=False)
    assert schemes.brent_residual(s) == 0
    assert s.rank < s.classical


def test_expected_ranks():
    ranks = {n: (schemes.load(n, False).shape, schemes.load(n, False).rank) for n in schemes.names()}
    assert ranks["strassen"] == ranks["winograd"] == ((2, 2, 2), 7)
    assert ranks["alphatensor_333_23"] == ((3, 3, 3), 23)
    assert ranks["alphatensor_444_49"] == ranks["alphatensor_444_49_gpu"] == ((4, 4, 4), 49)
    assert ranks["alphatensor_345_47"] == ((3, 4, 5), 47)
    assert ranks["alphatensor_445_63"] == ((4, 4, 5), 63)
    assert ranks["dps_444_48"] == ((4, 4, 4), 48)
    assert ranks["alphatensor_444_47_f2"] == ((4, 4, 4), 47)


def test_a_damaged_scheme_fails_brent():
    s = schemes.load("winograd")
    bad = schemes.Scheme("bad", 2, 2, 2, s.U.copy(), s.V, s.W)
    bad.U[0, 0] = -bad.U[0, 0]
    assert schemes.brent_residual(bad) > 0


def test_mod2_scheme_is_refused_for_floating_point_with_its_residual():
    with pytest.raises(schemes.FloatingPointRefused, match="only modulo 2"):
        schemes.load("alphatensor_444_47_f2")
    with pytest.raises(schemes.FloatingPointRefused):
        fast.parse_levels("winograd,alphatensor_444_47_f2")
    s = schemes.load("alphatensor_444_47_f2", for_floating_point=False)
    assert schemes.brent_residual(s) == 0  # right modulo 2 ...
    assert schemes.brent_residual(s, modulus=0) > 0  # ... wrong over the integers


def test_bad_input_raises():
    with pytest.raises(ValueError, match="unknown scheme"):
        fast.parse_levels("nonesuch")
    with pytest.raises(ValueError, match="at least one"):
        fast.parse_levels("")
    with pytest.raises(TypeError):
        schemes.load(3)
    a = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match="shape mismatch"):
        fast.matmul(a, a, "winograd")
    with pytest.raises(TypeError, match="mixed dtypes"):
        fast.matmul(a, a.T.astype(np.float64), "winograd")
    with pytest.raises(ValueError, match="device"):
        with fast.bind("winograd", "tpu"):
            pass


def _check(c, a, b, names):
    ref = Reference(a, b)
    growth = fast.error_growth(names)
    assert c.shape == ref.expected.shape and c.dtype == a.dtype
    problem = ref.violations(c, "", growth)
    assert not problem, f"{names}: {problem}"


@cpu
@pytest.mark.parametrize("name", REAL)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_level_cpu(name, dtype):
    rng = np.random.default_rng(1)
    fast.SMALLEST_BLOCK, saved = 1, fast.SMALLEST_BLOCK  # every size takes the level
    try:
        for m, k, n in SHAPES:
            a = rng.uniform(-1, 1, (m, k)).astype(dtype)
            b = rng.uniform(-1, 1, (k, n)).astype(dtype)
            _check(fast.matmul(a, b, name), a, b, [name])
    finally:
        fast.SMALLEST_BLOCK = saved


@cpu
@pytest.mark.parametrize("names", ["winograd,winograd", "strassen,dps_444_48",
                                   "alphatensor_345_47,winograd"])
def test_two_levels_cpu_and_strided_inputs(names):
    rng = np.random.default_rng(2)
    a = rng.uniform(-1, 1, (263, 389)).astype(np.float32)
    b = rng.uniform(-1, 1, (389, 2 * 211)).astype(np.float32)[:, ::2]  # a column-strided view
    with fast.bind(names, "cpu", threads=2) as f:
        _check(f(a, b), a, b, names.split(","))
        _check(f(a, b), a, b, names.split(","))  # the kept scratch, a second call


def _planted(level, fault):
    """A copy of a Level with one fault: 'sign' flips one W coefficient, 'drop' drops a
    product from a C block."""
    import copy
    bad = copy.deepcopy(level)
    terms = bad.c.outputs[0]
    ref = min(terms)
    if fault == "sign":
        terms[ref] = -terms[ref]
    else:
        del terms[ref]
    return bad


@cpu
@pytest.mark.parametrize("name", ["winograd", "dps_444_48", "alphatensor_444_49"])
@pytest.mark.parametrize("fault", ["sign", "drop"])
def test_planted_faults_are_rejected(name, fault):
    """The scheme's bound can fail: the same answer, one coefficient wrong, is refused."""
    rng = np.random.default_rng(3)
    a = rng.uniform(-1, 1, (256, 256)).astype(np.float32)
    b = rng.uniform(-1, 1, (256, 256)).astype(np.float32)
    run = fast.FastMatmul([name], fast.CpuBackend(1))
    run.levels = [_planted(run.levels[0], fault)]
    problem = Reference(a, b).violations(run(a, b), "", fast.error_growth([name]))
    assert problem


@cpu
def test_error_below_its_bound_by_a_margin():
    """Measured errors sit well below the growth-scaled bound (a bound that holds with
    nothing to spare would hide a fault)."""
    rng = np.random.default_rng(4)
    a = rng.uniform(-1, 1, (512, 512)).astype(np.float32)
    b = rng.uniform(-1, 1, (512, 512)).astype(np.float32)
    ref = Reference(a, b)
    for name in ("winograd", "dps_444_48"):
        err = ref.normwise_error(fast.matmul(a, b, name))
        classical = ref.normwise_error(a @ b)
        assert err < fast.error_growth([name]) * 4 * np.sqrt(512) * 2 ** -24
        assert err > 0.5 * classical


@pytest.mark.parametrize("name", ["winograd", "alphatensor_444_49_gpu", "dps_444_48",
                                  "alphatensor_345_47"])
@pytest.mark.parametrize("shape", [(97, 101, 103), (131, 67, 257), (256, 256, 256)])
def test_gpu(name, shape):
    if _cupy_missing():
        pytest.skip(_cupy_missing())
    import cupy
    rng = np.random.default_rng(5)
    m, k, n = shape
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    fast.SMALLEST_BLOCK, saved = 1, fast.SMALLEST_BLOCK
    try:
        c = fast.matmul(cupy.asarray(a), cupy.asarray(b), name)
    finally:
        fast.SMALLEST_BLOCK = saved
    assert isinstance(c, cupy.ndarray)
    _check(cupy.asnumpy(c), a, b, [name])


test_gpu = gpu[0](gpu[1](test_gpu))
