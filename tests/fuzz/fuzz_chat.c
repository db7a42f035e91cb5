/* libFuzzer harness: the chat formats on arbitrary bytes. The input's first part (up to a 0
   byte) is a chat template: it is recognised and, as ChatML, searched for a default system
   prompt; the rest is cut at 0 bytes into message contents, the roles taken from their first
   bytes. Every format renders them (role errors must say why); a render's length is the same
   with and without a buffer, a short buffer gets a cut, terminated text, and rendering in
   steps joins to the whole render.
   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_chat.c -lm */
#define MOD_IMPLEMENTATION
#include "../../mod.h"
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *render(const mod_chat *c, const mod_chat_message *m, int n, int from, unsigned flags, size_t *len) {
    mod_error err;
    char *out;
    size_t again;
    err.message[0] = 0;
    if (mod_chat_render(c, m, n, from, flags, NULL, 0, len, &err) != MOD_ERR_BUFFER_TOO_SMALL) {
        if (!err.message[0]) abort(); /* every failure says why */
        return NULL;
    }
    if (!(out = (char *)malloc(*len + 1))) return NULL;
    if (*len > 0) { /* a short buffer: the length anyway, a cut and terminated text */
        if (mod_chat_render(c, m, n, from, flags, out, *len, &again, NULL) != MOD_ERR_BUFFER_TOO_SMALL || again != *len || out[*len - 1]) abort();
    }
    if (mod_chat_render(c, m, n, from, flags, out, *len + 1, &again, NULL) != MOD_OK || again != *len || out[*len] || strlen(out) > *len) abort();
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = (const char *)data, *nul = (const char *)memchr(data, 0, size);
    const size_t tl = nul ? (size_t)(nul - p) : size;
    char *text, *tmpl;
    mod_chat_message m[8];
    int n = 0, f;
    size_t i, at;
    /* the template, in a buffer of its own size so that a read past it is caught */
    tmpl = (char *)malloc(tl ? tl : 1);
    if (!tmpl) return 0;
    if (tl) memcpy(tmpl, p, tl);
    mod_chat_format_detect(tmpl, tl);
    /* the messages: NUL-terminated pieces of a copy of the rest */
    text = (char *)malloc(size - tl + 1);
    if (!text) { free(tmpl); return 0; }
    if (size > tl) memcpy(text, p + tl, size - tl);
    text[size - tl] = 0;
    for (at = nul ? 1 : 0; at <= size - tl && n < 8;) {
        const size_t l = strlen(text + at);
        m[n].role = (mod_chat_role)(l ? (unsigned char)text[at] % 3 : 1);
        m[n++].content = text + at;
        at += l + 1;
    }
    for (f = 1; f < MOD_CHAT_FORMAT_COUNT; f++) {
        mod_chat c;
        size_t full_len, a_len, b_len;
        char *full;
        unsigned flags = (size & 1) ? MOD_CHAT_ADD_ASSISTANT : 0u;
        if (mod_chat_init(&c, (mod_chat_format)f, tmpl, tl) != MOD_OK) abort();
        if (!(full = render(&c, m, n, 0, flags, &full_len))) continue;
        for (i = 1; i <= (size_t)n; i++) {
            const unsigned head = i < (size_t)n && m[i].role == MOD_CHAT_ASSISTANT ? MOD_CHAT_ADD_ASSISTANT : 0u;
            char *a = render(&c, m, (int)i, 0, head, &a_len), *b = render(&c, m, n, (int)i, flags, &b_len);
            if (!a || !b || a_len + b_len != full_len || memcmp(a, full, a_len) || memcmp(b, full + a_len, b_len)) abort();
            free(a);
            free(b);
        }
        free(full);
    }
    free(text);
    free(tmpl);
    return 0;
}
