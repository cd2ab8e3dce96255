"""What can go wrong with a student's kernel: one exception each, with main's exit status."""


class TryoutError(Exception):
    """A problem with the kernel tried, told in a short message; exit_code is main's status."""
    exit_code = 1
    what = "error"

    def __str__(self):
        return f"{self.what}: {self.args[0]}" if self.args else self.what


class WrongAnswer(TryoutError):
    """The kernel's C failed the check (which shape, which entry)."""
    exit_code = 1
    what = "wrong answer"


class UsageProblem(TryoutError):
    """A bad option or a missing file."""
    exit_code = 2
    what = "usage"


class CompileError(TryoutError):
    """The C file did not compile (the compiler's first error lines)."""
    exit_code = 3
    what = "compile error"


class MissingFunction(TryoutError):
    """The library holds none of the functions looked for."""
    exit_code = 4
    what = "missing function"


class KernelCrashed(TryoutError):
    """The child process running the kernel died (a signal, or an exit of its own)."""
    exit_code = 5
    what = "crash"


class KernelTimeout(TryoutError):
    """One call of the kernel ran past its time limit."""
    exit_code = 6
    what = "timeout"
