"""SUMMA's panel loop, once for both grids: look-ahead broadcasts, products in pieces, checks."""
import dataclasses
import time
from dataclasses import asdict, dataclass

from matmul_ladder import api as _api
from matmul_ladder.dist.comm import TorchGrid
from matmul_ladder.dist.layout import _bounds, _schedule


@dataclass
class Stats:
    """Seconds and bytes of one SUMMA on one rank (`reduce` gives the maximum over ranks)."""
    total_s: float = 0.0
    gemm_s: float = 0.0      # local products and the additions into C
    wait_s: float = 0.0      # waiting for broadcasts to complete
    pack_s: float = 0.0      # copying A's panels into contiguous buffers
    bytes_in: int = 0        # panel bytes received from other ranks
    panels: int = 0

    def reduce(self, grid, fields=None):
        """These Stats with `fields` (default: all) replaced by their maximum over the ranks
        of `grid` (a comm.Grid or comm.TorchGrid); every rank must call it."""
        fields = list(fields or asdict(self))
        values = grid.allreduce_max([getattr(self, f) for f in fields])
        return dataclasses.replace(self, **{f: type(getattr(self, f))(v)
                                            for f, v in zip(fields, values)})


def _dtype_name(x):
    return str(x.dtype).replace("torch.", "")


def _agree(grid, a_local, b_local, shape_a, shape_b):
    """Raise the same ValueError on every rank if the inputs do not make one product: every
    rank judges the same gathered facts, so none is left waiting in a collective."""
    facts = (_dtype_name(a_local), _dtype_name(b_local), tuple(a_local.shape),
             tuple(b_local.shape), tuple(shape_a), tuple(shape_b))
    everyone = grid.allgather(facts)
    dtypes = sorted({f[0] for f in everyone} | {f[1] for f in everyone})
    if len(dtypes) != 1:
        raise ValueError(f"ranks disagree on the dtype: {', '.join(dtypes)}")
    if dtypes[0] not in grid.DTYPES:
        allowed = grid.DTYPES
        raise ValueError(f"dtype {dtypes[0]}: {', '.join(allowed[:-1])} or {allowed[-1]} only")
    if len({f[4:] for f in everyone}) != 1:
        raise ValueError("ranks disagree on the global shapes of A and B")
    if shape_a[1] != shape_b[0]:
        raise ValueError(f"shapes {tuple(shape_a)} and {tuple(shape_b)}: inner dimensions differ")
    for rank, f in enumerate(everyone):
        coords = grid.coords(rank)
        want_a, want_b = grid.local_shape(shape_a, *coords), grid.local_shape(shape_b, *coords)
        if f[2] != want_a or f[3] != want_b:
            raise ValueError(f"rank {rank} (grid {coords[0]},{coords[1]}) holds blocks {f[2]} "
                             f"and {f[3]}; the {grid.shape[0]}x{grid.shape[1]} grid gives it "
                             f"{want_a} and {want_b}")


def _loop(grid, a_local, b_local, shape_a, shape_b, multiply, panel, pieces):
    """SUMMA on inputs _agree has passed: this rank's block of C and its Stats.

    Panel p + 1's broadcasts are posted before panel p's product, which is done in `pieces`
    row slices with a test of those broadcasts between them (MPICH moves a non-blocking
    broadcast's data only inside MPI calls). Times wait for the device (grid.sync)."""
    k = shape_a[1]
    pr, pc = grid.shape
    a0, b0 = grid.block(shape_a)[1].start, grid.block(shape_b)[0].start   # my K ranges
    m_local, n_local = a_local.shape[0], b_local.shape[1]
    c_local = grid.zeros((m_local, n_local), a_local)
    stats = Stats()
    steps = _schedule(k, pr, pc, panel)
    stats.panels = len(steps)

    def start(p):
        """Post the broadcasts of panel p: (A panel, B panel, requests)."""
        k0, k1, owner_col, owner_row = steps[p]
        t = time.perf_counter()
        if grid.col == owner_col:
            ap = grid.contiguous(a_local[:, k0 - a0:k1 - a0])
        else:
            ap = grid.empty((m_local, k1 - k0), a_local)
            stats.bytes_in += ap.nbytes
        if grid.row == owner_row:
            bp = grid.contiguous(b_local[k0 - b0:k1 - b0])   # whole rows: no copy
        else:
            bp = grid.empty((k1 - k0, n_local), b_local)
            stats.bytes_in += bp.nbytes
        grid.sync()
        stats.pack_s += time.perf_counter() - t
        return ap, bp, [grid.row_ibcast(ap, owner_col), grid.col_ibcast(bp, owner_row)]

    grid.barrier()
    grid.sync()
    t0 = time.perf_counter()
    pending = start(0) if steps else None
    for p in range(len(steps)):
        ap, bp, requests = pending
        t = time.perf_counter()
        grid.wait(requests)
        grid.sync()
        stats.wait_s += time.perf_counter() - t
        following = []
        if p + 1 < len(steps):
            pending = start(p + 1)
            following = pending[2]
        if m_local and n_local and ap.shape[1]:
            cuts = _bounds(m_local, max(1, min(pieces, m_local)))
            for r0, r1 in zip(cuts, cuts[1:]):
                t = time.perf_counter()
                c_local[r0:r1] += multiply(ap[r0:r1], bp)
                grid.sync()
                stats.gemm_s += time.perf_counter() - t
                if following:
                    t = time.perf_counter()
                    grid.test(following)
                    stats.wait_s += time.perf_counter() - t
    stats.total_s = time.perf_counter() - t0
    return c_local, stats


def summa(a_local, b_local, shape_a, shape_b, grid, kernel="c_omp", threads=1, panel=0,
          pieces=4):
    """This rank's block of C = A B over MPI, and its Stats. a_local, b_local: this rank's
    blocks of A and B (grid.block), NumPy arrays; grid: a comm.Grid; kernel: a ladder kernel
    for the local products, on `threads` threads; panel: the widest panel broadcast at once
    (0: whole blocks, the fewest messages); pieces: each local product is done in this many
    row slices, with MPI_Testall on the next panel's broadcasts between them. MPICH moves a
    non-blocking broadcast's data only inside MPI calls, so without those calls the next
    panel would travel only once the product is done."""
    _agree(grid, a_local, b_local, shape_a, shape_b)
    _api._registry.get(kernel, "matmul")   # a matmul kernel, or ValueError naming them
    with _api.bind(kernel, threads=threads) as multiply:
        return _loop(grid, a_local, b_local, shape_a, shape_b, multiply, panel, pieces)


def summa_torch(a_local, b_local, shape_a, shape_b, grid_shape, rank, multiply=None,
                groups=None, panel=0, pieces=4):
    """SUMMA over torch.distributed (already initialised: gloo for CPU tensors, NCCL for CUDA
    ones): this rank's block of C and its Stats. a_local, b_local: this rank's blocks as torch
    tensors (row-major rank order: rank = row * pc + col); multiply(ap, bp): the local
    product, torch.matmul (cuBLAS on a GPU) by default; groups: comm.torch_groups(grid_shape),
    made here (and freed) when not given; panel and pieces as in summa (the broadcasts are
    asynchronous, the pieces tested between). Times are synchronised with the GPU."""
    import torch
    grid = TorchGrid(grid_shape, rank, groups, a_local.device)
    try:
        _agree(grid, a_local, b_local, shape_a, shape_b)
        return _loop(grid, a_local, b_local, shape_a, shape_b, multiply or torch.matmul,
                     panel, pieces)
    finally:
        grid.free()
