/* Routing in the terminal, shared by mod-generate and mod-eval (--show-routing): text printed a
   token at a time, each token marked by how much compute it received, from the records of
   mod_session_record_routing. Not part of the library; needs mod.h included first.

   Marks (docs/PROGRAMS.md "Routing in the terminal"):
   - count mode, with colour: the token's background shade is the number of routed blocks that
     processed it (no shade: none; pale yellow to dark red: one to all);
   - count mode, without colour: the count as subscript digits after the token (`the₂`);
   - blocks mode: after the token, a braille column with one dot per routed block, top to bottom
     in layer order (a dot: processed; two columns per cell, eight blocks per cell), shaded as
     above when in colour.
   A mark goes before the line breaks that end a token, so that the marks stripped leave the
   text exactly; the mark of a token with no text before its line breaks (BOS, a line break) is
   put in subscript parentheses (`₍₀₎`), so that marks never run together. Colour is used when asked (--color=always), or by default when the output is a
   terminal and NO_COLOR is unset or empty (https://no-color.org); truecolor when COLORTERM is
   truecolor or 24bit, else the 256-colour palette.

   Each token's text is its share of what mod_detokenize gives for the whole sequence: the
   decoder's leading-space rules act only up to the first token that has text, so tokens up to
   it are decoded alone and later ones are their mod_token_bytes. Bytes of a character split
   over several tokens are printed with the token that completes it, so no mark and no escape
   sequence ever falls inside a UTF-8 character; a token left with no text of its own (BOS) shows its
   mark alone (`₂`), or in colour a shaded `·` (nothing when unshaded).

   In colour, every token starts with one SGR sequence whose parameters start with 0 (ESC[0m for
   a token no routed block processed, ESC[0;38;...;48;...m otherwise), line breaks inside a
   shaded token are written with the background reset around them (ESC[39;49m, then the
   colours again without the 0), and the output ends with ESC[m: a reader can tell the tokens'
   shades apart from the bytes alone (tests/test_routing_view.sh does). Control characters of
   the text other than tab and line breaks, which could drive the terminal, are shown as U+FFFD
   in colour. */
#ifndef MOD_ROUTEVIEW_H
#define MOD_ROUTEVIEW_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { RV_OFF = 0, RV_COUNT = 1, RV_BLOCKS = 2 };
enum { RV_COLOR_AUTO = 0, RV_COLOR_ALWAYS = 1, RV_COLOR_NEVER = 2 };

typedef struct rv_view {
    FILE *out;
    const mod_model *model;
    int mode;             /* RV_COUNT or RV_BLOCKS; RV_OFF prints the text plainly */
    int color;            /* 0 none, 1 256 colours, 2 truecolor */
    int when;             /* RV_COLOR_* as asked */
    int n_routed;
    int layers[64];       /* the routed blocks' layers, for the legend (the first 64) */
    int seen_piece;       /* a token with text has been shown: later ones are their bytes */
    unsigned char carry[4]; /* the start of a character whose last bytes are still to come */
    int n_carry;
    int dirty;            /* colours may be set: rv_finish resets them */
} rv_view;

/* --show-routing[=count|blocks]: arg is what follows '=' (NULL for none); 0 on success. */
static inline int rv_parse_mode(const char *arg, int *mode) {
    if (!arg || !strcmp(arg, "count")) *mode = RV_COUNT;
    else if (!strcmp(arg, "blocks")) *mode = RV_BLOCKS;
    else return -1;
    return 0;
}

/* --color=auto|always|never; 0 on success. */
static inline int rv_parse_color(const char *arg, int *when) {
    if (!arg) return -1;
    if (!strcmp(arg, "auto")) *when = RV_COLOR_AUTO;
    else if (!strcmp(arg, "always")) *when = RV_COLOR_ALWAYS;
    else if (!strcmp(arg, "never")) *when = RV_COLOR_NEVER;
    else return -1;
    return 0;
}

/* Colour for out: 0 none, 1 256 colours, 2 truecolor. */
static inline int rv_color_for(FILE *out, int when) {
    const char *no = getenv("NO_COLOR"), *ct = getenv("COLORTERM"), *term = getenv("TERM");
    if (when == RV_COLOR_NEVER) return 0;
    if (when == RV_COLOR_AUTO) {
        if (no && *no) return 0;
        if (!isatty(fileno(out))) return 0;
        if (term && !strcmp(term, "dumb")) return 0;
    }
    return ct && (!strcmp(ct, "truecolor") || !strcmp(ct, "24bit")) ? 2 : 1;
}

/* Sets a view up. from_start: the text starts with the first token shown (the decoder's
   leading-space rules apply to it, as in mod_detokenize); 0 continues a text already shown
   (a chat reply), every token being its bytes. */
static inline void rv_init(rv_view *v, FILE *out, const mod_model *model, int mode, int when, int from_start) {
    const mod_config *c = mod_model_config(model);
    int l, k = 0;
    memset(v, 0, sizeof *v);
    v->out = out;
    v->model = model;
    v->n_routed = c->n_routed;
    v->mode = c->n_routed > 0 ? mode : RV_OFF;
    v->color = v->mode != RV_OFF ? rv_color_for(out, when) : 0;
    v->when = when;
    v->seen_piece = !from_start;
    for (l = 0; l < c->n_layers; l++)
        if (mod_model_layer_routed(model, l) == 1 && k < 64) v->layers[k++] = l + 1; /* + 1: 0 is "none" */
}

/* The shade of count processed blocks of n as colours: fg and bg in out (an SGR parameter
   list), "" for none. */
static inline void rv_shade(const rv_view *v, int count, char *out, size_t cap) {
    /* 256 colours: pale yellow through orange to dark red; black text on the first seven */
    static const int pal[13] = { 230, 229, 228, 222, 221, 215, 214, 208, 202, 196, 160, 124, 88 };
    static const unsigned char anchor[4][3] = { { 255, 255, 175 }, { 255, 175, 0 }, { 215, 0, 0 }, { 110, 0, 0 } };
    double t;
    out[0] = 0;
    if (count <= 0 || v->n_routed <= 0) return;
    t = (double)(count > v->n_routed ? v->n_routed : count) / (double)v->n_routed;
    if (v->color == 2) {
        double u = t * 3.0;
        int i = (int)u, k, c[3];
        if (i > 2) i = 2;
        u -= i;
        for (k = 0; k < 3; k++) c[k] = (int)(anchor[i][k] + (anchor[i + 1][k] - anchor[i][k]) * u + 0.5);
        snprintf(out, cap, "%s;48;2;%d;%d;%d", t > 0.55 ? "38;2;255;255;255" : "38;2;0;0;0", c[0], c[1], c[2]);
    } else {
        int i = (int)(t * 12.0 + 0.5);
        if (i < 1) i = 1;
        snprintf(out, cap, "%s;48;5;%d", i >= 9 ? "38;5;231" : "38;5;16", pal[i]);
    }
}

/* Prints the count in subscript digits. */
static inline void rv_subscript(FILE *f, int count) {
    char d[16];
    int i, n = snprintf(d, sizeof d, "%d", count < 0 ? 0 : count);
    for (i = 0; i < n; i++) fprintf(f, "\xE2\x82%c", (char)(0x80 + (d[i] - '0')));
}

/* Prints the braille column(s) of one token: dot k of a cell (k = 0..7, the left column top
   to bottom, then the right one) is routed block 8 * cell + k. */
static inline void rv_braille(FILE *f, const mod_route *rec, size_t stride, int i, int n) {
    static const unsigned char bit[8] = { 0x01, 0x02, 0x04, 0x40, 0x08, 0x10, 0x20, 0x80 };
    int cell, k;
    for (cell = 0; cell * 8 < n; cell++) {
        unsigned cp = 0x2800;
        for (k = 0; k < 8 && cell * 8 + k < n; k++)
            if (rec[(size_t)(cell * 8 + k) * stride + (size_t)i].processed) cp |= bit[k];
        fputc(0xE2, f);
        fputc(0x80 | (int)((cp >> 6) & 0x3F), f);
        fputc(0x80 | (int)(cp & 0x3F), f);
    }
}

/* Writes len bytes of text: raw without colour; in colour, control characters other than tab
   become U+FFFD and line breaks reset the background around them (sgr: the shade, "" none). */
static inline void rv_put(const rv_view *v, const unsigned char *p, size_t len, const char *sgr) {
    size_t i;
    if (!v->color) { fwrite(p, 1, len, v->out); return; }
    for (i = 0; i < len; i++) {
        unsigned c = p[i];
        if (c == '\n' || (c == '\r' && i + 1 < len && p[i + 1] == '\n')) {
            size_t j = i;
            while (j < len && (p[j] == '\n' || (p[j] == '\r' && j + 1 < len && p[j + 1] == '\n'))) j++;
            if (*sgr) fputs("\x1b[39;49m", v->out);
            fwrite(p + i, 1, j - i, v->out);
            if (*sgr && j < len) fprintf(v->out, "\x1b[%sm", sgr);
            i = j - 1;
        } else if ((c < 0x20 && c != '\t') || c == 0x7f || (c == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)) {
            fputs("\xEF\xBF\xBD", v->out);
            if (c == 0xC2) i++;
        } else
            fputc((int)c, v->out);
    }
}

/* Shows token tok, whose routing is rec[r * stride + i] for routed block r (rec NULL: not
   known, e.g. a token the context had no room to run; it is shown without a mark). */
static inline void rv_token(rv_view *v, int32_t tok, const mod_route *rec, size_t stride, int i) {
    unsigned char buf[512], *p = buf, *heap = NULL;
    size_t plen = 0, len, split, body;
    const char *piece;
    int count = 0, r, marked = v->mode != RV_OFF && rec;
    char sgr[64];
    /* the token's text: decoded alone until a token with text has been seen */
    piece = mod_token_bytes(v->model, tok, &plen);
    if (!piece) plen = 0;
    if (plen && !v->seen_piece) {
        size_t need = 0;
        v->seen_piece = 1;
        mod_detokenize(v->model, &tok, 1, NULL, 0, &need);
        if (need + 4 > sizeof buf && !(p = heap = (unsigned char *)malloc(need + 4))) return;
        memcpy(p, v->carry, (size_t)v->n_carry);
        mod_detokenize(v->model, &tok, 1, (char *)p + v->n_carry, need, &need);
        len = (size_t)v->n_carry + need;
    } else {
        if (plen + 4 > sizeof buf && !(p = heap = (unsigned char *)malloc(plen + 4))) return;
        memcpy(p, v->carry, (size_t)v->n_carry);
        if (plen) memcpy(p + v->n_carry, piece, plen);
        len = (size_t)v->n_carry + plen;
    }
    /* an unfinished character at the end waits for the next token */
    split = len;
    {
        size_t k;
        for (k = 1; k <= 3 && k <= len; k++) {
            unsigned b = p[len - k];
            if ((b & 0xC0) == 0x80) continue;
            if (b >= 0xC2 && b <= 0xF4 && (size_t)(b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2) > k) split = len - k;
            break;
        }
    }
    v->n_carry = (int)(len - split);
    memcpy(v->carry, p + split, (size_t)v->n_carry);
    len = split;
    /* the mark goes before the line breaks that end the token */
    body = len;
    while (body > 0 && (p[body - 1] == '\n' || (p[body - 1] == '\r' && body < len && p[body] == '\n'))) body--;
    if (marked)
        for (r = 0; r < v->n_routed; r++) count += rec[(size_t)r * stride + (size_t)i].processed != 0;
    sgr[0] = 0;
    if (v->color && marked) {
        rv_shade(v, count, sgr, sizeof sgr);
        fprintf(v->out, *sgr ? "\x1b[0;%sm" : "\x1b[0m", sgr);
        v->dirty = 1;
        if (*sgr && len == 0) fputs("\xC2\xB7", v->out);   /* no text: a shaded middle dot */
        else if (*sgr && body == 0) fputc(' ', v->out);    /* only line breaks: a shaded space */
    }
    rv_put(v, p, body, sgr);
    if (marked && (v->mode == RV_BLOCKS || !v->color)) {
        /* a token with no text before its mark: in parentheses, so that marks never run together */
        if (body == 0) fputs("\xE2\x82\x8D", v->out);
        if (v->mode == RV_BLOCKS) rv_braille(v->out, rec, stride, i, v->n_routed);
        else rv_subscript(v->out, count);
        if (body == 0) fputs("\xE2\x82\x8E", v->out);
    }
    if (body < len) rv_put(v, p + body, len - body, sgr);
    fflush(v->out);
    free(heap);
}

/* Ends the text: the bytes of an unfinished character (U+FFFD in colour), the colours reset. */
static inline void rv_finish(rv_view *v) {
    if (v->n_carry) {
        if (v->color) fputs("\x1b[0m\xEF\xBF\xBD", v->out);
        else fwrite(v->carry, 1, (size_t)v->n_carry, v->out);
        v->n_carry = 0;
    }
    if (v->dirty) fputs("\x1b[m", v->out);
    v->dirty = 0;
    fflush(v->out);
}

/* The one-line legend, on f. */
static inline void rv_legend(const rv_view *v, FILE *f) {
    int k, c;
    if (v->mode == RV_OFF) return;
    fprintf(f, "routing: ");
    if (v->mode == RV_BLOCKS)
        fprintf(f, "after each token a braille column, one dot per routed block from the top (a dot: processed)");
    else if (!v->color)
        fprintf(f, "the subscript after each token is how many routed blocks processed it");
    else
        fprintf(f, "the shade of each token is how many routed blocks processed it");
    fprintf(f, "; %d routed block%s:", v->n_routed, v->n_routed == 1 ? "" : "s");
    for (k = 0; k < 64 && v->layers[k]; k++) fprintf(f, " L%d", v->layers[k] - 1);
    if (k < v->n_routed) fprintf(f, " ...");
    if (v->color && (v->when == RV_COLOR_ALWAYS || isatty(fileno(f)))) {
        char sgr[64];
        fprintf(f, "; shades:");
        for (c = 0; c <= v->n_routed; c++) {
            rv_shade(v, c, sgr, sizeof sgr);
            fprintf(f, " ");
            fprintf(f, *sgr ? "\x1b[0;%sm" : "\x1b[0m", sgr);
            fprintf(f, " %d \x1b[m", c);
        }
    }
    fprintf(f, "\n");
    fflush(f);
}

#endif
