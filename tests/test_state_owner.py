"""One owner of the run-time state (csrc/state.h): the ISA, the block sizes and Strassen's
cutoff live once in the process, in _ckernels, and every rung that reads them reads that
copy. The Cython rungs cy_blocked and cy_prange record the tiles of their latest call
(last_tiles), so these tests see what a rung ran with, not what was set. With cpu.c and
blocking.c linked back into the clients (setup.py's STATE_CLIENT) and state_client.c's two
forwarders removed, as before there was one owner, the tests of the exports, of the Cython
rungs and of _cconv's ISA fail: on the Zen 4 here cy_blocked and cy_prange then ran with the
model's float64 tiles (74, 1536) under an override of (24, 48), and _cconv kept avx512 after
set_simd_isa("avx2")."""
import ctypes
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import matmul_ladder as ml
from conftest import assert_matmul_close, random_matrix
from matmul_ladder.rungs import registry as _registry
from matmul_ladder.tuning import cache as tuner

ck = _registry._ckernels
pytestmark = pytest.mark.skipif(ck is None, reason="_ckernels is not built")

CY_BLOCKED = ("cy_blocked", "cy_prange")
STATE_FUNCTIONS = ("ladder_set_isa", "ladder_active_isa", "ladder_set_blocked_tiles",
                   "ladder_blocked_tiles", "ladder_set_gemm_blocking", "ladder_gemm_blocking",
                   "ladder_set_strassen_cutoff")


def available(name):
    return next(k for k in ml.kernels() if k.name == name).available


def cython_module(rung):
    module, missing = _registry.CYTHON_MODULES[rung]
    if module is None:
        pytest.skip(missing)
    return module


def extension_modules():
    import importlib
    names = ["_ckernels", "_cconv"] + [f"_{rung}" for rung in _registry.CYTHON_MODULES]
    return {name: importlib.import_module(f"matmul_ladder.{name}") for name in names
            if _registry._import_extension(name)[0] is not None}


def test_the_state_functions_live_in_ckernels_alone():
    """Each extension is a shared library of its own: one that defined (and so exported) the
    state's functions would hold its own copy of the state. Only _ckernels does."""
    modules = extension_modules()
    assert "_ckernels" in modules and len(modules) >= 2
    for name, module in modules.items():
        library = ctypes.CDLL(module.__file__)
        exported = [f for f in STATE_FUNCTIONS if hasattr(library, f)]
        if name == "_ckernels":
            assert exported == list(STATE_FUNCTIONS)
        else:
            assert exported == [], f"{name} has its own copy of {exported}"


def model_differs(dtype):
    """Override sizes unlike the model's (and unlike a tuned cache's): KB, NB and MC, KC, NC."""
    size = np.dtype(dtype).itemsize
    isa = ml.build_info()["blocking"][dtype]["c_simd"]["isa"]
    with ml.blocking_override(dtype):  # the model's sizes
        tiles, simd = ck.blocked_tiles(size), ck.gemm_blocking(size, isa)
    kb, nb = (24 if tiles["KB"] != 24 else 32), (48 if tiles["NB"] != 48 else 64)
    mc = 2 * simd["MR"] if simd["MC"] != 2 * simd["MR"] else 3 * simd["MR"]
    kc = 40 if simd["KC"] != 40 else 48
    nc = 4 * simd["NR"] if simd["NC"] != 4 * simd["NR"] else 5 * simd["NR"]
    return dict(mc=mc, kc=kc, nc=nc, kb=kb, nb=nb), isa


def run_every_blocked_rung(dtype, rng, threads=2):
    """Each blocked rung once, checked; {rung: the tiles (or blocks) it ran with}."""
    size = np.dtype(dtype).itemsize
    a, b = random_matrix(rng, 37, 75, dtype), random_matrix(rng, 75, 53, dtype)
    used = {}
    for rung in ("c_blocked", "cy_blocked", "cy_prange", "c_simd", "c_omp"):
        if not available(rung):
            continue
        assert_matmul_close(ml.matmul(a, b, kernel=rung,
                                      threads=threads if rung in ("cy_prange", "c_omp") else 1),
                            a, b)
        if rung in CY_BLOCKED:
            used[rung] = cython_module(rung).last_tiles()
        elif rung == "c_blocked":  # mm_blocked calls this function of the owner
            used[rung] = ck.blocked_tiles(size)
    return used


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_override_reaches_every_blocked_rung(dtype):
    sizes, isa = model_differs(dtype)
    size = np.dtype(dtype).itemsize
    rng = np.random.default_rng(31)
    expected = {"KB": sizes["kb"], "NB": sizes["nb"]}
    before = ck.blocked_tiles(size)  # the model's, or a tuned cache's
    with ml.blocking_override(dtype, **sizes):
        used = run_every_blocked_rung(dtype, rng)
        assert used and all(tiles == expected for tiles in used.values()), used
        blocking = ml.build_info()["blocking"][dtype]
        for rung in ("c_blocked",) + CY_BLOCKED:
            assert blocking[rung] == expected, (rung, blocking[rung])
        simd = ck.gemm_blocking(size, isa)
        assert (simd["MC"], simd["KC"], simd["NC"]) == (sizes["mc"], sizes["kc"], sizes["nc"])
        assert blocking["c_simd"]["KC"] == sizes["kc"]
    after = run_every_blocked_rung(dtype, rng)
    assert all(tiles == before for tiles in after.values()), (after, before)


@pytest.mark.parametrize("rung", ["c_simd", "c_omp"])
def test_kc_reaches_the_packed_rungs(rung):
    """KC splits the k loop, and so the order in which float32 products are added: the same
    product under two KCs differs in its last bits, and under one KC does not."""
    if not available(rung):
        pytest.skip(f"{rung} unavailable here")
    rng = np.random.default_rng(32)
    a, b = random_matrix(rng, 40, 600, np.float32), random_matrix(rng, 600, 50, np.float32)

    def product(kc):
        with ml.blocking_override("float32", kc=kc):
            return ml.matmul(a, b, kernel=rung, threads=1 if rung == "c_simd" else 2)
    eight, sixteen = product(8), product(16)
    np.testing.assert_array_equal(eight, product(8))
    assert not np.array_equal(eight, sixteen)
    assert_matmul_close(eight, a, b)
    assert_matmul_close(sixteen, a, b)


def test_overrides_from_threads_reach_the_cython_rungs():
    """An override made on one thread holds on the others, whose calls release the GIL."""
    module = cython_module("cy_blocked")
    rng = np.random.default_rng(33)
    a, b = random_matrix(rng, 64, 90, np.float64), random_matrix(rng, 90, 70, np.float64)
    errors = []

    def work():
        try:
            for _ in range(5):
                assert_matmul_close(ml.matmul(a, b, kernel="cy_blocked"), a, b)
                assert module.tiles(8) == {"KB": 16, "NB": 32}
        except AssertionError as exc:
            errors.append(exc)
    with ml.blocking_override("float64", kb=16, nb=32):
        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert module.last_tiles() == {"KB": 16, "NB": 32}
    assert not errors, errors


def tuned_entry(dtype):
    """A cache entry as `matmul-ladder tune` writes it, with sizes unlike the model's."""
    sizes, _ = model_differs(dtype)
    return {"MC": sizes["mc"], "KC": sizes["kc"], "NC": sizes["nc"], "source": "tuned",
            "c_blocked": {"KB": sizes["kb"], "NB": sizes["nb"], "source": "tuned"},
            "strassen": {"cutoff": 640 if dtype == "float32" else 768, "source": "tuned"}}


CHILD = """
import json
import numpy as np
import matmul_ladder as ml
from matmul_ladder import _ckernels as ck
from matmul_ladder.rungs import registry as _registry
out = {}
for dtype in ("float32", "float64"):
    size = np.dtype(dtype).itemsize
    a = np.ones((33, 41), dtype)
    used = {}
    for rung in ("c_blocked", "cy_blocked", "cy_prange", "c_simd", "c_omp"):
        if next(k for k in ml.kernels() if k.name == rung).available:
            assert (ml.matmul(a, a.T, kernel=rung) == 41).all()
            module = _registry.CYTHON_MODULES.get(rung, (None, ""))[0]
            used[rung] = module.last_tiles() if module else None
    info = ml.build_info()["blocking"][dtype]
    out[dtype] = {"used": used, "info": info, "cutoff": ck.strassen_cutoff(size),
                  "c_blocked": ck.blocked_tiles(size),
                  "gemm": ck.gemm_blocking(size, info["c_simd"]["isa"])}
print(json.dumps(out))
"""


def test_tuned_cache_reaches_every_blocked_rung(tmp_path):
    """The tuner's cache, applied at import (tuner.apply), in a new process: its sizes are what
    every blocked rung runs with."""
    tuned = {dtype: tuned_entry(dtype) for dtype in ("float32", "float64")}
    with open(tmp_path / "tuned_blocking.json", "w") as f:
        json.dump({tuner.cpu_key(): {"blocking": tuned}}, f)
    env = dict(os.environ, **{tuner.ENV_DIR: str(tmp_path)})
    env.pop(tuner.ENV_IGNORE, None)
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    for dtype, entry in tuned.items():
        tiles = {"KB": entry["c_blocked"]["KB"], "NB": entry["c_blocked"]["NB"]}
        got = seen[dtype]
        assert got["c_blocked"] == tiles
        for rung in CY_BLOCKED:
            if rung in got["used"]:
                assert got["used"][rung] == tiles, (dtype, rung, got["used"][rung])
            assert got["info"][rung] == tiles, (dtype, rung, got["info"][rung])
        assert got["info"]["c_blocked"] == tiles
        assert got["info"]["c_simd"]["source"].startswith("tuned")
        assert ((got["gemm"]["MC"], got["gemm"]["KC"], got["gemm"]["NC"]) ==
                (entry["MC"], entry["KC"], entry["NC"]))
        assert got["cutoff"] == entry["strassen"]["cutoff"]
    assert any(CY_BLOCKED[0] in seen[d]["used"] for d in seen), "cy_blocked never ran"


def usable_isas():
    best = ck.best_isa()
    return ["none"] + {"avx512": ["avx2", "avx512"], "avx2": ["avx2"], "neon": ["neon"]}.get(best, [])


@pytest.mark.parametrize("isa", ["none", "avx2", "avx512", "neon"])
def test_conv_follows_the_isa_of_the_owner(isa):
    """The convolution's vector rungs (in _cconv) use the ISA set through _ckernels, with no
    copy of their own to keep in step."""
    if isa not in usable_isas():
        pytest.skip(f"this CPU cannot run {isa}")
    from matmul_ladder.rungs.conv import _cconv
    if _cconv is None:
        pytest.skip("_cconv is not built")
    rng = np.random.default_rng(34)
    x, w = random_matrix(rng, 20, 37, np.float32), random_matrix(rng, 3, 3, np.float32)
    previous = ml.set_simd_isa(isa)
    try:
        assert ck.active_isa() == isa
        assert _cconv.active_isa() == ck.ISA_NAMES.index(isa)
        y = np.empty((18, 35), np.float32)
        _cconv.run("conv_c_simd", x, w, y)
        np.testing.assert_allclose(y, ml.conv2d(x, w, kernel="conv_c_naive"), rtol=1e-5,
                                   atol=1e-5)
    finally:
        ml.set_simd_isa(previous)
    assert _cconv.active_isa() == ck.ISA_NAMES.index(previous)


def test_conv_follows_the_isa_from_the_environment():
    if "avx2" not in usable_isas():
        pytest.skip("no AVX2 here")
    code = ("import matmul_ladder as ml; from matmul_ladder import _cconv, _ckernels as ck; "
            "print(ck.ISA_NAMES[_cconv.active_isa()])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, MATMUL_LADDER_ISA="avx2"), check=True)
    assert out.stdout.strip() == "avx2"


WITHOUT_CKERNELS = """
import sys
sys.modules["matmul_ladder._ckernels"] = None  # as if it were not built
import numpy as np
import matmul_ladder as ml
kernels = {k.name: k for k in ml.kernels()}
for rung in ("cy_blocked", "cy_prange"):
    assert not kernels[rung].available
    assert "_ckernels" in kernels[rung].reason, kernels[rung].reason
    try:
        ml.matmul(np.ones((2, 2)), np.ones((2, 2)), kernel=rung)
    except ml.KernelUnavailableError as exc:
        assert "tile sizes" in str(exc)
    else:
        raise AssertionError(rung + " ran without its owner")
try:
    import matmul_ladder._cy_blocked
except ImportError as exc:
    assert "one owner" in str(exc), exc
else:
    raise AssertionError("_cy_blocked imported without _ckernels")
a = np.arange(12.0).reshape(3, 4)
for rung in ("cy_naive", "cy_ikj"):
    assert kernels[rung].available and (ml.matmul(a, a.T, kernel=rung) == a @ a.T).all()
x, w = np.arange(30.0).reshape(5, 6), np.ones((3, 3))
assert kernels["conv_c_rows"].available
assert np.allclose(ml.conv2d(x, w, kernel="conv_c_rows"), ml.conv2d(x, w, kernel="conv_py_naive"))
from matmul_ladder import _cconv
assert _cconv.active_isa() == 0
print("ok")
"""


def test_without_ckernels_the_blocked_cython_rungs_say_why():
    """_ckernels absent (not built): cy_blocked and cy_prange, which read their tiles from it,
    are listed unavailable with the reason, instead of crashing; the rungs that need no
    run-time state still run."""
    out = subprocess.run([sys.executable, "-c", WITHOUT_CKERNELS], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
