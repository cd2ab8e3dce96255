"""What the compiler made of each rung: the widest floating-point instructions of its hot
loop, and vector registers spilled to the stack there, read from the built extension with
objdump. Reads x86-64 (AT&T syntax) and arm64 disassembly."""
import importlib
import re
import subprocess
from dataclasses import dataclass

ISA_ORDER = ["scalar", "SSE 128-bit", "AVX 256-bit", "AVX-512"]
ISA_ORDER_ARM64 = ["scalar", "NEON 128-bit", "SVE"]
FP_ARITH = re.compile(r"^v?(add|sub|mul|div|fmadd\d*|fnmadd\d*|fmsub\d*|fnmsub\d*)(ss|sd|ps|pd)$")
# arm64: fmla/fmls (vector FMA, by element or by vector), fmadd... (scalar FMA), fadd...
FP_ARITH_ARM64 = re.compile(r"^f(add|sub|mul|div|mla|mls|madd|msub|nmadd|nmsub)$")


@dataclass
class Instruction:
    address: int
    mnemonic: str
    operands: str


@dataclass
class LoopFacts:
    isa: str          # width of the accumulating instructions (add/sub/FMA): the loop's real width
    fma: bool
    fp_ops: int
    mul_isa: str = ""  # set where the multiplies are wider than the adds (vectorised multiply only)
    stack_stores: int = 0  # vector registers stored to the stack in the loop: spilled accumulators
    rank: int = 0     # isa's place in its ISA_ORDER list: wider is higher

    def label(self):
        text = self.isa + (" + FMA" if self.fma else "")
        text += f" (multiplies {self.mul_isa})" if self.mul_isa else ""
        return text + (f", {self.stack_stores} vector stores to the stack" if self.stack_stores else "")


def parse_objdump(text):
    """{function: [Instruction]} from `objdump -d --no-show-raw-insn`."""
    functions, current = {}, None
    head = re.compile(r"^([0-9a-f]+) <(.+)>:$")
    body = re.compile(r"^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$")
    for line in text.splitlines():
        m = head.match(line)
        if m:
            current = functions.setdefault(m.group(2), [])
            continue
        m = body.match(line)
        if m and current is not None:
            current.append(Instruction(int(m.group(1), 16), m.group(2), m.group(3)))
    return functions


def width(ins):
    """(isa rank, is_fma, is_multiply) of a floating-point arithmetic instruction, or None.
    The rank indexes ISA_ORDER on x86-64 and ISA_ORDER_ARM64 on arm64 (see is_arm64)."""
    m = FP_ARITH.match(ins.mnemonic)
    if m:
        op = m.group(1)
        fma = op.startswith(("fm", "fnm"))
        if "%zmm" in ins.operands:
            rank = 3
        elif "%ymm" in ins.operands:
            rank = 2
        else:
            rank = 1 if m.group(2) in ("ps", "pd") else 0
        return rank, fma, op in ("mul", "div")
    m = FP_ARITH_ARM64.match(ins.mnemonic)
    if m and is_arm64(ins):
        op = m.group(1)
        rank = 2 if re.match(r"z\d+\.", ins.operands) else 1 if re.match(r"v\d+\.", ins.operands) else 0
        return rank, op in ("mla", "mls", "madd", "msub", "nmadd", "nmsub"), op in ("mul", "div")
    return None


def is_arm64(ins):
    """True for an arm64 instruction (registers written v0.4s, q0, d0, x0, w0, z0.s, sp)."""
    return "%" not in ins.operands and bool(re.match(r"\[?[vqdszxw]\d+|sp|\[sp", ins.operands))


def is_backward_jump_source(ins):
    """A conditional or plain branch: x86-64 j*, arm64 b, b.cond, cbz/cbnz, tbz/tbnz."""
    m = ins.mnemonic
    return m.startswith("j") or m in ("b", "cbz", "cbnz", "tbz", "tbnz") or m.startswith("b.")


def spill(ins):
    """True for a vector register stored to the stack: x86-64 (AT&T order: source,
    destination) vmov* %xmm/%ymm/%zmm to (%rsp); arm64 str/stp/stur of a q register to [sp."""
    if ins.mnemonic in ("str", "stp", "stur"):
        return bool(re.match(r"q\d+", ins.operands)) and "[sp" in ins.operands
    return (ins.mnemonic.startswith("vmov") and bool(re.match(r"%[xyz]mm\d+,", ins.operands))
            and ins.operands.endswith("(%rsp)"))


def hot_loop(instructions):
    """The innermost loop (a backward jump's range, holding no other loop) that does floating-
    point work, preferring the widest accumulation, then the most such instructions. Returns its
    LoopFacts, or None. Widest first because compilers keep a scalar copy of a vectorised loop
    (for the remainder, or when a run-time alias check fails) with as many instructions."""
    loops = []
    for ins in instructions:
        if is_backward_jump_source(ins):
            target = re.match(r"([0-9a-f]+)", ins.operands)
            if target and int(target.group(1), 16) <= ins.address:
                loops.append((int(target.group(1), 16), ins.address))
    inner = [l for l in loops if not any(o != l and l[0] <= o[0] and o[1] <= l[1] for o in loops)]
    best, best_key = None, None
    for start, end in inner:
        kinds = [k for k in (width(i) for i in instructions if start <= i.address <= end) if k]
        acc = [k for k in kinds if not k[2]]
        if not acc:
            continue
        acc_rank = max(k[0] for k in acc)
        mul_rank = max((k[0] for k in kinds if k[2]), default=-1)
        names = ISA_ORDER_ARM64 if any(is_arm64(i) for i in instructions[:8]) else ISA_ORDER
        facts = LoopFacts(names[acc_rank], any(k[1] for k in kinds), len(kinds),
                          names[mul_rank] if mul_rank > acc_rank else "",
                          sum(spill(i) for i in instructions if start <= i.address <= end),
                          acc_rank)
        key = (acc_rank, len(kinds))
        if best_key is None or key > best_key:
            best, best_key = facts, key
    return best


def rung_symbols(kernel, dtype, isa):
    """(extension module, function-name pattern) of a rung's compiled code."""
    s = "s" if dtype == "float32" else "d"
    if kernel.startswith("c_"):
        rung = kernel[2:]
        if rung in ("simd", "omp"):
            tiles = {("avx2", "s"): "6x16", ("avx2", "d"): "6x8",
                     ("avx512", "s"): "12x32", ("avx512", "d"): "12x16",
                     ("neon", "s"): "8x12", ("neon", "d"): "8x6"}
            return "_ckernels", f"^ukernel_{isa}_{tiles[isa, s]}$"
        return "_ckernels", f"^mm_{rung}_{s}$"
    fuse = "0" if dtype == "float32" else "1"
    return f"_{kernel}", rf"__pyx_fuse_{fuse}.*matmul|sweep_tile|__pyx_f.*_{fuse}"


def isa_column(kernels, dtype, isa):
    """{kernel: LoopFacts or None} from objdump of the built extensions."""
    dumps = {}
    return {kernel: symbol_facts(*rung_symbols(kernel, dtype, isa), dumps) for kernel in kernels}


def symbol_facts(module, pattern, dumps=None):
    """LoopFacts of the widest hot loop among the functions of matmul_ladder.<module> whose
    names match `pattern`, or None. dumps: a cache of parsed objdump output per file."""
    dumps = {} if dumps is None else dumps
    try:
        path = importlib.import_module(f"matmul_ladder.{module}").__file__
    except ImportError:
        return None
    if path not in dumps:
        text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", path], capture_output=True, text=True).stdout
        dumps[path] = parse_objdump(text)
    best = None
    for name, ins in dumps[path].items():
        if re.search(pattern, name):
            facts = hot_loop(ins)
            if facts and (best is None or (facts.rank, facts.fp_ops) > (best.rank, best.fp_ops)):
                best = facts
    return best
