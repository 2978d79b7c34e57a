/*
 * clock.h - the one clock all of haechi reads.
 *
 * Wall time (for the schedule itself) and monotonic time (for intervals and
 * timeouts) both come from here, so that tests can substitute a clock.
 */
#ifndef HAECHI_CLOCK_H
#define HAECHI_CLOCK_H

#include <stdint.h>

/* Wall-clock milliseconds since the Unix epoch. */
int64_t clock_wall_ms(void);

/* Monotonic milliseconds from an arbitrary origin. */
int64_t clock_mono_ms(void);

static inline int64_t clock_wall_s(void)
{
    return clock_wall_ms() / 1000;
}

#endif
