/* mod-ab: two builds of mod.h side by side in one process, for before/after figures on a
   shared, noisy machine. Side A and side B (tools/ab_side.c compiled against two copies of
   mod.h, e.g. a git revision and the working tree: tools/ab.sh) load the same model file; each
   repetition times A then B, or B then A, alternately, and the B/A speed ratio is taken pair by
   pair, so both sides see the same moments of the machine. Reports each side's median tokens/s
   and the median, lowest and highest pair ratio.

   usage: mod-ab MODEL.mod [--threads N] [--prompt N] [--decode N] [--repeat N]
   environment: AB_KV=f32|f16|q8_0 (the KV cache), AB_DEPTH=N (decoding follows an N-token
   prompt; default 16) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *ab_a_open(const char *path, int threads, int max_tokens);
double ab_a_prefill(void *h, int n);
double ab_a_decode(void *h, int n);
void ab_a_close(void *h);
void *ab_b_open(const char *path, int threads, int max_tokens);
double ab_b_prefill(void *h, int n);
double ab_b_decode(void *h, int n);
void ab_b_close(void *h);

#define AB_MAX_REPEAT 101

static int ab_cmp(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double ab_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, ab_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* what: 0 prefill of n tokens, 1 decoding of n tokens */
static int ab_measure(void *a, void *b, int what, int n, int repeat, const char *label) {
    double ta[AB_MAX_REPEAT], tb[AB_MAX_REPEAT], ratio[AB_MAX_REPEAT], lo, hi;
    int r;
    for (r = 0; r < repeat; r++) {
        if (r % 2 == 0) {
            ta[r] = what ? ab_a_decode(a, n) : ab_a_prefill(a, n);
            tb[r] = what ? ab_b_decode(b, n) : ab_b_prefill(b, n);
        } else {
            tb[r] = what ? ab_b_decode(b, n) : ab_b_prefill(b, n);
            ta[r] = what ? ab_a_decode(a, n) : ab_a_prefill(a, n);
        }
        if (ta[r] <= 0 || tb[r] <= 0) {
            fprintf(stderr, "error: %s failed\n", label);
            return 1;
        }
        ratio[r] = tb[r] / ta[r];
    }
    qsort(ratio, (size_t)repeat, sizeof *ratio, ab_cmp);
    lo = ratio[0];
    hi = ratio[repeat - 1];
    printf("%-14s A %9.1f tok/s   B %9.1f tok/s   B/A %.3f (pairs %.3f .. %.3f, %d)\n", label, ab_median(ta, repeat),
           ab_median(tb, repeat), ab_median(ratio, repeat), lo, hi, repeat);
    return 0;
}

static int ab_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return 1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int threads = 1, prompt = 256, decode = 64, repeat = 9, i, rc = 0;
    char label[64];
    void *a, *b;
    for (i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: mod-ab MODEL.mod [--threads N] [--prompt N] [--decode N] [--repeat N]\n"
                   "  times side A and side B of this build on the same model, alternating\n"
                   "  (defaults: 1 thread, prompt 256, decode 64 (0: none), 9 repetitions)\n");
            return 0;
        } else if (!strcmp(argv[i], "--threads")) bad = !v || ab_int(v, 1, 1024, &threads);
        else if (!strcmp(argv[i], "--prompt")) bad = !v || ab_int(v, 0, 1 << 20, &prompt);
        else if (!strcmp(argv[i], "--decode")) bad = !v || ab_int(v, 0, 1 << 20, &decode);
        else if (!strcmp(argv[i], "--repeat")) bad = !v || ab_int(v, 1, AB_MAX_REPEAT, &repeat);
        else if (argv[i][0] != '-' && !path) { path = argv[i]; continue; }
        else bad = 1;
        if (bad) {
            fprintf(stderr, "error: bad argument '%s%s%s' (see --help)\n", argv[i], v ? " " : "", v ? v : "");
            return 2;
        }
        i++;
    }
    if (!path || (!prompt && !decode)) {
        fprintf(stderr, "usage: mod-ab MODEL.mod [--threads N] [--prompt N] [--decode N] [--repeat N]\n");
        return 2;
    }
    a = ab_a_open(path, threads, (prompt > 16 + decode ? prompt : 16 + decode));
    b = a ? ab_b_open(path, threads, (prompt > 16 + decode ? prompt : 16 + decode)) : NULL;
    if (!a || !b) {
        ab_a_close(a);
        return 1;
    }
    printf("%s, %d thread(s)\n", path, threads);
    /* one untimed round each: page in the weights, start the threads */
    if (prompt) { ab_a_prefill(a, prompt); ab_b_prefill(b, prompt); }
    if (prompt) {
        snprintf(label, sizeof label, "prefill %d", prompt);
        rc |= ab_measure(a, b, 0, prompt, repeat, label);
    }
    if (decode) {
        snprintf(label, sizeof label, "decode %d", decode);
        rc |= ab_measure(a, b, 1, decode, repeat, label);
    }
    ab_a_close(a);
    ab_b_close(b);
    return rc;
}
