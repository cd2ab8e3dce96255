# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The thin binding over csrc/: one call for every C rung, plus the run-time CPU facts.

This extension is the one owner of the run-time state (the ISA of c_simd/c_omp and of the
convolution's vector rungs, every block size, Strassen's cutoff): the setters below change
it for every rung, the Cython and convolution ones included (csrc/state.h).

Private: matmul_ladder.matmul validates and lays out the inputs, then calls run().
run() re-checks what memory safety depends on, so a misuse raises instead of crashing.
The GIL is released while a kernel runs.
"""

cdef extern from "ladder.h" nogil:
    void mm_naive_s(size_t, size_t, size_t, const float *, size_t, const float *, size_t, float *, size_t)
    void mm_naive_d(size_t, size_t, size_t, const double *, size_t, const double *, size_t, double *, size_t)
    void mm_ikj_s(size_t, size_t, size_t, const float *, size_t, const float *, size_t, float *, size_t)
    void mm_ikj_d(size_t, size_t, size_t, const double *, size_t, const double *, size_t, double *, size_t)
    void mm_blocked_s(size_t, size_t, size_t, const float *, size_t, const float *, size_t, float *, size_t)
    void mm_blocked_d(size_t, size_t, size_t, const double *, size_t, const double *, size_t, double *, size_t)
    int mm_simd_s(size_t, size_t, size_t, const float *, size_t, const float *, size_t, float *, size_t)
    int mm_simd_d(size_t, size_t, size_t, const double *, size_t, const double *, size_t, double *, size_t)
    int mm_omp_s(size_t, size_t, size_t, const float *, size_t, const float *, size_t, float *, size_t, int)
    int mm_omp_d(size_t, size_t, size_t, const double *, size_t, const double *, size_t, double *, size_t, int)
    int mm_strassen_s(size_t, size_t, size_t, const float *, size_t, const float *, size_t, float *, size_t, int, int)
    int mm_strassen_d(size_t, size_t, size_t, const double *, size_t, const double *, size_t, double *, size_t, int, int)
    int ladder_strassen_levels(size_t, size_t, size_t, size_t)
    size_t ladder_strassen_cutoff(size_t)
    void ladder_set_strassen_cutoff(size_t, size_t)
    enum: LADDER_STRASSEN_CUTOFF

    int ladder_best_isa()
    int ladder_active_isa()
    int ladder_set_isa(int)
    int ladder_isa_compiled(int)
    int ladder_has_openmp()
    double ladder_fma_peak(size_t, int, int, double)
    double ladder_ukernel_peak(size_t, int, double)
    double ladder_triad_gbs(size_t, int, int)
    ctypedef struct ladder_cache:
        size_t bytes, ways, line
    ladder_cache ladder_cache_info(int)
    ctypedef struct ladder_blocking:
        size_t mr, nr, kc, mc, nc, ways_a_l1, ways_a_l2, ways_b_l3
        int overridden
    ladder_blocking ladder_gemm_blocking(size_t, int)
    ladder_blocking ladder_gemm_model(size_t, size_t, size_t, const ladder_cache *,
                                      const ladder_cache *, const ladder_cache *)
    void ladder_set_gemm_blocking(size_t, size_t, size_t, size_t)
    ctypedef struct ladder_tiles:
        size_t kb, nb
    ladder_tiles ladder_blocked_tiles(size_t)
    ladder_tiles ladder_blocked_model(size_t, const ladder_cache *, const ladder_cache *)
    void ladder_set_blocked_tiles(size_t, size_t, size_t)

from cpython.pycapsule cimport PyCapsule_New

from _strides cimport row_stride

cdef extern from "state.h":
    ctypedef struct ladder_state_api:
        pass
    const ladder_state_api ladder_state_owner
    const char *LADDER_STATE_CAPSULE

# This extension owns the run-time state (the ISA, the block sizes, Strassen's cutoff): the
# one copy of cpu.c and blocking.c in the process. _cconv, cy_blocked and cy_prange read it
# through this capsule, which they import at module init (csrc/state.h says why).
_state_api = PyCapsule_New(<void *>&ladder_state_owner, LADDER_STATE_CAPSULE, NULL)

ctypedef fused real:
    float
    double

RUNGS = ("c_naive", "c_ikj", "c_blocked", "c_simd", "c_omp", "c_strassen")
ISA_NAMES = ("none", "avx2", "avx512", "neon")


def run(str rung, const real[:, :] a, const real[:, :] b, real[:, :] c, int threads=1):
    """c = a @ b with the C rung named `rung`; c must be M x N with unit-stride rows."""
    cdef size_t M = a.shape[0], K = a.shape[1], N = b.shape[1]
    if <size_t>b.shape[0] != K or <size_t>c.shape[0] != M or <size_t>c.shape[1] != N:
        raise ValueError(f"shape mismatch: a ({a.shape[0]}, {a.shape[1]}), "
                         f"b ({b.shape[0]}, {b.shape[1]}), c ({c.shape[0]}, {c.shape[1]})")
    if rung not in RUNGS:
        raise ValueError(f"unknown C rung {rung!r}; choose from {', '.join(RUNGS)}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    cdef size_t lda = row_stride(a, "a"), ldb = row_stride(b, "b"), ldc = row_stride(c, "c")
    # A zero-size view may not own a valid first element; the kernels never read it then.
    cdef const real *pa = &a[0, 0] if M and K else NULL
    cdef const real *pb = &b[0, 0] if K and N else NULL
    cdef real *pc = &c[0, 0] if M and N else NULL
    cdef int which = RUNGS.index(rung), status = 0
    with nogil:
        if real is float:
            if which == 0: mm_naive_s(M, N, K, pa, lda, pb, ldb, pc, ldc)
            elif which == 1: mm_ikj_s(M, N, K, pa, lda, pb, ldb, pc, ldc)
            elif which == 2: mm_blocked_s(M, N, K, pa, lda, pb, ldb, pc, ldc)
            elif which == 3: status = mm_simd_s(M, N, K, pa, lda, pb, ldb, pc, ldc)
            elif which == 4: status = mm_omp_s(M, N, K, pa, lda, pb, ldb, pc, ldc, threads)
            else: status = mm_strassen_s(M, N, K, pa, lda, pb, ldb, pc, ldc, threads, -1)
        else:
            if which == 0: mm_naive_d(M, N, K, pa, lda, pb, ldb, pc, ldc)
            elif which == 1: mm_ikj_d(M, N, K, pa, lda, pb, ldb, pc, ldc)
            elif which == 2: mm_blocked_d(M, N, K, pa, lda, pb, ldb, pc, ldc)
            elif which == 3: status = mm_simd_d(M, N, K, pa, lda, pb, ldb, pc, ldc)
            elif which == 4: status = mm_omp_d(M, N, K, pa, lda, pb, ldb, pc, ldc, threads)
            else: status = mm_strassen_d(M, N, K, pa, lda, pb, ldb, pc, ldc, threads, -1)
    if status == -1:
        raise RuntimeError(f"{rung}: no usable SIMD micro-kernel (active ISA: {active_isa()})")
    if status == -2:
        raise MemoryError(f"{rung}: could not allocate the packing buffers")


def best_isa():
    """The widest micro-kernel ISA this CPU and OS support: 'avx512', 'avx2', 'neon' or
    'none'."""
    return ISA_NAMES[ladder_best_isa()]


def compiled_isas():
    """The micro-kernel ISAs this build has: ['avx2', 'avx512'] on x86-64, ['neon'] on arm64."""
    return [name for i, name in enumerate(ISA_NAMES) if i and ladder_isa_compiled(i)]


def active_isa():
    """The ISA that c_simd and c_omp use now."""
    return ISA_NAMES[ladder_active_isa()]


def set_isa(str name):
    """Make c_simd/c_omp use `name` ('avx2', 'avx512', 'neon' or 'none'); returns the
    previous one."""
    if name not in ISA_NAMES:
        raise ValueError(f"unknown ISA {name!r}; choose from {', '.join(ISA_NAMES)}")
    previous = active_isa()
    if ladder_set_isa(ISA_NAMES.index(name)) != 0:
        raise ValueError(f"this CPU cannot run the {name} micro-kernel (best: {best_isa()})")
    return previous


def strassen_levels(size_t itemsize, size_t M, size_t N, size_t K):
    """Levels c_strassen takes for an M x K by K x N product at the current cutoff."""
    return ladder_strassen_levels(itemsize, M, N, K)


def strassen_cutoff(size_t itemsize):
    return ladder_strassen_cutoff(itemsize)


def default_strassen_cutoff():
    """The cutoff c_strassen takes when none is set (LADDER_STRASSEN_CUTOFF)."""
    return LADDER_STRASSEN_CUTOFF


def set_strassen_cutoff(size_t itemsize, size_t n):
    """c_strassen's cutoff for one element size; 0 restores the default."""
    ladder_set_strassen_cutoff(itemsize, n)


def has_openmp():
    return bool(ladder_has_openmp())


def cache_geometry():
    """{'L1d': (bytes, ways, line bytes), 'L2': ..., 'L3': ...} as the kernels read them."""
    cdef ladder_cache c
    out = {}
    for level, name in ((1, "L1d"), (2, "L2"), (3, "L3")):
        c = ladder_cache_info(level)
        out[name] = (c.bytes, c.ways, c.line)
    return out


cdef dict blocking_dict(ladder_blocking bs):
    return {"MR": bs.mr, "NR": bs.nr, "KC": bs.kc, "MC": bs.mc, "NC": bs.nc,
            "ways": {"L1 (cap on the A micro-panel)": bs.ways_a_l1,
                     "L2 (A block)": bs.ways_a_l2, "L3 (B panel)": bs.ways_b_l3},
            "overridden": bool(bs.overridden)}


def gemm_blocking(size_t itemsize, str isa):
    """c_simd/c_omp block sizes for one dtype size and ISA on this CPU."""
    return blocking_dict(ladder_gemm_blocking(itemsize, ISA_NAMES.index(isa)))


cdef ladder_cache as_cache(level) except *:
    size, ways, line = level
    cdef ladder_cache c
    c.bytes, c.ways, c.line = size, ways, line
    return c


def gemm_model(size_t itemsize, size_t mr, size_t nr, l1, l2, l3):
    """The blocking model alone, on any cache table: each level (bytes, ways, line bytes)."""
    cdef ladder_cache c1 = as_cache(l1), c2 = as_cache(l2), c3 = as_cache(l3)
    return blocking_dict(ladder_gemm_model(itemsize, mr, nr, &c1, &c2, &c3))


def blocked_model(size_t itemsize, l1, l2):
    """c_blocked's tiles from the model, on any L1 and L2 (bytes, ways, line bytes)."""
    cdef ladder_cache c1 = as_cache(l1), c2 = as_cache(l2)
    cdef ladder_tiles t = ladder_blocked_model(itemsize, &c1, &c2)
    return {"KB": t.kb, "NB": t.nb}


def set_gemm_blocking(size_t itemsize, size_t mc=0, size_t kc=0, size_t nc=0):
    """Set c_simd/c_omp's MC, KC, NC for one dtype size (0: the model's)."""
    if itemsize not in (4, 8):
        raise ValueError(f"itemsize must be 4 or 8, got {itemsize}")
    ladder_set_gemm_blocking(itemsize, mc, kc, nc)


def set_blocked_tiles(size_t itemsize, size_t kb=0, size_t nb=0):
    """Set the tiles of c_blocked, cy_blocked and cy_prange for one dtype size (0: the
    model's)."""
    if itemsize not in (4, 8):
        raise ValueError(f"itemsize must be 4 or 8, got {itemsize}")
    ladder_set_blocked_tiles(itemsize, kb, nb)


def blocked_tiles(size_t itemsize):
    """c_blocked tile sizes for one dtype size."""
    cdef ladder_tiles t = ladder_blocked_tiles(itemsize)
    return {"KB": t.kb, "NB": t.nb}


def fma_peak(size_t itemsize, int threads=1, double seconds=0.2):
    """Measured FMA peak in GFLOP/s with the active ISA's vectors (0.0 without SIMD)."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    cdef int isa = ladder_active_isa()
    cdef double gflops
    with nogil:
        gflops = ladder_fma_peak(itemsize, isa, threads, seconds)
    return gflops


def ukernel_peak(size_t itemsize, double seconds=0.2):
    """GFLOP/s of the active ISA's micro-kernel alone, on one pair of packed panels that stay
    in L1/L2, on one thread: the ceiling of c_simd's share of fma_peak (0.0 without SIMD)."""
    cdef int isa = ladder_active_isa()
    cdef double gflops
    with nogil:
        gflops = ladder_ukernel_peak(itemsize, isa, seconds)
    if gflops < 0:
        raise MemoryError("ukernel_peak: could not allocate the packed panels")
    return gflops


def triad_bandwidth(size_t elements=1 << 25, int threads=1, int repeats=5):
    """Best STREAM-like triad bandwidth in GB/s over arrays of `elements` doubles."""
    if threads < 1 or repeats < 1:
        raise ValueError("threads and repeats must be >= 1")
    cdef double gbs
    with nogil:
        gbs = ladder_triad_gbs(elements, threads, repeats)
    if gbs < 0:
        raise MemoryError(f"triad: could not allocate 3 x {elements} doubles")
    return gbs
