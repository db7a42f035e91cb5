/* libFuzzer harness: GGUF files. The input is a GGUF file: tools/gguf.h parses it in memory and
   every key, array element and tensor it accepts is read back through its getters (nothing may
   be read outside the input); then mod-convert's GGUF path (read_gguf: hyperparameters, tensor
   roles, rope_freqs, the tokenizer) runs on it as a file, and whatever it accepts must be
   written as a model file that mod.h loads with its checksum verified. The first byte's low
   bits choose --dtype and --tokenizer none (the file itself is the whole input). */
#define MOD_CONVERT_NO_MAIN
#include "../../tools/convert.c"
#include "converted.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[256];

/* Every value gguf_parse accepted, read through the getters. */
static unsigned long walk(const gguf_file *g)
{
    unsigned long sum = 0;
    uint64_t i, j, pos;
    for (i = 0; i < g->n_kv; i++) {
        const gguf_kv *kv = &g->kv[i];
        int64_t v;
        double f;
        sum += kv->key_len;
        if (gguf_int(g, kv, &v) == 0) sum += (unsigned long)v;
        if (gguf_float(g, kv, &f) == 0 && f == f) sum += 1;
        if (kv->type == GGUF_STRING && kv->n) sum += g->p[kv->off + kv->n - 1];
        if (kv->type != GGUF_ARRAY) continue;
        if (kv->elem_type == GGUF_STRING)
            for (j = 0, pos = kv->off; j < kv->n; j++) {
                const char *s;
                uint64_t len;
                gguf_arr_str(g, &pos, &s, &len);
                if (len) sum += (unsigned char)s[len - 1];
            }
        else if (kv->elem_type == GGUF_F32 || kv->elem_type == GGUF_I32 || kv->elem_type == GGUF_U32)
            for (j = 0; j < kv->n; j++) sum += gguf_arr_u32(g, kv, j);
    }
    for (i = 0; i < g->n_tensors; i++) {
        const gguf_tensor *t = &g->tensors[i];
        sum += t->name[t->name_len - 1];
        if (t->size) sum += g->p[g->data_offset + t->offset + t->size - 1];
    }
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static volatile unsigned long sink;
    gguf_file g;
    char err[600], path[512];
    model m;
    opts o;
    int rc;
    FILE *f;
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/fuzz_gguf.%d", (int)getpid());
        mkdir(g_dir, 0700);
        g_quiet = 1;
    }
    if (size > (4u << 20)) return 0;
    if (gguf_parse(&g, data, size, err, sizeof err) != 0) return 0;
    sink += walk(&g);
    gguf_free(&g);
    snprintf(path, sizeof path, "%s/model.gguf", g_dir);
    if (!(f = fopen(path, "wb"))) return 0;
    if (size && fwrite(data, 1, size, f) != size) { fclose(f); return 0; }
    if (fclose(f) != 0) return 0;
    memset(&m, 0, sizeof m);
    memset(&o, 0, sizeof o);
    o.router_input = o.router_scale = o.combine = o.positions = o.decision = -1;
    o.quiet = 1;
    o.input = path;
    o.dtype_given = size > 8 && (data[size - 1] & 4);
    o.dtype = o.dtype_given ? (int)(data[size - 1] % 5) : MOD_DTYPE_F32;
    o.allow_requantize = size > 8 && (data[size - 1] & 8);
    o.tok_none = size > 8 && (data[size - 1] & 16);
    rc = read_file_input(&m, &o);
    if (rc == 0) fuzz_write_and_load(&m, &o, g_dir);
    model_free(&m);
    return 0;
}
