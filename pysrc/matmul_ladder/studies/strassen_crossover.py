"""Where does Strassen start to pay? c_strassen at one and two levels raced against c_omp."""
import contextlib
import csv
import os
import sys

import numpy as np

import matmul_ladder as ml
from matmul_ladder.bench.check import Reference
from matmul_ladder.bench.race import race


def measure(sizes, dtypes, threads, min_time):
    """One row a (dtype, n, levels): the speed-up of c_strassen over c_omp and both errors
    over the classical bound. Restores the Strassen cutoff it found."""
    rows, rng = [], np.random.default_rng(0)
    previous = ml.set_strassen_cutoff(0)
    try:
        for dtype in dtypes:
            for n in sizes:
                a = rng.uniform(-1, 1, (n, n)).astype(dtype)
                b = rng.uniform(-1, 1, (n, n)).astype(dtype)
                ref = Reference(a, b)
                for levels in (1, 2):
                    ml.set_strassen_cutoff(n if levels == 1 else max(1, n // 2))
                    with contextlib.ExitStack() as stack:
                        omp = stack.enter_context(ml.bind("c_omp", threads))
                        strassen = stack.enter_context(ml.bind("c_strassen", threads))
                        errors = {name: float(np.max(np.abs(f(a, b) - ref.expected) / ref.bound))
                                  for name, f in (("c_omp", omp), ("c_strassen", strassen))}
                        r = race(a, b, {"c_omp": omp, "c_strassen": strassen}, baseline="c_omp",
                                 min_time=min_time, min_rounds=5,
                                 block_time=0.3 if threads > 1 else 0.0)
                    rows.append({"dtype": dtype, "n": n, "threads": threads, "levels": levels,
                                 "speedup": round(r.ratios["c_strassen"], 4),
                                 "error_omp": round(errors["c_omp"], 4),
                                 "error_strassen": round(errors["c_strassen"], 4)})
                    print(rows[-1], file=sys.stderr, flush=True)
    finally:
        ml.set_strassen_cutoff(previous)
    return rows


def crossover(rows, dtype):
    """The smallest n from which one level pays at every larger n measured, or None."""
    one = [r for r in rows if r["dtype"] == dtype and r["levels"] == 1]
    paying = [r["n"] for i, r in enumerate(one) if all(x["speedup"] > 1 for x in one[i:])]
    return paying[0] if paying else None


def summary(rows, dtypes, threads):
    """The lines printed at the end: the table, then each dtype's crossover."""
    lines = ["dtype    n      levels  speed-up over c_omp  error / classical bound (c_omp, c_strassen)"]
    for r in rows:
        lines.append(f"{r['dtype']:8} {r['n']:<6} {r['levels']:<7} {r['speedup']:<20.3f} "
                     f"{r['error_omp']:.3f}, {r['error_strassen']:.3f}")
    for dtype in dtypes:
        n = crossover(rows, dtype)
        lines.append(f"{dtype}: one level pays from n = {n if n else 'none measured'} "
                     f"({threads} threads)")
    return lines


def run(sizes, dtypes, threads, min_time, out):
    """The whole study: writes strassen.csv and strassen_speedup.png to out, prints the
    summary and the folder it wrote."""
    os.makedirs(out, exist_ok=True)
    rows = measure(sizes, dtypes, threads, min_time)
    with open(os.path.join(out, "strassen.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("\n".join(summary(rows, dtypes, threads)))
    plot(rows, dtypes, os.path.join(out, "strassen_speedup.png"), threads)
    print(f"wrote {out}/")
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
    plt.close(fig)
