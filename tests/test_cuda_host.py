"""The host side of the TMA rungs (cuda.tma_launcher: padding, transposes, tensor maps, grid),
run without a GPU: NumPy stands in for CuPy, and each kernel is replaced by what it is meant
to compute, reading only what its arguments give it (the tensor map's matrix, the conversion
kernel's grid). What the kernels themselves do is for tests/test_gpu.py, on a GPU."""
import sys
import types

import numpy as np
import pytest

from matmul_ladder.bench.check import Reference
from matmul_ladder.rungs import cuda

TMA_RUNGS = [r for r in cuda.RUNGS if r.tma]
SMS = 132


class Array(np.ndarray):
    """A NumPy array with CuPy's .data.ptr, the device address the host code reads."""
    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.__array_interface__["data"][0])


def _wrap(x):
    return np.asarray(x).view(Array)


def fake_cupy():
    cp = types.ModuleType("cupy")
    cp.float32, cp.uint16 = np.float32, np.uint16
    cp.zeros = lambda shape, dtype: _wrap(np.zeros(shape, dtype))
    cp.empty = lambda shape, dtype: _wrap(np.full(shape, np.nan, dtype))   # garbage shows
    cp.ascontiguousarray = lambda x: _wrap(np.ascontiguousarray(x))
    return cp


def _round(x, bits):
    """To nearest with `bits` mantissa bits (what the conversion kernels do, ties aside)."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    drop = 23 - bits
    u = ((u + (1 << (drop - 1))) >> drop) << drop
    return u.astype(np.uint32).view(np.float32)


class Kernels:
    """Stand-ins for one rung's compiled kernels; they record their launches."""

    def __init__(self, rung):
        self.rung, self.launches = rung, []

    def get_function(self, name):
        def run(grid, block, args, shared_mem=0):
            self.launches.append((name, grid, block))
            (self.gemm if name == self.rung.function else self.convert)(grid, block, args, shared_mem)
        return _Function(run)

    def convert(self, grid, block, args, shared_mem):
        x, rows, cols, transpose, y, ld, *small = args
        bf16 = self.rung.precision == "bf16"
        assert len(small) == (0 if bf16 else 1)   # to_tf32_matrix takes Small, or a null pointer
        small = None if bf16 or isinstance(small[0], np.integer) and int(small[0]) == 0 else small[0]
        assert (small is not None) == (self.rung.precision == "3xtf32")
        rows, cols = int(rows), int(cols)
        block_rows = 8 if bf16 else 32
        assert block == (32, 8, 1) and grid[0] * 32 >= cols and grid[1] * block_rows >= rows
        assert int(ld) == y.shape[1] and y.shape[1] * y.itemsize % 16 == 0
        bits = 7 if y.dtype == np.uint16 else 10
        x = np.asarray(x, np.float32)
        v = _round(x, bits)
        if small is not None:   # split_tf32: the rest, rounded; 0 where x is not finite
            rest = np.where(np.isfinite(x), _round(np.nan_to_num(x - v), bits), 0).astype(np.float32)
        v = v.view(np.uint32) >> 16 if y.dtype == np.uint16 else v.view(np.uint32)
        v = v.astype(np.uint16) if y.dtype == np.uint16 else v.view(np.float32)
        for out, values in ((y, v),) + (((small, rest),) if small is not None else ()):
            if int(transpose):
                out[:cols, :rows] = values.T
            else:
                out[:rows, :cols] = values

    def gemm(self, grid, block, args, shared_mem):
        m, n, k, *maps, c = args
        m, n, k = int(m), int(n), int(k)
        rows, cols = self.rung.tile
        split = self.rung.precision == "3xtf32"
        assert len(maps) == (4 if split else 2)   # (a, bt), or (a_big, a_small, bt_big, bt_small)
        assert block == self.rung.threads and shared_mem == self.rung.shared_bytes
        half = len(maps) // 2
        assert all(box == rows for _, box in maps[:half]) and all(box == cols for _, box in maps[half:])
        tiles = -(-m // rows) * -(-n // cols)
        if self.rung.persistent:
            assert grid == (min(SMS, tiles), 1, 1)
        else:
            assert grid == (-(-n // cols), -(-m // rows), 1)
        xs = [np.asarray(x) for x, _ in maps]
        if xs[0].dtype == np.uint16:   # BF16 bits -> float32
            xs = [(x.astype(np.uint32) << 16).view(np.float32) for x in xs]
        else:                          # the tensor core reads an FP32 word's top 19 bits (TF32)
            xs = [(x.view(np.uint32) & ~np.uint32(0x1FFF)).view(np.float32) for x in xs]
        for x in xs:
            assert x.shape[0] in (m, n) and x.shape[1] >= k
        assert xs[0].shape[0] == m and xs[half].shape[0] == n
        if split:   # the padding past K must be zeros: it is summed here
            a_big, a_small, bt_big, bt_small = (x.astype(np.float64) for x in xs)
            c[...] = a_big @ bt_big.T + (a_big @ bt_small.T + a_small @ bt_big.T)
        else:
            c[...] = xs[0] @ xs[1].T


class _Function:
    def __init__(self, run):
        self._run, self.max_dynamic_shared_size_bytes = run, 0

    def __call__(self, *args, **kw):
        self._run(*args, **kw)


@pytest.fixture
def host(monkeypatch):
    """(kernels of the rung last set up, maps made) with CuPy, the modules, the tensor maps and
    the SM count replaced."""
    made = {}
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy())
    monkeypatch.setattr(cuda, "module", lambda rung: made.setdefault("kernels", Kernels(rung)))

    def tensor_map(x, box_rows):
        assert x.flags.c_contiguous and x.data.ptr % 16 == 0 and x.shape[1] * x.itemsize % 16 == 0
        made.setdefault("maps", []).append(x)
        return (x, box_rows)
    monkeypatch.setattr(cuda, "_tensor_map", tensor_map)
    monkeypatch.setattr(cuda, "_sm_count", lambda: SMS)
    return made


SHAPES = [(1, 1, 1), (0, 5, 3), (5, 0, 3), (5, 3, 0), (7, 13, 17), (129, 127, 131), (300, 260, 132),
          (2049, 2305, 9), (1, 100, 2561)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("rung", TMA_RUNGS, ids=lambda r: r.name)
def test_the_host_hands_the_kernel_what_it_needs(rung, shape, host):
    m, n, k = shape
    rng = np.random.default_rng(m + n + k)
    a = _wrap(rng.standard_normal((m, k)).astype(np.float32))
    b = _wrap(rng.standard_normal((k, n)).astype(np.float32))
    c = cuda.launcher(rung)(a, b)
    assert c.shape == (m, n) and c.dtype == np.float32
    assert not Reference(np.asarray(a), np.asarray(b)).violations(np.asarray(c), rung.precision)


@pytest.mark.parametrize("rung", TMA_RUNGS, ids=lambda r: r.name)
def test_what_stays_inside_the_timed_call(rung, host):
    """compute(*prepared) is what the ladder times: for BF16 the GEMM alone (cuBLAS BF16 is
    timed from BF16 inputs); for TF32 B's transpose and the GEMM (cuBLAS TF32 from FP32); for
    3xTF32 the split of A and of B and the GEMM (cuBLAS FP32 from FP32)."""
    a = _wrap(np.ones((64, 40), np.float32))
    b = _wrap(np.ones((40, 48), np.float32))
    prepare, compute = cuda.tma_launcher(rung)
    prepared = prepare(a, b)
    kernels = host["kernels"]
    kernels.launches.clear()
    assert np.all(np.asarray(compute(*prepared)) == 40)
    timed = [name for name, _, _ in kernels.launches]
    converts = {"bf16": 0, "tf32": 1, "3xtf32": 2}[rung.precision]   # 3xtf32: A and B split
    assert timed == ["to_tf32_matrix"] * converts + [rung.function]


@pytest.mark.parametrize("rung", [r for r in TMA_RUNGS if r.precision == "tf32"], ids=lambda r: r.name)
def test_tf32_reads_an_aligned_a_in_place_and_copies_one_that_is_not(rung, host):
    flat = _wrap(np.arange(1, 64 * 40 + 2, dtype=np.float32))
    assert flat.data.ptr % 16 == 0   # NumPy's allocations are (as CuPy's) 16-byte aligned
    b = _wrap(np.ones((40, 8), np.float32))
    for a, in_place in ((_wrap(flat[:64 * 40].reshape(64, 40)), True),
                        (_wrap(flat[1:].reshape(64, 40)), False),               # 4 bytes off
                        (_wrap(np.ones((64, 42), np.float32)), False)):         # rows of 168 bytes
        host.pop("maps", None)
        cuda.launcher(rung)(a, b)
        assert (host["maps"][0].data.ptr == a.data.ptr) == in_place
