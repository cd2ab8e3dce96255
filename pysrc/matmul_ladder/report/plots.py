"""The plots of a run: GFLOP/s and time against n, and the ladder as bars."""
import os

from matmul_ladder.report.results import Table, _square, default_ladder_size, ladder_groups, series_label
from matmul_ladder.bench.timing import gflops, matmul_flops


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
                ax.plot(n, [gflops(matmul_flops(x, x, x), t) for x, t in pts], "o-" if threads <= 1 else "s--",
                        label=series_label(kernel, threads, mode))
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
                label = series_label(kernel, threads, mode) + (f": t ~ n^{fit[0]:.2f}" if fit else "")
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
        fig.suptitle("The ladder (grey: estimated as n^3 from the largest measured size)")
        files.append(_save(fig, out_dir, "ladder_bar.png"))
    return files


def _series_keys(table):
    keys = []
    for r in table.ok:
        if _square(r):
            key = (r["kernel"], r["threads"], r["mode"])
            if key not in keys:
                keys.append(key)
    return keys


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


