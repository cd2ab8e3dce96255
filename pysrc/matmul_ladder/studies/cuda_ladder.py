"""The GPU ladder: every hand-written CUDA rung against cuBLAS, timed with CUDA events."""
import csv
import os
import shutil
import subprocess
import sys

import numpy as np

import matmul_ladder as ml
from matmul_ladder.bench import machine
from matmul_ladder.bench.check import Reference
from matmul_ladder.bench.timing import gflops, matmul_flops, time_gpu
from matmul_ladder.report.tables import markdown_table, text_table

# precision -> the cuBLAS it races in the "% cuBLAS same inputs" column: 3xtf32 is built to
# deliver FP32's accuracy, so it is held to cuBLAS FP32, not to TF32
RACES = {"fp32": "fp32", "3xtf32": "fp32", "tf32": "tf32", "bf16": "bf16"}
CUBLAS = ("cupy", "cuBLAS TF32 (torch)", "cuBLAS BF16 (torch)")
HEADER = ["kernel", "inputs", "n", "ms", "TFLOP/s", "% cuBLAS FP32", "% cuBLAS same inputs",
          "error", "status"]


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


def unavailable():
    """Why there is no GPU ladder here ('' where there is one)."""
    return next(k.reason for k in ml.kernels() if k.name == "cupy")


def gpu_names(chosen=None):
    """The GPU kernels in ladder order (the CUDA rungs, then cupy and torch_cuda), or those of
    `chosen`; raises ValueError naming any that is not one of them."""
    names = [k.name for k in ml.kernels("matmul") if k.language == "CUDA"] + ["cupy", "torch_cuda"]
    if chosen:
        unknown = sorted(set(chosen) - set(names))
        if unknown:
            raise ValueError(f"not GPU kernels: {', '.join(unknown)} (choose from {', '.join(names)})")
        names = [n for n in names if n in chosen]
    return names


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
    """(function, args) to time for one kernel: the whole call, except for a rung fed by TMA,
    whose tensor maps (and for BF16 the FP32 -> BF16 copies) are made once, outside the
    clock; cuda.tma_launcher says what stays inside it (for TF32, B's transpose)."""
    from matmul_ladder.rungs import cuda
    rung = next((r for r in cuda.RUNGS if r.name == name), None)
    if rung is not None and rung.tma:
        prepare, compute = cuda.tma_launcher(rung)
        return compute, prepare(a, b)
    return f, (a, b)


def measure(sizes, names, repeats):
    """[(n, name, precision, seconds or None, status, normwise error or None)]: every kernel
    checked against float64, then timed; cuBLAS TF32 and BF16 (torch) where torch has CUDA."""
    import cupy
    info = {k.name: k for k in ml.kernels("matmul")}
    rng = np.random.default_rng(0)
    results = []
    for n in sizes:
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
                results.append((n, name, precision, gpu_seconds(g, *g_args, repeats=repeats),
                                "ok", error))
            print(f"  n={n} {name}: {results[-1][3]} s, error {error:.2g}", file=sys.stderr, flush=True)
        if info["torch_cuda"].available:
            results += [(n, name, precision, s, "reference", error)
                        for name, precision, s, error in torch_reference_rows(a, b, repeats, ref)]
        del a, b, ref
        cupy.get_default_memory_pool().free_all_blocks()
    return results


def table(results):
    """The rows of the ladder table: each kernel's time set against the cuBLAS it races."""
    best = {}   # (n, precision) -> the cuBLAS time that precision races
    for n, name, precision, s, _, _ in results:
        if s and name in CUBLAS:
            best[(n, "fp32" if name == "cupy" else precision)] = s
    rows = []
    for n, name, precision, s, status, error in results:
        tflops = gflops(matmul_flops(n, n, n), s) / 1e3 if s else None
        fp32 = f"{100 * best[(n, 'fp32')] / s:.0f}%" if s and (n, "fp32") in best else "-"
        races = (n, RACES.get(precision, precision))
        same = f"{100 * best[races] / s:.0f}%" if s and races in best else "-"
        rows.append([name, precision, n, f"{s * 1e3:.3f}" if s else "-",
                     f"{tflops:.1f}" if tflops else "-", fp32, same,
                     "-" if error is None else f"{error:.2g}", status])
    return rows


def write(out, results, rows, repeats, clocks, command):
    """Print the title, conditions and table; write cuda_ladder.csv, .md and .png to out."""
    gpu = machine.gpu_info()
    title = f"GPU ladder on {gpu.get('name')} (CUDA runtime {gpu.get('cuda_runtime')}, CuPy {gpu.get('cupy')})"
    conditions = (f"Inputs N(0, 1), float32; CUDA events, 3 warm-up calls, median of "
                  f"{repeats}; L2 warm (same inputs each repeat, no flush). "
                  f"SM clock before / after: {clocks[0] or 'not read'} / {clocks[1] or 'not read'}.")
    print(title)
    print(conditions)
    print(text_table(HEADER, rows))
    with open(os.path.join(out, "cuda_ladder.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    with open(os.path.join(out, "cuda_ladder.md"), "w") as f:
        f.write(f"# {title}\n\nCommand: `{command}`\n\n")
        f.write(conditions + "\n\n")
        f.write(markdown_table(HEADER, rows) + "\n")
    plot(results, os.path.join(out, "cuda_ladder.png"), title)


def run(sizes, names, repeats, out, command):
    """The whole study: measure, print, write; prints the folder it wrote."""
    os.makedirs(out, exist_ok=True)
    clocks = [sm_clock()]
    results = measure(sizes, names, repeats)
    clocks.append(sm_clock())
    write(out, results, table(results), repeats, clocks, command)
    print(f"\nwrote {out}/")
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
    # the title's parts on lines of their own: one long line runs off the figure
    gpu, _, versions = title.partition(" (")
    ax.set_xscale("log")
    ax.set_xlabel("TFLOP/s (log)")
    ax.set_title(f"{gpu}\n({versions}\nn = {n}, float32 in and out; [the precision inputs are "
                 "rounded to]", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
