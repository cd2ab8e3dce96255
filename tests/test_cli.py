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


# ---- one command line: the subcommands, did-you-mean, threads, the kernel list -----------
from matmul_ladder.cli import hints, kernel_list, subcommands  # noqa: E402

COMMANDS = ["ladder", "conv", "tune", "why", "dist", "list"]


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    listed = out[out.index("commands ("):].splitlines()[1:]
    names = [line.split()[0] for line in listed if line.startswith("  ")]
    assert names[:6] == COMMANDS
    assert ("try" in names) == subcommands.has_tryout()


@pytest.mark.parametrize("argv, words", [
    (["tnue"], "unknown command 'tnue' (did you mean 'tune'?)"),
    (["lst", "--operation", "all"], "(did you mean 'list'?)"),
    (["ladderr", "--quick"], "(did you mean 'ladder'?)"),
    (["frobnicate"], "unknown command 'frobnicate'; commands: ladder, conv"),
    (["--kernels", "c_naiv"], "unknown kernel 'c_naiv' (did you mean 'c_naive'"),
    (["--kernels", "c_omp,conv_c_naive"], "'conv_c_naive' (a conv2d kernel)"),
    (["ladder", "--kernels", "c_smid"], "(did you mean 'c_simd'"),
    (["list", "--operation", "conv"], "invalid choice: 'conv'"),
    (["list", "--frob"], "unrecognized arguments: --frob"),
    (["why", "--frob"], "matmul-ladder why: error: unrecognized arguments: --frob"),
    (["dist", "--n", "x"], "matmul-ladder dist: error: argument --n/--size: invalid int"),
    (["tune", "--seconds", "0"], "--seconds must be"),
])
def test_mistyped_names_get_one_line(argv, words, capsys):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], captured.err
    assert captured.out == ""


def test_conv_kernel_did_you_mean(capsys):
    assert cli.main(["conv", "--kernels", "conv_c_fixd", "--sizes", "8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "matmul-ladder conv: error: --kernels: unknown conv kernel 'conv_c_fixd' "
        "(did you mean 'conv_c_fixed'")
    assert err[0].endswith("(see matmul-ladder list --operation conv2d)")


def test_did_you_mean():
    assert hints.did_you_mean("tnue", COMMANDS) == " (did you mean 'tune'?)"
    assert hints.did_you_mean("zzzz", COMMANDS) == ""
    assert hints.did_you_mean("c_naiv", ["c_naive", "cy_naive"]) == \
        " (did you mean 'c_naive' or 'cy_naive'?)"


def test_ladder_is_the_default_command(monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "run", lambda args, command: seen.append((args.sizes, command)) or 0)
    assert cli.main(["ladder", "--sizes", "64"]) == 0
    assert cli.main(["--sizes", "64"]) == 0
    assert seen == [([64], "matmul-ladder --sizes 64")] * 2


def test_more_threads_than_cores_is_one_warning(monkeypatch, capsys):
    monkeypatch.setattr(hints, "cores", lambda: 2)
    monkeypatch.setattr(cli, "run", lambda args, command: 0)
    assert cli.main(["--threads", "1,8", "--sizes", "64"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("matmul-ladder: warning: 8 threads on 2 cores")
    assert cli.main(["--threads", "1,2", "--sizes", "64"]) == 0
    assert capsys.readouterr().err == ""


def test_conv_warns_too_then_runs(monkeypatch, capsys):
    from matmul_ladder.cli import conv
    monkeypatch.setattr(hints, "cores", lambda: 1)
    monkeypatch.setattr(conv, "main", lambda argv: 0)
    assert cli.main(["conv", "--threads", "3", "--sizes", "8"]) == 0
    assert "matmul-ladder conv: warning: 3 threads on 1 core:" in capsys.readouterr().err


def test_dispatch_to_each_command(monkeypatch):
    import importlib
    seen = []
    why = importlib.import_module("matmul_ladder.explain.why")
    dist = importlib.import_module("matmul_ladder.dist.__main__")
    tune = importlib.import_module("matmul_ladder.cli.tune")
    monkeypatch.setattr(why, "main", lambda argv: seen.append(("why", argv)) or 0)
    monkeypatch.setattr(dist, "main", lambda argv: seen.append(("dist", argv)) or 3)
    monkeypatch.setattr(tune, "tune_main", lambda argv: seen.append(("tune", argv)) or 0)
    assert cli.main(["why", "--quick"]) == 0
    assert cli.main(["dist", "--n", "64"]) == 3
    assert cli.main(["tune", "--show"]) == 0
    assert seen == [("why", ["--quick"]), ("dist", ["--n", "64"]), ("tune", ["--show"])]


def test_try_dispatches_lazily_where_tryout_is(monkeypatch, capsys):
    import types
    fake = types.ModuleType("matmul_ladder.tryout")
    fake.main = lambda argv: 5 if argv == ["k.c"] else 0
    monkeypatch.setitem(sys.modules, "matmul_ladder.tryout", fake)
    monkeypatch.setattr(subcommands, "has_tryout", lambda: True)
    assert cli.main(["try", "k.c"]) == 5
    monkeypatch.setattr(subcommands, "has_tryout", lambda: False)
    assert cli.main(["try", "k.c"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'try'" in err and ", try" not in err
    assert cli.main(["k.c"]) == 2
    assert "(to race your own kernel" not in capsys.readouterr().err


def test_list_is_the_matmul_kernels_by_default(capsys):
    import matmul_ladder as ml
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == kernel_list.HEADER
    names = [line.split()[0] for line in lines[2:] if line and not line.startswith("[")]
    assert names == [k.name for k in ml.kernels("matmul")]


def test_kernel_table_says_why_a_kernel_is_missing(monkeypatch):
    import matmul_ladder as ml
    from matmul_ladder.rungs.registry import KernelInfo
    infos = [KernelInfo("a_k", "C", 1, "first", False, True, ""),
             KernelInfo("b_k", "CUDA", 2, "second", True, False, "no GPU (planted)"),
             KernelInfo("c_k", "baseline", None, "third", False, False, "no GPU (planted)"),
             KernelInfo("d_k", "C", 1, "conv", False, True, "", operation="conv2d")]
    monkeypatch.setattr(ml.api, "kernels", lambda operation=None: [
        k for k in infos if operation in (None, k.operation)])
    rows = [line.split() for line in kernel_list.kernel_table().splitlines()]
    assert rows[2] == ["a_k", "C", "1", "no", "yes", "first"]
    assert rows[3] == ["b_k", "CUDA", "2", "yes", "no", "[1]", "second"]
    assert rows[4] == ["c_k", "baseline", "-", "no", "no", "[1]", "third"]
    assert rows[-1] == ["[1]", "no", "GPU", "(planted)"] and len(rows) == 7
    everything = kernel_list.kernel_table("all").splitlines()
    assert everything[0].split()[:2] == ["name", "operation"] and "conv2d" in everything[5]
    assert "b_k" not in kernel_list.kernel_table("matmul", available_only=True)
    with pytest.raises(ValueError):
        kernel_list.kernel_table("conv")


def test_print_report_only_when_asked(tmp_path, capsys):
    import os
    csv = os.path.join(os.path.dirname(__file__), os.pardir, "reference", "zen4-2core", "ladder",
                       "ladder.csv")
    assert cli.main(["--from-csv", str(csv), "--out", str(tmp_path / "a")]) == 0
    plain = capsys.readouterr().out
    assert cli.main(["--from-csv", str(csv), "--out", str(tmp_path / "b"), "--print-report"]) == 0
    asked = capsys.readouterr().out
    report = (tmp_path / "b" / "REPORT.md").read_text().rstrip()
    assert report not in plain and report in asked
    assert "rebuilt " in plain and "rebuilt " in asked
