"""The main job: time every rung of the ladder against NumPy, PyTorch and CuPy.

    python experiments/ladder.py --quick     # < 2 min on 2 cores: every rung and baseline
    python experiments/ladder.py             # < 10 min: full ladder at n = 1024 plus a sweep
    python experiments/ladder.py --help      # sizes, shapes, dtypes, threads, budget, ...

A thin script over matmul_ladder.cli.commands (also `matmul-ladder` and `python -m matmul_ladder`).
"""
import sys

from matmul_ladder.cli.commands import main

if __name__ == "__main__":
    sys.exit(main())
