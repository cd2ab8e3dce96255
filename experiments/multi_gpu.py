"""SUMMA on several GPUs of one host: torch.distributed with NCCL, one rank per GPU, the local
products on cuBLAS (torch.matmul) or a ladder CUDA rung.

    python experiments/multi_gpu.py --gpus 1,2,4,8 --sizes 32768,65536 --out results/multi_gpu

For each GPU count g it launches `torchrun --standalone --nproc_per_node=g -m matmul_ladder.dist
--backend torch --device cuda ...` in float32 (TF32 off) and bfloat16, with NVLink multicast
off (NCCL_NVLS_ENABLE=0) in every process. Strong-scaling efficiency is one GPU's time with
the same local product over g times the g-GPU time; the broadcast bandwidth (bytes a rank
received over its time waiting for them) is set against one GPU's device-to-device copy.
Every configuration is checked against NumPy first at a small size (--check-size). Writes
multi_gpu.csv and REPORT.md to --out. Without GPUs it says so and stops.
"""
import argparse
import os
import sys

from matmul_ladder.dist import gpu_scaling


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gpus", default="1,2,4,8", help="GPU counts (those above the host's are skipped)")
    p.add_argument("--sizes", default="32768,65536")
    p.add_argument("--dtypes", default="float32,bfloat16")
    p.add_argument("--kernels", default="torch,cuda_3xtf32",
                   help="local products: torch (cuBLAS) and ladder CUDA rungs (float32 only)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--check-size", type=int, default=2048)
    p.add_argument("--timeout", type=float, default=900)
    p.add_argument("--out", default=os.path.join("results", "multi_gpu"))
    return gpu_scaling.run(p.parse_args(argv), argv)


if __name__ == "__main__":
    sys.exit(main())
