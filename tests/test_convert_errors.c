/* mod-convert refusing what it cannot convert, and its command line: corrupt safetensors
   (framing, offsets, dtypes, header entries), config.json (JSON syntax, nesting, UTF-8,
   duplicate and missing keys, token ids), tensors that disagree with config.json and bad
   tokenizer.json files, each failing with its own message and leaving no output file (nor
   touching an existing one); usage errors, --force, --verify, outputs that are an input, a
   directory or in a missing one, and a full disk.
   Usage: test_convert_errors [path/to/mod-convert] (default: beside this program). */
#define _POSIX_C_SOURCE 200809L
#define MOD_IMPLEMENTATION
#include "../mod.h"
#include "ckpt.h"

/* ---- corrupt inputs ------------------------------------------------------------------- */

/* A raw safetensors file from a header string and a data size. */
static void raw_st(const char *dir, const char *hdr, size_t data, int64_t len_override, size_t cut)
{
    size_t h = strlen(hdr), total = 8 + h + data;
    unsigned char *f = (unsigned char *)calloc(total + 1, 1);
    char path[4200];
    mkm_put_u64(f, len_override >= 0 ? (uint64_t)len_override : (uint64_t)h);
    memcpy(f + 8, hdr, h);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_file(path, f, total - cut);
    free(f);
}

/* The file at path with its first `from` replaced by `to` (the test's JSON edits). */
static void edit_file(const char *path, const char *from, const char *to)
{
    size_t n, fl = strlen(from), tl = strlen(to);
    unsigned char *b = read_file(path, &n);
    char *at, *o;
    if (!b || !(at = strstr((char *)b, from)) || !(o = (char *)malloc(n + tl + 1))) {
        check(0, "edit %s: \"%s\" found", path, from);
        free(b);
        return;
    }
    memcpy(o, b, (size_t)(at - (char *)b));
    memcpy(o + (at - (char *)b), to, tl);
    memcpy(o + (at - (char *)b) + tl, at + fl, n - (size_t)(at - (char *)b) - fl);
    write_file(path, o, n - fl + tl);
    free(o);
    free(b);
}

static void test_corrupt(void)
{
    spec s;
    char d[4200], path[8400], *deep;
    int i;
    stlist *l = (stlist *)calloc(1, sizeof *l);
    snprintf(d, sizeof d, "%s", P("bad"));
    spec_default(&s);
    s.L = 1;
    make_dir(d, &s, &canon, "F32", NULL, NULL);
    /* safetensors framing */
    raw_st(d, "", 0, -1, 0);
    snprintf(path, sizeof path, "%s/model.safetensors", d);
    write_file(path, "\x10\0\0\0\0", 5);
    refuse("safetensors truncated in its header length", "too short for a safetensors header", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 200, 0);
    refuse("safetensors truncated in its header", "truncated header", d, NULL, NULL);
    raw_st(d, "{}", 0, (int64_t)1 << 40, 0);
    refuse("safetensors header length huge", "100 MB limit", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}", 32, -1, 10);
    refuse("safetensors truncated in its data", "is truncated: its tensors need 32 bytes", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24, -1, 0);
    refuse("overlapping data_offsets", "overlap", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[400,416]}}", 32, -1, 0);
    refuse("data_offsets past the end", "lie past the end of the data", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[20,36]}}", 36, -1, 0);
    refuse("non-contiguous data", "a gap of 4 bytes between a and b", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F33\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, -1, 0);
    refuse("unknown dtype", "unknown dtype \"F33\"", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4,2],\"data_offsets\":[0,16]}}", 16, -1, 0);
    refuse("shape and size disagree", "is 32 bytes but its data_offsets span 16", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,32]}}", 32, -1, 0);
    refuse("duplicate tensor names", "duplicate key \"a\"", d, NULL, NULL);
    raw_st(d, "{\"a\":{\"dtype\":\"I64\",\"shape\":[4],\"data_offsets\":[0,32]}}", 32, -1, 0);
    refuse("a tensor of an unconvertible dtype", "unexpected tensor a", d, NULL, NULL);
    /* the messages name the entry from the parsed header, which must still be alive then */
    raw_st(d, "{\"model.norm.weight\": [1, 2]}", 0, -1, 0);
    refuse("a header entry that is not an object", "tensor model.norm.weight: the entry must be an object", d, NULL, NULL);
    raw_st(d, "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[4]}}", 16, -1, 0);
    refuse("a header entry without data_offsets", "tensor model.norm.weight: the entry needs", d, NULL, NULL);
    raw_st(d, "{\"model.norm.weight\":{\"dtype\":\"Q9_K\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, -1, 0);
    refuse("an unknown dtype named from the header", "tensor model.norm.weight: unknown dtype \"Q9_K\"", d, NULL, NULL);
    raw_st(d, "{\"__metadata__\": [1], \"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, -1, 0);
    refuse("__metadata__ that is not an object", "\"__metadata__\" must be an object", d, NULL, NULL);
    /* a well-formed model for the remaining cases */
    make_dir(d, &s, &canon, "F32", NULL, NULL);
    snprintf(path, sizeof path, "%s/config.json", d);
    write_str(path, "{\"hidden_size\": 32, \"intermediate_size\": 48");
    refuse("config.json unterminated", "unterminated object", d, NULL, NULL);
    write_str(path, "{\"hidden_size\": 32} x");
    refuse("config.json with trailing garbage", "trailing characters", d, NULL, NULL);
    deep = (char *)malloc(20002);
    for (i = 0; i < 10000; i++) { deep[i] = '['; deep[10000 + i] = ']'; }
    deep[20000] = 0;
    write_str(path, deep);
    free(deep);
    refuse("config.json nested 10000 levels", "nesting deeper than", d, NULL, NULL);
    write_str(path, "{\"hidden_size\": 32, \"name\": \"caf\xE9\"}");
    refuse("config.json with invalid UTF-8", "invalid UTF-8", d, NULL, NULL);
    write_str(path, "{\"hidden_size\": 32, \"name\": \"a\\x\"}");
    refuse("config.json with a bad escape", "invalid escape", d, NULL, NULL);
    write_str(path, "{\"hidden_size\": 32, \"name\": \"\\ud800\"}");
    refuse("config.json with a lone surrogate", "surrogate", d, NULL, NULL);
    write_str(path, "{\"hidden_size\": 32, \"hidden_size\": 64}");
    refuse("config.json with a repeated key", "line 1, column 21: duplicate key", d, NULL, NULL);
    write_str(path, "{\"intermediate_size\": 48, \"num_hidden_layers\": 1, \"num_attention_heads\": 4, \"vocab_size\": 300}");
    refuse("config.json without hidden_size", "missing required key \"hidden_size\"", d, NULL, NULL);
    write_config(d, &s, NULL, NULL);
    {   /* bos/eos ids are checked even when no tokenizer comes with the model */
        static const char *const bad_ids[][2] = {
            { ", \"bos_token_id\": \"1\"", "\"bos_token_id\" must be a token id" },
            { ", \"eos_token_id\": {\"id\": 2}", "\"eos_token_id\" must be a token id" },
            { ", \"bos_token_id\": 18446744073709551616", "\"bos_token_id\" must be a token id" },
            { ", \"eos_token_id\": -1", "\"eos_token_id\" must be a token id" },
            { ", \"bos_token_id\": 1.5", "\"bos_token_id\" must be a token id" },
            { ", \"eos_token_id\": [2, \"x\"]", "\"eos_token_id\" must be a token id" },
            { ", \"eos_token_id\": [2, 300]", "\"eos_token_id\" is 300, outside the vocabulary of 300 tokens" },
            { ", \"bos_token_id\": 300", "\"bos_token_id\" is 300, outside the vocabulary of 300 tokens" },
        };
        size_t k;
        for (k = 0; k < sizeof bad_ids / sizeof bad_ids[0]; k++) {
            char what[200];
            write_config(d, &s, NULL, bad_ids[k][0]);
            snprintf(what, sizeof what, "config.json with%s, no tokenizer", bad_ids[k][0] + 1);
            refuse(what, bad_ids[k][1], d, "--tokenizer", "none");
        }
        write_config(d, &s, NULL, ", \"bos_token_id\": null, \"eos_token_id\": [299, 0]");
        unlink(P("ids.mod"));
        check(conv(d, "-o", P("ids.mod"), "--tokenizer", "none", NULL) == 0, "config.json with a null bos and a list of eos ids converts (%s)", g_err);
        unlink(P("ids.mod"));
    }
    write_config(d, &s, NULL, NULL);
    /* tensors vs config */
    build_tensors(&s, &canon, "F32", l);
    st_write(P("bad/model.safetensors"), l, 1, l->n - 1); /* the first written is layer 0's last role */
    refuse("missing tensor", "missing tensor model.layers.0.mlp.down_proj.weight", d, NULL, NULL);
    {
        uint64_t sh[1] = { 4 };
        float z[4] = { 0, 0, 0, 0 };
        st_add(l, "model.layers.0.mlp.extra.weight", "F32", 1, sh, z);
        st_write(P("bad/model.safetensors"), l, 0, l->n);
        refuse("unexpected tensor", "unexpected tensor model.layers.0.mlp.extra.weight", d, NULL, NULL);
    }
    st_write(P("bad/model.safetensors"), l, 0, l->n - 1);
    for (i = 0; i < l->n - 1; i++)
        if (!strcmp(l->t[i].name, "model.norm.weight")) snprintf(l->t[i].dtype, sizeof l->t[i].dtype, "I32");
    st_write(P("bad/model.safetensors"), l, 0, l->n - 1);
    refuse("a weight stored as integers", "model.norm.weight (in", d, NULL, NULL);
    check(strstr(g_err, "has dtype I32; only F32, F16 and BF16") != NULL, "... the message names the dtype (%s)", g_err);
    for (i = 0; i < l->n - 1; i++)
        if (!strcmp(l->t[i].name, "model.norm.weight")) snprintf(l->t[i].dtype, sizeof l->t[i].dtype, "F32");
    st_write(P("bad/model.safetensors"), l, 0, l->n - 1);
    s.F = 40;
    write_config(d, &s, NULL, NULL);
    refuse("shape disagreeing with config.json", "implies [intermediate_size, hidden_size] = [40, 32]", d, NULL, NULL);
    s.F = 48;
    write_config(d, &s, NULL, NULL);
    write_config(d, &s, NULL, ", \"num_hidden_layers\": 2");
    refuse("config.json with a repeated key (num_hidden_layers)", "duplicate key", d, NULL, NULL);
    write_config(d, &s, NULL, NULL);
    /* tokenizer.json */
    s.V = 300;
    write_tokenizer(P("bad/tokenizer.json"), 0, 0, NULL, "\"h zz\"", -1);
    refuse("a merge naming an unknown token", "names the token \"zz\", which is not in the vocab", d, NULL, NULL);
    write_tokenizer(P("bad/tokenizer.json"), 0, 0, NULL, NULL, 300);
    refuse("a vocab id out of range", "has id 300, outside the model's vocab_size 300", d, NULL, NULL);
    write_tokenizer(P("bad/tokenizer.json"), 0, 0, "WordPiece", NULL, -1);
    refuse("an unsupported tokenizer model type", "unsupported tokenizer model type \"WordPiece\"", d, NULL, NULL);
    write_tokenizer(P("bad/tokenizer.json"), 0, 0, NULL, "\"hell d\"", -1);
    refuse("a merge whose result is not in the vocab", "the merged token is not in the vocab", d, NULL, NULL);
    /* byte-level tokenizer.json: normalizers other than NFC, added tokens mod.h cannot match */
    write_tokenizer(P("bad/tokenizer.json"), 0, 0, NULL, NULL, -1);
    edit_file(P("bad/tokenizer.json"), "\"normalizer\":null", "\"normalizer\":{\"type\":\"NFKC\"}");
    refuse("a byte-level tokenizer with an NFKC normalizer", "has a normalizer (NFKC), which mod.h cannot reproduce (it knows NFC)", d, NULL, NULL);
    write_tokenizer(P("bad/tokenizer.json"), 0, 0, NULL, NULL, -1);
    edit_file(P("bad/tokenizer.json"), "\"normalizer\":null", "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"},{\"type\":\"Lowercase\"}]}");
    refuse("a byte-level tokenizer with NFC and Lowercase", "has a normalizer (Sequence)", d, NULL, NULL);
    write_tokenizer(P("bad/tokenizer.json"), 0, 0, NULL, NULL, -1);
    edit_file(P("bad/tokenizer.json"), "\"lstrip\":false", "\"lstrip\":true");
    refuse("a byte-level added token with lstrip", "added token \"<|endoftext|>\" has \"lstrip\": true", d, NULL, NULL);
    write_tokenizer(P("bad/tokenizer.json"), 0, 0, NULL, NULL, -1);
    edit_file(P("bad/tokenizer.json"), "\"normalizer\":null", "\"normalizer\":{\"type\":\"NFC\"}");
    edit_file(P("bad/tokenizer.json"), "\"normalized\":false", "\"normalized\":true");
    refuse("a byte-level added token normalized after NFC", "has \"normalized\": true with the NFC normalizer", d, NULL, NULL);
    /* SentencePiece-style tokenizer.json: what kind 3 cannot reproduce is named */
    write_sp_tokenizer(P("bad/tokenizer.json"), "{\"type\":\"NFKC\"}", NULL, NULL, NULL, NULL);
    refuse("a SentencePiece-style tokenizer with an NFKC normalizer", "the normalizer NFKC is not one mod.h reproduces", d, NULL, NULL);
    write_sp_tokenizer(P("bad/tokenizer.json"), NULL, NULL, NULL, "\"c d\":270", NULL);
    refuse("a SentencePiece-style vocab token with a literal space", "token \"c d\" (id 270) has a literal space", d, NULL, NULL);
    write_sp_tokenizer(P("bad/tokenizer.json"), NULL, NULL, NULL, NULL, "\"lstrip\":true");
    refuse("an added token with lstrip", "added token \"<x>\" has \"lstrip\": true", d, NULL, NULL);
    write_sp_tokenizer(P("bad/tokenizer.json"), NULL, NULL, "null", NULL, NULL);
    refuse("a SentencePiece-style tokenizer without a decoder", "the tokenizer has no decoder", d, NULL, NULL);
    write_sp_tokenizer(P("bad/tokenizer.json"), "null", "{\"type\":\"Metaspace\",\"replacement\":\"_\"}", NULL, NULL, NULL);
    refuse("a Metaspace replacement other than U+2581", "the Metaspace replacement is not", d, NULL, NULL);
    write_sp_tokenizer(P("bad/tokenizer.json"), "null", "null", NULL, NULL, NULL);
    refuse("byte fallback but spaces never replaced", "neither the normalizer nor a Metaspace pre-tokenizer", d, NULL, NULL);
    write_sp_tokenizer(P("bad/tokenizer.json"), NULL, "{\"type\":\"Digits\"}", NULL, NULL, NULL);
    refuse("a SentencePiece-style tokenizer with a Digits pre-tokenizer", "the pre-tokenizer Digits is not one mod.h reproduces", d, NULL, NULL);
    unlink(P("bad/tokenizer.json"));
    st_free(l);
    free(l);
}

/* ---- the command line and the output file --------------------------------------------- */

static void test_cli(void)
{
    spec s;
    int rc;
    size_t n;
    unsigned char *b;
    spec_default(&s);
    s.L = 2;
    make_dir(P("cli"), &s, &canon, "F32", NULL, NULL);
    check(conv("--help", NULL) == 0 && strstr(g_out, "usage: mod-convert"), "--help");
    check(conv(P("cli"), NULL) == 2 && strstr(g_err, "-o OUT"), "no -o: usage error (exit 2)");
    check(conv(P("cli"), "-o", P("x.mod"), "--frobnicate", NULL) == 2 && strstr(g_err, "unknown option"), "unknown option: exit 2");
    check(conv(P("cli"), "-o", P("x.mod"), "--dtype", "f64", NULL) == 2 && strstr(g_err, "invalid value"), "bad --dtype: exit 2");
    check(conv(P("cli"), "-o", P("x.mod"), "--capacity", "1.5", NULL) == 2, "bad --capacity: exit 2");
    check(conv(P("cli"), "-o", P("x.mod"), "--threshold", "nan", NULL) == 2, "NaN --threshold: exit 2");
    check(conv(P("cli"), "-o", P("x.mod"), "--combine", "sum", NULL) == 2, "bad --combine: exit 2");
    check(!exists(P("x.mod")), "usage errors write nothing");
    rc = conv(P("cli"), "-o", P("cli.mod"), NULL);
    check(rc == 0 && !stray_files(g_tmp), "converts, no temporary file left behind (%s)", g_err);
    {
        struct stat st;
        check(stat(P("cli.mod"), &st) == 0 && (st.st_mode & 0444) == 0444 - (0444 & (mode_t)umask(022)), "the output is readable like a normal new file");
        umask(022);
    }
    rc = conv(P("cli"), "-o", P("cli.mod"), NULL);
    check(rc == 1 && strstr(g_err, "exists") && strstr(g_err, "--force"), "an existing output needs --force (%s)", g_err);
    write_str(P("cli_old.mod"), "old");
    rc = conv(P("cli"), "-o", P("cli_old.mod"), "--force", NULL);
    check(rc == 0 && same_files(P("cli.mod"), P("cli_old.mod")), "--force replaces it");
    rc = conv("--verify", P("cli.mod"), NULL);
    check(rc == 0 && strstr(g_out, "OK"), "--verify on a good file: OK, exit 0");
    b = read_file(P("cli.mod"), &n);
    if (b) {
        b[n - 3] ^= 1;
        write_file(P("cli_bad.mod"), b, n);
        free(b);
    }
    rc = conv("--verify", P("cli_bad.mod"), NULL);
    check(rc == 1 && strstr(g_err, "checksum"), "--verify on a damaged file: the error, exit 1 (%s)", g_err);
    rc = conv("--verify", P("nope.mod"), NULL);
    check(rc == 1 && strstr(g_err, "cannot open"), "--verify on a missing file");
    rc = conv(P("cli"), "-o", P("cli/model.safetensors"), "--force", NULL);
    check(rc == 1 && strstr(g_err, "is the input file"), "output equal to an input file is refused (%s)", g_err);
    rc = conv(P("cli"), "-o", P("cli/config.json"), "--force", NULL);
    check(rc == 1 && strstr(g_err, "is the input file"), "... also config.json");
    symlink(P("cli/model.safetensors"), P("cli_link.mod"));
    rc = conv(P("cli"), "-o", P("cli_link.mod"), "--force", NULL);
    check(rc == 1 && strstr(g_err, "is the input file"), "... also through a symbolic link");
    rc = conv(P("cli"), "-o", P("cli/../cli/model.safetensors"), "--force", NULL);
    check(rc == 1 && strstr(g_err, "is the input file"), "... also through another path");
    {
        size_t n0, n1;
        unsigned char *b0, *b1;
        l2c c;
        l2c_init(&c, 32, 40, 3, 4, 2, L2C_V, 48, 1, 0, 100u);
        l2c_write(P("l2c.bin"), &c);
        l2c_free(&c);
        b0 = read_file(P("l2c.bin"), &n0);
        rc = conv(P("l2c.bin"), "-o", P("l2c.bin"), "--force", NULL);
        b1 = read_file(P("l2c.bin"), &n1);
        check(rc == 1 && strstr(g_err, "is the input file") && b0 && b1 && n0 == n1 && !memcmp(b0, b1, n0), "a llama2.c checkpoint cannot be its own output");
        free(b0);
        free(b1);
    }
    rc = conv(P("cli"), "-o", P("no/such/dir/x.mod"), NULL);
    check(rc == 1 && strstr(g_err, "output directory") && strstr(g_err, "does not exist"), "missing output directory (%s)", g_err);
    rc = conv(P("cli"), "-o", P("cli"), "--force", NULL);
    check(rc == 1 && strstr(g_err, "is a directory"), "output that is a directory");
    rc = conv(P("nothing_here"), "-o", P("x.mod"), NULL);
    check(rc == 1 && strstr(g_err, "cannot open"), "missing input");
    {   /* a file size limit: the write fails, nothing is left */
        char *argv[10];
        char script[] = "ulimit -f 16; exec \"$0\" \"$@\"";
        argv[0] = (char *)"/bin/sh"; argv[1] = (char *)"-c"; argv[2] = script; argv[3] = g_conv;
        argv[4] = (char *)P("cli"); argv[5] = (char *)"-o"; argv[6] = (char *)P("full.mod"); argv[7] = NULL;
        rc = run(argv);
        check(rc == 1 && strstr(g_err, "cannot write") && !exists(P("full.mod")) && !stray_files(g_tmp), "disk full (file size limit): error, no file left (%s)", g_err);
    }
}

int main(int argc, char **argv)
{
    static const ckpt_test tests[] = {
        { test_corrupt, "corrupt inputs" },
        { test_cli, "command line, output file" },
    };
    return ckpt_main(argc, argv, tests, (int)(sizeof tests / sizeof tests[0]));
}
