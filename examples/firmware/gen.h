/* gen.h: the generation run shared by the firmware (main.c) and by the host program that
   computes the expected tokens (host_expect.c). Both call gen_run with the same model bytes,
   prompt, sampler settings and seed, through the same calls into mod.h, so the firmware can
   demand exactly the host's tokens.

   Include after mod.h (the API is enough). Everything here is static: one copy per program. */
#ifndef GEN_H
#define GEN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define GEN_PROMPT "Once upon a time"
#define GEN_TOKENS 32       /* tokens generated per run */
#define GEN_CONTEXT 64      /* session context: prompt + GEN_TOKENS fits */
#define GEN_MAX_PROMPT 32   /* room for the prompt's tokens */
#define GEN_BATCH 16        /* most tokens per mod_prefill call (longer prompts go in chunks) */
#define GEN_ROUTED_CACHE 48 /* KV entries reserved per routed block (they skip tokens) */

typedef struct gen_mode {
    const char *name;
    float temperature;      /* 0: greedy */
    int top_k;
    float top_p;
    uint64_t seed;
} gen_mode;

/* Run 0 is greedy, run 1 samples with a fixed seed. */
#define GEN_RUNS 2
static const gen_mode gen_modes[GEN_RUNS] = {
    { "greedy", 0.0f, 0, 1.0f, 0 },
    { "sampled (t=0.8, top-k 40, top-p 0.95, seed 42)", 0.8f, 40, 0.95f, 42 },
};

/* The session every run uses: small context, one thread, the caller's arena. */
static mod_session_desc gen_session_desc(void *arena, size_t arena_size) {
    mod_session_desc d;
    memset(&d, 0, sizeof d);
    d.max_tokens = GEN_CONTEXT;
    d.max_batch = GEN_BATCH;
    d.routed_cache_tokens = GEN_ROUTED_CACHE;
    d.threads = 1;
    d.arena = arena;
    d.arena_size = arena_size;
    return d;
}

/* Called after the prompt (index -1) and after each sampled token (index 0..GEN_TOKENS-1). */
typedef void (*gen_event_fn)(void *user, int index, int32_t token);

/* Tokenizes GEN_PROMPT, runs it, then samples GEN_TOKENS tokens with mode into out.
   prompt_logits (NULL or vocab_size floats) receives the logits after the prompt;
   *n_prompt the prompt's token count. The session lives in arena and is freed before return. */
static mod_result gen_run(const mod_model *model, void *arena, size_t arena_size,
                          const gen_mode *mode, int32_t *out, int *n_prompt, float *prompt_logits,
                          gen_event_fn event, void *user) {
    int32_t prompt[GEN_MAX_PROMPT];
    mod_session_desc desc = gen_session_desc(arena, arena_size);
    mod_session *s;
    mod_sampler smp;
    mod_sampler_desc smpd;
    mod_result r;
    int n = 0, i, off;

    r = mod_tokenize(model, GEN_PROMPT, strlen(GEN_PROMPT), mod_token_bos(model) >= 0, prompt,
                     GEN_MAX_PROMPT, &n, NULL);
    if (r != MOD_OK) return r;
    if (n_prompt) *n_prompt = n;
    r = mod_session_create(&s, model, &desc, NULL);
    if (r != MOD_OK) return r;
    for (off = 0; r == MOD_OK && off < n; off += GEN_BATCH)
        r = mod_prefill(s, prompt + off, n - off < GEN_BATCH ? n - off : GEN_BATCH, NULL);
    if (r == MOD_OK && prompt_logits)
        memcpy(prompt_logits, mod_session_logits(s), sizeof(float) * (size_t)mod_model_config(model)->vocab_size);
    if (r == MOD_OK && event) event(user, -1, -1);
    memset(&smpd, 0, sizeof smpd);
    smpd.temperature = mode->temperature;
    smpd.top_k = mode->top_k;
    smpd.top_p = mode->top_p;
    smpd.seed = mode->seed;
    if (r == MOD_OK) r = mod_sampler_init(&smp, &smpd);
    for (i = 0; r == MOD_OK && i < GEN_TOKENS; i++) {
        r = mod_sample(s, &smp, &out[i]);
        if (r != MOD_OK) break;
        if (event) event(user, i, out[i]);
        if (i + 1 < GEN_TOKENS) r = mod_decode(s, out[i]);
    }
    mod_session_free(s);
    return r;
}

#endif
