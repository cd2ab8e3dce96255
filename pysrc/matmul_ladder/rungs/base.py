"""What every kernel is (Kernel, KernelInfo) and the checks of what this machine offers it:
the compiled extensions, SIMD, OpenMP, PyTorch, CuPy and a GPU. The matmul registry and the
convolution's both build on it."""
import functools
import importlib
import importlib.util
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class KernelInfo:
    name: str
    language: str  # "Python", "C", "Cython", "CUDA" or "baseline"
    rung: Optional[int]  # position on the ladder; None for baselines
    description: str
    parallel: bool  # takes threads > 1
    available: bool
    reason: str  # why not available; "" when it is
    device: str = "cpu"  # "cpu" (numpy arrays) or "gpu" (cupy arrays)
    dtypes: tuple = ("float32", "float64")
    operation: str = "matmul"  # "matmul" (ml.matmul) or "conv2d" (ml.conv2d: 3x3 cross-correlation)
    precision: str = ""  # "" computes in the arrays' dtype; "tf32"/"bf16": rounds inputs to
    # that; "bf16_out": bf16 inputs and a bf16 answer (bench/check.py's PRECISIONS)
    error_growth: float = 1.0  # a fast scheme's error bound over the classical one (check.py)


@dataclass
class Kernel:
    name: str
    language: str
    rung: Optional[int]
    description: str
    parallel: bool
    binder: Callable  # threads -> context manager yielding f(a, b)
    availability: Callable[[], str]  # "" if usable here, else the reason
    device: str = "cpu"
    dtypes: tuple = ("float32", "float64")
    operation: str = "matmul"
    precision: str = ""
    # How the kernel is used, as fields rather than checks of its name:
    takes_out: bool = False  # conv2d: writes into a given `out` (else returns a new array)
    aligned_rows: bool = False  # conv2d: wants each output row on a 64-byte boundary
    timing: str = "host"  # on the CPU: "host" (the harness's clock) or "torch" (time_torch)
    reads_tiles: bool = False  # reads c_blocked's tiles through _ckernels (csrc/state.h)
    error_growth: float = 1.0  # a fast scheme's error bound over the classical one (check.py)
    # None, or (a, b) -> (x, y, back): the NumPy operands converted once to what the kernel
    # computes on (torch_bf16: bfloat16 tensors), which its bound function also takes, and
    # back(answer) -> a NumPy array of a's dtype. The harness converts outside the timed calls.
    operands: Optional[Callable] = None
    # () -> "" or what each of its measured rows should say about how it ran (c_bf16: the unit)
    run_note: Callable[[], str] = lambda: ""

    def info(self):
        reason = self.availability()
        return KernelInfo(self.name, self.language, self.rung, self.description,
                          self.parallel, not reason, reason, self.device, self.dtypes,
                          self.operation, self.precision, self.error_growth)

    def bind(self, threads):
        return self.binder(threads)


def _import_extension(module):
    """(module, "") or (None, reason) for one of the package's compiled extensions."""
    try:
        return importlib.import_module(f"matmul_ladder.{module}"), ""
    except ImportError as exc:
        return None, (f"extension {module} is not built ({exc}); reinstall with "
                      f"`pip install -e .`")


_ckernels, _C_MISSING = _import_extension("_ckernels")


def _c_available():
    return _C_MISSING


def _simd_available():
    if _C_MISSING:
        return _C_MISSING
    if _ckernels.active_isa() == "none":
        best = _ckernels.best_isa()
        if best == "none":
            return "this CPU (or OS) lacks AVX2+FMA and AVX-512F, which the micro-kernels need"
        return f"SIMD turned off (MATMUL_LADDER_ISA or set_simd_isa('none')); this CPU has {best}"
    return ""


def _omp_available():
    reason = _simd_available()
    if reason:
        return reason
    if not _ckernels.has_openmp():
        return ("built without OpenMP (no compiler support found); it would run on one "
                "thread. Install a compiler with OpenMP (gcc, or clang + libomp) and reinstall")
    return ""


def _bf16_available():
    """"" if c_bf16 can run: a BF16 matrix unit (AMX or AVX512-BF16) is in use."""
    if _C_MISSING:
        return _C_MISSING
    if not hasattr(_ckernels, "bf16_unit"):
        return "_ckernels was built before c_bf16; rebuild with `pip install -e .`"
    if _ckernels.bf16_unit() == "none":
        return "no BF16 matrix unit here: " + _ckernels.bf16_unit_reason("none")
    if not _ckernels.has_openmp():
        return ("built without OpenMP (no compiler support found); it would run on one "
                "thread. Install a compiler with OpenMP (gcc, or clang + libomp) and reinstall")
    return ""


@functools.lru_cache(maxsize=None)
def _torch_missing():
    if importlib.util.find_spec("torch") is None:
        return "PyTorch is not installed: pip install torch (CPU build: pip install torch==2.13.0)"
    return ""


@functools.lru_cache(maxsize=None)
def _cupy_missing():
    if importlib.util.find_spec("cupy") is None:
        return "CuPy is not installed: pip install cupy-cuda12x (needs an NVIDIA GPU and driver)"
    try:
        import cupy
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError, missing driver libraries
        return f"no usable CUDA GPU: {exc}"
    return "" if count > 0 else "no CUDA GPU found"


@functools.lru_cache(maxsize=None)
def _torch_cuda_missing():
    reason = _torch_missing() or _cupy_missing()
    if reason:
        return reason
    import torch
    return "" if torch.cuda.is_available() else "PyTorch has no CUDA device (CPU-only build or no GPU)"


def _always():
    return ""
