/* Rewrites a model file with every f32, f16 or bf16 matrix stored as q4_0 (mkmodel's
   quantizer, mkm_q4_block); one-dimensional tensors and everything else stay as they are.
   Each tensor keeps its offset (q4_0 is smaller than any of those dtypes, so the data only
   leaves gaps), its directory entry gets the new dtype and size, the checksum is recomputed.
   tests/test_models.sh uses it for the q4_0 perplexity of the shipped f16 model.
   usage: requantize_q4 IN OUT */
#include "mkmodel.h"
#include <stdio.h>

int main(int argc, char **argv)
{
    FILE *f;
    unsigned char *b;
    long len;
    uint64_t data, dir, n, t;
    if (argc != 3) { fprintf(stderr, "usage: requantize_q4 IN OUT\n"); return 2; }
    f = fopen(argv[1], "rb");
    if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 160 || fseek(f, 0, SEEK_SET)) { fprintf(stderr, "cannot read %s\n", argv[1]); return 1; }
    b = (unsigned char *)malloc((size_t)len);
    if (!b || fread(b, 1, (size_t)len, f) != (size_t)len) { fprintf(stderr, "cannot read %s\n", argv[1]); return 1; }
    fclose(f);
    data = mkm_get_u64(b + MKM_OFF_DATA);
    dir = mkm_get_u64(b + MKM_OFF_TENSOR_DIR);
    n = mkm_get_u32(b + MKM_OFF_N_TENSORS);
    if (dir > (uint64_t)len || n > ((uint64_t)len - dir) / MKM_DIR_ENTRY_SIZE) { fprintf(stderr, "%s: bad directory\n", argv[1]); return 1; }
    for (t = 0; t < n; t++) {
        unsigned char *e = b + dir + t * MKM_DIR_ENTRY_SIZE, *p;
        const uint32_t dt = mkm_get_u32(e + MKM_TD_DTYPE);
        const uint64_t rows = mkm_get_u64(e + MKM_TD_DIMS), cols = mkm_get_u64(e + MKM_TD_DIMS + 8);
        const uint64_t off = mkm_get_u64(e + MKM_TD_OFFSET), size = mkm_get_u64(e + MKM_TD_SIZE);
        const unsigned es = dt == MKM_DTYPE_F32 ? 4 : 2;
        float *v;
        uint64_t i;
        if (mkm_get_u32(e + MKM_TD_N_DIMS) != 2 || dt > MKM_DTYPE_BF16) continue;
        if (cols % 32 || rows * cols * es != size || data > (uint64_t)len || off > (uint64_t)len - data || size > (uint64_t)len - data - off) {
            fprintf(stderr, "%s: tensor %llu cannot be stored as q4_0\n", argv[1], (unsigned long long)t);
            return 1;
        }
        p = b + data + off;
        v = (float *)malloc((size_t)(rows * cols) * sizeof *v);
        if (!v) { fprintf(stderr, "out of memory\n"); return 1; }
        for (i = 0; i < rows * cols; i++) {
            const uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
            const uint32_t u = (uint32_t)h << 16;
            if (dt == MKM_DTYPE_F32) v[i] = mkm_get_f32(p + 4 * i);
            else if (dt == MKM_DTYPE_F16) v[i] = (float)mkm_f16_to_double(h);
            else memcpy(&v[i], &u, 4);
        }
        for (i = 0; i < rows * cols; i += 32)
            if (mkm_q4_block(p + i / 32 * 18, v + i)) { fprintf(stderr, "%s: a scale does not fit in f16\n", argv[1]); return 1; }
        free(v);
        mkm_put_u32(e + MKM_TD_DTYPE, MKM_DTYPE_Q4_0);
        mkm_put_u64(e + MKM_TD_SIZE, rows * cols / 32 * 18);
    }
    mkm_checksum(b, (size_t)len);
    f = fopen(argv[2], "wb");
    if (!f || fwrite(b, 1, (size_t)len, f) != (size_t)len || fclose(f)) { fprintf(stderr, "cannot write %s\n", argv[2]); return 1; }
    free(b);
    return 0;
}
