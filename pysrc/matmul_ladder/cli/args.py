"""The command line's shared parts: the parser that reports a bad option in one line, and the
parsers of sizes, shapes, thread counts and seconds."""
import argparse
import math

from matmul_ladder.rungs.threads import MAX_THREADS, cores

PROG = "matmul-ladder"


class UsageError(Exception):
    """A bad option: reported as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


class HelpFormatter(argparse.HelpFormatter):
    """Wraps the description as usual; keeps the lines of a text that has its own (the epilog)."""

    def _fill_text(self, text, width, indent):
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _int(text, what):
    try:
        return int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} {text.strip()!r} is not a whole number") from None


def parse_sizes(text):
    """'64,128,256' or a doubling range '64:1024' -> [64, 128, 256, 512, 1024]."""
    sizes = []
    for part in text.split(","):
        if ":" in part:
            lo, _, hi = part.partition(":")
            lo, hi = _int(lo, "size"), _int(hi, "size")
            if lo < 1 or hi < lo:
                raise argparse.ArgumentTypeError(f"bad range {part!r}: want LO:HI with 1 <= LO <= HI")
            n = lo
            while n <= hi:
                sizes.append(n)
                n *= 2
        else:
            sizes.append(_int(part, "size"))
    if any(n < 1 for n in sizes):
        raise argparse.ArgumentTypeError("sizes must be >= 1")
    return sorted(set(sizes))


def parse_shape(text):
    """'MxKxN' (a is M x K, b is K x N) -> (M, K, N), the order of the text."""
    parts = text.lower().split("x")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"bad shape {text!r}: want MxKxN, e.g. 1x25600x100")
    m, k, n = (_int(x, f"in shape {text!r}, dimension") for x in parts)
    if min(m, k, n) < 1:
        raise argparse.ArgumentTypeError(f"bad shape {text!r}: dimensions must be >= 1")
    return (m, k, n)


def parse_threads(text):
    out = set()
    for part in text.split(","):
        out.add(cores() if part.strip() == "all" else _int(part, "thread count"))
    if min(out) < 1 or max(out) > MAX_THREADS:
        raise argparse.ArgumentTypeError(f"thread counts must be between 1 and {MAX_THREADS}")
    return sorted(out)


def _seconds(what, allow_zero):
    def parse(text):
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} {text!r} is not a number of seconds") from None
        if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
            raise argparse.ArgumentTypeError(f"{what} must be a finite number of seconds "
                                             f"{'>= 0' if allow_zero else '> 0'}, got {text}")
        return x
    return parse


def _positive_int(text):
    n = _int(text, "size")
    if n < 1:
        raise argparse.ArgumentTypeError(f"size must be >= 1, got {n}")
    return n
