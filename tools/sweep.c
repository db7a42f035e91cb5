/* mod-sweep: the quality/speed curve of a Mixture-of-Depths model. Perplexity of a text (as
   mod-eval computes it, tools/ppl.h), prefill and decode speed and FLOPs per token, for top-k
   routing at a list of capacities and causal routing at a list of thresholds, with a dense twin
   as a reference point; a table, JSON and an SVG plot. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_TMPFILE, for the output files (examples/cli.h) */
#endif
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "../examples/cli.h"
#include "ppl.h"
#include "svg.h"

#define MAX_LIST 64
#define MAX_REPEAT 64

enum { RULE_TOPK = 0, RULE_CAUSAL = 1, RULE_DENSE = 2 };

/* The default capacities; the model's own is added when it is not among them. */
static const float default_capacities[] = { 0.03125f, 0.0625f, 0.125f, 0.25f, 0.5f, 1.0f };
/* The default thresholds are the decision values' quantiles that leave these shares above them
   (and one below every value: every token processed); the model's own is added. */
static const double default_shares[] = { 0.03125, 0.0625, 0.125, 0.25, 0.5 };

typedef struct sweep_model {
    const char *path;
    mod_model *m;
    int32_t *toks;
    int n;
} sweep_model;

typedef struct point {
    int rule, model, trained;
    float setting;         /* capacity (0: each routed block's own) or threshold */
    mod_session *s;
    double nll, flops, share; /* share: tokens processed / seen over the routed blocks */
    long scored;
    double *block_share;   /* per routed block, in layer order */
    double pre[MAX_REPEAT], dec[MAX_REPEAT];
    double prefill_tps, decode_tps;
} point;

static void usage(FILE *f) {
    fprintf(f,
        "usage: mod-sweep MODEL --text FILE [options]\n"
        "  --text FILE          text to score (a BOS token is prepended if the model has one)\n"
        "  --dense TWIN.mod     a dense twin, scored and timed in the same rounds as a reference\n"
        "  --capacities LIST    top-k routing at each capacity in (0, 1], e.g. 0.125,0.25,1\n"
        "  --thresholds LIST    causal routing at each threshold, e.g. -1,0,0.5\n"
        "                       (neither: both rules, capacities 0.03125,0.0625,0.125,0.25,0.5,1\n"
        "                       and thresholds at the quantiles of the routers' decision values on\n"
        "                       the text that leave 1/32, 1/16, 1/8, 1/4 and 1/2 of them above, and\n"
        "                       one below them all; the model's own capacity and threshold added)\n"
        "  --ctx N              window length (default: the model's max_seq_len, at most 4096)\n"
        "  --threads N          threads (default: as many as the model's size pays for)\n"
        "  --repeat N           rounds of speed measurements, points alternating within each\n"
        "                       round; medians reported (default 3)\n"
        "  --speed-tokens N     prefill is timed on the text's first N tokens (in windows of the\n"
        "                       context), decoding on its first min(N, ctx) (default 1024)\n"
        "  --kv f32|f16         KV cache element type (default f32; also --cache-type)\n"
        "  --no-mmap            read model files into memory instead of mapping them\n"
        "  --json               print JSON instead of the table\n"
        "  --json-out FILE      also write the JSON to FILE\n"
        "  --plot OUT.svg       perplexity against decode speed and against FLOPs per token\n"
        "  -h, --help           this text\n");
}

/* A comma-separated list of finite floats, each as cli_float parses it (as mod-eval's
   --capacity and --threshold do); -1 for an empty list or item, a bad or out-of-range value. */
static int parse_floats(const char *s, double lo, double hi, float *out, int *n) {
    char item[64];
    *n = 0;
    if (!*s) return -1;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0 || len >= sizeof item || *n == MAX_LIST) return -1;
        memcpy(item, s, len);
        item[len] = 0;
        if (cli_float(item, lo, hi, &out[*n]) != 0) return -1;
        (*n)++;
        if (!e) return 0;
        s = e + 1;
    }
}

/* The shortest %g text that reads back as the same float. */
static const char *ftext(float v, char *buf, size_t cap) {
    int p;
    for (p = 1; p <= 9; p++) {
        snprintf(buf, cap, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return buf;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(const double *v, int n) {
    double t[MAX_REPEAT];
    memcpy(t, v, sizeof *t * (size_t)n);
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* A float rounded to 3 significant digits, as it reads back from its text. */
static float round3(double v) {
    char b[32];
    snprintf(b, sizeof b, "%.3g", v);
    return strtof(b, NULL);
}

/* The default thresholds: quantiles of the decision values of every routed block on every
   token of the text, routed causally at the model's own threshold. */
static int default_thresholds(const sweep_model *sm, int W, mod_kv_dtype kv, float *out, int *n_out) {
    const mod_config *c = mod_model_config(sm->m);
    mod_session_desc d;
    mod_session *s = NULL;
    mod_route *rec = NULL;
    float *v = NULL;
    size_t nv = 0, i;
    int start, k, status = -1;
    mod_error err;
    memset(&d, 0, sizeof d);
    d.max_tokens = W;
    d.prompt_routing = MOD_ROUTING_CAUSAL;
    d.kv_dtype = kv;
    rec = (mod_route *)malloc(sizeof *rec * (size_t)c->n_routed * (size_t)W);
    v = (float *)malloc(sizeof *v * (size_t)c->n_routed * (size_t)sm->n);
    if (!rec || !v) { fprintf(stderr, "error: out of memory\n"); goto done; }
    if (mod_session_create(&s, sm->m, &d, &err) != MOD_OK) { fprintf(stderr, "error: cannot create a session: %s\n", err.message); goto done; }
    mod_session_record_routing(s, rec, W);
    for (start = 0; start < sm->n; start += W) {
        const int len = sm->n - start < W ? sm->n - start : W;
        int r, got;
        mod_session_reset(s);
        if (mod_prefill(s, sm->toks + start, len, NULL) != MOD_OK) { fprintf(stderr, "error: %s\n", mod_session_error(s)); goto done; }
        got = mod_session_routing_recorded(s);
        for (r = 0; r < c->n_routed; r++)
            for (k = 0; k < got; k++) {
                const float x = rec[(size_t)r * (size_t)W + (size_t)k].decision;
                if (x == x) v[nv++] = x; /* a NaN decision is never above a threshold */
            }
    }
    {
        double *sorted = (double *)malloc(sizeof *sorted * nv);
        int m = 0;
        if (nv == 0) { *n_out = 0; status = 0; free(sorted); goto done; }
        if (!sorted) { fprintf(stderr, "error: out of memory\n"); goto done; }
        for (i = 0; i < nv; i++) sorted[i] = v[i];
        qsort(sorted, nv, sizeof *sorted, cmp_double);
        for (k = 0; k < (int)(sizeof default_shares / sizeof *default_shares); k++) {
            /* the midpoint below the top share of the values */
            size_t above = (size_t)ceil(default_shares[k] * (double)nv);
            if (above < 1 || above >= nv) continue;
            out[m++] = round3(0.5 * (sorted[nv - above - 1] + sorted[nv - above]));
        }
        {
            /* below every value: every token processed */
            double lo = sorted[0] - (sorted[nv - 1] - sorted[0]) - 1e-3; /* a span below: routing
                                                                      more tokens moves the values */
            float t = round3(lo);
            out[m++] = (double)t < sorted[0] ? t : (float)lo;
        }
        free(sorted);
        *n_out = m;
    }
    status = 0;
done:
    mod_session_free(s);
    free(rec);
    free(v);
    return status;
}

/* The routed blocks' capacity when they share one, else 0 (top-k with each block's own). */
static float own_capacity(const mod_model *m) {
    const mod_config *c = mod_model_config(m);
    float own = 0.0f;
    int i;
    for (i = 0; i < c->n_layers; i++)
        if (mod_model_layer_routed(m, i) == 1) {
            float cap = mod_model_layer_capacity(m, i);
            if (own == 0.0f) own = cap;
            else if (cap != own) return 0.0f;
        }
    return own;
}

static int add_unique(float *list, int *n, float v) {
    int i;
    for (i = 0; i < *n; i++) if (list[i] == v) return 0;
    if (*n == MAX_LIST) return -1;
    list[(*n)++] = v;
    return 0;
}

static int cmp_float_up(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}
static int cmp_float_down(const void *a, const void *b) { return cmp_float_up(b, a); }

/* The point's label in the table: "c=0.125", "t=-0.5", "own capacities", "dense". */
static const char *setting_text(const point *p, char *buf, size_t cap) {
    char f[32];
    if (p->rule == RULE_DENSE) snprintf(buf, cap, "-");
    else if (p->rule == RULE_TOPK && p->setting == 0.0f) snprintf(buf, cap, "c=own");
    else snprintf(buf, cap, "%s=%s", p->rule == RULE_TOPK ? "c" : "t", ftext(p->setting, f, sizeof f));
    return buf;
}

static const char *rule_name(int rule) { return rule == RULE_TOPK ? "topk" : rule == RULE_CAUSAL ? "causal" : "dense"; }

/* ---- JSON ------------------------------------------------------------------------------ */

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static void write_json(FILE *f, const sweep_model *sm, int n_models, const char *text, int W, int threads, int repeat,
                       int prefill_tokens, int decode_tokens, const point *pts, int n_pts) {
    int i, k;
    char b[32];
    const mod_config *c = mod_model_config(sm[0].m);
    fprintf(f, "{\"model\":");
    json_string(f, sm[0].path);
    fprintf(f, ",\"dense\":");
    if (n_models > 1) json_string(f, sm[1].path); else fputs("null", f);
    fprintf(f, ",\"text\":");
    json_string(f, text);
    fprintf(f, ",\"tokens\":%d,\"window\":%d,\"threads\":%d,\"repeat\":%d,\"prefill_tokens\":%d,\"decode_tokens\":%d",
            sm[0].n, W, threads, repeat, prefill_tokens, decode_tokens);
    fprintf(f, ",\"routed_blocks\":[");
    for (i = 0, k = 0; i < c->n_layers; i++)
        if (mod_model_layer_routed(sm[0].m, i) == 1) fprintf(f, "%s%d", k++ ? "," : "", i);
    fprintf(f, "],\"trained_threshold\":%s", ftext(c->threshold, b, sizeof b));
    fprintf(f, ",\"points\":[\n");
    for (i = 0; i < n_pts; i++) {
        const point *p = &pts[i];
        char mean[32], ppl[32];
        fprintf(f, "  {\"rule\":\"%s\",\"model\":\"%s\",\"capacity\":", rule_name(p->rule), p->model ? "twin" : "model");
        if (p->rule == RULE_TOPK && p->setting > 0.0f) fputs(ftext(p->setting, b, sizeof b), f); else fputs("null", f);
        fprintf(f, ",\"threshold\":");
        if (p->rule == RULE_CAUSAL) fputs(ftext(p->setting, b, sizeof b), f); else fputs("null", f);
        fprintf(f, ",\"trained\":%s", p->trained ? "true" : "false");
        if (p->scored) { snprintf(mean, sizeof mean, "%.6f", p->nll / (double)p->scored); snprintf(ppl, sizeof ppl, "%.4f", exp(p->nll / (double)p->scored)); }
        else { strcpy(mean, "null"); strcpy(ppl, "null"); }
        fprintf(f, ",\"tokens\":%d,\"scored\":%ld,\"nll\":%s,\"perplexity\":%s", sm[p->model].n, p->scored, mean, ppl);
        fprintf(f, ",\"flops\":%.0f,\"flops_per_token\":%.1f", p->flops, p->flops / (double)sm[p->model].n);
        if (p->rule == RULE_DENSE) fprintf(f, ",\"routed_share\":null,\"block_share\":[]");
        else {
            fprintf(f, ",\"routed_share\":%.4f,\"block_share\":[", p->share);
            for (k = 0; k < mod_model_config(sm[p->model].m)->n_routed; k++) fprintf(f, "%s%.4f", k ? "," : "", p->block_share[k]);
            fputc(']', f);
        }
        fprintf(f, ",\"prefill_tok_s\":%.1f,\"decode_tok_s\":", p->prefill_tps);
        if (p->rule == RULE_TOPK) fputs("null", f); else fprintf(f, "%.1f", p->decode_tps);
        fprintf(f, "}%s\n", i + 1 < n_pts ? "," : "");
    }
    fprintf(f, "]}\n");
}

/* ---- the plot -------------------------------------------------------------------------- */

static const int rule_shape[3] = { SVG_MARK_CIRCLE, SVG_MARK_SQUARE, SVG_MARK_DIAMOND };
static const char *rule_colour(int rule) { return svg_series(rule == RULE_TOPK ? 0 : rule == RULE_CAUSAL ? 1 : 5); }

/* top-k: filled circles; causal: open squares; dense: filled diamonds */
static void mark(svg *g, double x, double y, int rule, const char *extra) {
    if (rule == RULE_CAUSAL) svg_marker(g, x, y, 5.5, rule_shape[rule], "#ffffff", rule_colour(rule), 2, extra);
    else svg_marker(g, x, y, rule == RULE_TOPK ? 4 : 6, rule_shape[rule], rule_colour(rule), "#ffffff", 1, extra);
}

static double xval(const point *p, int panel, const sweep_model *sm) {
    return panel == 0 ? p->decode_tps : p->flops / (double)sm[p->model].n / 1e6;
}

static int by_share(const void *a, const void *b) {
    const point *x = *(const point *const *)a, *y = *(const point *const *)b;
    return x->share < y->share ? -1 : x->share > y->share;
}

static void panel(svg *g, const svg_plot *frame, int pn, const point *pts, int n_pts, const sweep_model *sm, double y0, double y1) {
    svg_plot p = *frame;
    double lo = INFINITY, hi = -INFINITY, pad;
    int i, rule;
    for (i = 0; i < n_pts; i++) {
        double x;
        if (pn == 0 && pts[i].rule == RULE_TOPK) continue;
        x = xval(&pts[i], pn, sm);
        if (x < lo) lo = x;
        if (x > hi) hi = x;
    }
    if (!(lo <= hi)) { lo = 0; hi = 1; }
    pad = hi > lo ? 0.06 * (hi - lo) : (lo != 0 ? 0.1 * fabs(lo) : 1.0);
    p.x0 = lo - pad; p.x1 = hi + pad;
    p.y0 = y0; p.y1 = y1;
    svg_axes(g, &p, pn == 0 ? "decode speed (tokens/s, measured, median)" : "work (MFLOP per token)", "perplexity");
    /* curves through each rule's points in order of the share of tokens processed */
    for (rule = RULE_TOPK; rule <= RULE_CAUSAL; rule++) {
        const point *ord[2 * MAX_LIST + 2];
        double xy[2 * (2 * MAX_LIST + 2)];
        int m = 0;
        if (pn == 0 && rule == RULE_TOPK) continue;
        for (i = 0; i < n_pts; i++) if (pts[i].rule == rule && pts[i].scored) ord[m++] = &pts[i];
        qsort(ord, (size_t)m, sizeof *ord, by_share);
        for (i = 0; i < m; i++) {
            xy[2 * i] = svg_px(&p, xval(ord[i], pn, sm));
            xy[2 * i + 1] = svg_py(&p, exp(ord[i]->nll / (double)ord[i]->scored));
        }
        if (m > 1) svg_polyline(g, xy, m, rule_colour(rule), 2, rule == RULE_CAUSAL ? "6 3" : NULL);
    }
    for (i = 0; i < 2 * n_pts; i++) {
        /* causal and dense first, top-k over them: where the rules agree both stay visible */
        const point *q = &pts[i % n_pts];
        char cls[64];
        double x, y;
        if ((i < n_pts) == (q->rule == RULE_TOPK)) continue;
        if ((pn == 0 && q->rule == RULE_TOPK) || !q->scored) continue;
        x = svg_px(&p, xval(q, pn, sm));
        y = svg_py(&p, exp(q->nll / (double)q->scored));
        snprintf(cls, sizeof cls, "class=\"point-%s %s\"", pn == 0 ? "decode" : "flops", rule_name(q->rule));
        mark(g, x, y, q->rule, cls);
        if (q->trained) svg_circle(g, x, y, 10, NULL, "#000000", 1.5);
    }
    if (pn == 0)
        svg_text(g, p.left + p.width / 2, p.top + p.height + 62, 12, SVG_MIDDLE, "#555555",
                 "(no top-k curve: top-k routes prefill only; decoding is always causal)");
}

static int write_plot(FILE *f, const point *pts, int n_pts, const sweep_model *sm, int n_models, const char *text) {
    svg g;
    svg_plot frame;
    double y0 = INFINITY, y1 = -INFINITY, pad, lx;
    char title[512];
    const char *base = strrchr(sm[0].path, '/'), *tbase = strrchr(text, '/');
    int i, rule;
    static const char *legend[4] = { "top-k routing (capacity)", "causal routing (threshold)", "dense twin", "trained setting" };
    base = base ? base + 1 : sm[0].path;
    tbase = tbase ? tbase + 1 : text;
    for (i = 0; i < n_pts; i++)
        if (pts[i].scored) {
            double v = exp(pts[i].nll / (double)pts[i].scored);
            if (v < y0) y0 = v;
            if (v > y1) y1 = v;
        }
    if (!(y0 <= y1)) { y0 = 0; y1 = 1; }
    pad = y1 > y0 ? 0.06 * (y1 - y0) : 0.05 * fabs(y0) + 0.01;
    y0 -= pad; y1 += pad;
    snprintf(title, sizeof title, "%s: perplexity of %s against decode speed and against FLOPs per token", base, tbase);
    svg_begin(&g, f, 960, 470, title);
    svg_text(&g, 480, 24, 15, SVG_MIDDLE, "#000000", title);
    /* the legend */
    lx = 90;
    for (i = 0; i < 4; i++) {
        if (i == 2 && n_models < 2 && mod_model_config(sm[0].m)->n_routed) continue;
        rule = i < 3 ? i : -1;
        if (rule == RULE_TOPK || rule == RULE_CAUSAL) svg_line(&g, lx - 16, 49, lx + 16, 49, rule_colour(rule), 2, rule == RULE_CAUSAL ? "6 3" : NULL);
        if (rule >= 0) mark(&g, lx, 49, rule, NULL);
        else svg_circle(&g, lx, 49, 8, NULL, "#000000", 1.5);
        svg_text(&g, lx + 22, 53, 13, SVG_START, "#000000", i == 2 && !(n_models > 1) ? "dense model" : legend[i]);
        lx += 22 + 8.0 * (double)strlen(legend[i]) + 30;
    }
    frame.top = 80; frame.height = 300; frame.width = 360; frame.xlog = frame.ylog = 0;
    frame.left = 90;
    panel(&g, &frame, 0, pts, n_pts, sm, y0, y1);
    frame.left = 570;
    panel(&g, &frame, 1, pts, n_pts, sm, y0, y1);
    return svg_end(&g);
}

/* ---- main ------------------------------------------------------------------------------ */

static int open_output(cli_out *o, const char *path, FILE **f) {
    char why[4400];
    *f = NULL;
    if (cli_output_open(o, path, 1, why, sizeof why) != 0) { fprintf(stderr, "error: %s\n", why); return -1; }
    if (!(*f = cli_output_stream(o))) { fprintf(stderr, "error: cannot write %s: %s\n", path, strerror(errno)); return -1; }
    return 0;
}

static int close_output(cli_out *o, FILE *f, const char *path, const cli_file_id *ids, int n_ids) {
    char why[4400];
    int bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    if (bad) { fprintf(stderr, "error: cannot write %s: %s\n", path, strerror(errno)); return -1; }
    if (cli_output_commit(o, ids, n_ids, why, sizeof why) != 0) { fprintf(stderr, "error: %s\n", why); return -1; }
    return 0;
}

int main(int argc, char **argv) {
    const char *path = NULL, *text = NULL, *dense = NULL, *plot = NULL, *json_out = NULL;
    const char *outs[2];
    float caps[MAX_LIST], ths[MAX_LIST];
    int n_caps = 0, n_ths = 0, have_caps = 0, have_ths = 0, json = 0, no_mmap = 0;
    int threads = 0, ctx = 0, repeat = 3, speed_tokens = 1024;
    int i, k, r, n_models = 0, n_pts = 0, status = 1, W, prefill_n, decode_n, n_ids = 0;
    mod_kv_dtype kv = MOD_KV_F32;
    sweep_model sm[2];
    point *pts = NULL;
    cli_file_id ids[3];
    cli_out out[2];
    float *logits = NULL;
    uint64_t *seen = NULL, *processed = NULL;
    const mod_config *c;
    char why[4400], *text_bytes = NULL;
    size_t text_len = 0;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!strcmp(a, "--json")) { json = 1; continue; }
        if (!strcmp(a, "--no-mmap")) { no_mmap = 1; continue; }
        if (a[0] != '-' || !a[1]) {
            if (path) { fprintf(stderr, "error: unexpected argument '%s'\n", a); return 2; }
            path = a;
            continue;
        }
        if (!v) { fprintf(stderr, "error: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--text")) text = v;
        else if (!strcmp(a, "--dense")) dense = v;
        else if (!strcmp(a, "--plot")) plot = v;
        else if (!strcmp(a, "--json-out")) json_out = v;
        else if (!strcmp(a, "--capacities")) {
            have_caps = 1;
            if (parse_floats(v, 1e-9, 1.0, caps, &n_caps) != 0) {
                fprintf(stderr, "error: --capacities '%s': give a comma-separated list of up to %d capacities, each in (0, 1]\n", v, MAX_LIST);
                return 2;
            }
        } else if (!strcmp(a, "--thresholds")) {
            have_ths = 1;
            if (parse_floats(v, -1e30, 1e30, ths, &n_ths) != 0) {
                fprintf(stderr, "error: --thresholds '%s': give a comma-separated list of up to %d finite numbers\n", v, MAX_LIST);
                return 2;
            }
        }
        else if (!strcmp(a, "--ctx")) bad = cli_int(v, 2, 1 << 24, &ctx);
        else if (!strcmp(a, "--threads")) bad = cli_int(v, 1, 1024, &threads);
        else if (!strcmp(a, "--repeat")) bad = cli_int(v, 1, MAX_REPEAT, &repeat);
        else if (!strcmp(a, "--speed-tokens")) bad = cli_int(v, 1, 1 << 24, &speed_tokens);
        else if (!strcmp(a, "--kv") || !strcmp(a, "--cache-type")) bad = cli_kv(v, &kv);
        else { fprintf(stderr, "error: unknown option '%s' (see --help)\n", a); return 2; }
        if (bad) { fprintf(stderr, "error: invalid value '%s' for %s (see --help)\n", v, a); return 2; }
        i++;
    }
    if (!path || !text) {
        fprintf(stderr, "error: give a model and --text FILE\n");
        usage(stderr);
        return 2;
    }
    if (plot && json_out && !strcmp(plot, json_out)) { fprintf(stderr, "error: --plot and --json-out name the same file\n"); return 2; }
    memset(sm, 0, sizeof sm);
    memset(out, 0, sizeof out);
    out[0].fd = out[1].fd = -1;
    outs[0] = plot;
    outs[1] = json_out;
    {
        /* the outputs may replace neither an input nor each other's inputs */
        struct stat st;
        if (stat(path, &st) == 0) ids[n_ids++] = cli_file_id_of(path, &st);
        if (stat(text, &st) == 0) ids[n_ids++] = cli_file_id_of(text, &st);
        if (dense && stat(dense, &st) == 0) ids[n_ids++] = cli_file_id_of(dense, &st);
        for (k = 0; k < 2; k++)
            if (outs[k] && cli_output_check(outs[k], 1, ids, n_ids, NULL, why, sizeof why) != 0) { fprintf(stderr, "error: %s\n", why); return 1; }
    }
    for (k = 0; k < 1 + (dense != NULL); k++) {
        mod_error err;
        sm[k].path = k ? dense : path;
        if (cli_load_model(&sm[k].m, sm[k].path, no_mmap, &err) != MOD_OK) { fprintf(stderr, "error: %s\n", err.message); goto done; }
        n_models++;
    }
    /* read once (it may be a pipe), tokenized by each model */
    if (!(text_bytes = cli_read_file(text, &text_len))) goto done;
    for (k = 0; k < n_models; k++)
        if (ppl_text_tokens(sm[k].m, text_bytes, text_len, text, &sm[k].toks, &sm[k].n) != 0) goto done;
    free(text_bytes);
    text_bytes = NULL;
    if (n_models > 1 && mod_model_config(sm[1].m)->n_routed)
        fprintf(stderr, "note: %s has routed blocks; it is measured with its own routing (causal, its own threshold)\n", dense);
    if (n_models > 1 && sm[1].n != sm[0].n)
        fprintf(stderr, "note: %s and %s tokenize the text into %d and %d tokens: their perplexities are per token of each\n", path, dense, sm[0].n, sm[1].n);
    c = mod_model_config(sm[0].m);
    W = ctx ? ctx : cli_default_ctx(sm[0].m);

    /* the points */
    if (!c->n_routed) {
        fprintf(stderr, "model has no routed blocks: one point\n");
        n_caps = n_ths = 0;
    } else {
        const float own = own_capacity(sm[0].m);
        if (!have_caps && !have_ths) {
            for (i = 0; i < (int)(sizeof default_capacities / sizeof *default_capacities); i++) caps[n_caps++] = default_capacities[i];
            /* the model's own capacity: one value, or 0 (each routed block's own) */
            add_unique(caps, &n_caps, own);
            qsort(caps, (size_t)n_caps, sizeof *caps, cmp_float_up);
            if (default_thresholds(&sm[0], W, kv, ths, &n_ths) != 0) goto done;
            add_unique(ths, &n_ths, c->threshold);
            qsort(ths, (size_t)n_ths, sizeof *ths, cmp_float_down);
        }
    }
    pts = (point *)calloc((size_t)(n_caps + n_ths + 2), sizeof *pts);
    if (!pts) { fprintf(stderr, "error: out of memory\n"); goto done; }
    {
        const float own = own_capacity(sm[0].m);
        for (i = 0; i < n_caps; i++) {
            point *p = &pts[n_pts++];
            p->rule = RULE_TOPK; p->setting = caps[i];
            p->trained = caps[i] == own;
        }
        for (i = 0; i < n_ths; i++) {
            point *p = &pts[n_pts++];
            p->rule = RULE_CAUSAL; p->setting = ths[i];
            p->trained = ths[i] == c->threshold;
        }
        if (!c->n_routed) { pts[n_pts].rule = RULE_DENSE; pts[n_pts++].model = 0; }
        if (n_models > 1) { pts[n_pts].rule = RULE_DENSE; pts[n_pts++].model = 1; }
    }

    /* sessions, and each point's perplexity, FLOPs and routing shares: once (they are exact) */
    {
        size_t most = 0;
        int most_l = 0;
        for (k = 0; k < n_models; k++) {
            const mod_config *ck = mod_model_config(sm[k].m);
            /* a window's rows of logits, as mod-eval holds them */
            size_t rows = (size_t)(sm[k].n < W ? sm[k].n : W) * (size_t)ck->vocab_size;
            if (rows > most) most = rows;
            if (ck->n_layers > most_l) most_l = ck->n_layers;
        }
        logits = (float *)malloc(sizeof *logits * most);
        seen = (uint64_t *)malloc(sizeof *seen * (size_t)most_l);
        processed = (uint64_t *)malloc(sizeof *processed * (size_t)most_l);
        if (!logits || !seen || !processed) { fprintf(stderr, "error: out of memory\n"); goto done; }
    }
    for (i = 0; i < n_pts; i++) {
        point *p = &pts[i];
        const sweep_model *m = &sm[p->model];
        const mod_config *cm = mod_model_config(m->m);
        mod_session_desc d;
        mod_error err;
        uint64_t rs = 0, rp = 0;
        int l, ri = 0;
        memset(&d, 0, sizeof d);
        d.max_tokens = W;
        d.threads = threads;
        d.kv_dtype = kv;
        d.prompt_routing = p->rule == RULE_TOPK ? MOD_ROUTING_TOPK : MOD_ROUTING_CAUSAL;
        if (p->rule == RULE_TOPK) d.capacity = p->setting;
        if (p->rule == RULE_CAUSAL) { d.override_threshold = 1; d.threshold = p->setting; }
        if (mod_session_create(&p->s, m->m, &d, &err) != MOD_OK) { fprintf(stderr, "error: cannot create a session: %s\n", err.message); goto done; }
        memset(seen, 0, sizeof *seen * (size_t)cm->n_layers);
        memset(processed, 0, sizeof *processed * (size_t)cm->n_layers);
        if (ppl_windows(p->s, m->m, m->toks, m->n, W, 0, logits, &p->nll, &p->scored, seen, processed, &p->flops, NULL, NULL) != 0) goto done;
        p->block_share = (double *)calloc((size_t)cm->n_routed + 1, sizeof *p->block_share);
        if (!p->block_share) { fprintf(stderr, "error: out of memory\n"); goto done; }
        for (l = 0; l < cm->n_layers; l++)
            if (mod_model_layer_routed(m->m, l) == 1) {
                p->block_share[ri++] = seen[l] ? (double)processed[l] / (double)seen[l] : 0.0;
                rs += seen[l];
                rp += processed[l];
            }
        p->share = p->rule == RULE_DENSE ? 1.0 : rs ? (double)rp / (double)rs : 0.0;
    }

    /* speed: rounds in which every point is timed once, prefill then decoding */
    prefill_n = sm[0].n < speed_tokens ? sm[0].n : speed_tokens;
    decode_n = prefill_n < W ? prefill_n : W;
    for (r = 0; r < repeat; r++)
        for (i = 0; i < n_pts; i++) {
            point *p = &pts[i];
            const sweep_model *m = &sm[p->model];
            const int pn = m->n < speed_tokens ? m->n : speed_tokens, dn = pn < W ? pn : W;
            double t0, t = 0.0;
            int start, j;
            for (start = 0; start < pn; start += W) {
                const int len = pn - start < W ? pn - start : W;
                mod_session_reset(p->s);
                t0 = cli_now();
                if (mod_prefill(p->s, m->toks + start, len, NULL) != MOD_OK) { fprintf(stderr, "error: %s\n", mod_session_error(p->s)); goto done; }
                t += cli_now() - t0;
            }
            p->pre[r] = (double)pn / t;
            if (p->rule == RULE_TOPK) continue; /* decoding is causal whatever the prompt rule */
            mod_session_reset(p->s);
            t0 = cli_now();
            for (j = 0; j < dn; j++)
                if (mod_decode(p->s, m->toks[j]) != MOD_OK) { fprintf(stderr, "error: %s\n", mod_session_error(p->s)); goto done; }
            p->dec[r] = (double)dn / (cli_now() - t0);
        }
    for (i = 0; i < n_pts; i++) {
        pts[i].prefill_tps = median(pts[i].pre, repeat);
        pts[i].decode_tps = pts[i].rule == RULE_TOPK ? 0.0 : median(pts[i].dec, repeat);
    }
    threads = mod_session_threads(pts[0].s);

    if (json) write_json(stdout, sm, n_models, text, W, threads, repeat, prefill_n, decode_n, pts, n_pts);
    else {
        printf("%s on %s: %d tokens in windows of %d; %d thread%s; speeds: median of %d round%s, prefill of %d tokens, decoding of %d\n",
               path, text, sm[0].n, W, threads, threads > 1 ? "s" : "", repeat, repeat > 1 ? "s" : "", prefill_n, decode_n);
        printf("%-7s %-12s %7s %9s %11s %12s %14s %13s\n", "rule", "setting", "routed", "mean nll", "perplexity",
               "MFLOP/token", "prefill tok/s", "decode tok/s");
        for (i = 0; i < n_pts; i++) {
            const point *p = &pts[i];
            char set[48], share[16], dec[32];
            setting_text(p, set, sizeof set);
            if (p->trained) strcat(set, " *");
            if (p->rule == RULE_DENSE) snprintf(share, sizeof share, "-");
            else snprintf(share, sizeof share, "%.1f%%", 100.0 * p->share);
            if (p->rule == RULE_TOPK) snprintf(dec, sizeof dec, "-");
            else snprintf(dec, sizeof dec, "%.1f", p->decode_tps);
            printf("%-7s %-12s %7s ", p->rule == RULE_DENSE ? (p->model ? "twin" : "dense") : rule_name(p->rule), set, share);
            if (p->scored) printf("%9.6f %11.4f", p->nll / (double)p->scored, exp(p->nll / (double)p->scored));
            else printf("%9s %11s", "n/a", "n/a");
            printf(" %12.3f %14.1f %13s\n", p->flops / (double)sm[p->model].n / 1e6, p->prefill_tps, dec);
        }
        for (k = 0, i = 0; i < n_pts; i++) k |= pts[i].trained;
        if (c->n_routed) printf("%srouted: share of tokens the routed blocks processed; decoding is always causal\n", k ? "* the model's own setting; " : "");
    }
    if (json_out) {
        FILE *f;
        if (open_output(&out[1], json_out, &f) != 0) goto done;
        write_json(f, sm, n_models, text, W, threads, repeat, prefill_n, decode_n, pts, n_pts);
        if (close_output(&out[1], f, json_out, ids, n_ids) != 0) goto done;
    }
    if (plot) {
        FILE *f;
        if (open_output(&out[0], plot, &f) != 0) goto done;
        if (write_plot(f, pts, n_pts, sm, n_models, text) != 0) { fclose(f); fprintf(stderr, "error: cannot write %s\n", plot); goto done; }
        if (close_output(&out[0], f, plot, ids, n_ids) != 0) goto done;
    }
    status = 0;
done:
    cli_output_abort(&out[0]);
    cli_output_abort(&out[1]);
    if (pts)
        for (i = 0; i < n_pts; i++) { mod_session_free(pts[i].s); free(pts[i].block_share); }
    free(pts);
    free(text_bytes);
    free(logits);
    free(seen);
    free(processed);
    for (k = 0; k < 2; k++) { free(sm[k].toks); mod_model_free(sm[k].m); }
    return status;
}
