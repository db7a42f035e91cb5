/* mod-convert: turns a Hugging Face style checkpoint directory (config.json, safetensors,
   tokenizer.json), a GGUF file (tools/gguf.h) or a llama2.c checkpoint into a mod.h model file
   (docs/FORMAT.md), or
   re-encodes a mod.h model file in another dtype (configuration, routing and tokenizer kept).
   The checkpoint's family (model_type: llama, mistral, qwen2, gemma) and its config.json keys
   set the architecture variants of MODEL.md (read_config); other families are refused.

   Inputs are untrusted and may be many gigabytes: every header field is checked before use,
   and tensor data is read and converted a block of rows at a time through a small buffer. The
   output is written as a file with no name yet (or, without O_TMPFILE, a temporary name) in
   the output's directory, is loaded back through the library with its checksum verified, and
   only then appears under its name (examples/cli.h: never over an input, a device or a
   standard stream). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_TMPFILE, for the output file (examples/cli.h) */
#endif
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* realpath */
#define _FILE_OFFSET_BITS 64
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "../examples/cli.h"
#include "json.h"
#include "modfile.h"
#include "gguf.h"
#include "ggml_dequant.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_CONFIG_JSON (16u << 20)
#define MAX_INDEX_JSON (64u << 20)
#define MAX_TOKENIZER_JSON (256u << 20)
#define MAX_ST_HEADER (100u << 20)
#define PROGRESS_MIN_BYTES (50u << 20)
/* Limits, roles (MOD__ROLE_*) and dtypes (MOD_DTYPE_*) are the format's, from mod.h and
   tools/modfile.h. Input tensors of a dtype that cannot convert are DT_OTHER; q8_0 and q4_0
   come as input only from mod.h model files. */
#define DT_OTHER 99
#define DT_GGML 100 /* a GGUF tensor of a ggml block type, decoded by ggml_dequant_row */
#define NROLES MOD__ROLE_COUNT
/* Canonical input names, for messages about missing tensors (%d is the layer). */
static const char *const canonical[NROLES] = {
    "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
    "model.layers.%d.input_layernorm.weight", "model.layers.%d.self_attn.q_proj.weight",
    "model.layers.%d.self_attn.k_proj.weight", "model.layers.%d.self_attn.v_proj.weight",
    "model.layers.%d.self_attn.o_proj.weight", "model.layers.%d.self_attn.q_proj.bias",
    "model.layers.%d.self_attn.k_proj.bias", "model.layers.%d.self_attn.v_proj.bias",
    "model.layers.%d.post_attention_layernorm.weight", "model.layers.%d.mlp.gate_proj.weight",
    "model.layers.%d.mlp.up_proj.weight", "model.layers.%d.mlp.down_proj.weight",
    "model.layers.%d.router.weight", "model.layers.%d.router.bias",
    "model.layers.%d.predictor.0.weight (or predictor.weight)", "model.layers.%d.predictor.0.bias",
    "model.layers.%d.predictor.2.weight", "model.layers.%d.predictor.2.bias",
    "model.layers.%d.self_attn.o_proj.bias", "model.layers.%d.mlp.gate_proj.bias",
    "model.layers.%d.mlp.up_proj.bias", "model.layers.%d.mlp.down_proj.bias"
};

/* ---- errors and messages ---------------------------------------------------------------- */

static char g_err[2048];
static int g_quiet;

static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
    return -1;
}

static void note(const char *fmt, ...)
{
    va_list ap;
    if (g_quiet) return;
    fputs("note: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Printable, truncated form of bytes for messages (one of a few rotating buffers). */
static const char *show(const void *p, size_t n)
{
    static char buf[4][200];
    static int which;
    const unsigned char *s = (const unsigned char *)p;
    char *o = buf[which++ & 3];
    size_t i, k = 0;
    for (i = 0; i < n && k < sizeof buf[0] - 12; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\' && s[i] != '"') o[k++] = (char)s[i];
        else k += (size_t)sprintf(o + k, "\\x%02X", s[i]);
    }
    if (i < n) { memcpy(o + k, "...", 3); k += 3; }
    o[k] = 0;
    return o;
}

/* ---- little-endian bytes and number formats --------------------------------------------- */

/* Little-endian fields, the encoders and the checksum are tools/modfile.h's; decoding is the
   library's (mod__f16_to_f32, mod__bf16_to_f32). */

static int isxdigit_c(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static int hexval(unsigned char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }
static int dt_quantized(int dt) { return dt == MOD_DTYPE_Q8_0 || dt == MOD_DTYPE_Q4_0; }

/* Bytes of one row of cols elements (cols a multiple of 32 for the block types). */
static uint64_t row_bytes(int dt, uint64_t cols) { return mf_tensor_bytes(dt, 0, cols); }

/* Element c of a row stored as dt. A q8_0 or q4_0 weight is its f16 scale times a small
   integer, which a float holds exactly. */
static float load_elem(const unsigned char *row, uint64_t c, int dt)
{
    const unsigned char *p;
    if (dt == MOD_DTYPE_F32) return mf_get_f32(row + 4 * c);
    if (dt == MOD_DTYPE_Q8_0) {
        p = row + c / 32 * 34;
        return mod__f16_to_f32((uint16_t)(p[0] | p[1] << 8)) * (float)(signed char)p[2 + c % 32];
    }
    if (dt == MOD_DTYPE_Q4_0) {
        const unsigned j = (unsigned)(c % 32);
        int nib;
        p = row + c / 32 * 18;
        nib = j < 16 ? p[2 + j] & 15 : p[2 + j - 16] >> 4;
        return mod__f16_to_f32((uint16_t)(p[0] | p[1] << 8)) * (float)(nib - 8);
    }
    p = row + 2 * c;
    if (dt == MOD_DTYPE_F16) return mod__f16_to_f32((uint16_t)(p[0] | p[1] << 8));
    return mod__bf16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

/* ---- checked arithmetic ------------------------------------------------------------------ */

static int mul_ok(uint64_t a, uint64_t b, uint64_t *r)
{
    if (a && b > UINT64_MAX / a) return 0;
    *r = a * b;
    return 1;
}

/* ---- the model being converted --------------------------------------------------------- */

typedef struct infile {
    char *path;
    dev_t dev;
    ino_t ino;
    int fd;
    uint64_t size;
} infile;

typedef struct tensor {
    char *name;
    int file;                   /* index into model.files */
    int dtype;                  /* DT_*; DT_OTHER for types that cannot be converted */
    char dtype_name[16];
    int ndim;
    uint64_t shape[8];
    uint64_t begin, end;        /* span within the file's data area */
    uint64_t off;               /* where the data starts in the file */
    int used;
} tensor;

/* Where the bytes of one output tensor come from. */
typedef struct src {
    int present;
    const char *name;           /* for messages */
    int fd;                     /* -1: zeros (a bias the checkpoint does not have) */
    const char *path;
    uint64_t off;               /* where the data starts in the file */
    int dtype;
    uint64_t rows, cols;        /* output shape; rows == 0 for a 1-D tensor */
    int perm_hd;                /* > 0: llama2.c q/k rows, paired layout -> rotate-half, head size */
    const unsigned char *mem;   /* non-NULL: the data is here (a validated mod.h file), not in fd */
    int keep_dtype;             /* a matrix written in its input dtype (mod.h input without --dtype) */
    uint32_t gtype;             /* DT_GGML: the ggml type */
    int default_dtype;          /* > 0: 1 + the dtype of this matrix without --dtype (GGUF) */
} src;

typedef struct model {
    /* architecture */
    int V, d, L, H, Hkv, F, seq, tied;
    float eps, theta;
    int router_input, router_scale, combine, positions, decision, Fp;
    float threshold;
    /* the variants of version 2 (MODEL.md "Variants"): head size (0: d / H), GeGLU, gains 1 + w,
       embedding scale (0: none), RoPE scaling, sliding window (0: none) */
    int hd, activation, norm_offset, rope_scaling, rope_orig, window;
    float embed_scale, rope_factor, rope_low, rope_high;
    const char *family;         /* the model_type it was converted as (config.json), or NULL */
    int gemma_scale;            /* 1: embed_scale is sqrt(hidden_size) in the run dtype (below) */
    int run_dtype;              /* config.json torch_dtype as MOD_DTYPE_F32/F16/BF16, or -1 */
    int *routed;
    float *capacity;
    /* inputs */
    infile *files;
    int n_files;
    tensor *tensors;
    size_t n_tensors;
    src *slots;                 /* [(L + 1) * NROLES]: row 0 model-wide, row l + 1 block l */
    char **labels;              /* names made up for messages (llama2.c) */
    int n_labels;
    uint64_t input_bytes;
    const char *format;
    /* tokenizer section, ready to write */
    unsigned char *tok;
    size_t tok_size;
    char tok_desc[160];
    char *chat_template;        /* tokenizer_config.json's chat_template, or NULL */
    size_t chat_template_len;
    /* mod.h model file input: the mapping and the library's view of it */
    void *map;
    size_t map_size;
    mod_model *in_model;
    char dtype_desc[64];        /* the matrices' dtype, for the summary */
    int kept_f16;               /* matrices of q8_0/q4_0 output kept in f16 (columns not a multiple of 32) */
} model;

/* Bytes of one row of cols elements of a source tensor (a ggml block type, or a mod.h dtype). */
static uint64_t src_row_bytes(const src *s, uint64_t cols)
{
    if (s->dtype == DT_GGML) return cols / gguf_types[s->gtype].block * gguf_types[s->gtype].bytes;
    return row_bytes(s->dtype, cols);
}

static src *slot(model *m, int role, int layer) { return &m->slots[(size_t)(layer + 1) * NROLES + (size_t)role]; }

static void model_free(model *m)
{
    int i;
    size_t k;
    for (i = 0; i < m->n_files; i++) {
        if (m->files[i].fd >= 0) close(m->files[i].fd);
        free(m->files[i].path);
    }
    for (k = 0; k < m->n_tensors; k++) free(m->tensors[k].name);
    for (i = 0; i < m->n_labels; i++) free(m->labels[i]);
    free(m->files); free(m->tensors); free(m->slots); free(m->labels);
    free(m->routed); free(m->capacity); free(m->tok); free(m->chat_template);
    if (m->in_model) mod_model_free(m->in_model);
    if (m->map) munmap(m->map, m->map_size);
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = (char *)malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = (char *)malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static const char *label(model *m, const char *fmt, int layer)
{
    char buf[160], **nl;
    snprintf(buf, sizeof buf, fmt, layer);
    nl = (char **)realloc(m->labels, (size_t)(m->n_labels + 1) * sizeof *nl);
    if (!nl) return "?";
    m->labels = nl;
    if (!(nl[m->n_labels] = xstrdup(buf))) return "?";
    return nl[m->n_labels++];
}

/* Registers an input file (for the never-overwrite-the-input check); returns its index. */
static int add_file(model *m, const char *path, const struct stat *st, int fd)
{
    infile *nf = (infile *)realloc(m->files, (size_t)(m->n_files + 1) * sizeof *nf);
    if (!nf) return fail("out of memory");
    m->files = nf;
    memset(&nf[m->n_files], 0, sizeof nf[0]);
    nf[m->n_files].fd = fd;
    nf[m->n_files].dev = st->st_dev;
    nf[m->n_files].ino = st->st_ino;
    if (!(nf[m->n_files].path = xstrdup(path))) return fail("out of memory");
    return m->n_files++;
}

/* Reads a whole (small) file into a malloc'd buffer. */
static int read_small(model *m, const char *path, size_t limit, char **out, size_t *len)
{
    struct stat st;
    int fd = cli_open_input(path, CLI_REGULAR, &st, g_err, sizeof g_err);
    char *buf;
    size_t got = 0;
    if (fd < 0) return -1;
    if ((uint64_t)st.st_size > limit) {
        close(fd);
        return fail("%s is %llu bytes, more than the %llu bytes allowed for this file", path,
                    (unsigned long long)st.st_size, (unsigned long long)limit);
    }
    buf = (char *)malloc((size_t)st.st_size + 1);
    if (!buf) { close(fd); return fail("out of memory reading %s", path); }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { free(buf); close(fd); return fail("cannot read %s: %s", path, r < 0 ? strerror(errno) : "unexpected end of file"); }
        got += (size_t)r;
    }
    buf[got] = 0;
    if (add_file(m, path, &st, -1) < 0) { free(buf); close(fd); return -1; }
    close(fd);
    *out = buf;
    *len = got;
    return 0;
}

/* Opens a large input file. Tensor data is read with pread a block at a time, never mapped
   whole, so memory use does not grow with the checkpoint. */
static int open_input(model *m, const char *path, int *index)
{
    struct stat st;
    int fd = cli_open_input(path, CLI_REGULAR, &st, g_err, sizeof g_err), i;
    if (fd < 0) return -1;
    i = add_file(m, path, &st, fd);
    if (i < 0) { close(fd); return -1; }
    m->files[i].size = (uint64_t)st.st_size;
    m->input_bytes += (uint64_t)st.st_size;
    *index = i;
    return 0;
}

/* Reads exactly n bytes at offset off; running short means the file changed under us. */
static int read_at(int fd, void *buf, size_t n, uint64_t off, const char *path)
{
    unsigned char *p = (unsigned char *)buf;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return fail("cannot read %s: %s", path, strerror(errno));
        if (r == 0) return fail("%s ended early (did it change during the conversion?)", path);
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static int parse_json(json_doc *d, const char *path, const char *buf, size_t len, int depth)
{
    if (json_parse(d, buf, len, depth) != 0) {
        fail("%s: invalid JSON: %s", path, d->err);
        json_free(d);
        return -1;
    }
    return 0;
}

/* ---- options ----------------------------------------------------------------------------- */

typedef struct opts {
    const char *input, *output, *tokenizer, *mod_layers, *capacity;
    int tok_none, dtype, force, quiet, verify;
    int dtype_given, allow_requantize;
    int router_input, router_scale, combine, positions, decision; /* -1: not given */
    int have_threshold;
    float threshold;
} opts;

static int parse_enum(const char *v, const char *a, const char *b)
{
    if (!strcmp(v, a)) return 0;
    if (!strcmp(v, b)) return 1;
    return -1;
}

/* Parses "none", "odd", "even", "all" or a comma list of block indices into routed[L] and
   order[] (the listed order, which capacities follow). Returns the count or -1. */
static int parse_layer_list(const char *s, int L, int *routed, int *order)
{
    int n = 0, i;
    for (i = 0; i < L; i++) routed[i] = 0;
    if (!strcmp(s, "none")) return 0;
    if (!strcmp(s, "odd") || !strcmp(s, "even") || !strcmp(s, "all")) {
        for (i = 0; i < L; i++)
            if (s[0] == 'a' || (i % 2 == 1) == (s[0] == 'o')) { routed[i] = 1; order[n++] = i; }
        return n;
    }
    while (*s) {
        char *end;
        long v;
        if (*s < '0' || *s > '9') return -1;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || v < 0 || v >= L || routed[v]) return -1;
        routed[v] = 1;
        order[n++] = (int)v;
        if (*end == ',') { s = end + 1; if (!*s) return -1; }
        else if (*end) return -1;
        else s = end;
    }
    return n;
}

/* "none", "odd", "even", "all", or a comma list of decimal indices (ranges are checked once the
   number of blocks is known). */
static int layer_list_syntax(const char *s)
{
    if (!strcmp(s, "none") || !strcmp(s, "odd") || !strcmp(s, "even") || !strcmp(s, "all")) return 1;
    for (;;) {
        if (*s < '0' || *s > '9') return 0;
        while (*s >= '0' && *s <= '9') s++;
        if (!*s) return 1;
        if (*s++ != ',') return 0;
    }
}

/* Parses "C" or "C1,C2,..." into caps[]; returns the count or -1. */
static int parse_capacity_list(const char *s, float *caps, int max)
{
    int n = 0;
    while (*s) {
        char *end;
        double v;
        errno = 0;
        v = strtod(s, &end);
        if (end == s || errno || !((float)v > 0.0f && v <= 1.0) || n >= max) return -1;
        caps[n++] = (float)v;
        if (*end == ',') { s = end + 1; if (!*s) return -1; }
        else if (*end) return -1;
        else s = end;
    }
    return n ? n : -1;
}

/* ---- routing settings: config.json keys, then command-line overrides ------------------- */

static const char *const enum_keys[5] = { "mod_router_input", "mod_router_scale", "mod_combine", "mod_positions", "mod_decision" };
static const char *const enum_vals[5][2] = {
    { "residual", "normed" }, { "identity", "sigmoid" }, { "delta", "mlp" }, { "absolute", "compacted" }, { "router", "predictor" }
};

static int *enum_field(model *m, int k)
{
    switch (k) {
    case 0: return &m->router_input;
    case 1: return &m->router_scale;
    case 2: return &m->combine;
    case 3: return &m->positions;
    default: return &m->decision;
    }
}

/* Routed blocks and capacities, MoD knobs. doc is config.json (NULL for llama2.c). */
static int resolve_routing(model *m, const opts *o, const json_doc *doc, const char *cfg_path)
{
    int *order = (int *)malloc((size_t)m->L * sizeof *order), n_routed = 0, n_caps = 0, i, k;
    float *caps = (float *)malloc((size_t)(m->L + 1) * sizeof *caps);
    const char *layers_from = NULL, *caps_from = NULL;
    int rc = -1;
    m->routed = (int *)calloc((size_t)m->L, sizeof *m->routed);
    m->capacity = (float *)calloc((size_t)m->L, sizeof *m->capacity);
    if (!order || !caps || !m->routed || !m->capacity) { fail("out of memory"); goto done; }
    m->threshold = 0.0f;
    for (k = 0; k < 5; k++) *enum_field(m, k) = 0;
    if (doc) {
        int n = json_get(doc, 0, "mod_layers");
        if (n >= 0 && doc->nodes[n].type != JSON_NULL) {
            int e;
            if (doc->nodes[n].type != JSON_ARRAY) { fail("%s: \"mod_layers\" must be a list of block indices", cfg_path); goto done; }
            for (e = doc->nodes[n].child; e >= 0; e = doc->nodes[e].next) {
                long v;
                if (json_int(doc, e, 0, (double)m->L - 1, &v) != 0 || m->routed[v]) {
                    fail("%s: \"mod_layers\" must list distinct block indices in [0, %d] (num_hidden_layers is %d)", cfg_path, m->L - 1, m->L);
                    goto done;
                }
                m->routed[v] = 1;
                order[n_routed++] = (int)v;
            }
            layers_from = "mod_layers in config.json";
        }
        n = json_get(doc, 0, "mod_capacity");
        if (n >= 0 && doc->nodes[n].type != JSON_NULL) {
            int e;
            if (doc->nodes[n].type == JSON_NUMBER) {
                caps[n_caps++] = (float)doc->nodes[n].num;
                if (!(caps[0] > 0.0f && doc->nodes[n].num <= 1.0)) { fail("%s: \"mod_capacity\" must be in (0, 1]", cfg_path); goto done; }
            } else if (doc->nodes[n].type == JSON_ARRAY) {
                for (e = doc->nodes[n].child; e >= 0; e = doc->nodes[e].next) {
                    if (doc->nodes[e].type != JSON_NUMBER || !((float)doc->nodes[e].num > 0.0f && doc->nodes[e].num <= 1.0) || n_caps >= m->L) {
                        fail("%s: \"mod_capacity\" entries must be numbers in (0, 1], at most one per block", cfg_path);
                        goto done;
                    }
                    caps[n_caps++] = (float)doc->nodes[e].num;
                }
                if (!n_caps) { fail("%s: \"mod_capacity\" is an empty list", cfg_path); goto done; }
            } else {
                fail("%s: \"mod_capacity\" must be a number or a list of numbers", cfg_path);
                goto done;
            }
            caps_from = "mod_capacity in config.json";
        }
        for (k = 0; k < 5; k++) {
            n = json_get(doc, 0, enum_keys[k]);
            if (n < 0 || doc->nodes[n].type == JSON_NULL) continue;
            if (json_str_is(doc, n, enum_vals[k][0])) *enum_field(m, k) = 0;
            else if (json_str_is(doc, n, enum_vals[k][1])) *enum_field(m, k) = 1;
            else { fail("%s: \"%s\" must be \"%s\" or \"%s\"", cfg_path, enum_keys[k], enum_vals[k][0], enum_vals[k][1]); goto done; }
        }
        n = json_get(doc, 0, "mod_threshold");
        if (n >= 0 && doc->nodes[n].type != JSON_NULL) {
            if (doc->nodes[n].type != JSON_NUMBER || !(fabs(doc->nodes[n].num) <= 1e30)) { fail("%s: \"mod_threshold\" must be a finite number", cfg_path); goto done; }
            m->threshold = (float)doc->nodes[n].num;
        }
    }
    if (o->mod_layers) {
        n_routed = parse_layer_list(o->mod_layers, m->L, m->routed, order);
        if (n_routed < 0) { fail("bad --mod-layers '%s': the model has blocks 0 to %d, each listed at most once", o->mod_layers, m->L - 1); goto done; }
        layers_from = "--mod-layers";
    }
    if (o->capacity) {
        n_caps = parse_capacity_list(o->capacity, caps, m->L);
        if (n_caps < 0) { fail("bad --capacity '%s': a number in (0, 1] or one per routed block, comma-separated", o->capacity); goto done; }
        caps_from = "--capacity";
    }
    if (o->router_input >= 0) m->router_input = o->router_input;
    if (o->router_scale >= 0) m->router_scale = o->router_scale;
    if (o->combine >= 0) m->combine = o->combine;
    if (o->positions >= 0) m->positions = o->positions;
    if (o->decision >= 0) m->decision = o->decision;
    if (o->have_threshold) m->threshold = o->threshold;
    if (n_caps > 1 && n_routed > 0 && n_caps != n_routed) {
        fail("%s gives %d capacities but %s names %d routed blocks; give one number, or one per routed block",
             caps_from, n_caps, layers_from ? layers_from : "the model", n_routed);
        goto done;
    }
    for (i = 0; i < n_routed; i++)
        m->capacity[order[i]] = n_caps == 0 ? 0.125f : n_caps == 1 ? caps[0] : caps[i];
    rc = 0;
done:
    free(order);
    free(caps);
    return rc;
}

/* ---- config.json ----------------------------------------------------------------------- */

static int cfg_int(const json_doc *d, const char *path, const char *key, int required, long lo, long hi, long def, int *out)
{
    int n = json_get(d, 0, key);
    long v;
    if (n < 0 || d->nodes[n].type == JSON_NULL) {
        if (required) return fail("%s: missing required key \"%s\"", path, key);
        *out = (int)def;
        return 0;
    }
    if (json_int(d, n, (double)lo, (double)hi, &v) != 0)
        return fail("%s: \"%s\" must be an integer in [%ld, %ld]", path, key, lo, hi);
    *out = (int)v;
    return 0;
}

static int cfg_float(const json_doc *d, const char *path, const char *key, double lo, double hi, double def, float *out)
{
    int n = json_get(d, 0, key);
    if (n < 0 || d->nodes[n].type == JSON_NULL) { *out = (float)def; return 0; }
    if (d->nodes[n].type != JSON_NUMBER || !((float)d->nodes[n].num > (float)lo && d->nodes[n].num <= hi))
        return fail("%s: \"%s\" must be a number in (%g, %g]", path, key, lo, hi);
    *out = (float)d->nodes[n].num;
    return 0;
}

/* Fills the architecture from config.json; tie_key: -1 absent, else its value. */
/* A token id from config.json: absent or null (*id = -2), an integer in [0, limit), or a list
   of them (Llama 3 lists several end-of-text ids; the first is used). */
static int config_token_id(const json_doc *cfg, const char *cfg_path, const char *key, long limit, long *id)
{
    int n = cfg ? json_get(cfg, 0, key) : -1, e;
    long v;
    *id = -2;
    if (n < 0 || cfg->nodes[n].type == JSON_NULL) return 0;
    e = cfg->nodes[n].type == JSON_ARRAY ? cfg->nodes[n].child : n;
    if (e < 0) return 0;
    for (; e >= 0; e = cfg->nodes[n].type == JSON_ARRAY ? cfg->nodes[e].next : -1) {
        if (json_int(cfg, e, 0, MOD__MAX_VOCAB, &v) != 0)
            return fail("%s: \"%s\" must be a token id (an integer >= 0) or a list of them", cfg_path, key);
        if (v >= limit) return fail("%s: \"%s\" is %ld, outside the vocabulary of %ld tokens", cfg_path, key, v, limit);
        if (*id == -2) *id = v;
    }
    return 0;
}

/* The families config.json may name (model_type, or the class in architectures), and what each
   computes (MODEL.md "Variants"); Mixtral and anything else are refused. */
static const struct { const char *type, *arch; } families[] = {
    { "llama", "LlamaForCausalLM" }, { "mistral", "MistralForCausalLM" }, { "qwen2", "Qwen2ForCausalLM" },
    { "gemma", "GemmaForCausalLM" }
};

/* The family: model_type, else the first of architectures, else llama (a plain Llama config). */
static int read_family(model *m, const json_doc *d, const char *path)
{
    int n = json_get(d, 0, "model_type"), a = json_get(d, 0, "architectures"), e = -1;
    size_t k;
    const char *name = NULL, *key = NULL;
    if (a >= 0 && d->nodes[a].type == JSON_ARRAY) e = json_at(d, a, 0);
    if (n >= 0 && d->nodes[n].type != JSON_NULL) {
        if (d->nodes[n].type != JSON_STRING) return fail("%s: \"model_type\" must be a string", path);
        name = json_str(d, n, NULL);
        key = "model_type";
        for (k = 0; k < sizeof families / sizeof families[0]; k++)
            if (!strcmp(name, families[k].type)) { m->family = families[k].type; return 0; }
    } else if (e >= 0 && d->nodes[e].type == JSON_STRING) {
        name = json_str(d, e, NULL);
        key = "architectures";
        for (k = 0; k < sizeof families / sizeof families[0]; k++)
            if (!strcmp(name, families[k].arch)) { m->family = families[k].type; return 0; }
    } else {
        m->family = "llama";
        return 0;
    }
    if (!strcmp(name, "mixtral") || !strcmp(name, "MixtralForCausalLM"))
        return fail("%s: \"%s\" is \"%s\": Mixtral's MLP is a mixture of experts, which mod.h does not compute", path, key, name);
    return fail("%s: \"%s\" is \"%s\", not a family mod-convert converts (llama, mistral, qwen2, gemma; docs/CONVERT.md)", path, key, name);
}

/* A number in config.json's rope_scaling object (required, > 0 and finite). */
static int rope_num(const json_doc *d, int rs, const char *path, const char *type, const char *key, double *out)
{
    int n = json_get(d, rs, key);
    if (n < 0 || d->nodes[n].type != JSON_NUMBER || !(d->nodes[n].num > 0.0 && d->nodes[n].num < 1e30))
        return fail("%s: \"rope_scaling\" of type \"%s\" needs \"%s\", a positive number", path, type, key);
    *out = d->nodes[n].num;
    return 0;
}

/* rope_scaling: null, or an object whose "rope_type" (or the older "type") is default, linear or
   llama3 (MODEL.md "RoPE scaling"); any other type is refused. */
static int read_rope_scaling(model *m, const json_doc *d, const char *path)
{
    int rs = json_get(d, 0, "rope_scaling"), t;
    double v;
    const char *type;
    if (rs < 0 || d->nodes[rs].type == JSON_NULL) return 0;
    if (d->nodes[rs].type != JSON_OBJECT) return fail("%s: \"rope_scaling\" must be an object or null", path);
    t = json_get(d, rs, "rope_type");
    if (t < 0 || d->nodes[t].type == JSON_NULL) t = json_get(d, rs, "type");
    if (t < 0 || d->nodes[t].type != JSON_STRING) return fail("%s: \"rope_scaling\" has no \"rope_type\" (or \"type\")", path);
    type = json_str(d, t, NULL);
    if (!strcmp(type, "default")) return 0;
    if (!strcmp(type, "linear")) {
        if (rope_num(d, rs, path, type, "factor", &v)) return -1;
        m->rope_scaling = MOD_ROPE_SCALING_LINEAR;
        m->rope_factor = (float)v;
        return 0;
    }
    if (!strcmp(type, "llama3")) {
        double lo, hi, orig;
        if (rope_num(d, rs, path, type, "factor", &v) || rope_num(d, rs, path, type, "low_freq_factor", &lo) ||
            rope_num(d, rs, path, type, "high_freq_factor", &hi) ||
            rope_num(d, rs, path, type, "original_max_position_embeddings", &orig))
            return -1;
        if (!((float)hi > (float)lo)) return fail("%s: \"rope_scaling\": \"high_freq_factor\" %g must be above \"low_freq_factor\" %g", path, hi, lo);
        if (orig != (double)(long)orig || orig > MOD__MAX_SEQ)
            return fail("%s: \"rope_scaling\": \"original_max_position_embeddings\" must be an integer in [1, %d]", path, MOD__MAX_SEQ);
        m->rope_scaling = MOD_ROPE_SCALING_LLAMA3;
        m->rope_factor = (float)v; m->rope_low = (float)lo; m->rope_high = (float)hi; m->rope_orig = (int)orig;
        return 0;
    }
    return fail("%s: \"rope_scaling\" type \"%s\" is not supported (mod.h computes linear and llama3 scaling, MODEL.md \"Variants\")", path, type);
}

/* A boolean key: absent or null gives def. */
static int cfg_bool(const json_doc *d, const char *path, const char *key, int def, int *out)
{
    int n = json_get(d, 0, key);
    if (n < 0 || d->nodes[n].type == JSON_NULL) { *out = def; return 0; }
    if (d->nodes[n].type != JSON_TRUE && d->nodes[n].type != JSON_FALSE) return fail("%s: \"%s\" must be true or false", path, key);
    *out = d->nodes[n].type == JSON_TRUE;
    return 0;
}

/* The activation: Gemma's hidden_activation (null: gelu_pytorch_tanh, as GemmaMLP does, which
   ignores hidden_act), every other family's hidden_act (silu). */
static int read_activation(model *m, const json_doc *d, const char *path)
{
    int n;
    if (!strcmp(m->family, "gemma")) {
        n = json_get(d, 0, "hidden_activation");
        if (n >= 0 && d->nodes[n].type != JSON_NULL) {
            if (!json_str_is(d, n, "gelu_pytorch_tanh") && !json_str_is(d, n, "gelu_tanh"))
                return fail("%s: \"hidden_activation\" must be \"gelu_pytorch_tanh\" or \"gelu_tanh\" (GeGLU with the tanh GELU) for gemma", path);
        } else {
            n = json_get(d, 0, "hidden_act");
            if (n >= 0 && d->nodes[n].type != JSON_NULL && !json_str_is(d, n, "gelu_pytorch_tanh") && !json_str_is(d, n, "gelu_tanh"))
                note("%s: gemma has no \"hidden_activation\"; its \"hidden_act\" is ignored and the MLP is GeGLU with the tanh GELU, as Hugging Face's GemmaMLP does", path);
        }
        m->activation = MOD_ACTIVATION_GELU_TANH;
        return 0;
    }
    n = json_get(d, 0, "hidden_act");
    if (n >= 0 && d->nodes[n].type != JSON_NULL && !json_str_is(d, n, "silu"))
        return fail("%s: \"hidden_act\" must be \"silu\" for %s (the MLP is SwiGLU)", path, m->family);
    m->activation = MOD_ACTIVATION_SILU;
    return 0;
}

/* The sliding window: Mistral's sliding_window (null: none); Qwen2's only with
   use_sliding_window, in the blocks from max_window_layers on, which must be all or none of
   them (the window is the model's). Llama and Gemma have none. */
static int read_window(model *m, const json_doc *d, const char *path)
{
    int n = json_get(d, 0, "sliding_window"), use = 1, mwl = 0;
    long w = 0;
    if (!strcmp(m->family, "llama") || !strcmp(m->family, "gemma")) return 0;
    if (n >= 0 && d->nodes[n].type != JSON_NULL && json_int(d, n, 1, MOD__MAX_SEQ, &w) != 0)
        return fail("%s: \"sliding_window\" must be null or an integer in [1, %d]", path, MOD__MAX_SEQ);
    if (!strcmp(m->family, "qwen2")) {
        if (cfg_bool(d, path, "use_sliding_window", 0, &use) || cfg_int(d, path, "max_window_layers", 0, 0, MOD__MAX_LAYERS, 0, &mwl)) return -1;
        if (!use || !w || mwl >= m->L) return 0; /* no block has the window */
        if (mwl > 0)
            return fail("%s: \"use_sliding_window\" with \"max_window_layers\" %d: blocks from %d on have a window and the others not; "
                        "mod.h's window is the whole model's", path, mwl, mwl);
    }
    m->window = (int)w;
    return 0;
}

static int read_config(model *m, const json_doc *d, const char *path, int *tie_key)
{
    int n, hd;
    long id;
    if (d->nodes[0].type != JSON_OBJECT) return fail("%s: the top level must be an object", path);
    if (read_family(m, d, path) != 0) return -1;
    if (cfg_int(d, path, "hidden_size", 1, 2, MOD__MAX_DIM, 0, &m->d) ||
        cfg_int(d, path, "intermediate_size", 1, 1, 4 * MOD__MAX_DIM, 0, &m->F) ||
        cfg_int(d, path, "num_hidden_layers", 1, 1, MOD__MAX_LAYERS, 0, &m->L) ||
        cfg_int(d, path, "num_attention_heads", 1, 1, MOD__MAX_DIM, 0, &m->H) ||
        cfg_int(d, path, "num_key_value_heads", 0, 1, m->H, m->H, &m->Hkv) ||
        cfg_int(d, path, "vocab_size", 1, 1, MOD__MAX_VOCAB, 0, &m->V) ||
        cfg_int(d, path, "max_position_embeddings", 0, 1, MOD__MAX_SEQ, 2048, &m->seq) ||
        cfg_float(d, path, "rms_norm_eps", 0.0, 0.5, 1e-6, &m->eps) ||
        cfg_float(d, path, "rope_theta", 0.0, 1e30, 10000.0, &m->theta))
        return -1;
    if (m->H % m->Hkv) return fail("%s: num_key_value_heads %d does not divide num_attention_heads %d", path, m->Hkv, m->H);
    n = json_get(d, 0, "head_dim");
    if (n >= 0 && d->nodes[n].type != JSON_NULL) {
        long v;
        if (json_int(d, n, 2, MOD__MAX_DIM, &v) != 0 || v % 2)
            return fail("%s: \"head_dim\" must be an even integer in [2, %d] (RoPE needs it even)", path, MOD__MAX_DIM);
        if ((uint64_t)v * (uint64_t)m->H > MOD__MAX_DIM) return fail("%s: \"head_dim\" x num_attention_heads is more than %d", path, MOD__MAX_DIM);
        hd = (int)v;
    } else {
        if (m->d % m->H) return fail("%s: num_attention_heads %d does not divide hidden_size %d (and there is no \"head_dim\")", path, m->H, m->d);
        hd = m->d / m->H;
        if (hd % 2) return fail("%s: the head size hidden_size / num_attention_heads = %d is odd; RoPE needs it even", path, hd);
    }
    m->hd = hd;
    if (read_rope_scaling(m, d, path) != 0 || read_activation(m, d, path) != 0 || read_window(m, d, path) != 0) return -1;
    if (!strcmp(m->family, "gemma")) { /* GemmaRMSNorm's 1 + w, and the embedding normalizer */
        m->norm_offset = 1;
        m->gemma_scale = 1;
    }
    m->run_dtype = -1;
    n = json_get(d, 0, "torch_dtype");
    if (n < 0 || d->nodes[n].type == JSON_NULL) n = json_get(d, 0, "dtype");
    if (n >= 0 && d->nodes[n].type == JSON_STRING)
        m->run_dtype = json_str_is(d, n, "bfloat16") ? MOD_DTYPE_BF16 : json_str_is(d, n, "float16") ? MOD_DTYPE_F16
                     : json_str_is(d, n, "float32") ? MOD_DTYPE_F32 : -1;
    /* checked whether or not a tokenizer comes: an id must exist in the model */
    if (config_token_id(d, path, "bos_token_id", m->V, &id) != 0 || config_token_id(d, path, "eos_token_id", m->V, &id) != 0)
        return -1;
    n = json_get(d, 0, "tie_word_embeddings");
    *tie_key = -1;
    if (n >= 0 && d->nodes[n].type != JSON_NULL) {
        if (d->nodes[n].type != JSON_TRUE && d->nodes[n].type != JSON_FALSE) return fail("%s: \"tie_word_embeddings\" must be true or false", path);
        *tie_key = d->nodes[n].type == JSON_TRUE;
    }
    return 0;
}

/* sqrt(hidden_size) rounded to nearest, ties to even, to the precision of dtype (f32, f16 or
   bf16; a normal number in each), as torch.tensor(hidden_size ** 0.5, dtype=...) gives it. */
static float embed_normalizer(int d, int dtype)
{
    const int bits = dtype == MOD_DTYPE_BF16 ? 8 : dtype == MOD_DTYPE_F16 ? 11 : 24; /* significant bits */
    int e;
    const double f = frexp(sqrt((double)d), &e); /* f in [0.5, 1) */
    return (float)ldexp(nearbyint(ldexp(f, bits)), e - bits);
}

/* ---- safetensors ----------------------------------------------------------------------- */

static const struct { const char *name; int size; int dt; } st_dtypes[] = {
    { "F32", 4, MOD_DTYPE_F32 }, { "F16", 2, MOD_DTYPE_F16 }, { "BF16", 2, MOD_DTYPE_BF16 }, { "F64", 8, DT_OTHER },
    { "I64", 8, DT_OTHER }, { "I32", 4, DT_OTHER }, { "I16", 2, DT_OTHER }, { "I8", 1, DT_OTHER },
    { "U64", 8, DT_OTHER }, { "U32", 4, DT_OTHER }, { "U16", 2, DT_OTHER }, { "U8", 1, DT_OTHER },
    { "BOOL", 1, DT_OTHER }, { "F8_E4M3", 1, DT_OTHER }, { "F8_E5M2", 1, DT_OTHER },
    { "F8_E8M0", 1, DT_OTHER }, { "C64", 8, DT_OTHER }
};

static void fmt_shape(char *o, size_t cap, const uint64_t *s, int n)
{
    size_t k = 0;
    int i;
    k += (size_t)snprintf(o + k, cap - k, "[");
    for (i = 0; i < n && k < cap; i++) k += (size_t)snprintf(o + k, cap - k, i ? ", %llu" : "%llu", (unsigned long long)s[i]);
    if (k < cap) snprintf(o + k, cap - k, "]");
}

static tensor *g_sort_t;
static int cmp_span(const void *a, const void *b)
{
    const tensor *x = &g_sort_t[*(const size_t *)a], *y = &g_sort_t[*(const size_t *)b];
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return *(const size_t *)a < *(const size_t *)b ? -1 : *(const size_t *)a > *(const size_t *)b;
}

/* One entry of a safetensors header: a tensor appended to m, or __metadata__. The header stays
   the caller's to free, so messages may quote its keys. */
static int st_entry(model *m, const json_doc *doc, int e, const char *path, int fi, uint64_t *max_end)
{
    const char *key = doc->out + doc->nodes[e].key;
    size_t klen = doc->nodes[e].key_len, k;
    int dt_node, sh_node, off_node, s;
    tensor *t, *nt;
    uint64_t elsize = 0, count_el = 1, span;
    if (klen == 12 && !memcmp(key, "__metadata__", 12))
        return doc->nodes[e].type == JSON_OBJECT ? 0 : fail("%s: \"__metadata__\" must be an object", path);
    if (klen == 0 || memchr(key, 0, klen)) return fail("%s: a tensor name is empty or contains a NUL byte", path);
    if (doc->nodes[e].type != JSON_OBJECT) return fail("%s: tensor %s: the entry must be an object", path, show(key, klen));
    nt = (tensor *)realloc(m->tensors, (m->n_tensors + 1) * sizeof *nt);
    if (!nt) return fail("out of memory");
    m->tensors = nt;
    t = &nt[m->n_tensors];
    memset(t, 0, sizeof *t);
    t->file = fi;
    if (!(t->name = (char *)malloc(klen + 1))) return fail("out of memory");
    memcpy(t->name, key, klen);
    t->name[klen] = 0;
    m->n_tensors++;
    dt_node = json_get(doc, e, "dtype");
    sh_node = json_get(doc, e, "shape");
    off_node = json_get(doc, e, "data_offsets");
    if (dt_node < 0 || sh_node < 0 || off_node < 0)
        return fail("%s: tensor %s: the entry needs \"dtype\", \"shape\" and \"data_offsets\"", path, t->name);
    if (doc->nodes[dt_node].type != JSON_STRING) return fail("%s: tensor %s: \"dtype\" must be a string", path, t->name);
    for (k = 0; k < sizeof st_dtypes / sizeof st_dtypes[0]; k++)
        if (json_str_is(doc, dt_node, st_dtypes[k].name)) { elsize = (uint64_t)st_dtypes[k].size; t->dtype = st_dtypes[k].dt; break; }
    if (!elsize) {
        size_t l;
        const char *s2 = json_str(doc, dt_node, &l);
        return fail("%s: tensor %s: unknown dtype \"%s\"", path, t->name, show(s2, l));
    }
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", st_dtypes[k].name);
    if (doc->nodes[sh_node].type != JSON_ARRAY || doc->nodes[sh_node].count > 8)
        return fail("%s: tensor %s: \"shape\" must be a list of at most 8 sizes", path, t->name);
    for (s = doc->nodes[sh_node].child; s >= 0; s = doc->nodes[s].next) {
        if (json_uint(doc, s, (uint64_t)1 << 48, &t->shape[t->ndim]) != 0 || !mul_ok(count_el, t->shape[t->ndim], &count_el))
            return fail("%s: tensor %s: \"shape\" entries must be non-negative integers of sane size", path, t->name);
        t->ndim++;
    }
    if (doc->nodes[off_node].type != JSON_ARRAY || doc->nodes[off_node].count != 2 ||
        json_uint(doc, json_at(doc, off_node, 0), UINT64_MAX, &t->begin) != 0 ||
        json_uint(doc, json_at(doc, off_node, 1), UINT64_MAX, &t->end) != 0)
        return fail("%s: tensor %s: \"data_offsets\" must be two non-negative integers [begin, end]", path, t->name);
    if (t->end < t->begin) return fail("%s: tensor %s: data_offsets [%llu, %llu] end before they begin", path, t->name, (unsigned long long)t->begin, (unsigned long long)t->end);
    span = t->end - t->begin;
    if (!mul_ok(count_el, elsize, &count_el) || count_el != span) {
        char sh[200];
        fmt_shape(sh, sizeof sh, t->shape, t->ndim);
        return fail("%s: tensor %s: shape %s of %s is %llu bytes but its data_offsets span %llu bytes",
                    path, t->name, sh, t->dtype_name, (unsigned long long)count_el, (unsigned long long)span);
    }
    if (t->end > *max_end) *max_end = t->end;
    return 0;
}

/* Reads one safetensors file's header and registers its tensors. */
static int load_safetensors(model *m, const char *path)
{
    int fi, e;
    infile *f;
    uint64_t hlen, dsize, max_end = 0;
    json_doc doc;
    size_t first = m->n_tensors, count, i, *idx = NULL;
    if (open_input(m, path, &fi) != 0) return -1;
    f = &m->files[fi];
    if (f->size < 8) return fail("%s: the file is %llu bytes, too short for a safetensors header (8-byte length, then JSON)", path, (unsigned long long)f->size);
    {
        unsigned char len8[8];
        if (read_at(f->fd, len8, 8, 0, path) != 0) return -1;
        hlen = mf_get_u64(len8);
    }
    if (hlen > MAX_ST_HEADER) return fail("%s: header length %llu is over the 100 MB limit (not a safetensors file?)", path, (unsigned long long)hlen);
    if (hlen > f->size - 8) return fail("%s: truncated header: the header length is %llu bytes but only %llu bytes follow", path, (unsigned long long)hlen, (unsigned long long)(f->size - 8));
    dsize = f->size - 8 - hlen;
    {
        char *hbuf = (char *)malloc((size_t)hlen + 1);
        if (!hbuf) return fail("out of memory reading the header of %s", path);
        if (read_at(f->fd, hbuf, (size_t)hlen, 8, path) != 0 || parse_json(&doc, path, hbuf, (size_t)hlen, 8) != 0) {
            free(hbuf);
            return -1;
        }
        doc.owned = hbuf; /* number text stays readable until json_free */
    }
    if (doc.nodes[0].type != JSON_OBJECT) { json_free(&doc); return fail("%s: the header must be a JSON object", path); }
    for (e = doc.nodes[0].child; e >= 0; e = doc.nodes[e].next)
        if (st_entry(m, &doc, e, path, fi, &max_end) != 0) {
            json_free(&doc); /* after the message: it may name a key that lives in doc */
            return -1;
        }
    json_free(&doc);
    count = m->n_tensors - first;
    if (count == 0) return dsize ? fail("%s: %llu data bytes but no tensors", path, (unsigned long long)dsize) : 0;
    idx = (size_t *)malloc(count * sizeof *idx);
    if (!idx) return fail("out of memory");
    for (i = 0; i < count; i++) idx[i] = first + i;
    g_sort_t = m->tensors;
    qsort(idx, count, sizeof *idx, cmp_span);
    {
        uint64_t pos = 0;
        int contiguous = 1;
        for (i = 0; i < count; i++) {
            if (m->tensors[idx[i]].begin != pos) contiguous = 0;
            pos = m->tensors[idx[i]].end;
        }
        if (max_end > dsize) {
            const tensor *worst = &m->tensors[idx[count - 1]];
            for (i = 0; i < count; i++)
                if (m->tensors[idx[i]].end > worst->end) worst = &m->tensors[idx[i]];
            free(idx);
            if (contiguous)
                return fail("%s is truncated: its tensors need %llu bytes of data after the header, only %llu are present",
                            path, (unsigned long long)max_end, (unsigned long long)dsize);
            return fail("%s: tensor %s: data_offsets [%llu, %llu] lie past the end of the data (%llu bytes)", path,
                        worst->name, (unsigned long long)worst->begin, (unsigned long long)worst->end, (unsigned long long)dsize);
        }
        pos = 0;
        for (i = 0; i < count; i++) {
            const tensor *t = &m->tensors[idx[i]];
            if (t->begin < pos) {
                const char *prev = m->tensors[idx[i - 1]].name;
                free(idx);
                return fail("%s: tensors %s and %s overlap (data_offsets [%llu, %llu] begin inside the previous tensor)",
                            path, prev, t->name, (unsigned long long)t->begin, (unsigned long long)t->end);
            }
            if (t->begin > pos) {
                char before[300];
                if (i) snprintf(before, sizeof before, "between %s and %s", m->tensors[idx[i - 1]].name, t->name);
                else snprintf(before, sizeof before, "before %s", t->name);
                free(idx);
                return fail("%s: a gap of %llu bytes %s: tensor data must be contiguous", path,
                            (unsigned long long)(t->begin - pos), before);
            }
            pos = t->end;
        }
        free(idx);
        if (pos != dsize)
            return fail("%s: %llu bytes after the last tensor are not covered by any tensor", path, (unsigned long long)(dsize - pos));
    }
    for (i = first; i < m->n_tensors; i++) m->tensors[i].off = 8 + hlen + m->tensors[i].begin;
    return 0;
}

/* ---- a small hash table of names, for shard lookups and duplicate checks --------------- */

typedef struct nametab {
    size_t *slots, cap; /* tensor index + 1; 0 empty */
} nametab;

static uint64_t fnv(const void *p, size_t n) { return mf_fnv1a(MOD__FNV1A_BASIS, p, n); }

static long nametab_find(const nametab *h, const model *m, const char *name, size_t len)
{
    size_t i;
    if (!h->cap) return -1;
    i = (size_t)fnv(name, len) & (h->cap - 1);
    while (h->slots[i]) {
        const char *n = m->tensors[h->slots[i] - 1].name;
        if (strlen(n) == len && !memcmp(n, name, len)) return (long)(h->slots[i] - 1);
        i = (i + 1) & (h->cap - 1);
    }
    return -1;
}

/* Indexes every tensor by name; names seen twice (in two shards) are an error. */
static int nametab_build(nametab *h, const model *m)
{
    size_t k;
    h->cap = 16;
    while (h->cap < 2 * m->n_tensors + 2) h->cap *= 2;
    h->slots = (size_t *)calloc(h->cap, sizeof *h->slots);
    if (!h->slots) return fail("out of memory");
    for (k = 0; k < m->n_tensors; k++) {
        const tensor *t = &m->tensors[k];
        size_t len = strlen(t->name), i = (size_t)fnv(t->name, len) & (h->cap - 1);
        long prev = nametab_find(h, m, t->name, len);
        if (prev >= 0)
            return fail("duplicate tensor %s: in %s and in %s", t->name, m->files[m->tensors[prev].file].path, m->files[t->file].path);
        while (h->slots[i]) i = (i + 1) & (h->cap - 1);
        h->slots[i] = k + 1;
    }
    return 0;
}

/* Finds the weights of a directory: model.safetensors, or the shards of its index. */
static int load_weights(model *m, const char *dir)
{
    char *single = join(dir, "model.safetensors"), *index = join(dir, "model.safetensors.index.json");
    char *buf = NULL;
    size_t len;
    struct stat st;
    json_doc doc;
    nametab tab;
    int rc = -1, wm, e;
    memset(&doc, 0, sizeof doc);
    memset(&tab, 0, sizeof tab);
    if (!single || !index) { fail("out of memory"); goto done; }
    if (stat(single, &st) == 0) {
        rc = load_safetensors(m, single);
        goto done;
    }
    if (stat(index, &st) != 0) {
        char *bin = join(dir, "pytorch_model.bin");
        int has_bin = bin && stat(bin, &st) == 0;
        free(bin);
        if (has_bin) fail("%s has only PyTorch pickle weights (pytorch_model.bin); save them as safetensors first (model.save_pretrained(dir, safe_serialization=True))", dir);
        else fail("%s has neither model.safetensors nor model.safetensors.index.json", dir);
        goto done;
    }
    if (read_small(m, index, MAX_INDEX_JSON, &buf, &len) != 0 || parse_json(&doc, index, buf, len, 16) != 0) goto done;
    wm = json_get(&doc, 0, "weight_map");
    if (wm < 0 || doc.nodes[wm].type != JSON_OBJECT) { fail("%s: needs a \"weight_map\" object", index); goto done; }
    /* every shard once, in order of first mention */
    for (e = doc.nodes[wm].child; e >= 0; e = doc.nodes[e].next) {
        size_t fl;
        const char *fname;
        int p, seen = 0;
        char *path;
        if (doc.nodes[e].type != JSON_STRING) { fail("%s: weight_map values must be file names", index); goto done; }
        fname = json_str(&doc, e, &fl);
        if (fl == 0 || memchr(fname, '/', fl) || memchr(fname, 0, fl) || !strcmp(fname, ".") || !strcmp(fname, "..")) {
            fail("%s: weight_map names \"%s\", which is not a file name in the same directory", index, show(fname, fl));
            goto done;
        }
        for (p = doc.nodes[wm].child; p != e; p = doc.nodes[p].next)
            if (doc.nodes[p].str_len == fl && !memcmp(json_str(&doc, p, NULL), fname, fl)) { seen = 1; break; }
        if (seen) continue;
        if (!(path = join(dir, fname))) { fail("out of memory"); goto done; }
        if (load_safetensors(m, path) != 0) { free(path); goto done; }
        free(path);
    }
    if (nametab_build(&tab, m) != 0) goto done;
    for (e = doc.nodes[wm].child; e >= 0; e = doc.nodes[e].next) {
        size_t fl;
        const char *fname = json_str(&doc, e, &fl);
        long t = nametab_find(&tab, m, doc.out + doc.nodes[e].key, doc.nodes[e].key_len);
        const char *base;
        if (t < 0) {
            fail("%s: weight_map lists %s in %s, but no shard has it", index, show(doc.out + doc.nodes[e].key, doc.nodes[e].key_len), show(fname, fl));
            goto done;
        }
        base = strrchr(m->files[m->tensors[t].file].path, '/');
        base = base ? base + 1 : m->files[m->tensors[t].file].path;
        if (strlen(base) != fl || memcmp(base, fname, fl)) {
            fail("%s: weight_map puts %s in %s, but it is in %s", index, m->tensors[t].name, show(fname, fl), base);
            goto done;
        }
    }
    if (m->n_tensors != doc.nodes[wm].count) {
        size_t k;
        for (k = 0; k < m->n_tensors; k++)
            if (json_get(&doc, wm, m->tensors[k].name) < 0) {
                fail("%s: tensor %s is not listed in %s's weight_map", m->files[m->tensors[k].file].path, m->tensors[k].name, index);
                goto done;
            }
    }
    rc = 0;
done:
    if (rc == 0 && !tab.slots && nametab_build(&tab, m) != 0) rc = -1;
    free(tab.slots);
    json_free(&doc);
    free(buf);
    free(single);
    free(index);
    return rc;
}

/* ---- tensor names -> roles --------------------------------------------------------------- */

enum { K_PLAIN, K_MLP, K_LINEAR, K_IGNORE };

static const struct { const char *suffix; int role, kind; } layer_names[] = {
    { "input_layernorm.weight", MOD__ROLE_ATTN_NORM, K_PLAIN },
    { "self_attn.q_proj.weight", MOD__ROLE_Q, K_PLAIN },
    { "self_attn.k_proj.weight", MOD__ROLE_K, K_PLAIN },
    { "self_attn.v_proj.weight", MOD__ROLE_V, K_PLAIN },
    { "self_attn.o_proj.weight", MOD__ROLE_O, K_PLAIN },
    { "self_attn.q_proj.bias", MOD__ROLE_Q_BIAS, K_PLAIN },
    { "self_attn.k_proj.bias", MOD__ROLE_K_BIAS, K_PLAIN },
    { "self_attn.v_proj.bias", MOD__ROLE_V_BIAS, K_PLAIN },
    { "self_attn.o_proj.bias", MOD__ROLE_O_BIAS, K_PLAIN },
    { "self_attn.rotary_emb.inv_freq", 0, K_IGNORE },
    { "post_attention_layernorm.weight", MOD__ROLE_MLP_NORM, K_PLAIN },
    { "mlp.gate_proj.weight", MOD__ROLE_GATE, K_PLAIN },
    { "mlp.up_proj.weight", MOD__ROLE_UP, K_PLAIN },
    { "mlp.down_proj.weight", MOD__ROLE_DOWN, K_PLAIN },
    { "mlp.gate_proj.bias", MOD__ROLE_GATE_BIAS, K_PLAIN },
    { "mlp.up_proj.bias", MOD__ROLE_UP_BIAS, K_PLAIN },
    { "mlp.down_proj.bias", MOD__ROLE_DOWN_BIAS, K_PLAIN },
    { "router.weight", MOD__ROLE_ROUTER, K_PLAIN },
    { "router.bias", MOD__ROLE_ROUTER_BIAS, K_PLAIN },
    { "router.weight_predictor.weight", MOD__ROLE_ROUTER, K_PLAIN },
    { "router.weight_predictor.bias", MOD__ROLE_ROUTER_BIAS, K_PLAIN },
    { "router.router.weight", MOD__ROLE_ROUTER, K_PLAIN },
    { "router.router.bias", MOD__ROLE_ROUTER_BIAS, K_PLAIN },
    { "mod_router.weight", MOD__ROLE_ROUTER, K_PLAIN },
    { "mod_router.bias", MOD__ROLE_ROUTER_BIAS, K_PLAIN },
    { "router_mlp.weight", MOD__ROLE_ROUTER, K_PLAIN },
    { "router_mlp.bias", MOD__ROLE_ROUTER_BIAS, K_PLAIN },
};
static const char *const predictor_prefixes[] = { "predictor", "aux_router", "aux_mlp" };
static const struct { const char *suffix; int role, kind; } predictor_parts[] = {
    { ".0.weight", MOD__ROLE_PRED_W1, K_MLP }, { ".0.bias", MOD__ROLE_PRED_B1, K_MLP }, { ".2.weight", MOD__ROLE_PRED_W2, K_MLP },
    { ".2.bias", MOD__ROLE_PRED_B2, K_MLP }, { ".weight", MOD__ROLE_PRED_W1, K_LINEAR }, { ".bias", MOD__ROLE_PRED_B1, K_LINEAR },
};
static const char *const wrappers[] = { "block.", "decoder_layer.", "transformer_decoder_block." };
static const char *const shared_router_names[] = { "router", "model.router", "mod_router", "model.mod_router" };

typedef struct mapping {
    const tensor **at;    /* [(L + 1) * NROLES] */
    const tensor *shared_w, *shared_b;
    const tensor *lm_head_tied;
    int *pkind;           /* per layer: 0, K_MLP or K_LINEAR */
    const tensor **pkind_by;
} mapping;

static int place(model *m, mapping *mp, const tensor *t, int role, int layer)
{
    const tensor **p = &mp->at[(size_t)(layer + 1) * NROLES + (size_t)role];
    (void)m;
    if (*p) {
        if (layer >= 0) return fail("tensors %s and %s are both layer %d's %s (aliases of one weight); keep one", (*p)->name, t->name, layer, mf_role_name(role));
        return fail("tensors %s and %s are both the model's %s; keep one", (*p)->name, t->name, mf_role_name(role));
    }
    *p = t;
    return 0;
}

static int map_tensor(model *m, mapping *mp, tensor *t)
{
    const char *n = t->name, *rest;
    size_t k, j;
    long layer;
    const char *file = m->files[t->file].path;
    if (!strcmp(n, "model.embed_tokens.weight")) return place(m, mp, t, MOD__ROLE_EMBED, -1);
    if (!strcmp(n, "model.norm.weight")) return place(m, mp, t, MOD__ROLE_OUT_NORM, -1);
    if (!strcmp(n, "lm_head.weight")) return place(m, mp, t, MOD__ROLE_OUTPUT, -1);
    for (k = 0; k < sizeof shared_router_names / sizeof shared_router_names[0]; k++) {
        size_t l = strlen(shared_router_names[k]);
        if (strncmp(n, shared_router_names[k], l) != 0) continue;
        if (!strcmp(n + l, ".weight") || !strcmp(n + l, ".bias")) {
            const tensor **p = n[l + 1] == 'w' ? &mp->shared_w : &mp->shared_b;
            if (*p) return fail("tensors %s and %s are both a shared router %s; keep one", (*p)->name, n, n[l + 1] == 'w' ? "weight" : "bias");
            *p = t;
            return 0;
        }
    }
    if (strncmp(n, "model.layers.", 13) != 0) goto unexpected;
    rest = n + 13;
    if (*rest < '0' || *rest > '9' || (rest[0] == '0' && rest[1] >= '0' && rest[1] <= '9')) goto unexpected;
    for (layer = 0; *rest >= '0' && *rest <= '9'; rest++) {
        layer = layer * 10 + (*rest - '0');
        if (layer > 100000) goto unexpected;
    }
    if (*rest++ != '.') goto unexpected;
    if (layer >= m->L) return fail("tensor %s (in %s) belongs to block %ld, but num_hidden_layers is %d", n, file, layer, m->L);
    for (k = 0; k < sizeof wrappers / sizeof wrappers[0]; k++)
        if (!strncmp(rest, wrappers[k], strlen(wrappers[k]))) { rest += strlen(wrappers[k]); break; }
    for (k = 0; k < sizeof layer_names / sizeof layer_names[0]; k++) {
        if (strcmp(rest, layer_names[k].suffix) != 0) continue;
        if (layer_names[k].kind == K_IGNORE) { t->used = 1; return 0; }
        return place(m, mp, t, layer_names[k].role, (int)layer);
    }
    for (k = 0; k < sizeof predictor_prefixes / sizeof predictor_prefixes[0]; k++) {
        size_t l = strlen(predictor_prefixes[k]);
        if (strncmp(rest, predictor_prefixes[k], l) != 0) continue;
        for (j = 0; j < sizeof predictor_parts / sizeof predictor_parts[0]; j++) {
            if (strcmp(rest + l, predictor_parts[j].suffix) != 0) continue;
            if (mp->pkind[layer] && mp->pkind[layer] != predictor_parts[j].kind)
                return fail("block %ld has both an MLP predictor and a linear predictor (%s and %s)", layer, mp->pkind_by[layer]->name, n);
            mp->pkind[layer] = predictor_parts[j].kind;
            mp->pkind_by[layer] = t;
            return place(m, mp, t, predictor_parts[j].role, (int)layer);
        }
    }
unexpected:
    return fail("unexpected tensor %s (in %s): not a weight of a Llama-style MoD model (docs/CONVERT.md, \"Tensor names\", lists the accepted names)", n, file);
}

/* Does the tensor have shape [r, c] (r == 0: the 1-D shape [c])? */
static int shape_is(const tensor *t, uint64_t r, uint64_t c)
{
    if (r == 0) return t->ndim == 1 && t->shape[0] == c;
    return t->ndim == 2 && t->shape[0] == r && t->shape[1] == c;
}

/* Checks a tensor against the shape config.json implies for its role and gives the shape it is
   stored with. Router and predictor output weights may come as [1, n] or [n], their biases as
   [1] or [] (a scalar). */
static int check_shape(const model *m, const tensor *t, int role, uint64_t *rows, uint64_t *cols)
{
    const mod__dims dims = mf_dims((uint64_t)m->V, (uint64_t)m->d, (uint64_t)m->H, (uint64_t)m->Hkv, (uint64_t)m->hd, (uint64_t)m->F, (uint64_t)m->Fp);
    const int Fp = m->Fp;
    uint64_t r, c;
    const char *what = "";
    char got[200], want[200];
    int ok;
    mf_role_shape(role, &dims, &r, &c);
    switch (role) { /* the shape in config.json's words */
    case MOD__ROLE_EMBED: case MOD__ROLE_OUTPUT: what = "[vocab_size, hidden_size]"; break;
    case MOD__ROLE_OUT_NORM: case MOD__ROLE_ATTN_NORM: case MOD__ROLE_MLP_NORM: what = "[hidden_size]"; break;
    case MOD__ROLE_Q: what = "[num_attention_heads * head size, hidden_size]"; break;
    case MOD__ROLE_K: case MOD__ROLE_V: what = "[num_key_value_heads * head size, hidden_size]"; break;
    case MOD__ROLE_O: what = "[hidden_size, num_attention_heads * head size]"; break;
    case MOD__ROLE_Q_BIAS: what = "[num_attention_heads * head size]"; break;
    case MOD__ROLE_K_BIAS: case MOD__ROLE_V_BIAS: what = "[num_key_value_heads * head size]"; break;
    case MOD__ROLE_GATE: case MOD__ROLE_UP: what = "[intermediate_size, hidden_size]"; break;
    case MOD__ROLE_DOWN: what = "[hidden_size, intermediate_size]"; break;
    case MOD__ROLE_ROUTER: what = "[1, hidden_size] or [hidden_size]"; break;
    case MOD__ROLE_ROUTER_BIAS: case MOD__ROLE_PRED_B2: what = "[1] or []"; break;
    case MOD__ROLE_PRED_W1: what = Fp ? "[predictor width, hidden_size]" : "[1, hidden_size] or [hidden_size]"; break;
    case MOD__ROLE_PRED_B1: what = Fp ? "[predictor width]" : "[1] or []"; break;
    case MOD__ROLE_PRED_W2: what = "[1, predictor width] or [predictor width]"; break;
    case MOD__ROLE_O_BIAS: case MOD__ROLE_DOWN_BIAS: what = "[hidden_size]"; break;
    case MOD__ROLE_GATE_BIAS: case MOD__ROLE_UP_BIAS: what = "[intermediate_size]"; break;
    default: break;
    }
    ok = shape_is(t, r, c);
    if (!ok && (role == MOD__ROLE_ROUTER || role == MOD__ROLE_PRED_W2 || (role == MOD__ROLE_PRED_W1 && !Fp))) ok = shape_is(t, 1, c) || shape_is(t, 0, c);
    if (!ok && (role == MOD__ROLE_ROUTER_BIAS || role == MOD__ROLE_PRED_B2 || (role == MOD__ROLE_PRED_B1 && !Fp))) ok = t->ndim == 0;
    if (!ok) {
        uint64_t w[2];
        w[0] = r ? r : c;
        w[1] = c;
        fmt_shape(got, sizeof got, t->shape, t->ndim);
        fmt_shape(want, sizeof want, w, r ? 2 : 1);
        return fail("tensor %s (in %s) has shape %s, but config.json implies %s = %s",
                    t->name, m->files[t->file].path, got, what, want);
    }
    *rows = r;
    *cols = c;
    return 0;
}

static int set_src(model *m, const tensor *t, int role, int layer)
{
    src *s = slot(m, role, layer);
    uint64_t r, c;
    if (check_shape(m, t, role, &r, &c) != 0) return -1;
    if (t->dtype == DT_OTHER)
        return fail("tensor %s (in %s) has dtype %s; only F32, F16 and BF16 can be converted", t->name, m->files[t->file].path, t->dtype_name);
    s->present = 1;
    s->name = t->name;
    s->fd = m->files[t->file].fd;
    s->path = m->files[t->file].path;
    s->off = t->off;
    s->dtype = t->dtype;
    s->rows = r;
    s->cols = c;
    return 0;
}

static int set_zero(model *m, int role, int layer, uint64_t n)
{
    src *s = slot(m, role, layer);
    s->present = 1;
    s->name = label(m, "zeros", 0);
    s->fd = -1;
    s->dtype = MOD_DTYPE_F32;
    s->rows = 0;
    s->cols = n;
    return 0;
}

/* Do two tensors of equal size hold the same bytes? (A tied lm_head saved anyway.) */
static int same_bytes(model *m, const tensor *a, const tensor *b, int *same)
{
    unsigned char *x = (unsigned char *)malloc(1 << 16), *y = (unsigned char *)malloc(1 << 16);
    uint64_t done = 0, n = a->end - a->begin;
    int rc = 0;
    if (!x || !y) { free(x); free(y); return fail("out of memory"); }
    *same = 1;
    while (done < n && *same) {
        size_t k = n - done < (1u << 16) ? (size_t)(n - done) : (size_t)1 << 16;
        if (read_at(m->files[a->file].fd, x, k, a->off + done, m->files[a->file].path) != 0 ||
            read_at(m->files[b->file].fd, y, k, b->off + done, m->files[b->file].path) != 0) { rc = -1; break; }
        *same = memcmp(x, y, k) == 0;
        done += k;
    }
    free(x);
    free(y);
    return rc;
}

/* Decides, from the mapped tensors and the settings, what every output tensor is. */
static int assign_hf(model *m, mapping *mp, int tie_key)
{
    int l, role, first_pred = -1;
    const tensor *emb = mp->at[MOD__ROLE_EMBED], *head = mp->at[MOD__ROLE_OUTPUT];
    char name[200];
    /* the output projection */
    if (!emb) return fail("missing tensor model.embed_tokens.weight");
    if (!mp->at[MOD__ROLE_OUT_NORM]) return fail("missing tensor model.norm.weight");
    m->tied = tie_key >= 0 ? tie_key : head == NULL;
    if (m->tied && head) {
        int same = head->dtype == emb->dtype && head->end - head->begin == emb->end - emb->begin;
        if (same && same_bytes(m, head, emb, &same) != 0) return -1;
        if (!same)
            return fail("tensor lm_head.weight is present and differs from model.embed_tokens.weight, but config.json says tie_word_embeddings is true");
        ((tensor *)head)->used = 1;
        mp->at[MOD__ROLE_OUTPUT] = NULL;
    }
    if (!m->tied && !head)
        return fail("missing tensor lm_head.weight (config.json says tie_word_embeddings is false; set it to true if the output projection is the embedding)");
    /* every routed block has a router */
    for (l = 0; l < m->L; l++)
        if (m->routed[l] && !mp->at[(size_t)(l + 1) * NROLES + MOD__ROLE_ROUTER] && !mp->shared_w) {
            snprintf(name, sizeof name, canonical[MOD__ROLE_ROUTER], l);
            return fail("missing tensor %s: block %d is routed (mod_layers / --mod-layers) and has no router", name, l);
        }
    /* which predictor form, and its width */
    m->Fp = 0;
    if (m->decision == 1) {
        for (l = 0; l < m->L; l++) {
            const tensor *w1 = mp->at[(size_t)(l + 1) * NROLES + MOD__ROLE_PRED_W1];
            uint64_t fp;
            if (!m->routed[l]) continue;
            if (!w1) return fail("missing tensor model.layers.%d.predictor.0.weight (or predictor.weight): block %d is routed and the decision rule is predictor", l, l);
            fp = mp->pkind[l] == K_MLP ? (w1->ndim == 2 ? w1->shape[0] : 0) : 0;
            if (mp->pkind[l] == K_MLP && (w1->ndim != 2 || fp == 0 || fp > (uint64_t)MOD__MAX_DIM))
                return fail("tensor %s must be a [predictor width, hidden_size] matrix", w1->name);
            if (first_pred < 0) { first_pred = l; m->Fp = (int)fp; }
            else if ((uint64_t)m->Fp != fp)
                return fail("the predictors of blocks %d and %d differ in width (%d and %llu); the format has one predictor shape", first_pred, l, m->Fp, (unsigned long long)fp);
        }
    }
    for (role = MOD__ROLE_EMBED; role <= MOD__ROLE_OUTPUT; role++) {
        const tensor *t = mp->at[role];
        if (t && set_src(m, t, role, -1) != 0) return -1;
    }
    for (l = 0; l < m->L; l++) {
        const tensor **at = &mp->at[(size_t)(l + 1) * NROLES];
        int nb = (at[MOD__ROLE_Q_BIAS] != NULL) + (at[MOD__ROLE_K_BIAS] != NULL) + (at[MOD__ROLE_V_BIAS] != NULL);
        for (role = MOD__ROLE_ATTN_NORM; role < NROLES; role++) {
            const tensor *t = at[role];
            int routing_role = role >= MOD__ROLE_ROUTER && role <= MOD__ROLE_PRED_B2;
            if (routing_role && !m->routed[l]) {
                if (t) return fail("tensor %s (in %s): block %d is not a routed block; list it in mod_layers (config.json) or --mod-layers", t->name, m->files[t->file].path, l);
                continue;
            }
            if (role >= MOD__ROLE_PRED_W1 && role <= MOD__ROLE_PRED_B2 && m->decision == 0) {
                if (t) {
                    ((tensor *)t)->used = 1;
                    if (role == MOD__ROLE_PRED_W1) note("ignoring the predictor of block %d (%s): the decision rule is router", l, t->name);
                }
                continue;
            }
            if (role == MOD__ROLE_ROUTER || role == MOD__ROLE_ROUTER_BIAS) {
                const tensor *shared = role == MOD__ROLE_ROUTER ? mp->shared_w : mp->shared_b;
                if (t && shared) return fail("block %d has its own router (%s) and there is a shared router (%s); keep one", l, t->name, shared->name);
                if (!t) t = shared;
                if (!t && role == MOD__ROLE_ROUTER) {
                    snprintf(name, sizeof name, canonical[MOD__ROLE_ROUTER], l);
                    return fail("missing tensor %s: block %d is routed (mod_layers / --mod-layers) and has no router", name, l);
                }
                if (!t) continue;
            }
            if ((role == MOD__ROLE_PRED_W2 || role == MOD__ROLE_PRED_B2) && m->Fp == 0) {
                if (t) return fail("tensor %s: the predictor of block %d is linear, it has no second layer", t->name, l);
                continue;
            }
            if (!t) {
                if (role == MOD__ROLE_Q_BIAS || role == MOD__ROLE_K_BIAS || role == MOD__ROLE_V_BIAS || role >= MOD__ROLE_O_BIAS) continue;
                if (role == MOD__ROLE_PRED_B1) { set_zero(m, role, l, m->Fp ? (uint64_t)m->Fp : 1); continue; }
                if (role == MOD__ROLE_PRED_B2) { set_zero(m, role, l, 1); continue; }
                snprintf(name, sizeof name, canonical[role], l);
                return fail("missing tensor %s", name);
            }
            if (set_src(m, t, role, l) != 0) return -1;
        }
        if (nb != 0 && nb != 3) return fail("block %d has some but not all of the q/k/v projection biases", l);
        nb = (at[MOD__ROLE_GATE_BIAS] != NULL) + (at[MOD__ROLE_UP_BIAS] != NULL) + (at[MOD__ROLE_DOWN_BIAS] != NULL);
        if (nb != 0 && nb != 3) return fail("block %d has some but not all of the mlp gate/up/down projection biases", l);
    }
    if ((mp->shared_w || mp->shared_b)) {
        int any = 0;
        for (l = 0; l < m->L; l++) any |= m->routed[l];
        if (!any) return fail("tensor %s is a shared router, but no block is routed; set mod_layers (config.json) or --mod-layers",
                              mp->shared_w ? mp->shared_w->name : mp->shared_b->name);
    }
    return 0;
}

/* ---- tokenizer section ------------------------------------------------------------------- */

typedef struct tokb {
    int kind, pretok;
    unsigned flags;
    int32_t bos, eos;
    uint32_t n;                 /* tokens */
    unsigned char *blob;        /* token bytes, in id order */
    size_t blob_n, blob_cap;
    uint32_t *off;              /* n + 1 */
    float *score;
    uint8_t *type;
    uint32_t (*merge)[4];
    uint32_t n_merges;
    mod__tokenizer_sp sp;       /* kind 3 */
    mod__added_token *added;
    uint32_t n_added;
} tokb;

enum { TT_NORMAL = 0, TT_BYTE = 1, TT_CONTROL = 2 };

static void tokb_free(tokb *b)
{
    free(b->blob); free(b->off); free(b->score); free(b->type); free(b->merge); free(b->added);
    memset(b, 0, sizeof *b);
}

static int tokb_alloc(tokb *b, uint32_t n)
{
    b->n = n;
    b->off = (uint32_t *)calloc((size_t)n + 1, sizeof *b->off);
    b->score = (float *)calloc((size_t)n + 1, sizeof *b->score);
    b->type = (uint8_t *)calloc((size_t)n + 1, 1);
    if (!b->off || !b->score || !b->type) return fail("out of memory");
    return 0;
}

static int tokb_push(tokb *b, uint32_t id, const void *p, size_t len)
{
    if (b->blob_n + len > b->blob_cap) {
        size_t cap = b->blob_cap ? b->blob_cap : 4096;
        unsigned char *nb;
        while (cap < b->blob_n + len) cap *= 2;
        if (cap > 0xffffffffu) return fail("the tokenizer's strings exceed 4 GB");
        nb = (unsigned char *)realloc(b->blob, cap);
        if (!nb) return fail("out of memory");
        b->blob = nb;
        b->blob_cap = cap;
    }
    if (len) memcpy(b->blob + b->blob_n, p, len);
    b->blob_n += len;
    b->off[id + 1] = (uint32_t)b->blob_n;
    return 0;
}

static const tokb *g_sort_b;
static int cmp_tok_bytes(const void *x, const void *y)
{
    uint32_t a = *(const uint32_t *)x, c = *(const uint32_t *)y;
    size_t la = g_sort_b->off[a + 1] - g_sort_b->off[a], lc = g_sort_b->off[c + 1] - g_sort_b->off[c];
    int r = memcmp(g_sort_b->blob + g_sort_b->off[a], g_sort_b->blob + g_sort_b->off[c], la < lc ? la : lc);
    if (r) return r;
    if (la != lc) return la < lc ? -1 : 1;
    return a < c ? -1 : a > c;
}
static int cmp_merge(const void *x, const void *y)
{
    const uint32_t *a = (const uint32_t *)x, *c = (const uint32_t *)y;
    if (a[0] != c[0]) return a[0] < c[0] ? -1 : 1;
    if (a[1] != c[1]) return a[1] < c[1] ? -1 : 1;
    return a[3] < c[3] ? -1 : a[3] > c[3];
}

/* Sorts, checks and serialises the tokenizer section (docs/FORMAT.md, "Tokenizer section"). */
static int tokb_finish(tokb *b, const char *path, unsigned char **out, size_t *size)
{
    uint32_t i, n_sorted = 0, max_len = 1, *sorted;
    size_t total;
    unsigned char *p;
    mf_tokenizer sec;
    sorted = (uint32_t *)malloc(((size_t)b->n + 1) * sizeof *sorted);
    if (!sorted) return fail("out of memory");
    for (i = 0; i < b->n; i++) {
        uint32_t len = b->off[i + 1] - b->off[i];
        if (len > MOD__MAX_TOKEN_LEN) { free(sorted); return fail("%s: token %u is %u bytes long; the format allows %d", path, i, len, MOD__MAX_TOKEN_LEN); }
        if (len > max_len) max_len = len;
        if (b->type[i] == TT_NORMAL) sorted[n_sorted++] = i;
    }
    g_sort_b = b;
    qsort(sorted, n_sorted, sizeof *sorted, cmp_tok_bytes);
    for (i = 1; i < n_sorted; i++) {
        uint32_t a = sorted[i - 1], c = sorted[i];
        if (b->off[a + 1] - b->off[a] == b->off[c + 1] - b->off[c] && !memcmp(b->blob + b->off[a], b->blob + b->off[c], b->off[a + 1] - b->off[a])) {
            free(sorted);
            return fail("%s: tokens %u and %u have the same bytes \"%s\"; the format needs distinct normal tokens", path, a, c,
                        show(b->blob + b->off[a], b->off[a + 1] - b->off[a]));
        }
    }
    if (b->n_merges) qsort(b->merge, b->n_merges, sizeof *b->merge, cmp_merge);
    {   /* a repeated pair keeps its first (lowest) rank */
        uint32_t w = 0;
        for (i = 0; i < b->n_merges; i++) {
            if (w && b->merge[w - 1][0] == b->merge[i][0] && b->merge[w - 1][1] == b->merge[i][1]) continue;
            memmove(b->merge[w++], b->merge[i], sizeof b->merge[0]);
        }
        b->n_merges = w;
    }
    memset(&sec, 0, sizeof sec);
    sec.h.kind = (uint32_t)b->kind;
    sec.h.n_tokens = b->n;
    sec.h.n_merges = b->n_merges;
    sec.h.bos_id = b->bos;
    sec.h.eos_id = b->eos;
    sec.h.pretokenizer = (uint32_t)b->pretok;
    sec.h.flags = b->flags;
    sec.h.n_sorted = n_sorted;
    sec.h.strings_size = (uint64_t)b->blob_n;
    sec.h.max_token_len = max_len;
    sec.offsets = b->off;
    sec.scores = b->score;
    sec.types = b->type;
    sec.sorted = sorted;
    sec.merges = b->n_merges ? &b->merge[0][0] : NULL;
    sec.strings = b->blob;
    if (b->kind == 3) {
        sec.sp = b->sp;
        sec.added = b->added;
    } else {
        sec.h.n_added = b->n_added;
        sec.added = b->added;
    }
    total = mf_tokenizer_size(&sec);
    p = (unsigned char *)malloc(total);
    if (!p) { free(sorted); return fail("out of memory"); }
    mf_put_tokenizer(p, &sec);
    free(sorted);
    *out = p;
    *size = total;
    return 0;
}

/* GPT-2's byte-level alphabet: printable bytes stand for themselves, the other 68 bytes for
   U+0100 upwards in byte order. */
static int g_u2b[324];
static void init_byte_alphabet(void)
{
    int b, n = 0;
    for (b = 0; b < 324; b++) g_u2b[b] = -1;
    for (b = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
        g_u2b[printable ? b : 256 + n++] = b;
    }
}

/* Turns a byte-level token string back into raw bytes (out has room for len bytes). */
static int unmap_bytes(const char *s, size_t len, unsigned char *out, size_t *n)
{
    size_t i = 0, k = 0;
    while (i < len) {
        const unsigned char *u = (const unsigned char *)s + i;
        unsigned cp;
        size_t l = json_utf8_len(u, len - i);
        if (l == 1) cp = u[0];
        else if (l == 2) cp = (unsigned)(u[0] & 0x1f) << 6 | (u[1] & 0x3f);
        else return -1;
        if (cp >= 324 || g_u2b[cp] < 0) return -1;
        out[k++] = (unsigned char)g_u2b[cp];
        i += l;
    }
    *n = k;
    return 0;
}

typedef struct idhash {
    uint32_t *slots;  /* id + 1, 0 empty */
    size_t cap;
} idhash;

static long idhash_find(const idhash *h, const tokb *b, const unsigned char *s, size_t len)
{
    size_t i = (size_t)fnv(s, len) & (h->cap - 1);
    while (h->slots[i]) {
        uint32_t id = h->slots[i] - 1;
        if (b->off[id + 1] - b->off[id] == len && !memcmp(b->blob + b->off[id], s, len) && b->type[id] == TT_NORMAL) return (long)id;
        i = (i + 1) & (h->cap - 1);
    }
    return -1;
}

/* Indexes the normal tokens of b by their bytes. */
static int idhash_build(idhash *h, const tokb *b)
{
    uint32_t i;
    h->cap = 16;
    while (h->cap < 2 * (size_t)b->n) h->cap *= 2;
    h->slots = (uint32_t *)calloc(h->cap, sizeof *h->slots);
    if (!h->slots) return fail("out of memory");
    for (i = 0; i < b->n; i++) {
        size_t s;
        if (b->type[i] != TT_NORMAL) continue;
        s = (size_t)fnv(b->blob + b->off[i], b->off[i + 1] - b->off[i]) & (h->cap - 1);
        while (h->slots[s]) s = (s + 1) & (h->cap - 1);
        h->slots[s] = i + 1;
    }
    return 0;
}

/* Merge rule i, the tokens part[0] + part[1] as the file spells them, into b->merge[i] with
   rank i: each half and the merged token must be normal tokens of the vocab after `map` (the
   byte-level alphabet, or U+2581 as space). scratch holds both halves. 0, or -1 after fail(). */
static int add_merge(tokb *b, const idhash *h, uint32_t i, const char *const part[2], const size_t plen[2], const char *path,
                     int (*map)(const char *, size_t, unsigned char *, size_t *), unsigned char *scratch)
{
    size_t bl[2];
    long ids[3];
    int k;
    for (k = 0; k < 2; k++) {
        if (map(part[k], plen[k], scratch + (k ? bl[0] : 0), &bl[k]) != 0 ||
            (ids[k] = idhash_find(h, b, scratch + (k ? bl[0] : 0), bl[k])) < 0)
            return fail("%s: merge %u (\"%s\" + \"%s\") names the token \"%s\", which is not in the vocab", path, i,
                        show(part[0], plen[0]), show(part[1], plen[1]), show(part[k], plen[k]));
    }
    ids[2] = idhash_find(h, b, scratch, bl[0] + bl[1]);
    if (ids[2] < 0)
        return fail("%s: merge %u (\"%s\" + \"%s\"): the merged token is not in the vocab", path, i, show(part[0], plen[0]), show(part[1], plen[1]));
    b->merge[i][0] = (uint32_t)ids[0];
    b->merge[i][1] = (uint32_t)ids[1];
    b->merge[i][2] = (uint32_t)ids[2];
    b->merge[i][3] = i;
    return 0;
}

/* A merge written as one string "a b": its two halves, or -1 when it is not two tokens
   separated by one space. */
static int split_merge(const char *s, size_t n, const char *part[2], size_t plen[2])
{
    const char *sp = (const char *)memchr(s, ' ', n);
    if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s))) return -1;
    part[0] = s; plen[0] = (size_t)(sp - s);
    part[1] = sp + 1; plen[1] = n - plen[0] - 1;
    return 0;
}

/* The merges array of tokenizer.json, "a b" strings or ["a", "b"] lists, into b->merge with
   their rank (add_merge). 0, or -1 after fail(). */
static int read_merges(const json_doc *d, int merges, const char *path, const idhash *h, tokb *b,
                       int (*map)(const char *, size_t, unsigned char *, size_t *), unsigned char *scratch)
{
    uint32_t i;
    int e;
    if (d->nodes[merges].count) {
        b->merge = (uint32_t(*)[4])malloc(d->nodes[merges].count * sizeof *b->merge);
        if (!b->merge) { fail("out of memory"); return -1; }
    }
    for (e = d->nodes[merges].child, i = 0; e >= 0; e = d->nodes[e].next, i++) {
        const char *part[2];
        size_t plen[2];
        if (d->nodes[e].type == JSON_STRING) {
            const char *s = json_str(d, e, NULL);
            if (split_merge(s, d->nodes[e].str_len, part, plen) != 0) {
                fail("%s: merge %u (\"%s\") is not two tokens separated by one space", path, i, show(s, d->nodes[e].str_len));
                return -1;
            }
        } else if (d->nodes[e].type == JSON_ARRAY && d->nodes[e].count == 2 &&
                   d->nodes[json_at(d, e, 0)].type == JSON_STRING && d->nodes[json_at(d, e, 1)].type == JSON_STRING) {
            part[0] = json_str(d, json_at(d, e, 0), &plen[0]);
            part[1] = json_str(d, json_at(d, e, 1), &plen[1]);
        } else {
            fail("%s: merge %u must be a string \"a b\" or a list [\"a\", \"b\"]", path, i);
            return -1;
        }
        if (add_merge(b, h, i, part, plen, path, map, scratch) != 0) return -1;
    }
    b->n_merges = i;
    return 0;
}

/* The first control token whose text is one of names, or -1. */
static long named_control(const tokb *b, const char *const *names)
{
    int k;
    uint32_t i;
    for (k = 0; names[k]; k++)
        for (i = 0; i < b->n; i++)
            if (b->type[i] == TT_CONTROL && b->off[i + 1] - b->off[i] == strlen(names[k]) && !memcmp(b->blob + b->off[i], names[k], strlen(names[k])))
                return (long)i;
    return -1;
}

/* A non-special added token that repeats a vocab string cannot be a second normal token: the
   vocab entry stays normal, the copy (have[id] == 2) becomes a control token. */
static int demote_added_copies(tokb *b, const uint8_t *have)
{
    uint32_t *ids = (uint32_t *)malloc((size_t)b->n * sizeof *ids + 1), k = 0, i;
    if (!ids) return fail("out of memory");
    for (i = 0; i < b->n; i++) if (b->type[i] == TT_NORMAL) ids[k++] = i;
    g_sort_b = b;
    qsort(ids, k, sizeof *ids, cmp_tok_bytes);
    for (i = 1; i < k; i++) {
        uint32_t a = ids[i - 1], c = ids[i];
        size_t la = b->off[a + 1] - b->off[a];
        if (la == b->off[c + 1] - b->off[c] && !memcmp(b->blob + b->off[a], b->blob + b->off[c], la))
            b->type[have[a] == 2 && have[c] != 2 ? a : c] = TT_CONTROL;
    }
    free(ids);
    return 0;
}

static const char *const bos_names[] = { "<|begin_of_text|>", "<|bos|>", "<s>", "<|endoftext|>", NULL };
static const char *const eos_names[] = { "<|end_of_text|>", "<|eos|>", "</s>", "<|endoftext|>", NULL };

/* The Split patterns mod.h implements, as tokenizer.json writes them, and their pretokenizer
   values (docs/FORMAT.md). */
static const struct { const char *regex; int pretok; const char *name; } split_patterns[] = {
    { "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", 1, "GPT-2" },
    { "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 2, "Llama 3" },
    { "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", 3, "Qwen2" },
};
static const char *const pretok_names[] = { "no", "GPT-2", "Llama 3", "Qwen2" };

/* A pattern as it reads in a message: printable ASCII as is, other bytes as \xNN. */
static const char *show_pattern(const char *s, size_t n)
{
    static char buf[600];
    size_t i, k = 0;
    for (i = 0; i < n && k < sizeof buf - 8; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) buf[k++] = (char)c;
        else k += (size_t)sprintf(buf + k, "\\x%02X", c);
    }
    if (i < n) { memcpy(buf + k, "...", 3); k += 3; }
    buf[k] = 0;
    return buf;
}

/* Checks the pre-tokenizer: returns 0 with the pretokenizer code and flags, or fails. */
static int json_pretok(const json_doc *d, const char *path, int *pretok, unsigned *flags)
{
    int pt = json_get(d, 0, "pre_tokenizer"), list, e, byte_level = 0, splits = 0;
    int norm = json_get(d, 0, "normalizer");
    *pretok = 0;
    *flags = 0;
    if (norm >= 0 && d->nodes[norm].type != JSON_NULL) {
        /* NFC (Qwen2, Qwen3), alone or as the one normalizer of a Sequence: flag bit 2; an
           empty Sequence does nothing */
        int ty = json_get(d, norm, "type"), one = norm, list = json_get(d, norm, "normalizers");
        if (json_str_is(d, ty, "Sequence") && list >= 0 && d->nodes[list].type == JSON_ARRAY && d->nodes[list].count <= 1) {
            one = d->nodes[list].count ? d->nodes[list].child : -1;
            ty = one >= 0 ? json_get(d, one, "type") : -1;
        }
        if (one >= 0 && json_str_is(d, ty, "NFC")) *flags |= 4u;
        else if (one >= 0)
            return fail("%s: the tokenizer has a normalizer (%s), which mod.h cannot reproduce (it knows NFC); use --tokenizer none to convert without a tokenizer",
                        path, ty >= 0 && d->nodes[ty].type == JSON_STRING ? json_str(d, ty, NULL) : "?");
    }
    if (pt < 0 || d->nodes[pt].type == JSON_NULL)
        return fail("%s: the tokenizer has no pre-tokenizer; mod.h's byte-level BPE needs the ByteLevel pre-tokenizer", path);
    if (json_str_is(d, json_get(d, pt, "type"), "Sequence")) {
        list = json_get(d, pt, "pretokenizers");
        if (list < 0 || d->nodes[list].type != JSON_ARRAY) return fail("%s: a Sequence pre-tokenizer needs \"pretokenizers\"", path);
        e = d->nodes[list].child;
    } else {
        e = pt;
        list = -1;
    }
    for (; e >= 0; e = list >= 0 ? d->nodes[e].next : -1) {
        int ty = json_get(d, e, "type");
        if (json_str_is(d, ty, "ByteLevel")) {
            int ur = json_get(d, e, "use_regex"), aps = json_get(d, e, "add_prefix_space");
            byte_level++;
            if (ur < 0 || d->nodes[ur].type == JSON_TRUE) { splits++; *pretok = 1; }
            if (aps >= 0 && d->nodes[aps].type == JSON_TRUE) *flags |= 1u;
        } else if (json_str_is(d, ty, "Split")) {
            int pat = json_get(d, e, "pattern"), beh = json_get(d, e, "behavior"), inv = json_get(d, e, "invert");
            int rx = json_get(d, pat, "Regex");
            size_t k, known = sizeof split_patterns / sizeof split_patterns[0];
            if (byte_level) return fail("%s: a Split pre-tokenizer after ByteLevel is not supported", path);
            if (rx < 0 || d->nodes[rx].type != JSON_STRING) {
                int st = json_get(d, pat, "String");
                return fail("%s: the Split pre-tokenizer's pattern is not a regex (%s); mod.h implements the GPT-2, Llama 3 and Qwen2 regexes; use --tokenizer none to convert without a tokenizer",
                            path, st >= 0 && d->nodes[st].type == JSON_STRING ? "a String pattern" : "no \"Regex\"");
            }
            for (k = 0; k < known && !json_str_is(d, rx, split_patterns[k].regex); k++) {}
            if (k == known)
                return fail("%s: the Split pre-tokenizer's regex \"%s\" is none that mod.h implements (GPT-2's, Llama 3's, Qwen2's); use --tokenizer none to convert without a tokenizer",
                            path, show_pattern(json_str(d, rx, NULL), d->nodes[rx].str_len));
            if ((beh >= 0 && !json_str_is(d, beh, "Isolated")) || (inv >= 0 && d->nodes[inv].type == JSON_TRUE))
                return fail("%s: the Split pre-tokenizer with %s's regex must have behavior \"Isolated\" and invert false; use --tokenizer none to convert without a tokenizer",
                            path, split_patterns[k].name);
            *pretok = split_patterns[k].pretok;
            splits++;
        } else if (json_str_is(d, ty, "Metaspace")) {
            return fail("%s: SentencePiece-style tokenizers (Metaspace) cannot be represented; use --tokenizer none to convert without a tokenizer", path);
        } else {
            return fail("%s: pre-tokenizer type \"%s\" is not supported; use --tokenizer none to convert without a tokenizer", path,
                        ty >= 0 && d->nodes[ty].type == JSON_STRING ? show(json_str(d, ty, NULL), d->nodes[ty].str_len) : "?");
        }
    }
    if (byte_level != 1) return fail("%s: the tokenizer is not byte-level (no ByteLevel pre-tokenizer); mod.h stores byte-level BPE only; use --tokenizer none to convert without a tokenizer", path);
    if (splits > 1) return fail("%s: the pre-tokenizer splits the text twice (a Split and ByteLevel with use_regex); mod.h supports one split", path);
    return 0;
}

/* ---- SentencePiece-style BPE from tokenizer.json (kind 3) -------------------------------- */

/* A token string of a SentencePiece-style vocabulary as the file stores it: U+2581 becomes the
   space it stands for. A literal space cannot be told from it, so it is refused (-1). */
static int sp_map(const char *s, size_t n, unsigned char *out, size_t *k)
{
    size_t i = 0, w = 0;
    while (i < n) {
        if (s[i] == ' ') return -1;
        if (i + 3 <= n && !memcmp(s + i, "\xE2\x96\x81", 3)) { out[w++] = ' '; i += 3; continue; }
        out[w++] = (unsigned char)s[i++];
    }
    *k = w;
    return 0;
}

static int json_is_true(const json_doc *d, int n) { return n >= 0 && d->nodes[n].type == JSON_TRUE; }
static int json_is_null(const json_doc *d, int n) { return n < 0 || d->nodes[n].type == JSON_NULL; }
static const char *json_type_name(const json_doc *d, int n)
{
    int ty = json_get(d, n, "type");
    return ty >= 0 && d->nodes[ty].type == JSON_STRING ? show(json_str(d, ty, NULL), d->nodes[ty].str_len) : "?";
}

/* The members of a "Sequence" node's list `key`, or the node itself: the first, then next. */
static int seq_first(const json_doc *d, int n, const char *key, int *list)
{
    *list = -1;
    if (n < 0 || d->nodes[n].type != JSON_OBJECT) return -1;
    if (json_str_is(d, json_get(d, n, "type"), "Sequence")) {
        *list = json_get(d, n, key);
        return *list >= 0 && d->nodes[*list].type == JSON_ARRAY ? d->nodes[*list].child : -1;
    }
    return n;
}
static int seq_next(const json_doc *d, int e, int list) { return list >= 0 ? d->nodes[e].next : -1; }

/* A Replace whose pattern is the string `from` and whose content is `to`. */
static int is_replace(const json_doc *d, int e, const char *from, const char *to)
{
    return json_str_is(d, json_get(d, e, "type"), "Replace") && json_str_is(d, json_get(d, json_get(d, e, "pattern"), "String"), from) &&
           json_str_is(d, json_get(d, e, "content"), to);
}

/* Whether tokenizer.json describes a SentencePiece-style BPE: byte fallback, a Metaspace
   pre-tokenizer, or a normalizer that turns spaces into U+2581. */
static int sp_style(const json_doc *d, int mdl)
{
    int list, e;
    if (json_is_true(d, json_get(d, mdl, "byte_fallback"))) return 1;
    for (e = seq_first(d, json_get(d, 0, "pre_tokenizer"), "pretokenizers", &list); e >= 0; e = seq_next(d, e, list))
        if (json_str_is(d, json_get(d, e, "type"), "Metaspace")) return 1;
    for (e = seq_first(d, json_get(d, 0, "normalizer"), "normalizers", &list); e >= 0; e = seq_next(d, e, list))
        if (is_replace(d, e, " ", "\xE2\x96\x81") || json_str_is(d, json_get(d, e, "type"), "Prepend")) return 1;
    return 0;
}

/* The normalizer, pre-tokenizer and decoder as kind 3's settings, or a failure naming what
   mod.h does not reproduce. */
static int sp_settings(const json_doc *d, const char *path, mod__tokenizer_sp *sp)
{
    int list, e, replaced = 0, prepend_norm = 0, meta = 0, dec_replace = 0, dec_bytes = 0;
    int norm = json_get(d, 0, "normalizer"), pre = json_get(d, 0, "pre_tokenizer"), dec = json_get(d, 0, "decoder");
    const char *why = "use --tokenizer none to convert without a tokenizer";
    if (!json_is_null(d, norm)) {
        for (e = seq_first(d, norm, "normalizers", &list); e >= 0; e = seq_next(d, e, list)) {
            if (is_replace(d, e, " ", "\xE2\x96\x81")) replaced = 1;
            else if (json_str_is(d, json_get(d, e, "type"), "Prepend") && json_str_is(d, json_get(d, e, "prepend"), "\xE2\x96\x81")) prepend_norm = 1;
            else return fail("%s: the normalizer %s is not one mod.h reproduces (it knows Replace(\" \", \"\xE2\x96\x81\") and Prepend(\"\xE2\x96\x81\")); %s",
                             path, json_type_name(d, e), why);
        }
    }
    sp->prepend = prepend_norm ? MOD__SP_PREPEND_EACH : MOD__SP_PREPEND_NEVER;
    if (!json_is_null(d, pre)) {
        for (e = seq_first(d, pre, "pretokenizers", &list); e >= 0; e = seq_next(d, e, list)) {
            if (json_str_is(d, json_get(d, e, "type"), "Metaspace")) {
                int rep = json_get(d, e, "replacement"), ps = json_get(d, e, "prepend_scheme"), aps = json_get(d, e, "add_prefix_space");
                int split = json_get(d, e, "split");
                if (meta++ || prepend_norm) return fail("%s: a Metaspace pre-tokenizer together with another prepending step is not supported; %s", path, why);
                if (rep >= 0 && !json_str_is(d, rep, "\xE2\x96\x81")) return fail("%s: the Metaspace replacement is not \"\xE2\x96\x81\"; %s", path, why);
                if (ps >= 0 && !json_is_null(d, ps)) {
                    if (json_str_is(d, ps, "first")) sp->prepend = MOD__SP_PREPEND_FIRST;
                    else if (json_str_is(d, ps, "always")) sp->prepend = MOD__SP_PREPEND_ALWAYS;
                    else if (json_str_is(d, ps, "never")) sp->prepend = MOD__SP_PREPEND_NEVER;
                    else return fail("%s: unknown Metaspace prepend_scheme; %s", path, why);
                } else {
                    sp->prepend = aps < 0 || json_is_true(d, aps) ? MOD__SP_PREPEND_ALWAYS : MOD__SP_PREPEND_NEVER;
                }
                if (split < 0 || json_is_true(d, split)) sp->model_flags |= MOD__SP_SPLIT;
                replaced = 1;
            } else if (json_str_is(d, json_get(d, e, "type"), "Split") && replaced && !meta &&
                       json_str_is(d, json_get(d, json_get(d, e, "pattern"), "String"), " ") && !json_is_true(d, json_get(d, e, "invert"))) {
                /* the normalizer has already turned every space into U+2581: nothing to split */
            } else {
                return fail("%s: the pre-tokenizer %s is not one mod.h reproduces for SentencePiece-style BPE (it knows Metaspace); %s",
                            path, json_type_name(d, e), why);
            }
        }
    }
    if (!replaced) return fail("%s: neither the normalizer nor a Metaspace pre-tokenizer turns spaces into \"\xE2\x96\x81\"; %s", path, why);
    if (json_is_null(d, dec)) return fail("%s: the tokenizer has no decoder; %s", path, why);
    for (e = seq_first(d, dec, "decoders", &list); e >= 0; e = seq_next(d, e, list)) {
        int ty = json_get(d, e, "type");
        if (is_replace(d, e, "\xE2\x96\x81", " ")) dec_replace = 1;
        else if (json_str_is(d, ty, "ByteFallback")) dec_bytes = 1;
        else if (json_str_is(d, ty, "Fuse")) {}
        else if (json_str_is(d, ty, "Strip") && json_str_is(d, json_get(d, e, "content"), " ")) {
            long start, stop;
            if (json_int(d, json_get(d, e, "start"), 0, 1, &start) != 0 || json_int(d, json_get(d, e, "stop"), 0, 0, &stop) != 0)
                return fail("%s: the Strip decoder removes other than at most one leading space; %s", path, why);
            if (start) sp->decode_strip = MOD__SP_STRIP_ONE;
        } else if (json_str_is(d, ty, "Metaspace")) {
            int ps = json_get(d, e, "prepend_scheme"), aps = json_get(d, e, "add_prefix_space");
            int strips = ps >= 0 && !json_is_null(d, ps) ? !json_str_is(d, ps, "never") : aps < 0 || json_is_true(d, aps);
            dec_replace = 1;
            if (strips) sp->decode_strip = MOD__SP_STRIP_FIRST_TOKEN;
        } else {
            return fail("%s: the decoder %s is not one mod.h reproduces; %s", path, json_type_name(d, e), why);
        }
    }
    if (!dec_replace) return fail("%s: the decoder does not turn \"\xE2\x96\x81\" back into spaces; %s", path, why);
    if ((sp->model_flags & MOD__SP_BYTE_FALLBACK) && !dec_bytes)
        return fail("%s: the model falls back to byte tokens but the decoder has no ByteFallback; %s", path, why);
    return 0;
}

static const tokb *g_added_b;
static int cmp_added(const void *x, const void *y)
{
    const mod__added_token *a = (const mod__added_token *)x, *c = (const mod__added_token *)y;
    int r = memcmp(g_added_b->blob + a->offset, g_added_b->blob + c->offset, a->length < c->length ? a->length : c->length);
    if (r) return r;
    return a->length < c->length ? -1 : a->length > c->length;
}

/* Appends bytes to the blob after the token strings (the added tokens' texts). */
static int tokb_append(tokb *b, const void *p, size_t len, uint32_t *at)
{
    uint32_t keep = b->n ? b->off[b->n] : 0;
    *at = (uint32_t)b->blob_n;
    if (tokb_push(b, b->n - 1, p, len) != 0) return -1; /* sets off[n]; put back below */
    b->off[b->n] = keep;
    return 0;
}

/* The added-token table (kinds 1 and 3): every entry of added_tokens with its id, special
   flag and text as typed, appended to the blob after the token strings (b's tokens are all
   pushed); sorted by text. A special one must be a control token. */
/* Entry i of the added-token table: token id, its text as typed, special or not. */
static int tokb_added_entry(tokb *b, uint32_t i, long id, const char *s, size_t sl, int special, const char *path)
{
    b->added[i].id = (uint32_t)id;
    b->added[i].flags = special ? MOD__ADDED_SPECIAL : 0;
    b->added[i].length = (uint32_t)sl;
    if (special && b->type[id] != TT_CONTROL) return fail("%s: special token \"%s\" (id %ld) is also an ordinary token", path, show(s, sl), id);
    return tokb_append(b, s, sl, &b->added[i].offset);
}

/* The table's entries in the order of their texts; two with one text are an error. */
static int tokb_added_sort(tokb *b, const char *path)
{
    uint32_t i;
    g_added_b = b;
    qsort(b->added, b->n_added, sizeof *b->added, cmp_added);
    for (i = 1; i < b->n_added; i++)
        if (!cmp_added(&b->added[i - 1], &b->added[i])) return fail("%s: two added tokens are \"%s\"", path, show(b->blob + b->added[i].offset, b->added[i].length));
    return 0;
}

static int tokb_added_table(tokb *b, const json_doc *d, int added, const char *path)
{
    uint32_t i;
    int e;
    if (!b->n_added) return 0;
    b->added = (mod__added_token *)calloc(b->n_added, sizeof *b->added);
    if (!b->added) return fail("out of memory");
    for (e = d->nodes[added].child, i = 0; e >= 0 && i < b->n_added; e = d->nodes[e].next, i++) {
        size_t sl;
        const char *s = json_str(d, json_get(d, e, "content"), &sl);
        long id = 0;
        json_int(d, json_get(d, e, "id"), 0, 2147483647.0, &id);
        if (tokb_added_entry(b, i, id, s, sl, json_is_true(d, json_get(d, e, "special")), path) != 0) return -1;
    }
    return tokb_added_sort(b, path);
}

static const char *const sp_bos_names[] = { "<s>", "<bos>", NULL };
static const char *const sp_eos_names[] = { "</s>", "<eos>", NULL };

/* tokenizer.json of a SentencePiece-style BPE (Llama 2, Mistral, Gemma): kind 3. */
static int tok_from_json_sp(model *m, const char *path, const json_doc *d, int mdl, const json_doc *cfg, const char *cfg_path)
{
    int rc = -1, vocab = json_get(d, mdl, "vocab"), merges = json_get(d, mdl, "merges"), added = json_get(d, 0, "added_tokens"), e, k;
    tokb b;
    idhash h;
    uint32_t n = 0, i, *slen = NULL, *soff = NULL;
    uint8_t *stype = NULL, *have = NULL;
    unsigned char *tmp = NULL, *scratch = NULL;
    size_t tmp_n = 0, tmp_cap = 0;
    long bos, eos, unk = -1;
    memset(&b, 0, sizeof b);
    memset(&h, 0, sizeof h);
    if (vocab < 0 || d->nodes[vocab].type != JSON_OBJECT || merges < 0 || d->nodes[merges].type != JSON_ARRAY)
        return fail("%s: a BPE model needs a \"vocab\" object and a \"merges\" list", path);
    {
        static const char *const bad_keys[] = { "continuing_subword_prefix", "end_of_word_suffix" };
        for (k = 0; k < 2; k++) {
            int x = json_get(d, mdl, bad_keys[k]);
            if (x >= 0 && d->nodes[x].type != JSON_NULL && !(d->nodes[x].type == JSON_STRING && d->nodes[x].str_len == 0))
                return fail("%s: \"%s\" is set; mod.h's BPE has no subword markers", path, bad_keys[k]);
        }
        if (!json_is_null(d, json_get(d, mdl, "dropout")))
            return fail("%s: \"dropout\" is set; mod.h's BPE is deterministic", path);
    }
    b.kind = 3;
    if (json_is_true(d, json_get(d, mdl, "byte_fallback"))) b.sp.model_flags |= MOD__SP_BYTE_FALLBACK;
    if (json_is_true(d, json_get(d, mdl, "fuse_unk"))) b.sp.model_flags |= MOD__SP_FUSE_UNK;
    if (json_is_true(d, json_get(d, mdl, "ignore_merges"))) b.sp.model_flags |= MOD__SP_IGNORE_MERGES;
    if (sp_settings(d, path, &b.sp) != 0) return -1;
    soff = (uint32_t *)calloc((size_t)m->V, sizeof *soff);
    slen = (uint32_t *)calloc((size_t)m->V, sizeof *slen);
    stype = (uint8_t *)calloc((size_t)m->V, 1);
    have = (uint8_t *)calloc((size_t)m->V, 1);
    scratch = (unsigned char *)malloc(2 * (size_t)JSON_MAX_STRING + 8);
    if (!soff || !slen || !stype || !have || !scratch) { fail("out of memory"); goto done; }
    /* id -> bytes: the vocab, then the added tokens that are not in it */
    for (k = 0; k < 2; k++) {
        int list = k ? added : vocab;
        if (k && json_is_null(d, added)) break;
        if (k && d->nodes[added].type != JSON_ARRAY) { fail("%s: \"added_tokens\" must be a list", path); goto done; }
        for (e = d->nodes[list].child; e >= 0; e = d->nodes[e].next) {
            long id;
            const char *s;
            size_t sl, bl = 0;
            int type = TT_NORMAL, special = 0;
            if (!k) {
                s = d->out + d->nodes[e].key;
                sl = d->nodes[e].key_len;
                if (json_int(d, e, 0, 2147483647.0, &id) != 0) { fail("%s: vocab entry \"%s\" must have a non-negative integer id", path, show(s, sl)); goto done; }
            } else {
                int cn = json_get(d, e, "content");
                static const char *const unsupported[] = { "lstrip", "rstrip", "single_word", "normalized" };
                if (json_int(d, json_get(d, e, "id"), 0, 2147483647.0, &id) != 0 || cn < 0 || d->nodes[cn].type != JSON_STRING) {
                    fail("%s: every added token needs an integer \"id\" and a string \"content\"", path);
                    goto done;
                }
                s = json_str(d, cn, &sl);
                for (i = 0; i < 4; i++)
                    if (json_is_true(d, json_get(d, e, unsupported[i]))) {
                        fail("%s: added token \"%s\" has \"%s\": true, which mod.h does not implement; use --tokenizer none to convert without a tokenizer",
                             path, show(s, sl), unsupported[i]);
                        goto done;
                    }
                special = json_is_true(d, json_get(d, e, "special"));
                if (sl == 0) { fail("%s: added token %ld is empty", path, id); goto done; }
                if (sl > MOD__MAX_TOKEN_LEN) { fail("%s: added token %ld is %lu bytes; the format allows %d", path, id, (unsigned long)sl, MOD__MAX_TOKEN_LEN); goto done; }
            }
            if (id >= m->V) { fail("%s: token \"%s\" has id %ld, outside the model's vocab_size %d", path, show(s, sl), id, m->V); goto done; }
            if (!k && have[id]) { fail("%s: id %ld is used by two vocab entries", path, id); goto done; }
            if (k) {
                b.n_added++;
                if (have[id] && !special) continue; /* its vocab entry stands */
                if (special) type = TT_CONTROL;
            }
            if (type == TT_CONTROL) { memcpy(scratch, s, sl); bl = sl; }
            else if ((b.sp.model_flags & MOD__SP_BYTE_FALLBACK) && sl == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' &&
                     isxdigit_c((unsigned char)s[3]) && isxdigit_c((unsigned char)s[4]) && !(s[3] >= 'a' || s[4] >= 'a')) {
                scratch[0] = (unsigned char)(hexval((unsigned char)s[3]) * 16 + hexval((unsigned char)s[4]));
                bl = 1;
                type = TT_BYTE;
            } else if (sp_map(s, sl, scratch, &bl) != 0) {
                fail("%s: token \"%s\" (id %ld) has a literal space, which a SentencePiece-style vocabulary cannot hold here", path, show(s, sl), id);
                goto done;
            }
            if (bl == 0) type = TT_CONTROL;
            if (tmp_n + bl > tmp_cap) {
                size_t cap = tmp_cap ? tmp_cap * 2 : 65536;
                unsigned char *nt;
                while (cap < tmp_n + bl) cap *= 2;
                if (!(nt = (unsigned char *)realloc(tmp, cap))) { fail("out of memory"); goto done; }
                tmp = nt;
                tmp_cap = cap;
            }
            memcpy(tmp + tmp_n, scratch, bl);
            soff[id] = (uint32_t)tmp_n;
            slen[id] = (uint32_t)bl;
            stype[id] = (uint8_t)type;
            have[id] = 1;
            tmp_n += bl;
            if ((uint32_t)id + 1 > n) n = (uint32_t)id + 1;
        }
    }
    if (n == 0) { fail("%s: the vocabulary is empty", path); goto done; }
    if (tokb_alloc(&b, n) != 0) goto done;
    for (i = 0; i < n; i++) {
        b.off[i] = (uint32_t)b.blob_n;
        b.type[i] = have[i] ? stype[i] : TT_CONTROL;
        if (tokb_push(&b, i, have[i] ? tmp + soff[i] : NULL, have[i] ? slen[i] : 0) != 0) goto done;
    }
    /* the added-token table: ids and their texts as typed, after the token strings */
    if (tokb_added_table(&b, d, added, path) != 0) goto done;
    b.sp.n_added = b.n_added;
    if (idhash_build(&h, &b) != 0) goto done;
    /* the unk token, by its text */
    {
        int u = json_get(d, mdl, "unk_token");
        if (!json_is_null(d, u)) {
            size_t ul;
            const char *us = json_str(d, u, &ul);
            if (d->nodes[u].type != JSON_STRING) { fail("%s: \"unk_token\" must be a string or null", path); goto done; }
            for (e = d->nodes[vocab].child; e >= 0 && unk < 0; e = d->nodes[e].next)
                if (d->nodes[e].key_len == ul && !memcmp(d->out + d->nodes[e].key, us, ul)) json_int(d, e, 0, 2147483647.0, &unk);
            if (unk < 0) { fail("%s: the unk token \"%s\" is not in the vocab", path, show(us, ul)); goto done; }
        }
    }
    b.sp.unk_id = (int32_t)unk;
    if (read_merges(d, merges, path, &h, &b, sp_map, scratch) != 0) goto done;
    /* BOS and EOS: config.json first, then the usual names */
    if (config_token_id(cfg, cfg_path, "bos_token_id", MOD__MAX_VOCAB, &bos) != 0 || config_token_id(cfg, cfg_path, "eos_token_id", MOD__MAX_VOCAB, &eos) != 0) goto done;
    for (k = 0; k < 2; k++) {
        long *id = k ? &eos : &bos;
        if (*id >= (long)n) { fail("%s: \"%s\" is %ld, but %s has only %u tokens", cfg_path, k ? "eos_token_id" : "bos_token_id", *id, path, n); goto done; }
        if (*id == -2) *id = named_control(&b, k ? sp_eos_names : sp_bos_names);
    }
    b.bos = (int32_t)bos;
    b.eos = (int32_t)eos;
    if (tokb_finish(&b, path, &m->tok, &m->tok_size) != 0) goto done;
    snprintf(m->tok_desc, sizeof m->tok_desc, "SentencePiece-style BPE, %u tokens, %u merges, %u added tokens%s, bos %d, eos %d",
             b.n, b.n_merges, b.n_added, (b.sp.model_flags & MOD__SP_BYTE_FALLBACK) ? ", byte fallback" : "", (int)b.bos, (int)b.eos);
    rc = 0;
done:
    tokb_free(&b);
    free(h.slots); free(tmp); free(soff); free(slen); free(stype); free(have); free(scratch);
    return rc;
}

/* tokenizer.json (Hugging Face tokenizers, model type BPE, byte level). */
static int tok_from_json(model *m, const char *path, const json_doc *cfg, const char *cfg_path)
{
    char *buf = NULL;
    size_t len;
    json_doc d;
    int rc = -1, mdl, vocab, merges, added, e, ty;
    tokb b;
    idhash h;
    uint32_t *tmp_off = NULL, *tmp_len = NULL, n = 0, i;
    uint8_t *tmp_type = NULL, *have = NULL;
    unsigned char *tmp = NULL, *scratch = NULL;
    size_t tmp_n = 0, tmp_cap = 0;
    long bos, eos;
    memset(&d, 0, sizeof d);
    memset(&b, 0, sizeof b);
    memset(&h, 0, sizeof h);
    init_byte_alphabet();
    if (read_small(m, path, MAX_TOKENIZER_JSON, &buf, &len) != 0 || parse_json(&d, path, buf, len, 64) != 0) goto done;
    mdl = json_get(&d, 0, "model");
    if (mdl < 0 || d.nodes[mdl].type != JSON_OBJECT) { fail("%s: no \"model\" object", path); goto done; }
    ty = json_get(&d, mdl, "type");
    if (ty >= 0 && !json_str_is(&d, ty, "BPE")) {
        fail("%s: unsupported tokenizer model type \"%s\": mod.h stores byte-level BPE (and llama2.c scored BPE); use --tokenizer none to convert without a tokenizer",
             path, d.nodes[ty].type == JSON_STRING ? show(json_str(&d, ty, NULL), d.nodes[ty].str_len) : "?");
        goto done;
    }
    if (sp_style(&d, mdl)) { /* SentencePiece-style: kind 3 */
        rc = tok_from_json_sp(m, path, &d, mdl, cfg, cfg_path);
        goto done;
    }
    vocab = json_get(&d, mdl, "vocab");
    merges = json_get(&d, mdl, "merges");
    if (vocab < 0 || d.nodes[vocab].type != JSON_OBJECT || merges < 0 || d.nodes[merges].type != JSON_ARRAY) {
        fail("%s: a BPE model needs a \"vocab\" object and a \"merges\" list", path);
        goto done;
    }
    {
        static const char *const bad_keys[] = { "continuing_subword_prefix", "end_of_word_suffix" };
        int k;
        for (k = 0; k < 2; k++) {
            int x = json_get(&d, mdl, bad_keys[k]);
            if (x >= 0 && d.nodes[x].type != JSON_NULL && !(d.nodes[x].type == JSON_STRING && d.nodes[x].str_len == 0)) {
                fail("%s: \"%s\" is set; mod.h's BPE has no subword markers", path, bad_keys[k]);
                goto done;
            }
        }
    }
    if (json_pretok(&d, path, &b.pretok, &b.flags) != 0) goto done;
    e = json_get(&d, mdl, "ignore_merges");
    if (e >= 0 && d.nodes[e].type == JSON_TRUE) b.flags |= 2u; /* a piece that is a token stays whole */
    b.kind = 1;
    tmp_off = (uint32_t *)calloc((size_t)m->V, sizeof *tmp_off);
    tmp_len = (uint32_t *)calloc((size_t)m->V, sizeof *tmp_len);
    tmp_type = (uint8_t *)calloc((size_t)m->V, 1);
    have = (uint8_t *)calloc((size_t)m->V, 1);
    scratch = (unsigned char *)malloc(2 * (size_t)JSON_MAX_STRING + 8); /* both halves of a merge */
    if (!tmp_off || !tmp_len || !tmp_type || !have || !scratch) { fail("out of memory"); goto done; }
    /* collect id -> bytes from the vocab, then the added tokens (which win) */
    added = json_get(&d, 0, "added_tokens");
    for (e = d.nodes[vocab].child; e >= 0; e = d.nodes[e].next) {
        long id;
        const char *s = d.out + d.nodes[e].key;
        size_t sl = d.nodes[e].key_len, bl;
        if (json_int(&d, e, 0, 2147483647.0, &id) != 0) { fail("%s: vocab entry \"%s\" must have a non-negative integer id", path, show(s, sl)); goto done; }
        if (id >= m->V) { fail("%s: token \"%s\" has id %ld, outside the model's vocab_size %d", path, show(s, sl), id, m->V); goto done; }
        if (have[id]) { fail("%s: id %ld is used by two vocab entries", path, id); goto done; }
        if (unmap_bytes(s, sl, scratch, &bl) != 0) { fail("%s: vocab token \"%s\" (id %ld) has a character outside the byte-level alphabet", path, show(s, sl), id); goto done; }
        if (tmp_n + bl > tmp_cap) {
            size_t cap = tmp_cap ? tmp_cap * 2 : 65536;
            unsigned char *nt;
            while (cap < tmp_n + bl) cap *= 2;
            if (!(nt = (unsigned char *)realloc(tmp, cap))) { fail("out of memory"); goto done; }
            tmp = nt;
            tmp_cap = cap;
        }
        memcpy(tmp + tmp_n, scratch, bl);
        tmp_off[id] = (uint32_t)tmp_n;
        tmp_len[id] = (uint32_t)bl;
        tmp_type[id] = bl ? TT_NORMAL : TT_CONTROL;
        have[id] = 1;
        tmp_n += bl;
        if ((uint32_t)id + 1 > n) n = (uint32_t)id + 1;
    }
    if (added >= 0 && d.nodes[added].type != JSON_NULL) {
        if (d.nodes[added].type != JSON_ARRAY) { fail("%s: \"added_tokens\" must be a list", path); goto done; }
        for (e = d.nodes[added].child; e >= 0; e = d.nodes[e].next) {
            int idn = json_get(&d, e, "id"), cn = json_get(&d, e, "content"), sp = json_get(&d, e, "special");
            long id;
            size_t cl;
            const char *c;
            if (json_int(&d, idn, 0, 2147483647.0, &id) != 0 || cn < 0 || d.nodes[cn].type != JSON_STRING) {
                fail("%s: every added token needs an integer \"id\" and a string \"content\"", path);
                goto done;
            }
            c = json_str(&d, cn, &cl);
            if (id >= m->V) { fail("%s: added token \"%s\" has id %ld, outside the model's vocab_size %d", path, show(c, cl), id, m->V); goto done; }
            {   /* every added token is matched in the text as typed (docs/CONVERT.md) */
                static const char *const unsupported[] = { "lstrip", "rstrip", "single_word", "normalized" };
                int k;
                for (k = 0; k < 4; k++)
                    if (json_is_true(&d, json_get(&d, e, unsupported[k])) && (k < 3 || (b.flags & 4u))) {
                        fail("%s: added token \"%s\" has \"%s\": true%s, which mod.h does not implement; use --tokenizer none to convert without a tokenizer",
                             path, show(c, cl), unsupported[k], k == 3 ? " with the NFC normalizer" : "");
                        goto done;
                    }
            }
            if (cl == 0) { fail("%s: added token %ld is empty", path, id); goto done; }
            if (cl > MOD__MAX_TOKEN_LEN) { fail("%s: added token %ld is %lu bytes; the format allows %d", path, id, (unsigned long)cl, MOD__MAX_TOKEN_LEN); goto done; }
            b.n_added++;
            if (sp >= 0 && d.nodes[sp].type == JSON_TRUE) {
                /* control: its text is only for display */
            } else if (have[id]) {
                continue; /* an ordinary token already in the vocab */
            }
            if (tmp_n + cl > tmp_cap) {
                size_t cap = tmp_cap ? tmp_cap * 2 : 65536;
                unsigned char *nt;
                while (cap < tmp_n + cl) cap *= 2;
                if (!(nt = (unsigned char *)realloc(tmp, cap))) { fail("out of memory"); goto done; }
                tmp = nt;
                tmp_cap = cap;
            }
            memcpy(tmp + tmp_n, c, cl);
            tmp_off[id] = (uint32_t)tmp_n;
            tmp_len[id] = (uint32_t)cl;
            tmp_type[id] = (sp >= 0 && d.nodes[sp].type == JSON_TRUE) || cl == 0 ? TT_CONTROL : TT_NORMAL;
            have[id] = 2; /* from added_tokens */
            tmp_n += cl;
            if ((uint32_t)id + 1 > n) n = (uint32_t)id + 1;
        }
    }
    if (n == 0) { fail("%s: the vocabulary is empty", path); goto done; }
    if (tokb_alloc(&b, n) != 0) goto done;
    for (i = 0; i < n; i++) {
        b.off[i] = (uint32_t)b.blob_n;
        b.type[i] = have[i] ? tmp_type[i] : TT_CONTROL; /* ids without a token: empty control */
        if (tokb_push(&b, i, have[i] ? tmp + tmp_off[i] : NULL, have[i] ? tmp_len[i] : 0) != 0) goto done;
    }
    if (demote_added_copies(&b, have) != 0) goto done;
    /* the added-token table: every added token, matched in the text before it is split */
    if (tokb_added_table(&b, &d, added, path) != 0 || idhash_build(&h, &b) != 0) goto done;
    if (read_merges(&d, merges, path, &h, &b, unmap_bytes, scratch) != 0) goto done;
    /* BOS and EOS: config.json first, then conventional special-token names */
    if (config_token_id(cfg, cfg_path, "bos_token_id", MOD__MAX_VOCAB, &bos) != 0 || config_token_id(cfg, cfg_path, "eos_token_id", MOD__MAX_VOCAB, &eos) != 0) goto done;
    {
        int pass;
        for (pass = 0; pass < 2; pass++) {
            long *id = pass ? &eos : &bos;
            if (*id >= (long)n) { fail("%s: \"%s\" is %ld, but %s has only %u tokens", cfg_path, pass ? "eos_token_id" : "bos_token_id", *id, path, n); goto done; }
            if (*id == -2) *id = named_control(&b, pass ? eos_names : bos_names);
        }
    }
    b.bos = (int32_t)bos;
    b.eos = (int32_t)eos;
    if (tokb_finish(&b, path, &m->tok, &m->tok_size) != 0) goto done;
    snprintf(m->tok_desc, sizeof m->tok_desc, "byte-level BPE, %u tokens, %u merges, %u added tokens, %s pretokenizer%s%s%s, bos %d, eos %d",
             b.n, b.n_merges, b.n_added, pretok_names[b.pretok], (b.flags & 1u) ? ", prefix space" : "",
             (b.flags & 2u) ? ", whole-piece tokens (ignore_merges)" : "", (b.flags & 4u) ? ", NFC" : "", (int)b.bos, (int)b.eos);
    rc = 0;
done:
    tokb_free(&b);
    free(h.slots); free(tmp); free(tmp_off); free(tmp_len); free(tmp_type); free(have); free(scratch);
    json_free(&d);
    free(buf);
    return rc;
}

/* llama2.c tokenizer.bin: int32 max_token_length, then per token f32 score, int32 len, bytes. */
static int tok_from_llama2c_bin(model *m, const char *path)
{
    char *buf = NULL;
    size_t len, pos = 4;
    tokb b;
    uint32_t i;
    int rc = -1;
    memset(&b, 0, sizeof b);
    if (read_small(m, path, (size_t)m->V * (8 + MOD__MAX_TOKEN_LEN) + 4, &buf, &len) != 0) goto done;
    if (len < 4) { fail("%s is truncated: %lu bytes, shorter than its 4-byte header", path, (unsigned long)len); goto done; }
    if (m->V < 3) { fail("%s: a llama2.c vocabulary has <unk>, <s> and </s> first; the model's vocab_size is %d", path, m->V); goto done; }
    if (tokb_alloc(&b, (uint32_t)m->V) != 0) goto done;
    b.kind = 2;
    b.flags = 1u;
    b.bos = 1;
    b.eos = 2;
    for (i = 0; i < (uint32_t)m->V; i++) {
        const unsigned char *p = (const unsigned char *)buf + pos;
        float score;
        int32_t l;
        unsigned char byte;
        if (len - pos < 8) { fail("%s is truncated: token %u of %d is missing (a tokenizer for a smaller vocabulary?)", path, i, m->V); goto done; }
        score = mf_get_f32(p);
        l = (int32_t)mf_get_u32(p + 4);
        pos += 8;
        if (l < 0 || l > MOD__MAX_TOKEN_LEN) { fail("%s: token %u has length %ld; the format allows 0 to %d bytes", path, i, (long)l, MOD__MAX_TOKEN_LEN); goto done; }
        if (len - pos < (size_t)l) { fail("%s is truncated: token %u needs %ld bytes, %lu remain", path, i, (long)l, (unsigned long)(len - pos)); goto done; }
        if (!(score >= -3.4e38f && score <= 3.4e38f)) { fail("%s: token %u has a score that is not a finite number", path, i); goto done; }
        b.score[i] = score;
        p += 8;
        b.off[i] = (uint32_t)b.blob_n;
        if (i < 3) b.type[i] = TT_CONTROL;
        else if (l == 6 && p[0] == '<' && p[1] == '0' && p[2] == 'x' && p[5] == '>' && isxdigit_c(p[3]) && isxdigit_c(p[4])) {
            b.type[i] = TT_BYTE;
            byte = (unsigned char)(hexval(p[3]) << 4 | hexval(p[4]));
            if (tokb_push(&b, i, &byte, 1) != 0) goto done;
            pos += 6;
            continue;
        } else b.type[i] = l ? TT_NORMAL : TT_CONTROL;
        if (tokb_push(&b, i, p, (size_t)l) != 0) goto done;
        pos += (size_t)l;
    }
    if (pos != len) { fail("%s has %lu bytes after the model's %d tokens (a tokenizer for a different model?)", path, (unsigned long)(len - pos), m->V); goto done; }
    if (tokb_finish(&b, path, &m->tok, &m->tok_size) != 0) goto done;
    snprintf(m->tok_desc, sizeof m->tok_desc, "scored BPE (llama2.c), %u tokens, bos 1, eos 2", b.n);
    rc = 0;
done:
    tokb_free(&b);
    free(buf);
    return rc;
}

/* ---- llama2.c checkpoints ---------------------------------------------------------------- */

/* Legacy files: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
   a negative vocab_size means an unshared classifier follows), then embedding, attention
   norms, wq, wk, wv, wo, ffn norms, w1, w2, w3, final norm, two RoPE tables, [classifier].
   Version 1 ("ak42"): 256-byte header (magic, version, the 7 ints, a shared-classifier byte),
   then attention norms, ffn norms, final norm, embedding, wq, wk, wv, wo, w1, w2, w3,
   [classifier]. Everything is float32. */
static int read_llama2c(model *m, const opts *o)
{
    int fi, shared, l, v1;
    unsigned char p[256];
    int32_t hdr[7];
    uint64_t size, base, d, hd, kvd, F, V, L, seq, need, off;
    uint64_t o_emb, o_att, o_q, o_k, o_v, o_o, o_ffn, o_w1, o_w2, o_w3, o_fin, o_cls;
    const char *path = o->input;
    int i;
    if (open_input(m, path, &fi) != 0) return -1;
    size = m->files[fi].size;
    memset(p, 0, sizeof p);
    if (size < 28) return fail("%s: %llu bytes, shorter than a llama2.c checkpoint header (28 bytes)", path, (unsigned long long)size);
    if (read_at(m->files[fi].fd, p, size < 256 ? (size_t)size : 256, 0, path) != 0) return -1;
    v1 = mf_get_u32(p) == 0x616b3432u;
    if (v1) {
        int32_t version = (int32_t)mf_get_u32(p + 4);
        if (version != 1)
            return fail("%s: llama2.c export version %ld is not supported (version 2 is quantized Q8_0); export with --version 0 or 1", path, (long)version);
        if (size < 256) return fail("%s: %llu bytes, shorter than the 256-byte header of a llama2.c version 1 checkpoint", path, (unsigned long long)size);
        for (i = 0; i < 7; i++) hdr[i] = (int32_t)mf_get_u32(p + 8 + 4 * i);
        shared = p[36] != 0;
        base = 256;
        m->format = "llama2.c version 1 (ak42)";
    } else {
        for (i = 0; i < 7; i++) hdr[i] = (int32_t)mf_get_u32(p + 4 * i);
        shared = hdr[5] > 0;
        if (hdr[5] < 0 && hdr[5] != INT32_MIN) hdr[5] = -hdr[5];
        base = 28;
        m->format = "llama2.c legacy";
    }
    if (hdr[0] < 2 || hdr[0] > MOD__MAX_DIM || hdr[1] < 1 || hdr[1] > 4 * MOD__MAX_DIM || hdr[2] < 1 || hdr[2] > MOD__MAX_LAYERS ||
        hdr[3] < 1 || hdr[3] > hdr[0] || hdr[4] < 1 || hdr[4] > hdr[3] || hdr[5] < 1 || hdr[5] > MOD__MAX_VOCAB || hdr[6] < 1 || hdr[6] > MOD__MAX_SEQ)
        return fail("%s: not a llama2.c checkpoint, or a damaged one: header dim %ld, hidden_dim %ld, n_layers %ld, n_heads %ld, n_kv_heads %ld, vocab_size %ld, seq_len %ld",
                    path, (long)hdr[0], (long)hdr[1], (long)hdr[2], (long)hdr[3], (long)hdr[4], (long)hdr[5], (long)hdr[6]);
    if (hdr[0] % hdr[3]) return fail("%s: n_heads %ld does not divide dim %ld", path, (long)hdr[3], (long)hdr[0]);
    if ((hdr[0] / hdr[3]) % 2) return fail("%s: the head size %ld is odd; RoPE needs it even", path, (long)(hdr[0] / hdr[3]));
    if (hdr[3] % hdr[4]) return fail("%s: n_kv_heads %ld does not divide n_heads %ld", path, (long)hdr[4], (long)hdr[3]);
    m->d = hdr[0]; m->F = hdr[1]; m->L = hdr[2]; m->H = hdr[3]; m->Hkv = hdr[4]; m->V = hdr[5]; m->seq = hdr[6];
    m->eps = 1e-5f;
    m->theta = 10000.0f;
    m->tied = shared;
    d = (uint64_t)m->d; hd = d / (uint64_t)m->H; kvd = hd * (uint64_t)m->Hkv; F = (uint64_t)m->F;
    V = (uint64_t)m->V; L = (uint64_t)m->L; seq = (uint64_t)m->seq;
    /* offsets in floats from base; every term is below 2^62 given the limits above */
    off = 0;
    if (v1) {
        o_att = off; off += L * d;
        o_ffn = off; off += L * d;
        o_fin = off; off += d;
        o_emb = off; off += V * d;
    } else {
        o_emb = off; off += V * d;
        o_att = off; off += L * d;
        o_ffn = 0; o_fin = 0;
    }
    o_q = off; off += L * d * d;
    o_k = off; off += L * kvd * d;
    o_v = off; off += L * kvd * d;
    o_o = off; off += L * d * d;
    if (!v1) { o_ffn = off; off += L * d; }
    o_w1 = off; off += L * F * d;
    o_w2 = off; off += L * d * F;
    o_w3 = off; off += L * F * d;
    if (!v1) { o_fin = off; off += d; off += seq * hd; /* freq_cis real and imaginary, unused */ }
    o_cls = shared ? o_emb : off;
    if (!shared) off += V * d;
    need = base + 4 * off;
    if (size < need)
        return fail("%s: the llama2.c checkpoint is %llu bytes, shorter than the %llu its header implies (dim %d, hidden_dim %d, n_layers %d, n_kv_heads %d, vocab_size %d, %s classifier): truncated?",
                    path, (unsigned long long)size, (unsigned long long)need, m->d, m->F, m->L, m->Hkv, m->V, shared ? "shared" : "separate");
    if (size > need)
        return fail("%s: the llama2.c checkpoint is %llu bytes, %llu more than its header implies (dim %d, hidden_dim %d, n_layers %d, n_kv_heads %d, vocab_size %d, %s classifier)",
                    path, (unsigned long long)size, (unsigned long long)(size - need), m->d, m->F, m->L, m->Hkv, m->V, shared ? "shared" : "separate");
    if (o->mod_layers && strcmp(o->mod_layers, "none") != 0)
        return fail("%s: llama2.c checkpoints have no router weights, so no block can be routed (--mod-layers)", path);
    if (resolve_routing(m, o, NULL, NULL) != 0) return -1;
    m->slots = (src *)calloc((size_t)(m->L + 1) * NROLES, sizeof *m->slots);
    if (!m->slots) return fail("out of memory");
#define L2C(role, layer, foff, r, c, what) do { \
        src *s_ = slot(m, role, layer); \
        s_->present = 1; s_->name = label(m, what, layer); s_->dtype = MOD_DTYPE_F32; \
        s_->fd = m->files[fi].fd; s_->path = path; s_->off = base + 4 * (foff); \
        s_->rows = (r); s_->cols = (c); \
    } while (0)
    L2C(MOD__ROLE_EMBED, -1, o_emb, V, d, "token_embedding_table");
    L2C(MOD__ROLE_OUT_NORM, -1, o_fin, 0, d, "rms_final_weight");
    if (!shared) L2C(MOD__ROLE_OUTPUT, -1, o_cls, V, d, "wcls");
    for (l = 0; l < m->L; l++) {
        uint64_t ul = (uint64_t)l;
        L2C(MOD__ROLE_ATTN_NORM, l, o_att + ul * d, 0, d, "rms_att_weight[layer %d]");
        L2C(MOD__ROLE_Q, l, o_q + ul * d * d, d, d, "wq[layer %d]");
        L2C(MOD__ROLE_K, l, o_k + ul * kvd * d, kvd, d, "wk[layer %d]");
        L2C(MOD__ROLE_V, l, o_v + ul * kvd * d, kvd, d, "wv[layer %d]");
        L2C(MOD__ROLE_O, l, o_o + ul * d * d, d, d, "wo[layer %d]");
        L2C(MOD__ROLE_MLP_NORM, l, o_ffn + ul * d, 0, d, "rms_ffn_weight[layer %d]");
        L2C(MOD__ROLE_GATE, l, o_w1 + ul * F * d, F, d, "w1[layer %d]");
        L2C(MOD__ROLE_DOWN, l, o_w2 + ul * d * F, d, F, "w2[layer %d]");
        L2C(MOD__ROLE_UP, l, o_w3 + ul * F * d, F, d, "w3[layer %d]");
        /* llama2.c rotates adjacent pairs (2j, 2j+1); MODEL.md rotates (j, j + hd/2) */
        slot(m, MOD__ROLE_Q, l)->perm_hd = (int)hd;
        slot(m, MOD__ROLE_K, l)->perm_hd = (int)hd;
    }
#undef L2C
    if (o->tokenizer && !o->tok_none) {
        if (tok_from_llama2c_bin(m, o->tokenizer) != 0) return -1;
    } else if (!o->tok_none) {
        note("no tokenizer given: the model file will have none (pass --tokenizer tokenizer.bin to embed one)");
    }
    return 0;
}

/* ---- the chat template ---------------------------------------------------------------- */

/* Keeps a chat template (from tokenizer_config.json or a GGUF file's metadata, path names it)
   for the model file's chat template section: at most MOD__MAX_CHAT_TEMPLATE bytes, no NUL. */
static int keep_chat_template(model *m, const char *text, size_t tlen, const char *path)
{
    if (tlen > MOD__MAX_CHAT_TEMPLATE)
        return fail("%s: the chat template is %llu bytes, more than the %d a model file holds", path, (unsigned long long)tlen, MOD__MAX_CHAT_TEMPLATE);
    if (memchr(text, 0, tlen)) return fail("%s: the chat template contains a NUL character", path);
    free(m->chat_template);
    m->chat_template = (char *)malloc(tlen);
    if (!m->chat_template) return fail("out of memory");
    memcpy(m->chat_template, text, tlen);
    m->chat_template_len = tlen;
    return 0;
}

/* tokenizer_config.json beside tokenizer.json: its chat_template, a string or a list of
   {"name", "template"} from which the one named "default" is taken, kept for the model file's
   chat template section. No file or no template: none. */
static int read_chat_template(model *m, const char *tok_path)
{
    const char *slash = strrchr(tok_path, '/');
    char *dir = NULL, *path = NULL, *buf = NULL;
    size_t len, tlen = 0;
    const char *text = NULL;
    json_doc d;
    int rc = -1, ct, k;
    struct stat st;
    memset(&d, 0, sizeof d);
    dir = slash ? (char *)malloc((size_t)(slash - tok_path) + 1) : xstrdup(".");
    if (!dir) return fail("out of memory");
    if (slash) { memcpy(dir, tok_path, (size_t)(slash - tok_path)); dir[slash - tok_path] = 0; }
    path = join(dir, "tokenizer_config.json");
    if (!path) { fail("out of memory"); goto done; }
    if (stat(path, &st) != 0) { rc = 0; goto done; }
    if (read_small(m, path, MAX_CONFIG_JSON, &buf, &len) != 0 || parse_json(&d, path, buf, len, 64) != 0) goto done;
    ct = json_get(&d, 0, "chat_template");
    if (json_type_of(&d, ct) == JSON_STRING) {
        text = json_str(&d, ct, &tlen);
    } else if (json_type_of(&d, ct) == JSON_ARRAY) {
        for (k = 0; k < (int)d.nodes[ct].count; k++) {
            const int e = json_at(&d, ct, (size_t)k), nm = json_get(&d, e, "name"), tp = json_get(&d, e, "template");
            if (json_type_of(&d, nm) != JSON_STRING || json_type_of(&d, tp) != JSON_STRING) {
                fail("%s: chat_template is a list whose entry %d is not {\"name\": string, \"template\": string}", path, k);
                goto done;
            }
            if (json_str_is(&d, nm, "default")) text = json_str(&d, tp, &tlen);
        }
        if (!text) note("%s: chat_template is a list of named templates without one named \"default\": no chat template is stored", path);
    } else if (ct >= 0 && json_type_of(&d, ct) != JSON_NULL) {
        fail("%s: chat_template is neither a string nor a list of named templates", path);
        goto done;
    }
    if (text && tlen && keep_chat_template(m, text, tlen, path) != 0) goto done;
    rc = 0;
done:
    json_free(&d);
    free(buf);
    free(path);
    free(dir);
    return rc;
}

/* ---- Hugging Face style directories ---------------------------------------------------- */

static int read_hf(model *m, const opts *o)
{
    char *cfg_path = join(o->input, "config.json"), *tok_path = NULL, *buf = NULL;
    size_t len, k;
    json_doc cfg;
    mapping mp;
    int tie_key, rc = -1;
    struct stat st;
    memset(&cfg, 0, sizeof cfg);
    memset(&mp, 0, sizeof mp);
    m->format = "safetensors";
    if (!cfg_path) return fail("out of memory");
    if (read_small(m, cfg_path, MAX_CONFIG_JSON, &buf, &len) != 0 || parse_json(&cfg, cfg_path, buf, len, 64) != 0) goto done;
    if (read_config(m, &cfg, cfg_path, &tie_key) != 0 || resolve_routing(m, o, &cfg, cfg_path) != 0) goto done;
    if (load_weights(m, o->input) != 0) goto done;
    m->slots = (src *)calloc((size_t)(m->L + 1) * NROLES, sizeof *m->slots);
    mp.at = (const tensor **)calloc((size_t)(m->L + 1) * NROLES, sizeof *mp.at);
    mp.pkind = (int *)calloc((size_t)m->L, sizeof *mp.pkind);
    mp.pkind_by = (const tensor **)calloc((size_t)m->L, sizeof *mp.pkind_by);
    if (!m->slots || !mp.at || !mp.pkind || !mp.pkind_by) { fail("out of memory"); goto done; }
    for (k = 0; k < m->n_tensors; k++)
        if (!m->tensors[k].used && map_tensor(m, &mp, &m->tensors[k]) != 0) goto done;
    if (assign_hf(m, &mp, tie_key) != 0) goto done;
    if (m->gemma_scale) {
        /* the dtype the model runs in: config.json's torch_dtype, else the embedding's */
        const int dt = m->run_dtype >= 0 ? m->run_dtype : mp.at[MOD__ROLE_EMBED]->dtype;
        m->embed_scale = embed_normalizer(m->d, dt);
    }
    /* the tokenizer */
    if (!o->tok_none) {
        if (o->tokenizer) tok_path = xstrdup(o->tokenizer);
        else {
            tok_path = join(o->input, "tokenizer.json");
            if (tok_path && stat(tok_path, &st) != 0) {
                note("%s has no tokenizer.json: the model file will have no tokenizer", o->input);
                free(tok_path);
                tok_path = NULL;
            }
        }
        if (tok_path && (tok_from_json(m, tok_path, &cfg, cfg_path) != 0 || read_chat_template(m, tok_path) != 0)) goto done;
    }
    rc = 0;
done:
    free(mp.at); free(mp.pkind); free(mp.pkind_by);
    json_free(&cfg);
    free(buf);
    free(cfg_path);
    free(tok_path);
    return rc;
}

/* ---- GGUF files ------------------------------------------------------------------------------ */

/* A GGUF file (docs/CONVERT.md, "GGUF"): read by tools/gguf.h from the mapped file, every count,
   size and offset checked there; the architecture's hyperparameters come from its {arch}.*
   keys, the tensors from ggml's names, the tokenizer from tokenizer.ggml.*. */

static const struct { const char *arch; int permuted; } gguf_archs[] = {
    /* llama.cpp's converter permutes the q/k rows (and biases) of the Llama layout for its
       interleaved RoPE; Qwen2 and Gemma run with rotate-half and are stored as they are */
    { "llama", 1 }, { "mistral", 1 }, { "qwen2", 0 }, { "gemma", 0 }
};

static const struct { const char *suffix; int role; } gguf_block_names[] = {
    { "attn_norm.weight", MOD__ROLE_ATTN_NORM }, { "attn_q.weight", MOD__ROLE_Q }, { "attn_k.weight", MOD__ROLE_K },
    { "attn_v.weight", MOD__ROLE_V }, { "attn_output.weight", MOD__ROLE_O }, { "attn_q.bias", MOD__ROLE_Q_BIAS },
    { "attn_k.bias", MOD__ROLE_K_BIAS }, { "attn_v.bias", MOD__ROLE_V_BIAS }, { "attn_output.bias", MOD__ROLE_O_BIAS },
    { "ffn_norm.weight", MOD__ROLE_MLP_NORM }, { "ffn_gate.weight", MOD__ROLE_GATE }, { "ffn_up.weight", MOD__ROLE_UP },
    { "ffn_down.weight", MOD__ROLE_DOWN }, { "ffn_gate.bias", MOD__ROLE_GATE_BIAS }, { "ffn_up.bias", MOD__ROLE_UP_BIAS },
    { "ffn_down.bias", MOD__ROLE_DOWN_BIAS }
};

/* The GGUF name of a role (for messages about missing tensors); %d is the block. */
static const char *gguf_role_name(int role)
{
    size_t k;
    if (role == MOD__ROLE_EMBED) return "token_embd.weight";
    if (role == MOD__ROLE_OUT_NORM) return "output_norm.weight";
    if (role == MOD__ROLE_OUTPUT) return "output.weight";
    for (k = 0; k < sizeof gguf_block_names / sizeof gguf_block_names[0]; k++)
        if (gguf_block_names[k].role == role) return gguf_block_names[k].suffix;
    return "?";
}

/* The metadata key {arch}.name, or NULL. */
static const gguf_kv *gg_key(const gguf_file *g, const char *arch, const char *name, char *key, size_t cap)
{
    snprintf(key, cap, "%s.%s", arch, name);
    return gguf_get(g, key);
}

/* An integer hyperparameter {arch}.name in [lo, hi]; absent: def, or a failure when required. */
static int gg_int(const gguf_file *g, const char *path, const char *arch, const char *name, int required, int64_t lo, int64_t hi,
                  int64_t def, int *out)
{
    char key[128];
    const gguf_kv *kv = gg_key(g, arch, name, key, sizeof key);
    int64_t v;
    if (!kv) {
        if (required) return fail("%s: missing metadata key %s", path, key);
        *out = (int)def;
        return 0;
    }
    if (kv->type == GGUF_ARRAY)
        return fail("%s: %s is an array (a value per block); mod.h's blocks all have the same shape", path, key);
    if (gguf_int(g, kv, &v) != 0 || v < lo || v > hi)
        return fail("%s: %s must be an integer in [%lld, %lld]", path, key, (long long)lo, (long long)hi);
    *out = (int)v;
    return 0;
}

/* A float hyperparameter {arch}.name in (lo, hi]; absent: def, or a failure when required. */
static int gg_float(const gguf_file *g, const char *path, const char *arch, const char *name, int required, double lo, double hi,
                    double def, float *out)
{
    char key[128];
    const gguf_kv *kv = gg_key(g, arch, name, key, sizeof key);
    double v;
    if (!kv) {
        if (required) return fail("%s: missing metadata key %s", path, key);
        *out = (float)def;
        return 0;
    }
    if (gguf_float(g, kv, &v) != 0 || !((float)v > (float)lo && v <= hi))
        return fail("%s: %s must be a number in (%g, %g]", path, key, lo, hi);
    *out = (float)v;
    return 0;
}

/* A string value: 1 with s and n when key is a string, 0 when absent, -1 (failed) otherwise. */
static int gg_str(const gguf_file *g, const char *path, const char *key, const char **s, size_t *n)
{
    const gguf_kv *kv = gguf_get(g, key);
    if (!kv) return 0;
    if (kv->type != GGUF_STRING) return fail("%s: %s must be a string, it is a %s", path, key, gguf_value_type_names[kv->type]);
    *s = (const char *)g->p + kv->off;
    *n = (size_t)kv->n;
    return 1;
}

static int str_is(const char *s, size_t n, const char *lit) { return strlen(lit) == n && !memcmp(s, lit, n); }

/* The factor of frequency i of the llama3 scaling as llama.cpp's converter stores it in
   rope_freqs.weight (the frequency is divided by it). */
static double llama3_freq_factor(double theta, int hd, int i, double factor, double low, double high, double orig)
{
    const double f = pow(theta, -2.0 * i / hd), w = 2.0 * 3.14159265358979323846 / f, sm = (orig / w - low) / (high - low);
    if (w < orig / high) return 1.0;
    if (w > orig / low) return factor;
    return 1.0 / ((1.0 - sm) / factor + sm);
}

/* rope_freqs.weight (Llama 3.1 and later): per-frequency factors computed from the four
   numbers of the llama3 scaling, which the file does not keep. The factor is the last entry
   (the longest wavelength); the other three are found among the values published models use,
   by comparing every entry. */
static int gguf_llama3(model *m, const gguf_file *g, const gguf_tensor *t, const char *path)
{
    static const double lows[] = { 1, 2, 0.5 }, highs[] = { 4, 2, 8 }, origs[] = { 8192, 4096, 16384, 32768, 2048, 65536 };
    const int n = m->hd / 2;
    const unsigned char *p = g->p + g->data_offset + t->offset;
    char key[128];
    double factor;
    size_t a, b, c;
    int i;
    if (t->type != GGML_T_F32 || t->n_dims != 1 || t->ne[0] != (uint64_t)n)
        return fail("%s: tensor rope_freqs.weight must be F32 of %d values (half the head size), it is %s of %llu", path, n,
                    gguf_type_name(t->type), (unsigned long long)t->n_elems);
    factor = mf_get_f32(p + 4 * (size_t)(n - 1));
    if (!(factor >= 1.0 && factor < 1e6)) return fail("%s: rope_freqs.weight: its last factor %g is not a llama3 scaling factor (>= 1)", path, factor);
    for (a = 0; a < sizeof origs / sizeof origs[0] + 1; a++) {
        double orig = a ? origs[a - 1] : 0;
        if (!a) { /* the file's own original context length first, when it has one */
            const gguf_kv *kv = gg_key(g, m->family, "rope.scaling.original_context_length", key, sizeof key);
            int64_t x;
            if (!kv || gguf_int(g, kv, &x) != 0 || x < 1 || x > MOD__MAX_SEQ) continue;
            orig = (double)x;
        }
        for (b = 0; b < sizeof lows / sizeof lows[0]; b++)
            for (c = 0; c < sizeof highs / sizeof highs[0]; c++) {
                if (!(highs[c] > lows[b])) continue;
                for (i = 0; i < n; i++) {
                    const double want = llama3_freq_factor(m->theta, m->hd, i, factor, lows[b], highs[c], orig);
                    if (fabs((double)mf_get_f32(p + 4 * (size_t)i) - want) > 1e-4 * want) break;
                }
                if (i == n) {
                    m->rope_scaling = MOD_ROPE_SCALING_LLAMA3;
                    m->rope_factor = (float)factor; m->rope_low = (float)lows[b]; m->rope_high = (float)highs[c];
                    m->rope_orig = (int)orig;
                    note("%s: rope_freqs.weight is the llama3 scaling with factor %g, low_freq_factor %g, high_freq_factor %g, original context %d",
                         path, factor, lows[b], highs[c], m->rope_orig);
                    return 0;
                }
            }
    }
    return fail("%s: rope_freqs.weight holds per-frequency RoPE factors that match no llama3 scaling (factor %g with the usual "
                "low/high frequency factors and original context lengths); mod.h cannot compute them", path, factor);
}

/* The source of one output tensor: its shape against the hyperparameters, its type. */
static int gguf_src(model *m, const opts *o, const gguf_file *g, const gguf_tensor *t, int role, int layer, int permuted, const char *path)
{
    const mod__dims dims = mf_dims((uint64_t)m->V, (uint64_t)m->d, (uint64_t)m->H, (uint64_t)m->Hkv, (uint64_t)m->hd, (uint64_t)m->F, 0);
    src *s = slot(m, role, layer);
    uint64_t r, c;
    char name[80];
    snprintf(name, sizeof name, "%s", gguf_show(t->name, t->name_len));
    mf_role_shape(role, &dims, &r, &c);
    if (r ? t->n_dims != 2 || t->ne[0] != c || t->ne[1] != r : t->n_dims != 1 || t->ne[0] != c) {
        char got[120];
        size_t k = 0;
        uint32_t d;
        for (d = t->n_dims; d-- > 0;) k += (size_t)snprintf(got + k, sizeof got - k, d + 1 < t->n_dims ? ", %llu" : "%llu", (unsigned long long)t->ne[d]);
        if (r) return fail("%s: tensor %s has shape [%s] (rows first), but the metadata implies [%llu, %llu]", path, name, got,
                           (unsigned long long)r, (unsigned long long)c);
        return fail("%s: tensor %s has shape [%s], but the metadata implies [%llu]", path, name, got, (unsigned long long)c);
    }
    s->present = 1;
    s->name = label(m, name, 0);
    s->fd = -1;
    s->path = path;
    s->mem = g->p + g->data_offset + t->offset;
    s->rows = r;
    s->cols = c;
    if (permuted && (role == MOD__ROLE_Q || role == MOD__ROLE_K || role == MOD__ROLE_Q_BIAS || role == MOD__ROLE_K_BIAS)) s->perm_hd = m->hd;
    switch (t->type) {
    case GGML_T_F32: s->dtype = MOD_DTYPE_F32; break;
    case GGML_T_F16: s->dtype = MOD_DTYPE_F16; break;
    case GGML_T_BF16: s->dtype = MOD_DTYPE_BF16; break;
    case GGML_T_Q8_0: s->dtype = MOD_DTYPE_Q8_0; break;
    case GGML_T_Q4_0: s->dtype = MOD_DTYPE_Q4_0; break; /* ggml's Q4_0 blocks are mod.h's q4_0 byte for byte */
    default:
        if (!ggml_dequant_supported(t->type)) {
            if (!strncmp(gguf_type_name(t->type), "IQ", 2))
                return fail("%s: tensor %s is %s: the IQ types (codebook quantizations) are not supported; convert a GGUF in F16, BF16, "
                            "Q8_0, Q4_0 or a K-quant", path, name, gguf_type_name(t->type));
            return fail("%s: tensor %s has type %s, which mod-convert cannot decode (docs/CONVERT.md, \"GGUF\", lists the types)",
                        path, name, gguf_type_name(t->type));
        }
        s->dtype = DT_GGML;
        s->gtype = t->type;
        if (r) s->default_dtype = 1 + MOD_DTYPE_Q8_0;
        return 0;
    }
    if (r) {
        s->keep_dtype = 1;
        if (dt_quantized(s->dtype) && o->dtype_given && dt_quantized(o->dtype) && o->dtype != s->dtype && !o->allow_requantize)
            return fail("%s: tensor %s is already %s; quantizing it again as %s adds the rounding of both (convert the original "
                        "weights instead, or pass --allow-requantize)", path, name, mf_dtype_name(s->dtype), mf_dtype_name(o->dtype));
    }
    return 0;
}

/* The added-token table of a GGUF vocabulary (both kinds), as a tokenizer.json's added_tokens
   give it and as llama.cpp splits text before it runs the BPE: control (3) and unknown (2)
   tokens with text are the special ones (matched only when asked), user-defined (4) ones the
   others (always matched); each entry's text is the token as the file spells it (a
   SentencePiece "\xE2\x96\x81" stays U+2581, matched as typed, as llama.cpp matches it). */
static int gguf_added_table(tokb *b, const gguf_file *g, const gguf_kv *toks, const gguf_kv *types, const char *path)
{
    uint64_t i, pos;
    uint32_t e = 0;
    if (!types) return 0;
    for (i = 0; i < toks->n; i++) {
        const uint32_t ty = gguf_arr_u32(g, types, i);
        if ((ty >= 2 && ty <= 4) && b->off[i + 1] > b->off[i]) b->n_added++;
    }
    if (!b->n_added) return 0;
    if (!(b->added = (mod__added_token *)calloc(b->n_added, sizeof *b->added))) return fail("out of memory");
    for (i = 0, pos = toks->off; i < toks->n; i++) {
        const char *s;
        uint64_t sl;
        const uint32_t ty = gguf_arr_u32(g, types, i);
        gguf_arr_str(g, &pos, &s, &sl);
        if (!(ty >= 2 && ty <= 4) || b->off[i + 1] == b->off[i]) continue;
        if (sl > MOD__MAX_TOKEN_LEN) return fail("%s: token %llu is %llu bytes long as typed; the format allows %d", path, (unsigned long long)i, (unsigned long long)sl, MOD__MAX_TOKEN_LEN);
        if (tokb_added_entry(b, e++, (long)i, s, (size_t)sl, ty != 4, path) != 0) return -1;
    }
    return tokb_added_sort(b, path);
}

/* tokenizer.ggml.*: "llama" (SentencePiece) as kind 2, scored BPE, which merges as llama.cpp's
   and SentencePiece's BPE do; "gpt2" as kind 1, byte-level BPE with the split named by
   tokenizer.ggml.pre. Both with the added-token table of gguf_added_table. */
static int tok_from_gguf(model *m, const gguf_file *g, const char *path)
{
    const gguf_kv *toks = gguf_get(g, "tokenizer.ggml.tokens"), *scores = gguf_get(g, "tokenizer.ggml.scores");
    const gguf_kv *types = gguf_get(g, "tokenizer.ggml.token_type"), *merges = gguf_get(g, "tokenizer.ggml.merges"), *kv;
    const char *model_name = NULL, *pre = NULL;
    size_t model_len = 0, pre_len = 0;
    tokb b;
    idhash h;
    uint8_t *have = NULL;
    unsigned char *scratch = NULL;
    uint64_t pos, i, n;
    int rc = -1, k, sp;
    memset(&b, 0, sizeof b);
    memset(&h, 0, sizeof h);
    if ((k = gg_str(g, path, "tokenizer.ggml.model", &model_name, &model_len)) < 0) return -1;
    if (k == 0) { note("%s has no tokenizer (no tokenizer.ggml.model): the model file will have none", path); return 0; }
    if (str_is(model_name, model_len, "llama")) sp = 1;
    else if (str_is(model_name, model_len, "gpt2")) sp = 0;
    else
        return fail("%s: tokenizer.ggml.model is \"%s\": mod.h reproduces SentencePiece (\"llama\") and byte-level BPE (\"gpt2\") "
                    "vocabularies only; use --tokenizer none to convert without a tokenizer", path, show(model_name, model_len));
    if (!toks || toks->type != GGUF_ARRAY || toks->elem_type != GGUF_STRING || toks->n == 0)
        return fail("%s: tokenizer.ggml.tokens must be a non-empty array of strings", path);
    n = toks->n;
    if (n > (uint64_t)m->V) return fail("%s: tokenizer.ggml.tokens has %llu tokens, more than the %d rows of token_embd.weight", path, (unsigned long long)n, m->V);
    if (scores && (scores->type != GGUF_ARRAY || scores->elem_type != GGUF_F32 || scores->n != n))
        return fail("%s: tokenizer.ggml.scores must be an array of %llu float32 values, one per token", path, (unsigned long long)n);
    if (types && (types->type != GGUF_ARRAY || (types->elem_type != GGUF_I32 && types->elem_type != GGUF_U32) || types->n != n))
        return fail("%s: tokenizer.ggml.token_type must be an array of %llu int32 values, one per token", path, (unsigned long long)n);
    b.kind = sp ? 2 : 1;
    init_byte_alphabet();
    have = (uint8_t *)calloc((size_t)n + 1, 1);
    scratch = (unsigned char *)malloc(2 * (size_t)(3 * MOD__MAX_TOKEN_LEN) + 8);
    if (!have || !scratch || tokb_alloc(&b, (uint32_t)n) != 0) { fail("out of memory"); goto done; }
    for (i = 0, pos = toks->off; i < n; i++) {
        const char *s;
        uint64_t sl;
        size_t bl = 0;
        uint32_t ty = types ? gguf_arr_u32(g, types, i) : 1;
        int type = TT_NORMAL;
        gguf_arr_str(g, &pos, &s, &sl);
        b.off[i] = (uint32_t)b.blob_n;
        if (sl > 3 * MOD__MAX_TOKEN_LEN) { fail("%s: token %llu is %llu bytes long; the format allows %d", path, (unsigned long long)i, (unsigned long long)sl, MOD__MAX_TOKEN_LEN); goto done; }
        if (ty < 1 || ty > 6) { fail("%s: token %llu has token_type %lu; llama.cpp's types are 1 to 6", path, (unsigned long long)i, (unsigned long)ty); goto done; }
        if (scores) {
            b.score[i] = gguf_arr_f32(g, scores, i);
            if (!(b.score[i] >= -3.4e38f && b.score[i] <= 3.4e38f)) { fail("%s: token %llu has a score that is not a finite number", path, (unsigned long long)i); goto done; }
            if (!sp) b.score[i] = 0.0f;
        }
        if (ty == 2 || ty == 3 || ty == 5) { /* unknown, control, unused: never produced by encoding */
            type = TT_CONTROL;
            memcpy(scratch, s, (size_t)sl);
            bl = (size_t)sl;
        } else if (sp && ty == 6) {
            if (!(sl == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && isxdigit_c((unsigned char)s[3]) && isxdigit_c((unsigned char)s[4]))) {
                fail("%s: token %llu (\"%s\") has the byte type but is not <0xXX>", path, (unsigned long long)i, show(s, (size_t)sl));
                goto done;
            }
            scratch[0] = (unsigned char)(hexval((unsigned char)s[3]) * 16 + hexval((unsigned char)s[4]));
            bl = 1;
            type = TT_BYTE;
        } else if (sp) {
            if (sp_map(s, (size_t)sl, scratch, &bl) != 0) {
                fail("%s: token %llu (\"%s\") has a literal space, which a SentencePiece vocabulary cannot hold (spaces are \"\xE2\x96\x81\")",
                     path, (unsigned long long)i, show(s, (size_t)sl));
                goto done;
            }
        } else if (ty == 4) { /* a user-defined (added) token: its text as typed */
            memcpy(scratch, s, (size_t)sl);
            bl = (size_t)sl;
            have[i] = 2;
        } else if (unmap_bytes(s, (size_t)sl, scratch, &bl) != 0) {
            fail("%s: token %llu (\"%s\") has a character outside the byte-level alphabet", path, (unsigned long long)i, show(s, (size_t)sl));
            goto done;
        }
        if (bl == 0) type = TT_CONTROL;
        b.type[i] = (uint8_t)type;
        if (tokb_push(&b, (uint32_t)i, scratch, bl) != 0) goto done;
    }
    if (!sp && demote_added_copies(&b, have) != 0) goto done;
    if (gguf_added_table(&b, g, toks, types, path) != 0) goto done;
    if (!sp) {
        if (idhash_build(&h, &b) != 0) goto done;
        if (!merges) { fail("%s: a \"gpt2\" tokenizer needs tokenizer.ggml.merges", path); goto done; }
        if (merges->type != GGUF_ARRAY || merges->elem_type != GGUF_STRING || merges->n > 0xffffffffu) {
            fail("%s: tokenizer.ggml.merges must be an array of strings", path);
            goto done;
        }
        if (merges->n) {
            b.merge = (uint32_t(*)[4])malloc((size_t)merges->n * sizeof *b.merge);
            if (!b.merge) { fail("out of memory"); goto done; }
        }
        for (i = 0, pos = merges->off; i < merges->n; i++) {
            const char *s, *part[2];
            uint64_t sl;
            size_t plen[2];
            gguf_arr_str(g, &pos, &s, &sl);
            if (sl > 6 * MOD__MAX_TOKEN_LEN || split_merge(s, (size_t)sl, part, plen) != 0) {
                fail("%s: merge %llu (\"%s\") is not two tokens separated by one space", path, (unsigned long long)i, show(s, (size_t)sl));
                goto done;
            }
            if (add_merge(&b, &h, (uint32_t)i, part, plen, path, unmap_bytes, scratch) != 0) goto done;
        }
        b.n_merges = (uint32_t)merges->n;
        if ((k = gg_str(g, path, "tokenizer.ggml.pre", &pre, &pre_len)) < 0) goto done;
        if (k == 0 || str_is(pre, pre_len, "default") || str_is(pre, pre_len, "gpt2") || str_is(pre, pre_len, "gpt-2")) b.pretok = 1;
        else if (str_is(pre, pre_len, "llama-bpe") || str_is(pre, pre_len, "llama3")) {
            b.pretok = 2;
            b.flags |= 2u; /* Llama 3's ignore_merges: a piece that is a token stays whole */
        } else if (str_is(pre, pre_len, "qwen2")) b.pretok = 3;
        else {
            fail("%s: tokenizer.ggml.pre is \"%s\", a split mod.h does not implement (it knows \"default\"/\"gpt2\", \"llama-bpe\"/\"llama3\" "
                 "and \"qwen2\"); use --tokenizer none to convert without a tokenizer", path, show(pre, pre_len));
            goto done;
        }
    }
    kv = gguf_get(g, "tokenizer.ggml.add_space_prefix");
    if (kv && kv->type != GGUF_BOOL) { fail("%s: tokenizer.ggml.add_space_prefix must be a bool", path); goto done; }
    if (kv ? g->p[kv->off] : sp) b.flags |= 1u; /* llama.cpp's default: a space before SentencePiece text, none before BPE's */
    for (k = 0; k < 2; k++) {
        const char *key = k ? "tokenizer.ggml.eos_token_id" : "tokenizer.ggml.bos_token_id";
        int64_t v = -1;
        kv = gguf_get(g, key);
        if (kv && (gguf_int(g, kv, &v) != 0 || v < 0 || (uint64_t)v >= n)) {
            fail("%s: %s must be a token id below %llu", path, key, (unsigned long long)n);
            goto done;
        }
        if (k) b.eos = (int32_t)v;
        else b.bos = (int32_t)v;
    }
    kv = gguf_get(g, "tokenizer.ggml.add_bos_token");
    if (kv && kv->type != GGUF_BOOL) { fail("%s: tokenizer.ggml.add_bos_token must be a bool", path); goto done; }
    if (kv && !g->p[kv->off] && b.bos >= 0) {
        /* the model file's BOS is the one programs prepend (mod-generate does when there is one) */
        note("%s: tokenizer.ggml.add_bos_token is false: the model file gets no BOS token (%d is not prepended)", path, (int)b.bos);
        b.bos = -1;
    }
    if (tokb_finish(&b, path, &m->tok, &m->tok_size) != 0) goto done;
    if (sp) snprintf(m->tok_desc, sizeof m->tok_desc, "scored BPE (SentencePiece), %u tokens, %u added tokens%s, bos %d, eos %d", b.n,
                     b.n_added, (b.flags & 1u) ? ", prefix space" : "", (int)b.bos, (int)b.eos);
    else snprintf(m->tok_desc, sizeof m->tok_desc, "byte-level BPE, %u tokens, %u merges, %u added tokens, %s pretokenizer%s, bos %d, eos %d", b.n,
                  b.n_merges, b.n_added, pretok_names[b.pretok], (b.flags & 2u) ? ", whole-piece tokens" : "", (int)b.bos, (int)b.eos);
    rc = 0;
done:
    tokb_free(&b);
    free(h.slots);
    free(have);
    free(scratch);
    return rc;
}

static int read_gguf(model *m, const opts *o)
{
    const char *path = o->input, *arch = NULL;
    size_t arch_len = 0, a;
    gguf_file g;
    char err[600], key[128];
    int fi, rc = -1, l, k, permuted = 0, mwindow = 0;
    uint64_t t;
    const gguf_tensor **at = NULL, *rope_freqs = NULL, *emb = NULL;
    memset(&g, 0, sizeof g);
    if (o->tokenizer) return fail("%s is a GGUF file: its tokenizer is read from its metadata (or left out with --tokenizer none); --tokenizer FILE cannot replace it", path);
    if (o->mod_layers && strcmp(o->mod_layers, "none") != 0)
        return fail("%s: a GGUF file has no router weights, so no block can be routed (--mod-layers)", path);
    if (open_input(m, path, &fi) != 0) return -1;
    if (m->files[fi].size > (uint64_t)SIZE_MAX) return fail("%s is too large to map", path);
    m->map = mmap(NULL, (size_t)m->files[fi].size, PROT_READ, MAP_PRIVATE, m->files[fi].fd, 0);
    if (m->map == MAP_FAILED) { m->map = NULL; return fail("cannot map %s: %s", path, strerror(errno)); }
    m->map_size = (size_t)m->files[fi].size;
    if (gguf_parse(&g, (const unsigned char *)m->map, m->files[fi].size, err, sizeof err) != 0) return fail("%s: %s", path, err);
    m->format = g.version == 2 ? "GGUF version 2" : "GGUF version 3";
    if ((k = gg_str(&g, path, "general.architecture", &arch, &arch_len)) <= 0) {
        if (k == 0) fail("%s: no general.architecture in the metadata", path);
        goto done;
    }
    for (a = 0; a < sizeof gguf_archs / sizeof gguf_archs[0] && !str_is(arch, arch_len, gguf_archs[a].arch); a++) {}
    if (a == sizeof gguf_archs / sizeof gguf_archs[0]) {
        fail("%s: general.architecture is \"%s\", not one mod-convert converts (llama, mistral, qwen2, gemma; docs/CONVERT.md, \"GGUF\")", path, show(arch, arch_len));
        goto done;
    }
    m->family = gguf_archs[a].arch;
    permuted = gguf_archs[a].permuted;
    {
        int experts = 0;
        if (gg_int(&g, path, m->family, "expert_count", 0, 0, 1 << 20, 0, &experts) != 0) goto done;
        if (experts > 0) { fail("%s: %s.expert_count is %d: the MLP is a mixture of experts, which mod.h does not compute", path, m->family, experts); goto done; }
    }
    for (t = 0; t < g.n_tensors; t++)
        if (str_is(g.tensors[t].name, g.tensors[t].name_len, "token_embd.weight")) emb = &g.tensors[t];
    if (!emb) { fail("%s: missing tensor token_embd.weight", path); goto done; }
    if (emb->n_dims != 2 || emb->ne[1] > MOD__MAX_VOCAB) { fail("%s: tensor token_embd.weight must be a matrix of at most %d rows", path, MOD__MAX_VOCAB); goto done; }
    m->V = (int)emb->ne[1];
    if (gg_int(&g, path, m->family, "context_length", 1, 1, MOD__MAX_SEQ, 0, &m->seq) ||
        gg_int(&g, path, m->family, "embedding_length", 1, 2, MOD__MAX_DIM, 0, &m->d) ||
        gg_int(&g, path, m->family, "block_count", 1, 1, MOD__MAX_LAYERS, 0, &m->L) ||
        gg_int(&g, path, m->family, "feed_forward_length", 1, 1, 4 * MOD__MAX_DIM, 0, &m->F) ||
        gg_int(&g, path, m->family, "attention.head_count", 1, 1, MOD__MAX_DIM, 0, &m->H) ||
        gg_int(&g, path, m->family, "attention.head_count_kv", 0, 1, m->H, m->H, &m->Hkv) ||
        gg_float(&g, path, m->family, "attention.layer_norm_rms_epsilon", 1, 0.0, 0.5, 0, &m->eps) ||
        gg_float(&g, path, m->family, "rope.freq_base", 0, 0.0, 1e30, 10000.0, &m->theta) ||
        gg_int(&g, path, m->family, "attention.sliding_window", 0, 0, MOD__MAX_SEQ, 0, &mwindow))
        goto done;
    if (m->H % m->Hkv) { fail("%s: %s.attention.head_count_kv %d does not divide attention.head_count %d", path, m->family, m->Hkv, m->H); goto done; }
    if (gguf_get(&g, (snprintf(key, sizeof key, "%s.attention.key_length", m->family), key))) {
        int vl = 0;
        if (gg_int(&g, path, m->family, "attention.key_length", 1, 2, MOD__MAX_DIM, 0, &m->hd) ||
            gg_int(&g, path, m->family, "attention.value_length", 0, 1, MOD__MAX_DIM, m->hd, &vl))
            goto done;
        if (vl != m->hd) { fail("%s: %s.attention.value_length %d differs from key_length %d; mod.h's heads have one size", path, m->family, vl, m->hd); goto done; }
    } else {
        if (m->d % m->H) { fail("%s: attention.head_count %d does not divide embedding_length %d (and there is no attention.key_length)", path, m->H, m->d); goto done; }
        m->hd = m->d / m->H;
    }
    if (m->hd % 2) { fail("%s: the head size %d is odd; RoPE needs it even", path, m->hd); goto done; }
    if ((uint64_t)m->hd * (uint64_t)m->H > MOD__MAX_DIM) { fail("%s: the heads' total size is more than %d", path, MOD__MAX_DIM); goto done; }
    {
        int rd = m->hd;
        if (gg_int(&g, path, m->family, "rope.dimension_count", 0, 1, MOD__MAX_DIM, m->hd, &rd) != 0) goto done;
        if (rd != m->hd) { fail("%s: %s.rope.dimension_count is %d, not the head size %d: mod.h rotates whole heads", path, m->family, rd, m->hd); goto done; }
    }
    m->window = mwindow;
    {   /* RoPE scaling: none, linear (rope.scaling.type, or the older rope.scale_linear) */
        const char *ty;
        size_t tl;
        snprintf(key, sizeof key, "%s.rope.scaling.type", m->family);
        if ((k = gg_str(&g, path, key, &ty, &tl)) < 0) goto done;
        if (k && str_is(ty, tl, "linear")) {
            if (gg_float(&g, path, m->family, "rope.scaling.factor", 1, 0.0, 1e30, 1.0, &m->rope_factor) != 0) goto done;
            m->rope_scaling = MOD_ROPE_SCALING_LINEAR;
        } else if (k && !str_is(ty, tl, "none")) {
            fail("%s: %s is \"%s\": mod.h computes linear and llama3 RoPE scaling only (MODEL.md \"Variants\")", path, key, show(ty, tl));
            goto done;
        } else if (!k) {
            float f = 1.0f;
            if (gg_float(&g, path, m->family, "rope.scale_linear", 0, 0.0, 1e30, 1.0, &f) != 0) goto done;
            if (f != 1.0f) { m->rope_scaling = MOD_ROPE_SCALING_LINEAR; m->rope_factor = f; }
        }
    }
    if (!strcmp(m->family, "gemma")) {
        /* llama.cpp's converter stores Gemma's RMSNorm gains as 1 + w (added in f32, or in f16 for
           an f16 checkpoint) and its graph scales the embedding by sqrtf(n_embd): the file's gains
           are used as they are (norm_offset 0) and the scale is that float */
        m->activation = MOD_ACTIVATION_GELU_TANH;
        m->embed_scale = sqrtf((float)m->d);
    } else {
        m->activation = MOD_ACTIVATION_SILU;
    }
    if (resolve_routing(m, o, NULL, NULL) != 0) goto done;
    m->slots = (src *)calloc((size_t)(m->L + 1) * NROLES, sizeof *m->slots);
    at = (const gguf_tensor **)calloc((size_t)(m->L + 1) * NROLES, sizeof *at);
    if (!m->slots || !at) { fail("out of memory"); goto done; }
    for (t = 0; t < g.n_tensors; t++) {
        const gguf_tensor *x = &g.tensors[t];
        const char *nm = x->name, *rest;
        size_t nl = x->name_len, j;
        long layer = -1;
        int role = -1;
        if (str_is(nm, nl, "token_embd.weight")) role = MOD__ROLE_EMBED;
        else if (str_is(nm, nl, "output_norm.weight")) role = MOD__ROLE_OUT_NORM;
        else if (str_is(nm, nl, "output.weight")) role = MOD__ROLE_OUTPUT;
        else if (str_is(nm, nl, "rope_freqs.weight")) { rope_freqs = x; continue; }
        else if (nl > 4 && !memcmp(nm, "blk.", 4) && nm[4] >= '0' && nm[4] <= '9' && !(nm[4] == '0' && nl > 5 && nm[5] != '.')) {
            for (rest = nm + 4, layer = 0; rest < nm + nl && *rest >= '0' && *rest <= '9' && layer <= 100000; rest++) layer = layer * 10 + (*rest - '0');
            if (rest < nm + nl && *rest == '.' && layer < 100000) {
                size_t rl = (size_t)(nm + nl - rest - 1);
                if (str_is(rest + 1, rl, "attn_rot_embd")) continue; /* a RoPE table some converters kept: computed from rope.freq_base */
                for (j = 0; j < sizeof gguf_block_names / sizeof gguf_block_names[0]; j++)
                    if (str_is(rest + 1, rl, gguf_block_names[j].suffix)) { role = gguf_block_names[j].role; break; }
                if (role >= 0 && layer >= m->L) {
                    fail("%s: tensor %s belongs to block %ld, but %s.block_count is %d", path, gguf_show(nm, nl), layer, m->family, m->L);
                    goto done;
                }
            }
        }
        if (role < 0) {
            if (memmem(nm, nl, "_exps", 5)) fail("%s: tensor %s is an expert of a mixture-of-experts MLP, which mod.h does not compute", path, gguf_show(nm, nl));
            else fail("%s: unexpected tensor %s: not a weight of a %s model as llama.cpp names them (docs/CONVERT.md, \"GGUF\")", path, gguf_show(nm, nl), m->family);
            goto done;
        }
        at[(size_t)(layer + 1) * NROLES + (size_t)role] = x;
    }
    m->tied = at[MOD__ROLE_OUTPUT] == NULL;
    for (l = -1; l < m->L; l++) {
        const gguf_tensor **row = &at[(size_t)(l + 1) * NROLES];
        int role, nb;
        for (role = l < 0 ? MOD__ROLE_EMBED : MOD__ROLE_ATTN_NORM; role <= (l < 0 ? MOD__ROLE_OUTPUT : NROLES - 1); role++) {
            if (role >= MOD__ROLE_ROUTER && role <= MOD__ROLE_PRED_B2) continue;
            if (!row[role]) {
                if (role == MOD__ROLE_OUTPUT || role == MOD__ROLE_Q_BIAS || role == MOD__ROLE_K_BIAS || role == MOD__ROLE_V_BIAS || role >= MOD__ROLE_O_BIAS) continue;
                if (l < 0) fail("%s: missing tensor %s", path, gguf_role_name(role));
                else fail("%s: missing tensor blk.%d.%s", path, l, gguf_role_name(role));
                goto done;
            }
            if (gguf_src(m, o, &g, row[role], role, l, permuted, path) != 0) goto done;
        }
        if (l < 0) continue;
        nb = (row[MOD__ROLE_Q_BIAS] != NULL) + (row[MOD__ROLE_K_BIAS] != NULL) + (row[MOD__ROLE_V_BIAS] != NULL);
        if (nb != 0 && nb != 3) { fail("%s: block %d has some but not all of the q/k/v biases (attn_q.bias, attn_k.bias, attn_v.bias)", path, l); goto done; }
        nb = (row[MOD__ROLE_GATE_BIAS] != NULL) + (row[MOD__ROLE_UP_BIAS] != NULL) + (row[MOD__ROLE_DOWN_BIAS] != NULL);
        if (nb != 0 && nb != 3) { fail("%s: block %d has some but not all of the MLP biases (ffn_gate.bias, ffn_up.bias, ffn_down.bias)", path, l); goto done; }
    }
    if (rope_freqs) {
        if (m->rope_scaling) { fail("%s: both rope_freqs.weight and a RoPE scaling type are given", path); goto done; }
        if (gguf_llama3(m, &g, rope_freqs, path) != 0) goto done;
    }
    {   /* the summary's dtype */
        int dts = 0, deq = 0, i;
        for (l = -1; l < m->L; l++)
            for (k = 0; k < NROLES; k++) {
                const src *s = slot(m, k, l);
                if (!s->present || !s->rows) continue;
                if (s->dtype == DT_GGML) deq |= 1;
                dts |= 1 << (o->dtype_given ? o->dtype : s->default_dtype > 0 ? s->default_dtype - 1 : s->dtype);
            }
        for (i = 0; i <= MOD_DTYPE_Q4_0 && dts != 1 << i; i++) {}
        snprintf(m->dtype_desc, sizeof m->dtype_desc, "%s%s", i <= MOD_DTYPE_Q4_0 ? mf_dtype_name(i) : "mixed dtype",
                 o->dtype_given ? "" : deq ? " (as in the input; ggml block types as q8_0)" : " (as in the input)");
    }
    if (!o->tok_none && tok_from_gguf(m, &g, path) != 0) goto done;
    if (!o->tok_none) { /* the chat template goes with the tokenizer */
        const gguf_kv *ct = gguf_get(&g, "tokenizer.chat_template");
        if (ct && ct->type != GGUF_STRING) { fail("%s: tokenizer.chat_template is not a string", path); goto done; }
        if (ct && ct->n && keep_chat_template(m, (const char *)g.p + ct->off, (size_t)ct->n, path) != 0) goto done;
    }
    rc = 0;
done:
    free(at);
    gguf_free(&g);
    return rc;
}

/* ---- mod.h model files -------------------------------------------------------------------- */

/* 1 when the file starts with these 4 bytes: "MODH" a mod.h model file (as the library checks),
   "GGUF" a GGUF file. */
static int has_magic(const char *path, const char *want)
{
    unsigned char magic[4];
    ssize_t got;
    struct stat st;
    char why[64];
    int fd = cli_open_input(path, CLI_REGULAR, &st, why, sizeof why);
    if (fd < 0) return 0;
    do got = read(fd, magic, 4); while (got < 0 && errno == EINTR);
    close(fd);
    return got == 4 && !memcmp(magic, want, 4);
}

/* A mod.h model file: loaded through the library with its checksum verified (every field,
   section and tensor checked); the configuration and section offsets come from the library,
   and only the tensor directory is walked here (each entry checked again against the
   mapping) to point the writer at the weights.
   The configuration, the routing settings and the tokenizer section are carried over as they
   are; only the matrices' dtype can change. */
static int read_mod(model *m, const opts *o)
{
    static const char *const changing[] = { "--mod-layers", "--capacity", "--router-input", "--router-scale", "--combine",
                                            "--positions", "--decision", "--threshold" };
    const int given[8] = { o->mod_layers != NULL, o->capacity != NULL, o->router_input >= 0, o->router_scale >= 0, o->combine >= 0,
                           o->positions >= 0, o->decision >= 0, o->have_threshold };
    const char *path = o->input;
    const unsigned char *p;
    mod_model_desc desc;
    mod_error err;
    uint64_t size, dir, data, data_size, tok_off, tok_size, t, n;
    int fi, i, l, dts = 0;
    for (i = 0; i < 8; i++)
        if (given[i])
            return fail("%s is a mod.h model file: its configuration and routing settings are carried over unchanged, so %s "
                        "cannot be used (convert from the original checkpoint to change them)", path, changing[i]);
    if (o->tokenizer)
        return fail("%s is a mod.h model file: its tokenizer is carried over (or dropped with --tokenizer none); "
                    "--tokenizer FILE cannot replace it", path);
    m->format = "a mod.h model file";
    if (open_input(m, path, &fi) != 0) return -1;
    size = m->files[fi].size;
    if (size < 160 || size > (uint64_t)SIZE_MAX)
        return fail("%s: not a valid mod.h model file: %llu bytes, shorter than the 160-byte header", path, (unsigned long long)size);
    m->map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, m->files[fi].fd, 0);
    if (m->map == MAP_FAILED) { m->map = NULL; return fail("cannot map %s: %s", path, strerror(errno)); }
    m->map_size = (size_t)size;
    p = (const unsigned char *)m->map;
    memset(&desc, 0, sizeof desc);
    desc.flags = MOD_LOAD_VERIFY_CHECKSUM;
    if (mod_model_load_memory(&m->in_model, p, (size_t)size, &desc, &err) != MOD_OK) {
        m->in_model = NULL;
        return fail("%s: not a valid mod.h model file: %s", path, err.message);
    }
    /* the configuration, as the library read and checked it */
    {
        const mod_config *c = mod_model_config(m->in_model);
        m->V = c->vocab_size; m->d = c->dim; m->L = c->n_layers; m->H = c->n_heads; m->Hkv = c->n_kv_heads;
        m->F = c->hidden_dim; m->seq = c->max_seq_len; m->eps = c->norm_eps; m->theta = c->rope_theta;
        m->tied = c->tied_embeddings;
        m->router_input = (int)c->router_input; m->router_scale = (int)c->router_scale; m->combine = (int)c->combine;
        m->positions = (int)c->positions; m->decision = (int)c->decision; m->Fp = c->predictor_hidden;
        m->threshold = c->threshold;
        m->hd = c->head_dim; m->activation = (int)c->activation; m->norm_offset = c->norm_offset;
        m->embed_scale = c->embed_scale; m->rope_scaling = (int)c->rope_scaling; m->rope_factor = c->rope_factor;
        m->rope_low = c->rope_low_freq_factor; m->rope_high = c->rope_high_freq_factor;
        m->rope_orig = c->rope_original_max_pos; m->window = c->sliding_window;
    }
    m->routed = (int *)calloc((size_t)m->L, sizeof *m->routed);
    m->capacity = (float *)calloc((size_t)m->L, sizeof *m->capacity);
    m->slots = (src *)calloc((size_t)(m->L + 1) * NROLES, sizeof *m->slots);
    if (!m->routed || !m->capacity || !m->slots) return fail("out of memory");
    for (l = 0; l < m->L; l++) {
        m->routed[l] = mod_model_layer_routed(m->in_model, l) == 1;
        m->capacity[l] = mod_model_layer_capacity(m->in_model, l);
    }
    /* the directory, where the library's header parser found it (every section inside the file) */
    {
        mod__file_header h;
        mod_config c;
        if (mod__parse_header(p, (size_t)size, &h, &c, &err) != MOD_OK) return fail("%s: %s", path, err.message);
        n = h.n_tensors; dir = h.tensor_dir_offset; tok_off = h.tokenizer_offset; tok_size = h.tokenizer_size;
        data = h.data_offset; data_size = h.data_size;
    }
    for (t = 0; t < n; t++) {
        mod__tensor_entry e;
        uint32_t role, layer, dt, nd;
        uint64_t d0, d1, off, nbytes, want;
        int lay;
        src *s;
        mod__read_tensor_entry(&e, p + dir + MOD__TENSOR_ENTRY_BYTES * t);
        role = e.role; layer = e.layer; dt = e.dtype; nd = e.n_dims;
        d0 = e.dims[0]; d1 = e.dims[1]; off = e.offset; nbytes = e.size;
        lay = layer == MOD__MODEL_WIDE ? -1 : (int)layer;
        if (role >= NROLES || (lay < 0) != (role <= MOD__ROLE_OUTPUT) || (lay >= 0 && layer >= (uint32_t)m->L) || dt > MOD_DTYPE_Q4_0 ||
            nd < 1 || nd > 2 || d0 == 0 || d0 > (uint64_t)INT32_MAX || (nd == 2 && (d1 == 0 || d1 > (uint64_t)INT32_MAX)) ||
            !mul_ok(nd == 2 ? d0 : 1, row_bytes((int)dt, nd == 2 ? d1 : d0), &want) || want != nbytes ||
            off > data_size || nbytes > data_size - off || (nd == 1 && dt != MOD_DTYPE_F32) ||
            (dt_quantized((int)dt) && (nd == 2 ? d1 : d0) % 32))
            return fail("%s: internal error: tensor %llu is not as the library checked it", path, (unsigned long long)t);
        s = slot(m, (int)role, lay);
        if (s->present) return fail("%s: internal error: tensor %s appears twice", path, mf_role_name(role));
        s->present = 1;
        if (lay < 0) s->name = mf_role_name(role);
        else {
            char buf[96];
            snprintf(buf, sizeof buf, "%s (block %%d)", mf_role_name(role));
            s->name = label(m, buf, lay);
        }
        s->fd = -1;
        s->path = path;
        s->mem = p + data + off;
        s->dtype = (int)dt;
        s->rows = nd == 2 ? d0 : 0;
        s->cols = nd == 2 ? d1 : d0;
        if (nd == 2) {
            s->keep_dtype = !o->dtype_given;
            if (dt_quantized((int)dt) && o->dtype_given && dt_quantized(o->dtype) && o->dtype != (int)dt && !o->allow_requantize)
                return fail("%s: tensor %s is already %s; quantizing it again as %s adds the rounding of both (convert the original "
                            "weights instead, or pass --allow-requantize)", path, s->name, mf_dtype_name(dt), mf_dtype_name(o->dtype));
            dts |= 1 << dt;
        }
    }
    if (o->dtype_given) snprintf(m->dtype_desc, sizeof m->dtype_desc, "%s", mf_dtype_name(o->dtype));
    else {
        for (i = 0; i <= MOD_DTYPE_Q4_0 && dts != 1 << i; i++) {}
        if (i <= MOD_DTYPE_Q4_0) snprintf(m->dtype_desc, sizeof m->dtype_desc, "%s (as in the input)", mf_dtype_name(i));
        else snprintf(m->dtype_desc, sizeof m->dtype_desc, "mixed dtype (as in the input)");
    }
    m->input_bytes = size;
    /* the tokenizer section, byte for byte */
    if (tok_size && !o->tok_none) {
        const unsigned char *tk = p + tok_off;
        mod__tokenizer_header th;
        mod__read_tokenizer_header(&th, tk);
        m->tok = (unsigned char *)malloc((size_t)tok_size);
        if (!m->tok) return fail("out of memory");
        memcpy(m->tok, tk, (size_t)tok_size);
        m->tok_size = (size_t)tok_size;
        if (th.kind == 1)
            snprintf(m->tok_desc, sizeof m->tok_desc, "byte-level BPE, %u tokens, %u merges, bos %d, eos %d (as in the input)",
                     th.n_tokens, th.n_merges, (int)th.bos_id, (int)th.eos_id);
        else if (th.kind == 3)
            snprintf(m->tok_desc, sizeof m->tok_desc, "SentencePiece-style BPE, %u tokens, %u merges, bos %d, eos %d (as in the input)",
                     th.n_tokens, th.n_merges, (int)th.bos_id, (int)th.eos_id);
        else
            snprintf(m->tok_desc, sizeof m->tok_desc, "scored BPE, %u tokens, bos %d, eos %d (as in the input)",
                     th.n_tokens, (int)th.bos_id, (int)th.eos_id);
    } else if (tok_size) note("--tokenizer none: the tokenizer of %s is left out", path);
    if (tok_size && !o->tok_none) { /* the chat template goes with the tokenizer */
        size_t tl;
        const char *tt = mod_model_chat_template(m->in_model, &tl);
        if (tt) {
            if (!(m->chat_template = (char *)malloc(tl))) return fail("out of memory");
            memcpy(m->chat_template, tt, tl);
            m->chat_template_len = tl;
        }
    }
    return 0;
}

/* A regular file: a mod.h model file when it starts with "MODH", a GGUF file with "GGUF", else a
   llama2.c checkpoint (whose first field, dim, is never that large). */
static int read_file_input(model *m, const opts *o)
{
    if (has_magic(o->input, MOD__MAGIC)) return read_mod(m, o);
    if (has_magic(o->input, "GGUF")) return read_gguf(m, o);
    return read_llama2c(m, o);
}

/* ---- writing --------------------------------------------------------------------------- */

typedef struct writer {
    int fd;
    const char *path;
    unsigned char buf[1 << 20];
    size_t n;
    uint64_t pos;     /* bytes handed to the writer so far */
    uint64_t hash;    /* the checksum of bytes [0, pos) (mf_file_checksum) */
} writer;

static int w_flush(writer *w)
{
    size_t done = 0;
    while (done < w->n) {
        ssize_t r = write(w->fd, w->buf + done, w->n - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return fail("cannot write %s: %s", w->path, r < 0 ? strerror(errno) : "no progress");
        done += (size_t)r;
    }
    w->n = 0;
    return 0;
}

static int w_bytes(writer *w, const void *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    const size_t skip = w->pos >= MOD__CHECKSUM_FROM ? 0 : MOD__CHECKSUM_FROM - (size_t)w->pos; /* not checksummed */
    if (n > skip) w->hash = mf_fnv1a(w->hash, s + skip, n - skip);
    while (n) {
        size_t k = sizeof w->buf - w->n < n ? sizeof w->buf - w->n : n;
        memcpy(w->buf + w->n, s, k);
        w->n += k; w->pos += k; s += k; n -= k;
        if (w->n == sizeof w->buf && w_flush(w) != 0) return -1;
    }
    return 0;
}

static int w_zeros(writer *w, uint64_t n)
{
    static const unsigned char z[256];
    while (n) {
        size_t k = n < sizeof z ? (size_t)n : sizeof z;
        if (w_bytes(w, z, k) != 0) return -1;
        n -= k;
    }
    return 0;
}

/* Source row of output row r: llama2.c q/k rows move from pairs (2j, 2j+1) to halves. */
static uint64_t src_row(const src *s, uint64_t r)
{
    uint64_t hd, h, j;
    if (s->perm_hd <= 0) return r;
    hd = (uint64_t)s->perm_hd;
    h = r / hd;
    j = r % hd;
    return h * hd + (j < hd / 2 ? 2 * j : 2 * (j - hd / 2) + 1);
}

typedef struct progress {
    int on;
    uint64_t total, done;
    int last;
} progress;

static void progress_step(progress *pg, uint64_t bytes)
{
    int pct;
    if (!pg->on) return;
    pg->done += bytes;
    pct = pg->total ? (int)(100.0 * (double)pg->done / (double)pg->total) : 100;
    if (pct != pg->last) {
        fprintf(stderr, "\rconverting: %3d%%", pct);
        fflush(stderr);
        pg->last = pct;
    }
}

#define READ_BLOCK (1u << 20)

/* Converts and writes one tensor: reads a block of rows (one row when llama2.c rows are being
   permuted), decodes each row to f32 (vals) and encodes it into `row`, writes it. inbuf holds
   READ_BLOCK bytes or a row. A row already in the output's block type is written as it was
   read (after the same check of its values): quantizing its decoded values again could only
   move them. */
static int write_tensor(writer *w, const mf_tensor *t, const src *s, unsigned char *inbuf, float *vals, unsigned char *row,
                        progress *pg)
{
    uint64_t rows = t->rows ? t->rows : 1, r = 0, c;
    size_t rowb = (size_t)src_row_bytes(s, t->cols), bad;
    const int verbatim = dt_quantized(t->dtype) && s->dtype == t->dtype;
    while (r < rows) {
        uint64_t k = s->perm_hd > 0 ? 1 : (READ_BLOCK / rowb ? READ_BLOCK / rowb : 1), j;
        const unsigned char *blk = inbuf;
        if (k > rows - r) k = rows - r;
        if (s->mem) blk = s->mem + src_row(s, r) * rowb;
        else if (s->fd < 0) memset(inbuf, 0, (size_t)k * rowb);
        else if (read_at(s->fd, inbuf, (size_t)k * rowb, s->off + src_row(s, r) * rowb, s->path) != 0) return -1;
        for (j = 0; j < k; j++, r++) {
            const unsigned char *in = blk + (size_t)j * rowb;
            if (s->dtype == DT_GGML) {
                if (ggml_dequant_row(s->gtype, in, rowb, vals, (size_t)t->cols) != 0)
                    return fail("tensor %s: internal error: its %s row does not decode", s->name, gguf_type_name(s->gtype));
                for (c = 0; c < t->cols && !(vals[c] != vals[c] || vals[c] - vals[c] != 0.0f); c++) {}
            } else {
                for (c = 0; c < t->cols; c++) {
                    vals[c] = load_elem(in, c, s->dtype);
                    if (vals[c] != vals[c] || vals[c] - vals[c] != 0.0f) break;
                }
            }
            if (s->perm_hd > 0 && !t->rows && c == t->cols) {
                /* a q or k bias of a GGUF llama: its elements move as the rows of the matrix */
                float *tmp = (float *)(void *)row;
                uint64_t e;
                for (e = 0; e < t->cols; e++) tmp[e] = vals[src_row(s, e)];
                memcpy(vals, tmp, (size_t)t->cols * sizeof *vals);
            }
            /* the first fault in the order of the values (a q8_0 or q4_0 row is checked whole
               first): a value too large for f16 or bf16, a non-finite value, a block scale too
               large for f16 */
            bad = verbatim || (dt_quantized(t->dtype) && c < t->cols) ? c : mf_encode(row, vals, (size_t)c, t->dtype);
            if (bad < c && !dt_quantized(t->dtype))
                return fail("tensor %s: the value %g does not fit in %s (use --dtype %s)", s->name, (double)vals[bad],
                            mf_dtype_name(t->dtype), t->dtype == MOD_DTYPE_F16 ? "bf16 or f32" : "f32");
            if (c < t->cols)
                return fail("tensor %s: element %llu is %s; the converter refuses non-finite weights", s->name,
                            (unsigned long long)(r * t->cols + c), vals[c] != vals[c] ? "NaN" : "infinite");
            if (bad < c)
                return fail("tensor %s: a value does not fit the f16 scale of %s", s->name, mf_dtype_name(t->dtype));
            if (w_bytes(w, verbatim ? in : row, verbatim ? rowb : (size_t)row_bytes(t->dtype, t->cols)) != 0) return -1;
        }
        progress_step(pg, s->fd >= 0 || s->mem ? k * rowb : 0);
    }
    return 0;
}

/* Lays out and writes the whole file to fd; returns the file size. */
static int write_model(model *m, const opts *o, int fd, const char *tmp_path, uint64_t *file_size)
{
    mf_tensor *ts;
    const src **srcs;
    writer *w;
    mod__file_header h;
    uint32_t n = 0, k;
    int l, role, rc = -1;
    uint64_t max_row = 0;
    unsigned char cs[8], *row = NULL, *inbuf = NULL, *prefix = NULL;
    float *vals = NULL;
    progress pg;
    ts = (mf_tensor *)calloc((size_t)(3 + (NROLES - MOD__ROLE_ATTN_NORM) * m->L), sizeof *ts);
    srcs = (const src **)calloc((size_t)(3 + (NROLES - MOD__ROLE_ATTN_NORM) * m->L), sizeof *srcs);
    w = (writer *)malloc(sizeof *w);
    if (!ts || !srcs || !w) { free(ts); free(srcs); free(w); return fail("out of memory"); }
    w->fd = fd; w->path = tmp_path; w->n = 0; w->pos = 0; w->hash = MOD__FNV1A_BASIS;
    for (l = -1; l < m->L; l++)
        for (role = l < 0 ? MOD__ROLE_EMBED : MOD__ROLE_ATTN_NORM; role <= (l < 0 ? MOD__ROLE_OUTPUT : NROLES - 1); role++) {
            const src *s = slot(m, role, l);
            mf_tensor *t = &ts[n];
            if (!s->present) continue;
            t->role = role; t->layer = l; srcs[n] = s;
            t->rows = s->rows; t->cols = s->cols;
            t->dtype = !s->rows ? MOD_DTYPE_F32 : o->dtype_given ? o->dtype : s->default_dtype > 0 ? s->default_dtype - 1
                     : s->keep_dtype ? s->dtype : o->dtype;
            if (dt_quantized(t->dtype) && t->cols % 32) {
                /* rows that are not whole blocks of 32 cannot be q8_0 or q4_0: such a matrix
                   stays in f16, the rest are quantized */
                note("tensor %s: %llu columns are not a multiple of 32, kept in f16 instead of %s", s->name,
                     (unsigned long long)t->cols, mf_dtype_name(t->dtype));
                t->dtype = MOD_DTYPE_F16;
                m->kept_f16++;
            }
            if (t->cols > max_row) max_row = t->cols;
            n++;
        }
    memset(&h, 0, sizeof h);
    h.vocab_size = (uint32_t)m->V; h.dim = (uint32_t)m->d; h.n_layers = (uint32_t)m->L;
    h.n_heads = (uint32_t)m->H; h.n_kv_heads = (uint32_t)m->Hkv; h.hidden_dim = (uint32_t)m->F;
    h.max_seq_len = (uint32_t)m->seq;
    h.norm_eps = m->eps; h.rope_theta = m->theta;
    h.tied_embeddings = (uint32_t)m->tied;
    h.router_input = (uint32_t)m->router_input; h.router_scale = (uint32_t)m->router_scale;
    h.combine = (uint32_t)m->combine; h.positions = (uint32_t)m->positions;
    h.decision = (uint32_t)m->decision; h.predictor_hidden = (uint32_t)m->Fp;
    h.threshold = m->threshold;
    h.head_dim = (uint32_t)m->hd; /* 0: dim / n_heads (mf_layout) */
    h.activation = (uint32_t)m->activation; h.norm_offset = (uint32_t)m->norm_offset;
    h.embed_scale = m->embed_scale; /* 0: 1 (mf_layout) */
    h.rope_scaling = (uint32_t)m->rope_scaling; h.rope_factor = m->rope_factor;
    h.rope_low_freq_factor = m->rope_low; h.rope_high_freq_factor = m->rope_high;
    h.rope_original_max_pos = (uint32_t)m->rope_orig; h.sliding_window = (uint32_t)m->window;
    h.chat_template_size = m->tok ? (uint64_t)m->chat_template_len : 0;
    mf_layout(&h, ts, n, m->tok ? (uint64_t)m->tok_size : 0);
    *file_size = h.file_size;
    row = (unsigned char *)malloc((size_t)max_row * 4 + 4);
    vals = (float *)malloc((size_t)max_row * sizeof *vals + 4);
    inbuf = (unsigned char *)malloc((size_t)max_row * 4 + READ_BLOCK);
    prefix = (unsigned char *)malloc((size_t)h.data_offset);
    if (!row || !vals || !inbuf || !prefix) { fail("out of memory"); goto done; }
    mf_put_prefix(prefix, &h, m->routed, m->capacity, ts, m->tok);
    mf_put_chat_template(prefix, &h, m->chat_template);
    if (w_bytes(w, prefix, (size_t)h.data_offset) != 0) goto done;
    memset(&pg, 0, sizeof pg);
    pg.last = -1;
    for (k = 0; k < n; k++)
        pg.total += srcs[k]->fd >= 0 || srcs[k]->mem ? (ts[k].rows ? ts[k].rows : 1) * src_row_bytes(srcs[k], ts[k].cols) : 0;
    pg.on = !o->quiet && m->input_bytes > PROGRESS_MIN_BYTES && isatty(2);
    for (k = 0; k < n; k++) {
        if (w_zeros(w, h.data_offset + ts[k].offset - w->pos) != 0) goto done;
        if (write_tensor(w, &ts[k], srcs[k], inbuf, vals, row, &pg) != 0) goto done;
    }
    if (pg.on) fprintf(stderr, "\r                \r");
    if (w->pos != *file_size) { fail("internal error: wrote %llu bytes, planned %llu", (unsigned long long)w->pos, (unsigned long long)*file_size); goto done; }
    if (w_flush(w) != 0) goto done;
    mf_put_u64(cs, w->hash);
    if (pwrite(fd, cs, 8, MOD__HEADER_AT_checksum) != 8) { fail("cannot write %s: %s", tmp_path, strerror(errno)); goto done; }
    rc = 0;
done:
    free(row);
    free(vals);
    free(inbuf);
    free(prefix);
    free(ts);
    free(srcs);
    free(w);
    return rc;
}

/* ---- output path safety ---------------------------------------------------------------- */

/* OUT may be written (examples/cli.h): its directory exists, it is new or (--force) a regular
   file, and it is none of the input files read so far (same device and inode). */
static int check_output(const model *m, const opts *o, int commit, cli_out *out)
{
    cli_file_id *ids = (cli_file_id *)malloc((size_t)(m->n_files + 1) * sizeof *ids);
    int i, rc;
    if (!ids) return fail("out of memory");
    for (i = 0; i < m->n_files; i++) {
        ids[i].dev = m->files[i].dev;
        ids[i].ino = m->files[i].ino;
        ids[i].path = m->files[i].path;
    }
    rc = commit ? cli_output_commit(out, ids, m->n_files, g_err, sizeof g_err)
                : cli_output_check(o->output, o->force, ids, m->n_files, NULL, g_err, sizeof g_err);
    free(ids);
    return rc;
}

/* ---- loading back ---------------------------------------------------------------------- */

/* Loads the model file open as fd (mapped) with its checksum verified. */
static int load_fd(int fd, const char *path, mod_model **out, void **map, size_t *size)
{
    struct stat st;
    mod_error err;
    mod_model_desc desc;
    void *p;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || (uint64_t)st.st_size > (uint64_t)SIZE_MAX) return fail("cannot read %s", path);
    p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) return fail("cannot map %s: %s", path, strerror(errno));
    memset(&desc, 0, sizeof desc);
    desc.flags = MOD_LOAD_VERIFY_CHECKSUM;
    if (mod_model_load_memory(out, p, (size_t)st.st_size, &desc, &err) != MOD_OK) {
        munmap(p, (size_t)st.st_size);
        return fail("%s", err.message);
    }
    *map = p;
    *size = (size_t)st.st_size;
    return 0;
}

static int load_back(const char *path, mod_model **out, void **map, size_t *size)
{
    struct stat st;
    int fd = cli_open_input(path, CLI_REGULAR, &st, g_err, sizeof g_err), rc;
    if (fd < 0) return -1;
    rc = load_fd(fd, path, out, map, size);
    close(fd);
    return rc;
}

static void summary(const model *m, const opts *o, const mod_model *mm, uint64_t file_size)
{
    const mod_config *c = mod_model_config(mm);
    int l, n = 0;
    static const char *const ri[] = { "residual", "normed" }, *const sc[] = { "identity", "sigmoid" },
                             *const cb[] = { "delta", "mlp" }, *const ps[] = { "absolute", "compacted" },
                             *const dc[] = { "router", "predictor" };
    printf("wrote %s from %s\n", o->output, m->format);
    printf("  parameters: %llu (%s matrices, 1-D tensors f32)\n", (unsigned long long)mod_model_parameters(mm),
           m->dtype_desc[0] ? m->dtype_desc : mf_dtype_name(o->dtype));
    if (m->kept_f16)
        printf("  %d matri%s kept in f16: %s columns are not a multiple of 32\n", m->kept_f16, m->kept_f16 == 1 ? "x" : "ces",
               m->kept_f16 == 1 ? "its" : "their");
    printf("  shape: vocab %d, dim %d, %d blocks, %d heads (%d key/value), hidden %d, context %d, %s output\n",
           c->vocab_size, c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->hidden_dim, c->max_seq_len,
           c->tied_embeddings ? "tied" : "separate");
    printf("  architecture:%s%s head size %d, %s", m->family ? " " : "", m->family ? m->family : "", c->head_dim,
           c->activation == MOD_ACTIVATION_GELU_TANH ? "GeGLU (tanh GELU)" : "SwiGLU");
    if (c->norm_offset) printf(", norm gains 1 + w");
    if (c->embed_scale != 1.0f) printf(", embedding scale %.9g", (double)c->embed_scale);
    if (c->rope_scaling == MOD_ROPE_SCALING_LINEAR) printf(", RoPE linear x%g", (double)c->rope_factor);
    if (c->rope_scaling == MOD_ROPE_SCALING_LLAMA3)
        printf(", RoPE llama3 (factor %g, low %g, high %g, original %d)", (double)c->rope_factor, (double)c->rope_low_freq_factor,
               (double)c->rope_high_freq_factor, c->rope_original_max_pos);
    if (c->sliding_window) printf(", sliding window %d", c->sliding_window);
    printf("\n");
    printf("  routed blocks:");
    for (l = 0; l < c->n_layers; l++)
        if (mod_model_layer_routed(mm, l) == 1) { printf("%s %d (capacity %g)", n ? "," : "", l, (double)mod_model_layer_capacity(mm, l)); n++; }
    printf("%s\n", n ? "" : " none (dense model)");
    if (n) {
        printf("  routing: router input %s, gate %s, combine %s, positions %s, decision %s", ri[c->router_input], sc[c->router_scale],
               cb[c->combine], ps[c->positions], dc[c->decision]);
        if (c->decision == MOD_DECISION_PREDICTOR) printf(" (%s)", c->predictor_hidden ? "MLP" : "linear");
        printf(", threshold %g\n", (double)c->threshold);
    }
    printf("  tokenizer: %s\n", m->tok ? m->tok_desc : "none");
    if (m->tok && m->chat_template) {
        const mod_chat_format cf = mod_chat_format_detect(m->chat_template, m->chat_template_len);
        printf("  chat template: %llu bytes, %s\n", (unsigned long long)m->chat_template_len,
               cf ? mod_chat_format_name(cf) : "not a format mod.h recognises (mod-generate --chat needs --chat-format)");
    }
    printf("  file: %llu bytes, checksum 0x%016llx\n", (unsigned long long)file_size, (unsigned long long)mod_model_checksum(mm));
}

static int verify_file(const char *path)
{
    mod_model *mm = NULL;
    void *map;
    size_t size;
    if (load_back(path, &mm, &map, &size) != 0) {
        fprintf(stderr, "error: %s: %s\n", path, g_err);
        return 1;
    }
    if (!g_quiet)
        printf("%s: OK (%llu parameters, %d blocks, %d routed, checksum 0x%016llx)\n", path,
               (unsigned long long)mod_model_parameters(mm), mod_model_config(mm)->n_layers,
               mod_model_config(mm)->n_routed, (unsigned long long)mod_model_checksum(mm));
    mod_model_free(mm);
    munmap(map, size);
    return 0;
}

/* ---- writing the output ---------------------------------------------------------------- */

/* Writes the model to OUT: a file with no name yet (or a temporary name), loaded back with its
   checksum verified (a writer bug must never produce a file the library rejects), then put in
   place. On failure nothing is left; the loaded model stays mapped for the summary. */
static int write_output(model *m, const opts *o, mod_model **mm, void **map, size_t *map_size, uint64_t *file_size)
{
    cli_out out;
    if (cli_output_open(&out, o->output, o->force, g_err, sizeof g_err) != 0) return -1;
    if (write_model(m, o, out.fd, o->output, file_size) != 0) goto fail;
    if (load_fd(out.fd, o->output, mm, map, map_size) != 0) {
        char msg[sizeof g_err];
        snprintf(msg, sizeof msg, "%s", g_err);
        fail("internal error: the file written does not load (%s); please report this", msg);
        goto fail;
    }
    if (check_output(m, o, 1, &out) != 0) goto fail;
    return 0;
fail:
    cli_output_abort(&out);
    return -1;
}

/* ---- main ------------------------------------------------------------------------------ */

static int takes_value(const char *a)
{
    static const char *const names[] = { "-o", "--output", "--dtype", "--tokenizer", "--mod-layers", "--capacity", "--router-input",
                                         "--router-scale", "--combine", "--positions", "--decision", "--threshold" };
    size_t k;
    for (k = 0; k < sizeof names / sizeof names[0]; k++)
        if (!strcmp(a, names[k])) return 1;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: mod-convert INPUT -o OUT [options]\n"
        "       mod-convert --verify FILE\n"
        "Converts a checkpoint into a mod.h model file (docs/FORMAT.md). INPUT is a Hugging Face\n"
        "style directory (config.json; model.safetensors, or model.safetensors.index.json and its\n"
        "shards; tokenizer.json), a GGUF file (llama, mistral, qwen2, gemma; recognised by its\n"
        "magic \"GGUF\"), a llama2.c checkpoint file (legacy or version 1), or a mod.h model file\n"
        "(recognised by its magic \"MODH\") to re-encode in another dtype, e.g.\n"
        "  mod-convert models/kjv-mod.mod -o kjv-q4_0.mod --dtype q4_0\n"
        "A mod.h model file keeps its configuration, routing settings and tokenizer: the options\n"
        "that would change them (--mod-layers ... --threshold, --tokenizer FILE) are refused.\n"
        "\n"
        "  -o, --output OUT        the model file to write (atomically; never an input file)\n"
        "  --dtype f32|f16|bf16|q8_0|q4_0  dtype of the matrices (default f32; for a mod.h model\n"
        "                          file, each matrix's own dtype; for GGUF, each matrix's own, or\n"
        "                          q8_0 for ggml's other block types); 1-D tensors are always f32;\n"
        "                          a matrix whose column count is not a multiple of 32 stays in\n"
        "                          f16 under q8_0 and q4_0 (a note names it)\n"
        "  --allow-requantize      let a q8_0 matrix become q4_0 or the reverse (the roundings add\n"
        "                          up); without it that is refused. q8_0/q4_0 to f32, f16 or bf16,\n"
        "                          and a matrix already in the requested type, need no permission\n"
        "  --tokenizer FILE|none   tokenizer to embed: tokenizer.json for a directory (default:\n"
        "                          INPUT/tokenizer.json when present), tokenizer.bin for llama2.c;\n"
        "                          none: write no tokenizer (for a mod.h model file: drop its own)\n"
        "  --mod-layers LIST       routed blocks: none, odd, even, all or indices such as 1,3\n"
        "                          (overrides mod_layers in config.json)\n"
        "  --capacity C            capacity of every routed block, or C1,C2,... one per routed block\n"
        "  --router-input residual|normed\n"
        "  --router-scale identity|sigmoid\n"
        "  --combine delta|mlp\n"
        "  --positions absolute|compacted\n"
        "  --decision router|predictor\n"
        "  --threshold T           threshold of the causal routing rule\n"
        "  --force                 replace OUT if it exists\n"
        "  --verify FILE           only load FILE with its checksum checked and report OK or the error\n"
        "  --quiet                 no summary and no notes\n"
        "  -h, --help              this text\n"
        "Options override the config.json keys of the same meaning (mod_layers, mod_capacity, ...).\n"
        "The manual (accepted tensor names, tokenizers, llama2.c, re-encoding): docs/CONVERT.md\n"
        "Exit status: 0 success, 1 conversion error, 2 usage error.\n");
}

#ifndef MOD_CONVERT_NO_MAIN
int main(int argc, char **argv)
{
    opts o;
    model m;
    int i, status = 1;
    struct stat st;
    mod_model *mm = NULL;
    void *map = NULL;
    size_t map_size = 0;
    uint64_t file_size = 0;
    memset(&o, 0, sizeof o);
    memset(&m, 0, sizeof m);
    o.router_input = o.router_scale = o.combine = o.positions = o.decision = -1;
    o.dtype = MOD_DTYPE_F32;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0, *e = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!strcmp(a, "--force")) { o.force = 1; continue; }
        if (!strcmp(a, "--quiet")) { o.quiet = 1; continue; }
        if (!strcmp(a, "--verify")) { o.verify = 1; continue; }
        if (!strcmp(a, "--allow-requantize")) { o.allow_requantize = 1; continue; }
        if (a[0] != '-' || !a[1]) {
            if (o.input) { fprintf(stderr, "error: unexpected argument '%s' (see --help)\n", a); return 2; }
            o.input = a;
            continue;
        }
        if (!takes_value(a)) { fprintf(stderr, "error: unknown option '%s' (see --help)\n", a); return 2; }
        if (!v) { fprintf(stderr, "error: %s needs a value (see --help)\n", a); return 2; }
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) o.output = v;
        else if (!strcmp(a, "--dtype")) {
            o.dtype_given = 1;
            o.dtype = mf_dtype_parse(v);
            bad = o.dtype < 0;
        }
        else if (!strcmp(a, "--tokenizer")) { if (!strcmp(v, "none")) o.tok_none = 1; else o.tokenizer = v; }
        else if (!strcmp(a, "--mod-layers")) { o.mod_layers = v; bad = !layer_list_syntax(v); }
        else if (!strcmp(a, "--capacity")) {
            float *c = (float *)malloc((strlen(v) / 2 + 2) * sizeof *c);
            o.capacity = v;
            bad = !c || parse_capacity_list(v, c, (int)(strlen(v) / 2 + 2)) < 0;
            free(c);
        }
        else if (!strcmp(a, "--router-input")) { e = &o.router_input; *e = parse_enum(v, "residual", "normed"); }
        else if (!strcmp(a, "--router-scale")) { e = &o.router_scale; *e = parse_enum(v, "identity", "sigmoid"); }
        else if (!strcmp(a, "--combine")) { e = &o.combine; *e = parse_enum(v, "delta", "mlp"); }
        else if (!strcmp(a, "--positions")) { e = &o.positions; *e = parse_enum(v, "absolute", "compacted"); }
        else if (!strcmp(a, "--decision")) { e = &o.decision; *e = parse_enum(v, "router", "predictor"); }
        else if (!strcmp(a, "--threshold")) {
            char *end;
            double t;
            errno = 0;
            t = strtod(v, &end);
            bad = !*v || *end || errno || !(fabs(t) <= 1e30);
            o.threshold = (float)t;
            o.have_threshold = 1;
        }
        else { fprintf(stderr, "error: unknown option '%s' (see --help)\n", a); return 2; }
        if (bad || (e && *e < 0)) { fprintf(stderr, "error: invalid value '%s' for %s (see --help)\n", v, a); return 2; }
        i++;
    }
    g_quiet = o.quiet;
    if (o.verify) {
        if (!o.input || o.output) { fprintf(stderr, "error: --verify takes exactly one model file and no -o\n"); return 2; }
        return verify_file(o.input);
    }
    if (!o.input || !o.output) {
        fprintf(stderr, "error: give an INPUT and -o OUT\n");
        usage(stderr);
        return 2;
    }
    if (check_output(&m, &o, 0, NULL) != 0) goto done;
    if (stat(o.input, &st) != 0) { fail("cannot open %s: %s", o.input, strerror(errno)); goto done; }
    if (S_ISDIR(st.st_mode)) { if (read_hf(&m, &o) != 0) goto done; }
    else if (S_ISREG(st.st_mode)) { if (read_file_input(&m, &o) != 0) goto done; }
    else { fail("%s is neither a directory nor a regular file", o.input); goto done; }
    if (check_output(&m, &o, 0, NULL) != 0) goto done;
    if (write_output(&m, &o, &mm, &map, &map_size, &file_size) != 0) goto done;
    if (!o.quiet) summary(&m, &o, mm, file_size);
    if (fflush(stdout) != 0) { fail("cannot write the summary: %s", strerror(errno)); status = 1; goto cleanup; }
    status = 0;
    goto cleanup;
done:
    fprintf(stderr, "error: %s\n", g_err);
cleanup:
    if (mm) mod_model_free(mm);
    if (map) munmap(map, map_size);
    model_free(&m);
    return status;
}
#endif /* MOD_CONVERT_NO_MAIN */
