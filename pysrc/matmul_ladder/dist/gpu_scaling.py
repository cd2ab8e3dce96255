"""SUMMA's scaling over the GPUs of one host under torchrun (NCCL): rows, CSV, report."""
import csv
import os
import subprocess
import sys

from matmul_ladder.dist.launch import torchrun

FIELDS = ["gpus", "grid", "n", "dtype", "kernel", "total_s", "gemm_s", "wait_s", "pack_s",
          "bytes_in", "tflops", "efficiency", "comm_share", "bcast_gb_s", "check"]


def copy_bandwidth():
    """One GPU's device-to-device copy, bytes read + written per second (CUDA events)."""
    import torch
    x = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    y.copy_(x)
    start.record()
    for _ in range(10):
        y.copy_(x)
    stop.record()
    stop.synchronize()
    return 2 * x.numel() * 10 / (start.elapsed_time(stop) / 1e3)


def run_one(g, dtype, kernel, args, rows):
    """One GPU count, dtype and local product: checked at --check-size, then each size timed.
    A failed launch is reported and skipped; the rows so far are written after each size."""
    common = ["--dtype", dtype, "--kernel", kernel]
    try:
        check = torchrun(g, ["--size", str(args.check_size), "--check", "--repeats", "1", *common],
                         args.timeout)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"  {g} GPUs {dtype} {kernel}: check failed: {e}", file=sys.stderr, flush=True)
        return
    for n in (int(x) for x in args.sizes.split(",")):
        try:
            r = torchrun(g, ["--size", str(n), "--repeats", str(args.repeats), *common], args.timeout)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print(f"  {g} GPUs {dtype} {kernel} n={n}: failed: {e}", file=sys.stderr, flush=True)
            continue
        rows.append({"gpus": g, "grid": r["grid"], "n": n, "dtype": dtype, "kernel": kernel,
                     "total_s": r["total_s"], "gemm_s": r["gemm_s"], "wait_s": r["wait_s"],
                     "pack_s": r["pack_s"], "bytes_in": r["bytes_in"],
                     "tflops": 2.0 * n ** 3 / r["total_s"] / 1e12, "check": check["check"]})
        print(f"  {g} GPUs {dtype} {kernel} n={n}: {r['total_s']:.3f} s, "
              f"{rows[-1]['tflops']:.1f} TFLOP/s, waiting {r['wait_s']:.3f} s",
              file=sys.stderr, flush=True)
        write_csv(rows, args.out)


def write_csv(rows, out):
    """Derived columns against the one-GPU row of the same size, dtype and local product."""
    for r in rows:
        one = next((x for x in rows if x["gpus"] == 1 and x["n"] == r["n"] and x["dtype"] == r["dtype"]
                    and x["kernel"] == r["kernel"]), None)
        r["efficiency"] = one["total_s"] / (r["gpus"] * r["total_s"]) if one else ""
        r["comm_share"] = r["wait_s"] / r["total_s"]
        r["bcast_gb_s"] = r["bytes_in"] / r["wait_s"] / 1e9 if r["wait_s"] > 0 and r["bytes_in"] else ""
    with open(os.path.join(out, "multi_gpu.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)


def run(args, argv):
    """experiments/multi_gpu.py once its options are parsed (gpus, sizes, dtypes, kernels,
    repeats, check_size, timeout, out; argv as given, for the report): 1 without a GPU."""
    try:
        import torch
        count = torch.cuda.device_count()
    except ImportError:
        count = 0
    if count == 0:
        print("multi_gpu: no CUDA GPU visible to PyTorch: nothing to run", file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    gpus = [g for g in (int(x) for x in args.gpus.split(",")) if g <= count]
    copy = copy_bandwidth()
    rows = []
    try:
        for dtype in args.dtypes.split(","):
            for kernel in args.kernels.split(","):
                if dtype == "bfloat16" and kernel != "torch":
                    continue
                for g in gpus:
                    run_one(g, dtype, kernel, args, rows)
    except KeyboardInterrupt:
        print("multi_gpu: interrupted; writing the rows measured so far", file=sys.stderr)
    write_csv(rows, args.out)
    report(rows, args, gpus, copy, torch.cuda.get_device_name(0), argv)
    print(f"wrote {args.out}/multi_gpu.csv and REPORT.md")
    return 0


def report(rows, args, gpus, copy, device_name, argv):
    from matmul_ladder.report.tables import markdown_table
    table = [[r["gpus"], r["grid"], r["n"], r["dtype"], r["kernel"], f"{r['total_s']:.3f}",
              f"{r['tflops']:.1f}", f"{r['efficiency']:.2f}" if r["efficiency"] != "" else "-",
              f"{100 * r['comm_share']:.0f}%",
              f"{r['bcast_gb_s']:.0f}" if r["bcast_gb_s"] != "" else "-", r["check"]] for r in rows]
    with open(os.path.join(args.out, "REPORT.md"), "w") as f:
        f.write(f"# SUMMA on {len(gpus)} GPU counts of {device_name}\n\n"
                f"Command: `python experiments/multi_gpu.py {' '.join(argv if argv is not None else sys.argv[1:])}`\n\n"
                f"One GPU's device-to-device copy: {copy / 1e9:.0f} GB/s (read + write). "
                "Efficiency: one GPU's time over g times the g-GPU time, same local product. "
                "'bcast GB/s': bytes a rank received over its time waiting for them.\n\n")
        f.write(markdown_table(["GPUs", "grid", "n", "dtype", "local product", "s", "TFLOP/s",
                                "efficiency", "waiting", "bcast GB/s", "check"], table) + "\n")
