"""How close typed Cython gets to C: every Cython rung raced against its C twin."""
import contextlib
import sys

import numpy as np

import matmul_ladder as ml
from matmul_ladder.bench.race import race
from matmul_ladder.report.tables import text_table

TWINS = [("cy_naive", "c_naive"), ("cy_ikj", "c_ikj"), ("cy_blocked", "c_blocked")]


def too_slow(previous, n, budget):
    """Whether a call at n would pass budget seconds, by n^3 from (n, seconds) measured before."""
    return bool(previous) and previous[1] * (n / previous[0]) ** 3 > budget


def measure(sizes, dtypes, min_time, budget, threads):
    """(twins rows, prange rows) of the two tables."""
    rng = np.random.default_rng(0)
    twins, prange, last_seconds = [], [], {}
    with contextlib.ExitStack() as stack:
        def bound(kernel, t):
            """f(a, b) for the kernel with its threads pinned until the end of the run."""
            return stack.enter_context(ml.bind(kernel, t))
        for dtype in dtypes:
            for n in sizes:
                a = rng.uniform(-1, 1, (n, n)).astype(dtype)
                b = rng.uniform(-1, 1, (n, n)).astype(dtype)
                for cy, c in TWINS:
                    if too_slow(last_seconds.get((cy, dtype)), n, budget):
                        twins.append([cy, c, dtype, n, "-", "-", "-", "-",
                                      f"skipped: > {budget:g} s a call"])
                        continue
                    r = race(a, b, {c: bound(c, 1), cy: bound(cy, 1)}, baseline=c, min_time=min_time)
                    last_seconds[(cy, dtype)] = (n, max(t.median for t in r.timings.values()))
                    twins.append([cy, c, dtype, n, f"{r.timings[c].median * 1e3:.4g}",
                                  f"{r.timings[cy].median * 1e3:.4g}", f"{r.ratios[cy]:.3f}", r.rounds, ""])
                    print(f"  {cy} vs {c} {dtype} n={n}: ratio {r.ratios[cy]:.3f}", file=sys.stderr)
                contenders = {"cy_blocked": bound("cy_blocked", 1), "cy_prange_1t": bound("cy_prange", 1),
                              f"cy_prange_{threads}t": bound("cy_prange", threads)}
                r = race(a, b, contenders, baseline="cy_blocked", min_time=min_time)
                prange.append([dtype, n] + [f"{r.timings[k].median * 1e3:.4g}" for k in contenders] +
                              [f"{r.ratios['cy_prange_1t']:.3f}", f"{r.ratios[f'cy_prange_{threads}t']:.2f}",
                               r.rounds])
    return twins, prange


def tables(twins, prange, threads):
    """The printed report: both tables and the compiler flags of the two languages."""
    info = ml.build_info()
    return "\n".join([
        "\nCython against its C twin, 1 thread (ratio = t_C / t_Cython; 1.0 = parity)",
        text_table(["cython", "c", "dtype", "n", "C ms", "Cython ms", "ratio", "rounds", "note"], twins),
        "\ncy_prange against cy_blocked (speed-up = t_cy_blocked / t_cy_prange)",
        text_table(["dtype", "n", "cy_blocked ms", "prange 1t ms", f"prange {threads}t ms",
                    "1t speed-up", f"{threads}t speed-up", "rounds"], prange),
        f"\nflags: C plain rungs `{info['flags']['c_naive']}`; Cython `{info['flags']['cy_naive']}`"])


def run(sizes, dtypes, min_time, budget, threads):
    """The whole study; prints its tables."""
    twins, prange = measure(sizes, dtypes, min_time, budget, threads)
    print(tables(twins, prange, threads))
    return 0
