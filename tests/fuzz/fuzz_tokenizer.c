/* libFuzzer harness: encode arbitrary bytes with every tokenizer kind (byte-level BPE under
   every pretokenizer, with and without NFC, one model with an added-token table) and check
   that decoding gives the bytes back (their NFC with NFC on; unless special tokens were
   recognised, or, kind 3, the text has U+2581, which decodes as a space) and that every id is
   in range; on inputs of up to 512 bytes, the
   priority-queue merge must equal the in-place rescan on the whole input as one piece.
   clang -fsanitize=fuzzer,address,undefined -I. -Itools tests/fuzz/fuzz_tokenizer.c -lm */
#define MOD_IMPLEMENTATION
#include "../../mod.h"
#include "mkmodel.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static mod_model *models[4];
static unsigned char *files[4];

static void setup(void) {
    int k;
    for (k = 0; k < 4; k++) {
        mkm_opts o;
        size_t n;
        mod_error err;
        mkm_defaults(&o);
        o.dim = 8; o.n_heads = 2; o.n_kv_heads = 1; o.hidden_dim = 8; o.n_layers = 1;
        o.tokenizer = k == 3 ? MKM_TOKENIZER_SP : k == 2 ? MKM_TOKENIZER_SCORED : MKM_TOKENIZER_BPE;
        o.n_merges = k == 1 ? 2000 : 200;
        o.bpe_added = k == 0 || k == 2; /* tables: kind 1 "<think>" and three special tokens, kind 2 "#" and three */
        if (mkm_build(&o, &files[k], &n) != 0 || mod_model_load_memory(&models[k], files[k], n, NULL, &err) != MOD_OK) abort();
    }
}

/* The queue and the rescan merge the unmerged tokens of the whole text alike. */
static void same_merges(const mod__vocab *v, const char *text, size_t len) {
    static int32_t a[513], q[513];
    static unsigned char scratch[513 * MOD__TOK_SCRATCH];
    int n = 0, na, nq;
    size_t i;
    for (i = 0; i < len; i++) {
        if (v->kind == 1) {
            if ((a[n++] = v->byte_token[(unsigned char)text[i]]) < 0) return;
        } else if (mod__tok_push_char(v, text + i, 1, a, &n, i, 0, NULL) != MOD_OK) {
            return;
        }
    }
    memcpy(q, a, (size_t)n * sizeof a[0]);
    na = mod__tok_merge_inplace(v, a, n);
    nq = mod__tok_merge_queue(v, q, n, scratch);
    if (na != nq || memcmp(a, q, (size_t)na * sizeof a[0]) != 0) abort();
}

/* Whether the n bytes at p contain U+2581. */
/* whether the n bytes at p contain the string s */
static int contains(const uint8_t *p, size_t n, const char *s) {
    const size_t k = strlen(s);
    size_t i;
    for (i = 0; i + k <= n; i++)
        if (memcmp(p + i, s, k) == 0) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int32_t *toks;
    char *back;
    int n, i, cap, flags, exact, nfc = 0, added1, added2;
    size_t len, want_len;
    char *want;
    const mod_model *m;
    if (!models[0]) setup();
    if (size < 1 || size > 4096) return 0;
    m = models[data[0] % 4];
    flags = (data[0] & 4 ? MOD_TOKENIZE_BOS : 0) | (data[0] & 8 ? MOD_TOKENIZE_SPECIAL : 0);
    /* byte-level BPE under each pretokenizer in turn (none, GPT-2, Llama 3, Qwen2), with and
       without whole-piece tokens (flag bit 1) and NFC (flag bit 2) */
    if (m->vocab.kind == 1) {
        mod__vocab *v = &models[data[0] % 4]->vocab;
        v->pretokenizer = (data[0] >> 4) & 3;
        nfc = (data[0] >> 7) & 1;
        v->flags = (v->flags & 1u) | ((data[0] >> 6) & 1u) << 1 | (unsigned)nfc << 2;
    }
    /* kind 2 puts its prefix space before the text after each added token ("#"): that space
       decodes as text, and the tokens can outnumber len + 2 */
    added2 = m->vocab.kind == 2 && m->vocab.n_added && memchr(data + 1, '#', size - 1);
    /* with NFC, the text is normalized between added tokens, as Hugging Face's tokenizers
       split them out first: "<think>" then a combining mark does not compose its '>', while
       the NFC of the whole text would */
    added1 = nfc && m->vocab.n_added && contains(data + 1, size - 1, "<think>");
    exact = !(flags & MOD_TOKENIZE_SPECIAL) && (m->vocab.kind != 3 || !contains(data + 1, size - 1, "\xE2\x96\x81")) && !added2 && !added1;
    cap = nfc || added2 ? 3 * (int)size + 2 : (int)size + 1; /* 3 len + 2 always suffice */
    toks = (int32_t *)malloc(sizeof *toks * (size_t)cap);
    back = (char *)malloc(3 * size + 1);
    want = (char *)malloc(3 * size + 1);
    if (!toks || !back || !want) abort();
    /* what decoding gives back: the text, or its NFC (bounded by three times its bytes) */
    want_len = size - 1;
    memcpy(want, data + 1, size - 1);
    if (nfc && (want_len = mod__nfc((const char *)data + 1, size - 1, want, 3 * size)) > 3 * (size - 1)) abort();
    if (mod_tokenize(m, (const char *)data + 1, size - 1, flags, toks, cap, &n, NULL) != MOD_OK) abort();
    for (i = 0; i < n; i++) if (toks[i] < 0 || toks[i] >= mod_model_config(m)->vocab_size) abort();
    if (mod_detokenize(m, toks, n, back, 3 * size, &len) != MOD_OK) abort();
    if (exact && (len != want_len || memcmp(back, want, want_len) != 0)) abort();
    /* a buffer that is too small is reported, not overrun */
    if (size > 3 && mod_tokenize(m, (const char *)data + 1, size - 1, 0, toks, (int)(size / 2), &n, NULL) == MOD_OK && n > (int)(size / 2)) abort();
    if (size <= 513) same_merges(&m->vocab, (const char *)data + 1, size - 1);
    free(toks);
    free(back);
    free(want);
    return 0;
}
