"""Side-by-side speed ratios: contenders called in turn, call by call, in one process.

Drift on a shared machine (another process, clock changes) then hits every contender alike,
and the ratio of each round is a paired sample. Each contender's answer is checked first.

Multi-threaded contenders are raced in blocks instead (`block_time` > 0): after a call,
OpenBLAS's idle worker threads spin for ~0.1 s and OpenMP's for ~10 ms (timing.py), so a call
of the other library that starts meanwhile shares its cores with spinning threads and loses
up to half its speed. Each block therefore starts once the other contender's pools have gone
quiet (timing.wait_quiet), runs calls for `block_time` seconds in a row, discards its first
call (the one that wakes its own pool), and gives its median as the round's sample. (Sleeping
between single calls instead is worse on a VM: waking a halted virtual CPU took milliseconds
here; a block pays that once, in the call it discards.) Call-by-call races (one thread) wait
for quiet once, before the first round.

Each contender's normwise error against float64 (check.Reference.normwise_error) comes back
beside its times. A contender that rounds (c_bf16, torch_bf16) is checked at its own
precision (`precisions`); one that takes its inputs converted (torch_bf16's bfloat16
tensors: Kernel.operands) gets them converted once, before its first call, so that no
round times the conversion.
"""
import statistics
from dataclasses import dataclass, field
from typing import Dict

import numpy as np

from matmul_ladder.bench import timing
from matmul_ladder.bench.check import Reference
from matmul_ladder.bench.timing import Timing, host_samples, repeat_count, timed_call


@dataclass
class Race:
    timings: Dict[str, Timing]
    ratios: Dict[str, float]  # median over rounds of t(baseline) / t(contender): > 1 is faster
    rounds: int
    errors: Dict[str, float] = field(default_factory=dict)  # ||C - C_ref||_F / ||C_ref||_F
    samples: Dict[str, list] = field(default_factory=dict)  # each round's seconds, in order

    def ratio(self, name, baseline):
        """Median over rounds of t(baseline) / t(name), like `ratios` against another
        baseline: each round's two samples are a pair."""
        return statistics.median(tb / tk for tb, tk in zip(self.samples[baseline],
                                                           self.samples[name]))


def race(a, b, contenders, baseline, min_time=1.0, budget=30.0, min_rounds=5, block_time=0.0,
         precisions=None, operands=None):
    """contenders: {name: f(a, b)}; baseline: the name every ratio is taken against.
    precisions: {name: its check.PRECISIONS name} for those that round (default: the dtype's
    own); operands: {name: (a, b) -> (x, y, back)} (Kernel.operands) for those that take
    their inputs converted: f(x, y) is timed and back(its answer) checked."""
    ref = Reference(a, b)
    first, errors, calls = {}, {}, {}
    for name, f in contenders.items():
        convert = (operands or {}).get(name)
        x, y, back = convert(a, b) if convert else (a, b, lambda out: out)
        calls[name] = lambda f=f, x=x, y=y: f(x, y)
        timing.wait_quiet(name)
        out, first[name] = timed_call(calls[name])
        out = back(out)
        problem = ref.violations(out, (precisions or {}).get(name, ""))
        if problem:
            raise AssertionError(f"{name} gave a wrong answer, not timed: {problem}")
        errors[name] = ref.normwise_error(out)
    per_round = sum(max(t, block_time) for t in first.values())
    rounds = repeat_count(per_round, min_time, budget, min_repeats=min_rounds)
    samples = {name: [] for name in contenders}
    names = list(contenders)
    timing.wait_quiet(names[0])
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):  # alternate who goes first
            if block_time > 0:
                timing.wait_quiet(name)
            samples[name].append(_block(calls[name], block_time))
    result = Race({n: Timing.of(s) for n, s in samples.items()}, {}, rounds, errors, samples)
    result.ratios = {name: result.ratio(name, baseline) for name in samples}
    return result


def _block(call, block_time):
    """One call's time, or with block_time > 0 the median of a block of calls after one
    discarded call."""
    times = []
    while True:
        times += host_samples(call, 1)
        if block_time <= 0 or (len(times) >= 3 and sum(times) >= block_time):
            break
    return times[0] if block_time <= 0 else statistics.median(times[1:])


def checked_seconds(kernel, n, dtype, threads=1, min_time=0.3):
    """Median seconds of one call of `kernel` on random n x n operands, its answer checked
    first; None if the kernel is unavailable here."""
    from matmul_ladder import api as _api
    if not next(k.available for k in _api.kernels() if k.name == kernel):
        return None
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, (n, n)).astype(dtype), rng.uniform(-1, 1, (n, n)).astype(dtype)
    with _api.bind(kernel, threads) as f:
        return race(a, b, {kernel: f}, baseline=kernel, min_time=min_time,
                    min_rounds=3).timings[kernel].median
