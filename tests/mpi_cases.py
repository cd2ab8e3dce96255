"""Cases that tests/test_dist.py runs under `mpiexec -n P python tests/mpi_cases.py CASE ...`.
Each prints one line on rank 0: 'ok', or what went wrong."""
import os
import sys

import numpy as np


def summa_case(grid_text, m, k, n, dtype, kernel, panel, pieces=4):
    from matmul_ladder import dist
    from matmul_ladder.bench.check import Reference
    grid = dist.Grid(dist.parse_grid(grid_text))
    a_full = np.random.default_rng(1).uniform(-1, 1, (m, k)) if grid.rank == 0 else None
    b_full = np.random.default_rng(2).uniform(-1, 1, (k, n)) if grid.rank == 0 else None
    a = dist.scatter(a_full, (m, k), grid, dtype)
    b = dist.scatter(b_full, (k, n), grid, dtype)
    c, stats = dist.summa(a, b, (m, k), (k, n), grid, kernel, 1, panel, pieces)
    assert c.dtype == dtype and c.shape == grid.local_shape((m, n))
    full = dist.gather(c, (m, n), grid)
    if grid.rank == 0:
        problem = Reference(a_full.astype(dtype), b_full.astype(dtype)).violations(full)
        print(problem or "ok", flush=True)


def mismatch_case(what):
    """Bad input on some ranks: every rank must raise, none may hang."""
    from mpi4py import MPI
    from matmul_ladder import dist
    grid = dist.Grid()
    rank = grid.rank
    m = k = n = 8
    dtype = np.float32 if (what == "dtype" and rank == 1) else np.float64
    a = np.ones(grid.local_shape((m, k)), dtype)
    b = np.ones(grid.local_shape((k, n)), dtype)
    shape_b = (k + 1, n) if what == "inner" else (k, n)
    if what == "block" and rank == 1:
        a = np.ones((1, 1))
    try:
        dist.summa(a, b, (m, k), shape_b, grid, "numpy")
        raised = ""
    except ValueError as exc:
        raised = str(exc)
    everyone = MPI.COMM_WORLD.gather(raised, root=0)
    if rank == 0:
        print("ok" if all(everyone) else f"not every rank raised: {everyone}", flush=True)
        print(everyone[0], flush=True)


def gloo_case(grid_text, m, k, n):
    import torch
    import torch.distributed as dist_t
    from matmul_ladder import dist
    from matmul_ladder.bench.check import Reference
    rank, size = int(os.environ["PMI_RANK"]), int(os.environ["PMI_SIZE"])
    dist_t.init_process_group("gloo", rank=rank, world_size=size)
    pr, pc = dist.parse_grid(grid_text)
    row, col = divmod(rank, pc)
    a_full = np.random.default_rng(1).uniform(-1, 1, (m, k))
    b_full = np.random.default_rng(2).uniform(-1, 1, (k, n))
    ar, ac = dist.block_range(m, pr, row), dist.block_range(k, pc, col)
    br, bc = dist.block_range(k, pr, row), dist.block_range(n, pc, col)
    a = torch.from_numpy(np.ascontiguousarray(a_full[ar[0]:ar[1], ac[0]:ac[1]]))
    b = torch.from_numpy(np.ascontiguousarray(b_full[br[0]:br[1], bc[0]:bc[1]]))
    c = dist.summa_torch(a, b, (m, k), (k, n), (pr, pc), rank)[0].numpy()
    parts = [None] * size
    dist_t.all_gather_object(parts, (row, col, c))
    if rank == 0:
        full = np.empty((m, n))
        for r, cc, block in parts:
            rr, cr = dist.block_range(m, pr, r), dist.block_range(n, pc, cc)
            full[rr[0]:rr[1], cr[0]:cr[1]] = block
        print(Reference(a_full, b_full).violations(full) or "ok", flush=True)
    dist_t.destroy_process_group()


if __name__ == "__main__":
    case, args = sys.argv[1], sys.argv[2:]
    if case == "summa":
        g, m, k, n, dtype, kernel, panel, *pieces = args
        summa_case(g, int(m), int(k), int(n), np.dtype(dtype), kernel, int(panel), *map(int, pieces))
    elif case == "mismatch":
        mismatch_case(args[0])
    elif case == "gloo":
        g, m, k, n = args
        gloo_case(g, int(m), int(k), int(n))
