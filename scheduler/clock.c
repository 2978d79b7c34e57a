/*
 * clock.c - real, virtual and demo time.
 */
#include "clock.h"

#include <time.h>

static int virtual_on;
static int64_t virtual_now_ms;

/* The demo clock: demo_start_us when the monotonic clock read
 * demo_origin_us, then demo_speed times real time. */
static int demo_on, demo_speed = 1;
static int64_t demo_start_us, demo_origin_us;

static int64_t read_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t demo_now_us(void)
{
    int64_t elapsed = read_us(CLOCK_MONOTONIC) - demo_origin_us;
    /* An epoch decades away would overflow; such a clock is far past any
     * campaign anyway, so saturating is enough. */
    if (elapsed > INT64_MAX / 4 / demo_speed)
        elapsed = INT64_MAX / 4 / demo_speed;
    if (elapsed < -(INT64_MAX / 4 / demo_speed))
        elapsed = -(INT64_MAX / 4 / demo_speed);
    return demo_start_us + elapsed * demo_speed;
}

int64_t clock_wall_us(void)
{
    if (virtual_on)
        return virtual_now_ms * 1000;
    if (demo_on)
        return demo_now_us();
    return read_us(CLOCK_REALTIME);
}

int64_t clock_wall_ms(void)
{
    if (virtual_on)
        return virtual_now_ms;
    if (demo_on) {
        int64_t us = demo_now_us();
        /* Floor, not truncation: a demo before 1970 stays ordered. */
        return us >= 0 ? us / 1000 : -((-us + 999) / 1000);
    }
    return read_us(CLOCK_REALTIME) / 1000;
}

int64_t clock_mono_ms(void)
{
    return read_us(CLOCK_MONOTONIC) / 1000;
}

void clock_use_virtual(int64_t start_ms)
{
    virtual_on = 1;
    virtual_now_ms = start_ms;
}

void clock_set_virtual(int64_t now_ms)
{
    if (now_ms > virtual_now_ms)
        virtual_now_ms = now_ms;
}

int clock_is_virtual(void)
{
    return virtual_on;
}

void clock_use_demo(int64_t start_ms, int64_t epoch_ms, int speed)
{
    /* The epoch is real (shared) time; from here on the demo runs on the
     * monotonic clock, which nothing steps. */
    int64_t real = read_us(CLOCK_REALTIME), mono = read_us(CLOCK_MONOTONIC);
    demo_on = 1;
    demo_speed = speed < 1 ? 1 : speed;
    demo_start_us = start_ms * 1000;
    demo_origin_us = mono - (real - epoch_ms * 1000);
}

int clock_speed(void)
{
    return virtual_on ? 1 : demo_speed;
}

int64_t clock_real_delay_us(int64_t wall_delta_us)
{
    int speed = clock_speed();
    if (wall_delta_us <= 0 || speed == 1)
        return wall_delta_us;
    return (wall_delta_us + speed - 1) / speed;
}
