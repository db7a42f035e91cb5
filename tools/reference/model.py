#!/usr/bin/env python3
"""PyTorch reference for the computation defined in docs/MODEL.md, with its variants (the llama,
mistral, qwen2 and gemma families of MODEL.md "Variants", read from config.json as mod-convert
reads them, docs/CONVERT.md "Families").

Library use:
    import model
    m = model.load("tests/fixtures/basic")                    # Hugging Face style directory
    logits = model.forward(m, [1, 2, 3], "topk")               # [S, V] float32 tensor
    logits = model.forward(m, toks, "causal", capacity=None, threshold=None, dtype=torch.float64)

Command line:
    python3 tools/reference/model.py DIR --tokens 1,2,3 [--rule topk|causal]
        [--capacity C] [--threshold T] [--float64] [--compare LOGITS.bin] [--tol 1e-4]
        [--convert-args "--mod-layers 1,3 --capacity 0.5"]

DIR holds config.json and model.safetensors, or the shards named by
model.safetensors.index.json. If DIR/convert_args.txt exists it is read as --convert-args
(settings for checkpoints whose config.json lacks the mod_* keys), unless --convert-args is given.

Only torch and the Python standard library are used; the safetensors reader/writer is below.
"""

import argparse
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as Fn

# ----------------------------------------------------------------------------------------------
# safetensors

_DTYPES = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2)}


def read_safetensors(path):
    """Returns ({name: float32 tensor}, {name: dtype string}, metadata dict or None)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ValueError(f"{path}: header length {n} runs past the end of the file")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError(f"{path}: header is not a JSON object")
    base = 8 + n
    size = len(blob) - base
    tensors, dtypes = {}, {}
    meta = header.pop("__metadata__", None)
    for name, info in header.items():
        dt = info["dtype"]
        if dt not in _DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dt}")
        tdtype, esize = _DTYPES[dt]
        shape = [int(s) for s in info["shape"]]
        begin, end = (int(o) for o in info["data_offsets"])
        count = 1
        for s in shape:
            count *= s
        if not (0 <= begin <= end <= size) or end - begin != count * esize:
            raise ValueError(f"{path}: tensor {name}: bad data_offsets {begin},{end} for shape {shape} {dt}")
        raw = bytearray(blob[base + begin:base + end])
        if count == 0:
            t = torch.zeros(shape, dtype=torch.float32)
        elif dt == "F32":
            t = torch.frombuffer(raw, dtype=torch.float32).clone()
        elif dt == "F16":
            t = torch.frombuffer(raw, dtype=torch.float16).float()
        else:  # BF16: the high half of a float32
            bits = torch.frombuffer(raw, dtype=torch.int16).to(torch.int32) & 0xFFFF
            t = (bits << 16).view(torch.float32).clone()
        tensors[name] = t.reshape(shape)
        dtypes[name] = dt
    return tensors, dtypes, meta


def tensor_bytes(t, dt):
    """Little-endian bytes of tensor t stored as dtype dt (F32, F16 or BF16)."""
    t = t.detach().contiguous()
    if dt == "F32":
        return t.to(torch.float32).numpy().tobytes()
    if dt == "F16":
        return t.to(torch.float16).numpy().tobytes()
    if dt == "BF16":
        return t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    raise ValueError(f"unsupported dtype {dt}")


def write_safetensors(path, tensors, dtypes=None, metadata=None, default_dtype="F32"):
    """tensors: {name: tensor}; dtypes: {name: 'F32'|'F16'|'BF16'} (else default_dtype)."""
    dtypes = dtypes or {}
    header, chunks, off = {}, [], 0
    for name, t in tensors.items():
        dt = dtypes.get(name, default_dtype)
        b = tensor_bytes(t, dt)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    if metadata is not None:
        header = {"__metadata__": metadata, **header}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)   # data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)
    return off


def round_to_dtype(t, dt):
    """The value tensor t takes after being stored as dt and read back (as float32)."""
    if dt == "F16":
        return t.to(torch.float16).to(torch.float32)
    if dt == "BF16":
        return t.to(torch.bfloat16).to(torch.float32)
    return t.to(torch.float32)


# ----------------------------------------------------------------------------------------------
# names

_WRAPPERS = ("block.", "decoder_layer.", "transformer_decoder_block.")

# suffix of a tensor inside model.layers.N. (after any wrapper) -> canonical suffix
_LAYER_ALIASES = {
    "router.weight_predictor.weight": "router.weight",
    "router.weight_predictor.bias": "router.bias",
    "router.router.weight": "router.weight",
    "router.router.bias": "router.bias",
    "mod_router.weight": "router.weight",
    "mod_router.bias": "router.bias",
    "router_mlp.weight": "router.weight",
    "router_mlp.bias": "router.bias",
    "aux_router.0.weight": "predictor.0.weight",
    "aux_router.0.bias": "predictor.0.bias",
    "aux_router.2.weight": "predictor.2.weight",
    "aux_router.2.bias": "predictor.2.bias",
    "aux_mlp.weight": "predictor.weight",
    "aux_mlp.bias": "predictor.bias",
}

# a router stored once, shared by all routed blocks
_SHARED_ROUTER = {"model.router.weight": "weight", "model.router.bias": "bias",
                  "router.weight": "weight", "router.bias": "bias"}


def canonical_name(name):
    """Maps an accepted tensor name to its canonical MODEL.md name (or None if not a layer alias)."""
    if name.startswith("model.layers."):
        rest = name[len("model.layers."):]
        idx, dot, suffix = rest.partition(".")
        if dot and idx.isdigit():
            for w in _WRAPPERS:
                if suffix.startswith(w):
                    suffix = suffix[len(w):]
                    break
            suffix = _LAYER_ALIASES.get(suffix, suffix)
            return f"model.layers.{int(idx)}.{suffix}"
    return name


# ----------------------------------------------------------------------------------------------
# config

MOD_DEFAULTS = {
    "mod_layers": [],
    "mod_capacity": 0.125,
    "mod_router_input": "residual",
    "mod_router_scale": "identity",
    "mod_combine": "delta",
    "mod_positions": "absolute",
    "mod_decision": "router",
    "mod_threshold": 0.0,
}

_CHOICES = {
    "mod_router_input": ("residual", "normed"),
    "mod_router_scale": ("identity", "sigmoid"),
    "mod_combine": ("delta", "mlp"),
    "mod_positions": ("absolute", "compacted"),
    "mod_decision": ("router", "predictor"),
}

_CLI_KEYS = {
    "--mod-layers": "mod_layers", "--capacity": "mod_capacity",
    "--router-input": "mod_router_input", "--router-scale": "mod_router_scale",
    "--combine": "mod_combine", "--positions": "mod_positions",
    "--decision": "mod_decision", "--threshold": "mod_threshold",
}


def parse_convert_args(text):
    """Converter-style options ('--mod-layers 1,3 --capacity 0.5 ...') -> dict of mod_* keys."""
    words = text.split()
    out = {}
    if len(words) % 2:
        raise ValueError(f"convert args: option without a value in '{text}'")
    for opt, val in zip(words[0::2], words[1::2]):
        if opt not in _CLI_KEYS:
            raise ValueError(f"convert args: unknown option {opt}")
        key = _CLI_KEYS[opt]
        if key == "mod_layers":
            out[key] = [int(v) for v in val.split(",") if v != ""]
        elif key == "mod_capacity":
            vs = [float(v) for v in val.split(",")]
            out[key] = vs[0] if len(vs) == 1 else vs
        elif key == "mod_threshold":
            out[key] = float(val)
        else:
            out[key] = val
    return out


def f32(x):
    """x rounded to float32, as a Python float (settings are stored as float32)."""
    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


class Model:
    pass


FAMILIES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM", "qwen2": "Qwen2ForCausalLM",
            "gemma": "GemmaForCausalLM"}
_TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_ST_TORCH = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def family_of(cfg):
    """model_type, else the class in architectures, else llama; other families are refused."""
    mt = cfg.get("model_type")
    if mt is not None:
        if mt not in FAMILIES:
            raise ValueError(f"model_type {mt!r} is not one of {sorted(FAMILIES)}")
        return mt
    arch = (cfg.get("architectures") or [None])[0]
    if arch is None:
        return "llama"
    for fam, cls in FAMILIES.items():
        if cls == arch:
            return fam
    raise ValueError(f"architectures {arch!r} is not a class of {sorted(FAMILIES)}")


def rope_scaling_of(cfg):
    """(type, params) of config.json's rope_scaling: ('none', {}), ('linear', {factor}) or
    ('llama3', {factor, low_freq_factor, high_freq_factor, original_max_position_embeddings})."""
    rs = cfg.get("rope_scaling")
    if rs is None:
        return "none", {}
    t = rs.get("rope_type", rs.get("type"))
    if t == "default":
        return "none", {}
    if t == "linear":
        return "linear", {"factor": float(rs["factor"])}
    if t == "llama3":
        return "llama3", {k: float(rs[k]) for k in ("factor", "low_freq_factor", "high_freq_factor",
                                                     "original_max_position_embeddings")}
    raise ValueError(f"rope_scaling type {t!r} is not supported")


def window_of(cfg, family, L):
    """The sliding window (0: none): mistral's sliding_window; qwen2's with use_sliding_window,
    in blocks from max_window_layers on (all of them or none)."""
    w = cfg.get("sliding_window")
    if family in ("llama", "gemma") or not w:
        return 0
    if family == "qwen2":
        if not cfg.get("use_sliding_window", False):
            return 0
        mwl = int(cfg.get("max_window_layers", 0))
        if mwl >= L:
            return 0
        if mwl > 0:
            raise ValueError("a window in some blocks only (max_window_layers)")
    return int(w)


def load(path, overrides=None):
    """Loads a Hugging Face style checkpoint directory. overrides: dict of mod_* keys that
    replace (or supply) the config.json values."""
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    if overrides:
        cfg = {**cfg, **overrides}
    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    raw, dtypes = {}, {}
    for fn in files:
        t, d, _ = read_safetensors(os.path.join(path, fn))
        for k in t:
            if k in raw:
                raise ValueError(f"tensor {k} appears in more than one shard")
        raw.update(t)
        dtypes.update(d)

    m = Model()
    m.config = cfg
    m.dtypes = dtypes
    m.d = int(cfg["hidden_size"])
    m.F = int(cfg["intermediate_size"])
    m.L = int(cfg["num_hidden_layers"])
    m.H = int(cfg["num_attention_heads"])
    m.Hkv = int(cfg.get("num_key_value_heads") or m.H)
    m.V = int(cfg["vocab_size"])
    m.eps = f32(cfg.get("rms_norm_eps", 1e-6))
    m.theta = float(cfg.get("rope_theta", 10000.0))
    m.max_pos = int(cfg.get("max_position_embeddings", 2048))
    m.family = family_of(cfg)
    m.hd = int(cfg.get("head_dim") or 0) or (m.d // m.H)
    if (not cfg.get("head_dim") and m.d % m.H) or m.hd % 2 or m.H % m.Hkv:
        raise ValueError("bad head configuration")
    m.rope_type, m.rope_params = rope_scaling_of(cfg)
    m.window = window_of(cfg, m.family, m.L)
    gemma = m.family == "gemma"
    if gemma:
        act = cfg.get("hidden_activation") or "gelu_pytorch_tanh"
        if act not in ("gelu_pytorch_tanh", "gelu_tanh"):
            raise ValueError(f"hidden_activation {act!r}")
        m.act = "gelu_tanh"
    else:
        if cfg.get("hidden_act", "silu") not in (None, "silu"):
            raise ValueError(f"hidden_act {cfg.get('hidden_act')!r}")
        m.act = "silu"
    m.norm_offset = gemma   # GemmaRMSNorm: the normalized x times (1 + w)

    mod = {k: cfg.get(k, v) for k, v in MOD_DEFAULTS.items()}
    for k, ch in _CHOICES.items():
        if mod[k] not in ch:
            raise ValueError(f"{k}: '{mod[k]}' is not one of {ch}")
    m.routed = [int(i) for i in (mod["mod_layers"] or [])]
    if len(set(m.routed)) != len(m.routed) or any(not 0 <= i < m.L for i in m.routed):
        raise ValueError(f"bad mod_layers {m.routed}")
    caps = mod["mod_capacity"]
    if isinstance(caps, (list, tuple)):
        if len(caps) != len(m.routed):
            raise ValueError("mod_capacity list length differs from mod_layers")
        caps = [f32(c) for c in caps]
    else:
        caps = [f32(caps)] * len(m.routed)
    m.capacity = dict(zip(m.routed, caps))   # in mod_layers order
    for c in caps:
        if not 0 < c <= 1:
            raise ValueError(f"capacity {c} outside (0, 1]")
    m.router_input = mod["mod_router_input"]
    m.router_scale = mod["mod_router_scale"]
    m.combine = mod["mod_combine"]
    m.positions = mod["mod_positions"]
    m.decision = mod["mod_decision"]
    m.threshold = f32(mod["mod_threshold"])

    w = {}
    shared = {}
    for name, t in raw.items():
        if name in _SHARED_ROUTER:
            shared[_SHARED_ROUTER[name]] = t
            continue
        c = canonical_name(name)
        if c in w:
            raise ValueError(f"two tensors map to {c}")
        w[c] = t
    for i in m.routed:
        for part in ("weight", "bias"):
            key = f"model.layers.{i}.router.{part}"
            if key not in w and part in shared:
                w[key] = shared[part]

    def need(name, shape):
        if name not in w:
            raise ValueError(f"missing tensor {name}")
        t = w[name]
        if list(t.shape) != list(shape):
            if t.numel() == math.prod(shape) and len(shape) <= 2 and 1 in shape:
                t = t.reshape(shape)   # e.g. a router weight stored as [d] or a bias as []
            else:
                raise ValueError(f"{name}: shape {list(t.shape)}, expected {list(shape)}")
        return t

    d, F, V, hd, H, Hkv = m.d, m.F, m.V, m.hd, m.H, m.Hkv
    m.embed = need("model.embed_tokens.weight", [V, d])
    m.embed_scale = 1.0
    if gemma:
        # GemmaModel: torch.tensor(hidden_size ** 0.5, dtype=hidden_states.dtype), the dtype the
        # model runs in (config.json torch_dtype, else the embedding's)
        run = _TORCH_DTYPES.get(cfg.get("torch_dtype") or cfg.get("dtype") or "",
                                _ST_TORCH[dtypes[[k for k in raw if canonical_name(k) == "model.embed_tokens.weight"][0]]])
        m.embed_scale = float(torch.tensor(d ** 0.5, dtype=run))
    m.norm = need("model.norm.weight", [d])
    tied = bool(cfg.get("tie_word_embeddings", False))
    if tied or "lm_head.weight" not in w:
        m.lm_head = m.embed
        m.tied = True
    else:
        m.lm_head = need("lm_head.weight", [V, d])
        m.tied = False
    m.layers = []
    for i in range(m.L):
        p = f"model.layers.{i}."
        lay = {
            "g_att": need(p + "input_layernorm.weight", [d]),
            "g_mlp": need(p + "post_attention_layernorm.weight", [d]),
            "wq": need(p + "self_attn.q_proj.weight", [H * hd, d]),
            "wk": need(p + "self_attn.k_proj.weight", [Hkv * hd, d]),
            "wv": need(p + "self_attn.v_proj.weight", [Hkv * hd, d]),
            "wo": need(p + "self_attn.o_proj.weight", [d, H * hd]),
            "w_gate": need(p + "mlp.gate_proj.weight", [F, d]),
            "w_up": need(p + "mlp.up_proj.weight", [F, d]),
            "w_down": need(p + "mlp.down_proj.weight", [d, F]),
        }
        for x, n in (("bq", H * hd), ("bk", Hkv * hd), ("bv", Hkv * hd), ("bo", d)):
            name = p + f"self_attn.{x[1]}_proj.bias"
            lay[x] = need(name, [n]) if name in w else None
        for x, part, n in (("b_gate", "gate", F), ("b_up", "up", F), ("b_down", "down", d)):
            name = p + f"mlp.{part}_proj.bias"
            lay[x] = need(name, [n]) if name in w else None
        if i in m.routed:
            lay["router_w"] = need(p + "router.weight", [1, d]).reshape(d)
            lay["router_b"] = need(p + "router.bias", [1]).reshape(()) if p + "router.bias" in w else None
            if p + "predictor.0.weight" in w:
                fp = w[p + "predictor.0.weight"].shape[0]
                lay["pred"] = ("mlp",
                               need(p + "predictor.0.weight", [fp, d]),
                               need(p + "predictor.0.bias", [fp]) if p + "predictor.0.bias" in w else None,
                               need(p + "predictor.2.weight", [1, fp]).reshape(fp),
                               need(p + "predictor.2.bias", [1]).reshape(()) if p + "predictor.2.bias" in w else None)
            elif p + "predictor.weight" in w:
                lay["pred"] = ("linear",
                               need(p + "predictor.weight", [1, d]).reshape(d),
                               need(p + "predictor.bias", [1]).reshape(()) if p + "predictor.bias" in w else None)
            else:
                lay["pred"] = None
            if m.decision == "predictor" and lay["pred"] is None:
                raise ValueError(f"block {i}: decision predictor but no predictor tensors")
        m.layers.append(lay)
    m.names = sorted(raw)
    return m


# ----------------------------------------------------------------------------------------------
# forward

def rmsnorm(x, g, eps, offset=False):
    """offset (Gemma): the gain is 1 + g."""
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * ((1.0 + g) if offset else g)


def mlp(n, lay, act="silu"):
    gate = Fn.linear(n, lay["w_gate"], lay.get("b_gate"))
    gate = Fn.silu(gate) if act == "silu" else Fn.gelu(gate, approximate="tanh")
    return Fn.linear(gate * Fn.linear(n, lay["w_up"], lay.get("b_up")), lay["w_down"], lay.get("b_down"))


def inv_freq(hd, theta, rope_type="none", params=None):
    """theta^(-2i/hd), i < hd/2, in float64, then scaled as Hugging Face's modeling_rope_utils
    (_compute_linear_scaling_rope_parameters, _compute_llama3_parameters) does."""
    i = torch.arange(hd // 2, dtype=torch.float64)
    inv = theta ** (-2.0 * i / hd)
    if rope_type == "linear":
        return inv / params["factor"]
    if rope_type == "llama3":
        factor, low, high = params["factor"], params["low_freq_factor"], params["high_freq_factor"]
        old = params["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > old / low, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < old / high) & ~(wavelen > old / low)
        return torch.where(medium, smoothed, scaled)
    return inv


def rope(x, pos, theta, rope_type="none", params=None):
    """x: [n, heads, hd]; pos: [n] positions. Rotate-half layout, angle p * f_i (inv_freq)."""
    hd = x.shape[-1]
    half = hd // 2
    inv = inv_freq(hd, theta, rope_type, params)
    ang = pos.to(torch.float64)[:, None] * inv[None, :]
    cos = torch.cos(ang).to(x.dtype)[:, None, :]
    sin = torch.sin(ang).to(x.dtype)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def attention(n, pos, lay, m, ctx=None):
    """Causal self-attention among the rows of n (already normed), at RoPE positions pos; with a
    sliding window, row i sees row j only when ctx[i] - ctx[j] < window (ctx: the rows' context
    positions, default pos)."""
    S = n.shape[0]
    q = Fn.linear(n, lay["wq"], lay["bq"]).view(S, m.H, m.hd)
    k = Fn.linear(n, lay["wk"], lay["bk"]).view(S, m.Hkv, m.hd)
    v = Fn.linear(n, lay["wv"], lay["bv"]).view(S, m.Hkv, m.hd)
    q, k = rope(q, pos, m.theta, m.rope_type, m.rope_params), rope(k, pos, m.theta, m.rope_type, m.rope_params)
    rep = m.H // m.Hkv               # query head h uses kv head h // rep
    k = k.repeat_interleave(rep, dim=1)
    v = v.repeat_interleave(rep, dim=1)
    s = torch.einsum("ihd,jhd->hij", q, k) / math.sqrt(m.hd)
    mask = torch.ones(S, S, dtype=torch.bool).triu(1)
    if m.window:
        c = (pos if ctx is None else ctx).to(torch.int64)
        mask = mask | (c[:, None] - c[None, :] >= m.window)
    s = s.masked_fill(mask, float("-inf"))
    p = torch.softmax(s, dim=-1)
    o = torch.einsum("hij,jhd->ihd", p, v).reshape(S, m.H * m.hd)
    return Fn.linear(o, lay["wo"], lay.get("bo"))


def capacity_k(c, S):
    """k = min(S, max(1, ceil(c*S - 1e-6))), in float64 from the float32 capacity c."""
    return min(S, max(1, math.ceil(float(f32(c)) * S - 1e-6)))


def select_topk(r, k):
    """Indices (ascending) of the k largest scores; equal scores: lower index wins."""
    S = r.shape[0]
    kth = torch.topk(r, k).values[-1]
    above = r > kth
    need = k - int(above.sum())
    tie = r == kth
    tie_rank = torch.cumsum(tie.to(torch.int64), 0)   # 1-based rank among ties, by index
    sel = above | (tie & (tie_rank <= need))
    idx = torch.nonzero(sel).flatten()
    assert idx.numel() == k
    # same answer as a stable sort by (-score, index)
    ref = torch.sort(torch.sort(-r, stable=True).indices[:k]).values
    assert torch.equal(idx, ref)
    return idx


def predictor(u, pred):
    if pred[0] == "mlp":
        _, w1, b1, w2, b2 = pred
        a = Fn.silu(Fn.linear(u, w1, b1)) @ w2
    else:
        _, w2, b2 = pred
        a = u @ w2
    return a + b2 if b2 is not None else a


def forward(m, tokens, rule="topk", capacity=None, threshold=None, dtype=torch.float32, trace=None):
    """Logits [S, V] for the token ids `tokens`, every routed block using `rule` ('topk' or
    'causal'). capacity / threshold override the model's settings. trace: optional list that
    receives one dict per routed block (layer, scores r, decision values a, selected indices)."""
    if rule not in ("topk", "causal"):
        raise ValueError(f"rule must be topk or causal, not {rule}")
    toks = torch.as_tensor(list(tokens), dtype=torch.int64)
    S = toks.numel()
    if S == 0:
        return torch.zeros(0, m.V, dtype=dtype)
    if int(toks.min()) < 0 or int(toks.max()) >= m.V:
        raise ValueError("token id out of range")
    cv = lambda t: None if t is None else t.to(dtype)
    x = m.embed.to(dtype)[toks] * m.embed_scale
    tau = f32(m.threshold if threshold is None else threshold)
    eps, off = m.eps, m.norm_offset
    for li, L in enumerate(m.layers):
        lay = {k: (cv(v) if isinstance(v, torch.Tensor) or v is None else v) for k, v in L.items()}
        if li not in m.routed:
            pos = torch.arange(S)
            h = x + attention(rmsnorm(x, lay["g_att"], eps, off), pos, lay, m)
            x = h + mlp(rmsnorm(h, lay["g_mlp"], eps, off), lay, m.act)
            continue
        u = x if m.router_input == "residual" else rmsnorm(x, lay["g_att"], eps, off)
        r = u @ lay["router_w"]
        if lay["router_b"] is not None:
            r = r + lay["router_b"]
        a = None
        if rule == "topk":
            c = m.capacity[li] if capacity is None else capacity
            sel = select_topk(r, capacity_k(c, S))
        else:
            if m.decision == "router":
                a = r
            else:
                pred = L["pred"]
                a = predictor(u, (pred[0],) + tuple(cv(t) for t in pred[1:]))
            sel = torch.nonzero(a > tau).flatten()
        if trace is not None:
            trace.append({"layer": li, "r": r.detach().clone(), "a": None if a is None else a.detach().clone(),
                          "selected": sel.clone(), "threshold": tau, "u": u.detach().clone()})
        if sel.numel() == 0:
            continue
        xs = x[sel]
        pos = sel if m.positions == "absolute" else torch.arange(sel.numel())
        h = xs + attention(rmsnorm(xs, lay["g_att"], eps, off), pos, lay, m, ctx=sel)
        f = mlp(rmsnorm(h, lay["g_mlp"], eps, off), lay, m.act)
        rs = r[sel]
        g = rs if m.router_scale == "identity" else torch.sigmoid(rs)
        g = g[:, None]
        if m.combine == "delta":
            y = h + f
            new = xs + g * (y - xs)
        else:
            new = h + g * f
        x = x.clone()
        x[sel] = new
    return Fn.linear(rmsnorm(x, m.norm.to(dtype), eps, off), m.lm_head.to(dtype))


# ----------------------------------------------------------------------------------------------
# command line

def read_logits(path, S, V):
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    if len(raw) != S * V * 4:
        raise ValueError(f"{path}: {len(raw)} bytes, expected S*V*4 = {S * V * 4} (S={S}, V={V})")
    return torch.frombuffer(raw, dtype=torch.float32).reshape(S, V).clone()


def main(argv=None):
    ap = argparse.ArgumentParser(description="PyTorch reference forward pass of a MoD checkpoint (docs/MODEL.md)")
    ap.add_argument("dir")
    ap.add_argument("--tokens", required=True, help="comma-separated token ids")
    ap.add_argument("--rule", choices=("topk", "causal"), default="topk")
    ap.add_argument("--capacity", type=float, default=None, help="override every routed block's capacity")
    ap.add_argument("--threshold", type=float, default=None, help="override the causal threshold")
    ap.add_argument("--float64", action="store_true", help="compute in float64")
    ap.add_argument("--convert-args", default=None,
                    help="mod_* settings as converter options (default: DIR/convert_args.txt if present)")
    ap.add_argument("--compare", default=None, help="float32 LE logits file, S rows of V (mod-eval --dump-logits)")
    ap.add_argument("--tol", type=float, default=1e-4, help="max |diff| / max |logit| allowed (default 1e-4)")
    ap.add_argument("--trace", action="store_true", help="print the router scores and selections")
    argv = list(sys.argv[1:] if argv is None else argv)
    for i in range(len(argv) - 1):   # let "--threshold -1e9" through argparse
        if argv[i] in ("--threshold", "--capacity", "--tol") and argv[i + 1].startswith("-"):
            argv[i:i + 2] = [argv[i] + "=" + argv[i + 1], ""]
    args = ap.parse_args([a for a in argv if a != ""])

    ca = args.convert_args
    if ca is None and os.path.exists(os.path.join(args.dir, "convert_args.txt")):
        with open(os.path.join(args.dir, "convert_args.txt")) as f:
            ca = f.read().strip()
    m = load(args.dir, parse_convert_args(ca) if ca else None)
    toks = [int(t) for t in args.tokens.split(",") if t.strip() != ""]
    dtype = torch.float64 if args.float64 else torch.float32
    trace = []
    logits = forward(m, toks, args.rule, args.capacity, args.threshold, dtype, trace)
    S, V = logits.shape
    print(f"model: {m.family} d={m.d} layers={m.L} heads={m.H}/{m.Hkv} hd={m.hd} F={m.F} V={V} routed={m.routed} "
          f"rule={args.rule} S={S} dtype={'float64' if args.float64 else 'float32'}")
    for t in trace:
        print(f"  block {t['layer']}: {t['selected'].numel()}/{S} selected")
        if args.trace:
            print("    r =", [round(float(v), 5) for v in t["r"]])
            if t["a"] is not None and t["a"] is not t["r"]:
                print("    a =", [round(float(v), 5) for v in t["a"]])
            print("    selected =", t["selected"].tolist())
    lf = logits.double()
    print(f"logits: mean {lf.mean():.6f} std {lf.std():.6f} min {lf.min():.6f} max {lf.max():.6f}")
    print("argmax:", lf.argmax(-1).tolist())
    if args.compare:
        other = read_logits(args.compare, S, V).double()
        diff = (other - lf).abs()
        scale = max(float(lf.abs().max()), 1e-30)
        rel = float(diff.max()) / scale
        row = int(diff.max(-1).values.argmax())
        print(f"compare: max |diff| {float(diff.max()):.3e} (row {row}), max |logit| {scale:.4f}, "
              f"ratio {rel:.3e} (tol {args.tol:g})")
        if not rel <= args.tol:
            print("compare: FAIL")
            return 1
        print("compare: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
