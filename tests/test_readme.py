"""README.md and README.ja.md stay in step: the same sections, the same commands, the same
links; the README's first screen holds the two set-up commands, and the whole stays short."""
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
    assert links(read("README.md")) == links(read("README.ja.md"))


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
    docs = os.path.join(ROOT, "docs")
    for name in os.listdir(docs):
        with open(os.path.join(docs, name), encoding="utf-8") as f:
            for target in re.findall(r"\]\(([^)#]+)", f.read()):
                if "://" not in target:
                    assert os.path.exists(os.path.join(docs, target)), f"{name}: {target}"
