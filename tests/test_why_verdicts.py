"""The why study's verdicts, computed as numbers, and the text written from them: the four
places where a figure or a sentence had disagreed with the data."""
import pytest

from matmul_ladder.explain import note
from matmul_ladder.explain import verdicts as V
from matmul_ladder.explain.why import WhyConfig

L2 = (1 << 20, 8, 64)   # 1 MiB: B (float64) fills it at n = 362
L3 = (32 << 20, 16, 64)


def study(**extra):
    r = {"config": dict(WhyConfig.quick().__dict__), "geometry": {"L2": L2, "L3": L3}, "cores": 2,
         "isa": "avx512"}
    r.update(extra)
    return r


# the cliff as timed on the 2-vCPU Zen 4: c_ikj holds its speed past L2 and drops past 1024
ZEN4_CLIFF = {"c_ikj": [(128, 11.8), (256, 11.9), (384, 11.4), (512, 11.6), (768, 10.9), (1024, 10.3), (1536, 4.16)],
              "c_blocked": [(128, 11.9), (256, 12.2), (384, 13.7), (512, 11.7), (768, 12.4), (1024, 12.2), (1536, 12.0)]}
ZEN4_COUNTED = {"c_ikj": [(256, 0.000196, 0.0631), (512, 0.0626, 0.0627), (768, 0.0626, 0.0626)],
                "c_blocked": [(256, 0.000491, 0.0641), (512, 0.00112, 0.0635), (768, 0.00107, 0.0635)]}


def test_cliff_marker_is_the_model_and_the_drop_is_the_data():
    c = V.cliff(study(cliff_time=ZEN4_CLIFF))
    assert round(c.n_l2) == 362 and round(c.n_l3) == 2048
    assert (c.n_last_fast, c.n_drop) == (1024, 1536) and not c.agrees
    text = note.cliff_text(c, "float64")
    assert "n = 362" in text and "between n = 1024 and 1536" in text and "disagree" in text


def test_cliff_agrees_where_the_drop_is_at_l2():
    pts = {"c_ikj": [(128, 10), (256, 10), (512, 6), (1024, 5.5)], "c_blocked": [(128, 10), (256, 10), (512, 9.5), (1024, 9.4)]}
    c = V.cliff(study(cliff_time=pts))
    assert (c.n_last_fast, c.n_drop, c.agrees) == (256, 512, True)
    assert "agree." in note.cliff_text(c, "float64")


def test_blocking_evidence_is_counted_where_b_outgrows_l2():
    """At n = 256 B fits L2 and c_blocked's tiles add L2 misses; the step's evidence is the
    count at the largest size past L2, where blocking removes them."""
    counters = {"c_ikj": {"D1mr": 0.063, "DLmr": 0.0004, "Ir": 2.04}, "c_blocked": {"D1mr": 0.064, "DLmr": 0.0008, "Ir": 1.44}}
    r = study(cliff_time=ZEN4_CLIFF, cliff_counters=ZEN4_COUNTED, counters=counters,
              times={"c_ikj": 0.0228, "c_blocked": 0.0203})
    (step,) = V.steps(r)
    l2 = [e for e in step.evidence if e.label == "L2 misses/FLOP"]
    assert len(l2) == 1 and l2[0].n == 768 and l2[0].after < l2[0].before
    assert step.fits_l2_at_counters
    f = V.blocking(r)
    assert f.verdict is V.Verdict.SUPPORTED and f.data["l2_misses"] == (768, 0.0626, 0.00107)
    assert f.data["sizes"] == (1024, 1536)


@pytest.mark.parametrize("simd, numpy, gap", [(0.0053, 0.0050, V.Gap.SLOWER), (0.0050, 0.0053, V.Gap.FASTER),
                                              (0.00528, 0.00537, V.Gap.MATCHES)])
def test_remaining_gap_has_a_direction(simd, numpy, gap):
    rem = V.remaining(study(times={"c_simd": simd, "numpy": numpy}))
    assert rem.gap is gap
    text = note.remaining_text(rem)
    assert ("unexplained" in text) == (gap is V.Gap.SLOWER)


def test_c_simd_faster_is_never_unexplained():
    """The run that printed 'What remains unexplained: c_simd -> NumPy is 0.967x'."""
    rem = V.remaining(study(times={"c_simd": 0.967, "numpy": 1.0}))
    assert rem.gap is not V.Gap.SLOWER and "unexplained" not in note.remaining_text(rem)


def test_roofline_intensities_come_from_counters_at_one_size():
    """c_naive's L2 intensity is as high as anyone's at n = 256; its L1 intensity puts it
    under the L2 line, far from compute-bound."""
    counters = {"c_naive": {"D1mr": 0.503, "D1mw": 0.0, "DLmr": 0.0004, "DLmw": 0.0002},
                "numpy": {"D1mr": 0.0131, "D1mw": 0.002, "DLmr": 0.0015, "DLmw": 0.0006}}
    r = study(counters=counters, times_counters={"c_naive": 0.1, "numpy": 0.0007},
              times={"c_naive": 0.38, "numpy": 0.0054}, peak={1: 50.0, 2: 100.0},
              bandwidth={1: 28.0, 2: 28.0}, bandwidth_l2={1: 100.0})
    pts = {p.kernel: p for p in V.roofline_points(r)}
    assert pts["c_naive"].n == 256 and pts["c_naive"].ai_l2 > pts["numpy"].ai_l2
    assert pts["c_naive"].ai_l1 == pytest.approx(1 / (64 * 0.503))
    assert V.bound(pts["c_naive"], 50, 100, 28)[0] == "L2"
    assert V.bound(pts["numpy"], 50, 100, 28)[0] == "compute"
    text = "\n".join(note.roofline_section(r))
    assert "from the counters" in text and "lowest ceiling is L2" in text


def test_threads_verdict_from_numbers():
    r = study(scaling=[("c_omp", 1, 1.0), ("c_omp", 2, 0.55), ("numpy", 1, 1.0), ("numpy", 2, 0.9)])
    (f,) = V.verdicts(r)
    assert f.key == "threads" and f.verdict is V.Verdict.PARTLY_SUPPORTED
    assert [k for k, _, e in f.data["efficiency"] if e < 0.7] == ["numpy"]
    assert note.measurement(f, r) == "c_omp 91% at 2 threads; numpy 56% at 2 threads."


def test_note_and_plots_from_a_recorded_study(tmp_path):
    r = study(cliff_time=ZEN4_CLIFF, cliff_counters=ZEN4_COUNTED, scaling=[("c_omp", 1, 1.0), ("c_omp", 2, 0.55)],
              times={"c_simd": 0.0053, "numpy": 0.0054, "c_naive": 0.38, "c_ikj": 0.0228, "c_blocked": 0.0203})
    path = note.write_note(r, str(tmp_path), "python experiments/why.py --quick")
    text = open(path).read()
    assert "Nothing remains to explain" in text and "unexplained" not in text
    assert (tmp_path / "cliff.png").exists() and (tmp_path / "scaling.png").exists()


def test_a_single_slow_size_is_not_the_cliff():
    """A disturbed run on the shared VM: c_ikj dipped at n = 384 and recovered; the cliff is
    where its speed falls and stays down."""
    pts = {"c_ikj": [(128, 11.8), (256, 11.7), (384, 7.7), (512, 11.8), (768, 11.6), (1024, 5.3), (1536, 2.7)],
           "c_blocked": [(128, 12.3), (256, 9.9), (384, 5.6), (512, 6.5), (768, 5.9), (1024, 6.2), (1536, 6.8)]}
    c = V.cliff(study(cliff_time=pts))
    assert (c.n_last_fast, c.n_drop) == (768, 1024)


def test_scaling_below_one_says_the_machine_was_busy():
    text = "\n".join(note.scaling_section("Scaling", 1024, [("c_omp", 1, 1.0), ("c_omp", 2, 2.5)]))
    assert "ran slower on more threads" in text
