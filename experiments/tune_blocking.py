"""Tuning sweep for c_simd's cache blocks: KC x MC candidates, timed round-robin in one
process (one call of each per round, medians over rounds), so drift hits all alike.

    python experiments/tune_blocking.py --n 2048 --dtype float32 --kc 256,384,512 --mc 96,192,384
    python experiments/tune_blocking.py --n 4096 --kc 0 --mc 0 --nc 1024,2048,4096

Prints GFLOP/s per candidate, best first, beside the sizes derived from this CPU's caches
(0 in a list means "derived").
"""
import argparse
import statistics
import sys
import time

import numpy as np

from matmul_ladder import _ckernels
from matmul_ladder._layout import empty_aligned


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--kc", default="192,256,384,512,768")
    p.add_argument("--mc", default="96,192,384,768")
    p.add_argument("--nc", default="0")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=1, help="1: c_simd; more: c_omp")
    args = p.parse_args(argv)
    n, dtype = args.n, np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, (n, n)).astype(dtype), rng.uniform(-1, 1, (n, n)).astype(dtype)
    c = empty_aligned((n, n), dtype)  # as ml.matmul allocates it
    rung = "c_simd" if args.threads == 1 else "c_omp"
    candidates = list(dict.fromkeys([(0, 0, 0)] + [(int(k), int(m), int(c)) for k in args.kc.split(",")
                                                   for m in args.mc.split(",") for c in args.nc.split(",")]))
    samples = {cand: [] for cand in candidates}
    derived = _ckernels.gemm_blocking(dtype.itemsize, _ckernels.active_isa())
    for r in range(args.rounds):
        for kc, mc, nc in candidates:
            _ckernels.set_gemm_blocking(mc, kc, nc)
            t0 = time.perf_counter()
            _ckernels.run(rung, a, b, c, args.threads)
            samples[(kc, mc, nc)].append(time.perf_counter() - t0)
        print(f"round {r + 1}/{args.rounds}", file=sys.stderr, flush=True)
    _ckernels.set_gemm_blocking(0, 0, 0)
    rows = sorted(((2.0 * n ** 3 / statistics.median(s) / 1e9, cand) for cand, s in samples.items()), reverse=True)
    print(f"{rung} {args.dtype} n={n} threads={args.threads}; derived: {derived}")
    for gflops, (kc, mc, nc) in rows:
        label = "derived" if (kc, mc, nc) == (0, 0, 0) else f"KC={kc or '-'} MC={mc or '-'} NC={nc or '-'}"
        print(f"  {label:20s} {gflops:7.1f} GFLOP/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
