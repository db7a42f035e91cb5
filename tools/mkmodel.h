/* mkmodel.h - in-memory writer of random-weight model files (docs/FORMAT.md, version 2).
 *
 * Header-only; every function is static. The file itself (layout, records, encoders,
 * checksum) is written by tools/modfile.h; this adds the options, the random values and a
 * trained tokenizer. Typical use:
 *
 *     mkm_opts o; unsigned char *buf; size_t size;
 *     mkm_defaults(&o);
 *     o.seed = 7;
 *     if (mkm_build(&o, &buf, &size) != 0) ... mkm_check(&o) says why ...
 *     ... use buf[0 .. size) ...
 *     free(buf);
 *
 * Every tensor draws its values from its own PRNG stream, seeded from (seed, role, layer), so
 * two builds that differ only in which blocks are routed, capacities, dtype, q/k/v or router
 * biases, the routing knobs or the tokenizer share the values of every tensor they have in
 * common (up to dtype rounding; a different vocab size adds or drops trailing embedding and
 * output rows). The exceptions: router_const changes the router and predictor tensors, tied
 * changes the output norm gains, init_scale and the other sizes change everything. norm_offset
 * stores every norm gain less 1, so that the gains in effect (1 + w) are those of the same
 * model without it, up to rounding; the architecture options (head_dim aside) keep every value.
 */
#ifndef MKMODEL_H
#define MKMODEL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modfile.h" /* the file format: the writer, and mod.h's tables */

#if defined(__GNUC__) || defined(__clang__)
#define MKM_FN static __attribute__((unused))
#else
#define MKM_FN static
#endif

#define MKM_MAX_LAYERS 64
#define MKM_MAX_MERGES 20000

/* The format's sizes, offsets, roles and dtypes under the names the tests use: each is the
   name of mod.h's tables (or of the API) it stands for. */
#define MKM_MODEL_WIDE MOD__MODEL_WIDE
#define MKM_HEADER_SIZE MOD__HEADER_BYTES
#define MKM_LAYER_ENTRY_SIZE MOD__LAYER_ENTRY_BYTES
#define MKM_DIR_ENTRY_SIZE MOD__TENSOR_ENTRY_BYTES
#define MKM_TOK_HEADER_SIZE MOD__TOKENIZER_HEADER_BYTES
/* header fields */
#define MKM_OFF_MAGIC MOD__HEADER_AT_magic
#define MKM_OFF_VERSION MOD__HEADER_AT_version
#define MKM_OFF_CHECKSUM MOD__HEADER_AT_checksum
#define MKM_OFF_FILE_SIZE MOD__HEADER_AT_file_size
#define MKM_OFF_HEADER_SIZE MOD__HEADER_AT_header_size
#define MKM_OFF_N_TENSORS MOD__HEADER_AT_n_tensors
#define MKM_OFF_LAYER_TABLE MOD__HEADER_AT_layer_table_offset
#define MKM_OFF_TENSOR_DIR MOD__HEADER_AT_tensor_dir_offset
#define MKM_OFF_TOKENIZER MOD__HEADER_AT_tokenizer_offset
#define MKM_OFF_TOKENIZER_SIZE MOD__HEADER_AT_tokenizer_size
#define MKM_OFF_DATA MOD__HEADER_AT_data_offset
#define MKM_OFF_DATA_SIZE MOD__HEADER_AT_data_size
#define MKM_OFF_VOCAB MOD__HEADER_AT_vocab_size
#define MKM_OFF_DIM MOD__HEADER_AT_dim
#define MKM_OFF_N_LAYERS MOD__HEADER_AT_n_layers
#define MKM_OFF_N_HEADS MOD__HEADER_AT_n_heads
#define MKM_OFF_N_KV_HEADS MOD__HEADER_AT_n_kv_heads
#define MKM_OFF_HIDDEN MOD__HEADER_AT_hidden_dim
#define MKM_OFF_MAX_SEQ MOD__HEADER_AT_max_seq_len
#define MKM_OFF_NORM_EPS MOD__HEADER_AT_norm_eps
#define MKM_OFF_ROPE_THETA MOD__HEADER_AT_rope_theta
#define MKM_OFF_TIED MOD__HEADER_AT_tied_embeddings
#define MKM_OFF_ROUTER_INPUT MOD__HEADER_AT_router_input
#define MKM_OFF_ROUTER_SCALE MOD__HEADER_AT_router_scale
#define MKM_OFF_COMBINE MOD__HEADER_AT_combine
#define MKM_OFF_POSITIONS MOD__HEADER_AT_positions
#define MKM_OFF_DECISION MOD__HEADER_AT_decision
#define MKM_OFF_PREDICTOR_HIDDEN MOD__HEADER_AT_predictor_hidden
#define MKM_OFF_THRESHOLD MOD__HEADER_AT_threshold
#define MKM_OFF_RESERVED MOD__HEADER_AT_reserved
#define MKM_OFF_HEAD_DIM MOD__HEADER_AT_head_dim
#define MKM_OFF_ACTIVATION MOD__HEADER_AT_activation
#define MKM_OFF_NORM_OFFSET MOD__HEADER_AT_norm_offset
#define MKM_OFF_EMBED_SCALE MOD__HEADER_AT_embed_scale
#define MKM_OFF_ROPE_SCALING MOD__HEADER_AT_rope_scaling
#define MKM_OFF_ROPE_FACTOR MOD__HEADER_AT_rope_factor
#define MKM_OFF_ROPE_LOW MOD__HEADER_AT_rope_low_freq_factor
#define MKM_OFF_ROPE_HIGH MOD__HEADER_AT_rope_high_freq_factor
#define MKM_OFF_ROPE_ORIG MOD__HEADER_AT_rope_original_max_pos
#define MKM_OFF_SLIDING_WINDOW MOD__HEADER_AT_sliding_window
#define MKM_OFF_RESERVED2 MOD__HEADER_AT_reserved2
/* layer table entry fields */
#define MKM_LT_ROUTED MOD__LAYER_ENTRY_AT_routed
#define MKM_LT_CAPACITY MOD__LAYER_ENTRY_AT_capacity
/* tensor directory entry fields */
#define MKM_TD_ROLE MOD__TENSOR_ENTRY_AT_role
#define MKM_TD_LAYER MOD__TENSOR_ENTRY_AT_layer
#define MKM_TD_DTYPE MOD__TENSOR_ENTRY_AT_dtype
#define MKM_TD_N_DIMS MOD__TENSOR_ENTRY_AT_n_dims
#define MKM_TD_DIMS MOD__TENSOR_ENTRY_AT_dims
#define MKM_TD_OFFSET MOD__TENSOR_ENTRY_AT_offset
#define MKM_TD_SIZE MOD__TENSOR_ENTRY_AT_size
/* tokenizer header fields */
#define MKM_TK_KIND MOD__TOKENIZER_HEADER_AT_kind
#define MKM_TK_N_TOKENS MOD__TOKENIZER_HEADER_AT_n_tokens
#define MKM_TK_N_MERGES MOD__TOKENIZER_HEADER_AT_n_merges
#define MKM_TK_BOS MOD__TOKENIZER_HEADER_AT_bos_id
#define MKM_TK_EOS MOD__TOKENIZER_HEADER_AT_eos_id
#define MKM_TK_PRETOKENIZER MOD__TOKENIZER_HEADER_AT_pretokenizer
#define MKM_TK_FLAGS MOD__TOKENIZER_HEADER_AT_flags
#define MKM_TK_N_SORTED MOD__TOKENIZER_HEADER_AT_n_sorted
#define MKM_TK_STRINGS_SIZE MOD__TOKENIZER_HEADER_AT_strings_size
#define MKM_TK_MAX_TOKEN_LEN MOD__TOKENIZER_HEADER_AT_max_token_len
#define MKM_TK_RESERVED MOD__TOKENIZER_HEADER_AT_n_added /* kind 1's n_added, 0 for the others */
/* tensor roles */
#define MKM_ROLE_TOKEN_EMBEDDING MOD__ROLE_EMBED
#define MKM_ROLE_OUTPUT_NORM MOD__ROLE_OUT_NORM
#define MKM_ROLE_OUTPUT MOD__ROLE_OUTPUT
#define MKM_ROLE_ATTN_NORM MOD__ROLE_ATTN_NORM
#define MKM_ROLE_ATTN_Q MOD__ROLE_Q
#define MKM_ROLE_ATTN_K MOD__ROLE_K
#define MKM_ROLE_ATTN_V MOD__ROLE_V
#define MKM_ROLE_ATTN_O MOD__ROLE_O
#define MKM_ROLE_ATTN_Q_BIAS MOD__ROLE_Q_BIAS
#define MKM_ROLE_ATTN_K_BIAS MOD__ROLE_K_BIAS
#define MKM_ROLE_ATTN_V_BIAS MOD__ROLE_V_BIAS
#define MKM_ROLE_MLP_NORM MOD__ROLE_MLP_NORM
#define MKM_ROLE_MLP_GATE MOD__ROLE_GATE
#define MKM_ROLE_MLP_UP MOD__ROLE_UP
#define MKM_ROLE_MLP_DOWN MOD__ROLE_DOWN
#define MKM_ROLE_ROUTER MOD__ROLE_ROUTER
#define MKM_ROLE_ROUTER_BIAS MOD__ROLE_ROUTER_BIAS
#define MKM_ROLE_PREDICTOR_W1 MOD__ROLE_PRED_W1
#define MKM_ROLE_PREDICTOR_B1 MOD__ROLE_PRED_B1
#define MKM_ROLE_PREDICTOR_W2 MOD__ROLE_PRED_W2
#define MKM_ROLE_PREDICTOR_B2 MOD__ROLE_PRED_B2
#define MKM_ROLE_ATTN_O_BIAS MOD__ROLE_O_BIAS
#define MKM_ROLE_MLP_GATE_BIAS MOD__ROLE_GATE_BIAS
#define MKM_ROLE_MLP_UP_BIAS MOD__ROLE_UP_BIAS
#define MKM_ROLE_MLP_DOWN_BIAS MOD__ROLE_DOWN_BIAS
#define MKM_N_ROLES MOD__ROLE_COUNT
/* dtypes */
#define MKM_DTYPE_F32 MOD_DTYPE_F32
#define MKM_DTYPE_F16 MOD_DTYPE_F16
#define MKM_DTYPE_BF16 MOD_DTYPE_BF16
#define MKM_DTYPE_Q8_0 MOD_DTYPE_Q8_0
#define MKM_DTYPE_Q4_0 MOD_DTYPE_Q4_0
/* fields, number formats, the checksum (tools/modfile.h) */
#define mkm_put_u32 mf_put_u32
#define mkm_put_u64 mf_put_u64
#define mkm_put_f32 mf_put_f32
#define mkm_get_u32 mf_get_u32
#define mkm_get_u64 mf_get_u64
#define mkm_get_f32 mf_get_f32
#define mkm_f32_to_f16 mf_f32_to_f16
#define mkm_f32_to_bf16 mf_f32_to_bf16
#define mkm_f16_to_double mf_f16_value
#define mkm_q4_block mf_q4_block
#define mkm_fnv1a mf_file_checksum /* FNV-1a 64 of bytes [16, size) */
#define mkm_checksum mf_set_checksum /* ... stored in the header, and returned */

enum { MKM_TOKENIZER_NONE = 0, MKM_TOKENIZER_BPE = 1, MKM_TOKENIZER_SCORED = 2, MKM_TOKENIZER_SP = 3 };

typedef struct mkm_opts {
    int vocab_size;  /* V; 0 = automatic: n_tokens of the tokenizer, or 300 without one */
    int dim;         /* d */
    int n_layers;    /* L, 1..MKM_MAX_LAYERS */
    int n_heads;     /* H; dim / n_heads must be even */
    int n_kv_heads;  /* Hkv; n_heads % n_kv_heads == 0 */
    int hidden_dim;  /* F */
    int max_seq_len;
    float norm_eps;
    float rope_theta;
    int tied;        /* 1: no output tensor, the embedding is the output projection */
    int qkv_bias;    /* 1: every block has q/k/v biases */
    int routed[MKM_MAX_LAYERS];     /* per layer: 1 routed (MoD) block, 0 dense */
    float capacity[MKM_MAX_LAYERS]; /* per layer, used for routed blocks only, in (0, 1] */
    int router_input;     /* 0 residual, 1 normed */
    int router_scale;     /* 0 identity, 1 sigmoid */
    int combine;          /* 0 delta, 1 mlp */
    int positions;        /* 0 absolute, 1 compacted */
    int decision;         /* 0 router, 1 predictor */
    int predictor_hidden; /* Fp; 0 = linear predictor */
    float threshold;      /* tau of the causal rule */
    int router_bias;      /* 1: routed blocks get a router bias */
    /* 1: every router weight is 0 and every routed block has a router bias equal to
     * router_const_bias, so r_i = router_const_bias for all tokens. The predictor (decision
     * predictor) is made constant too: P(u) = router_const_bias. */
    int router_const;
    float router_const_bias;
    int dtype;            /* 0 f32, 1 f16, 2 bf16, 3 q8_0, 4 q4_0: matrices only; 1-D tensors are
                             always f32; q8_0 and q4_0 need column counts that are multiples of 32 */
    uint64_t seed;
    /* Standard deviation of the embedding, attention, MLP and output matrices; <= 0 picks one
     * per matrix (1/sqrt(fan_in), embedding 0.5). Router and predictor weights are always
     * scaled so that their scores are of order 1 with mixed signs. */
    float init_scale;
    int tokenizer;        /* 0 none, 1 byte-level BPE, 2 scored BPE */
    int n_merges;         /* kind 1: merge rules; kind 2: multi-character tokens */
    int bpe_added;        /* kind 1: 1 adds "<think>" (an ordinary added token) and "<|end|>" (special)
                             after <|bos|> <|eos|>, and an added-token table of all four;
                             kind 2: 1 adds a table of "#" (ordinary, the normal token "#", as a
                             GGUF's user-defined tokens are) and <unk> <s> </s> (special) */
    int bpe_nfc;          /* kind 1: 1 sets flag bit 2, NFC before splitting */
    /* the architecture variants (MODEL.md "Variants"; all 0: Llama) */
    int head_dim;         /* 0: dim / n_heads; else any even size (n_heads x head_dim need not be dim) */
    int activation;       /* 0 silu (SwiGLU), 1 gelu_tanh (GeGLU) */
    int norm_offset;      /* 1: gains are 1 + w (Gemma) */
    float embed_scale;    /* embedding scale; 0 or 1: none */
    int rope_scaling;     /* 0 none, 1 linear, 2 llama3 */
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor; /* linear: factor; llama3: all */
    int rope_original_max_pos; /* llama3 */
    int sliding_window;   /* 0: none */
    int o_bias;           /* 1: every block has an attn_o bias */
    int mlp_bias;         /* 1: every block has mlp gate, up and down biases */
} mkm_opts;

/* ---- reading a built file (for the tests) ---- */

/* Byte offset of the directory entry of tensor (role, layer), or 0 when there is none.
 * layer is a block index, or -1 (or MKM_MODEL_WIDE) for a model-wide tensor. */
MKM_FN size_t mkm_tensor_entry(const unsigned char *buf, size_t size, int role, int layer)
{
    uint32_t want_layer = layer < 0 ? MKM_MODEL_WIDE : (uint32_t)layer;
    uint64_t dir, n, i;
    if (size < MKM_HEADER_SIZE) return 0;
    dir = mkm_get_u64(buf + MKM_OFF_TENSOR_DIR);
    n = mkm_get_u32(buf + MKM_OFF_N_TENSORS);
    for (i = 0; i < n; i++) {
        uint64_t e = dir + i * MKM_DIR_ENTRY_SIZE;
        if (e + MKM_DIR_ENTRY_SIZE > size) return 0;
        if (mkm_get_u32(buf + e + MKM_TD_ROLE) == (uint32_t)role &&
            mkm_get_u32(buf + e + MKM_TD_LAYER) == want_layer)
            return (size_t)e;
    }
    return 0;
}

/* Absolute byte offset of the data of tensor (role, layer), or 0 when there is none. */
MKM_FN size_t mkm_tensor_data(const unsigned char *buf, size_t size, int role, int layer)
{
    size_t e = mkm_tensor_entry(buf, size, role, layer);
    if (!e) return 0;
    return (size_t)(mkm_get_u64(buf + MKM_OFF_DATA) + mkm_get_u64(buf + e + MKM_TD_OFFSET));
}

/* Byte offset of layer `layer`'s entry in the layer table. */
MKM_FN size_t mkm_layer_entry(const unsigned char *buf, int layer)
{
    return (size_t)(mkm_get_u64(buf + MKM_OFF_LAYER_TABLE) + (uint64_t)layer * MKM_LAYER_ENTRY_SIZE);
}

/* ---- options ---- */

MKM_FN void mkm_defaults(mkm_opts *o)
{
    int i;
    memset(o, 0, sizeof *o);
    o->vocab_size = 0;
    o->dim = 32;
    o->n_layers = 4;
    o->n_heads = 4;
    o->n_kv_heads = 2;
    o->hidden_dim = 64;
    o->max_seq_len = 64;
    o->norm_eps = 1e-5f;
    o->rope_theta = 10000.0f;
    o->tied = 0;
    o->qkv_bias = 0;
    for (i = 0; i < MKM_MAX_LAYERS; i++) {
        o->routed[i] = (i == 1 || i == 3);
        o->capacity[i] = 0.5f;
    }
    o->router_input = 0;
    o->router_scale = 0;
    o->combine = 0;
    o->positions = 0;
    o->decision = 0;
    o->predictor_hidden = 16;
    o->threshold = 0.0f;
    o->router_bias = 1;
    o->router_const = 0;
    o->router_const_bias = 1.0f;
    o->dtype = MKM_DTYPE_F32;
    o->seed = 1;
    o->init_scale = 0.0f;
    o->tokenizer = MKM_TOKENIZER_NONE;
    o->n_merges = 64;
}

/* Number of tokens the tokenizer section describes (0 without a tokenizer). */
MKM_FN int mkm_n_tokens(const mkm_opts *o)
{
    if (o->tokenizer == MKM_TOKENIZER_BPE) return 256 + o->n_merges + 2 + (o->bpe_added ? 2 : 0);
    /* <unk> <s> </s>, 256 byte tokens, 95 printable ASCII, 2 multi-byte UTF-8 characters */
    if (o->tokenizer == MKM_TOKENIZER_SCORED || o->tokenizer == MKM_TOKENIZER_SP) return 3 + 256 + 95 + 2 + o->n_merges;
    return 0;
}

/* The vocab_size the file will have. */
MKM_FN int mkm_vocab_size(const mkm_opts *o)
{
    if (o->vocab_size > 0) return o->vocab_size;
    return o->tokenizer ? mkm_n_tokens(o) : 300;
}

/* The head size the file will have. */
MKM_FN int mkm_head_dim(const mkm_opts *o)
{
    return o->head_dim ? o->head_dim : o->n_heads > 0 ? o->dim / o->n_heads : 0;
}

/* NULL when the options are buildable, else a message saying what is wrong. */
MKM_FN const char *mkm_check(const mkm_opts *o)
{
    int i;
    if (o->dim <= 0 || o->n_heads <= 0 || o->n_kv_heads <= 0 || o->hidden_dim <= 0 ||
        o->max_seq_len <= 0)
        return "dim, heads, kv heads, hidden dim and max_seq_len must be > 0";
    if (o->n_layers <= 0 || o->n_layers > MKM_MAX_LAYERS) return "n_layers must be in 1..64";
    if (o->head_dim < 0 || o->head_dim % 2) return "head_dim must be 0 (dim / n_heads) or even";
    if (!o->head_dim && o->dim % o->n_heads != 0) return "dim must be a multiple of n_heads";
    if (!o->head_dim && (o->dim / o->n_heads) % 2 != 0) return "head dim (dim / n_heads) must be even";
    if (o->n_heads % o->n_kv_heads != 0) return "n_heads must be a multiple of n_kv_heads";
    if (o->vocab_size < 0) return "vocab_size must be >= 0 (0 = automatic)";
    if (!(o->norm_eps > 0.0f) || !(o->rope_theta > 0.0f)) return "norm_eps and rope_theta must be > 0";
    if (o->tied != 0 && o->tied != 1) return "tied must be 0 or 1";
    if (o->qkv_bias != 0 && o->qkv_bias != 1) return "qkv_bias must be 0 or 1";
    if (o->router_bias != 0 && o->router_bias != 1) return "router_bias must be 0 or 1";
    if (o->router_input < 0 || o->router_input > 1) return "router_input must be 0 (residual) or 1 (normed)";
    if (o->router_scale < 0 || o->router_scale > 1) return "router_scale must be 0 (identity) or 1 (sigmoid)";
    if (o->combine < 0 || o->combine > 1) return "combine must be 0 (delta) or 1 (mlp)";
    if (o->positions < 0 || o->positions > 1) return "positions must be 0 (absolute) or 1 (compacted)";
    if (o->decision < 0 || o->decision > 1) return "decision must be 0 (router) or 1 (predictor)";
    if (o->predictor_hidden < 0) return "predictor_hidden must be >= 0";
    if (o->threshold != o->threshold) return "threshold must be a number";
    if (o->dtype < 0 || o->dtype > 4) return "dtype must be 0 (f32), 1 (f16), 2 (bf16), 3 (q8_0) or 4 (q4_0)";
    if (o->dtype == MKM_DTYPE_Q8_0 && (o->dim % 32 || o->hidden_dim % 32 || o->n_heads * mkm_head_dim(o) % 32))
        return "q8_0 needs dim, hidden_dim and n_heads x head_dim to be multiples of 32";
    if (o->dtype == MKM_DTYPE_Q4_0 && (o->dim % 32 || o->hidden_dim % 32 || o->n_heads * mkm_head_dim(o) % 32))
        return "q4_0 needs dim, hidden_dim and n_heads x head_dim to be multiples of 32";
    if (o->activation < 0 || o->activation > 1) return "activation must be 0 (silu) or 1 (gelu_tanh)";
    if (o->norm_offset != 0 && o->norm_offset != 1) return "norm_offset must be 0 or 1";
    if (!(o->embed_scale >= 0.0f && o->embed_scale < 1e30f)) return "embed_scale must be 0 (none) or positive";
    if (o->rope_scaling < 0 || o->rope_scaling > 2) return "rope_scaling must be 0 (none), 1 (linear) or 2 (llama3)";
    if (o->rope_scaling && !(o->rope_factor > 0.0f)) return "rope_factor must be > 0 with rope scaling";
    if (o->rope_scaling == 2 && !(o->rope_low_freq_factor > 0.0f && o->rope_high_freq_factor > o->rope_low_freq_factor &&
                                  o->rope_original_max_pos > 0))
        return "llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor and original_max_pos > 0";
    if (o->sliding_window < 0) return "sliding_window must be >= 0 (0: none)";
    if (o->o_bias != 0 && o->o_bias != 1) return "o_bias must be 0 or 1";
    if (o->mlp_bias != 0 && o->mlp_bias != 1) return "mlp_bias must be 0 or 1";
    if (o->tokenizer < 0 || o->tokenizer > 3) return "tokenizer must be 0 (none), 1 (bpe), 2 (scored) or 3 (sp)";
    if (o->n_merges < 0 || o->n_merges > MKM_MAX_MERGES) return "n_merges must be in 0..20000";
    for (i = 0; i < o->n_layers; i++) {
        if (o->routed[i] != 0 && o->routed[i] != 1) return "routed[] entries must be 0 or 1";
        if (o->routed[i]) {
            if (!(o->capacity[i] > 0.0f && o->capacity[i] <= 1.0f))
                return "capacity of a routed layer must be in (0, 1]";
        }
    }
    if (o->tokenizer && o->vocab_size > 0 && o->vocab_size < mkm_n_tokens(o))
        return "vocab_size is smaller than the tokenizer's token count";
    return NULL;
}

/* ---- random numbers ---- */

MKM_FN uint64_t mkm__mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

typedef struct { uint64_t s; } mkm__rng;

MKM_FN uint64_t mkm__next(mkm__rng *r)
{
    r->s += UINT64_C(0x9E3779B97F4A7C15);
    return mkm__mix(r->s);
}

MKM_FN double mkm__uniform(mkm__rng *r)
{
    return (double)(mkm__next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Unit-variance, roughly normal (sum of four uniforms); no libm, so identical everywhere. */
MKM_FN double mkm__normal(mkm__rng *r)
{
    double s = mkm__uniform(r) + mkm__uniform(r) + mkm__uniform(r) + mkm__uniform(r);
    return (s - 2.0) * 1.7320508075688772;
}

MKM_FN mkm__rng mkm__stream(uint64_t seed, uint64_t kind, uint64_t layer)
{
    mkm__rng r;
    r.s = mkm__mix(seed ^ mkm__mix((kind << 32) ^ (layer + 0x5151))) ^ UINT64_C(0x243F6A8885A308D3);
    return r;
}

/* ---- growable byte buffer ---- */

typedef struct { unsigned char *p; size_t n, cap; int err; } mkm__buf;

MKM_FN void mkm__append(mkm__buf *b, const void *src, size_t n)
{
    if (b->err) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        unsigned char *q;
        while (cap < b->n + n) cap *= 2;
        q = (unsigned char *)realloc(b->p, cap);
        if (!q) { b->err = 1; return; }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

/* ---- tokenizer construction ---- */

static const char mkm__sample_text[] =
    "The quick brown fox jumps over the lazy dog. It's a sunny day, and the children are "
    "playing in the park while their parents talk about the weather. We'll meet again at "
    "the station at 10:30, then we're going to the market to buy 12 apples, 3 loaves of "
    "bread and some cheese. She said that she'd rather stay at home and read a book about "
    "the history of the city. In the beginning there was nothing but the sea and the sky; "
    "then the land rose from the water, and the first people built their houses on the "
    "hills. They've been living there for 2000 years, and they're still telling the same "
    "stories to their children every evening.\n"
    "def main():\n    return 0\n"
    "A small cafe\xC3\xA9 in the old town sells coffee for 3 \xE2\x82\xAC and the owner is "
    "na\xC3\xAFve about the prices. The weather is nice, the water is warm, and the "
    "people of the town are kind to the visitors who come there in the summer. I'm sure "
    "you'll like it: there is music in the evening, there are boats on the river, and the "
    "food is good. Is it true? Yes, it is true! The end.\n";

typedef struct {
    mkm__buf strings;
    uint32_t *off;   /* n + 1 */
    float *score;
    unsigned char *type;
    uint32_t (*merge)[4];
    int n, cap, n_merges;
    int *hash;       /* open addressing over normal tokens, -1 = empty */
    int hash_cap;
    int err;
} mkm__tok;


/* The token strings followed by the added tokens' texts (given in the order of their bytes),
   and the added-token table over them: ids[k] has texts[k]; the first `ordinary` are not
   special. The caller frees the strings; NULL when out of memory. */
static unsigned char *mkm__added_table(const mkm__tok *t, const char *const *texts, const uint32_t *ids, int ordinary, int n,
                                       mod__added_token *added, uint64_t *strings_size)
{
    size_t at = t->strings.n, total = at;
    unsigned char *strings;
    int k;
    for (k = 0; k < n; k++) total += strlen(texts[k]);
    if (!(strings = (unsigned char *)malloc(total))) return NULL;
    memcpy(strings, t->strings.p, at);
    for (k = 0; k < n; k++) {
        const size_t len = strlen(texts[k]);
        added[k].id = ids[k];
        added[k].flags = k < ordinary ? 0 : MOD__ADDED_SPECIAL;
        added[k].offset = (uint32_t)at;
        added[k].length = (uint32_t)len;
        memcpy(strings + at, texts[k], len);
        at += len;
    }
    *strings_size = (uint64_t)at;
    return strings;
}

MKM_FN uint32_t mkm__hash_bytes(const unsigned char *s, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++) { h ^= s[i]; h *= 16777619u; }
    return h;
}

/* Id of the normal token with these bytes, or -1. */
MKM_FN int mkm__tok_find(const mkm__tok *t, const unsigned char *s, size_t n)
{
    uint32_t i = mkm__hash_bytes(s, n) & (uint32_t)(t->hash_cap - 1);
    while (t->hash[i] >= 0) {
        int id = t->hash[i];
        size_t len = t->off[id + 1] - t->off[id];
        if (len == n && memcmp(t->strings.p + t->off[id], s, n) == 0) return id;
        i = (i + 1) & (uint32_t)(t->hash_cap - 1);
    }
    return -1;
}

MKM_FN int mkm__tok_add(mkm__tok *t, const unsigned char *s, size_t n, int type, float score)
{
    int id = t->n;
    if (t->err || id >= t->cap) { t->err = 1; return -1; }
    mkm__append(&t->strings, s, n);
    if (t->strings.err) { t->err = 1; return -1; }
    t->off[id] = (uint32_t)(t->strings.n - n);
    t->off[id + 1] = (uint32_t)t->strings.n;
    t->type[id] = (unsigned char)type;
    t->score[id] = score;
    t->n++;
    if (type == 0) {
        uint32_t i = mkm__hash_bytes(s, n) & (uint32_t)(t->hash_cap - 1);
        while (t->hash[i] >= 0) i = (i + 1) & (uint32_t)(t->hash_cap - 1);
        t->hash[i] = id;
    }
    return id;
}

MKM_FN int mkm__is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

MKM_FN int mkm__is_letter(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

MKM_FN int mkm__is_digit(int c) { return c >= '0' && c <= '9'; }

/* Splits the sample text into training pieces (token ids, pieces separated by -1).
 * kind 1: an approximation of the GPT-2 split, one token per byte.
 * kind 2: words with one leading space, one token per UTF-8 character when the vocabulary has
 * it; characters it lacks become separators, so no merge ever involves a byte token. */
MKM_FN int *mkm__pieces(const mkm__tok *t, int kind, size_t *count)
{
    const unsigned char *s = (const unsigned char *)mkm__sample_text;
    size_t n = sizeof mkm__sample_text - 1, i = 0, k = 0;
    int *out = (int *)malloc((3 * n + 4) * sizeof(int));
    if (!out) return NULL;
    if (kind == 1) {
        while (i < n) {
            size_t j = i;
            if (s[j] == ' ' && j + 1 < n && !mkm__is_space(s[j + 1])) j++;
            if (mkm__is_letter(s[j])) while (j < n && mkm__is_letter(s[j])) j++;
            else if (mkm__is_digit(s[j])) while (j < n && mkm__is_digit(s[j])) j++;
            else if (!mkm__is_space(s[j]))
                while (j < n && !mkm__is_space(s[j]) && !mkm__is_letter(s[j]) && !mkm__is_digit(s[j])) j++;
            else while (j < n && mkm__is_space(s[j])) j++;
            for (; i < j; i++) out[k++] = s[i];
            out[k++] = -1;
        }
    } else {
        while (i < n) {
            while (i < n && mkm__is_space(s[i])) i++;
            if (i >= n) break;
            out[k++] = mkm__tok_find(t, (const unsigned char *)" ", 1);
            while (i < n && !mkm__is_space(s[i])) {
                size_t len = 1;
                int id;
                if (s[i] >= 0xF0) len = 4;
                else if (s[i] >= 0xE0) len = 3;
                else if (s[i] >= 0xC0) len = 2;
                if (i + len > n) len = n - i;
                id = mkm__tok_find(t, s + i, len);
                out[k++] = id; /* -1 when missing: acts as a separator */
                i += len;
            }
            out[k++] = -1;
        }
    }
    *count = k;
    return out;
}

/* Sorts ids[0..n) with cmp(ctx, a, b) (stable merge sort). */
MKM_FN int mkm__sort(uint32_t *ids, size_t n, const void *ctx,
                     int (*cmp)(const void *, uint32_t, uint32_t))
{
    uint32_t *tmp;
    size_t w, i;
    if (n < 2) return 0;
    tmp = (uint32_t *)malloc(n * sizeof *tmp);
    if (!tmp) return -1;
    for (w = 1; w < n; w *= 2) {
        for (i = 0; i < n; i += 2 * w) {
            size_t a = i, am = i + w < n ? i + w : n, b = am, bm = i + 2 * w < n ? i + 2 * w : n, k = i;
            while (a < am && b < bm) tmp[k++] = cmp(ctx, ids[b], ids[a]) < 0 ? ids[b++] : ids[a++];
            while (a < am) tmp[k++] = ids[a++];
            while (b < bm) tmp[k++] = ids[b++];
        }
        memcpy(ids, tmp, n * sizeof *ids);
    }
    free(tmp);
    return 0;
}

MKM_FN int mkm__cmp_bytes(const void *ctx, uint32_t a, uint32_t b)
{
    const mkm__tok *t = (const mkm__tok *)ctx;
    size_t la = t->off[a + 1] - t->off[a], lb = t->off[b + 1] - t->off[b];
    int c = memcmp(t->strings.p + t->off[a], t->strings.p + t->off[b], la < lb ? la : lb);
    if (c) return c;
    return la < lb ? -1 : la > lb ? 1 : 0;
}

MKM_FN int mkm__cmp_merge(const void *ctx, uint32_t a, uint32_t b)
{
    const mkm__tok *t = (const mkm__tok *)ctx;
    if (t->merge[a][0] != t->merge[b][0]) return t->merge[a][0] < t->merge[b][0] ? -1 : 1;
    if (t->merge[a][1] != t->merge[b][1]) return t->merge[a][1] < t->merge[b][1] ? -1 : 1;
    return 0;
}

MKM_FN int mkm__cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Adds one token made of left||right if that string is new and not too long; returns its id. */
MKM_FN int mkm__tok_concat(mkm__tok *t, int left, int right, int type, float score, size_t max_len)
{
    size_t ll = t->off[left + 1] - t->off[left], lr = t->off[right + 1] - t->off[right];
    unsigned char tmp[64];
    if (ll + lr > max_len || ll + lr > sizeof tmp) return -1;
    memcpy(tmp, t->strings.p + t->off[left], ll);
    memcpy(tmp + ll, t->strings.p + t->off[right], lr);
    if (mkm__tok_find(t, tmp, ll + lr) >= 0) return -1;
    return mkm__tok_add(t, tmp, ll + lr, type, score);
}

/* Creates `count` new normal tokens by BPE training on the sample text (most frequent
 * adjacent pair whose concatenation is new; ties to the smaller (left, right)), then, once the
 * text offers no more pairs, from random pairs of normal tokens. Records merges for kind 1. */
MKM_FN int mkm__train(mkm__tok *t, int kind, int count, uint64_t seed)
{
    size_t n, i, k, np;
    int *seq = mkm__pieces(t, kind, &n);
    uint64_t *pairs;
    mkm__rng rng = mkm__stream(seed, 1000, 0);
    int made = 0, first_normal = kind == 1 ? 0 : 259;
    if (!seq) return -1;
    pairs = (uint64_t *)malloc((n + 1) * sizeof *pairs);
    if (!pairs) { free(seq); return -1; }
    while (made < count) {
        int left = -1, right = -1, id = -1;
        size_t best = 0;
        np = 0;
        for (i = 0; i + 1 < n; i++)
            if (seq[i] >= 0 && seq[i + 1] >= 0)
                pairs[np++] = ((uint64_t)(uint32_t)seq[i] << 32) | (uint32_t)seq[i + 1];
        qsort(pairs, np, sizeof *pairs, mkm__cmp_u64);
        for (i = 0; i < np; i = k) {
            for (k = i; k < np && pairs[k] == pairs[i]; k++) {}
            if (k - i > best) {
                int a = (int)(pairs[i] >> 32), b = (int)(uint32_t)pairs[i];
                size_t la = t->off[a + 1] - t->off[a], lb = t->off[b + 1] - t->off[b];
                unsigned char tmp[64];
                if (la + lb > 32) continue;
                memcpy(tmp, t->strings.p + t->off[a], la);
                memcpy(tmp + la, t->strings.p + t->off[b], lb);
                if (mkm__tok_find(t, tmp, la + lb) >= 0) continue;
                best = k - i;
                left = a;
                right = b;
            }
        }
        if (best > 0) {
            id = mkm__tok_concat(t, left, right, 0, 0.0f, 32);
            if (id < 0) break;
            /* apply the merge to the training sequence */
            for (i = 0, k = 0; i < n; i++) {
                if (i + 1 < n && seq[i] == left && seq[i + 1] == right) { seq[k++] = id; i++; }
                else seq[k++] = seq[i];
            }
            n = k;
        } else {
            int tries;
            for (tries = 0; tries < 100000 && id < 0; tries++) {
                int range = t->n - first_normal;
                left = first_normal + (int)(mkm__next(&rng) % (uint64_t)range);
                right = first_normal + (int)(mkm__next(&rng) % (uint64_t)range);
                if (t->type[left] != 0 || t->type[right] != 0) continue;
                id = mkm__tok_concat(t, left, right, 0, 0.0f, 16);
            }
            if (id < 0) break;
        }
        if (kind != 2) { /* ranked merges: kinds 1 and 3 */
            t->merge[made][0] = (uint32_t)left;
            t->merge[made][1] = (uint32_t)right;
            t->merge[made][2] = (uint32_t)id;
            t->merge[made][3] = (uint32_t)made;
        } else {
            t->score[id] = (float)(count - made); /* earlier (more frequent) merges first */
        }
        made++;
    }
    free(pairs);
    free(seq);
    if (made < count || t->err) return -1;
    t->n_merges = kind != 2 ? made : 0;
    return 0;
}

MKM_FN void mkm__tok_free(mkm__tok *t)
{
    free(t->strings.p);
    free(t->off);
    free(t->score);
    free(t->type);
    free(t->merge);
    free(t->hash);
}

/* Builds the tokenizer section of `kind` into *out. */
MKM_FN int mkm__build_tokenizer(const mkm_opts *o, mkm__buf *out)
{
    mkm__tok t;
    int i, n_sorted = 0, bos, eos, rc = -1;
    uint32_t *sorted = NULL, *morder = NULL, *merges = NULL, max_len = 0;
    mf_tokenizer sec;
    mod__added_token added[4];
    unsigned char *strings = NULL;
    memset(&t, 0, sizeof t);
    t.cap = mkm_n_tokens(o);
    t.hash_cap = 1;
    while (t.hash_cap < 2 * t.cap) t.hash_cap *= 2;
    t.off = (uint32_t *)calloc((size_t)t.cap + 1, sizeof *t.off);
    t.score = (float *)calloc((size_t)t.cap, sizeof *t.score);
    t.type = (unsigned char *)calloc((size_t)t.cap, 1);
    t.merge = (uint32_t(*)[4])calloc((size_t)o->n_merges + 1, sizeof *t.merge);
    t.hash = (int *)malloc((size_t)t.hash_cap * sizeof *t.hash);
    if (!t.off || !t.score || !t.type || !t.merge || !t.hash) goto done;
    for (i = 0; i < t.hash_cap; i++) t.hash[i] = -1;

    if (o->tokenizer == MKM_TOKENIZER_BPE) {
        for (i = 0; i < 256; i++) {
            unsigned char c = (unsigned char)i;
            mkm__tok_add(&t, &c, 1, 0, 0.0f);
        }
        if (mkm__train(&t, 1, o->n_merges, o->seed) != 0) goto done;
        bos = mkm__tok_add(&t, (const unsigned char *)"<|bos|>", 7, 2, 0.0f);
        eos = mkm__tok_add(&t, (const unsigned char *)"<|eos|>", 7, 2, 0.0f);
        if (o->bpe_added) {
            mkm__tok_add(&t, (const unsigned char *)"<think>", 7, 0, 0.0f);
            mkm__tok_add(&t, (const unsigned char *)"<|end|>", 7, 2, 0.0f);
        }
    } else {
        mkm__tok_add(&t, (const unsigned char *)"<unk>", 5, 2, 0.0f);
        bos = mkm__tok_add(&t, (const unsigned char *)"<s>", 3, 2, 0.0f);
        eos = mkm__tok_add(&t, (const unsigned char *)"</s>", 4, 2, 0.0f);
        for (i = 0; i < 256; i++) {
            unsigned char c = (unsigned char)i;
            mkm__tok_add(&t, &c, 1, 1, 0.0f);
        }
        for (i = 0x20; i < 0x7F; i++) {
            unsigned char c = (unsigned char)i;
            mkm__tok_add(&t, &c, 1, 0, 0.0f);
        }
        mkm__tok_add(&t, (const unsigned char *)"\xC3\xA9", 2, 0, 0.0f);     /* e acute */
        mkm__tok_add(&t, (const unsigned char *)"\xE2\x82\xAC", 3, 0, 0.0f); /* euro sign */
        if (mkm__train(&t, o->tokenizer, o->n_merges, o->seed) != 0) goto done;
    }
    if (t.err || t.n != t.cap) goto done;

    sorted = (uint32_t *)malloc((size_t)t.n * sizeof *sorted);
    morder = (uint32_t *)malloc(((size_t)t.n_merges + 1) * sizeof *morder);
    merges = (uint32_t *)malloc(((size_t)t.n_merges + 1) * sizeof t.merge[0]);
    if (!sorted || !morder || !merges) goto done;
    for (i = 0; i < t.n; i++) {
        uint32_t len = t.off[i + 1] - t.off[i];
        if (len > max_len) max_len = len;
        if (t.type[i] == 0) sorted[n_sorted++] = (uint32_t)i;
    }
    for (i = 0; i < t.n_merges; i++) morder[i] = (uint32_t)i;
    if (mkm__sort(sorted, (size_t)n_sorted, &t, mkm__cmp_bytes) != 0) goto done;
    if (mkm__sort(morder, (size_t)t.n_merges, &t, mkm__cmp_merge) != 0) goto done;

    for (i = 0; i < t.n_merges; i++) memcpy(merges + 4 * i, t.merge[morder[i]], sizeof t.merge[0]);
    memset(&sec, 0, sizeof sec);
    sec.h.kind = (uint32_t)o->tokenizer;
    sec.h.n_tokens = (uint32_t)t.n;
    sec.h.n_merges = (uint32_t)t.n_merges;
    sec.h.bos_id = bos;
    sec.h.eos_id = eos;
    sec.h.pretokenizer = o->tokenizer == MKM_TOKENIZER_BPE ? 1u : 0u;
    sec.h.flags = o->tokenizer == MKM_TOKENIZER_SCORED ? 1u : 0u;
    sec.h.n_sorted = (uint32_t)n_sorted;
    sec.h.strings_size = (uint64_t)t.strings.n;
    sec.h.max_token_len = max_len;
    sec.offsets = t.off;
    sec.scores = t.score;
    sec.types = t.type;
    sec.sorted = sorted;
    sec.merges = merges;
    sec.strings = t.strings.p;
    if (o->tokenizer == MKM_TOKENIZER_BPE && o->bpe_nfc) sec.h.flags |= 4u;
    if (o->tokenizer == MKM_TOKENIZER_BPE && o->bpe_added) {
        /* the table, ordered by the texts (after the token strings): <think> is ordinary */
        static const char *const texts[4] = { "<think>", "<|bos|>", "<|end|>", "<|eos|>" };
        const uint32_t ids[4] = { (uint32_t)t.n - 2, (uint32_t)bos, (uint32_t)t.n - 1, (uint32_t)eos };
        if (!(strings = mkm__added_table(&t, texts, ids, 1, 4, added, &sec.h.strings_size))) goto done;
        sec.strings = strings;
        sec.h.n_added = 4;
        sec.added = added;
    }
    if (o->tokenizer == MKM_TOKENIZER_SCORED && o->bpe_added) {
        static const char *const texts[4] = { "#", "</s>", "<s>", "<unk>" };
        static const uint32_t ids[4] = { 3 + 256 + ('#' - 0x20), 2, 1, 0 };
        if (!(strings = mkm__added_table(&t, texts, ids, 1, 4, added, &sec.h.strings_size))) goto done;
        sec.strings = strings;
        sec.h.n_added = 4;
        sec.added = added;
    }
    if (o->tokenizer == MKM_TOKENIZER_SP) {
        /* SentencePiece-style: byte fallback, unk, a space prepended to each piece, the
           special tokens <unk> <s> </s> in the added-token table (their texts after the
           token strings, ordered by their bytes) */
        static const char *const texts[3] = { "</s>", "<s>", "<unk>" };
        static const uint32_t ids[3] = { 2, 1, 0 };
        if (!(strings = mkm__added_table(&t, texts, ids, 0, 3, added, &sec.h.strings_size))) goto done;
        sec.h.pretokenizer = 0;
        sec.h.flags = 0;
        sec.strings = strings;
        sec.sp.unk_id = 0;
        sec.sp.model_flags = MOD__SP_BYTE_FALLBACK;
        sec.sp.prepend = MOD__SP_PREPEND_EACH;
        sec.sp.decode_strip = MOD__SP_STRIP_ONE;
        sec.sp.n_added = 3;
        sec.added = added;
    }
    out->n = out->cap = mf_tokenizer_size(&sec);
    out->p = (unsigned char *)malloc(out->n);
    if (!out->p) goto done;
    mf_put_tokenizer(out->p, &sec);
    rc = 0;
done:
    free(sorted);
    free(morder);
    free(merges);
    free(strings);
    mkm__tok_free(&t);
    return rc;
}

/* ---- weights ---- */

/* Values in tensor t. */
MKM_FN uint64_t mkm__count(const mf_tensor *t) { return t->rows ? t->rows * t->cols : t->cols; }

/* Fills v[0..count) with the values of tensor (role, layer). */
MKM_FN void mkm__values(const mkm_opts *o, const mf_tensor *t, float *v)
{
    mkm__rng r = mkm__stream(o->seed, (uint64_t)t->role, (uint64_t)(t->layer + 1));
    double d = (double)o->dim, s = 0.0, base = 0.0;
    uint64_t i, count = mkm__count(t), fan_in = t->rows ? t->cols : 1;
    int constant = o->router_const;
    switch (t->role) {
    case MKM_ROLE_TOKEN_EMBEDDING: s = o->init_scale > 0 ? o->init_scale : 1.0; break;
    case MKM_ROLE_OUTPUT_NORM:
        /* a tied output is the embedding (std 1 over d columns): smaller gains keep the
         * logits from being one-hot on the input token */
        base = o->tied ? 0.3 : 1.0; s = 0.1 * base; break;
    case MKM_ROLE_ATTN_NORM: case MKM_ROLE_MLP_NORM: base = 1.0; s = 0.1; break;
    case MKM_ROLE_ATTN_Q_BIAS: case MKM_ROLE_ATTN_K_BIAS: case MKM_ROLE_ATTN_V_BIAS: s = 0.1; break;
    case MKM_ROLE_ATTN_O_BIAS: case MKM_ROLE_MLP_GATE_BIAS: case MKM_ROLE_MLP_UP_BIAS: case MKM_ROLE_MLP_DOWN_BIAS: s = 0.1; break;
    case MKM_ROLE_ROUTER:
        s = constant ? 0.0 : 1.0 / sqrt(d);
        break;
    case MKM_ROLE_ROUTER_BIAS:
        if (constant) base = o->router_const_bias; else s = 0.2;
        break;
    case MKM_ROLE_PREDICTOR_W1:
        s = (constant && o->predictor_hidden == 0) ? 0.0 : 1.0 / sqrt(d);
        break;
    case MKM_ROLE_PREDICTOR_B1:
        if (constant && o->predictor_hidden == 0) base = o->router_const_bias; else s = 0.2;
        break;
    case MKM_ROLE_PREDICTOR_W2: s = constant ? 0.0 : 2.5 / sqrt((double)o->predictor_hidden); break;
    case MKM_ROLE_PREDICTOR_B2:
        if (constant) base = o->router_const_bias; else s = 0.2;
        break;
    default: s = o->init_scale > 0 ? o->init_scale : 1.0 / sqrt((double)fan_in); break;
    }
    for (i = 0; i < count; i++) v[i] = (float)(base + s * mkm__normal(&r));
    if (o->norm_offset && (t->role == MKM_ROLE_OUTPUT_NORM || t->role == MKM_ROLE_ATTN_NORM || t->role == MKM_ROLE_MLP_NORM))
        for (i = 0; i < count; i++) v[i] = (float)((double)v[i] - 1.0); /* the gain in effect is 1 + v */
    if (t->role == MKM_ROLE_PREDICTOR_W2 && count > 1) {
        /* silu(z) has a positive mean, so zero-sum output weights keep P(u) centred on 0 */
        double mean = 0.0;
        for (i = 0; i < count; i++) mean += v[i];
        mean /= (double)count;
        for (i = 0; i < count; i++) v[i] = (float)(v[i] - mean);
    }
}

/* The tensors of the model, in file order: every role the format calls for, the optional
 * ones as the options ask (q/k/v biases, router biases). Returns their number. */
MKM_FN uint32_t mkm__plan(const mkm_opts *o, uint64_t V, mf_tensor *ts)
{
    const mod__dims dims = mf_dims(V, (uint64_t)o->dim, (uint64_t)o->n_heads, (uint64_t)o->n_kv_heads, (uint64_t)mkm_head_dim(o),
                                   (uint64_t)o->hidden_dim, o->decision == 1 ? (uint64_t)o->predictor_hidden : 0);
    uint32_t n = 0;
    int l, role;
    for (l = -1; l < o->n_layers; l++)
        for (role = l < 0 ? 0 : MOD__ROLE_ATTN_NORM; role < (l < 0 ? MOD__ROLE_ATTN_NORM : MOD__ROLE_COUNT); role++) {
            const int routed = l >= 0 && o->routed[l];
            const int want = mf_role_wanted(role, o->tied, routed, o->decision == 1, o->decision == 1 ? o->predictor_hidden : 0);
            mf_tensor *t = &ts[n];
            if (want == 0) continue;
            if (want == 2 && !(role == MKM_ROLE_ROUTER_BIAS ? o->router_bias || o->router_const
                               : role == MKM_ROLE_ATTN_O_BIAS ? o->o_bias
                               : role >= MKM_ROLE_MLP_GATE_BIAS && role <= MKM_ROLE_MLP_DOWN_BIAS ? o->mlp_bias
                               : o->qkv_bias)) continue;
            memset(t, 0, sizeof *t);
            t->role = role;
            t->layer = l;
            mf_role_shape(role, &dims, &t->rows, &t->cols);
            t->dtype = t->rows ? o->dtype : MKM_DTYPE_F32;
            n++;
        }
    return n;
}

/* Builds a model file into a malloc'd buffer. Returns 0 on success, -1 on invalid options
 * (mkm_check says why), -2 when out of memory. */
MKM_FN int mkm_build(const mkm_opts *o, unsigned char **out, size_t *size)
{
    mf_tensor *ts;
    mkm__buf tok;
    mod__file_header h;
    uint32_t n, i;
    int l;
    unsigned char *b;
    float *vals = NULL;
    uint64_t max_count = 0;

    *out = NULL;
    *size = 0;
    if (mkm_check(o)) return -1;

    memset(&tok, 0, sizeof tok);
    if (o->tokenizer && mkm__build_tokenizer(o, &tok) != 0) {
        free(tok.p);
        return -2;
    }

    ts = (mf_tensor *)malloc((size_t)(3 + (MOD__ROLE_COUNT - MOD__ROLE_ATTN_NORM) * o->n_layers) * sizeof *ts);
    if (!ts) { free(tok.p); return -2; }
    memset(&h, 0, sizeof h);
    h.vocab_size = (uint32_t)mkm_vocab_size(o);
    h.dim = (uint32_t)o->dim;
    h.n_layers = (uint32_t)o->n_layers;
    h.n_heads = (uint32_t)o->n_heads;
    h.n_kv_heads = (uint32_t)o->n_kv_heads;
    h.hidden_dim = (uint32_t)o->hidden_dim;
    h.max_seq_len = (uint32_t)o->max_seq_len;
    h.norm_eps = o->norm_eps;
    h.rope_theta = o->rope_theta;
    h.tied_embeddings = (uint32_t)o->tied;
    h.router_input = (uint32_t)o->router_input;
    h.router_scale = (uint32_t)o->router_scale;
    h.combine = (uint32_t)o->combine;
    h.positions = (uint32_t)o->positions;
    h.decision = (uint32_t)o->decision;
    {   /* the width of a predictor that exists; 0 otherwise, as mod-convert writes */
        int any = 0;
        for (l = 0; l < o->n_layers; l++) any |= o->routed[l];
        h.predictor_hidden = o->decision == 1 && any ? (uint32_t)o->predictor_hidden : 0u;
    }
    h.threshold = o->threshold;
    h.head_dim = (uint32_t)mkm_head_dim(o);
    h.activation = (uint32_t)o->activation;
    h.norm_offset = (uint32_t)o->norm_offset;
    h.embed_scale = o->embed_scale > 0.0f ? o->embed_scale : 1.0f;
    h.rope_scaling = (uint32_t)o->rope_scaling;
    if (o->rope_scaling) h.rope_factor = o->rope_factor;
    if (o->rope_scaling == 2) {
        h.rope_low_freq_factor = o->rope_low_freq_factor;
        h.rope_high_freq_factor = o->rope_high_freq_factor;
        h.rope_original_max_pos = (uint32_t)o->rope_original_max_pos;
    }
    h.sliding_window = (uint32_t)o->sliding_window;
    n = mkm__plan(o, h.vocab_size, ts);
    mf_layout(&h, ts, n, o->tokenizer ? (uint64_t)tok.n : 0);
    for (i = 0; i < n; i++)
        if (mkm__count(&ts[i]) > max_count) max_count = mkm__count(&ts[i]);

    b = (unsigned char *)calloc((size_t)h.file_size, 1);
    vals = (float *)malloc((size_t)max_count * sizeof *vals);
    if (!b || !vals) {
        free(b);
        free(vals);
        free(ts);
        free(tok.p);
        return -2;
    }
    mf_put_prefix(b, &h, o->routed, o->capacity, ts, tok.p);
    for (i = 0; i < n; i++) {
        /* a value or scale too large for f16 is written as the encoder gives it (infinite) */
        mkm__values(o, &ts[i], vals);
        mf_encode(b + h.data_offset + ts[i].offset, vals, (size_t)mkm__count(&ts[i]), ts[i].dtype);
    }

    mf_set_checksum(b, (size_t)h.file_size);
    free(vals);
    free(ts);
    free(tok.p);
    *out = b;
    *size = (size_t)h.file_size;
    return 0;
}

#endif /* MKMODEL_H */
