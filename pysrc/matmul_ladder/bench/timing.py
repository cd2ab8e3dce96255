"""Timers: warm up, repeat up to a minimum time, report median/min/max and the count.

- CPU kernels: time.perf_counter around each call (the calls are synchronous).
- torch kernels: torch.utils.benchmark.Timer, which synchronises CUDA and handles threads.
- GPU compute-only: cupyx.profiler.benchmark, which times with CUDA events.
- GPU with host<->device copies: the same, reading its host-side (CPU) times, since the
  copies back to the host synchronise every call.
The first, checked call is the warm-up; it is never part of the statistics, unless it alone
already used the whole budget (then it is the one sample, and repeats = 1 says so).

Two things here keep another library from spoiling a timing, and say when one is doubtful:

- wait_quiet(): before a kernel is timed, the thread pools of the one timed before it have gone
  quiet. After each call OpenBLAS's idle threads spin for ~0.1 s and libgomp's (c_omp,
  cy_prange, torch) for ~10 ms (107 ms and 9-17 ms on the 2-vCPU Zen 4 VM:
  reference/zen4-2core/quick_runs/pools.py); a kernel timed meanwhile shares its cores with
  them (in one ladder run c_omp, timed right after NumPy on 2 threads each, had a median of
  16 ms at n = 128 instead of ~0.05 ms). On Linux it polls the state of this process's other threads in
  /proc/self/task/*/stat until none is running or runnable; elsewhere it sleeps
  QUIET_FALLBACK_S whenever the kernel changes.
- Watch and doubts(): how long the process's threads waited for a CPU while a kernel was timed
  (/proc/self/task/*/schedstat, Linux), how much the hypervisor stole and how much other
  processes ran meanwhile (/proc/stat), and the rules that call a measurement doubtful: a
  wild spread, threads kept from their CPUs, a machine shared, a time that grows with n as
  no cubic kernel's can.
"""
import math
import os
import statistics
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple


def matmul_flops(m, k, n):
    """Floating-point operations of an (M x K) @ (K x N) product: one multiply and one add
    per term."""
    return 2.0 * m * k * n


def gflops(flops, seconds):
    """GFLOP/s of `flops` operations in `seconds` (inf for a time too short to measure)."""
    return flops / seconds / 1e9 if seconds > 0 else float("inf")


@dataclass
class Timing:
    median: float
    min: float
    max: float
    repeats: int

    @classmethod
    def of(cls, samples):
        return cls(statistics.median(samples), min(samples), max(samples), len(samples))


def repeat_count(first_call_s, min_time, budget, min_repeats=3, max_repeats=1000):
    """How many repeats fill min_time, at least min_repeats, within the budget."""
    if first_call_s <= 0:
        return max_repeats
    wanted = max(min_repeats, int(min_time / first_call_s) + 1)
    affordable = max(1, int(budget / first_call_s))
    return max(1, min(wanted, affordable, max_repeats))


def timed_call(call):
    """(what call() returned, its seconds on the host clock): the first, checked call."""
    t0 = time.perf_counter()
    out = call()
    return out, time.perf_counter() - t0


def host_samples(call, count):
    """Seconds of `count` calls, each timed alone on the host clock."""
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return samples


def time_host(call, first_call_s, min_time, budget):
    """After a first call that took first_call_s: repeats filling min_time within budget."""
    return Timing.of(host_samples(call, repeat_count(first_call_s, min_time, budget)))


def time_call(call, min_time=0.2, budget=60.0):
    """Warm up with one call, then time_host: for a call whose answer was already checked."""
    first = host_samples(call, 1)[0]
    return time_host(call, first, min_time, budget)


def time_torch(call, min_time, threads):
    """torch.utils.benchmark pins torch's threads itself, so it is told the count."""
    from torch.utils import benchmark
    timer = benchmark.Timer(stmt="call()", globals={"call": call}, num_threads=threads)
    m = timer.blocked_autorange(min_run_time=min_time)
    return Timing(m.median, min(m.times), max(m.times), len(m.times))


def time_gpu(call, repeats, warmup=3, host_clock=False, args=()):
    """CUDA events around each call (cupyx.profiler.benchmark), or the host clock for calls
    that end with their result on the host (copies included)."""
    from cupyx.profiler import benchmark
    result = benchmark(call, args, n_repeat=repeats, n_warmup=warmup)
    samples = result.cpu_times if host_clock else result.gpu_times[0]
    return Timing.of([float(s) for s in samples])


def time_cupy(call, first_call_s, min_time, budget, host_clock=False):
    return time_gpu(call, repeat_count(first_call_s, min_time, budget), warmup=1,
                    host_clock=host_clock)


# ---- quiet pools -------------------------------------------------------------------------
QUIET_POLL_S = 0.002     # how often wait_quiet looks at the other threads' states
QUIET_MAX_S = 1.0        # the longest it waits: 10x OpenBLAS's ~0.1 s spin, 100x libgomp's
                         # ~10 ms; threads that spin longer (OMP_WAIT_POLICY=active) never stop
QUIET_FALLBACK_S = 0.2   # without /proc: twice OpenBLAS's spin, slept when the kernel changes
_TASKS = "/proc/self/task"
_last_owner = [None]


class Quiet(NamedTuple):
    seconds: float   # how long wait_quiet waited
    quiet: bool      # False: some other thread was still running after QUIET_MAX_S
    busy: int        # how many other threads were running when it gave up (0 when quiet)


def _proc_ok():
    return os.path.isdir(_TASKS)


def running_threads():
    """The ids of this process's other threads that are running or runnable (state R), or
    None where /proc is not there. A thread blocked in a futex or in sleep is S."""
    if not _proc_ok():
        return None
    me = threading.get_native_id()
    busy = []
    for tid in os.listdir(_TASKS):
        if tid == str(me):
            continue
        try:
            with open(f"{_TASKS}/{tid}/stat") as f:
                text = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        if text[text.rindex(")") + 2] == "R":  # the state follows "pid (comm) "
            busy.append(int(tid))
    return busy


def wait_quiet(owner=None, max_wait=QUIET_MAX_S):
    """Wait until no other thread of this process runs (the pools of the library called last
    are idle), at most max_wait seconds. Without /proc, sleep QUIET_FALLBACK_S if `owner` (the
    kernel about to be timed) differs from the last one's. Cheap when all is quiet (~0.3 ms)."""
    t0 = time.perf_counter()
    busy = running_threads()
    if busy is None:
        changed = owner is None or owner != _last_owner[0]
        _last_owner[0] = owner
        if changed:
            time.sleep(QUIET_FALLBACK_S)
        return Quiet(time.perf_counter() - t0, True, 0)
    while busy:
        if time.perf_counter() - t0 >= max_wait:
            return Quiet(time.perf_counter() - t0, False, len(busy))
        time.sleep(QUIET_POLL_S)
        busy = running_threads()
    _last_owner[0] = owner
    return Quiet(time.perf_counter() - t0, True, 0)


# ---- how much CPU a measurement did not get ----------------------------------------------
def _wait_ns():
    """{thread id: ns it has spent runnable but waiting for a CPU}, or None without it."""
    if not _proc_ok():
        return None
    out = {}
    for tid in os.listdir(_TASKS):
        try:
            with open(f"{_TASKS}/{tid}/schedstat") as f:
                out[tid] = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return out or None


def _machine_ticks():
    """(clock ticks all CPUs were busy, ticks stolen by the hypervisor, ticks this process
    ran), from /proc/stat and /proc/self/stat, or None without them."""
    try:
        with open("/proc/stat") as f:
            cpu = [int(x) for x in f.readline().split()[1:9]]
        with open("/proc/self/stat") as f:
            mine = f.read()
        fields = mine[mine.rindex(")") + 2:].split()  # fields 3, 4, ... of proc(5)
        own = int(fields[11]) + int(fields[12])       # utime + stime, all threads
    except (OSError, IndexError, ValueError):
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = cpu
    return user + nice + system + irq + softirq, steal, own


class Watch:
    """Around a measurement, per second of it: `waited`, the time this process's threads
    spent runnable but waiting for a CPU (in threads: 1.0 is one thread kept off its CPU the
    whole time); `stolen`, the CPUs the hypervisor gave other guests; `others`, the CPUs that
    other processes of this machine used (they share its caches and memory bandwidth). None
    where Linux does not say."""

    def __enter__(self):
        self._wait, self._ticks = _wait_ns(), _machine_ticks()
        self._t0 = time.perf_counter()
        self.waited = self.stolen = self.others = None
        return self

    def __exit__(self, *exc):
        wall = max(time.perf_counter() - self._t0, 1e-9)
        wait, ticks = _wait_ns(), _machine_ticks()
        if self._wait is not None and wait is not None:
            self.waited = sum(v - self._wait.get(k, 0) for k, v in wait.items()) / 1e9 / wall
        if self._ticks is not None and ticks is not None:
            hz = os.sysconf("SC_CLK_TCK") * wall
            busy, steal, own = (b - a for a, b in zip(self._ticks, ticks))
            self.stolen = steal / hz
            self.others = max(busy - own, 0) / hz
        return False


# ---- when a measurement is doubtful -------------------------------------------------------
# Spread: median / min, not max / min. One preemption makes the max of a 50 us call 100x its
# min while the median stays put (numpy, float64, n = 128, 2 threads: max/min 115, median/min
# 1.02 in `matmul-ladder --quick` on the 2-vCPU Zen 4 VM), so the max says nothing about the
# figure reported. A median over twice the min says that more than half of the calls ran at
# under half the speed the kernel showed it can reach: the median is then not the kernel's.
# Quiet, the quick run's rows stay under 1.2, its noisiest under 1.9.
SPREAD_LIMIT = 2.0
# Waiting: a thread runnable but kept off its CPU for a quarter of the time, spread evenly
# over the calls, makes each a third slower. With another process busy on one of the VM's two
# vCPUs, c_omp on 2 threads waited 1.0 thread (0.5 per thread) and its median at n = 256 was
# 24 ms instead of 0.17 ms; quiet, a measurement waits under 0.01.
WAITED_LIMIT = 0.25      # threads' waiting per thread of the kernel
STOLEN_LIMIT = 0.25      # CPUs the hypervisor took, of the whole VM's
# Sharing: another process need not take our CPU to slow us; it shares the caches and the
# memory bus. On the 2-vCPU Zen 4 VM a process streaming through 128 MB on the other vCPU
# made c_ikj, cy_blocked (n = 256) and py_naive 1.9-2.1x slower, one computing in L1 up to
# 1.9x, while one spinning on integers changed them by under 4%, and none of this shows in
# the timings' spread or in waiting for a CPU (reference/zen4-2core/quick_runs/pools.py;
# ten quick runs without this rule left rows 2x slow with neither). Which kind a neighbour
# is cannot be seen from here, so a measurement during which other processes kept half a
# CPU busy is doubtful. The counts are clock ticks (1/100 s): over 0.1 s, +-0.2 CPU.
SHARED_LIMIT = 0.5       # CPUs other processes used, on average, during the measurement
# Growth with n: a kernel doing n^3 multiply-adds takes t ~ n^p. Where the smaller size's call
# takes at least MIN_FIT_SECONDS, its fixed costs (a Python call, an allocation, an OpenMP
# fork-join: 10-50 us here) are under a tenth of it, and p can leave 3 only by the time per
# multiply-add changing with n: blocks filling up lower p, caches running out raise it. Below
# P_MIN the larger size ran over 3x more efficiently per operation than a size already past
# its overheads, or the smaller one was slowed; above P_MAX one doubling cost 8x more per
# operation, more than going from cache to memory costs c_naive's column walk (p 3.6-4.2 at
# 256 -> 512 in the quick run).
MIN_FIT_SECONDS = 2.5e-4
P_MIN, P_MAX = 1.5, 6.0


def local_exponent(n0, t0, n1, t1):
    """p of t ~ n^p between two square sizes, or None where the smaller is overhead-bound."""
    if n1 == n0 or min(t0, t1) <= 0 or min(n0, n1) <= 0:
        return None
    if (t0 if n0 < n1 else t1) < MIN_FIT_SECONDS:
        return None
    return math.log(t1 / t0) / math.log(n1 / n0)


def doubts(t, threads=1, watch=None, quiet=None, cpu=True):
    """[why this measurement is doubtful], short, empty when nothing is: "spread 3.1x" (median
    over min), "waited 52%" (of the time, per thread of the kernel, runnable but off its CPU),
    "stolen 0.3 CPU" (by the hypervisor), "shared 0.8 CPU" (used by other processes meanwhile),
    "pools busy" (other threads never went quiet).
    t=None judges the watch and the quiet alone."""
    out = []
    if t is not None and t.repeats >= 3 and t.min > 0 and t.median / t.min > SPREAD_LIMIT:
        out.append(f"spread {t.median / t.min:.3g}x")
    if cpu and watch is not None:
        if watch.waited is not None and watch.waited / max(threads, 1) > WAITED_LIMIT:
            out.append(f"waited {100 * watch.waited / max(threads, 1):.0f}%")
        if watch.stolen is not None and watch.stolen > STOLEN_LIMIT:
            out.append(f"stolen {watch.stolen:.2g} CPU")
        if watch.others is not None and watch.others > SHARED_LIMIT:
            out.append(f"shared {watch.others:.2g} CPU")
    if quiet is not None and not quiet.quiet:
        out.append(f"pools busy ({quiet.busy} thread(s) still running after {quiet.seconds:.2g} s)")
    return out


def exponent_doubt(n0, t0, n1, t1):
    """'' or "exponent -1.82 (n 128-256)": t(n1) against t(n0) grows as no cubic kernel's
    time can (this row or the other is off)."""
    p = local_exponent(n0, t0, n1, t1)
    if p is None or P_MIN <= p <= P_MAX:
        return ""
    return f"exponent {round(p, 2) + 0.0:.2f} (n {min(n0, n1)}-{max(n0, n1)})"
