#!/bin/sh
# Routing made visible: mod-generate and mod-eval --show-routing (the marks against the blocks'
# KV cache positions, which the views do not read: build/routing_oracle counts), colour and its
# absence (NO_COLOR, no terminal), the text left when the marks are stripped, and mod-eval
# --routing-map (well-formed XML, one cell per block and token, outlines against the caches,
# histogram sums); dense models; an output path that cannot be written.
. "$(dirname "$0")/lib.sh"
O="$B/routing_oracle"
KJV=models/kjv-mod.mod
DENSE=models/kjv-dense.mod
ESC=$(printf '\033')
unset NO_COLOR COLORTERM
"$B/mkmodel" "$T/tiny.mod" --seed 3 --tokenizer bpe --merges 100 --dim 32 --layers 4 --heads 4 --kv-heads 2 --hidden 64 --seq 64 --mod-layers odd --capacity 0.5 >/dev/null || bad "mkmodel tiny"
# ten routed blocks: two braille cells per token; a predictor decides
"$B/mkmodel" "$T/ten.mod" --seed 5 --tokenizer bpe --merges 60 --dim 32 --layers 10 --heads 2 --kv-heads 1 --hidden 48 --seq 64 --mod-layers all --capacity 0.4 --decision predictor >/dev/null || bad "mkmodel ten"

# expected COUNTS_FILE: the oracle's "count mask" lines; marks_of OUTPUT: the view's marks
marks_of() { "$O" marks "$1" >"$T/marks" || bad "routing_oracle marks $1"; }
# same_counts WHAT: the C marks are the oracle's counts, token for token
same_counts() {
    cut -d' ' -f1 "$T/expect" >"$T/want"
    grep '^C ' "$T/marks" | cut -d' ' -f2 >"$T/got"
    if [ -s "$T/want" ] && cmp -s "$T/want" "$T/got"; then ok "$1: $(wc -l <"$T/want") tokens, each count as the caches hold it"
    else bad "$1: counts differ from the caches' ($(wc -l <"$T/want") expected, $(wc -l <"$T/got") marks): $(diff "$T/want" "$T/got" | head -5 | tr '\n' ' ')"; fi
}
# same_blocks WHAT: the braille columns are the oracle's masks, padded to whole cells
same_blocks() {
    awk '{ m = $2; while (length(m) % 8) m = m "0"; print m }' "$T/expect" >"$T/want"
    grep '^B ' "$T/marks" | cut -d' ' -f2 >"$T/got"
    if [ -s "$T/want" ] && cmp -s "$T/want" "$T/got"; then ok "$1: $(wc -l <"$T/want") braille columns, a dot per block that holds the token"
    else bad "$1: braille columns differ: $(diff "$T/want" "$T/got" | head -5 | tr '\n' ' ')"; fi
}
# same_shades WHAT LEGEND: each token's colour sequence is the legend's for its count
same_shades() {
    "$O" marks "$2" | grep '^S ' | cut -d' ' -f2 >"$T/palette"
    shades=$(sort -u "$T/palette" | wc -l)
    if [ "$shades" -ne "$(wc -l <"$T/palette")" ] || [ "$shades" -lt 2 ]; then bad "$1: the legend's $(wc -l <"$T/palette") shades are not distinct"; return; fi
    awk 'NR == FNR { pal[FNR - 1] = $0; next } { print pal[$1] }' "$T/palette" "$T/expect" >"$T/want"
    grep '^S ' "$T/marks" | cut -d' ' -f2 >"$T/got"
    if [ -s "$T/want" ] && cmp -s "$T/want" "$T/got"; then ok "$1: $(wc -l <"$T/want") tokens, each shaded as the legend's shade for its count ($shades shades)"
    else bad "$1: shades differ: $(diff "$T/want" "$T/got" | head -5 | tr '\n' ' ')"; fi
}
no_esc() { # no_esc WHAT FILE
    if LC_ALL=C grep -q "$ESC" "$2"; then bad "$1: escape bytes in the output"; else ok "$1: no escape bytes"; fi
}
unbroken() { # unbroken WHAT: no mark and no escape sequence inside a UTF-8 character
    if grep -q '^BROKEN' "$T/marks"; then bad "$1: a mark or escape sequence splits a UTF-8 character"; else ok "$1: marks fall between characters"; fi
}

# ---- mod-generate ----------------------------------------------------------------------
gen_check() { # gen_check MODEL PROMPT N LABEL [options...]
    m=$1; p=$2; n=$3; label=$4; shift 4
    ids=$("$B/mod-tokenize" "$m" -p "$p" --bos 2>/dev/null || "$B/mod-tokenize" "$m" -p "$p")
    gen=$("$B/mod-generate" "$m" -p "$p" -n "$n" -t 0 --ids --no-stats "$@" 2>/dev/null)
    # fewer than n: the last is the EOS, which is neither run nor shown
    [ "$(echo "$gen" | tr ',' '\n' | wc -l)" -lt "$n" ] && gen=${gen%,*}
    # the view runs every token it shows, the last generated one too, after its prompt
    "$O" counts "$m" causal 4096 "$ids" "$gen" >"$T/expect" 2>"$T/err" || { bad "$label: oracle: $(cat "$T/err")"; return; }
    "$B/mod-generate" "$m" -p "$p" -n "$n" -t 0 --no-stats "$@" >"$T/plain" 2>/dev/null
    "$B/mod-generate" "$m" -p "$p" -n "$n" -t 0 --no-stats --show-routing "$@" >"$T/out" 2>"$T/legend" || { bad "$label: --show-routing failed: $(cat "$T/legend")"; return; }
    no_esc "$label, not a terminal" "$T/out"
    "$O" strip "$T/out" >"$T/stripped"
    if cmp -s "$T/stripped" "$T/plain"; then ok "$label: the marks stripped leave the text printed without them"
    else bad "$label: stripped text differs: $(cmp "$T/stripped" "$T/plain" 2>&1)"; fi
    marks_of "$T/out"; unbroken "$label"; same_counts "$label"
    grep -q "^routing: the subscript" "$T/legend" && ok "$label: one-line legend on stderr" || bad "$label: legend: $(cat "$T/legend")"
    NO_COLOR=1 "$B/mod-generate" "$m" -p "$p" -n "$n" -t 0 --no-stats --show-routing=blocks "$@" >"$T/out" 2>/dev/null
    no_esc "$label, blocks, NO_COLOR" "$T/out"
    "$O" strip "$T/out" >"$T/stripped"
    cmp -s "$T/stripped" "$T/plain" && ok "$label, blocks: stripped, the text" || bad "$label, blocks: stripped text differs"
    marks_of "$T/out"; unbroken "$label, blocks"; same_blocks "$label, blocks"
    "$B/mod-generate" "$m" -p "$p" -n "$n" -t 0 --no-stats --show-routing --color=always "$@" >"$T/out" 2>"$T/legend"
    marks_of "$T/out"; unbroken "$label, colour"; same_shades "$label, --color=always (256 colours)" "$T/legend"
    COLORTERM=truecolor NO_COLOR=1 "$B/mod-generate" "$m" -p "$p" -n "$n" -t 0 --no-stats --show-routing=blocks --color always "$@" >"$T/out" 2>"$T/legend"
    if grep -q '48;2;' "$T/out"; then ok "$label: COLORTERM=truecolor gives 24-bit colour; --color=always overrides NO_COLOR"; else bad "$label: no truecolor sequences"; fi
    marks_of "$T/out"; same_shades "$label, truecolor blocks" "$T/legend"; same_blocks "$label, truecolor blocks"
}
gen_check "$KJV" "And God said," 40 "mod-generate, kjv-mod"
gen_check "$T/tiny.mod" "hello world" 40 "mod-generate, random bpe model (bytes that split characters)" -s 1
gen_check "$T/ten.mod" "abc" 12 "mod-generate, ten routed blocks"
# ... whose prompt was routed top-k: the oracle counts top-k for it
ids=$("$B/mod-tokenize" "$KJV" -p "In the beginning" --bos); gen=$("$B/mod-generate" "$KJV" -p "In the beginning" -n 6 -t 0 --ids --no-stats)
"$O" counts "$KJV" topk 4096 "$ids" "$gen" >"$T/expect"
"$B/mod-generate" "$KJV" -p "In the beginning" -n 6 -t 0 --no-stats --show-routing --routing topk >"$T/out" 2>/dev/null
marks_of "$T/out"; same_counts "mod-generate --routing topk: the prompt's top-k routing"
# sampled, not greedy: the same tokens with and without the view
"$B/mod-generate" "$KJV" -p "And God said," -n 30 -s 7 --no-stats >"$T/plain" 2>/dev/null
"$B/mod-generate" "$KJV" -p "And God said," -n 30 -s 7 --no-stats --show-routing >"$T/out" 2>/dev/null
"$O" strip "$T/out" >"$T/stripped"
cmp -s "$T/stripped" "$T/plain" && ok "sampling: the view changes no token" || bad "sampling with --show-routing gave other text"
# a terminal: colour by default, none with NO_COLOR
if have script "the view on a terminal (script from bsdutils)"; then
    script -qec "'$B/mod-generate' '$KJV' -p 'And God' -n 8 -t 0 --no-stats --show-routing" /dev/null >"$T/tty" 2>&1
    LC_ALL=C grep -q "${ESC}\[0;38;5" "$T/tty" && ok "on a terminal: colour by default" || bad "on a terminal: no colour: $(head -c 200 "$T/tty")"
    NO_COLOR=1 script -qec "'$B/mod-generate' '$KJV' -p 'And God' -n 8 -t 0 --no-stats --show-routing" /dev/null >"$T/tty" 2>&1
    no_esc "on a terminal with NO_COLOR=1" "$T/tty"
    NO_COLOR= script -qec "'$B/mod-generate' '$KJV' -p 'And God' -n 8 -t 0 --no-stats --show-routing" /dev/null >"$T/tty" 2>&1
    LC_ALL=C grep -q "${ESC}\[0;38;5" "$T/tty" && ok "on a terminal, NO_COLOR empty: colour" || bad "NO_COLOR empty: no colour"
fi
"$B/mod-generate" "$KJV" -p x --show-routing=all >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "invalid value 'all' for --show-routing" "$T/err" && ok "--show-routing=all refused" || bad "--show-routing=all (exit $rc): $(cat "$T/err")"
"$B/mod-generate" "$KJV" -p x --show-routing --ids >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "cannot be combined with --ids" "$T/err" && ok "--show-routing with --ids refused" || bad "--show-routing --ids (exit $rc)"
"$B/mod-generate" "$KJV" -p x --color=sometimes >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "invalid value 'sometimes' for --color" "$T/err" && ok "--color=sometimes refused" || bad "--color=sometimes (exit $rc)"

# ---- mod-eval --show-routing (--ctx 128: the held-out snippet in six windows, each a fresh start)
ids=$("$B/mod-tokenize" "$KJV" --text models/heldout.txt --bos)
ntok=$(echo "$ids" | tr ',' '\n' | wc -l)
"$O" counts "$KJV" causal 128 "$ids" >"$T/expect"
{ "$B/mod-tokenize" "$KJV" --decode "$ids"; echo; } >"$T/decoded"
"$B/mod-eval" "$KJV" --text models/heldout.txt --ctx 128 --show-routing >"$T/out" 2>"$T/legend" || bad "mod-eval --show-routing failed: $(cat "$T/legend")"
no_esc "mod-eval --show-routing, not a terminal" "$T/out"
"$O" strip "$T/out" | head -c "$(wc -c <"$T/decoded")" >"$T/stripped"
cmp -s "$T/stripped" "$T/decoded" && ok "mod-eval: stripped, the text is mod-tokenize --decode of its ids ($ntok tokens)" || bad "mod-eval: stripped text differs: $(cmp "$T/stripped" "$T/decoded" 2>&1)"
grep -q "^perplexity: " "$T/out" && ok "mod-eval --show-routing: the scores follow the text" || bad "mod-eval: no perplexity line"
marks_of "$T/out"; same_counts "mod-eval --show-routing, 6 windows of 128"
"$B/mod-eval" "$KJV" --text models/heldout.txt --ctx 128 --show-routing=blocks --color=always --incremental >"$T/out" 2>"$T/legend"
marks_of "$T/out"; same_shades "mod-eval --incremental, colour" "$T/legend"; same_blocks "mod-eval --incremental, blocks"
"$O" counts "$KJV" topk 128 "$ids" >"$T/expect"
"$B/mod-eval" "$KJV" --text models/heldout.txt --ctx 128 --show-routing --routing topk >"$T/out" 2>/dev/null
marks_of "$T/out"; same_counts "mod-eval --show-routing --routing topk"
# the subscripts agree with mod-eval's own statistics: their sum is the blocks' processed tokens
sum=$(grep '^C ' "$T/marks" | awk '{ s += $2 } END { print s }')
want=$(sed -n 's/^routing (topk)://p' "$T/out" | tr -d 'L%' | awk -v n="$ntok" '{ for (i = 2; i <= NF; i += 2) s += $i * n / 100 } END { printf "%d", s + 0.5 }')
[ -n "$sum" ] && [ "$sum" = "$want" ] && ok "mod-eval: the marks add up to the processed shares it prints ($sum)" || bad "marks sum $sum, statistics $want"
printf 'caf\303\251 \342\202\254 \360\237\230\200 <&> "\001\033[31m \377\376 fin\n' >"$T/bytes.txt"
"$B/mod-eval" "$T/tiny.mod" --text "$T/bytes.txt" --show-routing >"$T/out" 2>/dev/null
ids=$("$B/mod-tokenize" "$T/tiny.mod" --text "$T/bytes.txt")
{ "$B/mod-tokenize" "$T/tiny.mod" --decode "$ids"; echo; } >"$T/decoded"
"$O" strip "$T/out" | head -c "$(wc -c <"$T/decoded")" >"$T/stripped"
cmp -s "$T/stripped" "$T/decoded" && ok "mod-eval: a text of broken and control bytes comes back byte for byte" || bad "bytes text differs"
"$B/mod-eval" "$T/tiny.mod" --text "$T/bytes.txt" --show-routing --color=always >"$T/out" 2>/dev/null
marks_of "$T/out"; unbroken "mod-eval, colour, broken bytes"
n=$(LC_ALL=C grep -o "$ESC" "$T/out" | wc -l); s=$(grep -c '^S ' "$T/marks")
# the text's own ESC byte is not passed through: every escape is the view's (a token start, a reset)
LC_ALL=C grep -q "${ESC}\[31m" "$T/out" && bad "the text's escape sequence reached the terminal" || ok "colour: the text's own escape byte is not passed through ($s tokens, $n sequences)"
"$B/mkmodel" "$T/notok.mod" --seed 6 --dim 32 --layers 2 --heads 2 --kv-heads 1 --hidden 48 --seq 16 --mod-layers 1 >/dev/null
"$B/mod-eval" "$T/notok.mod" --tokens 1,2,3 --show-routing >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "no tokenizer" "$T/err" && ok "mod-eval --show-routing without a tokenizer: refused" || bad "no tokenizer (exit $rc): $(cat "$T/err")"

# ---- dense models ------------------------------------------------------------------------
"$B/mod-eval" "$DENSE" --text models/heldout.txt --show-routing --color=always >"$T/out" 2>"$T/err"; rc=$?
ids=$("$B/mod-tokenize" "$DENSE" --text models/heldout.txt --bos)
{ "$B/mod-tokenize" "$DENSE" --decode "$ids"; echo; } >"$T/decoded"
head -c "$(wc -c <"$T/decoded")" "$T/out" >"$T/stripped"
[ $rc -eq 0 ] && [ "$(grep -c 'model has no routed blocks: nothing to show' "$T/err")" = 1 ] && cmp -s "$T/stripped" "$T/decoded" &&
    ! LC_ALL=C grep -q "$ESC" "$T/out" && ok "dense model: mod-eval --show-routing says so once and prints the text plainly" || bad "dense --show-routing (exit $rc): $(cat "$T/err")"
"$B/mod-generate" "$DENSE" -p "And God said," -n 10 -t 0 --no-stats --show-routing >"$T/out" 2>"$T/err"; rc=$?
"$B/mod-generate" "$DENSE" -p "And God said," -n 10 -t 0 --no-stats >"$T/plain" 2>/dev/null
[ $rc -eq 0 ] && grep -q 'model has no routed blocks: nothing to show' "$T/err" && cmp -s "$T/out" "$T/plain" && ok "dense model: mod-generate --show-routing prints the text plainly" || bad "dense mod-generate (exit $rc): $(cat "$T/err")"
"$B/mod-eval" "$DENSE" --text models/heldout.txt --routing-map "$T/dense.svg" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 0 ] && [ ! -e "$T/dense.svg" ] && grep -q 'model has no routed blocks: nothing to show' "$T/err" && ok "dense model: --routing-map writes nothing, exit 0" || bad "dense --routing-map (exit $rc): $(cat "$T/err")"

# ---- mod-eval --routing-map --------------------------------------------------------------
map_check() { # map_check MODEL FILE N LABEL OUT [options]: a map of the first N tokens of FILE
    m=$1; f=$2; n=$3; label=$4; out=$5; shift 5
    "$B/mod-eval" "$m" --text "$f" --routing-map "$out" "$@" >/dev/null 2>"$T/err" || { bad "$label: $(cat "$T/err")"; return; }
    if have xmllint "$label: well-formed XML"; then
        xmllint --noout "$out" 2>"$T/err" && ok "$label: well-formed XML (xmllint)" || bad "$label: not well-formed: $(head -c 300 "$T/err")"
    fi
    ids=$("$B/mod-tokenize" "$m" --text "$f" --bos 2>/dev/null || "$B/mod-tokenize" "$m" --text "$f")
    ids=$(echo "$ids" | tr ',' '\n' | head -n "$n" | paste -sd, -)
    N=$(echo "$ids" | tr ',' '\n' | wc -l)
    nr=$("$O" counts "$m" topk "$N" "$ids" | head -n 1 | awk '{ print length($2) }')
    cells=$(grep -c 'class="cell' "$out"); outlined=$(grep -c 'class="cell processed"' "$out")
    [ "$cells" = $((nr * N)) ] && ok "$label: $cells cells, one per routed block ($nr) and token ($N)" || bad "$label: $cells cells, want $((nr * N))"
    [ "$(grep -c '<title>' "$out")" -gt "$cells" ] && ok "$label: every cell has its tooltip" || bad "$label: tooltips missing"
    "$O" counts "$m" ${ROUTING:-topk} "$N" "$ids" >"$T/expect"
    want=$(awk '{ s += $1 } END { print s }' "$T/expect")
    [ "$outlined" = "$want" ] && ok "$label: $outlined outlined cells, the (block, token) pairs the caches hold" || bad "$label: $outlined outlined, the caches hold $want"
    grep -o 'data-block="[0-9]*" data-count="[0-9]*"' "$out" | tr -d '"' | sed 's/data-block=//; s/data-count=//' |
        awk -v n="$N" '{ s[$1] += $2; b[$1] = 1 } END { for (k in b) { if (s[k] != n) bad++; nb++ } print nb, bad + 0 }' >"$T/h"
    [ "$(cat "$T/h")" = "$nr 0" ] && ok "$label: each of the $nr histograms counts the $N tokens" || bad "$label: histograms (blocks, wrong sums): $(cat "$T/h")"
}
map_check "$KJV" models/heldout.txt 128 "routing map, kjv-mod (SVG)" "$T/kjv.svg"
# top-k: each block outlines exactly k = ceil(0.125 N) tokens
[ "$(grep -c 'class="cell processed"' "$T/kjv.svg")" = $((4 * 16)) ] && ok "top-k: 16 of 128 tokens outlined per block" || bad "top-k outline count"
grep -q 'width="1000"' "$T/kjv.svg" && ! grep -q 'font-size="\([0-9]\|10\)\.' "$T/kjv.svg" && ok "1000 units wide, no font below 11" || bad "width or font size"
rm -f "$T/kjv.svg"
map_check "$KJV" models/heldout.txt 40 "routing map, kjv-mod, HTML page, --map-tokens 40" "$T/map.html" --map-tokens 40
grep -q '^<!DOCTYPE html>' "$T/map.html" && ! grep -q '<?xml' "$T/map.html" && ! grep -qi '<script\|https\?://[^w]' "$T/map.html" && ok "HTML: one page, the SVG inline, no scripts or fetched resources" || bad "HTML page form"
ROUTING=causal map_check "$KJV" models/heldout.txt 64 "routing map, kjv-mod, --routing causal" "$T/causal.svg" --map-tokens 64 --routing causal
map_check "$T/tiny.mod" "$T/bytes.txt" 1000 "routing map, random model, broken and control bytes" "$T/bytes.svg"
# --map-tokens past the window: the window's 64 tokens, in two bands
map_check "$T/ten.mod" models/heldout.txt 64 "routing map, ten routed blocks, predictor, 64 tokens in two bands" "$T/ten.svg" --map-tokens 300 --ctx 64
# token ids without a tokenizer: columns named by id
"$B/mod-eval" "$T/notok.mod" --tokens 5,17,3,99,42,7,7,250,1,0,33,64 --routing-map "$T/ids.svg" >/dev/null 2>"$T/err" &&
    { ! have xmllint "the map of bare ids" || xmllint --noout "$T/ids.svg"; } && [ "$(grep -c 'class="cell' "$T/ids.svg")" = 12 ] &&
    grep -q '>#250</text>' "$T/ids.svg" && ok "--routing-map of --tokens on a model without a tokenizer: 12 cells, columns named by id" ||
    bad "map of bare ids: $(cat "$T/err")"
"$B/mod-eval" "$KJV" --text models/heldout.txt --routing-map "$T/nodir/map.svg" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && [ ! -e "$T/nodir" ] && grep -q "does not exist" "$T/err" && ok "--routing-map into a missing directory fails, nothing left" || bad "missing directory (exit $rc): $(cat "$T/err")"
cp models/heldout.txt "$T/in.txt"
"$B/mod-eval" "$KJV" --text "$T/in.txt" --routing-map "$T/in.txt" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && cmp -s "$T/in.txt" models/heldout.txt && ok "--routing-map over the input text refused" || bad "map over input (exit $rc)"
[ -z "$(ls -A "$T" | grep '^\.')" ] && ok "no temporary file left" || bad "temporary files left: $(ls -A "$T" | grep '^\.')"
"$B/mod-eval" "$KJV" --text models/heldout.txt --routing-map "$T/x.svg" --map-tokens 0 >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && ok "--map-tokens 0 refused" || bad "--map-tokens 0 (exit $rc)"
finish
