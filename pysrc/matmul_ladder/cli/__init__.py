"""The command line: matmul-ladder and its subcommands."""
from matmul_ladder.cli.commands import main  # noqa: F401  (matmul-ladder's entry point)
