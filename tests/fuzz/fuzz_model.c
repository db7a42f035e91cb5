/* libFuzzer harness: load any bytes as a model, and when they load, run a session on them.
   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_model.c -lm */
#define MOD_IMPLEMENTATION
#include "../../mod.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static unsigned char *buf;
    static size_t cap;
    mod_model *m = NULL;
    mod_model_desc md;
    mod_error err;
    mod_session *s = NULL;
    mod_session_desc sd;
    const mod_config *c;
    int32_t toks[8], tok;
    char text[64];
    size_t len;
    int i, n;
    /* the loader requires 16-byte alignment, which libFuzzer's buffer does not promise */
    if (size > cap) {
        free(buf);
        cap = size + 64;
        buf = (unsigned char *)aligned_alloc(64, (cap + 63) / 64 * 64);
        if (!buf) { cap = 0; return 0; }
    }
    if (size) memcpy(buf, data, size);
    memset(&md, 0, sizeof md);
    md.flags = size % 2 ? MOD_LOAD_VERIFY_CHECKSUM : 0;
    if (mod_model_load_memory(&m, buf, size, &md, &err) != MOD_OK) {
        if (!err.message[0]) abort(); /* every failure must say why */
        return 0;
    }
    c = mod_model_config(m);
    /* keep huge-but-valid models from turning the fuzzer into a benchmark */
    if ((double)c->dim * c->hidden_dim * c->n_layers > 4e6 || (double)c->vocab_size * c->dim > 4e6) {
        mod_model_free(m);
        return 0;
    }
    memset(&sd, 0, sizeof sd);
    sd.max_tokens = 12;
    sd.threads = 1;
    sd.prompt_routing = size % 3 ? MOD_ROUTING_CAUSAL : MOD_ROUTING_TOPK;
    if (mod_session_create(&s, m, &sd, NULL) == MOD_OK) {
        mod_sampler smp;
        mod_sampler_desc smpd;
        for (i = 0; i < 8; i++) toks[i] = (int32_t)((size + 31u * (unsigned)i) % (unsigned)c->vocab_size);
        memset(&smpd, 0, sizeof smpd);
        smpd.temperature = 0.9f;
        smpd.top_k = 5;
        smpd.top_p = 0.9f;
        smpd.seed = size;
        if (mod_sampler_init(&smp, &smpd) != MOD_OK) abort();
        if (mod_prefill(s, toks, 4, NULL) == MOD_OK) {
            for (i = 0; i < 3; i++) {
                if (mod_sample(s, &smp, &tok) != MOD_OK) break;
                if (tok < 0 || tok >= c->vocab_size) abort();
                if (mod_decode(s, tok) != MOD_OK) break;
            }
        }
        mod_session_free(s);
    }
    if (mod_tokenize(m, "In the beginning\xC3\xA9\xFF", 19, 1, toks, 8, &n, NULL) == MOD_OK ||
        mod_tokenize(m, "hi", 2, 0, toks, 8, &n, NULL) == MOD_OK) {
        if (n < 0 || n > 8) abort();
        for (i = 0; i < n; i++) if (toks[i] < 0 || toks[i] >= c->vocab_size) abort();
        mod_detokenize(m, toks, n, text, sizeof text, &len);
    }
    for (i = 0; i < 4; i++) mod_token_bytes(m, (int32_t)(size * 7u + (unsigned)i) % (c->vocab_size + 2) - 1, &len);
    mod_model_free(m);
    return 0;
}
