"""Do the top C rungs reach NumPy? c_simd against NumPy on 1 thread, c_omp against NumPy on
all threads, timed call by call in one process with NumPy's BLAS pinned to the same threads.

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
seconds, first call of each block dropped), so that neither library's spinning idle threads
slow the other (see matmul_ladder/compare.py).
"""
import argparse
import contextlib
import sys

import numpy as np

import matmul_ladder as ml
from matmul_ladder import _ckernels, _registry, cli
from matmul_ladder._threads import cores
from matmul_ladder.compare import race
from matmul_ladder.harness import flops
from matmul_ladder.report import text_table

# (M, K, N): a is M x K, b is K x N
GOAL_SHAPES = [(1024, 1024, 1024), (2048, 2048, 2048), (4096, 4096, 4096), (256, 256, 256),
               (1000, 3000, 500), (3000, 500, 1000), (64, 4096, 4096), (1, 25600, 100)]


def parse_shape(text):
    """'MxKxN' -> (M, K, N), this script's order; the CLI's parser checks it."""
    m, n, k = cli.parse_shape(text)
    return (m, k, n)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", type=parse_shape, action="append", help="MxKxN (repeatable); default: the goal shapes")
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--threads", type=int, default=cores(), help="thread count of the c_omp race")
    p.add_argument("--min-time", type=float, default=1.0, help="seconds of rounds per race")
    p.add_argument("--block", type=float, default=0.3,
                   help="multi-threaded races alternate blocks of this many seconds (see compare.py)")
    args = p.parse_args(argv)
    shapes = args.shape or GOAL_SHAPES
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    rows = []
    rng = np.random.default_rng(0)
    for dtype in dtypes:
        for m, k, n in shapes:
            a = rng.uniform(-1, 1, (m, k)).astype(dtype)
            b = rng.uniform(-1, 1, (k, n)).astype(dtype)
            for kernel, threads in (("c_simd", 1), ("c_omp", args.threads)):
                peak_before = _ckernels.fma_peak(a.itemsize, threads, 0.2)
                ceiling = _ckernels.ukernel_peak(a.itemsize, 0.2) if threads == 1 else None
                with contextlib.ExitStack() as stack:
                    mine = stack.enter_context(_registry.get(kernel).bind(threads))
                    npy = stack.enter_context(_registry.get("numpy").bind(threads))
                    # a multi-threaded round is two blocks, one sample each: 9 of them, as 5
                    # left the median ratio 3-5% apart between runs at parity
                    r = race(a, b, {"numpy": npy, kernel: mine}, baseline="numpy",
                             min_time=args.min_time, min_rounds=9 if threads > 1 else 5,
                             block_time=args.block if threads > 1 else 0.0)
                peak = (peak_before + _ckernels.fma_peak(a.itemsize, threads, 0.2)) / 2
                if ceiling is not None:
                    ceiling = (ceiling + _ckernels.ukernel_peak(a.itemsize, 0.2)) / 2
                gflops = flops(m, n, k) / r.timings[kernel].median / 1e9
                np_gflops = flops(m, n, k) / r.timings["numpy"].median / 1e9
                rows.append([kernel, threads, dtype, f"{m}x{k}x{n}", f"{gflops:.1f}", f"{np_gflops:.1f}",
                             f"{r.ratios[kernel]:.3f}", f"{peak:.0f}", f"{100 * gflops / peak:.0f}%",
                             "-" if ceiling is None else f"{100 * ceiling / peak:.0f}%", r.rounds])
                print(f"  {kernel} t={threads} {dtype} {m}x{k}x{n}: {r.ratios[kernel]:.3f}", file=sys.stderr, flush=True)
    print(text_table(["kernel", "threads", "dtype", "MxKxN", "GFLOP/s", "NumPy GFLOP/s", "ratio",
                      "peak GFLOP/s", "% peak", "ukernel % peak", "rounds"], rows))
    info = ml.build_info()
    print(f"\nmicro-kernel: {info['simd']['active']}; blocking: {info['blocking']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
