/* test_amx_emu.c: tests/amx_emu.h, the AMX trap-and-emulate emulator, against plain C written
   here (nothing below calls the emulator's arithmetic; its state is only read, for things no
   instruction can show, and the parts that look inside are skipped when the CPU runs AMX).

   Build and run, with gcc or with clang:
     gcc -std=c99 -O2 -Wall -Wextra -pedantic -fopenmp -o build/test_amx_emu tests/test_amx_emu.c -lm
     clang -std=c99 -O2 -Wall -Wextra -pedantic -o build/test_amx_emu tests/test_amx_emu.c -lm -pthread
     build/test_amx_emu
   (-fopenmp is harmless but unused: the threads are pthreads, in libc since glibc 2.34; older
   ones need -pthread.) Add -DAMX_EMU_BF16_PAIRWISE=1 to check the other TDPBF16PS order.

   The AMX code is the compilers' own: the <immintrin.h> intrinsics in functions with
   target("amx-tile,amx-bf16,amx-int8"), plus inline assembly for the addressing forms the
   intrinsics do not produce (r8-r15 as base and index, disp8/disp32, scales 2-8, no base, no
   index, rsp and rbp as base, RIP-relative). On a CPU with AMX the same instructions run
   natively and the results must still match the reference.

   Output: "ok <name>" or "FAIL <name>: details" per check, then "N passed, M failed"; the exit
   status is 1 if anything failed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "amx_emu.h"

#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- reporting ------------------------------------------------------------------------------ */

static int passed, failed;

#if defined(__GNUC__)
static void result(const char *name, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif

/* One check: "ok name", or "FAIL name: details" with the details formatted from fmt. */
static void result(const char *name, int ok, const char *fmt, ...)
{
    va_list ap;
    if (ok) {
        printf("ok %s\n", name);
        passed++;
        return;
    }
    printf("FAIL %s: ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    failed++;
}

/* ---- random numbers (xorshift64*) ----------------------------------------------------------- */

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static unsigned rnd_in(uint64_t *s, unsigned lo, unsigned hi) /* lo..hi inclusive */
{
    return lo + (unsigned)(rnd(s) % (hi - lo + 1));
}

/* ---- the reference: plain C, independent of amx_emu.h ----------------------------------------- */

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static float bf2f(uint16_t h)
{
    return u2f((uint32_t)h << 16);
}

static uint16_t bf_pow2(int e, int negative) /* the bf16 of +-2^e, e in -126..127 */
{
    return (uint16_t)((negative ? 0x8000u : 0u) | (unsigned)(e + 127) << 7);
}

static float ref_daz(float x)
{
    return fpclassify(x) == FP_SUBNORMAL ? copysignf(0.0f, x) : x;
}

/* c + a * b the way TDPBF16PS does one step: inputs DAZ, one rounding to nearest even (C's
   fmaf), the result flushed to zero when it is below 2^-126 after rounding with an unbounded
   exponent. fmaf rounds tiny results to the subnormal grid instead, so those are computed again
   2^64 larger, where the grid is the full 24 bits. (A nonzero exact result below 2^-100 needs c
   and a * b below about 2^-50, as c + a * b is a multiple of the smaller of their last-place
   units, so the scaling cannot overflow; this holds for any binary32 a and b, not only bf16.) */
static float ref_fma(float c, float a, float b)
{
    float r;
    c = ref_daz(c);
    a = ref_daz(a);
    b = ref_daz(b);
    r = fmaf(a, b, c);
    if (isnan(r) || isinf(r) || r == 0 || fabsf(r) >= 0x1p-100f) return r;
    if (fabsf(a) < fabsf(b))
        a = ldexpf(a, 64);
    else
        b = ldexpf(b, 64);
    r = fmaf(a, b, ldexpf(c, 64));
    if (fabsf(r) < 0x1p-62f) return copysignf(0.0f, r); /* below 2^-126 before scaling */
    return ldexpf(r, -64);
}

/* TDPBF16PS on plain arrays: A is M x 2K bf16 (row stride lda bytes), B is K x 2N bf16
   (ldb), C is M x N floats (ldc bytes), accumulated in place. */
static void ref_tdpbf16ps(int M, int N, int K, const unsigned char *A, size_t lda,
                          const unsigned char *B, size_t ldb, unsigned char *C, size_t ldc)
{
    int m, n, k;
    for (m = 0; m < M; m++)
        for (n = 0; n < N; n++) {
            float c;
#if AMX_EMU_BF16_PAIRWISE
            float even = 0.0f, odd = 0.0f;
#endif
            memcpy(&c, C + m * ldc + 4 * n, 4);
            for (k = 0; k < K; k++) {
                uint16_t a0, a1, b0, b1;
                memcpy(&a0, A + m * lda + 4 * k, 2);
                memcpy(&a1, A + m * lda + 4 * k + 2, 2);
                memcpy(&b0, B + k * ldb + 4 * n, 2);
                memcpy(&b1, B + k * ldb + 4 * n + 2, 2);
#if AMX_EMU_BF16_PAIRWISE
                even = ref_fma(even, bf2f(a0), bf2f(b0));
                odd = ref_fma(odd, bf2f(a1), bf2f(b1));
#else
                c = ref_fma(c, bf2f(a0), bf2f(b0));
                c = ref_fma(c, bf2f(a1), bf2f(b1));
#endif
            }
#if AMX_EMU_BF16_PAIRWISE
            c = ref_fma(c, 1.0f, ref_fma(even, 1.0f, odd));
#endif
            memcpy(C + m * ldc + 4 * n, &c, 4);
        }
}

/* TDPB[SU][SU]D on plain arrays: bytes of A signed if sa, of B if sb; int32 C wraps. */
static void ref_tdpb(int sa, int sb, int M, int N, int K, const unsigned char *A, size_t lda,
                     const unsigned char *B, size_t ldb, unsigned char *C, size_t ldc)
{
    int m, n, k, i;
    for (m = 0; m < M; m++)
        for (n = 0; n < N; n++) {
            int64_t sum = 0;
            uint32_t c;
            for (k = 0; k < K; k++)
                for (i = 0; i < 4; i++) {
                    int x = A[m * lda + 4 * k + i], y = B[k * ldb + 4 * n + i];
                    if (sa && x >= 128) x -= 256;
                    if (sb && y >= 128) y -= 256;
                    sum += (int64_t)x * y;
                }
            memcpy(&c, C + m * ldc + 4 * n, 4);
            c = (uint32_t)((uint64_t)c + (uint64_t)sum);
            memcpy(C + m * ldc + 4 * n, &c, 4);
        }
}

static int same_float(float x, float y)
{
    return (isnan(x) && isnan(y)) || f2u(x) == f2u(y);
}

/* ---- tile configurations ---------------------------------------------------------------------- */

typedef struct {
    unsigned char b[64];
} cfg_t;

static void cfg_init(cfg_t *c, unsigned start_row)
{
    memset(c->b, 0, 64);
    c->b[0] = 1;
    c->b[1] = (unsigned char)start_row;
}

static void cfg_tile(cfg_t *c, int t, unsigned rows, unsigned colsb)
{
    c->b[16 + 2 * t] = (unsigned char)(colsb & 0xFF);
    c->b[17 + 2 * t] = (unsigned char)(colsb >> 8);
    c->b[48 + t] = (unsigned char)rows;
}

/* ---- the AMX instructions, through the intrinsics --------------------------------------------- */

/* noinline and the compiler barriers keep the buffers in memory around each instruction: gcc's
   intrinsics are asm statements that tell the compiler little about the memory they touch
   (_tile_loadconfig says it reads 8 bytes, _tile_loadd nothing at all, _tile_storeconfig
   that it writes 8 bytes). */
#define AMX __attribute__((target("amx-tile,amx-bf16,amx-int8"), noinline))
#define BARRIER() __asm__ volatile("" ::: "memory")
#define EACH_TILE(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

AMX static void x_ldcfg(const void *c)
{
    BARRIER();
    _tile_loadconfig(c);
    BARRIER();
}

AMX static void x_stcfg(void *c)
{
    BARRIER();
    _tile_storeconfig(c);
    BARRIER();
}

AMX static void x_release(void)
{
    _tile_release();
}

AMX static void x_load(int t, const void *p, long stride)
{
    BARRIER();
    switch (t) {
#define CASE(n)                    \
    case n:                        \
        _tile_loadd(n, p, stride); \
        break;
        EACH_TILE(CASE)
#undef CASE
    }
    BARRIER();
}

AMX static void x_stream_load(int t, const void *p, long stride)
{
    BARRIER();
    switch (t) {
#define CASE(n)                           \
    case n:                               \
        _tile_stream_loadd(n, p, stride); \
        break;
        EACH_TILE(CASE)
#undef CASE
    }
    BARRIER();
}

AMX static void x_store(int t, void *p, long stride)
{
    BARRIER();
    switch (t) {
#define CASE(n)                     \
    case n:                         \
        _tile_stored(n, p, stride); \
        break;
        EACH_TILE(CASE)
#undef CASE
    }
    BARRIER();
}

AMX static void x_zero(int t)
{
    switch (t) {
#define CASE(n)        \
    case n:            \
        _tile_zero(n); \
        break;
        EACH_TILE(CASE)
#undef CASE
    }
}

enum { OP_BF16, OP_SSD, OP_SUD, OP_USD, OP_UUD };
static const char *const op_name[] = {"tdpbf16ps", "tdpbssd", "tdpbsud", "tdpbusd", "tdpbuud"};

/* (dst, a, b) triples: every tile number in every operand position, so that ModRM.reg,
   ModRM.rm and VEX.vvvv are all decoded with all values. */
static const int triples[8][3] = {{0, 1, 2}, {7, 6, 5}, {3, 7, 1}, {5, 0, 6},
                                  {4, 2, 3}, {6, 3, 0}, {1, 5, 4}, {2, 4, 7}};
#define TRIPLES(X, f) \
    X(f, 0, 1, 2) X(f, 7, 6, 5) X(f, 3, 7, 1) X(f, 5, 0, 6) X(f, 4, 2, 3) X(f, 6, 3, 0) X(f, 1, 5, 4) X(f, 2, 4, 7)
#define DP_CASE(f, d, a, b)   \
    case (d) * 64 + (a) * 8 + (b): \
        f(d, a, b);           \
        return;

AMX static void x_dp(int op, int d, int a, int b)
{
    int key = d * 64 + a * 8 + b;
    switch (op) {
    case OP_BF16:
        switch (key) { TRIPLES(DP_CASE, _tile_dpbf16ps) }
        break;
    case OP_SSD:
        switch (key) { TRIPLES(DP_CASE, _tile_dpbssd) }
        break;
    case OP_SUD:
        switch (key) { TRIPLES(DP_CASE, _tile_dpbsud) }
        break;
    case OP_USD:
        switch (key) { TRIPLES(DP_CASE, _tile_dpbusd) }
        break;
    case OP_UUD:
        switch (key) { TRIPLES(DP_CASE, _tile_dpbuud) }
        break;
    }
    fprintf(stderr, "x_dp: no such triple %d %d %d\n", d, a, b);
    abort();
}

/* ---- helpers for memory images ---------------------------------------------------------------- */

#define GUARD 0xEE

static void fill_random(uint64_t *s, unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) p[i] = (unsigned char)rnd(s);
}

/* Compare a rows x colsb region at got (stride gs) with want (stride ws); every other byte of
   the got buffer (n bytes in all) must still be GUARD. Returns 1 if all is well, else writes
   where it went wrong into why. */
static int check_region(const unsigned char *got, size_t n, long gs, const unsigned char *want,
                        long ws, int rows, int colsb, char *why, size_t whyn)
{
    size_t i;
    for (i = 0; i < n; i++) {
        long r = (long)i / gs, col = (long)i % gs;
        int inside = r < rows && col < colsb;
        unsigned char w = inside ? want[r * ws + col] : GUARD;
        if (got[i] != w) {
            snprintf(why, whyn, "byte %zu (row %ld col %ld, %s): got 0x%02x, want 0x%02x", i, r, col,
                     inside ? "inside" : "guard", got[i], w);
            return 0;
        }
    }
    return 1;
}

/* ---- configuration ---------------------------------------------------------------------------- */

static void test_config(uint64_t *s)
{
    cfg_t c, out;
    int i, t, ok = 1;
    char why[200] = "";

    /* a new process is in the INIT state: STTILECFG gives zeros */
    memset(out.b, 0xAB, 64);
    x_stcfg(out.b);
    for (i = 0; i < 64; i++) ok &= out.b[i] == 0;
    result("sttilecfg before any ldtilecfg gives 64 zero bytes", ok, "byte 0 = 0x%02x", out.b[0]);

    ok = 1;
    for (i = 0; i < 200 && ok; i++) {
        cfg_init(&c, 0);
        for (t = 0; t < 8; t++)
            if (rnd(s) % 4 != 0) cfg_tile(&c, t, rnd_in(s, 1, 16), rnd_in(s, 1, 64));
        x_ldcfg(c.b);
        memset(out.b, 0xAB, 64);
        x_stcfg(out.b);
        if (memcmp(c.b, out.b, 64) != 0) {
            ok = 0;
            for (t = 0; t < 64 && c.b[t] == out.b[t]; t++) continue;
            snprintf(why, sizeof why, "config %d: byte %d stored as 0x%02x, loaded 0x%02x", i, t, out.b[t], c.b[t]);
        }
    }
    result("ldtilecfg / sttilecfg round trip, 200 random configurations", ok, "%s", why);

    x_release();
    memset(out.b, 0xAB, 64);
    x_stcfg(out.b);
    ok = 1;
    for (i = 0; i < 64; i++) ok &= out.b[i] == 0;
    result("sttilecfg after tilerelease gives zeros", ok, "byte 0 = 0x%02x", out.b[0]);

    cfg_init(&c, 0);
    cfg_tile(&c, 0, 16, 64);
    x_ldcfg(c.b);
    memset(c.b, 0, 64); /* palette 0: back to the INIT state */
    x_ldcfg(c.b);
    memset(out.b, 0xAB, 64);
    x_stcfg(out.b);
    ok = 1;
    for (i = 0; i < 64; i++) ok &= out.b[i] == 0;
    result("ldtilecfg with palette 0 releases", ok, "byte 0 = 0x%02x", out.b[0]);
}

/* The tile configuration in a static array: both compilers address it RIP-relative. */
static unsigned char static_cfg[64] __attribute__((aligned(64)));
static unsigned char static_cfg_out[64] __attribute__((aligned(64)));

AMX static void x_static_cfg(void)
{
    BARRIER();
    _tile_loadconfig(static_cfg);
    _tile_storeconfig(static_cfg_out);
    BARRIER();
}

static void test_config_rip(void)
{
    cfg_t c;
    cfg_init(&c, 0);
    cfg_tile(&c, 3, 7, 44);
    cfg_tile(&c, 6, 16, 64);
    memcpy(static_cfg, c.b, 64);
    memset(static_cfg_out, 0xAB, 64);
    x_static_cfg();
    result("ldtilecfg / sttilecfg on a static array (RIP-relative)", memcmp(static_cfg_out, c.b, 64) == 0,
           "bytes differ");
    x_release();
}

/* ---- loads and stores ------------------------------------------------------------------------- */

static void test_load_store(uint64_t *s)
{
    static unsigned char src[16 * 200 + 64], out[16 * 200 + 64];
    char why[200] = "", name[160];
    int t, pass, i;

    for (pass = 0; pass < 3; pass++)
        for (t = 0; t < 8; t++) {
            /* shapes: 5 rows x 36 bytes, the full 16 x 64, and random ones */
            int rows = pass == 0 ? 5 : pass == 1 ? 16 : (int)rnd_in(s, 1, 16);
            int colsb = pass == 0 ? 36 : pass == 1 ? 64 : 4 * (int)rnd_in(s, 1, 16);
            long ls = colsb + (long)rnd_in(s, 0, 100), ss = colsb + (long)rnd_in(s, 1, 100);
            cfg_t c;
            int ok;
            cfg_init(&c, 0);
            cfg_tile(&c, t, (unsigned)rows, (unsigned)colsb);
            cfg_tile(&c, (t + 1) % 8, 16, 64);
            x_ldcfg(c.b);
            fill_random(s, src, sizeof src);
            memset(out, GUARD, sizeof out);
            if (t % 2)
                x_stream_load(t, src, ls);
            else
                x_load(t, src, ls);
            x_store(t, out, ss);
            ok = check_region(out, sizeof out, ss, src, ls, rows, colsb, why, sizeof why);
            snprintf(name, sizeof name, "%s tmm%d, %d rows x %d bytes, load stride %ld, store stride %ld",
                     t % 2 ? "tileloaddt1" : "tileloadd", t, rows, colsb, ls, ss);
            result(name, ok, "%s", why);
        }

    /* negative stride: rows read from the end of the buffer backwards */
    {
        cfg_t c;
        long ls = -100;
        int ok;
        static unsigned char want[16 * 64];
        cfg_init(&c, 0);
        cfg_tile(&c, 2, 9, 48);
        x_ldcfg(c.b);
        fill_random(s, src, sizeof src);
        memset(out, GUARD, sizeof out);
        x_load(2, src + 8 * 100, ls);
        x_store(2, out, 64);
        for (i = 0; i < 9; i++) memcpy(want + 64 * i, src + (8 - i) * 100, 48);
        ok = check_region(out, 16 * 64, 64, want, 64, 9, 48, why, sizeof why);
        result("tileloadd with a negative stride", ok, "%s", why);
    }

    /* The padding of a loaded tile (bytes past colsb, rows past rows) is zero. No instruction
       can read it, so this looks at the emulator's state, after spoiling it on purpose. */
    if (!amx_emu_native()) {
        cfg_t c;
        int r, b, ok = 1;
        cfg_init(&c, 0);
        cfg_tile(&c, 5, 5, 36);
        x_ldcfg(c.b);
        memset(amx_emu_st.data[5], 0xAB, sizeof amx_emu_st.data[5]);
        fill_random(s, src, sizeof src);
        x_load(5, src, 40);
        for (r = 0; r < 16; r++)
            for (b = 0; b < 64; b++) {
                unsigned char w = r < 5 && b < 36 ? src[r * 40 + b] : 0;
                if (amx_emu_st.data[5][r][b] != w && ok) {
                    ok = 0;
                    snprintf(why, sizeof why, "row %d byte %d is 0x%02x", r, b, amx_emu_st.data[5][r][b]);
                }
            }
        result("tileloadd zeroes the bytes past colsb and the rows past rows (emulator state)", ok, "%s", why);
    }

    /* start_row: LDTILECFG may set it; a load starts there, and every load, store or dot
       product sets it back to 0. */
    {
        cfg_t c, o;
        static unsigned char want[16 * 64];
        int ok;
        cfg_init(&c, 2);
        cfg_tile(&c, 0, 5, 16);
        x_ldcfg(c.b);
        x_stcfg(o.b);
        ok = o.b[1] == 2;
        fill_random(s, src, sizeof src);
        x_load(0, src, 16);
        x_stcfg(o.b);
        ok &= o.b[1] == 0;
        memset(out, GUARD, sizeof out);
        x_store(0, out, 16);
        memset(want, 0, sizeof want);
        memcpy(want + 2 * 16, src + 2 * 16, 3 * 16);
        ok &= check_region(out, 16 * 16, 16, want, 16, 5, 16, why, sizeof why);
        result("start_row: stored by sttilecfg, a load starts there and resets it", ok, "%s (start_row %d)", why,
               o.b[1]);
    }
    x_release();
}

static void test_zero_release(uint64_t *s)
{
    static unsigned char src[16 * 64], out[16 * 80], zero[16 * 64];
    char why[200] = "", name[100];
    cfg_t c;
    int t, ok;

    cfg_init(&c, 0);
    for (t = 0; t < 8; t++) cfg_tile(&c, t, 16 - t, 64 - 4 * t);
    x_ldcfg(c.b);
    for (t = 0; t < 8; t++) {
        fill_random(s, src, sizeof src);
        x_load(t, src, 64);
    }
    for (t = 0; t < 8; t++) {
        x_zero(t);
        memset(out, GUARD, sizeof out);
        x_store(t, out, 80);
        ok = check_region(out, sizeof out, 80, zero, 64, 16 - t, 64 - 4 * t, why, sizeof why);
        snprintf(name, sizeof name, "tilezero tmm%d", t);
        result(name, ok, "%s", why);
    }

    /* tilerelease, then the same configuration again: the data is zero again */
    for (t = 0; t < 8; t++) {
        fill_random(s, src, sizeof src);
        x_load(t, src, 64);
    }
    x_release();
    x_ldcfg(c.b);
    ok = 1;
    for (t = 0; t < 8 && ok; t++) {
        memset(out, GUARD, sizeof out);
        x_store(t, out, 80);
        ok = check_region(out, sizeof out, 80, zero, 64, 16 - t, 64 - 4 * t, why, sizeof why);
    }
    result("tilerelease then ldtilecfg: every tile reads back zero", ok, "tmm%d: %s", t - 1, why);

    /* ldtilecfg alone (no release) also zeroes the data */
    fill_random(s, src, sizeof src);
    x_load(0, src, 64);
    x_ldcfg(c.b);
    memset(out, GUARD, sizeof out);
    x_store(0, out, 80);
    ok = check_region(out, sizeof out, 80, zero, 64, 16, 64, why, sizeof why);
    result("ldtilecfg zeroes the tile data", ok, "%s", why);
    x_release();
}

/* ---- dot products ------------------------------------------------------------------------------ */

/* Operands of one dot product in memory: A M x 4K bytes, B K x 4N, C M x 4N, rows strided. */
struct dp_case {
    int M, N, K;
    long lda, ldb, ldc;
    unsigned char A[16 * 128], B[16 * 128], C[16 * 128];
};

/* Run one dot product with tiles (d, a, b), through the instructions, and return in got
   (stride ldc, GUARD around) what TILESTORED wrote. */
static void run_dp(int op, int d, int a, int b, const struct dp_case *x, unsigned char *got, size_t gotn)
{
    cfg_t c;
    cfg_init(&c, 0);
    cfg_tile(&c, d, (unsigned)x->M, 4u * (unsigned)x->N);
    cfg_tile(&c, a, (unsigned)x->M, 4u * (unsigned)x->K);
    cfg_tile(&c, b, (unsigned)x->K, 4u * (unsigned)x->N);
    x_ldcfg(c.b);
    x_load(a, x->A, x->lda);
    x_load(b, x->B, x->ldb);
    x_load(d, x->C, x->ldc);
    x_dp(op, d, a, b);
    memset(got, GUARD, gotn);
    x_store(d, got, x->ldc);
}

/* Compare the M x N results at got with want (both stride ldc; guard bytes around got). */
static int check_dp(int op, const struct dp_case *x, const unsigned char *got, size_t gotn,
                    const unsigned char *want, char *why, size_t whyn)
{
    size_t i;
    for (i = 0; i < gotn; i++) {
        long r = (long)i / x->ldc, col = (long)i % x->ldc;
        if (r < x->M && col < 4 * x->N) {
            uint32_t g, w;
            if (col % 4) continue;
            memcpy(&g, got + i, 4);
            memcpy(&w, want + i, 4);
            if (op == OP_BF16 ? !same_float(u2f(g), u2f(w)) : g != w) {
                snprintf(why, whyn, "[%ld][%ld]: got 0x%08x (%.9g), want 0x%08x (%.9g)", r, col / 4, (unsigned)g,
                         (double)u2f(g), (unsigned)w, (double)u2f(w));
                return 0;
            }
        } else if (got[i] != GUARD) {
            snprintf(why, whyn, "byte %zu past the result was written (0x%02x)", i, got[i]);
            return 0;
        }
    }
    return 1;
}

enum { RANGE_NARROW, RANGE_LOW, RANGE_WIDE, RANGE_SPECIAL };

static uint16_t rnd_bf16(uint64_t *s, int range)
{
    uint64_t r = rnd(s);
    unsigned sign = (unsigned)(r & 1) << 15, mant = (unsigned)(r >> 1) & 0x7F, e;
    if (range == RANGE_NARROW)
        e = 120 + (unsigned)(r >> 8) % 16; /* 2^-7 .. 2^8 */
    else if (range == RANGE_LOW)
        e = 127 - 72 + (unsigned)(r >> 8) % 13; /* 2^-72 .. 2^-60: products near 2^-126 */
    else if (range == RANGE_WIDE)
        e = 64 + (unsigned)(r >> 8) % 127; /* 2^-63 .. 2^63: products from 2^-126 to 2^126 */
    else {
        switch ((r >> 8) % 64) {
        case 0: return (uint16_t)(sign | 0x7F80);               /* infinity */
        case 1: return (uint16_t)(sign | 0x7F80 | 0x40 | mant); /* NaN */
        case 2: return (uint16_t)(sign | mant);                 /* denormal or zero */
        default: e = 1 + (unsigned)(r >> 16) % 254;
        }
    }
    return (uint16_t)(sign | e << 7 | mant);
}

static float rnd_acc(uint64_t *s, int range)
{
    uint64_t r = rnd(s);
    uint32_t sign = (uint32_t)(r & 1) << 31, mant = (uint32_t)(r >> 1) & 0x7FFFFF;
    if (range == RANGE_NARROW) return u2f(sign | (uint32_t)(123 + (r >> 32) % 10) << 23 | mant);
    if (range == RANGE_LOW) /* 2^-130 (denormal) .. 2^-119 */
        return u2f(sign | (uint32_t)((r >> 32) % 9) << 23 | mant);
    if (range == RANGE_WIDE) return u2f(sign | (uint32_t)(1 + (r >> 32) % 254) << 23 | mant);
    return u2f((uint32_t)(r >> 16)); /* any bits: NaN, infinity, denormals too */
}

static void make_bf16_case(uint64_t *s, struct dp_case *x, int range)
{
    int i, j;
    x->M = (int)rnd_in(s, 1, 16);
    x->N = (int)rnd_in(s, 1, 16);
    x->K = (int)rnd_in(s, 1, 16);
    x->lda = 4 * x->K + 4 * (long)rnd_in(s, 0, 16);
    x->ldb = 4 * x->N + 4 * (long)rnd_in(s, 0, 16);
    x->ldc = 4 * x->N + 4 * (long)rnd_in(s, 1, 16);
    for (i = 0; i < 16 * 128; i += 2) {
        uint16_t a = rnd_bf16(s, range), b = rnd_bf16(s, range);
        memcpy(x->A + i, &a, 2);
        memcpy(x->B + i, &b, 2);
    }
    for (i = 0; i < 16; i++)
        for (j = 0; j < 32; j++) {
            float c = rnd_acc(s, range);
            memcpy(x->C + i * 128 + 4 * j, &c, 4);
        }
}

static void test_bf16_random(uint64_t *s)
{
    static struct dp_case x;
    static unsigned char got[16 * 128], want[16 * 128];
    static const char *const range_name[] = {"values 2^-7..2^8", "values near 2^-63 (FTZ, DAZ)",
                                              "values 2^-63..2^63", "any values (inf, NaN, denormals)"};
    char why[300] = "", name[200];
    int range, i, ok;
    for (range = 0; range < 4; range++) {
        int tried = 0;
        ok = 1;
        for (i = 0; i < 150 && ok; i++) {
            const int *tr = triples[i % 8];
            make_bf16_case(s, &x, range);
            run_dp(OP_BF16, tr[0], tr[1], tr[2], &x, got, sizeof got);
            memcpy(want, x.C, sizeof want);
            ref_tdpbf16ps(x.M, x.N, x.K, x.A, (size_t)x.lda, x.B, (size_t)x.ldb, want, (size_t)x.ldc);
            ok = check_dp(OP_BF16, &x, got, sizeof got, want, why, sizeof why);
            tried++;
        }
        snprintf(name, sizeof name, "tdpbf16ps, random shapes and tiles, %s (%d cases)", range_name[range], tried);
        result(name, ok, "case %d tmm%d += tmm%d * tmm%d, M %d N %d K %d: %s", i - 1, triples[(i - 1) % 8][0],
               triples[(i - 1) % 8][1], triples[(i - 1) % 8][2], x.M, x.N, x.K, why);
    }
    x_release();
}

/* Chosen TDPBF16PS cases: one output element, K = 1, a = (a0, a1), b = (b0, b1), dst = c. */
struct bf16_case {
    const char *name;
    uint32_t c;
    uint16_t a0, a1, b0, b1;
    uint32_t want, want_pairwise; /* 0x7FC00000: any NaN */
};

/* The emulator's one step, amx_emu_fma, on full binary32 operands (TDPBF16PS only gives it bf16
   products, where double rounding cannot happen; this checks its halfway-case correction too). */
static void test_fma_helper(uint64_t *s)
{
    /* (1 + 2^-23) + 2^-24 - 2^-54: the double sum is exactly halfway, the exact one below it */
    const float c0 = u2f(0x3F800001), a0 = ldexpf(1.0f + 0x1p-15f, -12), b0 = ldexpf(1.0f - 0x1p-15f, -12);
    float g = amx_emu_fma(c0, a0, b0), r = ref_fma(c0, a0, b0);
    int i, ok = f2u(g) == 0x3F800001 && f2u(r) == 0x3F800001;
    char why[200] = "";
    result("amx_emu_fma: a double sum exactly halfway that is not: rounded by the exact value", ok,
           "emulator 0x%08x, reference 0x%08x, want 0x3f800001", (unsigned)f2u(g), (unsigned)f2u(r));
    ok = 1;
    for (i = 0; i < 300000 && ok; i++) {
        uint64_t x = rnd(s);
        /* exponents of c, a, b: wide, or a * b near c (cancellation, halfway cases), or tiny */
        int kind = (int)(x % 3);
        uint32_t ec = 1 + (uint32_t)((x >> 8) % 254), ea = 1 + (uint32_t)((x >> 16) % 254), eb;
        uint32_t ma = (uint32_t)rnd(s) & 0x807FFFFFu, mb = (uint32_t)rnd(s) & 0x807FFFFFu;
        uint32_t mc = (uint32_t)rnd(s) & 0x807FFFFFu;
        float c, a, b;
        if (kind == 0) eb = 1 + (uint32_t)((x >> 24) % 254);
        else if (kind == 1) eb = (uint32_t)((int)ec - (int)ea + 127 + (int)((x >> 24) % 60) - 30);
        else ec = (uint32_t)((x >> 8) % 30), ea = 40 + (uint32_t)((x >> 16) % 40), eb = 167 - ea + (uint32_t)((x >> 24) % 10);
        if (eb < 1 || eb > 254) eb = 127;
        if (kind == 1 && (x >> 40) % 4 == 0) mb &= 0x80000000u | (0x7FFFFFu << 12); /* short b */
        c = u2f(mc | ec << 23);
        a = u2f(ma | ea << 23);
        b = u2f(mb | eb << 23);
        g = amx_emu_fma(c, a, b);
        r = ref_fma(c, a, b);
        if (!same_float(g, r)) {
            ok = 0;
            snprintf(why, sizeof why, "c %a a %a b %a: emulator %a (0x%08x), reference %a (0x%08x)", (double)c,
                     (double)a, (double)b, (double)g, (unsigned)f2u(g), (double)r, (unsigned)f2u(r));
        }
    }
    result("amx_emu_fma against fmaf on 300000 random binary32 triples", ok, "%s", why);
}

static void test_bf16_chosen(void)
{
    const uint16_t one = 0x3F80, zero = 0, inf = 0x7F80, ninf = 0xFF80, qnan = 0x7FC0;
    const struct bf16_case cases[] = {
        {"1 + 2^-24 + 2^-24: each addition a tie, rounded to even (1)", 0x3F800000, bf_pow2(-12, 0),
         bf_pow2(-12, 0), bf_pow2(-12, 0), bf_pow2(-12, 0), 0x3F800000, 0x3F800001},
        {"(1 + 2^-23) + 2^-24: a tie rounded up to even", 0x3F800001, bf_pow2(-12, 0), zero, bf_pow2(-12, 0), zero,
         0x3F800002, 0x3F800002},
        {"(1 + 3*2^-23) + 2^-24: a tie rounded up to even", 0x3F800003, bf_pow2(-12, 0), zero, bf_pow2(-12, 0), zero,
         0x3F800004, 0x3F800004},
        {"(1 + 2*2^-23) + 2^-24: a tie rounded down to even", 0x3F800002, bf_pow2(-12, 0), zero, bf_pow2(-12, 0),
         zero, 0x3F800002, 0x3F800002},
        {"denormal bf16 input counts as zero", 0x00000000, 0x0001, zero, 0x7F00, zero, 0x00000000, 0x00000000},
        {"denormal bf16 input (negative) counts as -0", 0x80000000, 0x8040, 0x8000, one, one, 0x80000000, 0x00000000},
        {"denormal accumulator counts as zero: 2^-130 + 2^-126 = 2^-126", 0x00080000, bf_pow2(-63, 0), zero,
         bf_pow2(-63, 0), zero, 0x00800000, 0x00800000},
        {"2^-126 - 2^-127 = 2^-127 is flushed to +0", 0x00800000, bf_pow2(-63, 0), zero, bf_pow2(-64, 1), zero,
         0x00000000, 0x00800000},
        {"2^-126 - 2^-150 is tiny after rounding: +0", 0x00800000, bf_pow2(-75, 0), zero, bf_pow2(-75, 1), zero,
         0x00000000, 0x00800000},
        {"2^-126 - 2^-152 rounds to 2^-126, not tiny after rounding: kept", 0x00800000, bf_pow2(-76, 0), zero,
         bf_pow2(-76, 1), zero, 0x00800000, 0x00800000},
        {"-0 + (-2^-200) twice: -0", 0x80000000, bf_pow2(-100, 1), bf_pow2(-100, 1), bf_pow2(-100, 0),
         bf_pow2(-100, 0), 0x80000000, 0x80000000},
        {"-0 + 0*0 + 0*0 = +0", 0x80000000, zero, zero, zero, zero, 0x00000000, 0x00000000},
        {"2^100 * 2^100 overflows to +inf", 0x00000000, bf_pow2(100, 0), zero, bf_pow2(100, 0), zero, 0x7F800000,
         0x7F800000},
        {"-FLT_MAX + 2^64 * 2^64 (fused: 2^104)", 0xFF7FFFFF, bf_pow2(64, 0), zero, bf_pow2(64, 0), zero, 0x73800000,
         0x7F800000},
        {"inf + (-inf) * 1 is NaN", 0x7F800000, ninf, zero, one, zero, 0x7FC00000, 0x7FC00000},
        {"NaN input gives NaN", 0x3F800000, qnan, zero, one, zero, 0x7FC00000, 0x7FC00000},
        {"inf * 0 is NaN", 0x00000000, inf, zero, zero, zero, 0x7FC00000, 0x7FC00000},
        {"NaN accumulator stays NaN", 0x7FC00001, one, one, one, one, 0x7FC00000, 0x7FC00000},
        {"1 + inf * 1 = inf", 0x3F800000, one, inf, one, one, 0x7F800000, 0x7F800000},
        {"3 * 5 + (-2) * 7 + 1.5 = 2.5", 0x3FC00000, 0x4040, 0xC000, 0x40A0, 0x40E0, 0x40200000, 0x40200000},
    };
    static struct dp_case x;
    static unsigned char got[16 * 128], want[16 * 128];
    char name[200];
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct bf16_case *k = &cases[i];
        uint32_t w = AMX_EMU_BF16_PAIRWISE ? k->want_pairwise : k->want, g, r;
        int ok_hw, ok_ref;
        memset(&x, 0, sizeof x);
        x.M = x.N = x.K = 1;
        x.lda = x.ldb = x.ldc = 4;
        memcpy(x.A, &k->a0, 2);
        memcpy(x.A + 2, &k->a1, 2);
        memcpy(x.B, &k->b0, 2);
        memcpy(x.B + 2, &k->b1, 2);
        memcpy(x.C, &k->c, 4);
        run_dp(OP_BF16, 0, 1, 2, &x, got, 4);
        memcpy(&g, got, 4);
        memcpy(want, x.C, 4);
        ref_tdpbf16ps(1, 1, 1, x.A, 4, x.B, 4, want, 4);
        memcpy(&r, want, 4);
        ok_hw = w == 0x7FC00000 ? isnan(u2f(g)) : g == w;
        ok_ref = w == 0x7FC00000 ? isnan(u2f(r)) : r == w;
        snprintf(name, sizeof name, "tdpbf16ps: %s", k->name);
        result(name, ok_hw && ok_ref, "instruction gave 0x%08x, the reference 0x%08x, expected 0x%08x", (unsigned)g,
               (unsigned)r, (unsigned)w);
    }
    x_release();
}

static void test_int8(uint64_t *s)
{
    static struct dp_case x;
    static unsigned char got[16 * 128], want[16 * 128];
    static const unsigned char special[] = {0x00, 0x01, 0x7F, 0x80, 0x81, 0xFF};
    static const uint32_t special32[] = {0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x00000000, 0x7FFFFF00};
    char why[300] = "", name[200];
    int op, i, j, ok, tried;

    for (op = OP_SSD; op <= OP_UUD; op++) {
        int sa = op == OP_SSD || op == OP_SUD, sb = op == OP_SSD || op == OP_USD;
        ok = 1;
        tried = 0;
        for (i = 0; i < 40 && ok; i++) {
            const int *tr = triples[(i + op) % 8];
            x.M = (int)rnd_in(s, 1, 16);
            x.N = (int)rnd_in(s, 1, 16);
            x.K = (int)rnd_in(s, 1, 16);
            x.lda = 4 * x.K + (long)rnd_in(s, 0, 60);
            x.ldb = 4 * x.N + (long)rnd_in(s, 0, 60);
            x.ldc = 4 * x.N + 4 * (long)rnd_in(s, 1, 16);
            for (j = 0; j < 16 * 128; j++) {
                uint64_t r = rnd(s);
                x.A[j] = r % 3 == 0 ? special[(r >> 8) % 6] : (unsigned char)(r >> 16);
                x.B[j] = r % 5 == 0 ? special[(r >> 24) % 6] : (unsigned char)(r >> 32);
            }
            for (j = 0; j < 16 * 128; j += 4) {
                uint64_t r = rnd(s);
                uint32_t c = r % 4 == 0 ? special32[(r >> 8) % 5] : (uint32_t)(r >> 32);
                memcpy(x.C + j, &c, 4);
            }
            run_dp(op, tr[0], tr[1], tr[2], &x, got, sizeof got);
            memcpy(want, x.C, sizeof want);
            ref_tdpb(sa, sb, x.M, x.N, x.K, x.A, (size_t)x.lda, x.B, (size_t)x.ldb, want, (size_t)x.ldc);
            ok = check_dp(op, &x, got, sizeof got, want, why, sizeof why);
            tried++;
        }
        snprintf(name, sizeof name, "%s, random shapes, tiles and bytes with -128/127/255 (%d cases)", op_name[op],
                 tried);
        result(name, ok, "M %d N %d K %d: %s", x.M, x.N, x.K, why);
    }

    /* full 16 x 16 x 16 with one byte value everywhere, worked out by hand */
    {
        static const struct {
            int op;
            unsigned char a, b;
            uint32_t c, want;
        } full[] = {
            {OP_SSD, 0x80, 0x80, 0x7FFFFFFF, 0x800FFFFF}, /* 64 * 16384 = 2^20, past INT32_MAX */
            {OP_SSD, 0x80, 0x7F, 0x00000000, 0xFFF02000}, /* 64 * -16256 */
            {OP_SUD, 0x80, 0xFF, 0x00000000, 0xFFE02000}, /* 64 * -32640 */
            {OP_USD, 0xFF, 0x80, 0x80000000, 0x7FE02000}, /* 64 * -32640 below INT32_MIN */
            {OP_USD, 0xFF, 0x7F, 0x00000000, 0x001FA040}, /* 64 * 32385 */
            {OP_UUD, 0xFF, 0xFF, 0xFFFFFFF0, 0x003F8030}, /* 64 * 65025 - 16, wrapped */
        };
        for (i = 0; i < (int)(sizeof full / sizeof full[0]); i++) {
            uint32_t g = 0;
            int m, n;
            ok = 1;
            x.M = x.N = x.K = 16;
            x.lda = x.ldb = x.ldc = 64;
            memset(x.A, full[i].a, sizeof x.A);
            memset(x.B, full[i].b, sizeof x.B);
            for (j = 0; j < 256; j++) memcpy(x.C + 4 * j, &full[i].c, 4);
            run_dp(full[i].op, 7, 6, 5, &x, got, 16 * 64);
            for (m = 0; m < 16; m++)
                for (n = 0; n < 16; n++) {
                    memcpy(&g, got + 64 * m + 4 * n, 4);
                    if (g != full[i].want) ok = 0;
                }
            memcpy(want, x.C, sizeof want);
            ref_tdpb(full[i].op == OP_SSD || full[i].op == OP_SUD, full[i].op == OP_SSD || full[i].op == OP_USD, 16,
                     16, 16, x.A, 64, x.B, 64, want, 64);
            memcpy(&g, want, 4);
            ok &= g == full[i].want;
            snprintf(name, sizeof name, "%s 16x16x16 of bytes 0x%02x and 0x%02x onto 0x%08x gives 0x%08x", op_name[full[i].op],
                     full[i].a, full[i].b, (unsigned)full[i].c, (unsigned)full[i].want);
            result(name, ok, "an element differs (reference gives 0x%08x)", (unsigned)g);
        }
    }

    /* a dot product leaves the other tiles alone and zeroes nothing it should not */
    {
        static unsigned char keep[16 * 64], out[16 * 64];
        cfg_t c;
        cfg_init(&c, 0);
        cfg_tile(&c, 0, 4, 16);
        cfg_tile(&c, 1, 4, 8);
        cfg_tile(&c, 2, 2, 16);
        cfg_tile(&c, 3, 16, 64);
        x_ldcfg(c.b);
        fill_random(s, keep, sizeof keep);
        x_load(3, keep, 64);
        fill_random(s, x.A, sizeof x.A);
        x_load(0, x.A, 16);
        x_load(1, x.A, 8);
        x_load(2, x.A, 16);
        x_dp(OP_SSD, 0, 1, 2);
        memset(out, GUARD, sizeof out);
        x_store(3, out, 64);
        result("tdpbssd leaves an unrelated tile alone", memcmp(out, keep, sizeof out) == 0, "tmm3 changed");
    }
    x_release();
}

/* ---- addressing forms written out in assembly -------------------------------------------------- */

unsigned char amx_test_rip_cfg[128] __attribute__((aligned(64))); /* named in the asm below */
static unsigned char rsp_area[65536 + 4096] __attribute__((aligned(64)));
#define LOW_ADDR 0x20000000L /* a page mapped here serves the no-base (disp32 only) forms */

AMX static void e_r13_r12x2_d8(const unsigned char *buf, long stride)
{
    __asm__ volatile("mov %0, %%r13\n\tmov %1, %%r12\n\ttileloadd 64(%%r13,%%r12,2), %%tmm2" ::"r"((uintptr_t)buf - 64),
                     "r"(stride / 2)
                     : "r12", "r13", "memory");
}

AMX static void e_r12_r9x8_dm128(const unsigned char *buf, long stride)
{
    __asm__ volatile("mov %0, %%r12\n\tmov %1, %%r9\n\ttileloadd -128(%%r12,%%r9,8), %%tmm5" ::"r"((uintptr_t)buf + 128),
                     "r"(stride / 8)
                     : "r9", "r12", "memory");
}

AMX static void e_r8_r15x4_d32(const unsigned char *buf, long stride)
{
    __asm__ volatile("mov %0, %%r8\n\tmov %1, %%r15\n\ttileloadd 0x1000(%%r8,%%r15,4), %%tmm7" ::"r"((uintptr_t)buf - 0x1000),
                     "r"(stride / 4)
                     : "r8", "r15", "memory");
}

AMX static void e_rbp_rcx(const unsigned char *buf, long stride)
{
    /* rbp cannot be clobbered: saved in r11 around the instruction */
    __asm__ volatile("mov %%rbp, %%r11\n\tmov %0, %%rbp\n\tmov %1, %%rcx\n\t"
                     "tileloadd (%%rbp,%%rcx,1), %%tmm3\n\tmov %%r11, %%rbp" ::"r"(buf),
                     "r"(stride)
                     : "r11", "rcx", "memory");
}

AMX static void e_rsp_rcx(long stride)
{
    /* rsp as base: the stack pointer is moved into rsp_area for one instruction (the signal
       frame then goes below it, in the 64 KiB under the data) */
    __asm__ volatile("mov %%rsp, %%r11\n\tmov %0, %%rsp\n\tmov %1, %%rcx\n\t"
                     "tileloadd 64(%%rsp,%%rcx,1), %%tmm6\n\tmov %%r11, %%rsp" ::"r"((uintptr_t)rsp_area + 65536),
                     "r"(stride)
                     : "r11", "rcx", "memory");
}

AMX static void e_rsi_noindex(const unsigned char *buf)
{
    __asm__ volatile("mov %0, %%rsi\n\ttileloadd 8(%%rsi), %%tmm1" ::"r"((uintptr_t)buf - 8) : "rsi", "memory");
}

AMX static void e_nobase_r10(long stride)
{
    __asm__ volatile("mov %0, %%r10\n\ttileloadd 0x20000000(,%%r10,1), %%tmm4" ::"r"(stride) : "r10", "memory");
}

AMX static void e_nobase_noindex(void)
{
    /* tileloadd tmm4, [0x20000000]: SIB base 101 with mod 00, index 100 */
    __asm__ volatile(".byte 0xc4, 0xe2, 0x7b, 0x4b, 0x24, 0x25, 0x00, 0x00, 0x00, 0x20" ::: "memory");
}

AMX static void e_t1_r11_rdxx8(const unsigned char *buf, long stride)
{
    __asm__ volatile("mov %0, %%r11\n\tmov %1, %%rdx\n\ttileloaddt1 16(%%r11,%%rdx,8), %%tmm1" ::"r"((uintptr_t)buf - 16),
                     "r"(stride / 8)
                     : "r11", "rdx", "memory");
}

AMX static void s_r14_r10x4_dm64(unsigned char *buf, long stride)
{
    __asm__ volatile("mov %0, %%r14\n\tmov %1, %%r10\n\ttilestored %%tmm3, -64(%%r14,%%r10,4)" ::"r"((uintptr_t)buf + 64),
                     "r"(stride / 4)
                     : "r10", "r14", "memory");
}

AMX static void s_rbx_r13_d32(unsigned char *buf, long stride)
{
    __asm__ volatile("mov %0, %%rbx\n\tmov %1, %%r13\n\ttilestored %%tmm6, 0x200(%%rbx,%%r13,1)" ::"r"((uintptr_t)buf - 0x200),
                     "r"(stride)
                     : "rbx", "r13", "memory");
}

AMX static void s_rdi_noindex(unsigned char *buf)
{
    __asm__ volatile("mov %0, %%rdi\n\ttilestored %%tmm0, (%%rdi)" ::"r"(buf) : "rdi", "memory");
}

AMX static void c_r9_r10x4_d32(const unsigned char *cfg)
{
    __asm__ volatile("mov %0, %%r9\n\tmov %1, %%r10\n\tldtilecfg 0x100(%%r9,%%r10,4)" ::"r"((uintptr_t)cfg - 0x100 - 4 * 3),
                     "r"(3L)
                     : "r9", "r10", "memory");
}

AMX static void c_r13_d8(const unsigned char *cfg)
{
    __asm__ volatile("mov %0, %%r13\n\tldtilecfg 8(%%r13)" ::"r"((uintptr_t)cfg - 8) : "r13", "memory");
}

AMX static void c_r12(const unsigned char *cfg)
{
    __asm__ volatile("mov %0, %%r12\n\tldtilecfg (%%r12)" ::"r"(cfg) : "r12", "memory");
}

AMX static void c_rax_r11x8_dm8(const unsigned char *cfg)
{
    __asm__ volatile("mov %0, %%rax\n\tmov %1, %%r11\n\tldtilecfg -8(%%rax,%%r11,8)" ::"r"((uintptr_t)cfg + 8 - 8 * 5),
                     "r"(5L)
                     : "rax", "r11", "memory");
}

AMX static void c_rip(void)
{
    __asm__ volatile("ldtilecfg amx_test_rip_cfg(%%rip)\n\tsttilecfg amx_test_rip_cfg+64(%%rip)" ::: "memory");
}

AMX static void c_abs(void)
{
    __asm__ volatile("ldtilecfg 0x20000000" ::: "memory");
}

AMX static void st_r15(unsigned char *out)
{
    __asm__ volatile("mov %0, %%r15\n\tsttilecfg (%%r15)" ::"r"(out) : "r15", "memory");
}

AMX static void st_rsp_r8x2_dm32(unsigned char *out)
{
    /* sttilecfg into rsp_area with rsp as base and r8 as index */
    __asm__ volatile("mov %%rsp, %%r11\n\tmov %0, %%rsp\n\tmov $16, %%r8\n\t"
                     "sttilecfg -32(%%rsp,%%r8,2)\n\tmov %%r11, %%rsp" ::"r"(out)
                     : "r8", "r11", "memory");
}

/* Constant offsets into a stack buffer: clang 14 folds them into the instruction (e.g.
   tileloadd 0x40(%rbx,%rax,1), tilestored 0x3e8(%rbx,%rax,1): disp8 and disp32), gcc 12 adds
   them first. q gets the buffer back: p's 2048 bytes with the stored rows over them. */
AMX static void x_offsets(const unsigned char *p, unsigned char *q, long stride)
{
    unsigned char local[2048];
    memcpy(local, p, sizeof local);
    BARRIER();
    _tile_loadd(5, local + 64, stride);
    _tile_stored(5, local + 1000, stride);
    BARRIER();
    memcpy(q, local, sizeof local);
}

static void test_forms(uint64_t *s)
{
    static unsigned char src[16 * 256 + 512], out[16 * 256], want[16 * 256];
    unsigned char *low = NULL;
    char why[200] = "";
    cfg_t c, o;
    int i, ok;
    const int rows = 7, colsb = 40;
    const long stride = 96; /* divisible by 8 for the scaled index forms */

    void *m = mmap((void *)LOW_ADDR, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                   -1, 0);
    if (m == (void *)LOW_ADDR) low = (unsigned char *)m;

    cfg_init(&c, 0);
    for (i = 0; i < 8; i++) cfg_tile(&c, i, rows, colsb);

#define LOAD_FORM(label, tile, call, base, step)                                                   \
    do {                                                                                           \
        x_ldcfg(c.b);                                                                              \
        call;                                                                                      \
        memset(out, GUARD, sizeof out);                                                            \
        x_store(tile, out, 64);                                                                    \
        for (i = 0; i < rows; i++) memcpy(want + 64 * i, (base) + (long)(step) * i, colsb);        \
        ok = check_region(out, 16 * 64, 64, want, 64, rows, colsb, why, sizeof why);               \
        result(label, ok, "%s", why);                                                              \
    } while (0)

    fill_random(s, src, sizeof src);
    LOAD_FORM("tileloadd 64(%r13,%r12,2): base r13 with disp8, index r12 (VEX.X) scale 2", 2,
              e_r13_r12x2_d8(src, stride), src, stride);
    fill_random(s, src, sizeof src);
    LOAD_FORM("tileloadd -128(%r12,%r9,8): base r12, disp8 -128, scale 8", 5, e_r12_r9x8_dm128(src, stride), src,
              stride);
    fill_random(s, src, sizeof src);
    LOAD_FORM("tileloadd 0x1000(%r8,%r15,4): disp32, scale 4", 7, e_r8_r15x4_d32(src, stride), src, stride);
    fill_random(s, src, sizeof src);
    LOAD_FORM("tileloadd (%rbp,%rcx,1): base rbp (mod 01, disp8 0)", 3, e_rbp_rcx(src, stride), src, stride);
    fill_random(s, rsp_area + 65536, 4096);
    LOAD_FORM("tileloadd 64(%rsp,%rcx,1): base rsp", 6, e_rsp_rcx(stride), rsp_area + 65536 + 64, stride);
    fill_random(s, src, sizeof src);
    LOAD_FORM("tileloadd 8(%rsi): no index, stride 0 (every row the same)", 1, e_rsi_noindex(src), src, 0);
    fill_random(s, src, sizeof src);
    LOAD_FORM("tileloaddt1 16(%r11,%rdx,8)", 1, e_t1_r11_rdxx8(src, stride), src, stride);
    if (low) {
        fill_random(s, low, 8192);
        LOAD_FORM("tileloadd 0x20000000(,%r10,1): no base, disp32", 4, e_nobase_r10(stride), low, stride);
        fill_random(s, low, 8192);
        LOAD_FORM("tileloadd [0x20000000]: no base, no index", 4, e_nobase_noindex(), low, 0);
    } else
        printf("note: no page at 0x%lx (mmap failed): the no-base forms were not tried\n", LOW_ADDR);

    x_ldcfg(c.b);
    fill_random(s, src, sizeof src);
    x_offsets(src, out, stride);
    memcpy(want, src, 2048);
    for (i = 0; i < rows; i++) memcpy(want + 1000 + stride * i, src + 64 + stride * i, colsb);
    result("_tile_loadd(local + 64) / _tile_stored(local + 1000): displacements chosen by the compiler",
           memcmp(out, want, 2048) == 0, "the bytes written differ");

    /* stores: load through the intrinsic, store through the form */
#define STORE_FORM(label, tile, call, step)                                                        \
    do {                                                                                           \
        x_ldcfg(c.b);                                                                              \
        fill_random(s, src, sizeof src);                                                           \
        x_load(tile, src, 64);                                                                     \
        memset(out, GUARD, sizeof out);                                                            \
        call;                                                                                      \
        memset(want, GUARD, sizeof want);                                                          \
        for (i = 0; i < rows; i++) memcpy(want + (long)(step) * i, src + 64 * i, colsb);            \
        ok = memcmp(out, want, sizeof out) == 0;                                                   \
        result(label, ok, "the bytes written differ");                                             \
    } while (0)

    STORE_FORM("tilestored -64(%r14,%r10,4): base r14, disp8 -64, index r10 scale 4", 3,
               s_r14_r10x4_dm64(out, stride), stride);
    STORE_FORM("tilestored 0x200(%rbx,%r13,1): disp32, index r13", 6, s_rbx_r13_d32(out, stride), stride);
    STORE_FORM("tilestored (%rdi): no index, every row to the same place, the last one stays", 0,
               s_rdi_noindex(out), 0);

    /* configuration forms: each loads a different configuration, read back with the intrinsic */
    {
        static unsigned char cbuf[64 * 3];
        unsigned char *cfg = cbuf + 64;
#define CFG_FORM(label, call, variant)                                                                         \
    do {                                                                                                       \
        x_release();                                                                                           \
        cfg_init(&c, 0);                                                                                       \
        cfg_tile(&c, (variant) % 8, 1 + (variant), 4 * (1 + (variant)));                                      \
        cfg_tile(&c, ((variant) + 3) % 8, 16, 64 - (variant));                                                 \
        memcpy(cfg, c.b, 64);                                                                                  \
        call;                                                                                                  \
        x_stcfg(o.b);                                                                                          \
        result(label, memcmp(o.b, c.b, 64) == 0, "configuration read back differs");                           \
    } while (0)
        CFG_FORM("ldtilecfg 0x100(%r9,%r10,4): SIB, base r9, index r10, disp32", c_r9_r10x4_d32(cfg), 1);
        CFG_FORM("ldtilecfg 8(%r13): no SIB, base r13 (VEX.B), disp8", c_r13_d8(cfg), 2);
        CFG_FORM("ldtilecfg (%r12): SIB with base r12 and no index", c_r12(cfg), 3);
        CFG_FORM("ldtilecfg -8(%rax,%r11,8): index r11 scale 8, disp8 -8", c_rax_r11x8_dm8(cfg), 4);
        CFG_FORM("ldtilecfg / sttilecfg amx_test_rip_cfg(%rip): RIP-relative", (memcpy(amx_test_rip_cfg, cfg, 64),
                 c_rip(), (void)0), 5);
        result("sttilecfg amx_test_rip_cfg+64(%rip)", memcmp(amx_test_rip_cfg + 64, c.b, 64) == 0,
               "stored configuration differs");
        if (low) CFG_FORM("ldtilecfg [0x20000000]: absolute disp32 through SIB", (memcpy(low, cfg, 64), c_abs(), (void)0), 6);
        /* store forms: configuration loaded by the intrinsic, stored by the form */
        cfg_init(&c, 0);
        cfg_tile(&c, 7, 9, 28);
        cfg_tile(&c, 2, 16, 64);
        x_ldcfg(c.b);
        memset(o.b, 0xAB, 64);
        st_r15(o.b);
        result("sttilecfg (%r15): base r15, no displacement", memcmp(o.b, c.b, 64) == 0,
               "stored configuration differs");
        memset(rsp_area + 60000, 0xAB, 64);
        st_rsp_r8x2_dm32(rsp_area + 60000);
        result("sttilecfg -32(%rsp,%r8,2): base rsp, index r8", memcmp(rsp_area + 60000, c.b, 64) == 0,
               "stored configuration differs");
    }
    if (low) munmap(low, 8192);
    x_release();
}

/* ---- threads ---------------------------------------------------------------------------------- */

#define NTHREADS 4
#define ROUNDS 25

static pthread_barrier_t barrier;

struct thread_job {
    int id, fails;
    char why[400];
};

static void *thread_main(void *arg)
{
    struct thread_job *job = (struct thread_job *)arg;
    static struct dp_case xs[NTHREADS];
    static unsigned char gots[NTHREADS][16 * 128], wants[NTHREADS][16 * 128];
    struct dp_case *x = &xs[job->id];
    unsigned char *got = gots[job->id], *want = wants[job->id];
    uint64_t seed = 0x1234567ULL * (uint64_t)(job->id + 1);
    cfg_t c, o;
    int round, i;

    /* a new thread starts unconfigured, whatever the others have loaded */
    memset(o.b, 0xAB, 64);
    x_stcfg(o.b);
    for (i = 0; i < 64; i++)
        if (o.b[i] != 0 && !job->fails++)
            snprintf(job->why, sizeof job->why, "thread %d: new thread's sttilecfg byte %d is 0x%02x", job->id, i,
                     o.b[i]);

    for (round = 0; round < ROUNDS; round++) {
        const int *tr = triples[(job->id * 3 + round) % 8];
        int op = (round + job->id) % 5, sa = op == OP_SSD || op == OP_SUD, sb = op == OP_SSD || op == OP_USD;
        if (op == OP_BF16)
            make_bf16_case(&seed, x, RANGE_NARROW); /* its shapes are replaced below */
        else {
            fill_random(&seed, x->A, sizeof x->A);
            fill_random(&seed, x->B, sizeof x->B);
            fill_random(&seed, x->C, sizeof x->C);
        }
        /* each thread its own shapes: M, N, K differ between threads in every round */
        x->M = 16 - job->id - (round % 3);
        x->N = 1 + ((job->id * 5 + round) % 16);
        x->K = 2 + ((job->id * 3 + round * 7) % 15);
        x->lda = 4 * x->K + 4 * job->id;
        x->ldb = 4 * x->N + 8;
        x->ldc = 4 * x->N + 4;
        cfg_init(&c, 0);
        cfg_tile(&c, tr[0], (unsigned)x->M, 4u * (unsigned)x->N);
        cfg_tile(&c, tr[1], (unsigned)x->M, 4u * (unsigned)x->K);
        cfg_tile(&c, tr[2], (unsigned)x->K, 4u * (unsigned)x->N);

        /* every thread does each step at the same time as the others */
        pthread_barrier_wait(&barrier);
        x_ldcfg(c.b);
        pthread_barrier_wait(&barrier);
        x_load(tr[1], x->A, x->lda);
        x_load(tr[2], x->B, x->ldb);
        x_load(tr[0], x->C, x->ldc);
        pthread_barrier_wait(&barrier);
        x_dp(op, tr[0], tr[1], tr[2]);
        pthread_barrier_wait(&barrier);
        memset(got, GUARD, sizeof gots[0]);
        x_store(tr[0], got, x->ldc);
        x_stcfg(o.b);

        if (memcmp(o.b, c.b, 64) != 0 && !job->fails++)
            snprintf(job->why, sizeof job->why, "thread %d round %d: sttilecfg shows another configuration", job->id,
                     round);
        memcpy(want, x->C, sizeof wants[0]);
        if (op == OP_BF16)
            ref_tdpbf16ps(x->M, x->N, x->K, x->A, (size_t)x->lda, x->B, (size_t)x->ldb, want, (size_t)x->ldc);
        else
            ref_tdpb(sa, sb, x->M, x->N, x->K, x->A, (size_t)x->lda, x->B, (size_t)x->ldb, want, (size_t)x->ldc);
        {
            char why[300];
            if (!check_dp(op, x, got, (size_t)(x->M * x->ldc), want, why, sizeof why) && !job->fails++)
                snprintf(job->why, sizeof job->why, "thread %d round %d %s: %s", job->id, round, op_name[op], why);
        }
    }
    x_release();
    return NULL;
}

static void test_threads(void)
{
    pthread_t th[NTHREADS];
    struct thread_job jobs[NTHREADS];
    cfg_t c, o;
    int i, fails = 0, started = 0;
    const char *why = "";

    /* the main thread keeps a configuration of its own meanwhile */
    cfg_init(&c, 0);
    cfg_tile(&c, 0, 3, 12);
    cfg_tile(&c, 7, 11, 60);
    x_ldcfg(c.b);

    pthread_barrier_init(&barrier, NULL, NTHREADS);
    for (i = 0; i < NTHREADS; i++) {
        jobs[i].id = i;
        jobs[i].fails = 0;
        jobs[i].why[0] = 0;
        if (pthread_create(&th[i], NULL, thread_main, &jobs[i]) == 0) started++;
    }
    if (started != NTHREADS) {
        result("threads", 0, "could only start %d of %d threads", started, NTHREADS);
        exit(2); /* the barrier would never open */
    }
    for (i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        fails += jobs[i].fails;
        if (jobs[i].fails && !*why) why = jobs[i].why;
    }
    pthread_barrier_destroy(&barrier);
    result("4 threads at once, each its own configuration, data and dot products (25 rounds)", fails == 0,
           "%d failures; first: %s", fails, why);
    x_stcfg(o.b);
    result("the main thread's configuration is untouched by the threads", memcmp(o.b, c.b, 64) == 0,
           "sttilecfg differs");
    x_release();
}

/* ---- faults: in a child process each ------------------------------------------------------------ */

static void d_ud2(void)
{
    __asm__ volatile("ud2");
}

static void d_cfg(int what)
{
    cfg_t c;
    cfg_init(&c, 0);
    cfg_tile(&c, 0, 16, 64);
    if (what == 0) cfg_tile(&c, 1, 16, 68);
    if (what == 1) cfg_tile(&c, 1, 17, 64);
    if (what == 2) cfg_tile(&c, 1, 0, 64);
    if (what == 3) c.b[0] = 2;
    if (what == 4) c.b[40] = 1;
    if (what == 5) c.b[2] = 1;
    x_ldcfg(c.b);
}
static void d_cfg_colsb68(void) { d_cfg(0); }
static void d_cfg_rows17(void) { d_cfg(1); }
static void d_cfg_half(void) { d_cfg(2); }
static void d_cfg_palette2(void) { d_cfg(3); }
static void d_cfg_reserved40(void) { d_cfg(4); }
static void d_cfg_reserved2(void) { d_cfg(5); }

static void d_load_unconfigured(void)
{
    static unsigned char buf[1024];
    x_load(0, buf, 64);
}

static void d_load_unconfigured_tile(void)
{
    static unsigned char buf[1024];
    cfg_t c;
    cfg_init(&c, 0);
    cfg_tile(&c, 0, 16, 64);
    x_ldcfg(c.b);
    x_load(1, buf, 64);
}

static void d_load_colsb6(void)
{
    static unsigned char buf[1024];
    cfg_t c;
    cfg_init(&c, 0);
    cfg_tile(&c, 0, 2, 6);
    x_ldcfg(c.b);
    x_load(0, buf, 64);
}

static void d_shape(void)
{
    cfg_t c;
    cfg_init(&c, 0);
    cfg_tile(&c, 0, 4, 16);
    cfg_tile(&c, 1, 4, 16);
    cfg_tile(&c, 2, 3, 16); /* rows(b) must be colsb(a)/4 = 4 */
    x_ldcfg(c.b);
    x_dp(OP_SSD, 0, 1, 2);
}

static void d_same_tile(void)
{
    cfg_t c;
    cfg_init(&c, 0);
    cfg_tile(&c, 1, 4, 16);
    cfg_tile(&c, 2, 4, 16);
    x_ldcfg(c.b);
    __asm__ volatile(".byte 0xc4, 0xe2, 0x6b, 0x5e, 0xc9"); /* tdpbssd tmm1, tmm1, tmm2 */
}

static void d_vvvv(void)
{
    __asm__ volatile(".byte 0xc4, 0xe2, 0x70, 0x49, 0xc0"); /* tilerelease with vvvv = 1110b */
}

static void d_no_sib(void)
{
    cfg_t c;
    cfg_init(&c, 0);
    cfg_tile(&c, 0, 16, 64);
    x_ldcfg(c.b);
    __asm__ volatile(".byte 0xc4, 0xe2, 0x7b, 0x4b, 0x07"); /* tileloadd tmm0, [rdi]: no SIB */
}

static void d_fp16(void)
{
    cfg_t c;
    cfg_init(&c, 0);
    cfg_tile(&c, 0, 4, 16);
    cfg_tile(&c, 1, 4, 16);
    cfg_tile(&c, 2, 4, 16);
    x_ldcfg(c.b);
    __asm__ volatile(".byte 0xc4, 0xe2, 0x73, 0x5c, 0xc2"); /* tdpfp16ps tmm0, tmm2, tmm1 (AMX-FP16) */
}

static void d_kill(void)
{
    kill(getpid(), SIGILL);
}

/* Run fn in a child with stderr to a pipe; the wait status and what it wrote come back. */
static void run_child(void (*fn)(void), int *status, char *err, size_t errn)
{
    int pfd[2];
    size_t got = 0;
    ssize_t r;
    pid_t pid;
    fflush(stdout);
    fflush(stderr);
    if (pipe(pfd) != 0) {
        *status = -1;
        err[0] = 0;
        return;
    }
    pid = fork();
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        dup2(pfd[1], 2);
        close(pfd[0]);
        close(pfd[1]);
        fn();
        _exit(0);
    }
    close(pfd[1]);
    while (got < errn - 1 && (r = read(pfd[0], err + got, errn - 1 - got)) > 0) got += (size_t)r;
    err[got] = 0;
    close(pfd[0]);
    if (pid < 0 || waitpid(pid, status, 0) != pid) *status = -1;
}

static void test_faults(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
        int sig, code; /* death by signal sig, or exit status code */
        const char *says;
    } cases[] = {
        {"ud2 (not AMX) dies of SIGILL", d_ud2, SIGILL, 0, "not an AMX instruction"},
        {"kill(SIGILL) is not swallowed", d_kill, SIGILL, 0, "sent by a process"},
        {"ldtilecfg colsb 68: #GP, exit 3", d_cfg_colsb68, 0, 3, "colsb above 64"},
        {"ldtilecfg rows 17: #GP, exit 3", d_cfg_rows17, 0, 3, "rows above 16"},
        {"ldtilecfg rows 0 with colsb 64: #GP, exit 3", d_cfg_half, 0, 3, "only one of rows and colsb"},
        {"ldtilecfg palette 2: #GP, exit 3", d_cfg_palette2, 0, 3, "palette above 1"},
        {"ldtilecfg reserved byte 40: #GP, exit 3", d_cfg_reserved40, 0, 3, "reserved byte"},
        {"ldtilecfg reserved byte 2: #GP, exit 3", d_cfg_reserved2, 0, 3, "reserved byte"},
        {"tileloadd before ldtilecfg: #UD, SIGILL", d_load_unconfigured, SIGILL, 0, "tiles not configured"},
        {"tileloadd into a tile with rows 0: #UD, SIGILL", d_load_unconfigured_tile, SIGILL, 0, "tile not configured"},
        {"tileloadd with colsb 6: #UD, SIGILL", d_load_colsb6, SIGILL, 0, "multiple of 4"},
        {"tdpbssd with rows(b) != colsb(a)/4: #UD, SIGILL", d_shape, SIGILL, 0, "shapes do not fit"},
        {"tdpbssd tmm1, tmm1, tmm2: #UD, SIGILL", d_same_tile, SIGILL, 0, "same tile"},
        {"tilerelease with VEX.vvvv != 1111b: #UD, SIGILL", d_vvvv, SIGILL, 0, "vvvv"},
        {"tileloadd without SIB: #UD, SIGILL", d_no_sib, SIGILL, 0, "without a SIB"},
        {"tdpfp16ps (AMX-FP16, not emulated): SIGILL", d_fp16, SIGILL, 0, "not emulated"},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[1024], name[200];
        int st, ok;
        run_child(cases[i].fn, &st, err, sizeof err);
        if (cases[i].sig)
            ok = st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == cases[i].sig;
        else
            ok = st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == cases[i].code;
        ok = ok && strstr(err, "amx_emu") && strstr(err, cases[i].says);
        snprintf(name, sizeof name, "fault: %s", cases[i].name);
        result(name, ok, "wait status 0x%x (%s %d), stderr \"%s\"", (unsigned)st,
               st != -1 && WIFSIGNALED(st) ? "signal" : "exit",
               st != -1 && WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), err);
    }
}

/* ---- main ----------------------------------------------------------------------------------- */

int main(void)
{
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    unsigned long before, after;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (amx_emu_install() != 0) {
        result("amx_emu_install", 0, "the CPU has AMX but Linux does not let this process use it");
        printf("%d passed, %d failed\n", passed, failed);
        return 1;
    }
    printf("note: %s; TDPBF16PS order: %s\n",
           amx_emu_native() ? "this CPU runs AMX natively, nothing is emulated" : "AMX instructions are emulated",
           AMX_EMU_BF16_PAIRWISE ? "two partial sums per element (current SDM)" : "one accumulator (older SDM)");
    before = amx_emu_count();

    test_config(&seed);
    test_config_rip();
    test_load_store(&seed);
    test_zero_release(&seed);
    test_bf16_random(&seed);
    test_fma_helper(&seed);
    test_bf16_chosen();
    test_int8(&seed);
    test_forms(&seed);
    test_threads();

    after = amx_emu_count();
    if (amx_emu_native())
        printf("note: native AMX, amx_emu_count() stays %lu\n", after);
    else {
        unsigned long one;
        result("amx_emu_count() counts the emulated instructions", after > before + 1000, "%lu before, %lu after",
               before, after);
        x_release();
        one = amx_emu_count();
        result("amx_emu_count() goes up by one per instruction", one == after + 1, "%lu then %lu", after, one);
        test_faults();
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
