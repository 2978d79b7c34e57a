/*
 * clock.h - the one clock all of haechi reads.
 *
 * Wall time (the schedule itself) and monotonic time (intervals, timeouts)
 * both come from here. A test or a rehearsal switches the wall clock to a
 * virtual one that only moves when told to, so that a two-week campaign
 * runs in seconds; monotonic time stays real (timeouts are real waits).
 */
#ifndef HAECHI_CLOCK_H
#define HAECHI_CLOCK_H

#include <stdint.h>

/* Wall-clock milliseconds since the Unix epoch (virtual when switched). */
int64_t clock_wall_ms(void);

/* Wall-clock microseconds: for timers that must not round a due time. */
int64_t clock_wall_us(void);

/* Monotonic milliseconds from an arbitrary origin; always real. */
int64_t clock_mono_ms(void);

static inline int64_t clock_wall_s(void)
{
    return clock_wall_ms() / 1000;
}

/* Switches the wall clock to virtual time, starting at START_MS. */
void clock_use_virtual(int64_t start_ms);

/* Sets virtual time; it never moves backwards (an earlier value is ignored). */
void clock_set_virtual(int64_t now_ms);

int clock_is_virtual(void);

#endif
