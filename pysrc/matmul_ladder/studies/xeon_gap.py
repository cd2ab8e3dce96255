"""Issue 35: each loop variant of c_simd/c_omp raced against the default loop nest and NumPy."""
import csv
import json
import os
import sys
import time

import numpy as np

import matmul_ladder as ml
from matmul_ladder.bench import roofs, timing
from matmul_ladder.bench.race import race
from matmul_ladder.bench.timing import gflops, matmul_flops
from matmul_ladder.report.tables import text_table
from matmul_ladder.rungs import registry

DEFAULT = "default"
HEADER = ["dtype", "n", "threads", "kernel", "contender", "KC x MC", "GFLOP/s", "% peak",
          "vs default", "vs NumPy", "error", "rounds", "doubt"]
# A race is one round of checked first calls and then timed rounds; below this many rounds'
# worth of budget left, a race is skipped rather than started (its medians would be of 1-2).
MIN_ROUNDS = 3
# The rounds a race asks for where its budget allows: multi-threaded rounds are blocks, whose
# medians need more of them (9, as in the versus_numpy study).
WANTED_ROUNDS = {False: 5, True: 9}


def parse_blocking(text):
    """'240x696' -> (240, 696): MC x KC; '' -> None."""
    if not text:
        return None
    mc, sep, kc = text.lower().partition("x")
    if not (sep and mc.isdigit() and kc.isdigit() and int(mc) > 0 and int(kc) > 0):
        raise ValueError(f"blocking must be MCxKC with both > 0, e.g. 240x696; got {text!r}")
    return int(mc), int(kc)


def blocking_of(dtype, variants=(), blocking=None):
    """(KC, MC) of c_simd/c_omp for `dtype` under these variants and MC x KC override, as the
    model gives them before they are fitted to a product (the previous choice restored)."""
    ck, size = registry._ckernels, np.dtype(dtype).itemsize
    previous = ml.set_loop_variants(variants)
    try:
        if blocking:
            with ml.blocking_override(dtype, mc=blocking[0], kc=blocking[1]):
                b = ck.gemm_blocking(size, ck.active_isa())
        else:
            b = ck.gemm_blocking(size, ck.active_isa())
    finally:
        ml.set_loop_variants(previous)
    return b["KC"], b["MC"]


def choices(dtype, threads, f64_blocking):
    """{contender: (variants, MC x KC override or None)}: the default loop nest, each variant
    that changes something here, all of those together, and for float64 the given blocking."""
    out = {DEFAULT: ((), None)}
    default_blocks = blocking_of(dtype)
    for v in registry._ckernels.LOOP_VARIANTS:
        if v == "pack_b_rows" and threads == 1:
            continue  # c_simd packs B on its one thread
        if v == "l2_kc" and blocking_of(dtype, (v,)) == default_blocks:
            continue  # L1's cap does not bind on this CPU: the same sizes as the default
        out[v] = ((v,), None)
    variants = [name for name in out if name != DEFAULT]
    if len(variants) > 1:
        out["all"] = (tuple(variants), None)
    if f64_blocking and np.dtype(dtype) == np.float64:
        out[f"MC {f64_blocking[0]} KC {f64_blocking[1]}"] = ((), f64_blocking)
    return out


def contender(f, dtype, variants, blocking):
    """f(a, b) under these variants (set before every call: the race alternates them) and
    block sizes."""
    if blocking:
        def call(a, b):
            ml.set_loop_variants(variants)
            with ml.blocking_override(dtype, mc=blocking[0], kc=blocking[1]):
                return f(a, b)
        return call

    def call(a, b):
        ml.set_loop_variants(variants)
        return f(a, b)
    return call


def anon_huge_kib():
    """This process's anonymous memory in transparent huge pages, KiB (None without /proc)."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("AnonHugePages:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def transparent_hugepages():
    """The kernel's THP settings: {'enabled': 'always [madvise] never', 'defrag': ...}."""
    out = {}
    for key in ("enabled", "defrag"):
        try:
            with open(f"/sys/kernel/mm/transparent_hugepage/{key}") as f:
                out[key] = f.read().strip()
        except OSError:
            out[key] = "unknown"
    return out


def plan(sizes, dtypes, threads):
    """[(dtype, n, threads)] in the order raced: float64 first (the gap is widest there)."""
    counts = [1] + ([threads] if threads > 1 else [])
    order = sorted(dtypes, key=lambda d: d != "float64")
    return [(d, n, t) for d in order for n in sizes for t in counts]


# Seconds a multi-threaded block waits, on average, for the other library's pools to go
# quiet (OpenBLAS's spin about 0.1 s: timing.py), for predicting a round's length.
QUIET_S = 0.15
# The share of the FMA peak assumed for a call before anything is measured.
ASSUMED_SHARE = 0.8


def predicted(n, threads, contenders, peak, numpy_peak, block):
    """(seconds of one round, seconds of the rest: the checked first calls and the float64
    reference product) of a race, from the FMA peaks: a first guess, which run() corrects by
    what the races before took."""
    call = 2 * n ** 3 / (ASSUMED_SHARE * peak * 1e9)
    per_contender = max(call, block) + QUIET_S if threads > 1 else call
    reference = 2 * n ** 3 / (ASSUMED_SHARE * numpy_peak * 1e9)
    return contenders * per_contender, contenders * call + 2 * reference


def race_config(dtype, n, threads, f64_blocking, budget, block, min_time):
    """Rows of one (dtype, n, threads) race, and notes; None if it could not fit."""
    rng = np.random.default_rng(n)
    a = rng.uniform(-1, 1, (n, n)).astype(dtype)
    b = rng.uniform(-1, 1, (n, n)).astype(dtype)
    kernel = "c_simd" if threads == 1 else "c_omp"
    picked = choices(dtype, threads, f64_blocking)
    blocks = {name: blocking_of(dtype, *choice) for name, choice in picked.items()}
    peak = roofs.fma_peak(dtype, threads)
    with ml.bind(kernel, threads) as mine, ml.bind("numpy", threads) as npy:
        contenders = {"numpy": npy}
        contenders.update({name: contender(mine, dtype, *choice) for name, choice in picked.items()})
        with timing.Watch() as watch:
            r = race(a, b, contenders, baseline=DEFAULT, min_time=min_time, budget=budget,
                     min_rounds=WANTED_ROUNDS[threads > 1],
                     block_time=block if threads > 1 else 0.0)
    peak = roofs.fma_peak(dtype, threads, peak)
    flops = matmul_flops(n, n, n)
    shared = timing.doubts(None, threads, watch)
    rows = []
    for name in contenders:
        speed = gflops(flops, r.timings[name].median)
        doubt = "; ".join(timing.doubts(r.timings[name]) + shared)
        kc_mc = "-" if name == "numpy" else "{} x {}".format(*blocks[name])
        rows.append({"dtype": dtype, "n": n, "threads": threads,
                     "kernel": "numpy" if name == "numpy" else kernel, "contender": name,
                     "KC x MC": kc_mc, "GFLOP/s": round(speed, 2),
                     "% peak": round(100 * speed / peak, 1) if peak else "",
                     "vs default": round(r.ratio(name, DEFAULT), 3),
                     "vs NumPy": round(r.ratio(name, "numpy"), 3),
                     "error": f"{r.errors[name]:.2g}", "rounds": r.rounds, "doubt": doubt,
                     "seconds": r.timings[name].median, "peak GFLOP/s": round(peak, 1)})
    return rows


def run(args):
    """The whole study for experiments/xeon_gap.py's options: writes xeon_gap.csv,
    xeon_gap.txt and machine.json to args.out and prints the table. Returns the exit status:
    1 if a contender gave a wrong answer (that race is not timed; the others go on) or no race
    fitted the budget."""
    from matmul_ladder.bench import machine
    t0 = time.perf_counter()
    f64_blocking = parse_blocking(args.f64_blocking)
    os.makedirs(args.out, exist_ok=True)
    if not registry._ckernels:
        print(f"xeon_gap: the C extension is missing: {registry._C_MISSING}", file=sys.stderr)
        return 1
    before = ml.set_loop_variants(())
    configs = plan(args.sizes, args.dtypes, args.threads)
    peaks = {(d, t): roofs.fma_peak(d, t) for d, _, t in configs}
    numpy_peak = roofs.fma_peak("float64", max(t for _, _, t in configs))
    guesses = [predicted(n, t, len(choices(d, t, f64_blocking)) + 1, peaks[d, t], numpy_peak,
                         args.block) for d, n, t in configs]
    costs = [rest + WANTED_ROUNDS[t > 1] * one for (one, rest), (_, _, t) in zip(guesses, configs)]
    rows, wrong, correction = [], [], {}  # correction: took / guessed, per kind of race
    notes = [f"anonymous huge pages before the races: {anon_huge_kib()} KiB"]
    try:
        for i, (dtype, n, threads) in enumerate(configs):
            left = args.budget - (time.perf_counter() - t0)
            factor = correction.get(threads > 1, 1.0)
            one, rest = (x * factor for x in guesses[i])
            least = rest + MIN_ROUNDS * one
            # its part of what is left, by expected cost, but never under the least it needs:
            # the races come in order of importance (plan), so the last ones pay for that
            share = max(left * costs[i] / sum(costs[i:]), least)
            if least > left:
                notes.append(f"skipped {dtype} n={n} threads={threads}: {left:.0f} s of the "
                             f"budget left, {MIN_ROUNDS} rounds take about {least:.0f} s")
                print(notes[-1], file=sys.stderr, flush=True)
                continue
            started = time.perf_counter()
            try:  # the race's own budget is for its timed rounds: the rest comes first
                got = race_config(dtype, n, threads, f64_blocking, share - rest, args.block,
                                  args.min_time)
            except AssertionError as exc:  # a contender's answer failed its check
                wrong.append(f"{dtype} n={n} threads={threads}: {exc}")
                notes.append(f"not timed: {wrong[-1]}")
                print(notes[-1], file=sys.stderr, flush=True)
                continue
            took = time.perf_counter() - started
            rounds = got[0]["rounds"]
            correction[threads > 1] = took / (guesses[i][1] + rounds * guesses[i][0])
            rows += got
            notes.append(f"{dtype} n={n} threads={threads}: {took:.1f} s, {rounds} rounds; "
                         f"anonymous huge pages now {anon_huge_kib()} KiB")
            print(notes[-1], file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        notes.append("interrupted: the races finished so far")
    finally:
        ml.set_loop_variants(before)
    elapsed = time.perf_counter() - t0
    table = text_table(HEADER, [[r[h] for h in HEADER] for r in rows])
    text = "\n".join([table, "", f"ratios: medians over rounds of paired t(other) / t(contender); "
                      f"> 1 is faster. {elapsed:.0f} s of a {args.budget:.0f} s budget.", *notes])
    print(text)
    with open(os.path.join(args.out, "xeon_gap.txt"), "w") as f:
        f.write(f"$ {args.command}\n\n{text}\n")
    if rows:
        with open(os.path.join(args.out, "xeon_gap.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    with open(os.path.join(args.out, "machine.json"), "w") as f:
        json.dump({**machine.describe(), "transparent_hugepages": transparent_hugepages(),
                   "command": args.command, "budget_s": args.budget, "elapsed_s": elapsed},
                  f, indent=2, default=str)
    return 0 if rows and not wrong else 1
