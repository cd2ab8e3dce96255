"""c_bf16 and torch_bf16 in the ladder harness: rows checked at their precision on an
emulated unit, planted faults rejected (FAILED, not timed), torch_bf16 unavailable with the
reason without torch, the bf16 roof wired to bf16 rows only, the REPORT's bf16 text, and
torch_bf16 through ml.matmul. Tiny sizes only."""
import dataclasses
import contextlib
import importlib.util

import numpy as np
import pytest

import matmul_ladder as ml
from matmul_ladder.bench import roofs
from matmul_ladder.bench.engine import Config, Harness
from matmul_ladder.report import ladder as report
from matmul_ladder.rungs import registry, base

TINY = dict(sizes=[8, 40], dtypes=["float32", "float64"], threads=[1], budget=5.0,
            min_time=0.002)
HAS_TORCH = not base._torch_missing()


@pytest.fixture
def emulated():
    previous = ml.set_bf16_unit("emulate_amx")
    yield
    ml.set_bf16_unit(previous)


def run(names_or_kernels, **overrides):
    kernels = [registry.get(k) if isinstance(k, str) else k for k in names_or_kernels]
    return Harness(Config(**{**TINY, **overrides}), kernels=kernels, run_id="t").run()


def faulty(name, wrong):
    """c_bf16 or torch_bf16 with its answer spoiled by wrong(f, a, b)."""
    kernel = registry.get(name)

    @contextlib.contextmanager
    def bind(threads):
        with kernel.bind(threads) as f:
            yield lambda a, b: wrong(f, a, b)
    return dataclasses.replace(kernel, name=f"{name}_wrong", binder=bind)


def test_bf16_rows_are_checked_at_their_precision(emulated):
    names = ["numpy", "c_bf16"] + (["torch_bf16"] if HAS_TORCH else [])
    rows = run(names)
    bf16 = [r for r in rows if r["kernel"] != "numpy"]
    assert {r["dtype"] for r in bf16} == {"float32"}  # float32 only: no float64 rows
    assert len(bf16) == 2 * (len(names) - 1)
    for r in bf16:
        assert r["status"] == "ok", r
        assert r["precision"] == ("bf16" if r["kernel"] == "c_bf16" else "bf16_out")
        assert 1e-4 < float(r["normwise_error"]) < 1e-2, r  # bf16 inputs, not float32's
        assert r["peak_gflops"] == ""  # an emulated unit has no roof
    assert all("emulate_amx" in r["note"] for r in bf16 if r["kernel"] == "c_bf16")
    assert all(r["status"] == "ok" and r["precision"] == "" for r in rows if r["kernel"] == "numpy")


@pytest.mark.parametrize("fault", ["scaled", "k block dropped"])
@pytest.mark.parametrize("name", ["c_bf16", "torch_bf16"])
def test_planted_faults_are_failed_rows(emulated, name, fault):
    if name == "torch_bf16" and not HAS_TORCH:
        pytest.skip(base._torch_missing())

    def wrong(f, a, b):
        if fault == "scaled":
            return f(a, b) * 1.01  # numpy or a bf16 tensor alike
        k = a.shape[1]  # the last 8 of K dropped (a, b: arrays or tensors)
        return f(a[:, :k - 8], b[:k - 8])
    rows = run([faulty(name, wrong)], dtypes=["float32"])
    assert [r["status"] for r in rows] == ["FAILED", "FAILED"], rows
    assert all(r["median_s"] == "" and "out of bound" in r["note"] for r in rows), rows


def test_torch_bf16_without_torch_is_unavailable_with_the_reason(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    base._torch_missing.cache_clear()
    try:
        rows = run(["torch_bf16", "numpy"], dtypes=["float32"])
    finally:
        monkeypatch.undo()
        base._torch_missing.cache_clear()
    missing = [r for r in rows if r["kernel"] == "torch_bf16"]
    assert len(missing) == 1 and missing[0]["status"] == "unavailable"
    assert "pip install torch" in missing[0]["note"]


def test_c_bf16_without_a_unit_is_unavailable_with_the_reason():
    previous = ml.set_bf16_unit("none")
    try:
        rows = run(["c_bf16"], dtypes=["float32"])
    finally:
        ml.set_bf16_unit(previous)
    assert len(rows) == 1 and rows[0]["status"] == "unavailable"
    assert "no BF16 matrix unit" in rows[0]["note"]


def test_bf16_rows_take_the_bf16_roof(emulated, monkeypatch):
    """Where a unit runs, bf16 rows are judged against its peak, the others against FMA's."""
    monkeypatch.setattr(roofs, "bf16_peak", lambda threads, known=0.0: 1234.0)
    monkeypatch.setattr(roofs, "has_fma_peak", lambda: True)
    monkeypatch.setattr(roofs, "fma_peak", lambda d, t, known=0.0: 99.0)
    rows = run(["numpy", "c_bf16"], dtypes=["float32"])
    peaks = {r["kernel"]: r["peak_gflops"] for r in rows}
    assert peaks == {"numpy": "99", "c_bf16": "1234"}
    assert roofs.roof_key("bf16_out", "float32") == roofs.roof_key("bf16", "float32") == "bf16"
    assert roofs.roof_key("", "float32") == "float32"


def test_report_says_what_bf16_rows_mean(emulated, tmp_path):
    names = ["numpy", "c_omp", "c_bf16"] + (["torch_bf16"] if HAS_TORCH else [])
    rows = run(names, dtypes=["float32"])
    path = tmp_path / "ladder.csv"
    from matmul_ladder.bench.engine import CsvLog
    log = CsvLog(str(path))
    for r in rows:
        log.write(r)
    log.close()
    text = report.report_markdown(report.load_csv(str(path)), {}, 40, [])
    assert report.BF16_NOTE in text
    assert "- **bf16, n = 40, 1 thread:** c_bf16 on an emulated unit" in text
    assert "c_bf16" not in text.split("Steps up the C ladder:")[-1].split("\n")[0]
    plain = report.report_markdown(report.load_csv(str(path))[:2], {}, 40, [])
    assert report.BF16_NOTE not in plain  # only where bf16 rows are


@pytest.mark.skipif(not HAS_TORCH, reason=base._torch_missing() or "n/a")
@pytest.mark.parametrize("m,n,k", [(0, 3, 2), (3, 0, 2), (3, 2, 0), (1, 1, 1), (7, 13, 31),
                                   (97, 61, 257)])
def test_torch_bf16_through_matmul(m, n, k):
    rng = np.random.default_rng(m + n + k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    for x, y in ((a, b), (np.asfortranarray(a), b), (a[::-1], b[:, ::-1])):
        c = ml.matmul(x, y, kernel="torch_bf16", threads=2)
        assert c.dtype == np.float32 and c.shape == (m, n)
        from matmul_ladder.bench.check import Reference
        assert not Reference(x, y).violations(c, "bf16_out")
    with pytest.raises(TypeError, match="float32 only"):
        ml.matmul(a.astype(np.float64), b.astype(np.float64), kernel="torch_bf16")
