"""The 3x3 convolution as a workload of the one engine (bench/engine.py): its inputs, its
chunked float64 checker, its byte count and bandwidth roofs, its CSV columns.

The operation is memory-bound once the image leaves the caches, so the figure of merit is
bandwidth: bytes counted per output are one input read and one output written, 2 S (8 in
float32), over (N - 2)^2 outputs of an N x N image. The roofs (bench/roofs.py's policy: the
highest reading, read again before every dtype and N) are the STREAM triad on each thread
count (CPU), the device-to-device copy (GPU), and the FMA peak for the compute roof.

Each answer is checked against a float64 reference, chunk by chunk of rows (so N = 16384
needs no float64 copy of the image), before anything is timed; the chunks' tally gives its
normwise error, ||y - y_ref||_F / ||y_ref||_F. Kernels that can write into a given output
(the ladder's rungs, NumPy's) are timed writing into one allocated once, as a loop over
images would; SciPy and torch allocate theirs on every call, as their APIs do. The budget
scales a kernel's last time by N^2. The CSV has no `flag` column: a doubt that a second
timing did not clear is written into the row's note ("doubtful: ...").
"""
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from matmul_ladder.rungs import registry as _registry
from matmul_ladder.bench import roofs as _roofs
from matmul_ladder.bench.engine import Case, Engine, ladder_jobs
from matmul_ladder.bench.machine import memory_bytes
from matmul_ladder.rungs.threads import cores
from matmul_ladder.rungs.conv import _padded_rows
from matmul_ladder.bench.check import BOUND_C, Tally, correlate3x3_valid, elementwise, precision

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


class Checker:
    """The float64 reference of one image and its bound, computed CHECK_ROWS rows at a time
    (no float64 copy of the whole image is needed), kept once computed where memory allows,
    and for GPU answers computed and compared on the GPU."""

    def __init__(self, x, w, keep_bytes=None):
        self.x, self.w = x, w
        n_out = max(x.shape[0] - 2, 0) * max(x.shape[1] - 2, 0)
        if keep_bytes is None:
            keep_bytes = (memory_bytes() or 0) // 4
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


class ConvWorkload:
    """y = x (*) w, valid 3x3: standard-normal inputs, the chunked Checker, GB/s against the
    triad (CPU) or the device copy (GPU)."""
    columns = COLUMNS
    unsupported_rows = True  # a kernel without a dtype gets a "skipped" row for it

    def __init__(self, config):
        self.cfg = config
        self.roofs = _roofs.empty_roofs()

    def jobs(self, kernels):
        return ladder_jobs(kernels, self.cfg.threads, gpu_modes=("compute",), gpu_threads=1)

    def case_count(self):
        return len(self.cfg.sizes)

    def cases(self, kernels):
        gpu = any(k.device == "gpu" and not k.availability() for k in kernels)
        threads = sorted(set(self.cfg.threads) | {1})
        rng = np.random.default_rng(self.cfg.seed)
        for dtype in self.cfg.dtypes:
            w = rng.standard_normal((3, 3)).astype(dtype)
            for n in sorted(self.cfg.sizes):
                self.roofs = _roofs.measure_roofs([dtype], threads, gpu, self.roofs)
                x = rng.standard_normal((n, n)).astype(dtype)
                case = Case(dtype, float(n) ** 2, None, size=n, x=x, w=w, checker=Checker(x, w),
                            device=None)
                yield case
                del case, x

    @staticmethod
    def growth_doubt(n0, t0, n1, t1):
        return ""  # timing.exponent_doubt's limits are a cubic kernel's

    @staticmethod
    def describe(row):
        return f"{row['kernel']} {row['dtype']} N={row['N']} t={row['threads']}"

    @staticmethod
    def check(case, answer, kernel):
        problem = case.checker.violations(answer)
        return problem, None if problem else case.checker.error

    @staticmethod
    def _output(kernel, n, dtype):
        """The output a kernel writes into, allocated once per measurement (rows on 64-byte
        boundaries, as the streaming stores of conv_c_strips need), or None."""
        if not kernel.takes_out:
            return None
        if kernel.device == "gpu":
            import cupy
            return cupy.empty((n - 2, n - 2), dtype=dtype)
        return _padded_rows((n - 2, n - 2), dtype)

    def prepare(self, kernel, mode, f, case):
        if kernel.device != "gpu":
            inputs = (case.x, case.w)
        else:  # the image moves to the GPU once per case; the CUDA rungs take w from the host
            import cupy
            if case.device is None:
                case.device = (cupy.asarray(case.x), cupy.asarray(case.w))
            inputs = (case.device[0], case.w if kernel.language == "CUDA" else case.device[1])
        out = self._output(kernel, case.size, case.dtype)
        args = inputs if out is None else inputs + (out,)
        if kernel.device != "gpu":
            return (lambda: f(*args)), (lambda y: y)

        def call():
            y = f(*args)
            cupy.cuda.get_current_stream().synchronize()
            return y
        return call, (lambda y: y)  # checked where it lies

    def row(self, run_id, kernel, threads, mode, case, status, t, note, error, flag):
        n, dtype = case.size, case.dtype
        row = dict.fromkeys(COLUMNS, "")
        if flag:
            note = "; ".join(filter(None, [note, f"doubtful: {flag}"]))
        row.update(run=run_id, kernel=kernel.name, language=kernel.language,
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
        if status == "ok":
            row["output"] = "reused" if kernel.takes_out else "allocated"
            row["normwise_error"] = "" if error is None else f"{error:.3g}"
        return row


class ConvHarness(Engine):
    """The convolution ladder's engine: ConvHarness(ConvConfig(...), kernels=None (the
    registry's conv2d kernels, or config.kernels), ...)."""

    def __init__(self, config, kernels=None, log=None, run_id=None, progress=None):
        if kernels is None:
            names = config.kernels or _registry.names("conv2d")
            kernels = [_registry.get(n, "conv2d") for n in names]
        super().__init__(ConvWorkload(config), kernels, log, run_id or
                         time.strftime("%Y%m%d-%H%M%S"), progress)

    @property
    def roofs(self):
        return self.workload.roofs
