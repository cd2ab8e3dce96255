"""`python -m matmul_ladder.dist`: one SUMMA under mpiexec or torchrun; one JSON line from rank 0."""
import argparse
import contextlib
import json
import os
import sys
from dataclasses import asdict

import numpy as np

from matmul_ladder import api as _api
from matmul_ladder.api import KernelUnavailableError
from matmul_ladder.dist.comm import Grid, TorchGrid, gather, pingpong
from matmul_ladder.dist.layout import dims, parse_grid, random_block, random_matrix
from matmul_ladder.dist.engine import summa, summa_torch

TIMES = ("total_s", "gemm_s", "wait_s", "pack_s")


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


def _median(runs):
    return sorted(runs, key=lambda r: r.total_s)[len(runs) // 2]


def _verdict(problem, checked):
    return ("FAILED: " + problem) if problem else ("ok" if checked else "")


def _torch_local_product(kernel, stack):
    """torch.matmul, or a ladder kernel applied through DLPack (CuPy for a CUDA rung)."""
    import torch
    if kernel == "torch":
        return torch.matmul
    _api._registry.get(kernel, "matmul")
    f = stack.enter_context(_api.bind(kernel))
    if _api._registry.get(kernel).device != "gpu":
        return lambda ap, bp: torch.from_numpy(f(ap.numpy(), bp.numpy()))
    import cupy
    return lambda ap, bp: torch.from_dlpack(f(cupy.from_dlpack(ap), cupy.from_dlpack(bp)))


def torch_main(args):
    """One SUMMA over torch.distributed, under torchrun (RANK, WORLD_SIZE, LOCAL_RANK) or
    mpiexec (PMI_RANK, PMI_SIZE, with MASTER_ADDR and MASTER_PORT set)."""
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
        # the grid checked against the ranks, and its row and column groups, made once
        grid = TorchGrid(parse_grid(args.grid) if args.grid else dims(world), rank, device=device)
        grid_shape = grid.shape
        m, k, n = _shape(args, grid)
        host = np.float32 if args.dtype == "bfloat16" else np.dtype(args.dtype)
        tdtype = getattr(torch, args.dtype)
        a = torch.from_numpy(random_block((m, k), grid, 1, host)).to(device, tdtype)
        b = torch.from_numpy(random_block((k, n), grid, 2, host)).to(device, tdtype)
        with contextlib.ExitStack() as stack:
            multiply = _torch_local_product(args.kernel or "torch", stack)

            def run():
                return summa_torch(a, b, (m, k), (k, n), grid_shape, rank, multiply,
                                   (grid.rows, grid.cols), args.panel, args.pieces)
            run()   # warm-up
            runs = []
            for _ in range(max(args.repeats, 1)):
                c, stats = run()
                runs.append(stats.reduce(grid, TIMES))   # the times' maxima; rank 0's bytes
        best = _median(runs)
        problem = ""
        if args.check:
            wide = torch.float64 if args.dtype == "float64" else torch.float32
            parts = grid.allgather((grid.row, grid.col, c.to(wide).cpu().numpy()))
            if rank == 0:
                from matmul_ladder.bench.check import Reference
                full = np.empty((m, n), dtype=host)
                for r, cc, block in parts:
                    full[grid.block((m, n), r, cc)] = block
                problem = Reference(random_matrix((m, k), grid, 1, host),
                                    random_matrix((k, n), grid, 2, host)).violations(
                    full, "bf16" if args.dtype == "bfloat16" else "")
        if rank == 0:
            row = {"backend": f"torch-{backend}", "device": args.device, "ranks": world,
                   "grid": f"{grid_shape[0]}x{grid_shape[1]}", "m": m, "k": k, "n": n,
                   "dtype": args.dtype, "kernel": args.kernel or "torch", **asdict(best),
                   "check": _verdict(problem, args.check)}
            print(json.dumps(row), flush=True)
        grid.free()
        return 1 if problem else 0
    finally:
        tdist.destroy_process_group()


def mpi_main(args):
    """One SUMMA over mpi4py, under mpiexec (or --pingpong)."""
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
            runs.append(stats.reduce(grid))
        best = _median(runs)
        problem = ""
        if args.check:
            full = gather(c, (m, n), grid)
            if grid.rank == 0:
                from matmul_ladder.bench.check import Reference
                problem = Reference(random_matrix((m, k), grid, 1, args.dtype),
                                    random_matrix((k, n), grid, 2, args.dtype)).violations(full)
        if grid.rank == 0:
            row = {"ranks": comm.Get_size(), "grid": f"{grid.shape[0]}x{grid.shape[1]}",
                   "m": m, "k": k, "n": n, "dtype": args.dtype, "kernel": args.kernel,
                   "threads_per_rank": args.threads, "pieces": args.pieces, **asdict(best),
                   "check": _verdict(problem, args.check)}
            print(json.dumps(row), flush=True)
        grid.free()
        return 1 if problem else 0
    except (ValueError, KeyError, TypeError, MemoryError, KernelUnavailableError) as exc:
        if comm.Get_rank() == 0:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            print(f"matmul_ladder.dist: error: {message}", file=sys.stderr, flush=True)
        return 2


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
    return mpi_main(args)


if __name__ == "__main__":
    sys.exit(main())
