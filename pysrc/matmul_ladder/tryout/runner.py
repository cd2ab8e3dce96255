"""The child process that calls the student's kernel, and the parent side that watches it."""
import argparse
import contextlib
import ctypes
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

DTYPES = {"float32": "s", "float64": "d"}
IDLE_LIMIT_S = 300  # the child's own work between two calls of the kernel (checks, imports)
RUNG_LIMIT_S = 3600  # timing one rung (c_naive takes minutes a call from n = 4096)
_SIGNALS = {"SIGSEGV": "a bad memory access", "SIGBUS": "a bad memory access",
            "SIGFPE": "an arithmetic fault", "SIGILL": "an illegal instruction",
            "SIGABRT": "abort() was called", "SIGKILL": "killed, perhaps out of memory"}

# (M, N, K, pad): lda = K + pad, ldb = N + pad, ldc = N + pad
HARD_SHAPES = [
    (0, 0, 0, 0), (0, 5, 3, 0), (4, 0, 3, 0), (4, 5, 0, 0),      # empty dimensions
    (1, 1, 1, 0), (1, 1, 1, 3),                                  # one element
    (7, 13, 11, 0), (31, 37, 29, 0), (97, 101, 103, 0),          # primes
    (6, 16, 256, 0), (13, 33, 257, 0), (130, 70, 129, 0),        # tiles and one past them
    (127, 129, 255, 0), (1, 100, 25600, 0),                      # (1 x 25600) @ (25600 x 100)
    (33, 17, 45, 5), (64, 64, 64, 1), (97, 101, 103, 11),        # lda/ldb/ldc > width
    (1, 100, 25600, 7),
]


def shape_label(dtype, m, n, k, pad=0):
    s = f"{dtype} ({m} x {k}) @ ({k} x {n})"
    return s + (f", lda={k + pad} ldb={n + pad} ldc={n + pad}" if pad else "")


# ---- the child -------------------------------------------------------------------------
class Channel:
    """Lines to the parent on a copy of the original stdout; the kernel's own printf output
    goes to stderr, so it cannot garble them."""

    def __init__(self):
        sys.stdout.flush()
        self.out = os.fdopen(os.dup(1), "w", buffering=1)
        os.dup2(2, 1)

    def send(self, *words):
        self.out.write(" ".join(str(w) for w in words) + "\n")
        self.out.flush()

    @contextlib.contextmanager
    def limit(self, seconds, label):
        self.send("BEGIN", f"{seconds:.3f}", label)
        yield
        self.send("END")


def load_functions(library, base, dtype_of_plain="float32"):
    """{dtype: ctypes function} of `base`_s / `base`_d (or `base` itself, as dtype_of_plain,
    when neither suffix exists)."""
    lib = ctypes.CDLL(os.path.abspath(library))
    found = {}
    for dtype, suffix in DTYPES.items():
        fn = getattr(lib, f"{base}_{suffix}", None)
        if fn is not None:
            found[dtype] = (f"{base}_{suffix}", fn)
    if not found and getattr(lib, base, None) is not None:
        found[dtype_of_plain] = (base, getattr(lib, base))
    for _, fn in found.values():
        fn.restype = None
        fn.argtypes = [ctypes.c_size_t] * 3 + [ctypes.c_void_p, ctypes.c_size_t] * 3
    return found


def as_matmul(fn, np):
    """f(a, b) -> a @ b through the student's function (C-ordered operands)."""
    def f(a, b):
        m, k = a.shape
        n = b.shape[1]
        c = np.empty((m, n), dtype=a.dtype)
        fn(m, n, k, a.ctypes.data, k, b.ctypes.data, n, c.ctypes.data, n)
        return c
    return f


def check_one(fn, np, dtype, m, n, k, pad, rng, chan, limit):
    """'' or what is wrong with the kernel's answer on one shape; NaN in every padding of
    A and B (read by mistake, it spoils the answer), a sentinel in C's."""
    from matmul_ladder.bench.check import Reference
    lda, ldb, ldc = k + pad, n + pad, n + pad
    abuf = np.full((m, lda), np.nan, dtype)
    bbuf = np.full((k, ldb), np.nan, dtype)
    abuf[:, :k] = rng.uniform(-1, 1, (m, k))
    bbuf[:, :n] = rng.uniform(-1, 1, (k, n))
    cbuf = np.full((m, ldc), 12345.0, dtype)
    cbuf[:, :n] = np.nan  # C is overwritten, never added to
    a0, b0 = abuf.copy(), bbuf.copy()
    with chan.limit(limit, shape_label(dtype, m, n, k, pad)):
        fn(m, n, k, abuf.ctypes.data, lda, bbuf.ctypes.data, ldb, cbuf.ctypes.data, ldc)
    a, b = abuf[:, :k], bbuf[:, :n]
    if not (np.array_equal(abuf, a0, equal_nan=True) and np.array_equal(bbuf, b0, equal_nan=True)):
        return "A or B was changed (they are const)"
    if pad and not (cbuf[:, n:] == 12345.0).all():
        i, j = (int(v) for v in np.argwhere(cbuf[:, n:] != 12345.0)[0])
        return f"wrote outside C: row {i}, column {n + j} (the ldc padding, past N = {n})"
    ref = Reference(np.ascontiguousarray(a), np.ascontiguousarray(b))
    problem = ref.violations(np.ascontiguousarray(cbuf[:, :n]))
    return problem


def child_check(args, chan):
    import numpy as np
    found = load_functions(args.library, args.function, args.dtype)
    if not found:
        chan.send("FAIL", "missing", json.dumps(args.function))
        return
    rng = np.random.default_rng(0)
    checked = []
    for dtype, (symbol, fn) in found.items():
        for m, n, k, pad in HARD_SHAPES:
            problem = check_one(fn, np, np.dtype(dtype), m, n, k, pad, rng, chan, args.timeout)
            if problem:
                where = shape_label(dtype, m, n, k, pad)
                chan.send("FAIL", "wrong", json.dumps(f"{symbol} on {where}: {problem}"))
                return
            checked.append(shape_label(dtype, m, n, k, pad))
    chan.send("RESULT", json.dumps({"functions": {d: s for d, (s, _) in found.items()},
                                    "checked": checked}))


LADDER = ("c_naive", "c_ikj", "c_blocked", "c_simd", "c_omp")


def child_race(args, chan):
    import numpy as np
    from matmul_ladder import api
    from matmul_ladder.bench.check import Reference
    from matmul_ladder.bench.race import race
    from matmul_ladder.bench.timing import time_host, timed_call
    found = load_functions(args.library, args.function, args.dtype)
    if args.dtype not in found:
        chan.send("FAIL", "missing", json.dumps(f"{args.function} for {args.dtype}"))
        return
    symbol, fn = found[args.dtype]
    mine = as_matmul(fn, np)
    n, dtype = args.n, np.dtype(args.dtype)
    rng = np.random.default_rng(1)
    a = rng.uniform(-1, 1, (n, n)).astype(dtype)
    b = rng.uniform(-1, 1, (n, n)).astype(dtype)
    ref = Reference(a, b)
    available = {k.name for k in api.kernels("matmul") if k.available}
    rungs = [r for r in LADDER if r in available]
    with contextlib.ExitStack() as stack:
        funcs = {r: stack.enter_context(api.bind(r, threads=1)) for r in rungs + ["numpy"]}
        times, errors = {}, {}
        with chan.limit(args.timeout, f"{shape_label(dtype, n, n, n)} (first timed call)"):
            out, first = timed_call(lambda: mine(a, b))
        problem = ref.violations(out)
        if problem:
            chan.send("FAIL", "wrong", json.dumps(f"{symbol} on {shape_label(dtype, n, n, n)}: "
                                                  f"{problem}"))
            return
        errors[args.name] = ref.normwise_error(out)
        with chan.limit(args.probe + 2 * args.timeout, f"{shape_label(dtype, n, n, n)} (timing)"):
            times[args.name] = time_host(lambda: mine(a, b), first, args.probe / 3,
                                         args.probe).median
        for r, f in funcs.items():  # a rung's slow first call (c_naive at large n) is no hang
            with chan.limit(RUNG_LIMIT_S, f"{shape_label(dtype, n, n, n)} (timing {r}, a rung)"):
                out, first = timed_call(lambda: f(a, b))
                errors[r] = ref.normwise_error(out)
                times[r] = time_host(lambda: f(a, b), first, args.probe / 3, args.probe).median
        mine_t = times[args.name]
        beaten = [r for r in rungs if times[r] > mine_t]
        beats = [r for r in rungs if times[r] <= mine_t]
        below = min(beaten, key=times.get) if beaten else None
        above = max(beats, key=times.get) if beats else None
        ratios, rounds = {}, {}
        for r in dict.fromkeys(x for x in (below, above, "numpy") if x):
            limit = 2 * args.budget + 4 * args.timeout + 10
            with chan.limit(limit, f"{shape_label(dtype, n, n, n)} (race against {r})"):
                try:
                    result = race(a, b, {r: funcs[r], args.name: mine}, baseline=r,
                                  min_time=args.budget / 4, budget=args.budget)
                except AssertionError as exc:
                    chan.send("FAIL", "wrong", json.dumps(f"{symbol} in the race: {exc}"))
                    return
            ratios[r], rounds[r] = result.ratios[args.name], result.rounds
    chan.send("RESULT", json.dumps({"name": args.name, "symbol": symbol, "dtype": args.dtype,
                                    "n": n,
                                    "times": times, "errors": errors, "rungs": rungs,
                                    "below": below, "above": above, "ratios": ratios,
                                    "rounds": rounds}))


def child_main(argv=None):
    p = argparse.ArgumentParser(prog="python -m matmul_ladder.tryout.runner")
    p.add_argument("job", choices=("check", "race"))
    p.add_argument("library")
    p.add_argument("--function", required=True)
    p.add_argument("--name", default="yours")
    p.add_argument("--dtype", default="float32", choices=tuple(DTYPES))
    p.add_argument("--n", type=int, default=512)
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--budget", type=float, default=5.0)
    p.add_argument("--probe", type=float, default=1.0)
    args = p.parse_args(argv)
    chan = Channel()
    (child_check if args.job == "check" else child_race)(args, chan)
    return 0


# ---- the parent ------------------------------------------------------------------------
def _describe_signal(number):
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    return f"{name} ({_SIGNALS[name]})" if name in _SIGNALS else name


def _pump(stream, q, tag):
    for line in stream:
        q.put((tag, line.rstrip("\n")))
    q.put((tag, None))


def run_child(job, library, function, **options):
    """The child's RESULT (a dict) for `job`; raises KernelTimeout when a call runs past the
    limit the child announced (the child is then killed), KernelCrashed when it dies,
    WrongAnswer or MissingFunction when it says so."""
    from matmul_ladder.tryout.errors import (KernelCrashed, KernelTimeout, MissingFunction,
                                             WrongAnswer)
    argv = [sys.executable, "-m", "matmul_ladder.tryout.runner", job, library,
            "--function", function]
    for key, value in options.items():
        if value is not None:
            argv += [f"--{key}", str(value)]
    env = dict(os.environ, OMP_NUM_THREADS="1")  # the race is on one thread
    env.pop("PYTHONFAULTHANDLER", None)  # a crash is told in one line, not a dump
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    q, stderr_tail = queue.Queue(), []
    threading.Thread(target=_pump, args=(proc.stdout, q, "out"), daemon=True).start()
    threading.Thread(target=_pump, args=(proc.stderr, q, "err"), daemon=True).start()
    inside = False  # between a BEGIN and its END: the kernel (or a rung) is running
    label, limit, deadline = "start-up", IDLE_LIMIT_S, time.monotonic() + IDLE_LIMIT_S
    result, failure, open_streams = None, None, 2
    try:
        while open_streams:
            try:
                tag, line = q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise KernelTimeout(f"{label}: no answer after {limit:g} s (the call was "
                                    f"stopped; --timeout sets the limit)") from None
            if line is None:
                open_streams -= 1
                continue
            if tag == "err":
                stderr_tail = (stderr_tail + [line])[-20:]
                continue
            word, _, rest = line.partition(" ")
            if word == "BEGIN":
                seconds, _, label = rest.partition(" ")
                limit, inside = float(seconds), True
                deadline = time.monotonic() + limit
            elif word == "END":
                label = f"just after {label} (a write out of bounds?)" if inside else label
                inside = False
                limit, deadline = IDLE_LIMIT_S, time.monotonic() + IDLE_LIMIT_S
            elif word == "RESULT":
                result = json.loads(rest)
            elif word == "FAIL":
                kind, _, text = rest.partition(" ")
                failure = (kind, json.loads(text))
        rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise KernelTimeout(f"{label}: the child did not exit after {limit:g} s") from None
    finally:
        if proc.poll() is None:  # the child's own session: whatever it started goes too
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()
            proc.wait()
    if failure:
        kind, text = failure
        if kind == "missing":
            raise MissingFunction(text)
        raise WrongAnswer(text)
    if rc < 0:
        raise KernelCrashed(f"the kernel died of {_describe_signal(-rc)} "
                             f"{'on' if inside else 'in the child'} {label}")
    if rc != 0 or result is None:
        said = next((ln for ln in reversed(stderr_tail) if ln.strip()), "")
        raise KernelCrashed(f"the child exited with status {rc} "
                             f"{'on' if inside else 'in'} {label}"
                            + (f": {said.strip()}" if said else ""))
    return result


if __name__ == "__main__":
    sys.exit(child_main())
