"""Do the top C rungs reach NumPy? c_simd against NumPy on 1 thread, c_omp against NumPy on
all threads, timed call by call in one process with NumPy's BLAS pinned to the same threads;
and c_strassen on 1 and all threads where the shape reaches its cutoff (its GFLOP/s count the
classical 2 M K N operations, so they exceed the peak where it saves enough).

    python experiments/versus_numpy.py                  # the goal shapes, float32 and float64
    python experiments/versus_numpy.py --shape 1x25600x100 --dtype float32 --threads 2

ratio = t(NumPy) / t(kernel): 1.0 is parity, above 1 the kernel is faster. Every answer is
checked before timing. "% peak" is against the FMA microbenchmark (fma_peak.c) on the same
threads, measured just before and just after each race (the higher is shown as "peak", the
harness's rule, bench/roofs.py): this machine's speed drifts by up to ~15% within minutes, so
a peak taken once at the start may belong to another phase. (Measured inside the race,
between rounds, the 50 ms pause let the operands leave the shared caches and slowed the next
call.)
"ukernel % peak" (1 thread) is the ceiling beside it: the micro-kernel alone, on one pair of
packed panels that stay in L1/L2 (fma_peak.c), measured with the peak. What c_simd loses
below it is L3, the loop nest and packing; what the ceiling loses below 100% is the kernel's
loads, and in this VM's busy phases what behaves like a sibling hyperthread sharing them.
1-thread races alternate call by call; multi-threaded ones alternate blocks of calls (--block
seconds, each started once the other library's pools have gone quiet, first call dropped), so
that neither library's spinning idle threads slow the other (see matmul_ladder/compare.py);
the peaks are measured once those pools are quiet too (timing.wait_quiet).
"error" and "NumPy error" are the two answers' normwise errors against float64,
||C - C_ref||_F / ||C_ref||_F: a faster kernel must not buy its speed with accuracy.
"doubt" says why a race is doubtful, by timing.doubts' rules: either contender's rounds spread
over 2x their fastest, or the process's threads waiting for a CPU (another process had the
cores) or the hypervisor stealing during the race; empty when nothing does.
"""
import argparse
import os
import sys

from matmul_ladder.cli import commands as cli
from matmul_ladder.studies import versus_numpy as study
from matmul_ladder.studies.versus_numpy import parse_contenders


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", type=cli.parse_shape, action="append", help="MxKxN (repeatable); default: the goal shapes")
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="thread count of the c_omp race")
    p.add_argument("--min-time", type=float, default=1.0, help="seconds of rounds per race")
    p.add_argument("--block", type=float, default=0.3,
                   help="multi-threaded races alternate blocks of this many seconds (see compare.py)")
    p.add_argument("--kernels", type=parse_contenders, default=None, metavar="NAME[:THREADS],...",
                   help="only these races, e.g. c_strassen:16 (default: all of them)")
    return study.run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
