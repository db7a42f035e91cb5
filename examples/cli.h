/* Small helpers shared by the command-line programs: strict number parsing, a clock, and
   whole-file reads. Not part of the library. */
#ifndef MOD_CLI_H
#define MOD_CLI_H

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Parses a whole string as an int in [lo, hi]; 0 on success. */
static inline int cli_int(const char *s, long lo, long hi, int *out) {
    char *end;
    long v;
    if (!s || !*s) return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static inline int cli_u64(const char *s, uint64_t *out) {
    char *end;
    unsigned long long v;
    if (!s || !*s || *s == '-') return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

/* Parses a whole string as a finite float in [lo, hi]; 0 on success. */
static inline int cli_float(const char *s, double lo, double hi, float *out) {
    char *end;
    double v;
    if (!s || !*s) return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !(v >= lo && v <= hi)) return -1; /* also rejects NaN */
    *out = (float)v;
    return 0;
}

static inline double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Reads a whole file; the caller frees. NULL on failure (message printed). */
static inline char *cli_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f) { fprintf(stderr, "error: cannot open %s: %s\n", path, strerror(errno)); return NULL; }
    for (;;) {
        size_t got;
        if (n == cap) {
            char *nb;
            if (cap > ((size_t)-1) / 2 - 1) { free(buf); fclose(f); fprintf(stderr, "error: %s is too large\n", path); return NULL; }
            cap = cap ? cap * 2 : 65536;
            nb = (char *)realloc(buf, cap + 1);
            if (!nb) { free(buf); fclose(f); fprintf(stderr, "error: out of memory reading %s\n", path); return NULL; }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) { free(buf); fclose(f); fprintf(stderr, "error: read error on %s\n", path); return NULL; }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

#endif
