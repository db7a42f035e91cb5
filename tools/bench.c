/* mod-bench: prefill and decode speed of mod.h, next to this machine's own limits (memory
   bandwidth from a STREAM-style triad, peak FMA throughput), and the dense-vs-MoD payoff.

   usage: mod-bench [MODEL.mod ...] [options]     (see --help)
   Without models it builds a synthetic dense model and its MoD twin in memory. At the end it
   times the model's f32 matrix product shapes on their own (and OpenBLAS's sgemm on them when
   linked with it). */
#define _POSIX_C_SOURCE 200809L
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_setaffinity, to pin the --busy competitor */
#endif
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "../examples/cli.h"
#include "mkmodel.h"
#ifdef MOD_BENCH_OPENBLAS
#include <cblas.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#define BENCH_BUSY 1
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#include <sys/prctl.h>
#endif
#endif

#define MAX_LIST 16

typedef struct opts {
    int threads[MAX_LIST], n_threads;
    int prompts[MAX_LIST], n_prompts;
    int dtypes[MAX_LIST], n_dtypes;
    int decode, depth, repeat, json, limits, width, layers, no_mmap;
    mod_kv_dtype kv;
    int busy;  /* 0: off, 1: the competitor pinned to the last core, 2: unpinned */
} opts;

static void usage(FILE *f) {
    fprintf(f,
        "usage: mod-bench [MODEL.mod ...] [options]\n"
        "  --synthetic WxL     dense + MoD twin of width W and L blocks when no model is given\n"
        "                      (default 768x12: 12 heads, MLP 2048, vocab 32000, routed every\n"
        "                      other block at capacity 0.125)\n"
        "  --dtypes LIST       stored dtypes of the synthetic models: f32, f16, bf16, q8_0, q4_0\n"
        "                      (default f32,f16,bf16)\n"
        "  --threads LIST      thread counts (default 1,2)\n"
        "  --prompts LIST      prefill lengths (default 16,64,256,1024, capped by the context)\n"
        "  --decode N          tokens decoded after the prompt of --depth (default 128)\n"
        "  --depth N           tokens in the context before decoding starts (default 16)\n"
        "  --kv f32|f16|q8_0   KV cache element type (default f32; also --cache-type)\n"
        "  --repeat N          repetitions; the median is reported, dense and MoD runs\n"
        "                      alternate and their speed ratio is taken pair by pair (default 3)\n"
        "                      (the machine's limits are the best of 5, as STREAM reports them;\n"
        "                      prefill is also shown against a short peak-FMA measurement made\n"
        "                      right before each repetition: \"alongside\", the median share)\n"
        "  --no-limits         skip the bandwidth and peak-FMA measurements\n"
        "  --no-mmap           read model files into memory instead of mapping them\n"
        "  --busy              instead of the tables: the default thread count's speed with\n"
        "                      both cores free and with a CPU-bound process pinned to the last\n"
        "                      core, next to one thread's and to the last --threads count with\n"
        "                      that core busy (configurations alternate, medians reported)\n"
        "  --busy-unpinned     the same with the competitor free to run on any core\n"
        "  --json              one JSON object per line instead of a table\n"
        "  -h, --help          this text\n"
        "At the end: the model's f32 matrix product shapes on their own at 256 tokens, weights\n"
        "in cache (and OpenBLAS's sgemm on the same operands when mod-bench was linked with it).\n");
}

static int parse_list(const char *s, int *out, int *n, int lo, int hi) {
    *n = 0;
    while (*s && *n < MAX_LIST) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < lo || v > hi || (*end && *end != ',')) return -1;
        out[(*n)++] = (int)v;
        s = *end ? end + 1 : end;
    }
    return *n ? 0 : -1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- the machine's limits ------------------------------------------------------------- */

/* The limits are the best of their repetitions, as STREAM reports them: a limit is what the
   machine can do, and a slower repetition only means someone else had the core. Against the
   best, every share below is on the cautious side. */
static double least(const double *v, int n) {
    double m = v[0];
    int i;
    for (i = 1; i < n; i++) if (v[i] < m) m = v[i];
    return m;
}

static double measure_bandwidth(int threads, int repeat) {
    const size_t n = (size_t)32 << 20; /* 3 arrays of 128 MiB: far past the caches */
    float *a = (float *)malloc(n * sizeof *a), *b = (float *)malloc(n * sizeof *b), *c = (float *)malloc(n * sizeof *c);
    double t[16], best;
    int r;
    long i;
    if (!a || !b || !c) { free(a); free(b); free(c); return 0; }
    (void)threads;
    MOD__PRAGMA(omp parallel for num_threads(threads) schedule(static))
    for (i = 0; i < (long)n; i++) { a[i] = 0.0f; b[i] = 1.0f; c[i] = 2.0f; }
    for (r = 0; r < repeat && r < 16; r++) {
        double t0 = cli_now();
        MOD__PRAGMA(omp parallel for num_threads(threads) schedule(static))
        for (i = 0; i < (long)n; i++) a[i] = b[i] + 0.5f * c[i];
        t[r] = cli_now() - t0;
    }
    best = least(t, repeat < 16 ? repeat : 16);
    free(a); free(b); free(c);
    return 3.0 * (double)n * sizeof(float) / best; /* bytes per second, STREAM's count */
}

/* Iterations of the peak-FMA loop: about 7 ms per repetition on one AVX-512 core, 14 ms with
   AVX2, 0.1 s for the scalar loop (which the measurements alongside cut to 7 ms). */
#define PEAK_ITERS 50000000L
#ifdef MOD__VL
#define PEAK_ITERS_ALONGSIDE PEAK_ITERS
#else
#define PEAK_ITERS_ALONGSIDE (PEAK_ITERS / 16)
#endif
#ifdef MOD__AMX
/* The AMX bf16 peak (>>backend-amx): every thread runs rounds of four tile products on tiles
   that stay in place; the best of `repeat` runs. A round is 4 x 16 x 16 x 32 multiply-adds. */
#define AMX_ROUNDS 2000000L
static double measure_amx_peak(int threads, int repeat) {
    double best = 0.0;
    int r;
    for (r = 0; r < repeat; r++) {
        const double t0 = cli_now();
        double flops = 0.0, dt;
        int th;
        (void)threads;
        MOD__PRAGMA(omp parallel for num_threads(threads) schedule(static, 1) reduction(+ : flops))
        for (th = 0; th < threads; th++) flops += mod__amx_peak(AMX_ROUNDS);
        dt = cli_now() - t0;
        if (dt > 0 && flops / dt > best) best = flops / dt;
    }
    return best;
}
#endif
static double measure_peak_flops(int threads, int repeat, long iters) {
    double t[16];
    int r;
    for (r = 0; r < repeat && r < 16; r++) {
        double t0 = cli_now();
        int th;
        (void)threads;
        MOD__PRAGMA(omp parallel for num_threads(threads) schedule(static, 1))
        for (th = 0; th < threads; th++) {
#ifdef MOD__VL
            /* twelve independent chains a = a * x + y hide the FMA latency; the values settle
               near 1, so no infinities or denormals slow anything down */
            mod__v a0 = mod__vdup(1.0f), a1 = mod__vdup(1.1f), a2 = mod__vdup(1.2f), a3 = mod__vdup(1.3f);
            mod__v a4 = mod__vdup(1.4f), a5 = mod__vdup(1.5f), a6 = mod__vdup(1.6f), a7 = mod__vdup(1.7f);
            mod__v a8 = mod__vdup(1.8f), a9 = mod__vdup(1.9f), a10 = mod__vdup(2.0f), a11 = mod__vdup(2.1f);
            const mod__v x = mod__vdup(0.9999999f), y = mod__vdup(1e-7f);
            float sink[MOD__VL];
            long k;
            for (k = 0; k < iters / MOD__VL; k++) {
                a0 = mod__vfma(y, a0, x); a1 = mod__vfma(y, a1, x); a2 = mod__vfma(y, a2, x);
                a3 = mod__vfma(y, a3, x); a4 = mod__vfma(y, a4, x); a5 = mod__vfma(y, a5, x);
                a6 = mod__vfma(y, a6, x); a7 = mod__vfma(y, a7, x); a8 = mod__vfma(y, a8, x);
                a9 = mod__vfma(y, a9, x); a10 = mod__vfma(y, a10, x); a11 = mod__vfma(y, a11, x);
            }
            a0 = mod__vfma(a0, a1, a2); a3 = mod__vfma(a3, a4, a5); a6 = mod__vfma(a6, a7, a8); a9 = mod__vfma(a9, a10, a11);
            a0 = mod__vfma(a0, a3, a6); a0 = mod__vfma(a0, a9, x);
            mod__vstore(sink, a0);
            if (sink[0] == 12345.0f) printf("!");
#else
            float a[12];
            long k;
            int j;
            for (j = 0; j < 12; j++) a[j] = 1.0f + 0.1f * (float)j;
            for (k = 0; k < iters; k++)
                for (j = 0; j < 12; j++) a[j] = a[j] * 0.9999999f + 1e-7f;
            if (a[0] == 12345.0f) printf("!");
#endif
        }
        t[r] = cli_now() - t0;
    }
    /* 12 chains x 2 flops per lane per iteration */
#ifdef MOD__VL
    return (double)threads * (double)(iters / MOD__VL) * 12.0 * 2.0 * MOD__VL / least(t, repeat < 16 ? repeat : 16);
#else
    return (double)threads * (double)iters * 12.0 * 2.0 / least(t, repeat < 16 ? repeat : 16);
#endif
}

/* ---- one model ----------------------------------------------------------------------- */

typedef struct result {
    double prefill_tps[MAX_LIST], prefill_flops[MAX_LIST], prefill_work[MAX_LIST];
    double prefill_rep[MAX_LIST][16], decode_rep[16]; /* each repetition's seconds */
    double prefill_peak[MAX_LIST][16];                /* the peak measured just before each */
    double prefill_alongside[MAX_LIST];               /* median share of those peaks (0: none) */
    double decode_tps, decode_bytes_per_token, decode_kv_bytes_per_token; /* weights + KV read; the KV part */
    double weight_bytes, kv_bytes, kv_bytes_routed, kv_bytes_if_dense, session_bytes;
    double processed_share[64];
    int n_routed;
} result;

static double tensor_bytes(const mod__tensor *t) {
    int ok = 1;
    return t->data ? (double)mod__matrix_bytes(t->dtype, (uint64_t)t->rows, (uint64_t)t->cols, &ok) : 0.0;
}

static const char *kv_name(mod_kv_dtype kv) { return kv == MOD_KV_F16 ? "f16" : kv == MOD_KV_Q8_0 ? "q8_0" : "f32"; }

/* Bytes a KV cache of this dtype takes per cached key or value element (docs/MODEL.md "KV
   cache"): q8_0 keeps 32 int8 and an f16 scale per block of head_dim. */
static double kv_value_bytes(mod_kv_dtype kv, int head_dim) {
    if (kv == MOD_KV_F16) return 2.0;
    if (kv == MOD_KV_Q8_0) return (head_dim + 2.0 * ((head_dim + 31) / 32)) / head_dim;
    return 4.0;
}

static double block_bytes(const mod__layer *l) {
    return tensor_bytes(&l->wq) + tensor_bytes(&l->wk) + tensor_bytes(&l->wv) + tensor_bytes(&l->wo) +
           tensor_bytes(&l->w_gate) + tensor_bytes(&l->w_up) + tensor_bytes(&l->w_down);
}

/* Runs up to two models with their repetitions interleaved (model 0, model 1, model 0, ...), so
   that both see the same moments of a shared machine; each result keeps its repetitions' times
   for ratios taken pair by pair. */
static int run_models(const mod_model *const *ms, int count, const opts *o, int threads, result *res) {
    mod_session *ss[2] = { NULL, NULL };
    int32_t *toks;
    int i, k, p, maxp = 0, ctx, vocab = 1 << 30;
    for (p = 0; p < o->n_prompts; p++) if (o->prompts[p] > maxp) maxp = o->prompts[p];
    ctx = maxp > o->depth + o->decode ? maxp : o->depth + o->decode;
    for (k = 0; k < count; k++) if (mod_model_config(ms[k])->vocab_size < vocab) vocab = mod_model_config(ms[k])->vocab_size;
    toks = (int32_t *)malloc(sizeof *toks * (size_t)ctx);
    if (!toks) return -1;
    for (i = 0; i < ctx; i++) toks[i] = (int32_t)((i * 7919u + 13u) % (unsigned)vocab);
    for (k = 0; k < count; k++) {
        const mod_model *m = ms[k];
        const mod_config *c = mod_model_config(m);
        mod_session_desc d;
        size_t sz = 0;
        memset(&res[k], 0, sizeof res[k]);
        memset(&d, 0, sizeof d);
        d.max_tokens = ctx;
        d.threads = threads;
        d.prompt_routing = MOD_ROUTING_TOPK;
        d.kv_dtype = o->kv;
        mod_session_memory_required(m, &d, &sz, NULL);
        res[k].session_bytes = (double)sz;
        if (mod_session_create(&ss[k], m, &d, NULL) != MOD_OK) { while (k--) mod_session_free(ss[k]); free(toks); return -1; }
        res[k].weight_bytes = tensor_bytes(&m->embed) + tensor_bytes(&m->output);
        for (i = 0; i < c->n_layers; i++) res[k].weight_bytes += block_bytes(&m->layers[i]);
    }
    for (p = 0; p < o->n_prompts; p++) {
        const int n = o->prompts[p];
        int r;
        if (n > ctx) continue;
        for (r = 0; r < o->repeat; r++)
            for (k = 0; k < count; k++) {
                double t0;
                mod_session_reset(ss[k]);
                /* the peak right before, over a few milliseconds: on a shared machine the
                   FMA throughput a core gets moves by a quarter from one second to the next */
                res[k].prefill_peak[p][r] = o->limits ? measure_peak_flops(threads, 3, PEAK_ITERS_ALONGSIDE) : 0;
                t0 = cli_now();
                mod_prefill(ss[k], toks, n, NULL);
                res[k].prefill_rep[p][r] = cli_now() - t0;
            }
        for (k = 0; k < count; k++) {
            mod_block_stats st;
            double t[16], sec;
            mod_session_stats(ss[k], -1, &st);
            memcpy(t, res[k].prefill_rep[p], sizeof t); /* median sorts its argument */
            sec = median(t, o->repeat);
            res[k].prefill_tps[p] = n / sec;
            res[k].prefill_flops[p] = st.flops / sec;
            res[k].prefill_work[p] = st.flops;
            /* every call of a length does the same work (the same tokens, top-k routing) */
            for (r = 0; r < o->repeat; r++)
                t[r] = res[k].prefill_peak[p][r] > 0 ? st.flops / res[k].prefill_rep[p][r] / res[k].prefill_peak[p][r] : 0;
            res[k].prefill_alongside[p] = median(t, o->repeat);
        }
    }
    /* decoding: a prompt of o->depth tokens, then o->decode tokens one at a time (causal routing) */
    {
        int r, l;
        uint64_t seen0[2][256], proc0[2][256], kv0[2][256];
        double t[16];
        for (r = 0; r < o->repeat; r++)
            for (k = 0; k < count; k++) {
                const mod_config *c = mod_model_config(ms[k]);
                double t0;
                mod_session_reset(ss[k]);
                mod_prefill(ss[k], toks, o->depth, NULL);
                for (l = 0; l < c->n_layers && l < 256; l++) {
                    mod_block_stats st;
                    mod_session_stats(ss[k], l, &st);
                    seen0[k][l] = st.tokens_seen;
                    proc0[k][l] = st.tokens_processed;
                    kv0[k][l] = (uint64_t)st.kv_entries;
                }
                t0 = cli_now();
                for (i = 0; i < o->decode; i++) mod_decode(ss[k], toks[o->depth + i]);
                res[k].decode_rep[r] = cli_now() - t0;
            }
        for (k = 0; k < count; k++) {
            const mod_model *m = ms[k];
            const mod_config *c = mod_model_config(m);
            double bytes, kv_read = 0;
            memcpy(t, res[k].decode_rep, sizeof t); /* median sorts its argument */
            res[k].decode_tps = o->decode / median(t, o->repeat);
            /* bytes of weights one decoded token reads: a block it skips reads none of its own */
            bytes = tensor_bytes(c->tied_embeddings ? &m->embed : &m->output) +
                    tensor_bytes(&m->embed) / c->vocab_size;
            for (l = 0; l < c->n_layers; l++) {
                mod_block_stats st;
                /* bytes of one cached token's key and value */
                const double kvd = (double)c->n_kv_heads * c->head_dim * kv_value_bytes(o->kv, c->head_dim) / 4.0;
                mod_session_stats(ss[k], l, &st);
                if (l < 256) {
                    /* the cache entries each decoded token read: a processed token appends
                       its entry and attends over all (the last sliding_window with a window) */
                    uint64_t e;
                    double sum = 0;
                    for (e = kv0[k][l] + 1; e <= (uint64_t)st.kv_entries; e++)
                        sum += c->sliding_window && e > (uint64_t)c->sliding_window ? (double)c->sliding_window : (double)e;
                    kv_read += o->decode > 0 ? sum * kvd * 8.0 / o->decode : 0;
                }
                if (st.routed && l < 256) {
                    /* the decoded tokens only, not the prompt */
                    double seen = (double)(st.tokens_seen - seen0[k][l]), share = seen > 0 ? (double)(st.tokens_processed - proc0[k][l]) / seen : 0;
                    res[k].processed_share[res[k].n_routed++] = share;
                    bytes += share * block_bytes(&m->layers[l]);
                    res[k].kv_bytes_routed += st.kv_entries * kvd * 8.0;
                    res[k].kv_bytes_if_dense += st.tokens_seen * kvd * 8.0;
                } else {
                    bytes += block_bytes(&m->layers[l]);
                }
                res[k].kv_bytes += st.kv_entries * kvd * 8.0;
            }
            res[k].decode_bytes_per_token = bytes + kv_read;
            res[k].decode_kv_bytes_per_token = kv_read;
        }
    }
    for (k = 0; k < count; k++) mod_session_free(ss[k]);
    free(toks);
    return 0;
}

/* the median over repetitions of b's time over a's: a's speedup over b, pair by pair */
static double paired_speedup(const double *a, const double *b, int n) {
    double q[16];
    int r;
    for (r = 0; r < n && r < 16; r++) q[r] = b[r] / a[r];
    return median(q, n < 16 ? n : 16);
}

static const char *dtype_name(int d) { return mf_dtype_name(d) ? mf_dtype_name(d) : "?"; }

/* The AMX bf16 peak of each thread count, and of the one being run (0: AMX not in use or not
   measured). */
static double amx_peak[MAX_LIST], amx_peak_now;

static void print_result(const char *name, const mod_model *m, const opts *o, int threads, const result *r,
                         double bw, double peak) {
    int p, i;
    const mod_config *c = mod_model_config(m);
    if (o->json) {
        printf("{\"model\":\"%s\",\"dtype\":\"%s\",\"threads\":%d,\"weight_bytes\":%.0f,\"kv_bytes\":%.0f",
               name, dtype_name(m->embed.dtype), threads, r->weight_bytes, r->kv_bytes);
        printf(",\"prefill\":[");
        for (p = 0; p < o->n_prompts; p++)
            printf("%s{\"tokens\":%d,\"tok_s\":%.2f,\"gflop_s\":%.2f,\"share_of_peak\":%.3f,\"share_of_peak_alongside\":%.3f}",
                   p ? "," : "", o->prompts[p], r->prefill_tps[p], r->prefill_flops[p] / 1e9,
                   peak > 0 ? r->prefill_flops[p] / peak : 0.0, r->prefill_alongside[p]);
        printf("],\"kv\":\"%s\",\"session_bytes\":%.0f", kv_name(o->kv), r->session_bytes);
        printf(",\"decode\":{\"depth\":%d,\"tokens\":%d,\"tok_s\":%.2f,\"bytes_per_token\":%.0f,\"kv_bytes_per_token\":%.0f,\"gb_s\":%.3f",
               o->depth, o->decode, r->decode_tps, r->decode_bytes_per_token, r->decode_kv_bytes_per_token,
               r->decode_tps * r->decode_bytes_per_token / 1e9);
        if (bw > 0) printf(",\"share_of_bandwidth\":%.3f}", r->decode_tps * r->decode_bytes_per_token / bw);
        else printf(",\"share_of_bandwidth\":null}");
        printf(",\"processed_share\":[");
        for (i = 0; i < r->n_routed; i++) printf("%s%.4f", i ? "," : "", r->processed_share[i]);
        printf("]}\n");
        return;
    }
    printf("%-22s %-4s %2dt  weights %7.1f MB  KV (%s) %6.1f MB  session %.1f MB", name, dtype_name(m->embed.dtype), threads,
           r->weight_bytes / 1e6, kv_name(o->kv), r->kv_bytes / 1e6, r->session_bytes / 1e6);
    if (c->n_routed) printf(" (routed blocks %.1f of %.1f MB)", r->kv_bytes_routed / 1e6, r->kv_bytes_if_dense / 1e6);
    printf("\n");
    for (p = 0; p < o->n_prompts; p++)
        if (r->prefill_tps[p] > 0) {
            printf("    prefill %5d tok: %9.1f tok/s  %7.1f GFLOP/s  %5.1f%% of peak  (%.1f%% alongside)", o->prompts[p],
                   r->prefill_tps[p], r->prefill_flops[p] / 1e9, peak > 0 ? 100.0 * r->prefill_flops[p] / peak : 0.0,
                   100.0 * r->prefill_alongside[p]);
            /* bf16 weights on AMX tiles: the share of the AMX peak too */
            if (amx_peak_now > 0 && m->layers[0].wq.dtype == MOD_DTYPE_BF16)
                printf("  %5.1f%% of the AMX peak", 100.0 * r->prefill_flops[p] / amx_peak_now);
            printf("\n");
        }
    printf("    decode  %5d tok at depth %d: %9.1f tok/s  %7.2f GB/s  ", o->decode, o->depth, r->decode_tps,
           r->decode_tps * r->decode_bytes_per_token / 1e9);
    if (bw > 0) printf("   %5.1f%% of bandwidth", 100.0 * r->decode_tps * r->decode_bytes_per_token / bw);
    else printf("(bandwidth not measured)");
    printf(" (%.1f MB read per token: %.1f of weights, %.1f of KV cache)\n", r->decode_bytes_per_token / 1e6,
           (r->decode_bytes_per_token - r->decode_kv_bytes_per_token) / 1e6, r->decode_kv_bytes_per_token / 1e6);
    if (r->n_routed) {
        printf("    decode: share of tokens each routed block processed:");
        for (i = 0; i < r->n_routed; i++) printf(" %.0f%%", 100.0 * r->processed_share[i]);
        printf("\n");
    }
}

/* n bytes on a 64-byte boundary; *raw is the allocation to free (NULL when out of memory). */
static void *aligned64(size_t n, void **raw) {
    unsigned char *p = (unsigned char *)malloc(n + 64);
    *raw = p;
    return p ? (void *)(p + (64 - (size_t)((uintptr_t)p % 64)) % 64) : NULL;
}

/* *raw is the allocation to free, *data the model: a copy on a 64-byte boundary, where a
   mapped file would put it too (mkm_build's buffer is only as aligned as realloc makes it, and
   vector loads that straddle cache lines cost up to a third of the speed here). */
static int build_synthetic(const opts *o, int routed, int dtype, unsigned char **raw, unsigned char **data, size_t *size) {
    mkm_opts k;
    unsigned char *b;
    int i;
    mkm_defaults(&k);
    k.vocab_size = 32000;
    k.dim = o->width;
    k.n_layers = o->layers;
    k.n_heads = o->width / 64 > 0 ? o->width / 64 : 1;
    k.n_kv_heads = k.n_heads;
    k.hidden_dim = o->width * 8 / 3 / 64 * 64;
    k.max_seq_len = 1024;
    k.tied = 0;
    k.dtype = dtype;
    for (i = 0; i < k.n_layers; i++) { k.routed[i] = routed && (i % 2 == 1); k.capacity[i] = 0.125f; }
    if (mkm_build(&k, &b, size)) return 1;
    {
        void *r;
        *data = (unsigned char *)aligned64(*size, &r);
        *raw = (unsigned char *)r;
    }
    if (!*data) { free(b); return 1; }
    memcpy(*data, b, *size);
    free(b);
    return 0;
}

/* ---- a busy core ----------------------------------------------------------------------- */

#ifdef BENCH_BUSY
/* A CPU-bound child process: pinned to the last core this process may use (Linux), or left
   to the scheduler. */
static pid_t start_competitor(int pinned) {
    pid_t pid = fork();
    if (pid == 0) {
        volatile double x = 1.0;
#ifdef __linux__
        cpu_set_t set;
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* no spinning orphan if mod-bench is killed */
        if (pinned && sched_getaffinity(0, sizeof set, &set) == 0) {
            int cpu, last = -1;
            for (cpu = 0; cpu < CPU_SETSIZE; cpu++) if (CPU_ISSET(cpu, &set)) last = cpu;
            CPU_ZERO(&set);
            if (last >= 0) { CPU_SET(last, &set); sched_setaffinity(0, sizeof set, &set); }
        }
#else
        (void)pinned;
#endif
        for (;;) x = x * 1.0000001 + 1e-9;
    }
    if (pid > 0) { /* let it start */
        struct timespec pause;
        pause.tv_sec = 0;
        pause.tv_nsec = 50000000L;
        nanosleep(&pause, NULL);
    }
    return pid;
}
static void stop_competitor(pid_t pid) {
    if (pid > 0) { kill(pid, SIGKILL); waitpid(pid, NULL, 0); }
}

/* The default thread count (threads 0) free and busy, one thread free, and the last --threads count
   threads busy, alternating repetition by repetition; medians of decode and prefill speed. */
static int run_busy(const char *name, const mod_model *m, const opts *o) {
    static const char *label[4] = { "1 thread, cores free", "default, cores free", "default, one core busy", "" };
    const int most = o->threads[o->n_threads - 1], threads[4] = { 1, 0, 0, most }, busy[4] = { 0, 0, 1, 1 };
    double dec[4][16], pre[4][MAX_LIST][16], med[4], premed[4][MAX_LIST];
    char forced[64];
    opts one = *o;
    int r, c, p, chosen = 0;
    mod_session *s;
    if (mod_session_create(&s, m, NULL, NULL) == MOD_OK) { chosen = mod_session_threads(s); mod_session_free(s); }
    one.repeat = 1;
    for (r = 0; r < o->repeat; r++)
        for (c = 0; c < 4; c++) {
            result res;
            pid_t pid = busy[c] ? start_competitor(o->busy == 1) : 0;
            int bad;
            if (busy[c] && pid <= 0) { fprintf(stderr, "error: cannot start the competitor\n"); return -1; }
            bad = run_models(&m, 1, &one, threads[c], &res);
            stop_competitor(pid);
            if (bad) return -1;
            dec[c][r] = res.decode_tps;
            for (p = 0; p < o->n_prompts; p++) pre[c][p][r] = res.prefill_tps[p];
        }
    for (c = 0; c < 4; c++) {
        med[c] = median(dec[c], o->repeat);
        for (p = 0; p < o->n_prompts; p++) premed[c][p] = median(pre[c][p], o->repeat);
    }
    snprintf(forced, sizeof forced, "%d thread%s, one core busy", most, most > 1 ? "s" : "");
    if (o->json) {
        printf("{\"busy\":{\"model\":\"%s\",\"competitor\":\"%s\",\"default_threads\":%d,\"forced_threads\":%d,\"decode_tok_s\":"
               "{\"one_free\":%.2f,\"default_free\":%.2f,\"default_busy\":%.2f,\"forced_busy\":%.2f}}}\n",
               name, o->busy == 1 ? "pinned" : "unpinned", chosen, most, med[0], med[1], med[2], med[3]);
        return 0;
    }
    printf("%s: default %d thread%s; competitor %s; median of %d\n", name, chosen, chosen > 1 ? "s" : "",
           o->busy == 1 ? "pinned to the last core" : "unpinned", o->repeat);
    for (c = 0; c < 4; c++) {
        printf("    %-30s decode %9.1f tok/s (%3.0f%% of 1 thread)", c == 3 ? forced : label[c], med[c], 100.0 * med[c] / med[0]);
        for (p = 0; p < o->n_prompts; p++)
            if (premed[c][p] > 0) printf("  prefill %d: %.1f tok/s", o->prompts[p], premed[c][p]);
        printf("\n");
    }
    return 0;
}
#endif

/* ---- single matrix products ------------------------------------------------------------ */

/* The model's three product shapes at 256 tokens (q/k/v/o, gate/up, w_down) with f32 weights
   small enough to stay in the caches: how near the peak the register tiles come with no
   memory traffic for the weights. With OpenBLAS linked, its sgemm on the same operands. */
#define PRODUCT_TOKENS 256

#ifdef MOD_BENCH_OPENBLAS
static double time_openblas(int M, int N, int K, const float *A, const float *Bm, float *C, int inner, int threads) {
    double t0;
    int k;
    openblas_set_num_threads(threads);
    t0 = cli_now();
    for (k = 0; k < inner; k++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, Bm, K, 0.0f, C, N);
    return cli_now() - t0;
}
#endif

static double time_modh(mod_session *s, float *y, const float *x, const mod__tensor *w, int inner) {
    double t0 = cli_now();
    int k;
    for (k = 0; k < inner; k++) mod__matmul(s, y, x, PRODUCT_TOKENS, w, NULL);
    return cli_now() - t0;
}

/* One product's operands, the weights made up, 64-byte aligned. */
typedef struct operands {
    void *raw[3];
    float *w, *x, *y;
    mod__tensor t;
} operands;
static int operands_make(operands *op, int rows, int cols) {
    size_t i;
    op->w = (float *)aligned64(sizeof(float) * (size_t)rows * cols, &op->raw[0]);
    op->x = (float *)aligned64(sizeof(float) * (size_t)PRODUCT_TOKENS * cols, &op->raw[1]);
    op->y = (float *)aligned64(sizeof(float) * (size_t)PRODUCT_TOKENS * rows, &op->raw[2]);
    if (!op->w || !op->x || !op->y) return -1;
    for (i = 0; i < (size_t)rows * cols; i++) op->w[i] = (float)((i * 2654435761u) % 1000u) / 1000.0f - 0.5f;
    for (i = 0; i < (size_t)PRODUCT_TOKENS * cols; i++) op->x[i] = (float)((i * 40503u) % 1000u) / 1000.0f - 0.5f;
    memset(&op->t, 0, sizeof op->t);
    op->t.data = op->w; op->t.dtype = MOD_DTYPE_F32; op->t.rows = rows; op->t.cols = cols;
    return 0;
}
static void operands_free(operands *op) { free(op->raw[0]); free(op->raw[1]); free(op->raw[2]); }

static void products(const mod_model *m, const opts *o, const double *peak) {
    const mod_config *c = mod_model_config(m);
    const int shape[3][2] = { { c->dim, c->dim }, { c->hidden_dim, c->dim }, { c->dim, c->hidden_dim } };
    double gf[MAX_LIST][3], gb[MAX_LIST][3]; /* GFLOP/s of mod.h and of OpenBLAS (0: not run) */
    int inner[MAX_LIST][3], ti, si, r;
    memset(gf, 0, sizeof gf);
    memset(gb, 0, sizeof gb);
    /* mod.h, every thread count */
    for (ti = 0; ti < o->n_threads; ti++) {
        mod_session *s;
        mod_session_desc d;
        memset(&d, 0, sizeof d);
        d.max_tokens = 16;
        d.threads = o->threads[ti];
        if (mod_session_create(&s, m, &d, NULL) != MOD_OK) return;
        for (si = 0; si < 3; si++) {
            double t[16], warm;
            operands op;
            inner[ti][si] = 1;
            if (operands_make(&op, shape[si][0], shape[si][1]) == 0) {
                /* the first run brings the matrix into the caches and sets how many products
                   one timing takes (about 20 ms of work) */
                warm = time_modh(s, op.y, op.x, &op.t, 1);
                inner[ti][si] = warm > 0 && warm < 0.02 ? (int)(0.02 / warm) + 1 : 1;
                for (r = 0; r < o->repeat; r++) t[r] = time_modh(s, op.y, op.x, &op.t, inner[ti][si]) / inner[ti][si];
                gf[ti][si] = 2.0 * PRODUCT_TOKENS * shape[si][0] * shape[si][1] / median(t, o->repeat);
            }
            operands_free(&op);
        }
        mod_session_free(s);
    }
#ifdef MOD_BENCH_OPENBLAS
    /* then OpenBLAS: its idle threads keep polling for a while after a multi-threaded call,
       which would take a core from mod.h's runs */
    for (ti = 0; ti < o->n_threads; ti++)
        for (si = 0; si < 3; si++) {
            double t[16];
            operands op;
            if (operands_make(&op, shape[si][0], shape[si][1]) == 0) {
                time_openblas(PRODUCT_TOKENS, shape[si][0], shape[si][1], op.x, op.w, op.y, 1, o->threads[ti]);
                for (r = 0; r < o->repeat; r++)
                    t[r] = time_openblas(PRODUCT_TOKENS, shape[si][0], shape[si][1], op.x, op.w, op.y, inner[ti][si], o->threads[ti]) /
                           inner[ti][si];
                gb[ti][si] = 2.0 * PRODUCT_TOKENS * shape[si][0] * shape[si][1] / median(t, o->repeat);
            }
            operands_free(&op);
        }
#endif
    if (!o->json)
        printf("f32 matrix products, %d tokens, weights in cache (median of %d)%s\n", PRODUCT_TOKENS, o->repeat,
#ifdef MOD_BENCH_OPENBLAS
               "; mod.h | OpenBLAS sgemm"
#else
               ""
#endif
        );
    for (ti = 0; ti < o->n_threads; ti++)
        for (si = 0; si < 3; si++) {
            const int threads = o->threads[ti];
            const double pk = peak[ti], a = gf[ti][si], b = gb[ti][si];
            if (a <= 0) continue;
            if (o->json) {
                printf("{\"product\":{\"threads\":%d,\"tokens\":%d,\"rows\":%d,\"cols\":%d,\"gflop_s\":%.2f,\"peak_share\":%.3f",
                       threads, PRODUCT_TOKENS, shape[si][0], shape[si][1], a / 1e9, pk > 0 ? a / pk : 0.0);
                if (b > 0) printf(",\"openblas_gflop_s\":%.2f,\"openblas_peak_share\":%.3f", b / 1e9, pk > 0 ? b / pk : 0.0);
                printf("}}\n");
            } else {
                printf("    %5d x %5d, %d thread%s: %6.1f GFLOP/s", shape[si][0], shape[si][1], threads, threads > 1 ? "s" : " ", a / 1e9);
                if (pk > 0) printf(" %5.1f%% of peak", 100.0 * a / pk);
                if (b > 0) printf("  | %6.1f GFLOP/s", b / 1e9);
                if (b > 0 && pk > 0) printf(" %5.1f%% of peak", 100.0 * b / pk);
                printf("\n");
            }
        }
}

int main(int argc, char **argv) {
    opts o;
    const char *paths[32];
    int n_paths = 0, i, ti, di;
    double bw[MAX_LIST], peak[MAX_LIST];
    memset(&o, 0, sizeof o);
    o.n_threads = 2; o.threads[0] = 1; o.threads[1] = 2;
    o.n_prompts = 4; o.prompts[0] = 16; o.prompts[1] = 64; o.prompts[2] = 256; o.prompts[3] = 1024;
    o.n_dtypes = 3; o.dtypes[0] = 0; o.dtypes[1] = 1; o.dtypes[2] = 2;
    o.decode = 128; o.depth = 16; o.repeat = 3; o.limits = 1; o.width = 768; o.layers = 12;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!strcmp(a, "--json")) { o.json = 1; continue; }
        if (!strcmp(a, "--no-limits")) { o.limits = 0; continue; }
        if (!strcmp(a, "--no-mmap")) { o.no_mmap = 1; continue; }
        if (!strcmp(a, "--busy")) { o.busy = 1; continue; }
        if (!strcmp(a, "--busy-unpinned")) { o.busy = 2; continue; }
        if (a[0] != '-') { if (n_paths < 32) paths[n_paths++] = a; continue; }
        if (!v) { fprintf(stderr, "error: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "--threads")) bad = parse_list(v, o.threads, &o.n_threads, 1, 1024);
        else if (!strcmp(a, "--prompts")) bad = parse_list(v, o.prompts, &o.n_prompts, 1, 1 << 20);
        else if (!strcmp(a, "--decode")) bad = cli_int(v, 1, 1 << 20, &o.decode);
        else if (!strcmp(a, "--depth")) bad = cli_int(v, 1, 1 << 20, &o.depth);
        else if (!strcmp(a, "--kv") || !strcmp(a, "--cache-type")) bad = cli_kv(v, &o.kv);
        else if (!strcmp(a, "--repeat")) bad = cli_int(v, 1, 15, &o.repeat);
        else if (!strcmp(a, "--synthetic")) bad = sscanf(v, "%dx%d", &o.width, &o.layers) != 2 || o.width < 64 || o.width % 64 || o.layers < 1 || o.layers > 64;
        else if (!strcmp(a, "--dtypes")) {
            char buf[64], *tok;
            o.n_dtypes = 0;
            strncpy(buf, v, sizeof buf - 1);
            buf[sizeof buf - 1] = 0;
            for (tok = strtok(buf, ","); tok && o.n_dtypes < MAX_LIST; tok = strtok(NULL, ","))
                o.dtypes[o.n_dtypes++] = mf_dtype_parse(tok);
            for (di = 0; di < o.n_dtypes; di++) bad |= o.dtypes[di] < 0;
            bad |= o.n_dtypes == 0;
        } else { fprintf(stderr, "error: unknown option '%s'\n", a); return 2; }
        i++;
        if (bad) { fprintf(stderr, "error: invalid value '%s' for %s\n", v, a); return 2; }
    }
    if (!o.json) {
        const char *why;
        const int amx = mod_amx(&why);
        printf("mod.h %s, SIMD path: %s; AMX: %s%s\n", mod_version(), MOD__SIMD, amx ? "" : "no, ", why);
    }
    if (o.busy) {
#ifdef BENCH_BUSY
        o.limits = 0;
        if (n_paths == 0) { /* the synthetic models */
            for (di = 0; di < o.n_dtypes; di++)
                for (i = 0; i < 2; i++) {
                    unsigned char *buf, *data;
                    size_t size;
                    mod_model *m;
                    char name[64];
                    if (build_synthetic(&o, i, o.dtypes[di], &buf, &data, &size) || mod_model_load_memory(&m, data, size, NULL, NULL)) {
                        fprintf(stderr, "error: cannot build the synthetic model\n");
                        return 1;
                    }
                    snprintf(name, sizeof name, "%s-%dx%d %s", i ? "mod" : "dense", o.width, o.layers, dtype_name(o.dtypes[di]));
                    if (run_busy(name, m, &o)) { fprintf(stderr, "error: cannot run %s\n", name); return 1; }
                    mod_model_free(m);
                    free(buf);
                }
        }
        for (i = 0; i < n_paths; i++) {
            mod_model *m;
            mod_error err;
            if (cli_load_model(&m, paths[i], o.no_mmap, &err) != MOD_OK) { fprintf(stderr, "error: %s\n", err.message); return 1; }
            if (run_busy(paths[i], m, &o)) { fprintf(stderr, "error: cannot run %s\n", paths[i]); return 1; }
            mod_model_free(m);
        }
        return 0;
#else
        fprintf(stderr, "error: --busy needs fork (POSIX)\n");
        return 2;
#endif
    }
    for (ti = 0; ti < o.n_threads; ti++) {
        bw[ti] = o.limits ? measure_bandwidth(o.threads[ti], 5) : 0;
        peak[ti] = o.limits ? measure_peak_flops(o.threads[ti], 5, PEAK_ITERS) : 0;
        /* FMA units are per core: a peak for n threads far below n times one thread's means
           another process had a core the whole time; measure again (up to 5 times), keep the best */
        if (o.limits && ti > 0 && o.threads[0] == 1) {
            int again;
            for (again = 0; again < 5 && peak[ti] < 0.8 * o.threads[ti] * peak[0]; again++) {
                struct timespec pause;
                double p2;
                pause.tv_sec = 0;
                pause.tv_nsec = 200000000L;
                nanosleep(&pause, NULL);
                p2 = measure_peak_flops(o.threads[ti], 5, PEAK_ITERS);
                if (p2 > peak[ti]) peak[ti] = p2;
            }
        }
        if (!o.limits) {
            if (o.json) printf("{\"limits\":{\"threads\":%d,\"triad_gb_s\":null,\"peak_gflop_s\":null}}\n", o.threads[ti]);
            else printf("machine, %d thread%s: bandwidth and peak not measured (--no-limits)\n", o.threads[ti], o.threads[ti] > 1 ? "s" : "");
        } else if (o.json) printf("{\"limits\":{\"threads\":%d,\"triad_gb_s\":%.3f,\"peak_gflop_s\":%.2f}}\n", o.threads[ti], bw[ti] / 1e9, peak[ti] / 1e9);
        else printf("machine, %d thread%s: triad bandwidth %.2f GB/s, peak FMA %.1f GFLOP/s\n", o.threads[ti],
                    o.threads[ti] > 1 ? "s" : "", bw[ti] / 1e9, peak[ti] / 1e9);
#ifdef MOD__AMX
        if (o.limits && mod_amx(NULL)) {
            const double amx = measure_amx_peak(o.threads[ti], 5);
            amx_peak[ti] = amx;
            if (o.json) printf("{\"limits\":{\"threads\":%d,\"amx_bf16_peak_gflop_s\":%.2f}}\n", o.threads[ti], amx / 1e9);
            else printf("machine, %d thread%s: peak AMX bf16 %.1f GFLOP/s\n", o.threads[ti], o.threads[ti] > 1 ? "s" : "", amx / 1e9);
        }
#endif
    }
    if (n_paths) {
        for (i = 0; i < n_paths; i++) {
            mod_model *m;
            mod_error err;
            if (cli_load_model(&m, paths[i], o.no_mmap, &err) != MOD_OK) { fprintf(stderr, "error: %s\n", err.message); return 1; }
            for (ti = 0; ti < o.n_threads; ti++) {
                amx_peak_now = amx_peak[ti];
                result r;
                const mod_model *one = m;
                if (run_models(&one, 1, &o, o.threads[ti], &r)) { fprintf(stderr, "error: cannot run %s\n", paths[i]); return 1; }
                print_result(paths[i], m, &o, o.threads[ti], &r, bw[ti], peak[ti]);
            }
            if (i == n_paths - 1) products(m, &o, peak); /* last: OpenBLAS's threads linger */
            mod_model_free(m);
        }
        return 0;
    }
    /* the synthetic dense model and its MoD twin, side by side in one run */
    for (di = 0; di < o.n_dtypes; di++) {
        unsigned char *buf[2], *data[2];
        size_t size[2];
        mod_model *m[2];
        mod_error err;
        char name[2][64];
        int k;
        for (k = 0; k < 2; k++) {
            if (build_synthetic(&o, k, o.dtypes[di], &buf[k], &data[k], &size[k]) || mod_model_load_memory(&m[k], data[k], size[k], NULL, &err)) {
                fprintf(stderr, "error: cannot build the synthetic model\n");
                return 1;
            }
            snprintf(name[k], sizeof name[k], "%s-%dx%d", k ? "mod" : "dense", o.width, o.layers);
        }
        for (ti = 0; ti < o.n_threads; ti++) {
            result r[2];
            int p;
            amx_peak_now = amx_peak[ti];
            const mod_model *pair[2];
            pair[0] = m[0];
            pair[1] = m[1];
            if (run_models(pair, 2, &o, o.threads[ti], r)) { fprintf(stderr, "error: cannot run the synthetic models\n"); return 1; }
            for (k = 0; k < 2; k++) print_result(name[k], m[k], &o, o.threads[ti], &r[k], bw[ti], peak[ti]);
            for (p = 0; p < o.n_prompts; p++) {
                /* the speedup pair by pair over interleaved repetitions; the FLOPs ratio from
                   the same runs' statistics: dense work / MoD work */
                double speed, flops_ratio;
                if (r[0].prefill_tps[p] <= 0 || r[1].prefill_work[p] <= 0) continue;
                speed = paired_speedup(r[1].prefill_rep[p], r[0].prefill_rep[p], o.repeat);
                flops_ratio = r[0].prefill_work[p] / r[1].prefill_work[p];
                if (o.json)
                    printf("{\"payoff\":{\"dtype\":\"%s\",\"threads\":%d,\"tokens\":%d,\"prefill_speedup\":%.3f,\"flops_ratio\":%.3f,\"share\":%.3f}}\n",
                           dtype_name(o.dtypes[di]), o.threads[ti], o.prompts[p], speed, flops_ratio, speed / flops_ratio);
                else
                    printf("    MoD payoff, prefill %4d tok: %.2fx faster, FLOPs ratio %.2fx -> %.0f%% of the ratio\n",
                           o.prompts[p], speed, flops_ratio, 100.0 * speed / flops_ratio);
            }
            if (!o.json)
                printf("    MoD payoff, decode: %.2fx faster; routed-block KV %.1f MB vs %.1f MB dense\n",
                       paired_speedup(r[1].decode_rep, r[0].decode_rep, o.repeat), r[1].kv_bytes_routed / 1e6, r[1].kv_bytes_if_dense / 1e6);
        }
        if (di == o.n_dtypes - 1) products(m[0], &o, peak); /* last: OpenBLAS's threads linger */
        for (k = 0; k < 2; k++) { mod_model_free(m[k]); free(buf[k]); }
    }
    return 0;
}
