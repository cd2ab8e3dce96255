"""How long each library's idle threads keep running after a call, and what a kernel timed
meanwhile loses: the figures behind timing.py's quiet period.

    python3 reference/zen4-2core/quick_runs/pools.py

1. After three calls of each kernel (n = 512, float32, 2 threads), how long until no other
   thread of the process is running (timing.running_threads, polled every 2 ms).
2. c_omp on 2 threads at n = 128 timed for 0.05 s right after a 2-thread NumPy call, then
   again after timing.wait_quiet(): the medians, and the threads' wait for a CPU (Watch).
3. One-thread kernels at n = 256 (py_naive at 48), alone and beside another process on the
   other CPU that spins on integers, streams through 128 MB, or computes in L1: the medians,
   and the CPUs the neighbour used as Watch saw them.
"""
import subprocess
import sys
import time

import numpy as np

import matmul_ladder as ml
from matmul_ladder import timing


def until_quiet():
    t0 = time.perf_counter()
    while timing.running_threads():
        time.sleep(0.002)
        if time.perf_counter() - t0 > 2:
            return float("inf")
    return time.perf_counter() - t0


def median_for(f, a, seconds):
    times, t0 = [], time.perf_counter()
    with timing.Watch() as w:
        while time.perf_counter() - t0 < seconds:
            s = time.perf_counter()
            f(a, a)
            times.append(time.perf_counter() - s)
    return np.median(times), min(times), w.waited


def main():
    a = np.random.default_rng(0).uniform(-1, 1, (512, 512)).astype(np.float32)
    timing.wait_quiet()
    print("1. other threads still running after the last call (n = 512, float32):")
    for name, threads in [("numpy", 2), ("c_omp", 2), ("cy_prange", 2), ("torch_cpu", 2),
                          ("numpy", 1), ("c_omp", 1)]:
        with ml.bind(name, threads) as f:
            for _ in range(3):
                f(a, a)
            print(f"   {name:10s} {threads} threads: {1e3 * until_quiet():6.1f} ms")
    small = a[:128, :128].copy()
    print("2. c_omp, 2 threads, n = 128, timed for 0.05 s:")
    with ml.bind("numpy", 2) as npy, ml.bind("c_omp", 2) as omp:
        for label, settle in (("right after NumPy", False), ("after wait_quiet", True)):
            omp(small, small)
            npy(a, a)
            if settle:
                q = timing.wait_quiet("c_omp")
                label += f" ({1e3 * q.seconds:.0f} ms)"
            med, low, waited = median_for(omp, small, 0.05)
            print(f"   {label:28s} median {1e3 * med:8.3f} ms, min {1e3 * low:8.3f} ms, "
                  f"threads waited {waited:.2f}")
    print("3. one thread, beside a neighbour process (median ms; the CPUs others used):")
    neighbours = {"none": None, "integer spin": "while True: pass",
                  "memory stream": "import numpy as np\nx = np.ones(1 << 24)\nwhile True: x += 1",
                  "L1 compute": "import numpy as np\nx = np.ones(1 << 12)\nwhile True: np.sin(x, out=x)"}
    b = a[:256, :256].copy()
    tiny = a[:48, :48].copy()
    for label, code in neighbours.items():
        p = subprocess.Popen([sys.executable, "-c", code]) if code else None
        time.sleep(0.3)
        cells = []
        try:
            for name, x in (("c_ikj", b), ("cy_blocked", b), ("c_simd", b), ("py_naive", tiny)):
                with ml.bind(name, 1) as f:
                    f(x, x)
                    med, _, _ = median_for(f, x, 0.3)
                    with timing.Watch() as w:
                        median_for(f, x, 0.1)
                cells.append(f"{name} {1e3 * med:.3f}")
        finally:
            if p:
                p.kill()
                p.wait()
        print(f"   {label:14s} " + ", ".join(cells) + f"; others {w.others:.2f} CPU")


if __name__ == "__main__":
    main()
