/* "1h30m" spans (duration.h). */
#include "check.h"
#include "duration.h"

static const struct {
    const char *text;
    long long seconds; /* -1: refused */
} cases[] = {
    {"90s", 90},
    {"30m", 1800},
    {"1h", 3600},
    {"1h30m", 5400},
    {"2d", 172800},
    {"1d12h", 129600},
    {"0s", 0},
    {"", -1},
    {"h", -1},
    {"10", -1},
    {"1m1h", -1},
    {"1h1h", -1},
    {"1.5h", -1},
    {"-1h", -1},
    {"1 h", -1},
    {"1w", -1},
    {"99999999999999d", -1},
};

static void test_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t secs = -42;
        char err[128] = "", name[64], why[200];
        int rc = duration_parse(cases[i].text, &secs, err, sizeof err);
        snprintf(name, sizeof name, "parse \"%s\"", cases[i].text);
        snprintf(why, sizeof why, "rc=%d seconds=%lld err=%s", rc, (long long)secs, err);
        int ok =
            cases[i].seconds < 0 ? rc == -1 && err[0] != '\0' : rc == 0 && secs == cases[i].seconds;
        check_row(name, ok, why);
    }
}

static void test_format_round_trips(void)
{
    const long long values[] = {0, 59, 60, 3600, 5400, 90061, 2592000};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        char buf[32], err[64];
        int64_t back = -1;
        duration_format(values[i], buf, sizeof buf);
        CHECK_INT(duration_parse(buf, &back, err, sizeof err), 0);
        CHECK_INT(back, values[i]);
    }
    char buf[32];
    duration_format(5400, buf, sizeof buf);
    CHECK_STR(buf, "1h30m");
}

int main(void)
{
    test_table();
    RUN(test_format_round_trips);
    return check_exit_status();
}
