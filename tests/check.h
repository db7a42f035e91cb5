/* check.h: how the C test programs count and report, the C side of tests/lib.sh.

   check(ok, fmt, ...)   counts one check; a failure prints "FAIL: " and the message (newlines
                         shown as '|'), at most CHECK_SHOWN failures per group (the rest are
                         counted and summed up at the group's end). With check_verbose set,
                         passes print "ok " and the message too.
   check_group(name)     ends a group: "-- name  N passed, M failed".
   check_finish()        prints the summary line tests/run.sh reads, "N passed, M failed", and
                         returns the exit status (0 when nothing failed); failures not shown
                         since the last group (or in a program without groups) are summed up
                         first.

   Every message is formatted only when it is printed, so checks in tight loops cost little. */
#ifndef CHECK_H
#define CHECK_H

#include <stdarg.h>
#include <stdio.h>

#ifndef CHECK_SHOWN
#define CHECK_SHOWN 20
#endif

static int check_passed, check_failed;          /* whole program */
static int check_group_passed, check_group_failed;
static int check_verbose;                       /* also print passes */

#if defined(__GNUC__) || defined(__clang__)
static inline int check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif

static inline void check_print(const char *prefix, const char *fmt, va_list ap)
{
    char msg[4096], *p;
    vsnprintf(msg, sizeof msg, fmt, ap);
    for (p = msg; *p; p++)
        if (*p == '\n') *p = '|';
    printf("%s%s\n", prefix, msg);
}

/* Returns ok, so that a caller can stop after a failure it cannot go past. */
static inline int check(int ok, const char *fmt, ...)
{
    va_list ap;
    if (ok) {
        check_passed++;
        check_group_passed++;
        if (check_verbose) {
            va_start(ap, fmt);
            check_print("ok ", fmt, ap);
            va_end(ap);
        }
        return 1;
    }
    check_failed++;
    if (++check_group_failed <= CHECK_SHOWN) {
        va_start(ap, fmt);
        check_print("FAIL: ", fmt, ap);
        va_end(ap);
    }
    return 0;
}

static inline void check_group(const char *name)
{
    if (check_group_failed > CHECK_SHOWN)
        printf("FAIL: ... and %d more failures in %s\n", check_group_failed - CHECK_SHOWN, name);
    printf("-- %-32s %d passed, %d failed\n", name, check_group_passed, check_group_failed);
    check_group_passed = check_group_failed = 0;
}

static inline int check_finish(void)
{
    if (check_group_failed > CHECK_SHOWN) printf("FAIL: ... and %d more failures\n", check_group_failed - CHECK_SHOWN);
    printf("%d passed, %d failed\n", check_passed, check_failed);
    fflush(stdout);
    return check_failed != 0;
}

#endif /* CHECK_H */
