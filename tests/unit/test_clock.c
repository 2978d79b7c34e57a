/* The clock (clock.h): real, demo and virtual wall time, and how a wall
 * delta becomes a real timer. The clock is process-wide, so the cases run
 * in order: real, then demo, then virtual (which overrides a demo). */
#include <time.h>

#include "check.h"
#include "clock.h"

static int64_t real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Spins until the monotonic clock has moved MS on (there is no event to
 * wait for: the passing of time is the thing under test). */
static void let_pass(int64_t ms)
{
    int64_t until = clock_mono_ms() + ms;
    while (clock_mono_ms() < until) {
        struct timespec nap = {0, 1000000};
        nanosleep(&nap, NULL);
    }
}

static void test_real(void)
{
    int64_t before = real_ms(), now = clock_wall_ms(), after = real_ms();
    CHECK(now >= before && now <= after);
    CHECK_INT(clock_speed(), 1);
    CHECK_INT(clock_is_virtual(), 0);
    CHECK_INT(clock_real_delay_us(1234567), 1234567);
    CHECK_INT(clock_real_delay_us(-5), -5);
}

/* 2020-03-21T14:50:00Z: ten minutes before the 잠시멈춤 window. */
#define START_MS 1584802200000LL

static void test_demo_runs_fast(void)
{
    clock_use_demo(START_MS, real_ms(), 1440);
    /* Each wall reading is bracketed by monotonic ones, so that a test
     * process preempted between two reads cannot fail the case. */
    int64_t m0a = clock_mono_ms(), t0 = clock_wall_ms(), m0b = clock_mono_ms();
    /* Started a moment ago: a few real ms (x1440) in at most. */
    CHECK(t0 >= START_MS && t0 <= START_MS + (m0b - m0a + 5) * 1440);
    let_pass(20);
    int64_t m1a = clock_mono_ms(), t1 = clock_wall_ms(), m1b = clock_mono_ms();
    /* Whole real ms either side: the monotonic readings are truncated. */
    CHECK(t1 - t0 >= (m1a - m0b - 1) * 1440);
    CHECK(t1 - t0 <= (m1b - m0a + 1) * 1440);
    CHECK(t1 - t0 >= 19 * 1440);
    CHECK(clock_wall_us() / 1000 >= t1);
    CHECK_INT(clock_speed(), 1440);
    CHECK_INT(clock_is_virtual(), 0);
}

static void test_demo_real_delay(void)
{
    /* A day of wall time is a minute of real time at 1440. */
    CHECK_INT(clock_real_delay_us(86400LL * 1000000), 60LL * 1000000);
    /* Rounded up: a timer never fires before its wall time. */
    CHECK_INT(clock_real_delay_us(1), 1);
    CHECK_INT(clock_real_delay_us(1440), 1);
    CHECK_INT(clock_real_delay_us(1441), 2);
    CHECK_INT(clock_real_delay_us(0), 0);
    CHECK_INT(clock_real_delay_us(-1000), -1000);
}

/* Processes that share an epoch read the same time, whenever they start:
 * one started a second after the epoch is a second's worth further in. */
static void test_demo_shared_epoch(void)
{
    int64_t epoch = real_ms() - 1000;
    clock_use_demo(START_MS, epoch, 60);
    int64_t r0 = real_ms(), t = clock_wall_ms(), r1 = real_ms();
    CHECK(t >= START_MS + (r0 - epoch - 2) * 60);
    CHECK(t <= START_MS + (r1 - epoch + 2) * 60);
    CHECK(t >= START_MS + 60 * 1000);

    /* An epoch still ahead: the clock reads before START and runs on. */
    epoch = real_ms() + 1000;
    clock_use_demo(START_MS, epoch, 60);
    r0 = real_ms(), t = clock_wall_ms(), r1 = real_ms();
    CHECK(t >= START_MS - (epoch - r0 + 2) * 60);
    CHECK(t <= START_MS - (epoch - r1 - 2) * 60);
    CHECK(t < START_MS - 50 * 1000);
}

/* A test's virtual clock wins over a demo, and its timers are not scaled
 * (it moves only when told). */
static void test_virtual_overrides(void)
{
    clock_use_virtual(START_MS);
    CHECK_INT(clock_wall_ms(), START_MS);
    let_pass(5);
    CHECK_INT(clock_wall_ms(), START_MS);
    CHECK_INT(clock_is_virtual(), 1);
    CHECK_INT(clock_speed(), 1);
    CHECK_INT(clock_real_delay_us(1441), 1441);
    clock_set_virtual(START_MS - 1);
    CHECK_INT(clock_wall_ms(), START_MS);
    clock_set_virtual(START_MS + 7);
    CHECK_INT(clock_wall_us(), (START_MS + 7) * 1000);
}

int main(void)
{
    RUN(test_real);
    RUN(test_demo_runs_fast);
    RUN(test_demo_real_delay);
    RUN(test_demo_shared_epoch);
    RUN(test_virtual_overrides);
    return check_exit_status();
}
