/* test_mve_dot: mve_dot (mve_dot.h) on the Cortex-M55 image in QEMU, against a dot product
   in double precision, on random inputs of every length 0..100 at every float alignment.

   A length passes when every trial is within 1e-5 x sum |a_i b_i| of the double result (a bound
   that holds for any summation order of n <= 100 products in float). The kernel must also give
   bit for bit what mod.h's own mod__dot computes in this build (its Helium path): same
   operations, same order. Prints `N passed, M failed`; exits 0 only if nothing failed. */
#define MOD_NO_STDIO
#define MOD_NO_MALLOC
#define MOD_ASSERT(x) ((x) ? (void)0 : __builtin_trap())
#define MOD_IMPLEMENTATION
#include "../../mod.h" /* for mod__dot, the library's kernel in this build */
#include "mve_dot.h"
#include "board.h"

#include <stdio.h>
#include <string.h>

#if !(defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2))
#error "test_mve_dot needs float MVE (build with -mcpu=cortex-m55 -mfloat-abi=hard)"
#endif

#define MAX_N 100
#define TRIALS 8

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rng(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)((z ^ (z >> 31)) >> 32);
}

/* uniform in [-1, 1), scaled by 2^e with e in [-8, 8] for one trial in four */
static float rnd(int wide) {
    float x = (float)((int32_t)rng()) * (1.0f / 2147483648.0f);
    if (wide) {
        int e = (int)(rng() % 17u) - 8;
        while (e > 0) { x *= 2.0f; e--; }
        while (e < 0) { x *= 0.5f; e++; }
    }
    return x;
}

/* plain C, for the speed comparison (GCC keeps a float reduction in order: not vectorized) */
static float __attribute__((noinline)) dot_scalar(const float *a, const float *b, int n) {
    float s = 0.0f;
    int i;
    for (i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static float buf_a[MAX_N + 4] __attribute__((aligned(16)));
static float buf_b[MAX_N + 4] __attribute__((aligned(16)));
static float big_a[4096] __attribute__((aligned(16)));
static float big_b[4096] __attribute__((aligned(16)));

int main(void) {
    int n, passed = 0, failed = 0, bitsame = 0, total = 0;
    double worst = 0.0;
    int worst_n = -1;
    uint64_t per_kilotick;

    board_timer_start();
    per_kilotick = board_calibrate();
    for (n = 0; n <= MAX_N; n++) {
        int trial, ok = 1;
        for (trial = 0; trial < TRIALS; trial++) {
            /* alignments: 16-byte aligned, and 4, 8, 12 bytes past it */
            const int oa = trial % 4, ob = (trial / 2) % 4, wide = trial % 4 == 3;
            float *a = buf_a + oa, *b = buf_b + ob;
            double ref = 0.0, mag = 0.0, err;
            float got, lib;
            int i;
            for (i = 0; i < n; i++) {
                double p;
                a[i] = rnd(wide);
                b[i] = rnd(wide);
                p = (double)a[i] * (double)b[i]; /* exact: 24 + 24 bits fit a double */
                ref += p;
                mag += p < 0 ? -p : p;
            }
            got = mve_dot(a, b, n);
            lib = mod__dot(a, b, n);
            err = (double)got - ref;
            if (err < 0) err = -err;
            if (!(err <= 1e-5 * mag)) {
                ok = 0;
                printf("FAIL n=%d trial %d: mve %.9g, double %.17g, |diff| %.3g > 1e-5 x %.6g\n", n, trial,
                       (double)got, ref, err, mag);
            }
            if (mag > 0 && err / mag > worst) { worst = err / mag; worst_n = n; }
            bitsame += memcmp(&got, &lib, sizeof got) == 0;
            total++;
        }
        if (ok) passed++;
        else failed++;
    }
    printf("%s lengths 0..%d x %d trials (alignments 0/4/8/12 bytes): within 1e-5 of sum |a_i b_i|; "
           "worst relative error %.3g (n=%d)\n", failed ? "FAIL" : "ok  ", MAX_N, TRIALS, worst, worst_n);
    if (bitsame == total) passed++;
    else failed++;
    printf("%s bit-identical to mod.h's mod__dot (Helium path) in %d of %d cases\n", bitsame == total ? "ok  " : "FAIL",
           bitsame, total);

    /* speed: instructions per multiply-add over 4096 elements */
    if (per_kilotick) {
        uint32_t t0, t_mve, t_scalar;
        volatile float sink;
        int i;
        for (i = 0; i < 4096; i++) { big_a[i] = rnd(0); big_b[i] = rnd(0); }
        t0 = board_ticks();
        sink = mve_dot(big_a, big_b, 4096);
        t_mve = board_ticks_since(t0);
        t0 = board_ticks();
        sink = dot_scalar(big_a, big_b, 4096);
        t_scalar = board_ticks_since(t0);
        (void)sink;
        printf("  instructions for n = 4096: mve %llu, scalar C %llu (QEMU -icount: instructions, not cycles)\n",
               (unsigned long long)((uint64_t)t_mve * per_kilotick / 1000u),
               (unsigned long long)((uint64_t)t_scalar * per_kilotick / 1000u));
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
