/* amx_emu.h: trap-and-emulate Intel AMX (AMX-TILE, AMX-BF16, AMX-INT8) on x86-64 Linux.

   A CPU without AMX raises #UD on every AMX instruction, which Linux delivers as SIGILL. The
   SIGILL handler installed here reads the instruction at the faulting RIP, carries it out on a
   per-thread copy of the tile state, moves RIP past it and returns, so that code built with the
   AMX intrinsics runs (slowly) and can be checked on any x86-64 Linux machine.

   Use:
       #define _GNU_SOURCE          // before ANY #include of the file (REG_RIP etc.; C++
                                    // compilers define it already: #ifndef it there)
       #include "amx_emu.h"
       ...
       if (amx_emu_install() != 0) { ...cannot run AMX code here... }
       ...AMX code...
       amx_emu_count()              // instructions emulated so far, all threads together
       amx_emu_native()             // 1 if the CPU runs AMX itself (nothing is emulated then)

   If the header is the first thing included it defines _GNU_SOURCE itself; if a system header
   came first without it, compilation stops with an #error saying so.

   What is emulated (encodings as in the Intel SDM, all VEX.128.0F38.W0, 64-bit mode only):
       LDTILECFG m512         NP 49 /0 (memory)       STTILECFG m512       66 49 /0 (memory)
       TILERELEASE            NP 49 C0                TILEZERO tmm         F2 49 11:rrr:000
       TILELOADD tmm, sibmem  F2 4B (SIB required)    TILELOADDT1          66 4B (same)
       TILESTORED sibmem, tmm F3 4B (SIB required)
       TDPBF16PS tmm1, tmm2, tmm3   F3 5C 11:rrr:bbb  (tmm1 = ModRM.reg, tmm2 = ModRM.rm,
       TDPBSSD F2 / TDPBSUD F3 / TDPBUSD 66 / TDPBUUD NP  5E   tmm3 = VEX.vvvv)
   with any addressing form the instructions allow (SIB with or without base and index, disp8,
   disp32, RIP-relative for the two config instructions, r8-r15 through VEX.R/X/B).

   State: palette, start_row, rows[8], colsb[8] and 8 tiles of 16 rows x 64 bytes, per thread
   (__thread), since the handler runs on the thread that faulted, as the hardware state is per
   thread. A new thread starts in the INIT state (not configured, all zero).

   Faults, as the hardware would raise them:
     - #UD (an AMX instruction used wrongly: tiles not configured, tile not configured or above 7,
       colsb not a multiple of 4 for loads, stores and dot products, start_row >= rows, shapes
       of a dot product that do not fit, the same tile twice, a malformed encoding): a message
       on stderr, then the default SIGILL action is restored and the handler returns, so the
       instruction faults again and the process dies of SIGILL, as on hardware.
     - #GP (LDTILECFG with a bad configuration: palette above 1, colsb above 64, rows above 16,
       a tile with only one of rows/colsb zero, a reserved byte not zero): a message, then
       _exit(3).
     - A SIGILL that is not an AMX instruction (or one not emulated here, such as AMX-FP16), or
       one sent with kill()/raise(): a message, then the process dies of SIGILL.
     - A bad pointer in a tile load or store faults inside the handler: SIGSEGV, as on hardware.

   Arithmetic (what the SDM's pseudo-code says):
     - TDPBxxD: dst.int32[m][n] += sum over k < colsb(a)/4 and i < 4 of a.byte[m][4k+i] *
       b.byte[k][4n+i], each byte signed or unsigned by the instruction, modulo 2^32.
     - TDPBF16PS: every step is a fused multiply-add in binary32: the product of two bf16 is
       exact, it is added to the accumulator and rounded once, to nearest even. Denormal inputs
       (bf16 and the accumulator) count as zero of their sign; a result that is tiny after
       rounding (below 2^-126, tininess after rounding as on x86) becomes a zero of its sign.
       No exceptions, MXCSR neither read nor written. NaNs propagate (as quiet NaNs; which NaN
       payload comes out is not specified here).
       Order of the additions: by default the one of the older SDM text and of the intrinsics
       guide, for m, k, n:  dst[m][n] = fma(a[m].bf16[2k], b[k].bf16[2n], dst[m][n]);
                             dst[m][n] = fma(a[m].bf16[2k+1], b[k].bf16[2n+1], dst[m][n]).
       With AMX_EMU_BF16_PAIRWISE defined to 1, the order of the current SDM text (and of
       Bochs): per element two partial sums, even and odd, start at +0 and take the products of
       every k by fused multiply-add; then dst = dst + (even + odd), each addition rounded.
       The two orders differ only in rounding (e.g. 1 + 2^-24 + 2^-24 is 1 one way and
       1 + 2^-23 the other); which one the silicon follows is not checked here.
     - Bytes of a destination row past its colsb and rows past its row count are zeroed.

   Limits: no legacy prefixes (0x66/F2/F3/REX before VEX are #UD on hardware anyway; segment
   and address-size prefixes are never emitted by compilers and are not accepted); 64-bit mode
   only; not under valgrind; gdb stops on every SIGILL unless told "handle SIGILL nostop
   noprint pass". The signal handler assumes the kernel hands it the default MXCSR (round to
   nearest), which Linux does. If the CPU has AMX, amx_emu_install asks Linux for the tile
   data permission (ARCH_REQ_XCOMP_PERM) and installs nothing: the instructions run natively.

   C99 with GNU extensions (__thread, __atomic, __attribute__, <cpuid.h>); also compiles as C++.
   Everything is static and prefixed amx_emu_. */
#ifndef AMX_EMU_H
#define AMX_EMU_H

#if !defined(__x86_64__) || !defined(__linux__)
#error "amx_emu.h is for x86-64 Linux"
#endif

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* only helps when no system header was included before this one */
#endif

#include <cpuid.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef REG_RIP
#error "amx_emu.h needs REG_RIP from <sys/ucontext.h>: #define _GNU_SOURCE before the first #include"
#else /* the rest of the file */

#ifndef AMX_EMU_BF16_PAIRWISE
#define AMX_EMU_BF16_PAIRWISE 0
#endif

#define AMX_EMU_FN static __attribute__((unused))

/* ---- state ---------------------------------------------------------------------------------- */

struct amx_emu_state {
    unsigned char palette;   /* 0: INIT state (not configured), 1: palette 1 */
    unsigned char start_row; /* row to restart a load or store at; 0 except after LDTILECFG */
    unsigned char rows[8];   /* 0 (with colsb 0): tile not configured */
    uint16_t colsb[8];       /* bytes per row */
    unsigned char data[8][16][64];
};

static __thread struct amx_emu_state amx_emu_st; /* the tiles of this thread */
static unsigned long amx_emu_n;                  /* instructions emulated, all threads */
static int amx_emu_hw;                           /* the CPU runs AMX itself */

/* What one attempt at emulating the instruction at RIP came to. */
enum { AMX_EMU_DONE, AMX_EMU_NOT_AMX, AMX_EMU_UD, AMX_EMU_GP };

/* ---- messages, with write(2) only (async-signal-safe) --------------------------------------- */

struct amx_emu_msg {
    char b[320];
    unsigned n;
};

static void amx_emu_puts(struct amx_emu_msg *m, const char *s)
{
    while (*s && m->n < sizeof m->b - 1) m->b[m->n++] = *s++;
}

static void amx_emu_puthex(struct amx_emu_msg *m, uint64_t v, int digits)
{
    static const char hex[] = "0123456789abcdef";
    while (digits-- > 0)
        if (m->n < sizeof m->b - 1) m->b[m->n++] = hex[(v >> (4 * digits)) & 15];
}

/* " (bytes xx xx ...)": the bytes of the instruction read so far */
static void amx_emu_putbytes(struct amx_emu_msg *m, const unsigned char *p, unsigned n)
{
    unsigned i;
    amx_emu_puts(m, " (bytes");
    for (i = 0; i < n; i++) {
        amx_emu_puts(m, " ");
        amx_emu_puthex(m, p[i], 2);
    }
    amx_emu_puts(m, ")");
}

static void amx_emu_putdec(struct amx_emu_msg *m, unsigned v)
{
    char d[12];
    int i = 0;
    do d[i++] = (char)('0' + v % 10); while ((v /= 10) != 0);
    while (i > 0)
        if (m->n < sizeof m->b - 1) m->b[m->n++] = d[--i];
}

static void amx_emu_flush(struct amx_emu_msg *m)
{
    ssize_t r;
    m->b[m->n++] = '\n';
    r = write(2, m->b, m->n);
    (void)r;
}

/* ---- binary32 arithmetic of TDPBF16PS ------------------------------------------------------- */

static uint32_t amx_emu_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float amx_emu_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* DAZ: a denormal counts as a zero of its sign. */
static float amx_emu_daz(float x)
{
    uint32_t u = amx_emu_bits(x);
    if ((u & 0x7F800000u) == 0) u &= 0x80000000u;
    return amx_emu_float(u);
}

/* acc + a * b, rounded once to binary32 (nearest, ties to even), with DAZ on the three inputs
   and FTZ on the result (tininess after rounding).

   a * b is exact in double (two 24-bit significands; exponents of normal floats stay inside
   the double range), so the exact result is c + p with c = acc, p = a * b. TwoSum splits it
   into s = fl(c + p) and the error e, s + e == c + p exactly. s is then rounded by hand to 24
   significant bits, e deciding the halfway cases that the double rounding of s cannot see. */
static float amx_emu_fma(float acc, float a, float b)
{
    double c = (double)amx_emu_daz(acc);
    double p = (double)amx_emu_daz(a) * (double)amx_emu_daz(b);
    double s = c + p, bv, e;
    uint64_t u, m, rem, q;
    const uint64_t half = (uint64_t)1 << 28;
    int exp, up;
    uint32_t sign;

    memcpy(&u, &s, 8);
    if (((u >> 52) & 0x7FF) == 0x7FF) return (float)s; /* an infinity or NaN in or out */
    if (s == 0) return (float)s;                        /* exact zero, IEEE sign rules */

    bv = s - c; /* TwoSum (Knuth): exact for any finite doubles without overflow */
    e = (c - (s - bv)) + (p - bv);

    /* s is a normal double (|s| >= 2^-298): 53-bit significand m, keep the top 24 bits */
    sign = (uint32_t)(u >> 63);
    exp = (int)((u >> 52) & 0x7FF) - 1023;
    m = (u & (((uint64_t)1 << 52) - 1)) | ((uint64_t)1 << 52);
    q = m >> 29;
    rem = m & (((uint64_t)1 << 29) - 1);
    if (rem != half)
        up = rem > half; /* |e| is below half a unit of s: it cannot cross the halfway point */
    else if (e != 0)
        up = (e > 0) == (s > 0); /* the exact value lies beyond or short of the halfway point */
    else
        up = (int)(q & 1); /* a true tie: to even */
    if (up && ++q == ((uint64_t)1 << 24)) {
        q >>= 1;
        exp++;
    }
    if (exp < -126) return amx_emu_float(sign << 31);               /* FTZ */
    if (exp > 127) return amx_emu_float(sign << 31 | 0x7F800000u); /* overflow: infinity */
    return amx_emu_float(sign << 31 | (uint32_t)(exp + 127) << 23 | ((uint32_t)q & 0x7FFFFFu));
}

/* The bf16 at p (little endian) as a float: the upper half of the binary32 bits. */
static float amx_emu_bf16(const unsigned char *p)
{
    return amx_emu_float((uint32_t)p[0] << 16 | (uint32_t)p[1] << 24);
}

/* ---- tile operations ------------------------------------------------------------------------ */

static void amx_emu_zero_rest(unsigned t, unsigned rows, unsigned colsb)
{
    unsigned r;
    for (r = 0; r < 16; r++) {
        if (r < rows)
            memset(amx_emu_st.data[t][r] + colsb, 0, 64 - colsb);
        else
            memset(amx_emu_st.data[t][r], 0, 64);
    }
}

/* TDPBF16PS: d += a * b; a holds M x K pairs of bf16, b K x N pairs, d M x N floats. */
static void amx_emu_tdpbf16ps(unsigned d, unsigned a, unsigned b)
{
    unsigned M = amx_emu_st.rows[d], N = amx_emu_st.colsb[d] / 4u, K = amx_emu_st.colsb[a] / 4u;
    unsigned m, n, k;
    for (m = 0; m < M; m++) {
        unsigned char *drow = amx_emu_st.data[d][m];
        const unsigned char *arow = amx_emu_st.data[a][m];
        float acc[16];
#if AMX_EMU_BF16_PAIRWISE
        float even[16], odd[16];
#endif
        for (n = 0; n < N; n++) {
            memcpy(&acc[n], drow + 4 * n, 4);
#if AMX_EMU_BF16_PAIRWISE
            even[n] = odd[n] = 0.0f;
#endif
        }
        for (k = 0; k < K; k++) {
            const unsigned char *brow = amx_emu_st.data[b][k];
            float a0 = amx_emu_bf16(arow + 4 * k), a1 = amx_emu_bf16(arow + 4 * k + 2);
            for (n = 0; n < N; n++) {
                float b0 = amx_emu_bf16(brow + 4 * n), b1 = amx_emu_bf16(brow + 4 * n + 2);
#if AMX_EMU_BF16_PAIRWISE
                even[n] = amx_emu_fma(even[n], a0, b0);
                odd[n] = amx_emu_fma(odd[n], a1, b1);
#else
                acc[n] = amx_emu_fma(acc[n], a0, b0);
                acc[n] = amx_emu_fma(acc[n], a1, b1);
#endif
            }
        }
        for (n = 0; n < N; n++) {
#if AMX_EMU_BF16_PAIRWISE
            /* x + y as x + y * 1: the same rounding, DAZ and FTZ as the products */
            acc[n] = amx_emu_fma(acc[n], amx_emu_fma(even[n], odd[n], 1.0f), 1.0f);
#endif
            memcpy(drow + 4 * n, &acc[n], 4);
        }
    }
    amx_emu_zero_rest(d, M, 4 * N);
}

/* TDPBxxD: d += a * b in int32, a M x K and b K x N groups of four bytes, sa/sb: signed. */
static void amx_emu_tdpb(unsigned d, unsigned a, unsigned b, int sa, int sb)
{
    unsigned M = amx_emu_st.rows[d], N = amx_emu_st.colsb[d] / 4u, K = amx_emu_st.colsb[a] / 4u;
    unsigned m, n, k, i;
    for (m = 0; m < M; m++) {
        unsigned char *drow = amx_emu_st.data[d][m];
        const unsigned char *arow = amx_emu_st.data[a][m];
        for (n = 0; n < N; n++) {
            uint32_t acc;
            memcpy(&acc, drow + 4 * n, 4);
            for (k = 0; k < K; k++) {
                const unsigned char *bq = amx_emu_st.data[b][k] + 4 * n;
                for (i = 0; i < 4; i++) {
                    uint32_t x = arow[4 * k + i], y = bq[i];
                    if (sa) x -= (x & 0x80u) << 1; /* sign-extend, modulo 2^32 */
                    if (sb) y -= (y & 0x80u) << 1;
                    acc += x * y;
                }
            }
            memcpy(drow + 4 * n, &acc, 4);
        }
    }
    amx_emu_zero_rest(d, M, 4 * N);
}

/* The reason tile t cannot be used by an instruction (#UD), or NULL. */
static const char *amx_emu_bad_tile(unsigned t, int need_multiple_of_4)
{
    if (amx_emu_st.palette == 0) return "tiles not configured (no LDTILECFG, or TILERELEASE since)";
    if (t > 7) return "tile number above 7";
    if (amx_emu_st.rows[t] == 0) return "tile not configured (rows and colsb 0)";
    if (need_multiple_of_4 && amx_emu_st.colsb[t] % 4 != 0) return "colsb not a multiple of 4";
    return NULL;
}

/* ---- decoding and execution ----------------------------------------------------------------- */

/* ModRM/SIB register number (0-15) -> index into gregs[] */
static const int amx_emu_gpr[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
                                    REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
                                    REG_R12, REG_R13, REG_R14, REG_R15};

/* Carry out the instruction at the RIP of uc. On anything but AMX_EMU_DONE, *msg says why. */
static int amx_emu_step(ucontext_t *uc, struct amx_emu_msg *msg)
{
    greg_t *g = uc->uc_mcontext.gregs;
    const unsigned char *p = (const unsigned char *)(uintptr_t)g[REG_RIP];
    const char *name = "AMX instruction", *why = NULL;
    unsigned b1, b2, op, modrm, mod, reg, rm, vvvv, pp, vexR, vexX, vexB, W, L, len = 5, t, i;
    unsigned nread;                            /* bytes of the instruction read so far */
    uint64_t addr = 0, index = 0;              /* memory operand: base + disp, index << scale */
    enum { K_NONE, K_LDCFG, K_STCFG, K_RELEASE, K_ZERO, K_LOAD, K_STORE, K_BF16, K_DPB };
    int kind = K_NONE; /* what the opcode, prefix and ModRM name */

    msg->n = 0;
    amx_emu_puts(msg, "amx_emu: SIGILL at 0x");
    amx_emu_puthex(msg, (uint64_t)(uintptr_t)p, 12);

    /* Read the bytes one at a time, only as far as an AMX instruction would go: the CPU
       fetched the faulting instruction, but not necessarily any byte past its end. */
    nread = 1;
    if (p[0] != 0xC4) goto not_amx; /* AMX uses the 3-byte VEX form only */
    nread = 3;
    b1 = p[1];
    b2 = p[2];
    if ((b1 & 0x1F) != 2) goto not_amx; /* map 0F38 */
    nread = 4;
    op = p[3];
    if (op != 0x49 && op != 0x4B && op != 0x5C && op != 0x5E) goto not_amx;
    nread = 5;
    modrm = p[4];
    vexR = (~b1 >> 7) & 1; /* R, X, B and vvvv are stored inverted */
    vexX = (~b1 >> 6) & 1;
    vexB = (~b1 >> 5) & 1;
    W = b2 >> 7;
    vvvv = (~b2 >> 3) & 15;
    L = (b2 >> 2) & 1;
    pp = b2 & 3; /* 0: none, 1: 66, 2: F3, 3: F2 */
    mod = modrm >> 6;
    reg = ((modrm >> 3) & 7) | vexR << 3;
    rm = modrm & 7;

    /* Which instruction: opcode, prefix, and register or memory form. */
    if (op == 0x49 && pp == 0 && mod != 3) kind = K_LDCFG, name = "LDTILECFG";
    else if (op == 0x49 && pp == 0 && modrm == 0xC0) kind = K_RELEASE, name = "TILERELEASE";
    else if (op == 0x49 && pp == 1 && mod != 3) kind = K_STCFG, name = "STTILECFG";
    else if (op == 0x49 && pp == 3 && mod == 3) kind = K_ZERO, name = "TILEZERO";
    else if (op == 0x4B && pp == 3 && mod != 3) kind = K_LOAD, name = "TILELOADD";
    else if (op == 0x4B && pp == 1 && mod != 3) kind = K_LOAD, name = "TILELOADDT1";
    else if (op == 0x4B && pp == 2 && mod != 3) kind = K_STORE, name = "TILESTORED";
    else if (op == 0x5C && pp == 2 && mod == 3) kind = K_BF16, name = "TDPBF16PS";
    else if (op == 0x5E && mod == 3) {
        static const char *const names[4] = {"TDPBUUD", "TDPBUSD", "TDPBSUD", "TDPBSSD"};
        kind = K_DPB;
        name = names[pp];
    } else {
        why = "an encoding in the AMX opcode space that is invalid or not emulated here";
        goto ud;
    }
    if (W || L) {
        why = "VEX.W or VEX.L set";
        goto ud;
    }
    if (kind != K_BF16 && kind != K_DPB && vvvv != 0) {
        why = "VEX.vvvv not 1111b";
        goto ud;
    }

    /* The memory operand: [base + index << scale + disp], or [rip + disp32]. */
    if (mod != 3) {
        uint64_t base = 0;
        int32_t disp = 0;
        int rip_relative = 0;
        if (rm == 4) { /* SIB */
            unsigned sib, scale, idx, bs;
            nread = 6;
            sib = p[5];
            len = 6;
            scale = sib >> 6;
            idx = ((sib >> 3) & 7) | vexX << 3;
            bs = sib & 7;
            if (idx != 4) index = (uint64_t)g[amx_emu_gpr[idx]] << scale; /* 4: no index */
            if (bs == 5 && mod == 0)
                mod = 2; /* no base, disp32 (whatever VEX.B says) */
            else
                base = (uint64_t)g[amx_emu_gpr[bs | vexB << 3]];
        } else if (kind == K_LOAD || kind == K_STORE) {
            why = "sibmem operand without a SIB byte";
            goto ud;
        } else if (rm == 5 && mod == 0) {
            mod = 2; /* RIP-relative: disp32 from the end of the instruction */
            rip_relative = 1;
        } else {
            base = (uint64_t)g[amx_emu_gpr[rm | vexB << 3]];
        }
        if (mod == 1) {
            nread = len + 1;
            disp = (int8_t)p[len];
            len += 1;
        } else if (mod == 2) {
            uint32_t d32 = (uint32_t)p[len] | (uint32_t)p[len + 1] << 8 |
                           (uint32_t)p[len + 2] << 16 | (uint32_t)p[len + 3] << 24;
            nread = len + 4;
            memcpy(&disp, &d32, 4);
            len += 4;
        }
        if (rip_relative) base = (uint64_t)g[REG_RIP] + len; /* len is complete now */
        addr = base + (uint64_t)(int64_t)disp;
    }

    switch (kind) {
    case K_LDCFG: {
        unsigned char c[64];
        if (reg != 0) {
            why = "ModRM.reg not 0";
            goto ud;
        }
        memcpy(c, (const void *)(uintptr_t)(addr + index), 64);
        if (c[0] == 0) {
            memset(&amx_emu_st, 0, sizeof amx_emu_st);
            break;
        }
        if (c[0] != 1) {
            why = "palette above 1";
            goto gp;
        }
        for (i = 2; i < 64; i++)
            if (c[i] != 0 && (i < 16 || (i >= 32 && i < 48) || i >= 56)) {
                why = "a reserved byte (2-15, 32-47, 56-63) not zero";
                goto gp;
            }
        for (t = 0; t < 8; t++) {
            unsigned colsb = c[16 + 2 * t] | (unsigned)c[17 + 2 * t] << 8, rows = c[48 + t];
            if (colsb > 64 || rows > 16) {
                why = colsb > 64 ? "colsb above 64" : "rows above 16";
                goto gp;
            }
            if ((colsb == 0) != (rows == 0)) {
                why = "a tile with only one of rows and colsb zero";
                goto gp;
            }
        }
        memset(&amx_emu_st, 0, sizeof amx_emu_st); /* the data of every tile becomes zero */
        amx_emu_st.palette = 1;
        amx_emu_st.start_row = c[1];
        for (t = 0; t < 8; t++) {
            amx_emu_st.colsb[t] = (uint16_t)(c[16 + 2 * t] | c[17 + 2 * t] << 8);
            amx_emu_st.rows[t] = c[48 + t];
        }
        break;
    }
    case K_STCFG: {
        unsigned char c[64];
        if (reg != 0) {
            why = "ModRM.reg not 0";
            goto ud;
        }
        memset(c, 0, 64);
        if (amx_emu_st.palette != 0) {
            c[0] = amx_emu_st.palette;
            c[1] = amx_emu_st.start_row;
            for (t = 0; t < 8; t++) {
                c[16 + 2 * t] = (unsigned char)(amx_emu_st.colsb[t] & 0xFF);
                c[17 + 2 * t] = (unsigned char)(amx_emu_st.colsb[t] >> 8);
                c[48 + t] = amx_emu_st.rows[t];
            }
        }
        memcpy((void *)(uintptr_t)(addr + index), c, 64);
        break;
    }
    case K_RELEASE:
        memset(&amx_emu_st, 0, sizeof amx_emu_st);
        break;
    case K_ZERO:
        if (rm != 0) {
            why = "ModRM.rm not 0";
            goto ud;
        }
        if ((why = amx_emu_bad_tile(reg, 0)) != NULL) goto ud;
        memset(amx_emu_st.data[reg], 0, sizeof amx_emu_st.data[reg]);
        amx_emu_st.start_row = 0;
        break;
    case K_LOAD:
    case K_STORE: {
        unsigned rows, colsb, r;
        if ((why = amx_emu_bad_tile(reg, 1)) != NULL) goto ud;
        rows = amx_emu_st.rows[reg];
        colsb = amx_emu_st.colsb[reg];
        if (amx_emu_st.start_row >= rows) {
            why = "start_row not below the rows of the tile";
            goto ud;
        }
        /* rows from start_row on; the rows before it keep their data (restart semantics) */
        for (r = amx_emu_st.start_row; r < rows; r++) {
            void *mem = (void *)(uintptr_t)(addr + (uint64_t)r * index);
            if (kind == K_LOAD)
                memcpy(amx_emu_st.data[reg][r], mem, colsb);
            else
                memcpy(mem, amx_emu_st.data[reg][r], colsb);
        }
        if (kind == K_LOAD) amx_emu_zero_rest(reg, rows, colsb);
        amx_emu_st.start_row = 0;
        break;
    }
    case K_BF16:
    case K_DPB: {
        unsigned d = reg, a = rm | vexB << 3, b = vvvv;
        if ((why = amx_emu_bad_tile(d, 1)) != NULL || (why = amx_emu_bad_tile(a, 1)) != NULL ||
            (why = amx_emu_bad_tile(b, 1)) != NULL)
            goto ud;
        if (d == a || d == b || a == b) {
            why = "the same tile used twice";
            goto ud;
        }
        if (amx_emu_st.rows[d] != amx_emu_st.rows[a] || amx_emu_st.colsb[d] != amx_emu_st.colsb[b] ||
            amx_emu_st.colsb[a] / 4u != amx_emu_st.rows[b]) {
            why = "shapes do not fit: need rows(dst) == rows(a), colsb(dst) == colsb(b), "
                  "colsb(a)/4 == rows(b)";
            goto ud;
        }
        if (kind == K_BF16)
            amx_emu_tdpbf16ps(d, a, b);
        else
            amx_emu_tdpb(d, a, b, pp >= 2, pp & 1);
        amx_emu_st.start_row = 0;
        break;
    }
    }
    g[REG_RIP] += (greg_t)len;
    return AMX_EMU_DONE;

not_amx:
    amx_emu_putbytes(msg, p, nread);
    amx_emu_puts(msg, ": not an AMX instruction; dying of SIGILL");
    return AMX_EMU_NOT_AMX;
ud:
    amx_emu_puts(msg, ": ");
    amx_emu_puts(msg, name);
    if (kind == K_ZERO || kind == K_LOAD || kind == K_STORE) {
        amx_emu_puts(msg, " tmm");
        amx_emu_putdec(msg, reg);
    }
    amx_emu_puts(msg, ": #UD: ");
    amx_emu_puts(msg, why);
    amx_emu_putbytes(msg, p, nread);
    amx_emu_puts(msg, "; dying of SIGILL");
    return AMX_EMU_UD;
gp:
    amx_emu_puts(msg, ": LDTILECFG: #GP: ");
    amx_emu_puts(msg, why);
    amx_emu_puts(msg, "; exiting with status 3");
    return AMX_EMU_GP;
}

static void amx_emu_default_sigill(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGILL, &sa, NULL);
}

static void amx_emu_on_sigill(int sig, siginfo_t *si, void *ctx)
{
    struct amx_emu_msg msg;
    int saved_errno = errno, r;
    (void)sig;
    if (si->si_code <= 0) { /* kill(), raise(), sigqueue(): no instruction to emulate */
        msg.n = 0;
        amx_emu_puts(&msg, "amx_emu: SIGILL sent by a process, not by an instruction; dying of it");
        amx_emu_flush(&msg);
        amx_emu_default_sigill();
        raise(SIGILL); /* blocked until the handler returns, then fatal */
        errno = saved_errno;
        return;
    }
    r = amx_emu_step((ucontext_t *)ctx, &msg);
    if (r == AMX_EMU_DONE) {
        __atomic_fetch_add(&amx_emu_n, 1, __ATOMIC_RELAXED);
        errno = saved_errno;
        return;
    }
    amx_emu_flush(&msg);
    if (r == AMX_EMU_GP) _exit(3);
    /* Returning re-runs the instruction, which now gets the default action: death by SIGILL. */
    amx_emu_default_sigill();
    errno = saved_errno;
}

/* ---- public --------------------------------------------------------------------------------- */

/* Make AMX instructions work in this process: natively if the CPU has AMX (after asking Linux
   for the tile data permission), else by emulation. 0 on success, -1 if neither works (the CPU
   has AMX but Linux refuses it: the configuration instructions would run natively and the
   others fault, which cannot be emulated consistently). Call it before any thread uses AMX. */
AMX_EMU_FN int amx_emu_install(void)
{
    unsigned a, b, c, d;
    struct sigaction sa;

    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (d >> 24 & 1)) { /* CPUID: AMX-TILE */
        if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0) {
            amx_emu_hw = 1;
            return 0;
        }
        /* Emulation still works if the OS has not enabled the tile state in XCR0 at all:
           then every AMX instruction raises #UD. */
        if (__get_cpuid(1, &a, &b, &c, &d) && (c >> 27 & 1)) { /* OSXSAVE: XGETBV works */
            unsigned lo, hi;
            __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
            (void)hi;
            if (lo & (3u << 17)) return -1;
        }
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = amx_emu_on_sigill;
    sa.sa_flags = SA_SIGINFO;
    sigfillset(&sa.sa_mask); /* nothing else runs in the middle of an instruction ... */
    sigdelset(&sa.sa_mask, SIGSEGV); /* ... except the faults of its own memory accesses */
    sigdelset(&sa.sa_mask, SIGBUS);
    return sigaction(SIGILL, &sa, NULL) == 0 ? 0 : -1;
}

/* AMX instructions emulated so far, by all threads together. */
AMX_EMU_FN unsigned long amx_emu_count(void)
{
    return __atomic_load_n(&amx_emu_n, __ATOMIC_RELAXED);
}

/* 1 if amx_emu_install found AMX in the CPU (and nothing is emulated). */
AMX_EMU_FN int amx_emu_native(void)
{
    return amx_emu_hw;
}

#endif /* REG_RIP */
#endif /* AMX_EMU_H */
