"""The torch.distributed path of the MPI rung (matmul_ladder.dist.summa_torch) under torchrun
with gloo on CPU processes: the look-ahead and the pieces of the one loop (its calls in
order, logged in every rank), bad input planted on one rank raising the same error on every
rank, and the command line's --panel and --pieces. Every run has a timeout: a hang fails."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "torch_cases.py")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="PyTorch not installed")]


def torchrun(procs, *args, timeout=180):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={procs}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.parametrize("procs,grid,shape,panel,pieces", [
    (2, "1x2", (19, 23, 17), 4, 3), (4, "2x2", (45, 67, 31), 5, 4), (4, "4x1", (6, 9, 5), 0, 2)])
def test_look_ahead_and_pieces_on_gloo(procs, grid, shape, panel, pieces):
    out = torchrun(procs, CASES, "loop", grid, *map(str, shape), str(panel), str(pieces))
    assert out.stdout.strip() == "ok", out.stdout + out.stderr[-2000:]


def test_bad_input_raises_on_every_rank():
    faults = {"dtype": "ranks disagree on the dtype: float32, float64",
              "int": "dtype int64: float16, bfloat16, float32 or float64 only",
              "shapes": "ranks disagree on the global shapes of A and B",
              "inner": "shapes (8, 8) and (9, 8): inner dimensions differ",
              "block": "rank 1 (grid 1,0) holds blocks (1, 1) and (4, 8); the 2x1 grid gives "
                       "it (4, 8) and (4, 8)"}
    out = torchrun(2, CASES, "mismatch", *faults, timeout=120)
    lines = out.stdout.strip().splitlines()
    assert lines[0::2] == ["ok"] * len(faults), out.stdout + out.stderr[-2000:]
    assert lines[1::2] == list(faults.values())


@pytest.mark.parametrize("procs,args,panels", [
    (4, ["--shape", "37,23,41", "--grid", "1x4", "--panel", "5", "--pieces", "3"], 7),
    (2, ["--size", "33", "--pieces", "5", "--dtype", "float32"], 2)])
def test_command_line_takes_panel_and_pieces(procs, args, panels):
    """The same panels as the MPI path for the same --panel (7 here, as mpiexec gives)."""
    out = torchrun(procs, "-m", "matmul_ladder.dist", "--backend", "torch", *args, "--check",
                   "--repeats", "1")
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert rows and rows[0]["check"] == "ok", out.stdout + out.stderr[-2000:]
    assert rows[0]["panels"] == panels
