/*
 * channel.h - the channels a campaign can release on. The names are the
 * campaign sections and the words used in releases, config and metrics.
 */
#ifndef HAECHI_CHANNEL_H
#define HAECHI_CHANNEL_H

typedef enum channel_id {
    CHANNEL_SNS,
    CHANNEL_KAKAO,
    CHANNEL_BANNER,
    CHANNEL_NEWSLETTER,
    CHANNEL_ALERT,
    CHANNEL_COUNT
} channel_id;

/* Indexed by channel_id, NULL-terminated (usable as a jcheck choice list). */
extern const char *const channel_names[CHANNEL_COUNT + 1];

/* The id of NAME, or -1. */
int channel_from_name(const char *name);

#endif
