"""The convolution ladder on the one engine (bench/engine.py), with fake conv kernels: the
CSV schema it always had, a wrong answer FAILED and never timed, the per-call budget, ERROR
and OOM rows that do not end the run, an unavailable kernel's one row, a dtype a kernel lacks,
Ctrl-C keeping the rows (the report saying at its top that the run was cut short), a
doubtful timing timed again, and the roofs' highest-reading rule."""
import contextlib
import csv
import time

import numpy as np
import pytest

from matmul_ladder.rungs import registry as _registry
from matmul_ladder.bench import roofs, timing
from matmul_ladder.bench.check import correlate3x3_valid
from matmul_ladder.cli.conv import COLUMNS, ConvConfig, ConvHarness
from matmul_ladder.bench.engine import CsvLog
from matmul_ladder.cli import commands as cli

# conv.csv's columns, in order, as the conv harness wrote them before it shared the engine
OLD_COLUMNS = ["run", "kernel", "language", "rung", "device", "dtype", "N", "threads", "status",
               "output", "median_s", "min_s", "max_s", "repeats", "gpix_s", "gb_s", "gflops",
               "roof_gb_s", "pct_roof", "note", "normwise_error"]
TINY = dict(sizes=[8, 16], dtypes=["float32"], threads=[1], budget=5.0, min_time=0.005)


def reference(x, w):
    return correlate3x3_valid(x.astype(np.float64), w.astype(np.float64)).astype(x.dtype)


def fake(name, fn, dtypes=("float32", "float64"), reason=""):
    @contextlib.contextmanager
    def bind(threads):
        yield fn
    return _registry.Kernel(name, "C", 90, f"test conv kernel {name}", False, bind,
                            lambda: reason, dtypes=dtypes, operation="conv2d")


@pytest.fixture
def no_roofs(monkeypatch):
    """The roofs unread (they take seconds), so a test times its fake kernels alone."""
    monkeypatch.setattr(roofs, "measure_roofs", lambda dtypes, threads, gpu, known=None:
                        {"triad": {1: 10.0}, "copy_gpu": None, "fma": {}})


def run(tmp_path, kernels, **overrides):
    path = tmp_path / "conv.csv"
    log = CsvLog(str(path), COLUMNS)
    h = ConvHarness(ConvConfig(**{**TINY, **overrides}), kernels=kernels, log=log, run_id="t")
    try:
        h.run()
    finally:
        log.close()
    with open(path, newline="") as f:
        return h, list(csv.DictReader(f))


def test_schema_and_rows_of_a_right_kernel(tmp_path, no_roofs):
    h, rows = run(tmp_path, [fake("right", reference)])
    with open(tmp_path / "conv.csv", newline="") as f:
        assert next(csv.reader(f)) == OLD_COLUMNS == COLUMNS
    assert [(r["kernel"], r["N"], r["status"]) for r in rows] == [("right", "8", "ok"),
                                                                  ("right", "16", "ok")]
    for r in rows:
        assert float(r["median_s"]) > 0 and int(r["repeats"]) >= 3 and r["output"] == "allocated"
        assert float(r["gb_s"]) > 0 and r["roof_gb_s"] == "10" and float(r["pct_roof"]) > 0
    assert h.total_rows() == len(rows)


def test_wrong_answer_is_failed_and_not_timed(tmp_path, no_roofs):
    calls = []

    def wrong(x, w):
        calls.append(1)
        return reference(x, w) + np.float32(1e-2)
    h, rows = run(tmp_path, [fake("wrong", wrong)])
    assert [r["status"] for r in rows] == ["FAILED", "FAILED"]
    assert all(r["median_s"] == "" and r["gb_s"] == "" and r["normwise_error"] == "" for r in rows)
    assert "out of bound" in rows[0]["note"]
    assert len(calls) == 2  # the one checked call per size, never a timed repeat


def test_budget_stops_a_slow_kernel(tmp_path, no_roofs):
    def slow(x, w):
        time.sleep(0.03 * (x.shape[0] / 8) ** 2)  # 0.03 s at N = 8, ~0.12 s at N = 16
        return reference(x, w)
    h, rows = run(tmp_path, [fake("slow", slow)], sizes=[8, 16, 32], budget=0.1)
    assert [(r["N"], r["status"]) for r in rows] == [("8", "ok"), ("16", "skipped"),
                                                      ("32", "skipped")]
    assert "budget 0.1 s" in rows[1]["note"] and rows[2]["note"] == rows[1]["note"]


def test_errors_and_oom_are_rows_and_the_run_goes_on(tmp_path, no_roofs):
    def oom(x, w):
        raise MemoryError("pretend")

    def broken(x, w):
        raise RuntimeError("kernel fault")
    h, rows = run(tmp_path, [fake("oom", oom), fake("broken", broken), fake("right", reference)])
    got = {(r["kernel"], r["N"]): (r["status"], r["note"]) for r in rows}
    assert got[("oom", "8")] == ("OOM", "MemoryError: pretend")
    assert got[("broken", "8")] == ("ERROR", "RuntimeError: kernel fault")
    assert got[("oom", "16")][0] == got[("broken", "16")][0] == "skipped"
    assert "after MemoryError" in got[("oom", "16")][1]
    assert got[("right", "8")][0] == got[("right", "16")][0] == "ok"


def test_unavailable_is_one_row_and_a_missing_dtype_is_skipped(tmp_path, no_roofs):
    ghost = fake("ghost", reference, reason="not installed: pip install ghost")
    single = fake("single", reference, dtypes=("float64",))
    h, rows = run(tmp_path, [ghost, single], dtypes=["float32", "float64"])
    got = [(r["kernel"], r["dtype"], r["N"], r["status"]) for r in rows]
    assert got == [("ghost", "float32", "8", "unavailable"), ("single", "float32", "8", "skipped"),
                   ("single", "float32", "16", "skipped"), ("single", "float64", "8", "ok"),
                   ("single", "float64", "16", "ok")]
    assert "pip install ghost" in rows[0]["note"] and "float32 not supported" in rows[1]["note"]
    assert h.total_rows() == len(rows)


def test_a_doubtful_timing_is_timed_again_and_noted(tmp_path, no_roofs, monkeypatch):
    monkeypatch.setattr(timing, "_wait_ns", lambda: None)  # judged on its own timings alone
    monkeypatch.setattr(timing, "_machine_ticks", lambda: None)
    count = [0]

    def wild(x, w):  # two calls of three take 50x the third: spread on every try
        time.sleep(0.001 * (1 if count[0] % 3 == 0 else 50))
        count[0] += 1
        return reference(x, w)
    h, rows = run(tmp_path, [fake("wild", wild)], sizes=[8], min_time=0.05)
    assert rows[0]["status"] == "ok"
    assert "timed twice" in rows[0]["note"] and "doubtful: spread" in rows[0]["note"]


def test_ctrl_c_keeps_the_rows(tmp_path, monkeypatch, no_roofs):
    def interrupt(x, w):
        if x.shape[0] >= 16:
            raise KeyboardInterrupt
        return reference(x, w)
    k = fake("interrupter", interrupt)
    monkeypatch.setattr(_registry, "KERNELS", _registry.KERNELS + [k])
    monkeypatch.setitem(_registry.BY_NAME, "interrupter", k)
    out = tmp_path / "run"
    code = cli.main(["conv", "--sizes", "8,16,32", "--kernels", "conv_c_naive,interrupter",
                     "--dtype", "float32", "--threads", "1", "--min-time", "0.005",
                     "--no-progress", "--out", str(out)])
    assert code == 130
    with open(out / "conv.csv", newline="") as f:
        rows = [(r["kernel"], r["N"], r["status"]) for r in csv.DictReader(f)]
    assert rows == [("conv_c_naive", "8", "ok"), ("interrupter", "8", "ok"),
                    ("conv_c_naive", "16", "ok")]
    assert (out / "machine.json").exists()
    head = "\n".join((out / "REPORT.md").read_text().splitlines()[:4])
    assert ("**This run was cut short (interrupted: Ctrl-C); it holds 3 of the 6 rows it "
            "planned.**") in head and "float32: N = 8: 2, N = 16: 1" in head
    again = tmp_path / "again"  # rebuilt from the CSV, the notice stays (run_status.json)
    assert cli.main(["conv", "--from-csv", str(out / "conv.csv"), "--out", str(again)]) == 0
    assert "This run was cut short" in (again / "REPORT.md").read_text()


def test_a_finished_run_has_no_notice(tmp_path, no_roofs):
    out = tmp_path / "run"
    assert cli.main(["conv", "--sizes", "8", "--kernels", "conv_c_naive", "--dtype", "float32",
                     "--threads", "1", "--min-time", "0", "--no-progress", "--out", str(out)]) == 0
    assert "cut short" not in (out / "REPORT.md").read_text()


def test_a_roof_is_the_highest_of_its_readings(monkeypatch):
    readings = iter([50.0, 30.0])

    class Ck:
        def fma_peak(self, itemsize, threads, seconds):
            return next(readings)

        def active_isa(self):
            return "avx2"
    monkeypatch.setattr(_registry, "_ckernels", Ck())
    monkeypatch.setattr(timing, "wait_quiet", lambda *a, **k: None)
    first = roofs.measure_peaks(["float32"], [1])
    assert roofs.measure_peaks(["float32"], [1], first) == {("float32", 1): 50.0}


def test_the_ladder_csv_keeps_its_columns(tmp_path):
    from matmul_ladder.bench.engine import COLUMNS as LADDER, Config, Harness
    assert LADDER == ["run", "kernel", "language", "rung", "device", "mode", "dtype", "M", "N",
                      "K", "threads", "status", "median_s", "min_s", "max_s", "repeats", "gflops",
                      "peak_gflops", "pct_peak", "note", "normwise_error", "flag", "precision"]
    h = Harness(Config(sizes=[8], dtypes=["float32"], threads=[1], min_time=0.0),
                kernels=[_registry.get("numpy")])
    assert [sorted(r) for r in h.run()] == [sorted(LADDER)]


def test_a_ladder_csv_is_refused_by_conv_from_csv_in_one_line(tmp_path, capsys):
    path = tmp_path / "ladder.csv"
    path.write_text(",".join(["run", "kernel", "language", "rung", "device", "mode", "dtype",
                              "M", "N", "K", "threads", "status", "median_s", "note"]) + "\n")
    assert cli.main(["conv", "--from-csv", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is not a conv.csv (missing columns gpix_s" in err
