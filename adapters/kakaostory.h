/*
 * kakaostory.h - the Kakao Story adapter: a note post (or a link post when
 * the campaign has a link) to the logged-in account's story through
 * Kakao's Story REST API on kapi.kakao.com, with a user access token.
 * docs/adapters.md ("kakaostory") has the facts and their sources, and
 * why posting answers DECLINED once Kakao says the API has ended.
 */
#ifndef HAECHI_KAKAOSTORY_H
#define HAECHI_KAKAOSTORY_H

#include "adapter.h"

typedef struct kakaostory_conf {
    int present;              /* first member: set by jcheck_store when the section is given */
    char url[512];            /* API base; default https://kapi.kakao.com */
    char token_env[128];      /* the user access token: an environment variable ... */
    char token_file[1024];    /* ... or a file only its owner may read */
    long long lookup_minutes; /* how far before the due time a found story counts (default 10) */
    long long reach_cache_s;  /* how long the account check (isstoryuser) is reused (300) */
    char api_posting[4];      /* "on" (default) or "off": off declines every post unsent */
    char permission[2];       /* who sees the story: A all (default), F friends, M only me */
    int enable_share;         /* with F: friends may share it */
    long long followers;      /* reach to record: a figure the operator configures (0: none) */
    long long quota_wait_s;   /* the wait after Kakao's quota answer (-10) without Retry-After */
    long long min_gap_ms;     /* the least time between two posts to the account (0: none) */
} kakaostory_conf;

extern const jobject kakaostory_conf_shape;
extern const adapter_desc adapter_kakaostory;

#endif
