#!/usr/bin/python3
"""Measure the trained MoD model and its dense twin; write models/metrics.json.

    evaluate.py [--mod build/train/mod] [--dense build/train/dense] [-o models/metrics.json]

Measured (float32 throughout):
- validation loss (mean natural-log NLL per token) over the held-out split
  (build/train/data/val.jsonl: every 20th chapter), in non-overlapping windows of the training
  sequence length, every position scored: MoD with the top-k rule and with the causal rule
  (r > 0), and the dense twin;
- the same with the routed blocks off (causal routing at a threshold of 1e30: they process
  nothing), to show what the routed blocks are worth;
- agreement of causal routing with top-k selection on the same windows: for every routed block
  and token, whether the causal decision (r > 0, or the predictor's P > 0) equals (token among the block's top-k), in the top-k forward pass;
  per routed block and overall, with the share of tokens the causal rule would select;
- training FLOPs per step (analytic, see train.train_flops_per_seq) and wall time per step
  (from the training logs);
- for the test suite, with tools/reference/model.py: the perplexity of models/heldout.txt
  (<|endoftext|> prepended as BOS; consecutive non-overlapping windows of
  max_position_embeddings tokens, each a fresh start, the first token of each window not
  scored; MoD with the causal and the top-k rule), and the greedy continuation (32 token ids)
  of "And God said," with BOS prepended (MoD routing causally). Both again with every matrix
  rounded to f16 (norms, biases and the router kept f32), as `mod-convert --dtype f16` stores
  them.
"""
import argparse, json, math, os, sys, tempfile

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
import train as T  # noqa: E402
from tokenizer import read_docs  # noqa: E402
import model as ref  # noqa: E402  tools/reference/model.py

torch.set_num_threads(2)
PROMPT = "And God said,"


def read_log(path):
    recs = [json.loads(line) for line in open(path)]
    start = next(r for r in recs if r.get("event") == "start")
    done = next(r for r in recs if r.get("event") == "done")
    train = [r for r in recs if "loss" in r]
    val = [r for r in recs if "val_topk" in r]
    return start, done, train, val


@torch.no_grad()
def agreement(model, x):
    n = len(model.cfg.mod_layers)
    agree = torch.zeros(n)
    causal = torch.zeros(n)
    topk_hit = torch.zeros(n)  # top-k tokens the causal rule also takes
    count = 0
    for i in range(0, len(x), 16):
        info = []
        model(x[i:i + 16], rule="topk", info=info)
        for j, inf in enumerate(info):
            pos = (inf["r"] if inf["a"] is None else inf["a"]) > model.cfg.mod_threshold
            agree[j] += (pos == inf["sel"]).float().sum()
            causal[j] += pos.float().sum()
            topk_hit[j] += (pos & inf["sel"]).float().sum()
        count += x[i:i + 16].numel()
    k = T.capacity_k(model.cfg.mod_capacity, x.shape[1])
    return {
        "blocks": model.cfg.mod_layers,
        "agreement": [round(float(a) / count, 5) for a in agree],
        "agreement_overall": round(float(agree.sum()) / (count * n), 5),
        "causal_selected_share": [round(float(c) / count, 5) for c in causal],
        "topk_selected_share": round(k / x.shape[1], 5),
        "topk_recall_of_causal": [round(float(h) / (count * k / x.shape[1]), 5) for h in topk_hit],
        "tokens": count,
    }


def heldout_ppl(m, toks, P, rule, threshold=None):
    nll, n = 0.0, 0
    for w in range(0, len(toks), P):
        chunk = toks[w:w + P]
        if len(chunk) < 2:
            continue
        logits = ref.forward(m, chunk, rule, threshold=threshold).double()
        nll += F.cross_entropy(logits[:-1], torch.tensor(chunk[1:]), reduction="sum").item()
        n += len(chunk) - 1
    return {"nll": nll / n, "ppl": math.exp(nll / n), "scored_tokens": n}


def greedy(m, toks, n, rule):
    toks = list(toks)
    out = []
    for _ in range(n):
        t = int(ref.forward(m, toks, rule)[-1].argmax())
        out.append(t)
        toks.append(t)
    return out


def f16_copy(src, dst):
    """src checkpoint with every matrix rounded to f16 except the router (stored f32 by mod.h)."""
    tensors, _, _ = ref.read_safetensors(os.path.join(src, "model.safetensors"))
    dtypes = {k: ("F16" if v.dim() == 2 and not k.endswith("router.weight") else "F32") for k, v in tensors.items()}
    ref.write_safetensors(os.path.join(dst, "model.safetensors"), tensors, dtypes)
    for f in ("config.json", "tokenizer.json"):
        with open(os.path.join(src, f)) as a, open(os.path.join(dst, f), "w") as b:
            b.write(a.read())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mod", default="build/train/mod")
    ap.add_argument("--dense", default="build/train/dense")
    ap.add_argument("--data", default="build/train/data")
    ap.add_argument("--heldout", default="models/heldout.txt")
    ap.add_argument("-o", "--out", default="models/metrics.json")
    ap.add_argument("--greedy-tokens", type=int, default=32)
    a = ap.parse_args()

    res = {"models": {}, "heldout": {}, "greedy": {}, "samples": {}}
    loaded = {}
    for kind, path in (("mod", a.mod), ("dense", a.dense)):
        model, tok = T.load_dir(path)
        loaded[kind] = (model, tok)
        cfg = model.cfg
        S = cfg.max_position_embeddings
        start, done, trlog, vlog = read_log(path.rstrip("/") + ".log.jsonl")
        _, val_s = T.load_streams(tok, a.data, tempfile.mkdtemp())
        vx, vy = T.val_windows(val_s, S)
        r = {
            "dir": path,
            "params": T.n_params(cfg),
            "params_non_embedding": T.n_params(cfg) - cfg.vocab_size * cfg.hidden_size,
            "config": {k: v for k, v in cfg.hf().items() if k not in ("architectures", "torch_dtype")},
            "train_args": start["args"],
            "train_tokens_per_step": start["args"]["batch"] * S,
            "train_flops_per_step": T.train_flops_per_seq(cfg, S) * start["args"]["batch"],
            "dense_equivalent_flops_per_step": T.train_flops_per_seq(T.Config(**{**vars(cfg), "mod_layers": []}), S)
            * start["args"]["batch"],
            "train_steps": start["args"]["steps"],
            "train_short_steps": start["args"].get("short_steps", 0),
            "train_short_seq": start["args"].get("short_seq", 0),
            "train_flops_total": start.get("flops_total", T.train_flops_per_seq(cfg, S) * start["args"]["batch"]
                                           * start["args"]["steps"]),
            "train_tokens_total": start["args"]["batch"] * S * start["args"]["steps"],
            "wall_seconds_per_step": round(done["s_per_step"], 4),
            "train_seconds": round(done["train_seconds"], 1),
            "final_train_loss": round(trlog[-1]["loss"], 4),
            "loss_curve": [[t["step"], round(t["loss"], 4)] for t in trlog],
            "val_curve_subset": [[v["step"], round(v["val_topk"], 4)] + ([round(v["val_causal"], 4)] if "val_causal" in v else [])
                                 for v in vlog],
            "val_windows": len(vx),
            "val_tokens_scored": vx.numel(),
        }
        print(kind, "val windows", len(vx), file=sys.stderr, flush=True)
        if cfg.mod_layers:
            r["val_loss_topk"] = round(T.evaluate_loss(model, vx, vy, "topk"), 5)
            r["val_loss_causal"] = round(T.evaluate_loss(model, vx, vy, "causal"), 5)
            for blk in model.layers:    # routed blocks off: no token passes the causal threshold
                blk.threshold = 1e30
            r["val_loss_routed_off"] = round(T.evaluate_loss(model, vx, vy, "causal"), 5)
            for blk in model.layers:
                blk.threshold = cfg.mod_threshold
            r["routing"] = agreement(model, vx)
        else:
            r["val_loss"] = round(T.evaluate_loss(model, vx, vy, "dense"), 5)
        # this training-side implementation against tools/reference/model.py on two windows
        rm = ref.load(path)
        diff = 0.0
        for w in (0, len(vx) // 2):
            for rule in ("topk", "causal"):
                mine = model(vx[w:w + 1], rule=rule if cfg.mod_layers else "dense")[0]
                diff = max(diff, (mine - ref.forward(rm, vx[w].tolist(), rule)).abs().max().item())
        r["max_abs_logit_diff_vs_reference"] = diff
        res["models"][kind] = r
        print(kind, json.dumps({k: v for k, v in r.items() if "curve" not in k and k != "config"}), file=sys.stderr, flush=True)

    # ---- held-out perplexity and greedy continuation, by tools/reference/model.py
    tok = loaded["mod"][1]
    text = open(a.heldout, encoding="utf-8").read()
    toks = tok.encode(text, bos=True)
    prompt = tok.encode(PROMPT, bos=True)
    res["heldout"] = {"file": a.heldout, "bytes": len(text.encode()), "tokens_with_bos": len(toks),
                      "window": loaded["mod"][0].cfg.max_position_embeddings,
                      "scored_by": "tools/reference/model.py (float32)"}
    res["greedy"] = {"prompt": PROMPT, "bos": True, "prompt_tokens": prompt, "n": a.greedy_tokens,
                     "computed_by": "tools/reference/model.py (float32)"}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, path in (("mod", a.mod), ("dense", a.dense)):
            for weights, p in (("f32", path), ("f16", os.path.join(tmp, kind))):
                if weights == "f16":
                    os.makedirs(p)
                    f16_copy(path, p)
                rm = ref.load(p)
                P = int(rm.config["max_position_embeddings"])
                rules = ("causal", "topk") if kind == "mod" else ("causal",)
                for rule in rules:
                    name = kind + ("_" + rule if kind == "mod" else "") + ("" if weights == "f32" else "_f16")
                    res["heldout"][name] = heldout_ppl(rm, toks, P, rule)
                    print("heldout", name, res["heldout"][name], file=sys.stderr, flush=True)
                if kind == "mod":   # routed blocks off: causal routing with a threshold no score passes
                    name = "mod_off" + ("" if weights == "f32" else "_f16")
                    res["heldout"][name] = heldout_ppl(rm, toks, P, "causal", threshold=1e30)
                    print("heldout", name, res["heldout"][name], file=sys.stderr, flush=True)
                name = kind + ("_causal" if kind == "mod" else "") + ("" if weights == "f32" else "_f16")
                ids = greedy(rm, prompt, a.greedy_tokens, "causal")
                res["greedy"][name] = {"tokens": ids, "text": tok.decode(ids)}
                print("greedy", name, repr(tok.decode(ids)), file=sys.stderr, flush=True)

    # ---- sampled text (PyTorch, training-side implementation), for the README
    for kind in ("mod", "dense"):
        model, tok = loaded[kind]
        rule = "causal" if model.cfg.mod_layers else "dense"
        for prompt_text in ("And God said,", "In the beginning"):
            ids = T.generate(model, tok, prompt_text, 96, rule, temperature=0.8, top_k=40, seed=42)
            res["samples"].setdefault(kind, []).append({"prompt": prompt_text, "temperature": 0.8, "top_k": 40,
                                                        "seed": 42, "text": prompt_text + tok.decode(ids)})

    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print("wrote", a.out, file=sys.stderr)


if __name__ == "__main__":
    main()
