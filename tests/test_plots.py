"""The harness's figures: the summary ladder on a linear axis (colour a language, hatch a
thread count), per-n panels with C and Cython told apart, real size ticks, legends outside."""
import json
import os

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from matmul_ladder.report import plots  # noqa: E402
from matmul_ladder.report.results import Table, load_csv  # noqa: E402

REFERENCE = os.path.join(os.path.dirname(__file__), os.pardir, "reference", "zen4-2core", "ladder")


@pytest.fixture(scope="module")
def rows():
    return load_csv(os.path.join(REFERENCE, "ladder.csv"))


def test_plot_all_keeps_its_files_and_labels_the_machine(rows, tmp_path):
    with open(os.path.join(REFERENCE, "machine.json")) as f:
        machine = json.load(f)
    (tmp_path / "machine.json").write_text(json.dumps(machine))
    assert plots.plot_all(rows, str(tmp_path), 1024) == ["gflops_vs_n.png", "time_vs_n.png", "ladder_bar.png"]
    assert plots.machine_label(machine) == "AMD EPYC, 2 cores, L2 1 MiB"


def test_ladder_bars_linear_one_colour_a_language_one_hatch_a_thread_count(rows):
    table = Table(rows)
    entries = {"float64": [dict(e, language=table.kernel_order[e["kernel"]][1])
                           for t in (1, 2) for e in table.ladder("float64", t, 1024) if e["gflops"]]}
    fig = plots.ladder_figure(entries, 1024, "AMD EPYC, 2 cores")
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear"
    by = {}
    for bar, e in zip(ax.patches, entries["float64"]):
        by.setdefault(e["language"], set()).add(bar.get_facecolor()[:3])
        assert bar.get_hatch() == ("" if e["threads"] == 1 else "//")
    assert all(len(c) == 1 for c in by.values()) and len({next(iter(c)) for c in by.values()}) == len(by)
    assert "AMD EPYC" in fig._suptitle.get_text()


def test_size_panels_tell_c_from_cython_and_tick_real_sizes(rows):
    table = Table(rows)
    fig = plots.size_panels(table, ["float64"], "gflops")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["C and Python, 1 thread, float64", "Cython, 1 thread, float64", "all cores, float64"]
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["64", "128", "256", "512", "1024", "2048"]
        assert len(ax.get_lines()) <= 12
        styles = {line.get_label().split(" ")[0]: (line.get_marker(), line.get_linestyle()) for line in ax.get_lines()}
        for k, style in styles.items():
            if k.startswith("cy_"):
                assert style == ("s", "--")
            elif k.startswith("c_") and not ax.get_title().startswith("Cython"):
                assert style == ("o", "-")
    cython = fig.axes[1]
    twins = [line for line in cython.get_lines() if "C twin" in line.get_label()]
    assert {line.get_label().split(" ")[0] for line in twins} == {"c_naive", "c_ikj", "c_blocked"}
    assert all(line.get_alpha() < 1 for line in twins)


def test_doubtful_and_estimated_bars_are_marked():
    entries = {"float64": [{"kernel": "py_naive", "language": "Python", "threads": 1, "gflops": 0.02, "estimated": True},
                           {"kernel": "c_simd", "language": "C", "threads": 1, "gflops": 50.0, "estimated": False,
                            "flag": "waited 70%"}]}
    fig = plots.ladder_figure(entries, 1024)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == [" ~0.02", " 50 ?"]
    assert any("doubtful" in t.get_text() for t in fig.legends[0].get_texts())
