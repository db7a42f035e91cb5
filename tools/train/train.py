#!/usr/bin/python3
"""Train a small Mixture-of-Depths (or dense twin) Llama-style model on the KJV and export it.

The model is exactly docs/MODEL.md (the C engine runs it): RMSNorm pre-norm blocks, RoPE
rotate-half at absolute positions, grouped-query attention, SwiGLU MLP, tied embeddings.
Routed blocks (--mod: every other block, 1, 3, 5, ...) use the paper's setting: router input
"residual", gate = router logit ("identity"), combine "delta", capacity 0.125, top-k over the
training sequence (k = ceil(0.125 S - 1e-6), equal scores: lower index wins). The selected
tokens are gathered in ascending index order, attend causally among themselves with their
original positions, go through the MLP, and x' = x + r (y - x); every other token is unchanged.
An auxiliary binary cross-entropy loss on the router logits (target 1 for the top-k tokens,
0 otherwise, targets without gradient) teaches the sign of r to reproduce the top-k choice, so
that causal routing (r > 0, decision "router", threshold 0) can be used for generation.

For the isoFLOP study (docs/STUDY.md) the routed blocks may also be every block (--routed all),
and the causal decision may come from a small predictor instead of the router's sign (--decision
predictor, the paper's second method): P(u) = w2 . silu(W1 u + b1) + b2 (--predictor-hidden Fp;
0: a linear layer) on the block input u = x with the gradient stopped, trained with binary
cross-entropy against the top-k choice; the router then gets no auxiliary loss. The defaults
are the shipped recipe.

    train.py --mod   --steps N --seed 1234 --out build/train/mod
    train.py --dense --steps N --seed 1234 --out build/train/dense

Writes OUT/config.json, OUT/model.safetensors, OUT/tokenizer.json (a Hugging Face style
directory) and the log OUT.log.jsonl (train loss every --log-every steps, validation loss every
--val-every steps).
"""
import argparse, json, math, os, shutil, struct, sys, time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # the 2 cores are shared: don't spin
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer import Tokenizer, read_docs  # noqa: E402

torch.set_num_threads(2)


# ----------------------------------------------------------------------------------- model
class Config:
    def __init__(self, **kw):
        self.vocab_size = 4096
        self.hidden_size = 192
        self.intermediate_size = 512
        self.num_hidden_layers = 8
        self.num_attention_heads = 6
        self.num_key_value_heads = 2
        self.max_position_embeddings = 256
        self.rms_norm_eps = 1e-5
        self.rope_theta = 10000.0
        self.mod_layers = []
        self.mod_capacity = 0.125
        self.mod_threshold = 0.0
        self.mod_decision = "router"
        self.predictor_hidden = 32
        self.bos_token_id = self.eos_token_id = 4095
        for k, v in kw.items():
            if not hasattr(self, k):
                raise KeyError(k)
            setattr(self, k, v)

    def hf(self):
        return {
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
            "hidden_size": self.hidden_size, "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers, "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads, "vocab_size": self.vocab_size,
            "max_position_embeddings": self.max_position_embeddings, "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta, "tie_word_embeddings": True, "attention_bias": False,
            "bos_token_id": self.bos_token_id, "eos_token_id": self.eos_token_id,
            "torch_dtype": "float32",
            "mod_layers": list(self.mod_layers), "mod_capacity": self.mod_capacity,
            "mod_router_input": "residual", "mod_router_scale": "identity", "mod_combine": "delta",
            "mod_positions": "absolute", "mod_decision": self.mod_decision, "mod_threshold": self.mod_threshold,
        }

    @staticmethod
    def from_hf(j):
        keys = ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "max_position_embeddings", "rms_norm_eps", "rope_theta", "mod_layers",
                "mod_capacity", "mod_threshold", "mod_decision", "bos_token_id", "eos_token_id"]
        for k, v in (("mod_router_input", "residual"), ("mod_router_scale", "identity"), ("mod_combine", "delta"),
                     ("mod_positions", "absolute")):
            assert j.get(k, v) == v, (k, j.get(k))
        assert j.get("tie_word_embeddings", True)
        assert j.get("mod_decision", "router") in ("router", "predictor")
        return Config(**{k: j[k] for k in keys if k in j})


def rms_norm(x, g, eps):
    """x [B, d, T] (channels first), normalized over d."""
    return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + eps) * g[None, :, None]


def lin(x, w):
    """x [B, in, T] -> [B, out, T]. A 1x1 convolution: Debian's torch runs it with oneDNN,
    far faster than its matmul (reference BLAS); the arithmetic is the same."""
    return F.conv1d(x, w[:, :, None])


def rope(x, cos, sin):
    """x [B, heads, hd, T]; cos/sin [B or 1, 1, hd/2, T]: rotate-half layout."""
    h = x.shape[2] // 2
    x1, x2 = x[:, :, :h], x[:, :, h:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=2)


def capacity_k(c, s):
    return min(s, max(1, math.ceil(c * s - 1e-6)))


class Block(nn.Module):
    def __init__(self, cfg, routed):
        super().__init__()
        d, H, Hkv = cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads
        self.H, self.Hkv, self.hd, self.eps = H, Hkv, d // H, cfg.rms_norm_eps
        self.input_layernorm = nn.Parameter(torch.ones(d))
        self.post_attention_layernorm = nn.Parameter(torch.ones(d))
        self.q_proj = nn.Linear(d, H * self.hd, bias=False)
        self.k_proj = nn.Linear(d, Hkv * self.hd, bias=False)
        self.v_proj = nn.Linear(d, Hkv * self.hd, bias=False)
        self.o_proj = nn.Linear(H * self.hd, d, bias=False)
        self.gate_proj = nn.Linear(d, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(d, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, d, bias=False)
        self.routed = routed
        self.capacity = cfg.mod_capacity
        self.threshold = cfg.mod_threshold
        self.decision = cfg.mod_decision
        if routed:
            self.router = nn.Linear(d, 1, bias=True)
            if self.decision == "predictor":
                Fp = cfg.predictor_hidden
                self.predictor = (nn.Sequential(nn.Linear(d, Fp), nn.SiLU(), nn.Linear(Fp, 1)) if Fp
                                  else nn.Linear(d, 1))

    def decide(self, x):
        """The causal decision value a [B, S] on x [B, d, S]: the router score r, or P(x) with
        the gradient stopped at x (the predictor learns the top-k choice; the model ignores it)."""
        if self.decision != "predictor":
            return None
        return self.predictor(x.detach().transpose(1, 2))[..., 0].float()

    def predictor_tensors(self):
        """(docs/MODEL.md name, tensor) of the predictor: predictor.{0,2}.{weight,bias} or
        predictor.{weight,bias}."""
        if not self.routed or self.decision != "predictor":
            return []
        if isinstance(self.predictor, nn.Linear):
            return [("predictor.weight", self.predictor.weight), ("predictor.bias", self.predictor.bias)]
        return [("predictor.%d.%s" % (i, n), getattr(self.predictor[i], n)) for i in (0, 2) for n in ("weight", "bias")]

    def core(self, x, cos, sin):
        """The block on x [B, d, T] whose T tokens attend causally among themselves."""
        B, _, T = x.shape
        H, Hkv, hd = self.H, self.Hkv, self.hd
        n = rms_norm(x, self.input_layernorm, self.eps)
        q = lin(n, self.q_proj.weight).view(B, H, hd, T)
        k = lin(n, self.k_proj.weight).view(B, Hkv, hd, T)
        v = lin(n, self.v_proj.weight).view(B, Hkv, hd, T)
        q, k = rope(q, cos, sin) * (1.0 / math.sqrt(hd)), rope(k, cos, sin)
        if Hkv != H:  # query head h uses key/value head h // (H / Hkv)
            k = k.repeat_interleave(H // Hkv, dim=1)
            v = v.repeat_interleave(H // Hkv, dim=1)
        # scores[b, h, i, j] = q[b, h, :, i] . k[b, h, :, j]: query i, key j
        att = torch.matmul(q.transpose(2, 3), k)
        att = att.masked_fill(self._mask(T), float("-inf")).softmax(-1)
        # out[b, h, c, i] = sum_j v[b, h, c, j] att[b, h, i, j]
        o = torch.matmul(v, att.transpose(2, 3)).reshape(B, H * hd, T)
        h = x + lin(o, self.o_proj.weight)
        m = rms_norm(h, self.post_attention_layernorm, self.eps)
        return h + lin(F.silu(lin(m, self.gate_proj.weight)) * lin(m, self.up_proj.weight), self.down_proj.weight)

    @staticmethod
    def _mask(T, cache={}):
        """True where key j comes after query i (layout [i, j])."""
        if T not in cache:
            cache[T] = torch.ones(T, T, dtype=torch.bool).triu(1)
        return cache[T]

    def forward(self, x, cos_t, sin_t, rule, info):
        B, d, S = x.shape
        if not self.routed or rule == "dense":
            return self.core(x, cos_t[None, None, :, :S], sin_t[None, None, :, :S])
        r = (lin(x, self.router.weight)[:, 0] + self.router.bias).float()   # [B, S], input "residual"
        a = self.decide(x)
        if rule == "topk":
            k = capacity_k(self.capacity, S)
            order = torch.sort(r.detach(), dim=1, descending=True, stable=True).indices[:, :k]
            idx = order.sort(dim=1).values                             # [B, k] ascending
            sel = torch.zeros(B, S, dtype=torch.bool).scatter(1, idx, True)
            info.append({"r": r, "sel": sel, "a": a})
            return self._apply(x, r, idx)
        assert rule == "causal"
        sel = (r if a is None else a).detach() > self.threshold
        info.append({"r": r, "sel": sel, "a": a})
        out = []
        for b in range(B):
            idx = sel[b].nonzero().squeeze(1)[None]
            out.append(self._apply(x[b:b + 1], r[b:b + 1], idx) if idx.numel() else x[b:b + 1])
        return torch.cat(out, 0)

    def _apply(self, x, r, idx):
        B, k = idx.shape
        d = x.shape[1]
        gi = idx[:, None, :].expand(B, d, k)
        xs = x.gather(2, gi)
        cos = self._cos[:, idx].permute(1, 0, 2)[:, None]              # positions "absolute"
        sin = self._sin[:, idx].permute(1, 0, 2)[:, None]
        y = self.core(xs, cos, sin)
        g = r.gather(1, idx)[:, None, :]                               # gate "identity"
        return x.scatter(2, gi, xs + g * (y - xs))                     # combine "delta"


class Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(Block(cfg, i in cfg.mod_layers) for i in range(cfg.num_hidden_layers))
        self.norm = nn.Parameter(torch.ones(cfg.hidden_size))
        hd = cfg.hidden_size // cfg.num_attention_heads
        inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        ang = inv[:, None] * torch.arange(cfg.max_position_embeddings, dtype=torch.int64).float()[None]
        self.register_buffer("cos_t", ang.cos(), persistent=False)   # [hd/2, P]
        self.register_buffer("sin_t", ang.sin(), persistent=False)
        for blk in self.layers:
            blk._cos, blk._sin = self.cos_t, self.sin_t

    def init_weights(self, seed):
        g = torch.Generator().manual_seed(seed)
        L = self.cfg.num_hidden_layers
        with torch.no_grad():
            for name, p in self.named_parameters():
                if ".predictor." in name:
                    continue      # below, from its own generator: the model's weights stay those of the router twin
                if p.dim() == 1 and "router" not in name:
                    p.fill_(1.0)
                elif name.endswith("router.bias"):
                    p.zero_()
                else:
                    std = 0.02 / math.sqrt(2 * L) if name.endswith(("o_proj.weight", "down_proj.weight")) else 0.02
                    p.copy_(torch.randn(p.shape, generator=g) * std)
            gp = torch.Generator().manual_seed(seed + 2)
            for name, p in self.named_parameters():
                if ".predictor." in name:
                    p.copy_(torch.randn(p.shape, generator=gp) * 0.02 if p.dim() == 2 else torch.zeros(p.shape))

    def forward(self, tokens, rule="topk", info=None, vt=False):
        """tokens [B, S] -> logits [B, S, V] ([B, V, S] with vt). rule: "topk" (training),
        "causal" or "dense" (routed blocks take every token: for the dense twin)."""
        if info is None:
            info = []
        x = self.embed_tokens(tokens).transpose(1, 2)                  # [B, d, S]
        for blk in self.layers:
            x = blk(x, self.cos_t, self.sin_t, rule, info)
        x = rms_norm(x, self.norm, self.cfg.rms_norm_eps)
        logits = lin(x, self.embed_tokens.weight)                      # tied
        return logits if vt else logits.transpose(1, 2)

    # ---- MODEL.md tensor names
    def hf_state(self):
        out = {"model.embed_tokens.weight": self.embed_tokens.weight}
        for i, b in enumerate(self.layers):
            p = "model.layers.%d." % i
            out[p + "input_layernorm.weight"] = b.input_layernorm
            for n in ("q", "k", "v", "o"):
                out[p + "self_attn.%s_proj.weight" % n] = getattr(b, n + "_proj").weight
            out[p + "post_attention_layernorm.weight"] = b.post_attention_layernorm
            for n in ("gate", "up", "down"):
                out[p + "mlp.%s_proj.weight" % n] = getattr(b, n + "_proj").weight
            if b.routed:
                out[p + "router.weight"] = b.router.weight
                out[p + "router.bias"] = b.router.bias
                for n, t in b.predictor_tensors():
                    out[p + n] = t
        out["model.norm.weight"] = self.norm
        return {k: v.detach().float().contiguous() for k, v in out.items()}

    def load_hf_state(self, sd):
        own = self.hf_state()
        assert set(own) == set(sd), set(own) ^ set(sd)
        with torch.no_grad():
            self.embed_tokens.weight.copy_(sd["model.embed_tokens.weight"])
            self.norm.copy_(sd["model.norm.weight"])
            for i, b in enumerate(self.layers):
                p = "model.layers.%d." % i
                b.input_layernorm.copy_(sd[p + "input_layernorm.weight"])
                b.post_attention_layernorm.copy_(sd[p + "post_attention_layernorm.weight"])
                for n in ("q", "k", "v", "o"):
                    getattr(b, n + "_proj").weight.copy_(sd[p + "self_attn.%s_proj.weight" % n])
                for n in ("gate", "up", "down"):
                    getattr(b, n + "_proj").weight.copy_(sd[p + "mlp.%s_proj.weight" % n])
                if b.routed:
                    b.router.weight.copy_(sd[p + "router.weight"])
                    b.router.bias.copy_(sd[p + "router.bias"])
                    for n, t in b.predictor_tensors():
                        t.copy_(sd[p + n].view(t.shape))


def n_params(cfg):
    d, F_, V, L = cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size, cfg.num_hidden_layers
    hd = d // cfg.num_attention_heads
    att = d * cfg.num_attention_heads * hd * 2 + d * cfg.num_key_value_heads * hd * 2
    blk = att + 3 * d * F_ + 2 * d
    return V * d + L * blk + len(cfg.mod_layers) * (d + 1 + predictor_params(cfg)) + d


def predictor_params(cfg):
    if cfg.mod_decision != "predictor":
        return 0
    Fp, d = cfg.predictor_hidden, cfg.hidden_size
    return Fp * d + Fp + Fp + 1 if Fp else d + 1


def train_flops_per_seq(cfg, S):
    """Analytic training FLOPs for one sequence of S tokens (forward x 3: forward + backward).

    Matmuls: 2 FLOPs per weight per token in the forward pass. Attention: QK^T and AV, 2*d
    FLOPs each per (query, visible key) pair, causal: a block processing T tokens has
    T(T+1)/2 pairs. Routed blocks process k = ceil(c S) tokens (plus the router on all S).
    The output projection counts; embedding lookups, norms, softmax and elementwise ops don't.
    A predictor (decision "predictor") runs on all S tokens of a routed block: 2 FLOPs per
    weight per token, times 3 like the rest (an upper bound: its stopped gradient spares the
    input gradient)."""
    d, F_, V = cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size
    hd = d // cfg.num_attention_heads
    w_blk = d * cfg.num_attention_heads * hd * 2 + d * cfg.num_key_value_heads * hd * 2 + 3 * d * F_
    fwd = 2 * V * d * S
    for i in range(cfg.num_hidden_layers):
        T = capacity_k(cfg.mod_capacity, S) if i in cfg.mod_layers else S
        fwd += 2 * w_blk * T + 2 * 2 * d * T * (T + 1) // 2
        if i in cfg.mod_layers:
            fwd += 2 * d * S
            if cfg.mod_decision == "predictor":
                Fp = cfg.predictor_hidden
                fwd += 2 * (Fp * d + Fp if Fp else d) * S
    return 3 * fwd


# ------------------------------------------------------------------------------ safetensors
def save_safetensors(path, tensors):
    header, off, blobs = {}, 0, []
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous().cpu()
        b = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, m in header.items():
        if name == "__metadata__":
            continue
        assert m["dtype"] == "F32", m
        a, b = m["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[8 + n + a:8 + n + b]), dtype=torch.float32).view(m["shape"])
    return out


def export(model, tok_path, out):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(model.cfg.hf(), f, indent=2)
        f.write("\n")
    save_safetensors(os.path.join(out, "model.safetensors"), model.hf_state())
    shutil.copyfile(tok_path, os.path.join(out, "tokenizer.json"))


def load_dir(path):
    with open(os.path.join(path, "config.json")) as f:
        cfg = Config.from_hf(json.load(f))
    m = Model(cfg)
    m.load_hf_state(load_safetensors(os.path.join(path, "model.safetensors")))
    m.eval()
    return m, Tokenizer.load(os.path.join(path, "tokenizer.json"))


# ------------------------------------------------------------------------------------ data
def token_stream(tok, docs):
    """<|endoftext|> before every document (so every book starts after one) and at the end."""
    out = []
    for d in docs:
        out.append(tok.eot)
        out.extend(tok.encode(d))
    out.append(tok.eot)
    return torch.tensor(out, dtype=torch.int64)


def load_streams(tok, data_dir, cache_dir):
    path = os.path.join(cache_dir, "tokens.pt")
    key = (tok.vocab_size, len(tok.merges), tuple(tok.merges[-3:]),
           tuple(os.path.getsize(os.path.join(data_dir, n + ".jsonl")) for n in ("train", "val")))
    if os.path.exists(path):
        c = torch.load(path)
        if c["key"] == key:
            return c["train"], c["val"]
    tr = token_stream(tok, read_docs(os.path.join(data_dir, "train.jsonl")))
    va = token_stream(tok, read_docs(os.path.join(data_dir, "val.jsonl")))
    torch.save({"key": key, "train": tr, "val": va}, path)
    return tr, va


def val_windows(stream, S):
    """Non-overlapping windows: inputs stream[i S : (i+1) S], targets shifted by one."""
    n = (len(stream) - 1) // S
    x = stream[:n * S].view(n, S)
    y = stream[1:n * S + 1].view(n, S)
    return x, y


@torch.no_grad()
def evaluate_loss(model, x, y, rule, bs=16):
    tot, cnt = 0.0, 0
    for i in range(0, len(x), bs):
        logits = model(x[i:i + bs], rule=rule, vt=True)
        tot += F.cross_entropy(logits, y[i:i + bs], reduction="sum").item()
        cnt += y[i:i + bs].numel()
    return tot / cnt


@torch.no_grad()
def generate(model, tok, prompt, n, rule, temperature=0.0, top_k=0, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = tok.encode(prompt, bos=True)
    out = []
    for _ in range(n):
        ctx = ids[-model.cfg.max_position_embeddings:]
        logits = model(torch.tensor([ctx]), rule=rule)[0, -1]
        if temperature <= 0:
            t = int(logits.argmax())
        else:
            logits = logits / temperature
            if top_k:
                v, _ = logits.topk(top_k)
                logits[logits < v[-1]] = float("-inf")
            t = int(torch.multinomial(logits.softmax(-1), 1, generator=g))
        ids.append(t)
        out.append(t)
        if t == tok.eot:
            break
    return out


# ----------------------------------------------------------------------------------- train
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    kind = ap.add_mutually_exclusive_group(required=True)
    kind.add_argument("--mod", action="store_true", help="a routed model: blocks 1, 3, 5, ... (see --routed)")
    kind.add_argument("--dense", action="store_true", help="the dense twin: no routing")
    ap.add_argument("--steps", type=int, default=450)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--out", required=True, help="output directory (Hugging Face layout)")
    ap.add_argument("--tokenizer", default="build/train/tokenizer.json")
    ap.add_argument("--data", default="build/train/data")
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--heads", type=int, default=6)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=512)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--capacity", type=float, default=0.125)
    ap.add_argument("--routed", choices=("other", "all"), default="other",
                    help="with --mod: route every other block (1, 3, 5, ...) or every block")
    ap.add_argument("--decision", choices=("router", "predictor"), default="router",
                    help="causal decision: the router's sign (auxiliary BCE loss on the router) or a predictor")
    ap.add_argument("--predictor-hidden", type=int, default=32, help="predictor MLP width (0: a linear predictor)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=40)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--aux", type=float, default=0.1, help="weight of the router BCE loss (per routed block, mean)")
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--short-seq", type=int, default=0,
                    help="train the first --short-steps steps on windows of this many tokens (as many more of them "
                         "as keeps the tokens per step), the rest at --seq: cheaper steps, then the long context")
    ap.add_argument("--short-steps", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the weights depend on it only through rounding)")
    ap.add_argument("--val-windows", type=int, default=64, help="windows used for the periodic val loss")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    tok = Tokenizer.load(a.tokenizer)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    train_s, val_s = load_streams(tok, a.data, os.path.dirname(os.path.abspath(a.tokenizer)))
    S = a.seq
    cfg = Config(vocab_size=tok.vocab_size, hidden_size=a.dim, intermediate_size=a.ffn, num_hidden_layers=a.layers,
                 num_attention_heads=a.heads, num_key_value_heads=a.kv_heads, max_position_embeddings=S,
                 mod_layers=(list(range(1, a.layers, 2)) if a.routed == "other" else list(range(a.layers))) if a.mod else [],
                 mod_capacity=a.capacity, mod_decision=a.decision if a.mod else "router",
                 predictor_hidden=a.predictor_hidden, bos_token_id=tok.eot, eos_token_id=tok.eot)
    torch.manual_seed(a.seed)
    model = Model(cfg)
    model.init_weights(a.seed)
    main_p = [p for n, p in model.named_parameters() if ".predictor." not in n]
    pred_p = [p for n, p in model.named_parameters() if ".predictor." in n]
    decay = [p for n, p in model.named_parameters() if p.dim() == 2 and ".predictor." not in n]
    other = [p for n, p in model.named_parameters() if p.dim() != 2 and ".predictor." not in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd}, {"params": other, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    if pred_p:  # the predictor learns on its own (no weight decay, its own clipping)
        opt.add_param_group({"params": pred_p, "weight_decay": 0.0})
    data_gen = torch.Generator().manual_seed(a.seed + 1)
    vx, vy = val_windows(val_s, S)
    vsub = torch.linspace(0, len(vx) - 1, min(a.val_windows, len(vx))).long()
    if a.short_steps and not (0 < a.short_seq <= S and S % a.short_seq == 0 and a.short_steps <= a.steps):
        sys.exit("train.py: --short-seq must divide --seq and --short-steps must not exceed --steps")
    short = a.short_seq if a.short_steps else S
    flops = train_flops_per_seq(cfg, S) * a.batch
    flops_total = (a.steps - a.short_steps) * flops + a.short_steps * train_flops_per_seq(cfg, short) * (a.batch * S // short)
    log_path = a.out.rstrip("/") + ".log.jsonl"
    log = open(log_path, "w")

    def emit(rec):
        log.write(json.dumps(rec) + "\n")
        log.flush()
        print(" ".join("%s=%s" % (k, ("%.4f" % v) if isinstance(v, float) else v) for k, v in rec.items()),
              file=sys.stderr, flush=True)

    emit({"event": "start", "kind": "mod" if a.mod else "dense", "params": n_params(cfg),
          "train_tokens": len(train_s), "val_tokens": len(val_s), "flops_per_step": flops, "flops_total": flops_total, "args": vars(a)})

    def lr_at(step):
        if step < a.warmup:
            return a.lr * (step + 1) / a.warmup
        t = (step - a.warmup) / max(1, a.steps - a.warmup)
        return a.lr * (a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * t)))

    t0 = time.time()
    t_train = 0.0
    acc = {"loss": 0.0, "aux": 0.0, "n": 0}
    for step in range(a.steps):
        ts = time.time()
        model.train()
        Sx, Bx = (short, a.batch * S // short) if step < a.short_steps else (S, a.batch)
        starts = torch.randint(0, len(train_s) - Sx - 1, (Bx,), generator=data_gen)
        x = torch.stack([train_s[s:s + Sx] for s in starts])
        y = torch.stack([train_s[s + 1:s + Sx + 1] for s in starts])
        for gp in opt.param_groups:
            gp["lr"] = lr_at(step)
        info = []
        logits = model(x, rule="topk", info=info, vt=True)
        loss = F.cross_entropy(logits, y)
        aux = torch.zeros(())
        if info:  # the router's (or the predictor's) BCE against the top-k choice
            aux = sum(F.binary_cross_entropy_with_logits(i["r"] if i["a"] is None else i["a"], i["sel"].float())
                      for i in info) / len(info)
        total = loss + (a.aux * aux if not pred_p else aux)
        opt.zero_grad(set_to_none=True)
        total.backward()
        if a.clip:
            torch.nn.utils.clip_grad_norm_(main_p, a.clip)
            if pred_p:
                torch.nn.utils.clip_grad_norm_(pred_p, a.clip)
        opt.step()
        t_train += time.time() - ts
        acc["loss"] += loss.item()
        acc["aux"] += aux.item()
        acc["n"] += 1
        if (step + 1) % a.log_every == 0 or step + 1 == a.steps:
            rec = {"step": step + 1, "loss": acc["loss"] / acc["n"], "lr": lr_at(step),
                   "s_per_step": t_train / (step + 1), "elapsed": time.time() - t0}
            if info:
                rec["aux"] = acc["aux"] / acc["n"]
                with torch.no_grad():
                    rec["agree"] = sum((((i["r"] if i["a"] is None else i["a"]) > 0) == i["sel"]).float().mean().item()
                                       for i in info) / len(info)
            emit(rec)
            acc = {"loss": 0.0, "aux": 0.0, "n": 0}
        if (step + 1) % a.val_every == 0 or step + 1 == a.steps:
            model.eval()
            rec = {"step": step + 1, "val_topk": evaluate_loss(model, vx[vsub], vy[vsub], "topk")}
            if a.mod:
                rec["val_causal"] = evaluate_loss(model, vx[vsub], vy[vsub], "causal")
            emit(rec)
    model.eval()
    export(model, a.tokenizer, a.out)
    for rule in (("causal", "topk") if a.mod else ("dense",)):
        ids = generate(model, tok, "And God said,", 48, "causal" if rule == "causal" else rule)
        emit({"event": "sample", "rule": rule, "text": tok.decode(ids)})
    emit({"event": "done", "steps": a.steps, "train_seconds": t_train, "s_per_step": t_train / a.steps,
          "wall_seconds": time.time() - t0})


if __name__ == "__main__":
    main()
