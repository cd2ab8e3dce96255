"""One call for c_bf16 on a machine with a matrix unit (AMX or AVX512-BF16): the tests of both
units, the peak probes, speed against torch.matmul in bfloat16, c_simd, c_omp and NumPy
float32, and the normwise error against torch bf16's on the same inputs. Everything goes
into OUT (default bf16_run/): tests.txt, units.json, peaks.json, speed.csv, accuracy.csv.

    python setup.py build_ext --inplace
    PYTHONPATH=pysrc python experiments/bf16_xeon.py OUT [--sizes 2048 4096 8192]
        [--threads 1 16] [--repeats 3]

torch is optional (pip install torch==2.13.0, the CPU build): without it its rows say why."""
import argparse
import csv
import json
import os
import subprocess
import sys
import time

import numpy as np

import matmul_ladder as ml
from matmul_ladder.bench.check import Reference


def torch_bf16(threads):
    try:
        import torch
    except ImportError:
        return None, "torch not installed (pip install torch==2.13.0)"
    torch.set_num_threads(threads)

    def run(a, b):
        ta = torch.from_numpy(a).to(torch.bfloat16)
        tb = torch.from_numpy(b).to(torch.bfloat16)
        return torch.matmul(ta, tb).float().numpy()
    return run, ""


def kernel(name, threads):
    if name == "torch_bf16":
        return torch_bf16(threads)
    info = [k for k in ml.kernels() if k.name == name][0]
    if not info.available:
        return None, info.reason
    return (lambda a, b: ml.matmul(a, b, kernel=name, threads=threads)), ""


def best_seconds(f, a, b, repeats):
    f(a, b)  # warm-up (and packing buffers, AMX permission, oneDNN's JIT)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        f(a, b)
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", nargs="?", default="bf16_run")
    p.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 8192])
    p.add_argument("--threads", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip-tests", action="store_true")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    units = {"best": ml._api._require_ckernels().bf16_best_unit(),
             "reasons": {u: ml._api._require_ckernels().bf16_unit_reason(u)
                         for u in ("amx", "avx512_bf16")},
             "lscpu": subprocess.run(["lscpu"], capture_output=True, text=True).stdout}
    with open(os.path.join(args.out, "units.json"), "w") as f:
        json.dump(units, f, indent=2)
    print("best unit:", units["best"], units["reasons"], flush=True)

    if not args.skip_tests:
        r = subprocess.run([sys.executable, "-m", "pytest", "-v", "-rs", "tests/test_bf16.py"],
                           cwd=here, capture_output=True, text=True)
        with open(os.path.join(args.out, "tests.txt"), "w") as f:
            f.write(r.stdout + r.stderr)
        print("tests:", r.stdout.strip().splitlines()[-1] if r.stdout else r.returncode, flush=True)

    peaks = {}
    for u in ("amx", "avx512_bf16"):
        for t in sorted(set(args.threads)):
            peaks[f"{u}_{t}t"] = ml.bf16_peak(t, 0.5, u)
        for t in sorted(set(args.threads)):
            peaks[f"fma_float32_{t}t"] = ml.fma_peak("float32", t, 0.5)
    with open(os.path.join(args.out, "peaks.json"), "w") as f:
        json.dump(peaks, f, indent=2)
    print("peaks GFLOP/s:", peaks, flush=True)

    names = ["c_bf16", "torch_bf16", "c_simd", "c_omp", "numpy"]
    with open(os.path.join(args.out, "speed.csv"), "w", newline="") as fs, \
         open(os.path.join(args.out, "accuracy.csv"), "w", newline="") as fa:
        speed, acc = csv.writer(fs), csv.writer(fa)
        speed.writerow(["n", "threads", "kernel", "seconds", "gflops", "pct_unit_peak", "note"])
        acc.writerow(["n", "kernel", "normwise_error_vs_float64", "passes_bf16_check"])
        for n in args.sizes:
            rng = np.random.default_rng(n)
            a = rng.standard_normal((n, n)).astype(np.float32)
            b = rng.standard_normal((n, n)).astype(np.float32)
            ref = Reference(a, b) if n <= 4096 else None
            for t in args.threads:
                for name in names:
                    if name == "c_simd" and t != 1:
                        continue
                    f, why = kernel(name, t)
                    if f is None:
                        speed.writerow([n, t, name, "", "", "", why])
                        continue
                    s = best_seconds(f, a, b, args.repeats)
                    g = 2.0 * n ** 3 / s / 1e9
                    peak = peaks.get(f"{units['best']}_{t}t", 0.0)
                    pct = f"{100 * g / peak:.1f}" if name == "c_bf16" and peak else ""
                    speed.writerow([n, t, name, f"{s:.6f}", f"{g:.1f}", pct, ""])
                    fs.flush()
                    print(n, t, name, f"{g:.1f} GFLOP/s", pct, flush=True)
                    if ref is not None and t == args.threads[-1] and name in ("c_bf16", "torch_bf16", "numpy"):
                        c = f(a, b)
                        prec = "bf16" if name != "numpy" else ""
                        acc.writerow([n, name, f"{ref.normwise_error(c):.3e}",
                                      not ref.violations(c, prec)])
                        fa.flush()


if __name__ == "__main__":
    main()
