"""Beyond Strassen: AlphaTensor's and the other fast schemes against the classical kernel.

    python experiments/fast_matmul.py --device cpu --sizes 2048,4096,8192 --threads 1 --out results/fast_cpu
    python experiments/fast_matmul.py --device gpu --sizes 8192,16384,32768 --out results/fast_gpu

CPU: every scheme over c_omp against c_omp and NumPy; GPU: over cuBLAS (CuPy, FP32, TF32 off)
against cupy.matmul. Each answer is checked under its scheme's error bound before it is
timed (bench/engine.py). Writes fast_matmul_<device>.csv, schemes.csv (products, additions
as written and after the CSE pass, the run's passes and block transfers, extra memory,
growth, ceiling) and fast_matmul_<device>.png to --out. With --breakdown (CPU), where the
time goes instead: each scheme whole and with its sums skipped (breakdown_cpu.csv).
"""
import argparse
import sys

from matmul_ladder.cli import commands as cli
from matmul_ladder.studies import fast_matmul as study


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--sizes", type=cli.parse_sizes, default=None)
    p.add_argument("--schemes", default=None,
                   help="contenders separated by ';', levels by ',' (default: the study's list)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--budget", type=float, default=120.0)
    p.add_argument("--min-time", type=float, default=0.5)
    p.add_argument("--out", default="results/fast_matmul")
    p.add_argument("--breakdown", action="store_true",
                   help="CPU: time each scheme whole and with its block sums skipped (the "
                        "products alone), one call each after a warm-up; writes breakdown_cpu.csv")
    args = p.parse_args(argv)
    gpu = args.device == "gpu"
    sizes = args.sizes or ([8192, 16384, 32768] if gpu else [2048, 4096, 8192])
    contenders = (args.schemes.split(";") if args.schemes
                  else study.GPU_CONTENDERS if gpu else study.CPU_CONTENDERS)
    if args.breakdown:
        if gpu:
            p.error("--breakdown is for the CPU")
        study.breakdown(contenders, sizes, args.out, args.threads)
    else:
        study.run(args.device, sizes, contenders, args.out, args.threads, args.budget,
                  args.min_time)
    return 0


if __name__ == "__main__":
    sys.exit(main())
