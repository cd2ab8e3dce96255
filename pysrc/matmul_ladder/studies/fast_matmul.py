"""Beyond Strassen: every fast scheme (rungs/fast.py) against the classical block kernel and the
library, on the CPU (c_omp, NumPy) or the GPU (cuBLAS through CuPy, FP32 with TF32 off), timed
and checked by the one engine (bench/engine.py), each under its own error bound; then the
speed-up against n per scheme with the theoretical ceilings drawn (plot)."""
import csv
import os

from matmul_ladder import schemes as _schemes
from matmul_ladder.bench.engine import Config, CsvLog, Harness
from matmul_ladder.rungs import fast, registry

# (levels, ceiling) per contender: the ceiling is classical products over the scheme's.
CPU_CONTENDERS = ["winograd", "strassen", "winograd,winograd", "winograd,winograd,winograd",
                  "winograd,alphatensor_444_49", "alphatensor_333_23",
                  "alphatensor_444_49", "alphatensor_444_49_gpu", "dps_444_48",
                  "alphatensor_345_47", "alphatensor_445_63", "winograd,dps_444_48"]
GPU_CONTENDERS = ["winograd", "winograd,winograd", "alphatensor_444_49_gpu",
                  "alphatensor_444_49", "dps_444_48", "alphatensor_333_23"]


def ceiling(names):
    """The speed-up the products alone allow: prod over levels of (m k n / R)."""
    out = 1.0
    for s in fast.parse_levels(names):
        sc = _schemes.load(s)
        out *= sc.classical / sc.rank
    return out


def table(contenders, n):
    """One row a contender, "+"-joined per level: products; block additions as the scheme
    writes them, and after the common-subexpression pass (schemes/cse.py, "additions": the
    fewest it finds); then what the run's plan ("traffic") does: its block passes, and the
    blocks they read and write; extra memory (elements, for n x n, over n^2); growth factor;
    ceiling."""
    rows = []
    for names in contenders:
        levels = fast.parse_levels(names)
        per = lambda f: "+".join(str(f(s)) for s in levels)  # noqa: E731
        rows.append({"scheme": "+".join(levels),
                     "products": "x".join(str(_schemes.load(s).rank) for s in levels),
                     "additions": per(lambda s: _schemes.load(s).additions()),
                     "additions_cse": per(lambda s: fast.level(s, "additions").additions()),
                     "passes": per(lambda s: sum(fast.level(s).passes())),
                     "transfers": per(lambda s: fast.level(s).transfers()),
                     "extra_memory_n2": round(fast.extra_elements(levels, n, n, n) / n ** 2, 3),
                     "growth": round(fast.error_growth(levels), 1),
                     "ceiling": round(ceiling(names), 3)})
    return rows


def run(device, sizes, contenders, out, threads=1, budget=120.0, min_time=0.5, dtype="float32"):
    os.makedirs(out, exist_ok=True)
    kernels = [fast.kernel(c, "cpu" if device == "cpu" else "gpu") for c in contenders]
    baselines = ["c_omp", "numpy"] if device == "cpu" else ["cupy"]
    kernels = [registry.get(b, "matmul") for b in baselines] + kernels
    cfg = Config(sizes=sizes, dtypes=(dtype,), threads=(threads,), budget=budget,
                 min_time=min_time)
    log = CsvLog(os.path.join(out, f"fast_matmul_{device}.csv"))
    try:
        rows = Harness(cfg, kernels=kernels, log=log,
                       progress=lambda s: print(s, flush=True)).run()
    finally:
        log.close()
    with open(os.path.join(out, "schemes.csv"), "w", newline="") as f:
        t = table(contenders, max(sizes))
        w = csv.DictWriter(f, fieldnames=list(t[0]))
        w.writeheader()
        w.writerows(t)
    plot(rows, baselines, contenders, os.path.join(out, f"fast_matmul_{device}.png"),
         machine_label(device, threads))
    print(f"wrote {out}/")
    return rows


def machine_label(device, threads):
    """What the plot's title names: the GPU, or the CPU model and the thread count."""
    if device != "cpu":
        import cupy
        return cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    import platform
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model} ({os.cpu_count()} CPUs), {threads} thread{'s' * (threads > 1)}"


def plot(rows, baselines, contenders, path, machine):
    """Speed-up over the last baseline (NumPy, or cuBLAS) against n, a line per scheme, and
    each scheme's ceiling (ceiling(): the products alone) dashed in its colour."""
    device = "cpu" if baselines[0] == "c_omp" else "gpu"
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ok = [r for r in rows if r["status"] == "ok"]
    base = {int(r["M"]): float(r["median_s"]) for r in ok if r["kernel"] == baselines[-1]}
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for c in contenders:
        name = fast.kernel(c, "cpu" if device == "cpu" else "gpu").name
        pts = sorted((int(r["M"]), base[int(r["M"])] / float(r["median_s"])) for r in ok
                     if r["kernel"] == name and int(r["M"]) in base)
        if pts:
            line, = ax.plot(*zip(*pts), "o-", label=f"{'+'.join(fast.parse_levels(c))} "
                                                    f"(ceiling {ceiling(c):.3f})")
            ax.axhline(ceiling(c), color=line.get_color(), ls="--", lw=1)
    for b in baselines[:-1]:  # the other baseline (c_omp on the CPU), in black
        pts = sorted((int(r["M"]), base[int(r["M"])] / float(r["median_s"])) for r in ok
                     if r["kernel"] == b and int(r["M"]) in base)
        if pts:
            ax.plot(*zip(*pts), "s:", color="k", label=b)
    ax.axhline(1.0, color="k", lw=1)
    ns = sorted(base)
    if len(ns) == 1:  # one size: a log axis would have no ticks
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.set_xlim(ns[0] / 1.5, ns[0] * 1.5)
    else:
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [str(n) for n in ns])
    ax.set(xlabel="n (n x n times n x n)", ylabel=f"speed-up: t({baselines[-1]}) / t(scheme)",
           title=f"fast schemes against {baselines[-1]}\ndashed: each scheme's ceiling "
                 f"(classical products / its products)\n{machine}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---- where the time goes: the products alone ---------------------------------------------
class _ProductsOnly(fast.CpuBackend):
    """The CPU back end with every block sum skipped: the products of each level on blocks of
    their sizes, what the sums' passes are measured against. Its buffers hold 0.5 (never
    uninitialised memory, whose denormals or NaNs could slow the products)."""

    def workspace(self, key, shape, dtype):
        fresh = self.spaces.get(key) is None
        buf = super().workspace(key, shape, dtype)
        if fresh:
            buf.fill(0.5)
        return buf

    def lincomb(self, dst, sources, coefs, accumulate=False):
        pass


def breakdown(contenders, sizes, out, threads=1, dtype="float32"):
    """For each scheme at each n (CPU): seconds of the whole product and of its products
    alone (_ProductsOnly), the rest being the block sums' passes; each timed once after a
    warm-up call that first-touches the scratch. Writes breakdown_cpu.csv to `out`."""
    import time

    import numpy as np
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "breakdown_cpu.csv")
    rng = np.random.default_rng(0)
    fields = ["scheme", "n", "threads", "whole_s", "products_s", "sums_s", "sums_share"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for n in sizes:
            a = rng.uniform(-1, 1, (n, n)).astype(dtype)
            b = rng.uniform(-1, 1, (n, n)).astype(dtype)
            for names in contenders:
                seconds = []
                for backend in (fast.CpuBackend(threads), _ProductsOnly(threads)):
                    run = fast.FastMatmul(names, backend)
                    run(a, b)  # the warm-up: the scratch first-touched
                    t0 = time.perf_counter()
                    run(a, b)
                    seconds.append(time.perf_counter() - t0)
                    backend.spaces.clear()
                whole, products = seconds
                row = {"scheme": "+".join(fast.parse_levels(names)), "n": n, "threads": threads,
                       "whole_s": f"{whole:.4g}", "products_s": f"{products:.4g}",
                       "sums_s": f"{whole - products:.4g}",
                       "sums_share": f"{(whole - products) / whole:.3f}"}
                w.writerow(row)
                f.flush()
                print(row, flush=True)
    print(f"wrote {path}")
