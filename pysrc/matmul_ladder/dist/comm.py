"""SUMMA's communication on a grid, over mpi4py (Grid) and over torch.distributed (TorchGrid)."""
import time

import numpy as np

from matmul_ladder.dist.layout import Layout, check_grid


class Grid(Layout):
    """A pr x pc process grid on an MPI communicator (default: COMM_WORLD), with the
    communicators of this rank's grid row and grid column; shape None: MPI_Dims_create's.
    Blocks are NumPy arrays."""

    DTYPES = ("float32", "float64")

    def __init__(self, shape=None, comm=None):
        from mpi4py import MPI
        self._mpi = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        size = self.comm.Get_size()
        pr, pc = check_grid(tuple(MPI.Compute_dims(size, 2)) if shape is None else shape, size)
        # reorder=False: cart ranks are comm's, numbered row by row as Layout numbers them
        self.cart = self.comm.Create_cart([pr, pc], periods=[False, False], reorder=False)
        super().__init__((pr, pc), *self.cart.Get_coords(self.cart.Get_rank()))
        self.row_comm = self.cart.Sub([False, True])   # my grid row: ranks differ in column
        self.col_comm = self.cart.Sub([True, False])   # my grid column

    def row_ibcast(self, buf, col):
        """Start broadcasting buf along my grid row from the rank in grid column `col`."""
        return self.row_comm.Ibcast(buf, root=col)

    def col_ibcast(self, buf, row):
        """Start broadcasting buf down my grid column from the rank in grid row `row`."""
        return self.col_comm.Ibcast(buf, root=row)

    def wait(self, requests):
        self._mpi.Request.Waitall(requests)

    def test(self, requests):
        """Whether all are done; MPICH moves a non-blocking broadcast only inside such calls."""
        return self._mpi.Request.Testall(requests)

    def allgather(self, obj):
        return self.cart.allgather(obj)

    def allreduce_max(self, values):
        """The maximum over ranks of each of `values` (numbers), as floats."""
        send = np.asarray(values, dtype=np.float64)
        out = np.empty_like(send)
        self.cart.Allreduce(send, out, op=self._mpi.MAX)
        return out.tolist()

    def barrier(self):
        self.cart.Barrier()

    def sync(self):
        """Nothing: NumPy's work is done when its call returns."""

    @staticmethod
    def empty(shape, like):
        return np.empty(shape, dtype=like.dtype)

    @staticmethod
    def zeros(shape, like):
        return np.zeros(shape, dtype=like.dtype)

    @staticmethod
    def contiguous(x):
        return np.ascontiguousarray(x)

    def free(self):
        for c in (self.row_comm, self.col_comm, self.cart):
            c.Free()


def torch_groups(grid_shape):
    """The torch.distributed groups of every grid row and every grid column (every rank must
    create every group, in the same order): ([row groups], [column groups])."""
    import torch.distributed as dist
    pr, pc = grid_shape
    rows = [dist.new_group([r * pc + c for c in range(pc)]) for r in range(pr)]
    cols = [dist.new_group([r * pc + c for r in range(pr)]) for c in range(pc)]
    return rows, cols


class TorchGrid(Layout):
    """A pr x pc grid over torch.distributed (already initialised: gloo for CPU tensors, NCCL
    for CUDA ones), rank = row * pc + col; groups: torch_groups(shape), made here (and freed
    by free()) when not given. Blocks are torch tensors on `device`; times wait for the GPU."""

    DTYPES = ("float16", "bfloat16", "float32", "float64")

    def __init__(self, shape, rank=None, groups=None, device="cpu"):
        import torch
        import torch.distributed as dist
        self._torch, self._dist = torch, dist
        rank = dist.get_rank() if rank is None else rank
        pr, pc = check_grid(shape, dist.get_world_size())
        super().__init__((pr, pc), *divmod(rank, pc))
        self.own_groups = groups is None
        self.rows, self.cols = torch_groups((pr, pc)) if groups is None else groups
        self.device = torch.device(device)

    def row_ibcast(self, buf, col):
        """Start broadcasting buf along my grid row from the rank in grid column `col`."""
        return self._dist.broadcast(buf, src=self.row * self.shape[1] + col,
                                    group=self.rows[self.row], async_op=True)

    def col_ibcast(self, buf, row):
        """Start broadcasting buf down my grid column from the rank in grid row `row`."""
        return self._dist.broadcast(buf, src=row * self.shape[1] + self.col,
                                    group=self.cols[self.col], async_op=True)

    def wait(self, works):
        for w in works:
            w.wait()

    def test(self, works):
        return all(w.is_completed() for w in works)

    def allgather(self, obj):
        parts = [None] * self.size
        self._dist.all_gather_object(parts, obj)
        return parts

    def allreduce_max(self, values):
        """The maximum over ranks of each of `values` (numbers), as floats."""
        t = self._torch.tensor(values, dtype=self._torch.float64, device=self.device)
        self._dist.all_reduce(t, op=self._dist.ReduceOp.MAX)
        return t.tolist()

    def barrier(self):
        self._dist.barrier()

    def sync(self):
        """Wait for the GPU, so that a time taken next covers the work queued so far."""
        if self.device.type == "cuda":
            self._torch.cuda.synchronize()

    def empty(self, shape, like):
        return self._torch.empty(shape, dtype=like.dtype, device=like.device)

    def zeros(self, shape, like):
        return self._torch.zeros(shape, dtype=like.dtype, device=like.device)

    @staticmethod
    def contiguous(x):
        return x.contiguous()

    def free(self):
        """Destroy the row and column groups if this grid made them."""
        if self.own_groups:
            for g in self.rows + self.cols:
                self._dist.destroy_process_group(g)
            self.own_groups = False


def scatter(full, shape, grid, dtype=np.float64, root=0):
    """This rank's block of the matrix `full`, which only `root` needs to hold (MPI Grid)."""
    comm = grid.cart
    if comm.Get_rank() == root:
        full = np.asarray(full, dtype=dtype)
        if full.shape != tuple(shape):
            raise ValueError(f"scatter: matrix is {full.shape}, expected {tuple(shape)}")
        for r in range(comm.Get_size()):
            part = np.ascontiguousarray(full[grid.block(shape, *grid.coords(r))])
            if r == root:
                mine = part
            else:
                comm.Send(part, dest=r, tag=11)
        return mine
    out = np.empty(grid.local_shape(shape), dtype=dtype)
    comm.Recv(out, source=root, tag=11)
    return out


def gather(local, shape, grid, root=0):
    """The whole matrix on `root` (None elsewhere) from every rank's block (MPI Grid)."""
    comm = grid.cart
    local = np.ascontiguousarray(local)
    if comm.Get_rank() != root:
        comm.Send(local, dest=root, tag=12)
        return None
    full = np.empty(shape, dtype=local.dtype)
    for r in range(comm.Get_size()):
        where = grid.block(shape, *grid.coords(r))
        if r == root:
            full[where] = local
        else:
            part = np.empty(grid.local_shape(shape, *grid.coords(r)), dtype=local.dtype)
            comm.Recv(part, source=r, tag=12)
            full[where] = part
    return full


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
