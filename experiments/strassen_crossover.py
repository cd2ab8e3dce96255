"""Where does Strassen start to pay? c_strassen with one and two levels forced, against c_omp,
raced call by call at each n, with the measured error beside c_omp's.

    python experiments/strassen_crossover.py                     # n = 1024-4096, both dtypes
    python experiments/strassen_crossover.py --sizes 2048,4096,8192 --threads 1 --out results/s

speed-up = t(c_omp) / t(c_strassen); above 1 Strassen pays. The crossover (the smallest n from
which one level pays at every larger size measured) is the cutoff to give
ml.set_strassen_cutoff on this machine. Error: the largest |C - C_ref| over the classical bound
(2 K eps |A||B|) for the same inputs; Strassen's grows about 3x per level. Writes
strassen.csv and strassen_speedup.png to --out.
"""
import argparse
import os
import sys

from matmul_ladder.cli import commands as cli
from matmul_ladder.studies import strassen_crossover as study


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=cli.parse_sizes, default=[1024, 1536, 2048, 3072, 4096])
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--min-time", type=float, default=1.0, help="seconds of rounds per race")
    p.add_argument("--out", default=os.path.join("results", "strassen"))
    args = p.parse_args(argv)
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    return study.run(args.sizes, dtypes, args.threads, args.min_time, args.out)


if __name__ == "__main__":
    sys.exit(main())
