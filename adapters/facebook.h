/*
 * facebook.h - the Facebook Page adapter's config section (facebook.c).
 */
#ifndef HAECHI_FACEBOOK_H
#define HAECHI_FACEBOOK_H

#include "adapter.h"

typedef struct facebook_conf {
    int present;               /* set by jcheck_store when the section is given */
    char url[512];             /* the Graph API base; default https://graph.facebook.com/v24.0 */
    char token_env[128];       /* the page access token: an environment variable ... */
    char token_file[1024];     /* ... or a file only its owner may read (config_secret()) */
    long long lookup_minutes;  /* how far back to look for a post of unknown outcome (10) */
    long long reach_cache_s;   /* how long the page's fan count is reused (300) */
    char page_id[64];          /* the Page that posts */
    long long usage_threshold; /* percent of a usage header that holds sends back (95) */
    long long usage_backoff_s; /* the hold when Graph names no wait (60) */
} facebook_conf;

extern const jobject facebook_conf_shape;
extern const adapter_desc adapter_facebook;

#endif
