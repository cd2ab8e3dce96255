"""Accuracy against K: each kernel's normwise error against float64, and how close it comes to
the bounds it is checked with (check.py).

    python experiments/accuracy.py                    # the CPU kernels, K = 1 ... 65536
    python experiments/accuracy.py --kernels cuda_3xtf32,cupy --rows 256

Inputs are N(0, 1), M = N = rows; the reference is their float64 product (for float64 inputs
on the CPU, their product in long double, rounded to float64). For each K the table gives the normwise error
||C - C_ref||_F / ||C_ref||_F, that error over sqrt(K) u (what check.LAMBDA bounds for a sum
rounded to nearest) and over K eps (what check.RHO bounds for one that truncates), and whether
the answer passes its check. GPU kernels get CuPy inputs and a reference computed on the GPU.
"""
import csv
import math
import os

import numpy as np

from matmul_ladder import api as _api
from matmul_ladder.rungs import registry as _registry
from matmul_ladder.bench.check import FP32_EPS, Reference, precision

KS = (1, 64, 1024, 4096, 16384, 65536)
COLUMNS = ["kernel", "precision", "dtype", "M", "N", "K", "normwise_error", "per_sqrtK_u",
           "per_K_eps", "check"]


def _baselines():
    """cuBLAS in TF32 and BF16 through torch, judged as the rungs of those precisions are."""
    try:
        import torch
        if not torch.cuda.is_available():
            return {}
    except ImportError:
        return {}

    def tf32(a, b):
        import cupy
        before = torch.backends.cuda.matmul.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = True
        try:
            c = torch.as_tensor(a, device="cuda") @ torch.as_tensor(b, device="cuda")
        finally:
            torch.backends.cuda.matmul.allow_tf32 = before
        return cupy.asarray(c)

    def bf16(a, b):
        # FP32 out, as the BF16 rung writes: a BF16 C would add BF16's own rounding (2^-8)
        # to the error of the product. torch.mm takes out_dtype from torch 2.8.
        import cupy
        ta, tb = (torch.as_tensor(x, device="cuda").bfloat16() for x in (a, b))
        return cupy.asarray(torch.mm(ta, tb, out_dtype=torch.float32))
    return {"cublas_tf32": ("tf32", tf32), "cublas_bf16": ("bf16", bf16)}


def measure(kernels, ks=KS, rows=128, dtype="float32", seed=0, progress=None):
    """Rows of COLUMNS, one per (kernel, K). kernels: names of ml.kernels("matmul") or of
    the cuBLAS TF32/BF16 baselines (cublas_tf32, cublas_bf16)."""
    extra, out = _baselines(), []
    infos = {k.name: k for k in _api.kernels("matmul")}
    rng = np.random.default_rng(seed)
    for k in ks:
        a = rng.standard_normal((rows, k)).astype(dtype)
        b = rng.standard_normal((k, rows)).astype(dtype)
        refs = {}
        for name in kernels:
            if name in extra:
                prec, f, device = extra[name][0], extra[name][1], "gpu"
            else:
                info = infos.get(name) or _registry.get(name, "matmul").info()
                if not info.available or dtype not in info.dtypes:
                    continue
                prec, device = info.precision, info.device
                f = None
            if device not in refs:
                if device == "gpu":
                    import cupy
                    x, y = cupy.asarray(a), cupy.asarray(b)
                else:
                    x, y = a, b
                ref = Reference(x, y)
                if dtype == "float64" and device == "cpu":
                    # float64's own reference is NumPy's product: it would measure NumPy at 0.
                    # The x87 extended product (64-bit significands) is the reference instead.
                    ref.expected = (a.astype(np.longdouble) @ b.astype(np.longdouble)).astype(
                        np.float64)
                refs[device] = (x, y, ref)
            x, y, ref = refs[device]
            if f is None:
                with _api.bind(name) as f:
                    c = f(x, y)
            else:
                c = f(x, y)
            error = ref.normwise_error(c)
            problem = ref.violations(c, prec)
            eps = float(np.finfo(dtype).eps) if not precision(prec).truncates else FP32_EPS
            out.append(dict(kernel=name, precision=prec or dtype, dtype=dtype, M=rows, N=rows,
                            K=k, normwise_error=f"{error:.3g}",
                            per_sqrtK_u=f"{error / (math.sqrt(k) * eps / 2):.3g}",
                            per_K_eps=f"{error / (k * eps):.3g}",
                            check="ok" if not problem else f"FAILED: {problem[:120]}"))
            if progress:
                progress(out[-1])
    return out


def write(rows, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "accuracy.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return os.path.join(out_dir, "accuracy.csv")


def table(rows):
    """A markdown table: one line per kernel, the normwise error at each K."""
    ks = sorted({r["K"] for r in rows})
    lines = ["| kernel | precision | " + " | ".join(f"K = {k}" for k in ks) + " | check |",
             "|---|---|" + "---|" * len(ks) + "---|"]
    for name in dict.fromkeys(r["kernel"] for r in rows):
        mine = {r["K"]: r for r in rows if r["kernel"] == name}
        first = next(iter(mine.values()))
        ok = all(r["check"] == "ok" for r in mine.values())
        lines.append(f"| {name} | {first['precision']} | "
                     + " | ".join(mine[k]["normwise_error"] if k in mine else "-" for k in ks)
                     + f" | {'ok' if ok else 'FAILED'} |")
    return "\n".join(lines)


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(prog="accuracy", description=__doc__.split("\n\n")[0])
    p.add_argument("--kernels", help="comma-separated; default: every available CPU matmul "
                   "kernel but py_naive (GPU ones and cublas_tf32/cublas_bf16 by name)")
    p.add_argument("--ks", default=",".join(map(str, KS)), help="K values (default %(default)s)")
    p.add_argument("--rows", type=int, default=128, help="M = N (default %(default)s)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--strassen-cutoff", type=int, default=0,
                   help="c_strassen's cutoff for the run (one level from it, two from twice "
                        "it; default: the one in force)")
    p.add_argument("--out", default="results/accuracy", help="folder for accuracy.csv")
    args = p.parse_args(argv)
    if args.strassen_cutoff < 0:
        p.error(f"--strassen-cutoff must be >= 0, got {args.strassen_cutoff}")
    if args.strassen_cutoff:
        _api.set_strassen_cutoff(args.strassen_cutoff)
    try:
        ks = [int(k) for k in args.ks.split(",")]
        if any(k < 1 for k in ks) or args.rows < 1:
            raise ValueError
    except ValueError:
        p.error(f"--ks must be integers >= 1 and --rows >= 1, got {args.ks!r} and {args.rows}")
    if args.kernels:
        names = [n.strip() for n in args.kernels.split(",") if n.strip()]
        known = set(_registry.names("matmul")) | set(_baselines()) | {"cublas_tf32", "cublas_bf16"}
        unknown = [n for n in names if n not in known]
        if unknown:
            p.error(f"unknown kernel(s) {', '.join(unknown)}; see `matmul-ladder list`")
    else:
        names = [k.name for k in _api.kernels("matmul")
                 if k.available and k.device == "cpu" and k.name != "py_naive"]
    rows = measure(names, ks, args.rows, args.dtype,
                   progress=lambda r: print(f"{r['kernel']:>16} K={r['K']:<6} "
                                            f"{r['normwise_error']:>9} {r['check']}", flush=True))
    print(table(rows))
    print(f"wrote {write(rows, args.out)}")
    return 0
