"""Rung 7, past one machine: SUMMA (van de Geijn and Watts, 1997) over MPI, with a ladder
kernel for each rank's local product.

    mpiexec -n 4 python -m matmul_ladder.dist --n 4096 --grid 2x2 --kernel c_omp --threads 1

The P = pr x pc ranks form a Cartesian grid. A (M x K), B (K x N) and C (M x N) are cut into
pr x pc blocks, nearly equal (sizes differ by at most one row or column, so no size has to
divide by the grid). Rank (i, j) holds block (i, j) of each. C's block (i, j) is the sum over
k of A(i, k) B(k, j), so SUMMA walks K in panels: the rank of grid column c that owns A's
panel broadcasts it along its grid row, the rank of grid row r that owns B's panel broadcasts
it down its grid column, and every rank adds the product of the two panels to its block of C.
The next panels' broadcasts are started before this panel's product (MPI_Ibcast), and the
product is done in row slices with MPI_Testall between them, so that communication can
overlap the arithmetic.

Per rank, SUMMA receives about M K / pr + K N / pc elements: 2 n^2 / sqrt(p) for square
matrices on a square grid. Each rank's local product is a plain ladder kernel (`c_omp` by
default, `numpy` as the baseline) on `threads` threads.

The same algorithm runs over torch.distributed (`summa_torch`): gloo on CPUs, NCCL on GPUs,
where the local product is torch.matmul (cuBLAS). Bad input (shapes that do not match, a grid
that does not match the number of ranks, ranks that disagree on the dtype or the shapes)
raises ValueError on every rank: every rank sees the same gathered facts, so none is left
waiting in a collective.
"""
import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from ._api import KernelUnavailableError


def mpiexec():
    """The mpiexec to launch with: on PATH, else beside this Python (where pip puts MPICH's),
    else None."""
    import shutil
    import sysconfig
    found = shutil.which("mpiexec")
    if found:
        return found
    beside = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    return beside if os.access(beside, os.X_OK) else None


def block_range(n, parts, i):
    """[start, stop) of part i when n is cut into `parts` nearly equal parts."""
    q, r = divmod(n, parts)
    start = i * q + min(i, r)
    return start, start + q + (1 if i < r else 0)


def _bounds(n, parts):
    return [block_range(n, parts, i)[0] for i in range(parts)] + [n]


def parse_grid(text):
    """'2x3' -> (2, 3)."""
    try:
        pr, pc = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"grid {text!r}: expected ROWSxCOLS, e.g. 2x2") from None
    if pr < 1 or pc < 1:
        raise ValueError(f"grid {text!r}: both sides must be at least 1")
    return pr, pc


class Layout:
    """Where blocks live on a pr x pc grid: rank (row, col) holds block (row, col) of every
    matrix. `Grid` adds the MPI communicators; the torch.distributed path uses it alone."""

    def __init__(self, shape, row, col):
        self.shape, self.row, self.col = tuple(shape), row, col
        self.rank = row * shape[1] + col

    def block(self, shape, row=None, col=None):
        """(row slice, column slice) of block (row, col), this rank's by default, of a matrix
        of `shape` cut pr x pc."""
        row = self.row if row is None else row
        col = self.col if col is None else col
        (r0, r1), (c0, c1) = (block_range(shape[0], self.shape[0], row),
                              block_range(shape[1], self.shape[1], col))
        return slice(r0, r1), slice(c0, c1)

    def local_shape(self, shape):
        rows, cols = self.block(shape)
        return rows.stop - rows.start, cols.stop - cols.start


class Grid(Layout):
    """A pr x pc process grid on an MPI communicator (default: COMM_WORLD), with the
    communicators of this rank's grid row and grid column."""

    def __init__(self, shape=None, comm=None):
        from mpi4py import MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        size = self.comm.Get_size()
        if shape is None:
            shape = tuple(MPI.Compute_dims(size, 2))
        pr, pc = shape
        if pr < 1 or pc < 1 or pr * pc != size:
            raise ValueError(f"a {pr}x{pc} grid needs {pr * pc} ranks; there are {size}")
        self.cart = self.comm.Create_cart([pr, pc], periods=[False, False], reorder=False)
        super().__init__((pr, pc), *self.cart.Get_coords(self.cart.Get_rank()))
        self.row_comm = self.cart.Sub([False, True])   # my grid row: ranks differ in column
        self.col_comm = self.cart.Sub([True, False])   # my grid column
        self.rank = self.cart.Get_rank()

    def free(self):
        for c in (self.row_comm, self.col_comm, self.cart):
            c.Free()


def scatter(full, shape, grid, dtype=np.float64, root=0):
    """This rank's block of the matrix `full`, which only `root` needs to hold."""
    comm = grid.cart
    if comm.Get_rank() == root:
        full = np.asarray(full, dtype=dtype)
        if full.shape != tuple(shape):
            raise ValueError(f"scatter: matrix is {full.shape}, expected {tuple(shape)}")
        for r in range(comm.Get_size()):
            rows, cols = grid.block(shape, *comm.Get_coords(r))
            part = np.ascontiguousarray(full[rows, cols])
            if r == root:
                mine = part
            else:
                comm.Send(part, dest=r, tag=11)
        return mine
    out = np.empty(grid.local_shape(shape), dtype=dtype)
    comm.Recv(out, source=root, tag=11)
    return out


def gather(local, shape, grid, root=0):
    """The whole matrix on `root` (None elsewhere) from every rank's block."""
    comm = grid.cart
    local = np.ascontiguousarray(local)
    if comm.Get_rank() != root:
        comm.Send(local, dest=root, tag=12)
        return None
    full = np.empty(shape, dtype=local.dtype)
    for r in range(comm.Get_size()):
        rows, cols = grid.block(shape, *comm.Get_coords(r))
        if r == root:
            full[rows, cols] = local
        else:
            part = np.empty((rows.stop - rows.start, cols.stop - cols.start), dtype=local.dtype)
            comm.Recv(part, source=r, tag=12)
            full[rows, cols] = part
    return full


def random_block(shape, grid, seed, dtype=np.float64, row=None, col=None):
    """Block (row, col) (this rank's by default) of a random matrix defined block by block:
    uniform in [-1, 1), from a generator seeded by (seed, row, col). Each rank makes its own
    block in place, so weak scaling never needs a whole matrix on one rank."""
    row = grid.row if row is None else row
    col = grid.col if col is None else col
    rows, cols = grid.block(shape, row, col)
    rng = np.random.default_rng([seed, row, col])
    return rng.uniform(-1, 1, (rows.stop - rows.start, cols.stop - cols.start)).astype(dtype)


def random_matrix(shape, grid, seed, dtype=np.float64):
    """The whole matrix whose blocks random_block makes (for checking, on one rank)."""
    full = np.empty(shape, dtype=dtype)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            rows, cols = grid.block(shape, i, j)
            full[rows, cols] = random_block(shape, grid, seed, dtype, i, j)
    return full


@dataclass
class Stats:
    """Seconds and bytes of one SUMMA on one rank (`reduce` gives the maximum over ranks)."""
    total_s: float = 0.0
    gemm_s: float = 0.0      # local products and the additions into C
    wait_s: float = 0.0      # waiting for broadcasts to complete
    pack_s: float = 0.0      # copying A's panels into contiguous buffers
    bytes_in: int = 0        # panel bytes received from other ranks
    panels: int = 0

    def reduce(self, comm):
        from mpi4py import MPI
        return Stats(**{k: comm.allreduce(v, op=MPI.MAX) for k, v in asdict(self).items()})


def _panels(k, pr, pc, width):
    """K's panels: [k0, k1) pieces that lie in one A column block and one B row block."""
    cuts = sorted(set(_bounds(k, pc)) | set(_bounds(k, pr)))
    panels = []
    for lo, hi in zip(cuts, cuts[1:]):
        step = hi - lo if not width else width
        panels += [(p, min(p + step, hi)) for p in range(lo, hi, step)]
    return panels


def _owner(bounds, k0):
    return next(i for i in range(len(bounds) - 1) if bounds[i] <= k0 < bounds[i + 1])


def _schedule(k, pr, pc, width):
    """SUMMA's steps: (k0, k1, grid column owning A's panel, grid row owning B's panel)."""
    a_bounds, b_bounds = _bounds(k, pc), _bounds(k, pr)
    return [(k0, k1, _owner(a_bounds, k0), _owner(b_bounds, k0))
            for k0, k1 in _panels(k, pr, pc, width)]


def _agree(grid, a_local, b_local, shape_a, shape_b):
    """Raise the same ValueError on every rank if the inputs do not make one product."""
    facts = (str(a_local.dtype), str(b_local.dtype), tuple(a_local.shape), tuple(b_local.shape),
             tuple(shape_a), tuple(shape_b))
    everyone = grid.cart.allgather(facts)
    dtypes = sorted({f[0] for f in everyone} | {f[1] for f in everyone})
    if len(dtypes) != 1:
        raise ValueError(f"ranks disagree on the dtype: {', '.join(dtypes)}")
    if dtypes[0] not in ("float32", "float64"):
        raise ValueError(f"dtype {dtypes[0]}: float32 or float64 only")
    if len({f[4:] for f in everyone}) != 1:
        raise ValueError("ranks disagree on the global shapes of A and B")
    k, k2 = shape_a[1], shape_b[0]
    if k != k2:
        raise ValueError(f"shapes {tuple(shape_a)} and {tuple(shape_b)}: inner dimensions differ")
    for rank, f in enumerate(everyone):
        coords = grid.cart.Get_coords(rank)
        want_a = tuple(s.stop - s.start for s in grid.block(shape_a, *coords))
        want_b = tuple(s.stop - s.start for s in grid.block(shape_b, *coords))
        if f[2] != want_a or f[3] != want_b:
            raise ValueError(f"rank {rank} (grid {coords[0]},{coords[1]}) holds blocks {f[2]} "
                             f"and {f[3]}; the {grid.shape[0]}x{grid.shape[1]} grid gives it "
                             f"{want_a} and {want_b}")
    return np.dtype(dtypes[0])


def summa(a_local, b_local, shape_a, shape_b, grid, kernel="c_omp", threads=1, panel=0,
          pieces=4):
    """This rank's block of C = A B, and its Stats. a_local, b_local: this rank's blocks of A
    and B (grid.block); kernel: a ladder kernel for the local products; panel: the widest
    panel broadcast at once (0: whole blocks, the fewest messages); pieces: each local
    product is done in this many row slices, with MPI_Testall on the next panel's broadcasts
    between them. MPICH moves a non-blocking broadcast's data only inside MPI calls, so
    without those calls the next panel would travel only once the product is done."""
    from . import _api
    dtype = _agree(grid, a_local, b_local, shape_a, shape_b)
    _api._registry.get(kernel, "matmul")   # a matmul kernel, or ValueError naming them
    k = shape_a[1]
    pr, pc = grid.shape
    mine_a, mine_b = grid.block(shape_a)[1], grid.block(shape_b)[0]   # my K ranges
    m_local, n_local = a_local.shape[0], b_local.shape[1]
    c_local = np.zeros((m_local, n_local), dtype=dtype)
    stats = Stats()
    panels = _schedule(k, pr, pc, panel)
    stats.panels = len(panels)

    def start(p):
        """Post the broadcasts of panel p: (A panel, B panel, requests)."""
        k0, k1, owner_col, owner_row = panels[p]
        t = time.perf_counter()
        if grid.col == owner_col:
            ap = np.ascontiguousarray(a_local[:, k0 - mine_a.start:k1 - mine_a.start])
        else:
            ap = np.empty((m_local, k1 - k0), dtype=dtype)
            stats.bytes_in += ap.nbytes
        if grid.row == owner_row:
            bp = b_local[k0 - mine_b.start:k1 - mine_b.start]   # whole rows: contiguous
        else:
            bp = np.empty((k1 - k0, n_local), dtype=dtype)
            stats.bytes_in += bp.nbytes
        stats.pack_s += time.perf_counter() - t
        requests = [grid.row_comm.Ibcast(ap, root=owner_col),
                    grid.col_comm.Ibcast(bp, root=owner_row)]
        return ap, bp, requests

    from mpi4py import MPI
    grid.cart.Barrier()
    t0 = time.perf_counter()
    with _api.bind(kernel, threads=threads) as multiply:
        pending = start(0) if panels else None
        for p in range(len(panels)):
            ap, bp, requests = pending
            t = time.perf_counter()
            MPI.Request.Waitall(requests)
            stats.wait_s += time.perf_counter() - t
            if p + 1 < len(panels):
                pending = start(p + 1)
            following = pending[2] if p + 1 < len(panels) else []
            if m_local and n_local and ap.shape[1]:
                cuts = _bounds(m_local, max(1, min(pieces, m_local)))
                for r0, r1 in zip(cuts, cuts[1:]):
                    t = time.perf_counter()
                    c_local[r0:r1] += multiply(ap[r0:r1], bp)
                    stats.gemm_s += time.perf_counter() - t
                    if following:
                        t = time.perf_counter()
                        MPI.Request.Testall(following)
                        stats.wait_s += time.perf_counter() - t
    stats.total_s = time.perf_counter() - t0
    return c_local, stats


def torch_groups(grid_shape):
    """The torch.distributed groups of every grid row and every grid column (every rank must
    create every group, in the same order): ([row groups], [column groups])."""
    import torch.distributed as dist
    pr, pc = grid_shape
    rows = [dist.new_group([r * pc + c for c in range(pc)]) for r in range(pr)]
    cols = [dist.new_group([r * pc + c for r in range(pr)]) for c in range(pc)]
    return rows, cols


def summa_torch(a_local, b_local, shape_a, shape_b, grid_shape, rank, multiply=None,
                groups=None):
    """SUMMA over torch.distributed (already initialised: gloo for CPU tensors, NCCL for CUDA
    ones): this rank's block of C and its Stats. a_local, b_local: this rank's blocks as torch
    tensors (row-major rank order: rank = row * pc + col); multiply(ap, bp): the local
    product, torch.matmul (cuBLAS on a GPU) by default; groups: torch_groups(grid_shape),
    made here (and freed) when not given. Times are synchronised with the GPU."""
    import torch
    import torch.distributed as dist
    pr, pc = grid_shape
    world = dist.get_world_size()
    if pr * pc != world:
        raise ValueError(f"a {pr}x{pc} grid needs {pr * pc} ranks; there are {world}")
    k, k2 = shape_a[1], shape_b[0]
    if k != k2:
        raise ValueError(f"shapes {tuple(shape_a)} and {tuple(shape_b)}: inner dimensions differ")
    multiply = multiply or torch.matmul
    device = a_local.device
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    own_groups = groups is None
    rows, cols = torch_groups(grid_shape) if own_groups else groups
    row, col = divmod(rank, pc)
    a0, b0 = block_range(k, pc, col)[0], block_range(k, pr, row)[0]
    c_local = torch.zeros((a_local.shape[0], b_local.shape[1]), dtype=a_local.dtype, device=device)
    stats = Stats()
    panels = _schedule(k, pr, pc, 0)
    stats.panels = len(panels)
    dist.barrier()
    sync()
    t0 = time.perf_counter()
    for k0, k1, owner_col, owner_row in panels:
        t = time.perf_counter()
        if col == owner_col:
            ap = a_local[:, k0 - a0:k1 - a0].contiguous()
        else:
            ap = torch.empty((a_local.shape[0], k1 - k0), dtype=a_local.dtype, device=device)
            stats.bytes_in += ap.numel() * ap.element_size()
        if row == owner_row:
            bp = b_local[k0 - b0:k1 - b0].contiguous()
        else:
            bp = torch.empty((k1 - k0, b_local.shape[1]), dtype=b_local.dtype, device=device)
            stats.bytes_in += bp.numel() * bp.element_size()
        sync()
        stats.pack_s += time.perf_counter() - t
        t = time.perf_counter()
        dist.broadcast(ap, src=row * pc + owner_col, group=rows[row])
        dist.broadcast(bp, src=owner_row * pc + col, group=cols[col])
        sync()
        stats.wait_s += time.perf_counter() - t
        t = time.perf_counter()
        if ap.shape[0] and bp.shape[1] and ap.shape[1]:
            c_local += multiply(ap, bp)
        sync()
        stats.gemm_s += time.perf_counter() - t
    stats.total_s = time.perf_counter() - t0
    if own_groups:
        for g in rows + cols:
            dist.destroy_process_group(g)
    return c_local, stats


def pingpong(comm, nbytes=1 << 26, repeats=10):
    """Bytes per second of one message between ranks 0 and 1, one way (half a round trip)."""
    buf = np.zeros(nbytes, dtype=np.uint8)
    rank = comm.Get_rank()
    comm.Barrier()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        if rank == 0:
            comm.Send(buf, dest=1)
            comm.Recv(buf, source=1)
        elif rank == 1:
            comm.Recv(buf, source=0)
            comm.Send(buf, dest=0)
        times.append((time.perf_counter() - t) / 2)
    return nbytes / float(np.median(times)) if rank == 0 else 0.0


def _parser():
    p = argparse.ArgumentParser(prog="python -m matmul_ladder.dist", description=(
        "One SUMMA product over MPI; run it under mpiexec -n P. Prints one JSON line (rank 0)."))
    p.add_argument("--n", "--size", dest="n", type=int, default=1024,
                   help="square size M = N = K (default 1024; --size under torchrun, which takes --n)")
    p.add_argument("--shape", help="M,K,N instead of --n")
    p.add_argument("--block", type=int, default=0,
                   help="weak scaling: n = BLOCK sqrt(P), about a BLOCK x BLOCK block of each "
                        "matrix per rank (overrides --n)")
    p.add_argument("--grid", help="ROWSxCOLS (default: MPI_Dims_create)")
    p.add_argument("--backend", choices=["mpi", "torch"], default="mpi",
                   help="mpi (mpi4py, launched by mpiexec) or torch (torch.distributed, "
                        "launched by torchrun)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="torch backend: where the blocks live (cuda: one GPU per rank, NCCL)")
    p.add_argument("--dist-backend", help="torch backend: gloo or nccl (default: nccl on cuda)")
    p.add_argument("--kernel", help="local product: a ladder kernel (default c_omp), or for the "
                                    "torch backend 'torch' (torch.matmul, default) or a CUDA rung")
    p.add_argument("--threads", type=int, default=1, help="threads per rank (default 1)")
    p.add_argument("--dtype", choices=["float32", "float64", "bfloat16"], default="float64",
                   help="bfloat16: torch backend only")
    p.add_argument("--panel", type=int, default=0, help="widest panel (default: whole blocks)")
    p.add_argument("--pieces", type=int, default=4,
                   help="row slices of each local product, with MPI progress between (default 4)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs; the median is kept")
    p.add_argument("--check", action="store_true", help="compare with numpy.matmul on rank 0")
    p.add_argument("--pingpong", action="store_true", help="measure rank 0 <-> 1 bandwidth only")
    return p


def _shape(args, grid):
    if args.block:
        n = int(round(args.block * (grid.shape[0] * grid.shape[1]) ** 0.5))
        return n, n, n
    if args.shape:
        m, k, n = (int(x) for x in args.shape.split(","))
        return m, k, n
    return args.n, args.n, args.n


def _dims(world):
    """A pr x pc grid for `world` ranks, as square as it divides (pr >= pc), as MPI_Dims_create."""
    pc = max(d for d in range(1, int(world ** 0.5) + 1) if world % d == 0)
    return world // pc, pc


def _torch_local_product(kernel, stack):
    """torch.matmul, or a ladder kernel applied through DLPack (CuPy for a CUDA rung)."""
    import torch
    if kernel == "torch":
        return torch.matmul
    from . import _api
    _api._registry.get(kernel, "matmul")
    f = stack.enter_context(_api.bind(kernel))
    if _api._registry.get(kernel).device != "gpu":
        return lambda ap, bp: torch.from_numpy(f(ap.numpy(), bp.numpy()))
    import cupy
    return lambda ap, bp: torch.from_dlpack(f(cupy.from_dlpack(ap), cupy.from_dlpack(bp)))


def torch_main(args):
    """One SUMMA over torch.distributed, under torchrun (RANK, WORLD_SIZE, LOCAL_RANK) or
    mpiexec (PMI_RANK, PMI_SIZE, with MASTER_ADDR and MASTER_PORT set)."""
    import contextlib
    import torch
    import torch.distributed as tdist
    os.environ.setdefault("NCCL_NVLS_ENABLE", "0")   # no NVLink multicast
    rank = int(os.environ.get("RANK", os.environ.get("PMI_RANK", 0)))
    world = int(os.environ.get("WORLD_SIZE", os.environ.get("PMI_SIZE", 1)))
    local = int(os.environ.get("LOCAL_RANK", os.environ.get("MPI_LOCALRANKID", rank)))
    if world == 1:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29517")
    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("--device cuda: PyTorch sees no CUDA GPU")
        torch.cuda.set_device(local % torch.cuda.device_count())
        torch.backends.cuda.matmul.allow_tf32 = False   # float32 means FP32 here
    device = torch.device("cuda" if args.device == "cuda" else "cpu")
    if args.dtype == "bfloat16" and args.device != "cuda":
        raise ValueError("--dtype bfloat16 needs --device cuda")
    backend = args.dist_backend or ("nccl" if args.device == "cuda" else "gloo")
    if backend == "nccl" and args.device == "cuda":
        on_host = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
        if on_host > torch.cuda.device_count():
            raise ValueError(f"NCCL needs a GPU per rank: {on_host} ranks on this host, "
                             f"{torch.cuda.device_count()} GPU(s); --dist-backend gloo lets ranks share one")
    tdist.init_process_group(backend, rank=rank, world_size=world)
    try:
        grid_shape = parse_grid(args.grid) if args.grid else _dims(world)
        if grid_shape[0] * grid_shape[1] != world:
            raise ValueError(f"a {grid_shape[0]}x{grid_shape[1]} grid needs "
                             f"{grid_shape[0] * grid_shape[1]} ranks; there are {world}")
        layout = Layout(grid_shape, *divmod(rank, grid_shape[1]))
        m, k, n = _shape(args, layout)
        host = np.float32 if args.dtype == "bfloat16" else np.dtype(args.dtype)
        tdtype = getattr(torch, args.dtype)
        a = torch.from_numpy(random_block((m, k), layout, 1, host)).to(device, tdtype)
        b = torch.from_numpy(random_block((k, n), layout, 2, host)).to(device, tdtype)
        groups = torch_groups(grid_shape)
        with contextlib.ExitStack() as stack:
            multiply = _torch_local_product(args.kernel or "torch", stack)
            summa_torch(a, b, (m, k), (k, n), grid_shape, rank, multiply, groups)  # warm-up
            runs = []
            for _ in range(max(args.repeats, 1)):
                c, stats = summa_torch(a, b, (m, k), (k, n), grid_shape, rank, multiply, groups)
                values = torch.tensor([getattr(stats, f) for f in ("total_s", "gemm_s", "wait_s", "pack_s")],
                                      dtype=torch.float64, device=device)
                tdist.all_reduce(values, op=tdist.ReduceOp.MAX)
                runs.append(Stats(*values.tolist(), bytes_in=stats.bytes_in, panels=stats.panels))
        best = sorted(runs, key=lambda r: r.total_s)[len(runs) // 2]
        problem = ""
        if args.check:
            parts = [None] * world
            tdist.all_gather_object(parts, (layout.row, layout.col, c.to(torch.float64 if args.dtype == "float64" else torch.float32).cpu().numpy()))
            if rank == 0:
                from .check import Reference
                full = np.empty((m, n), dtype=host)
                for r, cc, block in parts:
                    full[layout.block((m, n), r, cc)] = block
                problem = Reference(random_matrix((m, k), layout, 1, host),
                                    random_matrix((k, n), layout, 2, host)).violations(
                    full, "bf16" if args.dtype == "bfloat16" else "")
        if rank == 0:
            row = {"backend": f"torch-{backend}", "device": args.device, "ranks": world,
                   "grid": f"{grid_shape[0]}x{grid_shape[1]}", "m": m, "k": k, "n": n,
                   "dtype": args.dtype, "kernel": args.kernel or "torch", **asdict(best),
                   "check": ("FAILED: " + problem) if problem else ("ok" if args.check else "")}
            print(json.dumps(row), flush=True)
        for g in groups[0] + groups[1]:
            tdist.destroy_process_group(g)
        return 1 if problem else 0
    finally:
        tdist.destroy_process_group()


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.backend == "torch":
        try:
            return torch_main(args)
        except (ValueError, KernelUnavailableError) as exc:
            if int(os.environ.get("RANK", os.environ.get("PMI_RANK", 0))) == 0:
                print(f"matmul_ladder.dist: error: {exc}", file=sys.stderr, flush=True)
            return 2
    if args.dtype == "bfloat16":
        print("matmul_ladder.dist: error: --dtype bfloat16 needs --backend torch", file=sys.stderr)
        return 2
    args.kernel = args.kernel or "c_omp"
    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    try:
        if args.pingpong:
            if comm.Get_size() < 2:
                raise ValueError("--pingpong needs at least 2 ranks")
            bw = pingpong(comm)
            if comm.Get_rank() == 0:
                print(json.dumps({"pingpong_bytes_per_s": bw}), flush=True)
            return 0
        grid = Grid(parse_grid(args.grid) if args.grid else None, comm)
        m, k, n = _shape(args, grid)
        a = random_block((m, k), grid, 1, args.dtype)
        b = random_block((k, n), grid, 2, args.dtype)
        runs = []
        for _ in range(max(args.repeats, 1)):
            c, stats = summa(a, b, (m, k), (k, n), grid, args.kernel, args.threads, args.panel,
                             args.pieces)
            runs.append(stats.reduce(grid.cart))
        best = sorted(runs, key=lambda s: s.total_s)[len(runs) // 2]
        problem = ""
        if args.check:
            full = gather(c, (m, n), grid)
            if grid.rank == 0:
                from .check import Reference
                problem = Reference(random_matrix((m, k), grid, 1, args.dtype),
                                    random_matrix((k, n), grid, 2, args.dtype)).violations(full)
        if grid.rank == 0:
            row = {"ranks": comm.Get_size(), "grid": f"{grid.shape[0]}x{grid.shape[1]}",
                   "m": m, "k": k, "n": n, "dtype": args.dtype, "kernel": args.kernel,
                   "threads_per_rank": args.threads, "pieces": args.pieces, **asdict(best),
                   "check": ("FAILED: " + problem) if problem else ("ok" if args.check else "")}
            print(json.dumps(row), flush=True)
        grid.free()
        return 1 if problem else 0
    except (ValueError, KeyError, TypeError, MemoryError, KernelUnavailableError) as exc:
        if comm.Get_rank() == 0:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            print(f"matmul_ladder.dist: error: {message}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
