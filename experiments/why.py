"""Explain the gap: every rung's speed-up attributed to a cause, each hypothesis verified.

    python experiments/why.py --quick      # < 5 min on 2 cores: counters, cliff, ISA, scaling, roofline
    python experiments/why.py              # larger sizes
    python experiments/why.py --only scaling --out results/why16   # e.g. on a 16-core host

Writes why.csv, WHY.md and cliff.png, scaling.png, roofline.png. A thin script over
matmul_ladder.explain.why; needs valgrind (cachegrind) and objdump for the counters and ISA column.
"""
import sys

from matmul_ladder.explain.why import main

if __name__ == "__main__":
    sys.exit(main())
