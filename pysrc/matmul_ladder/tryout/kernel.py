"""The steps of try_kernel: compile the student's file, check and race it in a child process,
and write the report."""
import os
import re
from dataclasses import dataclass

from matmul_ladder.tryout.errors import MissingFunction, UsageProblem  # noqa: F401

DEFAULT_N = 512
DEFAULT_TIMEOUT_S = 30.0  # one call of the kernel
DEFAULT_BUDGET_S = 5.0    # each race (bench.race.race's budget)
DEFAULT_PROBE_S = 1.0     # at most: the first timing of each contender, which places the kernel


@dataclass
class TryResult:
    out_dir: str     # where REPORT.md, ladder.png and result.json were written
    check: dict      # {"functions": {dtype: symbol}, "checked": [shape, ...]}
    race: dict       # times, errors, the rungs either side ("below", "above") and the ratios
    library: str     # the shared library compiled from the file


def try_kernel(path, function=None, n=DEFAULT_N, dtype=None, out=None,
               timeout=DEFAULT_TIMEOUT_S, budget=DEFAULT_BUDGET_S, probe=None):
    """Compile the C file at `path`, check `function`_s / `function`_d (default: the file's
    stem) on the hard shapes in a child process, race it there on one thread at n x n x n
    against the rungs either side of it and NumPy, and write the report into `out` (default
    results/try-<function>/). Returns a TryResult; raises a TryoutError subclass (its str is
    a one-line message, the compiler's lines after it for a CompileError). timeout: seconds
    one call may take; budget: seconds each race may take; probe: seconds of the first timing
    of each contender (default: budget / 2, at most 1 s)."""
    from matmul_ladder.tryout import build, report, runner
    function = function or re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    if not re.fullmatch(r"[A-Za-z_]\w*", function):
        raise UsageProblem(f"{function!r} is not a C function name (use --function)")
    probe = min(DEFAULT_PROBE_S, budget / 2) if probe is None else probe
    if n < 1 or timeout <= 0 or budget <= 0 or probe <= 0:
        raise UsageProblem("n, timeout, budget and probe must be positive")
    if dtype not in (None, *runner.DTYPES):
        raise UsageProblem(f"dtype must be float32 or float64, got {dtype!r}")
    built = build.compile_kernel(path)
    try:
        check = runner.run_child("check", built.library, function, dtype=dtype or "float32",
                                 timeout=timeout)
    except MissingFunction:
        seen = build.defined_functions(path)
        hint = f"; the file defines {', '.join(seen)}" if seen else ""
        raise MissingFunction(f"{os.path.basename(path)} defines neither {function}_s (float32) "
                              f"nor {function}_d (float64){hint}; --function NAME looks for "
                              f"NAME_s / NAME_d") from None
    if dtype and dtype not in check["functions"]:
        raise MissingFunction(f"no {dtype} function: found only "
                              f"{', '.join(check['functions'].values())}")
    race_dtype = dtype or ("float32" if "float32" in check["functions"] else "float64")
    race = runner.run_child("race", built.library, function, name=function, dtype=race_dtype,
                            n=n, timeout=timeout, budget=budget, probe=probe)
    out_dir = out or os.path.join("results", f"try-{function}")
    report.write(out_dir, check, race, built)
    return TryResult(out_dir, check, race, built.library)
