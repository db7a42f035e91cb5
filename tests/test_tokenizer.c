/* Unit tests of the tokenizer: hand-checked cases, plus random, long and adversarial texts
   compared against naive reference encoders written independently of the library, plus the
   public API on model files written by tools/mkmodel.h.
   The Makefile builds this file three ways, each checked against the same references: as
   shipped (short pieces merge in place, long ones through the priority queue), with
   MOD__TOK_QUEUE_MIN=1 (every piece through the queue) and with MOD_NO_MALLOC (every piece in
   place, as on firmware). */
#include <stdlib.h>

#ifndef MOD_NO_MALLOC
/* The library's allocator, counted, and failing on demand. */
static long g_allocs, g_frees;
static int g_alloc_fails;
static void *test_malloc(size_t n)
{
    if (g_alloc_fails) return NULL;
    g_allocs++;
    return malloc(n);
}
static void test_free(void *p)
{
    if (p) g_frees++;
    free(p);
}
#define MOD_MALLOC(sz) test_malloc(sz)
#define MOD_FREE(p) test_free(p)
#endif

#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "mkmodel.h"
#include "check.h"

#ifdef MOD_NO_MALLOC
#define TEST_NO_MALLOC 1
#else
#define TEST_NO_MALLOC 0
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Printable form of bytes: writes at most 4n + 1 chars to o, returns the length. */
static size_t escape(char *o, const char *s, size_t n)
{
    size_t i, k = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F && c != '\\') o[k++] = (char)c;
        else k += (size_t)sprintf(o + k, "\\x%02X", c);
    }
    o[k] = 0;
    return k;
}

/* escape() into one of a few rotating buffers, for messages. */
static const char *show(const char *s, size_t n)
{
    static char buf[4][2048];
    static int which;
    char *o = buf[which++ & 3];
    escape(o, s, n < 500 ? n : 500);
    return o;
}

#define RESULT_NAME(id, text) #id,
static const char *const result_names[] = {MOD_RESULT_LIST(RESULT_NAME)};
#undef RESULT_NAME

static const char *result_name(mod_result r) { return r >= 0 && r < MOD_RESULT_COUNT ? result_names[r] : "?"; }

/* ---- vocabulary builder -------------------------------------------------------------- */

enum { NORMAL = 0, BYTE = 1, CONTROL = 2 };
#define MAXT 1200
#define MAXM 600
#define MAXS 20000
#define MAXA 16

typedef struct tb {
    mod__vocab v;
    uint32_t offsets[MAXT + 1];
    float scores[MAXT];
    uint8_t types[MAXT];
    uint32_t sorted[MAXT];
    uint32_t merges[MAXM * 4];
    char strings[MAXS];
    uint32_t rules[MAXM][4]; /* merges in the order they were added, for the reference */
    int n_rules;
    /* kind 3: added tokens (id, flags, offset, length), their texts kept here until tb_finish */
    uint32_t added[MAXA * 4];
    char added_text[MAXA][32];
    int n_added;
} tb;

static void tb_init(tb *b, int kind, int pretokenizer, unsigned flags)
{
    memset(b, 0, sizeof *b);
    b->v.kind = kind;
    b->v.pretokenizer = pretokenizer;
    b->v.flags = flags;
    b->v.bos = b->v.eos = -1;
    b->v.unk = -1;
}

/* An added token with this text (it is matched in the text), special or not. */
static void tb_added(tb *b, int id, const char *text, int special)
{
    int k = b->n_added++;
    if (k >= MAXA || strlen(text) >= sizeof b->added_text[0]) { printf("builder overflow\n"); exit(2); }
    strcpy(b->added_text[k], text);
    b->added[4 * k] = (uint32_t)id;
    b->added[4 * k + 1] = special ? MOD__ADDED_SPECIAL : 0;
}

static size_t tb_len(const tb *b, int id) { return b->offsets[id + 1] - b->offsets[id]; }
static const char *tb_str(const tb *b, int id) { return b->strings + b->offsets[id]; }

/* Normal token with these bytes, by linear search; -1 if none. */
static int tb_find(const tb *b, const char *s, size_t n)
{
    int i;
    for (i = 0; i < b->v.n_tokens; i++)
        if (b->types[i] == NORMAL && tb_len(b, i) == n && memcmp(tb_str(b, i), s, n) == 0) return i;
    return -1;
}

static int tb_add(tb *b, const char *s, size_t n, int type, float score)
{
    int id = b->v.n_tokens++;
    if (id >= MAXT || b->offsets[id] + n > MAXS) { printf("builder overflow\n"); exit(2); }
    memcpy(b->strings + b->offsets[id], s, n);
    b->offsets[id + 1] = b->offsets[id] + (uint32_t)n;
    b->types[id] = (uint8_t)type;
    b->scores[id] = score;
    return id;
}

static int tb_addz(tb *b, const char *s, int type, float score) { return tb_add(b, s, strlen(s), type, score); }

/* Adds the rule l + r -> l||r (creating the result token if needed); returns the result. */
static int tb_rule(tb *b, int l, int r, uint32_t rank)
{
    char buf[64];
    size_t ll = tb_len(b, l), lr = tb_len(b, r);
    int res;
    memcpy(buf, tb_str(b, l), ll);
    memcpy(buf + ll, tb_str(b, r), lr);
    res = tb_find(b, buf, ll + lr);
    if (res < 0) res = tb_add(b, buf, ll + lr, NORMAL, 0);
    b->rules[b->n_rules][0] = (uint32_t)l;
    b->rules[b->n_rules][1] = (uint32_t)r;
    b->rules[b->n_rules][2] = (uint32_t)res;
    b->rules[b->n_rules][3] = rank;
    b->n_rules++;
    return res;
}

static int tb_rule_s(tb *b, const char *l, const char *r, uint32_t rank)
{
    return tb_rule(b, tb_find(b, l, strlen(l)), tb_find(b, r, strlen(r)), rank);
}

static int tb_has_rule(const tb *b, int l, int r)
{
    int i;
    for (i = 0; i < b->n_rules; i++)
        if (b->rules[i][0] == (uint32_t)l && b->rules[i][1] == (uint32_t)r) return 1;
    return 0;
}

static int bytes_less(const tb *b, uint32_t x, uint32_t y)
{
    size_t lx = tb_len(b, (int)x), ly = tb_len(b, (int)y), k = lx < ly ? lx : ly;
    int c = memcmp(tb_str(b, (int)x), tb_str(b, (int)y), k);
    return c < 0 || (c == 0 && lx < ly);
}

/* Fills the derived arrays as FORMAT.md lays them out; extra ids without text follow. */
static void tb_finish(tb *b, int32_t bos, int32_t eos, int extra)
{
    int i, j, n = 0, len_max = 1;
    for (i = 0; i < b->v.n_tokens; i++) {
        if ((int)tb_len(b, i) > len_max) len_max = (int)tb_len(b, i);
        if (b->types[i] != NORMAL) continue;
        for (j = n++; j > 0 && bytes_less(b, (uint32_t)i, b->sorted[j - 1]); j--) b->sorted[j] = b->sorted[j - 1];
        b->sorted[j] = (uint32_t)i;
    }
    for (i = 0; i < b->n_rules; i++) {
        const uint32_t *r = b->rules[i];
        for (j = i; j > 0 && (b->merges[4 * (j - 1)] > r[0] ||
                              (b->merges[4 * (j - 1)] == r[0] && b->merges[4 * (j - 1) + 1] > r[1])); j--)
            memcpy(b->merges + 4 * j, b->merges + 4 * (j - 1), 4 * sizeof b->merges[0]);
        memcpy(b->merges + 4 * j, r, 4 * sizeof b->merges[0]);
    }
    for (i = 0; i < 256; i++) b->v.byte_token[i] = -1;
    for (i = 0; i < b->v.n_tokens; i++)
        if (tb_len(b, i) == 1 && b->types[i] == (b->v.kind == 1 ? NORMAL : BYTE))
            b->v.byte_token[(unsigned char)tb_str(b, i)[0]] = i;
    b->v.n_sorted = n;
    b->v.n_merges = b->n_rules;
    b->v.vocab_size = b->v.n_tokens + extra;
    b->v.bos = bos;
    b->v.eos = eos;
    b->v.max_token_len = len_max;
    b->v.offsets = b->offsets;
    b->v.scores = b->scores;
    b->v.types = b->types;
    b->v.sorted = b->sorted;
    b->v.merges = b->merges;
    b->v.strings = b->strings;
    if (b->v.kind == 3 || b->n_added) { /* the added texts after the token strings, ordered by their bytes */
        uint32_t at = b->offsets[b->v.n_tokens];
        b->v.max_added_len = 0;
        for (i = 0; i < b->n_added; i++) {
            uint32_t l = (uint32_t)strlen(b->added_text[i]);
            memcpy(b->strings + at, b->added_text[i], l);
            b->added[4 * i + 2] = at;
            b->added[4 * i + 3] = l;
            at += l;
            if ((int)l > b->v.max_added_len) b->v.max_added_len = (int)l;
        }
        for (i = 1; i < b->n_added; i++)
            for (j = i; j > 0; j--) {
                uint32_t *x = b->added + 4 * (j - 1), *y = b->added + 4 * j, t[4];
                size_t lx = x[3], ly = y[3];
                int c = memcmp(b->strings + x[2], b->strings + y[2], lx < ly ? lx : ly);
                if (c < 0 || (c == 0 && lx < ly)) break;
                memcpy(t, x, sizeof t); memcpy(x, y, sizeof t); memcpy(y, t, sizeof t);
            }
        b->v.n_added = b->n_added;
        b->v.added = b->added;
    }
}

/* Tokens as text: pieces joined by '|', byte tokens as <XX>, control tokens as [text], other
   other bytes escaped. */
static const char *render(const tb *b, const int32_t *t, int n)
{
    static char buf[8192];
    size_t k = 0;
    int i;
    buf[0] = 0;
    for (i = 0; i < n && k + 600 < sizeof buf; i++) {
        if (i) buf[k++] = '|';
        if (t[i] < 0 || t[i] >= b->v.n_tokens) k += (size_t)sprintf(buf + k, "#%d", (int)t[i]);
        else if (b->types[t[i]] == BYTE) k += (size_t)sprintf(buf + k, "<%02X>", (unsigned char)tb_str(b, t[i])[0]);
        else {
            int control = b->types[t[i]] == CONTROL;
            if (control) buf[k++] = '[';
            k += escape(buf + k, tb_str(b, t[i]), tb_len(b, t[i]));
            if (control) buf[k++] = ']';
        }
    }
    buf[k] = 0;
    return buf;
}

/* ---- reference encoders -------------------------------------------------------------- */
/* Deliberately naive and shaped differently from the library: the pretokenizer tries the
   regex alternatives one by one with explicit backtracking, lookups are linear scans, and
   merging re-examines every pair against every rule. */

#define MAXTEXT 4096

static int r_space(int c) { return c != 0 && strchr(" \t\n\v\f\r", c) != NULL; }
static int r_digit(int c) { return c != 0 && strchr("0123456789", c) != NULL; }
static int r_letter(int c)
{
    return c >= 128 || (c != 0 && strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", c) != NULL);
}
static int r_other(int c) { return !r_space(c) && !r_letter(c) && !r_digit(c); }

/* End of "X+" matched from s[from], or 0 when X does not match there. */
static size_t r_run(const unsigned char *s, size_t n, size_t from, int (*cls)(int))
{
    size_t k = from;
    while (k < n && cls(s[k])) k++;
    return k > from ? k : 0;
}

/* " ?X+": the optional space is greedy, so it is tried first, then dropped. */
static size_t r_opt_space(const unsigned char *s, size_t n, int (*cls)(int))
{
    size_t k;
    if (n > 0 && s[0] == ' ' && (k = r_run(s, n, 1, cls)) != 0) return k;
    return r_run(s, n, 0, cls);
}

/* Length of the GPT-2 match at the start of s[0..n), n > 0. */
static size_t r_match(const unsigned char *s, size_t n)
{
    static const char *const contractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    size_t i, k, run;
    for (i = 0; i < sizeof contractions / sizeof contractions[0]; i++) {
        size_t l = strlen(contractions[i]);
        if (l <= n && memcmp(s, contractions[i], l) == 0) return l;
    }
    if ((k = r_opt_space(s, n, r_letter)) != 0) return k;
    if ((k = r_opt_space(s, n, r_digit)) != 0) return k;
    if ((k = r_opt_space(s, n, r_other)) != 0) return k;
    for (run = 0; run < n && r_space(s[run]); run++) {}
    for (k = run; k >= 1; k--)                     /* \s+(?!\S), backtracking */
        if (k == n || r_space(s[k])) return k;
    if (run) return run;                           /* \s+ */
    return 1;
}

/* The Llama 3 and Qwen2 patterns over code points. The naive UTF-8 decoder builds a value
   from the lead byte's length and its continuation bytes, then rejects what Unicode calls
   ill-formed (overlong, surrogate, past U+10FFFF); a rejected lead byte is one character of
   its own (code point -1, class other), as is every stray byte. */
typedef struct r_text { int32_t cp[MAXTEXT + 1]; size_t at[MAXTEXT + 2]; size_t n; } r_text;

static void r_decode(const unsigned char *s, size_t n, r_text *t)
{
    size_t i = 0, k;
    t->n = 0;
    while (i < n) {
        int len = s[i] < 0x80 ? 1 : (s[i] >> 5) == 6 ? 2 : (s[i] >> 4) == 14 ? 3 : (s[i] >> 3) == 30 ? 4 : 0;
        uint32_t v = len == 1 ? s[i] : len == 2 ? (s[i] & 31u) : len == 3 ? (s[i] & 15u) : (s[i] & 7u);
        static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
        int good = len > 0 && i + (size_t)len <= n;
        for (k = 1; good && k < (size_t)len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) good = 0;
            v = v << 6 | (s[i + k] & 63u);
        }
        if (good && (v < least[len] || (v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)) good = 0;
        t->at[t->n] = i;
        t->cp[t->n++] = good ? (int32_t)v : -1;
        i += good ? (size_t)len : 1;
    }
    t->at[t->n] = n;
}

/* The class by a linear walk of the runs (the table's contents are checked against Node's
   Unicode data by tests/split_oracle.js): 0 space, 1 letter, 2 number, 3 other. */
static int r_uclass(int32_t cp)
{
    int k, c = 3;
    if (cp < 0) return 3;
    for (k = 0; k < MOD__UNI_RUNS && (mod__uni_runs[k] >> 2) <= (uint32_t)cp; k++) c = (int)(mod__uni_runs[k] & 3u);
    return c;
}
static int r_is_s(int32_t c) { return r_uclass(c) == 0; }
static int r_is_l(int32_t c) { return r_uclass(c) == 1; }
static int r_is_n(int32_t c) { return r_uclass(c) == 2; }
static int r_is_crlf(int32_t c) { return c == '\r' || c == '\n'; }
static int r_not_crlf_l_n(int32_t c) { return !r_is_crlf(c) && !r_is_l(c) && !r_is_n(c); }
static int r_not_s_l_n(int32_t c) { return !r_is_s(c) && !r_is_l(c) && !r_is_n(c); }
static int r_fold(int32_t c, int x) { return c == x || c == x - 32 || (x == 's' && c == 0x17F); }

/* Longest run of cls from position i, at most max (0: no limit), in characters. */
static size_t r_count(const r_text *t, size_t i, int (*cls)(int32_t), size_t max)
{
    size_t k = 0;
    while (i + k < t->n && cls(t->cp[i + k]) && (max == 0 || k < max)) k++;
    return k;
}

/* Characters matched at i by the pattern, alternative by alternative with backtracking. */
static size_t r_llama3(const r_text *t, size_t i, size_t max_digits)
{
    static const char *const con[] = {"s", "t", "re", "ve", "m", "ll", "d"};
    const size_t n = t->n;
    size_t a, k, opt, run;
    for (a = 0; a < 7; a++) {               /* (?i:'s|'t|'re|'ve|'m|'ll|'d) */
        size_t l = strlen(con[a]);
        if (i + 1 + l > n || t->cp[i] != '\'') continue;
        for (k = 0; k < l && r_fold(t->cp[i + 1 + k], con[a][k]); k++) {}
        if (k == l) return 1 + l;
    }
    for (opt = 2; opt-- > 0;) {             /* [^\r\n\p{L}\p{N}]?\p{L}+: with the option, then without */
        if (opt && !(i < n && r_not_crlf_l_n(t->cp[i]))) continue;
        if ((run = r_count(t, i + opt, r_is_l, 0)) > 0) return opt + run;
    }
    if ((run = r_count(t, i, r_is_n, max_digits)) > 0) return run;   /* \p{N}{1,3} or \p{N} */
    for (opt = 2; opt-- > 0;) {             /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
        if (opt && t->cp[i] != ' ') continue;
        if ((run = r_count(t, i + opt, r_not_s_l_n, 0)) > 0) return opt + run + r_count(t, i + opt + run, r_is_crlf, 0);
    }
    run = r_count(t, i, r_is_s, 0);
    for (k = run + 1; k-- > 0;) {           /* \s*[\r\n]+: \s* gives back one at a time */
        size_t nl = r_count(t, i + k, r_is_crlf, 0);
        if (nl > 0) return k + nl;
    }
    for (k = run; k >= 1; k--)              /* \s+(?!\S) */
        if (i + k == n || r_is_s(t->cp[i + k])) return k;
    return run ? run : 1;                   /* \s+; nothing else is left */
}

/* Bytes matched at the start of s[0..n) by pretokenizer pt (1 GPT-2, 2 Llama 3, 3 Qwen2). */
static size_t r_split(int pt, const unsigned char *s, size_t n)
{
    static r_text t;
    if (pt == 1) return r_match(s, n);
    r_decode(s, n, &t);
    return t.at[r_llama3(&t, 0, pt == 2 ? 3 : 1)];
}

static int r_single_byte_token(const tb *b, unsigned char c, int type)
{
    int i;
    for (i = 0; i < b->v.n_tokens; i++)
        if (b->types[i] == type && tb_len(b, i) == 1 && (unsigned char)tb_str(b, i)[0] == c) return i;
    return -1;
}

/* Kind 1; returns the token count or -1 when the text cannot be encoded. */
static int ref_encode1(const tb *b, const unsigned char *text, size_t len, int32_t *out)
{
    unsigned char s[MAXTEXT + 1];
    size_t n = 0, i = 0, k;
    int total = 0;
    if ((b->v.flags & 1) && len) s[n++] = ' ';
    memcpy(s + n, text, len);
    n += len;
    while (i < n) {
        size_t plen = b->v.pretokenizer ? r_split(b->v.pretokenizer, s + i, n - i) : n - i;
        int32_t t[MAXTEXT + 1];
        int m = 0, j, r, whole = -1;
        for (j = 0; (b->v.flags & 2) && j < b->v.n_tokens; j++) /* flag bit 1: the piece as one token */
            if (b->types[j] == NORMAL && tb_len(b, j) == plen && memcmp(tb_str(b, j), s + i, plen) == 0) whole = j;
        if (whole >= 0) {
            out[total++] = whole;
            i += plen;
            continue;
        }
        for (k = 0; k < plen; k++)
            if ((t[m++] = r_single_byte_token(b, s[i + k], NORMAL)) < 0) return -1;
        for (;;) {
            int at = -1, rule = -1;
            for (j = 0; j + 1 < m; j++)
                for (r = 0; r < b->n_rules; r++)
                    if (b->rules[r][0] == (uint32_t)t[j] && b->rules[r][1] == (uint32_t)t[j + 1] &&
                        (rule < 0 || b->rules[r][3] < b->rules[rule][3])) { at = j; rule = r; }
            if (rule < 0) break;
            t[at] = (int32_t)b->rules[rule][2];
            for (j = at + 1; j + 1 < m; j++) t[j] = t[j + 1];
            m--;
        }
        memcpy(out + total, t, (size_t)m * sizeof t[0]);
        total += m;
        i += plen;
    }
    return total;
}

/* Kind 2, following llama2.c's encode() step by step. */
static int ref_char2(const tb *b, const unsigned char *s, size_t n, int32_t *out, int *nt)
{
    int id = tb_find(b, (const char *)s, n);
    size_t i;
    if (id >= 0) { out[(*nt)++] = id; return 1; }
    for (i = 0; i < n; i++) {
        if ((id = r_single_byte_token(b, s[i], BYTE)) < 0) return 0;
        out[(*nt)++] = id;
    }
    return 1;
}

static int ref_encode2(const tb *b, const unsigned char *text, size_t len, int32_t *out)
{
    unsigned char str[8], cat[2 * 64];
    size_t i, str_len = 0;
    int n = 0;
    if ((b->v.flags & 1) && len && !ref_char2(b, (const unsigned char *)" ", 1, out, &n)) return -1;
    for (i = 0; i < len; i++) {
        if ((text[i] & 0xC0) != 0x80) str_len = 0;
        str[str_len++] = text[i];
        if (i + 1 < len && (text[i + 1] & 0xC0) == 0x80 && str_len < 4) continue;
        if (!ref_char2(b, str, str_len, out, &n)) return -1;
        str_len = 0;
    }
    for (;;) {
        float best_score = -1e30f;
        int best_id = -1, best_idx = -1, j;
        for (j = 0; j + 1 < n; j++) {
            size_t la = tb_len(b, out[j]), lb = tb_len(b, out[j + 1]);
            int id;
            /* llama2.c's byte tokens are spelled "<0xXX>", which no merge ever produces */
            if (b->types[out[j]] == BYTE || b->types[out[j + 1]] == BYTE) continue;
            memcpy(cat, tb_str(b, out[j]), la);
            memcpy(cat + la, tb_str(b, out[j + 1]), lb);
            id = tb_find(b, (const char *)cat, la + lb);
            if (id != -1 && b->scores[id] > best_score) {
                best_score = b->scores[id];
                best_id = id;
                best_idx = j;
            }
        }
        if (best_idx == -1) break;
        out[best_idx] = best_id;
        for (j = best_idx + 1; j < n - 1; j++) out[j] = out[j + 1];
        n--;
    }
    return n;
}


/* Kind 3, in Hugging Face's own terms: the text is split at added tokens (the longest match at
   the leftmost position), each piece normalized with SentencePiece's U+2581 (3 bytes) for every
   space and prepended per the rule, split before each U+2581, and each word's characters looked
   up by comparing with every token's text written the same way (a space as U+2581); then the
   lowest-ranked rule is applied, leftmost first, until none applies. */
#define SP "\xE2\x96\x81"
static size_t hf_text(const tb *b, int id, char *o)
{
    size_t i, k = 0;
    for (i = 0; i < tb_len(b, id); i++) {
        if (tb_str(b, id)[i] == ' ') { memcpy(o + k, SP, 3); k += 3; }
        else o[k++] = tb_str(b, id)[i];
    }
    return k;
}
static int hf_find(const tb *b, const char *s, size_t n)
{
    char buf[256];
    int i;
    for (i = 0; i < b->v.n_tokens; i++)
        if (b->types[i] == NORMAL && tb_len(b, i) * 3 < sizeof buf && hf_text(b, i, buf) == n && memcmp(buf, s, n) == 0) return i;
    return -1;
}
/* bytes of the UTF-8 character at s: a well-formed sequence, else 1 */
static size_t hf_char(const unsigned char *s, size_t n)
{
    uint32_t cp;
    size_t l, k;
    if (s[0] < 0x80) return 1;
    l = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (l == 0 || l > n || s[0] > 0xF4) return 1;
    for (k = 1; k < l; k++) if ((s[k] & 0xC0) != 0x80) return 1;
    cp = l == 2 ? (uint32_t)(s[0] & 0x1F) << 6 | (s[1] & 0x3F)
       : l == 3 ? (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F)
                : (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 | (s[3] & 0x3F);
    if ((l == 2 && cp < 0x80) || (l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp < 0xE000)) return 1;
    return l;
}
static int hf_word(const tb *b, const char *w, size_t n, int32_t *out)
{
    int32_t t[MAXTEXT + 8];
    int m = 0, j, r, pending = -1;
    size_t i = 0, l, k;
    if (b->v.sp_flags & MOD__SP_IGNORE_MERGES) {
        int id = hf_find(b, w, n);
        if (id >= 0) { out[0] = id; return 1; }
    }
    for (i = 0; i < n; i += l) {
        int id;
        l = hf_char((const unsigned char *)w + i, n - i);
        id = hf_find(b, w + i, l);
        if (id >= 0) {
            if (pending >= 0) t[m++] = pending;
            pending = -1;
            t[m++] = id;
            continue;
        }
        if (b->v.sp_flags & MOD__SP_BYTE_FALLBACK) {
            for (k = 0; k < l && r_single_byte_token(b, (unsigned char)w[i + k], BYTE) >= 0; k++) {}
            if (k == l) {
                for (k = 0; k < l; k++) t[m++] = r_single_byte_token(b, (unsigned char)w[i + k], BYTE);
                continue;
            }
        }
        if (b->v.unk < 0) return -1;
        if (pending >= 0 && !(b->v.sp_flags & MOD__SP_FUSE_UNK)) t[m++] = pending;
        pending = b->v.unk;
    }
    if (pending >= 0) t[m++] = pending;
    for (;;) {
        int at = -1, rule = -1;
        for (j = 0; j + 1 < m; j++)
            for (r = 0; r < b->n_rules; r++)
                if (b->rules[r][0] == (uint32_t)t[j] && b->rules[r][1] == (uint32_t)t[j + 1] &&
                    (rule < 0 || b->rules[r][3] < b->rules[rule][3])) { at = j; rule = r; }
        if (rule < 0) break;
        t[at] = (int32_t)b->rules[rule][2];
        for (j = at + 1; j + 1 < m; j++) t[j] = t[j + 1];
        m--;
    }
    memcpy(out, t, (size_t)m * sizeof t[0]);
    return m;
}
static int hf_piece(const tb *b, const unsigned char *p, size_t n, size_t at, int32_t *out)
{
    char s[3 * MAXTEXT + 8];
    size_t k = 0, i, l, w, e;
    int total = 0, prepend = b->v.prepend;
    if (n == 0) return 0;
    for (i = 0; i < n; i += l) {
        l = hf_char(p + i, n - i);
        if (l == 1 && p[i] == ' ') { memcpy(s + k, SP, 3); k += 3; }
        else { memcpy(s + k, p + i, l); k += l; }
    }
    if (prepend == MOD__SP_PREPEND_EACH || ((prepend == MOD__SP_PREPEND_ALWAYS || (prepend == MOD__SP_PREPEND_FIRST && at == 0)) &&
                                            !(k >= 3 && memcmp(s, SP, 3) == 0))) {
        memmove(s + 3, s, k);
        memcpy(s, SP, 3);
        k += 3;
    }
    for (w = 0; w < k; w = e) {
        int m;
        if (!(b->v.sp_flags & MOD__SP_SPLIT)) e = k;
        else for (e = w + 1; e < k && !(e + 3 <= k && memcmp(s + e, SP, 3) == 0); e++) {}
        if ((m = hf_word(b, s + w, e - w, out + total)) < 0) return -1;
        total += m;
    }
    return total;
}
/* Kinds 2 and 3 with an added-token table: the text split at the longest added text at each
   position (special ones only when asked), each piece between them encoded on its own: kind 3
   as Hugging Face does, kind 2 by ref_encode2 (so with its prefix space before every piece). */
static int ref_encode3(const tb *b, const unsigned char *text, size_t len, int special, int32_t *out)
{
    size_t i = 0, start = 0;
    int total = 0, m;
    while (i < len) {
        int a, best = -1;
        size_t best_len = 0;
        for (a = 0; a < b->n_added; a++) {
            size_t l = b->added[4 * a + 3];
            if ((special || !b->added[4 * a + 1]) && l <= len - i && l > best_len && memcmp(text + i, b->strings + b->added[4 * a + 2], l) == 0) {
                best = a;
                best_len = l;
            }
        }
        if (best < 0) { i++; continue; }
        if ((m = b->v.kind == 2 ? ref_encode2(b, text + start, i - start, out + total) : hf_piece(b, text + start, i - start, start, out + total)) < 0) return -1;
        total += m;
        out[total++] = (int32_t)b->added[4 * best];
        i += best_len;
        start = i;
    }
    if ((m = b->v.kind == 2 ? ref_encode2(b, text + start, len - start, out + total) : hf_piece(b, text + start, len - start, start, out + total)) < 0) return -1;
    return total + m;
}

/* ---- random generation --------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}
static int rnd_to(int n) { return (int)(rnd() % (uint32_t)n); }

static size_t put_utf8(unsigned char *o, uint32_t cp)
{
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = (unsigned char)(0xC0 | cp >> 6); o[1] = (unsigned char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | cp >> 12); o[1] = (unsigned char)(0x80 | (cp >> 6 & 63));
        o[2] = (unsigned char)(0x80 | (cp & 63));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | cp >> 18); o[1] = (unsigned char)(0x80 | (cp >> 12 & 63));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 63)); o[3] = (unsigned char)(0x80 | (cp & 63));
    return 4;
}

/* Pieces that random texts are glued from, so that merges, contractions and fallbacks occur. */
static const char *const focus[] = {
    "a", "b", "c", "s", "l", "e", "r", "t", " ", " ", "  ", "'", "'s", "'ll", "'re", "1", "2",
    "\n", "\t", "\r", "\f", "!", ".", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\x80", "\xC3", "\0",
};
#define N_FOCUS (int)(sizeof focus / sizeof focus[0])

static size_t focus_len(int i) { return focus[i][0] ? strlen(focus[i]) : 1; }

/* mode 0: uniform bytes; 1: focus pieces; 2: valid UTF-8 of every length. */
static size_t gen_text(unsigned char *o, int mode)
{
    size_t n = 0, want = (size_t)rnd_to(41);
    while (n < want) {
        if (mode == 0) o[n++] = (unsigned char)rnd();
        else if (mode == 1) {
            int i = rnd_to(N_FOCUS);
            memcpy(o + n, focus[i], focus_len(i));
            n += focus_len(i);
        } else {
            uint32_t cp;
            switch (rnd_to(4)) {
            case 0: cp = (uint32_t)rnd_to(0x80); break;
            case 1: cp = 0x80 + (uint32_t)rnd_to(0x800 - 0x80); break;
            case 2: cp = 0x800 + (uint32_t)rnd_to(0x10000 - 0x800); if (cp >= 0xD800 && cp < 0xE000) cp = 'x'; break;
            default: cp = 0x10000 + (uint32_t)rnd_to(0x110000 - 0x10000); break;
            }
            n += put_utf8(o + n, cp);
        }
    }
    return n;
}

/* Kind 1: every byte a token (in shuffled id order), one control token, random rules over
   the focus pieces with ranks in a small range (ties, and ranks that disagree with the
   order in which results were built). Bytes >= 0xF5 are left out when `holes`. */
static void build_random1(tb *b, int pretokenizer, unsigned flags, int holes)
{
    int perm[256], i, pool[MAXT], n_pool = 0, tries;
    tb_init(b, 1, pretokenizer, flags);
    for (i = 0; i < 256; i++) perm[i] = i;
    for (i = 255; i > 0; i--) { int j = rnd_to(i + 1), t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
    tb_addz(b, "<|endoftext|>", CONTROL, 0);
    for (i = 0; i < 256; i++) {
        char c = (char)perm[i];
        if (holes && perm[i] >= 0xF5) continue;
        tb_add(b, &c, 1, NORMAL, 0);
    }
    for (i = 0; i < N_FOCUS; i++) {
        size_t k;
        for (k = 0; k < focus_len(i); k++) {
            int id = tb_find(b, focus[i] + k, 1);
            if (id >= 0) pool[n_pool++] = id;
        }
    }
    for (tries = 0; b->n_rules < 400 && tries < 20000; tries++) {
        int l = pool[rnd_to(n_pool)], r = pool[rnd_to(n_pool)], res;
        if (tb_len(b, l) + tb_len(b, r) > 10 || tb_has_rule(b, l, r)) continue;
        res = tb_rule(b, l, r, (uint32_t)rnd_to(120));
        if (n_pool < MAXT) pool[n_pool++] = res;
    }
    tb_finish(b, -1, 0, 3);
}

/* Kind 2, llama2.c layout: <unk> <s> </s>, 256 byte tokens, then normal tokens: some single
   characters (not all, so some fall back), odd byte strings that llama2.c's character
   grouping can produce, and random concatenations with small integer scores (ties). */
static void build_random2(tb *b, unsigned flags, int holes)
{
    static const char *const chars[] = {
        " ", "a", "b", "c", "s", "l", "e", "'", "1", "\n", "!", "\xC3\xA9", "\xF0\x9F\x98\x80",
        "\xC3", "\x80\x80", "a\x80", "\xC3\xA9\x80", "\0",
    };
    int i, n_chars = (int)(sizeof chars / sizeof chars[0]), tries, made = 0;
    tb_init(b, 2, 0, flags);
    tb_addz(b, "<unk>", CONTROL, 0);
    tb_addz(b, "<s>", CONTROL, 0);
    tb_addz(b, "</s>", CONTROL, 0);
    for (i = 0; i < 256; i++) {
        char c = (char)i;
        if (!(holes && i >= 0xF5)) tb_add(b, &c, 1, BYTE, 0);
    }
    for (i = 0; i < n_chars; i++) tb_add(b, chars[i], chars[i][0] ? strlen(chars[i]) : 1, NORMAL, (float)(rnd_to(9) - 4));
    for (tries = 0; made < 250 && tries < 20000; tries++) {
        char buf[32];
        size_t n = 0;
        int parts = 2 + rnd_to(3), p;
        for (p = 0; p < parts; p++) {
            int f = rnd_to(N_FOCUS);
            memcpy(buf + n, focus[f], focus_len(f));
            n += focus_len(f);
        }
        if (tb_find(b, buf, n) >= 0) continue;
        tb_add(b, buf, n, NORMAL, (float)(rnd_to(21) - 10));
        made++;
    }
    tb_finish(b, 1, 2, 2);
}

/* ---- hand-checked cases -------------------------------------------------------------- */

/* Splits text with the library's pretokenizer and compares with pieces joined by '|'. */
static void expect_split_pt(int pt, const char *text, size_t len, size_t pre, const char *want, size_t wlen)
{
    char got[1024], msg[2048];
    size_t n = len + pre, i = 0, k = 0, e;
    mod__vocab v;
    memset(&v, 0, sizeof v);
    v.pretokenizer = pt;
    while (i < n) {
        e = mod__tok_split(&v, text, pre, n, i);
        if (e <= i || e > n) { memcpy(got, "<bad end>", 9); k = 9; break; }
        if (i) got[k++] = '|';
        for (; i < e; i++) got[k++] = (char)mod__tok_byte(text, pre, i);
    }
    snprintf(msg, sizeof msg, "split %d \"%s\" (prefix %d): got \"%s\", want \"%s\"", pt, show(text, len), (int)pre,
             show(got, k), show(want, wlen));
    check(k == wlen && memcmp(got, want, k) == 0, "%s", msg);
}
#define SPLIT(text, want) expect_split_pt(1, text, sizeof text - 1, 0, want, sizeof want - 1)
#define SPLIT_PRE(text, want) expect_split_pt(1, text, sizeof text - 1, 1, want, sizeof want - 1)
#define SPLIT_L3(text, want) expect_split_pt(2, text, sizeof text - 1, 0, want, sizeof want - 1)
#define SPLIT_Q2(text, want) expect_split_pt(3, text, sizeof text - 1, 0, want, sizeof want - 1)
/* the same pieces under both patterns */
#define SPLIT_L3Q2(text, want) (SPLIT_L3(text, want), SPLIT_Q2(text, want))

static void test_pretokenizer(void)
{
    SPLIT("", "");
    SPLIT("Hello world", "Hello| world");
    SPLIT("I'm here", "I|'m| here");
    SPLIT("they'll've'd", "they|'ll|'ve|'d");
    SPLIT("don't WE'RE", "don|'t| WE|'|RE");
    SPLIT("'s's", "'s|'s");
    SPLIT("'", "'");
    SPLIT("'l'r're'll", "'|l|'|r|'re|'ll");
    SPLIT(" 's", " '|s");
    SPLIT("!'s", "!'|s");
    SPLIT(" hello", " hello");
    SPLIT("abc123def", "abc|123|def");
    SPLIT("a 12 34", "a| 12| 34");
    SPLIT("1,000.5", "1|,|000|.|5");
    SPLIT(" $100!", " $|100|!");
    SPLIT("hello!!! world...", "hello|!!!| world|...");
    SPLIT("@@@ abc", "@@@| abc");
    SPLIT("a   b", "a|  | b");
    SPLIT("  hello", " | hello");
    SPLIT("a  ", "a|  ");
    SPLIT("hi  \t", "hi|  \t");
    SPLIT("   ", "   ");
    SPLIT(" ", " ");
    SPLIT("a\n\nb", "a|\n|\n|b");
    SPLIT("a \nb", "a| |\n|b");
    SPLIT("a\r\n b", "a|\r\n| b");
    SPLIT("\r\n\r\n", "\r\n\r\n");
    SPLIT("x\t y", "x|\t| y");
    SPLIT("x\v\fy", "x|\v|\f|y");
    SPLIT("caf\xC3\xA9 na\xC3\xAFve", "caf\xC3\xA9| na\xC3\xAFve");
    SPLIT("\x80!\xFF", "\x80|!|\xFF");
    SPLIT("ab\xE2\x82\xAC" "12", "ab\xE2\x82\xAC|12");
    SPLIT("a\0b", "a|\0|b");
    SPLIT(" \0 ", " \0| ");
    SPLIT("\x01\x02 \x7F", "\x01\x02| \x7F");
    SPLIT_PRE("hello", " hello");
    SPLIT_PRE(" hello", " | hello");
    SPLIT_PRE("'s", " '|s");
    SPLIT_PRE("12", " 12");
    check_group("pretokenizer");
}

/* Pieces worked out by hand from the regexes (docs/FORMAT.md); the random comparisons below
   use a naive matcher instead. */
static void test_split_unicode(void)
{
    mod__vocab v;
    static const struct { uint32_t cp; int cls; } classes[] = {
        {'a', 1}, {'Z', 1}, {'5', 2}, {' ', 0}, {'\t', 0}, {'\r', 0}, {'!', 3}, {0, 3},
        {0x85, 0}, {0xA0, 0}, {0xAA, 1}, {0xB2, 2}, {0xBD, 2}, {0xE9, 1}, {0x17F, 1}, {0x301, 3},
        {0x660, 2}, {0x966, 2}, {0x1680, 0}, {0x180E, 3}, {0x2000, 0}, {0x200A, 0}, {0x200B, 3},
        {0x200D, 3}, {0x2028, 0}, {0x2029, 0}, {0x202F, 0}, {0x205F, 0}, {0x2160, 2}, {0x2460, 2},
        {0x3000, 0}, {0x3007, 2}, {0x3041, 1}, {0x4E00, 1}, {0x9FFF, 1}, {0xAC00, 1}, {0xD7A3, 1},
        {0xFEFF, 3}, {0xFF10, 2}, {0xFFFD, 3}, {0x1D7D8, 2}, {0x1F600, 3}, {0x1F3FD, 3},
        {0x20000, 1}, {0x2A6DF, 1}, {0x31350, 1}, {0x323AF, 1}, {0x323B0, 3}, {0xE0001, 3}, {0x10FFFF, 3},
    };
    size_t k;
    for (k = 0; k < sizeof classes / sizeof classes[0]; k++)
        check(mod__uni_class(classes[k].cp) == classes[k].cls, "class of U+%04X is %d, want %d", (unsigned)classes[k].cp,
              mod__uni_class(classes[k].cp), classes[k].cls);
    memset(&v, 0, sizeof v);
    v.pretokenizer = 4;
    check(mod__tok_split(&v, "a b", 0, 3, 0) == 3, "an unknown pretokenizer value splits nothing (the loader refuses it)");
    SPLIT_L3Q2("", "");
    SPLIT_L3Q2("Hello world", "Hello| world");
    SPLIT_L3Q2("I'm I'M don't DON'T", "I|'m| I|'M| don|'t| DON|'T");
    SPLIT_L3Q2("we'll WE'LL We'Ll they're THEY'RE I've I'VE he'd HE'D", "we|'ll| WE|'LL| We|'Ll| they|'re| THEY|'RE| I|'ve| I|'VE| he|'d| HE|'D");
    SPLIT_L3Q2("it's IT'S x'\xC5\xBF", "it|'s| IT|'S| x|'\xC5\xBF");   /* U+017F folds to s */
    SPLIT_L3Q2("a'sx b'Tx c'REx d'vEx e'Mx f'LLx g'dx h'\xC5\xBFx", "a|'s|x| b|'T|x| c|'RE|x| d|'vE|x| e|'M|x| f|'LL|x| g|'d|x| h|'\xC5\xBF|x");
    SPLIT_L3Q2("a'kx a're", "a|'kx| a|'re");
    SPLIT_L3Q2("'l'r'x", "'l|'r|'x");
    SPLIT_L3Q2("''s", "''|s");
    SPLIT_L3Q2(" 's", " '|s");
    SPLIT_L3Q2("!'s", "!'|s");
    SPLIT_L3Q2("(word) [x]", "(word|)| [|x|]");
    SPLIT_L3Q2("x [y", "x| [|y");
    SPLIT_L3Q2("[y", "[y");
    SPLIT_L3Q2("\tword", "\tword");
    SPLIT_L3Q2("\nword", "\n|word");
    SPLIT_L3Q2("\xE3\x80\x80word", "\xE3\x80\x80word");
    SPLIT_L3Q2("a  b", "a| | b");
    SPLIT_L3Q2("a   ", "a|   ");
    SPLIT_L3Q2("a \xC2\xA0 b", "a| \xC2\xA0| b");
    SPLIT_L3Q2("a\n\nb", "a|\n\n|b");
    SPLIT_L3Q2("a \n \n  b", "a| \n \n| | b");
    SPLIT_L3Q2("a\r\n\r\n", "a|\r\n\r\n");
    SPLIT_L3Q2("x;\r\n\r\ny", "x|;\r\n\r\n|y");
    SPLIT_L3Q2("x ;\n", "x| ;\n");
    SPLIT_L3Q2("x  ;", "x| | ;");
    SPLIT_L3Q2("x\t;", "x|\t|;");
    SPLIT_L3Q2("!!! ...", "!!!| ...");
    SPLIT_L3Q2("caf\xC3\xA9 na\xC3\xAFve", "caf\xC3\xA9| na\xC3\xAFve");
    SPLIT_L3Q2("e\xCC\x81t", "e|\xCC\x81t");                  /* a combining mark is not a letter */
    SPLIT_L3Q2("\xE4\xBD\xA0\xE5\xA5\xBD \xE4\xB8\x96", "\xE4\xBD\xA0\xE5\xA5\xBD| \xE4\xB8\x96");
    SPLIT_L3Q2("\xF0\x9F\x98\x80\xF0\x9F\x98\x80 ok", "\xF0\x9F\x98\x80\xF0\x9F\x98\x80| ok");
    SPLIT_L3Q2("\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9x", "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9|x");
    SPLIT_L3Q2("\xE2\x80\x8Bx", "\xE2\x80\x8Bx");              /* U+200B is not a space */
    SPLIT_L3Q2("\x80!\xFF", "\x80!\xFF");                      /* invalid bytes are other */
    SPLIT_L3Q2("a\xC3", "a|\xC3");
    SPLIT_L3Q2("\xC3" "a", "\xC3" "a");
    SPLIT_L3Q2("\xED\xA0\x80x", "\xED\xA0\x80|x");              /* a surrogate: three others */
    SPLIT_L3Q2("\x80x", "\x80x");
    SPLIT_L3Q2("\xE4\xBD", "\xE4\xBD");
    SPLIT_L3Q2("\xFF\n\n", "\xFF\n\n");
    SPLIT_L3Q2("\xC0\xAF\xF4\x90\x80\x80", "\xC0\xAF\xF4\x90\x80\x80");
    SPLIT_L3("1234567 x12", "123|456|7| x|12");
    SPLIT_Q2("1234567 x12", "1|2|3|4|5|6|7| x|1|2");
    SPLIT_L3("\xD9\xA1\xD9\xA2\xD9\xA3\xD9\xA4", "\xD9\xA1\xD9\xA2\xD9\xA3|\xD9\xA4");
    SPLIT_Q2("\xD9\xA1\xD9\xA2", "\xD9\xA1|\xD9\xA2");
    SPLIT_L3("\xC2\xB2\xC2\xBD\xE2\x85\xA0" "1", "\xC2\xB2\xC2\xBD\xE2\x85\xA0|1");
    SPLIT_L3("3.14", "3|.|14");
    check_group("Llama 3 and Qwen2 splits");
}

static void expect_enc(const tb *b, const char *text, size_t len, int add_bos, const char *want)
{
    int32_t out[256];
    int n = -1;
    mod_result r = mod__vocab_encode(&b->v, text, len, add_bos, out, 256, &n, NULL);
    char msg[1024];
    const char *got = r == MOD_OK ? render(b, out, n) : result_name(r), *w = show(want, strlen(want));
    snprintf(msg, sizeof msg, "encode \"%s\": got \"%s\", want \"%s\"", show(text, len), got, w);
    check(strcmp(got, w) == 0, "%s", msg);
}
#define ENC(b, text, want) expect_enc(b, text, sizeof text - 1, 0, want)

static void expect_dec(const tb *b, const int32_t *t, int n, const char *want)
{
    char out[256], msg[512];
    size_t len = 12345;
    mod_result r = mod__vocab_decode(&b->v, t, n, out, sizeof out, &len);
    snprintf(msg, sizeof msg, "decode %s: got \"%s\" (%d), want \"%s\"", render(b, t, n),
             show(out, r == MOD_OK ? len : 0), (int)r, show(want, strlen(want)));
    check(r == MOD_OK && len == strlen(want) && memcmp(out, want, len) == 0, "%s", msg);
}

static tb g_a, g_b, g_c;

static void test_lookup(void)
{
    tb *b = &g_a;
    size_t len;
    const char *p;
    tb_init(b, 2, 0, 0);
    tb_addz(b, "<s>", CONTROL, 0);
    tb_addz(b, "b", NORMAL, 0);
    tb_addz(b, "abc", NORMAL, 0);
    tb_addz(b, "a", NORMAL, 0);
    tb_addz(b, "ab", NORMAL, 0);
    tb_add(b, "\xFF", 1, BYTE, 0);
    tb_add(b, "a\0", 2, NORMAL, 0);
    tb_addz(b, "\xC3\xA9", NORMAL, 0);
    tb_finish(b, 0, -1, 2);
    check(mod__vocab_lookup(&b->v, "a", 1, "b", 1) == 4, "lookup a|b");
    check(mod__vocab_lookup(&b->v, "ab", 2, "", 0) == 4, "lookup ab|");
    check(mod__vocab_lookup(&b->v, "", 0, "ab", 2) == 4, "lookup |ab");
    check(mod__vocab_lookup(&b->v, "a", 1, "bc", 2) == 2, "lookup a|bc");
    check(mod__vocab_lookup(&b->v, "ab", 2, "c", 1) == 2, "lookup ab|c");
    check(mod__vocab_lookup(&b->v, "a", 1, "", 0) == 3, "lookup a");
    check(mod__vocab_lookup(&b->v, "b", 1, "", 0) == 1, "lookup b");
    check(mod__vocab_lookup(&b->v, "a", 1, "\0", 1) == 6, "lookup a|NUL");
    check(mod__vocab_lookup(&b->v, "\xC3", 1, "\xA9", 1) == 7, "lookup split UTF-8");
    check(mod__vocab_lookup(&b->v, "abc", 3, "d", 1) == -1, "lookup abcd (longer than any token)");
    check(mod__vocab_lookup(&b->v, "ab", 2, "d", 1) == -1, "lookup abd");
    check(mod__vocab_lookup(&b->v, "", 0, "", 0) == -1, "lookup empty");
    check(mod__vocab_lookup(&b->v, "c", 1, "", 0) == -1, "lookup c");
    check(mod__vocab_lookup(&b->v, "\xFF", 1, "", 0) == -1, "lookup finds no byte token");
    check(mod__vocab_lookup(&b->v, "<s>", 3, "", 0) == -1, "lookup finds no control token");
    p = mod__vocab_piece(&b->v, 2, &len);
    check(p && len == 3 && memcmp(p, "abc", 3) == 0, "piece of a normal token");
    p = mod__vocab_piece(&b->v, 5, &len);
    check(p && len == 1 && p[0] == '\xFF', "piece of a byte token");
    p = mod__vocab_piece(&b->v, 0, &len);
    check(p && len == 0 && p[0] == 0, "piece of a control token is empty");
    p = mod__vocab_piece(&b->v, 9, &len);
    check(p && len == 0, "piece of an id without text is empty");
    len = 7;
    check(mod__vocab_piece(&b->v, 10, &len) == NULL && len == 0, "piece of id vocab_size is NULL");
    len = 7;
    check(mod__vocab_piece(&b->v, -1, &len) == NULL && len == 0, "piece of id -1 is NULL");
    check_group("lookup and piece");
}

static void bytes_vocab(tb *b, int pretokenizer, unsigned flags)
{
    int i;
    tb_init(b, 1, pretokenizer, flags);
    for (i = 0; i < 256; i++) {
        char c = (char)(255 - i);
        tb_add(b, &c, 1, NORMAL, 0);
    }
}

static void test_kind1(void)
{
    tb *b = &g_a;
    bytes_vocab(b, 0, 0);
    tb_rule_s(b, "b", "c", 0);
    tb_rule_s(b, "a", "b", 1);
    tb_rule_s(b, "d", "e", 5);
    tb_rule_s(b, "e", "f", 5);
    tb_rule_s(b, "x", "x", 2);
    tb_rule_s(b, "xx", "xx", 3);
    tb_rule_s(b, "h", "e", 10);
    tb_rule_s(b, "l", "l", 2);
    tb_rule_s(b, "ll", "o", 3);
    tb_rule_s(b, "he", "llo", 11);
    tb_rule_s(b, "a", " ", 0);
    tb_rule_s(b, "q", "r", 7);
    tb_rule_s(b, "p", "qr", 6); /* a rule ranked before the rule that builds its right side */
    tb_rule_s(b, "r", "s", 8);
    tb_finish(b, -1, -1, 0);
    ENC(b, "abc", "a|bc");        /* the rank decides, not the position */
    ENC(b, "def", "de|f");        /* equal ranks: leftmost */
    ENC(b, "defdef", "de|f|de|f");
    ENC(b, "xxx", "xx|x");
    ENC(b, "xxxxx", "xxxx|x");
    ENC(b, "hello", "hello");
    ENC(b, "pqrs", "pqr|s");      /* q r (7) before r s (8), then p qr (6) */
    ENC(b, "a bc", "a |bc");      /* no pretokenizer: one piece */
    ENC(b, "", "");
    ENC(b, "\x01\xFF", "\x01|\xFF");

    bytes_vocab(b, 1, 0);
    tb_rule_s(b, "b", "c", 0);
    tb_rule_s(b, "a", " ", 0);
    tb_rule_s(b, " ", "a", 4);
    tb_rule_s(b, "'", "s", 1);
    tb_rule_s(b, "s", " ", 1);
    tb_finish(b, -1, -1, 0);
    ENC(b, "a bc", "a| |bc");     /* merges stay inside pieces */
    ENC(b, "abc abc", "a|bc| a|bc");
    ENC(b, "it's a", "i|t|'s| a");
    ENC(b, "s  a", "s| | a");

    bytes_vocab(b, 1, 1);         /* the prefix space joins the first word */
    tb_rule_s(b, "b", "c", 0);
    tb_rule_s(b, " ", "a", 4);
    tb_finish(b, -1, -1, 0);
    ENC(b, "abc", " a|bc");
    ENC(b, " abc", " | a|bc");
    ENC(b, "", "");
    {
        int32_t t[3];
        t[0] = tb_find(b, " a", 2); t[1] = tb_find(b, "bc", 2); t[2] = tb_find(b, " a", 2);
        expect_dec(b, t, 3, "abc a");
    }

    /* flag bit 1: a piece that is a normal token stays whole, whatever the merges would make */
    bytes_vocab(b, 2, 2);
    tb_rule_s(b, "a", "b", 0);
    tb_rule_s(b, "b", "c", 1);
    tb_addz(b, "abc", NORMAL, 0);  /* no rule builds it: a b first, then nothing */
    tb_addz(b, " xyz", NORMAL, 0);
    tb_addz(b, "<ctl>", CONTROL, 0);
    tb_finish(b, -1, -1, 0);
    ENC(b, "abc", "abc");
    ENC(b, "abcd", "ab|c|d");      /* not a token: merged as usual */
    ENC(b, "abc abc", "abc| |ab|c");  /* " abc" is the second piece, and no token */
    ENC(b, " xyz", " xyz");
    ENC(b, "<ctl>", "<|c|t|l|>");   /* control tokens are never matched */
    b->v.flags = 0;
    ENC(b, "abc", "ab|c");
    bytes_vocab(b, 2, 3);          /* with the prefix space, which is part of the first piece */
    tb_addz(b, " xyz", NORMAL, 0);
    tb_finish(b, -1, -1, 0);
    ENC(b, "xyz", " xyz");
    ENC(b, "xyz xyz", " xyz| xyz");
    check_group("kind 1 merges");
}

static void test_kind2(void)
{
    tb *b = &g_a;
    int i;
    tb_init(b, 2, 0, 1);
    tb_addz(b, "<unk>", CONTROL, 0);
    tb_addz(b, "<s>", CONTROL, 0);
    tb_addz(b, "</s>", CONTROL, 0);
    for (i = 0; i < 256; i++) {
        char c = (char)i;
        tb_add(b, &c, 1, BYTE, 0);
    }
    tb_addz(b, " ", NORMAL, 0);
    tb_addz(b, "a", NORMAL, 0); tb_addz(b, "b", NORMAL, 0); tb_addz(b, "c", NORMAL, 0);
    tb_addz(b, "h", NORMAL, 0); tb_addz(b, "e", NORMAL, 0); tb_addz(b, "l", NORMAL, 0);
    tb_addz(b, "o", NORMAL, 0); tb_addz(b, "x", NORMAL, 0); tb_addz(b, "y", NORMAL, 0);
    tb_addz(b, "z", NORMAL, 0);
    tb_addz(b, "ab", NORMAL, 1); tb_addz(b, "bc", NORMAL, 2); tb_addz(b, " a", NORMAL, 0.5f);
    tb_addz(b, "he", NORMAL, 3); tb_addz(b, "ll", NORMAL, 4); tb_addz(b, "llo", NORMAL, 5);
    tb_addz(b, "hello", NORMAL, 6); tb_addz(b, " hello", NORMAL, 7);
    tb_addz(b, "xy", NORMAL, 1); tb_addz(b, "yz", NORMAL, 1);
    tb_addz(b, "\xC3\xA9", NORMAL, 0); tb_addz(b, " \xC3\xA9", NORMAL, 1);
    tb_addz(b, "\xF0\x9F\x99\x82", NORMAL, 0);
    tb_addz(b, "\x80\x80", NORMAL, -1);
    tb_finish(b, 1, 2, 0);

    ENC(b, "hello", " hello");
    ENC(b, "abc", " a|bc");
    ENC(b, "xyz", " |xy|z");                        /* equal scores: leftmost */
    ENC(b, "hello hello", " hello| hello");
    ENC(b, "\xC3\xA9", " \xC3\xA9");
    ENC(b, "\xE2\x82\xAC", " |<E2>|<82>|<AC>");     /* 3-byte character not in the vocabulary */
    ENC(b, "\xF0\x9F\x98\x80", " |<F0>|<9F>|<98>|<80>");
    ENC(b, "\xF0\x9F\x99\x82", " |\xF0\x9F\x99\x82");
    ENC(b, "\xFF", " |<FF>");                       /* never valid UTF-8 */
    ENC(b, "\xC3" "a", " |<C3>|a");                 /* truncated sequence */
    ENC(b, "\x80\x80", " |\x80\x80");               /* stray continuations form one character */
    ENC(b, "a\x80", " |<61>|<80>");                 /* one character, so both bytes fall back, and
                                                       byte tokens never merge (llama2.c) */
    ENC(b, "\xF0\x9F\x98\x80\x80", " |<F0>|<9F>|<98>|<80>|<80>"); /* at most 4 bytes per character */
    ENC(b, "a\0b", " a|<00>|b");
    ENC(b, "q", " |<71>");
    ENC(b, "", "");
    expect_enc(b, "", 0, 1, "[<s>]");
    expect_enc(b, "hello", 5, 1, "[<s>]| hello");
    {
        int32_t t[6];
        t[0] = 1; t[1] = tb_find(b, " hello", 6); t[2] = tb_find(b, " hello", 6);
        expect_dec(b, t, 3, "hello hello");
        t[0] = 1; t[1] = 0; t[2] = tb_find(b, " ", 1); t[3] = tb_find(b, " a", 2);
        expect_dec(b, t, 4, " a");                  /* only one space is dropped */
        t[0] = 3 + 0xC3; t[1] = 3 + 0xA9; t[2] = 3 + ' ';
        expect_dec(b, t, 3, "\xC3\xA9 ");
        t[0] = 3 + ' '; t[1] = tb_find(b, "x", 1);
        expect_dec(b, t, 2, "x");                   /* a space from a byte token is dropped too */
    }
    b->v.flags = 0;
    ENC(b, "hello", "hello");
    ENC(b, "abc", "a|bc");                          /* without the prefix, b+c outscores a+b */
    ENC(b, " abc", " a|bc");
    ENC(b, "\x80\x80", "\x80\x80");
    {
        int32_t t[2];
        t[0] = tb_find(b, " hello", 6); t[1] = 2;
        expect_dec(b, t, 2, " hello");
    }
    check_group("kind 2 (llama2.c)");
}

/* Kind 3, by hand: <unk> <s> </s>, 256 byte tokens, then " ", "a", "b", "x", "<x>" and the
   rules " "+"a" (rank 0), "a"+"b" (1), " a"+"b" (2), "a"+" " (3); <s> and </s> are special
   added tokens, "<x>" a non-special one. */
#define ENC3(b, flags, text, want) expect_enc(b, text, sizeof text - 1, flags, want)
static void build_hand3(tb *b, int prepend, unsigned sp_flags, int unk)
{
    int i;
    tb_init(b, 3, 0, 0);
    tb_addz(b, "<unk>", CONTROL, 0);
    tb_addz(b, "<s>", CONTROL, 0);
    tb_addz(b, "</s>", CONTROL, 0);
    for (i = 0; i < 256; i++) {
        char c = (char)i;
        tb_add(b, &c, 1, BYTE, 0);
    }
    tb_addz(b, " ", NORMAL, 0);
    tb_addz(b, "a", NORMAL, 0);
    tb_addz(b, "b", NORMAL, 0);
    tb_addz(b, "x", NORMAL, 0);
    tb_addz(b, "<x>", NORMAL, 0);
    tb_rule_s(b, " ", "a", 0);
    tb_rule_s(b, "a", "b", 1);
    tb_rule_s(b, " a", "b", 2);
    tb_rule_s(b, "a", " ", 3);
    tb_added(b, 1, "<s>", 1);
    tb_added(b, 2, "</s>", 1);
    tb_added(b, tb_find(b, "<x>", 3), "<x>", 0);
    b->v.prepend = prepend;
    b->v.sp_flags = sp_flags;
    b->v.decode_strip = MOD__SP_STRIP_ONE;
    tb_finish(b, 1, 2, 0);
    b->v.unk = unk;
}

static void test_kind3(void)
{
    tb *b = &g_a;
    int32_t t[8];
    build_hand3(b, MOD__SP_PREPEND_EACH, MOD__SP_BYTE_FALLBACK, 0);
    ENC3(b, 0, "ab", " ab");                       /* " a" first (rank 0), then " a"+"b" */
    ENC3(b, 0, "ba", " |b|a");
    ENC3(b, 0, "a b", " a| |b");                   /* one word: "a"+" " (3) loses to " "+"a" (0) */
    ENC3(b, 0, "a\xE2\x96\x81" "b", " a| |b");     /* U+2581 in the text is a space */
    ENC3(b, 0, "z", " |<7A>");                     /* byte fallback */
    ENC3(b, 0, "\xC3\xA9", " |<C3>|<A9>");
    ENC3(b, 0, "", "");
    ENC3(b, 0, " ", " | ");                        /* the prepend rule of a normalizer: always */
    ENC3(b, 0, "<s>a", " |<3C>|<73>|<3E>|a");      /* special tokens are plain text by default */
    ENC3(b, MOD_TOKENIZE_SPECIAL, "<s>a", "[<s>]| a"); /* each piece between them prepended */
    ENC3(b, MOD_TOKENIZE_SPECIAL | MOD_TOKENIZE_BOS, "a</s>", "[<s>]| a|[</s>]");
    ENC3(b, 0, "a<x>b", " a|<x>| |b");             /* non-special added tokens always split */
    ENC3(b, 0, "<x", " |<3C>|x");
    b->v.prepend = MOD__SP_PREPEND_ALWAYS;          /* Metaspace "always": not before a space */
    ENC3(b, 0, " a", " a");
    ENC3(b, MOD_TOKENIZE_SPECIAL, "<s>b", "[<s>]| |b");
    b->v.prepend = MOD__SP_PREPEND_FIRST;           /* Metaspace "first": only at the start */
    ENC3(b, MOD_TOKENIZE_SPECIAL, "<s>b", "[<s>]|b");
    ENC3(b, MOD_TOKENIZE_SPECIAL, "b<s>b", " |b|[<s>]|b");
    b->v.prepend = MOD__SP_PREPEND_NEVER;
    ENC3(b, 0, "ab", "ab");
    ENC3(b, 0, "a ", "a ");
    b->v.sp_flags |= MOD__SP_SPLIT;                 /* words start at spaces: "a"+" " cannot */
    ENC3(b, 0, "a ", "a| ");
    ENC3(b, 0, "a  ab", "a| | ab");
    b->v.sp_flags = 0;                              /* no byte fallback: unk, fused or not */
    ENC3(b, 0, "zz", "[<unk>]|[<unk>]");
    ENC3(b, 0, "zaz", "[<unk>]|a|[<unk>]");
    b->v.sp_flags = MOD__SP_FUSE_UNK;
    ENC3(b, 0, "zzab", "[<unk>]|ab");
    ENC3(b, 0, "z\xE2\x82\xAC" "a", "[<unk>]|a");
    b->v.unk = -1;
    ENC3(b, 0, "az", "MOD_ERR_TOKENIZE");
    b->v.unk = 0;
    b->v.sp_flags = MOD__SP_IGNORE_MERGES;          /* a word that is a token is that token */
    ENC3(b, 0, " ab", " ab");
    ENC3(b, 0, "<x>", "<x>");
    build_hand3(b, MOD__SP_PREPEND_EACH, MOD__SP_BYTE_FALLBACK, 0);
    t[0] = 1; t[1] = tb_find(b, " ab", 3); t[2] = tb_find(b, " ", 1);
    expect_dec(b, t, 3, "ab ");                     /* one leading space dropped */
    t[0] = 3 + ' '; t[1] = tb_find(b, "a", 1);
    expect_dec(b, t, 2, "a");
    b->v.decode_strip = MOD__SP_STRIP_NONE;
    t[0] = 1; t[1] = tb_find(b, " ab", 3);
    expect_dec(b, t, 2, " ab");
    b->v.decode_strip = MOD__SP_STRIP_FIRST_TOKEN;  /* Metaspace's decoder: every space of the first */
    t[0] = 1; t[1] = tb_find(b, " ", 1); t[2] = tb_find(b, " ab", 3);
    expect_dec(b, t, 3, " ab");
    t[0] = tb_find(b, "a ", 2); t[1] = tb_find(b, " a", 2);
    expect_dec(b, t, 2, "a a");
    t[0] = 3 + ' '; t[1] = tb_find(b, " a", 2);     /* a byte token is not stripped */
    expect_dec(b, t, 2, "  a");
    check_group("kind 3 (SentencePiece-style)");
}

/* Kinds 1 and 2 with MOD_TOKENIZE_SPECIAL: control tokens with text are matched, the longest
   at the leftmost position; kind 2's prefix space goes before every piece (llama.cpp's
   SentencePiece tokenizer; Hugging Face's Prepend normalizer, as tests/test_convert_gguf.c
   checks with the Node oracle). Then kind 2 with an added-token table: non-special added
   tokens always matched, special ones with MOD_TOKENIZE_SPECIAL, the prefix space the same. */
static void test_special12(void)
{
    tb *b = &g_a;
    int i;
    tb_init(b, 1, 1, 0);
    for (i = 0; i < 256; i++) {
        char c = (char)i;
        tb_add(b, &c, 1, NORMAL, 0);
    }
    tb_addz(b, "[A]", CONTROL, 0);
    tb_addz(b, "[A]b", CONTROL, 0);
    tb_addz(b, "[", CONTROL, 0);
    tb_addz(b, "", CONTROL, 0);                     /* an id without text matches nothing */
    tb_rule_s(b, "x", "y", 0);
    tb_finish(b, 256, -1, 0);
    ENC3(b, 0, "x[A]y", "x|[|A|]|y");               /* plain text by default */
    ENC3(b, MOD_TOKENIZE_SPECIAL, "x[A]y", "x|[[A]]|y");
    ENC3(b, MOD_TOKENIZE_SPECIAL, "x[A]by", "x|[[A]b]|y");
    ENC3(b, MOD_TOKENIZE_SPECIAL, "x[[Ay", "x|[[]|[[]|A|y");
    ENC3(b, MOD_TOKENIZE_SPECIAL | MOD_TOKENIZE_BOS, "[A]xy[A]", "[[A]]|[[A]]|xy|[[A]]");
    ENC3(b, MOD_TOKENIZE_SPECIAL, "xy", "xy");
    /* a later part with a longer piece than any before it (the queue's scratch must grow) */
    ENC3(b, MOD_TOKENIZE_SPECIAL, "xy[A]xyxyxyxyxyxyxyxyxyxyxyxyxyxyxyxyxyxy",
         "xy|[[A]]|xy|xy|xy|xy|xy|xy|xy|xy|xy|xy|xy|xy|xy|xy|xy|xy|xy|xy");
    tb_init(b, 2, 0, 1);
    tb_addz(b, "<unk>", CONTROL, 0);
    tb_addz(b, "<s>", CONTROL, 0);
    tb_addz(b, "</s>", CONTROL, 0);
    for (i = 0; i < 256; i++) {
        char c = (char)i;
        tb_add(b, &c, 1, BYTE, 0);
    }
    tb_addz(b, " ", NORMAL, 0);
    tb_addz(b, "a", NORMAL, 0);
    tb_addz(b, " a", NORMAL, 1);
    tb_finish(b, 1, 2, 0);
    ENC3(b, 0, "a<s>a", " a|<3C>|<73>|<3E>|a");
    ENC3(b, MOD_TOKENIZE_SPECIAL, "a<s>a", " a|[<s>]| a");
    ENC3(b, MOD_TOKENIZE_SPECIAL, "<s>a</s>", "[<s>]| a|[</s>]");
    {
        const int t_id = tb_addz(b, "<t>", NORMAL, 0), nl = tb_addz(b, "\n", NORMAL, 0);
        int32_t out[40];
        int n = -1;
        mod_result r;
        tb_addz(b, "b", NORMAL, 0);
        tb_added(b, 1, "<s>", 1);
        tb_added(b, 2, "</s>", 1);
        tb_added(b, t_id, "<t>", 0);
        tb_added(b, nl, "\n", 0);
        tb_finish(b, 1, 2, 0);
        ENC3(b, 0, "a<t>a", " a|<t>| a");
        ENC3(b, 0, "<t>a<t>", "<t>| a|<t>");
        ENC3(b, 0, "<t><t>", "<t>|<t>");
        ENC3(b, 0, "<s>a", " |<3C>|<73>|<3E>|a");
        ENC3(b, MOD_TOKENIZE_SPECIAL, "<s><t>a", "[<s>]|<t>| a");
        ENC3(b, MOD_TOKENIZE_SPECIAL | MOD_TOKENIZE_BOS, "a</s>", "[<s>]| a|[</s>]");
        ENC3(b, 0, "<t", " |<3C>|<74>");
        /* a prefix after each one-byte added token: 12 tokens for 8 bytes, more than len + 2 */
        for (n = 0; n < 40; n++) out[n] = -7;
        r = mod__vocab_encode(&b->v, "\nb\nb\nb\nb", 8, 0, out, 11, &n, NULL);
        check(r == MOD_ERR_BUFFER_TOO_SMALL && n == 26 && out[11] == -7, "kind 2, 12 tokens into 11: MOD_ERR_BUFFER_TOO_SMALL (%s), 3 len + 2 = %d asked, nothing past the end",
              result_name(r), n);
        r = mod__vocab_encode(&b->v, "\nb\nb\nb\nb", 8, 0, out, 12, &n, NULL);
        check(r == MOD_OK && n == 12 && out[0] == nl && out[1] == tb_find(b, " ", 1) && out[2] == tb_find(b, "b", 1) && out[11] == out[2],
              "kind 2, 12 tokens into 12: %s, %d tokens", result_name(r), n);
    }
    check_group("special and added tokens of kinds 1 and 2");
}

static void test_errors(void)
{
    tb *b = &g_a;
    int32_t out[64], toks[8];
    char text[40], buf[64];
    int n, i;
    size_t len;
    mod_error e;
    mod_result r;

    /* kind 2 without byte tokens: a character outside the vocabulary cannot be encoded */
    tb_init(b, 2, 0, 1);
    tb_addz(b, "<s>", CONTROL, 0);
    tb_addz(b, " ", NORMAL, 0);
    tb_addz(b, "a", NORMAL, 0);
    tb_finish(b, -1, -1, 5);
    check(mod__vocab_encode(&b->v, "aq", 2, 0, out, 64, &n, &e) == MOD_ERR_TOKENIZE && e.code == MOD_ERR_TOKENIZE &&
          strcmp(e.message, "byte 1 of the text (0x71) has no token and no byte token") == 0, "kind 2: no byte token, and where");
    check(mod__vocab_encode(&b->v, "a\xC3\xA9", 3, 0, out, 64, &n, &e) == MOD_ERR_TOKENIZE &&
          strcmp(e.message, "byte 1 of the text (0xC3) has no token and no byte token") == 0, "kind 2: a character without a token, and where");
    check(mod__vocab_encode(&b->v, "a", 1, 1, out, 64, &n, &e) == MOD_ERR_TOKENIZE &&
          strcmp(e.message, "MOD_TOKENIZE_BOS is set but the model has no BOS token") == 0, "MOD_TOKENIZE_BOS without a BOS token, said");
    check(mod__vocab_encode(&b->v, "a", 1, 0, out, 64, &n, NULL) == MOD_OK && n == 2, "kind 2 without byte tokens");
    b->v.flags = 0;
    check(mod__vocab_encode(&b->v, " ", 1, 0, out, 64, &n, NULL) == MOD_OK && n == 1 && out[0] == 1, "kind 2: one space");

    /* decoding: ranges, control tokens, ids without text */
    toks[0] = 0; toks[1] = 2; toks[2] = 6; toks[3] = 1;
    r = mod__vocab_decode(&b->v, toks, 4, buf, sizeof buf, &len);
    check(r == MOD_OK && len == 2 && memcmp(buf, "a ", 2) == 0, "control tokens and ids >= n_tokens decode to nothing");
    toks[2] = 8;
    check(mod__vocab_decode(&b->v, toks, 4, buf, sizeof buf, &len) == MOD_ERR_BAD_TOKEN, "decode id == vocab_size");
    toks[2] = -1;
    check(mod__vocab_decode(&b->v, toks, 4, buf, sizeof buf, &len) == MOD_ERR_BAD_TOKEN, "decode id -1");
    toks[2] = (int32_t)0x80000000u;
    check(mod__vocab_decode(&b->v, toks, 4, buf, sizeof buf, &len) == MOD_ERR_BAD_TOKEN, "decode INT32_MIN");
    check(mod__vocab_decode(&b->v, toks, 0, buf, 0, &len) == MOD_OK && len == 0, "decode nothing");

    /* kind 1 without a token for some byte */
    tb_init(b, 1, 1, 0);
    tb_addz(b, "a", NORMAL, 0);
    tb_addz(b, " ", NORMAL, 0);
    tb_addz(b, "<|end|>", CONTROL, 0);
    tb_finish(b, 2, 2, 0);
    check(mod__vocab_encode(&b->v, "a b", 3, 0, out, 64, &n, NULL) == MOD_ERR_TOKENIZE, "kind 1: byte without a token");
    check(mod__vocab_encode(&b->v, "aa\xFE", 3, 0, out, 64, &n, &e) == MOD_ERR_TOKENIZE &&
          strcmp(e.message, "byte 2 of the text (0xFE) has no token and no byte token") == 0, "kind 1: byte without a token, and where");
    check(mod__vocab_encode(&b->v, "a a", 3, 1, out, 64, &n, NULL) == MOD_OK && n == 4 && out[0] == 2, "kind 1 add_bos");

    /* buffer sizes: len + 2 always fits, less is refused up front, nothing written past cap */
    build_random2(b, 1, 0);
    for (i = 0; i < 30; i++) text[i] = (char)(0xE0 + i % 8); /* falls back to one byte token each */
    for (i = 0; i < 64; i++) out[i] = 0x5A5A5A5A;
    r = mod__vocab_encode(&b->v, text, 30, 1, out, 32, &n, NULL);
    check(r == MOD_OK && n == 32, "worst case fills exactly len + 2");
    check(out[32] == 0x5A5A5A5A, "encode wrote past cap");
    for (i = 0; i < 64; i++) out[i] = 0x5A5A5A5A;
    r = mod__vocab_encode(&b->v, text, 30, 0, out, 31, &n, NULL);
    check(r == MOD_ERR_BUFFER_TOO_SMALL && n == 32, "cap len + 1 is too small, n = len + 2");
    check(out[31] == 0x5A5A5A5A, "refused encode wrote");
    check(mod__vocab_encode(&b->v, "", 0, 0, out, 1, &n, NULL) == MOD_ERR_BUFFER_TOO_SMALL && n == 2, "empty text, cap 1");
    check(mod__vocab_encode(&b->v, "", 0, 0, out, 0, &n, NULL) == MOD_ERR_BUFFER_TOO_SMALL && n == 2, "empty text, cap 0");
    check(mod__vocab_encode(&b->v, "ab", 2, 0, out, -5, &n, NULL) == MOD_ERR_BUFFER_TOO_SMALL && n == 4, "negative cap");
    check(mod__vocab_encode(&b->v, text, (size_t)-1, 0, out, 64, &n, NULL) == MOD_ERR_BUFFER_TOO_SMALL && n > 0,
          "huge len is refused without reading");
    check(mod__vocab_encode(&b->v, "", 0, 1, out, 2, &n, NULL) == MOD_OK && n == 1 && out[0] == 1, "empty text with BOS");

    r = mod__vocab_encode(&b->v, text, 30, 0, out, 64, &n, NULL);
    memset(buf, '#', sizeof buf);
    check(mod__vocab_decode(&b->v, out, n, buf, 10, &len) == MOD_ERR_BUFFER_TOO_SMALL && len == 30,
          "decode: too small reports the size");
    check(buf[10] == '#', "decode wrote past cap");
    check(memcmp(buf, text, 10) == 0, "decode: the pieces that fit are written");
    check(mod__vocab_decode(&b->v, out, n, buf, 30, &len) == MOD_OK && len == 30 && memcmp(buf, text, 30) == 0,
          "decode: exact capacity");
    check(mod__vocab_decode(&b->v, out, n, NULL, 0, &len) == MOD_ERR_BUFFER_TOO_SMALL && len == 30,
          "decode: size query with no buffer");
    check_group("errors and buffers");
}

/* ---- random comparisons -------------------------------------------------------------- */

/* One text through the library and the reference; one check. */
static void compare_one(const tb *b, const char *name, const char *what, const unsigned char *text, size_t len, int bos)
{
    static int32_t got[MAXTEXT + 2], want[MAXTEXT + 2];
    static char msg[4096], gs[2048];
    int n = -1, wn;
    mod_result r = mod__vocab_encode(&b->v, (const char *)text, len, bos, got, MAXTEXT + 2, &n, NULL);
    want[0] = b->v.bos;
    wn = b->v.kind == 1 ? ref_encode1(b, text, len, want + bos) : ref_encode2(b, text, len, want + bos);
    if (wn >= 0) wn += bos;
    if (wn < 0 ? r == MOD_ERR_TOKENIZE : (r == MOD_OK && n == wn && memcmp(got, want, (size_t)n * sizeof got[0]) == 0)) {
        check(1, "%s, %s text of %d bytes", name, what, (int)len);
        return;
    }
    snprintf(gs, sizeof gs, "%s", r == MOD_OK ? render(b, got, n) : result_name(r));
    snprintf(msg, sizeof msg, "%s, %s text of %d bytes \"%s\": got %d tokens \"%s\", reference %d \"%s\"", name, what,
             (int)len, show((const char *)text, len), r == MOD_OK ? n : -1, gs, wn, wn < 0 ? "error" : render(b, want, wn));
    check(0, "%s", msg);
}

static void compare_random(const tb *b, const char *name, int rounds)
{
    static const char *const modes[] = {"bytes", "focus", "utf-8"};
    unsigned char text[MAXTEXT];
    int i;
    for (i = 0; i < rounds; i++) {
        int mode = i % 3, bos = rnd_to(4) == 0 && b->v.bos >= 0;
        size_t len = gen_text(text, mode);
        compare_one(b, name, modes[mode], text, len, bos);
    }
}

static void round_trip(const tb *b, const char *name, int rounds)
{
    unsigned char text[MAXTEXT];
    int32_t toks[MAXTEXT + 2];
    char back[MAXTEXT], msg[2048];
    int i;
    for (i = 0; i < rounds; i++) {
        size_t len = gen_text(text, i % 3), blen = 0;
        int n = 0, ok = mod__vocab_encode(&b->v, (const char *)text, len, b->v.bos >= 0, toks, MAXTEXT + 2, &n, NULL) == MOD_OK &&
                        mod__vocab_decode(&b->v, toks, n, back, sizeof back, &blen) == MOD_OK;
        ok = ok && blen == len && memcmp(back, text, len) == 0;
        if (ok) { check(1, "%s round trip of %d bytes", name, (int)len); continue; }
        snprintf(msg, sizeof msg, "%s round trip \"%s\" -> \"%s\"", name, show((const char *)text, len), show(back, blen));
        check(0, "%s", msg);
    }
}

/* Kind 3: <unk> <s> </s>, byte tokens (some missing when `holes`), some characters (not all,
   so some fall back), the added tokens "<x>" and "<x>y" (non-special, also ordinary tokens)
   and <s>, </s> (special), random rules over them ranked in a small range; the settings
   (prepend rule, split, byte fallback, fused unk, ignore_merges, an unk token) from `mix`. */
static void build_random3(tb *b, int mix, int holes)
{
    static const char *const chars[] = { " ", "a", "b", "c", "s", "e", "'", "1", "\n", "!", "<", ">", "x", "\xC3\xA9",
                                         "\xF0\x9F\x98\x80", "<x>", "<x>y" }; /* U+2581 is stored as the space */
    int i, pool[MAXT], n_pool = 0, tries;
    tb_init(b, 3, 0, 0);
    tb_addz(b, "<unk>", CONTROL, 0);
    tb_addz(b, "<s>", CONTROL, 0);
    tb_addz(b, "</s>", CONTROL, 0);
    for (i = 0; i < 256; i++) {
        char c = (char)i;
        if (!(holes && i >= 0xE0)) tb_add(b, &c, 1, BYTE, 0);
    }
    for (i = 0; i < (int)(sizeof chars / sizeof chars[0]); i++)
        pool[n_pool++] = tb_addz(b, chars[i], NORMAL, 0);
    for (tries = 0; b->n_rules < 300 && tries < 20000; tries++) {
        int l = pool[rnd_to(n_pool)], r = pool[rnd_to(n_pool)], res;
        if (tb_len(b, l) + tb_len(b, r) > 10 || tb_has_rule(b, l, r)) continue;
        res = tb_rule(b, l, r, (uint32_t)rnd_to(100));
        if (n_pool < MAXT) pool[n_pool++] = res;
    }
    tb_added(b, 1, "<s>", 1);
    tb_added(b, 2, "</s>", 1);
    tb_added(b, tb_find(b, "<x>", 3), "<x>", 0);
    tb_added(b, tb_find(b, "<x>y", 4), "<x>y", 0);
    b->v.prepend = mix & 3;
    b->v.sp_flags = (unsigned)(mix >> 2) & MOD__SP_FLAGS_ALL;
    b->v.decode_strip = MOD__SP_STRIP_ONE;
    tb_finish(b, 1, 2, 2);
    b->v.unk = (mix & 64) ? -1 : 0;
}

/* Texts for kind 3: its characters, added tokens and their look-alikes, random bytes. */
static size_t gen_text3(unsigned char *o)
{
    static const char *const parts[] = { " ", "  ", "a", "b", "ab", "c", "s", "e", "x", "<s>", "</s>", "<x>", "<x>y", "<x",
                                         "<", ">", "\xE2\x96\x81", "\xC3\xA9", "\xF0\x9F\x98\x80", "\xE6\x97\xA5",
                                         "\n", "\n\n", "1", "!", "'", "\xC3", "\x80", "\xFF" };
    size_t n = 0, want = (size_t)rnd_to(30);
    while (n < want) {
        const char *p = parts[rnd_to((int)(sizeof parts / sizeof parts[0]))];
        if (rnd_to(10) == 0) o[n++] = (unsigned char)rnd();
        else { memcpy(o + n, p, strlen(p)); n += strlen(p); }
    }
    return n;
}

static void compare_random3(const tb *b, const char *name, int rounds)
{
    static int32_t got[3 * MAXTEXT + 2], want[3 * MAXTEXT + 2];
    static char msg[4096], gs[2048];
    unsigned char text[MAXTEXT];
    int i;
    for (i = 0; i < rounds; i++) {
        size_t len = gen_text3(text);
        int bos = rnd_to(4) == 0, special = rnd_to(2), n = -1, wn;
        mod_result r = mod__vocab_encode(&b->v, (const char *)text, len, (bos ? MOD_TOKENIZE_BOS : 0) | (special ? MOD_TOKENIZE_SPECIAL : 0),
                                         got, 3 * MAXTEXT + 2, &n, NULL);
        want[0] = b->v.bos;
        wn = ref_encode3(b, text, len, special, want + bos);
        if (wn >= 0) wn += bos;
        if (wn < 0 ? r == MOD_ERR_TOKENIZE : (r == MOD_OK && n == wn && memcmp(got, want, (size_t)n * sizeof got[0]) == 0)) {
            check(1, "%s, text of %d bytes", name, (int)len);
            continue;
        }
        snprintf(gs, sizeof gs, "%s", r == MOD_OK ? render(b, got, n) : result_name(r));
        snprintf(msg, sizeof msg, "%s (special %d), text of %d bytes \"%s\": got %d tokens \"%s\", reference %d \"%s\"", name, special,
                 (int)len, show((const char *)text, len), r == MOD_OK ? n : -1, gs, wn, wn < 0 ? "error" : render(b, want, wn));
        check(0, "%s", msg);
    }
}

static void test_random3(void)
{
    int mix;
    char name[64];
    for (mix = 0; mix < 128; mix++) { /* every setting with and without an unk token */
        build_random3(&g_a, mix, mix % 3 == 0);
        snprintf(name, sizeof name, "kind 3 settings %d", mix);
        compare_random3(&g_a, name, 40);
    }
    check_group("kind 3 vs reference");
}

/* Kind 2 with an added-token table: build_random2's vocabulary, then "<x>" and "<x>y" (normal
   tokens, non-special added ones, as a GGUF's user-defined tokens) and <s>, </s> (special);
   kind 3's texts, which have them and their look-alikes. */
static void test_random2_added(void)
{
    int k;
    for (k = 0; k < 3; k++) {
        tb *b = &g_a;
        int x, xy;
        build_random2(b, k == 2 ? 0u : 1u, k == 1);
        x = tb_find(b, "<x>", 3);
        if (x < 0) x = tb_addz(b, "<x>", NORMAL, (float)(rnd_to(9) - 4));
        xy = tb_find(b, "<x>y", 4);
        if (xy < 0) xy = tb_addz(b, "<x>y", NORMAL, (float)(rnd_to(9) - 4));
        tb_added(b, 1, "<s>", 1);
        tb_added(b, 2, "</s>", 1);
        tb_added(b, x, "<x>", 0);
        tb_added(b, xy, "<x>y", 0);
        tb_finish(b, 1, 2, 2);
        compare_random3(b, k == 0 ? "kind 2 prefix, added tokens" : k == 1 ? "kind 2 prefix, holes, added tokens" : "kind 2, added tokens", 1500);
    }
    check_group("kind 2 with added tokens vs reference");
}

static void test_random(void)
{
    build_random1(&g_a, 1, 0, 0);
    build_random1(&g_b, 0, 1, 0);
    build_random1(&g_c, 1, 1, 1);
    compare_random(&g_a, "kind 1 gpt2", 3000);
    compare_random(&g_b, "kind 1 none+prefix", 1500);
    compare_random(&g_c, "kind 1 gpt2+prefix, holes", 1500);
    check_group("kind 1 vs reference");
    round_trip(&g_a, "kind 1 gpt2", 2000);
    round_trip(&g_b, "kind 1 none+prefix", 2000);
    check_group("kind 1 round trip");

    build_random2(&g_a, 1, 0);
    build_random2(&g_b, 0, 0);
    build_random2(&g_c, 1, 1);
    compare_random(&g_a, "kind 2 prefix", 3000);
    compare_random(&g_b, "kind 2", 1500);
    compare_random(&g_c, "kind 2 prefix, holes", 1500);
    check_group("kind 2 vs reference");
    round_trip(&g_a, "kind 2 prefix", 2000);
    round_trip(&g_b, "kind 2", 2000);
    check_group("kind 2 round trip");
}

/* Texts for the Unicode splits: pieces of every class and the tricky spots of the patterns. */
static const char *const ufocus[] = {
    "a", "Z", "s", "S", "t", "l", "L", "e", "r", "'", "'", "1", "7", " ", " ", "  ", "\t", "\n", "\r", "\r\n", "\v",
    "!", ".", "(", "\xC3\xA9", "\xC5\xBF", "\xCC\x81", "\xD9\xA3", "\xC2\xB2", "\xE2\x85\xA0", "\xC2\x85", "\xC2\xA0",
    "\xE2\x80\x83", "\xE3\x80\x80", "\xE2\x80\x8B", "\xE2\x80\x8D", "\xEF\xBB\xBF", "\xE4\xBD\xA0", "\xF0\x9F\x98\x80",
    "\xF0\xA0\x80\x80", "\x80", "\xC3", "\xFF", "\xED\xA0\x80", "\xE4\xBD", "\0",
};

static size_t gen_utext(unsigned char *o, size_t want)
{
    size_t n = 0;
    while (n < want) {
        const char *f = ufocus[rnd_to((int)(sizeof ufocus / sizeof ufocus[0]))];
        size_t l = f[0] ? strlen(f) : 1;
        memcpy(o + n, f, l);
        n += l;
    }
    return n;
}

/* The library's pieces against the naive matcher's on random texts, one check per text. */
static void compare_splits(int pt, const char *name, int rounds)
{
    static unsigned char text[MAXTEXT];
    mod__vocab v;
    int i;
    memset(&v, 0, sizeof v);
    v.pretokenizer = pt;
    for (i = 0; i < rounds; i++) {
        size_t len = i % 4 == 3 ? gen_utext(text, (size_t)rnd_to(i % 40 == 3 ? 2000 : 60)) : gen_text(text, i % 3), at = 0, e, w;
        int same = 1;
        while (same && at < len) {
            e = mod__tok_split(&v, (const char *)text, 0, len, at);
            w = at + r_split(pt, text + at, len - at);
            same = e == w;
            if (!same) check(0, "%s: \"%s\" at byte %d: the piece ends at %d, the reference's at %d", name,
                             show((const char *)text, len), (int)at, (int)e, (int)w);
            at = e;
        }
        if (same) check(1, "%s: a text of %d bytes", name, (int)len);
    }
}

static void test_random_splits(void)
{
    compare_splits(2, "Llama 3 split", 3000);
    compare_splits(3, "Qwen2 split", 3000);
    check_group("Llama 3 and Qwen2 splits vs reference");
    build_random1(&g_a, 2, 0, 0);
    build_random1(&g_b, 3, 1, 0);
    build_random1(&g_c, 2, 3, 1);
    compare_random(&g_a, "kind 1 llama3", 1500);
    compare_random(&g_b, "kind 1 qwen2+prefix", 1500);
    compare_random(&g_c, "kind 1 llama3+prefix+whole pieces, holes", 1000);
    round_trip(&g_a, "kind 1 llama3", 1000);
    round_trip(&g_b, "kind 1 qwen2+prefix", 1000);
    check_group("kind 1 with the Unicode splits vs reference");
}

/* ---- long and adversarial inputs ----------------------------------------------------- */

/* Kind 1 over a small alphabet: a token for every byte, then n_rules random rules whose
   sides are spelled with the alphabet's letters, ranked in [0, ranks) so that many tie. */
static void build_small1(tb *b, int pretokenizer, unsigned flags, const char *alpha, int n_rules, int ranks)
{
    int i, pool[MAXT], n_pool = 0, tries;
    tb_init(b, 1, pretokenizer, flags);
    for (i = 0; i < 256; i++) {
        char c = (char)i;
        tb_add(b, &c, 1, NORMAL, 0);
    }
    for (i = 0; alpha[i]; i++) pool[n_pool++] = (unsigned char)alpha[i];
    for (tries = 0; b->n_rules < n_rules && tries < 20000; tries++) {
        int l = pool[rnd_to(n_pool)], r = pool[rnd_to(n_pool)], res;
        if (tb_len(b, l) + tb_len(b, r) > 12 || tb_has_rule(b, l, r)) continue;
        res = tb_rule(b, l, r, (uint32_t)rnd_to(ranks));
        pool[n_pool++] = res;
    }
    tb_finish(b, tb_addz(b, "<|endoftext|>", CONTROL, 0), -1, 0);
}

/* Kind 2 over a small alphabet: byte tokens only for the bytes the long texts use (fewer
   tokens keep the reference fast), the letters and a few characters as normal tokens, and
   random concatenations of normal tokens with scores in [-ranks/2, ranks/2] (many ties). */
static void build_small2(tb *b, unsigned flags, const char *alpha, int n_made, int ranks)
{
    static const char *const chars[] = {" ", "!", "1", "\xC3\xA9", "a\x80"};
    static const unsigned char bytes[] = {0, ' ', '!', '1', '\'', '\n', 0x80, 0xC3, 0xA9, 0xFF};
    int i, made = 0, tries, first;
    tb_init(b, 2, 0, flags);
    tb_addz(b, "<unk>", CONTROL, 0);
    tb_addz(b, "<s>", CONTROL, 0);
    tb_addz(b, "</s>", CONTROL, 0);
    for (i = 0; i < (int)sizeof bytes; i++) tb_add(b, (const char *)bytes + i, 1, BYTE, 0);
    for (i = 0; alpha[i]; i++) {
        char c = alpha[i];
        tb_add(b, &c, 1, BYTE, 0);
    }
    first = b->v.n_tokens;
    for (i = 0; alpha[i]; i++) tb_add(b, alpha + i, 1, NORMAL, (float)(rnd_to(ranks + 1) - ranks / 2));
    for (i = 0; i < (int)(sizeof chars / sizeof chars[0]); i++) tb_addz(b, chars[i], NORMAL, (float)(rnd_to(ranks + 1) - ranks / 2));
    for (tries = 0; made < n_made && tries < 20000; tries++) {
        char buf[32];
        size_t n = 0;
        int parts = 2 + rnd_to(2), p;
        for (p = 0; p < parts; p++) {
            int id = first + rnd_to(b->v.n_tokens - first);
            if (n + tb_len(b, id) > 12) break;
            memcpy(buf + n, tb_str(b, id), tb_len(b, id));
            n += tb_len(b, id);
        }
        if (p < parts || tb_find(b, buf, n) >= 0) continue;
        /* -0 and +0 tie as scores: both appear */
        tb_add(b, buf, n, NORMAL, rnd_to(8) == 0 ? -0.0f : (float)(rnd_to(ranks + 1) - ranks / 2));
        made++;
    }
    tb_finish(b, 1, 2, 0);
}

/* Extra bytes long texts are seasoned with: pretokenizer classes, contractions, invalid
   UTF-8, NULs and bytes without a token. */
static const char *const spice[] = {" ", "  ", " ", "!", "1", "11", "'s", "\n", "\x80", "\xC3", "\xC3\xA9", "\0", "\xFF", "a\x80"};
#define N_SPICE (int)(sizeof spice / sizeof spice[0])

/* A text of want bytes over alpha. shape 0: one letter repeated; 1: a short word repeated;
   2: random letters; 3: runs and words of random lengths; 4: like 3 with spice between. */
static size_t gen_long(unsigned char *o, size_t want, const char *alpha, int shape)
{
    size_t n = 0, na = strlen(alpha);
    char word[6];
    int wl = 2 + rnd_to(4), i;
    for (i = 0; i < wl; i++) word[i] = alpha[rnd_to((int)na)];
    while (n < want) {
        int seg = shape < 3 ? shape : rnd_to(shape == 4 ? 4 : 3);
        size_t k, run = shape < 3 ? want : 1 + (size_t)rnd_to((int)(want / 4) + 1);
        if (seg == 3) {
            int s = rnd_to(N_SPICE);
            size_t l = spice[s][0] ? strlen(spice[s]) : 1;
            for (k = 0; k < l && n < want; k++) o[n++] = (unsigned char)spice[s][k];
            continue;
        }
        if (seg == 0) {
            char c = alpha[rnd_to((int)na)];
            for (k = 0; k < run && n < want; k++) o[n++] = (unsigned char)c;
        } else {
            if (seg == 1 && shape != 1) for (i = 0, wl = 1 + rnd_to(5); i < wl; i++) word[i] = alpha[rnd_to((int)na)];
            for (k = 0; k < run && n < want; k++) o[n++] = (unsigned char)(seg == 1 ? word[k % (size_t)wl] : alpha[rnd_to((int)na)]);
        }
    }
    return n;
}

/* rounds texts of up to max_len bytes (a third of them at full length), every shape. */
static void compare_long(const tb *b, const char *name, const char *alpha, int rounds, size_t max_len)
{
    static const char *const shapes[] = {"one letter", "one word", "random letters", "runs", "spiced runs"};
    static unsigned char text[MAXTEXT];
    int i;
    for (i = 0; i < rounds; i++) {
        int shape = i % 5, bos = rnd_to(3) == 0 && b->v.bos >= 0;
        size_t want = i % 3 == 0 ? max_len : 1 + (size_t)rnd_to((int)max_len);
        size_t len = gen_long(text, want, alpha, shape);
        compare_one(b, name, shapes[shape], text, len, bos);
    }
}

static void test_adversarial(void)
{
    int i;
    for (i = 0; i < 4; i++) {
        build_small1(&g_a, i & 1, (unsigned)(i >> 1), "ab", 40, 3);
        compare_long(&g_a, "kind 1 ab, few ranks", "ab", 30, 1500);
        build_small1(&g_a, i & 1, (unsigned)(i >> 1), "abc", 60, 50);
        compare_long(&g_a, "kind 1 abc", "abc", 20, 1500);
        build_small1(&g_a, 1, (unsigned)(i >> 1), "a !1", 40, 2);
        compare_long(&g_a, "kind 1 gpt2, a !1", "a !1", 20, 1500);
    }
    build_small1(&g_a, 0, 0, "ab", 60, 1);      /* every rule ties: position alone decides */
    compare_long(&g_a, "kind 1, one rank", "ab", 10, 3000);
    build_small1(&g_a, 1, 1, "ab", 40, 4);
    compare_long(&g_a, "kind 1 long", "ab", 5, 4000);
    check_group("kind 1 long vs reference");

    for (i = 0; i < 2; i++) {
        build_small2(&g_a, (unsigned)i, "ab", 40, 2);
        compare_long(&g_a, "kind 2 ab, few scores", "ab", 30, 1500);
        build_small2(&g_a, (unsigned)i, "abc", 50, 40);
        compare_long(&g_a, "kind 2 abc", "abc", 20, 1500);
    }
    {   /* -0 and +0 tie, so the leftmost merges first */
        static unsigned char abc[3000];
        size_t k;
        tb_init(&g_a, 2, 0, 0);
        tb_addz(&g_a, "a", NORMAL, 0); tb_addz(&g_a, "b", NORMAL, 0); tb_addz(&g_a, "c", NORMAL, 0);
        tb_addz(&g_a, "ab", NORMAL, -0.0f); tb_addz(&g_a, "bc", NORMAL, 0.0f);
        tb_finish(&g_a, -1, -1, 0);
        ENC(&g_a, "abc", "ab|c");
        ENC(&g_a, "bcab", "bc|ab");
        for (k = 0; k < sizeof abc; k++) abc[k] = (unsigned char)"abc"[k % 3];
        compare_one(&g_a, "kind 2, signed zeros", "abc repeated", abc, sizeof abc, 0);
        g_a.scores[3] = 0.0f;
        g_a.scores[4] = -0.0f;
        ENC(&g_a, "abc", "ab|c");
        compare_one(&g_a, "kind 2, signed zeros", "abc repeated", abc, sizeof abc, 0);
    }
    build_small2(&g_a, 0, "ab", 40, 0);         /* every score ties */
    compare_long(&g_a, "kind 2, one score", "ab", 10, 3000);
    build_small2(&g_a, 1, "ab", 40, 4);
    compare_long(&g_a, "kind 2 long", "ab", 5, 4000);
    check_group("kind 2 long vs reference");
}

#ifndef MOD_NO_MALLOC
/* The queue and the in-place rescan on the same unmerged tokens of a long text: the rescan is
   the library's own earlier algorithm, fast enough for texts the reference cannot take. */
static void compare_paths(const tb *b, const char *name, const unsigned char *text, size_t len)
{
    static int32_t a[8002], q[8002];
    int n = 0, na, nq;
    size_t i;
    char *scratch;
    if (b->v.kind == 1) {
        for (i = 0; i < len; i++) a[n++] = b->v.byte_token[text[i]];
    } else {
        for (i = 0; i < len; i++)
            if (mod__tok_push_char(&b->v, (const char *)text + i, 1, a, &n, i, 0, NULL) != MOD_OK) a[n++] = 0;
    }
    memcpy(q, a, (size_t)n * sizeof a[0]);
    scratch = (char *)malloc((size_t)n * MOD__TOK_SCRATCH + 1);
    na = mod__tok_merge_inplace(&b->v, a, n);
    nq = mod__tok_merge_queue(&b->v, q, n, scratch);
    free(scratch);
    check(na == nq && memcmp(a, q, (size_t)na * sizeof a[0]) == 0, "%s (%d bytes: %d tokens in place, %d through the queue)",
          name, (int)len, na, nq);
}

static void test_paths(void)
{
    static unsigned char text[8000];
    int i;
    for (i = 0; i < 6; i++) {
        size_t len = gen_long(text, i < 3 ? 8000 : 5000, "ab", i % 5);
        build_small1(&g_a, 0, 0, "ab", 60, i < 3 ? 1 : 6);
        compare_paths(&g_a, "kind 1: queue equals rescan on a long text", text, len);
        build_small2(&g_a, 0, "ab", 60, i < 3 ? 0 : 6);
        compare_paths(&g_a, "kind 2: queue equals rescan on a long text", text, len);
    }
    check_group("queue vs rescan");
}

/* Scratch: one allocation per call, only for long pieces, freed; a failed one is reported
   and writes nothing past len + 2. */
static void test_scratch(void)
{
    static char text[3000];
    static int32_t out[3100];
    long allocs, frees;
    int n, i, kind;
    for (kind = 1; kind <= 2; kind++) {
        size_t len;
        if (kind == 1) build_small1(&g_a, 1, 0, "ab", 40, 4);
        else build_small2(&g_a, 1, "ab", 40, 4);
        /* short words, then three long ones, the longest last */
        for (len = 0; len < 1000; len++) text[len] = len % 6 == 5 ? ' ' : "ab"[rnd_to(2)];
        for (i = 0; i < 3; i++) {
            size_t k, run = 200 + 300 * (size_t)i;
            text[len++] = ' ';
            for (k = 0; k < run; k++) text[len++] = "ab"[k % 2];
        }
        allocs = g_allocs;
        frees = g_frees;
        check(mod__vocab_encode(&g_a.v, text, len, 0, out, (int)len + 2, &n, NULL) == MOD_OK && g_allocs == allocs + 1 &&
              g_frees == frees + 1, kind == 1 ? "kind 1: one allocation per call, freed" : "kind 2: one allocation per call, freed");
        check(mod__vocab_encode(&g_a.v, text, MOD__TOK_QUEUE_MIN - 1, 0, out, (int)len + 2, &n, NULL) == MOD_OK &&
              g_allocs == allocs + 1, "no allocation for short pieces");
        g_alloc_fails = 1;
        for (i = 0; i < 3100; i++) out[i] = 0x5A5A5A5A;
        n = 77;
        check(mod__vocab_encode(&g_a.v, text, len, 1, out, (int)len + 2, &n, NULL) == MOD_ERR_OUT_OF_MEMORY && n == 0,
              "failed allocation: MOD_ERR_OUT_OF_MEMORY and no tokens");
        for (i = (int)len + 2; i < 3100 && out[i] == 0x5A5A5A5A; i++) {}
        check(i == 3100, "failed allocation: nothing written past len + 2");
        g_alloc_fails = 0;
    }
    check(g_allocs == g_frees, "every allocation freed");
    check_group("scratch");
}
#endif

/* A long text of short and long pieces encodes and decodes back. */
static void test_long(void)
{
    static char text[200000];
    static int32_t toks[200002];
    static char back[200000];
    size_t i, len = sizeof text, blen;
    int n;
    build_random1(&g_a, 1, 0, 0);
    for (i = 0; i < len; i++) text[i] = "abc 'sle\n1!"[rnd_to(11)];
    check(mod__vocab_encode(&g_a.v, text, len, 0, toks, (int)len + 2, &n, NULL) == MOD_OK, "long text encodes");
    check(mod__vocab_decode(&g_a.v, toks, n, back, len, &blen) == MOD_OK && blen == len && memcmp(back, text, len) == 0,
          "long text round trip");
    check_group("long input");
}

/* ---- the public API on tokenizers loaded from model files ---------------------------- */

/* Loads a model from bytes; without an allocator the model struct lives in *arena. */
static int load_model(mod_model **m, const unsigned char *buf, size_t size, void **arena)
{
    mod_error err;
    mod_model_desc d;
    size_t need = 0;
    memset(&d, 0, sizeof d);
    *arena = NULL;
#ifdef MOD_NO_MALLOC
    if (mod_model_memory_required(buf, size, &need, &err) != MOD_OK || !(*arena = malloc(need))) return 0;
#endif
    d.arena = *arena;
    d.arena_size = need;
    return mod_model_load_memory(m, buf, size, &d, &err) == MOD_OK;
}

static void test_public_api(void)
{
    mod_error e;
    int kind;
    for (kind = 0; kind <= 2; kind++) {
        mkm_opts o;
        unsigned char *buf;
        size_t size;
        mod_model *m;
        void *arena;
        int round = 0, trial, n;
        int32_t toks[600];
        char text[512], back[600];
        size_t len;
        mkm_defaults(&o);
        o.tokenizer = kind;
        o.n_merges = 300;
        if (mkm_build(&o, &buf, &size) != 0 || !load_model(&m, buf, size, &arena)) {
            check(0, "public API: model with a tokenizer loads");
            continue;
        }
        if (kind == 0) {
            check(mod_tokenize(m, "abc", 3, 0, toks, 10, &n, NULL) == MOD_ERR_NO_TOKENIZER, "no tokenizer: encode refused");
            check(mod_detokenize(m, toks, 0, back, sizeof back, &len) == MOD_ERR_NO_TOKENIZER, "no tokenizer: decode refused");
            check(mod_token_bytes(m, 0, &len) == NULL && len == 0 && mod_token_bos(m) == -1, "no tokenizer: no pieces, no BOS");
        } else {
            for (trial = 0; trial < 500; trial++) {
                size_t tl = (size_t)rnd_to(500), i;
                size_t got = 0;
                for (i = 0; i < tl; i++) text[i] = (char)(trial % 2 ? rnd_to(256) : 32 + rnd_to(95));
                if (mod_tokenize(m, text, tl, 1, toks, (int)tl + 2, &n, NULL) != MOD_OK || n < 1 || toks[0] != mod_token_bos(m)) continue;
                if (mod_detokenize(m, toks, n, back, sizeof back, &got) == MOD_OK && got == tl && memcmp(back, text, tl) == 0) round++;
            }
            check(round == 500, kind == 1 ? "public API, byte-level BPE: 500 random texts round-trip"
                                          : "public API, scored BPE: 500 random texts round-trip");
            {
                /* in place (MOD_NO_MALLOC) this is quadratic: a shorter one there */
                static char big[30000], big_back[30000];
                static int32_t big_toks[30002];
                size_t i, got = 0, bl = MOD__TOK_QUEUE_MIN < 1000 && !TEST_NO_MALLOC ? sizeof big : 3000;
                for (i = 0; i < bl; i++) big[i] = "the"[i % 3];
                check(mod_tokenize(m, big, bl, 0, big_toks, (int)bl + 2, &n, NULL) == MOD_OK && n < (int)bl &&
                      mod_detokenize(m, big_toks, n, big_back, sizeof big_back, &got) == MOD_OK && got == bl &&
                      memcmp(big, big_back, got) == 0, "public API: a word repeated into one long piece round-trips");
            }
            check(mod_tokenize(m, "hello world", 11, 0, toks, 5, &n, &e) == MOD_ERR_BUFFER_TOO_SMALL && n == 13 &&
                  strcmp(e.message, "capacity 5 tokens; a text of 11 bytes needs up to 13") == 0,
                  "public API: small buffer reports the size needed, in the message too");
            check(mod_tokenize(m, "hi", 2, 0, toks, -1, &n, &e) == MOD_ERR_INVALID_ARGUMENT &&
                  strcmp(e.message, "capacity -1 is negative") == 0, "public API: a negative capacity is named");
            check(mod_tokenize(m, NULL, 3, 0, toks, 10, &n, NULL) == MOD_ERR_INVALID_ARGUMENT, "public API: NULL text refused");
            toks[0] = mod_model_config(m)->vocab_size;
            check(mod_detokenize(m, toks, 1, back, sizeof back, &len) == MOD_ERR_BAD_TOKEN, "public API: id past the vocabulary refused");
            check(mod_detokenize(m, toks, -1, back, sizeof back, &len) == MOD_ERR_INVALID_ARGUMENT, "public API: negative count refused");
            check(mod_token_bytes(m, -5, &len) == NULL, "public API: no piece for a negative id");
            check(mod_tokenize(m, "", 0, 0, toks, 2, &n, NULL) == MOD_OK && n == 0, "public API: empty text, no BOS: no tokens");
        }
        mod_model_free(m);
        free(arena);
        free(buf);
    }
    check_group("public API");
}

/* A vocabulary padded past the tokenizer: the padded ids are never sampled, even when their
   logits are the largest, and decode to nothing. */
static void test_padding(void)
{
    mkm_opts o;
    unsigned char *buf = NULL;
    size_t size, need = 0, len = 9;
    mod_model *m = NULL;
    mod_session *s = NULL;
    mod_session_desc sd;
    mod_sampler smp;
    mod_sampler_desc smd;
    void *arena = NULL, *sarena = NULL;
    int n_tok, V, i, k, bad = 0, drawn = 0;
    int32_t t, in[3];
    char out[64];
    mkm_defaults(&o);
    o.tokenizer = 1;
    o.n_merges = 50;
    n_tok = mkm_n_tokens(&o);
    o.vocab_size = n_tok + 37;
    memset(&sd, 0, sizeof sd);
    sd.max_tokens = 8;
    if (mkm_build(&o, &buf, &size) != 0 || !load_model(&m, buf, size, &arena) ||
        mod_session_memory_required(m, &sd, &need, NULL) != MOD_OK || !(sarena = malloc(need))) {
        check(0, "padding: a model with %d tokens and vocab_size %d loads", n_tok, n_tok + 37);
        goto done;
    }
    V = mod_model_config(m)->vocab_size;
    sd.arena = sarena;
    sd.arena_size = need;
    check(V == n_tok + 37 && m->vocab.n_tokens == n_tok, "padding: vocab_size %d, %d tokens", V, n_tok);
    in[0] = 0;
    if (mod_session_create(&s, m, &sd, NULL) != MOD_OK || mod_prefill(s, in, 1, NULL) != MOD_OK) {
        check(0, "padding: a session runs a token");
        goto done;
    }
    for (k = 0; k < 4; k++) {
        /* the padded rows hold the largest logits; the last real token the next */
        for (i = 0; i < V; i++) s->logits[i] = i >= n_tok ? 50.0f + (float)(k == 3 ? 0 : i % 3) : i == n_tok - 1 ? 10.0f : 0.0f;
        if (k == 2) for (i = n_tok; i < V; i++) s->logits[i] = i % 2 ? INFINITY : -INFINITY;
        memset(&smd, 0, sizeof smd);
        smd.temperature = k == 0 ? 0.0f : 1.0f;
        smd.top_k = k == 1 ? 3 : 0;
        smd.top_p = k == 3 ? 0.5f : 0.0f;
        smd.seed = (uint64_t)k + 1;
        mod_sampler_init(&smp, &smd);
        for (i = 0; i < 300; i++) {
            if (mod_sample(s, &smp, &t) != MOD_OK || t < 0 || t >= n_tok) bad++;
            drawn += t == n_tok - 1;
        }
    }
    check(bad == 0, "padding: 1200 draws (greedy, top-k, infinite padded logits, top-p) never give a padded id (%d did)", bad);
    check(drawn > 1000, "padding: the real token with the largest logit is drawn most (%d of 1200)", drawn);
    in[0] = 5; in[1] = n_tok; in[2] = V - 1;
    check(mod_detokenize(m, in + 1, 2, out, sizeof out, &len) == MOD_OK && len == 0, "padding: padded ids decode to nothing");
    {
        size_t l1 = 0, l2 = 9;
        const char *p1 = mod_token_bytes(m, 5, &l1), *p2 = mod_token_bytes(m, n_tok, &l2);
        check(mod_detokenize(m, in, 3, out, sizeof out, &len) == MOD_OK && p1 && len == l1 && memcmp(out, p1, l1) == 0,
              "padding: mixed with a real token, only the real token's bytes");
        check(p2 && l2 == 0 && mod_token_bytes(m, V, &l2) == NULL, "padding: mod_token_bytes gives no bytes for a padded id, NULL past vocab_size");
    }
    in[0] = V;
    check(mod_detokenize(m, in, 1, out, sizeof out, &len) == MOD_ERR_BAD_TOKEN, "padding: vocab_size itself is refused");
done:
    if (s) mod_session_free(s);
    if (m) mod_model_free(m);
    free(sarena);
    free(arena);
    free(buf);
    check_group("vocabulary padding");
}


/* Byte-level BPE with NFC (flag bit 2) and with an added-token table, through the public API,
   against references built from the plain model of the same vocabulary: NFC is mod__nfc
   (checked against Unicode's conformance test by tests/test_nfc.sh) applied to each piece
   between added tokens, and the pieces are split at the added texts by a naive scan. The
   capacity: len + 2 either suffices or is reported with 3 len + 2, and nothing is written
   past it. */
#define NA_PIECES 4
static const char *const na_texts[NA_PIECES] = { "<think>", "<|bos|>", "<|end|>", "<|eos|>" };

/* The reference: plain encodes each piece (normalized when nfc) between the added texts
   (the special ones only when special). */
static int na_reference(const mod_model *plain, const mod_model *with, const char *t, size_t len, int nfc, int special,
                        int32_t *out, int cap)
{
    static char norm[4096];
    size_t i = 0, start = 0;
    int n = 0, k, got;
    for (;;) {
        int hit = -1;
        if (i < len)
            for (k = 0; k < NA_PIECES; k++)
                if ((k == 0 || special) && len - i >= 7 && !memcmp(t + i, na_texts[k], 7)) hit = k;
        if (i < len && hit < 0) { i++; continue; }
        if (i > start) {
            const char *p = t + start;
            size_t pl = i - start;
            if (nfc) { pl = mod__nfc(p, pl, norm, sizeof norm); p = norm; }
            if (pl > sizeof norm || mod_tokenize(plain, p, pl, 0, out + n, cap - n, &got, NULL) != MOD_OK) return -1;
            n += got;
        }
        if (i >= len) return n;
        {   /* the added token's id, from the model that has it */
            int32_t id = -1, x;
            size_t l;
            for (x = 0; x < mod_model_config(with)->vocab_size && id < 0; x++) {
                const char *b = mod_token_bytes(with, x, &l);
                if (b && l == 7 && !memcmp(b, na_texts[hit], 7) && (hit == 0 || with->vocab.types[x] == MOD__TOKEN_CONTROL)) id = x;
            }
            for (k = 0; hit > 0 && k < with->vocab.n_added; k++) /* control tokens decode to nothing: ask the table */
                if (with->vocab.added[4 * k + 3] == 7 && !memcmp(with->vocab.strings + with->vocab.added[4 * k + 2], na_texts[hit], 7))
                    id = (int32_t)with->vocab.added[4 * k];
            out[n++] = id;
        }
        i += 7;
        start = i;
    }
}

static void test_nfc_added(void)
{
    static const char *const parts[] = {
        "<think>", "<|end|>", "<|bos|>", "<|eos|>", "<thi", "nk>", "<|", "e", "\xCC\x81", "\xCC\xA3", "\xE0\xA5\x98",
        "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB", "\xED\x95\x9C", " ", "  ", "word", "\xEF\xBB\xBF", "\xC3\xA9", "\xFF",
        "12345", "\n", "\xE2\x84\xAB", "A\xCC\x8A", "\xF0\x9D\x85\x9E", "x'S", "'s"
    };
    mod_model *models[4] = { NULL, NULL, NULL, NULL };
    unsigned char *bufs[4] = { NULL, NULL, NULL, NULL };
    void *arenas[4] = { NULL, NULL, NULL, NULL };
    static char text[512];
    static int32_t got[2048], want[2048];
    int k, trial, bad = 0, bad_cap = 0, tight = 0;
    for (k = 0; k < 4; k++) {
        mkm_opts o;
        size_t size;
        mkm_defaults(&o);
        o.tokenizer = 1;
        o.n_merges = 300;
        o.bpe_nfc = k & 1;
        o.bpe_added = k >> 1;
        if (mkm_build(&o, &bufs[k], &size) != 0 || !load_model(&models[k], bufs[k], size, &arenas[k])) {
            check(0, "NFC and added tokens: model %d builds and loads", k);
            goto done;
        }
    }
    check(models[3]->vocab.n_added == 4 && (models[3]->vocab.flags & MOD__TOK_NFC), "the model has 4 added tokens and NFC");
    for (trial = 0; trial < 400; trial++) {
        size_t len = 0;
        int parts_n = 1 + rnd_to(12), i, n, want_n, special = trial & 1;
        for (i = 0; i < parts_n; i++) {
            const char *p = parts[rnd_to((int)(sizeof parts / sizeof parts[0]))];
            memcpy(text + len, p, strlen(p));
            len += strlen(p);
        }
        for (k = 1; k < 4; k++) {
            const int nfc = k & 1, flags = special ? MOD_TOKENIZE_SPECIAL : 0;
            int cap = 3 * (int)len + 2;
            mod_result r;
            want_n = na_reference(models[0], models[k], text, len, nfc, k >> 1 ? special : -1, want, 2048);
            if (!(k >> 1)) { /* no table: the reference without splits, special tokens of kind 1 aside */
                if (special) continue;
                want_n = na_reference(models[0], models[k], text, len, nfc, 0, want, 2048);
                if (strstr(text, "<think>")) { /* <think> is no added token here: plain text */
                    size_t l = len;
                    static char norm[4096];
                    const char *p = text;
                    if (nfc) { l = mod__nfc(text, len, norm, sizeof norm); p = norm; }
                    if (mod_tokenize(models[0], p, l, 0, want, 2048, &want_n, NULL) != MOD_OK) want_n = -1;
                }
            }
            for (i = 0; i < 16; i++) got[cap + i] = 0x5A5A5A5A;
            r = mod_tokenize(models[k], text, len, flags, got, cap, &n, NULL);
            if (want_n < 0 || r != MOD_OK || n != want_n || memcmp(got, want, sizeof got[0] * (size_t)n) != 0) {
                if (bad++ < 5) check(0, "NFC and added tokens: model %d, text %d (%d bytes, special %d): %d tokens, the reference %d",
                                     k, trial, (int)len, special, r == MOD_OK ? n : -1, want_n);
            }
            /* the plain bound len + 2: enough, or reported, never overrun */
            cap = (int)len + 2;
            for (i = 0; i < 16; i++) got[cap + i] = 0x5A5A5A5A;
            r = mod_tokenize(models[k], text, len, flags, got, cap, &n, NULL);
            if (r == MOD_ERR_BUFFER_TOO_SMALL) tight++;
            if (!(r == MOD_OK ? n == want_n : r == MOD_ERR_BUFFER_TOO_SMALL && n == 3 * (int)len + 2)) bad_cap++;
            for (i = 0; i < 16; i++) bad_cap += got[cap + i] != 0x5A5A5A5A;
        }
    }
    check(bad == 0, "NFC and added tokens: 400 random texts encode as the references (%d do not)", bad);
    check(bad_cap == 0 && tight > 0, "capacity len + 2: enough or reported with 3 len + 2, never overrun (%d bad; %d too small)", bad_cap, tight);
    {   /* nothing composes across an added token, which splits first */
        int32_t a[16], b[16];
        int na = 0, nb = 0, nc = 0;
        check(mod_tokenize(models[3], "e<think>\xCC\x81", 10, 0, a, 16, &na, NULL) == MOD_OK &&
              mod_tokenize(models[0], "e", 1, 0, b, 16, &nb, NULL) == MOD_OK && nb == 1 &&
              mod_tokenize(models[0], "\xCC\x81", 2, 0, b + 2, 14, &nc, NULL) == MOD_OK && na == nc + 2 && a[0] == b[0] &&
              a[1] == (int32_t)models[3]->vocab.n_tokens - 2 && !memcmp(a + 2, b + 2, sizeof a[0] * (size_t)nc),
              "NFC and added tokens: e<think>U+0301 stays e, <think>, U+0301");
        check(mod_tokenize(models[1], "e\xCC\x81", 3, 0, a, 16, &na, NULL) == MOD_OK &&
              mod_tokenize(models[0], "\xC3\xA9", 2, 0, b, 16, &nb, NULL) == MOD_OK && na == nb && !memcmp(a, b, sizeof a[0] * (size_t)na),
              "NFC: e U+0301 encodes as U+00E9");
    }
done:
    for (k = 0; k < 4; k++) {
        if (models[k]) mod_model_free(models[k]);
        free(arenas[k]);
        free(bufs[k]);
    }
    check_group("NFC and added tokens (kind 1)");
}

int main(void)
{
    test_lookup();
    test_pretokenizer();
    test_split_unicode();
    test_kind1();
    test_kind2();
    test_kind3();
    test_special12();
    test_errors();
    test_random();
    test_random_splits();
    test_random3();
    test_random2_added();
    test_adversarial();
#ifndef MOD_NO_MALLOC
    test_paths();
    test_scratch();
#endif
    test_long();
    test_public_api();
    test_padding();
    test_nfc_added();
    return check_finish();
}
