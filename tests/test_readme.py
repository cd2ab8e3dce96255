"""README.md and README.ja.md stay in step: the same sections, the same commands, the same
links; the README's first screen holds the two set-up commands, and the whole stays short.
Each Japanese page in docs/ja/ keeps its English page's commands, links and numbers."""
import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def sections(text):
    return [line for line in text.splitlines() if line.startswith("#")
            and not line.startswith("#!")]


def commands(text):
    """Indented command lines, and commands in backticks that start a table row."""
    indented = [line.strip() for line in text.splitlines() if line.startswith("    ")
                and line.strip().startswith(("pip ", "python "))]
    table = re.findall(r"^\| `([^`]+)` \|", text, flags=re.M)
    return indented, table


def links(text):
    return sorted(set(re.findall(r"\]\(([^)#]+)", text)) - {"README.md", "README.ja.md"})


def test_same_number_of_sections():
    en, ja = sections(read("README.md")), sections(read("README.ja.md"))
    assert [s.count("#") for s in en] == [s.count("#") for s in ja]


def test_same_commands_and_links():
    assert commands(read("README.md")) == commands(read("README.ja.md"))
    # README.ja.md may send a reader to a page's Japanese version in docs/ja/ instead.
    english = sorted({re.sub(r"^docs/ja/", "docs/", t) for t in links(read("README.ja.md"))})
    assert links(read("README.md")) == english


def test_first_screen_has_the_two_setup_commands():
    first = "\n".join(read("README.md").splitlines()[:60])
    assert "pip install -e . && python experiments/ladder.py --quick" in first
    assert 'pip install -e ".[test]" && python -m pytest' in first
    assert "| 3 | `c_blocked` | [3_blocked.c](csrc/3_blocked.c)" in first


def test_readme_is_short_and_links_resolve():
    text = read("README.md")
    assert len(text.splitlines()) < 200
    for target in links(text) + links(read("README.ja.md")):
        assert os.path.exists(os.path.join(ROOT, target)), target


def test_ci_runs_the_readmes_test_command():
    assert 'python3 -m pip install -e ".[test]" && python3 -m pytest' in read(".ci/run")


def test_docs_link_only_to_what_exists():
    for folder in (DOCS, JA):
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".md"):
                continue
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                for target in re.findall(r"\]\(([^)#]+)", f.read()):
                    if "://" not in target:
                        assert os.path.exists(os.path.join(folder, target)), f"{name}: {target}"


# docs/ja/: each page is docs/<name> in Japanese. Prose is free; what a student types or
# follows is not: the same shell commands, links to the same files (a link may point to the
# Japanese version of a page instead), and every number of the English page.

DOCS = os.path.join(ROOT, "docs")
JA = os.path.join(DOCS, "ja")
SHELL = ("python ", "python3 ", "pip ", "matmul-ladder", "mpiexec ", "torchrun ", "CC=",
         "MATMUL_LADDER_", "OMP_", "brew ", "valgrind ", "perf ", "objdump ", "cython ", "git ",
         "cd ", "cp ", "export ", "gcc ", "clang ", "nvcc ", "make")


def ja_pages():
    if not os.path.isdir(JA):
        return []
    return sorted(n for n in os.listdir(JA) if n.endswith(".md"))


def doc_commands(text):
    """Shell commands: every line of a sh/bash/console block, the lines of an unlabelled or
    indented block that start like a command (less a trailing `  # comment`, which may be
    translated), and code spans that do (whitespace folded)."""
    found = []
    fence = re.compile(r"^```([\w+-]*)\n(.*?)^```", flags=re.M | re.S)
    for lang, body in fence.findall(text):
        for line in body.splitlines():
            line = re.sub(r"\s{2,}#.*$", "", line).strip()
            if line and (lang in ("sh", "bash", "shell", "console")
                         or (lang == "" and line.startswith(SHELL))):
                found.append(line)
    prose = fence.sub("", text)
    for line in prose.splitlines():
        if line.startswith("    ") and line.strip().startswith(SHELL):
            found.append(re.sub(r"\s{2,}#.*$", "", line).strip())
    prose = "\n".join(l for l in prose.splitlines() if not l.startswith("    ")
                      or not l.strip().startswith(SHELL))
    for span in re.findall(r"`([^`]+)`", prose):
        span = " ".join(span.split())
        if span.startswith(SHELL):
            found.append(span)
    return sorted(found)


def doc_links(text, folder):
    """Link targets as files under the root (a Japanese page counts as its English one)."""
    out = set()
    for target in re.findall(r"\]\(([^)#\s]+)", text):
        if "://" in target:
            out.add(target)
            continue
        path = os.path.relpath(os.path.normpath(os.path.join(folder, target)), ROOT)
        if path.startswith(os.path.join("docs", "ja") + os.sep):
            path = os.path.join("docs", os.path.basename(path))
        out.add(path)
    return out


def numbers(text):
    return set(re.findall(r"\d+(?:\.\d+)?(?:e-?\d+)?", text))


def test_every_japanese_page_has_its_english_page():
    for name in ja_pages():
        assert os.path.exists(os.path.join(DOCS, name)), name


def test_japanese_pages_keep_the_commands_links_and_numbers():
    for name in ja_pages():
        en, ja = read(os.path.join("docs", name)), read(os.path.join("docs", "ja", name))
        assert doc_commands(ja) == doc_commands(en), name
        assert doc_links(ja, JA) == doc_links(en, DOCS), name
        missing = numbers(en) - numbers(ja)
        assert not missing, f"{name}: {sorted(missing)}"


def test_the_checks_see_what_they_compare():
    page = "Run `python experiments/why.py --quick\n--out x` ([WHY](../r/WHY.md), 1.46x).\n"
    assert doc_commands(page) == ["python experiments/why.py --quick --out x"]
    block = "Then:\n\n    matmul-ladder try f.c          # or: the module\n"
    assert doc_commands(block) == ["matmul-ladder try f.c"]
    assert doc_links(page, JA) == {os.path.join("docs", "r", "WHY.md")}
    assert doc_links("[a](why.md)", JA) == doc_links("[a](why.md)", DOCS) == {os.path.join("docs", "why.md")}
    assert numbers(page) >= {"1.46"}
