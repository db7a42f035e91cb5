/* A build with MOD_NO_UNICODE_TABLES (the firmware's configuration) leaves the Unicode tables
   out and refuses, at load time and by name, the tokenizers that need them: NFC normalization
   and the Llama 3 and Qwen2 split patterns; the ASCII GPT-2 pattern loads and tokenizes (its
   ids against the full build's are checked by make test-firmware, whose host and device
   tokens must agree, and here against the ids models/README.md gives for the shipped model). */
#define MOD_NO_UNICODE_TABLES
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "mkmodel.h"
#include "check.h"

static uint64_t rd64(const unsigned char *p) {
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}

/* builds the test model with a byte-level tokenizer (nfc: flag bit 2; pretok: the split
   pattern written into the header) and loads it; returns the load's result */
static mod_result try_load(int nfc, uint32_t pretok, mod_error *err) {
    mkm_opts o;
    unsigned char *buf;
    size_t size;
    mod_model *m = NULL;
    mod_result r;
    mkm_defaults(&o);
    o.tokenizer = 1;
    o.bpe_nfc = nfc;
    if (mkm_build(&o, &buf, &size) != 0) { err->code = MOD_ERR_INVALID_ARGUMENT; strcpy(err->message, "mkm_build failed"); return MOD_ERR_INVALID_ARGUMENT; }
    put32(buf + (size_t)rd64(buf + MKM_OFF_TOKENIZER) + MKM_TK_PRETOKENIZER, pretok);
    r = mod_model_load_memory(&m, buf, size, NULL, err);
    if (m) mod_model_free(m);
    free(buf);
    return r;
}

int main(void) {
    static const char *const names[4] = { "none", "GPT-2", "Llama 3", "Qwen2" };
    mod_error err;
    uint32_t p;
    mod_result r = try_load(1, 1, &err);
    check(r == MOD_ERR_UNSUPPORTED && strstr(err.message, "NFC") && strstr(err.message, "MOD_NO_UNICODE_TABLES"),
          "an NFC tokenizer is refused by name (%s: %s)", mod_result_string(r), err.message);
    for (p = 0; p < 4; p++) {
        r = try_load(0, p, &err);
        if (p >= 2)
            check(r == MOD_ERR_UNSUPPORTED && strstr(err.message, names[p]) && strstr(err.message, "MOD_NO_UNICODE_TABLES"),
                  "the %s split pattern is refused by name (%s: %s)", names[p], mod_result_string(r), err.message);
        else
            check(r == MOD_OK, "the %s split pattern loads (%s: %s)", names[p], mod_result_string(r), err.message);
    }
    {
        /* the shipped model: "And God said," with BOS is 4095, 295, 386, 387, 44 (models/README.md) */
        static const int32_t want[5] = { 4095, 295, 386, 387, 44 };
        mod_model *m = NULL;
        int32_t ids[16];
        int n = 0;
        r = mod_model_load_file(&m, "models/kjv-mod.mod", NULL, &err);
        check(r == MOD_OK, "the shipped model loads (%s)", err.message);
        if (m) {
            r = mod_tokenize(m, "And God said,", 13, MOD_TOKENIZE_BOS, ids, 16, &n, &err);
            check(r == MOD_OK && n == 5 && memcmp(ids, want, sizeof want) == 0, "the shipped model's tokens for \"And God said,\" (%d tokens)", n);
            {
                char out[64];
                size_t len = 0;
                check(mod_detokenize(m, ids + 1, n - 1, out, sizeof out, &len) == MOD_OK && len == 13 && memcmp(out, "And God said,", 13) == 0,
                      "and they decode to the text");
            }
            r = mod_tokenize(m, "caf\xC3\xA9 na\xC3\xAFve", 11, 0, ids, 16, &n, &err);
            check(r == MOD_OK && n > 0, "non-ASCII text tokenizes under the ASCII pattern (%d tokens)", n);
            mod_model_free(m);
        }
    }
    return check_finish();
}
