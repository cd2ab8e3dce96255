"""Memory: packing buffers are bounded (no O(n^2) scratch beyond the output), and nothing leaks."""
import subprocess
import sys

import numpy as np
import pytest

import matmul_ladder as ml
from conftest import kernel_params

pytestmark = pytest.mark.slow  # outside the quick set (python -m pytest -m "not slow")

PEAK_SCRIPT = r"""
import resource, sys
import numpy as np
import matmul_ladder as ml
n = int(sys.argv[1])
a = np.ones((n, n)); b = np.ones((n, n))
ml.matmul(np.ones((64, 64)), np.ones((64, 64)), kernel="c_omp", threads=2)   # load everything
def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20
def peak_mib():
    # VmHWM, this address space's high-water mark. Not getrusage's ru_maxrss: Linux carries
    # that over exec from the parent that forked this process (a large pytest, say).
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
before = rss_mib()                     # interpreter + libraries + inputs
c = ml.matmul(a, b, kernel="c_omp", threads=2)
peak = peak_mib()
print(before, peak, c.nbytes / 2**20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_peak_rss_of_a_large_call_is_inputs_output_and_packing():
    """float64 n = 4096 c_omp: peak RSS <= (RSS with inputs) + output + 64 MiB."""
    if not next(k for k in ml.kernels() if k.name == "c_omp").available:
        pytest.skip("c_omp unavailable")
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, "4096"], capture_output=True,
                         text=True, check=True)
    before, peak, output = (float(x) for x in out.stdout.split())
    assert peak <= before + output + 64, (before, peak, output)


@pytest.mark.parametrize("kernel", kernel_params(["c_simd", "c_omp", "cy_prange", "c_blocked"]))
def test_no_leak_over_many_small_calls(kernel):
    def rss_pages():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1])
    a, b = np.random.rand(13, 17), np.random.rand(17, 11)
    for _ in range(1000):
        ml.matmul(a, b, kernel=kernel)
    start = rss_pages()
    for _ in range(10_000):
        ml.matmul(a, b, kernel=kernel)
    grown_kib = (rss_pages() - start) * 4
    assert grown_kib < 1024, f"RSS grew by {grown_kib} KiB over 10,000 calls"
