"""Build matmul-ladder's extensions: the C rungs (csrc/) behind a Cython binding, and the
Cython rungs (pyx/).

Build facts are detected, not assumed:
- OpenMP: a test program is compiled and linked with -fopenmp. Without it the package still
  builds; the OpenMP rungs run serially and are listed unavailable.
- SIMD: the micro-kernels carry their own `#pragma GCC target`, so no -march flag is ever
  needed; the CPU is checked at run time before they are called.

Environment variable:
- MATMUL_LADDER_CFLAGS: flags for the plain C rungs (c_naive, c_ikj, c_blocked) only.
  Default "-O3" for the baseline x86-64 ISA, which vectorises ikj with SSE2 at most, as a
  portable wheel would. "-O3 -march=native" lets gcc auto-vectorise them with AVX2/AVX-512
  (that build then runs only on CPUs like this one); "-O2 -fno-tree-vectorize" keeps them
  scalar.
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEFAULT_PLAIN_FLAGS = "-O3"
PLAIN_FLAGS = shlex.split(os.environ.get("MATMUL_LADDER_CFLAGS", DEFAULT_PLAIN_FLAGS))
PACKED_FLAGS = ["-O3"]
PLAIN_SOURCES = ["csrc/float32_plain.c", "csrc/float64_plain.c"]
CYTHON_RUNGS = ["cy_naive", "cy_ikj", "cy_blocked", "cy_prange"]  # pyx/<name>.pyx each


def c_ladder_extension():
    sources = ["pyx/_ckernels.pyx", "csrc/cpu.c", "csrc/ukernel_avx2.c", "csrc/ukernel_avx512.c",
               "csrc/float32_packed.c", "csrc/float64_packed.c", "csrc/fma_peak.c", "csrc/stream.c"]
    depends = [os.path.join("csrc", f) for f in os.listdir("csrc") if f.endswith((".c", ".h"))]
    return Extension("matmul_ladder._ckernels", sources, include_dirs=["csrc"], depends=depends)


def cython_rung_extension(name):
    # cpu.c gives the blocked rungs c_blocked's run-time tile sizes.
    return Extension(f"matmul_ladder._{name}", [f"pyx/{name}.pyx", "csrc/cpu.c"],
                     include_dirs=["csrc"], depends=["csrc/ladder.h", "csrc/cpu.c"])


def compiler_version(cc):
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0].strip()
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


class LadderBuildExt(build_ext):
    """build_ext that detects OpenMP, compiles the plain rungs with their own flags and
    records what it did in matmul_ladder/_build_config.json."""

    def openmp_flag(self):
        if sys.platform == "win32":
            return None
        test = "#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n"
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "omp_test.c")
            with open(src, "w") as f:
                f.write(test)
            try:
                objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=["-fopenmp"])
                self.compiler.link_executable(objs, "omp_test", output_dir=tmp,
                                              extra_postargs=["-fopenmp"])
            except Exception:  # CompileError, LinkError: no OpenMP here
                return None
        return "-fopenmp"

    def build_extensions(self):
        omp = self.openmp_flag()
        if omp is None:
            print("matmul-ladder: OpenMP not found; c_omp and cy_prange will run serially "
                  "and be listed unavailable.")
        omp_flags = [omp] if omp else []
        for ext in self.extensions:
            ext.extra_compile_args = PACKED_FLAGS + omp_flags
            ext.extra_link_args = omp_flags
        self.plain_flags = PLAIN_FLAGS
        self.config = {
            "compiler": " ".join(self.compiler.compiler_so[:1]),
            "compiler_version": compiler_version(self.compiler.compiler_so[0]),
            "python_cflags": " ".join(self.compiler.compiler_so[1:]),
            "openmp": omp is not None,
            "openmp_flag": omp or "",
            "plain_flags": " ".join(PLAIN_FLAGS),
            "plain_flags_from_env": "MATMUL_LADDER_CFLAGS" in os.environ,
            "packed_flags": " ".join(PACKED_FLAGS + omp_flags),
            "cython_flags": " ".join(PACKED_FLAGS + omp_flags),
        }
        super().build_extensions()
        # Next to the package: in build_lib for a wheel, in the source tree for -e installs.
        out_dirs = {os.path.join(self.build_lib, "matmul_ladder")}
        if self.inplace or getattr(self, "editable_mode", False):
            out_dirs.add(self.get_finalized_command("build_py").get_package_dir("matmul_ladder"))
        for out_dir in out_dirs:
            os.makedirs(out_dir, exist_ok=True)
            with open(os.path.join(out_dir, "_build_config.json"), "w") as f:
                json.dump(self.config, f, indent=2)

    def build_extension(self, ext):
        plain = [s for s in ext.sources if s in PLAIN_SOURCES]
        if plain:
            ext.sources = [s for s in ext.sources if s not in PLAIN_SOURCES]
            ext.extra_objects = self.compiler.compile(
                plain, output_dir=self.build_temp, include_dirs=ext.include_dirs,
                extra_postargs=self.plain_flags, depends=ext.depends)
        super().build_extension(ext)


c_ext = c_ladder_extension()
c_ext.sources += PLAIN_SOURCES
extensions = cythonize(
    [c_ext] + [cython_rung_extension(name) for name in CYTHON_RUNGS],
    compiler_directives={"language_level": 3},
)

setup(ext_modules=extensions, cmdclass={"build_ext": LadderBuildExt})
