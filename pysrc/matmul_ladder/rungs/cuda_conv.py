"""The CUDA rungs of the convolution ladder: csrc/cuda/conv/<n>_<rung>.cu, compiled at run time
by CuPy (cupy.RawModule) as templates for float32 and float64, so nothing needs nvcc at
install. A wheel carries the sources as package data (cuda_src/conv/). Each takes and
returns CuPy arrays: f(x, w) -> the 'valid' cross-correlation of x with the 3 x 3 filter w.
"""
import functools
import os
from dataclasses import dataclass

from matmul_ladder.rungs import cuda


@dataclass(frozen=True)
class ConvRung:
    name: str             # registry name, conv_cuda_<file>
    rung: int
    description: str
    threads: tuple        # block shape
    outputs: tuple        # (rows, cols) of outputs per thread; rows may depend on the type:
    by_value: bool        #   (("float", r32), ("double", r64)), a template argument
    vector: bool = False  # takes the `aligned` argument; the filter by value (Filter3x3)

    def rows(self, ctype):
        rows = self.outputs[0]
        return dict(rows)[ctype] if isinstance(rows, tuple) else rows

    def template(self, ctype):
        """The kernel's instantiation, e.g. conv_strips<float, 16>."""
        rows = self.outputs[0]
        return f"{self.function}<{ctype}, {dict(rows)[ctype]}>" if isinstance(rows, tuple) \
            else f"{self.function}<{ctype}>"

    @property
    def file(self):
        return f"{self.rung}_{self.name[len('conv_cuda_'):]}.cu"

    @property
    def function(self):
        return "conv_" + self.name[len("conv_cuda_"):]


RUNGS = [
    ConvRung("conv_cuda_naive", 1, "one thread per output, the filter from global memory",
             (32, 8, 1), (1, 1), False),
    ConvRung("conv_cuda_const", 2, "the filter as kernel parameters (constant bank)",
             (32, 8, 1), (1, 1), True),
    ConvRung("conv_cuda_smem", 3, "a 32x8 shared-memory tile with its halo", (32, 8, 1),
             (1, 1), True),
    ConvRung("conv_cuda_strips", 4, "register-blocked vertical strips (16x4 outputs a thread "
             "in float32, 2x4 in float64), 16-byte loads", (64, 4, 1),
             ((("float", 16), ("double", 2)), 4), True, vector=True),
]


def source_dir():
    return os.path.join(cuda.source_dir(), "conv")


@functools.lru_cache(maxsize=None)
def module(rung):
    import cupy
    with open(os.path.join(source_dir(), rung.file)) as f:
        code = f.read()
    names = [rung.template("float"), rung.template("double")]
    return cupy.RawModule(code=code, options=("-std=c++17",), name_expressions=names)


def launcher(rung):
    """f(x, w, out=None) -> y on the GPU with this rung; x (H x W, both >= 3) is a CuPy array
    of float32 or float64, w (3 x 3) of the same dtype, on the GPU or (saving a wait for
    its nine values) on the host; out, if given, a C-ordered CuPy array for y."""
    import cupy
    import numpy as np

    def run(x, w, out=None):
        if x.dtype not in (cupy.float32, cupy.float64) or w.dtype != x.dtype:
            raise TypeError(f"{rung.name} takes float32 or float64; got {x.dtype} and {w.dtype}")
        x = cupy.ascontiguousarray(x)
        H, W = x.shape
        y = out if out is not None and out.flags.c_contiguous else \
            cupy.empty((H - 2, W - 2), dtype=x.dtype)
        if y.size == 0:
            return y
        ctype = "float" if x.dtype == cupy.float32 else "double"
        kernel = module(rung).get_function(rung.template(ctype))
        rows, cols = rung.rows(ctype), rung.outputs[1]
        bx, by, _ = rung.threads
        grid = (-(-(W - 2) // (bx * cols)), -(-(H - 2) // (by * rows)), 1)
        if rung.by_value:
            # Filter3x3<T>: nine values in one struct, passed by value (a structured scalar)
            fields = np.dtype([(f"w{k}", x.dtype) for k in range(9)])
            host_w = w if isinstance(w, np.ndarray) else cupy.asnumpy(w)  # asnumpy waits
            filt = np.array([tuple(host_w.ravel())], dtype=fields)[0]
            args = [np.int32(H), np.int32(W), x, filt, y]
        else:
            args = [np.int32(H), np.int32(W), x, cupy.ascontiguousarray(cupy.asarray(w)), y]
        if rung.vector:
            args.append(np.int32(x.data.ptr % 16 == 0 and y.data.ptr % 16 == 0))
        kernel(grid, rung.threads, tuple(args))
        if out is not None and y is not out:
            out[...] = y
            return out
        return y
    return run
