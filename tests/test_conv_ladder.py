"""The convolution harness (matmul-ladder conv): a tiny run end to end, its checks, and its
command line's one-line errors."""
import csv
import os

import numpy as np
import pytest

import matmul_ladder as ml
from matmul_ladder.cli import conv as conv_ladder
from matmul_ladder.cli.commands import main


def test_tiny_run_writes_csv_report_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["conv", "--sizes", "8,40", "--dtype", "float32", "--threads", "1,2",
               "--kernels", "conv_c_naive,conv_c_omp,conv_numpy_shifts", "--min-time", "0",
               "--no-progress", "--out", str(out)])
    assert rc == 0
    rows = list(csv.DictReader(open(out / "conv.csv")))
    assert {r["status"] for r in rows} == {"ok"}
    assert {(r["kernel"], r["threads"]) for r in rows} == {
        ("conv_c_naive", "1"), ("conv_c_omp", "1"), ("conv_c_omp", "2"),
        ("conv_numpy_shifts", "1")}
    assert all(r["output"] == "reused" and float(r["gb_s"]) > 0 for r in rows)
    assert all(0 <= float(r["normwise_error"]) < 1e-6 for r in rows)  # float32, 9 terms
    for name in ("REPORT.md", "machine.json", "conv_time_vs_n.png", "conv_gbs_vs_n.png"):
        assert (out / name).exists(), name
    assert "float32, N = 40" in (out / "REPORT.md").read_text()
    # and rebuilt from the CSV alone
    rebuilt = tmp_path / "again"
    assert main(["conv", "--from-csv", str(out / "conv.csv"), "--out", str(rebuilt)]) == 0
    assert (rebuilt / "REPORT.md").exists()


def test_checker_finds_a_wrong_entry_and_passes_nan_where_due():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2100, 50)).astype(np.float32)
    w = rng.standard_normal((3, 3)).astype(np.float32)
    checker = conv_ladder.Checker(x, w)
    y = ml.conv2d(x, w, kernel="conv_c_fixed")
    assert checker.violations(y) == ""
    # the normwise error the chunks' tally gives is the whole image's
    ref = conv_ladder.correlate3x3_valid(x.astype(np.float64), w.astype(np.float64))
    whole = np.linalg.norm(y - ref) / np.linalg.norm(ref)
    assert 0 < checker.error == pytest.approx(whole, rel=1e-6) and whole < 1e-6
    y[1500, 7] += 0.01
    problem = checker.violations(y)
    assert "(1500, 7)" in problem and "1 of" in problem
    assert "shape" in checker.violations(y[:-1])
    x[3, 3] = np.nan
    assert conv_ladder.Checker(x, w, keep_bytes=0).violations(ml.conv2d(x, w)) == ""


@pytest.mark.parametrize("argv, match", [
    (["--kernels", "c_simd"], "unknown conv kernel"),
    (["--sizes", "2"], "at least 3 x 3"),
    (["--sizes", "abc"], "not a whole number"),
    (["--budget", "-1"], "budget"),
    (["--dtype", "float16"], "invalid choice"),
    (["--from-csv", "nope.csv"], "no such file"),
    (["--from-csv", "x.csv", "--quick"], "takes only --out"),
])
def test_bad_options_are_one_line_and_status_2(argv, match, capsys):
    assert main(["conv"] + argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and match in err and "Traceback" not in err


def test_out_must_be_new_or_empty(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["conv", "--out", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err
