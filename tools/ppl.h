/* ppl.h - teacher-forced perplexity of a token sequence, as mod-eval reports it: the one
 * implementation of its windows and scoring, shared by mod-eval (tools/eval.c) and mod-sweep
 * (tools/sweep.c), so that both print the same figure for the same setting. Header-only,
 * static; include mod.h (declarations) and examples/cli.h first.
 *
 * A sequence longer than the window W is scored in consecutive, non-overlapping windows of W
 * tokens, each from a reset session; within a window the logits after token t score token
 * t + 1 (natural-log NLL from a double-precision log-sum-exp), so a window's first token is
 * context only. Mean NLL = sum / scored; perplexity = exp(mean NLL).
 */
#ifndef TOOLS_PPL_H
#define TOOLS_PPL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define PPL_FN static __attribute__((unused))
#else
#define PPL_FN static
#endif

/* Scores toks[0, n) in windows of W tokens with session s: each window in one mod_prefill call
   (the session's prompt routing), or one mod_decode per token when incremental. Adds the NLL
   sum to *nll and the tokens scored to *scored. seen and processed (NULL, or n_layers counters
   each) accumulate every block's tokens_seen / tokens_processed, *flops (NULL or) the whole
   model's FLOPs (mod_session_stats(-1): output projection included), over all windows. dump
   (NULL or an open stream) receives every window's logits, float32 rows of V, dump_path naming
   it in messages. logits: room for min(n, W) rows of vocab_size floats. Returns 0, or -1
   after printing what went wrong to stderr. */
PPL_FN int ppl_windows(mod_session *s, const mod_model *model, const int32_t *toks, int n, int W, int incremental,
                       float *logits, double *nll, long *scored, uint64_t *seen, uint64_t *processed, double *flops,
                       FILE *dump, const char *dump_path) {
    const mod_config *c = mod_model_config(model);
    const int V = c->vocab_size;
    int start;
    for (start = 0; start < n; start += W) {
        const int len = n - start < W ? n - start : W;
        int l, t;
        mod_session_reset(s);
        if (incremental) {
            for (t = 0; t < len; t++) {
                if (mod_decode(s, toks[start + t]) != MOD_OK) { fprintf(stderr, "error: %s\n", mod_session_error(s)); return -1; }
                memcpy(logits + (size_t)t * V, mod_session_logits(s), sizeof(float) * (size_t)V);
            }
        } else if (mod_prefill(s, toks + start, len, logits) != MOD_OK) {
            fprintf(stderr, "error: %s\n", mod_session_error(s));
            return -1;
        }
        for (t = 0; t + 1 < len; t++) {
            const float *row = logits + (size_t)t * V;
            double mx = row[0], sum = 0.0;
            int k;
            for (k = 1; k < V; k++) if (row[k] > mx) mx = row[k];
            for (k = 0; k < V; k++) sum += exp((double)row[k] - mx);
            *nll += mx + log(sum) - (double)row[toks[start + t + 1]];
            (*scored)++;
        }
        for (l = 0; l < c->n_layers && (seen || processed); l++) {
            mod_block_stats b;
            mod_session_stats(s, l, &b);
            if (seen) seen[l] += b.tokens_seen;
            if (processed) processed[l] += b.tokens_processed;
        }
        if (flops) {
            mod_block_stats b;
            mod_session_stats(s, -1, &b);
            *flops += b.flops;
        }
        if (dump && fwrite(logits, sizeof *logits, (size_t)len * (size_t)V, dump) != (size_t)len * (size_t)V) {
            fprintf(stderr, "error: cannot write %s: %s\n", dump_path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* The tokens of a text (len bytes, read from path) as mod-eval --text takes them: the model's
   BOS first if it has one, every id checked against the vocabulary. *toks (the caller frees
   it, on failure too) and *n; -1 after printing what went wrong (an empty result included)
   to stderr. */
PPL_FN int ppl_text_tokens(const mod_model *model, const char *text, size_t len, const char *path, int32_t **toks, int *n) {
    const int V = mod_model_config(model)->vocab_size;
    mod_error err;
    int i;
    *toks = NULL;
    *n = 0;
    if (cli_tokenize(model, text, len, mod_token_bos(model) >= 0, toks, n, &err) != MOD_OK) {
        fprintf(stderr, "error: cannot tokenize %s: %s\n", path, err.message);
        return -1;
    }
    if (*n < 1) { fprintf(stderr, "error: no tokens to evaluate\n"); return -1; }
    for (i = 0; i < *n; i++)
        if ((*toks)[i] < 0 || (*toks)[i] >= V) {
            fprintf(stderr, "error: token %d at index %d is outside the vocabulary [0, %d)\n", (int)(*toks)[i], i, V);
            return -1;
        }
    return 0;
}

#endif /* TOOLS_PPL_H */
