"""Variants of rung 9 (results/device/v*_9.cu, each including the tree's mma_pipeline.cuh)
against cuBLAS FP32 in one process: speed, normwise error at K = 65536, Inf handling."""
import glob, os, json
import numpy as np, cupy
from cupyx.profiler import benchmark
from matmul_ladder import cuda
from matmul_ladder.check import Reference

HERE = os.path.dirname(os.path.abspath(__file__))
rung = next(r for r in cuda.RUNGS if r.name == "cuda_3xtf32")
header = open(os.path.join(cuda.source_dir(), "mma_pipeline.cuh")).read()

def launcher(path):
    text = open(path).read().replace('#include "mma_pipeline.cuh"', header)
    kern = cupy.RawModule(code=text, options=("-std=c++17",)).get_function(rung.function)
    kern.max_dynamic_shared_size_bytes = rung.shared_bytes
    def run(a, b):
        m, k = a.shape; n = b.shape[1]
        c = cupy.empty((m, n), cupy.float32)
        kern((-(-n // 256), -(-m // 128), 1), rung.threads,
             (np.int32(m), np.int32(n), np.int32(k), a, b, c, np.int32(1)), shared_mem=rung.shared_bytes)
        return c
    return run

variants = {"cublas": lambda x, y: x @ y, "tree": cuda.launcher(rung)}
for p in sorted(glob.glob(os.path.join(HERE, "v*_9.cu"))):
    variants[os.path.basename(p)[:-3]] = launcher(p)
for n in (4096, 8192):
    rng = np.random.default_rng(n)
    a = cupy.asarray(rng.standard_normal((n, n)).astype(np.float32))
    b = cupy.asarray(rng.standard_normal((n, n)).astype(np.float32))
    for rnd in range(2):
        row = {}
        for name, f in variants.items():
            t = benchmark(f, (a, b), n_repeat=10, n_warmup=3).gpu_times.ravel()
            row[name] = round(2 * n**3 / np.median(t) / 1e12, 1)
        print(n, "round", rnd, "TFLOP/s", json.dumps(row), flush=True)
rng = np.random.default_rng(1)
a = cupy.asarray(rng.standard_normal((256, 65536)).astype(np.float32))
b = cupy.asarray(rng.standard_normal((65536, 256)).astype(np.float32))
ref = Reference(a, b)
print("K=65536 normwise", {k: f"{ref.normwise_error(f(a, b)):.3g}" for k, f in variants.items()})
a = cupy.ones((20, 24), cupy.float32); b = cupy.ones((24, 20), cupy.float32)
a[3, 5], b[7, 9] = cupy.nan, cupy.inf
for name, f in variants.items():
    c = f(a, b).get()
    ok = np.isnan(c[3]).all() and np.isinf(c[:, 9][np.arange(20) != 3]).all() and \
        np.all(c[np.ix_(np.arange(20) != 3, np.arange(20) != 9)] == 24)
    print("nan/inf", name, "ok" if ok else "WRONG")
