/* hf_ckpt DIR VOCAB_SIZE [BOS EOS [FAVOUR [ROUTED]]]: writes a small Hugging Face checkpoint directory
   (config.json and model.safetensors, random f32 weights, one layer) whose vocab_size is
   VOCAB_SIZE, for a real tokenizer.json to be converted with (tests/test_hf_tokenizers.sh).
   A negative BOS or EOS is written as null. With FAVOUR, greedy decoding always picks that
   token (tests/test_chat_programs.sh; -1: none). With ROUTED 1 the layer has router weights
   too, for mod-convert --mod-layers 0. */
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "ckpt.h"

int main(int argc, char **argv)
{
    spec s;
    char extra[256] = "";
    if (argc != 3 && argc != 5 && argc != 6 && argc != 7) {
        fprintf(stderr, "usage: hf_ckpt DIR VOCAB_SIZE [BOS_ID EOS_ID [FAVOUR_ID [ROUTED]]]\n");
        return 2;
    }
    spec_default(&s);
    s.V = atoi(argv[2]);
    s.d = 16; s.L = 1; s.H = 2; s.Hkv = 1; s.F = 32; s.seq = 256; s.tied = 1;
    if (s.V < 1 || s.V > MOD__MAX_VOCAB) {
        fprintf(stderr, "hf_ckpt: bad vocab size %s\n", argv[2]);
        return 2;
    }
    if (argc >= 6) { s.favour = atoi(argv[5]) + 1; s.tied = 0; }
    if (argc == 7 && atoi(argv[6])) { s.routed[0] = 1; s.cap[0] = 0.5f; }
    if (argc >= 5) { /* a negative id: null (no such token) */
        char b[16] = "null", e[16] = "null";
        if (atoi(argv[3]) >= 0) snprintf(b, sizeof b, "%d", atoi(argv[3]));
        if (atoi(argv[4]) >= 0) snprintf(e, sizeof e, "%d", atoi(argv[4]));
        snprintf(extra, sizeof extra, ",\n  \"bos_token_id\": %s,\n  \"eos_token_id\": %s", b, e);
    }
    make_dir(argv[1], &s, &canon, "F32", NULL, extra);
    return 0;
}
