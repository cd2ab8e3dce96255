"""Where do the Cython rungs still touch Python? `cython -a` for every Cython rung.

    python experiments/cython_annotate.py [--out results/cython_annotate]

Writes <rung>.html (open it in a browser: yellow lines call into the Python C-API, darker is
more) and prints, for each rung, the lines with a non-zero score and whether any of them lies
inside the `with nogil:` block, where the loops are (there should be none).
"""
import argparse
import os
import sys

from matmul_ladder.studies import cython_annotate as study

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join("results", "cython_annotate"))
    args = p.parse_args(argv)
    return study.run(ROOT, args.out)


if __name__ == "__main__":
    sys.exit(main())
