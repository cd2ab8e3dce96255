"""The CUDA rungs: csrc/cuda/<n>_<rung>.cu, compiled at run time by CuPy (cupy.RawModule), so
nothing needs nvcc at install. A wheel carries the sources as package data (cuda_src/). They
take and return CuPy float32 arrays.

Rungs 1-7 compute in FP32 on the SIMT pipes; rungs 8-12 on the tensor cores: 8 in TF32, 9 in
three TF32 passes (each input split into two TF32 parts), 10 and 11 in BF16 with Hopper's
wgmma and TMA, 12 in TF32 with the same (10-12: sm_90a only; their TMA tensor maps are built
with cuda-python). `precision` says how a rung rounds its inputs and sums, which sets the
bounds it is checked with (check.PRECISIONS).

Each rung is a kernel name, its launch shape, and whether it takes the `aligned` flag that
lets it use 128-bit loads (the host checks that the columns allow it and the pointers are
16-byte aligned; otherwise the kernel takes its element-wise edge path everywhere), or TMA
tensor maps of its operands instead of pointers (tma_launcher).
"""
import functools
import os
import re
from dataclasses import dataclass

PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # matmul_ladder/
SOURCE_DIRS = [os.path.join(PACKAGE, "cuda_src"),                                   # a wheel
               os.path.join(os.path.dirname(os.path.dirname(PACKAGE)), "csrc", "cuda")]  # a checkout


@dataclass(frozen=True)
class CudaRung:
    name: str          # registry name, cuda_<file>
    rung: int
    description: str
    threads: tuple     # block shape
    tile: tuple        # (rows, cols) of C per block
    rows_on_x: bool = False  # grid x walks the rows (only the naive rung)
    vector: bool = False     # takes the `aligned` argument
    shared_bytes: int = 0    # dynamic shared memory a block needs (opted in past 48 KiB)
    precision: str = "fp32"  # fp32, tf32, bf16 (the inputs rounded) or 3xtf32: check.PRECISIONS
    arch: str = ""           # a compile target it needs (sm_90a), "" for any CUDA GPU
    tma: bool = False        # takes TMA tensor maps of A and of B transposed (tma_launcher)
    persistent: bool = False  # one block per SM, each looping over output tiles

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
    CudaRung("cuda_tf32_mma", 8, "tensor cores: mma.sync m16n8k8 in TF32, 3-stage cp.async "
             "pipeline", (256, 1, 1), (128, 256), vector=True, shared_bytes=156672,
             precision="tf32"),
    CudaRung("cuda_3xtf32", 9, "tf32_mma with each input split into big + small TF32 parts: "
             "three products", (256, 1, 1), (128, 256), vector=True,
             shared_bytes=156672, precision="3xtf32"),
    CudaRung("cuda_bf16_wgmma", 10, "Hopper wgmma on BF16 fed by TMA, producer/consumer "
             "warpgroups, 4 stages", (384, 1, 1), (128, 256), shared_bytes=4 * 384 * 64 * 2 + 64 + 1024,
             precision="bf16", arch="sm_90a", tma=True),
    CudaRung("cuda_bf16_persistent", 11, "bf16_wgmma made persistent: a block per SM loops "
             "over tiles in a grouped (L2-aware) order", (384, 1, 1), (128, 256),
             shared_bytes=4 * 384 * 64 * 2 + 64 + 1024, precision="bf16", arch="sm_90a",
             tma=True, persistent=True),
    CudaRung("cuda_tf32_wgmma", 12, "Hopper wgmma on TF32 (B transposed on the way in), "
             "bf16_wgmma's pipeline", (384, 1, 1), (128, 256),
             shared_bytes=4 * 384 * 32 * 4 + 64 + 1024, precision="tf32", arch="sm_90a", tma=True),
    CudaRung("cuda_tf32_persistent", 13, "tf32_wgmma made persistent, in bf16_persistent's "
             "grouped tile order", (384, 1, 1), (128, 256),
             shared_bytes=4 * 384 * 32 * 4 + 64 + 1024, precision="tf32", arch="sm_90a",
             tma=True, persistent=True),
    CudaRung("cuda_3xtf32_wgmma", 14, "3xtf32 on tf32_persistent: big + small TF32 parts, the "
             "big products promoted to FP32 every 32 of K", (384, 1, 1), (128, 128),
             shared_bytes=3 * 4 * 128 * 32 * 4 + 48 + 1024, precision="3xtf32", arch="sm_90a",
             tma=True, persistent=True),
]


def source_dir():
    for d in SOURCE_DIRS:
        if os.path.exists(os.path.join(d, RUNGS[0].file)):
            return d
    raise FileNotFoundError(f"CUDA sources not found in {SOURCE_DIRS}")


_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([^"]+)"[ \t]*$', re.M)


def source(rung, directory=None):
    """The rung's text with the project's own headers ("...") inlined, each once, as it is on
    disk now. CuPy's compile cache keys on the text it is given, not on the files that text
    includes, so an edited header must be part of the text to be compiled at all."""
    d = directory or source_dir()
    seen = set()

    def expand(name):
        path = os.path.join(d, name)
        if path in seen:
            return f"// {name}: inlined above\n"
        seen.add(path)
        with open(path) as f:
            text = f.read()
        return _INCLUDE.sub(lambda m: f"// ---- {m.group(1)}\n{expand(m.group(1))}"
                            f"// ---- end of {m.group(1)}\n", text)
    return expand(rung.file)


@functools.lru_cache(maxsize=None)
def module(rung):
    """The compiled RawModule of one rung (compiled once per process; CuPy caches on disk,
    keyed by source(rung), which holds every header the rung includes)."""
    import cupy
    options = ("-std=c++17",) + ((f"-arch={rung.arch}",) if rung.arch else ())
    return cupy.RawModule(code=source(rung), options=options)


def _driver():
    """cuda-python's driver API module (for the TMA descriptors), or None."""
    try:
        from cuda.bindings import driver
    except ImportError:
        try:
            from cuda import cuda as driver
        except ImportError:
            return None
    return driver


@functools.lru_cache(maxsize=None)
def missing(rung):
    """"" if this rung runs on the current GPU (CuPy assumed working), else the reason."""
    if rung.arch != "sm_90a":
        return ""
    import cupy
    cc = cupy.cuda.Device().compute_capability
    if cc != "90":
        return f"needs a Hopper GPU (sm_90) for wgmma and TMA; this one is sm_{cc}"
    if _driver() is None:
        return "needs cuda-python for the TMA descriptors: pip install cuda-python"
    return ""


def _check_float32(rung, a, b):
    import cupy
    if a.dtype != cupy.float32 or b.dtype != cupy.float32:
        raise TypeError(f"{rung.name} takes float32 only; got {a.dtype} and {b.dtype}")


def launcher(rung):
    """f(a, b) -> a @ b on the GPU with this rung; a and b are 2-D float32 CuPy arrays."""
    if rung.tma:
        prepare, compute = tma_launcher(rung)
        return lambda a, b: compute(*prepare(a, b))
    import cupy
    import numpy as np
    kernel = module(rung).get_function(rung.function)
    if rung.shared_bytes:
        kernel.max_dynamic_shared_size_bytes = rung.shared_bytes

    def run(a, b):
        _check_float32(rung, a, b)
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
        kernel(grid, rung.threads, tuple(args), shared_mem=rung.shared_bytes)
        return c
    return run


TMA_BOX_BYTES = 128   # a TMA box is 128 bytes wide (the swizzle row: 64 BF16 or 32 FP32) x a tile's rows
ROW_ALIGN = 16        # TMA's global row stride and base address: a multiple of 16 bytes


def _tensor_map(x, box_rows):
    """The CUtensorMap (128 bytes, as a NumPy scalar passed by value) of a row-major CuPy
    matrix x, BF16 (held as uint16) or FP32, read in boxes of TMA_BOX_BYTES x box_rows with
    the 128-byte swizzle; outside x the boxes read zeros."""
    import numpy as np
    drv = _driver()
    (error,) = drv.cuInit(0)
    types = drv.CUtensorMapDataType
    kind = types.CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 if x.dtype == np.uint16 else types.CU_TENSOR_MAP_DATA_TYPE_FLOAT32
    rows, ld = x.shape
    size = x.dtype.itemsize
    error, tmap = drv.cuTensorMapEncodeTiled(
        kind, 2, x.data.ptr,
        [drv.cuuint64_t(ld), drv.cuuint64_t(rows)], [drv.cuuint64_t(ld * size)],
        [drv.cuuint32_t(TMA_BOX_BYTES // size), drv.cuuint32_t(box_rows)],
        [drv.cuuint32_t(1), drv.cuuint32_t(1)],
        drv.CUtensorMapInterleave.CU_TENSOR_MAP_INTERLEAVE_NONE,
        drv.CUtensorMapSwizzle.CU_TENSOR_MAP_SWIZZLE_128B,
        drv.CUtensorMapL2promotion.CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
        drv.CUtensorMapFloatOOBfill.CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE)
    if error != drv.CUresult.CUDA_SUCCESS:
        raise RuntimeError(f"cuTensorMapEncodeTiled failed: {error}")
    words = np.array([int(w) for w in tmap.opaque], dtype=np.uint64)
    return np.array([tuple(words)], dtype=np.dtype([(f"w{i}", np.uint64) for i in range(16)]))[0]


@functools.lru_cache(maxsize=None)
def _sm_count():
    import cupy
    return cupy.cuda.Device().attributes["MultiProcessorCount"]


def tma_launcher(rung):
    """(prepare, compute) for a rung fed by TMA (rungs 10-14). wgmma reads both operands
    K-major, so the kernel takes A as M x K and B transposed, N x K, each with rows padded to a
    multiple of 16 bytes (TMA's row stride) with zeros. compute(*prepare(a, b)) is a @ b;
    compute(*prepared) is what the ladder times, as cuBLAS of the same inputs is timed:
    - BF16 (10, 11): prepare rounds A and B to BF16 copies (B transposed) and compute runs the
      GEMM alone: cuBLAS BF16 is timed on BF16 inputs.
    - TF32 (12, 13): prepare sets up the transposed B (zeroed) and compute fills it, rounding
      to TF32 (to_tf32_matrix), before the GEMM: cuBLAS TF32 is timed from FP32 row-major
      inputs. A is read in place where its rows allow TMA; otherwise compute first copies it
      into a padded one (rounded to TF32).
    - 3xTF32 (14): compute splits A and B (transposed) into big and small TF32 parts, four
      padded operands, before the GEMM: cuBLAS FP32 is timed from the FP32 inputs."""
    import cupy
    import numpy as np
    mod = module(rung)
    kernel = mod.get_function(rung.function)
    kernel.max_dynamic_shared_size_bytes = rung.shared_bytes
    bf16 = rung.precision == "bf16"
    split = rung.precision == "3xtf32"
    # the conversion kernel, the element type it writes, and the rows of X a block of 32 x 8 takes
    convert, dtype, block_rows = ((mod.get_function("to_bf16_matrix"), cupy.uint16, 8) if bf16 else
                                  (mod.get_function("to_tf32_matrix"), cupy.float32, 32))
    per_row = ROW_ALIGN // np.dtype(dtype).itemsize   # elements a padded row is a multiple of
    tile_m, tile_n = rung.tile

    def convert_into(y, x, transpose, small=None):   # y[:rows, :cols] (or its transpose) = x, rounded
        rows, cols = x.shape
        if not x.size:
            return
        args = (x, np.int32(rows), np.int32(cols), np.int32(transpose), y, np.int32(y.shape[1]))
        if not bf16:   # to_tf32_matrix's small parts: another padded array, or a null pointer
            args += (small if small is not None else np.uint64(0),)
        convert((-(-cols // 32), -(-rows // block_rows), 1), (32, 8, 1), args)

    def padded(rows, cols):
        return cupy.zeros((rows, max(per_row, -(-cols // per_row) * per_row)), dtype=dtype)

    def prepare(a, b):
        _check_float32(rung, a, b)
        a, b = cupy.ascontiguousarray(a), cupy.ascontiguousarray(b)
        m, k = a.shape
        n = b.shape[1]
        if not (m and n and k):   # an empty product, or K = 0: zeros
            return m, n, k, None
        bt = padded(n, k)
        if bf16:
            a_in = padded(m, k)
            convert_into(a_in, a, 0)
            convert_into(bt, b, 1)
            copies = ()                            # nothing left to do inside the clock
            operands = ((a_in, tile_m), (bt, tile_n))
        elif split:
            a_big, a_small, bt_small = padded(m, k), padded(m, k), padded(n, k)
            copies = ((a_big, a, 0, a_small), (bt, b, 1, bt_small))
            operands = ((a_big, tile_m), (a_small, tile_m), (bt, tile_n), (bt_small, tile_n))
        else:
            in_place = k % per_row == 0 and a.data.ptr % ROW_ALIGN == 0
            a_in = a if in_place else padded(m, k)
            copies = ((bt, b, 1),) if in_place else ((a_in, a, 0), (bt, b, 1))
            operands = ((a_in, tile_m), (bt, tile_n))
        maps = tuple(_tensor_map(x, rows) for x, rows in operands)
        return m, n, k, (copies, maps, operands)   # operands keeps the mapped arrays alive

    def compute(m, n, k, prepared):
        if prepared is None:
            return cupy.zeros((m, n), dtype=cupy.float32)
        copies, maps, _ = prepared
        for copy in copies:
            convert_into(*copy)
        c = cupy.empty((m, n), dtype=cupy.float32)
        tiles_m, tiles_n = -(-m // tile_m), -(-n // tile_n)
        grid = (min(_sm_count(), tiles_m * tiles_n), 1, 1) if rung.persistent else (tiles_n, tiles_m, 1)
        kernel(grid, rung.threads, (np.int32(m), np.int32(n), np.int32(k)) + maps + (c,),
               shared_mem=rung.shared_bytes)
        return c
    return prepare, compute
