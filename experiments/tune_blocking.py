"""Tuning sweep for c_simd's cache blocks: KC x MC candidates, timed round-robin in one
process (one call of each per round, medians over rounds), so drift hits all alike.

    python experiments/tune_blocking.py --n 2048 --dtype float32 --kc 256,384,512 --mc 96,192,384
    python experiments/tune_blocking.py --n 4096 --kc 0 --mc 0 --nc 1024,2048,4096

Every candidate's answer is checked against the float64 reference before it is timed; one
that is wrong stops the sweep with the reason. Prints GFLOP/s per candidate, best first,
beside the sizes derived from this CPU's caches (0 in a list means "derived").
"""
import argparse
import sys

from matmul_ladder.studies import tune_blocking as study


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--kc", default="192,256,384,512,768")
    p.add_argument("--mc", default="96,192,384,768")
    p.add_argument("--nc", default="0")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--threads", type=int, default=1, help="1: c_simd; more: c_omp")
    args = p.parse_args(argv)
    return study.run(args.n, args.dtype, args.kc, args.mc, args.nc, args.rounds, args.threads)


if __name__ == "__main__":
    sys.exit(main())
