/* One side of mod-ab (tools/ab.c): mod.h compiled with every public function static, so two
   copies of the library (two revisions, or two sets of build flags) live in one program. Built
   twice, with -DAB_SIDE=ab_a_ and -DAB_SIDE=ab_b_ and each side's mod.h first on the include
   path; the functions below are the only names each side exports. */
#define _POSIX_C_SOURCE 200809L
#define MOD_API static
#define MOD_IMPLEMENTATION
#include "mod.h"
#include <time.h>

#ifndef AB_SIDE
#error "define AB_SIDE as the prefix of this side's functions"
#endif
#define AB_CAT2(a, b) a##b
#define AB_CAT(a, b) AB_CAT2(a, b)
#define AB_FN(name) AB_CAT(AB_SIDE, name)

typedef struct ab_side {
    mod_model *model;
    mod_session *session;
    int vocab;
} ab_side;

static double ab_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Settings from the environment: AB_KV (f32, f16 or q8_0: the KV cache) and AB_DEPTH (the
   prompt decoding follows, default 16 tokens) */
static int ab_depth(void) {
    const char *v = getenv("AB_DEPTH");
    const int n = v ? atoi(v) : 16;
    return n > 0 && n <= (1 << 20) ? n : 16;
}
static mod_kv_dtype ab_kv(void) {
    const char *v = getenv("AB_KV");
    if (v && !strcmp(v, "f16")) return MOD_KV_F16;
    if (v && !strcmp(v, "q8_0")) return MOD_KV_Q8_0;
    return MOD_KV_F32;
}

/* Loads path and makes a session for prompts of up to max_tokens (top-k routing for prompts,
   as mod-bench times them). Returns NULL with a message on stderr. */
void *AB_FN(open)(const char *path, int threads, int max_tokens);
void *AB_FN(open)(const char *path, int threads, int max_tokens) {
    ab_side *h = (ab_side *)calloc(1, sizeof *h);
    mod_error err;
    mod_session_desc d;
    if (!h) return NULL;
    if (mod_model_load_file(&h->model, path, NULL, &err) != MOD_OK) {
        fprintf(stderr, "error: %s\n", err.message); /* it names the file */
        free(h);
        return NULL;
    }
    memset(&d, 0, sizeof d);
    d.max_tokens = max_tokens + ab_depth();
    d.kv_dtype = ab_kv();
    d.threads = threads;
    d.prompt_routing = MOD_ROUTING_TOPK;
    if (mod_session_create(&h->session, h->model, &d, &err) != MOD_OK) {
        fprintf(stderr, "error: %s: cannot create a session of %d tokens: %s\n", path, max_tokens, err.message);
        mod_model_free(h->model);
        free(h);
        return NULL;
    }
    h->vocab = mod_model_config(h->model)->vocab_size;
    return h;
}

/* Tokens/s of one prefill of n tokens into an empty context; negative on error. */
double AB_FN(prefill)(void *hv, int n);
double AB_FN(prefill)(void *hv, int n) {
    ab_side *h = (ab_side *)hv;
    int32_t *tok = (int32_t *)malloc(sizeof(int32_t) * (size_t)n);
    double t0, t1;
    int i;
    mod_result r;
    if (!tok) return -1.0;
    for (i = 0; i < n; i++) tok[i] = (int32_t)(((long)i * 7919 + 13) % h->vocab);
    mod_session_reset(h->session);
    t0 = ab_now();
    r = mod_prefill(h->session, tok, n, NULL);
    t1 = ab_now();
    free(tok);
    return r == MOD_OK ? n / (t1 - t0) : -1.0;
}

/* Tokens/s of decoding n tokens after a prompt of AB_DEPTH tokens; negative on error. */
double AB_FN(decode)(void *hv, int n);
double AB_FN(decode)(void *hv, int n) {
    ab_side *h = (ab_side *)hv;
    const int depth = ab_depth();
    int32_t *tok = (int32_t *)malloc(sizeof(int32_t) * (size_t)depth);
    double t0;
    int i;
    mod_result r;
    if (!tok) return -1.0;
    for (i = 0; i < depth; i++) tok[i] = (int32_t)(((long)i * 7919 + 13) % h->vocab);
    mod_session_reset(h->session);
    r = mod_prefill(h->session, tok, depth, NULL);
    free(tok);
    if (r != MOD_OK) return -1.0;
    t0 = ab_now();
    for (i = 0; i < n; i++)
        if (mod_decode(h->session, (int32_t)(((long)i * 31 + 5) % h->vocab)) != MOD_OK) return -1.0;
    return n / (ab_now() - t0);
}

void AB_FN(close)(void *hv);
void AB_FN(close)(void *hv) {
    ab_side *h = (ab_side *)hv;
    if (!h) return;
    mod_session_free(h->session);
    mod_model_free(h->model);
    free(h);
}

/* the rest of the static API is unused here */
void AB_FN(unused)(void);
void AB_FN(unused)(void) {
    (void)mod_result_string; (void)mod_version; (void)mod_model_load_memory; (void)mod_model_memory_required;
    (void)mod_model_layer_routed; (void)mod_model_layer_capacity; (void)mod_model_parameters;
    (void)mod_model_checksum; (void)mod_session_memory_required; (void)mod_session_logits;
    (void)mod_session_position; (void)mod_session_error; (void)mod_session_cache; (void)mod_session_stats;
    (void)mod_sampler_init; (void)mod_sample; (void)mod_tokenize; (void)mod_detokenize; (void)mod_token_bytes;
    (void)mod_token_bos; (void)mod_token_eos;
}
