"""Where does the GPU pay off? Square float32 matmul from n = 16 to 4096 on the best CPU path
(NumPy on all cores) and on the GPU (cuBLAS through CuPy): compute-only, and with the
host<->device copies, into fresh host memory, into reused host memory, and into reused pinned
memory. Then the seed blog's (1 x 25600) @ (25600 x 100) and the seed's 3-layer network.

    python experiments/gpu_payoff.py --out results/gpu_payoff

Writes payoff.csv, network.csv, payoff.md and payoff.png. CPU times: medians of
time.perf_counter; GPU compute: CUDA events (cupyx.profiler.benchmark); GPU with copies: host
clock around a call that ends with the result on the host (so it includes the sync).
"""
import argparse
import os
import sys

from matmul_ladder.studies import gpu_payoff as study
from matmul_ladder.studies.gpu_payoff import SIZES


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join("results", "gpu_payoff"))
    p.add_argument("--sizes", default=",".join(map(str, SIZES)))
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    reason = study.unavailable()
    if reason:
        print(f"no GPU here: {reason}")
        return 1
    command = f"python experiments/gpu_payoff.py {' '.join(argv or sys.argv[1:])}"
    return study.run([int(s) for s in args.sizes.split(",")], args.threads, args.out, command)


if __name__ == "__main__":
    sys.exit(main())
