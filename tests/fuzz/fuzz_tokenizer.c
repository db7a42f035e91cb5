/* libFuzzer harness: encode arbitrary bytes with every tokenizer kind (byte-level BPE under
   every pretokenizer, with and without NFC, one model with an added-token table) and check
   that decoding gives the bytes back (with NFC on, the NFC of each piece between added
   tokens; unless special tokens were
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

/* Where the string s first occurs in the n bytes at p, or n. */
static size_t find(const uint8_t *p, size_t n, const char *s) {
    const size_t k = strlen(s);
    size_t i;
    for (i = 0; i + k <= n; i++)
        if (memcmp(p + i, s, k) == 0) return i;
    return n;
}

/* The n bytes at p as NFC normalizes them between the added token "<think>" (kind 0's only
   non-special one, matched before normalizing, as Hugging Face's tokenizers split out tokens
   that are not "normalized"): each piece on its own, the tokens as they are. Returns the
   length; out holds 3 n bytes. */
static size_t nfc_pieces(const uint8_t *p, size_t n, char *out, int added) {
    size_t len = 0;
    for (;;) {
        const size_t at = added ? find(p, n, "<think>") : n;
        const size_t k = mod__nfc((const char *)p, at, out + len, 3 * at);
        if (k > 3 * at) abort(); /* UAX #15's bound */
        len += k;
        if (at == n) return len;
        memcpy(out + len, "<think>", 7);
        len += 7;
        p += at + 7;
        n -= at + 7;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int32_t *toks;
    char *back;
    int n, i, cap, flags, exact, nfc = 0, added2;
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
    exact = !(flags & MOD_TOKENIZE_SPECIAL) && (m->vocab.kind != 3 || find(data + 1, size - 1, "\xE2\x96\x81") == size - 1) && !added2;
    cap = nfc || added2 ? 3 * (int)size + 2 : (int)size + 1; /* 3 len + 2 always suffice */
    toks = (int32_t *)malloc(sizeof *toks * (size_t)cap);
    back = (char *)malloc(3 * size + 1);
    want = (char *)malloc(3 * size + 1);
    if (!toks || !back || !want) abort();
    /* what decoding gives back: the text, or with NFC its pieces between added tokens
       normalized one by one ("<think>" then a combining mark does not compose the '>') */
    want_len = size - 1;
    memcpy(want, data + 1, size - 1);
    if (nfc) want_len = nfc_pieces(data + 1, size - 1, want, m->vocab.n_added > 0);
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
