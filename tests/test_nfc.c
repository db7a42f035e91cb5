/* mod.h's NFC normalization (>>tokenizer, mod__nfc) against two independent references:
   - Unicode's conformance test, NormalizationTest.txt of the same Unicode version as mod.h's
     tables (Debian's unicode-data): on every line, c2 == NFC(c1) == NFC(c2) == NFC(c3) and
     c4 == NFC(c4) == NFC(c5); every code point that Part 1 does not list is its own NFC;
   - Node's String.prototype.normalize("NFC") (tests/nfc_oracle.js): lines of the text's UTF-8
     and its NFC's, in hex.
   Also: the output capacity is never exceeded, and bytes that are not UTF-8 stay as they are.
     test_nfc NormalizationTest.txt [NODE_PAIRS]          (tests/test_nfc.sh runs it) */
#include <stdlib.h>
#include <string.h>
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "check.h"

static size_t utf8(uint32_t cp, char *o)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) { o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 63)); o[2] = (char)(0x80 | (cp & 63)); return 3; }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 63)); o[2] = (char)(0x80 | (cp >> 6 & 63)); o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* A field of code points in hex, separated by spaces, as UTF-8 into o; its length. */
static size_t field(const char *f, const char *end, char *o)
{
    size_t n = 0;
    while (f < end) {
        char *e;
        unsigned long cp = strtoul(f, &e, 16);
        if (e == f) { f++; continue; }
        n += utf8((uint32_t)cp, o + n);
        f = e;
    }
    return n;
}

/* NFC of s compared with want; also that the normalizer fills a buffer one byte short
   exactly up to its end, never past it. */
static int same_nfc(const char *s, size_t n, const char *want, size_t wn)
{
    static char out[4096 + 16];
    size_t len = mod__nfc(s, n, out, 4096);
    if (len != wn || memcmp(out, want, wn) != 0) return 0;
    if (wn > 0) {
        memset(out, 0x5A, sizeof out);
        if (mod__nfc(s, n, out, wn - 1) != wn || out[wn - 1] != 0x5A) return 0;
    }
    return 1;
}

static void show(const char *s, size_t n, char *buf, size_t cap)
{
    size_t i, k = 0;
    for (i = 0; i < n && k + 4 < cap; i++) k += (size_t)snprintf(buf + k, cap - k, "%02X ", (unsigned char)s[i]);
    buf[k] = 0;
}

static void conformance(const char *path)
{
    FILE *f = fopen(path, "r");
    static char line[4096];
    static unsigned char listed[0x110000];
    char c[5][1024], a[256], b[256];
    size_t cn[5];
    int part = -1, lines = 0;
    uint32_t cp;
    if (!check(f != NULL, "open %s", path)) return;
    while (fgets(line, sizeof line, f)) {
        const char *p = line, *semi;
        int k;
        if (line[0] == '@') { part = atoi(line + 5); continue; }
        if (line[0] == '#' || line[0] == '\n') continue;
        for (k = 0; k < 5; k++) {
            if (!(semi = strchr(p, ';'))) break;
            cn[k] = field(p, semi, c[k]);
            p = semi + 1;
        }
        if (!check(k == 5, "line %d of %s has five fields", lines + 1, path)) continue;
        lines++;
        if (part == 1) listed[strtoul(line, NULL, 16)] = 1;
        for (k = 0; k < 3; k++) {
            show(c[k], cn[k], a, sizeof a);
            show(c[1], cn[1], b, sizeof b);
            check(same_nfc(c[k], cn[k], c[1], cn[1]), "NFC(c%d) == c2: %s-> %s", k + 1, a, b);
        }
        for (k = 3; k < 5; k++) {
            show(c[k], cn[k], a, sizeof a);
            show(c[3], cn[3], b, sizeof b);
            check(same_nfc(c[k], cn[k], c[3], cn[3]), "NFC(c%d) == c4: %s-> %s", k + 1, a, b);
        }
    }
    fclose(f);
    check(lines > 10000, "%d test lines read", lines);
    check_group("NormalizationTest.txt");
    {   /* one check for all of them, so the counts stay readable */
        uint32_t bad = 0, first = 0, count = 0;
        for (cp = 0; cp < 0x110000; cp++) {
            char s[4];
            size_t n;
            if ((cp >= 0xD800 && cp < 0xE000) || listed[cp]) continue;
            n = utf8(cp, s);
            count++;
            if (!same_nfc(s, n, s, n) && bad++ == 0) first = cp;
        }
        check(bad == 0 && count > 1000000, "%u of the %u code points not in Part 1 are not their own NFC (the first U+%04X)",
              (unsigned)bad, (unsigned)count, (unsigned)first);
    }
    check_group("code points not in Part 1");
}

static size_t unhex(const char *h, const char *end, char *o)
{
    size_t n = 0;
    for (; h + 1 < end; h += 2) {
        char x[3] = { h[0], h[1], 0 };
        o[n++] = (char)strtoul(x, NULL, 16);
    }
    return n;
}

static void node_pairs(const char *path)
{
    FILE *f = fopen(path, "r");
    static char line[65536], in[16384], want[16384];
    int lines = 0;
    if (!check(f != NULL, "open %s", path)) return;
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t'), *end = line + strlen(line);
        size_t n, wn;
        char a[256], b[256];
        if (!tab) continue;
        while (end > tab && (end[-1] == '\n' || end[-1] == '\r')) end--;
        n = unhex(line, tab, in);
        wn = unhex(tab + 1, end, want);
        lines++;
        show(in, n, a, sizeof a);
        show(want, wn, b, sizeof b);
        check(same_nfc(in, n, want, wn), "text %d: NFC(%s) is Node's %s", lines, a, b);
    }
    fclose(f);
    check(lines >= 1000, "%d texts from Node", lines);
    check_group("Node's normalize(\"NFC\")");
}

/* What only mod.h defines: bytes that are not UTF-8 stay, and nothing composes across them. */
static void invalid_bytes(void)
{
    static const struct { const char *in, *want; } cases[] = {
        { "\xFF", "\xFF" },
        { "e\xCC\x81\xFF", "\xC3\xA9\xFF" },
        { "e\xFF\xCC\x81", "e\xFF\xCC\x81" },               /* the mark after the byte has no starter */
        { "\xCC\x81\xCC\xA3", "\xCC\xA3\xCC\x81" },           /* no starter: marks still ordered */
        { "a\xE0\x80\xCC\x81", "a\xE0\x80\xCC\x81" },         /* an overlong form's bytes each stand alone */
        { "\xED\xA0\x80\xCC\x81", "\xED\xA0\x80\xCC\x81" },   /* a surrogate's bytes as well */
        { "\xE1\x84\x80\xE1", "\xE1\x84\x80\xE1" },           /* a truncated sequence after a Hangul L */
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check(same_nfc(cases[i].in, strlen(cases[i].in), cases[i].want, strlen(cases[i].want)), "invalid UTF-8 case %d", (int)i);
    check(mod__nfc("", 0, NULL, 0) == 0, "the empty text");
    check_group("bytes that are not UTF-8");
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: test_nfc NormalizationTest.txt [NODE_PAIRS]\n");
        return 2;
    }
    conformance(argv[1]);
    if (argc == 3) node_pairs(argv[2]);
    invalid_bytes();
    return check_finish();
}
