"""The studies behind experiments/: each on tiny sizes, their tables' shape and their rules;
the GPU studies' measuring parts skipped without a GPU."""
import importlib.util
import os
import subprocess
import sys

import pytest

import matmul_ladder as ml
from matmul_ladder.studies import (cuda_ladder, cython_annotate, cython_vs_c, gpu_payoff,
                                   strassen_crossover, tune_blocking, versus_numpy, xeon_gap)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = ["versus_numpy", "cuda_ladder", "gpu_payoff", "strassen_crossover", "cython_vs_c",
           "cython_annotate", "tune_blocking", "xeon_gap"]
GPU = next(k.reason for k in ml.kernels() if k.name == "cupy")


# ---- versus_numpy ----------------------------------------------------------------------
def test_parse_contenders():
    assert versus_numpy.parse_contenders("c_strassen:16,c_simd") == [("c_strassen", 16), ("c_simd", None)]
    for bad in ("c_nope", "c_omp:0", "c_omp:x"):
        with pytest.raises(Exception):
            versus_numpy.parse_contenders(bad)


def test_wanted():
    chosen = [("c_omp", 2), ("c_simd", None)]
    assert versus_numpy.wanted("c_simd", 1, chosen) and versus_numpy.wanted("c_omp", 2, chosen)
    assert not versus_numpy.wanted("c_omp", 1, chosen) and versus_numpy.wanted("c_omp", 1, None)


def test_versus_numpy_one_tiny_race():
    rows = versus_numpy.race_all([(16, 24, 8)], ["float32"], 1, 0.01, 0.0,
                                 versus_numpy.parse_contenders("c_simd"), [])
    assert len(rows) == 1 and len(rows[0]) == len(versus_numpy.HEADER)
    kernel, threads, dtype, shape, speed, np_speed, ratio, error = rows[0][:8]
    assert (kernel, threads, dtype, shape) == ("c_simd", 1, "float32", "16x24x8")
    assert float(speed) > 0 and float(ratio) > 0 and float(error) < 1e-5
    assert rows[0][11].endswith("%")  # 1 thread: the micro-kernel's ceiling is shown


def test_versus_numpy_peak_is_one_function(monkeypatch):
    monkeypatch.setattr(versus_numpy, "peak_pair",
                        lambda dtype, threads, known=None, precision="": (1000.0, None))
    rows = versus_numpy.race_all([(16, 16, 16)], ["float64"], 1, 0.01, 0.0,
                                 versus_numpy.parse_contenders("c_simd"), [])
    assert rows[0][9] == "1000" and rows[0][11] == "-"


def test_race_peak_keeps_the_higher_reading(monkeypatch):
    readings = iter([100.0, 50.0, 80.0, 70.0])
    monkeypatch.setattr(versus_numpy.roofs, "fma_peak", lambda d, t, known=0.0: max(next(readings), known))
    monkeypatch.setattr(versus_numpy.roofs, "ukernel_peak", lambda d, known=0.0: max(next(readings), known))
    assert versus_numpy.race_peak("float32", 1, lambda: "r") == ("r", 100.0, 70.0)


def test_strassen_contends_only_where_it_takes_a_level():
    cutoff = ml.build_info()["strassen"]["float64"]["cutoff"]
    assert [k for k, _ in versus_numpy.contenders_for((8, 8, 8), "float64", 2)] == ["c_simd", "c_omp"]
    assert "c_strassen" in dict(versus_numpy.contenders_for((cutoff,) * 3, "float64", 2))


# ---- strassen_crossover ----------------------------------------------------------------
def _row(n, levels, speedup, dtype="float32"):
    return {"dtype": dtype, "n": n, "threads": 1, "levels": levels, "speedup": speedup,
            "error_omp": 0.01, "error_strassen": 0.02}


def test_strassen_crossover_is_where_it_pays_from_then_on():
    rows = [_row(512, 1, 1.1), _row(1024, 1, 0.9), _row(2048, 1, 1.05), _row(4096, 1, 1.1),
            _row(4096, 2, 0.5)]
    assert strassen_crossover.crossover(rows, "float32") == 2048
    assert strassen_crossover.crossover([_row(64, 1, 0.4)], "float32") is None
    last = strassen_crossover.summary(rows, ["float32"], 1)[-1]
    assert last == "float32: one level pays from n = 2048 (1 threads)"


def test_strassen_tiny_run_writes_its_folder(tmp_path, capsys):
    cutoff = ml.set_strassen_cutoff(0)
    ml.set_strassen_cutoff(cutoff)
    assert strassen_crossover.run([32], ["float64"], 1, 0.01, str(tmp_path)) == 0
    assert ml.set_strassen_cutoff(cutoff) == cutoff  # restored
    out = capsys.readouterr().out
    assert f"wrote {tmp_path}/" in out and "float64: one level pays from n =" in out
    assert sorted(os.listdir(tmp_path)) == ["strassen.csv", "strassen_speedup.png"]
    assert len((tmp_path / "strassen.csv").read_text().splitlines()) == 3


# ---- cython_vs_c -----------------------------------------------------------------------
def test_cython_vs_c_budget_rule():
    assert not cython_vs_c.too_slow(None, 1024, 20)
    assert cython_vs_c.too_slow((512, 3.0), 1024, 20)       # 3 s x 8 = 24 s
    assert not cython_vs_c.too_slow((512, 2.0), 1024, 20)   # 16 s


def test_cython_vs_c_tiny_run():
    twins, prange = cython_vs_c.measure([32], ["float32"], 0.01, 20.0, 2)
    assert [r[:2] for r in twins] == [list(t) for t in cython_vs_c.TWINS]
    assert all(float(r[6]) > 0 and r[8] == "" for r in twins)
    assert len(prange) == 1 and len(prange[0]) == 8
    text = cython_vs_c.tables(twins, prange, 2)
    assert "prange 2t ms" in text and "flags: C plain rungs" in text


def test_cython_vs_c_skips_past_the_budget():
    twins, _ = cython_vs_c.measure([16, 64], ["float64"], 0.01, 1e-9, 1)
    assert [r[8] for r in twins[3:]] == ["skipped: > 1e-09 s a call"] * 3


# ---- tune_blocking ---------------------------------------------------------------------
def test_tune_blocking_candidates():
    assert tune_blocking.candidates("0,64", "0", "0") == [(0, 0, 0), (64, 0, 0)]


def test_tune_blocking_tiny_sweep(capsys):
    assert tune_blocking.run(48, "float64", "0,32", "0", "0", 1, 1) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("c_simd float64 n=48 threads=1; derived: ")
    assert len(out) == 3 and any("derived" in line and "GFLOP/s" in line for line in out[1:])


def test_tune_blocking_stops_at_a_wrong_answer(monkeypatch, capsys):
    class Wrong:
        def __init__(self, a, b):
            pass

        def violations(self, c):
            return "planted"
    monkeypatch.setattr(tune_blocking, "Reference", Wrong)
    assert tune_blocking.run(16, "float32", "0", "0", "0", 1, 1) == 1
    assert "gave a wrong answer, not timed: planted" in capsys.readouterr().err


# ---- cython_annotate -------------------------------------------------------------------
def test_nogil_span_and_scores():
    source = ["def f():\n", "    x = 1\n", "    with nogil:\n", "        y()\n", "\n",
              "        z()\n", "    return x\n"]
    assert cython_annotate.nogil_span(source) == (4, 6)
    html = ('<pre class="cython line score-0" x>+<span class="">2</span>'
            '<pre class="cython line score-7" x>+<span class="">4</span>')
    assert cython_annotate.scored_lines(html, source) == [(4, 7, "        y()")]


@pytest.mark.skipif(importlib.util.find_spec("Cython") is None, reason="Cython is not installed")
def test_cython_annotate_one_rung(tmp_path, capsys):
    assert cython_annotate.run(ROOT, str(tmp_path), ["1_cy_naive"]) == 0
    out = capsys.readouterr().out
    assert "inside `with nogil:`" in out and ": 0" in out and f"wrote {tmp_path}/" in out
    assert (tmp_path / "1_cy_naive.html").is_file()


def test_cython_annotate_says_why_it_cannot_run(tmp_path, capsys):
    assert cython_annotate.run(str(tmp_path), str(tmp_path / "out")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "source checkout" in err[0]


# ---- the GPU studies -------------------------------------------------------------------
def test_cuda_ladder_table_against_the_cublas_it_races():
    results = [(1024, "cuda_naive", "fp32", 0.004, "ok", 1e-7),
               (1024, "cuda_bf16", "bf16", 0.0005, "ok", 3e-3),
               (1024, "cuda_gone", "fp32", None, "unavailable: planted", None),
               (1024, "cupy", "fp32", 0.001, "ok", 1e-7),
               (1024, "cuBLAS BF16 (torch)", "bf16", 0.00025, "reference", 3e-3)]
    rows = {r[0]: r for r in cuda_ladder.table(results)}
    assert rows["cuda_naive"][5:7] == ["25%", "25%"]
    assert rows["cuda_bf16"][5:7] == ["200%", "50%"]
    assert rows["cuda_gone"][3:8] == ["-", "-", "-", "-", "-"]
    assert all(len(r) == len(cuda_ladder.HEADER) for r in rows.values())


def test_cuda_ladder_names():
    names = cuda_ladder.gpu_names()
    assert names[-2:] == ["cupy", "torch_cuda"]
    assert cuda_ladder.gpu_names(["cupy"]) == ["cupy"]
    with pytest.raises(ValueError, match="not GPU kernels: c_omp"):
        cuda_ladder.gpu_names(["c_omp"])


def test_gpu_payoff_crossover():
    rows = [{"n": n, "cpu_numpy": 1.0, "gpu": g} for n, g in [(16, 0.5), (32, 2.0), (64, 0.5), (128, 0.1)]]
    assert gpu_payoff.crossover(rows, "gpu") == 64
    assert gpu_payoff.crossover(rows[:2], "gpu") is None


@pytest.mark.skipif(bool(GPU), reason=f"no GPU: {GPU}")
def test_cuda_ladder_tiny_run(tmp_path, capsys):
    names = [n for n in cuda_ladder.gpu_names() if n.startswith("cuda_")][:2] + ["cupy"]
    assert cuda_ladder.run([256], names, 3, str(tmp_path), "test") == 0
    assert f"wrote {tmp_path}/" in capsys.readouterr().out
    assert {"cuda_ladder.csv", "cuda_ladder.md", "cuda_ladder.png"} <= set(os.listdir(tmp_path))


@pytest.mark.skipif(bool(GPU), reason=f"no GPU: {GPU}")
def test_gpu_payoff_tiny_sweep():
    rows = gpu_payoff.matmul_sweep([16, 64], 1)
    assert [r["n"] for r in rows] == [16, 64] and all(r["gpu_compute"] > 0 for r in rows)


# ---- xeon_gap --------------------------------------------------------------------------
def test_xeon_gap_parse_blocking():
    assert xeon_gap.parse_blocking("240x696") == (240, 696) and xeon_gap.parse_blocking("") is None
    for bad in ("240", "0x696", "240xk", "x696"):
        with pytest.raises(ValueError, match="MCxKC"):
            xeon_gap.parse_blocking(bad)


def test_xeon_gap_contenders():
    one = xeon_gap.choices("float64", 1, (240, 696))
    assert list(one)[0] == "default" and one["default"] == ((), None)
    assert one["prefetch"] == (("prefetch",), None) and "pack_b_rows" not in one
    assert one["MC 240 KC 696"] == ((), (240, 696))
    assert set(one["all"][0]) == set(one) - {"default", "all", "MC 240 KC 696"}
    two = xeon_gap.choices("float32", 2, (240, 696))
    assert "pack_b_rows" in two["all"][0] and not any(name.startswith("MC") for name in two)
    # l2_kc is raced only where it changes the sizes
    assert ("l2_kc" in one) == (xeon_gap.blocking_of("float64", ("l2_kc",))
                                != xeon_gap.blocking_of("float64"))
    assert xeon_gap.blocking_of("float64", (), (240, 696))[0] == 696


def _xeon_gap_args(tmp_path, budget, sizes=(24,)):
    import argparse
    return argparse.Namespace(threads=2, sizes=list(sizes), dtypes=["float32", "float64"],
                              budget=budget, block=0.0, min_time=0.0, f64_blocking="240x696",
                              out=str(tmp_path), command="test")


def test_xeon_gap_tiny_run(tmp_path, capsys):
    before = ml.set_loop_variants("l2_kc")
    try:
        assert xeon_gap.run(_xeon_gap_args(tmp_path, 60.0)) == 0
        assert ml.build_info()["simd"]["loop_variants"] == ["l2_kc"]  # restored
    finally:
        ml.set_loop_variants(before)
    import csv
    with open(tmp_path / "xeon_gap.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["dtype"], r["threads"]) for r in rows} == {(d, t) for d in ("float32", "float64")
                                                          for t in ("1", "2")}
    default = [r for r in rows if r["contender"] == "default"]
    assert all(float(r["vs default"]) == 1.0 for r in default) and len(default) == 4
    assert {r["contender"] for r in rows if r["threads"] == "2"} >= {"numpy", "pack_b_rows", "all"}
    assert "$ test" in (tmp_path / "xeon_gap.txt").read_text()
    assert "transparent_hugepages" in (tmp_path / "machine.json").read_text()


def test_xeon_gap_skips_what_the_budget_cannot_fit(tmp_path, capsys):
    assert xeon_gap.run(_xeon_gap_args(tmp_path, 1e-6, sizes=(4096,))) == 1
    assert capsys.readouterr().out.count("skipped") == 4


def test_xeon_gap_times_no_wrong_answer(tmp_path, monkeypatch, capsys):
    from matmul_ladder.bench import race

    class Wrong:
        def __init__(self, a, b):
            pass

        def violations(self, c, *_):
            return "planted"
    monkeypatch.setattr(race, "Reference", Wrong)
    assert xeon_gap.run(_xeon_gap_args(tmp_path, 60.0)) == 1
    out = capsys.readouterr().out
    assert out.count("gave a wrong answer, not timed: planted") == 4


def test_race_pairs_rounds_against_any_baseline():
    from matmul_ladder.bench.race import Race
    r = Race({}, {}, 3, samples={"a": [1.0, 2.0, 4.0], "b": [2.0, 2.0, 2.0]})
    assert r.ratio("b", "a") == 1.0 and r.ratio("a", "b") == 1.0  # medians of 1/2, 1, 2
    r = Race({}, {}, 3, samples={"a": [1.0, 3.0, 4.0], "b": [2.0, 2.0, 2.0]})
    assert r.ratio("b", "a") == 1.5 and r.ratio("a", "b") == pytest.approx(2 / 3)


# ---- the scripts -----------------------------------------------------------------------
@pytest.mark.parametrize("name", SCRIPTS)
def test_script_is_thin_and_helps(name):
    path = os.path.join(ROOT, "experiments", f"{name}.py")
    with open(path) as f:
        assert len(f.readlines()) <= 60
    out = subprocess.run([sys.executable, path, "--help"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("usage: ") and not out.stderr


def test_every_study_has_a_one_line_docstring():
    for module in (cuda_ladder, cython_annotate, cython_vs_c, gpu_payoff, strassen_crossover,
                   tune_blocking, versus_numpy, xeon_gap):
        assert module.__doc__ and "\n" not in module.__doc__.strip(), module.__name__
