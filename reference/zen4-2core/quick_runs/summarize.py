"""Ten `--quick` runs side by side: is any row slower than half of its own median across the
runs without being flagged?

    python3 reference/zen4-2core/quick_runs/summarize.py results/quick_{1..10}/ladder.csv \
        > reference/zen4-2core/quick_runs/SUMMARY.md

For each row (kernel, dtype, n, threads) the median of its ten medians is its own median; a
row's ratio is its median over that. A row with ratio > 2 ran at under half its usual speed:
it must carry a flag. Prints a Markdown summary; exits 1 if a slow row is unflagged.
"""
import csv
import json
import os
import statistics
import sys

LIMIT = 2.0  # slower than half the row's own median speed


def main(paths):
    runs = {}
    for path in paths:
        name = os.path.basename(os.path.dirname(path))
        runs[name] = [r for r in csv.DictReader(open(path, newline=""))
                      if r["status"] == "ok" and r["M"] == r["N"] == r["K"]]
    by_row = {}
    for name, rows in runs.items():
        for r in rows:
            key = (r["kernel"], r["dtype"], int(r["N"]), int(r["threads"]))
            by_row.setdefault(key, []).append((name, float(r["median_s"]), r.get("flag", ""), r))
    table = []
    for key, items in by_row.items():
        own = statistics.median(t for _, t, _, _ in items)
        for name, t, flag, r in items:
            table.append((t / own, key, name, t, own, flag, r))
    table.sort(key=lambda x: -x[0])
    slow = [x for x in table if x[0] > LIMIT]
    unflagged = [x for x in slow if not x[5]]
    flagged = [x for x in table if x[5]]
    first = os.path.dirname(paths[0])
    machine = json.load(open(os.path.join(first, "machine.json")))
    cpu = machine.get("cpu", {})
    started = [json.load(open(os.path.join(os.path.dirname(p), "run_status.json"))).get("started", "?")
               for p in paths]
    kinds = {}
    for x in flagged:
        for part in x[5].split("; "):
            kinds[part.split()[0]] = kinds.get(part.split()[0], 0) + 1
    out = [f"# Ten quick runs: rows slower than half their own median", "",
           f"Command, {len(runs)} times in a row: `python3 experiments/ladder.py --quick --out "
           f"results/quick_N` (N = 1..{len(runs)}), started {started[0]} to {started[-1]}; "
           f"summary: `python3 reference/zen4-2core/quick_runs/summarize.py "
           f"results/quick_{{1..{len(runs)}}}/ladder.csv`.", "",
           f"Machine: {cpu.get('model')} ({cpu.get('cores')} vCPUs, a KVM guest; `lscpu`: AMD EPYC "
           f"family 25 model 17, Zen 4), shared with other work while it ran.", "",
           f"{len(runs)} runs, {len(by_row)} rows (kernel, dtype, n, threads), "
           f"{len(table)} measurements measured ok.", "",
           f"- slower than half their own median (ratio > {LIMIT:g}): **{len(slow)}**, of which "
           f"flagged **{len(slow) - len(unflagged)}**, unflagged **{len(unflagged)}**",
           f"- flagged in all: {len(flagged)} ({', '.join(f'{n}: {sum(1 for x in flagged if x[2] == n)}' for n in runs)})",
           f"- flagged although within 2x of their own median: "
           f"{sum(1 for x in flagged if x[0] <= LIMIT)}",
           f"- flags by kind (a row can carry several): "
           + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])), ""]
    out += ["## The worst rows", "",
            "ratio = the run's median / the row's median over the ten runs.", "",
            "| ratio | kernel | dtype | n | threads | run | median | own median | spread (median/min) | flag |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    def line(x):
        ratio, (k, d, n, th), name, t, own, flag, r = x
        spread = float(r["median_s"]) / float(r["min_s"]) if float(r["min_s"]) > 0 else 0
        return (f"| {ratio:.2f} | {k} | {d} | {n} | {th} | {name} | {t * 1e3:.4g} ms | "
                f"{own * 1e3:.4g} ms | {spread:.2f} | {flag or '**none**'} |")
    out += [line(x) for x in table[:30]]
    if len(slow) > 30:
        out.append(f"| ... | {len(slow) - 30} more rows with ratio > {LIMIT:g}: their rows are in "
                   f"quick_runs.csv | | | | | | | | |")
    out += ["", "## The slowest unflagged rows", "",
            "| ratio | kernel | dtype | n | threads | run | median | own median | spread (median/min) | flag |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    out += [line(x) for x in [x for x in table if not x[5]][:15]]
    print("\n".join(out))
    return 1 if unflagged else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
