/* Strict whole numbers from query strings (numparse.h). */
#include "check.h"
#include "numparse.h"

static const struct {
    const char *text;
    long long min, max;
    num_status want;
    long long value;
} cases[] = {
    {"1", 1, 1000, NUM_OK, 1},
    {"1000", 1, 1000, NUM_OK, 1000},
    {"9223372036854775807", 1, 9223372036854775807LL, NUM_OK, 9223372036854775807LL},
    {"0", 0, 10, NUM_OK, 0},
    {"0", 1, 10, NUM_RANGE, 0},
    {"1001", 1, 1000, NUM_RANGE, 0},
    {"99999999999999999999", 1, 9223372036854775807LL, NUM_RANGE, 0},
    {"9223372036854775808", 1, 9223372036854775807LL, NUM_RANGE, 0},
    {"", 1, 10, NUM_SYNTAX, 0},
    {"+1", 1, 10, NUM_SYNTAX, 0},
    {"-1", 1, 10, NUM_SYNTAX, 0},
    {" 1", 1, 10, NUM_SYNTAX, 0},
    {"1 ", 1, 10, NUM_SYNTAX, 0},
    {"1x", 1, 10, NUM_SYNTAX, 0},
    {"01", 1, 10, NUM_SYNTAX, 0},
    {"0x1", 1, 10, NUM_SYNTAX, 0},
    {"1e3", 1, 10000, NUM_SYNTAX, 0},
    {"99999999999999999999x", 1, 10, NUM_SYNTAX, 0},
};

static void test_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long v = -42;
        char name[96], why[128];
        num_status got = numparse_whole(cases[i].text, cases[i].min, cases[i].max, &v);
        snprintf(name, sizeof name, "numparse \"%s\" in %lld-%lld", cases[i].text, cases[i].min,
                 cases[i].max);
        snprintf(why, sizeof why, "status %d (want %d), value %lld", got, cases[i].want, v);
        check_row(name, got == cases[i].want && (got != NUM_OK || v == cases[i].value), why);
    }
}

int main(void)
{
    test_table();
    return check_exit_status();
}
