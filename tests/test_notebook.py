"""notebooks/ladder.ipynb runs from top to bottom, on a tiny size."""
import json
import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

pytestmark = pytest.mark.slow

NOTEBOOK = os.path.join(os.path.dirname(__file__), os.pardir, "notebooks", "ladder.ipynb")


def test_notebook_executes(monkeypatch, tmp_path):
    monkeypatch.setenv("MATMUL_LADDER_NOTEBOOK_N", "48")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.get("outputs", []))
    assert "c_naive" in outputs and "numpy" in outputs
    assert "conv_" not in outputs                     # the matmul kernels only
    assert "py_naive: " in outputs and "at n = 48" in outputs
    assert any("ladder_figure(" in c.source for c in nb.cells if c.cell_type == "code")  # the harness's figure
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


def test_notebook_has_no_placeholder():
    with open(NOTEBOOK) as f:
        text = "".join("".join(c["source"]) for c in json.load(f)["cells"])
    assert "<the repository" not in text and "git clone <" not in text


def test_py_naive_rule_is_the_harness_rule():
    """The notebook's py_naive cell scales by the algorithm's exponent, as report.results does."""
    from matmul_ladder.report.results import ALGORITHM_EXPONENT
    with open(NOTEBOOK) as f:
        cells = ["".join(c["source"]) for c in json.load(f)["cells"] if c["cell_type"] == "code"]
    cell = next(c for c in cells if 'record("py_naive"' in c)
    assert f"(N / n0) ** {ALGORITHM_EXPONENT}" in cell and "> BUDGET" in cell
