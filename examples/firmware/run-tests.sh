#!/bin/sh
# Firmware tests: the library object's references, the images' memory placement, the images
# themselves under QEMU (generation vs. the host's tokens on Cortex-M4F and Cortex-M55, the
# Helium dot-product kernel), and tools/mod2c. Prints sizes, then `N passed, M failed`.
# usage: examples/firmware/run-tests.sh BUILD_DIR      (after `make firmware`)
B=${1:-build}
FW=$B/firmware
SRC=examples/firmware
TIMEOUT=${FW_TIMEOUT:-300}
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
. tests/have.sh

# QEMU: semihosting on (output to a stdio chardev, so it goes to stdout; the guest's exit code
# becomes QEMU's), -icount shift=0 so that SysTick counts instructions (see board.h).
qemu_run() { # MACHINE ELF
    timeout "$TIMEOUT" qemu-system-arm -M "$1" -icount shift=0 -display none -monitor none -serial none \
        -chardev stdio,id=con,mux=off -semihosting-config enable=on,target=native,chardev=con \
        -kernel "$2" </dev/null 2>&1
}

echo "== the library object (MOD_NO_STDIO, MOD_NO_MALLOC): references"
for cpu in m4 m55; do
    obj=$FW/mod_impl-$cpu.o
    if [ ! -f "$obj" ]; then bad "$obj is missing"; continue; fi
    # everything it needs from outside: memory functions, libm, compiler runtime helpers
    extra=$(arm-none-eabi-nm -u "$obj" | awk '{print $2}' |
        grep -Ev '^(memcpy|memmove|memset|memcmp|strlen|sqrtf|expf|exp|cos|sin|pow|ceil|__aeabi_[a-z0-9_]+)$')
    if [ -z "$extra" ]; then
        ok "$cpu: mod.h references only $(arm-none-eabi-nm -u "$obj" | awk '{print $2}' | grep -v '^__aeabi' | tr '\n' ' ')and compiler helpers"
    else
        bad "$cpu: mod.h references $(echo "$extra" | tr '\n' ' ')"
    fi
done

echo "== the firmware sources as C++17 (arm-none-eabi-g++, -Werror)"
for cpu in m4 m55; do
    flags="-mcpu=cortex-m55 -mfloat-abi=hard"
    [ $cpu = m4 ] && flags="-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard"
    for f in main.c mod_impl.c; do
        have arm-none-eabi-g++ "$f as C++17" || continue
        # shellcheck disable=SC2086
        if arm-none-eabi-g++ -x c++ -std=c++17 -Wall -Wextra -pedantic -Werror -O2 --specs=picolibc.specs $flags \
               -I"$FW" -I"$SRC" -c "$SRC/$f" -o /dev/null 2>"$FW/cxx-err"; then ok "$cpu: $f compiles as C++17"
        else bad "$cpu: $f as C++17: $(head -c 400 "$FW/cxx-err")"; fi
    done
done

echo "== images: no allocator linked, model in flash"
check_image() { # ELF LO HI (where .model must lie)
    elf=$1
    if [ ! -f "$elf" ]; then bad "$elf is missing"; return; fi
    if arm-none-eabi-nm "$elf" | grep -Eq ' [TtWw] (malloc|free|calloc|realloc)$'; then
        bad "$(basename "$elf"): an allocator is linked"
    else
        ok "$(basename "$elf"): no malloc/free/calloc/realloc linked"
    fi
    # .model: VMA == LMA (used in place) inside [LO, HI), and as large as the model file
    set -- $(arm-none-eabi-objdump -h "$elf" | awk '$2 == ".model" { print $3, $4, $5 }') "$2" "$3"
    size=$((0x$1)); vma=$((0x$2)); lma=$((0x$3)); lo=$(($4)); hi=$(($5))
    want=$(wc -c <"$FW/model.mod")
    if [ "$size" -eq "$want" ] && [ "$vma" -eq "$lma" ] && [ "$vma" -ge "$lo" ] && [ $((vma + size)) -le "$hi" ]; then
        ok "$(basename "$elf"): the model's $size bytes are in flash at $(printf '0x%08x' "$vma")"
    else
        bad "$(basename "$elf"): .model is $size bytes at $(printf '0x%08x' "$vma") (load $(printf '0x%08x' "$lma")), want $want bytes in [$4, $5)"
    fi
}
check_image "$FW/gen-m4.elf" 0x00000000 0x00400000
check_image "$FW/gen-m55.elf" 0x28000000 0x28800000

run_image() { # NAME MACHINE ELF
    echo "== $1 ($2)"
    if [ ! -f "$3" ]; then bad "$1: $3 is missing"; return; fi
    out=$(qemu_run "$2" "$3")
    rc=$?
    echo "$out" | sed 's/^/   /'
    last=$(echo "$out" | tail -n 1)
    p=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then
        bad "$1: no result line (QEMU exit status $rc$([ "$rc" -eq 124 ] && echo ', timed out'))"
        return
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ "$f" -eq 0 ]; then ok "$1: $p checks, exit status 0"; else bad "$1: $f of $((p + f)) checks failed, exit status $rc"; fi
}
run_image "generation on Cortex-M4F" mps2-an386 "$FW/gen-m4.elf"
run_image "generation on Cortex-M55" mps3-an547 "$FW/gen-m55.elf"
run_image "Helium dot product on Cortex-M55" mps3-an547 "$FW/mve_dot-m55.elf"

echo "== tools/mod2c"
T=$FW/mod2c-test
rm -rf "$T" && mkdir -p "$T"
if "$B/mkmodel" "$T/tiny.mod" --seed 3 --dim 8 --layers 2 --heads 2 --kv-heads 1 --hidden 16 --seq 16 \
        --tokenizer bpe --merges 8 >/dev/null 2>&1; then
    "$B/mod2c" "$T/tiny.mod" tiny >"$T/stdout.h" && "$B/mod2c" "$T/tiny.mod" tiny -o "$T/tiny.h" &&
        cmp -s "$T/stdout.h" "$T/tiny.h" && ok "mod2c: -o FILE writes what standard output gets" ||
        bad "mod2c: -o FILE and standard output differ, or mod2c failed"
    [ -z "$(find "$T" -name '.*')" ] && ok "mod2c: no temporary file left behind" || bad "mod2c: temporary file left behind"
    for variant in "gcc -std=c99 -pedantic" "gcc -std=c11 -pedantic" "clang -std=c99 -pedantic" "clang -std=c11 -pedantic" \
                   "g++ -x c++ -std=c++11 -pedantic"; do
        set -- $variant
        have "$1" "mod2c header with $variant" || continue
        if $variant -Wall -Wextra -Werror -I"$T" -DMOD2C_HEADER="\"tiny.h\"" -o "$T/check" "$SRC/check_mod2c.c" -lm 2>"$T/err" &&
            "$T/check" "$T/tiny.mod"; then
            ok "mod2c header with $variant: 64-byte aligned, the file's bytes, loads"
        else
            bad "mod2c header with $variant"; sed 's/^/   /' "$T/err" | head -n 20
        fi
    done
    # a damaged model is refused, and -o leaves no file
    cp "$T/tiny.mod" "$T/bad.mod"
    printf 'X' | dd of="$T/bad.mod" bs=1 seek=300 conv=notrunc 2>/dev/null
    if "$B/mod2c" "$T/bad.mod" tiny -o "$T/bad.h" 2>"$T/err"; then bad "mod2c accepted a damaged model"
    elif [ -e "$T/bad.h" ]; then bad "mod2c left $T/bad.h for a damaged model"
    else ok "mod2c refuses a damaged model ($(head -n 1 "$T/err"))"; fi
    "$B/mod2c" "$T/tiny.mod" 9lives >/dev/null 2>&1; rc=$?
    [ "$rc" -eq 2 ] && ok "mod2c refuses a NAME that is not a C identifier" || bad "mod2c NAME check (exit $rc)"
    "$B/mod2c" "$T/missing.mod" tiny >/dev/null 2>"$T/err"; rc=$?
    [ "$rc" -eq 1 ] && ok "mod2c: missing file: $(cat "$T/err")" || bad "mod2c on a missing file (exit $rc)"
else
    bad "mkmodel could not write the mod2c test model"
fi

echo "== footprint"
echo "   the library object alone (arm-none-eabi-size: text includes rodata):"
for cpu in m4 m55; do
    [ -f "$FW/mod_impl-$cpu.o" ] && arm-none-eabi-size "$FW/mod_impl-$cpu.o" | sed "s/^/   /"
done
for cpu in m4 m55; do
    [ -f "$FW/gen-$cpu.elf" ] || continue
    echo "   gen-$cpu.elf by origin, as linked (bytes):"
    awk -f "$SRC/mapsize.awk" "$FW/gen-$cpu.map"
    arm-none-eabi-size "$FW/gen-$cpu.elf" | sed "s/^/   /"
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
