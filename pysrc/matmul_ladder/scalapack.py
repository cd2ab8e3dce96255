"""Keeps the command line `python -m matmul_ladder.scalapack` (and this import path): the
ScaLAPACK PDGEMM baseline lives in matmul_ladder.dist.scalapack, whose main this runs."""
import sys

from matmul_ladder.dist.scalapack import INSTALL, LIBRARIES, entries, global_indices, load, main

__all__ = ["INSTALL", "LIBRARIES", "entries", "global_indices", "load", "main"]

if __name__ == "__main__":
    sys.exit(main())
