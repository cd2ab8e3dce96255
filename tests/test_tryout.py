"""matmul-ladder try: a student's C file compiled, checked and raced in a child process, and
each way it can go wrong told in one line with its own exit status."""
import json
import os
import time

import pytest

from matmul_ladder import tryout
from matmul_ladder.tryout import build, runner

HEADER = "#include <stddef.h>\n"
SIGNATURE = ("void {name}_{s}(size_t M, size_t N, size_t K, const {t} *A, size_t lda, "
             "const {t} *B, size_t ldb, {t} *C, size_t ldc)")
IKJ = """{{
    for (size_t i = 0; i < M; i++) {{
        for (size_t j = 0; j < N; j++) C[i * ldc + j] = 0;
        for (size_t k = 0; k < {klimit}; k++)
            for (size_t j = 0; j < N; j++) C[i * {cstride} + j] += A[i * lda + k] * B[k * ldb + j];
    }}
}}
"""


def kernel_source(name="ikj_loop", body=IKJ, dtypes=(("s", "float"), ("d", "double")),
                  klimit="K", cstride="ldc"):
    text = HEADER
    for s, t in dtypes:
        text += SIGNATURE.format(name=name, s=s, t=t) + "\n" + body.format(klimit=klimit,
                                                                           cstride=cstride)
    return text


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MATMUL_LADDER_CACHE", str(tmp_path / "cache"))


def run_main(tmp_path, source, *options, name="ikj_loop"):
    path = tmp_path / f"{name}.c"
    path.write_text(source)
    return tryout.main([str(path), "--n", "40", "--budget", "0.2", "--timeout", "20",
                        "--out", str(tmp_path / "out"), *options])


def one_line_failure(capsys):
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err.startswith("matmul-ladder try: ")
    return err


def test_ikj_loop_is_checked_raced_and_reported(tmp_path, capsys):
    assert run_main(tmp_path, kernel_source()) == 0
    out, err = capsys.readouterr()
    assert out.strip().splitlines()[-1] == str(tmp_path / "out")
    assert "t(numpy) / t(ikj_loop) = " in out
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["check"]["functions"] == {"float32": "ikj_loop_s", "float64": "ikj_loop_d"}
    assert len(result["check"]["checked"]) == 2 * len(runner.HARD_SHAPES)
    race = result["race"]
    assert race["dtype"] == "float32" and race["n"] == 40
    assert "numpy" in race["ratios"] and (race["below"] or race["above"])
    for rung in {race["below"], race["above"]} - {None}:
        assert race["ratios"][rung] > 0
    report = (tmp_path / "out" / "REPORT.md").read_text()
    assert report.startswith("## ikj_loop on the ladder")
    assert "| **ikj_loop** |" in report and "| c_naive |" in report and "| numpy |" in report
    assert (tmp_path / "out" / "ladder.png").stat().st_size > 1000
    assert f" -shared -o {result['library']} " in report


def test_one_unsuffixed_float64_function_from_python(tmp_path):
    path = tmp_path / "student.c"
    path.write_text(kernel_source(name="mine", dtypes=(("d", "double"),)).replace("mine_d", "mine"))
    result = tryout.try_kernel(str(path), function="mine", dtype="float64", n=24, budget=0.1,
                               out=str(tmp_path / "o"))
    assert result.check["functions"] == {"float64": "mine"}
    assert result.race["dtype"] == "float64"
    assert "## mine on the ladder" in (tmp_path / "o" / "REPORT.md").read_text()


def test_compile_error_shows_the_compilers_first_error(tmp_path, capsys):
    source = kernel_source().replace("C[i * ldc + j] = 0;", "C[i * ldc + j] = 0", 1)
    assert run_main(tmp_path, source) == 3
    err = one_line_failure(capsys)
    assert "compile error: ikj_loop.c does not compile" in err
    assert "error:" in err.splitlines()[1]


def test_missing_function_names_what_the_file_defines(tmp_path, capsys):
    assert run_main(tmp_path, kernel_source(name="other")) == 4
    err = one_line_failure(capsys)
    assert "neither ikj_loop_s (float32) nor ikj_loop_d (float64)" in err
    assert "other_s" in err


@pytest.mark.parametrize("fault, told", [
    (dict(klimit="(K > 1 ? K - 1 : K)"),  # drops the last k
     ("on float32 (7 x 11) @ (11 x 13): ", " of 91 entries out of bound; first at (0, 0): got ")),
    (dict(cstride="N"),  # adds into row i at i * N instead of i * ldc
     ("on float32 (33 x 45) @ (45 x 17), lda=50 ldb=22 ldc=22: wrote outside C: row 0, "
      "column 17 (the ldc padding",)),
])
def test_wrong_answer_names_the_shape_and_the_entry(tmp_path, capsys, fault, told):
    assert run_main(tmp_path, kernel_source(**fault)) == 1
    err = one_line_failure(capsys)
    assert isinstance(told, tuple) and f"wrong answer: ikj_loop_s {told[0]}" in err
    assert all(part in err for part in told)
    assert len(err.strip().splitlines()) == 1


def test_crash_in_the_child_is_one_line(tmp_path, capsys):
    body = "{{ *nowhere = (float)N; }}\n"  # through a NULL that the compiler cannot see
    source = kernel_source(body=body, dtypes=(("s", "float"),))
    assert run_main(tmp_path, source.replace(HEADER, HEADER + "float *volatile nowhere;\n")) == 5
    err = one_line_failure(capsys)
    assert "crash: the kernel died of SIGSEGV (a bad memory access) on float32 (0 x 0) @ (0 x 0)" \
        in err
    assert len(err.strip().splitlines()) == 1


def test_hang_is_stopped_at_the_timeout(tmp_path, capsys):
    body = "{{ volatile int spin = 1; while (spin) {{ }} }}\n"
    path = tmp_path / "ikj_loop.c"
    path.write_text(kernel_source(body=body, dtypes=(("s", "float"),)))
    t0 = time.monotonic()
    assert tryout.main([str(path), "--timeout", "2", "--out", str(tmp_path / "out")]) == 6
    assert time.monotonic() - t0 < 30
    err = one_line_failure(capsys)
    assert "timeout: float32 (0 x 0) @ (0 x 0): no answer after 2 s" in err
    assert not (tmp_path / "out").exists()
    assert not children_running(tmp_path), "the hung child was left running"


def children_running(tmp_path):
    """Processes whose command line names a library in this test's cache."""
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if str(tmp_path / "cache").encode() in f.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            pass
    return found


def test_bad_usage_is_one_line(tmp_path, capsys):
    assert tryout.main([str(tmp_path / "absent.c")]) == 2
    assert "no such C file" in one_line_failure(capsys)
    assert tryout.main(["x.c", "--n", "many"]) == 2
    one_line_failure(capsys)
    assert tryout.main(["--help"]) == 0


def test_the_childs_stdout_is_not_the_protocol(tmp_path):
    source = "#include <stdio.h>\n" + kernel_source().replace(
        "for (size_t i = 0; i < M; i++) {",
        'printf("FAIL wrong \\"said by printf\\"\\n"); fflush(stdout);\n'
        "    for (size_t i = 0; i < M; i++) {", 1)
    path = tmp_path / "ikj_loop.c"
    path.write_text(source)
    lib = build.compile_kernel(str(path)).library
    result = runner.run_child("check", lib, "ikj_loop", timeout=20)
    assert len(result["checked"]) == 2 * len(runner.HARD_SHAPES)
    assert os.path.isfile(lib)
