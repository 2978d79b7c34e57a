/*
 * test_outcome.c - a batch's refusals counted by reason: what the release's
 * progress shows as "failed_by".
 */
#include <stdio.h>

#include "adapter.h"
#include "check.h"

/* The same code adds up; codes keep the order they first came in. */
static void test_reasons_add_up(void)
{
    adapter_outcome o = {0};
    adapter_outcome_count_reason(&o, "not-friend", 3);
    adapter_outcome_count_reason(&o, "blocked", 1);
    adapter_outcome_count_reason(&o, "not-friend", 2);
    CHECK_INT(o.nreasons, 2);
    CHECK_STR(o.reasons[0].code, "not-friend");
    CHECK_INT(o.reasons[0].n, 5);
    CHECK_STR(o.reasons[1].code, "blocked");
    CHECK_INT(o.reasons[1].n, 1);
}

/* Past ADAPTER_REASONS_MAX codes, the last slot becomes "other" and takes
 * every later one, so no refusal goes uncounted. */
static void test_reasons_overflow_into_other(void)
{
    adapter_outcome o = {0};
    char code[24];
    long long total = 0;
    for (int i = 0; i < ADAPTER_REASONS_MAX + 3; i++) {
        snprintf(code, sizeof code, "code-%d", i);
        adapter_outcome_count_reason(&o, code, i + 1);
        total += i + 1;
    }
    CHECK_INT(o.nreasons, ADAPTER_REASONS_MAX);
    CHECK_STR(o.reasons[ADAPTER_REASONS_MAX - 1].code, "other");
    long long sum = 0;
    for (int i = 0; i < o.nreasons; i++)
        sum += o.reasons[i].n;
    CHECK_INT(sum, total);
    CHECK_STR(o.reasons[0].code, "code-0");
}

/* No code is still a reason: "other". */
static void test_reason_without_code(void)
{
    adapter_outcome o = {0};
    adapter_outcome_count_reason(&o, NULL, 4);
    adapter_outcome_count_reason(&o, "", 1);
    CHECK_INT(o.nreasons, 1);
    CHECK_STR(o.reasons[0].code, "other");
    CHECK_INT(o.reasons[0].n, 5);
}

int main(void)
{
    RUN(test_reasons_add_up);
    RUN(test_reasons_overflow_into_other);
    RUN(test_reason_without_code);
    return check_exit_status();
}
