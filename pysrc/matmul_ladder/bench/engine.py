"""The measuring engine of the ladder: every kernel, checked, then timed, row by row.

For each dtype and shape (smallest first), the inputs and the float64 reference are made
once; then every kernel runs at each thread count (serial kernels at 1), GPU kernels once
with data on the GPU ("compute") and once from host arrays ("copies"). Each result is checked
against the reference before anything is timed: a wrong one is a FAILED row, never a time.
A kernel stops growing once one call would pass the per-call budget (its time at the last
size scaled by the FLOP ratio): the rest of its sizes are "skipped" rows that say why.
Every row is appended to the CSV the moment it is measured, so Ctrl-C keeps them.

Beside its speed each row gives its answer's normwise error against float64
(check.Reference.normwise_error). Before a kernel's first call the pools of the library called
before it have gone quiet (timing.wait_quiet). A measurement that timing.doubts() or its growth
from the size before (timing.exponent_doubt) calls doubtful is taken once more after a quiet
period, the better-behaved of the two is kept, and whatever still makes it doubtful goes to the
row's `flag` (empty for a row that nothing makes doubtful).
"""
import csv
import os
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

import numpy as np

from matmul_ladder.rungs import registry as _registry
from matmul_ladder.bench import timing
from matmul_ladder.bench.timing import gflops, matmul_flops
from matmul_ladder.rungs.threads import cores
from matmul_ladder.bench.check import Reference

COLUMNS = ["run", "kernel", "language", "rung", "device", "mode", "dtype", "M", "N", "K",
           "threads", "status", "median_s", "min_s", "max_s", "repeats", "gflops",
           "peak_gflops", "pct_peak", "note", "normwise_error", "flag"]
# normwise_error and flag came last, so that a CSV written before them still loads.


@dataclass
class Config:
    sizes: Sequence[int] = (64, 128, 256, 512, 1024, 2048)
    shapes: Sequence[Tuple[int, int, int]] = ()  # extra (M, K, N), e.g. (1, 25600, 100)
    dtypes: Sequence[str] = ("float32", "float64")
    threads: Sequence[int] = field(default_factory=lambda: sorted({1, cores()}))
    budget: float = 10.0     # seconds one call may take before the kernel stops growing
    min_time: float = 0.5    # seconds of repeats per measurement, at least 3 repeats
    kernels: Optional[Sequence[str]] = None  # None: every kernel in the registry
    seed: int = 0

    def all_shapes(self):
        square = [(n, n, n) for n in self.sizes]
        return sorted(set(square) | set(map(tuple, self.shapes)),
                      key=lambda s: (matmul_flops(*s), s))


def measure_peaks(dtypes, threads, known=None):
    """{(dtype, threads): GFLOP/s} of the FMA microbenchmark, the highest of this measurement
    and those in `known`; empty without SIMD. A peak measured while the clock was still low
    or a neighbour was busy is too low, and would put a kernel above 100% of it, so the
    harness measures again at every shape and keeps the highest."""
    ck = _registry._ckernels
    if ck is None or ck.active_isa() == "none":
        return {}
    known = known or {}
    timing.wait_quiet("fma_peak")  # the last kernel's spinning pool would lower the peak
    return {(d, t): max(ck.fma_peak(np.dtype(d).itemsize, t, 0.2), known.get((d, t), 0.0))
            for d in dtypes for t in threads}


class CsvLog:
    """Appends rows to a CSV file, flushed one by one."""

    def __init__(self, path, columns=COLUMNS):
        self.path = path
        is_new = not os.path.exists(path) or os.path.getsize(path) == 0
        self.file = open(path, "a", newline="")
        self.writer = csv.DictWriter(self.file, fieldnames=columns)
        if is_new:
            self.writer.writeheader()
            self.file.flush()

    def write(self, row):
        self.writer.writerow(row)
        self.file.flush()

    def close(self):
        self.file.close()


def _is_square(a, b):
    return a.shape[0] == a.shape[1] == b.shape[1]


def _normwise_error(ref, answer):
    """||C - C_ref||_F / ||C_ref||_F, or None for an answer of the wrong shape or dtype."""
    try:
        return ref.normwise_error(answer)
    except ValueError:
        return None


def _is_oom(exc):
    return isinstance(exc, MemoryError) or "OutOfMemory" in type(exc).__name__


def _jobs(kernels, threads):
    """(kernel, threads, mode) in ladder order; serial kernels at 1 thread, GPU ones twice."""
    jobs = []
    for t in sorted(set(threads) | {1}):
        for k in kernels:
            if k.device == "gpu":
                if t == 1:
                    jobs += [(k, 0, "compute"), (k, 0, "copies")]
            elif k.parallel and t in threads or t == 1:
                jobs.append((k, t, "compute"))
    return jobs


class Harness:
    def __init__(self, config, kernels=None, log=None, run_id=None, progress=None):
        self.cfg = config
        if kernels is None:
            names = config.kernels or _registry.names("matmul")
            kernels = [_registry.get(n, "matmul") for n in names]
        self.kernels = kernels
        self.log = log
        self.run_id = run_id or time.strftime("%Y%m%d-%H%M%S")
        self.progress = progress  # callable(description) after each row, or None
        self.last = {}  # (kernel, dtype, threads, mode) -> (flops, seconds) of its last measurement
        self.last_square = {}  # the same key -> (n, seconds) of its last square measurement
        self.stopped = {}  # (kernel, dtype, threads, mode) -> why it stopped growing
        self.unavailable = set()  # kernels already reported unavailable (one row each)
        self.peaks = {}
        self.rows = []

    def total_rows(self):
        """The rows of a run that is not cut short: one per job, dtype and shape for an
        available kernel (skipped rows included), one in all for an unavailable one."""
        jobs = _jobs(self.kernels, self.cfg.threads)
        shapes = len(self.cfg.all_shapes())
        total, unavailable = 0, set()
        for d in self.cfg.dtypes:
            for k, _, _ in jobs:
                if d not in k.dtypes:
                    continue
                if k.availability():
                    unavailable.add(k.name)
                else:
                    total += shapes
        return total + (len(unavailable) if shapes else 0)

    def run(self):
        peak_threads = sorted(set(self.cfg.threads) | {1})
        rng = np.random.default_rng(self.cfg.seed)
        jobs = _jobs(self.kernels, self.cfg.threads)
        for dtype in self.cfg.dtypes:
            for m, k, n in self.cfg.all_shapes():
                self.peaks.update(measure_peaks([dtype], peak_threads, self.peaks))
                a = rng.uniform(-1, 1, (m, k)).astype(dtype)
                b = rng.uniform(-1, 1, (k, n)).astype(dtype)
                ref = Reference(a, b)
                for kernel, threads, mode in jobs:
                    if dtype not in kernel.dtypes:
                        continue
                    row = self.measure(kernel, threads, mode, a, b, ref)
                    if row:
                        self._emit(row)
                    elif self.progress:
                        self.progress(f"{kernel.name}: unavailable")
        return self.rows

    def _emit(self, row):
        self.rows.append(row)
        if self.log:
            self.log.write(row)
        if self.progress:
            self.progress(f"{row['kernel']} {row['dtype']} {row['M']}x{row['N']}x{row['K']} "
                          f"t={row['threads']}: {row['status']}")

    def _row(self, kernel, threads, mode, a, b, status, t=None, note="", error=None, flag=""):
        m, k = a.shape
        n = b.shape[1]
        row = dict.fromkeys(COLUMNS, "")
        row.update(run=self.run_id, kernel=kernel.name, language=kernel.language,
                   rung="" if kernel.rung is None else kernel.rung, device=kernel.device,
                   mode=mode, dtype=a.dtype.name, M=m, N=n, K=k, threads=threads,
                   status=status, note=note, flag=flag)
        if error is not None:
            row["normwise_error"] = f"{error:.3g}"
        if t is not None:
            speed = gflops(matmul_flops(m, k, n), t.median)
            row.update(median_s=f"{t.median:.6g}", min_s=f"{t.min:.6g}", max_s=f"{t.max:.6g}",
                       repeats=t.repeats, gflops=f"{speed:.4g}")
            peak = self.peaks.get((a.dtype.name, threads))
            if peak and kernel.device == "cpu":
                row.update(peak_gflops=f"{peak:.4g}", pct_peak=f"{100 * speed / peak:.3g}")
        return row

    def measure(self, kernel, threads, mode, a, b, ref):
        """One row for this kernel on these inputs, or None for an unavailable kernel
        already reported (it gets one row a run, not one a size)."""
        key = (kernel.name, a.dtype.name, threads, mode)
        reason = kernel.availability()
        if reason:
            if kernel.name in self.unavailable:
                return None
            self.unavailable.add(kernel.name)
            return self._row(kernel, threads, mode, a, b, "unavailable", note=reason)
        work = matmul_flops(a.shape[0], a.shape[1], b.shape[1])
        if key in self.stopped:
            return self._row(kernel, threads, mode, a, b, "skipped", note=self.stopped[key])
        if key in self.last:
            last_flops, last_s = self.last[key]
            predicted = last_s * max(work, 1.0) / max(last_flops, 1.0)
            if predicted > self.cfg.budget:
                self.stopped[key] = (f"one call would take ~{predicted:.3g} s > budget "
                                     f"{self.cfg.budget:g} s")
                return self._row(kernel, threads, mode, a, b, "skipped", note=self.stopped[key])
        try:
            with kernel.bind(max(threads, 1)) as f:
                call, fetch = self._prepare(kernel, mode, f, a, b)
                quiet = timing.wait_quiet(kernel.name)
                with timing.Watch() as first_watch:  # judges a row that is this call alone
                    out, first = timing.timed_call(call)
                answer = fetch(out)
                problem = ref.violations(answer, kernel.precision)
                error = _normwise_error(ref, answer)
                del out, answer
                if problem:
                    return self._row(kernel, threads, mode, a, b, "FAILED", note=problem,
                                     error=error)
                t, flags, note = self._judged_time(kernel, mode, call, first, threads, quiet,
                                                   key, a, b, first_watch)
        except Exception as exc:  # one kernel's failure must not end the run
            self.stopped[key] = f"stopped after {type(exc).__name__} at a smaller size"
            status = "OOM" if _is_oom(exc) else "ERROR"
            return self._row(kernel, threads, mode, a, b, status, note=f"{type(exc).__name__}: {exc}")
        self.last[key] = (work, t.median)
        if _is_square(a, b):
            self.last_square[key] = (a.shape[0], t.median)
        if t.repeats == 1 and first > self.cfg.budget:
            note = "; ".join(filter(None, ["one call, over budget", note]))
        return self._row(kernel, threads, mode, a, b, "ok", t, note, error, "; ".join(flags))

    def _judged_time(self, kernel, mode, call, first, threads, quiet, key, a, b, first_watch):
        """(Timing, [doubts], note): timed, judged, and where doubtful timed once more after a
        quiet period, keeping the measurement with fewer doubts (the lower median if tied).
        A first call over the budget is the one sample: judged by what its own Watch saw,
        never repeated."""
        tries = [self._timed(kernel, mode, call, first, threads, quiet, key, a, b, first_watch)]
        if tries[0][1] and tries[0][0].repeats > 1:
            quiet = timing.wait_quiet(kernel.name)
            tries.append(self._timed(kernel, mode, call, first, threads, quiet, key, a, b))
        best = min(tries, key=lambda x: (len(x[1]), x[0].median))
        if len(tries) == 1:
            return best[0], best[1], ""
        t0, d0 = tries[0]
        kept = "the first" if best is tries[0] else "the second"
        note = (f"timed twice: the first median {t0.median:.3g} s was doubtful "
                f"({'; '.join(d0)}), the second {tries[1][0].median:.3g} s; kept {kept}")
        return best[0], best[1], note

    def _timed(self, kernel, mode, call, first, threads, quiet, key, a, b, first_watch=None):
        with timing.Watch() as watch:
            t = self._time(kernel, mode, call, first, threads)
        if first > self.cfg.budget and first_watch is not None:
            watch = first_watch  # the timing is the first call
        doubts = timing.doubts(t, threads, watch, quiet,
                               cpu=kernel.device == "cpu" or mode == "copies")
        if key in self.last_square and _is_square(a, b):
            n0, t0 = self.last_square[key]
            doubts += list(filter(None, [timing.exponent_doubt(n0, t0, a.shape[0], t.median)]))
        return t, doubts

    def _prepare(self, kernel, mode, f, a, b):
        """(call, fetch): call() runs the kernel once and returns what fetch() turns into a
        host array. GPU compute mode moves the inputs once, beforehand."""
        if kernel.device != "gpu":
            return (lambda: f(a, b)), (lambda out: out)
        import cupy
        if mode == "copies":
            return (lambda: cupy.asnumpy(f(cupy.asarray(a), cupy.asarray(b)))), (lambda out: out)
        da, db = cupy.asarray(a), cupy.asarray(b)

        def call():
            out = f(da, db)
            cupy.cuda.get_current_stream().synchronize()
            return out
        return call, cupy.asnumpy

    def _time(self, kernel, mode, call, first, threads):
        cfg = self.cfg
        if first > cfg.budget:
            return timing.Timing.of([first])
        if kernel.device == "gpu":
            return timing.time_cupy(call, first, cfg.min_time, cfg.budget,
                                    host_clock=(mode == "copies"))
        if kernel.name.startswith("torch"):
            return timing.time_torch(call, min(cfg.min_time, cfg.budget), threads)
        return timing.time_host(call, first, cfg.min_time, cfg.budget)
