"""`matmul-ladder list`: the kernels as a table (name, language, rung, parallel, available, description)."""
import os
import sys

from matmul_ladder.api import TABLE_HEADER, TABLE_OPERATIONS, kernel_table  # noqa: F401

HEADER, OPERATIONS = TABLE_HEADER, TABLE_OPERATIONS


def build_parser(parser_class, prog):
    p = parser_class(prog=f"{prog} list", description=(
        "The kernels of the ladders and the baselines, in ladder order: name, language, rung, "
        "whether it takes threads, whether it runs here (and why not), what it does."))
    p.add_argument("--operation", choices=OPERATIONS, default="matmul",
                   help="matmul (default), conv2d, or all")
    p.add_argument("--available", action="store_true", help="only the kernels that run here")
    return p


def main(argv, parser_class, prog):
    args = build_parser(parser_class, prog).parse_args(argv)
    try:
        print(kernel_table(args.operation, args.available), flush=True)
    except BrokenPipeError:  # `matmul-ladder list | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
