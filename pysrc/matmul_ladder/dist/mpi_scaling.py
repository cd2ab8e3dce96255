"""SUMMA's strong and weak scaling under mpiexec, beside one process and ScaLAPACK: runs, report."""
import csv
import os
import sys
import time

import numpy as np

from matmul_ladder.dist.launch import mpi_run, scalapack_launcher, scalapack_run

FIELDS = ["scaling", "kernel", "ranks", "grid", "threads_per_rank", "n", "dtype", "total_s",
          "gemm_s", "wait_s", "pack_s", "bytes_in", "model_bytes", "gflops", "gflops_per_rank",
          "check"]


def one_process(kernel, n, dtype, threads, repeats):
    """Seconds (median) of kernel on all the given threads in this process, checked first."""
    from matmul_ladder import api as _api
    from matmul_ladder.bench.check import Reference
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, (n, n)).astype(dtype), rng.uniform(-1, 1, (n, n)).astype(dtype)
    with _api.bind(kernel, threads=threads) as f:
        problem = Reference(a, b).violations(f(a, b)) if n <= 4096 else ""
        if problem:
            raise RuntimeError(f"{kernel} failed its check: {problem}")
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            f(a, b)
            times.append(time.perf_counter() - t)
    return float(np.median(times))


def measure(args, cores):
    """The rows: for each kernel and rank count, strong (args.n) and weak (args.block sqrt(P))
    scaling and the one-process time; then ScaLAPACK's PDGEMM on the strong grids where it
    loads (float64). args: ranks, n, block, weak_threads, dtype, kernels, repeats, pieces,
    check_max, timeout, as experiments/dist_ladder.py's options."""
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
    return rows


def run(args, argv):
    """experiments/dist_ladder.py once its options are parsed (argv: as given, for the
    report's command line): the rows, the ping-pong, dist.csv, REPORT.md and the plots."""
    cores = os.cpu_count() or 1
    os.makedirs(args.out, exist_ok=True)
    rows = measure(args, cores)
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
    from matmul_ladder.bench import machine
    from matmul_ladder.report.tables import markdown_table
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
