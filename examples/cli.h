/* Small helpers shared by the command-line programs: strict number parsing, a clock, input
   files that never block, and output files that never replace an input or a device and never
   stay half-written. Not part of the library. POSIX; a program that writes files defines
   _GNU_SOURCE before its first #include so that Linux's O_TMPFILE is declared. */
#ifndef MOD_CLI_H
#define MOD_CLI_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* Parses a whole string as an int in [lo, hi]; 0 on success. */
static inline int cli_int(const char *s, long lo, long hi, int *out) {
    char *end;
    long v;
    if (!s || !*s) return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static inline int cli_u64(const char *s, uint64_t *out) {
    char *end;
    unsigned long long v;
    if (!s || !*s || *s == '-') return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

/* Parses a whole string as a finite float in [lo, hi]; 0 on success. */
static inline int cli_float(const char *s, double lo, double hi, float *out) {
    char *end;
    double v;
    if (!s || !*s) return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !(v >= lo && v <= hi)) return -1; /* also rejects NaN */
    *out = (float)v;
    return 0;
}

static inline double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A message into err (cap bytes), cut short if it does not fit. */
static inline void cli__msg(char *err, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* ---- input files -------------------------------------------------------------------------
   A FIFO blocks open() until a writer appears, so every input is opened with O_NONBLOCK, its
   type taken from fstat on the descriptor, and its reads made blocking again. Models,
   checkpoints and JSON must be regular files (CLI_REGULAR); text may also come from a pipe or
   a FIFO (CLI_TEXT: `--text <(zcat f.gz)` works, and a FIFO with no writer reads as empty).
   Devices, sockets and directories are refused, devices before they are opened. */
#define CLI_REGULAR 0
#define CLI_TEXT 1
#define CLI_ACCEPTS(kind, mode) (S_ISREG(mode) || ((kind) == CLI_TEXT && S_ISFIFO(mode)))

/* Opens path for reading; the descriptor (blocking), with its fstat in *st, or -1 with the
   reason in err. */
static inline int cli_open_input(const char *path, int kind, struct stat *st, char *err, size_t cap) {
    const char *what = kind == CLI_TEXT ? "a regular file or a pipe" : "a regular file";
    int fd, flags;
    if (stat(path, st) == 0 && !CLI_ACCEPTS(kind, st->st_mode)) {
        cli__msg(err, cap, "%s is not %s", path, what);
        return -1;
    }
    do fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY); while (fd < 0 && errno == EINTR);
    if (fd < 0) { cli__msg(err, cap, "cannot open %s: %s", path, strerror(errno)); return -1; }
    if (fstat(fd, st) != 0 || !CLI_ACCEPTS(kind, st->st_mode)) {
        cli__msg(err, cap, "%s is not %s", path, what);
        close(fd);
        return -1;
    }
    if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        cli__msg(err, cap, "cannot read %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads a whole text file (regular file or pipe); the caller frees. NULL on failure (message
   printed). */
static inline char *cli_read_file(const char *path, size_t *len) {
    char *buf = NULL, why[4200];
    size_t cap = 0, n = 0;
    struct stat st;
    int fd = cli_open_input(path, CLI_TEXT, &st, why, sizeof why);
    if (fd < 0) { fprintf(stderr, "error: %s\n", why); return NULL; }
    for (;;) {
        ssize_t got;
        if (n == cap) {
            char *nb;
            if (cap > ((size_t)-1) / 2 - 1) { free(buf); close(fd); fprintf(stderr, "error: %s is too large\n", path); return NULL; }
            cap = cap ? cap * 2 : 65536;
            nb = (char *)realloc(buf, cap + 1);
            if (!nb) { free(buf); close(fd); fprintf(stderr, "error: out of memory reading %s\n", path); return NULL; }
            buf = nb;
        }
        got = read(fd, buf + n, cap - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) { fprintf(stderr, "error: cannot read %s: %s\n", path, strerror(errno)); free(buf); close(fd); return NULL; }
        if (got == 0) break;
        n += (size_t)got;
    }
    close(fd);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* ---- output files ------------------------------------------------------------------------
   An output is a regular file or a new path; never one of the program's inputs (same device
   and inode, so hard and symbolic links count), never its own standard input, output or error,
   never a device. It is written where no name points to it until it is complete:
   - with O_TMPFILE (Linux, on file systems that have it): an unnamed file in the output's
     directory, linked into place by linkat through /proc/self/fd/N once complete and synced.
     An existing file is replaced by linking to a fresh name beside it and renaming that over
     the file, with signals blocked in between. No signal, SIGKILL included, and no power loss
     leaves a file behind.
   - otherwise: mkstemp beside the output, then rename. A handler for every catchable signal
     that terminates removes the temporary file; SIGKILL (or power loss) can leave it.
   The environment variable MOD_TEST_NO_TMPFILE=1 forces the second way (for its tests). */
typedef struct cli_file_id {
    dev_t dev;
    ino_t ino;
    const char *path;
} cli_file_id;

typedef struct cli_out {
    const char *path;
    char dir[4096];
    int fd, anon, replace;
} cli_out;

/* The fallback's temporary file, for the signal handler. */
static char cli__tmp[4200];
static volatile sig_atomic_t cli__tmp_live;

static inline cli_file_id cli_file_id_of(const char *path, const struct stat *st) {
    cli_file_id id;
    id.dev = st->st_dev;
    id.ino = st->st_ino;
    id.path = path;
    return id;
}

static inline const char *cli__base(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* dirname of path ("." when there is none); -1 when it does not fit. */
static inline int cli__dir_of(const char *path, char *out, size_t cap) {
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (!slash) { snprintf(out, cap, "."); return 0; }
    if (n == 0) n = 1; /* "/file" */
    if (n >= cap) return -1;
    memcpy(out, path, n);
    out[n] = 0;
    return 0;
}

/* The output's existing file, st (from stat), is one of the inputs or a standard stream. */
static inline int cli__is_input(const char *path, const struct stat *st, const cli_file_id *in, int n_in,
                                const char *hint, char *err, size_t cap) {
    static const char *const names[3] = { "standard input", "standard output", "standard error" };
    struct stat s;
    int i;
    for (i = 0; i < n_in; i++)
        if (st->st_dev == in[i].dev && st->st_ino == in[i].ino) {
            cli__msg(err, cap, "the output %s is the input file %s; refusing to overwrite it", path, in[i].path);
            return 1;
        }
    for (i = 0; i < 3; i++)
        if (fstat(i, &s) == 0 && S_ISREG(s.st_mode) && s.st_dev == st->st_dev && s.st_ino == st->st_ino) {
            cli__msg(err, cap, "the output %s is this program's %s; refusing to write over it%s%s", path, names[i],
                     hint ? "; " : "", hint ? hint : "");
            return 1;
        }
    return 0;
}

/* 0 when path may be written: its directory exists; it is new (or a dangling symbolic link), or
   a regular file that is no input and no standard stream and, with replace, may be replaced.
   hint: where the program writes to standard output instead, for the message (or NULL). */
static inline int cli_output_check(const char *path, int replace, const cli_file_id *in, int n_in,
                                   const char *hint, char *err, size_t cap) {
    char dir[4096];
    struct stat st;
    if (!*cli__base(path)) { cli__msg(err, cap, "the output %s names a directory, not a file", path); return -1; }
    if (cli__dir_of(path, dir, sizeof dir) != 0) { cli__msg(err, cap, "the output path %s is too long", path); return -1; }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) { cli__msg(err, cap, "the output directory %s does not exist", dir); return -1; }
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return 0;
        cli__msg(err, cap, "cannot use the output %s: %s", path, strerror(errno));
        return -1;
    }
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) { cli__msg(err, cap, "the output %s is a directory", path); return -1; }
        if (!S_ISREG(st.st_mode)) {
            cli__msg(err, cap, "the output %s is not a regular file; outputs are regular files or new paths%s%s", path,
                     hint ? "; " : "", hint ? hint : "");
            return -1;
        }
        if (cli__is_input(path, &st, in, n_in, hint, err, cap)) return -1;
    }
    if (!replace) { cli__msg(err, cap, "the output %s exists; pass --force to replace it", path); return -1; }
    return 0;
}

static void cli__on_signal(int sig) {
    if (cli__tmp_live) unlink(cli__tmp);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Every catchable signal whose default action ends the process, except the ones a fault
   raises (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS), and only where it is not
   ignored (nohup). SIGXFSZ is ignored: a file size limit then shows as a failed write. */
static inline void cli__install_signals(void) {
    static const int sigs[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE,
#ifdef SIGVTALRM
                                SIGVTALRM,
#endif
#ifdef SIGPROF
                                SIGPROF,
#endif
#ifdef SIGXCPU
                                SIGXCPU,
#endif
#ifdef SIGPOLL
                                SIGPOLL,
#endif
#ifdef SIGPWR
                                SIGPWR,
#endif
#ifdef SIGSTKFLT
                                SIGSTKFLT,
#endif
                                0 };
    static int done;
    struct sigaction sa, old;
    int i;
    if (done) return;
    done = 1;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = cli__on_signal;
    sigemptyset(&sa.sa_mask);
    for (i = 0; sigs[i]; i++)
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN) sigaction(sigs[i], &sa, NULL);
#ifdef SIGRTMIN
    for (i = SIGRTMIN; i <= SIGRTMAX; i++)
        if (sigaction(i, NULL, &old) == 0 && old.sa_handler != SIG_IGN) sigaction(i, &sa, NULL);
#endif
#ifdef SIGXFSZ
    signal(SIGXFSZ, SIG_IGN);
#endif
}

static inline void cli__block(sigset_t *old) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, old);
}

static inline void cli__unblock(const sigset_t *old) { sigprocmask(SIG_SETMASK, old, NULL); }

/* An unnamed file in the output's directory: 1 made, 0 not available here, -1 error. */
static inline int cli__open_anon(cli_out *o) {
#ifdef O_TMPFILE
    const char *no = getenv("MOD_TEST_NO_TMPFILE");
    char proc[64];
    struct stat a, b;
    int fd;
    if (no && *no && strcmp(no, "0")) return 0;
    fd = open(o->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);
    if (fd < 0) return errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL ? 0 : -1;
    /* it is linked into place through /proc/self/fd, so that must be there */
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (fstat(fd, &a) != 0 || stat(proc, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
        close(fd);
        return 0;
    }
    o->fd = fd;
    o->anon = 1;
    return 1;
#else
    (void)o;
    return 0;
#endif
}

/* The fallback: mkstemp beside the output, with the mode a plain create would give. */
static inline int cli__open_named(cli_out *o, char *err, size_t cap) {
    sigset_t old;
    mode_t mask;
    int fd, e;
    if ((size_t)snprintf(cli__tmp, sizeof cli__tmp, "%s/.%s.XXXXXX", o->dir, cli__base(o->path)) >= sizeof cli__tmp) {
        cli__msg(err, cap, "the output path %s is too long", o->path);
        return -1;
    }
    cli__block(&old);
    fd = mkstemp(cli__tmp);
    e = errno;
    if (fd >= 0) cli__tmp_live = 1;
    cli__unblock(&old);
    if (fd < 0) { cli__msg(err, cap, "cannot create a temporary file in %s: %s", o->dir, strerror(e)); return -1; }
    o->fd = fd;
    mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) { cli__msg(err, cap, "cannot set the mode of %s: %s", cli__tmp, strerror(errno)); return -1; }
    return 0;
}

/* Starts writing the output path: o->fd is then open for reading and writing. replace: an
   existing regular file may be replaced. -1 with the reason in err (nothing is left). */
static inline int cli_output_open(cli_out *o, const char *path, int replace, char *err, size_t cap) {
    int r;
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->path = path;
    o->replace = replace;
    if (cli__dir_of(path, o->dir, sizeof o->dir) != 0) { cli__msg(err, cap, "the output path %s is too long", path); return -1; }
    cli__install_signals();
    r = cli__open_anon(o);
    if (r < 0) { cli__msg(err, cap, "cannot create a file in %s: %s", o->dir, strerror(errno)); return -1; }
    if (r == 0 && cli__open_named(o, err, cap) != 0) {
        if (o->fd >= 0) close(o->fd);
        o->fd = -1;
        if (cli__tmp_live) { unlink(cli__tmp); cli__tmp_live = 0; }
        return -1;
    }
    return 0;
}

/* A stdio stream writing to the output, on a descriptor of its own (fclose keeps o->fd). */
static inline FILE *cli_output_stream(cli_out *o) {
    int fd = dup(o->fd);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f && fd >= 0) close(fd);
    return f;
}

/* Writes all n bytes at the current offset; -1 (errno set) on failure. */
static inline int cli_write_all(int fd, const void *buf, size_t n) {
    const unsigned char *p = (const unsigned char *)buf;
    while (n) {
        ssize_t w = write(fd, p, n < ((size_t)1 << 30) ? n : ((size_t)1 << 30));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { if (w == 0) errno = EIO; return -1; }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The unnamed file appears under o->path: linked directly, or (replacing a file) linked to a
   fresh name beside it and renamed over it, with signals blocked in between. */
static inline int cli__link_anon(cli_out *o, char *err, size_t cap) {
    char proc[64];
    sigset_t old;
    int k, rc = -1, e;
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", o->fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, o->path, AT_SYMLINK_FOLLOW) == 0) return 0;
    e = errno;
    if (e == EEXIST && !o->replace) { cli__msg(err, cap, "the output %s exists; pass --force to replace it", o->path); return -1; }
    if (e != EEXIST) { cli__msg(err, cap, "cannot create %s: %s", o->path, strerror(e)); return -1; }
    cli__block(&old);
    for (k = 0; k < 1000 && rc != 0; k++) {
        unsigned long r = ((unsigned long)getpid() * 2654435761ul) ^ ((unsigned long)time(NULL) * 40503ul) ^ (unsigned long)k * 97u;
        if ((size_t)snprintf(cli__tmp, sizeof cli__tmp, "%s/.%s.%06lx", o->dir, cli__base(o->path), r & 0xFFFFFFul) >= sizeof cli__tmp) break;
        if (linkat(AT_FDCWD, proc, AT_FDCWD, cli__tmp, AT_SYMLINK_FOLLOW) == 0) rc = 0;
        else if (errno != EEXIST) break;
    }
    e = errno;
    if (rc == 0) {
        cli__tmp_live = 1;
        if (rename(cli__tmp, o->path) != 0) { e = errno; unlink(cli__tmp); rc = -1; }
        cli__tmp_live = 0;
    }
    cli__unblock(&old);
    if (rc != 0) cli__msg(err, cap, "cannot replace %s: %s", o->path, strerror(e));
    return rc;
}

static inline int cli__rename_named(cli_out *o, char *err, size_t cap) {
    sigset_t old;
    int rc, e;
    cli__block(&old);
    rc = rename(cli__tmp, o->path);
    e = errno;
    if (rc == 0) cli__tmp_live = 0;
    cli__unblock(&old);
    if (rc != 0) cli__msg(err, cap, "cannot rename %s to %s: %s", cli__tmp, o->path, strerror(e));
    return rc;
}

/* Syncs the directory so that the new name is durable; some file systems cannot, harmlessly. */
static inline void cli__sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY);
    if (fd < 0) return;
    if (fsync(fd) != 0 && errno != EINVAL && errno != EBADF && errno != EROFS)
        fprintf(stderr, "warning: cannot sync the directory %s: %s\n", dir, strerror(errno));
    close(fd);
}

/* Finishes the output: syncs it, checks its path again (as cli_output_check), puts it in
   place and syncs the directory. On failure call cli_output_abort. */
static inline int cli_output_commit(cli_out *o, const cli_file_id *in, int n_in, char *err, size_t cap) {
    int rc;
    if (fsync(o->fd) != 0) { cli__msg(err, cap, "cannot write %s: %s", o->path, strerror(errno)); return -1; }
    if (cli_output_check(o->path, o->replace, in, n_in, NULL, err, cap) != 0) return -1;
    if (!o->anon) {
        rc = close(o->fd);
        o->fd = -1;
        if (rc != 0) { cli__msg(err, cap, "cannot write %s: %s", o->path, strerror(errno)); return -1; }
        if (cli__rename_named(o, err, cap) != 0) return -1;
    } else {
        if (cli__link_anon(o, err, cap) != 0) return -1;
        close(o->fd);
        o->fd = -1;
    }
    cli__sync_dir(o->dir);
    return 0;
}

/* Abandons the output: nothing is left of it. */
static inline void cli_output_abort(cli_out *o) {
    if (o->fd >= 0) close(o->fd);
    o->fd = -1;
    if (cli__tmp_live) { unlink(cli__tmp); cli__tmp_live = 0; }
}

/* ---- models --------------------------------------------------------------------------------
   What every program does the same way with a model file (needs mod.h included first). */
#ifdef MOD_H
/* The context a session gets when --ctx is not given: the model's own, at most CLI_DEFAULT_CTX
   tokens, so that a model trained for 128k tokens does not reserve 128k tokens of KV cache and
   batch memory (tens of GB for an 8B model) by default; --ctx asks for more. */
#define CLI_DEFAULT_CTX 4096
/* Tokenizes len bytes of text into *toks (malloc'ed; the caller frees it, on failure too):
   first with len + 2 slots, enough for the usual tokenizers, then once more with what
   mod_tokenize says it needs (kind 2 with added tokens, NFC: up to 3 len + 2). MOD_ERR_*
   with err filled; MOD_ERR_OUT_OF_MEMORY for a text too long to hold. */
static inline mod_result cli_tokenize(const mod_model *model, const char *text, size_t len, int flags,
                                      int32_t **toks, int *n, mod_error *err) {
    int cap = 0;
    mod_result r = MOD_ERR_OUT_OF_MEMORY;
    *toks = NULL;
    *n = 0;
    if (len > (size_t)INT32_MAX / 3 - 2) {
        err->code = MOD_ERR_OUT_OF_MEMORY;
        snprintf(err->message, sizeof err->message, "the text is too long (%zu bytes)", len);
        return err->code;
    }
    for (;;) {
        cap = *n > cap ? *n : (int)len + 2;
        free(*toks);
        if (!(*toks = (int32_t *)malloc((size_t)cap * sizeof **toks))) {
            err->code = MOD_ERR_OUT_OF_MEMORY;
            snprintf(err->message, sizeof err->message, "out of memory for %d tokens", cap);
            return err->code;
        }
        r = mod_tokenize(model, text, len, flags, *toks, cap, n, err);
        if (r != MOD_ERR_BUFFER_TOO_SMALL || *n <= cap) return r;
    }
}

static inline int cli_default_ctx(const mod_model *m) {
    int n = mod_model_config(m)->max_seq_len;
    return n < CLI_DEFAULT_CTX ? n : CLI_DEFAULT_CTX;
}
/* --no-mmap: the file read into memory instead of mapped (MOD_LOAD_NO_MMAP). */
static inline mod_result cli_load_model(mod_model **m, const char *path, int no_mmap, mod_error *err) {
    mod_model_desc d;
    memset(&d, 0, sizeof d);
    d.flags = no_mmap ? MOD_LOAD_NO_MMAP : 0u;
    return mod_model_load_file(m, path, &d, err);
}
/* --kv / --cache-type: "f32", "f16" or "q8_0" as a mod_kv_dtype; 0 on success. */
static inline int cli_kv(const char *s, mod_kv_dtype *out) {
    if (!s) return -1;
    if (!strcmp(s, "f32")) *out = MOD_KV_F32;
    else if (!strcmp(s, "f16")) *out = MOD_KV_F16;
    else if (!strcmp(s, "q8_0")) *out = MOD_KV_Q8_0;
    else return -1;
    return 0;
}
#endif

/* ---- chat ---------------------------------------------------------------------------------
   (with mod.h included first) */
#ifdef MOD_H
/* The chat format for a model: the one named (--chat-format NAME), else the one its stored
   chat template is recognised as. 0, or -1 with the reason in err: an unknown name, a
   template not recognised, no template at all; each names the formats to choose from. */
static inline int cli_chat_setup(const mod_model *model, const char *name, mod_chat *chat, char *err, size_t cap) {
    size_t len;
    const char *tmpl = mod_model_chat_template(model, &len);
    char names[128] = "";
    int f;
    for (f = 1; f < MOD_CHAT_FORMAT_COUNT; f++) {
        strcat(names, f > 1 ? ", " : "");
        strcat(names, mod_chat_format_name((mod_chat_format)f));
    }
    if (name) {
        const mod_chat_format want = mod_chat_format_by_name(name);
        if (want == MOD_CHAT_NONE) { cli__msg(err, cap, "unknown chat format '%s' (the formats are %s)", name, names); return -1; }
        if (mod_chat_init(chat, want, tmpl, len) == MOD_OK) return 0;
        cli__msg(err, cap, "cannot set the %s chat format up", name);
        return -1;
    }
    if (!tmpl) {
        cli__msg(err, cap, "the model file has no chat template: name the chat format with --chat-format (one of %s)", names);
        return -1;
    }
    if (mod_chat_init(chat, MOD_CHAT_NONE, tmpl, len) != MOD_OK) {
        cli__msg(err, cap, "the model's chat template is not one mod.h recognises: name its format with --chat-format (one of %s)", names);
        return -1;
    }
    return 0;
}
#endif

#endif
