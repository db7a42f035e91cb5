/* mod-tokbench: how long mod_tokenize takes as the text grows, for both tokenizer kinds.

   usage: mod-tokbench [BPE.mod] [options]     (see --help)
   The byte-level BPE tokenizer is the model file's (default models/kjv-mod.mod); the scored
   BPE (llama2.c-style) tokenizer comes from a model built in memory by tools/mkmodel.h.
   Texts: one word repeated without spaces, one letter repeated, and prose (a file repeated
   until long enough). Each figure is the median of the repetitions. */
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "../examples/cli.h"
#include "mkmodel.h"

#define MAX_SIZES 16

typedef struct opts {
    const char *bpe_path, *prose_path, *word, *letter;
    size_t sizes[MAX_SIZES];
    int n_sizes, repeat, scored_merges;
    int texts[3];   /* word, letter, prose: measured or not */
    int kinds[2];   /* byte-level BPE, scored BPE: measured or not */
    double budget;
} opts;

static void usage(FILE *f) {
    fprintf(f,
        "usage: mod-tokbench [BPE.mod] [options]\n"
        "  BPE.mod             model whose tokenizer is byte-level BPE (default models/kjv-mod.mod)\n"
        "  --sizes LIST        text sizes in bytes, k and m suffixes allowed (default 1k,100k,1m)\n"
        "  --word W            the word repeated without spaces (default \"the\")\n"
        "  --letter C          the letter repeated (default \"l\": both tokenizers have \"ll\")\n"
        "  --prose FILE        prose repeated to each size (default models/heldout.txt)\n"
        "  --texts LIST        which of word, letter, prose to measure (default all three)\n"
        "  --kinds LIST        which of bpe, scored to measure (default both)\n"
        "  --scored-merges N   multi-character tokens of the scored BPE tokenizer (default 2000)\n"
        "  --repeat N          repetitions, the median is shown (default 5)\n"
        "  --budget S          stop repeating a measurement after S seconds (default 2; one\n"
        "                      run always happens)\n"
        "  -h, --help          this text\n");
}

static int parse_size(const char *s, size_t *out) {
    char *end;
    unsigned long long v;
    if (!*s || *s == '-') return -1;
    v = strtoull(s, &end, 10);
    if (end == s) return -1;
    if (*end == 'k' || *end == 'K') { v *= 1000; end++; }
    else if (*end == 'm' || *end == 'M') { v *= 1000000; end++; }
    if (v == 0 || v > (unsigned long long)INT_MAX - 2) return -1;
    *out = (size_t)v;
    return end - s;
}

static int parse_sizes(const char *s, opts *o) {
    o->n_sizes = 0;
    while (*s && o->n_sizes < MAX_SIZES) {
        int used = parse_size(s, &o->sizes[o->n_sizes]);
        if (used < 0 || (s[used] && s[used] != ',')) return -1;
        o->n_sizes++;
        s += used;
        if (*s) s++;
    }
    return o->n_sizes ? 0 : -1;
}

/* Sets flags[i] for each name of names[] found in the comma-separated list s; -1 if a name
   is unknown or none is given. */
static int parse_names(const char *s, const char *const *names, int n, int *flags) {
    int i, any = 0;
    for (i = 0; i < n; i++) flags[i] = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        for (i = 0; i < n && (strlen(names[i]) != len || strncmp(s, names[i], len)); i++) {}
        if (i == n) return -1;
        flags[i] = any = 1;
        s += len;
        if (*s) s++;
    }
    return any ? 0 : -1;
}

/* 0: run; 1: help printed; 2: bad arguments. */
static int parse_args(int argc, char **argv, opts *o) {
    int i;
    memset(o, 0, sizeof *o);
    o->bpe_path = "models/kjv-mod.mod";
    o->prose_path = "models/heldout.txt";
    o->word = "the";
    o->letter = "l";
    o->repeat = 5;
    o->scored_merges = 2000;
    o->budget = 2.0;
    o->texts[0] = o->texts[1] = o->texts[2] = 1;
    o->kinds[0] = o->kinds[1] = 1;
    parse_sizes("1k,100k,1m", o);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        float budget;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 1; }
        if (a[0] != '-') { o->bpe_path = a; continue; }
        if (!v) { fprintf(stderr, "error: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--sizes")) bad = parse_sizes(v, o);
        else if (!strcmp(a, "--word")) { o->word = v; bad = !*v; }
        else if (!strcmp(a, "--letter")) { o->letter = v; bad = strlen(v) != 1; }
        else if (!strcmp(a, "--prose")) o->prose_path = v;
        else if (!strcmp(a, "--texts")) {
            static const char *const names[] = {"word", "letter", "prose"};
            bad = parse_names(v, names, 3, o->texts);
        }
        else if (!strcmp(a, "--kinds")) {
            static const char *const names[] = {"bpe", "scored"};
            bad = parse_names(v, names, 2, o->kinds);
        }
        else if (!strcmp(a, "--scored-merges")) bad = cli_int(v, 1, 20000, &o->scored_merges);
        else if (!strcmp(a, "--repeat")) bad = cli_int(v, 1, 1000, &o->repeat);
        else if (!strcmp(a, "--budget")) { bad = cli_float(v, 0.0, 1e6, &budget); o->budget = budget; }
        else { fprintf(stderr, "error: unknown option '%s' (see --help)\n", a); return 2; }
        if (bad) { fprintf(stderr, "error: invalid value '%s' for %s (see --help)\n", v, a); return 2; }
        i++;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* len bytes of src repeated (src need not end where the text does). */
static char *repeat_text(const char *src, size_t n, size_t len) {
    char *t = (char *)malloc(len ? len : 1);
    size_t i;
    if (!t) return NULL;
    for (i = 0; i < len; i++) t[i] = src[i % n];
    return t;
}

/* Times mod_tokenize on text; prints one row. 0 on success. */
static int measure(const opts *o, const mod_model *m, const char *kind, const char *what,
                   const char *text, size_t len, int32_t *toks) {
    double t[1000], spent = 0, med;
    int r, n = 0;
    mod_result res = MOD_OK;
    for (r = 0; r < o->repeat && (r == 0 || spent < o->budget); r++) {
        double t0 = cli_now();
        res = mod_tokenize(m, text, len, 0, toks, (int)len + 2, &n, NULL);
        t[r] = cli_now() - t0;
        spent += t[r];
        if (res != MOD_OK) break;
    }
    if (res != MOD_OK) {
        printf("| %s | %s | %zu | error: %s |\n", kind, what, len, mod_result_string(res));
        return 1;
    }
    qsort(t, (size_t)r, sizeof t[0], cmp_double);
    med = r % 2 ? t[r / 2] : 0.5 * (t[r / 2 - 1] + t[r / 2]);
    printf("| %s | %s | %zu | %d | %d | %.3f | %.3g |\n", kind, what, len, n, r, med * 1e3,
           (double)len / 1e6 / (med > 0 ? med : 1e-12));
    fflush(stdout);
    return 0;
}

static int run_model(const opts *o, const mod_model *m, const char *kind, const char *prose, size_t prose_len) {
    size_t biggest = 0;
    int s, w, bad = 0;
    int32_t *toks;
    for (s = 0; s < o->n_sizes; s++) if (o->sizes[s] > biggest) biggest = o->sizes[s];
    toks = (int32_t *)malloc((biggest + 2) * sizeof *toks);
    if (!toks) { fprintf(stderr, "error: out of memory\n"); return 1; }
    for (w = 0; w < 3 && !bad; w++) {
        char what[64];
        if (!o->texts[w]) continue;
        const char *src = w == 0 ? o->word : w == 1 ? o->letter : prose;
        size_t n = w == 2 ? prose_len : strlen(src);
        if (w == 2) snprintf(what, sizeof what, "prose");
        else snprintf(what, sizeof what, "\"%.20s\" repeated", src);
        for (s = 0; s < o->n_sizes && !bad; s++) {
            char *text = repeat_text(src, n, o->sizes[s]);
            if (!text) { fprintf(stderr, "error: out of memory\n"); bad = 1; break; }
            bad = measure(o, m, kind, what, text, o->sizes[s], toks);
            free(text);
        }
    }
    free(toks);
    return bad;
}

static int load_scored(const opts *o, mod_model **m, unsigned char **buf) {
    mkm_opts k;
    size_t size;
    mod_error err;
    mkm_defaults(&k);
    k.tokenizer = MKM_TOKENIZER_SCORED;
    k.n_merges = o->scored_merges;
    k.n_layers = 1;
    if (mkm_build(&k, buf, &size) != 0) { fprintf(stderr, "error: cannot build the scored BPE model\n"); return 1; }
    if (mod_model_load_memory(m, *buf, size, NULL, &err) != MOD_OK) {
        fprintf(stderr, "error: scored BPE model: %s\n", err.message);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    opts o;
    mod_model *bpe = NULL, *scored = NULL;
    unsigned char *scored_buf = NULL;
    mod_error err;
    char *prose;
    size_t prose_len;
    int parsed, status = 1;
    if ((parsed = parse_args(argc, argv, &o)) != 0) return parsed == 1 ? 0 : 2;
    if (!(prose = cli_read_file(o.prose_path, &prose_len))) return 1;
    if (!prose_len) { fprintf(stderr, "error: %s is empty\n", o.prose_path); free(prose); return 1; }
    if (mod_model_load_file(&bpe, o.bpe_path, NULL, &err) != MOD_OK) {
        fprintf(stderr, "error: %s\n", err.message); /* it names the file */
        free(prose);
        return 1;
    }
    if (load_scored(&o, &scored, &scored_buf) == 0) {
        printf("mod_tokenize, median of up to %d runs (at most %.1f s of repeats each)\n\n", o.repeat, o.budget);
        printf("| tokenizer | text | bytes | tokens | runs | ms | MB/s |\n|---|---|---:|---:|---:|---:|---:|\n");
        if ((!o.kinds[0] || run_model(&o, bpe, "byte-level BPE", prose, prose_len) == 0) &&
            (!o.kinds[1] || run_model(&o, scored, "scored BPE", prose, prose_len) == 0))
            status = 0;
    }
    mod_model_free(scored);
    mod_model_free(bpe);
    free(scored_buf);
    free(prose);
    return status;
}
