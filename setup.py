"""Build matmul-ladder's extensions: the C rungs (csrc/) behind a Cython binding, and the
Cython rungs (pyx/).

Build facts are detected, not assumed:
- Compiler: gcc or clang (Apple's too, and MinGW-w64's gcc on Windows), or Microsoft's
  (MSVC, Visual Studio 2022 17.5 or later), which takes its own flags (MSVC_* below)
  and whose compiler object has no compiler_so. csrc/portable.h holds the C side.
- OpenMP: a test program of the constructs the rungs use (OpenMP 3 loops: size_t indices,
  collapse, a max reduction) is compiled, linked and run with -fopenmp; on macOS, where
  Apple's clang has no -fopenmp, with `-Xpreprocessor -fopenmp -lomp` against Homebrew's
  libomp (or the prefix in MATMUL_LADDER_LIBOMP); with MSVC, /openmp:llvm (its /openmp is
  OpenMP 2.0, which has none of them). Without OpenMP the package still builds; the OpenMP
  rungs run serially and are listed unavailable.
- SIMD: on x86-64 the micro-kernels carry their own `__attribute__((target(...)))`, so no
  -march flag is ever needed; the CPU is checked at run time before they are called. MSVC
  takes intrinsics in any function without a mark; the files made only of functions called
  after that check get their ISA's /arch (MSVC_ARCH). On arm64 the NEON micro-kernel needs
  nothing: NEON is part of the baseline. Each micro-kernel file compiles to nothing on the
  other architecture.
- Element types: each C rung file is written once in terms of `real` (csrc/ladder.h) and
  compiled twice here, for float32 and with -DLADDER_DOUBLE for float64.
- Run-time state (the micro-kernel ISA, the block sizes, Strassen's cutoff) has one owner:
  csrc/cpu.c and csrc/blocking.c, which hold it, are linked into _ckernels alone. The
  extensions that read it (_cconv, and the Cython rungs cy_blocked and cy_prange) link
  csrc/state_client.c instead, which calls _ckernels's functions through a capsule that
  _ckernels exports (csrc/state.h says why this way); the other Cython rungs need no C file.

Environment variables:
- MATMUL_LADDER_LIBOMP: the prefix of an LLVM libomp (include/omp.h, lib/libomp.*) to try when
  -fopenmp alone does not work, as on macOS.
- MATMUL_LADDER_CFLAGS: flags for the plain C rungs (c_naive, c_ikj, c_blocked) only.
  Default "-O3" (MSVC: "/O2") for the baseline x86-64 ISA, which vectorises ikj with SSE2 at
  most, as a portable wheel would. "-O3 -march=native" lets gcc auto-vectorise them with
  AVX2/AVX-512 (that build then runs only on CPUs like this one); "-O2 -fno-tree-vectorize"
  keeps them scalar.
"""
import json
import os
import runpy
import shlex
import subprocess
import sys
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

DEFAULT_PLAIN_FLAGS = "-O3"
PACKED_FLAGS = ["-O3"]
# Microsoft's compiler: the same choices in its own flags. Every file, the plain rungs and
# Cython's too, is C11 (restrict, _Alignas, <stdatomic.h>), which MSVC compiles only under
# MSVC_C11 (csrc/portable.h says what else the C needs); MATMUL_LADDER_CFLAGS replaces the
# optimisation flags only.
MSVC_C11 = ["/std:c11", "/experimental:c11atomics"]
MSVC_PLAIN_FLAGS = "/O2"
MSVC_PACKED_FLAGS = ["/O2"]
MSVC_OPENMP = ["/openmp:llvm"]
# The files whose every function runs only after the CPU check (gcc marks them with target
# attributes, csrc/ladder.h): with MSVC each is compiled for that ISA, so that MSVC's own
# vectorised code in them (few_rows.c's loops) uses it. Files that mix ISAs (fma_peak.c,
# conv/simd_rows.c) keep the baseline; their intrinsics need no flag. x86-64 only.
MSVC_ARCH = {"csrc/ukernel_avx2.c": "/arch:AVX2", "csrc/few_rows.c": "/arch:AVX2",
             "csrc/ukernel_avx512.c": "/arch:AVX512"}
ALIGN_LOOPS = "-falign-loops=64"  # added to every compile where the compiler takes it
# The one table of the matmul rungs (C and Cython), read by path: the package is not built yet.
TABLE = runpy.run_path(os.path.join("pysrc", "matmul_ladder", "rungs", "table.py"))
# Rung files compiled once per element type: the plain rungs with PLAIN_FLAGS, the packed
# ones (and their few-rows path) with PACKED_FLAGS and OpenMP.
PLAIN_RUNGS = [f"csrc/{r.file}" for r in TABLE["C_RUNGS"] if r.flags == "plain"]
PACKED_RUNGS = ([f"csrc/{r.file}" for r in TABLE["C_RUNGS"] if r.flags == "packed"]
                + [f"csrc/{f}" for f in TABLE["C_PACKED_HELPERS"]])
# The C binding's dispatch (one function pointer per rung and element type), generated from
# the table into GENERATED and included by pyx/_ckernels.pyx.
GENERATED = os.path.join("build", "generated")
PER_TYPE = {"float32": [], "float64": [("LADDER_DOUBLE", None)]}
# Compiled once, into _ckernels only: run-time CPU facts and blocking (the run-time state,
# with the table that lends it to the other extensions: csrc/state.h), micro-kernels, probes.
SHARED_SOURCES = ["csrc/cpu.c", "csrc/blocking.c", "csrc/state_owner.c", "csrc/scratch.c",
                  "csrc/ukernel_avx2.c", "csrc/ukernel_avx512.c", "csrc/ukernel_neon.c",
                  "csrc/fma_peak.c", "csrc/stream.c",
                  # rung 7's matrix units: detection and AMX permission, micro-kernels, peak
                  "csrc/bf16_units.c", "csrc/ukernel_bf16.c", "csrc/bf16_peak.c"]
# What the extensions that read the run-time state link instead of cpu.c and blocking.c.
STATE_CLIENT = ["csrc/state_client.c"]
STATE_DEPENDS = ["csrc/ladder.h", "csrc/state.h", "csrc/state_client.c"]
# The convolution ladder (csrc/conv/), the same way: plain rungs 1-3, vector rungs 4-6.
CONV_PLAIN_RUNGS = ["csrc/conv/1_naive.c", "csrc/conv/2_rows.c", "csrc/conv/3_fixed.c"]
CONV_PACKED_RUNGS = ["csrc/conv/4_simd.c", "csrc/conv/5_omp.c", "csrc/conv/6_strips.c",
                     "csrc/conv/simd_rows.c"]
CYTHON_RUNGS = {**{r.name: f"pyx/{r.file}" for r in TABLE["CYTHON_RUNGS"]},
                "conv_cy_naive": "pyx/conv/1_cy_naive.pyx", "conv_cy_rows": "pyx/conv/2_cy_rows.pyx",
                "conv_cy_prange": "pyx/conv/3_cy_prange.pyx"}
# The Cython rungs that read the run-time state: c_blocked's tiles, from _ckernels.
CYTHON_STATE_CLIENTS = {r.name for r in TABLE["CYTHON_RUNGS"] if r.tiles}

# What openmp_flags compiles, links and runs: the OpenMP constructs that the rungs use,
# which OpenMP 2.0 (MSVC's plain /openmp) lacks: size_t loop indices, collapse, a max
# reduction (csrc/5_omp.c, csrc/fma_peak.c).
OPENMP_TEST = """#include <omp.h>
#include <stddef.h>
int main(void)
{
    size_t count = 0, last = 0;
    #pragma omp parallel for collapse(2) schedule(static) reduction(+ : count) reduction(max : last)
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++) {
            count++;
            last = i * 4 + j > last ? i * 4 + j : last;
        }
    return omp_get_max_threads() < 1 || count != 16 || last != 15;
}
"""


# How the binding calls each kind of rung (pysrc/matmul_ladder/rungs/table.py, `call`): the
# C function's return type, its parameters after ldc, and the arguments passed for them.
CALLS = {"plain": ("void", "", ""), "status": ("int", "", ""),
         "threads": ("int", ", int threads", ", threads"),
         "strassen": ("int", ", int threads, int levels", ", threads, -1")}


def rung_dispatch_pxi(c_rungs):
    """Cython source that declares every C rung and lists it in a table of function
    pointers of one signature, per element type, in the table's order (RUNGS)."""
    args = ("size_t M, size_t N, size_t K, const {T} *A, size_t lda, const {T} *B, size_t ldb, "
            "{T} *C, size_t ldc")
    c = ["#include \"ladder.h\""]
    for s, T in (("s", "float"), ("d", "double")):
        a = args.format(T=T)
        c.append(f"typedef int (*ladder_rung_{s})({a}, int threads);")
        for r in c_rungs:
            returns, params, passed = CALLS[r.call]
            fn = f"mm_{TABLE['stem'](r.name)}_{s}"
            call = f"{fn}(M, N, K, A, lda, B, ldb, C, ldc{passed})"
            body = f"return {call};" if returns == "int" else f"{call}; return 0;"
            c += [f"{returns} {fn}({a}{params});",
                  f"static int call_{fn}({a}, int threads) {{ (void)threads; {body} }}"]
        pointers = ", ".join(f"call_mm_{TABLE['stem'](r.name)}_{s}" for r in c_rungs)
        c.append(f"static ladder_rung_{s} ladder_rungs_{s}[] = {{{pointers}}};")
    lines = ["# Generated by setup.py from pysrc/matmul_ladder/rungs/table.py: do not edit.",
             "cdef extern from *:", '    """'] + [f"    {line}" for line in c] + ['    """']
    for s, T in (("s", "float"), ("d", "double")):
        lines += [f"    ctypedef int (*ladder_rung_{s})(size_t, size_t, size_t, const {T} *, "
                  f"size_t, const {T} *, size_t, {T} *, size_t, int) noexcept nogil",
                  f"    ladder_rung_{s} ladder_rungs_{s}[{len(c_rungs)}]"]
    lines.append(f"\nRUNGS = {tuple(r.name for r in c_rungs)!r}")
    return "\n".join(lines) + "\n"


def write_if_changed(path, text):
    """Write `text` to `path` unless it holds it already (cythonize rebuilds from a newer
    file)."""
    try:
        with open(path) as f:
            if f.read() == text:
                return
    except OSError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def c_ladder_extension():
    depends = [os.path.join("csrc", f) for f in os.listdir("csrc") if f.endswith((".c", ".h"))]
    ext = Extension("matmul_ladder._ckernels", ["pyx/_ckernels.pyx"] + SHARED_SOURCES,
                    include_dirs=["csrc"], depends=depends)
    ext.per_type_sources = {"plain": PLAIN_RUNGS, "packed": PACKED_RUNGS}
    return ext


def conv_extension():
    depends = [os.path.join("csrc", "conv", f) for f in os.listdir(os.path.join("csrc", "conv"))]
    # The vector rungs' ISA is _ckernels's (state_client.c), not a copy of cpu.c's.
    ext = Extension("matmul_ladder._cconv", ["pyx/_cconv.pyx"] + STATE_CLIENT,
                    include_dirs=["csrc"], depends=depends + STATE_DEPENDS)
    ext.per_type_sources = {"plain": CONV_PLAIN_RUNGS, "packed": CONV_PACKED_RUNGS}
    return ext


def cython_rung_extension(name, path):
    # The blocked rungs take c_blocked's run-time tile sizes from _ckernels, their owner,
    # through state_client.c; the others are their .pyx alone.
    if name in CYTHON_STATE_CLIENTS:
        return Extension(f"matmul_ladder._{name}", [path] + STATE_CLIENT, include_dirs=["csrc"],
                         depends=STATE_DEPENDS)
    return Extension(f"matmul_ladder._{name}", [path])


def compiler_command(compiler):
    """The compiler's program and the flags it passes to every compile. gcc and clang's
    compiler objects hold both in compiler_so; MSVC's has none: its program is `cc` (set
    when it first compiles) and its flags compile_options."""
    if getattr(compiler, "compiler_so", None):
        return compiler.compiler_so[0], list(compiler.compiler_so[1:])
    return getattr(compiler, "cc", "cl.exe"), list(getattr(compiler, "compile_options", []))


def compiler_version(cc, msvc=False):
    """The first line of the compiler's banner: `cc --version`, or MSVC's cl alone, which
    prints it on stderr."""
    try:
        out = subprocess.run([cc] if msvc else [cc, "--version"], capture_output=True,
                             text=True, timeout=30)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


class LadderBuildExt(build_ext):
    """build_ext that detects OpenMP, compiles the plain rungs with their own flags and
    records what it did in matmul_ladder/_build_config.json."""

    def run(self):
        # setuptools builds an --inplace build in build_lib and copies the extensions to the
        # source tree afterwards, with self.inplace cleared meanwhile: remember the request.
        self.inplace_requested = self.inplace
        super().run()

    @property
    def msvc(self):
        return self.compiler.compiler_type == "msvc"

    def openmp_candidates(self):
        """(compile flags, link flags) to try in turn: plain -fopenmp (gcc; clang with
        libomp), then an LLVM libomp under a known prefix (macOS: Homebrew's); with MSVC,
        /openmp:llvm alone."""
        if self.msvc:
            yield MSVC_OPENMP, []
            return
        yield ["-fopenmp"], ["-fopenmp"]
        prefixes = [os.environ.get("MATMUL_LADDER_LIBOMP", "")]
        if sys.platform == "darwin":
            try:
                prefixes.append(subprocess.run(["brew", "--prefix", "libomp"], capture_output=True,
                                               text=True, timeout=30).stdout.strip())
            except (OSError, subprocess.SubprocessError):
                pass
            prefixes += ["/opt/homebrew/opt/libomp", "/usr/local/opt/libomp"]
        for prefix in dict.fromkeys(p for p in prefixes if p and os.path.isdir(p)):
            lib = os.path.join(prefix, "lib")
            yield (["-Xpreprocessor", "-fopenmp", "-I" + os.path.join(prefix, "include")],
                   ["-L" + lib, "-lomp", "-Wl,-rpath," + lib])

    def openmp_flags(self):
        """The first candidate that compiles, links and runs a test program of the OpenMP
        constructs that the rungs use, or None."""
        test = OPENMP_TEST
        for compile_flags, link_flags in self.openmp_candidates():
            with tempfile.TemporaryDirectory() as tmp:
                src = os.path.join(tmp, "omp_test.c")
                with open(src, "w") as f:
                    f.write(test)
                try:
                    objs = self.compiler.compile([src], output_dir=tmp,
                                                 extra_postargs=compile_flags)
                    self.compiler.link_executable(objs, "omp_test", output_dir=tmp,
                                                  extra_postargs=link_flags)
                    program = self.compiler.executable_filename("omp_test", output_dir=tmp)
                    subprocess.run([program], check=True, timeout=30, capture_output=True)
                except Exception:  # CompileError, LinkError, a failed run: try the next one
                    continue
            return compile_flags, link_flags
        return None

    def accepts(self, flags):
        """Whether the compiler takes these flags without a warning."""
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "flag_test.c")
            with open(src, "w") as f:
                f.write("int f(int n) { int s = 0; for (int i = 0; i < n; i++) s += i; return s; }\n")
            try:
                self.compiler.compile([src], output_dir=tmp, extra_postargs=[*flags, "-Werror"])
            except Exception:  # CompileError: unknown or unsupported here
                return False
        return True

    def build_extensions(self):
        # Every loop starts on a 64-byte boundary: on Zen 4 the same short inner loop ran up
        # to 1.6x slower when it straddled one, by where the compiler happened to put it
        # (docs/cython.md). Aligned, the C rungs and their Cython twins run alike. (A gcc and
        # clang flag: MSVC has none.)
        align = [ALIGN_LOOPS] if not self.msvc and self.accepts([ALIGN_LOOPS]) else []
        omp = self.openmp_flags()
        if omp is None:
            print("matmul-ladder: OpenMP not found; c_omp and cy_prange will run serially "
                  "and be listed unavailable. (macOS: brew install libomp; MSVC: Visual "
                  "Studio 2019 16.9 or later, for /openmp:llvm)")
        omp_compile, omp_link = omp or ([], [])
        language = MSVC_C11 if self.msvc else []
        optimise = MSVC_PACKED_FLAGS if self.msvc else PACKED_FLAGS + align
        packed = language + optimise + omp_compile
        for ext in self.extensions:
            ext.extra_compile_args = list(packed)
            ext.extra_link_args = omp_link
        plain = os.environ.get("MATMUL_LADDER_CFLAGS",
                               MSVC_PLAIN_FLAGS if self.msvc else DEFAULT_PLAIN_FLAGS)
        self.plain_flags = language + shlex.split(plain) + align
        cc, cflags = compiler_command(self.compiler)
        self.config = {
            "compiler": cc,
            "compiler_version": compiler_version(cc, self.msvc),
            "python_cflags": " ".join(cflags),
            "openmp": omp is not None,
            "openmp_flag": " ".join(omp_compile),
            "openmp_link": " ".join(omp_link),
            "plain_flags": " ".join(self.plain_flags),
            "plain_flags_from_env": "MATMUL_LADDER_CFLAGS" in os.environ,
            "packed_flags": " ".join(packed),
            "cython_flags": " ".join(packed),
        }
        super().build_extensions()
        # Next to the package: in build_lib for a wheel, in the source tree for -e installs.
        out_dirs = {os.path.join(self.build_lib, "matmul_ladder")}
        if (self.inplace or getattr(self, "inplace_requested", False)
                or getattr(self, "editable_mode", False)):
            out_dirs.add(self.get_finalized_command("build_py").get_package_dir("matmul_ladder"))
        for out_dir in out_dirs:
            os.makedirs(out_dir, exist_ok=True)
            with open(os.path.join(out_dir, "_build_config.json"), "w") as f:
                json.dump(self.config, f, indent=2)

    def arch_flags(self, source):
        """MSVC's /arch for one source file (MSVC_ARCH), on x86-64; [] for all else."""
        if not self.msvc or "arm" in (self.plat_name or ""):
            return []
        return [MSVC_ARCH[source]] if source in MSVC_ARCH else []

    def build_extension(self, ext):
        objects = []
        # Under MSVC the files of MSVC_ARCH are compiled here, each with its /arch; the rest
        # of ext.sources by build_ext as usual.
        own = [s for s in ext.sources if self.arch_flags(s)]
        for source in own:
            objects += self.compiler.compile(
                [source], output_dir=self.build_temp, include_dirs=ext.include_dirs,
                extra_postargs=ext.extra_compile_args + self.arch_flags(source),
                depends=ext.depends)
        per_type = getattr(ext, "per_type_sources", None) or {}
        flags = {"plain": self.plain_flags, "packed": ext.extra_compile_args}
        for dtype, macros in PER_TYPE.items():
            for kind, sources in per_type.items():
                for source in sources:
                    objects += self.compiler.compile(
                        [source], output_dir=os.path.join(self.build_temp, dtype, kind),
                        macros=macros, include_dirs=ext.include_dirs,
                        extra_postargs=flags[kind] + self.arch_flags(source),
                        depends=ext.depends)
        ext.extra_objects = objects
        sources = ext.sources
        ext.sources = [s for s in sources if s not in own]
        try:
            super().build_extension(ext)
        finally:
            ext.sources = sources


class LadderBuildPy(build_py):
    """build_py that ships the CUDA rungs (csrc/cuda/, csrc/cuda/conv/) in the package as
    cuda_src/, so that a wheel or `pip install .` finds them; an editable install reads them
    from csrc/cuda/."""

    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "matmul_ladder", "cuda_src")
        os.makedirs(target, exist_ok=True)
        for sub in ("", "conv"):  # the matmul rungs, and the convolution rungs in conv/
            os.makedirs(os.path.join(target, sub), exist_ok=True)
            for name in sorted(os.listdir(os.path.join("csrc", "cuda", sub))):
                if name.endswith((".cu", ".cuh")):
                    self.copy_file(os.path.join("csrc", "cuda", sub, name),
                                   os.path.join(target, sub, name))


def main():
    write_if_changed(os.path.join(GENERATED, "_crungs.pxi"), rung_dispatch_pxi(TABLE["C_RUNGS"]))
    extensions = cythonize(
        [c_ladder_extension(), conv_extension()] +
        [cython_rung_extension(n, p) for n, p in CYTHON_RUNGS.items()],
        compiler_directives={"language_level": 3},
        include_path=["pyx", GENERATED],
    )
    # cythonize returns new Extension objects: carry the per-type sources over.
    extensions[0].per_type_sources = c_ladder_extension().per_type_sources
    extensions[1].per_type_sources = conv_extension().per_type_sources
    setup(ext_modules=extensions, cmdclass={"build_ext": LadderBuildExt, "build_py": LadderBuildPy})


# pip and `python setup.py` run this file as __main__; tests/test_windows.py loads it under
# another name, for LadderBuildExt alone.
if __name__ == "__main__":
    main()
