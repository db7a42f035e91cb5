/* Tests of build/mod-convert, end to end: the test writes checkpoints itself (a small
   safetensors writer, config.json and tokenizer.json strings, llama2.c checkpoints and
   tokenizer.bin), runs the converter as a separate process, and checks the model files it
   writes: every tensor byte against the values written, aliases and shards against the
   canonical conversion byte for byte, tokenization against hand-derived ids, llama2.c logits
   against a naive transcription of llama2.c's run.c, and clear failures on bad input that leave
   no file behind. Usage: test_convert [path/to/mod-convert] (default: beside this program). */
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
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

/* ---- checks -------------------------------------------------------------------------- */

static int g_pass, g_fail;

static void check(int ok, const char *fmt, ...)
{
    char msg[2048], *p;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (p = msg; *p; p++) if (*p == '\n') *p = '|';
    printf("%s%s\n", ok ? "ok " : "FAIL: ", msg);
    if (ok) g_pass++;
    else g_fail++;
}

/* ---- files and processes ----------------------------------------------------------------- */

static char g_conv[4096], g_tmp[4096], g_err[8192], g_out[8192];

static const char *P(const char *fmt, ...)
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

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

static void write_str(const char *path, const char *s) { write_file(path, s, strlen(s)); }

static unsigned char *read_file(const char *path, size_t *n)
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

static char *strdup_c(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = (char *)malloc(n);
    memcpy(p, s, n);
    return p;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int same_files(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *x = read_file(a, &na), *y = read_file(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static void mkdir_p(const char *path) { mkdir(path, 0777); }

/* Runs argv (argv[0] a path), stdout and stderr into g_out and g_err; returns the exit status
   (128 + signal when killed). */
static int run(char *const argv[])
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
static int conv(const char *first, ...)
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
static int stray_files(const char *dir)
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

/* ---- values ------------------------------------------------------------------------------ */

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1), a function of (seed, role, layer, index) only. */
static float uval(unsigned seed, int role, int layer, uint64_t i)
{
    uint64_t z = mix(mix((uint64_t)seed * 1000003u + (uint64_t)role * 7919u + (uint64_t)(layer + 5) * 104729u) + i);
    return (float)((double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static float f16val(float v) { uint16_t h = mkm_f32_to_f16(v); unsigned char b[2]; float f; b[0] = (unsigned char)h; b[1] = (unsigned char)(h >> 8); f = (float)ref__f16(b); return f; }
static float bf16val(float v) { uint16_t h = mkm_f32_to_bf16(v); uint32_t u = (uint32_t)h << 16; float f; memcpy(&f, &u, 4); return f; }

/* ---- a test model in Hugging Face layout ------------------------------------------------- */

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
} spec;

static void spec_default(spec *s)
{
    memset(s, 0, sizeof *s);
    s->V = 300; s->d = 32; s->L = 4; s->H = 4; s->Hkv = 2; s->F = 48; s->seq = 64;
    s->seed = 11;
    s->router_bias = 1;
}

/* Shape of (role, layer) in the canonical input: rows (0 for 1-D) x cols; 0 cols: absent. */
static void role_shape(const spec *s, int role, int layer, uint64_t *r, uint64_t *c)
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

static float value(const spec *s, int role, int layer, uint64_t i)
{
    double scale;
    int key_layer = (role == ROLE_ROUTER || role == ROLE_ROUTER_B) && s->same_router ? 99 : layer;
    float u = uval(s->seed, role, key_layer, i);
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

/* ---- safetensors writer ---------------------------------------------------------------------- */

typedef struct stt {
    char name[160];
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

static void st_free(stlist *l)
{
    int i;
    for (i = 0; i < l->n; i++) free(l->t[i].data);
    l->n = 0;
}

static void st_add(stlist *l, const char *name, const char *dtype, int ndim, const uint64_t *shape, const float *v)
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
static void st_write(const char *path, const stlist *l, int first, int count)
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
static void build_tensors(const spec *s, const naming *nm, const char *dtype, stlist *l)
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

static void write_config(const char *dir, const spec *s, const char *mod_keys, const char *extra)
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
static void make_dir(const char *dir, const spec *s, const naming *nm, const char *dtype, const char *mod_keys, const char *extra)
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

/* Checks every tensor of the converted file against the values of spec s, stored as in_dtype
   in the checkpoint and converted to out_dtype ("F32", "F16", "BF16" / 0, 1, 2, 4 q4_0: each
   block the bytes mkmodel's quantizer mkm_q4_block gives). */
static int tensors_match(const char *file, const spec *s, const char *in_dtype, int out_dtype, char *why, size_t wcap)
{
    size_t size, e;
    unsigned char *b = read_file(file, &size);
    int role, layer, expected = 0, ok = 1;
    if (!b) { snprintf(why, wcap, "cannot read %s", file); return 0; }
    for (layer = -1; layer < s->L && ok; layer++)
        for (role = 0; role < NROLE && ok; role++) {
            uint64_t r, c, i, n;
            int dt;
            const unsigned char *p;
            if ((layer < 0) != (role <= ROLE_OUTPUT)) continue;
            role_shape(s, role, layer, &r, &c);
            if (!c) continue;
            if (role == ROLE_PB1 && s->pred == 0) continue;
            expected++;
            e = mkm_tensor_entry(b, size, role, layer);
            if (!e) { snprintf(why, wcap, "role %d layer %d missing", role, layer); ok = 0; break; }
            dt = (int)mkm_get_u32(b + e + 8);
            if (dt != (r ? out_dtype : 0) || mkm_get_u32(b + e + 12) != (r ? 2u : 1u) ||
                mkm_get_u64(b + e + 16) != (r ? r : c) || (r && mkm_get_u64(b + e + 24) != c)) {
                snprintf(why, wcap, "role %d layer %d: dtype %d or shape wrong", role, layer, dt);
                ok = 0;
                break;
            }
            p = b + mkm_tensor_data(b, size, role, layer);
            n = (r ? r : 1) * c;
            for (i = 0; dt == 4 && i < n; i += 32) {
                float blk[32];
                unsigned char want[18];
                int k;
                for (k = 0; k < 32; k++) {
                    float v = value(s, role, layer, i + (uint64_t)k);
                    blk[k] = !strcmp(in_dtype, "F16") ? f16val(v) : !strcmp(in_dtype, "BF16") ? bf16val(v) : v;
                }
                mkm_q4_block(want, blk);
                if (memcmp(want, p + i / 32 * 18, 18)) { snprintf(why, wcap, "role %d layer %d block %llu differs", role, layer, (unsigned long long)(i / 32)); ok = 0; break; }
            }
            for (i = 0; dt != 4 && i < n; i++) {
                float v = value(s, role, layer, i);
                if (!strcmp(in_dtype, "F16")) v = f16val(v);
                else if (!strcmp(in_dtype, "BF16")) v = bf16val(v);
                if (dt == 0) {
                    uint32_t want, got = mkm_get_u32(p + 4 * i);
                    memcpy(&want, &v, 4);
                    if (want != got) { snprintf(why, wcap, "role %d layer %d element %llu: %08x != %08x", role, layer, (unsigned long long)i, got, want); ok = 0; break; }
                } else {
                    uint16_t want = dt == 1 ? mkm_f32_to_f16(v) : mkm_f32_to_bf16(v), got = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
                    if (want != got) { snprintf(why, wcap, "role %d layer %d element %llu: %04x != %04x", role, layer, (unsigned long long)i, got, want); ok = 0; break; }
                }
            }
        }
    if (ok && (int)mkm_get_u32(b + 28) != expected) {
        snprintf(why, wcap, "%u tensors in the file, %d expected", mkm_get_u32(b + 28), expected);
        ok = 0;
    }
    free(b);
    return ok;
}

static mod_model *load(const char *path)
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

/* max |mod.h - ref.h| <= 1e-4 max |logit| over a token sequence, for both routing rules. */
static int logits_agree(const char *path, int n_tok)
{
    mod_model *m = load(path);
    size_t size;
    unsigned char *file = read_file(path, &size);
    int rule, ok = m && file, i, V;
    int32_t toks[32];
    int itoks[32];
    float *got;
    double *want;
    if (!ok) { mod_model_free(m); free(file); return 0; }
    V = mod_model_config(m)->vocab_size;
    for (i = 0; i < n_tok; i++) { itoks[i] = (i * 37 + 11) % V; toks[i] = itoks[i]; }
    got = (float *)malloc((size_t)n_tok * (size_t)V * sizeof *got);
    want = (double *)malloc((size_t)n_tok * (size_t)V * sizeof *want);
    for (rule = 0; rule < 2 && ok; rule++) {
        mod_session *s = NULL;
        mod_session_desc sd;
        double mx = 0, md = 0;
        memset(&sd, 0, sizeof sd);
        sd.max_tokens = 64;
        sd.prompt_routing = rule == 0 ? MOD_ROUTING_TOPK : MOD_ROUTING_CAUSAL;
        sd.threads = 1;
        if (mod_session_create(&s, m, &sd, NULL) != MOD_OK || mod_prefill(s, toks, n_tok, got) != MOD_OK ||
            ref_forward(file, size, itoks, n_tok, rule == 0 ? REF_RULE_TOPK : REF_RULE_CAUSAL, 0, 0, 0, want) != 0) {
            ok = 0;
        } else {
            for (i = 0; i < n_tok * V; i++) {
                if (fabs(want[i]) > mx) mx = fabs(want[i]);
                if (fabs(want[i] - got[i]) > md) md = fabs(want[i] - got[i]);
            }
            if (!(md <= 1e-4 * mx)) { printf("   (rule %d: max diff %g, max logit %g)\n", rule, md, mx); ok = 0; }
        }
        mod_session_free(s);
    }
    free(got);
    free(want);
    free(file);
    mod_model_free(m);
    return ok;
}

/* ---- a hand-made byte-level BPE tokenizer.json ------------------------------------------ */

static int B(int byte) { return (byte * 7 + 3) % 256; } /* id of the single-byte token */

/* GPT-2's printable stand-in for a byte. */
static unsigned byte_char(int b)
{
    int n = 0, k;
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)) return (unsigned)b;
    for (k = 0; k < b; k++)
        if (!((k >= 0x21 && k <= 0x7e) || (k >= 0xa1 && k <= 0xac) || (k >= 0xae && k <= 0xff))) n++;
    return 256u + (unsigned)n;
}

/* JSON-escaped text of code point cp into o; odd bytes use \u escapes, to test both. */
static int put_char(char *o, unsigned cp, int escape)
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
static void write_tokenizer(const char *path, int form, int pretok, const char *model_type, const char *extra_merge, int extra_id)
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

static int tok_is(mod_model *m, const char *text, const int *want, int nw)
{
    int32_t got[64];
    int n = -1, i;
    char back[256];
    size_t bl = 0;
    if (mod_tokenize(m, text, strlen(text), 0, got, 64, &n, NULL) != MOD_OK || n != nw) {
        printf("   (\"%s\": %d tokens, %d expected)\n", text, n, nw);
        return 0;
    }
    for (i = 0; i < n; i++) if (got[i] != want[i]) { printf("   (\"%s\": token %d is %d, %d expected)\n", text, i, (int)got[i], want[i]); return 0; }
    if (mod_detokenize(m, got, n, back, sizeof back, &bl) != MOD_OK || bl != strlen(text) || memcmp(back, text, bl) != 0) {
        printf("   (\"%s\" does not decode back)\n", text);
        return 0;
    }
    return 1;
}

/* ---- the tests ------------------------------------------------------------------------------ */

static void test_dense_with_tokenizer(void)
{
    spec s;
    mod_model *m;
    char why[300];
    int rc;
    spec_default(&s);
    s.tied = 1;
    s.qkv_bias = 1;
    make_dir(P("dense"), &s, &canon, "F32", NULL, NULL);
    write_tokenizer(P("dense/tokenizer.json"), 0, 0, NULL, NULL, -1);
    rc = conv(P("dense"), "-o", P("dense.mod"), NULL);
    check(rc == 0, "dense model with tokenizer converts (%s)", g_err);
    check(strstr(g_out, "checksum 0x") && strstr(g_out, "parameters:"), "summary names parameters and checksum");
    check(tensors_match(P("dense.mod"), &s, "F32", 0, why, sizeof why), "dense: every tensor equals the checkpoint (%s)", why);
    m = load(P("dense.mod"));
    check(m != NULL, "dense: loads with the checksum verified");
    if (m) {
        const mod_config *c = mod_model_config(m);
        static const int t1[] = { 259, 264 }, t2[] = { 256, 263 }, t4[] = { 265 }, t6[] = { 259 };
        int t3[3], t5[5], t7[4], t8[2], t9[4];
        t3[0] = B('w'); t3[1] = 261; t3[2] = 263;
        t5[0] = B('H'); t5[1] = B('e'); t5[2] = 257; t5[3] = B('o'); t5[4] = B('!');
        t7[0] = B('a'); t7[1] = B('\n'); t7[2] = B('\n'); t7[3] = B('b');
        t8[0] = B(' '); t8[1] = 259;
        t9[0] = B('i'); t9[1] = B('t'); t9[2] = B('\''); t9[3] = B('s');
        check(c->vocab_size == 300 && c->dim == 32 && c->n_layers == 4 && c->n_heads == 4 && c->n_kv_heads == 2 &&
              c->hidden_dim == 48 && c->max_seq_len == 64 && c->tied_embeddings == 1 && c->n_routed == 0 &&
              c->norm_eps == 1e-5f && c->rope_theta == 10000.0f, "dense: config fields");
        check(mod_model_parameters(m) == (uint64_t)(300 * 32 + 32 + 4 * (32 + 32 * 32 * 2 + 2 * 16 * 32 + 32 + 16 + 16 + 32 + 3 * 48 * 32)),
              "dense: parameter count");
        check(mod_token_bos(m) == 266 && mod_token_eos(m) == 266, "bos and eos from the added token <|endoftext|>");
        check(tok_is(m, "hello world", t1, 2), "tokenize \"hello world\"");
        check(tok_is(m, "held", t2, 2), "tokenize \"held\"");
        check(tok_is(m, "world", t3, 3), "tokenize \"world\"");
        check(tok_is(m, "\xC3\xA9", t4, 1), "tokenize e-acute (a merge of two mapped bytes)");
        check(tok_is(m, "Hello!", t5, 5), "tokenize \"Hello!\"");
        check(tok_is(m, "hello", t6, 1), "tokenize \"hello\"");
        check(tok_is(m, "a\n\nb", t7, 4), "tokenize a, two line feeds, b");
        check(tok_is(m, " hello", t8, 2), "tokenize \" hello\"");
        check(tok_is(m, "it's", t9, 4), "tokenize \"it's\"");
        {
            size_t len;
            const char *p = mod_token_bytes(m, B(0x0A), &len);
            check(len == 1 && p[0] == '\n', "byte-level token strings are raw bytes");
        }
        mod_model_free(m);
    }
    /* the other merges form and the Split pre-tokenizer give the same file */
    write_tokenizer(P("dense/tokenizer.json"), 1, 0, NULL, NULL, -1);
    rc = conv(P("dense"), "-o", P("dense_b.mod"), "--quiet", NULL);
    check(rc == 0 && same_files(P("dense.mod"), P("dense_b.mod")), "merges as [\"a\",\"b\"] lists: same file as \"a b\" strings");
    check(g_out[0] == 0 && g_err[0] == 0, "--quiet prints nothing");
    write_tokenizer(P("dense/tokenizer.json"), 0, 1, NULL, NULL, -1);
    rc = conv(P("dense"), "-o", P("dense_c.mod"), NULL);
    check(rc == 0 && same_files(P("dense.mod"), P("dense_c.mod")), "Split(GPT-2) + ByteLevel(use_regex false): same file (%s)", g_err);
    write_tokenizer(P("dense/tokenizer.json"), 0, 2, NULL, NULL, -1);
    rc = conv(P("dense"), "-o", P("dense_p.mod"), NULL);
    m = rc == 0 ? load(P("dense_p.mod")) : NULL;
    if (m) {
        int t1[2];
        t1[0] = B(' '); t1[1] = 259;
        check(tok_is(m, "hello", t1, 2), "ByteLevel add_prefix_space: a space is prepended, and dropped when decoding");
        mod_model_free(m);
    } else check(0, "add_prefix_space tokenizer converts (%s)", g_err);
    /* bos/eos from config.json win */
    write_tokenizer(P("dense/tokenizer.json"), 0, 0, NULL, NULL, -1);
    write_config(P("dense"), &s, NULL, ", \"bos_token_id\": 1, \"eos_token_id\": [2, 266]");
    rc = conv(P("dense"), "-o", P("dense_d.mod"), NULL);
    m = rc == 0 ? load(P("dense_d.mod")) : NULL;
    check(m && mod_token_bos(m) == 1 && mod_token_eos(m) == 2, "bos/eos from config.json (an int and a list)");
    mod_model_free(m);
    /* --tokenizer none, and a directory without tokenizer.json */
    rc = conv(P("dense"), "-o", P("dense_e.mod"), "--tokenizer", "none", NULL);
    m = rc == 0 ? load(P("dense_e.mod")) : NULL;
    check(m && mod_token_bos(m) == -1 && tensors_match(P("dense_e.mod"), &s, "F32", 0, why, sizeof why), "--tokenizer none omits the tokenizer");
    mod_model_free(m);
    write_tokenizer(P("dense/tokenizer.json"), 0, 0, "Unigram", NULL, -1);
    rc = conv(P("dense"), "-o", P("dense_f.mod"), NULL);
    check(rc == 1 && strstr(g_err, "Unigram") && strstr(g_err, "--tokenizer none") && !exists(P("dense_f.mod")),
          "a Unigram tokenizer is refused, naming the way out (%s)", g_err);
    rc = conv(P("dense"), "-o", P("dense_f.mod"), "--tokenizer", "none", NULL);
    check(rc == 0, "... and converts with --tokenizer none");
    write_config(P("dense"), &s, NULL, NULL);
    write_tokenizer(P("dense_tok.json"), 0, 0, NULL, NULL, -1);
    rc = conv(P("dense"), "-o", P("dense_g.mod"), "--tokenizer", P("dense_tok.json"), NULL);
    check(rc == 0 && same_files(P("dense.mod"), P("dense_g.mod")), "--tokenizer FILE takes the tokenizer from elsewhere");
    unlink(P("dense/tokenizer.json"));
    rc = conv(P("dense"), "-o", P("dense_h.mod"), NULL);
    m = rc == 0 ? load(P("dense_h.mod")) : NULL;
    check(m && mod_token_bos(m) == -1 && strstr(g_err, "no tokenizer"), "no tokenizer.json: a note, and no tokenizer");
    mod_model_free(m);
    check(logits_agree(P("dense.mod"), 12), "dense: logits agree with the reference");
}

static const char *const mod_keys_full =
    "\"mod_layers\": [1, 3], \"mod_capacity\": [0.25, 0.5], \"mod_router_input\": \"normed\", "
    "\"mod_router_scale\": \"sigmoid\", \"mod_combine\": \"mlp\", \"mod_positions\": \"compacted\", "
    "\"mod_decision\": \"predictor\", \"mod_threshold\": 0.125";

static void spec_mod(spec *s, int pred)
{
    spec_default(s);
    s->routed[1] = s->routed[3] = 1;
    s->cap[1] = 0.25f;
    s->cap[3] = 0.5f;
    s->pred = pred;
    s->Fp = pred == 1 ? 8 : 0;
    s->seed = 23;
}

/* --dtype q4_0: the blocks mkmodel's quantizer writes (checked against its error bounds in
   test_kernels), 18 bytes per 32 weights; 48 columns refused */
static void test_q4_0(void)
{
    spec s;
    char why[300];
    int rc;
    spec_mod(&s, 1);
    make_dir(P("q4in48"), &s, &canon, "F32", mod_keys_full, NULL);
    rc = conv(P("q4in48"), "-o", P("q4bad.mod"), "--dtype", "q4_0", NULL);
    check(rc == 1 && strstr(g_err, "q4_0 needs a multiple of 32 columns, it has 48") && !exists(P("q4bad.mod")),
          "q4_0 with 48 columns is refused (%s)", g_err);
    s.F = 64;
    make_dir(P("q4in"), &s, &canon, "F32", mod_keys_full, NULL);
    rc = conv(P("q4in"), "-o", P("q4.mod"), "--dtype", "q4_0", NULL);
    check(rc == 0 && tensors_match(P("q4.mod"), &s, "F32", 4, why, sizeof why), "F32 input -> q4_0, 1-D tensors f32 (%s %s)", g_err, why);
    check(strstr(g_out, "q4_0 matrices") != NULL, "the summary names q4_0");
    make_dir(P("q4in16"), &s, &canon, "BF16", mod_keys_full, NULL);
    rc = conv(P("q4in16"), "-o", P("q4b.mod"), "--dtype", "q4_0", NULL);
    check(rc == 0 && tensors_match(P("q4b.mod"), &s, "BF16", 4, why, sizeof why), "BF16 input -> q4_0 (%s %s)", g_err, why);
    {
        mod_model *m = load(P("q4.mod"));
        size_t size;
        unsigned char *b = read_file(P("q4.mod"), &size);
        size_t e = b ? mkm_tensor_entry(b, size, ROLE_DOWN, 2) : 0;
        check(m != NULL && e && mkm_get_u64(b + e + 56) == 32 * 64 / 32 * 18, "the q4_0 file loads; mlp_down [32, 64] is 1152 bytes");
        mod_model_free(m);
        free(b);
    }
}

static void test_mod_model(void)
{
    spec s;
    mod_model *m;
    char why[300];
    int rc;
    spec_mod(&s, 1);
    make_dir(P("mod"), &s, &canon, "F32", mod_keys_full, NULL);
    rc = conv(P("mod"), "-o", P("mod.mod"), NULL);
    check(rc == 0, "MoD model with an MLP predictor converts (%s)", g_err);
    check(strstr(g_out, "1 (capacity 0.25), 3 (capacity 0.5)") != NULL, "summary lists routed blocks and capacities");
    check(tensors_match(P("mod.mod"), &s, "F32", 0, why, sizeof why), "MoD: every tensor equals the checkpoint (%s)", why);
    m = load(P("mod.mod"));
    if (m) {
        const mod_config *c = mod_model_config(m);
        check(c->n_routed == 2 && mod_model_layer_routed(m, 0) == 0 && mod_model_layer_routed(m, 1) == 1 &&
              mod_model_layer_routed(m, 2) == 0 && mod_model_layer_routed(m, 3) == 1, "MoD: routed blocks 1 and 3");
        check(mod_model_layer_capacity(m, 1) == 0.25f && mod_model_layer_capacity(m, 3) == 0.5f && mod_model_layer_capacity(m, 0) == 0.0f,
              "MoD: per-block capacities");
        check(c->router_input == MOD_ROUTER_INPUT_NORMED && c->router_scale == MOD_ROUTER_SCALE_SIGMOID && c->combine == MOD_COMBINE_MLP &&
              c->positions == MOD_POSITIONS_COMPACTED && c->decision == MOD_DECISION_PREDICTOR && c->predictor_hidden == 8 &&
              c->threshold == 0.125f, "MoD: routing knobs from config.json");
        mod_model_free(m);
    } else check(0, "MoD: loads");
    check(logits_agree(P("mod.mod"), 16), "MoD: logits agree with the reference (top-k and causal)");
    /* a linear predictor, without router bias */
    spec_mod(&s, 2);
    s.router_bias = 0;
    make_dir(P("lin"), &s, &canon, "F32", mod_keys_full, NULL);
    rc = conv(P("lin"), "-o", P("lin.mod"), NULL);
    check(rc == 0 && tensors_match(P("lin.mod"), &s, "F32", 0, why, sizeof why), "linear predictor: predictor.weight [1,d] -> predictor_w1 [1,d] (%s%s)", g_err, why);
    m = rc == 0 ? load(P("lin.mod")) : NULL;
    check(m && mod_model_config(m)->predictor_hidden == 0, "linear predictor: predictor_hidden 0");
    mod_model_free(m);
    check(logits_agree(P("lin.mod"), 16), "linear predictor: logits agree with the reference");
    /* decision router: the predictor is ignored with a note */
    rc = conv(P("mod"), "-o", P("mod_router.mod"), "--decision", "router", NULL);
    m = rc == 0 ? load(P("mod_router.mod")) : NULL;
    check(m && mod_model_config(m)->decision == MOD_DECISION_ROUTER && strstr(g_err, "ignoring the predictor"),
          "--decision router: predictor tensors are left out, with a note");
    mod_model_free(m);
}

static void test_aliases(void)
{
    spec s;
    int rc, k;
    struct { const char *what; naming nm; int pred, same_router, router_bias; } v[] = {
        { "router.weight_predictor.*", { "", "router.weight_predictor", "predictor", 0, 0, 0, NULL }, 1, 0, 1 },
        { "router.router.*", { "", "router.router", "predictor", 0, 0, 0, NULL }, 1, 0, 1 },
        { "mod_router.weight (no bias)", { "", "mod_router", "predictor", 0, 0, 0, NULL }, 1, 0, 0 },
        { "router_mlp.*", { "", "router_mlp", "predictor", 0, 0, 0, NULL }, 1, 0, 1 },
        { "router weight [d], biases []", { "", "router", "predictor", 1, 1, 1, NULL }, 1, 0, 1 },
        { "aux_router.{0,2}.*", { "", "router", "aux_router", 0, 0, 0, NULL }, 1, 0, 1 },
        { "aux_mlp.* (linear)", { "", "router", "aux_mlp", 0, 0, 0, NULL }, 2, 0, 1 },
        { "aux_router.* (linear, scalar bias)", { "", "router", "aux_router", 0, 1, 0, NULL }, 2, 0, 1 },
        { "block. wrapper", { "block.", "router", "predictor", 0, 0, 0, NULL }, 1, 0, 1 },
        { "decoder_layer. wrapper", { "decoder_layer.", "router", "predictor", 0, 0, 0, NULL }, 1, 0, 1 },
        { "transformer_decoder_block. wrapper", { "transformer_decoder_block.", "router", "predictor", 0, 0, 0, NULL }, 1, 0, 1 },
        { "shared router.*", { "", "router", "predictor", 0, 0, 0, "router" }, 1, 1, 1 },
        { "shared model.router.*", { "", "router", "predictor", 0, 0, 0, "model.router" }, 1, 1, 1 },
        { "shared mod_router.* ([d])", { "", "router", "predictor", 1, 0, 0, "mod_router" }, 1, 1, 1 },
    };
    for (k = 0; k < (int)(sizeof v / sizeof v[0]); k++) {
        spec_mod(&s, v[k].pred);
        s.same_router = v[k].same_router;
        s.router_bias = v[k].router_bias;
        make_dir(P("alias_canon"), &s, &canon, "F32", mod_keys_full, NULL);
        rc = conv(P("alias_canon"), "-o", P("alias_canon.mod"), "--force", "--quiet", NULL);
        make_dir(P("alias_%d", k), &s, &v[k].nm, "F32", mod_keys_full, NULL);
        rc |= conv(P("alias_%d", k), "-o", P("alias_%d.mod", k), "--quiet", NULL);
        check(rc == 0 && same_files(P("alias_canon.mod"), P("alias_%d.mod", k)), "alias %s: byte-identical to the canonical names (%s)", v[k].what, g_err);
    }
    /* an alias next to its canonical name is ambiguous */
    spec_mod(&s, 1);
    {
        stlist *l = (stlist *)calloc(1, sizeof *l);
        uint64_t sh[2];
        float *w = (float *)calloc(64, sizeof *w);
        build_tensors(&s, &canon, "F32", l);
        sh[0] = 1; sh[1] = 32;
        st_add(l, "model.layers.1.mod_router.weight", "F32", 2, sh, w);
        mkdir_p(P("alias_dup"));
        write_config(P("alias_dup"), &s, mod_keys_full, NULL);
        st_write(P("alias_dup/model.safetensors"), l, 0, l->n);
        rc = conv(P("alias_dup"), "-o", P("alias_dup.mod"), NULL);
        check(rc == 1 && strstr(g_err, "model.layers.1.mod_router.weight") && strstr(g_err, "model.layers.1.router.weight"),
              "two aliases of one weight are refused, naming both (%s)", g_err);
        st_free(l);
        free(l);
        free(w);
    }
}

static void write_index(const char *dir, const stlist *l, const int *first, const int *count, int shards, int wrong)
{
    char *j = (char *)malloc(100000), path[4200];
    int n = 0, s, i, any = 0;
    n += sprintf(j + n, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
    for (s = 0; s < shards; s++)
        for (i = first[s]; i < first[s] + count[s]; i++)
            n += sprintf(j + n, "%s\n  \"%s\": \"model-%05d-of-%05d.safetensors\"", any++ ? "," : "", l->t[i].name,
                         wrong && i == first[1] ? 1 : s + 1, shards);
    n += sprintf(j + n, "\n}}\n");
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    write_file(path, j, (size_t)n);
    free(j);
}

static void test_shards(void)
{
    spec s;
    stlist *l = (stlist *)calloc(1, sizeof *l);
    int first[3], count[3], k, rc;
    char path[4200];
    spec_mod(&s, 1);
    make_dir(P("single"), &s, &canon, "BF16", mod_keys_full, NULL);
    rc = conv(P("single"), "-o", P("single.mod"), "--quiet", NULL);
    mkdir_p(P("sharded"));
    write_config(P("sharded"), &s, mod_keys_full, NULL);
    build_tensors(&s, &canon, "BF16", l);
    first[0] = 0; count[0] = 5; first[1] = 5; count[1] = l->n / 2; first[2] = 5 + count[1]; count[2] = l->n - first[2];
    for (k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/model-%05d-of-%05d.safetensors", P("sharded"), k + 1, 3);
        st_write(path, l, first[k], count[k]);
    }
    write_index(P("sharded"), l, first, count, 3, 0);
    rc |= conv(P("sharded"), "-o", P("sharded.mod"), "--quiet", NULL);
    check(rc == 0 && same_files(P("single.mod"), P("sharded.mod")), "sharded input (3 shards and an index) equals unsharded (%s)", g_err);
    /* an index that points a tensor at the wrong shard */
    {
        write_index(P("sharded"), l, first, count, 3, 1);
        rc = conv(P("sharded"), "-o", P("sharded2.mod"), NULL);
        check(rc == 1 && strstr(g_err, "weight_map") && !exists(P("sharded2.mod")), "index pointing at the wrong shard is refused (%s)", g_err);
    }
    st_free(l);
    free(l);
}

static void test_dtypes(void)
{
    spec s;
    char why[300];
    int rc;
    spec_mod(&s, 1);
    make_dir(P("f16in"), &s, &canon, "F16", mod_keys_full, NULL);
    make_dir(P("bf16in"), &s, &canon, "BF16", mod_keys_full, NULL);
    make_dir(P("f32in"), &s, &canon, "F32", mod_keys_full, NULL);
    rc = conv(P("f16in"), "-o", P("f16in.mod"), NULL);
    check(rc == 0 && tensors_match(P("f16in.mod"), &s, "F16", 0, why, sizeof why), "F16 input -> f32: exact (%s)", why);
    rc = conv(P("bf16in"), "-o", P("bf16in.mod"), NULL);
    check(rc == 0 && tensors_match(P("bf16in.mod"), &s, "BF16", 0, why, sizeof why), "BF16 input -> f32: exact (%s)", why);
    rc = conv(P("f32in"), "-o", P("f32to16.mod"), "--dtype", "f16", NULL);
    check(rc == 0 && tensors_match(P("f32to16.mod"), &s, "F32", 1, why, sizeof why), "F32 input -> f16: round to nearest even, 1-D tensors f32 (%s)", why);
    rc = conv(P("f32in"), "-o", P("f32tobf.mod"), "--dtype", "bf16", NULL);
    check(rc == 0 && tensors_match(P("f32tobf.mod"), &s, "F32", 2, why, sizeof why), "F32 input -> bf16: round to nearest even (%s)", why);
    rc = conv(P("f16in"), "-o", P("f16to16.mod"), "--dtype", "f16", NULL);
    check(rc == 0 && tensors_match(P("f16to16.mod"), &s, "F16", 1, why, sizeof why), "F16 input -> f16: unchanged (%s)", why);
    rc = conv(P("bf16in"), "-o", P("bfto16.mod"), "--dtype", "f16", NULL);
    check(rc == 0 && tensors_match(P("bfto16.mod"), &s, "BF16", 1, why, sizeof why), "BF16 input -> f16 (%s)", why);
    check(logits_agree(P("f32to16.mod"), 16), "f16 file: logits agree with the reference");
    {   /* a value f16 cannot hold, and a NaN */
        stlist *l = (stlist *)calloc(1, sizeof *l);
        int i;
        build_tensors(&s, &canon, "F32", l);
        for (i = 0; i < l->n; i++)
            if (!strcmp(l->t[i].name, "model.layers.2.mlp.up_proj.weight")) mkm_put_f32(l->t[i].data + 40, 70000.0f);
        st_write(P("f32in/model.safetensors"), l, 0, l->n);
        rc = conv(P("f32in"), "-o", P("big.mod"), "--dtype", "f16", NULL);
        check(rc == 1 && strstr(g_err, "does not fit in f16") && strstr(g_err, "up_proj") && !exists(P("big.mod")), "a value beyond f16's range is refused (%s)", g_err);
        rc = conv(P("f32in"), "-o", P("big.mod"), "--dtype", "bf16", NULL);
        check(rc == 0, "... and fits in bf16");
        for (i = 0; i < l->n; i++)
            if (!strcmp(l->t[i].name, "model.norm.weight")) mkm_put_u32(l->t[i].data + 8, 0x7fc00000u);
        st_write(P("f32in/model.safetensors"), l, 0, l->n);
        rc = conv(P("f32in"), "-o", P("nan.mod"), NULL);
        check(rc == 1 && strstr(g_err, "NaN") && strstr(g_err, "model.norm.weight"), "a NaN weight is refused (%s)", g_err);
        st_free(l);
        free(l);
    }
}


/* Values where rounding is delicate: zeros, f16 subnormals and their ties, ties at 1, the
   largest f16 values, and a spread of magnitudes. */
static float sweep_value(uint64_t i)
{
    static const float fixed[] = {
        0.0f, -0.0f, 1e-8f, 2.98023223876953125e-8f /* 2^-25: tie to 0 */, 4.470348358154297e-8f /* 1.5 * 2^-25 */,
        5.9604644775390625e-8f /* 2^-24 */, 8.940696716308594e-8f /* 3 * 2^-25: tie to even 2 */,
        1.4901161193847656e-7f /* 5 * 2^-25: tie to even 2 */, 6.097555160522461e-5f /* below 2^-14 */,
        6.103515625e-5f /* 2^-14 */, 65504.0f, 65519.0f, -65519.0f, 1.00048828125f /* 1 + 2^-11: tie to 1 */,
        1.00146484375f /* 1 + 3 * 2^-11: tie up */, -1.00048828125f, 3.0517578125e-5f, 1.00390625f /* bf16 tie */,
        1.01171875f /* bf16 tie up */
    };
    float u;
    int e;
    if (i < sizeof fixed / sizeof fixed[0]) return fixed[i];
    u = uval(77, 0, 0, i);
    e = (int)(i % 45) - 30;
    return (float)ldexp((double)u, e);
}

/* A checkpoint whose up_proj of block 0 holds the sweep, in dtype; the converted tensor must
   equal the reference conversions of tools/mkmodel.h. */
static void test_rounding(void)
{
    spec s;
    stlist *l = (stlist *)calloc(1, sizeof *l);
    int i, k, rc;
    static const char *const in_dt[3] = { "F32", "F16", "BF16" };
    static const char *const out_dt[3] = { "f32", "f16", "bf16" };
    spec_default(&s);
    s.L = 1;
    for (k = 0; k < 3; k++) {
        int o, ok = 1;
        build_tensors(&s, &canon, in_dt[k], l);
        for (i = 0; i < l->n; i++)
            if (!strcmp(l->t[i].name, "model.layers.0.mlp.up_proj.weight")) {
                uint64_t j, n = (uint64_t)s.F * (uint64_t)s.d;
                for (j = 0; j < n; j++) {
                    float v = sweep_value(j);
                    if (k == 0) mkm_put_f32(l->t[i].data + 4 * j, v);
                    else {
                        uint16_t h = k == 1 ? mkm_f32_to_f16(v) : mkm_f32_to_bf16(v);
                        l->t[i].data[2 * j] = (unsigned char)h;
                        l->t[i].data[2 * j + 1] = (unsigned char)(h >> 8);
                    }
                }
            }
        mkdir_p(P("sweep"));
        write_config(P("sweep"), &s, NULL, NULL);
        st_write(P("sweep/model.safetensors"), l, 0, l->n);
        st_free(l);
        for (o = 0; o < 3; o++) {
            size_t size;
            unsigned char *b;
            rc = conv(P("sweep"), "-o", P("sweep.mod"), "--force", "--quiet", "--dtype", out_dt[o], NULL);
            if (k == 2 && o == 1) { /* bf16(65504) is 65536, beyond f16 */
                check(rc == 1 && strstr(g_err, "does not fit in f16"), "rounding sweep: BF16 input -> f16 refuses 65536 (%s)", g_err);
                continue;
            }
            b = rc == 0 ? read_file(P("sweep.mod"), &size) : NULL;
            ok = b != NULL;
            if (b) {
                const unsigned char *p = b + mkm_tensor_data(b, size, ROLE_UP, 0);
                uint64_t j, n = (uint64_t)s.F * (uint64_t)s.d;
                for (j = 0; j < n && ok; j++) {
                    float v = sweep_value(j);
                    if (k == 1) v = f16val(v);
                    else if (k == 2) v = bf16val(v);
                    if (o == 0) { uint32_t w; memcpy(&w, &v, 4); ok = mkm_get_u32(p + 4 * j) == w; }
                    else ok = (uint16_t)(p[2 * j] | p[2 * j + 1] << 8) == (o == 1 ? mkm_f32_to_f16(v) : mkm_f32_to_bf16(v));
                    if (!ok) printf("   (element %llu = %g)\n", (unsigned long long)j, (double)sweep_value(j));
                }
                free(b);
            }
            check(ok, "rounding sweep: %s input -> %s (subnormals, ties, extremes)", in_dt[k], out_dt[o]);
        }
    }
    free(l);
}
static void test_overrides(void)
{
    spec s;
    mod_model *m;
    int rc;
    spec_mod(&s, 1);
    make_dir(P("ovr_keys"), &s, &canon, "F32", mod_keys_full, NULL);
    make_dir(P("ovr_none"), &s, &canon, "F32", NULL, NULL);
    rc = conv(P("ovr_keys"), "-o", P("ovr_keys.mod"), "--quiet", NULL);
    rc |= conv(P("ovr_none"), "-o", P("ovr_cli.mod"), "--quiet", "--mod-layers", "1,3", "--capacity", "0.25,0.5",
               "--router-input", "normed", "--router-scale", "sigmoid", "--combine", "mlp", "--positions", "compacted",
               "--decision", "predictor", "--threshold", "0.125", NULL);
    check(rc == 0 && same_files(P("ovr_keys.mod"), P("ovr_cli.mod")), "command-line options equal the config.json keys (%s)", g_err);
    rc = conv(P("ovr_none"), "-o", P("ovr_odd.mod"), "--quiet", "--mod-layers", "odd", "--capacity", "0.25,0.5", "--router-input", "normed",
              "--router-scale", "sigmoid", "--combine", "mlp", "--positions", "compacted", "--decision", "predictor", "--threshold", "0.125", NULL);
    check(rc == 0 && same_files(P("ovr_keys.mod"), P("ovr_odd.mod")), "--mod-layers odd");
    rc = conv(P("ovr_keys"), "-o", P("ovr_over.mod"), "--capacity", "0.75", "--threshold", "-1", "--positions", "absolute", NULL);
    m = rc == 0 ? load(P("ovr_over.mod")) : NULL;
    check(m && mod_model_layer_capacity(m, 1) == 0.75f && mod_model_layer_capacity(m, 3) == 0.75f &&
          mod_model_config(m)->threshold == -1.0f && mod_model_config(m)->positions == MOD_POSITIONS_ABSOLUTE &&
          mod_model_config(m)->combine == MOD_COMBINE_MLP, "options override config.json keys, the rest stays");
    mod_model_free(m);
    rc = conv(P("ovr_keys"), "-o", P("ovr_x.mod"), "--mod-layers", "none", NULL);
    check(rc == 1 && strstr(g_err, "not a routed block") && strstr(g_err, "router"), "--mod-layers none with router weights: refused (%s)", g_err);
    rc = conv(P("ovr_keys"), "-o", P("ovr_x.mod"), "--mod-layers", "1,2", NULL);
    check(rc == 1 && strstr(g_err, "model.layers.2.router.weight") && strstr(g_err, "missing"), "a routed block without a router: the missing tensor is named (%s)", g_err);
    rc = conv(P("ovr_keys"), "-o", P("ovr_x.mod"), "--capacity", "0.5,0.5,0.5", NULL);
    check(rc == 1 && strstr(g_err, "3 capacities"), "capacity list of the wrong length (%s)", g_err);
    rc = conv(P("ovr_none"), "-o", P("ovr_x.mod"), "--mod-layers", "1,3", NULL);
    check(rc == 0, "routed blocks without mod_capacity: default capacity");
    m = rc == 0 ? load(P("ovr_x.mod")) : NULL;
    check(m && mod_model_layer_capacity(m, 1) == 0.125f && mod_model_config(m)->decision == MOD_DECISION_ROUTER, "... 0.125 and decision router");
    mod_model_free(m);
    rc = conv(P("ovr_none"), "-o", P("ovr_y.mod"), "--mod-layers", "1,9", NULL);
    check(rc == 2 || (rc == 1 && strstr(g_err, "--mod-layers")), "--mod-layers naming a block that does not exist (%s)", g_err);
}

static void test_tied(void)
{
    spec s;
    mod_model *m;
    int rc;
    char cfg[4200];
    size_t n;
    unsigned char *b;
    spec_default(&s);
    s.tied = 1;
    make_dir(P("tie"), &s, &canon, "F32", NULL, NULL);
    /* drop the tie_word_embeddings key: no lm_head means tied */
    snprintf(cfg, sizeof cfg, "%s/config.json", P("tie"));
    b = read_file(cfg, &n);
    if (b) {
        char *k = strstr((char *)b, "\"tie_word_embeddings\": true");
        if (k) memcpy(k, "\"_tie_word_embeddings\":true", 27);
        write_file(cfg, b, n);
        free(b);
    }
    rc = conv(P("tie"), "-o", P("tie.mod"), NULL);
    m = rc == 0 ? load(P("tie.mod")) : NULL;
    check(m && mod_model_config(m)->tied_embeddings == 1, "no tie_word_embeddings key and no lm_head: tied (%s)", g_err);
    mod_model_free(m);
    s.tied = 0;
    write_config(P("tie"), &s, NULL, NULL);
    rc = conv(P("tie"), "-o", P("tie2.mod"), NULL);
    check(rc == 1 && strstr(g_err, "lm_head.weight") && strstr(g_err, "tie_word_embeddings"), "tie_word_embeddings false without lm_head: named (%s)", g_err);
}

/* ---- llama2.c ------------------------------------------------------------------------------- */

typedef struct l2c {
    int dim, hidden, L, H, Hkv, V, seq, shared, v1;
    float *emb, *att, *wq, *wk, *wv, *wo, *ffn, *w1, *w2, *w3, *fin, *cls;
} l2c;

static float *rnd(unsigned seed, int what, size_t n, double scale, double base)
{
    float *v = (float *)malloc(n * sizeof *v);
    size_t i;
    for (i = 0; i < n; i++) v[i] = (float)(base + scale * uval(seed, what, 0, i));
    return v;
}

static void l2c_init(l2c *c, int dim, int hidden, int L, int H, int Hkv, int V, int seq, int shared, int v1, unsigned seed)
{
    size_t d = (size_t)dim, kv = d / (size_t)H * (size_t)Hkv, F = (size_t)hidden, n = (size_t)L;
    double s = 1.7 / sqrt((double)dim);
    c->dim = dim; c->hidden = hidden; c->L = L; c->H = H; c->Hkv = Hkv; c->V = V; c->seq = seq; c->shared = shared; c->v1 = v1;
    c->emb = rnd(seed, 1, (size_t)V * d, 1.0, 0);
    c->att = rnd(seed, 2, n * d, 0.2, 1.0);
    c->wq = rnd(seed, 3, n * d * d, s, 0);
    c->wk = rnd(seed, 4, n * kv * d, s, 0);
    c->wv = rnd(seed, 5, n * kv * d, s, 0);
    c->wo = rnd(seed, 6, n * d * d, s, 0);
    c->ffn = rnd(seed, 7, n * d, 0.2, 1.0);
    c->w1 = rnd(seed, 8, n * F * d, s, 0);
    c->w2 = rnd(seed, 9, n * d * F, 1.7 / sqrt((double)hidden), 0);
    c->w3 = rnd(seed, 10, n * F * d, s, 0);
    c->fin = rnd(seed, 11, d, 0.2, 1.0);
    c->cls = shared ? c->emb : rnd(seed, 12, (size_t)V * d, s, 0);
}

static void l2c_free(l2c *c)
{
    free(c->emb); free(c->att); free(c->wq); free(c->wk); free(c->wv); free(c->wo); free(c->ffn);
    free(c->w1); free(c->w2); free(c->w3); free(c->fin);
    if (!c->shared) free(c->cls);
}

typedef struct fbuf { unsigned char *p; size_t n, cap; } fbuf;
static void fb_put(fbuf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) { while (b->n + n > b->cap) b->cap = b->cap ? 2 * b->cap : 4096; b->p = (unsigned char *)realloc(b->p, b->cap); }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void fb_i32(fbuf *b, int32_t v) { unsigned char x[4]; mkm_put_u32(x, (uint32_t)v); fb_put(b, x, 4); }
static void fb_f32s(fbuf *b, const float *v, size_t n) { size_t i; for (i = 0; i < n; i++) { unsigned char x[4]; mkm_put_f32(x, v[i]); fb_put(b, x, 4); } }

static void l2c_write(const char *path, const l2c *c)
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

static void dmatmul(double *o, const double *x, const float *w, int n, int d)
{
    int i, j;
    for (i = 0; i < d; i++) { double v = 0; for (j = 0; j < n; j++) v += (double)w[(size_t)i * n + j] * x[j]; o[i] = v; }
}

static void drmsnorm(double *o, const double *x, const float *g, int n)
{
    double ss = 0;
    int i;
    for (i = 0; i < n; i++) ss += x[i] * x[i];
    ss = 1.0 / sqrt(ss / n + 1e-5);
    for (i = 0; i < n; i++) o[i] = (double)g[i] * (ss * x[i]);
}

/* llama2.c run.c's forward pass, token by token with a KV cache, in double. */
static void l2c_forward(const l2c *c, const int *toks, int n, double *logits)
{
    int dim = c->dim, hs = dim / c->H, kvd = hs * c->Hkv, kvmul = c->H / c->Hkv, F = c->hidden, pos, l, i, h, t;
    double *x = (double *)malloc(sizeof(double) * (size_t)dim), *xb = (double *)malloc(sizeof(double) * (size_t)dim);
    double *xb2 = (double *)malloc(sizeof(double) * (size_t)dim), *q = (double *)malloc(sizeof(double) * (size_t)dim);
    double *hb = (double *)malloc(sizeof(double) * (size_t)F), *hb2 = (double *)malloc(sizeof(double) * (size_t)F);
    double *kc = (double *)malloc(sizeof(double) * (size_t)(c->L * n * kvd)), *vc = (double *)malloc(sizeof(double) * (size_t)(c->L * n * kvd));
    double *att = (double *)malloc(sizeof(double) * (size_t)n);
    for (pos = 0; pos < n; pos++) {
        for (i = 0; i < dim; i++) x[i] = c->emb[(size_t)toks[pos] * dim + i];
        for (l = 0; l < c->L; l++) {
            double *k = kc + ((size_t)l * n + pos) * kvd, *v = vc + ((size_t)l * n + pos) * kvd;
            drmsnorm(xb, x, c->att + (size_t)l * dim, dim);
            dmatmul(q, xb, c->wq + (size_t)l * dim * dim, dim, dim);
            dmatmul(k, xb, c->wk + (size_t)l * dim * kvd, dim, kvd);
            dmatmul(v, xb, c->wv + (size_t)l * dim * kvd, dim, kvd);
            for (i = 0; i < dim; i += 2) {
                int head_dim = i % hs;
                double freq = 1.0 / pow(10000.0, head_dim / (double)hs), val = pos * freq, fcr = cos(val), fci = sin(val);
                int rotn = i < kvd ? 2 : 1, r;
                for (r = 0; r < rotn; r++) {
                    double *vec = r == 0 ? q : k, v0 = vec[i], v1 = vec[i + 1];
                    vec[i] = v0 * fcr - v1 * fci;
                    vec[i + 1] = v0 * fci + v1 * fcr;
                }
            }
            for (h = 0; h < c->H; h++) {
                double mx = -1e300, sum = 0, *o = xb + h * hs;
                for (t = 0; t <= pos; t++) {
                    const double *kt = kc + ((size_t)l * n + t) * kvd + (h / kvmul) * hs;
                    double sc = 0;
                    for (i = 0; i < hs; i++) sc += q[h * hs + i] * kt[i];
                    att[t] = sc / sqrt((double)hs);
                    if (att[t] > mx) mx = att[t];
                }
                for (t = 0; t <= pos; t++) { att[t] = exp(att[t] - mx); sum += att[t]; }
                for (i = 0; i < hs; i++) o[i] = 0;
                for (t = 0; t <= pos; t++) {
                    const double *vt = vc + ((size_t)l * n + t) * kvd + (h / kvmul) * hs;
                    for (i = 0; i < hs; i++) o[i] += att[t] / sum * vt[i];
                }
            }
            dmatmul(xb2, xb, c->wo + (size_t)l * dim * dim, dim, dim);
            for (i = 0; i < dim; i++) x[i] += xb2[i];
            drmsnorm(xb, x, c->ffn + (size_t)l * dim, dim);
            dmatmul(hb, xb, c->w1 + (size_t)l * dim * F, dim, F);
            dmatmul(hb2, xb, c->w3 + (size_t)l * dim * F, dim, F);
            for (i = 0; i < F; i++) hb[i] = hb[i] * (1.0 / (1.0 + exp(-hb[i]))) * hb2[i];
            dmatmul(xb, hb, c->w2 + (size_t)l * dim * F, F, dim);
            for (i = 0; i < dim; i++) x[i] += xb[i];
        }
        drmsnorm(xb, x, c->fin, dim);
        dmatmul(logits + (size_t)pos * c->V, xb, c->cls, dim, c->V);
    }
    free(x); free(xb); free(xb2); free(q); free(hb); free(hb2); free(kc); free(vc); free(att);
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

static int l2c_vocab(char ***strs, float **scores)
{
    int V = 3 + 256 + L2C_NP, i;
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

static void write_tokenizer_bin(const char *path, char **s, const float *sc, int V, int truncate)
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

/* llama2.c run.c's encode (dummy prefix, UTF-8 characters, byte fallback +3, best-score merges). */
static int l2c_encode(char **vocab, const float *scores, int V, const char *text, int *tokens)
{
    char buf[64];
    size_t str_len = 0;
    int n = 0, i;
    const char *c;
#define LOOKUP(str, out) do { out = -1; for (i = 0; i < V; i++) if (!strcmp(str, vocab[i])) { out = i; break; } } while (0)
    if (text[0]) { int id; LOOKUP(" ", id); tokens[n++] = id; }
    for (c = text; *c; c++) {
        int id;
        if ((*c & 0xC0) != 0x80) str_len = 0;
        buf[str_len++] = *c;
        buf[str_len] = 0;
        if ((*(c + 1) & 0xC0) == 0x80 && str_len < 4) continue;
        LOOKUP(buf, id);
        if (id != -1) tokens[n++] = id;
        else for (i = 0; i < (int)str_len; i++) tokens[n++] = (unsigned char)buf[i] + 3;
        str_len = 0;
    }
    for (;;) {
        float best = -1e10f;
        int best_id = -1, best_idx = -1, k;
        for (k = 0; k < n - 1; k++) {
            char cat[128];
            int id;
            snprintf(cat, sizeof cat, "%s%s", vocab[tokens[k]], vocab[tokens[k + 1]]);
            LOOKUP(cat, id);
            if (id != -1 && scores[id] > best) { best = scores[id]; best_id = id; best_idx = k; }
        }
        if (best_idx == -1) break;
        tokens[best_idx] = best_id;
        for (k = best_idx + 1; k < n - 1; k++) tokens[k] = tokens[k + 1];
        n--;
    }
#undef LOOKUP
    return n;
}

static void test_llama2c(void)
{
    char **vocab;
    float *scores;
    int V = l2c_vocab(&vocab, &scores), k, i;
    struct { const char *what; int H, Hkv, shared, v1; } v[] = {
        { "legacy, shared classifier, GQA", 4, 2, 1, 0 },
        { "legacy, separate classifier, MHA", 4, 4, 0, 0 },
        { "version 1, shared classifier, MQA", 4, 1, 1, 1 },
        { "version 1, separate classifier, GQA", 8, 2, 0, 1 },
    };
    static const char *const texts[] = { "hello world", "hello", "", "h\xC3\xA9llo w\xC3\xB6rld!", "abc", "a  b!", "world hello", "\xE2\x82\xAC" };
    write_tokenizer_bin(P("tok.bin"), vocab, scores, V, 0);
    for (k = 0; k < 4; k++) {
        l2c c;
        const char *ck = P("l2c_%d.bin", k), *out = P("l2c_%d.mod", k);
        int rc, toks[20], n = 20;
        mod_model *m;
        l2c_init(&c, 32, 40, 3, v[k].H, v[k].Hkv, V, 48, v[k].shared, v[k].v1, 100u + (unsigned)k);
        l2c_write(ck, &c);
        rc = conv(ck, "-o", out, "--tokenizer", P("tok.bin"), NULL);
        check(rc == 0, "llama2.c %s converts (%s)", v[k].what, g_err);
        m = rc == 0 ? load(out) : NULL;
        if (m) {
            const mod_config *cf = mod_model_config(m);
            mod_session *s = NULL;
            mod_session_desc sd;
            float *got = (float *)malloc(sizeof(float) * (size_t)(n * V));
            double *want = (double *)malloc(sizeof(double) * (size_t)(n * V)), mx = 0, md = 0;
            check(cf->dim == 32 && cf->hidden_dim == 40 && cf->n_layers == 3 && cf->n_heads == v[k].H && cf->n_kv_heads == v[k].Hkv &&
                  cf->vocab_size == V && cf->max_seq_len == 48 && cf->tied_embeddings == v[k].shared && cf->n_routed == 0 &&
                  cf->norm_eps == 1e-5f && cf->rope_theta == 10000.0f, "llama2.c %s: config", v[k].what);
            for (i = 0; i < n; i++) toks[i] = (i * 53 + 1) % V;
            memset(&sd, 0, sizeof sd);
            sd.threads = 1;
            if (mod_session_create(&s, m, &sd, NULL) == MOD_OK && mod_prefill(s, (const int32_t *)toks, n, got) == MOD_OK) {
                l2c_forward(&c, toks, n, want);
                for (i = 0; i < n * V; i++) {
                    if (fabs(want[i]) > mx) mx = fabs(want[i]);
                    if (fabs(want[i] - got[i]) > md) md = fabs(want[i] - got[i]);
                }
                check(md <= 1e-4 * mx, "llama2.c %s: logits equal run.c's forward pass (max diff %.3g, max logit %.3g)", v[k].what, md, mx);
            } else check(0, "llama2.c %s: runs", v[k].what);
            mod_session_free(s);
            free(got);
            free(want);
            if (k == 0) {
                int t;
                check(mod_token_bos(m) == 1 && mod_token_eos(m) == 2, "tokenizer.bin: bos 1, eos 2");
                for (t = 0; t < (int)(sizeof texts / sizeof texts[0]); t++) {
                    int want_t[64], nw = l2c_encode(vocab, scores, V, texts[t], want_t), j, same;
                    int32_t got_t[64];
                    int ng = -1;
                    char back[128];
                    size_t bl = 0;
                    same = mod_tokenize(m, texts[t], strlen(texts[t]), 0, got_t, 64, &ng, NULL) == MOD_OK && ng == nw;
                    for (j = 0; same && j < nw; j++) same = got_t[j] == want_t[j];
                    check(same, "tokenize \"%s\" as llama2.c's encode does", texts[t]);
                    check(mod_detokenize(m, got_t, ng > 0 ? ng : 0, back, sizeof back, &bl) == MOD_OK && bl == strlen(texts[t]) && !memcmp(back, texts[t], bl),
                          "decode \"%s\" back", texts[t]);
                }
                {
                    size_t len;
                    const char *p = mod_token_bytes(m, 3 + 0x41, &len);
                    check(len == 1 && p[0] == 'A', "<0x41> becomes the byte token 'A'");
                }
            }
            mod_model_free(m);
        }
        l2c_free(&c);
    }
    {   /* checkpoint shorter than its header says, a truncated tokenizer.bin, version 2 */
        l2c c;
        size_t n;
        unsigned char *b;
        l2c_init(&c, 32, 40, 3, 4, 2, V, 48, 0, 0, 7);
        l2c_write(P("l2c_t.bin"), &c);
        b = read_file(P("l2c_t.bin"), &n);
        write_file(P("l2c_t.bin"), b, n - 100);
        k = conv(P("l2c_t.bin"), "-o", P("l2c_t.mod"), NULL);
        check(k == 1 && strstr(g_err, "shorter than") && strstr(g_err, "header implies") && !exists(P("l2c_t.mod")), "llama2.c checkpoint shorter than its header says (%s)", g_err);
        write_file(P("l2c_t.bin"), b, n);
        write_tokenizer_bin(P("tok_t.bin"), vocab, scores, V, 3);
        k = conv(P("l2c_t.bin"), "-o", P("l2c_t.mod"), "--tokenizer", P("tok_t.bin"), NULL);
        check(k == 1 && strstr(g_err, "tok_t.bin is truncated") && !exists(P("l2c_t.mod")), "truncated tokenizer.bin (%s)", g_err);
        mkm_put_u32(b, 0x616b3432u);
        mkm_put_u32(b + 4, 2);
        write_file(P("l2c_t.bin"), b, n);
        k = conv(P("l2c_t.bin"), "-o", P("l2c_t.mod"), NULL);
        check(k == 1 && strstr(g_err, "version 2"), "llama2.c version 2 (Q8_0) is refused (%s)", g_err);
        free(b);
        l2c_free(&c);
    }
    for (i = 0; i < V; i++) free(vocab[i]);
    free(vocab);
    free(scores);
}

/* ---- corrupt inputs ------------------------------------------------------------------------- */

/* A raw safetensors file from a header string and a data size. */
static void raw_st(const char *dir, const char *hdr, size_t data, int64_t len_override, size_t cut)
{
    size_t h = strlen(hdr), total = 8 + h + data;
    unsigned char *f = (unsigned char *)calloc(total + 1, 1);
    char path[4200];
    mkm_put_u64(f, len_override >= 0 ? (uint64_t)len_override : (uint64_t)h);
    memcpy(f + 8, hdr, h);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_file(path, f, total - cut);
    free(f);
}

/* Runs a conversion that must fail with pattern in its message: once without an output file
   (none may appear), once over an existing file with --force (it must stay as it was). */
static void refuse(const char *what, const char *pattern, const char *in, const char *extra1, const char *extra2)
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

static void test_corrupt(void)
{
    spec s;
    char d[4200], path[8400], *deep;
    int i;
    stlist *l = (stlist *)calloc(1, sizeof *l);
    snprintf(d, sizeof d, "%s", P("bad"));
    spec_default(&s);
    s.L = 1;
    make_dir(d, &s, &canon, "F32", NULL, NULL);
    /* safetensors framing */
    raw_st(d, "", 0, -1, 0);
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    write_file(path, "\x10\0\0\0\0", 5);
    refuse("safetensors truncated in its header length", "too short for a safetensors header", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 200, 0);
    refuse("safetensors truncated in its header", "truncated header", d, NULL, NULL);
    raw_st(d, "{}", 0, (int64_t)1 << 40, 0);
    refuse("safetensors header length huge", "100 MB limit", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}", 32, -1, 10);
    refuse("safetensors truncated in its data", "is truncated: its tensors need 32 bytes", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24, -1, 0);
    refuse("overlapping data_offsets", "overlap", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[400,416]}}", 32, -1, 0);
    refuse("data_offsets past the end", "lie past the end of the data", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[20,36]}}", 36, -1, 0);
    refuse("non-contiguous data", "a gap of 4 bytes between a and b", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F33\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, -1, 0);
    refuse("unknown dtype", "unknown dtype \"F33\"", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4,2],\"data_offsets\":[0,16]}}", 16, -1, 0);
    refuse("shape and size disagree", "is 32 bytes but its data_offsets span 16", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}", 32, -1, 0);
    refuse("duplicate tensor names", "duplicate key \"a\"", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"I64\",\"shape\":[4],\"data_offsets\":[0,32]}}", 32, -1, 0);
    refuse("a tensor of an unconvertible dtype", "unexpected tensor a", d, NULL, NULL);
    /* the messages name the entry from the parsed header, which must still be alive then */
    raw_st(d, "{\"model.norm.weight\": [1, 2]}", 0, -1, 0);
    refuse("a header entry that is not an object", "tensor model.norm.weight: the entry must be an object", d, NULL, NULL);
    raw_st(d, "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[4]}}", 16, -1, 0);
    refuse("a header entry without data_offsets", "tensor model.norm.weight: the entry needs", d, NULL, NULL);
    raw_st(d, "{\"model.norm.weight\":{\"dtype\":\"Q9_K\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, -1, 0);
    refuse("an unknown dtype named from the header", "tensor model.norm.weight: unknown dtype \"Q9_K\"", d, NULL, NULL);
    raw_st(d, "{\"__metadata__\": [1], \"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, -1, 0);
    refuse("__metadata__ that is not an object", "\"__metadata__\" must be an object", d, NULL, NULL);
    /* a well-formed model for the remaining cases */
    make_dir(d, &s, &canon, "F32", NULL, NULL);
    snprintf(path, sizeof path, "%s/config.json", d);
    write_str(path, "{\"hidden_size\": 32, \"intermediate_size\": 48");
    refuse("config.json unterminated", "unterminated object", d, NULL, NULL);
    write_str(path, "{\"hidden_size\": 32} x");
    refuse("config.json with trailing garbage", "trailing characters", d, NULL, NULL);
    deep = (char *)malloc(20002);
    for (i = 0; i < 10000; i++) { deep[i] = '['; deep[10000 + i] = ']'; }
    deep[20000] = 0;
    write_str(path, deep);
    free(deep);
    refuse("config.json nested 10000 levels", "nesting deeper than", d, NULL, NULL);
    write_str(path, "{\"hidden_size\": 32, \"name\": \"caf\xE9\"}");
    refuse("config.json with invalid UTF-8", "invalid UTF-8", d, NULL, NULL);
    write_str(path, "{\"hidden_size\": 32, \"name\": \"a\\x\"}");
    refuse("config.json with a bad escape", "invalid escape", d, NULL, NULL);
    write_str(path, "{\"hidden_size\": 32, \"name\": \"\\ud800\"}");
    refuse("config.json with a lone surrogate", "surrogate", d, NULL, NULL);
    write_str(path, "{\"hidden_size\": 32, \"hidden_size\": 64}");
    refuse("config.json with a repeated key", "line 1, column 21: duplicate key", d, NULL, NULL);
    write_str(path, "{\"intermediate_size\": 48, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"vocab_size\": 300}");
    refuse("config.json without hidden_size", "missing required key \"hidden_size\"", d, NULL, NULL);
    write_config(d, &s, NULL, NULL);
    {   /* bos/eos ids are checked even when no tokenizer comes with the model */
        static const char *const bad_ids[][2] = {
            { ", \"bos_token_id\": \"1\"", "\"bos_token_id\" must be a token id" },
            { ", \"eos_token_id\": {\"id\": 2}", "\"eos_token_id\" must be a token id" },
            { ", \"bos_token_id\": 18446744073709551616", "\"bos_token_id\" must be a token id" },
            { ", \"eos_token_id\": -1", "\"eos_token_id\" must be a token id" },
            { ", \"bos_token_id\": 1.5", "\"bos_token_id\" must be a token id" },
            { ", \"eos_token_id\": [2, \"x\"]", "\"eos_token_id\" must be a token id" },
            { ", \"eos_token_id\": [2, 300]", "\"eos_token_id\" is 300, outside the vocabulary of 300 tokens" },
            { ", \"bos_token_id\": 300", "\"bos_token_id\" is 300, outside the vocabulary of 300 tokens" },
        };
        size_t k;
        for (k = 0; k < sizeof bad_ids / sizeof bad_ids[0]; k++) {
            char what[200];
            write_config(d, &s, NULL, bad_ids[k][0]);
            snprintf(what, sizeof what, "config.json with%s, no tokenizer", bad_ids[k][0] + 1);
            refuse(what, bad_ids[k][1], d, "--tokenizer", "none");
        }
        write_config(d, &s, NULL, ", \"bos_token_id\": null, \"eos_token_id\": [299, 0]");
        unlink(P("ids.mod"));
        check(conv(d, "-o", P("ids.mod"), "--tokenizer", "none", NULL) == 0, "config.json with a null bos and a list of eos ids converts (%s)", g_err);
        unlink(P("ids.mod"));
    }
    write_config(d, &s, NULL, NULL);
    /* tensors vs config */
    build_tensors(&s, &canon, "F32", l);
    st_write(P("bad/model.safetensors"), l, 1, l->n - 1); /* the first written is layer 0's last role */
    refuse("missing tensor", "missing tensor model.layers.0.mlp.down_proj.weight", d, NULL, NULL);
    {
        uint64_t sh[1] = { 4 };
        float z[4] = { 0, 0, 0, 0 };
        st_add(l, "model.layers.0.mlp.extra.weight", "F32", 1, sh, z);
        st_write(P("bad/model.safetensors"), l, 0, l->n);
        refuse("unexpected tensor", "unexpected tensor model.layers.0.mlp.extra.weight", d, NULL, NULL);
    }
    st_write(P("bad/model.safetensors"), l, 0, l->n - 1);
    for (i = 0; i < l->n - 1; i++)
        if (!strcmp(l->t[i].name, "model.norm.weight")) snprintf(l->t[i].dtype, sizeof l->t[i].dtype, "I32");
    st_write(P("bad/model.safetensors"), l, 0, l->n - 1);
    refuse("a weight stored as integers", "model.norm.weight (in", d, NULL, NULL);
    check(strstr(g_err, "has dtype I32; only F32, F16 and BF16") != NULL, "... the message names the dtype (%s)", g_err);
    for (i = 0; i < l->n - 1; i++)
        if (!strcmp(l->t[i].name, "model.norm.weight")) snprintf(l->t[i].dtype, sizeof l->t[i].dtype, "F32");
    st_write(P("bad/model.safetensors"), l, 0, l->n - 1);
    s.F = 40;
    write_config(d, &s, NULL, NULL);
    refuse("shape disagreeing with config.json", "implies [intermediate_size, hidden_size] = [40, 32]", d, NULL, NULL);
    s.F = 48;
    write_config(d, &s, NULL, NULL);
    write_config(d, &s, NULL, ", \"num_hidden_layers\": 2");
    refuse("config.json with a repeated key (num_hidden_layers)", "duplicate key", d, NULL, NULL);
    write_config(d, &s, NULL, NULL);
    /* tokenizer.json */
    s.V = 300;
    write_tokenizer(P("bad/tokenizer.json"), 0, 0, NULL, "\"h zz\"", -1);
    refuse("a merge naming an unknown token", "names the token \"zz\", which is not in the vocab", d, NULL, NULL);
    write_tokenizer(P("bad/tokenizer.json"), 0, 0, NULL, NULL, 300);
    refuse("a vocab id out of range", "has id 300, outside the model's vocab_size 300", d, NULL, NULL);
    write_tokenizer(P("bad/tokenizer.json"), 0, 0, "WordPiece", NULL, -1);
    refuse("an unsupported tokenizer model type", "unsupported tokenizer model type \"WordPiece\"", d, NULL, NULL);
    write_tokenizer(P("bad/tokenizer.json"), 0, 0, NULL, "\"hell d\"", -1);
    refuse("a merge whose result is not in the vocab", "the merged token is not in the vocab", d, NULL, NULL);
    unlink(P("bad/tokenizer.json"));
    st_free(l);
    free(l);
}

/* ---- mod.h model files as input -------------------------------------------------------------- */

static int write_mkm(const char *path, const mkm_opts *o)
{
    unsigned char *b;
    size_t n;
    if (mkm_build(o, &b, &n) != 0) return 0;
    write_file(path, b, n);
    free(b);
    return 1;
}

/* The tokenizer section of a model file (NULL, 0 when it has none). */
static const unsigned char *tok_section(const unsigned char *b, uint64_t *n)
{
    *n = mkm_get_u64(b + 56);
    return *n ? b + mkm_get_u64(b + 48) : NULL;
}

/* q8_0 blocks (g) against the f32 weights they encode (ref): every decoded weight within
   q8_0's rounding bound, half a step of max|w| / 127 plus up to 127 times the rounding of that
   step to the f16 scale d (2^-11 d), so (0.5 + 129 / 2048) d covers both. */
static int q8_close(const unsigned char *g, const unsigned char *ref, uint64_t n)
{
    uint64_t i;
    for (i = 0; i < n; i++) {
        const unsigned char *gb = g + i / 32 * 34;
        const double d = mkm_f16_to_double((uint16_t)(gb[0] | gb[1] << 8)), x = mkm_get_f32(ref + 4 * i);
        if (fabs(d * (signed char)gb[2 + i % 32] - x) > (0.5 + 129.0 / 2048) * d) return 0;
    }
    return 1;
}

/* got and want (file bytes) describe the same model: header fields from vocab_size on (the
   configuration and every routing setting), the layer table, the tokenizer section (unless
   got_tok is 0: then got has none) and, for every tensor of want, the same role, layer, dtype,
   shape and size with equal bytes; with ref (the f32 model), q8_0 tensors are also checked
   against the weights they encode (q8_close). */
static int same_model(const unsigned char *got, size_t gn, const unsigned char *want, size_t wn, int got_tok,
                      const unsigned char *ref, size_t rn, char *why, size_t wcap)
{
    uint32_t n = mkm_get_u32(want + 28), t, L = mkm_get_u32(want + 88);
    uint64_t gt, wt;
    const unsigned char *gs = tok_section(got, &gt), *ws = tok_section(want, &wt);
    if (gn < 160 || wn < 160) { snprintf(why, wcap, "short file"); return 0; }
    if (memcmp(got + 80, want + 80, 80)) { snprintf(why, wcap, "header fields from offset 80 differ"); return 0; }
    if (memcmp(got + mkm_get_u64(got + 32), want + mkm_get_u64(want + 32), 8 * (size_t)L)) { snprintf(why, wcap, "layer tables differ"); return 0; }
    if (got_tok ? gt != wt || (wt && memcmp(gs, ws, (size_t)wt)) : gt != 0) { snprintf(why, wcap, "tokenizer sections differ (%llu vs %llu bytes)", (unsigned long long)gt, (unsigned long long)wt); return 0; }
    if (mkm_get_u32(got + 28) != n) { snprintf(why, wcap, "%u tensors, want %u", mkm_get_u32(got + 28), n); return 0; }
    for (t = 0; t < n; t++) {
        const unsigned char *we = want + mkm_get_u64(want + 40) + 64 * (uint64_t)t;
        const uint32_t role = mkm_get_u32(we), layer = mkm_get_u32(we + 4);
        const int l = layer == 0xFFFFFFFFu ? -1 : (int)layer;
        size_t ge = mkm_tensor_entry(got, gn, (int)role, l);
        uint64_t size = mkm_get_u64(we + 56);
        if (!ge) { snprintf(why, wcap, "role %u layer %d missing", role, l); return 0; }
        if (memcmp(got + ge, we, 48) || mkm_get_u64(got + ge + 56) != size) { snprintf(why, wcap, "role %u layer %d: entry differs (dtype %u vs %u)", role, l, mkm_get_u32(got + ge + 8), mkm_get_u32(we + 8)); return 0; }
        if (memcmp(got + mkm_tensor_data(got, gn, (int)role, l), want + mkm_tensor_data(want, wn, (int)role, l), (size_t)size)) {
            snprintf(why, wcap, "role %u layer %d (dtype %u): bytes differ", role, l, mkm_get_u32(we + 8));
            return 0;
        }
        if (ref && mkm_get_u32(we + 8) == 3) {
            const size_t re = mkm_tensor_entry(ref, rn, (int)role, l);
            if (!re || !q8_close(got + mkm_tensor_data(got, gn, (int)role, l), ref + mkm_tensor_data(ref, rn, (int)role, l),
                                 mkm_get_u64(we + 16) * mkm_get_u64(we + 24))) {
                snprintf(why, wcap, "role %u layer %d: q8_0 weights outside the rounding bound of the f32 ones", role, l);
                return 0;
            }
        }
    }
    return 1;
}

static int same_model_files_q8(const char *got, const char *want, int got_tok, const char *ref, char *why, size_t wcap)
{
    size_t gn, wn, rn = 0;
    unsigned char *g = read_file(got, &gn), *w = read_file(want, &wn), *r = ref ? read_file(ref, &rn) : NULL;
    int ok = g && w && (r || !ref) && same_model(g, gn, w, wn, got_tok, r, rn, why, wcap);
    if (!g || !w || (ref && !r)) snprintf(why, wcap, "cannot read %s or %s", got, want);
    free(g);
    free(w);
    free(r);
    return ok;
}

static int same_model_files(const char *got, const char *want, int got_tok, char *why, size_t wcap)
{
    return same_model_files_q8(got, want, got_tok, NULL, why, wcap);
}

/* The library gives both files the same logits, bit for bit, and the same tokens for a text. */
static int same_behaviour(const char *a, const char *b)
{
    mod_model *m[2];
    float *lg[2] = { NULL, NULL };
    int32_t toks[2][64], in[8];
    int nt[2] = { 0, 0 }, i, ok, V;
    static const char text[] = "hello world, hello there";
    m[0] = load(a);
    m[1] = load(b);
    ok = m[0] && m[1];
    V = ok ? mod_model_config(m[0])->vocab_size : 0;
    for (i = 0; ok && i < 2; i++) {
        mod_session *s = NULL;
        mod_session_desc sd;
        int k;
        for (k = 0; k < 8; k++) in[k] = (k * 29 + 5) % V;
        memset(&sd, 0, sizeof sd);
        sd.max_tokens = 32;
        sd.prompt_routing = MOD_ROUTING_CAUSAL;
        sd.threads = 1;
        lg[i] = (float *)malloc((size_t)V * 8 * sizeof(float));
        ok = lg[i] && mod_session_create(&s, m[i], &sd, NULL) == MOD_OK && mod_prefill(s, in, 8, lg[i]) == MOD_OK &&
             mod_tokenize(m[i], text, sizeof text - 1, 1, toks[i], 64, &nt[i], NULL) == MOD_OK;
        mod_session_free(s);
    }
    ok = ok && !memcmp(lg[0], lg[1], (size_t)V * 8 * sizeof(float)) && nt[0] == nt[1] && nt[0] > 2 &&
         !memcmp(toks[0], toks[1], (size_t)nt[0] * sizeof toks[0][0]);
    free(lg[0]);
    free(lg[1]);
    mod_model_free(m[0]);
    mod_model_free(m[1]);
    return ok;
}

/* A routed model with every setting away from its default, q/k/v biases, an MLP predictor and
   a byte-level BPE tokenizer; dimensions that q8_0 and q4_0 accept. */
static void mod_input_opts(mkm_opts *o, int dtype)
{
    mkm_defaults(o);
    o->dim = 64;
    o->hidden_dim = 96;
    o->n_layers = 4;
    o->routed[0] = 0; o->routed[1] = 1; o->routed[2] = 0; o->routed[3] = 1;
    o->capacity[1] = 0.25f;
    o->capacity[3] = 0.75f;
    o->router_input = 1; o->router_scale = 1; o->combine = 1; o->positions = 1;
    o->decision = 1;
    o->predictor_hidden = 32;
    o->threshold = 0.125f;
    o->qkv_bias = 1;
    o->tokenizer = MKM_TOKENIZER_BPE;
    o->n_merges = 40;
    o->seed = 77;
    o->dtype = dtype;
}

static void test_mod_input_with(char *const *in);

static void test_mod_input(void)
{
    static const char *const dn[5] = { "f32", "f16", "bf16", "q8_0", "q4_0" };
    char *in[5];
    mkm_opts o;
    int dt, ok = 1;
    for (dt = 0; dt < 5; dt++) {
        mod_input_opts(&o, dt);
        in[dt] = strdup_c(P("mi_want_%s.mod", dn[dt]));
        if (!write_mkm(in[dt], &o)) ok = 0;
    }
    check(ok, "mkmodel builds the model in every dtype");
    if (ok) test_mod_input_with(in);
    for (dt = 0; dt < 5; dt++) free(in[dt]);
}

static void test_mod_input_with(char *const *in)
{
    static const char *const dn[5] = { "f32", "f16", "bf16", "q8_0", "q4_0" };
    static const char *const changing[8][2] = { { "--mod-layers", "odd" }, { "--capacity", "0.5" }, { "--router-input", "residual" },
        { "--router-scale", "identity" }, { "--combine", "delta" }, { "--positions", "absolute" }, { "--decision", "router" }, { "--threshold", "0" } };
    mkm_opts o;
    char why[300];
    int dt, k, rc;
    /* f32 -> every dtype: the bytes mkmodel writes for the same seed in that dtype (both
       programs round alike), and q8_0 also against the f32 weights (q8_close) */
    for (dt = 1; dt < 5; dt++) {
        const char *out = P("mi_%s.mod", dn[dt]);
        rc = conv(in[0], "-o", out, "--dtype", dn[dt], NULL);
        check(rc == 0 && same_model_files_q8(out, in[dt], 1, dt == 3 ? in[0] : NULL, why, sizeof why),
              "mod.h f32 -> %s: every tensor, the configuration, the routing settings and the tokenizer equal mkmodel's %s file%s (%s%s)",
              dn[dt], dn[dt], dt == 3 ? " (q8_0: and every weight within the rounding bound of the f32 one)" : "", g_err, rc ? "" : why);
    }
    /* the same path as a checkpoint: checkpoint -> f32 model file -> dtype equals checkpoint -> dtype */
    {
        spec s;
        spec_mod(&s, 1);
        s.F = 64;
        make_dir(P("mi_ck"), &s, &canon, "BF16", mod_keys_full, NULL);
        rc = conv(P("mi_ck"), "-o", P("mi_ck32.mod"), "--quiet", NULL);
        check(rc == 0, "checkpoint -> f32 (%s)", g_err);
        for (dt = 1; dt < 5; dt++) {
            const char *a = P("mi_ck_%s.mod", dn[dt]), *b = P("mi_ck32_%s.mod", dn[dt]);
            rc = conv(P("mi_ck"), "-o", a, "--quiet", "--dtype", dn[dt], NULL);
            rc |= conv(P("mi_ck32.mod"), "-o", b, "--quiet", "--dtype", dn[dt], NULL);
            check(rc == 0 && same_files(a, b), "checkpoint -> %s and checkpoint -> f32 model file -> %s: the same file (%s)", dn[dt], dn[dt], g_err);
        }
    }
    rc = conv(in[0], "-o", P("mi_summary.mod"), "--dtype", "q4_0", NULL);
    check(rc == 0 && strstr(g_out, "q4_0 matrices") && strstr(g_out, "from a mod.h model file") && strstr(g_out, "1 (capacity 0.25), 3 (capacity 0.75)"),
          "mod.h input: the summary names the input kind, the dtype and the routed blocks (%s)", g_out);
    /* same dtype, without --dtype (each matrix keeps its dtype) and with it */
    for (dt = 0; dt < 5; dt++) {
        const char *out = P("mi_same_%s.mod", dn[dt]), *out2 = P("mi_same2_%s.mod", dn[dt]);
        rc = conv(in[dt], "-o", out, "--quiet", NULL);
        check(rc == 0 && same_model_files(out, in[dt], 1, why, sizeof why) && same_behaviour(out, in[dt]),
              "mod.h %s -> no --dtype: tensors byte-identical, same configuration and tokenizer, logits equal bit for bit, same tokens (%s%s)",
              dn[dt], g_err, rc ? "" : why);
        rc = conv(in[dt], "-o", out2, "--quiet", "--dtype", dn[dt], NULL);
        check(rc == 0 && same_files(out, out2), "mod.h %s -> --dtype %s: the same file (%s)", dn[dt], dn[dt], g_err);
    }
    /* decoding q8_0 and q4_0 is exact, and quantizing the decoded values gives the same blocks */
    for (dt = 3; dt < 5; dt++) {
        const char *f = P("mi_dec_%s.mod", dn[dt]), *back = P("mi_back_%s.mod", dn[dt]);
        size_t nq, nf;
        unsigned char *q, *x;
        int exact = 1;
        rc = conv(in[dt], "-o", f, "--quiet", "--dtype", "f32", NULL);
        q = read_file(in[dt], &nq);
        x = read_file(f, &nf);
        if (rc != 0 || !q || !x) exact = 0;
        else {
            const size_t qd = mkm_tensor_data(q, nq, MKM_ROLE_MLP_DOWN, 2), xd = mkm_tensor_data(x, nf, MKM_ROLE_MLP_DOWN, 2);
            const size_t xe = mkm_tensor_entry(x, nf, MKM_ROLE_MLP_DOWN, 2);
            uint64_t i, n = 64 * 96;
            exact = qd && xd && xe && mkm_get_u32(x + xe + 8) == 0;
            for (i = 0; exact && i < n; i++) {
                const unsigned char *b = q + qd + i / 32 * (dt == 3 ? 34 : 18);
                const double d = mkm_f16_to_double((uint16_t)(b[0] | b[1] << 8));
                const unsigned j = (unsigned)(i % 32);
                const double v = dt == 3 ? d * (signed char)b[2 + j] : d * ((j < 16 ? b[2 + j] & 15 : b[2 + j - 16] >> 4) - 8);
                exact = (double)mkm_get_f32(x + xd + 4 * i) == v;
            }
        }
        free(q);
        free(x);
        check(exact, "mod.h %s -> f32: every weight is exactly scale x integer (mlp_down of block 2) (%s)", dn[dt], g_err);
        rc = conv(f, "-o", back, "--quiet", "--dtype", dn[dt], NULL);
        check(rc == 0 && same_model_files(back, in[dt], 1, why, sizeof why), "... and %s again gives the original blocks (%s%s)", dn[dt], g_err, rc ? "" : why);
    }
    /* quantized -> another quantized type compounds rounding: refused unless asked for */
    refuse("mod.h q8_0 -> q4_0 without --allow-requantize", "--allow-requantize", in[3], "--dtype", "q4_0");
    check(strstr(g_err, "already q8_0") != NULL, "... the message says the input is already q8_0 (%s)", g_err);
    refuse("mod.h q4_0 -> q8_0 without --allow-requantize", "--allow-requantize", in[4], "--dtype", "q8_0");
    rc = conv(in[3], "-o", P("mi_rq.mod"), "--quiet", "--dtype", "q4_0", "--allow-requantize", NULL);
    {
        mod_model *m = rc == 0 ? load(P("mi_rq.mod")) : NULL;
        check(m != NULL, "mod.h q8_0 -> q4_0 with --allow-requantize (%s)", g_err);
        mod_model_free(m);
    }
    rc = conv(in[4], "-o", P("mi_q4f16.mod"), "--quiet", "--dtype", "f16", NULL);
    check(rc == 0, "mod.h q4_0 -> f16 needs no permission (%s)", g_err);
    /* the model's definition cannot change */
    for (k = 0; k < 8; k++) {
        char what[100];
        snprintf(what, sizeof what, "mod.h input with %s", changing[k][0]);
        refuse(what, "carried over unchanged", in[0], changing[k][0], changing[k][1]);
        check(strstr(g_err, changing[k][0]) != NULL, "... the message names %s", changing[k][0]);
    }
    refuse("mod.h input with --tokenizer FILE", "cannot replace it", in[0], "--tokenizer", P("mi_want_f32.mod"));
    rc = conv(in[1], "-o", P("mi_notok.mod"), "--quiet", "--tokenizer", "none", NULL);
    check(rc == 0 && same_model_files(P("mi_notok.mod"), in[1], 0, why, sizeof why), "mod.h input with --tokenizer none: the same model without a tokenizer (%s%s)", g_err, rc ? "" : why);
    rc = conv(in[0], "-o", in[0], "--force", NULL);
    check(rc == 1 && strstr(g_err, "is the input file"), "a mod.h model file cannot be its own output (%s)", g_err);
    /* damaged files */
    {
        size_t n;
        unsigned char *b = read_file(in[0], &n);
        const char *bad = P("mi_bad.mod");
        if (!b) { check(0, "read %s", in[0]); return; }
        write_file(bad, b, n / 2);
        refuse("mod.h input truncated", "not a valid mod.h model file: file is truncated", bad, NULL, NULL);
        write_file(bad, b, 100);
        refuse("mod.h input shorter than its header", "not a valid mod.h model file", bad, NULL, NULL);
        b[n - 5] ^= 0x40;
        write_file(bad, b, n);
        refuse("mod.h input with a flipped bit", "checksum", bad, NULL, NULL);
        b[n - 5] ^= 0x40;
        mkm_put_u32(b + 84, 48); /* dim, with the checksum made valid again */
        mkm_checksum(b, n);
        write_file(bad, b, n);
        refuse("mod.h input whose header disagrees with its tensors", "not a valid mod.h model file", bad, NULL, NULL);
        mkm_put_u32(b + 84, 64);
        mkm_put_f32(b + mkm_tensor_data(b, n, MKM_ROLE_ATTN_Q, 1) + 4 * 7, NAN);
        mkm_checksum(b, n);
        write_file(bad, b, n);
        refuse("mod.h input with a NaN weight", "element 7 is NaN", bad, "--dtype", "f16");
        free(b);
    }
    /* a dense model with 48 columns: q4_0 refused, f16 fine */
    mkm_defaults(&o);
    o.dim = 48;
    o.hidden_dim = 64;
    o.n_heads = 4;
    o.routed[1] = o.routed[3] = 0;
    write_mkm(P("mi48.mod"), &o);
    refuse("mod.h input with 48 columns -> q4_0", "q4_0 needs a multiple of 32 columns, it has 48", P("mi48.mod"), "--dtype", "q4_0");
    rc = conv(P("mi48.mod"), "-o", P("mi48h.mod"), "--quiet", "--dtype", "bf16", NULL);
    {
        mod_model *m = rc == 0 ? load(P("mi48h.mod")) : NULL;
        check(m && mod_model_config(m)->n_routed == 0 && mod_model_config(m)->dim == 48, "mod.h dense input with 48 columns -> bf16 (%s)", g_err);
        mod_model_free(m);
    }
}

/* ---- the command line and the output file ---------------------------------------------- */

static void test_cli(void)
{
    spec s;
    int rc;
    size_t n;
    unsigned char *b;
    spec_default(&s);
    s.L = 2;
    make_dir(P("cli"), &s, &canon, "F32", NULL, NULL);
    check(conv("--help", NULL) == 0 && strstr(g_out, "usage: mod-convert"), "--help");
    check(conv(P("cli"), NULL) == 2 && strstr(g_err, "-o OUT"), "no -o: usage error (exit 2)");
    check(conv(P("cli"), "-o", P("x.mod"), "--frobnicate", NULL) == 2 && strstr(g_err, "unknown option"), "unknown option: exit 2");
    check(conv(P("cli"), "-o", P("x.mod"), "--dtype", "f64", NULL) == 2 && strstr(g_err, "invalid value"), "bad --dtype: exit 2");
    check(conv(P("cli"), "-o", P("x.mod"), "--capacity", "1.5", NULL) == 2, "bad --capacity: exit 2");
    check(conv(P("cli"), "-o", P("x.mod"), "--threshold", "nan", NULL) == 2, "NaN --threshold: exit 2");
    check(conv(P("cli"), "-o", P("x.mod"), "--combine", "sum", NULL) == 2, "bad --combine: exit 2");
    check(!exists(P("x.mod")), "usage errors write nothing");
    rc = conv(P("cli"), "-o", P("cli.mod"), NULL);
    check(rc == 0 && !stray_files(g_tmp), "converts, no temporary file left behind (%s)", g_err);
    {
        struct stat st;
        check(stat(P("cli.mod"), &st) == 0 && (st.st_mode & 0444) == 0444 - (0444 & (mode_t)umask(022)), "the output is readable like a normal new file");
        umask(022);
    }
    rc = conv(P("cli"), "-o", P("cli.mod"), NULL);
    check(rc == 1 && strstr(g_err, "exists") && strstr(g_err, "--force"), "an existing output needs --force (%s)", g_err);
    write_str(P("cli_old.mod"), "old");
    rc = conv(P("cli"), "-o", P("cli_old.mod"), "--force", NULL);
    check(rc == 0 && same_files(P("cli.mod"), P("cli_old.mod")), "--force replaces it");
    rc = conv("--verify", P("cli.mod"), NULL);
    check(rc == 0 && strstr(g_out, "OK"), "--verify on a good file: OK, exit 0");
    b = read_file(P("cli.mod"), &n);
    if (b) {
        b[n - 3] ^= 1;
        write_file(P("cli_bad.mod"), b, n);
        free(b);
    }
    rc = conv("--verify", P("cli_bad.mod"), NULL);
    check(rc == 1 && strstr(g_err, "checksum"), "--verify on a damaged file: the error, exit 1 (%s)", g_err);
    rc = conv("--verify", P("nope.mod"), NULL);
    check(rc == 1 && strstr(g_err, "cannot open"), "--verify on a missing file");
    rc = conv(P("cli"), "-o", P("cli/model.safetensors"), "--force", NULL);
    check(rc == 1 && strstr(g_err, "is the input file"), "output equal to an input file is refused (%s)", g_err);
    rc = conv(P("cli"), "-o", P("cli/config.json"), "--force", NULL);
    check(rc == 1 && strstr(g_err, "is the input file"), "... also config.json");
    symlink(P("cli/model.safetensors"), P("cli_link.mod"));
    rc = conv(P("cli"), "-o", P("cli_link.mod"), "--force", NULL);
    check(rc == 1 && strstr(g_err, "is the input file"), "... also through a symbolic link");
    rc = conv(P("cli"), "-o", P("cli/../cli/model.safetensors"), "--force", NULL);
    check(rc == 1 && strstr(g_err, "is the input file"), "... also through another path");
    {
        size_t n0, n1;
        unsigned char *b0 = read_file(P("l2c_0.bin"), &n0), *b1;
        rc = conv(P("l2c_0.bin"), "-o", P("l2c_0.bin"), "--force", NULL);
        b1 = read_file(P("l2c_0.bin"), &n1);
        check(rc == 1 && strstr(g_err, "is the input file") && b0 && b1 && n0 == n1 && !memcmp(b0, b1, n0), "a llama2.c checkpoint cannot be its own output");
        free(b0);
        free(b1);
    }
    rc = conv(P("cli"), "-o", P("no/such/dir/x.mod"), NULL);
    check(rc == 1 && strstr(g_err, "output directory") && strstr(g_err, "does not exist"), "missing output directory (%s)", g_err);
    rc = conv(P("cli"), "-o", P("cli"), "--force", NULL);
    check(rc == 1 && strstr(g_err, "is a directory"), "output that is a directory");
    rc = conv(P("nothing_here"), "-o", P("x.mod"), NULL);
    check(rc == 1 && strstr(g_err, "cannot open"), "missing input");
    {   /* a file size limit: the write fails, nothing is left */
        char *argv[10];
        char script[] = "ulimit -f 16; exec \"$0\" \"$@\"";
        argv[0] = (char *)"/bin/sh"; argv[1] = (char *)"-c"; argv[2] = script; argv[3] = g_conv;
        argv[4] = (char *)P("cli"); argv[5] = (char *)"-o"; argv[6] = (char *)P("full.mod"); argv[7] = NULL;
        rc = run(argv);
        check(rc == 1 && strstr(g_err, "cannot write") && !exists(P("full.mod")) && !stray_files(g_tmp), "disk full (file size limit): error, no file left (%s)", g_err);
    }
}

/* Removes the scratch directory however the program ends (a failed helper calls exit). */
static void remove_scratch(void)
{
    char cmd[4300];
    if (!g_tmp[0]) return;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0) printf("(could not remove %s)\n", g_tmp);
    g_tmp[0] = 0;
}

int main(int argc, char **argv)
{
    char tmpl[] = "/tmp/mod-convert-test.XXXXXX";
    if (argc > 1) snprintf(g_conv, sizeof g_conv, "%s", argv[1]);
    else {
        const char *slash = strrchr(argv[0], '/');
        if (slash) snprintf(g_conv, sizeof g_conv, "%.*s/mod-convert", (int)(slash - argv[0]), argv[0]);
        else snprintf(g_conv, sizeof g_conv, "build/mod-convert");
    }
    if (access(g_conv, X_OK) != 0) { printf("FAIL: %s is not there (build it first)\n0 passed, 1 failed\n", g_conv); return 1; }
    if (!mkdtemp(tmpl)) { printf("FAIL: cannot make a temporary directory\n0 passed, 1 failed\n"); return 1; }
    snprintf(g_tmp, sizeof g_tmp, "%s", tmpl);
    atexit(remove_scratch);
    umask(022);
    test_dense_with_tokenizer();
    test_mod_model();
    test_aliases();
    test_shards();
    test_dtypes();
    test_q4_0();
    test_rounding();
    test_overrides();
    test_tied();
    test_llama2c();
    test_mod_input();
    test_corrupt();
    test_cli();
    remove_scratch();
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
