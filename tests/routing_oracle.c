/* The other side of tests/test_routing_view.sh: what the programs' routing views should show,
   from sources the views do not use, and a reader of what they did show.

     routing_oracle counts MODEL causal|topk WINDOW IDS [DECODE_IDS]
         runs IDS in windows of WINDOW tokens (a fresh session each, one mod_prefill), then
         DECODE_IDS one mod_decode at a time after the last window; prints one line per token:
         how many routed blocks processed it and which ("2 0101", blocks in layer order),
         from the positions the blocks' KV caches hold (mod_session_cache), not from the
         routing records.
     routing_oracle marks FILE
         reads a view's output and prints its marks in order, one a line: "S <parameters>"
         for a colour sequence that starts a token (ESC[0...m), "C <n>" for a count in
         subscript digits, "B <dots>" for a braille column (its dots as 0/1, 8 a cell);
         "BROKEN" where an escape sequence or a mark falls inside a UTF-8 character (after its
         first bytes, the rest following it; bytes that never complete one may precede a mark:
         a terminal shows them as U+FFFD and reads the mark, which starts with ESC or a lead byte).
     routing_oracle strip FILE
         writes FILE without subscript digits and parentheses (U+2080-2089, U+208D, U+208E) and
         braille (U+2800-28FF). */
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int32_t *parse_ids(const char *s, int *n) {
    int32_t *t = (int32_t *)malloc((strlen(s) / 2 + 2) * sizeof *t);
    *n = 0;
    if (!t) return NULL;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s) { free(t); return NULL; }
        t[(*n)++] = (int32_t)v;
        s = *end == ',' ? end + 1 : end;
    }
    return t;
}

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    size_t cap = 0;
    *len = 0;
    if (!f) return NULL;
    for (;;) {
        size_t got;
        if (*len + 4096 > cap) {
            char *nb = (char *)realloc(b, cap = cap * 2 + 8192);
            if (!nb) { free(b); fclose(f); return NULL; }
            b = nb;
        }
        got = fread(b + *len, 1, cap - *len, f);
        if (!got) break;
        *len += got;
    }
    fclose(f);
    return b;
}

static int counts(int argc, char **argv) {
    mod_model *m;
    mod_session *s;
    mod_session_desc d;
    mod_error err;
    int32_t *ids, *dec = NULL;
    int n, nd = 0, W, start, i, l, *cnt;
    char **mask;
    const mod_config *c;
    if (argc < 6) return 2;
    if (mod_model_load_file(&m, argv[2], NULL, &err) != MOD_OK) { fprintf(stderr, "%s\n", err.message); return 1; }
    c = mod_model_config(m);
    W = atoi(argv[4]);
    ids = parse_ids(argv[5], &n);
    if (argc > 6) dec = parse_ids(argv[6], &nd);
    if (!ids || W < 1 || (argc > 6 && !dec)) { fprintf(stderr, "bad arguments\n"); return 2; }
    memset(&d, 0, sizeof d);
    d.max_tokens = W + nd;
    d.prompt_routing = strcmp(argv[3], "topk") ? MOD_ROUTING_CAUSAL : MOD_ROUTING_TOPK;
    if (mod_session_create(&s, m, &d, &err) != MOD_OK) { fprintf(stderr, "%s\n", err.message); return 1; }
    cnt = (int *)calloc((size_t)(n + nd), sizeof *cnt);
    mask = (char **)calloc((size_t)(n + nd), sizeof *mask);
    for (i = 0; i < n + nd; i++) mask[i] = (char *)calloc((size_t)c->n_layers + 1, 1);
    for (start = 0; start < n; start += W) {
        const int len = n - start < W ? n - start : W, last = start + W >= n;
        const int upto = len + (last ? nd : 0);
        mod_session_reset(s);
        if (mod_prefill(s, ids + start, len, NULL) != MOD_OK) { fprintf(stderr, "%s\n", mod_session_error(s)); return 1; }
        if (last)
            for (i = 0; i < nd; i++)
                if (mod_decode(s, dec[i]) != MOD_OK) { fprintf(stderr, "%s\n", mod_session_error(s)); return 1; }
        for (l = 0; l < c->n_layers; l++) {
            int k, held, r = 0;
            const int32_t *pos;
            if (mod_model_layer_routed(m, l) != 1) continue;
            for (k = 0; k < l; k++) r += mod_model_layer_routed(m, k) == 1;
            mod_session_cache(s, l, &held, &pos);
            for (i = 0; i < upto; i++) mask[start + i][r] = '0';
            for (k = 0; k < held; k++)
                if (pos[k] >= 0 && pos[k] < upto) {
                    cnt[start + pos[k]]++;
                    mask[start + pos[k]][r] = '1';
                }
        }
    }
    for (i = 0; i < n + nd; i++) {
        printf("%d %s\n", cnt[i], mask[i]);
        free(mask[i]);
    }
    free(mask);
    free(cnt);
    free(ids);
    free(dec);
    mod_session_free(s);
    mod_model_free(m);
    return 0;
}

/* bytes still expected to complete the UTF-8 character at p[i - 1], after p[0..i) */
static int pending(const unsigned char *p, size_t i) {
    size_t k;
    for (k = 1; k <= 3 && k <= i; k++) {
        unsigned b = p[i - k];
        if ((b & 0xC0) == 0x80) continue;
        if (b >= 0xC2 && b <= 0xF4) {
            int need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
            return need > (int)k ? need - (int)k : 0;
        }
        return 0;
    }
    return 0;
}

static int marks(const char *path, int strip) {
    size_t len, i = 0;
    int split = 0;
    unsigned char *p = (unsigned char *)read_all(path, &len);
    if (!p) { fprintf(stderr, "cannot read %s\n", path); return 1; }
    while (i < len) {
        if (p[i] == 0x1b && i + 1 < len && p[i + 1] == '[') {
            size_t j = i + 2;
            while (j < len && p[j] != 'm' && j - i < 80) j++;
            if (!strip) {
                if (pending(p, i)) split = 1;
                if (j > i + 2 && p[i + 2] == '0') printf("S %.*s\n", (int)(j - i - 2), (const char *)p + i + 2);
            } else
                fwrite(p + i, 1, j + 1 - i, stdout);
            i = j + 1;
        } else if (i + 2 < len && p[i] == 0xE2 && p[i + 1] == 0x82 && (p[i + 2] == 0x8D || p[i + 2] == 0x8E)) {
            i += 3; /* the parentheses around the mark of a token with no text */
        } else if (i + 2 < len && p[i] == 0xE2 && p[i + 1] == 0x82 && p[i + 2] >= 0x80 && p[i + 2] <= 0x89) {
            int v = 0;
            if (!strip && pending(p, i)) split = 1;
            while (i + 2 < len && p[i] == 0xE2 && p[i + 1] == 0x82 && p[i + 2] >= 0x80 && p[i + 2] <= 0x89) {
                v = v * 10 + (p[i + 2] - 0x80);
                i += 3;
            }
            if (!strip) printf("C %d\n", v);
        } else if (i + 2 < len && p[i] == 0xE2 && p[i + 1] >= 0xA0 && p[i + 1] <= 0xA3) {
            static const int dot[8] = { 0, 1, 2, 6, 3, 4, 5, 7 }; /* block k of a cell is bit dot[k] */
            if (!strip && pending(p, i)) split = 1;
            if (!strip) printf("B ");
            while (i + 2 < len && p[i] == 0xE2 && p[i + 1] >= 0xA0 && p[i + 1] <= 0xA3) {
                unsigned cp = ((unsigned)(p[i + 1] & 0x3F) << 6 | (p[i + 2] & 0x3Fu)) & 0xFF;
                int k;
                if (!strip) for (k = 0; k < 8; k++) putchar(cp >> dot[k] & 1 ? '1' : '0');
                i += 3;
            }
            if (!strip) printf("\n");
        } else {
            /* a mark after the start of a character that the text after it completes */
            if (split && (p[i] & 0xC0) == 0x80) printf("BROKEN\n");
            split = 0;
            if (strip) putchar(p[i]);
            i++;
        }
    }
    free(p);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "counts")) return counts(argc, argv);
    if (argc == 3 && !strcmp(argv[1], "marks")) return marks(argv[2], 0);
    if (argc == 3 && !strcmp(argv[1], "strip")) return marks(argv[2], 1);
    fprintf(stderr, "usage: routing_oracle counts MODEL causal|topk WINDOW IDS [DECODE_IDS] | marks FILE | strip FILE\n");
    return 2;
}
