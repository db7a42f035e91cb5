/* json.h - a small strict JSON parser (RFC 8259) for the converter. Header-only, static.
 *
 * The input is untrusted (config.json, tokenizer.json, safetensors headers), so the parser is
 * strict and bounded: nesting depth and string lengths are limited, strings must be valid
 * UTF-8, \u escapes must pair surrogates correctly, duplicate object keys are rejected, and
 * nothing but whitespace may follow the value. Decoded strings live in a buffer the document
 * owns (NUL-terminated, at most the size of the source), so the source stays intact for
 * error positions.
 *
 *     json_doc d;
 *     if (json_parse(&d, buf, len, 64) != 0) { puts(d.err); ... }
 *     int v = json_get(&d, 0, "hidden_size");     // node 0 is the root
 *     json_free(&d);
 */
#ifndef TOOLS_JSON_H
#define TOOLS_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define JSON_FN static __attribute__((unused))
#else
#define JSON_FN static
#endif

#define JSON_MAX_STRING (1u << 20) /* decoded bytes in one string or key */
#define JSON_MAX_NUMBER 64         /* characters in one number */

typedef enum json_type {
    JSON_NULL, JSON_FALSE, JSON_TRUE, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT
} json_type;

typedef struct json_node {
    json_type type;
    int child, next;        /* first child and next sibling, -1 for none */
    size_t count;           /* children of an array or object */
    size_t key, key_len;    /* an object member's key: out[key .. key + key_len) */
    size_t str, str_len;    /* a string: out[str ..], a number: its source text buf[str ..] */
    size_t pos;             /* where the value starts in the source, for messages */
    size_t key_pos;         /* where an object member's key starts */
    double num;
} json_node;

typedef struct json_doc {
    const char *buf;        /* the source text */
    size_t len;
    char *out;              /* decoded strings, each NUL-terminated */
    size_t out_n;
    json_node *nodes;
    size_t n, cap;
    int max_depth;
    void *owned;            /* freed by json_free when set (e.g. the source buffer) */
    char err[200];
} json_doc;

/* ---- errors --------------------------------------------------------------------------- */

/* Records "line L, column C: message" for byte offset pos (the first error wins). */
JSON_FN int json__fail(json_doc *d, size_t pos, const char *msg)
{
    size_t i, line = 1, col = 1;
    if (d->err[0]) return -1;
    for (i = 0; i < pos && i < d->len; i++) {
        if (d->buf[i] == '\n') { line++; col = 1; }
        else col++;
    }
    snprintf(d->err, sizeof d->err, "line %lu, column %lu: %s", (unsigned long)line,
             (unsigned long)col, msg);
    return -1;
}

JSON_FN int json__new(json_doc *d, json_type t, size_t pos)
{
    json_node *x;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        json_node *nn;
        if (cap > ((size_t)-1) / sizeof *nn || cap > 0x7fffffff) return json__fail(d, pos, "document too large");
        nn = (json_node *)realloc(d->nodes, cap * sizeof *nn);
        if (!nn) return json__fail(d, pos, "out of memory");
        d->nodes = nn;
        d->cap = cap;
    }
    x = &d->nodes[d->n];
    memset(x, 0, sizeof *x);
    x->type = t;
    x->child = x->next = -1;
    x->pos = pos;
    return (int)d->n++;
}

JSON_FN size_t json__ws(const json_doc *d, size_t i)
{
    while (i < d->len && (d->buf[i] == ' ' || d->buf[i] == '\t' || d->buf[i] == '\n' || d->buf[i] == '\r')) i++;
    return i;
}

JSON_FN int json__hex4(const json_doc *d, size_t i, unsigned *out)
{
    unsigned v = 0;
    int k;
    if (i + 4 > d->len) return -1;
    for (k = 0; k < 4; k++) {
        char c = d->buf[i + (size_t)k];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at s[0 .. n), or 0 (overlong forms, surrogates and code
   points past U+10FFFF are invalid). */
JSON_FN size_t json_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0;  /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;  /* overlong */
        if (c == 0xF4 && s[1] >= 0x90) return 0; /* past U+10FFFF */
        return 4;
    }
    return 0;
}

JSON_FN size_t json__put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses the string whose opening quote is at *pos, decoding it into d->out. Every source
   string spends at least two bytes on its quotes and a decoded string is never longer than its
   source, so d->out (len + 1 bytes) always has room for the bytes and a NUL. */
JSON_FN int json__string(json_doc *d, size_t *pos, size_t *start, size_t *len)
{
    size_t r = *pos + 1, w = d->out_n;
    *start = w;
    for (;;) {
        unsigned char c;
        if (r >= d->len) return json__fail(d, *pos, "unterminated string");
        c = (unsigned char)d->buf[r];
        if (w - *start > JSON_MAX_STRING) return json__fail(d, *pos, "string longer than 1 MiB");
        if (c == '"') break;
        if (c < 0x20) return json__fail(d, r, "control character in a string (must be escaped)");
        if (c == '\\') {
            unsigned cp;
            char e;
            if (r + 1 >= d->len) return json__fail(d, *pos, "unterminated string");
            e = d->buf[r + 1];
            r += 2;
            switch (e) {
            case '"': d->out[w++] = '"'; continue;
            case '\\': d->out[w++] = '\\'; continue;
            case '/': d->out[w++] = '/'; continue;
            case 'b': d->out[w++] = '\b'; continue;
            case 'f': d->out[w++] = '\f'; continue;
            case 'n': d->out[w++] = '\n'; continue;
            case 'r': d->out[w++] = '\r'; continue;
            case 't': d->out[w++] = '\t'; continue;
            case 'u': break;
            default: return json__fail(d, r - 2, "invalid escape sequence in a string");
            }
            if (json__hex4(d, r, &cp) != 0) return json__fail(d, r - 2, "\\u must be followed by four hex digits");
            r += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return json__fail(d, r - 6, "unpaired low surrogate in a \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (r + 6 > d->len || d->buf[r] != '\\' || d->buf[r + 1] != 'u' || json__hex4(d, r + 2, &lo) != 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return json__fail(d, r - 6, "high surrogate in a \\u escape is not followed by a low surrogate");
                r += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            w += json__put_utf8(d->out + w, cp);
            continue;
        }
        if (c < 0x80) { d->out[w++] = (char)c; r++; continue; }
        {
            size_t k = json_utf8_len((const unsigned char *)d->buf + r, d->len - r), j;
            if (!k) return json__fail(d, r, "invalid UTF-8 in a string");
            for (j = 0; j < k; j++) d->out[w++] = d->buf[r++];
        }
    }
    *len = w - *start;
    if (*len > JSON_MAX_STRING) return json__fail(d, *pos, "string longer than 1 MiB");
    d->out[w++] = 0;
    d->out_n = w;
    *pos = r + 1;
    return 0;
}

JSON_FN int json__number(json_doc *d, size_t *pos, int node)
{
    size_t i = *pos, s = i;
    char tmp[JSON_MAX_NUMBER + 1];
    char *end;
    double v;
#define JSON__DIGIT(k) ((k) < d->len && d->buf[k] >= '0' && d->buf[k] <= '9')
    if (i < d->len && d->buf[i] == '-') i++;
    if (!JSON__DIGIT(i)) return json__fail(d, s, "invalid number");
    if (d->buf[i] == '0') i++;
    else while (JSON__DIGIT(i)) i++;
    if (i < d->len && d->buf[i] == '.') {
        i++;
        if (!JSON__DIGIT(i)) return json__fail(d, s, "invalid number (digits must follow the point)");
        while (JSON__DIGIT(i)) i++;
    }
    if (i < d->len && (d->buf[i] == 'e' || d->buf[i] == 'E')) {
        i++;
        if (i < d->len && (d->buf[i] == '+' || d->buf[i] == '-')) i++;
        if (!JSON__DIGIT(i)) return json__fail(d, s, "invalid number (digits must follow the exponent)");
        while (JSON__DIGIT(i)) i++;
    }
#undef JSON__DIGIT
    if (i - s > JSON_MAX_NUMBER) return json__fail(d, s, "number longer than 64 characters");
    memcpy(tmp, d->buf + s, i - s);
    tmp[i - s] = 0;
    v = strtod(tmp, &end);
    if (end != tmp + (i - s) || !(v >= -1.7976931348623157e308 && v <= 1.7976931348623157e308))
        return json__fail(d, s, "number out of range");
    d->nodes[node].num = v;
    d->nodes[node].str = s;
    d->nodes[node].str_len = i - s;
    *pos = i;
    return 0;
}

/* Key bytes of member node m. */
JSON_FN int json__keycmp(const json_doc *d, int a, int b)
{
    const json_node *x = &d->nodes[a], *y = &d->nodes[b];
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(d->out + x->key, d->out + y->key, n);
    if (c) return c;
    return x->key_len < y->key_len ? -1 : x->key_len > y->key_len ? 1 : 0;
}

/* Rejects repeated keys in object node o (a merge sort of member indices: large objects such
   as a tokenizer vocabulary stay O(n log n)). */
JSON_FN int json__check_keys(json_doc *d, int o)
{
    size_t n = d->nodes[o].count, i, w;
    int *a, *t, m;
    if (n < 2) return 0;
    a = (int *)malloc(n * sizeof *a);
    t = (int *)malloc(n * sizeof *t);
    if (!a || !t) { free(a); free(t); return json__fail(d, d->nodes[o].pos, "out of memory"); }
    for (i = 0, m = d->nodes[o].child; m >= 0; m = d->nodes[m].next) a[i++] = m;
    for (w = 1; w < n; w *= 2) {
        for (i = 0; i < n; i += 2 * w) {
            size_t lo = i, mid = i + w < n ? i + w : n, hi = i + 2 * w < n ? i + 2 * w : n, p = lo, q = mid, k = lo;
            while (p < mid && q < hi) t[k++] = json__keycmp(d, a[q], a[p]) < 0 ? a[q++] : a[p++];
            while (p < mid) t[k++] = a[p++];
            while (q < hi) t[k++] = a[q++];
        }
        memcpy(a, t, n * sizeof *a);
    }
    for (i = 1; i < n; i++)
        if (json__keycmp(d, a[i - 1], a[i]) == 0) {
            const json_node *x = &d->nodes[a[i]];
            char msg[160];
            size_t kl = x->key_len < 80 ? x->key_len : 80, j;
            int pos = a[i - 1] > a[i] ? a[i - 1] : a[i];
            memcpy(msg, "duplicate key \"", 15);
            for (j = 0; j < kl; j++) {
                char c = d->out[x->key + j];
                msg[15 + j] = (c >= 0x20 && c < 0x7f) ? c : '?';
            }
            memcpy(msg + 15 + kl, x->key_len > kl ? "...\"" : "\"", x->key_len > kl ? 5 : 2);
            free(a);
            free(t);
            return json__fail(d, d->nodes[pos].key_pos, msg);
        }
    free(a);
    free(t);
    return 0;
}

JSON_FN int json__value(json_doc *d, size_t *pos, int depth);

JSON_FN int json__container(json_doc *d, size_t *pos, int depth, int node, int object)
{
    size_t i = json__ws(d, *pos + 1);
    const char close = object ? '}' : ']';
    int last = -1;
    if (depth > d->max_depth) {
        char msg[80];
        snprintf(msg, sizeof msg, "nesting deeper than %d levels", d->max_depth);
        return json__fail(d, *pos, msg);
    }
    if (i < d->len && d->buf[i] == close) { *pos = i + 1; return 0; }
    for (;;) {
        int child;
        size_t kpos = 0, klen = 0, kq = i;
        if (object) {
            if (i >= d->len) return json__fail(d, *pos, "unterminated object");
            if (d->buf[i] != '"') return json__fail(d, i, "expected a string key");
            if (json__string(d, &i, &kpos, &klen) != 0) return -1;
            i = json__ws(d, i);
            if (i >= d->len || d->buf[i] != ':') return json__fail(d, i, "expected ':' after an object key");
            i = json__ws(d, i + 1);
        }
        child = json__value(d, &i, depth + 1);
        if (child < 0) return -1;
        d->nodes[child].key = kpos;
        d->nodes[child].key_len = klen;
        d->nodes[child].key_pos = kq;
        if (last < 0) d->nodes[node].child = child;
        else d->nodes[last].next = child;
        last = child;
        d->nodes[node].count++;
        i = json__ws(d, i);
        if (i >= d->len) return json__fail(d, *pos, object ? "unterminated object" : "unterminated array");
        if (d->buf[i] == ',') { i = json__ws(d, i + 1); continue; }
        if (d->buf[i] == close) break;
        return json__fail(d, i, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    *pos = i + 1;
    return object ? json__check_keys(d, node) : 0;
}

/* Parses one value at *pos (no leading whitespace); returns its node or -1. */
JSON_FN int json__value(json_doc *d, size_t *pos, int depth)
{
    size_t i = *pos;
    int node;
    char c;
    if (i >= d->len) return json__fail(d, i, "unexpected end of input");
    c = d->buf[i];
    if (c == '{' || c == '[') {
        node = json__new(d, c == '{' ? JSON_OBJECT : JSON_ARRAY, i);
        if (node < 0 || json__container(d, &i, depth, node, c == '{') != 0) return -1;
    } else if (c == '"') {
        size_t s, n;
        node = json__new(d, JSON_STRING, i);
        if (node < 0 || json__string(d, &i, &s, &n) != 0) return -1;
        d->nodes[node].str = s;
        d->nodes[node].str_len = n;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        node = json__new(d, JSON_NUMBER, i);
        if (node < 0 || json__number(d, &i, node) != 0) return -1;
    } else if (d->len - i >= 4 && memcmp(d->buf + i, "true", 4) == 0) {
        node = json__new(d, JSON_TRUE, i); i += 4;
    } else if (d->len - i >= 5 && memcmp(d->buf + i, "false", 5) == 0) {
        node = json__new(d, JSON_FALSE, i); i += 5;
    } else if (d->len - i >= 4 && memcmp(d->buf + i, "null", 4) == 0) {
        node = json__new(d, JSON_NULL, i); i += 4;
    } else {
        return json__fail(d, i, "unexpected character (expected a JSON value)");
    }
    *pos = i;
    return node;
}

/* Parses buf[0 .. len) (left unchanged; it must outlive the document only for json_uint and
   number text). Node 0 is the root. Returns 0, or -1 with d->err; call json_free either way. */
JSON_FN int json_parse(json_doc *d, const char *buf, size_t len, int max_depth)
{
    size_t i;
    memset(d, 0, sizeof *d);
    d->buf = buf;
    d->len = len;
    d->max_depth = max_depth;
    if (len == (size_t)-1 || !(d->out = (char *)malloc(len + 1))) return json__fail(d, 0, "out of memory");
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB && (unsigned char)buf[2] == 0xBF)
        return json__fail(d, 0, "byte order mark at the start (JSON text must not have one)");
    i = json__ws(d, 0);
    if (i >= len) return json__fail(d, i, "empty document");
    if (json__value(d, &i, 1) < 0) return -1;
    i = json__ws(d, i);
    if (i < len) return json__fail(d, i, "trailing characters after the JSON value");
    return 0;
}

JSON_FN void json_free(json_doc *d)
{
    free(d->nodes);
    free(d->out);
    free(d->owned);
    d->nodes = NULL;
    d->out = NULL;
    d->owned = NULL;
    d->n = d->cap = d->out_n = 0;
}

/* ---- access --------------------------------------------------------------------------- */

/* The member of object node o with this key, or -1. */
JSON_FN int json_get(const json_doc *d, int o, const char *key)
{
    size_t kl = strlen(key);
    int m;
    if (o < 0 || d->nodes[o].type != JSON_OBJECT) return -1;
    for (m = d->nodes[o].child; m >= 0; m = d->nodes[m].next)
        if (d->nodes[m].key_len == kl && memcmp(d->out + d->nodes[m].key, key, kl) == 0) return m;
    return -1;
}

JSON_FN json_type json_type_of(const json_doc *d, int n) { return n < 0 ? JSON_NULL : d->nodes[n].type; }

JSON_FN const char *json_str(const json_doc *d, int n, size_t *len)
{
    if (len) *len = d->nodes[n].str_len;
    return d->out + d->nodes[n].str;
}

/* Does string node n equal s? */
JSON_FN int json_str_is(const json_doc *d, int n, const char *s)
{
    size_t l = strlen(s);
    return n >= 0 && d->nodes[n].type == JSON_STRING && d->nodes[n].str_len == l && memcmp(d->out + d->nodes[n].str, s, l) == 0;
}

/* A number node written as a plain non-negative integer (no sign, fraction or exponent) up to
   hi, read exactly: offsets past 2^53 do not go through a double. */
JSON_FN int json_uint(const json_doc *d, int n, uint64_t hi, uint64_t *out)
{
    const json_node *x;
    uint64_t v = 0;
    size_t i;
    if (n < 0 || d->nodes[n].type != JSON_NUMBER) return -1;
    x = &d->nodes[n];
    for (i = 0; i < x->str_len; i++) {
        char c = d->buf[x->str + i];
        if (c < '0' || c > '9') return -1;
        if (v > (UINT64_MAX - (uint64_t)(c - '0')) / 10) return -1;
        v = v * 10 + (uint64_t)(c - '0');
    }
    if (v > hi) return -1;
    *out = v;
    return 0;
}

/* A number node with an integral value in [lo, hi] (1024.0 and 1.024e3 count). */
JSON_FN int json_int(const json_doc *d, int n, double lo, double hi, long *out)
{
    double v;
    if (n < 0 || d->nodes[n].type != JSON_NUMBER) return -1;
    v = d->nodes[n].num;
    if (!(v >= lo && v <= hi) || v != (double)(long)v) return -1;
    *out = (long)v;
    return 0;
}

/* The i-th child of an array, or -1. */
JSON_FN int json_at(const json_doc *d, int a, size_t i)
{
    int m;
    if (a < 0 || (d->nodes[a].type != JSON_ARRAY && d->nodes[a].type != JSON_OBJECT)) return -1;
    for (m = d->nodes[a].child; m >= 0 && i > 0; m = d->nodes[m].next) i--;
    return m;
}

#endif /* TOOLS_JSON_H */
