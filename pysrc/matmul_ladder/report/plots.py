"""The plots of a run: the ladder as bars (the run's summary figure), and GFLOP/s and time
against n, in panels a reader can follow.

Colour is the rung's step (naive, ikj, blocked, SIMD, threads, ...), the same in every
language; C is a solid line with circles, Cython a dashed line with squares, Python a dotted
line with triangles, the baselines grey and black with stars and diamonds."""
import json
import os

from matmul_ladder.report.results import Table, _square, default_ladder_size, ladder_groups, series_label
from matmul_ladder.bench.timing import gflops, matmul_flops

LANGUAGE_COLOUR = {"Python": "#e6ab02", "C": "#1f78b4", "Cython": "#33a02c", "baseline": "#555555",
                   "CUDA": "#e31a1c"}
LANGUAGE_LINE = {"Python": ("^", ":"), "C": ("o", "-"), "Cython": ("s", "--"), "baseline": ("*", "-."),
                 "CUDA": ("v", "-")}
STEP_COLOUR = ["#b15928", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#17becf", "#a6761d"]
BASELINE_COLOUR = {"numpy": "#000000", "torch_cpu": "#888888"}
HATCHES = ["", "//", "xx", "..", "\\\\", "++"]


def machine_label(machine):
    """'AMD EPYC, 2 cores, L2 1 MiB' from a run's machine.json, or ''."""
    cpu = (machine or {}).get("cpu", {})
    if not cpu:
        return ""
    parts = [cpu.get("model") or "CPU", f"{cpu['cores']} cores" if cpu.get("cores") else ""]
    l2 = cpu.get("caches", {}).get("L2")
    if l2:
        parts.append(f"L2 {l2 / 2**20:g} MiB")
    return ", ".join(p for p in parts if p)


def _machine(out_dir, machine):
    if machine is not None:
        return machine
    try:
        with open(os.path.join(out_dir, "machine.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def plot_all(rows, out_dir, size=None, machine=None):
    """Write the PNG plots; returns their file names. `machine`: the run's machine.json as a
    dict (read from out_dir when not given) for the figures' labels."""
    import matplotlib
    matplotlib.use("Agg")

    table = Table(rows)
    dtypes = sorted({r["dtype"] for r in table.ok})
    if not dtypes:
        return []
    size = size or default_ladder_size(rows)
    where = machine_label(_machine(out_dir, machine))
    files = []
    for name, what in (("gflops_vs_n.png", "gflops"), ("time_vs_n.png", "time")):
        fig = size_panels(table, dtypes, what, where)
        if fig is not None:
            files.append(_save(fig, out_dir, name))
    groups = ladder_groups(table, size)
    if groups:
        entries = {}
        for dtype, threads in groups:
            entries.setdefault(dtype, []).extend(
                dict(e, language=table.kernel_order[e["kernel"]][1]) for e in table.ladder(dtype, threads, size)
                if e["gflops"])
        fig = ladder_figure(entries, size, where)
        files.append(_save(fig, out_dir, "ladder_bar.png"))
    return files


def ladder_figure(entries, size, where=""):
    """The ladder as bars on a linear axis: {dtype: [entry]}, an entry a dict with kernel,
    language, threads, gflops, estimated (and flag). One colour per language, a hatch per
    thread count; an estimated bar is pale and its value marked '~', a doubtful one '?'.
    Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    dtypes = list(entries)
    height = max(len(v) for v in entries.values()) * 0.32 + 1.6
    fig, axes = plt.subplots(1, len(dtypes), figsize=(6.2 * len(dtypes), height), squeeze=False)
    threads_seen = sorted({e["threads"] for v in entries.values() for e in v})
    hatch = {t: HATCHES[i % len(HATCHES)] for i, t in enumerate(threads_seen)}
    for ax, dtype in zip(axes[0], dtypes):
        es = entries[dtype]
        labels = [e["kernel"] + (f" ({e['threads']}t)" if e["threads"] > 1 else "") for e in es]
        values = [e["gflops"] for e in es]
        bars = ax.barh(range(len(es)), values, color=[LANGUAGE_COLOUR.get(e["language"], "#999") for e in es],
                       hatch=None, edgecolor="white", linewidth=0.5)
        for bar, e in zip(bars, es):
            bar.set_hatch(hatch[e["threads"]])
            if e["estimated"]:
                bar.set_alpha(0.45)
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2,
                    f" {'~' if e['estimated'] else ''}{e['gflops']:.3g}{' ?' if e.get('flag') else ''}",
                    va="center", fontsize=8)
        ax.set_yticks(range(len(es)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, max(values) * 1.15)
        ax.set(xlabel="GFLOP/s (linear)", title=f"{dtype}, n = {size}")
        ax.grid(True, axis="x", alpha=0.3)
    langs = list(dict.fromkeys(e["language"] for v in entries.values() for e in v))
    handles = [Patch(color=LANGUAGE_COLOUR.get(lang, "#999"), label=lang) for lang in langs]
    handles += [Patch(facecolor="white", edgecolor="black", hatch=hatch[t], label=f"{t} thread{'s' * (t > 1)}")
                for t in threads_seen]
    if any(e["estimated"] for v in entries.values() for e in v):
        handles.append(Patch(color="#999", alpha=0.45, label="~ estimated: t(n0) (n/n0)^3"))
    if any(e.get("flag") for v in entries.values() for e in v):
        handles.append(Patch(color="white", label="? doubtful timing (REPORT.md says why)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, -0.02))
    fig.suptitle("The matmul ladder" + (f" on {where}" if where else ""))
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def _panel_of(table, kernel, threads):
    lang = table.kernel_order[kernel][1]
    if threads > 1:
        return "all cores"
    return "Cython, 1 thread" if lang == "Cython" else "C and Python, 1 thread"


def _line_style(table, kernel):
    _, lang, rung = table.kernel_order[kernel]
    marker, ls = LANGUAGE_LINE.get(lang, ("x", "-"))
    if lang == "baseline":
        marker = "*" if kernel == "numpy" else "D"
        return BASELINE_COLOUR.get(kernel, "#555555"), marker, ls
    return STEP_COLOUR[(rung or 0) % len(STEP_COLOUR)], marker, ls


def size_panels(table, dtypes, what, where=""):
    """Rows: dtypes; columns: C and Python at 1 thread, Cython at 1 thread (with NumPy as the
    yardstick in each), every kernel on all cores. None without square rows."""
    import matplotlib.pyplot as plt
    keys = _series_keys(table)
    panels = {}
    for kernel, threads, mode in keys:
        panels.setdefault(_panel_of(table, kernel, threads), []).append((kernel, threads, mode))
    order = [p for p in ("C and Python, 1 thread", "Cython, 1 thread", "all cores") if p in panels]
    if not order:
        return None
    for p in order:   # the 1-thread baselines join every 1-thread panel
        if p.endswith("1 thread"):
            panels[p] += [k for k in keys if k[1] <= 1 and table.kernel_order[k[0]][1] == "baseline"
                          and k not in panels[p]]
    if "Cython, 1 thread" in panels:
        panels["C and Python, 1 thread"] = [k for k in panels["C and Python, 1 thread"]
                                            if table.kernel_order[k[0]][1] != "Cython"]
    from matplotlib.ticker import FuncFormatter
    fig, axes = plt.subplots(len(dtypes), len(order), figsize=(6.6 * len(order), 4.2 * len(dtypes)),
                             squeeze=False, sharex=True, layout="constrained")
    for row, dtype in zip(axes, dtypes):
        for ax, panel in zip(row, order):
            twins = _c_twins(table, panels[panel]) if panel.startswith("Cython") else []
            for kernel, threads, mode in panels[panel] + twins:
                pts = table.series(kernel, dtype, threads, mode)
                if not pts:
                    continue
                colour, marker, ls = _line_style(table, kernel)
                label = series_label(kernel, threads, mode)
                faint = (kernel, threads, mode) in twins
                if faint:
                    label += ", C twin"
                if what == "gflops":
                    y = [gflops(matmul_flops(n, n, n), t) for n, t in pts]
                else:
                    y = [t for _, t in pts]
                    fit = table.exponent(kernel, dtype, threads, mode)
                    label += f": t ~ n^{fit[0]:.2f}" if fit else ""
                ax.plot([p[0] for p in pts], y, color=colour, marker=marker, ls=ls, label=label,
                        alpha=0.35 if faint else 1, lw=1 if faint else 1.6, ms=4 if faint else 6)
            ax.set(yscale="log", title=f"{panel}, {dtype}",
                   ylabel="GFLOP/s (log)" if what == "gflops" else "median time, s (log)")
            _size_axis(ax, table)
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.suptitle(("Speed against size" if what == "gflops" else "Time against size (log-log)") +
                 (f" on {where}" if where else ""))
    return fig


def _c_twins(table, keys):
    """The 1-thread C series whose Cython twins (cy_X for c_X) are in `keys`."""
    names = {"c_" + k[3:] for k, t, _ in keys if k.startswith("cy_") and t <= 1}
    return [key for key in _series_keys(table) if key[0] in names and key[1] <= 1]


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
    fig.savefig(os.path.join(out_dir, name), dpi=100, bbox_inches="tight")
    plt.close(fig)
    return name
