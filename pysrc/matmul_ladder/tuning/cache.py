"""The tuner's cache: where `matmul-ladder tune` keeps what it found for each CPU, every value
checked before it is applied (a damaged file never stops the package: the entry is ignored,
with one TunerCacheWarning), written whole under a lock, and forgotten on request.

    MATMUL_LADDER_NO_TUNE=1 ...        # ignore what was tuned: the model's sizes
    MATMUL_LADDER_CACHE_DIR=DIR ...    # keep the cache in DIR
"""
import contextlib
import json
import os
import tempfile
import time
import warnings

import numpy as np

from matmul_ladder import api as _api
from matmul_ladder import config

ENV_IGNORE = "MATMUL_LADDER_NO_TUNE"
ENV_DIR = "MATMUL_LADDER_CACHE_DIR"


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
        config.tuner_cache.update(
            path=cache_path(), applied={}, ignored=ignored,
            disabled_by=ENV_IGNORE if os.environ.get(ENV_IGNORE, "").strip() not in ("", "0") else "")
    for dtype, sizes in tuned.items():
        if dtype not in ("float32", "float64"):
            continue
        size = np.dtype(dtype).itemsize
        gemm = sizes.get("source") == "tuned"
        tiles = sizes.get("c_blocked", {}).get("source") == "tuned"
        strassen = sizes.get("strassen", {})
        cut = strassen.get("source") == "tuned" and _is_int(strassen.get("cutoff"))
        config.apply_tuned(size, (sizes["MC"], sizes["KC"], sizes["NC"]) if gemm else None,
                           (sizes["c_blocked"]["KB"], sizes["c_blocked"]["NB"]) if tiles else None,
                           strassen["cutoff"] if cut else None, cache_path())
        config.tuner_cache["applied"][dtype] = [what for what, used in (("c_simd", gemm), ("c_blocked", tiles),
                                                           ("strassen", strassen.get("source") == "tuned"))
                                   if used]
    return tuned


def status():
    """The cache as the last apply() found it: its path, what it applied per dtype, and what
    it ignored and why (build_info()["tuner_cache"], kept in config)."""
    return config.tuner_status()


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
    config.forget_tuned()
    config.tuner_cache.update(applied={}, ignored=[])
    return forgot
