/*
 * X's weighted length (tweet_length.h), on vectors written from the rules
 * of twitter-text v3 (CHANNELS.md 1.7): each expected figure is worked
 * out in its row's comment.
 */
#include <stdlib.h>

#include "check.h"
#include "tweet_length.h"

static const struct {
    const char *name;
    const char *text;
    long weighted;
    int valid;
    size_t urls, emoji;
} cases[] = {
    /* 13 ASCII characters, 1 each. */
    {"ascii", "Hello, Seoul!", 13, 1, 0, 0},
    {"one hangul syllable is 2", "\xEA\xB0\x80", 2, 1, 0, 0},
    /* 10 syllables (2 each) and 2 spaces. */
    {"hangul with spaces", "서울시 잠시멈춤 캠페인", 22, 1, 0, 0},
    /* U+1100 U+1161 (conjoining jamo, 2 each: 4) compose to 가 (2). */
    {"decomposed jamo compose first", "\xE1\x84\x80\xE1\x85\xA1", 2, 1, 0, 0},
    /* 한국 as 6 jamo would be 12; after NFC two syllables, 4. */
    {"decomposed 한국", "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB\xE1\x84\x80\xE1\x85\xAE\xE1\x86\xA8",
     4, 1, 0, 0},
    /* e + U+0301 composes to é: 4, not 5. */
    {"decomposed latin", "cafe\xCC\x81", 4, 1, 0, 0},
    {"cjk ideographs are 2", "中文", 4, 1, 0, 0},
    {"kana is 2", "カナ", 4, 1, 0, 0},
    {"em dash U+2014 is 1",
     "a\xE2\x80\x94"
     "b",
     3, 1, 0, 0},
    /* U+2026 is outside the light ranges. */
    {"ellipsis U+2026 is 2", "\xE2\x80\xA6", 2, 1, 0, 0},
    {"middle dot U+00B7 is 1", "외출\xC2\xB7모임", 9, 1, 0, 0},
    /* URLs: 23 each, whatever their length. */
    {"short url", "https://a.co", 23, 1, 1, 0},
    {"url in a sentence", "see https://a.co", 27, 1, 1, 0},
    {"long url",
     "https://www.seoul.go.kr/news/2020/03/22/"
     "jamsi-meomchum-social-distancing-campaign-two-weeks-pause-for-a-while-"
     "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"
     "?utm_source=x&utm_medium=social&utm_campaign=jamsi-meomchum#top",
     23, 1, 1, 0},
    /* 23 + space + 23. */
    {"two urls", "https://seoul.go.kr http://example.com/a", 47, 1, 2, 0},
    /* 23 + newline + 23 + newline + 23. */
    {"three urls", "http://a.com/x\nhttps://b.org\nwww.c.net/p?q=1", 71, 1, 3, 0},
    {"bare domain", "seoul.go.kr", 23, 1, 1, 0},
    /* 6 + 23 + 4. */
    {"bare domain in words", "visit seoul.go.kr now", 33, 1, 1, 0},
    {"bare domain with path", "www.seoul.go.kr/path", 23, 1, 1, 0},
    /* Hangul ends the domain: 23 + 2 syllables. */
    {"bare domain before hangul", "seoul.go.kr에서", 27, 1, 1, 0},
    /* The sentence's period is not the URL's: 6 + 23 + 1. */
    {"url with a trailing period", "Go to https://seoul.go.kr/news.", 30, 1, 1, 0},
    /* The balanced pair is the URL's, the outer ones are not: 1 + 23 + 1. */
    {"url in parentheses", "(https://en.wikipedia.org/wiki/Seoul_(city))", 25, 1, 1, 0},
    /* 6 + 23 + "." */
    {"parentheses then a period", "Wiki: https://en.wikipedia.org/wiki/Seoul_(city).", 30, 1, 1, 0},
    /* '?' with nothing after it ends a question, not a query. */
    {"question mark after a url", "seoul.go.kr?", 24, 1, 1, 0},
    {"port", "http://localhost.kr:8080/a", 23, 1, 1, 0},
    /* A lone name before a country code is not linked: 6 characters. */
    {"short cctld domain is text", "abc.kr", 6, 1, 0, 0},
    {"no tld", "poster.png", 10, 1, 0, 0},
    /* After '@' no URL starts: 16 characters. */
    {"e-mail address", "user@seoul.go.kr", 16, 1, 0, 0},
    /* Emoji sequences: 2 each. */
    {"emoji", "\xF0\x9F\x98\x80", 2, 1, 0, 1},
    {"skin tone", "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", 2, 1, 0, 1},
    {"zwj family",
     "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7\xE2\x80\x8D\xF0\x9F"
     "\x91\xA6",
     2, 1, 0, 1},
    {"flag", "\xF0\x9F\x87\xB0\xF0\x9F\x87\xB7", 2, 1, 0, 1},
    {"keycap", "1\xEF\xB8\x8F\xE2\x83\xA3", 2, 1, 0, 1},
    {"keycap without vs16", "#\xE2\x83\xA3", 2, 1, 0, 1},
    {"heart with vs16", "\xE2\x9D\xA4\xEF\xB8\x8F", 2, 1, 0, 1},
    {"rainbow flag", "\xF0\x9F\x8F\xB3\xEF\xB8\x8F\xE2\x80\x8D\xF0\x9F\x8C\x88", 2, 1, 0, 1},
    {"tag sequence (Scotland)",
     "\xF0\x9F\x8F\xB4\xF3\xA0\x81\xA7\xF3\xA0\x81\xA2\xF3\xA0\x81\xB3\xF3\xA0\x81\xA3\xF3\xA0\x81"
     "\xB4\xF3\xA0\x81\xBF",
     2, 1, 0, 1},
    /* (c) alone is text (1); with VS16 an emoji (2). */
    {"copyright sign alone", "\xC2\xA9", 1, 1, 0, 0},
    {"copyright emoji", "\xC2\xA9\xEF\xB8\x8F", 2, 1, 0, 1},
    /* Two emoji and a space: 2 + 1 + 2. */
    {"two emoji", "\xF0\x9F\x98\xB7 \xF0\x9F\x99\x8F", 5, 1, 0, 2},
    /* A digit without a keycap is a digit. */
    {"digits", "1339", 4, 1, 0, 0},
    /* Invalid characters: counted, and the post is invalid. */
    {"byte order mark U+FEFF",
     "a\xEF\xBB\xBF"
     "b",
     4, 0, 0, 0},
    {"right-to-left override U+202E",
     "a\xE2\x80\xAE"
     "b",
     4, 0, 0, 0},
    {"empty", "", 0, 0, 0, 0},
};

static void test_table(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tweet_count t;
        long w = tweet_weighted_length(cases[i].text, strlen(cases[i].text), &t);
        char why[160];
        snprintf(why, sizeof why, "weighted %ld valid %d urls %zu emoji %zu", w, t.valid, t.urls,
                 t.emoji);
        check_row(cases[i].name,
                  w == cases[i].weighted && t.weighted == w && t.valid == cases[i].valid &&
                      t.urls == cases[i].urls && t.emoji == cases[i].emoji,
                  why);
    }
}

static char *syllables(size_t n)
{
    char *s = malloc(n * 3 + 1);
    for (size_t i = 0; s && i < n; i++)
        memcpy(s + i * 3, "\xEA\xB0\x80", 3); /* 가 */
    if (s)
        s[n * 3] = '\0';
    return s;
}

static void test_140_hangul_syllables_are_280_and_valid(void)
{
    char *s = syllables(140);
    tweet_count t;
    CHECK_INT(tweet_weighted_length(s, strlen(s), &t), 280);
    CHECK_INT(t.valid, 1);
    free(s);
}

static void test_141_hangul_syllables_are_282_and_invalid(void)
{
    char *s = syllables(141);
    tweet_count t;
    CHECK_INT(tweet_weighted_length(s, strlen(s), &t), 282);
    CHECK_INT(t.valid, 0);
    CHECK_INT(t.invalid_char, -1);
    free(s);
}

static void test_invalid_char_is_named(void)
{
    tweet_count t;
    tweet_weighted_length("a\xEF\xBB\xBF", 4, &t);
    CHECK_INT(t.invalid_char, 0xFEFF);
}

static void test_not_utf8_is_minus_one(void)
{
    tweet_count t;
    CHECK_INT(tweet_weighted_length("caf\xE9", 4, &t), -1);
    CHECK_INT(tweet_weighted_length("ok", 2, NULL), 2);
}

static void test_url_at_reports_the_end(void)
{
    size_t n;
    uint32_t *c = tweet_nfc("(https://seoul.go.kr/a).", 24, &n);
    CHECK(c != NULL);
    CHECK_INT(tweet_url_at(c, n, 0), 0);
    CHECK_INT(tweet_url_at(c, n, 1), 22); /* up to the 'a', not ")." */
    free(c);
}

int main(void)
{
    test_table();
    RUN(test_140_hangul_syllables_are_280_and_valid);
    RUN(test_141_hangul_syllables_are_282_and_invalid);
    RUN(test_invalid_char_is_named);
    RUN(test_not_utf8_is_minus_one);
    RUN(test_url_at_reports_the_end);
    return check_exit_status();
}
