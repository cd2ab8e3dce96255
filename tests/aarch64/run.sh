#!/usr/bin/env bash
# Cross-compile the C ladders (csrc/, csrc/conv/) and ladder_check.c for arm64 and run the check under
# qemu-user. Needs Debian's gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user-static
# (.ci/run installs them). CROSS_CC and QEMU override the tools; QEMU= (empty) runs the
# binary directly, as on an arm64 machine with CROSS_CC=cc.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../../csrc"
CROSS_CC="${CROSS_CC:-aarch64-linux-gnu-gcc}"
QEMU="${QEMU-qemu-aarch64-static}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
flags=(-O3 -fopenmp -Wall -Wextra -Werror -I"$src")
objs=()
for f in cpu blocking scratch ukernel_avx2 ukernel_avx512 ukernel_neon fma_peak stream; do
    "$CROSS_CC" "${flags[@]}" -c "$src/$f.c" -o "$out/$f.o"
    objs+=("$out/$f.o")
done
for rung in 1_naive 2_ikj 3_blocked 4_simd 5_omp 6_strassen few_rows; do
    "$CROSS_CC" "${flags[@]}" -c "$src/$rung.c" -o "$out/${rung}_s.o"
    "$CROSS_CC" "${flags[@]}" -DLADDER_DOUBLE -c "$src/$rung.c" -o "$out/${rung}_d.o"
    objs+=("$out/${rung}_s.o" "$out/${rung}_d.o")
done
for rung in 1_naive 2_rows 3_fixed 4_simd 5_omp 6_strips simd_rows; do
    "$CROSS_CC" "${flags[@]}" -c "$src/conv/$rung.c" -o "$out/conv_${rung}_s.o"
    "$CROSS_CC" "${flags[@]}" -DLADDER_DOUBLE -c "$src/conv/$rung.c" -o "$out/conv_${rung}_d.o"
    objs+=("$out/conv_${rung}_s.o" "$out/conv_${rung}_d.o")
done
"$CROSS_CC" "${flags[@]}" -static "$here/ladder_check.c" "${objs[@]}" -lm -o "$out/ladder_check"
${QEMU:+"$QEMU"} "$out/ladder_check"
