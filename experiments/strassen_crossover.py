"""Where does Strassen start to pay? c_strassen with one and two levels forced, against c_omp,
raced call by call at each n, with the measured error beside c_omp's.

    python experiments/strassen_crossover.py                     # n = 1024-4096, both dtypes
    python experiments/strassen_crossover.py --sizes 2048,4096,8192 --threads 1 --out results/s

speed-up = t(c_omp) / t(c_strassen); above 1 Strassen pays. The crossover (the smallest n from
which one level pays at every larger size measured) is the cutoff to give
ml.set_strassen_cutoff on this machine. Error: the largest |C - C_ref| over the classical bound
(2 K eps |A||B|) for the same inputs; Strassen's grows about 3x per level. Writes
strassen.csv and strassen_speedup.png to --out.
"""
import argparse
import contextlib
import csv
import os
import sys

import numpy as np

import matmul_ladder as ml
from matmul_ladder.cli import commands as cli
from matmul_ladder.bench.check import Reference
from matmul_ladder.bench.race import race


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=cli.parse_sizes, default=[1024, 1536, 2048, 3072, 4096])
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--min-time", type=float, default=1.0, help="seconds of rounds per race")
    p.add_argument("--out", default=os.path.join("results", "strassen"))
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    rows, rng = [], np.random.default_rng(0)
    previous = ml.set_strassen_cutoff(0)
    try:
        for dtype in dtypes:
            for n in args.sizes:
                a = rng.uniform(-1, 1, (n, n)).astype(dtype)
                b = rng.uniform(-1, 1, (n, n)).astype(dtype)
                ref = Reference(a, b)
                for levels in (1, 2):
                    ml.set_strassen_cutoff(n if levels == 1 else max(1, n // 2))
                    with contextlib.ExitStack() as stack:
                        omp = stack.enter_context(ml.bind("c_omp", args.threads))
                        strassen = stack.enter_context(ml.bind("c_strassen", args.threads))
                        errors = {name: float(np.max(np.abs(f(a, b) - ref.expected) / ref.bound))
                                  for name, f in (("c_omp", omp), ("c_strassen", strassen))}
                        r = race(a, b, {"c_omp": omp, "c_strassen": strassen}, baseline="c_omp",
                                 min_time=args.min_time, min_rounds=5,
                                 block_time=0.3 if args.threads > 1 else 0.0)
                    rows.append({"dtype": dtype, "n": n, "threads": args.threads, "levels": levels,
                                 "speedup": round(r.ratios["c_strassen"], 4),
                                 "error_omp": round(errors["c_omp"], 4),
                                 "error_strassen": round(errors["c_strassen"], 4)})
                    print(rows[-1], file=sys.stderr, flush=True)
    finally:
        ml.set_strassen_cutoff(previous)
    with open(os.path.join(args.out, "strassen.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("dtype    n      levels  speed-up over c_omp  error / classical bound (c_omp, c_strassen)")
    for r in rows:
        print(f"{r['dtype']:8} {r['n']:<6} {r['levels']:<7} {r['speedup']:<20.3f} "
              f"{r['error_omp']:.3f}, {r['error_strassen']:.3f}")
    for dtype in dtypes:
        one = [r for r in rows if r["dtype"] == dtype and r["levels"] == 1]
        paying = [r["n"] for i, r in enumerate(one) if all(x["speedup"] > 1 for x in one[i:])]
        print(f"{dtype}: one level pays from n = {paying[0] if paying else 'none measured'} "
              f"({args.threads} threads)")
    plot(rows, dtypes, os.path.join(args.out, "strassen_speedup.png"), args.threads)
    return 0


def plot(rows, dtypes, path, threads):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for dtype in dtypes:
        for levels in (1, 2):
            pts = [(r["n"], r["speedup"]) for r in rows if r["dtype"] == dtype and r["levels"] == levels]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-" if levels == 1 else "s--",
                    label=f"{dtype}, {levels} level{'s' if levels > 1 else ''}")
    ax.axhline(1.0, color="k", lw=1)
    ax.axhline(8 / 7, color="gray", ls=":", lw=1, label="ceiling, 1 level (8/7)")
    ax.set(xscale="log", xlabel="n", ylabel="speed-up over c_omp",
           title=f"c_strassen against c_omp, {threads} thread{'s' if threads > 1 else ''}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
