"""The C ladder on arm64, where the project has no machine: tests/aarch64/run.sh cross-compiles
csrc/ and a C driver with Debian's aarch64 toolchain and runs it under qemu-user. The driver
checks every C rung and the NEON micro-kernel, in both dtypes, on edge shapes and under
extreme blocks, and every C rung of the convolution ladder (its NEON vector code), with
matmul_ladder.bench.check's bounds. Speed on arm64 is not measured here."""
import pathlib
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.slow  # outside the quick set (python -m pytest -m "not slow")

RUN = pathlib.Path(__file__).parent / "aarch64" / "run.sh"
TOOLS = ("aarch64-linux-gnu-gcc", "qemu-aarch64-static")


@pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS),
                    reason="needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and "
                           "qemu-user-static (Debian packages; .ci/run installs them)")
def test_c_ladder_and_neon_kernel_under_qemu():
    done = subprocess.run(["bash", str(RUN)], capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "micro-kernel ISA 3" in done.stdout, done.stdout  # NEON active
    assert " 0 failures" in done.stdout, done.stdout
