"""matmul-ladder: why plain C matmul is slower than NumPy, and what closes the gap.

    import matmul_ladder as ml
    c = ml.matmul(a, b, kernel="c_omp", threads=None)
    ml.kernels()      # every rung and baseline, with availability, reason and operation
    print(ml.kernel_table())       # the same as a table (matmul; "conv2d" or "all")
    y = ml.conv2d(x, w, kernel="conv_c_omp", mode="valid", flip=False)  # 3x3 convolution ladder
    ml.build_info()   # compiler, flags per rung, OpenMP, SIMD, CPU features, block sizes
    with ml.bind("c_simd") as f:   # the kernel as a plain function, for timing loops
        c = f(a, b)
    ml.tune()         # search blocking sizes around the model's on this machine; cached per CPU
    ml.try_kernel("my_matmul.c")   # your own C kernel, checked and placed on the ladder
"""
from matmul_ladder import api as _api
from matmul_ladder.api import (KernelInfo, KernelUnavailableError, bf16_peak, bf16_unit, bind,
                   blocking_override, build_info, fma_peak, kernel_table, kernels, matmul,
                   set_bf16_unit, set_loop_variants, set_simd_isa, set_strassen_cutoff,
                   triad_bandwidth, ukernel_peak)
from matmul_ladder.api_conv import conv2d
from matmul_ladder.tryout import try_kernel
from matmul_ladder.tuning import TunerCacheWarning, tune
from matmul_ladder.tuning import cache as _tuner_cache

__all__ = ["matmul", "conv2d", "bind", "kernels", "build_info", "set_simd_isa", "KernelInfo",
           "KernelUnavailableError", "fma_peak", "ukernel_peak", "triad_bandwidth",
           "bf16_peak", "bf16_unit", "set_bf16_unit", "set_loop_variants",
           "blocking_override", "set_strassen_cutoff", "tune", "TunerCacheWarning", "try_kernel", "kernel_table"]
__version__ = "0.1.0"

if _api._registry._ckernels is not None:
    _tuner_cache.apply()  # sizes `matmul-ladder tune` found for this CPU, unless MATMUL_LADDER_NO_TUNE;
    # a damaged cache is ignored with a TunerCacheWarning, never an error
