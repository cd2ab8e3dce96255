"""The subcommands of matmul-ladder: what each does, and the dispatch to its own main."""
import argparse
import contextlib
import importlib
import importlib.util
import sys

from matmul_ladder.cli import hints

# name -> one line for `matmul-ladder --help`; `try` joins them where matmul_ladder.tryout is
COMMANDS = {
    "ladder": "time every matmul kernel against the baselines (the default command)",
    "conv": "the 3x3 convolution ladder",
    "tune": "search block sizes and the Strassen cutoff for this CPU, and keep them",
    "why": "explain the gap: each rung's speed-up attributed to a cause, verified",
    "dist": "one distributed SUMMA product (under mpiexec -n P, or torchrun)",
    "list": "the kernels: name, language, rung, parallel, available here, description",
}
TRY = ("try", "compile your own C kernel, check it and race it against the rungs beside it")


def has_tryout():
    try:
        return importlib.util.find_spec("matmul_ladder.tryout") is not None
    except (ImportError, ValueError):
        return False


def commands():
    """{name: description} of the subcommands this installation has."""
    return {**COMMANDS, **dict([TRY] if has_tryout() else [])}


def epilog(prog):
    names = commands()
    width = max(map(len, names))
    return "\n".join([f"commands ({prog} COMMAND --help for each one's options):"] +
                     [f"  {name:<{width}}  {text}" for name, text in names.items()] +
                     [f"\nWith no command, {prog} [options] is {prog} ladder [options]."])


def unknown_command(word, prog):
    """The one-line error for a first word that is no subcommand."""
    names = commands()
    hint = hints.did_you_mean(word, names)
    if not hint and word.endswith(".c") and "try" in names:
        hint = f" (to race your own kernel: {prog} try {word})"
    return f"unknown command {word!r}{hint}; commands: {', '.join(names)}"


def _conv(argv, prog):
    from matmul_ladder.cli import conv
    from matmul_ladder.cli.args import UsageError
    try:  # conv's own checks; where they pass, the hints conv does not give
        args = conv.build_parser(f"{prog} conv").parse_args(argv)
        conv.check_args(args)
    except (UsageError, SystemExit):
        return conv.main(argv)   # it says what is wrong in its own words (or prints --help)
    hints.warn_threads(f"{prog} conv", args.threads)
    return conv.main(argv)


def _conv_kernel_hint(argv, prog):
    """The did-you-mean line for --kernels of conv, or ''."""
    names = []
    for i, a in enumerate(argv):
        if a == "--kernels" and i + 1 < len(argv):
            names += argv[i + 1].split(",")
        elif a.startswith("--kernels="):
            names += a.partition("=")[2].split(",")
    bad = hints.unknown_kernels([n.strip() for n in names if n.strip()], "conv2d")
    return f"{prog} conv: error: --kernels: unknown conv kernel {bad} (see {prog} list --operation conv2d)" if bad else ""


def _tune(argv, prog):
    from matmul_ladder.cli.tune import tune_main
    return tune_main(argv)


@contextlib.contextmanager
def one_line_errors(prefix):
    """While a module's own argparse parser runs, its usage errors are one line on stderr
    (exit status 2), as the rest of matmul-ladder's are, instead of the usage text and then
    the error."""
    previous = argparse.ArgumentParser.error

    def error(parser, message):
        print(f"{prefix}: error: {message} (see {prefix} --help)", file=sys.stderr)
        sys.exit(2)
    argparse.ArgumentParser.error = error
    try:
        yield
    finally:
        argparse.ArgumentParser.error = previous


def _exit_status(f, argv, prefix):
    with one_line_errors(prefix):
        try:
            return f(argv)
        except SystemExit as exc:   # --help, or a usage error
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


def _why(argv, prog):
    from matmul_ladder.explain.why import main
    return _exit_status(main, argv, f"{prog} why")


def _dist(argv, prog):
    from matmul_ladder.dist.__main__ import main
    return _exit_status(main, argv, f"{prog} dist")


def _list(argv, prog):
    from matmul_ladder.cli import kernel_list
    from matmul_ladder.cli.args import Parser
    return kernel_list.main(argv, Parser, prog)


def _try(argv, prog):
    return importlib.import_module("matmul_ladder.tryout").main(argv)


HANDLERS = {"conv": _conv, "tune": _tune, "why": _why, "dist": _dist, "list": _list, "try": _try}


def dispatch(name, argv, prog):
    """Run subcommand `name` (not 'ladder') with argv; its exit status."""
    if name == "conv":
        line = _conv_kernel_hint(argv, prog)
        if line:
            print(line, file=sys.stderr)
            return 2
    status = HANDLERS[name](argv, prog)
    return 0 if status is None else status
