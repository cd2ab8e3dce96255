"""`pip install .` works as well as `pip install -e .`: a wheel built from this checkout,
installed into a fresh virtual environment, imports, runs a compiled rung and carries the
CUDA rungs' sources as package data."""
import os
import subprocess
import sys
import venv

import pytest

pytestmark = pytest.mark.slow  # outside the quick set (python -m pytest -m "not slow")

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))


def test_wheel_installs_into_a_fresh_venv(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                    ROOT], check=True, timeout=900)
    wheel = next(wheels.glob("matmul_ladder-*.whl"))
    env_dir = tmp_path / "venv"
    # The fresh environment borrows NumPy and the rest from this one; the package itself
    # comes only from the wheel.
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    python = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
                   check=True, timeout=300)
    check = (
        "import os, numpy as np, matmul_ladder as ml\n"
        "from matmul_ladder.rungs import cuda\n"
        "assert ml.__file__.startswith(os.environ['VENV']), ml.__file__\n"
        "d = cuda.source_dir()\n"
        "assert d.startswith(os.environ['VENV']), d\n"
        "assert all(os.path.exists(os.path.join(d, r.file)) for r in cuda.RUNGS)\n"
        "assert all(cuda.source(r) for r in cuda.RUNGS)\n"   # opens every header a rung includes
        "a = np.arange(12.0).reshape(3, 4)\n"
        "assert np.array_equal(ml.matmul(a, a.T, kernel='c_blocked'), a @ a.T)\n"
        "print('ok', len(cuda.RUNGS))\n")
    out = subprocess.run([str(python), "-c", check], capture_output=True, text=True,
                         cwd=tmp_path, env=dict(os.environ, VENV=str(env_dir)), timeout=300)
    assert out.returncode == 0, out.stderr
    from matmul_ladder.rungs import cuda
    assert out.stdout.split() == ["ok", str(len(cuda.RUNGS))], out.stdout
