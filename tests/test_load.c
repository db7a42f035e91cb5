/* Untrusted-input suite for the model loader (mod_model_load_memory, mod_model_load_file,
   mod_model_memory_required).

   Valid files come from tools/mkmodel.h; every corruption below is applied to a copy, the
   checksum is rewritten (mkm_checksum) so that the corruption itself is what the loader meets,
   and the file is loaded both without flags and with MOD_LOAD_VERIFY_CHECKSUM; each load must
   give one specific mod_result with a non-empty message and leave the model pointer NULL.

   Every load runs in a forked child on a buffer whose last byte sits (at most 15 bytes) before
   a 64 MiB PROT_NONE guard region, so a crash or an over-read anywhere past the file is
   reported as a failed check instead of killing the suite; under AddressSanitizer the slack
   bytes and the bytes before the buffer are poisoned too, so any out-of-bounds read is caught
   exactly. Set MOD_TEST_NOFORK=1 to run every load in-process (for a debugger).

   Build: cc -std=c99 -Wall -Wextra -pedantic -O2 -fopenmp -Itools -Itests \
              -o build/test_load tests/test_load.c -lm */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE 1 /* MAP_ANONYMOUS */
#define MOD_IMPLEMENTATION
#include "../mod.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "mkmodel.h"

#if defined(__SANITIZE_ADDRESS__)
#define TL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TL_ASAN 1
#endif
#endif
#ifdef TL_ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

static const char *code_name(int r)
{
    static const char *const names[] = {
#define TL_NAME(id, text) #id,
        MOD_RESULT_LIST(TL_NAME)
#undef TL_NAME
    };
    if (r < 0 || r >= (int)MOD_RESULT_COUNT) return "(not a mod_result)";
    return names[r];
}

/* ---- guarded buffers ------------------------------------------------------------------- */

#define GUARD_BYTES ((size_t)64 << 20)

typedef struct gbuf {
    unsigned char *map, *p;
    size_t map_len, rw_len, n;
} gbuf;

/* Copies n bytes of src to an address that is misalign bytes past a multiple of 16, placed
   so that the bytes after it up to the guard region are fewer than 16 + misalign. */
static unsigned char *gbuf_new(gbuf *g, const void *src, size_t n, size_t misalign)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t end, p;
    memset(g, 0, sizeof *g);
    g->rw_len = (n + misalign + 16 + page - 1) / page * page;
    g->map_len = g->rw_len + GUARD_BYTES;
    g->map = (unsigned char *)mmap(NULL, g->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (g->map == (unsigned char *)MAP_FAILED) { perror("mmap"); exit(2); }
    if (mprotect(g->map, g->rw_len, PROT_READ | PROT_WRITE) != 0) { perror("mprotect"); exit(2); }
    end = (uintptr_t)g->map + g->rw_len;
    p = ((end - n - misalign) & ~(uintptr_t)15) + misalign;
    g->p = (unsigned char *)p;
    g->n = n;
    if (n) memcpy(g->p, src, n);
#ifdef TL_ASAN
    __asan_poison_memory_region(g->map, (size_t)(p - (uintptr_t)g->map));
    if (end > p + n) __asan_poison_memory_region(g->p + n, (size_t)(end - (p + n)));
#endif
    return g->p;
}

static void gbuf_free(gbuf *g)
{
    if (!g->map) return;
#ifdef TL_ASAN
    __asan_unpoison_memory_region(g->map, g->rw_len);
#endif
    munmap(g->map, g->map_len);
    memset(g, 0, sizeof *g);
}

/* ---- one load (and optionally a short session), isolated in a child process ---------- */

static const char k_text[] = "Hello, world! It's 12:30, caf\xC3\xA9 \xE2\x82\xAC 3.";

typedef struct outcome {
    int crashed, status;     /* the child died or did not report; its wait status */
    int code, err_code;      /* load result and err.code */
    int model_null;          /* *model was NULL after a failed load */
    char msg[240];
    int session;             /* 1 when a session was run */
    int create, prefill, dec1, dec2, tok, detok, n_tok;
} outcome;

static int g_nofork;

static void run_session(mod_model *m, outcome *o)
{
    static char text_out[1 << 16];
    const mod_config *c = mod_model_config(m);
    mod_session *s = NULL;
    mod_session_desc sd;
    int32_t toks[4], tt[sizeof k_text + 2];
    int V = c->vocab_size, n = 0;
    size_t len = 0;
    memset(&sd, 0, sizeof sd);
    sd.max_tokens = 16;
    sd.threads = 1;
    o->session = 1;
    o->create = mod_session_create(&s, m, &sd, NULL);
    if (o->create == MOD_OK) {
        toks[0] = 0;
        toks[1] = V - 1;
        toks[2] = V / 2;
        toks[3] = 1 % V;
        o->prefill = mod_prefill(s, toks, 4, NULL);
        o->dec1 = mod_decode(s, V > 2 ? 2 : 0);
        o->dec2 = mod_decode(s, V - 1);
        mod_session_free(s);
    }
    o->tok = mod_tokenize(m, k_text, sizeof k_text - 1, 0, tt, (int)(sizeof tt / sizeof tt[0]), &n, NULL);
    o->n_tok = n;
    o->detok = -1;
    if (o->tok == MOD_OK) o->detok = mod_detokenize(m, tt, n, text_out, sizeof text_out, &len);
}

static void do_load(const unsigned char *p, size_t n, unsigned flags, int session, outcome *o)
{
    mod_model *m = (mod_model *)&o->status; /* not NULL: the loader must clear it */
    mod_error err;
    mod_model_desc d;
    memset(&err, 0, sizeof err);
    err.code = (mod_result)-1;
    memset(&d, 0, sizeof d);
    d.flags = flags;
    o->code = mod_model_load_memory(&m, p, n, &d, &err);
    o->err_code = err.code;
    memcpy(o->msg, err.message, sizeof o->msg);
    o->msg[sizeof o->msg - 1] = 0;
    o->model_null = m == NULL;
    if (o->code == MOD_OK && m) {
        if (session) run_session(m, o);
        mod_model_free(m);
    }
}

static outcome run_load(const unsigned char *p, size_t n, unsigned flags, int session)
{
    outcome o;
    int fds[2], st = 0;
    size_t got = 0;
    pid_t pid;
    memset(&o, 0, sizeof o);
    if (g_nofork) { do_load(p, n, flags, session, &o); return o; }
    fflush(stdout);
    fflush(stderr);
    if (pipe(fds) != 0) { perror("pipe"); exit(2); }
    pid = fork();
    if (pid < 0) { perror("fork"); exit(2); }
    if (pid == 0) {
        const char *q = (const char *)&o;
        size_t left = sizeof o;
        close(fds[0]);
        do_load(p, n, flags, session, &o);
        while (left > 0) {
            ssize_t w = write(fds[1], q, left);
            if (w <= 0) _exit(3);
            q += w;
            left -= (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    while (got < sizeof o) {
        ssize_t r = read(fds[0], (char *)&o + got, sizeof o - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fds[0]);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (got != sizeof o || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        memset(&o, 0, sizeof o);
        o.crashed = 1;
        o.status = st;
    }
    return o;
}

static const char *crash_text(const outcome *o)
{
    static char b[80];
    if (WIFSIGNALED(o->status)) snprintf(b, sizeof b, "killed by signal %d", WTERMSIG(o->status));
    else if (WIFEXITED(o->status)) snprintf(b, sizeof b, "exited with status %d", WEXITSTATUS(o->status));
    else snprintf(b, sizeof b, "wait status 0x%x", (unsigned)o->status);
    return b;
}

/* Loads buf[0, n) without flags (mask bit 0) and with MOD_LOAD_VERIFY_CHECKSUM (mask bit 1);
   each must give want. */
static void expect_flags(const char *name, const unsigned char *buf, size_t n, mod_result want, int mask)
{
    int k;
    for (k = 0; k < 2; k++) {
        unsigned flags = k ? MOD_LOAD_VERIFY_CHECKSUM : 0u;
        if (!(mask & (1 << k))) continue;
        gbuf g;
        outcome o;
        gbuf_new(&g, buf, n, 0);
        o = run_load(g.p, n, flags, want == MOD_OK);
        gbuf_free(&g);
        if (o.crashed) {
            check(0, "%s (flags %u): the loader crashed (%s); want %s", name, flags, crash_text(&o), code_name(want));
            continue;
        }
        if (want == MOD_OK) {
            if (o.code != MOD_OK)
                check(0, "%s (flags %u): got %s \"%s\"; want MOD_OK", name, flags, code_name(o.code), o.msg);
            else
                check(o.session && o.create == MOD_OK && o.prefill == MOD_OK && o.dec1 == MOD_OK && o.dec2 == MOD_OK,
                      "%s (flags %u): loaded, but session create %s, prefill %s, decode %s/%s", name, flags,
                      code_name(o.create), code_name(o.prefill), code_name(o.dec1), code_name(o.dec2));
        } else {
            check(o.code == (int)want && o.err_code == o.code && o.msg[0] != 0 && o.model_null,
                  "%s (flags %u): got %s (err.code %s, model %s) \"%s\"; want %s", name, flags,
                  code_name(o.code), code_name(o.err_code), o.model_null ? "NULL" : "set", o.msg,
                  code_name(want));
        }
    }
}

static void expect(const char *name, const unsigned char *buf, size_t n, mod_result want)
{
    expect_flags(name, buf, n, want, 3);
}

/* ---- base files ------------------------------------------------------------------------ */

typedef struct basefile {
    const char *name;
    mkm_opts o;
    unsigned char *buf;
    size_t size;
} basefile;

static basefile BA, BB, BC, BD, BE, BF, BG, BH, BI;

static void make_base(basefile *b, const char *name, const mkm_opts *o)
{
    int rc;
    b->name = name;
    b->o = *o;
    rc = mkm_build(o, &b->buf, &b->size);
    if (rc != 0) {
        const char *why = mkm_check(o);
        printf("test setup: mkm_build(%s) failed (%d): %s\n", name, rc, why ? why : "out of memory");
        exit(2);
    }
}

static void make_bases(void)
{
    mkm_opts o;
    int i;
    /* A: byte-level BPE, untied, router decision, routed blocks 1 and 3, f32 */
    mkm_defaults(&o);
    o.seed = 11;
    o.tokenizer = MKM_TOKENIZER_BPE;
    make_base(&BA, "A(bpe,untied,router)", &o);
    /* B: scored BPE, tied, MLP predictor, q/k/v biases */
    mkm_defaults(&o);
    o.seed = 12;
    o.tokenizer = MKM_TOKENIZER_SCORED;
    o.tied = 1;
    o.decision = 1;
    o.predictor_hidden = 16;
    o.qkv_bias = 1;
    make_base(&BB, "B(scored,tied,predictor)", &o);
    /* C: no tokenizer, tied, linear predictor, f16 matrices */
    mkm_defaults(&o);
    o.seed = 13;
    o.tied = 1;
    o.decision = 1;
    o.predictor_hidden = 0;
    o.dtype = MKM_DTYPE_F16;
    make_base(&BC, "C(none,tied,linear-pred,f16)", &o);
    /* D: byte-level BPE, all dense, bf16, no router bias */
    mkm_defaults(&o);
    o.seed = 14;
    o.tokenizer = MKM_TOKENIZER_BPE;
    o.dtype = MKM_DTYPE_BF16;
    o.router_bias = 0;
    for (i = 0; i < MKM_MAX_LAYERS; i++) o.routed[i] = 0;
    make_base(&BD, "D(bpe,dense,bf16)", &o);
    /* E: scored BPE with a large vocabulary, untied, every block routed, every knob non-default */
    mkm_defaults(&o);
    o.seed = 15;
    o.tokenizer = MKM_TOKENIZER_SCORED;
    o.n_merges = 700;
    o.n_layers = 3;
    o.n_heads = 2;
    o.n_kv_heads = 1;
    o.routed[0] = o.routed[1] = o.routed[2] = 1;
    o.capacity[0] = 1.0f;
    o.capacity[1] = 0.125f;
    o.capacity[2] = 0.3f;
    o.router_input = 1;
    o.router_scale = 1;
    o.combine = 1;
    o.positions = 1;
    o.decision = 1;
    o.predictor_hidden = 8;
    o.router_bias = 0;
    o.threshold = -0.25f;
    o.rope_theta = 500000.0f;
    o.norm_eps = 1e-6f;
    make_base(&BE, "E(scored,all-routed,knobs)", &o);
    /* F: byte-level BPE, untied, MLP predictor, q4_0 matrices */
    mkm_defaults(&o);
    o.seed = 16;
    o.tokenizer = MKM_TOKENIZER_BPE;
    o.decision = 1;
    o.predictor_hidden = 32;
    o.dtype = MKM_DTYPE_Q4_0;
    make_base(&BF, "F(bpe,predictor,q4_0)", &o);
    /* G: every version 2 variant: a head size of its own (n_heads x head_dim != dim), GeGLU,
       gains 1 + w, an embedding scale, llama3 RoPE scaling, a sliding window, o and mlp biases */
    mkm_defaults(&o);
    o.seed = 17;
    o.tokenizer = MKM_TOKENIZER_BPE;
    o.head_dim = 12;
    o.activation = 1;
    o.norm_offset = 1;
    o.embed_scale = 5.65625f;
    o.rope_scaling = 2;
    o.rope_factor = 8.0f;
    o.rope_low_freq_factor = 1.0f;
    o.rope_high_freq_factor = 4.0f;
    o.rope_original_max_pos = 16;
    o.sliding_window = 5;
    o.o_bias = 1;
    o.mlp_bias = 1;
    o.qkv_bias = 1;
    make_base(&BG, "G(bpe,every variant)", &o);
    /* H: SentencePiece-style BPE (kind 3: byte fallback, unk, added tokens), tied */
    mkm_defaults(&o);
    o.seed = 17;
    o.tokenizer = MKM_TOKENIZER_SP;
    o.tied = 1;
    make_base(&BH, "H(sp,tied)", &o);
    /* I: scored BPE (kind 2) with an added-token table, tied */
    mkm_defaults(&o);
    o.seed = 18;
    o.tokenizer = MKM_TOKENIZER_SCORED;
    o.bpe_added = 1;
    o.tied = 1;
    make_base(&BI, "I(scored,added,tied)", &o);
}

/* A version-1 file of the same model as a version-2 file whose variant fields are the
   defaults: the 160-byte header, version 1, the bytes 160..255 zero (padding before the
   layer table, which stays where it is). */
static void to_version1(unsigned char *w, size_t n)
{
    mkm_put_u32(w + MKM_OFF_VERSION, 1);
    mkm_put_u32(w + MKM_OFF_HEADER_SIZE, 160);
    memset(w + 160, 0, 96);
    mkm_checksum(w, n);
}

/* ---- the working copy and field access --------------------------------------------------- */

static unsigned char *W;
static size_t WN;
static const basefile *WB;

static size_t W_cap;

/* The working copy is reused (not freed and reallocated), so the parent process stays small
   and fork stays cheap even under AddressSanitizer's quarantine. */
static void begin(const basefile *b)
{
    if (W_cap < b->size) {
        free(W);
        W = (unsigned char *)malloc(b->size);
        if (!W) { printf("out of memory\n"); exit(2); }
        W_cap = b->size;
    }
    memcpy(W, b->buf, b->size);
    WN = b->size;
    WB = b;
}

static uint32_t g32(size_t off) { return mkm_get_u32(W + off); }
static uint64_t g64(size_t off) { return mkm_get_u64(W + off); }
static void p32(size_t off, uint32_t v) { mkm_put_u32(W + off, v); }
static void p64(size_t off, uint64_t v) { mkm_put_u64(W + off, v); }
static void pf32(size_t off, float v) { mkm_put_f32(W + off, v); }

/* Directory entry of (role, layer) in the working copy; the test stops if it is missing. */
static size_t ent(int role, int layer)
{
    size_t e = mkm_tensor_entry(W, WN, role, layer);
    if (!e) {
        printf("test setup: %s has no tensor role %d layer %d\n", WB->name, role, layer);
        exit(2);
    }
    return e;
}

static size_t lte(int layer) { return mkm_layer_entry(W, layer); }

/* Removes a directory entry (later entries move up, the freed tail is zeroed). */
static void dir_remove(size_t e)
{
    uint32_t n = g32(MKM_OFF_N_TENSORS);
    size_t last = (size_t)g64(MKM_OFF_TENSOR_DIR) + (size_t)(n - 1) * MKM_DIR_ENTRY_SIZE;
    memmove(W + e, W + e + MKM_DIR_ENTRY_SIZE, last - e);
    memset(W + last, 0, MKM_DIR_ENTRY_SIZE);
    p32(MKM_OFF_N_TENSORS, n - 1);
}

static void swap_bytes(size_t a, size_t b, size_t n)
{
    unsigned char t[64];
    while (n > 0) {
        size_t k = n < sizeof t ? n : sizeof t;
        memcpy(t, W + a, k);
        memcpy(W + a, W + b, k);
        memcpy(W + b, t, k);
        a += k; b += k; n -= k;
    }
}

/* Rewrites the checksum and loads. */
static void done(const char *name, mod_result want)
{
    mkm_checksum(W, WN);
    expect(name, W, WN, want);
}

/* Absolute positions of the tokenizer arrays in the working copy. */
typedef struct toklay {
    size_t base, offsets, scores, types, sorted, merges, strings, sp, added; /* sp: kind 3 */
    uint32_t n, nm, ns, maxlen, na;
    int32_t bos, eos;
    uint64_t ss;
} toklay;

static toklay tok_layout(void)
{
    toklay t;
    t.base = (size_t)g64(MKM_OFF_TOKENIZER);
    t.n = g32(t.base + MKM_TK_N_TOKENS);
    t.nm = g32(t.base + MKM_TK_N_MERGES);
    t.ns = g32(t.base + MKM_TK_N_SORTED);
    t.bos = (int32_t)g32(t.base + MKM_TK_BOS);
    t.eos = (int32_t)g32(t.base + MKM_TK_EOS);
    t.ss = g64(t.base + MKM_TK_STRINGS_SIZE);
    t.maxlen = g32(t.base + MKM_TK_MAX_TOKEN_LEN);
    t.sp = t.base + MKM_TOK_HEADER_SIZE;
    t.na = g32(t.base + MKM_TK_KIND) == 3 ? g32(t.sp + MOD__TOKENIZER_SP_AT_n_added) : g32(t.base + MKM_TK_RESERVED);
    t.offsets = t.sp + (g32(t.base + MKM_TK_KIND) == 3 ? MOD__TOKENIZER_SP_BYTES : 0);
    t.scores = t.offsets + 4 * ((size_t)t.n + 1);
    t.types = t.scores + 4 * (size_t)t.n;
    t.sorted = t.types + (((size_t)t.n + 3) & ~(size_t)3);
    t.merges = t.sorted + 4 * (size_t)t.ns;
    t.added = t.merges + 16 * (size_t)t.nm;
    t.strings = t.added + MOD__ADDED_TOKEN_BYTES * (size_t)t.na;
    return t;
}

static uint32_t tok_off(const toklay *t, uint32_t i) { return g32(t->offsets + 4 * (size_t)i); }
static uint32_t tok_len(const toklay *t, uint32_t i) { return tok_off(t, i + 1) - tok_off(t, i); }

/* ---- groups ------------------------------------------------------------------------------ */

static uint64_t expected_parameters(const unsigned char *b)
{
    uint64_t dir = mkm_get_u64(b + MKM_OFF_TENSOR_DIR), total = 0;
    uint32_t n = mkm_get_u32(b + MKM_OFF_N_TENSORS), i;
    for (i = 0; i < n; i++) {
        const unsigned char *e = b + dir + (uint64_t)i * MKM_DIR_ENTRY_SIZE;
        uint64_t d0 = mkm_get_u64(e + MKM_TD_DIMS), d1 = mkm_get_u64(e + MKM_TD_DIMS + 8);
        total += mkm_get_u32(e + MKM_TD_N_DIMS) == 2 ? d0 * d1 : d0;
    }
    return total;
}

static void check_config(const basefile *b, const mod_model *m)
{
    const mod_config *c = mod_model_config(m);
    const mkm_opts *o = &b->o;
    int i, routed = 0, ok;
    for (i = 0; i < o->n_layers; i++) routed += o->routed[i];
    ok = c && c->vocab_size == mkm_vocab_size(o) && c->dim == o->dim && c->n_layers == o->n_layers &&
         c->n_heads == o->n_heads && c->n_kv_heads == o->n_kv_heads &&
         c->hidden_dim == o->hidden_dim && c->max_seq_len == o->max_seq_len && c->norm_eps == o->norm_eps &&
         c->rope_theta == o->rope_theta && c->tied_embeddings == o->tied &&
         (int)c->router_input == o->router_input && (int)c->router_scale == o->router_scale &&
         (int)c->combine == o->combine && (int)c->positions == o->positions &&
         (int)c->decision == o->decision && c->predictor_hidden == (o->decision == 1 && routed ? o->predictor_hidden : 0) &&
         c->threshold == o->threshold && c->n_routed == routed && c->head_dim == mkm_head_dim(o) &&
         (int)c->activation == o->activation && c->norm_offset == o->norm_offset &&
         c->embed_scale == (o->embed_scale > 0.0f ? o->embed_scale : 1.0f) && (int)c->rope_scaling == o->rope_scaling &&
         c->rope_factor == (o->rope_scaling ? o->rope_factor : 0.0f) &&
         c->rope_low_freq_factor == (o->rope_scaling == 2 ? o->rope_low_freq_factor : 0.0f) &&
         c->rope_high_freq_factor == (o->rope_scaling == 2 ? o->rope_high_freq_factor : 0.0f) &&
         c->rope_original_max_pos == (o->rope_scaling == 2 ? o->rope_original_max_pos : 0) &&
         c->sliding_window == o->sliding_window;
    check(ok, "%s: mod_model_config does not match the options the file was written with", b->name);
    for (i = 0; i < o->n_layers; i++) {
        float want = o->routed[i] ? o->capacity[i] : 0.0f;
        check(mod_model_layer_routed(m, i) == o->routed[i] && mod_model_layer_capacity(m, i) == want,
              "%s: layer %d routed %d capacity %g, want %d %g", b->name, i, mod_model_layer_routed(m, i),
              (double)mod_model_layer_capacity(m, i), o->routed[i], (double)want);
    }
    check(mod_model_layer_routed(m, -1) == -1 && mod_model_layer_routed(m, o->n_layers) == -1,
          "%s: mod_model_layer_routed of a bad layer is not -1", b->name);
    check(mod_model_checksum(m) == mkm_get_u64(b->buf + MKM_OFF_CHECKSUM), "%s: mod_model_checksum is not the stored one", b->name);
    check(mod_model_parameters(m) == expected_parameters(b->buf), "%s: mod_model_parameters %llu, directory says %llu",
          b->name, (unsigned long long)mod_model_parameters(m), (unsigned long long)expected_parameters(b->buf));
}

static void check_tokenizer_roundtrip(const basefile *b, const mod_model *m)
{
    int32_t toks[sizeof k_text + 2];
    char out[512];
    int n = -1;
    size_t len = 0;
    mod_result r;
    if (!b->o.tokenizer) {
        r = mod_tokenize(m, k_text, sizeof k_text - 1, 0, toks, (int)(sizeof toks / sizeof toks[0]), &n, NULL);
        check(r == MOD_ERR_NO_TOKENIZER, "%s: tokenize without a tokenizer gave %s", b->name, code_name(r));
        check(mod_token_bos(m) == -1 && mod_token_eos(m) == -1, "%s: bos/eos without a tokenizer are not -1", b->name);
        return;
    }
    r = mod_tokenize(m, k_text, sizeof k_text - 1, 0, toks, (int)(sizeof toks / sizeof toks[0]), &n, NULL);
    check(r == MOD_OK && n > 0, "%s: tokenize gave %s (n %d)", b->name, code_name(r), n);
    if (r != MOD_OK) return;
    r = mod_detokenize(m, toks, n, out, sizeof out, &len);
    check(r == MOD_OK && len == sizeof k_text - 1 && memcmp(out, k_text, len) == 0,
          "%s: detokenize(tokenize(text)) is not the text (%s, %zu bytes)", b->name, code_name(r), len);
    {
        size_t t = (size_t)mkm_get_u64(b->buf + MKM_OFF_TOKENIZER);
        int32_t bos = (int32_t)mkm_get_u32(b->buf + t + MKM_TK_BOS), eos = (int32_t)mkm_get_u32(b->buf + t + MKM_TK_EOS);
        check(mod_token_bos(m) == bos && mod_token_eos(m) == eos, "%s: bos/eos %d/%d, file says %d/%d", b->name,
              (int)mod_token_bos(m), (int)mod_token_eos(m), (int)bos, (int)eos);
    }
}

static void group_valid(void)
{
    const basefile *bases[9];
    int i;
    bases[0] = &BA; bases[1] = &BB; bases[2] = &BC; bases[3] = &BD; bases[4] = &BE; bases[5] = &BF; bases[6] = &BG; bases[7] = &BH; bases[8] = &BI;
    for (i = 0; i < 9; i++) {
        const basefile *b = bases[i];
        mod_model *m = NULL;
        mod_error err;
        mod_result r;
        gbuf g;
        char name[96];
        snprintf(name, sizeof name, "valid %s", b->name);
        expect(name, b->buf, b->size, MOD_OK);
        gbuf_new(&g, b->buf, b->size, 0);
        r = mod_model_load_memory(&m, g.p, b->size, NULL, &err);
        check(r == MOD_OK, "%s: in-process load gave %s: %s", name, code_name(r), err.message);
        if (r == MOD_OK) {
            check(err.code == MOD_OK, "%s: err.code is %s after a successful load", name, code_name(err.code));
            check_config(b, m);
            check_tokenizer_roundtrip(b, m);
            mod_model_free(m);
        }
        m = NULL;
        r = mod_model_load_memory(&m, g.p, b->size, NULL, NULL);
        check(r == MOD_OK && m != NULL, "%s: load with err == NULL gave %s", name, code_name(r));
        mod_model_free(m);
        gbuf_free(&g);
    }
    check_group("valid files");
}

static void group_arguments(void)
{
    mod_model *m = (mod_model *)&m;
    mod_error err;
    mod_model_desc d;
    mod_result r;
    size_t bytes = 0;
    unsigned k;
    gbuf g;
    gbuf_new(&g, BA.buf, BA.size, 0);
    r = mod_model_load_memory(NULL, g.p, BA.size, NULL, &err);
    check(r == MOD_ERR_INVALID_ARGUMENT && err.code == r && err.message[0], "load_memory(model NULL): %s", code_name(r));
    r = mod_model_load_memory(&m, NULL, BA.size, NULL, &err);
    check(r == MOD_ERR_INVALID_ARGUMENT && err.code == r && err.message[0] && m == NULL, "load_memory(data NULL): %s", code_name(r));
    r = mod_model_load_memory(&m, NULL, 0, NULL, NULL);
    check(r == MOD_ERR_INVALID_ARGUMENT, "load_memory(data NULL, err NULL): %s", code_name(r));
    memset(&d, 0, sizeof d);
    d.flags = 4u;
    r = mod_model_load_memory(&m, g.p, BA.size, &d, &err);
    check(r == MOD_ERR_INVALID_ARGUMENT && err.code == r && err.message[0] && m == NULL, "load_memory(unknown flag 4): %s", code_name(r));
    d.flags = 0x80000000u | MOD_LOAD_VERIFY_CHECKSUM;
    r = mod_model_load_memory(&m, g.p, BA.size, &d, &err);
    check(r == MOD_ERR_INVALID_ARGUMENT && err.message[0], "load_memory(unknown flag 0x80000001): %s", code_name(r));
    r = mod_model_load_memory(&m, g.p, 0, NULL, &err);
    check(r == MOD_ERR_TRUNCATED && err.message[0] && m == NULL, "load_memory(size 0): %s", code_name(r));
    r = mod_model_memory_required(NULL, BA.size, &bytes, &err);
    check(r == MOD_ERR_INVALID_ARGUMENT && err.message[0], "memory_required(data NULL): %s", code_name(r));
    r = mod_model_memory_required(g.p, BA.size, NULL, &err);
    check(r == MOD_ERR_INVALID_ARGUMENT && err.message[0], "memory_required(bytes NULL): %s", code_name(r));
    r = mod_model_load_file(NULL, "x.mod", NULL, &err);
    check(r == MOD_ERR_INVALID_ARGUMENT && err.message[0], "load_file(model NULL): %s", code_name(r));
    m = (mod_model *)&m;
    r = mod_model_load_file(&m, NULL, NULL, &err);
    check(r == MOD_ERR_INVALID_ARGUMENT && err.message[0], "load_file(path NULL): %s", code_name(r));
    mod_model_free(NULL);
    check(mod_model_config(NULL) == NULL && mod_model_layer_routed(NULL, 0) == -1 && mod_model_parameters(NULL) == 0 &&
              mod_model_checksum(NULL) == 0 && mod_model_layer_capacity(NULL, 0) == 0.0f,
          "model accessors on NULL");
    gbuf_free(&g);
    /* an unaligned buffer: every misalignment 1..15, and data + 1 of an aligned copy */
    for (k = 1; k < 16; k++) {
        gbuf_new(&g, BA.buf, BA.size, k);
        m = (mod_model *)&m;
        r = mod_model_load_memory(&m, g.p, BA.size, NULL, &err);
        check(r == MOD_ERR_ALIGNMENT && err.code == r && err.message[0] && m == NULL,
              "load_memory at an address 16k+%u: %s \"%s\"; want MOD_ERR_ALIGNMENT", k, code_name(r), err.message);
        gbuf_free(&g);
    }
    {
        unsigned char *raw = (unsigned char *)malloc(BA.size + 32), *al;
        al = (unsigned char *)(((uintptr_t)raw + 15) & ~(uintptr_t)15);
        memcpy(al + 1, BA.buf, BA.size);
        r = mod_model_load_memory(&m, al + 1, BA.size, NULL, &err);
        check(r == MOD_ERR_ALIGNMENT && err.message[0], "load_memory(data + 1): %s", code_name(r));
        free(raw);
    }
    check_group("arguments and alignment");
}

static void group_checksum(void)
{
    const basefile *bases[3];
    int i;
    bases[0] = &BA; bases[1] = &BB; bases[2] = &BC;
    for (i = 0; i < 3; i++) {
        char name[96];
        size_t at;
        begin(bases[i]);
        /* one payload byte: the low byte of an embedding weight */
        at = (size_t)g64(MKM_OFF_DATA) + (size_t)g64(ent(MKM_ROLE_TOKEN_EMBEDDING, -1) + MKM_TD_OFFSET) + 40;
        W[at] ^= 0x01;
        snprintf(name, sizeof name, "%s: payload byte flipped, checksum verified", WB->name);
        expect_flags(name, W, WN, MOD_ERR_CHECKSUM, 2);
        {
            /* the same file without the flag loads (and runs) */
            gbuf g;
            outcome o;
            gbuf_new(&g, W, WN, 0);
            o = run_load(g.p, WN, 0, 1);
            gbuf_free(&g);
            check(!o.crashed && o.code == MOD_OK && o.prefill == MOD_OK,
                  "%s: payload byte flipped, no verification: got %s%s", WB->name, o.crashed ? "a crash " : "",
                  code_name(o.code));
        }
        {
            gbuf g;
            outcome o;
            gbuf_new(&g, W, WN, 0);
            o = run_load(g.p, WN, MOD_LOAD_VERIFY_CHECKSUM, 0);
            gbuf_free(&g);
            check(!o.crashed && o.code == MOD_ERR_CHECKSUM && o.msg[0], "%s: checksum verification gave %s", WB->name, code_name(o.code));
        }
        /* a byte of the header after the checksum field is covered too (threshold's low byte) */
        begin(bases[i]);
        W[MKM_OFF_THRESHOLD] ^= 0x01;
        snprintf(name, sizeof name, "%s: header byte 144 flipped, checksum verified", WB->name);
        expect_flags(name, W, WN, MOD_ERR_CHECKSUM, 2);
        /* the checksum field itself */
        begin(bases[i]);
        W[MKM_OFF_CHECKSUM + 3] ^= 0x40;
        snprintf(name, sizeof name, "%s: stored checksum changed", WB->name);
        expect_flags(name, W, WN, MOD_ERR_CHECKSUM, 2);
        /* the last byte of the file */
        begin(bases[i]);
        W[WN - 1] ^= 0x80;
        snprintf(name, sizeof name, "%s: last byte flipped", WB->name);
        expect_flags(name, W, WN, MOD_ERR_CHECKSUM, 2);
    }
    check_group("checksum");
}

static void group_truncation(void)
{
    const basefile *bases[3];
    int bi;
    bases[0] = &BA; bases[1] = &BC; bases[2] = &BF;
    for (bi = 0; bi < 3; bi++) {
        const basefile *b = bases[bi];
        size_t cuts[64], nc = 0, i;
        char name[128];
        begin(b);
        /* section boundaries (start, end, and one byte either side) */
        {
            uint64_t L = g32(MKM_OFF_N_LAYERS), T = g32(MKM_OFF_N_TENSORS);
            uint64_t bounds[8];
            int k, nb = 0;
            bounds[nb++] = g64(MKM_OFF_LAYER_TABLE);
            bounds[nb++] = g64(MKM_OFF_LAYER_TABLE) + 8 * L;
            bounds[nb++] = g64(MKM_OFF_TENSOR_DIR);
            bounds[nb++] = g64(MKM_OFF_TENSOR_DIR) + 64 * T;
            if (g64(MKM_OFF_TOKENIZER_SIZE)) {
                bounds[nb++] = g64(MKM_OFF_TOKENIZER);
                bounds[nb++] = g64(MKM_OFF_TOKENIZER) + g64(MKM_OFF_TOKENIZER_SIZE);
            }
            bounds[nb++] = g64(MKM_OFF_DATA);
            for (k = 0; k < nb; k++) {
                cuts[nc++] = (size_t)bounds[k] - 1;
                cuts[nc++] = (size_t)bounds[k];
                cuts[nc++] = (size_t)bounds[k] + 1;
            }
            /* every tensor's start */
            for (k = 0; k < (int)T && nc < 50; k += 5)
                cuts[nc++] = (size_t)(g64(MKM_OFF_DATA) + g64(g64(MKM_OFF_TENSOR_DIR) + 64u * (uint64_t)k + MKM_TD_OFFSET));
        }
        for (i = 1; i < 7; i++) cuts[nc++] = WN * i / 7;
        cuts[nc++] = WN - 1;
        for (i = 0; i < nc; i++) {
            if (cuts[i] >= WN) continue;
            /* the buffer is short, the header still says the full size */
            snprintf(name, sizeof name, "%s truncated to %zu of %zu bytes", b->name, cuts[i], WN);
            expect(name, W, cuts[i], MOD_ERR_TRUNCATED);
            /* file_size rewritten to the short length: a section now runs past the end */
            if (cuts[i] >= MKM_HEADER_SIZE) {
                unsigned char *t = (unsigned char *)malloc(cuts[i]);
                memcpy(t, W, cuts[i]);
                mkm_put_u64(t + MKM_OFF_FILE_SIZE, cuts[i]);
                mkm_checksum(t, cuts[i]);
                snprintf(name, sizeof name, "%s cut to %zu bytes with file_size rewritten", b->name, cuts[i]);
                expect(name, t, cuts[i], MOD_ERR_TRUNCATED);
                free(t);
            }
        }
    }
    {
        /* every length 0..159: shorter than the header */
        size_t n;
        begin(&BA);
        for (n = 0; n < MKM_HEADER_SIZE; n++) {
            gbuf g;
            outcome o;
            gbuf_new(&g, W, n, 0);
            o = run_load(g.p, n, n & 1 ? MOD_LOAD_VERIFY_CHECKSUM : 0u, 0);
            gbuf_free(&g);
            check(!o.crashed && o.code == MOD_ERR_TRUNCATED && o.msg[0] && o.model_null,
                  "file of its first %zu bytes: got %s%s \"%s\"; want MOD_ERR_TRUNCATED", n,
                  o.crashed ? "a crash, " : "", code_name(o.code), o.msg);
        }
    }
    check_group("truncation");
}

static void group_header(void)
{
    static const float bad_f[] = { 0.0f, -1e-5f, 0.0f /* NaN */, 0.0f /* inf */, -0.0f };
    char name[128];
    int i;
    begin(&BA); memcpy(W, "MODX", 4); done("magic MODX", MOD_ERR_BAD_MAGIC);
    begin(&BA); memset(W, 0, 4); done("magic zero", MOD_ERR_BAD_MAGIC);
    begin(&BA); memcpy(W, "modh", 4); done("magic lower case", MOD_ERR_BAD_MAGIC);
    begin(&BA); p32(MKM_OFF_VERSION, 0); done("version 0", MOD_ERR_BAD_VERSION);
    begin(&BA); p32(MKM_OFF_VERSION, 3); done("version 3", MOD_ERR_BAD_VERSION);
    begin(&BA); p32(MKM_OFF_VERSION, 0xFFFFFFFFu); done("version 0xFFFFFFFF", MOD_ERR_BAD_VERSION);
    begin(&BA); p32(MKM_OFF_VERSION, 0x100u); done("version 256 (big-endian 1)", MOD_ERR_BAD_VERSION);
    begin(&BA); p32(MKM_OFF_HEADER_SIZE, 0); done("header_size 0", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_HEADER_SIZE, 200); done("header_size 200", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_HEADER_SIZE, 159); done("header_size 159", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_HEADER_SIZE, 160); done("header_size 160 in a version 2 file", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_HEADER_SIZE, 257); done("header_size 257", MOD_ERR_CORRUPT);
    begin(&BA); to_version1(W, WN); p32(MKM_OFF_HEADER_SIZE, 256); done("header_size 256 in a version 1 file", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_FILE_SIZE, WN + 1); done("file_size one more than the buffer", MOD_ERR_TRUNCATED);
    begin(&BA); p64(MKM_OFF_FILE_SIZE, UINT64_MAX); done("file_size 2^64-1", MOD_ERR_TRUNCATED);
    begin(&BA); p64(MKM_OFF_FILE_SIZE, WN - 1); done("file_size one less than the buffer", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_FILE_SIZE, 0); done("file_size 0", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_FILE_SIZE, 160); done("file_size 160", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_VOCAB, 0); done("vocab_size 0", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_VOCAB, 0xFFFFFFFFu); done("vocab_size 2^32-1", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_VOCAB, g32(MKM_OFF_VOCAB) + 1); done("vocab_size one more than the embedding rows", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_DIM, 0); done("dim 0", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_DIM, 36); done("dim 36 with 4 heads (odd head size 9)", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_DIM, 4); done("dim 4 with 4 heads (head size 1)", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_DIM, 0xFFFFFFFCu); done("dim 2^32-4", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_DIM, 64); done("dim 64 (tensors are 32 wide)", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_HEADS, 5); done("n_heads 5 does not divide dim 32", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_HEADS, 0); done("n_heads 0", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_HEADS, 64); done("n_heads 64 > dim 32", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_KV_HEADS, 3); done("n_kv_heads 3 does not divide n_heads 4", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_KV_HEADS, 0); done("n_kv_heads 0", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_KV_HEADS, 8); done("n_kv_heads 8 > n_heads 4", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_LAYERS, 0); done("n_layers 0", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_LAYERS, 0xFFFFFFFFu); done("n_layers 2^32-1", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_HIDDEN, 0); done("hidden_dim 0", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_HIDDEN, 0xFFFFFFFFu); done("hidden_dim 2^32-1", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_MAX_SEQ, 0); done("max_seq_len 0", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_MAX_SEQ, 0xFFFFFFFFu); done("max_seq_len 2^32-1", MOD_ERR_CORRUPT);
    for (i = 0; i < 5; i++) {
        float f = bad_f[i];
        if (i == 2) f = (float)NAN;
        if (i == 3) f = (float)INFINITY;
        begin(&BA); pf32(MKM_OFF_NORM_EPS, f);
        snprintf(name, sizeof name, "norm_eps %g", (double)f);
        done(name, MOD_ERR_CORRUPT);
        begin(&BA); pf32(MKM_OFF_ROPE_THETA, i == 1 ? -10000.0f : f);
        snprintf(name, sizeof name, "rope_theta %g", i == 1 ? -10000.0 : (double)f);
        done(name, MOD_ERR_CORRUPT);
    }
    begin(&BA); pf32(MKM_OFF_NORM_EPS, -(float)INFINITY); done("norm_eps -inf", MOD_ERR_CORRUPT);
    begin(&BA); pf32(MKM_OFF_ROPE_THETA, -(float)INFINITY); done("rope_theta -inf", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_TIED, 2); done("tied_embeddings 2", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_TIED, 0xFFFFFFFFu); done("tied_embeddings 2^32-1", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_ROUTER_INPUT, 2); done("router_input 2", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_ROUTER_SCALE, 2); done("router_scale 2", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_COMBINE, 7); done("combine 7", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_POSITIONS, 2); done("positions 2", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_DECISION, 2); done("decision 2", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_DECISION, 0x80000000u); done("decision 0x80000000", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_PREDICTOR_HIDDEN, 0xFFFFFFFFu); done("predictor_hidden 2^32-1", MOD_ERR_CORRUPT);
    begin(&BA); pf32(MKM_OFF_THRESHOLD, (float)NAN); done("threshold NaN", MOD_ERR_CORRUPT);
    begin(&BA); pf32(MKM_OFF_THRESHOLD, (float)INFINITY); done("threshold inf", MOD_ERR_CORRUPT);
    for (i = 0; i < 3; i++) {
        begin(&BA); p32(MKM_OFF_RESERVED + 4 * (size_t)i, i == 1 ? 0x80000000u : 1u);
        snprintf(name, sizeof name, "reserved header word %d non-zero", i);
        done(name, MOD_ERR_CORRUPT);
    }
    check_group("header fields");
}

/* Version 2's fields, each out of range on its own. */
static void group_header_v2(void)
{
    char name[128];
    int i;
    begin(&BA); p32(MKM_OFF_HEAD_DIM, 0); done("head_dim 0", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_HEAD_DIM, 7); done("head_dim 7 (odd)", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_HEAD_DIM, 1); done("head_dim 1", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_HEAD_DIM, 1u << 20); done("head_dim 2^20 (n_heads x head_dim too large)", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_HEAD_DIM, 0x80000000u); done("head_dim 2^31", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_HEAD_DIM, 16); done("head_dim 16: the tensors have head size 8", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_HEADS, 0); done("n_heads 0 (version 2)", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_HEADS, 0xFFFFFFFFu); done("n_heads 2^32-1 (version 2)", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_ACTIVATION, 2); done("activation 2", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_ACTIVATION, 0xFFFFFFFFu); done("activation 2^32-1", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_NORM_OFFSET, 2); done("norm_offset 2", MOD_ERR_CORRUPT);
    begin(&BA); pf32(MKM_OFF_EMBED_SCALE, 0.0f); done("embed_scale 0", MOD_ERR_CORRUPT);
    begin(&BA); pf32(MKM_OFF_EMBED_SCALE, -1.0f); done("embed_scale -1", MOD_ERR_CORRUPT);
    begin(&BA); pf32(MKM_OFF_EMBED_SCALE, (float)NAN); done("embed_scale NaN", MOD_ERR_CORRUPT);
    begin(&BA); pf32(MKM_OFF_EMBED_SCALE, (float)INFINITY); done("embed_scale inf", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_ROPE_SCALING, 3); done("rope_scaling 3", MOD_ERR_CORRUPT);
    begin(&BA); pf32(MKM_OFF_ROPE_FACTOR, 2.0f); done("rope_scaling none with rope_factor 2", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_ROPE_ORIG, 8); done("rope_scaling none with rope_original_max_pos 8", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_ROPE_SCALING, 1); done("rope_scaling linear with rope_factor 0", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_ROPE_SCALING, 1); pf32(MKM_OFF_ROPE_FACTOR, -2.0f); done("rope_scaling linear with rope_factor -2", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_ROPE_SCALING, 1); pf32(MKM_OFF_ROPE_FACTOR, (float)NAN); done("rope_scaling linear with rope_factor NaN", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_ROPE_SCALING, 1); pf32(MKM_OFF_ROPE_FACTOR, 2.0f); pf32(MKM_OFF_ROPE_LOW, 1.0f);
    done("rope_scaling linear with rope_low_freq_factor set", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_ROPE_SCALING, 1); pf32(MKM_OFF_ROPE_FACTOR, 2.0f); done("rope_scaling linear, factor 2", MOD_OK);
    begin(&BG); pf32(MKM_OFF_ROPE_FACTOR, (float)INFINITY); done("llama3 with rope_factor inf", MOD_ERR_CORRUPT);
    begin(&BG); pf32(MKM_OFF_ROPE_LOW, 0.0f); done("llama3 with rope_low_freq_factor 0", MOD_ERR_CORRUPT);
    begin(&BG); pf32(MKM_OFF_ROPE_HIGH, 1.0f); done("llama3 with rope_high_freq_factor equal to low", MOD_ERR_CORRUPT);
    begin(&BG); pf32(MKM_OFF_ROPE_HIGH, 0.5f); done("llama3 with rope_high_freq_factor below low", MOD_ERR_CORRUPT);
    begin(&BG); pf32(MKM_OFF_ROPE_HIGH, (float)NAN); done("llama3 with rope_high_freq_factor NaN", MOD_ERR_CORRUPT);
    begin(&BG); p32(MKM_OFF_ROPE_ORIG, 0); done("llama3 with rope_original_max_pos 0", MOD_ERR_CORRUPT);
    begin(&BG); p32(MKM_OFF_ROPE_ORIG, (1u << 24) + 1); done("llama3 with rope_original_max_pos 2^24+1", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_SLIDING_WINDOW, (1u << 24) + 1); done("sliding_window 2^24+1", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_SLIDING_WINDOW, 0xFFFFFFFFu); done("sliding_window 2^32-1", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_SLIDING_WINDOW, 1); done("sliding_window 1", MOD_OK);
    for (i = 0; i < 10; i++) {
        begin(&BA); p32(MKM_OFF_RESERVED2 + 4 * (size_t)i, 1u);
        snprintf(name, sizeof name, "reserved header word %d of version 2 non-zero", 3 + i);
        done(name, MOD_ERR_CORRUPT);
    }
    /* the new roles: sets, shapes, one-dimensional f32 */
    begin(&BG); dir_remove(ent(MKM_ROLE_MLP_UP_BIAS, 2)); done("mlp_up_bias missing from one block", MOD_ERR_CORRUPT);
    begin(&BG); dir_remove(ent(MKM_ROLE_MLP_DOWN_BIAS, 0)); done("mlp_down_bias missing from one block", MOD_ERR_CORRUPT);
    begin(&BG); dir_remove(ent(MKM_ROLE_ATTN_O_BIAS, 1)); done("attn_o_bias missing from one block (optional per block)", MOD_OK);
    begin(&BG); p64(ent(MKM_ROLE_ATTN_O_BIAS, 1) + MKM_TD_DIMS, 16); done("attn_o_bias of 16 values for dim 32", MOD_ERR_CORRUPT);
    begin(&BG); p64(ent(MKM_ROLE_MLP_GATE_BIAS, 1) + MKM_TD_DIMS, 32); done("mlp_gate_bias of 32 values for hidden_dim 64", MOD_ERR_CORRUPT);
    begin(&BG); p32(ent(MKM_ROLE_MLP_DOWN_BIAS, 3) + MKM_TD_DTYPE, MKM_DTYPE_F16); done("mlp_down_bias as f16", MOD_ERR_CORRUPT);
    begin(&BG); p32(ent(MKM_ROLE_ATTN_O_BIAS, 3) + MKM_TD_LAYER, 4); done("attn_o_bias of layer 4 of 4", MOD_ERR_CORRUPT);
    begin(&BG); p32(ent(MKM_ROLE_ATTN_O_BIAS, 3) + MKM_TD_LAYER, 2); done("attn_o_bias of layer 2 twice", MOD_ERR_CORRUPT);
    begin(&BG); p32(ent(MKM_ROLE_ATTN_O_BIAS, 3) + MKM_TD_ROLE, 25); done("role 25", MOD_ERR_CORRUPT);
    /* the query width n_heads x head_dim shapes q, k, v and o */
    begin(&BG); p32(MKM_OFF_HEAD_DIM, 8); done("head_dim 8 where the tensors have 12", MOD_ERR_CORRUPT);
    check_group("version 2 header fields and roles");
}

/* Version-1 files: the same model reads the same, and what version 1 cannot say is refused. */
static void group_version1(void)
{
    const basefile *bases[3];
    int i;
    bases[0] = &BA; bases[1] = &BB; bases[2] = &BF;
    for (i = 0; i < 3; i++) {
        mod_model *m1 = NULL, *m2 = NULL;
        gbuf g1, g2;
        char name[96];
        begin(bases[i]);
        to_version1(W, WN);
        snprintf(name, sizeof name, "%s as version 1", bases[i]->name);
        expect(name, W, WN, MOD_OK);
        gbuf_new(&g1, W, WN, 0);
        gbuf_new(&g2, bases[i]->buf, bases[i]->size, 0);
        if (check(mod_model_load_memory(&m1, g1.p, WN, NULL, NULL) == MOD_OK && mod_model_load_memory(&m2, g2.p, WN, NULL, NULL) == MOD_OK,
                  "%s: loads", name)) {
            const mod_config *c1 = mod_model_config(m1), *c2 = mod_model_config(m2);
            check(!memcmp(c1, c2, sizeof *c1), "%s: the configuration is the version 2 file's", name);
            {   /* and the logits, bit for bit */
                static const int32_t toks[] = { 5, 9, 77, 3, 1, 200, 42, 8 };
                const int n = (int)(sizeof toks / sizeof toks[0]), V = c1->vocab_size;
                float *l1 = (float *)malloc(sizeof(float) * (size_t)(n * V)), *l2 = (float *)malloc(sizeof(float) * (size_t)(n * V));
                mod_session *s1 = NULL, *s2 = NULL;
                check(l1 && l2 && mod_session_create(&s1, m1, NULL, NULL) == MOD_OK && mod_session_create(&s2, m2, NULL, NULL) == MOD_OK &&
                      mod_prefill(s1, toks, n, l1) == MOD_OK && mod_prefill(s2, toks, n, l2) == MOD_OK &&
                      !memcmp(l1, l2, sizeof(float) * (size_t)(n * V)), "%s: logits equal the version 2 file's bit for bit", name);
                mod_session_free(s1); mod_session_free(s2);
                free(l1); free(l2);
            }
        }
        mod_model_free(m1); mod_model_free(m2);
        gbuf_free(&g1); gbuf_free(&g2);
    }
    /* bytes 160..255 of a version 1 file are padding, not version 2's fields */
    begin(&BA); to_version1(W, WN); p32(MKM_OFF_HEAD_DIM, 7); pf32(MKM_OFF_EMBED_SCALE, -1.0f); p32(MKM_OFF_ACTIVATION, 9);
    done("version 1 with non-zero padding where version 2 has its fields", MOD_OK);
    begin(&BA); to_version1(W, WN); p32(MKM_OFF_N_HEADS, 3); done("version 1: n_heads 3 does not divide dim 32", MOD_ERR_CORRUPT);
    begin(&BA); to_version1(W, WN); p32(MKM_OFF_N_HEADS, 16); p32(MKM_OFF_N_KV_HEADS, 16); done("version 1: head size 2 (dim 32 / 16) is even, the shapes do not match", MOD_ERR_CORRUPT);
    begin(&BG); to_version1(W, WN); done("version 1 with the tensors of version 2's variants", MOD_ERR_CORRUPT);
    {   /* a version 2 role in a version 1 file: the message names it */
        gbuf g;
        mod_model *m = NULL;
        mod_error err;
        mkm_opts o = BA.o;
        unsigned char *buf;
        size_t n;
        o.o_bias = 1;
        if (check(mkm_build(&o, &buf, &n) == 0, "build with o biases")) {
            to_version1(buf, n);
            gbuf_new(&g, buf, n, 0);
            check(mod_model_load_memory(&m, g.p, n, NULL, &err) == MOD_ERR_CORRUPT && strstr(err.message, "attn_o_bias") &&
                  strstr(err.message, "version 2"), "version 1 with attn_o_bias: %s", err.message);
            mod_model_free(m);
            gbuf_free(&g);
            free(buf);
        }
    }
    check_group("version 1 files");
}

static void group_sections(void)
{
    uint64_t dir, lay, tok, tsz, data, dsz;
    begin(&BA);
    lay = g64(MKM_OFF_LAYER_TABLE); dir = g64(MKM_OFF_TENSOR_DIR);
    tok = g64(MKM_OFF_TOKENIZER); tsz = g64(MKM_OFF_TOKENIZER_SIZE);
    data = g64(MKM_OFF_DATA); dsz = g64(MKM_OFF_DATA_SIZE);
    begin(&BA); p64(MKM_OFF_LAYER_TABLE, 0); done("layer table at offset 0 (over the header)", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_LAYER_TABLE, 152); done("layer table at 152 (overlaps the header)", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_TENSOR_DIR, 128); done("tensor directory at 128 (overlaps the header)", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_TENSOR_DIR, lay); done("tensor directory at the layer table", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_TENSOR_DIR, dir - 8); done("tensor directory overlaps the layer table by 8 bytes", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_LAYER_TABLE, dir + 64); done("layer table inside the tensor directory", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_TOKENIZER, dir); done("tokenizer at the tensor directory", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_TOKENIZER, data); done("tokenizer at the tensor data", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_DATA, (tok + tsz - 1) & ~(uint64_t)63); done("tensor data starts inside the tokenizer", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_DATA, 0); done("tensor data at offset 0", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_TOKENIZER, 0); done("tokenizer_offset 0 with a non-zero size", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_TOKENIZER_SIZE, 0); done("tokenizer_offset set, tokenizer_size 0", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_LAYER_TABLE, lay + 4); done("layer table offset not 8-aligned", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_TENSOR_DIR, dir + 4); done("tensor directory offset not 8-aligned", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_TOKENIZER, tok + 4); done("tokenizer offset not 8-aligned", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_DATA, data + 8); done("data offset not 64-aligned", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_DATA, data + 32); done("data offset 32 past a multiple of 64", MOD_ERR_CORRUPT);
    begin(&BA); p64(MKM_OFF_LAYER_TABLE, (WN + 7) & ~(size_t)7); done("layer table past the end of the file", MOD_ERR_TRUNCATED);
    begin(&BA); p64(MKM_OFF_TENSOR_DIR, (WN + 7) & ~(size_t)7); done("tensor directory past the end of the file", MOD_ERR_TRUNCATED);
    begin(&BA); p64(MKM_OFF_TOKENIZER, (WN + 7) & ~(size_t)7); done("tokenizer past the end of the file", MOD_ERR_TRUNCATED);
    begin(&BA); p64(MKM_OFF_DATA, (WN + 63) & ~(size_t)63); done("tensor data past the end of the file", MOD_ERR_TRUNCATED);
    begin(&BA); p64(MKM_OFF_DATA_SIZE, dsz + 1); done("data_size one byte past the end", MOD_ERR_TRUNCATED);
    /* the chat template section: placed in the padding before the tensor data */
    {
        const uint64_t ct = (tok + tsz + 7) & ~(uint64_t)7;
        const size_t at = MOD__HEADER_AT_chat_template_offset, sz = MOD__HEADER_AT_chat_template_size;
        if (data - ct >= 8) {
            begin(&BA); memcpy(W + ct, "{{x}}", 5); p64(at, ct); p64(sz, 5); done("a chat template in the padding before the data", MOD_OK);
        } else printf("test setup: no room for a chat template in %s\n", BA.name), exit(2);
        begin(&BA); p64(at, ct); done("chat_template_offset set, chat_template_size 0", MOD_ERR_CORRUPT);
        begin(&BA); p64(sz, 8); done("chat_template_offset 0 with a non-zero size", MOD_ERR_CORRUPT);
        begin(&BA); p64(at, ct + 4); p64(sz, 4); done("chat template offset not 8-aligned", MOD_ERR_CORRUPT);
        begin(&BA); p64(at, tok); p64(sz, 8); done("chat template inside the tokenizer", MOD_ERR_CORRUPT);
        begin(&BA); p64(at, dir); p64(sz, 8); done("chat template at the tensor directory", MOD_ERR_CORRUPT);
        begin(&BA); p64(at, data); p64(sz, 8); done("chat template at the tensor data", MOD_ERR_CORRUPT);
        begin(&BA); p64(at, (WN + 7) & ~(size_t)7); p64(sz, 8); done("chat template past the end of the file", MOD_ERR_TRUNCATED);
        begin(&BA); p64(at, ct); p64(sz, (1u << 20) + 1); done("chat_template_size 2^20 + 1", MOD_ERR_CORRUPT);
        begin(&BA); p64(at, ct); p64(sz, UINT64_MAX); done("chat_template_size 2^64 - 1", MOD_ERR_CORRUPT);
        begin(&BA); p64(at, 8); p64(sz, UINT64_MAX - 7); done("chat template [8, 2^64) wraps around", MOD_ERR_CORRUPT);
        begin(&BA); memcpy(W + ct, "{{x}}", 5); p64(at, ct); p64(sz, 5); p64(MKM_OFF_TOKENIZER, 0); p64(MKM_OFF_TOKENIZER_SIZE, 0);
        done("a chat template without a tokenizer", MOD_ERR_CORRUPT);
    }
    begin(&BA); p64(MKM_OFF_TOKENIZER_SIZE, WN); done("tokenizer_size the whole file", MOD_ERR_TRUNCATED);
    begin(&BA); p64(MKM_OFF_LAYER_TABLE, UINT64_MAX - 7); done("layer table offset 2^64-8 (offset + length wraps)", MOD_ERR_TRUNCATED);
    begin(&BA); p64(MKM_OFF_TENSOR_DIR, UINT64_MAX - 63); done("tensor directory offset 2^64-64 (wraps)", MOD_ERR_TRUNCATED);
    begin(&BA); p64(MKM_OFF_TOKENIZER, UINT64_MAX - 7); p64(MKM_OFF_TOKENIZER_SIZE, 16); done("tokenizer offset 2^64-8, size 16 (wraps)", MOD_ERR_TRUNCATED);
    begin(&BA); p64(MKM_OFF_TOKENIZER_SIZE, UINT64_MAX - 7); done("tokenizer size 2^64-8 (wraps)", MOD_ERR_TRUNCATED);
    begin(&BA); p64(MKM_OFF_DATA, UINT64_MAX - 63); p64(MKM_OFF_DATA_SIZE, 128); done("data offset 2^64-64, size 128 (wraps)", MOD_ERR_TRUNCATED);
    begin(&BA); p64(MKM_OFF_DATA_SIZE, UINT64_MAX); done("data_size 2^64-1", MOD_ERR_TRUNCATED);
    begin(&BA); p64(MKM_OFF_DATA_SIZE, UINT64_MAX - data + 1); done("data_offset + data_size == 2^64 + 1", MOD_ERR_TRUNCATED);
    begin(&BA); p32(MKM_OFF_N_TENSORS, 0xFFFFFFFFu); done("n_tensors 2^32-1", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_TENSORS, 0x04000000u); done("n_tensors 2^26 (directory length 2^32)", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_TENSORS, 3u + 25u * 4u + 1u); done("n_tensors one more than 4 blocks can have", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_TENSORS, g32(MKM_OFF_N_TENSORS) + 1); done("n_tensors + 1 (directory runs into the tokenizer)", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_TENSORS, 0); done("n_tensors 0", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_LAYERS, 5); done("n_layers 5 (layer table runs into the directory)", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_N_LAYERS, 3); done("n_layers 3 (directory names layer 3)", MOD_ERR_CORRUPT);
    {
        /* FORMAT.md: file_size = data_offset + data_size. Bytes after the tensor data are not
           part of any section. */
        unsigned char *t = (unsigned char *)calloc(WN + 64, 1);
        memcpy(t, BA.buf, BA.size);
        mkm_put_u64(t + MKM_OFF_FILE_SIZE, BA.size + 64);
        mkm_checksum(t, BA.size + 64);
        expect("64 bytes after the tensor data (file_size != data_offset + data_size)", t, BA.size + 64, MOD_ERR_CORRUPT);
        free(t);
    }
    check_group("sections");
}

static void group_tensors(void)
{
    size_t e, e2;
    uint64_t d0, d1, off;
    begin(&BA); p32(ent(MKM_ROLE_ATTN_Q, 0) + MKM_TD_ROLE, 99); done("tensor role 99", MOD_ERR_CORRUPT);
    begin(&BA); p32(ent(MKM_ROLE_ATTN_Q, 0) + MKM_TD_ROLE, 21); done("tensor role 21", MOD_ERR_CORRUPT);
    begin(&BA); p32(ent(MKM_ROLE_ATTN_Q, 0) + MKM_TD_ROLE, 0xFFFFFFFFu); done("tensor role 2^32-1", MOD_ERR_CORRUPT);
    begin(&BA); p32(ent(MKM_ROLE_ATTN_Q, 3) + MKM_TD_LAYER, 4); done("block tensor with layer 4 of 4", MOD_ERR_CORRUPT);
    begin(&BA); p32(ent(MKM_ROLE_ATTN_Q, 3) + MKM_TD_LAYER, 0xFFFFFFFFu); done("block tensor with layer 0xFFFFFFFF", MOD_ERR_CORRUPT);
    begin(&BA); p32(ent(MKM_ROLE_ATTN_Q, 0) + MKM_TD_LAYER, 0x80000000u); done("block tensor with layer 0x80000000", MOD_ERR_CORRUPT);
    begin(&BA); p32(ent(MKM_ROLE_TOKEN_EMBEDDING, -1) + MKM_TD_LAYER, 0); done("model-wide tensor with layer 0", MOD_ERR_CORRUPT);
    begin(&BA); p32(ent(MKM_ROLE_ATTN_Q, 0) + MKM_TD_DTYPE, 7); done("tensor dtype 7", MOD_ERR_UNSUPPORTED);
    begin(&BA); p32(ent(MKM_ROLE_ATTN_Q, 0) + MKM_TD_DTYPE, 3); done("tensor dtype 3 (q8_0) with an f32-sized payload", MOD_ERR_CORRUPT);
    begin(&BA); p32(ent(MKM_ROLE_ATTN_Q, 0) + MKM_TD_DTYPE, 4); done("tensor dtype 4 (q4_0) with an f32-sized payload", MOD_ERR_CORRUPT);
    begin(&BA); p32(ent(MKM_ROLE_ATTN_Q, 0) + MKM_TD_DTYPE, 5); done("tensor dtype 5 (reserved)", MOD_ERR_UNSUPPORTED);
    begin(&BA); p32(ent(MKM_ROLE_ATTN_Q, 0) + MKM_TD_N_DIMS, 0); done("tensor n_dims 0", MOD_ERR_CORRUPT);
    begin(&BA); p32(ent(MKM_ROLE_ATTN_Q, 0) + MKM_TD_N_DIMS, 3); done("tensor n_dims 3 (dims[2] = 0)", MOD_ERR_CORRUPT);
    begin(&BA); p32(ent(MKM_ROLE_ATTN_Q, 0) + MKM_TD_N_DIMS, 0xFFFFFFFFu); done("tensor n_dims 2^32-1", MOD_ERR_CORRUPT);
    begin(&BA); p64(ent(MKM_ROLE_ATTN_Q, 0) + MKM_TD_DIMS + 16, 1); done("matrix with dims[2] = 1", MOD_ERR_CORRUPT);
    begin(&BA); p64(ent(MKM_ROLE_ATTN_Q, 0) + MKM_TD_DIMS + 24, 1); done("matrix with dims[3] = 1", MOD_ERR_CORRUPT);
    begin(&BA); p64(ent(MKM_ROLE_ATTN_NORM, 0) + MKM_TD_DIMS + 8, 1); done("1-D tensor with dims[1] = 1", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ATTN_Q, 0); p64(e + MKM_TD_DIMS, g64(e + MKM_TD_DIMS) + 1); done("attn_q with one row too many", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ATTN_K, 1); p64(e + MKM_TD_DIMS, g64(e + MKM_TD_DIMS) * 2); done("attn_k with H rows instead of Hkv", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_MLP_DOWN, 2); p64(e + MKM_TD_DIMS + 8, g64(e + MKM_TD_DIMS + 8) - 2); done("mlp_down with two columns too few", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_MLP_GATE, 0);
    d0 = g64(e + MKM_TD_DIMS); d1 = g64(e + MKM_TD_DIMS + 8);
    p64(e + MKM_TD_DIMS, d1); p64(e + MKM_TD_DIMS + 8, d0); done("mlp_gate transposed ([d, F])", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_OUTPUT_NORM, -1); p64(e + MKM_TD_DIMS, g64(e + MKM_TD_DIMS) + 1); done("output_norm of d + 1", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ATTN_Q, 0);
    d0 = g64(e + MKM_TD_DIMS); d1 = g64(e + MKM_TD_DIMS + 8);
    p32(e + MKM_TD_N_DIMS, 1); p64(e + MKM_TD_DIMS, d0 * d1); p64(e + MKM_TD_DIMS + 8, 0); done("matrix stored as 1-D", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ATTN_NORM, 1);
    p32(e + MKM_TD_N_DIMS, 2); p64(e + MKM_TD_DIMS + 8, g64(e + MKM_TD_DIMS)); p64(e + MKM_TD_DIMS, 1); done("norm stored as [1, d]", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_TOKEN_EMBEDDING, -1);
    p64(e + MKM_TD_DIMS, (uint64_t)1 << 33); p64(e + MKM_TD_DIMS + 8, (uint64_t)1 << 31); p64(e + MKM_TD_SIZE, 0);
    done("embedding dims 2^33 x 2^31 (product wraps to 0), size 0", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ATTN_Q, 0);
    p64(e + MKM_TD_DIMS, UINT64_MAX); p64(e + MKM_TD_DIMS + 8, UINT64_MAX); p64(e + MKM_TD_SIZE, 4);
    done("attn_q dims (2^64-1)^2 (product wraps to 1), size 4", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ATTN_Q, 0); p64(e + MKM_TD_SIZE, g64(e + MKM_TD_SIZE) + 2); done("tensor byte size 2 too large", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ATTN_Q, 0); p64(e + MKM_TD_SIZE, g64(e + MKM_TD_SIZE) / 2); done("f32 tensor with an f16 byte size", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ATTN_Q, 0); p64(e + MKM_TD_SIZE, 0); done("tensor byte size 0", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ATTN_Q, 0); p64(e + MKM_TD_SIZE, UINT64_MAX); done("tensor byte size 2^64-1", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ATTN_Q, 0); p32(e + MKM_TD_DTYPE, 1); done("f32 data declared f16 (size no longer matches)", MOD_ERR_CORRUPT);
    /* q4_0: 18 bytes per 32 weights, nothing else */
    begin(&BF); e = ent(MKM_ROLE_ATTN_Q, 0); p64(e + MKM_TD_SIZE, g64(e + MKM_TD_SIZE) - 1); done("q4_0 tensor one byte short", MOD_ERR_CORRUPT);
    begin(&BF); e = ent(MKM_ROLE_ATTN_Q, 0); p64(e + MKM_TD_SIZE, g64(e + MKM_TD_SIZE) - 18); done("q4_0 tensor one block short", MOD_ERR_CORRUPT);
    begin(&BF); e = ent(MKM_ROLE_MLP_DOWN, 1); p64(e + MKM_TD_SIZE, g64(e + MKM_TD_SIZE) / 18 * 34); done("q4_0 tensor with a q8_0 byte size", MOD_ERR_CORRUPT);
    begin(&BF); e = ent(MKM_ROLE_ATTN_Q, 0); p32(e + MKM_TD_DTYPE, 3); done("q4_0 data declared q8_0 (size no longer matches)", MOD_ERR_CORRUPT);
    begin(&BF); e = ent(MKM_ROLE_TOKEN_EMBEDDING, -1); p32(e + MKM_TD_DTYPE, 0); done("q4_0 embedding declared f32", MOD_ERR_CORRUPT);
    {
        int ok = 1;
        check(mod__matrix_bytes(MOD_DTYPE_Q4_0, 3, 64, &ok) == 3 * 2 * 18 && ok, "q4_0 bytes of 3 x 64: 108");
        ok = 1; mod__matrix_bytes(MOD_DTYPE_Q4_0, 1, 48, &ok); check(!ok, "q4_0 with 48 columns is refused");
        ok = 1; mod__matrix_bytes(MOD_DTYPE_Q4_0, (uint64_t)1 << 40, (uint64_t)1 << 30, &ok); check(!ok, "q4_0 bytes of 2^40 x 2^30 overflow");
        ok = 1; mod__matrix_bytes(MOD_DTYPE_Q4_0, UINT64_MAX, 32, &ok); check(!ok, "q4_0 bytes of (2^64-1) x 32 overflow");
    }
    begin(&BA); e = ent(MKM_ROLE_ATTN_Q, 1); p64(e + MKM_TD_OFFSET, g64(e + MKM_TD_OFFSET) + 4); done("tensor offset + 4 (misaligned)", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ATTN_Q, 1); p64(e + MKM_TD_OFFSET, g64(e + MKM_TD_OFFSET) + 32); done("tensor offset + 32 (misaligned)", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_OUTPUT, -1);
    off = (g64(MKM_OFF_DATA_SIZE) + 63) & ~(uint64_t)63;
    p64(e + MKM_TD_OFFSET, off); done("tensor offset past the data section", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_MLP_DOWN, 3); p64(e + MKM_TD_OFFSET, g64(e + MKM_TD_OFFSET) + 64); done("last tensor runs 64 bytes past the data section", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_MLP_DOWN, 3); p64(e + MKM_TD_OFFSET, UINT64_MAX - 63); done("tensor offset 2^64-64 (offset + size wraps)", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ATTN_K, 0); e2 = ent(MKM_ROLE_ATTN_Q, 0);
    p64(e + MKM_TD_OFFSET, g64(e2 + MKM_TD_OFFSET)); done("two tensors at the same offset", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ATTN_K, 0); e2 = ent(MKM_ROLE_ATTN_Q, 0);
    p64(e + MKM_TD_OFFSET, g64(e2 + MKM_TD_OFFSET) + 64); done("tensor starts inside the previous one", MOD_ERR_CORRUPT);
    begin(&BA); swap_bytes(ent(MKM_ROLE_ATTN_K, 0), ent(MKM_ROLE_ATTN_Q, 0), MKM_DIR_ENTRY_SIZE); done("two directory entries out of offset order", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ATTN_NORM, 1); p32(e + MKM_TD_LAYER, 0); done("duplicate (attn_norm, layer 0)", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_OUTPUT, -1); p32(e + MKM_TD_ROLE, MKM_ROLE_TOKEN_EMBEDDING); done("duplicate token_embedding", MOD_ERR_CORRUPT);
    begin(&BA); dir_remove(ent(MKM_ROLE_MLP_DOWN, 0)); done("missing mlp_down of layer 0", MOD_ERR_CORRUPT);
    begin(&BA); dir_remove(ent(MKM_ROLE_TOKEN_EMBEDDING, -1)); done("missing token_embedding", MOD_ERR_CORRUPT);
    begin(&BA); dir_remove(ent(MKM_ROLE_OUTPUT_NORM, -1)); done("missing output_norm", MOD_ERR_CORRUPT);
    begin(&BA); dir_remove(ent(MKM_ROLE_OUTPUT, -1)); done("missing output with untied embeddings", MOD_ERR_CORRUPT);
    begin(&BA); dir_remove(ent(MKM_ROLE_ROUTER, 1)); done("missing router of routed layer 1", MOD_ERR_CORRUPT);
    begin(&BA); dir_remove(ent(MKM_ROLE_ATTN_V, 3)); done("missing attn_v of the last layer", MOD_ERR_CORRUPT);
    begin(&BB); dir_remove(ent(MKM_ROLE_PREDICTOR_W2, 3)); done("missing predictor_w2 (Fp > 0)", MOD_ERR_CORRUPT);
    begin(&BB); dir_remove(ent(MKM_ROLE_PREDICTOR_B1, 1)); done("missing predictor_b1", MOD_ERR_CORRUPT);
    begin(&BC); dir_remove(ent(MKM_ROLE_PREDICTOR_W1, 1)); done("missing linear predictor weight", MOD_ERR_CORRUPT);
    begin(&BA); p32(lte(1) + MKM_LT_ROUTED, 0); pf32(lte(1) + MKM_LT_CAPACITY, 0.0f); done("router on a dense block", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_TIED, 1); done("output tensor with tied = 1", MOD_ERR_CORRUPT);
    begin(&BB); p32(MKM_OFF_TIED, 0); done("tied = 0 without an output tensor", MOD_ERR_CORRUPT);
    begin(&BB); p32(MKM_OFF_DECISION, 0); done("predictor tensors with decision router", MOD_ERR_CORRUPT);
    begin(&BA); p32(MKM_OFF_DECISION, 1); done("decision predictor without predictor tensors", MOD_ERR_CORRUPT);
    begin(&BB); p32(MKM_OFF_PREDICTOR_HIDDEN, 0); done("predictor_hidden 0 with an MLP predictor", MOD_ERR_CORRUPT);
    begin(&BC); p32(MKM_OFF_PREDICTOR_HIDDEN, 16); done("predictor_hidden 16 with a linear predictor", MOD_ERR_CORRUPT);
    begin(&BB); e = ent(MKM_ROLE_PREDICTOR_W2, 1); p32(e + MKM_TD_LAYER, 0); done("predictor_w2 on a dense block", MOD_ERR_CORRUPT);
    begin(&BB); dir_remove(ent(MKM_ROLE_ATTN_V_BIAS, 0)); done("only q and k biases in layer 0", MOD_ERR_CORRUPT);
    begin(&BB); dir_remove(ent(MKM_ROLE_ATTN_Q_BIAS, 2)); done("only k and v biases in layer 2", MOD_ERR_CORRUPT);
    begin(&BB); dir_remove(ent(MKM_ROLE_ATTN_K_BIAS, 3)); dir_remove(ent(MKM_ROLE_ATTN_V_BIAS, 3)); done("only the q bias in layer 3", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_OUTPUT_NORM, -1); p32(e + MKM_TD_DTYPE, 1); p64(e + MKM_TD_SIZE, g64(e + MKM_TD_SIZE) / 2); done("output_norm stored as f16", MOD_ERR_CORRUPT);
    begin(&BA); e = ent(MKM_ROLE_ROUTER_BIAS, 1); p32(e + MKM_TD_DTYPE, 2); p64(e + MKM_TD_SIZE, 2); done("router_bias stored as bf16", MOD_ERR_CORRUPT);
    begin(&BB); e = ent(MKM_ROLE_ATTN_Q_BIAS, 0); p32(e + MKM_TD_DTYPE, 1); p64(e + MKM_TD_SIZE, g64(e + MKM_TD_SIZE) / 2); done("attn_q_bias stored as f16", MOD_ERR_CORRUPT);
    /* positive controls: optional tensors may be left out */
    begin(&BA); dir_remove(ent(MKM_ROLE_ROUTER_BIAS, 1)); dir_remove(ent(MKM_ROLE_ROUTER_BIAS, 3)); done("no router biases (optional)", MOD_OK);
    begin(&BB); dir_remove(ent(MKM_ROLE_ATTN_Q_BIAS, 0)); dir_remove(ent(MKM_ROLE_ATTN_K_BIAS, 0)); dir_remove(ent(MKM_ROLE_ATTN_V_BIAS, 0));
    done("layer 0 without any q/k/v bias (optional as a set)", MOD_OK);
    check_group("tensor directory");
}

static void group_layers(void)
{
    begin(&BA); p32(lte(1) + MKM_LT_ROUTED, 2); done("layer routed = 2", MOD_ERR_CORRUPT);
    begin(&BA); p32(lte(1) + MKM_LT_ROUTED, 0xFFFFFFFFu); done("layer routed = 2^32-1", MOD_ERR_CORRUPT);
    begin(&BA); pf32(lte(1) + MKM_LT_CAPACITY, 0.0f); done("routed capacity 0", MOD_ERR_CORRUPT);
    begin(&BA); pf32(lte(3) + MKM_LT_CAPACITY, 1.5f); done("routed capacity 1.5", MOD_ERR_CORRUPT);
    begin(&BA); pf32(lte(3) + MKM_LT_CAPACITY, (float)NAN); done("routed capacity NaN", MOD_ERR_CORRUPT);
    begin(&BA); pf32(lte(3) + MKM_LT_CAPACITY, -0.5f); done("routed capacity -0.5", MOD_ERR_CORRUPT);
    begin(&BA); pf32(lte(3) + MKM_LT_CAPACITY, (float)INFINITY); done("routed capacity inf", MOD_ERR_CORRUPT);
    begin(&BA); pf32(lte(3) + MKM_LT_CAPACITY, 1.0000001f); done("routed capacity 1 + ulp", MOD_ERR_CORRUPT);
    begin(&BA); pf32(lte(0) + MKM_LT_CAPACITY, 0.5f); done("dense block with capacity 0.5", MOD_ERR_CORRUPT);
    begin(&BA); pf32(lte(0) + MKM_LT_CAPACITY, (float)NAN); done("dense block with capacity NaN", MOD_ERR_CORRUPT);
    begin(&BA); p32(lte(0) + MKM_LT_ROUTED, 1); pf32(lte(0) + MKM_LT_CAPACITY, 0.5f); done("routed block without a router", MOD_ERR_CORRUPT);
    begin(&BA); pf32(lte(1) + MKM_LT_CAPACITY, 1.0f); done("routed capacity 1.0", MOD_OK);
    begin(&BA); pf32(lte(1) + MKM_LT_CAPACITY, 1e-9f); done("routed capacity 1e-9", MOD_OK);
    begin(&BA); pf32(lte(0) + MKM_LT_CAPACITY, -0.0f); done("dense block with capacity -0.0", MOD_OK);
    check_group("layer table");
}

/* Kind 2: make the offsets of some control tokens run far past the string blob (each at most
   max_token_len long), then a one-byte "byte" token there. The offsets come back down right
   after, which the loader reports; the question is whether it reads the byte first. */
static void tok_runaway_offsets(void)
{
    toklay t;
    uint32_t i, start = 0, j;
    begin(&BE);
    t = tok_layout();
    for (i = 0; i < t.n; i++)
        if (W[t.types + i] == 0) { start = i; break; }
    p32(t.base + MKM_TK_MAX_TOKEN_LEN, 1024);
    for (i = start; i + 2 < t.n; i++) {
        W[t.types + i] = 2;
        p32(t.offsets + 4 * ((size_t)i + 1), tok_off(&t, i) + 1024);
        if (t.strings + tok_off(&t, i + 1) > WN + 4096) break;
    }
    if (i + 2 >= t.n) {
        printf("test setup: base E has too few tokens to reach past the end of the file\n");
        exit(2);
    }
    j = i + 1;
    W[t.types + j] = 1;
    p32(t.offsets + 4 * ((size_t)j + 1), tok_off(&t, j) + 1);
    {
        char name[200];
        snprintf(name, sizeof name, "tokens %u..%u control of 1024 bytes, then byte token %u at string offset %u "
                 "(strings_size %llu; %zu bytes past the end of the file)", start, i, j, (unsigned)tok_off(&t, j),
                 (unsigned long long)t.ss, (size_t)(t.strings + tok_off(&t, j) - WN));
        done(name, MOD_ERR_CORRUPT);
    }
}

static void group_tokenizer(void)
{
    toklay t;
    uint32_t i, k;
    char name[128];
    /* kind 1 (base A) */
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_KIND, 4); done("tokenizer kind 4", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_KIND, 3); done("a kind 1 section declared kind 3", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_KIND, 0); done("tokenizer kind 0", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_N_TOKENS, 0); done("tokenizer n_tokens 0", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_N_TOKENS, g32(MKM_OFF_VOCAB) + 1); done("tokenizer n_tokens > vocab_size", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_N_TOKENS, 0xFFFFFFFFu); done("tokenizer n_tokens 2^32-1", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_BOS, t.n); done("bos_id == n_tokens", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_BOS, (uint32_t)-2); done("bos_id -2", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_EOS, 0x7FFFFFFFu); done("eos_id 2^31-1", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_PRETOKENIZER, 4); done("pretokenizer 4", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_PRETOKENIZER, 0x80000002u); done("pretokenizer 2^31 + 2", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_FLAGS, 8); done("tokenizer flags bit 3", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_FLAGS, 4); done("kind 1 with flag bit 2 (NFC)", MOD_OK);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_FLAGS, 0x80000001u); done("tokenizer flags bit 31", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_MAX_TOKEN_LEN, 0); done("max_token_len 0", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_MAX_TOKEN_LEN, 5000); done("max_token_len 5000", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_MAX_TOKEN_LEN, 1025); done("max_token_len 1025", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_MAX_TOKEN_LEN, t.maxlen - 1); done("a token longer than max_token_len", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_RESERVED, 1); done("kind 1's n_added 1 without a table", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_RESERVED, t.n + 1); done("kind 1's n_added past n_tokens", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.offsets + 4 * 100, tok_off(&t, 101) + 1); done("string offsets decrease at token 100", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.offsets + 4 * (size_t)t.n, (uint32_t)t.ss - 1); done("last string offset != strings_size", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.offsets, 1); done("first string offset 1", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.offsets + 4 * 300, tok_off(&t, 301)); done("empty normal token (300)", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); W[t.types + 5] = 3; done("token type 3", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); W[t.types + 5] = 0xFF; done("token type 255", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); swap_bytes(t.sorted + 40, t.sorted + 44, 4); done("sorted index entries 10 and 11 swapped", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.sorted + 4 * 7, g32(t.sorted + 4 * 6)); done("sorted index lists a token twice", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.sorted, (uint32_t)t.bos); done("sorted index lists the control token bos", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.sorted, t.n); done("sorted index entry == n_tokens", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_N_SORTED, t.n + 1); done("n_sorted > n_tokens", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); W[t.types + 300] = 2; done("a normal token made control (still in the sorted index)", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.merges, t.n); done("merge left == n_tokens", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.merges + 16 + 4, 0xFFFFFFFFu); done("merge right 2^32-1", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.merges + 32 + 8, t.n + 7); done("merge result out of range", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); swap_bytes(t.merges + 16 * 3, t.merges + 16 * 4, 16); done("merges 3 and 4 out of (left, right) order", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); memcpy(W + t.merges + 16 * 6, W + t.merges + 16 * 5, 16); done("a repeated merge pair", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout();
    k = g32(t.merges + 8) == g32(t.merges + 16 + 8) ? g32(t.merges + 32 + 8) : g32(t.merges + 16 + 8);
    p32(t.merges + 8, k); done("merge result is not left || right", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.merges + 8, (uint32_t)t.bos); done("merge result is a control token", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_N_MERGES, 0x0FFFFFFFu); done("n_merges 2^28-1 (arrays larger than the section)", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_N_MERGES, 0xFFFFFFFFu); done("n_merges 2^32-1", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_N_MERGES, t.nm + 1); done("n_merges + 1 (arrays one merge past the section)", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p64(t.base + MKM_TK_STRINGS_SIZE, t.ss + 1); done("strings_size + 1 (past the section)", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p64(t.base + MKM_TK_STRINGS_SIZE, UINT64_MAX); done("strings_size 2^64-1", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p64(t.base + MKM_TK_STRINGS_SIZE, UINT64_MAX - 47); done("strings_size 2^64-48 (need wraps)", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p64(MKM_OFF_TOKENIZER_SIZE, 40); done("tokenizer section of 40 bytes", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p64(MKM_OFF_TOKENIZER_SIZE, 48); done("tokenizer section of 48 bytes (header only)", MOD_ERR_CORRUPT);
    begin(&BA); t = tok_layout(); p64(MKM_OFF_TOKENIZER_SIZE, g64(MKM_OFF_TOKENIZER_SIZE) - 1); done("tokenizer section one byte short", MOD_ERR_CORRUPT);
    /* kind 2 (base B) */
    begin(&BB); t = tok_layout(); p32(t.base + MKM_TK_N_MERGES, 1); done("scored BPE with n_merges 1", MOD_ERR_CORRUPT);
    begin(&BB); t = tok_layout(); p32(t.base + MKM_TK_PRETOKENIZER, 1); done("scored BPE with the GPT-2 pretokenizer", MOD_ERR_CORRUPT);
    begin(&BB); t = tok_layout(); p32(t.base + MKM_TK_PRETOKENIZER, 3); done("scored BPE with the Qwen2 pretokenizer", MOD_ERR_CORRUPT);
    begin(&BB); t = tok_layout(); p32(t.base + MKM_TK_FLAGS, 3); done("scored BPE with flag bit 1 (whole-piece tokens)", MOD_ERR_CORRUPT);
    begin(&BB); t = tok_layout(); p32(t.base + MKM_TK_FLAGS, 5); done("scored BPE with flag bit 2 (NFC)", MOD_ERR_CORRUPT);
    begin(&BB); t = tok_layout(); p32(t.base + MKM_TK_RESERVED, 1); done("scored BPE with n_added 1 but no table", MOD_ERR_CORRUPT);
    begin(&BB); t = tok_layout();
    for (i = 0; i < t.n; i++) if (W[t.types + i] == 0 && tok_len(&t, i) == 2) break;
    W[t.types + i] = 1;
    snprintf(name, sizeof name, "byte token of length 2 (token %u)", i);
    done(name, MOD_ERR_CORRUPT);
    begin(&BB); t = tok_layout();
    for (i = 0; i < t.n; i++) if (W[t.types + i] == 1) break;
    W[t.types + i] = 0;
    snprintf(name, sizeof name, "a byte token made normal (normal count != n_sorted, token %u)", i);
    done(name, MOD_ERR_CORRUPT);
    begin(&BB); t = tok_layout();
    for (i = 0; i < t.n; i++) if (W[t.types + i] == 1) break;
    p32(t.offsets + 4 * ((size_t)i + 1), tok_off(&t, i)); done("byte token of length 0 (next token one byte longer)", MOD_ERR_CORRUPT);
    begin(&BB); t = tok_layout();
    for (i = 0; i < t.n; i++) if (W[t.types + i] == 0) break;
    p32(t.offsets + 4 * ((size_t)i + 1), tok_off(&t, i)); done("empty normal token in scored BPE", MOD_ERR_CORRUPT);
    begin(&BB); t = tok_layout(); pf32(t.scores + 4 * (size_t)(t.n - 1), (float)NAN); done("token score NaN", MOD_ERR_CORRUPT);
    begin(&BB); t = tok_layout(); pf32(t.scores + 4 * (size_t)(t.n - 1), -(float)INFINITY); done("token score -inf", MOD_ERR_CORRUPT);
    begin(&BB); t = tok_layout(); p32(t.base + MKM_TK_BOS, 0xFFFFFFFEu); done("scored BPE bos_id -2", MOD_ERR_CORRUPT);
    begin(&BB); t = tok_layout(); p32(t.base + MKM_TK_N_SORTED, t.ns - 1); done("n_sorted one less than the normal tokens", MOD_ERR_CORRUPT);
    begin(&BB); t = tok_layout(); swap_bytes(t.sorted + 4 * (size_t)(t.ns - 2), t.sorted + 4 * (size_t)(t.ns - 1), 4); done("scored BPE sorted index out of order at the end", MOD_ERR_CORRUPT);
    /* kind 3 (base G): its record, the added-token table, the added texts */
#define SPF(f) (t.sp + MOD__TOKENIZER_SP_AT_##f)
#define ADD(i, f) (t.added + MOD__ADDED_TOKEN_BYTES * (size_t)(i) + MOD__ADDED_TOKEN_AT_##f)
    begin(&BH); t = tok_layout(); check(t.na == 3 && g32(t.base + MKM_TK_KIND) == 3, "base H is kind 3 with 3 added tokens"); done("kind 3 as written", MOD_OK);
    begin(&BH); t = tok_layout(); p32(SPF(unk_id), t.n); done("kind 3 unk_id == n_tokens", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(SPF(unk_id), 0xFFFFFFFEu); done("kind 3 unk_id -2", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(SPF(unk_id), 0xFFFFFFFFu); done("kind 3 unk_id -1 (none)", MOD_OK);
    begin(&BH); t = tok_layout(); p32(SPF(model_flags), 16); done("kind 3 model_flags bit 4", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(SPF(model_flags), 15); done("kind 3 every model flag", MOD_OK);
    begin(&BH); t = tok_layout(); p32(SPF(prepend), 4); done("kind 3 prepend rule 4", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(SPF(decode_strip), 3); done("kind 3 decode_strip 3", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(SPF(reserved) + 8, 1); done("kind 3 reserved word non-zero", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(SPF(n_added), t.n + 1); done("kind 3 n_added > n_tokens", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(SPF(n_added), 4); done("kind 3 n_added + 1 (the strings move)", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(SPF(n_added), 0xFFFFFFFFu); done("kind 3 n_added 2^32-1", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(t.base + MKM_TK_PRETOKENIZER, 1); done("kind 3 with the GPT-2 pretokenizer", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(t.base + MKM_TK_FLAGS, 1); done("kind 3 with flag bit 0", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(t.base + MKM_TK_FLAGS, 4); done("kind 3 with flag bit 2 (NFC)", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(t.base + MKM_TK_RESERVED, 1); done("kind 3 with the header's n_added 1", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p64(MKM_OFF_TOKENIZER_SIZE, 48 + 16); done("kind 3 section cut inside its record", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(ADD(0, id), t.n); done("added token id == n_tokens", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(ADD(1, flags), 2); done("added token flag bit 1", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(ADD(1, id), 300); done("special added token that is a normal token", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(ADD(1, flags), 0); done("a special added token made ordinary", MOD_OK);
    begin(&BH); t = tok_layout(); p32(ADD(2, length), 0); done("empty added token", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(ADD(2, length), 1025); done("added token of 1025 bytes", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(ADD(2, length), g32(ADD(2, length)) + 1); done("added token runs past the strings", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(ADD(2, offset), 0xFFFFFFFFu); done("added token offset 2^32-1", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(ADD(0, offset), tok_off(&t, t.n) - 1); done("added text inside the token strings", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); swap_bytes(ADD(0, id), ADD(1, id), MOD__ADDED_TOKEN_BYTES); done("added tokens out of order", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); memcpy(W + ADD(1, id), W + ADD(0, id), MOD__ADDED_TOKEN_BYTES); done("an added token twice", MOD_ERR_CORRUPT);
    begin(&BH); t = tok_layout(); p32(t.offsets + 4 * (size_t)t.n, (uint32_t)t.ss + 1); done("kind 3 token strings past strings_size", MOD_ERR_CORRUPT);
    /* kind 2 (base I): the table counted in the header, checked as kind 3's */
    begin(&BI); t = tok_layout(); check(t.na == 4 && g32(t.base + MKM_TK_KIND) == 2, "base I is kind 2 with 4 added tokens"); done("kind 2 with a table as written", MOD_OK);
    begin(&BI); t = tok_layout(); p32(t.base + MKM_TK_RESERVED, t.n + 1); done("kind 2 n_added > n_tokens", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); p32(t.base + MKM_TK_RESERVED, 5); done("kind 2 n_added + 1 (the strings move)", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); p32(t.base + MKM_TK_RESERVED, 0xFFFFFFFFu); done("kind 2 n_added 2^32-1", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); p32(t.base + MKM_TK_RESERVED, 3); done("kind 2 n_added - 1 (the strings move)", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); p32(ADD(0, id), t.n); done("kind 2 added token id == n_tokens", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); p32(ADD(1, flags), 2); done("kind 2 added token flag bit 1", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); p32(ADD(0, flags), 1); done("kind 2 special added token that is a normal token", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); p32(ADD(1, flags), 0); done("kind 2 special added token made ordinary", MOD_OK);
    begin(&BI); t = tok_layout(); p32(ADD(2, length), 0); done("kind 2 empty added token", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); p32(ADD(2, length), 1025); done("kind 2 added token of 1025 bytes", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); p32(ADD(3, length), g32(ADD(3, length)) + 1); done("kind 2 added token runs past the strings", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); p32(ADD(2, offset), 0xFFFFFFFFu); done("kind 2 added token offset 2^32-1", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); p32(ADD(0, offset), tok_off(&t, t.n) - 1); done("kind 2 added text inside the token strings", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); swap_bytes(ADD(0, id), ADD(1, id), MOD__ADDED_TOKEN_BYTES); done("kind 2 added tokens out of order", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); memcpy(W + ADD(2, id), W + ADD(1, id), MOD__ADDED_TOKEN_BYTES); done("kind 2 an added token twice", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); p32(t.offsets + 4 * (size_t)t.n, (uint32_t)t.ss + 1); done("kind 2 token strings past strings_size", MOD_ERR_CORRUPT);
    begin(&BI); t = tok_layout(); p64(MKM_OFF_TOKENIZER_SIZE, (uint64_t)(t.strings - t.base) - 1); done("kind 2 section cut inside its table", MOD_ERR_CORRUPT);
#undef SPF
#undef ADD
    tok_runaway_offsets();
    /* positive controls */
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_BOS, 0xFFFFFFFFu); p32(t.base + MKM_TK_EOS, 0xFFFFFFFFu); done("bos and eos -1", MOD_OK);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_MAX_TOKEN_LEN, 1024); done("max_token_len 1024", MOD_OK);
    begin(&BB); t = tok_layout(); p32(t.base + MKM_TK_FLAGS, 0); done("scored BPE without the dummy-prefix flag", MOD_OK);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_PRETOKENIZER, 0); done("byte-level BPE without a pretokenizer", MOD_OK);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_PRETOKENIZER, 2); done("byte-level BPE with the Llama 3 split", MOD_OK);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_PRETOKENIZER, 3); done("byte-level BPE with the Qwen2 split", MOD_OK);
    begin(&BA); t = tok_layout(); p32(t.base + MKM_TK_FLAGS, 3); done("byte-level BPE with flag bits 0 and 1", MOD_OK);
    check_group("tokenizer");
}

/* Values FORMAT.md allows (norm_eps and rope_theta only need to be > 0, threshold any finite
   number) must load. */
static void group_allowed(void)
{
    begin(&BA); pf32(MKM_OFF_NORM_EPS, 1.0f); done("norm_eps 1.0 (FORMAT.md: > 0)", MOD_OK);
    begin(&BA); pf32(MKM_OFF_NORM_EPS, 1e-30f); done("norm_eps 1e-30", MOD_OK);
    begin(&BA); pf32(MKM_OFF_ROPE_THETA, 1e31f); done("rope_theta 1e31 (FORMAT.md: > 0)", MOD_OK);
    begin(&BA); pf32(MKM_OFF_ROPE_THETA, 1.5f); done("rope_theta 1.5", MOD_OK);
    begin(&BA); pf32(MKM_OFF_THRESHOLD, -FLT_MAX); done("threshold -FLT_MAX", MOD_OK);
    begin(&BA); pf32(MKM_OFF_THRESHOLD, 3.0f); done("threshold 3 (nothing routed)", MOD_OK);
    begin(&BA); p32(MKM_OFF_MAX_SEQ, 1); done("max_seq_len 1", MOD_OK);
    begin(&BA); p32(MKM_OFF_PREDICTOR_HIDDEN, 7); done("predictor_hidden 7 with decision router (unused)", MOD_OK);
    check_group("values FORMAT.md allows");
}

/* Session memory for a fixed context, batch and thread count: a header field may size it only
   through what the tensors present imply (dims, heads, vocabulary, predictor width). Every
   integer field of every base is set to values that may still load; where the file still
   loads, the session must need exactly as many bytes as the unpatched file's. */
static size_t session_bytes(const unsigned char *buf, size_t n, int *loaded)
{
    mod_model *m = NULL;
    mod_session_desc sd;
    size_t bytes = 0;
    gbuf g;
    gbuf_new(&g, buf, n, 0);
    *loaded = mod_model_load_memory(&m, g.p, n, NULL, NULL) == MOD_OK;
    if (*loaded) {
        memset(&sd, 0, sizeof sd);
        sd.max_tokens = 16;
        sd.threads = 64;
        if (mod_session_memory_required(m, &sd, &bytes, NULL) != MOD_OK) bytes = 0;
        mod_model_free(m);
    }
    gbuf_free(&g);
    return bytes;
}

static void group_memory_bounds(void)
{
    static const size_t fields[] = { MKM_OFF_VOCAB, MKM_OFF_DIM, MKM_OFF_N_LAYERS, MKM_OFF_N_HEADS,
                                     MKM_OFF_N_KV_HEADS, MKM_OFF_HIDDEN, MKM_OFF_MAX_SEQ, MKM_OFF_TIED,
                                     MKM_OFF_DECISION, MKM_OFF_PREDICTOR_HIDDEN };
    const basefile *bases[6];
    int i, loads = 0;
    size_t f;
    bases[0] = &BA; bases[1] = &BB; bases[2] = &BC; bases[3] = &BD; bases[4] = &BE; bases[5] = &BF;
    for (i = 0; i < 6; i++) {
        int ok, bad = 0;
        size_t base = session_bytes(bases[i]->buf, bases[i]->size, &ok);
        check(ok && base > 0, "%s: loads and sizes a session", bases[i]->name);
        for (f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            uint32_t orig = mkm_get_u32(bases[i]->buf + fields[f]), vals[6];
            int v;
            vals[0] = orig + 1; vals[1] = orig * 2; vals[2] = orig * 64; vals[3] = 1u << 22;
            vals[4] = 1u << 24; vals[5] = orig ? orig - 1 : 1;
            for (v = 0; v < 6; v++) {
                size_t got;
                begin(bases[i]);
                p32(fields[f], vals[v]);
                mkm_checksum(W, WN);
                got = session_bytes(W, WN, &ok);
                if (!ok) continue;
                loads++;
                if (got != base) {
                    bad++;
                    check(0, "%s: header field at offset %zu set to %u loads, and a 16-token session then needs %zu bytes instead of %zu",
                          bases[i]->name, fields[f], vals[v], got, base);
                }
            }
        }
        check(bad == 0, "%s: no patched header field that still loads changes a session's size", bases[i]->name);
    }
    /* predictor_hidden in a file without a predictor is read as 0, and said so */
    begin(&BA); p32(MKM_OFF_PREDICTOR_HIDDEN, 1u << 22); mkm_checksum(W, WN);
    {
        mod_model *m = NULL;
        gbuf g;
        gbuf_new(&g, W, WN, 0);
        check(mod_model_load_memory(&m, g.p, WN, NULL, NULL) == MOD_OK && mod_model_config(m)->predictor_hidden == 0,
              "predictor_hidden 2^22 with decision router loads as 0");
        mod_model_free(m);
        gbuf_free(&g);
    }
    check(loads > 0, "some patched files still load (%d), so the comparison above ran", loads);
    check_group("header fields that size memory");
}

static void group_arena(void)
{
    const basefile *bases[3];
    int i;
    bases[0] = &BA; bases[1] = &BE; bases[2] = &BC;
    for (i = 0; i < 3; i++) {
        const basefile *b = bases[i];
        size_t need = 0, k;
        mod_error err;
        mod_result r;
        mod_model *m = NULL;
        mod_model_desc d;
        unsigned char *arena;
        gbuf g;
        gbuf_new(&g, b->buf, b->size, 0);
        r = mod_model_memory_required(g.p, b->size, &need, &err);
        check(r == MOD_OK && need > 0, "%s: memory_required gave %s", b->name, code_name(r));
        arena = (unsigned char *)malloc(need + 64);
        for (k = 0; k < 64; k += (k < 3 ? 1 : 13)) {
            /* exactly need bytes, at every alignment */
            memset(&d, 0, sizeof d);
            d.arena = arena + k;
            d.arena_size = need;
            m = NULL;
            r = mod_model_load_memory(&m, g.p, b->size, &d, &err);
            check(r == MOD_OK && m != NULL, "%s: arena of exactly %zu bytes at +%zu: %s \"%s\"", b->name, need, k, code_name(r), err.message);
            if (r == MOD_OK) {
                mod_session *s = NULL;
                mod_session_desc sd;
                int32_t toks[3] = { 1, 2, 3 };
                check((unsigned char *)m >= arena + k && (unsigned char *)m < arena + k + need,
                      "%s: the model struct is not inside the caller's arena", b->name);
                check_config(b, m);
                memset(&sd, 0, sizeof sd);
                sd.max_tokens = 8;
                sd.threads = 1;
                r = mod_session_create(&s, m, &sd, NULL);
                if (r == MOD_OK) r = mod_prefill(s, toks, 3, NULL);
                check(r == MOD_OK, "%s: session on an arena model: %s", b->name, code_name(r));
                mod_session_free(s);
                mod_model_free(m); /* must not free the caller's arena */
            }
            d.arena_size = need - 1;
            m = (mod_model *)&m;
            r = mod_model_load_memory(&m, g.p, b->size, &d, &err);
            check(r == MOD_ERR_OUT_OF_MEMORY && err.message[0] && m == NULL, "%s: arena of need - 1 bytes at +%zu: %s; want MOD_ERR_OUT_OF_MEMORY",
                  b->name, k, code_name(r));
        }
        memset(&d, 0, sizeof d);
        d.arena = arena;
        d.arena_size = 0;
        r = mod_model_load_memory(&m, g.p, b->size, &d, &err);
        check(r == MOD_ERR_OUT_OF_MEMORY && err.message[0], "%s: arena of 0 bytes: %s", b->name, code_name(r));
        free(arena);
        /* memory_required checks the header the same way the loader does */
        r = mod_model_memory_required(g.p, 100, &need, &err);
        check(r == MOD_ERR_TRUNCATED && err.message[0], "%s: memory_required on 100 bytes: %s", b->name, code_name(r));
        gbuf_free(&g);
    }
    {
        mod_error err;
        size_t need;
        mod_result r;
        begin(&BA);
        p32(MKM_OFF_VERSION, 3);
        r = mod_model_memory_required(W, WN, &need, &err);
        check(r == MOD_ERR_BAD_VERSION && err.message[0], "memory_required of a version 3 file: %s", code_name(r));
        begin(&BA);
        p32(MKM_OFF_N_LAYERS, 0);
        r = mod_model_memory_required(W, WN, &need, &err);
        check(r == MOD_ERR_CORRUPT && err.message[0], "memory_required with n_layers 0: %s", code_name(r));
    }
    check_group("arena");
}

static int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    if (n && fwrite(p, 1, n, f) != n) { fclose(f); return -1; }
    return fclose(f);
}

static void group_files(void)
{
    char dir[] = "/tmp/mod_test_load_XXXXXX";
    char path[128];
    const basefile *bases[3];
    int i, fd;
    mod_error err;
    mod_result r;
    mod_model *m = NULL;
    bases[0] = &BA; bases[1] = &BB; bases[2] = &BC;
    for (i = 0; i < 6; i++) { /* each file mapped, then read (MOD_LOAD_NO_MMAP) */
        const basefile *b = bases[i % 3];
        char tmpl[] = "/tmp/mod_test_load_XXXXXX";
        mod_model *mf = NULL, *mm = NULL;
        mod_model_desc d;
        gbuf g;
        fd = mkstemp(tmpl);
        if (fd < 0) { check(0, "mkstemp failed: %s", strerror(errno)); continue; }
        close(fd);
        if (write_file(tmpl, b->buf, b->size) != 0) { check(0, "cannot write %s", tmpl); remove(tmpl); continue; }
        memset(&d, 0, sizeof d);
        d.flags = MOD_LOAD_VERIFY_CHECKSUM | (i >= 3 ? MOD_LOAD_NO_MMAP : 0u);
        r = mod_model_load_file(&mf, tmpl, &d, &err);
        check(r == MOD_OK, "%s: load_file (%s) gave %s: %s", b->name, i >= 3 ? "read" : "mapped", code_name(r), err.message);
        gbuf_new(&g, b->buf, b->size, 0);
        r = mod_model_load_memory(&mm, g.p, b->size, NULL, &err);
        check(r == MOD_OK, "%s: load_memory gave %s", b->name, code_name(r));
        if (mf && mm) {
            int32_t ta[64], tb[64];
            int na = -1, nb = -2;
            mod_result ra, rb;
            check(memcmp(mod_model_config(mf), mod_model_config(mm), sizeof(mod_config)) == 0,
                  "%s: load_file and load_memory give different configs", b->name);
            check(mod_model_checksum(mf) == mod_model_checksum(mm) && mod_model_parameters(mf) == mod_model_parameters(mm),
                  "%s: load_file and load_memory give different checksum/parameters", b->name);
            check_config(b, mf);
            ra = mod_tokenize(mf, k_text, sizeof k_text - 1, 0, ta, 64, &na, NULL);
            rb = mod_tokenize(mm, k_text, sizeof k_text - 1, 0, tb, 64, &nb, NULL);
            check(ra == rb && na == nb && (ra != MOD_OK || memcmp(ta, tb, sizeof(int32_t) * (size_t)na) == 0),
                  "%s: file and memory models tokenize differently", b->name);
            {
                mod_session *sa = NULL, *sb = NULL;
                mod_session_desc sd;
                int32_t toks[4] = { 3, 1, 4, 1 };
                memset(&sd, 0, sizeof sd);
                sd.max_tokens = 8;
                sd.threads = 1;
                if (mod_session_create(&sa, mf, &sd, NULL) == MOD_OK && mod_session_create(&sb, mm, &sd, NULL) == MOD_OK &&
                    mod_prefill(sa, toks, 4, NULL) == MOD_OK && mod_prefill(sb, toks, 4, NULL) == MOD_OK)
                    check(memcmp(mod_session_logits(sa), mod_session_logits(sb), sizeof(float) * (size_t)mod_model_config(mm)->vocab_size) == 0,
                          "%s: file and memory models give different logits", b->name);
                else
                    check(0, "%s: sessions on file/memory models failed", b->name);
                mod_session_free(sa);
                mod_session_free(sb);
            }
        }
        mod_model_free(mf);
        mod_model_free(mm);
        gbuf_free(&g);
        /* the caller's arena for the struct, with a file */
        {
            size_t need = 0;
            unsigned char *arena;
            mod_model_memory_required(b->buf, b->size, &need, NULL);
            arena = (unsigned char *)malloc(need);
            memset(&d, 0, sizeof d);
            d.arena = arena;
            d.arena_size = need;
            mf = NULL;
            r = mod_model_load_file(&mf, tmpl, &d, &err);
            check(r == MOD_OK && mf && mod_model_config(mf)->dim == b->o.dim, "%s: load_file into an arena: %s", b->name, code_name(r));
            mod_model_free(mf);
            d.arena_size = need - 1;
            mf = NULL;
            r = mod_model_load_file(&mf, tmpl, &d, &err);
            check(r == MOD_ERR_OUT_OF_MEMORY && mf == NULL && err.message[0], "%s: load_file into a short arena: %s", b->name, code_name(r));
            free(arena);
        }
        /* a damaged file on disk: same error as from memory */
        {
            unsigned char *t = (unsigned char *)malloc(b->size);
            memcpy(t, b->buf, b->size);
            t[b->size / 2] ^= 0x10;
            write_file(tmpl, t, b->size);
            memset(&d, 0, sizeof d);
            d.flags = MOD_LOAD_VERIFY_CHECKSUM;
            r = mod_model_load_file(&mf, tmpl, &d, &err);
            check(r == MOD_ERR_CHECKSUM && err.message[0] && mf == NULL, "%s: damaged file on disk: %s", b->name, code_name(r));
            write_file(tmpl, t, b->size / 3);
            r = mod_model_load_file(&mf, tmpl, NULL, &err);
            check(r == MOD_ERR_TRUNCATED && err.message[0] && mf == NULL, "%s: truncated file on disk: %s", b->name, code_name(r));
            memcpy(t, "MODX", 4);
            write_file(tmpl, t, b->size);
            r = mod_model_load_file(&mf, tmpl, NULL, &err);
            check(r == MOD_ERR_BAD_MAGIC && err.message[0] && mf == NULL, "%s: bad magic on disk: %s", b->name, code_name(r));
            free(t);
        }
        remove(tmpl);
    }
    if (!mkdtemp(dir)) {
        check(0, "mkdtemp failed: %s", strerror(errno));
    } else {
        snprintf(path, sizeof path, "%s/missing.mod", dir);
        m = (mod_model *)&m;
        r = mod_model_load_file(&m, path, NULL, &err);
        check(r == MOD_ERR_IO && err.code == r && err.message[0] && m == NULL, "missing file: %s \"%s\"; want MOD_ERR_IO", code_name(r), err.message);
        m = (mod_model *)&m;
        r = mod_model_load_file(&m, dir, NULL, &err);
        check(r == MOD_ERR_IO && err.code == r && err.message[0] && m == NULL, "a directory: %s \"%s\"; want MOD_ERR_IO", code_name(r), err.message);
        snprintf(path, sizeof path, "%s/empty.mod", dir);
        write_file(path, "", 0);
        m = (mod_model *)&m;
        r = mod_model_load_file(&m, path, NULL, &err);
        check(r == MOD_ERR_TRUNCATED && err.code == r && err.message[0] && m == NULL, "an empty file: %s \"%s\"; want MOD_ERR_TRUNCATED", code_name(r), err.message);
        remove(path);
        snprintf(path, sizeof path, "%s/short.mod", dir);
        write_file(path, "MODH\1\0\0\0", 8);
        r = mod_model_load_file(&m, path, NULL, &err);
        check(r == MOD_ERR_TRUNCATED && err.message[0] && m == NULL, "an 8-byte file: %s \"%s\"; want MOD_ERR_TRUNCATED", code_name(r), err.message);
        remove(path);
        rmdir(dir);
    }
    check_group("files");
}

/* ---- robustness sweep -------------------------------------------------------------------- */

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint64_t rndn(uint64_t n) { return n ? rnd() % n : 0; }

static uint32_t pick_u32(uint32_t orig)
{
    switch (rndn(12)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return 2;
    case 3: return 0xFFFFFFFFu;
    case 4: return 0x80000000u;
    case 5: return 0x7FFFFFFFu;
    case 6: return orig + 1;
    case 7: return orig - 1;
    case 8: return orig ^ (1u << rndn(32));
    case 9: return (uint32_t)rndn(1024);
    case 10: return orig * 2;
    default: return (uint32_t)rnd();
    }
}

static uint64_t pick_u64(uint64_t orig)
{
    switch (rndn(10)) {
    case 0: return 0;
    case 1: return UINT64_MAX;
    case 2: return (uint64_t)1 << 63;
    case 3: return UINT64_MAX - 63;
    case 4: return orig + 8;
    case 5: return orig - 8;
    case 6: return orig + 64;
    case 7: return orig - 64;
    case 8: return (uint64_t)WN;
    default: return orig ^ ((uint64_t)1 << rndn(64));
    }
}

static int inside(size_t off, size_t len) { return off <= WN && len <= WN - off; }

static void mutate_once(char *desc, size_t cap)
{
    size_t lay = (size_t)g64(MKM_OFF_LAYER_TABLE), dir = (size_t)g64(MKM_OFF_TENSOR_DIR);
    size_t ll = 8u * (size_t)g32(MKM_OFF_N_LAYERS), dl = 64u * (size_t)g32(MKM_OFF_N_TENSORS);
    size_t tok = (size_t)g64(MKM_OFF_TOKENIZER), tl = (size_t)g64(MKM_OFF_TOKENIZER_SIZE);
    size_t lo, len, at, used = strlen(desc);
    int region = (int)rndn(tl ? 6 : 5);
    const char *rn;
    /* only mutate sections that still lie inside the file (earlier mutations may have moved them) */
    if (!inside(lay, ll) || !inside(dir, dl) || !inside(tok, tl)) region = 0;
    switch (region) {
    case 0: lo = 16; len = MKM_HEADER_SIZE - 16; rn = "hdr"; break;
    case 1: lo = lay; len = ll; rn = "layers"; break;
    case 2: case 3: lo = dir; len = dl; rn = "dir"; break;
    case 4: lo = 16; len = WN - 16; rn = "any"; break;
    default: lo = tok; len = tl; rn = "tok"; break;
    }
    if (len < 8) { lo = 16; len = MKM_HEADER_SIZE - 16; rn = "hdr"; }
    if (region == 5 && rndn(2)) {
        /* the tokenizer header and the first arrays, where the counts and offsets are */
        if (len > 48 + 4096) len = 48 + 4096;
    }
    switch (rndn(4)) {
    case 0: /* flip one bit */
        at = lo + (size_t)rndn(len);
        {
            unsigned bit = (unsigned)rndn(8);
            W[at] ^= (unsigned char)(1u << bit);
            snprintf(desc + used, cap - used, "%s+%zu^bit%u; ", rn, at - lo, bit);
        }
        break;
    case 1: /* a random byte */
        at = lo + (size_t)rndn(len);
        W[at] = (unsigned char)rnd();
        snprintf(desc + used, cap - used, "%s+%zu=0x%02x; ", rn, at - lo, W[at]);
        break;
    case 2: /* a u64 field, 8-aligned relative to the section */
        at = lo + (size_t)rndn(len / 8) * 8;
        if (region == 0) at = 16 + 8 * (size_t)rndn(8); /* the u64 header fields 16..79 */
        p64(at, pick_u64(g64(at)));
        snprintf(desc + used, cap - used, "%s+%zu=u64 0x%llx; ", rn, at - lo, (unsigned long long)g64(at));
        break;
    default: /* a u32 field */
        at = lo + (size_t)rndn(len / 4) * 4;
        p32(at, pick_u32(g32(at)));
        snprintf(desc + used, cap - used, "%s+%zu=0x%x; ", rn, at - lo, (unsigned)g32(at));
        break;
    }
}

static void group_fuzz(int iterations)
{
    const basefile *bases[5];
    int it, loaded = 0, crashes = 0, by_code[MOD_RESULT_COUNT + 1];
    char hist[512];
    size_t hl = 0;
    int i;
    bases[0] = &BA; bases[1] = &BB; bases[2] = &BC; bases[3] = &BD; bases[4] = &BE;
    memset(by_code, 0, sizeof by_code);
    for (it = 0; it < iterations; it++) {
        char desc[512];
        int k, nmut = 1 + (int)rndn(3);
        unsigned flags = rndn(2) ? MOD_LOAD_VERIFY_CHECKSUM : 0u;
        gbuf g;
        outcome o;
        begin(bases[it % 5]);
        snprintf(desc, sizeof desc, "%s #%d: ", WB->name, it);
        for (k = 0; k < nmut; k++) mutate_once(desc, sizeof desc);
        mkm_checksum(W, WN);
        gbuf_new(&g, W, WN, 0);
        o = run_load(g.p, WN, flags, 1);
        gbuf_free(&g);
        if (o.crashed) {
            crashes++;
            check(0, "fuzz %s-> crashed (%s)", desc, crash_text(&o));
            continue;
        }
        by_code[o.code >= 0 && o.code < (int)MOD_RESULT_COUNT ? o.code : MOD_RESULT_COUNT]++;
        if (o.code == MOD_OK) {
            loaded++;
            check(o.create == MOD_OK && o.prefill == MOD_OK && o.dec1 == MOD_OK && o.dec2 == MOD_OK &&
                      (o.tok == MOD_OK || o.tok == MOD_ERR_TOKENIZE || o.tok == MOD_ERR_NO_TOKENIZER) &&
                      (o.tok != MOD_OK || o.detok == MOD_OK),
                  "fuzz %s-> loaded, but session create %s, prefill %s, decode %s/%s, tokenize %s, detokenize %s", desc,
                  code_name(o.create), code_name(o.prefill), code_name(o.dec1), code_name(o.dec2), code_name(o.tok),
                  code_name(o.detok));
        } else {
            int known = o.code == MOD_ERR_BAD_MAGIC || o.code == MOD_ERR_BAD_VERSION || o.code == MOD_ERR_TRUNCATED ||
                        o.code == MOD_ERR_CORRUPT || o.code == MOD_ERR_UNSUPPORTED || o.code == MOD_ERR_CHECKSUM;
            check(known && o.err_code == o.code && o.msg[0] && o.model_null, "fuzz %s-> %s (err.code %s) \"%s\"", desc,
                  code_name(o.code), code_name(o.err_code), o.msg);
        }
    }
    hist[0] = 0;
    for (i = 0; i <= (int)MOD_RESULT_COUNT; i++)
        if (by_code[i]) hl += (size_t)snprintf(hist + hl, sizeof hist - hl, " %s:%d", i < (int)MOD_RESULT_COUNT ? code_name(i) : "other", by_code[i]);
    printf("   fuzz: %d mutations, %d loaded and ran a session, %d crashes;%s\n", iterations, loaded, crashes, hist);
    check_group("robustness sweep");
}

int main(void)
{
    const char *nf = getenv("MOD_TEST_NOFORK");
    const char *it = getenv("MOD_TEST_FUZZ");
    g_nofork = nf && *nf && *nf != '0';
    make_bases();
    group_valid();
    group_arguments();
    group_checksum();
    group_truncation();
    group_header();
    group_header_v2();
    group_version1();
    group_sections();
    group_tensors();
    group_layers();
    group_tokenizer();
    group_allowed();
    group_memory_bounds();
    group_arena();
    group_files();
    group_fuzz(it && atoi(it) > 0 ? atoi(it) : 3000);
    free(W);
    free(BA.buf); free(BB.buf); free(BC.buf); free(BD.buf); free(BE.buf); free(BF.buf); free(BG.buf); free(BH.buf); free(BI.buf);
    return check_finish();
}
