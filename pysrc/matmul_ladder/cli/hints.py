"""One-line answers to a mistyped name ("did you mean ...?") and to more threads than cores."""
import difflib
import sys

from matmul_ladder.rungs.threads import cores


def did_you_mean(word, choices):
    """' (did you mean 'x'?)' for the closest choices to word, or '' where none is close."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    quoted = [repr(c) for c in close]
    either = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f" (did you mean {either}?)"


def unknown_kernels(names, operation):
    """One line naming each of names that is no kernel of operation, with the closest names
    of that operation (or the operation it belongs to); '' when all are known."""
    from matmul_ladder.rungs import registry
    known = registry.names(operation)
    everything = {k.name: k.operation for k in registry.KERNELS}
    parts = []
    for name in names:
        if name in known:
            continue
        if name in everything:
            parts.append(f"{name!r} (a {everything[name]} kernel)")
        else:
            parts.append(f"{name!r}{did_you_mean(name, known)}")
    return ", ".join(parts)


def warn_threads(prog, threads, stream=None):
    """One line on stderr where a thread count passes the cores this process may run on."""
    have = cores()
    over = [t for t in threads or () if t > have]
    if over:
        print(f"{prog}: warning: {max(over)} threads on {have} core{'s' if have > 1 else ''}: "
              f"the threads will share them, and the timings will show it",
              file=stream or sys.stderr)
    return bool(over)
