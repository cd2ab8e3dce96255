"""Text and Markdown tables of a run: the ladder table, the GPU table, what could not run.
Each measured row gives its normwise error against float64 ("error") beside its speed, and a
row the harness found doubtful says why in its status ("ok; doubtful: spread 3.1x")."""
from matmul_ladder.report.results import Table, default_ladder_size, ladder_groups, unavailable


def fmt(x, est=False, unit=""):
    if x is None:
        return "-"
    mark = "~" if est else ""
    if unit == "s":
        return f"{mark}{x:.3g} s" if x >= 1e-3 else f"{mark}{x * 1e3:.3g} ms"
    if unit == "x":
        return f"{mark}{x:,.3g}x" if x < 1000 else f"{mark}{x:,.0f}x"
    if unit == "%":
        return f"{mark}{x:.0f}%" if x >= 1 else f"{mark}{x:.2g}%"
    return f"{mark}{x:,.3g}"


def fmt_error(x):
    """||C - C_ref||_F / ||C_ref||_F, two digits: '3.1e-07', '0' for an exact answer."""
    if x is None:
        return "-"
    return "0" if x == 0 else f"{x:.2g}"


def status_cell(status, note, flag):
    """'ok', 'ok; doubtful: spread 3.1x', or 'FAILED: why'."""
    if status != "ok":
        return f"{status}: {note}"
    return f"ok; doubtful: {flag}" if flag else "ok"


LADDER_HEADER = ["kernel", "threads", "time", "GFLOP/s", "x prev rung", "x c_naive",
                 "x py_naive", "% NumPy", "% peak", "error", "status"]


def ladder_cells(entry):
    e = entry
    status = status_cell(e["status"], e["note"], e.get("flag"))
    if e["estimated"] and e["status"] != "ok":
        status = f"estimated (~): {e['note']}"
    return [e["kernel"], str(e["threads"]), fmt(e["seconds"], e["estimated"], "s"),
            fmt(e["gflops"], e["estimated"]), fmt(e["x_prev"], e["x_prev_est"], "x"),
            fmt(e["x_c_naive"], e["x_c_naive_est"], "x"), fmt(e["x_py_naive"], e["x_py_naive_est"], "x"),
            fmt(e["pct_numpy"], e["estimated"], "%"), fmt(e["pct_peak"], False, "%"),
            fmt_error(e.get("error")), status]


def text_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def markdown_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c).replace("|", "/") for c in r) + " |" for r in rows]
    return "\n".join(out)


GPU_HEADER = ["kernel", "mode", "dtype", "MxKxN", "time", "GFLOP/s", "error", "status"]


def gpu_rows(rows):
    out = []
    for r in rows:
        if r["device"] == "gpu" and r["status"] != "unavailable":
            s = r["median_s"]
            out.append([r["kernel"], r["mode"], r["dtype"], f"{r['M']}x{r['K']}x{r['N']}",
                        fmt(s, False, "s"), fmt(r["gflops"]), fmt_error(r.get("normwise_error")),
                        status_cell(r["status"], r["note"], r.get("flag"))])
    return out


def console_tables(rows, size=None):
    table = Table(rows)
    size = size or default_ladder_size(rows)
    parts = []
    for dtype, threads in ladder_groups(table, size):
        parts.append(f"\n{dtype}, n = {size}, {threads} thread{'s' if threads > 1 else ''}")
        parts.append(text_table(LADDER_HEADER, [ladder_cells(e) for e in table.ladder(dtype, threads, size)]))
    gpu = gpu_rows(rows)
    if gpu:
        parts.append("\nGPU (compute: data on the GPU, CUDA events; copies: host arrays in and out)")
        parts.append(text_table(GPU_HEADER, gpu))
    doubtful = table.flagged()
    if doubtful:
        parts.append(f"\nDoubtful timings ({len(doubtful)}; see REPORT.md):\n" + "\n".join(
            f"  {r['kernel']} {r['dtype']} {r['M']}x{r['K']}x{r['N']} t={r['threads']}: {r['flag']}"
            for r in doubtful))
    missing = unavailable(rows)
    if missing:
        parts.append("\nNot measured here:\n" + "\n".join(f"  {m}" for m in missing))
    return "\n".join(parts)


