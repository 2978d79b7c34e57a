/*
 * sns_text.h - what each social network posts for a campaign, and the
 * limits it holds that post to (CHANNELS.md 1.7, 2, 3.3).
 *
 * Every SNS adapter builds its post with sns_post_compose() and checks it
 * with sns_text_check(), so that what `haechi validate` counts is what
 * render() shows and send() posts.
 *
 * The post of NETWORK in language LANG (docs/campaign-format.md, "sns"):
 *   text     sns.NETWORK.text.LANG, else sns.text.LANG, else
 *            message.body.LANG (each language on its own, as every
 *            channel's text override works);
 *   link     sns.NETWORK.link, else sns.link, else message.link;
 *   hashtags sns.hashtags, else message.hashtags;
 *   image    sns.instagram.image (Instagram), else sns.image, else
 *            message.image.
 * The text a network posts is the text, then a blank line and the link
 * (x and kakaostory: they carry links in the text, and only when the text
 * does not already hold it), then a blank line and the hashtags as "#tag"
 * words separated by one space. Facebook takes the link as its own field;
 * Instagram posts none (caption links are not followed).
 * A network posts in every language that has a text at one of the three
 * levels, so each of them is checked.
 * A release may carry an "sns" overlay of its own (text, link, image,
 * hashtags, per-network text): its parts come first for that release's
 * posts, so that a morning and an afternoon post can differ (X and
 * Facebook refuse the same text twice).
 */
#ifndef HAECHI_SNS_TEXT_H
#define HAECHI_SNS_TEXT_H

#include <jansson.h>
#include <stddef.h>

#include "diag.h"

/* What a network accepts. */
typedef struct sns_rules {
    const char *network; /* "facebook", "instagram", "x", "kakaostory" */
    long max_length;     /* characters (x: weighted characters) */
    int weighted;        /* max_length is twitter-text's weighted length */
    long max_hashtags;   /* 0: no limit */
    long max_mentions;   /* 0: no limit */
    int needs_image;     /* cannot post text alone */
    int link_in_text;    /* the link is written into the text */
    int link_field;      /* the link is a field of its own (facebook) */
} sns_rules;

/* The rules of NETWORK, or NULL for a name that is none. */
const sns_rules *sns_rules_for(const char *network);

#define SNS_LANGS_MAX 4

/* The languages NETWORK posts in, in the order ko, en, zh, ja, into
 * LANGS (static strings); returns how many. */
size_t sns_post_languages(const json_t *campaign, const char *network,
                          const char *langs[SNS_LANGS_MAX]);

typedef struct sns_post {
    char *text;           /* new: what the network's text field carries */
    size_t len;           /* its bytes */
    char source[160];     /* JSON Pointer of the words in it ("/sns/x/text/ko") */
    const char *link;     /* borrowed: the post's link, NULL when none */
    int link_in_text;     /* 1 when TEXT holds the link */
    int link_added;       /* 1 when composing appended it (the author had not) */
    const char *image;    /* borrowed: the post's image, NULL when none */
    size_t tags_added;    /* hashtags appended to the text */
    char tags_source[32]; /* where they came from: "/sns/hashtags", "/message/hashtags" */
} sns_post;

/* Composes the post of NETWORK in LANG for release RELEASE_ID (NULL: the
 * campaign's words alone) from CAMPAIGN (the release's overlay, its "sns"
 * section and its message). 0, or -1 when NETWORK is unknown, there is no text in
 * LANG, or memory ran out (POST is then empty). */
int sns_post_compose(const json_t *campaign, const char *release_id, const char *network,
                     const char *lang, sns_post *post);
void sns_post_release(sns_post *post);

/* A post's figures against its network's rules. */
typedef struct sns_counts {
    long length;       /* characters after NFC; weighted for x; -1: not UTF-8 */
    long hashtags;     /* "#tag" words in the whole text */
    long mentions;     /* "@name" words in the whole text */
    long invalid_char; /* x: the first character X refuses, or -1 */
} sns_counts;

/* Counts TEXT[0..LEN) as RULES' network counts it. */
void sns_text_count(const sns_rules *rules, const char *text, size_t len, sns_counts *out);

/* Unicode code points of UTF8[0..LEN) after NFC, the count of every
 * network but X; -1 when it is not UTF-8 or memory ran out. */
long sns_text_length(const char *utf8, size_t len);

/*
 * The text rules of NETWORK (NULL: every network SECTION names) for the
 * campaign's sns SECTION at PATH ("/sns"): each language's post against
 * the network's limits into ERRS, under the JSON Pointer the words came
 * from ("/sns/x/text/ko: 282 weighted characters, the limit is 280"), and
 * each network's counts into NOTES ("x: 246/280 weighted characters
 * (ko)"). Adapters call it from their validate hook for their network.
 */
void sns_text_check(const json_t *section, const json_t *campaign, const char *network,
                    const char *path, diag_list *errs, diag_list *notes);

#endif
