/* libFuzzer harness: mod-generate's argument parser on arbitrary argument vectors (the input
   split at NUL bytes). Parsing must never crash, and what it accepts must be in range and
   consistent (a prompt, or --chat and its options; --verbose is valid either way). */
#define MOD_GENERATE_NO_MAIN
#include "../../examples/generate.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf, *argv[66];
    int argc = 1;
    size_t i, start = 0;
    gen_args g;
    if (size > 4096) return 0;
    buf = (char *)malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    argv[0] = (char *)"mod-generate";
    for (i = 0; i <= size && argc < 65; i++)
        if (i == size || buf[i] == 0) { argv[argc++] = buf + start; start = i + 1; }
    argv[argc] = NULL;
    if (parse_args(argc, argv, &g) == 0) {
        /* a prompt (exactly one way) without --chat; with it, none, and no --ids */
        const int prompt_bad = g.chat ? g.prompt || g.prompt_file || g.ids
                                      : !(g.prompt || g.prompt_file) || (g.prompt && g.prompt_file) || g.system || g.chat_format;
        if (!g.path || prompt_bad || g.n_gen < 0 || g.top_k < 0 || !(g.temp >= 0) || !(g.top_p > 0 && g.top_p <= 1) ||
            g.capacity < 0 || g.capacity > 1 || g.threads < 0 || g.ctx < 0 || (g.script && !g.chat))
            abort();
    }
    free(buf);
    return 0;
}
