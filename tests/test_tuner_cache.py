"""A damaged tuner cache never stops the package: every value read from it is checked before
it is applied, an entry that fails is ignored whole for its dtype, with one TunerCacheWarning
naming the file and the reason, and the kernels run on the model's sizes and stay right. Each
cache is tried in a child process, as `import matmul_ladder` meets it."""
import json
import os
import subprocess
import sys
import threading

import pytest

import matmul_ladder as ml
from matmul_ladder.tuning import cache as tuner

pytestmark = pytest.mark.skipif(
    not next(k.available for k in ml.kernels() if k.name == "c_simd"),
    reason="c_simd is not available here (no AVX2/AVX-512)")

CHILD = r"""
import json, warnings
import numpy as np
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import matmul_ladder as ml
from matmul_ladder.bench.check import Reference
rng = np.random.default_rng(0)
wrong = []
for dtype in ("float32", "float64"):
    a = rng.uniform(-1, 1, (67, 71)).astype(dtype)
    b = rng.uniform(-1, 1, (71, 61)).astype(dtype)
    for kernel in ("c_blocked", "c_simd", "c_omp", "cy_blocked", "c_strassen"):
        problem = Reference(a, b).violations(ml.matmul(a, b, kernel=kernel))
        if problem:
            wrong.append(f"{kernel} {dtype}: {problem}")
info = ml.build_info()
print(json.dumps({
    "warnings": [str(w.message) for w in caught if issubclass(w.category, ml.TunerCacheWarning)],
    "other_warnings": [str(w.message) for w in caught if not issubclass(w.category, ml.TunerCacheWarning)],
    "wrong": wrong, "cache": info["tuner_cache"],
    "source": {d: info["blocking"][d]["c_simd"]["source"] for d in info["blocking"]},
    "kc": {d: info["blocking"][d]["c_simd"]["KC"] for d in info["blocking"]},
    "kb": {d: info["blocking"][d]["c_blocked"]["KB"] for d in info["blocking"]},
    "cutoff": {d: info["strassen"][d]["cutoff"] for d in info["strassen"]}}))
"""


def child(cache_dir):
    env = {**os.environ, tuner.ENV_DIR: str(cache_dir)}
    env.pop(tuner.ENV_IGNORE, None)
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout)


def model():
    return {d: ml.build_info()["blocking"][d] for d in ("float32", "float64")}


def good(dtype, **changes):
    """A tuned entry for one dtype, as `tune` writes it, with `changes` merged in."""
    simd = model()[dtype]["c_simd"]
    entry = {"MC": simd["MC"], "KC": 64, "NC": simd["NC"], "source": "tuned",
             "c_blocked": {"KB": 24, "NB": 64, "source": "tuned"},
             "strassen": {"cutoff": 777, "source": "tuned"}}
    for key, value in changes.items():
        if key in ("c_blocked", "strassen") and isinstance(value, dict):
            entry[key] = {**entry[key], **value}
        elif value is DROP:
            entry.pop(key)
        else:
            entry[key] = value
    return entry


DROP = object()


def file_of(blocking):
    return json.dumps({tuner.cpu_key(): {"blocking": blocking}})


def strassen_drop():
    e = good("float64")
    del e["strassen"]["cutoff"]
    return e


def tiles_drop():
    e = good("float64")
    del e["c_blocked"]["NB"]
    return e


# name: the file's text. Every one must be ignored, reported, and leave the model in force.
DAMAGED = {
    "empty file": "",
    "cut short": file_of({"float64": good("float64")})[:-9],
    "not JSON": "MC = 96\nKC = 256\n",
    "binary": "\x00\xff\xfe garbage",
    "a JSON list": "[1, 2, 3]",
    "a JSON number": "42",
    "this CPU's entry a list": json.dumps({tuner.cpu_key(): [1, 2]}),
    "blocking a list": json.dumps({tuner.cpu_key(): {"blocking": [1, 2]}}),
    "a dtype's entry a number": file_of({"float64": 7}),
    "an unknown dtype": file_of({"float16": good("float64")}),
    "sizes as strings": file_of({"float64": good("float64", MC="96", KC="256")}),
    "sizes as floats": file_of({"float64": good("float64", KC=64.0)}),
    "sizes as bools": file_of({"float64": good("float64", KC=True)}),
    "negative size": file_of({"float64": good("float64", KC=-64)}),
    "zero size": file_of({"float64": good("float64", NC=0)}),
    "MC below MR": file_of({"float64": good("float64", MC=1)}),
    "a size missing": file_of({"float64": good("float64", MC=DROP)}),
    "absurd sizes": file_of({"float64": good("float64", MC=2 ** 40, KC=2 ** 40, NC=2 ** 62)}),
    "an A block far past L2": file_of({"float64": good("float64", MC=60000, KC=60000)}),
    "unknown source": file_of({"float64": good("float64", source="guessed")}),
    "c_blocked a list": file_of({"float64": good("float64", c_blocked=[24, 64])}),
    "c_blocked tile a string": file_of({"float64": good("float64", c_blocked={"KB": "24"})}),
    "c_blocked tile missing": file_of({"float64": tiles_drop()}),
    "c_blocked tile negative": file_of({"float64": good("float64", c_blocked={"NB": -64})}),
    "strassen a number": file_of({"float64": good("float64", strassen=512)}),
    "strassen cutoff negative": file_of({"float64": good("float64", strassen={"cutoff": -1})}),
    "strassen cutoff a string": file_of({"float64": good("float64", strassen={"cutoff": "1024"})}),
    "strassen cutoff missing": file_of({"float64": strassen_drop()}),
    "strassen cutoff absurd": file_of({"float64": good("float64", strassen={"cutoff": 2 ** 50})}),
}


@pytest.mark.parametrize("name", list(DAMAGED))
def test_a_damaged_cache_is_ignored_reported_once_and_harmless(name, tmp_path):
    (tmp_path / "tuned_blocking.json").write_text(DAMAGED[name], errors="surrogateescape")
    got = child(tmp_path)
    assert not got["wrong"], got["wrong"]
    assert len(got["warnings"]) == 1, got
    message = got["warnings"][0]
    assert str(tmp_path / "tuned_blocking.json") in message and "tune --forget" in message
    assert got["cache"]["ignored"] and not got["cache"]["applied"], got["cache"]
    m = model()
    for dtype in ("float32", "float64"):
        assert got["source"][dtype] == "model", (name, got)
        assert got["kc"][dtype] == m[dtype]["c_simd"]["KC"]
        assert got["kb"][dtype] == m[dtype]["c_blocked"]["KB"]
    assert not got["other_warnings"], got["other_warnings"]


def test_a_good_cache_applies_beside_a_damaged_entry_for_another_cpu(tmp_path):
    text = json.dumps({"Some Other CPU|L2=1/1/1|avx2": {"blocking": [1, "x"]},
                       "garbage key": 12,
                       tuner.cpu_key(): {"blocking": {"float64": good("float64")}}})
    (tmp_path / "tuned_blocking.json").write_text(text)
    got = child(tmp_path)
    assert not got["warnings"] and not got["wrong"], got
    assert got["source"]["float64"].startswith("tuned") and got["kc"]["float64"] == 64
    assert got["kb"]["float64"] == 24 and got["cutoff"]["float64"] == 777
    assert got["cache"]["applied"] == {"float64": ["c_simd", "c_blocked", "strassen"]}


def test_one_damaged_dtype_leaves_the_other_applied(tmp_path):
    text = file_of({"float32": good("float32"), "float64": good("float64", KC="big")})
    (tmp_path / "tuned_blocking.json").write_text(text)
    got = child(tmp_path)
    assert len(got["warnings"]) == 1 and "float64 c_simd: KC = 'big'" in got["warnings"][0]
    assert got["source"]["float32"].startswith("tuned") and got["source"]["float64"] == "model"
    assert list(got["cache"]["applied"]) == ["float32"]


def test_forget_deletes_a_damaged_file(tmp_path, monkeypatch):
    monkeypatch.setenv(tuner.ENV_DIR, str(tmp_path))
    (tmp_path / "tuned_blocking.json").write_text("{ cut sho")
    assert tuner.forget()
    assert not (tmp_path / "tuned_blocking.json").exists()
    assert not tuner.forget()


def test_forget_from_the_command_line_keeps_other_cpus(tmp_path):
    other = {"Other CPU": {"blocking": {}}}
    (tmp_path / "tuned_blocking.json").write_text(
        json.dumps({**other, tuner.cpu_key(): {"blocking": [1]}}))
    env = {**os.environ, tuner.ENV_DIR: str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "matmul_ladder", "tune", "--forget"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and "forgot" in out.stdout, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert json.loads((tmp_path / "tuned_blocking.json").read_text()) == other


def test_concurrent_saves_never_leave_a_damaged_file(tmp_path, monkeypatch):
    """Writers in threads and in processes at once; a reader in a loop never sees half a
    file, and the file ends as one whole JSON mapping."""
    monkeypatch.setenv(tuner.ENV_DIR, str(tmp_path))
    code = ("import sys, matmul_ladder.tuning.cache as t\n"
            "for i in range(40): t._save({'float64': {'n': i, 'pad': 'x' * 20000}})\n")
    env = {**os.environ, tuner.ENV_DIR: str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(3)]
    seen, bad = [0], []

    def read():
        while any(p.poll() is None for p in procs):
            try:
                text = (tmp_path / "tuned_blocking.json").read_text()
            except FileNotFoundError:
                continue
            seen[0] += 1
            try:
                assert isinstance(json.loads(text), dict)
            except (ValueError, AssertionError) as exc:
                bad.append(repr(exc))
    reader = threading.Thread(target=read)
    reader.start()
    for i in range(40):
        tuner._save({"float32": {"n": i, "pad": "y" * 20000}})
    for p in procs:
        assert p.wait(timeout=120) == 0
    reader.join()
    assert not bad, bad[:3]
    assert seen[0] > 0
    assert isinstance(json.loads((tmp_path / "tuned_blocking.json").read_text()), dict)
    assert not list(tmp_path.glob(".tuned_blocking.*.tmp"))
