"""Launching ranks: finding mpiexec, running mpiexec or torchrun, reading rank 0's JSON line."""
import json
import os
import shutil
import subprocess
import sys
import sysconfig


def mpiexec():
    """The mpiexec to launch with: on PATH, else beside this Python (where pip puts MPICH's),
    else None."""
    found = shutil.which("mpiexec")
    if found:
        return found
    beside = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    return beside if os.access(beside, os.X_OK) else None


def run_ranks(launcher, ranks, module, args, timeout, env=None):
    """`launcher -n ranks python -m module args`: the JSON line rank 0 printed last, or
    RuntimeError with the command and the last line of its stderr."""
    cmd = [launcher, "-n", str(ranks), sys.executable, "-m", module, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])}: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def mpi_run(ranks, args, timeout):
    """One `python -m matmul_ladder.dist` under mpiexec -n ranks, OMP_NUM_THREADS set to its
    --threads (1 without): its JSON row."""
    threads = args[args.index("--threads") + 1] if "--threads" in args else "1"
    return run_ranks(mpiexec(), ranks, "matmul_ladder.dist", args, timeout,
                     env={**os.environ, "OMP_NUM_THREADS": threads})


def scalapack_launcher():
    """The mpiexec of ScaLAPACK's MPI where the library loads here, else None."""
    from matmul_ladder.dist.scalapack import load
    launcher = shutil.which("mpiexec.mpich")
    try:
        load()
    except OSError:
        return None
    return launcher


def scalapack_run(launcher, ranks, grid, n, threads, repeats, check, timeout):
    """One `python -m matmul_ladder.scalapack` (PDGEMM) on `grid`: its JSON row."""
    args = ["--n", str(n), "--grid", grid, "--threads", str(threads), "--repeats", str(repeats)]
    return run_ranks(launcher, ranks, "matmul_ladder.scalapack",
                     args + (["--check"] if check else []), timeout)


def torchrun_command(procs, args, device="cuda"):
    """torchrun (as `python -m torch.distributed.run`) of `procs` ranks on this host running
    `python -m matmul_ladder.dist --backend torch --device DEVICE args`."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc_per_node={procs}", "-m", "matmul_ladder.dist", "--backend", "torch",
            "--device", device, *args]


def torchrun(procs, args, timeout, device="cuda"):
    """One torchrun_command with NVLink multicast off: rank 0's JSON row, or RuntimeError with
    the last line of stderr that names an error."""
    out = subprocess.run(torchrun_command(procs, args, device), capture_output=True, text=True,
                         timeout=timeout, env={**os.environ, "NCCL_NVLS_ENABLE": "0"})
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not rows:
        errors = [line for line in out.stderr.splitlines() if "error" in line.lower()]
        raise RuntimeError(f"{procs} GPUs {' '.join(args)}: {errors[-1:] or out.stderr[-300:]}")
    return rows[0]
