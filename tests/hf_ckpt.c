/* hf_ckpt DIR VOCAB_SIZE [BOS EOS]: writes a small Hugging Face checkpoint directory (config.json
   and model.safetensors, random f32 weights, one layer) whose vocab_size is VOCAB_SIZE, for a
   real tokenizer.json to be converted with (tests/test_hf_tokenizers.sh). */
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "ckpt.h"

int main(int argc, char **argv)
{
    spec s;
    char extra[256] = "";
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: hf_ckpt DIR VOCAB_SIZE [BOS_ID EOS_ID]\n");
        return 2;
    }
    spec_default(&s);
    s.V = atoi(argv[2]);
    s.d = 16; s.L = 1; s.H = 2; s.Hkv = 1; s.F = 32; s.seq = 64; s.tied = 1;
    if (s.V < 1 || s.V > MOD__MAX_VOCAB) {
        fprintf(stderr, "hf_ckpt: bad vocab size %s\n", argv[2]);
        return 2;
    }
    /* an id below 0 (the tokenizer adds no such token) is left out of config.json */
    if (argc == 5 && atoi(argv[3]) >= 0) snprintf(extra, sizeof extra, ",\n  \"bos_token_id\": %d", atoi(argv[3]));
    if (argc == 5 && atoi(argv[4]) >= 0)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), ",\n  \"eos_token_id\": %d", atoi(argv[4]));
    make_dir(argv[1], &s, &canon, "F32", NULL, extra);
    return 0;
}
