#!/bin/sh
# Every SIMD path against the portable one: the kernel and model tests built for AVX2, for
# AVX-512 without VBMI (Cascade Lake), for this CPU without GFNI (the q4_0 nibbles by shift
# and mask where VBMI is there), for the portable code and for AArch64 NEON without and
# with the dot product extension (cross-compiled, run under qemu-aarch64; without those two
# the NEON path is skipped with a note, and under CI=true that fails), then the same logits
# from each build for f32, f16, bf16, q8_0 and q4_0 models, compared with the portable build's.
. "$(dirname "$0")/lib.sh"
CC=${CC:-cc}
FLAGS="-std=c99 -O2 -fopenmp -Itools -Itests"
for v in "native:-march=native" "avx512-novbmi:-march=cascadelake" "nogfni:-march=native -mno-gfni" "avx2:-march=x86-64-v3" "scalar:-DMOD_NO_SIMD"; do
    name=${v%%:*}; arch=${v#*:}
    if ! $CC $FLAGS $arch -o "$T/eval_$name" tools/eval.c -lm 2>"$T/err"; then bad "build mod-eval ($name): $(head -c 300 "$T/err")"; continue; fi
    [ "$name" = native ] && continue
    for t in test_kernels test_model; do
        if $CC $FLAGS $arch -o "$T/${t}_$name" tests/$t.c -lm 2>"$T/err" && "$T/${t}_$name" >"$T/out" 2>&1; then
            ok "$t on the $name path ($(tail -n 1 "$T/out"))"
        else bad "$t on the $name path: $(tail -n 5 "$T/out" "$T/err" 2>/dev/null | head -c 600)"; fi
    done
done
# AArch64 twice: the base architecture (the int8 block products by widening multiplies) and
# with the dot product extension (SDOT, run on qemu's "max" CPU); the two run side by side.
ARM=""
arm_build() { # name, flags, emulator: results as lines "ok MESSAGE" or "FAIL MESSAGE"
    for t in test_kernels test_model; do
        if aarch64-linux-gnu-gcc -std=c99 -O2 -static $2 -Itools -Itests -o "$T/${t}_$1" tests/$t.c -lm 2>"$T/err_$1" &&
           $3 "$T/${t}_$1" >"$T/out_$1" 2>&1; then
            echo "ok $t on the $1 path under $3 ($(tail -n 1 "$T/out_$1"))"
        else echo "FAIL $t on the $1 path: $(tail -n 5 "$T/out_$1" "$T/err_$1" 2>/dev/null | head -c 600 | tr '\n' ' ')"; fi
    done
    aarch64-linux-gnu-gcc -std=c99 -O2 -static $2 -o "$T/eval_$1" tools/eval.c -lm 2>"$T/err_$1" ||
        echo "FAIL build mod-eval ($1): $(head -c 300 "$T/err_$1" | tr '\n' ' ')"
}
if have aarch64-linux-gnu-gcc "the NEON path" && have qemu-aarch64 "the NEON path"; then
    ARM="neon neon-dotprod"
    arm_build neon "" qemu-aarch64 >"$T/res_neon" &
    arm_build neon-dotprod -march=armv8.2-a+dotprod "qemu-aarch64 -cpu max" >"$T/res_neon-dotprod"
    wait
    for name in $ARM; do
        while IFS= read -r line; do
            case $line in ok\ *) ok "${line#ok }" ;; *) bad "${line#FAIL }" ;; esac
        done <"$T/res_$name"
    done
fi
TOKS=5,17,3,99,42,7,7,250,1,0,33,64,128,255,300,12,19,23,5,5,6,200,201,202
for dt in f32 f16 bf16 q8_0 q4_0; do
    "$B/mkmodel" "$T/m_$dt.mod" --seed 11 --tokenizer bpe --merges 100 --dim 64 --layers 4 --heads 4 --kv-heads 2 --hidden 160 --seq 64 --mod-layers odd --qkv-bias 1 --dtype $dt >/dev/null || bad "mkmodel $dt"
    for name in native avx512-novbmi nogfni avx2 scalar; do
        [ -x "$T/eval_$name" ] && "$T/eval_$name" "$T/m_$dt.mod" --tokens $TOKS --routing topk --dump-logits "$T/l_${dt}_$name.bin" >/dev/null 2>&1
    done
    if [ -n "$ARM" ]; then
        [ -x "$T/eval_neon" ] && qemu-aarch64 "$T/eval_neon" "$T/m_$dt.mod" --tokens $TOKS --routing topk --dump-logits "$T/l_${dt}_neon.bin" >/dev/null 2>&1 &
        [ -x "$T/eval_neon-dotprod" ] && qemu-aarch64 -cpu max "$T/eval_neon-dotprod" "$T/m_$dt.mod" --tokens $TOKS --routing topk --dump-logits "$T/l_${dt}_neon-dotprod.bin" >/dev/null 2>&1
        wait
    fi
    # float paths differ only in summation order (1e-5); q8_0 paths also requantize the
    # activations of every layer, where such a difference can move a value across a rounding
    # step of its int8 grid (1e-3); with q4_0 weights such a step moves these logits by
    # 4.6e-3 (the block products themselves are checked against exact sums in test_kernels),
    # and about one model in eight of this shape takes one (1e-2)
    tol=1e-5; [ $dt = q8_0 ] && tol=1e-3; [ $dt = q4_0 ] && tol=1e-2
    names="native avx512-novbmi nogfni avx2 $ARM"
    for name in $names; do
        if "$B/compare_logits" "$T/l_${dt}_$name.bin" "$T/l_${dt}_scalar.bin" $tol >"$T/out" 2>&1; then ok "$dt logits, $name vs portable: $(cat "$T/out")"
        else bad "$dt logits, $name vs portable: $(cat "$T/out")"; fi
    done
done
finish
