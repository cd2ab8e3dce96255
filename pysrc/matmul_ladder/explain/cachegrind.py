"""Cache counters from cachegrind: one kernel call under valgrind, with this CPU's real L1d
and L2 geometry (cachegrind's own guess of the last level can be far off on a VM), less the
driver's own counts at the same size.

valgrind 3.19 does not emulate AVX-512 and hides it from CPUID, so under cachegrind the
dispatcher picks the AVX2 micro-kernel."""
import os
import subprocess
import sys


def parse_cachegrind(text):
    """{event: total} from a cachegrind.out file's 'events:' and 'summary:' lines."""
    events = summary = None
    for line in text.splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        elif line.startswith("summary:"):
            summary = [int(x) for x in line.split()[1:]]
    if not events or not summary:
        raise ValueError("not a cachegrind output: no events/summary lines")
    return dict(zip(events, summary))


def _cachegrind(kernel, n, dtype, geometry, workdir):
    """{event: total} of one driver run under cachegrind (geometry: ((flag, size, assoc, line), ...))."""
    out = os.path.join(workdir, f"cg.{kernel}.{n}.{dtype}")
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=yes", f"--cachegrind-out-file={out}"]
    cmd += [f"{flag}={size},{assoc},{line}" for flag, size, assoc, line in geometry]
    cmd += [sys.executable, "-m", "matmul_ladder.explain.cg_driver", kernel, str(n), dtype]
    subprocess.run(cmd, check=True, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
    with open(out) as f:
        return parse_cachegrind(f.read())


_baselines = {}


def cachegrind_counts(kernel, n, dtype, geometry, workdir):
    """Counts for one call of `kernel`, less the driver's baseline (run once per size)."""
    flags = tuple((flag, *geometry[level]) for flag, level in (("--D1", "L1d"), ("--LL", "L2"))
                  if level in geometry)
    key = (n, dtype, flags, workdir)
    if key not in _baselines:
        _baselines[key] = _cachegrind("none", n, dtype, flags, workdir)
    base, total = _baselines[key], _cachegrind(kernel, n, dtype, flags, workdir)
    return {k: total[k] - base.get(k, 0) for k in total}
