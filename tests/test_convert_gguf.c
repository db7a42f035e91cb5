/* mod-convert on GGUF files, written here by tools/gguf_write.h (from the specification):
   - weights: the same model as a Hugging Face directory (tests/ckpt.h) and as a GGUF file in
     each type mod-convert carries (F32, F16, BF16, Q8_0, Q4_0) and each it decodes (Q4_1, Q5_0,
     Q5_1, and the K-quants once tools/ggml_dequant.h decodes them); the quantized blocks are
     random, decoded by a transcription of ggml's block formats written here, and the directory
     holds those values. Both conversions must give the same file byte for byte (so the same
     logits), and a GGUF Q8_0/Q4_0 kept as it is must decode to those values;
   - llama's q/k rows (and biases) in llama.cpp's permuted order, undone exactly; the same file
     read without undoing it gives other logits (the model's attention depends on it);
   - Qwen2 (not permuted), Gemma (norm gains stored as 1 + w, embedding scale sqrtf(d)): logits
     equal bit for bit to the Hugging Face conversion; Llama 3.1's rope_freqs.weight; a
     sliding window; linear RoPE scaling;
   - tokenizers: "gpt2" gives the same tokenizer section as tokenizer.json of the same
     vocabulary; "llama" (SentencePiece) encodes and decodes texts as the tokenizer.json
     conversion of the same vocabulary;
   - corrupt files, one per rule of tools/gguf.h and the converter, each refused with its own
     message and no output left (an existing output untouched);
   - mkmodel --gguf: the converted file has the logits of mkmodel's model file of the same
     options, bit for bit, in every dtype; its SentencePiece vocabulary encodes as built.
   Usage: test_convert_gguf [path/to/mod-convert] (default: beside this program). */
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "ckpt.h"
#include "gguf_write.h"
#include "ggml_dequant.h"

/* With MOD_GGUF_SEEDS naming a directory, every file of at most 128 KB written through gw_save
   is also copied there (the seed corpus of tests/fuzz/fuzz_gguf.c is made so). */
static void gw_save(const char *path, const void *p, size_t n)
{
    static int count;
    const char *seeds = getenv("MOD_GGUF_SEEDS");
    write_file(path, p, n);
    if (seeds && *seeds && n <= (128u << 10)) {
        char copy[4200];
        snprintf(copy, sizeof copy, "%s/seed%03d.gguf", seeds, count++);
        write_file(copy, p, n);
    }
}

static void gw_write(const gw *w, const char *path)
{
    size_t n;
    unsigned char *p = gw_bytes(w, &n);
    if (!p) { fprintf(stderr, "out of memory writing %s\n", path); exit(1); }
    gw_save(path, p, n);
    free(p);
}

enum { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8, T_Q4_K = 12, T_Q6_K = 14,
       T_IQ2_XS = 17, T_BF16 = 30 };
#define NR MOD__ROLE_COUNT

/* ---- the weights of one model, in Hugging Face order -------------------------------------- */

typedef struct wts {
    spec s;
    int gemma;
    int mtype;                        /* ggml type of the matrices */
    float *w[9 * NR];                 /* [(layer + 1) * NR + role], NULL when absent */
    unsigned char *blk[9 * NR];       /* the matrix's ggml blocks (quantized types) */
    size_t blk_n[9 * NR];
    uint64_t rows[9 * NR], cols[9 * NR];
} wts;

static int is_matrix(int role) { return role == MOD__ROLE_EMBED || role == MOD__ROLE_OUTPUT || (role >= MOD__ROLE_Q && role <= MOD__ROLE_O) || (role >= MOD__ROLE_GATE && role <= MOD__ROLE_DOWN); }

static size_t qbytes(int t)
{
    switch (t) {
    case T_Q8_0: return 34;
    case T_Q4_0: return 18;
    case T_Q4_1: return 20;
    case T_Q5_0: return 22;
    case T_Q5_1: return 24;
    default: return 0;
    }
}

static float h2f(const unsigned char *p) { return (float)ref__f16(p); }
static void put_h(unsigned char *p, float v) { uint16_t h = mf_f32_to_f16(v); p[0] = (unsigned char)h; p[1] = (unsigned char)(h >> 8); }

/* One block of type t, decoded as ggml's formats define it (ggml-common.h's block layouts):
   Q8_0 d, q[32]: d q; Q4_0 d, qs[16]: d (n - 8), low nibbles elements 0-15, high 16-31;
   Q4_1 d, m, qs[16]: d n + m; Q5_0 d, qh (u32), qs[16]: the fifth bit of element j is bit j of
   qh, d (n - 16); Q5_1 d, m, qh, qs: d n + m. */
static void qdecode(int t, const unsigned char *b, float *y)
{
    int j;
    const float d = h2f(b);
    if (t == T_Q8_0) { for (j = 0; j < 32; j++) y[j] = (float)(signed char)b[2 + j] * d; return; }
    if (t == T_Q4_0) {
        for (j = 0; j < 16; j++) { y[j] = (float)((b[2 + j] & 15) - 8) * d; y[j + 16] = (float)((b[2 + j] >> 4) - 8) * d; }
        return;
    }
    if (t == T_Q4_1) {
        const float m = h2f(b + 2);
        for (j = 0; j < 16; j++) {
            float p0 = (float)(b[4 + j] & 15) * d, p1 = (float)(b[4 + j] >> 4) * d;
            y[j] = p0 + m;
            y[j + 16] = p1 + m;
        }
        return;
    }
    {
        const int one = t == T_Q5_1;
        const float m = one ? h2f(b + 2) : 0.0f;
        const unsigned char *qhp = b + (one ? 4 : 2), *qs = qhp + 4;
        const uint32_t qh = (uint32_t)qhp[0] | (uint32_t)qhp[1] << 8 | (uint32_t)qhp[2] << 16 | (uint32_t)qhp[3] << 24;
        for (j = 0; j < 16; j++) {
            int x0 = (qs[j] & 15) | (int)((qh >> j) & 1) << 4, x1 = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
            if (one) {
                float p0 = (float)x0 * d, p1 = (float)x1 * d;
                y[j] = p0 + m;
                y[j + 16] = p1 + m;
            } else {
                y[j] = (float)(x0 - 16) * d;
                y[j + 16] = (float)(x1 - 16) * d;
            }
        }
    }
}

/* Random blocks with sane scales. */
static void qrandom(int t, unsigned char *b, unsigned seed, uint64_t k)
{
    size_t i, n = qbytes(t);
    for (i = 0; i < n; i++) b[i] = (unsigned char)(mix((uint64_t)seed * 77777u + k * 131u + i) >> 17);
    put_h(b, 0.004f + 0.02f * (float)((k * 7 + seed) % 13) / 13.0f);
    if (t == T_Q4_1 || t == T_Q5_1) put_h(b + 2, -0.1f + 0.2f * (float)((k * 5 + seed) % 11) / 11.0f);
}

static mod__dims wdims(const wts *m) { return mf_dims((uint64_t)m->s.V, (uint64_t)m->s.d, (uint64_t)m->s.H, (uint64_t)m->s.Hkv, (uint64_t)(m->s.d / m->s.H), (uint64_t)m->s.F, 0); }

static int wpresent(const wts *m, int role, int layer)
{
    if ((layer < 0) != (role <= MOD__ROLE_OUTPUT)) return 0;
    if (role == MOD__ROLE_OUTPUT) return !m->s.tied;
    if (role == MOD__ROLE_Q_BIAS || role == MOD__ROLE_K_BIAS || role == MOD__ROLE_V_BIAS) return m->s.qkv_bias;
    return role <= MOD__ROLE_DOWN;
}

/* The model of s with matrices of ggml type mtype (values rounded to it, or random blocks). */
static void wts_init(wts *m, const spec *s, int mtype, int gemma)
{
    const mod__dims dims = (memset(m, 0, sizeof *m), m->s = *s, wdims(m));
    int layer, role;
    m->gemma = gemma;
    m->mtype = mtype;
    for (layer = -1; layer < s->L; layer++)
        for (role = 0; role < NR; role++) {
            const int k = (layer + 1) * NR + role;
            uint64_t r, c, i, n;
            if (!wpresent(m, role, layer)) continue;
            mf_role_shape(role, &dims, &r, &c);
            n = (r ? r : 1) * c;
            m->rows[k] = r;
            m->cols[k] = c;
            m->w[k] = (float *)malloc((size_t)n * sizeof(float));
            for (i = 0; i < n; i++) {
                float v = value(s, role, layer, i);
                if (gemma && (role == MOD__ROLE_OUT_NORM || role == MOD__ROLE_ATTN_NORM || role == MOD__ROLE_MLP_NORM)) v -= 1.0f; /* w of 1 + w */
                if (gemma && role == MOD__ROLE_EMBED) v = v / 4.0f;
                m->w[k][i] = v;
            }
            if (!r || !is_matrix(role)) continue;
            if (mtype == T_F16) for (i = 0; i < n; i++) m->w[k][i] = f16val(m->w[k][i]);
            if (mtype == T_BF16) for (i = 0; i < n; i++) m->w[k][i] = bf16val(m->w[k][i]);
            if (qbytes(mtype)) {
                m->blk_n[k] = (size_t)(n / 32) * qbytes(mtype);
                m->blk[k] = (unsigned char *)malloc(m->blk_n[k]);
                for (i = 0; i < n / 32; i++) {
                    qrandom(mtype, m->blk[k] + i * qbytes(mtype), s->seed + (unsigned)k, i);
                    qdecode(mtype, m->blk[k] + i * qbytes(mtype), m->w[k] + i * 32);
                }
            }
        }
}

static void wts_free(wts *m)
{
    int k;
    for (k = 0; k < 9 * NR; k++) { free(m->w[k]); free(m->blk[k]); }
}

/* The Hugging Face directory of m: config.json (llama, or gemma) and model.safetensors in dtype. */
static void write_hf(const char *dir, const wts *m, const char *dtype, const char *config_from, const char *config_to)
{
    static const char *const names[NR] = {
        "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight", "input_layernorm.weight",
        "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
        "self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias", "post_attention_layernorm.weight",
        "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"
    };
    stlist *l = (stlist *)calloc(1, sizeof *l);
    char path[4300];
    int layer, role;
    mkdir_p(dir);
    write_config(dir, &m->s, "", NULL);
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (m->gemma || config_from) {
        size_t n;
        char *c = (char *)read_file(path, &n), *out = (char *)malloc(n + 4096), *at;
        const char *from = m->gemma ? "\"model_type\": \"llama\"" : config_from;
        const char *to = m->gemma ? "\"model_type\": \"gemma\", \"hidden_activation\": \"gelu_pytorch_tanh\"" : config_to;
        at = strstr(c, from);
        if (!at) { fprintf(stderr, "config patch: %s not found\n", from); exit(1); }
        sprintf(out, "%.*s%s%s", (int)(at - c), c, to, at + strlen(from));
        write_str(path, out);
        free(c);
        free(out);
    }
    for (layer = -1; layer < m->s.L; layer++)
        for (role = 0; role < NR; role++) {
            const int k = (layer + 1) * NR + role;
            uint64_t shape[2];
            char name[200];
            if (!m->w[k]) continue;
            shape[0] = m->rows[k] ? m->rows[k] : m->cols[k];
            shape[1] = m->cols[k];
            if (layer < 0) snprintf(name, sizeof name, "%s", names[role]);
            else snprintf(name, sizeof name, "model.layers.%d.%s", layer, names[role]);
            st_add(l, name, m->rows[k] && is_matrix(role) ? dtype : "F32", m->rows[k] ? 2 : 1, shape, m->w[k]);
        }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st_write(path, l, 0, l->n);
    st_free(l);
    free(l);
}

/* llama.cpp's order of the rows of one head: row 2i + j (j 0 or 1) holds rotate-half row i + j hd/2. */
static uint64_t perm_src(uint64_t r, uint64_t hd)
{
    const uint64_t h = r / hd, i = r % hd;
    return h * hd + (i % 2) * (hd / 2) + i / 2;
}

static const char *const gguf_names[NR] = {
    "token_embd.weight", "output_norm.weight", "output.weight", "attn_norm.weight", "attn_q.weight", "attn_k.weight",
    "attn_v.weight", "attn_output.weight", "attn_q.bias", "attn_k.bias", "attn_v.bias", "ffn_norm.weight",
    "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"
};

/* The architecture keys and the tensors of m (permute: llama.cpp's q/k order). */
static void gguf_model(gw *w, const wts *m, const char *arch, int permute)
{
    char key[128];
    const uint64_t hd = (uint64_t)(m->s.d / m->s.H);
    int layer, role;
    gw_str(w, "general.architecture", arch);
    gw_str(w, "general.name", "test model");
#define K(name) (snprintf(key, sizeof key, "%s." name, arch), key)
    gw_u32(w, K("context_length"), (uint32_t)m->s.seq);
    gw_u32(w, K("embedding_length"), (uint32_t)m->s.d);
    gw_u32(w, K("block_count"), (uint32_t)m->s.L);
    gw_u32(w, K("feed_forward_length"), (uint32_t)m->s.F);
    gw_u32(w, K("attention.head_count"), (uint32_t)m->s.H);
    gw_u32(w, K("attention.head_count_kv"), (uint32_t)m->s.Hkv);
    gw_f32(w, K("attention.layer_norm_rms_epsilon"), 1e-5f);
    gw_f32(w, K("rope.freq_base"), 10000.0f);
    gw_u32(w, K("rope.dimension_count"), (uint32_t)hd);
#undef K
    for (layer = -1; layer < m->s.L; layer++)
        for (role = 0; role < NR; role++) {
            const int k = (layer + 1) * NR + role;
            const uint64_t r = m->rows[k], c = m->cols[k], nr = r ? r : 1;
            const int perm = permute && (role == MOD__ROLE_Q || role == MOD__ROLE_K || role == MOD__ROLE_Q_BIAS || role == MOD__ROLE_K_BIAS);
            const int type = r && is_matrix(role) ? m->mtype : T_F32;
            uint64_t ne[2], i, j;
            size_t rowb = qbytes(type) ? (size_t)(c / 32) * qbytes(type) : (size_t)c * (type == T_F32 ? 4 : 2), total = (size_t)nr * rowb;
            unsigned char *data;
            char name[96];
            if (!m->w[k]) continue;
            data = (unsigned char *)malloc(total);
            for (i = 0; i < nr; i++) {
                const uint64_t src = perm && r ? perm_src(i, hd) : i;
                unsigned char *o = data + i * rowb;
                if (qbytes(type)) { memcpy(o, m->blk[k] + src * rowb, rowb); continue; }
                for (j = 0; j < c; j++) {
                    float v = m->w[k][src * c + (perm && !r ? perm_src(j, hd) : j)];
                    if (m->gemma && (role == MOD__ROLE_OUT_NORM || role == MOD__ROLE_ATTN_NORM || role == MOD__ROLE_MLP_NORM)) v = 1.0f + v;
                    if (type == T_F32) mf_put_f32(o + 4 * j, v);
                    else {
                        uint16_t h = type == T_F16 ? mf_f32_to_f16(v) : mf_f32_to_bf16(v);
                        o[2 * j] = (unsigned char)h;
                        o[2 * j + 1] = (unsigned char)(h >> 8);
                    }
                }
            }
            ne[0] = c;
            ne[1] = r;
            if (layer < 0) snprintf(name, sizeof name, "%s", gguf_names[role]);
            else snprintf(name, sizeof name, "blk.%d.%s", layer, gguf_names[role]);
            gw_tensor(w, name, (uint32_t)type, r ? 2 : 1, ne, data, total);
            free(data);
        }
}

/* Engine logits of two model files on the same tokens: 1 when equal bit for bit; *maxdiff. */
static int same_logits(const char *a, const char *b, double *maxdiff)
{
    enum { N = 16 };
    mod_model *ma = load(a), *mb = load(b);
    mod_session *sa = NULL, *sb = NULL;
    mod_session_desc d;
    int32_t t[N];
    float *la, *lb;
    int i, V, same = 0;
    *maxdiff = 1e30;
    if (!ma || !mb) { if (ma) mod_model_free(ma); if (mb) mod_model_free(mb); return 0; }
    V = mod_model_config(ma)->vocab_size;
    for (i = 0; i < N; i++) t[i] = (int32_t)((i * 37 + 11) % V);
    la = (float *)malloc(sizeof(float) * N * (size_t)V);
    lb = (float *)malloc(sizeof(float) * N * (size_t)V);
    memset(&d, 0, sizeof d);
    if (mod_session_create(&sa, ma, &d, NULL) == MOD_OK && mod_session_create(&sb, mb, &d, NULL) == MOD_OK &&
        mod_prefill(sa, t, N, la) == MOD_OK && mod_prefill(sb, t, N, lb) == MOD_OK) {
        *maxdiff = 0;
        for (i = 0; i < N * V; i++) if (fabs((double)la[i] - lb[i]) > *maxdiff) *maxdiff = fabs((double)la[i] - lb[i]);
        same = !memcmp(la, lb, sizeof(float) * N * (size_t)V);
    }
    if (sa) mod_session_free(sa);
    if (sb) mod_session_free(sb);
    mod_model_free(ma);
    mod_model_free(mb);
    free(la);
    free(lb);
    return same;
}

static void write_gguf_model(const char *path, const wts *m, const char *arch, int permute)
{
    gw w;
    gw_init(&w);
    gguf_model(&w, m, arch, permute);
    gw_write(&w, path);
    gw_free(&w);
}

/* ---- weights in every type ----------------------------------------------------------------- */

static void test_lossless(void)
{
    static const struct { int type; const char *st, *dtype; } cases[] = {
        { T_F32, "F32", NULL }, { T_F16, "F16", "f16" }, { T_BF16, "BF16", "bf16" }
    };
    size_t c;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        spec s;
        wts m;
        double md;
        int qkv;
        for (qkv = 0; qkv < 2; qkv++) {
            const char *g = P("l%d%d.gguf", (int)c, qkv), *dir = P("l%d%d", (int)c, qkv), *a = P("l%d%d_g.mod", (int)c, qkv), *b = P("l%d%d_h.mod", (int)c, qkv);
            spec_default(&s);
            s.qkv_bias = qkv;
            s.tied = qkv;
            wts_init(&m, &s, cases[c].type, 0);
            write_gguf_model(g, &m, "llama", 1);
            write_hf(dir, &m, cases[c].st, NULL, NULL);
            check(conv(g, "-o", a, "--quiet", NULL) == 0, "%s llama GGUF%s converts (%s)", cases[c].st, qkv ? " with q/k/v biases, tied" : "", g_err);
            check(conv(dir, "-o", b, "--quiet", "--tokenizer", "none", cases[c].dtype ? "--dtype" : NULL, cases[c].dtype, NULL) == 0, "its Hugging Face directory converts (%s)", g_err);
            check(same_files(a, b), "%s: the GGUF file's model file is the directory's, byte for byte (q/k permutation undone)", cases[c].st);
            check(same_logits(a, b, &md) && md == 0, "%s: logits equal bit for bit", cases[c].st);
            wts_free(&m);
        }
    }
}

/* Quantized GGUF types: Q8_0 and Q4_0 carried block for block, the others decoded. */
static void test_quantized(void)
{
    static const int types[] = { T_Q8_0, T_Q4_0, T_Q4_1, T_Q5_0, T_Q5_1 };
    size_t c;
    for (c = 0; c < sizeof types / sizeof types[0]; c++) {
        const int t = types[c];
        const char *tn = t == T_Q8_0 ? "Q8_0" : t == T_Q4_0 ? "Q4_0" : t == T_Q4_1 ? "Q4_1" : t == T_Q5_0 ? "Q5_0" : "Q5_1";
        const char *g = P("q%d.gguf", t), *dir = P("q%d", t), *a = P("q%d_g.mod", t), *a32 = P("q%d_g32.mod", t), *b = P("q%d_h.mod", t);
        const char *aq = P("q%d_gq.mod", t), *bq = P("q%d_hq.mod", t);
        spec s;
        wts m;
        spec_default(&s);
        s.F = 64; /* whole blocks of 32 in every row */
        s.qkv_bias = 1;
        wts_init(&m, &s, t, 0);
        write_gguf_model(g, &m, "llama", 1);
        write_hf(dir, &m, "F32", NULL, NULL);
        check(conv(dir, "-o", b, "--quiet", "--tokenizer", "none", NULL) == 0, "%s: the directory of the decoded values converts (%s)", tn, g_err);
        check(conv(g, "-o", a32, "--quiet", "--dtype", "f32", NULL) == 0, "%s GGUF converts with --dtype f32 (%s)", tn, g_err);
        check(same_files(a32, b), "%s decoded as ggml defines it: the file equals the directory's f32 conversion", tn);
        if (t == T_Q8_0 || t == T_Q4_0) {
            const char *back = P("q%d_back.mod", t);
            check(conv(g, "-o", a, "--quiet", NULL) == 0 && strstr(g_out, "") != NULL, "%s GGUF converts keeping its blocks (%s)", tn, g_err);
            check(conv(a, "-o", back, "--quiet", "--dtype", "f32", NULL) == 0 && same_files(back, b),
                  "%s kept block for block: its %s matrices decode to the same values (ggml's nibble order is mod.h's)", tn, t == T_Q8_0 ? "q8_0" : "q4_0");
            refuse("a Q8_0/Q4_0 GGUF requantized", "adds the rounding of both", g, "--dtype", t == T_Q8_0 ? "q4_0" : "q8_0");
        } else {
            double md;
            check(conv(g, "-o", aq, "--quiet", NULL) == 0, "%s GGUF converts to q8_0 by default (%s)", tn, g_err);
            check(conv(dir, "-o", bq, "--quiet", "--tokenizer", "none", "--dtype", "q8_0", NULL) == 0 && same_files(aq, bq),
                  "%s: the default q8_0 file is the directory's --dtype q8_0 conversion, byte for byte", tn);
            check(same_logits(aq, bq, &md) && md == 0, "%s: logits equal bit for bit", tn);
        }
        wts_free(&m);
    }
}

/* K-quants: decoded through tools/ggml_dequant.h once it decodes them; refused by name before. */
static void test_kquants(void)
{
    /* type, bytes per block of 256, where its f16 scales are (-1 none; Q8_K's is an f32 at 0) */
    static const struct { int type; const char *name; size_t bytes; int h0, h1; } types[] = {
        { 10, "Q2_K", 84, 80, 82 }, { 11, "Q3_K", 110, 108, -1 }, { T_Q4_K, "Q4_K", 144, 0, 2 }, { 13, "Q5_K", 176, 0, 2 },
        { T_Q6_K, "Q6_K", 210, 208, -1 }, { 15, "Q8_K", 292, -1, -1 }
    };
    size_t c;
    for (c = 0; c < sizeof types / sizeof types[0]; c++) {
        const int t = types[c].type;
        const char *tn = types[c].name, *g = P("k%d.gguf", t);
        const size_t bytes = types[c].bytes;
        spec s;
        wts m;
        gw w;
        size_t k;
        /* one block of 256 per row: d 256, the token embedding in the K-quant type */
        spec_default(&s);
        s.d = 256; s.F = 256; s.L = 1; s.V = 8;
        wts_init(&m, &s, T_F32, 0);
        gw_init(&w);
        gguf_model(&w, &m, "llama", 1);
        for (k = 0; k < (size_t)w.nt; k++)
            if (!strcmp(w.t[k].name, "token_embd.weight")) {
                size_t j;
                free(w.t[k].data);
                w.t[k].type = (uint32_t)t;
                w.t[k].nbytes = bytes * 8;
                w.t[k].data = (unsigned char *)malloc(bytes * 8);
                for (j = 0; j < bytes * 8; j++) w.t[k].data[j] = (unsigned char)(mix(j) >> 9);
                for (j = 0; j < 8; j++) { /* finite scales */
                    if (types[c].h0 >= 0) put_h(w.t[k].data + j * bytes + types[c].h0, 0.01f);
                    if (types[c].h1 >= 0) put_h(w.t[k].data + j * bytes + types[c].h1, 0.002f);
                    if (t == 15) mf_put_f32(w.t[k].data + j * bytes, 0.0003f);
                }
            }
        gw_write(&w, g);
        if (ggml_dequant_supported((uint32_t)t)) {
            /* the directory holds the values tools/ggml_dequant.h decodes (its own tests check
               them against a transcription of the block formats) */
            const char *dir = P("k%d", t), *a = P("k%d_g.mod", t), *b = P("k%d_h.mod", t), *a32 = P("k%d_g32.mod", t), *b32 = P("k%d_h32.mod", t);
            for (k = 0; k < (size_t)w.nt; k++)
                if (!strcmp(w.t[k].name, "token_embd.weight"))
                    check(ggml_dequant_row((uint32_t)t, w.t[k].data, bytes * 8, m.w[MOD__ROLE_EMBED], 256 * 8) == 0, "%s decodes", tn);
            write_hf(dir, &m, "F32", NULL, NULL);
            check(conv(g, "-o", P("k%d_def.mod", t), NULL) == 0 && strstr(g_out, "mixed dtype (as in the input; ggml block types as q8_0)"),
                  "%s GGUF converts, its %s matrix as q8_0 and the F32 ones as f32 (%s)", tn, tn, g_err);
            check(conv(g, "-o", a32, "--quiet", "--dtype", "f32", NULL) == 0 && conv(dir, "-o", b32, "--quiet", "--tokenizer", "none", NULL) == 0 &&
                  same_files(a32, b32), "%s with --dtype f32: the directory's f32 conversion of the decoded values", tn);
            check(conv(g, "-o", a, "--quiet", "--dtype", "q8_0", NULL) == 0 && conv(dir, "-o", b, "--quiet", "--tokenizer", "none", "--dtype", "q8_0", NULL) == 0 &&
                  same_files(a, b), "%s with --dtype q8_0: the directory's q8_0 conversion of the decoded values", tn);
        } else {
            printf("   (tools/ggml_dequant.h does not decode %s yet: refused)\n", tn);
            refuse(tn, "has type Q", g, NULL, NULL);
            check(strstr(g_err, "which mod-convert cannot decode") != NULL, "%s is refused by name until it is decoded (%s)", tn, g_err);
        }
        gw_free(&w);
        wts_free(&m);
    }
}

/* ---- the permutation, the families ----------------------------------------------------------- */

static void test_permutation(void)
{
    spec s;
    wts m;
    double md = 0;
    const char *g = P("p.gguf"), *gq = P("pq.gguf"), *dir = P("p"), *a = P("p_g.mod"), *aq = P("pq_g.mod"), *b = P("p_h.mod");
    spec_default(&s);
    s.qkv_bias = 1;
    s.seed = 5;
    wts_init(&m, &s, T_F32, 0);
    write_hf(dir, &m, "F32", NULL, NULL);
    check(conv(dir, "-o", b, "--quiet", "--tokenizer", "none", NULL) == 0, "the directory converts (%s)", g_err);
    write_gguf_model(g, &m, "qwen2", 0);
    check(conv(g, "-o", a, "--quiet", NULL) == 0 && same_files(a, b), "qwen2 (rows as Hugging Face has them): the same file as the directory's (%s)", g_err);
    write_gguf_model(gq, &m, "qwen2", 1);
    check(conv(gq, "-o", aq, "--quiet", NULL) == 0, "permuted rows read as qwen2 convert (%s)", g_err);
    {
        const int same = same_logits(aq, b, &md);
        check(!same && md > 1e-3 && md < 1e30, "rows left in llama.cpp's order change the logits (by up to %g): the test model's attention depends on the permutation", md);
    }
    write_gguf_model(g, &m, "mistral", 1);
    check(conv(g, "-o", P("pm_g.mod"), "--quiet", NULL) == 0 && same_files(P("pm_g.mod"), b), "mistral (permuted as llama): the permutation is undone (%s)", g_err);
    wts_free(&m);
}

static void test_gemma(void)
{
    spec s;
    wts m;
    double md = 0;
    const char *g = P("gm.gguf"), *dir = P("gm"), *a = P("gm_g.mod"), *b = P("gm_h.mod");
    mod_model *mm;
    spec_default(&s);
    s.tied = 1;
    s.seed = 9;
    wts_init(&m, &s, T_F32, 1);
    write_hf(dir, &m, "F32", NULL, NULL);
    write_gguf_model(g, &m, "gemma", 0);
    check(conv(dir, "-o", b, "--quiet", "--tokenizer", "none", NULL) == 0, "the Gemma directory converts (%s)", g_err);
    check(conv(g, "-o", a, "--quiet", NULL) == 0, "the Gemma GGUF converts (%s)", g_err);
    mm = load(a);
    check(mm && mod_model_config(mm)->norm_offset == 0 && mod_model_config(mm)->activation == MOD_ACTIVATION_GELU_TANH &&
          mod_model_config(mm)->embed_scale == sqrtf(32.0f) && mod_model_config(mm)->tied_embeddings,
          "Gemma: the stored gains (1 + w) used as they are, GeGLU, embedding scale sqrtf(d), tied");
    if (mm) mod_model_free(mm);
    {
        const int same = same_logits(a, b, &md);
        check(same && md == 0, "Gemma: logits equal bit for bit to the directory's (gains 1 + w either way; max diff %g)", md);
    }
    wts_free(&m);
}

/* Llama 3.1: rope_freqs.weight as llama.cpp's converter computes it (in f32); the directory
   says the same with rope_scaling. */
static void test_llama3(void)
{
    spec s;
    wts m;
    gw w;
    const char *g = P("l3.gguf"), *dir = P("l3"), *a = P("l3_g.mod"), *b = P("l3_h.mod"), *bad = P("l3_bad.gguf");
    const int hd = 8;
    float f[4];
    uint64_t ne = 4;
    int i, pass;
    spec_default(&s);
    s.seed = 3;
    wts_init(&m, &s, T_F32, 0);
    write_hf(dir, &m, "F32", "\"rope_theta\": 10000.0,\n  \"hidden_act\": \"silu\",\n  \"rope_scaling\": null",
             "\"rope_theta\": 500000.0,\n  \"hidden_act\": \"silu\",\n  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, "
             "\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}");
    for (i = 0; i < hd / 2; i++) {
        const float fr = (float)(1.0 / pow(500000.0, (double)(2 * i) / hd));
        const float wl = (float)(2 * 3.14159265358979323846) / fr;
        if (wl < 8192.0f / 4.0f) f[i] = 1.0f;
        else if (wl > 8192.0f) f[i] = 8.0f;
        else { const float sm = (8192.0f / wl - 1.0f) / (4.0f - 1.0f); f[i] = 1.0f / ((1.0f - sm) / 8.0f + sm); }
    }
    check(f[0] == 1.0f && f[3] == 8.0f && f[2] > 1.0f && f[2] < 8.0f, "the test's factors cover the three bands (%g %g %g %g)", f[0], f[1], f[2], f[3]);
    for (pass = 0; pass < 2; pass++) {
        gw_init(&w);
        gguf_model(&w, &m, "llama", 1);
        /* the freq_base key says 500000 */
        {
            size_t k;
            for (k = 0; k + 18 < w.kv.n; k++)
                if (!memcmp(w.kv.p + k, "llama.rope.freq_base", 20)) { mf_put_f32(w.kv.p + k + 20 + 4, 500000.0f); break; }
        }
        if (pass) f[2] *= 1.01f;
        gw_tensor(&w, "rope_freqs.weight", T_F32, 1, &ne, f, sizeof f);
        gw_write(&w, pass ? bad : g);
        gw_free(&w);
    }
    check(conv(dir, "-o", b, "--quiet", "--tokenizer", "none", NULL) == 0, "the Llama 3.1-style directory converts (%s)", g_err);
    check(conv(g, "-o", a, NULL) == 0 && strstr(g_err, "factor 8, low_freq_factor 1, high_freq_factor 4, original context 8192"),
          "rope_freqs.weight is read as the llama3 scaling (%s)", g_err);
    check(same_files(a, b), "Llama 3.1: the same file as the directory's (rope_scaling llama3)");
    refuse("rope_freqs.weight that no llama3 scaling gives", "match no llama3 scaling", bad, NULL, NULL);
    wts_free(&m);
}

static void test_settings(void)
{
    spec s;
    wts m;
    gw w;
    mod_model *mm;
    const char *g = P("set.gguf"), *a = P("set.mod");
    spec_default(&s);
    wts_init(&m, &s, T_F32, 0);
    gw_init(&w);
    w.version = 2;
    w.alignment = 64;
    gw_u32(&w, "general.alignment", 64);
    gguf_model(&w, &m, "mistral", 1);
    gw_u32(&w, "mistral.attention.sliding_window", 16);
    gw_str(&w, "mistral.rope.scaling.type", "linear");
    gw_f32(&w, "mistral.rope.scaling.factor", 2.0f);
    gw_str(&w, "tokenizer.chat_template", "{{ messages }}");
    gw_write(&w, g);
    gw_free(&w);
    check(conv(g, "-o", a, "--quiet", NULL) == 0, "a version 2 file, alignment 64, with a window and linear RoPE scaling converts (%s)", g_err);
    mm = load(a);
    check(mm && mod_model_config(mm)->sliding_window == 16 && mod_model_config(mm)->rope_scaling == MOD_ROPE_SCALING_LINEAR &&
          mod_model_config(mm)->rope_factor == 2.0f, "mistral.attention.sliding_window and rope.scaling.* are the file's window and scaling");
    if (mm) mod_model_free(mm);
    wts_free(&m);
}

/* ---- tokenizers ------------------------------------------------------------------------------ */

/* A UTF-8 string of GPT-2's stand-in character for byte b. */
static size_t byte_utf8(int b, char *o)
{
    unsigned cp = byte_char(b);
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

static void test_tok_gpt2(void)
{
    static const char *const merged[] = { "he", "ll", "hell", "hello", "\xC4\xA0w", "or", "\xC4\xA0wor", "ld", "\xC4\xA0world", "\xC3\x83\xC2\xA9" };
    static const char *const merges[] = { "h e", "l l", "he ll", "hell o", "\xC4\xA0 w", "o r", "\xC4\xA0w or", "l d", "\xC4\xA0wor ld", "\xC3\x83 \xC2\xA9" };
    char *tok[267], buf[267][4];
    int32_t type[267];
    spec s;
    wts m;
    gw w;
    int b, k;
    const char *g = P("tg.gguf"), *dir = P("tg"), *a = P("tg_g.mod"), *h = P("tg_h.mod"), *g2 = P("tg2.gguf"), *g3 = P("tg3.gguf");
    const char *g4 = P("tg4.gguf"), *dir4 = P("tg4");
    mod_model *mm = NULL;
    for (b = 0; b < 256; b++) { size_t n = byte_utf8(b, buf[B(b)]); buf[B(b)][n] = 0; tok[B(b)] = buf[B(b)]; type[B(b)] = 1; }
    for (k = 0; k < 10; k++) { tok[256 + k] = (char *)merged[k]; type[256 + k] = 1; }
    tok[266] = (char *)"<|endoftext|>";
    type[266] = 3;
    spec_default(&s);
    wts_init(&m, &s, T_F16, 0); /* f16: small enough to be a fuzz seed */
    write_hf(dir, &m, "F16", NULL, NULL);
    write_tokenizer(P("tg/tokenizer.json"), 0, 0, NULL, NULL, -1);
    for (k = 0; k < 4; k++) {
        gw_init(&w);
        gguf_model(&w, &m, "llama", 1);
        gw_str(&w, "tokenizer.ggml.model", "gpt2");
        gw_str(&w, "tokenizer.ggml.pre", k == 1 ? "deepseek-llm" : k == 3 ? "llama-bpe" : "default");
        gw_arr_str(&w, "tokenizer.ggml.tokens", tok, NULL, 267);
        gw_arr_i32(&w, "tokenizer.ggml.token_type", type, 267);
        gw_arr_str(&w, "tokenizer.ggml.merges", (char *const *)merges, NULL, 10);
        gw_u32(&w, "tokenizer.ggml.bos_token_id", 266);
        gw_u32(&w, "tokenizer.ggml.eos_token_id", 266);
        gw_bool(&w, "tokenizer.ggml.add_bos_token", k != 2);
        gw_write(&w, k == 0 ? g : k == 1 ? g2 : k == 2 ? g3 : g4);
        gw_free(&w);
    }
    check(conv(dir, "-o", h, "--quiet", "--dtype", "f16", NULL) == 0, "the directory with its byte-level tokenizer.json converts (%s)", g_err);
    check(conv(g, "-o", a, "--quiet", NULL) == 0, "the GGUF with a \"gpt2\" tokenizer converts (%s)", g_err);
    check(same_files(a, h), "\"gpt2\": the whole file, tokenizer section included, is the tokenizer.json conversion's");
    {   /* Llama 3's split and ignore_merges in tokenizer.json; "llama-bpe" in the GGUF */
        static const char *const gpt2_rx = "'s|'t|'re|'ve|'m|'ll|'d| ?\\\\p{L}+| ?\\\\p{N}+| ?[^\\\\s\\\\p{L}\\\\p{N}]+|\\\\s+(?!\\\\S)|\\\\s+";
        static const char *const llama3_rx = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+";
        size_t n;
        char *j, *o, *at;
        write_hf(dir4, &m, "F16", NULL, NULL);
        write_tokenizer(P("tg4/tokenizer.json"), 0, 1, NULL, NULL, -1);
        j = (char *)read_file(P("tg4/tokenizer.json"), &n);
        o = (char *)malloc(n + 4096);
        at = strstr(j, gpt2_rx);
        check(at != NULL, "the test finds GPT-2's regex in its tokenizer.json");
        if (at) {
            char *mdl;
            sprintf(o, "%.*s%s%s", (int)(at - j), j, llama3_rx, at + strlen(gpt2_rx));
            mdl = strstr(o, "\"type\":\"BPE\",");
            if (mdl) { mdl += 13; memmove(mdl + 21, mdl, strlen(mdl) + 1); memcpy(mdl, "\"ignore_merges\":true,", 21); }
            write_str(P("tg4/tokenizer.json"), o);
            check(conv(dir4, "-o", P("tg4_h.mod"), "--quiet", "--dtype", "f16", NULL) == 0 && conv(g4, "-o", P("tg4_g.mod"), "--quiet", NULL) == 0 &&
                  same_files(P("tg4_g.mod"), P("tg4_h.mod")), "\"llama-bpe\": the file of the tokenizer.json with Llama 3's split and ignore_merges (%s)", g_err);
        }
        free(j);
        free(o);
    }
    refuse("tokenizer.ggml.pre naming a split mod.h lacks", "tokenizer.ggml.pre is \"deepseek-llm\"", g2, NULL, NULL);
    check(conv(g3, "-o", P("tg3.mod"), NULL) == 0 && strstr(g_err, "add_bos_token is false") && (mm = load(P("tg3.mod"))) != NULL,
          "add_bos_token false converts, with a note (%s)", g_err);
    if (mm) {
        check(mod_token_bos(mm) == -1 && mod_token_eos(mm) == 266, "add_bos_token false: no BOS in the model file (so none is prepended), EOS 266");
        mod_model_free(mm);
    }
    wts_free(&m);
}

/* a template in the ChatML form (the markers mod.h recognises; not any model's own text) */
static const char k_chat_template[] =
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/* The SentencePiece vocabulary both SentencePiece tests start from: <unk> (unknown), <s> and
   </s> (control), the 256 byte tokens, then "\u2581", "a", "b", "\u2581a", "ab", "\u2581ab" and
   "<x>" at 259-265 (their types and scores are each test's). */
static void spm_vocab_base(char **tok, int32_t *type, char bytes[256][8])
{
    int i;
    tok[0] = (char *)"<unk>"; type[0] = 2;
    tok[1] = (char *)"<s>"; type[1] = 3;
    tok[2] = (char *)"</s>"; type[2] = 3;
    for (i = 0; i < 256; i++) { sprintf(bytes[i], "<0x%02X>", i); tok[3 + i] = bytes[i]; type[3 + i] = 6; }
    tok[259] = (char *)"\xE2\x96\x81"; tok[260] = (char *)"a"; tok[261] = (char *)"b";
    tok[262] = (char *)"\xE2\x96\x81" "a"; tok[263] = (char *)"ab"; tok[264] = (char *)"\xE2\x96\x81" "ab"; tok[265] = (char *)"<x>";
}

static void test_tok_spm(void)
{
    static const char *const texts[] = { "", "a", "ab", "a b", " ab", "ab ", "ba", "aab", "abab", "a  b", "hello", "\xC3\xA9", "a\nb", "b a ab", "  ", "aba bab" };
    char *tok[266], bytes[256][8];
    float score[266];
    int32_t type[266];
    spec s;
    wts m;
    gw w;
    int i;
    const char *g = P("ts.gguf"), *dir = P("ts"), *a = P("ts_g.mod"), *h = P("ts_h.mod");
    mod_model *ma, *mh;
    spm_vocab_base(tok, type, bytes);
    for (i = 0; i < 266; i++) score[i] = 0.0f;
    for (i = 259; i < 265; i++) type[i] = 1;
    type[265] = 4;
    score[259] = -100; score[260] = -101; score[261] = -102; score[262] = -1; score[263] = -2; score[264] = -3;
    spec_default(&s);
    wts_init(&m, &s, T_F16, 0);
    write_hf(dir, &m, "F16", NULL, NULL);
    write_sp_tokenizer(P("ts/tokenizer.json"), NULL, NULL, NULL, NULL, NULL);
    gw_init(&w);
    gguf_model(&w, &m, "llama", 1);
    gw_str(&w, "tokenizer.ggml.model", "llama");
    gw_arr_str(&w, "tokenizer.ggml.tokens", tok, NULL, 266);
    gw_arr_f32(&w, "tokenizer.ggml.scores", score, 266);
    gw_arr_i32(&w, "tokenizer.ggml.token_type", type, 266);
    gw_u32(&w, "tokenizer.ggml.bos_token_id", 1);
    gw_u32(&w, "tokenizer.ggml.eos_token_id", 2);
    gw_u32(&w, "tokenizer.ggml.unknown_token_id", 0);
    gw_bool(&w, "tokenizer.ggml.add_bos_token", 1);
    gw_str(&w, "tokenizer.chat_template", k_chat_template);
    gw_write(&w, g);
    gw_free(&w);
    check(conv(dir, "-o", h, "--quiet", NULL) == 0, "the directory with its SentencePiece-style tokenizer.json converts (%s)", g_err);
    check(conv(g, "-o", a, "--quiet", NULL) == 0, "the GGUF with a \"llama\" tokenizer converts (%s)", g_err);
    ma = load(a);
    mh = load(h);
    if (ma && mh) {
        int same = 1, dsame = 1;
        check(mod_token_bos(ma) == 1 && mod_token_eos(ma) == 2 && mod_token_bos(mh) == 1 && mod_token_eos(mh) == 2, "BOS 1 and EOS 2 in both");
        for (i = 0; i < (int)(sizeof texts / sizeof texts[0]); i++) {
            int32_t ta[64], th[64];
            int na = -1, nh = -2;
            char da[256], dh[256];
            size_t la = 0, lh = 1;
            mod_tokenize(ma, texts[i], strlen(texts[i]), MOD_TOKENIZE_BOS, ta, 64, &na, NULL);
            mod_tokenize(mh, texts[i], strlen(texts[i]), MOD_TOKENIZE_BOS, th, 64, &nh, NULL);
            if (na != nh || memcmp(ta, th, sizeof(int32_t) * (size_t)(na > 0 ? na : 0))) {
                same = 0;
                printf("   \"%s\": %d tokens from the GGUF, %d from tokenizer.json\n", texts[i], na, nh);
            }
            mod_detokenize(ma, ta, na, da, sizeof da, &la);
            mod_detokenize(mh, ta, na, dh, sizeof dh, &lh);
            if (la != lh || memcmp(da, dh, la) || la != strlen(texts[i]) || memcmp(da, texts[i], la)) dsame = 0;
        }
        check(same, "\"llama\": %d texts encode to the same tokens as with the tokenizer.json of the same vocabulary", (int)(sizeof texts / sizeof texts[0]));
        check(dsame, "\"llama\": and decode to the same text, which is the text encoded");
        {
            size_t tl = 0;
            const char *t = mod_model_chat_template(ma, &tl);
            check(t && tl == strlen(k_chat_template) && !memcmp(t, k_chat_template, tl) && mod_chat_format_detect(t, tl) == MOD_CHAT_CHATML,
                  "tokenizer.chat_template is the model file's chat template, recognised as ChatML");
            check(!mod_model_chat_template(mh, &tl), "the directory without tokenizer_config.json: no chat template");
        }
    } else check(0, "both files load");
    if (ma) mod_model_free(ma);
    if (mh) mod_model_free(mh);
    wts_free(&m);
}

/* A SentencePiece vocabulary with added tokens: test_tok_spm's, then the user-defined (type 4)
   "<table>" (266), "\n\n" (267) and U+2581 U+2581 (268; Gemma spells its whitespace runs so),
   and the control (3) "<start_of_turn>" (269); "<x>" (265) is user-defined already. The same
   vocabulary as a tokenizer.json: these as added tokens (special: the control ones), U+2581
   U+2581 also reached by the merge "U+2581 U+2581", ranked last as its GGUF score is lowest. */
#define SPA_N 270
static const char k_spa_vocab[] = "\"<table>\":266,\"\\n\\n\":267,\"" CK_SP CK_SP "\":268,\"<start_of_turn>\":269";
static const char k_spa_added[] =
    "{\"id\":266,\"content\":\"<table>\",\"special\":false},{\"id\":267,\"content\":\"\\n\\n\",\"special\":false},"
    "{\"id\":268,\"content\":\"" CK_SP CK_SP "\",\"special\":false},{\"id\":269,\"content\":\"<start_of_turn>\",\"special\":true}";
static const char k_spa_merges[] = "\"" CK_SP " " CK_SP "\"";

static void spa_gguf(const char *path, const wts *m, int prefix)
{
    char *tok[SPA_N], bytes[256][8];
    float score[SPA_N];
    int32_t type[SPA_N];
    gw w;
    int i;
    spm_vocab_base(tok, type, bytes);
    tok[266] = (char *)"<table>"; tok[267] = (char *)"\n\n"; tok[268] = (char *)"\xE2\x96\x81\xE2\x96\x81"; tok[269] = (char *)"<start_of_turn>";
    for (i = 0; i < SPA_N; i++) score[i] = 0.0f;
    for (i = 259; i < 265; i++) type[i] = 1;
    type[265] = type[266] = type[267] = type[268] = 4;
    type[269] = 3;
    score[259] = -100; score[260] = -101; score[261] = -102; score[262] = -1; score[263] = -2; score[264] = -3; score[268] = -4;
    gw_init(&w);
    gguf_model(&w, m, "llama", 1);
    gw_str(&w, "tokenizer.ggml.model", "llama");
    gw_arr_str(&w, "tokenizer.ggml.tokens", tok, NULL, SPA_N);
    gw_arr_f32(&w, "tokenizer.ggml.scores", score, SPA_N);
    gw_arr_i32(&w, "tokenizer.ggml.token_type", type, SPA_N);
    gw_u32(&w, "tokenizer.ggml.bos_token_id", 1);
    gw_u32(&w, "tokenizer.ggml.eos_token_id", 2);
    gw_bool(&w, "tokenizer.ggml.add_space_prefix", prefix);
    gw_write(&w, path);
    gw_free(&w);
}

/* Ids as a comma-separated list, for messages and comparisons. */
static const char *ids_str(const int32_t *t, int n)
{
    static char buf[2][1024];
    static int which;
    char *o = buf[which++ & 1];
    int i, k = 0;
    o[0] = 0;
    for (i = 0; i < n && k < 1000; i++) k += snprintf(o + k, (size_t)(1024 - k), "%s%d", i ? "," : "", (int)t[i]);
    return o;
}

/* Added tokens of a SentencePiece GGUF (user-defined always matched, control ones with
   MOD_TOKENIZE_SPECIAL), against the tokenizer.json conversion of the same vocabulary (kind 3,
   whose encoder tests/test_hf_tokenizers.sh holds to Hugging Face's) and against ids worked out
   by hand, which were also checked once with the Node oracle (@lenml/tokenizers, as
   tests/hf_oracle.js drives it) on the tokenizer.json written here. Llama style: a prefix space
   (add_space_prefix; tokenizer.json's Prepend normalizer) before each piece of text between
   added tokens, as llama.cpp puts it; Gemma style: none, and every text decodes to itself. */
static void test_tok_spm_added(void)
{
    static const char *const texts[] = { "<x>", "a<x>", "<x>a", "a<x>b", "<x><x>", "<x><table>ab", "ab<table>", "a\n\nb", "\n\n\n",
                                         "\n\n\n\n", "a  b", "  a", "a\xE2\x96\x81\xE2\x96\x81\x62", "<s>a</s>", "<start_of_turn>a",
                                         "a <start_of_turn> b", "<unk>", "<tab<table>", "<table", " <x> ", "b<x>\n\n<s><table>", "" };
    /* (text, flags, Llama-style ids, Gemma-style ids): worked out by hand from the merges, and
       the same as the Node oracle gives for the tokenizer.json (its merges given as pairs) */
    static const struct { const char *text; int flags; int32_t llama[8], gemma[8]; int nl, ng; } want[] = {
        { "a<x>b", 0, { 262, 265, 259, 261 }, { 260, 265, 261 }, 4, 3 },
        { "<x>ab", 0, { 265, 264 }, { 265, 263 }, 2, 2 },
        { "ab<x>", 0, { 264, 265 }, { 263, 265 }, 2, 2 },
        { "<x><table>", 0, { 265, 266 }, { 265, 266 }, 2, 2 },
        { "a\n\nb", 0, { 262, 267, 259, 261 }, { 260, 267, 261 }, 4, 3 },
        { "a  b", 0, { 262, 268, 261 }, { 260, 268, 261 }, 3, 3 },
        { "  a", 0, { 268, 262 }, { 259, 262 }, 2, 2 },
        { "a\xE2\x96\x81\xE2\x96\x81" "b", 0, { 262, 268, 259, 261 }, { 260, 268, 261 }, 4, 3 },
        { "<s>a</s>", MOD_TOKENIZE_SPECIAL, { 1, 262, 2 }, { 1, 260, 2 }, 3, 3 },
        { "<s>ab", MOD_TOKENIZE_SPECIAL | MOD_TOKENIZE_BOS, { 1, 1, 264 }, { 1, 1, 263 }, 3, 3 },
        { "<s>a", 0, { 259, 3 + '<', 3 + 's', 3 + '>', 260 }, { 3 + '<', 3 + 's', 3 + '>', 260 }, 5, 4 },
        { "<start_of_turn>a", MOD_TOKENIZE_SPECIAL, { 269, 262 }, { 269, 260 }, 2, 2 },
        { "<unk>", MOD_TOKENIZE_SPECIAL, { 0 }, { 0 }, 1, 1 },
        { "<tab<table>", 0, { 259, 3 + '<', 3 + 't', 263, 266 }, { 3 + '<', 3 + 't', 263, 266 }, 5, 4 },
        { "a <start_of_turn> b", MOD_TOKENIZE_SPECIAL, { 262, 259, 269, 268, 261 }, { 260, 259, 269, 259, 261 }, 5, 5 },
        { " <x> ", 0, { 268, 265, 268 }, { 259, 265, 259 }, 3, 3 },
        { "\n\n\n", 0, { 267, 259, 3 + '\n' }, { 267, 3 + '\n' }, 3, 2 },
        { "b<x>\n\n<s><table>", MOD_TOKENIZE_SPECIAL, { 259, 261, 265, 267, 1, 266 }, { 261, 265, 267, 1, 266 }, 6, 5 },
    };
    static const int flag_sets[3] = { 0, MOD_TOKENIZE_SPECIAL, MOD_TOKENIZE_SPECIAL | MOD_TOKENIZE_BOS };
    static const char gemma_norm[] = "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"" CK_SP "\"}";
    static const char gemma_dec[] = "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"" CK_SP "\"},\"content\":\" \"},"
                                    "{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}]}";
    spec s;
    wts m;
    int style, i, f;
    spec_default(&s);
    wts_init(&m, &s, T_F16, 0);
    for (style = 0; style < 2; style++) { /* 0 Llama style, 1 Gemma style */
        const char *g = P(style ? "tsg.gguf" : "tsl.gguf"), *dir = P(style ? "tsg" : "tsl");
        const char *a = P(style ? "tsg_g.mod" : "tsl_g.mod"), *h = P(style ? "tsg_h.mod" : "tsl_h.mod"), *name = style ? "Gemma style" : "Llama style";
        char json[4200];
        mod_model *ma, *mh;
        int same = 1, dsame = 1, round = 1, n_cmp = 0;
        write_hf(dir, &m, "F16", NULL, NULL);
        snprintf(json, sizeof json, "%s/tokenizer.json", dir);
        write_sp_tokenizer_more(json, style ? gemma_norm : NULL, NULL, style ? gemma_dec : NULL, k_spa_vocab, NULL, k_spa_added, k_spa_merges);
        spa_gguf(g, &m, !style);
        check(conv(dir, "-o", h, "--quiet", NULL) == 0, "%s: the tokenizer.json with added tokens converts (%s)", name, g_err);
        check(conv(g, "-o", a, "--quiet", NULL) == 0, "%s: the SentencePiece GGUF with user-defined and control tokens converts (%s)", name, g_err);
        ma = load(a);
        mh = load(h);
        if (!ma || !mh) {
            check(0, "%s: both files load", name);
            if (ma) mod_model_free(ma);
            if (mh) mod_model_free(mh);
            continue;
        }
        check(ma->vocab.kind == MOD__VOCAB_SCORED && ma->vocab.n_added == 8 && mh->vocab.kind == MOD__VOCAB_SP && mh->vocab.n_added == 8,
              "%s: kind 2 with 8 added tokens from the GGUF (<unk> <s> </s> <start_of_turn> special; <x> <table> \\n\\n U+2581 U+2581): %d; "
              "kind 3 with the same 8 from tokenizer.json: %d", name, ma->vocab.n_added, mh->vocab.n_added);
        for (i = 0; i < (int)(sizeof texts / sizeof texts[0]); i++)
            for (f = 0; f < 3; f++) {
                int32_t ta[64], th[64];
                int na = -1, nh = -2;
                char da[256], dh[256];
                size_t la = 0, lh = 1, tl = strlen(texts[i]);
                mod_result ra = mod_tokenize(ma, texts[i], tl, flag_sets[f], ta, 64, &na, NULL);
                mod_result rh = mod_tokenize(mh, texts[i], tl, flag_sets[f], th, 64, &nh, NULL);
                n_cmp++;
                if (ra != MOD_OK || rh != MOD_OK || na != nh || memcmp(ta, th, sizeof(int32_t) * (size_t)(na > 0 ? na : 0))) {
                    same = 0;
                    printf("   %s, \"%s\" (flags %d): GGUF %s, tokenizer.json %s\n", name, texts[i], flag_sets[f], ids_str(ta, na), ids_str(th, nh));
                    continue;
                }
                mod_detokenize(ma, ta, na, da, sizeof da, &la);
                mod_detokenize(mh, ta, na, dh, sizeof dh, &lh);
                if (la != lh || memcmp(da, dh, la)) dsame = 0;
                /* Gemma style: every text comes back (as plain text, no control token read), but for a
                   typed U+2581, whose tokens decode to spaces */
                if (style && f == 0 && !strstr(texts[i], "\xE2\x96\x81") && (la != tl || memcmp(da, texts[i], tl))) {
                    round = 0;
                    printf("   %s: \"%s\" decodes to \"%.*s\"\n", name, texts[i], (int)la, da);
                }
            }
        check(same, "%s: %d encodings (texts x no flags, special, special + BOS) equal the tokenizer.json conversion's", name, n_cmp);
        check(dsame, "%s: and decode to the same text", name);
        if (style) check(round, "%s: every text without a typed U+2581 decodes to itself", name);
        for (i = 0; i < (int)(sizeof want / sizeof want[0]); i++) {
            int32_t t[64];
            int n = -1;
            const int32_t *w = style ? want[i].gemma : want[i].llama;
            const int wn = style ? want[i].ng : want[i].nl;
            mod_tokenize(ma, want[i].text, strlen(want[i].text), want[i].flags, t, 64, &n, NULL);
            check(n == wn && !memcmp(t, w, sizeof(int32_t) * (size_t)wn), "%s: \"%s\" (flags %d) is %s (want %s)", name, want[i].text,
                  want[i].flags, ids_str(t, n), ids_str(w, wn));
        }
        mod_model_free(ma);
        mod_model_free(mh);
    }
    wts_free(&m);
}

/* ---- corrupt files ------------------------------------------------------------------------- */

/* A buffer being built by hand. */
static gw_buf hb;
static void h_reset(uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    hb.n = 0;
    gw_put(&hb, "GGUF", 4);
    gw_put_u32(&hb, version);
    gw_put_u64(&hb, n_tensors);
    gw_put_u64(&hb, n_kv);
}
static void h_key(const char *k, uint32_t type) { gw_put_str(&hb, k, strlen(k)); gw_put_u32(&hb, type); }
static void h_kv_u32(const char *k, uint32_t v) { h_key(k, GW_U32); gw_put_u32(&hb, v); }
static void h_info(const char *name, uint32_t n_dims, uint64_t ne0, uint64_t ne1, uint32_t type, uint64_t off)
{
    gw_put_str(&hb, name, strlen(name));
    gw_put_u32(&hb, n_dims);
    gw_put_u64(&hb, ne0);
    if (n_dims > 1) gw_put_u64(&hb, ne1);
    gw_put_u32(&hb, type);
    gw_put_u64(&hb, off);
}
static void h_pad(size_t to) { static const unsigned char z[256]; gw_put(&hb, z, (to - hb.n % to) % to); }
static void h_zeros(size_t n) { static const unsigned char z[4096]; while (n) { size_t k = n < sizeof z ? n : sizeof z; gw_put(&hb, z, k); n -= k; } }
static void h_refuse(const char *what, const char *pattern)
{
    const char *p = P("bad.gguf");
    gw_save(p, hb.p, hb.n);
    refuse(what, pattern, p, NULL, NULL);
}

/* A valid model's file with one metadata key added, or one tensor added, or changed. */
static void model_refuse(const char *what, const char *pattern, const char *arch, void (*edit)(gw *), const char *opt1, const char *opt2)
{
    spec s;
    wts m;
    gw w;
    const char *p = P("badm.gguf");
    spec_default(&s);
    wts_init(&m, &s, T_F32, 0);
    gw_init(&w);
    gguf_model(&w, &m, arch, 1);
    if (edit) edit(&w);
    gw_write(&w, p);
    gw_free(&w);
    wts_free(&m);
    refuse(what, pattern, p, opt1, opt2);
}
static void e_experts(gw *w) { gw_u32(w, "llama.expert_count", 8); }
static void e_yarn(gw *w) { gw_str(w, "llama.rope.scaling.type", "yarn"); }
static void e_partial(gw *w) { size_t k; for (k = 0; k + 26 < w->kv.n; k++) if (!memcmp(w->kv.p + k, "llama.rope.dimension_count", 26)) { mf_put_u32(w->kv.p + k + 30, 4); break; } }
static void e_bert(gw *w) { gw_str(w, "tokenizer.ggml.model", "bert"); }
static void e_missing(gw *w) { int i; for (i = 0; i < w->nt; i++) if (!strcmp(w->t[i].name, "blk.0.ffn_up.weight")) { free(w->t[i].data); w->t[i] = w->t[--w->nt]; break; } }
static void e_shape(gw *w) { int i; for (i = 0; i < w->nt; i++) if (!strcmp(w->t[i].name, "blk.1.attn_k.weight")) { w->t[i].ne[1] = 8; w->t[i].nbytes = 8 * 32 * 4; } }
static void e_extra(gw *w) { float z[4] = { 0 }; uint64_t ne = 4; gw_tensor(w, "blk.0.attn_sinks.weight", T_F32, 1, &ne, z, sizeof z); }
static void e_iq(gw *w) { unsigned char z[74 * 32]; uint64_t ne[2] = { 256, 32 }; memset(z, 0, sizeof z); gw_tensor(w, "blk.0.attn_iq.weight", T_IQ2_XS, 2, ne, z, sizeof z); }
static void e_hc_array(gw *w)
{
    size_t k;
    for (k = 0; k + 26 < w->kv.n; k++)
        if (!memcmp(w->kv.p + k, "llama.attention.head_count", 26) && w->kv.p[k + 26] != '_') {
            /* the same key, retyped as an array of one u32 would change the length: rename it and add an array */
            w->kv.p[k + 6] = 'X';
            break;
        }
    {
        uint32_t v[4] = { 4, 4, 4, 4 };
        gw_key(w, "llama.attention.head_count", GW_ARRAY);
        gw_put_u32(&w->kv, GW_U32);
        gw_put_u64(&w->kv, 4);
        gw_put_u32(&w->kv, v[0]); gw_put_u32(&w->kv, v[1]); gw_put_u32(&w->kv, v[2]); gw_put_u32(&w->kv, v[3]);
    }
}

/* A small tokenizer added to a model's file, with one thing wrong in it (what). */
static int g_tok_fault;
static void e_tok(gw *w)
{
    char *tok[6] = { (char *)"<s>", (char *)"a", (char *)"b", (char *)"ab", (char *)"<0x41>", (char *)"\xE2\x96\x81" "a" };
    int32_t type[6] = { 3, 1, 1, 1, 6, 1 };
    float score[6] = { 0, -1, -2, -3, 0, -4 };
    char *merges[1] = { (char *)"a b" };
    const int f = g_tok_fault;
    if (f >= 5 && f <= 7) tok[5] = (char *)"\xC4\xA0" "a";     /* gpt2: " a" in the byte-level alphabet */
    if (f == 1) tok[3] = (char *)"a b";                       /* a literal space in a SentencePiece token */
    if (f == 2) tok[4] = (char *)"<0xZ1>";                    /* a byte token that is not <0xXX> */
    if (f == 3) type[2] = 9;                                  /* a token type llama.cpp does not have */
    if (f == 4) score[1] = 1.0f / 0.0f;                       /* a score that is not finite */
    if (f == 5) tok[1] = (char *)"\xE2\x82\xAC";             /* a gpt2 token outside the byte-level alphabet */
    if (f == 6) merges[0] = (char *)"ab";                     /* a merge that is not two tokens */
    if (f == 7) merges[0] = (char *)"a c";                    /* a merge naming a token not in the vocabulary */
    if (f == 10) {                                            /* a user-defined token of 400 U+2581: 400 bytes stored, 1200 typed */
        static char run[1201];
        int i;
        for (i = 0; i < 400; i++) memcpy(run + 3 * i, "\xE2\x96\x81", 3);
        tok[5] = run;
        type[5] = 4;
    }
    if (f == 11) { tok[5] = (char *)"<s>"; type[5] = 4; }    /* a user-defined token with a control token's text */
    gw_str(w, "tokenizer.ggml.model", f >= 5 && f <= 7 ? "gpt2" : "llama");
    gw_arr_str(w, "tokenizer.ggml.tokens", tok, NULL, 6);
    if (f == 8) gw_arr_f32(w, "tokenizer.ggml.scores", score, 5); /* one score short */
    else gw_arr_f32(w, "tokenizer.ggml.scores", score, 6);
    gw_arr_i32(w, "tokenizer.ggml.token_type", type, 6);
    if (f >= 5 && f <= 7) gw_arr_str(w, "tokenizer.ggml.merges", merges, NULL, 1);
    gw_u32(w, "tokenizer.ggml.bos_token_id", f == 9 ? 6 : 0); /* an id past the tokens */
}

static void test_corrupt(void)
{
    char big[70];
    unsigned char one = 2;
    int i;
    /* header */
    hb.n = 0; gw_put(&hb, "GGUF", 4);
    h_refuse("only the magic", "the version needs 4 bytes");
    h_reset(1, 0, 0); h_refuse("version 1", "GGUF version 1 is not supported");
    hb.n = 0; gw_put(&hb, "GGUF\0\0\0\3", 8); gw_put_u64(&hb, 0); gw_put_u64(&hb, 0); h_refuse("a big-endian file", "big-endian GGUF file");
    h_reset(7, 0, 0); h_refuse("an unknown version", "GGUF version 7 is unknown");
    hb.n = 0; gw_put(&hb, "GGUF", 4); gw_put_u32(&hb, 3); gw_put_u32(&hb, 0); h_refuse("a truncated tensor count", "the tensor count needs 8 bytes");
    h_reset(3, 0, 70000); h_refuse("too many keys", "metadata keys, more than the 65536 allowed");
    h_reset(3, 70000, 0); h_refuse("too many tensors", "tensors, more than the 65536 allowed");
    h_reset(3, 1000, 1000); h_zeros(100); h_refuse("counts the file cannot hold", "cannot fit in the");
    /* keys */
    h_reset(3, 0, 1); gw_put_u64(&hb, 70000); h_zeros(70010); h_refuse("a key longer than 65535 bytes", "is 70000 bytes long, more than the 65535 allowed");
    h_reset(3, 0, 1); gw_put_u64(&hb, 200); h_zeros(20); h_refuse("a key past the end", "claims 200 bytes, but only");
    h_reset(3, 0, 1); gw_put_str(&hb, "", 0); gw_put_u32(&hb, GW_U32); gw_put_u32(&hb, 1); h_refuse("an empty key", "metadata key 0 is empty");
    h_reset(3, 0, 1); gw_put_str(&hb, "a\0b", 3); gw_put_u32(&hb, GW_U32); gw_put_u32(&hb, 1); h_refuse("a key with a NUL byte", "contains a NUL byte");
    h_reset(3, 0, 1); h_key("general.x", 13); gw_put_u32(&hb, 1); h_refuse("an unknown value type", "key general.x: unknown value type 13");
    h_reset(3, 0, 1); h_key("general.b", GW_BOOL); gw_put(&hb, &one, 1); h_refuse("a bool of 2", "a bool must be 0 or 1, it is 2");
    h_reset(3, 0, 1); h_key("general.a", GW_ARRAY); gw_put_u32(&hb, 99); gw_put_u64(&hb, 1); gw_put_u32(&hb, 0); h_refuse("an array of an unknown type", "an array of unknown value type 99");
    h_reset(3, 0, 1); h_key("general.a", GW_ARRAY); gw_put_u32(&hb, GW_U32); gw_put_u64(&hb, (uint64_t)1 << 61); gw_put_u32(&hb, 0);
    h_refuse("an array longer than the file", "uint32 values needs more bytes than remain");
    h_reset(3, 0, 1); h_key("general.a", GW_ARRAY); gw_put_u32(&hb, GW_STRING); gw_put_u64(&hb, 1000000); gw_put_u64(&hb, 0);
    h_refuse("an array of strings longer than the file", "string values needs more bytes than remain");
    h_reset(3, 0, 1); h_key("general.a", GW_ARRAY);
    for (i = 0; i < 5; i++) { gw_put_u32(&hb, GW_ARRAY); gw_put_u64(&hb, 1); }
    gw_put_u32(&hb, GW_U8); gw_put_u64(&hb, 0);
    h_refuse("arrays nested 6 deep", "arrays nested more than 4 deep");
    h_reset(3, 0, 1); h_key("general.s", GW_STRING); gw_put_u64(&hb, UINT64_MAX); h_zeros(16); h_refuse("a string of 2^64-1 bytes", "a string value at byte");
    h_reset(3, 0, 2); h_kv_u32("general.k", 1); h_kv_u32("general.k", 2); h_refuse("a repeated key", "metadata key general.k appears twice");
    h_reset(3, 0, 1); h_key("general.alignment", GW_U64); gw_put_u64(&hb, 32); h_refuse("general.alignment of the wrong type", "general.alignment must be a uint32, it is a uint64");
    h_reset(3, 0, 1); h_kv_u32("general.alignment", 48); h_refuse("general.alignment not a power of two", "general.alignment is 48, not a power of two");
    /* tensor infos */
    memset(big, 'x', 65); big[65] = 0;
    h_reset(3, 1, 0); h_info(big, 1, 32, 0, T_F32, 0); h_refuse("a tensor name of 65 bytes", "a tensor name at byte 24 is 65 bytes long, more than the 64 allowed");
    h_reset(3, 1, 0); h_info("", 1, 32, 0, T_F32, 0); h_refuse("an empty tensor name", "tensor 0 has an empty name");
    h_reset(3, 1, 0); gw_put_str(&hb, "t", 1); gw_put_u32(&hb, 0); gw_put_u32(&hb, 0); gw_put_u64(&hb, 0); h_zeros(32); h_refuse("a tensor of 0 dimensions", "tensor t has 0 dimensions; 1 to 4 are allowed");
    h_reset(3, 1, 0); gw_put_str(&hb, "t", 1); gw_put_u32(&hb, 5); h_zeros(60); h_refuse("a tensor of 5 dimensions", "tensor t has 5 dimensions");
    h_reset(3, 1, 0); h_info("t", 2, 32, 0, T_F32, 0); h_refuse("a dimension of 0", "tensor t: dimension 1 is 0");
    h_reset(3, 1, 0); h_info("t", 2, (uint64_t)1 << 40, (uint64_t)1 << 30, T_F32, 0); h_refuse("an element count over 2^62", "tensor t: its element count exceeds 2^62");
    h_reset(3, 1, 0); h_info("t", 1, 32, 0, 99, 0); h_refuse("an undefined ggml type", "tensor t has type 99, which ggml does not define");
    h_reset(3, 1, 0); h_info("t", 1, 32, 0, 4, 0); h_refuse("a removed ggml type", "tensor t has type Q4_2 (removed from ggml)");
    h_reset(3, 1, 0); h_info("t", 1, 48, 0, T_Q8_0, 0); h_refuse("a row that is not whole blocks", "its rows of 48 values are not whole Q8_0 blocks of 32");
    h_reset(3, 1, 0); h_info("t", 1, 8, 0, T_F32, 16); h_refuse("an offset not a multiple of the alignment", "offset 16 is not a multiple of the alignment 32");
    h_reset(3, 2, 0); h_info("t", 1, 8, 0, T_F32, 0); h_info("t", 1, 8, 0, T_F32, 32); h_pad(32); h_zeros(64); h_refuse("a repeated tensor name", "tensor t appears twice");
    h_reset(3, 1, 0); h_info("t", 1, 64, 0, T_F32, 0); h_pad(32); h_zeros(100); h_refuse("tensor data past the end", "lie past the end of the file");
    h_reset(3, 2, 0); h_info("t", 1, 16, 0, T_F32, 0); h_info("u", 1, 8, 0, T_F32, 32); h_pad(32); h_zeros(96); h_refuse("overlapping tensors", "tensors t and u overlap");
    h_reset(3, 1, 0); h_info("t", 1, 8, 0, T_F32, 0); h_refuse("a file that ends before its data", "the tensor data would start at byte");
    /* the converter's rules */
    h_reset(3, 0, 0); h_refuse("no architecture", "no general.architecture in the metadata");
    h_reset(3, 0, 1); h_key("general.architecture", GW_STRING); gw_put_str(&hb, "phi3", 4); h_refuse("an architecture not converted", "general.architecture is \"phi3\", not one mod-convert converts");
    model_refuse("a mixture of experts", "the MLP is a mixture of experts", "llama", e_experts, NULL, NULL);
    model_refuse("a YaRN RoPE scaling", "llama.rope.scaling.type is \"yarn\"", "llama", e_yarn, NULL, NULL);
    model_refuse("a partial RoPE", "llama.rope.dimension_count is 4, not the head size 8", "llama", e_partial, NULL, NULL);
    model_refuse("a tokenizer model not reproduced", "tokenizer.ggml.model is \"bert\"", "llama", e_bert, NULL, NULL);
    model_refuse("a missing tensor", "missing tensor blk.0.ffn_up.weight", "llama", e_missing, NULL, NULL);
    model_refuse("a tensor of the wrong shape", "tensor blk.1.attn_k.weight has shape [8, 32] (rows first), but the metadata implies [16, 32]", "llama", e_shape, NULL, NULL);
    model_refuse("an unexpected tensor", "unexpected tensor blk.0.attn_sinks.weight", "llama", e_extra, NULL, NULL);
    model_refuse("an IQ tensor (unexpected name)", "unexpected tensor blk.0.attn_iq.weight", "llama", e_iq, NULL, NULL);
    model_refuse("an attention.head_count per block", "llama.attention.head_count is an array", "llama", e_hc_array, NULL, NULL);
    model_refuse("--tokenizer FILE", "--tokenizer FILE cannot replace it", "llama", NULL, "--tokenizer", P("x.json"));
    model_refuse("--mod-layers", "no block can be routed", "llama", NULL, "--mod-layers", "1");
    {   /* tokenizers */
        static const struct { const char *what, *pattern; } faults[] = {
            { "a tokenizer that is fine", NULL },
            { "a SentencePiece token with a literal space", "token 3 (\"a b\") has a literal space" },
            { "a byte token that is not <0xXX>", "token 4 (\"<0xZ1>\") has the byte type but is not <0xXX>" },
            { "a token type out of range", "token 2 has token_type 9" },
            { "an infinite score", "token 1 has a score that is not a finite number" },
            { "a gpt2 token outside the byte-level alphabet", "token 1 (\"\\xE2\\x82\\xAC\") has a character outside the byte-level alphabet" },
            { "a merge that is not two tokens", "merge 0 (\"ab\") is not two tokens separated by one space" },
            { "a merge of a token not in the vocabulary", "names the token \"c\", which is not in the vocab" },
            { "scores not one per token", "tokenizer.ggml.scores must be an array of 6 float32 values" },
            { "a BOS id past the tokens", "tokenizer.ggml.bos_token_id must be a token id below 6" },
            { "an added token longer than the format allows as typed", "token 5 is 1200 bytes long as typed; the format allows 1024" },
            { "two added tokens with one text", "two added tokens are \"<s>\"" },
        };
        size_t k;
        for (k = 0; k < sizeof faults / sizeof faults[0]; k++) {
            g_tok_fault = (int)k;
            if (faults[k].pattern) model_refuse(faults[k].what, faults[k].pattern, "llama", e_tok, NULL, NULL);
            else {
                spec s;
                wts m;
                gw w;
                spec_default(&s);
                wts_init(&m, &s, T_F16, 0);
                gw_init(&w);
                gguf_model(&w, &m, "llama", 1);
                e_tok(&w);
                gw_write(&w, P("tokok.gguf"));
                gw_free(&w);
                wts_free(&m);
                check(conv(P("tokok.gguf"), "-o", P("tokok.mod"), "--quiet", NULL) == 0, "the small tokenizer the faults below start from converts (%s)", g_err);
            }
        }
    }
    {   /* an IQ type where a weight is expected */
        spec s;
        wts m;
        gw w;
        int k;
        const char *p = P("iq.gguf");
        spec_default(&s);
        s.d = 256; s.F = 256; s.L = 1; s.V = 8; s.H = 4; s.Hkv = 4;
        wts_init(&m, &s, T_F32, 0);
        gw_init(&w);
        gguf_model(&w, &m, "llama", 0);
        for (k = 0; k < w.nt; k++)
            if (!strcmp(w.t[k].name, "blk.0.attn_q.weight")) {
                free(w.t[k].data);
                w.t[k].type = T_IQ2_XS;
                w.t[k].nbytes = 74 * 256;
                w.t[k].data = (unsigned char *)calloc(w.t[k].nbytes, 1);
            }
        gw_write(&w, p);
        gw_free(&w);
        wts_free(&m);
        refuse("an IQ2_XS weight", "is IQ2_XS: the IQ types (codebook quantizations) are not supported", p, NULL, NULL);
    }
}

/* ---- mkmodel --gguf ----------------------------------------------------------------------- */

/* mkmodel (beside mod-convert) with the given options, NULL-terminated; its exit status */
static int mkmodel(const char *first, ...)
{
    static char path[4200];
    char *argv[64];
    const char *slash = strrchr(g_conv, '/');
    int n = 0;
    va_list ap;
    const char *a;
    snprintf(path, sizeof path, "%.*smkmodel", slash ? (int)(slash - g_conv + 1) : 0, g_conv);
    argv[n++] = path;
    va_start(ap, first);
    for (a = first; a && n < 63; a = va_arg(ap, const char *)) argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    return run(argv);
}

/* Token ids of text (BOS first) under m, as "1,2,3". */
static const char *encode(const mod_model *m, const char *text)
{
    static char out[512];
    int32_t t[64];
    int n = 0, i, at = 0;
    out[0] = 0;
    if (mod_tokenize(m, text, strlen(text), MOD_TOKENIZE_BOS, t, 64, &n, NULL) != MOD_OK) return "(error)";
    for (i = 0; i < n && at < 480; i++) at += snprintf(out + at, sizeof out - (size_t)at, "%s%d", i ? "," : "", (int)t[i]);
    return out;
}

/* mkmodel --gguf writes the weights of the model file the same options give: converted, the two
   have the same logits bit for bit (q/k rows permuted and restored, q8_0/q4_0 blocks carried),
   and its SentencePiece vocabulary converts and encodes as its construction says. */
static void test_mkmodel_gguf(void)
{
    static const char *const dtypes[] = { "f32", "f16", "bf16", "q8_0", "q4_0" };
    int k;
    for (k = 0; k < 6; k++) {
        const char *dt = dtypes[k < 5 ? k : 0], *tied = k == 5 ? "1" : "0";
        const char *g = P("mk_%d.gguf", k), *direct = P("mk_%d.mod", k), *conv_out = P("mk_%d_conv.mod", k);
        double md = 0;
        int built = mkmodel(g, "--gguf", "--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--hidden", "96",
                            "--vocab", "700", "--seq", "64", "--seed", "5", "--tied", tied, "--dtype", dt, NULL) == 0 &&
                    mkmodel(direct, "--mod-layers", "none", "--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--hidden", "96",
                            "--vocab", "700", "--seq", "64", "--seed", "5", "--tied", tied, "--dtype", dt, NULL) == 0;
        check(built, "mkmodel writes the %s%s model as GGUF and as a model file (%s)", dt, k == 5 ? " tied" : "", g_err);
        if (!built) continue;
        check(conv(g, "-o", conv_out, "--quiet", NULL) == 0, "mod-convert converts mkmodel's %s GGUF (%s)", dt, g_err);
        check(same_logits(conv_out, direct, &md), "%s%s: the converted GGUF's logits are the model file's, bit for bit (max diff %g)", dt,
              k == 5 ? " tied" : "", md);
        if (k == 0) {
            mod_model *m = load(conv_out);
            size_t n;
            char text[64];
            int32_t t[64];
            int nt = 0;
            if (!m) { check(0, "the converted file loads"); continue; }
            /* ids: 0 <unk>, 1 <s>, 2 </s>, 3 + b the byte tokens, 259 the word start, then
               "_e" 260, "e" 261, "_t" 262, "t" 263, ... (letters by frequency) */
            check(!strcmp(encode(m, "e"), "1,260"), "\"e\" is <s> \"_e\": %s", encode(m, "e"));
            /* two letters i, j (indices in that order): "_ij" is 312 + 2 (26 i + j) while below 700 */
            check(!strcmp(encode(m, "te"), "1,364"), "\"te\" is <s> \"_te\": %s", encode(m, "te"));
            check(!strcmp(encode(m, "hm"), "1,274,287"), "\"hm\" is <s> \"_h\" \"m\" (\"_hm\" would be 702): %s", encode(m, "hm"));
            check(!strcmp(encode(m, "E!"), "1,259,72,36"), "\"E!\" is <s> \"_\" and the byte tokens of E and !: %s", encode(m, "E!"));
            check(mod_tokenize(m, "tea at noon", 11, 0, t, 64, &nt, NULL) == MOD_OK &&
                  mod_detokenize(m, t, nt, text, sizeof text, &n) == MOD_OK && n == 11 && !memcmp(text, "tea at noon", 11),
                  "a text decodes back to itself");
            mod_model_free(m);
        }
    }
    check(mkmodel(P("mk_routed.gguf"), "--gguf", "--mod-layers", "1", NULL) != 0 && strstr(g_err, "no routed blocks") && !exists(P("mk_routed.gguf")),
          "--gguf with a routed block is refused, nothing written (%s)", g_err);
    check(mkmodel(P("mk_bias.gguf"), "--gguf", "--qkv-bias", "1", NULL) != 0 && !exists(P("mk_bias.gguf")), "--gguf with q/k/v biases is refused");
}

int main(int argc, char **argv)
{
    static const ckpt_test tests[] = {
        { test_lossless, "GGUF F32, F16, BF16: the same files as from the Hugging Face directory" },
        { test_quantized, "GGUF Q8_0, Q4_0 carried, Q4_1, Q5_0, Q5_1 decoded" },
        { test_kquants, "GGUF K-quants" },
        { test_permutation, "llama.cpp's q/k permutation" },
        { test_gemma, "Gemma" },
        { test_llama3, "Llama 3.1's rope_freqs" },
        { test_settings, "version 2, alignment, window, linear scaling" },
        { test_tok_gpt2, "tokenizer gpt2" },
        { test_tok_spm, "tokenizer llama (SentencePiece)" },
        { test_tok_spm_added, "tokenizer llama: user-defined and control tokens" },
        { test_corrupt, "corrupt files and refusals" },
        { test_mkmodel_gguf, "mkmodel --gguf" },
    };
    int rc = ckpt_main(argc, argv, tests, (int)(sizeof tests / sizeof tests[0]));
    free(hb.p);
    return rc;
}
