"""The 3x3 convolution ladder's command line: every conv2d kernel, checked, then timed, N by N.

    matmul-ladder conv --quick        # N = 256-2048, < 3 min on 2 cores
    matmul-ladder conv                # N = 256-16384: the course's sizes, and past the L3
    python experiments/conv_ladder.py --sizes 1024,8192 --dtype float32 --threads 1,2

The measuring is the one engine of both ladders (bench/engine.py) with the convolution's
workload (bench/conv_workload.py: inputs, chunked float64 checker, bytes counted, roofs, CSV
columns); the report is bench/conv_report.py. A kernel stops growing once one call would pass
the budget (its last time scaled by N^2). Every row goes to conv.csv as it is measured, so
Ctrl-C keeps them; REPORT.md and the plots are built from the CSV.
"""
import json
import os
import shlex
import sys
import time

from matmul_ladder.rungs import registry as _registry
from matmul_ladder.rungs.threads import cores
from matmul_ladder.bench.conv_workload import (  # noqa: F401 (the names this module had)
    CHECK_ROWS, COLUMNS, DEFAULT, FLOPS_PER_OUTPUT, QUICK, Checker, ConvConfig, ConvHarness,
    ConvWorkload, bytes_per_output, counted_bytes)
from matmul_ladder.bench.conv_report import (  # noqa: F401
    exponent, label, load_csv, ok_rows, plot_all, report, roofs_from_rows, series, series_keys,
    table)
from matmul_ladder.bench.check import correlate3x3_valid  # noqa: F401
from matmul_ladder.report.ladder import read_status, write_status
from matmul_ladder.bench.roofs import gpu_copy_bandwidth, measure_roofs  # noqa: F401
from matmul_ladder.bench.machine import memory_bytes as _memory_bytes
from matmul_ladder.cli.args import Parser, UsageError, _seconds, parse_sizes, parse_threads
from matmul_ladder.cli.progress import run_with_progress

__all__ = ["CHECK_ROWS", "COLUMNS", "DEFAULT", "FLOPS_PER_OUTPUT", "QUICK", "Checker", "ConvConfig",
           "ConvHarness", "ConvWorkload", "bytes_per_output", "counted_bytes", "exponent", "label",
           "load_csv", "ok_rows", "plot_all", "report", "roofs_from_rows", "series",
           "series_keys", "table", "correlate3x3_valid", "gpu_copy_bandwidth", "measure_roofs",
           "build_parser", "check_args", "main", "run"]


# ---- command line -----------------------------------------------------------------------
def build_parser(prog):
    p = Parser(prog=prog, description=(
        "Time every 3x3 convolution kernel against SciPy, NumPy, PyTorch and CuPy; write "
        "conv.csv, machine.json, plots and REPORT.md under results/conv-<run>/."))
    p.add_argument("--quick", action="store_true",
                   help=f"sizes {QUICK['sizes']}, budget {QUICK['budget']:g} s (< 3 min)")
    p.add_argument("--sizes", type=parse_sizes, help="image sizes N (N x N): '256,4096' or "
                   f"'256:16384' (default {','.join(map(str, DEFAULT['sizes']))})")
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--threads", type=parse_threads, help="thread counts, e.g. '1,all'")
    p.add_argument("--budget", type=_seconds("--budget", False),
                   help=f"seconds one call may take (default {DEFAULT['budget']:g}, the course's cap)")
    p.add_argument("--min-time", type=_seconds("--min-time", True), help="seconds of repeats")
    p.add_argument("--kernels", help="comma-separated conv kernel names (default: all)")
    p.add_argument("--out", help="output folder, new or empty (default results/conv-<date-time>)")
    p.add_argument("--from-csv", metavar="CSV", help="rebuild plots and REPORT.md from a conv.csv "
                   "(into --out, default the CSV's folder); no measuring")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--print-report", action="store_true",
                   help="print REPORT.md at the end (default: the folder written)")
    return p


def check_args(args):
    if args.from_csv:
        given = [o for o in ("quick", "sizes", "threads", "budget", "min_time", "kernels")
                 if getattr(args, o) not in (None, False)]
        if given or args.dtype != "both":
            raise UsageError("--from-csv rebuilds a report without measuring; it takes only --out")
        try:
            rows = load_csv(args.from_csv)
        except FileNotFoundError:
            raise UsageError(f"--from-csv: no such file: {args.from_csv}") from None
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
            raise UsageError(f"--from-csv: {args.from_csv} is not a conv.csv ({exc})") from None
        if not rows:
            raise UsageError(f"--from-csv: {args.from_csv} holds no rows")
        return
    if args.kernels is not None:
        names = [k.strip() for k in args.kernels.split(",") if k.strip()]
        known = _registry.names("conv2d")
        unknown = [n for n in names if n not in known]
        if not names or unknown:
            raise UsageError(f"--kernels: unknown conv kernel {', '.join(map(repr, unknown))}; "
                             f"choose from: {', '.join(known)}")
    sizes = args.sizes or (QUICK if args.quick else DEFAULT)["sizes"]
    if min(sizes) < 3:
        raise UsageError("--sizes: images must be at least 3 x 3")
    itemsize = 4 if args.dtype == "float32" else 8
    memory = _memory_bytes()
    need = 4 * itemsize * max(sizes) ** 2  # image, output, and a baseline's temporaries
    if memory and need > memory:
        raise UsageError(f"N = {max(sizes)} needs about {need / 2**30:.1f} GiB, more than this "
                         f"machine's {memory / 2**30:.1f} GiB")
    if args.out is not None:
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise UsageError(f"--out: {args.out} exists and is not a folder")
        if os.path.isdir(args.out) and os.listdir(args.out):
            raise UsageError(f"--out: {args.out} is not empty; choose a new folder")


def main(argv=None, prog="matmul-ladder conv"):
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(prog).parse_args(argv)
        check_args(args)
    except UsageError as exc:
        print(f"{prog}: error: {exc} (see {prog} --help)", file=sys.stderr)
        return 2
    base = QUICK if args.quick else DEFAULT
    cfg = ConvConfig(sizes=args.sizes or base["sizes"],
                     dtypes=["float32", "float64"] if args.dtype == "both" else [args.dtype],
                     threads=args.threads or sorted({1, cores()}),
                     budget=args.budget if args.budget is not None else base["budget"],
                     min_time=args.min_time if args.min_time is not None else base["min_time"],
                     kernels=[k.strip() for k in args.kernels.split(",") if k.strip()]
                     if args.kernels else None)
    command = f"{prog} " + " ".join(shlex.quote(a) for a in argv)
    try:
        if args.from_csv:
            rows = load_csv(args.from_csv)
            out_dir = args.out or os.path.dirname(os.path.abspath(args.from_csv))
            os.makedirs(out_dir, exist_ok=True)
            path, plots = report(rows, out_dir, roofs_from_rows(rows),
                                 status=read_status(args.from_csv))
            print(f"rebuilt {path} and {', '.join(plots)}")
            return 0
        return run(cfg, args, command)
    except OSError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1


def run(cfg, args, command):
    from matmul_ladder.bench import machine
    run_id = time.strftime("%Y%m%d-%H%M%S")
    out_dir = args.out or os.path.join("results", f"conv-{run_id}")
    os.makedirs(out_dir, exist_ok=True)
    csv_path = os.path.join(out_dir, "conv.csv")
    from matmul_ladder.bench.engine import CsvLog
    log = CsvLog(csv_path, COLUMNS)
    harness = ConvHarness(cfg, log=log, run_id=run_id)
    write_status(out_dir, state="running", run=run_id, command=command,
                 started=time.strftime("%Y-%m-%dT%H:%M:%S%z"), planned_rows=harness.total_rows(),
                 sizes=list(cfg.sizes), dtypes=list(cfg.dtypes), threads=list(cfg.threads),
                 kernels=[k.name for k in harness.kernels])
    print(f"{command}: {len(harness.kernels)} kernels, N = {list(cfg.sizes)}, "
          f"{', '.join(cfg.dtypes)}, threads {list(cfg.threads)}, budget {cfg.budget:g} s/call "
          f"-> {out_dir}/", flush=True)
    interrupted = run_with_progress(harness, log, not args.no_progress)
    roofs = harness.roofs
    with open(os.path.join(out_dir, "machine.json"), "w") as f:
        json.dump({**machine.describe(), "command": command,
                   "roofs": {"triad_gb_s": roofs["triad"], "gpu_copy_gb_s": roofs["copy_gpu"],
                             "fma_gflops": {f"{d} {t}t": g for (d, t), g in roofs["fma"].items()}}},
                  f, indent=2, default=str)
    status = write_status(out_dir, state="interrupted" if interrupted else "complete",
                          why=interrupted, rows=len(harness.rows),
                          ended=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    if interrupted:
        print(f"\ninterrupted: kept the {len(harness.rows)} rows measured so far in {csv_path}")
    if not harness.rows:
        return 130 if interrupted else 1
    path, plots = report(load_csv(csv_path), out_dir, roofs, command, read_status(status))
    if getattr(args, "print_report", False):
        with open(path) as f:
            print(f.read())
    print(f"wrote {csv_path}, {out_dir}/machine.json, {status}, {', '.join(plots)} and {path}")
    return 130 if interrupted else 0
