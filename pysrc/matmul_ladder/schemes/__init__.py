"""Fast-matmul schemes as data: a bilinear algorithm <m,k,n>:R is three coefficient matrices.

For A (m x k blocks) times B (k x n blocks), with entries numbered row-major:
    P_r     = (sum_a U[a, r] A_a) (sum_b V[b, r] B_b)        r = 0 .. R-1 (R block products)
    C_{i,l} = sum_r W[i*n + l, r] P_r
The scheme is right exactly when the Brent equations hold:
    sum_r U[i*k + j, r] V[j'*n + l, r] W[i'*n + l', r] = [j = j'] [i = i'] [l = l'].
Each file in data/ holds one scheme with exact rationals ("1/8"); SOURCES.md there says where
each came from and under which licence. load() checks the Brent equations, exactly, in
integer arithmetic, every time a scheme is read, and refuses a scheme that holds only modulo
2 for floating point (FloatingPointRefused, with its residual over the integers).
"""
import functools
import json
import math
import os
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


class SchemeError(ValueError):
    """A scheme file that is malformed or whose Brent equations fail."""


class FloatingPointRefused(SchemeError):
    """A scheme that is right only in another arithmetic (mod 2): not for float32/float64."""


@dataclass
class Scheme:
    name: str
    m: int
    k: int
    n: int
    U: np.ndarray  # m*k x R, Fractions
    V: np.ndarray  # k*n x R
    W: np.ndarray  # m*n x R
    arithmetic: str = "Q"  # "Q": exact over the rationals (so the reals); "F2": only modulo 2
    origin: str = ""
    licence: str = ""
    notes: str = ""
    _floats: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def rank(self):
        return self.U.shape[1]

    @property
    def shape(self):
        return self.m, self.k, self.n

    @property
    def classical(self):
        """The products the classical algorithm needs: m k n."""
        return self.m * self.k * self.n

    def coefficients(self):
        """(U, V, W) as float64 arrays (exact: every coefficient is a dyadic rational or
        small integer here; checked in to_float)."""
        if not self._floats:
            self._floats.update(U=to_float(self.U), V=to_float(self.V), W=to_float(self.W))
        return self._floats["U"], self._floats["V"], self._floats["W"]

    def additions(self):
        """Block additions of the scheme as written, each sum formed on its own: for each
        product, (terms - 1) on the A side and on the B side; for each C block, (terms - 1)."""
        nnz = lambda x, axis: np.count_nonzero(to_float(x), axis=axis)  # noqa: E731
        return (int(np.maximum(nnz(self.U, 0) - 1, 0).sum() + np.maximum(nnz(self.V, 0) - 1, 0).sum()
                + np.maximum(nnz(self.W, 1) - 1, 0).sum()))

    def growth(self):
        """The error-growth factor of one level beside the classical algorithm:
        max over C blocks (i, l) of sum_r |W[il, r]| ||U[:, r]||_1 ||V[:, r]||_1, over k
        (the classical algorithm's value). It bounds how much larger than |A| |B| the
        quantities a level sums can get (Bini and Lotti 1980; Ballard, Benson, Druinsky,
        Lipshitz and Schwartz, SIAM J. Matrix Anal. Appl. 37(4), 2016: their e_max)."""
        u, v, w = (np.abs(x) for x in self.coefficients())
        per_product = u.sum(axis=0) * v.sum(axis=0)
        return float((w * per_product).sum(axis=1).max()) / self.k

    def to_json(self):
        enc = lambda x: [[str(v) if v.denominator != 1 else int(v) for v in row] for row in x]  # noqa: E731
        return {"name": self.name, "shape": [self.m, self.k, self.n], "rank": self.rank,
                "arithmetic": self.arithmetic, "origin": self.origin, "licence": self.licence,
                "notes": self.notes, "U": enc(self.U), "V": enc(self.V), "W": enc(self.W)}

    @classmethod
    def from_json(cls, d):
        dec = lambda x: np.array([[Fraction(v) for v in row] for row in x], dtype=object)  # noqa: E731
        m, k, n = d["shape"]
        s = cls(d["name"], m, k, n, dec(d["U"]), dec(d["V"]), dec(d["W"]), d.get("arithmetic", "Q"),
                d.get("origin", ""), d.get("licence", ""), d.get("notes", ""))
        want = ((m * k, s.rank), (k * n, s.rank), (m * n, s.rank))
        if (s.U.shape, s.V.shape, s.W.shape) != want or s.rank != d["rank"]:
            raise SchemeError(f"{s.name}: U, V, W are {s.U.shape}, {s.V.shape}, {s.W.shape}; "
                              f"<{m},{k},{n}>:{d['rank']} needs {want}")
        return s


def to_float(x):
    out = np.array([[float(v) for v in row] for row in x], dtype=np.float64).reshape(x.shape)
    if any(Fraction(float(v)) != v for v in x.flat):
        raise SchemeError("a coefficient is not exact in float64")
    return out


def _as_integers(x):
    """(integer array, common denominator) of an array of Fractions."""
    den = 1
    for v in x.flat:
        den = den * v.denominator // math.gcd(den, v.denominator)
    return np.array([[int(v * den) for v in row] for row in x], dtype=object).reshape(x.shape), den


def brent_tensor(scheme):
    """(sum_r U[a, r] V[b, r] W[c, r] over the integers, the denominator it is scaled by)."""
    (u, du), (v, dv), (w, dw) = (_as_integers(x) for x in (scheme.U, scheme.V, scheme.W))
    t = np.einsum("ar,br,cr->abc", u.astype(np.int64), v.astype(np.int64), w.astype(np.int64))
    if max(abs(int(x)) for x in (u.max(initial=0), u.min(initial=0))) > 2 ** 20:
        raise SchemeError(f"{scheme.name}: coefficients too large for an exact int64 check")
    return t, du * dv * dw


def matmul_tensor(m, k, n):
    """The <m,k,n> matrix multiplication tensor in the package's convention."""
    t = np.zeros((m * k, k * n, m * n), dtype=np.int64)
    for i in range(m):
        for j in range(k):
            for l in range(n):
                t[i * k + j, j * n + l, i * n + l] = 1
    return t


def brent_residual(scheme, modulus=None):
    """How many of the (mk)(kn)(mn) Brent equations fail, exactly (integers; modulo
    `modulus` if given, else the scheme's own field: 2 for F2)."""
    t, den = brent_tensor(scheme)
    want = matmul_tensor(scheme.m, scheme.k, scheme.n) * den
    mod = modulus if modulus is not None else (2 if scheme.arithmetic == "F2" else None)
    diff = t - want
    if mod:
        diff = diff % mod
    return int(np.count_nonzero(diff))


def names():
    """The schemes shipped, by name."""
    return sorted(f[:-len(".json")] for f in os.listdir(DATA) if f.endswith(".json"))


@functools.lru_cache(maxsize=None)
def _read(name):
    path = os.path.join(DATA, f"{name}.json")
    if not os.path.exists(path):
        raise ValueError(f"unknown scheme {name!r}; choose from: {', '.join(names())}")
    with open(path) as f:
        scheme = Scheme.from_json(json.load(f))
    failed = brent_residual(scheme)
    if failed:
        raise SchemeError(f"{name}: {failed} Brent equations fail in {scheme.arithmetic}; the file "
                          f"is damaged")
    return scheme


def load(name, for_floating_point=True):
    """The scheme called `name`, its Brent equations checked exactly. A mod-2 scheme raises
    FloatingPointRefused unless for_floating_point=False (it is loadable, to be studied)."""
    if not isinstance(name, str):
        raise TypeError(f"scheme must be a str, got {type(name).__name__}")
    scheme = _read(name)
    if for_floating_point and scheme.arithmetic != "Q":
        over_integers = brent_residual(scheme, modulus=0)
        raise FloatingPointRefused(
            f"{name} is right only modulo 2 ({scheme.arithmetic}): over the integers {over_integers} "
            f"of its {matmul_tensor(*scheme.shape).size} Brent equations fail, so in floating "
            f"point it computes a wrong product. Load it with for_floating_point=False to study it.")
    return scheme
