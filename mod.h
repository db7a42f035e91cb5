/* mod.h - v0.1.0 - Mixture-of-Depths transformer inference in one C header. MIT or public domain.

   QUICK START
     Define MOD_IMPLEMENTATION in exactly one C or C++ file before including this header:

       #define MOD_IMPLEMENTATION
       #include "mod.h"

       mod_model *model; mod_session *s; mod_session_desc desc; mod_error err;
       mod_sampler smp; mod_sampler_desc sd; int32_t toks[256], tok; int n, i;
       if (mod_model_load_file(&model, "model.mod", NULL, &err)) { puts(err.message); return 1; }
       memset(&desc, 0, sizeof desc); desc.max_tokens = 512;
       if (mod_session_create(&s, model, &desc, &err)) { puts(err.message); return 1; }
       mod_tokenize(model, "In the beginning", 16, mod_token_bos(model) >= 0 ? MOD_TOKENIZE_BOS : 0, toks, 256, &n, &err);
       mod_prefill(s, toks, n, NULL);
       memset(&sd, 0, sizeof sd);
       sd.temperature = 0.8f; sd.top_k = 40; sd.top_p = 0.95f; sd.seed = 42;
       mod_sampler_init(&smp, &sd);
       for (i = 0; i < 64 && mod_sample(s, &smp, &tok) == MOD_OK; i++) {
           size_t len; const char *piece = mod_token_bytes(model, tok, &len);
           fwrite(piece, 1, len, stdout);
           if (mod_decode(s, tok) != MOD_OK) break;
       }
       mod_session_free(s); mod_model_free(model);

   WHAT IT RUNS
     Llama-style decoder-only transformers in which some blocks are Mixture-of-Depths blocks
     (Raposo et al., 2024): a router scores each token and only the selected tokens go through
     the block's attention and MLP; every other token passes by on the residual stream,
     bit-for-bit unchanged. Selection is either top-k over the tokens of a call (training
     semantics) or causal (router logit or a small predictor above a threshold, generation
     semantics). The families' variants are settings of the one model: a head size of its
     own, RoPE scaling (linear, llama3), a sliding window, GeGLU, Gemma's (1 + w) norm gains
     and embedding scale, q/k/v, o and MLP biases (Llama 3, Mistral, Qwen2, Gemma). The exact
     computation is specified in MODEL.md; the file format in docs/FORMAT.md.

   CONFIGURATION (define before including the implementation)
     MOD_NO_STDIO          no file API (mod_model_load_file is not compiled); no stdio use at all.
     MOD_MALLOC(sz)        allocator; define MOD_MALLOC and MOD_FREE together or neither.
     MOD_FREE(p)
     MOD_NO_MALLOC         arena-only: the library calls no allocator; models and sessions need
                           caller arenas (mod_model_desc.arena, mod_session_desc.arena).
     MOD_ASSERT(x)         checks of internal invariants (never of input); default: assert().
     MOD_SQRTF MOD_EXPF MOD_COS MOD_SIN MOD_POW MOD_CEIL
                           the libm functions used, overridable for freestanding builds.
     MOD_NO_OPENMP         ignore OpenMP even when compiled with -fopenmp.
     MOD_NO_MMAP           load files with plain reads even where mmap exists.
     MOD_NO_UNICODE_TABLES leave out the Unicode tables (about 27 KB of read-only data: the
                           letter/number/space classes of the Llama 3 and Qwen2 split patterns,
                           and NFC); a tokenizer that needs them is refused at load time with
                           MOD_ERR_UNSUPPORTED. For firmware whose models split ASCII-style.
     MOD_NO_SIMD           use the portable kernels even where the compiler targets AVX2/FMA,
                           AVX-512, NEON (AArch64) or Helium (Armv8.1-M MVE); the SIMD path is
                           chosen at compile time from the compiler's target macros.

   WEIGHTS
     Matrices may be stored as f32, f16, bf16, q8_0 (blocks of 32 int8 with an f16 scale) or
     q4_0 (blocks of 32 4-bit values with an f16 scale); with q8_0 and q4_0 the activations are
     quantized per block to int8 too and each block's dot product is exact integer arithmetic.
     Norm gains, biases and router weights are always f32.

   MEMORY
     A model borrows the bytes it was loaded from: mod_model_load_memory copies nothing, so a
     const array in flash works as is; the buffer must outlive the model and be 16-byte aligned
     (64-byte alignment, as mapped files and mod_model_load_file have, is faster: weights then
     start on cache lines).
     The model itself needs a small struct (mod_model_memory_required) that comes from MOD_MALLOC
     or from the caller's arena (mod_model_desc.arena).
     A session owns everything that changes: per-block KV caches, activations, logits, sampler
     scratch. Its size is fixed at creation (mod_session_memory_required reports the exact bytes)
     and comes from MOD_MALLOC or from the caller's arena. Nothing is allocated per token.
     mod_session_desc.kv_dtype = MOD_KV_F16 halves the KV caches (keys and values rounded
     once to f16 when stored; attention reads them back exactly, a chunk at a time);
     MOD_KV_Q8_0 stores them as int8 blocks of 32 with an f16 scale (34 bytes per 32 values).

   ERRORS
     Every fallible function returns a mod_result (MOD_OK is 0); mod_result_string() turns it
     into a sentence. Loaders and mod_session_create also fill an optional mod_error with a
     message naming what is wrong and where; sessions keep their last message
     (mod_session_error). The library never prints, exits or aborts on bad input.

   THREADS
     A model is read-only after loading and may be shared by any number of sessions on any
     number of threads. A session must be used by one thread at a time. With OpenMP, a session
     splits its own work over mod_session_desc.threads threads (by default as many as the
     model's work per token pays for: a small model decodes on one thread; with more, calls,
     and the blocks of a prompt, fall back to one thread while that is faster, e.g. a core
     taken by another process);
     results are bit-identical for every thread count.

   SPEED
     Prefill multiplies matrices in register tiles of weight rows by four tokens (6 rows on
     AVX-512 and NEON, 3 on AVX2), rows longer than 1024 columns a 1024-column chunk at a time
     (such a dot product is the sum of its chunks' in order on every vector path but
     Helium's). Attention takes groups of four queries; there the key cache holds blocks of
     one vector's worth of positions transposed, so a query meets a vector of keys with no
     sums across lanes. Decoding streams four weight rows at a time (q8_0 and q4_0 rows are
     prefetched ahead). q8_0 and q4_0 multiply int8 blocks with VNNI or SDOT where the CPU
     has it. Products that share their input (q, k and v; gate and up) are one
     parallel loop, so threads meet once per group, and the per-row work between products
     (RMSNorm, RoPE, SwiGLU or GeGLU) is shared out too. Whatever the tile, batch or thread count, every
     output element goes through the same operations, so a causal prefill equals
     token-by-token decoding bit for bit on a given build.

   SECURITY
     Model files are untrusted input. Every count, length, offset and shape is checked with
     overflow-safe arithmetic against the bytes actually present before anything is used; a bad
     file yields MOD_ERR_* and a message, never an out-of-bounds access.

   CHAT
     Instruct models talk in their family's chat format, rendered in C (>>chat): mod_chat_init
     recognises the template stored in the model file (mod_model_chat_template) or takes a
     format by name; mod_chat_render writes a conversation, or only its newest turn (the
     history stays in the session), into a caller buffer, with no allocation. Tokenize the text
     with MOD_TOKENIZE_SPECIAL (the BOS is in it), prefill, and sample until
     mod_chat_turn_end_token or EOS.

   ROUTING
     mod_session_stats counts per block the tokens seen and processed, the KV entries held and
     the FLOPs spent; mod_session_cache lists the positions a block's cache holds. To see the
     choices token by token, mod_session_record_routing(session, records, max_tokens) makes
     every later mod_prefill and mod_decode write, for routed block r (in layer order) and the
     call's token i, the router score, the causal decision value and whether the token was
     processed into records[r * max_tokens + i]: caller memory, nothing allocated, whichever
     rule chose; mod_session_routing_recorded tells how many tokens the last call wrote.
     mod-generate and mod-eval --show-routing and mod-eval --routing-map are built on it.

   MAP
     The implementation runs in the order data flows through it; search for a tag to jump to
     its section.
       >>api        the declarations: results, model, sessions, sampling, tokenizer, chat
       >>prelude    configuration, messages, little-endian reads, number formats, arena
       >>loader     the model file, validated once, then used in place
       >>backend    the contract every target defines, then one section per target:
                    >>backend-avx512, >>backend-avx2, >>backend-neon, >>backend-helium,
                    >>backend-scalar; >>backend-amx, AMX tiles for prompts (MOD_AMX)
       >>f32        dot products, register tiles, weight rows as f32
       >>int8       q8_0 and q4_0 block products, the activation quantizer
       >>state      what a session holds
       >>matmul     grouped matrix products and threads
       >>pointwise  RMSNorm, RoPE and its scaling, e^x, softmax, SwiGLU, GeGLU
       >>router     router scores, top-k and causal selection
       >>attention  the KV cache layout, the attention kernels, the sliding window
       >>session    session creation, one block on its tokens, the forward pass
       >>sampling   temperature, top-k, top-p
       >>tokenizer  byte-level, scored and SentencePiece-style BPE, the split patterns and
                    their Unicode table (>>unicode-table, generated by tools/unicode/gen.sh),
                    NFC normalization and its tables (>>nfc-table, the same generator),
                    added tokens, encoding and decoding
       >>chat       chat formats: recognising a template, rendering a conversation in steps

   LICENSE
     See the end of the file.
*/
#ifndef MOD_H
#define MOD_H

#include <stddef.h>
#include <stdint.h>

#define MOD_VERSION_MAJOR 0
#define MOD_VERSION_MINOR 1
#define MOD_VERSION_PATCH 0
#define MOD_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef MOD_API
#define MOD_API extern
#endif

/* ======================================================================================= */
/* >>api       The declarations                                                          */
/* ======================================================================================= */

/* Result codes: one list gives both the enum and the sentences. */
#define MOD_RESULT_LIST(X) \
    X(MOD_OK,                    "success") \
    X(MOD_ERR_INVALID_ARGUMENT,  "an argument is invalid") \
    X(MOD_ERR_OUT_OF_MEMORY,     "out of memory, or the arena is too small") \
    X(MOD_ERR_IO,                "the file could not be opened or read") \
    X(MOD_ERR_BAD_MAGIC,         "not a mod.h model file (bad magic)") \
    X(MOD_ERR_BAD_VERSION,       "the model file version is not supported") \
    X(MOD_ERR_TRUNCATED,         "the model file is truncated") \
    X(MOD_ERR_CORRUPT,           "the model file is malformed") \
    X(MOD_ERR_CHECKSUM,          "the model file checksum does not match") \
    X(MOD_ERR_UNSUPPORTED,       "the model uses a feature this build does not support") \
    X(MOD_ERR_ALIGNMENT,         "the model buffer is not 16-byte aligned") \
    X(MOD_ERR_CONTEXT_FULL,      "the session's context is full") \
    X(MOD_ERR_BATCH_TOO_LARGE,   "more tokens in one call than the session's batch size") \
    X(MOD_ERR_BUFFER_TOO_SMALL,  "the output buffer is too small") \
    X(MOD_ERR_NO_TOKENIZER,      "the model file has no tokenizer") \
    X(MOD_ERR_TOKENIZE,          "the text cannot be tokenized with this vocabulary") \
    X(MOD_ERR_BAD_TOKEN,         "a token id is outside the vocabulary") \
    X(MOD_ERR_NUMERIC,           "a value is NaN or infinite")

typedef enum mod_result {
#define MOD__ENUM(id, text) id,
    MOD_RESULT_LIST(MOD__ENUM)
#undef MOD__ENUM
    MOD_RESULT_COUNT
} mod_result;

/* A result plus a message naming what went wrong and where. */
typedef struct mod_error {
    mod_result code;
    char message[240];
} mod_error;

MOD_API const char *mod_result_string(mod_result r);
MOD_API const char *mod_version(void); /* MOD_VERSION_STRING of the compiled implementation */
/* 1 when prompts' products of bf16, q8_0 and q4_0 weights run on AMX tiles (opt-in at build
   time: MOD_AMX; >>backend-amx), else 0; *why (if not NULL) says which, or why not. */
MOD_API int mod_amx(const char **why);

/* ---- model ---------------------------------------------------------------------------- */

typedef enum mod_router_input { MOD_ROUTER_INPUT_RESIDUAL = 0, MOD_ROUTER_INPUT_NORMED = 1 } mod_router_input;
typedef enum mod_router_scale { MOD_ROUTER_SCALE_IDENTITY = 0, MOD_ROUTER_SCALE_SIGMOID = 1 } mod_router_scale;
typedef enum mod_combine { MOD_COMBINE_DELTA = 0, MOD_COMBINE_MLP = 1 } mod_combine;
typedef enum mod_positions { MOD_POSITIONS_ABSOLUTE = 0, MOD_POSITIONS_COMPACTED = 1 } mod_positions;
typedef enum mod_decision { MOD_DECISION_ROUTER = 0, MOD_DECISION_PREDICTOR = 1 } mod_decision;
/* The MLP's gate: SwiGLU (silu) or GeGLU with the tanh form of GELU (Gemma). */
typedef enum mod_activation { MOD_ACTIVATION_SILU = 0, MOD_ACTIVATION_GELU_TANH = 1 } mod_activation;
/* RoPE frequency scaling (MODEL.md "RoPE scaling"). */
typedef enum mod_rope_scaling { MOD_ROPE_SCALING_NONE = 0, MOD_ROPE_SCALING_LINEAR = 1, MOD_ROPE_SCALING_LLAMA3 = 2 } mod_rope_scaling;
/* q8_0: blocks of 32 weights, each an f16 scale followed by 32 int8 (weight = scale x int).
   q4_0: blocks of 32 weights, each an f16 scale followed by 16 bytes; byte j holds element j
   in its low nibble and element j + 16 in its high nibble (weight = scale x (nibble - 8)). */
typedef enum mod_dtype { MOD_DTYPE_F32 = 0, MOD_DTYPE_F16 = 1, MOD_DTYPE_BF16 = 2, MOD_DTYPE_Q8_0 = 3, MOD_DTYPE_Q4_0 = 4, MOD_DTYPE_COUNT } mod_dtype;

/* Everything the model file says about the architecture (see docs/FORMAT.md). */
typedef struct mod_config {
    int vocab_size, dim, n_layers, n_heads, n_kv_heads, head_dim, hidden_dim, max_seq_len;
    float norm_eps, rope_theta;
    int tied_embeddings;
    mod_router_input router_input;
    mod_router_scale router_scale;
    mod_combine combine;
    mod_positions positions;
    mod_decision decision;
    int predictor_hidden; /* 0: the predictor is a single linear layer */
    float threshold;
    int n_routed;         /* number of routed blocks */
    /* The architecture variants of version 2 (MODEL.md "Variants"); a version-1 file has the
       defaults: head_dim dim / n_heads, silu, gains w, scale 1, no RoPE scaling, no window. */
    mod_activation activation;
    int norm_offset;      /* 1: every RMSNorm gain is 1 + w (Gemma); 0: w */
    float embed_scale;    /* the embedding rows are multiplied by this (1: unscaled) */
    mod_rope_scaling rope_scaling;
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor; /* 0 where unused */
    int rope_original_max_pos; /* llama3: the original context length; 0 otherwise */
    int sliding_window;   /* 0: none; W: a query sees keys fewer than W positions back */
} mod_config;

typedef struct mod_model mod_model;

#define MOD_LOAD_VERIFY_CHECKSUM 1u /* hash the whole file at load time */
#define MOD_LOAD_NO_MMAP         2u /* mod_model_load_file: read the file into memory, never map it
                                       (docs/PERFORMANCE.md: on some virtual machines a mapping of
                                       several GB reads many times slower than the same bytes read) */

typedef struct mod_model_desc {
    unsigned flags;    /* MOD_LOAD_* */
    void *arena;       /* optional: memory for the model struct (see mod_model_memory_required) */
    size_t arena_size;
} mod_model_desc;

/* Loads a model in place from bytes that stay valid (and unchanged) while the model lives.
   desc may be NULL; err may be NULL. */
MOD_API mod_result mod_model_load_memory(mod_model **model, const void *data, size_t size,
                                         const mod_model_desc *desc, mod_error *err);
#ifndef MOD_NO_STDIO
/* Maps (or reads) a file. The arena of desc, if any, holds only the model struct. */
MOD_API mod_result mod_model_load_file(mod_model **model, const char *path,
                                       const mod_model_desc *desc, mod_error *err);
#endif
/* Bytes of arena a model loaded from these bytes needs (validates the header first). */
MOD_API mod_result mod_model_memory_required(const void *data, size_t size, size_t *bytes,
                                             mod_error *err);
MOD_API void mod_model_free(mod_model *model);
MOD_API const mod_config *mod_model_config(const mod_model *model);
MOD_API int mod_model_layer_routed(const mod_model *model, int layer);   /* 1 routed, 0 dense, -1 bad layer */
MOD_API float mod_model_layer_capacity(const mod_model *model, int layer); /* 0 for dense blocks */
MOD_API uint64_t mod_model_parameters(const mod_model *model);
MOD_API uint64_t mod_model_checksum(const mod_model *model); /* the stored checksum */

/* ---- sessions ------------------------------------------------------------------------- */

typedef enum mod_routing {
    MOD_ROUTING_DEFAULT = 0, /* causal */
    MOD_ROUTING_CAUSAL = 1,  /* each token by router logit / predictor vs. threshold */
    MOD_ROUTING_TOPK = 2     /* top-k of the tokens of each prefill call, by capacity */
} mod_routing;

/* How a session caches keys and values. MOD_KV_F16 halves the cache: each key (after RoPE)
   and value is rounded once to the nearest f16 (ties to even) when stored and read back
   exactly, so attention computes what it would with an f32 cache holding those rounded values
   (docs/MODEL.md "KV cache"). MOD_KV_Q8_0 takes about a quarter of the f32 bytes: each key
   (after RoPE) and value, per kv head, in blocks of 32 along head_dim (the last block shorter
   when head_dim is not a multiple of 32), each block an f16 scale and int8 values; attention
   reads back scale x int8, exactly, and computes what it would with an f32 cache holding
   those numbers. */
typedef enum mod_kv_dtype { MOD_KV_F32 = 0, MOD_KV_F16 = 1, MOD_KV_Q8_0 = 2 } mod_kv_dtype;

/* Zero means "default" for every field. */
typedef struct mod_session_desc {
    int max_tokens;          /* context length; default the model's max_seq_len */
    int max_batch;           /* most tokens per mod_prefill call; default, and at most, max_tokens */
    mod_routing prompt_routing; /* rule for mod_prefill; mod_decode is always causal */
    float capacity;          /* > 0: overrides every routed block's capacity, in (0, 1] */
    int override_threshold;  /* non-zero: use threshold below instead of the model's */
    float threshold;
    int threads;             /* OpenMP threads; default: one per 8 million multiply-adds of a
                                token's dense work (its products and the output projection),
                                at least 1, at most omp_get_max_threads(); with more than
                                one, decoding calls and the blocks of prompts fall back to
                                one thread while that is faster (a core taken by another
                                process). N > 0 forces N threads.
                                mod_session_threads tells the count chosen. */
    int routed_cache_tokens; /* KV entries reserved per routed block; default max_tokens.
                                Smaller saves memory; a call that would overflow one fails
                                with MOD_ERR_CONTEXT_FULL and changes nothing. */
    mod_kv_dtype kv_dtype;   /* how keys and values are cached; default MOD_KV_F32 */
    void *arena;             /* optional caller memory (see mod_session_memory_required) */
    size_t arena_size;
} mod_session_desc;

typedef struct mod_session mod_session;

/* Bytes of arena a session made from desc needs (desc may be NULL: every field default).
   Validates desc as mod_session_create does; err (may be NULL) receives a message naming the
   faulty field and its value. */
MOD_API mod_result mod_session_memory_required(const mod_model *model, const mod_session_desc *desc,
                                               size_t *bytes, mod_error *err);
/* Creates a session (desc may be NULL). On failure *session is NULL and err (may be NULL)
   receives the code and a message naming the field and value: MOD_ERR_INVALID_ARGUMENT for a
   field out of range (e.g. "threads -1 is negative", "capacity 1.5 is outside (0, 1]"),
   MOD_ERR_NUMERIC for a non-finite threshold, MOD_ERR_OUT_OF_MEMORY for a short arena ("arena
   is X bytes, Y needed") or a failed allocation. */
MOD_API mod_result mod_session_create(mod_session **session, const mod_model *model,
                                      const mod_session_desc *desc, mod_error *err);
MOD_API void mod_session_free(mod_session *session);
MOD_API void mod_session_reset(mod_session *session); /* forget all tokens and statistics */

/* Runs n tokens through the model with the session's prompt routing rule, appending them to
   the context. logits: NULL, or room for n * vocab_size floats (row i = logits after token i).
   The last token's logits are always available from mod_session_logits. */
MOD_API mod_result mod_prefill(mod_session *session, const int32_t *tokens, int n, float *logits);
/* Runs one token (causal routing). */
MOD_API mod_result mod_decode(mod_session *session, int32_t token);
MOD_API const float *mod_session_logits(const mod_session *session); /* vocab_size floats, or NULL */
MOD_API int mod_session_position(const mod_session *session);     /* tokens in the context */
MOD_API int mod_session_threads(const mod_session *session);      /* threads it splits work over (1 without OpenMP) */
MOD_API const char *mod_session_error(const mod_session *session); /* last error message */

/* The positions of the tokens held in a block's KV cache, in the order they were processed. */
MOD_API mod_result mod_session_cache(const mod_session *session, int layer, int *count,
                                     const int32_t **positions);

typedef struct mod_block_stats {
    int routed;                 /* 1 for a routed block */
    uint64_t tokens_seen;       /* tokens that reached the block */
    uint64_t tokens_processed;  /* tokens that went through its attention and MLP */
    int kv_entries;             /* entries in its KV cache now */
    double flops;               /* floating-point operations spent in the block */
    double flops_dense;         /* what a dense block of the same shape would have spent */
} mod_block_stats;

/* layer in [0, n_layers): one block; layer == -1: the whole model (embedding lookup excluded,
   output projection included in both counts). */
MOD_API mod_result mod_session_stats(const mod_session *session, int layer, mod_block_stats *stats);

/* What the routers decided for one token in one routed block. */
typedef struct mod_route {
    float score;    /* the router's score r = w.x + b (before the sigmoid of router_scale) */
    float decision; /* what the causal rule compares with the threshold: r itself, or the
                       predictor's output (decision MOD_DECISION_PREDICTOR) */
    int processed;  /* 1: the token went through the block's attention and MLP */
} mod_route;

/* Records the routing of every later mod_prefill and mod_decode call into caller memory:
   records[r * max_tokens + i] for the r-th routed block (in layer order, r < n_routed) and the
   i-th token of the call, for the call's first max_tokens tokens. The records hold what the
   call used, whichever rule chose (top-k or causal), so a top-k prefill shows where the causal
   rule would have agreed (decision > threshold against processed). records NULL or max_tokens
   0 stops recording. Nothing is allocated; a session that never records pays one pointer test
   per routed block per call. MOD_ERR_INVALID_ARGUMENT for a negative max_tokens. */
MOD_API mod_result mod_session_record_routing(mod_session *session, mod_route *records, int max_tokens);
/* Tokens recorded by the last call: min(its tokens, max_tokens), 0 when not recording or when
   the call failed. */
MOD_API int mod_session_routing_recorded(const mod_session *session);

/* ---- sampling ------------------------------------------------------------------------- */

/* Sampler settings. A zero-initialised desc is valid: greedy decoding. */
typedef struct mod_sampler_desc {
    float temperature; /* >= 0 and finite; 0: greedy (the largest logit, lowest id on ties) */
    int top_k;         /* >= 0; 0: off; 1: greedy */
    float top_p;       /* in [0, 1]; 0 and 1: off */
    uint64_t seed;     /* any value, 0 included; same seed and logits, same tokens */
} mod_sampler_desc;

/* Caller-allocatable; set only by mod_sampler_init. */
typedef struct mod_sampler {
    /* private: set by mod_sampler_init */
    float mod__temperature;
    int mod__top_k;
    float mod__top_p;
    uint64_t mod__state;
} mod_sampler;

/* Sets a sampler up from desc (NULL: every field zero, i.e. greedy). MOD_ERR_INVALID_ARGUMENT
   for a NULL sampler, a negative, infinite or NaN temperature, a negative top_k or a top_p
   outside [0, 1]; a sampler refused that way also refuses every mod_sample call. */
MOD_API mod_result mod_sampler_init(mod_sampler *sampler, const mod_sampler_desc *desc);
/* Draws a token from the session's last logits. Same seed, same logits: same tokens. When the
   model has a tokenizer, only its tokens are drawn: the rows of a vocabulary padded past
   them (mod_model_config()->vocab_size > the tokenizer's token count, as checkpoints often
   are) have no text and are never sampled, greedy included. */
MOD_API mod_result mod_sample(mod_session *session, mod_sampler *sampler, int32_t *token);

/* ---- tokenizer ------------------------------------------------------------------------ */

/* mod_tokenize's flags. */
#define MOD_TOKENIZE_BOS 1     /* prepend the model's BOS token (1, so add_bos-style callers work) */
#define MOD_TOKENIZE_SPECIAL 2 /* recognise special tokens typed in the text (chat formats) */

/* Encodes len bytes of text. flags: MOD_TOKENIZE_BOS prepends the model's BOS token; on a model
   without one (mod_token_bos() is -1) that fails with MOD_ERR_TOKENIZE. MOD_TOKENIZE_SPECIAL
   makes special tokens recognised where their text appears (the longest at the leftmost
   position): the special added tokens of a tokenizer with an added-token table, else the
   control tokens that have text (such as "<|im_start|>") of kinds 1 and 2.
   Without it such text is encoded as plain text, so a prompt cannot inject control tokens
   (Hugging Face's split_special_tokens=True). Non-special added tokens (Qwen's "<think>") are
   always matched, as Hugging Face does. Other bits are refused (MOD_ERR_INVALID_ARGUMENT).
   A tokenizer with NFC normalization (Qwen2 and Qwen3) normalizes the text between added
   tokens first, in place at the free end of tokens: no other memory is used.
   A buffer of len + 2 tokens is always enough for kind 1, for kind 2 but on text with added
   or special tokens in it, and for the usual kind 3 tokenizers; with less,
   MOD_ERR_BUFFER_TOO_SMALL may be returned and *n_tokens is set to len + 2. A kind 2 or 3
   tokenizer that prepends its space to every piece between added (or special) tokens, a kind 3
   one that has no token for the space, and a text that NFC lengthens can need up to
   3 * len + 2: then MOD_ERR_BUFFER_TOO_SMALL with *n_tokens set to that.
   Time is O(n log n) in the length n of the longest piece (the whole text for scored BPE or
   without a pretokenizer, else a split piece): a piece of more than 16 tokens merges through a
   priority queue whose scratch, 40 bytes per token of the longest such piece, comes from
   MOD_MALLOC once per call and is freed before the call returns (MOD_ERR_OUT_OF_MEMORY if it
   cannot be had). Under MOD_NO_MALLOC every piece merges in place, rescanning all pairs
   after each merge: no memory at all, but quadratic in the piece length, so keep texts
   short or use a pretokenizer there. Models stay read-only: calls on one model from many
   threads are safe. err (may be NULL) receives a message saying what failed and where: the
   byte offset in the text of a byte that has no token (MOD_ERR_TOKENIZE), the capacity
   needed, the scratch that could not be had, the argument that is wrong. */
MOD_API mod_result mod_tokenize(const mod_model *model, const char *text, size_t len, int flags,
                                int32_t *tokens, int capacity, int *n_tokens, mod_error *err);
/* Decodes tokens into out (not NUL-terminated); *len receives the bytes needed even when
   MOD_ERR_BUFFER_TOO_SMALL is returned. Control tokens and the ids of vocabulary padding
   (past the tokenizer's tokens, below vocab_size) decode to nothing, as Hugging Face's decode
   skips ids it has no token for; an id outside [0, vocab_size) is MOD_ERR_BAD_TOKEN. */
MOD_API mod_result mod_detokenize(const mod_model *model, const int32_t *tokens, int n, char *out,
                                  size_t capacity, size_t *len);
/* The raw bytes of one token (none for control tokens and ids without text, padding included),
   for streaming; NULL for an id outside [0, vocab_size). */
MOD_API const char *mod_token_bytes(const mod_model *model, int32_t token, size_t *len);
MOD_API int32_t mod_token_bos(const mod_model *model); /* -1 if none */
MOD_API int32_t mod_token_eos(const mod_model *model); /* -1 if none */

/* ---- chat ---------------------------------------------------------------------------- */

/* The chat formats of instruct models, each rendered by a small C formatter (>>chat) to the
   text the family's chat template writes, byte for byte; no template engine. */
typedef enum mod_chat_format {
    MOD_CHAT_NONE = 0,   /* no format: not recognised, or not given */
    MOD_CHAT_LLAMA2 = 1, /* "llama2": <s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] ... </s> */
    MOD_CHAT_LLAMA3 = 2, /* "llama3": <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    MOD_CHAT_CHATML = 3, /* "chatml": <|im_start|>role\n...<|im_end|>\n, as Qwen's templates write it */
    MOD_CHAT_GEMMA = 4,  /* "gemma": <start_of_turn>user\n...<end_of_turn>\n, the assistant "model" */
    MOD_CHAT_FORMAT_COUNT
} mod_chat_format;

typedef enum mod_chat_role { MOD_CHAT_SYSTEM = 0, MOD_CHAT_USER = 1, MOD_CHAT_ASSISTANT = 2 } mod_chat_role;

typedef struct mod_chat_message {
    mod_chat_role role;
    const char *content; /* NUL-terminated text */
} mod_chat_message;

/* A chat format ready to render; set only by mod_chat_init, caller-allocatable. */
typedef struct mod_chat {
    mod_chat_format format;
    /* private: the system prompt a ChatML template writes when the conversation has none (Qwen2,
       Qwen2.5), as the template's string literal spells it; NULL: none */
    const char *mod__system;
    size_t mod__system_len;
} mod_chat;

/* mod_chat_render's flags. */
#define MOD_CHAT_ADD_ASSISTANT 1u /* end with the assistant's start (the generation prompt) */
#define MOD_CHAT_REPLY_FED 2u     /* messages[from] is the assistant's reply, already in the context as
                                     generated up to and including its turn-end token: leave that out */

/* "llama2", "llama3", "chatml", "gemma"; NULL for MOD_CHAT_NONE and out-of-range values. */
MOD_API const char *mod_chat_format_name(mod_chat_format format);
/* The format of a name of mod_chat_format_name, or MOD_CHAT_NONE. */
MOD_API mod_chat_format mod_chat_format_by_name(const char *name);
/* Recognises a chat template (Jinja text, as tokenizer_config.json holds it) by signatures, the
   marker strings each family's templates write: llama3 <|start_header_id|>, <|end_header_id|>
   and <|eot_id|>; chatml <|im_start|> and <|im_end|>; gemma <start_of_turn> and <end_of_turn>;
   llama2 [INST], [/INST] and <<SYS>> (Mistral's [INST] templates, without <<SYS>>, are not
   Llama 2's and are not recognised). MOD_CHAT_NONE when none matches. */
MOD_API mod_chat_format mod_chat_format_detect(const char *template_text, size_t len);
/* Sets a chat up: format MOD_CHAT_NONE detects it from template_text (MOD_ERR_UNSUPPORTED when
   not recognised or there is no template); another format is used as given. For chatml the
   template (if any) also gives the default system prompt: the literal text of
   '<|im_start|>system\n...<|im_end|>' in it; chat then points into template_text, which must
   stay valid while chat is used (a model's stored template lives as long as the model).
   template_text may be NULL when len is 0. */
MOD_API mod_result mod_chat_init(mod_chat *chat, mod_chat_format format, const char *template_text, size_t len);
/* The chat template stored in the model file (not NUL-terminated), or NULL (*len 0). */
MOD_API const char *mod_model_chat_template(const mod_model *model, size_t *len);
/* Renders messages[from .. n) into out, NUL-terminated; *len receives the text's length (without
   the NUL) even when MOD_ERR_BUFFER_TOO_SMALL is returned (out then holds a cut text), as
   snprintf does. from 0 renders the whole conversation, with what the template writes first
   (the BOS text of llama2, llama3 and gemma; chatml's default system prompt). from > 0 renders
   the continuation: the text that follows the render of messages[0 .. from), which was made
   with MOD_CHAT_ADD_ASSISTANT exactly when messages[from] is the assistant's (its start is then
   not repeated). So rendering a conversation in steps and concatenating the steps gives the
   whole render, and a session's context can keep the history: only the new turn is fed.
   MOD_CHAT_REPLY_FED (from > 0, messages[from] the assistant's) leaves out that reply up to and
   including its turn-end token, for a reply that is in the context as it was generated.
   The text holds the formats' control tokens (BOS included) as text: tokenize it with
   MOD_TOKENIZE_SPECIAL and without MOD_TOKENIZE_BOS. Contents go in as they are, so a
   special token's text typed in a message becomes that token too, as with Hugging Face's
   apply_chat_template; where that matters, refuse such contents before rendering. Contents are written as the templates
   write them (llama2, llama3 and gemma strip leading and trailing whitespace as Python's
   str.strip does; chatml writes them as they are). llama2 and gemma fold a first system message
   into the first user message and need user and assistant to alternate, starting with the
   user; a system message elsewhere, or roles out of turn, is MOD_ERR_INVALID_ARGUMENT with a
   message in err (may be NULL). */
MOD_API mod_result mod_chat_render(const mod_chat *chat, const mod_chat_message *messages, int n, int from,
                                   unsigned flags, char *out, size_t capacity, size_t *len, mod_error *err);
/* The text of the token that ends an assistant's turn: "</s>", "<|eot_id|>", "<|im_end|>",
   "<end_of_turn>"; NULL for MOD_CHAT_NONE. */
MOD_API const char *mod_chat_turn_end(mod_chat_format format);
/* That token's id in the model's vocabulary (its text tokenized with MOD_TOKENIZE_SPECIAL is one
   control token), or -1. Generation stops there or at mod_token_eos. */
MOD_API int32_t mod_chat_turn_end_token(const mod_model *model, mod_chat_format format);

/* ---- the file format as tables (private) ---------------------------------------------- */

/* The records of docs/FORMAT.md, one X(field, offset, type) each, written here once: the
   loader reads files through these tables and tools/modfile.h, the one writer, writes them
   (both see this part of the header, so it stays outside MOD_IMPLEMENTATION);
   tests/test_format.c checks them against the page. Types: U32, I32, U64, F32, and the arrays
   U8X4, U32X3, U32X10, U64X4. The header's fields from head_dim on are version 2's: a version-1
   file's header ends at reserved (160 bytes) and its model takes their defaults. */
#define MOD__HEADER_FIELDS(X) \
    X(magic, 0, U8X4) \
    X(version, 4, U32) \
    X(checksum, 8, U64) \
    X(file_size, 16, U64) \
    X(header_size, 24, U32) \
    X(n_tensors, 28, U32) \
    X(layer_table_offset, 32, U64) \
    X(tensor_dir_offset, 40, U64) \
    X(tokenizer_offset, 48, U64) \
    X(tokenizer_size, 56, U64) \
    X(data_offset, 64, U64) \
    X(data_size, 72, U64) \
    X(vocab_size, 80, U32) \
    X(dim, 84, U32) \
    X(n_layers, 88, U32) \
    X(n_heads, 92, U32) \
    X(n_kv_heads, 96, U32) \
    X(hidden_dim, 100, U32) \
    X(max_seq_len, 104, U32) \
    X(norm_eps, 108, F32) \
    X(rope_theta, 112, F32) \
    X(tied_embeddings, 116, U32) \
    X(router_input, 120, U32) \
    X(router_scale, 124, U32) \
    X(combine, 128, U32) \
    X(positions, 132, U32) \
    X(decision, 136, U32) \
    X(predictor_hidden, 140, U32) \
    X(threshold, 144, F32) \
    X(reserved, 148, U32X3) \
    X(head_dim, 160, U32) \
    X(activation, 164, U32) \
    X(norm_offset, 168, U32) \
    X(embed_scale, 172, F32) \
    X(rope_scaling, 176, U32) \
    X(rope_factor, 180, F32) \
    X(rope_low_freq_factor, 184, F32) \
    X(rope_high_freq_factor, 188, F32) \
    X(rope_original_max_pos, 192, U32) \
    X(sliding_window, 196, U32) \
    X(chat_template_offset, 200, U64) \
    X(chat_template_size, 208, U64) \
    X(reserved2, 216, U32X10)
#define MOD__LAYER_ENTRY_FIELDS(X) \
    X(routed, 0, U32) \
    X(capacity, 4, F32)
#define MOD__TENSOR_ENTRY_FIELDS(X) \
    X(role, 0, U32) \
    X(layer, 4, U32) \
    X(dtype, 8, U32) \
    X(n_dims, 12, U32) \
    X(dims, 16, U64X4) \
    X(offset, 48, U64) \
    X(size, 56, U64)
#define MOD__TOKENIZER_HEADER_FIELDS(X) \
    X(kind, 0, U32) \
    X(n_tokens, 4, U32) \
    X(n_merges, 8, U32) \
    X(bos_id, 12, I32) \
    X(eos_id, 16, I32) \
    X(pretokenizer, 20, U32) \
    X(flags, 24, U32) \
    X(n_sorted, 28, U32) \
    X(strings_size, 32, U64) \
    X(max_token_len, 40, U32) \
    X(n_added, 44, U32)
/* Kind 3 only: right after the tokenizer header. */
#define MOD__TOKENIZER_SP_FIELDS(X) \
    X(unk_id, 0, I32) \
    X(model_flags, 4, U32) \
    X(prepend, 8, U32) \
    X(decode_strip, 12, U32) \
    X(n_added, 16, U32) \
    X(reserved, 20, U32X3)
/* The added-token table (any kind): n_added of these, after the merges. */
#define MOD__ADDED_TOKEN_FIELDS(X) \
    X(id, 0, U32) \
    X(flags, 4, U32) \
    X(offset, 8, U32) \
    X(length, 12, U32)

#define MOD__CTYPE_U32 uint32_t
#define MOD__CTYPE_I32 int32_t
#define MOD__CTYPE_U64 uint64_t
#define MOD__CTYPE_F32 float
#define MOD__CTYPE_U8X4 unsigned char
#define MOD__CTYPE_U32X3 uint32_t
#define MOD__CTYPE_U32X10 uint32_t
#define MOD__CTYPE_U64X4 uint64_t
#define MOD__COUNT_U32 1
#define MOD__COUNT_I32 1
#define MOD__COUNT_U64 1
#define MOD__COUNT_F32 1
#define MOD__COUNT_U8X4 4
#define MOD__COUNT_U32X3 3
#define MOD__COUNT_U32X10 10
#define MOD__COUNT_U64X4 4
#define MOD__BYTES(type) (MOD__COUNT_##type * (int)sizeof(MOD__CTYPE_##type))
#define MOD__ARRAY_U32
#define MOD__ARRAY_I32
#define MOD__ARRAY_U64
#define MOD__ARRAY_F32
#define MOD__ARRAY_U8X4 [4]
#define MOD__ARRAY_U32X3 [3]
#define MOD__ARRAY_U32X10 [10]
#define MOD__ARRAY_U64X4 [4]

/* One struct per record, a member per field; MOD__<RECORD>_AT_<field> is a field's offset and
   MOD__<RECORD>_BYTES the record's size (its fields are contiguous). */
#define MOD__MEMBER(field, offset, type) MOD__CTYPE_##type field MOD__ARRAY_##type;
#define MOD__PLUS_BYTES(field, offset, type) + MOD__BYTES(type)
#define MOD__HEADER_AT(field, offset, type) MOD__HEADER_AT_##field = offset,
#define MOD__LAYER_ENTRY_AT(field, offset, type) MOD__LAYER_ENTRY_AT_##field = offset,
#define MOD__TENSOR_ENTRY_AT(field, offset, type) MOD__TENSOR_ENTRY_AT_##field = offset,
#define MOD__TOKENIZER_HEADER_AT(field, offset, type) MOD__TOKENIZER_HEADER_AT_##field = offset,
#define MOD__TOKENIZER_SP_AT(field, offset, type) MOD__TOKENIZER_SP_AT_##field = offset,
#define MOD__ADDED_TOKEN_AT(field, offset, type) MOD__ADDED_TOKEN_AT_##field = offset,
typedef struct mod__file_header { MOD__HEADER_FIELDS(MOD__MEMBER) } mod__file_header;
typedef struct mod__layer_entry { MOD__LAYER_ENTRY_FIELDS(MOD__MEMBER) } mod__layer_entry;
typedef struct mod__tensor_entry { MOD__TENSOR_ENTRY_FIELDS(MOD__MEMBER) } mod__tensor_entry;
typedef struct mod__tokenizer_header { MOD__TOKENIZER_HEADER_FIELDS(MOD__MEMBER) } mod__tokenizer_header;
typedef struct mod__tokenizer_sp { MOD__TOKENIZER_SP_FIELDS(MOD__MEMBER) } mod__tokenizer_sp;
typedef struct mod__added_token { MOD__ADDED_TOKEN_FIELDS(MOD__MEMBER) } mod__added_token;
enum { MOD__HEADER_FIELDS(MOD__HEADER_AT) MOD__HEADER_BYTES = 0 MOD__HEADER_FIELDS(MOD__PLUS_BYTES) };
enum { MOD__LAYER_ENTRY_FIELDS(MOD__LAYER_ENTRY_AT) MOD__LAYER_ENTRY_BYTES = 0 MOD__LAYER_ENTRY_FIELDS(MOD__PLUS_BYTES) };
enum { MOD__TENSOR_ENTRY_FIELDS(MOD__TENSOR_ENTRY_AT) MOD__TENSOR_ENTRY_BYTES = 0 MOD__TENSOR_ENTRY_FIELDS(MOD__PLUS_BYTES) };
enum { MOD__TOKENIZER_HEADER_FIELDS(MOD__TOKENIZER_HEADER_AT) MOD__TOKENIZER_HEADER_BYTES = 0 MOD__TOKENIZER_HEADER_FIELDS(MOD__PLUS_BYTES) };
enum { MOD__TOKENIZER_SP_FIELDS(MOD__TOKENIZER_SP_AT) MOD__TOKENIZER_SP_BYTES = 0 MOD__TOKENIZER_SP_FIELDS(MOD__PLUS_BYTES) };
enum { MOD__ADDED_TOKEN_FIELDS(MOD__ADDED_TOKEN_AT) MOD__ADDED_TOKEN_BYTES = 0 MOD__ADDED_TOKEN_FIELDS(MOD__PLUS_BYTES) };
/* Kind 3's settings: model_flags bits, prepend and decode_strip values, added-token flags. */
enum { MOD__SP_BYTE_FALLBACK = 1, MOD__SP_FUSE_UNK = 2, MOD__SP_IGNORE_MERGES = 4, MOD__SP_SPLIT = 8, MOD__SP_FLAGS_ALL = 15 };
enum { MOD__SP_PREPEND_NEVER = 0, MOD__SP_PREPEND_FIRST = 1, MOD__SP_PREPEND_ALWAYS = 2, MOD__SP_PREPEND_EACH = 3 };
enum { MOD__SP_STRIP_NONE = 0, MOD__SP_STRIP_ONE = 1, MOD__SP_STRIP_FIRST_TOKEN = 2 };
enum { MOD__ADDED_SPECIAL = 1 };

#define MOD__MAGIC "MODH"
#define MOD__FORMAT_VERSION 2    /* what the writer writes; the loader reads 1 and 2 */
#define MOD__FORMAT_VERSION_V1 1
#define MOD__HEADER_BYTES_V1 MOD__HEADER_AT_head_dim /* a version-1 header ends where version 2's fields start */
#define MOD__MODEL_WIDE 0xFFFFFFFFu /* the layer of a model-wide tensor */
#define MOD__SECTION_ALIGN 8 /* the layer table, the tensor directory and the tokenizer start here */
#define MOD__DATA_ALIGN 64   /* the tensor data and each tensor in it */
/* The checksum, FNV-1a 64 of the bytes after its own field. */
#define MOD__CHECKSUM_FROM (MOD__HEADER_AT_checksum + MOD__BYTES(U64))
#define MOD__FNV1A_BASIS 0xcbf29ce484222325ull
#define MOD__FNV1A_STEP(h, byte) ((h) = ((h) ^ (byte)) * 0x100000001b3ull)

/* The tensor roles, numbered in this order: X(ID, name, layer, rows, cols, when). layer is
   MODEL (the tensor's layer is MOD__MODEL_WIDE; these come first) or BLOCK; rows and cols are
   MOD__SIZE_ names (rows NONE: a one-dimensional tensor of cols elements); when is a
   MOD__WHEN_ rule. */
#define MOD__ROLES(X) \
    X(EMBED, token_embedding, MODEL, V, D, ALWAYS) \
    X(OUT_NORM, output_norm, MODEL, NONE, D, ALWAYS) \
    X(OUTPUT, output, MODEL, V, D, UNTIED) \
    X(ATTN_NORM, attn_norm, BLOCK, NONE, D, ALWAYS) \
    X(Q, attn_q, BLOCK, QD, D, ALWAYS) \
    X(K, attn_k, BLOCK, KVD, D, ALWAYS) \
    X(V, attn_v, BLOCK, KVD, D, ALWAYS) \
    X(O, attn_o, BLOCK, D, QD, ALWAYS) \
    X(Q_BIAS, attn_q_bias, BLOCK, NONE, QD, OPTIONAL) \
    X(K_BIAS, attn_k_bias, BLOCK, NONE, KVD, OPTIONAL) \
    X(V_BIAS, attn_v_bias, BLOCK, NONE, KVD, OPTIONAL) \
    X(MLP_NORM, mlp_norm, BLOCK, NONE, D, ALWAYS) \
    X(GATE, mlp_gate, BLOCK, F, D, ALWAYS) \
    X(UP, mlp_up, BLOCK, F, D, ALWAYS) \
    X(DOWN, mlp_down, BLOCK, D, F, ALWAYS) \
    X(ROUTER, router, BLOCK, NONE, D, ROUTED) \
    X(ROUTER_BIAS, router_bias, BLOCK, NONE, ONE, ROUTED_OPTIONAL) \
    X(PRED_W1, predictor_w1, BLOCK, FP1, D, PREDICTOR) \
    X(PRED_B1, predictor_b1, BLOCK, NONE, FP1, PREDICTOR) \
    X(PRED_W2, predictor_w2, BLOCK, NONE, FP, PREDICTOR_MLP) \
    X(PRED_B2, predictor_b2, BLOCK, NONE, ONE, PREDICTOR_MLP) \
    X(O_BIAS, attn_o_bias, BLOCK, NONE, D, OPTIONAL) \
    X(GATE_BIAS, mlp_gate_bias, BLOCK, NONE, F, OPTIONAL) \
    X(UP_BIAS, mlp_up_bias, BLOCK, NONE, F, OPTIONAL) \
    X(DOWN_BIAS, mlp_down_bias, BLOCK, NONE, D, OPTIONAL)
/* the roles a version-1 file may have: those up to predictor_b2 */
#define MOD__ROLE_LAST_V1 MOD__ROLE_PRED_B2
#define MOD__ROLE_ENUM(id, name, layer, rows, cols, when) MOD__ROLE_##id,
/* The sizes a shape is made of, for one model (head size hd): */
typedef struct mod__dims {
    uint64_t v, d, qd, kvd, f, fp; /* vocab_size, dim, n_heads x hd, n_kv_heads x hd, hidden_dim, predictor_hidden */
} mod__dims;
#define MOD__SIZE_NONE(m) 0
#define MOD__SIZE_ONE(m) 1
#define MOD__SIZE_V(m) (m).v
#define MOD__SIZE_D(m) (m).d
#define MOD__SIZE_QD(m) (m).qd
#define MOD__SIZE_KVD(m) (m).kvd
#define MOD__SIZE_F(m) (m).f
#define MOD__SIZE_FP(m) (m).fp
#define MOD__SIZE_FP1(m) ((m).fp ? (m).fp : 1)
enum { MOD__ROLES(MOD__ROLE_ENUM) MOD__ROLE_COUNT };
/* Is a role's tensor called for, in a model with tied embeddings t, in a block that is routed
   (r), with decision predictor (p) of hidden width h? 1 required, 2 optional, 0 not allowed. */
#define MOD__WHEN_ALWAYS(t, r, p, h) 1
#define MOD__WHEN_UNTIED(t, r, p, h) ((t) ? 0 : 1)
#define MOD__WHEN_OPTIONAL(t, r, p, h) 2
#define MOD__WHEN_ROUTED(t, r, p, h) ((r) ? 1 : 0)
#define MOD__WHEN_ROUTED_OPTIONAL(t, r, p, h) ((r) ? 2 : 0)
#define MOD__WHEN_PREDICTOR(t, r, p, h) ((r) && (p) ? 1 : 0)
#define MOD__WHEN_PREDICTOR_MLP(t, r, p, h) ((r) && (p) && (h) > 0 ? 1 : 0)

#ifdef __cplusplus
}
#endif
#endif /* MOD_H */

/* ======================================================================================= */
#ifdef MOD_IMPLEMENTATION
#ifndef MOD__IMPLEMENTED
#define MOD__IMPLEMENTED

/* ======================================================================================= */
/* >>prelude   Prelude: configuration, messages, reads, number formats, arena            */
/* ======================================================================================= */


#include <string.h>
#include <math.h>
#include <float.h>
#include <stdarg.h>

#if defined(MOD_MALLOC) != defined(MOD_FREE)
#error "define MOD_MALLOC and MOD_FREE together, or neither"
#endif
#if defined(MOD_NO_MALLOC) && defined(MOD_MALLOC)
#error "MOD_NO_MALLOC and MOD_MALLOC exclude each other"
#endif
#ifdef MOD_NO_MALLOC
/* arena-only: every allocation request fails, so models and sessions need caller arenas */
#define MOD_MALLOC(sz) ((void)(sz), (void *)0)
#define MOD_FREE(p) ((void)(p))
#endif
#ifndef MOD_MALLOC
#include <stdlib.h>
#define MOD_MALLOC(sz) malloc(sz)
#define MOD_FREE(p) free(p)
#endif
#ifndef MOD_ASSERT
#ifdef MOD_NO_STDIO
/* assert() would pull in stdio for its message */
#define MOD_ASSERT(x) ((void)0)
#else
#include <assert.h>
#define MOD_ASSERT(x) assert(x)
#endif
#endif

/* The only libm functions used; a freestanding build may supply its own. */
#ifndef MOD_SQRTF
#define MOD_SQRTF(x) sqrtf(x)
#endif
#ifndef MOD_EXPF
#define MOD_EXPF(x) expf(x)
#else
#define MOD__EXPF_OVERRIDDEN
#endif
#ifndef MOD_COS
#define MOD_COS(x) cos(x)
#endif
#ifndef MOD_SIN
#define MOD_SIN(x) sin(x)
#endif
#ifndef MOD_POW
#define MOD_POW(x, y) pow(x, y)
#endif
#ifndef MOD_CEIL
#define MOD_CEIL(x) ceil(x)
#endif

#if defined(_OPENMP) && !defined(MOD_NO_OPENMP)
#define MOD__OPENMP 1
#include <omp.h>
#endif

#if !defined(MOD_NO_STDIO)
#include <stdio.h>
#if defined(__unix__) || defined(__APPLE__)
/* POSIX files: opened without blocking on a FIFO or device, read through the descriptor */
#define MOD__POSIX_FILES 1
#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#if !defined(MOD_NO_MMAP)
#define MOD__MMAP 1
#include <sys/mman.h>
#endif
#endif
#endif

#ifdef __cplusplus
#define MOD__CAST(T, x) static_cast<T>(x)
#else
#define MOD__CAST(T, x) ((T)(x))
#endif

#define MOD__ALIGN 64
/* the documented sizes of the header and of a directory entry; the record tables must add up to them */
#define MOD__HEADER_SIZE 256
#define MOD__DIR_ENTRY 64
#define MOD__MAX_TOKEN_LEN 1024

/* Limits on what a file may declare; generous for real models, small enough that every size
   product below fits comfortably in 64 bits. */
#define MOD__MAX_DIM (1 << 20)
#define MOD__MAX_LAYERS 4096
#define MOD__MAX_VOCAB (1 << 24)
#define MOD__MAX_SEQ (1 << 24)
#define MOD__MAX_CHAT_TEMPLATE (1 << 20) /* bytes of a stored chat template */

const char *mod_result_string(mod_result r) {
    static const char *const text[] = {
#define MOD__TEXT(id, t) t,
        MOD_RESULT_LIST(MOD__TEXT)
#undef MOD__TEXT
    };
    /* unsigned, as enums may be one byte on embedded ABIs */
    if ((unsigned)r >= (unsigned)MOD_RESULT_COUNT) return "unknown result code";
    return text[r];
}

const char *mod_version(void) { return MOD_VERSION_STRING; }

/* ---- messages: a tiny formatter so that error text needs no stdio -------------------- */

/* %f of mod__vformat: "nan", "inf", "-inf", fixed notation with at most six decimals
   (trailing zeros dropped), or d.dddddde+N for magnitudes from 1e15 on. */
static void mod__fmt_float(char *out, size_t cap, double f) {
    char buf[48];
    size_t n = 0, i;
    double x = f;
    int e = 0;
    if (cap == 0) return;
    if (x != x) { buf[n++] = 'n'; buf[n++] = 'a'; buf[n++] = 'n'; }
    else {
        uint64_t ip, fp;
        int k;
        if (x < 0) { buf[n++] = '-'; x = -x; }
        if (x > DBL_MAX) { buf[n++] = 'i'; buf[n++] = 'n'; buf[n++] = 'f'; goto done; }
        while (x >= 1e15) { x /= 10.0; e++; }
        if (e) { while (x >= 10.0) { x /= 10.0; e++; } }
        ip = (uint64_t)x;
        fp = (uint64_t)((x - (double)ip) * 1e6 + 0.5);
        if (fp >= 1000000u) { ip++; fp -= 1000000u; }
        {
            char d[24];
            k = 0;
            do { d[k++] = (char)('0' + (int)(ip % 10u)); ip /= 10u; } while (ip);
            while (k) buf[n++] = d[--k];
        }
        if (fp) {
            char d[6];
            for (k = 5; k >= 0; k--) { d[k] = (char)('0' + (int)(fp % 10u)); fp /= 10u; }
            for (k = 5; k > 0 && d[k] == '0'; k--) {}
            buf[n++] = '.';
            for (i = 0; i <= (size_t)k; i++) buf[n++] = d[i];
        }
        if (e) {
            char d[8];
            buf[n++] = 'e'; buf[n++] = '+';
            k = 0;
            do { d[k++] = (char)('0' + e % 10); e /= 10; } while (e);
            while (k) buf[n++] = d[--k];
        }
    }
done:
    for (i = 0; i < n && i + 1 < cap; i++) out[i] = buf[i];
    out[i] = 0;
}

/* Supports %s, %d (int), %u (unsigned), %U (uint64_t), %f (double, as mod__fmt_float), %%. */
static void mod__vformat(char *out, size_t cap, const char *fmt, va_list ap) {
    size_t n = 0;
    if (cap == 0) return;
    while (*fmt && n + 1 < cap) {
        char num[32];
        const char *s;
        if (*fmt != '%') { out[n++] = *fmt++; continue; }
        fmt++;
        if (*fmt == 's') {
            s = va_arg(ap, const char *);
            if (!s) s = "(null)";
        } else if (*fmt == 'd' || *fmt == 'u' || *fmt == 'U') {
            uint64_t v;
            int neg = 0, k = 0, m;
            if (*fmt == 'd') {
                int64_t iv = va_arg(ap, int);
                neg = iv < 0;
                v = neg ? MOD__CAST(uint64_t, -iv) : MOD__CAST(uint64_t, iv);
            } else if (*fmt == 'u') {
                v = va_arg(ap, unsigned);
            } else {
                v = va_arg(ap, uint64_t);
            }
            do { num[k++] = MOD__CAST(char, '0' + (int)(v % 10)); v /= 10; } while (v);
            if (neg) num[k++] = '-';
            for (m = 0; m < k / 2; m++) { char t = num[m]; num[m] = num[k - 1 - m]; num[k - 1 - m] = t; }
            num[k] = 0;
            s = num;
        } else if (*fmt == 'f') {
            mod__fmt_float(num, sizeof num, va_arg(ap, double));
            s = num;
        } else {
            s = *fmt == '%' ? "%" : "?";
        }
        if (*fmt) fmt++;
        while (*s && n + 1 < cap) out[n++] = *s++;
    }
    out[n] = 0;
}

static mod_result mod__fail(mod_error *err, mod_result code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        mod__vformat(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- little-endian reads and checked arithmetic -------------------------------------- */

static uint32_t mod__u32(const unsigned char *p) {
    return MOD__CAST(uint32_t, p[0]) | MOD__CAST(uint32_t, p[1]) << 8 |
           MOD__CAST(uint32_t, p[2]) << 16 | MOD__CAST(uint32_t, p[3]) << 24;
}
static uint64_t mod__u64(const unsigned char *p) {
    return MOD__CAST(uint64_t, mod__u32(p)) | MOD__CAST(uint64_t, mod__u32(p + 4)) << 32;
}
static float mod__f32(const unsigned char *p) {
    uint32_t u = mod__u32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static int mod__is_little_endian(void) {
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}
/* a * b, or 0 with *ok cleared when it does not fit in 64 bits */
static uint64_t mod__mul(uint64_t a, uint64_t b, int *ok) {
    if (a && b > UINT64_MAX / a) { *ok = 0; return 0; }
    return a * b;
}
static uint64_t mod__add(uint64_t a, uint64_t b, int *ok) {
    if (b > UINT64_MAX - a) { *ok = 0; return 0; }
    return a + b;
}
/* [off, off + len) lies inside [0, size) */
static int mod__in_bounds(uint64_t off, uint64_t len, uint64_t size) {
    return off <= size && len <= size - off;
}

static uint64_t mod__fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = MOD__FNV1A_BASIS;
    size_t i;
    for (i = 0; i < n; i++) MOD__FNV1A_STEP(h, p[i]);
    return h;
}

/* ---- number formats -------------------------------------------------------------------- */

static float mod__f16_to_f32(uint16_t h) {
    uint32_t sign = MOD__CAST(uint32_t, h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    float f;
    if (exp == 0) {
        /* zero or subnormal: exact in float */
        f = MOD__CAST(float, man) * (1.0f / 16777216.0f);
        return sign ? -f : f;
    }
    if (exp == 31) u = sign | 0x7f800000u | (man << 13);
    else u = sign | ((exp + 112) << 23) | (man << 13);
    memcpy(&f, &u, 4);
    return f;
}
/* f32 -> f16, to nearest with ties to even; beyond the f16 range: infinity; NaN stays NaN */
static uint16_t mod__f32_to_f16(float f) {
    uint32_t u, sign, mag;
    memcpy(&u, &f, 4);
    sign = (u >> 16) & 0x8000u;
    mag = u & 0x7fffffffu;
    if (mag > 0x7f800000u) return MOD__CAST(uint16_t, sign | 0x7e00u | ((mag >> 13) & 0x1ffu)); /* quiet, payload kept where it fits */
    if (mag >= 0x477ff000u) return MOD__CAST(uint16_t, sign | 0x7c00u); /* 65520 and up: past the largest, 65504 */
    if (mag >= 0x38800000u) { /* normal in f16: drop 13 mantissa bits, rounding, and rebias the exponent */
        const uint32_t r = mag + 0xfffu + ((mag >> 13) & 1u);
        return MOD__CAST(uint16_t, sign | ((r - 0x38000000u) >> 13));
    }
    {   /* subnormal (or zero) in f16: a multiple of 2^-24, exact in float after scaling */
        const float a = (f < 0 ? -f : f) * 16777216.0f, fr = a - (float)(uint32_t)a;
        uint32_t i = (uint32_t)a;
        if (fr > 0.5f || (fr == 0.5f && (i & 1u))) i++;
        return MOD__CAST(uint16_t, sign | i);
    }
}
static float mod__bf16_to_f32(uint16_t h) {
    uint32_t u = MOD__CAST(uint32_t, h) << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
#define MOD__INT8_BLOCK 32
#define MOD__Q8_BYTES 34 /* f16 scale + 32 int8 */
#define MOD__INT8X_BYTES 36 /* an activation block: f32 scale + 32 int8 */
#define MOD__Q4_BYTES 18 /* f16 scale + 16 bytes of two 4-bit values each */
/* the f16 scale at the start of a weight block, portably; each backend defines
   MOD__BLOCK_SCALE(p), with a conversion instruction where it has one */
#define MOD__BLOCK_SCALE_PORTABLE(p) mod__f16_to_f32(MOD__CAST(uint16_t, (p)[0] | (p)[1] << 8))

/* Bytes of a rows x cols matrix in a dtype; 0 when the shape cannot be stored in it. */
static uint64_t mod__matrix_bytes(int dtype, uint64_t rows, uint64_t cols, int *ok) {
    if (dtype == MOD_DTYPE_Q8_0) {
        if (cols % MOD__INT8_BLOCK) { *ok = 0; return 0; }
        return mod__mul(rows, mod__mul(cols / MOD__INT8_BLOCK, MOD__Q8_BYTES, ok), ok);
    }
    if (dtype == MOD_DTYPE_Q4_0) {
        if (cols % MOD__INT8_BLOCK) { *ok = 0; return 0; }
        return mod__mul(rows, mod__mul(cols / MOD__INT8_BLOCK, MOD__Q4_BYTES, ok), ok);
    }
    return mod__mul(mod__mul(rows, cols, ok), dtype == MOD_DTYPE_F32 ? 4 : 2, ok);
}

/* ---- one bump allocator for models and sessions --------------------------------------- */

/* With base == NULL it only measures, so the same code computes "memory required". */
typedef struct mod__arena {
    unsigned char *base;
    size_t size, used;
    int overflow;
} mod__arena;

static void *mod__take(mod__arena *a, size_t n) {
    size_t start = (a->used + (MOD__ALIGN - 1)) & ~MOD__CAST(size_t, MOD__ALIGN - 1);
    if (start < a->used || n > SIZE_MAX - start) { a->overflow = 1; return NULL; }
    a->used = start + n;
    if (!a->base) return NULL;
    if (a->used > a->size) { a->overflow = 1; return NULL; }
    return a->base + start;
}
static unsigned char *mod__align_ptr(void *p) {
    uintptr_t u = (uintptr_t)p;
    u = (u + (MOD__ALIGN - 1)) & ~MOD__CAST(uintptr_t, MOD__ALIGN - 1);
    return (unsigned char *)u;
}

/* ======================================================================================= */
/* >>loader    Model: the file's view, validated once, then used in place                */
/* ======================================================================================= */

typedef struct mod__tensor {
    const void *data; /* NULL when absent */
    int dtype;
    int rows, cols;   /* a 1-D tensor has rows == 1 */
} mod__tensor;

typedef struct mod__layer {
    int routed;
    float capacity;
    mod__tensor attn_norm, wq, wk, wv, wo, bq, bk, bv, bo;
    mod__tensor mlp_norm, w_gate, w_up, w_down, b_gate, b_up, b_down;
    mod__tensor router, router_bias;
    mod__tensor pred_w1, pred_b1, pred_w2, pred_b2;
} mod__layer;

typedef struct mod__vocab {
    int kind;              /* MOD__VOCAB_*: 1 byte-level BPE, 2 scored BPE, 3 SentencePiece-style BPE */
    int vocab_size;        /* model vocab size (>= n_tokens) */
    int n_tokens, n_merges, n_sorted;
    int32_t bos, eos;      /* -1 if none */
    int pretokenizer;      /* MOD__PRETOK_*: 0 none, 1 GPT-2 style, 2 Llama 3, 3 Qwen2 */
    unsigned flags;        /* MOD__TOK_*: bit 0 dummy prefix space, bit 1 whole-piece tokens, bit 2 NFC */
    int max_token_len;
    const uint32_t *offsets;  /* n_tokens + 1 */
    const float *scores;      /* n_tokens */
    const uint8_t *types;     /* n_tokens: 0 normal, 1 byte, 2 control */
    const uint32_t *sorted;   /* n_sorted ids of normal tokens in bytewise order */
    const uint32_t *merges;   /* n_merges x (left, right, result, rank), sorted by (left,right) */
    const char *strings;
    int32_t byte_token[256];  /* the token of each single byte, -1 if none */
    /* kind 3 */
    int32_t unk;              /* -1 if none */
    unsigned sp_flags;        /* MOD__SP_* bits */
    int prepend, decode_strip;
    /* the added-token table */
    int n_added;
    const uint32_t *added;    /* n_added x (id, flags, offset, length), ordered by their bytes */
    int max_added_len;
} mod__vocab;

enum { MOD__TOKEN_NORMAL = 0, MOD__TOKEN_BYTE = 1, MOD__TOKEN_CONTROL = 2 };
/* The tokenizer header's flags (docs/FORMAT.md): the llama2.c prefix space, whole-piece tokens
   (ignore_merges) and NFC normalization, the last two for byte-level BPE only. */
enum { MOD__TOK_PREFIX_SPACE = 1, MOD__TOK_WHOLE_PIECE = 2, MOD__TOK_NFC = 4, MOD__TOK_FLAGS_ALL = 7 };
/* The split rules of the tokenizer header's pretokenizer field (docs/FORMAT.md; >>tokenizer). */
enum { MOD__PRETOK_NONE = 0, MOD__PRETOK_GPT2 = 1, MOD__PRETOK_LLAMA3 = 2, MOD__PRETOK_QWEN2 = 3 };
/* the tokenizer kinds of docs/FORMAT.md */
enum { MOD__VOCAB_BYTE_BPE = 1, MOD__VOCAB_SCORED = 2, MOD__VOCAB_SP = 3 };

struct mod_model {
    mod_config cfg;
    const unsigned char *bytes;
    size_t size;
    uint64_t checksum;
    mod__tensor embed, out_norm, output;
    mod__layer *layers;
    int has_vocab;
    mod__vocab vocab;
    const char *chat_template; /* in the file's bytes, chat_template_len of them; NULL: none */
    size_t chat_template_len;
    void *self_alloc;      /* MOD_MALLOC block holding this struct, if any */
    void *file_buffer;     /* MOD_MALLOC block holding the file, if read */
    void *map;             /* mmap'ed file, if mapped */
    size_t map_size;
};

#define MOD__ROLE_NAME(id, name, layer, rows, cols, when) #name,
static const char *const mod__role_names[MOD__ROLE_COUNT] = { MOD__ROLES(MOD__ROLE_NAME) };
#undef MOD__ROLE_NAME

static mod__tensor *mod__slot(mod_model *m, int role, int layer) {
    mod__layer *l = layer >= 0 ? &m->layers[layer] : NULL;
    switch (role) {
    case MOD__ROLE_EMBED: return &m->embed;
    case MOD__ROLE_OUT_NORM: return &m->out_norm;
    case MOD__ROLE_OUTPUT: return &m->output;
    case MOD__ROLE_ATTN_NORM: return &l->attn_norm;
    case MOD__ROLE_Q: return &l->wq;
    case MOD__ROLE_K: return &l->wk;
    case MOD__ROLE_V: return &l->wv;
    case MOD__ROLE_O: return &l->wo;
    case MOD__ROLE_Q_BIAS: return &l->bq;
    case MOD__ROLE_K_BIAS: return &l->bk;
    case MOD__ROLE_V_BIAS: return &l->bv;
    case MOD__ROLE_MLP_NORM: return &l->mlp_norm;
    case MOD__ROLE_GATE: return &l->w_gate;
    case MOD__ROLE_UP: return &l->w_up;
    case MOD__ROLE_DOWN: return &l->w_down;
    case MOD__ROLE_ROUTER: return &l->router;
    case MOD__ROLE_ROUTER_BIAS: return &l->router_bias;
    case MOD__ROLE_PRED_W1: return &l->pred_w1;
    case MOD__ROLE_PRED_B1: return &l->pred_b1;
    case MOD__ROLE_PRED_W2: return &l->pred_w2;
    case MOD__ROLE_O_BIAS: return &l->bo;
    case MOD__ROLE_GATE_BIAS: return &l->b_gate;
    case MOD__ROLE_UP_BIAS: return &l->b_up;
    case MOD__ROLE_DOWN_BIAS: return &l->b_down;
    default: return &l->pred_b2;
    }
}

/* The shape a role must have in this model: rows (0 for a 1-D tensor) x cols. */
static void mod__expected_shape(const mod_config *c, int role, uint64_t *rows, uint64_t *cols) {
    mod__dims m;
    m.v = (uint64_t)c->vocab_size; m.d = (uint64_t)c->dim; m.f = (uint64_t)c->hidden_dim;
    m.qd = (uint64_t)c->n_heads * (uint64_t)c->head_dim; m.kvd = (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim;
    m.fp = (uint64_t)c->predictor_hidden;
    switch (role) {
#define MOD__SHAPE_CASE(id, name, layer, r, k, when) \
    case MOD__ROLE_##id: *rows = MOD__SIZE_##r(m); *cols = MOD__SIZE_##k(m); break;
    MOD__ROLES(MOD__SHAPE_CASE)
#undef MOD__SHAPE_CASE
    default: *rows = 0; *cols = 0; break;
    }
}

/* Is this (role, layer) called for by the config? 1 required, 2 optional, 0 not allowed. */
static int mod__role_wanted(const mod_config *c, const mod__layer *l, int role) {
    const int tied = c->tied_embeddings, routed = l && l->routed, pred = c->decision == MOD_DECISION_PREDICTOR;
    switch (role) {
#define MOD__WANTED_CASE(id, name, layer, r, k, when) \
    case MOD__ROLE_##id: return MOD__WHEN_##when(tied, routed, pred, c->predictor_hidden);
    MOD__ROLES(MOD__WANTED_CASE)
#undef MOD__WANTED_CASE
    default: return 0;
    }
}

/* Reading a record through its table into its struct (see MOD__HEADER_FIELDS). */
#define MOD__GET_U32(v, p) (v) = mod__u32(p)
#define MOD__GET_I32(v, p) (v) = MOD__CAST(int32_t, mod__u32(p))
#define MOD__GET_U64(v, p) (v) = mod__u64(p)
#define MOD__GET_F32(v, p) (v) = mod__f32(p)
#define MOD__GET_U8X4(v, p) memcpy((v), (p), 4)
#define MOD__GET_U32X3(v, p) { int k_; for (k_ = 0; k_ < 3; k_++) (v)[k_] = mod__u32((p) + 4 * k_); }
#define MOD__GET_U32X10(v, p) { int k_; for (k_ = 0; k_ < 10; k_++) (v)[k_] = mod__u32((p) + 4 * k_); }
#define MOD__GET_U64X4(v, p) { int k_; for (k_ = 0; k_ < 4; k_++) (v)[k_] = mod__u64((p) + 8 * k_); }
#define MOD__GET_FIELD(field, offset, type) MOD__GET_##type(r->field, p + (offset));
static void mod__read_header(mod__file_header *r, const unsigned char *p) { MOD__HEADER_FIELDS(MOD__GET_FIELD) }
static void mod__read_layer_entry(mod__layer_entry *r, const unsigned char *p) { MOD__LAYER_ENTRY_FIELDS(MOD__GET_FIELD) }
static void mod__read_tensor_entry(mod__tensor_entry *r, const unsigned char *p) { MOD__TENSOR_ENTRY_FIELDS(MOD__GET_FIELD) }
static void mod__read_tokenizer_header(mod__tokenizer_header *r, const unsigned char *p) { MOD__TOKENIZER_HEADER_FIELDS(MOD__GET_FIELD) }
static void mod__read_tokenizer_sp(mod__tokenizer_sp *r, const unsigned char *p) { MOD__TOKENIZER_SP_FIELDS(MOD__GET_FIELD) }
/* the tables describe the sizes the loader checks */
typedef char mod__header_size_check[MOD__HEADER_BYTES == MOD__HEADER_SIZE && MOD__TENSOR_ENTRY_BYTES == MOD__DIR_ENTRY ? 1 : -1];

/* Reads and checks the header (every field named by MOD__HEADER_FIELDS) and the config. */
static mod_result mod__parse_header(const unsigned char *p, size_t size, mod__file_header *h,
                                    mod_config *c, mod_error *err) {
    unsigned char head[MOD__HEADER_BYTES];
    unsigned hsize;
    int i, v1;
    if (!mod__is_little_endian())
        return mod__fail(err, MOD_ERR_UNSUPPORTED, "this build runs on little-endian machines only");
    if (size < MOD__HEADER_AT_checksum) /* the magic and the version */
        return mod__fail(err, MOD_ERR_TRUNCATED, "file is %U bytes, too short for a header", (uint64_t)size);
    memset(head, 0, sizeof head);
    memcpy(head, p, size < sizeof head ? size : sizeof head);
    mod__read_header(h, head);
    if (memcmp(h->magic, MOD__MAGIC, 4) != 0) return mod__fail(err, MOD_ERR_BAD_MAGIC, "bad magic: the file does not start with \"MODH\"");
    if (h->version != MOD__FORMAT_VERSION_V1 && h->version != MOD__FORMAT_VERSION)
        return mod__fail(err, MOD_ERR_BAD_VERSION, "file version %u; this library reads versions 1 and 2", h->version);
    v1 = h->version == MOD__FORMAT_VERSION_V1;
    hsize = v1 ? MOD__HEADER_BYTES_V1 : MOD__HEADER_BYTES;
    if (size < hsize) return mod__fail(err, MOD_ERR_TRUNCATED, "file is %U bytes, too short for the %u-byte header of version %u", (uint64_t)size, hsize, h->version);
    if (h->header_size != hsize)
        return mod__fail(err, MOD_ERR_CORRUPT, "header_size is %u, version %u requires %u", h->header_size, h->version, hsize);
    if (h->file_size > size)
        return mod__fail(err, MOD_ERR_TRUNCATED, "file is truncated: header says %U bytes, %U present", h->file_size, (uint64_t)size);
    if (h->file_size < size)
        return mod__fail(err, MOD_ERR_CORRUPT, "header says %U bytes but %U are present", h->file_size, (uint64_t)size);
    for (i = 0; i < 3; i++)
        if (h->reserved[i] != 0) return mod__fail(err, MOD_ERR_CORRUPT, "reserved header field at offset %d is not zero", MOD__HEADER_AT_reserved + 4 * i);
    if (v1) { /* version 1's model: the defaults of version 2's fields (the bytes read there are not the header's) */
        h->head_dim = h->n_heads >= 1 && h->n_heads <= h->dim ? h->dim / h->n_heads : 0;
        h->activation = 0; h->norm_offset = 0; h->embed_scale = 1.0f;
        h->rope_scaling = 0; h->rope_factor = h->rope_low_freq_factor = h->rope_high_freq_factor = 0.0f;
        h->rope_original_max_pos = 0; h->sliding_window = 0;
        h->chat_template_offset = h->chat_template_size = 0;
        for (i = 0; i < 10; i++) h->reserved2[i] = 0;
    }
    for (i = 0; i < 10; i++)
        if (h->reserved2[i] != 0) return mod__fail(err, MOD_ERR_CORRUPT, "reserved header field at offset %d is not zero", MOD__HEADER_AT_reserved2 + 4 * i);
    memset(c, 0, sizeof *c);
    if (h->vocab_size < 1 || h->vocab_size > MOD__MAX_VOCAB) return mod__fail(err, MOD_ERR_CORRUPT, "vocab_size %u is out of range [1, %d]", h->vocab_size, MOD__MAX_VOCAB);
    if (h->dim < 2 || h->dim > MOD__MAX_DIM) return mod__fail(err, MOD_ERR_CORRUPT, "dim %u is out of range [2, %d]", h->dim, MOD__MAX_DIM);
    if (h->n_layers < 1 || h->n_layers > MOD__MAX_LAYERS) return mod__fail(err, MOD_ERR_CORRUPT, "n_layers %u is out of range [1, %d]", h->n_layers, MOD__MAX_LAYERS);
    if (v1) {
        if (h->n_heads < 1 || h->n_heads > h->dim || h->dim % h->n_heads) return mod__fail(err, MOD_ERR_CORRUPT, "n_heads %u does not divide dim %u", h->n_heads, h->dim);
        if ((h->dim / h->n_heads) % 2) return mod__fail(err, MOD_ERR_CORRUPT, "head size %u (dim / n_heads) is odd; RoPE needs it even", h->dim / h->n_heads);
    } else {
        /* version 2: the head size is its own field; the query width n_heads x head_dim need not be dim */
        if (h->n_heads < 1 || h->n_heads > MOD__MAX_DIM) return mod__fail(err, MOD_ERR_CORRUPT, "n_heads %u is out of range [1, %d]", h->n_heads, MOD__MAX_DIM);
        if (h->head_dim < 2 || h->head_dim > MOD__MAX_DIM || h->head_dim % 2)
            return mod__fail(err, MOD_ERR_CORRUPT, "head_dim %u is not an even number in [2, %d]; RoPE needs it even", h->head_dim, MOD__MAX_DIM);
        if ((uint64_t)h->n_heads * h->head_dim > MOD__MAX_DIM)
            return mod__fail(err, MOD_ERR_CORRUPT, "n_heads %u x head_dim %u is more than %d", h->n_heads, h->head_dim, MOD__MAX_DIM);
    }
    if (h->n_kv_heads < 1 || h->n_kv_heads > h->n_heads || h->n_heads % h->n_kv_heads) return mod__fail(err, MOD_ERR_CORRUPT, "n_kv_heads %u does not divide n_heads %u", h->n_kv_heads, h->n_heads);
    if (h->hidden_dim < 1 || h->hidden_dim > MOD__MAX_DIM * 4u) return mod__fail(err, MOD_ERR_CORRUPT, "hidden_dim %u is out of range", h->hidden_dim);
    if (h->max_seq_len < 1 || h->max_seq_len > MOD__MAX_SEQ) return mod__fail(err, MOD_ERR_CORRUPT, "max_seq_len %u is out of range [1, %d]", h->max_seq_len, MOD__MAX_SEQ);
    c->vocab_size = (int)h->vocab_size; c->dim = (int)h->dim; c->n_layers = (int)h->n_layers;
    c->n_heads = (int)h->n_heads; c->n_kv_heads = (int)h->n_kv_heads; c->head_dim = (int)h->head_dim;
    c->hidden_dim = (int)h->hidden_dim; c->max_seq_len = (int)h->max_seq_len;
    c->norm_eps = h->norm_eps;
    c->rope_theta = h->rope_theta;
    if (!(c->norm_eps > 0.0f && c->norm_eps <= FLT_MAX)) return mod__fail(err, MOD_ERR_CORRUPT, "norm_eps is not a positive finite number");
    if (!(c->rope_theta > 0.0f && c->rope_theta <= FLT_MAX)) return mod__fail(err, MOD_ERR_CORRUPT, "rope_theta is not a positive finite number");
    if (h->tied_embeddings > 1) return mod__fail(err, MOD_ERR_CORRUPT, "tied_embeddings is %u, must be 0 or 1", h->tied_embeddings);
    if (h->router_input > 1) return mod__fail(err, MOD_ERR_CORRUPT, "router_input is %u, must be 0 (residual) or 1 (normed)", h->router_input);
    if (h->router_scale > 1) return mod__fail(err, MOD_ERR_CORRUPT, "router_scale is %u, must be 0 (identity) or 1 (sigmoid)", h->router_scale);
    if (h->combine > 1) return mod__fail(err, MOD_ERR_CORRUPT, "combine is %u, must be 0 (delta) or 1 (mlp)", h->combine);
    if (h->positions > 1) return mod__fail(err, MOD_ERR_CORRUPT, "positions is %u, must be 0 (absolute) or 1 (compacted)", h->positions);
    if (h->decision > 1) return mod__fail(err, MOD_ERR_CORRUPT, "decision is %u, must be 0 (router) or 1 (predictor)", h->decision);
    if (h->predictor_hidden > MOD__MAX_DIM * 4u) return mod__fail(err, MOD_ERR_CORRUPT, "predictor_hidden %u is out of range", h->predictor_hidden);
    /* version 2's fields */
    if (h->activation > 1) return mod__fail(err, MOD_ERR_CORRUPT, "activation is %u, must be 0 (silu) or 1 (gelu_tanh)", h->activation);
    if (h->norm_offset > 1) return mod__fail(err, MOD_ERR_CORRUPT, "norm_offset is %u, must be 0 (gain w) or 1 (gain 1 + w)", h->norm_offset);
    if (!(h->embed_scale > 0.0f && h->embed_scale <= FLT_MAX)) return mod__fail(err, MOD_ERR_CORRUPT, "embed_scale %f is not a positive finite number (1: unscaled)", (double)h->embed_scale);
    if (h->rope_scaling > 2) return mod__fail(err, MOD_ERR_CORRUPT, "rope_scaling is %u, must be 0 (none), 1 (linear) or 2 (llama3)", h->rope_scaling);
    if (h->rope_scaling == 0 && (h->rope_factor != 0.0f || h->rope_low_freq_factor != 0.0f || h->rope_high_freq_factor != 0.0f || h->rope_original_max_pos != 0))
        return mod__fail(err, MOD_ERR_CORRUPT, "rope_scaling is 0 (none) but rope_factor, rope_low_freq_factor, rope_high_freq_factor or rope_original_max_pos is not 0");
    if (h->rope_scaling != 0 && !(h->rope_factor > 0.0f && h->rope_factor <= FLT_MAX))
        return mod__fail(err, MOD_ERR_CORRUPT, "rope_factor %f is not a positive finite number", (double)h->rope_factor);
    if (h->rope_scaling == 1 && (h->rope_low_freq_factor != 0.0f || h->rope_high_freq_factor != 0.0f || h->rope_original_max_pos != 0))
        return mod__fail(err, MOD_ERR_CORRUPT, "rope_scaling is 1 (linear) but rope_low_freq_factor, rope_high_freq_factor or rope_original_max_pos is not 0");
    if (h->rope_scaling == 2) {
        if (!(h->rope_low_freq_factor > 0.0f && h->rope_low_freq_factor <= FLT_MAX))
            return mod__fail(err, MOD_ERR_CORRUPT, "rope_low_freq_factor %f is not a positive finite number", (double)h->rope_low_freq_factor);
        if (!(h->rope_high_freq_factor > h->rope_low_freq_factor && h->rope_high_freq_factor <= FLT_MAX))
            return mod__fail(err, MOD_ERR_CORRUPT, "rope_high_freq_factor %f is not a finite number above rope_low_freq_factor %f",
                             (double)h->rope_high_freq_factor, (double)h->rope_low_freq_factor);
        if (h->rope_original_max_pos < 1 || h->rope_original_max_pos > MOD__MAX_SEQ)
            return mod__fail(err, MOD_ERR_CORRUPT, "rope_original_max_pos %u is out of range [1, %d]", h->rope_original_max_pos, MOD__MAX_SEQ);
    }
    if (h->sliding_window > MOD__MAX_SEQ) return mod__fail(err, MOD_ERR_CORRUPT, "sliding_window %u is out of range [0, %d] (0: none)", h->sliding_window, MOD__MAX_SEQ);
    c->activation = MOD__CAST(mod_activation, h->activation);
    c->norm_offset = (int)h->norm_offset;
    c->embed_scale = h->embed_scale;
    c->rope_scaling = MOD__CAST(mod_rope_scaling, h->rope_scaling);
    c->rope_factor = h->rope_factor; c->rope_low_freq_factor = h->rope_low_freq_factor;
    c->rope_high_freq_factor = h->rope_high_freq_factor; c->rope_original_max_pos = (int)h->rope_original_max_pos;
    c->sliding_window = (int)h->sliding_window;
    c->tied_embeddings = (int)h->tied_embeddings;
    c->router_input = MOD__CAST(mod_router_input, h->router_input);
    c->router_scale = MOD__CAST(mod_router_scale, h->router_scale);
    c->combine = MOD__CAST(mod_combine, h->combine);
    c->positions = MOD__CAST(mod_positions, h->positions);
    c->decision = MOD__CAST(mod_decision, h->decision);
    c->predictor_hidden = (int)h->predictor_hidden;
    c->threshold = h->threshold;
    if (!(c->threshold >= -FLT_MAX && c->threshold <= FLT_MAX)) return mod__fail(err, MOD_ERR_CORRUPT, "threshold is not finite");
    if (h->n_tensors > 3u + (unsigned)(MOD__ROLE_COUNT - MOD__ROLE_ATTN_NORM) * h->n_layers) return mod__fail(err, MOD_ERR_CORRUPT, "n_tensors %u is more than %u blocks can have", h->n_tensors, h->n_layers);
    /* sections: inside the file, aligned, not overlapping */
    {
        uint64_t lay_len = (uint64_t)MOD__LAYER_ENTRY_BYTES * h->n_layers, dir_len = (uint64_t)MOD__TENSOR_ENTRY_BYTES * h->n_tensors;
        uint64_t off[5], len[5];
        const char *names[5] = { "layer table", "tensor directory", "tokenizer", "tensor data", "chat template" };
        int a, b;
        off[0] = h->layer_table_offset; len[0] = lay_len;
        off[1] = h->tensor_dir_offset; len[1] = dir_len;
        off[2] = h->tokenizer_offset; len[2] = h->tokenizer_size;
        off[3] = h->data_offset; len[3] = h->data_size;
        off[4] = h->chat_template_offset; len[4] = h->chat_template_size;
        if (h->tokenizer_size == 0 && h->tokenizer_offset != 0) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer_offset is set but tokenizer_size is 0");
        if (h->chat_template_size == 0 && h->chat_template_offset != 0) return mod__fail(err, MOD_ERR_CORRUPT, "chat_template_offset is set but chat_template_size is 0");
        if (h->chat_template_size > MOD__MAX_CHAT_TEMPLATE)
            return mod__fail(err, MOD_ERR_CORRUPT, "chat_template_size %U is more than %d", h->chat_template_size, MOD__MAX_CHAT_TEMPLATE);
        if (h->chat_template_size && h->tokenizer_size == 0) return mod__fail(err, MOD_ERR_CORRUPT, "the file has a chat template but no tokenizer");
        for (a = 0; a < 5; a++) {
            uint64_t align = a == 3 ? MOD__DATA_ALIGN : MOD__SECTION_ALIGN;
            if ((a == 2 || a == 4) && len[a] == 0) continue;
            if (off[a] % align) return mod__fail(err, MOD_ERR_CORRUPT, "%s offset %U is not a multiple of %U", names[a], off[a], align);
            if (off[a] < h->header_size && len[a] > 0) return mod__fail(err, MOD_ERR_CORRUPT, "%s overlaps the header", names[a]);
            if (!mod__in_bounds(off[a], len[a], h->file_size))
                return mod__fail(err, MOD_ERR_TRUNCATED, "%s [%U, +%U) runs past the end of the file", names[a], off[a], len[a]);
        }
        if (h->data_offset + h->data_size != h->file_size)
            return mod__fail(err, MOD_ERR_CORRUPT, "the tensor data must end the file: it ends at %U, the file at %U", h->data_offset + h->data_size, h->file_size);
        for (a = 0; a < 5; a++)
            for (b = a + 1; b < 5; b++) {
                if (len[a] == 0 || len[b] == 0) continue;
                if (off[a] < off[b] + len[b] && off[b] < off[a] + len[a])
                    return mod__fail(err, MOD_ERR_CORRUPT, "%s and %s overlap", names[a], names[b]);
            }
    }
    return MOD_OK;
}

static size_t mod__model_struct_bytes(const mod_config *c) {
    mod__arena a;
    memset(&a, 0, sizeof a);
    mod__take(&a, sizeof(mod_model));
    mod__take(&a, sizeof(mod__layer) * (size_t)c->n_layers);
    return a.used + MOD__ALIGN; /* room to align the caller's arena */
}

mod_result mod_model_memory_required(const void *data, size_t size, size_t *bytes, mod_error *err) {
    mod__file_header h;
    mod_config c;
    mod_result r;
    if (!data || !bytes) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "data and bytes must not be NULL");
    r = mod__parse_header(MOD__CAST(const unsigned char *, data), size, &h, &c, err);
    if (r) return r;
    *bytes = mod__model_struct_bytes(&c);
    return MOD_OK;
}

static mod_result mod__load_layers(mod_model *m, const unsigned char *p, const mod__file_header *h, mod_error *err) {
    mod_config *c = &m->cfg;
    int i;
    for (i = 0; i < c->n_layers; i++) {
        mod__layer_entry le;
        uint32_t routed;
        float cap;
        mod__read_layer_entry(&le, p + h->layer_table_offset + (uint64_t)MOD__LAYER_ENTRY_BYTES * (unsigned)i);
        routed = le.routed;
        cap = le.capacity;
        if (routed > 1) return mod__fail(err, MOD_ERR_CORRUPT, "layer %d: routed is %u, must be 0 or 1", i, routed);
        if (routed && !(cap > 0.0f && cap <= 1.0f)) return mod__fail(err, MOD_ERR_CORRUPT, "layer %d: capacity is not in (0, 1]", i);
        if (!routed && cap != 0.0f) return mod__fail(err, MOD_ERR_CORRUPT, "layer %d: a dense block must have capacity 0", i);
        m->layers[i].routed = (int)routed;
        m->layers[i].capacity = cap;
        c->n_routed += (int)routed;
    }
    /* Without a predictor no tensor has the predictor's width, so the field is read as 0:
       nothing the file does not back with tensors may size a session. */
    if (c->decision != MOD_DECISION_PREDICTOR || c->n_routed == 0) c->predictor_hidden = 0;
    return MOD_OK;
}

static mod_result mod__load_tensors(mod_model *m, const unsigned char *p, const mod__file_header *h, mod_error *err) {
    const mod_config *c = &m->cfg;
    const unsigned char *data = p + h->data_offset;
    uint64_t prev_end = 0;
    uint32_t t;
    int i, role;
    for (t = 0; t < h->n_tensors; t++) {
        mod__tensor_entry te;
        uint32_t r, layer, dtype, nd;
        uint64_t *dims = te.dims, off, nbytes, want_rows, want_cols, count;
        int ok = 1, global;
        mod__tensor *slot;
        const char *name;
        mod__read_tensor_entry(&te, p + h->tensor_dir_offset + (uint64_t)MOD__TENSOR_ENTRY_BYTES * t);
        r = te.role; layer = te.layer; dtype = te.dtype; nd = te.n_dims; off = te.offset; nbytes = te.size;
        if (r >= MOD__ROLE_COUNT) return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u: unknown role %u", t, r);
        name = mod__role_names[r];
        if (h->version == MOD__FORMAT_VERSION_V1 && r > MOD__ROLE_LAST_V1)
            return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u: role %u (%s) needs a version 2 file", t, r, name);
        global = r <= MOD__ROLE_OUTPUT;
        if (global && layer != MOD__MODEL_WIDE) return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s): a model-wide tensor must have layer 0xFFFFFFFF", t, name);
        if (!global && layer >= (uint32_t)c->n_layers) return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s): layer %u is out of range", t, name, layer);
        if (dtype >= MOD_DTYPE_COUNT) return mod__fail(err, MOD_ERR_UNSUPPORTED, "tensor %u (%s): unsupported dtype %u", t, name, dtype);
        if (nd < 1 || nd > 2) return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s): n_dims %u, must be 1 or 2", t, name, nd);
        for (i = (int)nd; i < 4; i++)
            if (dims[i] != 0) return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s): unused dims must be 0", t, name);
        mod__expected_shape(c, (int)r, &want_rows, &want_cols);
        if (want_rows ? (nd != 2 || dims[0] != want_rows || dims[1] != want_cols) : (nd != 1 || dims[0] != want_cols)) {
            if (want_rows)
                return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s, layer %d): shape must be [%U, %U]", t, name, global ? -1 : (int)layer, want_rows, want_cols);
            return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s, layer %d): shape must be [%U]", t, name, global ? -1 : (int)layer, want_cols);
        }
        if (!want_rows && dtype != MOD_DTYPE_F32) return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s): one-dimensional tensors must be f32", t, name);
        if (dtype == MOD_DTYPE_Q8_0 && want_cols % MOD__INT8_BLOCK)
            return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s): q8_0 needs a multiple of 32 columns, not %U", t, name, want_cols);
        if (dtype == MOD_DTYPE_Q4_0 && want_cols % MOD__INT8_BLOCK)
            return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s): q4_0 needs a multiple of 32 columns, not %U", t, name, want_cols);
        count = mod__matrix_bytes((int)dtype, want_rows ? want_rows : 1, want_cols, &ok);
        if (!ok || count != nbytes) return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s): size %U bytes does not match its shape and dtype", t, name, nbytes);
        if (off % MOD__DATA_ALIGN) return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s): offset %U is not a multiple of 64", t, name, off);
        if (!mod__in_bounds(off, nbytes, h->data_size)) return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s): data [%U, +%U) lies outside the data section", t, name, off, nbytes);
        if (off < prev_end) return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s): overlaps the previous tensor or is out of offset order", t, name);
        prev_end = off + nbytes;
        if (!global && !mod__role_wanted(c, &m->layers[layer], (int)r))
            return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s): not expected in layer %u with this configuration", t, name, layer);
        if (global && !mod__role_wanted(c, NULL, (int)r))
            return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s): not expected with tied embeddings", t, name);
        slot = mod__slot(m, (int)r, global ? -1 : (int)layer);
        if (slot->data) return mod__fail(err, MOD_ERR_CORRUPT, "tensor %u (%s, layer %d) appears twice", t, name, global ? -1 : (int)layer);
        slot->data = data + off;
        slot->dtype = (int)dtype;
        slot->rows = want_rows ? (int)want_rows : 1;
        slot->cols = (int)want_cols;
    }
    /* everything required is present; biases come as a set */
    for (role = 0; role <= MOD__ROLE_OUTPUT; role++)
        if (mod__role_wanted(c, NULL, role) == 1 && !mod__slot(m, role, -1)->data)
            return mod__fail(err, MOD_ERR_CORRUPT, "missing tensor %s", mod__role_names[role]);
    for (i = 0; i < c->n_layers; i++) {
        mod__layer *l = &m->layers[i];
        int nb;
        for (role = MOD__ROLE_ATTN_NORM; role < MOD__ROLE_COUNT; role++)
            if (mod__role_wanted(c, l, role) == 1 && !mod__slot(m, role, i)->data)
                return mod__fail(err, MOD_ERR_CORRUPT, "missing tensor %s in layer %d", mod__role_names[role], i);
        nb = (l->bq.data != NULL) + (l->bk.data != NULL) + (l->bv.data != NULL);
        if (nb != 0 && nb != 3) return mod__fail(err, MOD_ERR_CORRUPT, "layer %d has some but not all of the q/k/v biases", i);
        nb = (l->b_gate.data != NULL) + (l->b_up.data != NULL) + (l->b_down.data != NULL);
        if (nb != 0 && nb != 3) return mod__fail(err, MOD_ERR_CORRUPT, "layer %d has some but not all of the mlp gate/up/down biases", i);
    }
    return MOD_OK;
}

/* Compares the bytes of two tokens: memcmp order, a proper prefix first. */
static int mod__bytes_cmp(const char *a, size_t an, const char *b, size_t bn) {
    int d = memcmp(a, b, an < bn ? an : bn);
    if (d) return d;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

static mod_result mod__load_vocab(mod_model *m, const unsigned char *p, const mod__file_header *h, mod_error *err) {
    mod__vocab *v = &m->vocab;
    const unsigned char *s = p + h->tokenizer_offset;
    uint64_t size = h->tokenizer_size, pos = MOD__TOKENIZER_HEADER_BYTES, need, strings_size;
    uint32_t n_tokens, n_merges, n_sorted, i, max_len = 0;
    int ok = 1;
    int32_t bos, eos;
    mod__tokenizer_header th;
    memset(v, 0, sizeof *v);
    if (size < MOD__TOKENIZER_HEADER_BYTES) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: section is %U bytes, shorter than its 48-byte header", size);
    mod__read_tokenizer_header(&th, s);
    v->kind = (int)th.kind;
    n_tokens = th.n_tokens;
    n_merges = th.n_merges;
    bos = th.bos_id;
    eos = th.eos_id;
    v->pretokenizer = (int)th.pretokenizer;
    v->flags = th.flags;
    n_sorted = th.n_sorted;
    strings_size = th.strings_size;
    v->max_token_len = (int)th.max_token_len;
    if (v->kind < 1 || v->kind > 3) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: unknown kind %d", v->kind);
    v->unk = -1;
    /* kind 1's and 2's added tokens are counted in the header, kind 3's in its record */
    if (th.n_added && v->kind == MOD__VOCAB_SP) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: the header's n_added is for kinds 1 and 2 only, it must be 0");
    if (th.n_added > n_tokens) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: n_added %u exceeds n_tokens", th.n_added);
    v->n_added = (int)th.n_added;
    if (v->kind == MOD__VOCAB_SP) {
        mod__tokenizer_sp sp;
        if (size < pos + MOD__TOKENIZER_SP_BYTES) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: section is %U bytes, too short for kind 3's %d-byte record", size, MOD__TOKENIZER_HEADER_BYTES + MOD__TOKENIZER_SP_BYTES);
        mod__read_tokenizer_sp(&sp, s + pos);
        pos += MOD__TOKENIZER_SP_BYTES;
        if (sp.unk_id < -1 || sp.unk_id >= (int32_t)n_tokens) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: unk_id %d is out of range", (int)sp.unk_id);
        if (sp.model_flags & ~(uint32_t)MOD__SP_FLAGS_ALL) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: reserved model_flags bits are set");
        if (sp.prepend > MOD__SP_PREPEND_EACH) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: unknown prepend rule %u", sp.prepend);
        if (sp.decode_strip > MOD__SP_STRIP_FIRST_TOKEN) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: unknown decode_strip rule %u", sp.decode_strip);
        if (sp.n_added > n_tokens) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: n_added %u exceeds n_tokens", sp.n_added);
        if (sp.reserved[0] || sp.reserved[1] || sp.reserved[2]) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: kind 3's reserved fields are not zero");
        if (th.pretokenizer || th.flags) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: kind 3 uses neither pretokenizer nor flags, both must be 0");
        v->unk = sp.unk_id;
        v->sp_flags = sp.model_flags;
        v->prepend = (int)sp.prepend;
        v->decode_strip = (int)sp.decode_strip;
        v->n_added = (int)sp.n_added;
    }
    if (n_tokens < 1 || n_tokens > (uint32_t)m->cfg.vocab_size) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: n_tokens %u is not in [1, vocab_size]", n_tokens);
    if (v->kind == MOD__VOCAB_SCORED && n_merges) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: scored BPE has no merge table, n_merges is %u", n_merges);
    if (th.pretokenizer > MOD__PRETOK_QWEN2 || (v->kind != MOD__VOCAB_BYTE_BPE && v->pretokenizer)) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: bad pretokenizer %u", th.pretokenizer);
    if (v->flags & ~MOD__CAST(unsigned, MOD__TOK_FLAGS_ALL)) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: reserved flag bits are set");
    if (v->kind != MOD__VOCAB_BYTE_BPE && (v->flags & (MOD__TOK_WHOLE_PIECE | MOD__TOK_NFC)))
        return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: flag bits 1 (whole-piece tokens) and 2 (NFC) are for byte-level BPE only");
#ifdef MOD_NO_UNICODE_TABLES
    if (v->flags & MOD__TOK_NFC)
        return mod__fail(err, MOD_ERR_UNSUPPORTED, "tokenizer: NFC normalization needs the Unicode tables, which this build leaves out (MOD_NO_UNICODE_TABLES)");
    if (th.pretokenizer == MOD__PRETOK_LLAMA3 || th.pretokenizer == MOD__PRETOK_QWEN2)
        return mod__fail(err, MOD_ERR_UNSUPPORTED, "tokenizer: the %s split pattern needs the Unicode tables, which this build leaves out (MOD_NO_UNICODE_TABLES)",
                         th.pretokenizer == MOD__PRETOK_LLAMA3 ? "Llama 3" : "Qwen2");
#endif
    if (v->max_token_len < 1 || v->max_token_len > MOD__MAX_TOKEN_LEN) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: max_token_len %d is not in [1, 1024]", v->max_token_len);
    if (bos < -1 || bos >= (int32_t)n_tokens || eos < -1 || eos >= (int32_t)n_tokens) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: bos or eos id out of range");
    if (n_sorted > n_tokens) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: n_sorted %u exceeds n_tokens", n_sorted);
    /* array sizes: every term is bounded by 2^24 * 16, so no overflow, but check anyway */
    need = pos;
    v->offsets = MOD__CAST(const uint32_t *, MOD__CAST(const void *, s + need));
    need = mod__add(need, mod__mul(4, (uint64_t)n_tokens + 1, &ok), &ok);
    v->scores = MOD__CAST(const float *, MOD__CAST(const void *, s + (ok && need <= size ? need : 0)));
    need = mod__add(need, 4ull * n_tokens, &ok);
    v->types = MOD__CAST(const uint8_t *, MOD__CAST(const void *, s + (ok && need <= size ? need : 0)));
    need = mod__add(need, ((uint64_t)n_tokens + 3) & ~3ull, &ok);
    v->sorted = MOD__CAST(const uint32_t *, MOD__CAST(const void *, s + (ok && need <= size ? need : 0)));
    need = mod__add(need, 4ull * n_sorted, &ok);
    v->merges = MOD__CAST(const uint32_t *, MOD__CAST(const void *, s + (ok && need <= size ? need : 0)));
    need = mod__add(need, mod__mul(16, n_merges, &ok), &ok);
    v->added = MOD__CAST(const uint32_t *, MOD__CAST(const void *, s + (ok && need <= size ? need : 0)));
    need = mod__add(need, (uint64_t)MOD__ADDED_TOKEN_BYTES * (uint64_t)v->n_added, &ok);
    v->strings = MOD__CAST(const char *, MOD__CAST(const void *, s + (ok && need <= size ? need : 0)));
    need = mod__add(need, strings_size, &ok);
    if (!ok || need > size) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: its arrays need %U bytes, the section has %U", need, size);
    v->n_tokens = (int)n_tokens; v->n_merges = (int)n_merges; v->n_sorted = (int)n_sorted;
    v->bos = bos; v->eos = eos; v->vocab_size = m->cfg.vocab_size;
    for (i = 0; i < 256; i++) v->byte_token[i] = -1;
    /* the added tokens' texts follow the token strings in the blob */
    if (v->offsets[0] != 0 || (v->kind == MOD__VOCAB_SP || v->n_added ? v->offsets[n_tokens] > strings_size : v->offsets[n_tokens] != strings_size))
        return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: string offsets do not span the string blob");
    for (i = 0; i < n_tokens; i++) {
        uint32_t a = v->offsets[i], b = v->offsets[i + 1], len;
        unsigned ty = v->types[i];
        if (b < a || b > strings_size) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: token %u has a string offset out of order or past the blob", i);
        len = b - a;
        if (len > (uint32_t)v->max_token_len) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: token %u is %u bytes, longer than max_token_len", i, len);
        if (len > max_len) max_len = len;
        if (ty > MOD__TOKEN_CONTROL) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: token %u has unknown type %u", i, ty);
        if (ty == MOD__TOKEN_NORMAL && len == 0) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: normal token %u is empty", i);
        if (ty == MOD__TOKEN_BYTE) {
            unsigned char byte;
            if (len != 1) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: byte token %u is not exactly one byte", i);
            byte = MOD__CAST(unsigned char, v->strings[a]);
            if (v->kind != MOD__VOCAB_BYTE_BPE && v->byte_token[byte] < 0) v->byte_token[byte] = (int32_t)i;
        }
        if (!(v->scores[i] >= -FLT_MAX && v->scores[i] <= FLT_MAX)) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: token %u has a non-finite score", i);
    }
    (void)max_len;
    for (i = 0; i < n_sorted; i++) {
        uint32_t id = v->sorted[i];
        if (id >= n_tokens || v->types[id] != MOD__TOKEN_NORMAL) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: sorted index entry %u is not a normal token", i);
        if (i > 0) {
            uint32_t pid = v->sorted[i - 1];
            if (mod__bytes_cmp(v->strings + v->offsets[pid], v->offsets[pid + 1] - v->offsets[pid],
                               v->strings + v->offsets[id], v->offsets[id + 1] - v->offsets[id]) >= 0)
                return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: sorted index is not strictly ordered at entry %u", i);
        }
        if (v->kind == MOD__VOCAB_BYTE_BPE && v->offsets[id + 1] - v->offsets[id] == 1)
            v->byte_token[MOD__CAST(unsigned char, v->strings[v->offsets[id]])] = (int32_t)id;
    }
    {   /* every normal token must be in the index, or lookups would miss it */
        uint32_t normal = 0;
        for (i = 0; i < n_tokens; i++) normal += v->types[i] == MOD__TOKEN_NORMAL;
        if (normal != n_sorted) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: %u normal tokens but %u in the sorted index", normal, n_sorted);
    }
    for (i = 0; i < n_merges; i++) {
        const uint32_t *e = v->merges + 4 * (size_t)i;
        uint32_t la, lb, lr;
        if (e[0] >= n_tokens || e[1] >= n_tokens || e[2] >= n_tokens) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: merge %u names a token id out of range", i);
        if (v->types[e[0]] != MOD__TOKEN_NORMAL || v->types[e[1]] != MOD__TOKEN_NORMAL || v->types[e[2]] != MOD__TOKEN_NORMAL)
            return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: merge %u involves a non-normal token", i);
        if (i > 0 && (e[-4] > e[0] || (e[-4] == e[0] && e[-3] >= e[1]))) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: merges are not ordered by (left, right) at %u", i);
        la = v->offsets[e[0] + 1] - v->offsets[e[0]];
        lb = v->offsets[e[1] + 1] - v->offsets[e[1]];
        lr = v->offsets[e[2] + 1] - v->offsets[e[2]];
        if (lr != la + lb || memcmp(v->strings + v->offsets[e[2]], v->strings + v->offsets[e[0]], la) != 0 ||
            memcmp(v->strings + v->offsets[e[2]] + la, v->strings + v->offsets[e[1]], lb) != 0)
            return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: merge %u: result is not left followed by right", i);
    }
    for (i = 0; i < (uint32_t)v->n_added; i++) {
        const uint32_t *a = v->added + 4 * (size_t)i;
        const uint64_t lo = v->offsets[n_tokens];
        if (a[0] >= n_tokens) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: added token %u has id %u, not below n_tokens", i, a[0]);
        if (a[1] & ~(uint32_t)MOD__ADDED_SPECIAL) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: added token %u has reserved flag bits set", i);
        if ((a[1] & MOD__ADDED_SPECIAL) && v->types[a[0]] != MOD__TOKEN_CONTROL) return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: special added token %u is not a control token", i);
        if (a[3] < 1 || a[3] > MOD__MAX_TOKEN_LEN || a[2] < lo || (uint64_t)a[2] + a[3] > strings_size)
            return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: added token %u's text is empty, too long or outside the added texts", i);
        if (i > 0 && mod__bytes_cmp(v->strings + a[-2], a[-1], v->strings + a[2], a[3]) >= 0)
            return mod__fail(err, MOD_ERR_CORRUPT, "tokenizer: added tokens are not strictly ordered by their bytes at %u", i);
        if ((int)a[3] > v->max_added_len) v->max_added_len = (int)a[3];
    }
    return MOD_OK;
}

mod_result mod_model_load_memory(mod_model **out, const void *data, size_t size,
                                 const mod_model_desc *desc, mod_error *err) {
    const unsigned char *p = MOD__CAST(const unsigned char *, data);
    mod_model_desc d;
    mod__file_header h;
    mod_config c;
    mod__arena a;
    mod_model *m;
    void *block = NULL;
    mod_result r;
    size_t need;
    if (err) { err->code = MOD_OK; err->message[0] = 0; }
    if (!out) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "model output pointer is NULL");
    *out = NULL;
    if (!data) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "data is NULL");
    if ((uintptr_t)data % 16) return mod__fail(err, MOD_ERR_ALIGNMENT, "model bytes start at an address that is not 16-byte aligned");
    memset(&d, 0, sizeof d);
    if (desc) d = *desc;
    if (d.flags & ~(MOD_LOAD_VERIFY_CHECKSUM | MOD_LOAD_NO_MMAP)) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "unknown load flags");
    memset(&h, 0, sizeof h);
    r = mod__parse_header(p, size, &h, &c, err);
    if (r) return r;
    if ((d.flags & MOD_LOAD_VERIFY_CHECKSUM) && mod__fnv1a(p + MOD__CHECKSUM_FROM, (size_t)h.file_size - MOD__CHECKSUM_FROM) != h.checksum)
        return mod__fail(err, MOD_ERR_CHECKSUM, "checksum mismatch: the file is damaged");
    need = mod__model_struct_bytes(&c);
    memset(&a, 0, sizeof a);
    if (d.arena) {
        unsigned char *base = mod__align_ptr(d.arena);
        size_t lost = (size_t)(base - MOD__CAST(unsigned char *, d.arena));
        if (d.arena_size < need || lost > d.arena_size) return mod__fail(err, MOD_ERR_OUT_OF_MEMORY, "model arena is %U bytes, %U needed", (uint64_t)d.arena_size, (uint64_t)need);
        a.base = base; a.size = d.arena_size - lost;
    } else {
        block = MOD_MALLOC(need);
        if (!block) return mod__fail(err, MOD_ERR_OUT_OF_MEMORY, "cannot allocate %U bytes for the model", (uint64_t)need);
        a.base = mod__align_ptr(block); a.size = need - MOD__ALIGN;
    }
    m = MOD__CAST(mod_model *, mod__take(&a, sizeof *m));
    memset(m, 0, sizeof *m);
    m->layers = MOD__CAST(mod__layer *, mod__take(&a, sizeof(mod__layer) * (size_t)c.n_layers));
    MOD_ASSERT(m && m->layers && !a.overflow);
    memset(m->layers, 0, sizeof(mod__layer) * (size_t)c.n_layers);
    m->cfg = c;
    m->bytes = p;
    m->size = size;
    m->checksum = h.checksum;
    m->self_alloc = block;
    r = mod__load_layers(m, p, &h, err);
    if (!r) r = mod__load_tensors(m, p, &h, err);
    if (!r && h.tokenizer_size) {
        r = mod__load_vocab(m, p, &h, err);
        m->has_vocab = r == MOD_OK;
    }
    if (!r && h.chat_template_size) {
        m->chat_template = MOD__CAST(const char *, MOD__CAST(const void *, p + h.chat_template_offset));
        m->chat_template_len = (size_t)h.chat_template_size;
    }
    if (r) {
        if (block) MOD_FREE(block);
        return r;
    }
    *out = m;
    return MOD_OK;
}

#ifndef MOD_NO_STDIO
/* Loads from buf, a MOD_MALLOC block of size + MOD__ALIGN bytes that the model then owns. */
/* The loader's message for the bytes of file `path`, prefixed with the path so that every
   message of mod_model_load_file names the file (the I/O ones say it in their own words). */
static mod_result mod__load_named(mod_model **out, const void *data, size_t size, const mod_model_desc *desc,
                                  mod_error *err, const char *path) {
    mod_result r = mod_model_load_memory(out, data, size, desc, err);
    if (r && err) {
        char msg[sizeof err->message];
        memcpy(msg, err->message, sizeof msg);
        mod__fail(err, r, "%s: %s", path, msg);
    }
    return r;
}
static mod_result mod__load_owned(mod_model **out, void *buf, size_t size, const mod_model_desc *desc, mod_error *err,
                                  const char *path) {
    mod_result r = mod__load_named(out, mod__align_ptr(buf), size, desc, err, path);
    if (r) { MOD_FREE(buf); return r; }
    (*out)->file_buffer = buf;
    return MOD_OK;
}

#ifdef MOD__POSIX_FILES
/* Opens path for reading, refusing anything but a regular file without ever blocking: a FIFO
   would block open() until a writer appears, so the open is O_NONBLOCK, the type comes from
   fstat, and only then are reads made blocking again. -1: cannot open; -2: not regular. */
static int mod__open_regular(const char *path, struct stat *st) {
    int flags, fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return -1;
    if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode) || (flags = fcntl(fd, F_GETFL)) < 0 ||
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        close(fd);
        return -2;
    }
    return fd;
}

/* The whole of a regular file into buf (size bytes); 0 when exactly size bytes were read. */
static int mod__read_fd(int fd, unsigned char *buf, size_t size) {
    size_t got = 0;
    while (got < size) {
        size_t want = size - got < ((size_t)1 << 30) ? size - got : ((size_t)1 << 30);
        ssize_t n = read(fd, buf + got, want);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    return 0;
}

/* Maps fd (MOD__MMAP) or reads it into memory, then loads the model from those bytes. */
static mod_result mod__load_fd(mod_model **out, int fd, const struct stat *st, const char *path,
                               const mod_model_desc *desc, mod_error *err) {
    void *buf;
    size_t size;
    if (st->st_size < 0 || (uint64_t)st->st_size > (uint64_t)(SIZE_MAX - MOD__ALIGN))
        return mod__fail(err, MOD_ERR_OUT_OF_MEMORY, "%s is too large to load", path);
    size = (size_t)st->st_size;
#ifdef MOD__MMAP
    if (size > 0 && !(desc && (desc->flags & MOD_LOAD_NO_MMAP))) {
        void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map != MAP_FAILED) {
            mod_result r = mod__load_named(out, map, size, desc, err, path);
            if (r) { munmap(map, size); return r; }
            (*out)->map = map;
            (*out)->map_size = size;
            return MOD_OK;
        }
    } /* an empty file, or mmap refused: read it instead */
#endif
    if (!(buf = MOD_MALLOC(size + MOD__ALIGN)))
        return mod__fail(err, MOD_ERR_OUT_OF_MEMORY, "cannot allocate %U bytes to read %s", (uint64_t)size, path);
    if (mod__read_fd(fd, mod__align_ptr(buf), size) != 0) {
        MOD_FREE(buf);
        return mod__fail(err, MOD_ERR_IO, "read error on %s", path);
    }
    return mod__load_owned(out, buf, size, desc, err, path);
}
#endif

mod_result mod_model_load_file(mod_model **out, const char *path, const mod_model_desc *desc, mod_error *err) {
#ifdef MOD__POSIX_FILES
    struct stat st;
    int fd;
    mod_result r;
#else
    FILE *f;
    void *buf;
    long len;
    size_t size, got;
#endif
    if (err) { err->code = MOD_OK; err->message[0] = 0; }
    if (out) *out = NULL;
    if (!out || !path) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "model pointer and path must not be NULL");
#ifdef MOD__POSIX_FILES
    fd = mod__open_regular(path, &st);
    if (fd == -1) return mod__fail(err, MOD_ERR_IO, "cannot open %s", path);
    if (fd < 0) return mod__fail(err, MOD_ERR_IO, "%s is not a regular file", path);
    r = mod__load_fd(out, fd, &st, path, desc, err);
    close(fd);
    return r;
#else
    f = fopen(path, "rb");
    if (!f) return mod__fail(err, MOD_ERR_IO, "cannot open %s", path);
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return mod__fail(err, MOD_ERR_IO, "cannot determine the size of %s", path);
    }
    size = (size_t)len;
    if (size > SIZE_MAX - MOD__ALIGN || !(buf = MOD_MALLOC(size + MOD__ALIGN))) {
        fclose(f);
        return mod__fail(err, MOD_ERR_OUT_OF_MEMORY, "cannot allocate %U bytes to read %s", (uint64_t)size, path);
    }
    got = size ? fread(mod__align_ptr(buf), 1, size, f) : 0;
    fclose(f);
    if (got != size) {
        MOD_FREE(buf);
        return mod__fail(err, MOD_ERR_IO, "read error on %s", path);
    }
    return mod__load_owned(out, buf, size, desc, err, path);
#endif
}
#endif

void mod_model_free(mod_model *m) {
    void *self, *buf;
    if (!m) return;
    self = m->self_alloc;
    buf = m->file_buffer;
#ifdef MOD__MMAP
    if (m->map) munmap(m->map, m->map_size);
#endif
    if (buf) MOD_FREE(buf);
    if (self) MOD_FREE(self);
}

const mod_config *mod_model_config(const mod_model *m) { return m ? &m->cfg : NULL; }
int mod_model_layer_routed(const mod_model *m, int layer) {
    if (!m || layer < 0 || layer >= m->cfg.n_layers) return -1;
    return m->layers[layer].routed;
}
float mod_model_layer_capacity(const mod_model *m, int layer) {
    if (!m || layer < 0 || layer >= m->cfg.n_layers) return 0.0f;
    return m->layers[layer].capacity;
}
uint64_t mod_model_checksum(const mod_model *m) { return m ? m->checksum : 0; }
uint64_t mod_model_parameters(const mod_model *m) {
    uint64_t n = 0;
    int i, role;
    if (!m) return 0;
    for (role = 0; role <= MOD__ROLE_OUTPUT; role++) {
        const mod__tensor *t = mod__slot((mod_model *)m, role, -1);
        if (t->data) n += (uint64_t)t->rows * (uint64_t)t->cols;
    }
    for (i = 0; i < m->cfg.n_layers; i++)
        for (role = MOD__ROLE_ATTN_NORM; role < MOD__ROLE_COUNT; role++) {
            const mod__tensor *t = mod__slot((mod_model *)m, role, i);
            if (t->data) n += (uint64_t)t->rows * (uint64_t)t->cols;
        }
    return n;
}

/* ======================================================================================= */
/* >>backend   Backends: one section per target, each defining the same contract         */
/* ======================================================================================= */

/* The target is chosen at compile time from the compiler's target macros; MOD_NO_SIMD forces
   the portable one. Each backend section defines the contract below, and nothing after the
   backend sections uses an intrinsic: the kernels are written once over this vocabulary. A
   backend that lacks a required primitive stops the build (the check after the sections).

   Every backend:
     MOD__SIMD            its name ("avx512", "avx2", "neon", "helium", "scalar")
     MOD__BLOCK_SCALE(p)  the f16 scale at the start of a q8_0/q4_0 block, as a float
     MOD__VREGS           vector registers (32 or 16)
     MOD__TILE_ROWS       weight rows of a prefill register tile (mod__tile; >>f32)
     MOD__DOT_CHUNK       columns of a dot-product chunk (a whole row where there is no cache)
     MOD__KB              cached keys per transposed key block (1: plain rows; >>attention)
     MOD__ATT_TILES       1 when attention takes four queries per register tile
     MOD__FORCE_INLINE    1 when the span helpers are force-inlined
     mod__f16_row(out, p, n, ahead), mod__bf16_row(...) with MOD__ROWS: convert a prefix of
                          the n values at p to f32, fetching `ahead` values further on into
                          the cache; return how many (the caller converts the rest one by one)
                          mod__f16_store(out, x, n) with them: a prefix of the n floats at x
                          as f16, to nearest even as mod__f32_to_f16 (NaN too), bit for bit
     mod__quantize_q8(out, x, cols) with MOD__QUANTIZE, or MOD__QUANTIZE_PORTABLE for the
                          portable rule (>>int8); a vector version gives the same bytes, and
                          mod__block_amax(x) with it: the largest |x| of 32 floats, a NaN
                          |x| leaving the maximum alone (the q8_0 cache's writer uses it too)
   Vector backends (MOD__VL lanes of f32):
     mod__v, mod__vzero(), mod__vload(p), mod__vstore(p, v), mod__vdup(x),
     mod__vfma(acc, a, b)  acc + a b, fused;  mod__vadd, mod__vmul, mod__vmax, mod__vdiv
     mod__vsum(v)         the lanes added in a fixed order; mod__vsum4(out, a, b, c, d) with
                          MOD__VSUM4: four such sums by the very same additions
     mod__vload_i8(p) with MOD__VI8 (optional): MOD__VL int8 at p as f32 lanes (q8_0 caches)
     mod__kv_q8_round(q, x, d) with MOD__KV_Q8 (optional): the 32 int8 of a whole block
                          of the q8_0 cache's rule (mod__kv_q8, >>attention), the same as
                          the scalar code's
     mod__vload_f16(p), mod__vload_bf16(p) with MOD__VHALF (optional): MOD__VL f16 or bf16
                          values at p as f32 lanes (decoding of f16/bf16 weights; >>f32)
     e^x: MOD__VEXP with mod__vexp_out(x) (nonzero when a lane is below -87.3, above 88.7 or
     NaN), mod__vround(x) (to nearest, ties to even) and mod__vscale(y, n) (y 2^n, n
     integral); or MOD__VEXP_SCALAR: MOD_EXPF one value at a time (>>pointwise)
   int8 block steps (optional: MOD__INT8_VEC, MOD__INT8_UNIT blocks per register; >>int8):
     mod__qf, mod__qi, mod__qs; mod__q8_fzero, _szero, _fmul, _load, _wa, _wb, _xload,
     _wscales, _xscales, _step, _sum; mod__q4_load, _xload, _xstart, _wscales, _step;
     MOD__Q4_UNPACK_UNITS (optional, with 32 registers): q4_0 prefill unpacks eight rows of
     up to this many registers once and runs them against three tokens at a time */
#if !defined(MOD_NO_SIMD) && defined(__AVX512F__)
#define MOD__BACKEND_AVX512 1
#elif !defined(MOD_NO_SIMD) && defined(__AVX2__) && defined(__FMA__)
#define MOD__BACKEND_AVX2 1
#elif !defined(MOD_NO_SIMD) && defined(__ARM_NEON) && defined(__aarch64__)
#define MOD__BACKEND_NEON 1
#elif !defined(MOD_NO_SIMD) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#define MOD__BACKEND_HELIUM 1
#else
#define MOD__BACKEND_SCALAR 1
#endif

/* Software prefetch where there are caches and memory far away (not on microcontrollers). */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__))
#define MOD__PREFETCH(p) __builtin_prefetch(p)
#define MOD__PREFETCHING 1
#else
#define MOD__PREFETCH(p) ((void)(p))
#endif
/* How far ahead decoding's attention fetches an f16 or q8_0 cache it reads in place, in bytes
   (the kernels of >>attention): a head's keys and values are short runs, tens of kilobytes,
   which the hardware prefetchers are slow to follow. An f32 cache is left to the hardware:
   its runs are longer, and fetching ahead measured no gain there. */
#define MOD__KV_AHEAD 4096

/* ---- >>backend-avx512   x86 AVX-512 (16 lanes; int8 by VNNI) ------------------------ */
#ifdef MOD__BACKEND_AVX512
#include <immintrin.h>
#define MOD__SIMD "avx512"
#if defined(__F16C__)
#define MOD__BLOCK_SCALE(p) _cvtsh_ss(MOD__CAST(unsigned short, (p)[0] | (p)[1] << 8))
#else
#define MOD__BLOCK_SCALE(p) MOD__BLOCK_SCALE_PORTABLE(p)
#endif
#define MOD__VREGS 32
#define MOD__TILE_ROWS 6
#define MOD__DOT_CHUNK 1024
#define MOD__ATT_TILES 1
#define MOD__FORCE_INLINE 1
#define MOD__VL 16
typedef __m512 mod__v;
#define mod__vzero() _mm512_setzero_ps()
#define mod__vload(p) _mm512_loadu_ps(p)
#define mod__vstore(p, v) _mm512_storeu_ps(p, v)
#define mod__vdup(x) _mm512_set1_ps(x)
#define mod__vfma(acc, a, b) _mm512_fmadd_ps(a, b, acc)
/* Horizontal sums add lanes i and i + 8, then i and i + 4, then i and i + 2, then the last
   two; mod__vsum4 does four vectors at once by the very same additions. */
static float mod__vsum(mod__v v) {
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
#define MOD__VSUM4 1
static void mod__vsum4(float *out, mod__v a, mod__v b, mod__v c, mod__v d) {
    float lanes[16];
    const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
    __m512 u = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
    u = _mm512_add_ps(u, _mm512_shuffle_ps(u, u, 0x4E));
    u = _mm512_add_ps(u, _mm512_shuffle_ps(u, u, 0xB1));
    _mm512_storeu_ps(lanes, u);
    out[0] = lanes[0]; out[1] = lanes[4]; out[2] = lanes[8]; out[3] = lanes[12];
}
#define MOD__KB MOD__VL
#define mod__vadd(a, b) _mm512_add_ps(a, b)
#define mod__vmul(a, b) _mm512_mul_ps(a, b)
#define mod__vmax(a, b) _mm512_max_ps(a, b)
#define mod__vdiv(a, b) _mm512_div_ps(a, b)
#define MOD__VI8 1
#define mod__vload_i8(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(MOD__CAST(const __m128i *, MOD__CAST(const void *, p)))))
#define MOD__VHALF 1
#define mod__vload_f16(p) _mm512_cvtph_ps(_mm256_loadu_si256(MOD__CAST(const __m256i *, MOD__CAST(const void *, p))))
#define mod__vload_bf16(p) \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(MOD__CAST(const __m256i *, MOD__CAST(const void *, p)))), 16))

#define MOD__VEXP 1
static int mod__vexp_out(mod__v x) {
    return _mm512_cmp_ps_mask(x, mod__vdup(-87.3f), _CMP_LT_OQ) | _mm512_cmp_ps_mask(x, mod__vdup(88.7f), _CMP_GT_OQ) |
           _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
}
#define mod__vround(x) _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
#define mod__vscale(y, n) _mm512_scalef_ps(y, n)

#define MOD__ROWS 1
static size_t mod__f16_row(float *out, const uint16_t *p, size_t n, size_t ahead) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        MOD__PREFETCH(p + i + ahead);
        _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256(MOD__CAST(const __m256i *, MOD__CAST(const void *, p + i)))));
    }
    return i;
}
static size_t mod__bf16_row(float *out, const uint16_t *p, size_t n, size_t ahead) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        MOD__PREFETCH(p + i + ahead);
        _mm512_storeu_ps(out + i, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(MOD__CAST(const __m256i *, MOD__CAST(const void *, p + i)))), 16)));
    }
    return i;
}
static size_t mod__f16_store(uint16_t *out, const float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256(MOD__CAST(__m256i *, MOD__CAST(void *, out + i)),
                            _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    return i;
}

/* the largest |x| of 32 floats: a NaN |x| leaves the maximum alone, as the scalar comparison
   does (maxps returns its second operand when one is NaN) */
static float mod__block_amax(const float *x) {
    const __m512 m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x)), _mm512_setzero_ps());
    return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + 16)), m));
}

/* x[cols] -> cols / 32 activation blocks by the portable rule (>>int8), byte for byte */
#define MOD__QUANTIZE 1
static void mod__quantize_q8(unsigned char *out, const float *x, int cols) {
    int b;
    for (b = 0; b < cols / MOD__INT8_BLOCK; b++, out += MOD__INT8X_BYTES) {
        const __m512 v0 = _mm512_loadu_ps(x + b * MOD__INT8_BLOCK), v1 = _mm512_loadu_ps(x + b * MOD__INT8_BLOCK + 16);
        const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f), half = _mm512_set1_ps(0.5f);
        const float amax = mod__block_amax(x + b * MOD__INT8_BLOCK), d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
        __m512 q0 = _mm512_mul_ps(v0, _mm512_set1_ps(id)), q1 = _mm512_mul_ps(v1, _mm512_set1_ps(id));
        __m512i i0, i1;
        q0 = _mm512_min_ps(hi, _mm512_max_ps(lo, q0)); /* a NaN passes through both */
        q1 = _mm512_min_ps(hi, _mm512_max_ps(lo, q1));
        i0 = _mm512_cvttps_epi32(_mm512_add_ps(q0, _mm512_mask_mov_ps(half, _mm512_cmp_ps_mask(q0, _mm512_setzero_ps(), _CMP_LT_OQ), _mm512_set1_ps(-0.5f))));
        i1 = _mm512_cvttps_epi32(_mm512_add_ps(q1, _mm512_mask_mov_ps(half, _mm512_cmp_ps_mask(q1, _mm512_setzero_ps(), _CMP_LT_OQ), _mm512_set1_ps(-0.5f))));
        /* a NaN converts to 0x80000000, whose low byte is the 0 the scalar rule gives it */
        memcpy(out, &d, 4);
        _mm_storeu_si128(MOD__CAST(__m128i *, MOD__CAST(void *, out + 4)), _mm512_cvtepi32_epi8(i0));
        _mm_storeu_si128(MOD__CAST(__m128i *, MOD__CAST(void *, out + 20)), _mm512_cvtepi32_epi8(i1));
    }
}

/* One whole block of the q8_0 cache's rule (mod__kv_q8): x / d (the same division) with a
   NaN as 0, clamped, truncated and stepped away from zero when the dropped fraction is a half
   or more. */
#define MOD__KV_Q8 1
static void mod__kv_q8_round(signed char *q, const float *x, float d) {
    int k;
    for (k = 0; k < 2; k++) {
        __m512 v = _mm512_div_ps(_mm512_loadu_ps(x + 16 * k), _mm512_set1_ps(d)), f;
        __m512i r;
        v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v);
        v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
        f = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        r = _mm512_cvttps_epi32(f);
        f = _mm512_sub_ps(v, f); /* exact */
        r = _mm512_mask_add_epi32(r, _mm512_cmp_ps_mask(f, _mm512_set1_ps(0.5f), _CMP_GE_OQ), r, _mm512_set1_epi32(1));
        r = _mm512_mask_sub_epi32(r, _mm512_cmp_ps_mask(f, _mm512_set1_ps(-0.5f), _CMP_LE_OQ), r, _mm512_set1_epi32(1));
        _mm_storeu_si128(MOD__CAST(__m128i *, MOD__CAST(void *, q + 16 * k)), _mm512_cvtepi32_epi8(r));
    }
}

/* int8 blocks by VNNI; without it, the AVX2 steps of >>backend-avx2 */
#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define MOD__INT8_AVX512 1
#define MOD__INT8_VEC 1
#define MOD__INT8_LOAD256(p) _mm256_loadu_si256(MOD__CAST(const __m256i *, MOD__CAST(const void *, p)))
#define MOD__INT8_UNIT 2
typedef __m512 mod__qf;
typedef __m512i mod__qi;
typedef __m512i mod__qs;
#define mod__q8_fzero() _mm512_setzero_ps()
#define mod__q8_szero() _mm512_setzero_si512()
#define mod__q8_fmul(a, b) _mm512_mul_ps(a, b)
/* two consecutive blocks' values; p points at the first block's values */
static mod__qi mod__q8_load(const unsigned char *p, size_t next) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(MOD__INT8_LOAD256(p)), MOD__INT8_LOAD256(p + next), 1);
}
/* Here the activations take the unsigned side offset by 128 (x + 128 is x ^ 0x80) and each
   row starts its sums at -128 times its own weights' sums, so no sign moves per product:
   per row the weights as they are (wa) and that starting value (wb). */
#define mod__q8_wa(q) (q)
static mod__qs mod__q8_wb(mod__qi q) {
    return _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(-128), q));
}
static mod__qi mod__q8_xload(const unsigned char *x) {
    return _mm512_xor_si512(mod__q8_load(x + 4, MOD__INT8X_BYTES), _mm512_set1_epi8(-128));
}
static mod__qf mod__q8_scales(float a, float b) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(a)), _mm256_set1_ps(b), 1);
}
/* the f16 scales of two weight blocks (bytes 0-1 and 34-35), each over eight lanes */
static mod__qf mod__q8_wscales(const unsigned char *w) {
    const __m512i idx = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                         17, 17, 17, 17, 17, 17, 17, 17, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i h = _mm512_permutexvar_epi16(idx, _mm512_loadu_si512(MOD__CAST(const void *, w)));
    return _mm512_cvtph_ps(_mm512_castsi512_si256(h));
}
static mod__qf mod__q8_xscales(const unsigned char *x) {
    float a, b;
    memcpy(&a, x, 4);
    memcpy(&b, x + MOD__INT8X_BYTES, 4);
    return mod__q8_scales(a, b);
}
static mod__qf mod__q8_step(mod__qf acc, mod__qi w, mod__qs start, mod__qi xu, mod__qf sc) {
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, xu, w)), sc, acc);
}
static float mod__q8_sum(mod__qf v) { return _mm512_reduce_add_ps(v); }
#if defined(__AVX512VBMI__)
/* Two consecutive weight blocks (36 bytes, p at the first block's scale) in one masked load,
   which touches nothing past them; byte permutes then give the nibbles and the scales. */
static __m512i mod__q4_pair(const unsigned char *p) {
    return _mm512_maskz_loadu_epi8(MOD__CAST(__mmask64, 0xFFFFFFFFFull), MOD__CAST(const void *, p));
}
/* the nibbles in the order of the activations: block 0's low nibbles, its high nibbles, then
   block 1's (each 128-bit lane a copy of a block's 16 bytes, every other one shifted down) */
static mod__qi mod__q4_load(const unsigned char *p) {
    const __m512i idx = _mm512_set_epi8(35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20,
                                        35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20,
                                        17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2,
                                        17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2);
    const __m512i v = _mm512_permutexvar_epi8(idx, mod__q4_pair(p));
#if defined(__GFNI__)
    /* one affine bit transform per 64-bit lane: bits 0-3 (lo) or 4-7 (hi) of every byte
       become its bits 0-3, the rest zero; the same bytes as the shift and mask below, in one
       instruction (with the byte permute for the scales below, q4_0 decoding with the weights
       in the L3 ran about 10% faster here) */
    const long long lo = 0x0102040800000000LL, hi = 0x1020408000000000LL;
    return _mm512_gf2p8affine_epi64_epi8(v, _mm512_set_epi64(hi, hi, lo, lo, hi, hi, lo, lo), 0);
#else
    return _mm512_and_si512(_mm512_srlv_epi64(v, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0)), _mm512_set1_epi8(15));
#endif
}
/* the f16 scales of the two blocks (bytes 0-1 and 18-19), each over eight lanes; a byte
   permute, which costs less here than the word one */
static mod__qf mod__q4_wscales(const unsigned char *w) {
    const __m512i idx = _mm512_set_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        19, 18, 19, 18, 19, 18, 19, 18, 19, 18, 19, 18, 19, 18, 19, 18,
                                        1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0);
    return _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi8(idx, mod__q4_pair(w))));
}
#else
/* the nibbles of two consecutive weight blocks (p at the first block's scale), in the order
   of the activations: block 0's low nibbles, its high nibbles, then block 1's */
static mod__qi mod__q4_load(const unsigned char *p) {
    const __m128i a = _mm_loadu_si128(MOD__CAST(const __m128i *, MOD__CAST(const void *, p + 2)));
    const __m128i b = _mm_loadu_si128(MOD__CAST(const __m128i *, MOD__CAST(const void *, p + 2 + MOD__Q4_BYTES)));
    /* 128-bit lanes a, a, b, b; the second copy of each shifted down to its high nibbles */
    const __m512i v = _mm512_permutexvar_epi64(_mm512_set_epi64(3, 2, 3, 2, 1, 0, 1, 0),
                                               _mm512_castsi256_si512(_mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1)));
    return _mm512_and_si512(_mm512_srlv_epi64(v, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0)), _mm512_set1_epi8(15));
}
/* the f16 scales of two weight blocks, each over eight lanes */
static mod__qf mod__q4_wscales(const unsigned char *w) {
    const short a = MOD__CAST(short, w[0] | w[1] << 8), b = MOD__CAST(short, w[MOD__Q4_BYTES] | w[MOD__Q4_BYTES + 1] << 8);
    return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(a)), _mm_set1_epi16(b), 1));
}
#endif
/* q4_0 prefill unpacks eight rows of up to this many registers (2048 columns, 32 KiB on the
   stack) once per token block (>>int8) */
#define MOD__Q4_UNPACK_UNITS 32
static mod__qi mod__q4_xload(const unsigned char *x) { return mod__q8_load(x + 4, MOD__INT8X_BYTES); }
static mod__qi mod__q4_xstart(mod__qi qx) {
    return _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), qx));
}
static mod__qf mod__q4_step(mod__qf acc, mod__qi v, mod__qi start, mod__qi qx, mod__qf sc) {
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(start, v, qx)), sc, acc);
}
#elif defined(__AVX2__) && defined(__FMA__)
#define MOD__INT8_AVX2 1
#endif
#endif /* MOD__BACKEND_AVX512 */

/* ---- >>backend-amx   x86 AMX tiles: prompts of bf16, q8_0, q4_0 weights (MOD_AMX) ------ */
/* With MOD_AMX defined, an AVX-512 build for x86-64 Linux with gcc 11+ or clang 12+ also holds
   products of bf16 weights (TDPBF16PS) and of q8_0 and q4_0 weights (TDPBSSD, below) on AMX
   tiles, used for batches of MOD__AMX_MIN tokens or more (prompts) where the CPU has AMX-TILE,
   AMX-BF16 and AMX-INT8 and Linux grants the process its tile state (arch_prctl
   ARCH_REQ_XCOMP_PERM); everything else, and decoding, stays on the vector paths, and a
   refusal is a fallback, never a crash. bf16 first; q8_0 and q4_0 further down.
   bf16 numbers: the activations are rounded to bf16 (to nearest, ties to even), each product
   of two bf16 is exact in f32, and the products are summed in f32 (rounded to nearest even,
   subnormals flushed) in the instruction's order: column by column in the older manuals, in
   two partial sums per instruction in the current one. So a prompt's logits on AMX agree
   with decoding's to the rounding of the activations (docs/MODEL.md gives the bound), not to
   the bit. bf16 layout: the weights are the A tiles, read in place (16 rows x 32 columns);
   the activations are the B tiles, converted once per product into pairs of columns (16 x 2
   values per 64-byte row: VNNI order), 16 tokens per tile. The result tiles are 16 weight
   rows x 16 tokens. */
#if defined(MOD_AMX) && defined(MOD__BACKEND_AVX512) && defined(__x86_64__) && defined(__linux__) && \
    ((defined(__clang__) && __clang_major__ >= 12) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 11))
#define MOD__AMX 1
#define MOD__AMX_MIN 16  /* tokens in a batch below which products stay on the vector path */
#define MOD__AMX_TB 256  /* tokens converted at a time (a product's B tiles) */
#define MOD__AMX_TARGET __attribute__((target("amx-tile,amx-bf16,amx-int8")))

/* 1: AMX in use; 0: not asked yet; below 0: why not (mod__amx_why). Set once, the first time a
   session is laid out (concurrent first sessions store the same value). */
static int mod__amx_state = 0;
static void mod__cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
    __asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
/* Linux's arch_prctl(2) (syscall 158) by the instruction itself: -std=c99 has no syscall(). */
static long mod__arch_prctl(long code, unsigned long arg) {
    long ret;
    __asm__ __volatile__("syscall" : "=a"(ret) : "0"(158L), "D"(code), "S"(arg) : "rcx", "r11", "memory");
    return ret;
}
static long mod__arch_prctl_get(long code, unsigned long long *out) {
    long ret;
    __asm__ __volatile__("syscall" : "=a"(ret) : "0"(158L), "D"(code), "S"(out) : "rcx", "r11", "memory");
    return ret;
}
static int mod__amx_ready(void) {
    if (mod__amx_state == 0) {
        unsigned r[4];
        unsigned long long perm = 0;
        mod__cpuid(0, 0, r);
        if (r[0] < 7) { mod__amx_state = -1; return 0; }
        mod__cpuid(7, 0, r);
        if (!(r[3] >> 24 & 1) || !(r[3] >> 22 & 1) || !(r[3] >> 25 & 1)) { mod__amx_state = -1; return 0; } /* AMX-TILE, -BF16, -INT8 */
        mod__cpuid(1, 0, r);
        if (!(r[2] >> 27 & 1)) { mod__amx_state = -2; return 0; } /* OSXSAVE */
        {
            unsigned lo, hi;
            __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
            if ((lo >> 17 & 3) != 3) { mod__amx_state = -2; return 0; } /* XTILECFG and XTILEDATA */
        }
        /* ARCH_REQ_XCOMP_PERM (0x1023) for XFEATURE_XTILEDATA (18), then ARCH_GET_XCOMP_PERM
           (0x1022) to see it granted: the permission is the process's, so OpenMP's threads
           have it too */
        if (mod__arch_prctl(0x1023, 18) != 0 || mod__arch_prctl_get(0x1022, &perm) != 0 ||
            !(perm >> 18 & 1)) {
            mod__amx_state = -3;
            return 0;
        }
        mod__amx_state = 1;
    }
    return mod__amx_state == 1;
}
/* Each thread asks again before its first tile instruction: Linux grants the permission to the
   whole process, so this only repeats it, but llama.cpp's AMX kernel was reported to die of
   SIGILL on worker threads that had not asked (its pull request 26954), and the call costs
   one system call per thread. */
static __thread int mod__amx_asked;
static void mod__amx_thread(void) {
    if (!mod__amx_asked) {
        (void)mod__arch_prctl(0x1023, 18);
        mod__amx_asked = 1;
    }
}
static const char *mod__amx_why(void) {
    switch (mod__amx_state) {
    case 1: return "AMX tiles for bf16, q8_0 and q4_0 weights in prompts";
    case -1: return "this CPU has no AMX-TILE, AMX-BF16 and AMX-INT8";
    case -2: return "the operating system does not enable AMX state (XCR0)";
    case -3: return "Linux refused the process AMX state (arch_prctl ARCH_REQ_XCOMP_PERM)";
    default: return "not asked";
    }
}

/* r[16] -> its transpose, 32-bit elements: pairs, then quadruples within 128-bit lanes, then
   the lanes. */
static void mod__t16(__m512i r[16]) {
    __m512i a[16], b[16];
    int i, c;
    for (i = 0; i < 16; i += 2) {
        a[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        a[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (i = 0; i < 16; i += 4) { /* b[i + c], lane L: rows i..i+3 of column 4L + c */
        b[i] = _mm512_unpacklo_epi64(a[i], a[i + 2]);
        b[i + 1] = _mm512_unpackhi_epi64(a[i], a[i + 2]);
        b[i + 2] = _mm512_unpacklo_epi64(a[i + 1], a[i + 3]);
        b[i + 3] = _mm512_unpackhi_epi64(a[i + 1], a[i + 3]);
    }
    for (c = 0; c < 4; c++) {
        const __m512i c0 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0x88), c1 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0xdd);
        const __m512i c2 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0x88), c3 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0xdd);
        r[c] = _mm512_shuffle_i32x4(c0, c2, 0x88);
        r[4 + c] = _mm512_shuffle_i32x4(c1, c3, 0x88);
        r[8 + c] = _mm512_shuffle_i32x4(c0, c2, 0xdd);
        r[12 + c] = _mm512_shuffle_i32x4(c1, c3, 0xdd);
    }
}

/* 16 floats -> bf16 in the low halves of 32-bit lanes: to nearest, ties to even; NaN stays a
   quiet NaN with its sign and top payload bits */
static __m512i mod__bf16_round(__m512 v) {
    const __m512i u = _mm512_castps_si512(v), one = _mm512_set1_epi32(1);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
    const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff))), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
}

/* Tokens [0, tn) of x (rows xstride floats apart, tn <= 16, cols columns) -> one B tile per 32
   columns, nkb = cols rounded up / 32 of them, 1 KiB each at xb: row p of a tile holds columns
   2p and 2p + 1 of each of the 16 tokens. Tokens past tn and columns past cols are zeros. */
static void mod__amx_pack_x(uint16_t *xb, const float *x, size_t xstride, int tn, int cols) {
    const int nkb = (cols + 31) / 32;
    int kb, j;
    for (kb = 0; kb < nkb; kb++) {
        __m512i r[16];
        const int k0 = kb * 32, left = cols - k0;
        const __mmask16 m0 = left >= 16 ? 0xffff : MOD__CAST(__mmask16, (1u << left) - 1u);
        const __mmask16 m1 = left >= 32 ? 0xffff : left <= 16 ? 0 : MOD__CAST(__mmask16, (1u << (left - 16)) - 1u);
        for (j = 0; j < 16; j++) {
            if (j < tn) {
                const float *p = x + (size_t)j * xstride + k0;
                const __m256i lo = _mm512_cvtepi32_epi16(mod__bf16_round(_mm512_maskz_loadu_ps(m0, p)));
                const __m256i hi = _mm512_cvtepi32_epi16(mod__bf16_round(_mm512_maskz_loadu_ps(m1, p + 16)));
                r[j] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); /* column pairs as 32-bit lanes */
            } else {
                r[j] = _mm512_setzero_si512();
            }
        }
        mod__t16(r);
        for (j = 0; j < 16; j++) _mm512_storeu_si512(MOD__CAST(void *, xb + (size_t)kb * 512 + (size_t)j * 32), r[j]);
    }
}

/* The result tile c[16 rows][16 tokens] stored into y (token t, row r at y[t * ystride + r]) for
   rows [0, nr) and tokens [0, tn): transposed by registers. */
static void mod__amx_put(float *y, size_t ystride, const float *c, int nr, int tn) {
    __m512i r[16];
    const __mmask16 m = nr >= 16 ? 0xffff : MOD__CAST(__mmask16, (1u << nr) - 1u);
    int i;
    for (i = 0; i < 16; i++) r[i] = _mm512_loadu_si512(MOD__CAST(const void *, c + 16 * i));
    mod__t16(r);
    for (i = 0; i < tn; i++) _mm512_mask_storeu_ps(y + (size_t)i * ystride, m, _mm512_castsi512_ps(r[i]));
}

/* The four result tiles of 32 rows x 32 tokens from token t on, c[q] rows 16 (q >> 1) on and
   tokens 16 (q & 1) on, into y: rows [0, nr) and tokens [t, tn) only. */
static void mod__amx_put4(float *y, size_t ystride, float c[4][256], int t, int nr, int tn) {
    int q;
    for (q = 0; q < 4; q++) {
        const int r0 = q >> 1 ? 16 : 0, t0 = t + (q & 1 ? 16 : 0);
        if (r0 < nr && t0 < tn) mod__amx_put(y + (size_t)t0 * ystride + r0, ystride, c[q], nr - r0, tn - t0 < 16 ? tn - t0 : 16);
    }
}

/* The tile configuration: palette 1, eight tiles of 16 rows x 64 bytes (tiles 0-3 the sums,
   4-5 weights, 6-7 activations). Constant data, not a local: gcc's LDTILECFG tells the
   compiler it reads 8 bytes, and the stores of a local's other 56 can be dropped. */
static const unsigned char mod__amx_cfg[64] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                               64, 0, 64, 0, 64, 0, 64, 0, 64, 0, 64, 0, 64, 0, 64, 0,
                                               0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                               16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0};

/* y (token t, row r at y[t * ystride + r]) = 32 rows of bf16 weights at w (wstride bytes apart,
   32 * nkb columns readable, rows [nr, 32) too) against the token tiles at xb (tiles of 16
   tokens, nkb B tiles each; an even number of them, the last holding tokens up to tn). */
MOD__AMX_TARGET static void mod__amx_rows32(float *y, size_t ystride, const uint16_t *w, size_t wstride, const uint16_t *xb,
                                            int nkb, int nr, int tn) {
    float c[4][256];
    const unsigned char *w0 = MOD__CAST(const unsigned char *, MOD__CAST(const void *, w)), *w1 = w0 + 16 * wstride;
    int t, kb;
    mod__amx_thread();
    __asm__ __volatile__("" ::: "memory"); /* the weight copy and the tiles written before are stored */
    _tile_loadconfig(mod__amx_cfg);
    for (t = 0; t < tn; t += 32) {
        const uint16_t *b0 = xb + (size_t)t / 16 * (size_t)nkb * 512, *b1 = b0 + (size_t)nkb * 512;
        _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
        for (kb = 0; kb < nkb; kb++) {
            _tile_loadd(4, w0 + (size_t)kb * 64, wstride);
            _tile_loadd(5, w1 + (size_t)kb * 64, wstride);
            _tile_loadd(6, b0 + (size_t)kb * 512, 64);
            _tile_loadd(7, b1 + (size_t)kb * 512, 64);
            _tile_dpbf16ps(0, 4, 6);
            _tile_dpbf16ps(1, 4, 7);
            _tile_dpbf16ps(2, 5, 6);
            _tile_dpbf16ps(3, 5, 7);
        }
        _tile_stored(0, c[0], 64);
        _tile_stored(1, c[1], 64);
        _tile_stored(2, c[2], 64);
        _tile_stored(3, c[3], 64);
        mod__amx_put4(y, ystride, c, t, nr, tn);
    }
    _tile_release();
}

/* q8_0 and q4_0 weights (AMX-INT8): each block of 32 columns is one product of int8 tiles,
   16 weight rows x 32 bytes (A) against 8 rows of 16 tokens x 4 bytes (B, VNNI order), whose
   exact int32 sums are then scaled in f32 as the vector paths scale theirs, sum x (activation
   scale x weight scale), and added to f32 sums (one fused multiply-add), block after block. */
static const unsigned char mod__amx_cfg_int8[64] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                    64, 0, 64, 0, 64, 0, 64, 0, 32, 0, 32, 0, 64, 0, 64, 0,
                                                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                    16, 16, 16, 16, 16, 16, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0};
#define MOD__AMX_QTILE 576 /* bytes of one block of 16 tokens: the B tile (512) and their 16 f32 scales */

/* Tokens [0, tn) (tn <= 16) of activation blocks (>>int8: f32 scale + 32 int8, rows xrow
   bytes apart) -> for each of the nb blocks a B tile (row p: bytes 4p..4p+3 of each token's
   block) followed by the 16 tokens' scales; tokens past tn are zeros. */
static void mod__amx_pack_q8(unsigned char *xb, const unsigned char *xq, size_t xrow, int tn, int nb) {
    int kb, j;
    for (kb = 0; kb < nb; kb++, xb += MOD__AMX_QTILE) {
        __m512i r[16];
        float d[16];
        for (j = 0; j < 16; j++) {
            d[j] = 0.0f;
            r[j] = _mm512_setzero_si512();
            if (j < tn) {
                const unsigned char *b = xq + (size_t)j * xrow + (size_t)kb * MOD__INT8X_BYTES;
                memcpy(&d[j], b, sizeof(float));
                r[j] = _mm512_inserti64x4(r[j], _mm256_loadu_si256(MOD__CAST(const __m256i *, MOD__CAST(const void *, b + 4))), 0);
            }
        }
        mod__t16(r);
        for (j = 0; j < 8; j++) _mm512_storeu_si512(MOD__CAST(void *, xb + 64 * j), r[j]);
        memcpy(xb + 512, d, sizeof d);
    }
}

/* y (token t, row r at y[t * ystride + r]) = 32 rows of int8 weights against the token tiles
   at xb (mod__amx_pack_q8; an even number of tiles of nb blocks, the last holding tokens up
   to tn): block kb of row r is 32 bytes at w + r * wstride + kb * wstep (rows [nr, 32)
   readable too), its scale ws[kb * 32 + r]. */
MOD__AMX_TARGET static void mod__amx_int_rows32(float *y, size_t ystride, const unsigned char *w, size_t wstride, size_t wstep,
                                                const float *ws, const unsigned char *xb, int nb, int nr, int tn) {
    float acc[4][256];
    int32_t c[4][256];
    const unsigned char *w1 = w + 16 * wstride;
    int t, kb, i, q;
    mod__amx_thread();
    __asm__ __volatile__("" ::: "memory"); /* the weight copy and the tiles written before are stored */
    _tile_loadconfig(mod__amx_cfg_int8);
    for (t = 0; t < tn; t += 32) {
        const unsigned char *b0 = xb + (size_t)t / 16 * (size_t)nb * MOD__AMX_QTILE, *b1 = b0 + (size_t)nb * MOD__AMX_QTILE;
        memset(acc, 0, sizeof acc);
        for (kb = 0; kb < nb; kb++) {
            const unsigned char *x0 = b0 + (size_t)kb * MOD__AMX_QTILE, *x1 = b1 + (size_t)kb * MOD__AMX_QTILE;
            _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
            _tile_loadd(4, w + (size_t)kb * wstep, wstride);
            _tile_loadd(5, w1 + (size_t)kb * wstep, wstride);
            _tile_loadd(6, x0, 64);
            _tile_loadd(7, x1, 64);
            _tile_dpbssd(0, 4, 6);
            _tile_dpbssd(1, 4, 7);
            _tile_dpbssd(2, 5, 6);
            _tile_dpbssd(3, 5, 7);
            _tile_stored(0, c[0], 64);
            _tile_stored(1, c[1], 64);
            _tile_stored(2, c[2], 64);
            _tile_stored(3, c[3], 64);
            for (q = 0; q < 4; q++) { /* tile q: rows 16 (q >> 1) on, tokens 16 (q & 1) on */
                const __m512 dx = _mm512_loadu_ps(MOD__CAST(const float *, MOD__CAST(const void *, (q & 1 ? x1 : x0) + 512)));
                const float *dw = ws + (size_t)kb * 32 + (q >> 1) * 16;
                for (i = 0; i < 16; i++) {
                    const __m512 sum = _mm512_cvtepi32_ps(_mm512_loadu_si512(MOD__CAST(const void *, c[q] + 16 * i)));
                    const __m512 scale = _mm512_mul_ps(dx, _mm512_set1_ps(dw[i]));
                    _mm512_storeu_ps(acc[q] + 16 * i, _mm512_fmadd_ps(sum, scale, _mm512_loadu_ps(acc[q] + 16 * i)));
                }
            }
        }
        mod__amx_put4(y, ystride, acc, t, nr, tn);
    }
    _tile_release();
}

/* The peak: n rounds of four 16 x 16 x 32 bf16 tile products on tiles that stay in place;
   returns the floating-point operations done (mod-bench's AMX figure). */
MOD__AMX_TARGET __attribute__((unused)) static double mod__amx_peak(long n) {
    long i;
    mod__amx_thread();
    _tile_loadconfig(mod__amx_cfg);
    _tile_zero(0); _tile_zero(1); _tile_zero(2); _tile_zero(3);
    _tile_zero(4); _tile_zero(5); _tile_zero(6); _tile_zero(7);
    for (i = 0; i < n; i++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_release();
    return (double)n * 4.0 * 16 * 16 * 32 * 2;
}
#endif /* MOD__AMX */

/* ---- >>backend-avx2   x86 AVX2 with FMA (8 lanes) ----------------------------------- */
#ifdef MOD__BACKEND_AVX2
#include <immintrin.h>
#define MOD__SIMD "avx2"
#if defined(__F16C__)
#define MOD__BLOCK_SCALE(p) _cvtsh_ss(MOD__CAST(unsigned short, (p)[0] | (p)[1] << 8))
#else
#define MOD__BLOCK_SCALE(p) MOD__BLOCK_SCALE_PORTABLE(p)
#endif
#define MOD__VREGS 16
#define MOD__TILE_ROWS 3
#define MOD__DOT_CHUNK 1024
#define MOD__ATT_TILES 1
#define MOD__FORCE_INLINE 1
#define MOD__INT8_AVX2 1
#define MOD__VL 8
typedef __m256 mod__v;
#define mod__vzero() _mm256_setzero_ps()
#define mod__vload(p) _mm256_loadu_ps(p)
#define mod__vstore(p, v) _mm256_storeu_ps(p, v)
#define mod__vdup(x) _mm256_set1_ps(x)
#define mod__vfma(acc, a, b) _mm256_fmadd_ps(a, b, acc)
static float mod__vsum(mod__v v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
/* four at once by the very same additions: halves, then lanes 0+2 and 1+3, then the two */
#define MOD__VSUM4 1
static void mod__vsum4(float *out, mod__v a, mod__v b, mod__v c, mod__v d) {
    float lanes[8];
    const __m256 ab = _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
    const __m256 cd = _mm256_add_ps(_mm256_permute2f128_ps(c, d, 0x20), _mm256_permute2f128_ps(c, d, 0x31));
    __m256 u = _mm256_add_ps(_mm256_shuffle_ps(ab, cd, 0x44), _mm256_shuffle_ps(ab, cd, 0xEE));
    u = _mm256_add_ps(u, _mm256_shuffle_ps(u, u, 0xB1));
    _mm256_storeu_ps(lanes, u);
    out[0] = lanes[0]; out[1] = lanes[4]; out[2] = lanes[2]; out[3] = lanes[6];
}
#define MOD__KB MOD__VL
#define mod__vadd(a, b) _mm256_add_ps(a, b)
#define mod__vmul(a, b) _mm256_mul_ps(a, b)
#define mod__vmax(a, b) _mm256_max_ps(a, b)
#define mod__vdiv(a, b) _mm256_div_ps(a, b)
#define MOD__VI8 1
#define mod__vload_i8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(MOD__CAST(const __m128i *, MOD__CAST(const void *, p)))))
#if defined(__F16C__)
#define MOD__VHALF 1
#define mod__vload_f16(p) _mm256_cvtph_ps(_mm_loadu_si128(MOD__CAST(const __m128i *, MOD__CAST(const void *, p))))
#define mod__vload_bf16(p) \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(MOD__CAST(const __m128i *, MOD__CAST(const void *, p)))), 16))
#endif

#define MOD__VEXP 1
static int mod__vexp_out(mod__v x) {
    return _mm256_movemask_ps(_mm256_or_ps(_mm256_or_ps(_mm256_cmp_ps(x, mod__vdup(-87.3f), _CMP_LT_OQ),
                                                        _mm256_cmp_ps(x, mod__vdup(88.7f), _CMP_GT_OQ)),
                                           _mm256_cmp_ps(x, x, _CMP_UNORD_Q)));
}
#define mod__vround(x) _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
/* 2^n built from its exponent bits: n + 127 in bits 23-30 */
#define mod__vscale(y, n) \
    _mm256_mul_ps(y, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23)))

#define MOD__ROWS 1
static size_t mod__f16_row(float *out, const uint16_t *p, size_t n, size_t ahead) {
    size_t i = 0;
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8) {
        if (i % 32 == 0) MOD__PREFETCH(p + i + ahead);
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(MOD__CAST(const __m128i *, MOD__CAST(const void *, p + i)))));
    }
#else
    (void)out; (void)p; (void)n; (void)ahead;
#endif
    return i;
}
static size_t mod__bf16_row(float *out, const uint16_t *p, size_t n, size_t ahead) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        if (i % 32 == 0) MOD__PREFETCH(p + i + ahead);
        _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(MOD__CAST(const __m128i *, MOD__CAST(const void *, p + i)))), 16)));
    }
    return i;
}
static size_t mod__f16_store(uint16_t *out, const float *x, size_t n) {
    size_t i = 0;
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(MOD__CAST(__m128i *, MOD__CAST(void *, out + i)),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#else
    (void)out; (void)x; (void)n;
#endif
    return i;
}

/* the largest |x| of 32 floats: a NaN |x| leaves the maximum alone (maxps returns its second
   operand when one is NaN) */
static float mod__block_amax(const float *x) {
    __m256 m = _mm256_setzero_ps();
    __m128 h;
    int j;
    for (j = 0; j < 4; j++) m = _mm256_max_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_loadu_ps(x + 8 * j)), m);
    h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_max_ss(h, _mm_shuffle_ps(h, h, 1)));
}

/* x[cols] -> cols / 32 activation blocks by the portable rule (>>int8), byte for byte */
#define MOD__QUANTIZE 1
static void mod__quantize_q8(unsigned char *out, const float *x, int cols) {
    int b, j;
    for (b = 0; b < cols / MOD__INT8_BLOCK; b++, out += MOD__INT8X_BYTES) {
        const float *v = x + b * MOD__INT8_BLOCK;
        const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f), zero = _mm256_setzero_ps();
        __m256 a[4];
        __m256i q8[4], p;
        float amax, d, id;
        for (j = 0; j < 4; j++) a[j] = _mm256_loadu_ps(v + 8 * j);
        amax = mod__block_amax(v);
        d = amax / 127.0f;
        id = d > 0.0f ? 1.0f / d : 0.0f;
        for (j = 0; j < 4; j++) {
            __m256 q = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_mul_ps(a[j], _mm256_set1_ps(id))));
            const __m256 ordered = _mm256_cmp_ps(q, q, _CMP_ORD_Q);
            q = _mm256_add_ps(q, _mm256_blendv_ps(_mm256_set1_ps(0.5f), _mm256_set1_ps(-0.5f), _mm256_cmp_ps(q, zero, _CMP_LT_OQ)));
            q8[j] = _mm256_and_si256(_mm256_cvttps_epi32(q), _mm256_castps_si256(ordered)); /* NaN -> 0 */
        }
        /* saturating packs interleave 128-bit lanes; the permute puts the values back in order */
        p = _mm256_packs_epi16(_mm256_packs_epi32(q8[0], q8[1]), _mm256_packs_epi32(q8[2], q8[3]));
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        memcpy(out, &d, 4);
        _mm256_storeu_si256(MOD__CAST(__m256i *, MOD__CAST(void *, out + 4)), p);
    }
}

/* One whole block of the q8_0 cache's rule (mod__kv_q8), as on AVX-512 */
#define MOD__KV_Q8 1
static void mod__kv_q8_round(signed char *q, const float *x, float d) {
    __m256i r[4], p;
    int j;
    for (j = 0; j < 4; j++) {
        __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + 8 * j), _mm256_set1_ps(d)), t;
        v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q)); /* NaN -> 0 */
        v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
        t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        r[j] = _mm256_cvttps_epi32(t);
        t = _mm256_sub_ps(v, t); /* exact; the comparisons are -1 where true */
        r[j] = _mm256_sub_epi32(r[j], _mm256_castps_si256(_mm256_cmp_ps(t, _mm256_set1_ps(0.5f), _CMP_GE_OQ)));
        r[j] = _mm256_add_epi32(r[j], _mm256_castps_si256(_mm256_cmp_ps(t, _mm256_set1_ps(-0.5f), _CMP_LE_OQ)));
    }
    p = _mm256_packs_epi16(_mm256_packs_epi32(r[0], r[1]), _mm256_packs_epi32(r[2], r[3]));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(MOD__CAST(__m256i *, MOD__CAST(void *, q)), p);
}
#endif /* MOD__BACKEND_AVX2 */

/* The AVX2 int8 block steps: those of this backend and of AVX-512 CPUs without VNNI. */
#ifdef MOD__INT8_AVX2
#define MOD__INT8_VEC 1
#define MOD__INT8_UNIT 1
typedef __m256 mod__qf;
typedef __m256i mod__qi;
typedef __m256i mod__qs;
#define mod__q8_fzero() _mm256_setzero_ps()
#define mod__q8_szero() _mm256_setzero_si256()
#define mod__q8_fmul(a, b) _mm256_mul_ps(a, b)
static mod__qi mod__q8_load(const unsigned char *p, size_t next) {
    (void)next;
    return _mm256_loadu_si256(MOD__CAST(const __m256i *, MOD__CAST(const void *, p)));
}
/* unsigned x signed products: the weight's sign moves onto the activation, |w| (x sign w);
   per row |w| (wa) and the weights for their signs (wb) */
#define mod__q8_wa(q) _mm256_sign_epi8(q, q)
#define mod__q8_wb(q) (q)
static mod__qi mod__q8_xload(const unsigned char *x) { return mod__q8_load(x + 4, MOD__INT8X_BYTES); }
static mod__qf mod__q8_wscales(const unsigned char *w) { return _mm256_set1_ps(MOD__BLOCK_SCALE(w)); }
static mod__qf mod__q8_xscales(const unsigned char *x) {
    float a;
    memcpy(&a, x, 4);
    return _mm256_set1_ps(a);
}
static mod__qf mod__q8_step(mod__qf acc, mod__qi aw, mod__qs sign, mod__qi qx, mod__qf sc) {
    const mod__qi sx = _mm256_sign_epi8(qx, sign);
#if defined(__AVXVNNI__)
    const mod__qi dot = _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), aw, sx);
#elif defined(__AVX512VNNI__) && defined(__AVX512VL__)
    const mod__qi dot = _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, sx);
#else
    const mod__qi dot = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), _mm256_set1_epi16(1));
#endif
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), sc, acc);
}
static float mod__q8_sum(mod__qf v) {
    float o[8];
    _mm256_storeu_ps(o, v);
    return ((o[0] + o[1]) + (o[2] + o[3])) + ((o[4] + o[5]) + (o[6] + o[7]));
}
static mod__qi mod__q4_load(const unsigned char *p) {
    const __m128i q = _mm_loadu_si128(MOD__CAST(const __m128i *, MOD__CAST(const void *, p + 2))), m = _mm_set1_epi8(15);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(q, m)), _mm_and_si128(_mm_srli_epi16(q, 4), m), 1);
}
static mod__qi mod__q4_xload(const unsigned char *x) { return mod__q8_load(x + 4, MOD__INT8X_BYTES); }
static mod__qi mod__q4_xstart(mod__qi qx) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(8), qx), _mm256_set1_epi16(-1));
}
static mod__qf mod__q4_wscales(const unsigned char *w) { return _mm256_set1_ps(MOD__BLOCK_SCALE(w)); }
static mod__qf mod__q4_step(mod__qf acc, mod__qi v, mod__qi start, mod__qi qx, mod__qf sc) {
#if defined(__AVXVNNI__)
    const mod__qi dot = _mm256_dpbusd_avx_epi32(start, v, qx);
#elif defined(__AVX512VNNI__) && defined(__AVX512VL__)
    const mod__qi dot = _mm256_dpbusd_epi32(start, v, qx);
#else
    /* |v x| <= 15 * 128: the pairs of maddubs cannot saturate */
    const mod__qi dot = _mm256_add_epi32(start, _mm256_madd_epi16(_mm256_maddubs_epi16(v, qx), _mm256_set1_epi16(1)));
#endif
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), sc, acc);
}
#endif /* MOD__INT8_AVX2 */

/* ---- >>backend-neon   AArch64 NEON (4 lanes; int8 by SDOT where the CPU has it) ----- */
#ifdef MOD__BACKEND_NEON
#include <arm_neon.h>
#define MOD__SIMD "neon"
#define MOD__BLOCK_SCALE(p) MOD__BLOCK_SCALE_PORTABLE(p)
#define MOD__VREGS 32
#define MOD__TILE_ROWS 6
#define MOD__DOT_CHUNK 1024
#define MOD__ATT_TILES 1
#define MOD__FORCE_INLINE 1
#define MOD__VL 4
typedef float32x4_t mod__v;
#define mod__vzero() vdupq_n_f32(0.0f)
#define mod__vload(p) vld1q_f32(p)
#define mod__vstore(p, v) vst1q_f32(p, v)
#define mod__vdup(x) vdupq_n_f32(x)
#define mod__vfma(acc, a, b) vfmaq_f32(acc, a, b)
#define mod__vadd(a, b) vaddq_f32(a, b)
#define mod__vmul(a, b) vmulq_f32(a, b)
#define mod__vmax(a, b) vmaxq_f32(a, b)
#define mod__vdiv(a, b) vdivq_f32(a, b)
#define MOD__VI8 1
static mod__v mod__vload_i8(const signed char *p) {
    int32_t u;
    memcpy(&u, p, 4);
    return vcvtq_f32_s32(vmovl_s16(vget_low_s16(vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(u))))));
}
#define MOD__VHALF 1
#define mod__vload_f16(p) vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)))
#define mod__vload_bf16(p) vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16))
static float mod__vsum(mod__v v) { return vaddvq_f32(v); }
#define MOD__VSUM4 1
static void mod__vsum4(float *out, mod__v a, mod__v b, mod__v c, mod__v d) {
    out[0] = mod__vsum(a); out[1] = mod__vsum(b); out[2] = mod__vsum(c); out[3] = mod__vsum(d);
}
#define MOD__KB MOD__VL

#define MOD__VEXP 1
static int mod__vexp_out(mod__v x) {
    const uint32x4_t out = vorrq_u32(vorrq_u32(vcltq_f32(x, vdupq_n_f32(-87.3f)), vcgtq_f32(x, vdupq_n_f32(88.7f))),
                                     vmvnq_u32(vceqq_f32(x, x)));
    return vmaxvq_u32(out) != 0;
}
#define mod__vround(x) vrndnq_f32(x)
/* 2^n built from its exponent bits, n + 127 in bits 23-30, as on AVX2 */
#define mod__vscale(y, n) vmulq_f32(y, vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23)))

#define MOD__ROWS 1
static size_t mod__f16_row(float *out, const uint16_t *p, size_t n, size_t ahead) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16(p + i));
        if (i % 32 == 0) MOD__PREFETCH(p + i + ahead);
        vst1q_f32(out + i, vcvt_f32_f16(vget_low_f16(h)));
        vst1q_f32(out + i + 4, vcvt_high_f32_f16(h));
    }
    return i;
}
static size_t mod__bf16_row(float *out, const uint16_t *p, size_t n, size_t ahead) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint16x8_t h = vld1q_u16(p + i);
        if (i % 32 == 0) MOD__PREFETCH(p + i + ahead);
        vst1q_f32(out + i, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16)));
        vst1q_f32(out + i + 4, vreinterpretq_f32_u32(vshll_high_n_u16(h, 16)));
    }
    return i;
}
static size_t mod__f16_store(uint16_t *out, const float *x, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(out + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    return i;
}

/* the largest |x| of 32 floats: vmaxnm ignores a NaN |x|, as the scalar comparison does */
static float mod__block_amax(const float *x) {
    float32x4_t m = vdupq_n_f32(0.0f);
    int j;
    for (j = 0; j < 8; j++) m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(x + 4 * j)));
    return vmaxvq_f32(m);
}

/* x[cols] -> cols / 32 activation blocks by the portable rule (>>int8), byte for byte: the
   clamps keep a NaN, q +- 0.5 truncates as the cast does, and a NaN converts to 0 */
#define MOD__QUANTIZE 1
static void mod__quantize_q8(unsigned char *out, const float *x, int cols) {
    int b, j;
    for (b = 0; b < cols / MOD__INT8_BLOCK; b++, out += MOD__INT8X_BYTES) {
        const float *v = x + b * MOD__INT8_BLOCK;
        float32x4_t a[8], vid;
        int16x8_t h[4];
        float amax, d, id;
        for (j = 0; j < 8; j++) a[j] = vld1q_f32(v + 4 * j);
        amax = mod__block_amax(v);
        d = amax / 127.0f;
        id = d > 0.0f ? 1.0f / d : 0.0f;
        vid = vdupq_n_f32(id);
        for (j = 0; j < 8; j += 2) {
            float32x4_t q0 = vminq_f32(vdupq_n_f32(127.0f), vmaxq_f32(vdupq_n_f32(-127.0f), vmulq_f32(a[j], vid)));
            float32x4_t q1 = vminq_f32(vdupq_n_f32(127.0f), vmaxq_f32(vdupq_n_f32(-127.0f), vmulq_f32(a[j + 1], vid)));
            q0 = vaddq_f32(q0, vbslq_f32(vcltq_f32(q0, vdupq_n_f32(0.0f)), vdupq_n_f32(-0.5f), vdupq_n_f32(0.5f)));
            q1 = vaddq_f32(q1, vbslq_f32(vcltq_f32(q1, vdupq_n_f32(0.0f)), vdupq_n_f32(-0.5f), vdupq_n_f32(0.5f)));
            h[j / 2] = vcombine_s16(vmovn_s32(vcvtq_s32_f32(q0)), vmovn_s32(vcvtq_s32_f32(q1)));
        }
        memcpy(out, &d, 4);
        vst1q_s8(MOD__CAST(int8_t *, MOD__CAST(void *, out + 4)), vcombine_s8(vmovn_s16(h[0]), vmovn_s16(h[1])));
        vst1q_s8(MOD__CAST(int8_t *, MOD__CAST(void *, out + 20)), vcombine_s8(vmovn_s16(h[2]), vmovn_s16(h[3])));
    }
}

/* One whole block of the q8_0 cache's rule (mod__kv_q8): the conversion rounds to nearest
   with ties away from zero, the rule's rounding, and takes a NaN (kept by the clamps) to 0 */
#define MOD__KV_Q8 1
static void mod__kv_q8_round(signed char *q, const float *x, float d) {
    int16x8_t h[4];
    int j;
    for (j = 0; j < 8; j += 2) {
        const float32x4_t v0 = vdivq_f32(vld1q_f32(x + 4 * j), vdupq_n_f32(d)), v1 = vdivq_f32(vld1q_f32(x + 4 * j + 4), vdupq_n_f32(d));
        const int32x4_t r0 = vcvtaq_s32_f32(vminq_f32(vdupq_n_f32(127.0f), vmaxq_f32(vdupq_n_f32(-127.0f), v0)));
        const int32x4_t r1 = vcvtaq_s32_f32(vminq_f32(vdupq_n_f32(127.0f), vmaxq_f32(vdupq_n_f32(-127.0f), v1)));
        h[j / 2] = vcombine_s16(vmovn_s32(r0), vmovn_s32(r1));
    }
    vst1q_s8(MOD__CAST(int8_t *, MOD__CAST(void *, q)), vcombine_s8(vmovn_s16(h[0]), vmovn_s16(h[1])));
    vst1q_s8(MOD__CAST(int8_t *, MOD__CAST(void *, q + 16)), vcombine_s8(vmovn_s16(h[2]), vmovn_s16(h[3])));
}

#define MOD__INT8_NEON 1
#define MOD__INT8_VEC 1
/* A block's 32 values in two registers; each of the four 32-bit lanes of a block's integer
   sum adds up its own share of the products exactly (|sum| < 2^18), and the lanes go through
   float separately until mod__q8_sum. */
#define MOD__INT8_UNIT 1
typedef float32x4_t mod__qf;
typedef int8x16x2_t mod__qi;
typedef int32x4_t mod__qs;
#define mod__q8_fzero() vdupq_n_f32(0.0f)
#define mod__q8_szero() vdupq_n_s32(0)
#define mod__q8_fmul(a, b) vmulq_f32(a, b)
static mod__qi mod__q8_load(const unsigned char *p, size_t next) {
    mod__qi q;
    (void)next;
    q.val[0] = vreinterpretq_s8_u8(vld1q_u8(p));
    q.val[1] = vreinterpretq_s8_u8(vld1q_u8(p + 16));
    return q;
}
/* signed x signed: the weights as they are (wa), every sum starting at zero (wb) */
#define mod__q8_wa(q) (q)
#define mod__q8_wb(q) vdupq_n_s32(0)
static mod__qi mod__q8_xload(const unsigned char *x) { return mod__q8_load(x + 4, MOD__INT8X_BYTES); }
/* the f16 scale of a weight block over four lanes */
static mod__qf mod__q8_wscales(const unsigned char *w) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(MOD__CAST(uint16_t, w[0] | w[1] << 8))));
}
static mod__qf mod__q8_xscales(const unsigned char *x) {
    float a;
    memcpy(&a, x, 4);
    return vdupq_n_f32(a);
}
/* the exact integer products of a block, added to start; without SDOT each product is widened
   to 16 bits (exact, |w x| <= 128 x 128) and pairs of them added into the 32-bit lanes */
static int32x4_t mod__q8_idot(int32x4_t start, mod__qi w, mod__qi x) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(vdotq_s32(start, w.val[0], x.val[0]), w.val[1], x.val[1]);
#else
    start = vpadalq_s16(start, vmull_s8(vget_low_s8(w.val[0]), vget_low_s8(x.val[0])));
    start = vpadalq_s16(start, vmull_high_s8(w.val[0], x.val[0]));
    start = vpadalq_s16(start, vmull_s8(vget_low_s8(w.val[1]), vget_low_s8(x.val[1])));
    return vpadalq_s16(start, vmull_high_s8(w.val[1], x.val[1]));
#endif
}
static mod__qf mod__q8_step(mod__qf acc, mod__qi w, mod__qs start, mod__qi qx, mod__qf sc) {
    return vfmaq_f32(acc, vcvtq_f32_s32(mod__q8_idot(start, w, qx)), sc);
}
static float mod__q8_sum(mod__qf v) { return vaddvq_f32(v); }
/* a weight block's values v - 8 in the order of the activations: the low nibbles, then the
   high ones (p at the block's scale) */
static mod__qi mod__q4_load(const unsigned char *p) {
    const uint8x16_t q = vld1q_u8(p + 2);
    const int8x16_t eight = vdupq_n_s8(8);
    mod__qi v;
    v.val[0] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(15))), eight);
    v.val[1] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
    return v;
}
static mod__qi mod__q4_xload(const unsigned char *x) { return mod__q8_xload(x); }
#define mod__q4_xstart(qx) vdupq_n_s32(0)
#define mod__q4_wscales(w) mod__q8_wscales(w)
static mod__qf mod__q4_step(mod__qf acc, mod__qi v, mod__qs start, mod__qi qx, mod__qf sc) {
    return vfmaq_f32(acc, vcvtq_f32_s32(mod__q8_idot(start, v, qx)), sc);
}
#endif /* MOD__BACKEND_NEON */

/* ---- >>backend-helium   Armv8.1-M MVE with floating point (4 lanes, 8 registers) ---- */
#ifdef MOD__BACKEND_HELIUM
#include <arm_mve.h>
#define MOD__SIMD "helium"
#define MOD__BLOCK_SCALE(p) MOD__BLOCK_SCALE_PORTABLE(p)
#define MOD__VREGS 16
#define MOD__TILE_ROWS 4
#define MOD__DOT_CHUNK 0x7fffffff /* no data cache to fit: every row whole, the chunk loops fold away */
#define MOD__KB 1                 /* plain key rows */
#define MOD__ATT_TILES 0          /* eight vector registers: no register tiles in attention */
#define MOD__FORCE_INLINE 0
#define MOD__VL 4
typedef float32x4_t mod__v;
#define mod__vzero() vdupq_n_f32(0.0f)
#define mod__vload(p) vld1q_f32(p)
#define mod__vstore(p, v) vst1q_f32(p, v)
#define mod__vdup(x) vdupq_n_f32(x)
#define mod__vfma(acc, a, b) vfmaq_f32(acc, a, b)
#define mod__vadd(a, b) vaddq_f32(a, b)
#define mod__vmul(a, b) vmulq_f32(a, b)
#define mod__vmax(a, b) vmaxnmq_f32(a, b)
#define MOD__VI8 1
#define mod__vload_i8(p) vcvtq_f32_s32(vldrbq_s32(MOD__CAST(const int8_t *, p)))
static float mod__vsum(mod__v v) {
    return (vgetq_lane_f32(v, 0) + vgetq_lane_f32(v, 1)) + (vgetq_lane_f32(v, 2) + vgetq_lane_f32(v, 3));
}
#define MOD__VSUM4 1
static void mod__vsum4(float *out, mod__v a, mod__v b, mod__v c, mod__v d) {
    out[0] = mod__vsum(a); out[1] = mod__vsum(b); out[2] = mod__vsum(c); out[3] = mod__vsum(d);
}
#define MOD__VEXP_SCALAR 1 /* MVE has no vector divide for the SwiGLU gate */
#define MOD__ROWS 1
#define mod__f16_row(out, p, n, ahead) ((void)(ahead), (size_t)0)
#define mod__bf16_row(out, p, n, ahead) ((void)(ahead), (size_t)0)
#define mod__f16_store(out, x, n) ((size_t)0)
#define MOD__QUANTIZE_PORTABLE 1
#endif /* MOD__BACKEND_HELIUM */

/* ---- >>backend-scalar   portable C: any compiler, any CPU --------------------------- */
#ifdef MOD__BACKEND_SCALAR
#define MOD__SIMD "scalar"
#define MOD__BLOCK_SCALE(p) MOD__BLOCK_SCALE_PORTABLE(p)
#define MOD__VREGS 16
#define MOD__TILE_ROWS 4
#define MOD__DOT_CHUNK 1024
#define MOD__KB 1
#define MOD__ATT_TILES 0
#define MOD__FORCE_INLINE 0
#define MOD__ROWS 1
#define mod__f16_row(out, p, n, ahead) ((void)(ahead), (size_t)0)
#define mod__bf16_row(out, p, n, ahead) ((void)(ahead), (size_t)0)
#define mod__f16_store(out, x, n) ((size_t)0)
#define MOD__QUANTIZE_PORTABLE 1
#endif /* MOD__BACKEND_SCALAR */

/* The contract check: a backend that misses a piece stops the build here. */
#if !defined(MOD__SIMD) || !defined(MOD__BLOCK_SCALE) || !defined(MOD__VREGS) || !defined(MOD__TILE_ROWS) || !defined(MOD__DOT_CHUNK) || \
    !defined(MOD__KB) || !defined(MOD__ATT_TILES) || !defined(MOD__FORCE_INLINE) || !defined(MOD__ROWS) ||  \
    (defined(MOD__QUANTIZE) == defined(MOD__QUANTIZE_PORTABLE))
#error "mod.h: the backend does not define the whole contract (see >>backend)"
#endif
#if defined(MOD__VL) && (!defined(MOD__VSUM4) || defined(MOD__VEXP) == defined(MOD__VEXP_SCALAR))
#error "mod.h: the vector backend does not define the whole contract (see >>backend)"
#endif
#if defined(MOD__INT8_VEC) && !defined(MOD__INT8_UNIT)
#error "mod.h: the int8 block steps are incomplete (see >>backend)"
#endif
#if defined(MOD__KV_Q8) && !defined(MOD__QUANTIZE)
#error "mod.h: the q8_0 cache's block step needs the backend's mod__block_amax (see >>backend)"
#endif

/* ======================================================================================= */
/* >>f32       f32 kernels: dot products, register tiles, weight rows as f32             */
/* ======================================================================================= */

/* On the vector paths of CPUs with caches, a dot product longer than MOD__DOT_CHUNK is the sum,
   in order, of the dot products of its 1024-column chunks. A prefill tile then takes one chunk
   of its rows at a time, 6 rows x 1024 floats = 24 KiB, which stays in the L1 data cache (48
   KiB here, 32 KiB on many CPUs) next to the activations streaming past. Helium cores (no data
   cache to fit) take every row whole. */
#define MOD__ROWS_CONVERTED (MOD__TILE_ROWS > 4 ? MOD__TILE_ROWS : 4)

/* The scalar end of a dot product, shared so every caller rounds identically. */
static float mod__dot_tail(float s, const float *a, const float *b, int from, int n) {
    int i;
    for (i = from; i < n; i++) s += a[i] * b[i];
    return s;
}

#ifdef MOD__VL
/* Fetches the bytes [p + from, p + to) into the cache, a line at a time. */
static void mod__prefetch_range(const void *p, size_t from, size_t to) {
#ifdef MOD__PREFETCHING
    const unsigned char *c = MOD__CAST(const unsigned char *, p);
    for (; from < to; from += 64) MOD__PREFETCH(c + from);
#else
    (void)p; (void)from; (void)to;
#endif
}
/* Fetches part `part` of `parts` of the bytes [p, p + bytes) into the cache. A matrix product
   spreads the next tile's weight rows over the current tile's token groups this way, so
   memory keeps pace however short the batch. */
static void mod__prefetch_part(const void *p, size_t bytes, int part, int parts) {
    const size_t slice = (bytes / (size_t)parts + 64) / 64 * 64, f = (size_t)part * slice;
    mod__prefetch_range(p, f, f + slice < bytes ? f + slice : bytes);
}

/* the end of the chunk of [0, n) that starts at column c */
static int mod__chunk_end(int c, int n) { return n - c < MOD__DOT_CHUNK ? n : c + MOD__DOT_CHUNK; }
/* The span helpers are force-inlined twice into their callers, so the usual single chunk
   runs with no loop around it (short rows, such as attention heads, feel every overhead). */
#if (defined(__GNUC__) || defined(__clang__)) && MOD__FORCE_INLINE
#define MOD__SPAN_INLINE __attribute__((always_inline)) static inline
#else
#define MOD__SPAN_INLINE static
#endif
/* Lane i of a vector sums the products of columns from + i, from + i + MOD__VL, ... below
   to; then come the lanes (mod__vsum) and the columns past the last whole vector. */
MOD__SPAN_INLINE float mod__dot_span(const float *a, const float *b, int from, int to) {
    mod__v acc = mod__vzero();
    int i = from;
    for (; i + MOD__VL <= to; i += MOD__VL) acc = mod__vfma(acc, mod__vload(a + i), mod__vload(b + i));
    return mod__dot_tail(mod__vsum(acc), a, b, i, to);
}
/* Chunk by chunk (MOD__DOT_CHUNK columns), the chunks' sums added in order. */
static float mod__dot(const float *a, const float *b, int n) {
    float s = mod__dot_span(a, b, 0, mod__chunk_end(0, n));
    int c;
    for (c = MOD__DOT_CHUNK; c < n; c += MOD__DOT_CHUNK) s += mod__dot_span(a, b, c, mod__chunk_end(c, n));
    return s;
}

/* Rows the decoding kernels read as they are stored: MOD__W_F32, or with MOD__VHALF also
   MOD__W_F16 and MOD__W_BF16, each value converted in a register (exactly) as it is used, so
   a sum is the one its rows converted to f32 first would give, operation for operation. The
   kind is a constant wherever these are used hot (the helpers are force-inlined), so each kind
   gets code of its own. Offsets are in values. */
#define MOD__W_F32 0
#define MOD__W_F16 1
#define MOD__W_BF16 2
#ifdef MOD__VHALF
#define MOD__WLOAD(kind, w, o)                                                                                   \
    ((kind) == MOD__W_F32    ? mod__vload(MOD__CAST(const float *, w) + (o))                                      \
     : (kind) == MOD__W_F16 ? mod__vload_f16(MOD__CAST(const uint16_t *, w) + (o))                                \
                            : mod__vload_bf16(MOD__CAST(const uint16_t *, w) + (o)))
#else
#define MOD__WLOAD(kind, w, o) ((void)(kind), mod__vload(MOD__CAST(const float *, w) + (o)))
#endif
static float mod__wval(const void *w, size_t o, int kind) {
    if (kind == MOD__W_F32) return MOD__CAST(const float *, w)[o];
    return kind == MOD__W_F16 ? mod__f16_to_f32(MOD__CAST(const uint16_t *, w)[o]) : mod__bf16_to_f32(MOD__CAST(const uint16_t *, w)[o]);
}

/* y += a * x, x of the given kind */
MOD__SPAN_INLINE void mod__axpy_w(float *y, float a, const void *x, int n, int kind) {
    const mod__v va = mod__vdup(a);
    int i = 0;
    for (; i + MOD__VL <= n; i += MOD__VL) mod__vstore(y + i, mod__vfma(mod__vload(y + i), va, MOD__WLOAD(kind, x, i)));
    for (; i < n; i++) y[i] += a * mod__wval(x, (size_t)i, kind);
}

/* y[n] += p[t] x_t for t in [0, count), in order, rows x_t `stride` values apart, of the given
   kind: each element takes the operations mod__axpy_w would give it row after row, but y stays
   in registers, four vectors at a time, across all the rows instead of being stored and loaded
   again for each (that store-to-load chain bounded decoding after a long context). */
MOD__SPAN_INLINE void mod__axpy_rows_w(float *y, const float *p, const void *x, size_t stride, int count, int n, int kind) {
    const size_t size = kind == MOD__W_F32 ? sizeof(float) : sizeof(uint16_t);
    const int ahead = (int)(MOD__KV_AHEAD / (stride * size) + 1); /* rows */
    int c = 0, t;
    for (; c + 4 * MOD__VL <= n; c += 4 * MOD__VL) {
        mod__v a0 = mod__vload(y + c), a1 = mod__vload(y + c + MOD__VL);
        mod__v a2 = mod__vload(y + c + 2 * MOD__VL), a3 = mod__vload(y + c + 3 * MOD__VL);
        size_t o = (size_t)c;
        for (t = 0; t < count; t++, o += stride) {
            const mod__v va = mod__vdup(p[t]);
            if (kind != MOD__W_F32 && t + ahead < count) /* the same columns of a row further on */
                mod__prefetch_range(x, (o + (size_t)ahead * stride) * size, (o + (size_t)ahead * stride + 4 * MOD__VL) * size);
            a0 = mod__vfma(a0, va, MOD__WLOAD(kind, x, o));
            a1 = mod__vfma(a1, va, MOD__WLOAD(kind, x, o + MOD__VL));
            a2 = mod__vfma(a2, va, MOD__WLOAD(kind, x, o + 2 * MOD__VL));
            a3 = mod__vfma(a3, va, MOD__WLOAD(kind, x, o + 3 * MOD__VL));
        }
        mod__vstore(y + c, a0); mod__vstore(y + c + MOD__VL, a1);
        mod__vstore(y + c + 2 * MOD__VL, a2); mod__vstore(y + c + 3 * MOD__VL, a3);
    }
    if (c < n)
        for (t = 0; t < count; t++)
            mod__axpy_w(y + c, p[t], MOD__CAST(const unsigned char *, x) + ((size_t)t * stride + (size_t)c) * size, n - c, kind);
}
static void mod__axpy_rows(float *y, const float *p, const float *x, size_t stride, int count, int n) {
    mod__axpy_rows_w(y, p, x, stride, count, n, MOD__W_F32);
}

/* MOD__TILE_ROWS rows of W against four rows of x: one accumulator for each pair, each the
   exact sequence of operations mod__dot performs, so results do not depend on tiling. */
#if MOD__TILE_ROWS == 6
#define MOD__EACH_ROW(M, t) M(0, t) M(1, t) M(2, t) M(3, t) M(4, t) M(5, t)
#elif MOD__TILE_ROWS == 4
#define MOD__EACH_ROW(M, t) M(0, t) M(1, t) M(2, t) M(3, t)
#else
#define MOD__EACH_ROW(M, t) M(0, t) M(1, t) M(2, t)
#endif
#define MOD__EACH(M) MOD__EACH_ROW(M, 0) MOD__EACH_ROW(M, 1) MOD__EACH_ROW(M, 2) MOD__EACH_ROW(M, 3)
#define MOD__TILE_ACC(r, t) mod__v a##r##t = mod__vzero();
#define MOD__TILE_W(r, t) const mod__v v##r = mod__vload(w + (r) * wstride + i);
#define MOD__TILE_FMA(r, t) a##r##t = mod__vfma(a##r##t, u, v##r);
#define MOD__TILE_X(t) u = mod__vload(x + (t) * xstride + i); MOD__EACH_ROW(MOD__TILE_FMA, t)
#define MOD__TILE_OUT(r, t)                                                                      \
    {                                                                                            \
        float sum[4];                                                                            \
        mod__vsum4(sum, a##r##0, a##r##1, a##r##2, a##r##3);                                     \
        y[(r)] = mod__dot_tail(sum[0], x, w + (r) * wstride, i, cols);                           \
        y[ystride + (r)] = mod__dot_tail(sum[1], x + xstride, w + (r) * wstride, i, cols);       \
        y[2 * ystride + (r)] = mod__dot_tail(sum[2], x + 2 * xstride, w + (r) * wstride, i, cols); \
        y[3 * ystride + (r)] = mod__dot_tail(sum[3], x + 3 * xstride, w + (r) * wstride, i, cols); \
    }
/* One chunk (cols <= MOD__DOT_CHUNK) of the dot products, the operations of mod__dot_span. */
static void mod__tile(float *y, size_t ystride, const float *w, size_t wstride, const float *x,
                      size_t xstride, int cols) {
    int i = 0;
    MOD__EACH(MOD__TILE_ACC)
    for (; i + MOD__VL <= cols; i += MOD__VL) {
        mod__v u;
        MOD__EACH_ROW(MOD__TILE_W, 0)
        MOD__TILE_X(0) MOD__TILE_X(1) MOD__TILE_X(2) MOD__TILE_X(3)
    }
    MOD__EACH_ROW(MOD__TILE_OUT, 0)
}
#undef MOD__EACH_ROW
#undef MOD__EACH
#undef MOD__TILE_ACC
#undef MOD__TILE_W
#undef MOD__TILE_FMA
#undef MOD__TILE_X
#undef MOD__TILE_OUT

/* Columns [from, to) of one row of x against four rows of W (decoding): four independent
   chains, each the operations of mod__dot_span; rows of another kind than f32 fetch the rows
   `ahead` values further on into the cache meanwhile, a line of each row at a time. */
MOD__SPAN_INLINE void mod__tile4x1_span(float *y, const void *w, size_t wstride, size_t ahead, const float *x, int from,
                                        int to, int kind) {
    const size_t o1 = wstride, o2 = 2 * wstride, o3 = 3 * wstride;
    mod__v a0 = mod__vzero(), a1 = a0, a2 = a0, a3 = a0;
    int i = from, r;
    for (; i + MOD__VL <= to; i += MOD__VL) {
        const mod__v u = mod__vload(x + i);
        if (kind != MOD__W_F32 && i % 32 == 0)
            for (r = 0; r < 4; r++) MOD__PREFETCH(MOD__CAST(const uint16_t *, w) + (size_t)r * wstride + (size_t)i + ahead);
        a0 = mod__vfma(a0, u, MOD__WLOAD(kind, w, (size_t)i));
        a1 = mod__vfma(a1, u, MOD__WLOAD(kind, w, o1 + (size_t)i));
        a2 = mod__vfma(a2, u, MOD__WLOAD(kind, w, o2 + (size_t)i));
        a3 = mod__vfma(a3, u, MOD__WLOAD(kind, w, o3 + (size_t)i));
    }
    mod__vsum4(y, a0, a1, a2, a3);
    for (r = 0; r < 4; r++) {
        int k;
        for (k = i; k < to; k++) y[r] += x[k] * mod__wval(w, (size_t)r * wstride + (size_t)k, kind);
    }
}
/* All columns, chunk by chunk as mod__dot; a kind known only at run time is dispatched here
   to code of its own. */
static void mod__rows4x1(float *y, const void *w, size_t wstride, size_t ahead, const float *x, int cols, int kind) {
    int c = 0;
    (void)kind; /* f32 alone without MOD__VHALF */
    do {
        float part[4];
        float *const o = c ? part : y;
        const int e = mod__chunk_end(c, cols);
#ifdef MOD__VHALF
        if (kind == MOD__W_F16) mod__tile4x1_span(o, w, wstride, ahead, x, c, e, MOD__W_F16);
        else if (kind == MOD__W_BF16) mod__tile4x1_span(o, w, wstride, ahead, x, c, e, MOD__W_BF16);
        else
#endif
            mod__tile4x1_span(o, w, wstride, ahead, x, c, e, MOD__W_F32);
        if (c) { y[0] += part[0]; y[1] += part[1]; y[2] += part[2]; y[3] += part[3]; }
        c += MOD__DOT_CHUNK;
    } while (c < cols);
}
static void mod__tile4x1(float *y, const float *w, size_t wstride, const float *x, int cols) {
    mod__rows4x1(y, w, wstride, 0, x, cols, MOD__W_F32);
}
#else
/* Eight independent sums in a fixed order: vectorizable by the compiler. */
static float mod__dot(const float *a, const float *b, int n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1]; s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3];
        s4 += a[i + 4] * b[i + 4]; s5 += a[i + 5] * b[i + 5]; s6 += a[i + 6] * b[i + 6]; s7 += a[i + 7] * b[i + 7];
    }
    return mod__dot_tail(((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)), a, b, i, n);
}

static void mod__axpy(float *y, float a, const float *x, int n) {
    int i;
    for (i = 0; i < n; i++) y[i] += a * x[i];
}
static void mod__axpy_rows(float *y, const float *p, const float *x, size_t stride, int count, int n) {
    int t;
    for (t = 0; t < count; t++) mod__axpy(y, p[t], x + (size_t)t * stride, n);
}
#endif

/* Rows [row, row + count) of a weight matrix as f32: in place for f32, converted into buf
   otherwise (count * cols floats). */
static const float *mod__rows(const mod__tensor *t, int row, int count, float *buf) {
    const size_t off = (size_t)row * (size_t)t->cols, n = (size_t)count * (size_t)t->cols;
    /* the rows after these, fetched into the cache while these are converted */
    const size_t ahead = row + 2 * count <= t->rows ? n : 0;
    const uint16_t *p = MOD__CAST(const uint16_t *, t->data) + off;
    size_t i = 0;
    if (t->dtype == MOD_DTYPE_F32) return MOD__CAST(const float *, t->data) + off;
    if (t->dtype == MOD_DTYPE_Q8_0) {
        const unsigned char *q = MOD__CAST(const unsigned char *, t->data) + off / MOD__INT8_BLOCK * MOD__Q8_BYTES;
        for (; i < n; i += MOD__INT8_BLOCK, q += MOD__Q8_BYTES) {
            const float d = MOD__BLOCK_SCALE(q);
            int j;
            for (j = 0; j < MOD__INT8_BLOCK; j++) buf[i + j] = d * (float)MOD__CAST(signed char, q[2 + j]);
        }
        return buf;
    }
    if (t->dtype == MOD_DTYPE_Q4_0) {
        const unsigned char *q = MOD__CAST(const unsigned char *, t->data) + off / MOD__INT8_BLOCK * MOD__Q4_BYTES;
        for (; i < n; i += MOD__INT8_BLOCK, q += MOD__Q4_BYTES) {
            const float d = MOD__BLOCK_SCALE(q);
            int j;
            for (j = 0; j < MOD__INT8_BLOCK / 2; j++) {
                buf[i + j] = d * (float)((int)(q[2 + j] & 15) - 8);
                buf[i + j + MOD__INT8_BLOCK / 2] = d * (float)((int)(q[2 + j] >> 4) - 8);
            }
        }
        return buf;
    }
    if (t->dtype == MOD_DTYPE_F16) {
        for (i = mod__f16_row(buf, p, n, ahead); i < n; i++) buf[i] = mod__f16_to_f32(p[i]);
    } else {
        for (i = mod__bf16_row(buf, p, n, ahead); i < n; i++) buf[i] = mod__bf16_to_f32(p[i]);
    }
    return buf;
}

static const float *mod__row(const mod__tensor *t, int row, float *buf) { return mod__rows(t, row, 1, buf); }

/* ======================================================================================= */
/* >>int8      int8 kernels: q8_0 and q4_0 weights against int8 activation blocks        */
/* ======================================================================================= */

/* q8_0: the activations are quantized to int8 blocks too, and each block's dot product is
   exact integer arithmetic (VNNI or SDOT where the CPU has it) scaled by the two block scales.
   q4_0: the weights are 4-bit values v - 8 (v the nibble, 0..15) with an f16 scale per block
   of 32; the activations are the same int8 blocks, and each block's dot product is again exact
   integer arithmetic scaled by the two scales.

   With the block steps of a backend (MOD__INT8_VEC) a register holds MOD__INT8_UNIT blocks. On
   x86 the integer dot products are unsigned x signed byte products (VNNI where the CPU has
   it), each group of four summed exactly into 32 bits; how the signs are arranged changes no
   sum: for q8_0 the AVX2 steps move the weight's sign onto the activation, the AVX-512 steps
   offset the activations by 128 and start each row's sums at -128 times its weights' sum; for
   q4_0 the nibbles take the unsigned side as they are and each group of four starts at -8
   times the sum of its activations. NEON multiplies signed x signed (SDOT where the CPU has
   it), the 8 subtracted from the nibbles first. Every kernel takes each (row, token) element
   through the same sequence of float operations as mod__int_dot, so tiling never changes a
   result. */

/* The portable rule, x[cols] -> cols / 32 activation blocks: scale amax / 127, round to
   nearest (ties away from zero); a backend's own mod__quantize_q8 gives the same bytes. */
#ifdef MOD__QUANTIZE_PORTABLE
static void mod__quantize_q8(unsigned char *out, const float *x, int cols) {
    int b, j;
    for (b = 0; b < cols / MOD__INT8_BLOCK; b++, out += MOD__INT8X_BYTES) {
        const float *v = x + b * MOD__INT8_BLOCK;
        float amax = 0.0f, d, id;
        for (j = 0; j < MOD__INT8_BLOCK; j++) { float a = v[j] < 0 ? -v[j] : v[j]; if (a > amax) amax = a; }
        d = amax / 127.0f;
        id = d > 0.0f ? 1.0f / d : 0.0f;
        memcpy(out, &d, 4);
        for (j = 0; j < MOD__INT8_BLOCK; j++) {
            float q = v[j] * id;
            q = q < -127.0f ? -127.0f : q > 127.0f ? 127.0f : q; /* NaN stays NaN and casts to 0 below */
            out[4 + j] = MOD__CAST(unsigned char, MOD__CAST(signed char, q == q ? (int)(q + (q < 0 ? -0.5f : 0.5f)) : 0));
        }
    }
}
#endif

#if !defined(MOD__INT8_VEC) || MOD__INT8_UNIT > 1
/* One weight block against one activation block, in plain integer arithmetic. */
static float mod__q8_block(const unsigned char *w, const unsigned char *x) {
    int32_t isum = 0;
    float dx;
    int j;
    for (j = 0; j < MOD__INT8_BLOCK; j++) isum += (int32_t)MOD__CAST(signed char, w[2 + j]) * (int32_t)MOD__CAST(signed char, x[4 + j]);
    memcpy(&dx, x, 4);
    return (float)isum * (dx * MOD__BLOCK_SCALE(w));
}

/* One weight block against one activation block, in plain integer arithmetic: the same float
   operations as mod__q8_block. */
static float mod__q4_block(const unsigned char *w, const unsigned char *x) {
    int32_t isum = 0;
    float dx;
    int j;
    for (j = 0; j < MOD__INT8_BLOCK / 2; j++) {
        isum += ((int32_t)(w[2 + j] & 15) - 8) * (int32_t)MOD__CAST(signed char, x[4 + j]);
        isum += ((int32_t)(w[2 + j] >> 4) - 8) * (int32_t)MOD__CAST(signed char, x[4 + MOD__INT8_BLOCK / 2 + j]);
    }
    memcpy(&dx, x, 4);
    return (float)isum * (dx * MOD__BLOCK_SCALE(w));
}
#endif

/* ---- the int8 block products, written once for both weight types. q4 (0 for q8_0, 1 for
   q4_0) is a constant wherever they are used hot (mod__int_block is force-inlined into a loop
   per type), so each type gets code of its own. Per (row, token) element every kernel does the
   float operations of mod__int_dot, so tiling never changes a result. */
#if defined(MOD__INT8_VEC) && (defined(__GNUC__) || defined(__clang__))
#define MOD__INT_INLINE __attribute__((always_inline)) static inline
#else
#define MOD__INT_INLINE static
#endif

#ifdef MOD__INT8_VEC
#define MOD__INT_BYTES(q4) ((q4) ? MOD__Q4_BYTES : MOD__Q8_BYTES)
#define MOD__Q8_W(p) mod__q8_load((p) + 2, MOD__Q8_BYTES)
/* A weight block pair as the step takes it, and the start of its sums: q8_0 rows carry their
   own (mod__q8_wb), q4_0 starts come from the activations (mod__q4_xstart). */
#define MOD__INT_W(q4, p) ((q4) ? mod__q4_load(p) : MOD__Q8_W(p))
#define MOD__INT_WA(q4, q) ((q4) ? (q) : mod__q8_wa(q))
#define MOD__INT_WB(q4, q) ((q4) ? mod__q8_szero() : mod__q8_wb(q))
#define MOD__INT_X(q4, p) ((q4) ? mod__q4_xload(p) : mod__q8_xload(p))
#define MOD__INT_XB(q4, qx) ((q4) ? mod__q4_xstart(qx) : mod__q8_szero())
#define MOD__INT_WS(q4, p) ((q4) ? mod__q4_wscales(p) : mod__q8_wscales(p))
#define MOD__INT_STEP(q4, acc, wa, wb, xb, qx, sc) \
    ((q4) ? mod__q4_step(acc, wa, xb, qx, sc) : mod__q8_step(acc, wa, wb, qx, sc))

/* the register sum, then the blocks [b, nb) that do not fill a register */
MOD__INT_INLINE float mod__int_finish(mod__qf acc, const unsigned char *w, const unsigned char *x, int b, int nb, int q4) {
#if MOD__INT8_UNIT > 1
    float rest = 0.0f;
    for (; b < nb; b++, w += MOD__INT_BYTES(q4), x += MOD__INT8X_BYTES) rest += q4 ? mod__q4_block(w, x) : mod__q8_block(w, x);
    return mod__q8_sum(acc) + rest;
#else
    (void)w; (void)x; (void)b; (void)nb; (void)q4;
    return mod__q8_sum(acc);
#endif
}

/* One weight row (nb blocks) against one quantized activation row. */
MOD__INT_INLINE float mod__int_dot(const unsigned char *w, const unsigned char *x, int nb, int q4) {
    mod__qf acc = mod__q8_fzero();
    int b = 0;
    for (; b + MOD__INT8_UNIT <= nb; b += MOD__INT8_UNIT, w += MOD__INT8_UNIT * MOD__INT_BYTES(q4), x += MOD__INT8_UNIT * MOD__INT8X_BYTES) {
        const mod__qi q = MOD__INT_W(q4, w), qx = MOD__INT_X(q4, x);
        acc = MOD__INT_STEP(q4, acc, MOD__INT_WA(q4, q), MOD__INT_WB(q4, q), MOD__INT_XB(q4, qx), qx,
                            mod__q8_fmul(mod__q8_xscales(x), MOD__INT_WS(q4, w)));
    }
    return mod__int_finish(acc, w, x, b, nb, q4);
}

/* Four weight rows against one activation row (decoding): the activation is loaded once, and
   the rows `ahead` bytes further on are fetched into the cache while these are worked on
   (decoding is bound by memory, and this more than doubled it). A step covers 68 bytes of a
   q8_0 row and 36 of a q4_0 row: two lines ahead, or one, reach them all. */
MOD__INT_INLINE void mod__int_tile4x1(float *y, const unsigned char *w, size_t wrow, size_t ahead, const unsigned char *x, int nb, int q4) {
    const unsigned char *w0 = w, *w1 = w + wrow, *w2 = w + 2 * wrow, *w3 = w + 3 * wrow;
    mod__qf a0 = mod__q8_fzero(), a1 = a0, a2 = a0, a3 = a0;
    size_t o = 0, ox = 0;
    int b = 0;
    for (; b + MOD__INT8_UNIT <= nb; b += MOD__INT8_UNIT, o += MOD__INT8_UNIT * MOD__INT_BYTES(q4), ox += MOD__INT8_UNIT * MOD__INT8X_BYTES) {
        const mod__qi qx = MOD__INT_X(q4, x + ox);
        const mod__qs xb = MOD__INT_XB(q4, qx);
        const mod__qf xs = mod__q8_xscales(x + ox);
        mod__qi q;
        MOD__PREFETCH(w0 + o + ahead);
        MOD__PREFETCH(w1 + o + ahead);
        MOD__PREFETCH(w2 + o + ahead);
        MOD__PREFETCH(w3 + o + ahead);
        if (!q4) {
            MOD__PREFETCH(w0 + o + ahead + 64);
            MOD__PREFETCH(w1 + o + ahead + 64);
            MOD__PREFETCH(w2 + o + ahead + 64);
            MOD__PREFETCH(w3 + o + ahead + 64);
        }
#define MOD__INT_ROW(r) \
        q = MOD__INT_W(q4, w##r + o); \
        a##r = MOD__INT_STEP(q4, a##r, MOD__INT_WA(q4, q), MOD__INT_WB(q4, q), xb, qx, mod__q8_fmul(xs, MOD__INT_WS(q4, w##r + o)));
        MOD__INT_ROW(0) MOD__INT_ROW(1) MOD__INT_ROW(2) MOD__INT_ROW(3)
#undef MOD__INT_ROW
    }
    y[0] = mod__int_finish(a0, w0 + o, x + ox, b, nb, q4);
    y[1] = mod__int_finish(a1, w1 + o, x + ox, b, nb, q4);
    y[2] = mod__int_finish(a2, w2 + o, x + ox, b, nb, q4);
    y[3] = mod__int_finish(a3, w3 + o, x + ox, b, nb, q4);
}

/* Four weight rows against four activation rows: each row's weights serve four tokens, each
   token's activations four rows. */
MOD__INT_INLINE void mod__int_tile4x4(float *y, size_t ystride, const unsigned char *w, size_t wrow,
                                      const unsigned char *x, size_t xrow, int nb, int q4) {
    const unsigned char *w0 = w, *w1 = w + wrow, *w2 = w + 2 * wrow, *w3 = w + 3 * wrow;
    const unsigned char *x0 = x, *x1 = x + xrow, *x2 = x + 2 * xrow, *x3 = x + 3 * xrow;
    mod__qf a00 = mod__q8_fzero(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
    mod__qf a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
    size_t o = 0, ox = 0;
    int b = 0;
    for (; b + MOD__INT8_UNIT <= nb; b += MOD__INT8_UNIT, o += MOD__INT8_UNIT * MOD__INT_BYTES(q4), ox += MOD__INT8_UNIT * MOD__INT8X_BYTES) {
        const mod__qi q0 = MOD__INT_W(q4, w0 + o), q1 = MOD__INT_W(q4, w1 + o), q2 = MOD__INT_W(q4, w2 + o), q3 = MOD__INT_W(q4, w3 + o);
        const mod__qi wa0 = MOD__INT_WA(q4, q0), wa1 = MOD__INT_WA(q4, q1), wa2 = MOD__INT_WA(q4, q2), wa3 = MOD__INT_WA(q4, q3);
        const mod__qs wb0 = MOD__INT_WB(q4, q0), wb1 = MOD__INT_WB(q4, q1), wb2 = MOD__INT_WB(q4, q2), wb3 = MOD__INT_WB(q4, q3);
        const mod__qf ws0 = MOD__INT_WS(q4, w0 + o), ws1 = MOD__INT_WS(q4, w1 + o);
        const mod__qf ws2 = MOD__INT_WS(q4, w2 + o), ws3 = MOD__INT_WS(q4, w3 + o);
#define MOD__INT_TOKEN(t)                                                                        \
        {                                                                                        \
            const mod__qi qx = MOD__INT_X(q4, x##t + ox);                                        \
            const mod__qs xb = MOD__INT_XB(q4, qx);                                              \
            const mod__qf xs = mod__q8_xscales(x##t + ox);                                       \
            a0##t = MOD__INT_STEP(q4, a0##t, wa0, wb0, xb, qx, mod__q8_fmul(xs, ws0));           \
            a1##t = MOD__INT_STEP(q4, a1##t, wa1, wb1, xb, qx, mod__q8_fmul(xs, ws1));           \
            a2##t = MOD__INT_STEP(q4, a2##t, wa2, wb2, xb, qx, mod__q8_fmul(xs, ws2));           \
            a3##t = MOD__INT_STEP(q4, a3##t, wa3, wb3, xb, qx, mod__q8_fmul(xs, ws3));           \
        }
        MOD__INT_TOKEN(0) MOD__INT_TOKEN(1) MOD__INT_TOKEN(2) MOD__INT_TOKEN(3)
#undef MOD__INT_TOKEN
    }
#define MOD__INT_OUT(r, t) y[t * ystride + r] = mod__int_finish(a##r##t, w##r + o, x##t + ox, b, nb, q4)
    MOD__INT_OUT(0, 0); MOD__INT_OUT(1, 0); MOD__INT_OUT(2, 0); MOD__INT_OUT(3, 0);
    MOD__INT_OUT(0, 1); MOD__INT_OUT(1, 1); MOD__INT_OUT(2, 1); MOD__INT_OUT(3, 1);
    MOD__INT_OUT(0, 2); MOD__INT_OUT(1, 2); MOD__INT_OUT(2, 2); MOD__INT_OUT(3, 2);
    MOD__INT_OUT(0, 3); MOD__INT_OUT(1, 3); MOD__INT_OUT(2, 3); MOD__INT_OUT(3, 3);
#undef MOD__INT_OUT
}

#ifdef MOD__Q4_UNPACK_UNITS
/* q4_0 prefill, eight rows against three tokens: the eight rows' nibbles and scales are
   unpacked once (mod__q4_unpack8, MOD__Q4_UNPACK_UNITS registers of a row at most) and serve
   every token of the block, where mod__int_tile4x4 unpacks them again for each four tokens;
   each token's activations, their starts and scales serve eight rows (24 accumulators, the
   weights read from the buffer, which stays in L1). The same steps per element as
   mod__int_dot. wq, ws: unit u of row r at [u * 8 + r]. */
static void mod__q4_unpack8(mod__qi *wq, mod__qf *ws, const unsigned char *w, size_t wrow, int units) {
    int u, r;
    for (u = 0; u < units; u++)
        for (r = 0; r < 8; r++) {
            const unsigned char *p = w + (size_t)r * wrow + (size_t)u * MOD__INT8_UNIT * MOD__Q4_BYTES;
            wq[u * 8 + r] = mod__q4_load(p);
            ws[u * 8 + r] = mod__q4_wscales(p);
        }
}
MOD__INT_INLINE void mod__q4_tile8x3(float *y, size_t ystride, const mod__qi *wq, const mod__qf *ws, int units,
                                     const unsigned char *w, size_t wrow, const unsigned char *x, size_t xrow, int nb) {
    const unsigned char *x0 = x, *x1 = x + xrow, *x2 = x + 2 * xrow;
    mod__qf a00 = mod__q8_fzero(), a10 = a00, a20 = a00, a30 = a00, a40 = a00, a50 = a00, a60 = a00, a70 = a00;
    mod__qf a01 = a00, a11 = a00, a21 = a00, a31 = a00, a41 = a00, a51 = a00, a61 = a00, a71 = a00;
    mod__qf a02 = a00, a12 = a00, a22 = a00, a32 = a00, a42 = a00, a52 = a00, a62 = a00, a72 = a00;
    size_t ox = 0;
    int u;
    for (u = 0; u < units; u++, ox += MOD__INT8_UNIT * MOD__INT8X_BYTES) {
        const mod__qi *q = wq + u * 8;
        const mod__qf *s = ws + u * 8;
#define MOD__Q4_TOKEN(t)                                                                           \
        {                                                                                          \
            const mod__qi qx = mod__q4_xload(x##t + ox);                                           \
            const mod__qs xb = mod__q4_xstart(qx);                                                 \
            const mod__qf xs = mod__q8_xscales(x##t + ox);                                         \
            a0##t = mod__q4_step(a0##t, q[0], xb, qx, mod__q8_fmul(xs, s[0]));                     \
            a1##t = mod__q4_step(a1##t, q[1], xb, qx, mod__q8_fmul(xs, s[1]));                     \
            a2##t = mod__q4_step(a2##t, q[2], xb, qx, mod__q8_fmul(xs, s[2]));                     \
            a3##t = mod__q4_step(a3##t, q[3], xb, qx, mod__q8_fmul(xs, s[3]));                     \
            a4##t = mod__q4_step(a4##t, q[4], xb, qx, mod__q8_fmul(xs, s[4]));                     \
            a5##t = mod__q4_step(a5##t, q[5], xb, qx, mod__q8_fmul(xs, s[5]));                     \
            a6##t = mod__q4_step(a6##t, q[6], xb, qx, mod__q8_fmul(xs, s[6]));                     \
            a7##t = mod__q4_step(a7##t, q[7], xb, qx, mod__q8_fmul(xs, s[7]));                     \
        }
        MOD__Q4_TOKEN(0) MOD__Q4_TOKEN(1) MOD__Q4_TOKEN(2)
#undef MOD__Q4_TOKEN
    }
    {
        const int b = units * MOD__INT8_UNIT;
        const size_t o = (size_t)b * MOD__Q4_BYTES;
#define MOD__Q4_OUT(r, t) y[t * ystride + r] = mod__int_finish(a##r##t, w + r * wrow + o, x##t + ox, b, nb, 1)
        MOD__Q4_OUT(0, 0); MOD__Q4_OUT(1, 0); MOD__Q4_OUT(2, 0); MOD__Q4_OUT(3, 0);
        MOD__Q4_OUT(4, 0); MOD__Q4_OUT(5, 0); MOD__Q4_OUT(6, 0); MOD__Q4_OUT(7, 0);
        MOD__Q4_OUT(0, 1); MOD__Q4_OUT(1, 1); MOD__Q4_OUT(2, 1); MOD__Q4_OUT(3, 1);
        MOD__Q4_OUT(4, 1); MOD__Q4_OUT(5, 1); MOD__Q4_OUT(6, 1); MOD__Q4_OUT(7, 1);
        MOD__Q4_OUT(0, 2); MOD__Q4_OUT(1, 2); MOD__Q4_OUT(2, 2); MOD__Q4_OUT(3, 2);
        MOD__Q4_OUT(4, 2); MOD__Q4_OUT(5, 2); MOD__Q4_OUT(6, 2); MOD__Q4_OUT(7, 2);
#undef MOD__Q4_OUT
    }
}
/* The same against one token (what is left after the threes). */
MOD__INT_INLINE void mod__q4_tile8x1(float *y, const mod__qi *wq, const mod__qf *ws, int units,
                                     const unsigned char *w, size_t wrow, const unsigned char *x, int nb) {
    mod__qf a0 = mod__q8_fzero(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    size_t ox = 0;
    int u;
    for (u = 0; u < units; u++, ox += MOD__INT8_UNIT * MOD__INT8X_BYTES) {
        const mod__qi *q = wq + u * 8, qx = mod__q4_xload(x + ox);
        const mod__qf *s = ws + u * 8, xs = mod__q8_xscales(x + ox);
        const mod__qs xb = mod__q4_xstart(qx);
        a0 = mod__q4_step(a0, q[0], xb, qx, mod__q8_fmul(xs, s[0]));
        a1 = mod__q4_step(a1, q[1], xb, qx, mod__q8_fmul(xs, s[1]));
        a2 = mod__q4_step(a2, q[2], xb, qx, mod__q8_fmul(xs, s[2]));
        a3 = mod__q4_step(a3, q[3], xb, qx, mod__q8_fmul(xs, s[3]));
        a4 = mod__q4_step(a4, q[4], xb, qx, mod__q8_fmul(xs, s[4]));
        a5 = mod__q4_step(a5, q[5], xb, qx, mod__q8_fmul(xs, s[5]));
        a6 = mod__q4_step(a6, q[6], xb, qx, mod__q8_fmul(xs, s[6]));
        a7 = mod__q4_step(a7, q[7], xb, qx, mod__q8_fmul(xs, s[7]));
    }
    {
        const int b = units * MOD__INT8_UNIT;
        const size_t o = (size_t)b * MOD__Q4_BYTES;
        y[0] = mod__int_finish(a0, w + o, x + ox, b, nb, 1);
        y[1] = mod__int_finish(a1, w + wrow + o, x + ox, b, nb, 1);
        y[2] = mod__int_finish(a2, w + 2 * wrow + o, x + ox, b, nb, 1);
        y[3] = mod__int_finish(a3, w + 3 * wrow + o, x + ox, b, nb, 1);
        y[4] = mod__int_finish(a4, w + 4 * wrow + o, x + ox, b, nb, 1);
        y[5] = mod__int_finish(a5, w + 5 * wrow + o, x + ox, b, nb, 1);
        y[6] = mod__int_finish(a6, w + 6 * wrow + o, x + ox, b, nb, 1);
        y[7] = mod__int_finish(a7, w + 7 * wrow + o, x + ox, b, nb, 1);
    }
}
#endif
#else
/* One weight row (nb blocks) against one quantized activation row. */
MOD__INT_INLINE float mod__int_dot(const unsigned char *w, const unsigned char *x, int nb, int q4) {
    float acc = 0.0f;
    int b;
    for (b = 0; b < nb; b++, w += q4 ? MOD__Q4_BYTES : MOD__Q8_BYTES, x += MOD__INT8X_BYTES)
        acc += q4 ? mod__q4_block(w, x) : mod__q8_block(w, x);
    return acc;
}
#endif

/* ======================================================================================= */
/* >>state     Session state: what a session holds, used by every stage below            */
/* ======================================================================================= */

typedef struct mod__prob { float p; int32_t id; } mod__prob;

/* One block's key/value cache; a routed block only holds the tokens it processed. */
typedef struct mod__cache {
    float *k, *v;     /* [cap, kv_dim], keys already rotated (NULL with an f16 or q8_0 cache) */
    uint16_t *hk, *hv; /* the f16 cache instead (NULL otherwise), kv head by kv head */
    signed char *qk, *qv; /* the q8_0 cache instead (NULL otherwise): int8 laid out as hk, hv */
    uint16_t *sk, *sv; /* and its f16 scales, one per block of 32 along head_dim (>>attention) */
    int32_t *pos;     /* context position of each entry */
    int n, cap;
    uint64_t seen, processed;
    double flops, flops_dense;
} mod__cache;

/* How fast calls (or blocks of a prompt) ran on one thread and on all (mod__pace_begin in
   >>matmul). */
typedef struct mod__pace {
    int mode, left, gap;     /* mode 1: threads_max; the other mode is tried when left reaches 0 */
    int base;                /* the gap at first and after a try that won */
    int skip;                /* timings still to ignore (the first block of a session runs cold) */
    double rate[2];          /* seconds per FLOP on 1 thread, on threads_max; 0: unknown */
} mod__pace;

struct mod_session {
    const mod_model *m;
    int max_tokens, max_batch, threads, pos, has_logits;
    int kv_dtype;            /* how keys and values are cached (mod_kv_dtype) */
    int threads_max;         /* threads is this or, while a call is paced on one, 1 */
    int paced;               /* the default thread count: calls are paced (mod__pace_begin) */
    int pace_blocks;         /* within a paced prompt: each block is paced (mod__forward) */
    mod__pace pace[3];       /* single tokens; the dense and the routed blocks of prompts */
    mod_routing prompt_routing;
    float capacity;          /* 0: the model's */
    float threshold;
    void *block;             /* MOD_MALLOC block, NULL when the caller gave an arena */
    mod__cache *cache;
    mod__cache *saved;       /* cache state before the current call, to undo a failed one */
    float *x, *xs, *xn, *q, *att, *h, *hb, *hb2, *pbuf, *router, *decide;
    int32_t *sel, *order;
    unsigned char *flag;
    double *inv_freq;        /* RoPE frequencies, [head_dim / 2] */
    float *rope;             /* cos and sin of one position, [head_dim] */
    float *scores;           /* [threads, qblock, max_tokens in whole key blocks] attention scores */
    float *kvbuf;            /* [threads, MOD__KV_CHUNK, head_dim] f16 or q8_0 keys or values as f32 */
    int qblock;              /* queries sharing one pass over the cache in attention */
    float *wrow;             /* [threads, wrow_len] weight rows converted to f32 */
    int wrow_len;
    unsigned char *xq;       /* [max_batch, widest row / 32] activation blocks for q8_0 and q4_0 */
#ifdef MOD__AMX
    uint16_t *amx_x;         /* prompts' activations as AMX B tiles (NULL: no AMX; >>backend-amx) */
    uint16_t *amx_w;         /* [threads, 32 rows, widest row in 32s] bf16 weight rows padded */
#endif
    float *logits;           /* [vocab] after the last token */
    mod__prob *probs;        /* [vocab] sampler scratch */
    double out_flops;        /* FLOPs of the output projection (the same in a dense model) */
    uint64_t tokens;
    mod_route *rec;          /* mod_session_record_routing's records, or NULL */
    int rec_cap, rec_n;      /* tokens per routed block in rec; tokens recorded by the last call */
    int rec_base;            /* index in the call of the current chunk's first token */
    char err[240];
};

static mod_result mod__serr(mod_session *s, mod_result code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    mod__vformat(s->err, sizeof s->err, fmt, ap);
    va_end(ap);
    return code;
}

/* ======================================================================================= */
/* >>matmul    Matrix products and threading                                             */
/* ======================================================================================= */

#ifdef MOD__OPENMP
#define MOD__PRAGMA(x) _Pragma(#x)
#define MOD__THREAD_ID() omp_get_thread_num()
#else
#define MOD__PRAGMA(x)
#define MOD__THREAD_ID() 0
#endif

/* Below this many multiply-adds a loop is not worth waking threads for. */
#define MOD__PARALLEL_WORK 32768

/* The default thread count: one thread per MOD__THREAD_WORK multiply-adds of a token's dense
   work (every block's products and the output projection), at least one, at most
   omp_get_max_threads(). A token of a smaller model is over before a second thread pays for
   the dozens of meetings per token (and one descheduled thread holds up every one of them). */
#define MOD__THREAD_WORK 8e6
#ifdef MOD__OPENMP
static double mod__token_work(const mod_model *m) {
    const mod__tensor *out = m->cfg.tied_embeddings ? &m->embed : &m->output;
    double work = (double)out->rows * out->cols;
    int i;
    for (i = 0; i < m->cfg.n_layers; i++) {
        const mod__tensor *t[7];
        int j;
        t[0] = &m->layers[i].wq; t[1] = &m->layers[i].wk; t[2] = &m->layers[i].wv; t[3] = &m->layers[i].wo;
        t[4] = &m->layers[i].w_gate; t[5] = &m->layers[i].w_up; t[6] = &m->layers[i].w_down;
        for (j = 0; j < 7; j++)
            if (t[j]->data) work += (double)t[j]->rows * t[j]->cols;
    }
    return work;
}
static int mod__default_threads(const mod_model *m) {
    const double fit = mod__token_work(m) / MOD__THREAD_WORK;
    const int most = omp_get_max_threads();
    return fit < 1.0 ? 1 : fit >= (double)most ? most : (int)fit;
}

/* A session on the default thread count times its calls: when a core is taken by another
   process, every meeting of the threads waits for the descheduled one (a token on two threads
   then took 16-50 times as long here), so it runs on one thread while that is faster. The
   pace of each mode is seconds per floating-point operation (tokens differ in work: routing,
   context): the mode in use by a moving average, the other by its last try, which is repeated
   after 16 calls and, each time it loses, after twice as many or, if more, 20 times its
   slowdown (a try then costs at most 5%; at most 1024 calls apart). Single tokens are paced
   call by call. Prompts are paced block by block, dense and routed blocks apart (their work
   per second differs: a routed block of a prompt runs on its few chosen tokens), with tries
   4 blocks apart at first and after a win: a try costs one block, not a whole prompt on one
   thread. A session's first block of each kind is not timed: it runs cold (the first touches
   of the session's memory, the threads' start) and would favour one thread. The output layer
   of a prompt runs on the dense blocks' choice. The thread count never changes a result. */
static double mod__session_flops(const mod_session *s) {
    double f = s->out_flops;
    int i;
    for (i = 0; i < s->m->cfg.n_layers; i++) f += s->cache[i].flops;
    return f;
}
static int mod__pace_begin(mod_session *s, mod__pace *p) {
    int mode = p->mode;
    if (p->rate[mode] > 0.0 && (p->rate[!mode] == 0.0 || --p->left <= 0)) mode = !mode; /* a try of the other */
    s->threads = mode ? s->threads_max : 1;
    return mode;
}
static void mod__pace_end(mod__pace *p, int mode, double seconds, double flops) {
    const double rate = flops > 0.0 ? seconds / flops : 0.0;
    if (rate <= 0.0) return;
    if (p->skip > 0) { p->skip--; return; }
    if (mode == p->mode) {
        p->rate[mode] = p->rate[mode] == 0.0 ? rate : 0.75 * p->rate[mode] + 0.25 * rate;
    } else {
        if (p->rate[!mode] > 0.0) { /* a try against a known pace: a loss backs off */
            double gap = 20.0 * rate / p->rate[!mode]; /* tries then cost at most 5% */
            if (gap < 2.0 * p->gap) gap = 2.0 * p->gap;
            p->gap = rate < p->rate[!mode] ? p->base : gap > 1024.0 ? 1024 : (int)gap;
        }
        p->rate[mode] = rate;
        p->left = p->gap;
    }
    if (p->rate[!p->mode] > 0.0 && p->rate[!p->mode] < p->rate[p->mode]) {
        p->mode = !p->mode;
        p->left = p->gap;
    }
}
#endif

/* fn(ctx, i, thread) for i in [0, n), shared out between the session's threads when the n
   items hold enough work (about work_each multiply-adds each); otherwise a plain loop, since
   even an OpenMP region that runs on one thread costs a call into the runtime. */
typedef void (*mod__item_fn)(void *ctx, int i, int thread);
static void mod__each(const mod_session *s, int n, double work_each, mod__item_fn fn, void *ctx) {
    int i;
    if ((double)n * work_each > MOD__PARALLEL_WORK && s->threads > 1) {
        MOD__PRAGMA(omp parallel for num_threads(s->threads) schedule(static))
        for (i = 0; i < n; i++) fn(ctx, i, MOD__THREAD_ID());
    } else {
        for (i = 0; i < n; i++) fn(ctx, i, 0);
    }
}

/* Tokens are taken in blocks that stay in a typical L2 (about 1 MiB of activations) while
   every row of W passes by, so W is streamed from memory as few times as possible. */
#define MOD__TOKEN_BLOCK_BYTES (1 << 20)
static int mod__token_block(size_t row_bytes) {
    const int fit = (int)(MOD__TOKEN_BLOCK_BYTES / row_bytes) / 4 * 4;
    return fit > 4 ? fit : 4;
}

/* One product of a group that shares its input: y[n, w->rows] = x[n, cols] W^T (+ b). */
typedef struct mod__mm {
    float *y;
    const mod__tensor *w, *b;
} mod__mm;
#define MOD__MM_MAX 3

/* The products of a group are one range of row blocks, shared out between threads in one
   parallel loop: start[j] is the first block of product j, start[count] the total. */
static int mod__mm_starts(int *start, const mod__mm *mm, int count, int rows_per_block) {
    int j;
    start[0] = 0;
    for (j = 0; j < count; j++) start[j + 1] = start[j] + (mm[j].w->rows + rows_per_block - 1) / rows_per_block;
    return start[count];
}

/* The product block `*rb` of the whole range falls in; *rb becomes the block within it. */
static int mod__mm_which(const int *start, int *rb) {
    int j = 0;
    while (*rb >= start[j + 1]) j++;
    *rb -= start[j];
    return j;
}

/* Whether a group's work is worth waking threads for. */
static int mod__mm_parallel(const mod_session *s, const mod__mm *mm, int count, int n) {
    double work = 0.0;
    int j;
    for (j = 0; j < count; j++) work += (double)mm[j].w->rows * mm[j].w->cols * n;
    return work > MOD__PARALLEL_WORK && s->threads > 1;
}

static void mod__add_bias(float *y, size_t ystride, const mod__tensor *bias, int r0, int nr, int tn) {
    const float *b = bias && bias->data ? MOD__CAST(const float *, bias->data) : NULL;
    int t, r;
    if (b)
        for (t = 0; t < tn; t++)
            for (r = 0; r < nr; r++) y[(size_t)t * ystride + r0 + r] += b[r0 + r];
}

typedef struct mod__quantize_job {
    unsigned char *out;
    const float *x;
    int cols;
    size_t xrow;
} mod__quantize_job;
static void mod__quantize_item(void *ctx, int t, int thread) {
    const mod__quantize_job *j = MOD__CAST(const mod__quantize_job *, ctx);
    (void)thread;
    mod__quantize_q8(j->out + (size_t)t * j->xrow, j->x + (size_t)t * j->cols, j->cols);
}

/* Row block rb of a group's range (blocks of br rows) against tokens [t0, t0 + tn), q4_0 or
   q8_0 weights (q4 a constant where this is inlined, so each weight type gets a loop of its
   own). */
typedef struct mod__int_job {
    const mod__mm *mm;
    const int *start;
    const unsigned char *xq;
    size_t xrow, wrow;
    int nb, t0, tn, br;
} mod__int_job;
/* Rows [r0, r0 + nr), nr <= 4, four tokens at a time. */
MOD__INT_INLINE void mod__int_rows4(const mod__int_job *j, const mod__mm *p, int r0, int nr, int q4) {
    const int rows = p->w->rows, tn = j->tn, nb = j->nb;
    const size_t wrow = j->wrow, xrow = j->xrow;
    const unsigned char *wr = MOD__CAST(const unsigned char *, p->w->data) + (size_t)r0 * wrow;
    const unsigned char *xt = j->xq + (size_t)j->t0 * xrow;
    float *yt = p->y + (size_t)j->t0 * rows;
    int t = 0, r;
#ifdef MOD__INT8_VEC
    if (nr == 4) {
        const int further = rows - r0 - 4 < 8 ? rows - r0 - 4 : 8;
        for (; t + 4 <= tn; t += 4) {
            if (rows - r0 >= 8) mod__prefetch_part(wr + 4 * wrow, 4 * wrow, t / 4, tn / 4); /* the next four rows */
            mod__int_tile4x4(yt + (size_t)t * rows + r0, (size_t)rows, wr, wrow, xt + (size_t)t * xrow, xrow, nb, q4);
        }
        for (; t < tn; t++) mod__int_tile4x1(yt + (size_t)t * rows + r0, wr, wrow, (size_t)further * wrow, xt + (size_t)t * xrow, nb, q4);
    }
#endif
    for (; t < tn; t++)
        for (r = 0; r < nr; r++)
            yt[(size_t)t * rows + r0 + r] = mod__int_dot(wr + (size_t)r * wrow, xt + (size_t)t * xrow, nb, q4);
    mod__add_bias(yt, (size_t)rows, p->b, r0, nr, tn);
}
#ifdef MOD__Q4_UNPACK_UNITS
/* Rows [r0, r0 + 8) of q4_0 weights, unpacked once, three tokens at a time. */
static void mod__q4_rows8(const mod__int_job *j, const mod__mm *p, int r0) {
    mod__qi wq[8 * MOD__Q4_UNPACK_UNITS];
    mod__qf ws[8 * MOD__Q4_UNPACK_UNITS];
    const int rows = p->w->rows, tn = j->tn, nb = j->nb, units = nb / MOD__INT8_UNIT;
    const size_t wrow = j->wrow, xrow = j->xrow;
    const unsigned char *wr = MOD__CAST(const unsigned char *, p->w->data) + (size_t)r0 * wrow;
    const unsigned char *xt = j->xq + (size_t)j->t0 * xrow;
    float *yt = p->y + (size_t)j->t0 * rows;
    int t = 0;
    mod__q4_unpack8(wq, ws, wr, wrow, units);
    for (; t + 3 <= tn; t += 3) {
        if (rows - r0 >= 16) mod__prefetch_part(wr + 8 * wrow, 8 * wrow, t / 3, tn / 3); /* the next eight rows */
        mod__q4_tile8x3(yt + (size_t)t * rows + r0, (size_t)rows, wq, ws, units, wr, wrow, xt + (size_t)t * xrow, xrow, nb);
    }
    for (; t < tn; t++) mod__q4_tile8x1(yt + (size_t)t * rows + r0, wq, ws, units, wr, wrow, xt + (size_t)t * xrow, nb);
    mod__add_bias(yt, (size_t)rows, p->b, r0, 8, tn);
}
#endif
MOD__INT_INLINE void mod__int_block(const mod__int_job *j, int rb, int q4) {
    const mod__mm *p = j->mm + mod__mm_which(j->start, &rb);
    const int rows = p->w->rows, r0 = rb * j->br, nr = rows - r0 < j->br ? rows - r0 : j->br;
    int r;
#ifdef MOD__Q4_UNPACK_UNITS
    if (q4 && nr == 8) {
        mod__q4_rows8(j, p, r0);
        return;
    }
#endif
    for (r = 0; r < nr; r += 4) mod__int_rows4(j, p, r0 + r, nr - r < 4 ? nr - r : 4, q4);
}

/* The products of a group with q8_0 or q4_0 weights (all the same): the shared activations are
   quantized once, then blocks of four rows meet blocks of four tokens, as in mod__matmuls (q4_0
   prefill with MOD__Q4_UNPACK_UNITS: blocks of eight rows, three tokens). */
static void mod__matmuls_int(mod_session *s, const float *x, int n, const mod__mm *mm, int count) {
    const int cols = mm[0].w->cols, nb = cols / MOD__INT8_BLOCK, q4 = mm[0].w->dtype == MOD_DTYPE_Q4_0;
    const size_t xrow = (size_t)nb * MOD__INT8X_BYTES, wrow = (size_t)nb * (q4 ? MOD__Q4_BYTES : MOD__Q8_BYTES);
    const int tb = mod__token_block(xrow);
    int start[MOD__MM_MAX + 1], t0;
    mod__quantize_job qj;
    mod__int_job job;
    qj.out = s->xq; qj.x = x; qj.cols = cols; qj.xrow = xrow;
    mod__each(s, n, cols, mod__quantize_item, &qj);
    job.mm = mm; job.start = start; job.xq = s->xq; job.xrow = xrow; job.wrow = wrow; job.nb = nb;
    for (t0 = 0; t0 < n; t0 += tb) {
        const int tn = n - t0 < tb ? n - t0 : tb;
#ifdef MOD__Q4_UNPACK_UNITS
        /* q4_0 prefill: blocks of eight rows, unpacked once for all the tokens */
        const int br = q4 && tn >= 8 && nb / MOD__INT8_UNIT <= MOD__Q4_UNPACK_UNITS ? 8 : 4;
#else
        const int br = 4;
#endif
        const int blocks = mod__mm_starts(start, mm, count, br);
        int rb, parallel = mod__mm_parallel(s, mm, count, tn);
        /* prefill: dynamic, in runs of 32 blocks, so a thread that is held up (a shared
           machine) leaves the rest to the other (2-thread prefill 2-7% faster in alternating
           runs here); decoding: one contiguous run per thread, which its prefetch of the rows
           ahead follows (3% faster than runs of 32) */
        const int run = tn >= 4 ? 32 : (blocks + s->threads - 1) / s->threads;
        (void)parallel; (void)run;
        job.t0 = t0; job.tn = tn; job.br = br;
        if (q4) {
            MOD__PRAGMA(omp parallel for num_threads(s->threads) if(parallel) schedule(dynamic, run))
            for (rb = 0; rb < blocks; rb++) mod__int_block(&job, rb, 1);
        } else {
            MOD__PRAGMA(omp parallel for num_threads(s->threads) if(parallel) schedule(dynamic, run))
            for (rb = 0; rb < blocks; rb++) mod__int_block(&job, rb, 0);
        }
    }
}

#ifdef MOD__AMX
/* Whether a dtype's products of prompts run on AMX tiles. */
static int mod__amx_dtype(int dtype) {
    return dtype == MOD_DTYPE_BF16 || dtype == MOD_DTYPE_Q8_0 || dtype == MOD_DTYPE_Q4_0;
}
/* Whether a model has bf16, q8_0 or q4_0 matrices among its blocks' products (sessions then
   hold the AMX buffers). */
static int mod__model_amx(const mod_model *m) {
    int i;
    for (i = 0; i < m->cfg.n_layers; i++) {
        const mod__layer *l = &m->layers[i];
        if (mod__amx_dtype(l->wq.dtype) || mod__amx_dtype(l->wk.dtype) || mod__amx_dtype(l->wv.dtype) ||
            mod__amx_dtype(l->wo.dtype) || mod__amx_dtype(l->w_gate.dtype) || mod__amx_dtype(l->w_up.dtype) ||
            mod__amx_dtype(l->w_down.dtype))
            return 1;
    }
    return 0;
}

/* A group with bf16 weights on AMX tiles (>>backend-amx): per MOD__AMX_TB tokens, their
   activations into B tiles (in parallel, 16 tokens an item), then blocks of 32 weight rows
   against all of them (in parallel), each row block read in place or, when its rows are not
   32 whole rows of a multiple of 32 columns, copied with zeros around it. */
typedef struct mod__amx_job {
    mod_session *s;
    const mod__mm *mm;
    const int *start;
    const float *x;
    int cols, nkb, t0, tn;
} mod__amx_job;
static void mod__amx_x_item(void *ctx, int i, int thread) {
    const mod__amx_job *j = MOD__CAST(const mod__amx_job *, ctx);
    const int t = 16 * i, tn = j->tn - t < 16 ? j->tn - t : 16;
    (void)thread;
    mod__amx_pack_x(j->s->amx_x + (size_t)i * (size_t)j->nkb * 512, tn > 0 ? j->x + (size_t)(j->t0 + t) * (size_t)j->cols : j->x,
                    (size_t)j->cols, tn, j->cols);
}
static void mod__amx_block(const mod__amx_job *j, int rb, int thread) {
    const mod__mm *p = j->mm + mod__mm_which(j->start, &rb);
    const int rows = p->w->rows, cols = j->cols, r0 = 32 * rb, nr = rows - r0 < 32 ? rows - r0 : 32;
    const uint16_t *w = MOD__CAST(const uint16_t *, p->w->data) + (size_t)r0 * (size_t)cols;
    size_t wstride = (size_t)cols * sizeof(uint16_t);
    if (nr < 32 || cols % 32) {
        const size_t kp = (size_t)j->nkb * 32;
        uint16_t *buf = j->s->amx_w + (size_t)thread * 32 * kp;
        int r;
        for (r = 0; r < 32; r++) {
            uint16_t *o = buf + (size_t)r * kp;
            size_t c = 0;
            if (r < nr) for (; c < (size_t)cols; c++) o[c] = w[(size_t)r * (size_t)cols + c];
            for (; c < kp; c++) o[c] = 0;
        }
        w = buf;
        wstride = kp * sizeof(uint16_t);
    }
    mod__amx_rows32(p->y + (size_t)j->t0 * (size_t)rows + r0, (size_t)rows, w, wstride, j->s->amx_x, j->nkb, nr, j->tn);
    mod__add_bias(p->y + (size_t)j->t0 * (size_t)rows, (size_t)rows, p->b, r0, nr, j->tn);
}
/* q8_0 and q4_0 weights: the activations quantized once (mod__quantize_q8, as the vector path
   does), then, per MOD__AMX_TB tokens, their blocks into B tiles, and blocks of 32 weight rows
   against all of them: q8_0 rows read in place (their int8 34 bytes apart), q4_0 rows and a
   last block of fewer than 32 rows first written out as int8 (q4_0: v - 8); the weight scales
   of a row block gathered as f32. */
static void mod__amx_q8_item(void *ctx, int i, int thread) {
    const mod__amx_job *j = MOD__CAST(const mod__amx_job *, ctx);
    const size_t xrow = (size_t)j->nkb * MOD__INT8X_BYTES;
    const int t = 16 * i, tn = j->tn - t < 16 ? j->tn - t : 16;
    (void)thread;
    mod__amx_pack_q8(MOD__CAST(unsigned char *, MOD__CAST(void *, j->s->amx_x)) + (size_t)i * (size_t)j->nkb * MOD__AMX_QTILE,
                     tn > 0 ? j->s->xq + (size_t)(j->t0 + t) * xrow : j->s->xq, xrow, tn, j->nkb);
}
static void mod__amx_int_block(const mod__amx_job *j, int rb, int thread) {
    const mod__mm *p = j->mm + mod__mm_which(j->start, &rb);
    const int rows = p->w->rows, nb = j->nkb, r0 = 32 * rb, nr = rows - r0 < 32 ? rows - r0 : 32, q4 = p->w->dtype == MOD_DTYPE_Q4_0;
    const size_t bbytes = q4 ? MOD__Q4_BYTES : MOD__Q8_BYTES, wrow = (size_t)nb * bbytes;
    const unsigned char *w = MOD__CAST(const unsigned char *, p->w->data) + (size_t)r0 * wrow;
    /* the thread's room: 32 rows of int8, then the scales */
    unsigned char *buf = MOD__CAST(unsigned char *, MOD__CAST(void *, j->s->amx_w + (size_t)thread * 32 * (size_t)(nb * 32)));
    float *ws = MOD__CAST(float *, MOD__CAST(void *, buf + (size_t)32 * nb * 32));
    const unsigned char *a = w + 2;
    size_t astride = wrow, astep = MOD__Q8_BYTES;
    int r, b, k;
    for (r = 0; r < 32; r++)
        for (b = 0; b < nb; b++) ws[b * 32 + r] = r < nr ? MOD__BLOCK_SCALE(w + (size_t)r * wrow + (size_t)b * bbytes) : 0.0f;
    if (q4 || nr < 32) {
        for (r = 0; r < 32; r++) {
            signed char *o = MOD__CAST(signed char *, MOD__CAST(void *, buf + (size_t)r * nb * 32));
            for (b = 0; b < nb; b++, o += 32) {
                const unsigned char *blk = w + (size_t)r * wrow + (size_t)b * bbytes + 2;
                for (k = 0; k < 16; k++) {
                    if (r >= nr) { o[k] = 0; o[k + 16] = 0; }
                    else if (q4) {
                        o[k] = MOD__CAST(signed char, (blk[k] & 15) - 8);
                        o[k + 16] = MOD__CAST(signed char, (blk[k] >> 4) - 8);
                    }
                    else { o[k] = MOD__CAST(signed char, blk[k]); o[k + 16] = MOD__CAST(signed char, blk[k + 16]); }
                }
            }
        }
        a = buf;
        astride = (size_t)nb * 32;
        astep = 32;
    }
    mod__amx_int_rows32(p->y + (size_t)j->t0 * (size_t)rows + r0, (size_t)rows, a, astride, astep, ws,
                        MOD__CAST(const unsigned char *, MOD__CAST(const void *, j->s->amx_x)), nb, nr, j->tn);
    mod__add_bias(p->y + (size_t)j->t0 * (size_t)rows, (size_t)rows, p->b, r0, nr, j->tn);
}
/* A group on AMX tiles, bf16 or int8 weights (one dtype): the int8 activations quantized once
   first; then per MOD__AMX_TB tokens their B tiles (16 tokens an item), and the row blocks of
   32 against all of them, both in parallel. */
static void mod__matmuls_amx(mod_session *s, const float *x, int n, const mod__mm *mm, int count) {
    const int integer = mm[0].w->dtype != MOD_DTYPE_BF16;
    int start[MOD__MM_MAX + 1], t0, rb;
    const int blocks = mod__mm_starts(start, mm, count, 32);
    mod__amx_job job;
    job.s = s; job.mm = mm; job.start = start; job.x = x; job.cols = mm[0].w->cols; job.nkb = (job.cols + 31) / 32;
    if (integer) { /* q8_0 and q4_0 rows are whole blocks of 32 */
        mod__quantize_job qj;
        qj.out = s->xq; qj.x = x; qj.cols = job.cols; qj.xrow = (size_t)job.nkb * MOD__INT8X_BYTES;
        mod__each(s, n, job.cols, mod__quantize_item, &qj);
    }
    for (t0 = 0; t0 < n; t0 += MOD__AMX_TB) {
        const int tn = n - t0 < MOD__AMX_TB ? n - t0 : MOD__AMX_TB;
        int parallel = mod__mm_parallel(s, mm, count, tn);
        (void)parallel;
        job.t0 = t0; job.tn = tn;
        mod__each(s, (tn + 31) / 32 * 2, 16.0 * job.cols, integer ? mod__amx_q8_item : mod__amx_x_item, &job);
        MOD__PRAGMA(omp parallel for num_threads(s->threads) if(parallel) schedule(dynamic, 1))
        for (rb = 0; rb < blocks; rb++) {
            if (integer) mod__amx_int_block(&job, rb, MOD__THREAD_ID());
            else mod__amx_block(&job, rb, MOD__THREAD_ID());
        }
    }
}
#endif

int mod_amx(const char **why) {
#ifdef MOD__AMX
    const int on = mod__amx_ready();
    if (why) *why = mod__amx_why();
    return on;
#else
    if (why) *why = "not built in (it takes MOD_AMX and an AVX-512 build for x86-64 Linux by gcc 11+ or clang 12+)";
    return 0;
#endif
}

/* y[n, rows] = x[n, cols] W^T (+ bias) for each product of a group sharing x (q, k and v; gate
   and up), in one parallel loop over blocks of output rows (a prefill tile's worth, four when
   decoding): every element is computed the same way on any number of threads and in any
   batch. */
static void mod__matmuls(mod_session *s, const float *x, int n, const mod__mm *mm, int count) {
    const int cols = mm[0].w->cols, br = n >= 4 ? MOD__TILE_ROWS : 4;
    const int tb = mod__token_block(sizeof(float) * (size_t)cols);
    int start[MOD__MM_MAX + 1], t0, j;
    for (j = 1; j < count; j++)
        if (mm[j].w->dtype != mm[0].w->dtype || mm[j].w->cols != cols) { /* not one kind: each on its own */
            for (j = 0; j < count; j++) mod__matmuls(s, x, n, mm + j, 1);
            return;
        }
#ifdef MOD__AMX
    if (mod__amx_dtype(mm[0].w->dtype) && n >= MOD__AMX_MIN && s->amx_x) { /* a prompt on AMX tiles */
        mod__matmuls_amx(s, x, n, mm, count);
        return;
    }
#endif
    if (mm[0].w->dtype == MOD_DTYPE_Q8_0 || mm[0].w->dtype == MOD_DTYPE_Q4_0) {
        mod__matmuls_int(s, x, n, mm, count);
        return;
    }
    {
    const int blocks = mod__mm_starts(start, mm, count, br);
    for (t0 = 0; t0 < n; t0 += tb) {
        const int tn = n - t0 < tb ? n - t0 : tb;
        int parallel = mod__mm_parallel(s, mm, count, tn), rb;
        (void)parallel;
        /* dynamic: on a shared machine one thread is often slower, and a static split would
           leave the other waiting (prefill on 2 threads ran about 8% faster here) */
        MOD__PRAGMA(omp parallel for num_threads(s->threads) if(parallel) schedule(dynamic, 8))
        for (rb = 0; rb < blocks; rb++) {
            int blk = rb;
            const mod__mm *p = mm + mod__mm_which(start, &blk);
            const mod__tensor *w = p->w;
            const int rows = w->rows, r0 = blk * br, nr = rows - r0 < br ? rows - r0 : br;
            float *const buf = s->wrow + (size_t)MOD__THREAD_ID() * (size_t)s->wrow_len;
#ifdef MOD__VHALF
            /* a few tokens of f16/bf16 weights: converted in registers (mod__rows4x1) */
            const int half = tn < 4 && (w->dtype == MOD_DTYPE_F16 || w->dtype == MOD_DTYPE_BF16);
#else
            const int half = 0;
#endif
            const float *wr = half ? NULL : mod__rows(w, r0, nr, buf);
            const float *xt = x + (size_t)t0 * cols;
            float *yt = p->y + (size_t)t0 * rows;
            int t = 0, r;
#ifdef MOD__VHALF
            if (half) {
                const uint16_t *h = MOD__CAST(const uint16_t *, w->data) + (size_t)r0 * (size_t)cols;
                const size_t ahead = rows - r0 >= 2 * br ? (size_t)br * (size_t)cols : 0;
                const int whole = nr / 4 * 4;
                const float *rest = whole < nr ? mod__rows(w, r0 + whole, nr - whole, buf) : NULL;
                for (; t < tn; t++) {
                    for (r = 0; r < whole; r += 4)
                        mod__rows4x1(yt + (size_t)t * rows + r0 + r, h + (size_t)r * cols, (size_t)cols, ahead,
                                     xt + (size_t)t * cols, cols, w->dtype == MOD_DTYPE_BF16 ? MOD__W_BF16 : MOD__W_F16);
                    for (; r < nr; r++)
                        yt[(size_t)t * rows + r0 + r] = mod__dot(xt + (size_t)t * cols, rest + (size_t)(r - whole) * cols, cols);
                }
            }
#endif
#ifdef MOD__VL
            if (nr == MOD__TILE_ROWS && tn >= 4) {
                /* the next tile's rows, when they are f32 in place and whole */
                const float *next = w->dtype == MOD_DTYPE_F32 && rows - r0 >= 2 * MOD__TILE_ROWS ? wr + (size_t)MOD__TILE_ROWS * cols : NULL;
                int k0;
                /* a chunk of the tile's rows at a time, every token group passing it */
                for (k0 = 0; k0 < cols; k0 += MOD__DOT_CHUNK) {
                    const int len = mod__chunk_end(k0, cols) - k0;
                    for (t = 0; t + 4 <= tn; t += 4) {
                        if (k0 == 0) {
                            if (next) mod__prefetch_part(next, sizeof(float) * MOD__TILE_ROWS * (size_t)cols, t / 4, tn / 4);
                            mod__tile(yt + (size_t)t * rows + r0, (size_t)rows, wr, (size_t)cols, xt + (size_t)t * cols, (size_t)cols, len);
                        } else { /* a later chunk's sums added to the first ones, as in mod__dot */
                            float part[4 * MOD__TILE_ROWS];
                            int tt;
                            mod__tile(part, MOD__TILE_ROWS, wr + k0, (size_t)cols, xt + (size_t)t * cols + k0, (size_t)cols, len);
                            for (tt = 0; tt < 4; tt++)
                                for (r = 0; r < MOD__TILE_ROWS; r++) yt[(size_t)(t + tt) * rows + r0 + r] += part[tt * MOD__TILE_ROWS + r];
                        }
                    }
                }
            }
            for (; t < tn; t++) {
                for (r = 0; r + 4 <= nr; r += 4)
                    mod__tile4x1(yt + (size_t)t * rows + r0 + r, wr + (size_t)r * cols, (size_t)cols, xt + (size_t)t * cols, cols);
                for (; r < nr; r++) yt[(size_t)t * rows + r0 + r] = mod__dot(xt + (size_t)t * cols, wr + (size_t)r * cols, cols);
            }
#else
            for (; t < tn; t++)
                for (r = 0; r < nr; r++)
                    yt[(size_t)t * rows + r0 + r] = mod__dot(xt + (size_t)t * cols, wr + (size_t)r * cols, cols);
#endif
            mod__add_bias(yt, (size_t)rows, p->b, r0, nr, tn);
        }
    }
    }
}

/* y[n, rows] = x[n, cols] W^T (+ bias). */
static void mod__matmul(mod_session *s, float *y, const float *x, int n, const mod__tensor *w,
                        const mod__tensor *bias) {
    mod__mm mm;
    mm.y = y; mm.w = w; mm.b = bias;
    mod__matmuls(s, x, n, &mm, 1);
}

/* ======================================================================================= */
/* >>pointwise Pointwise: RMSNorm, RoPE, e^x, softmax, SwiGLU, GeGLU                     */
/* ======================================================================================= */

/* out = x / sqrt(mean(x^2) + eps) * gain, the gain g[i] or, with offset (Gemma), 1 + g[i] in
   f32 (as Hugging Face's GemmaRMSNorm: the normalized x times (1 + w)). */
static void mod__rmsnorm(float *out, const float *x, const float *g, int n, float eps, int offset) {
    float ss = 0.0f, inv;
    int i;
    for (i = 0; i < n; i++) ss += x[i] * x[i];
    inv = 1.0f / MOD_SQRTF(ss / (float)n + eps);
    if (offset)
        for (i = 0; i < n; i++) out[i] = x[i] * inv * (1.0f + g[i]);
    else
        for (i = 0; i < n; i++) out[i] = x[i] * inv * g[i];
}

typedef struct mod__norm_job {
    float *out;
    const float *x, *g;
    int n, offset;
    float eps;
} mod__norm_job;
static void mod__norm_item(void *ctx, int r, int thread) {
    const mod__norm_job *j = MOD__CAST(const mod__norm_job *, ctx);
    (void)thread;
    mod__rmsnorm(j->out + (size_t)r * j->n, j->x + (size_t)r * j->n, j->g, j->n, j->eps, j->offset);
}

/* RMSNorm of `rows` rows of n values with gains g (offset: 1 + g). */
static void mod__rmsnorm_rows(const mod_session *s, float *out, const float *x, int rows, const mod__tensor *g, int n,
                              float eps, int offset) {
    mod__norm_job j;
    j.out = out; j.x = x; j.g = MOD__CAST(const float *, g->data); j.n = n; j.eps = eps; j.offset = offset;
    mod__each(s, rows, n, mod__norm_item, &j);
}

static float mod__silu(float x) { return x / (1.0f + MOD_EXPF(-x)); }
static float mod__sigmoid(float x) { return 1.0f / (1.0f + MOD_EXPF(-x)); }

/* RoPE, "rotate half": element i of a head pairs with element i + hd/2. */
/* The frequencies, in double: theta^(-2i/hd), then the model's scaling as Hugging Face's
   modeling_rope_utils computes it (MODEL.md "RoPE scaling"): linear divides every frequency by
   the factor; llama3 divides those whose wavelength 2 pi / f exceeds original / low_freq_factor
   by the factor, keeps those whose wavelength is below original / high_freq_factor, and blends
   the ones between, (1 - s) f / factor + s f with s = (original / wavelength - low) / (high - low). */
static void mod__rope_freqs(double *inv_freq, const mod_config *c) {
    const int hd = c->head_dim;
    int i;
    for (i = 0; i < hd / 2; i++) {
        double f = MOD_POW((double)c->rope_theta, -2.0 * i / (double)hd);
        if (c->rope_scaling == MOD_ROPE_SCALING_LINEAR) {
            f = f / (double)c->rope_factor;
        } else if (c->rope_scaling == MOD_ROPE_SCALING_LLAMA3) {
            const double factor = c->rope_factor, low = c->rope_low_freq_factor, high = c->rope_high_freq_factor;
            const double old = (double)c->rope_original_max_pos;
            const double wavelen = 2.0 * 3.14159265358979323846 / f;
            if (wavelen > old / low) f = f / factor;
            else if (!(wavelen < old / high)) {
                const double smooth = (old / wavelen - low) / (high - low);
                f = (1.0 - smooth) * f / factor + smooth * f;
            }
        }
        inv_freq[i] = f;
    }
}

/* The rotation of position pos: cs[i] = cos, sn[i] = sin of pos * inv_freq[i]. */
static void mod__rope_angles(float *cs, float *sn, int hd, int pos, const double *inv_freq) {
    int i;
    for (i = 0; i < hd / 2; i++) {
        const double ang = (double)pos * inv_freq[i];
        cs[i] = (float)MOD_COS(ang);
        sn[i] = (float)MOD_SIN(ang);
    }
}

static void mod__rope_apply(float *v, int n_heads, int hd, const float *cs, const float *sn) {
    int i, h, half = hd / 2;
    for (h = 0; h < n_heads; h++) {
        float *p = v + (size_t)h * hd;
        for (i = 0; i < half; i++) {
            const float a = p[i], b = p[i + half];
            p[i] = a * cs[i] - b * sn[i];
            p[i + half] = a * sn[i] + b * cs[i];
        }
    }
}

/* exp of a vector: n = round(x / ln 2), r = x - n ln 2 (in two parts), a degree-6 polynomial
   for e^r (the coefficients of Cephes' expf, about 1 ulp), times 2^n. Lanes outside
   [-87.3, 88.7], where e^x leaves the normal floats, take MOD_EXPF one by one. A program that
   supplies its own MOD_EXPF gets it everywhere. */
#if defined(MOD__VEXP) && !defined(MOD__EXPF_OVERRIDDEN)
#define MOD__VEXP_USE 1
static mod__v mod__vexp(mod__v x) {
    mod__v n, r, p, y;
    if (mod__vexp_out(x)) {
        float v[MOD__VL];
        int j;
        mod__vstore(v, x);
        for (j = 0; j < MOD__VL; j++) v[j] = MOD_EXPF(v[j]);
        return mod__vload(v);
    }
    n = mod__vround(mod__vmul(x, mod__vdup(1.44269504088896341f)));
    r = mod__vfma(x, n, mod__vdup(-0.693359375f));
    r = mod__vfma(r, n, mod__vdup(2.12194440e-4f));
    p = mod__vdup(1.9875691500e-4f);
    p = mod__vfma(mod__vdup(1.3981999507e-3f), p, r);
    p = mod__vfma(mod__vdup(8.3334519073e-3f), p, r);
    p = mod__vfma(mod__vdup(4.1665795894e-2f), p, r);
    p = mod__vfma(mod__vdup(1.6666665459e-1f), p, r);
    p = mod__vfma(mod__vdup(5.0000001201e-1f), p, r);
    y = mod__vadd(mod__vfma(r, p, mod__vmul(r, r)), mod__vdup(1.0f));
    return mod__vscale(y, n);
}
#endif

/* Softmax without the division: x[i] = e^(scale x[i] - max) over n >= 1 values; returns their
   sum (attention divides its outputs by it). Vector and scalar parts do the same operations
   except e^x (mod__vexp or MOD_EXPF), so results depend only on the row, never on the batch. */
static float mod__softmax_exp(float *x, int n, float scale) {
    float mx = 0.0f, sum = 0.0f;
    int i = 0;
#ifdef MOD__VEXP_USE
    float part[MOD__VL];
    int j;
    if (n >= MOD__VL) {
        const mod__v vs = mod__vdup(scale);
        mod__v m = mod__vmul(mod__vload(x), vs);
        for (; i + MOD__VL <= n; i += MOD__VL) {
            const mod__v v = mod__vmul(mod__vload(x + i), vs);
            mod__vstore(x + i, v);
            m = mod__vmax(m, v);
        }
        mod__vstore(part, m);
        mx = part[0];
        for (j = 1; j < MOD__VL; j++) if (part[j] > mx) mx = part[j];
    }
#endif
    for (; i < n; i++) {
        x[i] *= scale;
        if (i == 0 || x[i] > mx) mx = x[i];
    }
    i = 0;
#ifdef MOD__VEXP_USE
    {
        const mod__v vm = mod__vdup(mx);
        mod__v acc = mod__vzero();
        for (; i + MOD__VL <= n; i += MOD__VL) {
            const mod__v e = mod__vexp(mod__vfma(mod__vload(x + i), vm, mod__vdup(-1.0f)));
            mod__vstore(x + i, e);
            acc = mod__vfma(acc, e, mod__vdup(1.0f));
        }
        mod__vstore(part, acc);
        for (j = 0; j < MOD__VL; j++) sum += part[j];
    }
#endif
    for (; i < n; i++) { x[i] = MOD_EXPF(x[i] - mx); sum += x[i]; }
    return sum;
}

/* h = silu(g) * u over n values (the SwiGLU gate). */
static void mod__swiglu(float *h, const float *u, size_t n) {
    size_t i = 0;
#ifdef MOD__VEXP_USE
    for (; i + MOD__VL <= n; i += MOD__VL) {
        const mod__v g = mod__vload(h + i);
        const mod__v e = mod__vexp(mod__vfma(mod__vzero(), g, mod__vdup(-1.0f)));
        mod__vstore(h + i, mod__vmul(mod__vdiv(g, mod__vadd(mod__vdup(1.0f), e)), mod__vload(u + i)));
    }
#endif
    for (; i < n; i++) h[i] = mod__silu(h[i]) * u[i];
}

/* The tanh form of GELU, 0.5 x (1 + tanh(y)) with y = sqrt(2/pi) (x + 0.044715 x^3), taken as
   x / (1 + e^(-2y)) (the same number: 0.5 (1 + tanh(y)) is the logistic function of 2y), so
   that it shares e^x with silu. */
#define MOD__GELU_2K 1.5957691216057308f /* 2 sqrt(2 / pi) */
#define MOD__GELU_C 0.044715f
static float mod__gelu_tanh(float x) { return x / (1.0f + MOD_EXPF(-(MOD__GELU_2K * (x + MOD__GELU_C * x * x * x)))); }

/* h = gelu_tanh(g) * u over n values (the GeGLU gate, Gemma). */
static void mod__geglu(float *h, const float *u, size_t n) {
    size_t i = 0;
#ifdef MOD__VEXP_USE
    for (; i + MOD__VL <= n; i += MOD__VL) {
        const mod__v g = mod__vload(h + i);
        const mod__v y = mod__vmul(mod__vdup(MOD__GELU_2K), mod__vfma(g, mod__vmul(mod__vmul(g, g), g), mod__vdup(MOD__GELU_C)));
        const mod__v e = mod__vexp(mod__vfma(mod__vzero(), y, mod__vdup(-1.0f)));
        mod__vstore(h + i, mod__vmul(mod__vdiv(g, mod__vadd(mod__vdup(1.0f), e)), mod__vload(u + i)));
    }
#endif
    for (; i < n; i++) h[i] = mod__gelu_tanh(h[i]) * u[i];
}

/* ======================================================================================= */
/* >>router    The router and token selection                                            */
/* ======================================================================================= */

/* Router scores (and the causal decision values) of n tokens, in fp32. */
static void mod__route(mod_session *s, const mod__layer *l, const float *x, int n) {
    const mod_config *c = &s->m->cfg;
    const float *u = x;
    const float rb = l->router_bias.data ? *MOD__CAST(const float *, l->router_bias.data) : 0.0f;
    const float *w = MOD__CAST(const float *, l->router.data);
    int i, d = c->dim;
    if (c->router_input == MOD_ROUTER_INPUT_NORMED) {
        mod__rmsnorm_rows(s, s->xn, x, n, &l->attn_norm, d, c->norm_eps, c->norm_offset);
        u = s->xn;
    }
    for (i = 0; i < n; i++) s->router[i] = mod__dot(w, u + (size_t)i * d, d) + rb;
    if (c->decision == MOD_DECISION_ROUTER) {
        memcpy(s->decide, s->router, sizeof(float) * (size_t)n);
        return;
    }
    mod__matmul(s, s->pbuf, u, n, &l->pred_w1, &l->pred_b1);
    if (c->predictor_hidden == 0) {
        memcpy(s->decide, s->pbuf, sizeof(float) * (size_t)n);
        return;
    }
    {
        const int Fp = c->predictor_hidden;
        const float *w2 = MOD__CAST(const float *, l->pred_w2.data);
        const float b2 = *MOD__CAST(const float *, l->pred_b2.data);
        for (i = 0; i < n; i++) {
            float *hp = s->pbuf + (size_t)i * Fp;
            int j;
            for (j = 0; j < Fp; j++) hp[j] = mod__silu(hp[j]);
            s->decide[i] = mod__dot(w2, hp, Fp) + b2;
        }
    }
}

/* Does token a rank above token b? Higher score first, the lower index on ties; NaN lowest. */
static int mod__ranks_above(const float *r, int32_t a, int32_t b) {
    float ra = r[a], rb = r[b];
    if (ra != ra) return rb != rb && a < b;
    if (rb != rb) return 1;
    return ra > rb || (ra == rb && a < b);
}

static void mod__sift(const float *r, int32_t *h, int root, int n) {
    for (;;) {
        int child = 2 * root + 1;
        int32_t t;
        if (child >= n) return;
        /* a min-heap in rank order, so the heap sort leaves the best token first */
        if (child + 1 < n && mod__ranks_above(r, h[child], h[child + 1])) child++;
        if (!mod__ranks_above(r, h[root], h[child])) return;
        t = h[root]; h[root] = h[child]; h[child] = t;
        root = child;
    }
}

/* k for capacity c over n tokens: min(n, max(1, ceil(c * n - 1e-6))). */
static int mod__topk_count(float capacity, int n) {
    double k = MOD_CEIL((double)capacity * (double)n - 1e-6);
    if (k < 1.0) k = 1.0;
    if (k > (double)n) k = (double)n;
    return (int)k;
}

/* Fills s->sel with the selected token indices in ascending order; returns how many. */
static int mod__select(mod_session *s, const mod__layer *l, int n, int topk) {
    int i, k = 0;
    if (topk) {
        int32_t *h = s->order;
        int want = mod__topk_count(s->capacity > 0.0f ? s->capacity : l->capacity, n);
        for (i = 0; i < n; i++) h[i] = i;
        for (i = n / 2 - 1; i >= 0; i--) mod__sift(s->router, h, i, n);
        for (i = n - 1; i > 0; i--) {
            int32_t t = h[0]; h[0] = h[i]; h[i] = t;
            mod__sift(s->router, h, 0, i);
        }
        /* heap sort of a worst-at-root heap leaves h in rank order, best first */
        for (i = 0; i < n; i++) s->flag[i] = 0;
        for (i = 0; i < want; i++) s->flag[h[i]] = 1;
        for (i = 0; i < n; i++) if (s->flag[i]) s->sel[k++] = i;
        MOD_ASSERT(k == want);
    } else {
        for (i = 0; i < n; i++) if (s->decide[i] > s->threshold) s->sel[k++] = i;
    }
    return k;
}

/* Copies routed block ri's scores, decision values and choice of this chunk's n tokens into
   the records of mod_session_record_routing. */
static void mod__record_routing(mod_session *s, int ri, int n, int ns) {
    mod_route *r = s->rec + (size_t)ri * (size_t)s->rec_cap;
    int i, j;
    for (i = 0; i < n && s->rec_base + i < s->rec_cap; i++) {
        mod_route *t = r + s->rec_base + i;
        t->score = s->router[i];
        t->decision = s->decide[i];
        t->processed = 0;
    }
    for (j = 0; j < ns; j++)
        if (s->rec_base + s->sel[j] < s->rec_cap) r[s->rec_base + s->sel[j]].processed = 1;
}

/* ======================================================================================= */
/* >>attention Attention and the KV cache                                                */
/* ======================================================================================= */

/* The cache. On the vector paths of CPUs with caches, each kv head's keys and values are kept
   together, and its keys in blocks of MOD__KB positions transposed: keys [kv head][block]
   [head_dim][MOD__KB], values [kv head][position][head_dim], over the capacity rounded up to
   whole blocks. A query meets MOD__KB keys in one vector: a lane's score is q[0] k[0] +
   q[1] k[1] + ... fused in dimension order, with no sum across lanes, in every kernel (prefill
   and decoding alike), and a head's keys and values each stream from one place. Elsewhere
   MOD__KB is 1 and both are plain rows, [position][kv_dim], a score being mod__dot. */
/* n rounded up to whole key blocks */
static size_t mod__kb_round(size_t n) { return (n + MOD__KB - 1) / MOD__KB * MOD__KB; }

/* Queries that share one pass over the cache in attention, at most. */
#define MOD__QBLOCK 16
/* Positions of an f16 cache converted at a time (whole key blocks): 32 KB of f32 at head_dim 64 */
#define MOD__KV_CHUNK 128

#if MOD__KB > 1
/* Scores against key blocks [0, nb) of one head: k is the head's first dimension in block 0,
   blocks kstride floats apart, dimensions MOD__KB apart. Every lane takes its key through the
   same fused multiply-adds in dimension order, whichever kernel (four queries at a time when
   prefilling, one when decoding) and whatever the blocking; whole blocks are stored, so a row
   gets scores past its own keys, which softmax never reads. */
static void mod__kscores4(float *out, size_t ostride, const float *q, size_t qstride, const float *k,
                          size_t kstride, int nb, int hd) {
    const float *q0 = q, *q1 = q + qstride, *q2 = q + 2 * qstride, *q3 = q + 3 * qstride;
    int b = 0, d;
#if MOD__VREGS == 32 /* sixteen accumulators, next to their operands */
    for (; b + 4 <= nb; b += 4) {
        const float *k0 = k + (size_t)b * kstride, *k1 = k0 + kstride, *k2 = k1 + kstride, *k3 = k2 + kstride;
        mod__v a00 = mod__vzero(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        mod__v a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (d = 0; d < hd; d++) {
            const size_t o = (size_t)d * MOD__KB;
            const mod__v u0 = mod__vload(k0 + o), u1 = mod__vload(k1 + o), u2 = mod__vload(k2 + o), u3 = mod__vload(k3 + o);
            mod__v x = mod__vdup(q0[d]);
            a00 = mod__vfma(a00, x, u0); a01 = mod__vfma(a01, x, u1); a02 = mod__vfma(a02, x, u2); a03 = mod__vfma(a03, x, u3);
            x = mod__vdup(q1[d]);
            a10 = mod__vfma(a10, x, u0); a11 = mod__vfma(a11, x, u1); a12 = mod__vfma(a12, x, u2); a13 = mod__vfma(a13, x, u3);
            x = mod__vdup(q2[d]);
            a20 = mod__vfma(a20, x, u0); a21 = mod__vfma(a21, x, u1); a22 = mod__vfma(a22, x, u2); a23 = mod__vfma(a23, x, u3);
            x = mod__vdup(q3[d]);
            a30 = mod__vfma(a30, x, u0); a31 = mod__vfma(a31, x, u1); a32 = mod__vfma(a32, x, u2); a33 = mod__vfma(a33, x, u3);
        }
#define MOD__KS_OUT(j, v0, v1, v2, v3)                                                             \
        mod__vstore(out + (j) * ostride + (size_t)b * MOD__KB, v0);                               \
        mod__vstore(out + (j) * ostride + (size_t)(b + 1) * MOD__KB, v1);                         \
        mod__vstore(out + (j) * ostride + (size_t)(b + 2) * MOD__KB, v2);                         \
        mod__vstore(out + (j) * ostride + (size_t)(b + 3) * MOD__KB, v3);
        MOD__KS_OUT(0, a00, a01, a02, a03) MOD__KS_OUT(1, a10, a11, a12, a13)
        MOD__KS_OUT(2, a20, a21, a22, a23) MOD__KS_OUT(3, a30, a31, a32, a33)
#undef MOD__KS_OUT
    }
#endif
    for (; b + 2 <= nb; b += 2) {
        const float *k0 = k + (size_t)b * kstride, *k1 = k0 + kstride;
        mod__v a00 = mod__vzero(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        for (d = 0; d < hd; d++) {
            const mod__v u = mod__vload(k0 + (size_t)d * MOD__KB), v = mod__vload(k1 + (size_t)d * MOD__KB);
            mod__v x = mod__vdup(q0[d]);
            a00 = mod__vfma(a00, x, u); a01 = mod__vfma(a01, x, v);
            x = mod__vdup(q1[d]);
            a10 = mod__vfma(a10, x, u); a11 = mod__vfma(a11, x, v);
            x = mod__vdup(q2[d]);
            a20 = mod__vfma(a20, x, u); a21 = mod__vfma(a21, x, v);
            x = mod__vdup(q3[d]);
            a30 = mod__vfma(a30, x, u); a31 = mod__vfma(a31, x, v);
        }
        mod__vstore(out + (size_t)b * MOD__KB, a00); mod__vstore(out + (size_t)(b + 1) * MOD__KB, a01);
        mod__vstore(out + ostride + (size_t)b * MOD__KB, a10); mod__vstore(out + ostride + (size_t)(b + 1) * MOD__KB, a11);
        mod__vstore(out + 2 * ostride + (size_t)b * MOD__KB, a20); mod__vstore(out + 2 * ostride + (size_t)(b + 1) * MOD__KB, a21);
        mod__vstore(out + 3 * ostride + (size_t)b * MOD__KB, a30); mod__vstore(out + 3 * ostride + (size_t)(b + 1) * MOD__KB, a31);
    }
    for (; b < nb; b++) {
        const float *k0 = k + (size_t)b * kstride;
        mod__v a0 = mod__vzero(), a1 = a0, a2 = a0, a3 = a0;
        for (d = 0; d < hd; d++) {
            const mod__v u = mod__vload(k0 + (size_t)d * MOD__KB);
            a0 = mod__vfma(a0, mod__vdup(q0[d]), u);
            a1 = mod__vfma(a1, mod__vdup(q1[d]), u);
            a2 = mod__vfma(a2, mod__vdup(q2[d]), u);
            a3 = mod__vfma(a3, mod__vdup(q3[d]), u);
        }
        mod__vstore(out + (size_t)b * MOD__KB, a0);
        mod__vstore(out + ostride + (size_t)b * MOD__KB, a1);
        mod__vstore(out + 2 * ostride + (size_t)b * MOD__KB, a2);
        mod__vstore(out + 3 * ostride + (size_t)b * MOD__KB, a3);
    }
}
/* One query's scores against nb key blocks of the given kind (MOD__W_*: an f32 cache, or a
   lone query reading an f16 cache in place) */
MOD__SPAN_INLINE void mod__kscores1_w(float *out, const float *q, const void *k, size_t kstride, int nb, int hd, int kind) {
    const size_t size = kind == MOD__W_F32 ? sizeof(float) : sizeof(uint16_t);
    int b = 0, d;
    for (; b + 4 <= nb; b += 4) {
        const size_t k0 = (size_t)b * kstride, k1 = k0 + kstride, k2 = k1 + kstride, k3 = k2 + kstride;
        /* the next four key blocks, a line of each per line read here */
        const unsigned char *f = kind != MOD__W_F32 && b + 8 <= nb ? MOD__CAST(const unsigned char *, k) + (k3 + kstride) * size : NULL;
        mod__v a0 = mod__vzero(), a1 = a0, a2 = a0, a3 = a0;
        for (d = 0; d < hd; d++) {
            const mod__v x = mod__vdup(q[d]);
            const size_t o = (size_t)d * MOD__KB;
            if (f && o * size % 64 == 0) {
                MOD__PREFETCH(f + o * size); MOD__PREFETCH(f + (kstride + o) * size);
                MOD__PREFETCH(f + (2 * kstride + o) * size); MOD__PREFETCH(f + (3 * kstride + o) * size);
            }
            a0 = mod__vfma(a0, x, MOD__WLOAD(kind, k, k0 + o));
            a1 = mod__vfma(a1, x, MOD__WLOAD(kind, k, k1 + o));
            a2 = mod__vfma(a2, x, MOD__WLOAD(kind, k, k2 + o));
            a3 = mod__vfma(a3, x, MOD__WLOAD(kind, k, k3 + o));
        }
        mod__vstore(out + (size_t)b * MOD__KB, a0);
        mod__vstore(out + (size_t)(b + 1) * MOD__KB, a1);
        mod__vstore(out + (size_t)(b + 2) * MOD__KB, a2);
        mod__vstore(out + (size_t)(b + 3) * MOD__KB, a3);
    }
    for (; b < nb; b++) {
        const size_t k0 = (size_t)b * kstride;
        mod__v a0 = mod__vzero();
        for (d = 0; d < hd; d++) a0 = mod__vfma(a0, mod__vdup(q[d]), MOD__WLOAD(kind, k, k0 + (size_t)d * MOD__KB));
        mod__vstore(out + (size_t)b * MOD__KB, a0);
    }
}
static void mod__kscores1(float *out, const float *q, const float *k, size_t kstride, int nb, int hd) {
    mod__kscores1_w(out, q, k, kstride, nb, hd, MOD__W_F32);
}
#else
/* Scores of one query against keys [0, T) of a head (rows kvd apart), four keys at a time
   where there are vectors (Helium), each score the operations of mod__dot. */
static void mod__scores(float *row, const float *q, const float *k, int kvd, int T, int hd) {
    int t = 0;
#ifdef MOD__VL
    for (; t + 4 <= T; t += 4) mod__tile4x1(row + t, k + (size_t)t * kvd, (size_t)kvd, q, hd);
#endif
    for (; t < T; t++) row[t] = mod__dot(q, k + (size_t)t * kvd, hd);
}
#endif

#if defined(MOD__VL) && MOD__ATT_TILES
/* out[j] (four queries, ostride apart) += sum over keys t < T of p[j][t] v_t, on the columns
   that fill whole vectors (the rest are left alone): the output stays in registers across the
   keys, with the same fused multiply-add per key, in the same order, as mod__axpy_w onto the
   row. */
#define MOD__ATT_IN(j, k) mod__vload(out + (j) * ostride + c + (k) * MOD__VL)
static void mod__attend4(float *out, size_t ostride, const float *p, size_t pstride, const float *v,
                         size_t vstride, int T, int hd) {
    int c = 0, t;
#if MOD__VREGS == 32 /* sixteen accumulators, next to their operands */
    for (; c + 4 * MOD__VL <= hd; c += 4 * MOD__VL) {
        mod__v a00 = MOD__ATT_IN(0, 0), a01 = MOD__ATT_IN(0, 1), a02 = MOD__ATT_IN(0, 2), a03 = MOD__ATT_IN(0, 3);
        mod__v a10 = MOD__ATT_IN(1, 0), a11 = MOD__ATT_IN(1, 1), a12 = MOD__ATT_IN(1, 2), a13 = MOD__ATT_IN(1, 3);
        mod__v a20 = MOD__ATT_IN(2, 0), a21 = MOD__ATT_IN(2, 1), a22 = MOD__ATT_IN(2, 2), a23 = MOD__ATT_IN(2, 3);
        mod__v a30 = MOD__ATT_IN(3, 0), a31 = MOD__ATT_IN(3, 1), a32 = MOD__ATT_IN(3, 2), a33 = MOD__ATT_IN(3, 3);
        for (t = 0; t < T; t++) {
            const float *vt = v + (size_t)t * vstride + c;
            const mod__v v0 = mod__vload(vt), v1 = mod__vload(vt + MOD__VL), v2 = mod__vload(vt + 2 * MOD__VL), v3 = mod__vload(vt + 3 * MOD__VL);
            mod__v pj = mod__vdup(p[t]);
            a00 = mod__vfma(a00, pj, v0); a01 = mod__vfma(a01, pj, v1); a02 = mod__vfma(a02, pj, v2); a03 = mod__vfma(a03, pj, v3);
            pj = mod__vdup(p[pstride + t]);
            a10 = mod__vfma(a10, pj, v0); a11 = mod__vfma(a11, pj, v1); a12 = mod__vfma(a12, pj, v2); a13 = mod__vfma(a13, pj, v3);
            pj = mod__vdup(p[2 * pstride + t]);
            a20 = mod__vfma(a20, pj, v0); a21 = mod__vfma(a21, pj, v1); a22 = mod__vfma(a22, pj, v2); a23 = mod__vfma(a23, pj, v3);
            pj = mod__vdup(p[3 * pstride + t]);
            a30 = mod__vfma(a30, pj, v0); a31 = mod__vfma(a31, pj, v1); a32 = mod__vfma(a32, pj, v2); a33 = mod__vfma(a33, pj, v3);
        }
#define MOD__ATT_OUT(j, a0, a1, a2, a3)                                                          \
        mod__vstore(out + (j) * ostride + c, a0); mod__vstore(out + (j) * ostride + c + MOD__VL, a1); \
        mod__vstore(out + (j) * ostride + c + 2 * MOD__VL, a2); mod__vstore(out + (j) * ostride + c + 3 * MOD__VL, a3);
        MOD__ATT_OUT(0, a00, a01, a02, a03) MOD__ATT_OUT(1, a10, a11, a12, a13)
        MOD__ATT_OUT(2, a20, a21, a22, a23) MOD__ATT_OUT(3, a30, a31, a32, a33)
#undef MOD__ATT_OUT
    }
#else /* sixteen registers: two columns of vectors at a time */
    for (; c + 2 * MOD__VL <= hd; c += 2 * MOD__VL) {
        mod__v a00 = MOD__ATT_IN(0, 0), a01 = MOD__ATT_IN(0, 1), a10 = MOD__ATT_IN(1, 0), a11 = MOD__ATT_IN(1, 1);
        mod__v a20 = MOD__ATT_IN(2, 0), a21 = MOD__ATT_IN(2, 1), a30 = MOD__ATT_IN(3, 0), a31 = MOD__ATT_IN(3, 1);
        for (t = 0; t < T; t++) {
            const float *vt = v + (size_t)t * vstride + c;
            const mod__v v0 = mod__vload(vt), v1 = mod__vload(vt + MOD__VL);
            mod__v pj = mod__vdup(p[t]);
            a00 = mod__vfma(a00, pj, v0); a01 = mod__vfma(a01, pj, v1);
            pj = mod__vdup(p[pstride + t]);
            a10 = mod__vfma(a10, pj, v0); a11 = mod__vfma(a11, pj, v1);
            pj = mod__vdup(p[2 * pstride + t]);
            a20 = mod__vfma(a20, pj, v0); a21 = mod__vfma(a21, pj, v1);
            pj = mod__vdup(p[3 * pstride + t]);
            a30 = mod__vfma(a30, pj, v0); a31 = mod__vfma(a31, pj, v1);
        }
        mod__vstore(out + c, a00); mod__vstore(out + c + MOD__VL, a01);
        mod__vstore(out + ostride + c, a10); mod__vstore(out + ostride + c + MOD__VL, a11);
        mod__vstore(out + 2 * ostride + c, a20); mod__vstore(out + 2 * ostride + c + MOD__VL, a21);
        mod__vstore(out + 3 * ostride + c, a30); mod__vstore(out + 3 * ostride + c + MOD__VL, a31);
    }
#endif
    for (; c + MOD__VL <= hd; c += MOD__VL) {
        mod__v a0 = MOD__ATT_IN(0, 0), a1 = MOD__ATT_IN(1, 0), a2 = MOD__ATT_IN(2, 0), a3 = MOD__ATT_IN(3, 0);
        for (t = 0; t < T; t++) {
            const mod__v vt = mod__vload(v + (size_t)t * vstride + c);
            a0 = mod__vfma(a0, mod__vdup(p[t]), vt);
            a1 = mod__vfma(a1, mod__vdup(p[pstride + t]), vt);
            a2 = mod__vfma(a2, mod__vdup(p[2 * pstride + t]), vt);
            a3 = mod__vfma(a3, mod__vdup(p[3 * pstride + t]), vt);
        }
        mod__vstore(out + c, a0);
        mod__vstore(out + ostride + c, a1);
        mod__vstore(out + 2 * ostride + c, a2);
        mod__vstore(out + 3 * ostride + c, a3);
    }
}
#undef MOD__ATT_IN
#endif

/* The first cache entry a query sees: with a sliding window W, the entries [0, T) hold
   increasing context positions and the query's own entry is the last; it sees those whose
   position q has p - q < W (p its own position), a run that ends the list. 0 without a window. */
static int mod__window_start(const mod__cache *cache, int T, int window) {
    const int32_t *pos = cache->pos;
    const int64_t first = (int64_t)pos[T - 1] - window; /* positions above this are seen */
    int lo = 0, hi = T - 1;
    if (!window) return 0;
    while (lo < hi) { /* the first entry past `first`; the last one always is */
        const int mid = lo + (hi - lo) / 2;
        if ((int64_t)pos[mid] > first) hi = mid; else lo = mid + 1;
    }
    return lo;
}

/* Positions [t0, t1) of one kv head's keys or values as f32, n floats from off: the f32
   cache's own, or an f16 cache's converted into buf (exactly: every f16 is a float). */
static const float *mod__kv_span(const float *f, const uint16_t *h, size_t off, size_t n, float *buf) {
    size_t i;
    if (!h) return f + off;
    for (i = mod__f16_row(buf, h + off, n, n); i < n; i++) buf[i] = mod__f16_to_f32(h[off + i]); /* fetching the next chunk */
    return buf;
}

/* The q8_0 cache. A kv head's keys and values are split along head_dim into blocks of 32 (the
   last one shorter when head_dim is not a multiple of 32), each an f16 scale s and int8 values
   q in [-127, 127] standing for s q, which f32 holds exactly (11 by 7 significant bits), so
   reading back is exact on every path. The int8 lie where an f16 cache keeps its f16 (keys in
   transposed key blocks, values as rows, per kv head); the scales of a kv head follow the same
   positions, nblk of them per position: keys [key block][nblk][MOD__KB], values
   [position][nblk]. */
static int mod__kv_nblk(int hd) { return (hd + MOD__INT8_BLOCK - 1) / MOD__INT8_BLOCK; }

/* One block of n values x into a q8_0 cache: amax the largest |x| (NaNs ignored), the scale the
   f16 nearest to amax / 127 (f32 division; from 65504 on, 65504), each value x / scale (f32
   division) rounded to nearest with ties away from zero and clamped to [-127, 127]; a scale of
   0 stores zeros, a NaN stores 0. q is written qstride apart. */
static void mod__kv_q8(signed char *q, size_t qstride, uint16_t *scale, const float *x, int n) {
    float amax = 0.0f, d;
    int j;
#ifdef MOD__KV_Q8
    if (n == MOD__INT8_BLOCK) amax = mod__block_amax(x);
    else
#endif
        for (j = 0; j < n; j++) { const float a = x[j] < 0 ? -x[j] : x[j]; if (a > amax) amax = a; }
    d = amax / 127.0f;
    *scale = d < 65504.0f ? mod__f32_to_f16(d) : MOD__CAST(uint16_t, 0x7bffu);
    d = mod__f16_to_f32(*scale);
    if (!(d > 0.0f)) {
        for (j = 0; j < n; j++) q[(size_t)j * qstride] = 0;
        return;
    }
#ifdef MOD__KV_Q8
    if (n == MOD__INT8_BLOCK) { /* a whole block by the backend; keys written MOD__KB apart */
        signed char r[MOD__INT8_BLOCK];
        mod__kv_q8_round(qstride == 1 ? q : r, x, d);
        if (qstride != 1)
            for (j = 0; j < n; j++) q[(size_t)j * qstride] = r[j];
        return;
    }
#endif
    /* written without branches on the values (the rounding's would be mispredicted half the
       time): a NaN is 0, then the clamp, truncation and the rounding step */
    for (j = 0; j < n; j++) {
        float v = x[j] / d, f;
        int r;
        v = v == v ? v : 0.0f;
        v = v < -127.0f ? -127.0f : v;
        v = v > 127.0f ? 127.0f : v;
        r = (int)v;
        f = v - (float)r; /* exact: |v| <= 127 */
        r += (f >= 0.5f) - (f <= -0.5f);
        q[(size_t)j * qstride] = MOD__CAST(signed char, r);
    }
}

/* n f16 scales as f32 */
static void mod__kv_scales(float *out, const uint16_t *p, size_t n) {
    size_t i;
    for (i = mod__f16_row(out, p, n, 0); i < n; i++) out[i] = mod__f16_to_f32(p[i]);
}

/* Scales converted at a time: the rows of a q8_0 span take theirs in groups of this many. */
#define MOD__KV_SCALES 64

/* n positions of q8_0 rows (values; keys too where MOD__KB is 1) as f32 rows [n][hd]. */
static void mod__kv_q8_rows(float *out, const signed char *q, const uint16_t *sc, int n, int hd) {
    const int nblk = mod__kv_nblk(hd), per = nblk < MOD__KV_SCALES ? MOD__KV_SCALES / nblk : 1;
    float sf[MOD__KV_SCALES];
    int t, j, i, r = per;
    for (t = 0; t < n; t++, r++, q += hd, sc += nblk, out += hd)
        for (j = 0; j < nblk; j++) {
            const int e = (j + 1) * MOD__INT8_BLOCK < hd ? (j + 1) * MOD__INT8_BLOCK : hd;
            float s;
            if (nblk > MOD__KV_SCALES) s = mod__f16_to_f32(sc[j]);
            else {
                if (r == per) { /* the next group of rows' scales */
                    mod__kv_scales(sf, sc, (size_t)(n - t < per ? n - t : per) * (size_t)nblk);
                    r = 0;
                }
                s = sf[r * nblk + j];
            }
            i = j * MOD__INT8_BLOCK;
#ifdef MOD__VI8
            for (; i + MOD__VL <= e; i += MOD__VL) mod__vstore(out + i, mod__vmul(mod__vdup(s), mod__vload_i8(q + i)));
#endif
            for (; i < e; i++) out[i] = s * (float)q[i];
        }
}

#if MOD__KB > 1
/* nb key blocks of a q8_0 cache as f32 key blocks [nb][hd][MOD__KB], the f32 cache's layout:
   one vector of the blocks' scales times each dimension's MOD__KB int8. */
static void mod__kv_q8_keys(float *out, const signed char *q, const uint16_t *sc, int nb, int hd) {
    const int nblk = mod__kv_nblk(hd);
    int b, j, i;
    for (b = 0; b < nb; b++, q += (size_t)MOD__KB * hd, sc += (size_t)MOD__KB * nblk, out += (size_t)MOD__KB * hd)
        for (j = 0; j < nblk; j++) {
            const int e = (j + 1) * MOD__INT8_BLOCK < hd ? (j + 1) * MOD__INT8_BLOCK : hd;
            float s[MOD__KB];
            mod__v vs;
            mod__kv_scales(s, sc + (size_t)j * MOD__KB, MOD__KB);
            vs = mod__vload(s);
            for (i = j * MOD__INT8_BLOCK; i < e; i++)
                mod__vstore(out + (size_t)i * MOD__KB, mod__vmul(vs, mod__vload_i8(q + (size_t)i * MOD__KB)));
        }
}
#endif

/* Positions [t0, t0 + n) of kv head kvh's keys (key non-zero) or values in a q8_0 cache, as
   f32 in buf, laid out as the f32 cache (for keys where MOD__KB > 1, t0 and n whole blocks). */
static const float *mod__kv_q8_span(const mod__cache *cache, int key, int kvh, int t0, int n, int hd, float *buf) {
    const size_t at = (size_t)kvh * mod__kb_round((size_t)cache->cap) + (size_t)t0;
    const signed char *q = (key ? cache->qk : cache->qv) + at * (size_t)hd;
    const uint16_t *sc = (key ? cache->sk : cache->sv) + at * (size_t)mod__kv_nblk(hd);
#if MOD__KB > 1
    if (key) { mod__kv_q8_keys(buf, q, sc, n / MOD__KB, hd); return buf; }
#endif
    mod__kv_q8_rows(buf, q, sc, n, hd);
    return buf;
}

/* One query against q8_0 cache entries read in place, for decoding, where a buffer would be
   filled for one reader only: each int8 is widened and multiplied by its scale in a register,
   which gives the very number the conversion stores (s q is exact), and then takes the same
   operations as on the converted span, so the results are those of that path, bit for bit. */
#if MOD__KB > 1
/* mod__kscores1 on nb q8_0 key blocks (q, sc as mod__kv_q8_keys takes them) */
static void mod__kscores1_q8(float *out, const float *qv, const signed char *q, const uint16_t *sc, int nb, int hd) {
    const int nblk = mod__kv_nblk(hd);
    const size_t kst = (size_t)MOD__KB * hd, sst = (size_t)MOD__KB * nblk;
#ifndef MOD__VHALF
    float s[4][MOD__KB];
    int u;
#endif
    int b = 0, j, d;
    for (; b + 4 <= nb; b += 4) {
        const signed char *k0 = q + (size_t)b * kst, *k1 = k0 + kst, *k2 = k1 + kst, *k3 = k2 + kst;
        /* the next four key blocks (a line of each per line read here) and their scales */
        const signed char *f = b + 8 <= nb ? k3 + kst : NULL;
        mod__v a0 = mod__vzero(), a1 = a0, a2 = a0, a3 = a0;
        if (f) mod__prefetch_range(sc + (size_t)(b + 4) * sst, 0, 4 * sst * sizeof(uint16_t));
        for (j = 0; j < nblk; j++) {
            const int e = (j + 1) * MOD__INT8_BLOCK < hd ? (j + 1) * MOD__INT8_BLOCK : hd;
            const uint16_t *sj = sc + (size_t)b * sst + (size_t)j * MOD__KB; /* the blocks' scales, MOD__KB each */
            mod__v s0, s1, s2, s3;
#ifdef MOD__VHALF
            s0 = mod__vload_f16(sj); s1 = mod__vload_f16(sj + sst); s2 = mod__vload_f16(sj + 2 * sst); s3 = mod__vload_f16(sj + 3 * sst);
#else
            for (u = 0; u < 4; u++) mod__kv_scales(s[u], sj + (size_t)u * sst, MOD__KB);
            s0 = mod__vload(s[0]); s1 = mod__vload(s[1]); s2 = mod__vload(s[2]); s3 = mod__vload(s[3]);
#endif
            for (d = j * MOD__INT8_BLOCK; d < e; d++) {
                const mod__v x = mod__vdup(qv[d]);
                const size_t o = (size_t)d * MOD__KB;
                if (f && o % 64 == 0) {
                    MOD__PREFETCH(f + o); MOD__PREFETCH(f + kst + o); MOD__PREFETCH(f + 2 * kst + o); MOD__PREFETCH(f + 3 * kst + o);
                }
                a0 = mod__vfma(a0, x, mod__vmul(s0, mod__vload_i8(k0 + o)));
                a1 = mod__vfma(a1, x, mod__vmul(s1, mod__vload_i8(k1 + o)));
                a2 = mod__vfma(a2, x, mod__vmul(s2, mod__vload_i8(k2 + o)));
                a3 = mod__vfma(a3, x, mod__vmul(s3, mod__vload_i8(k3 + o)));
            }
        }
        mod__vstore(out + (size_t)b * MOD__KB, a0);
        mod__vstore(out + (size_t)(b + 1) * MOD__KB, a1);
        mod__vstore(out + (size_t)(b + 2) * MOD__KB, a2);
        mod__vstore(out + (size_t)(b + 3) * MOD__KB, a3);
    }
    for (; b < nb; b++) {
        const signed char *k0 = q + (size_t)b * kst;
        mod__v a0 = mod__vzero();
        for (j = 0; j < nblk; j++) {
            const int e = (j + 1) * MOD__INT8_BLOCK < hd ? (j + 1) * MOD__INT8_BLOCK : hd;
            mod__v s0;
#ifdef MOD__VHALF
            s0 = mod__vload_f16(sc + (size_t)b * sst + (size_t)j * MOD__KB);
#else
            mod__kv_scales(s[0], sc + (size_t)b * sst + (size_t)j * MOD__KB, MOD__KB);
            s0 = mod__vload(s[0]);
#endif
            for (d = j * MOD__INT8_BLOCK; d < e; d++) a0 = mod__vfma(a0, mod__vdup(qv[d]), mod__vmul(s0, mod__vload_i8(k0 + (size_t)d * MOD__KB)));
        }
        mod__vstore(out + (size_t)b * MOD__KB, a0);
    }
}
#endif

#if defined(MOD__VL) && defined(MOD__VI8)
/* mod__axpy_w of p[t] times q8_0 value rows t in [0, n) (q, sc as mod__kv_q8_rows takes them):
   whole vectors, then the rest of the row one by one, as mod__axpy_w splits a row (blocks of 32
   are whole vectors). Where head_dim is a multiple of four vectors, y stays in registers across
   the rows, four vectors at a time (as mod__axpy_rows_w), with the same operations. */
static void mod__axpy_q8(float *y, const float *p, const signed char *q, const uint16_t *sc, int n, int hd) {
    const int nblk = mod__kv_nblk(hd);
    float sf[MOD__KV_SCALES];
    int t, j, i, r = 0;
    if (hd % (4 * MOD__VL) == 0 && MOD__INT8_BLOCK % MOD__VL == 0 && nblk <= MOD__KV_SCALES) {
        const int per = MOD__KV_SCALES / nblk;
        int c;
        for (c = 0; c < hd; c += 4 * MOD__VL) {
            /* the scale block of each of the four vectors */
            const int b0 = c / MOD__INT8_BLOCK, b1 = (c + MOD__VL) / MOD__INT8_BLOCK;
            const int b2 = (c + 2 * MOD__VL) / MOD__INT8_BLOCK, b3 = (c + 3 * MOD__VL) / MOD__INT8_BLOCK;
            mod__v a0 = mod__vload(y + c), a1 = mod__vload(y + c + MOD__VL);
            mod__v a2 = mod__vload(y + c + 2 * MOD__VL), a3 = mod__vload(y + c + 3 * MOD__VL);
            const int ahead = MOD__KV_AHEAD / hd + 1; /* rows */
            for (t = 0; t < n; t += per) {
                const int rows = n - t < per ? n - t : per;
                const signed char *qr = q + (size_t)t * hd + c;
                const float *sr = sf;
                if (t + 2 * per <= n) /* the scales after these */
                    mod__prefetch_range(sc + (size_t)(t + per) * nblk, 0, (size_t)per * (size_t)nblk * sizeof(uint16_t));
                mod__kv_scales(sf, sc + (size_t)t * nblk, (size_t)rows * (size_t)nblk);
                for (r = 0; r < rows; r++, qr += hd, sr += nblk) {
                    const mod__v va = mod__vdup(p[t + r]);
                    if (t + r + ahead < n) MOD__PREFETCH(qr + (size_t)ahead * hd); /* 4 vectors of int8: one line */
                    a0 = mod__vfma(a0, va, mod__vmul(mod__vdup(sr[b0]), mod__vload_i8(qr)));
                    a1 = mod__vfma(a1, va, mod__vmul(mod__vdup(sr[b1]), mod__vload_i8(qr + MOD__VL)));
                    a2 = mod__vfma(a2, va, mod__vmul(mod__vdup(sr[b2]), mod__vload_i8(qr + 2 * MOD__VL)));
                    a3 = mod__vfma(a3, va, mod__vmul(mod__vdup(sr[b3]), mod__vload_i8(qr + 3 * MOD__VL)));
                }
            }
            mod__vstore(y + c, a0); mod__vstore(y + c + MOD__VL, a1);
            mod__vstore(y + c + 2 * MOD__VL, a2); mod__vstore(y + c + 3 * MOD__VL, a3);
        }
        return;
    }
    for (t = 0; t < n; t++, r += nblk, q += hd, sc += nblk) {
        const mod__v va = mod__vdup(p[t]);
        for (j = 0; j < nblk; j++) {
            const int e = (j + 1) * MOD__INT8_BLOCK < hd ? (j + 1) * MOD__INT8_BLOCK : hd;
            float sj;
            if (nblk > MOD__KV_SCALES) sj = mod__f16_to_f32(sc[j]);
            else {
                if (j == 0 && (t == 0 || r + nblk > MOD__KV_SCALES)) { /* the next rows' scales */
                    const int rows = MOD__KV_SCALES / nblk < n - t ? MOD__KV_SCALES / nblk : n - t;
                    mod__kv_scales(sf, sc, (size_t)rows * (size_t)nblk);
                    r = 0;
                }
                sj = sf[r + j];
            }
            {
                const mod__v vs = mod__vdup(sj);
                i = j * MOD__INT8_BLOCK;
                for (; i + MOD__VL <= e; i += MOD__VL) mod__vstore(y + i, mod__vfma(mod__vload(y + i), va, mod__vmul(vs, mod__vload_i8(q + i))));
                for (; i < e; i++) y[i] += p[t] * (sj * (float)q[i]);
            }
        }
    }
}
#endif

/* Attention of ns new queries (already in the cache) over the cache. Work is split into (head,
   block of up to s->qblock queries): the queries of a block share every key and value row they
   read, so the cache streams through once per block rather than once per query. Groups of four
   queries take the keys as register tiles (mod__kscores4 for scores, mod__attend4 for values).
   Each score is the operations of mod__kscores1 (MOD__KB > 1) or mod__dot, and each output
   element the operations of mod__axpy_w over the keys in order, whatever the blocking: a query's
   result never depends on the other queries of its call. With a sliding window a query's keys
   start at its own first visible entry (mod__window_start): its softmax runs over those alone,
   and in a group of four the keys before it (seen by an earlier query of the group) get weight
   exactly 0, which leaves its zeroed sums +0 as if they were skipped. An f16 cache is read
   MOD__KV_CHUNK positions at a time, converted to f32 once per block of queries; a score never
   spans chunks and the value sums continue across them, so the chunks change no result. A q8_0
   cache is read the same way, its chunks converted to f32 exactly (mod__kv_q8_span). A lone
   query (decoding) reads either cache in place instead, converting in registers, with the same
   operations (mod__kscores1_q8, mod__axpy_q8; mod__kscores1_w and mod__axpy_w of MOD__W_F16
   where the backend loads f16 vectors). */
static void mod__attention(mod_session *s, mod__cache *cache, int ns) {
    const mod_config *c = &s->m->cfg;
    const int H = c->n_heads, hd = c->head_dim, qd = H * hd;
    const int group = H / c->n_kv_heads, base = cache->n, QB = s->qblock;
    const int blocks = (ns + QB - 1) / QB, window = c->sliding_window;
    const float scale = 1.0f / MOD_SQRTF((float)hd);
    const size_t stride = mod__kb_round((size_t)s->max_tokens);
    /* positions per chunk: an f32 cache is read in place, all at once; f16 and q8_0 converted */
    const int conv = !cache->k, C = conv ? MOD__KV_CHUNK : (int)stride;
    int job;
    int parallel = (double)ns * H * (base + ns) * hd > MOD__PARALLEL_WORK && s->threads > 1;
    (void)parallel;
    MOD__PRAGMA(omp parallel for num_threads(s->threads) if(parallel) schedule(dynamic, 1))
    for (job = 0; job < blocks * H; job++) {
        const int h = job % H, j0 = job / H * QB, kvh = h / group;
        const int nq = ns - j0 < QB ? ns - j0 : QB, Tmax = base + j0 + nq;
        /* decoding reads an f16 or q8_0 cache in place, converting in registers */
#if MOD__KB > 1 && defined(MOD__VHALF)
        const int in_place = nq == 1 && (cache->qk || cache->hk);
#elif MOD__KB > 1
        const int in_place = nq == 1 && cache->qk;
#else
        const int in_place = 0;
#endif
        const int Cs = in_place ? (int)stride : C; /* positions per pass over the keys */
        float *sc = s->scores + (size_t)MOD__THREAD_ID() * (size_t)QB * stride;
        float *buf = s->kvbuf ? s->kvbuf + (size_t)MOD__THREAD_ID() * MOD__KV_CHUNK * (size_t)hd : NULL;
        /* a head's keys and values: position t at t * ks (whole key blocks) and t * vs */
#if MOD__KB > 1
        const size_t head = mod__kb_round((size_t)cache->cap) * (size_t)hd, ks = (size_t)hd, vs = (size_t)hd;
        const size_t kh = (size_t)kvh * head, vh = kh;
#else
        const size_t head = (size_t)cache->cap * (size_t)hd;
        const size_t ks = conv ? (size_t)hd : (size_t)c->n_kv_heads * hd, vs = ks;
        const size_t kh = conv ? (size_t)kvh * head : (size_t)kvh * hd, vh = kh;
#endif
        const float *q = s->q + (size_t)j0 * qd + (size_t)h * hd;
        float *att = s->att + (size_t)j0 * qd + (size_t)h * hd;
        float sums[MOD__QBLOCK];
        int lo[MOD__QBLOCK]; /* each query's first visible key */
        int j = 0, i, t0, first;
        lo[0] = 0;
        for (j = 0; j < nq; j++) lo[j] = mod__window_start(cache, base + j0 + j + 1, window);
        first = lo[0] / MOD__KB * MOD__KB; /* the queries' keys are nondecreasing: the first sees the earliest */
        (void)head;
        /* scores: query j sees keys [lo[j], base + j0 + j]; a lone query reading the cache in
           place takes all its keys in one run, which the kernels fetch ahead through */
        for (t0 = first; t0 < Tmax; t0 += Cs) {
            const int t1 = Tmax - t0 < Cs ? Tmax : t0 + Cs;
#if MOD__KB > 1
            const int c0 = t0 / MOD__KB, c1 = (int)(mod__kb_round((size_t)t1) / MOD__KB); /* key blocks [c0, c1) */
            const size_t kstride = (size_t)MOD__KB * hd;
            const float *kp;
            if (in_place) {
                const size_t at = (size_t)kvh * mod__kb_round((size_t)cache->cap) + (size_t)t0;
                const int b0 = lo[0] / MOD__KB > c0 ? lo[0] / MOD__KB : c0;
                const int b1 = (int)(mod__kb_round((size_t)(base + j0 + 1)) / MOD__KB) < c1 ? (int)(mod__kb_round((size_t)(base + j0 + 1)) / MOD__KB) : c1;
                if (b1 > b0 && cache->qk)
                    mod__kscores1_q8(sc + (size_t)b0 * MOD__KB, q, cache->qk + (at + (size_t)(b0 - c0) * MOD__KB) * (size_t)hd,
                                     cache->sk + (at + (size_t)(b0 - c0) * MOD__KB) * (size_t)mod__kv_nblk(hd), b1 - b0, hd);
#ifdef MOD__VHALF
                else if (b1 > b0)
                    mod__kscores1_w(sc + (size_t)b0 * MOD__KB, q, cache->hk + kh + (size_t)b0 * kstride, kstride, b1 - b0, hd, MOD__W_F16);
#endif
                continue;
            }
            kp = cache->qk ? mod__kv_q8_span(cache, 1, kvh, t0, (c1 - c0) * MOD__KB, hd, buf)
                           : mod__kv_span(cache->k, cache->hk, kh + (size_t)t0 * ks, (size_t)(c1 - c0) * kstride, buf);
            j = 0;
            for (; j + 4 <= nq; j += 4) { /* the key blocks the last of the four sees, from the first's first */
                int b0 = lo[j] / MOD__KB, b1 = (int)(mod__kb_round((size_t)(base + j0 + j + 4)) / MOD__KB);
                if (b0 < c0) b0 = c0;
                if (b1 > c1) b1 = c1;
                if (b1 > b0)
                    mod__kscores4(sc + (size_t)j * stride + (size_t)b0 * MOD__KB, stride, q + (size_t)j * qd, (size_t)qd,
                                  kp + (size_t)(b0 - c0) * kstride, kstride, b1 - b0, hd);
            }
            for (; j < nq; j++) {
                int b0 = lo[j] / MOD__KB, b1 = (int)(mod__kb_round((size_t)(base + j0 + j + 1)) / MOD__KB);
                if (b0 < c0) b0 = c0;
                if (b1 > c1) b1 = c1;
                if (b1 > b0)
                    mod__kscores1(sc + (size_t)j * stride + (size_t)b0 * MOD__KB, q + (size_t)j * qd,
                                  kp + (size_t)(b0 - c0) * kstride, kstride, b1 - b0, hd);
            }
#else
            const float *kp = cache->qk ? mod__kv_q8_span(cache, 1, kvh, t0, t1 - t0, hd, buf)
                                        : mod__kv_span(cache->k, cache->hk, kh + (size_t)t0 * ks, (size_t)(t1 - t0 - 1) * ks + (size_t)hd, buf);
            const size_t kst = conv ? (size_t)hd : ks;
            for (j = 0; j < nq; j++) {
                const int a = lo[j] > t0 ? lo[j] : t0, e = base + j0 + j + 1 < t1 ? base + j0 + j + 1 : t1;
                if (e > a) mod__scores(sc + (size_t)j * stride + a, q + (size_t)j * qd, kp + (size_t)(a - t0) * kst, (int)kst, e - a, hd);
            }
#endif
        }
        /* softmax: the exponentials here, the division by their sum once per output element
           at the end rather than once per key */
        for (j = 0; j < nq; j++) {
            const int T = base + j0 + j + 1;
            float *row = sc + (size_t)j * stride, *out = att + (size_t)j * qd;
            sums[j] = mod__softmax_exp(row + lo[j], T - lo[j], scale);
            for (i = 0; i < hd; i++) out[i] = 0.0f;
        }
#if defined(MOD__VL) && MOD__ATT_TILES
        for (j = 0; j + 4 <= nq; j += 4) {
            int jj, t;
            for (jj = j + 1; jj < j + 4; jj++) /* keys the first query sees and this one does not */
                for (t = lo[j]; t < lo[jj]; t++) sc[(size_t)jj * stride + t] = 0.0f;
        }
#endif
        /* values: out_j += p_j[t] v_t, keys in order */
#if defined(MOD__VL) && (defined(MOD__VI8) || defined(MOD__VHALF))
        t0 = lo[0];
#ifdef MOD__VI8
        if (cache->qv && nq == 1) { /* decoding: the int8 in place (mod__axpy_q8) */
            const size_t at = (size_t)kvh * mod__kb_round((size_t)cache->cap) + (size_t)lo[0];
            mod__axpy_q8(att, sc + lo[0], cache->qv + at * (size_t)hd, cache->sv + at * (size_t)mod__kv_nblk(hd), Tmax - lo[0], hd);
            t0 = Tmax; /* nothing left for the loop below */
        }
#endif
#ifdef MOD__VHALF
        if (cache->hv && nq == 1) { /* decoding: the f16 values in place, converted in registers */
            mod__axpy_rows_w(att, sc + lo[0], cache->hv + vh + (size_t)lo[0] * vs, vs, Tmax - lo[0], hd, MOD__W_F16);
            t0 = Tmax;
        }
#endif
        for (; t0 < Tmax; t0 += C) {
#else
        for (t0 = lo[0]; t0 < Tmax; t0 += C) {
#endif
            const int t1 = Tmax - t0 < C ? Tmax : t0 + C;
            const size_t vst = conv ? (size_t)hd : vs;
            const float *vp = cache->qv ? mod__kv_q8_span(cache, 0, kvh, t0, t1 - t0, hd, buf)
                                        : mod__kv_span(cache->v, cache->hv, vh + (size_t)t0 * vs, (size_t)(t1 - t0 - 1) * vst + (size_t)hd, buf);
            j = 0;
#if defined(MOD__VL) && MOD__ATT_TILES
            for (; j + 4 <= nq; j += 4) {
                const int T0 = base + j0 + j + 1, whole = hd / MOD__VL * MOD__VL;
                const int a = lo[j] > t0 ? lo[j] : t0, e = T0 < t1 ? T0 : t1;
                int jj;
                if (e > a)
                    mod__attend4(att + (size_t)j * qd, (size_t)qd, sc + (size_t)j * stride + a, stride, vp + (size_t)(a - t0) * vst, vst, e - a, hd);
                for (jj = j; jj < j + 4; jj++) {
                    float *out = att + (size_t)jj * qd;
                    const float *p = sc + (size_t)jj * stride;
                    const int Tj = base + j0 + jj + 1 < t1 ? base + j0 + jj + 1 : t1;
                    const int tail = lo[jj] > t0 ? lo[jj] : t0;
                    int from = T0 > lo[jj] ? T0 : lo[jj];
                    if (from < t0) from = t0;
                    if (Tj > from) mod__axpy_rows(out, p + from, vp + (size_t)(from - t0) * vst, vst, Tj - from, whole);
                    if (whole < hd && Tj > tail)
                        mod__axpy_rows(out + whole, p + tail, vp + (size_t)(tail - t0) * vst + whole, vst, Tj - tail, hd - whole);
                }
            }
#endif
            for (; j < nq; j++) {
                float *out = att + (size_t)j * qd;
                const float *p = sc + (size_t)j * stride;
                const int Tj = base + j0 + j + 1 < t1 ? base + j0 + j + 1 : t1, from = lo[j] > t0 ? lo[j] : t0;
                if (Tj > from) mod__axpy_rows(out, p + from, vp + (size_t)(from - t0) * vst, vst, Tj - from, hd);
            }
        }
        for (j = 0; j < nq; j++) {
            float *out = att + (size_t)j * qd;
            for (i = 0; i < hd; i++) out[i] /= sums[j];
        }
    }
}

/* A token's keys and values (heads x hd each) into an f16 cache at position p, rounded once
   (by vectors where the backend converts them: mod__f16_store): keys as mod__kvput lays them
   out (plain rows per kv head where MOD__KB is 1), values [kv head][position][head_dim]. Keys
   are converted MOD__KV_STAGE at a time into a buffer, then written MOD__KB apart.
   mod__f16_put: n floats as f16, the backend's prefix and the rest one by one. */
#define MOD__KV_STAGE 64
static void mod__f16_put(uint16_t *out, const float *x, int n) {
    int i;
    for (i = (int)mod__f16_store(out, x, (size_t)n); i < n; i++) out[i] = mod__f32_to_f16(x[i]);
}
static void mod__kvput16(uint16_t *k, uint16_t *v, size_t cap, int heads, int hd, int p, const float *krow,
                         const float *vrow, int last) {
    int g, d, l;
    for (g = 0; g < heads; g++) {
        const size_t head = (size_t)g * cap * (size_t)hd;
        uint16_t *kb = k + head + (size_t)(p / MOD__KB) * MOD__KB * (size_t)hd, *vp = v + head + (size_t)p * hd;
        for (d = 0; d < hd; d += MOD__KV_STAGE) { /* keys a stage at a time, then MOD__KB apart */
            const int n = hd - d < MOD__KV_STAGE ? hd - d : MOD__KV_STAGE;
            uint16_t h[MOD__KV_STAGE];
            mod__f16_put(h, krow + (size_t)g * hd + d, n);
            for (l = 0; l < n; l++) kb[(size_t)(d + l) * MOD__KB + p % MOD__KB] = h[l];
        }
        if (last)
            for (d = 0; d < hd; d++)
                for (l = p % MOD__KB + 1; l < MOD__KB; l++) kb[(size_t)d * MOD__KB + l] = 0;
        mod__f16_put(vp, vrow + (size_t)g * hd, hd);
    }
}

/* A token's keys and values (heads x hd each) into a q8_0 cache at position p (cap in whole
   key blocks), block by block (mod__kv_q8), in the layout of mod__kv_q8_span; after the last
   token of a call the rest of its key block is zeroed, scales too, as mod__kvput does. */
static void mod__kvput8(mod__cache *cache, size_t cap, int heads, int hd, int p, const float *krow, const float *vrow,
                        int last) {
    const int nblk = mod__kv_nblk(hd), l0 = p % MOD__KB;
    int g, j, l;
    for (g = 0; g < heads; g++) {
        const size_t kb = (size_t)g * cap + (size_t)(p - l0); /* the key block's first position */
        signed char *kq = cache->qk + kb * (size_t)hd + l0, *vq = cache->qv + ((size_t)g * cap + (size_t)p) * hd;
        uint16_t *ks = cache->sk + kb * (size_t)nblk + l0, *vs = cache->sv + ((size_t)g * cap + (size_t)p) * nblk;
        for (j = 0; j < nblk; j++) {
            const int w = hd - j * MOD__INT8_BLOCK < MOD__INT8_BLOCK ? hd - j * MOD__INT8_BLOCK : MOD__INT8_BLOCK;
            const size_t at = (size_t)g * hd + (size_t)j * MOD__INT8_BLOCK;
            mod__kv_q8(kq + (size_t)j * MOD__INT8_BLOCK * MOD__KB, MOD__KB, ks + (size_t)j * MOD__KB, krow + at, w);
            mod__kv_q8(vq + (size_t)j * MOD__INT8_BLOCK, 1, vs + j, vrow + at, w);
        }
        if (last)
            for (l = l0 + 1; l < MOD__KB; l++) {
                for (j = 0; j < hd; j++) kq[(size_t)j * MOD__KB + (size_t)(l - l0)] = 0;
                for (j = 0; j < nblk; j++) ks[(size_t)j * MOD__KB + (size_t)(l - l0)] = 0;
            }
    }
}

#if MOD__KB > 1
/* A token's keys and values (heads x hd each) into the cache at position p, in the layout
   above (cap: the capacity in whole key blocks). After the last token of a call, the rest of
   its key block is zeroed: those positions get scores nobody reads until they are written,
   and memory never written (an arena, say) could hold subnormals, which are slow in
   arithmetic. Zeroing there rather than at session creation leaves the pages of a cache that
   is never filled untouched, and no other token of the call writes those positions. */
static void mod__kvput(float *k, float *v, size_t cap, int heads, int hd, int p, const float *krow,
                       const float *vrow, int last) {
    int g, d, l;
    for (g = 0; g < heads; g++) {
        const size_t head = (size_t)g * cap * (size_t)hd;
        float *kb = k + head + (size_t)(p / MOD__KB) * MOD__KB * (size_t)hd;
        for (d = 0; d < hd; d++) kb[(size_t)d * MOD__KB + p % MOD__KB] = krow[(size_t)g * hd + d];
        if (last)
            for (d = 0; d < hd; d++)
                for (l = p % MOD__KB + 1; l < MOD__KB; l++) kb[(size_t)d * MOD__KB + l] = 0.0f;
        memcpy(v + head + (size_t)p * hd, vrow + (size_t)g * hd, sizeof(float) * (size_t)hd);
    }
}
#endif

/* ======================================================================================= */
/* >>session   Sessions: creation, one block on the selected tokens, the forward pass    */
/* ======================================================================================= */

static void *mod__take_n(mod__arena *a, size_t count, size_t elsize) {
    if (elsize && count > SIZE_MAX / elsize) { a->overflow = 1; return NULL; }
    return mod__take(a, count * elsize);
}

/* Carves a session's buffers out of an arena into s: the same code measures (a->base == NULL,
   s a scratch struct) and places. */
static void mod__session_layout(mod__arena *a, mod_session *s, const mod_model *m, int T, int B, int nth, int R, int kv) {
    const mod_config *c = &m->cfg;
    size_t d = (size_t)c->dim, kvd = (size_t)c->n_kv_heads * (size_t)c->head_dim;
    size_t F = (size_t)c->hidden_dim, Fp = c->predictor_hidden > 0 ? (size_t)c->predictor_hidden : 1;
    size_t qd = (size_t)c->n_heads * (size_t)c->head_dim;
    size_t V = (size_t)c->vocab_size, wl = d > F ? d : F, i;
    /* rows of q, att and h: the model width, the query width and (new keys and values pass
       through att and h) the key/value width, whichever is widest */
    size_t qw = d > qd ? d : qd;
    mod__cache *cache;
    if (Fp > wl) wl = Fp;
    if (qd > wl) wl = qd; /* the output projection's rows are qd long */
    if (kvd > qw) qw = kvd;
    memset(s, 0, sizeof *s);
    s->cache = cache = MOD__CAST(mod__cache *, mod__take_n(a, (size_t)c->n_layers, sizeof(mod__cache)));
    s->saved = MOD__CAST(mod__cache *, mod__take_n(a, (size_t)c->n_layers, sizeof(mod__cache)));
    for (i = 0; i < (size_t)c->n_layers; i++) {
        /* a routed block's cache only ever holds the tokens it processed */
        const int cap = m->layers[i].routed ? R : T;
        const size_t es = kv == MOD_KV_F32 ? sizeof(float) : kv == MOD_KV_F16 ? sizeof(uint16_t) : 1;
        void *k = mod__take_n(a, mod__kb_round((size_t)cap) * kvd, es);
        void *v = mod__take_n(a, mod__kb_round((size_t)cap) * kvd, es);
        /* a q8_0 cache's scales (>>attention) */
        const size_t ns = kv == MOD_KV_Q8_0 ? mod__kb_round((size_t)cap) * (size_t)c->n_kv_heads * (size_t)mod__kv_nblk(c->head_dim) : 0;
        uint16_t *sk = ns ? MOD__CAST(uint16_t *, mod__take_n(a, ns, sizeof(uint16_t))) : NULL;
        uint16_t *sv = ns ? MOD__CAST(uint16_t *, mod__take_n(a, ns, sizeof(uint16_t))) : NULL;
        int32_t *pos = MOD__CAST(int32_t *, mod__take_n(a, (size_t)cap, sizeof(int32_t)));
        if (cache) {
            memset(&cache[i], 0, sizeof cache[i]);
            if (kv == MOD_KV_F16) { cache[i].hk = MOD__CAST(uint16_t *, k); cache[i].hv = MOD__CAST(uint16_t *, v); }
            else if (kv == MOD_KV_Q8_0) {
                cache[i].qk = MOD__CAST(signed char *, k); cache[i].qv = MOD__CAST(signed char *, v);
                cache[i].sk = sk; cache[i].sv = sv;
            } else { cache[i].k = MOD__CAST(float *, k); cache[i].v = MOD__CAST(float *, v); }
            cache[i].pos = pos; cache[i].cap = cap;
        }
    }
    s->x = MOD__CAST(float *, mod__take_n(a, (size_t)B * d, sizeof(float)));
    s->xs = MOD__CAST(float *, mod__take_n(a, (size_t)B * d, sizeof(float)));
    s->xn = MOD__CAST(float *, mod__take_n(a, (size_t)B * d, sizeof(float)));
    s->q = MOD__CAST(float *, mod__take_n(a, (size_t)B * qw, sizeof(float)));
    s->att = MOD__CAST(float *, mod__take_n(a, (size_t)B * qw, sizeof(float)));
    s->h = MOD__CAST(float *, mod__take_n(a, (size_t)B * qw, sizeof(float)));
    s->hb = MOD__CAST(float *, mod__take_n(a, (size_t)B * F, sizeof(float)));
    s->hb2 = MOD__CAST(float *, mod__take_n(a, (size_t)B * F, sizeof(float)));
    s->pbuf = c->decision == MOD_DECISION_PREDICTOR && c->n_routed
                  ? MOD__CAST(float *, mod__take_n(a, (size_t)B * Fp, sizeof(float))) : NULL;
    s->router = MOD__CAST(float *, mod__take_n(a, (size_t)B, sizeof(float)));
    s->decide = MOD__CAST(float *, mod__take_n(a, (size_t)B, sizeof(float)));
    s->sel = MOD__CAST(int32_t *, mod__take_n(a, (size_t)B, sizeof(int32_t)));
    s->order = MOD__CAST(int32_t *, mod__take_n(a, (size_t)B, sizeof(int32_t)));
    s->flag = MOD__CAST(unsigned char *, mod__take_n(a, (size_t)B, 1));
    s->inv_freq = MOD__CAST(double *, mod__take_n(a, (size_t)c->head_dim / 2, sizeof(double)));
    s->rope = MOD__CAST(float *, mod__take_n(a, (size_t)nth * (size_t)c->head_dim, sizeof(float)));
    s->qblock = B < MOD__QBLOCK ? B : MOD__QBLOCK;
    s->scores = MOD__CAST(float *, mod__take_n(a, (size_t)nth * (size_t)s->qblock * mod__kb_round((size_t)T), sizeof(float)));
    s->kvbuf = kv != MOD_KV_F32 ? MOD__CAST(float *, mod__take_n(a, (size_t)nth * MOD__KV_CHUNK * (size_t)c->head_dim, sizeof(float))) : NULL;
    /* room for the rows of one tile per thread (mod__matmul converts a block at a time) */
    s->wrow = MOD__CAST(float *, mod__take_n(a, (size_t)nth * MOD__ROWS_CONVERTED * wl, sizeof(float)));
    s->wrow_len = (int)(MOD__ROWS_CONVERTED * wl);
    s->xq = MOD__CAST(unsigned char *, mod__take_n(a, (size_t)B * (wl / MOD__INT8_BLOCK + 1), MOD__INT8X_BYTES));
#ifdef MOD__AMX
    if (B >= MOD__AMX_MIN && mod__model_amx(m) && mod__amx_ready()) {
        const size_t tp = (size_t)((B < MOD__AMX_TB ? B : MOD__AMX_TB) + 31) / 32 * 32, kp = (wl + 31) / 32 * 32;
        s->amx_x = MOD__CAST(uint16_t *, mod__take_n(a, tp * kp, sizeof(uint16_t)));
        s->amx_w = MOD__CAST(uint16_t *, mod__take_n(a, (size_t)nth * 32 * kp, sizeof(uint16_t)));
    }
#endif
    s->logits = MOD__CAST(float *, mod__take_n(a, V, sizeof(float)));
    s->probs = MOD__CAST(mod__prob *, mod__take_n(a, V, sizeof(mod__prob)));
}

typedef struct mod__session_params {
    int T, B, nth, R, kv, paced;
    mod_routing routing;
    float capacity, threshold;
} mod__session_params;

static mod_result mod__session_params_from(const mod_model *m, const mod_session_desc *desc,
                                           mod__session_params *p, mod_error *err) {
    mod_session_desc d;
    memset(&d, 0, sizeof d);
    if (desc) d = *desc;
    if (!m) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "model is NULL");
    if (d.max_tokens < 0 || d.max_tokens > MOD__MAX_SEQ)
        return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "max_tokens %d is outside [0, %d]", d.max_tokens, MOD__MAX_SEQ);
    if (d.max_batch < 0) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "max_batch %d is negative", d.max_batch);
    if (d.threads < 0) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "threads %d is negative", d.threads);
    if (d.routed_cache_tokens < 0)
        return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "routed_cache_tokens %d is negative", d.routed_cache_tokens);
    if ((unsigned)d.kv_dtype > (unsigned)MOD_KV_Q8_0)
        return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "kv_dtype %u is not a mod_kv_dtype value", (unsigned)d.kv_dtype);
    if ((unsigned)d.prompt_routing > (unsigned)MOD_ROUTING_TOPK)
        return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "prompt_routing %u is not a mod_routing value", (unsigned)d.prompt_routing);
    if (d.capacity != d.capacity || d.capacity < 0.0f || d.capacity > 1.0f) {
        return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "capacity %f is outside (0, 1] (0: the model's)", (double)d.capacity);
    }
    if (d.override_threshold && !(d.threshold >= -FLT_MAX && d.threshold <= FLT_MAX)) {
        return mod__fail(err, MOD_ERR_NUMERIC, "threshold %f is not a finite number", (double)d.threshold);
    }
    p->T = d.max_tokens ? d.max_tokens : m->cfg.max_seq_len;
    p->B = d.max_batch ? d.max_batch : p->T;
    if (p->B > p->T) p->B = p->T;
    p->R = d.routed_cache_tokens && d.routed_cache_tokens < p->T ? d.routed_cache_tokens : p->T;
    p->kv = (int)d.kv_dtype;
    p->routing = d.prompt_routing == MOD_ROUTING_DEFAULT ? MOD_ROUTING_CAUSAL : d.prompt_routing;
    p->capacity = d.capacity;
    p->threshold = d.override_threshold ? d.threshold : m->cfg.threshold;
#ifdef MOD__OPENMP
    p->nth = d.threads ? d.threads : mod__default_threads(m);
#else
    p->nth = 1;
#endif
    p->paced = !d.threads && p->nth > 1;
    if (p->nth < 1) p->nth = 1;
    if (p->nth > 1024) p->nth = 1024;
    return MOD_OK;
}

mod_result mod_session_memory_required(const mod_model *m, const mod_session_desc *desc, size_t *bytes,
                                       mod_error *err) {
    mod__session_params p;
    mod__arena a;
    mod_session scratch;
    mod_result r = mod__session_params_from(m, desc, &p, err);
    if (r) return r;
    if (!bytes) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "bytes is NULL");
    memset(&a, 0, sizeof a);
    mod__take(&a, sizeof(mod_session));
    mod__session_layout(&a, &scratch, m, p.T, p.B, p.nth, p.R, p.kv);
    if (a.overflow || a.used > SIZE_MAX - MOD__ALIGN)
        return mod__fail(err, MOD_ERR_OUT_OF_MEMORY, "a session of max_tokens %d, max_batch %d, threads %d does not fit in memory",
                         p.T, p.B, p.nth);
    *bytes = a.used + MOD__ALIGN;
    if (err) { err->code = MOD_OK; err->message[0] = 0; }
    return MOD_OK;
}

mod_result mod_session_create(mod_session **out, const mod_model *m, const mod_session_desc *desc, mod_error *err) {
    mod__session_params p;
    mod__arena a;
    mod_session *s;
    size_t need = 0;
    void *block = NULL;
    mod_result r;
    int i;
    if (!out) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "session is NULL");
    *out = NULL;
    r = mod_session_memory_required(m, desc, &need, err);
    if (r) return r;
    mod__session_params_from(m, desc, &p, NULL);
    memset(&a, 0, sizeof a);
    if (desc && desc->arena) {
        unsigned char *base = mod__align_ptr(desc->arena);
        size_t lost = (size_t)(base - MOD__CAST(unsigned char *, desc->arena));
        if (desc->arena_size < need || lost > desc->arena_size)
            return mod__fail(err, MOD_ERR_OUT_OF_MEMORY, "arena is %U bytes, %U needed",
                             (uint64_t)desc->arena_size, (uint64_t)need);
        a.base = base; a.size = desc->arena_size - lost;
    } else {
        block = MOD_MALLOC(need);
        if (!block) return mod__fail(err, MOD_ERR_OUT_OF_MEMORY, "cannot allocate %U bytes for the session", (uint64_t)need);
        a.base = mod__align_ptr(block); a.size = need - MOD__ALIGN;
    }
    s = MOD__CAST(mod_session *, mod__take(&a, sizeof(mod_session)));
    MOD_ASSERT(s != NULL);
    mod__session_layout(&a, s, m, p.T, p.B, p.nth, p.R, p.kv);
    MOD_ASSERT(!a.overflow);
    s->m = m;
    s->block = block;
    s->max_tokens = p.T; s->max_batch = p.B; s->threads = s->threads_max = p.nth; s->kv_dtype = p.kv;
    s->paced = p.paced;
    for (i = 0; i < 3; i++) {
        s->pace[i].mode = 1;
        s->pace[i].left = s->pace[i].gap = s->pace[i].base = i ? 4 : 16;
        s->pace[i].skip = i ? 1 : 0;
        s->pace[i].rate[0] = s->pace[i].rate[1] = 0.0;
    }
    s->prompt_routing = p.routing; s->capacity = p.capacity; s->threshold = p.threshold;
    mod__rope_freqs(s->inv_freq, &m->cfg);
    *out = s;
    return MOD_OK;
}

void mod_session_free(mod_session *s) {
    if (s && s->block) MOD_FREE(s->block);
}

void mod_session_reset(mod_session *s) {
    int i;
    if (!s) return;
    for (i = 0; i < s->m->cfg.n_layers; i++) {
        mod__cache *c = &s->cache[i];
        c->n = 0; c->seen = c->processed = 0; c->flops = c->flops_dense = 0;
    }
    s->pos = 0; s->has_logits = 0; s->out_flops = 0; s->tokens = 0; s->rec_n = 0;
    s->err[0] = 0;
}

/* RoPE of token j of a block's batch: its queries and new key, and its cache position. */
typedef struct mod__rope_job {
    mod_session *s;
    mod__cache *cache;
    float *knew;
    const float *vnew;
    const int32_t *sel;
    int first_pos, compacted, n;
} mod__rope_job;
static void mod__rope_item(void *ctx, int j, int thread) {
    const mod__rope_job *r = MOD__CAST(const mod__rope_job *, ctx);
    const mod_config *c = &r->s->m->cfg;
    const int hd = c->head_dim, kvd = c->n_kv_heads * hd, base = r->cache->n;
    const int pos = r->first_pos + (r->sel ? r->sel[j] : j);
    float *cs = r->s->rope + (size_t)thread * (size_t)hd;
    /* one set of angles for the token's queries and keys */
    mod__rope_angles(cs, cs + hd / 2, hd, r->compacted ? base + j : pos, r->s->inv_freq);
    mod__rope_apply(r->s->q + (size_t)j * c->n_heads * hd, c->n_heads, hd, cs, cs + hd / 2);
    mod__rope_apply(r->knew + (size_t)j * kvd, c->n_kv_heads, hd, cs, cs + hd / 2);
    r->cache->pos[base + j] = pos;
    if (r->cache->hk)
        mod__kvput16(r->cache->hk, r->cache->hv, mod__kb_round((size_t)r->cache->cap), c->n_kv_heads, hd, base + j,
                     r->knew + (size_t)j * kvd, r->vnew + (size_t)j * kvd, j == r->n - 1);
    else if (r->cache->qk)
        mod__kvput8(r->cache, mod__kb_round((size_t)r->cache->cap), c->n_kv_heads, hd, base + j, r->knew + (size_t)j * kvd,
                    r->vnew + (size_t)j * kvd, j == r->n - 1);
#if MOD__KB > 1
    else
        mod__kvput(r->cache->k, r->cache->v, mod__kb_round((size_t)r->cache->cap), c->n_kv_heads, hd, base + j,
                   r->knew + (size_t)j * kvd, r->vnew + (size_t)j * kvd, j == r->n - 1);
#endif
}

static void mod__glu_item(void *ctx, int j, int thread) {
    mod_session *s = MOD__CAST(mod_session *, ctx);
    const size_t F = (size_t)s->m->cfg.hidden_dim;
    (void)thread;
    if (s->m->cfg.activation == MOD_ACTIVATION_GELU_TANH) mod__geglu(s->hb + (size_t)j * F, s->hb2 + (size_t)j * F, F);
    else mod__swiglu(s->hb + (size_t)j * F, s->hb2 + (size_t)j * F, F);
}

/* Runs the block on ns gathered rows xs (context positions ctx[j], RoPE positions from the
   position mode). Leaves h = xs + attention in s->h and the MLP output in s->q. */
static void mod__block(mod_session *s, const mod__layer *l, mod__cache *cache, const float *xs,
                       int ns, int first_pos, const int32_t *sel) {
    const mod_config *c = &s->m->cfg;
    const int d = c->dim, hd = c->head_dim, kvd = c->n_kv_heads * hd, F = c->hidden_dim;
    const int base = cache->n, compacted = l->routed && c->positions == MOD_POSITIONS_COMPACTED;
    /* new keys and values go straight into plain rows; into the blocked layout or an f16 or
       q8_0 cache token by token after RoPE (mod__rope_item), from s->att and s->h (free until
       attention and the output projection) */
    float *knew = MOD__KB > 1 || s->kv_dtype != MOD_KV_F32 ? s->att : cache->k + (size_t)base * kvd;
    float *vnew = MOD__KB > 1 || s->kv_dtype != MOD_KV_F32 ? s->h : cache->v + (size_t)base * kvd;
    size_t i, nd = (size_t)ns * (size_t)d;
    mod__mm mm[3];
    mod__rope_job rj;
    mod__rmsnorm_rows(s, s->xn, xs, ns, &l->attn_norm, d, c->norm_eps, c->norm_offset);
    mm[0].y = s->q; mm[0].w = &l->wq; mm[0].b = &l->bq;
    mm[1].y = knew; mm[1].w = &l->wk; mm[1].b = &l->bk;
    mm[2].y = vnew; mm[2].w = &l->wv; mm[2].b = &l->bv;
    mod__matmuls(s, s->xn, ns, mm, 3);
    rj.s = s; rj.cache = cache; rj.knew = knew; rj.vnew = vnew; rj.sel = sel; rj.first_pos = first_pos;
    rj.compacted = compacted; rj.n = ns;
    mod__each(s, ns, d + kvd, mod__rope_item, &rj);
    mod__attention(s, cache, ns);
    cache->n = base + ns;
    mod__matmul(s, s->h, s->att, ns, &l->wo, &l->bo);
    for (i = 0; i < nd; i++) s->h[i] += xs[i];
    mod__rmsnorm_rows(s, s->xn, s->h, ns, &l->mlp_norm, d, c->norm_eps, c->norm_offset);
    mm[0].y = s->hb; mm[0].w = &l->w_gate; mm[0].b = &l->b_gate;
    mm[1].y = s->hb2; mm[1].w = &l->w_up; mm[1].b = &l->b_up;
    mod__matmuls(s, s->xn, ns, mm, 2);
    /* row by row: where a row's vector part ends must not depend on the batch */
    mod__each(s, ns, F, mod__glu_item, s);
    mod__matmul(s, s->q, s->hb, ns, &l->w_down, &l->b_down);
}

/* FLOPs of one token through a block's attention and MLP, seeing `visible` cache entries. */
static double mod__token_flops(const mod_config *c, int visible) {
    if (c->sliding_window && visible > c->sliding_window) visible = c->sliding_window; /* at most */
    double d = c->dim, qd = (double)c->n_heads * c->head_dim, kvd = (double)c->n_kv_heads * c->head_dim;
    return 2.0 * d * (qd + 2.0 * kvd) + 2.0 * qd * d + 6.0 * d * c->hidden_dim + 4.0 * qd * visible;
}

/* n tokens through every block, starting at context position s->pos. Returns -1, or the
   layer whose cache cannot take the tokens it selected. */
static int mod__forward(mod_session *s, const int32_t *tokens, int n, int topk) {
    const mod_model *m = s->m;
    const mod_config *c = &m->cfg;
    const int d = c->dim;
    int li, b, j, ri = 0;
    for (b = 0; b < n; b++) {
        const float *e = mod__row(&m->embed, tokens[b], s->wrow);
        memcpy(s->x + (size_t)b * d, e, sizeof(float) * (size_t)d);
        if (c->embed_scale != 1.0f) { /* Gemma: the rows times the file's scale, in f32 */
            float *x = s->x + (size_t)b * d;
            for (j = 0; j < d; j++) x[j] *= c->embed_scale;
        }
    }
    for (li = 0; li < c->n_layers; li++) {
        const mod__layer *l = &m->layers[li];
        mod__cache *cache = &s->cache[li];
        int ns = n, base = cache->n;
        double dense = 0.0, spent = 0.0;
#ifdef MOD__OPENMP
        mod__pace *pace = s->pace_blocks ? &s->pace[l->routed ? 2 : 1] : NULL;
        const int mode = pace ? mod__pace_begin(s, pace) : 0;
        const double t0 = pace ? omp_get_wtime() : 0.0;
#endif
        for (b = 0; b < n; b++) dense += mod__token_flops(c, s->pos + b + 1);
        if (!l->routed) {
            mod__block(s, l, cache, s->x, n, s->pos, NULL);
            size_t e, nd = (size_t)n * (size_t)d;
            for (e = 0; e < nd; e++) s->x[e] = s->h[e] + s->q[e];
            spent = dense;
        } else {
            const float *gate = s->router;
            mod__route(s, l, s->x, n);
            ns = mod__select(s, l, n, topk);
            if (ns > cache->cap - cache->n) return li;
            if (s->rec) mod__record_routing(s, ri, n, ns);
            ri++;
            spent = (double)n * 2.0 * d;
            if (c->decision == MOD_DECISION_PREDICTOR)
                spent += (double)n * (c->predictor_hidden ? 2.0 * d * c->predictor_hidden + 4.0 * c->predictor_hidden : 2.0 * d);
            for (j = 0; j < ns; j++) {
                memcpy(s->xs + (size_t)j * d, s->x + (size_t)s->sel[j] * d, sizeof(float) * (size_t)d);
                spent += mod__token_flops(c, base + j + 1);
            }
            if (ns > 0) mod__block(s, l, cache, s->xs, ns, s->pos, s->sel);
            /* combine and scatter back; every other token keeps its x exactly */
            for (j = 0; j < ns; j++) {
                float *x = s->x + (size_t)s->sel[j] * d;
                const float *h = s->h + (size_t)j * d, *mlp = s->q + (size_t)j * d;
                float g = gate[s->sel[j]];
                int i;
                if (c->router_scale == MOD_ROUTER_SCALE_SIGMOID) g = mod__sigmoid(g);
                if (c->combine == MOD_COMBINE_DELTA)
                    for (i = 0; i < d; i++) x[i] = x[i] + g * ((h[i] + mlp[i]) - x[i]);
                else
                    for (i = 0; i < d; i++) x[i] = h[i] + g * mlp[i];
            }
        }
        cache->seen += (uint64_t)n;
        cache->processed += (uint64_t)ns;
        cache->flops += spent;
        cache->flops_dense += dense;
#ifdef MOD__OPENMP
        if (pace) mod__pace_end(pace, mode, omp_get_wtime() - t0, spent);
#endif
    }
#ifdef MOD__OPENMP
    if (s->pace_blocks) s->threads = s->pace[1].mode ? s->threads_max : 1; /* the output layer */
#endif
    s->pos += n;
    s->tokens += (uint64_t)n;
    return -1;
}

static const mod__tensor *mod__output_weights(const mod_model *m) {
    return m->cfg.tied_embeddings ? &m->embed : &m->output;
}

static mod_result mod__run_on(mod_session *s, const int32_t *tokens, int n, float *logits, int topk);
static mod_result mod__run(mod_session *s, const int32_t *tokens, int n, float *logits, int topk) {
#ifdef MOD__OPENMP
    if (s && s->paced && n > 1) { /* block by block (mod__forward) */
        mod_result r;
        s->pace_blocks = 1;
        r = mod__run_on(s, tokens, n, logits, topk);
        s->pace_blocks = 0;
        s->threads = s->threads_max;
        return r;
    }
    if (s && s->paced) {
        mod__pace *p = &s->pace[0];
        const double f0 = mod__session_flops(s), t0 = omp_get_wtime();
        const int mode = mod__pace_begin(s, p);
        const mod_result r = mod__run_on(s, tokens, n, logits, topk);
        if (r == MOD_OK) mod__pace_end(p, mode, omp_get_wtime() - t0, mod__session_flops(s) - f0);
        s->threads = s->threads_max;
        return r;
    }
#endif
    return mod__run_on(s, tokens, n, logits, topk);
}

static mod_result mod__run_on(mod_session *s, const int32_t *tokens, int n, float *logits, int topk) {
    const mod_model *m;
    const mod_config *c;
    int i;
    if (!s) return MOD_ERR_INVALID_ARGUMENT;
    m = s->m; c = &m->cfg;
    s->rec_n = 0;
    if (!tokens || n <= 0) return mod__serr(s, MOD_ERR_INVALID_ARGUMENT, "no tokens given (n = %d)", n);
    for (i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
            return mod__serr(s, MOD_ERR_BAD_TOKEN, "token %d at index %d is outside the vocabulary [0, %d)", (int)tokens[i], i, c->vocab_size);
    if (n > s->max_tokens - s->pos)
        return mod__serr(s, MOD_ERR_CONTEXT_FULL, "context full: %d tokens held, %d more do not fit in %d", s->pos, n, s->max_tokens);
    if (topk && n > s->max_batch)
        return mod__serr(s, MOD_ERR_BATCH_TOO_LARGE, "top-k routing needs the whole prompt in one batch: %d tokens, batch size %d", n, s->max_batch);
    /* causal routing gives the same result in any chunking, so long prompts go in pieces */
    memcpy(s->saved, s->cache, sizeof(mod__cache) * (size_t)c->n_layers);
    {
        const int pos0 = s->pos;
        const uint64_t tokens0 = s->tokens;
        const double out0 = s->out_flops;
        const mod__tensor *w = mod__output_weights(m);
        const float *g = MOD__CAST(const float *, m->out_norm.data);
        for (i = 0; i < n;) {
            const int chunk = n - i < s->max_batch ? n - i : s->max_batch;
            int b, full;
            s->rec_base = i;
            full = mod__forward(s, tokens + i, chunk, topk);
            if (full >= 0) {
                /* caches are append-only, so restoring their counts undoes the call */
                memcpy(s->cache, s->saved, sizeof(mod__cache) * (size_t)c->n_layers);
                s->pos = pos0; s->tokens = tokens0; s->out_flops = out0;
                return mod__serr(s, MOD_ERR_CONTEXT_FULL, "the KV cache of routed block %d is full (%d entries)", full, s->cache[full].cap);
            }
            if (logits) {
                for (b = 0; b < chunk; b++)
                    mod__rmsnorm(s->xn + (size_t)b * c->dim, s->x + (size_t)b * c->dim, g, c->dim, c->norm_eps, c->norm_offset);
                mod__matmul(s, logits + (size_t)i * c->vocab_size, s->xn, chunk, w, NULL);
                s->out_flops += 2.0 * c->dim * c->vocab_size * chunk;
            } else if (i + chunk == n) {
                mod__rmsnorm(s->xn, s->x + (size_t)(chunk - 1) * c->dim, g, c->dim, c->norm_eps, c->norm_offset);
                mod__matmul(s, s->logits, s->xn, 1, w, NULL);
                s->out_flops += 2.0 * c->dim * c->vocab_size;
            }
            i += chunk;
        }
    }
    if (logits) memcpy(s->logits, logits + ((size_t)n - 1) * c->vocab_size, sizeof(float) * (size_t)c->vocab_size);
    s->has_logits = 1;
    if (s->rec) s->rec_n = n < s->rec_cap ? n : s->rec_cap;
    return MOD_OK;
}

mod_result mod_prefill(mod_session *s, const int32_t *tokens, int n, float *logits) {
    if (!s) return MOD_ERR_INVALID_ARGUMENT;
    return mod__run(s, tokens, n, logits, s->prompt_routing == MOD_ROUTING_TOPK);
}

mod_result mod_decode(mod_session *s, int32_t token) {
    return mod__run(s, &token, 1, NULL, 0);
}

const float *mod_session_logits(const mod_session *s) { return s && s->has_logits ? s->logits : NULL; }
int mod_session_position(const mod_session *s) { return s ? s->pos : 0; }
int mod_session_threads(const mod_session *s) { return s ? s->threads_max : 0; }
const char *mod_session_error(const mod_session *s) { return s ? s->err : ""; }

mod_result mod_session_cache(const mod_session *s, int layer, int *count, const int32_t **positions) {
    if (!s || layer < 0 || layer >= s->m->cfg.n_layers) return MOD_ERR_INVALID_ARGUMENT;
    if (count) *count = s->cache[layer].n;
    if (positions) *positions = s->cache[layer].pos;
    return MOD_OK;
}

mod_result mod_session_record_routing(mod_session *s, mod_route *records, int max_tokens) {
    if (!s) return MOD_ERR_INVALID_ARGUMENT;
    if (max_tokens < 0) return mod__serr(s, MOD_ERR_INVALID_ARGUMENT, "max_tokens %d is negative", max_tokens);
    s->rec = max_tokens > 0 ? records : NULL;
    s->rec_cap = s->rec ? max_tokens : 0;
    s->rec_n = 0;
    return MOD_OK;
}

int mod_session_routing_recorded(const mod_session *s) { return s ? s->rec_n : 0; }

mod_result mod_session_stats(const mod_session *s, int layer, mod_block_stats *st) {
    int i;
    if (!s || !st || layer < -1 || layer >= s->m->cfg.n_layers) return MOD_ERR_INVALID_ARGUMENT;
    memset(st, 0, sizeof *st);
    if (layer >= 0) {
        const mod__cache *c = &s->cache[layer];
        st->routed = s->m->layers[layer].routed;
        st->tokens_seen = c->seen;
        st->tokens_processed = c->processed;
        st->kv_entries = c->n;
        st->flops = c->flops;
        st->flops_dense = c->flops_dense;
        return MOD_OK;
    }
    st->routed = s->m->cfg.n_routed > 0;
    st->tokens_seen = st->tokens_processed = s->tokens;
    st->flops = st->flops_dense = s->out_flops;
    for (i = 0; i < s->m->cfg.n_layers; i++) {
        st->kv_entries += s->cache[i].n;
        st->flops += s->cache[i].flops;
        st->flops_dense += s->cache[i].flops_dense;
    }
    return MOD_OK;
}

/* ======================================================================================= */
/* >>sampling  Sampling                                                                  */
/* ======================================================================================= */

static uint64_t mod__splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

mod_result mod_sampler_init(mod_sampler *smp, const mod_sampler_desc *desc) {
    mod_sampler_desc d;
    if (!smp) return MOD_ERR_INVALID_ARGUMENT;
    memset(&d, 0, sizeof d);
    if (desc) d = *desc;
    /* a refused desc leaves a sampler that mod_sample refuses too */
    smp->mod__temperature = -1.0f;
    smp->mod__top_k = 0;
    smp->mod__top_p = 0.0f;
    smp->mod__state = 0;
    if (!(d.temperature >= 0.0f && d.temperature <= FLT_MAX) || d.top_k < 0 ||
        !(d.top_p >= 0.0f && d.top_p <= 1.0f))
        return MOD_ERR_INVALID_ARGUMENT;
    smp->mod__temperature = d.temperature;
    smp->mod__top_k = d.top_k;
    smp->mod__top_p = d.top_p;
    smp->mod__state = d.seed;
    return MOD_OK;
}

/* Higher probability first, the lower id on ties. */
static int mod__prob_above(const mod__prob *a, const mod__prob *b) {
    return a->p > b->p || (a->p == b->p && a->id < b->id);
}

static void mod__prob_sift(mod__prob *h, int root, int n) {
    for (;;) {
        int child = 2 * root + 1;
        mod__prob t;
        if (child >= n) return;
        if (child + 1 < n && mod__prob_above(&h[child], &h[child + 1])) child++;
        if (!mod__prob_above(&h[root], &h[child])) return;
        t = h[root]; h[root] = h[child]; h[child] = t;
        root = child;
    }
}

/* Sorts best first (heap sort with the worst at the root). */
static void mod__prob_sort(mod__prob *p, int n) {
    int i;
    for (i = n / 2 - 1; i >= 0; i--) mod__prob_sift(p, i, n);
    for (i = n - 1; i > 0; i--) {
        mod__prob t = p[0]; p[0] = p[i]; p[i] = t;
        mod__prob_sift(p, 0, i);
    }
}

/* Keeps the k most likely of p[0..n) in p[0..k), best first (a worst-at-root heap of k). */
static void mod__prob_top(mod__prob *p, int n, int k) {
    int i;
    for (i = k / 2 - 1; i >= 0; i--) mod__prob_sift(p, i, k);
    for (i = k; i < n; i++)
        if (mod__prob_above(&p[i], &p[0])) {
            p[0] = p[i];
            mod__prob_sift(p, 0, k);
        }
    mod__prob_sort(p, k);
}

/* The ids a sampler draws from: the tokenizer's tokens when the model has one (the rows past
   them only pad the vocabulary), else every row. */
static int mod__sample_count(const mod_model *m) {
    return m->has_vocab ? m->vocab.n_tokens : m->cfg.vocab_size;
}

mod_result mod_sample(mod_session *s, mod_sampler *smp, int32_t *token) {
    const float *logits;
    mod__prob *p;
    int V, i, n, best = -1;
    float t, mx = -FLT_MAX, top_p;
    double sum = 0.0, u, acc = 0.0;
    if (!s || !smp || !token) return MOD_ERR_INVALID_ARGUMENT;
    if (!s->has_logits) return mod__serr(s, MOD_ERR_INVALID_ARGUMENT, "nothing to sample from: no token has been run yet");
    t = smp->mod__temperature;
    top_p = smp->mod__top_p == 0.0f ? 1.0f : smp->mod__top_p;
    if (!(t >= 0.0f && t <= FLT_MAX)) return mod__serr(s, MOD_ERR_INVALID_ARGUMENT, "temperature must be a finite number >= 0");
    if (!(top_p > 0.0f && top_p <= 1.0f)) return mod__serr(s, MOD_ERR_INVALID_ARGUMENT, "top_p must be in (0, 1]");
    if (smp->mod__top_k < 0) return mod__serr(s, MOD_ERR_INVALID_ARGUMENT, "top_k must be >= 0");
    logits = s->logits;
    V = mod__sample_count(s->m);
    for (i = 0; i < V; i++)
        if (logits[i] == logits[i] && (best < 0 || logits[i] > mx)) { mx = logits[i]; best = i; }
    if (best < 0) return mod__serr(s, MOD_ERR_NUMERIC, "every logit is NaN");
    if (t == 0.0f || smp->mod__top_k == 1) { *token = best; return MOD_OK; }
    p = s->probs;
    for (i = 0; i < V; i++) {
        /* NaN logits get probability 0; the largest logit maps to 1 */
        float e = logits[i] == logits[i] ? MOD_EXPF((logits[i] - mx) / t) : 0.0f;
        p[i].p = e == e ? e : 0.0f;
        p[i].id = i;
    }
    n = V;
    if (smp->mod__top_k > 0 && smp->mod__top_k < V) {
        n = smp->mod__top_k;
        mod__prob_top(p, V, n);
    } else if (top_p < 1.0f) {
        mod__prob_sort(p, V);
    }
    for (i = 0; i < n; i++) sum += p[i].p;
    if (top_p < 1.0f) {
        /* candidates are sorted here: keep the smallest prefix holding top_p of the mass */
        double limit = top_p * sum, run = 0.0;
        for (i = 0; i < n; i++) {
            run += p[i].p;
            if (run >= limit) { n = i + 1; break; }
        }
        sum = 0.0;
        for (i = 0; i < n; i++) sum += p[i].p;
    }
    u = (double)(mod__splitmix(&smp->mod__state) >> 11) * (1.0 / 9007199254740992.0) * sum;
    for (i = 0; i < n; i++) {
        acc += p[i].p;
        if (u < acc) { *token = p[i].id; return MOD_OK; }
    }
    /* rounding can leave u just past the last sum: take the last candidate with mass */
    for (i = n - 1; i > 0 && p[i].p == 0.0f; i--) {}
    *token = p[i].id;
    return MOD_OK;
}

/* ======================================================================================= */
/* >>tokenizer Tokenizer: byte-level BPE, scored BPE, SentencePiece-style BPE             */
/* ======================================================================================= */

/* Encoding writes each piece's unmerged tokens (one per byte or character) into the caller's
   token array and merges them there; decoding copies token bytes straight into the caller's
   buffer. A piece of more than MOD__TOK_QUEUE_MIN (16) tokens merges through a priority
   queue in O(n log n) time, with MOD__TOK_SCRATCH (40) bytes of scratch per token of the
   longest such piece, allocated with MOD_MALLOC once per mod_tokenize call and freed before
   it returns. Shorter pieces, and every piece under MOD_NO_MALLOC, merge in place by
   rescanning all pairs after each merge, which is quadratic in the piece length. NFC text
   is written into the free end of the caller's token array (mod__tok_encode_12). */

/* Raw bytes of a normal or byte token; "" for control tokens and ids without text. */
static const char *mod__vocab_piece(const mod__vocab *v, int32_t id, size_t *len) {
    *len = 0;
    if (id < 0 || id >= v->vocab_size) return NULL;
    if (id >= v->n_tokens || v->types[id] == MOD__TOKEN_CONTROL) return "";
    *len = v->offsets[id + 1] - v->offsets[id];
    return v->strings + v->offsets[id];
}

/* memcmp-order comparison of the n bytes s with a||b, without building a||b. */
static int mod__tok_cmp(const char *s, size_t n, const char *a, size_t alen, const char *b, size_t blen) {
    size_t k = n < alen ? n : alen;
    int c = k ? memcmp(s, a, k) : 0;
    if (c) return c;
    if (n <= alen) return n < alen + blen ? -1 : 0;
    s += alen;
    n -= alen;
    k = n < blen ? n : blen;
    c = k ? memcmp(s, b, k) : 0;
    if (c) return c;
    return n < blen ? -1 : n > blen;
}

static int32_t mod__vocab_lookup(const mod__vocab *v, const char *a, size_t alen, const char *b, size_t blen) {
    int lo = 0, hi = v->n_sorted - 1;
    if (alen + blen > (size_t)v->max_token_len) return -1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        uint32_t id = v->sorted[mid];
        int c = mod__tok_cmp(v->strings + v->offsets[id], v->offsets[id + 1] - v->offsets[id],
                             a, alen, b, blen);
        if (c == 0) return (int32_t)id;
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

enum { MOD__TOK_SPACE, MOD__TOK_LETTER, MOD__TOK_DIGIT, MOD__TOK_OTHER };

/* ASCII classes of the GPT-2 pattern; bytes >= 0x80 are letters so UTF-8 words stay whole. */
static int mod__tok_class(int c) {
    if (c == ' ' || (c >= '\t' && c <= '\r')) return MOD__TOK_SPACE;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) return MOD__TOK_LETTER;
    if (c >= '0' && c <= '9') return MOD__TOK_DIGIT;
    return MOD__TOK_OTHER;
}

/* Byte i of the text being encoded: the dummy prefix space when pre is 1, then the caller's
   bytes. The prefix must join the first word, so the pretokenizer has to see it. */
static int mod__tok_byte(const char *s, size_t pre, size_t i) {
    return i < pre ? ' ' : (unsigned char)s[i - pre];
}

/* End of the GPT-2 piece that starts at i < n (n counts the prefix). */
static size_t mod__tok_gpt2_split(const char *s, size_t pre, size_t n, size_t i) {
    int c = mod__tok_byte(s, pre, i), cls;
    size_t j;
    if (c == '\'' && i + 1 < n) {
        int c1 = mod__tok_byte(s, pre, i + 1), c2 = i + 2 < n ? mod__tok_byte(s, pre, i + 2) : 0;
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return i + 2;
        if (((c1 == 'r' || c1 == 'v') && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return i + 3;
    }
    /* " ?letters", " ?digits" and " ?others" differ only in the class of the first non-space */
    j = c == ' ' && i + 1 < n ? i + 1 : i;
    cls = mod__tok_class(mod__tok_byte(s, pre, j));
    if (cls != MOD__TOK_SPACE) {
        while (j < n && mod__tok_class(mod__tok_byte(s, pre, j)) == cls) j++;
        return j;
    }
    for (j = i; j < n && mod__tok_class(mod__tok_byte(s, pre, j)) == MOD__TOK_SPACE; j++) {}
    /* "\s+(?!\S)" leaves the last space before a word to the word; "\s+" takes a lone one */
    return j < n && j - i > 1 ? j - 1 : j;
}

/* Each Unicode code point's class for the Llama 3 and Qwen2 patterns: \p{L} (general
   category L*) a letter, \p{N} (N*) a digit, \s (the White_Space property, as Oniguruma's
   \s, the engine Hugging Face tokenizers uses by default) a space, anything else other. The
   table holds the first code point of each run of one class, as cp << 2 | class. */
#ifndef MOD_NO_UNICODE_TABLES
/* >>unicode-table begin */
/* Unicode 15.0.0: 1562 runs, 6248 bytes (generated by tools/unicode/gen.sh; do not edit) */
#define MOD__UNI_RUNS 1562
static const uint32_t mod__uni_runs[MOD__UNI_RUNS] = {
    0x3, 0x24, 0x3B, 0x80, 0x87, 0xC2, 0xEB, 0x105, 0x16F, 0x185, 0x1EF, 0x214, 0x21B, 0x280,
    0x287, 0x2A9, 0x2AF, 0x2CA, 0x2D3, 0x2D5, 0x2DB, 0x2E6, 0x2E9, 0x2EF, 0x2F2, 0x2FF, 0x301,
    0x35F, 0x361, 0x3DF, 0x3E1, 0xB0B, 0xB19, 0xB4B, 0xB81, 0xB97, 0xBB1, 0xBB7, 0xBB9, 0xBBF,
    0xDC1, 0xDD7, 0xDD9, 0xDE3, 0xDE9, 0xDFB, 0xDFD, 0xE03, 0xE19, 0xE1F, 0xE21, 0xE2F, 0xE31,
    0xE37, 0xE39, 0xE8B, 0xE8D, 0xFDB, 0xFDD, 0x120B, 0x1229, 0x14C3, 0x14C5, 0x155F, 0x1565,
    0x156B, 0x1581, 0x1627, 0x1741, 0x17AF, 0x17BD, 0x17CF, 0x1881, 0x192F, 0x1982, 0x19AB,
    0x19B9, 0x19C3, 0x19C5, 0x1B53, 0x1B55, 0x1B5B, 0x1B95, 0x1B9F, 0x1BB9, 0x1BC2, 0x1BE9,
    0x1BF7, 0x1BFD, 0x1C03, 0x1C41, 0x1C47, 0x1C49, 0x1CC3, 0x1D35, 0x1E9B, 0x1EC5, 0x1ECB,
    0x1F02, 0x1F29, 0x1FAF, 0x1FD1, 0x1FDB, 0x1FE9, 0x1FEF, 0x2001, 0x205B, 0x2069, 0x206F,
    0x2091, 0x2097, 0x20A1, 0x20A7, 0x2101, 0x2167, 0x2181, 0x21AF, 0x21C1, 0x2223, 0x2225,
    0x223F, 0x2281, 0x232B, 0x2411, 0x24EB, 0x24F5, 0x24FB, 0x2541, 0x2547, 0x2561, 0x258B,
    0x259A, 0x25C3, 0x25C5, 0x2607, 0x2615, 0x2637, 0x263D, 0x2647, 0x264D, 0x26A7, 0x26A9,
    0x26C7, 0x26C9, 0x26CF, 0x26D9, 0x26EB, 0x26F5, 0x26FB, 0x2739, 0x273F, 0x2771, 0x277B,
    0x277D, 0x278B, 0x279A, 0x27C1, 0x27CB, 0x27D2, 0x27EB, 0x27F1, 0x27F7, 0x2815, 0x282F,
    0x283D, 0x2847, 0x284D, 0x28A7, 0x28A9, 0x28C7, 0x28C9, 0x28D3, 0x28D5, 0x28DF, 0x28E1,
    0x28EB, 0x2965, 0x2977, 0x2979, 0x297F, 0x299A, 0x29C3, 0x29C9, 0x29D7, 0x2A15, 0x2A3B,
    0x2A3D, 0x2A4B, 0x2A4D, 0x2AA7, 0x2AA9, 0x2AC7, 0x2AC9, 0x2AD3, 0x2AD5, 0x2AEB, 0x2AF5,
    0x2AFB, 0x2B41, 0x2B47, 0x2B81, 0x2B8B, 0x2B9A, 0x2BC3, 0x2BE5, 0x2BEB, 0x2C15, 0x2C37,
    0x2C3D, 0x2C47, 0x2C4D, 0x2CA7, 0x2CA9, 0x2CC7, 0x2CC9, 0x2CD3, 0x2CD5, 0x2CEB, 0x2CF5,
    0x2CFB, 0x2D71, 0x2D7B, 0x2D7D, 0x2D8B, 0x2D9A, 0x2DC3, 0x2DC5, 0x2DCA, 0x2DE3, 0x2E0D,
    0x2E13, 0x2E15, 0x2E2F, 0x2E39, 0x2E47, 0x2E49, 0x2E5B, 0x2E65, 0x2E6F, 0x2E71, 0x2E77,
    0x2E79, 0x2E83, 0x2E8D, 0x2E97, 0x2EA1, 0x2EAF, 0x2EB9, 0x2EEB, 0x2F41, 0x2F47, 0x2F9A,
    0x2FCF, 0x3015, 0x3037, 0x3039, 0x3047, 0x3049, 0x30A7, 0x30A9, 0x30EB, 0x30F5, 0x30FB,
    0x3161, 0x316F, 0x3175, 0x317B, 0x3181, 0x318B, 0x319A, 0x31C3, 0x31E2, 0x31FF, 0x3201,
    0x3207, 0x3215, 0x3237, 0x3239, 0x3247, 0x3249, 0x32A7, 0x32A9, 0x32D3, 0x32D5, 0x32EB,
    0x32F5, 0x32FB, 0x3375, 0x337F, 0x3381, 0x338B, 0x339A, 0x33C3, 0x33C5, 0x33CF, 0x3411,
    0x3437, 0x3439, 0x3447, 0x3449, 0x34EF, 0x34F5, 0x34FB, 0x3539, 0x353F, 0x3551, 0x355F,
    0x3562, 0x357D, 0x358B, 0x359A, 0x35E7, 0x35E9, 0x3603, 0x3615, 0x365F, 0x3669, 0x36CB,
    0x36CD, 0x36F3, 0x36F5, 0x36FB, 0x3701, 0x371F, 0x379A, 0x37C3, 0x3805, 0x38C7, 0x38C9,
    0x38D3, 0x3901, 0x391F, 0x3942, 0x396B, 0x3A05, 0x3A0F, 0x3A11, 0x3A17, 0x3A19, 0x3A2F,
    0x3A31, 0x3A93, 0x3A95, 0x3A9B, 0x3A9D, 0x3AC7, 0x3AC9, 0x3AD3, 0x3AF5, 0x3AFB, 0x3B01,
    0x3B17, 0x3B19, 0x3B1F, 0x3B42, 0x3B6B, 0x3B71, 0x3B83, 0x3C01, 0x3C07, 0x3C82, 0x3CD3,
    0x3D01, 0x3D23, 0x3D25, 0x3DB7, 0x3E21, 0x3E37, 0x4001, 0x40AF, 0x40FD, 0x4102, 0x412B,
    0x4141, 0x415B, 0x4169, 0x417B, 0x4185, 0x418B, 0x4195, 0x419F, 0x41B9, 0x41C7, 0x41D5,
    0x420B, 0x4239, 0x423F, 0x4242, 0x426B, 0x4281, 0x431B, 0x431D, 0x4323, 0x4335, 0x433B,
    0x4341, 0x43EF, 0x43F1, 0x4927, 0x4929, 0x493B, 0x4941, 0x495F, 0x4961, 0x4967, 0x4969,
    0x497B, 0x4981, 0x4A27, 0x4A29, 0x4A3B, 0x4A41, 0x4AC7, 0x4AC9, 0x4ADB, 0x4AE1, 0x4AFF,
    0x4B01, 0x4B07, 0x4B09, 0x4B1B, 0x4B21, 0x4B5F, 0x4B61, 0x4C47, 0x4C49, 0x4C5B, 0x4C61,
    0x4D6F, 0x4DA6, 0x4DF7, 0x4E01, 0x4E43, 0x4E81, 0x4FDB, 0x4FE1, 0x4FFB, 0x5005, 0x59B7,
    0x59BD, 0x5A00, 0x5A05, 0x5A6F, 0x5A81, 0x5BAF, 0x5BBA, 0x5BC5, 0x5BE7, 0x5C01, 0x5C4B,
    0x5C7D, 0x5CCB, 0x5D01, 0x5D4B, 0x5D81, 0x5DB7, 0x5DB9, 0x5DC7, 0x5E01, 0x5ED3, 0x5F5D,
    0x5F63, 0x5F71, 0x5F77, 0x5F82, 0x5FAB, 0x5FC2, 0x5FEB, 0x6042, 0x606B, 0x6081, 0x61E7,
    0x6201, 0x6217, 0x621D, 0x62A7, 0x62A9, 0x62AF, 0x62C1, 0x63DB, 0x6401, 0x647F, 0x651A,
    0x6541, 0x65BB, 0x65C1, 0x65D7, 0x6601, 0x66B3, 0x66C1, 0x672B, 0x6742, 0x676F, 0x6801,
    0x685F, 0x6881, 0x6957, 0x6A02, 0x6A2B, 0x6A42, 0x6A6B, 0x6A9D, 0x6AA3, 0x6C15, 0x6CD3,
    0x6D15, 0x6D37, 0x6D42, 0x6D6B, 0x6E0D, 0x6E87, 0x6EB9, 0x6EC2, 0x6EE9, 0x6F9B, 0x7001,
    0x7093, 0x7102, 0x712B, 0x7135, 0x7142, 0x7169, 0x71FB, 0x7201, 0x7227, 0x7241, 0x72EF,
    0x72F5, 0x7303, 0x73A5, 0x73B7, 0x73B9, 0x73D3, 0x73D5, 0x73DF, 0x73E9, 0x73EF, 0x7401,
    0x7703, 0x7801, 0x7C5B, 0x7C61, 0x7C7B, 0x7C81, 0x7D1B, 0x7D21, 0x7D3B, 0x7D41, 0x7D63,
    0x7D65, 0x7D6B, 0x7D6D, 0x7D73, 0x7D75, 0x7D7B, 0x7D7D, 0x7DFB, 0x7E01, 0x7ED7, 0x7ED9,
    0x7EF7, 0x7EF9, 0x7EFF, 0x7F09, 0x7F17, 0x7F19, 0x7F37, 0x7F41, 0x7F53, 0x7F59, 0x7F73,
    0x7F81, 0x7FB7, 0x7FC9, 0x7FD7, 0x7FD9, 0x7FF7, 0x8000, 0x802F, 0x80A0, 0x80AB, 0x80BC,
    0x80C3, 0x817C, 0x8183, 0x81C2, 0x81C5, 0x81CB, 0x81D2, 0x81EB, 0x81FD, 0x8202, 0x822B,
    0x8241, 0x8277, 0x8409, 0x840F, 0x841D, 0x8423, 0x8429, 0x8453, 0x8455, 0x845B, 0x8465,
    0x847B, 0x8491, 0x8497, 0x8499, 0x849F, 0x84A1, 0x84A7, 0x84A9, 0x84BB, 0x84BD, 0x84EB,
    0x84F1, 0x8503, 0x8515, 0x852B, 0x8539, 0x853F, 0x8542, 0x860D, 0x8616, 0x862B, 0x9182,
    0x9273, 0x93AA, 0x9403, 0x9DDA, 0x9E53, 0xB001, 0xB397, 0xB3AD, 0xB3BF, 0xB3C9, 0xB3D3,
    0xB3F6, 0xB3FB, 0xB401, 0xB49B, 0xB49D, 0xB4A3, 0xB4B5, 0xB4BB, 0xB4C1, 0xB5A3, 0xB5BD,
    0xB5C3, 0xB601, 0xB65F, 0xB681, 0xB69F, 0xB6A1, 0xB6BF, 0xB6C1, 0xB6DF, 0xB6E1, 0xB6FF,
    0xB701, 0xB71F, 0xB721, 0xB73F, 0xB741, 0xB75F, 0xB761, 0xB77F, 0xB8BD, 0xB8C3, 0xC000,
    0xC007, 0xC015, 0xC01E, 0xC023, 0xC086, 0xC0AB, 0xC0C5, 0xC0DB, 0xC0E2, 0xC0ED, 0xC0F7,
    0xC105, 0xC25F, 0xC275, 0xC283, 0xC285, 0xC3EF, 0xC3F1, 0xC403, 0xC415, 0xC4C3, 0xC4C5,
    0xC63F, 0xC64A, 0xC65B, 0xC681, 0xC703, 0xC7C1, 0xC803, 0xC882, 0xC8AB, 0xC922, 0xC943,
    0xC946, 0xC983, 0xCA02, 0xCA2B, 0xCAC6, 0xCB03, 0xD001, 0x13703, 0x13801, 0x29237, 0x29341,
    0x293FB, 0x29401, 0x29837, 0x29841, 0x29882, 0x298A9, 0x298B3, 0x29901, 0x299BF, 0x299FD,
    0x29A7B, 0x29A81, 0x29B9A, 0x29BC3, 0x29C5D, 0x29C83, 0x29C89, 0x29E27, 0x29E2D, 0x29F2F,
    0x29F41, 0x29F4B, 0x29F4D, 0x29F53, 0x29F55, 0x29F6B, 0x29FC9, 0x2A00B, 0x2A00D, 0x2A01B,
    0x2A01D, 0x2A02F, 0x2A031, 0x2A08F, 0x2A0C2, 0x2A0DB, 0x2A101, 0x2A1D3, 0x2A209, 0x2A2D3,
    0x2A342, 0x2A36B, 0x2A3C9, 0x2A3E3, 0x2A3ED, 0x2A3F3, 0x2A3F5, 0x2A3FF, 0x2A402, 0x2A429,
    0x2A49B, 0x2A4C1, 0x2A51F, 0x2A581, 0x2A5F7, 0x2A611, 0x2A6CF, 0x2A73D, 0x2A742, 0x2A76B,
    0x2A781, 0x2A797, 0x2A799, 0x2A7C2, 0x2A7E9, 0x2A7FF, 0x2A801, 0x2A8A7, 0x2A901, 0x2A90F,
    0x2A911, 0x2A933, 0x2A942, 0x2A96B, 0x2A981, 0x2A9DF, 0x2A9E9, 0x2A9EF, 0x2A9F9, 0x2AAC3,
    0x2AAC5, 0x2AACB, 0x2AAD5, 0x2AADF, 0x2AAE5, 0x2AAFB, 0x2AB01, 0x2AB07, 0x2AB09, 0x2AB0F,
    0x2AB6D, 0x2AB7B, 0x2AB81, 0x2ABAF, 0x2ABC9, 0x2ABD7, 0x2AC05, 0x2AC1F, 0x2AC25, 0x2AC3F,
    0x2AC45, 0x2AC5F, 0x2AC81, 0x2AC9F, 0x2ACA1, 0x2ACBF, 0x2ACC1, 0x2AD6F, 0x2AD71, 0x2ADAB,
    0x2ADC1, 0x2AF8F, 0x2AFC2, 0x2AFEB, 0x2B001, 0x35E93, 0x35EC1, 0x35F1F, 0x35F2D, 0x35FF3,
    0x3E401, 0x3E9BB, 0x3E9C1, 0x3EB6B, 0x3EC01, 0x3EC1F, 0x3EC4D, 0x3EC63, 0x3EC75, 0x3EC7B,
    0x3EC7D, 0x3ECA7, 0x3ECA9, 0x3ECDF, 0x3ECE1, 0x3ECF7, 0x3ECF9, 0x3ECFF, 0x3ED01, 0x3ED0B,
    0x3ED0D, 0x3ED17, 0x3ED19, 0x3EECB, 0x3EF4D, 0x3F4FB, 0x3F541, 0x3F643, 0x3F649, 0x3F723,
    0x3F7C1, 0x3F7F3, 0x3F9C1, 0x3F9D7, 0x3F9D9, 0x3FBF7, 0x3FC42, 0x3FC6B, 0x3FC85, 0x3FCEF,
    0x3FD05, 0x3FD6F, 0x3FD99, 0x3FEFF, 0x3FF09, 0x3FF23, 0x3FF29, 0x3FF43, 0x3FF49, 0x3FF63,
    0x3FF69, 0x3FF77, 0x40001, 0x40033, 0x40035, 0x4009F, 0x400A1, 0x400EF, 0x400F1, 0x400FB,
    0x400FD, 0x4013B, 0x40141, 0x4017B, 0x40201, 0x403EF, 0x4041E, 0x404D3, 0x40502, 0x405E7,
    0x4062A, 0x40633, 0x40A01, 0x40A77, 0x40A81, 0x40B47, 0x40B86, 0x40BF3, 0x40C01, 0x40C82,
    0x40C93, 0x40CB5, 0x40D06, 0x40D09, 0x40D2A, 0x40D2F, 0x40D41, 0x40DDB, 0x40E01, 0x40E7B,
    0x40E81, 0x40F13, 0x40F21, 0x40F43, 0x40F46, 0x40F5B, 0x41001, 0x4127B, 0x41282, 0x412AB,
    0x412C1, 0x41353, 0x41361, 0x413F3, 0x41401, 0x414A3, 0x414C1, 0x41593, 0x415C1, 0x415EF,
    0x415F1, 0x4162F, 0x41631, 0x4164F, 0x41651, 0x4165B, 0x4165D, 0x4168B, 0x4168D, 0x416CB,
    0x416CD, 0x416EB, 0x416ED, 0x416F7, 0x41801, 0x41CDF, 0x41D01, 0x41D5B, 0x41D81, 0x41DA3,
    0x41E01, 0x41E1B, 0x41E1D, 0x41EC7, 0x41EC9, 0x41EEF, 0x42001, 0x4201B, 0x42021, 0x42027,
    0x42029, 0x420DB, 0x420DD, 0x420E7, 0x420F1, 0x420F7, 0x420FD, 0x4215B, 0x42162, 0x42181,
    0x421DF, 0x421E6, 0x42201, 0x4227F, 0x4229E, 0x422C3, 0x42381, 0x423CF, 0x423D1, 0x423DB,
    0x423EE, 0x42401, 0x4245A, 0x42473, 0x42481, 0x424EB, 0x42601, 0x426E3, 0x426F2, 0x426F9,
    0x42702, 0x42743, 0x4274A, 0x42801, 0x42807, 0x42841, 0x42853, 0x42855, 0x42863, 0x42865,
    0x428DB, 0x42902, 0x42927, 0x42981, 0x429F6, 0x429FF, 0x42A01, 0x42A76, 0x42A83, 0x42B01,
    0x42B23, 0x42B25, 0x42B97, 0x42BAE, 0x42BC3, 0x42C01, 0x42CDB, 0x42D01, 0x42D5B, 0x42D62,
    0x42D81, 0x42DCF, 0x42DE2, 0x42E01, 0x42E4B, 0x42EA6, 0x42EC3, 0x43001, 0x43127, 0x43201,
    0x432CF, 0x43301, 0x433CF, 0x433EA, 0x43401, 0x43493, 0x434C2, 0x434EB, 0x43982, 0x439FF,
    0x43A01, 0x43AAB, 0x43AC1, 0x43ACB, 0x43C01, 0x43C76, 0x43C9D, 0x43CA3, 0x43CC1, 0x43D1B,
    0x43D46, 0x43D57, 0x43DC1, 0x43E0B, 0x43EC1, 0x43F16, 0x43F33, 0x43F81, 0x43FDF, 0x4400D,
    0x440E3, 0x4414A, 0x441C3, 0x441C5, 0x441CF, 0x441D5, 0x441DB, 0x4420D, 0x442C3, 0x44341,
    0x443A7, 0x443C2, 0x443EB, 0x4440D, 0x4449F, 0x444DA, 0x44503, 0x44511, 0x44517, 0x4451D,
    0x44523, 0x44541, 0x445CF, 0x445D9, 0x445DF, 0x4460D, 0x446CF, 0x44705, 0x44717, 0x44742,
    0x44769, 0x4476F, 0x44771, 0x44777, 0x44786, 0x447D7, 0x44801, 0x4484B, 0x4484D, 0x448B3,
    0x448FD, 0x44907, 0x44A01, 0x44A1F, 0x44A21, 0x44A27, 0x44A29, 0x44A3B, 0x44A3D, 0x44A7B,
    0x44A7D, 0x44AA7, 0x44AC1, 0x44B7F, 0x44BC2, 0x44BEB, 0x44C15, 0x44C37, 0x44C3D, 0x44C47,
    0x44C4D, 0x44CA7, 0x44CA9, 0x44CC7, 0x44CC9, 0x44CD3, 0x44CD5, 0x44CEB, 0x44CF5, 0x44CFB,
    0x44D41, 0x44D47, 0x44D75, 0x44D8B, 0x45001, 0x450D7, 0x4511D, 0x4512F, 0x45142, 0x4516B,
    0x4517D, 0x4518B, 0x45201, 0x452C3, 0x45311, 0x4531B, 0x4531D, 0x45323, 0x45342, 0x4536B,
    0x45601, 0x456BF, 0x45761, 0x45773, 0x45801, 0x458C3, 0x45911, 0x45917, 0x45942, 0x4596B,
    0x45A01, 0x45AAF, 0x45AE1, 0x45AE7, 0x45B02, 0x45B2B, 0x45C01, 0x45C6F, 0x45CC2, 0x45CF3,
    0x45D01, 0x45D1F, 0x46001, 0x460B3, 0x46281, 0x46382, 0x463CF, 0x463FD, 0x4641F, 0x46425,
    0x4642B, 0x46431, 0x46453, 0x46455, 0x4645F, 0x46461, 0x464C3, 0x464FD, 0x46503, 0x46505,
    0x4650B, 0x46542, 0x4656B, 0x46681, 0x466A3, 0x466A9, 0x46747, 0x46785, 0x4678B, 0x4678D,
    0x46793, 0x46801, 0x46807, 0x4682D, 0x468CF, 0x468E9, 0x468EF, 0x46941, 0x46947, 0x46971,
    0x46A2B, 0x46A75, 0x46A7B, 0x46AC1, 0x46BE7, 0x47001, 0x47027, 0x47029, 0x470BF, 0x47101,
    0x47107, 0x47142, 0x471B7, 0x471C9, 0x47243, 0x47401, 0x4741F, 0x47421, 0x4742B, 0x4742D,
    0x474C7, 0x47519, 0x4751F, 0x47542, 0x4756B, 0x47581, 0x4759B, 0x4759D, 0x475A7, 0x475A9,
    0x4762B, 0x47661, 0x47667, 0x47682, 0x476AB, 0x47B81, 0x47BCF, 0x47C09, 0x47C0F, 0x47C11,
    0x47C47, 0x47C49, 0x47CD3, 0x47D42, 0x47D6B, 0x47EC1, 0x47EC7, 0x47F02, 0x47F57, 0x48001,
    0x48E6B, 0x49002, 0x491BF, 0x49201, 0x49513, 0x4BE41, 0x4BFC7, 0x4C001, 0x4D0C3, 0x4D105,
    0x4D11F, 0x51001, 0x5191F, 0x5A001, 0x5A8E7, 0x5A901, 0x5A97F, 0x5A982, 0x5A9AB, 0x5A9C1,
    0x5AAFF, 0x5AB02, 0x5AB2B, 0x5AB41, 0x5ABBB, 0x5AC01, 0x5ACC3, 0x5AD01, 0x5AD13, 0x5AD42,
    0x5AD6B, 0x5AD6E, 0x5AD8B, 0x5AD8D, 0x5ADE3, 0x5ADF5, 0x5AE43, 0x5B901, 0x5BA02, 0x5BA5F,
    0x5BC01, 0x5BD2F, 0x5BD41, 0x5BD47, 0x5BE4D, 0x5BE83, 0x5BF81, 0x5BF8B, 0x5BF8D, 0x5BF93,
    0x5C001, 0x61FE3, 0x62001, 0x6335B, 0x63401, 0x63427, 0x6BFC1, 0x6BFD3, 0x6BFD5, 0x6BFF3,
    0x6BFF5, 0x6BFFF, 0x6C001, 0x6C48F, 0x6C4C9, 0x6C4CF, 0x6C541, 0x6C54F, 0x6C555, 0x6C55B,
    0x6C591, 0x6C5A3, 0x6C5C1, 0x6CBF3, 0x6F001, 0x6F1AF, 0x6F1C1, 0x6F1F7, 0x6F201, 0x6F227,
    0x6F241, 0x6F26B, 0x74B02, 0x74B53, 0x74B82, 0x74BD3, 0x74D82, 0x74DE7, 0x75001, 0x75157,
    0x75159, 0x75277, 0x75279, 0x75283, 0x75289, 0x7528F, 0x75295, 0x7529F, 0x752A5, 0x752B7,
    0x752B9, 0x752EB, 0x752ED, 0x752F3, 0x752F5, 0x75313, 0x75315, 0x7541B, 0x7541D, 0x7542F,
    0x75435, 0x75457, 0x75459, 0x75477, 0x75479, 0x754EB, 0x754ED, 0x754FF, 0x75501, 0x75517,
    0x75519, 0x7551F, 0x75529, 0x75547, 0x75549, 0x75A9B, 0x75AA1, 0x75B07, 0x75B09, 0x75B6F,
    0x75B71, 0x75BEF, 0x75BF1, 0x75C57, 0x75C59, 0x75CD7, 0x75CD9, 0x75D3F, 0x75D41, 0x75DBF,
    0x75DC1, 0x75E27, 0x75E29, 0x75EA7, 0x75EA9, 0x75F0F, 0x75F11, 0x75F33, 0x75F3A, 0x76003,
    0x77C01, 0x77C7F, 0x77C95, 0x77CAF, 0x780C1, 0x781BB, 0x78401, 0x784B7, 0x784DD, 0x784FB,
    0x78502, 0x7852B, 0x78539, 0x7853F, 0x78A41, 0x78ABB, 0x78B01, 0x78BB3, 0x78BC2, 0x78BEB,
    0x79341, 0x793B3, 0x793C2, 0x793EB, 0x79F81, 0x79F9F, 0x79FA1, 0x79FB3, 0x79FB5, 0x79FBF,
    0x79FC1, 0x79FFF, 0x7A001, 0x7A317, 0x7A31E, 0x7A343, 0x7A401, 0x7A513, 0x7A52D, 0x7A533,
    0x7A542, 0x7A56B, 0x7B1C6, 0x7B2B3, 0x7B2B6, 0x7B2C3, 0x7B2C6, 0x7B2D7, 0x7B406, 0x7B4BB,
    0x7B4BE, 0x7B4FB, 0x7B801, 0x7B813, 0x7B815, 0x7B883, 0x7B885, 0x7B88F, 0x7B891, 0x7B897,
    0x7B89D, 0x7B8A3, 0x7B8A5, 0x7B8CF, 0x7B8D1, 0x7B8E3, 0x7B8E5, 0x7B8EB, 0x7B8ED, 0x7B8F3,
    0x7B909, 0x7B90F, 0x7B91D, 0x7B923, 0x7B925, 0x7B92B, 0x7B92D, 0x7B933, 0x7B935, 0x7B943,
    0x7B945, 0x7B94F, 0x7B951, 0x7B957, 0x7B95D, 0x7B963, 0x7B965, 0x7B96B, 0x7B96D, 0x7B973,
    0x7B975, 0x7B97B, 0x7B97D, 0x7B983, 0x7B985, 0x7B98F, 0x7B991, 0x7B997, 0x7B99D, 0x7B9AF,
    0x7B9B1, 0x7B9CF, 0x7B9D1, 0x7B9E3, 0x7B9E5, 0x7B9F7, 0x7B9F9, 0x7B9FF, 0x7BA01, 0x7BA2B,
    0x7BA2D, 0x7BA73, 0x7BA85, 0x7BA93, 0x7BA95, 0x7BAAB, 0x7BAAD, 0x7BAF3, 0x7C402, 0x7C437,
    0x7EFC2, 0x7EFEB, 0x80001, 0xA9B83, 0xA9C01, 0xADCEB, 0xADD01, 0xAE07B, 0xAE081, 0xB3A8B,
    0xB3AC1, 0xBAF87, 0xBE001, 0xBE87B, 0xC0001, 0xC4D2F, 0xC4D41, 0xC8EC3
};
/* >>unicode-table end */
#endif

/* The class of code point cp (ASCII without the table). */
static int mod__uni_class(uint32_t cp) {
#ifdef MOD_NO_UNICODE_TABLES
    /* only the ASCII pattern runs in such a build (the loader refuses the others) */
    return cp < 0x80 ? mod__tok_class(MOD__CAST(int, cp)) : MOD__TOK_OTHER;
#else
    int lo = 0, hi = MOD__UNI_RUNS - 1;
    if (cp < 0x80) return mod__tok_class(MOD__CAST(int, cp));
    while (lo < hi) { /* the last run starting at or before cp; run 0 starts at 0 */
        int mid = lo + (hi - lo + 1) / 2;
        if ((mod__uni_runs[mid] >> 2) <= cp) lo = mid; else hi = mid - 1;
    }
    return MOD__CAST(int, mod__uni_runs[lo] & 3u);
#endif
}

/* The character at byte i < n of the text (n counts the prefix): its code point and its
   end. A byte that does not start a well-formed UTF-8 sequence (a stray continuation byte,
   a truncated, overlong or surrogate sequence, a value past U+10FFFF, 0xF8-0xFF) is a
   character of its own with code point -1, of class other. */
static int32_t mod__tok_char(const char *s, size_t pre, size_t n, size_t i, size_t *end) {
    int c = mod__tok_byte(s, pre, i), len, k;
    uint32_t cp, lo = 0x80, hi = 0xBF;
    *end = i + 1;
    if (c < 0x80) return c;
    if (c < 0xC2 || c > 0xF4) return -1;
    len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    cp = MOD__CAST(uint32_t, c) & (len == 2 ? 0x1Fu : len == 3 ? 0x0Fu : 0x07u);
    /* the second byte's range excludes overlongs, surrogates and values past U+10FFFF */
    if (c == 0xE0) lo = 0xA0;
    else if (c == 0xED) hi = 0x9F;
    else if (c == 0xF0) lo = 0x90;
    else if (c == 0xF4) hi = 0x8F;
    if (n - i < MOD__CAST(size_t, len)) return -1;
    for (k = 1; k < len; k++) {
        int b = mod__tok_byte(s, pre, i + MOD__CAST(size_t, k));
        if (MOD__CAST(uint32_t, b) < (k == 1 ? lo : 0x80u) || MOD__CAST(uint32_t, b) > (k == 1 ? hi : 0xBFu)) return -1;
        cp = cp << 6 | (MOD__CAST(uint32_t, b) & 0x3Fu);
    }
    *end = i + MOD__CAST(size_t, len);
    return MOD__CAST(int32_t, cp);
}

static int mod__tok_cp_class(int32_t cp) { return cp < 0 ? MOD__TOK_OTHER : mod__uni_class(MOD__CAST(uint32_t, cp)); }

/* NFC, Unicode's canonical composition (UAX #15), for a byte-level tokenizer with flag bit 2
   (tokenizer.json's NFC normalizer): the full canonical decomposition of every character
   (Hangul syllables by the algorithm, the rest from the tables below), marks (combining class
   other than 0) put in canonical order, a stable sort by class, then each mark or starter that
   is not blocked composed with the last starter into its primary composite. A byte that does
   not start a well-formed UTF-8 character stays as it is, a starter that composes with
   nothing. Nothing is buffered: the marks after a starter are visited once per combining
   class they use, in order, so any run of marks works in constant memory. */
#ifndef MOD_NO_UNICODE_TABLES
/* >>nfc-table begin */
/* Unicode 15.0.0: 581 combining class runs, 2061 decompositions, 941 compositions; 20694 bytes
   (generated by tools/unicode/gen.sh; do not edit) */
#define MOD__NFC_CCC_RUNS 581
#define MOD__NFC_DECOMPS 2061
#define MOD__NFC_COMPS 941
#define MOD__NFC_MAX_DECOMP 4 /* the longest full decomposition, in code points */
#define MOD__NFC_MIN_SECOND 0x300 /* the lowest code point that composes with a preceding one */
static const uint32_t mod__nfc_ccc[MOD__NFC_CCC_RUNS] = {
    0x0, 0x300E6, 0x315E8, 0x316DC, 0x31AE8, 0x31BD8, 0x31CDC, 0x321CA, 0x323DC, 0x327CA,
    0x329DC, 0x33401, 0x339DC, 0x33DE6, 0x345F0, 0x346E6, 0x347DC, 0x34AE6, 0x34DDC, 0x34F00,
    0x350E6, 0x353DC, 0x357E6, 0x358E8, 0x359DC, 0x35BE6, 0x35CE9, 0x35DEA, 0x35FE9, 0x360EA,
    0x362E9, 0x363E6, 0x37000, 0x483E6, 0x48800, 0x591DC, 0x592E6, 0x596DC, 0x597E6, 0x59ADE,
    0x59BDC, 0x59CE6, 0x5A2DC, 0x5A8E6, 0x5AADC, 0x5ABE6, 0x5ADDE, 0x5AEE4, 0x5AFE6, 0x5B00A,
    0x5B10B, 0x5B20C, 0x5B30D, 0x5B40E, 0x5B50F, 0x5B610, 0x5B711, 0x5B812, 0x5B913, 0x5BB14,
    0x5BC15, 0x5BD16, 0x5BE00, 0x5BF17, 0x5C000, 0x5C118, 0x5C219, 0x5C300, 0x5C4E6, 0x5C5DC,
    0x5C600, 0x5C712, 0x5C800, 0x610E6, 0x6181E, 0x6191F, 0x61A20, 0x61B00, 0x64B1B, 0x64C1C,
    0x64D1D, 0x64E1E, 0x64F1F, 0x65020, 0x65121, 0x65222, 0x653E6, 0x655DC, 0x657E6, 0x65CDC,
    0x65DE6, 0x65FDC, 0x66000, 0x67023, 0x67100, 0x6D6E6, 0x6DD00, 0x6DFE6, 0x6E3DC, 0x6E4E6,
    0x6E500, 0x6E7E6, 0x6E900, 0x6EADC, 0x6EBE6, 0x6EDDC, 0x6EE00, 0x71124, 0x71200, 0x730E6,
    0x731DC, 0x732E6, 0x734DC, 0x735E6, 0x737DC, 0x73AE6, 0x73BDC, 0x73DE6, 0x73EDC, 0x73FE6,
    0x742DC, 0x743E6, 0x744DC, 0x745E6, 0x746DC, 0x747E6, 0x748DC, 0x749E6, 0x74B00, 0x7EBE6,
    0x7F2DC, 0x7F3E6, 0x7F400, 0x7FDDC, 0x7FE00, 0x816E6, 0x81A00, 0x81BE6, 0x82400, 0x825E6,
    0x82800, 0x829E6, 0x82E00, 0x859DC, 0x85C00, 0x898E6, 0x899DC, 0x89CE6, 0x8A000, 0x8CAE6,
    0x8CFDC, 0x8D4E6, 0x8E200, 0x8E3DC, 0x8E4E6, 0x8E6DC, 0x8E7E6, 0x8E9DC, 0x8EAE6, 0x8EDDC,
    0x8F01B, 0x8F11C, 0x8F21D, 0x8F3E6, 0x8F6DC, 0x8F7E6, 0x8F9DC, 0x8FBE6, 0x90000, 0x93C07,
    0x93D00, 0x94D09, 0x94E00, 0x951E6, 0x952DC, 0x953E6, 0x95500, 0x9BC07, 0x9BD00, 0x9CD09,
    0x9CE00, 0x9FEE6, 0x9FF00, 0xA3C07, 0xA3D00, 0xA4D09, 0xA4E00, 0xABC07, 0xABD00, 0xACD09,
    0xACE00, 0xB3C07, 0xB3D00, 0xB4D09, 0xB4E00, 0xBCD09, 0xBCE00, 0xC3C07, 0xC3D00, 0xC4D09,
    0xC4E00, 0xC5554, 0xC565B, 0xC5700, 0xCBC07, 0xCBD00, 0xCCD09, 0xCCE00, 0xD3B09, 0xD3D00,
    0xD4D09, 0xD4E00, 0xDCA09, 0xDCB00, 0xE3867, 0xE3A09, 0xE3B00, 0xE486B, 0xE4C00, 0xEB876,
    0xEBA09, 0xEBB00, 0xEC87A, 0xECC00, 0xF18DC, 0xF1A00, 0xF35DC, 0xF3600, 0xF37DC, 0xF3800,
    0xF39D8, 0xF3A00, 0xF7181, 0xF7282, 0xF7300, 0xF7484, 0xF7500, 0xF7A82, 0xF7E00, 0xF8082,
    0xF8100, 0xF82E6, 0xF8409, 0xF8500, 0xF86E6, 0xF8800, 0xFC6DC, 0xFC700, 0x103707, 0x103800,
    0x103909, 0x103B00, 0x108DDC, 0x108E00, 0x135DE6, 0x136000, 0x171409, 0x171600, 0x173409,
    0x173500, 0x17D209, 0x17D300, 0x17DDE6, 0x17DE00, 0x18A9E4, 0x18AA00, 0x1939DE, 0x193AE6,
    0x193BDC, 0x193C00, 0x1A17E6, 0x1A18DC, 0x1A1900, 0x1A6009, 0x1A6100, 0x1A75E6, 0x1A7D00,
    0x1A7FDC, 0x1A8000, 0x1AB0E6, 0x1AB5DC, 0x1ABBE6, 0x1ABDDC, 0x1ABE00, 0x1ABFDC, 0x1AC1E6,
    0x1AC3DC, 0x1AC5E6, 0x1ACADC, 0x1ACBE6, 0x1ACF00, 0x1B3407, 0x1B3500, 0x1B4409, 0x1B4500,
    0x1B6BE6, 0x1B6CDC, 0x1B6DE6, 0x1B7400, 0x1BAA09, 0x1BAC00, 0x1BE607, 0x1BE700, 0x1BF209,
    0x1BF400, 0x1C3707, 0x1C3800, 0x1CD0E6, 0x1CD300, 0x1CD401, 0x1CD5DC, 0x1CDAE6, 0x1CDCDC,
    0x1CE0E6, 0x1CE100, 0x1CE201, 0x1CE900, 0x1CEDDC, 0x1CEE00, 0x1CF4E6, 0x1CF500, 0x1CF8E6,
    0x1CFA00, 0x1DC0E6, 0x1DC2DC, 0x1DC3E6, 0x1DCADC, 0x1DCBE6, 0x1DCDEA, 0x1DCED6, 0x1DCFDC,
    0x1DD0CA, 0x1DD1E6, 0x1DF6E8, 0x1DF7E4, 0x1DF9DC, 0x1DFADA, 0x1DFBE6, 0x1DFCE9, 0x1DFDDC,
    0x1DFEE6, 0x1DFFDC, 0x1E0000, 0x20D0E6, 0x20D201, 0x20D4E6, 0x20D801, 0x20DBE6, 0x20DD00,
    0x20E1E6, 0x20E200, 0x20E501, 0x20E7E6, 0x20E8DC, 0x20E9E6, 0x20EA01, 0x20ECDC, 0x20F0E6,
    0x20F100, 0x2CEFE6, 0x2CF200, 0x2D7F09, 0x2D8000, 0x2DE0E6, 0x2E0000, 0x302ADA, 0x302BE4,
    0x302CE8, 0x302DDE, 0x302EE0, 0x303000, 0x309908, 0x309B00, 0xA66FE6, 0xA67000, 0xA674E6,
    0xA67E00, 0xA69EE6, 0xA6A000, 0xA6F0E6, 0xA6F200, 0xA80609, 0xA80700, 0xA82C09, 0xA82D00,
    0xA8C409, 0xA8C500, 0xA8E0E6, 0xA8F200, 0xA92BDC, 0xA92E00, 0xA95309, 0xA95400, 0xA9B307,
    0xA9B400, 0xA9C009, 0xA9C100, 0xAAB0E6, 0xAAB100, 0xAAB2E6, 0xAAB4DC, 0xAAB500, 0xAAB7E6,
    0xAAB900, 0xAABEE6, 0xAAC000, 0xAAC1E6, 0xAAC200, 0xAAF609, 0xAAF700, 0xABED09, 0xABEE00,
    0xFB1E1A, 0xFB1F00, 0xFE20E6, 0xFE27DC, 0xFE2EE6, 0xFE3000, 0x101FDDC, 0x101FE00,
    0x102E0DC, 0x102E100, 0x10376E6, 0x1037B00, 0x10A0DDC, 0x10A0E00, 0x10A0FE6, 0x10A1000,
    0x10A38E6, 0x10A3901, 0x10A3ADC, 0x10A3B00, 0x10A3F09, 0x10A4000, 0x10AE5E6, 0x10AE6DC,
    0x10AE700, 0x10D24E6, 0x10D2800, 0x10EABE6, 0x10EAD00, 0x10EFDDC, 0x10F0000, 0x10F46DC,
    0x10F48E6, 0x10F4BDC, 0x10F4CE6, 0x10F4DDC, 0x10F5100, 0x10F82E6, 0x10F83DC, 0x10F84E6,
    0x10F85DC, 0x10F8600, 0x1104609, 0x1104700, 0x1107009, 0x1107100, 0x1107F09, 0x1108000,
    0x110B909, 0x110BA07, 0x110BB00, 0x11100E6, 0x1110300, 0x1113309, 0x1113500, 0x1117307,
    0x1117400, 0x111C009, 0x111C100, 0x111CA07, 0x111CB00, 0x1123509, 0x1123607, 0x1123700,
    0x112E907, 0x112EA09, 0x112EB00, 0x1133B07, 0x1133D00, 0x1134D09, 0x1134E00, 0x11366E6,
    0x1136D00, 0x11370E6, 0x1137500, 0x1144209, 0x1144300, 0x1144607, 0x1144700, 0x1145EE6,
    0x1145F00, 0x114C209, 0x114C307, 0x114C400, 0x115BF09, 0x115C007, 0x115C100, 0x1163F09,
    0x1164000, 0x116B609, 0x116B707, 0x116B800, 0x1172B09, 0x1172C00, 0x1183909, 0x1183A07,
    0x1183B00, 0x1193D09, 0x1193F00, 0x1194307, 0x1194400, 0x119E009, 0x119E100, 0x11A3409,
    0x11A3500, 0x11A4709, 0x11A4800, 0x11A9909, 0x11A9A00, 0x11C3F09, 0x11C4000, 0x11D4207,
    0x11D4300, 0x11D4409, 0x11D4600, 0x11D9709, 0x11D9800, 0x11F4109, 0x11F4300, 0x16AF001,
    0x16AF500, 0x16B30E6, 0x16B3700, 0x16FF006, 0x16FF200, 0x1BC9E01, 0x1BC9F00, 0x1D165D8,
    0x1D16701, 0x1D16A00, 0x1D16DE2, 0x1D16ED8, 0x1D17300, 0x1D17BDC, 0x1D18300, 0x1D185E6,
    0x1D18ADC, 0x1D18C00, 0x1D1AAE6, 0x1D1AE00, 0x1D242E6, 0x1D24500, 0x1E000E6, 0x1E00700,
    0x1E008E6, 0x1E01900, 0x1E01BE6, 0x1E02200, 0x1E023E6, 0x1E02500, 0x1E026E6, 0x1E02B00,
    0x1E08FE6, 0x1E09000, 0x1E130E6, 0x1E13700, 0x1E2AEE6, 0x1E2AF00, 0x1E2ECE6, 0x1E2F000,
    0x1E4ECE8, 0x1E4EEDC, 0x1E4EFE6, 0x1E4F000, 0x1E8D0DC, 0x1E8D700, 0x1E944E6, 0x1E94A07,
    0x1E94B00
};
/* cp | first << 21 (low 11 bits), first >> 11 | second << 10 | composes << 31 */
static const uint32_t mod__nfc_decomp[MOD__NFC_DECOMPS][2] = {
    {0x82000C0, 0x800C0000}, {0x82000C1, 0x800C0400}, {0x82000C2, 0x800C0800},
    {0x82000C3, 0x800C0C00}, {0x82000C4, 0x800C2000}, {0x82000C5, 0x800C2800},
    {0x86000C7, 0x800C9C00}, {0x8A000C8, 0x800C0000}, {0x8A000C9, 0x800C0400},
    {0x8A000CA, 0x800C0800}, {0x8A000CB, 0x800C2000}, {0x92000CC, 0x800C0000},
    {0x92000CD, 0x800C0400}, {0x92000CE, 0x800C0800}, {0x92000CF, 0x800C2000},
    {0x9C000D1, 0x800C0C00}, {0x9E000D2, 0x800C0000}, {0x9E000D3, 0x800C0400},
    {0x9E000D4, 0x800C0800}, {0x9E000D5, 0x800C0C00}, {0x9E000D6, 0x800C2000},
    {0xAA000D9, 0x800C0000}, {0xAA000DA, 0x800C0400}, {0xAA000DB, 0x800C0800},
    {0xAA000DC, 0x800C2000}, {0xB2000DD, 0x800C0400}, {0xC2000E0, 0x800C0000},
    {0xC2000E1, 0x800C0400}, {0xC2000E2, 0x800C0800}, {0xC2000E3, 0x800C0C00},
    {0xC2000E4, 0x800C2000}, {0xC2000E5, 0x800C2800}, {0xC6000E7, 0x800C9C00},
    {0xCA000E8, 0x800C0000}, {0xCA000E9, 0x800C0400}, {0xCA000EA, 0x800C0800},
    {0xCA000EB, 0x800C2000}, {0xD2000EC, 0x800C0000}, {0xD2000ED, 0x800C0400},
    {0xD2000EE, 0x800C0800}, {0xD2000EF, 0x800C2000}, {0xDC000F1, 0x800C0C00},
    {0xDE000F2, 0x800C0000}, {0xDE000F3, 0x800C0400}, {0xDE000F4, 0x800C0800},
    {0xDE000F5, 0x800C0C00}, {0xDE000F6, 0x800C2000}, {0xEA000F9, 0x800C0000},
    {0xEA000FA, 0x800C0400}, {0xEA000FB, 0x800C0800}, {0xEA000FC, 0x800C2000},
    {0xF2000FD, 0x800C0400}, {0xF2000FF, 0x800C2000}, {0x8200100, 0x800C1000},
    {0xC200101, 0x800C1000}, {0x8200102, 0x800C1800}, {0xC200103, 0x800C1800},
    {0x8200104, 0x800CA000}, {0xC200105, 0x800CA000}, {0x8600106, 0x800C0400},
    {0xC600107, 0x800C0400}, {0x8600108, 0x800C0800}, {0xC600109, 0x800C0800},
    {0x860010A, 0x800C1C00}, {0xC60010B, 0x800C1C00}, {0x860010C, 0x800C3000},
    {0xC60010D, 0x800C3000}, {0x880010E, 0x800C3000}, {0xC80010F, 0x800C3000},
    {0x8A00112, 0x800C1000}, {0xCA00113, 0x800C1000}, {0x8A00114, 0x800C1800},
    {0xCA00115, 0x800C1800}, {0x8A00116, 0x800C1C00}, {0xCA00117, 0x800C1C00},
    {0x8A00118, 0x800CA000}, {0xCA00119, 0x800CA000}, {0x8A0011A, 0x800C3000},
    {0xCA0011B, 0x800C3000}, {0x8E0011C, 0x800C0800}, {0xCE0011D, 0x800C0800},
    {0x8E0011E, 0x800C1800}, {0xCE0011F, 0x800C1800}, {0x8E00120, 0x800C1C00},
    {0xCE00121, 0x800C1C00}, {0x8E00122, 0x800C9C00}, {0xCE00123, 0x800C9C00},
    {0x9000124, 0x800C0800}, {0xD000125, 0x800C0800}, {0x9200128, 0x800C0C00},
    {0xD200129, 0x800C0C00}, {0x920012A, 0x800C1000}, {0xD20012B, 0x800C1000},
    {0x920012C, 0x800C1800}, {0xD20012D, 0x800C1800}, {0x920012E, 0x800CA000},
    {0xD20012F, 0x800CA000}, {0x9200130, 0x800C1C00}, {0x9400134, 0x800C0800},
    {0xD400135, 0x800C0800}, {0x9600136, 0x800C9C00}, {0xD600137, 0x800C9C00},
    {0x9800139, 0x800C0400}, {0xD80013A, 0x800C0400}, {0x980013B, 0x800C9C00},
    {0xD80013C, 0x800C9C00}, {0x980013D, 0x800C3000}, {0xD80013E, 0x800C3000},
    {0x9C00143, 0x800C0400}, {0xDC00144, 0x800C0400}, {0x9C00145, 0x800C9C00},
    {0xDC00146, 0x800C9C00}, {0x9C00147, 0x800C3000}, {0xDC00148, 0x800C3000},
    {0x9E0014C, 0x800C1000}, {0xDE0014D, 0x800C1000}, {0x9E0014E, 0x800C1800},
    {0xDE0014F, 0x800C1800}, {0x9E00150, 0x800C2C00}, {0xDE00151, 0x800C2C00},
    {0xA400154, 0x800C0400}, {0xE400155, 0x800C0400}, {0xA400156, 0x800C9C00},
    {0xE400157, 0x800C9C00}, {0xA400158, 0x800C3000}, {0xE400159, 0x800C3000},
    {0xA60015A, 0x800C0400}, {0xE60015B, 0x800C0400}, {0xA60015C, 0x800C0800},
    {0xE60015D, 0x800C0800}, {0xA60015E, 0x800C9C00}, {0xE60015F, 0x800C9C00},
    {0xA600160, 0x800C3000}, {0xE600161, 0x800C3000}, {0xA800162, 0x800C9C00},
    {0xE800163, 0x800C9C00}, {0xA800164, 0x800C3000}, {0xE800165, 0x800C3000},
    {0xAA00168, 0x800C0C00}, {0xEA00169, 0x800C0C00}, {0xAA0016A, 0x800C1000},
    {0xEA0016B, 0x800C1000}, {0xAA0016C, 0x800C1800}, {0xEA0016D, 0x800C1800},
    {0xAA0016E, 0x800C2800}, {0xEA0016F, 0x800C2800}, {0xAA00170, 0x800C2C00},
    {0xEA00171, 0x800C2C00}, {0xAA00172, 0x800CA000}, {0xEA00173, 0x800CA000},
    {0xAE00174, 0x800C0800}, {0xEE00175, 0x800C0800}, {0xB200176, 0x800C0800},
    {0xF200177, 0x800C0800}, {0xB200178, 0x800C2000}, {0xB400179, 0x800C0400},
    {0xF40017A, 0x800C0400}, {0xB40017B, 0x800C1C00}, {0xF40017C, 0x800C1C00},
    {0xB40017D, 0x800C3000}, {0xF40017E, 0x800C3000}, {0x9E001A0, 0x800C6C00},
    {0xDE001A1, 0x800C6C00}, {0xAA001AF, 0x800C6C00}, {0xEA001B0, 0x800C6C00},
    {0x82001CD, 0x800C3000}, {0xC2001CE, 0x800C3000}, {0x92001CF, 0x800C3000},
    {0xD2001D0, 0x800C3000}, {0x9E001D1, 0x800C3000}, {0xDE001D2, 0x800C3000},
    {0xAA001D3, 0x800C3000}, {0xEA001D4, 0x800C3000}, {0x1B8001D5, 0x800C1000},
    {0x1F8001D6, 0x800C1000}, {0x1B8001D7, 0x800C0400}, {0x1F8001D8, 0x800C0400},
    {0x1B8001D9, 0x800C3000}, {0x1F8001DA, 0x800C3000}, {0x1B8001DB, 0x800C0000},
    {0x1F8001DC, 0x800C0000}, {0x188001DE, 0x800C1000}, {0x1C8001DF, 0x800C1000},
    {0x44C001E0, 0x800C1000}, {0x44E001E1, 0x800C1000}, {0x18C001E2, 0x800C1000},
    {0x1CC001E3, 0x800C1000}, {0x8E001E6, 0x800C3000}, {0xCE001E7, 0x800C3000},
    {0x96001E8, 0x800C3000}, {0xD6001E9, 0x800C3000}, {0x9E001EA, 0x800CA000},
    {0xDE001EB, 0x800CA000}, {0x3D4001EC, 0x800C1000}, {0x3D6001ED, 0x800C1000},
    {0x36E001EE, 0x800C3000}, {0x524001EF, 0x800C3000}, {0xD4001F0, 0x800C3000},
    {0x8E001F4, 0x800C0400}, {0xCE001F5, 0x800C0400}, {0x9C001F8, 0x800C0000},
    {0xDC001F9, 0x800C0000}, {0x18A001FA, 0x800C0400}, {0x1CA001FB, 0x800C0400},
    {0x18C001FC, 0x800C0400}, {0x1CC001FD, 0x800C0400}, {0x1B0001FE, 0x800C0400},
    {0x1F0001FF, 0x800C0400}, {0x8200200, 0x800C3C00}, {0xC200201, 0x800C3C00},
    {0x8200202, 0x800C4400}, {0xC200203, 0x800C4400}, {0x8A00204, 0x800C3C00},
    {0xCA00205, 0x800C3C00}, {0x8A00206, 0x800C4400}, {0xCA00207, 0x800C4400},
    {0x9200208, 0x800C3C00}, {0xD200209, 0x800C3C00}, {0x920020A, 0x800C4400},
    {0xD20020B, 0x800C4400}, {0x9E0020C, 0x800C3C00}, {0xDE0020D, 0x800C3C00},
    {0x9E0020E, 0x800C4400}, {0xDE0020F, 0x800C4400}, {0xA400210, 0x800C3C00},
    {0xE400211, 0x800C3C00}, {0xA400212, 0x800C4400}, {0xE400213, 0x800C4400},
    {0xAA00214, 0x800C3C00}, {0xEA00215, 0x800C3C00}, {0xAA00216, 0x800C4400},
    {0xEA00217, 0x800C4400}, {0xA600218, 0x800C9800}, {0xE600219, 0x800C9800},
    {0xA80021A, 0x800C9800}, {0xE80021B, 0x800C9800}, {0x900021E, 0x800C3000},
    {0xD00021F, 0x800C3000}, {0x8200226, 0x800C1C00}, {0xC200227, 0x800C1C00},
    {0x8A00228, 0x800C9C00}, {0xCA00229, 0x800C9C00}, {0x1AC0022A, 0x800C1000},
    {0x1EC0022B, 0x800C1000}, {0x1AA0022C, 0x800C1000}, {0x1EA0022D, 0x800C1000},
    {0x9E0022E, 0x800C1C00}, {0xDE0022F, 0x800C1C00}, {0x45C00230, 0x800C1000},
    {0x45E00231, 0x800C1000}, {0xB200232, 0x800C1000}, {0xF200233, 0x800C1000},
    {0x60000340, 0x0}, {0x60200341, 0x0}, {0x62600343, 0x0}, {0x61000344, 0xC0400},
    {0x57200374, 0x0}, {0x760037E, 0x0}, {0x15000385, 0x800C0400}, {0x72200386, 0x800C0400},
    {0x16E00387, 0x0}, {0x72A00388, 0x800C0400}, {0x72E00389, 0x800C0400},
    {0x7320038A, 0x800C0400}, {0x73E0038C, 0x800C0400}, {0x74A0038E, 0x800C0400},
    {0x7520038F, 0x800C0400}, {0x79400390, 0x800C0400}, {0x732003AA, 0x800C2000},
    {0x74A003AB, 0x800C2000}, {0x762003AC, 0x800C0400}, {0x76A003AD, 0x800C0400},
    {0x76E003AE, 0x800C0400}, {0x772003AF, 0x800C0400}, {0x796003B0, 0x800C0400},
    {0x772003CA, 0x800C2000}, {0x78A003CB, 0x800C2000}, {0x77E003CC, 0x800C0400},
    {0x78A003CD, 0x800C0400}, {0x792003CE, 0x800C0400}, {0x7A4003D3, 0x800C0400},
    {0x7A4003D4, 0x800C2000}, {0x82A00400, 0x800C0000}, {0x82A00401, 0x800C2000},
    {0x82600403, 0x800C0400}, {0x80C00407, 0x800C2000}, {0x8340040C, 0x800C0400},
    {0x8300040D, 0x800C0000}, {0x8460040E, 0x800C1800}, {0x83000419, 0x800C1800},
    {0x87000439, 0x800C1800}, {0x86A00450, 0x800C0000}, {0x86A00451, 0x800C2000},
    {0x86600453, 0x800C0400}, {0x8AC00457, 0x800C2000}, {0x8740045C, 0x800C0400},
    {0x8700045D, 0x800C0000}, {0x8860045E, 0x800C1800}, {0x8E800476, 0x800C3C00},
    {0x8EA00477, 0x800C3C00}, {0x82C004C1, 0x800C1800}, {0x86C004C2, 0x800C1800},
    {0x820004D0, 0x800C1800}, {0x860004D1, 0x800C1800}, {0x820004D2, 0x800C2000},
    {0x860004D3, 0x800C2000}, {0x82A004D6, 0x800C1800}, {0x86A004D7, 0x800C1800},
    {0x9B0004DA, 0x800C2000}, {0x9B2004DB, 0x800C2000}, {0x82C004DC, 0x800C2000},
    {0x86C004DD, 0x800C2000}, {0x82E004DE, 0x800C2000}, {0x86E004DF, 0x800C2000},
    {0x830004E2, 0x800C1000}, {0x870004E3, 0x800C1000}, {0x830004E4, 0x800C2000},
    {0x870004E5, 0x800C2000}, {0x83C004E6, 0x800C2000}, {0x87C004E7, 0x800C2000},
    {0x9D0004EA, 0x800C2000}, {0x9D2004EB, 0x800C2000}, {0x85A004EC, 0x800C2000},
    {0x89A004ED, 0x800C2000}, {0x846004EE, 0x800C1000}, {0x886004EF, 0x800C1000},
    {0x846004F0, 0x800C2000}, {0x886004F1, 0x800C2000}, {0x846004F2, 0x800C2C00},
    {0x886004F3, 0x800C2C00}, {0x84E004F4, 0x800C2000}, {0x88E004F5, 0x800C2000},
    {0x856004F8, 0x800C2000}, {0x896004F9, 0x800C2000}, {0xC4E00622, 0x80194C00},
    {0xC4E00623, 0x80195000}, {0xC9000624, 0x80195000}, {0xC4E00625, 0x80195400},
    {0xC9400626, 0x80195000}, {0xDAA006C0, 0x80195000}, {0xD82006C2, 0x80195000},
    {0xDA4006D3, 0x80195000}, {0x25000929, 0x8024F001}, {0x26000931, 0x8024F001},
    {0x26600934, 0x8024F001}, {0x22A00958, 0x24F001}, {0x22C00959, 0x24F001},
    {0x22E0095A, 0x24F001}, {0x2380095B, 0x24F001}, {0x2420095C, 0x24F001},
    {0x2440095D, 0x24F001}, {0x2560095E, 0x24F001}, {0x25E0095F, 0x24F001},
    {0x38E009CB, 0x8026F801}, {0x38E009CC, 0x80275C01}, {0x342009DC, 0x26F001},
    {0x344009DD, 0x26F001}, {0x35E009DF, 0x26F001}, {0x46400A33, 0x28F001},
    {0x47000A36, 0x28F001}, {0x42C00A59, 0x28F001}, {0x42E00A5A, 0x28F001},
    {0x43800A5B, 0x28F001}, {0x45600A5E, 0x28F001}, {0x68E00B48, 0x802D5801},
    {0x68E00B4B, 0x802CF801}, {0x68E00B4C, 0x802D5C01}, {0x64200B5C, 0x2CF001},
    {0x64400B5D, 0x2CF001}, {0x72400B94, 0x802F5C01}, {0x78C00BCA, 0x802EF801},
    {0x78E00BCB, 0x802EF801}, {0x78C00BCC, 0x802F5C01}, {0x88C00C48, 0x80315801},
    {0x97E00CC0, 0x80335401}, {0x98C00CC7, 0x80335401}, {0x98C00CC8, 0x80335801},
    {0x98C00CCA, 0x80330801}, {0x99400CCB, 0x80335401}, {0xA8C00D4A, 0x8034F801},
    {0xA8E00D4B, 0x8034F801}, {0xA8C00D4C, 0x80355C01}, {0xBB200DDA, 0x80372801},
    {0xBB200DDC, 0x80373C01}, {0xBB800DDD, 0x80372801}, {0xBB200DDE, 0x80377C01},
    {0xE8400F43, 0x3EDC01}, {0xE9800F4D, 0x3EDC01}, {0xEA200F52, 0x3EDC01},
    {0xEAC00F57, 0x3EDC01}, {0xEB600F5C, 0x3EDC01}, {0xE8000F69, 0x3ED401},
    {0xEE200F73, 0x3DC801}, {0xEE200F75, 0x3DD001}, {0xF6400F76, 0x3E0001},
    {0xF6600F78, 0x3E0001}, {0xEE200F81, 0x3E0001}, {0xF2400F93, 0x3EDC01},
    {0xF3800F9D, 0x3EDC01}, {0xF4200FA2, 0x3EDC01}, {0xF4C00FA7, 0x3EDC01},
    {0xF5600FAC, 0x3EDC01}, {0xF2000FB9, 0x3ED401}, {0x4A01026, 0x8040B802},
    {0x60A01B06, 0x806CD403}, {0x60E01B08, 0x806CD403}, {0x61201B0A, 0x806CD403},
    {0x61601B0C, 0x806CD403}, {0x61A01B0E, 0x806CD403}, {0x62201B12, 0x806CD403},
    {0x67401B3B, 0x806CD403}, {0x67801B3D, 0x806CD403}, {0x67C01B40, 0x806CD403},
    {0x67E01B41, 0x806CD403}, {0x68401B43, 0x806CD403}, {0x8201E00, 0x800C9400},
    {0xC201E01, 0x800C9400}, {0x8401E02, 0x800C1C00}, {0xC401E03, 0x800C1C00},
    {0x8401E04, 0x800C8C00}, {0xC401E05, 0x800C8C00}, {0x8401E06, 0x800CC400},
    {0xC401E07, 0x800CC400}, {0x18E01E08, 0x800C0400}, {0x1CE01E09, 0x800C0400},
    {0x8801E0A, 0x800C1C00}, {0xC801E0B, 0x800C1C00}, {0x8801E0C, 0x800C8C00},
    {0xC801E0D, 0x800C8C00}, {0x8801E0E, 0x800CC400}, {0xC801E0F, 0x800CC400},
    {0x8801E10, 0x800C9C00}, {0xC801E11, 0x800C9C00}, {0x8801E12, 0x800CB400},
    {0xC801E13, 0x800CB400}, {0x22401E14, 0x800C0000}, {0x22601E15, 0x800C0000},
    {0x22401E16, 0x800C0400}, {0x22601E17, 0x800C0400}, {0x8A01E18, 0x800CB400},
    {0xCA01E19, 0x800CB400}, {0x8A01E1A, 0x800CC000}, {0xCA01E1B, 0x800CC000},
    {0x45001E1C, 0x800C1800}, {0x45201E1D, 0x800C1800}, {0x8C01E1E, 0x800C1C00},
    {0xCC01E1F, 0x800C1C00}, {0x8E01E20, 0x800C1000}, {0xCE01E21, 0x800C1000},
    {0x9001E22, 0x800C1C00}, {0xD001E23, 0x800C1C00}, {0x9001E24, 0x800C8C00},
    {0xD001E25, 0x800C8C00}, {0x9001E26, 0x800C2000}, {0xD001E27, 0x800C2000},
    {0x9001E28, 0x800C9C00}, {0xD001E29, 0x800C9C00}, {0x9001E2A, 0x800CB800},
    {0xD001E2B, 0x800CB800}, {0x9201E2C, 0x800CC000}, {0xD201E2D, 0x800CC000},
    {0x19E01E2E, 0x800C0400}, {0x1DE01E2F, 0x800C0400}, {0x9601E30, 0x800C0400},
    {0xD601E31, 0x800C0400}, {0x9601E32, 0x800C8C00}, {0xD601E33, 0x800C8C00},
    {0x9601E34, 0x800CC400}, {0xD601E35, 0x800CC400}, {0x9801E36, 0x800C8C00},
    {0xD801E37, 0x800C8C00}, {0xC6C01E38, 0x800C1003}, {0xC6E01E39, 0x800C1003},
    {0x9801E3A, 0x800CC400}, {0xD801E3B, 0x800CC400}, {0x9801E3C, 0x800CB400},
    {0xD801E3D, 0x800CB400}, {0x9A01E3E, 0x800C0400}, {0xDA01E3F, 0x800C0400},
    {0x9A01E40, 0x800C1C00}, {0xDA01E41, 0x800C1C00}, {0x9A01E42, 0x800C8C00},
    {0xDA01E43, 0x800C8C00}, {0x9C01E44, 0x800C1C00}, {0xDC01E45, 0x800C1C00},
    {0x9C01E46, 0x800C8C00}, {0xDC01E47, 0x800C8C00}, {0x9C01E48, 0x800CC400},
    {0xDC01E49, 0x800CC400}, {0x9C01E4A, 0x800CB400}, {0xDC01E4B, 0x800CB400},
    {0x1AA01E4C, 0x800C0400}, {0x1EA01E4D, 0x800C0400}, {0x1AA01E4E, 0x800C2000},
    {0x1EA01E4F, 0x800C2000}, {0x29801E50, 0x800C0000}, {0x29A01E51, 0x800C0000},
    {0x29801E52, 0x800C0400}, {0x29A01E53, 0x800C0400}, {0xA001E54, 0x800C0400},
    {0xE001E55, 0x800C0400}, {0xA001E56, 0x800C1C00}, {0xE001E57, 0x800C1C00},
    {0xA401E58, 0x800C1C00}, {0xE401E59, 0x800C1C00}, {0xA401E5A, 0x800C8C00},
    {0xE401E5B, 0x800C8C00}, {0xCB401E5C, 0x800C1003}, {0xCB601E5D, 0x800C1003},
    {0xA401E5E, 0x800CC400}, {0xE401E5F, 0x800CC400}, {0xA601E60, 0x800C1C00},
    {0xE601E61, 0x800C1C00}, {0xA601E62, 0x800C8C00}, {0xE601E63, 0x800C8C00},
    {0x2B401E64, 0x800C1C00}, {0x2B601E65, 0x800C1C00}, {0x2C001E66, 0x800C1C00},
    {0x2C201E67, 0x800C1C00}, {0xCC401E68, 0x800C1C03}, {0xCC601E69, 0x800C1C03},
    {0xA801E6A, 0x800C1C00}, {0xE801E6B, 0x800C1C00}, {0xA801E6C, 0x800C8C00},
    {0xE801E6D, 0x800C8C00}, {0xA801E6E, 0x800CC400}, {0xE801E6F, 0x800CC400},
    {0xA801E70, 0x800CB400}, {0xE801E71, 0x800CB400}, {0xAA01E72, 0x800C9000},
    {0xEA01E73, 0x800C9000}, {0xAA01E74, 0x800CC000}, {0xEA01E75, 0x800CC000},
    {0xAA01E76, 0x800CB400}, {0xEA01E77, 0x800CB400}, {0x2D001E78, 0x800C0400},
    {0x2D201E79, 0x800C0400}, {0x2D401E7A, 0x800C2000}, {0x2D601E7B, 0x800C2000},
    {0xAC01E7C, 0x800C0C00}, {0xEC01E7D, 0x800C0C00}, {0xAC01E7E, 0x800C8C00},
    {0xEC01E7F, 0x800C8C00}, {0xAE01E80, 0x800C0000}, {0xEE01E81, 0x800C0000},
    {0xAE01E82, 0x800C0400}, {0xEE01E83, 0x800C0400}, {0xAE01E84, 0x800C2000},
    {0xEE01E85, 0x800C2000}, {0xAE01E86, 0x800C1C00}, {0xEE01E87, 0x800C1C00},
    {0xAE01E88, 0x800C8C00}, {0xEE01E89, 0x800C8C00}, {0xB001E8A, 0x800C1C00},
    {0xF001E8B, 0x800C1C00}, {0xB001E8C, 0x800C2000}, {0xF001E8D, 0x800C2000},
    {0xB201E8E, 0x800C1C00}, {0xF201E8F, 0x800C1C00}, {0xB401E90, 0x800C0800},
    {0xF401E91, 0x800C0800}, {0xB401E92, 0x800C8C00}, {0xF401E93, 0x800C8C00},
    {0xB401E94, 0x800CC400}, {0xF401E95, 0x800CC400}, {0xD001E96, 0x800CC400},
    {0xE801E97, 0x800C2000}, {0xEE01E98, 0x800C2800}, {0xF201E99, 0x800C2800},
    {0x2FE01E9B, 0x800C1C00}, {0x8201EA0, 0x800C8C00}, {0xC201EA1, 0x800C8C00},
    {0x8201EA2, 0x800C2400}, {0xC201EA3, 0x800C2400}, {0x18401EA4, 0x800C0400},
    {0x1C401EA5, 0x800C0400}, {0x18401EA6, 0x800C0000}, {0x1C401EA7, 0x800C0000},
    {0x18401EA8, 0x800C2400}, {0x1C401EA9, 0x800C2400}, {0x18401EAA, 0x800C0C00},
    {0x1C401EAB, 0x800C0C00}, {0xD4001EAC, 0x800C0803}, {0xD4201EAD, 0x800C0803},
    {0x20401EAE, 0x800C0400}, {0x20601EAF, 0x800C0400}, {0x20401EB0, 0x800C0000},
    {0x20601EB1, 0x800C0000}, {0x20401EB2, 0x800C2400}, {0x20601EB3, 0x800C2400},
    {0x20401EB4, 0x800C0C00}, {0x20601EB5, 0x800C0C00}, {0xD4001EB6, 0x800C1803},
    {0xD4201EB7, 0x800C1803}, {0x8A01EB8, 0x800C8C00}, {0xCA01EB9, 0x800C8C00},
    {0x8A01EBA, 0x800C2400}, {0xCA01EBB, 0x800C2400}, {0x8A01EBC, 0x800C0C00},
    {0xCA01EBD, 0x800C0C00}, {0x19401EBE, 0x800C0400}, {0x1D401EBF, 0x800C0400},
    {0x19401EC0, 0x800C0000}, {0x1D401EC1, 0x800C0000}, {0x19401EC2, 0x800C2400},
    {0x1D401EC3, 0x800C2400}, {0x19401EC4, 0x800C0C00}, {0x1D401EC5, 0x800C0C00},
    {0xD7001EC6, 0x800C0803}, {0xD7201EC7, 0x800C0803}, {0x9201EC8, 0x800C2400},
    {0xD201EC9, 0x800C2400}, {0x9201ECA, 0x800C8C00}, {0xD201ECB, 0x800C8C00},
    {0x9E01ECC, 0x800C8C00}, {0xDE01ECD, 0x800C8C00}, {0x9E01ECE, 0x800C2400},
    {0xDE01ECF, 0x800C2400}, {0x1A801ED0, 0x800C0400}, {0x1E801ED1, 0x800C0400},
    {0x1A801ED2, 0x800C0000}, {0x1E801ED3, 0x800C0000}, {0x1A801ED4, 0x800C2400},
    {0x1E801ED5, 0x800C2400}, {0x1A801ED6, 0x800C0C00}, {0x1E801ED7, 0x800C0C00},
    {0xD9801ED8, 0x800C0803}, {0xD9A01ED9, 0x800C0803}, {0x34001EDA, 0x800C0400},
    {0x34201EDB, 0x800C0400}, {0x34001EDC, 0x800C0000}, {0x34201EDD, 0x800C0000},
    {0x34001EDE, 0x800C2400}, {0x34201EDF, 0x800C2400}, {0x34001EE0, 0x800C0C00},
    {0x34201EE1, 0x800C0C00}, {0x34001EE2, 0x800C8C00}, {0x34201EE3, 0x800C8C00},
    {0xAA01EE4, 0x800C8C00}, {0xEA01EE5, 0x800C8C00}, {0xAA01EE6, 0x800C2400},
    {0xEA01EE7, 0x800C2400}, {0x35E01EE8, 0x800C0400}, {0x36001EE9, 0x800C0400},
    {0x35E01EEA, 0x800C0000}, {0x36001EEB, 0x800C0000}, {0x35E01EEC, 0x800C2400},
    {0x36001EED, 0x800C2400}, {0x35E01EEE, 0x800C0C00}, {0x36001EEF, 0x800C0C00},
    {0x35E01EF0, 0x800C8C00}, {0x36001EF1, 0x800C8C00}, {0xB201EF2, 0x800C0000},
    {0xF201EF3, 0x800C0000}, {0xB201EF4, 0x800C8C00}, {0xF201EF5, 0x800C8C00},
    {0xB201EF6, 0x800C2400}, {0xF201EF7, 0x800C2400}, {0xB201EF8, 0x800C0C00},
    {0xF201EF9, 0x800C0C00}, {0x76201F00, 0x800C4C00}, {0x76201F01, 0x800C5000},
    {0xE0001F02, 0x800C0003}, {0xE0201F03, 0x800C0003}, {0xE0001F04, 0x800C0403},
    {0xE0201F05, 0x800C0403}, {0xE0001F06, 0x800D0803}, {0xE0201F07, 0x800D0803},
    {0x72201F08, 0x800C4C00}, {0x72201F09, 0x800C5000}, {0xE1001F0A, 0x800C0003},
    {0xE1201F0B, 0x800C0003}, {0xE1001F0C, 0x800C0403}, {0xE1201F0D, 0x800C0403},
    {0xE1001F0E, 0x800D0803}, {0xE1201F0F, 0x800D0803}, {0x76A01F10, 0x800C4C00},
    {0x76A01F11, 0x800C5000}, {0xE2001F12, 0x800C0003}, {0xE2201F13, 0x800C0003},
    {0xE2001F14, 0x800C0403}, {0xE2201F15, 0x800C0403}, {0x72A01F18, 0x800C4C00},
    {0x72A01F19, 0x800C5000}, {0xE3001F1A, 0x800C0003}, {0xE3201F1B, 0x800C0003},
    {0xE3001F1C, 0x800C0403}, {0xE3201F1D, 0x800C0403}, {0x76E01F20, 0x800C4C00},
    {0x76E01F21, 0x800C5000}, {0xE4001F22, 0x800C0003}, {0xE4201F23, 0x800C0003},
    {0xE4001F24, 0x800C0403}, {0xE4201F25, 0x800C0403}, {0xE4001F26, 0x800D0803},
    {0xE4201F27, 0x800D0803}, {0x72E01F28, 0x800C4C00}, {0x72E01F29, 0x800C5000},
    {0xE5001F2A, 0x800C0003}, {0xE5201F2B, 0x800C0003}, {0xE5001F2C, 0x800C0403},
    {0xE5201F2D, 0x800C0403}, {0xE5001F2E, 0x800D0803}, {0xE5201F2F, 0x800D0803},
    {0x77201F30, 0x800C4C00}, {0x77201F31, 0x800C5000}, {0xE6001F32, 0x800C0003},
    {0xE6201F33, 0x800C0003}, {0xE6001F34, 0x800C0403}, {0xE6201F35, 0x800C0403},
    {0xE6001F36, 0x800D0803}, {0xE6201F37, 0x800D0803}, {0x73201F38, 0x800C4C00},
    {0x73201F39, 0x800C5000}, {0xE7001F3A, 0x800C0003}, {0xE7201F3B, 0x800C0003},
    {0xE7001F3C, 0x800C0403}, {0xE7201F3D, 0x800C0403}, {0xE7001F3E, 0x800D0803},
    {0xE7201F3F, 0x800D0803}, {0x77E01F40, 0x800C4C00}, {0x77E01F41, 0x800C5000},
    {0xE8001F42, 0x800C0003}, {0xE8201F43, 0x800C0003}, {0xE8001F44, 0x800C0403},
    {0xE8201F45, 0x800C0403}, {0x73E01F48, 0x800C4C00}, {0x73E01F49, 0x800C5000},
    {0xE9001F4A, 0x800C0003}, {0xE9201F4B, 0x800C0003}, {0xE9001F4C, 0x800C0403},
    {0xE9201F4D, 0x800C0403}, {0x78A01F50, 0x800C4C00}, {0x78A01F51, 0x800C5000},
    {0xEA001F52, 0x800C0003}, {0xEA201F53, 0x800C0003}, {0xEA001F54, 0x800C0403},
    {0xEA201F55, 0x800C0403}, {0xEA001F56, 0x800D0803}, {0xEA201F57, 0x800D0803},
    {0x74A01F59, 0x800C5000}, {0xEB201F5B, 0x800C0003}, {0xEB201F5D, 0x800C0403},
    {0xEB201F5F, 0x800D0803}, {0x79201F60, 0x800C4C00}, {0x79201F61, 0x800C5000},
    {0xEC001F62, 0x800C0003}, {0xEC201F63, 0x800C0003}, {0xEC001F64, 0x800C0403},
    {0xEC201F65, 0x800C0403}, {0xEC001F66, 0x800D0803}, {0xEC201F67, 0x800D0803},
    {0x75201F68, 0x800C4C00}, {0x75201F69, 0x800C5000}, {0xED001F6A, 0x800C0003},
    {0xED201F6B, 0x800C0003}, {0xED001F6C, 0x800C0403}, {0xED201F6D, 0x800C0403},
    {0xED001F6E, 0x800D0803}, {0xED201F6F, 0x800D0803}, {0x76201F70, 0x800C0000},
    {0x75801F71, 0x0}, {0x76A01F72, 0x800C0000}, {0x75A01F73, 0x0}, {0x76E01F74, 0x800C0000},
    {0x75C01F75, 0x0}, {0x77201F76, 0x800C0000}, {0x75E01F77, 0x0}, {0x77E01F78, 0x800C0000},
    {0x79801F79, 0x0}, {0x78A01F7A, 0x800C0000}, {0x79A01F7B, 0x0}, {0x79201F7C, 0x800C0000},
    {0x79C01F7D, 0x0}, {0xE0001F80, 0x800D1403}, {0xE0201F81, 0x800D1403},
    {0xE0401F82, 0x800D1403}, {0xE0601F83, 0x800D1403}, {0xE0801F84, 0x800D1403},
    {0xE0A01F85, 0x800D1403}, {0xE0C01F86, 0x800D1403}, {0xE0E01F87, 0x800D1403},
    {0xE1001F88, 0x800D1403}, {0xE1201F89, 0x800D1403}, {0xE1401F8A, 0x800D1403},
    {0xE1601F8B, 0x800D1403}, {0xE1801F8C, 0x800D1403}, {0xE1A01F8D, 0x800D1403},
    {0xE1C01F8E, 0x800D1403}, {0xE1E01F8F, 0x800D1403}, {0xE4001F90, 0x800D1403},
    {0xE4201F91, 0x800D1403}, {0xE4401F92, 0x800D1403}, {0xE4601F93, 0x800D1403},
    {0xE4801F94, 0x800D1403}, {0xE4A01F95, 0x800D1403}, {0xE4C01F96, 0x800D1403},
    {0xE4E01F97, 0x800D1403}, {0xE5001F98, 0x800D1403}, {0xE5201F99, 0x800D1403},
    {0xE5401F9A, 0x800D1403}, {0xE5601F9B, 0x800D1403}, {0xE5801F9C, 0x800D1403},
    {0xE5A01F9D, 0x800D1403}, {0xE5C01F9E, 0x800D1403}, {0xE5E01F9F, 0x800D1403},
    {0xEC001FA0, 0x800D1403}, {0xEC201FA1, 0x800D1403}, {0xEC401FA2, 0x800D1403},
    {0xEC601FA3, 0x800D1403}, {0xEC801FA4, 0x800D1403}, {0xECA01FA5, 0x800D1403},
    {0xECC01FA6, 0x800D1403}, {0xECE01FA7, 0x800D1403}, {0xED001FA8, 0x800D1403},
    {0xED201FA9, 0x800D1403}, {0xED401FAA, 0x800D1403}, {0xED601FAB, 0x800D1403},
    {0xED801FAC, 0x800D1403}, {0xEDA01FAD, 0x800D1403}, {0xEDC01FAE, 0x800D1403},
    {0xEDE01FAF, 0x800D1403}, {0x76201FB0, 0x800C1800}, {0x76201FB1, 0x800C1000},
    {0xEE001FB2, 0x800D1403}, {0x76201FB3, 0x800D1400}, {0x75801FB4, 0x800D1400},
    {0x76201FB6, 0x800D0800}, {0xF6C01FB7, 0x800D1403}, {0x72201FB8, 0x800C1800},
    {0x72201FB9, 0x800C1000}, {0x72201FBA, 0x800C0000}, {0x70C01FBB, 0x0},
    {0x72201FBC, 0x800D1400}, {0x77201FBE, 0x0}, {0x15001FC1, 0x800D0800},
    {0xEE801FC2, 0x800D1403}, {0x76E01FC3, 0x800D1400}, {0x75C01FC4, 0x800D1400},
    {0x76E01FC6, 0x800D0800}, {0xF8C01FC7, 0x800D1403}, {0x72A01FC8, 0x800C0000},
    {0x71001FC9, 0x0}, {0x72E01FCA, 0x800C0000}, {0x71201FCB, 0x0}, {0x72E01FCC, 0x800D1400},
    {0xF7E01FCD, 0x800C0003}, {0xF7E01FCE, 0x800C0403}, {0xF7E01FCF, 0x800D0803},
    {0x77201FD0, 0x800C1800}, {0x77201FD1, 0x800C1000}, {0x79401FD2, 0x800C0000},
    {0x72001FD3, 0x0}, {0x77201FD6, 0x800D0800}, {0x79401FD7, 0x800D0800},
    {0x73201FD8, 0x800C1800}, {0x73201FD9, 0x800C1000}, {0x73201FDA, 0x800C0000},
    {0x71401FDB, 0x0}, {0xFFC01FDD, 0x800C0003}, {0xFFC01FDE, 0x800C0403},
    {0xFFC01FDF, 0x800D0803}, {0x78A01FE0, 0x800C1800}, {0x78A01FE1, 0x800C1000},
    {0x79601FE2, 0x800C0000}, {0x76001FE3, 0x0}, {0x78201FE4, 0x800C4C00},
    {0x78201FE5, 0x800C5000}, {0x78A01FE6, 0x800D0800}, {0x79601FE7, 0x800D0800},
    {0x74A01FE8, 0x800C1800}, {0x74A01FE9, 0x800C1000}, {0x74A01FEA, 0x800C0000},
    {0x71C01FEB, 0x0}, {0x74201FEC, 0x800C5000}, {0x15001FED, 0x800C0000}, {0x70A01FEE, 0x0},
    {0xC001FEF, 0x0}, {0xEF801FF2, 0x800D1403}, {0x79201FF3, 0x800D1400},
    {0x79C01FF4, 0x800D1400}, {0x79201FF6, 0x800D0800}, {0xFEC01FF7, 0x800D1403},
    {0x73E01FF8, 0x800C0000}, {0x71801FF9, 0x0}, {0x75201FFA, 0x800C0000}, {0x71E01FFB, 0x0},
    {0x75201FFC, 0x800D1400}, {0x16801FFD, 0x0}, {0x402000, 0x4}, {0x602001, 0x4},
    {0x75202126, 0x0}, {0x960212A, 0x0}, {0x18A0212B, 0x0}, {0x3200219A, 0x800CE004},
    {0x3240219B, 0x800CE004}, {0x328021AE, 0x800CE004}, {0x3A0021CD, 0x800CE004},
    {0x3A8021CE, 0x800CE004}, {0x3A4021CF, 0x800CE004}, {0x40602204, 0x800CE004},
    {0x41002209, 0x800CE004}, {0x4160220C, 0x800CE004}, {0x44602224, 0x800CE004},
    {0x44A02226, 0x800CE004}, {0x47802241, 0x800CE004}, {0x48602244, 0x800CE004},
    {0x48A02247, 0x800CE004}, {0x49002249, 0x800CE004}, {0x7A02260, 0x800CE000},
    {0x4C202262, 0x800CE004}, {0x49A0226D, 0x800CE004}, {0x780226E, 0x800CE000},
    {0x7C0226F, 0x800CE000}, {0x4C802270, 0x800CE004}, {0x4CA02271, 0x800CE004},
    {0x4E402274, 0x800CE004}, {0x4E602275, 0x800CE004}, {0x4EC02278, 0x800CE004},
    {0x4EE02279, 0x800CE004}, {0x4F402280, 0x800CE004}, {0x4F602281, 0x800CE004},
    {0x50402284, 0x800CE004}, {0x50602285, 0x800CE004}, {0x50C02288, 0x800CE004},
    {0x50E02289, 0x800CE004}, {0x544022AC, 0x800CE004}, {0x550022AD, 0x800CE004},
    {0x552022AE, 0x800CE004}, {0x556022AF, 0x800CE004}, {0x4F8022E0, 0x800CE004},
    {0x4FA022E1, 0x800CE004}, {0x522022E2, 0x800CE004}, {0x524022E3, 0x800CE004},
    {0x564022EA, 0x800CE004}, {0x566022EB, 0x800CE004}, {0x568022EC, 0x800CE004},
    {0x56A022ED, 0x800CE004}, {0x1002329, 0x6}, {0x120232A, 0x6}, {0x5BA02ADC, 0xCE005},
    {0x960304C, 0x80C26406}, {0x9A0304E, 0x80C26406}, {0x9E03050, 0x80C26406},
    {0xA203052, 0x80C26406}, {0xA603054, 0x80C26406}, {0xAA03056, 0x80C26406},
    {0xAE03058, 0x80C26406}, {0xB20305A, 0x80C26406}, {0xB60305C, 0x80C26406},
    {0xBA0305E, 0x80C26406}, {0xBE03060, 0x80C26406}, {0xC203062, 0x80C26406},
    {0xC803065, 0x80C26406}, {0xCC03067, 0x80C26406}, {0xD003069, 0x80C26406},
    {0xDE03070, 0x80C26406}, {0xDE03071, 0x80C26806}, {0xE403073, 0x80C26406},
    {0xE403074, 0x80C26806}, {0xEA03076, 0x80C26406}, {0xEA03077, 0x80C26806},
    {0xF003079, 0x80C26406}, {0xF00307A, 0x80C26806}, {0xF60307C, 0x80C26406},
    {0xF60307D, 0x80C26806}, {0x8C03094, 0x80C26406}, {0x13A0309E, 0x80C26406},
    {0x156030AC, 0x80C26406}, {0x15A030AE, 0x80C26406}, {0x15E030B0, 0x80C26406},
    {0x162030B2, 0x80C26406}, {0x166030B4, 0x80C26406}, {0x16A030B6, 0x80C26406},
    {0x16E030B8, 0x80C26406}, {0x172030BA, 0x80C26406}, {0x176030BC, 0x80C26406},
    {0x17A030BE, 0x80C26406}, {0x17E030C0, 0x80C26406}, {0x182030C2, 0x80C26406},
    {0x188030C5, 0x80C26406}, {0x18C030C7, 0x80C26406}, {0x190030C9, 0x80C26406},
    {0x19E030D0, 0x80C26406}, {0x19E030D1, 0x80C26806}, {0x1A4030D3, 0x80C26406},
    {0x1A4030D4, 0x80C26806}, {0x1AA030D6, 0x80C26406}, {0x1AA030D7, 0x80C26806},
    {0x1B0030D9, 0x80C26406}, {0x1B0030DA, 0x80C26806}, {0x1B6030DC, 0x80C26406},
    {0x1B6030DD, 0x80C26806}, {0x14C030F4, 0x80C26406}, {0x1DE030F7, 0x80C26406},
    {0x1E0030F8, 0x80C26406}, {0x1E2030F9, 0x80C26406}, {0x1E4030FA, 0x80C26406},
    {0x1FA030FE, 0x80C26406}, {0x8900F900, 0x11}, {0xDE80F901, 0xC}, {0xD940F902, 0x11},
    {0x9900F903, 0x11}, {0xDA20F904, 0xD}, {0xC640F905, 0x9}, {0x7CA0F906, 0xA},
    {0xF380F907, 0x13}, {0xF380F908, 0x13}, {0x2A20F909, 0xB}, {0x3A20F90A, 0x12},
    {0xB0E0F90B, 0xA}, {0x2900F90C, 0xB}, {0x3EC0F90D, 0xC}, {0xCD20F90E, 0xE},
    {0xF0A0F90F, 0xF}, {0xC7E0F910, 0x10}, {0xF740F911, 0x10}, {0x1F00F912, 0x11},
    {0x11E0F913, 0x12}, {0x4040F914, 0xD}, {0xA360F915, 0xD}, {0x1B20F916, 0xE},
    {0x7BC0F917, 0xE}, {0x87A0F918, 0x10}, {0x2D40F919, 0x12}, {0x3E20F91A, 0x13},
    {0xD040F91B, 0x9}, {0x6EA0F91C, 0xA}, {0x6080F91D, 0xD}, {0x4360F91E, 0xE},
    {0xC5A0F91F, 0x10}, {0xC3C0F920, 0x13}, {0xAA00F921, 0xB}, {0xFD60F922, 0xD},
    {0xB9A0F923, 0x10}, {0x2C80F924, 0x11}, {0x5920F925, 0xC}, {0x3B00F926, 0x10},
    {0x3E0F927, 0x11}, {0xD940F928, 0xB}, {0xE2E0F929, 0xC}, {0xAD40F92A, 0xD},
    {0x5F80F92B, 0xE}, {0x19C0F92C, 0x12}, {0xF0C0F92D, 0x9}, {0x36E0F92E, 0xA},
    {0x5BC0F92F, 0xA}, {0x9880F930, 0xC}, {0x5A60F931, 0xD}, {0x4200F932, 0xE},
    {0xDCE0F933, 0xE}, {0x20F934, 0x10}, {0xC0C0F935, 0x10}, {0xCB80F936, 0x10},
    {0xBDE0F937, 0x11}, {0xE640F938, 0x12}, {0x6DE0F939, 0x13}, {0xBF40F93A, 0x13},
    {0x1180F93B, 0xF}, {0x2FE0F93C, 0xF}, {0xB400F93D, 0xF}, {0x7920F93E, 0x10},
    {0x6080F93F, 0x12}, {0xCFE0F940, 0x13}, {0x5AC0F941, 0x11}, {0x1BE0F942, 0xB},
    {0xE080F943, 0xB}, {0x8C00F944, 0xF}, {0xFC0F945, 0x10}, {0x4C40F946, 0xE},
    {0x1940F947, 0xF}, {0x9840F948, 0x11}, {0xDEE0F949, 0x12}, {0x1B00F94A, 0xB},
    {0x8C40F94B, 0xB}, {0x4260F94C, 0xD}, {0xBB40F94D, 0xD}, {0xE1E0F94E, 0xD},
    {0xA5E0F94F, 0xF}, {0xC6E0F950, 0xF}, {0xC960F951, 0x12}, {0x5A40F952, 0xA},
    {0x1160F953, 0x10}, {0x3B80F954, 0xA}, {0x3980F955, 0xA}, {0x4380F956, 0xF},
    {0xB7C0F957, 0xF}, {0x7E20F958, 0x10}, {0xCEA0F959, 0x12}, {0x7000F95A, 0x11},
    {0x59E0F95B, 0xC}, {0x4040F95C, 0xD}, {0x5FC0F95D, 0x11}, {0xC720F95E, 0x9},
    {0x7CE0F95F, 0xB}, {0x240F960, 0xC}, {0x70E0F961, 0xE}, {0xAE00F962, 0xE},
    {0x62E0F963, 0xA}, {0x1F60F964, 0xF}, {0xF7E0F965, 0x9}, {0xF520F966, 0xB},
    {0xC1A0F967, 0x9}, {0x9980F968, 0xD}, {0xAF00F969, 0xC}, {0xA440F96A, 0xF},
    {0x7860F96B, 0xA}, {0xBC0F96C, 0xB}, {0xE020F96D, 0xE}, {0x8920F96E, 0x10},
    {0x5540F96F, 0x11}, {0x7740F970, 0xD}, {0xF600F971, 0x11}, {0x9100F972, 0xD},
    {0x5FC0F973, 0xC}, {0x5CA0F974, 0x10}, {0x7400F975, 0xC}, {0xACA0F976, 0xE},
    {0xD5C0F977, 0x9}, {0x2D20F978, 0xA}, {0x3920F979, 0xA}, {0x1020F97A, 0xD},
    {0x9CE0F97B, 0xF}, {0x4DE0F97C, 0x10}, {0x5A40F97D, 0x11}, {0x39E0F97E, 0x12},
    {0x5EA0F97F, 0xA}, {0x8840F980, 0xA}, {0x2E60F981, 0xB}, {0xDD80F982, 0xB},
    {0xB8A0F983, 0xC}, {0xFFC0F984, 0xD}, {0x2540F985, 0xF}, {0xB5A0F986, 0x12},
    {0x4D40F987, 0x13}, {0xD2E0F988, 0x13}, {0xD9C0F989, 0x13}, {0x5360F98A, 0xA},
    {0xD8C0F98B, 0xC}, {0x6EE0F98C, 0xD}, {0xEC40F98D, 0x11}, {0xCE80F98E, 0xB},
    {0x3200F98F, 0xC}, {0x4000F990, 0xC}, {0x9340F991, 0xC}, {0xE460F992, 0xD},
    {0x2920F993, 0xE}, {0x9120F994, 0xE}, {0x3940F995, 0xF}, {0xBE80F996, 0xF},
    {0xDE0F997, 0x10}, {0xE4C0F998, 0x11}, {0x9DC0F999, 0x10}, {0x460F99A, 0x12},
    {0x6940F99B, 0x12}, {0x42E0F99C, 0xA}, {0x5460F99D, 0xA}, {0x97A0F99E, 0xA},
    {0x1900F99F, 0xE}, {0x1840F9A0, 0x11}, {0x5540F9A1, 0x11}, {0xD920F9A2, 0xB},
    {0xFEA0F9A3, 0xB}, {0x6F60F9A4, 0xC}, {0x75C0F9A5, 0xD}, {0x87C0F9A6, 0xF},
    {0x6EA0F9A7, 0xE}, {0xDC80F9A8, 0x9}, {0xDF20F9A9, 0xA}, {0x7CE0F9AA, 0xB},
    {0xB740F9AB, 0xB}, {0x380F9AC, 0xC}, {0x7640F9AD, 0xE}, {0x8D20F9AE, 0xE},
    {0xF340F9AF, 0xF}, {0x8C0F9B0, 0x10}, {0x4680F9B1, 0x12}, {0xDEC0F9B2, 0x12},
    {0xE900F9B3, 0x12}, {0x300F9B4, 0x13}, {0xF160F9B5, 0x9}, {0x35C0F9B6, 0xF},
    {0x3680F9B7, 0x12}, {0xD700F9B8, 0x12}, {0x1C20F9B9, 0xC}, {0xD0C0F9BA, 0x9},
    {0x1B40F9BB, 0xA}, {0x7DC0F9BC, 0xB}, {0x87E0F9BD, 0xB}, {0xB320F9BE, 0xC},
    {0x4040F9BF, 0xD}, {0x39C0F9C0, 0xE}, {0xC840F9C1, 0xE}, {0x9F80F9C2, 0x10},
    {0xF80F9C3, 0x12}, {0xF1A0F9C4, 0x13}, {0xD100F9C5, 0xC}, {0xC5C0F9C6, 0x12},
    {0x5120F9C7, 0xA}, {0xEF60F9C8, 0xC}, {0xFE60F9C9, 0xC}, {0xA820F9CA, 0xD},
    {0xD380F9CB, 0xD}, {0x8120F9CC, 0xE}, {0xAB20F9CD, 0xE}, {0xD60F9CE, 0xF},
    {0xA200F9CF, 0xF}, {0xBC0F9D0, 0x13}, {0x2DA0F9D1, 0xA}, {0x45C0F9D2, 0xC},
    {0xCF00F9D3, 0x12}, {0x560F9D4, 0xA}, {0xA320F9D5, 0xB}, {0xBD40F9D6, 0xD},
    {0xE540F9D7, 0x11}, {0xF160F9D8, 0xB}, {0x2880F9D9, 0xC}, {0x2E0F9DA, 0xD},
    {0x70E0F9DB, 0xE}, {0xD0C0F9DC, 0x12}, {0x4520F9DD, 0xA}, {0x81E0F9DE, 0xA},
    {0x8CA0F9DF, 0xB}, {0xC260F9E0, 0xC}, {0xE9C0F9E1, 0xC}, {0x1500F9E2, 0xD},
    {0x9CA0F9E3, 0xD}, {0x80C0F9E4, 0xE}, {0xBC40F9E5, 0xE}, {0xEF20F9E6, 0xF},
    {0x19E0F9E7, 0x11}, {0x1C20F9E8, 0x11}, {0x3980F9E9, 0x12}, {0xDC40F9EA, 0x12},
    {0x67E0F9EB, 0xA}, {0xD740F9EC, 0xD}, {0x83A0F9ED, 0xA}, {0x3A00F9EE, 0xE},
    {0x9300F9EF, 0xE}, {0xBF40F9F0, 0x10}, {0xD460F9F1, 0x12}, {0x8AE0F9F2, 0x13},
    {0xD3E0F9F3, 0x13}, {0xF2E0F9F4, 0xC}, {0xB960F9F5, 0xD}, {0x3D00F9F6, 0x10},
    {0x5960F9F7, 0xF}, {0x6400F9F8, 0xF}, {0x9240F9F9, 0xF}, {0x5800F9FA, 0xE},
    {0x1320F9FB, 0xE}, {0x6B00F9FC, 0x11}, {0xD800F9FD, 0x9}, {0x66C0F9FE, 0x10},
    {0x4740F9FF, 0xA}, {0x40E0FA00, 0xA}, {0xD4C0FA01, 0xB}, {0x5A60FA02, 0xC},
    {0x9AC0FA03, 0xF}, {0x70A0FA04, 0xB}, {0xA3C0FA05, 0xD}, {0xD680FA06, 0xC},
    {0xE760FA07, 0x11}, {0x980FA08, 0x11}, {0xC9A0FA09, 0x12}, {0x3160FA0A, 0x11},
    {0xDA60FA0B, 0xB}, {0x2800FA0C, 0xA}, {0xB800FA0D, 0xA}, {0xB40FA10, 0xB},
    {0xCE80FA12, 0xC}, {0x3BC0FA15, 0xA}, {0x6540FA16, 0xE}, {0xD940FA17, 0xE},
    {0x2780FA18, 0xF}, {0x2BC0FA19, 0xF}, {0x2CA0FA1A, 0xF}, {0x31E0FA1B, 0xF},
    {0xEAC0FA1C, 0x12}, {0x97C0FA1D, 0xF}, {0xF7A0FA1E, 0xF}, {0xC240FA20, 0x10},
    {0x5F00FA22, 0x11}, {0x700FA25, 0x12}, {0x1FA0FA26, 0x12}, {0x1DE0FA2A, 0x13},
    {0x1F80FA2B, 0x13}, {0x2500FA2C, 0x13}, {0xB680FA2D, 0x13}, {0x1BC0FA2E, 0x12},
    {0xD6E0FA2F, 0x12}, {0xF5C0FA30, 0x9}, {0x1CE0FA31, 0xA}, {0x29A0FA32, 0xA},
    {0x5920FA33, 0xA}, {0x5C80FA34, 0xA}, {0x6A20FA35, 0xA}, {0xB3A0FA36, 0xA},
    {0xC0C0FA37, 0xA}, {0xCD00FA38, 0xA}, {0x800FA39, 0xB}, {0x1500FA3A, 0xB},
    {0x8C80FA3B, 0xB}, {0x8DC0FA3C, 0xB}, {0x1280FA3D, 0xC}, {0x2D00FA3E, 0xC},
    {0x31C0FA3F, 0xC}, {0x3E40FA40, 0xC}, {0xA9E0FA41, 0xC}, {0xBC40FA42, 0xC},
    {0xD220FA43, 0xC}, {0x10A0FA44, 0xD}, {0xAEE0FA45, 0xD}, {0xC340FA46, 0xD},
    {0xE440FA47, 0xD}, {0x2DC0FA48, 0xE}, {0x4560FA49, 0xE}, {0x8440FA4A, 0xE},
    {0x1220FA4B, 0xF}, {0x27C0FA4C, 0xF}, {0x2920FA4D, 0xF}, {0x2900FA4E, 0xF},
    {0x2A00FA4F, 0xF}, {0x2AC0FA50, 0xF}, {0x2BA0FA51, 0xF}, {0x31A0FA52, 0xF},
    {0x31C0FA53, 0xF}, {0x4800FA54, 0xF}, {0x5020FA55, 0xF}, {0x7800FA56, 0xF},
    {0xBE80FA57, 0xF}, {0xC120FA58, 0xF}, {0xC820FA59, 0xF}, {0xEE40FA5A, 0xF},
    {0xA0FA5B, 0x10}, {0x3DA0FA5C, 0x10}, {0x4F20FA5D, 0x10}, {0x4F20FA5E, 0x10},
    {0x8AE0FA5F, 0x10}, {0x2200FA60, 0x11}, {0x32C0FA61, 0x11}, {0x6020FA62, 0x11},
    {0x6720FA63, 0x11}, {0x9A60FA64, 0x11}, {0xA100FA65, 0x11}, {0xF6C0FA66, 0x11},
    {0x700FA67, 0x12}, {0xDC60FA68, 0x12}, {0xFFE0FA69, 0x12}, {0x760FA6A, 0x13},
    {0xEA0FA6B, 0xC}, {0x5DC0FA6C, 0x48}, {0x4300FA6D, 0x10}, {0xC4C0FA70, 0x9},
    {0x36A0FA71, 0xA}, {0x2D00FA72, 0xA}, {0xF000FA73, 0x9}, {0x28A0FA74, 0xA},
    {0x3000FA75, 0xA}, {0x58E0FA76, 0xA}, {0x5F40FA77, 0xA}, {0xB3A0FA78, 0xA},
    {0xAAA0FA79, 0xA}, {0xB320FA7A, 0xA}, {0xBC40FA7B, 0xA}, {0xB40FA7C, 0xB},
    {0x1660FA7D, 0xB}, {0x2880FA7E, 0xB}, {0x2A80FA7F, 0xB}, {0x4C40FA80, 0xB},
    {0x6500FA81, 0xB}, {0xDA40FA82, 0xB}, {0xDB20FA83, 0xB}, {0xED20FA84, 0xB},
    {0xF5A0FA85, 0xB}, {0x1B00FA86, 0xC}, {0x29C0FA87, 0xC}, {0x2100FA88, 0xC},
    {0x31C0FA89, 0xC}, {0x2C00FA8A, 0xC}, {0x3E40FA8B, 0xC}, {0x4680FA8C, 0xC},
    {0x7880FA8D, 0xC}, {0x8380FA8E, 0xC}, {0x8A40FA8F, 0xC}, {0xAAC0FA90, 0xC},
    {0xCE80FA91, 0xC}, {0xE2E0FA92, 0xC}, {0xE360FA93, 0xC}, {0xEAC0FA94, 0xC},
    {0x6F20FA95, 0xD}, {0x7740FA96, 0xD}, {0xA820FA97, 0xD}, {0xDB60FA98, 0xD},
    {0xD960FA99, 0xD}, {0xE440FA9A, 0xD}, {0x3C0FA9B, 0xE}, {0x2DC0FA9C, 0xE},
    {0xF4E0FA9D, 0xE}, {0x46A0FA9E, 0xE}, {0x55E0FA9F, 0xE}, {0x6540FAA0, 0xE},
    {0x8E20FAA1, 0xE}, {0xA0C0FAA2, 0xE}, {0xA760FAA3, 0xE}, {0xC3A0FAA4, 0xE},
    {0xC3E0FAA5, 0xE}, {0xD940FAA6, 0xE}, {0xDB60FAA7, 0xE}, {0xDE80FAA8, 0xE},
    {0xE940FAA9, 0xE}, {0xE800FAAA, 0xE}, {0x1980FAAB, 0xF}, {0x5620FAAC, 0xF},
    {0x7800FAAD, 0xF}, {0x8F60FAAE, 0xF}, {0xAB60FAAF, 0xF}, {0xBE80FAB0, 0xF},
    {0xE7C0FAB1, 0xF}, {0xA0FAB2, 0x10}, {0x6A40FAB3, 0x10}, {0x7DE0FAB4, 0x10},
    {0xEF20FAB5, 0x10}, {0x2820FAB6, 0x11}, {0x30C0FAB7, 0x11}, {0x32C0FAB8, 0x11},
    {0x57E0FAB9, 0x11}, {0x5F00FABA, 0x11}, {0x5960FABB, 0x11}, {0x6020FABC, 0x11},
    {0x5FC0FABD, 0x11}, {0x5DA0FABE, 0x11}, {0x6720FABF, 0x11}, {0x7140FAC0, 0x11},
    {0xA100FAC1, 0x11}, {0xE700FAC2, 0x11}, {0xE40FAC3, 0x12}, {0x3320FAC4, 0x12},
    {0x4EC0FAC5, 0x12}, {0xCF80FAC6, 0x12}, {0xDC60FAC7, 0x12}, {0xEAC0FAC8, 0x12},
    {0xFB60FAC9, 0x12}, {0xFFE0FACA, 0x12}, {0x160FACB, 0x13}, {0x760FACC, 0x13},
    {0x6240FACD, 0x13}, {0xF380FACE, 0x13}, {0x940FACF, 0x45}, {0x880FAD0, 0x45},
    {0x7AA0FAD1, 0x46}, {0x73A0FAD2, 0x7}, {0x300FAD3, 0x8}, {0x720FAD4, 0x8},
    {0x4920FAD5, 0x4A}, {0x9A00FAD6, 0x4B}, {0xDA60FAD7, 0x4F}, {0xE860FAD8, 0x13},
    {0xF1C0FAD9, 0x13}, {0xBB20FB1D, 0x16D000}, {0xBE40FB1F, 0x16DC00}, {0xBD20FB2A, 0x170400},
    {0xBD20FB2B, 0x170800}, {0x6920FB2C, 0x17041F}, {0x6920FB2D, 0x17081F},
    {0xBA00FB2E, 0x16DC00}, {0xBA00FB2F, 0x16E000}, {0xBA00FB30, 0x16F000},
    {0xBA20FB31, 0x16F000}, {0xBA40FB32, 0x16F000}, {0xBA60FB33, 0x16F000},
    {0xBA80FB34, 0x16F000}, {0xBAA0FB35, 0x16F000}, {0xBAC0FB36, 0x16F000},
    {0xBB00FB38, 0x16F000}, {0xBB20FB39, 0x16F000}, {0xBB40FB3A, 0x16F000},
    {0xBB60FB3B, 0x16F000}, {0xBB80FB3C, 0x16F000}, {0xBBC0FB3E, 0x16F000},
    {0xBC00FB40, 0x16F000}, {0xBC20FB41, 0x16F000}, {0xBC60FB43, 0x16F000},
    {0xBC80FB44, 0x16F000}, {0xBCC0FB46, 0x16F000}, {0xBCE0FB47, 0x16F000},
    {0xBD00FB48, 0x16F000}, {0xBD20FB49, 0x16F000}, {0xBD40FB4A, 0x16F000},
    {0xBAA0FB4B, 0x16E400}, {0xBA20FB4C, 0x16FC00}, {0xBB60FB4D, 0x16FC00},
    {0xBC80FB4E, 0x16FC00}, {0x1321109A, 0x8442E822}, {0x1361109C, 0x8442E822},
    {0x14A110AB, 0x8442E822}, {0x2621112E, 0x84449C22}, {0x2641112F, 0x84449C22},
    {0x68E1134B, 0x844CF822}, {0x68E1134C, 0x844D5C22}, {0x972114BB, 0x8452E822},
    {0x972114BC, 0x8452C022}, {0x972114BE, 0x8452F422}, {0xB70115BA, 0x8456BC22},
    {0xB72115BB, 0x8456BC22}, {0x26A11938, 0x8464C023}, {0x2AE1D15E, 0x745943A},
    {0x2B01D15F, 0x745943A}, {0x2BE1D160, 0x745B83A}, {0x2BE1D161, 0x745BC3A},
    {0x2BE1D162, 0x745C03A}, {0x2BE1D163, 0x745C43A}, {0x2BE1D164, 0x745C83A},
    {0x3721D1BB, 0x745943A}, {0x3741D1BC, 0x745943A}, {0x3761D1BD, 0x745B83A},
    {0x3781D1BE, 0x745B83A}, {0x3761D1BF, 0x745BC3A}, {0x3781D1C0, 0x745BC3A},
    {0xC7A2F800, 0x9}, {0xC702F801, 0x9}, {0xC822F802, 0x9}, {0x2442F803, 0x40},
    {0xEC02F804, 0x9}, {0xF5C2F805, 0x9}, {0xF762F806, 0x9}, {0x42F807, 0xA}, {0xF42F808, 0xA},
    {0x1322F809, 0xA}, {0x1CE2F80A, 0xA}, {0x19E2F80B, 0xA}, {0x93C2F80C, 0x6},
    {0xC742F80D, 0x40}, {0x29A2F80E, 0xA}, {0x2A82F80F, 0xA}, {0x2C82F810, 0xA},
    {0x2EE2F811, 0xA}, {0xA382F812, 0x40}, {0x9722F813, 0x6}, {0x2CE2F814, 0xA},
    {0x31A2F815, 0xA}, {0xA962F816, 0x40}, {0x32E2F817, 0xA}, {0x3482F818, 0xA},
    {0xD982F819, 0x9}, {0x3582F81A, 0xA}, {0x36A2F81B, 0xA}, {0x3BE2F81C, 0x52},
    {0x3EA2F81D, 0xA}, {0x4062F81E, 0xA}, {0x9BE2F81F, 0x6}, {0x4762F820, 0xA},
    {0x48C2F821, 0xA}, {0x4E42F822, 0xA}, {0x4EE2F823, 0xA}, {0xA2A2F824, 0x6},
    {0x58E2F825, 0xA}, {0x5922F826, 0xA}, {0x5C82F827, 0xA}, {0x5F42F828, 0xA},
    {0x60A2F829, 0xA}, {0x60C2F82A, 0xA}, {0x62E2F82B, 0xA}, {0x6922F82C, 0xA},
    {0x6A22F82D, 0xA}, {0x6B42F82E, 0xA}, {0x6E62F82F, 0xA}, {0x6FA2F830, 0xA},
    {0x6FE2F831, 0xA}, {0x6FE2F832, 0xA}, {0x6FE2F833, 0xA}, {0x4582F834, 0x41},
    {0xE02F835, 0xE}, {0x7942F836, 0xA}, {0x7BE2F837, 0xA}, {0x6C62F838, 0x41},
    {0x7D62F839, 0xA}, {0x7E22F83A, 0xA}, {0x80C2F83B, 0xA}, {0x93C2F83C, 0xA},
    {0x8702F83D, 0xA}, {0x8902F83E, 0xA}, {0x8D02F83F, 0xA}, {0x9442F840, 0xA},
    {0x9EC2F841, 0xA}, {0xA202F842, 0xA}, {0xAA62F843, 0xA}, {0xAC62F844, 0xA},
    {0xB082F845, 0xA}, {0xB082F846, 0xA}, {0xB322F847, 0xA}, {0xB562F848, 0xA},
    {0xB662F849, 0xA}, {0xB842F84A, 0xA}, {0xE2C2F84B, 0xA}, {0xC0C2F84C, 0xA},
    {0xE2E2F84D, 0xA}, {0xCA22F84E, 0xA}, {0xCE82F84F, 0xA}, {0x40E2F850, 0xA},
    {0x1DC2F851, 0xB}, {0xF9C2F852, 0xA}, {0xFE82F853, 0xA}, {0x1A2F854, 0xB},
    {0xF162F855, 0xA}, {0x642F856, 0xB}, {0x622F857, 0xB}, {0x1582F858, 0xB},
    {0x9C82F859, 0x42}, {0x1E42F85A, 0xB}, {0x1EE2F85B, 0xB}, {0x20C2F85C, 0xB},
    {0x2342F85D, 0xB}, {0x2442F85E, 0xB}, {0x2C42F85F, 0xB}, {0xD502F860, 0x42},
    {0xDD42F861, 0x42}, {0x3D82F862, 0xB}, {0x4362F863, 0xB}, {0x44E2F864, 0xB},
    {0x3B02F865, 0xB}, {0x4CC2F866, 0xB}, {0xDDC2F867, 0x6}, {0xDF82F868, 0x6},
    {0x6102F869, 0xB}, {0x67C2F86A, 0xB}, {0x67C2F86B, 0xB}, {0x3902F86C, 0x43},
    {0x7862F86D, 0xB}, {0x7B02F86E, 0xB}, {0x7CE2F86F, 0xB}, {0x7E62F870, 0xB},
    {0x6302F871, 0x43}, {0x7FE2F872, 0xB}, {0x80C2F873, 0xB}, {0xEA62F874, 0xB},
    {0x8442F875, 0xB}, {0xF022F876, 0x6}, {0x8C02F877, 0xB}, {0x8DC2F878, 0xB},
    {0x9802F879, 0xB}, {0x91A2F87A, 0xB}, {0xBC82F87B, 0x43}, {0xA862F87C, 0xB},
    {0xBCC2F87D, 0x43}, {0xADC2F87E, 0xB}, {0xAD62F87F, 0xB}, {0xAF82F880, 0xB},
    {0xBC22F881, 0xB}, {0xBC42F882, 0xB}, {0x5E2F883, 0x7}, {0xBFA2F884, 0xB},
    {0xC502F885, 0xB}, {0xC7A2F886, 0xB}, {0xCD22F887, 0xB}, {0xC42F888, 0x7},
    {0x3062F889, 0x44}, {0xF82F88A, 0x7}, {0xD602F88B, 0xB}, {0xD662F88C, 0xB},
    {0xD6C2F88D, 0xB}, {0xD942F88E, 0xB}, {0x7242F88F, 0x54}, {0xDFC2F890, 0xB},
    {0x6622F891, 0x44}, {0x6622F892, 0x44}, {0x4022F893, 0x10}, {0xE442F894, 0xB},
    {0xE442F895, 0xB}, {0x18E2F896, 0x7}, {0x5702F897, 0x46}, {0x3B42F898, 0x4C},
    {0xEC42F899, 0xB}, {0xED62F89A, 0xB}, {0x1C62F89B, 0x7}, {0xF342F89C, 0xB},
    {0xF9A2F89D, 0xB}, {0xFAE2F89E, 0xB}, {0xFF22F89F, 0xB}, {0x1022F8A0, 0xC},
    {0x2742F8A1, 0x7}, {0x2382F8A2, 0x7}, {0x1282F8A3, 0xC}, {0xDA82F8A4, 0x44},
    {0x18E2F8A5, 0xC}, {0x2902F8A6, 0xC}, {0x2982F8A7, 0xC}, {0x29C2F8A8, 0xC},
    {0x2982F8A9, 0xC}, {0x2F42F8AA, 0xC}, {0x31C2F8AB, 0xC}, {0x3642F8AC, 0xC},
    {0x3482F8AD, 0xC}, {0x35E2F8AE, 0xC}, {0x3BC2F8AF, 0xC}, {0x3E42F8B0, 0xC},
    {0x3EC2F8B1, 0xC}, {0x4202F8B2, 0xC}, {0x4362F8B3, 0xC}, {0x4BA2F8B4, 0xC},
    {0x5622F8B5, 0xC}, {0x5A82F8B6, 0xC}, {0x6A02F8B7, 0xC}, {0x6182F8B8, 0x45},
    {0x67A2F8B9, 0xC}, {0x5F82F8BA, 0xC}, {0x6D02F8BB, 0xC}, {0x7062F8BC, 0xC},
    {0x7C82F8BD, 0xC}, {0x7E22F8BE, 0x45}, {0x8442F8BF, 0xC}, {0x78A2F8C0, 0xC},
    {0x7522F8C1, 0xC}, {0x45C2F8C2, 0x7}, {0x8D22F8C3, 0xC}, {0x8FC2F8C4, 0xC},
    {0x93A2F8C5, 0xC}, {0x8EE2F8C6, 0xC}, {0x4D82F8C7, 0x7}, {0xA9E2F8C8, 0xC},
    {0xAD82F8C9, 0xC}, {0x142F8CA, 0x46}, {0xBC62F8CB, 0xC}, {0xDF02F8CC, 0xC},
    {0xC922F8CD, 0xC}, {0x6322F8CE, 0x7}, {0xD222F8CF, 0xC}, {0x6102F8D0, 0x7},
    {0x5C82F8D1, 0x7}, {0x3242F8D2, 0xA}, {0x32A2F8D3, 0xA}, {0xE002F8D4, 0xC},
    {0xD382F8D5, 0xC}, {0x15A2F8D6, 0x10}, {0x7B22F8D7, 0x8}, {0xE2E2F8D8, 0xC},
    {0xE362F8D9, 0xC}, {0xE422F8DA, 0xC}, {0xEBC2F8DB, 0xC}, {0xEA62F8DC, 0xC},
    {0x7862F8DD, 0x46}, {0x6922F8DE, 0x7}, {0xFF42F8DF, 0xC}, {0xF0A2F8E0, 0xC},
    {0xA42F8E1, 0xD}, {0x10A2F8E2, 0xD}, {0x8DA2F8E3, 0x46}, {0x11C2F8E4, 0xD},
    {0x3E2F8E5, 0xD}, {0x2282F8E6, 0xD}, {0x73A2F8E7, 0x7}, {0x2842F8E8, 0xD},
    {0x3462F8E9, 0xD}, {0x3D42F8EA, 0xD}, {0x5502F8EB, 0xD}, {0xD462F8EC, 0x46},
    {0x5B62F8ED, 0xD}, {0x8302F8EE, 0x7}, {0x6422F8EF, 0xD}, {0x14E2F8F0, 0x47},
    {0x6A82F8F1, 0xD}, {0x89C2F8F2, 0x7}, {0x6E42F8F3, 0xD}, {0x73E2F8F4, 0xD},
    {0x7742F8F5, 0xD}, {0x7762F8F6, 0xD}, {0x51A2F8F7, 0x47}, {0xA162F8F8, 0x43},
    {0x5F42F8F9, 0x47}, {0x89C2F8FA, 0xD}, {0x9782F8FB, 0x47}, {0x97E2F8FC, 0xD},
    {0x99A2F8FD, 0xD}, {0x8CE2F8FE, 0xD}, {0xA2C2F8FF, 0xD}, {0xA7C2F900, 0xD},
    {0xAEE2F901, 0xD}, {0xA822F902, 0xD}, {0xAD22F903, 0xD}, {0xAF02F904, 0xD},
    {0xB0A2F905, 0xD}, {0xA3C2F906, 0x47}, {0xA682F907, 0xD}, {0xC5E2F908, 0xD},
    {0xCDC2F909, 0xD}, {0xA662F90A, 0x7}, {0xD962F90B, 0xD}, {0xD8E2F90C, 0xD},
    {0xDA22F90D, 0x47}, {0xBF22F90E, 0xD}, {0xEDC2F90F, 0xD}, {0xEBC2F910, 0x47},
    {0xF1C2F911, 0x47}, {0xF8C2F912, 0xD}, {0x722F913, 0xE}, {0x3C2F914, 0xE},
    {0x362F915, 0xE}, {0xB2C2F916, 0x7}, {0x942F917, 0xE}, {0xFA2F918, 0xE}, {0xEE2F919, 0xE},
    {0x15A2F91A, 0xE}, {0xA4A2F91B, 0x40}, {0x28A2F91C, 0xE}, {0x4C62F91D, 0x48},
    {0x3382F91E, 0xE}, {0x7562F91F, 0x48}, {0x4502F920, 0xE}, {0x46A2F921, 0xE},
    {0x4A02F922, 0xE}, {0xC102F923, 0x48}, {0x5002F924, 0xE}, {0x52A2F925, 0xE},
    {0xE6A2F926, 0x48}, {0x282F927, 0x49}, {0x6F42F928, 0xE}, {0x7162F929, 0xE},
    {0xD582F92A, 0x7}, {0x74A2F92B, 0xE}, {0xD702F92C, 0x7}, {0xD702F92D, 0x7},
    {0x88E2F92E, 0xE}, {0x8B82F92F, 0xE}, {0x8E22F930, 0xE}, {0x90A2F931, 0xE},
    {0x9942F932, 0xE}, {0xE362F933, 0x7}, {0xA482F934, 0xE}, {0x86C2F935, 0x49},
    {0xA7C2F936, 0xE}, {0x9242F937, 0x49}, {0xAE02F938, 0xE}, {0x33E2F939, 0x44},
    {0xC202F93A, 0xE}, {0xF422F93B, 0x49}, {0xF702F93C, 0x49}, {0x882F93D, 0x4A},
    {0xFF82F93E, 0x7}, {0x102F93F, 0x8}, {0xDE82F940, 0xE}, {0x1E62F941, 0x4A},
    {0x1E42F942, 0x4A}, {0x2322F943, 0x4A}, {0x2662F944, 0x4A}, {0xE3C2F945, 0xE},
    {0xE3E2F946, 0xE}, {0xE3E2F947, 0xE}, {0xE942F948, 0xE}, {0x722F949, 0x8},
    {0xF162F94A, 0xE}, {0x8C2F94B, 0x8}, {0x12C2F94C, 0x8}, {0x83A2F94D, 0x4A},
    {0x9C2F94E, 0xF}, {0x1182F94F, 0xF}, {0x1982F950, 0xF}, {0x1C62F951, 0x8},
    {0xC4C2F952, 0x4A}, {0x2AC2F953, 0xF}, {0xD342F954, 0x4A}, {0xD8A2F955, 0x4A},
    {0x31E2F956, 0xF}, {0x3D62F957, 0xF}, {0x25E2F958, 0x8}, {0x4802F959, 0xF},
    {0x4942F95A, 0xF}, {0x49E2F95B, 0xF}, {0x2F82F95C, 0x4B}, {0x54E2F95D, 0x4B},
    {0x54E2F95E, 0x4B}, {0x5DC2F95F, 0xF}, {0x4042F960, 0x8}, {0x7562F961, 0x4B},
    {0x78C2F962, 0xF}, {0x7922F963, 0xF}, {0x44E2F964, 0x8}, {0x9002F965, 0x4B},
    {0x9A42F966, 0xF}, {0x5402F967, 0x8}, {0x9D02F968, 0xF}, {0x9C62F969, 0xF},
    {0xA002F96A, 0xF}, {0xF0C2F96B, 0x4B}, {0xAC62F96C, 0xF}, {0x6022F96D, 0x8},
    {0xB8E2F96E, 0xF}, {0xC042F96F, 0xF}, {0xC8A2F970, 0xF}, {0x6682F971, 0x8},
    {0x4502F972, 0x4C}, {0x48E2F973, 0x4C}, {0x6B22F974, 0x8}, {0x5B22F975, 0x4C},
    {0xEF42F976, 0xF}, {0x67C2F977, 0x4C}, {0xF2A2F978, 0xF}, {0xFF42F979, 0xF},
    {0xA2F97A, 0x10}, {0x9B42F97B, 0x4C}, {0xA462F97C, 0x4C}, {0xC02F97D, 0x10},
    {0xB502F97E, 0x4C}, {0xE02F97F, 0x10}, {0x6BE2F980, 0x46}, {0x7AA2F981, 0x8},
    {0x1642F982, 0x10}, {0x2062F983, 0x10}, {0x8162F984, 0x8}, {0x27C2F985, 0x10},
    {0x56A2F986, 0xB}, {0xF4E2F987, 0x4C}, {0xF6A2F988, 0x4C}, {0x7262F989, 0x46},
    {0x7382F98A, 0x46}, {0x4022F98B, 0x10}, {0x4082F98C, 0x10}, {0xF3C2F98D, 0x11},
    {0x8D62F98E, 0x8}, {0x5222F98F, 0x10}, {0x5162F990, 0x10}, {0x53A2F991, 0x10},
    {0x5662F992, 0xA}, {0x5622F993, 0x10}, {0x5662F994, 0x10}, {0x57A2F995, 0x10},
    {0x5CC2F996, 0x10}, {0x6782F997, 0x4D}, {0x5CA2F998, 0x10}, {0x63A2F999, 0x10},
    {0x6C62F99A, 0x10}, {0x75A2F99B, 0x10}, {0x6462F99C, 0x10}, {0x77A2F99D, 0x10},
    {0x7CE2F99E, 0x10}, {0x8AE2F99F, 0x10}, {0x6A62F9A0, 0x10}, {0x7942F9A1, 0x10},
    {0x7982F9A2, 0x10}, {0x7B82F9A3, 0x10}, {0x86C2F9A4, 0x4D}, {0xAD62F9A5, 0x4D},
    {0x9AA2F9A6, 0x4D}, {0xA562F9A7, 0x8}, {0x9E22F9A8, 0x10}, {0x9E62F9A9, 0x10},
    {0xA2C2F9AA, 0x10}, {0x7942F9AB, 0x4E}, {0xAC82F9AC, 0x10}, {0xE582F9AD, 0x4D},
    {0xABA2F9AE, 0x8}, {0xAC22F9AF, 0x8}, {0xF622F9B0, 0x4D}, {0x1A42F9B1, 0x4E},
    {0xAD62F9B2, 0x8}, {0xCA02F9B3, 0x10}, {0xCB82F9B4, 0x10}, {0xCCE2F9B5, 0x10},
    {0xCD22F9B6, 0x10}, {0xD522F9B7, 0x10}, {0xD102F9B8, 0x10}, {0xE1C2F9B9, 0x10},
    {0xDC42F9BA, 0x10}, {0xEF22F9BB, 0x10}, {0xE502F9BC, 0x10}, {0xED62F9BD, 0x10},
    {0xF0C2F9BE, 0x10}, {0xBAE2F9BF, 0x8}, {0xFC22F9C0, 0x10}, {0x22F9C1, 0x11},
    {0xBF22F9C2, 0x8}, {0xC02F9C3, 0x11}, {0xC62F9C4, 0x11}, {0xCCE2F9C5, 0x4E},
    {0x1AE2F9C6, 0x11}, {0x1BC2F9C7, 0x11}, {0xC6A2F9C8, 0x8}, {0x1F42F9C9, 0x11},
    {0x9762F9CA, 0x6}, {0x15C2F9CB, 0x4F}, {0x2CC2F9CC, 0x4F}, {0xD7C2F9CD, 0x8},
    {0xD8E2F9CE, 0x8}, {0x5402F9CF, 0x11}, {0x5DA2F9D0, 0x11}, {0x7142F9D1, 0x11},
    {0x8AA2F9D2, 0x11}, {0x9502F9D3, 0x4F}, {0x9562F9D4, 0x11}, {0x9822F9D5, 0x11},
    {0xA362F9D6, 0x11}, {0xAEE2F9D7, 0x11}, {0xE5E2F9D8, 0x4F}, {0x82F9D9, 0x41},
    {0xB962F9DA, 0x11}, {0xB782F9DB, 0x11}, {0xBE02F9DC, 0x11}, {0x1BC2F9DD, 0x41},
    {0xDA82F9DE, 0x11}, {0xE702F9DF, 0x11}, {0xBA42F9E0, 0x50}, {0xBDA2F9E1, 0x50},
    {0x1282F9E2, 0x12}, {0x1E22F9E3, 0x12}, {0x2222F9E4, 0x12}, {0xE5C2F9E5, 0x50},
    {0x2362F9E6, 0x12}, {0x4702F9E7, 0x12}, {0x5AE2F9E8, 0x12}, {0x5B02F9E9, 0x12},
    {0x4F82F9EA, 0x12}, {0x7F22F9EB, 0x12}, {0x82A2F9EC, 0x12}, {0x7F42F9ED, 0x51},
    {0xB162F9EE, 0x12}, {0x32A2F9EF, 0x9}, {0xB6E2F9F0, 0x12}, {0xAEE2F9F1, 0x51},
    {0x3CC2F9F2, 0x9}, {0xD862F9F3, 0x12}, {0xB642F9F4, 0xB}, {0xE462F9F5, 0x12},
    {0x28A2F9F6, 0x52}, {0x4342F9F7, 0x52}, {0x4DC2F9F8, 0x9}, {0x4EC2F9F9, 0x9},
    {0xFC02F9FA, 0x12}, {0x8142F9FB, 0x52}, {0x5642F9FC, 0x9}, {0x92C2F9FD, 0x52},
    {0x162F9FE, 0x13}, {0x162F9FF, 0x13}, {0x522FA00, 0x13}, {0xB6C2FA01, 0x52},
    {0x1C42FA02, 0x13}, {0x6662FA03, 0x9}, {0x2522FA04, 0x13}, {0x34E2FA05, 0x13},
    {0x3842FA06, 0x13}, {0x3FC2FA07, 0x13}, {0x79C2FA08, 0x9}, {0x6602FA09, 0x53},
    {0x6242FA0A, 0x13}, {0x8802FA0B, 0x13}, {0x9FA2FA0C, 0x13}, {0x99C2FA0D, 0x9},
    {0x9DA2FA0E, 0x9}, {0xACE2FA0F, 0x13}, {0x19C2FA10, 0x54}, {0x9F02FA11, 0x9},
    {0x20A2FA12, 0x54}, {0x41C2FA13, 0x54}, {0x5222FA14, 0x54}, {0xD762FA15, 0x13},
    {0xAAC2FA16, 0x9}, {0xDF22FA17, 0x13}, {0xDFC2FA18, 0x13}, {0xE0A2FA19, 0x13},
    {0xE1E2FA1A, 0x13}, {0xE2C2FA1B, 0x13}, {0xE762FA1C, 0x13}, {0xC002FA1D, 0x54}
};
static const uint16_t mod__nfc_comp[MOD__NFC_COMPS] = {
    912, 909, 913, 0, 1, 2, 3, 53, 55, 238, 4, 572, 5, 165, 208, 210, 570, 415, 57, 417, 419,
    421, 59, 61, 63, 65, 6, 425, 67, 427, 431, 433, 429, 7, 8, 9, 598, 69, 71, 73, 10, 596, 77,
    212, 214, 594, 240, 75, 439, 441, 445, 198, 79, 447, 81, 83, 187, 85, 87, 449, 453, 236,
    451, 455, 457, 11, 12, 13, 89, 91, 93, 97, 14, 610, 167, 216, 218, 612, 95, 459, 98, 463,
    189, 465, 100, 467, 102, 106, 469, 104, 475, 473, 477, 479, 481, 200, 108, 15, 483, 112,
    485, 110, 489, 487, 16, 17, 18, 19, 114, 116, 246, 20, 616, 118, 169, 220, 222, 161, 614,
    191, 499, 501, 120, 503, 124, 224, 226, 505, 122, 509, 126, 128, 511, 132, 513, 232, 130,
    521, 136, 523, 234, 134, 527, 525, 21, 22, 23, 138, 140, 142, 24, 640, 144, 146, 171, 228,
    230, 163, 638, 529, 148, 533, 531, 539, 541, 543, 545, 150, 549, 547, 551, 553, 555, 652,
    25, 152, 658, 250, 557, 154, 656, 654, 155, 559, 157, 159, 561, 563, 26, 27, 28, 29, 54,
    56, 239, 30, 573, 31, 166, 209, 211, 571, 416, 58, 418, 420, 422, 60, 62, 64, 66, 32, 426,
    68, 428, 432, 434, 430, 33, 34, 35, 599, 70, 72, 74, 36, 597, 78, 213, 215, 595, 241, 76,
    440, 442, 446, 199, 80, 448, 82, 84, 188, 86, 88, 450, 454, 237, 452, 456, 458, 565, 37,
    38, 39, 90, 92, 94, 40, 611, 168, 217, 219, 613, 96, 460, 99, 197, 464, 190, 466, 101, 468,
    103, 107, 470, 105, 476, 474, 478, 480, 482, 201, 109, 41, 484, 113, 486, 111, 490, 488,
    42, 43, 44, 45, 115, 117, 247, 46, 617, 119, 170, 221, 223, 162, 615, 192, 500, 502, 121,
    504, 125, 225, 227, 506, 123, 510, 127, 129, 512, 133, 514, 233, 131, 522, 566, 137, 524,
    235, 135, 528, 526, 47, 48, 49, 139, 141, 143, 50, 641, 145, 147, 172, 229, 231, 164, 639,
    530, 149, 534, 532, 540, 542, 544, 546, 151, 550, 548, 567, 552, 554, 556, 653, 51, 153,
    659, 251, 558, 52, 657, 568, 655, 156, 560, 158, 160, 562, 564, 875, 258, 835, 576, 574,
    580, 578, 181, 202, 204, 185, 423, 602, 600, 606, 604, 461, 620, 618, 624, 622, 491, 244,
    493, 242, 206, 179, 175, 173, 177, 577, 575, 581, 579, 182, 203, 205, 186, 424, 603, 601,
    607, 605, 462, 621, 619, 625, 623, 492, 245, 494, 243, 207, 180, 176, 174, 178, 586, 584,
    590, 588, 587, 585, 591, 589, 435, 437, 436, 438, 495, 497, 496, 498, 515, 516, 517, 518,
    535, 536, 537, 538, 569, 630, 628, 634, 632, 636, 631, 629, 635, 633, 637, 644, 642, 648,
    646, 650, 645, 643, 649, 647, 651, 195, 193, 194, 183, 184, 443, 444, 248, 249, 196, 831,
    259, 830, 829, 668, 669, 833, 841, 261, 682, 683, 843, 262, 696, 697, 845, 857, 263, 856,
    855, 268, 712, 713, 883, 264, 726, 727, 874, 872, 265, 871, 870, 269, 740, 885, 266, 752,
    753, 887, 826, 838, 760, 270, 823, 822, 660, 661, 827, 825, 762, 271, 676, 677, 764, 272,
    688, 689, 839, 837, 766, 273, 850, 849, 275, 704, 705, 853, 768, 277, 720, 721, 866, 867,
    770, 278, 863, 862, 276, 732, 733, 868, 772, 279, 744, 745, 881, 879, 851, 267, 854, 864,
    274, 869, 880, 280, 281, 285, 302, 304, 284, 282, 306, 283, 300, 310, 312, 287, 314, 289,
    316, 286, 318, 324, 288, 326, 328, 330, 332, 322, 303, 305, 293, 291, 307, 292, 301, 311,
    313, 296, 315, 290, 317, 295, 319, 325, 297, 327, 329, 331, 333, 323, 294, 298, 299, 308,
    309, 320, 321, 334, 335, 337, 336, 338, 340, 341, 339, 342, 343, 344, 353, 354, 365, 364,
    366, 369, 370, 372, 371, 373, 374, 377, 375, 376, 378, 379, 381, 380, 382, 383, 385, 384,
    403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 471, 472, 507, 508, 519, 520,
    582, 592, 583, 593, 608, 609, 626, 627, 662, 664, 666, 774, 663, 665, 667, 775, 776, 777,
    778, 779, 780, 781, 670, 672, 674, 782, 671, 673, 675, 783, 784, 785, 786, 787, 788, 789,
    678, 680, 679, 681, 684, 686, 685, 687, 690, 692, 694, 790, 691, 693, 695, 791, 792, 793,
    794, 795, 796, 797, 698, 700, 702, 798, 699, 701, 703, 799, 800, 801, 802, 803, 804, 805,
    706, 708, 710, 707, 709, 711, 714, 716, 718, 715, 717, 719, 722, 724, 723, 725, 728, 730,
    729, 731, 734, 736, 738, 735, 737, 739, 741, 742, 743, 746, 748, 750, 806, 747, 749, 751,
    807, 808, 809, 810, 811, 812, 813, 754, 756, 758, 814, 755, 757, 759, 815, 816, 817, 818,
    819, 820, 821, 824, 836, 878, 828, 846, 847, 848, 840, 882, 859, 860, 861, 894, 895, 896,
    897, 899, 898, 900, 901, 902, 903, 904, 905, 906, 907, 908, 911, 910, 914, 915, 916, 917,
    918, 919, 920, 921, 930, 931, 922, 923, 924, 925, 932, 933, 926, 927, 928, 929, 934, 935,
    936, 937, 966, 941, 942, 943, 944, 945, 946, 947, 948, 949, 950, 951, 952, 953, 954, 955,
    956, 957, 958, 959, 960, 961, 962, 963, 964, 965, 967, 993, 968, 969, 970, 971, 972, 973,
    974, 975, 976, 977, 978, 979, 980, 981, 982, 983, 984, 985, 986, 987, 988, 989, 990, 991,
    992, 994, 995, 996, 997, 998, 1493, 1494, 1495, 1496, 1497, 1498, 1499, 1501, 1500, 1502,
    1503, 1504, 1505
};
/* >>nfc-table end */
#else /* the loader refuses NFC tokenizers in such a build: one-entry stand-ins */
#define MOD__NFC_CCC_RUNS 1
#define MOD__NFC_DECOMPS 1
#define MOD__NFC_COMPS 1
#define MOD__NFC_MAX_DECOMP 4
#define MOD__NFC_MIN_SECOND 0x300
static const uint32_t mod__nfc_ccc[1] = { 0 };
static const uint32_t mod__nfc_decomp[1][2] = { { 0, 0 } };
static const uint16_t mod__nfc_comp[1] = { 0 };
#endif

enum {
    MOD__HANGUL_S = 0xAC00, MOD__HANGUL_L = 0x1100, MOD__HANGUL_V = 0x1161, MOD__HANGUL_T = 0x11A7,
    MOD__HANGUL_LN = 19, MOD__HANGUL_VN = 21, MOD__HANGUL_TN = 28, MOD__HANGUL_N = 588, MOD__HANGUL_SN = 11172
};
#define MOD__NFC_RAW 0x110000u /* MOD__NFC_RAW + b: the byte b, not part of a valid character */

static int mod__nfc_class(uint32_t cp) {
    int lo = 0, hi = MOD__NFC_CCC_RUNS - 1;
    if (cp < 0x300 || cp >= MOD__NFC_RAW) return 0;
    while (lo < hi) { /* the last run starting at or before cp */
        int mid = lo + (hi - lo + 1) / 2;
        if ((mod__nfc_ccc[mid] >> 8) <= cp) lo = mid; else hi = mid - 1;
    }
    return MOD__CAST(int, mod__nfc_ccc[lo] & 255u);
}

static uint32_t mod__nfc_cp(int e) { return mod__nfc_decomp[e][0] & 0x1FFFFFu; }
static uint32_t mod__nfc_first(int e) { return mod__nfc_decomp[e][0] >> 21 | (mod__nfc_decomp[e][1] & 0x3FFu) << 11; }
static uint32_t mod__nfc_second(int e) { return mod__nfc_decomp[e][1] >> 10 & 0x1FFFFFu; }

/* The decomposition entry of cp, or -1. */
static int mod__nfc_find(uint32_t cp) {
    int lo = 0, hi = MOD__NFC_DECOMPS - 1;
    if (cp < 0xC0 || cp >= MOD__NFC_RAW) return -1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        uint32_t c = mod__nfc_cp(mid);
        if (c == cp) return mid;
        if (c < cp) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

/* The full canonical decomposition of cp into d; its length, at most MOD__NFC_MAX_DECOMP. */
static int mod__nfc_decompose(uint32_t cp, uint32_t *d) {
    uint32_t stack[MOD__NFC_MAX_DECOMP];
    int n = 0, top = 0, e;
    if (cp - MOD__HANGUL_S < MOD__HANGUL_SN) {
        const uint32_t s = cp - MOD__HANGUL_S, t = s % MOD__HANGUL_TN;
        d[0] = MOD__HANGUL_L + s / MOD__HANGUL_N;
        d[1] = MOD__HANGUL_V + s % MOD__HANGUL_N / MOD__HANGUL_TN;
        d[2] = MOD__HANGUL_T + t;
        return t ? 3 : 2;
    }
    stack[top++] = cp;
    while (top > 0) { /* what the stack holds still yields at least one code point each */
        const uint32_t c = stack[--top];
        if ((e = mod__nfc_find(c)) < 0) { d[n++] = c; continue; }
        if (mod__nfc_second(e)) stack[top++] = mod__nfc_second(e);
        stack[top++] = mod__nfc_first(e);
    }
    return n;
}

/* The primary composite of a followed by b, or 0. */
static uint32_t mod__nfc_compose(uint32_t a, uint32_t b) {
    int lo = 0, hi = MOD__NFC_COMPS - 1;
    if (a - MOD__HANGUL_L < MOD__HANGUL_LN && b - MOD__HANGUL_V < MOD__HANGUL_VN)
        return MOD__HANGUL_S + ((a - MOD__HANGUL_L) * MOD__HANGUL_VN + (b - MOD__HANGUL_V)) * MOD__HANGUL_TN;
    if (a - MOD__HANGUL_S < MOD__HANGUL_SN && (a - MOD__HANGUL_S) % MOD__HANGUL_TN == 0 && b - MOD__HANGUL_T - 1 < MOD__HANGUL_TN - 1)
        return a + (b - MOD__HANGUL_T);
    if (b < MOD__NFC_MIN_SECOND || a >= MOD__NFC_RAW || b >= MOD__NFC_RAW) return 0;
    while (lo <= hi) {
        const int mid = lo + (hi - lo) / 2, e = mod__nfc_comp[mid];
        const uint32_t f = mod__nfc_first(e), s = mod__nfc_second(e);
        if (f == a && s == b) return mod__nfc_cp(e);
        if (f < a || (f == a && s < b)) lo = mid + 1; else hi = mid - 1;
    }
    return 0;
}

/* A place in the decomposed text: code point k of the decomposition of the character at
   byte i. */
typedef struct mod__nfc_pos {
    size_t i;
    int k;
} mod__nfc_pos;

/* The code point at p (i < n), and p moved to the next one. */
static uint32_t mod__nfc_next(const char *s, size_t n, mod__nfc_pos *p) {
    uint32_t d[MOD__NFC_MAX_DECOMP];
    size_t end;
    const int32_t c = mod__tok_char(s, 0, n, p->i, &end);
    const int k = p->k;
    int count;
    if (c < 0) {
        const uint32_t raw = MOD__NFC_RAW + MOD__CAST(unsigned char, s[p->i]);
        p->i = end;
        return raw;
    }
    count = mod__nfc_decompose(MOD__CAST(uint32_t, c), d);
    if (k + 1 < count) p->k = k + 1;
    else { p->i = end; p->k = 0; }
    return d[k];
}

/* The normalized text goes to out, cap bytes; len counts every byte, written or not. */
typedef struct mod__nfc_out {
    char *out;
    size_t cap, len;
} mod__nfc_out;

static void mod__nfc_put(mod__nfc_out *o, uint32_t cp) {
    char b[4];
    size_t n, k;
    if (cp >= MOD__NFC_RAW) { b[0] = MOD__CAST(char, cp - MOD__NFC_RAW); n = 1; }
    else if (cp < 0x80) { b[0] = MOD__CAST(char, cp); n = 1; }
    else if (cp < 0x800) { b[0] = MOD__CAST(char, 0xC0 | cp >> 6); b[1] = MOD__CAST(char, 0x80 | (cp & 63)); n = 2; }
    else if (cp < 0x10000) {
        b[0] = MOD__CAST(char, 0xE0 | cp >> 12); b[1] = MOD__CAST(char, 0x80 | (cp >> 6 & 63));
        b[2] = MOD__CAST(char, 0x80 | (cp & 63)); n = 3;
    } else {
        b[0] = MOD__CAST(char, 0xF0 | cp >> 18); b[1] = MOD__CAST(char, 0x80 | (cp >> 12 & 63));
        b[2] = MOD__CAST(char, 0x80 | (cp >> 6 & 63)); b[3] = MOD__CAST(char, 0x80 | (cp & 63)); n = 4;
    }
    for (k = 0; k < n; k++, o->len++)
        if (o->len < o->cap) o->out[o->len] = b[k];
}

/* The marks [a, b) in canonical order (by class, stable), each composed with *st (NULL: no
   starter) when not blocked, the others written to o (NULL: not written). Returns whether
   any mark stays, which blocks *st from composing with a following starter. */
static int mod__nfc_marks(const char *s, size_t n, mod__nfc_pos a, mod__nfc_pos b, uint32_t *st, mod__nfc_out *o) {
    int level = 0, last = 0, kept = 0;
    for (;;) {
        int next = 256; /* the lowest class above level */
        mod__nfc_pos p = a;
        while (p.i != b.i || p.k != b.k) {
            const uint32_t c = mod__nfc_next(s, n, &p);
            const int cc = mod__nfc_class(c);
            uint32_t x;
            if (cc > level && cc < next) next = cc;
            if (cc != level || level == 0) continue;
            /* blocked when a mark that stays before it has the same class */
            if (st && last < level && (x = mod__nfc_compose(*st, c)) != 0) { *st = x; continue; }
            last = level;
            kept = 1;
            if (o) mod__nfc_put(o, c);
        }
        if (next == 256) return kept;
        level = next;
    }
}

/* NFC of the n bytes at s, written to out as far as cap allows; returns the full length. */
static size_t mod__nfc(const char *s, size_t n, char *out, size_t cap) {
    mod__nfc_out o;
    mod__nfc_pos p, q, ma, mb;
    uint32_t st = 0, st0 = 0; /* the waiting starter, and what it was when its marks began */
    int have = 0, kept = 0;
    o.out = out; o.cap = cap; o.len = 0;
    p.i = 0; p.k = 0;
    ma = mb = p;
    while (p.i < n) {
        uint32_t c, x;
        q = p;
        c = mod__nfc_next(s, n, &q);
        if (mod__nfc_class(c) == 0) { /* a starter joins the waiting one, or replaces it */
            if (have && !kept && (x = mod__nfc_compose(st, c)) != 0) st = x;
            else {
                if (have) { mod__nfc_put(&o, st); mod__nfc_marks(s, n, ma, mb, &st0, &o); }
                st = c;
                have = 1;
            }
            p = q;
        }
        /* the marks that follow (at the start of the text, with no starter) */
        ma = mb = p;
        while (mb.i < n) {
            q = mb;
            if (mod__nfc_class(mod__nfc_next(s, n, &q)) == 0) break;
            mb = q;
        }
        st0 = st;
        kept = mod__nfc_marks(s, n, ma, mb, have ? &st : NULL, NULL);
        if (!have) mod__nfc_marks(s, n, ma, mb, NULL, &o);
        p = mb;
    }
    if (have) { mod__nfc_put(&o, st); mod__nfc_marks(s, n, ma, mb, &st0, &o); }
    return o.len;
}

/* Case-insensitive ASCII letter x (lower case) as Oniguruma's (?i) has it: 's' also matches
   U+017F (long s), whose case folding is 's'; no other character folds to these letters. */
static int mod__tok_ci(int32_t cp, int x) {
    return cp == x || cp == x - 32 || (x == 's' && cp == 0x17F);
}

/* End of the piece that starts at i < n under the Llama 3 pattern (max_digits 3)
     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
     \s*[\r\n]+|\s+(?!\S)|\s+
   or the Qwen2 pattern (max_digits 1: \p{N} instead of \p{N}{1,3}), with a backtracking
   engine's leftmost-alternative semantics: the first alternative that matches at i wins, and
   it takes what its greedy parts take. Every character matches some alternative, so the
   piece is never empty. */
static size_t mod__tok_llama3_split(const char *s, size_t pre, size_t n, size_t i, int max_digits) {
    size_t e, e1, j, last = i, nl = 0;
    int32_t c = mod__tok_char(s, pre, n, i, &e), c1;
    int cls = mod__tok_cp_class(c), count = 0;
    if (c == '\'' && e < n) { /* the contractions */
        c1 = mod__tok_char(s, pre, n, e, &e1);
        if (mod__tok_ci(c1, 's') || mod__tok_ci(c1, 't') || mod__tok_ci(c1, 'm') || mod__tok_ci(c1, 'd')) return e1;
        if ((mod__tok_ci(c1, 'r') || mod__tok_ci(c1, 'v') || mod__tok_ci(c1, 'l')) && e1 < n) {
            int32_t c2 = mod__tok_char(s, pre, n, e1, &j);
            if (mod__tok_ci(c2, mod__tok_ci(c1, 'l') ? 'l' : 'e')) return j;
        }
    }
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    j = cls == MOD__TOK_LETTER ? i : n;
    if (cls != MOD__TOK_LETTER && cls != MOD__TOK_DIGIT && c != '\r' && c != '\n' && e < n &&
        mod__tok_cp_class(mod__tok_char(s, pre, n, e, &e1)) == MOD__TOK_LETTER)
        j = e;
    if (j < n) {
        while (j < n && mod__tok_cp_class(mod__tok_char(s, pre, n, j, &e1)) == MOD__TOK_LETTER) j = e1;
        return j;
    }
    if (cls == MOD__TOK_DIGIT) { /* \p{N}{1,3} or \p{N} */
        for (j = e, count = 1; count < max_digits && j < n; j = e1, count++)
            if (mod__tok_cp_class(mod__tok_char(s, pre, n, j, &e1)) != MOD__TOK_DIGIT) break;
        return j;
    }
    /* " ?[^\s\p{L}\p{N}]+[\r\n]*" */
    j = n;
    if (cls == MOD__TOK_OTHER) j = i;
    else if (c == ' ' && e < n && mod__tok_cp_class(mod__tok_char(s, pre, n, e, &e1)) == MOD__TOK_OTHER) j = e;
    if (j < n) {
        while (j < n && mod__tok_cp_class(mod__tok_char(s, pre, n, j, &e1)) == MOD__TOK_OTHER) j = e1;
        while (j < n && (mod__tok_byte(s, pre, j) == '\r' || mod__tok_byte(s, pre, j) == '\n')) j++;
        return j;
    }
    /* c is a space: the run of spaces [i, j), its last character at last */
    for (j = i; j < n; j = e1) {
        c1 = mod__tok_char(s, pre, n, j, &e1);
        if (mod__tok_cp_class(c1) != MOD__TOK_SPACE) break;
        if (c1 == '\r' || c1 == '\n') nl = e1;
        last = j;
        count++;
    }
    if (nl) return nl;                   /* \s*[\r\n]+ ends after the run's last \r or \n */
    if (j < n && count > 1) return last; /* \s+(?!\S) leaves the last space to what follows */
    return j;                            /* \s+(?!\S) at the end of the text, or \s+ */
}

/* End of the piece that starts at i < n (n counts the prefix). */
static size_t mod__tok_split(const mod__vocab *v, const char *s, size_t pre, size_t n, size_t i) {
    switch (v->pretokenizer) {
    case MOD__PRETOK_GPT2: return mod__tok_gpt2_split(s, pre, n, i);
    case MOD__PRETOK_LLAMA3: return mod__tok_llama3_split(s, pre, n, i, 3);
    case MOD__PRETOK_QWEN2: return mod__tok_llama3_split(s, pre, n, i, 1);
    default: return n;
    }
}

/* The merge rule (left, right, result, rank) of a pair, or NULL. */
static inline const uint32_t *mod__tok_rule(const mod__vocab *v, uint32_t l, uint32_t r) {
    int lo = 0, hi = v->n_merges;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        const uint32_t *m = v->merges + 4 * (size_t)mid;
        if (m[0] < l || (m[0] == l && m[1] < r)) lo = mid + 1; else hi = mid;
    }
    if (lo < v->n_merges) {
        const uint32_t *m = v->merges + 4 * (size_t)lo;
        if (m[0] == l && m[1] == r) return m;
    }
    return NULL;
}

/* Kind 2's merge order as an unsigned key that puts high scores first: the float order of
   the scores (finite, the loader checks), with -0 equal to +0 as the float compare has it. */
static uint32_t mod__tok_score_key(float score) {
    uint32_t u;
    memcpy(&u, &score, sizeof u);
    if ((u & 0x7FFFFFFFu) == 0) u = 0;
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* now ascending with the score */
    return ~u;
}

/* A merge as key << 32 | the id of the merged token; the lowest key merges first. */
#define MOD__TOK_NONE (~MOD__CAST(uint64_t, 0)) /* no merge: ids are below 2^31 */

/* Kind 2: tokens a and b merge into the token of their joined text, keyed by its score,
   highest first. Byte-fallback tokens never merge, as in llama2.c and SentencePiece (there
   their "<0xXX>" text matches nothing). */
static uint64_t mod__tok_pair_scored(const mod__vocab *v, int32_t a, int32_t b) {
    size_t la, lb;
    const char *pa, *pb;
    int32_t id;
    if (v->types[a] == MOD__TOKEN_BYTE || v->types[b] == MOD__TOKEN_BYTE) return MOD__TOK_NONE;
    pa = mod__vocab_piece(v, a, &la);
    pb = mod__vocab_piece(v, b, &lb);
    if ((id = mod__vocab_lookup(v, pa, la, pb, lb)) < 0) return MOD__TOK_NONE;
    return MOD__CAST(uint64_t, mod__tok_score_key(v->scores[id])) << 32 | MOD__CAST(uint32_t, id);
}

/* The merge of tokens a, b, or MOD__TOK_NONE. Kinds 1 and 3: by the rule's rank. */
static inline uint64_t mod__tok_pair(const mod__vocab *v, int32_t a, int32_t b) {
    const uint32_t *m;
    if (v->kind == MOD__VOCAB_SCORED) return mod__tok_pair_scored(v, a, b);
    m = mod__tok_rule(v, MOD__CAST(uint32_t, a), MOD__CAST(uint32_t, b));
    return m ? MOD__CAST(uint64_t, m[3]) << 32 | m[2] : MOD__TOK_NONE;
}

/* Merges the n tokens t of one piece in place until no pair merges: each time the pair with
   the lowest key, the leftmost of equal keys (llama2.c's loop for kind 2). Every merge
   rescans all pairs, so this is quadratic in n; returns the new count. */
static int mod__tok_merge_inplace(const mod__vocab *v, int32_t *t, int n) {
    for (;;) {
        uint64_t best = MOD__TOK_NONE;
        int i, at = -1;
        for (i = 0; i + 1 < n; i++) {
            uint64_t p = mod__tok_pair(v, t[i], t[i + 1]);
            if (p != MOD__TOK_NONE && (at < 0 || p >> 32 < best >> 32)) {
                best = p;
                at = i;
            }
        }
        if (at < 0) return n;
        t[at] = MOD__CAST(int32_t, MOD__CAST(uint32_t, best));
        memmove(t + at + 1, t + at + 2, MOD__CAST(size_t, n - at - 2) * sizeof *t);
        n--;
    }
}

/* Pieces of more tokens than this merge through the priority queue; shorter ones rescan in
   place, which needs no scratch. Measured per piece, the queue is the faster from about 8
   tokens on, its allocation included, but below 16 either takes a microsecond or two; with
   16, ordinary prose split by the GPT-2 pretokenizer has no longer piece, so its calls
   allocate nothing and skip the scan that sizes the scratch (1 MB of prose, byte-level BPE:
   34.0 ms before the queue existed, 35.7 ms with 16, 36.5 ms with 8). The tests set it to 1
   to send every piece through the queue. */
#ifndef MOD__TOK_QUEUE_MIN
#define MOD__TOK_QUEUE_MIN 16
#endif

#ifndef MOD_NO_MALLOC
/* A queued pair: its key << 32 | the left symbol's position, and both symbols' lengths when
   it was queued. */
typedef struct mod__tok_cand {
    uint64_t key;
    int32_t llen, rlen;
} mod__tok_cand;

/* Scratch bytes per token of mod__tok_merge_queue: up to 2n queued pairs, len and prev. */
#define MOD__TOK_SCRATCH (2 * sizeof(mod__tok_cand) + 2 * sizeof(int32_t))

typedef struct mod__tok_queue {
    mod__tok_cand *heap;  /* binary min-heap on key */
    int32_t *len, *prev;  /* per position, see mod__tok_merge_queue */
    int n, count;         /* tokens of the piece, pairs in the heap */
} mod__tok_queue;

static void mod__tok_heap_push(mod__tok_queue *q, mod__tok_cand c) {
    int i = q->count++;
    MOD_ASSERT(q->count <= 2 * q->n);
    while (i > 0) {
        int parent = (i - 1) / 2;
        if (q->heap[parent].key <= c.key) break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = c;
}

/* Puts c in slot i, or below it where its children's keys are lower. */
static void mod__tok_heap_sift(mod__tok_queue *q, int i, mod__tok_cand c) {
    for (;;) {
        int k = 2 * i + 1;
        if (k >= q->count) break;
        if (k + 1 < q->count && q->heap[k + 1].key < q->heap[k].key) k++;
        if (c.key <= q->heap[k].key) break;
        q->heap[i] = q->heap[k];
        i = k;
    }
    q->heap[i] = c;
}

/* The pair of the symbol at l and the next one as a queue entry; 0 if they do not merge. */
static int mod__tok_cand_at(const mod__vocab *v, const mod__tok_queue *q, const int32_t *t, int l, mod__tok_cand *c) {
    int r = l + q->len[l];
    uint64_t p = mod__tok_pair(v, t[l], t[r]);
    if (p == MOD__TOK_NONE) return 0;
    c->key = p >> 32 << 32 | MOD__CAST(uint32_t, l);
    c->llen = q->len[l];
    c->rlen = q->len[r];
    return 1;
}

/* mod__tok_merge_inplace's result in O(n log n), with n * MOD__TOK_SCRATCH bytes of scratch.
   The symbol at position i holds t[i], the merge of tokens i .. i + len[i] - 1; the next
   symbol is at i + len[i], the previous one at prev[i]. The heap holds every adjacent pair
   that merges, ordered by (key, position), so it yields the lowest key and then the leftmost
   pair, as the rescan picks. Symbols only grow and a merged-away one gets length 0, so a
   popped pair whose two lengths have changed since it was queued is stale, and skipped. Each
   merge pops one pair and queues at most two, so the heap never holds more than 2n. */
static int mod__tok_merge_queue(const mod__vocab *v, int32_t *t, int n, void *scratch) {
    mod__tok_queue q;
    mod__tok_cand c;
    int i, k;
    q.heap = MOD__CAST(mod__tok_cand *, scratch);
    q.len = MOD__CAST(int32_t *, MOD__CAST(void *, q.heap + 2 * MOD__CAST(size_t, n)));
    q.prev = q.len + n;
    q.n = n;
    q.count = 0;
    for (i = 0; i < n; i++) {
        q.len[i] = 1;
        q.prev[i] = i - 1;
    }
    for (i = 0; i + 1 < n; i++)
        if (mod__tok_cand_at(v, &q, t, i, &c)) q.heap[q.count++] = c;
    for (i = q.count / 2 - 1; i >= 0; i--) mod__tok_heap_sift(&q, i, q.heap[i]);
    while (q.count) {
        int l, r, e;
        c = q.heap[0];
        if (--q.count) mod__tok_heap_sift(&q, 0, q.heap[q.count]);
        l = MOD__CAST(int, MOD__CAST(uint32_t, c.key));
        r = l + c.llen;
        if (q.len[l] != c.llen || q.len[r] != c.rlen) continue;
        t[l] = MOD__CAST(int32_t, MOD__CAST(uint32_t, mod__tok_pair(v, t[l], t[r])));
        q.len[l] += q.len[r];
        q.len[r] = 0;
        e = l + q.len[l];
        if (q.prev[l] >= 0 && mod__tok_cand_at(v, &q, t, q.prev[l], &c)) mod__tok_heap_push(&q, c);
        if (e < n) {
            q.prev[e] = l;
            if (mod__tok_cand_at(v, &q, t, l, &c)) mod__tok_heap_push(&q, c);
        }
    }
    for (i = k = 0; i < n; i += q.len[i]) t[k++] = t[i];
    return k;
}
#endif

/* The scratch of one mod_tokenize call: allocated once, at its first piece long enough for
   the queue, for the longest piece from there on; freed before the call returns. */
typedef struct mod__tok_scratch {
    void *block;
    size_t tokens;
} mod__tok_scratch;

/* Whether a piece of n tokens merges through the queue. */
static int mod__tok_queued(int n) {
#ifdef MOD_NO_MALLOC
    (void)n;
    return 0;
#else
    return n > MOD__TOK_QUEUE_MIN;
#endif
}

static mod_result mod__tok_reserve(mod__tok_scratch *s, size_t tokens, mod_error *err) {
#ifdef MOD_NO_MALLOC
    (void)s;
    return mod__fail(err, MOD_ERR_OUT_OF_MEMORY, "no scratch for a piece of %U tokens (MOD_NO_MALLOC)", (uint64_t)tokens);
#else
    if (s->block && s->tokens >= tokens) return MOD_OK;
    if (s->block) { /* kind 3 sizes it word by word: a longer word grows it */
        MOD_FREE(s->block);
        s->block = NULL;
    }
    if (tokens > SIZE_MAX / MOD__TOK_SCRATCH || !(s->block = MOD_MALLOC(tokens * MOD__TOK_SCRATCH)))
        return mod__fail(err, MOD_ERR_OUT_OF_MEMORY, "cannot allocate %U bytes of scratch for a piece of %U tokens",
                         (uint64_t)tokens * MOD__TOK_SCRATCH, (uint64_t)tokens);
    s->tokens = tokens;
    return MOD_OK;
#endif
}

/* Merges the n tokens t of one piece; returns the new count. A piece that goes through the
   queue needs the scratch reserved for at least n tokens. */
static int mod__tok_merge(const mod__vocab *v, int32_t *t, int n, const mod__tok_scratch *s) {
#ifndef MOD_NO_MALLOC
    if (mod__tok_queued(n)) {
        MOD_ASSERT(s->block && MOD__CAST(size_t, n) <= s->tokens);
        return mod__tok_merge_queue(v, t, n, s->block);
    }
#else
    (void)s;
#endif
    return mod__tok_merge_inplace(v, t, n);
}

/* The longest piece from position i on (the rest of the text without a pretokenizer). */
static size_t mod__tok_longest(const mod__vocab *v, const char *s, size_t pre, size_t n, size_t i) {
    size_t most = 0, e;
    if (v->pretokenizer == MOD__PRETOK_NONE) return n - i;
    for (; i < n; i = e) {
        e = mod__tok_split(v, s, pre, n, i);
        if (e - i > most) most = e - i;
    }
    return most;
}

/* Kind 1: each piece's bytes as tokens, merged by rank. n counts the prefix space. */
/* A byte with neither a token of its own nor a byte token: where it is, as a message. */
static mod_result mod__tok_no_byte(mod_error *err, unsigned char c, size_t at, int prefix) {
    static const char hex[] = "0123456789ABCDEF";
    char x[3];
    x[0] = hex[c >> 4]; x[1] = hex[c & 15]; x[2] = 0;
    if (prefix) return mod__fail(err, MOD_ERR_TOKENIZE, "the prefix space has no token and no byte token");
    return mod__fail(err, MOD_ERR_TOKENIZE, "byte %U of the text (0x%s) has no token and no byte token", (uint64_t)at, x);
}
static mod_result mod__tok_encode_ranked(const mod__vocab *v, const char *text, size_t pre, size_t n,
                                         int32_t *out, int *t, mod__tok_scratch *s, mod_error *err) {
    size_t i, e, k;
    int32_t *o = out + *t;  /* the next piece's tokens go here */
    for (i = 0; i < n; i = e) {
        int m = 0;
        mod_result r;
        e = mod__tok_split(v, text, pre, n, i);
        if (v->flags & MOD__TOK_WHOLE_PIECE) { /* a piece that is a normal token is that token (ignore_merges) */
            const int32_t id = i < pre ? mod__vocab_lookup(v, " ", 1, text, e - pre)
                                       : mod__vocab_lookup(v, text + (i - pre), e - i, "", 0);
            if (id >= 0) {
                *o++ = id;
                continue;
            }
        }
        for (k = i; k < e; k++) {
            const int c = mod__tok_byte(text, pre, k);
            const int32_t id = v->byte_token[c];
            if (id < 0) return mod__tok_no_byte(err, MOD__CAST(unsigned char, c), k - pre, k < pre);
            o[m++] = id;
        }
        /* reserved once for the longest piece from here on; with special tokens the text comes
           in several parts, and a later part may need more. The scan starts after this piece,
           whose bytes its tokens may have overwritten (NFC text lives in the token array). */
        if (mod__tok_queued(m) && (!s->block || s->tokens < MOD__CAST(size_t, m))) {
            size_t most = mod__tok_longest(v, text, pre, n, e);
            if ((r = mod__tok_reserve(s, most > MOD__CAST(size_t, m) ? most : MOD__CAST(size_t, m), err)) != MOD_OK) return r;
        }
        o += mod__tok_merge(v, o, m, s);
    }
    *t = MOD__CAST(int, o - out);
    return MOD_OK;
}

/* Kind 2: one character's normal token, else one byte token per byte. */
/* One character (n bytes at s; at is its offset in the text, the prefix space has none). */
static mod_result mod__tok_push_char(const mod__vocab *v, const char *s, size_t n, int32_t *out, int *t,
                                     size_t at, int prefix, mod_error *err) {
    int32_t id = mod__vocab_lookup(v, s, n, "", 0);
    size_t k;
    if (id >= 0) {
        out[(*t)++] = id;
        return MOD_OK;
    }
    for (k = 0; k < n; k++) {
        if ((id = v->byte_token[MOD__CAST(unsigned char, s[k])]) < 0)
            return mod__tok_no_byte(err, MOD__CAST(unsigned char, s[k]), at + k, prefix);
        out[(*t)++] = id;
    }
    return MOD_OK;
}

/* Kind 2: the characters' tokens, then the whole text merged by score. */
static mod_result mod__tok_encode_scored(const mod__vocab *v, const char *text, size_t len, size_t pre,
                                         int32_t *out, int *t, mod__tok_scratch *s, mod_error *err) {
    int first = *t, m;
    size_t i, e;
    mod_result r;
    /* llama2.c adds the prefix on its own, so it never takes in continuation bytes after it */
    if (pre && (r = mod__tok_push_char(v, " ", 1, out, t, 0, 1, err)) != MOD_OK) return r;
    for (i = 0; i < len; i = e) {
        /* llama2.c's characters: a byte and up to three continuation bytes, valid or not */
        for (e = i + 1; e < len && e - i < 4 && (MOD__CAST(unsigned char, text[e]) & 0xC0) == 0x80; e++) {}
        if ((r = mod__tok_push_char(v, text + i, e - i, out, t, i, 0, err)) != MOD_OK) return r;
    }
    m = *t - first;
    if (mod__tok_queued(m) && (r = mod__tok_reserve(s, MOD__CAST(size_t, m), err)) != MOD_OK) return r;
    *t = first + mod__tok_merge(v, out + first, m, s);
    return MOD_OK;
}

/* Kind 3 (SentencePiece-style BPE as Hugging Face tokenizers runs it). The vocabulary stores
   SentencePiece's U+2581 as a space, so normalizing the text maps both the space and U+2581 to
   a space. Pieces between added tokens are normalized separately (a space prepended by the
   prepend rule), split before each space with MOD__SP_SPLIT, and each word's characters
   become tokens (else byte tokens, else unk) that merge by rank. */
typedef struct mod__sp_out {
    int32_t *out;
    int n, cap;
} mod__sp_out;

static int mod__sp_push(mod__sp_out *o, int32_t id) {
    if (o->n >= o->cap) return 0;
    o->out[o->n++] = id;
    return 1;
}

/* Bytes of the character at s[0] (n > 0 bytes left): a valid UTF-8 sequence, else one byte. */
static size_t mod__sp_char_len(const char *s, size_t n) {
    const unsigned char c = MOD__CAST(unsigned char, s[0]);
    size_t l = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 1, k;
    if (l > n) return 1;
    for (k = 1; k < l; k++)
        if ((MOD__CAST(unsigned char, s[k]) & 0xC0) != 0x80) return 1;
    if (l == 3) { /* no overlong forms, no surrogates */
        const unsigned char c1 = MOD__CAST(unsigned char, s[1]);
        if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) return 1;
    } else if (l == 4) {
        const unsigned char c1 = MOD__CAST(unsigned char, s[1]);
        if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) return 1;
    }
    return l;
}

/* Whether the l bytes at s are a space once normalized: a space or U+2581. */
static int mod__sp_is_space(const char *s, size_t l) {
    return (l == 1 && s[0] == ' ') || (l == 3 && !memcmp(s, "\xE2\x96\x81", 3));
}

/* Where the next space (or U+2581) at or after `from` starts in t, or n. */
static size_t mod__sp_next_space(const char *t, size_t n, size_t from) {
    size_t l;
    for (; from < n; from += l) {
        l = mod__sp_char_len(t + from, n - from);
        if (mod__sp_is_space(t + from, l)) break;
    }
    return from;
}

/* One word: a space when pre, then the n bytes at t with each space or U+2581 read as a space;
   its characters' tokens, merged. at: the offset of t in the caller's text. */
static mod_result mod__sp_word(const mod__vocab *v, const char *t, size_t n, int pre, size_t at, mod__sp_out *o,
                               mod__tok_scratch *sc, mod_error *err) {
    size_t i, l;
    int first = o->n, m;
    int32_t unk = -1;
    mod_result r;
    if (v->sp_flags & MOD__SP_IGNORE_MERGES) { /* the whole word, if it is a token */
        char w[MOD__MAX_TOKEN_LEN];
        size_t k = 0;
        if (pre) w[k++] = ' ';
        for (i = 0; i < n && k < MOD__CAST(size_t, v->max_token_len); i += l) {
            l = mod__sp_char_len(t + i, n - i);
            if (mod__sp_is_space(t + i, l)) w[k++] = ' ';
            else if (k + l <= MOD__CAST(size_t, v->max_token_len)) { memcpy(w + k, t + i, l); k += l; }
            else break;
        }
        if (i >= n) {
            int32_t id = mod__vocab_lookup(v, w, k, "", 0);
            if (id >= 0) return mod__sp_push(o, id) ? MOD_OK : MOD_ERR_BUFFER_TOO_SMALL;
        }
    }
    for (i = 0; i < n + MOD__CAST(size_t, pre); i += l) {
        /* the character: the prepended space, or the next one of t */
        const char *c = pre && i == 0 ? " " : t + i - MOD__CAST(size_t, pre);
        int32_t id;
        int space;
        l = pre && i == 0 ? 1 : mod__sp_char_len(c, n + MOD__CAST(size_t, pre) - i);
        space = mod__sp_is_space(c, l);
        id = mod__vocab_lookup(v, space ? " " : c, space ? 1 : l, "", 0);
        if (id >= 0) {
            if (unk >= 0 && !mod__sp_push(o, unk)) return MOD_ERR_BUFFER_TOO_SMALL;
            unk = -1;
            if (!mod__sp_push(o, id)) return MOD_ERR_BUFFER_TOO_SMALL;
            continue;
        }
        if (v->sp_flags & MOD__SP_BYTE_FALLBACK) {
            /* the character's bytes as the normalized text has them: a space is U+2581 */
            const char *b = space ? "\xE2\x96\x81" : c;
            const size_t bl = space ? 3 : l;
            size_t k;
            for (k = 0; k < bl && v->byte_token[MOD__CAST(unsigned char, b[k])] >= 0; k++) {}
            if (k == bl) {
                /* a pending unk stays pending past byte tokens, as in Hugging Face's BPE */
                for (k = 0; k < bl; k++)
                    if (!mod__sp_push(o, v->byte_token[MOD__CAST(unsigned char, b[k])])) return MOD_ERR_BUFFER_TOO_SMALL;
                continue;
            }
        }
        if (v->unk < 0) {
            /* Hugging Face drops the character; an exact encoder can only refuse the text */
            if (space) return mod__fail(err, MOD_ERR_TOKENIZE, "a space has no token, no byte tokens and there is no unk token");
            return mod__tok_no_byte(err, MOD__CAST(unsigned char, c[0]), at + i - MOD__CAST(size_t, pre), 0);
        }
        if (unk >= 0 && !(v->sp_flags & MOD__SP_FUSE_UNK) && !mod__sp_push(o, unk)) return MOD_ERR_BUFFER_TOO_SMALL;
        unk = v->unk;
    }
    if (unk >= 0 && !mod__sp_push(o, unk)) return MOD_ERR_BUFFER_TOO_SMALL;
    m = o->n - first;
    if (mod__tok_queued(m) && (r = mod__tok_reserve(sc, MOD__CAST(size_t, m), err)) != MOD_OK) return r;
    o->n = first + mod__tok_merge(v, o->out + first, m, sc);
    return MOD_OK;
}

/* One piece of text between added tokens (at: its offset in the text): the prepend rule, the
   split before each space, then each word. */
static mod_result mod__sp_piece(const mod__vocab *v, const char *t, size_t n, size_t at, mod__sp_out *o,
                                mod__tok_scratch *sc, mod_error *err) {
    size_t i = 0, e;
    int lead, pre;
    mod_result r;
    if (n == 0) return MOD_OK;
    lead = mod__sp_is_space(t, mod__sp_char_len(t, n));
    pre = v->prepend == MOD__SP_PREPEND_EACH || (v->prepend == MOD__SP_PREPEND_ALWAYS && !lead) ||
          (v->prepend == MOD__SP_PREPEND_FIRST && !lead && at == 0);
    if (!(v->sp_flags & MOD__SP_SPLIT)) return mod__sp_word(v, t, n, pre, at, o, sc, err);
    if (pre) { /* the prepended space starts the first word */
        e = mod__sp_next_space(t, n, 0);
        if ((r = mod__sp_word(v, t, e, 1, at, o, sc, err)) != MOD_OK) return r;
        i = e;
    }
    for (; i < n; i = e) {
        e = mod__sp_next_space(t, n, i + mod__sp_char_len(t + i, n - i));
        if ((r = mod__sp_word(v, t + i, e - i, 0, at + i, o, sc, err)) != MOD_OK) return r;
    }
    return MOD_OK;
}

/* The longest added token that may match at t (n bytes left), as its index, or -1 (any kind
   with an added-token table). */
static int mod__added_at(const mod__vocab *v, const char *t, size_t n, int special) {
    int best = -1, lo = 0;
    size_t l, most = n < MOD__CAST(size_t, v->max_added_len) ? n : MOD__CAST(size_t, v->max_added_len);
    for (l = 1; l <= most; l++) {
        /* the first entry not below t[0, l); none starts with t[0, l) when it does not */
        int a = lo, b = v->n_added;
        const uint32_t *e;
        while (a < b) {
            int mid = a + (b - a) / 2;
            e = v->added + 4 * (size_t)mid;
            if (mod__bytes_cmp(v->strings + e[2], e[3], t, l) < 0) a = mid + 1; else b = mid;
        }
        if (a == v->n_added) break;
        e = v->added + 4 * (size_t)a;
        if (e[3] < l || memcmp(v->strings + e[2], t, l) != 0) break;
        lo = a;
        if (e[3] == l && (special || !(e[1] & MOD__ADDED_SPECIAL))) best = a;
    }
    return best;
}

static mod_result mod__sp_encode(const mod__vocab *v, const char *text, size_t len, int flags, int32_t *out,
                                 int *t, int cap, mod__tok_scratch *sc, mod_error *err) {
    mod__sp_out o;
    size_t i = 0, start = 0;
    mod_result r = MOD_OK;
    o.out = out; o.n = *t; o.cap = cap;
    while (r == MOD_OK && i < len) {
        int a = v->n_added ? mod__added_at(v, text + i, len - i, flags & MOD_TOKENIZE_SPECIAL) : -1;
        if (a < 0) { i++; continue; }
        r = mod__sp_piece(v, text + start, i - start, start, &o, sc, err);
        if (r == MOD_OK && !mod__sp_push(&o, MOD__CAST(int32_t, v->added[4 * (size_t)a]))) r = MOD_ERR_BUFFER_TOO_SMALL;
        i += v->added[4 * (size_t)a + 3];
        start = i;
    }
    if (r == MOD_OK) r = mod__sp_piece(v, text + start, len - start, start, &o, sc, err);
    if (r == MOD_ERR_BUFFER_TOO_SMALL) return mod__fail(err, r, "capacity %d tokens is too small for this text; %U always suffice", cap, 3 * (uint64_t)len + 2);
    *t = o.n;
    return r;
}

static mod_result mod__tok_full(mod_error *err, int cap) {
    return mod__fail(err, MOD_ERR_BUFFER_TOO_SMALL, "capacity %d tokens is too small for this text", cap);
}

/* Kinds 1 and 2: the text of len bytes (pre: the prefix space before it, 0 or 1), into out,
   whose *t tokens so far leave cap - *t free.
   With NFC (flag bit 2) the text is normalized into the free end of out itself, so encoding
   needs no buffer of its own, with or without an allocator. The normalized text ends at
   out's end; the tokens are written from out + *t on, at most one per byte read so far before
   merging, and a token is 4 bytes: when *t + pre + the normalized length is at most cap,
   they never reach a byte not yet read (tokens for the first k bytes end at byte 4 (*t + k)
   of out, the unread text starts at byte 4 cap - n + k). A text that does not fit is
   MOD_ERR_BUFFER_TOO_SMALL, as a longer text would be. Positions in error messages are then
   positions in the normalized text. */
static mod_result mod__tok_encode_12(const mod__vocab *v, const char *text, size_t len, size_t pre,
                                     int32_t *out, int *t, int cap, mod__tok_scratch *s, mod_error *err) {
    if ((v->flags & MOD__TOK_NFC) && len > 0) {
        char *room = MOD__CAST(char *, MOD__CAST(void *, out + *t));
        const size_t free_tokens = MOD__CAST(size_t, cap - *t), free_bytes = free_tokens * sizeof *out;
        const size_t n = mod__nfc(text, len, room, free_bytes);
        if (n + pre > free_tokens)
            return mod__fail(err, MOD_ERR_BUFFER_TOO_SMALL, "capacity %d tokens is too small for this text once normalized (NFC, %U bytes)",
                             cap, (uint64_t)n);
        memmove(room + free_bytes - n, room, n);
        text = room + free_bytes - n;
        len = n;
    } else if (len + pre > MOD__CAST(size_t, cap - *t)) /* kind 2's prefix before each piece */
        return mod__fail(err, MOD_ERR_BUFFER_TOO_SMALL, "capacity %d tokens is too small for this text", cap);
    return v->kind == MOD__VOCAB_BYTE_BPE ? mod__tok_encode_ranked(v, text, pre, len + pre, out, t, s, err)
                        : mod__tok_encode_scored(v, text, len, pre, out, t, s, err);
}

/* The prefix space (pre, 0 or 1) of the piece of text that starts at byte start, when the text
   splits at added or special tokens: kind 1 puts it before the text's first piece only; kind 2
   before every piece, the first and each one after such a token, as llama.cpp's SentencePiece
   tokenizer and Hugging Face's Prepend normalizer do. */
static size_t mod__tok_piece_pre(const mod__vocab *v, size_t start, size_t pre) {
    return start == 0 || v->kind == MOD__VOCAB_SCORED ? pre : 0;
}

/* Kinds 1 and 2 without an added-token table: with MOD_TOKENIZE_SPECIAL their special tokens
   are the control tokens that have text, the longest one that starts at the leftmost position
   first (the lowest id among equal texts). ids: up to MOD__TOK_SPECIALS of them, else NULL
   and every token is looked at. */
#define MOD__TOK_SPECIALS 256
static int32_t mod__tok_control_at(const mod__vocab *v, const char *t, size_t n, const int32_t *ids, int count) {
    int32_t best = -1;
    size_t best_len = 0;
    int i, total = ids ? count : v->n_tokens;
    for (i = 0; i < total; i++) {
        const int32_t id = ids ? ids[i] : MOD__CAST(int32_t, i);
        size_t l;
        if (!ids && v->types[id] != MOD__TOKEN_CONTROL) continue;
        l = v->offsets[id + 1] - v->offsets[id];
        if (l == 0 || l > n || l <= best_len || memcmp(v->strings + v->offsets[id], t, l) != 0) continue;
        best = id;
        best_len = l;
    }
    return best;
}

static mod_result mod__tok_encode_special(const mod__vocab *v, const char *text, size_t len, size_t pre,
                                          int32_t *out, int *t, int cap, mod__tok_scratch *s, mod_error *err) {
    int32_t ids[MOD__TOK_SPECIALS];
    unsigned char first[32];
    int count = 0, i;
    size_t at = 0, start = 0;
    mod_result r;
    memset(first, 0, sizeof first);
    for (i = 0; i < v->n_tokens; i++) {
        unsigned char c;
        if (v->types[i] != MOD__TOKEN_CONTROL || v->offsets[i + 1] == v->offsets[i]) continue;
        c = MOD__CAST(unsigned char, v->strings[v->offsets[i]]);
        first[c >> 3] = MOD__CAST(unsigned char, first[c >> 3] | 1u << (c & 7));
        if (count < MOD__TOK_SPECIALS) ids[count] = MOD__CAST(int32_t, i);
        count++;
    }
    while (at < len) {
        const unsigned char c = MOD__CAST(unsigned char, text[at]);
        int32_t id = (first[c >> 3] >> (c & 7)) & 1 ? mod__tok_control_at(v, text + at, len - at, count <= MOD__TOK_SPECIALS ? ids : NULL, count) : -1;
        if (id < 0) { at++; continue; }
        if (at > start && (r = mod__tok_encode_12(v, text + start, at - start, mod__tok_piece_pre(v, start, pre), out, t, cap, s, err)) != MOD_OK) return r;
        if (*t >= cap) return mod__tok_full(err, cap); /* only NFC or kind 2's prefixes fill it so soon */
        out[(*t)++] = id;
        at += v->offsets[id + 1] - v->offsets[id];
        start = at;
    }
    return start < len ? mod__tok_encode_12(v, text + start, len - start, mod__tok_piece_pre(v, start, pre), out, t, cap, s, err) : MOD_OK;
}

/* Kinds 1 and 2 with an added-token table: the text splits at added tokens as kind 3's does
   (the longest added text at each position; special ones only with MOD_TOKENIZE_SPECIAL), each
   piece between them encoded (and normalized) on its own, with the prefix space of
   mod__tok_piece_pre. Every added token takes at least one byte of text for its one token. */
static mod_result mod__tok_encode_added(const mod__vocab *v, const char *text, size_t len, size_t pre, int flags,
                                        int32_t *out, int *t, int cap, mod__tok_scratch *s, mod_error *err) {
    size_t i = 0, start = 0;
    mod_result r;
    while (i < len) {
        const int a = mod__added_at(v, text + i, len - i, flags & MOD_TOKENIZE_SPECIAL);
        if (a < 0) { i++; continue; }
        if (i > start && (r = mod__tok_encode_12(v, text + start, i - start, mod__tok_piece_pre(v, start, pre), out, t, cap, s, err)) != MOD_OK) return r;
        if (*t >= cap) return mod__tok_full(err, cap); /* only NFC or kind 2's prefixes fill it so soon */
        out[(*t)++] = MOD__CAST(int32_t, v->added[4 * (size_t)a]);
        i += v->added[4 * (size_t)a + 3];
        start = i;
    }
    return start < len ? mod__tok_encode_12(v, text + start, len - start, mod__tok_piece_pre(v, start, pre), out, t, cap, s, err) : MOD_OK;
}

/* Every text byte yields at most one token before merging, plus BOS and the prefix space: a
   buffer of len + 2 tokens holds the unmerged tokens, and merging only shrinks them (a
   special token takes at least one byte). NFC may lengthen the text up to three times (UAX
   #15's bound for UTF-8), so 3 len + 2 suffice then; kind 2's prefix space before each piece
   after an added or special token (of one byte or more) adds at most one token per such
   token, so 2 len + 2 suffice there. mod__tok_encode_12 checks as it goes. */
static mod_result mod__vocab_encode(const mod__vocab *v, const char *text, size_t len, int flags,
                                    int32_t *out, int cap, int *n_out, mod_error *err) {
    size_t pre = v->kind != MOD__VOCAB_SP && (v->flags & MOD__TOK_PREFIX_SPACE) && len > 0;
    mod__tok_scratch s;
    mod_result r;
    int t = 0;
    *n_out = 0;
    if (cap < 2 || len > MOD__CAST(size_t, cap) - 2) {
        size_t int_max = MOD__CAST(unsigned, -1) >> 1;
        *n_out = len < int_max - 2 ? MOD__CAST(int, len) + 2 : MOD__CAST(int, int_max);
        return mod__fail(err, MOD_ERR_BUFFER_TOO_SMALL, "capacity %d tokens; a text of %U bytes needs up to %U",
                         cap, (uint64_t)len, (uint64_t)len + 2);
    }
    if (flags & MOD_TOKENIZE_BOS) {
        if (v->bos < 0) return mod__fail(err, MOD_ERR_TOKENIZE, "MOD_TOKENIZE_BOS is set but the model has no BOS token");
        out[t++] = v->bos;
    }
    s.block = NULL;
    s.tokens = 0;
    r = v->kind == MOD__VOCAB_SP ? mod__sp_encode(v, text, len, flags, out, &t, cap, &s, err)
      : v->n_added ? mod__tok_encode_added(v, text, len, pre, flags, out, &t, cap, &s, err)
      : flags & MOD_TOKENIZE_SPECIAL ? mod__tok_encode_special(v, text, len, pre, out, &t, cap, &s, err)
                                     : mod__tok_encode_12(v, text, len, pre, out, &t, cap, &s, err);
    if (s.block) MOD_FREE(s.block);
    if (r == MOD_OK) *n_out = t;
    else if (r == MOD_ERR_BUFFER_TOO_SMALL) {
        const size_t int_max = MOD__CAST(unsigned, -1) >> 1;
        *n_out = len < (int_max - 2) / 3 ? 3 * MOD__CAST(int, len) + 2 : MOD__CAST(int, int_max);
    }
    return r;
}

/* Writes the whole pieces that fit, so nothing lands past cap; *len is always the full size. */
static mod_result mod__vocab_decode(const mod__vocab *v, const int32_t *tokens, int n, char *out,
                                    size_t cap, size_t *len) {
    size_t need = 0;
    int i, drop_space = v->kind == MOD__VOCAB_SP ? v->decode_strip == MOD__SP_STRIP_ONE : v->flags & MOD__TOK_PREFIX_SPACE;
    int first_token = v->kind == MOD__VOCAB_SP && v->decode_strip == MOD__SP_STRIP_FIRST_TOKEN;
    *len = 0;
    for (i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= v->vocab_size) return MOD_ERR_BAD_TOKEN;
    for (i = 0; i < n; i++) {
        size_t l;
        const char *p = mod__vocab_piece(v, tokens[i], &l);
        if (l == 0) continue;
        if (first_token) { /* Metaspace's decoder: the first token loses all its spaces */
            size_t k;
            first_token = 0;
            if (v->types[tokens[i]] == MOD__TOKEN_NORMAL) {
                for (k = 0; k < l; k++) {
                    if (p[k] == ' ') continue;
                    if (need < cap) out[need] = p[k];
                    need++;
                }
                continue;
            }
        }
        if (drop_space && p[0] == ' ') { p++; l--; }
        drop_space = 0;
        if (l > (size_t)-1 - need) { *len = (size_t)-1; return MOD_ERR_BUFFER_TOO_SMALL; }
        if (l && need + l <= cap) memcpy(out + need, p, l);
        need += l;
    }
    *len = need;
    return need <= cap ? MOD_OK : MOD_ERR_BUFFER_TOO_SMALL;
}


mod_result mod_tokenize(const mod_model *m, const char *text, size_t len, int flags,
                        int32_t *tokens, int capacity, int *n_tokens, mod_error *err) {
    if (err) { err->code = MOD_OK; err->message[0] = 0; }
    if (n_tokens) *n_tokens = 0;
    if (!m) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "model is NULL");
    if (!text && len) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "text is NULL but len is %U", (uint64_t)len);
    if (!tokens || !n_tokens) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "%s is NULL", tokens ? "n_tokens" : "tokens");
    if (capacity < 0) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "capacity %d is negative", capacity);
    if (flags & ~(MOD_TOKENIZE_BOS | MOD_TOKENIZE_SPECIAL)) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "unknown flags %d", flags);
    if (!m->has_vocab) return mod__fail(err, MOD_ERR_NO_TOKENIZER, "the model file has no tokenizer");
    return mod__vocab_encode(&m->vocab, text ? text : "", len, flags, tokens, capacity, n_tokens, err);
}

mod_result mod_detokenize(const mod_model *m, const int32_t *tokens, int n, char *out,
                          size_t capacity, size_t *len) {
    if (len) *len = 0;
    if (!m || (!tokens && n) || n < 0 || (!out && capacity) || !len) return MOD_ERR_INVALID_ARGUMENT;
    if (!m->has_vocab) return MOD_ERR_NO_TOKENIZER;
    return mod__vocab_decode(&m->vocab, tokens, n, out, capacity, len);
}

const char *mod_token_bytes(const mod_model *m, int32_t token, size_t *len) {
    size_t dummy;
    if (!len) len = &dummy;
    *len = 0;
    if (!m || !m->has_vocab) return NULL;
    return mod__vocab_piece(&m->vocab, token, len);
}

int32_t mod_token_bos(const mod_model *m) { return m && m->has_vocab ? m->vocab.bos : -1; }
int32_t mod_token_eos(const mod_model *m) { return m && m->has_vocab ? m->vocab.eos : -1; }

/* ======================================================================================= */
/* >>chat      Chat formats: recognising a template, rendering a conversation in steps    */
/* ======================================================================================= */

/* Each format is the text its family's template writes (tokenizer_config.json's Jinja, as
   Hugging Face transformers runs it), as pieces per message: a start (the role's header), the
   content, an end. The assistant's start is the generation prompt, so a render that ended
   with it continues with the reply's content. Output goes through a bounded writer that
   counts what it could not write, so one pass gives both the text and its length. */

typedef struct mod__chat_out {
    char *p;
    size_t cap, len;
} mod__chat_out;

static void mod__chat_put(mod__chat_out *o, const char *s, size_t n) {
    if (o->len < o->cap) {
        size_t k = o->cap - o->len < n ? o->cap - o->len : n;
        memcpy(o->p + o->len, s, k);
    }
    o->len = n > SIZE_MAX - o->len ? SIZE_MAX : o->len + n;
}
static void mod__chat_puts(mod__chat_out *o, const char *s) { mod__chat_put(o, s, strlen(s)); }

/* Bytes of the whitespace character at s, 0 if none: Python's str.isspace (Jinja's trim and
   str.strip), i.e. U+0009-000D, U+001C-0020, U+0085, U+00A0, U+1680, U+2000-200A, U+2028,
   U+2029, U+202F, U+205F, U+3000. A lead byte is never a continuation byte, so a byte-wise
   scan of UTF-8 meets these only where a character starts. */
static size_t mod__chat_space(const unsigned char *s, size_t n) {
    if ((s[0] >= 0x09 && s[0] <= 0x0D) || (s[0] >= 0x1C && s[0] <= 0x20)) return 1;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
    if (n < 3) return 0;
    if (s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) return 3;
    if (s[0] == 0xE2 && s[1] == 0x80 && ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF)) return 3;
    if (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) return 3;
    if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3;
    return 0;
}

/* Writes the concatenation of k strings with leading and trailing whitespace stripped, as
   str.strip() of their sum would (whitespace may span the strings). */
static void mod__chat_put_stripped(mod__chat_out *o, const char *const *seg, int k) {
    int first = -1, last = -1, i;
    size_t from = 0, to = 0;
    for (i = 0; i < k; i++) {
        const unsigned char *s = MOD__CAST(const unsigned char *, MOD__CAST(const void *, seg[i]));
        size_t n = strlen(seg[i]), j = 0, w;
        while (j < n) {
            if ((w = mod__chat_space(s + j, n - j)) != 0) { j += w; continue; }
            if (first < 0) { first = i; from = j; }
            last = i;
            to = ++j;
        }
    }
    for (i = first; first >= 0 && i <= last; i++) {
        size_t a = i == first ? from : 0, b = i == last ? to : strlen(seg[i]);
        mod__chat_put(o, seg[i] + a, b - a);
    }
}

/* A Jinja string literal's body: \n, \t, \r, \\, \' and \" stand for what they escape. */
static void mod__chat_put_literal(mod__chat_out *o, const char *s, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            const char e = s[++i];
            c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
            if (e != 'n' && e != 't' && e != 'r' && e != '\\' && e != '\'' && e != '"') mod__chat_put(o, "\\", 1);
        }
        mod__chat_put(o, &c, 1);
    }
}

static const char *const mod__chat_names[MOD_CHAT_FORMAT_COUNT] = { NULL, "llama2", "llama3", "chatml", "gemma" };
static const char *const mod__chat_turn_ends[MOD_CHAT_FORMAT_COUNT] = { NULL, "</s>", "<|eot_id|>", "<|im_end|>", "<end_of_turn>" };

const char *mod_chat_format_name(mod_chat_format f) {
    return (unsigned)f - 1u < (unsigned)MOD_CHAT_FORMAT_COUNT - 1u ? mod__chat_names[f] : NULL;
}

mod_chat_format mod_chat_format_by_name(const char *name) {
    int f;
    const size_t n = name ? strlen(name) : 0;
    for (f = 1; name && f < MOD_CHAT_FORMAT_COUNT; f++) /* no strcmp: the firmware links only the memory functions */
        if (n == strlen(mod__chat_names[f]) && memcmp(name, mod__chat_names[f], n) == 0) return MOD__CAST(mod_chat_format, f);
    return MOD_CHAT_NONE;
}

const char *mod_chat_turn_end(mod_chat_format f) {
    return (unsigned)f - 1u < (unsigned)MOD_CHAT_FORMAT_COUNT - 1u ? mod__chat_turn_ends[f] : NULL;
}

/* The first occurrence of the NUL-terminated needle in s[from, n), or MOD__CHAT_NOT_FOUND. */
#define MOD__CHAT_NOT_FOUND (~MOD__CAST(size_t, 0))
static size_t mod__chat_find(const char *s, size_t n, size_t from, const char *needle) {
    const size_t k = strlen(needle);
    size_t i;
    for (i = from; k <= n && i <= n - k; i++)
        if (s[i] == needle[0] && memcmp(s + i, needle, k) == 0) return i;
    return MOD__CHAT_NOT_FOUND;
}
static int mod__chat_has(const char *s, size_t n, const char *needle) { return mod__chat_find(s, n, 0, needle) != MOD__CHAT_NOT_FOUND; }

mod_chat_format mod_chat_format_detect(const char *t, size_t n) {
    if (!t) return MOD_CHAT_NONE;
    if (mod__chat_has(t, n, "<|start_header_id|>") && mod__chat_has(t, n, "<|end_header_id|>") && mod__chat_has(t, n, "<|eot_id|>"))
        return MOD_CHAT_LLAMA3;
    if (mod__chat_has(t, n, "<|im_start|>") && mod__chat_has(t, n, "<|im_end|>")) return MOD_CHAT_CHATML;
    if (mod__chat_has(t, n, "<start_of_turn>") && mod__chat_has(t, n, "<end_of_turn>")) return MOD_CHAT_GEMMA;
    if (mod__chat_has(t, n, "[INST]") && mod__chat_has(t, n, "[/INST]") && mod__chat_has(t, n, "<<SYS>>")) return MOD_CHAT_LLAMA2;
    return MOD_CHAT_NONE;
}

mod_result mod_chat_init(mod_chat *chat, mod_chat_format format, const char *t, size_t n) {
    if (!chat || (!t && n) || (unsigned)format >= (unsigned)MOD_CHAT_FORMAT_COUNT) return MOD_ERR_INVALID_ARGUMENT;
    memset(chat, 0, sizeof *chat);
    if (format == MOD_CHAT_NONE) format = mod_chat_format_detect(t, n);
    if (format == MOD_CHAT_NONE) return MOD_ERR_UNSUPPORTED;
    chat->format = format;
    if (format == MOD_CHAT_CHATML && t) {
        /* the default system prompt: a literal '<|im_start|>system\n TEXT <|im_end|>', TEXT with no
           quote (so it is all inside one string literal) */
        static const char *const heads[2] = { "<|im_start|>system\\n", "<|im_start|>system\n" };
        int h;
        for (h = 0; h < 2 && !chat->mod__system; h++) {
            size_t at = 0;
            while ((at = mod__chat_find(t, n, at, heads[h])) != MOD__CHAT_NOT_FOUND) {
                const size_t body = at + strlen(heads[h]), end = mod__chat_find(t, n, body, "<|im_end|>");
                size_t i;
                int quoted = 0;
                if (end == MOD__CHAT_NOT_FOUND) break;
                for (i = body; i < end; i++) {
                    if (t[i] == '\\') { i++; continue; }
                    if (t[i] == '\'' || t[i] == '"') quoted = 1;
                }
                if (!quoted && end > body) {
                    chat->mod__system = t + body;
                    chat->mod__system_len = end - body;
                    break;
                }
                at++;
            }
        }
    }
    return MOD_OK;
}

const char *mod_model_chat_template(const mod_model *m, size_t *len) {
    if (len) *len = m ? m->chat_template_len : 0;
    return m ? m->chat_template : NULL;
}

int32_t mod_chat_turn_end_token(const mod_model *m, mod_chat_format f) {
    const char *text = mod_chat_turn_end(f);
    int32_t ids[48]; /* 3 x the longest text + 2: room whatever the tokenizer */
    int n = 0;
    size_t len;
    if (!m || !text || mod_tokenize(m, text, strlen(text), MOD_TOKENIZE_SPECIAL, ids, 48, &n, NULL) != MOD_OK || n != 1) return -1;
    return mod_token_bytes(m, ids[0], &len) && len == 0 ? ids[0] : -1; /* a control token */
}

/* A message's start: its role's header; the assistant's is the generation prompt. */
static void mod__chat_start(mod__chat_out *o, mod_chat_format f, mod_chat_role r) {
    static const char *const roles[3] = { "system", "user", "assistant" };
    switch (f) {
    case MOD_CHAT_LLAMA2:
        if (r == MOD_CHAT_USER) mod__chat_puts(o, "<s>[INST] ");
        break;
    case MOD_CHAT_LLAMA3:
        mod__chat_puts(o, "<|start_header_id|>"); mod__chat_puts(o, roles[r]); mod__chat_puts(o, "<|end_header_id|>\n\n");
        break;
    case MOD_CHAT_CHATML:
        mod__chat_puts(o, "<|im_start|>"); mod__chat_puts(o, roles[r]); mod__chat_puts(o, "\n");
        break;
    case MOD_CHAT_GEMMA:
        mod__chat_puts(o, r == MOD_CHAT_ASSISTANT ? "<start_of_turn>model\n" : "<start_of_turn>user\n");
        break;
    default: break;
    }
}

/* A message's content; system is the folded system prompt of llama2 and gemma (or NULL). */
static void mod__chat_content(mod__chat_out *o, mod_chat_format f, mod_chat_role r, const char *c, const char *system) {
    const char *seg[4];
    switch (f) {
    case MOD_CHAT_LLAMA2:
        if (r == MOD_CHAT_ASSISTANT) mod__chat_puts(o, " ");
        if (system) { seg[0] = "<<SYS>>\n"; seg[1] = system; seg[2] = "\n<</SYS>>\n\n"; seg[3] = c; mod__chat_put_stripped(o, seg, 4); }
        else mod__chat_put_stripped(o, &c, 1);
        break;
    case MOD_CHAT_GEMMA:
        if (system) { mod__chat_puts(o, system); mod__chat_puts(o, "\n\n"); }
        mod__chat_put_stripped(o, &c, 1);
        break;
    case MOD_CHAT_LLAMA3: mod__chat_put_stripped(o, &c, 1); break;
    default: mod__chat_puts(o, c); break;
    }
}

/* A message's end: up to and including the turn-end token (part 0), then what follows it (part 1). */
static void mod__chat_end(mod__chat_out *o, mod_chat_format f, mod_chat_role r, int part) {
    switch (f) {
    case MOD_CHAT_LLAMA2:
        if (part == 0) mod__chat_puts(o, r == MOD_CHAT_USER ? " [/INST]" : " </s>");
        break;
    case MOD_CHAT_LLAMA3: if (part == 0) mod__chat_puts(o, "<|eot_id|>"); break;
    case MOD_CHAT_CHATML: mod__chat_puts(o, part == 0 ? "<|im_end|>" : "\n"); break;
    case MOD_CHAT_GEMMA: mod__chat_puts(o, part == 0 ? "<end_of_turn>" : "\n"); break;
    default: break;
    }
}

mod_result mod_chat_render(const mod_chat *chat, const mod_chat_message *msg, int n, int from, unsigned flags, char *out,
                           size_t capacity, size_t *len, mod_error *err) {
    mod__chat_out o;
    mod_chat_format f;
    const char *system = NULL;
    int i, first = 0;
    if (len) *len = 0;
    if (!chat || !len || (!out && capacity)) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "%s is NULL", !chat ? "chat" : !len ? "len" : "out");
    f = chat->format;
    if ((unsigned)f - 1u >= (unsigned)MOD_CHAT_FORMAT_COUNT - 1u) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "the chat has no format (mod_chat_init)");
    if (n < 1 || !msg) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "no messages (n is %d)", n);
    if (from < 0 || from > n) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "from %d is outside [0, %d]", from, n);
    if (flags & ~(MOD_CHAT_ADD_ASSISTANT | MOD_CHAT_REPLY_FED)) return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "unknown flags %u", flags);
    for (i = 0; i < n; i++) {
        if ((unsigned)msg[i].role > (unsigned)MOD_CHAT_ASSISTANT || !msg[i].content)
            return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "message %d: %s", i, msg[i].content ? "role is not a mod_chat_role" : "content is NULL");
    }
    if ((flags & MOD_CHAT_REPLY_FED) && (from == 0 || from == n || msg[from].role != MOD_CHAT_ASSISTANT))
        return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "MOD_CHAT_REPLY_FED: message %d is not an assistant's reply after the conversation's start", from);
    if (f == MOD_CHAT_LLAMA2 || f == MOD_CHAT_GEMMA) {
        /* an optional system message first, then user and assistant by turns, the user first */
        if (msg[0].role == MOD_CHAT_SYSTEM) { system = msg[0].content; first = 1; }
        for (i = first; i < n; i++) {
            const mod_chat_role want = (i - first) % 2 == 0 ? MOD_CHAT_USER : MOD_CHAT_ASSISTANT;
            if (msg[i].role != want)
                return mod__fail(err, MOD_ERR_INVALID_ARGUMENT, "message %d: the %s format needs %s (a system message only first, then user and assistant by turns)",
                                 i, mod__chat_names[f], want == MOD_CHAT_USER ? "a user message" : "an assistant message");
        }
    }
    o.p = out; o.cap = capacity; o.len = 0;
    if (from == 0) {
        if (f == MOD_CHAT_LLAMA3) mod__chat_puts(&o, "<|begin_of_text|>");
        if (f == MOD_CHAT_GEMMA) mod__chat_puts(&o, "<bos>");
        if (f == MOD_CHAT_CHATML && msg[0].role != MOD_CHAT_SYSTEM && chat->mod__system) {
            mod__chat_puts(&o, "<|im_start|>system\n");
            mod__chat_put_literal(&o, chat->mod__system, chat->mod__system_len);
            mod__chat_puts(&o, "<|im_end|>\n");
        }
    }
    for (i = from; i < n; i++) {
        const mod_chat_role r = msg[i].role;
        if (i < first) continue; /* llama2 and gemma: the system prompt goes into the first user message */
        if (i == from && (flags & MOD_CHAT_REPLY_FED)) { mod__chat_end(&o, f, r, 1); continue; }
        if (!(i == from && from > 0 && r == MOD_CHAT_ASSISTANT)) mod__chat_start(&o, f, r);
        mod__chat_content(&o, f, r, msg[i].content, i == first ? system : NULL);
        mod__chat_end(&o, f, r, 0);
        mod__chat_end(&o, f, r, 1);
    }
    if (flags & MOD_CHAT_ADD_ASSISTANT) mod__chat_start(&o, f, MOD_CHAT_ASSISTANT);
    *len = o.len;
    if (o.len >= capacity) {
        if (capacity) out[capacity - 1] = 0;
        return mod__fail(err, MOD_ERR_BUFFER_TOO_SMALL, "the text is %U bytes and its NUL; out has room for %U", (uint64_t)o.len, (uint64_t)capacity);
    }
    out[o.len] = 0;
    return MOD_OK;
}

#endif /* MOD__IMPLEMENTED */
#endif /* MOD_IMPLEMENTATION */

/*
   REVISION HISTORY
     0.1.0  first release: model file v1, loader, routed and dense blocks, KV caches,
            sampling, byte-level and scored BPE tokenizers.

   LICENSE
   This software is available under two licences; choose whichever you prefer.

   ALTERNATIVE A - MIT License
   Copyright (c) 2026 the mod.h authors
   Permission is hereby granted, free of charge, to any person obtaining a copy of this
   software and associated documentation files (the "Software"), to deal in the Software
   without restriction, including without limitation the rights to use, copy, modify, merge,
   publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons
   to whom the Software is furnished to do so, subject to the following conditions:
   The above copyright notice and this permission notice shall be included in all copies or
   substantial portions of the Software.
   THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED,
   INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR
   PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE
   FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
   OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER
   DEALINGS IN THE SOFTWARE.

   ALTERNATIVE B - Public Domain (www.unlicense.org)
   This is free and unencumbered software released into the public domain. Anyone is free to
   copy, modify, publish, use, compile, sell, or distribute this software, either in source
   code form or as a compiled binary, for any purpose, commercial or non-commercial, and by
   any means. In jurisdictions that recognize copyright laws, the author or authors of this
   software dedicate any and all copyright interest in the software to the public domain.
*/
