"""The command line of the ladder: `matmul-ladder`, `python -m matmul_ladder`, and
experiments/ladder.py all run main().

    matmul-ladder --quick                      # every rung and baseline, < 2 min on 2 cores
    matmul-ladder                              # full ladder at n = 1024 plus a sweep, < 10 min
    matmul-ladder --sizes 64:4096 --dtype float32 --threads 1,2 --shape 1x25600x100
    matmul-ladder --from-csv results/RUN/ladder.csv   # rebuild plots and report only
    matmul-ladder tune                         # search blocking sizes for this machine (< 2 min)
    matmul-ladder conv --quick                 # the 3x3 convolution ladder (conv_ladder.py)
    matmul-ladder list --operation all         # the kernels, and why any does not run here
    matmul-ladder why --quick | dist | try K.c # explain.why, dist's SUMMA, your own kernel

The subcommands other than the ladder live in cli/subcommands.py (the dispatch), cli/tune.py
and cli/kernel_list.py; cli/hints.py answers a mistyped name with the closest ones.

Every option is checked before anything is measured: a bad one ends the command with a
one-line message on stderr and exit status 2, never a traceback.
"""
import json
import os
import shlex
import sys
import time

from matmul_ladder.report import ladder as report
from matmul_ladder.api import KernelUnavailableError
from matmul_ladder.rungs.threads import cores
from matmul_ladder.bench.engine import Config, CsvLog, Harness
from matmul_ladder.bench.machine import memory_bytes as _memory_bytes
from matmul_ladder.cli.args import (PROG, HelpFormatter, Parser, UsageError,  # noqa: F401
                                    _int, _positive_int, _seconds, parse_shape, parse_sizes,
                                    parse_threads)
from matmul_ladder.cli.hints import unknown_kernels, warn_threads
from matmul_ladder.cli.progress import Terminated, run_with_progress  # noqa: F401

QUICK = dict(sizes=[128, 256, 512], budget=2.0, min_time=0.1)
DEFAULT = dict(sizes=[64, 128, 256, 512, 1024, 2048], budget=10.0, min_time=0.5)
def build_parser():
    from matmul_ladder.cli.subcommands import epilog
    p = Parser(prog=PROG, formatter_class=HelpFormatter, epilog=epilog(PROG), description=(
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
    p.add_argument("--budget", type=_seconds("--budget", False),
                   help=f"seconds one call may take before a kernel stops growing (default "
                        f"{DEFAULT['budget']:g}; the course capped runs at 60 s)")
    p.add_argument("--min-time", type=_seconds("--min-time", True),
                   help="seconds of repeats per measurement")
    p.add_argument("--kernels", help="comma-separated kernel names (default: all)")
    p.add_argument("--ladder-size", type=_positive_int,
                   help="n of the ladder table (default 1024, or the largest)")
    p.add_argument("--tf32", action="store_true", help="let cuBLAS use TF32 (default: true FP32)")
    p.add_argument("--out", help="output folder, new or empty (default results/<date-time>)")
    p.add_argument("--from-csv", metavar="CSV", help="rebuild plots and REPORT.md from a CSV; no measuring")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--print-report", action="store_true",
                   help="print REPORT.md at the end (default: the tables and the folder written)")
    return p


MEASURING_OPTIONS = ("quick", "sizes", "shape", "threads", "budget", "min_time", "kernels", "tf32")


def kernel_names(args):
    """The names given to --kernels, or [] where it was not given."""
    return [k.strip() for k in (args.kernels or "").split(",") if k.strip()]


def check_args(args):
    """Raise UsageError for any option outside its domain, before anything is measured."""
    if args.from_csv:
        given = [f"--{o.replace('_', '-')}" for o in MEASURING_OPTIONS
                 if getattr(args, o) not in (None, False, [])]
        if given or args.dtype != "both":
            given += ["--dtype"] if args.dtype != "both" else []
            raise UsageError(f"--from-csv rebuilds a report without measuring; it takes only "
                             f"--out and --ladder-size, not {', '.join(given)}")
        if not os.path.isfile(args.from_csv):
            raise UsageError(f"--from-csv: no such file: {args.from_csv}")
        try:
            rows = report.load_csv(args.from_csv)
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
            raise UsageError(f"--from-csv: {args.from_csv} is not a ladder CSV ({exc})") from None
        if not rows:
            raise UsageError(f"--from-csv: {args.from_csv} holds no rows")
        sizes = sorted({r["N"] for r in rows if r["M"] == r["N"] == r["K"]})
    else:
        base = QUICK if args.quick else DEFAULT
        sizes = args.sizes or base["sizes"]
        if args.kernels is not None:
            from matmul_ladder.rungs import registry as _registry
            names = kernel_names(args)
            if not names:
                raise UsageError("--kernels: give at least one kernel name")
            known = _registry.names("matmul")
            unknown = unknown_kernels(names, "matmul")
            if unknown:
                raise UsageError(f"--kernels: unknown kernel {unknown}; "
                                 f"choose from the matmul kernels: {', '.join(known)}")
        memory = _memory_bytes()
        dims = [(n, n, n) for n in sizes] + list(args.shape)
        itemsize = 4 if args.dtype == "float32" else 8
        biggest = max(itemsize * (m * k + k * n + 3 * m * n) for m, k, n in dims)
        if memory and biggest > memory:
            raise UsageError(f"the largest size needs {biggest / 2**30:.1f} GiB for its operands "
                             f"and results, more than this machine's {memory / 2**30:.1f} GiB")
    if args.ladder_size is not None and args.ladder_size not in sizes:
        raise UsageError(f"--ladder-size {args.ladder_size} is not one of the square sizes "
                         f"{', '.join(map(str, sizes))}")
    if args.out is not None:
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise UsageError(f"--out: {args.out} exists and is not a folder")
        if not args.from_csv and os.path.isdir(args.out) and os.listdir(args.out):
            raise UsageError(f"--out: {args.out} is not empty; choose a new folder")


def config_from_args(args):
    base = QUICK if args.quick else DEFAULT
    names = kernel_names(args) or None
    return Config(
        sizes=args.sizes or base["sizes"], shapes=args.shape,
        dtypes=["float32", "float64"] if args.dtype == "both" else [args.dtype],
        threads=args.threads or sorted({1, cores()}),
        budget=args.budget if args.budget is not None else base["budget"],
        min_time=args.min_time if args.min_time is not None else base["min_time"],
        kernels=names)


def main(argv=None):
    """matmul-ladder [COMMAND] [options]: the exit status. No command, or `ladder`, runs the
    ladder; a first word that is no command is a one-line error with the closest ones."""
    from matmul_ladder.cli import subcommands
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv and not argv[0].startswith("-"):
            name, rest = argv[0], argv[1:]
            if name not in subcommands.commands():
                raise UsageError(subcommands.unknown_command(name, PROG))
            if name != "ladder":
                return subcommands.dispatch(name, rest, PROG)
            argv = rest
        args = build_parser().parse_args(argv)
        check_args(args)
    except UsageError as exc:
        print(f"{PROG}: error: {exc} (see {PROG} --help)", file=sys.stderr)
        return 2
    except KernelUnavailableError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    if not args.from_csv:
        warn_threads(PROG, args.threads)
    command = f"{PROG} " + " ".join(shlex.quote(a) for a in argv)
    try:
        return run(args, command)
    except OSError as exc:  # a full disk, a folder that cannot be written
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1


def __getattr__(name):  # the tune command's parts, where they were before cli/tune.py
    if name in ("build_tune_parser", "tune_main"):
        from matmul_ladder.cli import tune
        return getattr(tune, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def planned_ladder_size(sizes, asked=None):
    """The n the ladder tables of a finished run stand at: --ladder-size, else 1024 if
    measured, else the largest square size (results.default_ladder_size's rule)."""
    if asked:
        return asked
    return 1024 if 1024 in sizes else (max(sizes) if sizes else None)


def _print_notice(rows, status, ladder_size):
    notice = report.cut_short_notice(rows, status, ladder_size or report.default_ladder_size(rows))
    if notice:
        print("\n" + "\n".join(line.replace("**", "") for line in notice))


def _print_report(path, asked):
    if asked:
        with open(path) as f:
            print("\n" + f.read().rstrip())


def run(args, command):
    if args.from_csv:
        path, plots = report.build(args.from_csv, args.out, size=args.ladder_size)
        rows = report.load_csv(args.from_csv)
        print(report.console_tables(rows, args.ladder_size))
        _print_notice(rows, report.read_status(args.from_csv), args.ladder_size)
        _print_report(path, args.print_report)
        print(f"\nrebuilt {path} and {', '.join(plots)}")
        return 0
    if args.tf32:
        os.environ["CUPY_TF32"] = "1"
        os.environ["MATMUL_LADDER_TF32"] = "1"
    cfg = config_from_args(args)

    from matmul_ladder.bench import machine
    run_id = time.strftime("%Y%m%d-%H%M%S")
    out_dir = args.out or os.path.join("results", run_id)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "machine.json"), "w") as f:
        json.dump({**machine.describe(), "command": command}, f, indent=2)
    csv_path = os.path.join(out_dir, "ladder.csv")
    log = CsvLog(csv_path)
    harness = Harness(cfg, log=log, run_id=run_id)
    report.write_status(out_dir, state="running", run=run_id, command=command,
                        started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        planned_rows=harness.total_rows(), sizes=list(cfg.sizes),
                        shapes=[list(s) for s in cfg.shapes], dtypes=list(cfg.dtypes),
                        threads=list(cfg.threads), kernels=[k.name for k in harness.kernels],
                        planned_ladder_size=planned_ladder_size(cfg.sizes, args.ladder_size))
    print(f"NumPy's BLAS: {machine.blas_label()}; SIMD micro-kernel: "
          f"{machine.build_info()['simd']['active']}")
    print(f"{PROG}: {len(harness.kernels)} kernels, sizes {list(cfg.sizes)}"
          f"{' + ' + str(list(cfg.shapes)) if cfg.shapes else ''}, {', '.join(cfg.dtypes)}, "
          f"threads {list(cfg.threads)}, budget {cfg.budget:g} s/call -> {out_dir}/", flush=True)
    interrupted = run_with_progress(harness, log, not args.no_progress)
    status = report.write_status(out_dir, state="interrupted" if interrupted else "complete",
                                 why=interrupted, rows=len(harness.rows),
                                 ended=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    if interrupted:
        print(f"\ninterrupted ({interrupted}): kept the {len(harness.rows)} of "
              f"{harness.total_rows()} planned rows measured so far in {csv_path}")
    if not harness.rows:
        return 130 if interrupted else 1
    report_path, plots = report.build(csv_path, out_dir, size=args.ladder_size, command=command)
    rows = report.load_csv(csv_path)
    print(report.console_tables(rows, args.ladder_size))
    _print_notice(rows, report.read_status(status), args.ladder_size)
    _print_report(report_path, args.print_report)
    print(f"\nwrote {csv_path}, {out_dir}/machine.json, {status}, {', '.join(plots)} and "
          f"{report_path}")
    return 130 if interrupted else 0
