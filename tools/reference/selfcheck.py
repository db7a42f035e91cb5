#!/usr/bin/env python3
"""Consistency checks of model.py and of the fixtures it wrote.

    /usr/bin/python3 tools/reference/selfcheck.py [tests/fixtures]

1. every fixture: float64 logits of both rules equal logits_{topk,causal}.bin (to float32 rounding),
   and the float32 forward pass agrees to 1e-5 relative with the same selections;
2. causal rule: the logits of every prefix equal the first rows of the full causal logits;
3. a routed model with router weights 0, router bias 1, identity scale, delta combine equals the
   same weights run all-dense (top-k with capacity 1, and causal with threshold 0), in float64 to
   1e-12 relative (x + 1*(y - x) rounds differently from y);
4. aliased names load to the same tensors as their canonical spelling (re-written canonically);
5. safetensors round trip in F32/F16/BF16;
6. tokenize_cases.txt: the ids decode back to the text, and re-encoding gives the same ids.
"""

import json
import sys
sys.dont_write_bytecode = True
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model as ref  # noqa: E402
import make_fixtures as mk  # noqa: E402

failures = 0


def check(ok, what):
    global failures
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures += 1


def load_fixture(d):
    ca = os.path.join(d, "convert_args.txt")
    ov = ref.parse_convert_args(open(ca).read()) if os.path.exists(ca) else None
    return ref.load(d, ov), [int(t) for t in open(os.path.join(d, "tokens.txt")).read().strip().split(",")]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                              "..", "..", "tests", "fixtures")
    # the PyTorch fixtures are the directories with tokens.txt (as in tests/test_fixtures.sh)
    names = sorted(n for n in os.listdir(root) if os.path.isfile(os.path.join(root, n, "tokens.txt")))
    for name in names:
        d = os.path.join(root, name)
        m, toks = load_fixture(d)
        S = len(toks)
        for rule in ("topk", "causal"):
            tr64, tr32 = [], []
            l64 = ref.forward(m, toks, rule, dtype=torch.float64, trace=tr64)
            l32 = ref.forward(m, toks, rule, trace=tr32)
            stored = ref.read_logits(os.path.join(d, f"logits_{rule}.bin"), S, m.V).double()
            scale = float(l64.abs().max())
            check(float((stored - l64).abs().max()) <= 1e-6 * scale, f"{name} {rule}: stored logits = float64 forward")
            same = all(torch.equal(a["selected"], b["selected"]) for a, b in zip(tr64, tr32))
            rel = float((l32.double() - l64).abs().max()) / scale
            check(same and rel < 1e-5, f"{name} {rule}: float32 forward, same selections, rel diff {rel:.1e}")
        full = ref.forward(m, toks, "causal", dtype=torch.float64)
        worst = 0.0
        for n in range(1, S):
            pre = ref.forward(m, toks[:n], "causal", dtype=torch.float64)
            worst = max(worst, float((pre - full[:n]).abs().max()))
        check(worst <= 1e-12 * float(full.abs().max()), f"{name}: causal prefixes equal the full run (max {worst:.1e})")
        if m.routed:
            for cap, tau in ((0.5, None), (1.0, None), (None, -1e30), (None, 1e30)):
                for rule in ("topk", "causal"):
                    ref.forward(m, toks, rule, capacity=cap, threshold=tau)   # overrides run
            tr = []
            ref.forward(m, toks, "causal", threshold=1e30, trace=tr)
            check(all(t["selected"].numel() == 0 for t in tr), f"{name}: threshold 1e30 selects nothing")

        # 3. constant router == dense
        if m.routed:
            dense = ref.load(d, {"mod_layers": [], "mod_capacity": 0.125})
            md = ref.load(d, {"mod_layers": m.routed, "mod_router_scale": "identity", "mod_combine": "delta",
                              "mod_decision": "router", "mod_threshold": 0.0})
            for i in md.routed:
                md.layers[i]["router_w"] = torch.zeros_like(md.layers[i]["router_w"])
                md.layers[i]["router_b"] = torch.ones(())
            ld = ref.forward(dense, toks, "topk", dtype=torch.float64)
            a = ref.forward(md, toks, "topk", capacity=1.0, dtype=torch.float64)
            b = ref.forward(md, toks, "causal", dtype=torch.float64)
            pos_ok = True
            if md.positions == "compacted":   # every token selected: rank == index
                md.positions = "absolute"
                pos_ok = torch.equal(a, ref.forward(md, toks, "topk", capacity=1.0, dtype=torch.float64))
            tol = 1e-12 * float(ld.abs().max())   # x + 1*(y - x) is y up to one rounding
            check(float((a - ld).abs().max()) <= tol and float((b - ld).abs().max()) <= tol and pos_ok,
                  f"{name}: router 0/bias 1/identity/delta at capacity 1 (and causal) == dense "
                  f"(max {float((a - ld).abs().max()):.1e})")

        # 4. aliases: rewrite every tensor under its canonical name and reload
        files = []
        idx = os.path.join(d, "model.safetensors.index.json")
        files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
        raw, dts = {}, {}
        for fn in files:
            t, dt, _ = ref.read_safetensors(os.path.join(d, fn))
            raw.update(t)
            dts.update(dt)
        canon = {}
        for n_, t in raw.items():
            if n_ in ref._SHARED_ROUTER:
                for i in m.routed:
                    canon[f"model.layers.{i}.router.{ref._SHARED_ROUTER[n_]}"] = t
            else:
                canon[ref.canonical_name(n_)] = t
        aliased = sorted(n_ for n_ in raw if ref.canonical_name(n_) != n_ or n_ in ref._SHARED_ROUTER)
        with tempfile.TemporaryDirectory() as tmp:
            ref.write_safetensors(os.path.join(tmp, "model.safetensors"), canon)
            with open(os.path.join(tmp, "config.json"), "w") as f:
                json.dump(m.config, f)
            m2 = ref.load(tmp)
            l1 = ref.forward(m, toks, "topk", dtype=torch.float64)
            l2 = ref.forward(m2, toks, "topk", dtype=torch.float64)
            check(torch.equal(l1, l2), f"{name}: canonical re-write gives the same logits ({len(aliased)} aliased names"
                  + (f", e.g. {aliased[0]}" if aliased else "") + ")")

        # 6. tokenizer cases
        tc = os.path.join(d, "tokenize_cases.txt")
        if os.path.exists(tc):
            tj = json.load(open(os.path.join(d, "tokenizer.json"), encoding="utf-8"))
            vocab = tj["model"]["vocab"]
            merges = [tuple(x) if isinstance(x, list) else tuple(x.split(" ")) for x in tj["model"]["merges"]]
            inv = {v: k for k, v in vocab.items()}
            unbyte = {c: b for b, c in mk.BYTE_CHAR.items()}
            ok, n = True, 0
            for line in open(tc):
                hx, ids = line.rstrip("\n").split("\t")
                data = bytes.fromhex(hx)
                ids = [int(x) for x in ids.split(",")] if ids else []
                back = bytes(unbyte[c] for i in ids for c in inv[i])
                ok &= back == data and mk.bpe_encode(data, vocab, merges) == ids
                n += 1
            check(ok and len(vocab) == m.V, f"{name}: {n} tokenize cases decode to their text and re-encode the same")

    # 5. safetensors round trip
    with tempfile.TemporaryDirectory() as tmp:
        t = torch.randn(3, 5) * 100
        p = os.path.join(tmp, "x.safetensors")
        for dt in ("F32", "F16", "BF16"):
            ref.write_safetensors(p, {"a": t, "b": t[0]}, {"a": dt, "b": dt}, metadata={"k": "v"})
            r, rd, meta = ref.read_safetensors(p)
            check(torch.equal(r["a"], ref.round_to_dtype(t, dt)) and rd["a"] == dt and meta == {"k": "v"}
                  and list(r["b"].shape) == [5], f"safetensors round trip {dt}")
    print("selfcheck:", "all passed" if failures == 0 else f"{failures} FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
