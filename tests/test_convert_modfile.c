/* mod-convert on mod.h model files (written by tools/mkmodel.h): f32 to each dtype equals
   mkmodel's bytes for the same seed, each dtype to itself byte for byte with equal logits and
   tokens, q8_0 and q4_0 decoded exactly and requantized to the same blocks, a checkpoint
   converted directly or through an f32 model file gives the same file; what cannot change
   (the model's definition, its tokenizer) and damaged files are refused.
   Usage: test_convert_modfile [path/to/mod-convert] (default: beside this program). */
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "ckpt.h"

static int write_mkm(const char *path, const mkm_opts *o)
{
    unsigned char *b;
    size_t n;
    if (mkm_build(o, &b, &n) != 0) return 0;
    write_file(path, b, n);
    free(b);
    return 1;
}

/* The tokenizer section of a model file (NULL, 0 when it has none). */
static const unsigned char *tok_section(const unsigned char *b, uint64_t *n)
{
    *n = mkm_get_u64(b + 56);
    return *n ? b + mkm_get_u64(b + 48) : NULL;
}

/* q8_0 blocks (g) against the f32 weights they encode (ref): every decoded weight within
   q8_0's rounding bound, half a step of max|w| / 127 plus up to 127 times the rounding of that
   step to the f16 scale d (2^-11 d), so (0.5 + 129 / 2048) d covers both. */
static int q8_close(const unsigned char *g, const unsigned char *ref, uint64_t n)
{
    uint64_t i;
    for (i = 0; i < n; i++) {
        const unsigned char *gb = g + i / 32 * 34;
        const double d = mkm_f16_to_double((uint16_t)(gb[0] | gb[1] << 8)), x = mkm_get_f32(ref + 4 * i);
        if (fabs(d * (signed char)gb[2 + i % 32] - x) > (0.5 + 129.0 / 2048) * d) return 0;
    }
    return 1;
}

/* got and want (file bytes) describe the same model: header fields from vocab_size on (the
   configuration and every routing setting), the layer table, the tokenizer section (unless
   got_tok is 0: then got has none) and, for every tensor of want, the same role, layer, dtype,
   shape and size with equal bytes; with ref (the f32 model), q8_0 tensors are also checked
   against the weights they encode (q8_close). */
static int same_model(const unsigned char *got, size_t gn, const unsigned char *want, size_t wn, int got_tok,
                      const unsigned char *ref, size_t rn, char *why, size_t wcap)
{
    uint32_t n = mkm_get_u32(want + 28), t, L = mkm_get_u32(want + 88);
    uint64_t gt, wt;
    const unsigned char *gs = tok_section(got, &gt), *ws = tok_section(want, &wt);
    if (gn < 160 || wn < 160) { snprintf(why, wcap, "short file"); return 0; }
    if (memcmp(got + 80, want + 80, 80)) { snprintf(why, wcap, "header fields from offset 80 differ"); return 0; }
    if (memcmp(got + mkm_get_u64(got + 32), want + mkm_get_u64(want + 32), 8 * (size_t)L)) { snprintf(why, wcap, "layer tables differ"); return 0; }
    if (got_tok ? gt != wt || (wt && memcmp(gs, ws, (size_t)wt)) : gt != 0) { snprintf(why, wcap, "tokenizer sections differ (%llu vs %llu bytes)", (unsigned long long)gt, (unsigned long long)wt); return 0; }
    if (mkm_get_u32(got + 28) != n) { snprintf(why, wcap, "%u tensors, want %u", mkm_get_u32(got + 28), n); return 0; }
    for (t = 0; t < n; t++) {
        const unsigned char *we = want + mkm_get_u64(want + 40) + 64 * (uint64_t)t;
        const uint32_t role = mkm_get_u32(we), layer = mkm_get_u32(we + 4);
        const int l = layer == 0xFFFFFFFFu ? -1 : (int)layer;
        size_t ge = mkm_tensor_entry(got, gn, (int)role, l);
        uint64_t size = mkm_get_u64(we + 56);
        if (!ge) { snprintf(why, wcap, "role %u layer %d missing", role, l); return 0; }
        if (memcmp(got + ge, we, 48) || mkm_get_u64(got + ge + 56) != size) { snprintf(why, wcap, "role %u layer %d: entry differs (dtype %u vs %u)", role, l, mkm_get_u32(got + ge + 8), mkm_get_u32(we + 8)); return 0; }
        if (memcmp(got + mkm_tensor_data(got, gn, (int)role, l), want + mkm_tensor_data(want, wn, (int)role, l), (size_t)size)) {
            snprintf(why, wcap, "role %u layer %d (dtype %u): bytes differ", role, l, mkm_get_u32(we + 8));
            return 0;
        }
        if (ref && mkm_get_u32(we + 8) == 3) {
            const size_t re = mkm_tensor_entry(ref, rn, (int)role, l);
            if (!re || !q8_close(got + mkm_tensor_data(got, gn, (int)role, l), ref + mkm_tensor_data(ref, rn, (int)role, l),
                                 mkm_get_u64(we + 16) * mkm_get_u64(we + 24))) {
                snprintf(why, wcap, "role %u layer %d: q8_0 weights outside the rounding bound of the f32 ones", role, l);
                return 0;
            }
        }
    }
    return 1;
}

static int same_model_files_q8(const char *got, const char *want, int got_tok, const char *ref, char *why, size_t wcap)
{
    size_t gn, wn, rn = 0;
    unsigned char *g = read_file(got, &gn), *w = read_file(want, &wn), *r = ref ? read_file(ref, &rn) : NULL;
    int ok = g && w && (r || !ref) && same_model(g, gn, w, wn, got_tok, r, rn, why, wcap);
    if (!g || !w || (ref && !r)) snprintf(why, wcap, "cannot read %s or %s", got, want);
    free(g);
    free(w);
    free(r);
    return ok;
}

static int same_model_files(const char *got, const char *want, int got_tok, char *why, size_t wcap)
{
    return same_model_files_q8(got, want, got_tok, NULL, why, wcap);
}

/* The library gives both files the same logits, bit for bit, and the same tokens for a text. */
static int same_behaviour(const char *a, const char *b)
{
    mod_model *m[2];
    float *lg[2] = { NULL, NULL };
    int32_t toks[2][64], in[8];
    int nt[2] = { 0, 0 }, i, ok, V;
    static const char text[] = "hello world, hello there";
    m[0] = load(a);
    m[1] = load(b);
    ok = m[0] && m[1];
    V = ok ? mod_model_config(m[0])->vocab_size : 0;
    for (i = 0; ok && i < 2; i++) {
        mod_session *s = NULL;
        mod_session_desc sd;
        int k;
        for (k = 0; k < 8; k++) in[k] = (k * 29 + 5) % V;
        memset(&sd, 0, sizeof sd);
        sd.max_tokens = 32;
        sd.prompt_routing = MOD_ROUTING_CAUSAL;
        sd.threads = 1;
        lg[i] = (float *)malloc((size_t)V * 8 * sizeof(float));
        ok = lg[i] && mod_session_create(&s, m[i], &sd, NULL) == MOD_OK && mod_prefill(s, in, 8, lg[i]) == MOD_OK &&
             mod_tokenize(m[i], text, sizeof text - 1, 1, toks[i], 64, &nt[i], NULL) == MOD_OK;
        mod_session_free(s);
    }
    ok = ok && !memcmp(lg[0], lg[1], (size_t)V * 8 * sizeof(float)) && nt[0] == nt[1] && nt[0] > 2 &&
         !memcmp(toks[0], toks[1], (size_t)nt[0] * sizeof toks[0][0]);
    free(lg[0]);
    free(lg[1]);
    mod_model_free(m[0]);
    mod_model_free(m[1]);
    return ok;
}

/* A routed model with every setting away from its default, q/k/v biases, an MLP predictor and
   a byte-level BPE tokenizer; dimensions that q8_0 and q4_0 accept. */
static void mod_input_opts(mkm_opts *o, int dtype)
{
    mkm_defaults(o);
    o->dim = 64;
    o->hidden_dim = 96;
    o->n_layers = 4;
    o->routed[0] = 0; o->routed[1] = 1; o->routed[2] = 0; o->routed[3] = 1;
    o->capacity[1] = 0.25f;
    o->capacity[3] = 0.75f;
    o->router_input = 1; o->router_scale = 1; o->combine = 1; o->positions = 1;
    o->decision = 1;
    o->predictor_hidden = 32;
    o->threshold = 0.125f;
    o->qkv_bias = 1;
    o->tokenizer = MKM_TOKENIZER_BPE;
    o->n_merges = 40;
    o->seed = 77;
    o->dtype = dtype;
}

static void test_mod_input_with(char *const *in);

static void test_mod_input(void)
{
    static const char *const dn[5] = { "f32", "f16", "bf16", "q8_0", "q4_0" };
    char *in[5];
    mkm_opts o;
    int dt, ok = 1;
    for (dt = 0; dt < 5; dt++) {
        mod_input_opts(&o, dt);
        in[dt] = strdup_c(P("mi_want_%s.mod", dn[dt]));
        if (!write_mkm(in[dt], &o)) ok = 0;
    }
    check(ok, "mkmodel builds the model in every dtype");
    if (ok) test_mod_input_with(in);
    for (dt = 0; dt < 5; dt++) free(in[dt]);
}

static void test_mod_input_with(char *const *in)
{
    static const char *const dn[5] = { "f32", "f16", "bf16", "q8_0", "q4_0" };
    static const char *const changing[8][2] = { { "--mod-layers", "odd" }, { "--capacity", "0.5" }, { "--router-input", "residual" },
        { "--router-scale", "identity" }, { "--combine", "delta" }, { "--positions", "absolute" }, { "--decision", "router" }, { "--threshold", "0" } };
    mkm_opts o;
    char why[300] = "";
    int dt, k, rc;
    /* f32 -> every dtype: the bytes mkmodel writes for the same seed in that dtype (both
       programs round alike), and q8_0 also against the f32 weights (q8_close) */
    for (dt = 1; dt < 5; dt++) {
        const char *out = P("mi_%s.mod", dn[dt]);
        rc = conv(in[0], "-o", out, "--dtype", dn[dt], NULL);
        check(rc == 0 && same_model_files_q8(out, in[dt], 1, dt == 3 ? in[0] : NULL, why, sizeof why),
              "mod.h f32 -> %s: every tensor, the configuration, the routing settings and the tokenizer equal mkmodel's %s file%s (%s%s)",
              dn[dt], dn[dt], dt == 3 ? " (q8_0: and every weight within the rounding bound of the f32 one)" : "", g_err, rc ? "" : why);
    }
    /* the same path as a checkpoint: checkpoint -> f32 model file -> dtype equals checkpoint -> dtype */
    {
        spec s;
        spec_mod(&s, 1);
        s.F = 64;
        make_dir(P("mi_ck"), &s, &canon, "BF16", mod_keys_full, NULL);
        rc = conv(P("mi_ck"), "-o", P("mi_ck32.mod"), "--quiet", NULL);
        check(rc == 0, "checkpoint -> f32 (%s)", g_err);
        for (dt = 1; dt < 5; dt++) {
            const char *a = P("mi_ck_%s.mod", dn[dt]), *b = P("mi_ck32_%s.mod", dn[dt]);
            rc = conv(P("mi_ck"), "-o", a, "--quiet", "--dtype", dn[dt], NULL);
            rc |= conv(P("mi_ck32.mod"), "-o", b, "--quiet", "--dtype", dn[dt], NULL);
            check(rc == 0 && same_files(a, b), "checkpoint -> %s and checkpoint -> f32 model file -> %s: the same file (%s)", dn[dt], dn[dt], g_err);
        }
    }
    rc = conv(in[0], "-o", P("mi_summary.mod"), "--dtype", "q4_0", NULL);
    check(rc == 0 && strstr(g_out, "q4_0 matrices") && strstr(g_out, "from a mod.h model file") && strstr(g_out, "1 (capacity 0.25), 3 (capacity 0.75)"),
          "mod.h input: the summary names the input kind, the dtype and the routed blocks (%s)", g_out);
    /* same dtype, without --dtype (each matrix keeps its dtype) and with it */
    for (dt = 0; dt < 5; dt++) {
        const char *out = P("mi_same_%s.mod", dn[dt]), *out2 = P("mi_same2_%s.mod", dn[dt]);
        rc = conv(in[dt], "-o", out, "--quiet", NULL);
        check(rc == 0 && same_model_files(out, in[dt], 1, why, sizeof why) && same_behaviour(out, in[dt]),
              "mod.h %s -> no --dtype: tensors byte-identical, same configuration and tokenizer, logits equal bit for bit, same tokens (%s%s)",
              dn[dt], g_err, rc ? "" : why);
        rc = conv(in[dt], "-o", out2, "--quiet", "--dtype", dn[dt], NULL);
        check(rc == 0 && same_files(out, out2), "mod.h %s -> --dtype %s: the same file (%s)", dn[dt], dn[dt], g_err);
    }
    /* decoding q8_0 and q4_0 is exact, and quantizing the decoded values gives the same blocks */
    for (dt = 3; dt < 5; dt++) {
        const char *f = P("mi_dec_%s.mod", dn[dt]), *back = P("mi_back_%s.mod", dn[dt]);
        size_t nq, nf;
        unsigned char *q, *x;
        int exact = 1;
        rc = conv(in[dt], "-o", f, "--quiet", "--dtype", "f32", NULL);
        q = read_file(in[dt], &nq);
        x = read_file(f, &nf);
        if (rc != 0 || !q || !x) exact = 0;
        else {
            const size_t qd = mkm_tensor_data(q, nq, MKM_ROLE_MLP_DOWN, 2), xd = mkm_tensor_data(x, nf, MKM_ROLE_MLP_DOWN, 2);
            const size_t xe = mkm_tensor_entry(x, nf, MKM_ROLE_MLP_DOWN, 2);
            uint64_t i, n = 64 * 96;
            exact = qd && xd && xe && mkm_get_u32(x + xe + 8) == 0;
            for (i = 0; exact && i < n; i++) {
                const unsigned char *b = q + qd + i / 32 * (dt == 3 ? 34 : 18);
                const double d = mkm_f16_to_double((uint16_t)(b[0] | b[1] << 8));
                const unsigned j = (unsigned)(i % 32);
                const double v = dt == 3 ? d * (signed char)b[2 + j] : d * ((j < 16 ? b[2 + j] & 15 : b[2 + j - 16] >> 4) - 8);
                exact = (double)mkm_get_f32(x + xd + 4 * i) == v;
            }
        }
        free(q);
        free(x);
        check(exact, "mod.h %s -> f32: every weight is exactly scale x integer (mlp_down of block 2) (%s)", dn[dt], g_err);
        rc = conv(f, "-o", back, "--quiet", "--dtype", dn[dt], NULL);
        check(rc == 0 && same_model_files(back, in[dt], 1, why, sizeof why), "... and %s again gives the original blocks (%s%s)", dn[dt], g_err, rc ? "" : why);
    }
    /* quantized -> another quantized type compounds rounding: refused unless asked for */
    refuse("mod.h q8_0 -> q4_0 without --allow-requantize", "--allow-requantize", in[3], "--dtype", "q4_0");
    check(strstr(g_err, "already q8_0") != NULL, "... the message says the input is already q8_0 (%s)", g_err);
    refuse("mod.h q4_0 -> q8_0 without --allow-requantize", "--allow-requantize", in[4], "--dtype", "q8_0");
    rc = conv(in[3], "-o", P("mi_rq.mod"), "--quiet", "--dtype", "q4_0", "--allow-requantize", NULL);
    {
        mod_model *m = rc == 0 ? load(P("mi_rq.mod")) : NULL;
        check(m != NULL, "mod.h q8_0 -> q4_0 with --allow-requantize (%s)", g_err);
        mod_model_free(m);
    }
    rc = conv(in[4], "-o", P("mi_q4f16.mod"), "--quiet", "--dtype", "f16", NULL);
    check(rc == 0, "mod.h q4_0 -> f16 needs no permission (%s)", g_err);
    /* the model's definition cannot change */
    for (k = 0; k < 8; k++) {
        char what[100];
        snprintf(what, sizeof what, "mod.h input with %s", changing[k][0]);
        refuse(what, "carried over unchanged", in[0], changing[k][0], changing[k][1]);
        check(strstr(g_err, changing[k][0]) != NULL, "... the message names %s", changing[k][0]);
    }
    refuse("mod.h input with --tokenizer FILE", "cannot replace it", in[0], "--tokenizer", P("mi_want_f32.mod"));
    rc = conv(in[1], "-o", P("mi_notok.mod"), "--quiet", "--tokenizer", "none", NULL);
    check(rc == 0 && same_model_files(P("mi_notok.mod"), in[1], 0, why, sizeof why), "mod.h input with --tokenizer none: the same model without a tokenizer (%s%s)", g_err, rc ? "" : why);
    rc = conv(in[0], "-o", in[0], "--force", NULL);
    check(rc == 1 && strstr(g_err, "is the input file"), "a mod.h model file cannot be its own output (%s)", g_err);
    /* damaged files */
    {
        size_t n;
        unsigned char *b = read_file(in[0], &n);
        const char *bad = P("mi_bad.mod");
        if (!b) { check(0, "read %s", in[0]); return; }
        write_file(bad, b, n / 2);
        refuse("mod.h input truncated", "not a valid mod.h model file: file is truncated", bad, NULL, NULL);
        write_file(bad, b, 100);
        refuse("mod.h input shorter than its header", "not a valid mod.h model file", bad, NULL, NULL);
        b[n - 5] ^= 0x40;
        write_file(bad, b, n);
        refuse("mod.h input with a flipped bit", "checksum", bad, NULL, NULL);
        b[n - 5] ^= 0x40;
        mkm_put_u32(b + 84, 48); /* dim, with the checksum made valid again */
        mkm_checksum(b, n);
        write_file(bad, b, n);
        refuse("mod.h input whose header disagrees with its tensors", "not a valid mod.h model file", bad, NULL, NULL);
        mkm_put_u32(b + 84, 64);
        mkm_put_f32(b + mkm_tensor_data(b, n, MKM_ROLE_ATTN_Q, 1) + 4 * 7, NAN);
        mkm_checksum(b, n);
        write_file(bad, b, n);
        refuse("mod.h input with a NaN weight", "element 7 is NaN", bad, "--dtype", "f16");
        free(b);
    }
    /* a dense model with 48 columns: under q4_0 those matrices stay f16 (every matrix here:
       each has 48 columns but mlp_down's 64), f16 fine */
    mkm_defaults(&o);
    o.dim = 48;
    o.hidden_dim = 64;
    o.n_heads = 4;
    o.routed[1] = o.routed[3] = 0;
    write_mkm(P("mi48.mod"), &o);
    rc = conv(P("mi48.mod"), "-o", P("mi48q.mod"), "--dtype", "q4_0", NULL);
    {
        mod_model *m = rc == 0 ? load(P("mi48q.mod")) : NULL;
        check(m && m->layers[0].wq.dtype == MOD_DTYPE_F16 && m->layers[0].w_gate.dtype == MOD_DTYPE_F16 &&
                  m->layers[0].w_down.dtype == MOD_DTYPE_Q4_0 && strstr(g_err, "kept in f16 instead of q4_0"),
              "mod.h input with 48 columns -> q4_0: 48-column matrices f16 with a note, mlp_down q4_0 (%s)", g_err);
        mod_model_free(m);
    }
    rc = conv(P("mi48.mod"), "-o", P("mi48h.mod"), "--quiet", "--dtype", "bf16", NULL);
    {
        mod_model *m = rc == 0 ? load(P("mi48h.mod")) : NULL;
        check(m && mod_model_config(m)->n_routed == 0 && mod_model_config(m)->dim == 48, "mod.h dense input with 48 columns -> bf16 (%s)", g_err);
        mod_model_free(m);
    }
}

int main(int argc, char **argv)
{
    static const ckpt_test tests[] = {
        { test_mod_input, "mod.h model files as input" },
    };
    return ckpt_main(argc, argv, tests, (int)(sizeof tests / sizeof tests[0]));
}
