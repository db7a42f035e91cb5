/* A program built against an installed mod.h, as a user of the library builds one (with
   pkg-config or with CMake: tests/test_install.sh, docs/INSTALL.md). It loads MODEL, tokenizes
   PROMPT, runs it through the model and samples N tokens greedily, printing their ids and the
   text.
   usage: consumer MODEL [PROMPT [N]]      (defaults: "And God", 8) */
#define MOD_IMPLEMENTATION
#include <mod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *prompt = argc > 2 ? argv[2] : "And God";
    int n = argc > 3 ? atoi(argv[3]) : 8;
    mod_model *model;
    mod_session *session;
    mod_session_desc desc;
    mod_sampler sampler;
    mod_sampler_desc sampler_desc;
    mod_error err;
    int32_t *tokens, *ids;
    int count = 0, i;
    size_t len = strlen(prompt);
    mod_result r;

    if (argc < 2 || argc > 4 || n < 1 || n > 1000) {
        fprintf(stderr, "usage: consumer MODEL [PROMPT [N]]   (N from 1 to 1000)\n");
        return 2;
    }
    if (mod_model_load_file(&model, argv[1], NULL, &err) != MOD_OK) {
        fprintf(stderr, "consumer: %s\n", err.message);
        return 1;
    }
    tokens = (int32_t *)malloc((len + 2) * sizeof *tokens);
    ids = (int32_t *)malloc((size_t)n * sizeof *ids);
    if (!tokens || !ids) { fprintf(stderr, "consumer: out of memory\n"); return 1; }
    r = mod_tokenize(model, prompt, len, mod_token_bos(model) >= 0, tokens, (int)len + 2, &count, &err);
    if (r != MOD_OK) { fprintf(stderr, "consumer: cannot tokenize: %s\n", err.message); return 1; }

    memset(&desc, 0, sizeof desc); /* zero means "default" for every field */
    desc.max_tokens = count + n;
    r = mod_session_create(&session, model, &desc, &err);
    if (r != MOD_OK) { fprintf(stderr, "consumer: no session: %s\n", err.message); return 1; }
    r = mod_prefill(session, tokens, count, NULL);
    memset(&sampler_desc, 0, sizeof sampler_desc); /* all zero: greedy */
    if (r == MOD_OK) r = mod_sampler_init(&sampler, &sampler_desc);
    for (i = 0; r == MOD_OK && i < n; i++) {
        r = mod_sample(session, &sampler, &ids[i]);
        if (r == MOD_OK && i + 1 < n) r = mod_decode(session, ids[i]);
    }
    if (r != MOD_OK) { fprintf(stderr, "consumer: %s\n", mod_session_error(session)); return 1; }

#ifdef _OPENMP
    printf("mod.h %s (header %s), C, OpenMP\n", mod_version(), MOD_VERSION_STRING);
#else
    printf("mod.h %s (header %s), C\n", mod_version(), MOD_VERSION_STRING);
#endif
    printf("prompt: %d tokens\nids:", count);
    for (i = 0; i < n; i++) printf(" %d", (int)ids[i]);
    printf("\ntext: %s", prompt);
    for (i = 0; i < n; i++) {
        size_t piece_len = 0;
        const char *piece = mod_token_bytes(model, ids[i], &piece_len);
        if (piece) fwrite(piece, 1, piece_len, stdout);
    }
    printf("\n");
    mod_session_free(session);
    mod_model_free(model);
    free(tokens);
    free(ids);
    return 0;
}
