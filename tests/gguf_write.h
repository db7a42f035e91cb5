/* gguf_write.h: a small GGUF writer for the tests, written from the format's public
   specification (ggml's docs/gguf.md), independent of tools/gguf.h: version 3 (or 2: the same
   layout), little-endian, every metadata value type, tensors at multiples of the alignment.
   Include after ckpt.h (its fbuf).

     gw_init(&w)                          an empty file (version 3, alignment 32)
     gw_str, gw_u32, gw_i32, gw_f32, gw_bool, gw_raw   one key/value (gw_raw: any type, encoded bytes)
     gw_arr_str, gw_arr_f32, gw_arr_i32   arrays
     gw_tensor(&w, name, type, n_dims, ne, data, nbytes)   ne in ggml's order (innermost first)
     gw_bytes(&w, &n)                     the file (malloc'd); gw_free(&w) */
#ifndef GGUF_WRITE_H
#define GGUF_WRITE_H

#ifndef CKPT_H
#error "include ckpt.h before gguf_write.h"
#endif

typedef struct gw_t {
    char name[96];
    uint32_t n_dims, type;
    uint64_t ne[4];
    unsigned char *data;
    size_t nbytes;
} gw_t;

typedef struct gw {
    fbuf kv;
    uint64_t n_kv;
    gw_t t[300];
    int nt;
    uint32_t version, alignment;
} gw;

CKPT_FN void fb_u32(fbuf *b, uint32_t v) { unsigned char x[4]; mkm_put_u32(x, v); fb_put(b, x, 4); }
CKPT_FN void fb_u64(fbuf *b, uint64_t v) { unsigned char x[8]; mkm_put_u64(x, v); fb_put(b, x, 8); }
CKPT_FN void fb_gstr(fbuf *b, const char *s, size_t n) { fb_u64(b, (uint64_t)n); if (n) fb_put(b, s, n); }

CKPT_FN void gw_init(gw *w)
{
    memset(w, 0, sizeof *w);
    w->version = 3;
    w->alignment = 32;
}

CKPT_FN void gw_free(gw *w)
{
    int i;
    for (i = 0; i < w->nt; i++) free(w->t[i].data);
    free(w->kv.p);
    memset(w, 0, sizeof *w);
}

/* value types of the specification */
enum { GW_U8, GW_I8, GW_U16, GW_I16, GW_U32, GW_I32, GW_F32, GW_BOOL, GW_STRING, GW_ARRAY, GW_U64, GW_I64, GW_F64 };

CKPT_FN void gw_key(gw *w, const char *key, uint32_t type)
{
    fb_gstr(&w->kv, key, strlen(key));
    fb_u32(&w->kv, type);
    w->n_kv++;
}
CKPT_FN void gw_raw(gw *w, const char *key, uint32_t type, const void *value, size_t n) { gw_key(w, key, type); fb_put(&w->kv, value, n); }
CKPT_FN void gw_str(gw *w, const char *key, const char *s) { gw_key(w, key, GW_STRING); fb_gstr(&w->kv, s, strlen(s)); }
CKPT_FN void gw_u32(gw *w, const char *key, uint32_t v) { gw_key(w, key, GW_U32); fb_u32(&w->kv, v); }
CKPT_FN void gw_i32(gw *w, const char *key, int32_t v) { gw_key(w, key, GW_I32); fb_u32(&w->kv, (uint32_t)v); }
CKPT_FN void gw_f32(gw *w, const char *key, float v) { unsigned char x[4]; gw_key(w, key, GW_F32); mkm_put_f32(x, v); fb_put(&w->kv, x, 4); }
CKPT_FN void gw_bool(gw *w, const char *key, int v) { unsigned char x = (unsigned char)(v != 0); gw_key(w, key, GW_BOOL); fb_put(&w->kv, &x, 1); }

CKPT_FN void gw_arr_str(gw *w, const char *key, char *const *s, const size_t *len, size_t n)
{
    size_t i;
    gw_key(w, key, GW_ARRAY);
    fb_u32(&w->kv, GW_STRING);
    fb_u64(&w->kv, (uint64_t)n);
    for (i = 0; i < n; i++) fb_gstr(&w->kv, s[i], len ? len[i] : strlen(s[i]));
}
CKPT_FN void gw_arr_f32(gw *w, const char *key, const float *v, size_t n)
{
    size_t i;
    gw_key(w, key, GW_ARRAY);
    fb_u32(&w->kv, GW_F32);
    fb_u64(&w->kv, (uint64_t)n);
    for (i = 0; i < n; i++) { unsigned char x[4]; mkm_put_f32(x, v[i]); fb_put(&w->kv, x, 4); }
}
CKPT_FN void gw_arr_i32(gw *w, const char *key, const int32_t *v, size_t n)
{
    size_t i;
    gw_key(w, key, GW_ARRAY);
    fb_u32(&w->kv, GW_I32);
    fb_u64(&w->kv, (uint64_t)n);
    for (i = 0; i < n; i++) fb_u32(&w->kv, (uint32_t)v[i]);
}

/* A tensor; its bytes are copied. */
CKPT_FN void gw_tensor(gw *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne, const void *data, size_t nbytes)
{
    gw_t *t = &w->t[w->nt++];
    uint32_t d;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = type;
    t->n_dims = n_dims;
    for (d = 0; d < n_dims; d++) t->ne[d] = ne[d];
    t->data = (unsigned char *)malloc(nbytes + 1);
    memcpy(t->data, data, nbytes);
    t->nbytes = nbytes;
}

/* The whole file: header, key/values, tensor infos, padding to the alignment, then each
   tensor's data at the next multiple of the alignment (offsets relative to the data). */
CKPT_FN unsigned char *gw_bytes(const gw *w, size_t *size)
{
    fbuf b;
    uint64_t off = 0;
    int i;
    static const unsigned char zeros[4096];
    memset(&b, 0, sizeof b);
    fb_put(&b, "GGUF", 4);
    fb_u32(&b, w->version);
    fb_u64(&b, (uint64_t)w->nt);
    fb_u64(&b, w->n_kv);
    if (w->kv.n) fb_put(&b, w->kv.p, w->kv.n);
    for (i = 0; i < w->nt; i++) {
        uint32_t d;
        fb_gstr(&b, w->t[i].name, strlen(w->t[i].name));
        fb_u32(&b, w->t[i].n_dims);
        for (d = 0; d < w->t[i].n_dims; d++) fb_u64(&b, w->t[i].ne[d]);
        fb_u32(&b, w->t[i].type);
        fb_u64(&b, off);
        off += w->t[i].nbytes;
        off = (off + w->alignment - 1) / w->alignment * w->alignment;
    }
    fb_put(&b, zeros, (w->alignment - b.n % w->alignment) % w->alignment);
    for (i = 0; i < w->nt; i++) {
        fb_put(&b, w->t[i].data, w->t[i].nbytes);
        if (i + 1 < w->nt) fb_put(&b, zeros, (w->alignment - w->t[i].nbytes % w->alignment) % w->alignment);
    }
    *size = b.n;
    return b.p;
}

/* With MOD_GGUF_SEEDS naming a directory, every file of at most 128 KB written through gw_save
   is also copied there (the seed corpus of tests/fuzz/fuzz_gguf.c is made so). */
CKPT_FN void gw_save(const char *path, const void *p, size_t n)
{
    static int count;
    const char *seeds = getenv("MOD_GGUF_SEEDS");
    write_file(path, p, n);
    if (seeds && *seeds && n <= (128u << 10)) {
        char copy[4200];
        snprintf(copy, sizeof copy, "%s/seed%03d.gguf", seeds, count++);
        write_file(copy, p, n);
    }
}

CKPT_FN void gw_write(const gw *w, const char *path)
{
    size_t n;
    unsigned char *p = gw_bytes(w, &n);
    gw_save(path, p, n);
    free(p);
}

#endif /* GGUF_WRITE_H */
