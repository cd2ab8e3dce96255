"""The one table of the C and Cython matmul rungs, in ladder order.

Everything else derives from it: setup.py compiles each C row's file twice (float32, and
float64 with -DLADDER_DOUBLE) and generates the C binding's dispatch table from the rows
(build/generated/_crungs.pxi); rungs/registry.py makes a Kernel of each row; the tests read
it. Adding a C rung is a file in csrc/ and a row here (docs/contributing.md).

Plain data only: setup.py reads this file by path, before the package is built.

C rows:
  name         kernel name, "c_<stem>"; the file defines mm_<stem>_s and mm_<stem>_d
  rung         position on the ladder (the number the file name starts with)
  file         under csrc/
  flags        "plain": MATMUL_LADDER_CFLAGS (default -O3), the compiler's own work;
               "packed": -O3 and OpenMP, for the packing and threaded rungs
  call         how the binding calls it (csrc/ladder.h gives the contract):
               "plain"    void mm_<stem>_<s|d>(M, N, K, A, lda, B, ldb, C, ldc)
               "status"   int  ... same arguments; 0, or -1 (no SIMD ISA), -2 (no memory)
               "threads"  int  ... C, ldc, int threads)
               "strassen" int  ... C, ldc, int threads, int levels), called with levels -1
  needs        "": runs anywhere it builds; "simd": a usable micro-kernel ISA;
               "openmp": that, and a build with OpenMP; "bf16": a usable BF16 matrix unit
               (AMX or AVX512-BF16: csrc/bf16_units.c)
  parallel     takes threads > 1
  description  one line, as ml.kernels() shows it
  dtypes       (optional) the dtypes it takes; default both. A float32-only rung is still
               compiled twice: its float64 function returns -3, which the binding raises as
               TypeError (and ml.matmul refuses float64 before calling it)
  precision    (optional) "" computes in the dtype; "bf16": rounds the inputs to bfloat16
               (bench/check.py judges it by that precision)

Cython rows: name, rung, file (under pyx/), parallel, description, and
  openmp       the module's matmul takes a thread count (prange) and needs OpenMP
  tiles        reads c_blocked's run-time tiles from _ckernels (csrc/state.h), so it links
               csrc/state_client.c and does not load without _ckernels
"""
from collections import namedtuple

CRung = namedtuple("CRung", "name rung file flags call needs parallel description dtypes precision",
                   defaults=(("float32", "float64"), ""))
CyRung = namedtuple("CyRung", "name rung file parallel openmp tiles description")

C_RUNGS = (
    CRung("c_naive", 1, "1_naive.c", "plain", "plain", "", False,
          "i-j-k triple loop; B read down its columns"),
    CRung("c_ikj", 2, "2_ikj.c", "plain", "plain", "", False,
          "loops reordered i-k-j: unit-stride B and C, auto-vectorisable"),
    CRung("c_blocked", 3, "3_blocked.c", "plain", "plain", "", False,
          "ikj tiled so a tile of B stays in L2"),
    CRung("c_simd", 4, "4_simd.c", "packed", "status", "simd", False,
          "BLIS loops: packed panels + AVX2/AVX-512 FMA register-tile micro-kernel, 1 thread"),
    CRung("c_omp", 5, "5_omp.c", "packed", "threads", "openmp", True,
          "c_simd on all threads with OpenMP"),
    CRung("c_strassen", 6, "6_strassen.c", "packed", "strassen", "openmp", True,
          "Strassen-Winograd (7 block products for 8) over c_omp, 1-2 levels by a size cutoff"),
    CRung("c_bf16", 7, "7_bf16.c", "packed", "threads", "bf16", True,
          "the CPU's matrix unit: float32 rounded to bf16 in packing, AMX or AVX512-BF16 "
          "micro-kernel, float32 sums, c_omp's threads", ("float32",), "bf16"),
)

CYTHON_RUNGS = (
    CyRung("cy_naive", 1, "1_cy_naive.pyx", False, False, False,
           "typed-memoryview i-j-k loop, nogil (twin of c_naive)"),
    CyRung("cy_ikj", 2, "2_cy_ikj.pyx", False, False, False,
           "typed Cython, loops reordered i-k-j (twin of c_ikj)"),
    CyRung("cy_blocked", 3, "3_cy_blocked.pyx", False, False, True,
           "typed Cython ikj with c_blocked's tiles (twin of c_blocked)"),
    CyRung("cy_prange", 4, "4_cy_prange.pyx", True, True, True,
           "cy_blocked with rows split across threads by prange"),
)

# Compiled with each rung's flags, beside the rungs, but no rung of their own: the few-rows
# path of rungs 4 and 5, and the fused block sums of the fast-matmul rung (rungs/fast.py).
C_PACKED_HELPERS = ("few_rows.c", "lincomb.c")


def stem(name):
    """c_ikj -> ikj: the part of the C function names mm_<stem>_<s|d>."""
    return name[len("c_"):]
