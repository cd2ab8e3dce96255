"""Do the top C rungs reach NumPy? c_simd, c_omp, c_strassen (and with --kernels, c_bf16 and torch_bf16) raced against NumPy's BLAS."""
import argparse
import contextlib
import sys

import numpy as np

import matmul_ladder as ml
from matmul_ladder.bench import roofs, timing
from matmul_ladder.bench.race import race
from matmul_ladder.bench.timing import gflops, matmul_flops
from matmul_ladder.report.tables import text_table
from matmul_ladder.rungs import registry

# (M, K, N): a is M x K, b is K x N
GOAL_SHAPES = [(1024, 1024, 1024), (2048, 2048, 2048), (4096, 4096, 4096), (256, 256, 256),
               (1000, 3000, 500), (3000, 500, 1000), (64, 4096, 4096), (1, 25600, 100)]
CONTENDERS = ("c_simd", "c_omp", "c_strassen")
# Raced only when --kernels names them: they round to bfloat16 (float32 only), and where no
# unit runs them (torch_bf16 here on AVX2: 0.6 GFLOP/s at n = 1024) a race takes minutes.
BF16_CONTENDERS = ("c_bf16", "torch_bf16")
BF16_NOTE = ("c_bf16 and torch_bf16 round their float32 inputs to bfloat16 and sum in float32 "
             "(torch_bf16's answer is bfloat16 too, its inputs converted before the rounds); "
             "each is checked at its own precision (bench/check.py), its error is against "
             "float64 of the unrounded inputs, and its peak is the BF16 unit's "
             "(csrc/bf16_peak.c; '-' where none runs).")
HEADER = ["kernel", "threads", "dtype", "MxKxN", "GFLOP/s", "NumPy GFLOP/s", "ratio", "error",
          "NumPy error", "peak GFLOP/s", "% peak", "ukernel % peak", "rounds", "doubt"]


def parse_contenders(text):
    """'c_strassen:16,c_simd' -> [('c_strassen', 16), ('c_simd', None)]; None: its usual threads."""
    out = []
    for item in text.split(","):
        name, _, threads = item.strip().partition(":")
        if name not in CONTENDERS + BF16_CONTENDERS:
            raise argparse.ArgumentTypeError(
                f"{name!r}: choose from {', '.join(CONTENDERS + BF16_CONTENDERS)}")
        if threads and not (threads.isdigit() and int(threads) >= 1):
            raise argparse.ArgumentTypeError(f"{item!r}: threads must be a whole number >= 1")
        out.append((name, int(threads) if threads else None))
    return out


def wanted(kernel, threads, chosen):
    return chosen is None or any(k == kernel and t in (None, threads) for k, t in chosen)


def peak_pair(dtype, threads, known=(0.0, None), precision=""):
    """(compute roof, micro-kernel ceiling or None on more than one thread), each the higher of
    a reading now and `known`'s: the harness's one policy (bench.roofs), the pools quiet
    first. The roof is the FMA peak, or for a bf16 contender the BF16 unit's peak (None where
    no real unit runs; no ceiling then)."""
    if roofs.roof_key(precision, dtype) == roofs.BF16_ROOF:
        return roofs.bf16_peak(threads, known[0] or 0.0), None
    peak = roofs.fma_peak(dtype, threads, known[0])
    return peak, (roofs.ukernel_peak(dtype, known[1] or 0.0) if threads == 1 else None)


def race_peak(dtype, threads, race_once, precision=""):
    """Run race_once() between two peak readings; (its result, peak, ceiling), each the higher
    of its two readings: the machine's speed drifts within minutes, and a low reading is a
    slow phase, never a faster machine."""
    before = peak_pair(dtype, threads, precision=precision)
    result = race_once()
    return (result, *peak_pair(dtype, threads, before, precision))


def contenders_for(shape, dtype, threads, bf16=False):
    """[(kernel, threads)] raced at one shape: c_strassen only where it takes a level; with
    bf16, c_bf16 and torch_bf16 on 1 and `threads` threads (float32 only)."""
    out = [("c_simd", 1), ("c_omp", threads)]
    if min(shape) >= ml.build_info()["strassen"][dtype]["cutoff"]:
        # its GFLOP/s count the classical 2MKN
        out += [("c_strassen", 1), ("c_strassen", threads)]
    if bf16 and dtype == "float32":
        out += [(kernel, t) for kernel in BF16_CONTENDERS for t in sorted({1, threads})]
    return out


def race_one(a, b, kernel, threads, min_time, block):
    """(race result, timing.doubts text) of one kernel against NumPy on the same threads."""
    contender = registry.get(kernel, "matmul")
    with contextlib.ExitStack() as stack:
        mine = stack.enter_context(ml.bind(kernel, threads))
        npy = stack.enter_context(ml.bind("numpy", threads))
        # a multi-threaded round is two blocks, one sample each: 9 of them, as 5
        # left the median ratio 3-5% apart between runs at parity
        with timing.Watch() as watch:
            r = race(a, b, {"numpy": npy, kernel: mine}, baseline="numpy",
                     min_time=min_time, min_rounds=9 if threads > 1 else 5,
                     block_time=block if threads > 1 else 0.0,
                     precisions={kernel: contender.precision},
                     operands={kernel: contender.operands} if contender.operands else None)
    doubt = "; ".join([f"{name} {d}" for name in (kernel, "numpy")
                       for d in timing.doubts(r.timings[name])]
                      + timing.doubts(None, threads, watch))
    # c_bf16 on an emulated unit: its time is a test's, no speed (rungs/registry.py)
    return r, "; ".join(filter(None, [contender.run_note() if "emulate_" in
                                      contender.run_note() else "", doubt]))


def row(kernel, threads, dtype, shape, r, doubt, peak, ceiling):
    m, k, n = shape
    speed = gflops(matmul_flops(m, k, n), r.timings[kernel].median)
    np_speed = gflops(matmul_flops(m, k, n), r.timings["numpy"].median)
    return [kernel, threads, dtype, f"{m}x{k}x{n}", f"{speed:.1f}", f"{np_speed:.1f}",
            f"{r.ratios[kernel]:.3f}", f"{r.errors[kernel]:.2g}", f"{r.errors['numpy']:.2g}",
            "-" if not peak else f"{peak:.0f}", "-" if not peak else f"{100 * speed / peak:.0f}%",
            "-" if ceiling is None or not peak else f"{100 * ceiling / peak:.0f}%", r.rounds,
            doubt]


def race_all(shapes, dtypes, threads, min_time, block, chosen, rows, unavailable=None):
    """Append one table row per race to rows (so that Ctrl-C keeps those finished); a
    contender that cannot run here goes to `unavailable` ({kernel: why}), raced by none."""
    rng = np.random.default_rng(0)
    bf16 = chosen is not None and any(k in BF16_CONTENDERS for k, _ in chosen)
    unavailable = {} if unavailable is None else unavailable
    for dtype in dtypes:
        for m, k, n in shapes:
            a = rng.uniform(-1, 1, (m, k)).astype(dtype)
            b = rng.uniform(-1, 1, (k, n)).astype(dtype)
            for kernel, t in contenders_for((m, k, n), dtype, threads, bf16):
                if not wanted(kernel, t, chosen):
                    continue
                contender = registry.get(kernel, "matmul")
                why = contender.availability()
                if why:
                    unavailable[kernel] = why
                    continue
                (r, doubt), peak, ceiling = race_peak(
                    dtype, t, lambda: race_one(a, b, kernel, t, min_time, block),
                    contender.precision)
                rows.append(row(kernel, t, dtype, (m, k, n), r, doubt, peak, ceiling))
                print(f"  {kernel} t={t} {dtype} {m}x{k}x{n}: {r.ratios[kernel]:.3f}",
                      file=sys.stderr, flush=True)
    return rows


def run(args):
    """The study for experiments/versus_numpy.py's options; prints the table."""
    shapes = args.shape or GOAL_SHAPES
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    rows, unavailable = [], {}
    try:
        race_all(shapes, dtypes, args.threads, args.min_time, args.block, args.kernels, rows,
                 unavailable)
    except KeyboardInterrupt:
        print("interrupted: the races finished so far", file=sys.stderr)
    print(text_table(HEADER, rows))
    for kernel, why in unavailable.items():
        print(f"\n{kernel} not raced: {why}")
    if any(r[0] in BF16_CONTENDERS for r in rows):
        print(f"\n{BF16_NOTE}")
    info = ml.build_info()
    print(f"\nmicro-kernel: {info['simd']['active']}; blocking: {info['blocking']}")
    return 0
