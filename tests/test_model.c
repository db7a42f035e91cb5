/* The engine against the independent double-precision reference (tests/ref.h), and the
   invariants of MODEL.md: selection, pass-through, dense equivalence, causal decoding,
   caches, sessions, sampling. */
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "mkmodel.h"
#include "ref.h"
#include "check.h"
#include <stdio.h>

/* A sampler from its four settings, through a named-field desc. */
static mod_result sampler_init(mod_sampler *sm, float temperature, int top_k, float top_p, uint64_t seed) {
    mod_sampler_desc sd;
    memset(&sd, 0, sizeof sd);
    sd.temperature = temperature;
    sd.top_k = top_k;
    sd.top_p = top_p;
    sd.seed = seed;
    return mod_sampler_init(sm, &sd);
}

/* A session fault: its code, no session, and a message naming the field. */
static void check_session_fault(const mod_model *m, const mod_session_desc *d, mod_result code,
                                const char *field, const char *what) {
    static char sentinel;
    mod_session *t = (mod_session *)(void *)&sentinel; /* create must set it to NULL */
    mod_error e;
    size_t bytes = 0;
    memset(&e, 0, sizeof e);
    {
        mod_result r = mod_session_create(&t, m, d, &e);
        check(r == code && t == NULL && e.code == code && strstr(e.message, field) != NULL,
              "%s: code %d, no session, message names %s (got %d, \"%s\")", what, (int)code, field, (int)r, e.message);
    }
    if (d && d->arena) return; /* the arena is create's business only */
    memset(&e, 0, sizeof e);
    {
        mod_result r = mod_session_memory_required(m, d, &bytes, &e);
        check(r == code && e.code == code && strstr(e.message, field) != NULL,
              "%s: mod_session_memory_required agrees (got %d, \"%s\")", what, (int)r, e.message);
    }
}

typedef struct built {
    unsigned char *buf;
    size_t size;
    mod_model *model;
} built;

static int build(const mkm_opts *o, built *b) {
    mod_error err;
    memset(b, 0, sizeof *b);
    if (mkm_build(o, &b->buf, &b->size) != 0) { printf("mkm_build failed\n"); return -1; }
    if (mod_model_load_memory(&b->model, b->buf, b->size, NULL, &err) != MOD_OK) {
        printf("load failed: %s\n", err.message);
        free(b->buf);
        return -1;
    }
    return 0;
}

static void unbuild(built *b) {
    mod_model_free(b->model);
    free(b->buf);
}

static void make_tokens(int *t, int32_t *t32, int n, int V, unsigned seed) {
    int i;
    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        t[i] = (int)((seed >> 8) % (unsigned)V);
        if (t32) t32[i] = t[i];
    }
}

/* max |a - b| / max |b| over n values */
static double rel_diff(const float *a, const double *b, size_t n) {
    double md = 0, mx = 1e-30;
    size_t i;
    for (i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= md)) md = e; /* NaN propagates as failure */
        if (fabs(b[i]) > mx) mx = fabs(b[i]);
    }
    return md / mx;
}

static double rel_diff_f(const float *a, const float *b, size_t n) {
    double md = 0, mx = 1e-30;
    size_t i;
    for (i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (!(e <= md)) md = e;
        if (fabs((double)b[i]) > mx) mx = fabs((double)b[i]);
    }
    return md / mx;
}

/* ---- engine vs. reference ------------------------------------------------------------ */

typedef struct variant {
    const char *name;
    void (*apply)(mkm_opts *o);
} variant;

static void v_default(mkm_opts *o) { (void)o; }
static void v_mha(mkm_opts *o) { o->n_kv_heads = o->n_heads; }
static void v_mqa(mkm_opts *o) { o->n_kv_heads = 1; }
static void v_bias(mkm_opts *o) { o->qkv_bias = 1; }
static void v_tied(mkm_opts *o) { o->tied = 1; }
static void v_normed(mkm_opts *o) { o->router_input = 1; }
static void v_sigmoid(mkm_opts *o) { o->router_scale = 1; }
static void v_combine_mlp(mkm_opts *o) { o->combine = 1; }
static void v_compacted(mkm_opts *o) { o->positions = 1; }
static void v_pred_mlp(mkm_opts *o) { o->decision = 1; o->predictor_hidden = 12; }
static void v_pred_linear(mkm_opts *o) { o->decision = 1; o->predictor_hidden = 0; o->router_input = 1; }
static void v_no_router_bias(mkm_opts *o) { o->router_bias = 0; o->threshold = 0.3f; }
static void v_capacities(mkm_opts *o) {
    int i;
    for (i = 0; i < o->n_layers; i++) { o->routed[i] = i > 0; o->capacity[i] = 0.1f + 0.3f * (float)i; }
    o->capacity[o->n_layers - 1] = 1.0f;
}
static void v_all_dense(mkm_opts *o) { int i; for (i = 0; i < o->n_layers; i++) o->routed[i] = 0; }
static void v_all_routed(mkm_opts *o) {
    int i;
    for (i = 0; i < o->n_layers; i++) { o->routed[i] = 1; o->capacity[i] = 0.125f; }
    o->combine = 1; o->router_scale = 1; o->positions = 1;
}
static void v_odd_shapes(mkm_opts *o) { o->dim = 36; o->n_heads = 6; o->n_kv_heads = 3; o->hidden_dim = 50; o->rope_theta = 500000.0f; }
static void v_everything(mkm_opts *o) {
    o->qkv_bias = 1; o->tied = 1; o->router_input = 1; o->router_scale = 1; o->combine = 1;
    o->positions = 1; o->decision = 1; o->predictor_hidden = 8; o->n_kv_heads = 1; o->threshold = -0.2f;
}

/* the architecture variants (MODEL.md "Variants"), alone and as the families combine them; the
   default model has dense blocks 0 and 2 and routed blocks 1 and 3 */
static void v_head_dim_wide(mkm_opts *o) { o->head_dim = 12; }          /* H hd 48 > d 32 */
static void v_head_dim_narrow(mkm_opts *o) { o->head_dim = 4; o->n_kv_heads = 1; } /* H hd 16 < d 32 */
static void v_geglu(mkm_opts *o) { o->activation = 1; }
static void v_norm_offset(mkm_opts *o) { o->norm_offset = 1; o->router_input = 1; }
static void v_embed_scale(mkm_opts *o) { o->embed_scale = 5.65625f; o->init_scale = 0.2f; }
static void v_rope_linear(mkm_opts *o) { o->rope_scaling = 1; o->rope_factor = 4.0f; }
/* hd 8, theta 1e4: wavelengths 6.3, 63, 628, 6283 against 64 / 4 = 16 and 64 / 1 = 64, so one
   frequency of each kind: kept, blended, divided */
static void v_rope_llama3(mkm_opts *o) {
    o->rope_scaling = 2; o->rope_factor = 8.0f; o->rope_low_freq_factor = 1.0f; o->rope_high_freq_factor = 4.0f;
    o->rope_original_max_pos = 64;
}
static void v_window(mkm_opts *o) { o->sliding_window = 5; }
static void v_window_routed(mkm_opts *o) {
    int i;
    for (i = 0; i < o->n_layers; i++) { o->routed[i] = 1; o->capacity[i] = 0.5f; }
    o->sliding_window = 3; o->positions = 1;
}
static void v_o_bias(mkm_opts *o) { o->o_bias = 1; }
static void v_mlp_bias(mkm_opts *o) { o->mlp_bias = 1; }
static void v_llama3(mkm_opts *o) { v_rope_llama3(o); o->rope_theta = 500000.0f; o->rope_original_max_pos = 8; o->o_bias = 1; o->qkv_bias = 1; o->mlp_bias = 1; }
static void v_mistral(mkm_opts *o) { o->sliding_window = 7; o->n_kv_heads = 1; }
static void v_qwen2(mkm_opts *o) { o->qkv_bias = 1; o->rope_theta = 1000000.0f; o->tied = 1; }
static void v_gemma(mkm_opts *o) {
    o->head_dim = 16; o->n_kv_heads = 1; o->activation = 1; o->norm_offset = 1; o->embed_scale = 5.65625f;
    o->init_scale = 0.2f; o->tied = 1;
}

static const variant variants[] = {
    { "head_dim 12 (H hd > d)", v_head_dim_wide }, { "head_dim 4 (H hd < d), MQA", v_head_dim_narrow },
    { "GeGLU (gelu_tanh)", v_geglu }, { "norm gains 1 + w, normed router input", v_norm_offset },
    { "embedding scale", v_embed_scale }, { "RoPE linear x4", v_rope_linear }, { "RoPE llama3", v_rope_llama3 },
    { "sliding window 5", v_window }, { "sliding window 3, all routed, compacted", v_window_routed },
    { "attn_o bias", v_o_bias }, { "mlp biases", v_mlp_bias },
    { "family llama 3.1 (llama3 RoPE, all biases)", v_llama3 }, { "family mistral (window 7, MQA)", v_mistral },
    { "family qwen2 (q/k/v biases, tied)", v_qwen2 }, { "family gemma (hd 16, GeGLU, 1 + w, scale, tied)", v_gemma },
    { "default (GQA, residual, identity, delta, absolute, router)", v_default },
    { "MHA", v_mha }, { "MQA", v_mqa }, { "q/k/v biases", v_bias }, { "tied output", v_tied },
    { "normed router input", v_normed }, { "sigmoid gate", v_sigmoid }, { "combine mlp", v_combine_mlp },
    { "compacted positions", v_compacted }, { "predictor MLP", v_pred_mlp },
    { "linear predictor", v_pred_linear }, { "no router bias, threshold 0.3", v_no_router_bias },
    { "per-block capacities", v_capacities }, { "all dense", v_all_dense },
    { "all routed at 12.5%", v_all_routed }, { "odd shapes, theta 5e5", v_odd_shapes },
    { "every knob at once", v_everything },
};

/* One model family, dtype and rule against the reference; returns the relative difference
   (1 when something failed to run). */
/* fixed_routes: router (and predictor) weights 0 with bias 1, so every score is exactly 1 and
   which tokens a block takes cannot depend on rounding */
static double compare_with_reference(size_t vi, int dtype, int rule, uint64_t seed, int threads, int fixed_routes) {
    const int n = 24;
    mkm_opts o;
    built b;
    mod_session *s;
    mod_session_desc d;
    int toks[64], V;
    int32_t t32[64];
    double *ref, e = 1.0;
    float *lg;
    mkm_defaults(&o);
    o.seed = seed;
    variants[vi].apply(&o);
    o.dtype = dtype;
    if (fixed_routes) { o.router_const = 1; o.router_const_bias = 1.0f; }
    if (build(&o, &b)) return 1.0;
    V = mod_model_config(b.model)->vocab_size;
    make_tokens(toks, t32, n, V, (unsigned)(seed * 7 + vi));
    ref = (double *)malloc(sizeof(double) * (size_t)n * V);
    lg = (float *)malloc(sizeof(float) * (size_t)n * V);
    memset(&d, 0, sizeof d);
    d.prompt_routing = rule == 0 ? MOD_ROUTING_TOPK : MOD_ROUTING_CAUSAL;
    d.threads = threads;
    if (ref_forward(b.buf, b.size, toks, n, rule == 0 ? REF_RULE_TOPK : REF_RULE_CAUSAL, 0, 0, 0, ref) == 0 &&
        mod_session_create(&s, b.model, &d, NULL) == MOD_OK) {
        if (mod_prefill(s, t32, n, lg) == MOD_OK) e = rel_diff(lg, ref, (size_t)n * V);
        mod_session_free(s);
    }
    free(ref); free(lg);
    unbuild(&b);
    return e;
}

static void test_against_reference(void) {
    size_t vi;
    int dtype, rule, checks = 0;
    for (vi = 0; vi < sizeof variants / sizeof variants[0]; vi++)
        for (dtype = 0; dtype < 3; dtype++)
            for (rule = 0; rule < 2; rule++) {
                /* the f32 bound of the converter tests; f16/bf16 weights are the same numbers in
                   both implementations, so the same bound holds */
                double e = compare_with_reference(vi, dtype, rule, 100 + vi, 1 + (int)(vi % 2), 0);
                check(e <= 1e-4, "vs reference: %s, dtype %d, %s: rel diff %.3g", variants[vi].name, dtype,
                      rule ? "causal" : "top-k", e);
                checks++;
            }
    printf("reference: %d model/rule/dtype combinations compared\n", checks);
    check_group("engine vs reference");
}

/* q8_0 and q4_0 weights: the reference reads the same quantized weights exactly; the engine
   also quantizes activations to int8 blocks, so the bound is looser: 5% of the largest logit
   (q4_0 weights give the activations the same int8 treatment, so the same bound). A token
   whose router score lay within that error of the selection boundary could be routed
   differently, which moves its logits far more (0.15-0.6 in about one run in ten), so the
   routers here give every token the same score: the choice of tokens is exact, and the
   quantized products are what is compared (routing itself is checked at f32 above). */
static void test_quantized_against_reference(int dtype) {
    const char *name = dtype == MKM_DTYPE_Q8_0 ? "q8_0" : "q4_0";
    size_t vi;
    int rule;
    char what[200];
    for (vi = 0; vi < sizeof variants / sizeof variants[0]; vi += 3)
        for (rule = 0; rule < 2; rule++) {
            double e;
            mkm_opts o;
            mkm_defaults(&o);
            variants[vi].apply(&o);
            o.dtype = dtype;
            if (mkm_check(&o)) continue; /* widths q8_0 and q4_0 cannot take (n_heads x head_dim 48) */
            e = compare_with_reference(vi, dtype, rule, 500 + vi, 1 + (dtype == MKM_DTYPE_Q4_0), 1);
            snprintf(what, sizeof what, "%s vs reference: %s, %s: rel diff %.3g", name, variants[vi].name, rule ? "causal" : "top-k", e);
            check(e <= 5e-2, "%s", what);
            printf("  %s\n", what);
        }
    check_group(dtype == MKM_DTYPE_Q8_0 ? "q8_0 vs reference" : "q4_0 vs reference");
}

/* capacity and threshold overrides reach the computation */
static void test_overrides(void) {
    mkm_opts o;
    built b;
    const int n = 20;
    int toks[32], V, k;
    int32_t t32[32];
    const float caps[] = { 0.05f, 0.3f, 1.0f };
    mkm_defaults(&o);
    o.seed = 9;
    if (build(&o, &b)) { check(0, "%s: the test model builds and loads", __func__); return; }
    V = mod_model_config(b.model)->vocab_size;
    make_tokens(toks, t32, n, V, 3);
    for (k = 0; k < 4; k++) {
        mod_session *s;
        mod_session_desc d;
        double *ref = (double *)malloc(sizeof(double) * (size_t)n * V);
        float *lg = (float *)malloc(sizeof(float) * (size_t)n * V);
        double e;
        memset(&d, 0, sizeof d);
        if (k < 3) {
            d.prompt_routing = MOD_ROUTING_TOPK;
            d.capacity = caps[k];
            ref_forward(b.buf, b.size, toks, n, REF_RULE_TOPK, caps[k], 0, 0, ref);
        } else {
            d.override_threshold = 1;
            d.threshold = -0.7f;
            ref_forward(b.buf, b.size, toks, n, REF_RULE_CAUSAL, 0, 1, -0.7f, ref);
        }
        mod_session_create(&s, b.model, &d, NULL);
        mod_prefill(s, t32, n, lg);
        e = rel_diff(lg, ref, (size_t)n * V);
        if (k < 3) check(e <= 1e-4, "capacity override %g matches the reference: rel diff %.3g", caps[k], e);
        else check(e <= 1e-4, "threshold override -0.7 matches the reference: rel diff %.3g", e);
        mod_session_free(s);
        free(ref); free(lg);
    }
    unbuild(&b);
    check_group("capacity and threshold overrides");
}

/* ---- selection ------------------------------------------------------------------------- */

static void test_topk_selection(void) {
    mkm_opts o;
    built b;
    int n, caseno;
    int32_t t32[64];
    int toks[64];
    /* equal router scores everywhere: ties go to the lower index */
    mkm_defaults(&o);
    o.router_const = 1;
    o.router_const_bias = 0.5f;
    o.seed = 4;
    if (build(&o, &b)) { check(0, "%s: the test model builds and loads", __func__); return; }
    make_tokens(toks, t32, 40, mod_model_config(b.model)->vocab_size, 5);
    for (caseno = 0; caseno < 5; caseno++) {
        const float cap[] = { 0.3f, 0.125f, 1e-6f, 1.0f, 0.5f };
        const int len[] = { 10, 8, 17, 13, 7 };
        const int want[] = { 3, 1, 1, 13, 4 }; /* ceil(c*S - 1e-6), at least 1 */
        mod_session *s;
        mod_session_desc d;
        int count = -1, i, ok;
        const int32_t *pos = NULL;
        memset(&d, 0, sizeof d);
        d.prompt_routing = MOD_ROUTING_TOPK;
        d.capacity = cap[caseno];
        n = len[caseno];
        mod_session_create(&s, b.model, &d, NULL);
        mod_prefill(s, t32, n, NULL);
        mod_session_cache(s, 1, &count, &pos);
        ok = count == want[caseno];
        for (i = 0; ok && i < count; i++) ok = pos[i] == i;
        check(ok, "top-k with ties: c=%g S=%d keeps the first %d tokens (got %d)", cap[caseno], n, want[caseno], count);
        mod_session_free(s);
    }
    unbuild(&b);

    /* distinct scores: the selected set and its order are those of the reference */
    mkm_defaults(&o);
    o.seed = 21;
    o.n_layers = 2;
    o.routed[0] = 1; o.routed[1] = 1;
    o.capacity[0] = 0.3f; o.capacity[1] = 0.6f;
    if (build(&o, &b)) { check(0, "%s: the test model builds and loads", __func__); return; }
    n = 33;
    make_tokens(toks, t32, n, mod_model_config(b.model)->vocab_size, 8);
    {
        unsigned char sel[2 * 64];
        mod_session *s;
        mod_session_desc d;
        int l;
        memset(&d, 0, sizeof d);
        d.prompt_routing = MOD_ROUTING_TOPK;
        ref_selection(b.buf, b.size, toks, n, REF_RULE_TOPK, 0, 0, 0, NULL, sel);
        mod_session_create(&s, b.model, &d, NULL);
        mod_prefill(s, t32, n, NULL);
        for (l = 0; l < 2; l++) {
            int count, i, j = 0, ok = 1;
            const int32_t *pos;
            mod_session_cache(s, l, &count, &pos);
            for (i = 0; i < n; i++)
                if (sel[l * n + i]) { ok = ok && j < count && pos[j] == i; j++; }
            check(ok && j == count && count == (int)ceil((l ? 0.6 : 0.3) * n - 1e-6),
                  "top-k selects the reference's tokens, in ascending order (block %d: %d of %d tokens, reference %d)",
                  l, count, n, j);
        }
        mod_session_free(s);
    }
    unbuild(&b);
    check_group("top-k selection");
}

/* Tokens a routed block skips leave it bit-for-bit unchanged. */
static void test_skipped_unchanged(void) {
    int rule, combine;
    for (rule = 0; rule < 2; rule++)
        for (combine = 0; combine < 2; combine++) {
            mkm_opts o;
            built b;
            mod_session *s;
            mod_session_desc d;
            int toks[32], n = 30, i, skipped = 0, same = 1, changed = 1;
            int32_t t32[32];
            unsigned char sel[32];
            float *emb;
            const mod_config *c;
            mkm_defaults(&o);
            o.seed = 50 + rule;
            o.n_layers = 1;
            o.routed[0] = 1;
            o.capacity[0] = 0.4f;
            o.combine = combine;
            if (build(&o, &b)) { check(0, "%s: the test model builds and loads", __func__); continue; }
            c = mod_model_config(b.model);
            make_tokens(toks, t32, n, c->vocab_size, 11);
            memset(&d, 0, sizeof d);
            d.prompt_routing = rule ? MOD_ROUTING_CAUSAL : MOD_ROUTING_TOPK;
            mod_session_create(&s, b.model, &d, NULL);
            mod_prefill(s, t32, n, NULL);
            ref_selection(b.buf, b.size, toks, n, rule ? REF_RULE_CAUSAL : REF_RULE_TOPK, 0, 0, 0, NULL, sel);
            emb = (float *)malloc(sizeof(float) * (size_t)c->dim);
            for (i = 0; i < n; i++) {
                /* the residual stream after the only block, vs. the token's embedding */
                const float *e = mod__row(&b.model->embed, t32[i], emb);
                int eq = memcmp(s->x + (size_t)i * c->dim, e, sizeof(float) * (size_t)c->dim) == 0;
                if (!sel[i]) { skipped++; same = same && eq; }
                else changed = changed && !eq;
            }
            check(skipped > 0 && same, "%s, combine %d: skipped tokens are bit-for-bit unchanged (%d skipped)",
                  rule ? "causal" : "top-k", combine, skipped);
            check(changed, "%s, combine %d: selected tokens are changed by the block", rule ? "causal" : "top-k", combine);
            free(emb);
            mod_session_free(s);
            unbuild(&b);
        }
    check_group("skipped tokens");
}

/* A routed block that takes every token with gate 1 is the dense block. */
static void test_dense_equivalence(void) {
    int rule;
    for (rule = 0; rule < 2; rule++) {
        mkm_opts o;
        built routed, dense;
        mod_session *s1, *s2;
        mod_session_desc d;
        const int n = 20;
        int toks[32], V;
        int32_t t32[32];
        float *a, *bb;
        double e;
        mkm_defaults(&o);
        o.seed = 77;
        o.router_const = 1;
        o.router_const_bias = 1.0f;
        o.capacity[1] = o.capacity[3] = 1.0f;
        if (build(&o, &routed)) { check(0, "%s: the routed test model builds and loads", __func__); continue; }
        o.routed[1] = o.routed[3] = 0;
        if (build(&o, &dense)) { check(0, "%s: the dense test model builds and loads", __func__); unbuild(&routed); continue; }
        V = mod_model_config(routed.model)->vocab_size;
        make_tokens(toks, t32, n, V, 2);
        a = (float *)malloc(sizeof(float) * (size_t)n * V);
        bb = (float *)malloc(sizeof(float) * (size_t)n * V);
        memset(&d, 0, sizeof d);
        d.prompt_routing = rule ? MOD_ROUTING_CAUSAL : MOD_ROUTING_TOPK;
        mod_session_create(&s1, routed.model, &d, NULL);
        mod_session_create(&s2, dense.model, &d, NULL);
        mod_prefill(s1, t32, n, a);
        mod_prefill(s2, t32, n, bb);
        e = rel_diff_f(a, bb, (size_t)n * V);
        check(e <= 1e-5, "routed block with gate 1 and every token = dense block (%s): %.3g",
              rule ? "causal" : "top-k, capacity 1", e);
        free(a); free(bb);
        mod_session_free(s1); mod_session_free(s2);
        unbuild(&routed); unbuild(&dense);
    }
    check_group("dense equivalence");
}

/* ---- causal decoding ----------------------------------------------------------------- */

static void test_causal_incremental(void) {
    int variant;
    for (variant = 0; variant < 19; variant++) {
        mkm_opts o;
        built b;
        mod_session *all, *one, *chunked = NULL;
        mod_session_desc d;
        const int n = 26;
        int toks[32], V, i, l, caches_ok = 1;
        int32_t t32[32];
        unsigned char *sel;
        float *full, *step;
        double e;
        mkm_defaults(&o);
        o.seed = 300 + variant;
        o.positions = variant & 1;
        o.decision = (variant >> 1) & 1;
        o.predictor_hidden = variant & 4 ? 0 : 10;
        o.n_kv_heads = variant & 4 ? 1 : 2;
        o.qkv_bias = variant & 2 ? 1 : 0;
        if (variant >= 8) {
            /* heads wide enough for the vector attention kernels (72: whole vectors and a
               tail; 128: several groups of four vectors) and an MLP row of more than one
               1024-column chunk */
            o.dim = variant == 8 ? 144 : 256;
            o.n_heads = 2;
            o.n_kv_heads = variant == 8 ? 1 : 2;
            o.hidden_dim = variant == 8 ? 96 : 1100;
        }
        if (variant >= 10) {
            /* q8_0 and q4_0 weights: 4x4 tiles, leftover rows and tokens, decoding tiles */
            o.dtype = variant < 12 ? MKM_DTYPE_Q8_0 : MKM_DTYPE_Q4_0;
            o.dim = variant % 2 ? 64 : 128;
            o.n_heads = 2;
            o.n_kv_heads = variant % 2 ? 1 : 2;
            o.hidden_dim = variant % 2 ? 160 : 96;
        }
        if (variant >= 14) {
            /* sliding windows: a window smaller than a group of four queries and than a key
               block (so the queries of one tile start at different keys), in routed blocks,
               with wide heads on the vector kernels, and every variant at once */
            static const int windows[5] = { 3, 5, 2, 7, 6 };
            o.dtype = MKM_DTYPE_F32;
            o.sliding_window = windows[variant - 14];
            o.dim = 32; o.n_heads = 4; o.n_kv_heads = 2; o.hidden_dim = 64;
            if (variant == 15) { int k; for (k = 0; k < o.n_layers; k++) { o.routed[k] = 1; o.capacity[k] = 0.5f; } }
            if (variant == 16) { o.dim = 256; o.n_heads = 2; o.hidden_dim = 96; }
            if (variant == 17) { o.dim = 144; o.n_heads = 2; o.n_kv_heads = 1; o.head_dim = 72; }
            if (variant == 18) {
                o.head_dim = 24; o.activation = 1; o.norm_offset = 1; o.embed_scale = 2.0f; o.o_bias = 1; o.mlp_bias = 1;
                o.rope_scaling = 2; o.rope_factor = 8.0f; o.rope_low_freq_factor = 1.0f; o.rope_high_freq_factor = 4.0f;
                o.rope_original_max_pos = 32;
            }
        }
        if (build(&o, &b)) { check(0, "%s: the test model builds and loads", __func__); continue; }
        V = mod_model_config(b.model)->vocab_size;
        make_tokens(toks, t32, n, V, (unsigned)variant + 40);
        full = (float *)malloc(sizeof(float) * (size_t)n * V);
        step = (float *)malloc(sizeof(float) * (size_t)n * V);
        sel = (unsigned char *)malloc((size_t)o.n_layers * n);
        memset(&d, 0, sizeof d);
        mod_session_create(&all, b.model, &d, NULL);
        mod_session_create(&one, b.model, &d, NULL);
        mod_prefill(all, t32, n, full);
        for (i = 0; i < n; i++) {
            mod_decode(one, t32[i]);
            memcpy(step + (size_t)i * V, mod_session_logits(one), sizeof(float) * (size_t)V);
        }
        e = rel_diff_f(step, full, (size_t)n * V);
        check(e <= 1e-6, "causal: all at once == one at a time (%s positions, %s, %s, head dim %d): %.3g",
              o.positions ? "compacted" : "absolute",
              o.decision ? (o.predictor_hidden ? "predictor MLP" : "linear predictor") : "router",
              o.n_kv_heads == 1 ? "MQA" : o.n_kv_heads == o.n_heads ? "MHA" : "GQA", o.dim / o.n_heads, e);
        check(memcmp(step, full, sizeof(float) * (size_t)n * V) == 0,
              "causal: all at once and one at a time are bit-identical on one build (head dim %d, dtype %d, window %d)",
              mkm_head_dim(&o), o.dtype, o.sliding_window);
        if (o.sliding_window) {
            /* in chunks of 5 (the window spans chunks), and against the reference */
            float *chunk = (float *)malloc(sizeof(float) * (size_t)n * V);
            double *ref = (double *)malloc(sizeof(double) * (size_t)n * V);
            mod_session_desc dc = d;
            dc.max_batch = 5;
            check(mod_session_create(&chunked, b.model, &dc, NULL) == MOD_OK && mod_prefill(chunked, t32, n, chunk) == MOD_OK &&
                  memcmp(chunk, full, sizeof(float) * (size_t)n * V) == 0,
                  "window %d: a prefill in chunks of 5 is bit-identical too", o.sliding_window);
            check(ref_forward(b.buf, b.size, toks, n, REF_RULE_CAUSAL, 0, 0, 0, ref) == 0 && rel_diff(full, ref, (size_t)n * V) <= 1e-4,
                  "window %d (variant %d): causal logits match the reference (%.3g)", o.sliding_window, variant, rel_diff(full, ref, (size_t)n * V));
            {   /* and the window matters: the same model without it computes something else */
                mkm_opts o2 = o;
                unsigned char *buf2;
                size_t size2;
                o2.sliding_window = 0;
                check(mkm_build(&o2, &buf2, &size2) == 0 && ref_forward(buf2, size2, toks, n, REF_RULE_CAUSAL, 0, 0, 0, ref) == 0 &&
                      rel_diff(full, ref, (size_t)n * V) > 1e-2, "window %d changes the logits (%.3g without it)", o.sliding_window,
                      rel_diff(full, ref, (size_t)n * V));
                free(buf2);
            }
            mod_session_free(chunked);
            free(chunk); free(ref);
        }
        /* the caches hold exactly the tokens the reference says each block processed */
        ref_selection(b.buf, b.size, toks, n, REF_RULE_CAUSAL, 0, 0, 0, NULL, sel);
        for (l = 0; l < o.n_layers; l++) {
            int c1 = -1, c2 = -1, j = 0, k;
            const int32_t *p1 = NULL, *p2 = NULL;
            mod_session_cache(all, l, &c1, &p1);
            mod_session_cache(one, l, &c2, &p2);
            for (k = 0; k < n; k++)
                if (sel[l * n + k]) { caches_ok = caches_ok && j < c1 && j < c2 && p1[j] == k && p2[j] == k; j++; }
            caches_ok = caches_ok && c1 == j && c2 == j;
        }
        check(caches_ok, "causal variant %d: routed caches hold exactly the processed tokens", variant);
        free(full); free(step); free(sel);
        mod_session_free(all); mod_session_free(one);
        unbuild(&b);
    }
    check_group("causal decoding");
}

/* A top-k prompt followed by causal decoding, against the reference's mixed rule. */
static void test_topk_prompt_then_decode(void) {
    mkm_opts o;
    built b;
    mod_session *s;
    mod_session_desc d;
    const int n = 24, np = 16;
    int toks[32], V, i;
    int32_t t32[32];
    double *ref;
    float *lg;
    mkm_defaults(&o);
    o.seed = 808;
    if (build(&o, &b)) { check(0, "%s: the test model builds and loads", __func__); return; }
    V = mod_model_config(b.model)->vocab_size;
    make_tokens(toks, t32, n, V, 99);
    ref = (double *)malloc(sizeof(double) * (size_t)n * V);
    lg = (float *)malloc(sizeof(float) * (size_t)n * V);
    ref_forward_ex(b.buf, b.size, toks, n, REF_RULE_PREFILL, np, 0, 0, 0, ref, NULL);
    memset(&d, 0, sizeof d);
    d.prompt_routing = MOD_ROUTING_TOPK;
    mod_session_create(&s, b.model, &d, NULL);
    mod_prefill(s, t32, np, lg);
    for (i = np; i < n; i++) {
        mod_decode(s, t32[i]);
        memcpy(lg + (size_t)i * V, mod_session_logits(s), sizeof(float) * (size_t)V);
    }
    {
        const double e = rel_diff(lg, ref, (size_t)n * V);
        check(e <= 1e-4, "top-k prompt then causal decoding matches the reference: rel diff %.3g", e);
    }
    free(ref); free(lg);
    mod_session_free(s);
    unbuild(&b);
    check_group("top-k prompt, causal decoding");
}

/* ---- sessions -------------------------------------------------------------------------- */

static void test_sessions(void) {
    mkm_opts o;
    built b;
    mod_session *s, *t;
    mod_session_desc d;
    const int n = 30;
    int toks[40], V;
    int32_t t32[40];
    float *a, *c;
    size_t need;
    unsigned char *arena;
    mod_result r;
    mkm_defaults(&o);
    o.seed = 5;
    o.dim = 64; o.hidden_dim = 96; o.n_heads = 8; o.n_kv_heads = 4; o.max_seq_len = 128;
    if (build(&o, &b)) { check(0, "%s: the test model builds and loads", __func__); return; }
    V = mod_model_config(b.model)->vocab_size;
    make_tokens(toks, t32, n, V, 6);
    a = (float *)malloc(sizeof(float) * (size_t)n * V);
    c = (float *)malloc(sizeof(float) * (size_t)n * V);

    /* thread counts give bit-identical results */
    memset(&d, 0, sizeof d);
    d.threads = 1;
    mod_session_create(&s, b.model, &d, NULL);
    mod_prefill(s, t32, n, a);
    d.threads = 2;
    mod_session_create(&t, b.model, &d, NULL);
    mod_prefill(t, t32, n, c);
    check(memcmp(a, c, sizeof(float) * (size_t)n * V) == 0, "1 and 2 threads: identical logits");
    mod_session_free(t);

    /* reset gives a fresh session */
    mod_session_reset(s);
    mod_prefill(s, t32, n, c);
    check(memcmp(a, c, sizeof(float) * (size_t)n * V) == 0, "reset session reproduces its first run");

    /* a causal prompt split over batches equals one batch */
    memset(&d, 0, sizeof d);
    d.threads = 1;
    d.max_batch = 7;
    mod_session_create(&t, b.model, &d, NULL);
    mod_prefill(t, t32, n, c);
    check(memcmp(a, c, sizeof(float) * (size_t)n * V) == 0, "causal prefill in batches of 7 == one batch");
    d.prompt_routing = MOD_ROUTING_TOPK;
    mod_session_free(t);
    mod_session_create(&t, b.model, &d, NULL);
    check(mod_prefill(t, t32, n, c) == MOD_ERR_BATCH_TOO_LARGE, "top-k prompt larger than the batch is refused");
    check(mod_session_position(t) == 0, "refused prompt leaves the session empty");
    mod_session_free(t);

    /* arena: the reported size is exact and enough */
    memset(&d, 0, sizeof d);
    d.threads = 1;
    d.max_tokens = 40;
    mod_session_memory_required(b.model, &d, &need, NULL);
    arena = (unsigned char *)malloc(need);
    d.arena = arena;
    d.arena_size = need - 1;
    check(mod_session_create(&t, b.model, &d, NULL) == MOD_ERR_OUT_OF_MEMORY, "arena one byte short is refused");
    d.arena_size = need;
    r = mod_session_create(&t, b.model, &d, NULL);
    check(r == MOD_OK, "session in an arena of exactly the reported size");
    if (r == MOD_OK) {
        mod_prefill(t, t32, n, c);
        check(memcmp(a, c, sizeof(float) * (size_t)n * V) == 0, "arena session gives the same logits");
        mod_session_free(t);
    }
    free(arena);

    /* context limits and bad input leave the session usable */
    memset(&d, 0, sizeof d);
    d.max_tokens = 8;
    mod_session_create(&t, b.model, &d, NULL);
    check(mod_prefill(t, t32, 9, NULL) == MOD_ERR_CONTEXT_FULL, "prompt longer than the context: MOD_ERR_CONTEXT_FULL");
    check(mod_prefill(t, t32, 8, NULL) == MOD_OK, "prompt filling the context exactly");
    memcpy(c, mod_session_logits(t), sizeof(float) * (size_t)V);
    check(mod_decode(t, t32[8]) == MOD_ERR_CONTEXT_FULL, "decode into a full context: MOD_ERR_CONTEXT_FULL");
    check(mod_session_position(t) == 8 && memcmp(c, mod_session_logits(t), sizeof(float) * (size_t)V) == 0,
          "a refused decode changes nothing");
    check(strlen(mod_session_error(t)) > 0, "the refusal has a message");
    mod_session_reset(t);
    check(mod_decode(t, -1) == MOD_ERR_BAD_TOKEN && mod_decode(t, V) == MOD_ERR_BAD_TOKEN, "token ids outside the vocabulary");
    check(mod_prefill(t, t32, 0, NULL) == MOD_ERR_INVALID_ARGUMENT && mod_prefill(t, NULL, 3, NULL) == MOD_ERR_INVALID_ARGUMENT,
          "empty prompt and NULL tokens are refused");
    check(mod_session_position(t) == 0 && mod_session_logits(t) == NULL, "nothing ran");
    mod_session_free(t);

    /* a routed block's cache can be reserved smaller; overflowing it undoes the whole call */
    {
        size_t full_bytes, small_bytes;
        int i, pos_before, cnt[8], cnt_after[8], l, same = 1, refused = 0;
        memset(&d, 0, sizeof d);
        d.max_tokens = 40;
        mod_session_memory_required(b.model, &d, &full_bytes, NULL);
        d.routed_cache_tokens = 5;
        mod_session_memory_required(b.model, &d, &small_bytes, NULL);
        check(small_bytes < full_bytes, "smaller routed caches need less memory");
        mod_session_create(&t, b.model, &d, NULL);
        for (i = 0; i < n && !refused; i++) {
            for (l = 0; l < o.n_layers; l++) mod_session_cache(t, l, &cnt[l], NULL);
            pos_before = mod_session_position(t);
            memcpy(c, mod_session_logits(t) ? mod_session_logits(t) : c, sizeof(float) * (size_t)V);
            r = mod_decode(t, t32[i]);
            if (r == MOD_ERR_CONTEXT_FULL) {
                refused = 1;
                for (l = 0; l < o.n_layers; l++) { mod_session_cache(t, l, &cnt_after[l], NULL); same = same && cnt[l] == cnt_after[l]; }
                same = same && mod_session_position(t) == pos_before && memcmp(c, mod_session_logits(t), sizeof(float) * (size_t)V) == 0;
            } else if (r != MOD_OK) break;
        }
        check(refused, "a full routed cache refuses the token");
        check(refused && same, "the refused token changes no cache, position or logits");
        for (l = 0; l < o.n_layers; l++) {
            mod_session_cache(t, l, &cnt[l], NULL);
            if (mod_model_layer_routed(b.model, l) == 1) same = same && cnt[l] == 5;
        }
        check(same, "the full routed cache holds exactly its 5 entries");
        mod_session_free(t);
        memset(&d, 0, sizeof d);
        d.routed_cache_tokens = -1;
        check_session_fault(b.model, &d, MOD_ERR_INVALID_ARGUMENT, "routed_cache_tokens -1", "negative routed cache size refused");
    }

    /* descriptor validation: every fault has its code and a message naming field and value */
    memset(&d, 0, sizeof d);
    d.capacity = 1.5f;
    check_session_fault(b.model, &d, MOD_ERR_INVALID_ARGUMENT, "capacity 1.5", "capacity 1.5 refused");
    d.capacity = -0.1f;
    check_session_fault(b.model, &d, MOD_ERR_INVALID_ARGUMENT, "capacity -0.1", "negative capacity refused");
    d.capacity = (float)NAN;
    check_session_fault(b.model, &d, MOD_ERR_INVALID_ARGUMENT, "capacity nan", "NaN capacity refused");
    memset(&d, 0, sizeof d);
    d.override_threshold = 1;
    d.threshold = (float)INFINITY;
    check_session_fault(b.model, &d, MOD_ERR_NUMERIC, "threshold inf", "infinite threshold refused");
    d.threshold = -(float)INFINITY;
    check_session_fault(b.model, &d, MOD_ERR_NUMERIC, "threshold -inf", "-infinite threshold refused");
    d.threshold = (float)NAN;
    check_session_fault(b.model, &d, MOD_ERR_NUMERIC, "threshold nan", "NaN threshold refused");
    memset(&d, 0, sizeof d);
    d.threads = -1;
    check_session_fault(b.model, &d, MOD_ERR_INVALID_ARGUMENT, "threads -1", "negative threads refused");
    memset(&d, 0, sizeof d);
    d.max_tokens = -5;
    check_session_fault(b.model, &d, MOD_ERR_INVALID_ARGUMENT, "max_tokens -5", "negative max_tokens refused");
    d.max_tokens = (1 << 24) + 1;
    check_session_fault(b.model, &d, MOD_ERR_INVALID_ARGUMENT, "max_tokens 16777217", "max_tokens above 2^24 refused");
    memset(&d, 0, sizeof d);
    d.max_batch = -2;
    check_session_fault(b.model, &d, MOD_ERR_INVALID_ARGUMENT, "max_batch -2", "negative max_batch refused");
    memset(&d, 0, sizeof d);
    d.prompt_routing = (mod_routing)7;
    check_session_fault(b.model, &d, MOD_ERR_INVALID_ARGUMENT, "prompt_routing 7", "unknown routing refused");
    check_session_fault(NULL, NULL, MOD_ERR_INVALID_ARGUMENT, "model", "NULL model refused");
    {
        mod_error e;
        size_t need = 0;
        memset(&e, 0, sizeof e);
        check(mod_session_create(NULL, b.model, NULL, &e) == MOD_ERR_INVALID_ARGUMENT && e.code == MOD_ERR_INVALID_ARGUMENT &&
                  strstr(e.message, "session") != NULL,
              "NULL session pointer refused with a message");
        memset(&e, 0, sizeof e);
        check(mod_session_memory_required(b.model, NULL, NULL, &e) == MOD_ERR_INVALID_ARGUMENT &&
                  strstr(e.message, "bytes") != NULL,
              "NULL bytes refused with a message");
        /* a short arena names both sizes */
        memset(&d, 0, sizeof d);
        d.max_tokens = 16;
        d.threads = 1;
        if (mod_session_memory_required(b.model, &d, &need, NULL) == MOD_OK) {
            char want[120];
            unsigned char *ar = (unsigned char *)malloc(need);
            mod_session *t2 = NULL;
            d.arena = ar;
            d.arena_size = need - 1;
            memset(&e, 0, sizeof e);
            snprintf(want, sizeof want, "arena is %lu bytes, %lu needed", (unsigned long)(need - 1), (unsigned long)need);
            check(mod_session_create(&t2, b.model, &d, &e) == MOD_ERR_OUT_OF_MEMORY && t2 == NULL &&
                      e.code == MOD_ERR_OUT_OF_MEMORY && strcmp(e.message, want) == 0,
                  "short arena: MOD_ERR_OUT_OF_MEMORY, \"arena is X bytes, Y needed\"");
            d.arena_size = need;
            check(mod_session_create(&t2, b.model, &d, NULL) == MOD_OK && t2 != NULL, "err may be NULL");
            mod_session_free(t2);
            free(ar);
        } else {
            check(0, "mod_session_memory_required of a valid desc");
        }
    }

    /* statistics */
    {
        mod_block_stats st, all;
        int l, ok = 1;
        double sum = 0;
        mod_session_reset(s);
        mod_prefill(s, t32, n, NULL);
        for (l = 0; l < o.n_layers; l++) {
            mod_session_stats(s, l, &st);
            sum += st.flops;
            if (st.routed) ok = ok && st.tokens_seen == (uint64_t)n && st.tokens_processed < (uint64_t)n && st.flops < st.flops_dense;
            else ok = ok && st.tokens_processed == (uint64_t)n && st.flops == st.flops_dense && st.kv_entries == n;
        }
        mod_session_stats(s, -1, &all);
        check(ok, "per-block statistics: routed blocks process and spend less, dense blocks all");
        check(all.flops > sum && all.flops < all.flops_dense, "model statistics add the blocks and the output");
        check(mod_session_stats(s, o.n_layers, &st) == MOD_ERR_INVALID_ARGUMENT, "stats of a missing layer refused");
    }
    mod_session_free(s);
    free(a); free(c);
    unbuild(&b);
    check_group("sessions");
}

/* ---- sampling -------------------------------------------------------------------------- */

static void test_sampling(void) {
    mkm_opts o;
    built b;
    mod_session *s;
    mod_session_desc d;
    mod_sampler sm;
    int32_t t32[4] = { 1, 2, 3, 4 }, tok, seq1[64], seq2[64], seq3[64];
    int V, i, best = 0, ok;
    float *lg;
    mkm_defaults(&o);
    o.seed = 31;
    o.init_scale = 0.3f;
    if (build(&o, &b)) { check(0, "%s: the test model builds and loads", __func__); return; }
    V = mod_model_config(b.model)->vocab_size;
    memset(&d, 0, sizeof d);
    mod_session_create(&s, b.model, &d, NULL);
    sampler_init(&sm, 0.0f, 0, 1.0f, 1);
    check(mod_sample(s, &sm, &tok) == MOD_ERR_INVALID_ARGUMENT, "sampling before any token is refused");
    mod_prefill(s, t32, 4, NULL);
    lg = s->logits;
    for (i = 1; i < V; i++) if (lg[i] > lg[best]) best = i;
    check(mod_sample(s, &sm, &tok) == MOD_OK && tok == best, "temperature 0 is the argmax");
    sampler_init(&sm, 1.0f, 1, 1.0f, 123);
    check(mod_sample(s, &sm, &tok) == MOD_OK && tok == best, "top-k 1 is the argmax");

    /* reproducible from the seed, and the seed matters */
    sampler_init(&sm, 1.0f, 0, 1.0f, 42);
    for (i = 0; i < 64; i++) mod_sample(s, &sm, &seq1[i]);
    sampler_init(&sm, 1.0f, 0, 1.0f, 42);
    for (i = 0; i < 64; i++) mod_sample(s, &sm, &seq2[i]);
    sampler_init(&sm, 1.0f, 0, 1.0f, 43);
    for (i = 0; i < 64; i++) mod_sample(s, &sm, &seq3[i]);
    check(memcmp(seq1, seq2, sizeof seq1) == 0, "same seed, same tokens");
    check(memcmp(seq1, seq3, sizeof seq1) != 0, "another seed, other tokens");

    /* frequencies follow softmax(logits / T); support limited by top-k and top-p */
    {
        const int draws = 60000;
        const float T = 0.7f;
        double *p = (double *)calloc((size_t)V, sizeof(double)), sum = 0, mx = lg[best], worst = 0;
        int *count = (int *)calloc((size_t)V, sizeof(int));
        for (i = 0; i < V; i++) { p[i] = exp(((double)lg[i] - mx) / T); sum += p[i]; }
        sampler_init(&sm, T, 0, 1.0f, 7);
        for (i = 0; i < draws; i++) { mod_sample(s, &sm, &tok); count[tok]++; }
        for (i = 0; i < V; i++) {
            double e = p[i] / sum * draws, sd = sqrt(e + 1.0);
            double z = fabs(count[i] - e) / sd;
            if (z > worst) worst = z;
        }
        check(worst < 5.5, "sample frequencies agree with softmax(logits / T) (max z %.2f < 5.5)", worst);

        /* top-k 5: only the 5 most likely ids appear */
        {
            int order[8], k, j;
            for (k = 0; k < 5; k++) {
                int bi = -1;
                for (j = 0; j < V; j++) {
                    int used = 0, m;
                    for (m = 0; m < k; m++) used |= order[m] == j;
                    if (!used && (bi < 0 || lg[j] > lg[bi])) bi = j;
                }
                order[k] = bi;
            }
            sampler_init(&sm, 1.5f, 5, 1.0f, 8);
            ok = 1;
            for (i = 0; i < 4000; i++) {
                int in = 0;
                mod_sample(s, &sm, &tok);
                for (k = 0; k < 5; k++) in |= tok == order[k];
                ok = ok && in;
            }
            check(ok, "top-k 5 samples only the 5 most likely tokens");
        }
        /* top-p: only tokens inside the smallest set with mass >= p (computed here by sorting) */
        {
            double *sorted = (double *)malloc(sizeof(double) * (size_t)V), acc = 0, cut;
            int j, m;
            const float pp = 0.5f;
            for (j = 0; j < V; j++) sorted[j] = p[j] / sum;
            for (j = 1; j < V; j++)
                for (m = j; m > 0 && sorted[m] > sorted[m - 1]; m--) { double t = sorted[m]; sorted[m] = sorted[m - 1]; sorted[m - 1] = t; }
            for (j = 0; j < V; j++) { acc += sorted[j]; if (acc >= pp) break; }
            cut = sorted[j < V ? j : V - 1];
            sampler_init(&sm, T, 0, pp, 9);
            ok = 1;
            for (i = 0; i < 4000; i++) {
                mod_sample(s, &sm, &tok);
                ok = ok && p[tok] / sum >= cut * (1 - 1e-5);
            }
            check(ok, "top-p 0.5 samples only inside the nucleus");
            free(sorted);
        }
        free(p); free(count);
    }
    /* invalid settings: mod_sampler_init refuses them, and so does mod_sample afterwards */
    check(sampler_init(&sm, -1.0f, 0, 1.0f, 1) == MOD_ERR_INVALID_ARGUMENT &&
              mod_sample(s, &sm, &tok) == MOD_ERR_INVALID_ARGUMENT, "negative temperature refused");
    check(sampler_init(&sm, (float)NAN, 0, 1.0f, 1) == MOD_ERR_INVALID_ARGUMENT &&
              mod_sample(s, &sm, &tok) == MOD_ERR_INVALID_ARGUMENT, "NaN temperature refused");
    check(sampler_init(&sm, (float)INFINITY, 0, 1.0f, 1) == MOD_ERR_INVALID_ARGUMENT &&
              mod_sample(s, &sm, &tok) == MOD_ERR_INVALID_ARGUMENT, "infinite temperature refused");
    check(sampler_init(&sm, 1.0f, 0, 1.5f, 1) == MOD_ERR_INVALID_ARGUMENT &&
              mod_sample(s, &sm, &tok) == MOD_ERR_INVALID_ARGUMENT, "top-p 1.5 refused");
    check(sampler_init(&sm, 1.0f, 0, -0.1f, 1) == MOD_ERR_INVALID_ARGUMENT &&
              mod_sample(s, &sm, &tok) == MOD_ERR_INVALID_ARGUMENT, "negative top-p refused");
    check(sampler_init(&sm, 1.0f, 0, (float)NAN, 1) == MOD_ERR_INVALID_ARGUMENT &&
              mod_sample(s, &sm, &tok) == MOD_ERR_INVALID_ARGUMENT, "NaN top-p refused");
    check(sampler_init(&sm, 1.0f, -3, 1.0f, 1) == MOD_ERR_INVALID_ARGUMENT &&
              mod_sample(s, &sm, &tok) == MOD_ERR_INVALID_ARGUMENT, "negative top-k refused");
    check(mod_sampler_init(NULL, NULL) == MOD_ERR_INVALID_ARGUMENT, "NULL sampler refused");
    /* a zero desc and a NULL desc are greedy; top-p 0 is off, like 1 */
    {
        mod_sampler_desc zd;
        memset(&zd, 0, sizeof zd);
        check(mod_sampler_init(&sm, &zd) == MOD_OK && mod_sample(s, &sm, &tok) == MOD_OK && tok == best,
              "a zero-initialised desc is greedy");
        check(mod_sampler_init(&sm, NULL) == MOD_OK && mod_sample(s, &sm, &tok) == MOD_OK && tok == best,
              "a NULL desc is greedy");
        sampler_init(&sm, 1.0f, 0, 0.0f, 42);
        for (i = 0; i < 64; i++) mod_sample(s, &sm, &seq2[i]);
        check(memcmp(seq1, seq2, sizeof seq1) == 0, "top-p 0 samples as top-p 1");
    }
    mod_session_free(s);
    unbuild(&b);
    check_group("sampling");
}

/* ---- f16 KV cache --------------------------------------------------------------------- */

/* An f16 cache: against the reference that rounds keys and values to f16 at the bound of the
   f32 cache against the plain reference, against the f32 cache within what f16 rounding
   allows, prefill == decoding and 1 == 2 threads bit for bit, over more positions than one
   conversion chunk (MOD__KV_CHUNK) and with sliding windows, routed blocks, MQA, heads wide
   enough for the vector kernels. */
/* What every KV cache type keeps, against the logits e of one prefill with desc d: token-by-
   token decoding and prefill in batches of 9 give e bit for bit (causal rule only: top-k
   chooses over the whole call), so do 2 threads, and (variant 0) a session in a caller arena
   of exactly need bytes. c is scratch of n x vocab floats. */
static void kv_invariants(const mod_model *model, mod_session_desc d, const int32_t *t32, int n, const float *e, float *c,
                          size_t need, const char *kv, int variant, int rule) {
    const size_t bytes = sizeof(float) * (size_t)n * (size_t)mod_model_config(model)->vocab_size;
    const int V = mod_model_config(model)->vocab_size;
    mod_session *s = NULL;
    int i;
    if (rule == 1) {
        check(mod_session_create(&s, model, &d, NULL) == MOD_OK, "%s decoding session", kv);
        for (i = 0; i < n && s; i++) {
            mod_decode(s, t32[i]);
            memcpy(c + (size_t)i * V, mod_session_logits(s), sizeof(float) * (size_t)V);
        }
        check(s && memcmp(c, e, bytes) == 0, "variant %d: %s cache: prefill == one at a time, bit for bit", variant, kv);
        mod_session_free(s); s = NULL;
        d.max_batch = 9;
        check(mod_session_create(&s, model, &d, NULL) == MOD_OK && mod_prefill(s, t32, n, c) == MOD_OK &&
              memcmp(c, e, bytes) == 0, "variant %d: %s cache: prefill in batches of 9, bit for bit", variant, kv);
        mod_session_free(s); s = NULL;
        d.max_batch = 0;
    }
    if (variant == 0) { /* in a caller arena of exactly the reported size, as without an allocator */
        unsigned char *arena = (unsigned char *)malloc(need);
        d.arena = arena; d.arena_size = need;
        check(arena && mod_session_create(&s, model, &d, NULL) == MOD_OK && mod_prefill(s, t32, n, c) == MOD_OK &&
              memcmp(c, e, bytes) == 0, "%s cache in an arena of mod_session_memory_required bytes: same logits", kv);
        mod_session_free(s); s = NULL;
        free(arena);
        d.arena = NULL; d.arena_size = 0;
    }
    d.threads = 2;
    check(mod_session_create(&s, model, &d, NULL) == MOD_OK && mod_prefill(s, t32, n, c) == MOD_OK &&
          memcmp(c, e, bytes) == 0, "variant %d: %s cache: 2 threads == 1, bit for bit", variant, kv);
    mod_session_free(s);
}

static void test_kv_f16(void) {
    int variant;
    for (variant = 0; variant < 6; variant++) {
        mkm_opts o;
        built b;
        mod_session *f16 = NULL, *f32 = NULL;
        mod_session_desc d;
        const int n = variant < 3 ? 2 * MOD__KV_CHUNK + 37 : 40;
        int *toks, V, rule = variant == 1 ? 0 : 1;
        int32_t *t32;
        float *a, *c, *e16;
        double *ref, *ref32, e_ref = 0, e_ref32 = 0, e32;
        size_t need16, need32;
        mkm_defaults(&o);
        o.seed = 700 + variant;
        o.max_seq_len = n;
        if (variant == 0) { o.dim = 128; o.n_heads = 2; o.n_kv_heads = 1; o.hidden_dim = 64; }   /* head dim 64, MQA */
        if (variant == 1) { o.dim = 144; o.n_heads = 2; o.n_kv_heads = 2; o.hidden_dim = 64; }   /* 72: vectors and a tail; top-k */
        if (variant == 2) { o.sliding_window = 150; o.n_kv_heads = 2; }                          /* a window across chunks */
        if (variant == 3) { int k; for (k = 0; k < o.n_layers; k++) { o.routed[k] = 1; o.capacity[k] = 0.5f; } o.positions = 1; }
        if (variant == 4) { o.sliding_window = 5; o.dim = 256; o.n_heads = 2; o.hidden_dim = 96; }
        if (variant == 5) { o.dtype = MKM_DTYPE_Q8_0; o.dim = 64; o.n_heads = 2; o.hidden_dim = 96; }
        if (build(&o, &b)) { check(0, "%s: the test model builds and loads", __func__); continue; }
        V = mod_model_config(b.model)->vocab_size;
        toks = (int *)malloc(sizeof(int) * (size_t)n);
        t32 = (int32_t *)malloc(sizeof(int32_t) * (size_t)n);
        a = (float *)malloc(sizeof(float) * (size_t)n * V);
        c = (float *)malloc(sizeof(float) * (size_t)n * V);
        e16 = (float *)malloc(sizeof(float) * (size_t)n * V);
        ref = (double *)malloc(sizeof(double) * (size_t)n * V);
        ref32 = (double *)malloc(sizeof(double) * (size_t)n * V);
        make_tokens(toks, t32, n, V, (unsigned)variant + 90);
        memset(&d, 0, sizeof d);
        d.prompt_routing = rule == 0 ? MOD_ROUTING_TOPK : MOD_ROUTING_CAUSAL;
        d.threads = 1;
        mod_session_memory_required(b.model, &d, &need32, NULL);
        check(mod_session_create(&f32, b.model, &d, NULL) == MOD_OK && mod_prefill(f32, t32, n, a) == MOD_OK, "f32 cache runs");
        d.kv_dtype = MOD_KV_F16;
        mod_session_memory_required(b.model, &d, &need16, NULL);
        check(mod_session_create(&f16, b.model, &d, NULL) == MOD_OK && mod_prefill(f16, t32, n, e16) == MOD_OK, "f16 cache runs");
        {   /* the caches' share of the session halves (less the conversion buffer) */
            const mod_config *cf = mod_model_config(b.model);
            const double kv32 = 2.0 * 4.0 * cf->n_layers * (double)mod__kb_round((size_t)n) * cf->n_kv_heads * cf->head_dim;
            check(fabs((double)need32 - (double)need16 - (kv32 / 2 - 4.0 * MOD__KV_CHUNK * cf->head_dim)) <= 2.0 * MOD__ALIGN * cf->n_layers + MOD__ALIGN,
                  "variant %d: memory_required drops by half the f32 caches (%.0f of %.0f bytes)", variant,
                  (double)need32 - (double)need16, kv32 / 2);
        }
        e32 = rel_diff_f(e16, a, (size_t)n * V);
        if (o.dtype == MKM_DTYPE_F32) {
            check(ref_forward_kv16(b.buf, b.size, toks, n, rule == 0 ? REF_RULE_TOPK : REF_RULE_CAUSAL, ref) == 0 &&
                  ref_forward(b.buf, b.size, toks, n, rule == 0 ? REF_RULE_TOPK : REF_RULE_CAUSAL, 0, 0, 0, ref32) == 0, "references run");
            e_ref = rel_diff(e16, ref, (size_t)n * V);
            e_ref32 = rel_diff(e16, ref32, (size_t)n * V);
            /* the f32 bound, plus room for a few elements that the engine's f32 key and the
               reference's double key round to neighbouring f16 values (one f16 step, 2^-11 of the
               element, where the two lie either side of a midpoint): 1e-4 to 1.1e-4 seen on the
               scalar and AVX2 builds, 2e-5 to 6e-5 elsewhere */
            check(e_ref <= 2e-4, "variant %d: f16 cache vs the reference rounding K/V to f16: %.3g (bound 2e-4)", variant, e_ref);
            /* and the rounding is what it models: the plain reference is farther away */
            check(e_ref32 > 2 * e_ref, "variant %d: the unrounded reference differs more (%.3g)", variant, e_ref32);
        }
        /* f16 keeps 11 significant bits; with int8 activations (q8_0) a small change can move a
           value to the next int8 step, so the bound there is that of q8_0 against the reference */
        if (o.dtype == MKM_DTYPE_F32)
            check(e32 > 0 && e32 <= 5e-3, "variant %d: f16 cache vs f32 cache: rel diff %.3g (bound 5e-3)", variant, e32);
        else
            check(e32 > 0 && e32 <= 5e-2, "variant %d (q8_0 weights): f16 cache vs f32 cache: rel diff %.3g (bound 5e-2)", variant, e32);
        if (o.dtype == MKM_DTYPE_F32)
            printf("f16 KV cache, variant %d (%d tokens): vs f32 cache %.3g, vs reference with K/V rounded %.3g, unrounded %.3g\n",
                   variant, n, e32, e_ref, e_ref32);
        kv_invariants(b.model, d, t32, n, e16, c, need16, "f16", variant, rule);
        mod_session_free(f16); mod_session_free(f32);
        free(toks); free(t32); free(a); free(c); free(e16); free(ref); free(ref32);
        unbuild(&b);
    }
    {   /* a bad kv_dtype is refused by name */
        mkm_opts o;
        built b;
        mod_session_desc d;
        mkm_defaults(&o);
        if (build(&o, &b) == 0) {
            memset(&d, 0, sizeof d);
            d.kv_dtype = (mod_kv_dtype)7;
            check_session_fault(b.model, &d, MOD_ERR_INVALID_ARGUMENT, "kv_dtype", "kv_dtype 7 refused");
            d.kv_dtype = (mod_kv_dtype)(MOD_KV_Q8_0 + 1);
            check_session_fault(b.model, &d, MOD_ERR_INVALID_ARGUMENT, "kv_dtype", "kv_dtype past MOD_KV_Q8_0 refused");
            d.kv_dtype = (mod_kv_dtype)-1;
            check_session_fault(b.model, &d, MOD_ERR_INVALID_ARGUMENT, "kv_dtype", "kv_dtype -1 refused");
            unbuild(&b);
        }
    }
    check_group("f16 KV cache");
}

/* ---- q8_0 KV cache -------------------------------------------------------------------- */

/* A q8_0 cache: against the double-precision reference that rounds keys (after RoPE) and
   values to q8_0 blocks as docs/MODEL.md specifies (ref_forward_kvq8), closer than the plain
   reference; against the f32 cache within what the rounding allows; memory_required drops by
   the caches' share; prefill == decoding one token at a time, prefill in batches and 1 == 2
   threads bit for bit; in an arena of the reported size. Over more positions than one
   conversion chunk, with head sizes of 64, 72 (a last block of 8), 8 (one short block), a
   sliding window, routed blocks (causal and top-k prompts), MQA and q8_0 weights. */
#define Q8_REF_BOUND 1e-3
static void test_kv_q8(void) {
    int variant;
    for (variant = 0; variant < 6; variant++) {
        mkm_opts o;
        built b;
        mod_session *q8 = NULL, *f32 = NULL;
        mod_session_desc d;
        const int n = variant < 3 ? 2 * MOD__KV_CHUNK + 37 : 40;
        int *toks, V, rule = variant == 1 || variant == 4 ? 0 : 1;
        int32_t *t32;
        float *a, *c, *e8;
        double *ref, *ref32, e_ref = 0, e_ref32 = 0, e32;
        size_t need8, need32;
        mkm_defaults(&o);
        o.seed = 900 + variant;
        o.max_seq_len = n;
        if (variant == 0) { o.dim = 128; o.n_heads = 2; o.n_kv_heads = 1; o.hidden_dim = 64; }   /* head dim 64, MQA */
        if (variant == 1) { o.dim = 144; o.n_heads = 2; o.n_kv_heads = 2; o.hidden_dim = 64; }   /* 72: a last block of 8; top-k */
        if (variant == 2) { o.sliding_window = 150; o.n_kv_heads = 2; }                          /* head dim 8, a window across chunks */
        if (variant == 3) { int k; for (k = 0; k < o.n_layers; k++) { o.routed[k] = 1; o.capacity[k] = 0.5f; } o.positions = 1; }
        if (variant == 4) { o.dim = 128; o.n_heads = 2; o.hidden_dim = 96; }                     /* routed blocks, top-k prompt */
        if (variant == 5) { o.dtype = MKM_DTYPE_Q8_0; o.dim = 64; o.n_heads = 2; o.hidden_dim = 96; }
        if (build(&o, &b)) { check(0, "%s: the test model builds and loads", __func__); continue; }
        V = mod_model_config(b.model)->vocab_size;
        toks = (int *)malloc(sizeof(int) * (size_t)n);
        t32 = (int32_t *)malloc(sizeof(int32_t) * (size_t)n);
        a = (float *)malloc(sizeof(float) * (size_t)n * V);
        c = (float *)malloc(sizeof(float) * (size_t)n * V);
        e8 = (float *)malloc(sizeof(float) * (size_t)n * V);
        ref = (double *)malloc(sizeof(double) * (size_t)n * V);
        ref32 = (double *)malloc(sizeof(double) * (size_t)n * V);
        make_tokens(toks, t32, n, V, (unsigned)variant + 190);
        memset(&d, 0, sizeof d);
        d.prompt_routing = rule == 0 ? MOD_ROUTING_TOPK : MOD_ROUTING_CAUSAL;
        d.threads = 1;
        mod_session_memory_required(b.model, &d, &need32, NULL);
        check(mod_session_create(&f32, b.model, &d, NULL) == MOD_OK && mod_prefill(f32, t32, n, a) == MOD_OK, "f32 cache runs");
        d.kv_dtype = MOD_KV_Q8_0;
        mod_session_memory_required(b.model, &d, &need8, NULL);
        check(mod_session_create(&q8, b.model, &d, NULL) == MOD_OK && mod_prefill(q8, t32, n, e8) == MOD_OK, "q8_0 cache runs");
        {   /* the caches take (head_dim + 2 ceil(head_dim / 32)) bytes per head_dim f32, plus the conversion buffer */
            const mod_config *cf = mod_model_config(b.model);
            const double hd = cf->head_dim, per = (hd + 2.0 * ceil(hd / 32)) / (4.0 * hd);
            const double kv32 = 2.0 * 4.0 * cf->n_layers * (double)mod__kb_round((size_t)n) * cf->n_kv_heads * cf->head_dim;
            const double want = kv32 * (1.0 - per) - 4.0 * MOD__KV_CHUNK * hd;
            check(fabs((double)need32 - (double)need8 - want) <= 4.0 * MOD__ALIGN * cf->n_layers + MOD__ALIGN,
                  "variant %d: memory_required drops by the caches' share (%.0f bytes, %.0f expected)", variant,
                  (double)need32 - (double)need8, want);
        }
        e32 = rel_diff_f(e8, a, (size_t)n * V);
        if (o.dtype == MKM_DTYPE_F32) {
            check(ref_forward_kvq8(b.buf, b.size, toks, n, rule == 0 ? REF_RULE_TOPK : REF_RULE_CAUSAL, ref) == 0 &&
                  ref_forward(b.buf, b.size, toks, n, rule == 0 ? REF_RULE_TOPK : REF_RULE_CAUSAL, 0, 0, 0, ref32) == 0, "references run");
            e_ref = rel_diff(e8, ref, (size_t)n * V);
            e_ref32 = rel_diff(e8, ref32, (size_t)n * V);
            check(e_ref <= Q8_REF_BOUND, "variant %d: q8_0 cache vs the reference rounding K/V to q8_0: %.3g (bound %g)", variant,
                  e_ref, Q8_REF_BOUND);
            check(e_ref32 > 2 * e_ref, "variant %d: the unrounded reference differs more (%.3g)", variant, e_ref32);
            /* with a top-k prompt the rounding can move a token across the routers' cut, which
               moves the logits by more than any bound on the rounding (variant 1: 0.097, where
               the reference that rounds alike agrees within 4e-4) */
            check(e32 > 0 && (rule == 0 || e32 <= 5e-2), "variant %d: q8_0 cache vs f32 cache: rel diff %.3g (bound 5e-2, causal)", variant, e32);
            printf("q8_0 KV cache, variant %d (%d tokens): vs f32 cache %.3g, vs reference with K/V rounded %.3g, unrounded %.3g\n",
                   variant, n, e32, e_ref, e_ref32);
        } else
            check(e32 > 0 && e32 <= 1e-1, "variant %d (q8_0 weights): q8_0 cache vs f32 cache: rel diff %.3g (bound 1e-1)", variant, e32);
        kv_invariants(b.model, d, t32, n, e8, c, need8, "q8_0", variant, rule);
        mod_session_free(q8); mod_session_free(f32);
        free(toks); free(t32); free(a); free(c); free(e8); free(ref); free(ref32);
        unbuild(&b);
    }
    check_group("q8_0 KV cache");
}

/* The f32 -> f16 rounding against the reference's: every f16 back to itself, and the values
   halfway between neighbours (and just either side) to nearest, ties to even. */
static void test_f16_rounding(void) {
    uint32_t h;
    int bad = 0, ties = 0;
    for (h = 0; h < 0x7c00u; h++) { /* finite, nonnegative */
        const float f = mod__f16_to_f32((uint16_t)h);
        if (mod__f32_to_f16(f) != h || mod__f32_to_f16(-f) != (h | 0x8000u)) bad++;
        {
            const double lo = (double)f, hi = h + 1 < 0x7c00u ? (double)mod__f16_to_f32((uint16_t)(h + 1)) : 65536.0;
            const float mid = (float)((lo + hi) / 2); /* exact: 12 significant bits */
            float below = mid, above = mid;
            uint32_t u;
            memcpy(&u, &mid, 4); u--; memcpy(&below, &u, 4); u += 2; memcpy(&above, &u, 4);
            if ((double)mod__f16_to_f32(mod__f32_to_f16(mid)) != ref__round_f16((double)mid) && !(mid >= 65520.0f)) bad++;
            if ((double)mod__f16_to_f32(mod__f32_to_f16(below)) != ref__round_f16((double)below)) bad++;
            if (h + 1 < 0x7bffu && (double)mod__f16_to_f32(mod__f32_to_f16(above)) != ref__round_f16((double)above)) bad++;
            if (mod__f32_to_f16(mid) == (((h & 1u) ? h + 1 : h))) ties++;
        }
    }
    check(bad == 0, "f32 -> f16: every f16 round-trips, neighbours' midpoints round as the reference does (%d wrong)", bad);
    check(ties == 0x7c00, "f32 -> f16: halfway cases go to the even neighbour (%d of %d)", ties, 0x7c00);
    check(mod__f32_to_f16(65520.0f) == 0x7c00u && mod__f32_to_f16(65519.99f) == 0x7bffu && mod__f32_to_f16(1e30f) == 0x7c00u &&
          mod__f32_to_f16(-1e30f) == 0xfc00u, "f32 -> f16: past 65504 by half an ulp is infinity");
    {
        float nan_pos = (float)NAN, nan_neg;
        uint32_t u;
        memcpy(&u, &nan_pos, 4); u &= 0x7fffffffu; memcpy(&nan_pos, &u, 4); u |= 0x80000000u; memcpy(&nan_neg, &u, 4);
        check(mod__f32_to_f16(nan_pos) > 0x7c00u && mod__f32_to_f16(nan_pos) < 0x8000u && mod__f32_to_f16(nan_neg) > 0xfc00u,
              "f32 -> f16: NaN stays NaN, with its sign");
    }
    check(mod__f32_to_f16(1e-9f) == 0 && mod__f32_to_f16(3e-8f) == 1, "f32 -> f16: below half the least subnormal is 0");
    check_group("f32 -> f16 rounding");
}

/* The default thread count follows the documented rule (mod_session_desc.threads): one thread
   per 8 million multiply-adds of a token's dense work, counted here from the shapes, at least
   one, at most omp_get_max_threads(); explicit threads are kept. A default session that runs
   calls on one thread and on all (it tries the other mode on its second call) decodes exactly
   as a one-thread session does, and one that runs the blocks of its prompts on one thread and
   on all (paced block by block) prefills exactly as a one-thread session does. */
static void test_default_threads(void) {
    static const int dims[2] = { 64, 512 };
    int k, most = 1, forced = 1; /* without OpenMP every session runs on the calling thread */
#ifdef _OPENMP
    forced = 3;
    const int before = omp_get_max_threads();
    omp_set_num_threads(4); /* the rule's cap, the same on any machine */
    most = omp_get_max_threads();
#endif
    for (k = 0; k < 2; k++) {
        mkm_opts o;
        built b;
        mod_session_desc d;
        mod_session *s = NULL, *t = NULL;
        double work;
        int expect, kvd, i, same = 1, n = 0;
        mkm_defaults(&o);
        o.seed = 11;
        o.dim = dims[k]; o.n_heads = 8; o.n_kv_heads = 4; o.n_layers = 2; o.max_seq_len = 64;
        o.hidden_dim = 2 * dims[k]; o.vocab_size = k ? 32000 : 300;
        o.dtype = MKM_DTYPE_F16;
        if (build(&o, &b)) { check(0, "%s: the test model builds and loads", __func__); return; }
        kvd = o.dim / o.n_heads * o.n_kv_heads;
        work = (double)o.n_layers * ((double)o.dim * o.dim * 2 + 2.0 * o.dim * kvd + 3.0 * o.dim * o.hidden_dim) +
               (double)o.vocab_size * o.dim;
        expect = work < 8e6 ? 1 : work / 8e6 >= most ? most : (int)(work / 8e6);
        if (mod_session_create(&s, b.model, NULL, NULL) != MOD_OK) s = NULL;
        check(s && mod_session_threads(s) == expect,
              "%.1fM multiply-adds a token, at most %d threads: default %d threads (the rule: %d)", work / 1e6, most,
              s ? mod_session_threads(s) : -1, expect);
        memset(&d, 0, sizeof d);
        d.threads = 3;
        if (mod_session_create(&t, b.model, &d, NULL) != MOD_OK) t = NULL;
        check(t && mod_session_threads(t) == forced,
              "%.1fM multiply-adds a token: threads 3 given, %d used", work / 1e6, forced);
        mod_session_free(t);
        d.threads = 1;
        if (s && mod_session_create(&t, b.model, &d, NULL) == MOD_OK) {
            for (i = 0; i < 12; i++) {
                const int32_t tok = (int32_t)((i * 37 + 5) % o.vocab_size);
                if (mod_decode(s, tok) != MOD_OK || mod_decode(t, tok) != MOD_OK ||
                    memcmp(mod_session_logits(s), mod_session_logits(t), sizeof(float) * (size_t)o.vocab_size) != 0)
                    same = 0;
                n++;
            }
            check(same, "%.1fM multiply-adds a token: the default session decodes %d tokens as a 1-thread one, bit for bit%s",
                  work / 1e6, n, expect > 1 ? " (paced: both modes ran)" : "");
            if (expect > 1) check(s->pace[0].rate[0] > 0.0 && s->pace[0].rate[1] > 0.0, "the paced session ran on 1 and on %d threads", expect);
            {
                const int np = 9, rounds = 4;
                float *ls = (float *)malloc(sizeof(float) * (size_t)np * (size_t)o.vocab_size);
                float *lt = (float *)malloc(sizeof(float) * (size_t)np * (size_t)o.vocab_size);
                int32_t toks[9];
                int r;
                same = ls && lt;
                for (r = 0; r < rounds && same; r++) {
                    for (i = 0; i < np; i++) toks[i] = (int32_t)((i * 53 + r * 7 + 1) % o.vocab_size);
                    mod_session_reset(s);
                    mod_session_reset(t);
                    if (mod_prefill(s, toks, np, ls) != MOD_OK || mod_prefill(t, toks, np, lt) != MOD_OK ||
                        memcmp(ls, lt, sizeof(float) * (size_t)np * (size_t)o.vocab_size) != 0)
                        same = 0;
                }
                check(same, "%.1fM multiply-adds a token: the default session prefills %d prompts of %d tokens as a 1-thread one, bit for bit",
                      work / 1e6, rounds, np);
                if (expect > 1)
                    check(s->pace[1].rate[0] > 0.0 && s->pace[1].rate[1] > 0.0,
                          "the prompts' blocks ran on 1 and on %d threads (paced block by block)", expect);
                free(ls);
                free(lt);
            }
            mod_session_free(t);
        }
        mod_session_free(s);
        unbuild(&b);
    }
#ifdef _OPENMP
    omp_set_num_threads(before);
#endif
}

/* ---- routing records ------------------------------------------------------------------ */

/* mod_session_record_routing against the double-precision reference's trace: the same tokens
   processed in every routed block, the same router scores and decision values; a prompt in
   chunks, token-by-token decoding and a short record buffer record the same things; nothing is
   written when recording is off or a call fails. */
static void test_routing_records(void) {
    static const size_t vis[] = { 15, 20, 21, 24, 25, 26, 29, 31 }; /* default, normed, sigmoid, predictors, threshold 0.3, all routed, everything */
    const int n = 24;
    size_t k;
    for (k = 0; k < sizeof vis / sizeof vis[0]; k++) {
        const size_t vi = vis[k];
        int rule;
        for (rule = 0; rule < 2; rule++) {
            mkm_opts o;
            built b;
            mod_session *s;
            mod_session_desc d;
            const mod_config *c;
            int toks[32], L, V, nr, l, i, ri, bad_sel = 0, recorded;
            int32_t t32[32];
            double es = 0, ed = 0;
            unsigned char *sel;
            double *rr, *dd;
            mod_route *rec;
            ref_trace tr;
            mkm_defaults(&o);
            o.seed = 700 + vi;
            variants[vi].apply(&o);
            if (build(&o, &b)) { check(0, "records: %s builds", variants[vi].name); continue; }
            c = mod_model_config(b.model);
            L = c->n_layers; V = c->vocab_size; nr = c->n_routed;
            make_tokens(toks, t32, n, V, (unsigned)(31 * vi + 5));
            sel = (unsigned char *)calloc((size_t)L * n, 1);
            rr = (double *)calloc((size_t)L * n, sizeof(double));
            dd = (double *)calloc((size_t)L * n, sizeof(double));
            rec = (mod_route *)calloc((size_t)nr * n + 1, sizeof(mod_route));
            memset(&tr, 0, sizeof tr);
            tr.selected = sel; tr.router = rr; tr.decision = dd;
            memset(&d, 0, sizeof d);
            d.prompt_routing = rule == 0 ? MOD_ROUTING_TOPK : MOD_ROUTING_CAUSAL;
            if (ref_forward_ex(b.buf, b.size, toks, n, rule == 0 ? REF_RULE_TOPK : REF_RULE_CAUSAL, 0, 0, 0, 0, NULL, &tr) != 0 ||
                mod_session_create(&s, b.model, &d, NULL) != MOD_OK) {
                check(0, "records: %s: reference and session run", variants[vi].name);
                free(sel); free(rr); free(dd); free(rec); unbuild(&b);
                continue;
            }
            check(mod_session_routing_recorded(s) == 0, "records: nothing recorded before asking");
            check(mod_session_record_routing(s, rec, -1) == MOD_ERR_INVALID_ARGUMENT, "records: a negative max_tokens is refused");
            check(mod_session_record_routing(s, rec, n) == MOD_OK, "records: recording starts");
            check(mod_prefill(s, t32, n, NULL) == MOD_OK, "records: %s prefill", variants[vi].name);
            recorded = mod_session_routing_recorded(s);
            check(recorded == n, "records: %s: %d tokens recorded, %d expected", variants[vi].name, recorded, n);
            for (l = 0, ri = 0; l < L; l++) {
                if (!mod_model_layer_routed(b.model, l)) continue;
                for (i = 0; i < n; i++) {
                    const mod_route *t = &rec[(size_t)ri * n + i];
                    double e1 = fabs(t->score - rr[(size_t)l * n + i]) / (1.0 + fabs(rr[(size_t)l * n + i]));
                    double e2 = fabs(t->decision - dd[(size_t)l * n + i]) / (1.0 + fabs(dd[(size_t)l * n + i]));
                    if (!(e1 <= es)) es = e1;
                    if (!(e2 <= ed)) ed = e2;
                    if (t->processed != (int)sel[(size_t)l * n + i]) bad_sel++;
                }
                ri++;
            }
            check(ri == nr, "records: %d routed blocks, config says %d", ri, nr);
            check(bad_sel == 0, "records: %s, %s: the processed tokens are the reference's (%d differ)", variants[vi].name, rule ? "causal" : "top-k", bad_sel);
            check(es <= 1e-4 && ed <= 1e-4, "records: %s, %s: scores and decision values match the reference (%.3g, %.3g)",
                  variants[vi].name, rule ? "causal" : "top-k", es, ed);
            if (rule == 1) {
                /* the same tokens one by one, then in chunks of 5: the same records, to the bit */
                mod_session *s2;
                mod_session_desc d2 = d;
                mod_route *one = (mod_route *)calloc((size_t)nr, sizeof(mod_route));
                int same = 1, j;
                d2.max_batch = 5;
                if (mod_session_create(&s2, b.model, &d2, NULL) == MOD_OK) {
                    mod_session_record_routing(s2, one, 1);
                    for (i = 0; i < n; i++) {
                        if (mod_decode(s2, t32[i]) != MOD_OK || mod_session_routing_recorded(s2) != 1) { same = 0; break; }
                        for (j = 0; j < nr; j++)
                            if (memcmp(&one[j], &rec[(size_t)j * n + i], sizeof(mod_route)) != 0) same = 0;
                    }
                    check(same, "records: %s: token-by-token decoding records what the prompt recorded", variants[vi].name);
                    mod_session_reset(s2);
                    {
                        mod_route *rc = (mod_route *)calloc((size_t)nr * n, sizeof(mod_route));
                        mod_session_record_routing(s2, rc, n);
                        check(mod_prefill(s2, t32, n, NULL) == MOD_OK && mod_session_routing_recorded(s2) == n &&
                              memcmp(rc, rec, sizeof(mod_route) * (size_t)nr * n) == 0,
                              "records: %s: a prompt in chunks of 5 records what one call did", variants[vi].name);
                        free(rc);
                    }
                    mod_session_free(s2);
                } else check(0, "records: second session");
                free(one);
            } else {
                /* a buffer of 7 tokens keeps the first 7 of each block; off, nothing is written */
                mod_route *few = (mod_route *)calloc((size_t)nr * 7, sizeof(mod_route));
                mod_route canary;
                int ok = 1;
                mod_session_reset(s);
                mod_session_record_routing(s, few, 7);
                check(mod_prefill(s, t32, n, NULL) == MOD_OK && mod_session_routing_recorded(s) == 7, "records: a 7-token buffer records 7");
                for (ri = 0; ri < nr; ri++)
                    if (memcmp(&few[(size_t)ri * 7], &rec[(size_t)ri * n], 7 * sizeof(mod_route)) != 0) ok = 0;
                check(ok, "records: %s: a 7-token buffer holds the first 7 tokens of each block", variants[vi].name);
                memset(&canary, 0x5a, sizeof canary);
                for (i = 0; i < nr * 7; i++) few[i] = canary;
                mod_session_reset(s);
                mod_session_record_routing(s, NULL, 0);
                check(mod_prefill(s, t32, n, NULL) == MOD_OK && mod_session_routing_recorded(s) == 0, "records: off, none recorded");
                for (i = 0; i < nr * 7; i++) if (memcmp(&few[i], &canary, sizeof canary) != 0) ok = 0;
                check(ok, "records: off, the old buffer is not written");
                free(few);
            }
            mod_session_free(s);
            {
                mod_session_desc d3 = d;
                mod_session *s3;
                d3.max_tokens = n;
                if (mod_session_create(&s3, b.model, &d3, NULL) == MOD_OK) {
                    mod_session_record_routing(s3, rec, n);
                    check(mod_prefill(s3, t32, n - 2, NULL) == MOD_OK && mod_session_routing_recorded(s3) == n - 2, "records: %d recorded", n - 2);
                    check(mod_prefill(s3, t32, 3, NULL) == MOD_ERR_CONTEXT_FULL && mod_session_routing_recorded(s3) == 0,
                          "records: a call that fails records nothing");
                    mod_session_free(s3);
                }
            }
            free(sel); free(rr); free(dd); free(rec);
            unbuild(&b);
        }
    }
    check_group("routing records");
}

int main(void) {
    test_default_threads();
    test_against_reference();
    test_quantized_against_reference(MKM_DTYPE_Q8_0);
    test_quantized_against_reference(MKM_DTYPE_Q4_0);
    test_overrides();
    test_topk_selection();
    test_skipped_unchanged();
    test_dense_equivalence();
    test_causal_incremental();
    test_topk_prompt_then_decode();
    test_sessions();
    test_kv_f16();
    test_kv_q8();
    test_f16_rounding();
    test_sampling();
    test_routing_records();
    return check_finish();
}
