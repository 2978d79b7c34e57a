/*
 * campaign.h - the campaign document (docs/campaign-format.md): parsing,
 * validation, and the model the rest of haechi works from.
 *
 * campaign_parse() is the only way in: it reports EVERY problem it finds
 * with its JSON Pointer, and returns a campaign only for a valid document.
 */
#ifndef HAECHI_CAMPAIGN_H
#define HAECHI_CAMPAIGN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "cron.h"
#include "diag.h"
#include "tz.h"

typedef struct campaign_limits {
    size_t max_bytes;       /* whole document, default 1 MiB */
    size_t max_occurrences; /* release firings in the window, default 10000 */
} campaign_limits;

#define CAMPAIGN_DEFAULT_MAX_BYTES (1024u * 1024u)
#define CAMPAIGN_DEFAULT_MAX_OCCURRENCES 10000u

typedef enum release_kind { RELEASE_AT, RELEASE_CRON } release_kind;

typedef struct release {
    char id[65];
    release_kind kind;
    int64_t at;            /* RELEASE_AT: the instant */
    cron_expr cron;        /* RELEASE_CRON */
    unsigned channels;     /* bit per channel_id */
    int64_t expires_after; /* seconds; 0 = the channel's or config's default */
    size_t occurrences;    /* firings inside the window */
} release;

typedef struct campaign {
    char id[65];
    const tz *zone;
    int64_t start, end; /* the window, both inclusive */
    unsigned channels;  /* sections present, bit per channel_id */
    release *releases;
    size_t nreleases;
    size_t occurrences;  /* firings of all releases in the window */
    int64_t first, last; /* first and last firing, when occurrences > 0 */
    json_t *doc;         /* the validated document, owned */
} campaign;

void campaign_limits_default(campaign_limits *lim);

/*
 * Parses LEN bytes. Returns a new campaign, or NULL with every error in
 * ERRS. WARNS (may be NULL) gets findings that do not make the document
 * invalid, such as a channel section no release uses.
 */
campaign *campaign_parse(const char *buf, size_t len, const campaign_limits *lim, diag_list *errs,
                         diag_list *warns);

/*
 * The same for a document already parsed and stored: every rule but the
 * limits, which applied when it was submitted (a version stored under other
 * limits still reads). DOC is borrowed; the campaign keeps a reference.
 */
campaign *campaign_from_json(json_t *doc, diag_list *errs);

void campaign_free(campaign *c);

/* A firing of one release. */
typedef struct campaign_firing {
    int64_t at;
    size_t release; /* index into campaign.releases */
} campaign_firing;

/*
 * Fills OUT with up to MAX firings strictly after AFTER, in time order
 * (ties in release order). Returns how many.
 */
size_t campaign_next_firings(const campaign *c, int64_t after, campaign_firing *out, size_t max);

/* 1 when S is a valid campaign or release id: lower-case letters and
 * digits in runs joined by single hyphens. The API checks ids in URLs by
 * the same rule. */
int campaign_is_slug(const char *s);

/* "sns, kakao" for a channel bit set. */
void campaign_channel_list(unsigned channels, char *buf, size_t len);

#endif
