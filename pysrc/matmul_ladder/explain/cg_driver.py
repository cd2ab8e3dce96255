"""Run one kernel once on fixed inputs: the program cachegrind watches for why.py.

    python -m matmul_ladder.explain.cg_driver KERNEL N DTYPE

KERNEL "none" makes the inputs and stops: its counts are the baseline (interpreter, imports,
input set-up) that why.py subtracts, so what remains is the kernel's own work.
"""
import sys

import numpy as np


def main(argv):
    kernel, n, dtype = argv[0], int(argv[1]), argv[2]
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (n, n)).astype(dtype)
    b = rng.uniform(-1, 1, (n, n)).astype(dtype)
    import matmul_ladder as ml
    if kernel != "none":
        ml.matmul(a, b, kernel=kernel, threads=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
