"""Tuning sweep for c_simd's cache blocks: KC x MC candidates, timed round-robin in one
process (one call of each per round, medians over rounds), so drift hits all alike.

    python experiments/tune_blocking.py --n 2048 --dtype float32 --kc 256,384,512 --mc 96,192,384
    python experiments/tune_blocking.py --n 4096 --kc 0 --mc 0 --nc 1024,2048,4096

Every candidate's answer is checked against the float64 reference before it is timed; one
that is wrong stops the sweep with the reason. Prints GFLOP/s per candidate, best first,
beside the sizes derived from this CPU's caches (0 in a list means "derived").
"""
import argparse
import statistics
import sys
import time

import numpy as np

import matmul_ladder as ml
from matmul_ladder.bench.check import Reference
from matmul_ladder.bench.timing import gflops, matmul_flops


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
    rung = "c_simd" if args.threads == 1 else "c_omp"
    candidates = list(dict.fromkeys([(0, 0, 0)] + [(int(k), int(m), int(c)) for k in args.kc.split(",")
                                                   for m in args.mc.split(",") for c in args.nc.split(",")]))
    samples = {cand: [] for cand in candidates}
    derived = ml.build_info()["blocking"][args.dtype]["c_simd"]
    ref = Reference(a, b)
    with ml.bind(rung, args.threads) as f:
        for kc, mc, nc in candidates:
            with ml.blocking_override(args.dtype, mc, kc, nc):
                problem = ref.violations(f(a, b))
            if problem:
                p.exit(1, f"tune_blocking: KC={kc} MC={mc} NC={nc} gave a wrong answer, not "
                          f"timed: {problem}\n")
        for r in range(args.rounds):
            for kc, mc, nc in candidates:
                with ml.blocking_override(args.dtype, mc, kc, nc):
                    t0 = time.perf_counter()
                    f(a, b)
                    samples[(kc, mc, nc)].append(time.perf_counter() - t0)
            print(f"round {r + 1}/{args.rounds}", file=sys.stderr, flush=True)
    rows = sorted(((gflops(matmul_flops(n, n, n), statistics.median(s)), cand)
                   for cand, s in samples.items()), reverse=True)
    print(f"{rung} {args.dtype} n={n} threads={args.threads}; derived: {derived}")
    for speed, (kc, mc, nc) in rows:
        label = "derived" if (kc, mc, nc) == (0, 0, 0) else f"KC={kc or '-'} MC={mc or '-'} NC={nc or '-'}"
        print(f"  {label:20s} {speed:7.1f} GFLOP/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
