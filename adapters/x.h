/*
 * x.h - the X (Twitter) API v2 adapter: POST /2/tweets with an OAuth 2.0
 * user token that it refreshes itself (adapters/x_token.h), reach from the
 * account's follower count, insights from the post's metrics.
 */
#ifndef HAECHI_X_H
#define HAECHI_X_H

#include "adapter.h"

typedef struct x_conf {
    int present;                 /* first member: set by jcheck_store when the section is given */
    char url[512];               /* API base; default https://api.x.com */
    char token_url[512];         /* default https://api.x.com/2/oauth2/token */
    char client_id[128];         /* the app's OAuth 2.0 client id (required) */
    char client_secret_env[128]; /* confidential clients: HTTP Basic on the token request */
    char client_secret_file[1024];
    char token_env[128]; /* an initial access token (optional: else refreshed first) */
    char token_file[1024];
    char refresh_token_env
        [128]; /* the seed refresh token: dead once rotated (Redis keeps the pair) */
    char refresh_token_file[1024];
    char user_id[32];           /* the account's id; else read from /2/users/me */
    long long lookup_minutes;   /* how far before the due time to look for a post (default 10) */
    long long reach_cache_s;    /* how long a follower count is reused (default 300) */
    long long refresh_margin_s; /* refresh this long before the access token expires (300) */
} x_conf;

extern const jobject x_conf_shape;
extern const adapter_desc adapter_x;

#endif
