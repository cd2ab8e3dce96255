"""What ml.kernels() and ml.build_info() report, and the SIMD dispatch they describe."""
import os
import subprocess
import sys

import numpy as np
import pytest

import matmul_ladder as ml
from conftest import assert_matmul_close, random_matrix

C_RUNGS = ["c_naive", "c_ikj", "c_blocked", "c_simd", "c_omp"]


def test_registry_lists_the_ladder_in_order():
    names = [k.name for k in ml.kernels("matmul")]
    assert names[:6] == ["py_naive"] + C_RUNGS
    for baseline in ("numpy", "torch_cpu", "torch_bf16", "torch_cuda", "cupy"):
        assert baseline in names
    for k in ml.kernels():
        assert k.description and k.language in {"Python", "C", "Cython", "CUDA", "baseline"}
        assert k.available == (k.reason == "")
        assert k.device in {"cpu", "gpu"}
        assert set(k.dtypes) <= {"float32", "float64"}
        assert k.operation in {"matmul", "conv2d"}
        matmul_cuda = k.language == "CUDA" and k.operation == "matmul"
        # c_bf16 and torch_bf16 round float32 to bfloat16
        float32_only = matmul_cuda or k.precision in ("bf16", "bf16_out")
        assert k.dtypes == (("float32",) if float32_only else ("float32", "float64"))


def test_kernels_are_listed_by_operation():
    everything = ml.kernels()
    assert [k.name for k in everything] == [k.name for k in ml.kernels("matmul") + ml.kernels("conv2d")]
    conv = [k.name for k in ml.kernels("conv2d")]
    assert conv[:7] == ["conv_py_naive", "conv_c_naive", "conv_c_rows", "conv_c_fixed",
                        "conv_c_simd", "conv_c_omp", "conv_c_strips"]
    with pytest.raises(ValueError, match="operation"):
        ml.kernels("fft")


def test_build_info_holds_the_facts():
    info = ml.build_info()
    assert info["compiler"] and info["compiler_version"]
    assert set(C_RUNGS) <= set(info["flags"])
    assert "-O" in info["flags"]["c_naive"]
    assert "-march" not in info["flags"]["c_simd"]
    assert isinstance(info["openmp"], bool)
    assert info["simd"]["usable"] in {"none", "avx2", "avx512", "neon"}
    assert info["simd"]["active"] in {"none", "avx2", "avx512", "neon"}
    assert info["cpu"]["cores"] >= 1 and info["cpu"]["default_threads"] >= 1
    assert all(info["cpu"]["caches"][level] > 0 for level in ("L1d", "L2", "L3"))
    for dtype in ("float32", "float64"):
        simd = info["blocking"][dtype]["c_simd"]
        assert simd["MC"] % simd["MR"] == 0 and simd["NC"] % simd["NR"] == 0
        assert simd["KC"] >= 8 and simd["KC"] % 8 == 0
        assert set(info["blocking"][dtype]["c_blocked"]) == {"KB", "NB"}
        # the Cython twins read c_blocked's tiles from _ckernels, which owns them
        for rung in ("cy_blocked", "cy_prange"):
            if next(k for k in ml.kernels() if k.name == rung).available:
                assert info["blocking"][dtype][rung] == info["blocking"][dtype]["c_blocked"]


def test_openmp_fact_matches_c_omp():
    """build_info()["openmp"] is what the build found, and the OpenMP rungs agree with it:
    without OpenMP they are unavailable and say so; with it, they run where their other
    needs are met (c_omp and c_strassen: a SIMD micro-kernel, as c_simd), and no reason
    names OpenMP."""
    info = ml.build_info()
    kernels = {k.name: k for k in ml.kernels()}
    config = ml._api._read_build_config()
    if config:
        assert info["openmp"] == config["openmp"]
        assert bool(config["openmp_flag"]) == info["openmp"]
    openmp_rungs = ["c_omp", "c_strassen", "cy_prange"]
    if not info["openmp"]:
        for name in openmp_rungs:
            assert not kernels[name].available and "OpenMP" in kernels[name].reason, name
        return
    for name in openmp_rungs:
        assert "OpenMP" not in kernels[name].reason, (name, kernels[name].reason)
    for name in ("c_omp", "c_strassen"):
        assert kernels[name].available == kernels["c_simd"].available, name
    assert kernels["cy_prange"].available == kernels["cy_blocked"].available
    if config:  # and the OpenMP rungs were compiled with it
        assert config["openmp_flag"] in info["flags"]["c_omp"]
        assert config["openmp_flag"] in info["flags"]["cy_prange"]


def test_simd_matches_cpu_flags():
    info = ml.build_info()
    features = set(info["cpu"]["features"])
    if not features:
        pytest.skip("no /proc/cpuinfo flags to compare with")
    expected = ("avx512" if "avx512f" in features else
                "avx2" if {"avx2", "fma"} <= features else
                "neon" if "asimd" in features else "none")
    assert info["simd"]["usable"] == expected


def usable_isas():
    best = ml.build_info()["simd"]["usable"]
    return {"avx512": ["avx2", "avx512"], "avx2": ["avx2"], "neon": ["neon"]}.get(best, [])


@pytest.mark.parametrize("isa", ["avx2", "avx512", "neon"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_micro_kernel_is_correct(isa, dtype):
    """Both micro-kernels are kept and tested, whichever this CPU would pick."""
    if isa not in usable_isas():
        pytest.skip(f"this CPU cannot run the {isa} micro-kernel")
    rng = np.random.default_rng(2)
    previous = ml.set_simd_isa(isa)
    try:
        assert ml.build_info()["simd"]["active"] == isa
        for m, n, k in [(1, 1, 1), (3, 300, 70), (5, 7, 3), (13, 33, 193), (100, 70, 400),
                        (1400, 40, 50), (7, 4100, 9)]:
            a, b = random_matrix(rng, m, k, dtype), random_matrix(rng, k, n, dtype)
            for kernel in ("c_simd", "c_omp"):
                if next(x for x in ml.kernels() if x.name == kernel).available:
                    assert_matmul_close(ml.matmul(a, b, kernel=kernel), a, b)
    finally:
        ml.set_simd_isa(previous)


@pytest.mark.parametrize("isa", ["avx2", "avx512", "neon", "none"])
def test_peaks_run_on_every_isa(isa):
    """The FMA peak and the micro-kernel ceiling that versus_numpy.py reports run on each ISA
    (a sanity check of the units, not a speed goal), and are 0.0 without SIMD. The two are of
    one size: a compiler that dropped the FMA chains as dead code would give a peak far
    above the kernel's ceiling."""
    if isa != "none" and isa not in usable_isas():
        pytest.skip(f"this CPU cannot run the {isa} micro-kernel")
    from matmul_ladder import _ckernels
    previous = ml.set_simd_isa(isa)
    try:
        for itemsize in (4, 8):
            peak, ceiling = _ckernels.fma_peak(itemsize, 1, 0.01), _ckernels.ukernel_peak(itemsize, 0.01)
            if isa == "none":
                assert peak == ceiling == 0.0
            else:
                assert 0.1 < ceiling < 3 * peak and peak < 4 * ceiling, (peak, ceiling)
    finally:
        ml.set_simd_isa(previous)


def test_simd_off_makes_rungs_unavailable():
    previous = ml.set_simd_isa("none")
    try:
        simd = next(k for k in ml.kernels() if k.name == "c_simd")
        assert not simd.available and "SIMD" in simd.reason
        with pytest.raises(ml.KernelUnavailableError):
            ml.matmul(np.ones((2, 2)), np.ones((2, 2)), kernel="c_simd")
    finally:
        ml.set_simd_isa(previous)


def test_unsupported_isa_is_refused():
    """An ISA this CPU cannot run (NEON on x86-64, AVX on arm64) is refused."""
    for isa in ("avx2", "avx512", "neon"):
        if isa not in usable_isas():
            with pytest.raises(ValueError, match="cannot run"):
                ml.set_simd_isa(isa)


def test_compiled_micro_kernels_match_the_architecture():
    compiled = ml.build_info()["simd"]["compiled"]
    best = ml.build_info()["simd"]["usable"]
    assert best == "none" or best in compiled
    assert not ({"avx2", "avx512"} & set(compiled) and "neon" in compiled)


def test_isa_from_environment():
    if "avx2" not in usable_isas():
        pytest.skip("no AVX2 here")
    env = dict(os.environ, MATMUL_LADDER_ISA="avx2")
    out = subprocess.run([sys.executable, "-c",
                          "import matmul_ladder as ml; print(ml.build_info()['simd']['active'])"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "avx2"


def test_bad_isa_in_environment_warns():
    env = dict(os.environ, MATMUL_LADDER_ISA="sse9")
    out = subprocess.run([sys.executable, "-c", "import matmul_ladder"], env=env,
                         capture_output=True, text=True, check=True)
    assert "MATMUL_LADDER_ISA='sse9' ignored" in out.stderr


def test_each_flag_once_and_openmp_only_where_a_rung_uses_it():
    info = ml.build_info()
    omp = {"c_omp", "c_strassen", "cy_prange"}
    for rung, text in info["flags"].items():
        words = text.split(";")[0].split()
        assert len(words) == len(set(words)), (rung, text)
        assert sum(w.startswith("-O") for w in words) == 1, (rung, text)
        if rung not in omp:
            assert "-fopenmp" not in words, (rung, text)
        elif info["openmp"]:
            assert any("openmp" in w for w in words), (rung, text)
