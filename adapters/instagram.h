/*
 * instagram.h - the Instagram adapter's config section (instagram.c).
 */
#ifndef HAECHI_INSTAGRAM_H
#define HAECHI_INSTAGRAM_H

#include "adapter.h"

typedef struct instagram_conf {
    int present;                /* set by jcheck_store when the section is given */
    char url[512];              /* the Graph API base; default https://graph.facebook.com/v24.0 */
    char token_env[128];        /* the access token: an environment variable ... */
    char token_file[1024];      /* ... or a file only its owner may read (config_secret()) */
    long long lookup_minutes;   /* how far back to look for a post of unknown outcome (10) */
    long long reach_cache_s;    /* how long the follower count is reused (300) */
    char ig_user_id[64];        /* the professional account that publishes */
    long long poll_interval_ms; /* between reads of a container's status (5,000) */
    long long poll_max;         /* reads before giving up on a container (60: 5 minutes) */
    long long quota_wait_s;     /* the wait when the publishing quota is used up (3,600) */
    long long usage_threshold;  /* percent of a usage header that holds sends back (95) */
    long long usage_backoff_s;  /* the hold when Graph names no wait (60) */
} instagram_conf;

extern const jobject instagram_conf_shape;
extern const adapter_desc adapter_instagram;

#endif
