/* gguf.h - a reader of GGUF files (versions 2 and 3, little-endian), after the format's public
   specification (ggml's docs/gguf.md). Every function is static; C99, libc only. tools/convert.c
   includes it; tests/fuzz/fuzz_gguf.c fuzzes gguf_parse.

     int gguf_parse(gguf_file *g, const unsigned char *p, uint64_t size, char *err, size_t cap);
         reads the header, every metadata key/value (all value types, nested arrays), the tensor
         infos and the data offset from the size bytes at p (the whole file, typically mapped).
         0 on success; else -1 with a sentence in err and nothing to free.
     void gguf_free(gguf_file *g);
     const gguf_kv *gguf_get(const gguf_file *g, const char *key);   NULL when absent

   The input is untrusted. Before anything is used or allocated, every count, length, size and
   offset is checked against the bytes present, in arithmetic that cannot overflow: a count of
   keys, tensors or array elements can never ask for more memory than the bytes that would hold
   them, and the metadata and tensor infos are bounded (GGUF_MAX_*). Keys and tensor names are
   unique; tensors have 1 to 4 dimensions, none zero, the innermost a multiple of the type's
   block, an element count below 2^62; their data lies after the tensor infos, inside the file,
   at a multiple of general.alignment (a power of two, default 32), and no two tensors overlap.
   Bools are 0 or 1. Each rule fails with its own message. */
#ifndef MOD_TOOLS_GGUF_H
#define MOD_TOOLS_GGUF_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GGUF_MAX_KV 65536u               /* metadata keys */
#define GGUF_MAX_TENSORS 65536u          /* tensor infos */
#define GGUF_MAX_META_BYTES (512u << 20) /* header, metadata and tensor infos together */
#define GGUF_MAX_DEPTH 4                 /* arrays nested in arrays */
#define GGUF_MAX_KEY 65535u              /* bytes of a key (the specification's limit) */
#define GGUF_MAX_NAME 64u                /* bytes of a tensor name (the specification's limit) */
#define GGUF_MAX_DIMS 4u
#define GGUF_DEFAULT_ALIGNMENT 32u

/* metadata value types */
enum {
    GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4, GGUF_I32 = 5, GGUF_F32 = 6,
    GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_U64 = 10, GGUF_I64 = 11, GGUF_F64 = 12,
    GGUF_NTYPES = 13
};

static const char *const gguf_value_type_names[GGUF_NTYPES] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array",
    "uint64", "int64", "float64"
};

/* ggml tensor types: name, values per block, bytes per block (0: removed from the format).
   Every type ggml has defined is named, so a message can say which one a file uses. */
typedef struct gguf_type_info { const char *name; uint32_t block, bytes; } gguf_type_info;
static const gguf_type_info gguf_types[] = {
    { "F32", 1, 4 }, { "F16", 1, 2 }, { "Q4_0", 32, 18 }, { "Q4_1", 32, 20 },
    { "Q4_2 (removed from ggml)", 0, 0 }, { "Q4_3 (removed from ggml)", 0, 0 },
    { "Q5_0", 32, 22 }, { "Q5_1", 32, 24 }, { "Q8_0", 32, 34 }, { "Q8_1", 32, 36 },
    { "Q2_K", 256, 84 }, { "Q3_K", 256, 110 }, { "Q4_K", 256, 144 }, { "Q5_K", 256, 176 },
    { "Q6_K", 256, 210 }, { "Q8_K", 256, 292 }, { "IQ2_XXS", 256, 66 }, { "IQ2_XS", 256, 74 },
    { "IQ3_XXS", 256, 98 }, { "IQ1_S", 256, 50 }, { "IQ4_NL", 32, 18 }, { "IQ3_S", 256, 110 },
    { "IQ2_S", 256, 82 }, { "IQ4_XS", 256, 136 }, { "I8", 1, 1 }, { "I16", 1, 2 }, { "I32", 1, 4 },
    { "I64", 1, 8 }, { "F64", 1, 8 }, { "IQ1_M", 256, 56 }, { "BF16", 1, 2 },
    { "Q4_0_4_4 (removed from GGUF)", 0, 0 }, { "Q4_0_4_8 (removed from GGUF)", 0, 0 },
    { "Q4_0_8_8 (removed from GGUF)", 0, 0 }, { "TQ1_0", 256, 54 }, { "TQ2_0", 256, 66 },
    { "IQ4_NL_4_4 (removed from GGUF)", 0, 0 }, { "IQ4_NL_4_8 (removed from GGUF)", 0, 0 },
    { "IQ4_NL_8_8 (removed from GGUF)", 0, 0 }, { "MXFP4", 32, 17 }, { "NVFP4", 64, 36 },
    { "Q1_0", 128, 18 }, { "Q2_0", 64, 18 }
};
#define GGUF_NGGML_TYPES (sizeof gguf_types / sizeof gguf_types[0])
enum { GGML_T_F32 = 0, GGML_T_F16 = 1, GGML_T_Q4_0 = 2, GGML_T_Q8_0 = 8, GGML_T_BF16 = 30 };

/* A name for a ggml type id, for messages (a rotating buffer for unknown ids). */
static const char *gguf_type_name(uint32_t t)
{
    static char buf[4][40];
    static int which;
    char *o;
    if (t < GGUF_NGGML_TYPES) return gguf_types[t].name;
    o = buf[which++ & 3];
    snprintf(o, sizeof buf[0], "unknown type %lu", (unsigned long)t);
    return o;
}

typedef struct gguf_kv {
    const char *key;        /* not NUL-terminated: key_len bytes */
    uint32_t key_len;
    uint32_t type;          /* GGUF_* */
    uint32_t elem_type;     /* arrays: the elements' type */
    uint64_t n;             /* arrays: elements; strings: bytes */
    uint64_t off;           /* where the value starts (arrays: the first element; strings: the bytes) */
} gguf_kv;

typedef struct gguf_tensor {
    const char *name;       /* not NUL-terminated: name_len bytes */
    uint32_t name_len;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ggml's order: ne[0] is the innermost (the columns of a matrix) */
    uint32_t type;
    uint64_t offset;        /* from data_offset */
    uint64_t size;          /* bytes */
    uint64_t n_elems;
} gguf_tensor;

typedef struct gguf_file {
    const unsigned char *p;
    uint64_t size;
    uint32_t version;
    uint64_t n_kv, n_tensors;
    gguf_kv *kv;
    gguf_tensor *tensors;
    uint32_t alignment;
    uint64_t data_offset;   /* absolute: the first byte of the tensor data */
} gguf_file;

typedef struct gguf__rd {
    const unsigned char *p;
    uint64_t size, pos, limit;
    char *err;
    size_t cap;
} gguf__rd;

#if defined(__GNUC__)
static int gguf__fail(gguf__rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
static int gguf__fail(gguf__rd *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (r->cap) vsnprintf(r->err, r->cap, fmt, ap);
    va_end(ap);
    return -1;
}

static uint64_t gguf__le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    int i;
    for (i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* n more bytes at the cursor? (never past the metadata bound) */
static int gguf__have(const gguf__rd *r, uint64_t n) { return r->pos <= r->limit && n <= r->limit - r->pos; }

static int gguf__u32(gguf__rd *r, uint32_t *v, const char *what)
{
    if (!gguf__have(r, 4)) return gguf__fail(r, "truncated at byte %llu: %s needs 4 bytes", (unsigned long long)r->pos, what);
    *v = (uint32_t)gguf__le(r->p + r->pos, 4);
    r->pos += 4;
    return 0;
}

static int gguf__u64(gguf__rd *r, uint64_t *v, const char *what)
{
    if (!gguf__have(r, 8)) return gguf__fail(r, "truncated at byte %llu: %s needs 8 bytes", (unsigned long long)r->pos, what);
    *v = gguf__le(r->p + r->pos, 8);
    r->pos += 8;
    return 0;
}

/* A GGUF string: u64 length, then the bytes; max bounds the length (0: any that fits). */
static int gguf__str(gguf__rd *r, uint64_t *off, uint64_t *len, uint64_t max, const char *what)
{
    if (gguf__u64(r, len, what) != 0) return -1;
    if (max && *len > max) return gguf__fail(r, "%s at byte %llu is %llu bytes long, more than the %llu allowed", what,
                                              (unsigned long long)(r->pos - 8), (unsigned long long)*len, (unsigned long long)max);
    if (!gguf__have(r, *len))
        return gguf__fail(r, "%s at byte %llu claims %llu bytes, but only %llu remain", what, (unsigned long long)(r->pos - 8),
                          (unsigned long long)*len, (unsigned long long)(r->limit - r->pos));
    *off = r->pos;
    r->pos += *len;
    return 0;
}

static uint64_t gguf__scalar_size(uint32_t t)
{
    switch (t) {
    case GGUF_U8: case GGUF_I8: case GGUF_BOOL: return 1;
    case GGUF_U16: case GGUF_I16: return 2;
    case GGUF_U32: case GGUF_I32: case GGUF_F32: return 4;
    case GGUF_U64: case GGUF_I64: case GGUF_F64: return 8;
    default: return 0;
    }
}

/* Skips over one value of type t (checking it), at array depth `depth`. */
static int gguf__value(gguf__rd *r, uint32_t t, int depth, const char *key)
{
    uint64_t sz = gguf__scalar_size(t), n, i, off, len;
    uint32_t et;
    if (t == GGUF_BOOL) {
        if (!gguf__have(r, 1)) return gguf__fail(r, "truncated: the bool value of key %s", key);
        if (r->p[r->pos] > 1) return gguf__fail(r, "key %s: a bool must be 0 or 1, it is %u", key, r->p[r->pos]);
        r->pos++;
        return 0;
    }
    if (sz) {
        if (!gguf__have(r, sz)) return gguf__fail(r, "truncated: the %s value of key %s", gguf_value_type_names[t], key);
        r->pos += sz;
        return 0;
    }
    if (t == GGUF_STRING) return gguf__str(r, &off, &len, 0, "a string value");
    if (t != GGUF_ARRAY) return gguf__fail(r, "key %s: unknown value type %lu", key, (unsigned long)t);
    if (depth >= GGUF_MAX_DEPTH) return gguf__fail(r, "key %s: arrays nested more than %d deep", key, GGUF_MAX_DEPTH);
    if (gguf__u32(r, &et, "an array's element type") != 0 || gguf__u64(r, &n, "an array's length") != 0) return -1;
    if (et >= GGUF_NTYPES) return gguf__fail(r, "key %s: an array of unknown value type %lu", key, (unsigned long)et);
    sz = gguf__scalar_size(et);
    if (sz && et != GGUF_BOOL) {
        if (n > (r->limit - r->pos) / sz)
            return gguf__fail(r, "key %s: an array of %llu %s values needs more bytes than remain (%llu)", key, (unsigned long long)n,
                              gguf_value_type_names[et], (unsigned long long)(r->limit - r->pos));
        r->pos += n * sz;
        return 0;
    }
    /* bools, strings and arrays take at least 1, 8 and 12 bytes each */
    if (n > (r->limit - r->pos) / (et == GGUF_BOOL ? 1 : et == GGUF_STRING ? 8 : 12))
        return gguf__fail(r, "key %s: an array of %llu %s values needs more bytes than remain (%llu)", key, (unsigned long long)n,
                          gguf_value_type_names[et], (unsigned long long)(r->limit - r->pos));
    for (i = 0; i < n; i++)
        if (gguf__value(r, et, depth + 1, key) != 0) return -1;
    return 0;
}

static const gguf_file *gguf__sort_g;
static int gguf__cmp_key(const void *a, const void *b)
{
    const gguf_kv *x = &gguf__sort_g->kv[*(const uint32_t *)a], *y = &gguf__sort_g->kv[*(const uint32_t *)b];
    int c = memcmp(x->key, y->key, x->key_len < y->key_len ? x->key_len : y->key_len);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}
static int gguf__cmp_name(const void *a, const void *b)
{
    const gguf_tensor *x = &gguf__sort_g->tensors[*(const uint32_t *)a], *y = &gguf__sort_g->tensors[*(const uint32_t *)b];
    int c = memcmp(x->name, y->name, x->name_len < y->name_len ? x->name_len : y->name_len);
    return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}
static int gguf__cmp_off(const void *a, const void *b)
{
    const gguf_tensor *x = &gguf__sort_g->tensors[*(const uint32_t *)a], *y = &gguf__sort_g->tensors[*(const uint32_t *)b];
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Printable form of a key or name for messages (a rotating buffer). */
static const char *gguf_show(const char *s, uint64_t n)
{
    static char buf[4][160];
    static int which;
    char *o = buf[which++ & 3];
    uint64_t i;
    size_t k = 0;
    for (i = 0; i < n && k < sizeof buf[0] - 8; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') o[k++] = (char)c;
        else k += (size_t)snprintf(o + k, sizeof buf[0] - k, "\\x%02X", c);
    }
    if (i < n) { memcpy(o + k, "...", 3); k += 3; }
    o[k] = 0;
    return o;
}

static void gguf_free(gguf_file *g)
{
    free(g->kv);
    free(g->tensors);
    g->kv = NULL;
    g->tensors = NULL;
}

static int gguf_parse(gguf_file *g, const unsigned char *p, uint64_t size, char *err, size_t cap)
{
    gguf__rd r;
    uint64_t i, k, data_size;
    uint32_t *idx = NULL;
    memset(g, 0, sizeof *g);
    r.p = p; r.size = size; r.pos = 0; r.err = err; r.cap = cap;
    r.limit = size < GGUF_MAX_META_BYTES ? size : GGUF_MAX_META_BYTES;
    g->p = p;
    g->size = size;
    if (cap) err[0] = 0;
    if (size < 4 || memcmp(p, "GGUF", 4) != 0) return gguf__fail(&r, "not a GGUF file (it does not start with \"GGUF\")");
    r.pos = 4;
    if (gguf__u32(&r, &g->version, "the version") != 0) return -1;
    if (g->version == 1) return gguf__fail(&r, "GGUF version 1 is not supported (its counts are 32-bit; convert the model again with a current llama.cpp)");
    if (g->version != 2 && g->version != 3) {
        uint32_t swapped = (g->version >> 24) | (g->version >> 8 & 0xff00u) | (g->version << 8 & 0xff0000u) | g->version << 24;
        if (swapped >= 1 && swapped <= 3)
            return gguf__fail(&r, "a big-endian GGUF file (version %lu written big-endian) is not supported; only little-endian files are", (unsigned long)swapped);
        return gguf__fail(&r, "GGUF version %lu is unknown (versions 2 and 3 are supported)", (unsigned long)g->version);
    }
    if (gguf__u64(&r, &g->n_tensors, "the tensor count") != 0 || gguf__u64(&r, &g->n_kv, "the metadata key count") != 0) return -1;
    if (g->n_kv > GGUF_MAX_KV) return gguf__fail(&r, "%llu metadata keys, more than the %u allowed", (unsigned long long)g->n_kv, GGUF_MAX_KV);
    if (g->n_tensors > GGUF_MAX_TENSORS) return gguf__fail(&r, "%llu tensors, more than the %u allowed", (unsigned long long)g->n_tensors, GGUF_MAX_TENSORS);
    /* each key/value takes at least 13 bytes, each tensor info 32: counts the bytes cannot hold fail before any allocation */
    if (g->n_kv > (r.limit - r.pos) / 13 || g->n_tensors > (r.limit - r.pos - 13 * g->n_kv) / 32)
        return gguf__fail(&r, "%llu metadata keys and %llu tensor infos cannot fit in the %llu bytes that follow the header",
                          (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors, (unsigned long long)(r.limit - r.pos));
    g->kv = (gguf_kv *)calloc((size_t)g->n_kv + 1, sizeof *g->kv);
    g->tensors = (gguf_tensor *)calloc((size_t)g->n_tensors + 1, sizeof *g->tensors);
    idx = (uint32_t *)malloc(((size_t)(g->n_kv > g->n_tensors ? g->n_kv : g->n_tensors) + 1) * sizeof *idx);
    if (!g->kv || !g->tensors || !idx) { gguf__fail(&r, "out of memory"); goto fail; }
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (i = 0; i < g->n_kv; i++) {
        gguf_kv *kv = &g->kv[i];
        uint64_t koff, klen;
        const char *key;
        if (gguf__str(&r, &koff, &klen, GGUF_MAX_KEY, "a metadata key") != 0) goto fail;
        key = (const char *)p + koff;
        if (klen == 0) { gguf__fail(&r, "metadata key %llu is empty", (unsigned long long)i); goto fail; }
        if (memchr(key, 0, (size_t)klen)) { gguf__fail(&r, "metadata key \"%s\" contains a NUL byte", gguf_show(key, klen)); goto fail; }
        kv->key = key;
        kv->key_len = (uint32_t)klen;
        if (gguf__u32(&r, &kv->type, "a value type") != 0) goto fail;
        if (kv->type >= GGUF_NTYPES) { gguf__fail(&r, "key %s: unknown value type %lu", gguf_show(key, klen), (unsigned long)kv->type); goto fail; }
        if (kv->type == GGUF_ARRAY) {
            if (!gguf__have(&r, 12)) { gguf__fail(&r, "truncated: the array header of key %s", gguf_show(key, klen)); goto fail; }
            kv->elem_type = (uint32_t)gguf__le(p + r.pos, 4);
            kv->n = gguf__le(p + r.pos + 4, 8);
            kv->off = r.pos + 12;
        } else if (kv->type == GGUF_STRING) {
            if (gguf__have(&r, 8)) { kv->n = gguf__le(p + r.pos, 8); kv->off = r.pos + 8; }
        } else {
            kv->off = r.pos;
        }
        {
            char kname[160];
            snprintf(kname, sizeof kname, "%s", gguf_show(key, klen));
            if (gguf__value(&r, kv->type, 0, kname) != 0) goto fail;
        }
        if (klen == 17 && !memcmp(key, "general.alignment", 17)) {
            uint32_t a;
            if (kv->type != GGUF_U32) { gguf__fail(&r, "general.alignment must be a uint32, it is a %s", gguf_value_type_names[kv->type]); goto fail; }
            a = (uint32_t)gguf__le(p + kv->off, 4);
            if (a == 0 || (a & (a - 1))) { gguf__fail(&r, "general.alignment is %lu, not a power of two", (unsigned long)a); goto fail; }
            g->alignment = a;
        }
    }
    gguf__sort_g = g;
    for (i = 0; i < g->n_kv; i++) idx[i] = (uint32_t)i;
    qsort(idx, (size_t)g->n_kv, sizeof *idx, gguf__cmp_key);
    for (i = 1; i < g->n_kv; i++)
        if (!gguf__cmp_key(&idx[i - 1], &idx[i])) {
            gguf__fail(&r, "metadata key %s appears twice", gguf_show(g->kv[idx[i]].key, g->kv[idx[i]].key_len));
            goto fail;
        }
    for (i = 0; i < g->n_tensors; i++) {
        gguf_tensor *t = &g->tensors[i];
        uint64_t noff, nlen, blocks, bsize;
        uint32_t d;
        const char *nm;
        if (gguf__str(&r, &noff, &nlen, GGUF_MAX_NAME, "a tensor name") != 0) goto fail;
        nm = (const char *)p + noff;
        if (nlen == 0) { gguf__fail(&r, "tensor %llu has an empty name", (unsigned long long)i); goto fail; }
        if (memchr(nm, 0, (size_t)nlen)) { gguf__fail(&r, "tensor name \"%s\" contains a NUL byte", gguf_show(nm, nlen)); goto fail; }
        t->name = nm;
        t->name_len = (uint32_t)nlen;
        if (gguf__u32(&r, &t->n_dims, "a tensor's dimension count") != 0) goto fail;
        if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS) {
            gguf__fail(&r, "tensor %s has %lu dimensions; 1 to %u are allowed", gguf_show(nm, nlen), (unsigned long)t->n_dims, GGUF_MAX_DIMS);
            goto fail;
        }
        t->n_elems = 1;
        for (d = 0; d < t->n_dims; d++) {
            if (gguf__u64(&r, &t->ne[d], "a tensor dimension") != 0) goto fail;
            if (t->ne[d] == 0) { gguf__fail(&r, "tensor %s: dimension %lu is 0", gguf_show(nm, nlen), (unsigned long)d); goto fail; }
            if (t->ne[d] > ((uint64_t)1 << 62) / t->n_elems) {
                gguf__fail(&r, "tensor %s: its element count exceeds 2^62", gguf_show(nm, nlen));
                goto fail;
            }
            t->n_elems *= t->ne[d];
        }
        if (gguf__u32(&r, &t->type, "a tensor's type") != 0 || gguf__u64(&r, &t->offset, "a tensor's offset") != 0) goto fail;
        if (t->type >= GGUF_NGGML_TYPES) { gguf__fail(&r, "tensor %s has type %lu, which ggml does not define", gguf_show(nm, nlen), (unsigned long)t->type); goto fail; }
        if (!gguf_types[t->type].block) { gguf__fail(&r, "tensor %s has type %s", gguf_show(nm, nlen), gguf_types[t->type].name); goto fail; }
        if (t->ne[0] % gguf_types[t->type].block) {
            gguf__fail(&r, "tensor %s: its rows of %llu values are not whole %s blocks of %lu", gguf_show(nm, nlen),
                       (unsigned long long)t->ne[0], gguf_types[t->type].name, (unsigned long)gguf_types[t->type].block);
            goto fail;
        }
        blocks = t->n_elems / gguf_types[t->type].block;
        bsize = gguf_types[t->type].bytes;
        if (blocks > UINT64_MAX / bsize) { gguf__fail(&r, "tensor %s: its size in bytes overflows", gguf_show(nm, nlen)); goto fail; }
        t->size = blocks * bsize;
        if (t->offset % g->alignment) {
            gguf__fail(&r, "tensor %s: offset %llu is not a multiple of the alignment %lu", gguf_show(nm, nlen),
                       (unsigned long long)t->offset, (unsigned long)g->alignment);
            goto fail;
        }
    }
    for (i = 0; i < g->n_tensors; i++) idx[i] = (uint32_t)i;
    qsort(idx, (size_t)g->n_tensors, sizeof *idx, gguf__cmp_name);
    for (i = 1; i < g->n_tensors; i++)
        if (!gguf__cmp_name(&idx[i - 1], &idx[i])) {
            gguf__fail(&r, "tensor %s appears twice", gguf_show(g->tensors[idx[i]].name, g->tensors[idx[i]].name_len));
            goto fail;
        }
    /* the data starts at the next multiple of the alignment */
    k = r.pos % g->alignment;
    g->data_offset = r.pos + (k ? g->alignment - k : 0);
    if (g->n_tensors && g->data_offset > size) {
        gguf__fail(&r, "the tensor data would start at byte %llu, past the end of the file (%llu bytes)", (unsigned long long)g->data_offset, (unsigned long long)size);
        goto fail;
    }
    data_size = g->data_offset <= size ? size - g->data_offset : 0;
    for (i = 0; i < g->n_tensors; i++) idx[i] = (uint32_t)i;
    qsort(idx, (size_t)g->n_tensors, sizeof *idx, gguf__cmp_off);
    for (i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[idx[i]];
        if (t->offset > data_size || t->size > data_size - t->offset) {
            gguf__fail(&r, "tensor %s: its %llu bytes at data offset %llu lie past the end of the file (%llu bytes of data)",
                       gguf_show(t->name, t->name_len), (unsigned long long)t->size, (unsigned long long)t->offset, (unsigned long long)data_size);
            goto fail;
        }
        if (i && t->offset < g->tensors[idx[i - 1]].offset + g->tensors[idx[i - 1]].size) {
            const gguf_tensor *u = &g->tensors[idx[i - 1]];
            gguf__fail(&r, "tensors %s and %s overlap (bytes [%llu, %llu) and [%llu, %llu) of the data)", gguf_show(u->name, u->name_len),
                       gguf_show(t->name, t->name_len), (unsigned long long)u->offset, (unsigned long long)(u->offset + u->size),
                       (unsigned long long)t->offset, (unsigned long long)(t->offset + t->size));
            goto fail;
        }
    }
    free(idx);
    return 0;
fail:
    free(idx);
    gguf_free(g);
    return -1;
}

static const gguf_kv *gguf_get(const gguf_file *g, const char *key)
{
    size_t n = strlen(key);
    uint64_t i;
    for (i = 0; i < g->n_kv; i++)
        if (g->kv[i].key_len == n && !memcmp(g->kv[i].key, key, n)) return &g->kv[i];
    return NULL;
}

/* An integer value of any integer type; 0, or -1 when the value is not an integer. */
static int gguf_int(const gguf_file *g, const gguf_kv *kv, int64_t *v)
{
    const unsigned char *q = g->p + kv->off;
    switch (kv->type) {
    case GGUF_U8: *v = q[0]; return 0;
    case GGUF_I8: *v = (int8_t)q[0]; return 0;
    case GGUF_U16: *v = (int64_t)gguf__le(q, 2); return 0;
    case GGUF_I16: *v = (int16_t)gguf__le(q, 2); return 0;
    case GGUF_U32: *v = (int64_t)gguf__le(q, 4); return 0;
    case GGUF_I32: *v = (int32_t)gguf__le(q, 4); return 0;
    case GGUF_I64: *v = (int64_t)gguf__le(q, 8); return 0;
    case GGUF_U64: {
        uint64_t u = gguf__le(q, 8);
        if (u > (uint64_t)INT64_MAX) return -1;
        *v = (int64_t)u;
        return 0;
    }
    default: return -1;
    }
}

/* A float32 or float64 value; 0, or -1 for another type. */
static int gguf_float(const gguf_file *g, const gguf_kv *kv, double *v)
{
    const unsigned char *q = g->p + kv->off;
    if (kv->type == GGUF_F32) {
        uint32_t u = (uint32_t)gguf__le(q, 4);
        float f;
        memcpy(&f, &u, 4);
        *v = f;
        return 0;
    }
    if (kv->type == GGUF_F64) {
        uint64_t u = gguf__le(q, 8);
        memcpy(v, &u, 8);
        return 0;
    }
    return -1;
}

/* Element i of an array of float32 or int32/uint32 (checked by gguf_parse to be inside it). */
static float gguf_arr_f32(const gguf_file *g, const gguf_kv *kv, uint64_t i)
{
    uint32_t u = (uint32_t)gguf__le(g->p + kv->off + 4 * i, 4);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static uint32_t gguf_arr_u32(const gguf_file *g, const gguf_kv *kv, uint64_t i)
{
    return (uint32_t)gguf__le(g->p + kv->off + 4 * i, 4);
}

/* The next string of an array of strings: *pos starts at kv->off; gguf_parse checked that every
   element lies inside the file. */
static void gguf_arr_str(const gguf_file *g, uint64_t *pos, const char **s, uint64_t *len)
{
    *len = gguf__le(g->p + *pos, 8);
    *s = (const char *)g->p + *pos + 8;
    *pos += 8 + *len;
}

#endif /* MOD_TOOLS_GGUF_H */
