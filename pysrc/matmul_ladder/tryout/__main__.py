"""python -m matmul_ladder.tryout FILE.c: the same as matmul-ladder try FILE.c."""
import sys

from matmul_ladder.tryout.command import main

if __name__ == "__main__":
    sys.exit(main())
