"""The rungs and baselines: their registry (matmul, convolution, CUDA), the pure-Python rung, operand layout and thread counts."""
