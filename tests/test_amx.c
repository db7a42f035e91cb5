/* The AMX tiles of MOD_AMX (>>backend-amx), on any x86-64 Linux machine with AVX-512: where the
   CPU and Linux allow AMX the tile instructions run natively; elsewhere tests/amx_emu.h
   carries them out from the SIGILL they raise, by the instruction set's definition, and the
   library is told AMX is usable (mod__amx_state). Checked: the register helpers (transpose,
   bf16 rounding, the B-tile packing, the result tiles) against plain C; that asking for AMX
   on a machine without it is a clean refusal; products of bf16 weights against the
   definition (activations rounded to bf16, products added in order in f32: bit for bit when
   emulated), for shapes whose rows and columns are and are not multiples of 32, batches
   across MOD__AMX_TB, biases, and two threads; whole prompts against the double-precision
   reference, against the vector path and against token-by-token decoding, within the bound
   docs/PERFORMANCE.md states. */
#define _GNU_SOURCE
#ifndef MOD_AMX
#define MOD_AMX
#endif
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "mkmodel.h"
#include "ref.h"
#include "check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef MOD__AMX
#include "amx_emu.h"

/* The emulator adds TDPBF16PS's products one by one in column order (the definition here), or,
   built with AMX_EMU_BF16_PAIRWISE=1, in two partial sums per instruction, as the current
   manual describes it: products are then checked to the rounding bound, as on hardware. */
#if defined(AMX_EMU_BF16_PAIRWISE) && AMX_EMU_BF16_PAIRWISE
#define IN_ORDER 0
#else
#define IN_ORDER 1
#endif

static uint64_t rng = 88172645463325252ull;
static uint32_t next32(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static float uniform(void) { return (float)next32() / 4294967296.0f * 2.0f - 1.0f; }

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* f32 -> bf16 by the definition: the nearest bf16, ties to the even one; NaN quiet */
static uint16_t bf16_of(float f) {
    const uint32_t u = f2u(f);
    uint32_t lo, hi;
    if (f != f) return (uint16_t)((u >> 16) | 0x40);
    hi = u >> 16; lo = u & 0xffff;
    if (lo > 0x8000 || (lo == 0x8000 && (hi & 1))) hi++;
    return (uint16_t)hi;
}
static float bf16_val(uint16_t h) { return u2f((uint32_t)h << 16); }

static void test_helpers(void) {
    int i, j, bad = 0, trial;
    /* transpose */
    for (trial = 0; trial < 20; trial++) {
        uint32_t a[16][16], b[16][16];
        __m512i r[16];
        for (i = 0; i < 16; i++)
            for (j = 0; j < 16; j++) a[i][j] = next32();
        for (i = 0; i < 16; i++) r[i] = _mm512_loadu_si512((const void *)a[i]);
        mod__t16(r);
        for (i = 0; i < 16; i++) _mm512_storeu_si512((void *)b[i], r[i]);
        for (i = 0; i < 16; i++)
            for (j = 0; j < 16; j++) bad += b[i][j] != a[j][i];
    }
    check(bad == 0, "mod__t16 transposes 16 x 16 (%d elements wrong)", bad);
    /* bf16 rounding: ties both ways, near-ties, the largest finite values, infinities, NaN, -0,
       subnormals, and random bit patterns */
    {
        static const uint32_t edge[] = {0x3f808000u, 0x3f818000u, 0x3f807fffu, 0x3f808001u, 0x7f7fffffu, 0xff7fffffu,
                                        0x7f7f7fffu, 0x7f800000u, 0xff800000u, 0x7fc00001u, 0xffa00000u, 0x7f800001u,
                                        0x80000000u, 0x00000000u, 0x00008000u, 0x00018000u, 0x807fffffu, 0x3f800000u};
        float v[16];
        uint16_t out[16];
        int n = 0;
        bad = 0;
        for (trial = 0; trial < 4096; trial++) {
            for (i = 0; i < 16; i++) {
                const size_t k = (size_t)(trial * 16 + i);
                v[i] = u2f(k < sizeof edge / sizeof edge[0] ? edge[k] : next32());
            }
            _mm256_storeu_si256((__m256i *)(void *)out, _mm512_cvtepi32_epi16(mod__bf16_round(_mm512_loadu_ps(v))));
            for (i = 0; i < 16; i++, n++)
                if (out[i] != bf16_of(v[i])) {
                    if (bad++ < 5) printf("  bf16 of %08x: %04x, expected %04x\n", f2u(v[i]), out[i], bf16_of(v[i]));
                }
        }
        check(bad == 0, "mod__bf16_round: %d of %d values differ from the rounding rule", bad, n);
    }
    /* B tiles: row p of tile kb holds columns kb*32 + 2p, + 2p + 1 of each token */
    {
        static const int shapes[][2] = {{16, 32}, {5, 96}, {16, 100}, {0, 64}, {1, 17}, {11, 33}};
        size_t s;
        for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int tn = shapes[s][0], cols = shapes[s][1], nkb = (cols + 31) / 32;
            float *x = (float *)malloc(sizeof(float) * 16 * (size_t)(cols + 3));
            uint16_t *xb = (uint16_t *)malloc((size_t)nkb * 1024 + 64);
            int kb, p, t, e;
            for (i = 0; i < 16 * (cols + 3); i++) x[i] = uniform() * 4.0f;
            memset(xb, 0xee, (size_t)nkb * 1024 + 64);
            mod__amx_pack_x(xb, x, (size_t)cols + 3, tn, cols);
            bad = 0;
            for (kb = 0; kb < nkb; kb++)
                for (p = 0; p < 16; p++)
                    for (t = 0; t < 16; t++)
                        for (e = 0; e < 2; e++) {
                            const int c = kb * 32 + 2 * p + e;
                            const uint16_t want = t < tn && c < cols ? bf16_of(x[t * (cols + 3) + c]) : 0;
                            bad += xb[(size_t)kb * 512 + (size_t)p * 32 + (size_t)t * 2 + (size_t)e] != want;
                        }
            for (i = 0; i < 32; i++) bad += xb[(size_t)nkb * 512 + (size_t)i] != 0xeeee; /* nothing past the tiles */
            check(bad == 0, "mod__amx_pack_x, %d tokens of %d columns: %d values wrong", tn, cols, bad);
            free(x); free(xb);
        }
    }
    /* result tiles: c[row][token] into y[token][row], nr rows and tn tokens only */
    {
        static const int shapes[][2] = {{16, 16}, {8, 16}, {16, 3}, {1, 1}};
        size_t s;
        for (s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int nr = shapes[s][0], tn = shapes[s][1];
            float c[256], y[17 * 20];
            int r, t;
            for (i = 0; i < 256; i++) c[i] = uniform();
            for (i = 0; i < 17 * 20; i++) y[i] = -7.0f;
            mod__amx_put(y, 20, c, nr, tn);
            bad = 0;
            for (t = 0; t < 17; t++)
                for (r = 0; r < 20; r++) {
                    const float want = t < tn && r < nr ? c[r * 16 + t] : -7.0f;
                    bad += f2u(y[t * 20 + r]) != f2u(want);
                }
            check(bad == 0, "mod__amx_put, %d rows x %d tokens: %d values wrong", nr, tn, bad);
        }
    }
}

/* The models of the product and prompt checks, by kind: 0 bf16 with columns 64 and 128 (rows
   multiples of 32), 1 bf16 with columns 100 and 72 (not), 2 q8_0 and 3 q4_0 with columns 64
   and 96 and an output projection of 300 rows (9 blocks of 32 and 12 rows). */
typedef struct built {
    unsigned char *buf;
    size_t size;
    mod_model *model;
} built;
static const char *const kind_name[4] = {"bf16", "bf16 odd shapes", "q8_0", "q4_0"};
static int build(built *b, int kind, int routed, int bias) {
    mkm_opts o;
    mod_error err;
    int i;
    mkm_defaults(&o);
    o.dtype = kind < 2 ? MOD_DTYPE_BF16 : kind == 2 ? MOD_DTYPE_Q8_0 : MOD_DTYPE_Q4_0;
    o.seed = 11 + (uint64_t)kind;
    o.n_layers = 3;
    o.dim = kind == 1 ? 100 : 64;
    o.n_heads = kind == 1 ? 5 : 4;
    o.n_kv_heads = kind == 1 ? 5 : 2;
    o.hidden_dim = kind == 0 ? 128 : kind == 1 ? 72 : 96;
    o.max_seq_len = 320;
    o.qkv_bias = bias;
    o.mlp_bias = bias;
    for (i = 0; i < o.n_layers; i++) o.routed[i] = routed && (i % 2);
    if (routed) { o.router_const = 1; o.router_const_bias = 1.0f; } /* routes that rounding cannot change */
    memset(b, 0, sizeof *b);
    if (mkm_build(&o, &b->buf, &b->size) != 0) return -1;
    if (mod_model_load_memory(&b->model, b->buf, b->size, NULL, &err) != MOD_OK) {
        printf("load failed: %s\n", err.message);
        return -1;
    }
    return 0;
}

static mod_session *session(const mod_model *m, int amx, int threads) {
    mod_session_desc d;
    mod_session *s = NULL;
    const int keep = mod__amx_state;
    memset(&d, 0, sizeof d);
    d.threads = threads;
    d.max_batch = 300;
    mod__amx_state = amx ? 1 : -1;
    if (mod_session_create(&s, m, &d, NULL) != MOD_OK) s = NULL;
    mod__amx_state = keep;
    return s;
}

/* y = x W^T + b by the definition: each x rounded to bf16, the products added in column order in
   f32 (the products of two bf16 are exact). */
static void product_def(float *y, double *bound, const float *x, const mod__tensor *w, const mod__tensor *b, int n) {
    const uint16_t *wd = (const uint16_t *)w->data;
    int t, r, k;
    for (t = 0; t < n; t++)
        for (r = 0; r < w->rows; r++) {
            float acc = 0.0f;
            double mag = 0.0;
            for (k = 0; k < w->cols; k++) {
                const float p = bf16_val(bf16_of(x[(size_t)t * w->cols + k])) * bf16_val(wd[(size_t)r * w->cols + k]);
                acc += p;
                mag += fabs((double)p);
            }
            if (b && b->data) {
                acc += ((const float *)b->data)[r];
                mag += fabs((double)((const float *)b->data)[r]);
            }
            y[(size_t)t * w->rows + r] = acc;
            /* any order of the cols + 1 additions, each rounded to 2^-24 relative, both sums:
               |difference| <= 2 (cols + 1) 2^-24 sum |terms| */
            bound[(size_t)t * w->rows + r] = 2.0 * (w->cols + 1) * ldexp(1.0, -24) * mag;
        }
}

/* The same for q8_0 and q4_0 weights: x quantized to int8 blocks by the library's quantizer
   (checked against the portable rule in test_kernels), then per block the exact integer sum,
   times (activation scale x weight scale), added by one fused multiply-add, block by block. */
static void product_def_int(float *y, const float *x, const mod__tensor *w, const mod__tensor *b, int n) {
    const int nb = w->cols / 32, q4 = w->dtype == MOD_DTYPE_Q4_0, bs = q4 ? 18 : 34;
    unsigned char *xq = (unsigned char *)malloc((size_t)nb * 36);
    const unsigned char *wd = (const unsigned char *)w->data;
    int t, r, k, j;
    for (t = 0; t < n; t++) {
        mod__quantize_q8(xq, x + (size_t)t * w->cols, w->cols);
        for (r = 0; r < w->rows; r++) {
            float acc = 0.0f;
            for (k = 0; k < nb; k++) {
                const unsigned char *wb = wd + ((size_t)r * nb + k) * bs, *xb = xq + (size_t)k * 36;
                const float dw = mod__f16_to_f32((uint16_t)(wb[0] | wb[1] << 8));
                float dx;
                int32_t sum = 0;
                memcpy(&dx, xb, 4);
                for (j = 0; j < 32; j++) {
                    const int wv = q4 ? ((j < 16 ? wb[2 + j] & 15 : wb[2 + j - 16] >> 4) - 8) : (int)(signed char)wb[2 + j];
                    sum += wv * (int)(signed char)xb[4 + j];
                }
                acc = fmaf((float)sum, dx * dw, acc);
            }
            if (b && b->data) acc += ((const float *)b->data)[r];
            y[(size_t)t * w->rows + r] = acc;
        }
    }
    free(xq);
}

static void test_products(int emulated) {
    static const int batches[] = {16, 37, 300};
    int kind, bi, threads;
    for (kind = 0; kind < 4; kind++) {
        built b;
        if (!check(build(&b, kind, 0, 1) == 0, "%s model builds", kind_name[kind])) return;
        for (threads = 1; threads <= 2; threads++) {
            mod_session *s = session(b.model, 1, threads);
            if (!check(s != NULL && s->amx_x != NULL, "a session with AMX forced holds the AMX buffers")) continue;
            for (bi = 0; bi < 3; bi++) {
                const mod__layer *l = &b.model->layers[0];
                const mod__tensor *ws[4], *bs[4];
                int wi;
                ws[0] = &l->wq; bs[0] = &l->bq; ws[1] = &l->w_gate; bs[1] = &l->b_gate; ws[2] = &l->w_down; bs[2] = &l->b_down;
                ws[3] = &b.model->output; bs[3] = NULL;
                for (wi = 0; wi < 4; wi++) {
                    const mod__tensor *w = ws[wi];
                    const int n = batches[bi], integer = kind >= 2;
                    float *x = (float *)malloc(sizeof(float) * (size_t)n * w->cols);
                    float *y = (float *)malloc(sizeof(float) * (size_t)n * w->rows);
                    float *want = (float *)malloc(sizeof(float) * (size_t)n * w->rows);
                    double *bound = (double *)malloc(sizeof(double) * (size_t)n * w->rows);
                    const unsigned long before = amx_emu_count();
                    size_t i, bad = 0, over = 0;
                    double worst = 0.0;
                    for (i = 0; i < (size_t)n * w->cols; i++) x[i] = uniform() * 3.0f;
                    for (i = 0; i < (size_t)n * w->rows; i++) y[i] = NAN;
                    mod__matmul(s, y, x, n, w, bs[wi]);
                    if (integer) {
                        product_def_int(want, x, w, bs[wi], n);
                        for (i = 0; i < (size_t)n * w->rows; i++) bound[i] = 0.0; /* integer sums: exact in any order */
                    } else {
                        product_def(want, bound, x, w, bs[wi], n);
                    }
                    for (i = 0; i < (size_t)n * w->rows; i++) {
                        const double e = fabs((double)y[i] - (double)want[i]);
                        bad += f2u(y[i]) != f2u(want[i]);
                        over += !(e <= bound[i]);
                        if (!(e <= worst)) worst = e;
                    }
                    if (emulated)
                        check(amx_emu_count() > before, "the %s %dx%d product ran on tiles (%lu instructions)", kind_name[kind], w->rows,
                              w->cols, amx_emu_count() - before);
                    if (integer || (emulated && IN_ORDER)) {
                        check(bad == 0, "AMX product, %s %dx%d, %d tokens, %d thread(s): %zu of %zu values differ from the definition "
                              "(largest %g)", kind_name[kind], w->rows, w->cols, n, threads, bad, (size_t)n * w->rows, worst);
                    } else { /* another order of the additions: the same sum to rounding */
                        check(over == 0, "AMX product, %s %dx%d, %d tokens: %zu values beyond the rounding bound of the definition "
                              "(largest difference %g)", kind_name[kind], w->rows, w->cols, n, over, worst);
                    }
                    free(x); free(y); free(want); free(bound);
                }
            }
            mod_session_free(s);
        }
        mod_model_free(b.model); free(b.buf);
    }
}

/* max |a - b| / max |b| */
static double rel(const float *a, const float *b, size_t n) {
    double md = 0, mx = 1e-30;
    size_t i;
    for (i = 0; i < n; i++) {
        const double e = fabs((double)a[i] - (double)b[i]);
        if (!(e <= md)) md = e;
        if (fabs((double)b[i]) > mx) mx = fabs((double)b[i]);
    }
    return md / mx;
}

/* The bound on whole prompts: max |difference| / max |logit| (docs/PERFORMANCE.md, "AMX"). */
#define PROMPT_BOUND 2e-2
/* q8_0 and q4_0: the same exact int8 block sums, only summed in another order; an activation
   can still step to a neighbouring int8 value where rounding moved it across a half */
#define INT_BOUND 5e-2

/* Nothing past a matrix is read: the matrix is placed so that it ends where an inaccessible
   page begins, and the product runs in a child process (a read past the end kills it; run
   before OpenMP has started threads, which a child would not have). The
   matrices whose last row block is partial, or whose rows are not a multiple of 32 columns:
   the weights are then copied, not read in place. */
static void test_bounds(void) {
    static const int kinds[] = {1, 2, 3};
    size_t k;
    for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const int kind = kinds[k];
        built b;
        mod_session *s;
        const mod__tensor *w;
        mod__tensor t;
        size_t bytes, page = (size_t)sysconf(_SC_PAGESIZE), span;
        unsigned char *map;
        int ok = 0, n = 37, status = 0;
        pid_t pid;
        if (!check(build(&b, kind, 0, 0) == 0, "model builds")) return;
        s = session(b.model, 1, 1); /* one thread: OpenMP's threads do not survive fork() */
        w = kind == 1 ? &b.model->layers[0].w_gate : &b.model->output; /* 72 x 100 bf16; 300 x 64 int8 */
        t = *w;
        bytes = kind == 1 ? (size_t)w->rows * (size_t)w->cols * 2 : (size_t)w->rows * (size_t)(w->cols / 32) * (kind == 2 ? 34 : 18);
        span = (bytes + page - 1) / page * page;
        map = (unsigned char *)mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (s && map != MAP_FAILED && mprotect(map + span, page, PROT_NONE) == 0) {
            memcpy(map + span - bytes, w->data, bytes);
            t.data = map + span - bytes;
            fflush(stdout);
            pid = fork();
            if (pid == 0) {
                float *x = (float *)calloc((size_t)n * (size_t)w->cols, sizeof(float));
                float *y = (float *)malloc(sizeof(float) * (size_t)n * (size_t)w->rows);
                int i;
                for (i = 0; i < n * w->cols; i++) x[i] = uniform();
                mod__matmul(s, y, x, n, &t, NULL);
                _exit(0);
            }
            ok = pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        }
        check(ok, "the %s %dx%d product reads nothing past its matrix (child status %d)", kind_name[kind], w->rows, w->cols, status);
        if (map != MAP_FAILED) munmap(map, span + page);
        mod_session_free(s);
        mod_model_free(b.model); free(b.buf);
    }
}

static void test_prompts(void) {
    int kind, routed;
    for (kind = 0; kind < 4; kind++)
        for (routed = 0; routed < 2; routed++) {
            built b;
            const int n = 40;
            int32_t toks[40];
            int V, i;
            float *amx, *vec, *dec;
            double *ref;
            mod_session *sa, *sv;
            if (!check(build(&b, kind, routed, 0) == 0, "model builds")) return;
            V = mod_model_config(b.model)->vocab_size;
            for (i = 0; i < n; i++) toks[i] = (int32_t)(next32() % (uint32_t)V);
            amx = (float *)malloc(sizeof(float) * (size_t)n * V);
            vec = (float *)malloc(sizeof(float) * (size_t)n * V);
            dec = (float *)malloc(sizeof(float) * (size_t)n * V);
            ref = (double *)malloc(sizeof(double) * (size_t)n * V);
            sa = session(b.model, 1, 2);
            sv = session(b.model, 0, 2);
            if (check(sa && sv && sa->amx_x && !sv->amx_x, "sessions with and without AMX") &&
                check(mod_prefill(sa, toks, n, amx) == MOD_OK && mod_prefill(sv, toks, n, vec) == MOD_OK, "both prompts run") &&
                check(ref_forward(b.buf, b.size, toks, n, REF_RULE_CAUSAL, 0, 0, 0, ref) == 0, "the reference runs")) {
                double to_ref = 0.0, mx = 1e-30, vec_ref = 0.0;
                const double to_vec = rel(amx, vec, (size_t)n * V);
                double to_dec;
                size_t k;
                for (k = 0; k < (size_t)n * V; k++) {
                    const double e = fabs((double)amx[k] - ref[k]), f = fabs((double)vec[k] - ref[k]);
                    if (!(e <= to_ref)) to_ref = e;
                    if (!(f <= vec_ref)) vec_ref = f;
                    if (fabs(ref[k]) > mx) mx = fabs(ref[k]);
                }
                to_ref /= mx; vec_ref /= mx;
                /* decoding stays on the vector path: token by token on the AMX session */
                mod_session_reset(sa);
                for (i = 0; i < n; i++) {
                    if (mod_decode(sa, toks[i]) != MOD_OK) break;
                    memcpy(dec + (size_t)i * V, mod_session_logits(sa), sizeof(float) * (size_t)V);
                }
                to_dec = rel(amx, dec, (size_t)n * V);
                printf("  %s, %s: AMX prompt against the reference %.2e (vector path %.2e), against the vector path %.2e, "
                       "against decoding %.2e\n", kind_name[kind], routed ? "MoD" : "dense", to_ref, vec_ref, to_vec, to_dec);
                if (kind < 2) {
                    check(to_ref <= PROMPT_BOUND && to_vec <= PROMPT_BOUND && to_dec <= PROMPT_BOUND,
                          "AMX prompt (%s, %s) within %g of the reference (%g), the vector path (%g) and decoding (%g)", kind_name[kind],
                          routed ? "MoD" : "dense", PROMPT_BOUND, to_ref, to_vec, to_dec);
                    check(to_vec > 0.0, "the AMX prompt is not the vector path's (bf16 activations change the rounding)");
                } else { /* the same int8 sums, scaled and added in another order */
                    check(to_vec <= INT_BOUND && to_dec <= INT_BOUND && to_ref <= vec_ref + INT_BOUND,
                          "AMX prompt (%s, %s) within %g of the vector path (%g) and decoding (%g), and as near the reference as the "
                          "vector path (%g, %g)", kind_name[kind], routed ? "MoD" : "dense", INT_BOUND, to_vec, to_dec, to_ref, vec_ref);
                }
                check(i == n && rel(dec, vec, (size_t)n * V) == 0.0, "decoding on the AMX session equals the vector path's prompt (%g)",
                      rel(dec, vec, (size_t)n * V));
            }
            mod_session_free(sa); mod_session_free(sv);
            free(amx); free(vec); free(dec); free(ref);
            mod_model_free(b.model); free(b.buf);
        }
}

int main(void) {
    const char *why = NULL;
    const int native = mod_amx(&why);
    int emulated;
    printf("  AMX here: %s (%s)\n", native ? "yes" : "no", why);
    check(why != NULL && why[0] != 0, "mod_amx says why");
    check(native || mod__amx_state < 0, "a machine without AMX is a refusal, not a crash (state %d)", mod__amx_state);
    test_helpers();
    check_group("helpers");
    if (!native && !check(amx_emu_install() == 0, "the AMX emulator installs")) return check_finish();
    emulated = !native;
    {
        unsigned long before = amx_emu_count();
        double flops;
        mod__amx_state = 1;
        flops = mod__amx_peak(3);
        check(flops == 3.0 * 4 * 16 * 16 * 32 * 2 && (!emulated || amx_emu_count() - before == 3 * 4 + 10),
              "the peak loop: %g operations, %lu tile instructions", flops, amx_emu_count() - before);
        mod__amx_state = native ? 1 : -1;
    }
    test_bounds(); /* first: before any OpenMP threads exist */
    check_group("bounds");
    test_products(emulated);
    check_group("products");
    test_prompts();
    check_group("prompts");
    return check_finish();
}
#else
int main(void) {
    const char *why = NULL;
    check(mod_amx(&why) == 0 && why != NULL, "without AVX-512 (or not on x86-64 Linux) AMX is not built in: %s", why ? why : "");
    printf("  AMX is not built for this target; only its absence is checked\n");
    return check_finish();
}
#endif
