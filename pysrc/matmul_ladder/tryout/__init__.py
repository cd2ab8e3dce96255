"""Try a student's own C kernel on the ladder: compile, check, race, report (try_kernel, main)."""
from matmul_ladder.tryout.errors import (CompileError, KernelCrashed, KernelTimeout,  # noqa: F401
                                         MissingFunction, TryoutError, UsageProblem, WrongAnswer)
from matmul_ladder.tryout.kernel import (DEFAULT_BUDGET_S, DEFAULT_N, DEFAULT_PROBE_S,  # noqa: F401
                                         DEFAULT_TIMEOUT_S, TryResult, try_kernel)

__all__ = ["try_kernel", "main", "TryResult", "TryoutError", "CompileError", "MissingFunction",
           "WrongAnswer", "KernelCrashed", "KernelTimeout", "UsageProblem"]


def main(argv=None):
    """matmul-ladder try FILE.c [options]: returns the exit status (0 when it passed)."""
    from matmul_ladder.tryout.command import main as _main
    return _main(argv)
