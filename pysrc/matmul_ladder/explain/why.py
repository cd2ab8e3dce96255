"""Why is plain C slower than NumPy? Each hypothesis, the quantity it predicts, measured.

- Memory hierarchy (loop order, blocking): D1 and L2 misses per FLOP from cachegrind, run with
  this CPU's real L1d and L2 geometry (read from sysfs; cachegrind's own guess of the last
  level was a wrong 480 MiB here), and GFLOP/s against n across the L2 boundary.
- Instructions (SIMD, FMA): instructions per FLOP (cachegrind's Ir), and the widest floating-
  point instructions of each rung's hot loop, read from the built extension with objdump.
- Threads: a scaling curve over 1..nproc for c_omp, cy_prange and NumPy.
- Roofline: FMA peak and triad bandwidth measured here; each rung at its arithmetic intensity.
- The gap decomposition from c_naive to NumPy, step by step, with the evidence of each step.

The parts: cachegrind.py (counters), disasm.py (the ISA column), why_plots.py (plots); this
module runs the study, reads the verdicts from the numbers and writes WHY.md.
"""
import csv
import math
import os
import shutil
import sys
from dataclasses import dataclass

import numpy as np

from matmul_ladder import api as _api
from matmul_ladder.rungs.threads import cores
from matmul_ladder.explain.cachegrind import cachegrind_counts
from matmul_ladder.bench.race import checked_seconds as seconds
from matmul_ladder.explain.disasm import isa_column
from matmul_ladder.bench.timing import gflops, matmul_flops
from matmul_ladder.explain.plots import plots, roofline_points
MECHANISM = {
    "c_ikj": "loop order: unit-stride B and C (cache lines used whole), SSE2 vectorisation",
    "c_blocked": "cache blocking: a tile of B reused from L2 by every row",
    "c_simd": "registers, packing, AVX2/AVX-512 + FMA micro-kernel",
    "numpy": "what OpenBLAS does beyond c_simd",
    "c_omp": "threads (OpenMP)",
}


# ---- timing -----------------------------------------------------------------------------
def scaling(n, dtype, kernels=("c_omp", "cy_prange", "numpy")):
    """[(kernel, threads, seconds)] for threads 1..nproc; kernels take turns at each count, so
    that a passing disturbance does not land on one kernel's whole curve."""
    rows = []
    for t in range(1, cores() + 1):
        for kernel in kernels:
            s = seconds(kernel, n, dtype, t)
            if s:
                rows.append((kernel, t, s))
    return sorted(rows, key=lambda row: (kernels.index(row[0]), row[1]))


# ---- the study --------------------------------------------------------------------------
@dataclass
class WhyConfig:
    dtype: str = "float64"
    n_counters: int = 256                 # cachegrind size for the per-rung counters
    cliff_counters: tuple = (256, 512, 768)   # cachegrind sizes for c_ikj/c_blocked's cliff
    cliff_sizes: tuple = (128, 256, 384, 512, 768, 1024, 1536)  # timed sizes for the cliff
    n_time: int = 512                     # timed size of the decomposition and roofline
    n_scaling: int = 1024
    only: tuple = ("counters", "cliff", "isa", "scaling", "roofline")

    @classmethod
    def quick(cls):
        return cls()

    @classmethod
    def full(cls):
        return cls(n_counters=512, cliff_counters=(256, 512, 768, 1024),
                   cliff_sizes=(128, 256, 384, 512, 768, 1024, 1536, 2048), n_time=1024, n_scaling=2048)


COUNTER_RUNGS = ["c_naive", "c_ikj", "c_blocked", "c_simd", "cy_naive", "cy_ikj", "cy_blocked"]
CHAIN = ["c_naive", "c_ikj", "c_blocked", "c_simd", "numpy"]


def cache_geometry():
    """{'L1d': (size, ways, line), 'L2': ..., 'L3': ...} as the kernels read them."""
    info = _api.build_info()["cpu"]
    return {level: tuple(v) for level, v in info.get("cache_geometry", {}).items()}


def study(cfg, workdir, log=print):
    """Measure everything; returns a dict of plain data (also what why.csv holds)."""
    r = {"config": cfg.__dict__, "geometry": cache_geometry(), "cores": cores()}
    isa = _api.build_info()["simd"]["active"]
    r["isa"] = isa
    has_valgrind = shutil.which("valgrind") is not None
    flops = lambda n: matmul_flops(n, n, n)
    if "counters" in cfg.only and has_valgrind:
        r["counters"] = {}
        for kernel in COUNTER_RUNGS + ["numpy"]:
            log(f"cachegrind {kernel} n={cfg.n_counters}")
            c = cachegrind_counts(kernel, cfg.n_counters, cfg.dtype, r["geometry"], workdir)
            r["counters"][kernel] = {k: v / flops(cfg.n_counters) for k, v in c.items()}
    if "cliff" in cfg.only:
        r["cliff_time"] = {k: [(n, gflops(flops(n), seconds(k, n, cfg.dtype))) for n in cfg.cliff_sizes]
                           for k in ("c_ikj", "c_blocked")}
        if has_valgrind:
            r["cliff_counters"] = {}
            for k in ("c_ikj", "c_blocked"):
                for n in cfg.cliff_counters:
                    log(f"cachegrind {k} n={n}")
                    c = cachegrind_counts(k, n, cfg.dtype, r["geometry"], workdir)
                    r["cliff_counters"].setdefault(k, []).append((n, c.get("DLmr", 0) / flops(n),
                                                                  c.get("D1mr", 0) / flops(n)))
    if "isa" in cfg.only:
        facts = isa_column(COUNTER_RUNGS, cfg.dtype, isa if isa != "none" else "avx2")
        r["isa_column"] = {k: (f.label() if f else "not found") for k, f in facts.items()}
    if "scaling" in cfg.only:
        log(f"scaling n={cfg.n_scaling}")
        r["scaling"] = scaling(cfg.n_scaling, cfg.dtype)
    if "roofline" in cfg.only:
        log("peak and bandwidth")
        r["peak"] = {t: _api.fma_peak(cfg.dtype, t, 0.3) for t in (1, cores())}
        r["bandwidth"] = {t: _api.triad_bandwidth(1 << 25, t, 5) for t in (1, cores())}
        r["times"] = {}
        for k in CHAIN + ["cy_naive", "cy_ikj", "cy_blocked"]:
            log(f"time {k} n={cfg.n_time}")
            r["times"][k] = seconds(k, cfg.n_time, cfg.dtype)
        for k in ("c_omp", "numpy"):
            r["times"][f"{k} ({cores()}t)"] = seconds(k, cfg.n_time, cfg.dtype, cores())
    return r


def decomposition(r, cfg):
    """Rows: step, factor, mechanism, evidence; and the product check."""
    t, cnt = r.get("times", {}), r.get("counters", {})
    rows, product = [], 1.0
    for prev, step in zip(CHAIN, CHAIN[1:]):
        if not (t.get(prev) and t.get(step)):
            continue
        factor = t[prev] / t[step]
        product *= factor
        ev = []
        if prev in cnt and step in cnt:
            for label, key in (("D1 misses/FLOP", "D1mr"), ("L2 misses/FLOP", "DLmr"), ("instr/FLOP", "Ir")):
                a, b = cnt[prev].get(key), cnt[step].get(key)
                if a is not None and b is not None:
                    ev.append(f"{label} {a:.3g} -> {b:.3g}")
        isa = r.get("isa_column", {})
        if prev in isa and step in isa and isa[prev] != isa[step]:
            ev.append(f"hot loop {isa[prev]} -> {isa[step]}")
        rows.append([f"{prev} -> {step}", f"{factor:.3g}x", MECHANISM.get(step, ""), "; ".join(ev) or "-"])
    threads_key = f"c_omp ({r['cores']}t)"
    if t.get("c_simd") and t.get(threads_key):
        rows.append([f"c_simd -> {threads_key}", f"{t['c_simd'] / t[threads_key]:.3g}x", MECHANISM["c_omp"],
                     "see the scaling curve"])
    end_to_end = t["c_naive"] / t["numpy"] if t.get("c_naive") and t.get("numpy") else None
    return rows, product, end_to_end


def write_csv(r, path):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["section", "kernel", "n", "metric", "value"])
        n = r["config"]["n_counters"]
        for k, c in r.get("counters", {}).items():
            for metric, v in c.items():
                w.writerow(["counters", k, n, f"{metric}_per_flop", f"{v:.6g}"])
        for k, pts in r.get("cliff_time", {}).items():
            for size, g in pts:
                w.writerow(["cliff", k, size, "gflops", f"{g:.4g}"])
        for k, pts in r.get("cliff_counters", {}).items():
            for size, ll, d1 in pts:
                w.writerow(["cliff", k, size, "L2_misses_per_flop", f"{ll:.4g}"])
                w.writerow(["cliff", k, size, "D1_misses_per_flop", f"{d1:.4g}"])
        for k, v in r.get("isa_column", {}).items():
            w.writerow(["isa", k, "", "hot_loop", v])
        for k, t, s in r.get("scaling", []):
            w.writerow(["scaling", k, r["config"]["n_scaling"], f"seconds_{t}t", f"{s:.6g}"])
        for t, v in r.get("peak", {}).items():
            w.writerow(["roofline", "fma_peak", "", f"gflops_{t}t", f"{v:.4g}"])
        for t, v in r.get("bandwidth", {}).items():
            w.writerow(["roofline", "triad", "", f"gbs_{t}t", f"{v:.4g}"])
        for k, s in r.get("times", {}).items():
            if s:
                w.writerow(["times", k, r["config"]["n_time"], "seconds", f"{s:.6g}"])


# ---- plots and the note -----------------------------------------------------------------
def _table(header, rows):
    from matmul_ladder.report.ladder import markdown_table
    return markdown_table(header, rows)


def blocking_verdict(ikj_small, ikj_large, blocked_small, blocked_large):
    """The blocking hypothesis read from c_ikj's and c_blocked's GFLOP/s below and above the
    size where B fills L2."""
    if ikj_large < 0.8 * ikj_small:
        if blocked_large > 1.1 * ikj_large:
            return "supported"
        return "partly supported: c_ikj drops, but c_blocked does not recover the speed"
    return ("refuted on this machine: c_ikj keeps its speed as B outgrows L2, so there is no "
            "cliff for blocking to remove. The hardware prefetcher streams B's rows from L3 "
            "as fast as the loop uses them, and the ikj loop is bound by its own load and "
            "store of C per multiply-add, which blocking does not change")


def verdicts(r):
    """[(hypothesis, method, measurement, verdict)] read from the numbers."""
    out, cnt, isa = [], r.get("counters", {}), r.get("isa_column", {})
    if "c_naive" in cnt and "c_ikj" in cnt:
        a, b = cnt["c_naive"]["D1mr"], cnt["c_ikj"]["D1mr"]
        out.append(("Loop order: c_naive reads B down its columns, so it misses L1 on almost every "
                    "multiply-add; i-k-j uses each cache line whole.",
                    "cachegrind D1 read misses per FLOP, c_naive against c_ikj.",
                    f"{a:.3g} against {b:.3g} ({a / b:.0f}x fewer)." if b else f"{a:.3g} against 0.",
                    "supported" if not b or a / b > 4 else "refuted"))
    ct = r.get("cliff_time", {})
    if ct.get("c_ikj") and ct.get("c_blocked"):
        l2 = r["geometry"].get("L2", (2 << 20,))[0]
        n_l2 = math.sqrt(l2 / np.dtype(r["config"]["dtype"]).itemsize)
        def drop(pts):
            small = max(g for n, g in pts if n <= n_l2 / 1.3) if any(n <= n_l2 / 1.3 for n, g in pts) else None
            large = min(g for n, g in pts if n >= n_l2 * 1.3) if any(n >= n_l2 * 1.3 for n, g in pts) else None
            return small, large
        (si, li), (sb, lb) = drop(ct["c_ikj"]), drop(ct["c_blocked"])
        if None not in (si, li, sb, lb):
            cc = r.get("cliff_counters", {})
            extra = ""
            if cc.get("c_ikj") and cc.get("c_blocked"):
                extra = (f" L2 misses per FLOP at n = {cc['c_ikj'][-1][0]}: c_ikj {cc['c_ikj'][-1][1]:.3g}, "
                         f"c_blocked {cc['c_blocked'][-1][1]:.3g}.")
            out.append(("Blocking: once B outgrows L2, c_ikj streams it from L3/DRAM for every row of A; "
                        "a tile of B that fits L2 removes that cliff.",
                        "GFLOP/s against n across the size where B fills L2 (timed), and cachegrind "
                        "L2 misses per FLOP (L2 simulated with its real geometry).",
                        f"c_ikj {si:.3g} -> {li:.3g} GFLOP/s ({100 * (1 - li / si):.0f}% drop); "
                        f"c_blocked {sb:.3g} -> {lb:.3g} ({100 * (1 - lb / sb):.0f}% drop).{extra}",
                        blocking_verdict(si, li, sb, lb)))
    if isa:
        ikj = isa.get("c_ikj", "")
        out.append(("SIMD: plain C runs one multiply-add per instruction; NumPy uses wide vectors and FMA.",
                    "The widest floating-point instructions of each rung's hot loop, from objdump of the "
                    "built extension (column below).",
                    f"c_naive: {isa.get('c_naive')}; c_ikj: {ikj}; c_blocked: {isa.get('c_blocked')}; "
                    f"c_simd: {isa.get('c_simd')}.",
                    "partly refuted: -O3 already vectorises c_ikj (" + ikj + "); what the compiler "
                    "does not give is the 256/512-bit width and FMA, which come with the SIMD rung"
                    if "SSE" in ikj or "AVX" in ikj else "supported: the plain rungs are scalar"))
    if "c_blocked" in cnt and "c_simd" in cnt:
        a, b = cnt["c_blocked"], cnt["c_simd"]
        out.append(("Registers and packing: c_blocked loads and stores C for every multiply-add; the "
                    "micro-kernel keeps a tile of C in registers and reads packed, unit-stride panels.",
                    "cachegrind instructions and data reads per FLOP, c_blocked against c_simd.",
                    f"instructions/FLOP {a['Ir']:.3g} -> {b['Ir']:.3g}; data reads/FLOP {a['Dr']:.3g} -> "
                    f"{b['Dr']:.3g}; D1 misses/FLOP {a['D1mr']:.3g} -> {b['D1mr']:.3g}.",
                    "supported" if b["Ir"] < a["Ir"] / 2 and b["Dr"] < a["Dr"] / 2 else "refuted"))
    if r.get("scaling"):
        eff = []
        for k in dict.fromkeys(x[0] for x in r["scaling"]):
            pts = [(t, s) for kk, t, s in r["scaling"] if kk == k]
            t_max, s_max = pts[-1]
            eff.append(f"{k} {pts[0][1] / s_max / t_max * 100:.0f}% at {t_max} threads")
        out.append(("Threads: the micro-kernel is compute-bound, so cores multiply its speed.",
                    "Speed-up and parallel efficiency over 1..nproc threads.", "; ".join(eff) + ".",
                    "supported" if all(int(e.split("% ")[0].split()[-1]) >= 70 for e in eff) else "partly supported"))
    return out


def read_scaling_csv(path):
    """(n, [(kernel, threads, seconds)]) from another run's why.csv, e.g. a 16-core host's."""
    rows, n = [], None
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["section"] == "scaling":
                n = int(row["n"])
                rows.append((row["kernel"], int(row["metric"].split("_")[1].rstrip("t")), float(row["value"])))
    return n, rows


def scaling_section(title, n, rows):
    by = {}
    for k, t, s in rows:
        by.setdefault(k, []).append((t, s))
    top = max(t for _, t, _ in rows)
    lines = [f"## {title}", "", _table(["kernel"] + [f"{t} thr" for t in range(1, top + 1)],
             [[k] + [f"{gflops(matmul_flops(n, n, n), s):.3g}" for t, s in pts] for k, pts in by.items()]), ""]
    eff = [f"{k}: {pts[0][1] / pts[-1][1]:.2g}x on {pts[-1][0]} threads "
           f"({100 * pts[0][1] / pts[-1][1] / pts[-1][0]:.0f}% efficiency)" for k, pts in by.items()]
    return lines + ["GFLOP/s at n = %d. Speed-up at the most threads: %s." % (n, "; ".join(eff)), ""]


def write_note(r, out_dir, command):
    cfg = r["config"]
    rows, product, end = decomposition(r, cfg)
    lines = ["# Why plain C is slower than NumPy: hypotheses, measured", "",
             f"Command: `{command}`", "",
             f"Machine: {r['cores']} cores; caches {r['geometry']}; SIMD micro-kernel {r['isa']} "
             f"(AVX2 under valgrind, which has no AVX-512). dtype {cfg['dtype']}; counters at "
             f"n = {cfg['n_counters']}, times at n = {cfg['n_time']}.", ""]
    for hyp, method, meas, verdict in verdicts(r):
        lines += [f"## {hyp.split(':')[0]}", "", f"- **Hypothesis.** {hyp.split(':', 1)[1].strip()}",
                  f"- **Method.** {method}", f"- **Measurement.** {meas}", f"- **Verdict.** {verdict}.", ""]
    if rows:
        lines += ["## The gap, step by step", "",
                  f"Times at n = {cfg['n_time']}, 1 thread unless marked; evidence from cachegrind at "
                  f"n = {cfg['n_counters']}.", "", _table(["step", "factor", "mechanism", "evidence"], rows), ""]
        if end:
            lines += [f"Product of the 1-thread factors: {product:.4g}x; c_naive / NumPy measured directly: "
                      f"{end:.4g}x (they agree by construction: each factor is a ratio of the same "
                      f"measured times).", ""]
            simd = r["times"].get("c_simd")
            if simd:
                lines += [f"What remains unexplained: c_simd -> NumPy is {simd / r['times']['numpy']:.3g}x, "
                          "OpenBLAS's hand-scheduled assembly (prefetch distances, unrolling, edge "
                          "kernels); this study has no counter that isolates it further.", ""]
    if r.get("counters"):
        head = ["kernel", "instr/FLOP", "data reads/FLOP", "D1 misses/FLOP", "L2 misses/FLOP", "hot loop"]
        lines += ["## Counters per FLOP (cachegrind)", "", _table(head, [
            [k, f"{c.get('Ir', 0):.3g}", f"{c.get('Dr', 0):.3g}", f"{c.get('D1mr', 0):.3g}",
             f"{c.get('DLmr', 0):.3g}", r.get("isa_column", {}).get(k, "-")] for k, c in r["counters"].items()]), ""]
    if r.get("peak"):
        lines += ["## Roofline", "", f"Measured: FMA peak {', '.join(f'{v:.0f} GFLOP/s on {t} thread(s)' for t, v in r['peak'].items())}; "
                  f"triad {', '.join(f'{v:.1f} GB/s on {t} thread(s)' for t, v in r['bandwidth'].items())}. "
                  "Intensity is FLOPs per byte that missed the (simulated) L2.", "",
                  _table(["kernel", "FLOP/byte", "GFLOP/s"], [[k, f"{ai:.3g}", f"{g:.3g}"] for k, ai, g in roofline_points(r)]), ""]
    if r.get("scaling"):
        lines += scaling_section(f"Scaling on this machine ({r['cores']} cores)", cfg["n_scaling"], r["scaling"])
    if r.get("other_scaling"):
        n, rows = r["other_scaling"]
        lines += scaling_section(f"Scaling on {r['other_label']}", n, rows)
        lines += [f"![scaling, {r['other_label']}]({r['other_plot']})", ""]
    for p in plots(r, out_dir):
        lines += [f"![{p}]({p})", ""]
    with open(os.path.join(out_dir, "WHY.md"), "w") as f:
        f.write("\n".join(lines))
    return os.path.join(out_dir, "WHY.md")


def main(argv=None):
    import argparse
    import shlex
    import tempfile
    import time
    p = argparse.ArgumentParser(prog="why", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes: under 5 minutes on 2 cores")
    p.add_argument("--only", help="comma list of: counters, cliff, isa, scaling, roofline")
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--out", default=os.path.join("results", "why-" + time.strftime("%Y%m%d-%H%M%S")))
    p.add_argument("--other-scaling", metavar="WHY_CSV",
                   help="add the scaling curve of another run (e.g. a 16-core host's why.csv)")
    p.add_argument("--other-label", default="the other host", help="its name in WHY.md")
    args = p.parse_args(argv)
    cfg = WhyConfig.quick() if args.quick else WhyConfig.full()
    cfg.dtype = args.dtype
    if args.only:
        cfg.only = tuple(s.strip() for s in args.only.split(","))
    os.makedirs(args.out, exist_ok=True)
    command = "python experiments/why.py " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    with tempfile.TemporaryDirectory() as work:
        r = study(cfg, work, log=lambda m: print(m, file=sys.stderr, flush=True))
    if args.other_scaling:
        r["other_scaling"] = read_scaling_csv(args.other_scaling)
        r["other_label"] = args.other_label
        plot = os.path.join(os.path.dirname(args.other_scaling), "scaling.png")
        r["other_plot"] = os.path.relpath(plot, args.out)
    write_csv(r, os.path.join(args.out, "why.csv"))
    note = write_note(r, args.out, command)
    print(open(note).read())
    return 0
