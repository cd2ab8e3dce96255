"""The MPI rung's measurements: SUMMA (matmul_ladder.dist) under mpiexec, strong and weak
scaling, against c_omp and NumPy on the same cores in one process.

    python experiments/dist_ladder.py --out results/dist                  # this machine
    python experiments/dist_ladder.py --ranks 1,2,4,8,16 --n 8192 --block 2048 --out ...

For each rank count P it launches `mpiexec -n P python -m matmul_ladder.dist` with the cores
shared out (threads per rank = cores / P), once with a fixed n (strong scaling) and once with
n = block sqrt(P) (weak scaling: about a block x block block of each matrix per rank and
--weak-threads threads per rank, so the machine used grows with P and the work per rank as
sqrt(P); weak efficiency is GFLOP/s per rank against P = 1). Every
product is checked against NumPy on rank 0 before the timed runs count (--check), at the
strong size only where it is small enough (--check-max).

Where the system has ScaLAPACK (Debian: libscalapack-mpich2.2, launched with mpiexec.mpich),
its PDGEMM runs on the same grids as the strong-scaling rows, float64 only, as the baseline
a distributed GEMM is measured against (matmul_ladder.scalapack).

Times are the maximum over ranks, split into the local products (gemm), waiting for the
panel broadcasts (wait) and copying A's panels (pack). Bytes received per rank are set
against the 2 n^2 / sqrt(P) model, and bytes per second of waiting against a ping-pong
between two ranks. Writes dist.csv, REPORT.md, dist_strong.png and dist_weak.png to --out.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time

import numpy as np

import matmul_ladder as ml
from matmul_ladder import machine
from matmul_ladder.check import Reference
from matmul_ladder.dist import mpiexec
from matmul_ladder.tables import markdown_table

FIELDS = ["scaling", "kernel", "ranks", "grid", "threads_per_rank", "n", "dtype", "total_s",
          "gemm_s", "wait_s", "pack_s", "bytes_in", "model_bytes", "gflops", "gflops_per_rank",
          "check"]


def mpi_run(ranks, args, timeout):
    cmd = [mpiexec(), "-n", str(ranks), sys.executable, "-m", "matmul_ladder.dist",
           *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "OMP_NUM_THREADS": args[args.index("--threads") + 1]
                              if "--threads" in args else "1"})
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])}: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def scalapack_launcher():
    """The mpiexec of ScaLAPACK's MPI where the library loads here, else None."""
    import shutil
    from matmul_ladder import scalapack
    launcher = shutil.which("mpiexec.mpich")
    try:
        scalapack.load()
    except OSError:
        return None
    return launcher


def scalapack_run(launcher, ranks, grid, n, threads, repeats, check, timeout):
    cmd = [launcher, "-n", str(ranks), sys.executable, "-m", "matmul_ladder.scalapack", "--n", str(n),
           "--grid", grid, "--threads", str(threads), "--repeats", str(repeats)] + (["--check"] if check else [])
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])}: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def one_process(kernel, n, dtype, threads, repeats):
    """Seconds (median) of kernel on all the given threads in this process, checked first."""
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, (n, n)).astype(dtype), rng.uniform(-1, 1, (n, n)).astype(dtype)
    with ml.bind(kernel, threads=threads) as f:
        problem = Reference(a, b).violations(f(a, b)) if n <= 4096 else ""
        if problem:
            raise RuntimeError(f"{kernel} failed its check: {problem}")
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            f(a, b)
            times.append(time.perf_counter() - t)
    return float(np.median(times))


def main(argv=None):
    cores = os.cpu_count() or 1
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", default=",".join(str(r) for r in (1, 2, 4, 8, 16) if r <= cores),
                   help="rank counts (default: powers of two up to the cores)")
    p.add_argument("--n", type=int, default=2048, help="strong scaling size (default 2048)")
    p.add_argument("--block", type=int, default=1024, help="weak scaling block (default 1024)")
    p.add_argument("--weak-threads", type=int, default=1, help="threads per rank, weak scaling")
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--kernels", default="c_omp,numpy", help="local products (default c_omp,numpy)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--pieces", type=int, default=4, help="row slices of each local product")
    p.add_argument("--check-max", type=int, default=4096, help="check sizes up to this n")
    p.add_argument("--timeout", type=float, default=600, help="seconds per mpiexec run")
    p.add_argument("--out", default=os.path.join("results", "dist"))
    args = p.parse_args(argv)
    if mpiexec() is None:
        print("dist_ladder: error: no mpiexec: pip install -e '.[mpi]' (mpi4py and MPICH)", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    ranks = [int(r) for r in args.ranks.split(",")]
    itemsize = np.dtype(args.dtype).itemsize
    rows = []

    def record(scaling, kernel, r, result, threads):
        n = result["n"]
        pr, pc = (int(x) for x in result["grid"].split("x"))
        # what one rank receives with blocks of equal size: the A panels of its grid row and
        # the B panels of its grid column that it does not own (2 n^2 / sqrt(P) (1 - 1 / sqrt(P))
        # elements on a square grid)
        model = (n * n / pr * (1 - 1 / pc) + n * n / pc * (1 - 1 / pr)) * itemsize
        gf = 2.0 * n ** 3 / result["total_s"] / 1e9
        rows.append({"scaling": scaling, "kernel": kernel, "ranks": r, "grid": result["grid"],
                     "threads_per_rank": threads, "n": n, "dtype": args.dtype,
                     "total_s": result["total_s"], "gemm_s": result["gemm_s"],
                     "wait_s": result["wait_s"], "pack_s": result["pack_s"],
                     "bytes_in": result["bytes_in"],
                     "model_bytes": int(model),
                     "gflops": gf, "gflops_per_rank": gf / r, "check": result["check"]})
        print(f"  {scaling:6s} {kernel:6s} P={r:2d} ({result['grid']}, {threads} t/rank) "
              f"n={n}: {result['total_s']:.3f} s, {gf:.1f} GFLOP/s, wait {result['wait_s']:.3f} s",
              file=sys.stderr, flush=True)

    for kernel in args.kernels.split(","):
        for r in ranks:
            threads = max(1, cores // r)
            common = ["--kernel", kernel, "--threads", str(threads), "--dtype", args.dtype,
                      "--repeats", str(args.repeats), "--pieces", str(args.pieces)]
            check = ["--check"] if args.n <= args.check_max else []
            record("strong", kernel, r, mpi_run(r, ["--n", str(args.n), *common, *check], args.timeout), threads)
            n_weak = int(round(args.block * r ** 0.5))
            check = ["--check"] if n_weak <= args.check_max else []
            weak = ["--kernel", kernel, "--threads", str(args.weak_threads), "--dtype", args.dtype,
                    "--repeats", str(args.repeats), "--pieces", str(args.pieces)]
            record("weak", kernel, r, mpi_run(r, ["--block", str(args.block), *weak, *check], args.timeout),
                   args.weak_threads)
        t = one_process(kernel, args.n, args.dtype, cores, args.repeats)
        rows.append({"scaling": "one process", "kernel": kernel, "ranks": 1, "grid": "-",
                     "threads_per_rank": cores, "n": args.n, "dtype": args.dtype, "total_s": t,
                     "gemm_s": t, "wait_s": 0, "pack_s": 0, "bytes_in": 0, "model_bytes": 0,
                     "gflops": 2.0 * args.n ** 3 / t / 1e9,
                     "gflops_per_rank": 2.0 * args.n ** 3 / t / 1e9, "check": "ok"})
    launcher = scalapack_launcher() if args.dtype == "float64" else None
    if launcher:
        grids = {r["ranks"]: r["grid"] for r in rows if r["scaling"] == "strong"}
        for r in ranks:
            threads = max(1, cores // r)
            res = scalapack_run(launcher, r, grids[r], args.n, threads, args.repeats,
                                args.n <= args.check_max, args.timeout)
            gf = 2.0 * args.n ** 3 / res["total_s"] / 1e9
            rows.append({"scaling": "strong", "kernel": "scalapack", "ranks": r, "grid": res["grid"],
                         "threads_per_rank": threads, "n": args.n, "dtype": args.dtype,
                         "total_s": res["total_s"], "gemm_s": 0, "wait_s": 0, "pack_s": 0,
                         "bytes_in": 0, "model_bytes": 0, "gflops": gf, "gflops_per_rank": gf / r,
                         "check": res["check"]})
            print(f"  strong scalapack P={r:2d} ({res['grid']}, {threads} t/rank) n={args.n}: "
                  f"{res['total_s']:.3f} s, {gf:.1f} GFLOP/s", file=sys.stderr, flush=True)
    else:
        print("  ScaLAPACK PDGEMM: not run (" + ("float64 only" if args.dtype != "float64" else
              "no ScaLAPACK here: apt install libscalapack-mpich2.2 mpich libopenblas0") + ")",
              file=sys.stderr)
    pingpong = mpi_run(2, ["--pingpong"], args.timeout)["pingpong_bytes_per_s"]
    with open(os.path.join(args.out, "dist.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    report(rows, args, cores, pingpong, argv)
    plot(rows, args)
    print(f"wrote {args.out}/dist.csv, REPORT.md, dist_strong.png, dist_weak.png")
    return 0


def report(rows, args, cores, pingpong, argv):
    cpu = machine.describe().get("cpu", {})
    lines = [f"# SUMMA over MPI on {cpu.get('model', 'this CPU')} ({cores} cores)", "",
             f"Command: `python experiments/dist_ladder.py {' '.join(argv if argv is not None else sys.argv[1:])}`", "",
             f"{args.dtype}; times are medians of {args.repeats} runs, each the maximum over "
             f"ranks. Ping-pong between two ranks: {pingpong / 1e9:.2f} GB/s one way.", ""]
    for scaling in ("strong", "weak"):
        lines += [f"## {scaling.capitalize()} scaling" + (f" (n = {args.n})" if scaling == "strong"
                                                         else f" (n = {args.block} sqrt(P))"), ""]
        header = ["kernel", "P", "grid", "threads/rank", "n", "total s", "gemm s", "wait s",
                  "pack s", "comm %", "GFLOP/s", "per rank", "efficiency", "MB in / model",
                  "GB/s waiting", "check"]
        table = []
        kernels = args.kernels.split(",") + (["scalapack"] if scaling == "strong" else [])
        for kernel in kernels:
            mine = [r for r in rows if r["scaling"] == scaling and r["kernel"] == kernel]
            if not mine:
                continue
            base = next((r for r in mine if r["ranks"] == 1), None)
            single = next((r for r in rows if r["scaling"] == "one process" and r["kernel"] == kernel), None)
            for r in mine:
                if scaling == "strong":
                    single = single or next((x for x in rows if x["scaling"] == "one process"
                                             and x["kernel"] == "numpy"), None)
                    eff = single["total_s"] / r["total_s"] if single else None
                else:
                    eff = r["gflops_per_rank"] / base["gflops_per_rank"] if base else None
                bw = r["bytes_in"] / r["wait_s"] / 1e9 if r["wait_s"] > 0 and r["bytes_in"] else None
                split = ([f"{r['gemm_s']:.3f}", f"{r['wait_s']:.3f}", f"{r['pack_s']:.3f}",
                          f"{100 * r['wait_s'] / r['total_s']:.0f}%"] if kernel != "scalapack"
                         else ["-"] * 4)   # PDGEMM is timed whole
                moved = (f"{r['bytes_in'] / 1e6:.1f} / {r['model_bytes'] / 1e6:.1f}"
                         if kernel != "scalapack" else "-")
                table.append([kernel, r["ranks"], r["grid"], r["threads_per_rank"], r["n"],
                              f"{r['total_s']:.3f}", *split,
                              f"{r['gflops']:.1f}", f"{r['gflops_per_rank']:.1f}",
                              f"{eff:.2f}" if eff else "-", moved,
                              f"{bw:.2f}" if bw else "-", r["check"] or "-"])
            if scaling == "strong" and single and kernel != "scalapack":
                table.append([kernel, 1, "one process", single["threads_per_rank"], single["n"],
                              f"{single['total_s']:.3f}", "-", "-", "-", "-",
                              f"{single['gflops']:.1f}", "-", "1.00", "-", "-", "ok"])
        lines += [markdown_table(header, table), ""]
    lines += ["Efficiency: strong, the one-process time of the same kernel on all cores over "
              "SUMMA's time (1.00 = no loss; for ScaLAPACK's PDGEMM, NumPy's one-process time, "
              "its local products being the system OpenBLAS's); weak, GFLOP/s per rank against P = 1. "
              "'MB in / model': bytes one rank received against the panels it does not own, "
              "2 n^2 / sqrt(P) (1 - 1 / sqrt(P)) elements on a square grid. "
              "'GB/s waiting': those bytes over the time spent waiting, an upper bound on the "
              "bandwidth the broadcasts needed, to set against the ping-pong.", "",
              "![strong](dist_strong.png)", "![weak](dist_weak.png)", ""]
    with open(os.path.join(args.out, "REPORT.md"), "w") as f:
        f.write("\n".join(lines))


def plot(rows, args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    for scaling in ("strong", "weak"):
        fig, ax = plt.subplots(figsize=(8, 4.5))
        labels, gemm, wait, pack = [], [], [], []
        for r in rows:
            if r["scaling"] != scaling:
                continue
            labels.append(f"{r['kernel']}\nP={r['ranks']}")
            gemm.append(r["gemm_s"])
            wait.append(r["wait_s"])
            pack.append(r["pack_s"])
        x = np.arange(len(labels))
        ax.bar(x, gemm, label="local products")
        ax.bar(x, wait, bottom=gemm, label="waiting for broadcasts")
        ax.bar(x, pack, bottom=np.add(gemm, wait), label="packing")
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_ylabel("seconds (max over ranks)")
        ax.set_title(f"SUMMA, {scaling} scaling, {args.dtype}" +
                     (f", n = {args.n}" if scaling == "strong" else f", n = {args.block} sqrt(P)"))
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, f"dist_{scaling}.png"), dpi=110)
        plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
