"""How close typed Cython gets to C: every Cython rung against its C twin, side by side.

    python experiments/cython_vs_c.py                 # n = 512, 1024, 2048; float32 and float64
    python experiments/cython_vs_c.py --sizes 1024 --dtype float32

Table 1: each pair timed call by call in one process, 1 thread; ratio = t(C) / t(Cython), so
1.0 is parity and < 1 means Cython is slower. Table 2: cy_prange against cy_blocked on 1 and 2
threads (the overhead of prange on one thread, and its speed-up). Pairs whose single call
would pass --budget seconds are skipped, and say so.
"""
import argparse
import os
import sys

from matmul_ladder.studies import cython_vs_c as study


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="512,1024,2048")
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--min-time", type=float, default=1.0)
    p.add_argument("--budget", type=float, default=20.0, help="max seconds of one call")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = p.parse_args(argv)
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    return study.run([int(s) for s in args.sizes.split(",")], dtypes, args.min_time,
                     args.budget, args.threads)


if __name__ == "__main__":
    sys.exit(main())
