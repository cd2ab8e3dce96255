"""`matmul-ladder list`: the kernels as a table (name, language, rung, parallel, available, description)."""
import os
import sys

from matmul_ladder.report.tables import text_table

HEADER = ["name", "language", "rung", "parallel", "available", "description"]
OPERATIONS = ("matmul", "conv2d", "all")


def kernel_table(operation="matmul", available_only=False):
    """ml.kernels(operation) as a text table, in ladder order ('all': both operations, with
    an operation column). "available" is "yes", or "no [i]" with reason i below the table
    (one note a distinct reason, so that twenty GPU kernels share one line)."""
    import matmul_ladder as ml
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(OPERATIONS)}, got {operation!r}")
    rows, reasons = [], {}
    for k in ml.kernels(None if operation == "all" else operation):
        if available_only and not k.available:
            continue
        note = "yes" if k.available else f"no [{reasons.setdefault(k.reason, len(reasons) + 1)}]"
        row = [k.name, k.language, "-" if k.rung is None else k.rung,
               "yes" if k.parallel else "no", note, k.description]
        rows.append(row[:1] + [k.operation] + row[1:] if operation == "all" else row)
    header = HEADER[:1] + ["operation"] + HEADER[1:] if operation == "all" else HEADER
    notes = [f"[{i}] {reason}" for reason, i in reasons.items()]
    return "\n".join([text_table(header, rows)] + ([""] + notes if notes else []))


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
