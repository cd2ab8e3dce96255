"""Tuning sweep for c_simd's cache blocks: KC x MC x NC candidates raced round-robin."""
import statistics
import sys
import time

import numpy as np

import matmul_ladder as ml
from matmul_ladder.bench.check import Reference
from matmul_ladder.bench.timing import gflops, matmul_flops


class WrongAnswer(Exception):
    """A candidate's answer failed the check; it is not timed."""


def candidates(kc, mc, nc):
    """[(KC, MC, NC)] from the comma lists, the derived sizes (0, 0, 0) first, no repeats."""
    return list(dict.fromkeys([(0, 0, 0)] + [(int(k), int(m), int(c)) for k in kc.split(",")
                                             for m in mc.split(",") for c in nc.split(",")]))


def sweep(n, dtype, cands, rounds, threads):
    """(rung, {candidate: [seconds of each round]}): every candidate checked, then timed
    once a round in turn. Raises WrongAnswer naming the first wrong one."""
    rng = np.random.default_rng(0)
    dtype = np.dtype(dtype)
    a, b = rng.uniform(-1, 1, (n, n)).astype(dtype), rng.uniform(-1, 1, (n, n)).astype(dtype)
    rung = "c_simd" if threads == 1 else "c_omp"
    samples = {cand: [] for cand in cands}
    ref = Reference(a, b)
    with ml.bind(rung, threads) as f:
        for kc, mc, nc in cands:
            with ml.blocking_override(dtype.name, mc, kc, nc):
                problem = ref.violations(f(a, b))
            if problem:
                raise WrongAnswer(f"KC={kc} MC={mc} NC={nc} gave a wrong answer, not timed: {problem}")
        for r in range(rounds):
            for kc, mc, nc in cands:
                with ml.blocking_override(dtype.name, mc, kc, nc):
                    t0 = time.perf_counter()
                    f(a, b)
                    samples[(kc, mc, nc)].append(time.perf_counter() - t0)
            print(f"round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    return rung, samples


def ranking(n, samples):
    """[(GFLOP/s of the median, candidate)], fastest first."""
    return sorted(((gflops(matmul_flops(n, n, n), statistics.median(s)), cand)
                   for cand, s in samples.items()), reverse=True)


def lines(rung, dtype, n, threads, rows):
    derived = ml.build_info()["blocking"][dtype]["c_simd"]
    out = [f"{rung} {dtype} n={n} threads={threads}; derived: {derived}"]
    for speed, (kc, mc, nc) in rows:
        label = "derived" if (kc, mc, nc) == (0, 0, 0) else f"KC={kc or '-'} MC={mc or '-'} NC={nc or '-'}"
        out.append(f"  {label:20s} {speed:7.1f} GFLOP/s")
    return out


def run(n, dtype, kc, mc, nc, rounds, threads):
    """The whole sweep; prints the ranking (exit status 1 and the reason for a wrong answer)."""
    try:
        rung, samples = sweep(n, dtype, candidates(kc, mc, nc), rounds, threads)
    except WrongAnswer as exc:
        print(f"tune_blocking: {exc}", file=sys.stderr)
        return 1
    print("\n".join(lines(rung, dtype, n, threads, ranking(n, samples))))
    return 0
