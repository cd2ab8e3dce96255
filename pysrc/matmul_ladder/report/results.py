"""One run's results, read back from its CSV: lookups for the tables, plots and report.

A time the per-call budget kept from being measured is extrapolated with the algorithm's
own exponent (3) from the kernel's largest measured size, and marked as estimated.
"""
import csv

import numpy as np

from matmul_ladder.bench.timing import MIN_FIT_SECONDS, P_MAX, P_MIN, gflops, matmul_flops

ALGORITHM_EXPONENT = 3  # every kernel of the ladder does M*N*K multiply-adds
NUMERIC = {"rung": int, "M": int, "N": int, "K": int, "threads": int, "repeats": int,
           "median_s": float, "min_s": float, "max_s": float, "gflops": float,
           "peak_gflops": float, "pct_peak": float, "normwise_error": float}
OPTIONAL_TEXT = ("flag", "precision")  # columns a CSV written before them lacks: read as ""


REQUIRED = ("kernel", "language", "device", "mode", "dtype", "M", "N", "K", "threads", "status",
            "median_s", "note")


def read_rows(path, required, numeric, text=()):
    """The rows of a results CSV with these required columns, the `numeric` ones cast (an
    empty cell read as None), the `text` ones "" where the CSV lacks them; ValueError if the
    CSV lacks a required column. Both ladders' CSVs are read by it."""
    rows = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"missing columns {', '.join(missing)}")
        for raw in reader:
            row = dict(raw)
            for key, cast in numeric.items():
                row[key] = cast(row[key]) if row.get(key) not in (None, "") else None
            for key in text:
                row[key] = row.get(key) or ""
            rows.append(row)
    return rows


def load_csv(path):
    """The rows of a ladder CSV, numbers cast; ValueError if it is not one."""
    return read_rows(path, REQUIRED, NUMERIC, OPTIONAL_TEXT)


def fit_exponent(points, min_n):
    """(p, c) of the least-squares fit log t = p log n + c over the points (n, t, ...) with
    n >= min_n (over all of them if fewer than two are), or None with fewer than two points.
    Both ladders' fitted exponents come from it: a finding, never used to extrapolate."""
    big = [p for p in points if p[0] >= min_n]
    pts = big if len(big) >= 2 else list(points)
    if len(pts) < 2:
        return None
    n, t = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    p, c = np.polyfit(n, t, 1)
    return float(p), float(c)


def _square(row):
    return row["M"] == row["N"] == row["K"]


class Table:
    """Lookups over one run's rows."""

    def __init__(self, rows):
        self.rows = rows
        self.ok = [r for r in rows if r["status"] == "ok"]
        order = {}
        for r in rows:
            order.setdefault(r["kernel"], (len(order), r["language"], r["rung"]))
        self.kernel_order = order

    def kernels(self):
        return sorted(self.kernel_order, key=lambda k: self.kernel_order[k][0])

    def previous_rung(self, kernel):
        """The rung below `kernel` in its own language; py_naive below the first one."""
        _, lang, rung = self.kernel_order[kernel]
        if rung is None or lang in ("baseline", "Python"):
            return None
        below = [k for k, (_, l, r) in self.kernel_order.items() if l == lang and r is not None and r < rung]
        if below:
            return max(below, key=lambda k: self.kernel_order[k][2])
        return "py_naive" if "py_naive" in self.kernel_order else None

    def series(self, kernel, dtype, threads, mode="compute"):
        """[(n, seconds)] of the kernel's measured square sizes."""
        pts = [(r["N"], r["median_s"]) for r in self.ok if r["kernel"] == kernel and
               r["dtype"] == dtype and r["threads"] == threads and r["mode"] == mode and _square(r)]
        return sorted(pts)

    def exponent(self, kernel, dtype, threads, mode="compute"):
        """(p, c) of the fit log t = p log n + c over sizes >= 128 (or all, if fewer than 2):
        a finding for the plots and the report, never used to extrapolate."""
        return fit_exponent(self.series(kernel, dtype, threads, mode), 128)

    def exponent_doubt(self, kernel, dtype, threads, mode="compute"):
        """'' or why the series grows as no cubic kernel's time can: the fit of log t against
        log n over its sizes that take at least MIN_FIT_SECONDS (past their fixed costs;
        timing.py says why) is outside P_MIN-P_MAX."""
        pts = [p for p in self.series(kernel, dtype, threads, mode) if p[1] >= MIN_FIT_SECONDS]
        if len(pts) < 2:
            return ""
        p = float(np.polyfit(np.log([x[0] for x in pts]), np.log([x[1] for x in pts]), 1)[0])
        if P_MIN <= p <= P_MAX:
            return ""
        return f"exponent {round(p, 2) + 0.0:.2f} (n {pts[0][0]}-{pts[-1][0]})"

    def flagged(self):
        """The rows the harness found doubtful (a non-empty `flag`)."""
        return [r for r in self.rows if r.get("flag")]

    def seconds(self, kernel, dtype, threads, n, mode="compute"):
        """(seconds, estimated) at square size n; falls back to 1 thread for serial kernels.
        A size the budget kept from being measured is extrapolated from the largest measured
        size below it with the algorithm's own exponent: t(n) = t(n0) * (n / n0) ** 3, since
        every kernel does n^3 multiply-adds at a near-constant cost each once n passes the
        small sizes. (A power law fitted to a few small, noisy sizes can be far too steep.)
        (None, False) if neither exists."""
        for t in (threads, 1):
            for r in self.ok:
                if (r["kernel"], r["dtype"], r["threads"], r["mode"], r["N"]) == (kernel, dtype, t, mode, n) and _square(r):
                    return r["median_s"], False
        t = threads if threads in self.threads_of(kernel) else 1
        below = [p for p in self.series(kernel, dtype, t, mode) if p[0] < n]
        if below:
            n0, s0 = below[-1]
            return s0 * (n / n0) ** ALGORITHM_EXPONENT, True
        return None, False

    def extrapolated_from(self, kernel, dtype, threads, n, mode="compute"):
        """The measured size an estimate at n is scaled from, or None."""
        t = threads if threads in self.threads_of(kernel) else 1
        below = [p[0] for p in self.series(kernel, dtype, t, mode) if p[0] < n]
        return below[-1] if below else None

    def threads_of(self, kernel):
        return sorted({r["threads"] for r in self.rows if r["kernel"] == kernel})

    def ladder(self, dtype, threads, n):
        """Rows of the ladder table at size n for one dtype and thread count (CPU kernels)."""
        out = []
        numpy_s, _ = self.seconds("numpy", dtype, threads, n)
        naive_s, naive_est = self.seconds("c_naive", dtype, 1, n)
        py_s, py_est = self.seconds("py_naive", dtype, 1, n)
        for kernel in self.kernels():
            rows = [r for r in self.rows if r["kernel"] == kernel and r["dtype"] == dtype and
                    r["threads"] == threads and r["N"] == n and _square(r) and r["device"] == "cpu"]
            if not rows:
                continue
            row = rows[0]
            s, est = self.seconds(kernel, dtype, threads, n)
            entry = {"kernel": kernel, "threads": threads, "status": row["status"],
                     "note": row["note"], "seconds": s, "estimated": est,
                     "gflops": gflops(matmul_flops(n, n, n), s) if s else None,
                     "pct_peak": row["pct_peak"] if row["status"] == "ok" else None,
                     "error": row.get("normwise_error"),
                     "flag": row.get("flag") or "", "precision": row.get("precision") or ""}
            prev = self.previous_rung(kernel)
            prev_s, prev_est = self.seconds(prev, dtype, threads, n) if prev else (None, False)
            for key, (base, base_est) in {"x_prev": (prev_s, prev_est), "x_c_naive": (naive_s, naive_est),
                                          "x_py_naive": (py_s, py_est)}.items():
                entry[key] = base / s if base and s else None
                entry[key + "_est"] = base_est or est
            entry["pct_numpy"] = 100 * numpy_s / s if numpy_s and s else None
            out.append(entry)
        return out


def series_label(kernel, threads, mode):
    """'c_omp (2t)' for a CPU series, 'cupy (compute)' for a GPU one."""
    if threads == 0:
        return f"{kernel} ({mode})"
    return f"{kernel} ({threads}t)"


def ladder_groups(table, size):
    """[(dtype, threads)] with rows at `size`: the 1-thread ladder, then all-cores ones."""
    groups = []
    for dtype in sorted({r["dtype"] for r in table.rows}):
        for threads in sorted({r["threads"] for r in table.rows if r["device"] == "cpu"}):
            if any(r["dtype"] == dtype and r["threads"] == threads and r["N"] == size and
                   _square(r) for r in table.rows):
                groups.append((dtype, threads))
    return groups


def default_ladder_size(rows):
    sizes = sorted({r["N"] for r in rows if _square(r)})
    return 1024 if 1024 in sizes else (sizes[-1] if sizes else None)




def unavailable(rows):
    """['kernels: reason'] for the kernels that could not run here, grouped by reason."""
    by_reason = {}
    for r in rows:
        if r["status"] == "unavailable":
            by_reason.setdefault(r["note"], []).append(r["kernel"])
    return [f"{', '.join(names)}: {reason}" for reason, names in by_reason.items()]

