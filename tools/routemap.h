/* routemap.h - mod-eval's routing map (--routing-map): the router scores of the first tokens
   of a text, as an SVG picture or a small HTML page holding it. Needs mod.h, examples/cli.h and
   tools/svg.h included first. Not part of the library.

   The tokens drawn (at most --map-tokens, at most one window) run as one mod_prefill call with
   the session's routing rule, their routing recorded (mod_session_record_routing). The picture:
   - a heatmap, rows the routed blocks, columns the tokens with their text written above them
     (rotated; spaces as ·, line breaks as ↵), wrapped into bands; a cell's colour is the
     router score on one scale for every block (svg_ramp, legend of values), and a cell is
     outlined when the block processed the token (the scale: the 1st to 99th percentile of
     the scores, widened to the cuts and threshold; scores beyond it take its ends). Cells are <rect class="cell"> and
     <rect class="cell processed">, with the scores in a tooltip;
   - per routed block a histogram of the router scores, with the top-k cut (the score of the
     k-th best token, k from the block's capacity over the tokens drawn) and the causal
     threshold (when the decision value is the score itself; a predictor's output is not on
     that axis) as lines; bars are <rect class="bar" data-count="N">;
   - per block, how the causal rule (decision > threshold) agrees with top-k over the same
     scores: the share of tokens where both say the same, and top-k's recall (the share of the
     k top-k tokens the causal rule would process too). */
#ifndef TOOLS_ROUTEMAP_H
#define TOOLS_ROUTEMAP_H

#define RM_BINS 24
#define RM_LABEL_CHARS 12
#define RM_MAX_BANDS 32 /* 1024 tokens at most, 58 a band */

typedef struct rm_block {
    int layer, k, processed, causal, agree, both, nan, beyond;
    float capacity, cut;
    int bins[RM_BINS];
} rm_block;

/* Does token a rank above b (higher score, the lower index on ties, NaN lowest), as top-k
   routing ranks them. */
static int rm_above(const mod_route *r, int a, int b) {
    float ra = r[a].score, rb = r[b].score;
    if (ra != ra) return rb != rb && a < b;
    if (rb != rb) return 1;
    return ra > rb || (ra == rb && a < b);
}

/* A token's label: its bytes with spaces as ·, line breaks as ↵, tabs as ⇥, at most
   RM_LABEL_CHARS characters (then …); a token with no text is named by id. */
static size_t rm_label(const mod_model *m, int32_t tok, char *out, size_t cap) {
    size_t len = 0, o = 0, i;
    const char *p = mod_token_bytes(m, tok, &len);
    int chars = 0;
    if (!p || !len) {
        if (tok == mod_token_bos(m)) return (size_t)snprintf(out, cap, "[BOS]");
        if (tok == mod_token_eos(m)) return (size_t)snprintf(out, cap, "[EOS]");
        return (size_t)snprintf(out, cap, "#%d", (int)tok);
    }
    for (i = 0; i < len && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c & 0xC0) != 0x80 && ++chars > RM_LABEL_CHARS) {
            memcpy(out + o, "\xE2\x80\xA6", 3);
            o += 3;
            break;
        }
        if (c == ' ') { memcpy(out + o, "\xC2\xB7", 2); o += 2; }
        else if (c == '\n') { memcpy(out + o, "\xE2\x86\xB5", 3); o += 3; }
        else if (c == '\t') { memcpy(out + o, "\xE2\x87\xA5", 3); o += 3; }
        else out[o++] = (char)c;
    }
    out[o] = 0;
    return o;
}

static void rm_html_escape(FILE *f, const char *s) { svg_escape(f, s, strlen(s)); }

static int rm_cmp(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Draws the map of rec (n_routed rows of stride records, N tokens) into f. */
static void rm_draw(FILE *f, int html, const mod_model *m, const mod_session_desc *sd, const int32_t *toks, int N,
                    const mod_route *rec, size_t stride, const rm_block *blk, int nr, float lo, float hi,
                    const char *model_name, const char *text_name) {
    const mod_config *c = mod_model_config(m);
    const float thr = sd->override_threshold ? sd->threshold : c->threshold;
    const int topk = sd->prompt_routing == MOD_ROUTING_TOPK;
    const double W = SVG_MAX_WIDTH, margin = 12, lab = 44, cw = 16, ch = 18;
    const int per_band = (int)((W - 2 * margin - lab) / cw);
    const int bands = (N + per_band - 1) / per_band;
    const int pcols = nr < 4 ? nr : 4, prows = (nr + pcols - 1) / pcols;
    const double pw = (W - 2 * margin) / pcols, ph = 190, header = 112;
    double band_top[RM_MAX_BANDS + 1], label_h[RM_MAX_BANDS], hist_top, H;
    char title[600], col[8], lbl[64], tip[300];
    double agree_all = 0;
    int b, r, i, ymax, beyond = 0;
    svg g;
    /* each band as tall as its longest label (monospace, about 0.62 em a character) */
    band_top[0] = header;
    for (b = 0; b < bands && b < RM_MAX_BANDS; b++) {
        int most = 2;
        for (i = b * per_band; i < N && i < (b + 1) * per_band; i++) {
            size_t ll = rm_label(m, toks[i], lbl, sizeof lbl), k;
            int chars = 0;
            for (k = 0; k < ll; k++) chars += ((unsigned char)lbl[k] & 0xC0) != 0x80;
            if (chars > most) most = chars;
        }
        label_h[b] = 12 + 6.9 * most;
        band_top[b + 1] = band_top[b] + label_h[b] + nr * ch + 22;
    }
    hist_top = band_top[bands] + 16;
    H = hist_top + 40 + prows * ph - 20;
    for (r = 0; r < nr; r++) beyond += blk[r].beyond;
    for (r = 0; r < nr; r++) agree_all += N ? (double)blk[r].agree / N : 0;
    agree_all = nr ? agree_all / nr : 0;
    snprintf(title, sizeof title, "Routing map of %s: router scores of the first %d tokens of %s, %s routing", model_name, N,
             text_name, topk ? "top-k" : "causal");
    if (html) {
        fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>", f);
        rm_html_escape(f, title);
        fputs("</title>\n<style>\nbody { font-family: " SVG_FONT "; margin: 16px; color: #111; max-width: 1000px; }\n"
              "h1 { font-size: 18px; }\nsvg { max-width: 100%; height: auto; }\n"
              "table { border-collapse: collapse; margin-top: 12px; font-size: 14px; }\n"
              "th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: right; }\n"
              "th { background: #f4f4f4; }\n</style>\n</head>\n<body>\n<h1>", f);
        rm_html_escape(f, title);
        fputs("</h1>\n", f);
    }
    svg_begin_ex(&g, f, W, H, title, !html);
    /* header: title, what the cells show, the colour scale */
    svg_textf(&g, margin, 22, 15, SVG_START, "#000000", "Routing map: %s, first %d tokens of %s", model_name, N, text_name);
    svg_textf(&g, margin, 42, 12, SVG_START, "#333333",
              "%s routing; cell colour = router score, outlined = processed; causal rule agrees with top-k on %.1f%% (mean over %d blocks)",
              topk ? "top-k" : "causal", 100.0 * agree_all, nr);
    {
        const double bx = margin + lab, by = 58, bw = 300, bh = 12;
        double t[12];
        int n, k;
        svg_text(&g, margin, by + 10, 12, SVG_START, "#333333", "score");
        for (k = 0; k < 60; k++) {
            svg_ramp((k + 0.5) / 60.0, col);
            svg_rect(&g, bx + bw * k / 60.0, by, bw / 60.0 + 0.3, bh, col, NULL, 0);
        }
        svg_rect(&g, bx, by, bw, bh, NULL, "#555555", 1);
        n = svg_ticks(lo, hi, 6, t);
        for (k = 0; k < n; k++) {
            double x = bx + (hi > lo ? (t[k] - lo) / (hi - lo) : 0.5) * bw;
            svg_line(&g, x, by + bh, x, by + bh + 4, "#555555", 1, NULL);
            svg_textf(&g, x, by + bh + 16, 11, SVG_MIDDLE, "#333333", "%g", t[k]);
        }
        svg_rect(&g, bx + bw + 40, by - 1, 14, 14, "#ffffff", "#d2691e", 2.5);
        svg_textf(&g, bx + bw + 60, by + 10, 12, SVG_START, "#333333", "processed by the block (%s)",
                  topk ? "top-k at its capacity" : (c->decision == MOD_DECISION_PREDICTOR ? "predictor > threshold" : "score > threshold"));
        if (beyond)
            svg_textf(&g, bx + bw + 40, by + 30, 11, SVG_START, "#555555",
                      "the scale spans the 1st to 99th percentile: %d score%s beyond it drawn at its ends", beyond, beyond == 1 ? "" : "s");
    }
    /* the heatmap, in bands */
    for (b = 0; b < bands; b++) {
        const double cells = band_top[b] + label_h[b];
        const int first = b * per_band, last = first + per_band < N ? first + per_band : N;
        for (r = 0; r < nr; r++)
            svg_textf(&g, margin + lab - 8, cells + r * ch + ch * 0.7, 12, SVG_END, "#000000", "L%d", blk[r].layer);
        for (i = first; i < last; i++) {
            const double x = margin + lab + (i - first) * cw;
            char rot[200];
            size_t ll = rm_label(m, toks[i], lbl, sizeof lbl);
            snprintf(rot, sizeof rot, "font-family=\"%s\" transform=\"rotate(-90 %.2f %.2f)\"", SVG_MONO, x + cw / 2 + 4, cells - 5);
            svg_text_n(&g, x + cw / 2 + 4, cells - 5, 11, SVG_START, "#000000", rot, lbl, ll);
            if (i % 10 == 0) svg_textf(&g, x + 1, cells + nr * ch + 13, 11, SVG_START, "#777777", "%d", i);
            for (r = 0; r < nr; r++) {
                const mod_route *t = &rec[(size_t)r * stride + (size_t)i];
                const double tv = hi > lo ? (t->score - lo) / (hi - lo) : 0.5;
                int tl;
                svg_ramp(tv, col);
                tl = snprintf(tip, sizeof tip, "L%d, token %d \"%s\": score %.4g, decision %.4g, %s", blk[r].layer, i, lbl,
                              (double)t->score, (double)t->decision, t->processed ? "processed" : "skipped");
                if (tl < 0) tl = 0;
                if ((size_t)tl >= sizeof tip) tl = (int)sizeof tip - 1;
                if (t->processed)
                    svg_rect_ex(&g, x + 1.25, cells + r * ch + 1.25, cw - 2.5, ch - 2.5, col, "#d2691e", 2.5,
                                "class=\"cell processed\"", tip, (size_t)tl);
                else
                    svg_rect_ex(&g, x, cells + r * ch, cw, ch, col, "#ffffff", 0.5, "class=\"cell\"", tip, (size_t)tl);
            }
        }
    }
    /* histograms */
    svg_textf(&g, margin, hist_top + 14, 14, SVG_START, "#000000", "Router scores per block (%d tokens)", N);
    svg_line(&g, margin + 290, hist_top + 10, margin + 316, hist_top + 10, "#d2691e", 2.5, NULL);
    svg_text(&g, margin + 322, hist_top + 14, 12, SVG_START, "#333333", "top-k cut (k-th best score)");
    if (c->decision == MOD_DECISION_ROUTER) {
        svg_line(&g, margin + 520, hist_top + 10, margin + 546, hist_top + 10, "#222222", 2, "5 3");
        svg_textf(&g, margin + 552, hist_top + 14, 12, SVG_START, "#333333", "causal threshold (%g)", (double)thr);
    } else
        svg_textf(&g, margin + 520, hist_top + 14, 12, SVG_START, "#333333", "causal rule: predictor output > %g", (double)thr);
    ymax = 1;
    for (r = 0; r < nr; r++)
        for (i = 0; i < RM_BINS; i++)
            if (blk[r].bins[i] > ymax) ymax = blk[r].bins[i];
    for (r = 0; r < nr; r++) {
        const double px = margin + (r % pcols) * pw, py = hist_top + 40 + (r / pcols) * ph;
        svg_plot p;
        char extra[64];
        p.left = px + 40; p.width = pw - 56; p.top = py + 40; p.height = ph - 92;
        p.x0 = lo; p.x1 = hi; p.y0 = 0; p.y1 = ymax; p.xlog = p.ylog = 0;
        svg_textf(&g, px + 4, py + 12, 13, SVG_START, "#000000", "L%d: k = %d of %d (capacity %.3g)", blk[r].layer, blk[r].k, N,
                  (double)blk[r].capacity);
        svg_textf(&g, px + 4, py + 28, 11, SVG_START, "#333333", "agree %.1f%%, recall %.1f%% (%d/%d)", N ? 100.0 * blk[r].agree / N : 0.0,
                  blk[r].k ? 100.0 * blk[r].both / blk[r].k : 0.0, blk[r].both, blk[r].k);
        svg_axes(&g, &p, "router score", NULL);
        for (i = 0; i < RM_BINS; i++) {
            const double x0 = svg_px(&p, lo + (hi - lo) * i / RM_BINS), x1 = svg_px(&p, lo + (hi - lo) * (i + 1) / RM_BINS);
            if (!blk[r].bins[i]) continue;
            snprintf(extra, sizeof extra, "class=\"bar\" data-block=\"%d\" data-count=\"%d\"", blk[r].layer, blk[r].bins[i]);
            svg_rect_ex(&g, x0 + 0.5, svg_py(&p, blk[r].bins[i]), x1 - x0 - 1, p.top + p.height - svg_py(&p, blk[r].bins[i]),
                        "#6baed6", NULL, 0, extra, NULL, 0);
        }
        if (blk[r].cut >= lo && blk[r].cut <= hi)
            svg_line(&g, svg_px(&p, blk[r].cut), p.top, svg_px(&p, blk[r].cut), p.top + p.height, "#d2691e", 2.5, NULL);
        if (c->decision == MOD_DECISION_ROUTER && thr >= lo && thr <= hi)
            svg_line(&g, svg_px(&p, thr), p.top, svg_px(&p, thr), p.top + p.height, "#222222", 2, "5 3");
        if (blk[r].nan) svg_textf(&g, p.left + 4, p.top + 14, 11, SVG_START, "#b22222", "%d NaN not drawn", blk[r].nan);
    }
    svg_end(&g);
    if (html) {
        fputs("<table>\n<tr><th>block</th><th>capacity</th><th>k</th><th>processed</th><th>causal would process</th>"
              "<th>causal agrees with top-k</th><th>top-k recall</th></tr>\n", f);
        for (r = 0; r < nr; r++)
            fprintf(f, "<tr><td>L%d</td><td>%.3g</td><td>%d</td><td>%d</td><td>%d</td><td>%.1f%%</td><td>%.1f%%</td></tr>\n", blk[r].layer,
                    (double)blk[r].capacity, blk[r].k, blk[r].processed, blk[r].causal, N ? 100.0 * blk[r].agree / N : 0.0,
                    blk[r].k ? 100.0 * blk[r].both / blk[r].k : 0.0);
        fputs("</table>\n<p>Each column is a token, each row a routed block; hover a cell for its score. Made by mod-eval --routing-map.</p>\n"
              "</body>\n</html>\n", f);
    }
}

/* Writes the routing map of the first tokens (at most max_draw, at most one window of sd) to
   path (an .html or .htm name: an HTML page; otherwise SVG), through cli_output_*: nothing is
   left on failure. 0, 1 when the model has no routed blocks (nothing written), -1 with the
   reason in why. */
static int routemap_write(const mod_model *m, const mod_session_desc *sd, const int32_t *toks, int n, int max_draw,
                          const char *path, const cli_file_id *ids, int n_ids, const char *model_name, const char *text_name,
                          char *why, size_t cap) {
    const mod_config *c = mod_model_config(m);
    const int nr = c->n_routed;
    const float thr = sd->override_threshold ? sd->threshold : c->threshold;
    const size_t plen = strlen(path);
    const int html = (plen >= 5 && !strcmp(path + plen - 5, ".html")) || (plen >= 4 && !strcmp(path + plen - 4, ".htm"));
    mod_session *s = NULL;
    mod_error err;
    mod_route *rec = NULL;
    rm_block *blk = NULL;
    int *order = NULL, *rank = NULL, N, r, i, l, rc = -1;
    float *vals = NULL;
    float lo = 0, hi = 0;
    cli_out out;
    FILE *f = NULL;
    memset(&out, 0, sizeof out);
    out.fd = -1;
    if (nr == 0) return 1;
    N = n < max_draw ? n : max_draw;
    if (N > sd->max_tokens) N = sd->max_tokens;
    if (mod_session_create(&s, m, sd, &err) != MOD_OK) { cli__msg(why, cap, "cannot create a session: %s", err.message); return -1; }
    rec = (mod_route *)malloc((size_t)nr * (size_t)N * sizeof *rec);
    blk = (rm_block *)calloc((size_t)nr, sizeof *blk);
    order = (int *)malloc((size_t)N * sizeof *order);
    rank = (int *)malloc((size_t)N * sizeof *rank);
    vals = (float *)malloc((size_t)nr * (size_t)N * sizeof *vals);
    if (!rec || !blk || !order || !rank || !vals) { cli__msg(why, cap, "out of memory"); goto done; }
    if (mod_session_record_routing(s, rec, N) != MOD_OK || mod_prefill(s, toks, N, NULL) != MOD_OK ||
        mod_session_routing_recorded(s) != N) {
        cli__msg(why, cap, "%s", mod_session_error(s));
        goto done;
    }
    for (r = 0, l = 0; l < c->n_layers && r < nr; l++) {
        rm_block *k = &blk[r];
        const mod_route *t = rec + (size_t)r * (size_t)N;
        double kk;
        if (mod_model_layer_routed(m, l) != 1) continue;
        k->layer = l;
        k->capacity = sd->capacity > 0 ? sd->capacity : mod_model_layer_capacity(m, l);
        kk = ceil((double)k->capacity * N - 1e-6); /* as mod.h's top-k: min(N, max(1, ceil(c N))) */
        k->k = kk < 1 ? 1 : kk > N ? N : (int)kk;
        /* rank by score (insertion sort: N is small) */
        for (i = 0; i < N; i++) {
            int j = i;
            while (j > 0 && rm_above(t, i, order[j - 1])) { order[j] = order[j - 1]; j--; }
            order[j] = i;
        }
        k->cut = t[order[k->k - 1]].score;
        for (i = 0; i < N; i++) rank[order[i]] = i;
        for (i = 0; i < N; i++) {
            const int in_topk = rank[i] < k->k, causal = t[i].decision > thr;
            k->processed += t[i].processed != 0;
            k->causal += causal;
            k->agree += causal == in_topk;
            k->both += causal && in_topk;
        }
        r++;
    }
    /* the scale: the finite scores from the 1st to the 99th percentile (one outlier, such as a
       BOS token's, would squeeze the rest into a few shades), widened to the top-k cuts and to
       the threshold when it is on the same axis; scores beyond it are drawn at its ends */
    {
        int m_ = 0;
        for (i = 0; i < nr * N; i++)
            if (isfinite(rec[i].score)) vals[m_++] = rec[i].score;
        qsort(vals, (size_t)m_, sizeof *vals, rm_cmp);
        if (m_) {
            lo = vals[(size_t)(0.01 * (m_ - 1))];
            hi = vals[(size_t)ceil(0.99 * (m_ - 1))];
        }
        if (c->decision == MOD_DECISION_ROUTER && isfinite(thr)) { if (!m_ || thr < lo) lo = thr; if (!m_ || thr > hi) hi = thr; m_++; }
        for (r = 0; r < nr; r++)
            if (isfinite(blk[r].cut)) { if (!m_ || blk[r].cut < lo) lo = blk[r].cut; if (!m_ || blk[r].cut > hi) hi = blk[r].cut; m_++; }
        if (hi - lo < 1e-6f) { lo -= 0.5f; hi += 0.5f; }
        {
            const float pad = (hi - lo) * 0.02f;
            lo -= pad;
            hi += pad;
        }
    }
    for (r = 0; r < nr; r++) {
        const mod_route *t = rec + (size_t)r * (size_t)N;
        for (i = 0; i < N; i++) {
            double u;
            int bin;
            if (t[i].score != t[i].score) { blk[r].nan++; continue; }
            if (t[i].score < lo || t[i].score > hi) blk[r].beyond++;
            u = (t[i].score - lo) / (hi - lo) * RM_BINS;
            bin = u < 0 ? 0 : u >= RM_BINS ? RM_BINS - 1 : (int)u;
            blk[r].bins[bin]++;
        }
    }
    if (cli_output_open(&out, path, 1, why, cap) != 0) goto done;
    if (!(f = cli_output_stream(&out))) { cli__msg(why, cap, "cannot write %s: %s", path, strerror(errno)); goto done; }
    rm_draw(f, html, m, sd, toks, N, rec, (size_t)N, blk, nr, lo, hi, model_name, text_name);
    {
        int bad = fflush(f) != 0 || ferror(f);
        bad |= fclose(f) != 0;
        f = NULL;
        if (bad) { cli__msg(why, cap, "cannot write %s: %s", path, strerror(errno)); goto done; }
    }
    if (cli_output_commit(&out, ids, n_ids, why, cap) != 0) goto done;
    rc = 0;
done:
    if (f) fclose(f);
    cli_output_abort(&out);
    free(order);
    free(rank);
    free(vals);
    free(blk);
    free(rec);
    mod_session_free(s);
    return rc;
}

#endif
