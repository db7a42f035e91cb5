/* gguf_write.h: a small GGUF writer, written from the format's public specification (ggml's
   docs/gguf.md), independent of the reader tools/gguf.h: version 3 (or 2: the same layout),
   little-endian, every metadata value type, tensors at multiples of the alignment. Used by
   mkmodel --gguf and by the GGUF tests. Header-only, every function static; needs only libc.

     gw_init(&w)                          an empty file (version 3, alignment 32)
     gw_str, gw_u32, gw_i32, gw_f32, gw_bool, gw_raw   one key/value (gw_raw: any type, encoded bytes)
     gw_arr_str, gw_arr_f32, gw_arr_i32   arrays
     gw_tensor(&w, name, type, n_dims, ne, data, nbytes)   ne in ggml's order (innermost first);
                                          the bytes are copied
     gw_tensor_ref(...)                   the same, the bytes only referenced (they must stay
                                          valid until gw_bytes)
     gw_bytes(&w, &n)                     the file (malloc'd), or NULL when out of memory at any
                                          point since gw_init; gw_free(&w)
   gw_buf (gw_put, gw_put_u32, gw_put_u64, gw_put_str) is the growing byte buffer underneath,
   for callers that write a file by hand. */
#ifndef GGUF_WRITE_H
#define GGUF_WRITE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define GW_FN static __attribute__((unused))
#else
#define GW_FN static
#endif

/* A growing buffer; failed is set (and stays) when memory ran out. */
typedef struct gw_buf {
    unsigned char *p;
    size_t n, cap;
    int failed;
} gw_buf;

GW_FN void gw_put(gw_buf *b, const void *p, size_t n)
{
    if (b->failed || n == 0) return;
    if (n > b->cap - b->n) {
        size_t cap = b->cap ? b->cap : 4096;
        unsigned char *q;
        while (cap - b->n < n) {
            if (cap > (size_t)-1 / 2) { b->failed = 1; return; }
            cap *= 2;
        }
        q = (unsigned char *)realloc(b->p, cap);
        if (!q) { b->failed = 1; return; }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
GW_FN void gw_put_u32(gw_buf *b, uint32_t v)
{
    unsigned char x[4];
    int i;
    for (i = 0; i < 4; i++) x[i] = (unsigned char)(v >> (8 * i));
    gw_put(b, x, 4);
}
GW_FN void gw_put_u64(gw_buf *b, uint64_t v)
{
    unsigned char x[8];
    int i;
    for (i = 0; i < 8; i++) x[i] = (unsigned char)(v >> (8 * i));
    gw_put(b, x, 8);
}
/* a GGUF string: u64 length, then the bytes */
GW_FN void gw_put_str(gw_buf *b, const char *s, size_t n) { gw_put_u64(b, (uint64_t)n); if (n) gw_put(b, s, n); }
GW_FN void gw_put_f32(gw_buf *b, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    gw_put_u32(b, u);
}

typedef struct gw_t {
    char name[96];
    uint32_t n_dims, type;
    uint64_t ne[4];
    unsigned char *data;       /* the copied bytes (gw_tensor), owned */
    const unsigned char *ref;  /* or the caller's (gw_tensor_ref), when data is NULL */
    size_t nbytes;
} gw_t;

typedef struct gw {
    gw_buf kv;
    uint64_t n_kv;
    gw_t *t;
    int nt, cap;
    uint32_t version, alignment;
    int failed;
} gw;

GW_FN void gw_init(gw *w)
{
    memset(w, 0, sizeof *w);
    w->version = 3;
    w->alignment = 32;
}

GW_FN void gw_free(gw *w)
{
    int i;
    for (i = 0; i < w->nt; i++) free(w->t[i].data);
    free(w->t);
    free(w->kv.p);
    memset(w, 0, sizeof *w);
}

/* value types of the specification */
enum { GW_U8, GW_I8, GW_U16, GW_I16, GW_U32, GW_I32, GW_F32, GW_BOOL, GW_STRING, GW_ARRAY, GW_U64, GW_I64, GW_F64 };

GW_FN void gw_key(gw *w, const char *key, uint32_t type)
{
    gw_put_str(&w->kv, key, strlen(key));
    gw_put_u32(&w->kv, type);
    w->n_kv++;
}
GW_FN void gw_raw(gw *w, const char *key, uint32_t type, const void *value, size_t n) { gw_key(w, key, type); gw_put(&w->kv, value, n); }
GW_FN void gw_str(gw *w, const char *key, const char *s) { gw_key(w, key, GW_STRING); gw_put_str(&w->kv, s, strlen(s)); }
GW_FN void gw_u32(gw *w, const char *key, uint32_t v) { gw_key(w, key, GW_U32); gw_put_u32(&w->kv, v); }
GW_FN void gw_i32(gw *w, const char *key, int32_t v) { gw_key(w, key, GW_I32); gw_put_u32(&w->kv, (uint32_t)v); }
GW_FN void gw_f32(gw *w, const char *key, float v) { gw_key(w, key, GW_F32); gw_put_f32(&w->kv, v); }
GW_FN void gw_bool(gw *w, const char *key, int v) { unsigned char x = (unsigned char)(v != 0); gw_key(w, key, GW_BOOL); gw_put(&w->kv, &x, 1); }

GW_FN void gw_arr_str(gw *w, const char *key, char *const *s, const size_t *len, size_t n)
{
    size_t i;
    gw_key(w, key, GW_ARRAY);
    gw_put_u32(&w->kv, GW_STRING);
    gw_put_u64(&w->kv, (uint64_t)n);
    for (i = 0; i < n; i++) gw_put_str(&w->kv, s[i], len ? len[i] : strlen(s[i]));
}
GW_FN void gw_arr_f32(gw *w, const char *key, const float *v, size_t n)
{
    size_t i;
    gw_key(w, key, GW_ARRAY);
    gw_put_u32(&w->kv, GW_F32);
    gw_put_u64(&w->kv, (uint64_t)n);
    for (i = 0; i < n; i++) gw_put_f32(&w->kv, v[i]);
}
GW_FN void gw_arr_i32(gw *w, const char *key, const int32_t *v, size_t n)
{
    size_t i;
    gw_key(w, key, GW_ARRAY);
    gw_put_u32(&w->kv, GW_I32);
    gw_put_u64(&w->kv, (uint64_t)n);
    for (i = 0; i < n; i++) gw_put_u32(&w->kv, (uint32_t)v[i]);
}

GW_FN gw_t *gw__new_tensor(gw *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne, size_t nbytes)
{
    gw_t *t;
    uint32_t d;
    if (w->failed || n_dims > 4) { w->failed = 1; return NULL; }
    if (w->nt == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        gw_t *q = (gw_t *)realloc(w->t, (size_t)cap * sizeof *q);
        if (!q) { w->failed = 1; return NULL; }
        w->t = q;
        w->cap = cap;
    }
    t = &w->t[w->nt++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type;
    t->n_dims = n_dims;
    for (d = 0; d < n_dims; d++) t->ne[d] = ne[d];
    t->nbytes = nbytes;
    return t;
}

/* A tensor; its bytes are copied. */
GW_FN void gw_tensor(gw *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne, const void *data, size_t nbytes)
{
    gw_t *t = gw__new_tensor(w, name, type, n_dims, ne, nbytes);
    if (!t) return;
    t->data = (unsigned char *)malloc(nbytes + 1);
    if (!t->data) { w->failed = 1; w->nt--; return; }
    memcpy(t->data, data, nbytes);
}

/* A tensor whose bytes stay the caller's until gw_bytes. */
GW_FN void gw_tensor_ref(gw *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne, const void *data, size_t nbytes)
{
    gw_t *t = gw__new_tensor(w, name, type, n_dims, ne, nbytes);
    if (t) t->ref = (const unsigned char *)data;
}

/* The whole file: header, key/values, tensor infos, padding to the alignment, then each
   tensor's data at the next multiple of the alignment (offsets relative to the data). NULL
   when memory ran out. */
GW_FN unsigned char *gw_bytes(const gw *w, size_t *size)
{
    gw_buf b;
    uint64_t off = 0;
    int i;
    static const unsigned char zeros[4096];
    *size = 0;
    if (w->failed || w->kv.failed || w->alignment == 0 || w->alignment > sizeof zeros) return NULL;
    memset(&b, 0, sizeof b);
    gw_put(&b, "GGUF", 4);
    gw_put_u32(&b, w->version);
    gw_put_u64(&b, (uint64_t)w->nt);
    gw_put_u64(&b, w->n_kv);
    gw_put(&b, w->kv.p, w->kv.n);
    for (i = 0; i < w->nt; i++) {
        uint32_t d;
        gw_put_str(&b, w->t[i].name, strlen(w->t[i].name));
        gw_put_u32(&b, w->t[i].n_dims);
        for (d = 0; d < w->t[i].n_dims; d++) gw_put_u64(&b, w->t[i].ne[d]);
        gw_put_u32(&b, w->t[i].type);
        gw_put_u64(&b, off);
        off += w->t[i].nbytes;
        off = (off + w->alignment - 1) / w->alignment * w->alignment;
    }
    gw_put(&b, zeros, (w->alignment - b.n % w->alignment) % w->alignment);
    for (i = 0; i < w->nt; i++) {
        gw_put(&b, w->t[i].data ? w->t[i].data : w->t[i].ref, w->t[i].nbytes);
        if (i + 1 < w->nt) gw_put(&b, zeros, (w->alignment - w->t[i].nbytes % w->alignment) % w->alignment);
    }
    if (b.failed) { free(b.p); return NULL; }
    *size = b.n;
    return b.p;
}

#endif /* GGUF_WRITE_H */
