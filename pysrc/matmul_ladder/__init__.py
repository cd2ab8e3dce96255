"""matmul-ladder: why plain C matmul is slower than NumPy, and what closes the gap.

    import matmul_ladder as ml
    c = ml.matmul(a, b, kernel="c_omp", threads=None)
    ml.kernels()      # every rung and baseline, with availability and reason
    ml.build_info()   # compiler, flags per rung, OpenMP, SIMD, CPU features, block sizes
"""
from ._api import (KernelInfo, KernelUnavailableError, build_info, kernels, matmul,
                   set_simd_isa)

__all__ = ["matmul", "kernels", "build_info", "set_simd_isa", "KernelInfo",
           "KernelUnavailableError"]
__version__ = "0.1.0"
