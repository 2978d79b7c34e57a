/*
 * tweet_length.h - the length of a post as X counts it: twitter-text v3's
 * weighted length (CHANNELS.md 1.7), written from its rules.
 *
 * NFC first; then each URL counts 23, each emoji sequence 2, each other
 * code point 1 (U+0000-U+10FF, U+2000-U+200D, U+2010-U+201F,
 * U+2032-U+2037) or 2 (everything else: Hangul, CJK, kana...). A post is
 * valid at 1 to 280 and without U+FFFE, U+FEFF, U+FFFF or U+202A-U+202E.
 */
#ifndef HAECHI_TWEET_LENGTH_H
#define HAECHI_TWEET_LENGTH_H

#include <stddef.h>
#include <stdint.h>

#define TWEET_MAX_WEIGHTED 280
#define TWEET_URL_WEIGHTED 23

typedef struct tweet_count {
    long weighted;     /* the length X counts, in characters */
    int valid;         /* 0 < weighted <= 280 and no invalid character */
    size_t urls;       /* URLs found, 23 each */
    size_t emoji;      /* emoji sequences found, 2 each */
    long invalid_char; /* the first invalid code point, or -1 */
} tweet_count;

/* The weighted length of UTF8[0..LEN), with the details in COUNT when it
 * is not NULL; -1 when the text is not valid UTF-8 or memory ran out. */
long tweet_weighted_length(const char *utf8, size_t len, tweet_count *count);

/* UTF8[0..LEN) NFC-normalised, as code points: a new array of *N, or NULL
 * when the text is not valid UTF-8 or memory ran out. The other networks'
 * character counts start from it too. */
uint32_t *tweet_nfc(const char *utf8, size_t len, size_t *n);

/* The end (an index into CPS) of the URL that starts at I, or 0 when none
 * does: "https://..." or a bare domain with a known TLD ("seoul.go.kr"). */
size_t tweet_url_at(const uint32_t *cps, size_t n, size_t i);

#endif
