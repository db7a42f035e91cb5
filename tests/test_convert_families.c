/* mod-convert on the families of MODEL.md "Variants": for llama (Llama 3.1's llama3 RoPE
   scaling, the older linear scaling, head_dim, attention_bias, mlp_bias), mistral (a sliding
   window, or null), qwen2 (q/k/v biases, use_sliding_window and max_window_layers) and gemma
   (GeGLU, head_dim, tied embeddings, the normalizer, gains 1 + w), a checkpoint directory with
   that family's real config.json keys (small sizes, random weights), dense and with routed
   blocks, is converted; the file must be, byte for byte, the one written here from the same
   weights and the settings MODEL.md says the keys mean (tools/modfile.h), and its logits from
   the engine must match tests/ref.h on that file, top-k and causal, f32. Then what is refused:
   Mixtral, unknown model types, unsupported rope_scaling types, a non-GeGLU Gemma, per-layer
   windows, and malformed keys, each with a message naming the key.
   Usage: test_convert_families [path/to/mod-convert] (default: beside this program). */
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "ckpt.h"

/* One checkpoint: its sizes, tensors and config.json keys, and what the file must say. */
typedef struct fam {
    const char *name;
    const char *keys;    /* the family's config.json keys, besides the sizes */
    const char *dtype;   /* safetensors dtype of every tensor: "F32" or "BF16" */
    int V, d, L, H, Hkv, F, hd, seq;
    int qkv_bias, o_bias, mlp_bias, tied, routed;
    int only_up_bias;    /* the up projection's bias without the other two (refused) */
    /* the file's version 2 fields */
    int activation, norm_offset, rope_scaling, rope_orig, window;
    float embed_scale, rope_factor, rope_low, rope_high, theta;
    unsigned seed;
} fam;

static int is_bias(int role)
{
    return role == MOD__ROLE_Q_BIAS || role == MOD__ROLE_K_BIAS || role == MOD__ROLE_V_BIAS || role == MOD__ROLE_O_BIAS ||
           role == MOD__ROLE_GATE_BIAS || role == MOD__ROLE_UP_BIAS || role == MOD__ROLE_DOWN_BIAS || role == MOD__ROLE_ROUTER_BIAS;
}

/* Is (role, layer) in the checkpoint? */
static int present(const fam *f, int role, int layer)
{
    const int routed = f->routed && (layer == 1 || layer == 3);
    if ((layer < 0) != (role <= MOD__ROLE_OUTPUT)) return 0;
    switch (role) {
    case MOD__ROLE_OUTPUT: return !f->tied;
    case MOD__ROLE_Q_BIAS: case MOD__ROLE_K_BIAS: case MOD__ROLE_V_BIAS: return f->qkv_bias;
    case MOD__ROLE_O_BIAS: return f->o_bias;
    case MOD__ROLE_GATE_BIAS: case MOD__ROLE_DOWN_BIAS: return f->mlp_bias;
    case MOD__ROLE_UP_BIAS: return f->mlp_bias || f->only_up_bias;
    case MOD__ROLE_ROUTER: case MOD__ROLE_ROUTER_BIAS: return routed;
    case MOD__ROLE_PRED_W1: case MOD__ROLE_PRED_B1: case MOD__ROLE_PRED_W2: case MOD__ROLE_PRED_B2: return 0;
    default: return 1;
    }
}

/* The Hugging Face name of (role, layer). */
static void hf_name(char *o, size_t cap, int role, int layer)
{
    static const char *const suffix[MOD__ROLE_COUNT] = {
        "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight", "input_layernorm.weight",
        "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
        "self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias", "post_attention_layernorm.weight",
        "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight", "router.weight", "router.bias",
        0, 0, 0, 0, "self_attn.o_proj.bias", "mlp.gate_proj.bias", "mlp.up_proj.bias", "mlp.down_proj.bias"
    };
    if (layer < 0) snprintf(o, cap, "%s", suffix[role]);
    else snprintf(o, cap, "model.layers.%d.%s", layer, suffix[role]);
}

/* The value i of (role, layer), as stored in the checkpoint (rounded to its dtype). Gemma's
   norm weights are the w of 1 + w, small; everyone else's are gains near 1. */
static float wval(const fam *f, int role, int layer, uint64_t i)
{
    const float u = uval(f->seed, role, layer, i);
    const int qd = f->H * f->hd;
    double v;
    if (role == MOD__ROLE_OUT_NORM || role == MOD__ROLE_ATTN_NORM || role == MOD__ROLE_MLP_NORM) v = f->norm_offset ? 0.2 * u : 1.0 + 0.2 * u;
    else if (role == MOD__ROLE_EMBED) v = f->embed_scale != 1.0f ? u / f->embed_scale * 2.0 : u;
    else if (is_bias(role)) v = 0.2 * u;
    else if (role == MOD__ROLE_O) v = 1.7 / sqrt((double)qd) * u;
    else if (role == MOD__ROLE_DOWN) v = 1.7 / sqrt((double)f->F) * u;
    else v = 1.7 / sqrt((double)f->d) * u;
    return !strcmp(f->dtype, "BF16") ? bf16val((float)v) : (float)v;
}

static mod__dims fam_dims(const fam *f)
{
    return mf_dims((uint64_t)f->V, (uint64_t)f->d, (uint64_t)f->H, (uint64_t)f->Hkv, (uint64_t)f->hd, (uint64_t)f->F, 0);
}

/* config.json and model.safetensors of f in dir. */
static void write_checkpoint(const char *dir, const fam *f)
{
    stlist *l = (stlist *)calloc(1, sizeof *l);
    const mod__dims dims = fam_dims(f);
    char buf[8192], name[200];
    int layer, role, n = 0;
    mkdir_p(dir);
    n += snprintf(buf + n, sizeof buf - (size_t)n,
                  "{\n  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n"
                  "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"vocab_size\": %d,\n"
                  "  \"max_position_embeddings\": %d,\n  \"rms_norm_eps\": 1e-06,\n  \"rope_theta\": %.1f,\n"
                  "  \"tie_word_embeddings\": %s,\n  \"bos_token_id\": 1,\n  \"eos_token_id\": [2, 3],\n%s%s  %s\n}\n",
                  f->d, f->F, f->L, f->H, f->Hkv, f->V, f->seq, (double)f->theta, f->tied ? "true" : "false",
                  f->routed ? "  \"mod_layers\": [1, 3],\n  \"mod_capacity\": 0.5,\n" : "",
                  !strcmp(f->dtype, "BF16") ? "  \"torch_dtype\": \"bfloat16\",\n" : "  \"torch_dtype\": \"float32\",\n", f->keys);
    { char path[4300]; snprintf(path, sizeof path, "%s/config.json", dir); write_str(path, buf); }
    for (layer = -1; layer < f->L; layer++)
        for (role = 0; role < MOD__ROLE_COUNT; role++) {
            uint64_t r, c, shape[2], i, count;
            float *v;
            int nd;
            if (!present(f, role, layer)) continue;
            mf_role_shape(role, &dims, &r, &c);
            count = (r ? r : 1) * c;
            nd = r ? 2 : 1;
            shape[0] = r ? r : c;
            shape[1] = c;
            if (role == MOD__ROLE_ROUTER) { nd = 2; shape[0] = 1; shape[1] = c; } /* nn.Linear(d, 1) */
            v = (float *)malloc((size_t)count * sizeof *v);
            for (i = 0; i < count; i++) v[i] = wval(f, role, layer, i);
            hf_name(name, sizeof name, role, layer);
            st_add(l, name, f->dtype, nd, shape, v);
            free(v);
        }
    { char path[4300]; snprintf(path, sizeof path, "%s/model.safetensors", dir); st_write(path, l, 0, l->n); }
    st_free(l);
    free(l);
}

/* The file the conversion must give: f's weights in f32 and the settings MODEL.md gives its
   config.json keys, written here through tools/modfile.h. */
static unsigned char *expected_file(const fam *f, size_t *size)
{
    const mod__dims dims = fam_dims(f);
    mf_tensor ts[3 + 25 * 8];
    mod__file_header h;
    int routed[8] = { 0 }, layer, role;
    float capacity[8] = { 0 };
    uint32_t n = 0, k;
    unsigned char *b;
    memset(&h, 0, sizeof h);
    h.vocab_size = (uint32_t)f->V; h.dim = (uint32_t)f->d; h.n_layers = (uint32_t)f->L; h.n_heads = (uint32_t)f->H;
    h.n_kv_heads = (uint32_t)f->Hkv; h.hidden_dim = (uint32_t)f->F; h.max_seq_len = (uint32_t)f->seq;
    h.norm_eps = 1e-6f; h.rope_theta = f->theta; h.tied_embeddings = (uint32_t)f->tied;
    h.head_dim = (uint32_t)f->hd; h.activation = (uint32_t)f->activation; h.norm_offset = (uint32_t)f->norm_offset;
    h.embed_scale = f->embed_scale; h.rope_scaling = (uint32_t)f->rope_scaling; h.rope_factor = f->rope_factor;
    h.rope_low_freq_factor = f->rope_low; h.rope_high_freq_factor = f->rope_high;
    h.rope_original_max_pos = (uint32_t)f->rope_orig; h.sliding_window = (uint32_t)f->window;
    if (f->routed) { routed[1] = routed[3] = 1; capacity[1] = capacity[3] = 0.5f; }
    for (layer = -1; layer < f->L; layer++)
        for (role = 0; role < MOD__ROLE_COUNT; role++) {
            if (!present(f, role, layer)) continue;
            memset(&ts[n], 0, sizeof ts[n]);
            ts[n].role = role; ts[n].layer = layer;
            mf_role_shape(role, &dims, &ts[n].rows, &ts[n].cols);
            ts[n].dtype = MOD_DTYPE_F32;
            n++;
        }
    mf_layout(&h, ts, n, 0);
    b = (unsigned char *)calloc((size_t)h.file_size, 1);
    mf_put_prefix(b, &h, routed, capacity, ts, b); /* no tokenizer: nothing is copied */
    for (k = 0; k < n; k++) {
        const uint64_t count = (ts[k].rows ? ts[k].rows : 1) * ts[k].cols;
        float *v = (float *)malloc((size_t)count * sizeof *v);
        uint64_t i;
        for (i = 0; i < count; i++) v[i] = wval(f, ts[k].role, ts[k].layer, i);
        mf_encode(b + h.data_offset + ts[k].offset, v, (size_t)count, MOD_DTYPE_F32);
        free(v);
    }
    mf_set_checksum(b, (size_t)h.file_size);
    *size = (size_t)h.file_size;
    return b;
}

/* Engine logits of the converted file against tests/ref.h on the expected one. */
static double logits_vs_ref(const char *path, const unsigned char *want, size_t want_size, int topk)
{
    enum { N = 20 };
    mod_model *m = load(path);
    mod_session *s = NULL;
    mod_session_desc d;
    int toks[N], i, V;
    int32_t t32[N];
    float *lg;
    double *ref, md = 0, mx = 1e-30;
    if (!m) return 1.0;
    V = mod_model_config(m)->vocab_size;
    for (i = 0; i < N; i++) { toks[i] = (i * 37 + 11) % V; t32[i] = toks[i]; }
    lg = (float *)malloc(sizeof(float) * N * (size_t)V);
    ref = (double *)malloc(sizeof(double) * N * (size_t)V);
    memset(&d, 0, sizeof d);
    d.prompt_routing = topk ? MOD_ROUTING_TOPK : MOD_ROUTING_CAUSAL;
    if (mod_session_create(&s, m, &d, NULL) != MOD_OK || mod_prefill(s, t32, N, lg) != MOD_OK ||
        ref_forward(want, want_size, toks, N, topk ? REF_RULE_TOPK : REF_RULE_CAUSAL, 0, 0, 0, ref) != 0)
        md = 1.0;
    else
        for (i = 0; i < N * V; i++) {
            const double e = fabs((double)lg[i] - ref[i]);
            if (!(e <= md)) md = e;
            if (fabs(ref[i]) > mx) mx = fabs(ref[i]);
        }
    mod_session_free(s);
    mod_model_free(m);
    free(lg); free(ref);
    return md / mx;
}

static void fam_default(fam *f, const char *name, const char *keys)
{
    memset(f, 0, sizeof *f);
    f->name = name; f->keys = keys; f->dtype = "F32";
    f->V = 96; f->d = 32; f->L = 4; f->H = 4; f->Hkv = 2; f->F = 48; f->hd = 8; f->seq = 128;
    f->embed_scale = 1.0f; f->theta = 10000.0f; f->seed = 5;
}

/* Converts f (dense, then routed) and checks the file and its logits. */
static void convert_family(fam *f)
{
    int routed;
    for (routed = 0; routed < 2; routed++) {
        const char *dir = P("%s_%d", f->name, routed), *out = P("%s_%d.mod", f->name, routed);
        unsigned char *want, *got;
        size_t wn, gn = 0;
        int rc, topk;
        f->routed = routed;
        write_checkpoint(dir, f);
        rc = conv(dir, "-o", out, "--tokenizer", "none", NULL);
        if (!check(rc == 0, "%s%s: converts (exit %d: %s)", f->name, routed ? ", routed" : "", rc, g_err)) continue;
        want = expected_file(f, &wn);
        got = read_file(out, &gn);
        {
            size_t i = 0;
            while (got && i < wn && i < gn && got[i] == want[i]) i++;
            check(got && gn == wn && i == wn, "%s%s: the file is the one MODEL.md's reading of config.json gives, byte for byte "
                  "(%zu and %zu bytes, first difference at %zu)", f->name, routed ? ", routed" : "", gn, wn, i);
        }
        for (topk = 0; topk < 2; topk++) {
            const double e = logits_vs_ref(out, want, wn, topk);
            check(e <= 1e-4, "%s%s, %s: engine vs reference, max |diff| / max |logit| %.3g", f->name, routed ? ", routed" : "",
                  topk ? "top-k" : "causal", e);
        }
        free(want);
        free(got);
    }
}

static void test_llama(void)
{
    fam f;
    /* Llama 3.1: llama3 RoPE scaling, its head_dim key, attention and MLP biases (hd 8: the
       frequencies 1, 0.1, 0.01, 0.001 have wavelengths 6.3 and 63 against 32 / 4 and 32 / 1:
       one kept, one blended, two divided) */
    fam_default(&f, "llama31",
                "\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_act\": \"silu\", "
                "\"head_dim\": 12, \"attention_bias\": true, \"mlp_bias\": true, \"pretraining_tp\": 1, "
                "\"rope_scaling\": {\"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, "
                "\"original_max_position_embeddings\": 32, \"rope_type\": \"llama3\"}");
    f.hd = 12; f.qkv_bias = 1; f.o_bias = 1; f.mlp_bias = 1; f.theta = 500000.0f;
    f.rope_scaling = 2; f.rope_factor = 8.0f; f.rope_low = 1.0f; f.rope_high = 4.0f; f.rope_orig = 32;
    convert_family(&f);
    /* hd 8 at theta 1e4 instead, so every kind of frequency is met */
    fam_default(&f, "llama31_theta1e4",
                "\"model_type\": \"llama\", \"rope_scaling\": {\"factor\": 8.0, \"low_freq_factor\": 1.0, "
                "\"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 32, \"rope_type\": \"llama3\"}");
    f.rope_scaling = 2; f.rope_factor = 8.0f; f.rope_low = 1.0f; f.rope_high = 4.0f; f.rope_orig = 32;
    convert_family(&f);
    /* linear scaling, under the older key "type", bf16 weights, tied */
    fam_default(&f, "llama_linear",
                "\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_act\": \"silu\", "
                "\"rope_scaling\": {\"type\": \"linear\", \"factor\": 4.0}, \"attention_bias\": false, \"mlp_bias\": false");
    f.rope_scaling = 1; f.rope_factor = 4.0f; f.dtype = "BF16"; f.tied = 1;
    convert_family(&f);
    /* no model_type: the class in architectures names the family */
    fam_default(&f, "llama_arch_only", "\"architectures\": [\"LlamaForCausalLM\"], \"rope_scaling\": {\"rope_type\": \"default\"}");
    convert_family(&f);
}

static void test_mistral(void)
{
    fam f;
    fam_default(&f, "mistral",
                "\"architectures\": [\"MistralForCausalLM\"], \"model_type\": \"mistral\", \"hidden_act\": \"silu\", "
                "\"sliding_window\": 4, \"head_dim\": 8, \"attention_dropout\": 0.0");
    f.window = 4; f.Hkv = 1;
    convert_family(&f);
    fam_default(&f, "mistral_nowindow",
                "\"architectures\": [\"MistralForCausalLM\"], \"model_type\": \"mistral\", \"hidden_act\": \"silu\", "
                "\"sliding_window\": null, \"head_dim\": null");
    convert_family(&f);
}

static void test_qwen2(void)
{
    fam f;
    /* Qwen2: q/k/v biases, tied, the window off (use_sliding_window false, the default) */
    fam_default(&f, "qwen2",
                "\"architectures\": [\"Qwen2ForCausalLM\"], \"model_type\": \"qwen2\", \"hidden_act\": \"silu\", "
                "\"use_sliding_window\": false, \"sliding_window\": 4096, \"max_window_layers\": 21, \"rope_scaling\": null");
    f.qkv_bias = 1; f.tied = 1; f.theta = 1000000.0f;
    convert_family(&f);
    /* the window on, from block 0 on: every block has it */
    fam_default(&f, "qwen2_window",
                "\"architectures\": [\"Qwen2ForCausalLM\"], \"model_type\": \"qwen2\", \"hidden_act\": \"silu\", "
                "\"use_sliding_window\": true, \"sliding_window\": 5, \"max_window_layers\": 0");
    f.qkv_bias = 1; f.window = 5;
    convert_family(&f);
    /* on, from a block past the last: none has it */
    fam_default(&f, "qwen2_window_none",
                "\"model_type\": \"qwen2\", \"use_sliding_window\": true, \"sliding_window\": 5, \"max_window_layers\": 4");
    f.qkv_bias = 1;
    convert_family(&f);
}

static void test_gemma(void)
{
    fam f;
    /* Gemma: head_dim 16 (H hd 64 > d 32), GeGLU with the tanh GELU, tied, gains 1 + w, the
       normalizer sqrt(32) = 5.6568542 in the run dtype: 5.65625 in bfloat16 */
    fam_default(&f, "gemma",
                "\"architectures\": [\"GemmaForCausalLM\"], \"model_type\": \"gemma\", \"head_dim\": 16, "
                "\"hidden_act\": \"gelu_pytorch_tanh\", \"hidden_activation\": \"gelu_pytorch_tanh\", \"attention_bias\": false");
    f.hd = 16; f.Hkv = 1; f.tied = 1; f.activation = 1; f.norm_offset = 1; f.dtype = "BF16"; f.embed_scale = 5.65625f;
    convert_family(&f);
    /* float32, hidden_activation absent (HF's default, gelu_pytorch_tanh; the old "gelu" of
       hidden_act is ignored, as GemmaMLP does): the normalizer in f32 */
    fam_default(&f, "gemma_f32", "\"model_type\": \"gemma\", \"head_dim\": 8, \"hidden_act\": \"gelu\"");
    f.tied = 1; f.activation = 1; f.norm_offset = 1; f.embed_scale = (float)sqrt(32.0);
    convert_family(&f);
    check(strstr(g_err, "hidden_act") != NULL, "gemma: a note says hidden_act \"gelu\" is ignored (%s)", g_err);
    /* gelu_tanh, the other name of the same function */
    fam_default(&f, "gemma_gelu_tanh", "\"model_type\": \"gemma\", \"hidden_activation\": \"gelu_tanh\"");
    f.tied = 1; f.activation = 1; f.norm_offset = 1; f.embed_scale = (float)sqrt(32.0);
    convert_family(&f);
}

/* A llama checkpoint whose config.json has `keys` instead: refused with `pattern`. */
static void refuse_keys(const char *what, const char *keys, const char *pattern)
{
    fam f;
    static int count;
    const char *dir = P("refused_%d", count++);
    (void)what;
    fam_default(&f, "refused", keys);
    write_checkpoint(dir, &f);
    refuse(what, pattern, dir, "--tokenizer", "none");
}

static void test_refused(void)
{
    refuse_keys("Mixtral", "\"architectures\": [\"MixtralForCausalLM\"], \"model_type\": \"mixtral\", \"num_local_experts\": 8",
                "\"model_type\" is \"mixtral\": Mixtral's MLP is a mixture of experts");
    refuse_keys("Mixtral by its class", "\"architectures\": [\"MixtralForCausalLM\"]", "\"architectures\" is \"MixtralForCausalLM\"");
    refuse_keys("an unknown model_type", "\"model_type\": \"falcon\"", "\"model_type\" is \"falcon\", not a family mod-convert converts");
    refuse_keys("an unknown class", "\"architectures\": [\"GPT2LMHeadModel\"]", "\"architectures\" is \"GPT2LMHeadModel\"");
    refuse_keys("model_type not a string", "\"model_type\": 3", "\"model_type\" must be a string");
    refuse_keys("rope_scaling yarn", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}", "\"rope_scaling\" type \"yarn\" is not supported");
    refuse_keys("rope_scaling dynamic", "\"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2.0}", "\"rope_scaling\" type \"dynamic\" is not supported");
    refuse_keys("rope_scaling without a type", "\"rope_scaling\": {\"factor\": 2.0}", "\"rope_scaling\" has no \"rope_type\"");
    refuse_keys("rope_scaling not an object", "\"rope_scaling\": 2.0", "\"rope_scaling\" must be an object or null");
    refuse_keys("linear without a factor", "\"rope_scaling\": {\"rope_type\": \"linear\"}", "needs \"factor\"");
    refuse_keys("linear with factor 0", "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 0}", "needs \"factor\"");
    refuse_keys("llama3 without low_freq_factor",
                "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 32}",
                "needs \"low_freq_factor\"");
    refuse_keys("llama3 with high <= low",
                "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 4.0, \"high_freq_factor\": 4.0, "
                "\"original_max_position_embeddings\": 32}", "\"high_freq_factor\" 4 must be above \"low_freq_factor\" 4");
    refuse_keys("llama3 with a fractional original length",
                "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, "
                "\"original_max_position_embeddings\": 32.5}", "\"original_max_position_embeddings\" must be an integer");
    refuse_keys("llama with hidden_act gelu", "\"model_type\": \"llama\", \"hidden_act\": \"gelu\"", "\"hidden_act\" must be \"silu\" for llama");
    refuse_keys("mistral with hidden_act relu", "\"model_type\": \"mistral\", \"hidden_act\": \"relu\"", "\"hidden_act\" must be \"silu\" for mistral");
    refuse_keys("gemma with hidden_activation gelu", "\"model_type\": \"gemma\", \"hidden_activation\": \"gelu\"",
                "\"hidden_activation\" must be \"gelu_pytorch_tanh\" or \"gelu_tanh\"");
    refuse_keys("qwen2 with a window in some blocks", "\"model_type\": \"qwen2\", \"use_sliding_window\": true, \"sliding_window\": 4, \"max_window_layers\": 2",
                "\"max_window_layers\" 2");
    refuse_keys("mistral with sliding_window 0", "\"model_type\": \"mistral\", \"sliding_window\": 0", "\"sliding_window\" must be null or an integer");
    refuse_keys("qwen2 with use_sliding_window \"yes\"", "\"model_type\": \"qwen2\", \"use_sliding_window\": \"yes\"", "\"use_sliding_window\" must be true or false");
    refuse_keys("an odd head_dim", "\"head_dim\": 7", "\"head_dim\" must be an even integer");
    refuse_keys("head_dim 0", "\"head_dim\": 0", "\"head_dim\" must be an even integer");
    {   /* head_dim that disagrees with the tensors: the shape message names it */
        refuse_keys("head_dim 16 with tensors of head size 8", "\"head_dim\": 16", "num_attention_heads * head size");
    }
    {   /* an mlp bias without the other two */
        fam f;
        const char *dir = P("refused_mlp_bias");
        fam_default(&f, "refused", "\"model_type\": \"llama\", \"mlp_bias\": true");
        f.only_up_bias = 1;
        write_checkpoint(dir, &f);
        refuse("one of the three mlp biases", "some but not all of the mlp gate/up/down projection biases", dir, "--tokenizer", "none");
    }
}

int main(int argc, char **argv)
{
    static const ckpt_test tests[] = {
        { test_llama, "llama: llama3 and linear RoPE scaling, head_dim, attention and MLP biases" },
        { test_mistral, "mistral: the sliding window" },
        { test_qwen2, "qwen2: q/k/v biases, use_sliding_window" },
        { test_gemma, "gemma: GeGLU, head_dim, 1 + w, the normalizer" },
        { test_refused, "refused families and keys" },
    };
    return ckpt_main(argc, argv, tests, (int)(sizeof tests / sizeof tests[0]));
}
