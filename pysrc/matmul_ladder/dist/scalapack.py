"""The distributed baseline: ScaLAPACK's PDGEMM on SUMMA's process grids, through ctypes.

The system's ScaLAPACK (Debian and Ubuntu: libscalapack-mpich2.2) is called on the same grid
as SUMMA; the command line is matmul_ladder.scalapack's (which runs this module's main):

    mpiexec.mpich -n 4 python -m matmul_ladder.scalapack --n 4096 --grid 2x2 --threads 1 --check

It must be launched by the mpiexec of the MPI that ScaLAPACK was built against (Debian's
MPICH: `mpiexec.mpich`), which need not be the MPICH that mpi4py loads for SUMMA, so this
module does not import mpi4py: BLACS starts MPI itself. ScaLAPACK distributes matrices
block-cyclically (nb x nb blocks dealt round the grid) in column-major order; each rank
fills its part from a formula of the global indices, so no rank holds a whole matrix, and
`--check` compares every rank's part of C with NumPy on the same rows and columns. The local
products are the system BLAS's (OpenBLAS where installed), on --threads threads a rank.
Prints one JSON line from rank 0, like `python -m matmul_ladder.dist`.
"""
import argparse
import ctypes
import json
import os
import sys
import time

import numpy as np

from matmul_ladder.dist.layout import check_grid, parse_grid

LIBRARIES = ("libscalapack-mpich.so.2.2", "libscalapack-mpich.so", "libscalapack-openmpi.so.2.2",
             "libscalapack-openmpi.so", "libscalapack.so")
INSTALL = ("ScaLAPACK not found: on Debian or Ubuntu, apt install libscalapack-mpich2.2 mpich "
           "libopenblas0 (then launch with mpiexec.mpich)")


def load():
    """The ScaLAPACK library, or OSError naming what to install."""
    for name in LIBRARIES:
        try:
            return ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            continue
    raise OSError(INSTALL)


def global_indices(n, nb, procs, me):
    """The global indices, in local order, of one rank's rows (or columns) of a dimension n
    dealt in nb-blocks round `procs` grid rows (or columns)."""
    blocks = np.arange(0, n, nb)
    mine = blocks[(blocks // nb) % procs == me]
    return np.concatenate([np.arange(b, min(b + nb, n)) for b in mine]) if mine.size else \
        np.zeros(0, dtype=np.int64)


def entries(rows, cols, seed):
    """A deterministic matrix in [-1, 1] from its global indices (any part of it, anywhere)."""
    return np.sin(seed + 0.7 * rows[:, None] + 1.3 * cols[None, :] + 0.01 * rows[:, None] * cols[None, :])


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m matmul_ladder.scalapack", description=(
        "ScaLAPACK PDGEMM (float64) on a process grid; run under the mpiexec of ScaLAPACK's MPI."))
    p.add_argument("--n", type=int, default=1024)
    p.add_argument("--grid", required=True, help="ROWSxCOLS")
    p.add_argument("--nb", type=int, default=256, help="block-cyclic block size (default 256)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads per rank")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--check", action="store_true")
    args = p.parse_args(argv)
    try:
        pr, pc = parse_grid(args.grid)
    except ValueError as exc:
        print(f"matmul_ladder.scalapack: error: {exc}", file=sys.stderr)
        return 2
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    try:
        lib = load()
    except OSError as exc:
        print(f"matmul_ladder.scalapack: error: {exc}", file=sys.stderr)
        return 2
    c_int, byref = ctypes.c_int, ctypes.byref
    me, nprocs = c_int(), c_int()
    lib.Cblacs_pinfo(byref(me), byref(nprocs))
    try:
        check_grid((pr, pc), nprocs.value)
    except ValueError as exc:
        if me.value == 0:
            print(f"matmul_ladder.scalapack: error: {exc}", file=sys.stderr)
        lib.Cblacs_exit(0)
        return 2
    ctxt = c_int()
    lib.Cblacs_get(-1, 0, byref(ctxt))
    lib.Cblacs_gridinit(byref(ctxt), b"Row", pr, pc)
    nprow, npcol, myrow, mycol = c_int(), c_int(), c_int(), c_int()
    lib.Cblacs_gridinfo(ctxt, byref(nprow), byref(npcol), byref(myrow), byref(mycol))

    n, nb = args.n, min(args.nb, max(args.n, 1))
    rows = global_indices(n, nb, pr, myrow.value)
    cols = global_indices(n, nb, pc, mycol.value)
    a = np.asfortranarray(entries(rows, cols, 1.0))   # this rank's parts of A and B
    b = np.asfortranarray(entries(rows, cols, 2.0))
    c = np.zeros((rows.size, cols.size), dtype=np.float64, order="F")

    def descriptor():
        desc, info = (c_int * 9)(), c_int()
        zero, size, block, lld = c_int(0), c_int(n), c_int(nb), c_int(max(1, rows.size))
        lib.descinit_(desc, byref(size), byref(size), byref(block), byref(block), byref(zero),
                      byref(zero), byref(ctxt), byref(lld), byref(info))
        if info.value != 0:
            raise ValueError(f"descinit failed: info {info.value}")
        return desc

    desc_a, desc_b, desc_c = descriptor(), descriptor(), descriptor()
    one, size = c_int(1), c_int(n)
    alpha, beta = ctypes.c_double(1.0), ctypes.c_double(0.0)
    pointer = lambda x: x.ctypes.data_as(ctypes.POINTER(ctypes.c_double))  # noqa: E731

    def pdgemm():
        lib.pdgemm_(b"N", b"N", byref(size), byref(size), byref(size), byref(alpha),
                    pointer(a), byref(one), byref(one), desc_a, pointer(b), byref(one), byref(one),
                    desc_b, byref(beta), pointer(c), byref(one), byref(one), desc_c,
                    ctypes.c_size_t(1), ctypes.c_size_t(1))

    times = []
    for _ in range(max(args.repeats, 1)):
        lib.Cblacs_barrier(ctxt, b"A")
        t = time.perf_counter()
        pdgemm()
        lib.Cblacs_barrier(ctxt, b"A")
        times.append(time.perf_counter() - t)
    problem = ""
    if args.check:
        from matmul_ladder.bench.check import Reference
        a_rows = entries(rows, np.arange(n), 1.0)
        b_cols = entries(np.arange(n), cols, 2.0)
        bad = c_int(1 if Reference(a_rows, b_cols).violations(np.ascontiguousarray(c)) else 0)
        lib.Cigsum2d(ctxt, b"A", b" ", 1, 1, byref(bad), 1, -1, -1)
        problem = f"{bad.value} rank(s) out of bound" if bad.value else ""
    if me.value == 0:
        print(json.dumps({"engine": "ScaLAPACK pdgemm", "ranks": nprocs.value, "grid": f"{pr}x{pc}",
                          "n": n, "nb": nb, "dtype": "float64", "threads_per_rank": args.threads,
                          "total_s": float(np.median(times)),
                          "check": ("FAILED: " + problem) if problem else ("ok" if args.check else "")}),
              flush=True)
    lib.Cblacs_gridexit(ctxt)
    lib.Cblacs_exit(0)
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
