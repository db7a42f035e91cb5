/* Compares logits dumped by mod-eval with the double-precision reference (tests/ref.h).
   usage: check_logits MODEL LOGITS topk|causal WINDOW TOKENS(1,2,3)
   Prints the relative difference; exit 0 when it is within 1e-4 of the largest logit. */
#include "ref.h"
#include <stdio.h>

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long len;
    if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) { if (f) fclose(f); return NULL; }
    b = (unsigned char *)malloc((size_t)len + 1);
    if (!b || fread(b, 1, (size_t)len, f) != (size_t)len) { free(b); fclose(f); return NULL; }
    fclose(f);
    *n = (size_t)len;
    return b;
}

int main(int argc, char **argv) {
    size_t msize, lsize;
    unsigned char *model, *lbytes;
    int toks[4096], n = 0, V, W, start, rule;
    double md = 0, mx = 1e-30;
    char *p;
    if (argc != 6) { fprintf(stderr, "usage: check_logits MODEL LOGITS topk|causal WINDOW TOKENS\n"); return 2; }
    model = slurp(argv[1], &msize);
    lbytes = slurp(argv[2], &lsize);
    if (!model || !lbytes) { fprintf(stderr, "cannot read inputs\n"); return 2; }
    rule = strcmp(argv[3], "topk") == 0 ? REF_RULE_TOPK : REF_RULE_CAUSAL;
    W = atoi(argv[4]);
    for (p = argv[5]; *p && n < 4096;) {
        toks[n++] = (int)strtol(p, &p, 10);
        if (*p == ',') p++;
    }
    V = ref_vocab_size(model);
    if (lsize != (size_t)n * (size_t)V * 4) { fprintf(stderr, "logits file is %zu bytes, want %d x %d floats\n", lsize, n, V); return 1; }
    for (start = 0; start < n; start += W) {
        int len = n - start < W ? n - start : W, i;
        double *ref = (double *)malloc(sizeof(double) * (size_t)len * V);
        if (!ref || ref_forward(model, msize, toks + start, len, rule, 0, 0, 0, ref) != 0) { fprintf(stderr, "reference failed\n"); return 1; }
        for (i = 0; i < len * V; i++) {
            float f;
            double e;
            memcpy(&f, lbytes + ((size_t)start * V + (size_t)i) * 4, 4);
            e = fabs((double)f - ref[i]);
            if (!(e <= md)) md = e;
            if (fabs(ref[i]) > mx) mx = fabs(ref[i]);
        }
        free(ref);
    }
    printf("max |diff| / max |logit| = %.3g\n", md / mx);
    free(model);
    free(lbytes);
    return md / mx <= 1e-4 ? 0 : 1;
}
