"""The GPU ladder: every hand-written CUDA rung against cuBLAS (through CuPy and PyTorch),
data on the GPU, timed with CUDA events (cupyx.profiler.benchmark) after warm-up.

    python experiments/cuda_ladder.py --out results/cuda     # n = 1024, 2048, 4096, 8192

Rungs 1-7 compute in FP32 and race cuBLAS FP32 (TF32 off); so do rungs 9 and 14,
cuda_3xtf32 and cuda_3xtf32_wgmma, whose precision is "3xtf32" (three TF32 products that
recover FP32's accuracy: RACES says which cuBLAS each precision is held to). Rungs 8, 12 and
13 round their inputs to TF32 and rungs 10 and 11 to BF16: they race cuBLAS TF32 and BF16
(torch), timed the same way; rungs 10 and 11 and cuBLAS BF16 all start from BF16 copies made
before the clock starts, while the times of rungs 12-14, like cuBLAS TF32's and FP32's, start
from the FP32 inputs and so include their transpose (and, for 14, split) of the inputs
(cuda.tma_launcher). --kernels picks some, e.g.
--kernels cuda_tf32_mma,cuda_bf16_wgmma,cuda_bf16_persistent,cuda_tf32_wgmma,cupy,torch_cuda.
Beside each speed, "error" is the answer's
normwise error against float64 of the FP32 inputs, ||C - C_ref||_F / ||C_ref||_F (cuBLAS TF32
and BF16's too), so that a rung's speed is read with what it costs in accuracy.
Inputs are drawn from a normal distribution (zeros would draw less power and run faster);
the same inputs are reused across repeats, with no L2 flush (at n >= 2048 A and B, 32 MB
and up, exceed most of the 50-60 MB L2). The SM clock is read (nvidia-smi) before and after.

Every kernel is checked against a float64 reference (computed on the GPU) before it is timed,
under the error bound of the precision it computes in (check.EPSILON).
Writes cuda_ladder.csv, cuda_ladder.md (the table) and cuda_ladder.png to --out.
"""
import argparse
import os
import sys

from matmul_ladder.studies import cuda_ladder as study


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1024,2048,4096,8192")
    p.add_argument("--kernels", default="", help="comma-separated names (default: all)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--out", default=os.path.join("results", "cuda"))
    args = p.parse_args(argv)
    reason = study.unavailable()
    if reason:
        print(f"no GPU ladder here: {reason}")
        return 1
    try:
        names = study.gpu_names(args.kernels.split(",") if args.kernels else None)
    except ValueError as exc:
        p.error(str(exc))
    command = f"python experiments/cuda_ladder.py {' '.join(argv or sys.argv[1:])}"
    return study.run([int(s) for s in args.sizes.split(",")], names, args.repeats, args.out, command)


if __name__ == "__main__":
    sys.exit(main())
