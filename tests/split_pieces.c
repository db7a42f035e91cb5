/* Prints the pieces that mod.h's pretokenizer splits texts into, for tests/split_oracle.js.
   Usage: split_pieces PRETOKENIZER < lines, each line a text in hex (empty for the empty text).
   For each text it prints the end of every piece, counted in characters: a well-formed UTF-8
   sequence is one character, and so is each byte that does not start one (mod.h's rule).
   split_pieces classes prints mod.h's Unicode class table as "first-code-point class" runs. */
#define MOD_IMPLEMENTATION
#include "../mod.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int main(int argc, char **argv)
{
    static char line[1 << 20], text[1 << 19];
    mod__vocab v;
    memset(&v, 0, sizeof v);
    if (argc == 2 && strcmp(argv[1], "classes") == 0) { /* the class table: "start class" per run */
        uint32_t cp;
        int prev = -1;
        for (cp = 0; cp < 0x110000; cp++) {
            int c = mod__uni_class(cp);
            if (c != prev) printf("%lu %d\n", (unsigned long)cp, c);
            prev = c;
        }
        return 0;
    }
    if (argc != 2 || (v.pretokenizer = atoi(argv[1])) < 1 || v.pretokenizer > 3) {
        fprintf(stderr, "usage: split_pieces PRETOKENIZER(1-3) < hex lines\n");
        return 2;
    }
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strcspn(line, "\r\n"), n = 0, i, e, k, chars = 0;
        int first = 1;
        if (len % 2 || len / 2 > sizeof text) { fprintf(stderr, "split_pieces: bad line\n"); return 2; }
        for (i = 0; i < len; i += 2) {
            int hi = hexval(line[i]), lo = hexval(line[i + 1]);
            if (hi < 0 || lo < 0) { fprintf(stderr, "split_pieces: bad hex\n"); return 2; }
            text[n++] = (char)(hi * 16 + lo);
        }
        for (i = 0; i < n; i = e) {
            e = mod__tok_split(&v, text, 0, n, i);
            if (e <= i || e > n) { fprintf(stderr, "split_pieces: piece [%zu, %zu) of a %zu-byte text\n", i, e, n); return 1; }
            for (k = i; k < e; chars++) mod__tok_char(text, 0, n, k, &k);
            printf(first ? "%zu" : ",%zu", chars);
            first = 0;
        }
        putchar('\n');
    }
    return 0;
}
