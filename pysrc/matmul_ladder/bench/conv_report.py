"""The convolution ladder's results: its CSV read back, its tables, plots and REPORT.md, built
from the CSV alone (so `matmul-ladder conv --from-csv` rebuilds them)."""
import os

from matmul_ladder.rungs import registry as _registry
from matmul_ladder.report.ladder import cut_short_headline
from matmul_ladder.report.results import fit_exponent, read_rows
from matmul_ladder.report.tables import markdown_table

REQUIRED = ("kernel", "language", "rung", "device", "dtype", "N", "threads", "status",
            "median_s", "gpix_s", "gb_s", "pct_roof", "note")
NUMERIC = {"N": int, "threads": int}
FIT_FROM_N = 512  # smaller images time call overheads


def load_csv(path):
    """The rows of a conv.csv, N and threads cast; ValueError if it is not one."""
    return read_rows(path, REQUIRED, NUMERIC)


def ok_rows(rows):
    return [r for r in rows if r["status"] == "ok"]


def series(rows, kernel, dtype, threads):
    return sorted((r["N"], float(r["median_s"]), float(r["gb_s"])) for r in ok_rows(rows)
                  if r["kernel"] == kernel and r["dtype"] == dtype and r["threads"] == threads)


def series_keys(rows):
    order = {k.name: i for i, k in enumerate(_registry.KERNELS)}
    keys = {(r["kernel"], r["threads"]) for r in ok_rows(rows)}
    return sorted(keys, key=lambda k: (order.get(k[0], 999), k[1]))


def exponent(points):
    """Slope of log(time) against log(N) from N >= 512 (report.results.fit_exponent), or None
    with fewer than two sizes."""
    fit = fit_exponent(points, FIT_FROM_N)
    return None if fit is None else fit[0]


def label(kernel, threads):
    return kernel + (f" ({threads}t)" if threads > 1 else "")


HEADER = ["kernel", "threads", "Gpix/s", "GB/s", "% of roof", "x previous rung", "error"]


def table(rows, dtype, n):
    """Markdown: every kernel at size n, ladder order, with Gpix/s, GB/s and % of the roof."""
    cells, previous = [], None
    for kernel, threads in series_keys(rows):
        r = next((r for r in ok_rows(rows) if r["kernel"] == kernel and r["threads"] == threads
                  and r["dtype"] == dtype and r["N"] == n), None)
        if r is None:
            continue
        speed = float(r["gpix_s"])
        step = ""
        if r["rung"] != "" and r["language"] == "C" and threads == 1:
            step = f"{speed / previous:.2f}x" if previous else ""
            previous = speed
        error = r.get("normwise_error")
        cells.append([kernel, threads, f"{speed:.3g}", f"{float(r['gb_s']):.3g}",
                      r["pct_roof"] or "-", step,
                      "-" if error in (None, "") else f"{float(error):.2g}"])
    return markdown_table(HEADER, cells)


def roofs_from_rows(rows):
    """The bandwidth roofs a run recorded in its CSV (roof_gb_s of its CPU and GPU rows)."""
    roofs = {"triad": {}, "copy_gpu": None, "fma": {}}
    for r in ok_rows(rows):
        if r.get("roof_gb_s"):
            if r["device"] == "gpu":
                roofs["copy_gpu"] = float(r["roof_gb_s"])
            else:
                roofs["triad"][r["threads"]] = float(r["roof_gb_s"])
    return roofs
def _style(kernel, threads, colours):
    """One colour per kernel (20 to go round), the language by line and marker: C solid with
    circles, Cython dashed with squares, Python and the baselines dotted with triangles; more
    than one thread hollow."""
    import matplotlib
    if kernel not in colours:
        colours[kernel] = matplotlib.colormaps["tab20"](len(colours) % 20)
    language = ("C" if kernel.startswith("conv_c_") else "Cython" if kernel.startswith("conv_cy_")
                else "other")
    line, marker = {"C": ("-", "o"), "Cython": ("--", "s"), "other": (":", "^")}[language]
    return dict(color=colours[kernel], ls=line, marker=marker,
                mfc="none" if threads > 1 else colours[kernel])


def plot_all(rows, out_dir, roofs):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    dtypes = sorted({r["dtype"] for r in ok_rows(rows)})
    files = []
    if not dtypes:
        return files
    for name, ylabel, pick in (("conv_time_vs_n.png", "seconds per call", 1),
                               ("conv_gbs_vs_n.png", "GB/s (2 S bytes per output)", 2)):
        fig, axes = plt.subplots(1, len(dtypes), figsize=(9.5 * len(dtypes), 5.5), squeeze=False)
        colours = {}
        for ax, dtype in zip(axes[0], dtypes):
            for kernel, threads in series_keys(rows):
                pts = series(rows, kernel, dtype, threads)
                if not pts:
                    continue
                text = label(kernel, threads)
                if pick == 1:
                    fit = exponent(pts)
                    text += f", N^{fit:.2f}" if fit is not None else ""
                ax.plot([p[0] for p in pts], [p[pick] for p in pts], label=text,
                        **_style(kernel, threads, colours))
            if pick == 2:
                for t, gbs in sorted((roofs.get("triad") or {}).items()):
                    ax.axhline(gbs, color="k", ls=":" if t == 1 else "-.", lw=1,
                               label=f"STREAM triad, {t} thread{'s' if t > 1 else ''}: {gbs:.3g} GB/s")
                if roofs.get("copy_gpu"):
                    ax.axhline(roofs["copy_gpu"], color="g", ls=":", lw=1,
                               label=f"GPU copy: {roofs['copy_gpu']:.4g} GB/s")
            ax.set(yscale="log", xlabel="N (image N x N)", ylabel=ylabel,
                   title=f"3x3 convolution, {dtype}")
            ax.set_xscale("log", base=2)   # the sizes themselves as ticks, not 3x10^2
            sizes = sorted({int(r["N"]) for r in rows if r.get("dtype") == dtype})
            if sizes:
                ax.set_xticks(sizes, [str(n) for n in sizes])
            ax.minorticks_off()
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize=6, ncol=1, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        path = os.path.join(out_dir, name)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        files.append(name)
    return files


def _roofs_text(roofs):
    parts = [f"STREAM triad {gbs:.3g} GB/s on {t} thread{'s' if t > 1 else ''}"
             for t, gbs in sorted((roofs.get("triad") or {}).items())]
    if roofs.get("copy_gpu"):
        parts.append(f"GPU device-to-device copy {roofs['copy_gpu']:.4g} GB/s")
    parts += [f"FMA peak {dtype} {t}t {g:.3g} GFLOP/s"
              for (dtype, t), g in sorted((roofs.get("fma") or {}).items())]
    return "; ".join(parts)


def cut_short_lines(rows, status):
    """The matmul report's cut-short notice (report.ladder), and the sizes each dtype reached."""
    headline = cut_short_headline(rows, status)
    if not headline:
        return []
    reached = "; ".join(f"{d}: " + ", ".join(f"N = {n}: {c}" for n, c in sorted(per.items()))
                        for d, per in sorted(_counts(rows).items()))
    return [headline, f"Rows at each size: {reached or 'none'}.", ""]


def _counts(rows):
    counts = {}  # dtype -> {N: rows}
    for r in rows:
        if r["status"] != "unavailable":
            per = counts.setdefault(r["dtype"], {})
            per[r["N"]] = per.get(r["N"], 0) + 1
    return counts


def report(rows, out_dir, roofs, command="", status=None):
    """REPORT.md and the plots; `status` is the run's run_status.json (None: none)."""
    plots = plot_all(rows, out_dir, roofs)
    lines = ["# The 3x3 convolution ladder", ""] + cut_short_lines(rows, status)
    if command:
        lines += [f"Command: `{command}`", ""]
    lines += ["Measured in this run: " + (_roofs_text(roofs) or "no roofs") + ".", "",
              "Bytes counted per output: one input read and one output written, 2 S (8 in "
              "float32, 16 in float64), over (N - 2)^2 outputs; '% of roof' is against the "
              "triad on the same thread count (CPU) or the device copy (GPU). A plain store "
              "also reads its line first, so a kernel without streaming stores really moves "
              "3 S per output. '% of roof' can pass 100%: where the image's three rows in use "
              "stay in cache (N up to a few thousand: 3 N S bytes against the L2), the input "
              "comes from cache, not memory, and the triad (memory to memory) is not the "
              "ceiling; past the L3 it is. 'error' is the output's normwise error against "
              "float64, ||y - y_ref||_F / ||y_ref||_F.", ""]
    sizes = sorted({r["N"] for r in ok_rows(rows)})
    for dtype in sorted({r["dtype"] for r in ok_rows(rows)}):
        for n in [s for s in sizes if s in (1024, max(sizes))] or sizes[-1:]:
            lines += [f"## {dtype}, N = {n}", "", table(rows, dtype, n), ""]
        fits = []
        for kernel, threads in series_keys(rows):
            fit = exponent(series(rows, kernel, dtype, threads))
            if fit is not None:
                fits.append(f"{label(kernel, threads)} {fit:.2f}")
        if fits:
            lines += [f"Time grows as N^k ({dtype}; fitted from N >= 512, expect 2): " +
                      ", ".join(fits) + ".", ""]
    problems = [r for r in rows if r["status"] in ("FAILED", "ERROR", "OOM")]
    if problems:
        lines += ["## Problems", ""] + [f"- {r['kernel']} {r['dtype']} N={r['N']} "
                                        f"t={r['threads']}: {r['status']}: {r['note']}"
                                        for r in problems] + [""]
    lines += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    path = os.path.join(out_dir, "REPORT.md")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path, plots
