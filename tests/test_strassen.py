"""c_strassen: right for every shape, under its error bound (3^L times the classical one, L the
levels), at sizes around its cutoff, with one and two levels forced, in both dtypes."""
import numpy as np
import pytest

import matmul_ladder as ml
from matmul_ladder.bench.check import Reference
from conftest import random_matrix

AVAILABLE = next(k for k in ml.kernels("matmul") if k.name == "c_strassen").available
pytestmark = pytest.mark.skipif(not AVAILABLE, reason="c_strassen unavailable here")
DTYPES = [np.float32, np.float64]


@pytest.fixture
def cutoff():
    """Set c_strassen's cutoff for one test; the default comes back after it."""
    yield lambda n: ml.set_strassen_cutoff(n)
    ml.set_strassen_cutoff(0)


def assert_within(c, a, b, levels):
    ref = Reference(a, b)
    assert c.shape == ref.expected.shape and c.dtype == a.dtype
    if c.size:
        ratio = np.max(np.abs(c.astype(np.float64) - ref.expected) / np.maximum(ref.bound, 1e-300))
        assert ratio <= 3 ** levels, f"error {ratio:.3g} x the classical bound, > 3^{levels}"


SHAPES = [(0, 5, 3), (5, 0, 3), (5, 3, 0), (1, 1, 1), (2, 2, 2), (3, 5, 7), (7, 13, 5),
          (64, 64, 64), (97, 101, 103), (128, 129, 127), (1, 300, 200), (300, 1, 200),
          (200, 300, 1), (130, 64, 258)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("levels", [1, 2])
@pytest.mark.parametrize("threads", [1, 2])
def test_forced_levels_on_edge_shapes(cutoff, dtype, levels, threads):
    rng = np.random.default_rng(levels)
    n0 = 2 if levels == 2 else 64  # cutoff 64: one level for 64 <= min(M, N, K) < 128
    cutoff(n0)
    for m, k, n in SHAPES:
        a, b = random_matrix(rng, m, k, dtype), random_matrix(rng, k, n, dtype)
        smallest = min(m, k, n)
        want = 2 if smallest >= 2 * n0 else 1 if smallest >= n0 else 0
        assert_within(ml.matmul(a, b, kernel="c_strassen", threads=threads), a, b, want)
    assert ml.build_info()["strassen"]["float32"]["cutoff"] == n0


@pytest.mark.parametrize("dtype", DTYPES)
def test_sizes_around_the_cutoff(cutoff, dtype):
    rng = np.random.default_rng(3)
    cutoff(96)
    for n in (95, 96, 97, 101, 191, 192, 193):
        a, b = random_matrix(rng, n, n, dtype), random_matrix(rng, n, n, dtype)
        levels = 2 if n >= 192 else 1 if n >= 96 else 0
        assert_within(ml.matmul(a, b, kernel="c_strassen"), a, b, levels)
    a, b = random_matrix(rng, 100, 95, dtype, "F"), random_matrix(rng, 95, 120, dtype)
    assert_within(ml.matmul(a, b[:, ::-1], kernel="c_strassen"), a, b[:, ::-1], 0)


def test_build_info_reports_cutoff_levels_and_memory(cutoff):
    cutoff(1000)
    info = ml.build_info()["strassen"]["float64"]
    assert info["cutoff"] == 1000 and info["levels_at"][1024] == 1 and info["levels_at"][2048] == 2
    assert "2.5 n^2" in info["extra_memory"]
    cutoff(0)
    assert ml.build_info()["strassen"]["float32"]["cutoff"] > 1000


@pytest.mark.parametrize("bad", [-1, 1.5, "64", True])
def test_bad_cutoff_is_refused(bad):
    with pytest.raises(ValueError, match="cutoff"):
        ml.set_strassen_cutoff(bad)
