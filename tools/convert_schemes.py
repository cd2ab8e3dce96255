"""Convert published fast-matmul factorizations into the package's scheme files
(pysrc/matmul_ladder/schemes/data/*.json, exact rationals; SOURCES.md there says where each
came from and under which licence).

    python tools/convert_schemes.py --alphatensor DIR --plinopt DIR

DIR: a checkout of google-deepmind/alphatensor (algorithms/factorizations_r.npz,
factorizations_f2.npz, benchmarking/factorizations.py) and of jgdumas/plinopt
(data/4x4x4_48_rational_{L,R,P}.sms). Only numbers are read: the benchmarking file's arrays
are parsed as literals (ast), never executed.

The package's convention, for <m,k,n>:R with A m x k, B k x n (row-major entry indices):
    C[i, l] = sum_r W[i*n + l, r] (sum_ij U[i*k + j, r] A[i, j]) (sum_jl V[j*n + l, r] B[j, l])
AlphaTensor factors the symmetrized tensor, so its w indexes C transposed (l*m + i); it is
re-indexed here. Each file is checked by the Brent equations before it is written.
"""
import argparse
import ast
import json
import os
import sys
from fractions import Fraction

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pysrc"))
from matmul_ladder.schemes import Scheme, brent_residual  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "pysrc", "matmul_ladder", "schemes", "data")


def alphatensor(u, v, w, m, k, n):
    """(U, V, W) in the package's convention from AlphaTensor's factors."""
    u, v, w = (np.array([[Fraction(int(x)) for x in row] for row in f], dtype=object)
               for f in (u, v, w))
    rank = u.shape[1]
    wc = np.empty((m * n, rank), dtype=object)
    for i in range(m):
        for l in range(n):
            wc[i * n + l] = w[l * m + i]
    return u, v, wc


def literal_arrays(path, function):
    """The u, v, w literals of one function of AlphaTensor's benchmarking/factorizations.py."""
    tree = ast.parse(open(path).read())
    fn = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == function)
    found = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            found[node.targets[0].id] = ast.literal_eval(node.value.args[0])
    return found["u"], found["v"], found["w"]


def sms(path):
    """A dense object array of Fractions from an SMS file (1-based i j value, ends 0 0 0)."""
    rows = [line.split() for line in open(path) if line.strip() and not line.startswith("#")]
    r, c = int(rows[0][0]), int(rows[0][1])
    out = np.full((r, c), Fraction(0), dtype=object)
    for i, j, value in rows[1:]:
        if (i, j) == ("0", "0"):
            break
        out[int(i) - 1, int(j) - 1] = Fraction(value)
    return out


def write(scheme, origin, licence):
    scheme.origin, scheme.licence = origin, licence
    residual = brent_residual(scheme)
    if residual:
        raise SystemExit(f"{scheme.name}: {residual} Brent equations fail; not written")
    path = os.path.join(OUT, f"{scheme.name}.json")
    with open(path, "w") as f:
        json.dump(scheme.to_json(), f, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: <{scheme.m},{scheme.k},{scheme.n}>:{scheme.rank} over {scheme.arithmetic}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--alphatensor", required=True)
    p.add_argument("--plinopt", required=True)
    args = p.parse_args(argv)
    at_r = np.load(os.path.join(args.alphatensor, "algorithms", "factorizations_r.npz"), allow_pickle=True)
    at_f2 = np.load(os.path.join(args.alphatensor, "algorithms", "factorizations_f2.npz"), allow_pickle=True)
    at_origin = "google-deepmind/alphatensor, algorithms/{} key '{}' (Fawzi et al., Nature 610, 2022)"
    at_licence = "CC BY 4.0 (the repository's materials; its code is Apache-2.0 and is not used)"
    for name, key in (("alphatensor_333_23", "3,3,3"), ("alphatensor_444_49", "4,4,4"),
                      ("alphatensor_345_47", "3,4,5"), ("alphatensor_445_63", "4,4,5")):
        m, k, n = map(int, key.split(","))
        u, v, w = (np.array(f.tolist()) for f in at_r[key])
        write(Scheme(name, m, k, n, *alphatensor(u, v, w, m, k, n), "Q"),
              at_origin.format("factorizations_r.npz", key), at_licence)
    u, v, w = at_f2["4,4,4"]
    write(Scheme("alphatensor_444_47_f2", 4, 4, 4, *alphatensor(u, v, w, 4, 4, 4), "F2"),
          at_origin.format("factorizations_f2.npz", "4,4,4"), at_licence)
    bench = os.path.join(args.alphatensor, "benchmarking", "factorizations.py")
    write(Scheme("alphatensor_444_49_gpu", 4, 4, 4,
                 *alphatensor(*literal_arrays(bench, "get_4x4x4_alphatensor_gpu"), 4, 4, 4), "Q"),
          "google-deepmind/alphatensor, benchmarking/factorizations.py, the numbers of "
          "get_4x4x4_alphatensor_gpu (tuned for a V100, float32, n = 8192)", at_licence)
    # plinopt's L (R x mk), R (R x kn) and P (mn x R), row-major entries: U = L^T, V = R^T, W = P.
    stem = os.path.join(args.plinopt, "data", "4x4x4_48_rational_{}.sms")
    left, right, post = (sms(stem.format(s)) for s in "LRP")
    write(Scheme("dps_444_48", 4, 4, 4, left.T.copy(), right.T.copy(), post, "Q"),
          "jgdumas/plinopt, data/4x4x4_48_rational_{L,R,P}.sms (Dumas, Pernet and "
          "Sedoglavic, arXiv 2506.13242, 2025)", "CeCILL-B (the repository's licence)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
