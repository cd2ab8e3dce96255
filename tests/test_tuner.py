"""The tuner with a tiny budget: it writes its cache, a new process reuses it, and the
environment variable makes it ignored. The cache goes to a temporary directory."""
import json
import os
import subprocess
import sys

import pytest

import matmul_ladder as ml
from matmul_ladder.cli import commands as cli
from matmul_ladder import tuning as tuner
from matmul_ladder.tuning.search import _crossover

pytestmark = pytest.mark.skipif(
    not next(k.available for k in ml.kernels() if k.name == "c_simd"),
    reason="c_simd is not available here (no AVX2/AVX-512)")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(tuner.ENV_DIR, str(tmp_path))
    monkeypatch.delenv(tuner.ENV_IGNORE, raising=False)
    yield tmp_path
    tuner.forget()


def _info_in_new_process(env):
    code = ("import json, matmul_ladder as ml; i = ml.build_info(); b = i['blocking']; "
            "s = i['strassen']; print(json.dumps({d: {**b[d]['c_simd'], **b[d]['c_blocked'], "
            "'strassen': s[d]} for d in b}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, check=True)
    return json.loads(out.stdout)


def test_tiny_tune_writes_reuses_and_can_be_ignored(cache):
    results = ml.tune(seconds=1.0, dtypes=("float32",), n=128)
    r = results["float32"]
    # What was kept says where it came from: the model's own pair, or a candidate that won by
    # the margin; the sizes are one of the candidates searched.
    model = r["model"]
    assert (r["MC"], r["KC"]) in tuner.candidates({**model, "MR": ml.build_info()["blocking"][
        "float32"]["c_simd"]["MR"]})
    tuned = (r["MC"], r["KC"]) != (model["MC"], model["KC"])
    assert r["source"] == ("tuned" if tuned else "model")
    assert not tuned or r["speedup_over_model"] >= tuner.MARGIN
    t = r["c_blocked"]
    assert (t["KB"], t["NB"]) in tuner.tile_candidates(t["model"])
    assert t["source"] == ("tuned" if (t["KB"], t["NB"]) != (t["model"]["KB"], t["model"]["NB"])
                           else "model")
    st = r["strassen"]
    assert st["source"] == ("tuned" if st["cutoff"] != st["default"] else "default")
    assert st["speedup_over_c_omp"] or not ml.build_info()["openmp"], "no Strassen size raced"
    assert st["cutoff"] == _crossover({int(n): x for n, x in st["speedup_over_c_omp"].items()},
                                            st["default"])
    assert set(st["speedup_over_c_omp"]) <= {str(n) for n in tuner.STRASSEN_SIZES}
    with open(tuner.cache_path()) as f:
        saved = json.load(f)[tuner.cpu_key()]["blocking"]
    assert saved["float32"]["KC"] == r["KC"]
    # Make the cached entry a tuned one, so that reuse is visible.
    saved["float32"].update(source="tuned", MC=r["model"]["MC"], KC=40, NC=r["model"]["NC"])
    saved["float32"]["c_blocked"].update(source="tuned", KB=24, NB=64)
    saved["float32"]["strassen"].update(source="tuned", cutoff=777)
    with open(tuner.cache_path(), "w") as f:
        json.dump({tuner.cpu_key(): {"blocking": saved}}, f)
    env = dict(os.environ)
    used = _info_in_new_process(env)["float32"]
    assert used["KC"] == 40 and used["source"].startswith("tuned")
    assert (used["KB"], used["NB"]) == (24, 64)
    assert used["strassen"]["cutoff"] == 777 and used["strassen"]["source"].startswith("tuned")
    env[tuner.ENV_IGNORE] = "1"
    ignored = _info_in_new_process(env)["float32"]
    assert ignored["source"] == "model" and ignored["KC"] == r["model"]["KC"]
    assert ignored["strassen"]["source"] == "default"


def test_tune_leaves_the_sizes_in_force_when_not_saving(cache):
    before = ml.build_info()["blocking"], ml.build_info()["strassen"]
    ml.tune(seconds=0.5, dtypes=("float64",), n=96, save=False)
    assert (ml.build_info()["blocking"], ml.build_info()["strassen"]) == before


def test_crossover_rule():
    default = 2048
    assert _crossover({512: 0.7, 1024: 1.05, 2048: 1.1}, default) == 1024
    assert _crossover({512: 1.05, 1024: 0.99, 2048: 1.1}, default) == 2048  # every larger one
    assert _crossover({512: 0.7, 1024: 0.9}, default) == 2048      # unknown past 1024
    assert _crossover({512: 0.7, 1024: 0.9, 2048: 0.95, 4096: 1.0}, default) == 8192
    assert _crossover({}, default) == default                           # nothing raced


def test_tune_command_line(cache, capsys):
    assert cli.main(["tune", "--seconds", "1", "--dtype", "float32", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "float32: c_simd/c_omp MC" in out and "c_blocked KB" in out and "saved in" in out
    assert "float32: c_strassen cutoff" in out
    assert cli.main(["tune", "--show"]) == 0
    assert tuner.cache_path() in capsys.readouterr().out
    assert cli.main(["tune", "--seconds", "-3"]) == 2
    assert "--seconds must be" in capsys.readouterr().err
