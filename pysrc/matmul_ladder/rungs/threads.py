"""Thread counts: what `threads=None` means, and what a valid count is."""
import os

MAX_THREADS = 512


def cores():
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_threads():
    """OMP_NUM_THREADS (its first value) if set to a positive integer, else all cores."""
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return min(int(env), MAX_THREADS)
    return cores()


def resolve_threads(kernel, parallel, threads):
    """The thread count a kernel runs with, or TypeError/ValueError for a bad `threads`."""
    if threads is None:
        return default_threads() if parallel else 1
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise TypeError(f"threads must be an int or None, got {type(threads).__name__}")
    if not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads must be between 1 and {MAX_THREADS}, got {threads}")
    if threads > 1 and not parallel:
        raise ValueError(f"kernel {kernel!r} is single-threaded; threads must be None or 1, "
                         f"got {threads}")
    return threads
