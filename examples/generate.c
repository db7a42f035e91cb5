/* mod-generate: streams text from a mod.h model, then prints speed and routing statistics. */
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: mod-generate MODEL -p PROMPT [options]\n"
        "  -p, --prompt TEXT     text to continue (may be empty if the model has a BOS token)\n"
        "  -f, --prompt-file F   read the prompt from file F instead (any bytes, any length)\n"
        "  -n N                  tokens to generate (default 128; 0 runs the prompt only)\n"
        "  -t TEMP               temperature, >= 0 (default 0.8; 0 = greedy)\n"
        "  --top-k K             keep the K most likely tokens (default 40; 0 = off)\n"
        "  --top-p P             nucleus sampling, in (0, 1] (default 0.95; 1 = off)\n"
        "  -s, --seed N          random seed (default 42)\n"
        "  --routing causal|topk rule for the prompt (default causal); generation is always causal\n"
        "  --capacity C          override every routed block's capacity, in (0, 1]\n"
        "  --threshold T         override the causal routing threshold\n"
        "  --ctx N               context length (default: the model's max_seq_len)\n"
        "  --threads N           threads (default: as many as the model's size pays for)\n"
        "  --no-stats            do not print the statistics line\n"
        "  --ids                 print the generated token ids (comma-separated) instead of text\n"
        "  -h, --help            this text\n");
}

typedef struct gen_args {
    const char *path, *prompt, *prompt_file;
    int n_gen, top_k, threads, ctx, stats, have_threshold, ids;
    float temp, top_p, capacity, threshold;
    uint64_t seed;
    mod_routing routing;
} gen_args;

/* 0: run; 1: help was printed; 2: bad arguments (message printed). */
static int parse_args(int argc, char **argv, gen_args *g) {
    int i;
    memset(g, 0, sizeof *g);
    g->n_gen = 128; g->top_k = 40; g->stats = 1;
    g->temp = 0.8f; g->top_p = 0.95f; g->seed = 42;
    g->routing = MOD_ROUTING_CAUSAL;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0, takes = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 1; }
        else if (!strcmp(a, "--no-stats")) { g->stats = 0; takes = 0; }
        else if (!strcmp(a, "--ids")) { g->ids = 1; takes = 0; }
        else if (a[0] != '-' || !a[1]) {
            if (g->path) { fprintf(stderr, "error: unexpected argument '%s'\n", a); return 2; }
            g->path = a; takes = 0;
        }
        else if (!v) { fprintf(stderr, "error: %s needs a value\n", a); return 2; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) g->prompt = v;
        else if (!strcmp(a, "-f") || !strcmp(a, "--prompt-file")) g->prompt_file = v;
        else if (!strcmp(a, "-n")) bad = cli_int(v, 0, INT_MAX, &g->n_gen);
        else if (!strcmp(a, "-t") || !strcmp(a, "--temperature")) bad = cli_float(v, 0.0, 1e6, &g->temp);
        else if (!strcmp(a, "--top-k")) bad = cli_int(v, 0, INT_MAX, &g->top_k);
        else if (!strcmp(a, "--top-p")) bad = cli_float(v, 1e-9, 1.0, &g->top_p);
        else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) bad = cli_u64(v, &g->seed);
        else if (!strcmp(a, "--routing")) {
            if (!strcmp(v, "causal")) g->routing = MOD_ROUTING_CAUSAL;
            else if (!strcmp(v, "topk")) g->routing = MOD_ROUTING_TOPK;
            else bad = 1;
        }
        else if (!strcmp(a, "--capacity")) bad = cli_float(v, 1e-9, 1.0, &g->capacity);
        else if (!strcmp(a, "--threshold")) { bad = cli_float(v, -1e30, 1e30, &g->threshold); g->have_threshold = 1; }
        else if (!strcmp(a, "--ctx")) bad = cli_int(v, 1, 1 << 24, &g->ctx);
        else if (!strcmp(a, "--threads")) bad = cli_int(v, 1, 1024, &g->threads);
        else { fprintf(stderr, "error: unknown option '%s' (see --help)\n", a); return 2; }
        if (bad) { fprintf(stderr, "error: invalid value '%s' for %s (see --help)\n", v, a); return 2; }
        i += takes;
    }
    if (!g->path) { usage(stderr); return 2; }
    if (!g->prompt && !g->prompt_file) { fprintf(stderr, "error: no prompt; give one with -p or -f (see --help)\n"); return 2; }
    if (g->prompt && g->prompt_file) { fprintf(stderr, "error: give the prompt with -p or with -f, not both\n"); return 2; }
    return 0;
}

#ifndef MOD_GENERATE_NO_MAIN
/* The fewest tokens len bytes of text can encode to, BOS included: every token the encoder
   emits spells the bytes it stands for (a prefix space only adds to them), and none spells
   more than the vocabulary's longest token. */
static size_t fewest_tokens(const mod_model *m, size_t len) {
    int32_t id, n = mod_model_config(m)->vocab_size;
    size_t longest = 1, l;
    for (id = 0; id < n; id++)
        if (mod_token_bytes(m, id, &l) && l > longest) longest = l;
    return len / longest + (len % longest != 0) + (mod_token_bos(m) >= 0);
}

int main(int argc, char **argv) {
    gen_args g;
    int n_prompt = 0, generated = 0, parsed, ctx;
    mod_model *model = NULL;
    mod_session *s = NULL;
    mod_session_desc sd;
    mod_error err;
    mod_sampler smp;
    mod_sampler_desc smpd;
    mod_result r;
    int32_t *toks = NULL;
    char *file_prompt = NULL;
    size_t plen, fewest;
    double t0, t1, t2;
    int status = 1;
    const char *path, *prompt;

    if ((parsed = parse_args(argc, argv, &g)) != 0) return parsed == 1 ? 0 : 2;
    path = g.path;
    prompt = g.prompt;
    if (mod_model_load_file(&model, path, NULL, &err) != MOD_OK) {
        fprintf(stderr, "error: %s\n", err.message); /* it names the file */
        return 1;
    }
    memset(&sd, 0, sizeof sd);
    sd.max_tokens = g.ctx;
    sd.prompt_routing = g.routing;
    sd.capacity = g.capacity;
    sd.override_threshold = g.have_threshold;
    sd.threshold = g.threshold;
    sd.threads = g.threads;
    if ((r = mod_session_create(&s, model, &sd, &err)) != MOD_OK) {
        fprintf(stderr, "error: cannot create a session: %s\n", err.message);
        goto done;
    }
    if (g.prompt_file) {
        if (!(file_prompt = cli_read_file(g.prompt_file, &plen))) goto done;
        prompt = file_prompt;
    } else {
        plen = strlen(prompt);
    }
    /* a prompt that cannot fit fails before the work of tokenizing it */
    ctx = g.ctx ? g.ctx : mod_model_config(model)->max_seq_len;
    if ((fewest = fewest_tokens(model, plen)) > (size_t)ctx) {
        fprintf(stderr, "error: context full: a prompt of %zu bytes is at least %zu tokens, more than the %d the context holds\n",
                plen, fewest, ctx);
        goto done;
    }
    if (plen > (size_t)INT_MAX - 2 || !(toks = (int32_t *)malloc((plen + 2) * sizeof *toks))) {
        fprintf(stderr, "error: prompt too long\n");
        goto done;
    }
    r = mod_tokenize(model, prompt, plen, mod_token_bos(model) >= 0, toks, (int)plen + 2, &n_prompt, &err);
    if (r != MOD_OK) { fprintf(stderr, "error: cannot tokenize the prompt: %s\n", err.message); goto done; }
    if (n_prompt == 0) { fprintf(stderr, "error: the prompt is empty and the model has no BOS token\n"); goto done; }
    if (n_prompt > ctx) {
        fprintf(stderr, "error: context full: the prompt is %d tokens, more than the %d the context holds\n", n_prompt, ctx);
        goto done;
    }
    if (!g.ids) fwrite(prompt, 1, plen, stdout);
    fflush(stdout);

    t0 = cli_now();
    if ((r = mod_prefill(s, toks, n_prompt, NULL)) != MOD_OK) {
        fprintf(stderr, "\nerror: %s\n", mod_session_error(s));
        goto done;
    }
    t1 = cli_now();
    memset(&smpd, 0, sizeof smpd);
    smpd.temperature = g.temp;
    smpd.top_k = g.top_k;
    smpd.top_p = g.top_p;
    smpd.seed = g.seed;
    if (mod_sampler_init(&smp, &smpd) != MOD_OK) { fprintf(stderr, "error: invalid sampler settings\n"); goto done; }
    for (generated = 0; generated < g.n_gen; generated++) {
        int32_t tok;
        size_t len;
        const char *piece;
        if ((r = mod_sample(s, &smp, &tok)) != MOD_OK) { fprintf(stderr, "\nerror: %s\n", mod_session_error(s)); goto done; }
        if (g.ids) printf("%s%d", generated ? "," : "", (int)tok);
        if (tok == mod_token_eos(model)) break;
        piece = mod_token_bytes(model, tok, &len);
        if (piece && len && !g.ids) fwrite(piece, 1, len, stdout);
        fflush(stdout);
        if (generated + 1 == g.n_gen) { generated++; break; }
        r = mod_decode(s, tok);
        if (r == MOD_ERR_CONTEXT_FULL) {
            generated++;
            fprintf(stderr, "\n[context full after %d tokens]", mod_session_position(s));
            break;
        }
        if (r != MOD_OK) { fprintf(stderr, "\nerror: %s\n", mod_session_error(s)); goto done; }
    }
    t2 = cli_now();
    printf("\n");
    fflush(stdout);
    if (g.stats) {
        const mod_config *c = mod_model_config(model);
        mod_block_stats all;
        int l;
        fprintf(stderr, "prompt: %d tok, %.1f tok/s | generated: %d tok, %.1f tok/s",
                n_prompt, n_prompt / (t1 - t0 > 0 ? t1 - t0 : 1e-9),
                generated, generated / (t2 - t1 > 0 ? t2 - t1 : 1e-9));
        if (c->n_routed) {
            fprintf(stderr, " | processed:");
            for (l = 0; l < c->n_layers; l++) {
                mod_block_stats b;
                mod_session_stats(s, l, &b);
                if (b.routed)
                    fprintf(stderr, " L%d %.0f%%", l, b.tokens_seen ? 100.0 * (double)b.tokens_processed / (double)b.tokens_seen : 0.0);
            }
        }
        mod_session_stats(s, -1, &all);
        fprintf(stderr, " | FLOPs %.0f%% of dense\n", all.flops_dense > 0 ? 100.0 * all.flops / all.flops_dense : 100.0);
    }
    status = 0;
done:
    free(toks);
    free(file_prompt);
    mod_session_free(s);
    mod_model_free(model);
    return status;
}
#endif
