/*
 * clock.h - the one clock all of haechi reads.
 *
 * Wall time (the schedule itself) and monotonic time (intervals, timeouts)
 * both come from here. A test or a rehearsal switches the wall clock to a
 * virtual one that only moves when told to, so that a two-week campaign
 * runs in seconds; monotonic time stays real (timeouts are real waits).
 * A demo switches it to a fast one instead: it starts at a chosen time and
 * runs SPEED times faster than real time, by itself.
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

/* A virtual clock that moves only when told (a test's or a rehearsal's). */
int clock_is_virtual(void);

/*
 * Switches the wall clock to a demo clock: it reads START_MS at the real
 * time EPOCH_MS and runs SPEED (>= 1) times faster than real time. Every
 * process given the same three values reads the same time, so several may
 * share one Redis. It moves monotonically from the switch on: an NTP step
 * of the real clock afterwards does not move it.
 */
void clock_use_demo(int64_t start_ms, int64_t epoch_ms, int speed);

/* Wall time passes this many times faster than real time (1 but in a demo). */
int clock_speed(void);

/* The real delay in which WALL_DELTA_US of wall time pass: for turning a
 * wall due time into a timer. Rounded up, so that a timer never fires
 * before its wall time. */
int64_t clock_real_delay_us(int64_t wall_delta_us);

#endif
