"""Where do the Cython rungs still touch Python? `cython -a` of every Cython rung, scored."""
import importlib.util
import os
import re
import subprocess
import sys

# pyx/ file stem -> the module it builds (setup.py's CYTHON_RUNGS): a file name that starts
# with a digit is no module name, so Cython is told the real one
RUNGS = {"1_cy_naive": "matmul_ladder._cy_naive", "2_cy_ikj": "matmul_ladder._cy_ikj",
         "3_cy_blocked": "matmul_ladder._cy_blocked", "4_cy_prange": "matmul_ladder._cy_prange"}
LINE = re.compile(r'class="cython line score-(\d+)"[^>]*>.<span class="">(\d+)</span>')


class CannotAnnotate(Exception):
    """Why the annotation cannot run here: one line for the user."""


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


def annotate(root, rung, out):
    """Run `cython -a` on pyx/<rung>.pyx into out; (html path, source lines). Raises
    CannotAnnotate with Cython's own message where it fails."""
    pyx = os.path.join(root, "pyx", f"{rung}.pyx")
    if not os.path.isfile(pyx):
        raise CannotAnnotate(f"no {pyx}: run it from a source checkout (the .pyx files are not installed)")
    if importlib.util.find_spec("Cython") is None:
        raise CannotAnnotate("Cython is not installed: pip install cython")
    c_file = os.path.join(out, f"{rung}.c")
    done = subprocess.run([sys.executable, "-m", "cython", "-a", "-3",
                           "-I", os.path.join(root, "csrc"), "-I", os.path.join(root, "pyx"),
                           "--module-name", RUNGS[rung], pyx, "-o", c_file],
                          capture_output=True, text=True)
    if done.returncode:
        last = (done.stderr.strip() or done.stdout.strip() or "no message").splitlines()[-1]
        raise CannotAnnotate(f"cython -a {rung}.pyx failed: {last}")
    with open(pyx) as f:
        source = f.readlines()
    return os.path.join(out, f"{rung}.html"), source


def report(rung, html_path, source):
    """(lines to print, how many scored lines lie inside `with nogil:`)."""
    with open(html_path) as f:
        scored = scored_lines(f.read(), source)
    span = nogil_span(source)
    inside = [s for s in scored if span and span[0] <= s[0] <= span[1]]
    lines = [f"\n{rung}: {html_path}",
             f"  lines touching Python: {len(scored)}; inside `with nogil:` "
             f"(lines {span[0]}-{span[1]}): {len(inside)}" if span else "  no nogil block"]
    lines += [f"  {n:4d}  score {score:4d}  {text.strip()}" for n, score, text in scored]
    return lines, len(inside)


def run(root, out, rungs=tuple(RUNGS)):
    """Annotate every rung; exit status 1 if any scored line lies inside `with nogil:`, 2 if
    the annotation cannot run (one line on stderr)."""
    os.makedirs(out, exist_ok=True)
    worst = 0
    try:
        for rung in rungs:
            lines, inside = report(rung, *annotate(root, rung, out))
            print("\n".join(lines))
            worst = max(worst, inside)
    except CannotAnnotate as exc:
        print(f"cython_annotate: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}/")
    return 1 if worst else 0
