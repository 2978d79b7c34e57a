/* Retry delays (worker_backoff_ms): exponential, capped, equal jitter, and
 * never shorter than the channel's own Retry-After. */
#include <stdlib.h>

#include "check.h"
#include "worker.h"

static void test_doubling_with_equal_jitter(void)
{
    engine_conf conf = {.backoff_ms = 1000, .backoff_max_ms = 300000};
    srandom(7);
    for (int attempt = 1; attempt <= 6; attempt++) {
        int64_t base = 1000LL << (attempt - 1);
        int64_t lo = base, hi = 0;
        for (int i = 0; i < 2000; i++) {
            int64_t d = worker_backoff_ms(&conf, attempt, 0);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        /* Every delay in [base/2, base], and the jitter really spreads them. */
        CHECK(lo >= base / 2);
        CHECK(hi <= base);
        CHECK(hi - lo > base / 4);
    }
}

static void test_cap(void)
{
    engine_conf conf = {.backoff_ms = 1000, .backoff_max_ms = 5000};
    for (int i = 0; i < 500; i++) {
        int64_t d = worker_backoff_ms(&conf, 20, 0);
        CHECK(d >= 2500 && d <= 5000);
    }
    /* Absurd attempt numbers neither overflow nor go negative. */
    CHECK(worker_backoff_ms(&conf, 1000, 0) <= 5000);
    CHECK(worker_backoff_ms(&conf, 1000, 0) >= 2500);
}

static void test_retry_after_wins_when_longer(void)
{
    engine_conf conf = {.backoff_ms = 1000, .backoff_max_ms = 300000};
    CHECK_INT(worker_backoff_ms(&conf, 1, 60000), 60000);
    CHECK(worker_backoff_ms(&conf, 3, 10) >= 2000);
}

int main(void)
{
    RUN(test_doubling_with_equal_jitter);
    RUN(test_cap);
    RUN(test_retry_after_wins_when_longer);
    return check_exit_status();
}
