"""The GPU ladder: every hand-written CUDA rung against cuBLAS (through CuPy and PyTorch),
data on the GPU, timed with CUDA events (cupyx.profiler.benchmark) after warm-up.

    python experiments/cuda_ladder.py --out results/cuda     # n = 1024, 2048, 4096, 8192

Rungs 1-7 compute in FP32 and race cuBLAS FP32 (TF32 off); so does rung 9, cuda_3xtf32,
whose precision is "3xtf32" (three TF32 products that recover FP32's accuracy: RACES says
which cuBLAS each precision is held to). Rung 8 rounds its inputs to TF32 and rung 10 to BF16:
they race cuBLAS TF32 and BF16 (torch), timed the same way; rung 10 and cuBLAS BF16 both start
from BF16 copies made before the clock starts. Beside each speed, "error" is the answer's
normwise error against float64 of the FP32 inputs, ||C - C_ref||_F / ||C_ref||_F (cuBLAS TF32
and BF16's too), so that a rung's speed is read with what it costs in accuracy.
Inputs are drawn from a normal distribution (zeros would draw less power and run faster);
the same inputs are reused across repeats, with no L2 flush (at n >= 2048 A and B, 32 MB
and up, exceed most of the 50-60 MB L2). The SM clock is read (nvidia-smi) before and after.

Every kernel is checked against a float64 reference (computed on the GPU) before it is timed,
under the error bound of the precision it computes in (check.EPSILON).
Writes cuda_ladder.csv, cuda_ladder.md (the table) and cuda_ladder.png to --out.
"""
import argparse
import csv
import os
import shutil
import subprocess
import sys

import numpy as np

import matmul_ladder as ml
from matmul_ladder.bench import machine
from matmul_ladder.bench.check import Reference
from matmul_ladder.report.tables import markdown_table, text_table
from matmul_ladder.bench.timing import gflops, matmul_flops, time_gpu


# precision -> the cuBLAS it races in the "% cuBLAS same inputs" column: 3xtf32 is built to
# deliver FP32's accuracy, so it is held to cuBLAS FP32, not to TF32
RACES = {"fp32": "fp32", "3xtf32": "fp32", "tf32": "tf32", "bf16": "bf16"}


def gpu_seconds(f, *args, repeats=20):
    return time_gpu(f, repeats, args=args).median


def sm_clock():
    """The SM clock now and its maximum, in MHz, from nvidia-smi ('' where it is missing)."""
    if not shutil.which("nvidia-smi"):
        return ""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=clocks.sm,clocks.max.sm",
                              "--format=csv,noheader,nounits", "-i", "0"],
                             capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.replace(", ", " of ") + " MHz" if out else ""


def torch_reference_rows(a, b, repeats, ref):
    """cuBLAS TF32 and BF16 through torch, on the ladder's own inputs and timed the same way
    (CUDA events): [(name, precision, seconds, normwise error)]. BF16 copies are made before
    the clock."""
    import cupy
    import torch
    ta, tb = torch.from_dlpack(a), torch.from_dlpack(b)

    def error(c):  # against float64 of the FP32 inputs, the answer widened to FP32
        return ref.normwise_error(cupy.from_dlpack(c.float().contiguous()))
    rows = []
    previous = torch.backends.cuda.matmul.allow_tf32
    try:
        torch.backends.cuda.matmul.allow_tf32 = True
        rows.append(("cuBLAS TF32 (torch)", "tf32", gpu_seconds(torch.matmul, ta, tb, repeats=repeats),
                     error(torch.matmul(ta, tb))))
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    a16, b16 = ta.bfloat16(), tb.bfloat16()
    rows.append(("cuBLAS BF16 (torch)", "bf16", gpu_seconds(torch.matmul, a16, b16, repeats=repeats),
                 error(torch.matmul(a16, b16))))
    return rows


def timed_function(name, f, a, b):
    """(function, args) to time for one kernel: the whole call, except for a BF16 rung, whose
    FP32 -> BF16 copies (and tensor maps) are made once, outside the clock."""
    from matmul_ladder.rungs import cuda
    rung = next((r for r in cuda.RUNGS if r.name == name), None)
    if rung is not None and rung.precision == "bf16":
        prepare, compute = cuda.bf16_launcher(rung)
        return compute, prepare(a, b)
    return f, (a, b)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1024,2048,4096,8192")
    p.add_argument("--kernels", default="", help="comma-separated names (default: all)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--out", default=os.path.join("results", "cuda"))
    args = p.parse_args(argv)
    import cupy
    reason = next(k.reason for k in ml.kernels() if k.name == "cupy")
    if reason:
        print(f"no GPU ladder here: {reason}")
        return 1
    os.makedirs(args.out, exist_ok=True)
    info = {k.name: k for k in ml.kernels("matmul")}
    names = [k.name for k in info.values() if k.language == "CUDA"] + ["cupy", "torch_cuda"]
    if args.kernels:
        wanted = args.kernels.split(",")
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            p.error(f"not GPU kernels: {', '.join(unknown)} (choose from {', '.join(names)})")
        names = [n for n in names if n in wanted]
    rng = np.random.default_rng(0)
    results = []   # (n, name, precision, seconds or None, status, normwise error or None)
    clocks = [sm_clock()]
    for n in (int(s) for s in args.sizes.split(",")):
        a = cupy.asarray(rng.standard_normal((n, n), dtype=np.float32))
        b = cupy.asarray(rng.standard_normal((n, n), dtype=np.float32))
        ref = Reference(a, b)
        for name in names:
            precision = info[name].precision or "fp32"
            reason = info[name].reason
            if reason:
                results.append((n, name, precision, None, f"unavailable: {reason}", None))
                continue
            with ml.bind(name) as f:
                c = f(a, b)
                problem = ref.violations(c, info[name].precision)
                error = ref.normwise_error(c)
                del c
                if problem:
                    results.append((n, name, precision, None, f"FAILED: {problem}", error))
                    continue
                g, g_args = timed_function(name, f, a, b)
                results.append((n, name, precision, gpu_seconds(g, *g_args, repeats=args.repeats),
                                "ok", error))
            print(f"  n={n} {name}: {results[-1][3]} s, error {error:.2g}", file=sys.stderr, flush=True)
        if info["torch_cuda"].available:
            results += [(n, name, precision, s, "reference", error)
                        for name, precision, s, error in torch_reference_rows(a, b, args.repeats, ref)]
        del a, b, ref
        cupy.get_default_memory_pool().free_all_blocks()
    clocks.append(sm_clock())
    best = {}   # (n, precision) -> the cuBLAS time that precision races
    for n, name, precision, s, _, _ in results:
        if s and name in ("cupy", "cuBLAS TF32 (torch)", "cuBLAS BF16 (torch)"):
            best[(n, "fp32" if name == "cupy" else precision)] = s
    table = []
    for n, name, precision, s, status, error in results:
        tflops = gflops(matmul_flops(n, n, n), s) / 1e3 if s else None
        fp32 = f"{100 * best[(n, 'fp32')] / s:.0f}%" if s and (n, "fp32") in best else "-"
        races = (n, RACES.get(precision, precision))
        same = f"{100 * best[races] / s:.0f}%" if s and races in best else "-"
        table.append([name, precision, n, f"{s * 1e3:.3f}" if s else "-",
                      f"{tflops:.1f}" if tflops else "-", fp32, same,
                      "-" if error is None else f"{error:.2g}", status])
    header = ["kernel", "inputs", "n", "ms", "TFLOP/s", "% cuBLAS FP32", "% cuBLAS same inputs",
              "error", "status"]
    gpu = machine.gpu_info()
    title = f"GPU ladder on {gpu.get('name')} (CUDA runtime {gpu.get('cuda_runtime')}, CuPy {gpu.get('cupy')})"
    conditions = (f"Inputs N(0, 1), float32; CUDA events, 3 warm-up calls, median of "
                  f"{args.repeats}; L2 warm (same inputs each repeat, no flush). "
                  f"SM clock before / after: {clocks[0] or 'not read'} / {clocks[1] or 'not read'}.")
    print(title)
    print(conditions)
    print(text_table(header, table))
    with open(os.path.join(args.out, "cuda_ladder.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(table)
    with open(os.path.join(args.out, "cuda_ladder.md"), "w") as f:
        f.write(f"# {title}\n\nCommand: `python experiments/cuda_ladder.py {' '.join(argv or sys.argv[1:])}`\n\n")
        f.write(conditions + "\n\n")
        f.write(markdown_table(header, table) + "\n")
    plot(results, os.path.join(args.out, "cuda_ladder.png"), title)
    return 0


def plot(results, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    n = max(r[0] for r in results)
    rows = [(f"{name} [{precision}]", gflops(matmul_flops(n, n, n), s) / 1e3)
            for m, name, precision, s, _, _ in results if m == n and s]
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.barh([r[0] for r in rows], [r[1] for r in rows], color="#37a")
    for i, (_, v) in enumerate(rows):
        ax.text(v, i, f" {v:.1f}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set(xscale="log", xlabel="TFLOP/s (log)", title=f"{title}\nn = {n}, float32 in and out; [inputs rounded to]")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
