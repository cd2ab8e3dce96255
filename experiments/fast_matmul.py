"""Beyond Strassen: AlphaTensor's and the other fast schemes against the classical kernel.

    python experiments/fast_matmul.py --device cpu --sizes 2048,4096,8192 --threads 1 --out results/fast_cpu
    python experiments/fast_matmul.py --device gpu --sizes 8192,16384,32768 --out results/fast_gpu

CPU: every scheme over c_omp against c_omp and NumPy; GPU: over cuBLAS (CuPy, FP32, TF32 off)
against cupy.matmul. Each answer is checked under its scheme's error bound before it is
timed (bench/engine.py). Writes fast_matmul_<device>.csv, schemes.csv (products, additions,
passes, extra memory, growth, ceiling) and fast_matmul_<device>.png to --out.
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
    args = p.parse_args(argv)
    gpu = args.device == "gpu"
    sizes = args.sizes or ([8192, 16384, 32768] if gpu else [2048, 4096, 8192])
    contenders = (args.schemes.split(";") if args.schemes
                  else study.GPU_CONTENDERS if gpu else study.CPU_CONTENDERS)
    study.run(args.device, sizes, contenders, args.out, args.threads, args.budget, args.min_time)
    return 0


if __name__ == "__main__":
    sys.exit(main())
