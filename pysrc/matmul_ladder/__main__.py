import sys

from matmul_ladder.cli.commands import main

sys.exit(main())
