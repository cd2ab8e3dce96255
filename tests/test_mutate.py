"""tools/mutate.py, the mutation run over the rungs: every mutant's snippet is still found
exactly once in its file (so the list has not rotted), and a run of the C group on one mutant
catches it. Slow: it copies the working tree and builds the C driver."""
import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "mutate.py"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (ROOT / ".git").exists() or not shutil.which("git"),
                                 reason="needs a git checkout (the tool copies the repository)")]


def test_every_snippet_is_found_once():
    done = subprocess.run([sys.executable, TOOL, "--list", "--worktree"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "occurs exactly once" in done.stdout


def test_a_refused_mutant_stops_the_run(tmp_path):
    done = subprocess.run([sys.executable, TOOL, "--only", "no.such.mutant", "--out", tmp_path],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no mutant no.such.mutant" in done.stderr


@pytest.mark.skipif(not shutil.which("gcc"), reason="needs gcc for the C driver")
def test_c_group_catches_a_mutant(tmp_path):
    done = subprocess.run([sys.executable, TOOL, "--group", "c", "--only", "c_naive.k_last",
                           "--worktree", "--out", tmp_path], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(tmp_path / "REPORT.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["id"], r["status"]) for r in rows] == [("c_naive.k_last", "caught")]
    assert "100.0% (1/1)" in (tmp_path / "REPORT.md").read_text()
