/* mod-plot: a scatter (or line) plot as an SVG picture from a table of points.

   Input: one point a line, "series, x, y[, label]", fields separated by tabs (when the first
   data line has one) or commas. A first line whose x or y is not a number is a header; empty
   lines and lines starting with '#' are skipped. Each series gets a colour (at most 6, the
   svg.h palette) and a legend entry; every point is one circle marker, labelled when it has a
   label; --lines joins each series' points in order of x. Drawn with tools/svg.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_TMPFILE, for the output file (examples/cli.h) */
#endif
#define _POSIX_C_SOURCE 200809L
#include "../mod.h"
#include "../examples/cli.h"
#include "svg.h"

#define PLOT_MAX_SERIES 6
#define PLOT_MAX_POINTS 100000
#define PLOT_MAX_FIELD 200

typedef struct point {
    int series;
    double x, y;
    char label[PLOT_MAX_FIELD];
} point;

typedef struct table {
    point *p;
    int n, cap, n_series;
    char series[PLOT_MAX_SERIES][PLOT_MAX_FIELD];
} table;

static void usage(FILE *f) {
    fprintf(f,
        "usage: mod-plot INPUT -o OUT.svg [options]\n"
        "  INPUT              lines of series,x,y[,label] (tab- or comma-separated; a header\n"
        "                     line, empty lines and lines starting with '#' are skipped)\n"
        "  -o FILE            the SVG picture to write (replaced whole, never half-written)\n"
        "  --title TEXT       title above the plot\n"
        "  --xlabel TEXT      x axis label\n"
        "  --ylabel TEXT      y axis label\n"
        "  --xlog, --ylog     logarithmic axis (every value must be positive)\n"
        "  --lines            join each series' points in order of x\n"
        "  --width N          picture width, 320..%d (default 760)\n"
        "  --height N         picture height, 240..1000 (default 460)\n"
        "  -h, --help         this text\n", SVG_MAX_WIDTH);
}

/* Copies field [s, e) without surrounding blanks into out; -1 when too long. */
static int field(const char *s, const char *e, char *out) {
    while (s < e && (*s == ' ' || *s == '\r')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\r' || e[-1] == '\n')) e--;
    if ((size_t)(e - s) >= PLOT_MAX_FIELD) return -1;
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = 0;
    return 0;
}

static int number(const char *s, double *v) {
    char *end;
    if (!*s) return -1;
    errno = 0;
    *v = strtod(s, &end);
    return *end || errno == ERANGE || !isfinite(*v) ? -1 : 0;
}

/* Parses the text (len bytes) into t; 0 or -1 with a message naming the line. */
static int parse(const char *path, const char *text, size_t len, table *t, char sep_forced) {
    size_t pos = 0;
    int line_no = 0, first_data = 1;
    char sep = sep_forced;
    while (pos < len) {
        const char *ln = text + pos, *nl = memchr(ln, '\n', len - pos), *end = nl ? nl : text + len;
        char f[4][PLOT_MAX_FIELD];
        const char *s = ln;
        int nf = 0, k;
        double x, y;
        pos = (size_t)(end - text) + (nl ? 1 : 0);
        line_no++;
        if (memchr(ln, 0, (size_t)(end - ln))) { fprintf(stderr, "error: %s:%d: a NUL byte; the input must be text\n", path, line_no); return -1; }
        {
            const char *q = ln;
            while (q < end && (*q == ' ' || *q == '\r' || *q == '\t')) q++;
            if (q == end || *q == '#') continue;
        }
        if (!sep) sep = memchr(ln, '\t', (size_t)(end - ln)) ? '\t' : ',';
        while (1) {
            const char *c = memchr(s, sep, (size_t)(end - s)), *fe = c ? c : end;
            if (nf == 4) { fprintf(stderr, "error: %s:%d: more than 4 fields (series, x, y, label)\n", path, line_no); return -1; }
            if (field(s, fe, f[nf]) != 0) { fprintf(stderr, "error: %s:%d: field %d is longer than %d bytes\n", path, line_no, nf + 1, PLOT_MAX_FIELD - 1); return -1; }
            nf++;
            if (!c) break;
            s = c + 1;
        }
        if (nf < 3) { fprintf(stderr, "error: %s:%d: %d field%s; a point is series%cx%cy[%clabel]\n", path, line_no, nf, nf == 1 ? "" : "s", sep, sep, sep); return -1; }
        if (number(f[1], &x) != 0 || number(f[2], &y) != 0) {
            if (first_data) { first_data = 0; continue; } /* a header line */
            fprintf(stderr, "error: %s:%d: x '%s' and y '%s' must be finite numbers\n", path, line_no, f[1], f[2]);
            return -1;
        }
        first_data = 0;
        if (!f[0][0]) { fprintf(stderr, "error: %s:%d: the series name is empty\n", path, line_no); return -1; }
        for (k = 0; k < t->n_series && strcmp(t->series[k], f[0]); k++) {}
        if (k == t->n_series) {
            if (k == PLOT_MAX_SERIES) { fprintf(stderr, "error: %s:%d: a seventh series '%s'; at most %d series have distinct colours\n", path, line_no, f[0], PLOT_MAX_SERIES); return -1; }
            memcpy(t->series[k], f[0], sizeof f[0]);
            t->n_series++;
        }
        if (t->n == t->cap) {
            point *np;
            if (t->n == PLOT_MAX_POINTS) { fprintf(stderr, "error: %s: more than %d points\n", path, PLOT_MAX_POINTS); return -1; }
            t->cap = t->cap ? 2 * t->cap : 64;
            if (t->cap > PLOT_MAX_POINTS) t->cap = PLOT_MAX_POINTS;
            if (!(np = (point *)realloc(t->p, (size_t)t->cap * sizeof *np))) { fprintf(stderr, "error: out of memory\n"); return -1; }
            t->p = np;
        }
        t->p[t->n].series = k;
        t->p[t->n].x = x;
        t->p[t->n].y = y;
        memcpy(t->p[t->n].label, nf == 4 ? f[3] : "", nf == 4 ? sizeof f[3] : 1);
        t->n++;
    }
    if (!t->n) { fprintf(stderr, "error: %s: no points\n", path); return -1; }
    return 0;
}

/* The data range of one axis, padded: 5% of the span (linear) or a factor (log). */
static void range(const table *t, int axis, int log_axis, double *lo, double *hi) {
    int i;
    *lo = *hi = axis ? t->p[0].y : t->p[0].x;
    for (i = 1; i < t->n; i++) {
        double v = axis ? t->p[i].y : t->p[i].x;
        if (v < *lo) *lo = v;
        if (v > *hi) *hi = v;
    }
    if (log_axis) {
        double f = *hi > *lo ? pow(*hi / *lo, 0.06) : 2.0;
        *lo /= f;
        *hi *= f;
    } else {
        double pad = *hi > *lo ? 0.06 * (*hi - *lo) : (fabs(*lo) > 0 ? 0.1 * fabs(*lo) : 1.0);
        *lo -= pad;
        *hi += pad;
    }
}

static int cmp_x(const void *a, const void *b) {
    const point *p = (const point *)a, *q = (const point *)b;
    return p->x < q->x ? -1 : p->x > q->x;
}

static void draw(svg *g, table *t, const char *title, const char *xl, const char *yl, int xlog, int ylog, int lines,
                 double W, double H) {
    svg_plot p;
    int i, s;
    double legend_w = 0;
    for (s = 0; s < t->n_series; s++) {
        double w = 34 + 7.2 * (double)strlen(t->series[s]);
        if (w > legend_w) legend_w = w;
    }
    if (legend_w > W * 0.4) legend_w = W * 0.4;
    p.left = 78;
    p.top = title ? 44 : 16;
    p.width = W - p.left - legend_w - 24;
    p.height = H - p.top - 58;
    p.xlog = xlog;
    p.ylog = ylog;
    range(t, 0, xlog, &p.x0, &p.x1);
    range(t, 1, ylog, &p.y0, &p.y1);
    if (title) svg_text(g, W / 2, 26, 16, SVG_MIDDLE, "#000000", title);
    svg_axes(g, &p, xl, yl);
    if (lines) {
        double *xy = (double *)malloc((size_t)t->n * 2 * sizeof *xy);
        point *sorted = (point *)malloc((size_t)t->n * sizeof *sorted);
        if (xy && sorted) {
            memcpy(sorted, t->p, (size_t)t->n * sizeof *sorted);
            qsort(sorted, (size_t)t->n, sizeof *sorted, cmp_x);
            for (s = 0; s < t->n_series; s++) {
                int m = 0;
                for (i = 0; i < t->n; i++)
                    if (sorted[i].series == s) { xy[2 * m] = svg_px(&p, sorted[i].x); xy[2 * m + 1] = svg_py(&p, sorted[i].y); m++; }
                if (m > 1) svg_polyline(g, xy, m, svg_series(s), 2, NULL);
            }
        } else
            g->failed = 1;
        free(xy);
        free(sorted);
    }
    for (i = 0; i < t->n; i++) {
        const point *q = &t->p[i];
        double x = svg_px(&p, q->x), y = svg_py(&p, q->y);
        svg_circle(g, x, y, 4.5, svg_series(q->series), "#ffffff", 1);
        if (q->label[0]) svg_text(g, x + 7, y - 6, 11, SVG_START, "#333333", q->label);
    }
    for (s = 0; s < t->n_series; s++) {
        double x = p.left + p.width + 16, y = p.top + 14 + 22 * s;
        svg_rect(g, x, y - 9, 18, 10, svg_series(s), NULL, 0);
        svg_text(g, x + 24, y, 12, SVG_START, "#000000", t->series[s]);
    }
}

int main(int argc, char **argv) {
    const char *in = NULL, *out_path = NULL, *title = NULL, *xl = NULL, *yl = NULL;
    int xlog = 0, ylog = 0, lines = 0, width = 760, height = 460, i, status = 1, n_ids = 0;
    char *text = NULL, why[4400];
    size_t len;
    table t;
    cli_out out;
    cli_file_id ids[1];
    struct stat st;
    FILE *f;
    svg g;
    memset(&t, 0, sizeof t);
    memset(&out, 0, sizeof out);
    out.fd = -1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!strcmp(a, "--xlog")) { xlog = 1; continue; }
        if (!strcmp(a, "--ylog")) { ylog = 1; continue; }
        if (!strcmp(a, "--lines")) { lines = 1; continue; }
        if (a[0] != '-' || !a[1]) {
            if (in) { fprintf(stderr, "error: unexpected argument '%s' (one input file)\n", a); return 2; }
            in = a;
            continue;
        }
        if (!v) { fprintf(stderr, "error: %s needs a value\n", a); return 2; }
        if (!strcmp(a, "-o")) out_path = v;
        else if (!strcmp(a, "--title")) title = v;
        else if (!strcmp(a, "--xlabel")) xl = v;
        else if (!strcmp(a, "--ylabel")) yl = v;
        else if (!strcmp(a, "--width")) bad = cli_int(v, 320, SVG_MAX_WIDTH, &width);
        else if (!strcmp(a, "--height")) bad = cli_int(v, 240, 1000, &height);
        else { fprintf(stderr, "error: unknown option '%s' (see --help)\n", a); return 2; }
        if (bad) { fprintf(stderr, "error: invalid value '%s' for %s (see --help)\n", v, a); return 2; }
        i++;
    }
    if (!in || !out_path) {
        fprintf(stderr, "error: give an input file and -o OUT.svg\n");
        usage(stderr);
        return 2;
    }
    if (!(text = cli_read_file(in, &len))) return 1; /* it said why */
    if (parse(in, text, len, &t, 0) != 0) goto done;
    for (i = 0; i < t.n; i++)
        if ((xlog && !(t.p[i].x > 0)) || (ylog && !(t.p[i].y > 0))) {
            fprintf(stderr, "error: %s: point %d (%g, %g) is not positive on a logarithmic axis\n", in, i + 1, t.p[i].x, t.p[i].y);
            goto done;
        }
    if (stat(in, &st) == 0) ids[n_ids++] = cli_file_id_of(in, &st);
    if (cli_output_check(out_path, 1, ids, n_ids, NULL, why, sizeof why) != 0 ||
        cli_output_open(&out, out_path, 1, why, sizeof why) != 0) {
        fprintf(stderr, "error: %s\n", why);
        goto done;
    }
    if (!(f = cli_output_stream(&out))) { fprintf(stderr, "error: cannot write %s: %s\n", out_path, strerror(errno)); goto done; }
    svg_begin(&g, f, width, height, title ? title : "plot");
    draw(&g, &t, title, xl, yl, xlog, ylog, lines, width, height);
    {
        int bad = svg_end(&g) != 0;
        if (fclose(f) != 0) bad = 1;
        if (bad) { fprintf(stderr, "error: cannot write %s: %s\n", out_path, strerror(errno)); goto done; }
    }
    if (cli_output_commit(&out, ids, n_ids, why, sizeof why) != 0) { fprintf(stderr, "error: %s\n", why); goto done; }
    status = 0;
done:
    cli_output_abort(&out);
    free(text);
    free(t.p);
    return status;
}
