"""Do the top C rungs reach NumPy? c_simd, c_omp and c_strassen raced against NumPy's BLAS."""
import argparse
import contextlib
import sys

import numpy as np

import matmul_ladder as ml
from matmul_ladder.bench import roofs, timing
from matmul_ladder.bench.race import race
from matmul_ladder.bench.timing import gflops, matmul_flops
from matmul_ladder.report.tables import text_table

# (M, K, N): a is M x K, b is K x N
GOAL_SHAPES = [(1024, 1024, 1024), (2048, 2048, 2048), (4096, 4096, 4096), (256, 256, 256),
               (1000, 3000, 500), (3000, 500, 1000), (64, 4096, 4096), (1, 25600, 100)]
CONTENDERS = ("c_simd", "c_omp", "c_strassen")
HEADER = ["kernel", "threads", "dtype", "MxKxN", "GFLOP/s", "NumPy GFLOP/s", "ratio", "error",
          "NumPy error", "peak GFLOP/s", "% peak", "ukernel % peak", "rounds", "doubt"]


def parse_contenders(text):
    """'c_strassen:16,c_simd' -> [('c_strassen', 16), ('c_simd', None)]; None: its usual threads."""
    out = []
    for item in text.split(","):
        name, _, threads = item.strip().partition(":")
        if name not in CONTENDERS:
            raise argparse.ArgumentTypeError(f"{name!r}: choose from {', '.join(CONTENDERS)}")
        if threads and not (threads.isdigit() and int(threads) >= 1):
            raise argparse.ArgumentTypeError(f"{item!r}: threads must be a whole number >= 1")
        out.append((name, int(threads) if threads else None))
    return out


def wanted(kernel, threads, chosen):
    return chosen is None or any(k == kernel and t in (None, threads) for k, t in chosen)


def peak_pair(dtype, threads, known=(0.0, None)):
    """(FMA peak, micro-kernel ceiling or None on more than one thread), each the higher of a
    reading now and `known`'s: the harness's one policy (bench.roofs), the pools quiet first."""
    peak = roofs.fma_peak(dtype, threads, known[0])
    return peak, (roofs.ukernel_peak(dtype, known[1] or 0.0) if threads == 1 else None)


def race_peak(dtype, threads, race_once):
    """Run race_once() between two peak readings; (its result, peak, ceiling), each the higher
    of its two readings: the machine's speed drifts within minutes, and a low reading is a
    slow phase, never a faster machine."""
    before = peak_pair(dtype, threads)
    result = race_once()
    return (result, *peak_pair(dtype, threads, before))


def contenders_for(shape, dtype, threads):
    """[(kernel, threads)] raced at one shape: c_strassen only where it takes a level."""
    out = [("c_simd", 1), ("c_omp", threads)]
    if min(shape) >= ml.build_info()["strassen"][dtype]["cutoff"]:
        # its GFLOP/s count the classical 2MKN
        out += [("c_strassen", 1), ("c_strassen", threads)]
    return out


def race_one(a, b, kernel, threads, min_time, block):
    """(race result, timing.doubts text) of one kernel against NumPy on the same threads."""
    with contextlib.ExitStack() as stack:
        mine = stack.enter_context(ml.bind(kernel, threads))
        npy = stack.enter_context(ml.bind("numpy", threads))
        # a multi-threaded round is two blocks, one sample each: 9 of them, as 5
        # left the median ratio 3-5% apart between runs at parity
        with timing.Watch() as watch:
            r = race(a, b, {"numpy": npy, kernel: mine}, baseline="numpy",
                     min_time=min_time, min_rounds=9 if threads > 1 else 5,
                     block_time=block if threads > 1 else 0.0)
    doubt = "; ".join([f"{name} {d}" for name in (kernel, "numpy")
                       for d in timing.doubts(r.timings[name])]
                      + timing.doubts(None, threads, watch))
    return r, doubt


def row(kernel, threads, dtype, shape, r, doubt, peak, ceiling):
    m, k, n = shape
    speed = gflops(matmul_flops(m, k, n), r.timings[kernel].median)
    np_speed = gflops(matmul_flops(m, k, n), r.timings["numpy"].median)
    return [kernel, threads, dtype, f"{m}x{k}x{n}", f"{speed:.1f}", f"{np_speed:.1f}",
            f"{r.ratios[kernel]:.3f}", f"{r.errors[kernel]:.2g}", f"{r.errors['numpy']:.2g}",
            f"{peak:.0f}", f"{100 * speed / peak:.0f}%",
            "-" if ceiling is None else f"{100 * ceiling / peak:.0f}%", r.rounds, doubt]


def race_all(shapes, dtypes, threads, min_time, block, chosen, rows):
    """Append one table row per race to rows (so that Ctrl-C keeps those finished)."""
    rng = np.random.default_rng(0)
    for dtype in dtypes:
        for m, k, n in shapes:
            a = rng.uniform(-1, 1, (m, k)).astype(dtype)
            b = rng.uniform(-1, 1, (k, n)).astype(dtype)
            for kernel, t in contenders_for((m, k, n), dtype, threads):
                if not wanted(kernel, t, chosen):
                    continue
                (r, doubt), peak, ceiling = race_peak(
                    dtype, t, lambda: race_one(a, b, kernel, t, min_time, block))
                rows.append(row(kernel, t, dtype, (m, k, n), r, doubt, peak, ceiling))
                print(f"  {kernel} t={t} {dtype} {m}x{k}x{n}: {r.ratios[kernel]:.3f}",
                      file=sys.stderr, flush=True)
    return rows


def run(args):
    """The study for experiments/versus_numpy.py's options; prints the table."""
    shapes = args.shape or GOAL_SHAPES
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    rows = []
    try:
        race_all(shapes, dtypes, args.threads, args.min_time, args.block, args.kernels, rows)
    except KeyboardInterrupt:
        print("interrupted: the races finished so far", file=sys.stderr)
    print(text_table(HEADER, rows))
    info = ml.build_info()
    print(f"\nmicro-kernel: {info['simd']['active']}; blocking: {info['blocking']}")
    return 0
