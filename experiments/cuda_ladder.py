"""The GPU ladder: every hand-written CUDA rung against cuBLAS (through CuPy and PyTorch),
FP32 with TF32 off, data on the GPU, timed with CUDA events (cupyx.profiler.benchmark).
cuBLAS TF32 and BF16 are reference rows, not rivals: they trade precision for speed.

    python experiments/cuda_ladder.py --out results/cuda     # n = 1024, 2048, 4096

Every kernel is checked against a float64 reference (computed on the GPU) before it is timed.
Writes cuda_ladder.csv, cuda_ladder.md (the table) and cuda_ladder.png to --out.
"""
import argparse
import csv
import os
import sys

import numpy as np

import matmul_ladder as ml
from matmul_ladder import machine
from matmul_ladder.check import Reference
from matmul_ladder.tables import markdown_table, text_table
from matmul_ladder.timing import gflops, matmul_flops, time_gpu


def gpu_seconds(f, *args, repeats=20):
    return time_gpu(f, repeats, args=args).median


def torch_reference_rows(n, repeats):
    """cuBLAS TF32 and BF16 through torch: (name, seconds)."""
    import torch
    from torch.utils import benchmark
    a, b = torch.rand(n, n, device="cuda"), torch.rand(n, n, device="cuda")
    rows = []
    previous = torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = True
        m = benchmark.Timer("a @ b", globals={"a": a, "b": b}).blocked_autorange(min_run_time=0.5)
        rows.append(("cuBLAS TF32 (torch)", m.median))
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    a16, b16 = a.bfloat16(), b.bfloat16()
    m = benchmark.Timer("a @ b", globals={"a": a16, "b": b16}).blocked_autorange(min_run_time=0.5)
    rows.append(("cuBLAS BF16 (torch)", m.median))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1024,2048,4096")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--out", default=os.path.join("results", "cuda"))
    args = p.parse_args(argv)
    import cupy
    reason = next(k.reason for k in ml.kernels() if k.name == "cupy")
    if reason:
        print(f"no GPU ladder here: {reason}")
        return 1
    os.makedirs(args.out, exist_ok=True)
    info = {k.name: k for k in ml.kernels()}
    names = [k.name for k in info.values() if k.language == "CUDA"] + ["cupy", "torch_cuda"]
    rng = np.random.default_rng(0)
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        a = cupy.asarray(rng.uniform(-1, 1, (n, n)).astype(np.float32))
        b = cupy.asarray(rng.uniform(-1, 1, (n, n)).astype(np.float32))
        ref = Reference(a, b)
        for name in names:
            reason = info[name].reason
            if reason:
                results.append((n, name, None, f"unavailable: {reason}"))
                continue
            with ml.bind(name) as f:
                problem = ref.violations(f(a, b))
                if problem:
                    results.append((n, name, None, f"FAILED: {problem}"))
                    continue
                results.append((n, name, gpu_seconds(f, a, b, repeats=args.repeats), "ok"))
            print(f"  n={n} {name}: {results[-1][2]}", file=sys.stderr, flush=True)
        if info["torch_cuda"].available:
            results += [(n, name, s, "reference") for name, s in torch_reference_rows(n, args.repeats)]
    cublas = {n: s for n, name, s, _ in results if name == "cupy" and s}
    table = []
    for n, name, s, status in results:
        tflops = gflops(matmul_flops(n, n, n), s) / 1e3 if s else None
        pct = f"{100 * cublas[n] / s:.0f}%" if s and n in cublas else "-"
        table.append([name, n, f"{s * 1e3:.3f}" if s else "-", f"{tflops:.1f}" if tflops else "-", pct, status])
    header = ["kernel", "n", "ms", "TFLOP/s", "% cuBLAS FP32", "status"]
    gpu = machine.gpu_info()
    title = f"GPU ladder on {gpu.get('name')} (CUDA runtime {gpu.get('cuda_runtime')}, CuPy {gpu.get('cupy')})"
    print(title)
    print(text_table(header, table))
    with open(os.path.join(args.out, "cuda_ladder.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(table)
    with open(os.path.join(args.out, "cuda_ladder.md"), "w") as f:
        f.write(f"# {title}\n\nCommand: `python experiments/cuda_ladder.py {' '.join(argv or sys.argv[1:])}`\n\n")
        f.write(markdown_table(header, table) + "\n")
    plot(results, os.path.join(args.out, "cuda_ladder.png"), title)
    return 0


def plot(results, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = max(r[0] for r in results)
    rows = [(name, gflops(matmul_flops(n, n, n), s) / 1e3) for m, name, s, _ in results if m == n and s]
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.barh([r[0] for r in rows], [r[1] for r in rows], color="#37a")
    for i, (_, v) in enumerate(rows):
        ax.text(v, i, f" {v:.1f}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set(xscale="log", xlabel="TFLOP/s (log)", title=f"{title}\nn = {n}, float32")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
