/* ggml_dequant.h - ggml's quantized block types (as stored in GGUF tensors) decoded to f32.

   Header-only, every function static; C99 (also compiles as C++), libc only. The GGUF path of
   tools/convert.c uses it for tensor types it does not carry over block for block.

     int ggml_dequant_supported(uint32_t ggml_type);
         1 for the types below, 0 otherwise.
     int ggml_dequant_block_info(uint32_t ggml_type, size_t *block_values, size_t *block_bytes);
         values and bytes of one block; 0 on success, nonzero (and nothing written) for a type
         not supported.
     int ggml_dequant_row(uint32_t ggml_type, const unsigned char *src, size_t src_bytes,
                          float *dst, size_t n);
         decodes n values; n must be a multiple of the block's values and src_bytes exactly
         n / block_values * block_bytes. Returns 0 on success, else one of GGML_DEQUANT_E*
         with dst untouched. Reads src_bytes bytes of src, writes n floats of dst, no more.

   Types (ggml_type ids as in ggml.h / GGUF): Q4_0 2, Q4_1 3, Q5_0 6, Q5_1 7, Q8_0 8,
   Q2_K 10, Q3_K 11, Q4_K 12, Q5_K 13, Q6_K 14, Q8_K 15. All multi-byte fields are
   little-endian (as GGUF stores them); scales are IEEE half precision except Q8_K's f32.

   The floats are exactly those of ggml's reference (scalar) dequantization: the same float
   operations in the same order, each rounded on its own. A multiply followed by an add is
   never fused (contraction is switched off for these functions below), so the values do
   not depend on the target having FMA. Assumes float is IEEE binary32 evaluated in its own
   precision (FLT_EVAL_METHOD 0, as on x86-64 and AArch64).
*/
#ifndef GGML_DEQUANT_H
#define GGML_DEQUANT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum {
    GGML_DEQUANT_Q4_0 = 2, GGML_DEQUANT_Q4_1 = 3, GGML_DEQUANT_Q5_0 = 6, GGML_DEQUANT_Q5_1 = 7,
    GGML_DEQUANT_Q8_0 = 8, GGML_DEQUANT_Q2_K = 10, GGML_DEQUANT_Q3_K = 11, GGML_DEQUANT_Q4_K = 12,
    GGML_DEQUANT_Q5_K = 13, GGML_DEQUANT_Q6_K = 14, GGML_DEQUANT_Q8_K = 15
};

/* ggml_dequant_row's errors */
enum {
    GGML_DEQUANT_EUNSUPPORTED = 1,  /* type not in the list above */
    GGML_DEQUANT_ECOUNT = 2,        /* n not a multiple of the block's values */
    GGML_DEQUANT_ESIZE = 3,         /* src_bytes not n / block_values * block_bytes */
    GGML_DEQUANT_ENULL = 4          /* src or dst NULL with n > 0 */
};

/* Keep the compiler from fusing a*b+c into one rounding (gcc's -ffp-contract=fast in GNU
   modes, clang's default within an expression); ggml's reference rounds the product. */
#if defined(__GNUC__) && !defined(__clang__) && !defined(__INTEL_COMPILER)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#define GGML_DEQUANT__NOFMA
#elif defined(__clang__)
#define GGML_DEQUANT__NOFMA _Pragma("clang fp contract(off)")
#else
#define GGML_DEQUANT__NOFMA
#endif

/* An IEEE half to float, exact for every finite value (subnormals included); infinities
   and NaNs map to infinities and NaNs. */
static inline float ggml_dequant__half(const unsigned char *p)
{
    uint32_t h = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    float f;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;
    } else if (exp != 0) {
        bits = sign | (exp + 112u) << 23 | man << 13;       /* rebias 15 -> 127 */
    } else if (man == 0) {
        bits = sign;
    } else {
        /* subnormal man * 2^-24: shift the leading one up to bit 10 */
        uint32_t e = 113u;                                   /* exponent field of 2^-14 */
        while (!(man & 0x400u)) { man <<= 1; e--; }
        bits = sign | e << 23 | (man & 0x3ffu) << 13;
    }
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline float ggml_dequant__f32(const unsigned char *p)
{
    uint32_t bits = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint32_t ggml_dequant__u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- 32-value blocks: a half scale d (and a half offset m for the _1 types), 4, 5 or 8
   bits per value. Nibble byte i holds value i (low nibble) and value i + 16 (high nibble). */

/* Q4_0, 18 bytes: d, qs[16]; x = (q - 8) * d */
static inline void ggml_dequant__q4_0(const unsigned char *b, float *y)
{
    GGML_DEQUANT__NOFMA
    float d = ggml_dequant__half(b);
    int i;
    for (i = 0; i < 16; i++) {
        y[i] = (float)((b[2 + i] & 0x0f) - 8) * d;
        y[i + 16] = (float)((b[2 + i] >> 4) - 8) * d;
    }
}

/* Q4_1, 20 bytes: d, m, qs[16]; x = q * d + m */
static inline void ggml_dequant__q4_1(const unsigned char *b, float *y)
{
    GGML_DEQUANT__NOFMA
    float d = ggml_dequant__half(b), m = ggml_dequant__half(b + 2);
    int i;
    for (i = 0; i < 16; i++) {
        y[i] = (float)(b[4 + i] & 0x0f) * d + m;
        y[i + 16] = (float)(b[4 + i] >> 4) * d + m;
    }
}

/* Q5_0, 22 bytes: d, qh (u32, bit i = fifth bit of value i), qs[16]; x = (q - 16) * d */
static inline void ggml_dequant__q5_0(const unsigned char *b, float *y)
{
    GGML_DEQUANT__NOFMA
    float d = ggml_dequant__half(b);
    uint32_t qh = ggml_dequant__u32(b + 2);
    int i;
    for (i = 0; i < 16; i++) {
        int lo = (b[6 + i] & 0x0f) | (int)((qh >> i) & 1u) << 4;
        int hi = (b[6 + i] >> 4) | (int)((qh >> (i + 16)) & 1u) << 4;
        y[i] = (float)(lo - 16) * d;
        y[i + 16] = (float)(hi - 16) * d;
    }
}

/* Q5_1, 24 bytes: d, m, qh, qs[16]; x = q * d + m */
static inline void ggml_dequant__q5_1(const unsigned char *b, float *y)
{
    GGML_DEQUANT__NOFMA
    float d = ggml_dequant__half(b), m = ggml_dequant__half(b + 2);
    uint32_t qh = ggml_dequant__u32(b + 4);
    int i;
    for (i = 0; i < 16; i++) {
        int lo = (b[8 + i] & 0x0f) | (int)((qh >> i) & 1u) << 4;
        int hi = (b[8 + i] >> 4) | (int)((qh >> (i + 16)) & 1u) << 4;
        y[i] = (float)lo * d + m;
        y[i + 16] = (float)hi * d + m;
    }
}

/* Q8_0, 34 bytes: d, qs[32] (int8); x = q * d */
static inline void ggml_dequant__q8_0(const unsigned char *b, float *y)
{
    GGML_DEQUANT__NOFMA
    float d = ggml_dequant__half(b);
    int i;
    for (i = 0; i < 32; i++)
        y[i] = (float)(int8_t)b[2 + i] * d;
}

/* ---- the dispatch */

typedef void (*ggml_dequant__block_fn)(const unsigned char *, float *);

static inline int ggml_dequant__lookup(uint32_t t, size_t *values, size_t *bytes, ggml_dequant__block_fn *fn)
{
    switch (t) {
    case GGML_DEQUANT_Q4_0: *values = 32; *bytes = 18; *fn = ggml_dequant__q4_0; return 1;
    case GGML_DEQUANT_Q4_1: *values = 32; *bytes = 20; *fn = ggml_dequant__q4_1; return 1;
    case GGML_DEQUANT_Q5_0: *values = 32; *bytes = 22; *fn = ggml_dequant__q5_0; return 1;
    case GGML_DEQUANT_Q5_1: *values = 32; *bytes = 24; *fn = ggml_dequant__q5_1; return 1;
    case GGML_DEQUANT_Q8_0: *values = 32; *bytes = 34; *fn = ggml_dequant__q8_0; return 1;
    default: return 0;
    }
}

static inline int ggml_dequant_supported(uint32_t ggml_type)
{
    size_t v, b;
    ggml_dequant__block_fn fn;
    return ggml_dequant__lookup(ggml_type, &v, &b, &fn);
}

static inline int ggml_dequant_block_info(uint32_t ggml_type, size_t *block_values, size_t *block_bytes)
{
    size_t v, b;
    ggml_dequant__block_fn fn;
    if (!ggml_dequant__lookup(ggml_type, &v, &b, &fn)) return GGML_DEQUANT_EUNSUPPORTED;
    if (block_values) *block_values = v;
    if (block_bytes) *block_bytes = b;
    return 0;
}

static inline int ggml_dequant_row(uint32_t ggml_type, const unsigned char *src, size_t src_bytes, float *dst, size_t n)
{
    size_t v, b, blocks, i;
    ggml_dequant__block_fn fn;
    if (!ggml_dequant__lookup(ggml_type, &v, &b, &fn)) return GGML_DEQUANT_EUNSUPPORTED;
    if (n % v != 0) return GGML_DEQUANT_ECOUNT;
    blocks = n / v;
    /* blocks * b without overflow: src_bytes is a size_t, so a product above it cannot match */
    if (blocks > src_bytes / b || blocks * b != src_bytes) return GGML_DEQUANT_ESIZE;
    if (n > 0 && (!src || !dst)) return GGML_DEQUANT_ENULL;
    for (i = 0; i < blocks; i++)
        fn(src + i * b, dst + i * v);
    return 0;
}

#if defined(__GNUC__) && !defined(__clang__) && !defined(__INTEL_COMPILER)
#pragma GCC pop_options
#endif

#endif /* GGML_DEQUANT_H */
