/* modfile.h - the one writer of mod.h model files (docs/FORMAT.md, version 2; version 1 is read,
   not written).

   Header-only, every function static; tools/convert.c, tools/mkmodel.h and the tests use it.
   The layout is not written out here: the records (header, layer table entry, tensor
   directory entry, tokenizer header) and the tensor roles are the tables of mod.h
   (MOD__HEADER_FIELDS and the others, MOD__ROLES), which the library's loader reads through
   and which this header writes through. What it adds is what only a writer needs: laying a
   file out, the weight encoders (f16, bf16, q8_0, q4_0), the checksum, the tokenizer section.
   Files are put in place with examples/cli.h's output writer (complete or not at all).

   Writing a file:
     mod__file_header h;  memset(&h, 0, sizeof h);  ... the config fields (vocab_size .. sliding_window;
                          head_dim and embed_scale left 0 become dim / n_heads and 1) ...
     mf_tensor ts[...];   ... role, layer, dtype, rows, cols of each tensor, in file order ...
     mf_layout(&h, ts, n, tokenizer_bytes);          the offsets, sizes and file_size
     mf_put_prefix(buf, &h, routed, capacity, ts, tokenizer);   bytes [0, h.data_offset)
     mf_put_chat_template(buf, &h, text);   the chat template, if h.chat_template_size was set
     mf_encode(buf + h.data_offset + ts[i].offset, values, count, ts[i].dtype);  each tensor
     mf_set_checksum(buf, h.file_size);   (or mf_fnv1a over a stream, stored at offset 8)
*/
#ifndef MODFILE_H
#define MODFILE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../mod.h"

/* ---- little-endian fields ---- */

static inline void mf_put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline void mf_put_u64(unsigned char *p, uint64_t v)
{
    mf_put_u32(p, (uint32_t)v);
    mf_put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline void mf_put_f32(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    mf_put_u32(p, u);
}

static inline uint32_t mf_get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t mf_get_u64(const unsigned char *p)
{
    return (uint64_t)mf_get_u32(p) | ((uint64_t)mf_get_u32(p + 4) << 32);
}

static inline float mf_get_f32(const unsigned char *p)
{
    uint32_t u = mf_get_u32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- the records, written through mod.h's tables ---- */

#define MF__PUT_U32(p, v) mf_put_u32(p, v)
#define MF__PUT_I32(p, v) mf_put_u32(p, (uint32_t)(v))
#define MF__PUT_U64(p, v) mf_put_u64(p, v)
#define MF__PUT_F32(p, v) mf_put_f32(p, v)
#define MF__PUT_U8X4(p, v) memcpy(p, v, 4)
#define MF__PUT_U32X3(p, v) { int k_; for (k_ = 0; k_ < 3; k_++) mf_put_u32((p) + 4 * k_, (v)[k_]); }
#define MF__PUT_U32X10(p, v) { int k_; for (k_ = 0; k_ < 10; k_++) mf_put_u32((p) + 4 * k_, (v)[k_]); }
#define MF__PUT_U64X4(p, v) { int k_; for (k_ = 0; k_ < 4; k_++) mf_put_u64((p) + 8 * k_, (v)[k_]); }
#define MF__PUT_FIELD(field, offset, type) MF__PUT_##type(p + (offset), r->field);

static inline void mf_put_header(unsigned char *p, const mod__file_header *r) { MOD__HEADER_FIELDS(MF__PUT_FIELD) }
static inline void mf_put_layer_entry(unsigned char *p, const mod__layer_entry *r) { MOD__LAYER_ENTRY_FIELDS(MF__PUT_FIELD) }
static inline void mf_put_tensor_entry(unsigned char *p, const mod__tensor_entry *r) { MOD__TENSOR_ENTRY_FIELDS(MF__PUT_FIELD) }
static inline void mf_put_tokenizer_header(unsigned char *p, const mod__tokenizer_header *r) { MOD__TOKENIZER_HEADER_FIELDS(MF__PUT_FIELD) }
static inline void mf_put_tokenizer_sp(unsigned char *p, const mod__tokenizer_sp *r) { MOD__TOKENIZER_SP_FIELDS(MF__PUT_FIELD) }
static inline void mf_put_added_token(unsigned char *p, const mod__added_token *r) { MOD__ADDED_TOKEN_FIELDS(MF__PUT_FIELD) }

/* ---- names ---- */

/* "f32", "f16", "bf16", "q8_0", "q4_0", or NULL */
static inline const char *mf_dtype_name(int dtype)
{
    static const char *const names[MOD_DTYPE_COUNT] = { "f32", "f16", "bf16", "q8_0", "q4_0" };
    return dtype >= 0 && dtype < MOD_DTYPE_COUNT ? names[dtype] : NULL;
}

/* The dtype of a name of mf_dtype_name, or -1. */
static inline int mf_dtype_parse(const char *name)
{
    int dt;
    for (dt = 0; dt < MOD_DTYPE_COUNT; dt++)
        if (strcmp(name, mf_dtype_name(dt)) == 0) return dt;
    return -1;
}

/* The name of a tensor role (MOD__ROLE_*), as docs/FORMAT.md gives it, or NULL. */
static inline const char *mf_role_name(int role)
{
#define MF__ROLE_NAME(id, name, layer, rows, cols, when) #name,
    static const char *const names[MOD__ROLE_COUNT] = { MOD__ROLES(MF__ROLE_NAME) };
#undef MF__ROLE_NAME
    return role >= 0 && role < MOD__ROLE_COUNT ? names[role] : NULL;
}

/* The sizes of MOD__ROLES' shapes for a model of vocab V, width d, H query heads, Hkv
   key/value heads of hd values each (0: d / H), MLP width F and predictor width Fp. */
static inline mod__dims mf_dims(uint64_t V, uint64_t d, uint64_t H, uint64_t Hkv, uint64_t hd, uint64_t F, uint64_t Fp)
{
    mod__dims m;
    if (!hd) hd = d / H;
    m.v = V; m.d = d; m.qd = hd * H; m.kvd = hd * Hkv; m.f = F; m.fp = Fp;
    return m;
}

/* The shape of a role's tensor: rows (0: one-dimensional) x cols. */
static inline void mf_role_shape(int role, const mod__dims *m, uint64_t *rows, uint64_t *cols)
{
    switch (role) {
#define MF__SHAPE_CASE(id, name, layer, r, k, when) \
    case MOD__ROLE_##id: *rows = MOD__SIZE_##r(*m); *cols = MOD__SIZE_##k(*m); break;
    MOD__ROLES(MF__SHAPE_CASE)
#undef MF__SHAPE_CASE
    default: *rows = 0; *cols = 0; break;
    }
}

/* Is a role's tensor called for (MOD__WHEN_): 1 required, 2 optional, 0 not allowed. */
static inline int mf_role_wanted(int role, int tied, int routed, int predictor, int predictor_hidden)
{
    switch (role) {
#define MF__WANTED_CASE(id, name, layer, r, k, when) \
    case MOD__ROLE_##id: return MOD__WHEN_##when(tied, routed, predictor, predictor_hidden);
    MOD__ROLES(MF__WANTED_CASE)
#undef MF__WANTED_CASE
    default: return 0;
    }
}

/* ---- number formats ---- */

/* f32 to IEEE binary16, rounded to nearest, ties to even; overflow gives infinity, NaN a quiet
   NaN of the same sign. */
static inline uint16_t mf_f32_to_f16(float f)
{
    uint32_t x, sign, mant;
    int32_t e;
    memcpy(&x, &f, 4);
    sign = (x >> 16) & 0x8000u;
    e = (int32_t)((x >> 23) & 0xFFu);
    mant = x & 0x7FFFFFu;
    if (e == 255) return (uint16_t)(sign | 0x7C00u | (mant ? 0x200u : 0u));
    e = e - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7C00u);
    if (e <= 0) {
        uint32_t shift, rem, half, m;
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000u;
        shift = (uint32_t)(14 - e);
        rem = mant & ((1u << shift) - 1u);
        half = 1u << (shift - 1u);
        m = mant >> shift;
        if (rem > half || (rem == half && (m & 1u))) m++;
        return (uint16_t)(sign | m);
    } else {
        uint32_t h = sign | ((uint32_t)e << 10) | (mant >> 13);
        uint32_t rem = mant & 0x1FFFu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
        return (uint16_t)h;
    }
}

/* f32 to bf16 (the upper half of a binary32), rounded to nearest, ties to even; NaN stays a
   (quiet) NaN. */
static inline uint16_t mf_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7F800000u) == 0x7F800000u && (x & 0x7FFFFFu)) return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7FFFu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

/* The value of f16 bits (exact). */
static inline double mf_f16_value(uint16_t h)
{
    const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    const double v = e == 0 ? ldexp((double)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp((double)(m | 0x400), e - 25);
    return h & 0x8000u ? -v : v;
}

/* One q8_0 block: 32 values -> 34 bytes. The scale max|v| / 127, stored as f16, then each
   value times 127 / max|v| (in binary32) rounded half away from zero, as int8. A block whose
   127 / max|v| is not finite (max|v| below 2^-121: the stored scale is 0) is all -127.
   Returns -1 when the scale does not fit in f16, 0 otherwise. */
static inline int mf_q8_block(unsigned char *q, const float *v)
{
    float amax = 0.0f, id;
    uint16_t h;
    int k;
    for (k = 0; k < 32; k++) {
        const float a = v[k] < 0 ? -v[k] : v[k];
        if (a > amax) amax = a;
    }
    h = mf_f32_to_f16(amax / 127.0f);
    id = amax > 0.0f ? 127.0f / amax : 0.0f;
    q[0] = (unsigned char)h;
    q[1] = (unsigned char)(h >> 8);
    for (k = 0; k < 32; k++) {
        const float r = roundf(v[k] * id); /* within [-127, 127], or not finite */
        const int n = r >= -127.0f && r <= 127.0f ? (int)r : -127;
        q[2 + k] = (unsigned char)(signed char)n;
    }
    return (h & 0x7fffu) == 0x7c00u ? -1 : 0;
}

/* One q4_0 block: 32 values -> 18 bytes. The element m of largest |v| (the first of equals),
   sign included, gives the scale d = m / -8, stored as f16; each value becomes the nibble
   clamp(round(v / d) + 8, 0, 15) (half away from zero, d the stored f16 scale, so m itself is
   0 and decodes to -8 d). Byte j holds element j in its low nibble and element j + 16 in its
   high nibble. A block whose scale is 0 (all zeros, or too small for f16) is all nibbles 8.
   Returns -1 when the scale does not fit in f16, 0 otherwise. */
static inline int mf_q4_block(unsigned char *q, const float *v)
{
    float m = 0.0f;
    uint16_t h;
    double d;
    int k;
    for (k = 0; k < 32; k++) if (fabsf(v[k]) > fabsf(m)) m = v[k];
    h = m != 0.0f ? mf_f32_to_f16(m / -8.0f) : 0; /* an all-zero block: +0 */
    d = mf_f16_value(h);
    q[0] = (unsigned char)h;
    q[1] = (unsigned char)(h >> 8);
    for (k = 0; k < 16; k++) {
        int n[2], i;
        for (i = 0; i < 2; i++) {
            const double r = d != 0.0 ? (double)v[k + 16 * i] / d : 0.0;
            const double t = (r < 0 ? ceil(r - 0.5) : floor(r + 0.5)) + 8.0;
            n[i] = t < 0.0 ? 0 : t > 15.0 ? 15 : (int)t;
        }
        q[2 + k] = (unsigned char)(n[0] | n[1] << 4);
    }
    return (h & 0x7fffu) == 0x7c00u ? -1 : 0;
}

/* Bytes of a tensor of rows x cols values (rows 0: one-dimensional) in dtype; cols must be a
   multiple of 32 for q8_0 and q4_0. */
static inline uint64_t mf_tensor_bytes(int dtype, uint64_t rows, uint64_t cols)
{
    const uint64_t row = dtype == MOD_DTYPE_Q8_0 ? cols / 32 * 34 : dtype == MOD_DTYPE_Q4_0 ? cols / 32 * 18
                       : cols * (dtype == MOD_DTYPE_F32 ? 4u : 2u);
    return (rows ? rows : 1) * row;
}

/* Encodes n values (a multiple of 32 for q8_0 and q4_0) as dtype into out. Returns n, or the
   index of the first value that does not fit: in f16 or bf16, one that becomes infinite; in
   q8_0 or q4_0, the first value of a block whose scale does not fit in f16. */
static inline size_t mf_encode(unsigned char *out, const float *v, size_t n, int dtype)
{
    size_t i, bad = n;
    if (dtype == MOD_DTYPE_Q8_0 || dtype == MOD_DTYPE_Q4_0) {
        for (i = 0; i < n; i += 32) {
            const int r = dtype == MOD_DTYPE_Q8_0 ? mf_q8_block(out + i / 32 * 34, v + i) : mf_q4_block(out + i / 32 * 18, v + i);
            if (r != 0 && bad == n) bad = i;
        }
        return bad;
    }
    for (i = 0; i < n; i++) {
        if (dtype == MOD_DTYPE_F32) {
            mf_put_f32(out + 4 * i, v[i]);
        } else {
            const uint16_t h = dtype == MOD_DTYPE_F16 ? mf_f32_to_f16(v[i]) : mf_f32_to_bf16(v[i]);
            out[2 * i] = (unsigned char)h;
            out[2 * i + 1] = (unsigned char)(h >> 8);
            if ((h & 0x7fffu) == (dtype == MOD_DTYPE_F16 ? 0x7c00u : 0x7f80u) && bad == n) bad = i;
        }
    }
    return bad;
}

/* ---- the checksum ---- */

/* FNV-1a 64 of n bytes, continuing from h (MOD__FNV1A_BASIS to start). */
static inline uint64_t mf_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) MOD__FNV1A_STEP(h, s[i]);
    return h;
}

/* The checksum of a file of size bytes: FNV-1a 64 of the bytes after the checksum field. */
static inline uint64_t mf_file_checksum(const unsigned char *file, size_t size)
{
    return size > MOD__CHECKSUM_FROM ? mf_fnv1a(MOD__FNV1A_BASIS, file + MOD__CHECKSUM_FROM, size - MOD__CHECKSUM_FROM)
                                     : MOD__FNV1A_BASIS;
}

/* Computes the checksum of a (possibly edited) file, stores it and returns it. */
static inline uint64_t mf_set_checksum(unsigned char *file, size_t size)
{
    const uint64_t h = mf_file_checksum(file, size);
    if (size >= MOD__CHECKSUM_FROM) mf_put_u64(file + MOD__HEADER_AT_checksum, h);
    return h;
}

/* ---- laying a file out ---- */

typedef struct mf_tensor {
    int role, layer;       /* MOD__ROLE_*; layer -1: model-wide */
    int dtype;             /* MOD_DTYPE_*; a one-dimensional tensor is f32 */
    uint64_t rows, cols;   /* rows 0: a one-dimensional tensor of cols values */
    uint64_t offset, size; /* from data_offset, and bytes: set by mf_layout */
} mf_tensor;

static inline uint64_t mf_align(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

/* Places n tensors, in file order, in the tensor data and the sections after the header
   (layer table, tensor directory, tokenizer of tokenizer_size bytes or none, chat template of
   h->chat_template_size bytes or none, tensor data).
   h holds the config (h->n_layers and h->chat_template_size are read; head_dim 0 becomes
   dim / n_heads and embed_scale 0 becomes 1, version 1's meaning); this sets magic, version
   (2), header_size, n_tensors, the section offsets and sizes, file_size, and each tensor's
   offset and size. */
static inline void mf_layout(mod__file_header *h, mf_tensor *ts, uint32_t n, uint64_t tokenizer_size)
{
    uint64_t data_size = 0, tok;
    uint32_t i;
    for (i = 0; i < n; i++) {
        ts[i].size = mf_tensor_bytes(ts[i].dtype, ts[i].rows, ts[i].cols);
        ts[i].offset = mf_align(data_size, MOD__DATA_ALIGN);
        data_size = ts[i].offset + ts[i].size;
    }
    memcpy(h->magic, MOD__MAGIC, 4);
    h->version = MOD__FORMAT_VERSION;
    h->header_size = MOD__HEADER_BYTES;
    if (!h->head_dim && h->n_heads) h->head_dim = h->dim / h->n_heads;
    if (h->embed_scale == 0.0f) h->embed_scale = 1.0f;
    h->n_tensors = n;
    h->layer_table_offset = MOD__HEADER_BYTES;
    h->tensor_dir_offset = mf_align(h->layer_table_offset + (uint64_t)h->n_layers * MOD__LAYER_ENTRY_BYTES, MOD__SECTION_ALIGN);
    tok = mf_align(h->tensor_dir_offset + (uint64_t)n * MOD__TENSOR_ENTRY_BYTES, MOD__SECTION_ALIGN);
    h->tokenizer_offset = tokenizer_size ? tok : 0;
    h->tokenizer_size = tokenizer_size;
    tok = mf_align(tok + tokenizer_size, MOD__SECTION_ALIGN);
    h->chat_template_offset = h->chat_template_size ? tok : 0;
    h->data_offset = mf_align(tok + h->chat_template_size, MOD__DATA_ALIGN);
    h->data_size = data_size;
    h->file_size = h->data_offset + data_size;
}

/* Writes bytes [0, h->data_offset) of a file laid out by mf_layout: the header (checksum 0),
   the layer table (routed[l], and capacity[l] for a routed block, 0 for a dense one), the
   tensor directory, the tokenizer section (h->tokenizer_size bytes), zeros between. */
static inline void mf_put_prefix(unsigned char *p, const mod__file_header *h, const int *routed, const float *capacity,
                                 const mf_tensor *ts, const unsigned char *tokenizer)
{
    mod__file_header head = *h;
    uint32_t i;
    memset(p, 0, (size_t)h->data_offset);
    head.checksum = 0;
    mf_put_header(p, &head);
    for (i = 0; i < h->n_layers; i++) {
        mod__layer_entry e;
        e.routed = (uint32_t)routed[i];
        e.capacity = routed[i] ? capacity[i] : 0.0f;
        mf_put_layer_entry(p + h->layer_table_offset + (uint64_t)i * MOD__LAYER_ENTRY_BYTES, &e);
    }
    for (i = 0; i < h->n_tensors; i++) {
        const mf_tensor *t = &ts[i];
        mod__tensor_entry e;
        memset(&e, 0, sizeof e);
        e.role = (uint32_t)t->role;
        e.layer = t->layer < 0 ? MOD__MODEL_WIDE : (uint32_t)t->layer;
        e.dtype = (uint32_t)t->dtype;
        e.n_dims = t->rows ? 2u : 1u;
        e.dims[0] = t->rows ? t->rows : t->cols;
        e.dims[1] = t->rows ? t->cols : 0;
        e.offset = t->offset;
        e.size = t->size;
        mf_put_tensor_entry(p + h->tensor_dir_offset + (uint64_t)i * MOD__TENSOR_ENTRY_BYTES, &e);
    }
    if (h->tokenizer_size) memcpy(p + h->tokenizer_offset, tokenizer, (size_t)h->tokenizer_size);
}

/* Writes the chat template (h->chat_template_size bytes of text) where mf_layout placed it,
   into the bytes mf_put_prefix wrote. */
static inline void mf_put_chat_template(unsigned char *p, const mod__file_header *h, const char *text)
{
    if (h->chat_template_size) memcpy(p + h->chat_template_offset, text, (size_t)h->chat_template_size);
}

/* ---- the tokenizer section ---- */

typedef struct mf_tokenizer {
    mod__tokenizer_header h;      /* the counts and settings (n_added: kinds 1 and 2; written as 0 for kind 3) */
    mod__tokenizer_sp sp;         /* kind 3 only (reserved is written as 0) */
    const uint32_t *offsets;      /* n_tokens + 1 */
    const float *scores;          /* n_tokens */
    const uint8_t *types;         /* n_tokens */
    const uint32_t *sorted;       /* n_sorted */
    const uint32_t *merges;       /* n_merges x (left, right, result, rank), in file order */
    const mod__added_token *added; /* kinds 1 and 2: h.n_added, kind 3: sp.n_added, ordered by their bytes */
    const unsigned char *strings; /* strings_size (with added tokens: their texts at the end) */
} mf_tokenizer;

/* Bytes of a kind 1 or 2 tokenizer section with these counts. */
static inline size_t mf_tokenizer_bytes(const mod__tokenizer_header *h)
{
    return MOD__TOKENIZER_HEADER_BYTES + 4 * ((size_t)h->n_tokens + 1) + 4 * (size_t)h->n_tokens +
           (((size_t)h->n_tokens + 3) & ~(size_t)3) + 4 * (size_t)h->n_sorted + 16 * (size_t)h->n_merges +
           (size_t)h->strings_size;
}

/* Entries of the added-token table of the section t describes. */
static inline size_t mf_tokenizer_added(const mf_tokenizer *t)
{
    return t->h.kind == 3 ? (size_t)t->sp.n_added : (size_t)t->h.n_added;
}

/* Bytes of the section t describes, of any kind. */
static inline size_t mf_tokenizer_size(const mf_tokenizer *t)
{
    return mf_tokenizer_bytes(&t->h) + (t->h.kind == 3 ? MOD__TOKENIZER_SP_BYTES : 0) +
           MOD__ADDED_TOKEN_BYTES * mf_tokenizer_added(t);
}

/* Writes the section (mf_tokenizer_size(t) bytes) to p. */
static inline void mf_put_tokenizer(unsigned char *p, const mf_tokenizer *t)
{
    const mod__tokenizer_header *h = &t->h;
    mod__tokenizer_header head = *h;
    const int kind3 = h->kind == 3;
    size_t pos = MOD__TOKENIZER_HEADER_BYTES, i;
    memset(p, 0, mf_tokenizer_size(t));
    if (kind3) head.n_added = 0;
    mf_put_tokenizer_header(p, &head);
    if (kind3) {
        mod__tokenizer_sp sp = t->sp;
        sp.reserved[0] = sp.reserved[1] = sp.reserved[2] = 0;
        mf_put_tokenizer_sp(p + pos, &sp);
        pos += MOD__TOKENIZER_SP_BYTES;
    }
    for (i = 0; i <= h->n_tokens; i++, pos += 4) mf_put_u32(p + pos, t->offsets[i]);
    for (i = 0; i < h->n_tokens; i++, pos += 4) mf_put_f32(p + pos, t->scores[i]);
    if (h->n_tokens) memcpy(p + pos, t->types, h->n_tokens);
    pos += ((size_t)h->n_tokens + 3) & ~(size_t)3;
    for (i = 0; i < h->n_sorted; i++, pos += 4) mf_put_u32(p + pos, t->sorted[i]);
    for (i = 0; i < 4 * (size_t)h->n_merges; i++, pos += 4) mf_put_u32(p + pos, t->merges[i]);
    for (i = 0; i < mf_tokenizer_added(t); i++, pos += MOD__ADDED_TOKEN_BYTES) mf_put_added_token(p + pos, &t->added[i]);
    if (h->strings_size) memcpy(p + pos, t->strings, (size_t)h->strings_size);
}

#endif /* MODFILE_H */
