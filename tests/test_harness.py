"""The ladder harness: its table and CSV schema, FAILED rows, the per-call budget, an
interrupted run, and rebuilding plots and report from a CSV. Tiny sizes only."""
import contextlib
import csv
import os
import time

import numpy as np
import pytest

from matmul_ladder import _registry, cli, report
from matmul_ladder.harness import COLUMNS, Config, CsvLog, Harness

TINY = dict(sizes=[8, 16], dtypes=["float32"], threads=[1], budget=5.0, min_time=0.005)


def fake_kernel(name, fn):
    @contextlib.contextmanager
    def bind(threads):
        yield fn
    return _registry.Kernel(name, "C", 90, f"test kernel {name}", False, bind, lambda: "")


def run(tmp_path, kernels, **overrides):
    path = tmp_path / "ladder.csv"
    log = CsvLog(str(path))
    h = Harness(Config(**{**TINY, **overrides}), kernels=kernels, log=log, run_id="test")
    try:
        h.run()
    finally:
        log.close()
    return h, path


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_tiny_run_table_and_csv_schema(tmp_path):
    kernels = [_registry.get(n) for n in ("py_naive", "c_naive", "c_simd", "numpy")]
    kernels = [k for k in kernels if not k.availability()]
    h, path = run(tmp_path, kernels)
    with open(path, newline="") as f:
        assert next(csv.reader(f)) == COLUMNS
    rows = read_csv(path)
    assert len(rows) == len(h.rows) == 2 * len(kernels)
    for r in rows:
        assert r["status"] == "ok", r
        assert float(r["median_s"]) > 0 and float(r["gflops"]) > 0 and int(r["repeats"]) >= 3
        assert float(r["min_s"]) <= float(r["median_s"]) <= float(r["max_s"])
        assert r["run"] == "test" and r["dtype"] == "float32" and r["threads"] == "1"
    text = report.console_tables(report.load_csv(path))
    assert "x prev rung" in text and "% NumPy" in text and "% peak" in text
    for k in kernels:
        assert k.name in text


def test_wrong_kernel_is_failed_and_not_timed(tmp_path):
    wrong = fake_kernel("wrong", lambda a, b: a @ b + np.float32(1e-3))
    h, path = run(tmp_path, [wrong])
    rows = read_csv(path)
    assert [r["status"] for r in rows] == ["FAILED", "FAILED"]
    assert all(r["median_s"] == "" and r["gflops"] == "" for r in rows)
    assert "out of bound" in rows[0]["note"]


def test_budget_stops_a_slow_kernel(tmp_path):
    def slow(a, b):
        time.sleep(0.03 * (a.shape[0] / 8) ** 3)  # 0.03 s at n=8, ~0.24 s at n=16
        return a @ b
    h, path = run(tmp_path, [fake_kernel("slow", slow)], sizes=[8, 16, 32], budget=0.1)
    statuses = [(r["N"], r["status"]) for r in read_csv(path)]
    assert statuses == [("8", "ok"), ("16", "skipped"), ("32", "skipped")]
    assert "budget" in read_csv(path)[1]["note"]


def test_errors_and_oom_do_not_end_the_run(tmp_path):
    def oom(a, b):
        raise MemoryError("pretend")
    h, path = run(tmp_path, [fake_kernel("oom", oom), _registry.get("numpy")])
    by_kernel = {(r["kernel"], r["N"]): r["status"] for r in read_csv(path)}
    assert by_kernel[("oom", "8")] == "OOM" and by_kernel[("oom", "16")] == "skipped"
    assert by_kernel[("numpy", "8")] == by_kernel[("numpy", "16")] == "ok"


def test_unavailable_kernel_is_one_row_with_reason(tmp_path):
    @contextlib.contextmanager
    def bind(threads):
        yield None
    missing = _registry.Kernel("ghost", "baseline", None, "never here", False, bind,
                               lambda: "not installed: pip install ghost")
    h, path = run(tmp_path, [missing])
    rows = read_csv(path)
    assert len(rows) == 1 and rows[0]["status"] == "unavailable"
    assert "pip install ghost" in rows[0]["note"]


def test_interrupted_run_keeps_its_rows(tmp_path, monkeypatch):
    def interrupt(a, b):
        if a.shape[0] >= 32:
            raise KeyboardInterrupt
        return a @ b
    fake = fake_kernel("interrupter", interrupt)
    monkeypatch.setattr(_registry, "KERNELS", _registry.KERNELS + [fake])
    monkeypatch.setitem(_registry.BY_NAME, "interrupter", fake)
    out = tmp_path / "run"
    code = cli.main(["--sizes", "8,16,32", "--kernels", "c_naive,interrupter", "--dtype", "float32",
                     "--threads", "1", "--min-time", "0.005", "--out", str(out), "--no-progress"])
    assert code == 130
    rows = read_csv(out / "ladder.csv")
    assert {(r["kernel"], r["N"]) for r in rows} >= {("c_naive", "8"), ("interrupter", "16"),
                                                     ("c_naive", "32")}
    assert (out / "REPORT.md").exists()


def test_plots_and_report_rebuild_from_csv(tmp_path):
    h, path = run(tmp_path, [_registry.get("c_naive"), _registry.get("numpy")], sizes=[8, 16, 32])
    out = tmp_path / "rebuilt"
    assert cli.main(["--from-csv", str(path), "--out", str(out)]) == 0
    assert {"gflops_vs_n.png", "time_vs_n.png", "ladder_bar.png", "REPORT.md"} <= set(os.listdir(out))
    text = (out / "REPORT.md").read_text()
    assert "## Ladder: float32, n = 32, 1 thread" in text and "c_naive" in text
    assert "![time_vs_n.png](time_vs_n.png)" in text


def _series(kernel, dtype, points, skipped=1024):
    rows = [dict.fromkeys(COLUMNS, None) | dict(kernel=kernel, language="Python", rung=0,
            device="cpu", mode="compute", dtype=dtype, M=n, N=n, K=n, threads=1, status="ok",
            median_s=s, note="") for n, s in points]
    rows.append(dict.fromkeys(COLUMNS, None) | dict(kernel=kernel, language="Python", rung=0,
                device="cpu", mode="compute", dtype=dtype, M=skipped, N=skipped, K=skipped,
                threads=1, status="skipped", note="budget"))
    return rows


def test_extrapolation_uses_the_algorithms_exponent_not_a_noisy_fit(tmp_path):
    # The small sizes are noisy: a fit through them is far steeper than n^3.
    noisy = [(64, 0.02), (128, 0.3), (256, 3.3)]
    rows = _series("py_naive", "float32", noisy) + _series("py_naive", "float64", noisy)
    table = report.Table(rows)
    assert table.exponent("py_naive", "float32", 1)[0] > 3.4   # the fit, kept as a finding
    for dtype in ("float32", "float64"):
        seconds, estimated = table.seconds("py_naive", dtype, 1, 1024)
        assert estimated and seconds == pytest.approx(3.3 * 4 ** 3)  # from n = 256, as n^3
        assert table.extrapolated_from("py_naive", dtype, 1, 1024) == 256
    text = report.report_markdown(rows, {}, 1024, [])
    assert "## Extrapolated" in text and "measured at n = 256" in text


@pytest.mark.parametrize("text, sizes", [("64,128", [64, 128]), ("64:512", [64, 128, 256, 512]),
                                         ("100,16:32", [16, 32, 100])])
def test_parse_sizes(text, sizes):
    assert cli.parse_sizes(text) == sizes


def test_parse_shape_keeps_the_texts_m_k_n_order():
    assert cli.parse_shape("1x25600x100") == (1, 25600, 100)  # (M, K, N), as written
    with pytest.raises(Exception):
        cli.parse_shape("3x4")


def test_race_checks_every_answer_before_timing():
    from matmul_ladder.compare import race
    a, b = np.ones((8, 5)), np.ones((5, 3))
    r = race(a, b, {"numpy": np.matmul, "again": lambda x, y: x @ y}, baseline="numpy",
             min_time=0.0, min_rounds=3)
    assert r.rounds >= 3 and r.ratios["numpy"] == 1.0
    with pytest.raises(AssertionError, match="wrong answer"):
        race(a, b, {"numpy": np.matmul, "bad": lambda x, y: x @ y + 1}, baseline="numpy")
