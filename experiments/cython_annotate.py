"""Where do the Cython rungs still touch Python? `cython -a` for every Cython rung.

    python experiments/cython_annotate.py [--out results/cython_annotate]

Writes <rung>.html (open it in a browser: yellow lines call into the Python C-API, darker is
more) and prints, for each rung, the lines with a non-zero score and whether any of them lies
inside the `with nogil:` block, where the loops are (there should be none).
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNGS = ["1_cy_naive", "2_cy_ikj", "3_cy_blocked", "4_cy_prange"]
LINE = re.compile(r'class="cython line score-(\d+)"[^>]*>.<span class="">(\d+)</span>')


def scored_lines(html, source_lines):
    """[(line number, score, source text)] for the lines Cython scored above 0."""
    out = []
    for score, number in LINE.findall(html):
        if int(score) > 0:
            n = int(number)
            out.append((n, int(score), source_lines[n - 1].rstrip()))
    return out


def nogil_span(source_lines):
    """(first, last) line numbers of the `with nogil:` block."""
    for i, line in enumerate(source_lines):
        if line.strip() == "with nogil:":
            indent = len(line) - len(line.lstrip())
            end = i + 1
            while end < len(source_lines) and (not source_lines[end].strip() or
                                               len(source_lines[end]) - len(source_lines[end].lstrip()) > indent):
                end += 1
            return i + 2, end
    return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join("results", "cython_annotate"))
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    worst = 0
    for rung in RUNGS:
        pyx = os.path.join(ROOT, "pyx", f"{rung}.pyx")
        c_file = os.path.join(args.out, f"{rung}.c")
        subprocess.run([sys.executable, "-m", "cython", "-a", "-3", "-I", os.path.join(ROOT, "csrc"),
                        pyx, "-o", c_file], check=True)
        with open(pyx) as f:
            source = f.readlines()
        with open(os.path.join(args.out, f"{rung}.html")) as f:
            scored = scored_lines(f.read(), source)
        span = nogil_span(source)
        inside = [s for s in scored if span and span[0] <= s[0] <= span[1]]
        worst = max(worst, len(inside))
        print(f"\n{rung}: {os.path.join(args.out, rung + '.html')}")
        print(f"  lines touching Python: {len(scored)}; inside `with nogil:` "
              f"(lines {span[0]}-{span[1]}): {len(inside)}" if span else "  no nogil block")
        for n, score, text in scored:
            print(f"  {n:4d}  score {score:4d}  {text.strip()}")
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
