"""The 3x3 convolution ladder's harness: every conv2d kernel, checked, then timed, N by N.

    matmul-ladder conv --quick        # N = 256-2048, < 3 min on 2 cores
    matmul-ladder conv                # N = 256-16384: the course's sizes, and past the L3
    python experiments/conv_ladder.py --sizes 1024,8192 --dtype float32 --threads 1,2

The operation is memory-bound once the image leaves the caches, so the figure of merit is
bandwidth: bytes counted per output are one input read and one output written, 2 S (8 in
float32), over (N - 2)^2 outputs of an N x N image. Next to them the run measures, in the
same process, the STREAM triad on each thread count (CPU) and the device-to-device copy
(GPU), and the FMA peak for the compute roof.

Each answer is checked against a float64 reference, chunk by chunk of rows (so N = 16384
needs no float64 copy of the image), before anything is timed; the chunks' tally gives its
normwise error, ||y - y_ref||_F / ||y_ref||_F, which each row records beside its speed. Kernels that can write into
a given output (the ladder's rungs, NumPy's) are timed writing into one allocated once, as a
loop over images would; SciPy and torch allocate theirs on every call, as their APIs do,
and the report gives what a fresh output costs (allocating and first touching its pages). A kernel stops growing once
one call would pass the budget (its last time scaled by N^2). Every row goes to conv.csv as
it is measured, so Ctrl-C keeps them; REPORT.md and the plots are built from the CSV.
"""
import csv
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from matmul_ladder.rungs import registry as _registry
from matmul_ladder.bench import timing
from matmul_ladder.rungs.threads import cores
from matmul_ladder.rungs.conv import TAKES_OUT, _padded_rows
from matmul_ladder.bench.check import BOUND_C, Tally, correlate3x3_valid, elementwise, precision
from matmul_ladder.cli.commands import (Parser, UsageError, _memory_bytes, _seconds, parse_sizes, parse_threads,
                  run_with_progress)

COLUMNS = ["run", "kernel", "language", "rung", "device", "dtype", "N", "threads", "status",
           "output", "median_s", "min_s", "max_s", "repeats", "gpix_s", "gb_s", "gflops",
           "roof_gb_s", "pct_roof", "note", "normwise_error"]  # the last added last: old CSVs load
QUICK = dict(sizes=[256, 512, 1024, 2048], budget=5.0, min_time=0.1)
DEFAULT = dict(sizes=[256, 512, 1024, 2048, 4096, 8192, 16384], budget=60.0, min_time=0.3)
CHECK_ROWS = 1024  # rows of the output checked at a time against the float64 reference
FLOPS_PER_OUTPUT = 18  # nine multiply-adds, two operations each (as matmul counts them)


def bytes_per_output(dtype):
    return 2 * np.dtype(dtype).itemsize


def counted_bytes(n, dtype):
    """Bytes a perfect kernel moves for an n x n image: x read once, y written once."""
    s = np.dtype(dtype).itemsize
    return s * (n * n + (n - 2) ** 2)


@dataclass
class ConvConfig:
    sizes: Sequence[int] = tuple(DEFAULT["sizes"])
    dtypes: Sequence[str] = ("float32", "float64")
    threads: Sequence[int] = field(default_factory=lambda: sorted({1, cores()}))
    budget: float = DEFAULT["budget"]
    min_time: float = DEFAULT["min_time"]
    kernels: Optional[Sequence[str]] = None
    seed: int = 0


def measure_roofs(threads, gpu):
    """{"triad": {threads: GB/s}, "copy_gpu": GB/s or None, "fma": {(dtype, threads): GFLOP/s}}:
    the bandwidth and compute roofs, measured now, in this process."""
    from matmul_ladder.api import fma_peak, triad_bandwidth
    ck = _registry._ckernels
    roofs = {"triad": {}, "copy_gpu": None, "fma": {}}
    if ck is not None:
        for t in threads:
            roofs["triad"][t] = triad_bandwidth(1 << 25, t, 5)
            if ck.active_isa() != "none":
                for d in ("float32", "float64"):
                    roofs["fma"][(d, t)] = fma_peak(d, t, 0.2)
    if gpu:
        roofs["copy_gpu"] = gpu_copy_bandwidth()
    return roofs


def gpu_copy_bandwidth(nbytes=1 << 30):
    """Device-to-device copy in GB/s, counting the read and the write (CUDA events)."""
    import cupy
    src = cupy.ones(nbytes // 4, dtype=cupy.float32)
    dst = cupy.empty_like(src)
    t = timing.time_gpu(lambda: cupy.copyto(dst, src), repeats=20, warmup=3)
    return 2 * nbytes / t.median / 1e9


class Checker:
    """The float64 reference of one image and its bound, computed CHECK_ROWS rows at a time
    (no float64 copy of the whole image is needed), kept once computed where memory allows,
    and for GPU answers computed and compared on the GPU."""

    def __init__(self, x, w, keep_bytes=None):
        self.x, self.w = x, w
        n_out = max(x.shape[0] - 2, 0) * max(x.shape[1] - 2, 0)
        if keep_bytes is None:
            keep_bytes = (_memory_bytes() or 0) // 4
        self.keep = 16 * n_out <= keep_bytes  # expected + bound in float64
        self.cache = {}  # array module name -> [(rows, ConvReference)]
        self.error = None  # the normwise error of the answer last checked in full

    def _chunks(self, xp):
        if xp.__name__ in self.cache:
            yield from self.cache[xp.__name__]
            return
        x = self.x if xp is np else xp.asarray(self.x)
        w = self.w if xp is np else xp.asarray(self.w)
        n_out, kept = self.x.shape[0] - 2, []
        for i in range(0, n_out, CHECK_ROWS):
            rows = min(CHECK_ROWS, n_out - i)
            chunk = (i, rows, _DeviceReference(x[i:i + rows + 2], w, xp))
            if self.keep:
                kept.append(chunk)
            yield chunk
        if self.keep:
            self.cache[xp.__name__] = kept

    def violations(self, y):
        xp = np
        if type(y).__module__.split(".")[0] == "cupy":
            import cupy as xp
        want = (self.x.shape[0] - 2, self.x.shape[1] - 2)
        self.error = None
        if tuple(y.shape) != want:
            return f"shape {tuple(y.shape)}, expected {want}"
        tally = Tally()
        for i, rows, ref in self._chunks(xp):
            problem = ref.violations(y[i:i + rows], tally, row0=i)
            if problem:
                return problem
        self.error = tally.error()
        return tally.violation(9, float(np.finfo(self.x.dtype).eps), precision(""))


class _DeviceReference:
    """ConvReference's bounds on the array module of the answer (NumPy or CuPy), so that a GPU
    answer is checked where it lies; only a failure's first entry comes to the host. The
    elementwise bound is checked chunk by chunk, the normwise one on the tally of all chunks."""

    def __init__(self, x, w, xp):
        self.xp = xp
        x64, w64 = x.astype(xp.float64), w.astype(xp.float64)
        self.expected = correlate3x3_valid(x64, w64, xp)
        self.magnitude = correlate3x3_valid(xp.abs(x64), xp.abs(w64), xp)
        self.bound = (BOUND_C * 9 * np.finfo(x.dtype).eps) * self.magnitude

    def violations(self, y, tally, row0=0):
        problem, err, finite = elementwise(y.astype(self.xp.float64), self.expected, self.bound,
                                           origin=(row0, 0))
        if not problem:
            tally.add(err, self.expected, self.magnitude, finite)
        return problem


def _jobs(kernels, threads):
    jobs = []
    for t in sorted(set(threads) | {1}):
        for k in kernels:
            if k.device == "gpu":
                if t == 1:
                    jobs.append((k, 1))
            elif (k.parallel and t in threads) or t == 1:
                jobs.append((k, t))
    return jobs


class ConvHarness:
    def __init__(self, config, log=None, run_id=None, progress=None):
        self.cfg = config
        names = config.kernels or _registry.names("conv2d")
        self.kernels = [_registry.get(n, "conv2d") for n in names]
        self.log, self.progress = log, progress
        self.run_id = run_id or time.strftime("%Y%m%d-%H%M%S")
        self.last, self.stopped, self.unavailable = {}, {}, set()
        self.rows, self.roofs = [], {"triad": {}, "copy_gpu": None, "fma": {}}

    def total_rows(self):
        jobs = _jobs(self.kernels, self.cfg.threads)
        return len(jobs) * len(self.cfg.dtypes) * len(self.cfg.sizes)

    def run(self):
        gpu = any(k.device == "gpu" and not k.availability() for k in self.kernels)
        self.roofs = measure_roofs(sorted(set(self.cfg.threads) | {1}), gpu)
        rng = np.random.default_rng(self.cfg.seed)
        jobs = _jobs(self.kernels, self.cfg.threads)
        for dtype in self.cfg.dtypes:
            w = rng.standard_normal((3, 3)).astype(dtype)
            for n in sorted(self.cfg.sizes):
                x = rng.standard_normal((n, n)).astype(dtype)
                checker = Checker(x, w)
                device_x = device_w = None
                for kernel, threads in jobs:
                    if kernel.device == "gpu" and device_x is None and not kernel.availability():
                        import cupy
                        device_x, device_w = cupy.asarray(x), cupy.asarray(w)
                    if kernel.device != "gpu":
                        inputs = (x, w)
                    else:  # the ladder's CUDA rungs take the filter by value, from the host
                        inputs = (device_x, w if kernel.language == "CUDA" else device_w)
                    row = self.measure(kernel, threads, inputs, n, checker)
                    if row:
                        self._emit(row)
                    elif self.progress:
                        self.progress(f"{kernel.name}: unavailable")
                del device_x, device_w
        return self.rows

    def _emit(self, row):
        self.rows.append(row)
        if self.log:
            self.log.write(row)
        if self.progress:
            self.progress(f"{row['kernel']} {row['dtype']} N={row['N']} t={row['threads']}: "
                          f"{row['status']}")

    def _row(self, kernel, threads, dtype, n, status, t=None, note=""):
        row = dict.fromkeys(COLUMNS, "")
        row.update(run=self.run_id, kernel=kernel.name, language=kernel.language,
                   rung="" if kernel.rung is None else kernel.rung, device=kernel.device,
                   dtype=dtype, N=n, threads=threads, status=status, note=note)
        if t is not None:
            outputs = (n - 2) ** 2
            gb_s = counted_bytes(n, dtype) / t.median / 1e9
            row.update(median_s=f"{t.median:.6g}", min_s=f"{t.min:.6g}", max_s=f"{t.max:.6g}",
                       repeats=t.repeats, gpix_s=f"{outputs / t.median / 1e9:.4g}",
                       gb_s=f"{gb_s:.4g}",
                       gflops=f"{FLOPS_PER_OUTPUT * outputs / t.median / 1e9:.4g}")
            roof = (self.roofs["copy_gpu"] if kernel.device == "gpu"
                    else self.roofs["triad"].get(threads))
            if roof:
                row.update(roof_gb_s=f"{roof:.4g}", pct_roof=f"{100 * gb_s / roof:.3g}")
        return row

    def measure(self, kernel, threads, inputs, n, checker):
        dtype = np.dtype(checker.x.dtype).name
        key = (kernel.name, dtype, threads)
        reason = kernel.availability()
        if reason:
            if kernel.name in self.unavailable:
                return None
            self.unavailable.add(kernel.name)
            return self._row(kernel, threads, dtype, n, "unavailable", note=reason)
        if dtype not in kernel.dtypes:
            return self._row(kernel, threads, dtype, n, "skipped", note=f"{dtype} not supported")
        if key in self.stopped:
            return self._row(kernel, threads, dtype, n, "skipped", note=self.stopped[key])
        if key in self.last:
            last_n, last_s = self.last[key]
            predicted = last_s * (n / last_n) ** 2
            if predicted > self.cfg.budget:
                self.stopped[key] = (f"one call would take ~{predicted:.3g} s > budget "
                                     f"{self.cfg.budget:g} s")
                return self._row(kernel, threads, dtype, n, "skipped", note=self.stopped[key])
        try:
            with kernel.bind(threads) as f:
                call = self._call(kernel, f, *inputs, out=self._output(kernel, n, dtype))
                timing.wait_quiet(kernel.name)  # the pools of the kernel before it idle
                out, first = timing.timed_call(call)
                problem = checker.violations(out)
                del out
                if problem:
                    return self._row(kernel, threads, dtype, n, "FAILED", note=problem)
                error = checker.error
                t = self._time(kernel, call, first, threads)
        except Exception as exc:  # one kernel's failure must not end the run
            self.stopped[key] = f"stopped after {type(exc).__name__} at a smaller size"
            oom = isinstance(exc, MemoryError) or "OutOfMemory" in type(exc).__name__
            return self._row(kernel, threads, dtype, n, "OOM" if oom else "ERROR",
                             note=f"{type(exc).__name__}: {exc}")
        self.last[key] = (n, t.median)
        row = self._row(kernel, threads, dtype, n, "ok", t)
        row["output"] = "reused" if kernel.name in TAKES_OUT else "allocated"
        row["normwise_error"] = "" if error is None else f"{error:.3g}"
        return row

    @staticmethod
    def _output(kernel, n, dtype):
        """The output a kernel writes into, allocated once per measurement (rows on 64-byte
        boundaries, as the streaming stores of conv_c_strips need), or None."""
        if kernel.name not in TAKES_OUT:
            return None
        if kernel.device == "gpu":
            import cupy
            return cupy.empty((n - 2, n - 2), dtype=dtype)
        return _padded_rows((n - 2, n - 2), dtype)

    @staticmethod
    def _call(kernel, f, x, w, out=None):
        args = (x, w) if out is None else (x, w, out)
        if kernel.device != "gpu":
            return lambda: f(*args)
        import cupy

        def call():
            y = f(*args)
            cupy.cuda.get_current_stream().synchronize()
            return y
        return call

    def _time(self, kernel, call, first, threads):
        cfg = self.cfg
        if first > cfg.budget:
            return timing.Timing.of([first])
        if kernel.device == "gpu":
            return timing.time_cupy(call, first, cfg.min_time, cfg.budget)
        if kernel.name.startswith("conv_torch"):
            return timing.time_torch(call, min(cfg.min_time, cfg.budget), threads)
        return timing.time_host(call, first, cfg.min_time, cfg.budget)


# ---- results: CSV, tables, plots, report ------------------------------------------------
def load_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        missing = [c for c in ("kernel", "dtype", "N", "threads", "status") if c not in r]
        if missing:
            raise ValueError(f"missing columns {missing}")
        r["N"], r["threads"] = int(r["N"]), int(r["threads"])
    return rows


def ok_rows(rows):
    return [r for r in rows if r["status"] == "ok"]


def series(rows, kernel, dtype, threads):
    return sorted((r["N"], float(r["median_s"]), float(r["gb_s"])) for r in ok_rows(rows)
                  if r["kernel"] == kernel and r["dtype"] == dtype and r["threads"] == threads)


def series_keys(rows):
    order = {k.name: i for i, k in enumerate(_registry.KERNELS)}
    keys = {(r["kernel"], r["threads"]) for r in ok_rows(rows)}
    return sorted(keys, key=lambda k: (order.get(k[0], 999), k[1]))


def exponent(points):
    """Least-squares slope of log(time) against log(N), from N >= 512 (smaller images time
    call overheads), or None with fewer than two sizes."""
    pts = [(n, t) for n, t, _ in points if n >= 512] or points
    if len(pts) < 2:
        return None
    lx, ly = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(lx, ly, 1)[0])


def label(kernel, threads):
    return kernel + (f" ({threads}t)" if threads > 1 else "")


def table(rows, dtype, n):
    """Markdown: every kernel at size n, ladder order, with Gpix/s, GB/s and % of the roof."""
    lines = ["| kernel | threads | Gpix/s | GB/s | % of roof | x previous rung | error |",
             "|---|---|---|---|---|---|---|"]
    previous = None
    for kernel, threads in series_keys(rows):
        r = next((r for r in ok_rows(rows) if r["kernel"] == kernel and r["threads"] == threads
                  and r["dtype"] == dtype and r["N"] == n), None)
        if r is None:
            continue
        speed = float(r["gpix_s"])
        step = ""
        if r["rung"] != "" and r["language"] == "C" and threads == 1:
            step = f"{speed / previous:.2f}x" if previous else ""
            previous = speed
        error = r.get("normwise_error")
        lines.append(f"| {kernel} | {threads} | {speed:.3g} | {float(r['gb_s']):.3g} | "
                     f"{r['pct_roof'] or '-'} | {step} | "
                     f"{'-' if error in (None, '') else f'{float(error):.2g}'} |")
    return "\n".join(lines)


def roofs_from_rows(rows):
    """The bandwidth roofs a run recorded in its CSV (roof_gb_s of its CPU and GPU rows)."""
    roofs = {"triad": {}, "copy_gpu": None, "fma": {}}
    for r in ok_rows(rows):
        if r.get("roof_gb_s"):
            if r["device"] == "gpu":
                roofs["copy_gpu"] = float(r["roof_gb_s"])
            else:
                roofs["triad"][r["threads"]] = float(r["roof_gb_s"])
    return roofs


def plot_all(rows, out_dir, roofs):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    dtypes = sorted({r["dtype"] for r in ok_rows(rows)})
    files = []
    if not dtypes:
        return files
    for name, ylabel, pick in (("conv_time_vs_n.png", "seconds per call", 1),
                               ("conv_gbs_vs_n.png", "GB/s (2 S bytes per output)", 2)):
        fig, axes = plt.subplots(1, len(dtypes), figsize=(7.5 * len(dtypes), 5.5), squeeze=False)
        for ax, dtype in zip(axes[0], dtypes):
            for kernel, threads in series_keys(rows):
                pts = series(rows, kernel, dtype, threads)
                if not pts:
                    continue
                text = label(kernel, threads)
                if pick == 1:
                    fit = exponent(pts)
                    text += f", N^{fit:.2f}" if fit is not None else ""
                ax.plot([p[0] for p in pts], [p[pick] for p in pts],
                        "o-" if threads <= 1 else "s--", label=text)
            if pick == 2:
                for t, gbs in sorted((roofs.get("triad") or {}).items()):
                    ax.axhline(gbs, color="k", ls=":" if t == 1 else "-.", lw=1,
                               label=f"STREAM triad, {t} thread{'s' if t > 1 else ''}: {gbs:.3g} GB/s")
                if roofs.get("copy_gpu"):
                    ax.axhline(roofs["copy_gpu"], color="g", ls=":", lw=1,
                               label=f"GPU copy: {roofs['copy_gpu']:.4g} GB/s")
            ax.set(xscale="log", yscale="log", xlabel="N (image N x N)", ylabel=ylabel,
                   title=f"3x3 convolution, {dtype}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=6, ncol=2)
        fig.tight_layout()
        path = os.path.join(out_dir, name)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(name)
    return files


def _roofs_text(roofs):
    parts = [f"STREAM triad {gbs:.3g} GB/s on {t} thread{'s' if t > 1 else ''}"
             for t, gbs in sorted((roofs.get("triad") or {}).items())]
    if roofs.get("copy_gpu"):
        parts.append(f"GPU device-to-device copy {roofs['copy_gpu']:.4g} GB/s")
    parts += [f"FMA peak {dtype} {t}t {g:.3g} GFLOP/s"
              for (dtype, t), g in sorted((roofs.get("fma") or {}).items())]
    return "; ".join(parts)


def report(rows, out_dir, roofs, command=""):
    plots = plot_all(rows, out_dir, roofs)
    lines = ["# The 3x3 convolution ladder", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += ["Measured in this run: " + (_roofs_text(roofs) or "no roofs") + ".", "",
              "Bytes counted per output: one input read and one output written, 2 S (8 in "
              "float32, 16 in float64), over (N - 2)^2 outputs; '% of roof' is against the "
              "triad on the same thread count (CPU) or the device copy (GPU). A plain store "
              "also reads its line first, so a kernel without streaming stores really moves "
              "3 S per output. 'error' is the output's normwise error against float64, "
              "||y - y_ref||_F / ||y_ref||_F.", ""]
    sizes = sorted({r["N"] for r in ok_rows(rows)})
    for dtype in sorted({r["dtype"] for r in ok_rows(rows)}):
        for n in [s for s in sizes if s in (1024, max(sizes))] or sizes[-1:]:
            lines += [f"## {dtype}, N = {n}", "", table(rows, dtype, n), ""]
        fits = []
        for kernel, threads in series_keys(rows):
            fit = exponent(series(rows, kernel, dtype, threads))
            if fit is not None:
                fits.append(f"{label(kernel, threads)} {fit:.2f}")
        if fits:
            lines += [f"Time grows as N^k ({dtype}; fitted from N >= 512, expect 2): " +
                      ", ".join(fits) + ".", ""]
    problems = [r for r in rows if r["status"] in ("FAILED", "ERROR", "OOM")]
    if problems:
        lines += ["## Problems", ""] + [f"- {r['kernel']} {r['dtype']} N={r['N']} "
                                        f"t={r['threads']}: {r['status']}: {r['note']}"
                                        for r in problems] + [""]
    lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    path = os.path.join(out_dir, "REPORT.md")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path, plots


# ---- command line -----------------------------------------------------------------------
def build_parser(prog):
    p = Parser(prog=prog, description=(
        "Time every 3x3 convolution kernel against SciPy, NumPy, PyTorch and CuPy; write "
        "conv.csv, machine.json, plots and REPORT.md under results/conv-<run>/."))
    p.add_argument("--quick", action="store_true",
                   help=f"sizes {QUICK['sizes']}, budget {QUICK['budget']:g} s (< 3 min)")
    p.add_argument("--sizes", type=parse_sizes, help="image sizes N (N x N): '256,4096' or "
                   f"'256:16384' (default {','.join(map(str, DEFAULT['sizes']))})")
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--threads", type=parse_threads, help="thread counts, e.g. '1,all'")
    p.add_argument("--budget", type=_seconds("--budget", False),
                   help=f"seconds one call may take (default {DEFAULT['budget']:g}, the course's cap)")
    p.add_argument("--min-time", type=_seconds("--min-time", True), help="seconds of repeats")
    p.add_argument("--kernels", help="comma-separated conv kernel names (default: all)")
    p.add_argument("--out", help="output folder, new or empty (default results/conv-<date-time>)")
    p.add_argument("--from-csv", metavar="CSV", help="rebuild plots and REPORT.md from a conv.csv "
                   "(into --out, default the CSV's folder); no measuring")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def check_args(args):
    if args.from_csv:
        given = [o for o in ("quick", "sizes", "threads", "budget", "min_time", "kernels")
                 if getattr(args, o) not in (None, False)]
        if given or args.dtype != "both":
            raise UsageError("--from-csv rebuilds a report without measuring; it takes only --out")
        try:
            rows = load_csv(args.from_csv)
        except FileNotFoundError:
            raise UsageError(f"--from-csv: no such file: {args.from_csv}") from None
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as exc:
            raise UsageError(f"--from-csv: {args.from_csv} is not a conv.csv ({exc})") from None
        if not rows:
            raise UsageError(f"--from-csv: {args.from_csv} holds no rows")
        return
    if args.kernels is not None:
        names = [k.strip() for k in args.kernels.split(",") if k.strip()]
        known = _registry.names("conv2d")
        unknown = [n for n in names if n not in known]
        if not names or unknown:
            raise UsageError(f"--kernels: unknown conv kernel {', '.join(map(repr, unknown))}; "
                             f"choose from: {', '.join(known)}")
    sizes = args.sizes or (QUICK if args.quick else DEFAULT)["sizes"]
    if min(sizes) < 3:
        raise UsageError("--sizes: images must be at least 3 x 3")
    itemsize = 4 if args.dtype == "float32" else 8
    memory = _memory_bytes()
    need = 4 * itemsize * max(sizes) ** 2  # image, output, and a baseline's temporaries
    if memory and need > memory:
        raise UsageError(f"N = {max(sizes)} needs about {need / 2**30:.1f} GiB, more than this "
                         f"machine's {memory / 2**30:.1f} GiB")
    if args.out is not None:
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            raise UsageError(f"--out: {args.out} exists and is not a folder")
        if os.path.isdir(args.out) and os.listdir(args.out):
            raise UsageError(f"--out: {args.out} is not empty; choose a new folder")


def main(argv=None, prog="matmul-ladder conv"):
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(prog).parse_args(argv)
        check_args(args)
    except UsageError as exc:
        print(f"{prog}: error: {exc} (see {prog} --help)", file=sys.stderr)
        return 2
    base = QUICK if args.quick else DEFAULT
    cfg = ConvConfig(sizes=args.sizes or base["sizes"],
                     dtypes=["float32", "float64"] if args.dtype == "both" else [args.dtype],
                     threads=args.threads or sorted({1, cores()}),
                     budget=args.budget if args.budget is not None else base["budget"],
                     min_time=args.min_time if args.min_time is not None else base["min_time"],
                     kernels=[k.strip() for k in args.kernels.split(",") if k.strip()]
                     if args.kernels else None)
    command = f"{prog} " + " ".join(shlex.quote(a) for a in argv)
    try:
        if args.from_csv:
            rows = load_csv(args.from_csv)
            out_dir = args.out or os.path.dirname(os.path.abspath(args.from_csv))
            os.makedirs(out_dir, exist_ok=True)
            path, plots = report(rows, out_dir, roofs_from_rows(rows))
            print(f"rebuilt {path} and {', '.join(plots)}")
            return 0
        return run(cfg, args, command)
    except OSError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1


def run(cfg, args, command):
    from matmul_ladder.bench import machine
    run_id = time.strftime("%Y%m%d-%H%M%S")
    out_dir = args.out or os.path.join("results", f"conv-{run_id}")
    os.makedirs(out_dir, exist_ok=True)
    csv_path = os.path.join(out_dir, "conv.csv")
    from matmul_ladder.bench.engine import CsvLog
    log = CsvLog(csv_path, COLUMNS)
    harness = ConvHarness(cfg, log=log, run_id=run_id)
    print(f"{command}: {len(harness.kernels)} kernels, N = {list(cfg.sizes)}, "
          f"{', '.join(cfg.dtypes)}, threads {list(cfg.threads)}, budget {cfg.budget:g} s/call "
          f"-> {out_dir}/", flush=True)
    interrupted = run_with_progress(harness, log, not args.no_progress)
    roofs = harness.roofs
    with open(os.path.join(out_dir, "machine.json"), "w") as f:
        json.dump({**machine.describe(), "command": command,
                   "roofs": {"triad_gb_s": roofs["triad"], "gpu_copy_gb_s": roofs["copy_gpu"],
                             "fma_gflops": {f"{d} {t}t": g for (d, t), g in roofs["fma"].items()}}},
                  f, indent=2, default=str)
    if interrupted:
        print(f"\ninterrupted: kept the {len(harness.rows)} rows measured so far in {csv_path}")
    if not harness.rows:
        return 130 if interrupted else 1
    path, plots = report(load_csv(csv_path), out_dir, roofs, command)
    with open(path) as f:
        print(f.read())
    print(f"wrote {csv_path}, {out_dir}/machine.json, {', '.join(plots)} and {path}")
    return 130 if interrupted else 0
