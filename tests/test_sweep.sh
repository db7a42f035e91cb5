#!/bin/sh
# mod-sweep end to end: every point's perplexity is the figure mod-eval prints for the same
# routing (a separate program), top-k FLOPs match an analytic count, the invariants of the
# extremes (capacity 1 and a threshold below every score both process every token; a threshold
# above every score processes none), the JSON parses (Node), the SVG is well-formed (xmllint)
# with one marker per point, a dense model gives one point, bad options fail clearly.
# No timing is asserted.
. "$(dirname "$0")/lib.sh"
S=$B/mod-sweep
E=$B/mod-eval
refuse() { # refuse DESCRIPTION STATUS PATTERN COMMAND... : exits with STATUS, stderr matches PATTERN
    d=$1; want=$2; pat=$3; shift 3
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    if [ "$rc" -ne "$want" ]; then bad "$d: exit $rc, want $want: $(head -c 300 "$T/err")"
    elif grep -qi -- "$pat" "$T/err"; then ok "$d"
    else bad "$d: message was: $(head -c 300 "$T/err")"; fi
}

# A tiny MoD model (routed blocks 1 and 3, capacity 0.5) and its dense twin; width 32, 4 heads
# of 8, 2 KV heads, MLP 64, vocab 400, context 64.
SHAPE="--seed 3 --tokenizer bpe --merges 100 --vocab 400 --dim 32 --layers 4 --heads 4 --kv-heads 2 --hidden 64 --seq 64"
"$B/mkmodel" "$T/mod.mod" $SHAPE --mod-layers odd --capacity 0.5 >/dev/null || bad "mkmodel mod"
"$B/mkmodel" "$T/dense.mod" $SHAPE --mod-layers none >/dev/null || bad "mkmodel dense"
i=0
while [ $i -lt 12 ]; do
    echo "In the beginning was the word, and the word was with the sweep number $i; then it ended." >>"$T/text.txt"
    i=$((i + 1))
done

have node "mod-sweep's JSON and figures" || { finish; exit; }
have xmllint "mod-sweep's SVG" || { finish; exit; }

# each point of a JSON file against mod-eval: the same nll and perplexity text
against_eval() { # against_eval LABEL MODEL TWIN JSON TEXT
    node -e '
        const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        for (const p of j.points) {
            const args = p.rule === "topk" ? "--routing topk" + (p.capacity === null ? "" : " --capacity " + p.capacity)
                       : p.rule === "causal" ? "--routing causal --threshold " + p.threshold : "";
            console.log([p.model, p.nll.toFixed(6), p.perplexity.toFixed(4), args].join(" "));
        }' "$4" >"$T/points" || { bad "$1: JSON does not parse"; return; }
    n=0; m=0
    while read -r which nll ppl args; do
        model=$2; [ "$which" = twin ] && model=$3
        # shellcheck disable=SC2086
        "$E" "$model" --text "$5" --threads 1 $args >"$T/eval" 2>&1
        n=$((n + 1))
        if grep -qx "mean nll: $nll" "$T/eval" && grep -qx "perplexity: $ppl" "$T/eval"; then m=$((m + 1))
        else bad "$1: $which $args: sweep $nll / $ppl, mod-eval: $(tr '\n' ' ' <"$T/eval")"; fi
    done <"$T/points"
    [ "$n" -gt 0 ] && [ "$m" -eq "$n" ] && ok "$1: all $n points' nll and perplexity equal mod-eval's"
}

"$S" "$T/mod.mod" --text "$T/text.txt" --dense "$T/dense.mod" --capacities 0.125,0.25,0.5,1 --thresholds 1e30,0,-0.5,-1e30 \
    --repeat 1 --threads 1 --json-out "$T/s.json" --plot "$T/s.svg" >"$T/table" 2>"$T/err" \
    && ok "mod-sweep runs on the tiny pair" || bad "mod-sweep on the tiny pair: $(head -c 300 "$T/err")"
against_eval "tiny pair" "$T/mod.mod" "$T/dense.mod" "$T/s.json" "$T/text.txt"

# the table holds the same figures as the JSON
node -e '
    const fs = require("fs");
    const j = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const rows = fs.readFileSync(process.argv[2], "utf8").split("\n").filter(l => /^(topk|causal|dense|twin) /.test(l));
    if (rows.length !== j.points.length) { console.log("rows " + rows.length + " points " + j.points.length); process.exit(1); }
    rows.forEach((r, i) => {
        const f = r.trim().split(/\s+/), p = j.points[i];
        if (!f.includes(p.nll.toFixed(6)) || !f.includes(p.perplexity.toFixed(4))) { console.log("row " + i + ": " + r); process.exit(1); }
    });' "$T/s.json" "$T/table" >"$T/msg" && ok "the table's rows are the JSON's points" || bad "table vs JSON: $(cat "$T/msg")"

# FLOPs: top-k points and the dense twin against an analytic count over the same windows of 64
# (a token through a block: its products, 2 x 2 x qdim per visible key; a routed block adds its
# router, 2 x dim per token; every token gets logits: 2 x dim x vocab), the extremes, monotony
node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const d = 32, qd = 32, kvd = 16, h = 64, V = 400, W = 64, n = j.tokens;
    const tf = v => 2 * d * (qd + 2 * kvd) + 2 * qd * d + 6 * d * h + 4 * qd * v;
    const count = (routed, cap) => {
        let f = 0;
        for (let s = 0; s < n; s += W) {
            const L = Math.min(W, n - s);
            for (let b = 0; b < 4; b++) {
                if (routed && b % 2 === 1) {
                    const k = cap === null ? 0 : Math.min(L, Math.max(1, Math.ceil(cap * L - 1e-6)));
                    f += 2 * d * L;
                    for (let i = 0; i < k; i++) f += tf(i + 1);
                } else for (let i = 0; i < L; i++) f += tf(i + 1);
            }
            f += 2 * d * V * L;
        }
        return f;
    };
    const bad = [];
    const by = (rule, key, v) => j.points.find(p => p.rule === rule && p[key] === v);
    for (const p of j.points) {
        let want = null;
        if (p.rule === "topk") want = count(true, p.capacity);
        if (p.rule === "dense") want = count(false, 0);
        if (p.rule === "causal" && p.threshold === 1e30) want = count(true, null);
        if (want !== null && p.flops !== want) bad.push(p.rule + " " + (p.capacity ?? p.threshold) + ": " + p.flops + " want " + want);
    }
    const c1 = by("topk", "capacity", 1), all = by("causal", "threshold", -1e30), none = by("causal", "threshold", 1e30);
    if (!c1 || c1.routed_share !== 1 || c1.block_share.some(s => s !== 1)) bad.push("capacity 1 processes every token");
    if (!all || all.routed_share !== 1 || all.flops !== c1.flops || all.perplexity !== c1.perplexity || all.nll !== c1.nll)
        bad.push("threshold -1e30 gives capacity 1: " + JSON.stringify(all));
    if (!none || none.routed_share !== 0) bad.push("threshold 1e30 processes nothing");
    const tw = j.points.find(p => p.rule === "dense");
    if (c1.flops !== tw.flops + 2 * 2 * d * n) bad.push("capacity 1 = dense twin + the routers");
    const caps = j.points.filter(p => p.rule === "topk");
    for (let i = 1; i < caps.length; i++)
        if (!(caps[i].flops >= caps[i - 1].flops && caps[i].routed_share >= caps[i - 1].routed_share)) bad.push("FLOPs not monotone in capacity");
    const trained = j.points.filter(p => p.trained).map(p => p.rule + ":" + (p.capacity ?? p.threshold));
    if (trained.join(",") !== "topk:0.5,causal:0") bad.push("trained points: " + trained);
    if (j.points.some(p => !(p.prefill_tok_s > 0) || (p.rule === "topk" ? p.decode_tok_s !== null : !(p.decode_tok_s > 0))))
        bad.push("speeds: positive, decode null for top-k");
    if (bad.length) { console.log(bad.join("; ")); process.exit(1); }' "$T/s.json" >"$T/msg" \
    && ok "FLOPs: analytic count for top-k and the twin; capacity 1 = threshold below all = twin + routers; monotone" \
    || bad "FLOPs and invariants: $(cat "$T/msg")"

# the SVG: well-formed, one marker per point in the FLOPs panel, one per causal or dense point
# in the decode panel
if xmllint --noout "$T/s.svg" 2>"$T/msg"; then ok "SVG well-formed"; else bad "SVG: $(head -c 300 "$T/msg")"; fi
nf=$(grep -c 'class="point-flops' "$T/s.svg")
nd=$(grep -c 'class="point-decode' "$T/s.svg")
np=$(node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(j.points.length, j.points.filter(p => p.rule !== "topk").length)' "$T/s.json")
[ "$nf $nd" = "$np" ] && ok "SVG: one marker per point ($nf; $nd in the decode panel)" || bad "SVG markers $nf $nd, points $np"
w=$(sed -n 's/.*<svg [^>]* width="\([0-9]*\)".*/\1/p' "$T/s.svg")
small=$(grep -o 'font-size="[0-9.]*"' "$T/s.svg" | tr -d 'a-z="-' | awk '$1 < 11' | wc -l)
[ "${w:-9999}" -le 1000 ] && [ "$small" -eq 0 ] && ok "SVG at most 1000 wide ($w), no font below 11" || bad "SVG width $w, $small small fonts"

# --json on stdout: the same document as --json-out
"$S" "$T/mod.mod" --text "$T/text.txt" --capacities 0.5 --thresholds 0 --repeat 1 --threads 1 --json >"$T/j1" 2>"$T/err" \
    && node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); if (j.points.length !== 2 || j.dense !== null) process.exit(1)' "$T/j1" \
    && ok "--json prints one JSON document with the points asked for" || bad "--json: $(head -c 300 "$T/err")"

# text from a pipe, read once for both models: the same figures as from the file
"$S" "$T/mod.mod" --text /dev/stdin --dense "$T/dense.mod" --capacities 0.125,0.25,0.5,1 --thresholds 1e30,0,-0.5,-1e30 \
    --repeat 1 --threads 1 --json <"$T/text.txt" >"$T/pipe.json" 2>"$T/err"
node -e '
    const fs = require("fs"), a = JSON.parse(fs.readFileSync(process.argv[1], "utf8")), b = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    const key = p => [p.rule, p.model, p.capacity, p.threshold, p.nll, p.perplexity, p.flops].join(" ");
    if (a.points.map(key).join("|") !== b.points.map(key).join("|")) process.exit(1);' "$T/s.json" "$T/pipe.json" \
    && ok "--text from a pipe with --dense: the same points as from the file" || bad "--text from a pipe: $(head -c 300 "$T/err")"

# the default lists: both rules, the model's own capacity and threshold among them
"$S" "$T/mod.mod" --text "$T/text.txt" --repeat 1 --threads 1 --json-out "$T/d.json" >/dev/null 2>"$T/err" || bad "default lists: $(head -c 300 "$T/err")"
node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const caps = j.points.filter(p => p.rule === "topk").map(p => p.capacity).join(",");
    const th = j.points.filter(p => p.rule === "causal");
    if (caps !== "0.03125,0.0625,0.125,0.25,0.5,1") { console.log("capacities " + caps); process.exit(1); }
    if (th.length < 3 || !th.some(p => p.threshold === 0 && p.trained)) { console.log("thresholds"); process.exit(1); }
    for (let i = 1; i < th.length; i++) if (!(th[i].threshold < th[i - 1].threshold)) { console.log("order"); process.exit(1); }
    if (th[th.length - 1].routed_share < 0.9) { console.log("lowest threshold share " + th[th.length - 1].routed_share); process.exit(1); }' "$T/d.json" >"$T/msg" \
    && ok "default lists: the six capacities, thresholds from the decision values, the model's own marked" || bad "default lists: $(cat "$T/msg")"
against_eval "default lists" "$T/mod.mod" "$T/dense.mod" "$T/d.json" "$T/text.txt"

# routed blocks of different capacities: the default top-k list adds each block's own
"$B/mkmodel" "$T/mixed.mod" $SHAPE --mod-layers odd --capacity 0.25,0.5 >/dev/null || bad "mkmodel mixed"
"$S" "$T/mixed.mod" --text "$T/text.txt" --repeat 1 --threads 1 --json-out "$T/mixed.json" >"$T/table" 2>"$T/err" || bad "mixed capacities: $(head -c 300 "$T/err")"
node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const own = j.points.filter(p => p.rule === "topk" && p.capacity === null);
    if (own.length !== 1 || !own[0].trained || own[0].block_share.length !== 2 || !(own[0].block_share[0] < own[0].block_share[1])) process.exit(1);' "$T/mixed.json" \
    && grep -q "c=own \*" "$T/table" && ok "capacities 0.25 and 0.5: one top-k point with each block's own, marked" || bad "mixed capacities: $(grep own "$T/table")"
against_eval "mixed capacities" "$T/mixed.mod" "$T/mixed.mod" "$T/mixed.json" "$T/text.txt"

# a dense model as MODEL: one point, said so
"$S" "$T/dense.mod" --text "$T/text.txt" --repeat 1 --threads 1 --json-out "$T/one.json" >"$T/table" 2>"$T/err"
rc=$?
rows=$(grep -cE '^(topk|causal|dense|twin) ' "$T/table")
if [ $rc -eq 0 ] && grep -qx "model has no routed blocks: one point" "$T/err" && [ "$rows" -eq 1 ]; then ok "a dense model: one clear line, one point"
else bad "dense model: exit $rc, $rows rows: $(head -c 300 "$T/err")"; fi
against_eval "dense model" "$T/dense.mod" "$T/dense.mod" "$T/one.json" "$T/text.txt"
"$S" "$T/dense.mod" --text "$T/text.txt" --repeat 1 --threads 1 --plot "$T/one.svg" >/dev/null 2>&1 && xmllint --noout "$T/one.svg" 2>/dev/null \
    && [ "$(grep -c 'class="point-flops' "$T/one.svg")" -eq 1 ] && ok "a dense model's plot: one point" || bad "dense model plot"

# bad options
refuse "capacity 0" 2 "capacities" "$S" "$T/mod.mod" --text "$T/text.txt" --capacities 0
refuse "capacity 1.5" 2 "in (0, 1]" "$S" "$T/mod.mod" --text "$T/text.txt" --capacities 0.5,1.5
refuse "NaN capacity" 2 "capacities" "$S" "$T/mod.mod" --text "$T/text.txt" --capacities nan
refuse "empty capacity list" 2 "capacities" "$S" "$T/mod.mod" --text "$T/text.txt" --capacities ""
refuse "empty list item" 2 "capacities" "$S" "$T/mod.mod" --text "$T/text.txt" --capacities 0.5,,1
refuse "infinite threshold" 2 "finite" "$S" "$T/mod.mod" --text "$T/text.txt" --thresholds 0,inf
refuse "NaN threshold" 2 "finite" "$S" "$T/mod.mod" --text "$T/text.txt" --thresholds nan
refuse "empty threshold list" 2 "thresholds" "$S" "$T/mod.mod" --text "$T/text.txt" --thresholds ""
refuse "no --text" 2 "--text" "$S" "$T/mod.mod"
refuse "repeat 0" 2 "invalid value" "$S" "$T/mod.mod" --text "$T/text.txt" --repeat 0
refuse "unknown option" 2 "unknown option" "$S" "$T/mod.mod" --text "$T/text.txt" --frobnicate 1
refuse "missing model file" 1 "$T/nope.mod" "$S" "$T/nope.mod" --text "$T/text.txt"
refuse "missing twin file" 1 "$T/nope.mod" "$S" "$T/mod.mod" --dense "$T/nope.mod" --text "$T/text.txt"
refuse "missing text file" 1 "$T/nope.txt" "$S" "$T/mod.mod" --text "$T/nope.txt"
refuse "plot over the model file" 1 "input" "$S" "$T/mod.mod" --text "$T/text.txt" --plot "$T/mod.mod"
refuse "plot into a missing directory" 1 "$T/no/dir" "$S" "$T/mod.mod" --text "$T/text.txt" --capacities 1 --plot "$T/no/dir/p.svg"
[ ! -e "$T/no" ] && ok "nothing written for a refused output" || bad "a refused output left something"

# the shipped pair, default lists, one round: every perplexity as mod-eval prints it, capacity 1
# against the twin's FLOPs plus the routers and predictors: per token and routed block 2d (the
# router) + 2dp + 4p (a predictor of hidden width p: two products, its activation and output),
# with the routed blocks, d and p as training recorded them in models/metrics.json
if [ -f models/kjv-mod.mod ] && [ -f models/kjv-dense.mod ]; then
    "$S" models/kjv-mod.mod --text models/heldout.txt --dense models/kjv-dense.mod --repeat 1 --threads 1 \
        --json-out "$T/kjv.json" --plot "$T/kjv.svg" >"$T/kjv.table" 2>"$T/err" && ok "mod-sweep on the shipped pair" || bad "shipped pair: $(head -c 300 "$T/err")"
    against_eval "shipped pair" models/kjv-mod.mod models/kjv-dense.mod "$T/kjv.json" models/heldout.txt
    node -e '
        const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        const c1 = j.points.find(p => p.rule === "topk" && p.capacity === 1), tw = j.points.find(p => p.rule === "dense");
        const own = j.points.find(p => p.rule === "topk" && p.trained);
        const m = JSON.parse(require("fs").readFileSync("models/metrics.json", "utf8")).models.mod;
        const d = m.config.hidden_size, p = m.train_args.decision === "predictor" ? m.train_args.predictor_hidden : 0;
        const per = 2 * d + (p ? 2 * d * p + 4 * p : 0);
        if (c1.flops !== tw.flops + m.config.mod_layers.length * per * j.tokens) { console.log(c1.flops, tw.flops, d, p); process.exit(1); }
        const want = Number(process.argv[2]);
        if (!own || own.capacity !== 0.125 || !(Math.abs(own.perplexity - want) <= 1e-4 * want)) { console.log(JSON.stringify(own), want); process.exit(1); }' \
        "$T/kjv.json" "$(sed -n 's/^ppl kjv-mod.mod topk //p' models/expected.txt)" >"$T/msg" \
        && ok "shipped pair: capacity 1 = twin + routers in FLOPs; the trained top-k point is the reference's (models/expected.txt) within 0.01%" || bad "shipped pair: $(cat "$T/msg")"
    xmllint --noout "$T/kjv.svg" 2>/dev/null && ok "shipped pair: SVG well-formed" || bad "shipped pair: SVG"
else
    bad "models/kjv-mod.mod or models/kjv-dense.mod missing"
fi
finish
