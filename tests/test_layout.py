"""The ladder is in the file names, and each C rung file compiles on its own with its one
include, in both element types. The matmul rungs are those of the one table,
pysrc/matmul_ladder/rungs/table.py (read by path: these tests need no build)."""
import os
import runpy
import shutil
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
TABLE = runpy.run_path(os.path.join(ROOT, "pysrc", "matmul_ladder", "rungs", "table.py"))
C_RUNGS = [r.file for r in TABLE["C_RUNGS"]]
CY_RUNGS = [r.file for r in TABLE["CYTHON_RUNGS"]]
CUDA_RUNGS = [r.file for r in runpy.run_path(os.path.join(ROOT, "pysrc", "matmul_ladder", "rungs",
                                                          "cuda.py"))["RUNGS"]]
CONV_RUNGS = ["conv/1_naive.c", "conv/2_rows.c", "conv/3_fixed.c", "conv/4_simd.c",
              "conv/5_omp.c", "conv/6_strips.c"]


def numbered(folder, ext):
    return sorted((f for f in os.listdir(os.path.join(ROOT, folder))
                   if f.endswith(ext) and f[0].isdigit()), key=lambda f: int(f.split("_")[0]))


def test_the_table_lists_every_numbered_rung_file_in_order():
    """Each numbered file of csrc/ and pyx/ has its row, in ladder order, and its row's rung
    is the number its name starts with."""
    for folder, ext, rows in (("csrc", ".c", TABLE["C_RUNGS"]),
                              ("pyx", ".pyx", TABLE["CYTHON_RUNGS"])):
        assert [r.file for r in rows] == numbered(folder, ext)
        assert [r.rung for r in rows] == [int(r.file.split("_")[0]) for r in rows]
    for row in TABLE["C_RUNGS"]:
        assert row.name.startswith("c_") and row.flags in ("plain", "packed"), row
        assert row.call in ("plain", "status", "threads", "strassen"), row
        assert row.needs in ("", "simd", "openmp", "bf16"), row
        with open(os.path.join(ROOT, "csrc", row.file)) as f:
            assert f"MM({TABLE['stem'](row.name)})" in f.read(), row


def test_rungs_are_numbered_in_order():
    for folder, ext, count in (("csrc", ".c", len(C_RUNGS)), ("pyx", ".pyx", len(CY_RUNGS)),
                               ("csrc/cuda", ".cu", len(CUDA_RUNGS)),
                               ("csrc/conv", ".c", 6), ("pyx/conv", ".pyx", 3),
                               ("csrc/cuda/conv", ".cu", 4)):
        names = numbered(folder, ext)
        assert [int(n.split("_")[0]) for n in names] == list(range(1, count + 1)), names
    assert numbered("csrc/cuda", ".cu") == CUDA_RUNGS   # cuda.RUNGS registers every file, in order


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
@pytest.mark.parametrize("double", [False, True], ids=["float32", "float64"])
@pytest.mark.parametrize("rung", C_RUNGS + CONV_RUNGS + ["few_rows.c", "conv/simd_rows.c"])
def test_rung_file_compiles_alone(rung, double, tmp_path):
    """One header of the project (the contract, or the shared loop nest), beside the C library's."""
    path = os.path.join(ROOT, "csrc", rung)
    with open(path) as f:
        includes = [line for line in f if line.startswith('#include "')]
    if rung in C_RUNGS + CONV_RUNGS:
        assert len(includes) == 1, includes
    cmd = ["cc", "-std=c11", "-O1", "-c", path, "-I", os.path.join(ROOT, "csrc"),
           "-o", str(tmp_path / "rung.o"), "-Werror=implicit-function-declaration"]
    out = subprocess.run(cmd + (["-DLADDER_DOUBLE"] if double else []), capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
