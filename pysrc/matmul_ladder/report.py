"""Tables, plots and REPORT.md, built from the CSV alone, so an old run can be re-reported.

The ladder table gives, for one size, dtype and thread count: time, GFLOP/s, speed-up over
the previous rung, over c_naive and over py_naive, percent of NumPy at the same threads and
percent of the measured FMA peak. Where a slow kernel stopped below that size, its time is
extrapolated from its own fitted power law and marked "~" (estimated, not measured).
"""
import csv
import json
import math
import os

import numpy as np

NUMERIC = {"rung": int, "M": int, "N": int, "K": int, "threads": int, "repeats": int,
           "median_s": float, "min_s": float, "max_s": float, "gflops": float,
           "peak_gflops": float, "pct_peak": float}


def load_csv(path):
    rows = []
    with open(path, newline="") as f:
        for raw in csv.DictReader(f):
            row = dict(raw)
            for key, cast in NUMERIC.items():
                row[key] = cast(row[key]) if row.get(key) not in (None, "") else None
            rows.append(row)
    return rows


def _square(row):
    return row["M"] == row["N"] == row["K"]


class Table:
    """Lookups over one run's rows."""

    def __init__(self, rows):
        self.rows = rows
        self.ok = [r for r in rows if r["status"] == "ok"]
        order = {}
        for r in rows:
            order.setdefault(r["kernel"], (len(order), r["language"], r["rung"]))
        self.kernel_order = order

    def kernels(self):
        return sorted(self.kernel_order, key=lambda k: self.kernel_order[k][0])

    def previous_rung(self, kernel):
        """The rung below `kernel` in its own language; py_naive below the first one."""
        _, lang, rung = self.kernel_order[kernel]
        if rung is None or lang in ("baseline", "Python"):
            return None
        below = [k for k, (_, l, r) in self.kernel_order.items() if l == lang and r is not None and r < rung]
        if below:
            return max(below, key=lambda k: self.kernel_order[k][2])
        return "py_naive" if "py_naive" in self.kernel_order else None

    def series(self, kernel, dtype, threads, mode="compute"):
        """[(n, seconds)] of the kernel's measured square sizes."""
        pts = [(r["N"], r["median_s"]) for r in self.ok if r["kernel"] == kernel and
               r["dtype"] == dtype and r["threads"] == threads and r["mode"] == mode and _square(r)]
        return sorted(pts)

    def exponent(self, kernel, dtype, threads, mode="compute"):
        """(p, c) of the fit log t = p log n + c over sizes >= 128 (or all, if fewer than 2)."""
        pts = self.series(kernel, dtype, threads, mode)
        big = [p for p in pts if p[0] >= 128]
        pts = big if len(big) >= 2 else pts
        if len(pts) < 2:
            return None
        n, t = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
        p, c = np.polyfit(n, t, 1)
        return float(p), float(c)

    def seconds(self, kernel, dtype, threads, n, mode="compute"):
        """(seconds, estimated) at square size n; falls back to 1 thread for serial kernels,
        then to the kernel's power law. (None, False) if neither exists."""
        for t in (threads, 1):
            for r in self.ok:
                if (r["kernel"], r["dtype"], r["threads"], r["mode"], r["N"]) == (kernel, dtype, t, mode, n) and _square(r):
                    return r["median_s"], False
        fit = self.exponent(kernel, dtype, 1 if threads not in self.threads_of(kernel) else threads, mode)
        if fit:
            return math.exp(fit[1] + fit[0] * math.log(n)), True
        return None, False

    def threads_of(self, kernel):
        return sorted({r["threads"] for r in self.rows if r["kernel"] == kernel})

    def ladder(self, dtype, threads, n):
        """Rows of the ladder table at size n for one dtype and thread count (CPU kernels)."""
        out = []
        numpy_s, _ = self.seconds("numpy", dtype, threads, n)
        naive_s, naive_est = self.seconds("c_naive", dtype, 1, n)
        py_s, py_est = self.seconds("py_naive", dtype, 1, n)
        for kernel in self.kernels():
            rows = [r for r in self.rows if r["kernel"] == kernel and r["dtype"] == dtype and
                    r["threads"] == threads and r["N"] == n and _square(r) and r["device"] == "cpu"]
            if not rows:
                continue
            row = rows[0]
            s, est = self.seconds(kernel, dtype, threads, n)
            entry = {"kernel": kernel, "threads": threads, "status": row["status"],
                     "note": row["note"], "seconds": s, "estimated": est,
                     "gflops": 2.0 * n ** 3 / s / 1e9 if s else None,
                     "pct_peak": row["pct_peak"] if row["status"] == "ok" else None}
            prev = self.previous_rung(kernel)
            prev_s, prev_est = self.seconds(prev, dtype, threads, n) if prev else (None, False)
            for key, (base, base_est) in {"x_prev": (prev_s, prev_est), "x_c_naive": (naive_s, naive_est),
                                          "x_py_naive": (py_s, py_est)}.items():
                entry[key] = base / s if base and s else None
                entry[key + "_est"] = base_est or est
            entry["pct_numpy"] = 100 * numpy_s / s if numpy_s and s else None
            out.append(entry)
        return out


def _fmt(x, est=False, unit=""):
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


LADDER_HEADER = ["kernel", "threads", "time", "GFLOP/s", "x prev rung", "x c_naive",
                 "x py_naive", "% NumPy", "% peak", "status"]


def ladder_cells(entry):
    e = entry
    status = e["status"] if e["status"] == "ok" else f"{e['status']}: {e['note']}"
    if e["estimated"] and e["status"] != "ok":
        status = f"estimated (~): {e['note']}"
    return [e["kernel"], str(e["threads"]), _fmt(e["seconds"], e["estimated"], "s"),
            _fmt(e["gflops"], e["estimated"]), _fmt(e["x_prev"], e["x_prev_est"], "x"),
            _fmt(e["x_c_naive"], e["x_c_naive_est"], "x"), _fmt(e["x_py_naive"], e["x_py_naive_est"], "x"),
            _fmt(e["pct_numpy"], e["estimated"], "%"), _fmt(e["pct_peak"], False, "%"), status]


def text_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def markdown_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c).replace("|", "/") for c in r) + " |" for r in rows]
    return "\n".join(out)


def ladder_groups(table, size):
    """[(dtype, threads)] with rows at `size`: the 1-thread ladder, then all-cores ones."""
    groups = []
    for dtype in sorted({r["dtype"] for r in table.rows}):
        for threads in sorted({r["threads"] for r in table.rows if r["device"] == "cpu"}):
            if any(r["dtype"] == dtype and r["threads"] == threads and r["N"] == size and
                   _square(r) for r in table.rows):
                groups.append((dtype, threads))
    return groups


def default_ladder_size(rows):
    sizes = sorted({r["N"] for r in rows if _square(r)})
    return 1024 if 1024 in sizes else (sizes[-1] if sizes else None)


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
    missing = unavailable(rows)
    if missing:
        parts.append("\nNot measured here:\n" + "\n".join(f"  {m}" for m in missing))
    return "\n".join(parts)


def unavailable(rows):
    """['kernels: reason'] for the kernels that could not run here, grouped by reason."""
    by_reason = {}
    for r in rows:
        if r["status"] == "unavailable":
            by_reason.setdefault(r["note"], []).append(r["kernel"])
    return [f"{', '.join(names)}: {reason}" for reason, names in by_reason.items()]


GPU_HEADER = ["kernel", "mode", "dtype", "n", "time", "GFLOP/s", "status"]


def gpu_rows(rows):
    out = []
    for r in rows:
        if r["device"] == "gpu" and r["status"] != "unavailable":
            s = r["median_s"]
            out.append([r["kernel"], r["mode"], r["dtype"], f"{r['M']}x{r['N']}x{r['K']}",
                        _fmt(s, False, "s"), _fmt(r["gflops"]),
                        r["status"] if r["status"] == "ok" else f"{r['status']}: {r['note']}"])
    return out


# ---- plots ----------------------------------------------------------------------------------
def _series_keys(table):
    keys = []
    for r in table.ok:
        if _square(r):
            key = (r["kernel"], r["threads"], r["mode"])
            if key not in keys:
                keys.append(key)
    return keys


def _label(kernel, threads, mode):
    if threads == 0:
        return f"{kernel} ({mode})"
    return f"{kernel} ({threads}t)"


def plot_all(rows, out_dir, size=None):
    """Write the PNG plots; returns their file names."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = Table(rows)
    dtypes = sorted({r["dtype"] for r in table.ok})
    if not dtypes:
        return []
    size = size or default_ladder_size(rows)
    files = []

    fig, axes = plt.subplots(1, len(dtypes), figsize=(7 * len(dtypes), 5), squeeze=False)
    for ax, dtype in zip(axes[0], dtypes):
        for kernel, threads, mode in _series_keys(table):
            pts = table.series(kernel, dtype, threads, mode)
            if pts:
                n = [p[0] for p in pts]
                ax.plot(n, [2.0 * x ** 3 / t / 1e9 for x, t in pts], "o-" if threads <= 1 else "s--",
                        label=_label(kernel, threads, mode))
        ax.set(yscale="log", ylabel="GFLOP/s", title=f"Speed against size, {dtype}")
        _size_axis(ax, table)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    files.append(_save(fig, out_dir, "gflops_vs_n.png"))

    fig, axes = plt.subplots(1, len(dtypes), figsize=(7 * len(dtypes), 5), squeeze=False)
    for ax, dtype in zip(axes[0], dtypes):
        for kernel, threads, mode in _series_keys(table):
            pts = table.series(kernel, dtype, threads, mode)
            fit = table.exponent(kernel, dtype, threads, mode)
            if pts:
                label = _label(kernel, threads, mode) + (f": t ~ n^{fit[0]:.2f}" if fit else "")
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=label)
        ax.set(yscale="log", ylabel="median time (s)", title=f"Time against size (log-log), {dtype}")
        _size_axis(ax, table)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    files.append(_save(fig, out_dir, "time_vs_n.png"))

    groups = ladder_groups(table, size)
    if groups:
        fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 5), squeeze=False)
        for ax, (dtype, threads) in zip(axes[0], groups):
            entries = [e for e in table.ladder(dtype, threads, size) if e["gflops"]]
            names = [e["kernel"] for e in entries]
            values = [e["gflops"] for e in entries]
            bars = ax.barh(names, values, color=["#bbb" if e["estimated"] else "#3a7" if e["kernel"] in
                                                  ("numpy", "torch_cpu") else "#37a" for e in entries])
            for bar, e in zip(bars, entries):
                ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                        f" {'~' if e['estimated'] else ''}{e['gflops']:.3g}", va="center", fontsize=8)
            ax.invert_yaxis()
            ax.set(xscale="log", xlabel="GFLOP/s (log)", title=f"{dtype}, n = {size}, {threads} thread(s)")
        fig.suptitle("The ladder (grey: estimated from the kernel's own power law)")
        files.append(_save(fig, out_dir, "ladder_bar.png"))
    return files


def _size_axis(ax, table):
    sizes = sorted({r["N"] for r in table.ok if _square(r)})
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.minorticks_off()
    ax.set_xlabel("n (square matrices)")


def _save(fig, out_dir, name):
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, name), dpi=110)
    plt.close(fig)
    return name


# ---- REPORT.md --------------------------------------------------------------------------
def relations(table, size):
    """Sentences read from the data: the gap, the step that closes most of it, the exponents."""
    lines = []
    for dtype in sorted({r["dtype"] for r in table.ok}):
        entries = {e["kernel"]: e for e in table.ladder(dtype, 1, size)}
        naive, npy = entries.get("c_naive"), entries.get("numpy")
        if naive and npy and naive["seconds"] and npy["seconds"]:
            lines.append(f"- **{dtype}, n = {size}, 1 thread:** NumPy is "
                         f"{naive['seconds'] / npy['seconds']:,.0f}x faster than plain C (c_naive).")
            steps = [(e["kernel"], e["x_prev"]) for e in entries.values()
                     if e["x_prev"] and e["kernel"].startswith("c_") and e["kernel"] != "c_naive"]
            if steps:
                lines.append("  Steps up the C ladder: " + ", ".join(f"{k} {x:.3g}x" for k, x in steps) + ".")
                best = max(steps, key=lambda s: s[1])
                lines.append(f"  The largest single step is {best[0]} ({best[1]:.3g}x).")
        simd = entries.get("c_simd")
        if simd and simd["pct_numpy"]:
            lines.append(f"  c_simd runs at {simd['pct_numpy']:.0f}% of NumPy's speed on one thread.")
        py = entries.get("py_naive")
        if py and py["seconds"] and npy and npy["seconds"]:
            est = " (py_naive extrapolated)" if py["estimated"] else ""
            lines.append(f"  NumPy is {py['seconds'] / npy['seconds']:,.0f}x faster than pure Python{est}.")
    fits = []
    for kernel in table.kernels():
        for dtype in sorted({r["dtype"] for r in table.ok}):
            for threads in table.threads_of(kernel):
                for mode in ("compute", "copies"):
                    fit = table.exponent(kernel, dtype, threads, mode)
                    if fit:
                        fits.append([_label(kernel, threads, mode), dtype, f"{fit[0]:.2f}"])
    return lines, fits


def build(csv_path, out_dir=None, machine=None, size=None, command=None):
    """Rebuild the plots and REPORT.md from a CSV (and machine.json beside it, if any)."""
    out_dir = out_dir or os.path.dirname(os.path.abspath(csv_path))
    os.makedirs(out_dir, exist_ok=True)
    rows = load_csv(csv_path)
    if machine is None:
        path = os.path.join(os.path.dirname(os.path.abspath(csv_path)), "machine.json")
        if os.path.exists(path):
            with open(path) as f:
                machine = json.load(f)
    size = size or default_ladder_size(rows)
    plots = plot_all(rows, out_dir, size)
    text = report_markdown(rows, machine or {}, size, plots, command)
    with open(os.path.join(out_dir, "REPORT.md"), "w") as f:
        f.write(text)
    return os.path.join(out_dir, "REPORT.md"), plots


def _machine_lines(m):
    if not m:
        return ["(no machine.json beside the CSV)"]
    cpu, build, blas = m.get("cpu", {}), m.get("build", {}), m.get("blas", {})
    gpu = m.get("gpu", {})
    lines = [f"- CPU: {cpu.get('model')}, {cpu.get('cores')} cores, features "
             f"{', '.join(cpu.get('features', []))}; caches {cpu.get('caches')}",
             f"- Compiler: {build.get('compiler_version')}; plain rungs `{build.get('flags', {}).get('c_naive', '')}`",
             f"- SIMD micro-kernel: {build.get('simd', {}).get('active')}; OpenMP: {build.get('openmp')}",
             f"- NumPy's BLAS: {blas.get('internal_api')} {blas.get('version')} ({blas.get('architecture')} kernels)",
             f"- Versions: {', '.join(f'{k} {v}' for k, v in m.get('versions', {}).items())}"]
    if gpu.get("available"):
        lines.append(f"- GPU: {gpu.get('name')}, CUDA runtime {gpu.get('cuda_runtime')}, driver {gpu.get('driver')}")
    else:
        lines.append(f"- GPU: none ({gpu.get('reason', 'not checked')})")
    return lines


def report_markdown(rows, machine, size, plots, command=None):
    table = Table(rows)
    run = rows[0]["run"] if rows else "?"
    out = [f"# matmul-ladder report: run {run}", ""]
    if command:
        out += ["Command:", "", f"    {command}", ""]
    out += ["## Machine", ""] + _machine_lines(machine) + [""]
    out += ["## How to read this", "",
            "GFLOP/s = 2·M·N·K / median time. Every result was checked against float64 NumPy "
            "with the bound |C − C_ref| ≤ 2·K·ε·(|A|·|B|) before it was timed. Medians of at least "
            "3 repeats (fewer only where one call passes the budget; see the CSV's `repeats`). "
            "`~` marks a time extrapolated from the kernel's own fitted power law, because the "
            "kernel stopped below this size under the per-call budget. These machines are shared "
            "and noisy: differences under about 10% mean nothing.", ""]
    lines, fits = relations(table, size)
    if lines:
        out += ["## What the numbers say", ""] + lines + [""]
    for dtype, threads in ladder_groups(table, size):
        out += [f"## Ladder: {dtype}, n = {size}, {threads} thread{'s' if threads > 1 else ''}", "",
                markdown_table(LADDER_HEADER, [ladder_cells(e) for e in table.ladder(dtype, threads, size)]), ""]
    gpu = gpu_rows(rows)
    if gpu:
        out += ["## GPU", "", "compute: data already on the GPU, timed with CUDA events; copies: "
                "host arrays in, host array out, host clock.", "", markdown_table(GPU_HEADER, gpu), ""]
    others = [r for r in rows if not _square(r) and r["device"] == "cpu"]
    if others:
        out += ["## Non-square shapes", "", markdown_table(
            ["kernel", "threads", "dtype", "M x N x K", "time", "GFLOP/s", "status"],
            [[r["kernel"], r["threads"], r["dtype"], f"{r['M']}x{r['N']}x{r['K']}",
              _fmt(r["median_s"], False, "s"), _fmt(r["gflops"]),
              r["status"] if r["status"] == "ok" else f"{r['status']}: {r['note']}"] for r in others]), ""]
    if fits:
        out += ["## Time against size", "",
                "Fitted exponent p of time ∝ n^p over the measured sizes n ≥ 128. The arithmetic is "
                "n^3 for every kernel; p below 3 means fixed overheads still matter at the small "
                "sizes, p above 3 means the kernel gets less efficient as n grows (cache misses).", "",
                markdown_table(["kernel", "dtype", "p"], fits), ""]
    missing = unavailable(rows)
    if missing:
        out += ["## Not measured here", ""] + [f"- {m}" for m in missing] + [""]
    bad = [r for r in rows if r["status"] in ("FAILED", "ERROR", "OOM")]
    if bad:
        out += ["## Failures", ""] + [f"- {r['kernel']} {r['dtype']} {r['M']}x{r['N']}x{r['K']} "
                                      f"t={r['threads']}: {r['status']}: {r['note']}" for r in bad] + [""]
    if plots:
        out += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(out)
