/* tools/ggml_dequant.h checked from outside, twice:
   - against a naive transcription of each block format, element by element, in double
     precision (reading every field through one bit reader at the bit position the format
     gives it), on random blocks of every type: values whose formula is one exact product
     (Q4_0, Q5_0, Q8_0, Q3_K, Q6_K) must be equal; the others (a product plus an offset, or
     Q8_K's f32 scale times a quant) within half a float ulp, |f - x| <= 2^-24 |x| (1 + 2^-20)
     (the rounding of the result to float; the slack covers the double reference's own);
   - against ggml's own output: tests/fixtures/ggml_dequant/ holds, for every type, random
     blocks and the floats ggml's reference dequantization made of them (README there), which
     ggml_dequant_row must reproduce bit for bit;
   plus sizes, counts, unsupported types and overflowing lengths, each refused with dst
   untouched. Usage: test_ggml_dequant [fixture dir] (default tests/fixtures/ggml_dequant). */
#include "ggml_dequant.h"
#include "check.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the naive reference ---------------------------------------------------------------- */

/* nbits bits of the byte string p from bit position pos on, bit 0 being the lowest bit of
   p[0] (so a little-endian field of any width reads as it is stored) */
static unsigned bits_at(const unsigned char *p, size_t pos, int nbits)
{
    unsigned v = 0;
    int i;
    for (i = 0; i < nbits; i++)
        v |= (unsigned)((p[(pos + (size_t)i) / 8] >> ((pos + (size_t)i) % 8)) & 1) << i;
    return v;
}

/* IEEE binary16: sign, 5-bit exponent (bias 15), 10-bit fraction; exponent 0 is subnormal */
static double ref_half(const unsigned char *p)
{
    unsigned frac = bits_at(p, 0, 10), ex = bits_at(p, 10, 5), sign = bits_at(p, 15, 1);
    double v;
    if (ex == 31) v = frac ? NAN : INFINITY;
    else if (ex == 0) v = ldexp((double)frac, -24);
    else v = ldexp(1.0 + frac / 1024.0, (int)ex - 15);
    return sign ? -v : v;
}

/* IEEE binary32 the same way: 23-bit fraction, 8-bit exponent (bias 127) */
static double ref_f32(const unsigned char *p)
{
    unsigned long frac = 0;
    unsigned ex = bits_at(p, 23, 8), sign = bits_at(p, 31, 1);
    double v;
    frac = (unsigned long)bits_at(p, 0, 23);
    if (ex == 255) v = frac ? NAN : INFINITY;
    else if (ex == 0) v = ldexp((double)frac, -149);
    else v = ldexp(1.0 + (double)frac / 8388608.0, (int)ex - 127);
    return sign ? -v : v;
}

static int as_int8(unsigned v) { return v >= 128 ? (int)v - 256 : (int)v; }

/* Value e of one block of the given type. */
static double ref_value(uint32_t type, const unsigned char *b, int e)
{
    switch (type) {
    case 2: {   /* Q4_0: d | 16 bytes; byte i: value i in the low nibble, value i + 16 in the high */
        double d = ref_half(b);
        unsigned q = bits_at(b + 2, 8 * (size_t)(e % 16) + 4 * (size_t)(e / 16), 4);
        return ((int)q - 8) * d;
    }
    case 3: {   /* Q4_1: d, m | 16 bytes as Q4_0; value = q d + m */
        double d = ref_half(b), m = ref_half(b + 2);
        unsigned q = bits_at(b + 4, 8 * (size_t)(e % 16) + 4 * (size_t)(e / 16), 4);
        return q * d + m;
    }
    case 6: {   /* Q5_0: d | 32 bits, bit e the fifth bit of value e | 16 bytes as Q4_0 */
        double d = ref_half(b);
        unsigned q = bits_at(b + 6, 8 * (size_t)(e % 16) + 4 * (size_t)(e / 16), 4) + 16 * bits_at(b + 2, (size_t)e, 1);
        return ((int)q - 16) * d;
    }
    case 7: {   /* Q5_1: d, m | 32 bits | 16 bytes */
        double d = ref_half(b), m = ref_half(b + 2);
        unsigned q = bits_at(b + 8, 8 * (size_t)(e % 16) + 4 * (size_t)(e / 16), 4) + 16 * bits_at(b + 4, (size_t)e, 1);
        return q * d + m;
    }
    case 8:     /* Q8_0: d | 32 int8 */
        return as_int8(b[2 + e]) * ref_half(b);
    case 10: {  /* Q2_K: 16 bytes (sub-block s of 16 values: scale low nibble, min high) | 64 bytes
                   of 2-bit quants | d | dmin. Value e is in run e / 128; in the run's 32 bytes,
                   value 32 f + l sits in byte l at bits 2f. */
        int s = e / 16, run = e / 128, f = (e % 128) / 32, l = e % 32;
        double d = ref_half(b + 80), dmin = ref_half(b + 82);
        unsigned sc = bits_at(b, 8 * (size_t)s, 4), mn = bits_at(b, 8 * (size_t)s + 4, 4);
        unsigned q = bits_at(b + 16, 8 * (size_t)(32 * run + l) + 2 * (size_t)f, 2);
        return d * sc * q - dmin * mn;
    }
    case 11: {  /* Q3_K: 32 bytes of high bits (value e: byte e % 32, bit e / 32; clear means
                   minus 4) | 64 bytes of low 2 bits as Q2_K | 12 bytes of 6-bit scales | d.
                   Scale s: low 4 bits are nibble s / 8 of byte s % 8, high 2 bits are bits
                   2 (s / 4) of byte 8 + s % 4; stored with a bias of 32. */
        int s = e / 16, run = e / 128, f = (e % 128) / 32, l = e % 32;
        double d = ref_half(b + 108);
        int scale = (int)(bits_at(b + 96, 8 * (size_t)(s % 8) + 4 * (size_t)(s / 8), 4)
                          + 16 * bits_at(b + 96, 8 * (size_t)(8 + s % 4) + 2 * (size_t)(s / 4), 2)) - 32;
        int q = (int)bits_at(b + 32, 8 * (size_t)(32 * run + l) + 2 * (size_t)f, 2)
                - (bits_at(b, 8 * (size_t)(e % 32) + (size_t)(e / 32), 1) ? 0 : 4);
        return d * scale * q;
    }
    case 12:    /* Q4_K: d | dmin | 12 bytes of 6-bit scales and mins | 128 bytes; sub-block s of
                   32 values; values 64 c + l (l < 32) and 64 c + 32 + l are the low and high
                   nibbles of byte 32 c + l */
    case 13: {  /* Q5_K: as Q4_K with 32 bytes of fifth bits after the scales (value e: byte
                   e % 32, bit e / 32) and the 128 nibble bytes after them */
        int s = e / 32, c = e / 64, l = e % 32;
        const unsigned char *k = b + 4, *qs = b + (type == 12 ? 16 : 48);
        double d = ref_half(b), dmin = ref_half(b + 2);
        unsigned sc, mn, q;
        /* scale and min of sub-block s: s < 4: low 6 bits of bytes s and s + 4; s >= 4: the
           low and high nibbles of byte s + 4 with, above them, the top 2 bits of bytes s - 4
           and s */
        if (s < 4) {
            sc = bits_at(k, 8 * (size_t)s, 6);
            mn = bits_at(k, 8 * (size_t)(s + 4), 6);
        } else {
            sc = bits_at(k, 8 * (size_t)(s + 4), 4) + 16 * bits_at(k, 8 * (size_t)(s - 4) + 6, 2);
            mn = bits_at(k, 8 * (size_t)(s + 4) + 4, 4) + 16 * bits_at(k, 8 * (size_t)s + 6, 2);
        }
        q = bits_at(qs, 8 * (size_t)(32 * c + l) + 4 * (size_t)((e / 32) % 2), 4);
        if (type == 13) q += 16 * bits_at(b + 16, 8 * (size_t)(e % 32) + (size_t)(e / 32), 1);
        return d * sc * q - dmin * mn;
    }
    case 14: {  /* Q6_K: 128 bytes of low 4 bits | 64 bytes of high 2 bits | 16 int8 scales (one
                   per 16 values) | d. In run r (values 128 r ..): value 32 f + l has its low
                   bits in byte 64 r + 32 (f % 2) + l, nibble f / 2, its high bits in byte
                   32 r + l of the second part at bits 2 f; stored with a bias of 32. */
        int run = e / 128, f = (e % 128) / 32, l = e % 32;
        unsigned lo = bits_at(b, 8 * (size_t)(64 * run + 32 * (f % 2) + l) + 4 * (size_t)(f / 2), 4);
        unsigned hi = bits_at(b + 128, 8 * (size_t)(32 * run + l) + 2 * (size_t)f, 2);
        return ref_half(b + 208) * as_int8(b[192 + e / 16]) * ((int)(lo + 16 * hi) - 32);
    }
    case 15:    /* Q8_K: d as f32 | 256 int8 | 16 int16 sums (unused) */
        return ref_f32(b) * as_int8(b[4 + e]);
    }
    return NAN;
}

/* ---- the types, as the test knows them (sizes summed from the fields above) -------------- */

typedef struct {
    const char *name;
    uint32_t id;
    size_t values, bytes;
    int exact;          /* the formula is a single exact product */
    int half_at[2];     /* offsets of the f16 fields, -1 for none */
    int f32_at;         /* offset of an f32 scale, -1 for none */
} dq_type;

static const dq_type types[] = {
    { "q4_0", 2, 32, 2 + 16, 1, { 0, -1 }, -1 },
    { "q4_1", 3, 32, 2 + 2 + 16, 0, { 0, 2 }, -1 },
    { "q5_0", 6, 32, 2 + 4 + 16, 1, { 0, -1 }, -1 },
    { "q5_1", 7, 32, 2 + 2 + 4 + 16, 0, { 0, 2 }, -1 },
    { "q8_0", 8, 32, 2 + 32, 1, { 0, -1 }, -1 },
    { "q2_k", 10, 256, 16 + 64 + 2 + 2, 0, { 80, 82 }, -1 },
    { "q3_k", 11, 256, 32 + 64 + 12 + 2, 1, { 108, -1 }, -1 },
    { "q4_k", 12, 256, 2 + 2 + 12 + 128, 0, { 0, 2 }, -1 },
    { "q5_k", 13, 256, 2 + 2 + 12 + 32 + 128, 0, { 0, 2 }, -1 },
    { "q6_k", 14, 256, 128 + 64 + 16 + 2, 1, { 208, -1 }, -1 },
    { "q8_k", 15, 256, 4 + 256 + 32, 0, { -1, -1 }, 0 },
};
#define N_TYPES (sizeof types / sizeof types[0])

/* ---- random blocks ------------------------------------------------------------------------ */

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t next64(void)        /* xorshift64* */
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dull;
}

/* Random bytes; f16 fields made finite (an all-ones exponent loses its top bit), the f32
   scale given an exponent in 2^-60 .. 2^60 (normal, and its products stay finite). */
static void random_block(const dq_type *t, unsigned char *b)
{
    size_t i;
    int j;
    for (i = 0; i < t->bytes; i++) b[i] = (unsigned char)(next64() >> 56);
    for (j = 0; j < 2; j++)
        if (t->half_at[j] >= 0 && (b[t->half_at[j] + 1] & 0x7c) == 0x7c) b[t->half_at[j] + 1] &= 0xbf;
    if (t->f32_at >= 0) {
        unsigned ex = 67 + (unsigned)(next64() % 121);
        unsigned char *p = b + t->f32_at;
        p[3] = (unsigned char)((p[3] & 0x80) | ex >> 1);
        p[2] = (unsigned char)((p[2] & 0x7f) | (ex & 1) << 7);
    }
}

static int close_enough(double x, float f, int exact)
{
    if (exact) return (double)f == x;
    if (fabs(x) > FLT_MAX) return isinf(f) && (f > 0) == (x > 0);       /* overflowed */
    return fabs((double)f - x) <= ldexp(fabs(x), -24) * (1 + ldexp(1, -20)) || fabs((double)f - x) <= ldexp(1, -150);
}

static void test_naive(void)
{
    enum { MAX_BLOCKS = 7 };
    size_t ti;
    for (ti = 0; ti < N_TYPES; ti++) {
        const dq_type *t = &types[ti];
        int round, bad = 0, checked = 0;
        for (round = 0; round < 60; round++) {
            size_t nb = 1 + (size_t)round % MAX_BLOCKS, n = nb * t->values, i;
            unsigned char *src = (unsigned char *)malloc(nb * t->bytes);
            float *dst = (float *)malloc(n * sizeof *dst);
            int rc;
            for (i = 0; i < nb; i++) random_block(t, src + i * t->bytes);
            rc = ggml_dequant_row(t->id, src, nb * t->bytes, dst, n);
            check(rc == 0, "%s: %zu blocks decode (rc %d)", t->name, nb, rc);
            for (i = 0; rc == 0 && i < n; i++) {
                double x = ref_value(t->id, src + (i / t->values) * t->bytes, (int)(i % t->values));
                checked++;
                if (!close_enough(x, dst[i], t->exact) && bad++ < 5)
                    check(0, "%s: block %zu value %zu: %.9g, the formula says %.17g", t->name,
                          i / t->values, i % t->values, (double)dst[i], x);
            }
            free(src);
            free(dst);
        }
        check(bad == 0, "%s: %d of %d values off the naive reference (%s)", t->name, bad, checked,
              t->exact ? "exact" : "within half an ulp");
    }
    check_group("naive reference");
}

/* ---- ggml's output ------------------------------------------------------------------------ */

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) { fclose(f); return NULL; }
    buf = (unsigned char *)malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void test_fixtures(const char *dir)
{
    size_t ti;
    for (ti = 0; ti < N_TYPES; ti++) {
        const dq_type *t = &types[ti];
        char path[1024];
        unsigned char *blocks, *want;
        size_t nblocks_bytes = 0, want_bytes = 0, n, i;
        float *got;
        int bad = 0, naive_bad = 0, rc;
        snprintf(path, sizeof path, "%s/%s.blocks", dir, t->name);
        blocks = read_file(path, &nblocks_bytes);
        snprintf(path, sizeof path, "%s/%s.f32", dir, t->name);
        want = read_file(path, &want_bytes);
        if (!check(blocks && want, "%s: fixture files %s/%s.{blocks,f32} readable", t->name, dir, t->name) ||
            !check(nblocks_bytes > 0 && nblocks_bytes % t->bytes == 0 && want_bytes == nblocks_bytes / t->bytes * t->values * 4,
                   "%s: fixture sizes %zu and %zu fit blocks of %zu bytes, %zu values", t->name,
                   nblocks_bytes, want_bytes, t->bytes, t->values)) {
            free(blocks);
            free(want);
            continue;
        }
        n = want_bytes / 4;
        got = (float *)malloc(n * sizeof *got);
        rc = ggml_dequant_row(t->id, blocks, nblocks_bytes, got, n);
        check(rc == 0, "%s: fixture decodes (rc %d)", t->name, rc);
        for (i = 0; rc == 0 && i < n; i++) {
            uint32_t w = (uint32_t)want[4 * i] | (uint32_t)want[4 * i + 1] << 8 | (uint32_t)want[4 * i + 2] << 16 |
                         (uint32_t)want[4 * i + 3] << 24, g;
            float wf;
            memcpy(&g, &got[i], 4);
            memcpy(&wf, &w, 4);
            if (g != w && bad++ < 5)
                check(0, "%s: fixture value %zu: %a (0x%08x), ggml made %a (0x%08x)", t->name, i,
                      (double)got[i], (unsigned)g, (double)wf, (unsigned)w);
            /* and the naive reference agrees with ggml too */
            if (!close_enough(ref_value(t->id, blocks + (i / t->values) * t->bytes, (int)(i % t->values)), wf, t->exact) &&
                naive_bad++ < 5)
                check(0, "%s: fixture value %zu: ggml's %a is off the naive reference", t->name, i, (double)wf);
        }
        check(rc == 0 && bad == 0, "%s: %zu values bit for bit as ggml's (%d differ)", t->name, n, bad);
        check(rc == 0 && naive_bad == 0, "%s: ggml's values agree with the naive reference (%d do not)", t->name, naive_bad);
        free(blocks);
        free(want);
        free(got);
    }
    check_group("ggml's output (fixtures)");
}

/* ---- the scale conversion: every one of the 65536 halves as the d of a Q8_0 block whose
   first two quants are 1 and -1 (products that are exact whatever d is) ---------------- */

static void test_halves(void)
{
    unsigned h;
    int bad = 0;
    for (h = 0; h < 65536; h++) {
        unsigned char blk[34];
        float y[32];
        double x;
        int k;
        memset(blk, 0, sizeof blk);
        blk[0] = (unsigned char)h;
        blk[1] = (unsigned char)(h >> 8);
        blk[2] = 1;
        blk[3] = 0xff;
        x = ref_half(blk);
        if (ggml_dequant_row(8, blk, sizeof blk, y, 32) != 0) { bad++; continue; }
        for (k = 0; k < 2; k++) {
            double want = k ? -x : x;
            if (isnan(want) ? !isnan(y[k]) : ((double)y[k] != want || !signbit(y[k]) != !signbit(want))) {
                if (bad++ < 5) check(0, "half 0x%04x times %d: %a, should be %a", h, k ? -1 : 1, (double)y[k], want);
            }
        }
    }
    check(bad == 0, "all 65536 halves as exact scales: signed zeros, subnormals, infinities and NaNs included (%d wrong)", bad);
    check_group("half scales");
}

/* ---- the interface ------------------------------------------------------------------------ */

static void test_interface(void)
{
    static const uint32_t unsupported[] = { 0, 1, 4, 5, 9, 16, 17, 20, 23, 24, 28, 29, 30, 34, 35, 39, 40, 41, 42, 43, 1000, 0xffffffffu };
    unsigned char src[4 * 292];
    float dst[4 * 256];
    size_t i, v, b;
    memset(src, 0, sizeof src);
    for (i = 0; i < N_TYPES; i++) {
        const dq_type *t = &types[i];
        size_t k;
        int rc, untouched;
        v = b = 12345;
        check(ggml_dequant_supported(t->id) == 1, "%s (%u) supported", t->name, (unsigned)t->id);
        rc = ggml_dequant_block_info(t->id, &v, &b);
        check(rc == 0 && v == t->values && b == t->bytes, "%s: block of %zu values in %zu bytes (header: rc %d, %zu, %zu)",
              t->name, t->values, t->bytes, rc, v, b);
        /* the wrong count, the wrong byte count either way: refused, dst untouched */
        for (k = 0; k < 4 * 256; k++) dst[k] = -7.0f;
        rc = ggml_dequant_row(t->id, src, 2 * t->bytes, dst, 2 * t->values - 1);
        check(rc == GGML_DEQUANT_ECOUNT, "%s: %zu values (not whole blocks) refused (rc %d)", t->name, 2 * t->values - 1, rc);
        rc = ggml_dequant_row(t->id, src, 2 * t->bytes, dst, 2 * t->values + 1);
        check(rc == GGML_DEQUANT_ECOUNT, "%s: %zu values refused (rc %d)", t->name, 2 * t->values + 1, rc);
        rc = ggml_dequant_row(t->id, src, 2 * t->bytes - 1, dst, 2 * t->values);
        check(rc == GGML_DEQUANT_ESIZE, "%s: one byte short refused (rc %d)", t->name, rc);
        rc = ggml_dequant_row(t->id, src, 2 * t->bytes + 1, dst, 2 * t->values);
        check(rc == GGML_DEQUANT_ESIZE, "%s: one byte over refused (rc %d)", t->name, rc);
        rc = ggml_dequant_row(t->id, src, 3 * t->bytes, dst, 2 * t->values);
        check(rc == GGML_DEQUANT_ESIZE, "%s: a block too many refused (rc %d)", t->name, rc);
        rc = ggml_dequant_row(t->id, src, 2 * t->bytes, NULL, 2 * t->values);
        check(rc == GGML_DEQUANT_ENULL, "%s: NULL dst refused (rc %d)", t->name, rc);
        rc = ggml_dequant_row(t->id, NULL, 2 * t->bytes, dst, 2 * t->values);
        check(rc == GGML_DEQUANT_ENULL, "%s: NULL src refused (rc %d)", t->name, rc);
        {
            /* a length whose block count times the block size wraps around size_t, landing
               on the byte count given: must be refused, not read */
            size_t blocks = SIZE_MAX / t->values, wrapped = blocks * t->bytes;
            if (blocks > SIZE_MAX / t->bytes) {
                rc = ggml_dequant_row(t->id, src, wrapped, dst, blocks * t->values);
                check(rc == GGML_DEQUANT_ESIZE, "%s: %zu values claimed in %zu bytes (the wrapped product) refused (rc %d)",
                      t->name, blocks * t->values, wrapped, rc);
            }
        }
        for (untouched = 1, k = 0; k < 4 * 256; k++) untouched &= dst[k] == -7.0f;
        check(untouched, "%s: nothing written on refusal", t->name);
        rc = ggml_dequant_row(t->id, NULL, 0, NULL, 0);
        check(rc == 0, "%s: zero values, zero bytes is fine (rc %d)", t->name, rc);
    }
    for (i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        uint32_t id = unsupported[i];
        int rc;
        v = b = 12345;
        check(ggml_dequant_supported(id) == 0, "type %u not supported", (unsigned)id);
        rc = ggml_dequant_block_info(id, &v, &b);
        check(rc != 0 && v == 12345 && b == 12345, "type %u: no block info (rc %d)", (unsigned)id, rc);
        rc = ggml_dequant_row(id, src, 34, dst, 32);
        check(rc == GGML_DEQUANT_EUNSUPPORTED, "type %u: ggml_dequant_row refuses it (rc %d)", (unsigned)id, rc);
    }
    check_group("interface");
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/fixtures/ggml_dequant";
    test_halves();
    test_naive();
    test_fixtures(dir);
    test_interface();
    return check_finish();
}
