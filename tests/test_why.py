"""why.py's readers of cachegrind and objdump output, on recorded samples, and its verdicts."""
import os
import shutil

import pytest

from matmul_ladder.explain import cachegrind
from matmul_ladder.explain import disasm
from matmul_ladder.explain import why

DATA = os.path.join(os.path.dirname(__file__), "data")


def read(name):
    with open(os.path.join(DATA, name)) as f:
        return f.read()


def test_parse_cachegrind_sample():
    counts = cachegrind.parse_cachegrind(read("cachegrind_sample.out"))
    assert list(counts) == ["Ir", "I1mr", "ILmr", "Dr", "D1mr", "DLmr", "Dw", "D1mw", "DLmw"]
    assert counts["Ir"] == 567063695 and counts["DLmw"] == 257075


def test_parse_cachegrind_rejects_other_text():
    with pytest.raises(ValueError, match="not a cachegrind output"):
        cachegrind.parse_cachegrind("hello\n")


def test_parse_objdump_sample():
    functions = disasm.parse_objdump(read("objdump_sample.txt"))
    assert {"mm_naive_d", "mm_ikj_d", "ukernel_avx2_d"} <= set(functions)
    first = functions["mm_ikj_d"][0]
    assert first.address > 0 and first.mnemonic


@pytest.mark.parametrize("function, label", [
    ("mm_naive_d", "scalar (multiplies SSE 128-bit)"),   # gcc pairs the multiplies, adds stay in order
    ("mm_ikj_d", "SSE 128-bit"),                          # the vectorised copy of the inner loop
    # a recorded build whose AVX2 kernel kept its accumulators in an array
    ("ukernel_avx2_d", "AVX 256-bit + FMA, 10 vector stores to the stack"),
])
def test_hot_loop_isa(function, label):
    facts = disasm.hot_loop(disasm.parse_objdump(read("objdump_sample.txt"))[function])
    assert facts is not None and facts.label() == label


@pytest.mark.parametrize("function", ["ukernel_neon_8x12", "ukernel_neon_8x6"])
def test_hot_loop_arm64(function):
    """The NEON micro-kernels as aarch64-linux-gnu-gcc -O3 builds them: 24 fmla by element
    per k, no accumulator on the stack."""
    facts = disasm.hot_loop(disasm.parse_objdump(read("objdump_aarch64_sample.txt"))[function])
    assert facts is not None and facts.label() == "NEON 128-bit + FMA" and facts.fp_ops == 24


def test_width_classifies_arm64_instructions():
    ins = disasm.Instruction
    assert disasm.width(ins(0, "fmla", "v12.4s, v4.4s, v1.s[0]")) == (1, True, False)
    assert disasm.width(ins(0, "fmadd", "d0, d1, d2, d0")) == (0, True, False)
    assert disasm.width(ins(0, "fmul", "v0.2d, v1.2d, v2.2d")) == (1, False, True)
    assert disasm.width(ins(0, "fmla", "z0.s, p0/m, z1.s, z2.s")) == (2, True, False)
    assert disasm.width(ins(0, "ldr", "q2, [x2, #32]")) is None
    assert disasm.spill(ins(0, "str", "q8, [sp, #64]"))
    assert not disasm.spill(ins(0, "str", "d12, [sp, #32]"))


def test_width_classifies_instructions():
    ins = disasm.Instruction
    assert disasm.width(ins(0, "vfmadd231pd", "%zmm1,%zmm2,%zmm3")) == (3, True, False)
    assert disasm.width(ins(0, "vfmadd231ps", "%ymm1,%ymm2,%ymm3")) == (2, True, False)
    assert disasm.width(ins(0, "mulpd", "%xmm3,%xmm0")) == (1, False, True)
    assert disasm.width(ins(0, "addsd", "%xmm0,%xmm1")) == (0, False, False)
    assert disasm.width(ins(0, "movapd", "%xmm0,%xmm1")) is None


def test_verdicts_read_the_numbers():
    r = {"config": why.WhyConfig.quick().__dict__, "geometry": {"L2": (2 << 20, 16, 64)}, "cores": 2,
         "counters": {"c_naive": {"D1mr": 0.5, "Ir": 2.8, "Dr": 0.75, "DLmr": 1e-4},
                      "c_ikj": {"D1mr": 0.06, "Ir": 2.0, "Dr": 0.5, "DLmr": 1e-4},
                      "c_blocked": {"D1mr": 0.005, "Ir": 2.0, "Dr": 0.5, "DLmr": 1e-4},
                      "c_simd": {"D1mr": 0.01, "Ir": 0.4, "Dr": 0.09, "DLmr": 3e-4}},
         "isa_column": {"c_naive": "scalar", "c_ikj": "SSE 128-bit", "c_blocked": "SSE 128-bit",
                        "c_simd": "AVX-512 + FMA"},
         "cliff_time": {"c_ikj": [(256, 9.0), (1024, 6.5)], "c_blocked": [(256, 9.4), (1024, 9.2)]}}
    v = {f.key: f.verdict for f in why.verdicts(r)}
    assert v["loop_order"] is why.Verdict.SUPPORTED
    assert v["blocking"] is why.Verdict.SUPPORTED
    assert v["simd"] is why.Verdict.PARTLY_REFUTED
    assert v["registers"] is why.Verdict.SUPPORTED


@pytest.mark.skipif(shutil.which("objdump") is None, reason="needs objdump (binutils)")
@pytest.mark.parametrize("kernel", ["ukernel_avx2_6x16", "ukernel_avx2_6x8", "ukernel_avx512_12x32",
                                    "ukernel_avx512_12x16", "ukernel_avx512_12x32_half",
                                    "ukernel_avx512_12x16_half"])
def test_built_micro_kernels_keep_accumulators_in_registers(kernel):
    """Not a speed test but a code-generation check: a micro-kernel whose compiler spilled its
    accumulators to the stack in the k loop is 15-40% slower (docs/where-the-time-goes.md)."""
    import matmul_ladder as ml
    isa = kernel.split("_")[1]
    if not any(c.startswith(isa) for c in ml.build_info()["simd"]["compiled"]):
        pytest.skip(f"this build has no {isa} micro-kernel")
    symbol = f"^{kernel}$"
    facts = disasm.symbol_facts("_ckernels", symbol)
    assert facts is not None and facts.fma
    assert facts.stack_stores == 0, f"{kernel}: {facts.label()}"
