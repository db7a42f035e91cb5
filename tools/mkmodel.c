/* mkmodel: writes a random-weight model file (docs/FORMAT.md) for tests and experiments, or
   the same weights as a GGUF file (--gguf) that mod-convert and llama.cpp both read. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_TMPFILE, for the output file (examples/cli.h) */
#endif
#define _POSIX_C_SOURCE 200809L

#include "../examples/cli.h"
#include "mkmodel.h"
#include "gguf_write.h"

static const char usage[] =
    "usage: mkmodel OUT [options]\n"
    "Writes a model file with random weights (docs/FORMAT.md) to OUT, a regular file or a new\n"
    "path, which appears only when complete (an existing file is replaced).\n"
    "\n"
    "  --seed N              PRNG seed (default 1)\n"
    "  --vocab N             vocab size; 0 = tokenizer's token count, or 300 (default 0)\n"
    "  --dim N               model width (default 32)\n"
    "  --layers N            blocks, 1..64 (default 4)\n"
    "  --heads N             query heads (default 4)\n"
    "  --kv-heads N          key/value heads (default 2)\n"
    "  --hidden N            MLP hidden width (default 64)\n"
    "  --seq N               max_seq_len (default 64)\n"
    "  --eps E               RMSNorm epsilon (default 1e-5)\n"
    "  --theta T             RoPE base (default 10000)\n"
    "  --tied 0|1            output projection is the embedding (default 0)\n"
    "  --qkv-bias 0|1        q/k/v biases in every block (default 0)\n"
    "  --mod-layers L        routed blocks: none, odd, even, all or a list such as 1,3 (default 1,3)\n"
    "  --capacity C          capacity of every routed block, or C1,C2,.. one per routed block\n"
    "                        (default 0.5)\n"
    "  --router-input residual|normed      (default residual)\n"
    "  --router-scale identity|sigmoid     (default identity)\n"
    "  --combine delta|mlp                 (default delta)\n"
    "  --positions absolute|compacted      (default absolute)\n"
    "  --decision router|predictor         (default router)\n"
    "  --predictor-hidden N  predictor MLP width; 0 = linear predictor (default 16)\n"
    "  --threshold T         causal-rule threshold tau (default 0)\n"
    "  --router-bias 0|1     routed blocks have a router bias (default 1)\n"
    "  --router-const B      router weights 0 and router bias B: every score is B\n"
    "  --init-scale S        std of the model matrices; 0 = automatic (default 0)\n"
    "  --dtype f32|f16|bf16|q8_0|q4_0  dtype of the matrices (default f32)\n"
    "  --tokenizer none|bpe|scored|sp      (default none; sp: SentencePiece-style BPE)\n"
    "  --merges N            bpe merges / scored multi-character tokens (default 64)\n"
    "  --bpe-added 0|1       bpe: add <think> (ordinary) and <|end|> (special) and an added-token table;\n"
    "                        scored: an added-token table of \"#\" (ordinary) and <unk> <s> </s>\n"
    "  --bpe-nfc 0|1         bpe: NFC-normalize text before splitting it (tokenizer flag bit 2)\n"
    "The architecture variants (docs/MODEL.md \"Variants\"):\n"
    "  --head-dim N          head size; 0 = dim / heads (default 0)\n"
    "  --activation silu|gelu_tanh         MLP gate: SwiGLU or GeGLU (default silu)\n"
    "  --norm-offset 0|1     RMSNorm gains are 1 + w (default 0)\n"
    "  --embed-scale S       embedding scale; 0 = none (default 0)\n"
    "  --rope-scaling none|linear|llama3   (default none)\n"
    "  --rope-factor F       linear and llama3 factor\n"
    "  --rope-low F, --rope-high F, --rope-orig N   llama3 low/high frequency factors, original length\n"
    "  --window N            sliding window; 0 = none (default 0)\n"
    "  --o-bias 0|1          attention output biases in every block (default 0)\n"
    "  --mlp-bias 0|1        MLP gate/up/down biases in every block (default 0)\n"
    "  --gguf                write OUT as a GGUF file (llama architecture, the tensors of the\n"
    "                        model file the same options give, q/k rows in llama.cpp's order,\n"
    "                        q8_0/q4_0 the same blocks) with a SentencePiece \"llama\" tokenizer\n"
    "                        of --vocab tokens: <unk>, <s>, </s>, the 256 byte tokens, \"\xe2\x96\x81\",\n"
    "                        then pieces of lowercase letters with and without a leading \"\xe2\x96\x81\";\n"
    "                        no routed blocks (the default --mod-layers is none), and none of\n"
    "                        the variants, biases or --tokenizer\n"
    "  --help                this text\n";

static int fail(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "mkmodel: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    return 2;
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int parse_float(const char *s, float *out)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || v != v) return -1;
    *out = (float)v;
    return 0;
}

static int parse_enum(const char *s, const char *a, const char *b, int *out)
{
    if (strcmp(s, a) == 0) *out = 0;
    else if (strcmp(s, b) == 0) *out = 1;
    else return -1;
    return 0;
}

static int set_layers(mkm_opts *o, const char *s)
{
    int i;
    for (i = 0; i < MKM_MAX_LAYERS; i++) o->routed[i] = 0;
    if (strcmp(s, "none") == 0) return 0;
    if (strcmp(s, "odd") == 0 || strcmp(s, "even") == 0 || strcmp(s, "all") == 0) {
        for (i = 0; i < o->n_layers; i++)
            o->routed[i] = s[0] == 'a' || (i % 2 == 1) == (s[0] == 'o');
        return 0;
    }
    while (*s) {
        char *end;
        long v;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || v < 0 || v >= o->n_layers || (*end && *end != ',')) return -1;
        if (o->routed[v]) return -1;
        o->routed[v] = 1;
        s = *end ? end + 1 : end;
        if (*end && !*s) return -1;
    }
    return 0;
}

static int set_capacity(mkm_opts *o, const char *s)
{
    float c[MKM_MAX_LAYERS];
    int n = 0, i, k = 0, n_routed = 0;
    while (*s) {
        char *end;
        double v;
        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || (*end && *end != ',') || n >= MKM_MAX_LAYERS) return -1;
        c[n++] = (float)v;
        s = *end ? end + 1 : end;
        if (*end && !*s) return -1;
    }
    for (i = 0; i < o->n_layers; i++) n_routed += o->routed[i];
    if (n == 0 || (n != 1 && n != n_routed)) return -1;
    for (i = 0; i < o->n_layers; i++) {
        o->capacity[i] = 0.5f;
        if (o->routed[i]) o->capacity[i] = c[n == 1 ? 0 : k++];
    }
    return 0;
}

/* ---- GGUF ---------------------------------------------------------------------------------- */

/* ggml's type numbers, and llama.cpp's file types (general.file_type), of the stored dtypes */
static const uint32_t k_ggml_type[5] = { 0 /* F32 */, 1 /* F16 */, 30 /* BF16 */, 8 /* Q8_0 */, 2 /* Q4_0 */ };
static const uint32_t k_file_type[5] = { 0, 1, 32, 7, 2 };

/* Why the options have no GGUF llama form, or NULL. */
static const char *gguf_unsupported(const mkm_opts *o)
{
    int i;
    for (i = 0; i < o->n_layers; i++)
        if (o->routed[i]) return "--gguf: a GGUF file has no routed blocks (use --mod-layers none)";
    if (o->tokenizer != MKM_TOKENIZER_NONE) return "--gguf writes its own SentencePiece tokenizer: leave --tokenizer none";
    if (mkm_vocab_size(o) < 260) return "--gguf needs --vocab 260 or more (<unk>, <s>, </s>, the 256 byte tokens and \"\xe2\x96\x81\")";
    if (o->qkv_bias || o->o_bias || o->mlp_bias || o->activation || o->norm_offset || (o->embed_scale > 0 && o->embed_scale != 1.0f) ||
        o->rope_scaling || o->sliding_window || (o->head_dim && o->head_dim * o->n_heads != o->dim))
        return "--gguf writes the plain llama architecture: no biases, variants or head size of its own";
    return NULL;
}

/* The SentencePiece vocabulary: <unk>, <s>, </s>, <0x00>..<0xFF>, "\xe2\x96\x81", then strings of
   lowercase letters (most frequent first), each length in turn, "\xe2\x96\x81" + s before s; the scores fall
   with the id, as in SentencePiece's own files. pool holds 16 bytes per token. */
static void gguf_vocab(int n, char *pool, char **tok, float *score, int32_t *type)
{
    static const char letters[] = "etaoinshrdlucmfwypvbgkjqxz";
    int id = 0, len;
    for (; id < n && id < 259; id++) {
        tok[id] = pool + 16 * (size_t)id;
        if (id < 3) strcpy(tok[id], id == 0 ? "<unk>" : id == 1 ? "<s>" : "</s>");
        else snprintf(tok[id], 16, "<0x%02X>", id - 3);
        type[id] = id == 0 ? 2 : id < 3 ? 3 : 6; /* unknown, control, byte */
        score[id] = 0.0f;
    }
    if (id < n) { /* the word-start piece alone, as every SentencePiece vocabulary has it */
        tok[id] = pool + 16 * (size_t)id;
        strcpy(tok[id], "\xe2\x96\x81");
        type[id] = 1;
        score[id] = 0.0f;
        id++;
    }
    for (len = 1; id < n; len++) {
        long count = 1, k;
        int j;
        for (j = 0; j < len; j++) count *= 26;
        for (k = 0; k < count && id < n; k++) {
            int space;
            for (space = 1; space >= 0 && id < n; space--) {
                char *t = pool + 16 * (size_t)id;
                long x = k;
                int at = 0;
                if (space) { memcpy(t, "\xe2\x96\x81", 3); at = 3; }
                for (j = len - 1; j >= 0; j--) { t[at + j] = letters[x % 26]; x /= 26; }
                t[at + len] = 0;
                tok[id] = t;
                type[id] = 1;
                score[id] = (float)-(id - 260);
                id++;
            }
        }
    }
}

/* llama.cpp's order of a head's q/k rows: its row 2i + j holds the model file's row i + j hd/2. */
static uint64_t gguf_perm_src(uint64_t r, uint64_t hd)
{
    const uint64_t h = r / hd, i = r % hd;
    return h * hd + (i % 2) * (hd / 2) + i / 2;
}

/* The GGUF file of model file buf (built from o): *out malloc'd. Returns 0, or -2 when out of
   memory. */
static int gguf_build(const mkm_opts *o, const unsigned char *buf, size_t size, unsigned char **out, size_t *out_size)
{
    static const char *const names[MOD__ROLE_COUNT] = {
        "token_embd.weight", "output_norm.weight", "output.weight", "attn_norm.weight", "attn_q.weight", "attn_k.weight",
        "attn_v.weight", "attn_output.weight", NULL, NULL, NULL, "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"
    };
    const int V = mkm_vocab_size(o), hd = mkm_head_dim(o);
    unsigned char *perm[2 * MKM_MAX_LAYERS];
    int n_perm = 0, l, role, rc = -2;
    char *pool = (char *)malloc(16 * (size_t)V), **tok = (char **)malloc(sizeof *tok * (size_t)V);
    float *score = (float *)malloc(sizeof *score * (size_t)V);
    int32_t *type = (int32_t *)malloc(sizeof *type * (size_t)V);
    gw w;
    gw_init(&w);
    *out = NULL;
    if (!pool || !tok || !score || !type) goto done;
    gw_str(&w, "general.architecture", "llama");
    gw_str(&w, "general.name", "mkmodel random weights");
    gw_u32(&w, "general.file_type", k_file_type[o->dtype]);
    gw_u32(&w, "llama.vocab_size", (uint32_t)V);
    gw_u32(&w, "llama.context_length", (uint32_t)o->max_seq_len);
    gw_u32(&w, "llama.embedding_length", (uint32_t)o->dim);
    gw_u32(&w, "llama.block_count", (uint32_t)o->n_layers);
    gw_u32(&w, "llama.feed_forward_length", (uint32_t)o->hidden_dim);
    gw_u32(&w, "llama.attention.head_count", (uint32_t)o->n_heads);
    gw_u32(&w, "llama.attention.head_count_kv", (uint32_t)o->n_kv_heads);
    gw_f32(&w, "llama.attention.layer_norm_rms_epsilon", o->norm_eps);
    gw_f32(&w, "llama.rope.freq_base", o->rope_theta);
    gw_u32(&w, "llama.rope.dimension_count", (uint32_t)hd);
    gguf_vocab(V, pool, tok, score, type);
    gw_str(&w, "tokenizer.ggml.model", "llama");
    gw_arr_str(&w, "tokenizer.ggml.tokens", tok, NULL, (size_t)V);
    gw_arr_f32(&w, "tokenizer.ggml.scores", score, (size_t)V);
    gw_arr_i32(&w, "tokenizer.ggml.token_type", type, (size_t)V);
    gw_u32(&w, "tokenizer.ggml.unknown_token_id", 0);
    gw_u32(&w, "tokenizer.ggml.bos_token_id", 1);
    gw_u32(&w, "tokenizer.ggml.eos_token_id", 2);
    gw_bool(&w, "tokenizer.ggml.add_bos_token", 1);
    gw_bool(&w, "tokenizer.ggml.add_eos_token", 0);
    for (l = -1; l < o->n_layers; l++)
        for (role = l < 0 ? 0 : MOD__ROLE_ATTN_NORM; role <= (l < 0 ? MOD__ROLE_OUTPUT : MOD__ROLE_DOWN); role++) {
            const size_t e = names[role] ? mkm_tensor_entry(buf, size, role, l) : 0;
            uint64_t rows, cols, ne[2], nbytes, rowb, r;
            uint32_t n_dims, dtype;
            const unsigned char *data;
            char name[96];
            if (!e) continue; /* the output of a tied model, the biases */
            dtype = mkm_get_u32(buf + e + MKM_TD_DTYPE);
            n_dims = mkm_get_u32(buf + e + MKM_TD_N_DIMS);
            rows = n_dims == 2 ? mkm_get_u64(buf + e + MKM_TD_DIMS) : 1;
            cols = mkm_get_u64(buf + e + MKM_TD_DIMS + (n_dims == 2 ? 8 : 0));
            nbytes = mkm_get_u64(buf + e + MKM_TD_SIZE);
            data = buf + mkm_tensor_data(buf, size, role, l);
            ne[0] = cols;
            ne[1] = rows;
            if (l < 0) snprintf(name, sizeof name, "%s", names[role]);
            else snprintf(name, sizeof name, "blk.%d.%s", l, names[role]);
            if (role == MOD__ROLE_Q || role == MOD__ROLE_K) {
                unsigned char *p = (unsigned char *)malloc((size_t)nbytes);
                if (!p) goto done;
                perm[n_perm++] = p;
                rowb = nbytes / rows;
                for (r = 0; r < rows; r++) memcpy(p + r * rowb, data + gguf_perm_src(r, (uint64_t)hd) * rowb, (size_t)rowb);
                data = p;
            }
            gw_tensor_ref(&w, name, k_ggml_type[dtype], n_dims, ne, data, (size_t)nbytes);
        }
    *out = gw_bytes(&w, out_size);
    rc = *out ? 0 : -2;
done:
    while (n_perm) free(perm[--n_perm]);
    gw_free(&w);
    free(pool);
    free(tok);
    free(score);
    free(type);
    return rc;
}

/* Writes buf to path (a regular file or a new path), which appears only when complete. */
static int write_atomic(const char *path, const unsigned char *buf, size_t size)
{
    char why[4400];
    cli_out out;
    if (cli_output_check(path, 1, NULL, 0, NULL, why, sizeof why) != 0 || cli_output_open(&out, path, 1, why, sizeof why) != 0) {
        fprintf(stderr, "mkmodel: %s\n", why);
        return -1;
    }
    if (cli_write_all(out.fd, buf, size) != 0) {
        snprintf(why, sizeof why, "cannot write %s: %s", path, strerror(errno));
    } else if (cli_output_commit(&out, NULL, 0, why, sizeof why) == 0) {
        return 0;
    }
    cli_output_abort(&out);
    fprintf(stderr, "mkmodel: %s\n", why);
    return -1;
}

int main(int argc, char **argv)
{
    mkm_opts o;
    const char *out = NULL, *layers = NULL, *capacity = NULL, *why;
    unsigned char *buf;
    size_t size;
    int i, rc, gguf = 0;

    mkm_defaults(&o);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int bad = 0;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(a, "--gguf") == 0) {
            gguf = 1;
            continue;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (out) return fail("more than one output path (%s, %s)", out, a);
            out = a;
            continue;
        }
        if (i + 1 >= argc) return fail("%s needs a value%s", a, "");
        v = argv[++i];
        if (strcmp(a, "--seed") == 0) {
            char *end;
            errno = 0;
            o.seed = (uint64_t)strtoull(v, &end, 0);
            bad = errno || end == v || *end || v[0] == '-';
        }
        else if (strcmp(a, "--vocab") == 0) bad = parse_int(v, 0, 0x7FFFFFFF, &o.vocab_size);
        else if (strcmp(a, "--dim") == 0) bad = parse_int(v, 1, 1 << 20, &o.dim);
        else if (strcmp(a, "--layers") == 0) bad = parse_int(v, 1, MKM_MAX_LAYERS, &o.n_layers);
        else if (strcmp(a, "--heads") == 0) bad = parse_int(v, 1, 1 << 16, &o.n_heads);
        else if (strcmp(a, "--kv-heads") == 0) bad = parse_int(v, 1, 1 << 16, &o.n_kv_heads);
        else if (strcmp(a, "--hidden") == 0) bad = parse_int(v, 1, 1 << 22, &o.hidden_dim);
        else if (strcmp(a, "--seq") == 0) bad = parse_int(v, 1, 0x7FFFFFFF, &o.max_seq_len);
        else if (strcmp(a, "--eps") == 0) bad = parse_float(v, &o.norm_eps);
        else if (strcmp(a, "--theta") == 0) bad = parse_float(v, &o.rope_theta);
        else if (strcmp(a, "--tied") == 0) bad = parse_int(v, 0, 1, &o.tied);
        else if (strcmp(a, "--qkv-bias") == 0) bad = parse_int(v, 0, 1, &o.qkv_bias);
        else if (strcmp(a, "--mod-layers") == 0) layers = v;
        else if (strcmp(a, "--capacity") == 0) capacity = v;
        else if (strcmp(a, "--router-input") == 0) bad = parse_enum(v, "residual", "normed", &o.router_input);
        else if (strcmp(a, "--router-scale") == 0) bad = parse_enum(v, "identity", "sigmoid", &o.router_scale);
        else if (strcmp(a, "--combine") == 0) bad = parse_enum(v, "delta", "mlp", &o.combine);
        else if (strcmp(a, "--positions") == 0) bad = parse_enum(v, "absolute", "compacted", &o.positions);
        else if (strcmp(a, "--decision") == 0) bad = parse_enum(v, "router", "predictor", &o.decision);
        else if (strcmp(a, "--predictor-hidden") == 0) bad = parse_int(v, 0, 1 << 20, &o.predictor_hidden);
        else if (strcmp(a, "--threshold") == 0) bad = parse_float(v, &o.threshold);
        else if (strcmp(a, "--router-bias") == 0) bad = parse_int(v, 0, 1, &o.router_bias);
        else if (strcmp(a, "--router-const") == 0) {
            bad = parse_float(v, &o.router_const_bias);
            o.router_const = 1;
        }
        else if (strcmp(a, "--init-scale") == 0) bad = parse_float(v, &o.init_scale);
        else if (strcmp(a, "--dtype") == 0) {
            o.dtype = mf_dtype_parse(v);
            bad = o.dtype < 0;
        }
        else if (strcmp(a, "--tokenizer") == 0) {
            if (strcmp(v, "none") == 0) o.tokenizer = MKM_TOKENIZER_NONE;
            else if (strcmp(v, "bpe") == 0) o.tokenizer = MKM_TOKENIZER_BPE;
            else if (strcmp(v, "scored") == 0) o.tokenizer = MKM_TOKENIZER_SCORED;
            else if (strcmp(v, "sp") == 0) o.tokenizer = MKM_TOKENIZER_SP;
            else bad = 1;
        }
        else if (strcmp(a, "--merges") == 0) bad = parse_int(v, 0, MKM_MAX_MERGES, &o.n_merges);
        else if (strcmp(a, "--bpe-added") == 0) bad = parse_int(v, 0, 1, &o.bpe_added);
        else if (strcmp(a, "--bpe-nfc") == 0) bad = parse_int(v, 0, 1, &o.bpe_nfc);
        else if (strcmp(a, "--head-dim") == 0) bad = parse_int(v, 0, 1 << 20, &o.head_dim);
        else if (strcmp(a, "--activation") == 0) bad = parse_enum(v, "silu", "gelu_tanh", &o.activation);
        else if (strcmp(a, "--norm-offset") == 0) bad = parse_int(v, 0, 1, &o.norm_offset);
        else if (strcmp(a, "--embed-scale") == 0) bad = parse_float(v, &o.embed_scale);
        else if (strcmp(a, "--rope-scaling") == 0) {
            if (strcmp(v, "none") == 0) o.rope_scaling = 0;
            else if (strcmp(v, "linear") == 0) o.rope_scaling = 1;
            else if (strcmp(v, "llama3") == 0) o.rope_scaling = 2;
            else bad = 1;
        }
        else if (strcmp(a, "--rope-factor") == 0) bad = parse_float(v, &o.rope_factor);
        else if (strcmp(a, "--rope-low") == 0) bad = parse_float(v, &o.rope_low_freq_factor);
        else if (strcmp(a, "--rope-high") == 0) bad = parse_float(v, &o.rope_high_freq_factor);
        else if (strcmp(a, "--rope-orig") == 0) bad = parse_int(v, 1, 1 << 24, &o.rope_original_max_pos);
        else if (strcmp(a, "--window") == 0) bad = parse_int(v, 0, 1 << 24, &o.sliding_window);
        else if (strcmp(a, "--o-bias") == 0) bad = parse_int(v, 0, 1, &o.o_bias);
        else if (strcmp(a, "--mlp-bias") == 0) bad = parse_int(v, 0, 1, &o.mlp_bias);
        else return fail("unknown option %s%s (see --help)", a, "");
        if (bad) return fail("bad value for %s: '%s' (see --help)", a, v);
    }
    if (!out) {
        fputs(usage, stderr);
        return 2;
    }
    if (layers && set_layers(&o, layers) != 0)
        return fail("bad --mod-layers '%s': none, odd, even, all or distinct indices below --layers%s", layers, "");
    if (!layers) {
        /* the default routed set is 1,3: keep it inside the model */
        for (i = gguf ? 0 : o.n_layers; i < MKM_MAX_LAYERS; i++) o.routed[i] = 0;
    }
    if (capacity && set_capacity(&o, capacity) != 0)
        return fail("bad --capacity '%s': one number, or one per routed block%s", capacity, "");
    why = mkm_check(&o);
    if (!why && gguf) why = gguf_unsupported(&o);
    if (why) return fail("%s%s", why, "");
    rc = mkm_build(&o, &buf, &size);
    if (rc != 0) return fail("cannot build the model: %s%s", rc == -2 ? "out of memory" : "invalid options", "");
    if (gguf) {
        unsigned char *g;
        size_t gsize = 0;
        rc = gguf_build(&o, buf, size, &g, &gsize);
        free(buf);
        if (rc != 0) return fail("cannot build the GGUF file: out of memory%s%s", "", "");
        buf = g;
        size = gsize;
    }
    rc = write_atomic(out, buf, size);
    free(buf);
    return rc == 0 ? 0 : 1;
}
