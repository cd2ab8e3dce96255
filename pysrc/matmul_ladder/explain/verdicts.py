"""The why study's verdicts as data: every rule reads numbers from the study's dict and returns
numbers, enums and dataclasses. The text of WHY.md is written from these last (note.py), and
nothing here reads text back."""
import enum
import math
from dataclasses import dataclass, field

import numpy as np

from matmul_ladder.bench.timing import gflops, matmul_flops

CHAIN = ["c_naive", "c_ikj", "c_blocked", "c_simd", "numpy"]
DROP = 0.8        # a speed below this share of the best at smaller sizes is a drop
GAP_TOLERANCE = 0.05  # two times within 5% of each other are a match, not a gap


class Verdict(enum.Enum):
    SUPPORTED = "supported"
    PARTLY_SUPPORTED = "partly supported"
    PARTLY_REFUTED = "partly refuted"
    REFUTED = "refuted"


@dataclass
class Finding:
    key: str                  # which hypothesis: loop_order, blocking, simd, registers, threads
    verdict: Verdict
    data: dict                # the numbers the verdict was read from
    outcome: str = ""         # which case of the rule held (a key into note.py's reasons)


@dataclass
class Cliff:
    """Where the model puts c_ikj's cliff (B fills a cache level) and where the data put it."""
    n_l2: float               # n at which B (n^2 elements) fills L2
    n_l3: float | None        # ... fills L3
    n_drop: int | None        # first timed n from which every speed stays below DROP x the best before it
    n_last_fast: int | None   # the timed size just before n_drop
    agrees: bool              # the drop comes within the sizes next to the L2 model's n


@dataclass
class Evidence:
    label: str
    before: float
    after: float
    n: int | None = None      # the size it was counted at

    @property
    def ratio(self):
        return self.after / self.before if self.before else math.inf


@dataclass
class Step:
    before: str
    after: str
    factor: float             # time(before) / time(after)
    evidence: list = field(default_factory=list)
    isa: tuple | None = None  # (hot loop before, after) where they differ
    fits_l2_at_counters: bool = False  # B fits L2 at the counters' size: blocking has nothing to do there
    threads: int = 1


class Gap(enum.Enum):
    FASTER = "faster"         # c_simd faster than NumPy
    MATCHES = "matches"       # within GAP_TOLERANCE
    SLOWER = "slower"         # NumPy faster: the gap this study leaves unexplained


@dataclass
class Remaining:
    gap: Gap
    speedup: float            # t(c_simd) / t(numpy): > 1 where NumPy is faster


@dataclass
class RooflinePoint:
    kernel: str
    ai_l1: float | None       # FLOP per byte that missed L1 (bytes moved between L1 and L2)
    ai_l2: float | None       # FLOP per byte that missed L2 (bytes from L3 or memory)
    gflops: float
    n: int                    # counted and timed at this size


def n_fills(level_bytes, dtype):
    return math.sqrt(level_bytes / np.dtype(dtype).itemsize)


def cliff(r, kernel="c_ikj"):
    """The model's and the data's place for the cliff of `kernel`, or None without the data."""
    pts = r.get("cliff_time", {}).get(kernel)
    geometry, dtype = r["geometry"], r["config"]["dtype"]
    if not pts or "L2" not in geometry:
        return None
    n_l2 = n_fills(geometry["L2"][0], dtype)
    n_l3 = n_fills(geometry["L3"][0], dtype) if "L3" in geometry else None
    n_drop = last = None
    for i, (n, g) in enumerate(pts[1:], 1):   # a drop that lasts: a single slow size is noise
        if all(x < DROP * max(y for _, y in pts[:i]) for _, x in pts[i:]):
            n_drop, last = n, pts[i - 1][0]
            break
    agrees = n_drop is not None and last <= n_l2 * 1.3 and n_drop >= n_l2 / 1.3
    return Cliff(n_l2, n_l3, n_drop, last, agrees)


def _around(pts, n_small, n_large):
    small = [g for n, g in pts if n <= n_small]
    large = [g for n, g in pts if n >= n_large]
    return (max(small) if small else None), (min(large) if large else None)


def blocking_verdict(ikj_small, ikj_large, blocked_small, blocked_large):
    """The blocking hypothesis read from c_ikj's and c_blocked's GFLOP/s below and above the
    cliff: (Verdict, outcome)."""
    if ikj_large < DROP * ikj_small:
        if blocked_large > 1.1 * ikj_large:
            return Verdict.SUPPORTED, ""
        return Verdict.PARTLY_SUPPORTED, "no_recovery"
    return Verdict.REFUTED, "no_cliff"


def blocking(r):
    ct = r.get("cliff_time", {})
    c = cliff(r)
    if not (c and ct.get("c_blocked")):
        return None
    # below and above the measured drop where there is one, else around the model's size
    lo, hi = (c.n_last_fast, c.n_drop) if c.n_drop else (c.n_l2 / 1.3, c.n_l2 * 1.3)
    si, li = _around(ct["c_ikj"], lo, hi)
    sb, lb = _around(ct["c_blocked"], lo, hi)
    if None in (si, li, sb, lb):
        return None
    verdict, outcome = blocking_verdict(si, li, sb, lb)
    data = {"ikj": (si, li), "blocked": (sb, lb), "sizes": (lo, hi), "cliff": c}
    counted = _l2_counted_beyond(r, c.n_l2)
    if counted:
        data["l2_misses"] = counted
    return Finding("blocking", verdict, data, outcome)


def _l2_counted_beyond(r, n_l2):
    """(n, c_ikj's, c_blocked's L2 misses per FLOP) at the largest counted size past n_l2."""
    cc = r.get("cliff_counters", {})
    ikj, blk = dict((n, ll) for n, ll, _ in cc.get("c_ikj", [])), dict((n, ll) for n, ll, _ in cc.get("c_blocked", []))
    past = [n for n in ikj if n in blk and n > n_l2]
    if not past:
        return None
    n = max(past)
    return n, ikj[n], blk[n]


def verdicts(r):
    """[Finding] read from the numbers."""
    out, cnt, isa = [], r.get("counters", {}), r.get("isa_column", {})
    if "c_naive" in cnt and "c_ikj" in cnt:
        a, b = cnt["c_naive"]["D1mr"], cnt["c_ikj"]["D1mr"]
        ok = not b or a / b > 4
        out.append(Finding("loop_order", Verdict.SUPPORTED if ok else Verdict.REFUTED, {"naive": a, "ikj": b}))
    f = blocking(r)
    if f:
        out.append(f)
    if isa:
        widths = {k: isa.get(k) for k in ("c_naive", "c_ikj", "c_blocked", "c_simd")}
        ikj = isa.get("c_ikj") or ""
        vectorised = ikj.startswith(("SSE", "AVX", "NEON", "SVE"))
        out.append(Finding("simd", Verdict.PARTLY_REFUTED if vectorised else Verdict.SUPPORTED, widths,
                           "compiler_vectorises" if vectorised else "scalar"))
    if "c_blocked" in cnt and "c_simd" in cnt:
        a, b = cnt["c_blocked"], cnt["c_simd"]
        ok = b["Ir"] < a["Ir"] / 2 and b["Dr"] < a["Dr"] / 2
        out.append(Finding("registers", Verdict.SUPPORTED if ok else Verdict.REFUTED,
                           {k: (a[k], b[k]) for k in ("Ir", "Dr", "D1mr")}))
    eff = efficiencies(r.get("scaling", []))
    if eff:
        ok = all(e >= 0.7 for _, _, e in eff)
        out.append(Finding("threads", Verdict.SUPPORTED if ok else Verdict.PARTLY_SUPPORTED, {"efficiency": eff}))
    return out


def efficiencies(scaling):
    """[(kernel, threads, parallel efficiency)] at each kernel's most threads."""
    out = []
    for k in dict.fromkeys(x[0] for x in scaling):
        pts = [(t, s) for kk, t, s in scaling if kk == k]
        t_max, s_max = pts[-1]
        out.append((k, t_max, pts[0][1] / s_max / t_max))
    return out


def steps(r):
    """[Step] from c_naive to NumPy at n_time, and c_simd against c_omp on every core."""
    t, cnt, isa = r.get("times", {}), r.get("counters", {}), r.get("isa_column", {})
    n_c = r["config"]["n_counters"]
    out = []
    for prev, step in zip(CHAIN, CHAIN[1:]):
        if not (t.get(prev) and t.get(step)):
            continue
        s = Step(prev, step, t[prev] / t[step])
        if prev in cnt and step in cnt:
            for label, key in (("D1 misses/FLOP", "D1mr"), ("L2 misses/FLOP", "DLmr"), ("instr/FLOP", "Ir")):
                a, b = cnt[prev].get(key), cnt[step].get(key)
                if a is not None and b is not None:
                    s.evidence.append(Evidence(label, a, b, n_c))
        if (prev, step) == ("c_ikj", "c_blocked") and "L2" in r["geometry"]:
            n_l2 = n_fills(r["geometry"]["L2"][0], r["config"]["dtype"])
            s.fits_l2_at_counters = n_c <= n_l2
            counted = _l2_counted_beyond(r, n_l2)
            if counted:   # blocking's evidence is where B no longer fits L2
                s.evidence = [e for e in s.evidence if e.label != "L2 misses/FLOP"]
                s.evidence.insert(0, Evidence("L2 misses/FLOP", counted[1], counted[2], counted[0]))
        if prev in isa and step in isa and isa[prev] != isa[step]:
            s.isa = (isa[prev], isa[step])
        out.append(s)
    key = f"c_omp ({r['cores']}t)"
    if t.get("c_simd") and t.get(key):
        out.append(Step("c_simd", key, t["c_simd"] / t[key], threads=r["cores"]))
    return out


def remaining(r):
    """What is left between c_simd and NumPy, in which direction; None without both times."""
    t = r.get("times", {})
    if not (t.get("c_simd") and t.get("numpy")):
        return None
    speedup = t["c_simd"] / t["numpy"]
    if abs(speedup - 1) <= GAP_TOLERANCE:
        gap = Gap.MATCHES
    else:
        gap = Gap.SLOWER if speedup > 1 else Gap.FASTER
    return Remaining(gap, speedup)


def roofline_points(r):
    """[RooflinePoint]: intensities from cachegrind's counters at n_counters (misses x 64-byte
    lines), speed timed at the same size (times_counters; older runs: n_time)."""
    out = []
    n_c = r["config"]["n_counters"]
    times = r.get("times_counters") or {}
    n = n_c if times else r["config"]["n_time"]
    times = times or r.get("times", {})
    for k, c in r.get("counters", {}).items():
        s = times.get(k)
        if not s:
            continue
        l1 = c.get("D1mr", 0) + c.get("D1mw", 0)
        l2 = c.get("DLmr", 0) + c.get("DLmw", 0)
        out.append(RooflinePoint(k, 1 / (64 * l1) if l1 > 0 else None, 1 / (64 * l2) if l2 > 0 else None,
                                 gflops(matmul_flops(n, n, n), s), n))
    return out


def bound(point, peak, bw_l2, bw_mem):
    """Which ceiling is lowest for a point: 'compute', 'L2' or 'memory', with its GFLOP/s."""
    roofs = [("compute", peak)]
    if point.ai_l1 and bw_l2:
        roofs.append(("L2", bw_l2 * point.ai_l1))
    if point.ai_l2 and bw_mem:
        roofs.append(("memory", bw_mem * point.ai_l2))
    return min(roofs, key=lambda x: x[1])
