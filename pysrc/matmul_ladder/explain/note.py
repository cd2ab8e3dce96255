"""WHY.md and why.csv, written from the study's numbers and verdicts.py's findings: the text
is made here, last, and read by no rule."""
import csv
import os

from matmul_ladder.bench.timing import gflops, matmul_flops
from matmul_ladder.explain import verdicts as V
from matmul_ladder.explain.plots import plots

MECHANISM = {
    "c_ikj": "loop order: unit-stride B and C (cache lines used whole), SSE2 vectorisation",
    "c_blocked": "cache blocking: a tile of B reused from L2 by every row",
    "c_simd": "registers, packing, AVX2/AVX-512 + FMA micro-kernel",
    "numpy": "what OpenBLAS does beyond c_simd",
    "c_omp": "threads (OpenMP)",
}

# key: (title, hypothesis, method)
TEXT = {
    "loop_order": ("Loop order", "c_naive reads B down its columns, so it misses L1 on almost every "
                   "multiply-add; i-k-j uses each cache line whole.",
                   "cachegrind D1 read misses per FLOP, c_naive against c_ikj."),
    "blocking": ("Blocking", "once B outgrows L2, c_ikj streams it from L3/DRAM for every row of A; a "
                 "tile of B that fits L2 removes that cliff.",
                 "GFLOP/s against n across the cliff (timed), and cachegrind L2 misses per FLOP "
                 "(L2 simulated with its real geometry) at a size where B no longer fits L2."),
    "simd": ("SIMD", "plain C runs one multiply-add per instruction; NumPy uses wide vectors and FMA.",
             "The widest floating-point instructions of each rung's hot loop, from objdump of the "
             "built extension (column below)."),
    "registers": ("Registers and packing", "c_blocked loads and stores C for every multiply-add; the "
                  "micro-kernel keeps a tile of C in registers and reads packed, unit-stride panels.",
                  "cachegrind instructions and data reads per FLOP, c_blocked against c_simd."),
    "threads": ("Threads", "the micro-kernel is compute-bound, so cores multiply its speed.",
                "Speed-up and parallel efficiency over 1..nproc threads."),
}

REASON = {
    ("blocking", "no_recovery"): "c_ikj drops, but c_blocked does not recover the speed",
    ("blocking", "no_cliff"): "on this machine: c_ikj keeps its speed as B outgrows L2, so there is no "
                              "cliff for blocking to remove. The hardware prefetcher streams B's rows "
                              "from L3 as fast as the loop uses them, and the ikj loop is bound by its "
                              "own load and store of C per multiply-add, which blocking does not change",
    ("simd", "compiler_vectorises"): "-O3 already vectorises c_ikj ({c_ikj}); what the compiler does "
                                     "not give is the 256/512-bit width and FMA, which come with the SIMD rung",
    ("simd", "scalar"): "the plain rungs are scalar",
}


def _table(header, rows):
    from matmul_ladder.report.ladder import markdown_table
    return markdown_table(header, rows)


def _mib(n_bytes):
    return f"{n_bytes / 2**20:.3g} MiB"


def cliff_text(c, dtype):
    """Where the model and the data put the cliff, and what to make of a disagreement."""
    item = 8 if dtype == "float64" else 4
    model = (f"The model puts the cliff at n = {c.n_l2:.0f}, where B ({dtype}) fills the L2 "
             f"(the dashed line on cliff.png).")
    if c.n_drop is None:
        return model + " The timed sizes show no drop of c_ikj's speed below 80% of its best."
    seen = (f" The timed drop comes between n = {c.n_last_fast} and {c.n_drop} (B = "
            f"{_mib(c.n_last_fast ** 2 * item)} -> {_mib(c.n_drop ** 2 * item)}).")
    if c.agrees:
        return model + seen + " Model and data agree."
    return model + seen + (
        " Model and data disagree: past the L2 the simulated L2 misses rise where the model says "
        "(the lower panel), but the time does not follow. The reading this study offers, not a "
        "measurement: the L3 feeds B's rows, read in order, as fast as the loop uses them (the "
        "hardware prefetcher runs ahead), and the drop comes once B is a sizeable share of the "
        f"L3 (n = {c.n_l3:.0f} fills it; on a VM the L3 is shared with other guests) and "
        "streaming from memory begins." if c.n_l3 else " Model and data disagree.")


def measurement(f, r):
    d = f.data
    if f.key == "loop_order":
        a, b = d["naive"], d["ikj"]
        return f"{a:.3g} against {b:.3g} ({a / b:.0f}x fewer)." if b else f"{a:.3g} against 0."
    if f.key == "blocking":
        (si, li), (sb, lb), (lo, hi) = d["ikj"], d["blocked"], d["sizes"]
        text = (f"best at n <= {lo:.0f} against worst at n >= {hi:.0f}: c_ikj {si:.3g} -> {li:.3g} "
                f"GFLOP/s ({100 * (1 - li / si):.0f}% drop); c_blocked {sb:.3g} -> {lb:.3g} "
                f"({100 * (1 - lb / sb):.0f}% drop).")
        if "l2_misses" in d:
            n, a, b = d["l2_misses"]
            text += f" L2 misses per FLOP at n = {n}: c_ikj {a:.3g}, c_blocked {b:.3g}."
        return text + " " + cliff_text(d["cliff"], r["config"]["dtype"])
    if f.key == "simd":
        return "; ".join(f"{k}: {v}" for k, v in d.items()) + "."
    if f.key == "registers":
        return "; ".join(f"{label} {d[k][0]:.3g} -> {d[k][1]:.3g}" for label, k in
                         (("instructions/FLOP", "Ir"), ("data reads/FLOP", "Dr"), ("D1 misses/FLOP", "D1mr"))) + "."
    if f.key == "threads":
        return "; ".join(f"{k} {100 * e:.0f}% at {t} threads" for k, t, e in d["efficiency"]) + "."
    raise KeyError(f.key)


def verdict_text(f):
    reason = REASON.get((f.key, f.outcome), "")
    if f.key == "simd":
        reason = reason.format(c_ikj=f.data.get("c_ikj"))
    return f.verdict.value + (f": {reason}" if reason else "")


def step_row(s):
    ev = [f"{e.label} {e.before:.3g} -> {e.after:.3g}" + (f" at n = {e.n}" if e.n else "") for e in s.evidence]
    if s.fits_l2_at_counters:
        ev.append("(the n of the other counters fits B in L2: blocking has nothing to remove there)")
    if s.isa:
        ev.append(f"hot loop {s.isa[0]} -> {s.isa[1]}")
    if s.threads > 1:
        ev.append("see the scaling curve")
    mech = MECHANISM["c_omp"] if s.threads > 1 else MECHANISM.get(s.after, "")
    return [f"{s.before} -> {s.after}", f"{s.factor:.3g}x", mech, "; ".join(ev) or "-"]


def remaining_text(rem):
    if rem.gap is V.Gap.SLOWER:
        return (f"What remains unexplained: NumPy is {rem.speedup:.3g}x the speed of c_simd, OpenBLAS's "
                "hand-scheduled assembly (prefetch distances, unrolling, edge kernels); this study has "
                "no counter that isolates it further.")
    if rem.gap is V.Gap.FASTER:
        return (f"Nothing remains to explain at this size: c_simd is {1 / rem.speedup:.3g}x the speed "
                "of NumPy.")
    return (f"Nothing remains to explain at this size: c_simd and NumPy are within "
            f"{100 * V.GAP_TOLERANCE:.0f}% of each other (NumPy {rem.speedup:.3g}x c_simd's speed).")


def roofline_section(r):
    pts = V.roofline_points(r)
    if not (pts and r.get("peak")):
        return []
    peak, mem, l2 = r["peak"][1], r.get("bandwidth", {}).get(1), r.get("bandwidth_l2", {}).get(1)
    n = pts[0].n
    rows = []
    for p in pts:
        which, roof = V.bound(p, peak, l2, mem)
        above = p.gflops > 1.05 * roof
        rows.append([p.kernel, f"{p.ai_l1:.3g}" if p.ai_l1 else "-", f"{p.ai_l2:.3g}" if p.ai_l2 else "-",
                     f"{p.gflops:.3g}", f"{which} ({roof:.3g})" + (", above it*" if above else "")])
    bw = f"triad {mem:.1f} GB/s from memory" + (f", {l2:.0f} GB/s on arrays that fit L2" if l2 else "")
    return ["## Roofline", "",
            f"Measured: FMA peak {', '.join(f'{v:.0f} GFLOP/s on {t} thread(s)' for t, v in r['peak'].items())}; "
            f"{bw} (1 thread). Intensities come from the counters, not a model: FLOPs per byte that "
            f"missed L1 (D1 misses x 64 B: the traffic from L2) and per byte that missed L2 (the "
            f"traffic from L3 or memory), both from cachegrind at n = {r['config']['n_counters']}; "
            f"GFLOP/s timed at n = {n}, 1 thread. The lowest ceiling binds each rung.", "",
            _table(["kernel", "FLOP/byte past L1", "FLOP/byte past L2", "GFLOP/s", "lowest ceiling (GFLOP/s)"], rows),
            ""] + (["*Faster than the ceiling measured a moment before: that ceiling reads low (its "
                    "microbenchmark runs for 0.3 s; on a shared machine a busy moment, or a lower clock, "
                    "lands on it), so the rung's bound here is the measured speed, not the line.", ""]
                   if any(row[-1].endswith("*") for row in rows) else []) + _roofline_reading(pts, peak, l2, mem)


def _roofline_reading(pts, peak, l2, mem):
    """What the L2 intensity hides, read from the points (where c_naive was counted)."""
    naive = next((p for p in pts if p.kernel == "c_naive"), None)
    if not (naive and naive.ai_l1):
        return []
    which, roof = V.bound(naive, peak, l2, mem)
    text = ("Past L2 every rung has a high intensity at this size: what misses L2 is little more "
            "than the first touch of A, B and C, so that intensity does not separate the rungs. "
            f"Past L1 it does: c_naive does {naive.ai_l1:.3g} FLOP per byte it brings from L2 "
            f"(a 64-byte line per multiply-add or so), so its lowest ceiling is {which} "
            f"({roof:.3g} GFLOP/s), and it runs at {naive.gflops:.3g}.")
    if which == "compute":
        text += " It reads as compute-bound only because no L2 bandwidth was measured."
    return [text, ""]


def scaling_section(title, n, rows):
    by = {}
    for k, t, s in rows:
        by.setdefault(k, []).append((t, s))
    top = max(t for _, t, _ in rows)
    lines = [f"## {title}", "", _table(["kernel"] + [f"{t} thr" for t in range(1, top + 1)],
             [[k] + [f"{gflops(matmul_flops(n, n, n), s):.3g}" for t, s in pts] for k, pts in by.items()]), ""]
    eff = [f"{k}: {pts[0][1] / pts[-1][1]:.2g}x on {pts[-1][0]} threads "
           f"({100 * pts[0][1] / pts[-1][1] / pts[-1][0]:.0f}% efficiency)" for k, pts in by.items()]
    lines += ["GFLOP/s at n = %d. Speed-up at the most threads: %s." % (n, "; ".join(eff)), ""]
    slower = [k for k, pts in by.items() if pts[-1][1] > pts[0][1]]
    if slower:
        lines += [f"{', '.join(slower)} ran slower on more threads: most likely another process had "
                  "the other core during this run (no kernel here slows down with a second core of its "
                  "own), so these counts say little about the kernels; run the scaling again on a quiet "
                  "machine (`--only scaling`).", ""]
    return lines


def write_note(r, out_dir, command):
    cfg = r["config"]
    chain = V.steps(r)
    lines = ["# Why plain C is slower than NumPy: hypotheses, measured", "",
             f"Command: `{command}`", "",
             f"Machine: {r['cores']} cores; caches {r['geometry']}; SIMD micro-kernel {r['isa']} "
             f"(AVX2 under valgrind, which has no AVX-512). dtype {cfg['dtype']}; counters at "
             f"n = {cfg['n_counters']}, times at n = {cfg['n_time']}.", ""]
    for f in V.verdicts(r):
        title, hyp, method = TEXT[f.key]
        lines += [f"## {title}", "", f"- **Hypothesis.** {hyp}", f"- **Method.** {method}",
                  f"- **Measurement.** {measurement(f, r)}", f"- **Verdict.** {verdict_text(f)}.", ""]
    if chain:
        lines += ["## The gap, step by step", "",
                  f"Times at n = {cfg['n_time']}, 1 thread unless marked; evidence from cachegrind at "
                  f"n = {cfg['n_counters']} unless marked.", "",
                  _table(["step", "factor", "mechanism", "evidence"], [step_row(s) for s in chain]), ""]
        t = r["times"]
        if t.get("c_naive") and t.get("numpy"):
            product = 1.0
            for s in chain:
                product *= s.factor if s.threads == 1 else 1.0
            lines += [f"Product of the 1-thread factors: {product:.4g}x; c_naive / NumPy measured directly: "
                      f"{t['c_naive'] / t['numpy']:.4g}x (they agree by construction: each factor is a "
                      "ratio of the same measured times).", ""]
        rem = V.remaining(r)
        if rem:
            lines += [remaining_text(rem), ""]
    if r.get("counters"):
        head = ["kernel", "instr/FLOP", "data reads/FLOP", "D1 misses/FLOP", "L2 misses/FLOP", "hot loop"]
        lines += ["## Counters per FLOP (cachegrind)", "", _table(head, [
            [k, f"{c.get('Ir', 0):.3g}", f"{c.get('Dr', 0):.3g}", f"{c.get('D1mr', 0):.3g}",
             f"{c.get('DLmr', 0):.3g}", r.get("isa_column", {}).get(k, "-")] for k, c in r["counters"].items()]), ""]
    lines += roofline_section(r)
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
        for t, v in r.get("bandwidth_l2", {}).items():
            w.writerow(["roofline", "triad_l2", "", f"gbs_{t}t", f"{v:.4g}"])
        for section, size, times in (("times", r["config"]["n_time"], r.get("times", {})),
                                     ("times", n, r.get("times_counters", {}))):
            for k, s in times.items():
                if s:
                    w.writerow([section, k, size, "seconds", f"{s:.6g}"])
