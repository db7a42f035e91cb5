/* mod-tokenize: a model file's tokenizer from the command line.

   usage: mod-tokenize MODEL (-p TEXT | --text FILE) [--bos] [--special]
          mod-tokenize MODEL --decode 1,2,3
   Encoding prints the token ids comma-separated on one line (one line per --text FILE, which
   may be given more than once); decoding prints the text exactly as mod_detokenize produces it
   (no newline added). */
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "../examples/cli.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: mod-tokenize MODEL (-p TEXT | --text FILE) [--bos] [--special]\n"
        "       mod-tokenize MODEL --decode IDS\n"
        "  -p, --prompt TEXT   the text to encode\n"
        "  --text FILE         encode the contents of FILE (- for standard input); given more\n"
        "                      than once, one line of ids per file, in order\n"
        "  --bos               prepend the model's BOS token\n"
        "  --special           recognise special tokens written in the text (chat formats);\n"
        "                      without it they are encoded as plain text\n"
        "  --decode IDS        print the text of comma-separated token ids, without a newline\n"
        "  -h, --help          this text\n"
        "Encoding prints the ids comma-separated on one line.\n");
}

/* Parses "1,2,3" (spaces allowed around ids) into a new array; -1 on a malformed list. */
static int parse_ids(const char *s, int32_t **out, int *n) {
    size_t cap = 1;
    const char *p;
    int k = 0;
    for (p = s; *p; p++) cap += *p == ',';
    if (!(*out = (int32_t *)malloc(cap * sizeof **out))) return -1;
    p = s;
    while (*p == ' ') p++;
    if (!*p) { *n = 0; return 0; }
    for (;;) {
        char buf[32];
        size_t l = 0;
        int v;
        while (*p == ' ') p++;
        while (p[l] && p[l] != ',' && p[l] != ' ') l++;
        if (l == 0 || l >= sizeof buf) return -1;
        memcpy(buf, p, l);
        buf[l] = 0;
        if (cli_int(buf, 0, INT32_MAX, &v) != 0) return -1;
        (*out)[k++] = v;
        p += l;
        while (*p == ' ') p++;
        if (!*p) break;
        if (*p++ != ',') return -1;
    }
    *n = k;
    return 0;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *prompt = NULL, *decode = NULL;
    const char **text_paths = NULL;
    int flags = 0, i, rc = 1, n_texts = 0, t;
    mod_model *m = NULL;
    mod_error err;
    char *text = NULL, *out = NULL;
    int32_t *toks = NULL;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if ((!strcmp(a, "-p") || !strcmp(a, "--prompt")) && has_value) prompt = argv[++i];
        else if (!strcmp(a, "--text") && has_value) {
            if (!text_paths && !(text_paths = (const char **)malloc((size_t)argc * sizeof *text_paths))) {
                fprintf(stderr, "error: out of memory\n");
                return 1;
            }
            text_paths[n_texts++] = argv[++i];
        }
        else if (!strcmp(a, "--decode") && has_value) decode = argv[++i];
        else if (!strcmp(a, "--bos")) flags |= MOD_TOKENIZE_BOS;
        else if (!strcmp(a, "--special")) flags |= MOD_TOKENIZE_SPECIAL;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "error: unknown option or missing value: %s\n", a);
            usage(stderr);
            free(text_paths);
            return 2;
        } else if (!model_path) model_path = a;
        else {
            fprintf(stderr, "error: unexpected argument: %s\n", a);
            usage(stderr);
            free(text_paths);
            return 2;
        }
    }
    if (!model_path || (!!prompt + !!n_texts + !!decode) != 1) {
        fprintf(stderr, "error: give a model and exactly one of -p TEXT, --text FILE, --decode IDS\n");
        usage(stderr);
        free(text_paths);
        return 2;
    }
    if (decode && flags) {
        fprintf(stderr, "error: --bos and --special are for encoding\n");
        free(text_paths);
        return 2;
    }
    if (mod_model_load_file(&m, model_path, NULL, &err) != MOD_OK) {
        fprintf(stderr, "error: %s: %s\n", model_path, err.message);
        free(text_paths);
        return 1;
    }
    if (decode) {
        int n;
        size_t len = 0;
        mod_result r;
        if (parse_ids(decode, &toks, &n) != 0) {
            fprintf(stderr, "error: --decode wants comma-separated token ids, not \"%s\"\n", decode);
            goto done;
        }
        r = mod_detokenize(m, toks, n, NULL, 0, &len);
        if (r != MOD_OK && r != MOD_ERR_BUFFER_TOO_SMALL) {
            fprintf(stderr, "error: cannot decode: %s\n", mod_result_string(r));
            goto done;
        }
        if (!(out = (char *)malloc(len + 1))) { fprintf(stderr, "error: out of memory\n"); goto done; }
        if ((r = mod_detokenize(m, toks, n, out, len, &len)) != MOD_OK) {
            fprintf(stderr, "error: cannot decode: %s\n", mod_result_string(r));
            goto done;
        }
        if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0) { fprintf(stderr, "error: cannot write the text\n"); goto done; }
    } else for (t = 0; t < (n_texts ? n_texts : 1); t++) {
        size_t len;
        int n = 0, cap;
        mod_result r;
        free(text);
        text = NULL;
        if (n_texts) {
            if (!(text = cli_read_file(text_paths[t], &len))) goto done;
        } else {
            len = strlen(prompt);
        }
        for (;;) { /* len + 2 is enough for the usual tokenizers; the library says when not */
            if (len > (size_t)INT32_MAX / 3 - 2) { fprintf(stderr, "error: the text is too long\n"); goto done; }
            cap = n > 0 ? n : (int)len + 2;
            free(toks);
            if (!(toks = (int32_t *)malloc((size_t)cap * sizeof *toks))) { fprintf(stderr, "error: out of memory\n"); goto done; }
            r = mod_tokenize(m, text ? text : prompt, len, flags, toks, cap, &n, &err);
            if (r != MOD_ERR_BUFFER_TOO_SMALL || n <= cap) break;
        }
        if (r != MOD_OK) {
            fprintf(stderr, "error: cannot encode%s%s: %s\n", n_texts ? " " : "", n_texts ? text_paths[t] : "", err.message);
            goto done;
        }
        for (i = 0; i < n; i++) printf(i ? ",%d" : "%d", (int)toks[i]);
        printf("\n");
        if (fflush(stdout) != 0 || ferror(stdout)) { fprintf(stderr, "error: cannot write the ids\n"); goto done; }
    }
    rc = 0;
done:
    free(toks);
    free(text);
    free(out);
    free(text_paths);
    mod_model_free(m);
    return rc;
}
