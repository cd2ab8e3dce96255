"""The common-subexpression pass of the fast-matmul rung (schemes/cse.py): every scheme's
plans, under each criterion, compute the scheme's own sums exactly (integer arithmetic on
random integer blocks, a whole level end to end, and the rung itself on integer-valued
float64 matrices, where every rounding is exact); Winograd reaches its published 15 block
additions; and a wrong shared term is caught, by these checks and by the one run whenever a
plan is made."""
import copy

import numpy as np
import pytest

from matmul_ladder import schemes
from matmul_ladder.rungs import fast
from matmul_ladder.rungs.base import _omp_available
from matmul_ladder.schemes import cse

REAL = [s for s in schemes.names() if s != "alphatensor_444_47_f2"]
CPU_MISSING = _omp_available()


def integer_blocks(rng, count, shape):
    """Random integer blocks as arrays of Python ints (object dtype): exact arithmetic."""
    return [rng.integers(-9, 10, shape).astype(object) for _ in range(count)]


def level_product(name, criterion, a_blocks, b_blocks, fault=None):
    """One level of `name` as its plans run it (rungs/fast.py: each operand the block or node
    itself, its factor moved into the C side), in exact arithmetic: the m x n C blocks.
    fault(a, b, c) may damage the plans first."""
    s = schemes.load(name)
    a, b, c, _ = cse.level_programs(*s.coefficients(), criterion)
    a, b, c = copy.deepcopy((a, b, c))
    if fault:
        fault(a, b, c)
    sa, sb = a.evaluate(a_blocks), b.evaluate(b_blocks)
    factors = [(next(iter(a.outputs[r].values())), next(iter(b.outputs[r].values())))
               for r in range(s.rank)]
    from fractions import Fraction
    products = [(x / Fraction(fa)).dot(y / Fraction(fb)) for x, y, (fa, fb) in zip(sa, sb, factors)]
    return c.evaluate(products)


def classical(name, a_blocks, b_blocks):
    m, k, n = schemes.load(name).shape
    return [sum(a_blocks[i * k + j].dot(b_blocks[j * n + l]) for j in range(k))
            for i in range(m) for l in range(n)]


@pytest.mark.parametrize("criterion", cse.CRITERIA)
@pytest.mark.parametrize("name", REAL)
def test_plans_compute_the_schemes_sums_exactly(name, criterion):
    s = schemes.load(name)
    rng = np.random.default_rng(11)
    a, b, c, w = cse.level_programs(*s.coefficients(), criterion)
    # Each side against the sums as the scheme writes them, on random integer blocks.
    for prog, coef, count in ((a, s.U, s.m * s.k), (b, s.V, s.k * s.n), (c, None, s.rank)):
        blocks = integer_blocks(rng, count, (2, 3))
        if coef is None:  # the C side sums the products with W, the operands' factors moved in
            from fractions import Fraction
            want = [sum(Fraction(w[i, r]) * blocks[r] for r in range(s.rank) if w[i, r])
                    for i in range(s.m * s.n)]
        else:
            want = [sum(coef[i, r] * blocks[i] for i in range(count) if coef[i, r])
                    for r in range(s.rank)]
        got = prog.evaluate(blocks)
        assert all((x == y).all() for x, y in zip(got, want)), (name, criterion)
    # A whole level, end to end: the blocks of A B.
    a_blocks = integer_blocks(rng, s.m * s.k, (2, 3))
    b_blocks = integer_blocks(rng, s.k * s.n, (3, 2))
    got = level_product(name, criterion, a_blocks, b_blocks)
    want = classical(name, a_blocks, b_blocks)
    assert all((x == y).all() for x, y in zip(got, want)), (name, criterion)


def test_winograd_reaches_its_published_count():
    """Winograd's form (S1 = A21 + A22, S2 = S1 - A11, S4 = A12 - S2, and U2 = P1 + P6,
    U3 = U2 + P7, ... on the C side): 15 block additions from the 24 of its sums written
    out; Strassen's 18 share nothing."""
    count = lambda name, crit: sum(p.additions() for p in  # noqa: E731
                                   cse.level_programs(*schemes.load(name).coefficients(), crit)[:3])
    assert count("winograd", "none") == schemes.load("winograd").additions() == 24
    assert count("winograd", "additions") == 15
    assert count("strassen", "additions") == count("strassen", "none") == 18
    # The run's plan takes only what cuts the blocks moved: the A and B sides' 4 + 4, not the
    # C side's three nodes (each read three times: three transfers saved, three spent).
    lv = fast.level("winograd")
    assert (lv.a.additions(), lv.b.additions(), lv.c.additions()) == (4, 4, 10)
    assert lv.transfers() == 42 < fast.level("winograd", "none").transfers() == 48


@pytest.mark.parametrize("name", REAL)
def test_traffic_plan_never_moves_more_blocks(name):
    none, traffic = fast.level(name, "none"), fast.level(name, "traffic")
    assert traffic.transfers() <= none.transfers()
    assert traffic.additions() <= none.additions()


def _wrong_shared_term(a, b, c):
    """Flip the sign of one term of the A side's first node read by two sums or more."""
    reads = {}
    for terms in a.nodes + a.outputs:
        for kind, j in terms:
            if kind == cse.NODE:
                reads[j] = reads.get(j, 0) + 1
    j = min(j for j, k in reads.items() if k >= 2)
    ref = min(a.nodes[j])
    a.nodes[j][ref] = -a.nodes[j][ref]


@pytest.mark.parametrize("name", ["winograd", "dps_444_48"])
def test_a_wrong_shared_term_is_caught(name):
    s = schemes.load(name)
    rng = np.random.default_rng(12)
    a_blocks = integer_blocks(rng, s.m * s.k, (2, 2))
    b_blocks = integer_blocks(rng, s.k * s.n, (2, 2))
    got = level_product(name, "additions", a_blocks, b_blocks, _wrong_shared_term)
    want = classical(name, a_blocks, b_blocks)
    assert not all((x == y).all() for x, y in zip(got, want))
    # And the check run whenever a plan is made refuses it.
    a, _, _, _ = cse.level_programs(*s.coefficients(), "additions")
    a = copy.deepcopy(a)
    _wrong_shared_term(a, None, None)
    with pytest.raises(schemes.SchemeError, match="does not compute the scheme's sums"):
        cse.verify(a, s.coefficients()[0])


@pytest.mark.skipif(bool(CPU_MISSING), reason=CPU_MISSING or "")
@pytest.mark.parametrize("criterion", ["additions", "traffic"])
@pytest.mark.parametrize("names", REAL + ["winograd,winograd", "winograd,dps_444_48"])
def test_the_rung_is_exact_on_integer_matrices(names, criterion):
    """Integer entries and dyadic coefficients: every sum and product of the rung is exact
    in float64, so its answer must equal A B to the last bit (odd sizes: peeled edges too)."""
    rng = np.random.default_rng(13)
    m, k, n = 2 * 3 * 4 * 5 + 7, 2 * 3 * 4 * 4 + 3, 2 * 4 * 5 * 3 + 1
    a = rng.integers(-4, 5, (m, k)).astype(np.float64)
    b = rng.integers(-4, 5, (k, n)).astype(np.float64)
    saved, fast.SMALLEST_BLOCK = fast.SMALLEST_BLOCK, 1
    try:
        with fast.bind(names, "cpu", criterion=criterion) as f:
            c = f(a, b)
    finally:
        fast.SMALLEST_BLOCK = saved
    np.testing.assert_array_equal(c, a @ b)


def test_bad_criterion_raises():
    with pytest.raises(ValueError, match="criterion"):
        cse.optimize([{0: 1.0}], True, "fewest")


def test_the_studys_table_reports_the_counts():
    from matmul_ladder.studies import fast_matmul as study
    row, = study.table(["winograd"], 64)
    assert (row["products"], row["additions"], row["additions_cse"], row["passes"],
            row["transfers"]) == ("7", "24", "15", "12", "42")
    two, = study.table(["winograd,dps_444_48"], 64)
    assert two["additions"] == f"24+{schemes.load('dps_444_48').additions()}"
    assert two["ceiling"] == round(8 / 7 * 64 / 48, 3)


@pytest.mark.skipif(bool(CPU_MISSING), reason=CPU_MISSING or "")
def test_breakdown_skips_only_the_sums(tmp_path):
    """The products-only back end does no block sum (its answer is not A B) but every
    product; breakdown writes a row per scheme whose sums are the whole minus the products."""
    import csv
    from matmul_ladder.studies import fast_matmul as study
    rng = np.random.default_rng(14)
    a = rng.uniform(-1, 1, (64, 64)).astype(np.float32)
    saved, fast.SMALLEST_BLOCK = fast.SMALLEST_BLOCK, 1
    try:
        calls = []
        backend = study._ProductsOnly(1)
        backend.gemm = lambda x, y, out, accumulate=False: calls.append(x.shape)  # noqa: E731
        fast.FastMatmul("winograd", backend)(a, a)
        assert len(calls) == 7
        c = fast.FastMatmul("winograd", study._ProductsOnly(1))(a, a)
        assert not np.allclose(c, a @ a)
        study.breakdown(["winograd", "winograd,winograd"], [64], str(tmp_path))
    finally:
        fast.SMALLEST_BLOCK = saved
    rows = list(csv.DictReader(open(tmp_path / "breakdown_cpu.csv")))
    assert [r["scheme"] for r in rows] == ["winograd", "winograd+winograd"]
    for r in rows:
        assert float(r["sums_s"]) == pytest.approx(float(r["whole_s"]) - float(r["products_s"]),
                                                   rel=1e-3, abs=1e-6)
