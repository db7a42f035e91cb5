/* Compares two float32 logit dumps: prints max |a - b| / max |b|; exit 0 when within TOL.
   usage: compare_logits A.bin B.bin TOL */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static float *slurp(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    float *v;
    long len;
    if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) { if (f) fclose(f); return NULL; }
    v = (float *)malloc((size_t)len + 4);
    if (!v || fread(v, 1, (size_t)len, f) != (size_t)len) { free(v); fclose(f); return NULL; }
    fclose(f);
    *n = len / 4;
    return v;
}

int main(int argc, char **argv) {
    long na, nb, i;
    float *a, *b;
    double md = 0, mx = 1e-30;
    if (argc != 4) { fprintf(stderr, "usage: compare_logits A.bin B.bin TOL\n"); return 2; }
    a = slurp(argv[1], &na);
    b = slurp(argv[2], &nb);
    if (!a || !b || na != nb || na == 0) { fprintf(stderr, "cannot read or sizes differ\n"); free(a); free(b); return 2; }
    for (i = 0; i < na; i++) {
        double e = fabs((double)a[i] - (double)b[i]);
        if (!(e <= md)) md = e;
        if (fabs((double)b[i]) > mx) mx = fabs((double)b[i]);
    }
    printf("max |diff| / max |logit| = %.3g\n", md / mx);
    free(a);
    free(b);
    return md / mx <= atof(argv[3]) ? 0 : 1;
}
