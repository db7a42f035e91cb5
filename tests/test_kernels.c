/* Every numeric kernel of mod.h against a naive double-precision version written here:
   mod__dot, mod__matmul (f32 / f16 / bf16 weights, with and without bias, 1 vs 2 threads),
   mod__row, mod__rmsnorm(_rows), mod__rope, mod__softmax_exp, mod__silu, mod__sigmoid,
   mod__f16_to_f32, mod__bf16_to_f32, mod__topk_count, the q8_0 and q4_0 block kernels and
   quantizers, plus the checked-arithmetic helpers
   and the FNV-1a checksum, and the attention cache and scores (mod__kvput, mod__kscores4,
   mod__kscores1), the q8_0 cache's rounding, layout and reading back (mod__kv_q8, mod__kvput8,
   mod__kv_q8_span); the rest of attention is covered by the model tests.

   Tolerances are stated next to each test, relative to the magnitude of the inputs; u is the
   unit roundoff of binary32, 2^-24.

   Build: cc -std=c99 -Wall -Wextra -pedantic -O2 -fopenmp -Itools -Itests \
              -o build/test_kernels tests/test_kernels.c -lm */
#define MOD_IMPLEMENTATION
#include "../mod.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mkmodel.h"

#define U (1.0 / 16777216.0) /* 2^-24 */

/* ---- random numbers -------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double unif(void) { return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0); } /* [0, 1) */
static float sym(void) { return (float)(2.0 * unif() - 1.0); }                          /* [-1, 1) */

static void fill(float *v, size_t n, double scale)
{
    size_t i;
    for (i = 0; i < n; i++) v[i] = (float)(scale * sym());
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) { printf("out of memory\n"); exit(2); }
    return p;
}

static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* ---- independent decoders (ldexp based, no bit moving into a float) -------------------- */

static double ref_f16(uint16_t h)
{
    int sign = (h >> 15) & 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v;
    if (e == 0) v = ldexp((double)m, -24);               /* subnormal: m * 2^-14 * 2^-10 */
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexp((double)(1024 + m), e - 25);          /* (1 + m/1024) * 2^(e-15) */
    return sign ? -v : v;
}

static double ref_bf16(uint16_t h)
{
    int sign = (h >> 15) & 1, e = (h >> 7) & 0xff, m = h & 0x7f;
    double v;
    if (e == 0) v = ldexp((double)m, -133);              /* m * 2^-126 * 2^-7 */
    else if (e == 255) v = m ? NAN : INFINITY;
    else v = ldexp((double)(128 + m), e - 134);          /* (1 + m/128) * 2^(e-127) */
    return sign ? -v : v;
}

/* ---- number formats ------------------------------------------------------------------- */

static void test_f16(void)
{
    uint32_t h;
    for (h = 0; h < 65536; h++) {
        float got = mod__f16_to_f32((uint16_t)h);
        double want = ref_f16((uint16_t)h);
        if (want != want) {
            /* NaN stays NaN, keeps its sign and its payload in the top mantissa bits */
            int ok = got != got && (fbits(got) >> 31) == (h >> 15) && ((fbits(got) >> 13) & 0x3ff) == (h & 0x3ff);
            check(ok, "f16 0x%04x: got 0x%08x, want a NaN with the same sign and payload", (unsigned)h, (unsigned)fbits(got));
        } else {
            /* exact, including the sign of zero */
            float wf = (float)want;
            check(fbits(got) == fbits(wf), "f16 0x%04x: got %.9g (0x%08x), want %.9g (0x%08x)", (unsigned)h,
                  (double)got, (unsigned)fbits(got), want, (unsigned)fbits(wf));
        }
    }
    check(mod__f16_to_f32(0x7c00) == INFINITY && mod__f16_to_f32(0xfc00) == -INFINITY, "f16 infinities");
    check(mod__f16_to_f32(0x7bff) == 65504.0f && mod__f16_to_f32(0x0001) == 5.9604644775390625e-8f &&
              mod__f16_to_f32(0x3c00) == 1.0f && mod__f16_to_f32(0xc000) == -2.0f,
          "f16 hand-checked values (65504, 2^-24, 1, -2)");
    check_group("f16 -> f32 (all 65536)");
}

static void test_bf16(void)
{
    uint32_t h;
    for (h = 0; h < 65536; h++) {
        float got = mod__bf16_to_f32((uint16_t)h);
        double want = ref_bf16((uint16_t)h);
        if (want != want) {
            check(got != got && (fbits(got) >> 31) == (h >> 15), "bf16 0x%04x: got 0x%08x, want NaN", (unsigned)h, (unsigned)fbits(got));
        } else {
            float wf = (float)want;
            check(fbits(got) == fbits(wf), "bf16 0x%04x: got %.9g, want %.9g", (unsigned)h, (double)got, want);
        }
    }
    check(mod__bf16_to_f32(0x3f80) == 1.0f && mod__bf16_to_f32(0xc040) == -3.0f && mod__bf16_to_f32(0x7f80) == INFINITY,
          "bf16 hand-checked values (1, -3, inf)");
    check_group("bf16 -> f32 (all 65536)");
}

/* ---- dot product ------------------------------------------------------------------------ */

/* Tolerance: the worst-case error of the library's order (8 lanes of about n/8 terms, a
   3-level combine, up to 7 tail terms, each product rounded once) is below
   (n/8 + 12) u sum|a_i b_i|; we also never allow more than 1e-5 sum|a_i b_i|. */
static double dot_tol(int n, double sabs)
{
    double t = ((double)n / 8.0 + 12.0) * U * sabs * 1.01;
    return t < 1e-5 * sabs ? t : 1e-5 * sabs;
}

static void test_dot(void)
{
    static const int big[] = { 127, 128, 129, 255, 1000, 4096, 4103, 65537, 1 << 20 };
    static const double scales[] = { 1.0, 1e-3, 1e3 };
    int n, k, s, trial;
    float *a = (float *)xmalloc(sizeof(float) * (1 << 20)), *b = (float *)xmalloc(sizeof(float) * (1 << 20));
    for (k = 0; k <= 70 + (int)(sizeof big / sizeof big[0]); k++) {
        n = k <= 70 ? k : big[k - 71];
        for (s = 0; s < 3; s++)
            for (trial = 0; trial < (n > 10000 ? 1 : 3); trial++) {
                double ref = 0.0, sabs = 0.0;
                float got;
                int i;
                fill(a, (size_t)n, scales[s]);
                fill(b, (size_t)n, 1.0);
                for (i = 0; i < n; i++) {
                    ref += (double)a[i] * (double)b[i];
                    sabs += fabs((double)a[i] * (double)b[i]);
                }
                got = mod__dot(a, b, n);
                if (n == 0) check(got == 0.0f && !signbit(got), "dot of length 0 is %g, want +0", (double)got);
                else check(fabs((double)got - ref) <= dot_tol(n, sabs), "dot n=%d scale %g: got %.9g, want %.12g (|diff| %.3g > tol %.3g)", n,
                           scales[s], (double)got, ref, fabs((double)got - ref), dot_tol(n, sabs));
                check(fbits(got) == fbits(mod__dot(b, a, n)), "dot n=%d is not symmetric in its arguments", n);
            }
    }
    /* small integers: every partial sum is an exact float, so the result is exact */
    for (n = 0; n <= 4096; n += (n < 70 ? 1 : 401)) {
        double ref = 0.0;
        int i;
        for (i = 0; i < n; i++) {
            a[i] = (float)((int)(rnd() % 17) - 8);
            b[i] = (float)((int)(rnd() % 17) - 8);
            ref += (double)a[i] * b[i];
        }
        check((double)mod__dot(a, b, n) == ref, "dot of small integers n=%d: got %.9g, want %.9g exactly", n, (double)mod__dot(a, b, n), ref);
    }
    /* one large term among small ones: no cancellation trouble hidden by the tolerance */
    for (n = 1; n <= 70; n++) {
        int i, at = (int)(rnd() % (uint64_t)n);
        double ref = 0.0, sabs = 0.0;
        for (i = 0; i < n; i++) { a[i] = 1e-4f * sym(); b[i] = sym(); }
        a[at] = 1000.0f;
        b[at] = 0.5f;
        for (i = 0; i < n; i++) { ref += (double)a[i] * b[i]; sabs += fabs((double)a[i] * b[i]); }
        check(fabs((double)mod__dot(a, b, n) - ref) <= dot_tol(n, sabs), "dot n=%d with one dominant term", n);
    }
#ifdef MOD__VL
    /* longer than MOD__DOT_CHUNK: the chunks' dot products added in order */
    {
        static const int lens[] = { 1025, 2048, 2100, 4103 };
        for (k = 0; k < 4; k++) {
            float want;
            int c;
            n = lens[k];
            fill(a, (size_t)n, 1.0);
            fill(b, (size_t)n, 1.0);
            want = mod__dot(a, b, MOD__DOT_CHUNK);
            for (c = MOD__DOT_CHUNK; c < n; c += MOD__DOT_CHUNK) want += mod__dot(a + c, b + c, n - c < MOD__DOT_CHUNK ? n - c : MOD__DOT_CHUNK);
            check(fbits(mod__dot(a, b, n)) == fbits(want), "dot n=%d is not the sum of its chunks in order", n);
        }
    }
#endif
    free(a);
    free(b);
    check_group("mod__dot");
}

/* ---- attention scores from the key cache --------------------------------------------------- */

/* Keys and values go into the cache with mod__kvput; on the vector paths the cache holds each
   kv head's keys in blocks of MOD__KB positions transposed and its values as rows, and
   mod__kscores4 / mod__kscores1 take whole blocks: every score must be exactly the fused
   multiply-adds q[0] k[0], q[1] k[1], ... in dimension order from zero (fmaf here), for each
   query of a group of four and for one query alike, whatever the head size, the head and
   where the keys were written from; every value must land in its head's row. */
static void test_key_scores(void)
{
#if MOD__KB > 1
    static const int hds[] = { 1, 3, 8, 16, 64, 80, 130 }, lens[] = { 1, 5, 16, 17, 33, 100 };
    int a, b, g, h, j, t;
    for (a = 0; a < (int)(sizeof hds / sizeof hds[0]); a++)
        for (b = 0; b < (int)(sizeof lens / sizeof lens[0]); b++) {
            const int hd = hds[a], T = lens[b], heads = 2, kvd = heads * hd, nb = (T + MOD__KB - 1) / MOD__KB;
            const size_t stride = mod__kb_round((size_t)T) + MOD__KB; /* room to see a block too many */
            const size_t cap = mod__kb_round((size_t)T);
            float *rows = (float *)xmalloc(sizeof(float) * (size_t)T * kvd), *vrows = (float *)xmalloc(sizeof(float) * (size_t)T * kvd);
            float *cache = (float *)xmalloc(sizeof(float) * cap * kvd), *vcache = (float *)xmalloc(sizeof(float) * cap * kvd);
            float *q = (float *)xmalloc(sizeof(float) * 4 * (size_t)kvd);
            float *four = (float *)xmalloc(sizeof(float) * 4 * stride), *one = (float *)xmalloc(sizeof(float) * stride);
            int exact = 1, same = 1, close = 1, kept = 1, vals = 1, zeroed = 1;
            memset(cache, 0xFF, sizeof(float) * cap * kvd); /* NaNs where nothing was written */
            fill(rows, (size_t)T * kvd, 1.0);
            fill(vrows, (size_t)T * kvd, 1.0);
            fill(q, 4 * (size_t)kvd, 1.0);
            /* written as two calls, tokens [0, T/2) and [T/2, T): the second starts inside a block */
            for (t = 0; t < T; t++)
                mod__kvput(cache, vcache, cap, heads, hd, t, rows + (size_t)t * kvd, vrows + (size_t)t * kvd, t == T / 2 - 1 || t == T - 1);
            for (h = 0; h < heads; h++) {
                const float *kh = cache + (size_t)h * cap * hd;
                /* the last block's positions past T were zeroed after the last token */
                for (g = 0; g < hd; g++)
                    for (t = T; t < (int)cap; t++) zeroed = zeroed && kh[(size_t)(nb - 1) * MOD__KB * hd + (size_t)g * MOD__KB + t % MOD__KB] == 0.0f;
                for (t = 0; t < T; t++)
                    vals = vals && !memcmp(vcache + ((size_t)h * cap + t) * hd, vrows + (size_t)t * kvd + (size_t)h * hd, sizeof(float) * (size_t)hd);
                for (t = 0; t < 4 * (int)stride; t++) four[t] = 12345.0f;
                mod__kscores4(four, stride, q + (size_t)h * hd, (size_t)kvd, kh, (size_t)MOD__KB * hd, nb, hd);
                for (j = 0; j < 4; j++) {
                    const float *qj = q + (size_t)j * kvd + (size_t)h * hd;
                    for (t = 0; t < (int)stride; t++) one[t] = 12345.0f;
                    mod__kscores1(one, qj, kh, (size_t)MOD__KB * hd, nb, hd);
                    for (t = 0; t < T; t++) {
                        const float *k = rows + (size_t)t * kvd + (size_t)h * hd;
                        float want = 0.0f;
                        double ref = 0.0, sabs = 0.0;
                        for (g = 0; g < hd; g++) {
                            want = fmaf(qj[g], k[g], want);
                            ref += (double)qj[g] * k[g];
                            sabs += fabs((double)qj[g] * k[g]);
                        }
                        exact = exact && fbits(one[t]) == fbits(want);
                        same = same && fbits(four[(size_t)j * stride + t]) == fbits(one[t]);
                        close = close && fabs((double)one[t] - ref) <= (hd + 2.0) * U * sabs * 1.01;
                    }
                    /* whole blocks are stored, nothing past them */
                    kept = kept && one[(size_t)nb * MOD__KB] == 12345.0f && four[(size_t)j * stride + (size_t)nb * MOD__KB] == 12345.0f;
                }
            }
            check(exact, "key scores hd=%d T=%d: not the fused products in dimension order", hd, T);
            check(same, "key scores hd=%d T=%d: four queries at once differ from one at a time", hd, T);
            check(close, "key scores hd=%d T=%d: too far from the double-precision dot products", hd, T);
            check(kept, "key scores hd=%d T=%d: wrote past the last key block", hd, T);
            check(vals, "value cache hd=%d T=%d: a value row is not where its head's rows are", hd, T);
            check(zeroed, "key cache hd=%d T=%d: the last block's unwritten positions are not zero", hd, T);
            free(rows); free(vrows); free(cache); free(vcache); free(q); free(four); free(one);
        }
#else
    printf("   (this path keeps keys as plain rows and scores them with mod__dot: nothing to check here)\n");
#endif
    check_group("attention key scores");
}

/* ---- the q8_0 KV cache ------------------------------------------------------------------- */

/* One block of a q8_0 cache by the rule of docs/MODEL.md, in double: the scale's f16 bits
   (mkmodel's f32 -> f16 rounding of amax / 127), and each value's int8. */
static uint16_t q8_ref_block(const float *x, int n, int *q)
{
    double amax = 0.0, s;
    uint16_t h;
    int j;
    for (j = 0; j < n; j++) if (fabs((double)x[j]) > amax) amax = fabs((double)x[j]);
    h = amax / 127.0 >= 65504.0 ? (uint16_t)0x7bff : mkm_f32_to_f16((float)(amax / 127.0));
    s = ref_f16(h);
    for (j = 0; j < n; j++) {
        double v = s > 0 ? (double)x[j] / s : 0.0;
        if (v != v) { q[j] = 0; continue; }
        v = v < -127.0 ? -127.0 : v > 127.0 ? 127.0 : v;
        q[j] = (int)(v < 0 ? -floor(-v + 0.5) : floor(v + 0.5));
    }
    return h;
}

/* The block rule on edge cases, worked by hand; then whole caches written token by token with
   mod__kvput8 (in two calls, so the second starts inside a key block) and read back with
   mod__kv_q8_span, for head sizes with whole, short and no whole blocks: every stored scale
   and int8 as the rule in double gives it, every value read back exactly scale x int8, keys in
   the f32 cache's layout (key blocks transposed where MOD__KB > 1) with the unwritten rest of
   the last key block zero, values as rows. */
static void test_kv_q8_cache(void)
{
    static const int hds[] = { 8, 32, 40, 64, 72, 130 }, lens[] = { 1, 5, 17, 33, 100 };
    int a, b, g, t, j;
    {   /* edge cases */
        float x[32];
        signed char q[32];
        uint16_t sc;
        for (j = 0; j < 32; j++) x[j] = 0.0f;
        mod__kv_q8(q, 1, &sc, x, 32);
        check(sc == 0 && q[0] == 0 && q[31] == 0, "an all-zero block: scale 0, values 0");
        x[0] = 127.0f; x[1] = 2.5f; x[2] = -2.5f; x[3] = 0.49999997f; x[4] = -126.5f; x[5] = 1.5f;
        mod__kv_q8(q, 1, &sc, x, 6);
        /* amax 127: scale exactly 1 (0x3c00); halves away from zero */
        check(sc == 0x3c00 && q[0] == 127 && q[1] == 3 && q[2] == -3 && q[3] == 0 && q[4] == -127 && q[5] == 2,
              "scale 1: 127 3 -3 0 -127 2 (got 0x%04x: %d %d %d %d %d %d)", sc, q[0], q[1], q[2], q[3], q[4], q[5]);
        x[0] = 1e9f; x[1] = -1e9f; x[2] = 65504.0f;
        mod__kv_q8(q, 1, &sc, x, 3);
        check(sc == 0x7bff && q[0] == 127 && q[1] == -127 && q[2] == 1, "past the f16 range: scale 65504, values clamped");
        x[0] = 1.0f; x[1] = (float)NAN; x[2] = -0.5f;
        mod__kv_q8(q, 1, &sc, x, 3);
        check(q[0] == 127 && q[1] == 0 && q[2] == -64, "a NaN is ignored by amax and stored as 0 (%d %d %d)", q[0], q[1], q[2]);
        x[0] = 1e-9f; x[1] = -3e-10f;
        mod__kv_q8(q, 1, &sc, x, 2);
        check(sc == 0 && q[0] == 0 && q[1] == 0, "amax / 127 below the f16 range: scale 0, values 0");
    }
    {   /* whole blocks (the vector path where the backend has one): halves and near-halves,
           NaN, infinities and -0, as rows and written 3 apart as key blocks are */
        static const float edge[] = { 127.0f, 2.5f, -2.5f, 0.49999997f, -126.5f, 1.5f, -0.5f, 0.5f, -0.0f, 126.5f,
                                      -1.4999999f, 3.5f, -3.5f, 0.50000006f, -0.50000006f, 64.5f, -64.5f, 100.25f };
        float x[32];
        signed char q[3 * 32];
        int qr[32], kind, ok = 1;
        for (kind = 0; kind < 6; kind++) {
            uint16_t sc, h;
            for (j = 0; j < 32; j++)
                x[j] = j < (int)(sizeof edge / sizeof edge[0]) ? edge[j] : (float)(j * 7 % 23) * 0.75f - 8.25f;
            if (kind == 1) x[20] = (float)NAN, x[0] = -127.0f;        /* a NaN, amax at a negative value */
            if (kind == 2) x[31] = (float)INFINITY;                  /* scale 65504, the rest near 0 */
            if (kind == 3) x[7] = -(float)INFINITY, x[8] = (float)NAN;
            if (kind == 4) for (j = 0; j < 32; j++) x[j] = (float)NAN; /* no maximum: scale 0 */
            if (kind == 5) for (j = 0; j < 32; j++) x[j] *= 3.0e-3f; /* a scale that is not a power of 2 */
            h = q8_ref_block(x, 32, qr);
            memset(q, 0x55, sizeof q);
            mod__kv_q8(q, 1, &sc, x, 32);
            for (j = 0; j < 32; j++) ok = ok && q[j] == qr[j];
            ok = ok && sc == h;
            memset(q, 0x55, sizeof q);
            mod__kv_q8(q, 3, &sc, x, 32);
            for (j = 0; j < 3 * 32; j++) ok = ok && (j % 3 ? q[j] == 0x55 : q[j] == qr[j / 3]);
            check(ok, "a whole block, case %d: the scale or an int8 is not the rule's (scale 0x%04x, expected 0x%04x)", kind, sc, h);
        }
    }
    for (a = 0; a < (int)(sizeof hds / sizeof hds[0]); a++)
        for (b = 0; b < (int)(sizeof lens / sizeof lens[0]); b++) {
            const int hd = hds[a], T = lens[b], heads = 2, kvd = heads * hd, nblk = (hd + 31) / 32;
            const size_t cap = mod__kb_round((size_t)T);
            float *rows = (float *)xmalloc(sizeof(float) * (size_t)T * kvd), *vrows = (float *)xmalloc(sizeof(float) * (size_t)T * kvd);
            float *buf = (float *)xmalloc(sizeof(float) * cap * hd);
            int *qr = (int *)xmalloc(sizeof(int) * 32);
            mod__cache c;
            int rule = 1, back = 1, zeroed = 1;
            memset(&c, 0, sizeof c);
            c.cap = (int)cap;
            c.qk = (signed char *)xmalloc(cap * kvd); c.qv = (signed char *)xmalloc(cap * kvd);
            c.sk = (uint16_t *)xmalloc(sizeof(uint16_t) * cap * heads * nblk); c.sv = (uint16_t *)xmalloc(sizeof(uint16_t) * cap * heads * nblk);
            memset(c.qk, 0x55, cap * kvd); memset(c.sk, 0x7e, sizeof(uint16_t) * cap * heads * nblk); /* garbage where nothing was written */
            for (t = 0; t < T * kvd; t++) { /* magnitudes from 1e-3 to 1e3, block by block */
                const double mag = pow(10.0, (double)((t / 32 + t / kvd) % 7) - 3.0);
                rows[t] = (float)(mag * sym()); vrows[t] = (float)(mag * sym());
            }
            for (t = 0; t < T; t++)
                mod__kvput8(&c, cap, heads, hd, t, rows + (size_t)t * kvd, vrows + (size_t)t * kvd, t == T / 2 - 1 || t == T - 1);
            for (g = 0; g < heads; g++) {
                const float *kf = mod__kv_q8_span(&c, 1, g, 0, (int)cap, hd, buf);
                for (t = 0; t < (int)cap; t++)
                    for (j = 0; j < hd; j++) {
                        const float got = kf[(size_t)(t / MOD__KB) * MOD__KB * hd + (size_t)j * MOD__KB + (size_t)(t % MOD__KB)];
                        if (t >= T) { zeroed = zeroed && got == 0.0f; continue; }
                        if (j % 32 == 0) {
                            const int w = hd - j < 32 ? hd - j : 32;
                            const uint16_t h = q8_ref_block(rows + (size_t)t * kvd + (size_t)g * hd + j, w, qr);
                            const size_t kb = ((size_t)g * cap + (size_t)(t / MOD__KB) * MOD__KB) ;
                            int i;
                            rule = rule && c.sk[kb * nblk + (size_t)(j / 32) * MOD__KB + (size_t)(t % MOD__KB)] == h;
                            for (i = 0; i < w; i++) {
                                rule = rule && c.qk[kb * hd + (size_t)(j + i) * MOD__KB + (size_t)(t % MOD__KB)] == qr[i];
                                back = back && (double)kf[(size_t)(t / MOD__KB) * MOD__KB * hd + (size_t)(j + i) * MOD__KB + (size_t)(t % MOD__KB)] == ref_f16(h) * qr[i];
                            }
                        }
                    }
                kf = mod__kv_q8_span(&c, 0, g, 0, T, hd, buf);
                for (t = 0; t < T; t++)
                    for (j = 0; j < hd; j += 32) {
                        const int w = hd - j < 32 ? hd - j : 32;
                        const uint16_t h = q8_ref_block(vrows + (size_t)t * kvd + (size_t)g * hd + j, w, qr);
                        int i;
                        rule = rule && c.sv[((size_t)g * cap + (size_t)t) * nblk + (size_t)(j / 32)] == h;
                        for (i = 0; i < w; i++) {
                            rule = rule && c.qv[((size_t)g * cap + (size_t)t) * hd + (size_t)(j + i)] == qr[i];
                            back = back && (double)kf[(size_t)t * hd + (size_t)(j + i)] == ref_f16(h) * qr[i];
                        }
                    }
            }
            check(rule, "q8_0 cache hd=%d T=%d: a stored scale or int8 is not the rule's", hd, T);
            check(back, "q8_0 cache hd=%d T=%d: a value read back is not scale x int8", hd, T);
            check(zeroed, "q8_0 cache hd=%d T=%d: the last key block's unwritten positions do not read as 0", hd, T);
            free(rows); free(vrows); free(buf); free(qr); free(c.qk); free(c.qv); free(c.sk); free(c.sv);
        }
    check_group("q8_0 KV cache");
}

/* ---- the f16 KV cache's writer ----------------------------------------------------------- */

/* mod__f16_store (vectors where the backend has them) against mod__f32_to_f16 for a million
   bit patterns spread over all of f32 and the edges (ties, the largest f16 and past it,
   subnormals, infinities, quiet and signalling NaNs with payloads), in rows of odd lengths,
   writing nothing past the prefix it reports; then whole caches by mod__kvput16 (head sizes
   with a partial stage and a partial vector): every key and value where the layout puts it,
   the value's f16 bits, and the last key block's rest zero. */
static void test_kv_f16_cache(void)
{
    static const uint32_t edge[] = { 0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x33000000u, 0x33000001u,
                                     0x337fffffu, 0x38800000u, 0x387fe000u, 0x387ff000u, 0x3f801000u, 0x3f803000u,
                                     0x477fe000u, 0x477fefffu, 0x477ff000u, 0x7f7fffffu, 0x7f800000u, 0xff800000u,
                                     0x7f800001u, 0x7fa00000u, 0x7fc00000u, 0xffc00001u, 0x7fffffffu, 0xff801234u };
    enum { N = 1 << 20, W = 37 };
    uint32_t *bits = (uint32_t *)xmalloc(sizeof(uint32_t) * N);
    uint16_t out[W + 8];
    int i, j, bad = 0, over = 0;
    for (i = 0; i < N; i++) bits[i] = i < (int)(sizeof edge / sizeof edge[0]) ? edge[i] : (uint32_t)rnd();
    for (i = 0; i + W <= N; i += W) {
        float x[W];
        size_t k;
        memcpy(x, bits + i, sizeof x);
        for (j = 0; j < W + 8; j++) out[j] = 0xabcd;
        k = mod__f16_store(out, x, W);
        for (j = (int)k; j < W + 8; j++) over += out[j] != 0xabcd;
        for (j = (int)k; j < W; j++) out[j] = mod__f32_to_f16(x[j]);
        for (j = 0; j < W; j++) bad += out[j] != mod__f32_to_f16(x[j]);
    }
    check(bad == 0, "mod__f16_store: %d of %d values differ from mod__f32_to_f16", bad, N / W * W);
    check(over == 0, "mod__f16_store: wrote past the prefix it reports (%d)", over);
    free(bits);
    {
        static const int hds[] = { 8, 64, 72, 130 };
        int a, g, t, d;
        for (a = 0; a < 4; a++) {
            const int hd = hds[a], heads = 2, T = 21, kvd = heads * hd;
            const size_t cap = mod__kb_round((size_t)T);
            float *rows = (float *)xmalloc(sizeof(float) * (size_t)T * kvd), *vrows = (float *)xmalloc(sizeof(float) * (size_t)T * kvd);
            uint16_t *k = (uint16_t *)xmalloc(sizeof(uint16_t) * cap * kvd), *v = (uint16_t *)xmalloc(sizeof(uint16_t) * cap * kvd);
            int place = 1, zeroed = 1;
            fill(rows, (size_t)T * kvd, 3.0); fill(vrows, (size_t)T * kvd, 3.0);
            memset(k, 0x55, sizeof(uint16_t) * cap * kvd);
            for (t = 0; t < T; t++) mod__kvput16(k, v, cap, heads, hd, t, rows + (size_t)t * kvd, vrows + (size_t)t * kvd, t == T - 1);
            for (g = 0; g < heads; g++)
                for (t = 0; t < (int)cap; t++)
                    for (d = 0; d < hd; d++) {
                        const uint16_t got = k[(size_t)g * cap * hd + (size_t)(t / MOD__KB) * MOD__KB * hd + (size_t)d * MOD__KB + (size_t)(t % MOD__KB)];
                        if (t >= T) { zeroed = zeroed && got == 0; continue; }
                        place = place && got == mod__f32_to_f16(rows[(size_t)t * kvd + (size_t)g * hd + d]) &&
                                v[((size_t)g * cap + (size_t)t) * hd + d] == mod__f32_to_f16(vrows[(size_t)t * kvd + (size_t)g * hd + d]);
                    }
            check(place, "f16 cache hd=%d: a key or value is not its f16 where the layout puts it", hd);
            check(zeroed, "f16 cache hd=%d: the last key block's unwritten positions are not 0", hd);
            free(rows); free(vrows); free(k); free(v);
        }
    }
    check_group("f16 KV cache");
}

/* ---- matmul ----------------------------------------------------------------------------- */

typedef struct wmat {
    mod__tensor t;
    void *data;
    double *dec; /* decoded weights, [rows, cols] */
} wmat;

static void wmat_make(wmat *w, int dtype, int rows, int cols, double scale)
{
    size_t n = (size_t)rows * (size_t)cols, i;
    w->dec = (double *)xmalloc(sizeof(double) * n);
    w->data = xmalloc(n * (dtype == MOD_DTYPE_F32 ? 4 : 2));
    for (i = 0; i < n; i++) {
        float f = (float)(scale * sym());
        if (dtype == MOD_DTYPE_F32) {
            ((float *)w->data)[i] = f;
            w->dec[i] = f;
        } else {
            uint16_t h = dtype == MOD_DTYPE_F16 ? mkm_f32_to_f16(f) : mkm_f32_to_bf16(f);
            ((uint16_t *)w->data)[i] = h;
            w->dec[i] = dtype == MOD_DTYPE_F16 ? ref_f16(h) : ref_bf16(h);
        }
    }
    memset(&w->t, 0, sizeof w->t);
    w->t.data = w->data;
    w->t.dtype = dtype;
    w->t.rows = rows;
    w->t.cols = cols;
}

static void wmat_free(wmat *w)
{
    free(w->data);
    free(w->dec);
}

static mod_session *make_session(mod_model **model, unsigned char **file, int threads)
{
    mkm_opts o;
    size_t size;
    mod_session *s = NULL;
    mod_session_desc sd;
    mod_error err;
    mkm_defaults(&o);
    o.dim = 16;
    o.n_layers = 1;
    o.n_heads = 2;
    o.n_kv_heads = 1;
    o.hidden_dim = 2112; /* the session's scratch is sized for rows of up to 2112 floats */
    o.routed[0] = 0;
    o.rope_theta = 500000.0f;
    if (mkm_build(&o, file, &size) != 0 || mod_model_load_memory(model, *file, size, NULL, &err) != MOD_OK) {
        printf("test setup: cannot build or load the tiny model\n");
        exit(2);
    }
    memset(&sd, 0, sizeof sd);
    sd.max_tokens = 32; /* room for the activations of the largest batch tested (17 x 2112) */
    sd.threads = threads;
    if (mod_session_create(&s, *model, &sd, NULL) != MOD_OK) {
        printf("test setup: cannot create a session\n");
        exit(2);
    }
    return s;
}

/* Tolerance of y = x . w + b: the dot bound over cols terms, plus one rounding for the bias,
   relative to sum|x_i w_i| + |b|. */
static void test_matmul(void)
{
    static const int shapes[][2] = { { 1, 1 }, { 1, 2 }, { 3, 7 }, { 16, 33 }, { 33, 31 }, { 64, 65 }, { 7, 129 },
                                     { 5, 255 }, { 128, 256 }, { 300, 150 }, { 1000, 17 }, { 2, 256 },
                                     /* rows of more than one 1024-column chunk (MOD__DOT_CHUNK) */
                                     { 13, 1030 }, { 7, 2100 } };
    static const int ns[] = { 1, 3, 17 };
    static const char *const dn[] = { "f32", "f16", "bf16" };
    unsigned char *f1, *f2;
    mod_model *m1, *m2;
    mod_session *s1 = make_session(&m1, &f1, 1), *s2 = make_session(&m2, &f2, 2);
    int si, dt, bi, ni, bad_threads = 0, bad_batch = 0, combos = 0;
#ifdef MOD__OPENMP
    check(s1->wrow_len >= 256 && s2->threads == 2, "session scratch: wrow_len %d, threads %d", s1->wrow_len, s2->threads);
#else
    check(s1->wrow_len >= 256 && s2->threads == 1, "session scratch: wrow_len %d, threads %d", s1->wrow_len, s2->threads);
#endif
    for (si = 0; si < (int)(sizeof shapes / sizeof shapes[0]); si++)
        for (dt = 0; dt < 3; dt++)
            for (bi = 0; bi < 2; bi++) {
                const int rows = shapes[si][0], cols = shapes[si][1];
                wmat w;
                float *bias = (float *)xmalloc(sizeof(float) * (size_t)rows);
                mod__tensor bt;
                wmat_make(&w, dt, rows, cols, 1.0 / sqrt((double)cols));
                fill(bias, (size_t)rows, 0.5);
                memset(&bt, 0, sizeof bt);
                bt.data = bias;
                bt.dtype = MOD_DTYPE_F32;
                bt.rows = 1;
                bt.cols = rows;
                for (ni = 0; ni < 3; ni++) {
                    const int n = ns[ni];
                    float *x = (float *)xmalloc(sizeof(float) * (size_t)n * cols);
                    float *y1 = (float *)xmalloc(sizeof(float) * (size_t)n * rows);
                    float *y2 = (float *)xmalloc(sizeof(float) * (size_t)n * rows);
                    float *y3 = (float *)xmalloc(sizeof(float) * (size_t)rows);
                    int t, o, worst_o = 0, worst_t = 0;
                    double worst = 0.0, worst_tol = 0.0, worst_ref = 0.0, worst_ratio = 0.0;
                    fill(x, (size_t)n * cols, ni == 2 ? 100.0 : 1.0);
                    mod__matmul(s1, y1, x, n, &w.t, bi ? &bt : NULL);
                    mod__matmul(s2, y2, x, n, &w.t, bi ? &bt : NULL);
                    combos++;
                    if (memcmp(y1, y2, sizeof(float) * (size_t)n * rows) != 0) bad_threads++;
                    check(memcmp(y1, y2, sizeof(float) * (size_t)n * rows) == 0,
                          "matmul %s %dx%d n=%d bias %d: 1 and 2 threads differ", dn[dt], rows, cols, n, bi);
                    for (t = 0; t < n; t++)
                        for (o = 0; o < rows; o++) {
                            double ref = bi ? (double)bias[o] : 0.0, sabs = bi ? fabs((double)bias[o]) : 0.0, tol, e;
                            int i;
                            for (i = 0; i < cols; i++) {
                                double p = (double)x[(size_t)t * cols + i] * w.dec[(size_t)o * cols + i];
                                ref += p;
                                sabs += fabs(p);
                            }
                            tol = dot_tol(cols, sabs) + U * sabs + 1e-300;
                            e = fabs((double)y1[(size_t)t * rows + o] - ref);
                            if (!(e / tol <= worst_ratio)) { /* also catches NaN */
                                worst_ratio = e / tol; worst = e; worst_tol = tol; worst_o = o; worst_t = t; worst_ref = ref;
                            }
                        }
                    check(worst_ratio <= 1.0, "matmul %s %dx%d n=%d bias %d: y[%d][%d] = %.9g, want %.12g (|diff| %.3g > tol %.3g)",
                          dn[dt], rows, cols, n, bi, worst_t, worst_o, (double)y1[(size_t)worst_t * rows + worst_o],
                          worst_ref, worst, worst_tol);
                    /* a row's result does not depend on the batch it is part of */
                    for (t = 0; t < n; t++) {
                        mod__matmul(s2, y3, x + (size_t)t * cols, 1, &w.t, bi ? &bt : NULL);
                        if (memcmp(y3, y1 + (size_t)t * rows, sizeof(float) * (size_t)rows) != 0) {
                            bad_batch++;
                            check(0, "matmul %s %dx%d bias %d: row %d of a batch of %d differs from the same row alone",
                                  dn[dt], rows, cols, bi, t, n);
                            break;
                        }
                    }
                    free(x); free(y1); free(y2); free(y3);
                }
                free(bias);
                wmat_free(&w);
            }
    printf("   matmul: %d combinations, %d differ between 1 and 2 threads, %d batch-dependent\n", combos, bad_threads, bad_batch);
    /* mod__row: the weight row as f32, decoded exactly */
    for (dt = 0; dt < 3; dt++) {
        wmat w;
        float buf[256];
        const float *r;
        int i, row, ok = 1;
        wmat_make(&w, dt, 9, 203, 3.0);
        for (row = 0; row < 9; row++) {
            r = mod__row(&w.t, row, buf);
            for (i = 0; i < 203; i++) ok &= fbits(r[i]) == fbits((float)w.dec[(size_t)row * 203 + i]);
            if (dt == MOD_DTYPE_F32) ok &= r == (const float *)w.data + (size_t)row * 203;
        }
        check(ok, "mod__row %s: rows are not the exact decoded weights%s", dn[dt], dt == 0 ? " (or f32 is copied)" : "");
        wmat_free(&w);
    }
    mod_session_free(s1);
    mod_session_free(s2);
    mod_model_free(m1);
    mod_model_free(m2);
    free(f1);
    free(f2);
    check_group("mod__matmul / mod__row");
}

/* A group of products sharing their input (q, k and v; gate and up) is one parallel loop over
   all their row blocks: each product must come out bit for bit as when computed alone, on one
   thread or two, whatever its dtype, also when the group's dtypes differ. */
static void quant_weights(unsigned char *wq, int rows, int nb, int block_bytes)
{
    int k, r;
    for (k = 0; k < rows * nb * block_bytes; k++) wq[k] = (unsigned char)rnd();
    for (r = 0; r < rows * nb; r++) {
        uint16_t h = mkm_f32_to_f16((float)(0.01 * unif()));
        wq[block_bytes * r] = (unsigned char)h;
        wq[block_bytes * r + 1] = (unsigned char)(h >> 8);
    }
}

static void test_matmul_groups(void)
{
    static const int rows[3] = { 13, 37, 6 }, colss[] = { 96, 2080 }, ns[] = { 1, 5, 17 };
    /* dtypes of the three products; -1 is q8_0, -2 q4_0 */
    static const int kinds[][3] = { { 0, 0, 0 }, { 1, 1, 1 }, { 2, 2, 2 }, { -1, -1, -1 }, { -2, -2, -2 },
                                    { 0, 1, 0 }, { -1, 0, 2 }, { -2, -1, -2 } };
    unsigned char *f1, *f2;
    mod_model *m1, *m2;
    mod_session *s1 = make_session(&m1, &f1, 1), *s2 = make_session(&m2, &f2, 2);
    int ki, ci, ni, j, bad = 0, cases = 0;
    for (ki = 0; ki < (int)(sizeof kinds / sizeof kinds[0]); ki++)
        for (ci = 0; ci < 2; ci++) {
            const int cols = colss[ci];
            wmat w[3];
            unsigned char *q8[3] = { NULL, NULL, NULL };
            float *bias = (float *)xmalloc(sizeof(float) * 37);
            mod__tensor bt;
            fill(bias, 37, 0.5);
            memset(&bt, 0, sizeof bt);
            bt.data = bias; bt.dtype = MOD_DTYPE_F32; bt.rows = 1; bt.cols = 37;
            for (j = 0; j < 3; j++) {
                wmat_make(&w[j], kinds[ki][j] < 0 ? 0 : kinds[ki][j], rows[j], cols, 1.0 / sqrt((double)cols));
                if (kinds[ki][j] < 0) {
                    const int bytes = kinds[ki][j] == -1 ? 34 : 18;
                    q8[j] = (unsigned char *)xmalloc((size_t)rows[j] * (cols / 32) * bytes);
                    quant_weights(q8[j], rows[j], cols / 32, bytes);
                    w[j].t.data = q8[j];
                    w[j].t.dtype = kinds[ki][j] == -1 ? MOD_DTYPE_Q8_0 : MOD_DTYPE_Q4_0;
                }
            }
            bt.cols = rows[1];
            for (ni = 0; ni < 3; ni++) {
                const int n = ns[ni];
                float *x = (float *)xmalloc(sizeof(float) * (size_t)n * cols);
                float *alone[3], *grouped[3];
                mod__mm mm[3];
                int th;
                fill(x, (size_t)n * cols, 1.0);
                for (j = 0; j < 3; j++) {
                    alone[j] = (float *)xmalloc(sizeof(float) * (size_t)n * rows[j]);
                    grouped[j] = (float *)xmalloc(sizeof(float) * (size_t)n * rows[j]);
                    mod__matmul(s1, alone[j], x, n, &w[j].t, j == 1 ? &bt : NULL);
                    mm[j].y = grouped[j];
                    mm[j].w = &w[j].t;
                    mm[j].b = j == 1 ? &bt : NULL;
                }
                for (th = 0; th < 2; th++) {
                    int same = 1;
                    for (j = 0; j < 3; j++) memset(grouped[j], 0xff, sizeof(float) * (size_t)n * rows[j]);
                    mod__matmuls(th ? s2 : s1, x, n, mm, 3);
                    for (j = 0; j < 3; j++) same = same && memcmp(alone[j], grouped[j], sizeof(float) * (size_t)n * rows[j]) == 0;
                    cases++;
                    if (!same) bad++;
                    check(same, "matmul group of dtypes %d,%d,%d (-1 q8_0, -2 q4_0), cols %d, n %d, %d thread(s): differs from each product alone",
                          kinds[ki][0], kinds[ki][1], kinds[ki][2], cols, n, th + 1);
                }
                for (j = 0; j < 3; j++) { free(alone[j]); free(grouped[j]); }
                free(x);
            }
            for (j = 0; j < 3; j++) { wmat_free(&w[j]); free(q8[j]); }
            free(bias);
        }
    printf("   matmul groups: %d cases, %d differ from the products alone\n", cases, bad);
    mod_session_free(s1); mod_model_free(m1); free(f1);
    mod_session_free(s2); mod_model_free(m2); free(f2);
    check_group("matmul groups");
}

/* ---- RMSNorm ----------------------------------------------------------------------------- */

/* Tolerance: |out_i - ref_i| <= (n/2 + 8) u |x_i g_i| / sqrt(mean(x^2) + eps): the sum of
   squares is accumulated in float (relative error up to n u), halved by the square root, plus
   a few single roundings. */
static void test_rmsnorm(void)
{
    static const int ns[] = { 1, 2, 3, 7, 8, 16, 64, 65, 1000, 4096 };
    static const float epss[] = { 1e-5f, 1e-6f, 0.5f };
    static const double scales[] = { 1.0, 1e-3, 1e3, 1e-5 };
    int a, b, c;
    for (a = 0; a < (int)(sizeof ns / sizeof ns[0]); a++)
        for (b = 0; b < 3; b++)
            for (c = 0; c < 4; c++) {
                const int n = ns[a];
                const float eps = epss[b];
                float *x = (float *)xmalloc(sizeof(float) * (size_t)n), *g = (float *)xmalloc(sizeof(float) * (size_t)n);
                float *out = (float *)xmalloc(sizeof(float) * (size_t)n);
                double ss = 0.0, inv, worst = 0.0, wt = 0.0;
                int i, wi = 0, ok = 1;
                fill(x, (size_t)n, scales[c]);
                for (i = 0; i < n; i++) g[i] = (float)(1.0 + 0.5 * sym()) * (i % 5 == 4 ? -1.0f : 1.0f);
                mod__rmsnorm(out, x, g, n, eps, 0);
                for (i = 0; i < n; i++) ss += (double)x[i] * x[i];
                inv = 1.0 / sqrt(ss / n + (double)eps);
                for (i = 0; i < n; i++) {
                    double ref = (double)x[i] * inv * g[i], tol = ((double)n / 2.0 + 8.0) * U * fabs((double)x[i] * g[i]) * inv;
                    double e = fabs((double)out[i] - ref);
                    if (!(e <= tol)) { ok = 0; if (!(e <= worst)) { worst = e; wt = tol; wi = i; } }
                }
                check(ok, "rmsnorm n=%d eps %g scale %g: out[%d] = %.9g, want %.12g (|diff| %.3g > tol %.3g)", n, (double)eps,
                      scales[c], wi, (double)out[wi], (double)x[wi] * inv * g[wi], worst, wt);
                /* in place gives the same bits */
                {
                    float *y = (float *)xmalloc(sizeof(float) * (size_t)n);
                    memcpy(y, x, sizeof(float) * (size_t)n);
                    mod__rmsnorm(y, y, g, n, eps, 0);
                    check(memcmp(y, out, sizeof(float) * (size_t)n) == 0, "rmsnorm n=%d in place differs", n);
                    free(y);
                }
                /* the gain offset (Gemma): gains w - 1 with the offset are gains w, when w - 1
                   and 1 + (w - 1) are exact (w in [1, 2) is) */
                {
                    float *y = (float *)xmalloc(sizeof(float) * (size_t)n), *gm = (float *)xmalloc(sizeof(float) * (size_t)n);
                    float *ref = (float *)xmalloc(sizeof(float) * (size_t)n);
                    for (i = 0; i < n; i++) { ref[i] = 1.0f + 0.5f * (float)fabs(g[i] - 1.0f); gm[i] = ref[i] - 1.0f; }
                    mod__rmsnorm(y, x, gm, n, eps, 1);
                    mod__rmsnorm(out, x, ref, n, eps, 0);
                    check(memcmp(y, out, sizeof(float) * (size_t)n) == 0, "rmsnorm n=%d with gains 1 + w differs from gains 1 + w given", n);
                    free(y); free(gm); free(ref);
                }
                free(x); free(g); free(out);
            }
    {
        /* all-zero input: zero output (eps keeps it finite) */
        float x[32], g[32], out[32];
        int i, ok = 1;
        for (i = 0; i < 32; i++) { x[i] = 0.0f; g[i] = 1.0f + (float)i; }
        mod__rmsnorm(out, x, g, 32, 1e-5f, 0);
        for (i = 0; i < 32; i++) ok &= out[i] == 0.0f;
        check(ok, "rmsnorm of zeros is not zero");
    }
    {
        /* mod__rmsnorm_rows: every row as mod__rmsnorm alone, on two threads when built with
           OpenMP (enough rows to be shared out) */
        static float x[300 * 128], out[300 * 128];
        float one[128], g[128];
        mod__tensor gt;
        mod_session ss;
        int r, ok = 1;
        fill(x, 300 * 128, 2.0);
        fill(g, 128, 1.0);
        memset(&gt, 0, sizeof gt);
        memset(&ss, 0, sizeof ss);
        ss.threads = 2;
        gt.data = g; gt.dtype = MOD_DTYPE_F32; gt.rows = 1; gt.cols = 128;
        mod__rmsnorm_rows(&ss, out, x, 300, &gt, 128, 1e-5f, 0);
        for (r = 0; r < 300; r++) {
            mod__rmsnorm(one, x + 128 * r, g, 128, 1e-5f, 0);
            ok &= memcmp(one, out + 128 * r, sizeof one) == 0;
        }
        check(ok, "mod__rmsnorm_rows differs from mod__rmsnorm per row");
    }
    check_group("mod__rmsnorm");
}

/* ---- RoPE ---------------------------------------------------------------------------------- */

/* Reference: rotate-half RoPE in double, angle = p * theta^(-2i/hd) from pow(). The kernel gets
   frequencies computed here as exp(-(2i/hd) log theta).
   Tolerance: |out - ref| <= 4 u (|a| + |b|) for each pair (a, b): cos and sin rounded to float,
   two products and a sum; the angle itself is exact to about 1e-12. */
static int rope_case(int hd, int heads, double theta, int pos, int check_identity)
{
    double inv[128];
    float v[3 * 256], orig[3 * 256], scratch[256] = { 0 };
    int i, h, half = hd / 2, ok = 1;
    for (i = 0; i < half; i++) inv[i] = exp(-(2.0 * i / hd) * log(theta));
    fill(v, (size_t)heads * hd, 1.0);
    memcpy(orig, v, sizeof(float) * (size_t)heads * hd);
    mod__rope_angles(scratch, scratch + half, hd, pos, inv);
    mod__rope_apply(v, heads, hd, scratch, scratch + half);
    for (h = 0; h < heads; h++)
        for (i = 0; i < half; i++) {
            double a = orig[h * hd + i], b = orig[h * hd + i + half];
            double ang = (double)pos * pow(theta, -2.0 * i / (double)hd);
            double r0 = a * cos(ang) - b * sin(ang), r1 = a * sin(ang) + b * cos(ang);
            double tol = 4.0 * U * (fabs(a) + fabs(b)) + 1e-12;
            double e0 = fabs((double)v[h * hd + i] - r0), e1 = fabs((double)v[h * hd + i + half] - r1);
            if (!(e0 <= tol && e1 <= tol)) {
                if (ok)
                    check(0, "rope hd=%d heads=%d theta=%g pos=%d: pair (%d, %d) of head %d = (%.9g, %.9g), want (%.9g, %.9g)",
                          hd, heads, theta, pos, i, i + half, h, (double)v[h * hd + i], (double)v[h * hd + i + half], r0, r1);
                ok = 0;
            }
        }
    if (check_identity)
        check(memcmp(v, orig, sizeof(float) * (size_t)heads * hd) == 0, "rope at position 0 is not the identity (hd=%d)", hd);
    return ok;
}

static void test_rope(void)
{
    static const int hds[] = { 2, 4, 8, 16, 64, 128, 256 };
    static const double thetas[] = { 10000.0, 500000.0 };
    int a, t, p, heads, all_ok;
    for (t = 0; t < 2; t++) {
        /* every position 0..4096, head size 64, two heads */
        all_ok = 1;
        for (p = 0; p <= 4096; p++) all_ok &= rope_case(64, 2, thetas[t], p, p == 0);
        check(all_ok, "rope theta %g: some positions in 0..4096 fail (see above)", thetas[t]);
        for (a = 0; a < (int)(sizeof hds / sizeof hds[0]); a++)
            for (heads = 1; heads <= 3; heads += 2) {
                static const int ps[] = { 0, 1, 2, 3, 7, 31, 100, 1000, 2047, 4095, 4096, 65535, 1 << 20 };
                int k;
                all_ok = 1;
                for (k = 0; k < (int)(sizeof ps / sizeof ps[0]); k++) all_ok &= rope_case(hds[a], heads, thetas[t], ps[k], ps[k] == 0);
                check(all_ok, "rope theta %g hd %d heads %d", thetas[t], hds[a], heads);
            }
    }
    {
        /* the session's frequencies are theta^(-2i/hd) */
        unsigned char *f;
        mod_model *m;
        mod_session *s = make_session(&m, &f, 1);
        const mod_config *c = mod_model_config(m);
        int i, ok = 1;
        for (i = 0; i < c->head_dim / 2; i++) {
            double want = exp(-(2.0 * i / c->head_dim) * log((double)c->rope_theta));
            ok &= fabs(s->inv_freq[i] - want) <= 1e-13 * want;
        }
        check(ok, "session inv_freq differs from theta^(-2i/hd)");
        mod_session_free(s);
        mod_model_free(m);
        free(f);
    }
    check_group("mod__rope");
}

/* ---- softmax ------------------------------------------------------------------------------- */

/* Reference: exp(x_i - max) / sum in double. Tolerance per element:
   (n + 10 + |x_i - max|) u p_i + 1e-38: the float subtraction x_i - max (relative error u,
   amplified by |x_i - max| through exp), expf, the float sum of n terms, the division; the
   absolute term covers results that underflow float. */
/* softmax as attention takes it: mod__softmax_exp, then each exponential over their sum (in
   attention the division comes after the weighted sum of values, so it is done here in float,
   as there) */
static void softmax(float *x, int n, float scale)
{
    const float sum = mod__softmax_exp(x, n, scale);
    int i;
    for (i = 0; i < n; i++) x[i] /= sum;
}

static int softmax_case(const float *raw, int n, float scale, const char *what)
{
    float *x = (float *)xmalloc(sizeof(float) * (size_t)n), *in = (float *)xmalloc(sizeof(float) * (size_t)n);
    double mx = -INFINITY, sum = 0.0, total = 0.0;
    int i, ok = 1;
    /* the scaling is one float multiplication per input, the same here as in the library */
    for (i = 0; i < n; i++) in[i] = raw[i] * scale;
    memcpy(x, raw, sizeof(float) * (size_t)n);
    softmax(x, n, scale);
    for (i = 0; i < n; i++) if (in[i] > mx) mx = in[i];
    for (i = 0; i < n; i++) sum += exp((double)in[i] - mx);
    for (i = 0; i < n; i++) {
        double d = (double)in[i] - mx;
        double p = exp(d) / sum;
        double tol = ((double)n + 10.0 + (isinf(d) ? 0.0 : fabs(d))) * U * p + 1e-38;
        total += x[i];
        if (!(fabs((double)x[i] - p) <= tol && x[i] >= 0.0f && x[i] <= 1.0f)) {
            if (ok) check(0, "softmax %s n=%d: p[%d] = %.9g, want %.12g", what, n, i, (double)x[i], p);
            ok = 0;
        }
    }
    if (ok && !(fabs(total - 1.0) <= (n + 10.0) * U * 2)) {
        check(0, "softmax %s n=%d: outputs sum to %.12g", what, n, total);
        ok = 0;
    }
    free(x);
    free(in);
    return ok;
}

static void test_softmax(void)
{
    float v[1000];
    int n, k, ok;
    ok = 1;
    for (n = 1; n <= 100; n++)
        for (k = 0; k < 5; k++) {
            fill(v, (size_t)n, 10.0);
            ok &= softmax_case(v, n, 1.0f, "random [-10, 10]");
            ok &= softmax_case(v, n, 0.0883883476f, "random [-10, 10] scaled by 1/sqrt(128)");
        }
    check(ok, "softmax random inputs");
    ok = 1;
    for (n = 1; n <= 200; n += 7) {
        int i;
        for (i = 0; i < n; i++) v[i] = 1000.0f + 30.0f * sym();
        ok &= softmax_case(v, n, 1.0f, "around 1000");
        for (i = 0; i < n; i++) v[i] = -1e4f + 100.0f * sym();
        ok &= softmax_case(v, n, 0.125f, "around -1e4, scaled by 1/8");
        for (i = 0; i < n; i++) v[i] = 1e30f * sym();
        ok &= softmax_case(v, n, 1.0f, "+-1e30");
    }
    check(ok, "softmax large inputs");
    {
        static const float cases[][3] = { { FLT_MAX, FLT_MAX, FLT_MAX }, { FLT_MAX, -FLT_MAX, 0.0f }, { 88.0f, 89.0f, 90.0f },
                                          { -1e30f, 0.0f, 1e30f }, { 0.0f, -200.0f, -87.0f }, { 100.0f, 0.0f, -100.0f } };
        int c;
        for (c = 0; c < 6; c++) check(softmax_case(cases[c], 3, 1.0f, "hand case"), "softmax hand case %d", c);
    }
    for (n = 1; n <= 1000; n += (n < 20 ? 1 : 97)) {
        /* equal inputs: exactly 1/n each (each exp is 1, the sum n is exact) */
        int i, eq = 1;
        float want = 1.0f / (float)n;
        for (i = 0; i < n; i++) v[i] = 3.25f;
        softmax(v, n, 0.125f);
        for (i = 0; i < n; i++) eq &= v[i] == want;
        check(eq, "softmax of %d equal inputs: p[0] = %.9g, want %.9g", n, (double)v[0], (double)want);
        for (i = 0; i < n; i++) v[i] = -1e20f;
        softmax(v, n, 1.0f);
        eq = 1;
        for (i = 0; i < n; i++) eq &= v[i] == want;
        check(eq, "softmax of %d equal inputs -1e20", n);
    }
    v[0] = 5.0f;
    softmax(v, 1, 0.5f);
    check(v[0] == 1.0f, "softmax of one input is %g", (double)v[0]);
    check_group("mod__softmax_exp");
}

/* ---- activations ---------------------------------------------------------------------------- */

/* Reference in double. Tolerance: 6 u |ref| + 1e-36 (expf within about 1 ulp, one addition,
   one division; -x is exact, so there is no amplification). The absolute term: for
   x < -88.72 expf(-x) overflows to inf and both functions return (-)0, where the true values
   are below 3e-37 in magnitude. */
static void test_activations(void)
{
    static const float special[] = { 0.0f, -0.0f, 1e-30f, -1e-30f, FLT_MIN, -FLT_MIN, 1e-40f, 1e30f, -1e30f, FLT_MAX,
                                     -FLT_MAX, 87.0f, -87.0f, 88.7f, -88.7f, 103.0f, -103.0f, 16.6f, -16.6f, 1e-8f };
    int i, ok_sig = 1, ok_silu = 1, count = 0;
    for (i = -200000; i <= 200000 + (int)(sizeof special / sizeof special[0]); i++) {
        float x = i <= 200000 ? (float)i * 5e-4f : special[i - 200001];
        double sg = 1.0 / (1.0 + exp(-(double)x)), sl = (double)x * sg;
        float gs = mod__sigmoid(x), gl = mod__silu(x);
        count++;
        if (!(fabs((double)gs - sg) <= 6.0 * U * fabs(sg) + 1e-36)) {
            if (ok_sig) check(0, "sigmoid(%.9g) = %.9g, want %.12g", (double)x, (double)gs, sg);
            ok_sig = 0;
        }
        if (!(fabs((double)gl - sl) <= 6.0 * U * fabs(sl) + 1e-36)) {
            if (ok_silu) check(0, "silu(%.9g) = %.9g, want %.12g", (double)x, (double)gl, sl);
            ok_silu = 0;
        }
    }
    check(ok_sig, "sigmoid over %d inputs in [-100, 100] and special values", count);
    check(ok_silu, "silu over %d inputs in [-100, 100] and special values", count);
    check(mod__sigmoid(INFINITY) == 1.0f && mod__sigmoid(-INFINITY) == 0.0f, "sigmoid(+-inf) = %g, %g",
          (double)mod__sigmoid(INFINITY), (double)mod__sigmoid(-INFINITY));
    check(mod__silu(INFINITY) == INFINITY, "silu(inf) = %g", (double)mod__silu(INFINITY));
    check(mod__sigmoid(NAN) != mod__sigmoid(NAN) && mod__silu(NAN) != mod__silu(NAN), "NaN in, NaN out");
    check(mod__sigmoid(0.0f) == 0.5f && mod__silu(0.0f) == 0.0f, "sigmoid(0) = 0.5, silu(0) = 0");
    /* symmetry: sigmoid(-x) = 1 - sigmoid(x), silu(x) - silu(-x) = x */
    {
        int ok = 1;
        for (i = 1; i <= 2000; i++) {
            float x = (float)i * 0.01f;
            ok &= fabs((double)mod__sigmoid(-x) - (1.0 - (double)mod__sigmoid(x))) <= 4.0 * U;
            ok &= fabs((double)mod__silu(x) - (double)mod__silu(-x) - x) <= 8.0 * U * x;
        }
        check(ok, "sigmoid / silu symmetries");
    }
    check_group("mod__silu / mod__sigmoid");
}

/* ---- top-k count ------------------------------------------------------------------------------ */

/* MODEL.md: k = min(S, max(1, ceil(c S - 1e-6))), in double, with c the stored float. Computed
   here without ceil: the smallest integer k with k >= c S - 1e-6. */
static int ref_topk(float c, int S)
{
    double x = (double)c * (double)S - 1e-6;
    long k = (long)x; /* truncation toward zero */
    if ((double)k < x) k++;
    if (k < 1) k = 1;
    if (k > S) k = S;
    return (int)k;
}

static void test_topk(void)
{
    static const struct { float c; int S, k; } hand[] = {
        { 0.3f, 10, 3 }, { 0.125f, 8, 1 }, { 0.125f, 1, 1 }, { 1e-9f, 1, 1 }, { 1e-9f, 1000, 1 }, { 0.5f, 7, 4 },
        { 0.2f, 5, 1 }, { 0.7f, 10, 7 }, { 0.1f, 10, 1 }, { 0.6f, 5, 3 }, { 0.125f, 9, 2 }, { 0.25f, 4, 1 },
        { 0.25f, 5, 2 }, { 0.5f, 1, 1 }, { 0.999f, 1000, 1000 } /* the stored float 0.99900001 times 1000 exceeds 999 by 1.3e-5 > 1e-6 */, { 0.3f, 3, 1 }, { 0.9f, 10, 9 }, { 0.125f, 64, 8 },
        { 0.125f, 65, 9 }, { 1.0f, 1, 1 }
    };
    static const int Ss[] = { 1, 2, 3, 7, 10, 100, 4096, 1 << 20, 16777216 };
    int i;
    for (i = 0; i < (int)(sizeof hand / sizeof hand[0]); i++) {
        int got = mod__topk_count(hand[i].c, hand[i].S);
        check(got == hand[i].k, "topk_count(c=%g, S=%d) = %d, want %d", (double)hand[i].c, hand[i].S, got, hand[i].k);
    }
    for (i = 0; i < (int)(sizeof Ss / sizeof Ss[0]); i++) {
        check(mod__topk_count(1.0f, Ss[i]) == Ss[i], "topk_count(1.0, %d) = %d", Ss[i], mod__topk_count(1.0f, Ss[i]));
        check(mod__topk_count(1e-9f, Ss[i]) == 1, "topk_count(1e-9, %d) = %d", Ss[i], mod__topk_count(1e-9f, Ss[i]));
    }
    {
        int ok = 1, shown = 0;
        for (i = 0; i < 200000; i++) {
            float c = (float)(unif() * 0.999999 + 1e-6);
            int S = 1 + (int)(rnd() % (i % 4 == 0 ? 100000u : 64u)), got, want;
            if (i % 7 == 0) c = (float)((1 + rnd() % 16) / 16.0); /* exact binary fractions */
            got = mod__topk_count(c, S);
            want = ref_topk(c, S);
            if (got != want) {
                ok = 0;
                if (shown++ < 5) check(0, "topk_count(c=%.9g, S=%d) = %d, want %d", (double)c, S, got, want);
            }
            if (!(got >= 1 && got <= S)) ok = 0;
        }
        check(ok, "topk_count over 200000 random (c, S)");
    }
    check_group("mod__topk_count");
}

/* ---- helpers: checked arithmetic and the checksum ------------------------------------------- */

static void test_helpers(void)
{
    int ok;
    ok = 1;
    check(mod__mul(0, UINT64_MAX, &ok) == 0 && ok, "mul 0 * max");
    ok = 1;
    check(mod__mul((uint64_t)1 << 32, (uint64_t)1 << 31, &ok) == (uint64_t)1 << 63 && ok, "mul 2^32 * 2^31");
    ok = 1;
    mod__mul((uint64_t)1 << 32, (uint64_t)1 << 32, &ok);
    check(!ok, "mul 2^32 * 2^32 overflows");
    ok = 1;
    mod__mul(UINT64_MAX, 2, &ok);
    check(!ok, "mul max * 2 overflows");
    ok = 1;
    check(mod__add(UINT64_MAX - 1, 1, &ok) == UINT64_MAX && ok, "add max-1 + 1");
    ok = 1;
    mod__add(UINT64_MAX, 1, &ok);
    check(!ok, "add max + 1 overflows");
    ok = 1;
    mod__add(1, UINT64_MAX, &ok);
    check(!ok, "add 1 + max overflows");
    check(mod__in_bounds(0, 10, 10) && mod__in_bounds(10, 0, 10) && !mod__in_bounds(11, 0, 10) && !mod__in_bounds(5, 6, 10) &&
              !mod__in_bounds(UINT64_MAX - 3, 8, 10) && !mod__in_bounds(4, UINT64_MAX, 10),
          "in_bounds boundaries");
    /* FNV-1a 64 test vectors */
    check(mod__fnv1a((const unsigned char *)"", 0) == 0xcbf29ce484222325ull, "fnv1a(\"\")");
    check(mod__fnv1a((const unsigned char *)"a", 1) == 0xaf63dc4c8601ec8cull, "fnv1a(\"a\")");
    check(mod__fnv1a((const unsigned char *)"foobar", 6) == 0x85944171f73967e8ull, "fnv1a(\"foobar\")");
    check_group("arithmetic helpers, fnv1a");
}

/* ---- q8_0 ------------------------------------------------------------------------------ */

/* The scalar quantizer, written out again: every build's mod__quantize_q8 must give these
   bytes exactly (scale as float bits, then round half away from zero, NaN to 0). */
static void quant_q8_scalar(unsigned char *out, const float *x, int cols)
{
    int b, j;
    for (b = 0; b < cols / 32; b++, out += 36) {
        const float *v = x + b * 32;
        float amax = 0.0f, d, id;
        for (j = 0; j < 32; j++) { float a = v[j] < 0 ? -v[j] : v[j]; if (a > amax) amax = a; }
        d = amax / 127.0f;
        id = d > 0.0f ? 1.0f / d : 0.0f;
        memcpy(out, &d, 4);
        for (j = 0; j < 32; j++) {
            float q = v[j] * id;
            q = q < -127.0f ? -127.0f : q > 127.0f ? 127.0f : q;
            out[4 + j] = (unsigned char)(signed char)(q == q ? (int)(q + (q < 0 ? -0.5f : 0.5f)) : 0);
        }
    }
}

static void test_q8_quantize_exact(void)
{
    float x[256];
    unsigned char a[8 * 36], b[8 * 36];
    int trial, j, same = 1;
    for (trial = 0; trial < 2000; trial++) {
        fill(x, 256, trial % 3 ? 5.0 : 1e-30);
        if (trial % 5 == 0) /* amax 127: the scale is 1 and x.5 values are exact ties */
            for (j = 0; j < 256; j++) x[j] = (float)((int)(rnd() % 255) - 127) + (j % 3 ? 0.5f : 0.0f), x[j] = x[j] > 127 ? 127 : x[j];
        if (trial % 7 == 0) x[rnd() % 256] = NAN;
        if (trial % 11 == 0) x[rnd() % 256] = -0.0f;
        if (trial % 13 == 0) for (j = 0; j < 32; j++) x[j] = 0.0f;
        mod__quantize_q8(a, x, 256);
        quant_q8_scalar(b, x, 256);
        same = same && memcmp(a, b, sizeof a) == 0;
    }
    check(same, "q8 activation quantization: the bytes of the scalar rule, ties, NaN, -0 and zero blocks included");
}

/* Activation quantization: each value within half a step of the original; weight-by-
   activation block dot products equal the exact double sum of the integer products scaled by
   both scales, within float accumulation (|diff| <= 1e-5 * sum of |w_i x_i| products). */
static void test_q8(void)
{
    unsigned char *f1, *f2;
    mod_model *m1, *m2;
    mod_session *s1 = make_session(&m1, &f1, 1), *s2 = make_session(&m2, &f2, 2);
    int trial;
    for (trial = 0; trial < 400; trial++) {
        const int cols = 32 * (1 + (int)(rnd() % 8)), nb = cols / 32;
        float x[256], d;
        unsigned char xq[8 * 36], w[8 * 34];
        double exact = 0, mag = 0, got;
        int b, j, ok = 1;
        fill(x, (size_t)cols, trial % 3 == 0 ? 1e-3 : 3.0);
        if (trial % 7 == 0) x[0] = 0;
        mod__quantize_q8(xq, x, cols);
        for (b = 0; b < nb; b++) {
            float amax = 0;
            memcpy(&d, xq + 36 * b, 4);
            for (j = 0; j < 32; j++) amax = fabsf(x[32 * b + j]) > amax ? fabsf(x[32 * b + j]) : amax;
            ok = ok && fabs((double)d - amax / 127.0) <= 1e-6 * amax;
            for (j = 0; j < 32; j++) ok = ok && fabs((double)d * (signed char)xq[36 * b + 4 + j] - x[32 * b + j]) <= 0.5 * d * (1 + 1e-5) + 1e-30;
        }
        check(ok, "q8 activation quantization within half a step (cols %d)", cols);
        for (b = 0; b < nb; b++) {
            uint16_t h = mkm_f32_to_f16((float)(0.001 + 0.05 * unif()));
            double isum = 0, iabs = 0;
            w[34 * b] = (unsigned char)h;
            w[34 * b + 1] = (unsigned char)(h >> 8);
            for (j = 0; j < 32; j++) {
                signed char q = (signed char)((int)(rnd() % 255) - 127);
                w[34 * b + 2 + j] = (unsigned char)q;
                isum += (double)q * (signed char)xq[36 * b + 4 + j];
                iabs += fabs((double)q * (signed char)xq[36 * b + 4 + j]);
            }
            memcpy(&d, xq + 36 * b, 4);
            exact += isum * ref_f16(h) * d;
            mag += iabs * ref_f16(h) * d; /* partial sums may cancel: bound by the absolute products */
        }
        got = mod__int_dot(w, xq, nb, 0);
        check(fabs(got - exact) <= 1e-5 * mag + 1e-30, "q8 block dot: %g vs exact %g (cols %d)", got, exact, cols);
    }
    /* the q8_0 matmul: every element is the block dot, whatever the threads and the batch;
       shapes with whole 4x4 tiles, leftover tokens and rows, and an odd block count */
    for (trial = 0; trial < 3; trial++) {
        const int rows = trial == 0 ? 37 : trial == 1 ? 64 : 13, nb = trial == 1 ? 7 : 8, cols = 32 * nb;
        const int n = trial == 0 ? 4 : trial == 1 ? 7 : 9;
        unsigned char *wq = (unsigned char *)xmalloc((size_t)rows * nb * 34);
        float x[9 * 256], y1[9 * 64], y2[9 * 64], y3[64];
        mod__tensor t;
        int r, k, same = 1, exact = 1;
        for (k = 0; k < rows * nb * 34; k++) wq[k] = (unsigned char)rnd();
        for (r = 0; r < rows * nb; r++) { uint16_t h = mkm_f32_to_f16((float)(0.01 * unif())); wq[34 * r] = (unsigned char)h; wq[34 * r + 1] = (unsigned char)(h >> 8); }
        for (k = 0; k < rows * nb * 34; k += 1) if (k % 34 >= 2 && (signed char)wq[k] == -128) wq[k] = 0x81;
        fill(x, (size_t)n * cols, 2.0);
        memset(&t, 0, sizeof t);
        t.data = wq; t.dtype = MOD_DTYPE_Q8_0; t.rows = rows; t.cols = cols;
        mod__matmul(s1, y1, x, n, &t, NULL);
        mod__matmul(s2, y2, x, n, &t, NULL);
        mod__matmul(s1, y3, x + 2 * cols, 1, &t, NULL);
        for (k = 0; k < n * rows; k++) same = same && fbits(y1[k]) == fbits(y2[k]);
        for (r = 0; r < rows; r++) same = same && fbits(y3[r]) == fbits(y1[2 * rows + r]);
        for (k = 0; k < n; k++) {
            unsigned char xq[8 * 36];
            mod__quantize_q8(xq, x + (size_t)k * cols, cols);
            for (r = 0; r < rows; r++) exact = exact && fbits(y1[k * rows + r]) == fbits(mod__int_dot(wq + (size_t)r * nb * 34, xq, nb, 0));
        }
        check(same, "q8 matmul %dx%d, %d tokens: 1 and 2 threads, and a row alone vs in a batch, bit-identical", rows, cols, n);
        check(exact, "q8 matmul %dx%d, %d tokens: elements are the block dot products", rows, cols, n);
        free(wq);
    }
    mod_session_free(s1); mod_model_free(m1); free(f1);
    mod_session_free(s2); mod_model_free(m2); free(f2);
    check_group("q8_0");
}

/* ---- q4_0 ------------------------------------------------------------------------------ */

/* element j of a q4_0 block as its nibble, read here independently of mod.h */
static int q4_nib(const unsigned char *blk, int j) { return j < 16 ? blk[2 + j] & 15 : blk[2 + j - 16] >> 4; }
static double q4_scale(const unsigned char *blk) { return ref_f16((uint16_t)(blk[0] | blk[1] << 8)); }

/* The quantizer (mkm_q4_block, which mkmodel uses): the element of largest magnitude decodes
   to itself up to the f16 rounding of its scale (exactly when m / 8 is an f16 value), and it
   is nibble 0; every other element within half a step |d| of its value, or, when it lies
   beyond 7.5 steps on the other side (nibble 15 is the last there), within |m| - 7 |d|, about
   one step. */
static void test_q4_quantize(void)
{
    int trial, j, ok_ext = 1, ok_exact = 1, ok_half = 1, ok_clamp = 1, ok_zero = 1, clamped = 0;
    for (trial = 0; trial < 3000; trial++) {
        float v[32];
        unsigned char q[18];
        double d, m = 0;
        int im = 0, grid = trial % 4 == 0;
        fill(v, 32, grid ? 1.0 : trial % 3 == 0 ? 1e-3 : trial % 3 == 1 ? 2.0 : 300.0);
        if (trial % 5 == 0 && !grid) v[rnd() % 32] = -(float)(4.0 * unif() + 1.0); /* a clear negative extreme */
        if (grid) { /* an extreme whose scale is exactly an f16 value */
            const uint16_t h = mkm_f32_to_f16((float)(0.01 + unif()));
            const int at = (int)(rnd() % 32);
            for (j = 0; j < 32; j++) v[j] = (float)(v[j] * ref_f16(h) * 7.9);
            v[at] = (float)((trial % 8 ? -8.0 : 8.0) * ref_f16(h));
        }
        for (j = 0; j < 32; j++) if (fabs((double)v[j]) > fabs(m)) { m = v[j]; im = j; }
        mkm_q4_block(q, v);
        d = q4_scale(q);
        ok_ext = ok_ext && q4_nib(q, im) == 0 && fabs(d * -8.0 - m) <= fabs(m) * ldexp(1.0, -11);
        if (grid) ok_exact = ok_exact && d * -8.0 == m;
        for (j = 0; j < 32; j++) {
            const double deq = d * (q4_nib(q, j) - 8), e = fabs(deq - v[j]);
            /* |m| is at most 8 |d| up to the rounding of d, so this is about one step */
            if (v[j] / d > 7.5) { clamped++; ok_clamp = ok_clamp && q4_nib(q, j) == 15 && e <= fabs(m) - 7 * fabs(d) + 1e-12 * fabs(m); }
            else ok_half = ok_half && e <= fabs(d) * 0.5 * (1 + 1e-9);
        }
    }
    {
        float z[32];
        unsigned char q[18];
        memset(z, 0, sizeof z);
        mkm_q4_block(q, z);
        for (j = 0; j < 18; j++) ok_zero = ok_zero && q[j] == (j < 2 ? 0 : 0x88);
        z[5] = -0.0f;
        mkm_q4_block(q, z);
        ok_zero = ok_zero && q4_scale(q) == 0.0;
        for (j = 0; j < 16; j++) ok_zero = ok_zero && q[2 + j] == 0x88;
    }
    check(ok_ext, "q4 quantizer: the largest-magnitude element is nibble 0 and decodes to itself within the f16 scale rounding");
    check(ok_exact, "q4 quantizer: ... exactly when its eighth is an f16 value");
    check(ok_half, "q4 quantizer: every other element within half a step");
    check(ok_clamp && clamped > 0, "q4 quantizer: elements beyond 7.5 steps opposite the extreme are nibble 15, within a step (%d seen)", clamped);
    check(ok_zero, "q4 quantizer: an all-zero block is scale 0 and nibbles 8");
    {   /* hand-made block: elements -8, -7 .. 7 steps of 0.25 in order, then ties x.5 */
        float v[32];
        unsigned char q[18];
        int ok = 1;
        for (j = 0; j < 32; j++) v[j] = j < 16 ? 0.25f * (float)(j - 8) : 0.25f * ((float)(j - 24) + (j % 2 ? 0.5f : 0.0f));
        v[0] = 2.0f; /* extreme +2: d = -0.25, so v / d = -(v / 0.25) */
        mkm_q4_block(q, v);
        ok = q[0] == 0x00 && q[1] == 0xB4; /* f16 -0.25 */
        for (j = 0; j < 32; j++) {
            const double r = -(double)v[j] / 0.25;
            const int want = (int)(r < 0 ? ceil(r - 0.5) : floor(r + 0.5)) + 8;
            ok = ok && q4_nib(q, j) == (want > 15 ? 15 : want < 0 ? 0 : want);
        }
        check(ok, "q4 quantizer: a hand-made block, ties rounded away from zero, nibble order low j / high j + 16");
    }
    check_group("q4_0 quantizer");
}

/* random q4_0 weights: any nibbles, scales of either sign */
static void q4_random(unsigned char *w, int blocks, double scale)
{
    int b, j;
    for (b = 0; b < blocks; b++) {
        const uint16_t h = mkm_f32_to_f16((float)(scale * sym()));
        w[18 * b] = (unsigned char)h;
        w[18 * b + 1] = (unsigned char)(h >> 8);
        for (j = 0; j < 16; j++) w[18 * b + 2 + j] = (unsigned char)rnd();
    }
}

/* Block dot products against the exact double sum of the integer products times both scales
   (1e-5 of the sum of absolute products, as for q8_0); the matmul against a double-precision
   product of the dequantized weights with the activations as given (the activation
   quantization error bounded by half a step per element) and with the quantized activations;
   every element the block dot whatever the threads, the batch and the tiling; rows as f32. */
static void test_q4(void)
{
    unsigned char *f1, *f2;
    mod_model *m1, *m2;
    mod_session *s1 = make_session(&m1, &f1, 1), *s2 = make_session(&m2, &f2, 2);
    int trial;
    for (trial = 0; trial < 400; trial++) {
        const int cols = 32 * (1 + (int)(rnd() % 8)), nb = cols / 32;
        float x[256], dx;
        unsigned char xq[8 * 36], w[8 * 18];
        double exact = 0, mag = 0, got;
        int b, j;
        fill(x, (size_t)cols, trial % 3 == 0 ? 1e-3 : 3.0);
        mod__quantize_q8(xq, x, cols);
        q4_random(w, nb, trial % 2 ? 0.05 : 2.0);
        for (b = 0; b < nb; b++) {
            double isum = 0, iabs = 0;
            for (j = 0; j < 32; j++) {
                const double p = (double)(q4_nib(w + 18 * b, j) - 8) * (signed char)xq[36 * b + 4 + j];
                isum += p;
                iabs += fabs(p);
            }
            memcpy(&dx, xq + 36 * b, 4);
            exact += isum * q4_scale(w + 18 * b) * dx;
            mag += iabs * fabs(q4_scale(w + 18 * b)) * dx;
        }
        got = mod__int_dot(w, xq, nb, 1);
        check(fabs(got - exact) <= 1e-5 * mag + 1e-30, "q4 block dot: %g vs exact %g (cols %d)", got, exact, cols);
    }
    /* trials 2 and 4 take AVX-512's eight-row prefill blocks: three tokens at a time, then
       (trial 4) two tokens one by one, with an odd block at the end of each row */
    for (trial = 0; trial < 5; trial++) {
        const int rows = trial == 0 ? 37 : trial == 1 ? 64 : trial == 2 ? 13 : 70;
        const int nb = trial == 1 ? 7 : trial >= 3 ? 9 : 8, cols = 32 * nb;
        const int n = trial == 0 ? 4 : trial == 1 ? 7 : trial == 2 ? 9 : trial == 3 ? 6 : 8;
        unsigned char *wq = (unsigned char *)xmalloc((size_t)rows * nb * 18);
        float x[9 * 288], y1[9 * 70], y2[9 * 70], y3[70], yb[9 * 70], bias[70], *wf;
        mod__tensor t, bt;
        int r, k, j, same = 1, exact = 1, ref_ok = 1, refq_ok = 1, bias_ok = 1, rows_ok = 1;
        q4_random(wq, rows * nb, 0.02);
        fill(x, (size_t)n * cols, 2.0);
        fill(bias, (size_t)rows, 1.0);
        memset(&t, 0, sizeof t);
        t.data = wq; t.dtype = MOD_DTYPE_Q4_0; t.rows = rows; t.cols = cols;
        memset(&bt, 0, sizeof bt);
        bt.data = bias; bt.dtype = MOD_DTYPE_F32; bt.rows = 1; bt.cols = rows;
        mod__matmul(s1, y1, x, n, &t, NULL);
        mod__matmul(s2, y2, x, n, &t, NULL);
        mod__matmul(s1, y3, x + 2 * cols, 1, &t, NULL);
        mod__matmul(s2, yb, x, n, &t, &bt);
        for (k = 0; k < n * rows; k++) same = same && fbits(y1[k]) == fbits(y2[k]);
        for (r = 0; r < rows; r++) same = same && fbits(y3[r]) == fbits(y1[2 * rows + r]);
        for (k = 0; k < n * rows; k++) bias_ok = bias_ok && fbits(yb[k]) == fbits(y1[k] + bias[k % rows]);
        for (k = 0; k < n; k++) {
            unsigned char xq[9 * 36];
            mod__quantize_q8(xq, x + (size_t)k * cols, cols);
            for (r = 0; r < rows; r++) {
                const unsigned char *wr = wq + (size_t)r * nb * 18;
                double ref = 0, refq = 0, mag = 0, qerr = 0;
                exact = exact && fbits(y1[k * rows + r]) == fbits(mod__int_dot(wr, xq, nb, 1));
                for (j = 0; j < cols; j++) {
                    const double wv = q4_scale(wr + 18 * (j / 32)) * (q4_nib(wr + 18 * (j / 32), j % 32) - 8);
                    float dx;
                    memcpy(&dx, xq + 36 * (j / 32), 4);
                    ref += wv * x[(size_t)k * cols + j];
                    refq += wv * dx * (signed char)xq[36 * (j / 32) + 4 + j % 32];
                    mag += fabs(wv * dx * (signed char)xq[36 * (j / 32) + 4 + j % 32]);
                    qerr += fabs(wv) * 0.5 * dx;
                }
                refq_ok = refq_ok && fabs(y1[k * rows + r] - refq) <= 1e-5 * mag + 1e-30;
                ref_ok = ref_ok && fabs(y1[k * rows + r] - ref) <= qerr * (1 + 1e-5) + 1e-5 * mag + 1e-30;
            }
        }
        wf = (float *)xmalloc(sizeof(float) * 4 * (size_t)cols);
        for (r = 0; r + 4 <= rows; r += 4) {
            const float *got = mod__rows(&t, r, 4, wf);
            for (j = 0; j < 4 * cols; j++) {
                const unsigned char *blk = wq + ((size_t)r * nb + (size_t)(j / 32)) * 18;
                rows_ok = rows_ok && (double)got[j] == q4_scale(blk) * (q4_nib(blk, j % 32) - 8);
            }
        }
        check(same, "q4 matmul %dx%d, %d tokens: 1 and 2 threads, and a row alone vs in a batch, bit-identical", rows, cols, n);
        check(exact, "q4 matmul %dx%d, %d tokens: elements are the block dot products", rows, cols, n);
        check(refq_ok, "q4 matmul %dx%d, %d tokens: the dequantized product with the quantized activations", rows, cols, n);
        check(ref_ok, "q4 matmul %dx%d, %d tokens: the dequantized product with the activations, within their quantization", rows, cols, n);
        check(bias_ok, "q4 matmul %dx%d, %d tokens: the bias is added last", rows, cols, n);
        check(rows_ok, "q4 rows %dx%d as f32: the dequantized values exactly", rows, cols);
        free(wf);
        free(wq);
    }
    mod_session_free(s1); mod_model_free(m1); free(f1);
    mod_session_free(s2); mod_model_free(m2); free(f2);
    check_group("q4_0");
}

int main(void)
{
    test_f16();
    test_bf16();
    test_dot();
    test_key_scores();
    test_kv_q8_cache();
    test_kv_f16_cache();
    test_matmul();
    test_matmul_groups();
    test_rmsnorm();
    test_rope();
    test_softmax();
    test_activations();
    test_topk();
    test_helpers();
    test_q8();
    test_q8_quantize_exact();
    test_q4_quantize();
    test_q4();
    return check_finish();
}
