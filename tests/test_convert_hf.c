/* mod-convert on Hugging Face checkpoints the test writes itself (tests/ckpt.h): every tensor
   byte of the model file against the values written, from F32, F16 and BF16 inputs to f32,
   f16, bf16 and q4_0 (and a rounding sweep of subnormals, ties and extremes), aliases and
   shards against the canonical conversion byte for byte, tokenizer.json in both merge forms
   against hand-derived ids, routing settings from config.json and from the command line, and
   logits against the reference (tests/ref.h).
   Usage: test_convert_hf [path/to/mod-convert] (default: beside this program). */
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "ckpt.h"

/* Checks every tensor of the converted file against the values of spec s, stored as in_dtype
   in the checkpoint and converted to out_dtype ("F32", "F16", "BF16" / 0, 1, 2, 4 q4_0: each
   block the bytes mkmodel's quantizer mkm_q4_block gives). */
static int tensors_match(const char *file, const spec *s, const char *in_dtype, int out_dtype, char *why, size_t wcap)
{
    size_t size, e;
    unsigned char *b = read_file(file, &size);
    int role, layer, expected = 0, ok = 1;
    if (!b) { snprintf(why, wcap, "cannot read %s", file); return 0; }
    for (layer = -1; layer < s->L && ok; layer++)
        for (role = 0; role < NROLE && ok; role++) {
            uint64_t r, c, i, n;
            int dt;
            const unsigned char *p;
            if ((layer < 0) != (role <= ROLE_OUTPUT)) continue;
            role_shape(s, role, layer, &r, &c);
            if (!c) continue;
            if (role == ROLE_PB1 && s->pred == 0) continue;
            expected++;
            e = mkm_tensor_entry(b, size, role, layer);
            if (!e) { snprintf(why, wcap, "role %d layer %d missing", role, layer); ok = 0; break; }
            dt = (int)mkm_get_u32(b + e + 8);
            if (dt != (r ? out_dtype : 0) || mkm_get_u32(b + e + 12) != (r ? 2u : 1u) ||
                mkm_get_u64(b + e + 16) != (r ? r : c) || (r && mkm_get_u64(b + e + 24) != c)) {
                snprintf(why, wcap, "role %d layer %d: dtype %d or shape wrong", role, layer, dt);
                ok = 0;
                break;
            }
            p = b + mkm_tensor_data(b, size, role, layer);
            n = (r ? r : 1) * c;
            for (i = 0; dt == 4 && i < n; i += 32) {
                float blk[32];
                unsigned char want[18];
                int k;
                for (k = 0; k < 32; k++) {
                    float v = value(s, role, layer, i + (uint64_t)k);
                    blk[k] = !strcmp(in_dtype, "F16") ? f16val(v) : !strcmp(in_dtype, "BF16") ? bf16val(v) : v;
                }
                mkm_q4_block(want, blk);
                if (memcmp(want, p + i / 32 * 18, 18)) { snprintf(why, wcap, "role %d layer %d block %llu differs", role, layer, (unsigned long long)(i / 32)); ok = 0; break; }
            }
            for (i = 0; dt != 4 && i < n; i++) {
                float v = value(s, role, layer, i);
                if (!strcmp(in_dtype, "F16")) v = f16val(v);
                else if (!strcmp(in_dtype, "BF16")) v = bf16val(v);
                if (dt == 0) {
                    uint32_t want, got = mkm_get_u32(p + 4 * i);
                    memcpy(&want, &v, 4);
                    if (want != got) { snprintf(why, wcap, "role %d layer %d element %llu: %08x != %08x", role, layer, (unsigned long long)i, got, want); ok = 0; break; }
                } else {
                    uint16_t want = dt == 1 ? mkm_f32_to_f16(v) : mkm_f32_to_bf16(v), got = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
                    if (want != got) { snprintf(why, wcap, "role %d layer %d element %llu: %04x != %04x", role, layer, (unsigned long long)i, got, want); ok = 0; break; }
                }
            }
        }
    if (ok && (int)mkm_get_u32(b + 28) != expected) {
        snprintf(why, wcap, "%u tensors in the file, %d expected", mkm_get_u32(b + 28), expected);
        ok = 0;
    }
    free(b);
    return ok;
}

/* max |mod.h - ref.h| <= 1e-4 max |logit| over a token sequence, for both routing rules. */
static int logits_agree(const char *path, int n_tok)
{
    mod_model *m = load(path);
    size_t size;
    unsigned char *file = read_file(path, &size);
    int rule, ok = m && file, i, V;
    int32_t toks[32];
    int itoks[32];
    float *got;
    double *want;
    if (!ok) { mod_model_free(m); free(file); return 0; }
    V = mod_model_config(m)->vocab_size;
    for (i = 0; i < n_tok; i++) { itoks[i] = (i * 37 + 11) % V; toks[i] = itoks[i]; }
    got = (float *)malloc((size_t)n_tok * (size_t)V * sizeof *got);
    want = (double *)malloc((size_t)n_tok * (size_t)V * sizeof *want);
    for (rule = 0; rule < 2 && ok; rule++) {
        mod_session *s = NULL;
        mod_session_desc sd;
        double mx = 0, md = 0;
        memset(&sd, 0, sizeof sd);
        sd.max_tokens = 64;
        sd.prompt_routing = rule == 0 ? MOD_ROUTING_TOPK : MOD_ROUTING_CAUSAL;
        sd.threads = 1;
        if (mod_session_create(&s, m, &sd, NULL) != MOD_OK || mod_prefill(s, toks, n_tok, got) != MOD_OK ||
            ref_forward(file, size, itoks, n_tok, rule == 0 ? REF_RULE_TOPK : REF_RULE_CAUSAL, 0, 0, 0, want) != 0) {
            ok = 0;
        } else {
            for (i = 0; i < n_tok * V; i++) {
                if (fabs(want[i]) > mx) mx = fabs(want[i]);
                if (fabs(want[i] - got[i]) > md) md = fabs(want[i] - got[i]);
            }
            if (!(md <= 1e-4 * mx)) { printf("   (rule %d: max diff %g, max logit %g)\n", rule, md, mx); ok = 0; }
        }
        mod_session_free(s);
    }
    free(got);
    free(want);
    free(file);
    mod_model_free(m);
    return ok;
}

/* The model tokenizes text as want and decodes it back. */
static int tok_is(mod_model *m, const char *text, const int *want, int nw)
{
    int32_t got[64];
    int n = -1, i;
    char back[256];
    size_t bl = 0;
    if (mod_tokenize(m, text, strlen(text), 0, got, 64, &n, NULL) != MOD_OK || n != nw) {
        printf("   (\"%s\": %d tokens, %d expected)\n", text, n, nw);
        return 0;
    }
    for (i = 0; i < n; i++) if (got[i] != want[i]) { printf("   (\"%s\": token %d is %d, %d expected)\n", text, i, (int)got[i], want[i]); return 0; }
    if (mod_detokenize(m, got, n, back, sizeof back, &bl) != MOD_OK || bl != strlen(text) || memcmp(back, text, bl) != 0) {
        printf("   (\"%s\" does not decode back)\n", text);
        return 0;
    }
    return 1;
}

/* ---- the tests ------------------------------------------------------------------------- */

static void test_dense_with_tokenizer(void)
{
    spec s;
    mod_model *m;
    char why[300] = "";
    int rc;
    spec_default(&s);
    s.tied = 1;
    s.qkv_bias = 1;
    make_dir(P("dense"), &s, &canon, "F32", NULL, NULL);
    write_tokenizer(P("dense/tokenizer.json"), 0, 0, NULL, NULL, -1);
    rc = conv(P("dense"), "-o", P("dense.mod"), NULL);
    check(rc == 0, "dense model with tokenizer converts (%s)", g_err);
    check(strstr(g_out, "checksum 0x") && strstr(g_out, "parameters:"), "summary names parameters and checksum");
    check(tensors_match(P("dense.mod"), &s, "F32", 0, why, sizeof why), "dense: every tensor equals the checkpoint (%s)", why);
    m = load(P("dense.mod"));
    check(m != NULL, "dense: loads with the checksum verified");
    if (m) {
        const mod_config *c = mod_model_config(m);
        static const int t1[] = { 259, 264 }, t2[] = { 256, 263 }, t4[] = { 265 }, t6[] = { 259 };
        int t3[3], t5[5], t7[4], t8[2], t9[4];
        t3[0] = B('w'); t3[1] = 261; t3[2] = 263;
        t5[0] = B('H'); t5[1] = B('e'); t5[2] = 257; t5[3] = B('o'); t5[4] = B('!');
        t7[0] = B('a'); t7[1] = B('\n'); t7[2] = B('\n'); t7[3] = B('b');
        t8[0] = B(' '); t8[1] = 259;
        t9[0] = B('i'); t9[1] = B('t'); t9[2] = B('\''); t9[3] = B('s');
        check(c->vocab_size == 300 && c->dim == 32 && c->n_layers == 4 && c->n_heads == 4 && c->n_kv_heads == 2 &&
              c->hidden_dim == 48 && c->max_seq_len == 64 && c->tied_embeddings == 1 && c->n_routed == 0 &&
              c->norm_eps == 1e-5f && c->rope_theta == 10000.0f, "dense: config fields");
        check(mod_model_parameters(m) == (uint64_t)(300 * 32 + 32 + 4 * (32 + 32 * 32 * 2 + 2 * 16 * 32 + 32 + 16 + 16 + 32 + 3 * 48 * 32)),
              "dense: parameter count");
        check(mod_token_bos(m) == 266 && mod_token_eos(m) == 266, "bos and eos from the added token <|endoftext|>");
        check(tok_is(m, "hello world", t1, 2), "tokenize \"hello world\"");
        check(tok_is(m, "held", t2, 2), "tokenize \"held\"");
        check(tok_is(m, "world", t3, 3), "tokenize \"world\"");
        check(tok_is(m, "\xC3\xA9", t4, 1), "tokenize e-acute (a merge of two mapped bytes)");
        check(tok_is(m, "Hello!", t5, 5), "tokenize \"Hello!\"");
        check(tok_is(m, "hello", t6, 1), "tokenize \"hello\"");
        check(tok_is(m, "a\n\nb", t7, 4), "tokenize a, two line feeds, b");
        check(tok_is(m, " hello", t8, 2), "tokenize \" hello\"");
        check(tok_is(m, "it's", t9, 4), "tokenize \"it's\"");
        {
            size_t len;
            const char *p = mod_token_bytes(m, B(0x0A), &len);
            check(len == 1 && p[0] == '\n', "byte-level token strings are raw bytes");
        }
        mod_model_free(m);
    }
    /* the other merges form and the Split pre-tokenizer give the same file */
    write_tokenizer(P("dense/tokenizer.json"), 1, 0, NULL, NULL, -1);
    rc = conv(P("dense"), "-o", P("dense_b.mod"), "--quiet", NULL);
    check(rc == 0 && same_files(P("dense.mod"), P("dense_b.mod")), "merges as [\"a\",\"b\"] lists: same file as \"a b\" strings");
    check(g_out[0] == 0 && g_err[0] == 0, "--quiet prints nothing");
    write_tokenizer(P("dense/tokenizer.json"), 0, 1, NULL, NULL, -1);
    rc = conv(P("dense"), "-o", P("dense_c.mod"), NULL);
    check(rc == 0 && same_files(P("dense.mod"), P("dense_c.mod")), "Split(GPT-2) + ByteLevel(use_regex false): same file (%s)", g_err);
    write_tokenizer(P("dense/tokenizer.json"), 0, 2, NULL, NULL, -1);
    rc = conv(P("dense"), "-o", P("dense_p.mod"), NULL);
    m = rc == 0 ? load(P("dense_p.mod")) : NULL;
    if (m) {
        int t1[2];
        t1[0] = B(' '); t1[1] = 259;
        check(tok_is(m, "hello", t1, 2), "ByteLevel add_prefix_space: a space is prepended, and dropped when decoding");
        mod_model_free(m);
    } else check(0, "add_prefix_space tokenizer converts (%s)", g_err);
    /* NFC and a non-special added token (decomposed e acute, matched as typed before the text
       is normalized, as Hugging Face matches added tokens that are not "normalized") */
    write_tokenizer(P("dense/tokenizer.json"), 0, 0, NULL, NULL, -1);
    {
        size_t n;
        unsigned char *j = read_file(P("dense/tokenizer.json"), &n);
        char *at = j ? strstr((char *)j, "\"special\":true}],") : NULL, *o = (char *)malloc(n + 400);
        int k = 0;
        if (at && o) {
            k = (int)(at - (char *)j) + 15;
            memcpy(o, j, (size_t)k);
            k += sprintf(o + k, ",{\"id\":267,\"content\":\"e\\u0301\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
                                "\"normalized\":false,\"special\":false}");
            memcpy(o + k, at + 15, n - (size_t)(at + 15 - (char *)j));
            k += (int)(n - (size_t)(at + 15 - (char *)j));
            at = strstr(o, "\"normalizer\":null");
        }
        if (at) {
            char *q = (char *)malloc((size_t)k + 64);
            int h = (int)(at - o);
            memcpy(q, o, (size_t)h);
            h += sprintf(q + h, "\"normalizer\":{\"type\":\"NFC\"}");
            memcpy(q + h, at + 17, (size_t)(k - (int)(at - o) - 17));
            write_file(P("dense/tokenizer.json"), q, (size_t)(h + k - (int)(at - o) - 17));
            free(q);
        }
        free(o);
        free(j);
    }
    rc = conv(P("dense"), "-o", P("dense_n.mod"), NULL);
    m = rc == 0 ? load(P("dense_n.mod")) : NULL;
    if (m) {
        static const int t1[] = { 265 }, t2[] = { 267 }, t3[] = { 259, 265 };
        int t4[2];
        t4[0] = B('e'); t4[1] = 267;
        check(m->vocab.flags == 4u && m->vocab.n_added == 2 && strstr(g_out, "2 added tokens") && strstr(g_out, "NFC"),
              "NFC and two added tokens: flag bit 2, the table, the summary says so");
        check(tok_is(m, "\xC3\xA9", t1, 1), "NFC: U+00E9 stays and encodes as its merge");
        check(tok_is(m, "e\xCC\x81", t2, 1), "an added token is matched as typed, before NFC would compose it");
        check(tok_is(m, "ee\xCC\x81", t4, 2), "e, then the added token");
        check(tok_is(m, "hello\xC3\xA9", t3, 2), "hello, U+00E9 (no added token)");
        mod_model_free(m);
    } else check(0, "NFC tokenizer with a non-special added token converts (%s)", g_err);
    /* bos/eos from config.json win */
    write_tokenizer(P("dense/tokenizer.json"), 0, 0, NULL, NULL, -1);
    write_config(P("dense"), &s, NULL, ", \"bos_token_id\": 1, \"eos_token_id\": [2, 266]");
    rc = conv(P("dense"), "-o", P("dense_d.mod"), NULL);
    m = rc == 0 ? load(P("dense_d.mod")) : NULL;
    check(m && mod_token_bos(m) == 1 && mod_token_eos(m) == 2, "bos/eos from config.json (an int and a list)");
    mod_model_free(m);
    /* --tokenizer none, and a directory without tokenizer.json */
    rc = conv(P("dense"), "-o", P("dense_e.mod"), "--tokenizer", "none", NULL);
    m = rc == 0 ? load(P("dense_e.mod")) : NULL;
    check(m && mod_token_bos(m) == -1 && tensors_match(P("dense_e.mod"), &s, "F32", 0, why, sizeof why), "--tokenizer none omits the tokenizer");
    mod_model_free(m);
    write_tokenizer(P("dense/tokenizer.json"), 0, 0, "Unigram", NULL, -1);
    rc = conv(P("dense"), "-o", P("dense_f.mod"), NULL);
    check(rc == 1 && strstr(g_err, "Unigram") && strstr(g_err, "--tokenizer none") && !exists(P("dense_f.mod")),
          "a Unigram tokenizer is refused, naming the way out (%s)", g_err);
    rc = conv(P("dense"), "-o", P("dense_f.mod"), "--tokenizer", "none", NULL);
    check(rc == 0, "... and converts with --tokenizer none");
    write_config(P("dense"), &s, NULL, NULL);
    write_tokenizer(P("dense_tok.json"), 0, 0, NULL, NULL, -1);
    rc = conv(P("dense"), "-o", P("dense_g.mod"), "--tokenizer", P("dense_tok.json"), NULL);
    check(rc == 0 && same_files(P("dense.mod"), P("dense_g.mod")), "--tokenizer FILE takes the tokenizer from elsewhere");
    unlink(P("dense/tokenizer.json"));
    rc = conv(P("dense"), "-o", P("dense_h.mod"), NULL);
    m = rc == 0 ? load(P("dense_h.mod")) : NULL;
    check(m && mod_token_bos(m) == -1 && strstr(g_err, "no tokenizer"), "no tokenizer.json: a note, and no tokenizer");
    mod_model_free(m);
    check(logits_agree(P("dense.mod"), 12), "dense: logits agree with the reference");
}

/* --dtype q4_0: the blocks mkmodel's quantizer writes (checked against its error bounds in
   test_kernels), 18 bytes per 32 weights; a matrix of 48 columns (mlp_down with hidden 48)
   stays in f16, byte for byte what --dtype f16 writes, while the rest are quantized */
static void test_q4_0(void)
{
    spec s;
    char why[300] = "";
    int rc, l, dt;
    spec_mod(&s, 1);
    make_dir(P("q4in48"), &s, &canon, "F32", mod_keys_full, NULL);
    rc = conv(P("q4in48"), "-o", P("q4h.mod"), "--dtype", "f16", "--quiet", NULL);
    check(rc == 0, "48 columns -> f16 (%s)", g_err);
    for (dt = 0; dt < 2; dt++) {
        const char *name = dt ? "q8_0" : "q4_0", *out = dt ? P("q8mix.mod") : P("q4mix.mod");
        size_t size, hsize;
        unsigned char *b, *h;
        int ok = 1;
        mod_model *m;
        rc = conv(P("q4in48"), "-o", out, "--dtype", name, NULL);
        check(rc == 0 && strstr(g_err, "note: tensor") && strstr(g_err, "48 columns are not a multiple of 32, kept in f16") &&
              strstr(g_out, "4 matrices kept in f16"), "%s with 48 columns: the 48-column matrices stay f16, with a note (%s)", name, g_err);
        b = read_file(out, &size);
        h = read_file(P("q4h.mod"), &hsize);
        for (l = 0; l < s.L && b && h; l++) {
            const size_t e = mkm_tensor_entry(b, size, ROLE_DOWN, l), eh = mkm_tensor_entry(h, hsize, ROLE_DOWN, l);
            const size_t g = mkm_tensor_entry(b, size, ROLE_GATE, l);
            ok &= e && eh && g && mkm_get_u32(b + e + 8) == MOD_DTYPE_F16 && mkm_get_u64(b + e + 56) == 32 * 48 * 2 &&
                  memcmp(b + mkm_tensor_data(b, size, ROLE_DOWN, l), h + mkm_tensor_data(h, hsize, ROLE_DOWN, l), 32 * 48 * 2) == 0 &&
                  mkm_get_u32(b + g + 8) == (uint32_t)(dt ? MOD_DTYPE_Q8_0 : MOD_DTYPE_Q4_0);
        }
        check(b && h && ok, "%s: mlp_down [32, 48] is f16, the bytes --dtype f16 writes; mlp_gate [48, 32] is %s", name, name);
        m = load(out);
        {
            mod_session *ss = NULL;
            int32_t toks[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
            const float *lg = NULL;
            int i, fin = 1;
            check(m && mod_session_create(&ss, m, NULL, NULL) == MOD_OK && mod_prefill(ss, toks, 8, NULL) == MOD_OK &&
                  (lg = mod_session_logits(ss)) != NULL, "%s with f16 matrices loads and runs", name);
            for (i = 0; ss && lg && i < mod_model_config(m)->vocab_size; i++) fin &= lg[i] - lg[i] == 0.0f;
            check(ss && lg && fin, "%s with f16 matrices: finite logits", name);
            mod_session_free(ss);
        }
        mod_model_free(m);
        free(b); free(h);
    }
    s.F = 64;
    make_dir(P("q4in"), &s, &canon, "F32", mod_keys_full, NULL);
    rc = conv(P("q4in"), "-o", P("q4.mod"), "--dtype", "q4_0", NULL);
    check(rc == 0 && tensors_match(P("q4.mod"), &s, "F32", 4, why, sizeof why), "F32 input -> q4_0, 1-D tensors f32 (%s %s)", g_err, why);
    check(strstr(g_out, "q4_0 matrices") != NULL, "the summary names q4_0");
    make_dir(P("q4in16"), &s, &canon, "BF16", mod_keys_full, NULL);
    rc = conv(P("q4in16"), "-o", P("q4b.mod"), "--dtype", "q4_0", NULL);
    check(rc == 0 && tensors_match(P("q4b.mod"), &s, "BF16", 4, why, sizeof why), "BF16 input -> q4_0 (%s %s)", g_err, why);
    {
        mod_model *m = load(P("q4.mod"));
        size_t size;
        unsigned char *b = read_file(P("q4.mod"), &size);
        size_t e = b ? mkm_tensor_entry(b, size, ROLE_DOWN, 2) : 0;
        check(m != NULL && e && mkm_get_u64(b + e + 56) == 32 * 64 / 32 * 18, "the q4_0 file loads; mlp_down [32, 64] is 1152 bytes");
        mod_model_free(m);
        free(b);
    }
}

static void test_mod_model(void)
{
    spec s;
    mod_model *m;
    char why[300] = "";
    int rc;
    spec_mod(&s, 1);
    make_dir(P("mod"), &s, &canon, "F32", mod_keys_full, NULL);
    rc = conv(P("mod"), "-o", P("mod.mod"), NULL);
    check(rc == 0, "MoD model with an MLP predictor converts (%s)", g_err);
    check(strstr(g_out, "1 (capacity 0.25), 3 (capacity 0.5)") != NULL, "summary lists routed blocks and capacities");
    check(tensors_match(P("mod.mod"), &s, "F32", 0, why, sizeof why), "MoD: every tensor equals the checkpoint (%s)", why);
    m = load(P("mod.mod"));
    if (m) {
        const mod_config *c = mod_model_config(m);
        check(c->n_routed == 2 && mod_model_layer_routed(m, 0) == 0 && mod_model_layer_routed(m, 1) == 1 &&
              mod_model_layer_routed(m, 2) == 0 && mod_model_layer_routed(m, 3) == 1, "MoD: routed blocks 1 and 3");
        check(mod_model_layer_capacity(m, 1) == 0.25f && mod_model_layer_capacity(m, 3) == 0.5f && mod_model_layer_capacity(m, 0) == 0.0f,
              "MoD: per-block capacities");
        check(c->router_input == MOD_ROUTER_INPUT_NORMED && c->router_scale == MOD_ROUTER_SCALE_SIGMOID && c->combine == MOD_COMBINE_MLP &&
              c->positions == MOD_POSITIONS_COMPACTED && c->decision == MOD_DECISION_PREDICTOR && c->predictor_hidden == 8 &&
              c->threshold == 0.125f, "MoD: routing knobs from config.json");
        mod_model_free(m);
    } else check(0, "MoD: loads");
    check(logits_agree(P("mod.mod"), 16), "MoD: logits agree with the reference (top-k and causal)");
    /* a linear predictor, without router bias */
    spec_mod(&s, 2);
    s.router_bias = 0;
    make_dir(P("lin"), &s, &canon, "F32", mod_keys_full, NULL);
    rc = conv(P("lin"), "-o", P("lin.mod"), NULL);
    check(rc == 0 && tensors_match(P("lin.mod"), &s, "F32", 0, why, sizeof why), "linear predictor: predictor.weight [1,d] -> predictor_w1 [1,d] (%s%s)", g_err, why);
    m = rc == 0 ? load(P("lin.mod")) : NULL;
    check(m && mod_model_config(m)->predictor_hidden == 0, "linear predictor: predictor_hidden 0");
    mod_model_free(m);
    check(logits_agree(P("lin.mod"), 16), "linear predictor: logits agree with the reference");
    /* decision router: the predictor is ignored with a note */
    rc = conv(P("mod"), "-o", P("mod_router.mod"), "--decision", "router", NULL);
    m = rc == 0 ? load(P("mod_router.mod")) : NULL;
    check(m && mod_model_config(m)->decision == MOD_DECISION_ROUTER && strstr(g_err, "ignoring the predictor"),
          "--decision router: predictor tensors are left out, with a note");
    mod_model_free(m);
}

static void test_aliases(void)
{
    spec s;
    int rc, k;
    struct { const char *what; naming nm; int pred, same_router, router_bias; } v[] = {
        { "router.weight_predictor.*", { "", "router.weight_predictor", "predictor", 0, 0, 0, NULL }, 1, 0, 1 },
        { "router.router.*", { "", "router.router", "predictor", 0, 0, 0, NULL }, 1, 0, 1 },
        { "mod_router.weight (no bias)", { "", "mod_router", "predictor", 0, 0, 0, NULL }, 1, 0, 0 },
        { "router_mlp.*", { "", "router_mlp", "predictor", 0, 0, 0, NULL }, 1, 0, 1 },
        { "router weight [d], biases []", { "", "router", "predictor", 1, 1, 1, NULL }, 1, 0, 1 },
        { "aux_router.{0,2}.*", { "", "router", "aux_router", 0, 0, 0, NULL }, 1, 0, 1 },
        { "aux_mlp.* (linear)", { "", "router", "aux_mlp", 0, 0, 0, NULL }, 2, 0, 1 },
        { "aux_router.* (linear, scalar bias)", { "", "router", "aux_router", 0, 1, 0, NULL }, 2, 0, 1 },
        { "block. wrapper", { "block.", "router", "predictor", 0, 0, 0, NULL }, 1, 0, 1 },
        { "decoder_layer. wrapper", { "decoder_layer.", "router", "predictor", 0, 0, 0, NULL }, 1, 0, 1 },
        { "transformer_decoder_block. wrapper", { "transformer_decoder_block.", "router", "predictor", 0, 0, 0, NULL }, 1, 0, 1 },
        { "shared router.*", { "", "router", "predictor", 0, 0, 0, "router" }, 1, 1, 1 },
        { "shared model.router.*", { "", "router", "predictor", 0, 0, 0, "model.router" }, 1, 1, 1 },
        { "shared mod_router.* ([d])", { "", "router", "predictor", 1, 0, 0, "mod_router" }, 1, 1, 1 },
    };
    for (k = 0; k < (int)(sizeof v / sizeof v[0]); k++) {
        spec_mod(&s, v[k].pred);
        s.same_router = v[k].same_router;
        s.router_bias = v[k].router_bias;
        make_dir(P("alias_canon"), &s, &canon, "F32", mod_keys_full, NULL);
        rc = conv(P("alias_canon"), "-o", P("alias_canon.mod"), "--force", "--quiet", NULL);
        make_dir(P("alias_%d", k), &s, &v[k].nm, "F32", mod_keys_full, NULL);
        rc |= conv(P("alias_%d", k), "-o", P("alias_%d.mod", k), "--quiet", NULL);
        check(rc == 0 && same_files(P("alias_canon.mod"), P("alias_%d.mod", k)), "alias %s: byte-identical to the canonical names (%s)", v[k].what, g_err);
    }
    /* an alias next to its canonical name is ambiguous */
    spec_mod(&s, 1);
    {
        stlist *l = (stlist *)calloc(1, sizeof *l);
        uint64_t sh[2];
        float *w = (float *)calloc(64, sizeof *w);
        build_tensors(&s, &canon, "F32", l);
        sh[0] = 1; sh[1] = 32;
        st_add(l, "model.layers.1.mod_router.weight", "F32", 2, sh, w);
        mkdir_p(P("alias_dup"));
        write_config(P("alias_dup"), &s, mod_keys_full, NULL);
        st_write(P("alias_dup/model.safetensors"), l, 0, l->n);
        rc = conv(P("alias_dup"), "-o", P("alias_dup.mod"), NULL);
        check(rc == 1 && strstr(g_err, "model.layers.1.mod_router.weight") && strstr(g_err, "model.layers.1.router.weight"),
              "two aliases of one weight are refused, naming both (%s)", g_err);
        st_free(l);
        free(l);
        free(w);
    }
}

static void write_index(const char *dir, const stlist *l, const int *first, const int *count, int shards, int wrong)
{
    char *j = (char *)malloc(100000), path[4200];
    int n = 0, s, i, any = 0;
    n += sprintf(j + n, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
    for (s = 0; s < shards; s++)
        for (i = first[s]; i < first[s] + count[s]; i++)
            n += sprintf(j + n, "%s\n  \"%s\": \"model-%05d-of-%05d.safetensors\"", any++ ? "," : "", l->t[i].name,
                         wrong && i == first[1] ? 1 : s + 1, shards);
    n += sprintf(j + n, "\n}}\n");
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    write_file(path, j, (size_t)n);
    free(j);
}

static void test_shards(void)
{
    spec s;
    stlist *l = (stlist *)calloc(1, sizeof *l);
    int first[3], count[3], k, rc;
    char path[4200];
    spec_mod(&s, 1);
    make_dir(P("single"), &s, &canon, "BF16", mod_keys_full, NULL);
    rc = conv(P("single"), "-o", P("single.mod"), "--quiet", NULL);
    mkdir_p(P("sharded"));
    write_config(P("sharded"), &s, mod_keys_full, NULL);
    build_tensors(&s, &canon, "BF16", l);
    first[0] = 0; count[0] = 5; first[1] = 5; count[1] = l->n / 2; first[2] = 5 + count[1]; count[2] = l->n - first[2];
    for (k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/model-%05d-of-%05d.safetensors", P("sharded"), k + 1, 3);
        st_write(path, l, first[k], count[k]);
    }
    write_index(P("sharded"), l, first, count, 3, 0);
    rc |= conv(P("sharded"), "-o", P("sharded.mod"), "--quiet", NULL);
    check(rc == 0 && same_files(P("single.mod"), P("sharded.mod")), "sharded input (3 shards and an index) equals unsharded (%s)", g_err);
    /* an index that points a tensor at the wrong shard */
    {
        write_index(P("sharded"), l, first, count, 3, 1);
        rc = conv(P("sharded"), "-o", P("sharded2.mod"), NULL);
        check(rc == 1 && strstr(g_err, "weight_map") && !exists(P("sharded2.mod")), "index pointing at the wrong shard is refused (%s)", g_err);
    }
    st_free(l);
    free(l);
}

static void test_dtypes(void)
{
    spec s;
    char why[300] = "";
    int rc;
    spec_mod(&s, 1);
    make_dir(P("f16in"), &s, &canon, "F16", mod_keys_full, NULL);
    make_dir(P("bf16in"), &s, &canon, "BF16", mod_keys_full, NULL);
    make_dir(P("f32in"), &s, &canon, "F32", mod_keys_full, NULL);
    rc = conv(P("f16in"), "-o", P("f16in.mod"), NULL);
    check(rc == 0 && tensors_match(P("f16in.mod"), &s, "F16", 0, why, sizeof why), "F16 input -> f32: exact (%s)", why);
    rc = conv(P("bf16in"), "-o", P("bf16in.mod"), NULL);
    check(rc == 0 && tensors_match(P("bf16in.mod"), &s, "BF16", 0, why, sizeof why), "BF16 input -> f32: exact (%s)", why);
    rc = conv(P("f32in"), "-o", P("f32to16.mod"), "--dtype", "f16", NULL);
    check(rc == 0 && tensors_match(P("f32to16.mod"), &s, "F32", 1, why, sizeof why), "F32 input -> f16: round to nearest even, 1-D tensors f32 (%s)", why);
    rc = conv(P("f32in"), "-o", P("f32tobf.mod"), "--dtype", "bf16", NULL);
    check(rc == 0 && tensors_match(P("f32tobf.mod"), &s, "F32", 2, why, sizeof why), "F32 input -> bf16: round to nearest even (%s)", why);
    rc = conv(P("f16in"), "-o", P("f16to16.mod"), "--dtype", "f16", NULL);
    check(rc == 0 && tensors_match(P("f16to16.mod"), &s, "F16", 1, why, sizeof why), "F16 input -> f16: unchanged (%s)", why);
    rc = conv(P("bf16in"), "-o", P("bfto16.mod"), "--dtype", "f16", NULL);
    check(rc == 0 && tensors_match(P("bfto16.mod"), &s, "BF16", 1, why, sizeof why), "BF16 input -> f16 (%s)", why);
    check(logits_agree(P("f32to16.mod"), 16), "f16 file: logits agree with the reference");
    {   /* a value f16 cannot hold, and a NaN */
        stlist *l = (stlist *)calloc(1, sizeof *l);
        int i;
        build_tensors(&s, &canon, "F32", l);
        for (i = 0; i < l->n; i++)
            if (!strcmp(l->t[i].name, "model.layers.2.mlp.up_proj.weight")) mkm_put_f32(l->t[i].data + 40, 70000.0f);
        st_write(P("f32in/model.safetensors"), l, 0, l->n);
        rc = conv(P("f32in"), "-o", P("big.mod"), "--dtype", "f16", NULL);
        check(rc == 1 && strstr(g_err, "does not fit in f16") && strstr(g_err, "up_proj") && !exists(P("big.mod")), "a value beyond f16's range is refused (%s)", g_err);
        rc = conv(P("f32in"), "-o", P("big.mod"), "--dtype", "bf16", NULL);
        check(rc == 0, "... and fits in bf16");
        for (i = 0; i < l->n; i++)
            if (!strcmp(l->t[i].name, "model.norm.weight")) mkm_put_u32(l->t[i].data + 8, 0x7fc00000u);
        st_write(P("f32in/model.safetensors"), l, 0, l->n);
        rc = conv(P("f32in"), "-o", P("nan.mod"), NULL);
        check(rc == 1 && strstr(g_err, "NaN") && strstr(g_err, "model.norm.weight"), "a NaN weight is refused (%s)", g_err);
        st_free(l);
        free(l);
    }
}


/* Values where rounding is delicate: zeros, f16 subnormals and their ties, ties at 1, the
   largest f16 values, and a spread of magnitudes. */
static float sweep_value(uint64_t i)
{
    static const float fixed[] = {
        0.0f, -0.0f, 1e-8f, 2.98023223876953125e-8f /* 2^-25: tie to 0 */, 4.470348358154297e-8f /* 1.5 * 2^-25 */,
        5.9604644775390625e-8f /* 2^-24 */, 8.940696716308594e-8f /* 3 * 2^-25: tie to even 2 */,
        1.4901161193847656e-7f /* 5 * 2^-25: tie to even 2 */, 6.097555160522461e-5f /* below 2^-14 */,
        6.103515625e-5f /* 2^-14 */, 65504.0f, 65519.0f, -65519.0f, 1.00048828125f /* 1 + 2^-11: tie to 1 */,
        1.00146484375f /* 1 + 3 * 2^-11: tie up */, -1.00048828125f, 3.0517578125e-5f, 1.00390625f /* bf16 tie */,
        1.01171875f /* bf16 tie up */
    };
    float u;
    int e;
    if (i < sizeof fixed / sizeof fixed[0]) return fixed[i];
    u = uval(77, 0, 0, i);
    e = (int)(i % 45) - 30;
    return (float)ldexp((double)u, e);
}

/* A checkpoint whose up_proj of block 0 holds the sweep, in dtype; the converted tensor must
   equal the reference conversions of tools/mkmodel.h. */
static void test_rounding(void)
{
    spec s;
    stlist *l = (stlist *)calloc(1, sizeof *l);
    int i, k, rc;
    static const char *const in_dt[3] = { "F32", "F16", "BF16" };
    static const char *const out_dt[3] = { "f32", "f16", "bf16" };
    spec_default(&s);
    s.L = 1;
    for (k = 0; k < 3; k++) {
        int o, ok = 1;
        build_tensors(&s, &canon, in_dt[k], l);
        for (i = 0; i < l->n; i++)
            if (!strcmp(l->t[i].name, "model.layers.0.mlp.up_proj.weight")) {
                uint64_t j, n = (uint64_t)s.F * (uint64_t)s.d;
                for (j = 0; j < n; j++) {
                    float v = sweep_value(j);
                    if (k == 0) mkm_put_f32(l->t[i].data + 4 * j, v);
                    else {
                        uint16_t h = k == 1 ? mkm_f32_to_f16(v) : mkm_f32_to_bf16(v);
                        l->t[i].data[2 * j] = (unsigned char)h;
                        l->t[i].data[2 * j + 1] = (unsigned char)(h >> 8);
                    }
                }
            }
        mkdir_p(P("sweep"));
        write_config(P("sweep"), &s, NULL, NULL);
        st_write(P("sweep/model.safetensors"), l, 0, l->n);
        st_free(l);
        for (o = 0; o < 3; o++) {
            size_t size;
            unsigned char *b;
            rc = conv(P("sweep"), "-o", P("sweep.mod"), "--force", "--quiet", "--dtype", out_dt[o], NULL);
            if (k == 2 && o == 1) { /* bf16(65504) is 65536, beyond f16 */
                check(rc == 1 && strstr(g_err, "does not fit in f16"), "rounding sweep: BF16 input -> f16 refuses 65536 (%s)", g_err);
                continue;
            }
            b = rc == 0 ? read_file(P("sweep.mod"), &size) : NULL;
            ok = b != NULL;
            if (b) {
                const unsigned char *p = b + mkm_tensor_data(b, size, ROLE_UP, 0);
                uint64_t j, n = (uint64_t)s.F * (uint64_t)s.d;
                for (j = 0; j < n && ok; j++) {
                    float v = sweep_value(j);
                    if (k == 1) v = f16val(v);
                    else if (k == 2) v = bf16val(v);
                    if (o == 0) { uint32_t w; memcpy(&w, &v, 4); ok = mkm_get_u32(p + 4 * j) == w; }
                    else ok = (uint16_t)(p[2 * j] | p[2 * j + 1] << 8) == (o == 1 ? mkm_f32_to_f16(v) : mkm_f32_to_bf16(v));
                    if (!ok) printf("   (element %llu = %g)\n", (unsigned long long)j, (double)sweep_value(j));
                }
                free(b);
            }
            check(ok, "rounding sweep: %s input -> %s (subnormals, ties, extremes)", in_dt[k], out_dt[o]);
        }
    }
    free(l);
}
static void test_overrides(void)
{
    spec s;
    mod_model *m;
    int rc;
    spec_mod(&s, 1);
    make_dir(P("ovr_keys"), &s, &canon, "F32", mod_keys_full, NULL);
    make_dir(P("ovr_none"), &s, &canon, "F32", NULL, NULL);
    rc = conv(P("ovr_keys"), "-o", P("ovr_keys.mod"), "--quiet", NULL);
    rc |= conv(P("ovr_none"), "-o", P("ovr_cli.mod"), "--quiet", "--mod-layers", "1,3", "--capacity", "0.25,0.5",
               "--router-input", "normed", "--router-scale", "sigmoid", "--combine", "mlp", "--positions", "compacted",
               "--decision", "predictor", "--threshold", "0.125", NULL);
    check(rc == 0 && same_files(P("ovr_keys.mod"), P("ovr_cli.mod")), "command-line options equal the config.json keys (%s)", g_err);
    rc = conv(P("ovr_none"), "-o", P("ovr_odd.mod"), "--quiet", "--mod-layers", "odd", "--capacity", "0.25,0.5", "--router-input", "normed",
              "--router-scale", "sigmoid", "--combine", "mlp", "--positions", "compacted", "--decision", "predictor", "--threshold", "0.125", NULL);
    check(rc == 0 && same_files(P("ovr_keys.mod"), P("ovr_odd.mod")), "--mod-layers odd");
    rc = conv(P("ovr_keys"), "-o", P("ovr_over.mod"), "--capacity", "0.75", "--threshold", "-1", "--positions", "absolute", NULL);
    m = rc == 0 ? load(P("ovr_over.mod")) : NULL;
    check(m && mod_model_layer_capacity(m, 1) == 0.75f && mod_model_layer_capacity(m, 3) == 0.75f &&
          mod_model_config(m)->threshold == -1.0f && mod_model_config(m)->positions == MOD_POSITIONS_ABSOLUTE &&
          mod_model_config(m)->combine == MOD_COMBINE_MLP, "options override config.json keys, the rest stays");
    mod_model_free(m);
    rc = conv(P("ovr_keys"), "-o", P("ovr_x.mod"), "--mod-layers", "none", NULL);
    check(rc == 1 && strstr(g_err, "not a routed block") && strstr(g_err, "router"), "--mod-layers none with router weights: refused (%s)", g_err);
    rc = conv(P("ovr_keys"), "-o", P("ovr_x.mod"), "--mod-layers", "1,2", NULL);
    check(rc == 1 && strstr(g_err, "model.layers.2.router.weight") && strstr(g_err, "missing"), "a routed block without a router: the missing tensor is named (%s)", g_err);
    rc = conv(P("ovr_keys"), "-o", P("ovr_x.mod"), "--capacity", "0.5,0.5,0.5", NULL);
    check(rc == 1 && strstr(g_err, "3 capacities"), "capacity list of the wrong length (%s)", g_err);
    rc = conv(P("ovr_none"), "-o", P("ovr_x.mod"), "--mod-layers", "1,3", NULL);
    check(rc == 0, "routed blocks without mod_capacity: default capacity");
    m = rc == 0 ? load(P("ovr_x.mod")) : NULL;
    check(m && mod_model_layer_capacity(m, 1) == 0.125f && mod_model_config(m)->decision == MOD_DECISION_ROUTER, "... 0.125 and decision router");
    mod_model_free(m);
    rc = conv(P("ovr_none"), "-o", P("ovr_y.mod"), "--mod-layers", "1,9", NULL);
    check(rc == 2 || (rc == 1 && strstr(g_err, "--mod-layers")), "--mod-layers naming a block that does not exist (%s)", g_err);
}

static void test_tied(void)
{
    spec s;
    mod_model *m;
    int rc;
    char cfg[4200];
    size_t n;
    unsigned char *b;
    spec_default(&s);
    s.tied = 1;
    make_dir(P("tie"), &s, &canon, "F32", NULL, NULL);
    /* drop the tie_word_embeddings key: no lm_head means tied */
    snprintf(cfg, sizeof cfg, "%s/config.json", P("tie"));
    b = read_file(cfg, &n);
    if (b) {
        char *k = strstr((char *)b, "\"tie_word_embeddings\": true");
        if (k) memcpy(k, "\"_tie_word_embeddings\":true", 27);
        write_file(cfg, b, n);
        free(b);
    }
    rc = conv(P("tie"), "-o", P("tie.mod"), NULL);
    m = rc == 0 ? load(P("tie.mod")) : NULL;
    check(m && mod_model_config(m)->tied_embeddings == 1, "no tie_word_embeddings key and no lm_head: tied (%s)", g_err);
    mod_model_free(m);
    s.tied = 0;
    write_config(P("tie"), &s, NULL, NULL);
    rc = conv(P("tie"), "-o", P("tie2.mod"), NULL);
    check(rc == 1 && strstr(g_err, "lm_head.weight") && strstr(g_err, "tie_word_embeddings"), "tie_word_embeddings false without lm_head: named (%s)", g_err);
}

/* tokenizer.json with the Split pre-tokenizer's pattern ({key: regex_json}, JSON-escaped) and
   settings replaced. */
static void write_split_tokenizer(const char *path, const char *key, const char *regex_json, const char *behavior, const char *invert)
{
    static const char gpt2[] = "{\"Regex\":\"'s|'t|'re|'ve|'m|'ll|'d| ?\\\\p{L}+| ?\\\\p{N}+| ?[^\\\\s\\\\p{L}\\\\p{N}]+|\\\\s+(?!\\\\S)|\\\\s+\"}";
    static const char tail[] = "\"behavior\":\"Isolated\",\"invert\":false";
    size_t n, k;
    unsigned char *b;
    char *o, *at, *t;
    write_tokenizer(path, 0, 1, NULL, NULL, -1);
    b = read_file(path, &n);
    o = (char *)malloc(n + 1000);
    if (!b || !o) { check(0, "scratch for %s", path); free(b); free(o); return; }
    b = (unsigned char *)realloc(b, n + 1);
    b[n] = 0;
    at = strstr((char *)b, gpt2);
    t = at ? strstr(at, tail) : NULL;
    if (!t) { check(0, "the GPT-2 Split is in the written tokenizer.json"); free(b); free(o); return; }
    k = (size_t)(at - (char *)b);
    memcpy(o, b, k);
    k += (size_t)sprintf(o + k, "{\"%s\":\"%s\"},\"behavior\":\"%s\",\"invert\":%s", key, regex_json, behavior, invert);
    t += sizeof tail - 1;
    memcpy(o + k, t, n - (size_t)(t - (char *)b));
    k += n - (size_t)(t - (char *)b);
    write_file(path, o, k);
    free(b);
    free(o);
}

/* The Llama 3 and Qwen2 Split regexes map to pretokenizers 2 and 3; any other is refused with
   the regex quoted. */
static void test_split_patterns(void)
{
    static const char llama3[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+";
    static const char qwen2[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+";
    static const char gpt2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\\\p{L}+| ?\\\\p{N}+| ?[^\\\\s\\\\p{L}\\\\p{N}]+|\\\\s+(?!\\\\S)|\\\\s+";
    static const struct { const char *regex; int pretok; const char *name; } known[] = {
        { gpt2, 1, "GPT-2" }, { llama3, 2, "Llama 3" }, { qwen2, 3, "Qwen2" },
    };
    spec s;
    int k, rc;
    spec_default(&s);
    make_dir(P("split"), &s, &canon, "F32", NULL, NULL);
    for (k = 0; k < 3; k++) {
        mod_model *m;
        char want[64];
        write_split_tokenizer(P("split/tokenizer.json"), "Regex", known[k].regex, "Isolated", "false");
        rc = conv(P("split"), "-o", P("split%d.mod", k), NULL);
        m = rc == 0 ? load(P("split%d.mod", k)) : NULL;
        snprintf(want, sizeof want, "%s pretokenizer", known[k].name);
        check(m && m->vocab.pretokenizer == known[k].pretok && strstr(g_out, want),
              "the %s Split regex converts to pretokenizer %d, and the summary says \"%s\" (%s)", known[k].name, known[k].pretok, want, g_err);
        if (m) {
            static const int want_t[] = { 259, 264 };
            check(tok_is(m, "hello world", want_t, 2), "%s: tokenize \"hello world\"", known[k].name);
            if (k == 0)
                check(m->vocab.n_tokens == 267 && mod_model_config(m)->vocab_size == 300,
                      "a vocabulary padded past the tokenizer (300 rows, 267 tokens) converts as it is");
            mod_model_free(m);
        }
    }
    {   /* Llama 3's tokenizer.json sets ignore_merges: flag bit 1 */
        size_t n;
        unsigned char *b;
        char *f, *o;
        mod_model *m;
        write_split_tokenizer(P("split/tokenizer.json"), "Regex", llama3, "Isolated", "false");
        b = read_file(P("split/tokenizer.json"), &n);
        f = b ? strstr((char *)b, "\"fuse_unk\":false") : NULL;
        o = (char *)malloc(n + 32);
        if (f && o) {
            size_t k = (size_t)(f - (char *)b);
            memcpy(o, b, k);
            k += (size_t)sprintf(o + k, "\"ignore_merges\":true,");
            memcpy(o + k, f, n - (size_t)(f - (char *)b));
            write_file(P("split/tokenizer.json"), o, n + 21);
        }
        free(b);
        free(o);
        rc = conv(P("split"), "-o", P("split_im.mod"), NULL);
        m = rc == 0 ? load(P("split_im.mod")) : NULL;
        check(f && m && m->vocab.flags == 2u && m->vocab.pretokenizer == 2 && strstr(g_out, "whole-piece tokens (ignore_merges)"),
              "ignore_merges true converts to flag bit 1, named in the summary (%s)", g_err);
        mod_model_free(m);
    }
    /* one character off, a String pattern, other behaviors: refused, the regex quoted */
    write_split_tokenizer(P("split/tokenizer.json"), "Regex", "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,2}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+", "Isolated", "false");
    refuse("a Llama 3 regex with \\p{N}{1,2}", "regex \"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,2}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+\" is none that mod.h implements", P("split"), NULL, NULL);
    write_split_tokenizer(P("split/tokenizer.json"), "Regex", "\\\\p{L}+|\\u00e9", "Isolated", "false");
    refuse("an unknown regex with a non-ASCII character", "regex \"\\p{L}+|\\xC3\\xA9\" is none", P("split"), NULL, NULL);
    write_split_tokenizer(P("split/tokenizer.json"), "Regex", llama3, "Removed", "false");
    refuse("the Llama 3 regex with behavior Removed", "with Llama 3's regex must have behavior \"Isolated\"", P("split"), NULL, NULL);
    write_split_tokenizer(P("split/tokenizer.json"), "Regex", qwen2, "Isolated", "true");
    refuse("the Qwen2 regex inverted", "with Qwen2's regex must have behavior \"Isolated\" and invert false", P("split"), NULL, NULL);
    write_split_tokenizer(P("split/tokenizer.json"), "String", llama3, "Isolated", "false");
    refuse("a String pattern", "pattern is not a regex (a String pattern)", P("split"), NULL, NULL);
    rc = conv(P("split"), "-o", P("split_none.mod"), "--tokenizer", "none", NULL);
    check(rc == 0, "... and it converts with --tokenizer none (%s)", g_err);
}

/* A SentencePiece-style tokenizer.json (kind 3) converts: merges by rank, byte fallback, the
   prepend rule per piece, added tokens with their ids, special ones only when asked for. */
static void test_sp_tokenizer(void)
{
    spec s;
    mod_model *m;
    spec_default(&s);
    s.L = 1;
    make_dir(P("sp"), &s, &canon, "F32", NULL, ",\n  \"bos_token_id\": 1,\n  \"eos_token_id\": 2");
    write_sp_tokenizer(P("sp/tokenizer.json"), NULL, NULL, NULL, NULL, NULL);
    check(conv(P("sp"), "-o", P("sp.mod"), NULL) == 0 && strstr(g_out, "SentencePiece-style BPE, 266 tokens, 3 merges, 4 added tokens"),
          "converts, kind 3 (%s%s)", g_out, g_err);
    if ((m = load(P("sp.mod"))) != NULL) {
        static const int ab_a[] = { 264, 262 }, z[] = { 259, 3 + 'z' };
        int32_t t[16];
        int n = -1;
        char back[64];
        size_t bl = 0;
        check(tok_is(m, "ab a", ab_a, 2), "\"ab a\": U+2581 prepended, merged by rank, decoded without the leading space");
        check(tok_is(m, "z", z, 2), "\"z\": byte fallback");
        check(mod_tokenize(m, "a<x>b", 5, 0, t, 16, &n, NULL) == MOD_OK && n == 4 && t[0] == 262 && t[1] == 265 && t[2] == 259 && t[3] == 261,
              "\"a<x>b\": the non-special added token <x>, each piece prepended");
        check(mod_tokenize(m, "<s>ab", 5, MOD_TOKENIZE_SPECIAL | MOD_TOKENIZE_BOS, t, 16, &n, NULL) == MOD_OK && n == 3 && t[0] == 1 &&
              t[1] == 1 && t[2] == 264, "\"<s>ab\" with MOD_TOKENIZE_SPECIAL: <s> recognised");
        check(mod_tokenize(m, "<s>", 3, 0, t, 16, &n, NULL) == MOD_OK && n == 4 && t[0] == 259 && t[1] == 3 + '<',
              "\"<s>\" without it: plain text");
        t[0] = 1; t[1] = 264; t[2] = 2;
        check(mod_detokenize(m, t, 3, back, sizeof back, &bl) == MOD_OK && bl == 2 && !memcmp(back, "ab", 2), "decode skips <s> and </s>");
        check(mod_token_bos(m) == 1 && mod_token_eos(m) == 2, "bos and eos from config.json");
        mod_model_free(m);
    }
    check(conv(P("sp.mod"), "-o", P("sp_f16.mod"), "--dtype", "f16", NULL) == 0 &&
          strstr(g_out, "SentencePiece-style BPE, 266 tokens, 3 merges, bos 1, eos 2 (as in the input)"),
          "a kind 3 model file re-encoded keeps its tokenizer (%s%s)", g_out, g_err);
    if ((m = load(P("sp_f16.mod"))) != NULL) {
        static const int ab_a[] = { 264, 262 };
        check(tok_is(m, "ab a", ab_a, 2), "the re-encoded file tokenizes alike");
        mod_model_free(m);
    }
    /* the Metaspace form, and one pre_tokenizer that splits nothing after the Replace normalizer */
    write_sp_tokenizer(P("sp/tokenizer.json"), "null",
                       "{\"type\":\"Metaspace\",\"replacement\":\"" CK_SP "\",\"prepend_scheme\":\"first\",\"split\":false}",
                       "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"},"
                       "{\"type\":\"Metaspace\",\"replacement\":\"" CK_SP "\",\"prepend_scheme\":\"first\",\"split\":false}]}", NULL, NULL);
    check(conv(P("sp"), "-o", P("sp2.mod"), "--force", NULL) == 0, "Metaspace form converts (%s)", g_err);
    if ((m = load(P("sp2.mod"))) != NULL) {
        int32_t t[16];
        int n = -1;
        check(mod_tokenize(m, "ab<x>ab", 7, 0, t, 16, &n, NULL) == MOD_OK && n == 3 && t[0] == 264 && t[1] == 265 && t[2] == 263,
              "prepend_scheme first: only the piece at the start of the text");
        mod_model_free(m);
    }
    write_sp_tokenizer(P("sp/tokenizer.json"), "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"" CK_SP "\"}",
                       "{\"type\":\"Split\",\"pattern\":{\"String\":\" \"},\"behavior\":\"MergedWithPrevious\",\"invert\":false}", NULL, NULL, NULL);
    check(conv(P("sp"), "-o", P("sp3.mod"), "--force", NULL) == 0, "Gemma's form (Replace, then a Split on spaces) converts (%s)", g_err);
}

int main(int argc, char **argv)
{
    static const ckpt_test tests[] = {
        { test_dense_with_tokenizer, "dense model, tokenizer.json" },
        { test_mod_model, "MoD model, predictors" },
        { test_aliases, "tensor name aliases" },
        { test_shards, "shards" },
        { test_dtypes, "input and output dtypes" },
        { test_q4_0, "q4_0 output" },
        { test_rounding, "rounding sweep" },
        { test_overrides, "routing settings" },
        { test_tied, "tied embeddings" },
        { test_split_patterns, "Split regexes" },
        { test_sp_tokenizer, "SentencePiece-style tokenizer.json" },
    };
    return ckpt_main(argc, argv, tests, (int)(sizeof tests / sizeof tests[0]));
}
