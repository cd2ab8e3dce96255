"""Windows, where the project has no machine.

- The C ladder on Windows: tests/windows/run.sh cross-compiles csrc/ and the C check driver
  (tests/aarch64/ladder_check.c) with Debian's MinGW-w64 gcc and runs it under Wine: every
  C rung of rungs 1-6 and of the convolution ladder, both dtypes, edge shapes, three
  blockings, with matmul_ladder.bench.check's bound. It then compiles every C file with the
  paths that Microsoft's compiler takes (LADDER_MSVC_PATHS) and runs cpu.c's MSVC CPU check.
- setup.py under MSVC: its build command, given a stand-in for setuptools' MSVCCompiler
  (the class name, compiler_type "msvc", no compiler_so), takes the MSVC flags.
Neither builds the Python extension with MSVC, nor runs on Windows itself."""
import json
import os
import pathlib
import runpy
import shutil
import stat
import subprocess

import pytest
from setuptools import Distribution
from setuptools.command.build_ext import build_ext as setuptools_build_ext

ROOT = pathlib.Path(__file__).resolve().parent.parent
RUN = ROOT / "tests" / "windows" / "run.sh"


def wine():
    """Debian's wine64 is /usr/lib/wine/wine64, not on PATH (its wine package adds one)."""
    return shutil.which("wine64") or next(
        (p for p in ("/usr/lib/wine/wine64",) if os.access(p, os.X_OK)), None)


def expected_isa():
    """The micro-kernel ISA that this Linux x86-64 CPU runs (ladder.h's numbers), or None
    where /proc/cpuinfo does not say."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return None
    if "avx2" not in flags or "fma" not in flags:
        return 0
    return 2 if "avx512f" in flags else 1


@pytest.mark.slow  # outside the quick set (python -m pytest -m "not slow")
@pytest.mark.skipif(not (shutil.which("x86_64-w64-mingw32-gcc") and wine()),
                    reason="needs gcc-mingw-w64-x86-64 and wine64 (Debian packages; .ci/run "
                           "installs them)")
def test_c_ladder_under_wine_and_msvc_paths_compile():
    env = dict(os.environ, WINE=wine())
    done = subprocess.run(["bash", str(RUN)], capture_output=True, text=True, timeout=900,
                          env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    lines = done.stdout.splitlines()
    assert any(line.endswith(" 0 failures") for line in lines), done.stdout
    # every C file of the ladder (but state_client.c, which needs Python.h) compiled with
    # MSVC's paths, each dtype of the typed ones: an object each
    compiled = next(line for line in lines if line.startswith("MSVC paths compiled:"))
    c_files = {str(p.relative_to(ROOT / "csrc")) for p in (ROOT / "csrc").glob("**/*.c")
               if "cuda" not in p.parts} - {"state_client.c"}
    assert set(compiled.split(":")[1].split()) == c_files, compiled
    isa = expected_isa()
    if isa is not None:
        # Both CPU checks, gcc's (the driver) and MSVC's, find the ISA the CPU has.
        assert f"micro-kernel ISA {isa} (best {isa})" in done.stdout, done.stdout
        assert f"MSVC CPU check: best ISA {isa}" in lines, done.stdout
        if isa:
            assert f"ISA {isa}:" in lines, done.stdout  # the checks ran on that kernel


# ---- setup.py with Microsoft's compiler ------------------------------------------------

BANNER = "Microsoft (R) C/C++ Optimizing Compiler Version 19.40.33811 for x64"


class MSVCCompiler:
    """What setup.py's build command sees of setuptools' MSVCCompiler: its class name,
    compiler_type, compile_options and `cc` (set when it first compiles), and no
    compiler_so. It records each compile and fails any GNU-style flag, as cl ignores them
    (D9002) where a wrong flag should fail loudly. With openmp=False it cannot compile the
    OpenMP test program (an MSVC without /openmp:llvm)."""
    compiler_type = "msvc"
    exe_extension = ".exe"

    def __init__(self, tmp, openmp=True):
        self.tmp, self.openmp, self.calls = tmp, openmp, []
        self.compile_options = ["/nologo", "/O2", "/W3", "/GL", "/DNDEBUG", "/MD"]

    def executable_filename(self, name, output_dir=""):
        return os.path.join(output_dir, name + self.exe_extension)

    def compile(self, sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                extra_preargs=None, extra_postargs=None, depends=None):
        from setuptools.errors import CompileError
        # cl.exe as a script that prints its banner on stderr, as cl does
        self.cc = os.path.join(self.tmp, "cl.exe")
        with open(self.cc, "w") as f:
            f.write(f"#!/bin/sh\necho '{BANNER}' >&2\n")
        os.chmod(self.cc, os.stat(self.cc).st_mode | stat.S_IXUSR)
        args = list(extra_postargs or [])
        self.calls.append((list(sources), args, macros or []))
        gnu = [a for a in args if a.startswith("-")]
        if gnu:
            raise CompileError(f"GNU flags given to MSVC: {gnu}")
        if not self.openmp and any(os.path.basename(s).startswith("omp_test") for s in sources):
            raise CompileError("/openmp:llvm unknown")
        return [os.path.join(output_dir or "", os.path.basename(s) + ".obj") for s in sources]

    def link_executable(self, objects, name, output_dir=None, extra_postargs=None, **kw):
        # The OpenMP test program: a script that exits 0, as the real one does.
        path = self.executable_filename(name, output_dir)
        with open(path, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


def run_msvc_build(tmp_path, monkeypatch, openmp=True, plat_name="win-amd64"):
    """setup.py's LadderBuildExt.build_extensions on the package's real extensions, with the
    stand-in compiler; setuptools' own build_extension (compile the .pyx's C and link) is
    replaced by a record of what it was given. Returns (config, compiler, record)."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("MATMUL_LADDER_CFLAGS", raising=False)
    setup = runpy.run_path(str(ROOT / "setup.py"), run_name="setup_under_test")
    record = []
    monkeypatch.setattr(setuptools_build_ext, "build_extension", lambda self, ext: record.append(
        (ext.name, list(ext.sources), list(ext.extra_compile_args), list(ext.extra_objects))))
    extensions = [setup["c_ladder_extension"](), setup["conv_extension"]()] + [
        setup["cython_rung_extension"](n, p) for n, p in setup["CYTHON_RUNGS"].items()]
    command = setup["LadderBuildExt"](Distribution({"name": "matmul-ladder"}))
    command.initialize_options()
    command.extensions = extensions
    command.compiler = MSVCCompiler(str(tmp_path), openmp=openmp)
    command.build_lib, command.build_temp = str(tmp_path / "lib"), str(tmp_path / "temp")
    command.plat_name = plat_name
    command.build_extensions()
    with open(tmp_path / "lib" / "matmul_ladder" / "_build_config.json") as f:
        return json.load(f), command.compiler, record


def compiles_of(compiler, name):
    """The flags of every compile of csrc/<name> (both dtypes for a rung)."""
    return [args for sources, args, _ in compiler.calls if sources == [f"csrc/{name}"]]


def test_setup_takes_msvc_flags(tmp_path, monkeypatch):
    config, compiler, record = run_msvc_build(tmp_path, monkeypatch)
    c11 = ["/std:c11", "/experimental:c11atomics"]
    assert config["compiler"] == compiler.cc
    assert config["compiler_version"] == BANNER
    assert config["python_cflags"] == " ".join(compiler.compile_options)
    assert config["openmp"] is True and config["openmp_flag"] == "/openmp:llvm"
    assert config["openmp_link"] == ""
    assert config["packed_flags"].split() == c11 + ["/O2", "/openmp:llvm"]
    assert config["plain_flags"].split() == c11 + ["/O2"]
    # the plain rungs with the plain flags, twice (float32, float64: LADDER_DOUBLE)
    naive = compiles_of(compiler, "1_naive.c")
    assert naive == [c11 + ["/O2"]] * 2
    # the files of functions called after the CPU check with their ISA, the rest without
    assert compiles_of(compiler, "ukernel_avx2.c") == [c11 + ["/O2", "/openmp:llvm", "/arch:AVX2"]]
    assert compiles_of(compiler, "ukernel_avx512.c") == [
        c11 + ["/O2", "/openmp:llvm", "/arch:AVX512"]]
    assert all(args[-1] == "/arch:AVX2" for args in compiles_of(compiler, "few_rows.c"))
    assert len(compiles_of(compiler, "few_rows.c")) == 2
    archs = {sources[0] for sources, args, _ in compiler.calls if any("/arch" in a for a in args)}
    assert archs == {"csrc/ukernel_avx2.c", "csrc/ukernel_avx512.c", "csrc/few_rows.c"}
    # every extension built; _ckernels gets its ISA files as objects, not as sources again
    names = [name for name, *_ in record]
    assert names[:2] == ["matmul_ladder._ckernels", "matmul_ladder._cconv"]
    assert len(names) == 2 + len(runpy.run_path(str(ROOT / "setup.py"),
                                                 run_name="setup_under_test")["CYTHON_RUNGS"])
    _, sources, flags, objects = record[0]
    assert "csrc/ukernel_avx2.c" not in sources and "csrc/cpu.c" in sources
    assert "ukernel_avx2.c.obj" in {os.path.basename(o) for o in objects}
    assert all(flags == c11 + ["/O2", "/openmp:llvm"] for _, _, flags, _ in record)


def test_setup_builds_without_openmp_under_msvc(tmp_path, monkeypatch, capsys):
    config, compiler, record = run_msvc_build(tmp_path, monkeypatch, openmp=False)
    assert config["openmp"] is False and config["openmp_flag"] == ""
    assert "OpenMP not found" in capsys.readouterr().out
    rung_flags = [args for sources, args, _ in compiler.calls
                  if not any("omp_test" in s for s in sources)]
    assert rung_flags and not any("/openmp:llvm" in args for args in rung_flags)
    assert len(record) > 2  # and every extension still built


def test_setup_gives_no_x86_arch_on_arm64_windows(tmp_path, monkeypatch):
    _, compiler, _ = run_msvc_build(tmp_path, monkeypatch, plat_name="win-arm64")
    assert not any("/arch" in a for _, args, _ in compiler.calls for a in args)
