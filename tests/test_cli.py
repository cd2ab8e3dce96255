"""The command line: every bad option ends in one line on stderr and exit status 2, before
anything is measured; never a traceback."""
import subprocess
import sys

import pytest

from matmul_ladder.cli import commands as cli


def _write(path, text):
    path.write_text(text)
    return str(path)


BAD = [
    (["--kernels", "c_nope"], "unknown kernel 'c_nope'"),
    (["--kernels", ","], "at least one kernel"),
    (["--budget", "-1"], "--budget must be"),
    (["--budget", "0"], "--budget must be"),
    (["--budget", "nan"], "--budget must be"),
    (["--budget", "soon"], "not a number of seconds"),
    (["--min-time", "-0.5"], "--min-time must be"),
    (["--min-time", "inf"], "--min-time must be"),
    (["--sizes", "0"], "sizes must be >= 1"),
    (["--sizes", "abc"], "size 'abc' is not a whole number"),
    (["--sizes", "512:64"], "bad range"),
    (["--sizes", "1000000"], "GiB"),
    (["--shape", "3x4"], "want MxKxN"),
    (["--shape", "3x0x4"], "dimensions must be >= 1"),
    (["--shape", "axbxc"], "not a whole number"),
    (["--threads", "0"], "between 1 and"),
    (["--threads", "many"], "not a whole number"),
    (["--threads", "100000"], "between 1 and"),
    (["--dtype", "float16"], "invalid choice"),
    (["--ladder-size", "0"], "size must be >= 1"),
    (["--ladder-size", "100", "--sizes", "64,128"], "not one of the square sizes"),
    (["--from-csv", "no/such/file.csv"], "no such file"),
    (["--frobnicate"], "unrecognized arguments"),
]


@pytest.mark.parametrize("argv, words", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_option_is_one_line_and_status_2(argv, words, capsys):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("matmul-ladder: error: "), captured.err
    assert words in lines[0]
    assert captured.out == ""


def test_out_naming_a_file(tmp_path, capsys):
    existing = _write(tmp_path / "taken.txt", "x")
    assert cli.main(["--out", existing]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


def test_out_that_holds_a_run(tmp_path, capsys):
    _write(tmp_path / "ladder.csv", "run\n")
    assert cli.main(["--out", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err


def test_from_csv_that_is_not_a_ladder_csv(tmp_path, capsys):
    assert cli.main(["--from-csv", _write(tmp_path / "x.csv", "a,b\n1,2\n")]) == 2
    assert "not a ladder CSV" in capsys.readouterr().err
    assert cli.main(["--from-csv", _write(tmp_path / "e.csv", "")]) == 2
    assert "--from-csv" in capsys.readouterr().err


def test_from_csv_refuses_measuring_options(tmp_path, capsys):
    assert cli.main(["--from-csv", _write(tmp_path / "x.csv", "a\n"), "--sizes", "64"]) == 2
    assert "takes only --out and --ladder-size" in capsys.readouterr().err


def test_console_script_shows_no_traceback():
    out = subprocess.run([sys.executable, "-m", "matmul_ladder", "--kernels", "c_nope"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
