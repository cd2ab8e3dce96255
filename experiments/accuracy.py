"""Accuracy against K: every kernel's normwise error against float64, beside its check.

    python experiments/accuracy.py                              # the CPU kernels
    python experiments/accuracy.py --kernels cupy,cuda_warptile,cuda_3xtf32,cuda_tf32_mma,cuda_bf16_wgmma,cublas_tf32,cublas_bf16 --rows 256

A thin script over matmul_ladder.bench.accuracy.
"""
import sys

from matmul_ladder.bench.accuracy import main

if __name__ == "__main__":
    sys.exit(main())
