/*
 * fuzz_tweet.c - the SNS text rules on any bytes: X's weighted length, the
 * URL extractor and every network's counts. What holds for any text: a
 * URL ends after it starts and inside the text; the length is a sum of
 * 23 per URL, 2 per emoji sequence and 1 or 2 per other code point, and
 * the networks other than X count exactly the NFC code points.
 */
#include "fuzz.h"

#include <stdlib.h>

#include "sns_text.h"
#include "tweet_length.h"

static void urls_stay_inside(const uint32_t *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t end = tweet_url_at(c, n, i);
        if (end != 0 && (end <= i || end > n))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    tweet_count t;
    size_t n;
    uint32_t *c = tweet_nfc(text, size, &n);
    long w = tweet_weighted_length(text, size, &t);
    if (!c) {
        if (w != -1)
            abort(); /* not UTF-8 for one is not UTF-8 for the other */
        return 0;
    }
    urls_stay_inside(c, n);
    long most = (long)(2 * n + TWEET_URL_WEIGHTED * t.urls);
    if (w < 0 || w > most || (long)(TWEET_URL_WEIGHTED * t.urls + 2 * t.emoji) > w ||
        t.valid != (w > 0 && w <= TWEET_MAX_WEIGHTED && t.invalid_char < 0))
        abort();
    const char *nets[] = {"facebook", "instagram", "x", "kakaostory"};
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) {
        const sns_rules *r = sns_rules_for(nets[i]);
        sns_counts k;
        sns_text_count(r, text, size, &k);
        if (k.length != (r->weighted ? w : (long)n) || k.hashtags < 0 || k.mentions < 0)
            abort();
    }
    free(c);
    return 0;
}
