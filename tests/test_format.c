/* The file format's one definition checked from outside: mod.h's tables (the records and the
   tensor roles) against docs/FORMAT.md, read as Markdown, field by field; tools/modfile.h's
   writer against the page's offsets and against mod.h's loader; its encoders (f16, bf16,
   q8_0, q4_0) against naive definitions of the rules the page states.
   Usage: test_format [path/to/FORMAT.md] (default docs/FORMAT.md). */
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "modfile.h"
#include "check.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the page ------------------------------------------------------------------------ */

static char *g_doc;

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) { fclose(f); return NULL; }
    buf = (char *)malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    if (buf) buf[n] = 0;
    fclose(f);
    return buf;
}

/* The text of the section whose heading line starts with `heading`, up to the next heading of
   the same or a higher level (a copy, or NULL). */
static char *section(const char *heading)
{
    const size_t level = strspn(heading, "#"), hl = strlen(heading);
    const char *p = strncmp(g_doc, heading, hl) == 0 ? g_doc : NULL, *q = g_doc, *end;
    char *out;
    while (!p && (q = strstr(q + 1, heading)) != NULL)
        if (q[-1] == '\n') p = q;
    if (!p) return NULL;
    for (end = strchr(p, '\n'); end; end = strchr(end + 1, '\n')) {
        const size_t k = strspn(end + 1, "#");
        if (k >= 1 && k <= level && end[1 + k] == ' ') break;
    }
    if (!end) end = p + strlen(p);
    out = (char *)malloc((size_t)(end - p) + 1);
    if (!out) return NULL;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = 0;
    return out;
}

#define MAX_ROWS 48
#define MAX_COLS 6
typedef struct table {
    int n_rows, n_cols;
    char cell[MAX_ROWS][MAX_COLS][160];
} table;

/* Splits one Markdown table row into trimmed cells; returns the number of cells. */
static int split_row(const char *line, size_t len, char cells[MAX_COLS][160])
{
    int n = 0;
    size_t i = 0;
    while (i < len && line[i] != '|') i++;
    while (i < len && n < MAX_COLS) {
        size_t a = ++i, b;
        while (i < len && line[i] != '|') i++;
        if (i >= len) break;
        b = i;
        while (a < b && line[a] == ' ') a++;
        while (b > a && line[b - 1] == ' ') b--;
        if (b - a >= 160) b = a + 159;
        memcpy(cells[n], line + a, b - a);
        cells[n][b - a] = 0;
        n++;
    }
    return n;
}

/* The first table in text whose header row's first two cells are first and second. */
static int find_table(const char *text, const char *first, const char *second, table *t)
{
    const char *p = text;
    memset(t, 0, sizeof *t);
    while (p && *p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char cells[MAX_COLS][160];
        if (len && p[0] == '|' && split_row(p, len, cells) >= 2 && !strcmp(cells[0], first) && !strcmp(cells[1], second)) {
            t->n_cols = split_row(p, len, cells);
            p = eol ? eol + 1 : p + len;                     /* the |---| line */
            p = strchr(p, '\n');
            while (p && p[1] == '|') {
                const char *q = p + 1, *e = strchr(q, '\n');
                size_t l = e ? (size_t)(e - q) : strlen(q);
                if (t->n_rows < MAX_ROWS) split_row(q, l, t->cell[t->n_rows++]);
                p = e;
            }
            return 1;
        }
        p = eol ? eol + 1 : NULL;
    }
    return 0;
}

/* The leading identifier of a cell ("layer: block index" -> "layer"). */
static void ident(const char *cell, char *out, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap && (cell[n] == '_' || (cell[n] >= 'a' && cell[n] <= 'z') || (cell[n] >= '0' && cell[n] <= '9'))) {
        out[n] = cell[n];
        n++;
    }
    out[n] = 0;
}

/* The page's type name for a table type, and its width. */
static const char *doc_type(const char *type)
{
    static const char *const map[][2] = { { "U32", "u32" }, { "I32", "i32" }, { "U64", "u64" }, { "F32", "f32" },
                                          { "U8X4", "u8[4]" }, { "U32X3", "u32[3]" }, { "U32X10", "u32[10]" }, { "U64X4", "u64[4]" } };
    size_t i;
    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], type)) return map[i][1];
    return "?";
}
static int doc_width(const char *t)
{
    int w = t[0] == 'u' && t[1] == '8' ? 1 : t[1] == '6' ? 8 : 4;
    const char *b = strchr(t, '[');
    return b ? w * atoi(b + 1) : w;
}

typedef struct field { const char *name; int offset; const char *type; int bytes; } field;
#define FIELD(f, offset, type) { #f, offset, #type, MOD__BYTES(type) },
static const field g_header[] = { MOD__HEADER_FIELDS(FIELD) };
static const field g_layer[] = { MOD__LAYER_ENTRY_FIELDS(FIELD) };
static const field g_tensor[] = { MOD__TENSOR_ENTRY_FIELDS(FIELD) };
static const field g_tokenizer[] = { MOD__TOKENIZER_HEADER_FIELDS(FIELD) };
static const field g_tokenizer_sp[] = { MOD__TOKENIZER_SP_FIELDS(FIELD) };
static const field g_added[] = { MOD__ADDED_TOKEN_FIELDS(FIELD) };

/* One record's table on the page against mod.h's, field by field; size: the record's size
   as the page states it. */
static void check_record(const char *what, const table *t, int field_col, const field *f, int n, int size, int bytes)
{
    int i, at = 0;
    check(t->n_rows == n, "%s: the page lists %d fields, mod.h %d", what, t->n_rows, n);
    for (i = 0; i < n && i < t->n_rows; i++) {
        char name[64];
        const char *dt = doc_type(f[i].type);
        ident(t->cell[i][field_col], name, sizeof name);
        check(!strcmp(name, f[i].name), "%s field %d: the page calls it %s, mod.h %s", what, i, name, f[i].name);
        check(atoi(t->cell[i][0]) == f[i].offset, "%s.%s: offset %s on the page, %d in mod.h", what, f[i].name, t->cell[i][0], f[i].offset);
        check(!strcmp(t->cell[i][1], dt), "%s.%s: type %s on the page, %s (%s) in mod.h", what, f[i].name, t->cell[i][1], dt, f[i].type);
        check(doc_width(t->cell[i][1]) == f[i].bytes, "%s.%s: %d bytes on the page, %d in mod.h", what, f[i].name, doc_width(t->cell[i][1]), f[i].bytes);
        check(f[i].offset == at, "%s.%s: at %d, right after the field before (%d)", what, f[i].name, f[i].offset, at);
        at = f[i].offset + f[i].bytes;
    }
    check(at == size && bytes == size, "%s: %d bytes on the page, fields ending at %d, record size %d in mod.h", what, size, at, bytes);
}

/* The number just before `suffix` in text (e.g. "(160 bytes)" -> 160), or -1. */
static long number_before(const char *text, const char *suffix)
{
    const char *p = strstr(text, suffix);
    while (p && p > text && p[-1] >= '0' && p[-1] <= '9') p--;
    return p ? strtol(p, NULL, 10) : -1;
}

static void test_records(void)
{
    char *hs = section("## Header"), *ls = section("## Layer table"), *ts = section("## Tensor directory");
    char *ks = section("## Tokenizer section"), *lay = section("## Layout"), *cs = section("## Checksum");
    table t;
    if (!check(hs && ls && ts && ks && lay && cs, "the page has the sections Layout, Header, Layer table, Tensor directory, Tokenizer section, Checksum")) return;
    check(find_table(hs, "offset", "type", &t), "header: a table of offset | type | field");
    check_record("header", &t, 2, g_header, (int)(sizeof g_header / sizeof g_header[0]), (int)number_before(hs, " bytes)"), MOD__HEADER_BYTES);
    check(MOD__HEADER_BYTES == MOD__HEADER_SIZE, "header: MOD__HEADER_BYTES %d equals the loader's MOD__HEADER_SIZE", MOD__HEADER_BYTES);
    {   /* where version 1's header ends: the first field of version 2 */
        char want[64];
        snprintf(want, sizeof want, "a version 1 header ends at offset %d", MOD__HEADER_BYTES_V1);
        check(strstr(hs, want) != NULL && MOD__HEADER_AT_head_dim == MOD__HEADER_BYTES_V1, "header: \"%s\" on the page", want);
    }
    {   /* the fixed values */
        char want[32];
        int i;
        snprintf(want, sizeof want, "`%02X %02X %02X %02X`", (unsigned char)MOD__MAGIC[0], (unsigned char)MOD__MAGIC[1],
                 (unsigned char)MOD__MAGIC[2], (unsigned char)MOD__MAGIC[3]);
        for (i = 0; i < t.n_rows && strcmp(t.cell[i][2], "magic"); i++) {}
        check(i < t.n_rows && strstr(t.cell[i][3], want) != NULL, "header.magic: %s (\"%s\") on the page", want, MOD__MAGIC);
        for (i = 0; i < t.n_rows && strcmp(t.cell[i][2], "version"); i++) {}
        check(i < t.n_rows && atoi(t.cell[i][3]) == MOD__FORMAT_VERSION, "header.version: %d on the page", MOD__FORMAT_VERSION);
        for (i = 0; i < t.n_rows && strcmp(t.cell[i][2], "header_size"); i++) {}
        check(i < t.n_rows && atoi(t.cell[i][3]) == MOD__HEADER_BYTES, "header.header_size: %d on the page", MOD__HEADER_BYTES);
        for (i = 0; i < t.n_rows && strcmp(t.cell[i][2], "checksum"); i++) {}
        check(i < t.n_rows && number_before(t.cell[i][3], ", file_size)") == MOD__CHECKSUM_FROM,
              "header.checksum covers bytes [%d, file_size) on the page", MOD__CHECKSUM_FROM);
    }
    check(find_table(ls, "offset", "type", &t), "layer table: a table of offset | type | field");
    check_record("layer entry", &t, 2, g_layer, (int)(sizeof g_layer / sizeof g_layer[0]), (int)number_before(ls, " bytes)"), MOD__LAYER_ENTRY_BYTES);
    check(find_table(ts, "offset", "type", &t), "tensor directory: a table of offset | type | field");
    check_record("tensor entry", &t, 2, g_tensor, (int)(sizeof g_tensor / sizeof g_tensor[0]), (int)number_before(ts, " bytes)"), MOD__TENSOR_ENTRY_BYTES);
    {
        int i, dt;
        for (i = 0; i < t.n_rows && strncmp(t.cell[i][2], "layer", 5); i++) {}
        check(i < t.n_rows && strtoul(strchr(t.cell[i][2], '`') ? strchr(t.cell[i][2], '`') + 1 : "", NULL, 16) == MOD__MODEL_WIDE,
              "tensor entry.layer of a model-wide tensor: 0x%X on the page", MOD__MODEL_WIDE);
        for (i = 0; i < t.n_rows && strncmp(t.cell[i][2], "dtype", 5); i++) {}
        for (dt = 0; dt < MOD_DTYPE_COUNT; dt++) {
            char want[32];
            snprintf(want, sizeof want, "%d %s", dt, mf_dtype_name(dt));
            check(i < t.n_rows && strstr(t.cell[i][2], want) != NULL, "tensor entry.dtype: \"%s\" on the page", want);
        }
    }
    check(find_table(ks, "offset", "type", &t), "tokenizer: a table of offset | type | field | meaning");
    check_record("tokenizer header", &t, 2, g_tokenizer, (int)(sizeof g_tokenizer / sizeof g_tokenizer[0]), (int)number_before(ks, "-byte header"),
                 MOD__TOKENIZER_HEADER_BYTES);
    {   /* kind 3's record and its added-token entries */
        const char *k3 = strstr(ks, "### Kind 3 record"), *ae = strstr(ks, "Added-token entry");
        if (check(k3 && find_table(k3, "offset", "type", &t), "tokenizer: a table of the kind 3 record"))
            check_record("kind 3 record", &t, 2, g_tokenizer_sp, (int)(sizeof g_tokenizer_sp / sizeof g_tokenizer_sp[0]),
                         (int)number_before(k3, " bytes)"), MOD__TOKENIZER_SP_BYTES);
        if (check(ae && find_table(ae, "offset", "type", &t), "tokenizer: a table of the added-token entry"))
            check_record("added-token entry", &t, 2, g_added, (int)(sizeof g_added / sizeof g_added[0]),
                         (int)number_before(ae, " bytes)"), MOD__ADDED_TOKEN_BYTES);
    }
    /* alignment of the sections and tensors, and the checksum's constants */
    check(strstr(lay, "layer_table_offset   (8-aligned)") && strstr(lay, "tensor_dir_offset    (8-aligned)") &&
          strstr(lay, "tokenizer_offset     (8-aligned") && MOD__SECTION_ALIGN == 8, "sections 8-aligned on the page and in mod.h (%d)", MOD__SECTION_ALIGN);
    check(strstr(lay, "data_offset          (64-aligned)") && strstr(ts, "offset from data_offset; a multiple of 64") && MOD__DATA_ALIGN == 64,
          "tensor data and tensors 64-aligned on the page and in mod.h (%d)", MOD__DATA_ALIGN);
    {
        const char *b = strstr(cs, "h = 0x"), *m = strstr(cs, ") * 0x");
        uint64_t h = 0;
        MOD__FNV1A_STEP(h, 1); /* the prime */
        check(b && strtoull(b + 4, NULL, 16) == MOD__FNV1A_BASIS, "checksum: the FNV-1a basis on the page equals MOD__FNV1A_BASIS");
        check(m && strtoull(m + 4, NULL, 16) == h, "checksum: the FNV-1a prime on the page equals MOD__FNV1A_STEP's");
    }
    free(hs); free(ls); free(ts); free(ks); free(lay); free(cs);
    check_group("records against the page");
}

/* ---- the tensor roles ------------------------------------------------------------------ */

typedef struct role { const char *name, *layer, *rows, *cols, *when; } role;
#define ROLE(id, name, layer, rows, cols, when) { #name, #layer, #rows, #cols, #when },
static const role g_roles[] = { MOD__ROLES(ROLE) };

/* A size of MOD__ROLES as the page writes it. */
static const char *doc_size(const char *s, int fp_zero)
{
    static const char *const map[][2] = { { "ONE", "1" }, { "V", "V" }, { "D", "d" }, { "QD", "H*hd" }, { "KVD", "Hkv*hd" },
                                          { "F", "F" }, { "FP", "Fp" } };
    size_t i;
    if (!strcmp(s, "FP1")) return fp_zero ? "1" : "Fp";
    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], s)) return map[i][1];
    return "?";
}
static void doc_shape(const role *r, int fp_zero, char *out, size_t cap)
{
    if (!strcmp(r->rows, "NONE")) snprintf(out, cap, "[%s]", doc_size(r->cols, fp_zero));
    else snprintf(out, cap, "[%s, %s]", doc_size(r->rows, fp_zero), doc_size(r->cols, fp_zero));
}

/* The loader's rule (mod__role_wanted) for the same configuration. */
static int mod__role_wanted_of(int role, int tied, int routed, int pred, int hidden)
{
    mod_config c;
    mod__layer l;
    memset(&c, 0, sizeof c);
    memset(&l, 0, sizeof l);
    c.tied_embeddings = tied;
    c.decision = pred ? MOD_DECISION_PREDICTOR : MOD_DECISION_ROUTER;
    c.predictor_hidden = hidden;
    l.routed = routed;
    return mod__role_wanted(&c, role < MOD__ROLE_ATTN_NORM ? NULL : &l, role);
}

/* The page's "when" column: its words, and what they mean for a model with tied embeddings
   t, a block that is routed (r), decision predictor (p) of hidden width h>0 (h). */
static int doc_when(const char *words, int t, int r, int p, int h)
{
    if (!strcmp(words, "always")) return 1;
    if (!strcmp(words, "when not tied")) return t ? 0 : 1;
    if (!strcmp(words, "optional")) return 2;
    if (!strcmp(words, "routed blocks only")) return r ? 1 : 0;
    if (!strcmp(words, "routed blocks, optional")) return r ? 2 : 0;
    if (!strcmp(words, "routed blocks, decision predictor")) return r && p ? 1 : 0;
    if (!strcmp(words, "routed blocks, decision predictor, Fp > 0")) return r && p && h ? 1 : 0;
    return -1;
}

static void test_roles(void)
{
    char *ts = section("## Tensor directory");
    table t;
    int i, seen_block = 0;
    const int n = (int)(sizeof g_roles / sizeof g_roles[0]);
    if (!check(ts && find_table(ts, "role", "name", &t), "the page has a table of role | name | layer | shape | when")) { free(ts); return; }
    check(t.n_rows == n && n == MOD__ROLE_COUNT, "the page lists %d roles, mod.h %d", t.n_rows, n);
    {   /* the roles a version 1 file may have */
        char want[64];
        snprintf(want, sizeof want, "Roles %d to %d are version 2's", MOD__ROLE_LAST_V1 + 1, MOD__ROLE_COUNT - 1);
        check(strstr(ts, want) != NULL, "roles: \"%s\" on the page (MOD__ROLE_LAST_V1 %d)", want, MOD__ROLE_LAST_V1);
    }
    for (i = 0; i < n && i < t.n_rows; i++) {
        const role *r = &g_roles[i];
        char shape[80], lower[16];
        int k, combos_ok = 1;
        check(atoi(t.cell[i][0]) == i && !strcmp(t.cell[i][1], r->name), "role %d: %s %s on the page, %s in mod.h", i, t.cell[i][0], t.cell[i][1], r->name);
        check(!strcmp(mf_role_name(i), r->name), "role %d: mf_role_name gives %s", i, mf_role_name(i));
        for (k = 0; r->layer[k] && k < 15; k++) lower[k] = (char)(r->layer[k] - 'A' + 'a');
        lower[k] = 0;
        check(!strcmp(t.cell[i][2], lower), "role %s: layer %s on the page, %s in mod.h", r->name, t.cell[i][2], r->layer);
        check(!strcmp(r->layer, "BLOCK") || !seen_block, "role %s: model-wide roles come before block roles", r->name);
        seen_block |= !strcmp(r->layer, "BLOCK");
        if (!strcmp(r->rows, "FP1") || !strcmp(r->cols, "FP1")) {
            char zero[80], full[200];
            doc_shape(r, 0, shape, sizeof shape);
            doc_shape(r, 1, zero, sizeof zero);
            snprintf(full, sizeof full, "%s, or %s when Fp = 0", shape, zero);
            check(!strcmp(t.cell[i][3], full), "role %s: shape %s on the page, %s from mod.h", r->name, t.cell[i][3], full);
        } else {
            doc_shape(r, 0, shape, sizeof shape);
            check(!strcmp(t.cell[i][3], shape), "role %s: shape %s on the page, %s from mod.h", r->name, t.cell[i][3], shape);
        }
        for (k = 0; k < 16; k++) {
            const int tied = k & 1, routed = (k >> 1) & 1, pred = (k >> 2) & 1, hidden = (k >> 3) & 1;
            const int want = doc_when(t.cell[i][4], tied, routed, pred, hidden);
            combos_ok &= want >= 0 && mf_role_wanted(i, tied, routed, pred, hidden ? 16 : 0) == want &&
                         mod__role_wanted_of(i, tied, routed, pred, hidden ? 16 : 0) == want;
        }
        check(combos_ok, "role %s: when \"%s\" on the page; MOD__WHEN_%s says the same for all 16 configurations", r->name, t.cell[i][4], r->when);
    }
    {   /* shapes evaluated: a model of V 300, d 64, 8 heads of which 2 for keys and values, F 96, Fp 16 and 0 */
        int fp;
        for (fp = 0; fp < 2; fp++) {
            const mod__dims m = mf_dims(300, 64, 8, 2, 0, 96, fp ? 16 : 0);
            uint64_t rows, cols;
            mf_role_shape(MOD__ROLE_K, &m, &rows, &cols);
            check(rows == 16 && cols == 64, "attn_k is [Hkv*hd, d] = [16, 64]: [%llu, %llu]", (unsigned long long)rows, (unsigned long long)cols);
            mf_role_shape(MOD__ROLE_PRED_W1, &m, &rows, &cols);
            check(rows == (fp ? 16u : 1u) && cols == 64, "predictor_w1 with Fp %d: [%llu, %llu]", fp ? 16 : 0, (unsigned long long)rows, (unsigned long long)cols);
            mf_role_shape(MOD__ROLE_ROUTER_BIAS, &m, &rows, &cols);
            check(rows == 0 && cols == 1, "router_bias is [1]");
        }
    }
    free(ts);
    check_group("tensor roles against the page");
}

/* ---- the writer against the page's offsets and the loader ---------------------------- */

/* Writes a record with one field's bytes set (1, 2, 3, ... through its width) and every other
   zero: the bytes must stand at the field's offset, as put, and nowhere else. */
#define PROBE(f, offset, type)                                                                            \
    {                                                                                                     \
        unsigned char *mem = (unsigned char *)&r.f, out[512];                                             \
        size_t k;                                                                                         \
        int ok = 1;                                                                                       \
        memset(&r, 0, sizeof r);                                                                          \
        for (k = 0; k < sizeof r.f; k++) mem[k] = (unsigned char)(k + 1);                                  \
        memset(out, 0xee, sizeof out);                                                                    \
        put(out, &r);                                                                                     \
        for (k = 0; k < (size_t)size; k++)                                                                \
            ok &= out[k] == (k - (size_t)(offset) < sizeof r.f ? mem[k - (offset)] : 0); /* wraps below */     \
        ok &= out[size] == 0xee;                                                                          \
        check(ok, "%s.%s: written at bytes [%d, %d) only", what, #f, offset, (int)((offset) + sizeof r.f)); \
        get(&back, out);                                                                                 \
        check(!memcmp(&back.f, &r.f, sizeof r.f), "%s.%s: read back by the loader", what, #f);          \
    }

#define PROBE_RECORD(T, FIELDS, PUT, GET, WHAT, SIZE)            \
    {                                                            \
        T r, back;                                               \
        const char *what = WHAT;                                 \
        const int size = SIZE;                                   \
        void (*put)(unsigned char *, const T *) = PUT;           \
        void (*get)(T *, const unsigned char *) = GET;           \
        FIELDS(PROBE)                                            \
    }

/* The loader reads added-token entries in place; this reads one through the same table. */
#define GET_FIELD_LE(field, offset, type) MOD__GET_##type(r->field, p + (offset));
static void test_read_added_token(mod__added_token *r, const unsigned char *p) { MOD__ADDED_TOKEN_FIELDS(GET_FIELD_LE) }

static void test_writer_fields(void)
{
    PROBE_RECORD(mod__file_header, MOD__HEADER_FIELDS, mf_put_header, mod__read_header, "header", MOD__HEADER_BYTES)
    PROBE_RECORD(mod__layer_entry, MOD__LAYER_ENTRY_FIELDS, mf_put_layer_entry, mod__read_layer_entry, "layer entry", MOD__LAYER_ENTRY_BYTES)
    PROBE_RECORD(mod__tensor_entry, MOD__TENSOR_ENTRY_FIELDS, mf_put_tensor_entry, mod__read_tensor_entry, "tensor entry", MOD__TENSOR_ENTRY_BYTES)
    PROBE_RECORD(mod__tokenizer_header, MOD__TOKENIZER_HEADER_FIELDS, mf_put_tokenizer_header, mod__read_tokenizer_header,
                 "tokenizer header", MOD__TOKENIZER_HEADER_BYTES)
    PROBE_RECORD(mod__tokenizer_sp, MOD__TOKENIZER_SP_FIELDS, mf_put_tokenizer_sp, mod__read_tokenizer_sp,
                 "kind 3 record", MOD__TOKENIZER_SP_BYTES)
    PROBE_RECORD(mod__added_token, MOD__ADDED_TOKEN_FIELDS, mf_put_added_token, test_read_added_token,
                 "added-token entry", MOD__ADDED_TOKEN_BYTES)
    check_group("writer: each field at the page's offset");
}

/* A whole file laid out by mf_layout and written by mf_put_prefix (all weights zero, a small
   tokenizer) follows the page's placement rules and loads with its checksum verified. */
static void test_layout(void)
{
    static const int routed[3] = { 0, 1, 1 };
    static const float capacity[3] = { 0.9f, 0.5f, 0.25f };
    mf_tensor ts[3 + 25 * 3];
    mod__file_header h;
    mod__dims dims;
    uint32_t n = 0, i;
    int l, role;
    unsigned char *file, *tok, *buf;
    uint32_t offsets[4] = { 0, 1, 2, 4 }, sorted[3] = { 0, 1, 2 };
    float scores[3] = { 0, 0, 0 };
    uint8_t types[3] = { 0, 0, 0 };
    mf_tokenizer sec;
    mod_model *m = NULL;
    mod_model_desc desc;
    mod_error err;
    size_t tok_bytes;
    memset(&sec, 0, sizeof sec);
    sec.h.kind = 2; sec.h.n_tokens = 3; sec.h.bos_id = -1; sec.h.eos_id = -1; sec.h.n_sorted = 3;
    sec.h.strings_size = 4; sec.h.max_token_len = 2;
    sec.offsets = offsets; sec.scores = scores; sec.types = types; sec.sorted = sorted;
    sec.strings = (const unsigned char *)"abcd";
    tok_bytes = mf_tokenizer_bytes(&sec.h);
    check(tok_bytes == 48 + 4 * 4 + 4 * 3 + 4 + 4 * 3 + 4, "tokenizer section: %d bytes for 3 tokens", (int)tok_bytes);
    tok = (unsigned char *)calloc(tok_bytes, 1);
    mf_put_tokenizer(tok, &sec);
    check(mf_get_u32(tok + 44) == 0 && tok[48 + 16 + 12 + 3] == 0 && !memcmp(tok + tok_bytes - 4, "abcd", 4),
          "tokenizer section: n_added 0 without a table, types padded with zeros to 4 bytes, the strings last");
    memset(&h, 0, sizeof h);
    h.vocab_size = 3; h.dim = 64; h.n_layers = 3; h.n_heads = 4; h.n_kv_heads = 2; h.hidden_dim = 96; h.max_seq_len = 16;
    h.norm_eps = 1e-5f; h.rope_theta = 10000.0f; h.decision = 1; h.predictor_hidden = 8;
    dims = mf_dims(h.vocab_size, h.dim, h.n_heads, h.n_kv_heads, h.head_dim, h.hidden_dim, h.predictor_hidden);
    for (l = -1; l < 3; l++)
        for (role = l < 0 ? 0 : MOD__ROLE_ATTN_NORM; role < (l < 0 ? MOD__ROLE_ATTN_NORM : MOD__ROLE_COUNT); role++) {
            int want = mf_role_wanted(role, 0, l >= 0 && routed[l], 1, 8);
            if (want == 0 || (want == 2 && role != MOD__ROLE_Q_BIAS && role != MOD__ROLE_K_BIAS && role != MOD__ROLE_V_BIAS)) continue;
            memset(&ts[n], 0, sizeof ts[n]);
            ts[n].role = role; ts[n].layer = l;
            mf_role_shape(role, &dims, &ts[n].rows, &ts[n].cols);
            ts[n].dtype = !ts[n].rows ? MOD_DTYPE_F32 : (int)(n % MOD_DTYPE_COUNT);
            n++;
        }
    mf_layout(&h, ts, n, tok_bytes);
    check(h.layer_table_offset == MOD__HEADER_BYTES && h.tensor_dir_offset % 8 == 0 && h.tokenizer_offset % 8 == 0 &&
          h.data_offset % 64 == 0 && h.file_size == h.data_offset + h.data_size && h.tokenizer_size == tok_bytes &&
          h.tensor_dir_offset >= h.layer_table_offset + 3 * MOD__LAYER_ENTRY_BYTES &&
          h.tokenizer_offset >= h.tensor_dir_offset + n * MOD__TENSOR_ENTRY_BYTES && h.data_offset >= h.tokenizer_offset + tok_bytes,
          "layout: sections in order, aligned, not overlapping");
    for (i = 0; i < n; i++) {
        const uint64_t cols = ts[i].cols, rows = ts[i].rows ? ts[i].rows : 1;
        const uint64_t want = ts[i].dtype == MOD_DTYPE_Q8_0 ? rows * (cols / 32 * 34) : ts[i].dtype == MOD_DTYPE_Q4_0 ? rows * (cols / 32 * 18)
                            : rows * cols * (ts[i].dtype == MOD_DTYPE_F32 ? 4 : 2);
        if (!check(ts[i].offset % 64 == 0 && (i == 0 || ts[i].offset >= ts[i - 1].offset + ts[i - 1].size) && ts[i].size == want,
                   "layout: tensor %u (%s) at %llu, %llu bytes", i, mf_role_name(ts[i].role), (unsigned long long)ts[i].offset,
                   (unsigned long long)ts[i].size))
            break;
    }
    file = (unsigned char *)calloc((size_t)h.file_size + 64, 1);
    buf = file + (64 - (uintptr_t)file % 64) % 64;
    mf_put_prefix(buf, &h, routed, capacity, ts, tok);
    {   /* the weights: norm gains 1, the rest 0, encoded */
        for (i = 0; i < n; i++) {
            float *v = (float *)calloc((size_t)(ts[i].rows ? ts[i].rows * ts[i].cols : ts[i].cols), sizeof *v);
            size_t k, count = (size_t)(ts[i].rows ? ts[i].rows * ts[i].cols : ts[i].cols);
            if (ts[i].role == MOD__ROLE_OUT_NORM || ts[i].role == MOD__ROLE_ATTN_NORM || ts[i].role == MOD__ROLE_MLP_NORM)
                for (k = 0; k < count; k++) v[k] = 1.0f;
            check(mf_encode(buf + h.data_offset + ts[i].offset, v, count, ts[i].dtype) == count, "encode tensor %u", i);
            free(v);
        }
    }
    mf_set_checksum(buf, (size_t)h.file_size);
    check(mf_get_f32(buf + h.layer_table_offset + MOD__LAYER_ENTRY_AT_capacity) == 0.0f &&
          mf_get_f32(buf + h.layer_table_offset + MOD__LAYER_ENTRY_BYTES + MOD__LAYER_ENTRY_AT_capacity) == 0.5f,
          "layer table: a dense block's capacity is written as 0");
    memset(&desc, 0, sizeof desc);
    desc.flags = MOD_LOAD_VERIFY_CHECKSUM;
    check(mod_model_load_memory(&m, buf, (size_t)h.file_size, &desc, &err) == MOD_OK, "the file loads, checksum verified (%s)", m ? "" : err.message);
    if (m) {
        check(mod_model_config(m)->n_routed == 2 && mod_model_layer_capacity(m, 2) == 0.25f && mod_model_config(m)->predictor_hidden == 8,
              "the loader reads the layer table and the config as written");
        check(mod_model_checksum(m) == mf_file_checksum(buf, (size_t)h.file_size), "the stored checksum is mf_file_checksum");
        mod_model_free(m);
    }
    free(file);
    free(tok);
    check_group("writer: layout, prefix, checksum");
}

/* ---- the checksum ---------------------------------------------------------------------- */

static void test_fnv(void)
{
    const unsigned char *s = (const unsigned char *)"foobar";
    uint64_t h;
    check(mf_fnv1a(MOD__FNV1A_BASIS, "", 0) == 0xcbf29ce484222325ull, "fnv1a(\"\")");
    check(mf_fnv1a(MOD__FNV1A_BASIS, "a", 1) == 0xaf63dc4c8601ec8cull, "fnv1a(\"a\")");
    check(mf_fnv1a(MOD__FNV1A_BASIS, s, 6) == 0x85944171f73967e8ull, "fnv1a(\"foobar\")");
    h = mf_fnv1a(mf_fnv1a(MOD__FNV1A_BASIS, s, 2), s + 2, 4);
    check(h == 0x85944171f73967e8ull && h == mod__fnv1a(s, 6), "fnv1a in two parts, and the loader's, equal the whole");
    check_group("checksum");
}

/* ---- number formats against naive definitions ----------------------------------------- */

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd32(void)
{
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}
static float bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t ubits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* The value of an f16 pattern. */
static double f16_value(unsigned h)
{
    const unsigned e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? m * pow(2.0, -24) : e == 31 ? (m ? NAN : INFINITY) : (1024 + m) * pow(2.0, (double)e - 25.0);
    return h & 0x8000 ? -v : v;
}

/* IEEE round to nearest, ties to even, into binary16: the nearest of the finite f16 values,
   the one with the even pattern on a tie; beyond 65504 + 16 (half a step past the largest),
   infinity; NaN a NaN of the same sign. */
static unsigned naive_f16(float f)
{
    const double x = (double)f, a = fabs(x);
    const unsigned sign = (ubits(f) >> 16) & 0x8000;
    unsigned lo = 0, hi = 0x7bff;
    if (x != x) return 0xffff; /* any NaN of this sign: compared specially */
    if (a >= 65520.0) return sign | 0x7c00;
    while (lo < hi) { /* the largest pattern whose value is <= a */
        unsigned mid = (lo + hi + 1) / 2;
        if (f16_value(mid) <= a) lo = mid; else hi = mid - 1;
    }
    if (lo < 0x7bff) {
        const double d0 = a - f16_value(lo), d1 = f16_value(lo + 1) - a;
        if (d1 < d0 || (d1 == d0 && (lo & 1))) lo++;
    }
    return sign | lo;
}

/* The same into bf16: the upper halves of binary32 patterns (values exact in double). */
static double f32_pattern_value(uint32_t u) /* exponent 255 counted as 2^128, for the rounding */
{
    const uint32_t e = (u >> 23) & 255, m = u & 0x7fffff;
    const double v = e == 0 ? m * pow(2.0, -149) : (double)(m | 0x800000) * pow(2.0, (double)e - 150.0);
    return u >> 31 ? -v : v;
}
static unsigned naive_bf16(float f)
{
    const uint32_t u = ubits(f), lo = u & 0xffff0000u, hi = lo + 0x10000u;
    double d0, d1;
    if (f != f) return 0xffff;
    if ((u & 0x7fffffffu) >= 0x7f800000u) return u >> 16; /* infinity */
    d0 = fabs((double)f - f32_pattern_value(lo));
    d1 = fabs(f32_pattern_value(hi) - (double)f);
    return (d1 < d0 || (d1 == d0 && ((lo >> 16) & 1))) ? hi >> 16 : lo >> 16;
}

static int same_f16(unsigned got, unsigned want, float f, int bf)
{
    if (want == 0xffff) { /* a NaN: exponent all ones, mantissa not zero, sign kept */
        const unsigned expo = bf ? 0x7f80u : 0x7c00u;
        return (got & expo) == expo && (got & (bf ? 0x7fu : 0x3ffu)) && (got & 0x8000u) == ((ubits(f) >> 16) & 0x8000u);
    }
    return got == want;
}

static void test_f16_bf16(void)
{
    int ok16 = 1, okb = 1, n = 0;
    unsigned h, i;
    static const uint32_t special[] = { 0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00001u, 0x7f800001u,
                                        0x7f7fffffu, 0x00000001u, 0x807fffffu, 0x477fe000u, 0x477fefffu, 0x477ff000u, 0x33000000u,
                                        0x33000001u, 0xb3000000u, 0x38800000u, 0x387fe000u, 0x7f7f8000u, 0x7f7f7fffu, 0x3f808000u,
                                        0x3f818000u, 0x3f80c000u };
    float v[4];
    unsigned char out[16];
    for (i = 0; i < sizeof special / sizeof special[0]; i++) {
        const float f = bits(special[i]);
        if (!same_f16(mf_f32_to_f16(f), naive_f16(f), f, 0)) { if (ok16) printf("   f16 of %08x: %04x, naive %04x\n", special[i], mf_f32_to_f16(f), naive_f16(f)); ok16 = 0; }
        if (!same_f16(mf_f32_to_bf16(f), naive_bf16(f), f, 1)) { if (okb) printf("   bf16 of %08x: %04x, naive %04x\n", special[i], mf_f32_to_bf16(f), naive_bf16(f)); okb = 0; }
    }
    /* every f16 value, the midpoints between neighbours (ties) and a float step either side */
    for (h = 0; h < 0x7c00; h++) {
        const double a = f16_value(h), b = h < 0x7bff ? f16_value(h + 1) : 65520.0;
        const float mid = (float)((a + b) / 2), fs[4] = { (float)a, mid, nextafterf(mid, 0.0f), nextafterf(mid, INFINITY) };
        int k;
        for (k = 0; k < 8; k++) {
            const float f = k < 4 ? fs[k] : -fs[k - 4];
            ok16 &= same_f16(mf_f32_to_f16(f), naive_f16(f), f, 0);
            n++;
        }
    }
    check(ok16, "f16: every f16 value, every tie between neighbours (to even) and the floats either side, both signs (%d values) and %d special ones", n,
          (int)(sizeof special / sizeof special[0]));
    /* bf16 ties: every pattern with the low half 0x8000, and random patterns (NaN, infinity, subnormals among them) */
    for (i = 0; i < 0x10000u; i++) {
        const float f = bits(i << 16 | 0x8000u), g = bits(rnd32()), e = bits(i << 16 | (rnd32() & 0xffffu));
        okb &= same_f16(mf_f32_to_bf16(f), naive_bf16(f), f, 1) && same_f16(mf_f32_to_bf16(g), naive_bf16(g), g, 1) &&
               same_f16(mf_f32_to_bf16(e), naive_bf16(e), e, 1);
    }
    check(okb, "bf16: every tie (to even), 2 x 65536 random patterns over every exponent, the special values");
    for (i = 0, ok16 = 1; i < 300000; i++) { /* random floats around the f16 range */
        const float f = bits((rnd32() & 0x80000000u) | (0x32800000u + rnd32() % 0x15000000u));
        ok16 &= same_f16(mf_f32_to_f16(f), naive_f16(f), f, 0);
    }
    check(ok16, "f16: 300000 random floats from 2^-26 to 2^17");
    v[0] = 1.0f; v[1] = -65504.0f; v[2] = 65520.0f; v[3] = 0.5f;
    check(mf_encode(out, v, 4, MOD_DTYPE_F16) == 2 && out[0] == 0x00 && out[1] == 0x3c && out[2] == 0xff && out[3] == 0xfb && out[5] == 0x7c,
          "mf_encode f16: little-endian halves; the first value that overflows is reported (index 2)");
    v[2] = 3.0e38f; v[3] = FLT_MAX; /* rounds up past the largest bf16 */
    check(mf_encode(out, v, 4, MOD_DTYPE_BF16) == 3 && out[0] == 0x80 && out[1] == 0x3f, "mf_encode bf16: the first overflow reported (index 3)");
    check(mf_encode(out, v, 4, MOD_DTYPE_F32) == 4 && mf_get_f32(out + 8) == 3.0e38f, "mf_encode f32: little-endian floats, nothing to report");
    check_group("f16 and bf16 rounding");
}

/* Rounded half away from zero. */
static double round_away(double x) { return x < 0 ? -floor(-x + 0.5) : floor(x + 0.5); }

/* q8_0 by docs/FORMAT.md: d = max|w| / 127 stored as f16; q = w x (127 / max|w|) in binary32,
   rounded half away from zero (a block whose 127 / max|w| is not finite: -127 throughout). */
static void naive_q8(unsigned char *q, const float *w)
{
    float amax = 0.0f, id;
    unsigned d;
    int j;
    for (j = 0; j < 32; j++) amax = fabsf(w[j]) > amax ? fabsf(w[j]) : amax;
    d = naive_f16(amax / 127.0f);
    q[0] = (unsigned char)d; q[1] = (unsigned char)(d >> 8);
    id = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (j = 0; j < 32; j++) {
        const float p = w[j] * id;
        q[2 + j] = (unsigned char)(signed char)(isfinite(p) ? (int)round_away((double)p) : -127);
    }
}

/* q4_0 by docs/FORMAT.md: m the first weight of largest magnitude, d = m / -8 stored as f16,
   n = clamp(round(w / d) + 8, 0, 15) with the stored d, halves away from zero; d = 0: 8. Byte
   j: weight j low, weight j + 16 high. */
static void naive_q4(unsigned char *q, const float *w)
{
    float m = 0.0f;
    unsigned d16;
    double d;
    int j, n[32];
    for (j = 0; j < 32; j++) if (fabsf(w[j]) > fabsf(m)) m = w[j];
    d16 = m == 0.0f ? 0 : naive_f16(m / -8.0f);
    d = f16_value(d16);
    for (j = 0; j < 32; j++) {
        const double r = d == 0.0 ? 8.0 : round_away((double)w[j] / d) + 8.0;
        n[j] = r < 0 ? 0 : r > 15 ? 15 : (int)r;
    }
    q[0] = (unsigned char)d16; q[1] = (unsigned char)(d16 >> 8);
    for (j = 0; j < 16; j++) q[2 + j] = (unsigned char)(n[j] | n[j + 16] << 4);
}

/* Blocks of several kinds: normal values at scales from 1e-40 to 1e3, ties, zeros, a lone
   value, the largest negative, repeated extremes. */
static void make_block(float *w, int kind)
{
    const double scale = pow(10.0, (double)(kind % 44) - 40.0);
    int j;
    for (j = 0; j < 32; j++) {
        double g = ((double)(rnd32() % 2000001) - 1000000.0) / 250000.0;
        w[j] = (float)(g * scale);
    }
    if (kind % 7 == 1) { w[5] = -127.0f; for (j = 0; j < 32; j++) if (j != 5) w[j] = (float)((int)(rnd32() % 253) - 126) + 0.5f; } /* q8 ties */
    if (kind % 7 == 2) { w[9] = -8.0f; for (j = 0; j < 32; j++) if (j != 9) w[j] = (float)((int)(rnd32() % 17) - 8) + (j % 2 ? 0.5f : 0.0f); } /* q4 ties */
    if (kind % 7 == 3) for (j = 0; j < 32; j++) w[j] = 0.0f;
    if (kind % 7 == 4) { for (j = 0; j < 32; j++) w[j] = 0.0f; w[kind % 32] = -3.0f; }
    if (kind % 7 == 5) { w[3] = 2.0f; w[20] = -2.0f; for (j = 0; j < 32; j++) if (j != 3 && j != 20) w[j] = (float)(j % 4) * 0.25f; }
}

static void test_blocks(void)
{
    int kind, ok8 = 1, ok4 = 1;
    float w[32];
    unsigned char got[34], want[34];
    for (kind = 0; kind < 20000; kind++) {
        make_block(w, kind);
        mf_q8_block(got, w);
        naive_q8(want, w);
        if (memcmp(got, want, 34)) { if (ok8) printf("   q8_0 block kind %d differs\n", kind); ok8 = 0; }
        mf_q4_block(got, w);
        naive_q4(want, w);
        if (memcmp(got, want, 18)) { if (ok4) printf("   q4_0 block kind %d differs\n", kind); ok4 = 0; }
    }
    check(ok8, "q8_0: 20000 blocks (scales 1e-40 .. 1e3, ties, zeros, lone values) byte for byte the rule of the page");
    check(ok4, "q4_0: 20000 blocks byte for byte the rule of the page");
    {   /* hand-made: ties away from zero, the nibble order, the extreme */
        static const float t8[4] = { 2.5f, -2.5f, 126.5f, -127.0f };
        int j;
        for (j = 0; j < 32; j++) w[j] = j < 4 ? t8[j] : 0.0f;
        mf_q8_block(got, w);
        check(got[0] == 0x00 && got[1] == 0x3c && (signed char)got[2] == 3 && (signed char)got[3] == -3 && (signed char)got[4] == 127 &&
              (signed char)got[5] == -127, "q8_0: scale 1.0, 2.5 -> 3, -2.5 -> -3, 126.5 -> 127, the largest -127");
        for (j = 0; j < 32; j++) w[j] = 0.0f;
        w[0] = -8.0f; w[1] = 2.5f; w[16] = -2.5f; w[17] = 7.5f;
        mf_q4_block(got, w);
        check(got[0] == 0x00 && got[1] == 0x3c && got[2] == (0 | 5 << 4) && got[3] == (11 | 15 << 4) && got[4] == (8 | 8 << 4),
              "q4_0: scale 1.0; -8 -> 0, 2.5 -> 11, -2.5 -> 5 (high nibble of byte 0), 7.5 -> 16 clamped to 15");
        for (j = 0; j < 32; j++) w[j] = 1e6f * (float)(j + 1);
        check(mf_q8_block(got, w) == -1 && mf_q4_block(got, w) == -1, "a block whose scale does not fit in f16 is reported");
        check(mf_encode(got, w, 32, MOD_DTYPE_Q4_0) == 0, "mf_encode reports the first value of that block");
    }
    check(mf_tensor_bytes(MOD_DTYPE_Q8_0, 3, 64) == 3 * 2 * 34 && mf_tensor_bytes(MOD_DTYPE_Q4_0, 3, 64) == 3 * 2 * 18 &&
          mf_tensor_bytes(MOD_DTYPE_F16, 3, 64) == 3 * 64 * 2 && mf_tensor_bytes(MOD_DTYPE_F32, 0, 7) == 28,
          "tensor bytes: a row of C columns is C / 32 x 34 (q8_0), C / 32 x 18 (q4_0), 2 C (f16, bf16), 4 C (f32)");
    check_group("q8_0 and q4_0 blocks");
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "docs/FORMAT.md";
    g_doc = read_text(path);
    if (!check(g_doc != NULL, "read %s", path)) return check_finish();
    test_records();
    test_roles();
    test_writer_fields();
    test_layout();
    test_fnv();
    test_f16_bf16();
    test_blocks();
    free(g_doc);
    return check_finish();
}
