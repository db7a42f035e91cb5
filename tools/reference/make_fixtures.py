#!/usr/bin/env python3
"""Writes the small random checkpoints under tests/fixtures/ (see tests/fixtures/README.md).

    /usr/bin/python3 tools/reference/make_fixtures.py [--out tests/fixtures] [--only NAME,...]

Every fixture is deterministic (torch.manual_seed per fixture). Expected logits are computed by
model.py in float64 from the checkpoint as written (after F16/BF16 rounding), then cast to float32.
Router and predictor scores are checked to be at least MARGIN apart from each other and from the
threshold under both rules, so float32 and float64 evaluation select the same tokens; a fixture
that misses the margin is regenerated with the next seed.
"""

import argparse
import sys
sys.dont_write_bytecode = True
import json
import math
import os
import re
import shutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model as ref  # noqa: E402

MARGIN = 1e-3

# ----------------------------------------------------------------------------------------------
# byte-level BPE (GPT-2 layout)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
        list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return bs, [chr(c) for c in cs]   # byte order of the first 256 ids, and their strings


_BS, _CS = bytes_to_unicode()
BYTE_CHAR = {b: c for b, c in zip(_BS, _CS)}

# GPT-2 pre-tokenization with ASCII classes; every byte >= 0x80 counts as a letter.
_L = rb"A-Za-z\x80-\xff"
PRETOK = re.compile(rb"'s|'t|'re|'ve|'m|'ll|'d| ?[" + _L + rb"]+| ?[0-9]+| ?[^\s0-9" + _L + rb"]+|\s+(?!\S)|\s+")


def pretokenize(data):
    pieces = PRETOK.findall(data)
    assert b"".join(pieces) == data
    return pieces


def to_symbols(piece):
    return [BYTE_CHAR[b] for b in piece]


def learn_bpe(text, n_merges):
    words = {}
    for p in pretokenize(text.encode("utf-8")):
        words[tuple(to_symbols(p))] = words.get(tuple(to_symbols(p)), 0) + 1
    vocab = {c: i for i, c in enumerate(_CS)}
    merges = []
    while len(merges) < n_merges:
        counts = {}
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + c
        cands = [(-c, pair) for pair, c in counts.items() if pair[0] + pair[1] not in vocab]
        if not cands:
            break
        _, (a, b) = min(cands)
        merges.append((a, b))
        vocab[a + b] = len(vocab)
        new = {}
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        words = new
    return vocab, merges


def bpe_encode(data, vocab, merges):
    rank = {m: i for i, m in enumerate(merges)}
    ids = []
    for piece in pretokenize(data):
        sym = to_symbols(piece)
        while len(sym) > 1:
            best, at = None, -1
            for i in range(len(sym) - 1):
                r = rank.get((sym[i], sym[i + 1]))
                if r is not None and (best is None or r < best):   # leftmost on equal rank
                    best, at = r, i
            if best is None:
                break
            sym = sym[:at] + [sym[at] + sym[at + 1]] + sym[at + 2:]
        ids.extend(vocab[s] for s in sym)
    return ids


TRAIN_TEXT = (
    "The quick brown fox jumps over the lazy dog. The dog was not amused, and the fox ran into "
    "the forest where the other foxes were waiting. In the beginning there was the word, and the "
    "word was with the reader. It is a truth universally acknowledged that a single man in "
    "possession of a good fortune must be in want of a wife. We'll see what they've done; I'm sure "
    "it's there. Numbers like 1984 and 2024 appear in the text, and so do 3.14 and 42.\n"
    "Then the three of them went on together, talking about the weather and the things that "
    "happen when nobody is watching the other side of the river.\n"
)

TOKENIZE_CASES = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "We'll see what they've done; I'm sure it's there, isn't it?",
    "UPPER 'S 'LL case and 're 'd 'm",
    "  leading spaces and trailing   ",
    "tabs\tand\nnewlines\n\n end\r\n",
    "numbers 12345 and 3.14, x2y, 1,000,000",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber",
    "\u65e5\u672c\u8a9e text \u4e2d\u6587",
    "emoji \U0001F600!? ok \u2014 done",
    "punct!!! ... --- $$$ (a) [b] {c}",
    "a  b   c    d",
    "the the the, theory; thethe",
]


def tokenizer_json(vocab, merges, eos, merges_as_list):
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": eos, "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
            "vocab": vocab,
            "merges": [[a, b] for a, b in merges] if merges_as_list else [f"{a} {b}" for a, b in merges],
        },
    }


# ----------------------------------------------------------------------------------------------
# fixtures

BASE = dict(d=32, L=3, H=4, Hkv=4, F=64, V=300, S=24, tied=True, qkv_bias=False, dtype="F32",
            vec_dtype=None, eps=1e-5, theta=10000.0, max_pos=64, router_bias=True, predictor=None, Fp=16,
            mod=None, convert_args=None, router_alias=None, predictor_alias=None, wrapper=None,
            shared_router=False, shards=1, tokenizer=None, n_merges=0, seed=0, note="",
            family="llama", hd=None, o_bias=False, mlp_bias=False, cfg={})

FIXTURES = [
    dict(name="basic", seed=101,
         note="canonical names, F32, MHA 4/4, tied output, routed [1]; residual router input, identity "
              "scale, delta combine, absolute positions, router decision, capacity 0.25, threshold 0",
         mod=dict(mod_layers=[1], mod_capacity=0.25, mod_router_input="residual", mod_router_scale="identity",
                  mod_combine="delta", mod_positions="absolute", mod_decision="router", mod_threshold=0.0)),
    dict(name="gqa_bias_predictor", seed=202, Hkv=2, qkv_bias=True, tied=False, eps=1e-6, theta=1000.0,
         predictor="mlp", Fp=16, tie_at_boundary=True,
         note="canonical names, GQA 4/2, q/k/v biases, separate lm_head, routed [0, 2] with per-block "
              "capacities [1/3, 0.5] (float32(1/3)*24 needs the 1e-6 of the k rule), normed router input, "
              "sigmoid scale, delta combine, compacted positions, MLP predictor (predictor.{0,2}), "
              "threshold 0.25, rope_theta 1000, eps 1e-6; tokens.txt repeats a token so that block 0's "
              "8th and 9th largest top-k scores are exactly equal (tie rule: lower index wins)",
         mod=dict(mod_layers=[0, 2], mod_capacity=[1.0 / 3.0, 0.5], mod_router_input="normed",
                  mod_router_scale="sigmoid", mod_combine="delta", mod_positions="compacted",
                  mod_decision="predictor", mod_threshold=0.25)),
    dict(name="f16_mlp_linear", seed=303, Hkv=1, dtype="F16", predictor="linear",
         note="F16 tensors, multi-query 4/1, tied, routed [1, 2], residual router input, identity scale, "
              "mlp combine, absolute positions, linear predictor (predictor.{weight,bias}), "
              "threshold -0.2, capacity 0.5",
         mod=dict(mod_layers=[1, 2], mod_capacity=0.5, mod_router_input="residual",
                  mod_router_scale="identity", mod_combine="mlp", mod_positions="absolute",
                  mod_decision="predictor", mod_threshold=-0.2)),
    dict(name="alias_weight_predictor_block", seed=404, dtype="BF16", vec_dtype="F32", tied=False,
         router_alias="router.weight_predictor", wrapper="block.",
         note="BF16 matrices with F32 norms, separate lm_head; router as router.weight_predictor."
              "{weight,bias}, routed block tensors wrapped in block.; routed [1], normed, sigmoid, "
              "mlp combine, compacted positions, router decision, capacity 0.375",
         mod=dict(mod_layers=[1], mod_capacity=0.375, mod_router_input="normed", mod_router_scale="sigmoid",
                  mod_combine="mlp", mod_positions="compacted", mod_decision="router", mod_threshold=0.0)),
    dict(name="alias_router_router_decoder_layer", seed=505, Hkv=2, predictor="mlp", Fp=12, dtype="BF16",
         vec_dtype="F32",
         router_alias="router.router", predictor_alias="aux_router", wrapper="decoder_layer.",
         note="BF16 matrices with F32 vectors; router as router.router.{weight,bias}, MLP predictor as aux_router.{0,2}.{weight,bias}, "
              "routed block tensors wrapped in decoder_layer.; GQA 4/2, routed [1, 2], residual, identity, "
              "delta, compacted, predictor decision, capacity [0.25, 0.75], threshold 0.1",
         mod=dict(mod_layers=[1, 2], mod_capacity=[0.25, 0.75], mod_router_input="residual",
                  mod_router_scale="identity", mod_combine="delta", mod_positions="compacted",
                  mod_decision="predictor", mod_threshold=0.1)),
    dict(name="alias_mod_router_tdb", seed=606, dtype="F16", router_bias=False, predictor="linear",
         router_alias="mod_router", predictor_alias="aux_mlp", wrapper="transformer_decoder_block.",
         note="F16; router as mod_router.weight (no router bias), linear predictor as aux_mlp.{weight,bias}, "
              "routed block tensors wrapped in transformer_decoder_block.; routed [1], normed, identity, "
              "delta, absolute, predictor decision, capacity 0.125, threshold -0.3",
         mod=dict(mod_layers=[1], mod_capacity=0.125, mod_router_input="normed", mod_router_scale="identity",
                  mod_combine="delta", mod_positions="absolute", mod_decision="predictor",
                  mod_threshold=-0.3)),
    dict(name="alias_router_mlp_sharded", seed=707, Hkv=2, tied=False, qkv_bias=True, shards=3,
         dtype="BF16", vec_dtype="F16",
         router_alias="router_mlp",
         note="BF16 matrices with F16 vectors; router as router_mlp.{weight,bias}; three shards + model.safetensors.index.json; GQA 4/2, "
              "q/k/v biases, separate lm_head, routed [0, 2], residual, sigmoid, delta, absolute, router "
              "decision, capacity 0.5, threshold 0.15",
         mod=dict(mod_layers=[0, 2], mod_capacity=0.5, mod_router_input="residual", mod_router_scale="sigmoid",
                  mod_combine="delta", mod_positions="absolute", mod_decision="router", mod_threshold=0.15)),
    dict(name="shared_router_noconfig", seed=808, L=4, shared_router=True, dtype="F16",
         convert_args="--mod-layers 1,3 --capacity 0.25,0.5 --router-input normed --router-scale identity "
                      "--combine mlp --positions compacted --decision router --threshold 0.05",
         note="F16; one router stored once as model.router.{weight,bias}, shared by routed blocks 1 and 3; "
              "config.json has no mod_* keys, convert_args.txt supplies them (normed, identity, mlp "
              "combine, compacted, router decision, capacities [0.25, 0.5], threshold 0.05)"),
    dict(name="tok_bpe_str", seed=909, L=2, tokenizer="str", n_merges=47, dtype="F16",
         note="byte-level BPE tokenizer.json with merges as \"a b\" strings (256 byte tokens in GPT-2 "
              "order, 47 merges, <|endoftext|> = bos = eos = 303); routed [1] with every other mod_* key "
              "absent (defaults: capacity 0.125, residual, identity, delta, absolute, router, 0)",
         mod=dict(mod_layers=[1])),
    # the families of MODEL.md "Variants", each with its real config.json keys
    dict(name="fam_llama31", seed=1111, Hkv=2, tied=False, qkv_bias=True, o_bias=True, mlp_bias=True, hd=12,
         theta=500000.0, max_pos=128,
         cfg={"head_dim": 12, "attention_bias": True, "mlp_bias": True,
              "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                               "original_max_position_embeddings": 32, "rope_type": "llama3"}},
         note="llama (Llama 3.1): llama3 RoPE scaling (factor 8, 1, 4, original 32), head_dim 12 (H hd 48 > d 32), "
              "attention_bias (q, k, v and o) and mlp_bias, GQA 4/2, theta 5e5; routed [1], capacity 0.5",
         mod=dict(mod_layers=[1], mod_capacity=0.5)),
    dict(name="fam_mistral", seed=1212, Hkv=1, tied=False, family="mistral", dtype="BF16", vec_dtype="F32",
         cfg={"sliding_window": 5, "head_dim": 8},
         note="mistral: sliding_window 5 in every block (dense and routed), MQA 4/1, BF16 matrices; routed [1] with "
              "compacted positions (the window stays on context positions), capacity 0.5",
         mod=dict(mod_layers=[1], mod_capacity=0.5, mod_positions="compacted")),
    dict(name="fam_qwen2", seed=1313, Hkv=2, qkv_bias=True, family="qwen2", theta=1000000.0,
         cfg={"use_sliding_window": False, "sliding_window": 4096, "max_window_layers": 21},
         note="qwen2: q/k/v biases, tied, use_sliding_window false (no window), theta 1e6; routed [2], capacity 0.5",
         mod=dict(mod_layers=[2], mod_capacity=0.5)),
    dict(name="fam_gemma", seed=1414, Hkv=1, family="gemma", hd=16, dtype="BF16",
         cfg={"head_dim": 16, "hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh"},
         note="gemma: GeGLU with the tanh GELU, head_dim 16 (H hd 64 > d 32), MQA, tied, RMSNorm gains 1 + w "
              "(stored w near 0), the normalizer sqrt(32) in bfloat16 (5.65625), BF16; routed [1], normed router "
              "input, capacity 0.5",
         mod=dict(mod_layers=[1], mod_capacity=0.5, mod_router_input="normed")),
    dict(name="tok_bpe_list", seed=1010, L=2, Hkv=2, tokenizer="list", n_merges=60, dtype="BF16",
         vec_dtype="F32",
         note="byte-level BPE tokenizer.json with merges as [\"a\", \"b\"] lists (60 merges, "
              "<|endoftext|> = 316); an all-dense model (no mod_* keys, no convert_args.txt)"),
]


def gen_weights(fx, routed):
    d, F, V, H, Hkv, L = fx["d"], fx["F"], fx["V"], fx["H"], fx["Hkv"], fx["L"]
    hd = fx["hd"] or d // H
    gemma = fx["family"] == "gemma"
    w = {}
    mat = lambda o, i: torch.randn(o, i, dtype=torch.float64) / math.sqrt(i)
    # Gemma stores the w of its gains 1 + w
    gain = lambda: (0.0 if gemma else 1.0) + 0.1 * torch.randn(d, dtype=torch.float64)
    # Gemma scales the embedding by sqrt(d): keep the block inputs of order 1
    w["model.embed_tokens.weight"] = torch.randn(V, d, dtype=torch.float64) / (math.sqrt(d) if gemma else 1.0)
    for i in range(L):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = gain()
        w[p + "self_attn.q_proj.weight"] = mat(H * hd, d)
        w[p + "self_attn.k_proj.weight"] = mat(Hkv * hd, d)
        w[p + "self_attn.v_proj.weight"] = mat(Hkv * hd, d)
        w[p + "self_attn.o_proj.weight"] = mat(d, H * hd)
        if fx["qkv_bias"]:
            w[p + "self_attn.q_proj.bias"] = 0.2 * torch.randn(H * hd, dtype=torch.float64)
            w[p + "self_attn.k_proj.bias"] = 0.2 * torch.randn(Hkv * hd, dtype=torch.float64)
            w[p + "self_attn.v_proj.bias"] = 0.2 * torch.randn(Hkv * hd, dtype=torch.float64)
        if fx["o_bias"]:
            w[p + "self_attn.o_proj.bias"] = 0.2 * torch.randn(d, dtype=torch.float64)
        w[p + "post_attention_layernorm.weight"] = gain()
        w[p + "mlp.gate_proj.weight"] = mat(F, d)
        w[p + "mlp.up_proj.weight"] = mat(F, d)
        w[p + "mlp.down_proj.weight"] = mat(d, F)
        if fx["mlp_bias"]:
            w[p + "mlp.gate_proj.bias"] = 0.2 * torch.randn(F, dtype=torch.float64)
            w[p + "mlp.up_proj.bias"] = 0.2 * torch.randn(F, dtype=torch.float64)
            w[p + "mlp.down_proj.bias"] = 0.2 * torch.randn(d, dtype=torch.float64)
        if i in routed:
            w[p + "router.weight"] = torch.randn(1, d, dtype=torch.float64) / math.sqrt(d)
            if fx["router_bias"]:
                w[p + "router.bias"] = 0.2 * torch.randn(1, dtype=torch.float64)
            if fx["predictor"] == "mlp":
                w[p + "predictor.0.weight"] = mat(fx["Fp"], d)
                w[p + "predictor.0.bias"] = 0.3 * torch.randn(fx["Fp"], dtype=torch.float64)
                w[p + "predictor.2.weight"] = mat(1, fx["Fp"])
                w[p + "predictor.2.bias"] = 0.2 * torch.randn(1, dtype=torch.float64)
            elif fx["predictor"] == "linear":
                w[p + "predictor.weight"] = mat(1, d)
                w[p + "predictor.bias"] = 0.2 * torch.randn(1, dtype=torch.float64)
    w["model.norm.weight"] = gain()
    if not fx["tied"]:
        w["lm_head.weight"] = mat(V, d)
    if fx["shared_router"]:
        first = f"model.layers.{routed[0]}."
        for i in routed[1:]:
            w[f"model.layers.{i}.router.weight"] = w[first + "router.weight"]
            if fx["router_bias"]:
                w[f"model.layers.{i}.router.bias"] = w[first + "router.bias"]
    return w


def stored_names(fx, w, routed):
    """Canonical name -> name written to the checkpoint (None: not written)."""
    out = {}
    for name in w:
        new = name
        m = re.match(r"model\.layers\.(\d+)\.(.*)$", name)
        if m:
            i, suf = int(m.group(1)), m.group(2)
            if i in routed:
                if suf.startswith("router."):
                    if fx["shared_router"]:
                        new = ("model." + suf) if i == routed[0] else None
                    elif fx["router_alias"]:
                        new = f"model.layers.{i}.{fx['router_alias']}.{suf[len('router.'):]}"
                elif suf.startswith("predictor."):
                    if fx["predictor_alias"]:
                        new = f"model.layers.{i}.{fx['predictor_alias']}.{suf[len('predictor.'):]}"
                elif fx["wrapper"]:
                    new = f"model.layers.{i}.{fx['wrapper']}{suf}"
        out[name] = new
    return out


def write_checkpoint(fx, w, routed, out):
    names = stored_names(fx, w, routed)
    tensors, dtypes = {}, {}
    for name, t in w.items():
        sn = names[name]
        if sn is None:
            continue
        dt = fx["dtype"]
        if t.dim() == 1 and fx["vec_dtype"]:
            dt = fx["vec_dtype"]
        tensors[sn] = t.to(torch.float32)
        dtypes[sn] = dt
    if fx["shards"] == 1:
        ref.write_safetensors(os.path.join(out, "model.safetensors"), tensors, dtypes, metadata={"format": "pt"})
        return
    n = fx["shards"]
    # split by layer: shard 0 gets the embedding, the last one the final norm and lm_head
    def shard_of(name):
        m = re.match(r"model\.layers\.(\d+)\.", name)
        if m:
            return min(n - 1, int(m.group(1)) * n // fx["L"])
        return 0 if "embed" in name else n - 1
    parts = [dict() for _ in range(n)]
    for name, t in tensors.items():
        parts[shard_of(name)][name] = t
    wmap, total = {}, 0
    for k, part in enumerate(parts):
        fn = f"model-{k + 1:05d}-of-{n:05d}.safetensors"
        total += ref.write_safetensors(os.path.join(out, fn), part, dtypes, metadata={"format": "pt"})
        for name in part:
            wmap[name] = fn
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(wmap.items()))}, f, indent=2)
        f.write("\n")


def config_json(fx, extra):
    c = {
        "architectures": [ref.FAMILIES[fx["family"]]],
        "model_type": fx["family"],
        "hidden_size": fx["d"],
        "intermediate_size": fx["F"],
        "num_hidden_layers": fx["L"],
        "num_attention_heads": fx["H"],
        "num_key_value_heads": fx["Hkv"],
        "vocab_size": fx["V"],
        "max_position_embeddings": fx["max_pos"],
        "rms_norm_eps": fx["eps"],
        "rope_theta": fx["theta"],
        "tie_word_embeddings": fx["tied"],
        "hidden_act": "silu",
        "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[fx["dtype"]],
    }
    if fx["family"] == "gemma":
        c.pop("hidden_act")
    c.update(fx["cfg"])
    c.update(extra)
    if fx["mod"]:
        c.update(fx["mod"])
    return c


def check_margins(m, toks, where):
    """float64 traces of both rules: router scores pairwise >= MARGIN apart, decision values
    >= MARGIN from the threshold, and a non-trivial selection. Returns a failure message or None."""
    for rule in ("topk", "causal"):
        tr = []
        ref.forward(m, toks, rule, dtype=torch.float64, trace=tr)
        for t in tr:
            r = t["r"]
            rs, order = torch.sort(r)
            for j in range(len(rs) - 1):
                gap = float(rs[j + 1] - rs[j])
                a, b = int(order[j]), int(order[j + 1])
                if gap < MARGIN and not (gap == 0 and torch.equal(t["u"][a], t["u"][b])):
                    return f"{where}: {rule} block {t['layer']}: router scores only {gap:.2e} apart"
            if float(r.std()) < 0.3 or float(r.std()) > 5 or bool((r > 0).all()) or bool((r < 0).all()):
                return f"{where}: {rule} block {t['layer']}: router scores not of order 1 with mixed signs"
            if rule == "causal":
                for label, a in (("router", r), ("decision", t["a"])):
                    dist = float((a - t["threshold"]).abs().min())
                    if dist < MARGIN:
                        return f"{where}: causal block {t['layer']}: {label} value {dist:.2e} from the threshold"
                n = t["selected"].numel()
                if n == 0 or n == len(toks):
                    return f"{where}: causal block {t['layer']}: {n} of {len(toks)} tokens selected"
    return None


def make_boundary_tie(m, toks):
    """Repeats a token so that, at the first routed block (block 0, where a score depends on the
    token only), the k-th and (k+1)-th largest top-k scores are exactly equal: the tie rule
    (lower index wins) decides which copy is selected."""
    li = m.routed[0]
    assert li == 0
    tr = []
    ref.forward(m, toks, "topk", dtype=torch.float64, trace=tr)
    r = tr[0]["r"]
    k = ref.capacity_k(m.capacity[li], len(toks))
    order = torch.sort(-r, stable=True).indices
    toks = list(toks)
    toks[int(order[k])] = toks[int(order[k - 1])]
    return toks


def calibrate(fx, w, routed, overrides, toks, tmp):
    """Scales each router (and predictor output layer) so its scores are of order 1, in layer order."""
    order = routed[:1] if fx["shared_router"] else routed
    for li in order:
        p = f"model.layers.{li}."
        write_checkpoint(fx, w, routed, tmp)
        m = ref.load(tmp, overrides)
        tr = []
        ref.forward(m, toks, "topk", dtype=torch.float64, trace=tr)
        u = next(t["u"] for t in tr if t["layer"] == li)
        s = float((u @ w[p + "router.weight"][0]).std())
        w[p + "router.weight"] /= s
        if fx["predictor"] == "mlp":
            hid = torch.nn.functional.silu(u @ w[p + "predictor.0.weight"].T + w[p + "predictor.0.bias"])
            z = hid @ w[p + "predictor.2.weight"][0]
            w[p + "predictor.2.weight"] /= float(z.std())
            w[p + "predictor.2.bias"] -= float(z.mean() / z.std())   # centre: mixed signs
        elif fx["predictor"] == "linear":
            w[p + "predictor.weight"] /= float((u @ w[p + "predictor.weight"][0]).std())
        if fx["shared_router"]:
            for i in routed[1:]:
                w[f"model.layers.{i}.router.weight"] = w[p + "router.weight"]


def build(fx, outdir):
    fx = {**BASE, **fx}
    out = os.path.join(outdir, fx["name"])
    routed = list((fx["mod"] or {}).get("mod_layers", []))
    overrides = None
    if fx["convert_args"]:
        overrides = ref.parse_convert_args(fx["convert_args"])
        routed = list(overrides["mod_layers"])
    extra, vocab, merges = {}, None, None
    if fx["tokenizer"]:
        vocab, merges = learn_bpe(TRAIN_TEXT, fx["n_merges"])
        assert len(merges) == fx["n_merges"]
        eos = len(vocab)
        vocab["<|endoftext|>"] = eos
        fx["V"] = len(vocab)
        extra = {"bos_token_id": eos, "eos_token_id": eos}
    for attempt in range(100):
        seed = fx["seed"] + 1000 * attempt
        torch.manual_seed(seed)
        if fx["tokenizer"]:
            toks = [eos] + bpe_encode(b"It is a truth universally acknowledged that a single man in "
                                      b"possession of 3 foxes", vocab, merges)
            toks = toks[:fx["S"]]
        else:
            toks = torch.randperm(fx["V"])[:fx["S"]].tolist()   # distinct: no exact score ties
        w = gen_weights(fx, routed)
        if os.path.exists(out):
            shutil.rmtree(out)
        os.makedirs(out)
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(config_json(fx, extra), f, indent=2)
            f.write("\n")
        if routed:
            calibrate(fx, w, routed, overrides, toks, out)
        write_checkpoint(fx, w, routed, out)
        m = ref.load(out, overrides)
        if fx.get("tie_at_boundary"):
            toks = make_boundary_tie(m, toks)
        err = check_margins(m, toks, fx["name"]) if routed else None
        if err is None:
            break
        print(f"  {err}; reseeding", file=sys.stderr)
    else:
        raise SystemExit(f"{fx['name']}: no seed met the margins")
    assert m.routed == routed

    stats = []
    for rule in ("topk", "causal"):
        tr64, tr32 = [], []
        l64 = ref.forward(m, toks, rule, dtype=torch.float64, trace=tr64)
        l32 = ref.forward(m, toks, rule, dtype=torch.float32, trace=tr32)
        for a, b in zip(tr64, tr32):
            assert torch.equal(a["selected"], b["selected"]), (fx["name"], rule, a["layer"])
        rel = float((l64 - l32.double()).abs().max() / l64.abs().max())
        assert rel < 1e-5, (fx["name"], rule, rel)
        assert float(l64.std()) > 0.3, (fx["name"], "logits nearly constant")
        # a prefix of the causal run sees the same logits
        if rule == "causal":
            pre = ref.forward(m, toks[:len(toks) // 2], rule, dtype=torch.float64)
            assert float((pre - l64[:len(pre)]).abs().max()) < 1e-9 * float(l64.abs().max())
        with open(os.path.join(out, f"logits_{rule}.bin"), "wb") as f:
            f.write(l64.to(torch.float32).contiguous().numpy().tobytes())
        stats.append(f"{rule}: " + " ".join(f"b{t['layer']}={t['selected'].numel()}/{len(toks)}" for t in tr64))
    with open(os.path.join(out, "tokens.txt"), "w") as f:
        f.write(",".join(str(t) for t in toks) + "\n")
    if fx["convert_args"]:
        with open(os.path.join(out, "convert_args.txt"), "w") as f:
            f.write(fx["convert_args"] + "\n")
    if fx["tokenizer"]:
        with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tokenizer_json(vocab, merges, eos, fx["tokenizer"] == "list"), f, ensure_ascii=False, indent=1)
            f.write("\n")
        with open(os.path.join(out, "tokenize_cases.txt"), "w") as f:
            for s in TOKENIZE_CASES + [TRAIN_TEXT[:120]]:
                data = s.encode("utf-8")
                f.write(data.hex() + "\t" + ",".join(str(i) for i in bpe_encode(data, vocab, merges)) + "\n")
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(f"{fx['name']}: seed {seed}, V={fx['V']}, {size / 1024:.1f} KiB; " + "; ".join(stats))
    return fx


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.normpath(os.path.join(here, "..", "..", "tests", "fixtures")))
    ap.add_argument("--only", default=None, help="comma-separated fixture names")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    os.makedirs(args.out, exist_ok=True)
    for fx in FIXTURES:
        if only is None or fx["name"] in only:
            build(fx, args.out)


if __name__ == "__main__":
    main()
