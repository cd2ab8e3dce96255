"""The 3x3 convolution ladder: every conv2d kernel against SciPy, NumPy, PyTorch and CuPy.

    python experiments/conv_ladder.py --quick   # N = 256-2048, < 3 min on 2 cores
    python experiments/conv_ladder.py           # N = 256-16384, the course's sizes and beyond
    python experiments/conv_ladder.py --help    # sizes, dtypes, threads, budget, kernels

A thin script over matmul_ladder.cli.conv (also `matmul-ladder conv`).
"""
import sys

from matmul_ladder.cli.conv import main

if __name__ == "__main__":
    sys.exit(main(prog="conv_ladder.py"))
