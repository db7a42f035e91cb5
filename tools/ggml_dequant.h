/* ggml_dequant.h - ggml's quantized block types (as stored in GGUF tensors) decoded to f32.

   Header-only, every function static; C99 (also compiles as C++), libc only. For the GGUF
   input of tools/convert.c: the tensor types it cannot carry over block for block.

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
   Q2_K 10, Q3_K 11, Q4_K 12, Q5_K 13, Q6_K 14, Q8_K 15 (ggml's intermediate type for dot
   products, rare in files). All multi-byte fields are little-endian (as GGUF stores them);
   scales are IEEE half precision except Q8_K's f32. Each block's layout is given above its
   decoder below.

   The floats are exactly those of ggml's reference (scalar) dequantization, which these
   functions follow operation for operation. The order matters less than it seems: a half
   scale has 11 significant bits and the integers that multiply it have at most 12 together
   (the most: Q6_K's int8 sub-scale, 7 bits of magnitude, times its quant in -32..31, 5), so
   every product is exact in float's 24 bits and a value takes at most one rounding: the
   add of Q4_1, Q5_1, Q2_K, Q4_K and Q5_K, or Q8_K's product with its f32 scale. Each value
   is therefore the correctly rounded float of its format's formula, whatever the evaluation
   order and whether a compiler fuses a multiply-add. Assumes IEEE binary32 evaluated in its
   own precision (FLT_EVAL_METHOD 0, as on x86-64 and AArch64; x87 extended precision could
   round twice).
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

/* An IEEE half to float, exact for every finite value (subnormals included); infinities
   and NaNs map to infinities and NaNs. */
static inline float ggml_dequant__half(const unsigned char *p)
{
    uint32_t h = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    uint32_t sign = (h & 0x8000u) << 16, ex = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    float f;
    if (ex == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;
    } else if (ex != 0) {
        bits = sign | (ex + 112u) << 23 | man << 13;       /* rebias 15 -> 127 */
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
    float d = ggml_dequant__half(b);
    int i;
    for (i = 0; i < 32; i++)
        y[i] = (float)(int8_t)b[2 + i] * d;
}

/* ---- 256-value super-blocks (the K-quants): a half (Q8_K: f32) scale for the whole block,
   small integer scales per 16- or 32-value sub-block. Q2_K and Q3_K pack their 2-bit fields
   by 128-value runs: in the run's 32 bytes, bits 2f, 2f + 1 of byte l belong to value
   32f + l of the run. */

/* Q2_K, 84 bytes: scales[16] (low nibble scale, high nibble min of each 16-value
   sub-block), qs[64], d, dmin; x = (d * sc) * q - (dmin * mn), q in 0..3 */
static inline void ggml_dequant__q2_k(const unsigned char *b, float *y)
{
    const unsigned char *qs = b + 16;
    float d = ggml_dequant__half(b + 80), dmin = ggml_dequant__half(b + 82);
    int run, f, half, l;
    for (run = 0; run < 2; run++)
        for (f = 0; f < 4; f++)
            for (half = 0; half < 2; half++) {
                int sub = run * 8 + f * 2 + half;
                float dl = d * (float)(b[sub] & 0x0f), ml = dmin * (float)(b[sub] >> 4);
                const unsigned char *q = qs + run * 32 + half * 16;
                for (l = 0; l < 16; l++)
                    *y++ = dl * (float)((q[l] >> (2 * f)) & 3) - ml;
            }
}

/* The 16 six-bit scales of Q3_K from its 12 bytes: scale k has its low 4 bits in byte k % 8
   (low nibble for k < 8, high for k >= 8) and its high 2 bits in byte 8 + k % 4, bits
   2 * (k / 4) and up. */
static inline int ggml_dequant__q3_k_scale(const unsigned char *s, int k)
{
    int lo = (s[k % 8] >> (4 * (k / 8))) & 0x0f;
    int hi = (s[8 + k % 4] >> (2 * (k / 4))) & 3;
    return (lo | hi << 4) - 32;
}

/* Q3_K, 110 bytes: hmask[32], qs[64], scales[12], d; value e of the block has its third
   bit in hmask[e % 32] bit e / 32, set meaning +0 and clear meaning -4; x = (d * sc) * q,
   q in -4..3 */
static inline void ggml_dequant__q3_k(const unsigned char *b, float *y)
{
    const unsigned char *hm = b, *qs = b + 32, *sc = b + 96;
    float d = ggml_dequant__half(b + 108);
    int run, f, half, l;
    for (run = 0; run < 2; run++)
        for (f = 0; f < 4; f++)
            for (half = 0; half < 2; half++) {
                int sub = run * 8 + f * 2 + half, bit = run * 4 + f;
                float dl = d * (float)ggml_dequant__q3_k_scale(sc, sub);
                const unsigned char *q = qs + run * 32 + half * 16, *h = hm + half * 16;
                for (l = 0; l < 16; l++) {
                    int v = ((q[l] >> (2 * f)) & 3) - ((h[l] >> bit) & 1 ? 0 : 4);
                    *y++ = dl * (float)v;
                }
            }
}

/* The eight 6-bit (scale, min) pairs of Q4_K and Q5_K from 12 bytes: pairs 0-3 are the low
   6 bits of bytes 0-3 (scale) and 4-7 (min); pairs 4-7 take their low 4 bits from the
   nibbles of bytes 8-11 (low: scale, high: min) and their high 2 bits from the top bits of
   bytes 0-3 (scale) and 4-7 (min). */
static inline void ggml_dequant__k4_scale(const unsigned char *s, int k, int *scale, int *min)
{
    if (k < 4) {
        *scale = s[k] & 63;
        *min = s[k + 4] & 63;
    } else {
        *scale = (s[k + 4] & 0x0f) | (s[k - 4] >> 6) << 4;
        *min = (s[k + 4] >> 4) | (s[k] >> 6) << 4;
    }
}

/* Q4_K, 144 bytes: d, dmin, scales[12], qs[128]; eight 32-value sub-blocks, sub-blocks 2r
   and 2r + 1 in the low and high nibbles of qs[32r .. 32r + 31];
   x = (d * sc) * q - (dmin * mn).
   Q5_K, 176 bytes: d, dmin, scales[12], qh[32], qs[128]; as Q4_K plus a fifth bit for
   value l of sub-block k in qh[l] bit k (qh NULL: Q4_K) */
static inline void ggml_dequant__q45_k(const unsigned char *b, const unsigned char *qh, const unsigned char *qs, float *y)
{
    float d = ggml_dequant__half(b), dmin = ggml_dequant__half(b + 2);
    const unsigned char *sc = b + 4;
    int sub, l;
    for (sub = 0; sub < 8; sub++) {
        int s, m, shift = 4 * (sub & 1);
        const unsigned char *q = qs + 32 * (sub / 2);
        float dl, ml;
        ggml_dequant__k4_scale(sc, sub, &s, &m);
        dl = d * (float)s;
        ml = dmin * (float)m;
        for (l = 0; l < 32; l++) {
            int v = (q[l] >> shift) & 0x0f;
            if (qh) v |= ((qh[l] >> sub) & 1) << 4;
            *y++ = dl * (float)v - ml;
        }
    }
}
static inline void ggml_dequant__q4_k(const unsigned char *b, float *y) { ggml_dequant__q45_k(b, NULL, b + 16, y); }
static inline void ggml_dequant__q5_k(const unsigned char *b, float *y) { ggml_dequant__q45_k(b, b + 16, b + 48, y); }

/* Q6_K, 210 bytes: ql[128], qh[64], scales[16] (int8, one per 16 values), d. In a 128-value
   run r (ql + 64r, qh + 32r), value 32f + l has its low 4 bits in ql[l + 32 * (f & 1)]
   (low nibble for f < 2, high for f >= 2) and its high 2 bits in qh[l] bits 2f, 2f + 1;
   x = (d * sc) * (q - 32) */
static inline void ggml_dequant__q6_k(const unsigned char *b, float *y)
{
    float d = ggml_dequant__half(b + 208);
    int run, f, l;
    for (run = 0; run < 2; run++) {
        const unsigned char *ql = b + 64 * run, *qh = b + 128 + 32 * run;
        for (f = 0; f < 4; f++)
            for (l = 0; l < 32; l++) {
                int lo = (ql[l + 32 * (f & 1)] >> (4 * (f / 2))) & 0x0f;
                int v = (lo | ((qh[l] >> (2 * f)) & 3) << 4) - 32;
                int s = (int8_t)b[192 + 8 * run + 2 * f + l / 16];
                *y++ = d * (float)s * (float)v;
            }
    }
}

/* Q8_K, 292 bytes: d (f32), qs[256] (int8), bsums[16] (int16 sums, not needed here);
   x = d * q */
static inline void ggml_dequant__q8_k(const unsigned char *b, float *y)
{
    float d = ggml_dequant__f32(b);
    int i;
    for (i = 0; i < 256; i++)
        y[i] = d * (float)(int8_t)b[4 + i];
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
    case GGML_DEQUANT_Q2_K: *values = 256; *bytes = 84; *fn = ggml_dequant__q2_k; return 1;
    case GGML_DEQUANT_Q3_K: *values = 256; *bytes = 110; *fn = ggml_dequant__q3_k; return 1;
    case GGML_DEQUANT_Q4_K: *values = 256; *bytes = 144; *fn = ggml_dequant__q4_k; return 1;
    case GGML_DEQUANT_Q5_K: *values = 256; *bytes = 176; *fn = ggml_dequant__q5_k; return 1;
    case GGML_DEQUANT_Q6_K: *values = 256; *bytes = 210; *fn = ggml_dequant__q6_k; return 1;
    case GGML_DEQUANT_Q8_K: *values = 256; *bytes = 292; *fn = ggml_dequant__q8_k; return 1;
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

#endif /* GGML_DEQUANT_H */
