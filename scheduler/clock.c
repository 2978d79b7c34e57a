/*
 * clock.c - real and virtual time.
 */
#include "clock.h"

#include <time.h>

static int virtual_on;
static int64_t virtual_now_ms;

static int64_t read_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_wall_ms(void)
{
    return virtual_on ? virtual_now_ms : read_ms(CLOCK_REALTIME);
}

int64_t clock_wall_us(void)
{
    struct timespec ts;
    if (virtual_on)
        return virtual_now_ms * 1000;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t clock_mono_ms(void)
{
    return read_ms(CLOCK_MONOTONIC);
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
