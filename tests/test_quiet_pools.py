"""timing.py's quiet period and its doubts: wait_quiet waits for another library's spinning
threads (and only as long as they spin), sleeps where /proc is missing only when the kernel
changes, and doubts() / exponent_doubt() call a measurement doubtful by their stated rules."""
import os
import time

import numpy as np
import pytest

from matmul_ladder.bench import timing
from matmul_ladder.bench.timing import Quiet, Timing

linux_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc")


class FakeClock:
    """time.perf_counter and time.sleep of timing.py, on a clock that moves only by sleeps."""

    def __init__(self, monkeypatch):
        self.now, self.sleeps = 0.0, []
        monkeypatch.setattr(timing.time, "perf_counter", lambda: self.now)
        monkeypatch.setattr(timing.time, "sleep", self.sleep)

    def sleep(self, s):
        self.sleeps.append(s)
        self.now += s


def test_wait_quiet_polls_until_no_other_thread_runs(monkeypatch):
    clock = FakeClock(monkeypatch)
    states = iter([[101, 102], [102], [102], []])
    monkeypatch.setattr(timing, "running_threads", lambda: next(states))
    q = timing.wait_quiet("c_omp")
    assert q.quiet and q.busy == 0
    assert clock.sleeps == [timing.QUIET_POLL_S] * 3
    assert q.seconds == pytest.approx(3 * timing.QUIET_POLL_S)


def test_wait_quiet_gives_up_and_says_so(monkeypatch):
    clock = FakeClock(monkeypatch)
    monkeypatch.setattr(timing, "running_threads", lambda: [7])  # spins for ever
    q = timing.wait_quiet("numpy", max_wait=0.05)
    assert not q.quiet and q.busy == 1 and 0.05 <= q.seconds < 0.06
    assert "pools busy" in " ".join(timing.doubts(Timing(1, 1, 1, 5), quiet=q))
    assert clock.now < 0.06


def test_without_proc_it_sleeps_when_the_kernel_changes(monkeypatch):
    clock = FakeClock(monkeypatch)
    monkeypatch.setattr(timing, "running_threads", lambda: None)
    monkeypatch.setattr(timing, "_last_owner", [None])
    for owner in ("numpy", "numpy", "c_omp", "c_omp", "numpy"):
        timing.wait_quiet(owner)
    assert clock.sleeps == [timing.QUIET_FALLBACK_S] * 3


@linux_proc
def test_wait_quiet_outlasts_openblas_spinning_threads():
    """The real thing: after a 2-thread NumPy call OpenBLAS's worker spins (~0.1 s here);
    wait_quiet returns only once it stopped, and right away when nothing spins."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs for a BLAS worker thread")
    a = np.random.default_rng(0).uniform(-1, 1, (256, 256))
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        for _ in range(3):
            a @ a
        spinning = timing.running_threads()
        q = timing.wait_quiet("numpy")
    if not spinning:
        pytest.skip("this BLAS's workers do not spin after a call")
    assert q.quiet and q.seconds > 0.005
    assert timing.running_threads() == []
    again = timing.wait_quiet("numpy")
    assert again.quiet and again.seconds < 0.05


@linux_proc
def test_watch_sees_a_thread_kept_off_its_cpu():
    """Two threads of this process spinning on one allowed CPU: each waits about half the
    time, and doubts() says so; one sleeping thread waits for nothing."""
    import threading
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("needs sched_setaffinity")
    cpus = os.sched_getaffinity(0)
    with timing.Watch() as idle:
        time.sleep(0.05)
    assert idle.waited is not None and idle.waited < 0.1
    stop = time.perf_counter() + 0.3

    def spin():
        os.sched_setaffinity(0, {min(cpus)})
        x = np.ones(200_000)
        while time.perf_counter() < stop:
            np.sqrt(x, out=x)  # releases the GIL: both threads want the one CPU
    try:
        os.sched_setaffinity(0, {min(cpus)})
        helper = threading.Thread(target=spin)
        with timing.Watch() as busy:
            helper.start()
            spin()
            helper.join()
    finally:
        os.sched_setaffinity(0, cpus)
    assert busy.waited > 0.3, busy.waited
    assert any(d.startswith("waited") for d in timing.doubts(Timing(1, 1, 1, 5), 1, busy))


def test_spread_is_median_over_min_not_max():
    steady_but_preempted = Timing(median=1.0e-4, min=0.95e-4, max=1.1e-2, repeats=500)
    assert timing.doubts(steady_but_preempted) == []
    half_slow = Timing(median=5e-3, min=1e-3, max=6e-3, repeats=9)
    assert timing.doubts(half_slow) == ["spread 5x"]
    assert timing.doubts(Timing(5e-3, 1e-3, 6e-3, 2)) == []  # too few calls to judge


@pytest.mark.parametrize("n0, t0, n1, t1, doubtful", [
    (128, 1e-3, 256, 8e-3, False),      # n^3
    (256, 3e-4, 512, 2.4e-3, False),    # n^3, both past the fixed costs
    (128, 1.6e-2, 256, 1.3e-3, True),   # falls as n doubles: the c_omp-after-NumPy case
    (128, 1e-3, 256, 1.5e-3, True),     # n^0.58
    (128, 1e-3, 256, 0.2, True),        # n^7.6
    (128, 5e-5, 256, 5e-5, False),      # overhead-bound: flat is honest
])
def test_exponent_doubt(n0, t0, n1, t1, doubtful):
    text = timing.exponent_doubt(n0, t0, n1, t1)
    assert bool(text) == doubtful, text
    if doubtful:
        assert text.startswith("exponent ") and f"(n {n0}-{n1})" in text


def test_quiet_is_cheap_when_nothing_spins():
    t0 = time.perf_counter()
    for _ in range(20):
        q = timing.wait_quiet("c_simd")
    assert isinstance(q, Quiet)
    assert time.perf_counter() - t0 < 1.0


@linux_proc
def test_watch_sees_another_process_on_the_machine():
    import subprocess
    import sys
    with timing.Watch() as alone:
        time.sleep(0.2)
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        with timing.Watch() as shared:
            time.sleep(0.3)
    finally:
        neighbour.kill()
        neighbour.wait()
    assert shared.others > 0.7, shared.others  # one CPU, give or take the ticks
    assert any(d.startswith("shared") for d in timing.doubts(None, 1, shared))
    assert alone.others is not None and shared.others > alone.others + 0.5
