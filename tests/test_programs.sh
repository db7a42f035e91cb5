#!/bin/sh
# The programs end to end on generated models: generation, evaluation against the reference,
# and clear errors on bad input.
. "$(dirname "$0")/lib.sh"
expect() { # expect DESCRIPTION COMMAND... : command succeeds
    d=$1; shift
    if "$@" >"$T/out" 2>"$T/err"; then ok "$d"; else bad "$d (exit $?): $(head -c 300 "$T/err")"; fi
}
refuse() { # refuse DESCRIPTION PATTERN COMMAND... : command fails and stderr matches PATTERN
    d=$1; pat=$2; shift 2
    if "$@" >"$T/out" 2>"$T/err"; then bad "$d: succeeded"; 
    elif grep -qi -- "$pat" "$T/err"; then ok "$d"; 
    else bad "$d: message was: $(head -c 300 "$T/err")"; fi
}

"$B/mkmodel" "$T/bpe.mod" --seed 3 --tokenizer bpe --merges 100 --dim 32 --layers 4 --heads 4 --kv-heads 2 --hidden 64 --seq 64 --mod-layers odd --capacity 0.5 >/dev/null || bad "mkmodel bpe"
"$B/mkmodel" "$T/scored.mod" --seed 4 --tokenizer scored --merges 60 --dim 32 --layers 3 --heads 2 --kv-heads 1 --hidden 48 --seq 64 --mod-layers 1 --decision predictor --predictor-hidden 8 --positions compacted --dtype f16 >/dev/null || bad "mkmodel scored"

# generation
expect "mod-generate runs (bpe model)" "$B/mod-generate" "$T/bpe.mod" -p "hello world" -n 20 -s 1
grep -q "generated:" "$T/err" && grep -q "processed: L1" "$T/err" && ok "stats line with per-block shares" || bad "stats line: $(cat "$T/err")"
cp "$T/out" "$T/gen1"
"$B/mod-generate" "$T/bpe.mod" -p "hello world" -n 20 -s 1 >"$T/gen2" 2>/dev/null
cmp -s "$T/gen1" "$T/gen2" && ok "same seed, same text" || bad "same seed gave different text"
"$B/mod-generate" "$T/bpe.mod" -p "hello world" -n 20 -t 0 --threads 1 >"$T/g1" 2>/dev/null
"$B/mod-generate" "$T/bpe.mod" -p "hello world" -n 20 -t 0 --threads 2 >"$T/g2" 2>/dev/null
cmp -s "$T/g1" "$T/g2" && ok "greedy text identical with 1 and 2 threads" || bad "thread count changed greedy text"
expect "mod-generate with top-k prompt routing and overrides" "$B/mod-generate" "$T/bpe.mod" -p "abc" -n 8 --routing topk --capacity 0.25 --threshold 0.5 --top-k 5 --top-p 0.9
expect "mod-generate on a scored-BPE, predictor, f16 model" "$B/mod-generate" "$T/scored.mod" -p "The end" -n 10
expect "mod-generate -n 0 runs only the prompt" "$B/mod-generate" "$T/bpe.mod" -p "x" -n 0
expect "mod-generate --help" "$B/mod-generate" --help
# the context shift: with --ctx 24, 60 greedy tokens need shifts; after each one, every token
# must be the argmax of mod-eval's causal logits on what the context then holds (the BOS
# token and the newer half of the rest, then the tokens generated since), row by row
"$B/mod-generate" "$T/bpe.mod" -p "a b c" -n 60 -t 0 --ctx 24 --ids --threads 1 >"$T/sids" 2>"$T/serr"
bos=$("$B/mod-tokenize" "$T/bpe.mod" -p "" --bos 2>/dev/null)
pids=$("$B/mod-tokenize" "$T/bpe.mod" -p "a b c" --bos 2>/dev/null || "$B/mod-tokenize" "$T/bpe.mod" -p "a b c")
# each line: the context just before a shift (24 ids) and the row from which on it was generated after the previous shift
awk -v P="$pids" -v G="$(cat "$T/sids")" -v C=24 -v BOS="${bos:--1}" 'BEGIN {
    n = split(P, h, ","); m = split(G, g, ","); from = n - 1
    for (i = 1; i <= m; i++) {
        if (n == C) {
            s = h[1]; for (j = 2; j <= n; j++) s = s "," h[j]
            print s, from, g[i]
            keep = (h[1] == BOS) ? 1 : 0; drop = int((n - keep) / 2)
            for (j = keep + 1; j + drop <= n; j++) h[j] = h[j + drop]
            n -= drop; from = n
        }
        h[++n] = g[i]
    }
}' >"$T/segs"
nseg=$(wc -l <"$T/segs")
if [ "$nseg" -ge 2 ] && grep -q "context shifts: $nseg" "$T/serr"; then ok "60 tokens in a context of 24: $nseg context shifts, generation goes on"
else bad "context shift: $nseg segments, $(cat "$T/serr")"; fi
segok=1; [ "$nseg" -ge 2 ] || segok=0
while read -r ids from next; do
    "$B/mod-eval" "$T/bpe.mod" --tokens "$ids" --routing causal --dump-logits "$T/slog" --threads 1 >/dev/null 2>&1 || { segok=0; break; }
    od -An -v -f "$T/slog" | tr -s ' ' '\n' | grep -v '^$' >"$T/sflt"
    awk -v ids="$ids" -v from="$from" -v next_="$next" -v R=24 '
        { v[NR - 1] = $1 }
        END {
            V = NR / R; split(ids, t, ","); t[R + 1] = next_
            for (r = from; r < R; r++) {
                best = 0; for (j = 1; j < V; j++) if (v[r * V + j] > v[r * V + best]) best = j
                if (best != t[r + 2]) exit 1
            }
        }' "$T/sflt" || { segok=0; break; }
done <"$T/segs"
[ $segok = 1 ] && ok "after each shift every greedy token is the argmax of a fresh causal prefill of the kept context" || bad "context shift: segment '$ids' from row $from does not match a fresh prefill"
"$B/mod-generate" "$T/bpe.mod" -p "a b c" -n 200 --ctx 24 --no-context-shift >/dev/null 2>"$T/err"
[ $? -eq 0 ] && grep -q "context full" "$T/err" && ok "--no-context-shift: generation stops cleanly at a full context" || bad "context full: $(cat "$T/err")"
expect "examples/minimal runs" "$B/minimal" "$T/bpe.mod" "hi"
"$B/mod-generate" "$T/bpe.mod" -p "hello world" -n 6 -t 0 --ids --no-stats >"$T/ids" 2>/dev/null
grep -Eq '^[0-9]+(,[0-9]+){5}$' "$T/ids" && ok "--ids prints the 6 generated ids" || bad "--ids output: $(cat "$T/ids")"
# the greedy ids, scored teacher-forced, must each be the argmax: the last row of mod-eval's
# logits after prompt + ids[:-1] is checked indirectly by regenerating from a longer prompt
"$B/mod-generate" "$T/bpe.mod" -p "hello world" -n 3 -t 0 --ids --no-stats >"$T/ids3" 2>/dev/null
case "$(cat "$T/ids")" in "$(cat "$T/ids3")",*) ok "greedy ids are a prefix of a longer greedy run" ;; *) bad "greedy prefix: $(cat "$T/ids3") vs $(cat "$T/ids")" ;; esac

refuse "missing model file" "cannot open" "$B/mod-generate" "$T/nope.mod" -p x
# the loader's message names the file; the programs print it once, for I/O and format errors alike
: >"$T/empty.mod"
for prog in mod-generate mod-eval; do
    for f in nope.mod empty.mod; do
        if [ "$prog" = mod-generate ]; then "$B/$prog" "$T/$f" -p x >/dev/null 2>"$T/err"; else "$B/$prog" "$T/$f" --tokens 1 >/dev/null 2>"$T/err"; fi
        n=$(grep -o "$T/$f" "$T/err" | wc -l)
        if [ "$n" -eq 1 ]; then ok "$prog names $f once"; else bad "$prog names $f $n times: $(head -c 300 "$T/err")"; fi
    done
done
refuse "no prompt" "prompt" "$B/mod-generate" "$T/bpe.mod"
refuse "negative temperature" "invalid value" "$B/mod-generate" "$T/bpe.mod" -p x -t -1
refuse "top-p 0" "invalid value" "$B/mod-generate" "$T/bpe.mod" -p x --top-p 0
refuse "negative token count" "invalid value" "$B/mod-generate" "$T/bpe.mod" -p x -n -3
refuse "NaN capacity" "invalid value" "$B/mod-generate" "$T/bpe.mod" -p x --capacity nan
refuse "zero threads" "invalid value" "$B/mod-generate" "$T/bpe.mod" -p x --threads 0
refuse "unknown option" "unknown option" "$B/mod-generate" "$T/bpe.mod" -p x --frobnicate 3
refuse "prompt longer than the context (counted after tokenizing)" "context full: the prompt is" "$B/mod-generate" "$T/bpe.mod" -p "a b c d e f g h i j k l m n o p q r s t u v w x y z" --ctx 8
# a prompt whose length alone rules it out fails before it is tokenized: 1 MB of one letter,
# one piece for the pretokenizer (the message names the bound; the time limit is loose)
head -c 1000000 /dev/zero | tr '\0' a >"$T/huge.txt"
t0=$(date +%s)
refuse "1 MB prompt fails at once (byte-level BPE)" "context full: a prompt of 1000000 bytes is at least" "$B/mod-generate" "$T/bpe.mod" -f "$T/huge.txt"
refuse "1 MB prompt fails at once (scored BPE)" "context full: a prompt of 1000000 bytes is at least" "$B/mod-generate" "$T/scored.mod" -f "$T/huge.txt"
t1=$(date +%s)
[ $((t1 - t0)) -le 20 ] && ok "two 1 MB prompts refused within 20 s" || bad "two 1 MB prompts took $((t1 - t0)) s to be refused"
refuse "100 KB -p prompt fails at once" "context full: a prompt of 100000 bytes is at least" "$B/mod-generate" "$T/bpe.mod" -p "$(head -c 100000 "$T/huge.txt")"
printf 'hello world' >"$T/prompt.txt"
"$B/mod-generate" "$T/bpe.mod" -f "$T/prompt.txt" -n 20 -s 1 >"$T/genf" 2>/dev/null
cmp -s "$T/gen1" "$T/genf" && ok "a prompt from -f gives the text -p gives" || bad "-f and -p prompts generated different text"
refuse "-p and -f together" "not both" "$B/mod-generate" "$T/bpe.mod" -p x -f "$T/prompt.txt"
refuse "missing prompt file" "cannot open" "$B/mod-generate" "$T/bpe.mod" -f "$T/nope.txt"
head -c 1000 "$T/bpe.mod" >"$T/trunc.mod"
refuse "truncated model file" "truncated" "$B/mod-generate" "$T/trunc.mod" -p x
printf 'GGUF and some other bytes that are long enough to be a header, but not ours, no.......................................................................................................' >"$T/bad.mod"
refuse "foreign file" "magic" "$B/mod-generate" "$T/bad.mod" -p x

# evaluation against the reference
TOKS=5,17,3,99,42,7,7,250,1,0,33,64,128,255,300,12,19,23,5,5,6,200,201,202,14,88
for rule in causal topk; do
    expect "mod-eval --tokens ($rule)" "$B/mod-eval" "$T/bpe.mod" --tokens $TOKS --routing $rule --dump-logits "$T/l_$rule.bin"
    grep -q "perplexity:" "$T/out" && grep -q "routing ($rule): L1" "$T/out" && ok "mod-eval prints perplexity and routing ($rule)" || bad "mod-eval output: $(cat "$T/out")"
    expect "mod-eval logits agree with the reference ($rule)" "$B/check_logits" "$T/bpe.mod" "$T/l_$rule.bin" $rule 100000 $TOKS
done
expect "mod-eval --incremental" "$B/mod-eval" "$T/bpe.mod" --tokens $TOKS --incremental --dump-logits "$T/l_inc.bin"
expect "incremental logits agree with the reference" "$B/check_logits" "$T/bpe.mod" "$T/l_inc.bin" causal 100000 $TOKS
refuse "--incremental with top-k routing" "cannot be combined" "$B/mod-eval" "$T/bpe.mod" --tokens 1,2 --incremental --routing topk
# an f16 KV cache: prefill and one token at a time agree bit for bit, and it differs from f32
expect "mod-eval --kv f16" "$B/mod-eval" "$T/bpe.mod" --tokens $TOKS --kv f16 --dump-logits "$T/l_kv16.bin"
expect "mod-eval --cache-type f16 --incremental" "$B/mod-eval" "$T/bpe.mod" --tokens $TOKS --cache-type f16 --incremental --dump-logits "$T/l_kv16i.bin"
cmp -s "$T/l_kv16.bin" "$T/l_kv16i.bin" && ok "f16 KV cache: prefill and incremental logits identical" || bad "f16 KV cache: prefill and incremental logits differ"
cmp -s "$T/l_kv16.bin" "$T/l_causal.bin" && bad "--kv f16 gave the f32 cache's logits" || ok "--kv f16 changes the logits (rounded keys and values)"
refuse "mod-eval --kv q8 refused" "invalid value 'q8' for --kv" "$B/mod-eval" "$T/bpe.mod" --tokens 1,2 --kv q8
expect "mod-generate --kv f16" "$B/mod-generate" "$T/bpe.mod" -p "hello world" -n 8 --kv f16
# a q8_0 KV cache likewise, through every program that has --kv
expect "mod-eval --kv q8_0" "$B/mod-eval" "$T/bpe.mod" --tokens $TOKS --kv q8_0 --dump-logits "$T/l_kv8.bin"
expect "mod-eval --cache-type q8_0 --incremental" "$B/mod-eval" "$T/bpe.mod" --tokens $TOKS --cache-type q8_0 --incremental --dump-logits "$T/l_kv8i.bin"
cmp -s "$T/l_kv8.bin" "$T/l_kv8i.bin" && ok "q8_0 KV cache: prefill and incremental logits identical" || bad "q8_0 KV cache: prefill and incremental logits differ"
cmp -s "$T/l_kv8.bin" "$T/l_causal.bin" && bad "--kv q8_0 gave the f32 cache's logits" || ok "--kv q8_0 changes the logits (rounded keys and values)"
expect "mod-generate --kv q8_0" "$B/mod-generate" "$T/bpe.mod" -p "hello world" -n 8 --kv q8_0
expect "mod-bench --kv q8_0" "$B/mod-bench" --synthetic 64x2 --dtypes q8_0 --threads 1 --prompts 16 --decode 4 --depth 20 --repeat 1 --no-limits --kv q8_0 --json
grep -q '"kv":"q8_0".*"kv_bytes_per_token":[1-9][0-9]*,' "$T/out" && ok "mod-bench --kv q8_0: counts the KV bytes a decoded token reads" ||
    bad "mod-bench --kv q8_0: $(head -c 400 "$T/out")"
expect "mod-eval in windows of 8 (causal)" "$B/mod-eval" "$T/bpe.mod" --tokens $TOKS --ctx 8 --dump-logits "$T/lw.bin"
grep -q "windows of 8" "$T/out" && ok "windowed evaluation reported" || bad "windows: $(cat "$T/out")"
expect "windowed logits agree with the reference" "$B/check_logits" "$T/bpe.mod" "$T/lw.bin" causal 8 $TOKS
expect "mod-eval logits of the f16 predictor model agree with the reference" sh -c "'$B/mod-eval' '$T/scored.mod' --tokens 3,70,80,90,100,110,120,4,5,6,71 --dump-logits '$T/ls.bin' >/dev/null && '$B/check_logits' '$T/scored.mod' '$T/ls.bin' causal 100000 3,70,80,90,100,110,120,4,5,6,71"
printf 'In the beginning God created the heaven and the earth. And the earth was without form, and void.\n' >"$T/text.txt"
expect "mod-eval --text" "$B/mod-eval" "$T/bpe.mod" --text "$T/text.txt" --ctx 16
refuse "mod-eval token outside the vocabulary" "outside the vocabulary" "$B/mod-eval" "$T/bpe.mod" --tokens 1,2,100000
refuse "mod-eval malformed token list" "comma-separated" "$B/mod-eval" "$T/bpe.mod" --tokens 1,,2
refuse "mod-eval needs exactly one input" "exactly one" "$B/mod-eval" "$T/bpe.mod"
"$B/mod-eval" "$T/bpe.mod" --tokens 1,2,3 --dump-logits "$T/nodir/x.bin" >/dev/null 2>&1
[ ! -e "$T/nodir/x.bin" ] && ok "unwritable dump path fails without output" || bad "dump path"

# mod-bench on a tiny synthetic pair, every integer dtype and two thread counts
expect "mod-bench runs (tiny synthetic models)" "$B/mod-bench" --synthetic 64x2 --dtypes f32,q8_0,q4_0 --threads 1,2 --prompts 16 --decode 4 --repeat 1 --no-limits --json
n=$(grep -c '"prefill":\[{"tokens":16,"tok_s":[0-9]' "$T/out")
[ "$n" = 12 ] && ok "mod-bench: 12 results (2 models x 3 dtypes x 2 thread counts)" || bad "mod-bench gave $n results: $(head -c 300 "$T/out")"
n=$(grep -c '"product":{"threads":[12],"tokens":256,"rows":\(64\|128\),"cols":\(64\|128\),"gflop_s":[0-9.]*[1-9]' "$T/out")
[ "$n" = 6 ] && ok "mod-bench: 6 matrix products (3 shapes x 2 thread counts)" || bad "mod-bench gave $n products: $(grep product "$T/out" | head -c 300)"
n=$(grep -o '"share_of_peak_alongside":[0-9.]*' "$T/out" | grep -vc ':0.000$')
[ "$n" = 0 ] && ok "mod-bench --no-limits: no peak measured alongside" || bad "mod-bench --no-limits: $n shares of a peak alongside"
n=$(grep -c '"share_of_bandwidth":null' "$T/out")
[ "$n" = 12 ] && ok "mod-bench --no-limits: no share of a bandwidth it did not measure" || bad "mod-bench --no-limits: $n of 12 decode shares null"
# with the limits: the machine's peak and bandwidth, and a peak beside every prefill repetition
expect "mod-bench measures the machine's limits" "$B/mod-bench" --synthetic 64x2 --dtypes f32 --threads 1 --prompts 16 --decode 2 --repeat 3 --json
if grep -q '"limits":{"threads":1,"triad_gb_s":[0-9.]*[1-9][0-9.]*,"peak_gflop_s":[0-9.]*[1-9]' "$T/out" &&
   [ "$(grep -c '"share_of_peak_alongside":0\.[0-9]*[1-9]' "$T/out")" = 2 ]; then ok "mod-bench: limits, and prefill as a share of the peak alongside"
else bad "mod-bench limits: $(head -c 400 "$T/out")"; fi
refuse "mod-bench refuses an unknown dtype" "dtype" "$B/mod-bench" --dtypes f8
# tools/ab.sh: two builds of mod.h in one program (here the same file on both sides)
if tools/ab.sh mod.h "$T/bpe.mod" --prompt 16 --decode 4 --repeat 2 >"$T/out" 2>"$T/err" &&
   grep -q "^prefill 16 .*B/A" "$T/out" && grep -q "^decode 4 .*B/A" "$T/out"; then ok "tools/ab.sh times both sides"
else bad "tools/ab.sh: $(head -c 300 "$T/out" "$T/err")"; fi
refuse "mod-ab refuses a missing model" "cannot open" build/ab/mod-ab "$T/none.mod"

# tests/total.sh (the sums .ci/run prints): every unindented summary line of a log counts
printf '== a\n   5 passed, 0 failed\n160000 passed, 1 failed\nvalgrind\n3 passed, 0 failed\n' >"$T/log"
got=$(sh tests/total.sh "$T/log")
[ "$got" = "160003 passed, 1 failed" ] && ok "tests/total.sh sums every summary line of a target" || bad "tests/total.sh: $got"
printf 'make: *** [test] Error 2\n' >"$T/log"
got=$(sh tests/total.sh "$T/log")
[ "$got" = "0 passed, 1 failed" ] && ok "tests/total.sh: a log without a summary counts as a failure" || bad "tests/total.sh on no summary: $got"
# tests/have.sh: a missing tool is a note outside CI and a failure under CI=true
probe='bad() { echo "FAIL: $1"; exit 1; }; . tests/have.sh; have mod-no-such-tool "a check" || echo skipped'
out=$(CI=true sh -c "$probe" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "FAIL: a check: mod-no-such-tool is not installed" && ok "under CI=true a missing tool fails its check" || bad "have under CI=true (exit $rc): $out"
out=$(CI= sh -c "$probe" 2>&1); rc=$?
[ $rc -eq 0 ] && echo "$out" | grep -q "^skip: a check" && ok "outside CI a missing tool is skipped with a note" || bad "have outside CI (exit $rc): $out"
# minimal: --help is not a model file
"$B/minimal" --help >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 0 ] && grep -q "usage: minimal" "$T/out" && ! grep -qi "open" "$T/err" && ok "minimal --help prints its usage" || bad "minimal --help (exit $rc): $(cat "$T/out" "$T/err" | head -c 300)"
"$B/minimal" --bogus >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "usage: minimal" "$T/err" && ok "minimal refuses an unknown option with its usage" || bad "minimal --bogus (exit $rc): $(cat "$T/err" | head -c 300)"
expect "minimal runs on the shipped model" "$B/minimal" models/kjv-mod.mod "And God said,"

# mod-tokenize: ids, decoding, special tokens, several files, errors
"$B/mkmodel" "$T/notok.mod" --seed 6 --dim 32 --layers 1 --heads 2 --kv-heads 1 --hidden 48 --seq 16 >/dev/null || bad "mkmodel without a tokenizer"
"$B/mkmodel" "$T/sp.mod" --seed 5 --tokenizer sp --merges 80 --dim 32 --layers 2 --heads 2 --kv-heads 1 --hidden 48 --seq 64 >/dev/null || bad "mkmodel sp"
ids=$("$B/mod-tokenize" "$T/sp.mod" -p "$(printf 'Hello world, caf\303\251')" 2>&1)
case $ids in *[!0-9,]*|"") bad "mod-tokenize ids: $ids" ;; *) ok "mod-tokenize prints comma-separated ids" ;; esac
[ "$("$B/mod-tokenize" "$T/sp.mod" --decode "$ids")" = "$(printf 'Hello world, caf\303\251')" ] && ok "mod-tokenize --decode gives the text back" || bad "mod-tokenize --decode: $("$B/mod-tokenize" "$T/sp.mod" --decode "$ids" 2>&1)"
[ "$("$B/mod-tokenize" "$T/sp.mod" -p "<s>" --special)" = "1" ] && ok "mod-tokenize --special: <s> is the BOS token" || bad "--special: $("$B/mod-tokenize" "$T/sp.mod" -p "<s>" --special 2>&1)"
plain=$("$B/mod-tokenize" "$T/sp.mod" -p "<s>")
case ",$plain," in *,1,*) bad "without --special <s> became the BOS token: $plain" ;; *) ok "without --special <s> is plain text ($plain)" ;; esac
case $("$B/mod-tokenize" "$T/sp.mod" -p "x" --bos) in 1,*) ok "mod-tokenize --bos" ;; *) bad "--bos" ;; esac
printf 'abc' >"$T/t1"; printf 'a\nb' >"$T/t2"
"$B/mod-tokenize" "$T/bpe.mod" --text "$T/t1" --text "$T/t2" >"$T/out" 2>&1
[ "$(wc -l <"$T/out")" -eq 2 ] && [ "$(head -n 1 "$T/out")" = "$("$B/mod-tokenize" "$T/bpe.mod" -p abc)" ] && ok "mod-tokenize: one line of ids per --text file" || bad "several --text: $(cat "$T/out")"
refuse "mod-tokenize --decode with an id past the vocabulary" "cannot decode" "$B/mod-tokenize" "$T/sp.mod" --decode 1,99999
refuse "mod-tokenize --decode with a malformed list" "comma-separated" "$B/mod-tokenize" "$T/sp.mod" --decode "1,,2"
refuse "mod-tokenize on a model without a tokenizer" "no tokenizer" "$B/mod-tokenize" "$T/notok.mod" -p x
"$B/mod-tokenize" "$T/sp.mod" >/dev/null 2>&1; [ $? -eq 2 ] && ok "mod-tokenize without a text: usage error" || bad "mod-tokenize without a text: not exit 2"

# a text that needs more than len + 2 tokens (SentencePiece-style added tokens, each followed by
# a prefix space): the programs ask again with the size the library reports
"$B/mkmodel" --tokenizer scored --bpe-added 1 "$T/spadd.mod" >/dev/null 2>&1 || bad "mkmodel scored --bpe-added 1"
printf '# # # # # #' >"$T/spadd.txt"
want=$("$B/mod-tokenize" "$T/spadd.mod" --text "$T/spadd.txt" --bos | tr ',' '\n' | wc -l)
[ "$want" -gt 13 ] && ok "the added-token text is $want tokens, more than its 11 bytes + 2" || bad "the added-token text is only $want tokens"
expect "mod-eval on a text of more than len + 2 tokens" "$B/mod-eval" "$T/spadd.mod" --text "$T/spadd.txt"
grep -q "^tokens: $want," "$T/out" && ok "mod-eval scores the $want tokens mod-tokenize gives" || bad "mod-eval's token count: $(head -n 1 "$T/out")"
expect "mod-generate on a prompt of more than len + 2 tokens" "$B/mod-generate" "$T/spadd.mod" -p '# # # # # #' -n 2 --no-stats
expect "mod-sweep on a text of more than len + 2 tokens" "$B/mod-sweep" "$T/spadd.mod" --text "$T/spadd.txt" --repeat 1

finish
