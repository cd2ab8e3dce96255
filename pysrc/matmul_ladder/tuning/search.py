"""The on-machine tuner: a bounded search around the blocking model's sizes, kept per CPU.

    matmul-ladder tune                 # < 2 minutes on 2 cores; ml.tune() does the same
    MATMUL_LADDER_NO_TUNE=1 ...        # ignore what was tuned: the model's sizes

For each dtype, candidates around the model's (KC, MC) are each checked against NumPy, then
raced call by call in one process against the model's own choice, at one size whose C is
larger than L2, on 1 thread and on all threads (c_simd and c_omp); and candidates around
c_blocked's (KB, NB) likewise, on one thread at half that size. A candidate wins only if its
median speed-up over the model, taken over both thread counts, passes MARGIN: this machine's
noise is larger than most of the differences a search finds. The winner (or the model, if
nothing won) is written to the user's cache directory, keyed by the CPU (model name, caches,
ISA), and c_simd, c_omp and c_blocked use it from the next import on. The model alone is what
the project's figures are measured with; the tuner is for machines nobody here has.

It also finds c_strassen's cutoff on all threads: one level against c_omp at n = 512, 1024,
... for as long as its share of the time allows; the cutoff is the smallest n from which one
level is MARGIN faster at every size raced (if it never is, twice the largest raced, and not
below the default).
"""
import math
import statistics
import time

import numpy as np

from matmul_ladder import api as _api
from matmul_ladder import config
from matmul_ladder.bench.race import race
from matmul_ladder.rungs.threads import cores
from matmul_ladder.tuning.cache import _save, apply

MARGIN = 1.03          # a candidate must be this much faster than the model to be kept
STRASSEN_SIZES = (512, 1024, 2048, 4096, 8192)
KC_FACTORS = (0.5, 1.0, 1.5)
MC_FACTORS = (0.5, 1.0, 2.0)


def candidates(model):
    """(MC, KC) pairs around the model's, the model's own first."""
    mr = model["MR"]
    out = [(model["MC"], model["KC"])]
    for kf in KC_FACTORS:
        for mf in MC_FACTORS:
            kc = max(8, int(model["KC"] * kf) // 8 * 8)
            mc = max(mr, int(model["MC"] * mf) // mr * mr)
            if (mc, kc) not in out:
                out.append((mc, kc))
    return out


def tile_candidates(model):
    """(KB, NB) pairs around c_blocked's model tiles, the model's own first."""
    out = [(model["KB"], model["NB"])]
    for kf in (0.5, 2.0):
        for nf in (0.5, 1.0):
            pair = (max(8, int(model["KB"] * kf)), max(16, int(model["NB"] * nf) // 16 * 16))
            if pair not in out:
                out.append(pair)
    return out


def _race(kernel, threads, a, b, pairs, setter, seconds):
    """{pair: speed-up over pairs[0]}: each pair's sizes set (by setter) around its calls."""
    def contender(f, pair):
        def run(x, y):
            setter(*pair)
            return f(x, y)
        return run
    with _api.bind(kernel, threads) as f:
        r = race(a, b, {pair: contender(f, pair) for pair in pairs}, baseline=pairs[0],
                 min_time=seconds / 2, budget=seconds, min_rounds=3, block_time=0.0)
    return r.ratios


def _winner(ratios_by_run, pairs):
    """The pair whose median speed-up passes MARGIN, else the model's (pairs[0])."""
    score = {pair: statistics.median(r[pair] for r in ratios_by_run) for pair in pairs}
    best = max(score, key=score.get)
    kept = best if score[best] >= MARGIN else pairs[0]
    return kept, round(score[kept], 3)


def _strassen_speedups(dtype, threads, seconds, rng):
    """{n: speed-up of one Strassen level over c_omp}, on `threads`, for the sizes of
    STRASSEN_SIZES that fit in `seconds` (the first always; a larger one only if three
    rounds of both, at 8x the time of the last c_omp call, still fit)."""
    size = np.dtype(dtype).itemsize
    speedups, deadline = {}, time.perf_counter() + seconds
    if not all(k.available for k in _api.kernels("matmul") if k.name in ("c_omp", "c_strassen")):
        return speedups  # built without OpenMP: nothing to race
    with _api.bind("c_omp", threads) as omp, _api.bind("c_strassen", threads) as strassen:
        call = 0.0
        for n in STRASSEN_SIZES:
            left = deadline - time.perf_counter()
            if speedups and 2 * 3 * 8 * call > left:
                break
            a = rng.uniform(-1, 1, (n, n)).astype(dtype)
            b = rng.uniform(-1, 1, (n, n)).astype(dtype)

            def one_level(x, y, n=n):  # the cutoff at n: one level for this n x n product
                config._require_ckernels().set_strassen_cutoff(size, n)
                return strassen(x, y)
            r = race(a, b, {"c_omp": omp, "c_strassen": one_level}, baseline="c_omp",
                     min_time=max(left, 0.0) / 4, budget=max(left, 0.0), min_rounds=3)
            speedups[n] = round(r.ratios["c_strassen"], 3)
            call = r.timings["c_omp"].median
    return speedups


def _crossover(speedups, default):
    """The smallest n from which every speed-up passes MARGIN. If none does, twice the largest
    n raced, but never below the default: the races say nothing of sizes past theirs. The
    default when nothing was raced."""
    sizes = sorted(speedups)
    if not sizes:
        return default
    for i, n in enumerate(sizes):
        if all(speedups[m] >= MARGIN for m in sizes[i:]):
            return n
    return max(default, 2 * sizes[-1])


def tune(seconds=120.0, dtypes=("float32", "float64"), threads=None, n=None, progress=None,
         save=True):
    """Search around the model's blocking on this machine; returns {dtype: sizes} and, with
    save, caches it for this CPU (see the module's doc). seconds bounds the whole search;
    progress: a callable(done, total, text) or None."""
    if not next(k.available for k in _api.kernels() if k.name == "c_simd"):
        raise _api.KernelUnavailableError("nothing to tune: c_simd is not available here")
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ValueError(f"seconds must be a finite number > 0, got {seconds}")
    threads = threads or cores()
    thread_counts = sorted({1, threads})
    rng = np.random.default_rng(0)
    results, started = {}, time.perf_counter()
    jobs = [(d, t) for d in dtypes for t in thread_counts + ["c_blocked", "c_strassen"]]
    per_job = seconds / len(jobs)
    previous = {size: config.overrides.get(size, (0,) * 5) for size in (4, 8)}
    tuned_from = dict(config.tuned_from)
    ck = config._require_ckernels()
    cutoffs = {size: ck.strassen_cutoff(size) for size in (4, 8)}
    strassen_from = dict(config.strassen_tuned_from)

    def done(dtype, what):
        if progress:
            progress(jobs.index((dtype, what)) + 1, len(jobs),
                     f"{dtype}, {what if isinstance(what, str) else f'{what} thread(s)'}")
    try:
        for dtype in dtypes:
            size = np.dtype(dtype).itemsize
            config._set_blocking(size)  # the model's sizes, whatever was tuned before
            model = _api.build_info()["blocking"][dtype]
            simd, tiles = model["c_simd"], model["c_blocked"]
            side = n or _size_past_l2(size)
            a = rng.uniform(-1, 1, (side, side)).astype(dtype)
            b = rng.uniform(-1, 1, (side, side)).astype(dtype)
            pairs, runs = candidates(simd), []
            for t in thread_counts:
                runs.append(_race("c_simd" if t == 1 else "c_omp", t, a, b, pairs,
                                  lambda mc, kc: config._set_blocking(size, mc, kc, simd["NC"]),
                                  per_job))
                done(dtype, t)
            (mc, kc), speedup = _winner(runs, pairs)
            # c_blocked is slow: its race runs on a quarter of the size, one thread.
            small = a[: max(64, side // 2), : max(64, side // 2)]
            tile_pairs = tile_candidates(tiles)
            tile_runs = [_race("c_blocked", 1, small, small, tile_pairs,
                               lambda kb, nb: config._set_blocking(size, kb=kb, nb=nb), per_job)]
            done(dtype, "c_blocked")
            (kb, nb), tile_speedup = _winner(tile_runs, tile_pairs)
            default_cutoff = ck.default_strassen_cutoff()
            strassen = _strassen_speedups(dtype, threads, per_job, rng)
            done(dtype, "c_strassen")
            cutoff = _crossover(strassen, default_cutoff)
            results[dtype] = {
                "MC": mc, "KC": kc, "NC": simd["NC"],
                "source": "tuned" if (mc, kc) != pairs[0] else "model",
                "speedup_over_model": speedup, "n": side, "threads": thread_counts,
                "model": {"MC": simd["MC"], "KC": simd["KC"], "NC": simd["NC"]},
                "c_blocked": {"KB": kb, "NB": nb,
                              "source": "tuned" if (kb, nb) != tile_pairs[0] else "model",
                              "speedup_over_model": tile_speedup, "n": small.shape[0],
                              "model": {"KB": tiles["KB"], "NB": tiles["NB"]}},
                "strassen": {"cutoff": cutoff,
                             "source": "tuned" if cutoff != default_cutoff else "default",
                             "default": default_cutoff, "threads": threads,
                             "speedup_over_c_omp": {str(n): x for n, x in strassen.items()}}}
    finally:  # the sizes and cutoffs in force before the search
        for size, sizes in previous.items():
            config._set_blocking(size, *sizes)
            ck.set_strassen_cutoff(size, cutoffs[size])
        config.tuned_from.clear()
        config.tuned_from.update(tuned_from)
        config.strassen_tuned_from.clear()
        config.strassen_tuned_from.update(strassen_from)
    results["seconds"] = round(time.perf_counter() - started, 1)
    if save:
        _save({k: v for k, v in results.items() if k != "seconds"})
        for dtype in dtypes:  # the model's sizes and default cutoff, then what won
            config._set_blocking(np.dtype(dtype).itemsize)
            config.tuned_from.pop(np.dtype(dtype).itemsize, None)
            if config.strassen_tuned_from.pop(np.dtype(dtype).itemsize, None):
                config.set_strassen_cutoff(0, dtype)
        apply()
    return results


def _size_past_l2(itemsize):
    """A square size whose C is about four times L2: the product then streams C, as large
    ones do, while one call stays short."""
    l2 = _api.build_info()["cpu"]["caches"].get("L2", 1 << 20)
    n = int(math.sqrt(4 * l2 / itemsize))
    return max(256, min(2048, n // 64 * 64))
