/* mod-eval: teacher-forced negative log-likelihood and perplexity of a model on tokens or text,
   with routing statistics, and optionally every logit. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_TMPFILE, for the output file (examples/cli.h) */
#endif
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "../examples/cli.h"
#include "ppl.h"
#include "../examples/routeview.h"
#include "svg.h"
#include "routemap.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: mod-eval MODEL (--tokens 1,2,3 | --text FILE) [options]\n"
        "  --tokens LIST         comma-separated token ids\n"
        "  --text FILE           text to tokenize (a BOS token is prepended if the model has one)\n"
        "  --routing topk|causal rule for routed blocks (default causal)\n"
        "  --capacity C          override every routed block's capacity, in (0, 1]\n"
        "  --threshold T         override the causal routing threshold\n"
        "  --ctx N               window length (default: the model's max_seq_len, at most 4096);\n"
        "                        longer inputs are scored in consecutive windows of N tokens\n"
        "  --threads N           threads (default: as many as the model's size pays for)\n"
        "  --kv f32|f16|q8_0     KV cache element type (default f32; f16 halves its memory,\n"
        "                        q8_0 takes about a quarter)\n"
        "  --cache-type TYPE     the same\n"
        "  --no-mmap             read the model file into memory instead of mapping it\n"
        "  --dump-logits FILE    write float32 little-endian logits, S rows of V, row-major, to\n"
        "                        FILE (a regular file or a new path, never an input)\n"
        "  --incremental         feed the tokens one at a time (causal decoding) instead of one\n"
        "                        prefill call; the logits must agree with --routing causal\n"
        "  --show-routing[=count|blocks]\n"
        "                        print the text, each token marked by the routed blocks that\n"
        "                        processed it: count (default) shades it by their number (a\n"
        "                        subscript without colour), blocks adds a braille column with\n"
        "                        one dot per routed block\n"
        "  --color WHEN          auto (default: colour on a terminal unless NO_COLOR is set),\n"
        "                        always or never, for --show-routing\n"
        "  --routing-map FILE    write a picture of the first tokens' router scores: SVG, or an\n"
        "                        HTML page holding it if FILE ends in .html; routing defaults\n"
        "                        to topk with it (unless --routing or --incremental is given)\n"
        "  --map-tokens N        tokens the map draws, at most one window (default 128, at most\n"
        "                        1024)\n"
        "  --agreement           also run a top-k pass over the same windows and print how often\n"
        "                        the causal rule (decision value > threshold) picks what top-k\n"
        "                        picked, per routed block and overall\n"
        "  -h, --help            this text\n");
}

/* --agreement: a top-k pass over the same windows, recording the routing of every call; prints
   the share of (token, routed block) pairs where the causal rule (decision > threshold) and the
   top-k choice agree, and the share of top-k choices the causal rule catches (recall). */
static int print_agreement(mod_model *model, const mod_session_desc *desc, const int32_t *toks, int n, float tau) {
    const mod_config *c = mod_model_config(model);
    const int R = c->n_routed, W = desc->max_tokens;
    mod_session_desc sd = *desc;
    mod_session *s = NULL;
    mod_route *rec = NULL;
    uint64_t *agree = NULL, *caught = NULL, *chosen = NULL, total = 0, all = 0, all_caught = 0, all_chosen = 0;
    mod_error err;
    int start, b, l, status = -1;
    if (R < 1) { printf("agreement: the model has no routed blocks\n"); return 0; }
    sd.prompt_routing = MOD_ROUTING_TOPK;
    rec = (mod_route *)malloc((size_t)R * (size_t)W * sizeof *rec);
    agree = (uint64_t *)calloc((size_t)R * 3, sizeof *agree);
    if (!rec || !agree) { fprintf(stderr, "error: out of memory\n"); goto done; }
    caught = agree + R; chosen = agree + 2 * R;
    if (mod_session_create(&s, model, &sd, &err) != MOD_OK) { fprintf(stderr, "error: cannot create a session: %s\n", err.message); goto done; }
    if (mod_session_record_routing(s, rec, W) != MOD_OK) { fprintf(stderr, "error: %s\n", mod_session_error(s)); goto done; }
    for (start = 0; start < n; start += W) {
        const int len = n - start < W ? n - start : W;
        int got, t;
        mod_session_reset(s);
        if (mod_prefill(s, toks + start, len, NULL) != MOD_OK) { fprintf(stderr, "error: %s\n", mod_session_error(s)); goto done; }
        got = mod_session_routing_recorded(s);
        for (b = 0; b < R; b++)
            for (t = 0; t < got; t++) {
                const mod_route *x = &rec[(size_t)b * (size_t)W + (size_t)t];
                const int causal = x->decision > tau;
                agree[b] += causal == (x->processed != 0);
                caught[b] += causal && x->processed;
                chosen[b] += x->processed != 0;
            }
        total += (uint64_t)got;
    }
    for (b = 0; b < R; b++) { all += agree[b]; all_caught += caught[b]; all_chosen += chosen[b]; }
    printf("agreement (causal vs topk): %.2f%%", total ? 100.0 * (double)all / ((double)total * R) : 0.0);
    for (b = 0, l = 0; l < c->n_layers; l++)
        if (mod_model_layer_routed(model, l) == 1) {
            printf(" L%d %.2f%%", l, total ? 100.0 * (double)agree[b] / (double)total : 0.0);
            b++;
        }
    printf("\nrecall (top-k choices the causal rule takes): %.2f%%\n", all_chosen ? 100.0 * (double)all_caught / (double)all_chosen : 0.0);
    status = 0;
done:
    mod_session_free(s);
    free(rec);
    free(agree);
    return status;
}

/* The inputs (model, text) that the logits file must not replace; their count. */
static int input_ids(const char *model, const char *text, cli_file_id *ids) {
    struct stat st;
    int n = 0;
    if (stat(model, &st) == 0) ids[n++] = cli_file_id_of(model, &st);
    if (text && stat(text, &st) == 0) ids[n++] = cli_file_id_of(text, &st);
    return n;
}

static int parse_tokens(const char *s, int32_t **out, int *n) {
    size_t cap = 16;
    int count = 0;
    int32_t *t = (int32_t *)malloc(cap * sizeof *t);
    if (!t) return -1;
    while (*s) {
        char *end;
        long v;
        errno = 0;
        v = strtol(s, &end, 10);
        if (end == s || errno || v < INT32_MIN || v > INT32_MAX || (*end && *end != ',')) { free(t); return -1; }
        if ((size_t)count == cap) {
            int32_t *nt = (int32_t *)realloc(t, 2 * cap * sizeof *t);
            if (!nt) { free(t); return -1; }
            t = nt; cap *= 2;
        }
        t[count++] = (int32_t)v;
        s = *end ? end + 1 : end;
        if (*end && !*s) { free(t); return -1; } /* trailing comma */
    }
    *out = t; *n = count;
    return 0;
}

/* --show-routing: the tokens run again in the same windows with the same rule as the scoring
   (one prefill per window, or one mod_decode per token with --incremental), their routing
   recorded, and printed as text marked by it (examples/routeview.h). 0, or -1 (message
   printed). */
static int show_routing(mod_model *model, const mod_session_desc *sd, const int32_t *toks, int n, int incremental,
                        int mode, int when) {
    const int nr = mod_model_config(model)->n_routed, W = sd->max_tokens;
    mod_session *s = NULL;
    mod_route *rec = NULL, *one = NULL;
    mod_error err;
    rv_view view;
    int start, t, rc = -1;
    rv_init(&view, stdout, model, mode, when, 1);
    if (view.mode == RV_OFF) fprintf(stderr, "model has no routed blocks: nothing to show\n");
    else rv_legend(&view, stderr);
    if (mod_session_create(&s, model, sd, &err) != MOD_OK) { fprintf(stderr, "error: cannot create a session: %s\n", err.message); return -1; }
    if (nr > 0 && (!(rec = (mod_route *)malloc((size_t)nr * (size_t)(n < W ? n : W) * sizeof *rec)) ||
                   !(one = (mod_route *)malloc((size_t)nr * sizeof *one)))) {
        fprintf(stderr, "error: out of memory\n");
        goto done;
    }
    for (start = 0; start < n; start += W) {
        const int len = n - start < W ? n - start : W;
        mod_session_reset(s);
        if (incremental) {
            if (nr) mod_session_record_routing(s, one, 1);
            for (t = 0; t < len; t++) {
                int r;
                if (mod_decode(s, toks[start + t]) != MOD_OK) { fprintf(stderr, "error: %s\n", mod_session_error(s)); goto done; }
                for (r = 0; r < nr; r++) rec[(size_t)r * (size_t)len + (size_t)t] = one[r];
            }
        } else {
            if (nr) mod_session_record_routing(s, rec, len);
            if (mod_prefill(s, toks + start, len, NULL) != MOD_OK) { fprintf(stderr, "error: %s\n", mod_session_error(s)); goto done; }
        }
        for (t = 0; t < len; t++) rv_token(&view, toks[start + t], rec, (size_t)len, t);
    }
    rc = 0;
done:
    rv_finish(&view);
    printf("\n");
    fflush(stdout);
    free(rec);
    free(one);
    mod_session_free(s);
    return rc;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

int main(int argc, char **argv) {
    const char *path = NULL, *tokens_arg = NULL, *text_path = NULL, *dump_path = NULL;
    int threads = 0, ctx = 0, i, n = 0, status = 1, have_threshold = 0, incremental = 0, no_mmap = 0, agreement = 0;
    int show = RV_OFF, color = RV_COLOR_AUTO, routing_given = 0, map_tokens = 128;
    const char *map_path = NULL;
    int32_t none;
    float capacity = 0.0f, threshold = 0.0f;
    mod_routing routing = MOD_ROUTING_CAUSAL;
    mod_kv_dtype kv = MOD_KV_F32;
    mod_model *model = NULL;
    mod_session *s = NULL;
    mod_session_desc sd;
    mod_error err;
    mod_result r;
    int32_t *toks = NULL;
    float *logits = NULL;
    FILE *dump = NULL;
    cli_out out;
    cli_file_id ids[2];
    char why[4400];
    int n_ids = 0;
    double nll = 0.0;
    long scored = 0;
    uint64_t *seen = NULL, *processed = NULL;
    const mod_config *c;
    int V, W;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!strcmp(a, "--incremental")) { incremental = 1; continue; }
        if (!strcmp(a, "--no-mmap")) { no_mmap = 1; continue; }
        if (!strncmp(a, "--show-routing", 14) && (!a[14] || a[14] == '=')) {
            if (rv_parse_mode(a[14] ? a + 15 : NULL, &show)) { fprintf(stderr, "error: invalid value '%s' for --show-routing (count or blocks)\n", a + 15); return 2; }
            continue;
        }
        if (!strncmp(a, "--color=", 8)) {
            if (rv_parse_color(a + 8, &color)) { fprintf(stderr, "error: invalid value '%s' for --color (auto, always or never)\n", a + 8); return 2; }
            continue;
        }
        if (!strcmp(a, "--agreement")) { agreement = 1; continue; }
        if (a[0] != '-' || !a[1]) {
            if (path) { fprintf(stderr, "error: unexpected argument '%s'\n", a); return 2; }
            path = a;
            continue;
        }
        if (!v) { fprintf(stderr, "error: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--tokens")) tokens_arg = v;
        else if (!strcmp(a, "--text")) text_path = v;
        else if (!strcmp(a, "--dump-logits")) dump_path = v;
        else if (!strcmp(a, "--color")) bad = rv_parse_color(v, &color);
        else if (!strcmp(a, "--routing-map")) map_path = v;
        else if (!strcmp(a, "--map-tokens")) bad = cli_int(v, 1, 1024, &map_tokens);
        else if (!strcmp(a, "--routing")) {
            routing_given = 1;
            if (!strcmp(v, "causal")) routing = MOD_ROUTING_CAUSAL;
            else if (!strcmp(v, "topk")) routing = MOD_ROUTING_TOPK;
            else bad = 1;
        }
        else if (!strcmp(a, "--capacity")) bad = cli_float(v, 1e-9, 1.0, &capacity);
        else if (!strcmp(a, "--threshold")) { bad = cli_float(v, -1e30, 1e30, &threshold); have_threshold = 1; }
        else if (!strcmp(a, "--ctx")) bad = cli_int(v, 1, 1 << 24, &ctx);
        else if (!strcmp(a, "--threads")) bad = cli_int(v, 1, 1024, &threads);
        else if (!strcmp(a, "--kv") || !strcmp(a, "--cache-type")) bad = cli_kv(v, &kv);
        else { fprintf(stderr, "error: unknown option '%s' (see --help)\n", a); return 2; }
        if (bad) { fprintf(stderr, "error: invalid value '%s' for %s (see --help)\n", v, a); return 2; }
        i++;
    }
    if (map_path && !routing_given && !incremental) routing = MOD_ROUTING_TOPK;
    if (incremental && routing == MOD_ROUTING_TOPK) {
        fprintf(stderr, "error: --incremental decodes causally; it cannot be combined with --routing topk\n");
        return 2;
    }
    if (!path || (!tokens_arg) == (!text_path)) {
        fprintf(stderr, "error: give a model and exactly one of --tokens or --text\n");
        usage(stderr);
        return 2;
    }
    memset(&out, 0, sizeof out);
    out.fd = -1;
    n_ids = input_ids(path, text_path, ids);
    if (dump_path && cli_output_check(dump_path, 1, ids, n_ids, NULL, why, sizeof why) != 0) { fprintf(stderr, "error: %s\n", why); return 1; }
    if (map_path && cli_output_check(map_path, 1, ids, n_ids, NULL, why, sizeof why) != 0) { fprintf(stderr, "error: %s\n", why); return 1; }
    if (map_path && dump_path && !strcmp(map_path, dump_path)) { fprintf(stderr, "error: --routing-map and --dump-logits name the same file\n"); return 2; }
    if (cli_load_model(&model, path, no_mmap, &err) != MOD_OK) {
        fprintf(stderr, "error: %s\n", err.message); /* it names the file */
        return 1;
    }
    c = mod_model_config(model);
    V = c->vocab_size;
    if (tokens_arg) {
        if (parse_tokens(tokens_arg, &toks, &n) != 0) { fprintf(stderr, "error: --tokens must be a comma-separated list of integers\n"); goto done; }
        if (n < 1) { fprintf(stderr, "error: no tokens to evaluate\n"); goto done; }
        for (i = 0; i < n; i++)
            if (toks[i] < 0 || toks[i] >= V) { fprintf(stderr, "error: token %d at index %d is outside the vocabulary [0, %d)\n", (int)toks[i], i, V); goto done; }
    } else {
        size_t len;
        char *text = cli_read_file(text_path, &len);
        int bad;
        if (!text) goto done;
        bad = ppl_text_tokens(model, text, len, text_path, &toks, &n);
        free(text);
        if (bad) goto done;
    }
    if (show && tokens_arg && mod_tokenize(model, "", 0, 0, &none, 1, &i, NULL) == MOD_ERR_NO_TOKENIZER) {
        fprintf(stderr, "error: --show-routing prints text, and the model file has no tokenizer\n");
        goto done;
    }
    memset(&sd, 0, sizeof sd);
    sd.max_tokens = ctx ? ctx : cli_default_ctx(model);
    sd.prompt_routing = routing;
    sd.capacity = capacity;
    sd.override_threshold = have_threshold;
    sd.threshold = threshold;
    sd.threads = threads;
    sd.kv_dtype = kv;
    W = sd.max_tokens;
    if ((r = mod_session_create(&s, model, &sd, &err)) != MOD_OK) { fprintf(stderr, "error: cannot create a session: %s\n", err.message); goto done; }
    logits = (float *)malloc((size_t)(n < W ? n : W) * (size_t)V * sizeof *logits);
    seen = (uint64_t *)calloc((size_t)c->n_layers, sizeof *seen);
    processed = (uint64_t *)calloc((size_t)c->n_layers, sizeof *processed);
    if (!logits || !seen || !processed) { fprintf(stderr, "error: out of memory\n"); goto done; }
    if (dump_path) {
        if (cli_output_open(&out, dump_path, 1, why, sizeof why) != 0) { fprintf(stderr, "error: %s\n", why); goto done; }
        if (!(dump = cli_output_stream(&out))) { fprintf(stderr, "error: cannot write %s: %s\n", dump_path, strerror(errno)); goto done; }
    }
    if (ppl_windows(s, model, toks, n, W, incremental, logits, &nll, &scored, seen, processed, NULL, dump, dump_path) != 0) goto done;
    if (show && show_routing(model, &sd, toks, n, incremental, show, color) != 0) goto done;
    if (map_path) {
        int m = routemap_write(model, &sd, toks, n, map_tokens, map_path, ids, n_ids, base_name(path),
                               text_path ? base_name(text_path) : "--tokens", why, sizeof why);
        if (m < 0) { fprintf(stderr, "error: %s\n", why); goto done; }
        if (m > 0) fprintf(stderr, "model has no routed blocks: nothing to show (%s not written)\n", map_path);
    }
    if (dump) {
        int bad = fclose(dump) != 0;
        dump = NULL;
        if (bad) { fprintf(stderr, "error: cannot write %s: %s\n", dump_path, strerror(errno)); goto done; }
        if (cli_output_commit(&out, ids, n_ids, why, sizeof why) != 0) { fprintf(stderr, "error: %s\n", why); goto done; }
    }
    printf("tokens: %d, scored: %ld, windows of %d\n", n, scored, W);
    if (scored) printf("mean nll: %.6f\nperplexity: %.4f\n", nll / (double)scored, exp(nll / (double)scored));
    else printf("mean nll: n/a (a window needs at least 2 tokens)\n");
    if (c->n_routed) {
        int l;
        printf("routing (%s):", routing == MOD_ROUTING_TOPK ? "topk" : "causal");
        for (l = 0; l < c->n_layers; l++)
            if (mod_model_layer_routed(model, l) == 1)
                printf(" L%d %.1f%%", l, seen[l] ? 100.0 * (double)processed[l] / (double)seen[l] : 0.0);
        printf("\n");
    }
    if (agreement && print_agreement(model, &sd, toks, n, have_threshold ? threshold : c->threshold) != 0) goto done;
    status = 0;
done:
    if (dump) fclose(dump);
    cli_output_abort(&out); /* nothing once committed */
    free(seen);
    free(processed);
    free(logits);
    free(toks);
    mod_session_free(s);
    mod_model_free(model);
    return status;
}
