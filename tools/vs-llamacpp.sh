#!/bin/sh
# mod.h against a llama.cpp build on the same weights: writes one random-weight llama model
# per dtype as GGUF (build/mkmodel --gguf), converts it with build/mod-convert (the same values,
# q8_0/q4_0 the same blocks), then times llama.cpp's llama-bench and mod-bench in alternating
# rounds and prints a markdown table of tokens/s ratios mod.h / llama.cpp.
#   usage: tools/vs-llamacpp.sh LLAMA_CPP_BUILD_DIR
# LLAMA_CPP_BUILD_DIR holds bin/llama-bench (or llama-bench itself). Settings (environment):
#   ROUNDS=3              alternating rounds; the table gives medians over rounds
#   REPEAT=2              repetitions inside each run (llama-bench -r, mod-bench --repeat)
#   DTYPES="f32 f16 q8_0 q4_0"
#   THREADS=1,2  PROMPTS=64,256,1024  DECODE=128
#   SHAPE="768 12 12 2048 32000"   width, blocks, heads, MLP width, vocab
#   MODH_KV=f16           mod.h's KV cache (llama-bench's default cache is f16)
#   MOD_TWIN=1            also time mod.h's MoD twin (every other block routed at 12.5%)
#   WORK=DIR              where the models and raw results go (default: a new temporary
#                         directory, removed at the end unless KEEP=1)
#   LLAMA_COMMIT=...      the llama.cpp commit to print when neither git nor llama-bench knows it
#   TABLE_ONLY=1          with WORK: no runs, the table of the results already in WORK (those
#                         of an interrupted run too)
#   FIRST_ROUND=N         with WORK: number the rounds from N and add them to the results
#                         already there (more rounds later)
# Not part of the tests: it needs a llama.cpp build. A round took 3-4 minutes on a quiet
# machine with DECODE=64, and about 15 minutes on two busy cores with the defaults.
set -eu
[ $# -eq 1 ] || { echo "usage: tools/vs-llamacpp.sh LLAMA_CPP_BUILD_DIR" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
if [ -x "$dir/bin/llama-bench" ]; then lb=$dir/bin/llama-bench
elif [ -x "$dir/llama-bench" ]; then lb=$dir/llama-bench
else echo "vs-llamacpp: no llama-bench in $dir/bin or $dir" >&2; exit 2; fi

ROUNDS=${ROUNDS:-3}
REPEAT=${REPEAT:-2}
DTYPES=${DTYPES:-f32 f16 q8_0 q4_0}
THREADS=${THREADS:-1,2}
PROMPTS=${PROMPTS:-64,256,1024}
DECODE=${DECODE:-128}
SHAPE=${SHAPE:-768 12 12 2048 32000}
MODH_KV=${MODH_KV:-f16}
MOD_TWIN=${MOD_TWIN:-1}
KEEP=${KEEP:-0}

# shellcheck disable=SC2086
set -- $SHAPE
width=$1 blocks=$2 heads=$3 hidden=$4 vocab=$5

TABLE_ONLY=${TABLE_ONLY:-0}
[ "$TABLE_ONLY" != 1 ] || [ -f "${WORK:-}/results.tsv" ] || { echo "vs-llamacpp: TABLE_ONLY=1 needs WORK with results.tsv" >&2; exit 2; }
[ "$TABLE_ONLY" = 1 ] || make -s -C "$root" build/mkmodel build/mod-convert build/mod-bench >&2
if [ -n "${WORK:-}" ]; then work=$WORK; mkdir -p "$work"
else work=$(mktemp -d "${TMPDIR:-/tmp}/vs-llamacpp.XXXXXX"); fi
if [ "$KEEP" != 1 ] && [ -z "${WORK:-}" ]; then trap 'rm -rf "$work"' EXIT INT TERM; fi

# llama.cpp's commit: its git tree (the build directory or its parent), else what llama-bench
# reports, else LLAMA_COMMIT
commit=
for g in "$dir" "$dir/.."; do
    if [ -z "$commit" ]; then commit=$(git -C "$g" rev-parse --short=9 HEAD 2>/dev/null || true); fi
done

raw=$work/results.tsv
if [ "$TABLE_ONLY" != 1 ]; then
# the models: one GGUF per dtype, its conversion, and the MoD twin written directly
seq=$(echo "$PROMPTS,$DECODE" | tr ',' '\n' | sort -n | tail -1)
seq=$((seq + 1))
[ "$seq" -ge 2048 ] || seq=2048
for dt in $DTYPES; do
    opts="--dim $width --layers $blocks --heads $heads --kv-heads $heads --hidden $hidden --vocab $vocab --seq $seq --dtype $dt --seed 1"
    if [ ! -f "$work/$dt.mod" ]; then
        echo "vs-llamacpp: writing the $dt models" >&2
        # shellcheck disable=SC2086
        "$root/build/mkmodel" "$work/$dt.gguf" --gguf $opts
        "$root/build/mod-convert" "$work/$dt.gguf" -o "$work/$dt.mod" --quiet --force
        # shellcheck disable=SC2086
        if [ "$MOD_TWIN" = 1 ]; then "$root/build/mkmodel" "$work/$dt-twin.mod" $opts --mod-layers odd --capacity 0.125; fi
    fi
done

# raw results, one line each: engine round dtype threads test tok/s
FIRST_ROUND=${FIRST_ROUND:-1}
[ "$FIRST_ROUND" -gt 1 ] || : >"$raw"
llama_run() { # dtype round
    "$lb" -m "$work/$1.gguf" -p "$PROMPTS" -n "$DECODE" -t "$THREADS" -r "$REPEAT" -o jsonl 2>"$work/llama.err" >"$work/llama.jsonl" ||
        { cat "$work/llama.err" >&2; exit 1; }
    [ -n "$commit" ] || commit=$(sed -n 's/.*"build_commit": *"\([^"]*\)".*/\1/p' "$work/llama.jsonl" | head -1)
    awk -v dt="$1" -v r="$2" -v kv_out="$work/llama.kv" '
        function num(k,   m) { if (match($0, "\"" k "\": *[-0-9.e+]+")) { m = substr($0, RSTART, RLENGTH); sub(/.*: */, "", m); return m + 0 } return -1 }
        function str(k,   m) { if (match($0, "\"" k "\": *\"[^\"]*\"")) { m = substr($0, RSTART, RLENGTH); sub(/^[^:]*: *"/, "", m); sub(/"$/, "", m); return m } return "" }
        {
            p = num("n_prompt"); g = num("n_gen"); t = num("n_threads")
            test = g > 0 ? "decode" : "p" p
            printf "llama\t%s\t%s\t%d\t%s\t%s\n", r, dt, t, test, num("avg_ts")
            print str("type_k") "/" str("type_v") > kv_out
        }' "$work/llama.jsonl" >>"$raw"
}
modh_run() { # dtype round
    twin=
    [ "$MOD_TWIN" = 1 ] && twin=$work/$1-twin.mod
    # shellcheck disable=SC2086
    # the first prompt length (8 tokens, not reported) is a warm-up, as llama-bench runs one
    "$root/build/mod-bench" "$work/$1.mod" $twin --prompts "8,$PROMPTS" --decode "$DECODE" --depth 1 --threads "$THREADS" \
        --repeat "$REPEAT" --kv "$MODH_KV" --no-limits --no-mmap --json >"$work/modh.jsonl" 2>"$work/modh.err" ||
        { cat "$work/modh.err" >&2; exit 1; }
    awk -v dt="$1" -v r="$2" '
        /^\{"model"/ {
            eng = $0 ~ /-twin\.mod"/ ? "twin" : "modh"
            match($0, /"threads":[0-9]+/); t = substr($0, RSTART + 10, RLENGTH - 10)
            match($0, /"prefill":\[[^]]*\]/); pre = substr($0, RSTART, RLENGTH)
            first = 1
            while (match(pre, /"tokens":[0-9]+,"tok_s":[0-9.]+/)) {
                s = substr(pre, RSTART, RLENGTH); pre = substr(pre, RSTART + RLENGTH)
                split(s, f, /[:,]/)
                if (first) { first = 0; continue } # the warm-up
                printf "%s\t%s\t%s\t%s\tp%s\t%s\n", eng, r, dt, t, f[2], f[4]
            }
            match($0, /"decode":\{[^}]*\}/); d = substr($0, RSTART, RLENGTH)
            match(d, /"tok_s":[0-9.]+/); printf "%s\t%s\t%s\t%s\tdecode\t%s\n", eng, r, dt, t, substr(d, RSTART + 8, RLENGTH - 8)
        }' "$work/modh.jsonl" >>"$raw"
}

r=$FIRST_ROUND
while [ "$r" -lt $((FIRST_ROUND + ROUNDS)) ]; do
    for dt in $DTYPES; do
        echo "vs-llamacpp: round $r, $dt" >&2
        # the engine that goes first alternates from round to round
        if [ $((r % 2)) -eq 1 ]; then llama_run "$dt" "$r"; modh_run "$dt" "$r"
        else modh_run "$dt" "$r"; llama_run "$dt" "$r"; fi
    done
    r=$((r + 1))
done
fi

# the table: per cell the median over rounds of mod.h / llama.cpp within the round, and the
# median tokens/s of each side
[ -n "$commit" ] || commit=$(sed -n 's/.*"build_commit": *"\([^"]*\)".*/\1/p' "$work/llama.jsonl" 2>/dev/null | head -1)
[ -n "$commit" ] && [ "$commit" != unknown ] || commit=${LLAMA_COMMIT:-unknown}
llama_kv=$(head -1 "$work/llama.kv" 2>/dev/null || echo "?")
cpu=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo 2>/dev/null | head -1)
echo "mod.h $(sed -n 's/^#define MOD_VERSION_STRING "\(.*\)"/\1/p' "$root/mod.h" | head -1) ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "no git")) against llama.cpp $commit, $(date -u +%Y-%m-%d), ${cpu:-this machine}, $(nproc 2>/dev/null || echo '?') cores"
echo "model: random-weight llama, width $width, $blocks blocks, $heads heads, MLP $hidden, vocab $vocab; the same weights in both (GGUF -> mod-convert)"
echo "llama-bench -p $PROMPTS -n $DECODE -t $THREADS -r $REPEAT (KV cache $llama_kv); mod-bench --prompts $PROMPTS --decode $DECODE --depth 1 --threads $THREADS --repeat $REPEAT --kv $MODH_KV --no-mmap (after an 8-token warm-up prefill); $(cut -f2 "$raw" | sort -u | wc -l) alternating round(s), medians"
echo
awk -F '\t' -v threads="$THREADS" -v prompts="$PROMPTS" -v dtypes="$DTYPES" -v twin="$MOD_TWIN" '
    function median(list,   n, a, i, j, x) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        return n == 0 ? 0 : n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function fmt(list, f) { return list == "" ? "-" : sprintf(f, median(list)) }
    { v[$1, $2, $3, $4, $5] = $6; rounds[$2] = 1 }
    END {
        nt = split(threads, T, ","); np = split(prompts, P, ","); nd = split(dtypes, D, " ")
        for (i = 1; i <= np; i++) tests[i] = "p" P[i]
        tests[np + 1] = "decode"
        head = "| dtype | test |"; sep = "|---|---|"
        for (k = 1; k <= nt; k++) {
            head = head sprintf(" %st mod.h tok/s | %st llama.cpp tok/s | %st ratio |", T[k], T[k], T[k]); sep = sep "---:|---:|---:|"
        }
        if (twin == 1) for (k = 1; k <= nt; k++) { head = head sprintf(" %st MoD twin ratio |", T[k]); sep = sep "---:|" }
        print head; print sep
        for (d = 1; d <= nd; d++)
            for (i = 1; i <= np + 1; i++) {
                line = sprintf("| %s | %s |", D[d], tests[i] == "decode" ? "decode" : "prefill " substr(tests[i], 2))
                for (pass = 0; pass <= (twin == 1); pass++)
                    for (k = 1; k <= nt; k++) {
                        lm = ""; ll = ""; lr = ""
                        for (r in rounds) {
                            a = v[pass ? "twin" : "modh", r, D[d], T[k], tests[i]]; b = v["llama", r, D[d], T[k], tests[i]]
                            if (a != "") lm = lm " " a
                            if (b != "") ll = ll " " b
                            if (a != "" && b != "" && b > 0) lr = lr " " a / b
                        }
                        if (pass == 0) line = line " " fmt(lm, "%.1f") " | " fmt(ll, "%.1f") " | " (lr == "" ? "-" : "**" fmt(lr, "%.2f") "**") " |"
                        else line = line " " fmt(lr, "%.2f") " |"
                    }
                print line
            }
    }' "$raw"
[ "$KEEP" = 1 ] && echo && echo "raw results: $raw"
exit 0
