"""The MPI rung (matmul_ladder.dist): SUMMA under `mpiexec -n 1, 2, 4` (oversubscribed, tiny
sizes) on square, rectangular and non-divisible shapes and on square, 1xP and Px1 grids,
against numpy.matmul under the error bound; bad input raises on every rank; the
torch.distributed (gloo) path on 2 processes; ScaLAPACK's PDGEMM baseline where the system has
it. Every run has a timeout: a hang fails."""
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
pytestmark = pytest.mark.skipif(
    MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
    reason="no MPI: pip install -e '.[mpi]' (mpi4py and the MPICH runtime)")


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


def test_command_line_runs_checks_and_reports():
    out = mpirun(4, "-m", "matmul_ladder.dist", "--n", "97", "--grid", "2x2", "--check",
                 "--repeats", "2")
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    assert row["check"] == "ok" and row["ranks"] == 4 and row["grid"] == "2x2"
    assert row["total_s"] >= row["gemm_s"] and row["bytes_in"] > 0


def test_command_line_weak_scaling_block_and_pingpong():
    out = mpirun(2, "-m", "matmul_ladder.dist", "--block", "40", "--check", "--repeats", "1")
    row = json.loads(out.stdout)
    assert row["n"] == 57 and row["check"] == "ok"
    out = mpirun(2, "-m", "matmul_ladder.dist", "--pingpong")
    assert json.loads(out.stdout)["pingpong_bytes_per_s"] > 0


@pytest.mark.parametrize("args,message", [(["--grid", "3x1"], "a 3x1 grid needs 3 ranks; there are 2"),
                                          (["--grid", "2"], "expected ROWSxCOLS"),
                                          (["--kernel", "nope"], "unknown kernel"),
                                          (["--kernel", "conv_c_omp"], "computes conv2d, not matmul")])
def test_command_line_errors_are_one_line(args, message):
    out = mpirun(2, "-m", "matmul_ladder.dist", "--n", "8", *args, timeout=60)
    assert out.returncode != 0
    assert message in out.stderr and "Traceback" not in out.stderr


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
    assert row["check"] == "ok" and row["grid"] == grid


def test_scalapack_grid_mismatch_is_one_line():
    launcher, reason = _scalapack()
    if not launcher:
        pytest.skip(reason)
    out = subprocess.run([launcher, "-n", "2", sys.executable, "-m", "matmul_ladder.scalapack",
                          "--n", "8", "--grid", "2x2"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "a 2x2 grid needs 4 ranks; there are 2" in out.stderr
    assert "Traceback" not in out.stderr


def torchrun(procs, *args, timeout=180):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
           "-m", "matmul_ladder.dist", "--backend", "torch", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
@pytest.mark.parametrize("procs,args", [
    (2, ["--size", "97", "--dtype", "float64"]),
    (4, ["--shape", "37,23,41", "--grid", "1x4", "--dtype", "float32", "--kernel", "c_simd"]),
    (1, ["--size", "20"])])
def test_torchrun_command_line_gloo(procs, args):
    """The launcher a multi-GPU run uses (torchrun), here on CPU processes with gloo."""
    out = torchrun(procs, *args, "--check", "--repeats", "1")
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert rows and rows[0]["check"] == "ok", out.stdout + out.stderr[-2000:]
    assert rows[0]["backend"] == "torch-gloo" and rows[0]["ranks"] == procs


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_torchrun_grid_mismatch_is_one_line():
    out = torchrun(2, "--size", "8", "--grid", "3x1", timeout=120)
    assert out.returncode != 0
    assert "matmul_ladder.dist: error: a 3x1 grid needs 3 ranks; there are 2" in out.stderr


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed")
def test_multi_gpu_experiment_says_when_there_is_no_gpu():
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the experiment would run")
    out = subprocess.run([sys.executable, os.path.join(os.path.dirname(HERE), "experiments", "multi_gpu.py")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "no CUDA GPU visible to PyTorch" in out.stderr
