"""The ladder is in the file names, and each C rung file compiles on its own with its one
include, in both element types."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
C_RUNGS = ["1_naive.c", "2_ikj.c", "3_blocked.c", "4_simd.c", "5_omp.c", "6_strassen.c"]
CONV_RUNGS = ["conv/1_naive.c", "conv/2_rows.c", "conv/3_fixed.c", "conv/4_simd.c",
              "conv/5_omp.c", "conv/6_strips.c"]


def test_rungs_are_numbered_in_order():
    for folder, ext, count in (("csrc", ".c", 6), ("pyx", ".pyx", 4), ("csrc/cuda", ".cu", 10),
                               ("csrc/conv", ".c", 6), ("pyx/conv", ".pyx", 3),
                               ("csrc/cuda/conv", ".cu", 4)):
        names = sorted((f for f in os.listdir(os.path.join(ROOT, folder))
                        if f.endswith(ext) and f[0].isdigit()), key=lambda f: int(f.split("_")[0]))
        assert [int(n.split("_")[0]) for n in names] == list(range(1, count + 1)), names


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
