"""Why is plain C slower than NumPy? Each hypothesis, the quantity it predicts, measured.

- Memory hierarchy (loop order, blocking): D1 and L2 misses per FLOP from cachegrind, run with
  this CPU's real L1d and L2 geometry (read from sysfs; cachegrind's own guess of the last
  level was a wrong 480 MiB here), and GFLOP/s against n across the L2 boundary.
- Instructions (SIMD, FMA): instructions per FLOP (cachegrind's Ir), and the widest floating-
  point instructions of each rung's hot loop, read from the built extension with objdump.
- Threads: a scaling curve over 1..nproc for c_omp, cy_prange and NumPy.
- Roofline: FMA peak and triad bandwidth (from memory, and on arrays that fit L2) measured
  here; each rung at its intensities past L1 and past L2, from the counters at one size.
- The gap decomposition from c_naive to NumPy, step by step, with the evidence of each step.

The parts: cachegrind.py (counters), disasm.py (the ISA column), verdicts.py (the verdicts,
as numbers and enums), note.py (WHY.md and why.csv, the text written last), plots.py; this
module runs the study.
"""
import csv
import os
import shutil
import sys
from dataclasses import dataclass

from matmul_ladder import api as _api
from matmul_ladder.rungs.threads import cores
from matmul_ladder.explain.cachegrind import cachegrind_counts
from matmul_ladder.bench.race import checked_seconds as seconds
from matmul_ladder.explain.disasm import isa_column
from matmul_ladder.bench.timing import gflops, matmul_flops
from matmul_ladder.explain.note import scaling_section, write_csv, write_note  # noqa: F401
from matmul_ladder.explain.verdicts import (CHAIN, Finding, Verdict, blocking_verdict, remaining,  # noqa: F401
                                            roofline_points, steps, verdicts)

__all__ = ["WhyConfig", "study", "main", "scaling", "read_scaling_csv", "write_csv", "write_note",
           "scaling_section", "CHAIN", "Finding", "Verdict", "blocking_verdict", "remaining",
           "roofline_points", "steps", "verdicts"]

L2_TRIAD_BYTES = 3 << 18   # a triad's three arrays in 768 KiB: past L1, within a 1 MiB L2


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
        l2 = r["geometry"].get("L2", (1 << 20,))[0]
        elements = min(L2_TRIAD_BYTES, 3 * l2 // 4) // 24
        r["bandwidth_l2"] = {1: _api.triad_bandwidth(elements, 1, 2000)}
        r["times"] = {}
        for k in CHAIN + ["cy_naive", "cy_ikj", "cy_blocked"]:
            log(f"time {k} n={cfg.n_time}")
            r["times"][k] = seconds(k, cfg.n_time, cfg.dtype)
        for k in ("c_omp", "numpy"):
            r["times"][f"{k} ({cores()}t)"] = seconds(k, cfg.n_time, cfg.dtype, cores())
        # the roofline's speeds, at the size the counters were read at
        r["times_counters"] = {k: seconds(k, cfg.n_counters, cfg.dtype) for k in r.get("counters", {})}
    return r


def read_scaling_csv(path):
    """(n, [(kernel, threads, seconds)]) from another run's why.csv, e.g. a 16-core host's."""
    rows, n = [], None
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["section"] == "scaling":
                n = int(row["n"])
                rows.append((row["kernel"], int(row["metric"].split("_")[1].rstrip("t")), float(row["value"])))
    return n, rows


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
    p.add_argument("--print-report", action="store_true",
                   help="print WHY.md at the end (default: the folder written)")
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
    if args.print_report:
        with open(note) as f:
            print(f.read())
    print(f"wrote {os.path.join(args.out, 'why.csv')}, the plots and {note}")
    return 0
