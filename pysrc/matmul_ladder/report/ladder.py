"""REPORT.md of a run, built from its CSV alone (and machine.json and run_status.json beside
it), so an old run can be re-reported: a notice at the top if the run was cut short, the
machine, how to read the tables, what the numbers say, the ladder tables, the GPU table,
non-square shapes, the fitted exponents, the rows found doubtful, and the plots."""
import json
import os

from matmul_ladder.report import plots as plotting
from matmul_ladder.report.results import (Table, _square, default_ladder_size, ladder_groups, load_csv, series_label,
                      unavailable)
from matmul_ladder.report.tables import (GPU_HEADER, LADDER_HEADER, console_tables, fmt, fmt_error, gpu_rows,
                     ladder_cells, markdown_table, status_cell)
from matmul_ladder.bench.timing import (MIN_FIT_SECONDS, P_MAX, P_MIN, SHARED_LIMIT, SPREAD_LIMIT, STOLEN_LIMIT,
                     WAITED_LIMIT)

__all__ = ["build", "console_tables", "load_csv", "report_markdown", "cut_short_notice",
           "cut_short_headline",
           "read_status", "write_status"]

STATUS_FILE = "run_status.json"  # what a run planned, and whether it got there


def write_status(out_dir, **fields):
    """Merge fields into the run's run_status.json (written when the run starts, with what it
    plans, and again when it ends, with how)."""
    path = os.path.join(out_dir, STATUS_FILE)
    status = read_status(path) or {}
    status.update(fields)
    with open(path, "w") as f:
        json.dump(status, f, indent=2)
    return path


def read_status(path):
    """The run status at `path` (a run_status.json, or the CSV beside it), or None."""
    if not path.endswith(".json"):
        path = os.path.join(os.path.dirname(os.path.abspath(path)), STATUS_FILE)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def cut_short_headline(rows, status):
    """'**This run was cut short (...); it holds R of the P rows it planned.**', or '' for a
    run that finished (or one with no status file). Both ladders' reports open with it."""
    if not status:
        return ""
    planned = status.get("planned_rows")
    state = status.get("state")
    if state == "complete" and (planned is None or len(rows) >= planned):
        return ""
    how = {"interrupted": f"interrupted: {status.get('why') or 'stopped before its end'}",
           "running": "it never finished: its status still says running, so the process was "
                      "killed, or is still measuring",
           "complete": "it ended with fewer rows than planned"}.get(state, f"state {state!r}")
    holds = (f"it holds {len(rows)} of the {planned} rows it planned" if planned is not None
             else f"it holds {len(rows)} rows")
    return f"**This run was cut short ({how}); {holds}.**"


def cut_short_notice(rows, status, size):
    """[lines] saying that the run did not measure all it planned, how much it holds and at
    which n its tables stand; [] for a run that finished (or one with no status file)."""
    headline = cut_short_headline(rows, status)
    if not headline:
        return []
    lines = [headline]
    counts = {}  # dtype -> {n: rows}
    for r in rows:
        if r["status"] != "unavailable" and _square(r):
            per = counts.setdefault(r["dtype"], {})
            per[r["N"]] = per.get(r["N"], 0) + 1
    want = status.get("planned_ladder_size")
    if size is not None:
        where = (f"the planned n = {want}" if want in (None, size) else
                 f"n = {size}, the largest size it reached, not at the planned n = {want}")
        reached = "; ".join(f"{d}: " + ", ".join(f"n = {n}: {c}" for n, c in sorted(per.items()))
                            for d, per in sorted(counts.items()))
        missing = [d for d in status.get("dtypes", []) if d not in counts]
        if missing:
            reached += "; " + ", ".join(missing) + ": none"
        lines.append(f"Its ladder tables stand at {where}. Rows at each size: {reached}.")
    return lines


def doubtful_lines(table):
    """['- kernel dtype MxKxN t=T: flag'] for the rows the harness found doubtful."""
    return [f"- {r['kernel']} {r['dtype']} {r['M']}x{r['K']}x{r['N']} t={r['threads']}"
            f"{' ' + r['mode'] if r['device'] == 'gpu' else ''}: {r['flag']}"
            + (f" ({r['note']})" if r.get("note") else "") for r in table.flagged()]


def extrapolated(table, size):
    """['- kernel, dtype, t threads: ~T s, from n0 = ... (measured T0 s)'] for the estimates."""
    out = []
    for dtype, threads in ladder_groups(table, size):
        for e in table.ladder(dtype, threads, size):
            if e["estimated"] and e["seconds"]:
                n0 = table.extrapolated_from(e["kernel"], dtype, threads, size)
                t0, _ = table.seconds(e["kernel"], dtype, threads, n0)
                out.append(f"- {e['kernel']}, {dtype}, {threads} thread(s): ~{fmt(e['seconds'], unit='s')}"
                           f" = {fmt(t0, unit='s')} measured at n = {n0} x ({size}/{n0})³")
    return list(dict.fromkeys(out))


REFUTED = {
    "c_ikj": "unit-stride loops pay only when B's columns miss the cache",
    "c_blocked": "the ikj loop is bound by its own load and store of C per multiply-add; with "
                 "the hardware prefetcher streaming B's rows from L3 as fast as the loop uses "
                 "them, keeping a tile of B in L2 changes nothing that limits it. "
                 "`python experiments/why.py` measures this (its blocking section: c_ikj's "
                 "speed as B outgrows L2, and the L2 misses of both)",
    "c_simd": "the micro-kernel's gain needs AVX2/AVX-512 FMA; see the hot-loop ISA in why.py",
    "c_omp": "a second thread helps only if it has a core of its own: compare the FMA peak on "
             "1 and on all threads in the CSV's peak_gflops",
    "c_strassen": "below its cutoff (`ml.build_info()['strassen']`, measured here by "
                  "`matmul-ladder tune`) it runs c_omp's loop unchanged; above it one level "
                  "saves 1/8 of the multiply-adds for 18 extra passes over blocks of the "
                  "matrices, which pays only for large n (docs/strassen.md)",
}
NOISE = 1.10  # steps within 10% are inside these machines' noise
BF16_NOTE = (
    "The bf16 rows (c_bf16, torch_bf16; the CSV's `precision`) compute another product: their "
    "float32 inputs are rounded to bfloat16 (8 significant bits) and the products summed in "
    "float32; torch_bf16 (torch.matmul on bfloat16 tensors, converted before the timed calls) "
    "also rounds its answer to bfloat16. They were checked against the float64 product of the "
    "rounded inputs, at float32's bounds for the sum (plus the answer's rounding, 2^-8 an "
    "entry, for torch_bf16: bench/check.py), so a dropped block or a drift is still caught. "
    "Their `error`, against the float64 product of the inputs as given, is the price of the "
    "rounding: 2e-3 to 3e-3 for these uniform inputs (rounding an input costs up to 2^-8 of "
    "it), tens of thousands of times float32's. Their `% peak` is "
    "against the peak of the BF16 matrix unit c_bf16 uses (AMX's TDPBF16PS or AVX512-BF16's "
    "VDPBF16PS, csrc/bf16_peak.c), blank where no such unit runs. A c_bf16 row whose CSV "
    "`note` names an `emulate_` unit ran a scalar emulation, for tests: its time is no speed. "
    "docs/matrix-units.md says more.")


def _doubt(*entries):
    """The flags of the ladder entries a figure stands on, joined ('' if none is doubtful)."""
    return "; ".join(dict.fromkeys(e["flag"] for e in entries if e and e.get("flag")))


def ladder_steps(table, dtype, size):
    """[(kernel, factor over the rung before, doubt)] for the C ladder at `size`: rungs 1-4
    on one thread, c_omp on the most threads against c_simd on one. doubt: the flags of the
    two timings the factor divides ('' if neither is doubtful)."""
    one = {e["kernel"]: e for e in table.ladder(dtype, 1, size)}
    below = lambda k: one.get(table.previous_rung(k))  # noqa: E731
    # A rung of another precision (c_bf16) computes another product: no step of this ladder.
    steps = [(k, e["x_prev"], _doubt(e, below(k))) for k, e in one.items()
             if e["x_prev"] and k.startswith("c_") and k not in ("c_naive", "c_omp")
             and not e["precision"]]
    most = max(table.threads_of("c_omp") or [1])
    if most > 1:
        omp = [e for e in table.ladder(dtype, most, size) if e["kernel"] == "c_omp"]
        if omp and omp[0]["x_prev"]:
            steps.append((f"c_omp ({most} threads)", omp[0]["x_prev"],
                          _doubt(omp[0], below("c_omp"))))
    return steps


def strassen_cutoff(machine, dtype):
    """c_strassen's cutoff for this dtype in machine.json, or None where it is not recorded."""
    try:
        return int(machine["build"]["strassen"][dtype]["cutoff"])
    except (KeyError, TypeError, ValueError):
        return None


def bf16_lines(table, size):
    """Sentences on the bf16 rows at `size`, one per dtype and thread count: their speed beside
    NumPy's and c_omp's in the dtype, and their error beside NumPy's."""
    lines = []
    for dtype, threads in ladder_groups(table, size):
        entries = {e["kernel"]: e for e in table.ladder(dtype, threads, size)}
        rounded = [e for e in entries.values() if e["precision"] and e["seconds"]
                   and e["status"] == "ok"]
        if not rounded:
            continue
        parts = []
        for e in rounded:
            if "emulate_" in e["note"]:  # _bf16_unit_note in rungs/registry.py
                text = f"{e['kernel']} on an emulated unit (a test, no speed)"
            else:
                text = f"{e['kernel']} {fmt(e['gflops'])} GFLOP/s"
                if e["pct_numpy"]:
                    text += f" ({e['pct_numpy']:.0f}% of NumPy {dtype})"
                if e["flag"]:
                    text += " (a doubtful timing)"
            parts.append(f"{text}, error {fmt_error(e['error'])}")
        same = [f"{k} {fmt(entries[k]['gflops'])} GFLOP/s, error {fmt_error(entries[k]['error'])}"
                for k in ("numpy", "c_omp") if k in entries and entries[k]["gflops"]]
        lines.append(f"- **bf16, n = {size}, {threads} thread{'s' if threads > 1 else ''}:** "
                     + "; ".join(parts) + (f"; beside {dtype}: " + "; ".join(same) if same else "")
                     + ".")
    return lines


def relations(table, size, machine=None):
    """Sentences read from the data: the gap, the step that closes most of it, any step that
    gains nothing (its hypothesis refuted here), the pure-Python gap."""
    lines = []
    for dtype in sorted({r["dtype"] for r in table.ok}):
        entries = {e["kernel"]: e for e in table.ladder(dtype, 1, size)}
        naive, npy = entries.get("c_naive"), entries.get("numpy")
        if naive and npy and naive["seconds"] and npy["seconds"]:
            doubt = _doubt(naive, npy)
            lines.append(f"- **{dtype}, n = {size}, 1 thread:** NumPy is "
                         f"{naive['seconds'] / npy['seconds']:,.0f}x faster than plain C (c_naive)"
                         + (f" (a doubtful timing: {doubt})." if doubt else "."))
        steps = ladder_steps(table, dtype, size)
        if steps:
            lines.append("  Steps up the C ladder: " + ", ".join(
                f"{k} {x:.3g}x" + (" (doubtful)" if d else "") for k, x, d in steps) + ".")
            sound = [s for s in steps if not s[2]]
            if sound:
                best = max(sound, key=lambda s: s[1])
                lines.append(f"  The largest single step is {best[0]} ({best[1]:.3g}x)"
                             + (" of those timed soundly." if len(sound) < len(steps) else "."))
            cutoff = strassen_cutoff(machine or {}, dtype)
            for k, x, doubt in steps:
                if doubt:
                    lines.append(f"  {k}'s {x:.3g}x stands on a doubtful timing ({doubt}): it "
                                 f"shows nothing about the rung here; see 'Doubtful timings'.")
                elif k.startswith("c_strassen") and cutoff and size < cutoff:
                    lines.append(f"  {k} takes no Strassen level below its cutoff (n >= {cutoff} "
                                 f"here), so at n = {size} it runs c_omp's loop: its {x:.3g}x "
                                 f"is the noise between two timings of one loop.")
                elif x < 1 / NOISE:
                    lines.append(f"  **{k} is slower than the rung before it here ({x:.3g}x): its "
                                 f"hypothesis is refuted on this machine.** {REFUTED.get(k.split()[0], '')}")
                elif x < NOISE:
                    why = REFUTED.get(k.split()[0])
                    lines.append(f"  {k} gains nothing measurable here ({x:.3g}x, inside the "
                                 f"noise)" + (f": {why}" if why else "."))
        simd = entries.get("c_simd")
        if simd and simd["pct_numpy"]:
            doubt = _doubt(simd, npy)
            lines.append(f"  c_simd runs at {simd['pct_numpy']:.0f}% of NumPy's speed on one thread"
                         + (f" (a doubtful timing: {doubt})." if doubt else "."))
        py = entries.get("py_naive")
        if py and py["seconds"] and npy and npy["seconds"]:
            est = (" (py_naive extrapolated as n³ from its largest measured size)"
                   if py["estimated"] else "")
            lines.append(f"  NumPy is {py['seconds'] / npy['seconds']:,.0f}x faster than pure Python{est}.")
    lines += bf16_lines(table, size)
    fits = []
    for kernel in table.kernels():
        for dtype in sorted({r["dtype"] for r in table.ok}):
            for threads in table.threads_of(kernel):
                for mode in ("compute", "copies"):
                    fit = table.exponent(kernel, dtype, threads, mode)
                    if fit:
                        doubt = table.exponent_doubt(kernel, dtype, threads, mode)
                        fits.append([series_label(kernel, threads, mode), dtype, f"{fit[0]:.2f}",
                                     f"implausible: {doubt}" if doubt else ""])
    return lines, fits


def build(csv_path, out_dir=None, machine=None, size=None, command=None, status=None):
    """Rebuild the plots and REPORT.md from a CSV (and machine.json and run_status.json beside
    it, if any)."""
    out_dir = out_dir or os.path.dirname(os.path.abspath(csv_path))
    os.makedirs(out_dir, exist_ok=True)
    rows = load_csv(csv_path)
    if machine is None:
        path = os.path.join(os.path.dirname(os.path.abspath(csv_path)), "machine.json")
        if os.path.exists(path):
            with open(path) as f:
                machine = json.load(f)
    if status is None:
        status = read_status(csv_path)
    size = size or default_ladder_size(rows)
    plots = plotting.plot_all(rows, out_dir, size, machine=machine)
    text = report_markdown(rows, machine or {}, size, plots, command, status)
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


def report_markdown(rows, machine, size, plots, command=None, status=None):
    table = Table(rows)
    run = rows[0]["run"] if rows else "?"
    out = [f"# matmul-ladder report: run {run}", ""]
    notice = cut_short_notice(rows, status, size)
    if notice:
        out += notice + [""]
    doubtful = doubtful_lines(table)
    if doubtful:
        out += [f"**{len(doubtful)} of its {len(table.ok)} timings are doubtful** (listed under "
                f"'Doubtful timings').", ""]
    if command:
        out += ["Command:", "", f"    {command}", ""]
    out += ["## Machine", ""] + _machine_lines(machine) + [""]
    out += ["## How to read this", "",
            "GFLOP/s = 2·M·N·K / median time. Every result was checked against float64 NumPy "
            "with the bound |C − C_ref| ≤ 2·K·ε·(|A|·|B|) before it was timed. Medians of at least "
            "3 repeats (fewer only where one call passes the budget; see the CSV's `repeats`). "
            "`~` marks a time the per-call budget kept from being measured: it is extrapolated "
            "with the algorithm's own exponent, t(n) = t(n0)·(n/n0)³, from the kernel's largest "
            "measured size n0 (listed under 'Extrapolated'), the same rule in every dtype. These "
            "machines are shared and noisy: differences under about 10% mean nothing.", "",
            "`error` is the answer's normwise error against float64, ||C − C_ref||_F / "
            "||C_ref||_F (C_ref: the float64 product of the same inputs); a float32 kernel's is "
            "near sqrt(K)·2^-24 or below. Before each kernel's first call the thread pools of the "
            "one before it have gone idle (OpenBLAS's spin ~0.1 s after a call). A timing is "
            f"*doubtful* where its median is over {SPREAD_LIMIT:g}x its fastest call (spread), "
            f"where its threads waited for a CPU over {100 * WAITED_LIMIT:.0f}% of the time each "
            f"(another process had the cores), where the hypervisor stole over {STOLEN_LIMIT:g} "
            f"CPU, where other processes kept over {SHARED_LIMIT:g} CPU busy meanwhile (they "
            "share the caches and the memory bus: a neighbour streaming through memory made "
            "1-thread kernels up to 2x slower), or where it grows from the size before as t ~ n^p with p outside "
            f"{P_MIN:g}-{P_MAX:g} (both sizes past {1e3 * MIN_FIT_SECONDS:g} ms, their fixed "
            "costs): such a row was timed once more after a quiet period, the better-behaved "
            "timing kept, and its status says what still makes it doubtful.", ""]
    if any((r.get("precision") or "").startswith("bf16") for r in rows):
        out += [BF16_NOTE, ""]
    lines, fits = relations(table, size, machine)
    if lines:
        out += ["## What the numbers say", ""] + lines + [""]
    for dtype, threads in ladder_groups(table, size):
        out += [f"## Ladder: {dtype}, n = {size}, {threads} thread{'s' if threads > 1 else ''}", "",
                markdown_table(LADDER_HEADER, [ladder_cells(e) for e in table.ladder(dtype, threads, size)]), ""]
    estimates = extrapolated(table, size)
    if estimates:
        out += ["## Extrapolated", "", "Times at n = %d that the budget kept from being measured, "
                "scaled as n³ from the largest measured size:" % size, ""] + estimates + [""]
    gpu = gpu_rows(rows)
    if gpu:
        out += ["## GPU", "", "compute: data already on the GPU, timed with CUDA events; copies: "
                "host arrays in, host array out, host clock.", "", markdown_table(GPU_HEADER, gpu), ""]
    others = [r for r in rows if not _square(r) and r["device"] == "cpu"]
    if others:
        out += ["## Non-square shapes", "", markdown_table(
            ["kernel", "threads", "dtype", "MxKxN", "time", "GFLOP/s", "error", "status"],
            [[r["kernel"], r["threads"], r["dtype"], f"{r['M']}x{r['K']}x{r['N']}",
              fmt(r["median_s"], False, "s"), fmt(r["gflops"]), fmt_error(r.get("normwise_error")),
              status_cell(r["status"], r["note"], r.get("flag"))] for r in others]), ""]
    if fits:
        out += ["## Time against size", "",
                "Fitted exponent p of time ∝ n^p over the measured sizes n ≥ 128. The arithmetic is "
                "n^3 for every kernel; p below 3 means fixed overheads still matter at the small "
                "sizes, p above 3 means the kernel gets less efficient as n grows (cache misses), "
                "or that a few small, noisy sizes carry the fit. It is a finding, never used to "
                "extrapolate. Fitted over the sizes past their fixed costs (those that take "
                f"at least {1e3 * MIN_FIT_SECONDS:g} ms), a cubic kernel's p lies within "
                f"{P_MIN:g}-{P_MAX:g} (timing.py says why); one outside is marked implausible.", "",
                markdown_table(["kernel", "dtype", "p", "doubt"], fits), ""]
    if doubtful:
        out += ["## Doubtful timings", "", "Rows still doubtful after a second timing, and why "
                "(see 'How to read this'):", ""] + doubtful + [""]
    missing = unavailable(rows)
    if missing:
        out += ["## Not measured here", ""] + [f"- {m}" for m in missing] + [""]
    bad = [r for r in rows if r["status"] in ("FAILED", "ERROR", "OOM")]
    if bad:
        out += ["## Failures", ""] + [f"- {r['kernel']} {r['dtype']} {r['M']}x{r['K']}x{r['N']} "
                                      f"t={r['threads']}: {r['status']}: {r['note']}" for r in bad] + [""]
    if plots:
        out += ["## Plots", ""] + [f"![{p}]({p})" for p in plots] + [""]
    return "\n".join(out)
