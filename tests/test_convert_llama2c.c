/* mod-convert on llama2.c checkpoints the test writes itself (tests/ckpt.h): legacy and
   version 1 (ak42) files, shared and separate classifiers, MHA, GQA and MQA, their logits
   against a naive transcription of llama2.c's run.c forward pass, tokenizer.bin against its
   encode, and truncated or unsupported files refused.
   Usage: test_convert_llama2c [path/to/mod-convert] (default: beside this program). */
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "ckpt.h"

static void dmatmul(double *o, const double *x, const float *w, int n, int d)
{
    int i, j;
    for (i = 0; i < d; i++) { double v = 0; for (j = 0; j < n; j++) v += (double)w[(size_t)i * n + j] * x[j]; o[i] = v; }
}

static void drmsnorm(double *o, const double *x, const float *g, int n)
{
    double ss = 0;
    int i;
    for (i = 0; i < n; i++) ss += x[i] * x[i];
    ss = 1.0 / sqrt(ss / n + 1e-5);
    for (i = 0; i < n; i++) o[i] = (double)g[i] * (ss * x[i]);
}

/* llama2.c run.c's forward pass, token by token with a KV cache, in double. */
static void l2c_forward(const l2c *c, const int *toks, int n, double *logits)
{
    int dim = c->dim, hs = dim / c->H, kvd = hs * c->Hkv, kvmul = c->H / c->Hkv, F = c->hidden, pos, l, i, h, t;
    double *x = (double *)malloc(sizeof(double) * (size_t)dim), *xb = (double *)malloc(sizeof(double) * (size_t)dim);
    double *xb2 = (double *)malloc(sizeof(double) * (size_t)dim), *q = (double *)malloc(sizeof(double) * (size_t)dim);
    double *hb = (double *)malloc(sizeof(double) * (size_t)F), *hb2 = (double *)malloc(sizeof(double) * (size_t)F);
    double *kc = (double *)malloc(sizeof(double) * (size_t)(c->L * n * kvd)), *vc = (double *)malloc(sizeof(double) * (size_t)(c->L * n * kvd));
    double *att = (double *)malloc(sizeof(double) * (size_t)n);
    for (pos = 0; pos < n; pos++) {
        for (i = 0; i < dim; i++) x[i] = c->emb[(size_t)toks[pos] * dim + i];
        for (l = 0; l < c->L; l++) {
            double *k = kc + ((size_t)l * n + pos) * kvd, *v = vc + ((size_t)l * n + pos) * kvd;
            drmsnorm(xb, x, c->att + (size_t)l * dim, dim);
            dmatmul(q, xb, c->wq + (size_t)l * dim * dim, dim, dim);
            dmatmul(k, xb, c->wk + (size_t)l * dim * kvd, dim, kvd);
            dmatmul(v, xb, c->wv + (size_t)l * dim * kvd, dim, kvd);
            for (i = 0; i < dim; i += 2) {
                int head_dim = i % hs;
                double freq = 1.0 / pow(10000.0, head_dim / (double)hs), val = pos * freq, fcr = cos(val), fci = sin(val);
                int rotn = i < kvd ? 2 : 1, r;
                for (r = 0; r < rotn; r++) {
                    double *vec = r == 0 ? q : k, v0 = vec[i], v1 = vec[i + 1];
                    vec[i] = v0 * fcr - v1 * fci;
                    vec[i + 1] = v0 * fci + v1 * fcr;
                }
            }
            for (h = 0; h < c->H; h++) {
                double mx = -1e300, sum = 0, *o = xb + h * hs;
                for (t = 0; t <= pos; t++) {
                    const double *kt = kc + ((size_t)l * n + t) * kvd + (h / kvmul) * hs;
                    double sc = 0;
                    for (i = 0; i < hs; i++) sc += q[h * hs + i] * kt[i];
                    att[t] = sc / sqrt((double)hs);
                    if (att[t] > mx) mx = att[t];
                }
                for (t = 0; t <= pos; t++) { att[t] = exp(att[t] - mx); sum += att[t]; }
                for (i = 0; i < hs; i++) o[i] = 0;
                for (t = 0; t <= pos; t++) {
                    const double *vt = vc + ((size_t)l * n + t) * kvd + (h / kvmul) * hs;
                    for (i = 0; i < hs; i++) o[i] += att[t] / sum * vt[i];
                }
            }
            dmatmul(xb2, xb, c->wo + (size_t)l * dim * dim, dim, dim);
            for (i = 0; i < dim; i++) x[i] += xb2[i];
            drmsnorm(xb, x, c->ffn + (size_t)l * dim, dim);
            dmatmul(hb, xb, c->w1 + (size_t)l * dim * F, dim, F);
            dmatmul(hb2, xb, c->w3 + (size_t)l * dim * F, dim, F);
            for (i = 0; i < F; i++) hb[i] = hb[i] * (1.0 / (1.0 + exp(-hb[i]))) * hb2[i];
            dmatmul(xb, hb, c->w2 + (size_t)l * dim * F, F, dim);
            for (i = 0; i < dim; i++) x[i] += xb[i];
        }
        drmsnorm(xb, x, c->fin, dim);
        dmatmul(logits + (size_t)pos * c->V, xb, c->cls, dim, c->V);
    }
    free(x); free(xb); free(xb2); free(q); free(hb); free(hb2); free(kc); free(vc); free(att);
}

/* llama2.c run.c's encode (dummy prefix, UTF-8 characters, byte fallback +3, best-score merges). */
static int l2c_encode(char **vocab, const float *scores, int V, const char *text, int *tokens)
{
    char buf[64];
    size_t str_len = 0;
    int n = 0, i;
    const char *c;
#define LOOKUP(str, out) do { out = -1; for (i = 0; i < V; i++) if (!strcmp(str, vocab[i])) { out = i; break; } } while (0)
    if (text[0]) { int id; LOOKUP(" ", id); tokens[n++] = id; }
    for (c = text; *c; c++) {
        int id;
        if ((*c & 0xC0) != 0x80) str_len = 0;
        buf[str_len++] = *c;
        buf[str_len] = 0;
        if ((*(c + 1) & 0xC0) == 0x80 && str_len < 4) continue;
        LOOKUP(buf, id);
        if (id != -1) tokens[n++] = id;
        else for (i = 0; i < (int)str_len; i++) tokens[n++] = (unsigned char)buf[i] + 3;
        str_len = 0;
    }
    for (;;) {
        float best = -1e10f;
        int best_id = -1, best_idx = -1, k;
        for (k = 0; k < n - 1; k++) {
            char cat[128];
            int id;
            snprintf(cat, sizeof cat, "%s%s", vocab[tokens[k]], vocab[tokens[k + 1]]);
            LOOKUP(cat, id);
            if (id != -1 && scores[id] > best) { best = scores[id]; best_id = id; best_idx = k; }
        }
        if (best_idx == -1) break;
        tokens[best_idx] = best_id;
        for (k = best_idx + 1; k < n - 1; k++) tokens[k] = tokens[k + 1];
        n--;
    }
#undef LOOKUP
    return n;
}

static void test_llama2c(void)
{
    char **vocab;
    float *scores;
    int V = l2c_vocab(&vocab, &scores), k, i;
    struct { const char *what; int H, Hkv, shared, v1; } v[] = {
        { "legacy, shared classifier, GQA", 4, 2, 1, 0 },
        { "legacy, separate classifier, MHA", 4, 4, 0, 0 },
        { "version 1, shared classifier, MQA", 4, 1, 1, 1 },
        { "version 1, separate classifier, GQA", 8, 2, 0, 1 },
    };
    static const char *const texts[] = { "hello world", "hello", "", "h\xC3\xA9llo w\xC3\xB6rld!", "abc", "a  b!", "world hello", "\xE2\x82\xAC" };
    write_tokenizer_bin(P("tok.bin"), vocab, scores, V, 0);
    for (k = 0; k < 4; k++) {
        l2c c;
        const char *ck = P("l2c_%d.bin", k), *out = P("l2c_%d.mod", k);
        int rc, toks[20], n = 20;
        mod_model *m;
        l2c_init(&c, 32, 40, 3, v[k].H, v[k].Hkv, V, 48, v[k].shared, v[k].v1, 100u + (unsigned)k);
        l2c_write(ck, &c);
        rc = conv(ck, "-o", out, "--tokenizer", P("tok.bin"), NULL);
        check(rc == 0, "llama2.c %s converts (%s)", v[k].what, g_err);
        m = rc == 0 ? load(out) : NULL;
        if (m) {
            const mod_config *cf = mod_model_config(m);
            mod_session *s = NULL;
            mod_session_desc sd;
            float *got = (float *)malloc(sizeof(float) * (size_t)(n * V));
            double *want = (double *)malloc(sizeof(double) * (size_t)(n * V)), mx = 0, md = 0;
            check(cf->dim == 32 && cf->hidden_dim == 40 && cf->n_layers == 3 && cf->n_heads == v[k].H && cf->n_kv_heads == v[k].Hkv &&
                  cf->vocab_size == V && cf->max_seq_len == 48 && cf->tied_embeddings == v[k].shared && cf->n_routed == 0 &&
                  cf->norm_eps == 1e-5f && cf->rope_theta == 10000.0f, "llama2.c %s: config", v[k].what);
            for (i = 0; i < n; i++) toks[i] = (i * 53 + 1) % V;
            memset(&sd, 0, sizeof sd);
            sd.threads = 1;
            if (mod_session_create(&s, m, &sd, NULL) == MOD_OK && mod_prefill(s, (const int32_t *)toks, n, got) == MOD_OK) {
                l2c_forward(&c, toks, n, want);
                for (i = 0; i < n * V; i++) {
                    if (fabs(want[i]) > mx) mx = fabs(want[i]);
                    if (fabs(want[i] - got[i]) > md) md = fabs(want[i] - got[i]);
                }
                check(md <= 1e-4 * mx, "llama2.c %s: logits equal run.c's forward pass (max diff %.3g, max logit %.3g)", v[k].what, md, mx);
            } else check(0, "llama2.c %s: runs", v[k].what);
            mod_session_free(s);
            free(got);
            free(want);
            if (k == 0) {
                int t;
                check(mod_token_bos(m) == 1 && mod_token_eos(m) == 2, "tokenizer.bin: bos 1, eos 2");
                for (t = 0; t < (int)(sizeof texts / sizeof texts[0]); t++) {
                    int want_t[64], nw = l2c_encode(vocab, scores, V, texts[t], want_t), j, same;
                    int32_t got_t[64];
                    int ng = -1;
                    char back[128];
                    size_t bl = 0;
                    same = mod_tokenize(m, texts[t], strlen(texts[t]), 0, got_t, 64, &ng, NULL) == MOD_OK && ng == nw;
                    for (j = 0; same && j < nw; j++) same = got_t[j] == want_t[j];
                    check(same, "tokenize \"%s\" as llama2.c's encode does", texts[t]);
                    check(mod_detokenize(m, got_t, ng > 0 ? ng : 0, back, sizeof back, &bl) == MOD_OK && bl == strlen(texts[t]) && !memcmp(back, texts[t], bl),
                          "decode \"%s\" back", texts[t]);
                }
                {
                    size_t len;
                    const char *p = mod_token_bytes(m, 3 + 0x41, &len);
                    check(len == 1 && p[0] == 'A', "<0x41> becomes the byte token 'A'");
                }
            }
            mod_model_free(m);
        }
        l2c_free(&c);
    }
    {   /* checkpoint shorter than its header says, a truncated tokenizer.bin, version 2 */
        l2c c;
        size_t n;
        unsigned char *b;
        l2c_init(&c, 32, 40, 3, 4, 2, V, 48, 0, 0, 7);
        l2c_write(P("l2c_t.bin"), &c);
        b = read_file(P("l2c_t.bin"), &n);
        write_file(P("l2c_t.bin"), b, n - 100);
        k = conv(P("l2c_t.bin"), "-o", P("l2c_t.mod"), NULL);
        check(k == 1 && strstr(g_err, "shorter than") && strstr(g_err, "header implies") && !exists(P("l2c_t.mod")), "llama2.c checkpoint shorter than its header says (%s)", g_err);
        write_file(P("l2c_t.bin"), b, n);
        write_tokenizer_bin(P("tok_t.bin"), vocab, scores, V, 3);
        k = conv(P("l2c_t.bin"), "-o", P("l2c_t.mod"), "--tokenizer", P("tok_t.bin"), NULL);
        check(k == 1 && strstr(g_err, "tok_t.bin is truncated") && !exists(P("l2c_t.mod")), "truncated tokenizer.bin (%s)", g_err);
        mkm_put_u32(b, 0x616b3432u);
        mkm_put_u32(b + 4, 2);
        write_file(P("l2c_t.bin"), b, n);
        k = conv(P("l2c_t.bin"), "-o", P("l2c_t.mod"), NULL);
        check(k == 1 && strstr(g_err, "version 2"), "llama2.c version 2 (Q8_0) is refused (%s)", g_err);
        free(b);
        l2c_free(&c);
    }
    {   /* stories260K's shape: an MLP 172 wide, so mlp_down has 172 columns; under q8_0 and
           q4_0 it stays f16 (the bytes --dtype f16 writes), the rest are quantized */
        l2c c;
        int dt;
        l2c_init(&c, 64, 172, 2, 8, 4, V, 48, 0, 0, 9);
        l2c_write(P("l2c_172.bin"), &c);
        k = conv(P("l2c_172.bin"), "-o", P("l2c_172h.mod"), "--tokenizer", "none", "--dtype", "f16", "--quiet", NULL);
        check(k == 0, "hidden 172 -> f16 (%s)", g_err);
        for (dt = MOD_DTYPE_Q8_0; dt <= MOD_DTYPE_Q4_0; dt++) {
            const char *name = dt == MOD_DTYPE_Q8_0 ? "q8_0" : "q4_0";
            mod_model *m, *h;
            k = conv(P("l2c_172.bin"), "-o", P("l2c_172q.mod"), "--force", "--tokenizer", "none", "--dtype", name, NULL);
            m = k == 0 ? load(P("l2c_172q.mod")) : NULL;
            h = load(P("l2c_172h.mod"));
            check(m && h && strstr(g_err, "172 columns are not a multiple of 32, kept in f16") &&
                      m->layers[1].w_down.dtype == MOD_DTYPE_F16 && m->layers[1].w_gate.dtype == dt &&
                      m->layers[1].wq.dtype == dt && m->output.dtype == dt &&
                      memcmp(m->layers[1].w_down.data, h->layers[1].w_down.data, 64 * 172 * 2) == 0,
                  "llama2.c, hidden 172 -> %s: mlp_down stays f16 (as --dtype f16 writes it), the rest %s (%s)", name, name, g_err);
            mod_model_free(m);
            mod_model_free(h);
        }
        l2c_free(&c);
    }
    for (i = 0; i < V; i++) free(vocab[i]);
    free(vocab);
    free(scores);
}

int main(int argc, char **argv)
{
    static const ckpt_test tests[] = {
        { test_llama2c, "llama2.c checkpoints" },
    };
    return ckpt_main(argc, argv, tests, (int)(sizeof tests / sizeof tests[0]));
}
