"""Past one machine: SUMMA (van de Geijn and Watts, 1997) over MPI or torch.distributed.

    mpiexec -n 4 python -m matmul_ladder.dist --n 4096 --grid 2x2 --kernel c_omp --threads 1

The P = pr x pc ranks form a grid. A (M x K), B (K x N) and C (M x N) are cut into pr x pc
blocks, nearly equal (sizes differ by at most one row or column, so no size has to divide by
the grid). Rank (i, j) holds block (i, j) of each. C's block (i, j) is the sum over k of
A(i, k) B(k, j), so SUMMA walks K in panels: the rank of grid column c that owns A's panel
broadcasts it along its grid row, the rank of grid row r that owns B's panel broadcasts it
down its grid column, and every rank adds the product of the two panels to its block of C.
The next panels' broadcasts are started before this panel's product (non-blocking), and the
product is done in row slices with a test of those broadcasts between them, so that
communication can overlap the arithmetic.

Per rank, SUMMA receives about M K / pr + K N / pc elements: 2 n^2 / sqrt(p) for square
matrices on a square grid. Over MPI (`summa`, mpi4py) each rank's local product is a ladder
kernel (`c_omp` by default, `numpy` as the baseline) on `threads` threads; over
torch.distributed (`summa_torch`: gloo on CPUs, NCCL on GPUs) it is torch.matmul (cuBLAS) or
any function of two tensors. Both run the one loop of `engine.py`. Bad input (shapes that do
not match, a grid that does not match the number of ranks, ranks that disagree on the dtype
or the shapes) raises ValueError on every rank: every rank sees the same gathered facts, so
none is left waiting in a collective.

Modules: layout (the grid, blocks, panels, owners), comm (the grids' communication: Grid over
mpi4py, TorchGrid over torch.distributed; scatter, gather, pingpong), engine (the loop, under
summa and summa_torch), launch (mpiexec and torchrun), scalapack (the PDGEMM baseline),
mpi_scaling and gpu_scaling (the experiments' runs and reports), __main__ (the command line).
"""
from matmul_ladder.dist.comm import Grid, TorchGrid, gather, pingpong, scatter, torch_groups
from matmul_ladder.dist.launch import mpiexec
from matmul_ladder.dist.layout import (Layout, _bounds, _owner, _panels, _schedule, block_range, check_grid, dims,
                     parse_grid, random_block, random_matrix)
from matmul_ladder.dist.engine import Stats, summa, summa_torch

__all__ = ["Grid", "Layout", "Stats", "TorchGrid", "block_range", "check_grid", "dims", "gather",
           "mpiexec", "parse_grid", "pingpong", "random_block", "random_matrix", "scatter",
           "summa", "summa_torch", "torch_groups"]
