#!/bin/sh
# The files the programs read and write. Inputs that are FIFOs or devices are refused at once,
# never waited on (every run is under `timeout`); text may come from a pipe. Outputs never
# replace an input (same path, hard link or symbolic link), a device or a standard stream. An
# interrupted write leaves nothing behind: SIGKILL and catchable signals sent many times during
# conversions, with O_TMPFILE and with the named-temporary-file fallback.
. "$(dirname "$0")/lib.sh"
TO=10
CC=${CC:-cc}

# refuse DESCRIPTION PATTERN COMMAND... : fails within $TO s and stderr matches PATTERN
refuse() {
    d=$1; pat=$2; shift 2
    timeout $TO "$@" </dev/null >"$T/out" 2>"$T/err"; rc=$?
    if [ $rc -eq 124 ]; then bad "$d: hung (stopped after $TO s)"
    elif [ $rc -eq 0 ]; then bad "$d: succeeded"
    elif grep -qi -- "$pat" "$T/err"; then ok "$d"
    else bad "$d: exit $rc: $(head -c 300 "$T/err")"; fi
}
# expect DESCRIPTION COMMAND... : succeeds within $TO s
expect() {
    d=$1; shift
    if timeout $TO "$@" </dev/null >"$T/out" 2>"$T/err"; then ok "$d"; else bad "$d (exit $?): $(head -c 300 "$T/err")"; fi
}
sum() { cksum <"$1"; }
# entries of a directory other than the ones named
others() { d=$1; shift; ls -A "$d" | grep -Fxv "$(printf '%s\n' "$@")" | tr '\n' ' '; }

"$B/mkmodel" "$T/m.mod" --seed 3 --tokenizer bpe --merges 100 --dim 32 --layers 4 --heads 4 --kv-heads 2 --hidden 64 --seq 64 \
    --mod-layers odd >/dev/null || bad "mkmodel"
mkfifo "$T/fifo"
# a character device of our own (the same as /dev/null): as root a broken writer would replace
# it, and it is better to lose this one than /dev/null
if mknod "$T/null" c 1 3 2>/dev/null; then DEV=$T/null; else DEV=/dev/null; fi
mkdir "$T/hf" && cp tests/fixtures/tok_bpe_str/config.json tests/fixtures/tok_bpe_str/model.safetensors \
    tests/fixtures/tok_bpe_str/tokenizer.json "$T/hf/"
SHARDED=tests/fixtures/alias_router_mlp_sharded
# hfwith NAME FILE [PATTERN]: a copy of the directory NAME with FILE replaced by a FIFO; converting it
# is refused with "FILE is not a regular file"
hfwith() {
    rm -rf "$T/hfx" && cp -r "$1" "$T/hfx" && rm -f "$T/hfx/$2" && mkfifo "$T/hfx/$2"
    refuse "mod-convert: $2 a FIFO" "hfx/$2 is not a regular file" "$B/mod-convert" "$T/hfx" -o "$T/x.mod"
}

echo "# inputs: FIFOs and devices are refused at once"
refuse "mod-generate: a FIFO as the model" "is not a regular file" "$B/mod-generate" "$T/fifo" -p x
refuse "mod-generate: /dev/zero as the model" "is not a regular file" "$B/mod-generate" /dev/zero -p x
refuse "mod-generate: /dev/null as the model" "is not a regular file" "$B/mod-generate" /dev/null -p x
# the library's loader without mmap (MOD_NO_MMAP reads the file through the descriptor)
if $CC -std=c99 -O0 -DMOD_NO_MMAP -o "$T/minimal-nommap" examples/minimal.c -lm 2>"$T/err"; then
    refuse "MOD_NO_MMAP loader: a FIFO as the model" "is not a regular file" "$T/minimal-nommap" "$T/fifo" hi
    refuse "MOD_NO_MMAP loader: /dev/zero as the model" "is not a regular file" "$T/minimal-nommap" /dev/zero hi
    expect "MOD_NO_MMAP loader: a model file loads" "$T/minimal-nommap" "$T/m.mod" hi
else
    bad "cannot build examples/minimal.c with MOD_NO_MMAP: $(head -c 300 "$T/err")"
fi
refuse "mod-eval: a FIFO as the model" "is not a regular file" "$B/mod-eval" "$T/fifo" --tokens 1
refuse "mod-eval: /dev/zero as the model" "is not a regular file" "$B/mod-eval" /dev/zero --tokens 1
refuse "mod-eval: --text /dev/zero" "is not a regular file or a pipe" "$B/mod-eval" "$T/m.mod" --text /dev/zero
refuse "mod-sweep: a FIFO as the model" "is not a regular file" "$B/mod-sweep" "$T/fifo" --text /dev/null
refuse "mod-sweep: /dev/zero as the --dense twin" "is not a regular file" "$B/mod-sweep" "$T/m.mod" --dense /dev/zero --text /dev/null
refuse "mod-sweep: --text /dev/zero" "is not a regular file or a pipe" "$B/mod-sweep" "$T/m.mod" --text /dev/zero
: >"$T/empty.txt"
"$B/mod-eval" "$T/m.mod" --text "$T/empty.txt" >"$T/want" 2>&1; want=$?
timeout $TO "$B/mod-eval" "$T/m.mod" --text "$T/fifo" >"$T/got" 2>&1; got=$?
[ $got -eq $want ] && cmp -s "$T/want" "$T/got" && ok "mod-eval: --text FIFO with no writer reads as an empty text" ||
    bad "mod-eval --text FIFO with no writer: exit $got (want $want): $(head -c 300 "$T/got")"
printf 'In the beginning God created the heaven and the earth.\n' >"$T/t.txt"
"$B/mod-eval" "$T/m.mod" --text "$T/t.txt" >"$T/want" 2>&1
printf 'In the beginning God created the heaven and the earth.\n' | timeout $TO "$B/mod-eval" "$T/m.mod" --text /dev/stdin >"$T/got" 2>&1
cmp -s "$T/want" "$T/got" && ok "mod-eval: --text from a pipe, as from the file" || bad "mod-eval --text pipe: $(head -c 300 "$T/got")"
# (the writer opens first: a FIFO that has no writer when it is read reads as empty)
timeout $TO sh -c "cat '$T/t.txt' >'$T/fifo'" &
sleep 1
timeout $TO "$B/mod-eval" "$T/m.mod" --text "$T/fifo" >"$T/got" 2>&1
wait
cmp -s "$T/want" "$T/got" && ok "mod-eval: --text from a FIFO with a writer, as from the file" || bad "mod-eval --text FIFO: $(head -c 300 "$T/got")"
refuse "mod2c: a FIFO as the model" "is not a regular file" "$B/mod2c" "$T/fifo" name
refuse "mod2c: /dev/zero as the model" "is not a regular file" "$B/mod2c" /dev/zero name
hfwith "$T/hf" config.json
hfwith "$T/hf" tokenizer.json
hfwith "$T/hf" model.safetensors
hfwith "$SHARDED" model.safetensors.index.json
hfwith "$SHARDED" model-00002-of-00003.safetensors
rm -rf "$T/hfx" && cp -r "$T/hf" "$T/hfx" && rm "$T/hfx/config.json" && ln -s /dev/zero "$T/hfx/config.json"
refuse "mod-convert: config.json a link to /dev/zero" "is not a regular file" "$B/mod-convert" "$T/hfx" -o "$T/x.mod"
refuse "mod-convert: --tokenizer a FIFO" "fifo is not a regular file" "$B/mod-convert" "$T/hf" -o "$T/x.mod" --tokenizer "$T/fifo"
refuse "mod-convert: --tokenizer /dev/zero" "is not a regular file" "$B/mod-convert" "$T/hf" -o "$T/x.mod" --tokenizer /dev/zero
refuse "mod-convert: a FIFO as the checkpoint" "nor a regular file" "$B/mod-convert" "$T/fifo" -o "$T/x.mod"
refuse "mod-convert: /dev/zero as the checkpoint" "nor a regular file" "$B/mod-convert" /dev/zero -o "$T/x.mod"
refuse "mod-convert --verify: a FIFO" "is not a regular file" "$B/mod-convert" --verify "$T/fifo"
[ ! -e "$T/x.mod" ] && ok "refused inputs write no output" || bad "an output was written for a refused input"

echo "# outputs: never an input, a device or a standard stream"
model_sum=$(sum "$T/m.mod")
# guarded DESCRIPTION COMMAND... : the command reads $T/in/m.mod and is told to write it, or
# $T/in/hard.mod (a hard link to it) or $T/in/sym.mod (a symbolic link to it); it must refuse
# with "is the input file" and leave the model and both links as they were
guarded() {
    d=$1; shift
    rm -rf "$T/in" && mkdir "$T/in" && cp "$T/m.mod" "$T/in/m.mod" && ln "$T/in/m.mod" "$T/in/hard.mod" && ln -s m.mod "$T/in/sym.mod"
    refuse "$d" "is the input file" "$@"
    [ "$(sum "$T/in/m.mod")" = "$model_sum" ] && [ -L "$T/in/sym.mod" ] && [ "$(stat -c %h "$T/in/m.mod")" = 2 ] ||
        bad "$d: the model or its links changed"
}
for o in m.mod hard.mod sym.mod; do
    guarded "mod-eval --dump-logits $o (the model)" "$B/mod-eval" "$T/in/m.mod" --tokens 1,2,3 --dump-logits "$T/in/$o"
    guarded "mod2c -o $o (the model)" "$B/mod2c" "$T/in/m.mod" name -o "$T/in/$o"
    guarded "mod-sweep --plot $o (the model)" "$B/mod-sweep" "$T/in/m.mod" --text "$T/t.txt" --capacities 1 --repeat 1 --plot "$T/in/$o"
    guarded "mod-sweep --json-out $o (the --dense model)" "$B/mod-sweep" "$T/m.mod" --dense "$T/in/m.mod" --text "$T/t.txt" --capacities 1 --repeat 1 --json-out "$T/in/$o"
    guarded "mod-convert -o $o --force (the model)" "$B/mod-convert" "$T/in/m.mod" -o "$T/in/$o" --force --dtype f16
done
ln "$T/t.txt" "$T/t-hard.txt"
text_sum=$(sum "$T/t.txt")
refuse "mod-eval --dump-logits the --text file" "is the input file" "$B/mod-eval" "$T/m.mod" --text "$T/t.txt" --dump-logits "$T/t.txt"
refuse "mod-eval --dump-logits a hard link to the --text file" "is the input file" "$B/mod-eval" "$T/m.mod" --text "$T/t.txt" --dump-logits "$T/t-hard.txt"
refuse "mod-sweep --plot a hard link to the --text file" "is the input file" "$B/mod-sweep" "$T/m.mod" --text "$T/t.txt" --plot "$T/t-hard.txt"
[ "$(sum "$T/t.txt")" = "$text_sum" ] && ok "the text is untouched" || bad "the text changed"
ln "$T/hf/tokenizer.json" "$T/tok-hard.json"
ln -s hf/config.json "$T/cfg-sym.json"
hf_sum=$(cat "$T/hf/"* | cksum)
refuse "mod-convert -o a hard link to the directory's tokenizer.json" "is the input file" "$B/mod-convert" "$T/hf" -o "$T/tok-hard.json" --force
refuse "mod-convert -o a symbolic link to the directory's config.json" "is the input file" "$B/mod-convert" "$T/hf" -o "$T/cfg-sym.json" --force
refuse "mod-convert -o the --tokenizer file" "is the input file" "$B/mod-convert" "$T/hf" -o "$T/tok-hard.json" --force --tokenizer "$T/tok-hard.json"
[ "$(cat "$T/hf/"* | cksum)" = "$hf_sum" ] && ok "the checkpoint directory is untouched" || bad "the checkpoint directory changed"
# device DESCRIPTION PATTERN COMMAND... : the command is told to write the device $DEV (made
# afresh when we can); refused with PATTERN, and $DEV is still a character device
device() {
    d=$1; pat=$2; shift 2
    [ "$DEV" = "$T/null" ] && rm -f "$DEV" && mknod "$DEV" c 1 3
    refuse "$d" "$pat" "$@"
    [ -c "$DEV" ] || bad "$d: $DEV was replaced: $(ls -l "$DEV")"
}
device "mod-eval --dump-logits a character device" "is not a regular file" "$B/mod-eval" "$T/m.mod" --tokens 1,2,3 --dump-logits "$DEV"
device "mod2c -o a character device" "is not a regular file.*mod2c writes to standard output when -o is left out" "$B/mod2c" "$T/m.mod" name -o "$DEV"
device "mod-convert -o a character device --force" "is not a regular file" "$B/mod-convert" "$T/m.mod" -o "$DEV" --force
device "mod-sweep --plot a character device" "is not a regular file" "$B/mod-sweep" "$T/m.mod" --text "$T/t.txt" --capacities 1 --repeat 1 --plot "$DEV"
device "mkmodel: a character device as the output" "is not a regular file" "$B/mkmodel" "$DEV"
# /proc/self/fd/N rather than /dev/stdout: a writer that got this wrong would put a temporary
# file beside the output, which /proc refuses, while in /dev it would replace /dev/stdout
refuse "mod2c -o /proc/self/fd/1 (a file)" "standard output.*mod2c writes to standard output when -o is left out" "$B/mod2c" "$T/m.mod" name -o /proc/self/fd/1
[ ! -s "$T/out" ] && ok "... and its standard output is left empty" || bad "mod2c wrote to its standard output file"
timeout $TO "$B/mod2c" "$T/m.mod" name -o /proc/self/fd/1 2>"$T/err" | cat >"$T/out"
grep -q "is not a regular file.*when -o is left out" "$T/err" && [ ! -s "$T/out" ] && ok "mod2c -o /proc/self/fd/1 (a pipe) refused" ||
    bad "mod2c -o /proc/self/fd/1 into a pipe: $(head -c 300 "$T/err")"
refuse "mod-convert -o /proc/self/fd/1 --force (a file)" "standard output" "$B/mod-convert" "$T/m.mod" -o /proc/self/fd/1 --force
refuse "mod-sweep --json-out /proc/self/fd/1 (a file)" "standard output" "$B/mod-sweep" "$T/m.mod" --text "$T/t.txt" --capacities 1 --repeat 1 --json-out /proc/self/fd/1
refuse "mod-eval --dump-logits /proc/self/fd/2 (a file)" "standard error" "$B/mod-eval" "$T/m.mod" --tokens 1,2 --dump-logits /proc/self/fd/2
# existing regular files: replaced by mod-eval, mod2c and mkmodel; by mod-convert only with --force
for w in eval mod2c mkmodel convert; do echo old >"$T/old-$w"; done
expect "mod-eval --dump-logits replaces a regular file" "$B/mod-eval" "$T/m.mod" --tokens 1,2,3 --dump-logits "$T/old-eval"
expect "mod2c -o replaces a regular file" "$B/mod2c" "$T/m.mod" name -o "$T/old-mod2c"
expect "mkmodel replaces a regular file" "$B/mkmodel" "$T/old-mkmodel" --seed 3 --tokenizer bpe --merges 100 --dim 32 --layers 4 --heads 4 \
    --kv-heads 2 --hidden 64 --seq 64 --mod-layers odd
refuse "mod-convert does not replace a regular file without --force" "exists; pass --force" "$B/mod-convert" "$T/m.mod" -o "$T/old-convert"
[ "$(cat "$T/old-convert")" = old ] && ok "... and leaves it as it was" || bad "mod-convert changed the existing file without --force"
expect "mod-convert --force replaces a regular file" "$B/mod-convert" "$T/m.mod" -o "$T/old-convert" --force --quiet
cmp -s "$T/old-mkmodel" "$T/m.mod" && "$B/mod-convert" --verify "$T/old-convert" >/dev/null && grep -q "name_size" "$T/old-mod2c" &&
    [ "$(wc -c <"$T/old-eval")" -gt 4 ] && ok "the replaced files hold the new contents" || bad "a replaced file does not hold the new contents"
[ -z "$(others "$T" m.mod in t.txt t-hard.txt empty.txt fifo null hf hfx x.mod tok-hard.json cfg-sym.json \
        old-eval old-mod2c old-mkmodel old-convert minimal-nommap out err want got)" ] &&
    ok "no temporary files left" || bad "left behind: $(others "$T" m.mod in t.txt t-hard.txt empty.txt fifo null hf hfx \
        x.mod tok-hard.json cfg-sym.json old-eval old-mod2c old-mkmodel old-convert minimal-nommap out err want got)"
# new files get the mode a plain create gives (0666 & ~umask), with and without O_TMPFILE
for env in "" MOD_TEST_NO_TMPFILE=1; do
    mkdir "$T/mode" && (
        umask 027
        env $env "$B/mkmodel" "$T/mode/a.mod" --dim 32 --tokenizer none >/dev/null
        env $env "$B/mod2c" "$T/m.mod" name -o "$T/mode/b.h"
        env $env "$B/mod-eval" "$T/m.mod" --tokens 1,2 --dump-logits "$T/mode/c.bin" >/dev/null
        env $env "$B/mod-convert" "$T/m.mod" -o "$T/mode/d.mod" --quiet
    )
    modes=$(stat -c %a "$T/mode/a.mod" "$T/mode/b.h" "$T/mode/c.bin" "$T/mode/d.mod" 2>&1 | tr '\n' ' ')
    [ "$modes" = "640 640 640 640 " ] && ok "new outputs are 0666 & ~umask (umask 027${env:+, $env})" || bad "modes under umask 027 ${env}: $modes"
    rm -rf "$T/mode"
done

echo "# interrupted writes leave nothing behind"
# 1 when O_TMPFILE works in the scratch directory
cat >"$T/tmpfile.c" <<'EOF'
#define _GNU_SOURCE
#include <fcntl.h>
int main(int argc, char **argv) {
#ifdef O_TMPFILE
    return argc > 1 && open(argv[1], O_TMPFILE | O_RDWR, 0600) >= 0 ? 0 : 1;
#else
    (void)argc; (void)argv;
    return 1;
#endif
}
EOF
$CC -o "$T/tmpfile" "$T/tmpfile.c" 2>/dev/null && "$T/tmpfile" "$T" && tmpfile=1 || tmpfile=0
# about 43 MB of f32 weights converted to q8_0: long enough to interrupt mid-write
"$B/mkmodel" "$T/big.mod" --dim 512 --layers 4 --heads 8 --kv-heads 8 --hidden 1024 --seq 64 --tokenizer none >/dev/null || bad "mkmodel big"
mkdir "$T/k"
t0=$(date +%s%N)
"$B/mod-convert" "$T/big.mod" -o "$T/k/probe.mod" --dtype q8_0 --quiet || bad "the conversion to interrupt fails"
ms=$((($(date +%s%N) - t0) / 1000000))
rm -f "$T/k/probe.mod"
# interrupt SIGNAL N OUT FRESH ENV... : N runs of $CMD writing $T/k/OUT, each sent SIGNAL at a
# point spread evenly over the run's length (FRESH=1: OUT removed before each run; else OUT
# must be a complete model after each run). Sets $killed (runs the signal ended) and $broken.
interrupt() {
    sig=$1; n=$2; out=$3; fresh=$4; shift 4
    killed=0; broken=0; i=1
    while [ $i -le $n ]; do
        [ "$fresh" = 1 ] && rm -f "$T/k/$out"
        env "$@" $CMD "$T/k/$out" >/dev/null 2>&1 &
        pid=$!
        sleep "$(awk "BEGIN { printf \"%.3f\", $ms * $i / ($n + 1) / 1000 }")"
        kill -s "$sig" $pid 2>/dev/null
        wait $pid 2>/dev/null
        [ $? -gt 128 ] && killed=$((killed + 1))
        [ "$fresh" = 1 ] || "$B/mod-convert" --verify "$T/k/$out" >/dev/null 2>&1 || broken=$((broken + 1))
        i=$((i + 1))
    done
}
# clean DESCRIPTION OUT: $T/k holds nothing but OUT, and OUT (if there) is a complete model
clean() {
    left=$(others "$T/k" "$2")
    if [ -n "$left" ]; then bad "$1: left behind: $left"
    elif [ -e "$T/k/$2" ] && ! "$B/mod-convert" --verify "$T/k/$2" >/dev/null 2>&1; then bad "$1: $2 is incomplete"
    else ok "$1"; fi
    rm -rf "$T/k" && mkdir "$T/k"
}
CMD="$B/mod-convert $T/big.mod --dtype q8_0 --quiet --force -o"
if [ $tmpfile = 1 ]; then
    interrupt KILL 30 out.mod 1
    clean "SIGKILL at 30 points of a conversion ($killed killed mid-run; O_TMPFILE): nothing left" out.mod
    [ $killed -ge 10 ] && ok "most SIGKILLs landed mid-run ($killed of 30)" || bad "only $killed of 30 SIGKILLs landed mid-run"
    # replacing an existing file (--force): after each kill it is the old file or the new one
    cp "$T/m.mod" "$T/k/out.mod"
    interrupt KILL 10 out.mod 0
    [ $broken = 0 ] && ok "SIGKILL at 10 points of a conversion over an existing file: always the old or the new file" ||
        bad "SIGKILL over an existing file: $broken runs left it incomplete"
    clean "... and nothing else left ($killed killed mid-run)" out.mod
else
    echo "   (no O_TMPFILE in $T: its SIGKILL tests are skipped)"
fi
for sig in USR1 ALRM PIPE TERM HUP USR2 VTALRM PROF XCPU; do
    rm -f "$T/k/out.mod"
    interrupt $sig 4 out.mod 1
    clean "SIG$sig at 4 points of a conversion ($killed ended by it): nothing left" out.mod
    rm -f "$T/k/out.mod"
    interrupt $sig 4 out.mod 1 MOD_TEST_NO_TMPFILE=1
    clean "SIG$sig at 4 points, named temporary file ($killed ended by it): nothing left" out.mod
done
# the fallback's named temporary file is there while writing: a SIGKILL leaves it (which also
# shows that the kills above land while the output is being written)
interrupt KILL 6 out.mod 1 MOD_TEST_NO_TMPFILE=1
left=$(others "$T/k" out.mod)
[ -n "$left" ] && ok "SIGKILL with a named temporary file leaves it (as documented): $left" || bad "SIGKILL with MOD_TEST_NO_TMPFILE=1 left nothing: is the fallback used?"
rm -rf "$T/k" && mkdir "$T/k"
# the other writers share the code: mod2c (a 5.9 MB model, a 29 MB header)
"$B/mkmodel" "$T/med.mod" --dim 256 --layers 2 --heads 4 --kv-heads 4 --hidden 512 --seq 64 --tokenizer none >/dev/null
CMD="$B/mod2c $T/med.mod name -o"
t0=$(date +%s%N); $CMD "$T/k/probe.h"; ms=$((($(date +%s%N) - t0) / 1000000)); rm -f "$T/k/probe.h"
if [ $tmpfile = 1 ]; then
    interrupt KILL 8 out.h 1
    left=$(others "$T/k" out.h); [ -z "$left" ] && ok "mod2c: SIGKILL at 8 points ($killed killed mid-run): nothing left" || bad "mod2c: SIGKILL left $left"
fi
rm -rf "$T/k" && mkdir "$T/k"
interrupt TERM 4 out.h 1 MOD_TEST_NO_TMPFILE=1
left=$(others "$T/k" out.h); [ -z "$left" ] && ok "mod2c: SIGTERM, named temporary file ($killed ended by it): nothing left" || bad "mod2c: SIGTERM left $left"
finish
