"""The public API: matmul, bind, kernels, build_info and the probes (the run-time settings,
set_simd_isa, set_loop_variants, blocking_override and set_strassen_cutoff, are config's,
re-exported here)."""
import contextlib
import json
import os
import platform
import subprocess
import sys
from importlib import resources

from matmul_ladder import config
from matmul_ladder.config import (KernelUnavailableError, _itemsize, _require_ckernels,  # noqa: F401
                                  blocking_override, set_bf16_unit, set_loop_variants,
                                  set_simd_isa, set_strassen_cutoff)
from matmul_ladder.rungs import registry as _registry
from matmul_ladder.rungs.layout import check_operands
from matmul_ladder.rungs.registry import KernelInfo  # noqa: F401  (re-exported)
from matmul_ladder.rungs.threads import default_threads, resolve_threads


def matmul(a, b, kernel="c_omp", threads=None):
    """C = a @ b with one kernel of the ladder.

    CPU kernels take 2-D numpy arrays of one dtype (float32 or float64) and return a new
    C-ordered numpy array of that dtype. Inputs whose rows are not unit-stride (Fortran order,
    column slices, negative strides) are copied once to C order first. GPU kernels ("cupy",
    "torch_cuda", "cuda_*") take and return CuPy arrays; the cuda_* rungs are float32 only.

    threads: None means OMP_NUM_THREADS, else all cores, for parallel kernels, and 1 for the
    others; a single-threaded kernel accepts only None or 1.
    """
    k = _registry.get(kernel, "matmul")
    nthreads = resolve_threads(kernel, k.parallel, threads)
    reason = k.availability()
    if reason:
        raise KernelUnavailableError(f"kernel {kernel!r} is not available here: {reason}")
    if k.device == "gpu":
        import cupy
        check_operands(a, b, kernel, cupy)
    else:
        check_operands(a, b, kernel)
    if a.dtype.name not in k.dtypes:
        raise TypeError(f"kernel {kernel!r} takes {' or '.join(k.dtypes)} only; got {a.dtype}")
    with k.bind(nthreads) as run:
        return run(a, b)


@contextlib.contextmanager
def bind(kernel, threads=None):
    """with ml.bind("c_omp", threads=2) as f: c = f(a, b)

    The kernel as a plain function f(a, b) -> a @ b (for a convolution kernel, f(x, w) -> the
    'valid' cross-correlation of x, at least 3 x 3, with the 3 x 3 w), with its threads pinned (OpenMP count,
    NumPy's BLAS through threadpoolctl, torch.set_num_threads) for the whole block: what
    timing loops call, so that the per-call checks and pinning of ml.matmul are not timed.
    f does not check its operands; give it what ml.matmul would accept."""
    k = _registry.get(kernel)
    nthreads = resolve_threads(kernel, k.parallel, threads)
    reason = k.availability()
    if reason:
        raise KernelUnavailableError(f"kernel {kernel!r} is not available here: {reason}")
    with k.bind(nthreads) as run:
        yield run


def kernels(operation=None):
    """Every kernel of the ladders and every baseline, in ladder order, with availability and
    the operation it computes ("matmul" or "conv2d"); `operation` keeps those of one."""
    if operation is not None and operation not in _registry.OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(_registry.OPERATIONS)} or None, "
                         f"got {operation!r}")
    return [k.info() for k in _registry.KERNELS if operation in (None, k.operation)]


def fma_peak(dtype="float32", threads=1, seconds=0.2):
    """GFLOP/s of the FMA-throughput microbenchmark (csrc/fma_peak.c) with the active ISA's
    vectors on `threads` threads: the "% of peak" that the harness reports against."""
    return _require_ckernels().fma_peak(_itemsize(dtype), threads, seconds)


def ukernel_peak(dtype="float32", seconds=0.2):
    """GFLOP/s of the active micro-kernel alone on panels that stay in L1/L2, one thread: the
    ceiling of c_simd's share of fma_peak."""
    return _require_ckernels().ukernel_peak(_itemsize(dtype), seconds)


def bf16_peak(threads=1, seconds=0.2, unit=None):
    """GFLOP/s of the BF16 matrix unit's peak probe (csrc/bf16_peak.c): TDPBF16PS on four
    accumulator tiles (unit 'amx') or VDPBF16PS on 12 registers ('avx512_bf16'); default the
    best unit here. 0.0 where the unit cannot run. c_bf16's "% of peak" is against it."""
    return _require_ckernels().bf16_peak(threads, seconds, unit)


def bf16_unit():
    """(the unit c_bf16 uses now, why it cannot run or "")."""
    ck = _require_ckernels()
    unit = ck.bf16_unit()
    return unit, ck.bf16_unit_reason("none" if unit == "none" else unit)


def triad_bandwidth(elements=1 << 25, threads=1, repeats=5):
    """Best STREAM-like triad bandwidth in GB/s (csrc/stream.c)."""
    return _require_ckernels().triad_bandwidth(elements, threads, repeats)


def _read_build_config():
    try:
        text = resources.files("matmul_ladder").joinpath("_build_config.json").read_text()
        return json.loads(text)
    except (FileNotFoundError, OSError, ValueError):
        return {}


_FEATURES = ("sse2", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl",
             "avx512_bf16", "amx_tile",  # x86-64 (/proc/cpuinfo "flags")
             "asimd", "asimdhp", "asimddp", "sve", "sve2", "bf16", "i8mm")  # arm64 ("Features")


def _cpu_facts():
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    model = value.strip()
                elif key.strip() in ("flags", "Features"):
                    flags = set(value.split())
                    break
    except OSError:
        pass
    if sys.platform == "darwin":
        try:
            model = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"],
                                   capture_output=True, text=True, timeout=10).stdout.strip() or model
        except (OSError, subprocess.SubprocessError):
            pass
    return {"model": model, "features": [f for f in _FEATURES if f in flags]}


def build_info():
    """How the kernels were built and what this CPU offers them."""
    cfg = _read_build_config()
    ck = _registry._ckernels
    geometry = ck.cache_geometry() if ck else {}
    compiled = ck.compiled_isas() if ck else []
    micro = ("micro-kernels: __attribute__((target(\"avx2,fma\") / (\"avx512f\")))"
             if "avx2" in compiled else "micro-kernels: NEON (arm64 baseline)"
             if "neon" in compiled else "micro-kernels: none for this CPU")
    omp = cfg.get("openmp_flag", "-fopenmp")

    def flags(group, openmp=False, note=""):
        """The flags a rung's file was compiled with, each once (the last -O wins, as in the
        compiler); OpenMP's only for the rungs that use it: files without its pragmas are
        compiled in the same group, where the flag changes nothing."""
        words = f"{cfg.get('python_cflags', '')} {cfg.get(group, '')}".split()
        words = [w for w in words if w != omp] + ([omp] if openmp and cfg.get("openmp") else [])
        seen, out = set(), []
        for w in reversed(words):
            key = "-O" if w.startswith("-O") else w
            if key not in seen:
                seen.add(key)
                out.append(w)
        text = " ".join(reversed(out))
        return f"{text}; {note}" if note else text
    info = {
        "compiler": cfg.get("compiler", "unknown"),
        "compiler_version": cfg.get("compiler_version", "unknown"),
        "flags": {
            "c_naive": flags("plain_flags"), "c_ikj": flags("plain_flags"),
            "c_blocked": flags("plain_flags"),
            "c_simd": flags("packed_flags", note=micro),
            "c_omp": flags("packed_flags", openmp=True, note=micro),
            "c_strassen": flags("packed_flags", openmp=True, note=micro),
            **dict.fromkeys(("cy_naive", "cy_ikj", "cy_blocked"), flags("cython_flags")),
            "cy_prange": flags("cython_flags", openmp=True),
        },
        "plain_flags_source": ("MATMUL_LADDER_CFLAGS" if cfg.get("plain_flags_from_env")
                               else "default"),
        "openmp": bool(ck and ck.has_openmp()),
        "simd": {
            "compiled": compiled,
            "usable": ck.best_isa() if ck else "unknown",
            "active": ck.active_isa() if ck else "unknown",
            # c_simd/c_omp's loop variants in force (ml.set_loop_variants); [] is the default
            "loop_variants": list(ck.loop_variants()) if ck else [],
        },
        "cpu": {**_cpu_facts(), "cores": os.cpu_count(), "default_threads": default_threads(),
                "caches": {level: g[0] for level, g in geometry.items()},
                "cache_geometry": geometry},
        "blocking": {},
        "strassen": {},
        "extension_error": _registry._C_MISSING,
        "tuner_cache": config.tuner_status(),
    }
    if ck:
        isa = ck.active_isa() if ck.active_isa() != "none" else (compiled or ["avx2"])[0]
        for dtype, size in (("float32", 4), ("float64", 8)):
            simd = {"isa": isa, **ck.gemm_blocking(size, isa)}
            simd["source"] = (f"tuned ({config.tuned_from[size]})" if size in config.tuned_from
                              else "set by blocking_override" if simd["overridden"]
                              else "model without L1's cap on KC (loop variant l2_kc)"
                              if "l2_kc" in ck.loop_variants() else "model")
            info["blocking"][dtype] = {"c_blocked": ck.blocked_tiles(size), "c_simd": simd}
            # The Cython rungs' tiles as they read them (through _ckernels: csrc/state.h).
            for rung in (k.name for k in _registry.KERNELS if k.reads_tiles):
                module, missing = _registry.CYTHON_MODULES[rung]
                info["blocking"][dtype][rung] = (module.tiles(size) if module
                                                 else {"unavailable": missing})
            cutoff = ck.strassen_cutoff(size)
            info["strassen"][dtype] = {
                "cutoff": cutoff, "levels": "1 from the cutoff, 2 from twice it",
                "source": (f"tuned ({config.strassen_tuned_from[size]})"
                           if size in config.strassen_tuned_from
                           else "default" if cutoff == ck.default_strassen_cutoff() else "set"),
                "extra_memory": "per level (MK + KN + MN/2) elements: 2.5 n^2 for n x n, "
                                "plus a quarter of that for the second level; kept by the "
                                "calling thread for its next product up to 1/16 of physical "
                                "memory a level",
                "levels_at": {n: ck.strassen_levels(size, n, n, n)
                              for n in (1024, 2048, 4096, 8192, 16384)}}
    return info


TABLE_HEADER = ["name", "language", "rung", "parallel", "available", "description"]
TABLE_OPERATIONS = ("matmul", "conv2d", "all")


def kernel_table(operation="matmul", available_only=False):
    """kernels(operation) as a text table for people, in ladder order ('all': both
    operations, with an operation column): the same table as `matmul-ladder list`.
    "available" is "yes", or "no [i]" with reason i below the table (one note a distinct
    reason, so that twenty GPU kernels share one line)."""
    from matmul_ladder.report.tables import text_table
    if operation not in TABLE_OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(TABLE_OPERATIONS)}, "
                         f"got {operation!r}")
    rows, reasons = [], {}
    for k in kernels(None if operation == "all" else operation):
        if available_only and not k.available:
            continue
        note = "yes" if k.available else f"no [{reasons.setdefault(k.reason, len(reasons) + 1)}]"
        row = [k.name, k.language, "-" if k.rung is None else k.rung,
               "yes" if k.parallel else "no", note, k.description]
        rows.append(row[:1] + [k.operation] + row[1:] if operation == "all" else row)
    header = (TABLE_HEADER[:1] + ["operation"] + TABLE_HEADER[1:] if operation == "all"
              else TABLE_HEADER)
    notes = [f"[{i}] {reason}" for reason, i in reasons.items()]
    return "\n".join([text_table(header, rows)] + ([""] + notes if notes else []))
