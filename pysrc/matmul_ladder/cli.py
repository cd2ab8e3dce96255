"""The command line of the ladder: `matmul-ladder`, `python -m matmul_ladder`, and
experiments/ladder.py all run main().

    matmul-ladder --quick                      # every rung and baseline, < 2 min on 2 cores
    matmul-ladder                              # full ladder at n = 1024 plus a sweep, < 10 min
    matmul-ladder --sizes 64:4096 --dtype float32 --threads 1,2 --shape 1x25600x100
    matmul-ladder --from-csv results/RUN/ladder.csv   # rebuild plots and report only
"""
import argparse
import json
import os
import shlex
import sys
import time

from . import report
from ._threads import cores
from .harness import Config, CsvLog, Harness

QUICK = dict(sizes=[128, 256, 512], budget=2.0, min_time=0.1)
DEFAULT = dict(sizes=[64, 128, 256, 512, 1024, 2048], budget=10.0, min_time=0.5)


def parse_sizes(text):
    """'64,128,256' or a doubling range '64:1024' -> [64, 128, 256, 512, 1024]."""
    sizes = []
    for part in text.split(","):
        if ":" in part:
            lo, hi = (int(x) for x in part.split(":"))
            if lo < 1 or hi < lo:
                raise argparse.ArgumentTypeError(f"bad range {part!r}: want LO:HI with 1 <= LO <= HI")
            n = lo
            while n <= hi:
                sizes.append(n)
                n *= 2
        else:
            sizes.append(int(part))
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError("sizes must be >= 1")
    return sorted(set(sizes))


def parse_shape(text):
    """'MxKxN' (a is M x K, b is K x N) -> (M, N, K)."""
    try:
        m, k, n = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad shape {text!r}: want MxKxN, e.g. 1x25600x100") from None
    if min(m, k, n) < 1:
        raise argparse.ArgumentTypeError(f"bad shape {text!r}: dimensions must be >= 1")
    return (m, n, k)


def parse_threads(text):
    out = set()
    for part in text.split(","):
        out.add(cores() if part.strip() == "all" else int(part))
    if min(out) < 1:
        raise argparse.ArgumentTypeError("thread counts must be >= 1")
    return sorted(out)


def build_parser():
    p = argparse.ArgumentParser(prog="matmul-ladder", description=(
        "Time every matmul kernel of the ladder against NumPy, PyTorch and CuPy; write a CSV, "
        "machine.json, plots and REPORT.md under results/<run>/."))
    p.add_argument("--quick", action="store_true",
                   help=f"small run: sizes {QUICK['sizes']}, budget {QUICK['budget']} s (< 2 min)")
    p.add_argument("--sizes", type=parse_sizes,
                   help="square sizes: '64,256' or doubling range '64:2048' (default "
                        f"{','.join(map(str, DEFAULT['sizes']))})")
    p.add_argument("--shape", type=parse_shape, action="append", default=[],
                   help="extra non-square shape MxKxN (a is MxK, b is KxN); repeatable")
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--threads", type=parse_threads, default=None,
                   help="thread counts for parallel kernels, e.g. '1,2' or '1,all' (default 1,all)")
    p.add_argument("--budget", type=float, help="seconds one call may take before a kernel stops "
                   f"growing (default {DEFAULT['budget']:g}; the course capped runs at 60 s)")
    p.add_argument("--min-time", type=float, help="seconds of repeats per measurement")
    p.add_argument("--kernels", help="comma-separated kernel names (default: all)")
    p.add_argument("--ladder-size", type=int, help="n of the ladder table (default 1024, or the largest)")
    p.add_argument("--tf32", action="store_true", help="let cuBLAS use TF32 (default: true FP32)")
    p.add_argument("--out", help="output folder (default results/<date-time>)")
    p.add_argument("--from-csv", metavar="CSV", help="rebuild plots and REPORT.md from a CSV; no measuring")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def config_from_args(args):
    base = QUICK if args.quick else DEFAULT
    names = [k.strip() for k in args.kernels.split(",")] if args.kernels else None
    return Config(
        sizes=args.sizes or base["sizes"], shapes=args.shape,
        dtypes=["float32", "float64"] if args.dtype == "both" else [args.dtype],
        threads=args.threads or sorted({1, cores()}),
        budget=args.budget if args.budget is not None else base["budget"],
        min_time=args.min_time if args.min_time is not None else base["min_time"],
        kernels=names)


def main(argv=None):
    args = build_parser().parse_args(argv)
    command = "matmul-ladder " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    if args.from_csv:
        path, plots = report.build(args.from_csv, args.out, size=args.ladder_size)
        print(report.console_tables(report.load_csv(args.from_csv), args.ladder_size))
        print(f"\nrebuilt {path} and {', '.join(plots)}")
        return 0
    if args.tf32:
        os.environ["CUPY_TF32"] = "1"
        os.environ["MATMUL_LADDER_TF32"] = "1"
    cfg = config_from_args(args)
    if cfg.kernels:
        from . import _registry
        for name in cfg.kernels:
            _registry.get(name)  # unknown names fail here, before any measuring

    from . import machine
    run_id = time.strftime("%Y%m%d-%H%M%S")
    out_dir = args.out or os.path.join("results", run_id)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "machine.json"), "w") as f:
        json.dump({**machine.describe(), "command": command}, f, indent=2)
    csv_path = os.path.join(out_dir, "ladder.csv")
    log = CsvLog(csv_path)
    harness = Harness(cfg, log=log, run_id=run_id)
    print(f"NumPy's BLAS: {machine.blas_label()}; SIMD micro-kernel: "
          f"{machine.build_info()['simd']['active']}")
    print(f"matmul-ladder: {len(harness.kernels)} kernels, sizes {list(cfg.sizes)}"
          f"{' + ' + str(list(cfg.shapes)) if cfg.shapes else ''}, {', '.join(cfg.dtypes)}, "
          f"threads {list(cfg.threads)}, budget {cfg.budget:g} s/call -> {out_dir}/", flush=True)
    bar = None
    if not args.no_progress:
        from tqdm import tqdm
        bar = tqdm(total=harness.total_rows(), unit="row", file=sys.stderr, dynamic_ncols=True)
        harness.progress = lambda text: (bar.set_description_str(text[:60]), bar.update(1))
    interrupted = False
    try:
        harness.run()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if bar:
            bar.close()
        log.close()
    if interrupted:
        print(f"\ninterrupted: kept the {len(harness.rows)} rows measured so far in {csv_path}")
    if not harness.rows:
        return 130 if interrupted else 1
    report_path, plots = report.build(csv_path, out_dir, size=args.ladder_size, command=command)
    print(report.console_tables(report.load_csv(csv_path), args.ladder_size))
    print(f"\nwrote {csv_path}, {out_dir}/machine.json, {', '.join(plots)} and {report_path}")
    return 130 if interrupted else 0
