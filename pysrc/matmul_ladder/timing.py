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


def time_host(call, first_call_s, min_time, budget):
    samples = []
    for _ in range(repeat_count(first_call_s, min_time, budget)):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return Timing.of(samples)


def time_torch(call, min_time, threads):
    """torch.utils.benchmark pins torch's threads itself, so it is told the count."""
    from torch.utils import benchmark
    timer = benchmark.Timer(stmt="call()", globals={"call": call}, num_threads=threads)
    m = timer.blocked_autorange(min_run_time=min_time)
    return Timing(m.median, min(m.times), max(m.times), len(m.times))


def time_cupy(call, first_call_s, min_time, budget, host_clock=False):
    from cupyx.profiler import benchmark
    n = repeat_count(first_call_s, min_time, budget)
    result = benchmark(call, n_repeat=n, n_warmup=1)
    samples = result.cpu_times if host_clock else result.gpu_times[0]
    return Timing.of([float(s) for s in samples])
