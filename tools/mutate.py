#!/usr/bin/env python3
"""Mutation testing of the ladder's rungs: do the correctness checks catch small bugs?

Each mutant in tools/mutants.py is one small change to one source file: a loop bound, an
edge tail, an index, a stride, a packing offset, the OpenMP split, a micro-kernel's
remainder path, a tile offset, a pipeline stage's wait. This tool applies the mutants one at
a time to a copy of the repository (never to the working tree it is run from), rebuilds what
the mutant touches, runs the checks that cover it, and counts the mutant caught if a check
fails, crashes or runs past its time limit ("timeout"), survived if every check passes.

Groups, and the checks of each:
  c       The C matmul and convolution rungs (csrc/, csrc/conv/): the C driver
          tests/aarch64/ladder_check.c, built natively with the sources and flags of
          tests/aarch64/run.sh (per mutant only the objects that depend on the mutated file
          are recompiled), run once. Natively on x86-64 it checks every micro-kernel ISA the
          CPU runs (AVX-512, then AVX2), c_strassen, extreme blockings and the blocking model.
  cython  The Cython rungs and bindings (pyx/): the copy is built in place once
          (setup.py build_ext --inplace); per mutant the same build reruns, which rebuilds
          only the extensions whose sources changed, and then the pytest files that cover
          the mutated file, with the copy's package first on PYTHONPATH (checked).
  cuda    The CUDA rungs (csrc/cuda/, compiled at run time by CuPy): per mutant
          tests/test_gpu.py (tests/test_conv.py's GPU test for csrc/cuda/conv/), narrowed
          with -k to the rungs that include the file, against the copy, with CUPY_CACHE_DIR
          a fresh directory (CuPy's cache does not key on included headers). Needs a CUDA
          GPU, CuPy, and the package's compiled extensions: copied from the installed
          matmul_ladder, or built in the copy with --build.

Before any mutant the unmutated copy must pass every check its group will run, or the run
stops. A mutant whose snippet does not occur exactly once in its file is refused, and with
it the whole run, so that the list cannot silently rot. A mutant that fails to build is
listed apart and counted neither way. A mutant marked `equivalent` in mutants.py (it cannot
change a result) that survives is listed apart too, with the reason.

Usage (from the repository root):
  python3 tools/mutate.py --list                          # every mutant; verifies snippets
  python3 tools/mutate.py --dry-run --group all           # verifies, prints what would run
  python3 tools/mutate.py --group c --out results/mutation
  python3 tools/mutate.py --group c --group cython --out results/mutation
  python3 tools/mutate.py --group cuda --out results/mutation-gpu --budget 3600
Options: --only ID (repeatable), --worktree (copy the working tree, tracked and untracked
files that git does not ignore, instead of HEAD), --timeout S (per check; default 5x the
unmutated run, at least 60 s), --budget S (wall clock for the whole run; mutants left are
reported "not run"), --build (cuda: build the copy instead of copying the installed
extensions), --no-filter (cuda: the whole test file for every mutant), --keep (leave the copy).
Writes <out>/REPORT.md, <out>/REPORT.csv and <out>/logs/<id>.log, updated after every
mutant. Standard library only.
"""
import argparse
import csv
import datetime
import importlib.util
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GROUPS = ("c", "cython", "cuda")
CAUGHT = ("caught", "timeout", "crashed")
TIMEOUT_FACTOR, TIMEOUT_FLOOR = 5, 60
BUILD_TIMEOUT = 1800


class Abort(Exception):
    """The run cannot go on (a refused mutant, an unmutated copy that fails, no GPU)."""


def group_of(path):
    if path.startswith("csrc/cuda/"):
        return "cuda"
    if path.startswith("pyx/"):
        return "cython"
    if path.startswith("csrc/"):
        return "c"
    return None


def load_mutants():
    spec = importlib.util.spec_from_file_location("ladder_mutants", ROOT / "tools" / "mutants.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [dict(m, group=group_of(m["file"])) for m in module.MUTANTS]


# ---- the source: HEAD or the working tree -------------------------------------------------
def git(*args, **kwargs):
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True,
                          **kwargs).stdout


def source_reader(worktree):
    """path -> text of that file in HEAD (or the working tree), None if absent."""
    def read(path):
        if worktree:
            p = ROOT / path
            return p.read_text() if p.is_file() else None
        try:
            return git("show", f"HEAD:{path}").decode()
        except subprocess.CalledProcessError:
            return None
    return read


def occurrences(text, snippet):
    """How many times snippet starts in text, overlapping ones included."""
    count, at = 0, text.find(snippet)
    while snippet and at >= 0:
        count, at = count + 1, text.find(snippet, at + 1)
    return count


def validate(mutants, read):
    """Problems with the mutants, as sentences; [] if every one is usable."""
    problems, seen, texts = [], set(), {}
    for m in mutants:
        where = f"{m.get('id', '?')} ({m.get('file', '?')})"
        missing = [k for k in ("id", "file", "find", "replace", "what") if not isinstance(m.get(k), str)]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        if m["id"] in seen:
            problems.append(f"{where}: id used twice")
        seen.add(m["id"])
        if m["group"] is None:
            problems.append(f"{where}: not under csrc/ or pyx/, so in no group")
        if m["find"] == m["replace"]:
            problems.append(f"{where}: the replacement is the snippet itself")
        if m["file"] not in texts:
            texts[m["file"]] = read(m["file"])
        text = texts[m["file"]]
        if text is None:
            problems.append(f"{where}: no such file")
            continue
        count = occurrences(text, m["find"])
        if count != 1:
            problems.append(f"{where}: snippet found {count} times, not once: {m['find']!r}")
    return problems


def make_copy(dest, worktree):
    """The repository's files (HEAD, or the working tree's) under dest."""
    if worktree:
        names = git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split(b"\0")
        for name in filter(None, (n.decode() for n in names)):
            src = ROOT / name
            if src.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / name)
        return
    proc = subprocess.Popen(["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD"],
                            stdout=subprocess.PIPE)
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)
    if proc.wait() != 0:
        raise Abort("git archive HEAD failed")


# ---- running a command with a time limit ---------------------------------------------------
class Outcome:
    def __init__(self, rc, seconds, output, timed_out):
        self.rc, self.seconds, self.output, self.timed_out = rc, seconds, output, timed_out


def run(argv, cwd, log, env=None, timeout=None):
    """Runs argv in its own process group; past `timeout` the whole group is killed."""
    start = time.monotonic()
    with open(log, "a") as f:
        f.write(f"\n$ (cd {cwd} && {shlex.join(str(a) for a in argv)})\n")
    proc = subprocess.Popen([str(a) for a in argv], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    text = out.decode(errors="replace")
    seconds = time.monotonic() - start
    with open(log, "a") as f:
        f.write(text)
        f.write(f"[exit {proc.returncode}{', killed at the time limit' if timed_out else ''}, "
                f"{seconds:.1f} s]\n")
    return Outcome(proc.returncode, seconds, text, timed_out)


class Check:
    """One command whose success means 'the code is right'."""

    def __init__(self, label, argv, kind):
        self.label, self.argv, self.kind = label, argv, kind   # kind: "driver" or "pytest"

    def key(self):
        return self.label   # the same check of every mutant (the driver's path changes)

    def passed(self, outcome):
        """(passed, detail): the first failure's line, or how many checks ran."""
        lines = outcome.output.splitlines()
        if self.kind == "driver":
            fail = next((l for l in lines if l.startswith("FAIL")), None)
            summary = next((l for l in reversed(lines) if " checks, " in l), "")
            ok = outcome.rc == 0 and " 0 failures" in summary
            return ok, fail or summary or (lines[-1] if lines else "")
        fail = next((l for l in lines if l.startswith(("FAILED ", "ERROR "))), None)
        summary = next((l for l in reversed(lines) if re.search(r"\d+ (passed|failed|error)", l)), "")
        return outcome.rc == 0, fail or summary.strip("= ") or (lines[-1] if lines else "")

    @staticmethod
    def count_passed(outcome):
        found = re.findall(r"(\d+) passed", outcome.output)
        return int(found[-1]) if found else 0


# ---- group runners -----------------------------------------------------------------------
class CRunner:
    """The C driver, built as tests/aarch64/run.sh builds it, natively."""
    SHARED = ["cpu", "blocking", "scratch", "ukernel_avx2", "ukernel_avx512", "ukernel_neon",
              "fma_peak", "stream"]
    RUNGS = ["1_naive", "2_ikj", "3_blocked", "4_simd", "5_omp", "6_strassen", "few_rows"]
    CONV = ["1_naive", "2_rows", "3_fixed", "4_simd", "5_omp", "6_strips", "simd_rows"]
    DRIVER = "tests/aarch64/ladder_check.c"

    def __init__(self, copy, work, log):
        self.copy, self.work, self.log = copy, work / "c", log
        self.cc = os.environ.get("CC", "gcc")
        # run.sh's flags but -Werror (a mutant that only warns is still a program to test);
        # linked dynamically (run.sh links statically for qemu-user)
        self.flags = ["-O3", "-fopenmp", "-Wall", "-Wextra", f"-I{copy / 'csrc'}"]
        self.objects = []   # (name, source, extra flags)
        for f in self.SHARED:
            self.objects.append((f, f"csrc/{f}.c", []))
        for rung in self.RUNGS:
            self.objects += [(f"{rung}_s", f"csrc/{rung}.c", []),
                             (f"{rung}_d", f"csrc/{rung}.c", ["-DLADDER_DOUBLE"])]
        for rung in self.CONV:
            self.objects += [(f"conv_{rung}_s", f"csrc/conv/{rung}.c", []),
                             (f"conv_{rung}_d", f"csrc/conv/{rung}.c", ["-DLADDER_DOUBLE"])]
        self.objects.append(("ladder_check", self.DRIVER, []))
        self.deps = {}

    def describe(self):
        return (f"C driver {self.DRIVER} ({self.cc} {' '.join(self.flags[:-1])}), "
                "the objects that depend on the mutated file recompiled")

    def check_run_sh(self):
        """The sources here must be those run.sh compiles (the same three loops)."""
        loops = re.findall(r"^for \w+ in ([^;]+); do$", (self.copy / "tests/aarch64/run.sh").read_text(),
                           re.M)
        want = [self.SHARED, self.RUNGS, self.CONV]
        if [l.split() for l in loops] != want:
            raise Abort(f"tests/aarch64/run.sh compiles {loops}, tools/mutate.py {want}: "
                        "update CRunner's lists")

    def compile(self, name, source, extra, out_dir, log):
        obj = out_dir / f"{name}.o"
        return run([self.cc, *self.flags, *extra, "-c", self.copy / source, "-o", obj],
                   self.copy, log, timeout=BUILD_TIMEOUT), obj

    def link(self, objects, out_dir, log):
        exe = out_dir / "ladder_check"
        return run([self.cc, *self.flags, *objects, "-lm", "-o", exe], self.copy, log,
                   timeout=BUILD_TIMEOUT), exe

    def prepare(self):
        self.check_run_sh()
        base = self.work / "base"
        base.mkdir(parents=True, exist_ok=True)
        log = self.log / "_c_baseline_build.log"
        self.base_objects = {}
        for name, source, extra in self.objects:
            outcome, obj = self.compile(name, source, extra, base, log)
            if outcome.rc != 0:
                raise Abort(f"the unmutated {source} does not compile: see {log}")
            self.base_objects[name] = obj
            rule = subprocess.run([self.cc, *self.flags, *extra, "-MM", self.copy / source],
                                  capture_output=True, text=True, check=True).stdout
            paths = rule.replace("\\\n", " ").split(":", 1)[1].split()
            self.deps[name] = {os.path.relpath(os.path.realpath(p), os.path.realpath(self.copy))
                               for p in paths}
        outcome, self.base_exe = self.link(list(self.base_objects.values()), base, log)
        if outcome.rc != 0:
            raise Abort(f"the unmutated driver does not link: see {log}")
        self.exe = self.base_exe

    def checks_for(self, mutant):
        return [Check("ladder_check", [self.exe], "driver")]

    def plan(self, mutant):
        return (f"recompile the driver's objects that depend on {mutant['file']}, link, run "
                "ladder_check")

    def env(self, mutant):
        return None

    def rebuild(self, mutant, log):
        """Recompiles the objects that depend on the mutant's file; (ok, seconds)."""
        out = self.work / "mutant"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        start, objects = time.monotonic(), []
        touched = [name for name, *_ in self.objects if mutant["file"] in self.deps[name]]
        with open(log, "a") as f:
            f.write(f"objects that depend on {mutant['file']}: {', '.join(touched) or 'none'}\n")
        for name, source, extra in self.objects:
            if name in touched:
                outcome, obj = self.compile(name, source, extra, out, log)
                if outcome.rc != 0:
                    return False, time.monotonic() - start
                objects.append(obj)
            else:
                objects.append(self.base_objects[name])
        outcome, self.exe = self.link(objects, out, log)
        return outcome.rc == 0, time.monotonic() - start

    def restore(self, mutant):
        self.exe = self.base_exe


def python_env(copy, extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(copy / "pysrc") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONSAFEPATH", None)
    env.update(extra or {})
    return env


def pytest_check(label, args):
    return Check(label, [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *args],
                 "pytest")


C_RUNGS_K = "c_naive or c_ikj or c_blocked or c_simd or c_omp or c_strassen"
CYTHON_TESTS = {   # file -> pytest arguments of each check that covers it
    "pyx/1_cy_naive.pyx": [["tests/test_correctness.py", "-k", "cy_naive"]],
    "pyx/2_cy_ikj.pyx": [["tests/test_correctness.py", "-k", "cy_ikj"]],
    "pyx/3_cy_blocked.pyx": [["tests/test_correctness.py", "-k", "cy_blocked"]],
    "pyx/4_cy_prange.pyx": [["tests/test_correctness.py", "-k", "cy_prange"]],
    "pyx/_tiles.pxd": [["tests/test_correctness.py", "-k", "cy_blocked or cy_prange"]],
    "pyx/conv/1_cy_naive.pyx": [["tests/test_conv.py", "-k", "conv_cy_naive"]],
    "pyx/conv/2_cy_rows.pyx": [["tests/test_conv.py", "-k", "conv_cy_rows"]],
    "pyx/conv/3_cy_prange.pyx": [["tests/test_conv.py", "-k", "conv_cy_prange"]],
    "pyx/_strides.pxd": [["tests/test_correctness.py", "-k", C_RUNGS_K],
                         ["tests/test_conv.py", "-k", "conv_c_"], ["tests/test_errors.py"]],
    "pyx/_ckernels.pyx": [["tests/test_correctness.py", "-k", C_RUNGS_K], ["tests/test_strassen.py"],
                          ["tests/test_blocking_model.py"], ["tests/test_errors.py"]],
    "pyx/_cconv.pyx": [["tests/test_conv.py", "-k", "conv_c_"]],
}


class InPlaceBuild:
    """A copy built with setup.py build_ext --inplace, whose built files can be put back."""

    def build(self, log):
        return run([sys.executable, "setup.py", "build_ext", "--inplace"], self.copy, log,
                   timeout=BUILD_TIMEOUT)

    def built_files(self):
        pkg = self.copy / "pysrc" / "matmul_ladder"
        return ([p for p in (self.copy / "pyx").rglob("*.c")] +
                [p for p in pkg.iterdir() if p.suffix in (".so", ".pyd")] +
                [p for p in [pkg / "_build_config.json"] if p.exists()])

    def keep_built(self):
        self.backup = self.work / "built"
        for p in self.built_files():
            dest = self.backup / p.relative_to(self.copy)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, dest)

    def put_back_built(self):
        for p in self.backup.rglob("*"):
            if p.is_file():
                shutil.copy2(p, self.copy / p.relative_to(self.backup))

    def check_imports_copy(self, module="matmul_ladder._ckernels"):
        code = ("import matmul_ladder, importlib; "
                f"print(matmul_ladder.__file__); print(importlib.import_module({module!r}).__file__)")
        out = subprocess.run([sys.executable, "-c", code], cwd=self.copy, env=python_env(self.copy),
                             capture_output=True, text=True)
        paths = out.stdout.split()
        inside = len(paths) == 2 and all(os.path.realpath(p).startswith(os.path.realpath(self.copy))
                                         for p in paths)
        if not inside:
            raise Abort(f"with PYTHONPATH={self.copy / 'pysrc'} python imports {paths or out.stderr}, "
                        "not the copy's package")
        return paths


class CythonRunner(InPlaceBuild):
    def __init__(self, copy, work, log):
        self.copy, self.work, self.log = copy, work / "cython", log

    def describe(self):
        return ("setup.py build_ext --inplace in the copy (only out-of-date extensions rebuilt), "
                "then pytest on the files that cover the mutated file, PYTHONPATH=<copy>/pysrc")

    def prepare(self):
        log = self.log / "_cython_baseline_build.log"
        if self.build(log).rc != 0:
            raise Abort(f"the unmutated copy does not build: see {log}")
        self.check_imports_copy()
        self.keep_built()

    def checks_for(self, mutant):
        args = CYTHON_TESTS.get(mutant["file"])
        if args is None:
            raise Abort(f"{mutant['id']}: no tests listed for {mutant['file']} (CYTHON_TESTS)")
        return [pytest_check(" ".join(a), a) for a in args]

    def plan(self, mutant):
        return "setup.py build_ext --inplace; " + "; ".join(
            "pytest " + shlex.join(c.argv[3:]) for c in self.checks_for(mutant))

    def env(self, mutant):
        return python_env(self.copy)

    def rebuild(self, mutant, log):
        outcome = self.build(log)
        return outcome.rc == 0, outcome.seconds

    def restore(self, mutant):
        self.put_back_built()


class CudaRunner(InPlaceBuild):
    MATMUL_K = {"edges.cuh": "cuda_vec or cuda_warptile",
                "mma_pipeline.cuh": "cuda_tf32_mma or cuda_3xtf32 or 3xtf32_meets",
                "8_tf32_mma.cu": "cuda_tf32_mma or 3xtf32_meets",
                "9_3xtf32.cu": "cuda_3xtf32 or 3xtf32_meets",
                "wgmma.cuh": "wgmma or persistent",
                "tf32.cuh": "tf32_wgmma or tf32_persistent",
                "14_3xtf32_wgmma.cu": "3xtf32_wgmma"}

    def __init__(self, copy, work, log, build=False, filter_tests=True):
        self.copy, self.work, self.log = copy, work / "cuda", log
        self.build_copy, self.filter_tests = build, filter_tests
        self.caches = []

    def describe(self):
        return ("pytest tests/test_gpu.py (tests/test_conv.py -k test_gpu_kernels for conv/) "
                f"-x -q{' -k <the rungs that include the file>' if self.filter_tests else ''}, "
                "PYTHONPATH=<copy>/pysrc, a fresh CUPY_CACHE_DIR per run")

    def installed_package_dir(self):
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        out = subprocess.run([sys.executable, "-c", "import matmul_ladder, os; "
                              "print(os.path.dirname(matmul_ladder.__file__))"],
                             cwd="/", env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise Abort("matmul_ladder is not installed here; install it (pip install -e .) "
                        "or pass --build")
        return Path(out.stdout.strip())

    def prepare(self):
        pkg = self.copy / "pysrc" / "matmul_ladder"
        if self.build_copy:
            log = self.log / "_cuda_baseline_build.log"
            if self.build(log).rc != 0:
                raise Abort(f"the unmutated copy does not build: see {log}")
        else:
            installed = self.installed_package_dir()
            for p in installed.iterdir():
                if p.suffix in (".so", ".pyd") or p.name == "_build_config.json":
                    if not (pkg / p.name).exists():
                        shutil.copy2(p, pkg / p.name)
        self.check_imports_copy()
        code = ("import cupy, matmul_ladder.rungs.cuda as c; n = cupy.cuda.runtime.getDeviceCount(); "
                "print(c.source_dir()); print(n)")
        out = subprocess.run([sys.executable, "-c", code], cwd=self.copy, env=python_env(self.copy),
                             capture_output=True, text=True)
        lines = out.stdout.split()
        if out.returncode != 0 or len(lines) != 2 or int(lines[1]) < 1:
            raise Abort(f"no CUDA GPU or CuPy here: {out.stderr.strip()[-500:] or out.stdout}")
        if not os.path.realpath(lines[0]).startswith(os.path.realpath(self.copy)):
            raise Abort(f"the CUDA sources come from {lines[0]}, not the copy")

    def checks_for(self, mutant):
        name = Path(mutant["file"]).name
        if mutant["file"].startswith("csrc/cuda/conv/"):
            rung = "conv_cuda_" + re.sub(r"^\d+_", "", name[:-3])
            args = ["tests/test_conv.py", "-k", f"test_gpu_kernels and {rung}" if self.filter_tests
                    else "test_gpu_kernels"]
        else:
            k = self.MATMUL_K.get(name) or "cuda_" + re.sub(r"^\d+_", "", name[:-3])
            args = ["tests/test_gpu.py"] + (["-k", k] if self.filter_tests else [])
        return [pytest_check(" ".join(args), args)]

    def plan(self, mutant):
        return "; ".join("CUPY_CACHE_DIR=<fresh> pytest " + shlex.join(c.argv[3:])
                         for c in self.checks_for(mutant))

    def env(self, mutant):
        cache = self.work / f"cupy-cache-{mutant['id'] if mutant else 'baseline'}-{time.monotonic_ns()}"
        cache.mkdir(parents=True)
        self.caches.append(cache)
        return python_env(self.copy, {"CUPY_CACHE_DIR": str(cache)})

    def rebuild(self, mutant, log):
        return True, 0.0   # CuPy compiles the sources when the tests run

    def restore(self, mutant):
        for cache in self.caches:
            shutil.rmtree(cache, ignore_errors=True)
        self.caches = []


# ---- the run -------------------------------------------------------------------------------
def apply(copy, mutant):
    """Writes the mutant into the copy; returns (path, original text, original stat)."""
    path = copy / mutant["file"]
    text = path.read_text()
    if occurrences(text, mutant["find"]) != 1:
        raise Abort(f"{mutant['id']}: snippet found {occurrences(text, mutant['find'])} times in "
                    "the copy")
    stat = path.stat()
    path.write_text(text.replace(mutant["find"], mutant["replace"]))
    return path, text, stat


def unapply(path, text, stat):
    path.write_text(text)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def machine_facts():
    cpu = platform.processor() or platform.machine()
    try:
        info = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
        flags = set(info.get("flags", "").split())
        cpu = (f"{info.get('model name', cpu)} (family {info.get('cpu family', '?')}, model "
               f"{info.get('model', '?')}; " +
               ", ".join(f for f in ("avx2", "fma", "avx512f") if f in flags) + ")")
    except OSError:
        pass
    facts = {"cpu": cpu, "logical CPUs": os.cpu_count(), "system": platform.platform(),
             "python": platform.python_version()}
    try:
        facts["compiler"] = subprocess.run([os.environ.get("CC", "gcc"), "--version"],
                                           capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        pass
    return facts


def write_reports(out, results, meta):
    fields = ["id", "group", "file", "status", "what", "detail", "build_s", "check_s", "find",
              "replace", "equivalent"]
    with open(out / "REPORT.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in results:
            w.writerow({**r, "build_s": f"{r.get('build_s', 0):.1f}", "check_s": f"{r.get('check_s', 0):.1f}"})
    lines = ["# Mutation run of the rungs", "",
             "Small source changes (tools/mutants.py), one at a time, each applied to a copy of "
             "the repository, rebuilt and checked by tools/mutate.py. A mutant is caught if a "
             "check fails, crashes or runs past its time limit.", "",
             f"- date: {meta['date']}", f"- command: `{meta['command']}`",
             f"- source: {meta['source']}"]
    lines += [f"- {k}: {v}" for k, v in meta["machine"].items()]
    for g, desc in meta["checks"].items():
        lines.append(f"- checks, {g}: {desc}")
    lines += [f"- per-check time limit: {meta['timeouts']}", f"- wall time: {meta['wall']}", "",
              "## Score", "",
              "| group | mutants | caught (failed / timeout / crashed) | survived | equivalent "
              "| build errors | not run | caught share |",
              "|---|---|---|---|---|---|---|---|"]
    for g in meta["groups"] + ["total"]:
        rs = results if g == "total" else [r for r in results if r["group"] == g]
        c = {s: sum(r["status"] == s for r in rs) for s in
             ("caught", "timeout", "crashed", "survived", "equivalent", "build-error", "not run")}
        caught = c["caught"] + c["timeout"] + c["crashed"]
        scored = caught + c["survived"]
        share = f"{100 * caught / scored:.1f}% ({caught}/{scored})" if scored else "-"
        label = "**total**" if g == "total" else g
        lines.append(f"| {label} | {len(rs)} | {caught} ({c['caught']} / {c['timeout']} / "
                     f"{c['crashed']}) | {c['survived']} | {c['equivalent']} | {c['build-error']} "
                     f"| {c['not run']} | {share} |")
    lines += ["", "The share is caught / (caught + survived): mutants that are equivalent (they "
              "cannot change a result), failed to build, or were not run count neither way.", ""]

    def listing(title, status, explain):
        rs = [r for r in results if r["status"] == status]
        if not rs:
            return []
        body = [f"## {title}", ""]
        for r in rs:
            body.append(f"- **{r['id']}** ({r['file']}): {r['what']}. `{one_line(r['find'])}` "
                        f"-> `{one_line(r['replace'])}`" + (f". {explain(r)}" if explain(r) else ""))
        return body + [""]
    lines += listing("Survivors", "survived", lambda r: "")
    lines += listing("Equivalent mutants (survived, cannot change a result)", "equivalent",
                     lambda r: r["equivalent"])
    lines += listing("Mutants that did not build", "build-error", lambda r: r["detail"])
    lines += listing("Not run", "not run", lambda r: r["detail"])
    lines += ["## Every mutant", "", "| id | file | status | build s | check s | what | first failure |",
              "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['id']} | {r['file']} | {r['status']} | {r.get('build_s', 0):.1f} | "
                     f"{r.get('check_s', 0):.1f} | {r['what']} | {one_line(r['detail'])[:160]} |")
    (out / "REPORT.md").write_text("\n".join(lines) + "\n")


def one_line(s):
    return " ".join(s.split()).replace("|", "\\|").replace("`", "'")


def make_runner(group, copy, work, logs, args):
    if group == "c":
        return CRunner(copy, work, logs)
    if group == "cython":
        return CythonRunner(copy, work, logs)
    return CudaRunner(copy, work, logs, args.build, not args.no_filter)


def run_groups(args, mutants, out):
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    groups = [g for g in GROUPS if g in args.group]
    started = time.monotonic()
    deadline = started + args.budget if args.budget else None
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python3 " + shlex.join(["tools/mutate.py", *args.argv]),
            "machine": machine_facts(), "groups": groups, "checks": {}, "timeouts": "",
            "wall": ""}
    head = git("rev-parse", "HEAD").decode().strip()
    subject = git("log", "-1", "--format=%s", "HEAD").decode().strip()
    meta["source"] = (f"working tree on top of {head[:12]}" if args.worktree else
                      f"HEAD {head[:12]} ({subject[:80]})")
    results, limits = [], []
    tmp = Path(tempfile.mkdtemp(prefix="matmul-ladder-mutate-"))
    copy, work = tmp / "repo", tmp / "work"
    copy.mkdir()
    work.mkdir()
    print(f"copy of the repository: {copy}")
    try:
        make_copy(copy, args.worktree)
        for g in groups:
            todo = [m for m in mutants if m["group"] == g]
            if not todo:
                continue
            runner = make_runner(g, copy, work, logs, args)
            meta["checks"][g] = runner.describe()
            print(f"[{g}] building the unmutated copy ...", flush=True)
            runner.prepare()
            # the unmutated copy must pass every check this group will run; a check that runs
            # no test here (a GPU test skipped on this GPU) leaves its mutants not run
            timeouts, idle = {}, {}
            for check in {c.key(): c for m in todo for c in runner.checks_for(m)}.values():
                log = logs / f"_{g}_baseline.log"
                outcome = run(check.argv, copy, log, env=runner.env(None),
                              timeout=args.timeout or BUILD_TIMEOUT)
                ok, detail = check.passed(outcome)
                runner.restore(None)
                if not ok:
                    raise Abort(f"[{g}] the unmutated copy fails {check.label}: {detail} (see {log})")
                if check.kind == "pytest" and Check.count_passed(outcome) == 0:
                    idle[check.key()] = f"{check.label} runs no test here ({detail})"
                    print(f"[{g}] unmutated: {idle[check.key()]}: its mutants are not run", flush=True)
                    continue
                timeouts[check.key()] = args.timeout or max(TIMEOUT_FLOOR, TIMEOUT_FACTOR * outcome.seconds)
                print(f"[{g}] unmutated: {check.label}: passed in {outcome.seconds:.1f} s ({detail})",
                      flush=True)
            if timeouts:
                low, high = min(timeouts.values()), max(timeouts.values())
                limits.append(f"{g} {low:.0f} s" if high - low < 1 else f"{g} {low:.0f}-{high:.0f} s")
            meta["timeouts"] = "; ".join(limits)
            for i, m in enumerate(todo, 1):
                r = {**m, "status": "", "detail": "", "build_s": 0.0, "check_s": 0.0}
                results.append(r)
                if deadline and time.monotonic() > deadline:
                    r.update(status="not run", detail="the --budget was spent")
                    continue
                skipped = [idle[c.key()] for c in runner.checks_for(m) if c.key() in idle]
                if skipped:
                    r.update(status="not run", detail="; ".join(skipped))
                    continue
                log = logs / f"{m['id']}.log"
                log.write_text(f"{m['id']}: {m['what']}\n{m['file']}: {m['find']!r} -> {m['replace']!r}\n")
                path, text, stat = apply(copy, m)
                try:
                    built, r["build_s"] = runner.rebuild(m, log)
                    if not built:
                        r.update(status="build-error", detail=f"see logs/{log.name}")
                    else:
                        r["status"] = "survived"
                        for check in runner.checks_for(m):
                            outcome = run(check.argv, copy, log, env=runner.env(m),
                                          timeout=timeouts[check.key()])
                            r["check_s"] += outcome.seconds
                            ok, detail = check.passed(outcome)
                            if outcome.timed_out:
                                r.update(status="timeout", detail=f"{check.label}: past {timeouts[check.key()]:.0f} s")
                            elif outcome.rc < 0:
                                r.update(status="crashed", detail=f"{check.label}: signal {-outcome.rc}; {detail}")
                            elif not ok:
                                r.update(status="caught", detail=f"{check.label}: {detail}")
                            if r["status"] != "survived":
                                break
                        if r["status"] == "survived" and m.get("equivalent"):
                            r["status"] = "equivalent"
                finally:
                    unapply(path, text, stat)
                    runner.restore(m)
                print(f"[{g}] {i}/{len(todo)} {m['id']}: {r['status']}"
                      + (f" ({one_line(r['detail'])[:100]})" if r["status"] != "survived" else ""),
                      flush=True)
                meta["wall"] = f"{time.monotonic() - started:.0f} s"
                write_reports(out, results, meta)
        meta["wall"] = f"{time.monotonic() - started:.0f} s"
        write_reports(out, results, meta)
    finally:
        if args.keep:
            print(f"kept the copy: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", action="append", choices=GROUPS + ("all",),
                        help="c, cython, cuda or all (repeatable; default: c and cython)")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "mutation")
    parser.add_argument("--list", action="store_true", help="list the mutants, verify the snippets")
    parser.add_argument("--dry-run", action="store_true", help="verify, print the plan, build nothing")
    parser.add_argument("--only", action="append", metavar="ID", help="only these mutants")
    parser.add_argument("--worktree", action="store_true", help="copy the working tree, not HEAD")
    parser.add_argument("--timeout", type=float, help="seconds per check (default: 5x unmutated, >= 60)")
    parser.add_argument("--budget", type=float, help="wall-clock seconds for the whole run")
    parser.add_argument("--build", action="store_true", help="cuda: build the copy in place")
    parser.add_argument("--no-filter", action="store_true", help="cuda: no -k, the whole test file")
    parser.add_argument("--keep", action="store_true", help="leave the copy in the temp directory")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    groups = args.group or (list(GROUPS) if args.list or args.dry_run else ["c", "cython"])
    args.group = list(GROUPS) if "all" in groups else groups

    mutants = load_mutants()
    problems = validate(mutants, source_reader(args.worktree))   # every group, always
    if args.only:
        unknown = set(args.only) - {m["id"] for m in mutants}
        if unknown:
            problems.append(f"--only: no mutant {', '.join(sorted(unknown))}")
        mutants = [m for m in mutants if m["id"] in args.only]
    selected = [m for m in mutants if m["group"] in args.group]
    where = "the working tree" if args.worktree else "HEAD"
    if args.list or args.dry_run:
        runners = {g: make_runner(g, ROOT, ROOT, None, args) for g in GROUPS}
        for m in selected:
            print(f"{m['id']:36} {m['group']:7} {m['file']:30} {m['what']}")
            if args.dry_run:
                print(f"{'':4}{one_line(m['find'])}  ->  {one_line(m['replace'])}")
                print(f"{'':4}then: {runners[m['group']].plan(m)}")
        counts = ", ".join(f"{g} {sum(m['group'] == g for m in selected)}" for g in args.group)
        print(f"{len(selected)} mutants ({counts})")
    if problems:
        print("refused:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    if args.list or args.dry_run:
        print(f"every snippet of every mutant occurs exactly once in its file in {where}")
        return 0
    out = args.out if args.out.is_absolute() else Path.cwd() / args.out
    out.mkdir(parents=True, exist_ok=True)
    try:
        results = run_groups(args, selected, out)
    except Abort as e:
        print(f"stopped: {e}", file=sys.stderr)
        return 1
    caught = sum(r["status"] in CAUGHT for r in results)
    scored = caught + sum(r["status"] == "survived" for r in results)
    print(f"caught {caught} of {scored} ({100 * caught / max(scored, 1):.1f}%); "
          f"report: {out / 'REPORT.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
