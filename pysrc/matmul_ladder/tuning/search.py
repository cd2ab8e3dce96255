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
import contextlib
import json
import math
import os
import statistics
import tempfile
import time
import warnings

import numpy as np

from matmul_ladder import api as _api
from matmul_ladder.rungs.threads import cores
from matmul_ladder.bench.race import race

MARGIN = 1.03          # a candidate must be this much faster than the model to be kept
ENV_IGNORE = "MATMUL_LADDER_NO_TUNE"
ENV_DIR = "MATMUL_LADDER_CACHE_DIR"
STRASSEN_SIZES = (512, 1024, 2048, 4096, 8192)
KC_FACTORS = (0.5, 1.0, 1.5)
MC_FACTORS = (0.5, 1.0, 2.0)


def cache_dir():
    """Where tuned sizes live: $MATMUL_LADDER_CACHE_DIR, else the platform's user cache
    directory (platformdirs; ~/.cache/matmul-ladder on Linux)."""
    if os.environ.get(ENV_DIR):
        return os.environ[ENV_DIR]
    try:
        import platformdirs
        return platformdirs.user_cache_dir("matmul-ladder")
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return os.path.join(base, "matmul-ladder")


def cpu_key():
    """What a tuned result belongs to: the CPU model, its caches and the micro-kernel ISA."""
    info = _api.build_info()
    geometry = info["cpu"].get("cache_geometry", {})
    caches = ",".join(f"{level}={'/'.join(map(str, geometry[level]))}" for level in sorted(geometry))
    return f"{info['cpu']['model']}|{caches}|{info['simd']['active']}"


def cache_path():
    return os.path.join(cache_dir(), "tuned_blocking.json")


class TunerCacheWarning(UserWarning):
    """What `matmul-ladder tune` left behind could not be used (damaged, from another
    version, or absurd): the model's sizes are used instead. warnings.simplefilter("ignore",
    ml.TunerCacheWarning) silences it."""


FORGET_HINT = "`matmul-ladder tune --forget` deletes it"
_MAX_SIDE = 1 << 16         # no block side past this: 65536 rows of a panel is already absurd
_CACHE_MULTIPLE = 16        # a block may exceed the cache it is sized for by this much at most
_last = {"path": None, "applied": {}, "ignored": []}   # what apply() found: build_info's report


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _limits(dtype):
    """(MR, NR, bytes of L2, bytes of L3) that this CPU's kernels use for `dtype`."""
    info = _api.build_info()
    simd = info["blocking"][dtype]["c_simd"]
    caches = info["cpu"]["caches"]
    return simd["MR"], simd["NR"], caches.get("L2") or 1 << 20, caches.get("L3") or 32 << 20


def _problems(dtype, sizes):
    """What is wrong with one dtype's entry, as sentences; [] if it can be applied. The
    bounds: each size at least its micro-tile side and 8, at most _MAX_SIDE; a packed block of
    A (MC x KC) at most _CACHE_MULTIPLE times L2, a panel of B (KC x NC) and c_blocked's tile
    of B (KB x NB) at most that times L3 and L2; the Strassen cutoff from 64 to 2^20."""
    if not isinstance(sizes, dict):
        return [f"{dtype}: a {type(sizes).__name__}, not a mapping"]
    mr, nr, l2, l3 = _limits(dtype)
    item, out = np.dtype(dtype).itemsize, []

    def ints(where, entry, names, least):
        if not isinstance(entry, dict):
            out.append(f"{dtype} {where}: a {type(entry).__name__}, not a mapping")
            return None
        if entry.get("source") not in ("tuned", "model", "default"):
            out.append(f"{dtype} {where}: source {entry.get('source')!r}, not 'tuned' or 'model'")
        values = {}
        for name in names:
            v = entry.get(name)
            if name not in entry:
                out.append(f"{dtype} {where}: {name} missing")
            elif not _is_int(v):
                out.append(f"{dtype} {where}: {name} = {v!r}, not an integer")
            elif not least[name] <= v <= _MAX_SIDE:
                out.append(f"{dtype} {where}: {name} = {v} outside {least[name]}..{_MAX_SIDE}")
            else:
                values[name] = v
        return values if len(values) == len(names) else None

    gemm = ints("c_simd", sizes, ("MC", "KC", "NC"), {"MC": mr, "KC": 8, "NC": nr})
    if gemm and gemm["MC"] * gemm["KC"] * item > _CACHE_MULTIPLE * l2:
        out.append(f"{dtype} c_simd: an A block of MC x KC = {gemm['MC']} x {gemm['KC']} is "
                   f"over {_CACHE_MULTIPLE} times L2")
    if gemm and gemm["KC"] * gemm["NC"] * item > _CACHE_MULTIPLE * l3:
        out.append(f"{dtype} c_simd: a B panel of KC x NC = {gemm['KC']} x {gemm['NC']} is "
                   f"over {_CACHE_MULTIPLE} times L3")
    tiles = ints("c_blocked", sizes.get("c_blocked"), ("KB", "NB"), {"KB": 8, "NB": 8})
    if tiles and tiles["KB"] * tiles["NB"] * item > _CACHE_MULTIPLE * l2:
        out.append(f"{dtype} c_blocked: a B tile of KB x NB = {tiles['KB']} x {tiles['NB']} is "
                   f"over {_CACHE_MULTIPLE} times L2")
    strassen = sizes.get("strassen")
    if not isinstance(strassen, dict):
        out.append(f"{dtype} strassen: a {type(strassen).__name__}, not a mapping")
    elif strassen.get("source") not in ("tuned", "default"):
        out.append(f"{dtype} strassen: source {strassen.get('source')!r}, not 'tuned' or 'default'")
    elif not _is_int(strassen.get("cutoff")) or not 64 <= strassen["cutoff"] <= 1 << 20:
        out.append(f"{dtype} strassen: cutoff {strassen.get('cutoff')!r}, not an integer "
                   f"from 64 to {1 << 20}")
    return out


def _read():
    """(this CPU's blocking entry or {}, [problems of the file as a whole])."""
    try:
        with open(cache_path(), "rb") as f:
            everything = json.loads(f.read().decode("utf-8"))
    except FileNotFoundError:
        return {}, []
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        return {}, [f"not readable as JSON ({type(exc).__name__}: {exc})"]
    if not isinstance(everything, dict):
        return {}, [f"a JSON {type(everything).__name__}, not a mapping of CPUs"]
    entry = everything.get(cpu_key())
    if entry is None:
        return {}, []
    if not isinstance(entry, dict) or not isinstance(entry.get("blocking"), dict):
        return {}, ["this CPU's entry has no mapping 'blocking'"]
    return entry["blocking"], []


def load():
    """{dtype: sizes} tuned for this CPU that pass every check, or {} (none, or ignored).
    Use problems() for what was left out and why."""
    return _validated()[0]


def problems():
    """Why entries of the cache were ignored, as sentences naming the file."""
    return _validated()[1]


def _validated():
    if os.environ.get(ENV_IGNORE, "").strip() not in ("", "0"):
        return {}, []
    blocking, whole = _read()
    out, found = {}, [f"{cache_path()}: {p}" for p in whole]
    for dtype, sizes in blocking.items():
        if dtype not in ("float32", "float64"):
            found.append(f"{cache_path()}: an entry {dtype!r}, not float32 or float64")
            continue
        wrong = _problems(dtype, sizes)
        if wrong:
            found.append(f"{cache_path()}: {'; '.join(wrong)}")
        else:
            out[dtype] = sizes
    return out, found


def apply(tuned=None):
    """Make c_simd/c_omp, c_blocked and c_strassen use the tuned sizes (load()'s by default:
    each dtype's entry only if all of it passes the checks; the rest is ignored, with one
    TunerCacheWarning naming the file and the reason). Returns what it applied."""
    if tuned is None:
        tuned, ignored = _validated()
        if ignored:
            warnings.warn(f"tuned sizes ignored, the model's used instead: {' | '.join(ignored)}"
                          f" ({FORGET_HINT})", TunerCacheWarning, stacklevel=2)
        _last.update(path=cache_path(), applied={}, ignored=ignored)
    for dtype, sizes in tuned.items():
        if dtype not in ("float32", "float64"):
            continue
        size = np.dtype(dtype).itemsize
        gemm = sizes.get("source") == "tuned"
        tiles = sizes.get("c_blocked", {}).get("source") == "tuned"
        if gemm or tiles:
            _api._set_blocking(size, *((sizes["MC"], sizes["KC"], sizes["NC"]) if gemm else (0, 0, 0)),
                               *((sizes["c_blocked"]["KB"], sizes["c_blocked"]["NB"]) if tiles
                                 else (0, 0)))
            _api._tuned_from[size] = cache_path()
        strassen = sizes.get("strassen", {})
        if strassen.get("source") == "tuned" and _is_int(strassen.get("cutoff")):
            _api.set_strassen_cutoff(strassen["cutoff"], dtype)
            _api._strassen_tuned_from[size] = cache_path()
        _last["applied"][dtype] = [what for what, used in (("c_simd", gemm), ("c_blocked", tiles),
                                                           ("strassen", strassen.get("source") == "tuned"))
                                   if used]
    return tuned


def status():
    """The cache as the last apply() found it: its path, what it applied per dtype, and what
    it ignored and why (build_info()["tuner_cache"])."""
    return {"path": _last["path"] or cache_path(), "applied": dict(_last["applied"]),
            "ignored": list(_last["ignored"]),
            "disabled_by": ENV_IGNORE if os.environ.get(ENV_IGNORE, "").strip() not in ("", "0")
            else ""}


@contextlib.contextmanager
def _locked():
    """An exclusive lock on the cache for a read-modify-write (fcntl where there is one; two
    writers elsewhere still never leave half a file, since each replaces it whole)."""
    os.makedirs(cache_dir(), exist_ok=True)
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(cache_path() + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write(everything):
    """Replace the cache whole: a reader sees the old file or the new one, never a part."""
    fd, tmp = tempfile.mkstemp(dir=cache_dir(), prefix=".tuned_blocking.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(everything, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, cache_path())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _everything():
    """The whole cache as a mapping of CPUs; {} where it is missing or damaged."""
    try:
        with open(cache_path(), "rb") as f:
            everything = json.loads(f.read().decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return everything if isinstance(everything, dict) else {}


def _save(results):
    with _locked():
        everything = _everything()
        everything[cpu_key()] = {"blocking": results, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
        _write(everything)


def forget():
    """Delete what is cached for this CPU (the whole file, if it is damaged beyond reading);
    True if there was something. The model's sizes are in force afterwards."""
    forgot = False
    with _locked():
        if os.path.exists(cache_path()):
            everything = _everything()
            if not everything:           # empty, or not a mapping of CPUs: nothing to keep
                os.unlink(cache_path())
                forgot = True
            elif everything.pop(cpu_key(), None) is not None:
                _write(everything)
                forgot = True
    for size in (4, 8):
        if size in _api._tuned_from:
            _api._set_blocking(size)
            del _api._tuned_from[size]
        if _api._strassen_tuned_from.pop(size, None):
            _api.set_strassen_cutoff(0, np.dtype("float32" if size == 4 else "float64"))
    _last.update(applied={}, ignored=[])
    return forgot


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
                _api._require_ckernels().set_strassen_cutoff(size, n)
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
    previous = {size: _api._overrides.get(size, (0,) * 5) for size in (4, 8)}
    tuned_from = dict(_api._tuned_from)
    ck = _api._require_ckernels()
    cutoffs = {size: ck.strassen_cutoff(size) for size in (4, 8)}
    strassen_from = dict(_api._strassen_tuned_from)

    def done(dtype, what):
        if progress:
            progress(jobs.index((dtype, what)) + 1, len(jobs),
                     f"{dtype}, {what if isinstance(what, str) else f'{what} thread(s)'}")
    try:
        for dtype in dtypes:
            size = np.dtype(dtype).itemsize
            _api._set_blocking(size)  # the model's sizes, whatever was tuned before
            model = _api.build_info()["blocking"][dtype]
            simd, tiles = model["c_simd"], model["c_blocked"]
            side = n or _size_past_l2(size)
            a = rng.uniform(-1, 1, (side, side)).astype(dtype)
            b = rng.uniform(-1, 1, (side, side)).astype(dtype)
            pairs, runs = candidates(simd), []
            for t in thread_counts:
                runs.append(_race("c_simd" if t == 1 else "c_omp", t, a, b, pairs,
                                  lambda mc, kc: _api._set_blocking(size, mc, kc, simd["NC"]),
                                  per_job))
                done(dtype, t)
            (mc, kc), speedup = _winner(runs, pairs)
            # c_blocked is slow: its race runs on a quarter of the size, one thread.
            small = a[: max(64, side // 2), : max(64, side // 2)]
            tile_pairs = tile_candidates(tiles)
            tile_runs = [_race("c_blocked", 1, small, small, tile_pairs,
                               lambda kb, nb: _api._set_blocking(size, kb=kb, nb=nb), per_job)]
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
            _api._set_blocking(size, *sizes)
            ck.set_strassen_cutoff(size, cutoffs[size])
        _api._tuned_from.clear()
        _api._tuned_from.update(tuned_from)
        _api._strassen_tuned_from.clear()
        _api._strassen_tuned_from.update(strassen_from)
    results["seconds"] = round(time.perf_counter() - started, 1)
    if save:
        _save({k: v for k, v in results.items() if k != "seconds"})
        for dtype in dtypes:  # the model's sizes and default cutoff, then what won
            _api._set_blocking(np.dtype(dtype).itemsize)
            _api._tuned_from.pop(np.dtype(dtype).itemsize, None)
            if _api._strassen_tuned_from.pop(np.dtype(dtype).itemsize, None):
                _api.set_strassen_cutoff(0, dtype)
        apply()
    return results


def _size_past_l2(itemsize):
    """A square size whose C is about four times L2: the product then streams C, as large
    ones do, while one call stays short."""
    l2 = _api.build_info()["cpu"]["caches"].get("L2", 1 << 20)
    n = int(math.sqrt(4 * l2 / itemsize))
    return max(256, min(2048, n // 64 * 64))
