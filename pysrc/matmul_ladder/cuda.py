"""The CUDA rungs: csrc/cuda/<n>_<rung>.cu, compiled at run time by CuPy (cupy.RawModule), so
nothing needs nvcc at install. A wheel carries the sources as package data (cuda_src/). They take and return CuPy float32 arrays.

Each rung is a kernel name, its launch shape, and whether it takes the `aligned` flag that
lets it use 128-bit loads (the host checks that the columns allow it and the pointers are
16-byte aligned; otherwise the kernel takes its element-wise edge path everywhere).
"""
import functools
import os
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIRS = [os.path.join(HERE, "cuda_src"),                                   # a wheel
               os.path.join(os.path.dirname(os.path.dirname(HERE)), "csrc", "cuda")]  # a checkout


@dataclass(frozen=True)
class CudaRung:
    name: str          # registry name, cuda_<file>
    rung: int
    description: str
    threads: tuple     # block shape
    tile: tuple        # (rows, cols) of C per block
    rows_on_x: bool = False  # grid x walks the rows (only the naive rung)
    vector: bool = False     # takes the `aligned` argument

    @property
    def file(self):
        return f"{self.rung}_{self.name[len('cuda_'):]}.cu"

    @property
    def function(self):
        return "mm_" + self.name[len("cuda_"):]


RUNGS = [
    CudaRung("cuda_naive", 1, "one thread per C element; a warp walks down a column (uncoalesced)",
             (32, 32, 1), (32, 32), rows_on_x=True),
    CudaRung("cuda_coalesced", 2, "a warp walks along a row of C: coalesced loads and stores",
             (32, 32, 1), (32, 32)),
    CudaRung("cuda_smem", 3, "32x32 tiles of A and B staged in shared memory", (32, 32, 1), (32, 32)),
    CudaRung("cuda_tile1d", 4, "64x64 block tile, 8 results per thread in registers (1-D)",
             (512, 1, 1), (64, 64)),
    CudaRung("cuda_tile2d", 5, "128x128 block tile, 8x8 results per thread (2-D register tile)",
             (256, 1, 1), (128, 128)),
    CudaRung("cuda_vec", 6, "tile2d with 128-bit loads and a transposed A tile", (256, 1, 1),
             (128, 128), vector=True),
    CudaRung("cuda_warptile", 7, "warp tiles, conflict-free fragments, double-buffered shared "
             "memory", (256, 1, 1), (128, 128), vector=True),
]


def source_dir():
    for d in SOURCE_DIRS:
        if os.path.exists(os.path.join(d, RUNGS[0].file)):
            return d
    raise FileNotFoundError(f"CUDA sources not found in {SOURCE_DIRS}")


@functools.lru_cache(maxsize=None)
def module(rung):
    """The compiled RawModule of one rung (compiled once per process; CuPy caches on disk)."""
    import cupy
    d = source_dir()
    with open(os.path.join(d, rung.file)) as f:
        code = f.read()
    return cupy.RawModule(code=code, options=("-std=c++17", f"-I{d}"))


def launcher(rung):
    """f(a, b) -> a @ b on the GPU with this rung; a and b are 2-D float32 CuPy arrays."""
    import cupy
    import numpy as np
    kernel = module(rung).get_function(rung.function)

    def run(a, b):
        if a.dtype != cupy.float32 or b.dtype != cupy.float32:
            raise TypeError(f"{rung.name} takes float32 only; got {a.dtype} and {b.dtype}")
        a, b = cupy.ascontiguousarray(a), cupy.ascontiguousarray(b)
        m, k = a.shape
        n = b.shape[1]
        c = cupy.empty((m, n), dtype=cupy.float32)
        if m == 0 or n == 0:
            return c
        rows, cols = rung.tile
        grid_rows, grid_cols = -(-m // rows), -(-n // cols)
        grid = (grid_rows, grid_cols, 1) if rung.rows_on_x else (grid_cols, grid_rows, 1)
        args = [np.int32(m), np.int32(n), np.int32(k), a, b, c]
        if rung.vector:
            aligned = all(x.data.ptr % 16 == 0 for x in (a, b, c))
            args.append(np.int32(aligned))
        kernel(grid, rung.threads, tuple(args))
        return c
    return run
