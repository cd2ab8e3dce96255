"""The plots of the why study: the cliff across L2, thread scaling, and the roofline."""
import math
import os

import numpy as np

from matmul_ladder.bench.timing import gflops, matmul_flops


def plots(r, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    files = []
    dtype = r["config"]["dtype"]
    if r.get("cliff_time"):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for k, pts in r["cliff_time"].items():
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=k)
        l2 = r["geometry"].get("L2", (0,))[0]
        if l2:
            n_l2 = math.sqrt(l2 / np.dtype(dtype).itemsize)
            ax.axvline(n_l2, color="grey", ls="--")
            ax.text(n_l2, ax.get_ylim()[0], " B = L2", color="grey", va="bottom")
        ax.set(xscale="log", xlabel="n", ylabel="GFLOP/s", title=f"The cliff: B outgrows L2 ({dtype}, 1 thread)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "cliff.png"), dpi=110)
        plt.close(fig)
        files.append("cliff.png")
    if r.get("scaling"):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for k in dict.fromkeys(x[0] for x in r["scaling"]):
            pts = [(t, s) for kk, t, s in r["scaling"] if kk == k]
            base = pts[0][1]
            ax.plot([p[0] for p in pts], [base / p[1] for p in pts], "o-", label=k)
        top = max(x[1] for x in r["scaling"])
        ax.plot([1, top], [1, top], "k:", label="ideal")
        ax.set(xlabel="threads", ylabel="speed-up over 1 thread",
               title=f"Scaling, n = {r['config']['n_scaling']}, {dtype}, {r['cores']} cores")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "scaling.png"), dpi=110)
        plt.close(fig)
        files.append("scaling.png")
    points = roofline_points(r)
    if points and r.get("peak") and r.get("bandwidth"):
        fig, ax = plt.subplots(figsize=(7, 5))
        peak, bw = r["peak"][1], r["bandwidth"][1]
        x = np.logspace(-2, 3, 200)
        ax.plot(x, np.minimum(peak, bw * x), "k-", label=f"1 thread: peak {peak:.0f} GFLOP/s, triad {bw:.0f} GB/s")
        for k, ai, g in points:
            ax.plot(ai, g, "o")
            ax.annotate(k, (ai, g), fontsize=8, xytext=(3, 3), textcoords="offset points")
        ax.set(xscale="log", yscale="log", xlabel="arithmetic intensity (FLOP per byte missed in L2)",
               ylabel="GFLOP/s", title=f"Roofline ({dtype}, 1 thread)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "roofline.png"), dpi=110)
        plt.close(fig)
        files.append("roofline.png")
    return files


def roofline_points(r):
    """[(kernel, FLOP per byte beyond L2, GFLOP/s at n_time)]."""
    out = []
    n = r["config"]["n_time"]
    for k, c in r.get("counters", {}).items():
        misses = c.get("DLmr", 0) + c.get("DLmw", 0)
        s = r.get("times", {}).get(k)
        if misses > 0 and s:
            out.append((k, 1.0 / (64 * misses), gflops(matmul_flops(n, n, n), s)))
    return out
