"""The run-time settings of the kernels, and where each came from: the micro-kernel ISA, the
loop variants of c_simd/c_omp, the block sizes (set by blocking_override, or by what
`matmul-ladder tune` cached), c_strassen's cutoff. The values themselves live once, in _ckernels' C state (csrc/state.h), which every
blocked rung reads; this module is the one Python side that sets them and remembers why."""
import contextlib
import os
import warnings

from matmul_ladder.rungs import registry as _registry


class KernelUnavailableError(RuntimeError):
    """The kernel exists but cannot run here; the message says why."""


def _require_ckernels():
    if _registry._ckernels is None:
        raise KernelUnavailableError(_registry._C_MISSING)
    return _registry._ckernels


def set_simd_isa(isa):
    """Choose the micro-kernel of c_simd/c_omp: 'avx512', 'avx2', 'neon', 'none' or 'auto' (the best
    this CPU runs). Returns the previous choice. Process-wide; the environment variable
    MATMUL_LADDER_ISA sets it at import. Raises ValueError for an ISA this CPU cannot run.
    The convolution's vector rungs use the same choice: _ckernels holds the one copy of it."""
    ck = _require_ckernels()
    if isa == "auto":
        isa = ck.best_isa()
    return ck.set_isa(isa)


def set_loop_variants(variants):
    """Choose the loop variants of c_simd/c_omp, each an experiment on the loop nest around the
    micro-kernel (docs/numpy.md; experiments/xeon_gap.py races them against the default):
    'prefetch' (the micro-kernel prefetches A and B ahead, and the C tile near the end of its
    k loop), 'hugepages' (packing buffers in 2 MiB-aligned memory advised MADV_HUGEPAGE),
    'pack_b_rows' (c_omp's threads pack B's panel by rows of k instead of by micro-panels) and
    'l2_kc' (KC without L1's cap, from L2 alone). `variants`: a comma-separated string or an
    iterable of names; 'none', '' or an empty iterable is the default loop nest. Returns the
    previous choice, a tuple of names. Process-wide; each call of c_simd/c_omp reads it once,
    as it starts; the environment variable MATMUL_LADDER_LOOP_VARIANTS sets it at import.
    Raises ValueError for an unknown name, TypeError for anything but a string or strings."""
    ck = _require_ckernels()
    if isinstance(variants, str):
        names = [v.strip() for v in variants.split(",")]
    else:
        try:
            names = list(variants)
        except TypeError:
            raise TypeError(f"loop variants must be a string or an iterable of strings, "
                            f"got {variants!r}") from None
        if not all(isinstance(v, str) for v in names):
            raise TypeError(f"loop variants must be strings, got {variants!r}")
    names = [v for v in names if v and v != "none"]
    return ck.set_loop_variants(tuple(dict.fromkeys(names)))


def set_bf16_unit(unit):
    """Choose c_bf16's matrix unit: 'amx', 'avx512_bf16', 'none' or 'auto' (the best here);
    'emulate_amx' and 'emulate_avx512_bf16' are portable scalar micro-kernels with the same
    arithmetic, tile and packing, for tests on CPUs with neither unit (slow: never for
    timing). Returns the previous choice. Process-wide; the environment variable
    MATMUL_LADDER_BF16_UNIT sets it at import. Raises ValueError for a unit this machine
    cannot run, with the reason (for AMX: the CPU, the OS, or the kernel's permission)."""
    ck = _require_ckernels()
    if unit == "auto":
        unit = ck.bf16_best_unit()
    return ck.set_bf16_unit(unit)


def _itemsize(dtype):
    import numpy as np
    dtype = np.dtype(dtype)
    if dtype.name not in ("float32", "float64"):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    return dtype.itemsize


overrides = {}  # itemsize -> (mc, kc, nc, kb, nb) in force
tuned_from = {}  # itemsize -> the tuner's cache file whose sizes are in force
strassen_tuned_from = {}  # itemsize -> the tuner's cache file whose Strassen cutoff is in force
# What the tuner's cache gave at its last apply: its path, what it applied per dtype, what it
# ignored and why, and the variable that turned it off (tuning.cache writes it).
tuner_cache = {"path": None, "applied": {}, "ignored": [], "disabled_by": ""}


def tuner_status():
    """A copy of tuner_cache (build_info()["tuner_cache"])."""
    return {"path": tuner_cache["path"], "applied": dict(tuner_cache["applied"]),
            "ignored": list(tuner_cache["ignored"]), "disabled_by": tuner_cache["disabled_by"]}


def _set_blocking(size, mc=0, kc=0, nc=0, kb=0, nb=0):
    # _ckernels owns the sizes of every blocked rung, the Cython ones too (csrc/state.h).
    ck = _require_ckernels()
    ck.set_gemm_blocking(size, mc, kc, nc)
    ck.set_blocked_tiles(size, kb, nb)
    overrides[size] = (mc, kc, nc, kb, nb)


@contextlib.contextmanager
def blocking_override(dtype, mc=0, kc=0, nc=0, kb=0, nb=0):
    """Within the block, c_simd/c_omp use these MC, KC, NC and c_blocked, cy_blocked and
    cy_prange these KB, NB for `dtype` (0 keeps the model's size), on every thread: for
    tuning sweeps and tests. Process-wide; restores the sizes in force before it."""
    size = _itemsize(dtype)
    before = overrides.get(size, (0, 0, 0, 0, 0))
    tuned = tuned_from.pop(size, None)
    _set_blocking(size, mc, kc, nc, kb, nb)
    try:
        yield
    finally:
        _set_blocking(size, *before)
        if tuned:
            tuned_from[size] = tuned


def set_strassen_cutoff(n, dtype=None):
    """c_strassen's cutoff: it takes one level of Strassen when the smallest of M, N and K is
    at least n, two from 2n. dtype None sets both; n = 0 restores the default. Returns the
    previous cutoff (of float32 when dtype is None). Process-wide."""
    ck = _require_ckernels()
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"the Strassen cutoff must be an int >= 0, got {n!r}")
    sizes = (4, 8) if dtype is None else (_itemsize(dtype),)
    previous = ck.strassen_cutoff(sizes[0])
    for size in sizes:
        ck.set_strassen_cutoff(size, n)
        strassen_tuned_from.pop(size, None)
    return previous


def apply_tuned(size, gemm=None, tiles=None, cutoff=None, source=""):
    """Sizes a tuner's cache gives one element size: gemm (MC, KC, NC), tiles (KB, NB) and the
    Strassen cutoff, each None to keep the model's; `source` names the cache file."""
    if gemm or tiles:
        _set_blocking(size, *(gemm or (0, 0, 0)), *(tiles or (0, 0)))
        tuned_from[size] = source
    if cutoff is not None:
        set_strassen_cutoff(cutoff, "float32" if size == 4 else "float64")
        strassen_tuned_from[size] = source


def forget_tuned():
    """Back to the model's sizes and the default cutoff wherever a tuner's were in force."""
    for size in (4, 8):
        if size in tuned_from:
            _set_blocking(size)
            del tuned_from[size]
        if strassen_tuned_from.pop(size, None):
            set_strassen_cutoff(0, "float32" if size == 4 else "float64")


def _apply_from_environment(variable, setter, binding):
    """At import: the choice an environment variable names, through its setter; a choice this
    machine cannot make is a warning, not an import error. `binding` is the _ckernels function
    the setter needs (absent from a build without the extension or without that rung)."""
    wanted = os.environ.get(variable, "").strip().lower()
    if not wanted or not hasattr(_registry._ckernels, binding):
        return
    try:
        setter(wanted)
    except ValueError as exc:
        warnings.warn(f"{variable}={wanted!r} ignored: {exc}", RuntimeWarning, stacklevel=3)


_apply_from_environment("MATMUL_LADDER_ISA", set_simd_isa, "set_isa")
_apply_from_environment("MATMUL_LADDER_BF16_UNIT", set_bf16_unit, "set_bf16_unit")
_apply_from_environment("MATMUL_LADDER_LOOP_VARIANTS", set_loop_variants, "set_loop_variants")
