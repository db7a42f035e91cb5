/* Checks mod_tokenize against expected token ids: lines "HEXTEXT<TAB>id,id,...".
   usage: check_tokens MODEL.mod CASES.txt   (prints N passed, M failed) */
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    mod_model *m;
    mod_error err;
    FILE *f;
    char line[65536];
    if (argc != 3) { fprintf(stderr, "usage: check_tokens MODEL CASES\n"); return 2; }
    if (mod_model_load_file(&m, argv[1], NULL, &err)) { fprintf(stderr, "%s\n", err.message); return 2; }
    if (!(f = fopen(argv[2], "r"))) { perror(argv[2]); return 2; }
    while (fgets(line, sizeof line, f)) {
        char text[16384], *tab = strchr(line, '\t'), *p;
        int32_t want[8192], got[16386];
        char ids[4096] = "";
        int nw = 0, ng = 0, i, ok;
        size_t tl = 0;
        if (!tab) continue;
        for (p = line; p + 1 < tab && tl < sizeof text; p += 2) {
            unsigned v;
            sscanf(p, "%2x", &v);
            text[tl++] = (char)v;
        }
        for (p = tab + 1; *p && *p != '\n' && nw < 8192;) {
            want[nw++] = (int32_t)strtol(p, &p, 10);
            if (*p == ',') p++;
        }
        ok = mod_tokenize(m, text, tl, 0, got, (int)tl + 2, &ng, NULL) == MOD_OK && ng == nw;
        for (i = 0; ok && i < nw; i++) ok = got[i] == want[i];
        if (!ok) { /* the ids it gave, for the message */
            size_t k = (size_t)sprintf(ids, ": got");
            for (i = 0; i < ng && k + 16 < sizeof ids; i++) k += (size_t)sprintf(ids + k, " %d", (int)got[i]);
        }
        check(ok, "%.*s%s", (int)tl, text, ids);
    }
    fclose(f);
    mod_model_free(m);
    return check_finish();
}
