"""CPU-only checks of two pieces the GPU and MPI rungs rest on: the error bound of a kernel
that rounds its inputs (TF32, BF16), and SUMMA's cutting of a dimension into blocks and
panels."""
import numpy as np
import pytest

from matmul_ladder import dist
from matmul_ladder.bench.check import EPSILON, Reference


def rounded(x, mantissa_bits):
    """float32 x rounded to nearest even with `mantissa_bits` explicit mantissa bits."""
    drop = 23 - mantissa_bits
    u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    u = (u + (1 << (drop - 1)) - 1 + ((u >> drop) & 1)) >> drop << drop
    return u.astype(np.uint32).view(np.float32)


@pytest.mark.parametrize("precision,bits", [("tf32", 10), ("bf16", 7)])
def test_rounded_inputs_pass_their_bound_and_fail_fp32(precision, bits):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((60, 16)).astype(np.float32)
    b = rng.standard_normal((16, 50)).astype(np.float32)
    c = (rounded(a, bits).astype(np.float64) @ rounded(b, bits).astype(np.float64)).astype(np.float32)
    ref = Reference(a, b)
    assert not ref.violations(c, precision), ref.violations(c, precision)
    assert ref.violations(c)   # the FP32 bound is 2^13 (TF32) or 2^16 (BF16) times tighter
    assert EPSILON[precision] == 2.0 ** -bits


def test_a_wrong_answer_fails_even_the_bf16_bound():
    """The BF16 bound is wide (2 K 2^-7 |A| |B|: half of |A| |B| at K = 30), but an answer
    off by a whole term of the sum is still caught."""
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((20, 30)).astype(np.float32), rng.standard_normal((30, 10)).astype(np.float32)
    c = (a @ b).astype(np.float32)
    c[3, 4] += 100.0
    assert "out of bound; first at (3, 4)" in Reference(a, b).violations(c, "bf16")


@pytest.mark.parametrize("n,parts", [(0, 1), (1, 4), (7, 3), (10, 4), (16, 4), (1000, 7)])
def test_block_ranges_cover_the_dimension_in_nearly_equal_parts(n, parts):
    ranges = [dist.block_range(n, parts, i) for i in range(parts)]
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(ranges[i][1] == ranges[i + 1][0] for i in range(parts - 1))
    sizes = [hi - lo for lo, hi in ranges]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("k,pr,pc,width", [(10, 2, 3, 0), (10, 2, 3, 2), (7, 4, 1, 0), (1, 3, 2, 0),
                                           (100, 4, 4, 7)])
def test_panels_lie_in_one_block_of_a_and_one_of_b(k, pr, pc, width):
    panels = dist._panels(k, pr, pc, width)
    assert panels[0][0] == 0 and panels[-1][1] == k
    assert all(p[1] == q[0] for p, q in zip(panels, panels[1:]))
    a_cuts, b_cuts = dist._bounds(k, pc), dist._bounds(k, pr)
    for lo, hi in panels:
        assert 0 < hi - lo <= (width or k)
        assert dist._owner(a_cuts, lo) == dist._owner(a_cuts, hi - 1)
        assert dist._owner(b_cuts, lo) == dist._owner(b_cuts, hi - 1)


@pytest.mark.parametrize("text,expected", [("2x3", (2, 3)), ("1X8", (1, 8))])
def test_parse_grid(text, expected):
    assert dist.parse_grid(text) == expected


@pytest.mark.parametrize("text", ["2", "0x4", "ax2", "2x2x2"])
def test_parse_grid_rejects_bad_grids(text):
    with pytest.raises(ValueError, match="grid"):
        dist.parse_grid(text)
