"""docs/contributing.md's "add a C rung" steps work: on a copy of the repository, a copy of
rung 2 under a new name plus its one table row builds, is listed by ml.kernels() and passes
test_correctness and test_layout. The copy keeps this checkout's build outputs (with their
times), so the build redoes only what the new row changes: _ckernels."""
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
TABLE = os.path.join("pysrc", "matmul_ladder", "rungs", "table.py")
DOC = os.path.join(ROOT, "docs", "contributing.md")


def walk_through():
    """The walk-through's shell commands and its table row, as the doc gives them."""
    with open(DOC) as f:
        text = f.read()
    section = text[text.index("### Walk-through"):]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, re.S)
    shell = [line for lang, body in blocks if not lang for line in body.splitlines() if line]
    row = next(body for lang, body in blocks if lang == "python")
    return shell, row


def test_the_walk_through_is_what_this_test_runs():
    shell, row = walk_through()
    assert shell[0] == "cp csrc/2_ikj.c csrc/8_ikj2.c"
    assert shell[1].startswith("sed -i ")
    assert "python3 setup.py build_ext --inplace" in shell
    assert row.lstrip().startswith('CRung("c_ikj2", 8, "8_ikj2.c"')


def copy_checkout(dest):
    """The working tree (build outputs included, times kept), without its git metadata."""
    shutil.copytree(ROOT, dest, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".hypothesis", ".pytest_cache",
                                                  "__pycache__", "results"))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cc") is None or shutil.which("sed") is None,
                    reason="needs a C compiler and sed")
def test_add_a_rung_as_the_doc_says(tmp_path):
    repo = tmp_path / "repo"
    copy_checkout(repo)
    shell, row = walk_through()
    env = {**os.environ, "PYTHONPATH": str(repo / "pysrc")}

    def sh(line, timeout=900):
        out = subprocess.run(line, shell=True, cwd=repo, env=env, capture_output=True,
                             text=True, timeout=timeout)
        assert out.returncode == 0, f"{line}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        return out.stdout

    # Step 1: the file.
    for line in shell[:2]:
        sh(line)
    # Step 2: the registry entry, after the last row of C_RUNGS.
    path = repo / TABLE
    text = path.read_text()
    end = text.index("\n)\n", text.index("C_RUNGS = ("))
    path.write_text(text[:end + 1] + row + text[end + 1:])
    sh(f"{sys.executable} setup.py build_ext --inplace")
    # The copy's package, not this checkout's, is the one imported.
    where = sh(f'{sys.executable} -c "import matmul_ladder; print(matmul_ladder.__file__)"')
    assert where.strip().startswith(str(repo)), where
    listed = sh(f"{sys.executable} -c \"import matmul_ladder as ml; "
                f"print([(k.language, k.rung, k.available) for k in ml.kernels() "
                f"if k.name == 'c_ikj2'])\"")
    assert listed.strip() == "[('C', 8, True)]", listed
    # Step 3: the tests, which pick the new rung up by themselves.
    out = sh(f'{sys.executable} -m pytest -q -p no:cacheprovider tests/test_layout.py '
             f'tests/test_correctness.py -k "c_ikj2 or layout"')
    assert re.search(r"\d+ passed", out) and "failed" not in out, out
    ran = sh(f'{sys.executable} -m pytest -q -p no:cacheprovider --collect-only '
             f'tests/test_correctness.py -k c_ikj2')
    assert "c_ikj2" in ran, ran
