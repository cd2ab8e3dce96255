"""The roofs a kernel's speed is judged against, and the one policy by which every harness
reads them (docs/harness.md, "Peaks and bandwidths").

- compute: the FMA-throughput microbenchmark (csrc/fma_peak.c) on the same threads; for a
  kernel of bf16 precision (c_bf16, torch_bf16), the peak of the BF16 matrix unit c_bf16
  uses (csrc/bf16_peak.c: TDPBF16PS or VDPBF16PS), and none where no real unit runs (an
  emulated one has no peak worth the name);
- bandwidth: the STREAM triad on the same threads (CPU), the device-to-device copy (GPU).

A roof read while the clock is still low or a neighbour is busy is too low, and would put a
kernel above 100% of it; none can read too high. So a roof is always the HIGHEST of its
readings: each is taken after the pools of the kernel before it have gone quiet
(timing.wait_quiet), the harnesses read them again before every (dtype, size) they measure
and keep the highest so far, and a script that reads one around its own measurement (before
and after) keeps the higher of the two, never their mean.
"""
import numpy as np

from matmul_ladder.bench import timing

FMA_SECONDS = 0.2        # of one FMA-peak reading
TRIAD_ELEMENTS = 1 << 25  # 3 float64 arrays of 256 MiB: far past any L3
TRIAD_REPEATS = 5
GPU_COPY_BYTES = 1 << 30


def _ckernels():
    from matmul_ladder.rungs import registry
    return registry._ckernels


def has_fma_peak():
    ck = _ckernels()
    return ck is not None and ck.active_isa() != "none"


def fma_peak(dtype, threads, known=0.0, seconds=FMA_SECONDS):
    """GFLOP/s of the FMA peak on `threads` threads: the higher of a reading taken now (once
    the last kernel's pools are quiet) and `known`, an earlier reading. For a script's own
    loop: `peak = fma_peak(d, t)` before, `peak = fma_peak(d, t, peak)` after."""
    timing.wait_quiet("fma_peak")  # the last kernel's spinning pool would lower the peak
    return max(_ckernels().fma_peak(np.dtype(dtype).itemsize, threads, seconds), known or 0.0)


def ukernel_peak(dtype, known=0.0, seconds=FMA_SECONDS):
    """The micro-kernel's own ceiling (one thread, panels in L1/L2), by the same policy."""
    timing.wait_quiet("fma_peak")
    return max(_ckernels().ukernel_peak(np.dtype(dtype).itemsize, seconds), known or 0.0)


BF16_ROOF = "bf16"  # the key of the BF16 unit's peak among the peaks, beside the dtypes'


def roof_key(precision, dtype):
    """The compute roof a kernel of this precision is judged against, as a key of
    measure_peaks' dict with the thread count: its dtype's FMA peak, or the BF16 unit's."""
    return BF16_ROOF if precision.startswith("bf16") else dtype


def bf16_unit_in_use():
    """The real BF16 unit c_bf16 uses ('amx' or 'avx512_bf16'), or None: no unit, an emulated
    one, or a build without c_bf16."""
    ck = _ckernels()
    unit = ck.bf16_unit() if ck is not None and hasattr(ck, "bf16_unit") else "none"
    return unit if unit in ("amx", "avx512_bf16") else None


def bf16_peak(threads, known=0.0, seconds=FMA_SECONDS):
    """GFLOP/s of the BF16 unit in use on `threads` threads, by the same policy as fma_peak;
    None where no real unit is in use."""
    unit = bf16_unit_in_use()
    if unit is None:
        return None
    timing.wait_quiet("bf16_peak")
    return max(_ckernels().bf16_peak(threads, seconds, unit), known or 0.0)


def measure_peaks(dtypes, threads, known=None):
    """{(dtype, threads): GFLOP/s}, the highest of a reading now and `known`; {} without SIMD.
    A dtype BF16_ROOF reads the BF16 unit's peak instead, absent where none is in use."""
    known = known or {}
    out = {}
    for d in dtypes:
        for t in threads:
            if d == BF16_ROOF:
                peak = bf16_peak(t, known.get((d, t), 0.0))
            else:
                peak = fma_peak(d, t, known.get((d, t), 0.0)) if has_fma_peak() else None
            if peak is not None:
                out[(d, t)] = peak
    return out


def triad_bandwidth(threads, known=0.0):
    """GB/s of the STREAM triad on `threads` threads, the higher of now and `known`; None
    without the C extension."""
    ck = _ckernels()
    if ck is None:
        return None
    timing.wait_quiet("triad")
    return max(ck.triad_bandwidth(TRIAD_ELEMENTS, threads, TRIAD_REPEATS), known or 0.0)


def gpu_copy_bandwidth(nbytes=GPU_COPY_BYTES, known=0.0):
    """Device-to-device copy in GB/s, counting the read and the write (CUDA events)."""
    import cupy
    src = cupy.ones(nbytes // 4, dtype=cupy.float32)
    dst = cupy.empty_like(src)
    t = timing.time_gpu(lambda: cupy.copyto(dst, src), repeats=20, warmup=3)
    return max(2 * nbytes / t.median / 1e9, known or 0.0)


def empty_roofs():
    return {"triad": {}, "copy_gpu": None, "fma": {}}


def measure_roofs(dtypes, threads, gpu, known=None):
    """{"triad": {threads: GB/s}, "copy_gpu": GB/s or None, "fma": {(dtype, threads): GFLOP/s}},
    each the highest of a reading now and the same entry of `known`."""
    known = known or empty_roofs()
    roofs = empty_roofs()
    for t in threads:
        bw = triad_bandwidth(t, known["triad"].get(t, 0.0))
        if bw is not None:
            roofs["triad"][t] = bw
    roofs["fma"] = {**known["fma"], **measure_peaks(dtypes, threads, known["fma"])}
    if gpu:
        roofs["copy_gpu"] = gpu_copy_bandwidth(known=known.get("copy_gpu") or 0.0)
    return roofs
