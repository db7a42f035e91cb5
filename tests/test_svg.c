/* tools/svg.h: XML escaping and UTF-8 repair of arbitrary bytes, tick choice. The escaped
   output of random byte strings is checked with the C library's own UTF-8 decoder (mbrtowc
   under C.UTF-8), independent of svg.h's. */
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "check.h"
#include "svg.h"

static size_t escape_to(const char *in, size_t len, char *out, size_t cap) {
    FILE *f = tmpfile();
    size_t n;
    if (!f) return 0;
    svg_escape(f, in, len);
    rewind(f);
    n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    fclose(f);
    return n;
}

static void expect(const char *in, size_t len, const char *want, const char *what) {
    char out[256];
    escape_to(in, len, out, sizeof out);
    check(strcmp(out, want) == 0, "escape %s: got \"%s\", want \"%s\"", what, out, want);
}

/* valid UTF-8 by mbrtowc, no raw '<', '&', '"', '\'' or '>' and no control character but tab
   and newline */
static int clean(const char *s, size_t n) {
    mbstate_t st;
    size_t i = 0;
    memset(&st, 0, sizeof st);
    while (i < n) {
        wchar_t w;
        size_t k = mbrtowc(&w, s + i, n - i, &st);
        if (k == (size_t)-1 || k == (size_t)-2 || k == 0) return 0;
        if (w == '<' || w == '>' || w == '"' || w == '\'' || (w < 0x20 && w != '\t' && w != '\n') || w == 0x7f) return 0;
        if (w >= 0xD800 && w <= 0xDFFF) return 0;
        if (w == '&') {
            static const char *ent[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&#39;" };
            int e, ok = 0;
            for (e = 0; e < 5; e++) if (strncmp(s + i, ent[e], strlen(ent[e])) == 0) ok = 1;
            if (!ok) return 0;
        }
        i += k;
    }
    return 1;
}

int main(void) {
    unsigned seed = 12345;
    int t, bad = 0;
    double ticks[16];
    int n;
    if (!setlocale(LC_CTYPE, "C.UTF-8")) { check(0, "the C.UTF-8 locale exists"); return check_finish(); }
    expect("a<b&c>\"d'", 9, "a&lt;b&amp;c&gt;&quot;d&#39;", "markup");
    expect("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 14, "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "valid UTF-8 kept");
    expect("x\xC3", 2, "x\xEF\xBF\xBD", "a cut sequence");
    expect("\xC0\xAF", 2, "\xEF\xBF\xBD", "an overlong slash");
    expect("\xED\xA0\x80!", 4, "\xEF\xBF\xBD!", "a surrogate");
    expect("\xF4\x90\x80\x80", 4, "\xEF\xBF\xBD", "beyond U+10FFFF");
    expect("\xEF\xBF\xBE", 3, "\xEF\xBF\xBD", "U+FFFE");
    expect("a\x01\x7f\tb\n", 6, "a\tb\n", "control characters");
    expect("\x80\x80z", 3, "\xEF\xBF\xBDz", "stray continuation bytes");
    check_group("escape: fixed cases");
    for (t = 0; t < 20000; t++) {
        char in[24], out[512];
        size_t len = (size_t)(t % 23), i, m;
        for (i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            /* mostly high bytes, so that long and broken sequences are common */
            in[i] = (char)((seed >> 16) % 3 ? 0x80 + (seed >> 8) % 128 : (seed >> 8) % 128);
        }
        m = escape_to(in, len, out, sizeof out);
        if (!clean(out, m)) bad++;
    }
    check(bad == 0, "escape: 20,000 random byte strings give clean UTF-8 XML text (%d do not)", bad);
    check_group("escape: random bytes");
    n = svg_ticks(0, 1, 7, ticks);
    check(n == 6 && ticks[0] == 0 && fabs(ticks[5] - 1) < 1e-12, "ticks of [0, 1]: 0, 0.2, ..., 1 (%d)", n);
    n = svg_ticks(31.2, 34.9, 7, ticks);
    check(n >= 3 && n <= 7 && ticks[0] >= 31.2 && ticks[n - 1] <= 34.9, "ticks of [31.2, 34.9] inside it (%d)", n);
    n = svg_ticks(1, 1, 7, ticks);
    check(n == 1 && ticks[0] == 1, "ticks of an empty range: the value");
    check_group("ticks");
    return check_finish();
}
