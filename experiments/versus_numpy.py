"""Do the top C rungs reach NumPy? c_simd against NumPy on 1 thread, c_omp against NumPy on
all threads, timed call by call in one process with NumPy's BLAS pinned to the same threads;
and c_strassen on 1 and all threads where the shape reaches its cutoff (its GFLOP/s count the
classical 2 M K N operations, so they exceed the peak where it saves enough).

    python experiments/versus_numpy.py                  # the goal shapes, float32 and float64
    python experiments/versus_numpy.py --shape 1x25600x100 --dtype float32 --threads 2

ratio = t(NumPy) / t(kernel): 1.0 is parity, above 1 the kernel is faster. Every answer is
checked before timing. "% peak" is against the FMA microbenchmark (fma_peak.c) on the same
threads, measured just before and just after each race (their mean is shown as "peak"):
this machine's speed drifts by up to ~15% within minutes, so a peak taken once at the start
may belong to another phase. (Measured inside the race, between rounds, the 50 ms pause let
the operands leave the shared caches and slowed the next call.)
"ukernel % peak" (1 thread) is the ceiling beside it: the micro-kernel alone, on one pair of
packed panels that stay in L1/L2 (fma_peak.c), measured with the peak. What c_simd loses
below it is L3, the loop nest and packing; what the ceiling loses below 100% is the kernel's
loads, and in this VM's busy phases what behaves like a sibling hyperthread sharing them.
1-thread races alternate call by call; multi-threaded ones alternate blocks of calls (--block
seconds, each started once the other library's pools have gone quiet, first call dropped), so
that neither library's spinning idle threads slow the other (see matmul_ladder/compare.py);
the peaks are measured once those pools are quiet too (timing.wait_quiet).
"error" and "NumPy error" are the two answers' normwise errors against float64,
||C - C_ref||_F / ||C_ref||_F: a faster kernel must not buy its speed with accuracy.
"doubt" says why a race is doubtful, by timing.doubts' rules: either contender's rounds spread
over 2x their fastest, or the process's threads waiting for a CPU (another process had the
cores) or the hypervisor stealing during the race; empty when nothing does.
"""
import argparse
import contextlib
import os
import sys

import numpy as np

import matmul_ladder as ml
from matmul_ladder.cli import commands as cli
from matmul_ladder.bench.race import race
from matmul_ladder.report.tables import text_table
from matmul_ladder.bench import timing
from matmul_ladder.bench.timing import gflops, matmul_flops

# (M, K, N): a is M x K, b is K x N
GOAL_SHAPES = [(1024, 1024, 1024), (2048, 2048, 2048), (4096, 4096, 4096), (256, 256, 256),
               (1000, 3000, 500), (3000, 500, 1000), (64, 4096, 4096), (1, 25600, 100)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", type=cli.parse_shape, action="append", help="MxKxN (repeatable); default: the goal shapes")
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="thread count of the c_omp race")
    p.add_argument("--min-time", type=float, default=1.0, help="seconds of rounds per race")
    p.add_argument("--block", type=float, default=0.3,
                   help="multi-threaded races alternate blocks of this many seconds (see compare.py)")
    p.add_argument("--kernels", type=parse_contenders, default=None, metavar="NAME[:THREADS],...",
                   help="only these races, e.g. c_strassen:16 (default: all of them)")
    args = p.parse_args(argv)
    shapes = args.shape or GOAL_SHAPES
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    rows = []
    try:
        race_all(args, shapes, dtypes, rows)
    except KeyboardInterrupt:
        print("interrupted: the races finished so far", file=sys.stderr)
    print(text_table(["kernel", "threads", "dtype", "MxKxN", "GFLOP/s", "NumPy GFLOP/s", "ratio",
                      "error", "NumPy error", "peak GFLOP/s", "% peak", "ukernel % peak",
                      "rounds", "doubt"], rows))
    info = ml.build_info()
    print(f"\nmicro-kernel: {info['simd']['active']}; blocking: {info['blocking']}")
    return 0


def parse_contenders(text):
    """'c_strassen:16,c_simd' -> [('c_strassen', 16), ('c_simd', None)]; None: its usual threads."""
    out = []
    for item in text.split(","):
        name, _, threads = item.strip().partition(":")
        if name not in ("c_simd", "c_omp", "c_strassen"):
            raise argparse.ArgumentTypeError(f"{name!r}: choose from c_simd, c_omp, c_strassen")
        if threads and not (threads.isdigit() and int(threads) >= 1):
            raise argparse.ArgumentTypeError(f"{item!r}: threads must be a whole number >= 1")
        out.append((name, int(threads) if threads else None))
    return out


def wanted(kernel, threads, chosen):
    return chosen is None or any(k == kernel and t in (None, threads) for k, t in chosen)


def race_all(args, shapes, dtypes, rows):
    rng = np.random.default_rng(0)
    for dtype in dtypes:
        for m, k, n in shapes:
            a = rng.uniform(-1, 1, (m, k)).astype(dtype)
            b = rng.uniform(-1, 1, (k, n)).astype(dtype)
            contenders = [("c_simd", 1), ("c_omp", args.threads)]
            if min(m, k, n) >= ml.build_info()["strassen"][dtype]["cutoff"]:
                # c_strassen where it takes a level; its GFLOP/s count the classical 2MKN
                contenders += [("c_strassen", 1), ("c_strassen", args.threads)]
            for kernel, threads in contenders:
                if not wanted(kernel, threads, args.kernels):
                    continue
                timing.wait_quiet("fma_peak")  # the last race's pools would lower the peak
                peak_before = ml.fma_peak(dtype, threads)
                ceiling = ml.ukernel_peak(dtype) if threads == 1 else None
                with contextlib.ExitStack() as stack:
                    mine = stack.enter_context(ml.bind(kernel, threads))
                    npy = stack.enter_context(ml.bind("numpy", threads))
                    # a multi-threaded round is two blocks, one sample each: 9 of them, as 5
                    # left the median ratio 3-5% apart between runs at parity
                    with timing.Watch() as watch:
                        r = race(a, b, {"numpy": npy, kernel: mine}, baseline="numpy",
                                 min_time=args.min_time, min_rounds=9 if threads > 1 else 5,
                                 block_time=args.block if threads > 1 else 0.0)
                doubt = "; ".join([f"{name} {d}" for name in (kernel, "numpy")
                                   for d in timing.doubts(r.timings[name])]
                                  + timing.doubts(None, threads, watch))
                timing.wait_quiet("fma_peak")
                peak = (peak_before + ml.fma_peak(dtype, threads)) / 2
                if ceiling is not None:
                    ceiling = (ceiling + ml.ukernel_peak(dtype)) / 2
                speed = gflops(matmul_flops(m, k, n), r.timings[kernel].median)
                np_speed = gflops(matmul_flops(m, k, n), r.timings["numpy"].median)
                rows.append([kernel, threads, dtype, f"{m}x{k}x{n}", f"{speed:.1f}", f"{np_speed:.1f}",
                             f"{r.ratios[kernel]:.3f}", f"{r.errors[kernel]:.2g}",
                             f"{r.errors['numpy']:.2g}", f"{peak:.0f}", f"{100 * speed / peak:.0f}%",
                             "-" if ceiling is None else f"{100 * ceiling / peak:.0f}%", r.rounds,
                             doubt])
                print(f"  {kernel} t={threads} {dtype} {m}x{k}x{n}: {r.ratios[kernel]:.3f}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
