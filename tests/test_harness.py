"""The ladder harness: its table and CSV schema, FAILED rows, the per-call budget, an
interrupted run and its notice, the quiet period between kernels, doubtful timings flagged,
the normwise error beside each speed, and rebuilding plots and report from a CSV (an old one
without the newer columns too). Tiny sizes only."""
import contextlib
import csv
import os
import time

import numpy as np
import pytest

from matmul_ladder.rungs import registry as _registry
from matmul_ladder.cli import commands as cli
from matmul_ladder.report import ladder as report
from matmul_ladder.bench import timing
from matmul_ladder.bench.engine import COLUMNS, Config, CsvLog, Harness

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
        assert 0 <= float(r["normwise_error"]) < 1e-6, r  # float32 at K <= 16
    text = report.console_tables(report.load_csv(path))
    assert "x prev rung" in text and "% NumPy" in text and "% peak" in text and "error" in text
    for k in kernels:
        assert k.name in text


def test_wrong_kernel_is_failed_and_not_timed(tmp_path):
    wrong = fake_kernel("wrong", lambda a, b: a @ b + np.float32(1e-3))
    h, path = run(tmp_path, [wrong])
    rows = read_csv(path)
    assert [r["status"] for r in rows] == ["FAILED", "FAILED"]
    assert all(r["median_s"] == "" and r["gflops"] == "" for r in rows)
    assert "out of bound" in rows[0]["note"]
    assert all(float(r["normwise_error"]) > 1e-4 for r in rows)  # what the user would see


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
    from matmul_ladder.bench.race import race
    a, b = np.ones((8, 5)), np.ones((5, 3))
    r = race(a, b, {"numpy": np.matmul, "again": lambda x, y: x @ y}, baseline="numpy",
             min_time=0.0, min_rounds=3)
    assert r.rounds >= 3 and r.ratios["numpy"] == 1.0
    with pytest.raises(AssertionError, match="wrong answer"):
        race(a, b, {"numpy": np.matmul, "bad": lambda x, y: x @ y + 1}, baseline="numpy")


def _interrupting_cli_run(tmp_path, monkeypatch, at, out_name="run"):
    """cli.main over c_naive and a kernel that raises KeyboardInterrupt from size `at` on."""
    def interrupt(a, b):
        if a.shape[0] >= at:
            raise KeyboardInterrupt
        return a @ b
    fake = fake_kernel("interrupter", interrupt)
    monkeypatch.setattr(_registry, "KERNELS", _registry.KERNELS + [fake])
    monkeypatch.setitem(_registry.BY_NAME, "interrupter", fake)
    out = tmp_path / out_name
    code = cli.main(["--sizes", "8,16,32", "--kernels", "c_naive,interrupter", "--dtype",
                     "float32", "--threads", "1", "--min-time", "0.005", "--out", str(out),
                     "--no-progress"])
    return code, out


def test_interrupted_run_says_so_at_the_top_of_its_report(tmp_path, monkeypatch):
    code, out = _interrupting_cli_run(tmp_path, monkeypatch, at=16)
    assert code == 130
    assert len(read_csv(out / "ladder.csv")) == 3  # c_naive 8, interrupter 8, c_naive 16
    status = report.read_status(str(out / "ladder.csv"))
    assert status["state"] == "interrupted" and status["planned_rows"] == 6
    for text in [(out / "REPORT.md").read_text()]:
        head = "\n".join(text.splitlines()[:4])
        assert "**This run was cut short (interrupted: Ctrl-C); it holds 3 of the 6 rows it " \
               "planned.**" in head
        assert "n = 16, the largest size it reached, not at the planned n = 32" in head
        assert "float32: n = 8: 2, n = 16: 1" in head
        assert "## Ladder: float32, n = 16, 1 thread" in text
    # a rebuild from the CSV, elsewhere, keeps the notice (run_status.json beside the CSV)
    again = tmp_path / "again"
    assert cli.main(["--from-csv", str(out / "ladder.csv"), "--out", str(again)]) == 0
    assert "This run was cut short" in (again / "REPORT.md").read_text()


def test_a_killed_run_says_it_never_finished(tmp_path, monkeypatch):
    code, out = _interrupting_cli_run(tmp_path, monkeypatch, at=16)
    report.write_status(str(out), state="running", why=None)  # as a SIGKILL leaves it
    path, _ = report.build(str(out / "ladder.csv"))
    assert "never finished" in open(path).read().splitlines()[2]


def test_finished_run_has_every_planned_row_and_no_notice(tmp_path, monkeypatch):
    code, out = _interrupting_cli_run(tmp_path, monkeypatch, at=10 ** 6)
    assert code == 0
    status = report.read_status(str(out / "ladder.csv"))
    assert status["state"] == "complete"
    assert status["planned_rows"] == status["rows"] == len(read_csv(out / "ladder.csv")) == 6
    assert "cut short" not in (out / "REPORT.md").read_text()


def test_total_rows_counts_an_unavailable_kernel_once(tmp_path):
    @contextlib.contextmanager
    def bind(threads):
        yield None
    ghost = _registry.Kernel("ghost", "baseline", None, "never here", False, bind,
                             lambda: "not installed")
    kernels = [ghost, _registry.get("c_naive")]
    h, path = run(tmp_path, kernels, dtypes=["float32", "float64"])
    assert h.total_rows() == len(read_csv(path)) == 1 + 2 * 2


def test_the_pools_go_quiet_before_each_kernel_is_timed(tmp_path, monkeypatch):
    events = []
    real = timing.wait_quiet

    def quiet(owner=None, **kw):
        events.append(("quiet", owner))
        return real(owner, **kw)
    monkeypatch.setattr(timing, "wait_quiet", quiet)

    def logging_kernel(name):
        def f(a, b):
            events.append(("call", name))
            return a @ b
        return fake_kernel(name, f)
    run(tmp_path, [logging_kernel("first"), logging_kernel("second")], sizes=[8, 16])
    calls = [i for i, e in enumerate(events) if e[0] == "call"]
    assert len(calls) >= 4 * 4
    switches = 0
    for before, after in zip(calls, calls[1:]):
        if events[before][1] != events[after][1]:
            switches += 1
            assert ("quiet", events[after][1]) in events[before + 1:after], events[before:after + 1]
    assert switches == 3  # first, second at n = 8; first, second at n = 16


@pytest.fixture
def machine_unseen(monkeypatch):
    """Fake kernels judged on their own timings alone: what other processes of this shared
    machine do meanwhile (timing.Watch) is hidden from the harness."""
    monkeypatch.setattr(timing, "_wait_ns", lambda: None)
    monkeypatch.setattr(timing, "_machine_ticks", lambda: None)


def _pattern_kernel(name, seconds):
    """A kernel whose k-th call sleeps seconds(k) (the first, checked call is k = 0)."""
    count = [0]

    def f(a, b):
        time.sleep(seconds(count[0]))
        count[0] += 1
        return a @ b
    return fake_kernel(name, f)


def test_wild_timings_are_timed_again_and_flagged(tmp_path, machine_unseen):
    # two calls of three sleep 50x the third: the median is 50x the min, on every try
    wild = _pattern_kernel("wild", lambda k: 0.001 * (1 if k % 3 == 0 else 50))
    steady = _pattern_kernel("steady", lambda k: 0.002)
    h, path = run(tmp_path, [wild, steady], sizes=[8], min_time=0.05)
    rows = {r["kernel"]: r for r in read_csv(path)}
    assert rows["wild"]["status"] == "ok" and rows["wild"]["flag"].startswith("spread ")
    assert "timed twice" in rows["wild"]["note"]
    assert rows["steady"]["flag"] == "" and rows["steady"]["note"] == ""
    text = report.report_markdown(report.load_csv(path), {}, 8, [])
    assert "**1 of its 2 timings are doubtful**" in text
    assert "## Doubtful timings" in text and "- wild float32 8x8x8 t=1: spread" in text
    assert "ok; doubtful: spread" in text  # in the ladder table too
    assert "Doubtful timings (1" in report.console_tables(report.load_csv(path))


def test_a_second_timing_that_behaves_is_kept_unflagged(tmp_path, machine_unseen):
    # the first timing's 3 repeats (after the checked call, k = 0) sleep 50, 50 and 1 ms:
    # its median is 50x its min; the second timing's are steady
    settles = _pattern_kernel("settles", lambda k: 0.001 * (50 if k in (1, 2) else 1))
    h, path = run(tmp_path, [settles], sizes=[8], min_time=0.003)
    row = read_csv(path)[0]
    assert row["flag"] == "" and "kept the second" in row["note"]
    assert float(row["median_s"]) < 0.01


def test_time_that_falls_as_n_grows_is_flagged(tmp_path, machine_unseen):
    # 20 ms at n = 8, 2 ms at n = 16: t ~ n^-3.3, as c_omp timed right after NumPy
    falls = fake_kernel("falls", lambda a, b: (time.sleep(0.02 if a.shape[0] == 8 else 0.002),
                                              a @ b)[1])
    cubic = fake_kernel("cubic", lambda a, b: (time.sleep(0.001 * (a.shape[0] / 8) ** 3),
                                              a @ b)[1])
    h, path = run(tmp_path, [falls, cubic], sizes=[8, 16])
    flags = {(r["kernel"], r["N"]): r["flag"] for r in read_csv(path)}
    assert flags[("falls", "8")] == "" and flags[("falls", "16")].startswith("exponent -3.")
    assert flags[("cubic", "8")] == flags[("cubic", "16")] == ""
    rows = report.load_csv(path)
    fits = report.relations(report.Table(rows), 16)[1]
    doubt = [f[3] for f in fits if f[0].startswith("falls")]
    assert len(doubt) == 1 and doubt[0].startswith("implausible: exponent -3.") and "(n 8-16)" in doubt[0]
    assert [f[3] for f in fits if f[0].startswith("cubic")] == [""]


def test_a_csv_without_the_newer_columns_still_loads(tmp_path):
    h, path = run(tmp_path, [_registry.get("c_naive")], sizes=[8, 16])
    old = tmp_path / "old" / "ladder.csv"
    old.parent.mkdir()
    old_columns = COLUMNS[:COLUMNS.index("note") + 1]
    with open(old, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=old_columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(read_csv(path))
    rows = report.load_csv(str(old))
    assert rows[0]["normwise_error"] is None and rows[0]["flag"] == ""
    assert cli.main(["--from-csv", str(old)]) == 0
    text = (old.parent / "REPORT.md").read_text()
    assert "## Ladder: float32, n = 16, 1 thread" in text and "cut short" not in text


def test_race_waits_for_quiet_before_each_block_and_gives_errors(monkeypatch):
    from matmul_ladder.bench.race import race
    seen = []
    monkeypatch.setattr(timing, "wait_quiet", lambda owner=None, **kw: seen.append(owner))
    a, b = np.ones((8, 5), np.float32), np.ones((5, 3), np.float32)
    r = race(a, b, {"numpy": np.matmul, "again": lambda x, y: x @ y}, baseline="numpy",
             min_time=0.0, min_rounds=3, block_time=0.001)
    blocks = seen[3:]  # after one before each checked call and one before the first round
    assert blocks == ["numpy", "again", "again", "numpy", "numpy", "again"][:2 * r.rounds]
    assert r.errors == {"numpy": 0.0, "again": 0.0}
    seen.clear()
    race(a, b, {"numpy": np.matmul}, baseline="numpy", min_time=0.0, min_rounds=3)
    assert seen == ["numpy", "numpy"]  # call by call: quiet once before the rounds


def test_a_step_on_a_doubtful_timing_refutes_nothing():
    def row(kernel, rung, seconds, flag=""):
        return dict.fromkeys(COLUMNS, None) | dict(kernel=kernel, language="C", rung=rung,
            device="cpu", mode="compute", dtype="float32", M=64, N=64, K=64, threads=1,
            status="ok", median_s=seconds, note="", flag=flag)
    rows = [row("c_naive", 1, 1e-3), row("c_ikj", 2, 1e-4), row("c_blocked", 3, 2e-4)]
    text = "\n".join(report.relations(report.Table(rows), 64)[0])
    assert "c_blocked is slower than the rung before it" in text and "refuted" in text
    rows[2]["flag"] = "waited 50%"
    text = "\n".join(report.relations(report.Table(rows), 64)[0])
    assert "refuted" not in text and "c_blocked 0.5x (doubtful)" in text
    assert "c_blocked's 0.5x stands on a doubtful timing (waited 50%)" in text


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc")
def test_a_single_call_over_budget_is_judged_too(tmp_path):
    """The row that is its first call alone (over the budget) is judged by what happened
    during that call: here another process kept a CPU busy throughout."""
    import subprocess
    import sys
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        slow = fake_kernel("slow", lambda a, b: (time.sleep(0.3), a @ b)[1])
        h, path = run(tmp_path, [slow], sizes=[8], budget=0.1)
    finally:
        neighbour.kill()
        neighbour.wait()
    row = read_csv(path)[0]
    assert row["repeats"] == "1" and "one call, over budget" in row["note"]
    assert "shared" in row["flag"], row
