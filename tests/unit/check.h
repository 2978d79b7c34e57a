/*
 * check.h - the unit-test vocabulary shared by tests/unit/test_*.c.
 *
 * Each test program prints one line per case, "ok NAME" or
 * "not ok NAME: why", which tests/run.sh counts; the program exits 1 when
 * any case failed. A case is a function run by RUN(), or a table row
 * reported with check_row().
 */
#ifndef HAECHI_TEST_CHECK_H
#define HAECHI_TEST_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int check_case_failed;
static int check_any_failed;
static char check_first_failure[512];

static void check_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void check_fail(const char *file, int line, const char *fmt, ...)
{
    if (!check_case_failed) {
        va_list ap;
        int n = snprintf(check_first_failure, sizeof check_first_failure, "%s:%d: ", file, line);
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < sizeof check_first_failure)
            vsnprintf(check_first_failure + n, sizeof check_first_failure - (size_t)n, fmt, ap);
        va_end(ap);
    }
    check_case_failed = 1;
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            check_fail(__FILE__, __LINE__, "%s", #cond);                                           \
    } while (0)

#define CHECK_INT(got, want)                                                                       \
    do {                                                                                           \
        long long check_g_ = (long long)(got), check_w_ = (long long)(want);                       \
        if (check_g_ != check_w_)                                                                  \
            check_fail(__FILE__, __LINE__, "%s is %lld, want %lld", #got, check_g_, check_w_);     \
    } while (0)

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *check_g_ = (got), *check_w_ = (want);                                          \
        if (!check_g_ || strcmp(check_g_, check_w_) != 0)                                          \
            check_fail(__FILE__, __LINE__, "%s is \"%s\", want \"%s\"", #got,                      \
                       check_g_ ? check_g_ : "(null)", check_w_);                                  \
    } while (0)

static inline void check_report(const char *name)
{
    if (check_case_failed) {
        printf("not ok %s: %s\n", name, check_first_failure);
        check_any_failed = 1;
    } else {
        printf("ok %s\n", name);
    }
    check_case_failed = 0;
    check_first_failure[0] = '\0';
    fflush(stdout);
}

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        fn();                                                                                      \
        check_report(#fn);                                                                         \
    } while (0)

/* Reports one table row as a case of its own. */
static inline void check_row(const char *name, int passed, const char *why)
{
    if (!passed)
        check_fail("row", 0, "%s", why ? why : "failed");
    check_report(name);
}

static inline int check_exit_status(void)
{
    return check_any_failed ? 1 : 0;
}

#endif
