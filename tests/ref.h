/* ref.h - naive double-precision reference of MODEL.md, reading model files (FORMAT.md) itself.
 *
 * Header-only; every function is static. It trusts the file to be valid (run it on files the
 * library accepted, or on files built by tools/mkmodel.h). Whole sequence at once, layer by
 * layer, no cache: written for obviousness, not speed.
 */
#ifndef REF_H
#define REF_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define REF_FN static __attribute__((unused))
#else
#define REF_FN static
#endif

enum {
    REF_RULE_TOPK = 0,   /* top-k over all n tokens */
    REF_RULE_CAUSAL = 1, /* a_i > tau */
    REF_RULE_PREFILL = 2 /* top-k over the first n_prefill tokens, causal for the rest */
};

/* Optional per-layer outputs of ref_forward_ex; any pointer may be NULL. */
typedef struct ref_trace {
    unsigned char *selected; /* [n_layers * n]: 1 if block l processed token i (dense: all 1) */
    double *router;          /* [n_layers * n]: router score r_i (0 for dense blocks) */
    double *decision;        /* [n_layers * n]: P(u_i) with decision predictor, else r_i (0 dense) */
    double *states;          /* [(n_layers + 1) * n * dim]: residual stream, [0] = embeddings,
                                [l + 1] = after block l */
} ref_trace;

/* ---- file access ---- */

REF_FN uint32_t ref__u32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

REF_FN uint64_t ref__u64(const unsigned char *p)
{
    return (uint64_t)ref__u32(p) | ((uint64_t)ref__u32(p + 4) << 32);
}

REF_FN double ref__f32(const unsigned char *p)
{
    uint32_t u = ref__u32(p);
    float f;
    memcpy(&f, &u, 4);
    return (double)f;
}

REF_FN double ref__f16(const unsigned char *p)
{
    unsigned h = (unsigned)p[0] | ((unsigned)p[1] << 8);
    int e = (int)((h >> 10) & 0x1F);
    unsigned m = h & 0x3FF;
    double v;
    if (e == 0) v = ldexp((double)m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexp((double)(m + 1024), e - 25);
    return (h & 0x8000) ? -v : v;
}

/* x rounded to the nearest f16 (ties to even; past 65504 by half an ulp: infinity), as a
 * double: what an f16 KV cache stores */
REF_FN double ref__round_f16(double x)
{
    double a = fabs(x), q, r;
    int e;
    if (a != a || a == 0.0) return x;
    if (a >= 65520.0) return x < 0 ? -INFINITY : INFINITY;
    frexp(a, &e); /* a = f 2^e, f in [0.5, 1) */
    q = e - 11 < -24 ? ldexp(1.0, -24) : ldexp(1.0, e - 11); /* the f16 ulp at a: 11 significant bits */
    r = floor(a / q);
    if (a / q - r > 0.5 || (a / q - r == 0.5 && fmod(r, 2.0) != 0.0)) r += 1.0;
    return x < 0 ? -r * q : r * q;
}

/* One kv head's row of hd values (x) rounded as a q8_0 KV cache stores them (docs/MODEL.md
 * "KV cache"): blocks of 32 (the last one shorter), each block's scale the f16 nearest to its
 * largest magnitude / 127 (at most 65504), each value round(x / scale), halves away from zero,
 * clamped to [-127, 127], then times the scale. */
REF_FN void ref__round_q8(double *x, int hd)
{
    int b, j;
    for (b = 0; b < hd; b += 32) {
        const int e = b + 32 < hd ? b + 32 : hd;
        double amax = 0.0, s;
        for (j = b; j < e; j++) if (fabs(x[j]) > amax) amax = fabs(x[j]);
        s = ref__round_f16(amax / 127.0);
        if (s > 65504.0) s = 65504.0;
        for (j = b; j < e; j++) {
            double q = s > 0 ? x[j] / s : 0.0;
            q = q < -127.0 ? -127.0 : q > 127.0 ? 127.0 : q;
            q = q < 0 ? -floor(-q + 0.5) : floor(q + 0.5);
            x[j] = q * s;
        }
    }
}

REF_FN double ref__bf16(const unsigned char *p)
{
    uint32_t u = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 24);
    float f;
    memcpy(&f, &u, 4);
    return (double)f;
}

typedef struct {
    int routed;
    double capacity;
    double *attn_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv;
    double *mlp_norm, *wg, *wu, *wd;
    double *bo, *bg, *bu, *bd; /* version 2's o and mlp biases (NULL when absent) */
    double *router, *router_bias;
    double *p_w1, *p_b1, *p_w2, *p_b2;
} ref__layer;

typedef struct {
    int V, d, L, H, Hkv, F, hd, Fp;
    double eps, theta, threshold;
    int tied, router_input, router_scale, combine, positions, decision;
    /* version 2 (defaults for version 1): GeGLU, gains 1 + w, embedding scale, RoPE scaling,
       sliding window */
    int gelu, norm_offset, rope_scaling, rope_orig, window;
    int kv_f16; /* not from the file: keys (after RoPE) and values rounded to f16 (1,
                   ref_forward_kv16) or to q8_0 blocks (2, ref_forward_kvq8) */
    double embed_scale, rope_factor, rope_low, rope_high;
    double *emb, *out_norm, *out;
    ref__layer *layers;
    double **allocs;
    int n_allocs;
    int failed;
} ref__model;

/* Tensor (role, layer) as a new array of doubles, or NULL if absent. */
REF_FN double *ref__tensor(ref__model *m, const unsigned char *f, int role, int layer)
{
    uint64_t dir = ref__u64(f + 40), data = ref__u64(f + 64), i;
    uint32_t n = ref__u32(f + 28), want = layer < 0 ? 0xFFFFFFFFu : (uint32_t)layer;
    for (i = 0; i < n; i++) {
        const unsigned char *e = f + dir + 64 * i;
        uint32_t dtype, nd;
        uint64_t count, j;
        const unsigned char *p;
        double *v;
        if (ref__u32(e) != (uint32_t)role || ref__u32(e + 4) != want) continue;
        dtype = ref__u32(e + 8);
        nd = ref__u32(e + 12);
        count = ref__u64(e + 16);
        if (nd == 2) count *= ref__u64(e + 24);
        p = f + data + ref__u64(e + 48);
        v = (double *)malloc((size_t)(count ? count : 1) * sizeof *v);
        if (!v) { m->failed = 1; return NULL; }
        m->allocs[m->n_allocs++] = v;
        for (j = 0; j < count; j++)
            v[j] = dtype == 0 ? ref__f32(p + 4 * j) : dtype == 1 ? ref__f16(p + 2 * j) : dtype == 2 ? ref__bf16(p + 2 * j)
                 : dtype == 3 ? ref__f16(p + j / 32 * 34) * (double)(signed char)p[j / 32 * 34 + 2 + j % 32] /* q8_0 */
                 : ref__f16(p + j / 32 * 18) * (double)((j % 32 < 16 ? p[j / 32 * 18 + 2 + j % 16] & 15 : p[j / 32 * 18 + 2 + j % 16] >> 4) - 8); /* q4_0 */
        return v;
    }
    return NULL;
}

REF_FN void ref__free(ref__model *m)
{
    int i;
    for (i = 0; i < m->n_allocs; i++) free(m->allocs[i]);
    free(m->allocs);
    free(m->layers);
}

REF_FN int ref__load(ref__model *m, const unsigned char *f, size_t size)
{
    uint64_t lt;
    int l;
    memset(m, 0, sizeof *m);
    if (size < 160 || memcmp(f, "MODH", 4) != 0) return -1;
    if (ref__u32(f + 4) == 2) { /* the header goes on: FORMAT.md's version 2 fields */
        if (size < 256) return -1;
        m->hd = (int)ref__u32(f + 160);
        m->gelu = (int)ref__u32(f + 164);
        m->norm_offset = (int)ref__u32(f + 168);
        m->embed_scale = ref__f32(f + 172);
        m->rope_scaling = (int)ref__u32(f + 176);
        m->rope_factor = ref__f32(f + 180);
        m->rope_low = ref__f32(f + 184);
        m->rope_high = ref__f32(f + 188);
        m->rope_orig = (int)ref__u32(f + 192);
        m->window = (int)ref__u32(f + 196);
    } else {
        m->embed_scale = 1.0;
    }
    m->V = (int)ref__u32(f + 80);
    m->d = (int)ref__u32(f + 84);
    m->L = (int)ref__u32(f + 88);
    m->H = (int)ref__u32(f + 92);
    m->Hkv = (int)ref__u32(f + 96);
    m->F = (int)ref__u32(f + 100);
    m->eps = ref__f32(f + 108);
    m->theta = ref__f32(f + 112);
    m->tied = (int)ref__u32(f + 116);
    m->router_input = (int)ref__u32(f + 120);
    m->router_scale = (int)ref__u32(f + 124);
    m->combine = (int)ref__u32(f + 128);
    m->positions = (int)ref__u32(f + 132);
    m->decision = (int)ref__u32(f + 136);
    m->Fp = (int)ref__u32(f + 140);
    m->threshold = ref__f32(f + 144);
    if (!m->hd) m->hd = m->d / m->H;
    m->layers = (ref__layer *)calloc((size_t)m->L, sizeof *m->layers);
    m->allocs = (double **)calloc(3 + 25 * (size_t)m->L, sizeof *m->allocs);
    if (!m->layers || !m->allocs) { ref__free(m); return -1; }
    m->emb = ref__tensor(m, f, 0, -1);
    m->out_norm = ref__tensor(m, f, 1, -1);
    m->out = m->tied ? m->emb : ref__tensor(m, f, 2, -1);
    lt = ref__u64(f + 32);
    for (l = 0; l < m->L; l++) {
        ref__layer *y = &m->layers[l];
        y->routed = (int)ref__u32(f + lt + 8 * (uint64_t)l);
        y->capacity = ref__f32(f + lt + 8 * (uint64_t)l + 4);
        y->attn_norm = ref__tensor(m, f, 3, l);
        y->wq = ref__tensor(m, f, 4, l);
        y->wk = ref__tensor(m, f, 5, l);
        y->wv = ref__tensor(m, f, 6, l);
        y->wo = ref__tensor(m, f, 7, l);
        y->bq = ref__tensor(m, f, 8, l);
        y->bk = ref__tensor(m, f, 9, l);
        y->bv = ref__tensor(m, f, 10, l);
        y->mlp_norm = ref__tensor(m, f, 11, l);
        y->wg = ref__tensor(m, f, 12, l);
        y->wu = ref__tensor(m, f, 13, l);
        y->wd = ref__tensor(m, f, 14, l);
        y->router = ref__tensor(m, f, 15, l);
        y->router_bias = ref__tensor(m, f, 16, l);
        y->p_w1 = ref__tensor(m, f, 17, l);
        y->p_b1 = ref__tensor(m, f, 18, l);
        y->p_w2 = ref__tensor(m, f, 19, l);
        y->p_b2 = ref__tensor(m, f, 20, l);
        y->bo = ref__tensor(m, f, 21, l);
        y->bg = ref__tensor(m, f, 22, l);
        y->bu = ref__tensor(m, f, 23, l);
        y->bd = ref__tensor(m, f, 24, l);
        if (!y->attn_norm || !y->wq || !y->wk || !y->wv || !y->wo || !y->mlp_norm || !y->wg ||
            !y->wu || !y->wd || (y->routed && !y->router))
            m->failed = 1;
    }
    if (m->failed || !m->emb || !m->out_norm || !m->out) { ref__free(m); return -1; }
    return 0;
}

/* ---- math ---- */

/* gain g[i], or 1 + g[i] with offset (Gemma) */
REF_FN void ref__rmsnorm(double *out, const double *x, const double *g, int d, double eps, int offset)
{
    double ss = 0.0, s;
    int i;
    for (i = 0; i < d; i++) ss += x[i] * x[i];
    s = 1.0 / sqrt(ss / d + eps);
    for (i = 0; i < d; i++) out[i] = x[i] * s * (offset ? 1.0 + g[i] : g[i]);
}

/* out[r] = W[r,:] . x (+ b[r]), W is [rows, cols] row-major. */
REF_FN void ref__matvec(double *out, const double *W, const double *b, const double *x, int rows, int cols)
{
    int r, c;
    for (r = 0; r < rows; r++) {
        double s = 0.0;
        for (c = 0; c < cols; c++) s += W[(size_t)r * cols + c] * x[c];
        out[r] = s + (b ? b[r] : 0.0);
    }
}

REF_FN double ref__silu(double x) { return x / (1.0 + exp(-x)); }

/* GELU, tanh approximation (PyTorch's gelu(approximate="tanh"), HF's gelu_pytorch_tanh) */
REF_FN double ref__gelu_tanh(double x)
{
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
}

/* Frequency i of the rotation: theta^(-2i/hd), scaled as MODEL.md "RoPE scaling" says (Hugging
   Face's _compute_linear_scaling_rope_parameters and _compute_llama3_parameters). */
REF_FN double ref__freq(const ref__model *m, int i)
{
    const double pi = 3.14159265358979323846;
    double f = pow(m->theta, -2.0 * i / m->hd);
    if (m->rope_scaling == 1) return f / m->rope_factor;
    if (m->rope_scaling == 2) {
        double wavelen = 2.0 * pi / f, low_wl = m->rope_orig / m->rope_low, high_wl = m->rope_orig / m->rope_high;
        if (wavelen < high_wl) return f;                 /* high frequencies: unchanged */
        if (wavelen > low_wl) return f / m->rope_factor; /* low frequencies: divided */
        {
            double smooth = (m->rope_orig / wavelen - m->rope_low) / (m->rope_high - m->rope_low);
            return (1.0 - smooth) * f / m->rope_factor + smooth * f;
        }
    }
    return f;
}

REF_FN void ref__rope(const ref__model *m, double *v, int n_heads, int hd, double p)
{
    int h, i, half = hd / 2;
    for (h = 0; h < n_heads; h++) {
        double *x = v + (size_t)h * hd;
        for (i = 0; i < half; i++) {
            double a = p * ref__freq(m, i), c = cos(a), s = sin(a);
            double x0 = x[i], x1 = x[i + half];
            x[i] = x0 * c - x1 * s;
            x[i + half] = x1 * c + x0 * s;
        }
    }
}

/* out = MLP(RMSNorm(h; g_mlp)) */
REF_FN void ref__mlp(const ref__model *m, const ref__layer *y, const double *h, double *out,
                     double *tmp_d, double *tmp_g, double *tmp_u)
{
    int i;
    ref__rmsnorm(tmp_d, h, y->mlp_norm, m->d, m->eps, m->norm_offset);
    ref__matvec(tmp_g, y->wg, y->bg, tmp_d, m->F, m->d);
    ref__matvec(tmp_u, y->wu, y->bu, tmp_d, m->F, m->d);
    for (i = 0; i < m->F; i++) tmp_g[i] = (m->gelu ? ref__gelu_tanh(tmp_g[i]) : ref__silu(tmp_g[i])) * tmp_u[i];
    ref__matvec(out, y->wd, y->bd, tmp_g, m->d, m->F);
}

/* Runs one block on the k tokens xs[0..k) (rows of width d) at RoPE positions pos[0..k) and
 * context positions ctx[0..k), each attending to itself and the rows before it (with a sliding
 * window W, only those whose context position is less than W before its own). Writes h (after
 * attention) and mlp (MLP(RMSNorm(h))) for every row. */
REF_FN int ref__block(const ref__model *m, const ref__layer *y, const double *xs, const double *pos,
                      const int *ctx, int k, double *h, double *mlp)
{
    int d = m->d, hd = m->hd, H = m->H, Hkv = m->Hkv, qd = H * hd, kvd = Hkv * hd;
    int i, j, hh, t;
    double *nrm = (double *)malloc((size_t)d * sizeof(double));
    double *q = (double *)malloc((size_t)k * qd * sizeof(double));
    double *kk = (double *)malloc((size_t)k * kvd * sizeof(double));
    double *vv = (double *)malloc((size_t)k * kvd * sizeof(double));
    double *att = (double *)malloc((size_t)qd * sizeof(double));
    double *w = (double *)malloc((size_t)(k ? k : 1) * sizeof(double));
    double *o = (double *)malloc((size_t)d * sizeof(double));
    double *nrm2 = (double *)malloc((size_t)d * sizeof(double));
    double *tg = (double *)malloc((size_t)m->F * sizeof(double));
    double *tu = (double *)malloc((size_t)m->F * sizeof(double));
    int rc = -1;
    if (!nrm || !q || !kk || !vv || !att || !w || !o || !tg || !tu || !nrm2) goto done;
    for (i = 0; i < k; i++) {
        ref__rmsnorm(nrm, xs + (size_t)i * d, y->attn_norm, d, m->eps, m->norm_offset);
        ref__matvec(q + (size_t)i * qd, y->wq, y->bq, nrm, qd, d);
        ref__matvec(kk + (size_t)i * kvd, y->wk, y->bk, nrm, kvd, d);
        ref__matvec(vv + (size_t)i * kvd, y->wv, y->bv, nrm, kvd, d);
        ref__rope(m, q + (size_t)i * qd, H, hd, pos[i]);
        ref__rope(m, kk + (size_t)i * kvd, Hkv, hd, pos[i]);
        if (m->kv_f16 == 2)
            for (t = 0; t < kvd; t += hd) {
                ref__round_q8(kk + (size_t)i * kvd + t, hd);
                ref__round_q8(vv + (size_t)i * kvd + t, hd);
            }
        else if (m->kv_f16)
            for (t = 0; t < kvd; t++) {
                kk[(size_t)i * kvd + t] = ref__round_f16(kk[(size_t)i * kvd + t]);
                vv[(size_t)i * kvd + t] = ref__round_f16(vv[(size_t)i * kvd + t]);
            }
    }
    for (i = 0; i < k; i++) {
        for (hh = 0; hh < H; hh++) {
            const double *qi = q + (size_t)i * qd + (size_t)hh * hd;
            int kvh = hh / (H / Hkv);
            double mx = -INFINITY, sum = 0.0;
            int first = 0; /* the first row the window lets row i see */
            while (m->window > 0 && ctx[i] - ctx[first] >= m->window) first++;
            for (j = first; j <= i; j++) {
                const double *kj = kk + (size_t)j * kvd + (size_t)kvh * hd;
                double s = 0.0;
                for (t = 0; t < hd; t++) s += qi[t] * kj[t];
                w[j] = s / sqrt((double)hd);
                if (w[j] > mx) mx = w[j];
            }
            for (j = first; j <= i; j++) { w[j] = exp(w[j] - mx); sum += w[j]; }
            for (t = 0; t < hd; t++) {
                double s = 0.0;
                for (j = first; j <= i; j++) s += w[j] * vv[(size_t)j * kvd + (size_t)kvh * hd + t];
                att[(size_t)hh * hd + t] = s / sum;
            }
        }
        ref__matvec(o, y->wo, y->bo, att, d, qd);
        for (t = 0; t < d; t++) h[(size_t)i * d + t] = xs[(size_t)i * d + t] + o[t];
        ref__mlp(m, y, h + (size_t)i * d, mlp + (size_t)i * d, nrm2, tg, tu);
    }
    rc = 0;
done:
    free(nrm); free(nrm2); free(q); free(kk); free(vv); free(att); free(w); free(o); free(tg); free(tu);
    return rc;
}

/* Marks in sel[0..S) the top-k entries of r[0..S) by capacity c (ties: lower index). */
REF_FN void ref__topk(const double *r, int S, double c, unsigned char *sel)
{
    int k, i, chosen;
    if (S <= 0) return;
    k = (int)ceil(c * S - 1e-6);
    if (k < 1) k = 1;
    if (k > S) k = S;
    for (chosen = 0; chosen < k; chosen++) {
        int best = -1;
        for (i = 0; i < S; i++) {
            if (sel[i]) continue;
            if (best < 0 || r[i] > r[best]) best = i;
        }
        sel[best] = 1;
    }
}

/* ---- public API ---- */

/* Like ref_forward, plus: rule REF_RULE_PREFILL (top-k over the first n_prefill tokens,
 * causal afterwards; ignored for other rules) and optional traces. Returns 0, or -1 when the
 * file cannot be read, a token is out of range or memory runs out. */
REF_FN int ref__forward(const unsigned char *file, size_t size, const int *tokens, int n, int rule,
                        int n_prefill, double capacity_override, int threshold_override_set,
                        double threshold_override, double *logits, ref_trace *trace, int kv_f16)
{
    ref__model m;
    int d, i, l, rc = -1;
    double *x = NULL, *xs = NULL, *pos = NULL, *h = NULL, *mlp = NULL, *r = NULL, *a = NULL;
    double *u = NULL, *ph = NULL, *nrm = NULL;
    unsigned char *sel = NULL;
    int *idx = NULL, *cpos = NULL;
    double tau;

    if (n <= 0 || ref__load(&m, file, size) != 0) return -1;
    m.kv_f16 = kv_f16;
    d = m.d;
    tau = threshold_override_set ? threshold_override : m.threshold;
    for (i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m.V) goto done;
    x = (double *)malloc((size_t)n * d * sizeof *x);
    xs = (double *)malloc((size_t)n * d * sizeof *xs);
    h = (double *)malloc((size_t)n * d * sizeof *h);
    mlp = (double *)malloc((size_t)n * d * sizeof *mlp);
    pos = (double *)malloc((size_t)n * sizeof *pos);
    r = (double *)malloc((size_t)n * sizeof *r);
    a = (double *)malloc((size_t)n * sizeof *a);
    u = (double *)malloc((size_t)d * sizeof *u);
    ph = (double *)malloc((size_t)(m.Fp > 0 ? m.Fp : 1) * sizeof *ph);
    nrm = (double *)malloc((size_t)d * sizeof *nrm);
    sel = (unsigned char *)malloc((size_t)n);
    idx = (int *)malloc((size_t)n * sizeof *idx);
    cpos = (int *)malloc((size_t)n * sizeof *cpos);
    if (!x || !xs || !h || !mlp || !pos || !r || !a || !u || !ph || !nrm || !sel || !idx || !cpos) goto done;

    for (i = 0; i < n; i++) {
        int t;
        for (t = 0; t < d; t++) x[(size_t)i * d + t] = m.emb[(size_t)tokens[i] * d + t] * m.embed_scale;
    }
    if (trace && trace->states) memcpy(trace->states, x, (size_t)n * d * sizeof *x);

    for (l = 0; l < m.L; l++) {
        const ref__layer *y = &m.layers[l];
        int k = 0, j;
        if (!y->routed) {
            for (i = 0; i < n; i++) { sel[i] = 1; r[i] = a[i] = 0.0; }
        } else {
            double c = capacity_override > 0 ? capacity_override : y->capacity;
            for (i = 0; i < n; i++) {
                const double *xi = x + (size_t)i * d;
                if (m.router_input == 1) { ref__rmsnorm(u, xi, y->attn_norm, d, m.eps, m.norm_offset); xi = u; }
                r[i] = 0.0;
                for (j = 0; j < d; j++) r[i] += y->router[j] * xi[j];
                if (y->router_bias) r[i] += y->router_bias[0];
                a[i] = r[i];
                if (m.decision == 1 && y->p_w1) {
                    if (m.Fp > 0) {
                        ref__matvec(ph, y->p_w1, y->p_b1, xi, m.Fp, d);
                        a[i] = y->p_b2[0];
                        for (j = 0; j < m.Fp; j++) a[i] += y->p_w2[j] * ref__silu(ph[j]);
                    } else {
                        ref__matvec(ph, y->p_w1, y->p_b1, xi, 1, d);
                        a[i] = ph[0];
                    }
                }
                sel[i] = 0;
            }
            if (rule == REF_RULE_TOPK) {
                ref__topk(r, n, c, sel);
            } else {
                int np = rule == REF_RULE_PREFILL ? (n_prefill < 0 ? 0 : n_prefill > n ? n : n_prefill) : 0;
                ref__topk(r, np, c, sel);
                for (i = np; i < n; i++) sel[i] = a[i] > tau;
            }
        }
        for (i = 0; i < n; i++) {
            if (!sel[i]) continue;
            idx[k] = i;
            cpos[k] = i;
            memcpy(xs + (size_t)k * d, x + (size_t)i * d, (size_t)d * sizeof *x);
            pos[k] = (y->routed && m.positions == 1) ? (double)k : (double)i;
            k++;
        }
        if (k > 0 && ref__block(&m, y, xs, pos, cpos, k, h, mlp) != 0) goto done;
        for (j = 0; j < k; j++) {
            double *xi = x + (size_t)idx[j] * d, *hj = h + (size_t)j * d, *mj = mlp + (size_t)j * d;
            int t;
            if (!y->routed) {
                for (t = 0; t < d; t++) xi[t] = hj[t] + mj[t];
            } else {
                double rr = r[idx[j]], g = m.router_scale == 1 ? 1.0 / (1.0 + exp(-rr)) : rr;
                if (m.combine == 0) {
                    for (t = 0; t < d; t++) {
                        double yv = hj[t] + mj[t];
                        xi[t] = xi[t] + g * (yv - xi[t]);
                    }
                } else {
                    for (t = 0; t < d; t++) xi[t] = hj[t] + g * mj[t];
                }
            }
        }
        if (trace) {
            if (trace->selected) memcpy(trace->selected + (size_t)l * n, sel, (size_t)n);
            if (trace->router) memcpy(trace->router + (size_t)l * n, r, (size_t)n * sizeof *r);
            if (trace->decision) memcpy(trace->decision + (size_t)l * n, a, (size_t)n * sizeof *a);
            if (trace->states)
                memcpy(trace->states + (size_t)(l + 1) * n * d, x, (size_t)n * d * sizeof *x);
        }
    }

    for (i = 0; logits && i < n; i++) {
        ref__rmsnorm(nrm, x + (size_t)i * d, m.out_norm, d, m.eps, m.norm_offset);
        ref__matvec(logits + (size_t)i * m.V, m.out, NULL, nrm, m.V, d);
    }
    rc = 0;
done:
    free(x); free(xs); free(h); free(mlp); free(pos); free(r); free(a);
    free(u); free(ph); free(nrm); free(sel); free(idx); free(cpos);
    ref__free(&m);
    return rc;
}

REF_FN int ref_forward_ex(const unsigned char *file, size_t size, const int *tokens, int n, int rule,
                          int n_prefill, double capacity_override, int threshold_override_set,
                          double threshold_override, double *logits, ref_trace *trace)
{
    return ref__forward(file, size, tokens, n, rule, n_prefill, capacity_override, threshold_override_set,
                        threshold_override, logits, trace, 0);
}

/* Like ref_forward without overrides, with every key (after RoPE) and value rounded to the
 * nearest f16 before attention reads it, as a session with an f16 KV cache stores them. */
REF_FN int ref_forward_kv16(const unsigned char *file, size_t size, const int *tokens, int n, int rule, double *logits)
{
    return ref__forward(file, size, tokens, n, rule, 0, 0, 0, 0, logits, NULL, 1);
}

/* Likewise with every key (after RoPE) and value rounded as a q8_0 KV cache stores them
 * (ref__round_q8, per kv head). */
REF_FN int ref_forward_kvq8(const unsigned char *file, size_t size, const int *tokens, int n, int rule, double *logits)
{
    return ref__forward(file, size, tokens, n, rule, 0, 0, 0, 0, logits, NULL, 2);
}

/* Logits [n * vocab_size] (row-major; NULL to skip) of tokens[0..n) under rule REF_RULE_TOPK (0)
 * or REF_RULE_CAUSAL (1).
 * capacity_override <= 0 keeps the file's per-layer capacity; threshold_override replaces the
 * file's threshold when threshold_override_set is non-zero. Returns 0 on success. */
REF_FN int ref_forward(const unsigned char *file, size_t size, const int *tokens, int n, int rule,
                       double capacity_override, int threshold_override_set, double threshold_override,
                       double *logits)
{
    return ref_forward_ex(file, size, tokens, n, rule, 0, capacity_override, threshold_override_set,
                          threshold_override, logits, NULL);
}

/* Same as ref_forward but also reports, in selected[n_layers * n], which tokens every block
 * processed (1) or passed by (0); dense blocks report all 1. */
REF_FN int ref_selection(const unsigned char *file, size_t size, const int *tokens, int n, int rule,
                         double capacity_override, int threshold_override_set, double threshold_override,
                         double *logits, unsigned char *selected)
{
    ref_trace tr;
    memset(&tr, 0, sizeof tr);
    tr.selected = selected;
    return ref_forward_ex(file, size, tokens, n, rule, 0, capacity_override, threshold_override_set,
                          threshold_override, logits, &tr);
}

/* vocab_size and n_layers of a model file, for sizing the output arrays. */
REF_FN int ref_vocab_size(const unsigned char *file) { return (int)ref__u32(file + 80); }
REF_FN int ref_n_layers(const unsigned char *file) { return (int)ref__u32(file + 88); }
REF_FN int ref_dim(const unsigned char *file) { return (int)ref__u32(file + 84); }

#endif /* REF_H */
