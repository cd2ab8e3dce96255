"""Side-by-side speed ratios: contenders called in turn, call by call, in one process.

Drift on a shared machine (another process, clock changes) then hits every contender alike,
and the ratio of each round is a paired sample. Each contender's answer is checked first.
"""
import statistics
import time
from dataclasses import dataclass
from typing import Dict

from .check import Reference
from .timing import Timing, repeat_count


@dataclass
class Race:
    timings: Dict[str, Timing]
    ratios: Dict[str, float]  # median over rounds of t(baseline) / t(contender): > 1 is faster
    rounds: int


def race(a, b, contenders, baseline, min_time=1.0, budget=30.0, min_rounds=5):
    """contenders: {name: f(a, b)}; baseline: the name every ratio is taken against."""
    ref = Reference(a, b)
    first = {}
    for name, f in contenders.items():
        t0 = time.perf_counter()
        out = f(a, b)
        first[name] = time.perf_counter() - t0
        problem = ref.violations(out)
        if problem:
            raise AssertionError(f"{name} gave a wrong answer, not timed: {problem}")
    per_round = sum(first.values())
    rounds = repeat_count(per_round, min_time, budget, min_repeats=min_rounds)
    samples = {name: [] for name in contenders}
    names = list(contenders)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):  # alternate who goes first
            t0 = time.perf_counter()
            contenders[name](a, b)
            samples[name].append(time.perf_counter() - t0)
    base = samples[baseline]
    ratios = {name: statistics.median(tb / tk for tb, tk in zip(base, s))
              for name, s in samples.items()}
    return Race({n: Timing.of(s) for n, s in samples.items()}, ratios, rounds)
