#!/usr/bin/env bash
# The C ladders (csrc/, csrc/conv/) on Windows, from Linux: cross-compiled with MinGW-w64's gcc
# into one Windows executable with the check driver (tests/aarch64/ladder_check.c, which
# checks every C rung against a long-double reference) and run under Wine. Then the code
# paths that Microsoft's compiler takes (csrc/portable.h, LADDER_MSVC) are compiled with the
# same gcc, and cpu.c's MSVC CPU check (__cpuidex, _xgetbv) runs under Wine.
# Needs Debian's gcc-mingw-w64-x86-64 and wine64 (.ci/run installs them). CROSS_CC and WINE
# override the tools; Wine's prefix is WINEPREFIX (default ~/.wine, created on first use).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../../csrc"
CROSS_CC="${CROSS_CC:-x86_64-w64-mingw32-gcc}"
WINE="${WINE:-wine64}"
export WINEDEBUG="${WINEDEBUG:--all}"  # Wine's own messages off
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# Static: the executable carries libgomp and winpthreads, and Wine needs no DLL search path.
# ANSI stdio: the driver prints size_t (%zu) and long double (%Lg), which msvcrt's printf lacks.
flags=(-O3 -fopenmp -Wall -Wextra -Werror -D__USE_MINGW_ANSI_STDIO=1 -I"$src")
# Every C file of the ladder but state_client.c (it needs Python.h); the driver checks rungs
# 1-6 and the convolution rungs, the rest (rung 7, the fast-matmul sums) is compiled.
files=(cpu blocking scratch state_owner ukernel_avx2 ukernel_avx512 ukernel_neon fma_peak stream
       bf16_units ukernel_bf16 bf16_peak)
typed=(1_naive 2_ikj 3_blocked 4_simd 5_omp 6_strassen 7_bf16 few_rows lincomb
       conv/1_naive conv/2_rows conv/3_fixed conv/4_simd conv/5_omp conv/6_strips conv/simd_rows)
# Jobs "source|object|extra flags": every file once, the typed ones per element type.
float_jobs=() jobs=()
for f in "${files[@]}"; do float_jobs+=("$f.c|$f.o|"); done
for f in "${typed[@]}"; do
    o="${f//\//_}"
    float_jobs+=("$f.c|${o}_s.o|")
    jobs+=("$f.c|${o}_d.o|-DLADDER_DOUBLE")
done
jobs+=("${float_jobs[@]}")
# One job: $1 is "source|object|extra flags", $2 the object's prefix, the rest the command.
compile_one() {
    local s o x
    IFS="|" read -r s o x <<< "$1"
    local prefix="$2"
    shift 2
    "$@" $x -c "$src/$s" -o "$out/$prefix$o"
}
export -f compile_one
export src out
compile() {  # the jobs of array $1, with the extra flags "$@", into $out/$2*, $(nproc) at a time
    local -n list="$1"
    local prefix="$2"
    shift 2
    printf '%s\n' "${list[@]}" | xargs -P "$(nproc)" -I{} \
        bash -c 'compile_one "$@"' _ {} "$prefix" "$CROSS_CC" "${flags[@]}" "$@"
}
compile jobs ""
objs=()
for j in "${jobs[@]}"; do IFS="|" read -r _ o _ <<< "$j"; objs+=("$out/$o"); done
"$CROSS_CC" "${flags[@]}" -static "$here/../aarch64/ladder_check.c" "${objs[@]}" -lm \
    -o "$out/ladder_check.exe"
"$WINE" "$out/ladder_check.exe"

# MSVC's paths, compiled: every file of the ladder with LADDER_MSVC_PATHS, and the ISA flags
# that stand for MSVC's permission to use any intrinsic anywhere (compiled only: such code
# may use AVX-512 outside the checked functions). Float32 only: the element type changes no
# compiler path. -O0, the fastest: gcc still inlines always_inline functions, and fails
# where their ISA does not fit the caller's. Then cpu.c's CPU check alone, built with only
# what _xgetbv needs, runs: it must find the ISA that gcc's __builtin_cpu_supports finds.
compile float_jobs msvc_ -DLADDER_MSVC_PATHS -mavx2 -mfma -mavx512f -mxsave -O0
# what was compiled: the sources of the objects there are, one name per source
(cd "$out" && for j in "${float_jobs[@]}"; do
    IFS="|" read -r s o _ <<< "$j"
    [ -f "msvc_$o" ] && echo "$s"
done) | sort -u | tr '\n' ' ' | sed 's/^/MSVC paths compiled: /; s/ $/\n/'

"$CROSS_CC" "${flags[@]}" -DLADDER_MSVC_PATHS -mxsave -c "$src/cpu.c" -o "$out/cpu_msvc.o"
cat > "$out/isa.c" <<'C'
#include <stdio.h>
#include "ladder.h"
int main(void) { printf("MSVC CPU check: best ISA %d\n", ladder_best_isa()); return 0; }
C
"$CROSS_CC" "${flags[@]}" -static "$out/isa.c" "$out/cpu_msvc.o" -o "$out/isa_msvc.exe"
"$WINE" "$out/isa_msvc.exe"
