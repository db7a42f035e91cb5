#!/bin/sh
# The programs under valgrind memcheck: no errors, no leaks.
. "$(dirname "$0")/lib.sh"
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
run() {
    d=$1; shift
    if $VG "$@" >"$T/out" 2>"$T/err"; then echo "ok $d"; pass=$((pass + 1));
    else echo "FAIL: $d"; tail -n 20 "$T/err"; fail=$((fail + 1)); fi
}
"$B/mkmodel" "$T/m.mod" --seed 5 --tokenizer bpe --merges 50 --dim 16 --layers 2 --heads 2 --kv-heads 1 --hidden 32 --seq 32 --mod-layers 1 >/dev/null
run "mod-generate" "$B/mod-generate" "$T/m.mod" -p "hello there" -n 8 --threads 1
run "mod-generate, top-k prompt" "$B/mod-generate" "$T/m.mod" -p "hello there" -n 8 --routing topk --threads 1
run "mod-eval with dump" "$B/mod-eval" "$T/m.mod" --tokens 1,2,3,4,5,6 --dump-logits "$T/l.bin" --threads 1
printf 'In the beginning God created the heaven and the earth.\n' >"$T/t.txt"
run "mod-eval on text in windows" "$B/mod-eval" "$T/m.mod" --text "$T/t.txt" --ctx 16 --threads 1
run "mod-sweep with a plot and JSON" "$B/mod-sweep" "$T/m.mod" --text "$T/t.txt" --ctx 16 --capacities 0.5,1 --thresholds 0 --repeat 1 --threads 1 --plot "$T/p.svg" --json-out "$T/p.json"
run "mod-sweep, default lists" "$B/mod-sweep" "$T/m.mod" --text "$T/t.txt" --ctx 16 --repeat 1 --threads 1
run "minimal" "$B/minimal" "$T/m.mod" "abc"
run "mod-generate --show-routing=blocks, colour" "$B/mod-generate" "$T/m.mod" -p "hello there" -n 8 --threads 1 --show-routing=blocks --color=always
run "mod-eval --show-routing --routing-map" "$B/mod-eval" "$T/m.mod" --text "$T/t.txt" --ctx 16 --threads 1 --show-routing --routing-map "$T/map.html"
"$B/mkmodel" "$T/sp.mod" --seed 6 --tokenizer sp --merges 50 --dim 16 --layers 1 --heads 2 --kv-heads 1 --hidden 32 --seq 32 >/dev/null
printf '<s>A<x> b\342\226\201c</s>' >"$T/s.txt"
run "mod-tokenize, SentencePiece-style, special tokens" "$B/mod-tokenize" "$T/sp.mod" --text "$T/t.txt" --text "$T/s.txt" --bos --special
run "mod-tokenize --decode" "$B/mod-tokenize" "$T/sp.mod" --decode 1,300,5,2
# GGUF files from the fuzz seeds: a byte-level BPE, a SentencePiece and a Q4_1 model
for seed in seed009 seed013 seed006; do
    run "mod-convert GGUF $seed" "$B/mod-convert" "tests/fuzz/corpus/gguf/$seed.gguf" -o "$T/$seed.mod" --quiet
done
printf 'hello there\nand again\nand once more, a longer turn than the context holds\n' >"$T/turns"
run "mod-generate --chat -i (llama2 format), the context filling up" "$B/mod-generate" "$T/sp.mod" -i --chat-format llama2 --system "be brief" --verbose -n 4 --ctx 32 --threads 1 <"$T/turns"
grep -q "^context full" "$T/err" && ok "the chat run filled its context" || bad "the chat run did not fill its context: $(tail -n 3 "$T/err")"
$VG "$B/mod-generate" "$T/sp.mod" -i <"$T/turns" >/dev/null 2>"$T/err"
[ $? -eq 1 ] && grep -q "no chat template" "$T/err" && ok "error path clean: --chat without a template" || { bad "--chat without a template under memcheck"; tail -n 20 "$T/err"; }
"$B/mkmodel" "$T/nfc.mod" --seed 7 --tokenizer bpe --merges 80 --bpe-added 1 --bpe-nfc 1 --dim 16 --layers 1 --heads 2 --kv-heads 1 --hidden 32 --seq 32 >/dev/null
printf 'e\314\201<think>\340\245\230 \341\204\222\341\205\241<|end|>x\377' >"$T/n.txt"
run "mod-tokenize, byte-level BPE with NFC and added tokens" "$B/mod-tokenize" "$T/nfc.mod" --text "$T/t.txt" --text "$T/n.txt" --special
# failing runs must be clean too: exit 1 from the program, never 99 from valgrind
head -c 3000 "$T/m.mod" >"$T/trunc.mod"
for args in "$T/none.mod -p x" "$T/trunc.mod -p x" "$T/m.mod -p x -t -1"; do
    # shellcheck disable=SC2086
    $VG "$B/mod-generate" $args >/dev/null 2>"$T/err"
    if [ $? -eq 99 ]; then echo "FAIL: memcheck on error path: $args"; tail -n 20 "$T/err"; fail=$((fail + 1));
    else echo "ok error path clean: $args"; pass=$((pass + 1)); fi
done
finish
