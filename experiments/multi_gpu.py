"""SUMMA on several GPUs of one host: torch.distributed with NCCL, one rank per GPU, the local
products on cuBLAS (torch.matmul) or a ladder CUDA rung.

    python experiments/multi_gpu.py --gpus 1,2,4,8 --sizes 32768,65536 --out results/multi_gpu

For each GPU count g it launches `torchrun --standalone --nproc_per_node=g -m matmul_ladder.dist
--backend torch --device cuda ...` in float32 (TF32 off) and bfloat16, with NVLink multicast
off (NCCL_NVLS_ENABLE=0) in every process. Strong-scaling efficiency is one GPU's time with
the same local product over g times the g-GPU time; the broadcast bandwidth (bytes a rank
received over its time waiting for them) is set against one GPU's device-to-device copy.
Every configuration is checked against NumPy first at a small size (--check-size). Writes
multi_gpu.csv and REPORT.md to --out. Without GPUs it says so and stops.
"""
import argparse
import csv
import json
import os
import subprocess
import sys

FIELDS = ["gpus", "grid", "n", "dtype", "kernel", "total_s", "gemm_s", "wait_s", "pack_s",
          "bytes_in", "tflops", "efficiency", "comm_share", "bcast_gb_s", "check"]


def torchrun(gpus, args, timeout):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={gpus}",
           "-m", "matmul_ladder.dist", "--backend", "torch", "--device", "cuda", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                         env={**os.environ, "NCCL_NVLS_ENABLE": "0"})
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not rows:
        errors = [line for line in out.stderr.splitlines() if "error" in line.lower()]
        raise RuntimeError(f"{gpus} GPUs {' '.join(args)}: {errors[-1:] or out.stderr[-300:]}")
    return rows[0]


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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gpus", default="1,2,4,8", help="GPU counts (those above the host's are skipped)")
    p.add_argument("--sizes", default="32768,65536")
    p.add_argument("--dtypes", default="float32,bfloat16")
    p.add_argument("--kernels", default="torch,cuda_3xtf32",
                   help="local products: torch (cuBLAS) and ladder CUDA rungs (float32 only)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--check-size", type=int, default=2048)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--out", default=os.path.join("results", "multi_gpu"))
    args = p.parse_args(argv)
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
    from matmul_ladder.tables import markdown_table
    table = [[r["gpus"], r["grid"], r["n"], r["dtype"], r["kernel"], f"{r['total_s']:.3f}",
              f"{r['tflops']:.1f}", f"{r['efficiency']:.2f}" if r["efficiency"] != "" else "-",
              f"{100 * r['comm_share']:.0f}%",
              f"{r['bcast_gb_s']:.0f}" if r["bcast_gb_s"] != "" else "-", r["check"]] for r in rows]
    with open(os.path.join(args.out, "REPORT.md"), "w") as f:
        f.write(f"# SUMMA on {len(gpus)} GPU counts of {torch.cuda.get_device_name(0)}\n\n"
                f"Command: `python experiments/multi_gpu.py {' '.join(argv if argv is not None else sys.argv[1:])}`\n\n"
                f"One GPU's device-to-device copy: {copy / 1e9:.0f} GB/s (read + write). "
                "Efficiency: one GPU's time over g times the g-GPU time, same local product. "
                "'bcast GB/s': bytes a rank received over its time waiting for them.\n\n")
        f.write(markdown_table(["GPUs", "grid", "n", "dtype", "local product", "s", "TFLOP/s",
                                "efficiency", "waiting", "bcast GB/s", "check"], table) + "\n")
    print(f"wrote {args.out}/multi_gpu.csv and REPORT.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
