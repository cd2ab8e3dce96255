"""Timers: warm up, repeat up to a minimum time, report median/min/max and the count.

- CPU kernels: time.perf_counter around each call (the calls are synchronous).
- torch kernels: torch.utils.benchmark.Timer, which synchronises CUDA and handles threads.
- GPU compute-only: cupyx.profiler.benchmark, which times with CUDA events.
- GPU with host<->device copies: the same, reading its host-side (CPU) times, since the
  copies back to the host synchronise every call.
The first, checked call is the warm-up; it is never part of the statistics, unless it alone
already used the whole budget (then it is the one sample, and repeats = 1 says so).
"""
import statistics
import time
from dataclasses import dataclass


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
