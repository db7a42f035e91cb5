/* svg.h - what the project's pictures are drawn with. Header-only, static.
 *
 * Every picture is one self-contained SVG document: no scripts, no external fonts, styles or
 * images, so it shows the same in a browser, an image viewer and a README. The conventions,
 * which keep the pictures legible at a README's display width (about 900 CSS pixels):
 *   - width at most SVG_MAX_WIDTH user units, drawn 1:1 (width/height attributes equal the
 *     viewBox), white background;
 *   - one font stack (SVG_FONT), no text smaller than SVG_MIN_FONT;
 *   - colours from svg_ramp (low = pale, high = dark blue), svg_series for curves;
 *   - text is escaped for XML and made valid UTF-8 (bytes that are not become U+FFFD), so
 *     token pieces that end inside a character still give well-formed XML.
 *
 *     svg g;
 *     svg_begin(&g, f, 640, 400, "title for screen readers");
 *     svg_rect(&g, 10, 10, 50, 20, "#ddeeff", "#333333", 1);
 *     svg_text(&g, 12, 40, 13, SVG_START, "#000000", "a < b");
 *     svg_end(&g);                      // returns -1 if any write failed
 */
#ifndef TOOLS_SVG_H
#define TOOLS_SVG_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define SVG_FN static __attribute__((unused))
#else
#define SVG_FN static
#endif

#define SVG_FONT "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"
#define SVG_MONO "DejaVu Sans Mono, Menlo, Consolas, monospace"
#define SVG_MAX_WIDTH 1000
#define SVG_MIN_FONT 11.0

enum { SVG_START = 0, SVG_MIDDLE = 1, SVG_END = 2 };

typedef struct svg {
    FILE *f;
    double width, height;
    int failed;
} svg;

/* Writes len bytes of text escaped for XML character data and attribute values: &, <, >, "
   and ' as entities, control characters other than tab and newline dropped, and every byte
   sequence that is not well-formed UTF-8 (overlong, surrogate, beyond U+10FFFF, cut short)
   as U+FFFD. */
SVG_FN void svg_escape(FILE *f, const char *text, size_t len) {
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c < 0x80) {
            switch (c) {
            case '&': fputs("&amp;", f); break;
            case '<': fputs("&lt;", f); break;
            case '>': fputs("&gt;", f); break;
            case '"': fputs("&quot;", f); break;
            case '\'': fputs("&#39;", f); break;
            default:
                if ((c >= 0x20 && c != 0x7f) || c == '\t' || c == '\n') fputc((int)c, f);
            }
            i++;
            continue;
        }
        {
            int n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : -1, k;
            unsigned cp = c & (n == 3 ? 0x07u : n == 2 ? 0x0Fu : 0x1Fu);
            int ok = n > 0 && c <= 0xF4 && i + (size_t)n < len;
            for (k = 1; ok && k <= n; k++) {
                if ((p[i + (size_t)k] & 0xC0) != 0x80) ok = 0;
                else cp = (cp << 6) | (p[i + (size_t)k] & 0x3Fu);
            }
            if (ok && ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
                       cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF))
                ok = 0;
            if (ok) {
                fwrite(p + i, 1, (size_t)n + 1, f);
                i += (size_t)n + 1;
            } else {
                fputs("\xEF\xBF\xBD", f);
                i++;
                /* skip the continuation bytes of the broken sequence */
                while (i < len && (p[i] & 0xC0) == 0x80) i++;
            }
        }
    }
}

/* Starts a document of width x height user units (drawn 1:1) with a white background and the
   title as its accessible name; standalone: with the XML declaration (a file of its own), 0
   without (an <svg> element inside an HTML page). */
SVG_FN void svg_begin_ex(svg *g, FILE *f, double width, double height, const char *title, int standalone) {
    g->f = f;
    g->width = width;
    g->height = height;
    g->failed = 0;
    if (standalone) fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               "role=\"img\" font-family=\"%s\">\n", width, height, width, height, SVG_FONT);
    fputs("<title>", f);
    svg_escape(f, title, strlen(title));
    fputs("</title>\n", f);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n", width, height);
}

SVG_FN void svg_begin(svg *g, FILE *f, double width, double height, const char *title) {
    svg_begin_ex(g, f, width, height, title, 1);
}

/* Ends the document; -1 if any write to the stream failed. */
SVG_FN int svg_end(svg *g) {
    fputs("</svg>\n", g->f);
    if (fflush(g->f) != 0 || ferror(g->f)) g->failed = 1;
    return g->failed ? -1 : 0;
}

/* A rectangle; stroke NULL (or stroke_width 0) for none. */
SVG_FN void svg_rect(svg *g, double x, double y, double w, double h, const char *fill, const char *stroke, double stroke_width) {
    fprintf(g->f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"", x, y, w, h, fill ? fill : "none");
    if (stroke && stroke_width > 0) fprintf(g->f, " stroke=\"%s\" stroke-width=\"%.2f\"", stroke, stroke_width);
    fputs("/>\n", g->f);
}

/* A rectangle with more: extra, NULL or attributes written as they are (e.g. "class=\"cell\""),
   and a tooltip, title_len bytes of text (escaped) or NULL. */
SVG_FN void svg_rect_ex(svg *g, double x, double y, double w, double h, const char *fill, const char *stroke, double stroke_width,
                        const char *extra, const char *title, size_t title_len) {
    fprintf(g->f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"", x, y, w, h, fill ? fill : "none");
    if (stroke && stroke_width > 0) fprintf(g->f, " stroke=\"%s\" stroke-width=\"%.2f\"", stroke, stroke_width);
    if (extra) fprintf(g->f, " %s", extra);
    if (!title) { fputs("/>\n", g->f); return; }
    fputs("><title>", g->f);
    svg_escape(g->f, title, title_len);
    fputs("</title></rect>\n", g->f);
}

/* A line; dash NULL for solid, else an SVG dash array such as "4 3". */
SVG_FN void svg_line(svg *g, double x1, double y1, double x2, double y2, const char *stroke, double width, const char *dash) {
    fprintf(g->f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" stroke-width=\"%.2f\"", x1, y1, x2, y2, stroke, width);
    if (dash) fprintf(g->f, " stroke-dasharray=\"%s\"", dash);
    fputs("/>\n", g->f);
}

SVG_FN void svg_circle(svg *g, double cx, double cy, double r, const char *fill, const char *stroke, double stroke_width) {
    fprintf(g->f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\" fill=\"%s\"", cx, cy, r, fill ? fill : "none");
    if (stroke && stroke_width > 0) fprintf(g->f, " stroke=\"%s\" stroke-width=\"%.2f\"", stroke, stroke_width);
    fputs("/>\n", g->f);
}

/* Marker shapes for data points: in colour and in shape, series stay apart in greyscale too. */
enum { SVG_MARK_CIRCLE = 0, SVG_MARK_SQUARE = 1, SVG_MARK_DIAMOND = 2, SVG_MARK_TRIANGLE = 3 };

/* A data-point marker centred on (x, y), r its half-size; extra: NULL or more attributes
   written as they are (e.g. "class=\"point\"", so a test can count the points). */
SVG_FN void svg_marker(svg *g, double x, double y, double r, int shape, const char *fill, const char *stroke,
                       double stroke_width, const char *extra) {
    if (shape == SVG_MARK_SQUARE)
        fprintf(g->f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"", x - r * 0.9, y - r * 0.9, r * 1.8, r * 1.8);
    else if (shape == SVG_MARK_DIAMOND)
        fprintf(g->f, "<path d=\"M%.2f %.2fL%.2f %.2fL%.2f %.2fL%.2f %.2fZ\"", x, y - r * 1.25, x + r * 1.25, y, x, y + r * 1.25, x - r * 1.25, y);
    else if (shape == SVG_MARK_TRIANGLE)
        fprintf(g->f, "<path d=\"M%.2f %.2fL%.2f %.2fL%.2f %.2fZ\"", x, y - r * 1.2, x + r * 1.1, y + r * 0.8, x - r * 1.1, y + r * 0.8);
    else
        fprintf(g->f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\"", x, y, r);
    fprintf(g->f, " fill=\"%s\"", fill ? fill : "none");
    if (stroke && stroke_width > 0) fprintf(g->f, " stroke=\"%s\" stroke-width=\"%.2f\"", stroke, stroke_width);
    if (extra) fprintf(g->f, " %s", extra);
    fputs("/>\n", g->f);
}

/* A polyline through n points xy[2i], xy[2i + 1]; points with a non-finite coordinate are left out. */
SVG_FN void svg_polyline(svg *g, const double *xy, int n, const char *stroke, double width, const char *dash) {
    int i;
    fputs("<polyline fill=\"none\" points=\"", g->f);
    for (i = 0; i < n; i++)
        if (isfinite(xy[2 * i]) && isfinite(xy[2 * i + 1])) fprintf(g->f, "%s%.2f,%.2f", i ? " " : "", xy[2 * i], xy[2 * i + 1]);
    fprintf(g->f, "\" stroke=\"%s\" stroke-width=\"%.2f\" stroke-linejoin=\"round\"", stroke, width);
    if (dash) fprintf(g->f, " stroke-dasharray=\"%s\"", dash);
    fputs("/>\n", g->f);
}

/* Text of len bytes at (x, y) (the baseline), size >= SVG_MIN_FONT; anchor SVG_START, SVG_MIDDLE
   or SVG_END; extra: NULL or more attributes written as they are (e.g. "font-weight=\"bold\"",
   a rotation transform). Spaces are kept as they are (white-space: pre). */
SVG_FN void svg_text_n(svg *g, double x, double y, double size, int anchor, const char *fill, const char *extra,
                       const char *text, size_t len) {
    static const char *anchors[] = { "start", "middle", "end" };
    if (size < SVG_MIN_FONT) size = SVG_MIN_FONT;
    fprintf(g->f, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"%.1f\" text-anchor=\"%s\" fill=\"%s\" xml:space=\"preserve\"%s%s>",
            x, y, size, anchors[anchor < 0 || anchor > 2 ? 0 : anchor], fill, extra ? " " : "", extra ? extra : "");
    svg_escape(g->f, text, len);
    fputs("</text>\n", g->f);
}

SVG_FN void svg_text(svg *g, double x, double y, double size, int anchor, const char *fill, const char *text) {
    svg_text_n(g, x, y, size, anchor, fill, NULL, text, strlen(text));
}

/* printf-style text (at most 511 bytes). */
SVG_FN void svg_textf(svg *g, double x, double y, double size, int anchor, const char *fill, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    svg_text_n(g, x, y, size, anchor, fill, NULL, buf, strlen(buf));
}

/* The colour for t in [0, 1] (clamped; NaN gives grey) on the project's sequential ramp, from
   near-white through light blue to dark blue, as "#rrggbb" in out. Luminance falls
   monotonically, so the ramp also reads in greyscale. */
SVG_FN void svg_ramp(double t, char out[8]) {
    /* anchor colours, evenly spaced */
    static const unsigned char a[5][3] = { { 247, 251, 255 }, { 198, 219, 239 }, { 107, 174, 214 }, { 33, 113, 181 }, { 8, 48, 107 } };
    double u;
    int i, k;
    if (t != t) { memcpy(out, "#bbbbbb", 8); return; }
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    u = t * 4.0;
    i = (int)u;
    if (i > 3) i = 3;
    u -= i;
    {
        int c[3];
        for (k = 0; k < 3; k++) c[k] = (int)floor(a[i][k] + (a[i + 1][k] - a[i][k]) * u + 0.5);
        snprintf(out, 8, "#%02x%02x%02x", c[0], c[1], c[2]);
    }
}

/* Should text drawn over svg_ramp(t) be white? */
SVG_FN int svg_ramp_dark(double t) { return t == t && t > 0.55; }

/* Colours for up to 6 data series, distinguishable in colour and in greyscale. */
SVG_FN const char *svg_series(int i) {
    static const char *c[6] = { "#1f5fa8", "#d2691e", "#2e8b57", "#8b3a9b", "#b22222", "#555555" };
    return c[(i % 6 + 6) % 6];
}

/* "Nice" tick values (1, 2 or 5 times a power of ten) covering [lo, hi]: at most max ticks in
   ticks[]; returns how many. */
SVG_FN int svg_ticks(double lo, double hi, int max, double *ticks) {
    double span = hi - lo, step, p, t;
    int n = 0, i;
    static const double m[3] = { 1, 2, 5 };
    if (!(span > 0) || max < 2 || !isfinite(span)) {
        if (max >= 1 && isfinite(lo)) { ticks[0] = lo; return 1; }
        return 0;
    }
    p = pow(10.0, floor(log10(span / max)));
    step = p * 10;
    for (i = 0; i < 3; i++)
        if (span / (p * m[i]) <= max - 1) { step = p * m[i]; break; }
    for (t = ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9 && n < max; t += step)
        ticks[n++] = fabs(t) < step * 1e-9 ? 0.0 : t;
    return n;
}

/* A plot area: data coordinates [x0, x1] x [y0, y1] mapped to the rectangle (left, top,
   width, height); xlog/ylog: logarithmic axes (all values must then be positive). */
typedef struct svg_plot {
    double left, top, width, height;
    double x0, x1, y0, y1;
    int xlog, ylog;
} svg_plot;

SVG_FN double svg_px(const svg_plot *p, double x) {
    double a = p->xlog ? log(x) : x, lo = p->xlog ? log(p->x0) : p->x0, hi = p->xlog ? log(p->x1) : p->x1;
    return p->left + (hi > lo ? (a - lo) / (hi - lo) : 0.5) * p->width;
}

SVG_FN double svg_py(const svg_plot *p, double y) {
    double a = p->ylog ? log(y) : y, lo = p->ylog ? log(p->y0) : p->y0, hi = p->ylog ? log(p->y1) : p->y1;
    return p->top + p->height - (hi > lo ? (a - lo) / (hi - lo) : 0.5) * p->height;
}

/* The frame of a plot: grid lines and labelled ticks on both axes, axis labels. Log axes put
   ticks at 1, 2 and 5 times powers of ten. */
SVG_FN void svg_axes(svg *g, const svg_plot *p, const char *xlabel, const char *ylabel) {
    double t[24];
    int n, i;
    const double fs = 12;
    for (i = 0; i < 2; i++) {
        int log_axis = i == 0 ? p->xlog : p->ylog;
        double lo = i == 0 ? p->x0 : p->y0, hi = i == 0 ? p->x1 : p->y1;
        if (log_axis) {
            double e;
            n = 0;
            for (e = floor(log10(lo)); e <= ceil(log10(hi)) && n < 21; e++) {
                static const double m[3] = { 1, 2, 5 };
                int k;
                for (k = 0; k < 3 && n < 24; k++) {
                    double v = m[k] * pow(10.0, e);
                    if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) t[n++] = v;
                }
            }
        } else
            n = svg_ticks(lo, hi, 7, t);
        for (; n-- > 0;) {
            if (i == 0) {
                double x = svg_px(p, t[n]);
                svg_line(g, x, p->top, x, p->top + p->height, "#e4e4e4", 1, NULL);
                svg_textf(g, x, p->top + p->height + fs + 4, fs, SVG_MIDDLE, "#333333", "%g", t[n]);
            } else {
                double y = svg_py(p, t[n]);
                svg_line(g, p->left, y, p->left + p->width, y, "#e4e4e4", 1, NULL);
                svg_textf(g, p->left - 6, y + fs * 0.35, fs, SVG_END, "#333333", "%g", t[n]);
            }
        }
    }
    svg_rect(g, p->left, p->top, p->width, p->height, NULL, "#555555", 1);
    if (xlabel) svg_text(g, p->left + p->width / 2, p->top + p->height + 2 * fs + 10, 13, SVG_MIDDLE, "#000000", xlabel);
    if (ylabel) {
        char rot[96];
        double x = p->left - 52, y = p->top + p->height / 2;
        snprintf(rot, sizeof rot, "transform=\"rotate(-90 %.2f %.2f)\"", x, y);
        svg_text_n(g, x, y, 13, SVG_MIDDLE, "#000000", rot, ylabel, strlen(ylabel));
    }
}

#endif /* TOOLS_SVG_H */
