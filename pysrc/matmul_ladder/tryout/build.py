"""Compiles a student's C file into a shared library with the rungs' compiler and flags."""
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

from matmul_ladder.tryout.errors import CompileError, UsageProblem

COMPILE_TIMEOUT_S = 120
ERROR_LINES = 8  # how many of the compiler's first error lines a message shows


@dataclass(frozen=True)
class Built:
    source: str        # the student's file
    library: str       # the shared library compiled from it
    command: str       # the compiler's command line, as run
    warnings: str      # what the compiler said on a successful build ('' if nothing)


def _build_config():
    from matmul_ladder import api
    return api._read_build_config()  # the flags setup.py recorded (setup.py writes the file)


def compiler_and_flags():
    """(compiler argv, flags): the rungs' compiler and the flags of their C files, OpenMP
    included when the build has it, as build_info() and _build_config.json record them."""
    from matmul_ladder import api
    info, cfg = api.build_info(), _build_config()
    cc = info.get("compiler") or "unknown"
    if cc == "unknown" or not shutil.which(shlex.split(cc)[0]):
        cc = sysconfig.get_config_var("CC") or "cc"
    flags = (info.get("flags") or {}).get("c_ikj", "")
    if not flags:
        flags = f"{cfg.get('python_cflags', '')} {cfg.get('plain_flags', '-O3')}"
    words = shlex.split(flags)
    if cfg.get("openmp", info.get("openmp")):
        omp = cfg.get("openmp_flag", "-fopenmp")
        if omp and omp not in words:
            words.append(omp)
    if "-fPIC" not in words:
        words.append("-fPIC")
    return shlex.split(cc), words


def cache_dir():
    """Where compiled libraries are kept: $MATMUL_LADDER_CACHE/try, else
    $XDG_CACHE_HOME (or ~/.cache)/matmul-ladder/try, else a temporary folder."""
    root = os.environ.get("MATMUL_LADDER_CACHE")
    base = Path(root) if root else Path(os.environ.get("XDG_CACHE_HOME")
                                        or Path.home() / ".cache") / "matmul-ladder"
    folder = base / "try"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".writable"
        probe.touch()
        return folder
    except OSError:
        return Path(tempfile.mkdtemp(prefix="matmul-ladder-try-"))


def first_errors(text, lines=ERROR_LINES):
    """The compiler's first error lines (from the first line that says 'error')."""
    all_lines = [ln for ln in text.splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(all_lines)
                  if re.search(r"(^|:\s*)(fatal )?error:", ln)), 0)
    return "\n".join(all_lines[start:start + lines])


def compile_kernel(path, folder=None):
    """Built for the C file at `path`: a shared library named by a hash of the source and the
    command, so an unchanged file is not compiled twice and a changed one never reuses an old
    library. Raises UsageProblem (no such file) or CompileError (the first error lines)."""
    src = Path(path)
    if not src.is_file():
        raise UsageProblem(f"no such C file: {path}")
    cc, flags = compiler_and_flags()
    source = src.read_bytes()
    key = hashlib.sha256(source + repr((cc, flags)).encode()).hexdigest()[:16]
    folder = Path(folder) if folder else cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    lib = folder / f"lib{_safe(src.stem)}-{key}.so"
    partial = f"{lib}.{os.getpid()}.tmp"  # two runs at once never share a half-written file
    argv = [*cc, *flags, "-shared", "-o", partial, str(src.resolve()), "-lm"]
    command = " ".join(shlex.quote(a) for a in [*argv[:-3], str(lib), *argv[-2:]])
    if lib.is_file():
        return Built(str(src), str(lib), command, "")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    except FileNotFoundError:
        raise CompileError(f"the compiler {cc[0]!r} was not found") from None
    except subprocess.TimeoutExpired:
        raise CompileError(f"the compiler took more than {COMPILE_TIMEOUT_S} s") from None
    if done.returncode != 0:
        said = first_errors(done.stderr or done.stdout)
        raise CompileError(f"{src.name} does not compile ({cc[0]} exit status "
                           f"{done.returncode}):\n{said}")
    os.replace(partial, lib)
    return Built(str(src), str(lib), command, done.stderr.strip())


def _safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "kernel"


_DEFINITION = re.compile(r"^[ \t]*(?:static[ \t]+|inline[ \t]+)*(?:void|int)[ \t*]+(\w+)[ \t]*\(",
                         re.MULTILINE)


def defined_functions(path):
    """Names of the void/int functions the C file appears to define (for a hint)."""
    try:
        return _DEFINITION.findall(Path(path).read_text(errors="replace"))
    except OSError:
        return []
