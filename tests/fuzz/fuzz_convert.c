/* libFuzzer harness: the converter's parsers (config.json + safetensors, tokenizer.json,
   llama2.c checkpoints + tokenizer.bin) on arbitrary files. Whatever the converter accepts it
   must write as a file that mod.h loads with its checksum verified.
   Input: one mode byte, then up to three files separated by "\n@@\n":
     mode % 3 == 0: config.json, model.safetensors, tokenizer.json (optional)
     mode % 3 == 1: tokenizer.json, with the config and weights of tests/fixtures/tok_bpe_str
     mode % 3 == 2: a llama2.c checkpoint, tokenizer.bin (optional); or a mod.h model file to
                    re-encode (the first file starts with "MODH"; its checksum is made valid
                    here so that mutations reach the checks behind it) */
#define MOD_CONVERT_NO_MAIN
#include "../../tools/convert.c"
#include "converted.h"
#include "../../examples/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[256];

static int put(const char *name, const void *p, size_t n) {
    char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    if (!(f = fopen(path, "wb"))) return -1;
    if (n && fwrite(p, 1, n, f) != n) { fclose(f); return -1; }
    return fclose(f);
}

static int copy_fixture(const char *name) {
    char src[512];
    size_t n;
    char *buf;
    int r;
    snprintf(src, sizeof src, "tests/fixtures/tok_bpe_str/%s", name);
    if (!(buf = cli_read_file(src, &n))) return -1;
    r = put(name, buf, n);
    free(buf);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *sep = "\n@@\n";
    const uint8_t *part[3];
    size_t plen[3], i, start = 1;
    int np = 0, mode, rc;
    model m;
    opts o;
    char path[512];
    if (!g_dir[0]) {
        snprintf(g_dir, sizeof g_dir, "/tmp/fuzz_convert.%d", (int)getpid());
        mkdir(g_dir, 0700);
        g_quiet = 1;
    }
    if (size < 1 || size > (1u << 20)) return 0;
    mode = data[0] % 3;
    for (i = 1; i + 4 <= size && np < 2; i++)
        if (!memcmp(data + i, sep, 4)) { part[np] = data + start; plen[np++] = i - start; start = i + 4; i += 3; }
    part[np] = data + start; plen[np++] = size - start;
    snprintf(path, sizeof path, "%s/tokenizer.json", g_dir); remove(path);
    snprintf(path, sizeof path, "%s/tokenizer.bin", g_dir); remove(path);
    memset(&m, 0, sizeof m);
    memset(&o, 0, sizeof o);
    o.router_input = o.router_scale = o.combine = o.positions = o.decision = -1;
    o.dtype = (int)(size % 5); /* f32, f16, bf16, q8_0, q4_0 (MOD_DTYPE_*) */
    o.quiet = 1;
    if (mode == 0) {
        if (put("config.json", part[0], plen[0]) || put("model.safetensors", np > 1 ? part[1] : data, np > 1 ? plen[1] : 0)) return 0;
        if (np > 2 && put("tokenizer.json", part[2], plen[2])) return 0;
        o.input = g_dir;
        rc = read_hf(&m, &o);
    } else if (mode == 1) {
        if (copy_fixture("config.json") || copy_fixture("model.safetensors") || put("tokenizer.json", part[0], plen[0])) return 0;
        o.input = g_dir;
        rc = read_hf(&m, &o);
    } else if (plen[0] >= 16 && !memcmp(part[0], "MODH", 4)) {
        unsigned char *b = (unsigned char *)malloc(plen[0]);
        if (!b) return 0;
        memcpy(b, part[0], plen[0]);
        mf_set_checksum(b, plen[0]); /* tools/modfile.h, through convert.c */
        rc = put("model.mod", b, plen[0]);
        free(b);
        if (rc) return 0;
        snprintf(path, sizeof path, "%s/model.mod", g_dir);
        o.input = path;
        o.dtype_given = (size / 5) % 4 != 0;    /* otherwise each matrix keeps its dtype */
        o.allow_requantize = (size / 20) % 2;
        o.tok_none = (size / 40) % 4 == 0;
        rc = read_file_input(&m, &o);
    } else {
        snprintf(path, sizeof path, "%s/model.bin", g_dir);
        if (put("model.bin", part[0], plen[0])) return 0;
        if (np > 1) {
            char tp[512];
            if (put("tokenizer.bin", part[1], plen[1])) return 0;
            snprintf(tp, sizeof tp, "%s/tokenizer.bin", g_dir);
            o.tokenizer = xstrdup(tp);
        }
        o.input = path;
        rc = read_file_input(&m, &o);
    }
    if (rc == 0) fuzz_write_and_load(&m, &o, g_dir);
    model_free(&m);
    free((void *)o.tokenizer);
    return 0;
}
