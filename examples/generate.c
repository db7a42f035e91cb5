/* mod-generate: streams text from a mod.h model, then prints speed and routing statistics; with
   --chat, holds a conversation in the model's chat format, the history kept in the session. */
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "cli.h"
#include "routeview.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: mod-generate MODEL -p PROMPT [options]\n"
        "       mod-generate MODEL --chat [-i] [--system TEXT] [--chat-format NAME] [options]\n"
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
        "  --ctx N               context length (default: the model's max_seq_len, at most 4096)\n"
        "  --no-context-shift    stop when the context is full; by default generation goes on:\n"
        "                        the BOS token and the newer half of the rest are kept and run\n"
        "                        again from position 0, the older half is forgotten\n"
        "  --threads N           threads (default: as many as the model's size pays for)\n"
        "  --kv f32|f16|q8_0     KV cache element type (default f32; f16 halves its memory,\n"
        "                        q8_0 takes about a quarter)\n"
        "  --cache-type TYPE     the same\n"
        "  --no-stats            do not print the statistics line\n"
        "  --no-mmap             read the model file into memory instead of mapping it\n"
        "  --ids                 print the generated token ids (comma-separated) instead of text\n"
        "  --chat                a conversation: user turns from the terminal, one per line, each\n"
        "                        answered in the model's chat format (-n caps a reply)\n"
        "  -i                    --chat for scripts: user turns from stdin, one per line, no\n"
        "                        prompts; only the replies are printed, each on one line\n"
        "  --system TEXT         the conversation's system prompt (with --chat)\n"
        "  --chat-format NAME    llama2, llama3, chatml or gemma: overrides the stored template\n"
        "  --verbose             with --chat: print each turn's token ids and positions to stderr;\n"
        "                        otherwise: say when the context shifts\n"
        "  --show-routing[=count|blocks]\n"
        "                        mark each token (the prompt's too; with --chat the replies') by\n"
        "                        the routed blocks that processed it: count (default) shades it\n"
        "                        by their number (a subscript without colour), blocks adds a\n"
        "                        braille column with one dot per routed block\n"
        "  --color WHEN          auto (default: colour on a terminal unless NO_COLOR is set),\n"
        "                        always or never, for --show-routing\n"
        "  -h, --help            this text\n");
}

typedef struct gen_args {
    const char *path, *prompt, *prompt_file;
    const char *system, *chat_format;
    int n_gen, top_k, threads, ctx, stats, have_threshold, ids, chat, script, verbose, no_mmap, no_shift;
    int show, color;        /* --show-routing (RV_*), --color (RV_COLOR_*) */
    float temp, top_p, capacity, threshold;
    uint64_t seed;
    mod_routing routing;
    mod_kv_dtype kv;
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
        else if (!strcmp(a, "--no-mmap")) { g->no_mmap = 1; takes = 0; }
        else if (!strcmp(a, "--no-context-shift")) { g->no_shift = 1; takes = 0; }
        else if (!strcmp(a, "--ids")) { g->ids = 1; takes = 0; }
        else if (!strcmp(a, "--chat")) { g->chat = 1; takes = 0; }
        else if (!strcmp(a, "-i")) { g->chat = g->script = 1; takes = 0; }
        else if (!strcmp(a, "--verbose")) { g->verbose = 1; takes = 0; }
        else if (!strncmp(a, "--show-routing", 14) && (!a[14] || a[14] == '=')) {
            takes = 0;
            if (rv_parse_mode(a[14] ? a + 15 : NULL, &g->show)) { fprintf(stderr, "error: invalid value '%s' for --show-routing (count or blocks)\n", a + 15); return 2; }
        }
        else if (!strncmp(a, "--color=", 8)) {
            takes = 0;
            if (rv_parse_color(a + 8, &g->color)) { fprintf(stderr, "error: invalid value '%s' for --color (auto, always or never)\n", a + 8); return 2; }
        }
        else if (a[0] != '-' || !a[1]) {
            if (g->path) { fprintf(stderr, "error: unexpected argument '%s'\n", a); return 2; }
            g->path = a; takes = 0;
        }
        else if (!v) { fprintf(stderr, "error: %s needs a value\n", a); return 2; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) g->prompt = v;
        else if (!strcmp(a, "-f") || !strcmp(a, "--prompt-file")) g->prompt_file = v;
        else if (!strcmp(a, "--system")) g->system = v;
        else if (!strcmp(a, "--chat-format")) g->chat_format = v;
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
        else if (!strcmp(a, "--kv") || !strcmp(a, "--cache-type")) bad = cli_kv(v, &g->kv);
        else if (!strcmp(a, "--color")) bad = rv_parse_color(v, &g->color);
        else { fprintf(stderr, "error: unknown option '%s' (see --help)\n", a); return 2; }
        if (bad) { fprintf(stderr, "error: invalid value '%s' for %s (see --help)\n", v, a); return 2; }
        i += takes;
    }
    if (!g->path) { usage(stderr); return 2; }
    if (g->show && g->ids) { fprintf(stderr, "error: --show-routing marks the text; it cannot be combined with --ids\n"); return 2; }
    if (g->chat) {
        if (g->prompt || g->prompt_file) { fprintf(stderr, "error: --chat reads the user's turns from the input; -p and -f are not used\n"); return 2; }
        if (g->ids) { fprintf(stderr, "error: --ids is not used with --chat\n"); return 2; }
        return 0;
    }
    if (g->system || g->chat_format) {
        fprintf(stderr, "error: %s needs --chat\n", g->system ? "--system" : "--chat-format");
        return 2;
    }
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


/* ---- chat ---------------------------------------------------------------------------------- */

static void print_ids(const char *what, int turn, const int32_t *t, int n) {
    int i;
    fprintf(stderr, "turn %d: %s %d:", turn, what, n);
    for (i = 0; i < n; i++) fprintf(stderr, "%s%d", i ? "," : " ", (int)t[i]);
    fprintf(stderr, "\n");
}

/* The conversation: each user line is rendered as the delta after what the session already
   holds (mod_chat_render from the last reply), tokenized with special tokens recognised, fed
   with mod_prefill; the reply is sampled until the turn-end token or EOS, which is fed too, so
   the next turn continues right after it. The history is never fed again. */
static int run_chat(mod_model *model, mod_session *s, const gen_args *g, mod_sampler *smp, rv_view *view, mod_route *rec) {
    mod_chat chat;
    mod_error err;
    mod_chat_message *msg = NULL;
    char why[400], *line = NULL, *text = NULL, *reply = NULL;
    size_t line_cap = 0, text_cap = 0, reply_cap = 0, reply_len;
    int32_t *toks = NULL, *gen = NULL, end_id, eos = mod_token_eos(model);
    int n_msg = 0, cap_msg = 0, from = 0, reply_fed = 0, need_end = 0, turn = 0, status = 1, toks_cap = 0, gen_cap = 0, i;
    const int ctx = g->ctx ? g->ctx : cli_default_ctx(model), interactive = !g->script;
    ssize_t got;
    {
        int32_t none;
        int nn;
        if (mod_tokenize(model, "", 0, 0, &none, 1, &nn, NULL) == MOD_ERR_NO_TOKENIZER) {
            fprintf(stderr, "error: the model file has no tokenizer; --chat needs one\n");
            return 1;
        }
    }
    if (cli_chat_setup(model, g->chat_format, &chat, why, sizeof why) != 0) { fprintf(stderr, "error: %s\n", why); return 1; }
    end_id = mod_chat_turn_end_token(model, chat.format);
    if (end_id < 0) {
        fprintf(stderr, "error: the %s chat format ends a turn with %s, which is not a special token of this model's vocabulary\n",
                mod_chat_format_name(chat.format), mod_chat_turn_end(chat.format));
        return 1;
    }
    if (g->verbose) fprintf(stderr, "chat format %s, turn end %s (%d)\n", mod_chat_format_name(chat.format), mod_chat_turn_end(chat.format), (int)end_id);
    if (g->system) {
        if (!(msg = (mod_chat_message *)malloc(4 * sizeof *msg))) goto oom;
        cap_msg = 4;
        msg[0].role = MOD_CHAT_SYSTEM;
        msg[0].content = g->system;
        n_msg = 1;
    }
    for (;;) {
        size_t need, tl;
        int n_tok = 0, generated = 0, pos0, stop_end = 0;
        mod_result r;
        char *owned;
        if (interactive) { printf("> "); fflush(stdout); }
        if ((got = getline(&line, &line_cap, stdin)) < 0) {
            if (interactive) printf("\n"); /* end the prompt's line */
            break;
        }
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = 0;
        if (n_msg + 2 > cap_msg) {
            mod_chat_message *nm = (mod_chat_message *)realloc(msg, (size_t)(cap_msg * 2 + 4) * sizeof *msg);
            if (!nm) goto oom;
            msg = nm;
            cap_msg = cap_msg * 2 + 4;
        }
        if (!(owned = (char *)malloc((size_t)got + 1))) goto oom;
        memcpy(owned, line, (size_t)got + 1);
        msg[n_msg].role = MOD_CHAT_USER;
        msg[n_msg++].content = owned;
        turn++;
        /* the text to feed: the turn-end token when the last reply did not end with it, then the delta */
        r = mod_chat_render(&chat, msg, n_msg, from, MOD_CHAT_ADD_ASSISTANT | (reply_fed ? MOD_CHAT_REPLY_FED : 0u), NULL, 0, &need, &err);
        if (r != MOD_OK && r != MOD_ERR_BUFFER_TOO_SMALL) { fprintf(stderr, "error: %s\n", err.message); goto done; }
        tl = need_end ? strlen(mod_chat_turn_end(chat.format)) : 0;
        if (need + tl + 1 > text_cap) {
            char *nt = (char *)realloc(text, need + tl + 1);
            if (!nt) goto oom;
            text = nt;
            text_cap = need + tl + 1;
        }
        if (tl) memcpy(text, mod_chat_turn_end(chat.format), tl);
        if (mod_chat_render(&chat, msg, n_msg, from, MOD_CHAT_ADD_ASSISTANT | (reply_fed ? MOD_CHAT_REPLY_FED : 0u), text + tl, need + 1, &need, &err) != MOD_OK) {
            fprintf(stderr, "error: %s\n", err.message);
            goto done;
        }
        need += tl;
        if (need > (size_t)INT_MAX / 4) { fprintf(stderr, "error: the turn is too long\n"); goto done; }
        if ((int)need + 2 > toks_cap) {
            int32_t *nt = (int32_t *)realloc(toks, ((size_t)need + 2) * sizeof *toks);
            if (!nt) goto oom;
            toks = nt;
            toks_cap = (int)need + 2;
        }
        /* BOS, where the format has one, is in the text */
        if ((r = mod_tokenize(model, text, need, MOD_TOKENIZE_SPECIAL, toks, toks_cap, &n_tok, &err)) != MOD_OK) {
            fprintf(stderr, "error: cannot tokenize the turn: %s\n", err.message);
            goto done;
        }
        pos0 = mod_session_position(s);
        if (n_tok > ctx - pos0) {
            fprintf(stderr, "context full: turn %d is %d tokens and the context has room for %d of its %d; the conversation ends here\n",
                    turn, n_tok, ctx - pos0, ctx);
            status = 0;
            goto done;
        }
        if (g->verbose) { fprintf(stderr, "turn %d: position %d\n", turn, pos0); print_ids("fed", turn, toks, n_tok); }
        if (rec) mod_session_record_routing(s, NULL, 0); /* the turn is not shown */
        if (mod_prefill(s, toks, n_tok, NULL) != MOD_OK) { fprintf(stderr, "error: %s\n", mod_session_error(s)); goto done; }
        if (rec) mod_session_record_routing(s, rec, 1);
        /* the reply */
        reply_len = 0;
        while (generated < g->n_gen) {
            int32_t tok;
            size_t len;
            const char *piece;
            if (mod_sample(s, smp, &tok) != MOD_OK) { fprintf(stderr, "\nerror: %s\n", mod_session_error(s)); goto done; }
            if (mod_session_position(s) >= ctx) {
                fprintf(stderr, "\ncontext full after %d tokens: the conversation ends here\n", mod_session_position(s));
                status = 0;
                goto done;
            }
            if (mod_decode(s, tok) != MOD_OK) { fprintf(stderr, "\nerror: %s\n", mod_session_error(s)); goto done; }
            if (generated == gen_cap) {
                int32_t *ng = (int32_t *)realloc(gen, (size_t)(gen_cap * 2 + 64) * sizeof *gen);
                if (!ng) goto oom;
                gen = ng;
                gen_cap = gen_cap * 2 + 64;
            }
            gen[generated++] = tok;
            if (tok == end_id || tok == eos) { stop_end = tok == end_id; break; }
            piece = mod_token_bytes(model, tok, &len);
            if (piece && len) {
                if (reply_len + len + 1 > reply_cap) {
                    char *nr = (char *)realloc(reply, (reply_len + len + 1) * 2);
                    if (!nr) goto oom;
                    reply = nr;
                    reply_cap = (reply_len + len + 1) * 2;
                }
                memcpy(reply + reply_len, piece, len);
                reply_len += len;
                if (g->show) rv_token(view, tok, rec, 1, 0);
                else {
                    fwrite(piece, 1, len, stdout);
                    fflush(stdout);
                }
            }
        }
        if (g->show) rv_finish(view);
        printf("\n");
        fflush(stdout);
        if (g->verbose) {
            print_ids("generated", turn, gen, generated);
            fprintf(stderr, "turn %d: stop %s, position %d\n", turn, stop_end ? "turn end" : generated && gen[generated - 1] == eos ? "eos" : "limit",
                    mod_session_position(s));
        }
        /* the reply joins the conversation: the next delta starts after it */
        if (!(owned = (char *)malloc(reply_len + 1))) goto oom;
        if (reply_len) memcpy(owned, reply, reply_len);
        owned[reply_len] = 0;
        msg[n_msg].role = MOD_CHAT_ASSISTANT;
        msg[n_msg].content = owned;
        from = n_msg++;
        reply_fed = 1;
        need_end = !stop_end;
    }
    status = 0;
    goto done;
oom:
    fprintf(stderr, "error: out of memory\n");
done:
    for (i = 0; i < n_msg; i++)
        if (msg[i].role != MOD_CHAT_SYSTEM) free((void *)msg[i].content);
    free(msg);
    free(line);
    free(text);
    free(reply);
    free(toks);
    free(gen);
    return status;
}

/* Adds the session's statistics (block l at acc[l], the whole model at acc[n_layers]) to acc. */
static void stats_add(const mod_session *s, int n_layers, mod_block_stats *acc) {
    int l;
    for (l = -1; l < n_layers; l++) {
        mod_block_stats b;
        mod_block_stats *a = &acc[l < 0 ? n_layers : l];
        mod_session_stats(s, l, &b);
        a->routed = b.routed;
        a->tokens_seen += b.tokens_seen;
        a->tokens_processed += b.tokens_processed;
        a->flops += b.flops;
        a->flops_dense += b.flops_dense;
    }
}

/* The context shift: hist[0, *n) fills the context; keep the BOS token (if hist starts with it)
   and the newer half of the rest, forget the older half, and run what is kept again from
   position 0 (routing and positions are recomputed, as for a prompt). Statistics so far are
   added to acc first, since the reset clears them. */
static mod_result context_shift(mod_session *s, const mod_model *model, int32_t *hist, int *n, mod_block_stats *acc,
                                mod_route *rec) {
    int keep = (*n > 0 && hist[0] == mod_token_bos(model)) ? 1 : 0;
    int drop = (*n - keep) / 2;
    mod_result r;
    stats_add(s, mod_model_config(model)->n_layers, acc);
    memmove(hist + keep, hist + keep + drop, (size_t)(*n - keep - drop) * sizeof *hist);
    *n -= drop;
    mod_session_reset(s);
    mod_session_record_routing(s, NULL, 0);      /* the kept tokens were shown already */
    r = mod_prefill(s, hist, *n, NULL);
    if (rec) mod_session_record_routing(s, rec, 1);
    return r;
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
    int32_t *toks = NULL, *hist = NULL;
    int n_hist = 0, shifts = 0;
    mod_block_stats *acc = NULL;
    char *file_prompt = NULL;
    rv_view view;
    mod_route *rec = NULL;
    size_t plen, fewest;
    double t0, t1, t2;
    int status = 1;
    const char *path, *prompt;

    if ((parsed = parse_args(argc, argv, &g)) != 0) return parsed == 1 ? 0 : 2;
    path = g.path;
    prompt = g.prompt;
    if (cli_load_model(&model, path, g.no_mmap, &err) != MOD_OK) {
        fprintf(stderr, "error: %s\n", err.message); /* it names the file */
        return 1;
    }
    memset(&sd, 0, sizeof sd);
    sd.max_tokens = g.ctx ? g.ctx : cli_default_ctx(model);
    sd.prompt_routing = g.routing;
    sd.capacity = g.capacity;
    sd.override_threshold = g.have_threshold;
    sd.threshold = g.threshold;
    sd.threads = g.threads;
    sd.kv_dtype = g.kv;
    if ((r = mod_session_create(&s, model, &sd, &err)) != MOD_OK) {
        fprintf(stderr, "error: cannot create a session: %s\n", err.message);
        goto done;
    }
    if (g.show) {
        rv_init(&view, stdout, model, g.show, g.color, !g.chat);
        if (view.mode == RV_OFF) fprintf(stderr, "model has no routed blocks: nothing to show\n");
        else rv_legend(&view, stderr);
    }
    if (g.chat) {
        if (g.show && view.mode != RV_OFF && !(rec = (mod_route *)malloc((size_t)view.n_routed * sizeof *rec))) {
            fprintf(stderr, "error: out of memory\n");
            goto done;
        }
        memset(&smpd, 0, sizeof smpd);
        smpd.temperature = g.temp; smpd.top_k = g.top_k; smpd.top_p = g.top_p; smpd.seed = g.seed;
        if (mod_sampler_init(&smp, &smpd) != MOD_OK) { fprintf(stderr, "error: invalid sampler settings\n"); goto done; }
        status = run_chat(model, s, &g, &smp, &view, rec);
        goto done;
    }
    if (g.prompt_file) {
        if (!(file_prompt = cli_read_file(g.prompt_file, &plen))) goto done;
        prompt = file_prompt;
    } else {
        plen = strlen(prompt);
    }
    /* a prompt that cannot fit fails before the work of tokenizing it */
    ctx = sd.max_tokens;
    if ((fewest = fewest_tokens(model, plen)) > (size_t)ctx) {
        fprintf(stderr, "error: context full: a prompt of %zu bytes is at least %zu tokens, more than the %d the context holds\n",
                plen, fewest, ctx);
        goto done;
    }
    r = cli_tokenize(model, prompt, plen, mod_token_bos(model) >= 0, &toks, &n_prompt, &err);
    if (r != MOD_OK) { fprintf(stderr, "error: cannot tokenize the prompt: %s\n", err.message); goto done; }
    if (n_prompt == 0) { fprintf(stderr, "error: the prompt is empty and the model has no BOS token\n"); goto done; }
    if (n_prompt > ctx) {
        fprintf(stderr, "error: context full: the prompt is %d tokens, more than the %d the context holds\n", n_prompt, ctx);
        goto done;
    }
    /* what the context holds, for the context shift */
    if (!(hist = (int32_t *)malloc((size_t)ctx * sizeof *hist)) ||
        !(acc = (mod_block_stats *)calloc((size_t)mod_model_config(model)->n_layers + 1, sizeof *acc))) {
        fprintf(stderr, "error: out of memory\n");
        goto done;
    }
    memcpy(hist, toks, (size_t)n_prompt * sizeof *hist);
    n_hist = n_prompt;
    if (g.show && view.mode != RV_OFF) {
        /* the prompt's routing, then each generated token's (one per mod_decode) */
        if (!(rec = (mod_route *)malloc((size_t)view.n_routed * (size_t)n_prompt * sizeof *rec))) { fprintf(stderr, "error: out of memory\n"); goto done; }
        mod_session_record_routing(s, rec, n_prompt);
    }
    if (!g.ids && !g.show) fwrite(prompt, 1, plen, stdout);
    fflush(stdout);

    t0 = cli_now();
    if ((r = mod_prefill(s, toks, n_prompt, NULL)) != MOD_OK) {
        fprintf(stderr, "\nerror: %s\n", mod_session_error(s));
        goto done;
    }
    t1 = cli_now();
    if (g.show) {
        int i;
        for (i = 0; i < n_prompt; i++) rv_token(&view, toks[i], rec, (size_t)n_prompt, i);
        if (rec) mod_session_record_routing(s, rec, 1);
    }
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
        if (!g.show) {
            piece = mod_token_bytes(model, tok, &len);
            if (piece && len && !g.ids) fwrite(piece, 1, len, stdout);
            fflush(stdout);
            if (generated + 1 == g.n_gen) { generated++; break; }
        }
        if (n_hist == ctx && !g.no_shift && ctx > 2) {
            if ((r = context_shift(s, model, hist, &n_hist, acc, rec)) != MOD_OK) {
                fprintf(stderr, "\nerror: %s\n", mod_session_error(s));
                goto done;
            }
            shifts++;
            if (g.verbose) fprintf(stderr, "\n[context shift: %d tokens kept]\n", n_hist);
        }
        r = mod_decode(s, tok);
        if (r == MOD_OK) hist[n_hist++] = tok;
        if (g.show) {
            /* shown once run (its routing is known then), the last token too */
            rv_token(&view, tok, r == MOD_OK ? rec : NULL, 1, 0);
            if (r == MOD_OK && generated + 1 == g.n_gen) { generated++; break; }
        }
        if (r == MOD_ERR_CONTEXT_FULL) {
            generated++;
            fprintf(stderr, "\n[context full after %d tokens]", mod_session_position(s));
            break;
        }
        if (r != MOD_OK) { fprintf(stderr, "\nerror: %s\n", mod_session_error(s)); goto done; }
    }
    t2 = cli_now();
    if (g.show) rv_finish(&view);
    printf("\n");
    fflush(stdout);
    if (g.stats) {
        const mod_config *c = mod_model_config(model);
        mod_block_stats all;
        int l;
        stats_add(s, c->n_layers, acc);    /* with what came before any context shift */
        fprintf(stderr, "prompt: %d tok, %.1f tok/s | generated: %d tok, %.1f tok/s",
                n_prompt, n_prompt / (t1 - t0 > 0 ? t1 - t0 : 1e-9),
                generated, generated / (t2 - t1 > 0 ? t2 - t1 : 1e-9));
        if (shifts) fprintf(stderr, " | context shifts: %d", shifts);
        if (c->n_routed) {
            fprintf(stderr, " | processed:");
            for (l = 0; l < c->n_layers; l++) {
                mod_block_stats b = acc[l];
                if (b.routed)
                    fprintf(stderr, " L%d %.0f%%", l, b.tokens_seen ? 100.0 * (double)b.tokens_processed / (double)b.tokens_seen : 0.0);
            }
        }
        all = acc[c->n_layers];
        fprintf(stderr, " | FLOPs %.0f%% of dense\n", all.flops_dense > 0 ? 100.0 * all.flops / all.flops_dense : 100.0);
    }
    status = 0;
done:
    free(rec);
    free(toks);
    free(hist);
    free(acc);
    free(file_prompt);
    mod_session_free(s);
    mod_model_free(model);
    return status;
}
#endif
