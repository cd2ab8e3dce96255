"""The kernel registry: every rung and baseline, in ladder order, with its availability.

A kernel is used through `bind(threads)`, a context manager that yields a plain function
f(a, b) -> a @ b with the threads pinned for the whole block. ml.matmul binds for one call;
the timing harness binds once around its repeats, so pinning costs nothing per call.
"""
import contextlib
import os

import numpy as np

from matmul_ladder.rungs import pure, table
from matmul_ladder.rungs.base import (_C_MISSING, Kernel, KernelInfo, _always,  # noqa: F401
                                      _bf16_available, _c_available, _ckernels, _cupy_missing, _import_extension,
                                      _omp_available, _simd_available, _torch_cuda_missing,
                                      _torch_missing)
from matmul_ladder.rungs.layout import empty_aligned, unit_stride_rows


# ---- C rungs ----------------------------------------------------------------------------
def _c_binder(rung):
    @contextlib.contextmanager
    def bind(threads):
        def run(a, b):
            a, b = unit_stride_rows(a), unit_stride_rows(b)
            c = empty_aligned((a.shape[0], b.shape[1]), a.dtype)
            _ckernels.run(rung, a, b, c, threads)
            return c
        yield run
    return bind


_C_NEEDS = {"": _c_available, "simd": _simd_available, "openmp": _omp_available,
            "bf16": _bf16_available}


def _bf16_unit_note():
    """What a c_bf16 row says about the unit it ran on: an emulated one is no speed."""
    unit = _ckernels.bf16_unit()
    if unit.startswith("emulate_"):
        return (f"unit {unit}: a scalar emulation of the unit's arithmetic, for tests; its "
                f"time says nothing of the unit's speed")
    return f"unit {unit}"


_C_NOTES = {"bf16": _bf16_unit_note}


def _c_kernel(row):
    """The Kernel of one C row of rungs/table.py."""
    needs = _C_NEEDS[row.needs]

    def availability():
        if _ckernels is not None and row.name not in _ckernels.RUNGS:
            return (f"_ckernels was built before {row.name} joined rungs/table.py; rebuild "
                    f"with `pip install -e .`")
        return needs()
    return Kernel(row.name, "C", row.rung, row.description, row.parallel, _c_binder(row.name),
                  availability, dtypes=row.dtypes, precision=row.precision,
                  run_note=_C_NOTES.get(row.needs, lambda: ""))


# The fast-matmul rung (rungs/fast.py) beside c_strassen: any bilinear scheme over c_omp, each
# checked under its own error bound (Kernel.error_growth). Two of its schemes are kernels of
# the package: Strassen-Winograd for two levels (c_strassen's step, through the rung's
# plans), and AlphaTensor's <4,4,4>:49 over the reals. fast.kernel makes any other.
FAST_KERNELS = {"fast_winograd2": "winograd,winograd", "fast_alphatensor49": "alphatensor_444_49"}


def _c_kernel_and_fast(row):
    yield _c_kernel(row)
    if row.name == "c_strassen":
        from matmul_ladder.rungs import fast
        for name, levels in FAST_KERNELS.items():
            yield fast.kernel(levels, "cpu", name)


# ---- Cython rungs ----------------------------------------------------------------------
CYTHON_MODULES = {}  # rung -> (its extension module or None, why not)


def _cy_binder(rung, openmp=False, tiles=False):
    """openmp: the module's matmul takes a thread count and needs OpenMP; tiles: it reads
    c_blocked's tiles from _ckernels (rungs/table.py)."""
    module, missing = _import_extension(f"_{rung}")
    if module is None and _ckernels is None and tiles:
        # They read c_blocked's tiles from _ckernels, the owner of the block sizes, and do not
        # load without it (csrc/state.h).
        missing = f"{rung} takes its tile sizes from _ckernels, which is unavailable: {_C_MISSING}"
    CYTHON_MODULES[rung] = module, missing

    @contextlib.contextmanager
    def bind(threads):
        def run(a, b):
            # Typed [:, ::1] memoryviews need C-contiguous inputs: anything else is copied once.
            a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
            c = empty_aligned((a.shape[0], b.shape[1]), a.dtype)
            if openmp:
                module.matmul(a, b, c, threads)
            else:
                module.matmul(a, b, c)
            return c
        yield run

    def availability():
        if missing:
            return missing
        if openmp and _ckernels is not None and not _ckernels.has_openmp():
            return "built without OpenMP: prange would run on one thread"
        return ""
    return bind, availability


def _cy_kernel(row):
    """The Kernel of one Cython row of rungs/table.py."""
    return Kernel(row.name, "Cython", row.rung, row.description, row.parallel,
                  *_cy_binder(row.name, row.openmp, row.tiles), reads_tiles=row.tiles)


# ---- pure Python -------------------------------------------------------------------------
@contextlib.contextmanager
def _py_bind(threads):
    def run(a, b):
        rows = pure.matmul_lists(a.tolist(), b.tolist(), b.shape[1])
        with np.errstate(over="ignore"):  # float32 overflow rounds to inf, as the C rungs give
            return np.array(rows, dtype=a.dtype).reshape(a.shape[0], b.shape[1])
    yield run


# ---- baselines ---------------------------------------------------------------------------
@contextlib.contextmanager
def _numpy_bind(threads):
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=threads, user_api="blas"):
        yield np.matmul


@contextlib.contextmanager
def _torch_threads(threads):
    """torch's intra-op threads pinned to `threads` for the block."""
    import torch
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _as_tensor(x):
    import torch
    # torch.from_numpy shares memory, but refuses negative strides and warns on read-only.
    usable = x.flags.writeable and min(x.strides, default=0) >= 0
    return torch.from_numpy(x if usable else x.copy())


@contextlib.contextmanager
def _torch_cpu_bind(threads):
    def run(a, b):
        import torch
        return torch.matmul(_as_tensor(a), _as_tensor(b)).numpy()
    with _torch_threads(threads):
        yield run


def _torch_bf16_operands(a, b):
    """torch_bf16's operands: float32 arrays rounded to bfloat16 tensors (to nearest even),
    and back(c): its bfloat16 answer as a float32 array."""
    import torch
    return (_as_tensor(a).to(torch.bfloat16), _as_tensor(b).to(torch.bfloat16),
            lambda c: c.float().numpy())


@contextlib.contextmanager
def _torch_bf16_bind(threads):
    def run(a, b):
        import torch
        if isinstance(a, np.ndarray):  # ml.matmul's float32 arrays: converted in the call
            x, y, back = _torch_bf16_operands(a, b)
            return back(torch.matmul(x, y))
        return torch.matmul(a, b)  # tensors from _torch_bf16_operands: the product alone
    with _torch_threads(threads):
        yield run


@contextlib.contextmanager
def _cupy_bind(threads):
    import cupy
    yield cupy.matmul


@contextlib.contextmanager
def _torch_cuda_bind(threads):
    import cupy
    import torch
    # True FP32, as cuBLAS through CuPy, unless the harness was asked for TF32 (--tf32).
    torch.backends.cuda.matmul.allow_tf32 = os.environ.get("MATMUL_LADDER_TF32") == "1"

    def run(a, b):
        m, k, n = a.shape[0], a.shape[1], b.shape[1]
        if m == 0 or n == 0 or k == 0:  # nothing to multiply; DLPack of empty arrays is fragile
            return cupy.zeros((m, n), dtype=a.dtype)
        # DLPack shares memory but needs non-negative strides: contiguous copies where not.
        ta = torch.from_dlpack(cupy.ascontiguousarray(a))
        tb = torch.from_dlpack(cupy.ascontiguousarray(b))
        return cupy.from_dlpack(torch.matmul(ta, tb))
    yield run


def _cuda_kernel(rung):
    from matmul_ladder.rungs import cuda

    @contextlib.contextmanager
    def bind(threads):
        yield cuda.launcher(rung)

    def missing():
        return _cupy_missing() or cuda.missing(rung)
    precision = "" if rung.precision == "fp32" else rung.precision
    return Kernel(rung.name, "CUDA", rung.rung, rung.description, False, bind, missing,
                  "gpu", ("float32",), precision=precision)


KERNELS = [
    Kernel("py_naive", "Python", 0, "pure-Python triple loop on lists (the floor)", False,
           _py_bind, _always),
    *(k for row in table.C_RUNGS for k in _c_kernel_and_fast(row)),
    *(_cy_kernel(row) for row in table.CYTHON_RUNGS),
    Kernel("numpy", "baseline", None, "numpy.matmul (its BLAS, pinned with threadpoolctl)",
           True, _numpy_bind, _always),
    Kernel("torch_cpu", "baseline", None, "torch.matmul on the CPU", True, _torch_cpu_bind,
           _torch_missing, timing="torch"),
    Kernel("torch_bf16", "baseline", None,
           "torch.matmul on bfloat16 CPU tensors (oneDNN: AMX or AVX512-BF16 where present), "
           "float32 sums, a bfloat16 answer", True, _torch_bf16_bind, _torch_missing,
           dtypes=("float32",), precision="bf16_out", timing="torch",
           operands=_torch_bf16_operands),
    Kernel("cupy", "baseline", None, "cupy.matmul (cuBLAS, FP32)", False, _cupy_bind,
           _cupy_missing, "gpu"),
    Kernel("torch_cuda", "baseline", None, "torch.matmul on CUDA (cuBLAS, TF32 off)", False,
           _torch_cuda_bind, _torch_cuda_missing, "gpu"),
]


def _cuda_rungs():
    from matmul_ladder.rungs import cuda
    return [_cuda_kernel(r) for r in cuda.RUNGS]


KERNELS += _cuda_rungs()


def _conv_kernels():
    from matmul_ladder.rungs.conv import CONV_KERNELS
    return CONV_KERNELS


KERNELS += _conv_kernels()
BY_NAME = {k.name: k for k in KERNELS}
OPERATIONS = ("matmul", "conv2d")


def names(operation):
    return [k.name for k in KERNELS if k.operation == operation]


def get(name, operation=None):
    """The kernel called `name`; with `operation`, one that computes it (ValueError else)."""
    if not isinstance(name, str):
        raise TypeError(f"kernel must be a str, got {type(name).__name__}")
    choices = names(operation) if operation else list(BY_NAME)
    try:
        kernel = BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown kernel {name!r}; choose from: {', '.join(choices)}") from None
    if operation and kernel.operation != operation:
        raise ValueError(f"kernel {name!r} computes {kernel.operation}, not {operation}; "
                         f"choose from: {', '.join(choices)}")
    return kernel
