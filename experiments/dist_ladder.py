"""The MPI rung's measurements: SUMMA (matmul_ladder.dist) under mpiexec, strong and weak
scaling, against c_omp and NumPy on the same cores in one process.

    python experiments/dist_ladder.py --out results/dist                  # this machine
    python experiments/dist_ladder.py --ranks 1,2,4,8,16 --n 8192 --block 2048 --out ...

For each rank count P it launches `mpiexec -n P python -m matmul_ladder.dist` with the cores
shared out (threads per rank = cores / P), once with a fixed n (strong scaling) and once with
n = block sqrt(P) (weak scaling: about a block x block block of each matrix per rank and
--weak-threads threads per rank, so the machine used grows with P and the work per rank as
sqrt(P); weak efficiency is GFLOP/s per rank against P = 1). Every
product is checked against NumPy on rank 0 before the timed runs count (--check), at the
strong size only where it is small enough (--check-max).

Where the system has ScaLAPACK (Debian: libscalapack-mpich2.2, launched with mpiexec.mpich),
its PDGEMM runs on the same grids as the strong-scaling rows, float64 only, as the baseline
a distributed GEMM is measured against (matmul_ladder.scalapack).

Times are the maximum over ranks, split into the local products (gemm), waiting for the
panel broadcasts (wait) and copying A's panels (pack). Bytes received per rank are set
against the 2 n^2 / sqrt(P) model, and bytes per second of waiting against a ping-pong
between two ranks. Writes dist.csv, REPORT.md, dist_strong.png and dist_weak.png to --out.
"""
import argparse
import os
import sys

from matmul_ladder.dist import mpi_scaling
from matmul_ladder.dist.launch import mpiexec


def main(argv=None):
    cores = os.cpu_count() or 1
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ranks", default=",".join(str(r) for r in (1, 2, 4, 8, 16) if r <= cores),
                   help="rank counts (default: powers of two up to the cores)")
    p.add_argument("--n", type=int, default=2048, help="strong scaling size (default 2048)")
    p.add_argument("--block", type=int, default=1024, help="weak scaling block (default 1024)")
    p.add_argument("--weak-threads", type=int, default=1, help="threads per rank, weak scaling")
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--kernels", default="c_omp,numpy", help="local products (default c_omp,numpy)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--pieces", type=int, default=4, help="row slices of each local product")
    p.add_argument("--check-max", type=int, default=4096, help="check sizes up to this n")
    p.add_argument("--timeout", type=float, default=600, help="seconds per mpiexec run")
    p.add_argument("--out", default=os.path.join("results", "dist"))
    args = p.parse_args(argv)
    if mpiexec() is None:
        print("dist_ladder: error: no mpiexec: pip install -e '.[mpi]' (mpi4py and MPICH)", file=sys.stderr)
        return 2
    return mpi_scaling.run(args, argv)


if __name__ == "__main__":
    sys.exit(main())
