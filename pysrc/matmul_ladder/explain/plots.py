"""The plots of the why study: the cliff across L2, thread scaling, and the roofline."""
import os

from matmul_ladder.explain import verdicts as V

STYLE = {  # kernel: (colour, marker, line style); a Cython twin has its C rung's colour
    "c_naive": ("#1b9e77", "o", "-"), "cy_naive": ("#1b9e77", "s", "--"),
    "c_ikj": ("#d95f02", "o", "-"), "cy_ikj": ("#d95f02", "s", "--"),
    "c_blocked": ("#7570b3", "o", "-"), "cy_blocked": ("#7570b3", "s", "--"),
    "c_simd": ("#e7298a", "o", "-"), "c_omp": ("#e7298a", "o", "-"), "cy_prange": ("#7570b3", "s", "--"),
    "numpy": ("#333333", "*", "-."),
}


def _style(k):
    return STYLE.get(k, ("#666666", "^", "-."))


def _sizes_axis(ax, sizes):
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.minorticks_off()


def _save(fig, out_dir, name, files):
    import matplotlib.pyplot as plt
    fig.savefig(os.path.join(out_dir, name), dpi=110, bbox_inches="tight")
    plt.close(fig)
    files.append(name)


def cliff_plot(r, out_dir, files):
    import matplotlib.pyplot as plt
    dtype = r["config"]["dtype"]
    counted = r.get("cliff_counters", {})
    fig, axes = plt.subplots(2 if counted else 1, 1, figsize=(7.5, 6.5 if counted else 4.2), sharex=True,
                             squeeze=False, gridspec_kw={"height_ratios": [3, 2] if counted else [1]})
    ax = axes[0][0]
    sizes = sorted({n for pts in r["cliff_time"].values() for n, _ in pts})
    for k, pts in r["cliff_time"].items():
        c, m, ls = _style(k)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], color=c, marker=m, ls=ls, label=k)
    ax.set(ylabel="GFLOP/s (timed)", title=f"The cliff: B outgrows a cache level ({dtype}, 1 thread)")
    ax.set_ylim(bottom=0)
    cl = V.cliff(r)
    for a in (row[0] for row in axes):
        if cl:
            a.axvline(cl.n_l2, color="grey", ls="--", label=f"B fills L2 (model): n = {cl.n_l2:.0f}")
            if cl.n_l3 and cl.n_l3 <= sizes[-1] * 1.05:
                a.axvline(cl.n_l3, color="grey", ls="-.", label=f"B fills L3 (model): n = {cl.n_l3:.0f}")
            if cl.n_drop:
                a.axvspan(cl.n_last_fast, cl.n_drop, color="#f4a582", alpha=0.35,
                          label=f"c_ikj's measured drop: n = {cl.n_last_fast}-{cl.n_drop}")
        a.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    if counted:
        ax2 = axes[1][0]
        for k, pts in counted.items():
            c, m, ls = _style(k)
            ax2.plot([p[0] for p in pts], [p[1] for p in pts], color=c, marker=m, ls=ls, label=k)
        ax2.set(ylabel="L2 misses per FLOP\n(cachegrind)", yscale="log")
        ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    _sizes_axis(axes[-1][0], sizes)
    axes[-1][0].set_xlabel("n (square matrices)")
    _save(fig, out_dir, "cliff.png", files)


def scaling_plot(r, out_dir, files):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for k in dict.fromkeys(x[0] for x in r["scaling"]):
        pts = [(t, s) for kk, t, s in r["scaling"] if kk == k]
        c, m, ls = _style(k)
        ax.plot([p[0] for p in pts], [pts[0][1] / p[1] for p in pts], color=c, marker=m, ls=ls, label=k)
    top = max(x[1] for x in r["scaling"])
    ax.plot([1, top], [1, top], "k:", label="ideal")
    ax.set_xticks(range(1, top + 1))
    ax.set(xlabel="threads", ylabel="speed-up over 1 thread",
           title=f"Scaling, n = {r['config']['n_scaling']}, {r['config']['dtype']}, {r['cores']} cores")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    _save(fig, out_dir, "scaling.png", files)


def roofline_plot(r, out_dir, files):
    import matplotlib.pyplot as plt
    import numpy as np
    pts = V.roofline_points(r)
    peak, mem, l2 = r["peak"][1], r["bandwidth"][1], r.get("bandwidth_l2", {}).get(1)
    fig, ax = plt.subplots(figsize=(8, 5))
    x = np.logspace(-2.5, 3, 200)
    ax.plot(x, np.minimum(peak, mem * x), "k-", lw=1.5, label=f"memory: triad {mem:.0f} GB/s, FMA peak {peak:.0f} GFLOP/s")
    if l2:
        ax.plot(x, np.minimum(peak, l2 * x), color="grey", ls="--", lw=1.5, label=f"L2: triad in L2 {l2:.0f} GB/s")
    for p in pts:
        c, m, _ = _style(p.kernel)
        if p.ai_l1:
            ax.plot(p.ai_l1, p.gflops, marker=m, color=c, ls="none", ms=8, label=f"{p.kernel} ({p.gflops:.3g} GFLOP/s)")
        if p.ai_l2:
            ax.plot(p.ai_l2, p.gflops, marker=m, color=c, ls="none", ms=8, mfc="none")
    ax.plot([], [], "ko", label="filled: FLOP per byte past L1 (against the L2 line)")
    ax.plot([], [], "ko", mfc="none", label="hollow: FLOP per byte past L2 (against the memory line)")
    n = pts[0].n if pts else r["config"]["n_counters"]
    ax.set(xscale="log", yscale="log", ylabel="GFLOP/s (timed)",
           xlabel=f"arithmetic intensity, FLOP per byte (from cachegrind's misses at n = {r['config']['n_counters']})",
           title=f"Roofline ({r['config']['dtype']}, 1 thread, n = {n})")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    _save(fig, out_dir, "roofline.png", files)


def plots(r, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    files = []
    if r.get("cliff_time"):
        cliff_plot(r, out_dir, files)
    if r.get("scaling"):
        scaling_plot(r, out_dir, files)
    if V.roofline_points(r) and r.get("peak") and r.get("bandwidth"):
        roofline_plot(r, out_dir, files)
    return files


def roofline_points(r):
    """[(kernel, FLOP per byte beyond L2, GFLOP/s)]: verdicts.roofline_points as tuples."""
    return [(p.kernel, p.ai_l2, p.gflops) for p in V.roofline_points(r)]
