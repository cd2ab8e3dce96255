"""The MPI rung (matmul_ladder.dist): SUMMA under `mpiexec -n 1, 2, 4` (oversubscribed, tiny
sizes) on square, rectangular and non-divisible shapes and on square, 1xP and Px1 grids,
against numpy.matmul under the error bound; bad input raises on every rank; the
torch.distributed (gloo) path on 2 processes; ScaLAPACK's PDGEMM baseline where the system has
it. The command lines' rows and errors are the ones recorded from them before the rung became
a package (every field but the times, every error line). Every run has a timeout: a hang
fails."""
import importlib.util
import json
import os
import socket
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "mpi_cases.py")
from matmul_ladder.dist import mpiexec  # noqa: E402

MPIEXEC = mpiexec()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
    reason="no MPI: pip install -e '.[mpi]' (mpi4py and the MPICH runtime)")]

# The rows' fields in order, and what they held (the times aside), as recorded from
# `python -m matmul_ladder.dist` before the rung became a package.
MPI_FIELDS = ["ranks", "grid", "m", "k", "n", "dtype", "kernel", "threads_per_rank", "pieces",
              "total_s", "gemm_s", "wait_s", "pack_s", "bytes_in", "panels", "check"]
TORCH_FIELDS = ["backend", "device", "ranks", "grid", "m", "k", "n", "dtype", "kernel",
                "total_s", "gemm_s", "wait_s", "pack_s", "bytes_in", "panels", "check"]


def untimed(row, fields):
    """The row's fields but the times, with their JSON types (37640 is not 37640.0)."""
    assert list(row) == fields
    return {k: (type(v).__name__, v) for k, v in row.items() if not k.endswith("_s")}


def typed(expected):
    return {k: (type(v).__name__, v) for k, v in expected.items()}


def mpirun(ranks, *args, timeout=120, env=None):
    cmd = [MPIEXEC, "-n", str(ranks), sys.executable, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


GRIDS = [(1, "1x1"), (2, "1x2"), (2, "2x1"), (4, "2x2"), (4, "1x4"), (4, "4x1")]
SHAPES = [(16, 16, 16), (37, 23, 41), (5, 64, 3), (1, 7, 1), (33, 1, 29), (2, 3, 2)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("ranks,grid", GRIDS, ids=[g for _, g in GRIDS])
def test_summa_matches_numpy(ranks, grid, shape):
    m, k, n = shape
    out = mpirun(ranks, CASES, "summa", grid, str(m), str(k), str(n), "float64", "c_omp", "0")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok", out.stdout + out.stderr[-2000:]


@pytest.mark.parametrize("kernel,dtype,panel,pieces", [
    ("numpy", "float32", 0, 1), ("c_simd", "float32", 5, 4), ("c_omp", "float64", 3, 7),
    ("cy_ikj", "float64", 0, 100)])
def test_summa_kernels_dtypes_panels_and_pieces(kernel, dtype, panel, pieces):
    out = mpirun(4, CASES, "summa", "2x2", "45", "67", "31", dtype, kernel, str(panel), str(pieces))
    assert out.stdout.strip() == "ok", out.stdout + out.stderr[-2000:]


@pytest.mark.parametrize("what,message", [("dtype", "disagree on the dtype"),
                                          ("inner", "inner dimensions differ"),
                                          ("block", "holds blocks")])
def test_bad_input_raises_on_every_rank(what, message):
    out = mpirun(2, CASES, "mismatch", what, timeout=60)
    lines = out.stdout.strip().splitlines()
    assert lines and lines[0] == "ok", out.stdout + out.stderr[-2000:]
    assert message in lines[1]


@pytest.mark.parametrize("ranks,args,expected", [
    (4, ["--n", "97", "--grid", "2x2", "--repeats", "2"],
     {"ranks": 4, "grid": "2x2", "m": 97, "k": 97, "n": 97, "dtype": "float64", "kernel": "c_omp",
      "threads_per_rank": 1, "pieces": 4, "bytes_in": 37640, "panels": 2, "check": "ok"}),
    (2, ["--block", "40", "--repeats", "1"],   # weak scaling: n = 40 sqrt(2)
     {"ranks": 2, "grid": "2x1", "m": 57, "k": 57, "n": 57, "dtype": "float64", "kernel": "c_omp",
      "threads_per_rank": 1, "pieces": 4, "bytes_in": 13224, "panels": 2, "check": "ok"}),
    (4, ["--shape", "37,23,41", "--grid", "1x4", "--panel", "5", "--pieces", "3", "--dtype",
         "float32", "--kernel", "numpy", "--repeats", "1"],
     {"ranks": 4, "grid": "1x4", "m": 37, "k": 23, "n": 41, "dtype": "float32", "kernel": "numpy",
      "threads_per_rank": 1, "pieces": 3, "bytes_in": 2664, "panels": 7, "check": "ok"}),
    (3, ["--n", "31", "--repeats", "1"],   # MPI_Dims_create's grid
     {"ranks": 3, "grid": "3x1", "m": 31, "k": 31, "n": 31, "dtype": "float64", "kernel": "c_omp",
      "threads_per_rank": 1, "pieces": 4, "bytes_in": 5208, "panels": 3, "check": "ok"})],
    ids=["n97-2x2", "block40", "shape-panel-pieces", "dims3"])
def test_command_line_rows_as_before(ranks, args, expected):
    out = mpirun(ranks, "-m", "matmul_ladder.dist", *args, "--check")
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    assert untimed(row, MPI_FIELDS) == typed(expected)
    assert row["total_s"] >= row["gemm_s"] > 0


def test_command_line_pingpong():
    out = mpirun(2, "-m", "matmul_ladder.dist", "--pingpong")
    row = json.loads(out.stdout)
    assert list(row) == ["pingpong_bytes_per_s"] and row["pingpong_bytes_per_s"] > 0


KINDS = "py_naive, c_naive, c_ikj, c_blocked, c_simd, c_omp, c_strassen"


@pytest.mark.parametrize("ranks,args,line", [
    (2, ["--grid", "3x1"], "a 3x1 grid needs 3 ranks; there are 2"),
    (2, ["--grid", "2"], "grid '2': expected ROWSxCOLS, e.g. 2x2"),
    (2, ["--grid", "0x2"], "grid '0x2': both sides must be at least 1"),
    (2, ["--kernel", "nope"], f"unknown kernel 'nope'; choose from: {KINDS}, "),
    (2, ["--kernel", "conv_c_omp"], "kernel 'conv_c_omp' computes conv2d, not matmul; "
                                    f"choose from: {KINDS}, "),
    (2, ["--shape", "4,5"], "not enough values to unpack (expected 3, got 2)"),
    (1, ["--pingpong"], "--pingpong needs at least 2 ranks"),
    (2, ["--dtype", "bfloat16"], "--dtype bfloat16 needs --backend torch")])
def test_command_line_errors_are_one_line_as_before(ranks, args, line):
    """Status 2 and the error line they gave before; rank 0 alone says it, except the
    bfloat16 refusal, which comes before MPI starts and is said by every rank, as before."""
    out = mpirun(ranks, "-m", "matmul_ladder.dist", "--n", "8", *args, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    said = [x for x in out.stderr.splitlines() if x.startswith("matmul_ladder.dist: error: ")]
    assert said and all(x.startswith("matmul_ladder.dist: error: " + line) for x in said), out.stderr
    # Two ranks writing to one stderr at once may run their lines together: count the message.
    assert out.stderr.count("matmul_ladder.dist: error: ") == (ranks if "bfloat16" in args else 1)


def test_dims_is_mpi_dims_create():
    """The grid the torch path picks (dist.dims, without MPI) is the one MPI_Dims_create gives."""
    code = ("from mpi4py import MPI; from matmul_ladder.dist import dims\n"
            "print([n for n in range(1, 257) if dims(n) != tuple(MPI.Compute_dims(n, 2))])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
@pytest.mark.parametrize("grid,shape", [("1x2", (19, 23, 17)), ("2x1", (8, 8, 8))])
def test_torch_distributed_gloo(grid, shape):
    env = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    out = mpirun(2, CASES, "gloo", grid, *map(str, shape), env=env, timeout=180)
    assert out.stdout.strip() == "ok", out.stdout + out.stderr[-2000:]


def _scalapack():
    import shutil
    from matmul_ladder import scalapack
    try:
        scalapack.load()
    except OSError as exc:
        return None, str(exc)
    launcher = shutil.which("mpiexec.mpich")
    return launcher, "" if launcher else "no mpiexec.mpich (ScaLAPACK's MPI launcher)"


@pytest.mark.parametrize("ranks,grid,n", [(1, "1x1", 37), (2, "1x2", 101), (2, "2x1", 64),
                                          (4, "2x2", 129)])
def test_scalapack_baseline_on_the_same_grids(ranks, grid, n):
    launcher, reason = _scalapack()
    if not launcher:
        pytest.skip(reason)
    cmd = [launcher, "-n", str(ranks), sys.executable, "-m", "matmul_ladder.scalapack", "--n", str(n),
           "--grid", grid, "--nb", "16", "--check", "--repeats", "1"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    row = json.loads(out.stdout)
    assert list(row) == ["engine", "ranks", "grid", "n", "nb", "dtype", "threads_per_rank",
                         "total_s", "check"]
    assert {k: v for k, v in row.items() if k != "total_s"} == {
        "engine": "ScaLAPACK pdgemm", "ranks": ranks, "grid": grid, "n": n, "nb": 16,
        "dtype": "float64", "threads_per_rank": 1, "check": "ok"}


def test_scalapack_grid_mismatch_is_one_line():
    launcher, reason = _scalapack()
    if not launcher:
        pytest.skip(reason)
    out = subprocess.run([launcher, "-n", "2", sys.executable, "-m", "matmul_ladder.scalapack",
                          "--n", "8", "--grid", "2x2"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.splitlines() == ["matmul_ladder.scalapack: error: a 2x2 grid needs 4 ranks; "
                                       "there are 2"]


def torchrun(procs, *args, timeout=180):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
           "-m", "matmul_ladder.dist", "--backend", "torch", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def _torch_row(ranks, grid, m, k, n, dtype, kernel, bytes_in, panels):
    return {"backend": "torch-gloo", "device": "cpu", "ranks": ranks, "grid": grid, "m": m,
            "k": k, "n": n, "dtype": dtype, "kernel": kernel, "bytes_in": bytes_in,
            "panels": panels, "check": "ok"}


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
@pytest.mark.parametrize("procs,args,expected", [
    (2, ["--size", "97", "--dtype", "float64"],   # bytes_in: rank 0's, as before
     _torch_row(2, "2x1", 97, 97, 97, "float64", "torch", 37248, 2)),
    (4, ["--shape", "37,23,41", "--grid", "1x4", "--dtype", "float32", "--kernel", "c_simd"],
     _torch_row(4, "1x4", 37, 23, 41, "float32", "c_simd", 2516, 4)),
    (1, ["--size", "20"], _torch_row(1, "1x1", 20, 20, 20, "float64", "torch", 0, 1))])
def test_torchrun_command_line_gloo(procs, args, expected):
    """The launcher a multi-GPU run uses (torchrun), here on CPU processes with gloo: the
    rows recorded before."""
    out = torchrun(procs, *args, "--check", "--repeats", "1")
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 1, out.stdout + out.stderr[-2000:]
    assert untimed(rows[0], TORCH_FIELDS) == typed(expected)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
@pytest.mark.parametrize("procs,args,line", [
    (2, ["--grid", "3x1"], "a 3x1 grid needs 3 ranks; there are 2"),
    (1, ["--grid", "2"], "grid '2': expected ROWSxCOLS, e.g. 2x2"),
    (2, ["--kernel", "nope"], f"unknown kernel 'nope'; choose from: {KINDS}, "),
    (1, ["--dtype", "bfloat16"], "--dtype bfloat16 needs --device cuda")])
def test_torchrun_errors_are_one_line_as_before(procs, args, line):
    out = torchrun(procs, "--size", "8", *args, timeout=120)
    assert out.returncode != 0
    said = [x for x in out.stderr.splitlines() if x.startswith("matmul_ladder.dist: error: ")]
    assert len(said) == 1 and said[0].startswith("matmul_ladder.dist: error: " + line), out.stderr


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_multi_gpu_experiment_says_when_there_is_no_gpu():
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the experiment would run")
    out = subprocess.run([sys.executable, os.path.join(os.path.dirname(HERE), "experiments", "multi_gpu.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.splitlines() == ["multi_gpu: no CUDA GPU visible to PyTorch: nothing to run"]


def test_dist_ladder_experiment_writes_its_table(tmp_path):
    """experiments/dist_ladder.py, now a script over the package, on one and two ranks:
    dist.csv's columns and rows, REPORT.md's sections and the plots, as before."""
    script = os.path.join(os.path.dirname(HERE), "experiments", "dist_ladder.py")
    out = subprocess.run([sys.executable, script, "--ranks", "1,2", "--n", "48", "--block", "24",
                          "--kernels", "numpy", "--repeats", "1", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == f"wrote {tmp_path}/dist.csv, REPORT.md, dist_strong.png, dist_weak.png"
    with open(tmp_path / "dist.csv") as f:
        header, *rows = [line.split(",") for line in f.read().splitlines()]
    assert header == ["scaling", "kernel", "ranks", "grid", "threads_per_rank", "n", "dtype",
                      "total_s", "gemm_s", "wait_s", "pack_s", "bytes_in", "model_bytes",
                      "gflops", "gflops_per_rank", "check"]
    got = [(r[0], r[1], r[2], r[3], r[5], r[11], r[15]) for r in rows]
    summa = [("strong", "numpy", "1", "1x1", "48", "0", "ok"), ("weak", "numpy", "1", "1x1", "24", "0", "ok"),
             ("strong", "numpy", "2", "2x1", "48", "9216", "ok"),
             ("weak", "numpy", "2", "2x1", "34", "4624", "ok"),
             ("one process", "numpy", "1", "-", "48", "0", "ok")]
    assert got[:5] == summa
    assert [g[:4] for g in got[5:]] in ([], [("strong", "scalapack", "1", "1x1"),
                                             ("strong", "scalapack", "2", "2x1")])
    report = (tmp_path / "REPORT.md").read_text()
    assert [line for line in report.splitlines() if line.startswith("#")] == [
        report.splitlines()[0], "## Strong scaling (n = 48)", "## Weak scaling (n = 24 sqrt(P))"]
    assert (tmp_path / "dist_strong.png").stat().st_size and (tmp_path / "dist_weak.png").stat().st_size
