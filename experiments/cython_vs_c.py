"""How close typed Cython gets to C: every Cython rung against its C twin, side by side.

    python experiments/cython_vs_c.py                 # n = 512, 1024, 2048; float32 and float64
    python experiments/cython_vs_c.py --sizes 1024 --dtype float32

Table 1: each pair timed call by call in one process, 1 thread; ratio = t(C) / t(Cython), so
1.0 is parity and < 1 means Cython is slower. Table 2: cy_prange against cy_blocked on 1 and 2
threads (the overhead of prange on one thread, and its speed-up). Pairs whose single call
would pass --budget seconds are skipped, and say so.
"""
import argparse
import contextlib
import os
import sys

import numpy as np

import matmul_ladder as ml
from matmul_ladder.bench.race import race
from matmul_ladder.report.tables import text_table

TWINS = [("cy_naive", "c_naive"), ("cy_ikj", "c_ikj"), ("cy_blocked", "c_blocked")]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="512,1024,2048")
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--min-time", type=float, default=1.0)
    p.add_argument("--budget", type=float, default=20.0, help="max seconds of one call")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    rng = np.random.default_rng(0)
    stack = contextlib.ExitStack()

    def bound(kernel, threads):
        """f(a, b) for the kernel with its threads pinned until the end of the run."""
        return stack.enter_context(ml.bind(kernel, threads))

    twins, prange = [], []
    last_seconds = {}
    for dtype in dtypes:
        for n in sizes:
            a = rng.uniform(-1, 1, (n, n)).astype(dtype)
            b = rng.uniform(-1, 1, (n, n)).astype(dtype)
            for cy, c in TWINS:
                prev = last_seconds.get((cy, dtype))
                if prev and prev[1] * (n / prev[0]) ** 3 > args.budget:
                    twins.append([cy, c, dtype, n, "-", "-", "-", "-", f"skipped: > {args.budget:g} s a call"])
                    continue
                r = race(a, b, {c: bound(c, 1), cy: bound(cy, 1)}, baseline=c, min_time=args.min_time)
                last_seconds[(cy, dtype)] = (n, max(t.median for t in r.timings.values()))
                twins.append([cy, c, dtype, n, f"{r.timings[c].median * 1e3:.4g}",
                              f"{r.timings[cy].median * 1e3:.4g}", f"{r.ratios[cy]:.3f}", r.rounds, ""])
                print(f"  {cy} vs {c} {dtype} n={n}: ratio {r.ratios[cy]:.3f}", file=sys.stderr)
            contenders = {"cy_blocked": bound("cy_blocked", 1), "cy_prange_1t": bound("cy_prange", 1),
                          f"cy_prange_{args.threads}t": bound("cy_prange", args.threads)}
            r = race(a, b, contenders, baseline="cy_blocked", min_time=args.min_time)
            prange.append([dtype, n] + [f"{r.timings[k].median * 1e3:.4g}" for k in contenders] +
                          [f"{r.ratios['cy_prange_1t']:.3f}", f"{r.ratios[f'cy_prange_{args.threads}t']:.2f}",
                           r.rounds])
    print("\nCython against its C twin, 1 thread (ratio = t_C / t_Cython; 1.0 = parity)")
    print(text_table(["cython", "c", "dtype", "n", "C ms", "Cython ms", "ratio", "rounds", "note"], twins))
    print("\ncy_prange against cy_blocked (speed-up = t_cy_blocked / t_cy_prange)")
    print(text_table(["dtype", "n", "cy_blocked ms", "prange 1t ms", f"prange {args.threads}t ms",
                      "1t speed-up", f"{args.threads}t speed-up", "rounds"], prange))
    stack.close()
    info = ml.build_info()
    print(f"\nflags: C plain rungs `{info['flags']['c_naive']}`; Cython `{info['flags']['cy_naive']}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
