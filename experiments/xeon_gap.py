"""Issue 35, the last 10% on the 16-core Xeon: each loop variant of c_simd/c_omp raced call by
call against today's default loop nest and NumPy, in one process, so that drift hits all alike.

    python experiments/xeon_gap.py --threads 16 --budget 240 --out xeon_gap
    python experiments/xeon_gap.py --threads 2 --sizes 2048 --budget 120

Contenders at each dtype (float64 first), n and thread count (1: c_simd; --threads: c_omp),
besides NumPy on the same threads and "default" (no variant, ml.set_loop_variants(())):
  prefetch     the micro-kernel prefetches A and B ahead and the C tile near its loop's end;
  hugepages    packing buffers 2 MiB-aligned, advised MADV_HUGEPAGE;
  pack_b_rows  c_omp's threads pack B's panel by rows of k (not raced on 1 thread);
  l2_kc        KC without L1's cap (raced only where that changes the sizes on this CPU);
  all          those together;
  MC m KC k    float64 at these block sizes (--f64-blocking; the tuner's find on the Xeon).
Every contender's answer is checked before it is timed. 1-thread races alternate single calls;
multi-threaded ones alternate blocks of calls (--block seconds), each begun once the other
library's pools have gone quiet (bench/race.py). "vs default" and "vs NumPy" are medians over
rounds of the paired ratios t(other) / t(contender): above 1 is faster. "% peak" is against
the FMA peak on the same threads, read before and after the race (the higher). "KC x MC" are
the sizes before they are fitted to the product.

--budget bounds the whole run: each race gets a share of what is left in proportion to its
expected cost, and a race whose share cannot fit three rounds is skipped (and listed) rather
than started. Writes xeon_gap.csv, xeon_gap.txt (the table, with this command) and
machine.json (the build, the BLAS, and the kernel's transparent huge page settings) to --out.
"""
import argparse
import os
import shlex
import sys

from matmul_ladder.studies import xeon_gap as study


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="c_omp's thread count")
    p.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096], help="n of the n x n products")
    p.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    p.add_argument("--budget", type=float, default=240.0, help="seconds for the whole run")
    p.add_argument("--block", type=float, default=0.3, help="seconds of each block of calls (threads > 1)")
    p.add_argument("--min-time", type=float, default=1.0, help="seconds of rounds a race asks for")
    p.add_argument("--f64-blocking", default="240x696", metavar="MCxKC",
                   help="also race float64 at these sizes ('' for none)")
    p.add_argument("--out", default="xeon_gap", help="folder for the CSV, table and machine.json")
    args = p.parse_args(argv)
    if args.threads < 1 or args.budget <= 0 or any(n < 1 for n in args.sizes):
        p.error("--threads, --budget and --sizes must be positive")
    try:
        study.parse_blocking(args.f64_blocking)
    except ValueError as exc:
        p.error(str(exc))
    args.dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    args.command = "python experiments/xeon_gap.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    return study.run(args)


if __name__ == "__main__":
    sys.exit(main())
