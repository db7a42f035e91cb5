/* The shortest complete program: load a model, continue a prompt, print the text. */
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *prompt = argc > 2 ? argv[2] : "In the beginning";
    mod_model *model;
    mod_session *session;
    mod_session_desc desc;
    mod_sampler sampler;
    mod_sampler_desc sampler_desc;
    mod_error err;
    int32_t tokens[512], token;
    mod_result r;
    int n, i;

    if (argc < 2 || argc > 3 || argv[1][0] == '-') {
        int help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
        fprintf(help ? stdout : stderr, "usage: minimal MODEL.mod [PROMPT]\n"
                "Continues PROMPT (default \"In the beginning\") by 64 tokens from MODEL.mod.\n");
        return help ? 0 : 2;
    }
    if (mod_model_load_file(&model, argv[1], NULL, &err)) { fprintf(stderr, "%s\n", err.message); return 1; }
    memset(&desc, 0, sizeof desc); /* zero means "default" for every field */
    desc.max_tokens = 512;
    if (mod_session_create(&session, model, &desc, &err)) {
        fprintf(stderr, "cannot create a session: %s\n", err.message);
        mod_model_free(model);
        return 1;
    }
    r = mod_tokenize(model, prompt, strlen(prompt), mod_token_bos(model) >= 0, tokens, 512, &n, &err);
    if (r != MOD_OK) fprintf(stderr, "cannot tokenize the prompt: %s\n", err.message);
    else if ((r = mod_prefill(session, tokens, n, NULL)) != MOD_OK)
        fprintf(stderr, "cannot run the prompt: %s\n", mod_session_error(session));
    if (r != MOD_OK) {
        mod_session_free(session);
        mod_model_free(model);
        return 1;
    }
    memset(&sampler_desc, 0, sizeof sampler_desc); /* all zero: greedy */
    sampler_desc.temperature = 0.8f;
    sampler_desc.top_k = 40;
    sampler_desc.top_p = 0.95f;
    sampler_desc.seed = 42;
    mod_sampler_init(&sampler, &sampler_desc); /* these settings are valid */
    printf("%s", prompt);
    for (i = 0; i < 64 && mod_sample(session, &sampler, &token) == MOD_OK; i++) {
        size_t len;
        const char *piece = mod_token_bytes(model, token, &len);
        fwrite(piece, 1, len, stdout);
        if (mod_decode(session, token) != MOD_OK) break;
    }
    printf("\n");
    mod_session_free(session);
    mod_model_free(model);
    return 0;
}
