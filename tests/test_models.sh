#!/bin/sh
# The shipped models (models/): they load with their checksum, their perplexity on the held-out
# snippet matches what the PyTorch reference recorded at training time (within 0.5%), greedy
# generation from a fixed prompt gives the reference's tokens, and the quantized copies (the
# shipped q8_0 file; a q4_0 copy the f16 model re-encoded here by mod-convert) are checked two
# ways apart: the quantized kernels against the same weights decoded to f32 (within 0.5%: only
# the activations' q8_0 rounding differs; 0.05% for q8_0 and 0.11% for q4_0 when this was
# written), and the weight rounding itself, the f32 copy against the f16 model (q8_0 within 1%,
# q4_0 within 3%: this model loses 1.9% to q4_0 rounding on the snippet, 21.978 vs 21.570, and
# 1.4% on the whole held-out split, 25.439 vs 25.076, at a 512-token context). models/README.md
# is checked against its generator, tools/train/models_readme.py.
. "$(dirname "$0")/lib.sh"
E=models/expected.txt
ppl() { # ppl MODEL RULE (causal, topk, or off: causal with a threshold no router score passes)
    case $2 in off) set -- "$1" causal --threshold 1e30 ;; esac
    m=$1; shift
    "$B/mod-eval" "models/$m" --text models/heldout.txt --routing "$@" --threads 1 2>/dev/null | sed -n 's/^perplexity: //p'
}
within() { # within GOT WANT RELTOL
    awk -v g="$1" -v w="$2" -v t="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && d <= t * w) }'
}
for m in kjv-mod.mod kjv-dense.mod kjv-mod-q8_0.mod; do
    if "$B/mod-convert" --verify "models/$m" >/dev/null 2>&1; then ok "$m loads and its checksum matches"; else bad "$m: $("$B/mod-convert" --verify "models/$m" 2>&1)"; fi
done
list=$(mktemp)
grep '^ppl ' "$E" | cut -d' ' -f2- >"$list"
while read -r m rule want; do
    got=$(ppl "$m" "$rule")
    if within "$got" "$want" 0.005; then ok "$m ($rule) held-out perplexity $got, reference $want"
    else bad "$m ($rule) held-out perplexity $got, reference $want"; fi
done <"$list"
rm -f "$list"
prompt=$(sed -n 's/^prompt //p' "$E")
for m in kjv-mod.mod kjv-dense.mod; do
    want=$(sed -n "s/^greedy $m //p" "$E")
    got=$("$B/mod-generate" "models/$m" -p "$prompt" -n 32 -t 0 --ids --no-stats --threads 1 2>/dev/null)
    # generation stops at the end-of-text token; the reference does not
    case "$want," in
        "$got",*) ok "$m greedy tokens equal the reference's ($(echo "$got" | tr ',' '\n' | wc -l) tokens)" ;;
        *) bad "$m greedy tokens: got $got, reference $want" ;;
    esac
done
within() { awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN { exit !(a != "" && b != "" && a <= r * b) }'; }
# quantized DTYPE FILE LOSS: FILE's kernels against its f32 decoding, then that against the f16 model
quantized() {
    if ! "$B/mod-convert" "$2" -o "$T/$1-f32.mod" --dtype f32 --quiet 2>"$T/err"; then bad "$1 decoded to f32: $(head -c 300 "$T/err")"; return; fi
    q=$("$B/mod-eval" "$2" --text models/heldout.txt --routing causal --threads 1 2>/dev/null | sed -n 's/^perplexity: //p')
    d=$("$B/mod-eval" "$T/$1-f32.mod" --text models/heldout.txt --routing causal --threads 1 2>/dev/null | sed -n 's/^perplexity: //p')
    within "$q" "$d" 1.005 && within "$d" "$q" 1.005 && ok "$1 kernels: perplexity $q, the same weights in f32 $d (within 0.5%)" || bad "$1 kernels: $q vs f32 $d"
    within "$d" "$f" "$3" && ok "$1 rounding: perplexity $d vs $f for the f16 model (within x$3)" || bad "$1 rounding: $d vs $f"
}
f=$(ppl kjv-mod.mod causal)
quantized q8_0 models/kjv-mod-q8_0.mod 1.01
if "$B/mod-convert" models/kjv-mod.mod -o "$T/kjv-mod-q4_0.mod" --dtype q4_0 --quiet 2>"$T/err"; then quantized q4_0 "$T/kjv-mod-q4_0.mod" 1.03
else bad "mod-convert --dtype q4_0: $(head -c 300 "$T/err")"; fi
# models/README.md is what its generator writes from models/metrics.json and
# models/measurements.json (a retrain or a new measurement cannot leave it behind)
if have /usr/bin/python3 "models/README.md's generator"; then
    if /usr/bin/python3 tools/train/models_readme.py --check >"$T/readme.log" 2>&1; then ok "models/README.md is what tools/train/models_readme.py writes"
    else bad "$(cat "$T/readme.log")"; fi
fi
finish
