#!/bin/sh
# tools/train/train.py's export of the routing variants of the isoFLOP study (docs/STUDY.md),
# end to end on a tiny model trained for a few steps on the first lines of models/heldout.txt
# (a tokenizer of 300 tokens trained on them too): a predictor model (MLP and linear predictor)
# and a model routed in every block are written with the docs/MODEL.md tensor names, mod-convert
# reads them as such, and build/mod-eval's causal routing gives the logits of the PyTorch
# reference tools/reference/model.py (1e-4 of the largest logit) at a threshold that splits the
# tokens; mod-eval --agreement equals the agreement the reference's own top-k pass gives. The
# default recipe still writes a router-only model. Needs Debian's python3-torch (under CI=true
# its absence fails).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
torch_ok=0
if have "$PY" "train.py's export of predictor models"; then
    if "$PY" -c 'import torch' 2>/dev/null; then torch_ok=1
    elif [ "${CI:-}" = true ]; then bad "train.py's export of predictor models: python3-torch is not installed (.ci/run installs it)"
    else echo "skip: train.py's export of predictor models (python3-torch is not installed; under CI=true this fails)"; fi
fi
if [ "$torch_ok" = 1 ]; then
    export OMP_NUM_THREADS=1
    mkdir -p "$T/data"
    # training text: the held-out snippet's lines as four documents; validation: its first lines
    "$PY" - "$T/data" <<'EOF' || bad "writing the tiny corpus"
import json, sys
lines = open("models/heldout.txt").read().splitlines()
docs = ["\n".join(lines[i::4]) for i in range(4)]
with open(sys.argv[1] + "/train.jsonl", "w") as f:
    for d in docs:
        f.write(json.dumps(d) + "\n")
with open(sys.argv[1] + "/val.jsonl", "w") as f:
    f.write(json.dumps("\n".join(lines[:6])) + "\n")
EOF
    if "$PY" tools/train/tokenizer.py --train "$T/data/train.jsonl" --vocab 300 -o "$T/tok.json" >"$T/tok.log" 2>&1; then
        ok "a 300-token tokenizer trained on the tiny corpus"
    else bad "tokenizer.py: $(tail -n 3 "$T/tok.log")"; fi
    SHAPE="--dim 32 --layers 4 --heads 2 --kv-heads 1 --ffn 64 --seq 64 --batch 4 --steps 4 --warmup 1 --val-every 4 --val-windows 2"
    train() { # train NAME OPTIONS...
        name=$1; shift
        # shellcheck disable=SC2086
        if "$PY" tools/train/train.py "$@" $SHAPE --seed 7 --tokenizer "$T/tok.json" --data "$T/data" --out "$T/$name" >"$T/$name.train.log" 2>&1; then
            ok "train.py $* (4 steps)"
        else bad "train.py $*: $(tail -n 3 "$T/$name.train.log")"; fi
    }
    train mlp --mod --decision predictor --predictor-hidden 8
    train linear --mod --decision predictor --predictor-hidden 0 --routed all
    train router --mod
    # the tensor names and config keys written
    "$PY" - "$T" <<'EOF' >"$T/names.log" 2>&1 && ok "tensor names and config: predictor.{0,2}.{weight,bias} / predictor.{weight,bias} on the routed blocks, mod_decision, mod_layers" || bad "tensor names: $(tail -n 5 "$T/names.log")"
import json, struct, sys
t = sys.argv[1]
def names(d):
    with open(d + "/model.safetensors", "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return set(json.loads(f.read(n))) - {"__metadata__"}
def cfg(d):
    return json.load(open(d + "/config.json"))
c = cfg(t + "/mlp"); n = names(t + "/mlp")
assert c["mod_decision"] == "predictor" and c["mod_layers"] == [1, 3], c
want = {"model.layers.%d.predictor.%s" % (l, s) for l in (1, 3) for s in ("0.weight", "0.bias", "2.weight", "2.bias")}
assert {x for x in n if "predictor" in x} == want, n
c = cfg(t + "/linear"); n = names(t + "/linear")
assert c["mod_decision"] == "predictor" and c["mod_layers"] == [0, 1, 2, 3], c
want = {"model.layers.%d.predictor.%s" % (l, s) for l in range(4) for s in ("weight", "bias")}
assert {x for x in n if "predictor" in x} == want, n
c = cfg(t + "/router"); n = names(t + "/router")
assert c["mod_decision"] == "router" and c["mod_layers"] == [1, 3], c
assert not [x for x in n if "predictor" in x], n
print("names ok")
EOF
    for m in mlp linear router; do
        if "$B/mod-convert" "$T/$m" -o "$T/$m.mod" >"$T/$m.conv.log" 2>&1; then ok "mod-convert reads the $m model"
        else bad "mod-convert $m: $(tail -n 3 "$T/$m.conv.log")"; fi
    done
    grep -q "decision predictor (MLP)" "$T/mlp.conv.log" && ok "the MLP predictor is read as one" || bad "mlp: $(grep routing: "$T/mlp.conv.log")"
    grep -q "decision predictor (linear)" "$T/linear.conv.log" && ok "the linear predictor is read as one" || bad "linear: $(grep routing: "$T/linear.conv.log")"
    grep -q "decision router" "$T/router.conv.log" && ok "the default recipe's model decides by its router" || bad "router: $(grep routing: "$T/router.conv.log")"
    # token ids of the validation text (BOS first), 48 of them
    "$PY" - "$T" >"$T/toks" 2>"$T/toks.err" <<'EOF' || bad "tokenizing: $(tail -n 3 "$T/toks.err")"
import json, sys
sys.path.insert(0, "tools/train")
from tokenizer import Tokenizer
t = sys.argv[1]
tok = Tokenizer.load(t + "/tok.json")
print(",".join(str(i) for i in tok.encode(json.loads(open(t + "/data/val.jsonl").readline()), bos=True)[:48]))
EOF
    TOKS=$(cat "$T/toks")
    for m in mlp linear; do
        # a threshold that splits the first routed block's decision values (reference, causal
        # pass); the agreement of the causal rule at that threshold with the reference's top-k
        "$PY" - "$T/$m" "$TOKS" >"$T/$m.ref" 2>"$T/$m.ref.err" <<'EOF' || bad "$m: the reference: $(tail -n 3 "$T/$m.ref.err")"
import sys
sys.path.insert(0, "tools/reference")
import torch, model as R
m = R.load(sys.argv[1])
toks = [int(x) for x in sys.argv[2].split(",")]
tr = []
R.forward(m, toks, "causal", threshold=0.0, trace=tr)
v = tr[0]["a"].sort().values.tolist()
lo, hi = len(v) // 4, 3 * len(v) // 4    # the widest gap in the middle half: no value near tau
i = max(range(lo, hi), key=lambda i: v[i + 1] - v[i])
tau = (v[i] + v[i + 1]) / 2
tr = []
R.forward(m, toks, "topk", trace=tr)
agree = n = 0
for t in tr:
    a = R.predictor(t["u"], m.layers[t["layer"]]["pred"])
    sel = torch.zeros(len(toks), dtype=torch.bool)
    sel[t["selected"]] = True
    agree += int(((a > tau) == sel).sum())
    n += len(toks)
print("%.9g %.2f" % (tau, 100.0 * agree / n))
EOF
        set -- $(cat "$T/$m.ref")
        tau=$1 agree=$2
        "$B/mod-eval" "$T/$m.mod" --tokens "$TOKS" --routing causal --threshold "$tau" --threads 1 --dump-logits "$T/$m.bin" >"$T/$m.eval" 2>&1 || bad "$m: mod-eval: $(tail -n 2 "$T/$m.eval")"
        share=$(sed -n 's/^routing (causal): L[0-9]* \([0-9.]*\)%.*/\1/p' "$T/$m.eval")
        if awk "BEGIN { exit !($share > 0 && $share < 100) }" 2>/dev/null; then ok "$m: threshold $tau routes $share% of the tokens through the first routed block"
        else bad "$m: threshold $tau routes '$share'% (want a split): $(cat "$T/$m.eval")"; fi
        if "$PY" tools/reference/model.py "$T/$m" --tokens "$TOKS" --rule causal --threshold "$tau" --compare "$T/$m.bin" >"$T/$m.cmp" 2>&1; then
            ok "$m: mod-eval's causal logits equal the reference's ($(grep 'max |diff|' "$T/$m.cmp" | sed 's/^compare: //'))"
        else bad "$m: causal logits differ from the reference: $(tail -n 2 "$T/$m.cmp")"; fi
        got=$("$B/mod-eval" "$T/$m.mod" --tokens "$TOKS" --routing topk --agreement --threshold "$tau" --threads 1 2>&1 | sed -n 's/^agreement (causal vs topk): \([0-9.]*\)%.*/\1/p')
        if [ -n "$got" ] && awk "BEGIN { d = $got - $agree; exit !(d < 0.011 && d > -0.011) }"; then ok "$m: mod-eval --agreement $got%, the reference $agree%"
        else bad "$m: mod-eval --agreement '$got'%, the reference $agree%"; fi
    done
fi
finish
