"""The command line `matmul-ladder try FILE.c` (also `python -m matmul_ladder.tryout`)."""
import argparse
import sys

from matmul_ladder.tryout import kernel as tryout
from matmul_ladder.tryout.errors import TryoutError, UsageProblem

EXIT_CODES = "exit status: 0 passed and raced, 1 wrong answer, 2 bad usage, 3 compile error, " \
             "4 missing function, 5 crash, 6 timeout"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageProblem(message)


def parser():
    p = _Parser(prog="matmul-ladder try", epilog=EXIT_CODES,
                description="Compile your C matmul with the rungs' compiler and flags, check it "
                            "on the hard shapes, race it against the rungs either side of it "
                            "and NumPy on one thread, and write a report that places it on "
                            "the ladder (docs/try-your-kernel.md).")
    p.add_argument("file", help="the C file, holding NAME_s (float32) and/or NAME_d (float64)")
    p.add_argument("--function", metavar="NAME",
                   help="the functions' name without _s/_d (default: the file's name)")
    p.add_argument("--n", type=int, default=tryout.DEFAULT_N,
                   help=f"the race's n x n x n product (default {tryout.DEFAULT_N})")
    p.add_argument("--dtype", choices=("float32", "float64"),
                   help="the dtype raced (default float32 if you provide it)")
    p.add_argument("--timeout", type=float, default=tryout.DEFAULT_TIMEOUT_S,
                   help=f"seconds one call of your kernel may take (default "
                        f"{tryout.DEFAULT_TIMEOUT_S:g})")
    p.add_argument("--budget", type=float, default=tryout.DEFAULT_BUDGET_S,
                   help=f"seconds for each race (default {tryout.DEFAULT_BUDGET_S:g})")
    p.add_argument("--out", metavar="DIR", help="the report's folder (default results/try-NAME/)")
    return p


def main(argv=None):
    """Returns 0 when the kernel passed and was raced, else the TryoutError's exit code, with
    a one-line message on stderr (the compiler's first error lines after it)."""
    try:
        args = parser().parse_args(argv)
        result = tryout.try_kernel(args.file, function=args.function, n=args.n,
                                   dtype=args.dtype, out=args.out, timeout=args.timeout,
                                   budget=args.budget)
    except TryoutError as exc:
        print(f"matmul-ladder try: {exc}", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print("matmul-ladder try: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a problem of this tool, still told in one line
        print(f"matmul-ladder try: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 70
    race = result.race
    for rung, ratio in race["ratios"].items():
        print(f"t({rung}) / t({race['name']}) = {ratio:.3g}")
    print(result.out_dir)
    return 0
