"""The measuring engine of every ladder: each kernel, checked, then timed, row by row.

One state machine serves the matmul ladder (this module's MatmulWorkload, `Harness`) and the
convolution ladder (bench/conv_workload.py, `ConvHarness`): a workload says what differs (how
the inputs of each case are made, the reference that checks an answer, the work that scales
the budget, the roofs, the CSV's columns and units); the engine does the rest, the same way
for both:

For each case (dtype and size, smallest first) every job runs: each kernel at each thread
count (serial kernels at 1), GPU kernels on device data (and, for matmul, once more from host
arrays, "copies"). An unavailable kernel is one row a run, saying why. Each result is checked
against the reference before anything is timed: a wrong one is a FAILED row, never a time.
A kernel stops growing once one call would pass the per-call budget (its time at the last
size scaled by the work ratio): the rest of its sizes are "skipped" rows that say why. An
exception is an ERROR row (OOM for MemoryError and CUDA's OutOfMemory) and stops that kernel
growing, never the run. Every row is appended to the CSV the moment it is measured, so Ctrl-C
keeps them.

Before a kernel's first call the pools of the library called before it have gone quiet
(timing.wait_quiet). A measurement that timing.doubts() or its growth from the size before
(the workload's growth_doubt) calls doubtful is taken once more after a quiet period, the
better-behaved of the two is kept, and whatever still makes it doubtful goes to the row's
`flag`. The roofs follow bench/roofs.py's one policy.
"""
import csv
import os
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple

import numpy as np

from matmul_ladder.rungs import registry as _registry
from matmul_ladder.bench import roofs as _roofs
from matmul_ladder.bench import timing
from matmul_ladder.bench.timing import gflops, matmul_flops
from matmul_ladder.rungs.threads import cores
from matmul_ladder.bench.check import Reference

COLUMNS = ["run", "kernel", "language", "rung", "device", "mode", "dtype", "M", "N", "K",
           "threads", "status", "median_s", "min_s", "max_s", "repeats", "gflops",
           "peak_gflops", "pct_peak", "note", "normwise_error", "flag", "precision"]
# normwise_error, flag and precision came last, so that a CSV written before them still loads.
# precision: the kernel's (bench/check.py's PRECISIONS): "" computes in the dtype, "bf16"
# rounds the inputs to bfloat16 and sums in float32, "bf16_out" also rounds the answer.


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


measure_peaks = _roofs.measure_peaks  # the name this module gave it first


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


def is_oom(exc):
    return isinstance(exc, MemoryError) or "OutOfMemory" in type(exc).__name__


def ladder_jobs(kernels, threads, gpu_modes=("compute", "copies"), gpu_threads=0):
    """(kernel, threads, mode) in ladder order; serial kernels at 1 thread, GPU ones once per
    mode (at gpu_threads), parallel ones at every thread count."""
    jobs = []
    for t in sorted(set(threads) | {1}):
        for k in kernels:
            if k.device == "gpu":
                if t == 1:
                    jobs += [(k, gpu_threads, m) for m in gpu_modes]
            elif k.parallel and t in threads or t == 1:
                jobs.append((k, t, "compute"))
    return jobs


def _jobs(kernels, threads):
    return ladder_jobs(kernels, threads)


class Case:
    """One (dtype, size) of a run: `work` scales the budget prediction; `n` is the size the
    growth check compares (None: no growth check); the workload keeps its inputs on it."""

    def __init__(self, dtype, work, n=None, **data):
        self.dtype, self.work, self.n = dtype, work, n
        self.__dict__.update(data)


class Engine:
    """The state machine of a run, over a workload's cases and a list of kernels."""

    def __init__(self, workload, kernels, log=None, run_id=None, progress=None):
        self.workload = workload
        self.cfg = workload.cfg
        self.kernels = kernels
        self.log = log
        self.run_id = run_id or time.strftime("%Y%m%d-%H%M%S")
        self.progress = progress  # callable(description) after each row, or None
        self.last = {}  # (kernel, dtype, threads, mode) -> (work, seconds) of its last measurement
        self.last_n = {}  # the same key -> (n, seconds) of its last measurement with an n
        self.stopped = {}  # (kernel, dtype, threads, mode) -> why it stopped growing
        self.unavailable = set()  # kernels already reported unavailable (one row each)
        self.rows = []

    def _listed(self, kernel, dtype):
        return dtype in kernel.dtypes or self.workload.unsupported_rows

    def total_rows(self):
        """The rows of a run that is not cut short: one per job and case for an available
        kernel (skipped rows included), one in all for an unavailable one."""
        jobs = self.workload.jobs(self.kernels)
        cases = self.workload.case_count()
        total, unavailable = 0, set()
        for d in self.cfg.dtypes:
            for k, _, _ in jobs:
                if not self._listed(k, d):
                    continue
                if k.availability():
                    unavailable.add(k.name)
                else:
                    total += cases
        return total + (len(unavailable) if cases else 0)

    def run(self):
        jobs = self.workload.jobs(self.kernels)
        for case in self.workload.cases(self.kernels):
            for kernel, threads, mode in jobs:
                if not self._listed(kernel, case.dtype):
                    continue
                row = self.measure(kernel, threads, mode, case)
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
            self.progress(f"{self.workload.describe(row)}: {row['status']}")

    def _row(self, kernel, threads, mode, case, status, t=None, note="", error=None, flag=""):
        return self.workload.row(self.run_id, kernel, threads, mode, case, status, t, note,
                                 error, flag)

    def measure(self, kernel, threads, mode, case):
        """One row for this kernel on this case, or None for an unavailable kernel already
        reported (it gets one row a run, not one a size)."""
        key = (kernel.name, case.dtype, threads, mode)
        row = lambda status, **kw: self._row(kernel, threads, mode, case, status, **kw)  # noqa: E731
        reason = kernel.availability()
        if reason:
            if kernel.name in self.unavailable:
                return None
            self.unavailable.add(kernel.name)
            return row("unavailable", note=reason)
        if case.dtype not in kernel.dtypes:
            return row("skipped", note=f"{case.dtype} not supported")
        if key in self.stopped:
            return row("skipped", note=self.stopped[key])
        if key in self.last:
            last_work, last_s = self.last[key]
            predicted = last_s * max(case.work, 1.0) / max(last_work, 1.0)
            if predicted > self.cfg.budget:
                self.stopped[key] = (f"one call would take ~{predicted:.3g} s > budget "
                                     f"{self.cfg.budget:g} s")
                return row("skipped", note=self.stopped[key])
        try:
            with kernel.bind(max(threads, 1)) as f:
                call, fetch = self.workload.prepare(kernel, mode, f, case)
                quiet = timing.wait_quiet(kernel.name)
                with timing.Watch() as first_watch:  # judges a row that is this call alone
                    out, first = timing.timed_call(call)
                answer = fetch(out)
                problem, error = self.workload.check(case, answer, kernel)
                del out, answer
                if problem:
                    return row("FAILED", note=problem, error=error)
                t, flags, note = self._judged_time(kernel, mode, call, first, threads, quiet,
                                                   key, case, first_watch)
        except Exception as exc:  # one kernel's failure must not end the run
            self.stopped[key] = f"stopped after {type(exc).__name__} at a smaller size"
            return row("OOM" if is_oom(exc) else "ERROR", note=f"{type(exc).__name__}: {exc}")
        self.last[key] = (case.work, t.median)
        if case.n is not None:
            self.last_n[key] = (case.n, t.median)
        if t.repeats == 1 and first > self.cfg.budget:
            note = "; ".join(filter(None, ["one call, over budget", note]))
        note = "; ".join(filter(None, [kernel.run_note(), note]))
        return row("ok", t=t, note=note, error=error, flag="; ".join(flags))

    def _judged_time(self, kernel, mode, call, first, threads, quiet, key, case, first_watch):
        """(Timing, [doubts], note): timed, judged, and where doubtful timed once more after a
        quiet period, keeping the measurement with fewer doubts (the lower median if tied).
        A first call over the budget is the one sample: judged by what its own Watch saw,
        never repeated."""
        tries = [self._timed(kernel, mode, call, first, threads, quiet, key, case, first_watch)]
        if tries[0][1] and tries[0][0].repeats > 1:
            quiet = timing.wait_quiet(kernel.name)
            tries.append(self._timed(kernel, mode, call, first, threads, quiet, key, case))
        best = min(tries, key=lambda x: (len(x[1]), x[0].median))
        if len(tries) == 1:
            return best[0], best[1], ""
        t0, d0 = tries[0]
        kept = "the first" if best is tries[0] else "the second"
        note = (f"timed twice: the first median {t0.median:.3g} s was doubtful "
                f"({'; '.join(d0)}), the second {tries[1][0].median:.3g} s; kept {kept}")
        return best[0], best[1], note

    def _timed(self, kernel, mode, call, first, threads, quiet, key, case, first_watch=None):
        with timing.Watch() as watch:
            t = self._time(kernel, mode, call, first, threads)
        if first > self.cfg.budget and first_watch is not None:
            watch = first_watch  # the timing is the first call
        doubts = timing.doubts(t, threads, watch, quiet,
                               cpu=kernel.device == "cpu" or mode == "copies")
        if key in self.last_n and case.n is not None:
            n0, t0 = self.last_n[key]
            doubts += list(filter(None, [self.workload.growth_doubt(n0, t0, case.n, t.median)]))
        return t, doubts

    def _time(self, kernel, mode, call, first, threads):
        cfg = self.cfg
        if first > cfg.budget:
            return timing.Timing.of([first])
        if kernel.device == "gpu":
            return timing.time_cupy(call, first, cfg.min_time, cfg.budget,
                                    host_clock=(mode == "copies"))
        if kernel.timing == "torch":
            return timing.time_torch(call, min(cfg.min_time, cfg.budget), threads)
        return timing.time_host(call, first, cfg.min_time, cfg.budget)


def _normwise_error(ref, answer):
    """||C - C_ref||_F / ||C_ref||_F, or None for an answer of the wrong shape or dtype."""
    try:
        return ref.normwise_error(answer)
    except ValueError:
        return None


class MatmulWorkload:
    """C = A B: uniform(-1, 1) inputs, the float64 Reference, 2 M N K flops, GFLOP/s against
    the FMA peak, or the BF16 unit's for a bf16 kernel (read again before every case, the
    highest kept: bench/roofs.py)."""
    columns = COLUMNS
    unsupported_rows = False  # a kernel without a dtype has no rows in it

    def __init__(self, config):
        self.cfg = config
        self.peaks = {}

    def jobs(self, kernels):
        return ladder_jobs(kernels, self.cfg.threads)

    def case_count(self):
        return len(self.cfg.all_shapes())

    def cases(self, kernels):
        peak_threads = sorted(set(self.cfg.threads) | {1})
        rng = np.random.default_rng(self.cfg.seed)
        for dtype in self.cfg.dtypes:
            # the roofs this case's kernels are judged against (a BF16 unit's only if needed)
            roofs = sorted({_roofs.roof_key(kern.precision, dtype) for kern in kernels
                            if dtype in kern.dtypes and kern.device == "cpu"} | {dtype})
            for m, k, n in self.cfg.all_shapes():
                self.peaks.update(measure_peaks(roofs, peak_threads, self.peaks))
                a = rng.uniform(-1, 1, (m, k)).astype(dtype)
                b = rng.uniform(-1, 1, (k, n)).astype(dtype)
                yield Case(dtype, matmul_flops(m, k, n), m if m == k == n else None,
                           a=a, b=b, ref=Reference(a, b))

    @staticmethod
    def growth_doubt(n0, t0, n1, t1):
        return timing.exponent_doubt(n0, t0, n1, t1)

    @staticmethod
    def describe(row):
        return f"{row['kernel']} {row['dtype']} {row['M']}x{row['N']}x{row['K']} t={row['threads']}"

    @staticmethod
    def check(case, answer, kernel):
        return (case.ref.violations(answer, kernel.precision, kernel.error_growth),
                _normwise_error(case.ref, answer))

    @staticmethod
    def prepare(kernel, mode, f, case):
        """(call, fetch): call() runs the kernel once and returns what fetch() turns into a
        host array. GPU compute mode moves the inputs once, beforehand."""
        a, b = case.a, case.b
        if kernel.device != "gpu":
            if kernel.operands is not None:  # converted once, outside the timed calls
                x, y, back = kernel.operands(a, b)
                return (lambda: f(x, y)), back
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

    def row(self, run_id, kernel, threads, mode, case, status, t, note, error, flag):
        (m, k), n = case.a.shape, case.b.shape[1]
        row = dict.fromkeys(COLUMNS, "")
        row.update(run=run_id, kernel=kernel.name, language=kernel.language,
                   rung="" if kernel.rung is None else kernel.rung, device=kernel.device,
                   mode=mode, dtype=case.dtype, M=m, N=n, K=k, threads=threads,
                   status=status, note=note, flag=flag, precision=kernel.precision)
        if error is not None:
            row["normwise_error"] = f"{error:.3g}"
        if t is not None:
            speed = gflops(matmul_flops(m, k, n), t.median)
            row.update(median_s=f"{t.median:.6g}", min_s=f"{t.min:.6g}", max_s=f"{t.max:.6g}",
                       repeats=t.repeats, gflops=f"{speed:.4g}")
            peak = self.peaks.get((_roofs.roof_key(kernel.precision, case.dtype), threads))
            if peak and kernel.device == "cpu":
                row.update(peak_gflops=f"{peak:.4g}", pct_peak=f"{100 * speed / peak:.3g}")
        return row


class Harness(Engine):
    """The matmul ladder's engine: Harness(Config(...), kernels=None (the registry's), ...)."""

    def __init__(self, config, kernels=None, log=None, run_id=None, progress=None):
        if kernels is None:
            names = config.kernels or _registry.names("matmul")
            kernels = [_registry.get(n, "matmul") for n in names]
        super().__init__(MatmulWorkload(config), kernels, log, run_id, progress)

    @property
    def peaks(self):
        return self.workload.peaks
