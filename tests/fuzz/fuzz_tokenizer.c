/* libFuzzer harness: encode arbitrary bytes with both tokenizer kinds and check that decoding
   gives the bytes back and that every id is in range.
   clang -fsanitize=fuzzer,address,undefined -I. -Itools tests/fuzz/fuzz_tokenizer.c -lm */
#define MOD_IMPLEMENTATION
#include "../../mod.h"
#include "mkmodel.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mod_model *models[3];
static unsigned char *files[3];

static void setup(void) {
    int k;
    for (k = 0; k < 3; k++) {
        mkm_opts o;
        size_t n;
        mod_error err;
        mkm_defaults(&o);
        o.dim = 8; o.n_heads = 2; o.n_kv_heads = 1; o.hidden_dim = 8; o.n_layers = 1;
        o.tokenizer = k == 2 ? MKM_TOKENIZER_SCORED : MKM_TOKENIZER_BPE;
        o.n_merges = k == 1 ? 2000 : 200;
        if (mkm_build(&o, &files[k], &n) != 0 || mod_model_load_memory(&models[k], files[k], n, NULL, &err) != MOD_OK) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int32_t *toks;
    char *back;
    int n, i, cap;
    size_t len;
    const mod_model *m;
    if (!models[0]) setup();
    if (size < 1 || size > 4096) return 0;
    m = models[data[0] % 3];
    cap = (int)size + 1;
    toks = (int32_t *)malloc(sizeof *toks * (size_t)cap);
    back = (char *)malloc(size + 1);
    if (!toks || !back) abort();
    if (mod_tokenize(m, (const char *)data + 1, size - 1, data[0] & 4, toks, cap, &n) != MOD_OK) abort();
    for (i = 0; i < n; i++) if (toks[i] < 0 || toks[i] >= mod_model_config(m)->vocab_size) abort();
    if (mod_detokenize(m, toks, n, back, size, &len) != MOD_OK) abort();
    if (len != size - 1 || memcmp(back, data + 1, size - 1) != 0) abort();
    /* a buffer that is too small is reported, not overrun */
    if (size > 3 && mod_tokenize(m, (const char *)data + 1, size - 1, 0, toks, (int)(size / 2), &n) == MOD_OK && n > (int)(size / 2)) abort();
    free(toks);
    free(back);
    return 0;
}
