/* ckpt.h: the inputs of the mod-convert tests, written by the tests themselves, and mod-convert
   run as a separate process. Shared by tests/test_convert_*.c; include it after mod.h.

   scratch and processes  ckpt_main (runs the tests in the scratch directory g_tmp),
                          P (a path in it), write_file, read_file, same_files, exists, run, conv
                          (mod-convert's exit status; its output in g_out, its errors in g_err),
                          refuse (a conversion that must fail and leave nothing), load
   values                 uval, f16val, bf16val: every weight a function of (seed, role, layer, i)
   Hugging Face layout    spec (spec_default, spec_mod, mod_keys_full), role_shape, value; the
                          safetensors writer (st_add, st_write) and build_tensors, write_config,
                          make_dir (config.json + model.safetensors under the names of a naming)
   tokenizer.json         write_tokenizer: a hand-made byte-level BPE (B(byte) is a byte's id)
   llama2.c               l2c_init / l2c_write / l2c_free (legacy and version 1 checkpoints),
                          l2c_vocab and write_tokenizer_bin (tokenizer.bin) */
#ifndef CKPT_H
#define CKPT_H

#ifndef MOD_H
#error "include mod.h before ckpt.h"
#endif

#include "check.h"
#include "mkmodel.h"
#include "ref.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__GNUC__) || defined(__clang__)
#define CKPT_FN static __attribute__((unused))
#else
#define CKPT_FN static
#endif

/* ---- scratch directory, files and processes ------------------------------------------- */

/* mod-convert, the scratch directory, and the output and errors of the last run */
static char g_conv[4096], g_tmp[4096], g_err[8192], g_out[8192];

/* A path in the scratch directory, from a printf format (the last 32 stay valid). */
CKPT_FN const char *P(const char *fmt, ...)
{
    static char buf[32][8192];
    static int which;
    char *o = buf[which++ & 31], rel[3000];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(o, sizeof buf[0], "%s/%s", g_tmp, rel);
    return o;
}

CKPT_FN void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

CKPT_FN void write_str(const char *path, const char *s) { write_file(path, s, strlen(s)); }

CKPT_FN unsigned char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long len;
    *n = 0;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = (unsigned char *)malloc((size_t)len + 1);
    if (b && len > 0 && fread(b, 1, (size_t)len, f) != (size_t)len) { free(b); b = NULL; }
    fclose(f);
    if (b) { b[len] = 0; *n = (size_t)len; }
    return b;
}

CKPT_FN char *strdup_c(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = (char *)malloc(n);
    memcpy(p, s, n);
    return p;
}

CKPT_FN int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

CKPT_FN int same_files(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *x = read_file(a, &na), *y = read_file(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

CKPT_FN void mkdir_p(const char *path) { mkdir(path, 0777); }

/* Runs argv (argv[0] a path), stdout and stderr into g_out and g_err; returns the exit status
   (128 + signal when killed). */
CKPT_FN int run(char *const argv[])
{
    pid_t pid;
    int status;
    size_t n;
    unsigned char *s;
    const char *out = P("stdout.txt"), *err = P("stderr.txt");
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644), fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0) _exit(126);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
    s = read_file(out, &n);
    snprintf(g_out, sizeof g_out, "%s", s ? (char *)s : "");
    free(s);
    s = read_file(err, &n);
    snprintf(g_err, sizeof g_err, "%s", s ? (char *)s : "");
    free(s);
    n = strlen(g_err);
    while (n > 0 && (g_err[n - 1] == '\n' || g_err[n - 1] == ' ')) g_err[--n] = 0;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Runs mod-convert with the NULL-terminated arguments. */
CKPT_FN int conv(const char *first, ...)
{
    char *argv[64];
    int n = 0;
    va_list ap;
    const char *a;
    argv[n++] = g_conv;
    va_start(ap, first);
    for (a = first; a && n < 63; a = va_arg(ap, const char *)) argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    return run(argv);
}

/* Entries of dir whose name starts with '.', other than . and .. (left-over temporaries). */
CKPT_FN int stray_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d) return 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Removes the scratch directory however the program ends (a failed helper calls exit). */
CKPT_FN void remove_scratch(void)
{
    char cmd[4300];
    if (!g_tmp[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) printf("(could not remove %s)\n", g_tmp);
    g_tmp[0] = 0;
}

/* One group of checks: the function and the name its group line shows. */
typedef struct ckpt_test {
    void (*fn)(void);
    const char *name;
} ckpt_test;

/* The main of a converter test: finds mod-convert (argv[1], or beside this program), makes the
   scratch directory, runs the n tests in order (every pass printed too), removes the directory;
   prints the summary line and returns the exit status. */
CKPT_FN int ckpt_main(int argc, char **argv, const ckpt_test *tests, int n)
{
    char tmpl[] = "/tmp/mod-convert-test.XXXXXX";
    int i;
    check_verbose = 1;
    if (argc > 1) snprintf(g_conv, sizeof g_conv, "%s", argv[1]);
    else {
        const char *slash = strrchr(argv[0], '/');
        if (slash) snprintf(g_conv, sizeof g_conv, "%.*s/mod-convert", (int)(slash - argv[0]), argv[0]);
        else snprintf(g_conv, sizeof g_conv, "build/mod-convert");
    }
    if (access(g_conv, X_OK) != 0) {
        check(0, "%s is not there (build it first)", g_conv);
        return check_finish();
    }
    if (!mkdtemp(tmpl)) {
        check(0, "cannot make a temporary directory");
        return check_finish();
    }
    snprintf(g_tmp, sizeof g_tmp, "%s", tmpl);
    atexit(remove_scratch);
    umask(022);
    for (i = 0; i < n; i++) {
        tests[i].fn();
        check_group(tests[i].name);
    }
    remove_scratch();
    return check_finish();
}

/* Runs a conversion that must fail with pattern in its message: once without an output file
   (none may appear), once over an existing file with --force (it must stay as it was). */
CKPT_FN void refuse(const char *what, const char *pattern, const char *in, const char *extra1, const char *extra2)
{
    const char *out = P("refused.mod");
    int rc;
    size_t n;
    unsigned char *b;
    unlink(out);
    rc = conv(in, "-o", out, extra1, extra2, NULL);
    check(rc == 1 && strstr(g_err, pattern) && !exists(out) && !stray_files(g_tmp),
          "%s: refused with \"%s\", no file left (exit %d: %s)", what, pattern, rc, g_err);
    write_str(out, "keep me");
    rc = extra1 ? (extra2 ? conv(in, "-o", out, "--force", extra1, extra2, NULL) : conv(in, "-o", out, "--force", extra1, NULL))
                : conv(in, "-o", out, "--force", NULL);
    b = read_file(out, &n);
    check(rc == 1 && b && n == 7 && !memcmp(b, "keep me", 7) && !stray_files(g_tmp), "%s: an existing output stays untouched", what);
    free(b);
    unlink(out);
}

/* A model file, loaded with its checksum verified (NULL, and a note, when it does not load). */
CKPT_FN mod_model *load(const char *path)
{
    mod_model *m = NULL;
    mod_model_desc d;
    mod_error err;
    memset(&d, 0, sizeof d);
    d.flags = MOD_LOAD_VERIFY_CHECKSUM;
    if (mod_model_load_file(&m, path, &d, &err) != MOD_OK) {
        printf("   (load %s: %s)\n", path, err.message);
        return NULL;
    }
    return m;
}

/* ---- values --------------------------------------------------------------------------- */

CKPT_FN uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1), a function of (seed, role, layer, index) only. */
CKPT_FN float uval(unsigned seed, int role, int layer, uint64_t i)
{
    uint64_t z = mix(mix((uint64_t)seed * 1000003u + (uint64_t)role * 7919u + (uint64_t)(layer + 5) * 104729u) + i);
    return (float)((double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

CKPT_FN float f16val(float v) { uint16_t h = mkm_f32_to_f16(v); unsigned char b[2]; float f; b[0] = (unsigned char)h; b[1] = (unsigned char)(h >> 8); f = (float)ref__f16(b); return f; }
CKPT_FN float bf16val(float v) { uint16_t h = mkm_f32_to_bf16(v); uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }

/* ---- a test model in Hugging Face layout ---------------------------------------------- */

enum { ROLE_EMBED, ROLE_OUT_NORM, ROLE_OUTPUT, ROLE_ATTN_NORM, ROLE_Q, ROLE_K, ROLE_V, ROLE_O, ROLE_QB,
       ROLE_KB, ROLE_VB, ROLE_MLP_NORM, ROLE_GATE, ROLE_UP, ROLE_DOWN, ROLE_ROUTER, ROLE_ROUTER_B,
       ROLE_PW1, ROLE_PB1, ROLE_PW2, ROLE_PB2, NROLE };

typedef struct spec {
    int V, d, L, H, Hkv, F, seq, tied, qkv_bias;
    int routed[8];
    float cap[8];
    int router_bias, pred, Fp;     /* pred: 0 none, 1 MLP, 2 linear */
    int same_router;               /* every routed block has the same router values */
    unsigned seed;
    int favour;                    /* > 0: untied, and greedy decoding always picks token favour - 1
                                      (embedding column 0 large, only that output row reads it) */
} spec;

CKPT_FN void spec_default(spec *s)
{
    memset(s, 0, sizeof *s);
    s->V = 300; s->d = 32; s->L = 4; s->H = 4; s->Hkv = 2; s->F = 48; s->seq = 64;
    s->seed = 11;
    s->router_bias = 1;
}

/* Shape of (role, layer) in the canonical input: rows (0 for 1-D) x cols; 0 cols: absent. */
CKPT_FN void role_shape(const spec *s, int role, int layer, uint64_t *r, uint64_t *c)
{
    uint64_t d = (uint64_t)s->d, kv = (uint64_t)(s->Hkv * (s->d / s->H));
    int routed = layer >= 0 && s->routed[layer];
    *r = 0; *c = 0;
    switch (role) {
    case ROLE_EMBED: *r = (uint64_t)s->V; *c = d; break;
    case ROLE_OUTPUT: if (!s->tied) { *r = (uint64_t)s->V; *c = d; } break;
    case ROLE_OUT_NORM: case ROLE_ATTN_NORM: case ROLE_MLP_NORM: *c = d; break;
    case ROLE_Q: case ROLE_O: *r = d; *c = d; break;
    case ROLE_K: case ROLE_V: *r = kv; *c = d; break;
    case ROLE_QB: if (s->qkv_bias) *c = d; break;
    case ROLE_KB: case ROLE_VB: if (s->qkv_bias) *c = kv; break;
    case ROLE_GATE: case ROLE_UP: *r = (uint64_t)s->F; *c = d; break;
    case ROLE_DOWN: *r = d; *c = (uint64_t)s->F; break;
    case ROLE_ROUTER: if (routed) *c = d; break;
    case ROLE_ROUTER_B: if (routed && s->router_bias) *c = 1; break;
    case ROLE_PW1: if (routed && s->pred) { *r = s->pred == 1 ? (uint64_t)s->Fp : 1; *c = d; } break;
    case ROLE_PB1: if (routed && s->pred) *c = s->pred == 1 ? (uint64_t)s->Fp : 1; break;
    case ROLE_PW2: if (routed && s->pred == 1) *c = (uint64_t)s->Fp; break;
    case ROLE_PB2: if (routed && s->pred == 1) *c = 1; break;
    default: break;
    }
}

CKPT_FN float value(const spec *s, int role, int layer, uint64_t i)
{
    double scale;
    int key_layer = (role == ROLE_ROUTER || role == ROLE_ROUTER_B) && s->same_router ? 99 : layer;
    float u = uval(s->seed, role, key_layer, i);
    if (s->favour > 0) {
        /* the residual stream's dimension 0 stays positive; the final norm keeps only it, and only
           the favoured token's output row reads it: its logit is positive, every other one 0 */
        const uint64_t col = i % (uint64_t)s->d, row = i / (uint64_t)s->d;
        if (role == ROLE_EMBED && col == 0) return 50.0f;
        if (role == ROLE_OUT_NORM) return i == 0 ? 1.0f : 0.0f;
        if (role == ROLE_OUTPUT) return col == 0 ? (row == (uint64_t)(s->favour - 1) ? 1.0f : 0.0f) : u;
    }
    switch (role) {
    case ROLE_EMBED: scale = 1.0; break;
    case ROLE_OUT_NORM: case ROLE_ATTN_NORM: case ROLE_MLP_NORM: return 1.0f + 0.2f * u;
    case ROLE_QB: case ROLE_KB: case ROLE_VB: case ROLE_ROUTER_B: case ROLE_PB1: case ROLE_PB2: scale = 0.2; break;
    case ROLE_DOWN: scale = 1.7 / sqrt((double)s->F); break;
    case ROLE_PW2: scale = 1.0; break;
    default: scale = 1.7 / sqrt((double)s->d); break;
    }
    return (float)(scale * u);
}

/* A routed model: blocks 1 and 3 at capacities 0.25 and 0.5, predictor pred (0 none, 1 MLP,
   2 linear); mod_keys_full are the config.json keys that say so, and every knob away from its
   default. */
static const char *const mod_keys_full =
    "\"mod_layers\": [1, 3], \"mod_capacity\": [0.25, 0.5], \"mod_router_input\": \"normed\", "
    "\"mod_router_scale\": \"sigmoid\", \"mod_combine\": \"mlp\", \"mod_positions\": \"compacted\", "
    "\"mod_decision\": \"predictor\", \"mod_threshold\": 0.125";

CKPT_FN void spec_mod(spec *s, int pred)
{
    spec_default(s);
    s->routed[1] = s->routed[3] = 1;
    s->cap[1] = 0.25f;
    s->cap[3] = 0.5f;
    s->pred = pred;
    s->Fp = pred == 1 ? 8 : 0;
    s->seed = 23;
}

/* ---- safetensors writer --------------------------------------------------------------- */

typedef struct stt {
    char name[200];
    char dtype[8];
    int ndim;
    uint64_t shape[4];
    unsigned char *data;
    size_t nbytes;
} stt;

typedef struct stlist {
    stt t[200];
    int n;
} stlist;

CKPT_FN void st_free(stlist *l)
{
    int i;
    for (i = 0; i < l->n; i++) free(l->t[i].data);
    l->n = 0;
}

CKPT_FN void st_add(stlist *l, const char *name, const char *dtype, int ndim, const uint64_t *shape, const float *v)
{
    stt *t = &l->t[l->n++];
    uint64_t count = 1, i;
    int k;
    size_t es = strcmp(dtype, "F32") ? 2 : 4;
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->dtype, sizeof t->dtype, "%s", dtype);
    t->ndim = ndim;
    for (k = 0; k < ndim; k++) { t->shape[k] = shape[k]; count *= shape[k]; }
    t->nbytes = (size_t)count * es;
    t->data = (unsigned char *)malloc(t->nbytes + 1);
    for (i = 0; i < count; i++) {
        if (es == 4) mkm_put_f32(t->data + 4 * i, v[i]);
        else {
            uint16_t h = strcmp(dtype, "F16") ? mkm_f32_to_bf16(v[i]) : mkm_f32_to_f16(v[i]);
            t->data[2 * i] = (unsigned char)h;
            t->data[2 * i + 1] = (unsigned char)(h >> 8);
        }
    }
}

/* Writes tensors [first, first + count) of l to path as one safetensors file. */
CKPT_FN void st_write(const char *path, const stlist *l, int first, int count)
{
    char *hdr = (char *)malloc(65536);
    size_t h = 0, off = 0, total;
    int i, k;
    unsigned char *file, len8[8];
    h += (size_t)sprintf(hdr + h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (i = first; i < first + count; i++) {
        const stt *t = &l->t[i];
        h += (size_t)sprintf(hdr + h, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name, t->dtype);
        for (k = 0; k < t->ndim; k++) h += (size_t)sprintf(hdr + h, k ? ",%llu" : "%llu", (unsigned long long)t->shape[k]);
        h += (size_t)sprintf(hdr + h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + t->nbytes));
        off += t->nbytes;
    }
    hdr[h++] = '}';
    while (h % 8) hdr[h++] = ' '; /* writers pad the header with spaces */
    total = 8 + h + off;
    file = (unsigned char *)malloc(total);
    mkm_put_u64(len8, (uint64_t)h);
    memcpy(file, len8, 8);
    memcpy(file + 8, hdr, h);
    off = 8 + h;
    for (i = first; i < first + count; i++) { memcpy(file + off, l->t[i].data, l->t[i].nbytes); off += l->t[i].nbytes; }
    write_file(path, file, total);
    free(file);
    free(hdr);
}

/* How the checkpoint names things (the aliases the converter must accept). */
typedef struct naming {
    const char *wrapper;     /* prefix of the dense tensors of routed blocks, e.g. "block." */
    const char *router;      /* e.g. "router" -> router.weight / router.bias */
    const char *pred;        /* e.g. "predictor" */
    int router_1d, bias_scalar, pw2_1d;
    const char *shared;      /* non-NULL: one router under this name for all routed blocks */
} naming;

static const naming canon = { "", "router", "predictor", 0, 0, 0, NULL };

static const char *const dense_suffix[NROLE] = {
    0, 0, 0, "input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight",
    "self_attn.v_proj.weight", "self_attn.o_proj.weight", "self_attn.q_proj.bias",
    "self_attn.k_proj.bias", "self_attn.v_proj.bias", "post_attention_layernorm.weight",
    "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"
};

/* The tensors of spec s in dtype, named by nm (reverse order, to not depend on order). */
CKPT_FN void build_tensors(const spec *s, const naming *nm, const char *dtype, stlist *l)
{
    int role, layer, shared_done = 0;
    for (layer = s->L - 1; layer >= -1; layer--)
        for (role = NROLE - 1; role >= 0; role--) {
            uint64_t r, c, shape[2], i, n;
            char name[200];
            float *v;
            int nd;
            if ((layer < 0) != (role <= ROLE_OUTPUT)) continue;
            role_shape(s, role, layer, &r, &c);
            if (!c) continue;
            n = (r ? r : 1) * c;
            nd = r ? 2 : 1;
            shape[0] = r ? r : c;
            shape[1] = c;
            if (role == ROLE_EMBED) snprintf(name, sizeof name, "model.embed_tokens.weight");
            else if (role == ROLE_OUT_NORM) snprintf(name, sizeof name, "model.norm.weight");
            else if (role == ROLE_OUTPUT) snprintf(name, sizeof name, "lm_head.weight");
            else if (role <= ROLE_DOWN) snprintf(name, sizeof name, "model.layers.%d.%s%s", layer, s->routed[layer] ? nm->wrapper : "", dense_suffix[role]);
            else if (role == ROLE_ROUTER || role == ROLE_ROUTER_B) {
                const char *part = role == ROLE_ROUTER ? "weight" : "bias";
                if (nm->shared) {
                    if (shared_done & (1 << (role - ROLE_ROUTER))) continue;
                    shared_done |= 1 << (role - ROLE_ROUTER);
                    snprintf(name, sizeof name, "%s.%s", nm->shared, part);
                } else snprintf(name, sizeof name, "model.layers.%d.%s.%s", layer, nm->router, part);
                if (role == ROLE_ROUTER) { nd = nm->router_1d ? 1 : 2; shape[0] = nm->router_1d ? c : 1; shape[1] = c; }
                else if (nm->bias_scalar) nd = 0;
                else { nd = 1; shape[0] = 1; }
            } else {
                static const char *const mlp_part[4] = { ".0.weight", ".0.bias", ".2.weight", ".2.bias" };
                static const char *const lin_part[2] = { ".weight", ".bias" };
                snprintf(name, sizeof name, "model.layers.%d.%s%s", layer, nm->pred, s->pred == 1 ? mlp_part[role - ROLE_PW1] : lin_part[role - ROLE_PW1]);
                if (role == ROLE_PW2) { nd = nm->pw2_1d ? 1 : 2; shape[0] = nm->pw2_1d ? c : 1; shape[1] = c; }
                if ((role == ROLE_PB2 || (role == ROLE_PB1 && s->pred == 2)) && nm->bias_scalar) nd = 0;
            }
            v = (float *)malloc((size_t)n * sizeof *v);
            for (i = 0; i < n; i++) v[i] = value(s, role, layer, i);
            st_add(l, name, dtype, nd, shape, v);
            free(v);
        }
}

CKPT_FN void write_config(const char *dir, const spec *s, const char *mod_keys, const char *extra)
{
    char buf[4096], path[4200];
    int n = 0;
    n += sprintf(buf + n, "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"model_type\": \"llama\",\n");
    n += sprintf(buf + n, "  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n  \"num_hidden_layers\": %d,\n", s->d, s->F, s->L);
    n += sprintf(buf + n, "  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n  \"vocab_size\": %d,\n", s->H, s->Hkv, s->V);
    n += sprintf(buf + n, "  \"max_position_embeddings\": %d,\n  \"rms_norm_eps\": 1e-05,\n  \"rope_theta\": 10000.0,\n", s->seq);
    n += sprintf(buf + n, "  \"hidden_act\": \"silu\",\n  \"rope_scaling\": null,\n  \"torch_dtype\": \"float32\",\n");
    n += sprintf(buf + n, "  \"note\": \"\\u00e9t\\u00e9 \\ud83d\\ude00\",\n");
    n += sprintf(buf + n, "  \"tie_word_embeddings\": %s%s%s%s\n}\n", s->tied ? "true" : "false",
                 mod_keys && *mod_keys ? ",\n  " : "", mod_keys ? mod_keys : "", extra ? extra : "");
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_str(path, buf);
}

/* A model directory: config.json and model.safetensors (tensors in dtype). */
CKPT_FN void make_dir(const char *dir, const spec *s, const naming *nm, const char *dtype, const char *mod_keys, const char *extra)
{
    stlist *l = (stlist *)calloc(1, sizeof *l);
    char path[4200];
    mkdir_p(dir);
    write_config(dir, s, mod_keys, extra);
    build_tensors(s, nm, dtype, l);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st_write(path, l, 0, l->n);
    st_free(l);
    free(l);
}

/* ---- a hand-made byte-level BPE tokenizer.json --------------------------------------- */

CKPT_FN int B(int byte) { return (byte * 7 + 3) % 256; } /* id of the single-byte token */

/* GPT-2's printable stand-in for a byte. */
CKPT_FN unsigned byte_char(int b)
{
    int n = 0, k;
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)) return (unsigned)b;
    for (k = 0; k < b; k++)
        if (!((k >= 0x21 && k <= 0x7e) || (k >= 0xa1 && k <= 0xac) || (k >= 0xae && k <= 0xff))) n++;
    return 256u + (unsigned)n;
}

/* JSON-escaped text of code point cp into o; odd bytes use \u escapes, to test both. */
CKPT_FN int put_char(char *o, unsigned cp, int escape)
{
    if (cp == '"' || cp == '\\') return sprintf(o, "\\%c", (int)cp);
    if (cp >= 0x20 && cp < 0x7f && !escape) return sprintf(o, "%c", (int)cp);
    if (escape || cp < 0x20) return sprintf(o, "\\u%04X", cp);
    if (cp < 0x800) return sprintf(o, "%c%c", (int)(0xC0 | (cp >> 6)), (int)(0x80 | (cp & 0x3F)));
    return sprintf(o, "%c%c%c", (int)(0xE0 | (cp >> 12)), (int)(0x80 | ((cp >> 6) & 0x3F)), (int)(0x80 | (cp & 0x3F)));
}

static const char *const merges_txt[][2] = {
    { "h", "e" }, { "l", "l" }, { "he", "ll" }, { "hell", "o" }, { "\\u0120", "w" }, { "o", "r" },
    { "\\u0120w", "or" }, { "l", "d" }, { "\\u0120wor", "ld" }, { "\\u00c3", "\\u00a9" }
};
static const char *const merged_txt[] = { "he", "ll", "hell", "hello", "\\u0120w", "or", "\\u0120wor", "ld", "\\u0120world", "\\u00c3\\u00a9" };

/* form 0: merges as "a b", 1: as ["a", "b"]; pretok 0: ByteLevel with its regex, 2: the same with
   add_prefix_space, 1: Split +
   ByteLevel without; model_type overrides "BPE"; extra_merge is appended to the merges. */
CKPT_FN void write_tokenizer(const char *path, int form, int pretok, const char *model_type, const char *extra_merge, int extra_id)
{
    char *j = (char *)malloc(200000);
    int n = 0, b, k;
    n += sprintf(j + n, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[");
    n += sprintf(j + n, "{\"id\":266,\"content\":\"<|endoftext|>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],");
    n += sprintf(j + n, "\"normalizer\":null,\"pre_tokenizer\":");
    if (pretok != 1) n += sprintf(j + n, "{\"type\":\"ByteLevel\",\"add_prefix_space\":%s,\"trim_offsets\":true,\"use_regex\":true},", pretok == 2 ? "true" : "false");
    else n += sprintf(j + n, "{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
                         "\"'s|'t|'re|'ve|'m|'ll|'d| ?\\\\p{L}+| ?\\\\p{N}+| ?[^\\\\s\\\\p{L}\\\\p{N}]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
                         "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":false}]},");
    n += sprintf(j + n, "\"post_processor\":null,\"decoder\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"%s\",\"dropout\":null,\"unk_token\":null,"
                        "\"continuing_subword_prefix\":\"\",\"end_of_word_suffix\":\"\",\"fuse_unk\":false,\"byte_fallback\":false,\"vocab\":{", model_type ? model_type : "BPE");
    for (b = 0; b < 256; b++) {
        n += sprintf(j + n, "%s\"", b ? "," : "");
        n += put_char(j + n, byte_char(b), b & 1);
        n += sprintf(j + n, "\":%d", B(b));
    }
    for (k = 0; k < 10; k++) n += sprintf(j + n, ",\"%s\":%d", merged_txt[k], 256 + k);
    n += sprintf(j + n, ",\"<|endoftext|>\":266");
    if (extra_id >= 0) n += sprintf(j + n, ",\"zz\":%d", extra_id);
    n += sprintf(j + n, "},\"merges\":[");
    for (k = 0; k < 10; k++) {
        if (form == 0) n += sprintf(j + n, "%s\"%s %s\"", k ? "," : "", merges_txt[k][0], merges_txt[k][1]);
        else n += sprintf(j + n, "%s[\"%s\",\"%s\"]", k ? "," : "", merges_txt[k][0], merges_txt[k][1]);
    }
    if (extra_merge) n += sprintf(j + n, ",%s", extra_merge);
    n += sprintf(j + n, "]}}");
    write_file(path, j, (size_t)n);
    free(j);
}

/* A hand-made SentencePiece-style tokenizer.json (kind 3): <unk> <s> </s> (special added
   tokens), <0x00>..<0xFF> (ids 3..258), then U+2581 (259), a (260), b (261), U+2581a (262),
   ab (263), U+2581ab (264), <x> (265, a non-special added token), and extra_vocab ("\"k\":id"
   entries); merges U+2581 a, a b, U+2581a b. normalizer, pre_tokenizer and decoder are JSON
   values (NULL: the Llama 2 form, Prepend + Replace, no pre-tokenizer, Replace + ByteFallback +
   Fuse + Strip); added_flags is spliced into <x>'s entry (NULL: none). write_sp_tokenizer_more
   also appends extra_added (added_tokens entries) and extra_merges (merges, ranked after the
   three) when they are not NULL. */
#define CK_SP "\\u2581"
CKPT_FN void write_sp_tokenizer_more(const char *path, const char *normalizer, const char *pre_tokenizer, const char *decoder,
                                     const char *extra_vocab, const char *added_flags, const char *extra_added, const char *extra_merges)
{
    char *j = (char *)malloc(100000);
    int n = 0, b;
    n += sprintf(j + n, "{\"version\":\"1.0\",\"added_tokens\":[");
    n += sprintf(j + n, "{\"id\":0,\"content\":\"<unk>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},");
    n += sprintf(j + n, "{\"id\":1,\"content\":\"<s>\",\"special\":true},{\"id\":2,\"content\":\"</s>\",\"special\":true},");
    n += sprintf(j + n, "{\"id\":265,\"content\":\"<x>\",\"special\":false%s%s}%s%s],", added_flags ? "," : "", added_flags ? added_flags : "",
                 extra_added ? "," : "", extra_added ? extra_added : "");
    n += sprintf(j + n, "\"normalizer\":%s,", normalizer ? normalizer :
                 "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"" CK_SP "\"},"
                 "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"" CK_SP "\"}]}");
    n += sprintf(j + n, "\"pre_tokenizer\":%s,", pre_tokenizer ? pre_tokenizer : "null");
    n += sprintf(j + n, "\"decoder\":%s,", decoder ? decoder :
                 "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"" CK_SP "\"},\"content\":\" \"},"
                 "{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]}");
    n += sprintf(j + n, "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_prefix\":null,"
                        "\"end_of_word_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":true,\"vocab\":{\"<unk>\":0,\"<s>\":1,\"</s>\":2");
    for (b = 0; b < 256; b++) n += sprintf(j + n, ",\"<0x%02X>\":%d", b, 3 + b);
    n += sprintf(j + n, ",\"" CK_SP "\":259,\"a\":260,\"b\":261,\"" CK_SP "a\":262,\"ab\":263,\"" CK_SP "ab\":264,\"<x>\":265%s%s",
                 extra_vocab ? "," : "", extra_vocab ? extra_vocab : "");
    n += sprintf(j + n, "},\"merges\":[\"" CK_SP " a\",[\"a\",\"b\"],\"" CK_SP "a b\"%s%s]}}", extra_merges ? "," : "", extra_merges ? extra_merges : "");
    write_file(path, j, (size_t)n);
    free(j);
}

CKPT_FN void write_sp_tokenizer(const char *path, const char *normalizer, const char *pre_tokenizer, const char *decoder,
                                const char *extra_vocab, const char *added_flags)
{
    write_sp_tokenizer_more(path, normalizer, pre_tokenizer, decoder, extra_vocab, added_flags, NULL, NULL);
}

/* ---- llama2.c checkpoints and tokenizer.bin --------------------------------------------- */

typedef struct l2c {
    int dim, hidden, L, H, Hkv, V, seq, shared, v1;
    float *emb, *att, *wq, *wk, *wv, *wo, *ffn, *w1, *w2, *w3, *fin, *cls;
} l2c;

CKPT_FN float *l2c_rnd(unsigned seed, int what, size_t n, double scale, double base)
{
    float *v = (float *)malloc(n * sizeof *v);
    size_t i;
    for (i = 0; i < n; i++) v[i] = (float)(base + scale * uval(seed, what, 0, i));
    return v;
}

CKPT_FN void l2c_init(l2c *c, int dim, int hidden, int L, int H, int Hkv, int V, int seq, int shared, int v1, unsigned seed)
{
    size_t d = (size_t)dim, kv = d / (size_t)H * (size_t)Hkv, F = (size_t)hidden, n = (size_t)L;
    double s = 1.7 / sqrt((double)dim);
    c->dim = dim; c->hidden = hidden; c->L = L; c->H = H; c->Hkv = Hkv; c->V = V; c->seq = seq; c->shared = shared; c->v1 = v1;
    c->emb = l2c_rnd(seed, 1, (size_t)V * d, 1.0, 0);
    c->att = l2c_rnd(seed, 2, n * d, 0.2, 1.0);
    c->wq = l2c_rnd(seed, 3, n * d * d, s, 0);
    c->wk = l2c_rnd(seed, 4, n * kv * d, s, 0);
    c->wv = l2c_rnd(seed, 5, n * kv * d, s, 0);
    c->wo = l2c_rnd(seed, 6, n * d * d, s, 0);
    c->ffn = l2c_rnd(seed, 7, n * d, 0.2, 1.0);
    c->w1 = l2c_rnd(seed, 8, n * F * d, s, 0);
    c->w2 = l2c_rnd(seed, 9, n * d * F, 1.7 / sqrt((double)hidden), 0);
    c->w3 = l2c_rnd(seed, 10, n * F * d, s, 0);
    c->fin = l2c_rnd(seed, 11, d, 0.2, 1.0);
    c->cls = shared ? c->emb : l2c_rnd(seed, 12, (size_t)V * d, s, 0);
}

CKPT_FN void l2c_free(l2c *c)
{
    free(c->emb); free(c->att); free(c->wq); free(c->wk); free(c->wv); free(c->wo); free(c->ffn);
    free(c->w1); free(c->w2); free(c->w3); free(c->fin);
    if (!c->shared) free(c->cls);
}

typedef struct fbuf { unsigned char *p; size_t n, cap; } fbuf;
CKPT_FN void fb_put(fbuf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) { while (b->n + n > b->cap) b->cap = b->cap ? 2 * b->cap : 4096; b->p = (unsigned char *)realloc(b->p, b->cap); }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
CKPT_FN void fb_i32(fbuf *b, int32_t v) { unsigned char x[4]; mkm_put_u32(x, (uint32_t)v); fb_put(b, x, 4); }
CKPT_FN void fb_f32s(fbuf *b, const float *v, size_t n) { size_t i; for (i = 0; i < n; i++) { unsigned char x[4]; mkm_put_f32(x, v[i]); fb_put(b, x, 4); } }

CKPT_FN void l2c_write(const char *path, const l2c *c)
{
    fbuf b;
    size_t d = (size_t)c->dim, kv = d / (size_t)c->H * (size_t)c->Hkv, F = (size_t)c->hidden, n = (size_t)c->L, V = (size_t)c->V;
    size_t hd = d / (size_t)c->H, i;
    memset(&b, 0, sizeof b);
    if (c->v1) {
        unsigned char hdr[256];
        memset(hdr, 0, sizeof hdr);
        mkm_put_u32(hdr, 0x616b3432u);
        mkm_put_u32(hdr + 4, 1);
        mkm_put_u32(hdr + 8, (uint32_t)c->dim); mkm_put_u32(hdr + 12, (uint32_t)c->hidden); mkm_put_u32(hdr + 16, (uint32_t)c->L);
        mkm_put_u32(hdr + 20, (uint32_t)c->H); mkm_put_u32(hdr + 24, (uint32_t)c->Hkv); mkm_put_u32(hdr + 28, (uint32_t)c->V);
        mkm_put_u32(hdr + 32, (uint32_t)c->seq);
        hdr[36] = (unsigned char)c->shared;
        fb_put(&b, hdr, 256);
        fb_f32s(&b, c->att, n * d); fb_f32s(&b, c->ffn, n * d); fb_f32s(&b, c->fin, d); fb_f32s(&b, c->emb, V * d);
        fb_f32s(&b, c->wq, n * d * d); fb_f32s(&b, c->wk, n * kv * d); fb_f32s(&b, c->wv, n * kv * d); fb_f32s(&b, c->wo, n * d * d);
        fb_f32s(&b, c->w1, n * F * d); fb_f32s(&b, c->w2, n * d * F); fb_f32s(&b, c->w3, n * F * d);
        if (!c->shared) fb_f32s(&b, c->cls, V * d);
    } else {
        fb_i32(&b, c->dim); fb_i32(&b, c->hidden); fb_i32(&b, c->L); fb_i32(&b, c->H); fb_i32(&b, c->Hkv);
        fb_i32(&b, c->shared ? c->V : -c->V); fb_i32(&b, c->seq);
        fb_f32s(&b, c->emb, V * d); fb_f32s(&b, c->att, n * d);
        fb_f32s(&b, c->wq, n * d * d); fb_f32s(&b, c->wk, n * kv * d); fb_f32s(&b, c->wv, n * kv * d); fb_f32s(&b, c->wo, n * d * d);
        fb_f32s(&b, c->ffn, n * d);
        fb_f32s(&b, c->w1, n * F * d); fb_f32s(&b, c->w2, n * d * F); fb_f32s(&b, c->w3, n * F * d);
        fb_f32s(&b, c->fin, d);
        for (i = 0; i < (size_t)c->seq * hd; i++) { float f = (float)cos((double)i); fb_f32s(&b, &f, 1); } /* freq_cis, unused */
        if (!c->shared) fb_f32s(&b, c->cls, V * d);
    }
    write_file(path, b.p, b.n);
    free(b.p);
}

/* tokenizer.bin: <unk> <s> </s>, 256 byte tokens, then these pieces with scores. */
static const char *const l2c_pieces[] = {
    " ", "a", "b", "c", "d", "e", "h", "l", "o", "r", "w", "!", "he", "ll", "hell", "hello", " h", " w", "wo", "wor",
    "world", " world", "lo", "el", "ab", "bc", "\xC3\xA9", " he", " hello"
};
static const float l2c_scores[] = {
    -100, -101, -102, -103, -104, -105, -106, -107, -108, -109, -110, -111, -1, -2, -3, -4, -3.5f, -5, -6, -7,
    -8, -9, -1.5f, -2.5f, -10, -10, -50, -4.5f, -4.25f
};
#define L2C_NP ((int)(sizeof l2c_pieces / sizeof l2c_pieces[0]))
#define L2C_V (3 + 256 + L2C_NP) /* the vocabulary size of tokenizer.bin */

/* The vocabulary of tokenizer.bin (free each string, the array and the scores); returns its size. */
CKPT_FN int l2c_vocab(char ***strs, float **scores)
{
    int V = L2C_V, i;
    char **s = (char **)malloc((size_t)V * sizeof *s);
    float *sc = (float *)malloc((size_t)V * sizeof *sc);
    s[0] = strdup_c("<unk>"); s[1] = strdup_c("\n<s>\n"); s[2] = strdup_c("\n</s>\n");
    sc[0] = sc[1] = sc[2] = 0;
    for (i = 0; i < 256; i++) { char b[8]; sprintf(b, "<0x%02X>", i); s[3 + i] = strdup_c(b); sc[3 + i] = 0; }
    for (i = 0; i < L2C_NP; i++) { s[259 + i] = strdup_c(l2c_pieces[i]); sc[259 + i] = l2c_scores[i]; }
    *strs = s;
    *scores = sc;
    return V;
}

CKPT_FN void write_tokenizer_bin(const char *path, char **s, const float *sc, int V, int truncate)
{
    fbuf b;
    int i, maxlen = 0;
    memset(&b, 0, sizeof b);
    for (i = 0; i < V; i++) if ((int)strlen(s[i]) > maxlen) maxlen = (int)strlen(s[i]);
    fb_i32(&b, maxlen);
    for (i = 0; i < V; i++) {
        fb_f32s(&b, &sc[i], 1);
        fb_i32(&b, (int32_t)strlen(s[i]));
        fb_put(&b, s[i], strlen(s[i]));
    }
    write_file(path, b.p, truncate ? b.n - (size_t)truncate : b.n);
    free(b.p);
}

#endif /* CKPT_H */
