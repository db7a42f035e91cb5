/* The chat formats of mod.h (>>chat): recognising templates, the rendered text of each format
   on conversations written out by hand from the templates, rendering in steps (the deltas of a
   conversation, concatenated, are its whole render; a reply fed as generated is left out up to
   its turn-end token), argument and role errors, and the chat template section of a model file
   through the writer and the loader.

   test_chat                          the checks above
   test_chat --compare TEMPLATE DIR   renders each conversation DIR/N.json ({"messages": [{"role",
                                      "content"}], "add_generation_prompt": bool}) in the format
                                      TEMPLATE (a file) is recognised as, compares it with
                                      DIR/N.want (the template's render by tests/chat_oracle.js)
                                      and checks the steps invariant on it; for
                                      tests/test_chat_templates.sh
   test_chat --detect TEMPLATE        prints the format's name ("none" if not recognised) */
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "check.h"
#include "json.h"
#include "modfile.h"

#include <stdlib.h>

/* ---- rendering helpers ---------------------------------------------------------------- */

/* A render into a fresh buffer (freed by the caller), or NULL with the result in *r. */
static char *render(const mod_chat *c, const mod_chat_message *m, int n, int from, unsigned flags, mod_result *r)
{
    size_t need = 0, again = 0;
    char *out;
    mod_error err;
    *r = mod_chat_render(c, m, n, from, flags, NULL, 0, &need, &err);
    if (*r != MOD_ERR_BUFFER_TOO_SMALL) return NULL;
    if (!(out = (char *)malloc(need + 1))) { *r = MOD_ERR_OUT_OF_MEMORY; return NULL; }
    *r = mod_chat_render(c, m, n, from, flags, out, need + 1, &again, &err);
    if (*r != MOD_OK || again != need || strlen(out) != need) {
        if (*r == MOD_OK) *r = MOD_ERR_NUMERIC;
        free(out);
        return NULL;
    }
    return out;
}

static int ends_with(const char *s, const char *t)
{
    size_t a = strlen(s), b = strlen(t);
    return a >= b && memcmp(s + a - b, t, b) == 0;
}

/* The steps invariant on one conversation: for every k, render(0..k) made with the assistant's
   start exactly when message k is the assistant's, followed by render(k..n), is the whole
   render; and where message k is an assistant's reply, the render from k with
   MOD_CHAT_REPLY_FED is what the render from k has after that reply's turn-end token. */
static int check_steps(const mod_chat *c, const mod_chat_message *m, int n, unsigned flags, const char *what)
{
    mod_result r;
    char *full = render(c, m, n, 0, flags, &r);
    int k, good = 1;
    if (!check(full != NULL, "%s: whole render: %s", what, mod_result_string(r))) return 0;
    for (k = 1; k <= n; k++) {
        const unsigned head_flags = k < n && m[k].role == MOD_CHAT_ASSISTANT ? MOD_CHAT_ADD_ASSISTANT : 0u;
        char *a = render(c, m, k, 0, head_flags, &r), *b = render(c, m, n, k, flags, &r), *joined;
        if (!a || !b) { good = check(0, "%s: split at %d: a step failed: %s", what, k, mod_result_string(r)); free(a); free(b); continue; }
        joined = (char *)malloc(strlen(a) + strlen(b) + 1);
        if (!joined) { free(a); free(b); free(full); return 0; }
        strcpy(joined, a);
        strcat(joined, b);
        good &= check(strcmp(joined, full) == 0, "%s: steps 0..%d and %d..%d joined are not the whole render:\n%s\nvs\n%s", what, k, k, n, joined, full);
        if (k < n && m[k].role == MOD_CHAT_ASSISTANT) {
            char *fed = render(c, m, n, k, flags | MOD_CHAT_REPLY_FED, &r);
            if (!fed) good = check(0, "%s: MOD_CHAT_REPLY_FED at %d failed: %s", what, k, mod_result_string(r));
            else {
                const size_t lb = strlen(b), lf = strlen(fed);
                int ok = lf <= lb && strcmp(b + lb - lf, fed) == 0;
                if (ok) { /* what is left out: the reply alone, up to and including its turn-end token */
                    char *head = (char *)malloc(lb - lf + 1), *reply = render(c, m, k + 1, k, 0, &r);
                    memcpy(head, b, lb - lf);
                    head[lb - lf] = 0;
                    ok = reply && ends_with(head, mod_chat_turn_end(c->format)) && strncmp(reply, head, lb - lf) == 0;
                    free(head);
                    free(reply);
                }
                good &= check(ok, "%s: from %d with MOD_CHAT_REPLY_FED: \"%s\" is not the render from %d (\"%s\") after its reply and %s",
                              what, k, fed, k, b, mod_chat_turn_end(c->format));
                free(fed);
            }
        }
        free(joined);
        free(a);
        free(b);
    }
    free(full);
    return good;
}

/* ---- the built-in checks -------------------------------------------------------------- */

static void expect_render(const mod_chat *c, const mod_chat_message *m, int n, unsigned flags, const char *want, const char *what)
{
    mod_result r;
    char *got = render(c, m, n, 0, flags, &r);
    check(got && strcmp(got, want) == 0, "%s: rendered\n%s\nwant\n%s", what, got ? got : mod_result_string(r), want);
    free(got);
}

static void group_detect(void)
{
    static const struct { const char *text; mod_chat_format f; } t[] = {
        { "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' }}{% endfor %}", MOD_CHAT_LLAMA3 },
        { "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n'}}{% endfor %}", MOD_CHAT_CHATML },
        { "{{ bos_token }}{% for m in messages %}{{ '<start_of_turn>' + role + '\\n' + m['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}", MOD_CHAT_GEMMA },
        { "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\\\n' + system_message %}{% endif %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}", MOD_CHAT_LLAMA2 },
        /* Mistral's [INST] format has no <<SYS>> and another BOS placement: not Llama 2's */
        { "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}{{ '[INST] ' + m['content'] + ' [/INST]' }}{% else %}{{ m['content'] + eos_token }}{% endif %}{% endfor %}", MOD_CHAT_NONE },
        /* one marker of a pair is not a signature */
        { "<|im_start|> only", MOD_CHAT_NONE },
        { "<|start_header_id|><|end_header_id|> without the turn end", MOD_CHAT_NONE },
        { "{% for m in messages %}<|user|>{{ m['content'] }}<|end|>{% endfor %}", MOD_CHAT_NONE },
        { "", MOD_CHAT_NONE },
    };
    size_t i;
    int f;
    for (i = 0; i < sizeof t / sizeof t[0]; i++)
        check(mod_chat_format_detect(t[i].text, strlen(t[i].text)) == t[i].f, "template %d: detected %s, want %s", (int)i,
              mod_chat_format_name(mod_chat_format_detect(t[i].text, strlen(t[i].text))), mod_chat_format_name(t[i].f));
    check(mod_chat_format_detect(NULL, 0) == MOD_CHAT_NONE, "no template: none");
    /* a signature cut by the length is not seen */
    check(mod_chat_format_detect(t[1].text, 20) == MOD_CHAT_NONE, "a template cut short: none");
    for (f = 1; f < MOD_CHAT_FORMAT_COUNT; f++) {
        const char *name = mod_chat_format_name((mod_chat_format)f);
        check(name && (int)mod_chat_format_by_name(name) == f, "format %d: name %s round trip", f, name ? name : "NULL");
        check(mod_chat_turn_end((mod_chat_format)f) != NULL, "format %d has a turn end", f);
    }
    check(mod_chat_format_name(MOD_CHAT_NONE) == NULL && mod_chat_format_name(MOD_CHAT_FORMAT_COUNT) == NULL, "no name outside the formats");
    check(mod_chat_format_by_name("ChatML") == MOD_CHAT_NONE && mod_chat_format_by_name("") == MOD_CHAT_NONE &&
          mod_chat_format_by_name(NULL) == MOD_CHAT_NONE, "names are exact");
    {
        mod_chat c;
        check(mod_chat_init(&c, MOD_CHAT_NONE, t[7].text, strlen(t[7].text)) == MOD_ERR_UNSUPPORTED, "init: an unknown template is unsupported");
        check(mod_chat_init(&c, MOD_CHAT_NONE, NULL, 0) == MOD_ERR_UNSUPPORTED, "init: no template, no format: unsupported");
        check(mod_chat_init(&c, MOD_CHAT_GEMMA, t[7].text, strlen(t[7].text)) == MOD_OK && c.format == MOD_CHAT_GEMMA, "init: a named format overrides");
        check(mod_chat_init(&c, (mod_chat_format)9, NULL, 0) == MOD_ERR_INVALID_ARGUMENT, "init: a bad format");
        check(mod_chat_init(NULL, MOD_CHAT_GEMMA, NULL, 0) == MOD_ERR_INVALID_ARGUMENT, "init: NULL chat");
    }
    check_group("recognising templates, names");
}

/* The renders of each format, written out from the templates' text by hand. */
static void group_formats(void)
{
    static const char qwen25_tail[] =
        "{%- else %}\n    {%- if messages[0]['role'] == 'system' %}\n        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
        "    {%- else %}\n        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}\n"
        "    {%- endif %}\n{%- endif %}\n{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endfor %}";
    static const char qwen3_like[] = "{%- if messages[0].role == 'system' %}{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}{%- endif %}";
    static const char escaped[] = "{{ '<|im_start|>system\\nSay \\'hi\\'\\tthen stop.<|im_end|>\\n' }}";
    const mod_chat_message s_u_a_u[] = { { MOD_CHAT_SYSTEM, "S" }, { MOD_CHAT_USER, "U1" }, { MOD_CHAT_ASSISTANT, "A1" }, { MOD_CHAT_USER, "U2" } };
    const mod_chat_message ws[] = { { MOD_CHAT_SYSTEM, " S \n" }, { MOD_CHAT_USER, " \tU\n " }, { MOD_CHAT_ASSISTANT, "\xc2\xa0" "A\xe3\x80\x80" } };
    const mod_chat_message u[] = { { MOD_CHAT_USER, "U" } };
    mod_chat c;
    mod_chat_init(&c, MOD_CHAT_LLAMA2, NULL, 0);
    expect_render(&c, s_u_a_u, 4, 0, "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST]", "llama2");
    expect_render(&c, s_u_a_u, 4, MOD_CHAT_ADD_ASSISTANT, "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST]", "llama2: no generation prompt");
    /* strip() of the system block and the content together: the system's own spaces stay inside */
    expect_render(&c, ws, 3, 0, "<s>[INST] <<SYS>>\n S \n\n<</SYS>>\n\n \tU [/INST] A </s>", "llama2: whitespace");
    mod_chat_init(&c, MOD_CHAT_LLAMA3, NULL, 0);
    expect_render(&c, s_u_a_u, 4, MOD_CHAT_ADD_ASSISTANT,
                  "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU1<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU2<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\n", "llama3");
    expect_render(&c, ws, 3, 0,
                  "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>"
                  "<|start_header_id|>assistant<|end_header_id|>\n\nA<|eot_id|>", "llama3: whitespace (U+00A0 and U+3000 too)");
    mod_chat_init(&c, MOD_CHAT_CHATML, qwen25_tail, sizeof qwen25_tail - 1);
    expect_render(&c, u, 1, MOD_CHAT_ADD_ASSISTANT,
                  "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n",
                  "chatml: Qwen2.5's default system prompt");
    expect_render(&c, ws, 3, 0, "<|im_start|>system\n S \n<|im_end|>\n<|im_start|>user\n \tU\n <|im_end|>\n<|im_start|>assistant\n\xc2\xa0" "A\xe3\x80\x80<|im_end|>\n",
                  "chatml: a system message replaces the default; contents as they are");
    mod_chat_init(&c, MOD_CHAT_CHATML, qwen3_like, sizeof qwen3_like - 1);
    expect_render(&c, u, 1, MOD_CHAT_ADD_ASSISTANT, "<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n", "chatml: no default system prompt");
    mod_chat_init(&c, MOD_CHAT_CHATML, escaped, sizeof escaped - 1);
    expect_render(&c, u, 1, 0, "<|im_start|>system\nSay 'hi'\tthen stop.<|im_end|>\n<|im_start|>user\nU<|im_end|>\n", "chatml: a default with escapes");
    mod_chat_init(&c, MOD_CHAT_GEMMA, NULL, 0);
    expect_render(&c, s_u_a_u, 4, MOD_CHAT_ADD_ASSISTANT,
                  "<bos><start_of_turn>user\nS\n\nU1<end_of_turn>\n<start_of_turn>model\nA1<end_of_turn>\n<start_of_turn>user\nU2<end_of_turn>\n<start_of_turn>model\n", "gemma");
    expect_render(&c, ws, 3, 0, "<bos><start_of_turn>user\n S \n\n\nU<end_of_turn>\n<start_of_turn>model\nA<end_of_turn>\n", "gemma: whitespace");
    check_group("each format's text");
}

static void group_steps(void)
{
    static const char *const texts[] = { "Hello", "  padded  ", "", "line one\nline two\n", ("Gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac"),
                                         "{{ not jinja }} and 'quotes' \"too\"", "<|im_end|> as text", "\t\n \xe2\x80\x83" };
    static const char qwen[] = "'<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n'";
    mod_chat_message m[12];
    int f, sys, turns, last, variant, convs = 0;
    for (f = 1; f < MOD_CHAT_FORMAT_COUNT; f++) {
        mod_chat c;
        mod_chat_init(&c, (mod_chat_format)f, f == MOD_CHAT_CHATML ? qwen : NULL, f == MOD_CHAT_CHATML ? sizeof qwen - 1 : 0);
        for (sys = 0; sys < 2; sys++)
            for (turns = 1; turns <= 4; turns++)
                for (last = 0; last < 2; last++) /* 1: the conversation ends with the assistant */
                    for (variant = 0; variant < 3; variant++) {
                        int n = 0, t;
                        char what[160];
                        if (sys) { m[n].role = MOD_CHAT_SYSTEM; m[n++].content = texts[(variant + 3) % 8]; }
                        for (t = 0; t < turns; t++) {
                            m[n].role = MOD_CHAT_USER; m[n++].content = texts[(t + variant) % 8];
                            if (t + 1 < turns || last) { m[n].role = MOD_CHAT_ASSISTANT; m[n++].content = texts[(t * 3 + variant + 1) % 8]; }
                        }
                        /* llama3 and chatml take a system message anywhere */
                        if (variant == 2 && (f == MOD_CHAT_LLAMA3 || f == MOD_CHAT_CHATML) && n >= 2) {
                            memmove(&m[2], &m[1], (size_t)(n - 1) * sizeof m[0]);
                            m[1].role = MOD_CHAT_SYSTEM; m[1].content = "late system";
                            n++;
                        }
                        snprintf(what, sizeof what, "%s, %s, %d turns%s, variant %d", mod_chat_format_name(c.format), sys ? "system" : "no system",
                                 turns, last ? " and a reply" : "", variant);
                        check_steps(&c, m, n, last ? 0u : MOD_CHAT_ADD_ASSISTANT, what);
                        convs++;
                    }
    }
    check(convs == 4 * 2 * 4 * 2 * 3, "%d conversations", convs);
    check_group("rendering in steps");
}

static void group_errors(void)
{
    const mod_chat_message bad_sys[] = { { MOD_CHAT_USER, "U" }, { MOD_CHAT_SYSTEM, "S" } };
    const mod_chat_message two_users[] = { { MOD_CHAT_USER, "U" }, { MOD_CHAT_USER, "V" } };
    const mod_chat_message asst_first[] = { { MOD_CHAT_SYSTEM, "S" }, { MOD_CHAT_ASSISTANT, "A" } };
    const mod_chat_message ok[] = { { MOD_CHAT_USER, "U" }, { MOD_CHAT_ASSISTANT, "A" }, { MOD_CHAT_USER, "V" } };
    mod_chat_message null_content[1];
    mod_chat c, none;
    mod_error err;
    char buf[64];
    size_t len = 99, full;
    int f;
    memset(&none, 0, sizeof none);
    null_content[0].role = MOD_CHAT_USER; null_content[0].content = NULL;
    for (f = MOD_CHAT_LLAMA2; f <= MOD_CHAT_GEMMA; f += MOD_CHAT_GEMMA - MOD_CHAT_LLAMA2) {
        mod_chat_init(&c, (mod_chat_format)f, NULL, 0);
        check(mod_chat_render(&c, bad_sys, 2, 0, 0, buf, sizeof buf, &len, &err) == MOD_ERR_INVALID_ARGUMENT && strstr(err.message, "system"),
              "%s: a system message after the first: %s", mod_chat_format_name(c.format), err.message);
        check(mod_chat_render(&c, two_users, 2, 0, 0, buf, sizeof buf, &len, &err) == MOD_ERR_INVALID_ARGUMENT, "%s: two user messages in a row", mod_chat_format_name(c.format));
        check(mod_chat_render(&c, asst_first, 2, 0, 0, buf, sizeof buf, &len, &err) == MOD_ERR_INVALID_ARGUMENT, "%s: the assistant first", mod_chat_format_name(c.format));
    }
    mod_chat_init(&c, MOD_CHAT_LLAMA3, NULL, 0);
    check(mod_chat_render(&c, two_users, 2, 0, 0, NULL, 0, &len, &err) == MOD_ERR_BUFFER_TOO_SMALL && len > 0, "llama3: roles in any order");
    check(mod_chat_render(&none, ok, 3, 0, 0, buf, sizeof buf, &len, &err) == MOD_ERR_INVALID_ARGUMENT, "a chat without a format");
    check(mod_chat_render(&c, ok, 0, 0, 0, buf, sizeof buf, &len, &err) == MOD_ERR_INVALID_ARGUMENT, "no messages");
    check(mod_chat_render(&c, ok, 3, 4, 0, buf, sizeof buf, &len, &err) == MOD_ERR_INVALID_ARGUMENT, "from past n");
    check(mod_chat_render(&c, ok, 3, -1, 0, buf, sizeof buf, &len, &err) == MOD_ERR_INVALID_ARGUMENT, "from negative");
    check(mod_chat_render(&c, ok, 3, 0, 4, buf, sizeof buf, &len, &err) == MOD_ERR_INVALID_ARGUMENT, "unknown flags");
    check(mod_chat_render(&c, ok, 3, 2, MOD_CHAT_REPLY_FED, buf, sizeof buf, &len, &err) == MOD_ERR_INVALID_ARGUMENT, "REPLY_FED at a user message");
    check(mod_chat_render(&c, ok, 3, 0, MOD_CHAT_REPLY_FED, buf, sizeof buf, &len, &err) == MOD_ERR_INVALID_ARGUMENT, "REPLY_FED from 0");
    check(mod_chat_render(&c, null_content, 1, 0, 0, buf, sizeof buf, &len, &err) == MOD_ERR_INVALID_ARGUMENT, "NULL content");
    check(mod_chat_render(&c, ok, 3, 0, 0, buf, sizeof buf, NULL, &err) == MOD_ERR_INVALID_ARGUMENT, "NULL len");
    /* the length is reported whatever the room, and the text is cut and terminated */
    check(mod_chat_render(&c, ok, 3, 0, 0, NULL, 0, &full, NULL) == MOD_ERR_BUFFER_TOO_SMALL && full > sizeof buf, "the length without a buffer: %d", (int)full);
    memset(buf, 'x', sizeof buf);
    check(mod_chat_render(&c, ok, 3, 0, 0, buf, sizeof buf, &len, &err) == MOD_ERR_BUFFER_TOO_SMALL && len == full && buf[sizeof buf - 1] == 0 &&
          strncmp(buf, "<|begin_of_text|><|start_header_id|>user", 40) == 0, "a short buffer: the length, a cut text");
    {
        char *exact = (char *)malloc(full + 1);
        check(exact && mod_chat_render(&c, ok, 3, 0, 0, exact, full, &len, NULL) == MOD_ERR_BUFFER_TOO_SMALL, "no room for the NUL is too small");
        check(exact && mod_chat_render(&c, ok, 3, 0, 0, exact, full + 1, &len, NULL) == MOD_OK && len == full && exact[full] == 0, "room for the text and its NUL");
        free(exact);
    }
    check_group("errors");
}

/* A model file with a tokenizer and a chat template, written by tools/modfile.h and read back. */
static void group_file(void)
{
    static const char tmpl[] = "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n'}}{% endfor %}";
    /* a byte-level vocabulary: the 256 bytes, then the two control tokens of ChatML */
    uint32_t offsets[259], sorted[256], i;
    float scores[258];
    uint8_t types[258];
    unsigned char strings[256 + 22];
    mf_tokenizer t;
    mod__file_header h;
    mf_tensor ts[16];
    int routed[1] = { 0 }, n = 0, role;
    float capacity[1] = { 0 };
    unsigned char *tok = NULL, *file = NULL;
    size_t tsize;
    mod_model *model = NULL;
    mod_error err;
    memset(&t, 0, sizeof t);
    for (i = 0; i < 256; i++) { offsets[i] = i; strings[i] = (unsigned char)i; sorted[i] = i; scores[i] = 0; types[i] = 0; }
    memcpy(strings + 256, "<|im_start|><|im_end|>", 22);
    offsets[256] = 256; offsets[257] = 268; offsets[258] = 278;
    scores[256] = scores[257] = 0; types[256] = types[257] = 2;
    t.h.kind = 1; t.h.n_tokens = 258; t.h.bos_id = -1; t.h.eos_id = 257; t.h.n_sorted = 256; t.h.strings_size = 278; t.h.max_token_len = 12;
    t.offsets = offsets; t.scores = scores; t.types = types; t.sorted = sorted; t.strings = strings;
    tsize = mf_tokenizer_size(&t);
    tok = (unsigned char *)malloc(tsize);
    mf_put_tokenizer(tok, &t);
    memset(&h, 0, sizeof h);
    h.vocab_size = 258; h.dim = 8; h.n_layers = 1; h.n_heads = 1; h.n_kv_heads = 1; h.hidden_dim = 8; h.max_seq_len = 16;
    h.norm_eps = 1e-5f; h.rope_theta = 10000.0f; h.tied_embeddings = 1;
    h.chat_template_size = sizeof tmpl - 1;
    for (role = 0; role < MOD__ROLE_COUNT; role++) {
        uint64_t rows, cols;
        mod__dims dm = mf_dims(258, 8, 1, 1, 0, 8, 0);
        const int layer = role <= MOD__ROLE_OUTPUT ? -1 : 0;
        if (mf_role_wanted(role, 1, 0, 0, 0) != 1) continue;
        mf_role_shape(role, &dm, &rows, &cols);
        memset(&ts[n], 0, sizeof ts[n]);
        ts[n].role = role; ts[n].layer = layer; ts[n].dtype = MOD_DTYPE_F32; ts[n].rows = rows; ts[n].cols = cols;
        n++;
    }
    mf_layout(&h, ts, (uint32_t)n, tsize);
    if (posix_memalign((void **)&file, 64, (size_t)h.file_size) != 0) file = NULL;
    if (!check(file != NULL, "memory for the file")) { free(tok); return; }
    memset(file, 0, (size_t)h.file_size);
    mf_put_prefix(file, &h, routed, capacity, ts, tok);
    mf_put_chat_template(file, &h, tmpl);
    mf_set_checksum(file, (size_t)h.file_size);
    check(h.chat_template_offset % 8 == 0 && h.chat_template_offset >= h.tokenizer_offset + h.tokenizer_size &&
          h.chat_template_offset + h.chat_template_size <= h.data_offset, "the writer places the template between the tokenizer and the data");
    if (check(mod_model_load_memory(&model, file, (size_t)h.file_size, NULL, &err) == MOD_OK, "the file loads: %s", err.message)) {
        size_t len;
        const char *got = mod_model_chat_template(model, &len);
        mod_chat c;
        check(got && len == sizeof tmpl - 1 && memcmp(got, tmpl, len) == 0, "the template comes back byte for byte");
        check(mod_chat_init(&c, MOD_CHAT_NONE, got, len) == MOD_OK && c.format == MOD_CHAT_CHATML, "and is recognised as chatml");
        check(mod_chat_turn_end_token(model, MOD_CHAT_CHATML) == 257, "the turn-end token <|im_end|> is 257");
        check(mod_chat_turn_end_token(model, MOD_CHAT_LLAMA3) == -1, "the model has no <|eot_id|>");
        mod_model_free(model);
    }
    /* without a template: the same layout as before the section existed */
    {
        mod__file_header h2 = h;
        h2.chat_template_size = 0;
        mf_layout(&h2, ts, (uint32_t)n, tsize);
        check(h2.chat_template_offset == 0 && h2.data_offset == ((h2.tokenizer_offset + tsize + 63) & ~(uint64_t)63), "no template: offset 0, data right after the tokenizer");
    }
    check(mod_model_chat_template(NULL, NULL) == NULL, "no model, no template");
    free(file);
    free(tok);
    check_group("the chat template section");
}

/* ---- the driver for the template oracle ------------------------------------------------ */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (char *)malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(buf); return NULL; }
    fclose(f);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

/* One conversation of the oracle: DIR/N.json rendered in TEMPLATE's format against DIR/N.want,
   whole and in steps. -1 when DIR/N.json does not exist. */
static int compare_case(const mod_chat *c, const char *dir, int i)
{
    char path[4200];
    size_t cl, wl;
    char *cs, *want, *out = NULL;
    json_doc d;
    int msgs, gen, k, n, good = 0;
    mod_chat_message *m;
    mod_result r;
    snprintf(path, sizeof path, "%s/%d.json", dir, i);
    if (!(cs = slurp(path, &cl))) return -1;
    snprintf(path, sizeof path, "%s/%d.want", dir, i);
    want = slurp(path, &wl);
    if (json_parse(&d, cs, cl, 16) != 0) { check(0, "%s/%d.json: %s", dir, i, d.err); free(cs); free(want); return 0; }
    msgs = json_get(&d, 0, "messages");
    gen = json_get(&d, 0, "add_generation_prompt");
    n = msgs >= 0 ? (int)d.nodes[msgs].count : 0;
    m = (mod_chat_message *)calloc((size_t)n + 1, sizeof *m);
    for (k = 0; m && k < n; k++) {
        const int e = json_at(&d, msgs, (size_t)k), role = json_get(&d, e, "role");
        m[k].role = json_str_is(&d, role, "system") ? MOD_CHAT_SYSTEM : json_str_is(&d, role, "user") ? MOD_CHAT_USER : MOD_CHAT_ASSISTANT;
        m[k].content = json_str(&d, json_get(&d, e, "content"), NULL);
    }
    if (m && want) {
        const unsigned flags = json_type_of(&d, gen) == JSON_TRUE ? MOD_CHAT_ADD_ASSISTANT : 0u;
        out = render(c, m, n, 0, flags, &r);
        good = check(out && strlen(out) == wl && memcmp(out, want, wl) == 0, "%s/%d.json %s: mod.h renders\n%s\nthe template\n%s", dir, i, cs,
                     out ? out : mod_result_string(r), want);
        snprintf(path, sizeof path, "%s/%d.json", dir, i);
        good &= check_steps(c, m, n, flags, path);
    } else check(0, "%s/%d: cannot read the case", dir, i);
    free(out);
    free(m);
    json_free(&d);
    free(cs);
    free(want);
    return good;
}

static int drive(int argc, char **argv)
{
    size_t tl;
    char *tmpl = slurp(argv[2], &tl);
    mod_chat c;
    int i, n = 0, good = 0;
    if (!tmpl) { fprintf(stderr, "cannot read %s\n", argv[2]); return 2; }
    if (!strcmp(argv[1], "--detect")) {
        const char *name = mod_chat_format_name(mod_chat_format_detect(tmpl, tl));
        printf("%s\n", name ? name : "none");
        free(tmpl);
        return 0;
    }
    if (argc != 4) { fprintf(stderr, "usage: test_chat --compare TEMPLATE DIR\n"); free(tmpl); return 2; }
    if (check(mod_chat_init(&c, MOD_CHAT_NONE, tmpl, tl) == MOD_OK, "%s: recognised", argv[2]))
        for (i = 0;; i++) {
            const int r = compare_case(&c, argv[3], i);
            if (r < 0) break;
            n++;
            good += r;
        }
    printf("%d of %d conversations render as the template does, whole and in steps\n", good, n);
    free(tmpl);
    return check_finish();
}

int main(int argc, char **argv)
{
    if (argc >= 3 && (!strcmp(argv[1], "--compare") || !strcmp(argv[1], "--detect"))) return drive(argc, argv);
    group_detect();
    group_formats();
    group_steps();
    group_errors();
    group_file();
    return check_finish();
}
