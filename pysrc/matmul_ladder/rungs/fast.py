"""The fast-matmul rung: any bilinear scheme <m,k,n>:R (matmul_ladder.schemes), for one or
more levels, over a ladder kernel for the block products.

One level cuts A into m x k blocks and B into k x n, forms for each of the R products the
sums S_r = sum U[a, r] A_a and T_r = sum V[b, r] B_b, multiplies P_r = S_r T_r (by the next
level's scheme, or by the block kernel at the last), and sums each C block from the
products, C_c = sum W[c, r] P_r. Levels may use different schemes (Winograd over the
rational 48, say). Dimensions a level's scheme does not divide are peeled: the divisible
part goes through the scheme, the rest (thin slices) through the block kernel, as
csrc/6_strassen.c does.

Memory passes: the sums are formed by the level's plans (schemes/cse.py, Level): each sum
shared between products, and each recurring pair of terms where that cuts the blocks read
and written, is a node formed once. Every node or sum, however many terms, is one fused pass
(each source read once, the destination written once: csrc/lincomb.c on the CPU, one
generated elementwise kernel on the GPU). An operand of one term is no pass at all: the
block (or node) itself is multiplied, its coefficient moved into W. The R products of a
level are kept (R blocks of C's block size), and each node has a buffer until its last
reader (the extra memory, `extra_elements`), so each C block is written once.

Back ends: "cpu" multiplies blocks with c_omp and sums with _ckernels.lincomb (NumPy arrays);
"gpu" multiplies with cuBLAS (sgemm/dgemm on the blocks in place, through CuPy; TF32 only if
CUPY_TF32=1, as the rest of the package) and sums with a CuPy elementwise kernel (CuPy
arrays); "torch" runs BF16 on the GPU with torch.matmul (cuBLAS) and sums in FP32.
"""
import contextlib
import functools
import math
import os

import numpy as np

from matmul_ladder import schemes as _schemes
from matmul_ladder.schemes import cse
from matmul_ladder.rungs.layout import check_operands, empty_aligned, unit_stride_rows

SMALLEST_BLOCK = 16  # below this block size a level is not taken: the kernel does it all


class Level:
    """One level's plan from a scheme: its three sides' Programs (schemes/cse.py: each shared
    sum and each recurring pair formed once, where that cuts the blocks moved, by default),
    and their schedules: the nodes to form before each product (A and B sides) or C block,
    and the buffer each is formed in. An A or B operand of one term is the block itself, its
    coefficient moved into the C side's."""

    def __init__(self, scheme, criterion="traffic"):
        self.scheme, self.criterion = scheme, criterion
        self.m, self.k, self.n = scheme.shape
        self.a, self.b, self.c, _ = cse.level_programs(*scheme.coefficients(), criterion)
        self.schedules = {side: prog.schedule() for side, prog in
                          (("A", self.a), ("B", self.b), ("C", self.c))}

    def passes(self):
        """(passes on the A side, on the B side, on the C side): the block passes a level
        makes, besides the products."""
        return self.a.passes(), self.b.passes(), self.c.passes()

    def additions(self):
        return self.a.additions() + self.b.additions() + self.c.additions()

    def transfers(self):
        """Blocks read and written by the level's passes."""
        return self.a.transfers() + self.b.transfers() + self.c.transfers()

    def buffers(self):
        """(A-side, B-side, C-side) node buffers the schedules need at once."""
        return tuple(self.schedules[side][2] for side in "ABC")


@functools.lru_cache(maxsize=None)
def level(name, criterion="traffic"):
    return Level(_schemes.load(name), criterion)


def parse_levels(spec):
    """'winograd,dps_444_48' or ['winograd', 'winograd'] -> the scheme names, checked."""
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [s.strip() for s in names if s.strip()]
    if not names:
        raise ValueError("a fast matmul needs at least one scheme level")
    for s in names:
        _schemes.load(s)  # unknown, damaged or mod-2 schemes raise here
    return tuple(names)


def error_growth(names):
    """The product of the levels' growth factors (Scheme.growth): how much larger than the
    classical algorithm's the error bound is taken (bench/check.py)."""
    return math.prod(_schemes.load(s).growth() for s in names)


def extra_elements(names, M, K, N, criterion="traffic"):
    """Elements of scratch a product takes: per level, the R products (C-block sized) and the
    node buffers of its three sides (Level.buffers); the next level works inside a block."""
    total = 0
    for s in names:
        lv = level(s, criterion)
        M, K, N = M // lv.m, K // lv.k, N // lv.n
        a, b, c = lv.buffers()
        total += (lv.scheme.rank + c) * M * N + a * M * K + b * K * N
    return total


# ---- back ends ---------------------------------------------------------------------------
class CpuBackend:
    xp = np

    def __init__(self, threads):
        from matmul_ladder.rungs.base import _ckernels
        self.ck, self.threads, self.spaces = _ckernels, threads, {}

    def workspace(self, key, shape, dtype):
        """A buffer kept for the bound function's life: fresh pages on every call would be
        first-touched (page-faulted) every time (csrc/6_strassen.c measured it)."""
        buf = self.spaces.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self.spaces[key] = empty_aligned(shape, dtype)
        return buf

    def gemm(self, a, b, out, accumulate=False):
        if accumulate:
            tmp = self.workspace(("peel",) + out.shape, out.shape, out.dtype)
            self.ck.run("c_omp", a, b, tmp, self.threads)
            self.ck.lincomb(out, [tmp], [1.0], True, self.threads)
        else:
            self.ck.run("c_omp", a, b, out, self.threads)

    def lincomb(self, dst, sources, coefs, accumulate=False):
        self.ck.lincomb(dst, list(sources), list(coefs), accumulate, self.threads)


@functools.lru_cache(maxsize=None)
def _cupy_lincomb(terms, dtype):
    import cupy
    ins = ", ".join([f"T x{t}" for t in range(terms)] + [f"T c{t}" for t in range(terms)])
    body = " + ".join(f"c{t} * x{t}" for t in range(terms))
    return cupy.ElementwiseKernel(ins, "T y", f"y = {body}", f"fast_lincomb_{terms}"), \
        cupy.ElementwiseKernel(ins, "T y", f"y += {body}", f"fast_lincomb_acc_{terms}")


class GpuBackend:
    """cuBLAS on block views in place (row-major C = A B is column-major C^T = B^T A^T)."""

    def __init__(self, threads=0):
        import cupy
        from cupy_backends.cuda.libs import cublas
        self.cupy, self.cublas, self.spaces = cupy, cublas, {}
        self.xp = cupy
        self.handle = cupy.cuda.device.get_cublas_handle()
        if os.environ.get("CUPY_TF32") != "1":  # true FP32, as cupy.matmul here
            cublas.setMathMode(self.handle, cublas.CUBLAS_DEFAULT_MATH)

    def workspace(self, key, shape, dtype):
        buf = self.spaces.get(key)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self.spaces[key] = self.cupy.empty(shape, dtype)
        return buf

    @staticmethod
    def _ld(x):
        return max(x.strides[0] // x.itemsize, x.shape[1], 1)

    def gemm(self, a, b, out, accumulate=False):
        (M, K), N = a.shape, b.shape[1]
        if M == 0 or N == 0:
            return
        if K == 0:
            if not accumulate:
                out.fill(0)
            return
        for x in (a, b, out):
            if x.strides[1] != x.itemsize:
                raise ValueError("the GPU fast matmul needs unit-stride rows")
        f = self.cublas.sgemm if out.dtype == np.float32 else self.cublas.dgemm
        one = np.array(1.0, dtype=out.dtype)
        beta = np.array(1.0 if accumulate else 0.0, dtype=out.dtype)
        self.cublas.setPointerMode(self.handle, self.cublas.CUBLAS_POINTER_MODE_HOST)
        f(self.handle, 0, 0, N, M, K, one.ctypes.data, b.data.ptr, self._ld(b), a.data.ptr,
          self._ld(a), beta.ctypes.data, out.data.ptr, self._ld(out))

    def lincomb(self, dst, sources, coefs, accumulate=False):
        plain, acc = _cupy_lincomb(len(sources), dst.dtype.name)
        cs = [dst.dtype.type(c) for c in coefs]
        (acc if accumulate else plain)(*sources, *cs, dst)


class TorchBackend:
    """BF16 (or any torch dtype) on the GPU: torch.matmul for the blocks (cuBLAS, FP32
    accumulation), sums in FP32 rounded once to the dtype."""

    def __init__(self, threads=0):
        import torch
        self.torch, self.spaces, self.xp = torch, {}, torch

    def workspace(self, key, shape, dtype):
        buf = self.spaces.get(key)
        if buf is None or tuple(buf.shape) != tuple(shape) or buf.dtype != dtype:
            buf = self.spaces[key] = self.torch.empty(shape, dtype=dtype, device="cuda")
        return buf

    def gemm(self, a, b, out, accumulate=False):
        if accumulate:
            out.add_(self.torch.matmul(a, b))
        else:
            out.copy_(self.torch.matmul(a, b))

    def lincomb(self, dst, sources, coefs, accumulate=False):
        acc = dst.float() if accumulate else None
        for s, c in zip(sources, coefs):
            term = s.float() * c
            acc = term if acc is None else acc.add_(term)
        dst.copy_(acc)


def _shape(x):
    return tuple(x.shape)


def _dtype(x):
    return x.dtype


class FastMatmul:
    """C = A B by the levels' schemes over a back end."""

    def __init__(self, names, backend, criterion="traffic"):
        self.names, self.backend = parse_levels(names), backend
        self.levels = [level(s, criterion) for s in self.names]

    def __call__(self, a, b):
        (M, K), N = _shape(a), _shape(b)[1]
        c = self._new_output(M, N, a)
        self.product(a, b, c, 0)
        return c

    def _new_output(self, M, N, a):
        be = self.backend
        if isinstance(be, CpuBackend):
            return empty_aligned((M, N), a.dtype)
        if isinstance(be, TorchBackend):
            return be.torch.empty((M, N), dtype=a.dtype, device=a.device)
        return be.cupy.empty((M, N), dtype=a.dtype)

    def product(self, A, B, C, depth, accumulate=False):
        be = self.backend
        (M, K), N = _shape(A), _shape(B)[1]
        if depth == len(self.levels):
            return be.gemm(A, B, C, accumulate)
        lv = self.levels[depth]
        mb, kb, nb = M // lv.m, K // lv.k, N // lv.n
        if min(mb, kb, nb) < SMALLEST_BLOCK:
            return be.gemm(A, B, C, accumulate)
        M0, K0, N0 = mb * lv.m, kb * lv.k, nb * lv.n
        self._level(lv, A[:M0, :K0], B[:K0, :N0], C[:M0, :N0], depth, (mb, kb, nb), accumulate)
        if K0 < K:  # the last depth slices: C[:M0, :N0] += A[:M0, K0:] B[K0:, :N0]
            be.gemm(A[:M0, K0:], B[K0:, :N0], C[:M0, :N0], True)
        if N0 < N:  # the last columns of C, every row
            be.gemm(A, B[:, N0:], C[:, N0:], accumulate)
        if M0 < M:  # the last rows of C, the other columns
            be.gemm(A[M0:], B[:, :N0], C[M0:, :N0], accumulate)

    def _level(self, lv, A, B, C, depth, blocks, accumulate):
        be = self.backend
        mb, kb, nb = blocks
        dtype = _dtype(A)

        def grid(X, cols, rows_b, cols_b):
            """Block i of X cut into blocks of rows_b x cols_b, numbered row-major."""
            return lambda i: X[(i // cols) * rows_b:(i // cols + 1) * rows_b,
                               (i % cols) * cols_b:(i % cols + 1) * cols_b]
        P = be.workspace(("P", depth), (lv.scheme.rank, mb, nb), dtype)
        sides = {"A": (lv.a, grid(A, lv.k, mb, kb), (mb, kb)),
                 "B": (lv.b, grid(B, lv.n, kb, nb), (kb, nb)),
                 "C": (lv.c, P.__getitem__, (mb, nb))}
        bufs = {side: be.workspace((side, depth), (lv.schedules[side][2],) + shape, dtype)
                for side, (_, _, shape) in sides.items() if lv.schedules[side][2]}

        def step(side, o):
            """Form the nodes side's output o needs (into their buffers); its terms, as
            (blocks, coefficients)."""
            prog, block, _ = sides[side]
            forms, slot, _ = lv.schedules[side]
            source = lambda ref: block(ref[1]) if ref[0] == cse.IN else bufs[side][slot[ref[1]]]  # noqa: E731,E501
            for j in forms[o]:
                terms = prog.nodes[j]
                be.lincomb(bufs[side][slot[j]], [source(ref) for ref in terms], list(terms.values()))
            terms = prog.outputs[o]
            return [source(ref) for ref in terms], list(terms.values())
        for r in range(lv.scheme.rank):
            # One term each (cse._finish): the block or node itself, its factor in the C side.
            (s,), _ = step("A", r)
            (t,), _ = step("B", r)
            self.product(s, t, P[r], depth + 1)
        cblock = grid(C, lv.n, mb, nb)
        for c in range(lv.m * lv.n):
            sources, coefs = step("C", c)
            be.lincomb(cblock(c), sources, coefs, accumulate)


# ---- binding, as the registry's kernels are bound ----------------------------------------
@contextlib.contextmanager
def bind(names, device="cpu", threads=1, criterion="traffic"):
    """A context manager yielding f(a, b) -> a @ b by the fast scheme(s) `names` (one per
    level) on `device` ("cpu": NumPy arrays, c_omp; "gpu": CuPy arrays, cuBLAS; "torch":
    torch CUDA tensors, e.g. BF16). criterion: which shared terms the block sums take
    (schemes/cse.py: "traffic", "additions" or "none"). The scratch is kept for the block's
    life."""
    names = parse_levels(names)
    if device == "cpu":
        backend = CpuBackend(threads)
        import numpy
        xp = numpy
    elif device == "gpu":
        backend = GpuBackend()
        xp = backend.cupy
    elif device == "torch":
        backend = TorchBackend()
        xp = None
    else:
        raise ValueError(f"device must be 'cpu', 'gpu' or 'torch', got {device!r}")
    run = FastMatmul(names, backend, criterion)

    def call(a, b):
        if xp is not None:
            check_operands(a, b, f"fast:{','.join(names)}", xp)
            if xp is np:
                a, b = unit_stride_rows(a), unit_stride_rows(b)
            else:
                a, b = (x if x.strides[1] == x.itemsize and x.strides[0] > 0 else xp.ascontiguousarray(x)
                        for x in (a, b))
        return run(a, b)
    try:
        yield call
    finally:
        backend.spaces.clear()


def kernel(names, device="cpu", name=None):
    """A registry-style Kernel for the engine (bench/engine.py): the scheme(s) `names` per
    level on `device`, checked under the scheme's own error bound (error_growth)."""
    from matmul_ladder.rungs.base import Kernel, _cupy_missing, _omp_available
    names = parse_levels(names)
    label = name or "fast_" + "+".join(names) + ("" if device == "cpu" else "_gpu")
    over = "c_omp" if device == "cpu" else "cuBLAS"
    desc = f"{' over '.join(reversed(names))} over {over} ({len(names)} level{'s' * (len(names) > 1)})"

    @contextlib.contextmanager
    def binder(threads):
        with bind(names, device, threads) as f:
            yield f
    # Rung 6 with c_strassen, whose 7-for-8 step it generalises to any scheme.
    return Kernel(label, "C" if device == "cpu" else "CUDA", 6, desc, device == "cpu", binder,
                  _omp_available if device == "cpu" else _cupy_missing,
                  "cpu" if device == "cpu" else "gpu",
                  ("float32", "float64") if device == "cpu" else ("float32",),
                  error_growth=error_growth(names))


def matmul(a, b, scheme="winograd", threads=1, device=None, criterion="traffic"):
    """a @ b by the fast scheme(s) `scheme` ("name" or "name1,name2" for levels); device
    from the arrays' type when None; criterion as bind's."""
    if device is None:
        device = "gpu" if type(a).__module__.split(".")[0] == "cupy" else "cpu"
    with bind(scheme, device, threads, criterion) as f:
        return f(a, b)
