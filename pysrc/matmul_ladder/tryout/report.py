"""The REPORT section, the figure and the JSON that place a student's kernel on the ladder."""
import json
import os
import platform
import subprocess

from matmul_ladder.bench.timing import gflops, matmul_flops

FIGURE = "ladder.png"
HIGHLIGHT, RUNG, BASELINE = "#d62728", "#7f7f7f", "#1f77b4"


def machine_label():
    """The CPU's model name as lscpu gives it (else /proc/cpuinfo or platform), and the
    architecture."""
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines()
                      if ln.startswith("Model name:")), "")
    except (OSError, subprocess.SubprocessError):
        pass
    if not model:
        from matmul_ladder.api import _cpu_facts
        model = _cpu_facts()["model"] or platform.processor()
    return f"{model} ({platform.machine()}, {os.cpu_count()} logical CPUs)"


def bars(race):
    """[(name, GFLOP/s, kind)] in ladder order, the student's kernel placed by its speed
    among the rungs, NumPy last; kind is 'rung', 'numpy' or 'yours'."""
    n, times, name = race["n"], race["times"], race["name"]
    rate = lambda t: gflops(matmul_flops(n, n, n), t)  # noqa: E731
    rows = [(r, rate(times[r]), "rung") for r in race["rungs"]]
    mine = (name, rate(times[name]), "yours")
    at = next((i for i, row in enumerate(rows) if row[1] > mine[1]), len(rows))
    rows.insert(at, mine)
    rows.append(("numpy", rate(times["numpy"]), "numpy"))
    return rows


def plot(race, machine, path):
    """A bar per rung, NumPy and the student's kernel (highlighted): GFLOP/s, linear axis."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = bars(race)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.6))
    colours = {"rung": RUNG, "numpy": BASELINE, "yours": HIGHLIGHT}
    ax.barh([r[0] for r in rows], [r[1] for r in rows], color=[colours[r[2]] for r in rows])
    top = max(r[1] for r in rows)
    for i, (label, rate, kind) in enumerate(rows):
        ax.text(rate + 0.01 * top, i, f"{rate:.3g}", va="center", fontsize=8,
                fontweight="bold" if kind == "yours" else "normal")
    for tick, row in zip(ax.get_yticklabels(), rows):
        if row[2] == "yours":
            tick.set_color(HIGHLIGHT)
            tick.set_fontweight("bold")
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.15)
    ax.set_xlabel("GFLOP/s (higher is faster)")
    ax.set_title(f"{race['name']} on the ladder: {race['dtype']}, n = {race['n']}, one thread\n"
                 f"{machine}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


LEVEL = 0.05  # a paired ratio within 5% of 1 is called level


def _verdict(ratio):
    if abs(ratio - 1) <= LEVEL:
        return "level with it (within 5%)"
    if ratio > 1:
        return f"yours is {ratio:.2f}x as fast"
    return f"yours takes {1 / ratio:.2f}x as long"


def markdown(check, race, machine, built):
    """The REPORT section: where the kernel sits, the ratios, the table, the checks."""
    name, n = race["name"], race["n"]
    rows = bars(race)
    lines = [f"## {name} on the ladder", "",
             f"`{os.path.basename(built.source)}` ({race['symbol']}), {race['dtype']}, "
             f"n = {n}, one thread, on {machine}.", ""]
    below, above = race["below"], race["above"]
    if below and above:
        place = f"It sits between **{below}** (the fastest rung it beats) and **{above}** " \
                f"(the slowest rung that beats it)"
    elif below:
        place = f"It beats every rung; the fastest of them is **{below}**"
    else:
        place = f"Every rung beats it; the slowest of them is **{above}**"
    lines += [place + " (placed by one timing of each; the paired races below are the "
              "finer measure).", "", "Ratios t(rung) / t(yours) from paired races (call by call, "
              "bench.race; > 1: yours is faster):", ""]
    for r, ratio in race["ratios"].items():
        lines.append(f"- {r}: {ratio:.3g}, {_verdict(ratio)}; {race['rounds'][r]} rounds")
    lines += ["", "| kernel | median ms | GFLOP/s | normwise error |", "|---|---:|---:|---:|"]
    for label, rate, kind in rows:
        mark = "**" if kind == "yours" else ""
        lines.append(f"| {mark}{label}{mark} | {race['times'][label] * 1e3:.3f} | {rate:.3g} | "
                     f"{race['errors'][label]:.2g} |")
    lines += ["", f"![{name} on the ladder]({FIGURE})", "",
              f"Checked with bench.check.Reference on {len(check['checked'])} hard shapes "
              f"({', '.join(check['functions'])}): empty dimensions, 1 x 1 x 1, primes, "
              f"sizes one past the tiles, (1 x 25600) @ (25600 x 100), and strided operands "
              f"(lda/ldb/ldc wider than the matrices): all passed.", "",
              f"Compiled with `{built.command}`.", ""]
    if built.warnings:
        lines += ["The compiler's warnings:", "", "```", built.warnings, "```", ""]
    return "\n".join(lines)


def write(out_dir, check, race, built):
    """REPORT.md, the figure and result.json in out_dir; returns out_dir."""
    os.makedirs(out_dir, exist_ok=True)
    machine = machine_label()
    plot(race, machine, os.path.join(out_dir, FIGURE))
    with open(os.path.join(out_dir, "REPORT.md"), "w") as f:
        f.write(markdown(check, race, machine, built))
    with open(os.path.join(out_dir, "result.json"), "w") as f:
        json.dump({"machine": machine, "check": check, "race": race,
                   "library": built.library, "command": built.command}, f, indent=1)
    return out_dir
