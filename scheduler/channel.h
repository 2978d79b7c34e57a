/*
 * channel.h - the channels a campaign can release on: the one table of
 * their names and traits. The names are the campaign sections and the
 * words used in releases, config, streams and metrics.
 *
 * Adding a channel is one line in HAECHI_CHANNELS plus its campaign section
 * shape (NAME_shape in campaign.c, which the compiler then asks for); the
 * core, the config and the engine's Lua functions take the list from here.
 */
#ifndef HAECHI_CHANNEL_H
#define HAECHI_CHANNEL_H

/* What the core needs to know about a channel, whatever adapter serves it. */
enum channel_traits {
    CHANNEL_NIGHT_QUIET = 1u << 0,    /* quiet hours 21:00-08:00 unless configured */
    CHANNEL_NEVER_QUIET = 1u << 1,    /* never held by quiet hours; may not set them */
    CHANNEL_NEEDS_APPROVAL = 1u << 2, /* a release needs a second person's approval */
    CHANNEL_PRIORITY = 1u << 3,       /* read first, with capacity no bulk send can take */
};

/* X(ID, name, traits): ID names the enum constant CHANNEL_ID. */
#define HAECHI_CHANNELS(X)                                                                         \
    X(SNS, sns, 0)                                                                                 \
    X(KAKAO, kakao, CHANNEL_NIGHT_QUIET)                                                           \
    X(BANNER, banner, 0)                                                                           \
    X(NEWSLETTER, newsletter, CHANNEL_NIGHT_QUIET)                                                 \
    X(ALERT, alert, CHANNEL_NEVER_QUIET | CHANNEL_NEEDS_APPROVAL | CHANNEL_PRIORITY)

#define CHANNEL_ENUM_(id, name, traits) CHANNEL_##id,
typedef enum channel_id { HAECHI_CHANNELS(CHANNEL_ENUM_) CHANNEL_COUNT } channel_id;
#undef CHANNEL_ENUM_

typedef struct channel_desc {
    const char *name;
    unsigned traits; /* enum channel_traits */
} channel_desc;

/* Indexed by channel_id. */
extern const channel_desc channel_table[CHANNEL_COUNT];

/* Indexed by channel_id, NULL-terminated (usable as a jcheck choice list). */
extern const char *const channel_names[CHANNEL_COUNT + 1];

/* The id of NAME, or -1. */
int channel_from_name(const char *name);

static inline int channel_has(int ch, unsigned trait)
{
    return (channel_table[ch].traits & trait) != 0;
}

#endif
